//! The consent audit: an independent check that no decision matched a segment whose purpose the
//! request's signals or the applied revocations exclude.
//!
//! The guest reports what it did (`Decision::consent`, `Decision::narrowing`); the auditor does not
//! take its word for it. From the snapshot decoded natively it recomputes, per request, which
//! consent-gated purposes must be off — the member's recorded consent, `Sec-GPC`, the TCF string,
//! the consent cookie and the revocation delta — with its own code for everything but the TCF bit
//! decoding, and counts every matched segment whose purpose is among them. A privacy owner reads
//! one number: it must be 0.
//!
//! For a sharded snapshot the head's consent sets are empty placeholders: the auditor decodes each
//! shard the guest loads from the same bytes, with its own code (the consent sets only, probed with
//! the shard key, `probe_key`), and holds the shards the guest holds. A decision the guest made
//! without its shard (`shard_missing`) had no recorded consent, so neither does the audit's.

use edgeseg::delta::RevocationDelta;
use edgeseg::format;
use edgeseg::membership::{MembershipData, MembershipSet};
use edgeseg::shard::{ShardPayload, probe_key};
use edgeseg::snapshot::Snapshot;
use edgeseg::{Engine, Request};
use std::collections::HashMap;

/// Recomputes consent per request from the natively decoded snapshot.
pub(crate) struct Auditor {
    engine: Engine,
    delta: Option<RevocationDelta>,
    /// A sharded snapshot's consent sets, per shard held (parallel to the head's purposes).
    shards: HashMap<u32, Vec<Option<MembershipSet>>>,
}

impl Auditor {
    pub(crate) fn new(engine: Engine) -> Auditor {
        Auditor { engine, delta: None, shards: HashMap::new() }
    }

    /// Mirrors a shard the guest loaded: decodes its consent sets from the same bytes (checking
    /// its container and that it belongs to this head) and holds them.
    pub(crate) fn load_shard(&mut self, bytes: &[u8]) -> Result<u32, String> {
        let snap = self.engine.snapshot();
        let invalid = |why: &str| why.to_owned();
        let sharding = snap.sharding.as_ref().ok_or_else(|| invalid("the snapshot is not sharded"))?;
        let (_, payload) = format::split_as(bytes, &format::SHARD_MAGIC, format::SHARD_VERSION, format::SHARD_VERSION)
            .map_err(|e| e.to_string())?;
        let p: ShardPayload<&[u8]> = postcard::from_bytes(payload).map_err(|e| e.to_string())?;
        if p.snapshot_id != snap.id
            || p.snapshot_version != snap.version
            || p.build != sharding.build
            || p.bits != sharding.bits
            || p.index >= sharding.count()
            || p.purposes.len() != snap.purposes.len()
        {
            return Err(invalid("a shard of another snapshot, build or index"));
        }
        let mut sets = Vec::with_capacity(p.purposes.len());
        for (data, view) in p.purposes.into_iter().zip(&snap.purposes) {
            sets.push(match data {
                Some(d) => Some(MembershipSet::load(owned(d), &view.name).map_err(|e| e.to_string())?),
                None => None,
            });
        }
        self.shards.insert(p.index, sets);
        Ok(p.index)
    }

    /// Keeps only the shards in `held` (what the guest holds now).
    pub(crate) fn retain_shards(&mut self, held: &[u32]) {
        self.shards.retain(|i, _| held.contains(i));
    }

    pub(crate) fn snapshot(&self) -> &Snapshot {
        self.engine.snapshot()
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Mirrors a delta the guest accepted.
    pub(crate) fn set_delta(&mut self, delta: RevocationDelta) {
        self.delta = Some(delta);
    }

    /// Purposes that must be off for this request (bit `i` = purpose `i`); `contract` purposes
    /// never appear.
    #[cfg(test)]
    pub(crate) fn must_be_off(&self, req: &Request<'_>) -> u64 {
        self.must_be_off_for(req, self.engine.identity(req), false)
    }

    /// [`Auditor::must_be_off`] for a request whose identity (`Engine::identity`) the caller
    /// already found: a replay looks it up once per request, not twice. `shard_missing`: the
    /// guest decided without the identity's shard (so with nothing recorded).
    pub(crate) fn must_be_off_for(&self, req: &Request<'_>, identity: Option<&str>, shard_missing: bool) -> u64 {
        let snap = self.engine.snapshot();
        let fingerprint = identity.map(|id| snap.fingerprint(id));
        let gpc = req.header("sec-gpc").map(str::trim) == Some("1");
        let tcf = snap
            .consent
            .tcf_cookie
            .as_deref()
            .and_then(|c| req.cookie(c))
            .or_else(|| snap.consent.tcf_header.as_deref().and_then(|h| req.header(h)))
            .map(|v| edgeseg::tcf::decode(v.trim()).map(|tc| tc.purposes_consent));
        let cookie = snap.consent.cookie.as_deref().and_then(|c| req.cookie(c)).map(cookie_purposes);
        let revoked = match (fingerprint, &self.delta) {
            (Some(fp), Some(d)) => d.revoked(fp),
            _ => 0,
        };

        let mut off = 0u64;
        for (i, p) in snap.purposes.iter().enumerate() {
            if !p.requires_consent {
                continue;
            }
            let recorded = match (fingerprint, &snap.sharding) {
                (None, _) => false,
                (Some(fp), None) => p.consented.as_ref().is_some_and(|set| set.contains(fp)),
                (Some(_), Some(_)) if shard_missing => false,
                (Some(fp), Some(sh)) => self
                    .shards
                    .get(&sh.index_of(fp))
                    .and_then(|sets| sets.get(i))
                    .and_then(Option::as_ref)
                    .is_some_and(|set| set.contains(probe_key(fp, sh.bits))),
            };
            let need = p.signals.tcf_purposes;
            let tcf_denies = match &tcf {
                Some(Ok(granted)) => need != 0 && need & granted != need,
                Some(Err(_)) => need != 0,
                None => false,
            };
            let cookie_denies = match &cookie {
                Some(Some(list)) => !list.iter().any(|n| *n == p.name),
                Some(None) => true,
                None => false,
            };
            let denied = !recorded
                || (gpc && p.signals.sale_sharing)
                || tcf_denies
                || cookie_denies
                || revoked & (1u64 << i) != 0;
            if denied {
                off |= 1 << i;
            }
        }
        off
    }
}

/// An owned copy of a borrowed set.
fn owned(d: MembershipData<&[u8]>) -> MembershipData {
    match d {
        MembershipData::Exact(b) => MembershipData::Exact(b.to_vec()),
        MembershipData::Bloom(b) => MembershipData::Bloom(b.to_vec()),
        MembershipData::Fuse(b) => MembershipData::Fuse(b.to_vec()),
        MembershipData::Packed(b) => MembershipData::Packed(b.to_vec()),
    }
}

/// The purpose names a consent cookie lists, or `None` when it is malformed.
fn cookie_purposes(value: &str) -> Option<Vec<&str>> {
    if value.len() > edgeseg::consent::MAX_CONSENT_COOKIE {
        return None;
    }
    let tokens: Vec<&str> = value.split(['|', ',', '+', ' ']).filter(|t| !t.is_empty()).collect();
    let valid = |t: &&str| t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
    tokens.iter().all(valid).then_some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeseg_snapshots::{BuildOptions, Definitions, build, members::JsonlMembers};

    const DEFS: &str = r#"{"id": "audit", "identity": [{"cookie": "uid", "trust": "unverified"}],
        "purposes": ["contract", "personalisation", "marketing"], "tiers": ["all"],
        "consent": {"tcf": {"purposes": {"personalisation": [1, 5]}}, "cookie": "c"},
        "segments": [{"name": "p", "purpose": "personalisation", "members": {"all": true}}]}"#;
    const MEMBERS: &str = "{\"id\": \"a\", \"consents\": [\"personalisation\", \"marketing\"]}\n\
                           {\"id\": \"b\", \"consents\": [\"marketing\"]}\n";

    fn auditor() -> Auditor {
        let defs = Definitions::from_json(DEFS).unwrap();
        let opts = BuildOptions { seed: Some(1), created_ms: Some(1), ..BuildOptions::default() };
        let built = build(&defs, JsonlMembers::new(MEMBERS.as_bytes(), None), &opts).unwrap();
        Auditor::new(Engine::load(&built.bytes).unwrap())
    }

    fn off(a: &Auditor, headers: &[(&str, &str)]) -> u64 {
        a.must_be_off(&Request { headers: headers.to_vec(), ..Request::default() })
    }

    #[test]
    fn recomputes_what_must_be_off() {
        let a = auditor();
        let (pers, mkt) = (0b010, 0b100);
        assert_eq!(off(&a, &[("cookie", "uid=a")]), 0, "a consented to both");
        assert_eq!(off(&a, &[("cookie", "uid=b")]), pers, "b never consented to personalisation");
        assert_eq!(off(&a, &[]), pers | mkt, "anonymous: nothing recorded");
        assert_eq!(off(&a, &[("cookie", "uid=a"), ("sec-gpc", "1")]), mkt, "GPC defaults to marketing");
        assert_eq!(off(&a, &[("cookie", "uid=a; euconsent-v2=garbage")]), pers, "malformed TCF: mapped purposes off");
        assert_eq!(off(&a, &[("cookie", "uid=a; c=marketing")]), pers);
        assert_eq!(off(&a, &[("cookie", "uid=a; c=<x>")]), pers | mkt);

        let mut a = a;
        let fp = a.snapshot().fingerprint("a");
        let snap = a.snapshot();
        a.set_delta(RevocationDelta::new(
            &snap.id.clone(),
            snap.version,
            snap.key_id(),
            1,
            1,
            vec![edgeseg::delta::Revocation { fingerprint: fp, purposes: mkt }],
        ));
        assert_eq!(off(&a, &[("cookie", "uid=a")]), mkt, "revoked");
    }
}
