//! `edgeseg diff`: the same traffic through two snapshots, request by request, and what changes
//! for whom — the dry run that catches a rule change demoting paying customers before it ships.
//!
//! Both snapshots run in the real module (two guests sharing one compiled module), in lockstep, so
//! stateful actions (throttles) see the same request sequence on both sides. Tiers are matched by
//! name; a tier's rank is its position in the **new** snapshot (an old tier the new snapshot lacks
//! ranks below all of them). A request is *demoted* when its new tier ranks below its old one.
//!
//! Gates turn findings into an exit code: `--forbid-demotion <tier>` fails when any request (and
//! so any user) leaves that tier for a lower one, naming how many and which tier-granting segment
//! stopped matching and why (gone, request rule changed, or members changed); `--max-moved <pct>`
//! fails when more than that share of requests changed tier.
//!
//! Either side may be a sharded head: before each decision its guest is given the shard the
//! request needs, as in replay ([`crate::shards::ShardSource::ensure`]), and the report gains that
//! side's shard lines. A shard that cannot be read or is refused leaves that side's decision
//! fail-closed (`shard_missing`), counted.

use crate::guest::{Guest, GuestError};
use crate::replay::ShardReport;
use crate::shards::{Ensured, ShardFiles, ShardSource};
use crate::traffic::{TrafficError, TrafficRecord};
use edgeseg::{Engine, ThrottleResult};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hasher};

/// The gates to apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gates {
    /// Tiers no request may be demoted out of.
    pub forbid_demotion: Vec<String>,
    /// Largest share of requests (percent) allowed to change tier.
    pub max_moved_pct: Option<f64>,
}

/// One cell of the transition matrix.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub requests: u64,
    pub users: u64,
}

/// How a segment's reach changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentChange {
    pub segment: String,
    /// Requests it matches only under the new snapshot.
    pub gained: u64,
    /// Requests it matched only under the old snapshot.
    pub lost: u64,
}

/// A gate's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    pub explanation: String,
    /// The tier-granting segments whose stopping to match tripped it (forbid-demotion only).
    pub tripped_by: Vec<String>,
}

/// Requests kept in [`DiffReport::moved_sample`].
pub const MOVED_SAMPLE: usize = 20;

/// One request that changed tier, as the reports show it: never its id, only the old snapshot's
/// keyed fingerprint of it (what `edgeseg` tools can look up with the snapshot's key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MovedRequest {
    /// The request's position among the log's well-formed records, from 1.
    pub request: u64,
    /// The customer's fingerprint under the old snapshot's key (16 hex digits); `None`: anonymous.
    pub fingerprint: Option<String>,
    pub old_tier: String,
    pub new_tier: String,
    pub lost: Vec<String>,
    pub gained: Vec<String>,
}

/// What changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiffReport {
    pub old: String,
    pub new: String,
    pub requests: u64,
    /// Requests either side could not decide (trap or error); not compared.
    pub undecided: u64,
    pub malformed_skipped: u64,
    /// Tier names in matrix order: the new snapshot's tiers, then old-only tiers.
    pub tiers: Vec<String>,
    /// `matrix[old][new]`, indices into `tiers`.
    pub matrix: Vec<Vec<Cell>>,
    pub moved_requests: u64,
    pub moved_pct: f64,
    pub moved_users: u64,
    /// The first [`MOVED_SAMPLE`] requests that changed tier, in log order.
    pub moved_sample: Vec<MovedRequest>,
    pub segments: Vec<SegmentChange>,
    /// `old→new` throttle results (`allowed`, `rejected`, `deprioritized`, `none`) that differ.
    pub throttle_changes: BTreeMap<String, u64>,
    /// `old→new` cache modes that differ.
    pub cache_changes: BTreeMap<String, u64>,
    pub gates: Vec<GateResult>,
    /// Shard traffic of a sharded old or new side; absent for a whole snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_shards: Option<ShardReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_shards: Option<ShardReport>,
}

/// Where each side's shards are, when it is a sharded head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffShards {
    pub old: Option<ShardFiles>,
    pub new: Option<ShardFiles>,
}

impl DiffReport {
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }
}

/// Why the diff could not run.
#[derive(Debug)]
pub enum DiffError {
    Traffic(TrafficError),
    Guest(GuestError),
    Snapshot(edgeseg::Error),
    /// A side serves a sharded head and nowhere to find its shards was given.
    NoShardFiles(&'static str),
}

impl std::fmt::Display for DiffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiffError::Traffic(e) => write!(f, "malformed traffic: {e} (use --skip-malformed to count and skip)"),
            DiffError::Guest(e) => write!(f, "a guest cannot decide: {e}"),
            DiffError::Snapshot(e) => write!(f, "a snapshot does not decode natively: {e}"),
            DiffError::NoShardFiles(side) => {
                write!(f, "the {side} snapshot is a sharded head and no shard directory is given")
            }
        }
    }
}

impl std::error::Error for DiffError {}

/// Requests and users demoted out of one tier, and which granting segments stopped matching.
#[derive(Default)]
struct Demotions {
    requests: u64,
    users: HashSet<u64>,
    causes: BTreeMap<String, u64>,
}

/// What one side decided, kept for the comparison.
struct Side {
    tier: String,
    segments: Vec<String>,
    throttle: &'static str,
    cache: &'static str,
    shard_missing: bool,
}

fn side(guest: &mut Guest, record: &TrafficRecord) -> Result<Side, GuestError> {
    guest.decide_with(&record.request(), |d| Side {
        tier: d.tier.to_owned(),
        segments: d.segments.iter().map(|s| (*s).to_owned()).collect(),
        throttle: match d.throttle.as_ref().map(|t| t.result) {
            None => "none",
            Some(ThrottleResult::Allowed) => "allowed",
            Some(ThrottleResult::Rejected) => "rejected",
            Some(ThrottleResult::Deprioritized) => "deprioritized",
        },
        cache: d.cache.as_ref().map_or("none", |c| c.mode.as_str()),
        shard_missing: d.shard_missing,
    })
}

/// One side's shard source and what it saw.
struct SideShards {
    source: ShardSource,
    missing: u64,
    first_failure: Option<String>,
}

impl SideShards {
    fn new(guest: &Guest, files: Option<&ShardFiles>, side: &'static str) -> Result<Option<SideShards>, DiffError> {
        if guest.snapshot().is_none_or(|s| s.shards == 0) {
            return Ok(None);
        }
        let files = files.ok_or(DiffError::NoShardFiles(side))?;
        Ok(Some(SideShards { source: ShardSource::new(files.clone()), missing: 0, first_failure: None }))
    }

    /// The shard `record` needs, loaded into `guest` if not held.
    fn step(&mut self, guest: &mut Guest, record: &TrafficRecord) -> Result<(), DiffError> {
        let index = match guest.shard_for(&record.request()) {
            Ok(Some(index)) => index,
            Ok(None) | Err(GuestError::Trap(_) | GuestError::Abi { .. }) => return Ok(()),
            Err(e) => return Err(DiffError::Guest(e)),
        };
        if let Ensured::Missing(failure) = self.source.ensure(guest, index).map_err(DiffError::Guest)?
            && self.first_failure.is_none()
        {
            self.first_failure = Some(failure.to_string());
        }
        Ok(())
    }

    fn report(self, guest: &mut Guest) -> ShardReport {
        let host = guest.shard_stats();
        let engine_evictions = guest.stats().map_or(0, |s| s.shards.evictions);
        let c = self.source.counters;
        ShardReport {
            shards: guest.snapshot().map_or(0, |s| s.shards),
            loaded: c.loads,
            hits: c.hits,
            misses: c.misses,
            evictions: host.evictions + engine_evictions,
            refused: c.refused,
            read_errors: c.read_errors,
            missing_shard_decisions: self.missing,
            held: host.held,
            held_bytes: host.held_bytes,
            budget_bytes: host.budget_bytes,
            first_failure: self.first_failure,
        }
    }
}

/// Replays `records` on `old` and `new` (each with its snapshot loaded) and applies `gates`.
/// Neither side may be a sharded head (see [`diff_sharded`]).
pub fn diff(
    old: &mut Guest,
    new: &mut Guest,
    records: impl Iterator<Item = Result<TrafficRecord, TrafficError>>,
    skip_malformed: bool,
    gates: &Gates,
) -> Result<DiffReport, DiffError> {
    diff_sharded(old, new, records, skip_malformed, gates, &DiffShards::default())
}

/// [`diff`] where either side may be a sharded head whose shard files `shards` locates.
pub fn diff_sharded(
    old: &mut Guest,
    new: &mut Guest,
    records: impl Iterator<Item = Result<TrafficRecord, TrafficError>>,
    skip_malformed: bool,
    gates: &Gates,
    shards: &DiffShards,
) -> Result<DiffReport, DiffError> {
    let mut old_shards = SideShards::new(old, shards.old.as_ref(), "old")?;
    let mut new_shards = SideShards::new(new, shards.new.as_ref(), "new")?;
    let native = |g: &Guest| -> Result<Engine, DiffError> {
        let bytes = g.snapshot_bytes().ok_or(DiffError::Guest(GuestError::NoSnapshot))?;
        Engine::load(bytes).map_err(DiffError::Snapshot)
    };
    let (old_native, new_native) = (native(old)?, native(new)?);
    let (os, ns) = (old_native.snapshot(), new_native.snapshot());
    let mut tiers: Vec<String> = ns.tiers.iter().map(|t| t.name.clone()).collect();
    for t in &os.tiers {
        if !tiers.contains(&t.name) {
            tiers.push(t.name.clone());
        }
    }
    let rank: HashMap<&str, usize> = tiers.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    let n = tiers.len();
    let mut cells = vec![vec![(0u64, HashSet::<u64>::new()); n]; n];
    let mut seg_changes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut throttle_changes = BTreeMap::new();
    let mut cache_changes = BTreeMap::new();
    let (mut requests, mut undecided, mut malformed) = (0u64, 0u64, 0u64);
    let (mut moved, mut moved_users) = (0u64, HashSet::new());
    let mut moved_sample = Vec::new();
    // Per forbidden tier: demoted requests, users, and which granting segments stopped matching.
    let mut demoted: BTreeMap<&str, Demotions> =
        gates.forbid_demotion.iter().map(|t| (t.as_str(), Demotions::default())).collect();

    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) if skip_malformed && !e.is_fatal() => {
                malformed += 1;
                continue;
            }
            Err(e) => return Err(DiffError::Traffic(e)),
        };
        requests += 1;
        if let Some(s) = &mut old_shards {
            s.step(old, &record)?;
        }
        if let Some(s) = &mut new_shards {
            s.step(new, &record)?;
        }
        let (a, b) = match (side(old, &record), side(new, &record)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e @ (GuestError::NoSnapshot | GuestError::Host(_))), _)
            | (_, Err(e @ (GuestError::NoSnapshot | GuestError::Host(_)))) => return Err(DiffError::Guest(e)),
            _ => {
                undecided += 1;
                continue;
            }
        };
        for (s, missing) in [(&mut old_shards, a.shard_missing), (&mut new_shards, b.shard_missing)] {
            if let Some(s) = s {
                s.missing += u64::from(missing);
            }
        }
        // Users are counted by the old snapshot's identity sources, hashed on the spot.
        let user = old_native.identity(&record.request()).map(|id| {
            let mut h = DefaultHasher::new();
            h.write(id.as_bytes());
            h.finish()
        });
        let (ra, rb) =
            (rank.get(a.tier.as_str()).copied().unwrap_or(n), rank.get(b.tier.as_str()).copied().unwrap_or(n));
        if let Some(cell) = cells.get_mut(ra).and_then(|row| row.get_mut(rb)) {
            cell.0 += 1;
            cell.1.extend(user);
        }
        if a.tier != b.tier {
            moved += 1;
            moved_users.extend(user);
            if moved_sample.len() < MOVED_SAMPLE {
                moved_sample.push(MovedRequest {
                    request: requests,
                    fingerprint: old_native
                        .identity(&record.request())
                        .map(|id| format!("{:016x}", os.fingerprint(id))),
                    lost: a.segments.iter().filter(|s| !b.segments.contains(s)).cloned().collect(),
                    gained: b.segments.iter().filter(|s| !a.segments.contains(s)).cloned().collect(),
                    old_tier: a.tier.clone(),
                    new_tier: b.tier.clone(),
                });
            }
        }
        if rb > ra
            && let Some(Demotions { requests: reqs, users, causes }) = demoted.get_mut(a.tier.as_str())
        {
            *reqs += 1;
            users.extend(user);
            // The old tier came from tier-granting segments that matched before and not now.
            for name in &a.segments {
                let grants = os.segments.iter().any(|s| {
                    &s.name == name
                        && s.tier.and_then(|t| os.tiers.get(usize::from(t))).is_some_and(|t| t.name == a.tier)
                });
                if grants && !b.segments.contains(name) {
                    *causes.entry(name.clone()).or_default() += 1;
                }
            }
        }
        for s in &b.segments {
            if !a.segments.contains(s) {
                seg_changes.entry(s.clone()).or_default().0 += 1;
            }
        }
        for s in &a.segments {
            if !b.segments.contains(s) {
                seg_changes.entry(s.clone()).or_default().1 += 1;
            }
        }
        if a.throttle != b.throttle {
            *throttle_changes.entry(format!("{}→{}", a.throttle, b.throttle)).or_default() += 1;
        }
        if a.cache != b.cache {
            *cache_changes.entry(format!("{}→{}", a.cache, b.cache)).or_default() += 1;
        }
    }

    let decided = requests - undecided;
    let moved_pct = if decided == 0 { 0.0 } else { moved as f64 * 100.0 / decided as f64 };
    let mut results = Vec::new();
    for (tier, Demotions { requests: reqs, users, causes }) in &demoted {
        if *reqs == 0 {
            results.push(GateResult {
                gate: format!("forbid-demotion {tier}"),
                passed: true,
                explanation: format!("no request left {tier} for a lower tier"),
                tripped_by: Vec::new(),
            });
            continue;
        }
        let why: Vec<String> = causes.iter().map(|(seg, n)| format!("{}: {n} requests", cause(os, ns, seg))).collect();
        results.push(GateResult {
            gate: format!("forbid-demotion {tier}"),
            passed: false,
            explanation: format!(
                "{} users ({reqs} requests) demoted out of {tier}; {}",
                users.len(),
                if why.is_empty() { "no tier-granting segment stopped matching".to_owned() } else { why.join("; ") }
            ),
            tripped_by: causes.keys().cloned().collect(),
        });
    }
    if let Some(max) = gates.max_moved_pct {
        results.push(GateResult {
            gate: format!("max-moved {max}%"),
            passed: moved_pct <= max,
            explanation: format!("{moved_pct:.2}% of requests ({moved}) changed tier"),
            tripped_by: Vec::new(),
        });
    }
    Ok(DiffReport {
        old: format!("{} v{}", os.id, os.version),
        new: format!("{} v{}", ns.id, ns.version),
        requests,
        undecided,
        malformed_skipped: malformed,
        tiers,
        matrix: cells
            .into_iter()
            .map(|row| row.into_iter().map(|(r, u)| Cell { requests: r, users: u.len() as u64 }).collect())
            .collect(),
        moved_requests: moved,
        moved_pct,
        moved_users: moved_users.len() as u64,
        moved_sample,
        segments: seg_changes
            .into_iter()
            .map(|(segment, (gained, lost))| SegmentChange { segment, gained, lost })
            .collect(),
        throttle_changes,
        cache_changes,
        gates: results,
        old_shards: old_shards.map(|s| s.report(old)),
        new_shards: new_shards.map(|s| s.report(new)),
    })
}

/// Why a segment matches less under the new snapshot, as far as the snapshots can tell.
fn cause(old: &edgeseg::Snapshot, new: &edgeseg::Snapshot, name: &str) -> String {
    let (Some(a), Some(b)) =
        (old.segments.iter().find(|s| s.name == name), new.segments.iter().find(|s| s.name == name))
    else {
        return format!("segment {name} is gone from the new snapshot");
    };
    let mut why = Vec::new();
    if a.rule != b.rule {
        why.push("its request rule changed".to_owned());
    }
    if a.members != b.members || a.membership.is_some() != b.membership.is_some() {
        why.push(format!(
            "its members changed ({} → {}: the `members.where` rule or the member file)",
            a.members, b.members
        ));
    }
    if a.purpose != b.purpose
        || old.purposes.get(usize::from(a.purpose)).map(|p| &p.name)
            != new.purposes.get(usize::from(b.purpose)).map(|p| &p.name)
    {
        why.push("its purpose changed".to_owned());
    }
    if a.tier.and_then(|t| old.tiers.get(usize::from(t))).map(|t| &t.name)
        != b.tier.and_then(|t| new.tiers.get(usize::from(t))).map(|t| &t.name)
    {
        why.push("the tier it grants changed".to_owned());
    }
    if why.is_empty() {
        why.push("it matches the same way but a higher segment or consent changed".to_owned());
    }
    format!("segment {name} stopped matching ({})", why.join(", "))
}

impl DiffReport {
    /// The report for people.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "diff {} → {} over {} requests", self.old, self.new, self.requests);
        if self.undecided > 0 || self.malformed_skipped > 0 {
            let _ = writeln!(out, "undecided {}, malformed skipped {}", self.undecided, self.malformed_skipped);
        }
        let w = self.tiers.iter().map(String::len).chain([9]).max().unwrap_or(9);
        let _ = writeln!(out);
        let _ = writeln!(out, "tier transitions, requests/users (rows: old, columns: new)");
        let _ = write!(out, "{:<w$}", "old \\ new");
        for t in &self.tiers {
            let _ = write!(out, "  {t:>15}");
        }
        let _ = writeln!(out);
        for (t, row) in self.tiers.iter().zip(&self.matrix) {
            let _ = write!(out, "{t:<w$}");
            for c in row {
                let _ = write!(out, "  {:>15}", format!("{}/{}", c.requests, c.users));
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(
            out,
            "moved: {} requests ({:.2}%), {} users",
            self.moved_requests, self.moved_pct, self.moved_users
        );
        let _ = writeln!(out);
        if self.segments.is_empty() {
            let _ = writeln!(out, "segments: no change");
        } else {
            let _ = writeln!(out, "segments (requests gained / lost)");
            for s in &self.segments {
                let _ = writeln!(out, "  {:<24} +{} -{}", s.segment, s.gained, s.lost);
            }
        }
        let changes = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_owned()
            } else {
                m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
            }
        };
        let _ = writeln!(out, "throttle changes: {}", changes(&self.throttle_changes));
        let _ = writeln!(out, "cache changes: {}", changes(&self.cache_changes));
        for (side, s) in [("old", &self.old_shards), ("new", &self.new_shards)] {
            if let Some(s) = s {
                let _ = writeln!(
                    out,
                    "{side} shards: {} loaded (hits {}, misses {}, evictions {}, refused {}, read errors {}), \
                     {} decisions without their shard",
                    s.loaded, s.hits, s.misses, s.evictions, s.refused, s.read_errors, s.missing_shard_decisions
                );
            }
        }
        if !self.gates.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "gates");
            for g in &self.gates {
                let _ = writeln!(out, "  {} {}: {}", if g.passed { "ok  " } else { "FAIL" }, g.gate, g.explanation);
            }
        }
        out
    }
}
