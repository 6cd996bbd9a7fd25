//! The engine: a validated snapshot and the per-request decision over it.

use crate::actions::{Actions, Source};
use crate::consent;
use crate::decision::{CacheOutcome, Decision, Header, RouteOutcome, Tags, ThrottleOutcome, ThrottleResult};
use crate::delta::RevocationDelta;
use crate::error::{Error, ErrorKind};
use crate::identity::{Identity, identity};
use crate::membership::MembershipSet;
use crate::request::Request;
use crate::rule::{DEFAULT_EVAL_BUDGET, Env, Halt, Slot, Value};
use crate::shard::{Shard, ShardCache, ShardStats, probe_key};
use crate::snapshot::{PurposeView, SegmentView, Snapshot};
use crate::throttle::{Limiter, ThrottleAction, rate_limit_headers};
use crate::trace;
use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use throttle_key::{source_name, throttle_key};

mod throttle_key;

/// Customer ids longer than this are not fingerprinted (the request counts as anonymous): no real
/// id is this long, and it bounds the hashing work a hostile header can cause.
pub const MAX_ID_LEN: usize = 512;

/// Decides requests against one snapshot, with the state that lives beside it: the applied
/// revocation delta and the throttle table.
#[derive(Debug)]
pub struct Engine {
    snapshot: Snapshot,
    revocations: Option<RevocationDelta>,
    limiter: Limiter,
    /// Purposes that need consent (everything but `contract`).
    gated: u64,
    /// The snapshot's version as the `x-edgeseg-snapshot` header value, rendered once at load.
    version_header: String,
    stale_decisions: u64,
    headers_skipped: u64,
    /// Work units each rule evaluation may spend ([`Engine::set_eval_budget`]).
    eval_budget: u64,
    /// Segments skipped because their rule ran out of budget, since load.
    rule_budget_skips: u64,
    /// Segments not matched because their rule failed, since load.
    rule_errors: u64,
    /// Requests whose verified identity source carried a token without a verified id.
    identity_refused: u64,
    /// The shards held, for a sharded snapshot's head (empty otherwise).
    shards: ShardCache,
    /// Decisions that sent a `traceparent`: part of each new span id ([`crate::trace`]).
    trace_seq: u64,
}

/// Where a request lands, before actions (see [`Engine::classify`]).
#[derive(Debug)]
pub struct Classification<'e> {
    /// Index of the tier in the snapshot's tiers.
    pub tier_index: u16,
    /// Matched segments, highest precedence first.
    pub matched: Vec<&'e SegmentView>,
    pub fingerprint: Option<u64>,
    /// Purposes granted on this request after narrowing.
    pub consent: u64,
    pub narrowing: consent::Narrowing,
    /// Header values over the snapshot's `header_bytes` limit, read as absent.
    pub headers_skipped: u32,
    /// Segments whose rule ran out of its evaluation budget: not matched (fail-closed).
    pub budget_skipped: Vec<&'e SegmentView>,
    /// Segments whose rule failed (an [`crate::rule::EvalError`]): not matched.
    pub rule_errors: Vec<&'e SegmentView>,
    /// Sharded snapshot, identified request, shard not held: classified without membership and
    /// without recorded consent.
    pub shard_missing: bool,
    /// The identity is in the snapshot: some consent or member set holds its fingerprint. Only
    /// then (or when it is verified) may it key a per-user throttle bucket (an id a client makes
    /// up is free to mint).
    pub member: bool,
    /// The identity came from a token the host verified ([`crate::identity`]).
    pub verified: bool,
    /// A verified source's token came without a verified id: decided as anonymous.
    pub identity_refused: bool,
}

/// Counters a host reads for its report and its health checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    pub throttle_keys: u64,
    pub throttle_keys_high_water: u64,
    pub throttle_capacity: u64,
    pub throttle_evictions: u64,
    /// Sequence of the applied revocation delta, if any.
    pub delta_sequence: Option<u64>,
    pub revocations: u64,
    /// Decisions made after the snapshot's `expires_ms` (last-known-good, flagged `stale`).
    pub stale_decisions: u64,
    /// Header values over the snapshot's `header_bytes` limit, read as absent.
    pub headers_skipped: u64,
    /// Segments skipped since load because their rule ran out of its evaluation budget
    /// ([`Engine::set_eval_budget`]); each is also named in its [`Decision::budget_skipped`].
    pub rule_budget_skips: u64,
    /// Requests that carried a verified identity source's token but no id the host verified
    /// (the host's own counters say why): decided as anonymous.
    pub identity_refused: u64,
    /// Shard loads, refusals, hits, misses, evictions and what is held (all zero when the
    /// snapshot is not sharded).
    pub shards: ShardStats,
    /// Segments not matched since load because their rule failed (`1 * "a"`: an
    /// [`crate::rule::EvalError`]); each is also named in its [`Decision::rule_errors`].
    pub rule_errors: u64,
}

impl Engine {
    /// Decodes and validates snapshot bytes (copied once: see [`Engine::load_owned`]).
    pub fn load(bytes: &[u8]) -> Result<Engine, Error> {
        Snapshot::decode(bytes).map(Engine::from_snapshot)
    }

    /// [`Engine::load`] over a buffer the engine keeps: membership sets are probed in place in
    /// it, nothing is copied ([`Snapshot::decode_owned`]).
    pub fn load_owned(bytes: Vec<u8>) -> Result<Engine, Error> {
        Snapshot::decode_owned(bytes).map(Engine::from_snapshot)
    }

    pub fn from_snapshot(snapshot: Snapshot) -> Engine {
        let gated = consent::mask(&snapshot.purposes, |p| p.requires_consent);
        let limiter = throttle_key::limiter(&snapshot);
        let version_header = format!("{}", snapshot.version);
        Engine {
            snapshot,
            revocations: None,
            limiter,
            gated,
            version_header,
            eval_budget: DEFAULT_EVAL_BUDGET,
            rule_budget_skips: 0,
            rule_errors: 0,
            trace_seq: 0,
            identity_refused: 0,
            stale_decisions: 0,
            headers_skipped: 0,
            shards: ShardCache::new(),
        }
    }

    /// The shard a request needs: `None` when the snapshot is not sharded or the request carries
    /// no identity (anonymous requests need no shard). Reads the identity exactly as a decision
    /// does (header values over the snapshot's limit are absent).
    pub fn shard_for(&self, req: &Request<'_>) -> Option<u32> {
        let sharding = self.snapshot.sharding.as_ref()?;
        let snap = &self.snapshot;
        with_capped(snap, req, |req, _| identity(snap, req).id.map(|id| sharding.index_of(snap.fingerprint(id))))
    }

    /// Validates a shard of this engine's (sharded) snapshot and holds it, in place (no copy),
    /// evicting the least recently used shards beyond the budget ([`Engine::set_shard_budget`]).
    /// A shard of another build, version or index, or a corrupt one, is refused (counted) and
    /// the shards held stay as they were. Answers the shard's index.
    pub fn load_shard(&mut self, bytes: Vec<u8>) -> Result<u32, Error> {
        match Shard::decode_owned(bytes, &self.snapshot) {
            Ok(shard) => {
                let index = shard.index;
                self.shards.insert(shard);
                Ok(index)
            }
            Err(e) => {
                self.shards.stats.refused += 1;
                Err(e)
            }
        }
    }

    /// Drops a held shard; whether it was held.
    pub fn drop_shard(&mut self, index: u32) -> bool {
        self.shards.remove(index)
    }

    /// Whether shard `index` is held.
    pub fn has_shard(&self, index: u32) -> bool {
        self.shards.contains(index)
    }

    /// The indices of the shards held.
    pub fn held_shards(&self) -> Vec<u32> {
        self.shards.held_indices()
    }

    /// Bytes of shards to hold (default [`crate::shard::DEFAULT_SHARD_BUDGET`]); least recently
    /// used shards are evicted past it (the one just loaded always stays).
    pub fn set_shard_budget(&mut self, bytes: u64) {
        self.shards.set_budget(bytes);
    }

    /// Sets the work units one rule evaluation may spend (default [`DEFAULT_EVAL_BUDGET`]; see
    /// there for what counts). A rule that runs out does not match, and is counted in
    /// [`EngineStats::rule_budget_skips`].
    pub fn set_eval_budget(&mut self, units: u64) {
        self.eval_budget = units;
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Applies a revocation delta for this snapshot; it replaces the one applied before (deltas
    /// are cumulative) and takes effect from the next decision. A delta for another snapshot, or
    /// one not newer than the current, is refused and the current one stays.
    pub fn apply_delta(&mut self, bytes: &[u8]) -> Result<&RevocationDelta, Error> {
        let snap = &self.snapshot;
        if bytes.len() > snap.limits.delta_bytes as usize {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("delta is {} bytes, limit delta_bytes {}", bytes.len(), snap.limits.delta_bytes),
            ));
        }
        let delta = RevocationDelta::decode(bytes)?;
        if delta.snapshot_id != snap.id || delta.snapshot_version != snap.version || delta.key_id != snap.key_id() {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!(
                    "delta is for snapshot {} v{} key {:016x}, the engine has {} v{} key {:016x}",
                    delta.snapshot_id,
                    delta.snapshot_version,
                    delta.key_id,
                    snap.id,
                    snap.version,
                    snap.key_id()
                ),
            ));
        }
        if let Some(cur) = &self.revocations
            && delta.sequence <= cur.sequence
        {
            return Err(Error::new(
                ErrorKind::Stale,
                format!("delta sequence {} is not newer than the applied {}", delta.sequence, cur.sequence),
            ));
        }
        Ok(self.revocations.insert(delta))
    }

    /// Hands throttle state kept outside the instance back in (see [`ThrottleOutcome::state`]).
    pub fn import_throttle_state(&mut self, entries: &[(u64, u64)]) {
        for &(key, tat) in entries {
            self.limiter.import(key, tat);
        }
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            throttle_keys: self.limiter.len() as u64,
            throttle_keys_high_water: self.limiter.high_water() as u64,
            throttle_capacity: self.limiter.capacity() as u64,
            throttle_evictions: self.limiter.evictions(),
            delta_sequence: self.revocations.as_ref().map(|d| d.sequence),
            revocations: self.revocations.as_ref().map_or(0, |d| d.entries.len() as u64),
            stale_decisions: self.stale_decisions,
            headers_skipped: self.headers_skipped,
            rule_budget_skips: self.rule_budget_skips,
            identity_refused: self.identity_refused,
            shards: self.shards.stats,
            rule_errors: self.rule_errors,
        }
    }

    /// The customer id this request carries, per the snapshot's identity sources (a verified
    /// source's id only as the host handed it over in [`Request::verified_id`]).
    pub fn identity<'r>(&self, req: &Request<'r>) -> Option<&'r str> {
        identity(&self.snapshot, req).id
    }

    /// What the request's first present identity source says: for a verified source, the token
    /// the host must check before [`Engine::decide`] ([`crate::identity`]).
    pub fn identity_claim<'s, 'r>(&'s self, req: &Request<'r>) -> crate::identity::Claim<'s, 'r> {
        crate::identity::claim(&self.snapshot, req)
    }

    /// Which tier and segments a request lands in, under which consent — everything a decision
    /// is but its actions. Reads no state and changes none: what a browser or a preview may ask
    /// without counting against a throttle.
    pub fn classify<'e>(&'e self, req: &Request<'_>) -> Classification<'e> {
        classify(&self.snapshot, &self.shards, self.revocations.as_ref(), self.gated, self.eval_budget, req)
    }

    /// Counts headers a host dropped before [`Engine::decide`] because nothing in the snapshot
    /// reads them (`Snapshot::read_names`) but whose value was over the header limit: the count
    /// `EngineStats::headers_skipped` would have had from the whole request.
    pub fn count_headers_skipped(&mut self, headers: u32) {
        self.headers_skipped += u64::from(headers);
    }

    /// Puts one request into its tier and segments and applies their actions.
    pub fn decide<'e>(&'e mut self, req: &Request<'_>) -> Decision<'e> {
        let Classification {
            tier_index,
            matched,
            fingerprint,
            consent,
            narrowing,
            headers_skipped,
            budget_skipped,
            rule_errors,
            shard_missing,
            member,
            verified,
            identity_refused,
        } = classify(&self.snapshot, &self.shards, self.revocations.as_ref(), self.gated, self.eval_budget, req);
        self.rule_budget_skips += budget_skipped.len() as u64;
        self.rule_errors += rule_errors.len() as u64;
        self.identity_refused += u64::from(identity_refused);
        if self.snapshot.sharding.is_some() && fingerprint.is_some() {
            if shard_missing {
                self.shards.stats.misses += 1;
            } else {
                self.shards.stats.hits += 1;
            }
        }
        let snap = &self.snapshot;
        // Past its expiry and not replaced: still served (last-known-good), but flagged.
        let stale = snap.expires_ms.is_some_and(|e| e <= req.now_ms);
        self.stale_decisions += u64::from(stale);
        self.headers_skipped += u64::from(headers_skipped);

        let tier_view = snap.tiers.get(usize::from(tier_index));
        let tier = tier_view.map_or("", |t| t.name.as_str());
        let segments: Vec<&str> = matched.iter().map(|s| s.name.as_str()).collect();

        // Each kind of action: the first matched segment (highest precedence) that has one, else
        // the tier's.
        let pick = |get: &dyn Fn(&Actions) -> bool| -> Option<(Source<'e>, &'e Actions)> {
            matched
                .iter()
                .find(|s| get(&s.actions))
                .map(|s| (Source::Segment(s.name.as_str()), &s.actions))
                .or_else(|| tier_view.filter(|t| get(&t.actions)).map(|t| (Source::Tier(t.name.as_str()), &t.actions)))
        };
        let throttle_pick = pick(&|a| a.throttle.is_some());
        let cache_pick = pick(&|a| a.cache.is_some());
        let route_pick = pick(&|a| a.route.is_some());

        let mut response_headers = Vec::with_capacity(8);
        self.trace_seq = self.trace_seq.wrapping_add(1);
        let client = req.client_ip.unwrap_or("");
        let salt = trace::Salt { now_ms: req.now_ms, seq: self.trace_seq, client, path: req.path };
        let traceparent = trace::outgoing(req.header_values("traceparent"), snap.tracing, &snap.fingerprint_key, &salt);
        let tags = Tags { tier, segments: &segments, snapshot: self.version_header.as_str(), stale, shard_missing };
        let mut headers = tags.headers(req, traceparent);

        let throttle = throttle_pick.and_then(|(source, actions)| {
            let policy = actions.throttle.as_ref()?;
            let key = throttle_key(snap, policy, source, fingerprint.filter(|_| member || verified), req)?;
            let verdict = self.limiter.check(key, policy, req.now_ms);
            let rl = rate_limit_headers(source_name(source), policy, &verdict);
            response_headers.push(Header { name: "ratelimit-policy", value: Cow::Owned(rl.policy) });
            response_headers.push(Header { name: "ratelimit", value: Cow::Owned(rl.ratelimit) });
            let (result, lane) = match (&verdict.allowed, &policy.action) {
                (true, _) => (ThrottleResult::Allowed, None),
                (false, ThrottleAction::Reject) => {
                    if let Some(ra) = rl.retry_after {
                        response_headers.push(Header { name: "retry-after", value: Cow::Owned(ra) });
                    }
                    (ThrottleResult::Rejected, None)
                }
                (false, ThrottleAction::Deprioritize { lane }) => (ThrottleResult::Deprioritized, Some(lane.as_str())),
            };
            Some(ThrottleOutcome {
                source,
                result,
                lane,
                limit: verdict.limit,
                remaining: verdict.remaining,
                retry_after_s: verdict.retry_after_s.filter(|_| result == ThrottleResult::Rejected),
                state_key: key,
                state: self.limiter.export(key).unwrap_or(0),
            })
        });

        let route = route_pick.and_then(|(source, a)| {
            let r = a.route.as_ref()?;
            Some(RouteOutcome { source, pool: r.pool.as_str(), lane: r.lane.as_str() })
        });
        if let Some(r) = &route {
            headers.push(Header { name: "x-edgeseg-route", value: Cow::Borrowed(r.pool) });
        }
        let lane = throttle.as_ref().and_then(|t| t.lane).or(route.as_ref().map(|r| r.lane));
        if let Some(lane) = lane {
            headers.push(Header { name: "x-edgeseg-lane", value: Cow::Borrowed(lane) });
        }

        let cache = cache_pick.and_then(|(source, a)| {
            let policy = a.cache.as_ref()?;
            let key = policy.key_part(tier, source);
            headers.push(Header { name: "x-edgeseg-cache", value: Cow::Borrowed(policy.mode.as_str()) });
            if let Some(k) = &key {
                headers.push(Header { name: "x-edgeseg-cache-key", value: Cow::Owned(k.clone()) });
                response_headers.push(Header { name: "vary", value: Cow::Borrowed("x-edgeseg-cache-key") });
            }
            if let Some(cc) = policy.cache_control() {
                response_headers.push(Header { name: "cache-control", value: Cow::Owned(cc) });
            }
            if let (Some(spaced), Some(commas)) =
                (policy.surrogate_keys(tier, source, " "), policy.surrogate_keys(tier, source, ","))
            {
                response_headers.push(Header { name: "surrogate-key", value: Cow::Owned(spaced) });
                response_headers.push(Header { name: "cache-tag", value: Cow::Owned(commas) });
            }
            Some(CacheOutcome { source, mode: policy.mode, key })
        });

        Decision {
            snapshot_version: snap.version,
            tier,
            tier_index,
            segments,
            identified: fingerprint.is_some(),
            consent,
            narrowing,
            throttle,
            cache,
            route,
            headers,
            response_headers,
            stale,
            budget_skipped: budget_skipped.iter().map(|s| s.name.as_str()).collect(),
            shard_missing,
            rule_errors: rule_errors.iter().map(|s| s.name.as_str()).collect(),
        }
    }
}

/// [`Engine::classify`], over the parts of an engine it reads (so `decide` can hold the throttle
/// table mutably at the same time).
fn classify<'e>(
    snap: &'e Snapshot,
    shards: &ShardCache,
    revocations: Option<&RevocationDelta>,
    gated: u64,
    eval_budget: u64,
    req: &Request<'_>,
) -> Classification<'e> {
    with_capped(snap, req, |capped, headers_skipped| {
        classify_capped(snap, shards, revocations, gated, eval_budget, req, capped, headers_skipped)
    })
}

/// Runs `f` over the request as identity and rules read it: a header value over the snapshot's
/// limit is absent (and counted). Consent signals still see the full request: absent would widen
/// consent, and they fail closed on what they cannot read (the TCF decoder's own 8 KiB cap, a
/// malformed consent cookie).
fn with_capped<R>(snap: &Snapshot, req: &Request<'_>, f: impl FnOnce(&Request<'_>, u32) -> R) -> R {
    let max = snap.limits.header_bytes as usize;
    let headers_skipped = req.headers.iter().filter(|(_, v)| v.len() > max).count() as u32;
    // Rules (and so every path-driven action) see the normalised path (`crate::path`); a path
    // already normal is borrowed, and without skipped headers the request is not copied.
    let path = crate::path::normalize(req.path);
    if headers_skipped == 0 && matches!(path, Cow::Borrowed(_)) {
        return f(req, 0);
    }
    let capped = Request {
        method: req.method,
        host: req.host,
        path: &path,
        headers: req.headers.iter().filter(|(_, v)| v.len() <= max).copied().collect(),
        country: req.country,
        client_ip: req.client_ip,
        now_ms: req.now_ms,
        attributes: req.attributes.clone(),
        verified_id: req.verified_id,
    };
    f(&capped, headers_skipped)
}

/// Where a request's member sets are: the snapshot's own, a held shard's, or nowhere (a sharded
/// snapshot whose shard for this identity is not held: nothing is a member, nothing recorded).
#[derive(Clone, Copy)]
enum Members<'e> {
    Whole,
    Shard(&'e Shard),
    Missing,
}

impl<'m> Members<'m> {
    fn purpose(self, i: usize, p: &'m PurposeView) -> Option<&'m MembershipSet> {
        match self {
            Members::Whole => p.consented.as_ref(),
            Members::Shard(s) => s.purpose(i),
            Members::Missing => None,
        }
    }

    fn segment(self, i: usize, seg: &'m SegmentView) -> Option<&'m MembershipSet> {
        match self {
            Members::Whole => seg.membership.as_ref(),
            Members::Shard(s) => s.segment(i),
            Members::Missing => None,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn classify_capped<'e>(
    snap: &'e Snapshot,
    shards: &ShardCache,
    revocations: Option<&RevocationDelta>,
    gated: u64,
    eval_budget: u64,
    full: &Request<'_>,
    req: &Request<'_>,
    headers_skipped: u32,
) -> Classification<'e> {
    let Identity { id: identity, verified, refused: identity_refused } = identity(snap, req);
    let fingerprint = identity.map(|id| snap.fingerprint(id));
    // The sets to probe, and the key to probe them with (a shard's sets hold rotated keys).
    let (members, key) = match (&snap.sharding, fingerprint) {
        (None, _) => (Members::Whole, fingerprint),
        (Some(_), None) => (Members::Missing, None),
        (Some(sh), Some(fp)) => match shards.get(sh.index_of(fp)) {
            Some(shard) => (Members::Shard(shard), Some(probe_key(fp, shard.bits))),
            None => (Members::Missing, None),
        },
    };
    let shard_missing = snap.sharding.is_some() && fingerprint.is_some() && key.is_none();

    // What the snapshot granted, then what this request's signals take away from it.
    let mut granted = 0u64;
    for (i, p) in snap.purposes.iter().enumerate() {
        let ok = !p.requires_consent || matches!((key, members.purpose(i, p)), (Some(k), Some(set)) if set.contains(k));
        if ok {
            granted |= 1 << i;
        }
    }
    let mut narrowing = consent::deny_from_signals(full, &snap.consent, &snap.purposes, gated);
    narrowing.revoked = match (fingerprint, revocations) {
        (Some(fp), Some(d)) => d.revoked(fp) & gated,
        _ => 0,
    };
    narrowing.gpc &= granted;
    narrowing.tcf &= granted;
    narrowing.cookie &= granted;
    narrowing.revoked &= granted;
    let consent = granted & !narrowing.removed();
    // In a consent set (before any request signal narrowed it), or — checked below — in a member
    // set: the builder files every member in at least one, so nothing else is a member.
    let mut member = granted & gated != 0;

    let env = EdgeEnv { req, snap, identity, members, key, consent };
    // Sized once: growing a Vec step by step is a realloc per step (the wasm allocator's slow path).
    let mut matched: Vec<&SegmentView> = Vec::with_capacity(snap.segments.len());
    let mut best_tier: Option<u16> = None;
    let mut budget_skipped = Vec::new();
    let mut rule_errors = Vec::new();
    for (i, seg) in snap.segments.iter().enumerate() {
        if !env.purpose_granted(seg.purpose) {
            continue;
        }
        if seg.membership.is_some() {
            match (key, members.segment(i, seg)) {
                (Some(k), Some(set)) if set.contains(k) => member = true,
                _ => continue,
            }
        }
        match seg.rule.as_ref().map(|r| r.matches_within(&env, eval_budget)) {
            None | Some(Ok(true)) => {}
            Some(Ok(false)) => continue,
            Some(Err(Halt::Budget)) => {
                budget_skipped.push(seg);
                continue;
            }
            Some(Err(Halt::Error(_))) => {
                rule_errors.push(seg);
                continue;
            }
        }
        matched.push(seg);
        if let Some(t) = seg.tier {
            best_tier = Some(best_tier.map_or(t, |b| b.min(t)));
        }
    }
    Classification {
        tier_index: best_tier.unwrap_or(snap.default_tier),
        matched,
        fingerprint,
        consent,
        narrowing,
        headers_skipped,
        budget_skipped,
        rule_errors,
        shard_missing,
        member,
        verified,
        identity_refused,
    }
}

/// What rules see at the edge.
struct EdgeEnv<'r, 'q, 's> {
    req: &'r Request<'q>,
    snap: &'s Snapshot,
    identity: Option<&'q str>,
    members: Members<'s>,
    /// The identity's probe key for `members` (`None`: anonymous, or its shard is not held).
    key: Option<u64>,
    consent: u64,
}

impl EdgeEnv<'_, '_, '_> {
    fn purpose_granted(&self, purpose: u16) -> bool {
        purpose < 64 && self.consent & (1 << purpose) != 0
    }
}

impl<'a> Env<'a> for EdgeEnv<'a, 'a, '_> {
    fn slot(&self, slot: &'a Slot) -> Value<'a> {
        match (slot, self.identity) {
            (Slot::Identity, Some(id)) => Value::Str(id),
            _ => Env::slot(self.req, slot),
        }
    }

    fn consent(&self, purpose: u16) -> bool {
        self.purpose_granted(purpose)
    }

    /// Membership of the request's identity in a segment, honouring that segment's purpose: a
    /// member without consent for it is never "in" it.
    fn in_segment(&self, segment: u16) -> bool {
        let i = usize::from(segment);
        let Some(seg) = self.snap.segments.get(i) else { return false };
        match (self.key, self.members.segment(i, seg)) {
            (Some(k), Some(set)) => self.purpose_granted(seg.purpose) && set.contains(k),
            _ => false,
        }
    }
}
