//! Replay: recorded traffic through the real module, aggregated per tier.
//!
//! The question a replay answers is "what would this snapshot do to this traffic at the edge":
//! every request goes through [`Guest::decide_with`] — the ABI, the limits and the wasm build —
//! not through the native crate. The native crate is used for one thing only: finding each
//! request's customer id (the snapshot's identity sources are not part of the ABI answer) so
//! distinct users per tier can be counted. Ids are hashed on the spot with std's SipHash and only
//! the hashes are kept; they are never printed.
//!
//! Consent is audited on every request ([`audit`]): the host recomputes which purposes the
//! request's signals and the applied revocations exclude and counts each matched segment that
//! serves one of them as a violation. Revocation deltas can be scheduled mid-replay
//! ([`ScheduledDelta`]) to show an opt-out taking effect on the very next request.
//!
//! A sharded snapshot's head replays the same way: before each decision the guest is asked which
//! shard the request needs (`edgeseg_shard_for`) and, when it does not hold it, the shard is read
//! from its file, checked and loaded ([`crate::shards::ShardSource::ensure`]); the auditor mirrors
//! it natively. A shard that cannot be read or is refused leaves the request to the engine's
//! fail-closed `shard_missing` decision, counted in the report's shard lines.
//!
//! Latency is measured around the `edgeseg_decide` wasm call alone (see
//! [`Guest::last_call_duration`]), so encoding, copying and this module's bookkeeping do not blur
//! the number the edge cares about. Samples are kept and sorted exactly ([`percentile`]): a
//! replay of millions of requests costs 8 bytes per request, which is cheap next to the traffic
//! itself, and exact numbers make small replays comparable.

mod audit;
pub mod grafana;
pub mod otlp;
pub mod prometheus;
mod report;
pub mod rules;
pub mod slo;
pub mod timeline;

pub use report::{
    ConsentReport, Fallback, IdentityReport, Latency, ModuleInfo, PurposeNarrowing, Report, SegmentReport, ShardReport,
    ThrottleState, TierReport, Timings,
};

use crate::guest::{FallbackReason, Guest, GuestError};
use crate::shards::{Ensured, ShardFiles, ShardSource};
use crate::traffic::{TrafficError, TrafficRecord};
use audit::Auditor;
use edgeseg::delta::RevocationDelta;
use edgeseg::{Request, ThrottleResult};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hasher};
use std::time::Instant;

/// How to replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Count and skip malformed log lines instead of stopping at the first one. IO errors stop
    /// the replay either way.
    pub skip_malformed: bool,
    /// Revocation deltas to apply during the replay, in order of `after`.
    pub deltas: Vec<ScheduledDelta>,
    /// Where a sharded snapshot's shards are (required when the guest serves a sharded head;
    /// ignored otherwise).
    pub shards: Option<ShardFiles>,
    /// Keep one span per decision in [`Report::spans`] (`replay --otlp`).
    pub spans: bool,
}

/// A revocation delta applied after `after` requests have been replayed (0: before the first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledDelta {
    pub after: u64,
    pub bytes: Vec<u8>,
}

/// Why a replay stopped.
#[derive(Debug)]
pub enum ReplayError {
    /// A log line could not be read (and malformed lines are not skipped), or reading failed.
    Traffic(TrafficError),
    /// The guest cannot decide at all (no snapshot, unusable answers). Per-request guest errors
    /// and traps do not stop a replay; they are counted.
    Guest(GuestError),
    /// The host cannot decode the snapshot the guest serves, so it cannot audit consent.
    Snapshot(edgeseg::Error),
    /// A scheduled delta was refused (by the guest or the host's own decoder).
    Delta { after: u64, error: String },
    /// The guest serves a sharded head and the options say nowhere to find its shards.
    NoShardFiles,
    /// The host cannot decode a shard the guest accepted, so it cannot audit consent.
    AuditShard(String),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The cause is reported by `source()`; repeating it here would print it twice in chains.
            ReplayError::Traffic(_) => f.write_str("malformed traffic (use --skip-malformed to count and skip)"),
            ReplayError::Guest(_) => f.write_str("replay stopped: the guest cannot decide"),
            ReplayError::Snapshot(_) => f.write_str("the host cannot decode the serving snapshot to audit consent"),
            ReplayError::Delta { after, error } => write!(f, "the delta scheduled after {after} requests: {error}"),
            ReplayError::NoShardFiles => f.write_str("the snapshot is a sharded head and no shard directory is given"),
            ReplayError::AuditShard(e) => write!(f, "the host cannot decode a loaded shard to audit consent: {e}"),
        }
    }
}

impl std::error::Error for ReplayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplayError::Traffic(e) => Some(e),
            ReplayError::Guest(e) => Some(e),
            ReplayError::Snapshot(e) => Some(e),
            ReplayError::Delta { .. } | ReplayError::NoShardFiles | ReplayError::AuditShard(_) => None,
        }
    }
}

#[derive(Default)]
struct TierAcc {
    requests: u64,
    users: HashSet<u64>,
    segments: u64,
    latencies_ns: Vec<u64>,
    rejected: u64,
    deprioritized: u64,
    cache: BTreeMap<String, u64>,
    routes: BTreeMap<String, u64>,
    /// Logged status and latency of this tier's requests, for its SLO.
    outcomes: Vec<slo::Outcome>,
}

/// What the replay keeps of one decision.
struct Seen {
    tier_index: usize,
    segments: u64,
    identified: bool,
    /// Purposes of matched segments, as a mask.
    matched_purposes: u64,
    consent: u64,
    narrowing: edgeseg::consent::Narrowing,
    throttle: Option<ThrottleResult>,
    cache: Option<&'static str>,
    /// Whether the decision routed; the `pool/lane` key is then in the replay's `route_key`.
    route: bool,
    stale: bool,
    shard_missing: bool,
    /// The throttle bucket the decision counted against.
    throttle_key: Option<u64>,
    /// With [`ReplayOptions::spans`]: the `traceparent` sent to the origin and the segments.
    span: Option<(Option<String>, Vec<String>)>,
}

#[derive(Default)]
struct PurposeAcc {
    gpc: u64,
    tcf: u64,
    cookie: u64,
    revoked: u64,
    any: u64,
}

/// Adds one to `key`'s count.
fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// Replays `records` through `guest` (which must have a snapshot loaded) and reports per tier.
pub fn replay(
    guest: &mut Guest,
    records: impl Iterator<Item = Result<TrafficRecord, TrafficError>>,
    opts: &ReplayOptions,
) -> Result<Report, ReplayError> {
    let snapshot = guest.snapshot().cloned().ok_or(ReplayError::Guest(GuestError::NoSnapshot))?;
    // Identity sources, purposes and consent configuration live in the snapshot, not in the ABI
    // answer: decode it natively for the audit and the distinct-user count.
    let bytes = guest.snapshot_bytes().ok_or(ReplayError::Guest(GuestError::NoSnapshot))?;
    let mut auditor = Auditor::new(edgeseg::Engine::load(bytes).map_err(ReplayError::Snapshot)?);
    let segment_index: HashMap<&str, usize> =
        snapshot.segments.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
    let segment_purpose: Vec<u16> = auditor.snapshot().segments.iter().map(|s| s.purpose).collect();
    let segment_actions: Vec<edgeseg::actions::Actions> =
        auditor.snapshot().segments.iter().map(|s| s.actions.clone()).collect();
    let mut shadowed = [0u64; 3];
    // Distinct (client address, throttle bucket) pairs, and buckets per address.
    let mut ip_buckets: HashSet<(u64, u64)> = HashSet::new();
    let mut buckets_per_ip: HashMap<u64, u64> = HashMap::new();
    let mut source = match (snapshot.shards, &opts.shards) {
        (0, _) => None,
        (_, Some(files)) => Some(ShardSource::new(files.clone())),
        (_, None) => return Err(ReplayError::NoShardFiles),
    };
    let (mut missing_shard, mut first_shard_failure) = (0u64, None::<String>);

    let mut tiers: Vec<TierAcc> = snapshot.tiers.iter().map(|_| TierAcc::default()).collect();
    let mut purposes: Vec<PurposeAcc> = snapshot.purposes.iter().map(|_| PurposeAcc::default()).collect();
    let mut segment_hits = vec![0u64; snapshot.segments.len()];
    // Per segment, decisions in which its rule failed (an evaluation error: not matched).
    let mut segment_errors = vec![0u64; snapshot.segments.len()];
    let (mut requests, mut decided, mut identified) = (0u64, 0u64, 0u64);
    let (mut malformed, mut traps, mut errors) = (0u64, 0u64, 0u64);
    let mut fallback_tier: Option<String> = None;
    let mut stale = 0u64;
    let (mut violations, mut tcf_invalid, mut cookie_invalid, mut deltas_applied) = (0u64, 0u64, 0u64, 0u64);
    let mut deltas = opts.deltas.iter().peekable();
    let mut timeline = timeline::TimelineAcc::new(snapshot.tiers.len());
    // The `pool/lane` of the last routed decision, reused from request to request.
    let mut route_key = String::new();
    let mut spans: Vec<otlp::DecisionSpan> = Vec::new();

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
        while let Some(d) = deltas.next_if(|d| d.after <= requests) {
            let delta_err = |error: String| ReplayError::Delta { after: d.after, error };
            let parsed = RevocationDelta::decode(&d.bytes).map_err(|e| delta_err(e.to_string()))?;
            guest.apply_delta(&d.bytes).map_err(|e| delta_err(e.to_string()))?;
            auditor.set_delta(parsed);
            deltas_applied += 1;
        }
        requests += 1;
        // A verified identity source: the token is checked once, and the guest, the shard
        // source and the auditor all see the id it proved.
        // A guest failure here shows again in the decision (counted as a fallback there).
        let proved = guest.prove_identity(&record.request()).ok().flatten();
        let request = Request { verified_id: proved.as_deref(), ..record.request() };
        let identity = auditor.engine().identity(&request);
        let user = identity.map(|id| {
            let mut h = DefaultHasher::new();
            h.write(id.as_bytes());
            h.finish()
        });
        if let Some(source) = &mut source {
            shard_step(guest, source, &mut auditor, &request, &mut first_shard_failure)?;
        }
        let outcome = guest.decide_with(&request, |d| {
            let mut matched_purposes = 0u64;
            let mut first: [Option<&edgeseg::actions::Actions>; 3] = [None; 3];
            let mut shadows = [false; 3];
            for name in &d.segments {
                if let Some(&i) = segment_index.get(name) {
                    if let Some(a) = segment_actions.get(i) {
                        let kinds = [a.throttle.is_some(), a.cache.is_some(), a.route.is_some()];
                        for (k, has) in kinds.into_iter().enumerate() {
                            if !has {
                                continue;
                            }
                            match first[k] {
                                None => first[k] = Some(a),
                                Some(w) => {
                                    shadows[k] |= match k {
                                        0 => w.throttle != a.throttle,
                                        1 => w.cache != a.cache,
                                        _ => w.route != a.route,
                                    }
                                }
                            }
                        }
                    }
                    if let Some(hit) = segment_hits.get_mut(i) {
                        *hit += 1;
                    }
                    if let Some(&p) = segment_purpose.get(i) {
                        matched_purposes |= 1u64.checked_shl(u32::from(p)).unwrap_or(0);
                    }
                }
            }
            for name in &d.rule_errors {
                if let Some(n) = segment_index.get(name).and_then(|&i| segment_errors.get_mut(i)) {
                    *n += 1;
                }
            }
            for (count, hit) in shadowed.iter_mut().zip(shadows) {
                *count += u64::from(hit);
            }
            Seen {
                tier_index: usize::from(d.tier_index),
                segments: d.segments.len() as u64,
                identified: d.identified,
                matched_purposes,
                consent: d.consent,
                narrowing: d.narrowing,
                throttle: d.throttle.as_ref().map(|t| t.result),
                cache: d.cache.as_ref().map(|c| c.mode.as_str()),
                route: d.route.as_ref().is_some_and(|r| {
                    route_key.clear();
                    route_key.push_str(r.pool);
                    route_key.push('/');
                    route_key.push_str(r.lane);
                    true
                }),
                stale: d.stale,
                shard_missing: d.shard_missing,
                throttle_key: d.throttle.as_ref().map(|t| t.state_key),
                span: opts.spans.then(|| {
                    let tp = d.headers.iter().find(|h| h.name == "traceparent").map(|h| h.value.to_string());
                    (tp, d.segments.iter().map(|s| (*s).to_owned()).collect())
                }),
            }
        });
        let seen = match outcome {
            Ok(seen) => seen,
            Err(e @ (GuestError::Trap(_) | GuestError::Abi { .. })) => {
                let reason = if matches!(e, GuestError::Trap(_)) {
                    traps += 1;
                    FallbackReason::GuestTrap
                } else {
                    errors += 1;
                    FallbackReason::GuestError
                };
                // The edge still answers: the host's fallback (default tier, nothing consent-gated,
                // no throttle, no cache policy). Counted apart from the guest's decisions.
                let answer = guest.fallback(reason, &request).map_err(ReplayError::Guest)?;
                fallback_tier = Some(answer.tier);
                continue;
            }
            Err(e) => return Err(ReplayError::Guest(e)),
        };
        let Some(tier) = tiers.get_mut(seen.tier_index) else {
            // A tier the snapshot does not have: the module is broken, not the request.
            errors += 1;
            continue;
        };
        decided += 1;
        stale += u64::from(seen.stale);
        missing_shard += u64::from(seen.shard_missing);
        tier.requests += 1;
        tier.segments += seen.segments;
        let duration_ns = guest.last_call_duration().as_nanos().try_into().unwrap_or(u64::MAX);
        tier.latencies_ns.push(duration_ns);
        spans.extend(otlp::span_of(&record, &request, &snapshot.tiers, &seen, duration_ns, requests));
        // Evasion: how many distinct buckets one client address reaches (canonical address, as
        // the engine keys it). Many per address is a client minting identities, or a NAT.
        if let (Some(ip), Some(key)) = (record.client_ip.as_deref(), seen.throttle_key) {
            let (bytes, len) = edgeseg::ip_key(ip);
            let mut h = DefaultHasher::new();
            h.write(bytes.get(..len).unwrap_or_default());
            let ip = h.finish();
            if ip_buckets.insert((ip, key)) {
                *buckets_per_ip.entry(ip).or_insert(0u64) += 1;
            }
        }
        timeline.add(record.now_ms, seen.tier_index, seen.throttle == Some(ThrottleResult::Rejected));
        match seen.throttle {
            Some(ThrottleResult::Rejected) => tier.rejected += 1,
            Some(ThrottleResult::Deprioritized) => tier.deprioritized += 1,
            _ => {}
        }
        // Counted by key without allocating one per request (only a key's first sighting does).
        count(&mut tier.cache, seen.cache.unwrap_or("none"));
        count(&mut tier.routes, if seen.route { &route_key } else { "default" });
        if let Some(status) = record.status {
            tier.outcomes.push(slo::Outcome {
                now_ms: record.now_ms,
                bad: status >= 500,
                latency_ms: record.latency_ms,
            });
        }
        if seen.identified {
            identified += 1;
            if let Some(user) = user {
                tier.users.insert(user);
            }
        }

        // The audit: a matched segment whose purpose must be off, or that the decision itself
        // says was not granted, is a violation.
        let off = auditor.must_be_off_for(&request, identity, seen.shard_missing);
        violations += u64::from(seen.matched_purposes & (off | !seen.consent) != 0);
        let n = seen.narrowing;
        tcf_invalid += u64::from(n.tcf_invalid);
        cookie_invalid += u64::from(n.cookie_invalid);
        for (i, acc) in purposes.iter_mut().enumerate() {
            let bit = |m: u64| u64::from(m >> i & 1 == 1);
            acc.gpc += bit(n.gpc);
            acc.tcf += bit(n.tcf);
            acc.cookie += bit(n.cookie);
            acc.revoked += bit(n.revoked);
            acc.any += bit(n.removed());
        }
    }
    let wall = started.elapsed();
    if let Some(d) = deltas.next() {
        return Err(ReplayError::Delta { after: d.after, error: format!("the log has only {requests} requests") });
    }
    let stats = guest.stats().ok();
    let shards = source.map(|source| {
        let host = guest.shard_stats();
        let c = source.counters;
        ShardReport {
            shards: snapshot.shards,
            loaded: c.loads,
            hits: c.hits,
            misses: c.misses,
            // The host makes room before each load, so the engine itself should never evict;
            // its count is added in case it did.
            evictions: host.evictions + stats.map_or(0, |s| s.shards.evictions),
            refused: c.refused,
            read_errors: c.read_errors,
            missing_shard_decisions: missing_shard,
            held: host.held,
            held_bytes: host.held_bytes,
            budget_bytes: host.budget_bytes,
            first_failure: first_shard_failure,
        }
    });

    let share = |n: u64| if decided == 0 { 0.0 } else { n as f64 * 100.0 / decided as f64 };
    let slos = snapshot
        .tiers
        .iter()
        .zip(&auditor.snapshot().tiers)
        .zip(&mut tiers)
        .filter_map(|((name, view), acc)| {
            let outcomes = std::mem::take(&mut acc.outcomes);
            Some(slo::report(name, view.slo?, slo::default_severity(name), outcomes))
        })
        .collect();
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
                distinct_users: Some(acc.users.len() as u64),
                segments_matched: acc.segments,
                segments_per_request: if acc.requests == 0 { 0.0 } else { acc.segments as f64 / acc.requests as f64 },
                rejected: acc.rejected,
                deprioritized: acc.deprioritized,
                cache: std::mem::take(&mut acc.cache),
                routes: std::mem::take(&mut acc.routes),
                latency: Latency::from_samples(&mut acc.latencies_ns),
            }
        })
        .collect();
    let segments = snapshot
        .segments
        .iter()
        .zip(segment_hits.iter().zip(&segment_errors))
        .map(|(name, (&hits, &rule_errors))| SegmentReport {
            segment: name.clone(),
            requests: hits,
            share_pct: share(hits),
            rule_errors,
        })
        .collect();
    let consent = ConsentReport {
        violations,
        tcf_invalid,
        cookie_invalid,
        deltas_applied,
        purposes: snapshot
            .purposes
            .iter()
            .zip(&auditor.snapshot().purposes)
            .zip(&purposes)
            .filter(|((_, view), _)| view.requires_consent)
            .map(|((name, _), acc)| PurposeNarrowing {
                purpose: name.clone(),
                gpc: acc.gpc,
                tcf: acc.tcf,
                cookie: acc.cookie,
                revoked: acc.revoked,
                narrowed: acc.any,
            })
            .collect(),
    };
    let secs = wall.as_secs_f64();
    let latency = Latency::from_samples(&mut all_ns); // sorts all_ns
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
        fallback: (traps + errors > 0)
            .then(|| Fallback { answers: traps + errors, tier: fallback_tier.unwrap_or_default() }),
        timings: Some(Timings {
            wall_ms: secs * 1000.0,
            decisions_per_sec: if secs > 0.0 { decided as f64 / secs } else { 0.0 },
            latency,
            histogram: timeline::latency_histogram(&all_ns),
        }),
        timeline: timeline.finish(&snapshot.tiers),
        spans,
        tiers: tier_reports,
        segments,
        consent,
        slos,
        shadowed_actions: ["throttle", "cache", "route"]
            .into_iter()
            .zip(shadowed)
            .map(|(k, n)| (k.to_owned(), n))
            .collect(),
        stale_decisions: stale,
        headers_skipped: stats.map(|s| s.headers_skipped),
        refused_loads: guest.refused_loads_by_kind().clone(),
        throttle_state: stats.map(|s| ThrottleState {
            keys: s.throttle_keys,
            high_water: s.throttle_keys_high_water,
            capacity: s.throttle_capacity,
            evictions: s.throttle_evictions,
            addresses: buckets_per_ip.len() as u64,
            max_buckets_per_address: buckets_per_ip.values().copied().max().unwrap_or(0),
            addresses_with_several_buckets: buckets_per_ip.values().filter(|&&n| n > 1).count() as u64,
        }),
        shards,
        identity: snapshot.verifies_identity.then(|| {
            let v = guest.identity_verifier();
            IdentityReport {
                verified: v.verified,
                refused: v.refused.iter().map(|(k, n)| ((*k).to_string(), *n)).collect(),
            }
        }),
    })
}

/// Before a decision on a sharded head: the shard the request needs, loaded if not held (and
/// mirrored in the auditor). A failed read or a refusal is counted by the source and the request
/// goes on without its shard; guest traps and errors here are left to the decision that follows.
fn shard_step(
    guest: &mut Guest,
    source: &mut ShardSource,
    auditor: &mut Auditor,
    request: &edgeseg::Request<'_>,
    first_failure: &mut Option<String>,
) -> Result<(), ReplayError> {
    let index = match guest.shard_for(request) {
        Ok(Some(index)) => index,
        Ok(None) | Err(GuestError::Trap(_) | GuestError::Abi { .. }) => return Ok(()),
        Err(e) => return Err(ReplayError::Guest(e)),
    };
    match source.ensure(guest, index).map_err(ReplayError::Guest)? {
        Ensured::Held => {}
        Ensured::Loaded { bytes, .. } => {
            auditor.load_shard(&bytes).map_err(ReplayError::AuditShard)?;
            auditor.retain_shards(&guest.held_shards());
        }
        Ensured::Missing(failure) => {
            if first_failure.is_none() {
                *first_failure = Some(failure.to_string());
            }
        }
    }
    Ok(())
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
