//! Decisions and throttle rejections per tier over log time, in bounded memory: the series the
//! HTML report draws.
//!
//! Buckets start one second wide from the first request's `now_ms`. When a request falls past the
//! last of [`MAX_BUCKETS`], neighbouring buckets are merged pairwise and the width doubles, as
//! often as needed; so a replay of any length keeps at most `MAX_BUCKETS × tiers × 2` counters,
//! and the result depends only on the log's times, never on when it was replayed. A request
//! logged before the first one (logs are mostly, not strictly, in order) counts in the first
//! bucket.

use serde::Serialize;

/// Most buckets kept; the width doubles rather than exceeding it.
pub const MAX_BUCKETS: usize = 120;
const FIRST_WIDTH_MS: u64 = 1000;

/// Per-tier counts over log time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// `now_ms` of the first request: bucket `i` covers `[start + i·width, start + (i+1)·width)`.
    pub start_ms: u64,
    pub bucket_ms: u64,
    /// One series per tier, in the snapshot's order, each `buckets` long.
    pub tiers: Vec<TierSeries>,
}

/// One tier's counts per bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TierSeries {
    pub tier: String,
    pub decisions: Vec<u64>,
    pub rejected: Vec<u64>,
}

/// The accumulator: `[decisions, rejected]` per tier, per bucket.
pub(crate) struct TimelineAcc {
    start_ms: Option<u64>,
    bucket_ms: u64,
    tiers: usize,
    buckets: Vec<Vec<[u64; 2]>>,
}

impl TimelineAcc {
    pub(crate) fn new(tiers: usize) -> TimelineAcc {
        TimelineAcc { start_ms: None, bucket_ms: FIRST_WIDTH_MS, tiers, buckets: Vec::new() }
    }

    /// Counts a decision of tier `tier` at `now_ms`, rejected by a throttle or not.
    pub(crate) fn add(&mut self, now_ms: u64, tier: usize, rejected: bool) {
        if tier >= self.tiers {
            return;
        }
        let start = *self.start_ms.get_or_insert(now_ms);
        let offset = now_ms.saturating_sub(start);
        let mut index = offset / self.bucket_ms;
        while index >= MAX_BUCKETS as u64 {
            self.halve();
            index = offset / self.bucket_ms;
        }
        let index = index as usize;
        while self.buckets.len() <= index {
            self.buckets.push(vec![[0, 0]; self.tiers]);
        }
        if let Some(cell) = self.buckets.get_mut(index).and_then(|b| b.get_mut(tier)) {
            cell[0] += 1;
            cell[1] += u64::from(rejected);
        }
    }

    /// Merges buckets pairwise and doubles the width.
    fn halve(&mut self) {
        let merged = self
            .buckets
            .chunks(2)
            .map(|pair| {
                let mut sum = vec![[0u64, 0u64]; self.tiers];
                for bucket in pair {
                    for (s, b) in sum.iter_mut().zip(bucket) {
                        s[0] += b[0];
                        s[1] += b[1];
                    }
                }
                sum
            })
            .collect();
        self.buckets = merged;
        self.bucket_ms = self.bucket_ms.saturating_mul(2);
    }

    pub(crate) fn finish(self, names: &[String]) -> Timeline {
        let series = |k: usize, t: usize| self.buckets.iter().map(|b| b.get(t).map_or(0, |c| c[k])).collect();
        Timeline {
            start_ms: self.start_ms.unwrap_or(0),
            bucket_ms: self.bucket_ms,
            tiers: names
                .iter()
                .enumerate()
                .map(|(t, name)| TierSeries { tier: name.clone(), decisions: series(0, t), rejected: series(1, t) })
                .collect(),
        }
    }
}

/// One bin of the decide-latency histogram: samples in `(previous upper, upper_us]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencyBin {
    pub upper_us: f64,
    pub count: u64,
}

/// Bins of the histogram: log-spaced between the fastest and the slowest call.
pub const LATENCY_BINS: usize = 40;

/// The latency histogram of `sorted_ns` (ascending): [`LATENCY_BINS`] bins of equal width in
/// log(latency) from the smallest sample to the largest; empty without samples.
pub fn latency_histogram(sorted_ns: &[u64]) -> Vec<LatencyBin> {
    let (Some(&lo), Some(&hi)) = (sorted_ns.first(), sorted_ns.last()) else {
        return Vec::new();
    };
    let (lo, hi) = ((lo.max(1)) as f64, (hi.max(1)) as f64);
    let step = (hi / lo).ln() / LATENCY_BINS as f64;
    let uppers: Vec<f64> = (1..=LATENCY_BINS).map(|i| lo * (step * i as f64).exp()).collect();
    let mut bins: Vec<LatencyBin> = uppers.iter().map(|&u| LatencyBin { upper_us: u / 1000.0, count: 0 }).collect();
    let mut b = 0usize;
    for &ns in sorted_ns {
        // The last bin takes the maximum whatever rounding did to its edge.
        while b + 1 < bins.len() && uppers.get(b).is_some_and(|&u| ns as f64 > u) {
            b += 1;
        }
        if let Some(bin) = bins.get_mut(b) {
            bin.count += 1;
        }
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_histogram_counts_every_sample() {
        assert!(latency_histogram(&[]).is_empty());
        let samples: Vec<u64> = (1..=1000u64).map(|i| i * 1000).collect();
        let bins = latency_histogram(&samples);
        assert_eq!(bins.len(), LATENCY_BINS);
        assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 1000);
        assert!((bins[LATENCY_BINS - 1].upper_us - 1000.0).abs() < 1e-6);
        // Log-spaced: the first bin (1 µs up to 1.19 µs) holds one sample, the last many.
        assert_eq!(bins[0].count, 1);
        assert!(bins[LATENCY_BINS - 1].count > 100);
        // All samples equal: one bin holds them all.
        let same = latency_histogram(&[5000; 7]);
        assert_eq!(same.iter().map(|b| b.count).sum::<u64>(), 7);
    }

    #[test]
    fn buckets_merge_and_stay_bounded() {
        let mut acc = TimelineAcc::new(2);
        // One request per second for an hour, tier alternating, every tenth rejected.
        for s in 0..3600u64 {
            acc.add(1_000_000 + s * 1000, (s % 2) as usize, s % 10 == 0);
        }
        let t = acc.finish(&["a".to_owned(), "b".to_owned()]);
        assert_eq!(t.start_ms, 1_000_000);
        // 3600 one-second buckets need five doublings to fit into 120: 32 s wide, 113 buckets.
        assert_eq!(t.bucket_ms, 32_000);
        assert_eq!(t.tiers[0].decisions.len(), 113);
        assert!(t.tiers.iter().all(|s| s.decisions.len() <= MAX_BUCKETS));
        let total: u64 = t.tiers.iter().flat_map(|s| &s.decisions).sum();
        assert_eq!(total, 3600);
        assert_eq!(t.tiers[0].decisions[0], 16);
        assert_eq!(t.tiers[0].rejected.iter().sum::<u64>(), 360);
        assert_eq!(t.tiers[1].rejected.iter().sum::<u64>(), 0);
    }

    #[test]
    fn early_requests_and_absurd_spans_are_bounded() {
        let mut acc = TimelineAcc::new(1);
        acc.add(5_000, 0, false);
        acc.add(1_000, 0, false); // before the first: counted in bucket 0
        acc.add(u64::MAX, 0, true); // a garbage timestamp cannot blow the bucket count up
        acc.add(7, 3, true); // a tier the snapshot lacks is ignored
        let t = acc.finish(&["only".to_owned()]);
        assert!(t.tiers[0].decisions.len() <= MAX_BUCKETS);
        assert_eq!(t.tiers[0].decisions.iter().sum::<u64>(), 3);
        assert_eq!(t.tiers[0].decisions[0], 2);
        assert_eq!(t.tiers[0].rejected.iter().sum::<u64>(), 1);
    }
}
