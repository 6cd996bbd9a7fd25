//! The engine: a validated snapshot and the per-request decision over it.

use crate::decision::{Decision, Header, merge_baggage};
use crate::error::Error;
use crate::request::Request;
use crate::rule::{Env, Slot, Value};
use crate::snapshot::{IdentitySource, Snapshot};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Customer ids longer than this are not fingerprinted (the request counts as anonymous): no real
/// id is this long, and it bounds the hashing work a hostile header can cause.
pub const MAX_ID_LEN: usize = 512;

/// Decides requests against one snapshot.
#[derive(Debug)]
pub struct Engine {
    snapshot: Snapshot,
}

impl Engine {
    /// Decodes and validates snapshot bytes.
    pub fn load(bytes: &[u8]) -> Result<Engine, Error> {
        Snapshot::decode(bytes).map(Engine::from_snapshot)
    }

    pub fn from_snapshot(snapshot: Snapshot) -> Engine {
        Engine { snapshot }
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The customer id this request carries, per the snapshot's identity sources.
    pub fn identity<'r>(&self, req: &Request<'r>) -> Option<&'r str> {
        self.snapshot.identity.iter().find_map(|src| {
            let v = match src {
                IdentitySource::Header(name) => req.header(name),
                IdentitySource::Cookie(name) => req.cookie(name),
            }?
            .trim();
            (!v.is_empty() && v.len() <= MAX_ID_LEN).then_some(v)
        })
    }

    /// Puts one request into its tier and segments.
    pub fn decide<'e>(&'e self, req: &Request<'_>) -> Decision<'e> {
        let snap = &self.snapshot;
        let identity = self.identity(req);
        let fingerprint = identity.map(|id| snap.fingerprint(id));

        let mut consent = 0u64;
        for (i, p) in snap.purposes.iter().enumerate() {
            let granted =
                !p.requires_consent || matches!((fingerprint, &p.consented), (Some(fp), Some(set)) if set.contains(fp));
            if granted {
                consent |= 1 << i;
            }
        }

        let env = EdgeEnv { req, snap, identity, fingerprint, consent };
        let mut segments = Vec::new();
        let mut best_tier: Option<u16> = None;
        for seg in &snap.segments {
            if !env.purpose_granted(seg.purpose) {
                continue;
            }
            if let Some(set) = &seg.membership {
                match fingerprint {
                    Some(fp) if set.contains(fp) => {}
                    _ => continue,
                }
            }
            if let Some(rule) = &seg.rule
                && !rule.matches(&env)
            {
                continue;
            }
            segments.push(seg.name.as_str());
            if let Some(t) = seg.tier {
                best_tier = Some(best_tier.map_or(t, |b| b.min(t)));
            }
        }

        let tier_index = best_tier.unwrap_or(snap.default_tier);
        let tier = snap.tiers.get(usize::from(tier_index)).map_or("", |t| t.name.as_str());
        let mut headers = Vec::with_capacity(4);
        headers.push(Header { name: "x-edgeseg-tier", value: String::from(tier) });
        if !segments.is_empty() {
            headers.push(Header { name: "x-edgeseg-segments", value: segments.join(",") });
        }
        if let Some(baggage) = merge_baggage(req.header("baggage"), tier) {
            headers.push(Header { name: "baggage", value: baggage });
        }
        headers.push(Header { name: "x-edgeseg-snapshot", value: format!("{}", snap.version) });

        Decision {
            snapshot_version: snap.version,
            tier,
            tier_index,
            segments,
            identified: fingerprint.is_some(),
            consent,
            headers,
        }
    }
}

/// What rules see at the edge.
struct EdgeEnv<'r, 'q, 's> {
    req: &'r Request<'q>,
    snap: &'s Snapshot,
    identity: Option<&'q str>,
    fingerprint: Option<u64>,
    consent: u64,
}

impl EdgeEnv<'_, '_, '_> {
    fn purpose_granted(&self, purpose: u16) -> bool {
        purpose < 64 && self.consent & (1 << purpose) != 0
    }
}

impl<'a> Env<'a> for EdgeEnv<'a, 'a, '_> {
    fn slot(&self, slot: &'a Slot) -> Value<'a> {
        let opt = |v: Option<&'a str>| v.map_or(Value::Null, Value::Str);
        match slot {
            Slot::Method => Value::Str(self.req.method),
            Slot::Host => Value::Str(self.req.host),
            Slot::Path => Value::Str(self.req.path),
            Slot::Country => opt(self.req.country),
            Slot::Now => Value::Number((self.req.now_ms / 1000) as f64),
            Slot::NowMs => Value::Number(self.req.now_ms as f64),
            Slot::Header(name) => opt(self.req.header(name)),
            Slot::Cookie(name) => opt(self.req.cookie(name)),
            Slot::Attribute(name) => self.req.attribute(name).map_or(Value::Null, Value::from),
            Slot::Identity => opt(self.identity),
        }
    }

    /// Membership of the request's identity in a segment, honouring that segment's purpose: a
    /// member without consent for it is never "in" it.
    fn in_segment(&self, segment: u16) -> bool {
        let Some(seg) = self.snap.segments.get(usize::from(segment)) else { return false };
        match (self.fingerprint, &seg.membership) {
            (Some(fp), Some(set)) => self.purpose_granted(seg.purpose) && set.contains(fp),
            _ => false,
        }
    }
}
