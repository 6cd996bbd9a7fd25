//! The host's answer when the guest cannot give one.
//!
//! A request still has to be served when the module traps (out of fuel, out of memory, a bug) or
//! refuses the request (a header past the ABI's limits). What the edge does then is fixed here,
//! in one place, and it leans the safe way for each concern:
//!
//! * **fail-open for throttles and cache**: no throttle verdict (the request is let through, not
//!   rejected on a guess) and no cache policy (the origin's own headers decide) — a broken engine
//!   must not turn into an outage or into cached private pages;
//! * **fail-closed for anything consent-gated**: no segments, an empty consent mask, not
//!   identified — no personalisation tag, no baggage, no route chosen for a member, because the
//!   host cannot know what this person consented to;
//! * the snapshot's **default tier** (the tier of a request that matches nothing), and an
//!   `x-edgeseg-fallback` header naming why, so origins and logs can tell these answers apart;
//! * the client's own `baggage` (every `baggage` header, as one list) **without its `edgeseg.*`
//!   members** (the prefix in any case): a client must not be able to
//!   claim a tier downstream just because the engine could not answer. When the client sent
//!   `baggage`, the fallback carries a `baggage` header to set in its place (empty: drop it).

use super::{Guest, GuestError, OwnedDecision};
use edgeseg::Request;
use edgeseg::consent::Narrowing;
use serde::Serialize;

/// Why the host answered in the guest's place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FallbackReason {
    /// The call trapped; the instance has been replaced for the next request.
    GuestTrap,
    /// The guest answered with an error for this request.
    GuestError,
}

impl FallbackReason {
    /// The `x-edgeseg-fallback` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackReason::GuestTrap => "guest-trap",
            FallbackReason::GuestError => "guest-error",
        }
    }
}

/// A decision for a request: the guest's, or the host's fallback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answered {
    pub decision: OwnedDecision,
    /// `Some` when the host answered; the error is what the guest said (or how it died).
    pub fallback: Option<(FallbackReason, GuestError)>,
}

impl Guest {
    /// Decides `request`; when the guest traps or refuses it, answers with [`Guest::fallback`]
    /// instead. Errors only when there is nothing to fall back on (no snapshot) or the host
    /// itself failed.
    pub fn decide_or_fallback(&mut self, request: &Request<'_>) -> Result<Answered, GuestError> {
        match self.decide(request) {
            Ok(decision) => Ok(Answered { decision, fallback: None }),
            Err(e @ GuestError::Trap(_)) => Ok(Answered {
                decision: self.fallback(FallbackReason::GuestTrap, request)?,
                fallback: Some((FallbackReason::GuestTrap, e)),
            }),
            Err(e @ GuestError::Abi { .. }) => Ok(Answered {
                decision: self.fallback(FallbackReason::GuestError, request)?,
                fallback: Some((FallbackReason::GuestError, e)),
            }),
            Err(e) => Err(e),
        }
    }

    /// The fallback decision for `request` under the serving snapshot (see the module notes).
    pub fn fallback(&mut self, reason: FallbackReason, request: &Request<'_>) -> Result<OwnedDecision, GuestError> {
        let (tier_index, tier) = self.default_tier()?;
        let version = self.current.as_ref().map(|c| c.info.version).ok_or(GuestError::NoSnapshot)?;
        let mut headers = vec![
            ("x-edgeseg-tier".to_owned(), tier.clone()),
            ("x-edgeseg-snapshot".to_owned(), version.to_string()),
            ("x-edgeseg-fallback".to_owned(), reason.as_str().to_owned()),
        ];
        // Every `baggage` header is one list (W3C Baggage): all of them are stripped and sent as one.
        let baggage: Vec<&str> = request.header_values("baggage").collect();
        if !baggage.is_empty() {
            headers.push(("baggage".to_owned(), edgeseg::strip_baggage(&baggage.join(","))));
        }
        Ok(OwnedDecision {
            snapshot_version: version,
            tier,
            tier_index,
            segments: Vec::new(),
            identified: false,
            consent: 0,
            narrowing: Narrowing::default(),
            throttle: None,
            cache: None,
            route: None,
            headers,
            response_headers: Vec::new(),
            // Not known without the engine; the guest's own decisions carry it.
            stale: false,
            budget_skipped: Vec::new(),
            shard_missing: false,
            rule_errors: Vec::new(),
        })
    }

    /// The serving snapshot's default tier, decoded natively the first time it is needed (traps
    /// are rare; a hot-swap should not pay for a second decode up front).
    fn default_tier(&mut self) -> Result<(u16, String), GuestError> {
        let current = self.current.as_mut().ok_or(GuestError::NoSnapshot)?;
        if let Some(known) = &current.default_tier {
            return Ok(known.clone());
        }
        // The guest accepted these bytes, so the native engine (same code) does too; if it did not,
        // the lowest-precedence tier is the conservative answer.
        let known = match edgeseg::Engine::load(&current.bytes) {
            Ok(engine) => {
                let snap = engine.snapshot();
                let index = snap.default_tier;
                let name = snap.tiers.get(usize::from(index)).map(|t| t.name.clone());
                name.map(|n| (index, n))
            }
            Err(_) => None,
        };
        let known = match known {
            Some(k) => k,
            None => {
                let last = current.info.tiers.len().checked_sub(1).ok_or(GuestError::NoSnapshot)?;
                let name = current.info.tiers.get(last).cloned().ok_or(GuestError::NoSnapshot)?;
                (u16::try_from(last).unwrap_or(u16::MAX), name)
            }
        };
        current.default_tier = Some(known.clone());
        Ok(known)
    }
}
