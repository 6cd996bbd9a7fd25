//! The replay report: JSON for machines (`--json`), a fixed-layout table for people.
//!
//! Everything that changes from run to run or build to build — wall time, throughput, latency,
//! the module's path and size — is kept apart ([`Report::timings`], [`TierReport::latency`],
//! [`Report::module`]) so that golden tests can drop it ([`Report::to_text`] with
//! `include_timings = false`, or [`Report::strip_timings`] before serialising) and compare the
//! rest byte for byte. Numbers are printed with fixed precision; order follows the snapshot.

use super::percentile;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// What a replay found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub snapshot_id: String,
    pub snapshot_version: u64,
    /// The module that decided, when known.
    pub module: Option<ModuleInfo>,
    /// Well-formed log records replayed.
    pub requests: u64,
    /// Requests the guest decided (requests minus guest errors and traps).
    pub decided: u64,
    /// Decided requests that carried a customer id.
    pub identified: u64,
    /// `identified` as a percentage of `decided`.
    pub identified_share_pct: f64,
    /// Malformed log lines skipped (with `skip_malformed`).
    pub malformed_skipped: u64,
    /// Requests whose call trapped (the guest recovered each time).
    pub guest_traps: u64,
    /// Requests the guest answered with an error.
    pub guest_errors: u64,
    /// The host's answers in the guest's place (every trap and guest error); `None` if none.
    pub fallback: Option<Fallback>,
    /// Wall time, throughput and overall latency; `None` once stripped.
    pub timings: Option<Timings>,
    /// Every tier of the snapshot, highest precedence first, with or without requests.
    pub tiers: Vec<TierReport>,
    /// Every segment of the snapshot, in evaluation order.
    pub segments: Vec<SegmentReport>,
    pub consent: ConsentReport,
    /// Per tier with an SLO: success rate, latency percentiles, budget and burn rates from the
    /// log's statuses and latencies.
    pub slos: Vec<super::slo::SloReport>,
    /// Decisions and throttle rejections per tier over log time (bounded buckets).
    pub timeline: super::timeline::Timeline,
    /// One span per decision, with [`super::ReplayOptions::spans`] (written by `--otlp`, never
    /// part of the report itself).
    #[serde(skip)]
    pub spans: Vec<super::otlp::DecisionSpan>,
    /// Decisions where two matched segments carried different actions of one kind (`throttle`,
    /// `cache`, `route`) and precedence chose (the builder lists such pairs as conflicts).
    pub shadowed_actions: BTreeMap<String, u64>,
    /// The engine's throttle table at the end of the replay; `None` if the guest could not say.
    pub throttle_state: Option<ThrottleState>,
    /// Decisions on a snapshot past its expiry (served as last-known-good, flagged `stale`).
    pub stale_decisions: u64,
    /// Header values over the snapshot's `header_bytes` limit, read as absent (the engine's count
    /// since its last (re-)instantiation); `None` if the guest could not say.
    pub headers_skipped: Option<u64>,
    /// Snapshots the guest refused to swap in, by kind (`Expired`, `Rollback`, `Signature`…).
    pub refused_loads: BTreeMap<String, u64>,
    /// A sharded snapshot's shards during the replay; absent (not even `null`) for a whole
    /// snapshot, so its reports read as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<ShardReport>,
    /// Identity tokens checked for a verified identity source; absent when the snapshot has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityReport>,
}

/// Verified identity during a replay: tokens that proved an id, and those refused, by reason
/// (`malformed`, `alg`, `signature`, `expired`, `not_yet_valid`, `issuer`, `audience`, `claim`,
/// `no_secret`). A refused token's request is decided as anonymous.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityReport {
    pub verified: u64,
    pub refused: BTreeMap<String, u64>,
}

/// Shard traffic of a replay on a sharded head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShardReport {
    /// Shards of the head.
    pub shards: u32,
    /// Shards read and accepted by the guest.
    pub loaded: u64,
    /// Identified requests whose shard the guest held.
    pub hits: u64,
    /// Identified requests whose shard it did not hold (a read was tried).
    pub misses: u64,
    /// Shards dropped to stay within the budget.
    pub evictions: u64,
    /// Shards read but refused (SHA-256, another build, corrupt).
    pub refused: u64,
    /// Shard files that could not be read.
    pub read_errors: u64,
    /// Decisions made without their shard (fail-closed: default tier, nothing consent-gated).
    pub missing_shard_decisions: u64,
    /// Held at the end, and the budget.
    pub held: u64,
    pub held_bytes: u64,
    pub budget_bytes: u64,
    /// The first failed read or refusal, for diagnosis.
    pub first_failure: Option<String>,
}

/// The host's fallback answers (`host/src/guest/fallback.rs`): fail-open for throttles and cache,
/// fail-closed for consent-gated tags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fallback {
    /// Requests answered by the host: traps plus guest errors.
    pub answers: u64,
    /// The snapshot's default tier, which those answers carried.
    pub tier: String,
}

/// What consent did during the replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentReport {
    /// Decisions that matched a segment whose purpose the request's signals, the applied
    /// revocations or the member's recorded consent exclude (the host's own audit). Must be 0.
    pub violations: u64,
    /// Requests whose TCF string could not be decoded (it then granted nothing).
    pub tcf_invalid: u64,
    /// Requests whose consent cookie was malformed (it then granted nothing).
    pub cookie_invalid: u64,
    pub deltas_applied: u64,
    /// Every consent-gated purpose, in snapshot order.
    pub purposes: Vec<PurposeNarrowing>,
}

/// How often each signal took a purpose away that the snapshot had granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurposeNarrowing {
    pub purpose: String,
    /// Requests where any signal removed it.
    pub narrowed: u64,
    pub gpc: u64,
    pub tcf: u64,
    pub cookie: u64,
    pub revoked: u64,
}

/// The engine's bounded throttle table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThrottleState {
    pub keys: u64,
    pub high_water: u64,
    pub capacity: u64,
    pub evictions: u64,
    /// Client addresses (canonical, as the engine keys them) whose requests were throttled.
    pub addresses: u64,
    /// The most throttle buckets one address reached: rotating made-up identities or addresses
    /// shows here (members behind one NAT legitimately reach one each).
    pub max_buckets_per_address: u64,
    /// Addresses that reached more than one bucket.
    pub addresses_with_several_buckets: u64,
}

/// Which module decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModuleInfo {
    pub path: Option<String>,
    pub bytes: u64,
}

/// Run-dependent numbers for the whole replay.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timings {
    /// From the first record read to the last decision, reading and parsing included.
    pub wall_ms: f64,
    /// `decided / wall time`.
    pub decisions_per_sec: f64,
    pub latency: Option<Latency>,
    /// Every call's latency, binned (log-spaced) for the HTML report's distribution.
    pub histogram: Vec<super::timeline::LatencyBin>,
}

/// Decision latency: the `edgeseg_decide` wasm call alone, exact nearest-rank percentiles over
/// every sample.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Latency {
    /// Sorts `samples_ns` in place and takes the percentiles; `None` without samples.
    pub fn from_samples(samples_ns: &mut [u64]) -> Option<Latency> {
        samples_ns.sort_unstable();
        let us = |q| percentile(samples_ns, q).map(|ns| ns as f64 / 1000.0);
        Some(Latency { samples: samples_ns.len() as u64, p50_us: us(0.50)?, p99_us: us(0.99)? })
    }
}

/// One tier's share of the traffic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TierReport {
    /// The tier's name.
    pub tier: String,
    pub requests: u64,
    /// Percentage of decided requests.
    pub share_pct: f64,
    /// Distinct customer ids among this tier's identified requests; `None` when the host could
    /// not read the snapshot's identity sources.
    pub distinct_users: Option<u64>,
    /// Segments matched, summed over the tier's requests.
    pub segments_matched: u64,
    pub segments_per_request: f64,
    /// Requests a throttle rejected (429) or moved to a slower lane.
    pub rejected: u64,
    pub deprioritized: u64,
    /// Requests by cache mode (`public`, `private`, `no-store`, `bypass`, `none`).
    pub cache: BTreeMap<String, u64>,
    /// Requests by `pool/lane` (`default` without a route).
    pub routes: BTreeMap<String, u64>,
    /// `None` for a tier without requests, and once stripped.
    pub latency: Option<Latency>,
}

/// One segment's reach.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentReport {
    /// The segment's name.
    pub segment: String,
    /// Decided requests that matched this segment.
    pub requests: u64,
    /// Percentage of decided requests.
    pub share_pct: f64,
    /// Decided requests in which the segment's rule failed (an evaluation error such as
    /// arithmetic on a word): not matched, counted here.
    pub rule_errors: u64,
}

impl Report {
    /// Drops everything that varies between runs or builds (timings, latency, module), leaving
    /// a report that is a pure function of snapshot and traffic.
    pub fn strip_timings(&mut self) {
        self.timings = None;
        self.module = None;
        for tier in &mut self.tiers {
            tier.latency = None;
        }
    }

    /// The text report. With `include_timings = false`, the lines and columns that vary between
    /// runs or builds (module, wall time, throughput, latency) are left out and the rest is
    /// deterministic.
    pub fn to_text(&self, include_timings: bool) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out, include_timings);
        out
    }

    fn write_text(&self, out: &mut String, timings: bool) -> fmt::Result {
        // The id is the snapshot's to choose (the edge checks only tier, segment and purpose names).
        let id = edgeseg_snapshots::text::escape(&self.snapshot_id);
        writeln!(out, "snapshot           {id} v{}", self.snapshot_version)?;
        if timings && let Some(m) = &self.module {
            let path = m.path.as_deref().unwrap_or("(in memory)");
            writeln!(out, "module             {path} ({} bytes)", m.bytes)?;
        }
        writeln!(out, "requests           {}", self.requests)?;
        writeln!(out, "decided            {}", self.decided)?;
        writeln!(out, "identified         {} ({:.2}% of decided)", self.identified, self.identified_share_pct)?;
        writeln!(out, "malformed skipped  {}", self.malformed_skipped)?;
        writeln!(out, "guest traps        {}", self.guest_traps)?;
        writeln!(out, "guest errors       {}", self.guest_errors)?;
        if let Some(f) = &self.fallback {
            writeln!(
                out,
                "fallback answers   {} (tier {}; no throttle, no cache policy, no segments or consent)",
                f.answers, f.tier
            )?;
        }
        if timings && let Some(t) = &self.timings {
            writeln!(out, "wall time          {:.1} ms", t.wall_ms)?;
            writeln!(out, "throughput         {:.0} decisions/s", t.decisions_per_sec)?;
            if let Some(l) = &t.latency {
                writeln!(
                    out,
                    "decide latency     p50 {:.2} µs, p99 {:.2} µs ({} calls, exact nearest-rank)",
                    l.p50_us, l.p99_us, l.samples
                )?;
            }
        }

        let width = self.tiers.iter().map(|t| t.tier.len()).chain([4]).max().unwrap_or(4);
        writeln!(out)?;
        write!(
            out,
            "{:<width$}  {:>9}  {:>7}  {:>7}  {:>9}  {:>7}  {:>8}  {:>8}",
            "tier", "requests", "share", "users", "segments", "seg/req", "rejected", "deprio"
        )?;
        if timings {
            write!(out, "  {:>9}  {:>9}", "p50 µs", "p99 µs")?;
        }
        writeln!(out)?;
        for t in &self.tiers {
            let users = t.distinct_users.map_or_else(|| "n/a".to_owned(), |u| u.to_string());
            write!(
                out,
                "{:<width$}  {:>9}  {:>6.2}%  {:>7}  {:>9}  {:>7.2}  {:>8}  {:>8}",
                t.tier,
                t.requests,
                t.share_pct,
                users,
                t.segments_matched,
                t.segments_per_request,
                t.rejected,
                t.deprioritized
            )?;
            if timings {
                match &t.latency {
                    Some(l) => write!(out, "  {:>9.2}  {:>9.2}", l.p50_us, l.p99_us)?,
                    None => write!(out, "  {:>9}  {:>9}", "-", "-")?,
                }
            }
            writeln!(out)?;
        }

        writeln!(out)?;
        writeln!(out, "{:<width$}  {:<36}  route", "tier", "cache")?;
        let mix = |m: &BTreeMap<String, u64>| m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
        for t in &self.tiers {
            writeln!(out, "{:<width$}  {:<36}  {}", t.tier, mix(&t.cache), mix(&t.routes))?;
        }
        let shadowed = self.shadowed_actions.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
        writeln!(out, "shadowed actions   {shadowed}")?;
        if let Some(ts) = &self.throttle_state {
            writeln!(
                out,
                "throttle keys      {} held, high-water {} of {} (evictions {})",
                ts.keys, ts.high_water, ts.capacity, ts.evictions
            )?;
            // Only when a throttle counted anything, like the hardening counters below.
            if ts.addresses > 0 {
                writeln!(
                    out,
                    "buckets per IP     at most {} ({} of {} addresses reached more than one)",
                    ts.max_buckets_per_address, ts.addresses_with_several_buckets, ts.addresses
                )?;
            }
        }
        // Hardening counters: printed only when something happened, so a clean replay reads as before.
        if self.stale_decisions > 0 {
            writeln!(out, "stale decisions    {} (snapshot past its expiry, still serving)", self.stale_decisions)?;
        }
        if let Some(n) = self.headers_skipped.filter(|&n| n > 0) {
            writeln!(out, "headers skipped    {n} (over the snapshot's header_bytes limit)")?;
        }
        if !self.refused_loads.is_empty() {
            writeln!(out, "refused loads      {}", mix(&self.refused_loads))?;
        }

        if let Some(id) = &self.identity {
            let refused: u64 = id.refused.values().sum();
            let why = if refused == 0 { String::new() } else { format!(" ({})", mix(&id.refused)) };
            writeln!(
                out,
                "identity tokens    {} verified, {refused} refused{why} (refused: decided anonymous)",
                id.verified
            )?;
        }
        if let Some(s) = &self.shards {
            writeln!(
                out,
                "shards             {} in the head; {} held, {} of {} bytes",
                s.shards, s.held, s.held_bytes, s.budget_bytes
            )?;
            writeln!(
                out,
                "shard loads        {} (hits {}, misses {}, evictions {}, refused {}, read errors {})",
                s.loaded, s.hits, s.misses, s.evictions, s.refused, s.read_errors
            )?;
            writeln!(
                out,
                "shard missing      {} decisions without their shard (fail-closed)",
                s.missing_shard_decisions
            )?;
            if let Some(f) = &s.first_failure {
                writeln!(out, "first shard error  {f}")?;
            }
        }

        self.write_slos(out)?;

        let width = self.segments.iter().map(|s| s.segment.len()).chain([7]).max().unwrap_or(7);
        writeln!(out)?;
        writeln!(out, "{:<width$}  {:>9}  {:>7}", "segment", "requests", "share")?;
        for s in &self.segments {
            writeln!(out, "{:<width$}  {:>9}  {:>6.2}%", s.segment, s.requests, s.share_pct)?;
        }
        // Only when a rule failed: a clean replay's report keeps its shape.
        for s in self.segments.iter().filter(|s| s.rule_errors > 0) {
            writeln!(out, "rule errors: {} in {} decisions (not matched)", s.segment, s.rule_errors)?;
        }

        let c = &self.consent;
        writeln!(out)?;
        writeln!(out, "consent violations {}", c.violations)?;
        writeln!(out, "tcf invalid        {}", c.tcf_invalid)?;
        writeln!(out, "cookie invalid     {}", c.cookie_invalid)?;
        writeln!(out, "deltas applied     {}", c.deltas_applied)?;
        let width = c.purposes.iter().map(|p| p.purpose.len()).chain([7]).max().unwrap_or(7);
        writeln!(
            out,
            "{:<width$}  {:>9}  {:>7}  {:>7}  {:>7}  {:>7}",
            "purpose", "narrowed", "gpc", "tcf", "cookie", "revoked"
        )?;
        for p in &c.purposes {
            writeln!(
                out,
                "{:<width$}  {:>9}  {:>7}  {:>7}  {:>7}  {:>7}",
                p.purpose, p.narrowed, p.gpc, p.tcf, p.cookie, p.revoked
            )?;
        }
        Ok(())
    }
}

impl Report {
    fn write_slos(&self, out: &mut String) -> fmt::Result {
        if self.slos.is_empty() {
            return Ok(());
        }
        let width = self.slos.iter().map(|s| s.tier.len()).chain([4]).max().unwrap_or(4);
        writeln!(out)?;
        writeln!(
            out,
            "{:<width$}  {:<16}  {:>8}  {:>6}  {:>8}  {:>8}  {:>8}  {:>4}  {:>8}  burn 5m/15m/30m/1h/6h",
            "tier", "slo", "logged", "errors", "success", "p95 ms", "p99 ms", "met", "budget"
        )?;
        let opt = |v: Option<f64>, digits: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"));
        for s in &self.slos {
            let target = match s.latency_p99_target_ms {
                Some(ms) => format!("{}% p99<{ms}ms", s.availability_target_pct),
                None => format!("{}%", s.availability_target_pct),
            };
            let burns: Vec<String> = s.max_burn.iter().map(|b| opt(b.burn, 1)).collect();
            writeln!(
                out,
                "{:<width$}  {:<16}  {:>8}  {:>6}  {:>7}%  {:>8}  {:>8}  {:>4}  {:>7}%  {}",
                s.tier,
                target,
                s.requests,
                s.errors,
                opt(s.success_pct, 3),
                opt(s.p95_ms, 1),
                opt(s.p99_ms, 1),
                s.met.map_or("-", |m| if m { "yes" } else { "no" }),
                opt(s.budget_consumed_pct, 1),
                burns.join("/")
            )?;
        }
        let fired: Vec<String> = self
            .slos
            .iter()
            .flat_map(|s| {
                let availability = s.alerts.iter().map(|a| ("", a));
                let latency = s.latency_alerts.iter().map(|a| ("latency ", a));
                availability.chain(latency).filter_map(move |(slo, a)| {
                    a.first_fired_ms.map(|t| {
                        let at = edgeseg_snapshots::inspect::iso8601(t);
                        format!("{} {slo}{} ({}) from {at}", s.tier, a.alert, a.severity)
                    })
                })
            })
            .collect();
        writeln!(out, "alerts fired       {}", if fired.is_empty() { "none".to_owned() } else { fired.join("; ") })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text(true))
    }
}
