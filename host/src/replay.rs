//! Replay: recorded traffic through the real module, aggregated per tier.
//!
//! The question a replay answers is "what would this snapshot do to this traffic at the edge":
//! every request goes through [`Guest::decide_with`] — the ABI, the limits and the wasm build —
//! not through the native crate. The native crate is used for one thing only: finding each
//! request's customer id (the snapshot's identity sources are not part of the ABI answer) so
//! distinct users per tier can be counted. Ids are hashed on the spot with std's SipHash and only
//! the hashes are kept; they are never printed.
//!
//! Latency is measured around the `edgeseg_decide` wasm call alone (see
//! [`Guest::last_call_duration`]), so encoding, copying and this module's bookkeeping do not blur
//! the number the edge cares about. Samples are kept and sorted exactly ([`percentile`]): a
//! replay of millions of requests costs 8 bytes per request, which is cheap next to the traffic
//! itself, and exact numbers make small replays comparable.

mod report;

pub use report::{Latency, ModuleInfo, Report, SegmentReport, TierReport, Timings};

use crate::guest::{Guest, GuestError};
use crate::traffic::{TrafficError, TrafficRecord};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hasher};
use std::time::Instant;

/// How to replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Count and skip malformed log lines instead of stopping at the first one. IO errors stop
    /// the replay either way.
    pub skip_malformed: bool,
}

/// Why a replay stopped.
#[derive(Debug)]
pub enum ReplayError {
    /// A log line could not be read (and malformed lines are not skipped), or reading failed.
    Traffic(TrafficError),
    /// The guest cannot decide at all (no snapshot, unusable answers). Per-request guest errors
    /// and traps do not stop a replay; they are counted.
    Guest(GuestError),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The cause is reported by `source()`; repeating it here would print it twice in chains.
            ReplayError::Traffic(_) => f.write_str("malformed traffic (use --skip-malformed to count and skip)"),
            ReplayError::Guest(_) => f.write_str("replay stopped: the guest cannot decide"),
        }
    }
}

impl std::error::Error for ReplayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplayError::Traffic(e) => Some(e),
            ReplayError::Guest(e) => Some(e),
        }
    }
}

#[derive(Default)]
struct TierAcc {
    requests: u64,
    users: HashSet<u64>,
    segments: u64,
    latencies_ns: Vec<u64>,
}

/// Replays `records` through `guest` (which must have a snapshot loaded) and reports per tier.
pub fn replay(
    guest: &mut Guest,
    records: impl Iterator<Item = Result<TrafficRecord, TrafficError>>,
    opts: &ReplayOptions,
) -> Result<Report, ReplayError> {
    let snapshot = guest.snapshot().cloned().ok_or(ReplayError::Guest(GuestError::NoSnapshot))?;
    // Identity sources live in the snapshot, not in the ABI answer: decode it natively. Should
    // the native build refuse it (it never should: same crate), users are reported as unknown.
    let native = guest.snapshot_bytes().and_then(|b| edgeseg::Engine::load(b).ok());
    let segment_index: HashMap<&str, usize> =
        snapshot.segments.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();

    let mut tiers: Vec<TierAcc> = snapshot.tiers.iter().map(|_| TierAcc::default()).collect();
    let mut segment_hits = vec![0u64; snapshot.segments.len()];
    let (mut requests, mut decided, mut identified) = (0u64, 0u64, 0u64);
    let (mut malformed, mut traps, mut errors) = (0u64, 0u64, 0u64);

    let started = Instant::now();
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(e) if opts.skip_malformed && !e.is_fatal() => {
                malformed += 1;
                continue;
            }
            Err(e) => return Err(ReplayError::Traffic(e)),
        };
        requests += 1;
        let request = record.request();
        let user = native.as_ref().and_then(|engine| engine.identity(&request)).map(|id| {
            let mut h = DefaultHasher::new();
            h.write(id.as_bytes());
            h.finish()
        });
        let outcome = guest.decide_with(&request, |d| {
            for name in &d.segments {
                if let Some(hit) = segment_index.get(name).and_then(|&i| segment_hits.get_mut(i)) {
                    *hit += 1;
                }
            }
            (usize::from(d.tier_index), d.segments.len() as u64, d.identified)
        });
        let (tier_index, segments, is_identified) = match outcome {
            Ok(outcome) => outcome,
            Err(GuestError::Trap(_)) => {
                traps += 1;
                continue;
            }
            Err(GuestError::Abi { .. }) => {
                errors += 1;
                continue;
            }
            Err(e) => return Err(ReplayError::Guest(e)),
        };
        let Some(tier) = tiers.get_mut(tier_index) else {
            // A tier the snapshot does not have: the module is broken, not the request.
            errors += 1;
            continue;
        };
        decided += 1;
        tier.requests += 1;
        tier.segments += segments;
        tier.latencies_ns.push(guest.last_call_duration().as_nanos().try_into().unwrap_or(u64::MAX));
        if is_identified {
            identified += 1;
            if let Some(user) = user {
                tier.users.insert(user);
            }
        }
    }
    let wall = started.elapsed();

    let share = |n: u64| if decided == 0 { 0.0 } else { n as f64 * 100.0 / decided as f64 };
    let mut all_ns = Vec::with_capacity(decided as usize);
    let tier_reports = snapshot
        .tiers
        .iter()
        .zip(&mut tiers)
        .map(|(name, acc)| {
            all_ns.extend_from_slice(&acc.latencies_ns);
            TierReport {
                tier: name.clone(),
                requests: acc.requests,
                share_pct: share(acc.requests),
                distinct_users: native.as_ref().map(|_| acc.users.len() as u64),
                segments_matched: acc.segments,
                segments_per_request: if acc.requests == 0 { 0.0 } else { acc.segments as f64 / acc.requests as f64 },
                latency: Latency::from_samples(&mut acc.latencies_ns),
            }
        })
        .collect();
    let segments = snapshot
        .segments
        .iter()
        .zip(&segment_hits)
        .map(|(name, &hits)| SegmentReport { segment: name.clone(), requests: hits, share_pct: share(hits) })
        .collect();
    let secs = wall.as_secs_f64();
    Ok(Report {
        snapshot_id: snapshot.snapshot_id,
        snapshot_version: snapshot.version,
        module: Some(ModuleInfo {
            path: guest.module_path().map(|p| p.display().to_string()),
            bytes: guest.module_size() as u64,
        }),
        requests,
        decided,
        identified,
        identified_share_pct: share(identified),
        malformed_skipped: malformed,
        guest_traps: traps,
        guest_errors: errors,
        timings: Some(Timings {
            wall_ms: secs * 1000.0,
            decisions_per_sec: if secs > 0.0 { decided as f64 / secs } else { 0.0 },
            latency: Latency::from_samples(&mut all_ns),
        }),
        tiers: tier_reports,
        segments,
    })
}

/// The nearest-rank percentile `q` (0 < q ≤ 1) of `sorted` (ascending): the smallest sample
/// with at least `q` of all samples at or below it. `None` for no samples.
pub fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.99), Some(7));
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&v, 1.0), Some(100));
        assert_eq!(percentile(&[1, 2, 3], 0.5), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.99), Some(4));
    }
}
