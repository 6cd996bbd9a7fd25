//! The snapshot payload schema and its validated, probe-ready form.
//!
//! [`SnapshotPayload`] is what the builder writes (postcard, behind the [`crate::format`] header).
//! [`Snapshot::decode`] checks the header, decodes the payload and validates every cross-reference
//! and every membership set, so that [`crate::Engine::decide`] can trust what it walks.
//!
//! Format 2 added consent signals and actions without touching format 1's record: they travel in a
//! second postcard record, [`PayloadExt`], right after the first. A format-1 snapshot decodes with
//! the same code and gets `PayloadExt::default()` — no signals configured, no actions — so it keeps
//! deciding exactly as it did (a committed format-1 file pins that). A third record, [`Limits`],
//! follows the extension in snapshots built since; one without it gets [`Limits::DEFAULT`].

use crate::actions::Actions;
use crate::consent::{ConsentConfig, PurposeSignals};
use crate::error::{Error, ErrorKind};
use crate::fingerprint::FingerprintKey;
use crate::format;
use crate::membership::{Encoding, MembershipData, MembershipSet, SetBytes};
use crate::rule::{MAX_DEPTH, MAX_NODES, Rule};
use crate::shard::{MAX_SHARD_BITS, Sharding};
use crate::throttle::ClientIpConfig;
use crate::trace::TraceConfig;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

mod identity_source;
mod read_names;
pub use identity_source::{IdentitySource, JwtAlg, JwtVerify, Verify};
pub use read_names::ReadNames;

/// Most purposes a snapshot may declare (the consent mask is a u64).
pub const MAX_PURPOSES: usize = 64;
/// Most tiers a snapshot may declare. The builder enforces a lower, configurable cap (default 5).
pub const MAX_TIERS: usize = 16;
/// Most segments a snapshot may declare.
pub const MAX_SEGMENTS: usize = 4096;
/// Throttle keys an engine keeps when the snapshot does not say.
pub const DEFAULT_THROTTLE_KEYS: u32 = 65_536;
/// Most throttle keys a snapshot may ask for (about 24 bytes each: 24 MiB at this cap).
pub const MAX_THROTTLE_KEYS: u32 = 1 << 20;
/// Longest header value the edge reads when the snapshot does not say (the TCF decoder's cap).
pub const DEFAULT_HEADER_BYTES: u32 = 8192;
/// Longest header value a snapshot may let the edge read.
pub const MAX_HEADER_BYTES: u32 = 65_536;
/// Largest revocation delta, in bytes, a snapshot may accept (2^20 entries of at most 20 bytes,
/// and room for the header): also the default.
pub const MAX_DELTA_BYTES: u32 = 24 << 20;

/// A purpose a segment may serve. `B` as in [`MembershipData`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "B: serde_bytes::Serialize", deserialize = "B: serde_bytes::Deserialize<'de>"))]
pub struct Purpose<B = Vec<u8>> {
    pub name: String,
    /// `false` for `contract`: paid tiers that carry an SLA need no consent.
    pub requires_consent: bool,
    /// Fingerprints of members who consented to this purpose (always `exact`: consent has no false
    /// positives). `None` when `requires_consent` is false.
    pub consented: Option<MembershipData<B>>,
}

/// A tier. Tiers are listed highest precedence first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub name: String,
}

/// A segment definition as compiled by the builder. `B` as in [`MembershipData`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "B: serde_bytes::Serialize", deserialize = "B: serde_bytes::Deserialize<'de>"))]
pub struct Segment<B = Vec<u8>> {
    pub name: String,
    /// Index into `tiers`: matching this segment puts the request in (at least) that tier.
    pub tier: Option<u16>,
    /// Index into `purposes`.
    pub purpose: u16,
    /// Higher first. The builder stores segments sorted by precedence, then name.
    pub precedence: i32,
    /// A request rule; `None` matches every request.
    pub rule: Option<Rule>,
    /// Members; `None` means the segment is defined by its rule alone.
    pub membership: Option<MembershipData<B>>,
    /// Members counted by the builder after consent filtering (for reports; bloom sets cannot say).
    pub members: u64,
}

/// The postcard payload of a snapshot. `B` holds membership bytes: `Vec<u8>` in the builder,
/// `&[u8]` into the snapshot buffer when the edge decodes ([`Snapshot::decode_owned`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "B: serde_bytes::Serialize", deserialize = "B: serde_bytes::Deserialize<'de>"))]
pub struct SnapshotPayload<B = Vec<u8>> {
    pub id: String,
    /// Monotonic per snapshot lineage.
    pub version: u64,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub fingerprint_key: FingerprintKey,
    /// Tried in order; the first non-empty value is the customer id.
    pub identity: Vec<IdentitySource>,
    pub purposes: Vec<Purpose<B>>,
    pub tiers: Vec<Tier>,
    /// Index into `tiers` for requests that match no tier-carrying segment.
    pub default_tier: u16,
    pub segments: Vec<Segment<B>>,
    /// Format 2's extension record; encoded after the fields above, not inside them.
    #[serde(skip)]
    pub ext: PayloadExt,
}

/// Format 2's extension record. Its vectors run parallel to the payload's purposes, tiers and
/// segments; an empty vector means "all default", which is what a format-1 snapshot gets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadExt {
    pub consent: ConsentConfig,
    pub purposes: Vec<PurposeSignals>,
    pub tiers: Vec<Actions>,
    pub segments: Vec<Actions>,
    /// Most throttle keys an engine keeps; `0` means [`DEFAULT_THROTTLE_KEYS`].
    pub throttle_keys: u32,
    /// Service-level objectives per tier (parallel to `tiers`); the edge ignores them, reports use
    /// them.
    pub tier_slos: Vec<Option<Slo>>,
    /// The configured limits: a record of its own after this one (appended later; a snapshot
    /// without it gets the defaults), so it is not inside this record's encoding.
    #[serde(skip)]
    pub limits: Limits,
    /// `Some` for the head of a sharded snapshot: a record of its own after the limits, written
    /// only in format 3 ([`format::HEAD_FORMAT_VERSION`]). The head's member sets are then empty
    /// placeholders and the members live in the shards ([`crate::shard`]).
    #[serde(skip)]
    pub sharding: Option<Sharding>,
    /// Where the client address comes from and how IPv6 is keyed: the last record, written only
    /// when not the default (older snapshots, and most, have none).
    #[serde(skip)]
    pub client_ip: ClientIpConfig,
    /// Whether decisions start traces ([`crate::trace`]): a record after the client-address one,
    /// written only when not the default (the client-address record is then written too).
    #[serde(skip)]
    pub tracing: TraceConfig,
}

/// Configured maxima the builder enforced and the edge holds the snapshot and its traffic to.
/// `0` means the default; a value over its hard cap ([`Limits::HARD`]) counts as the cap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Most segments.
    pub segments: u32,
    /// Most nodes in one rule.
    pub rule_nodes: u32,
    /// Deepest rule (the builder and the edge both check it; the edge never allows more than
    /// [`MAX_DEPTH`]).
    pub rule_depth: u32,
    /// Longest header value identity and rules read: a longer one is treated as absent (and
    /// counted in `EngineStats::headers_skipped`). Consent signals still read it and fail closed.
    pub header_bytes: u32,
    /// Largest revocation delta accepted, in bytes.
    pub delta_bytes: u32,
}

/// Names of [`Limits`]' fields, in order (for errors).
pub const LIMIT_NAMES: [&str; 5] = ["segments", "rule_nodes", "rule_depth", "header_bytes", "delta_bytes"];

impl Limits {
    /// The hard caps: what this build can hold whatever a snapshot declares.
    pub const HARD: Limits = Limits {
        segments: MAX_SEGMENTS as u32,
        rule_nodes: MAX_NODES as u32,
        rule_depth: MAX_DEPTH as u32,
        header_bytes: MAX_HEADER_BYTES,
        delta_bytes: MAX_DELTA_BYTES,
    };
    /// What `0` stands for.
    pub const DEFAULT: Limits = Limits { header_bytes: DEFAULT_HEADER_BYTES, ..Limits::HARD };

    /// The fields in [`LIMIT_NAMES`] order.
    pub const fn values(&self) -> [u32; 5] {
        [self.segments, self.rule_nodes, self.rule_depth, self.header_bytes, self.delta_bytes]
    }

    /// Each `0` replaced by its default, each value held to its hard cap (the builder refuses
    /// values over it; the edge never trusts more than it can hold).
    pub fn resolve(&self) -> Limits {
        let (d, h) = (Limits::DEFAULT, Limits::HARD);
        let pick = |v: u32, default: u32, cap: u32| if v == 0 { default } else { v.min(cap) };
        Limits {
            segments: pick(self.segments, d.segments, h.segments),
            rule_nodes: pick(self.rule_nodes, d.rule_nodes, h.rule_nodes),
            rule_depth: pick(self.rule_depth, d.rule_depth, h.rule_depth),
            header_bytes: pick(self.header_bytes, d.header_bytes, h.header_bytes),
            delta_bytes: pick(self.delta_bytes, d.delta_bytes, h.delta_bytes),
        }
    }
}

/// A tier's service-level objective: availability (successful requests, i.e. status below 500)
/// and optionally the 99th-percentile latency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slo {
    /// Target success ratio in parts per million (99.95% = 999_500), 1..=1_000_000.
    pub availability_ppm: u32,
    pub latency_p99_ms: Option<u32>,
}

impl Slo {
    /// The target success ratio, `0 < x <= 1`.
    pub fn availability(&self) -> f64 {
        f64::from(self.availability_ppm) / 1_000_000.0
    }
}

impl SnapshotPayload {
    /// Encodes the payload and its extension and wraps them in the header.
    ///
    /// Written once, into a buffer sized for the membership sets (plus room for the rest), with
    /// the header filled in last: a 10⁸-member snapshot is not held twice or three times over.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let encode_err = |e: postcard::Error| Error::new(ErrorKind::Payload, format!("encode: {e}"));
        let sets: usize =
            self.purposes.iter().filter_map(|p| p.consented.as_ref()).map(|d| d.byte_len()).sum::<usize>()
                + self.segments.iter().filter_map(|s| s.membership.as_ref()).map(|d| d.byte_len()).sum::<usize>();
        let mut out = Vec::with_capacity(format::HEADER_LEN + sets + (1 << 16));
        out.resize(format::HEADER_LEN, 0);
        let out = postcard::to_extend(self, out).map_err(encode_err)?;
        let out = postcard::to_extend(&self.ext, out).map_err(encode_err)?;
        let out = postcard::to_extend(&self.ext.limits, out).map_err(encode_err)?;
        let out = match &self.ext.sharding {
            None => out,
            Some(sharding) => postcard::to_extend(sharding, out).map_err(encode_err)?,
        };
        let tracing = self.ext.tracing != TraceConfig::default();
        let out = if self.ext.client_ip == ClientIpConfig::default() && !tracing {
            out
        } else {
            postcard::to_extend(&self.ext.client_ip, out).map_err(encode_err)?
        };
        let mut out = out;
        if tracing {
            // One byte, as postcard writes a `bool`.
            out.push(u8::from(self.ext.tracing.start));
        }
        match &self.ext.sharding {
            None => format::wrap_reserved(out),
            Some(_) => format::wrap_reserved_as(out, &format::MAGIC, format::HEAD_FORMAT_VERSION),
        }
    }
}

/// Element `i` of an extension vector, or the default when the vector is empty. A vector of any
/// other length than `len` is refused before this is called.
fn ext_at<T: Clone + Default>(v: &[T], i: usize) -> T {
    v.get(i).cloned().unwrap_or_default()
}

fn check_ext_len(what: &str, got: usize, want: usize) -> Result<(), Error> {
    if got == 0 || got == want {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::Invalid, format!("extension has {got} {what} entries for {want} {what}")))
    }
}

fn check_actions(owner: &str, a: &Actions) -> Result<(), Error> {
    let invalid = |why: &str| Err(Error::new(ErrorKind::Invalid, format!("{owner}: {why}")));
    if let Some(t) = &a.throttle
        && let Err(why) = t.validate()
    {
        return invalid(why);
    }
    if let Some(c) = &a.cache
        && let Err(why) = c.validate()
    {
        return invalid(why);
    }
    if let Some(r) = &a.route
        && let Err(why) = r.validate()
    {
        return invalid(why);
    }
    Ok(())
}

/// A validated segment.
#[derive(Debug)]
pub struct SegmentView {
    pub name: String,
    pub tier: Option<u16>,
    pub purpose: u16,
    pub precedence: i32,
    pub rule: Option<Rule>,
    pub membership: Option<MembershipSet>,
    pub members: u64,
    /// Encoded size of the membership set in the snapshot.
    pub membership_bytes: usize,
    pub actions: Actions,
}

/// A validated tier.
#[derive(Debug)]
pub struct TierView {
    pub name: String,
    pub actions: Actions,
    pub slo: Option<Slo>,
}

/// A validated purpose.
#[derive(Debug)]
pub struct PurposeView {
    pub name: String,
    pub requires_consent: bool,
    pub consented: Option<MembershipSet>,
    pub consented_bytes: usize,
    pub signals: PurposeSignals,
}

/// A decoded, validated snapshot.
#[derive(Debug)]
pub struct Snapshot {
    pub id: String,
    pub version: u64,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    pub(crate) fingerprint_key: FingerprintKey,
    pub identity: Vec<IdentitySource>,
    pub purposes: Vec<PurposeView>,
    pub tiers: Vec<TierView>,
    pub default_tier: u16,
    pub segments: Vec<SegmentView>,
    pub consent: ConsentConfig,
    /// Most throttle keys an engine over this snapshot keeps.
    pub throttle_keys: u32,
    /// The snapshot's limits, defaults filled in.
    pub limits: Limits,
    /// The container format version the snapshot was written in.
    pub format_version: u16,
    /// `Some` for the head of a sharded snapshot (its members are in shards: [`crate::shard`]).
    pub sharding: Option<Sharding>,
    /// Where a per-IP throttle's client address comes from, and how IPv6 is keyed.
    pub client_ip: ClientIpConfig,
    /// Whether decisions start traces when the request carries none.
    pub tracing: TraceConfig,
    /// Total size of the snapshot bytes, header included.
    pub byte_len: usize,
    /// The snapshot bytes, shared with the membership sets that are ranges of them.
    bytes: SetBytes,
}

/// Names end up in headers and baggage: keep them to a safe, low-cardinality alphabet.
fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
    if ok {
        Ok(())
    } else {
        // The name is untrusted: say where it goes wrong instead of echoing it (no escaping code
        // in the module, no control characters in logs).
        let bad = name.bytes().position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b)));
        let why = match bad {
            Some(i) => format!("byte {i} is {:#04x}", name.as_bytes().get(i).copied().unwrap_or(0)),
            None => format!("{} bytes long", name.len()),
        };
        Err(Error::new(ErrorKind::Invalid, format!("a {what} name is not [a-z0-9_.-]{{1,64}}: {why}")))
    }
}

impl Snapshot {
    /// Checks the header, decodes and validates the payload. Copies `bytes` once (the snapshot
    /// keeps them); [`Snapshot::decode_owned`] takes a buffer the caller no longer needs instead.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, Error> {
        Snapshot::decode_owned(bytes.to_vec())
    }

    /// [`Snapshot::decode`] without a copy: the snapshot keeps `bytes`, and its membership sets
    /// (except bloom filters) are validated ranges of them that probes read in place.
    pub fn decode_owned(bytes: Vec<u8>) -> Result<Snapshot, Error> {
        let buf = Arc::new(bytes);
        let (header, payload) = format::split(&buf)?;
        let payload_err = |e: postcard::Error| Error::new(ErrorKind::Payload, format!("{e}"));
        let (mut p, rest) = postcard::take_from_bytes::<SnapshotPayload<&[u8]>>(payload).map_err(payload_err)?;
        let mut rest = rest;
        if header.version >= 2 {
            let (ext, r) = postcard::take_from_bytes::<PayloadExt>(rest).map_err(payload_err)?;
            p.ext = ext;
            rest = r;
            // The limits record, appended after format 2 first shipped: absent in older files.
            // Read as its five varints in a loop: the same bytes as the derived struct, less code.
            if !rest.is_empty() {
                let mut v = [0u32; 5];
                for x in &mut v {
                    let (n, r) = postcard::take_from_bytes::<u32>(rest).map_err(payload_err)?;
                    *x = n;
                    rest = r;
                }
                let [segments, rule_nodes, rule_depth, header_bytes, delta_bytes] = v;
                p.ext.limits = Limits { segments, rule_nodes, rule_depth, header_bytes, delta_bytes };
            }
        }
        if header.version >= format::HEAD_FORMAT_VERSION {
            let (sharding, r) = postcard::take_from_bytes::<Sharding>(rest).map_err(payload_err)?;
            p.ext.sharding = Some(sharding);
            rest = r;
        }
        if header.version >= 2 && !rest.is_empty() {
            let (client_ip, r) = postcard::take_from_bytes::<ClientIpConfig>(rest).map_err(payload_err)?;
            p.ext.client_ip = client_ip;
            rest = r;
        }
        if let (true, Some((&start, r))) = (header.version >= 2, rest.split_first()) {
            if start > 1 {
                return Err(Error::new(ErrorKind::Payload, String::from("the tracing record is not a boolean")));
            }
            p.ext.tracing = TraceConfig { start: start == 1 };
            rest = r;
        }
        if !rest.is_empty() {
            return Err(Error::new(ErrorKind::Payload, format!("{} bytes after the payload records", rest.len())));
        }
        Snapshot::validate(p, header.version, &buf)
    }

    fn validate(p: SnapshotPayload<&[u8]>, format_version: u16, buf: &Arc<Vec<u8>>) -> Result<Snapshot, Error> {
        let byte_len = buf.len();
        let invalid = |why: String| Err(Error::new(ErrorKind::Invalid, why));
        let ext = p.ext;
        let limits = ext.limits.resolve();
        if let Some(sh) = &ext.sharding {
            if sh.bits > MAX_SHARD_BITS || sh.shards.len() != sh.count() as usize {
                return invalid("sharding: too many bits, or not one entry per shard".into());
            }
            // A head's sets are empty placeholders: its members are in the shards.
            let placeholder = |d: &Option<crate::membership::MembershipData<&[u8]>>| {
                d.as_ref().is_none_or(|d| d.encoding() == Encoding::Exact && d.byte_len() == 0)
            };
            if !p.purposes.iter().all(|x| placeholder(&x.consented))
                || !p.segments.iter().all(|x| placeholder(&x.membership))
            {
                return invalid("a sharded head carries member sets".into());
            }
        }
        let too_large = |why: String| Err(Error::new(ErrorKind::TooLarge, why));
        check_ext_len("purpose", ext.purposes.len(), p.purposes.len())?;
        check_ext_len("tier", ext.tiers.len(), p.tiers.len())?;
        check_ext_len("segment", ext.segments.len(), p.segments.len())?;
        check_ext_len("tier SLO", ext.tier_slos.len(), p.tiers.len())?;
        if ext.tier_slos.iter().flatten().any(|s| s.availability_ppm == 0 || s.availability_ppm > 1_000_000) {
            return invalid("a tier SLO's availability is not in (0, 100%]".into());
        }
        if ext.throttle_keys > MAX_THROTTLE_KEYS {
            return invalid(format!("{} throttle keys, limit {MAX_THROTTLE_KEYS}", ext.throttle_keys));
        }
        for name in [&ext.consent.tcf_cookie, &ext.consent.tcf_header, &ext.consent.cookie].into_iter().flatten() {
            if name.is_empty() || name.len() > 256 {
                return invalid("consent signal name empty or over 256 bytes".into());
            }
        }
        if p.purposes.is_empty() || p.purposes.len() > MAX_PURPOSES {
            return invalid(format!("{} purposes, expected 1..={MAX_PURPOSES}", p.purposes.len()));
        }
        if p.tiers.is_empty() || p.tiers.len() > MAX_TIERS {
            return invalid(format!("{} tiers, expected 1..={MAX_TIERS}", p.tiers.len()));
        }
        if usize::from(p.default_tier) >= p.tiers.len() {
            return invalid(format!("default tier {} of {} tiers", p.default_tier, p.tiers.len()));
        }
        if p.segments.len() > limits.segments as usize {
            return too_large(format!("{} segments, limit {}", p.segments.len(), limits.segments));
        }
        let mut tiers = Vec::with_capacity(p.tiers.len());
        for (i, t) in p.tiers.into_iter().enumerate() {
            check_name("tier", &t.name)?;
            let actions = ext_at(&ext.tiers, i);
            check_actions(&format!("tier {}", t.name), &actions)?;
            tiers.push(TierView { name: t.name, actions, slo: ext.tier_slos.get(i).copied().flatten() });
        }
        let mut purposes = Vec::with_capacity(p.purposes.len());
        for (i, pu) in p.purposes.into_iter().enumerate() {
            check_name("purpose", &pu.name)?;
            let consented_bytes = pu.consented.as_ref().map_or(0, |d| d.byte_len());
            let consented = match (pu.requires_consent, pu.consented) {
                (true, Some(data)) if data.encoding() == Encoding::Exact => {
                    Some(MembershipSet::load_within(data, buf, &format!("purpose {}", pu.name))?)
                }
                (true, Some(_)) => return invalid(format!("purpose {}: consent set must be exact", pu.name)),
                (true, None) => return invalid(format!("purpose {}: needs consent but has no consent set", pu.name)),
                (false, Some(_)) => return invalid(format!("purpose {}: consent set on a contract purpose", pu.name)),
                (false, None) => None,
            };
            purposes.push(PurposeView {
                name: pu.name,
                requires_consent: pu.requires_consent,
                consented,
                consented_bytes,
                signals: ext_at(&ext.purposes, i),
            });
        }
        let seg_count = p.segments.len();
        let mut segments = Vec::with_capacity(seg_count);
        let mut prev: Option<(i32, String)> = None;
        for (i, s) in p.segments.into_iter().enumerate() {
            check_name("segment", &s.name)?;
            if let Some(t) = s.tier
                && usize::from(t) >= tiers.len()
            {
                return invalid(format!("segment {}: tier {t} of {}", s.name, tiers.len()));
            }
            if usize::from(s.purpose) >= purposes.len() {
                return invalid(format!("segment {}: purpose {} of {}", s.name, s.purpose, purposes.len()));
            }
            // Stored order is the evaluation and reporting order: precedence descending, then
            // name ascending, names unique. Checked so that decisions are deterministic.
            if let Some((pp, pn)) = &prev
                && (*pp < s.precedence || (*pp == s.precedence && *pn >= s.name))
            {
                return invalid(format!("segment {} out of order or duplicated", s.name));
            }
            prev = Some((s.precedence, s.name.clone()));
            if let Some(rule) = &s.rule {
                rule.validate_within(seg_count, limits.rule_depth as usize)
                    .map_err(|e| Error::new(e.kind(), format!("segment {}: {}", s.name, e.detail())))?;
                if rule.nodes.len() > limits.rule_nodes as usize {
                    return too_large(format!(
                        "segment {}: rule has {} nodes, limit rule_nodes {}",
                        s.name,
                        rule.nodes.len(),
                        limits.rule_nodes
                    ));
                }
            }
            let actions = ext_at(&ext.segments, i);
            check_actions(&format!("segment {}", s.name), &actions)?;
            let membership_bytes = s.membership.as_ref().map_or(0, |d| d.byte_len());
            let membership = match s.membership {
                Some(data) => Some(MembershipSet::load_within(data, buf, &format!("segment {}", s.name))?),
                None => None,
            };
            segments.push(SegmentView {
                name: s.name,
                tier: s.tier,
                purpose: s.purpose,
                precedence: s.precedence,
                rule: s.rule,
                membership,
                members: s.members,
                membership_bytes,
                actions,
            });
        }
        let bits = ext.client_ip.ipv6_prefix_bits;
        let header_ok = ext.client_ip.trusted_header.as_deref().is_none_or(|h| {
            !h.is_empty() && h.len() <= 256 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !(bits == 0 || (16..=128).contains(&bits)) || !header_ok {
            return invalid("client_ip: IPv6 prefix outside 16..=128, or a malformed header name".into());
        }
        for id in &p.identity {
            let n = id.name();
            if n.is_empty() || n.len() > 256 {
                return invalid("identity source name empty or over 256 bytes".into());
            }
            match id.verify() {
                None => {}
                Some(Verify::Jwt(j)) => {
                    let key_ok =
                        j.key.len() == j.alg.key_len() && (j.alg != JwtAlg::ES256 || j.key.first() == Some(&4));
                    if !key_ok || j.claim.is_empty() || j.claim.len() > 256 {
                        return invalid(format!("identity source {n}: {} key or claim malformed", j.alg.name()));
                    }
                }
                Some(Verify::Hmac { secret_env }) => {
                    let ok = !secret_env.is_empty()
                        && secret_env.len() <= 128
                        && secret_env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    if !ok {
                        return invalid(format!("identity source {n}: secret variable name malformed"));
                    }
                }
            }
        }
        Ok(Snapshot {
            id: p.id,
            version: p.version,
            created_ms: p.created_ms,
            expires_ms: p.expires_ms,
            fingerprint_key: p.fingerprint_key,
            identity: p.identity,
            purposes,
            tiers,
            default_tier: p.default_tier,
            segments,
            consent: ext.consent,
            throttle_keys: if ext.throttle_keys == 0 { DEFAULT_THROTTLE_KEYS } else { ext.throttle_keys },
            limits,
            format_version,
            sharding: ext.sharding,
            client_ip: ext.client_ip,
            tracing: ext.tracing,
            byte_len,
            bytes: SetBytes::whole(buf),
        })
    }

    /// The bytes this snapshot was decoded from.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get()
    }

    /// The bytes this snapshot was decoded from, given back (copied only if a membership set
    /// loaded from them is still alive elsewhere, which none is once the snapshot is gone).
    pub fn into_bytes(self) -> Vec<u8> {
        let Snapshot { bytes, purposes, segments, .. } = self;
        drop((purposes, segments));
        Arc::try_unwrap(bytes.into_shared()).unwrap_or_else(|shared| shared.as_ref().clone())
    }

    /// Names this snapshot's fingerprint key without revealing it (a keyed hash of a constant):
    /// what binds a revocation delta to the builds whose fingerprints it speaks of.
    pub fn key_id(&self) -> u64 {
        self.fingerprint_key.key_id()
    }

    /// The fingerprint of a customer id under this snapshot's key.
    pub fn fingerprint(&self, id: &str) -> u64 {
        self.fingerprint_key.fingerprint(id)
    }
}
