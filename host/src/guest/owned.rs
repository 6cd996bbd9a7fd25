//! Owned copies of what the guest answers.
//!
//! The ABI's Rust types borrow from the answer buffer (zero-copy decoding inside the guest and in
//! the replay loop). Callers that keep results around — tests comparing native and wasm
//! decisions, reports naming tiers — need owned values; these are they.

use super::GuestError;
use edgeseg::abi::{DecideResult, LoadInfo};
use edgeseg::actions::CacheMode;
use edgeseg::consent::Narrowing;
use edgeseg::{Decision, ThrottleResult};
use serde::Serialize;

/// A snapshot the guest accepted, as `edgeseg_load` described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadedSnapshot {
    /// The guest's engine handle (changes when the guest is re-instantiated after a trap).
    pub handle: u32,
    pub snapshot_id: String,
    pub version: u64,
    /// Tier names, highest precedence first.
    pub tiers: Vec<String>,
    /// Segment names in evaluation order.
    pub segments: Vec<String>,
    pub purposes: Vec<String>,
    /// Shards of a sharded snapshot's head (`0`: not sharded).
    pub shards: u32,
    /// Some identity source's token is verified by the host (`Guest::decide` does it).
    pub verifies_identity: bool,
}

impl From<&LoadInfo<'_>> for LoadedSnapshot {
    fn from(info: &LoadInfo<'_>) -> LoadedSnapshot {
        let owned = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect();
        LoadedSnapshot {
            handle: info.handle,
            snapshot_id: info.snapshot_id.to_owned(),
            version: info.version,
            tiers: owned(&info.tiers),
            segments: owned(&info.segments),
            purposes: owned(&info.purposes),
            shards: info.shards,
            verifies_identity: info.verifies_identity,
        }
    }
}

/// An owned [`edgeseg::Decision`], comparable across the native engine and the guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OwnedDecision {
    pub snapshot_version: u64,
    pub tier: String,
    pub tier_index: u16,
    pub segments: Vec<String>,
    pub identified: bool,
    pub consent: u64,
    pub narrowing: Narrowing,
    pub throttle: Option<OwnedThrottle>,
    pub cache: Option<OwnedCache>,
    pub route: Option<OwnedRoute>,
    /// `(name, value)` in the order the engine emitted them.
    pub headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    /// Decided on a snapshot past its expiry (see [`edgeseg::Decision::stale`]).
    pub stale: bool,
    /// Segments not matched because their rule ran out of its evaluation budget
    /// (see [`edgeseg::Decision::budget_skipped`]).
    pub budget_skipped: Vec<String>,
    /// Decided without its shard (see [`edgeseg::Decision::shard_missing`]).
    pub shard_missing: bool,
    /// Segments not matched because their rule failed (see [`edgeseg::Decision::rule_errors`]).
    pub rule_errors: Vec<String>,
}

/// An owned [`edgeseg::ThrottleOutcome`]; `source` is `segment:<name>` or `tier:<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OwnedThrottle {
    pub source: String,
    pub result: ThrottleResult,
    pub lane: Option<String>,
    pub limit: u32,
    pub remaining: u32,
    pub retry_after_s: Option<u64>,
    pub state_key: u64,
    pub state: u64,
}

/// An owned [`edgeseg::CacheOutcome`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OwnedCache {
    pub source: String,
    pub mode: CacheMode,
    pub key: Option<String>,
}

/// An owned [`edgeseg::RouteOutcome`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OwnedRoute {
    pub source: String,
    pub pool: String,
    pub lane: String,
}

impl From<&Decision<'_>> for OwnedDecision {
    fn from(d: &Decision<'_>) -> OwnedDecision {
        OwnedDecision {
            snapshot_version: d.snapshot_version,
            tier: d.tier.to_owned(),
            tier_index: d.tier_index,
            segments: d.segments.iter().map(|s| (*s).to_owned()).collect(),
            identified: d.identified,
            consent: d.consent,
            narrowing: d.narrowing,
            throttle: d.throttle.as_ref().map(|t| OwnedThrottle {
                source: t.source.label(),
                result: t.result,
                lane: t.lane.map(str::to_owned),
                limit: t.limit,
                remaining: t.remaining,
                retry_after_s: t.retry_after_s,
                state_key: t.state_key,
                state: t.state,
            }),
            cache: d.cache.as_ref().map(|c| OwnedCache { source: c.source.label(), mode: c.mode, key: c.key.clone() }),
            route: d.route.as_ref().map(|r| OwnedRoute {
                source: r.source.label(),
                pool: r.pool.to_owned(),
                lane: r.lane.to_owned(),
            }),
            headers: d.headers.iter().map(|h| (h.name.to_owned(), h.value.clone().into_owned())).collect(),
            response_headers: d
                .response_headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.clone().into_owned()))
                .collect(),
            stale: d.stale,
            budget_skipped: d.budget_skipped.iter().map(|s| (*s).to_owned()).collect(),
            shard_missing: d.shard_missing,
            rule_errors: d.rule_errors.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl OwnedDecision {
    /// Decodes a raw `edgeseg_decide` answer (postcard `Result<Decision, AbiError>`), as returned
    /// by [`crate::guest::Guest::decide_raw`].
    pub fn from_answer(answer: &[u8]) -> Result<OwnedDecision, GuestError> {
        match decode_decide_answer(answer)? {
            Ok(decision) => Ok(OwnedDecision::from(&decision)),
            Err(e) => Err(GuestError::from(e)),
        }
    }
}

/// Decodes a decide answer, borrowing from `answer`; a decode failure is a host error.
pub(crate) fn decode_decide_answer(answer: &[u8]) -> Result<DecideResult<'_>, GuestError> {
    postcard::from_bytes(answer)
        .map_err(|e| GuestError::Host(format!("undecodable decide answer ({} bytes): {e}", answer.len())))
}
