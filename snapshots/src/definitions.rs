//! Segment definitions: the hand-written JSON file that says which tiers, purposes and segments a
//! snapshot has (format and a full example in `snapshots/README.md`).
//!
//! Loading happens in two steps, each with its own kind of location:
//!
//! 1. **Schema** — serde with `deny_unknown_fields` everywhere, so a misspelt key is an error
//!    rather than a silently ignored setting. serde_json reports these at `file:line:column`.
//! 2. **Meaning** — [`Definitions::validate`]: names, uniqueness, references between sections,
//!    encodings, limits. These report a field path (`segments[2].tier`), which points at the
//!    right place as well as a line would and survives reformatting.
//!
//! Rules inside segments stay `serde_json::Value` here; [`crate::compile`] turns them into IR once
//! the final segment order (which `in_segment` indices refer to) is known.

use crate::error::{BuildError, BuildErrorKind};
use crate::policy::{ActionsDef, CacheDef, ConsentDef, LimitsDef, RouteDef, SloDef, ThrottleDef};
use edgeseg::snapshot::{MAX_PURPOSES, MAX_SEGMENTS, MAX_THROTTLE_KEYS, MAX_TIERS};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

mod member_ids;
pub use member_ids::{CaseCollisions, IdUnicode, MemberIdsDef};

/// The purpose that needs no consent: contractual service (a paid tier's SLA).
pub const CONTRACT: &str = "contract";
/// Default cap on the number of tiers (DESIGN.md recommends 3–5; more dilutes what a tier means).
pub const DEFAULT_MAX_TIERS: usize = 5;
/// Default target false-positive rate of a bloom-encoded segment.
pub const DEFAULT_FP_RATE: f64 = 0.01;

/// A definitions file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definitions {
    /// Snapshot lineage id, e.g. `"demo"`.
    pub id: String,
    /// Snapshot version; when absent the builder uses its creation time in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Lifetime of a snapshot: `expires_ms = created_ms + 1000 * expires_in_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_s: Option<u64>,
    /// Where the edge finds the customer id, tried in order. May be omitted when no segment has
    /// members (rule-only definitions).
    #[serde(default)]
    pub identity: Vec<IdentityDef>,
    /// Purpose names; `contract` needs no consent, every other purpose does.
    pub purposes: Vec<String>,
    /// Tier names, highest precedence first.
    pub tiers: Vec<String>,
    /// The tier of requests that match no tier segment; default: the last tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_tier: Option<String>,
    /// Cap on `tiers.len()`; default [`DEFAULT_MAX_TIERS`], at most the edge's own limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tiers: Option<usize>,
    /// Request-time consent signals (GPC, TCF, consent cookie); see [`crate::policy`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentDef>,
    /// Actions of each tier, applied when no matched segment supplies that kind of action.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tier_actions: BTreeMap<String, ActionsDef>,
    /// SLO per tier; tiers not listed get [`crate::policy::default_slo`], `null` turns it off.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tier_slos: BTreeMap<String, Option<SloDef>>,
    /// Most throttle keys an edge instance keeps (bounded memory); default 65536.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle_keys: Option<u32>,
    /// Configured maxima (segments, rule size and depth, header bytes read, throttle keys, delta
    /// bytes); see [`LimitsDef`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsDef>,
    /// Where per-IP throttles find the client address, and how IPv6 is keyed; see [`ClientIpDef`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<ClientIpDef>,
    /// W3C Trace Context at the edge; see [`TracingDef`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingDef>,
    pub segments: Vec<SegmentDef>,
    /// flagd-style reusable rule fragments, referenced from rules as `{"$ref": "name"}` and
    /// expanded at compile time (`compile::expand_refs`).
    #[serde(default, rename = "$evaluators", skip_serializing_if = "BTreeMap::is_empty")]
    pub evaluators: BTreeMap<String, serde_json::Value>,
    /// Which member ids the builder accepts and what it says about look-alikes; see
    /// [`MemberIdsDef`]. Builder-side only: nothing of it reaches the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_ids: Option<MemberIdsDef>,
}

/// One identity source: a `cookie` or a `header`, and either how its token is verified
/// (`verify`) or the explicit opt-out `"trust": "unverified"` (the value is the id, a bare claim:
/// only for origins that authenticate upstream and overwrite it). One of the two is required.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<TrustDef>,
}

impl IdentityDef {
    /// An unverified header source (`{"header": name, "trust": "unverified"}`).
    pub fn unverified_header(name: &str) -> IdentityDef {
        IdentityDef { header: Some(name.into()), trust: Some(TrustDef::Unverified), ..IdentityDef::default() }
    }

    /// An unverified cookie source.
    pub fn unverified_cookie(name: &str) -> IdentityDef {
        IdentityDef { cookie: Some(name.into()), trust: Some(TrustDef::Unverified), ..IdentityDef::default() }
    }
}

/// The only trust a source may declare instead of `verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustDef {
    Unverified,
}

/// How an identity token is verified by the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum VerifyDef {
    /// `{"jwt": {"alg": "EdDSA", "key": {JWK}, "claim": "sub", "issuer": …, "audience": …, "leeway_s": 60}}`
    Jwt(JwtDef),
    /// `{"hmac": {"secret_env": "EDGESEG_ID_SECRET"}}`: the secret never enters the snapshot.
    Hmac(HmacDef),
}

/// A JWT verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtDef {
    /// `EdDSA` (Ed25519) or `ES256` (P-256).
    pub alg: String,
    /// The public key as a JWK (RFC 7517/8037): `{"kty": "OKP", "crv": "Ed25519", "x": …}` or
    /// `{"kty": "EC", "crv": "P-256", "x": …, "y": …}`. Other JWK members (`kid`, `use`) are ignored.
    pub key: JwkDef,
    /// The claim holding the id: `sub` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Clock skew allowed on `exp`/`nbf`, seconds: 60 when absent, at most 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leeway_s: Option<u32>,
}

/// A public JWK, the members edgeseg reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkDef {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// A private key's `d` is refused: it must never reach a snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
}

/// An HMAC-signed cookie or header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacDef {
    /// The host environment variable holding the secret (`[A-Za-z0-9_]`).
    pub secret_env: String,
}

/// `"client_ip": {"ipv6_prefix_bits": 56, "trusted_header": "x-forwarded-for"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientIpDef {
    /// Bits of an IPv6 address that key one throttle bucket: 16 to 128, default 64 (a
    /// subscriber's /64; ISPs that hand out a /56 or /48 want those).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_prefix_bits: Option<u8>,
    /// A header a trusted proxy in front of the host sets, read only when the host supplies no
    /// client address: its last copy's last comma-separated entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_header: Option<String>,
}

impl ClientIpDef {
    /// Checked, as the snapshot's record.
    pub fn compile(&self) -> Result<edgeseg::throttle::ClientIpConfig, BuildError> {
        let bits = self.ipv6_prefix_bits.unwrap_or(0);
        if self.ipv6_prefix_bits.is_some() && !(16..=128).contains(&bits) {
            return Err(def_error("client_ip.ipv6_prefix_bits".into(), format!("{bits} is outside 16 to 128")));
        }
        if let Some(h) = &self.trusted_header {
            let ok = !h.is_empty()
                && h.len() <= 256
                && h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
            if !ok {
                return Err(def_error("client_ip.trusted_header".into(), "must be a lower-case header name".into()));
            }
        }
        Ok(edgeseg::throttle::ClientIpConfig { ipv6_prefix_bits: bits, trusted_header: self.trusted_header.clone() })
    }
}

/// `"tracing": {"start": true}`: a decision always continues a request's valid `traceparent`;
/// with `start`, one without gets a new sampled trace, so every edge decision is in a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingDef {
    #[serde(default)]
    pub start: bool,
}

impl TracingDef {
    /// As the snapshot's record.
    pub fn compile(&self) -> edgeseg::trace::TraceConfig {
        edgeseg::trace::TraceConfig { start: self.start }
    }
}

/// Default clock skew allowed on a JWT's `exp`/`nbf`.
pub const DEFAULT_JWT_LEEWAY_S: u32 = 60;
/// Most clock skew a definition may allow.
pub const MAX_JWT_LEEWAY_S: u32 = 600;

/// One segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    pub name: String,
    /// Matching this segment grants (at least) this tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    pub purpose: String,
    /// Higher wins; ties are broken by name.
    #[serde(default)]
    pub precedence: i32,
    /// A request rule (JSON Logic), evaluated at the edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<serde_json::Value>,
    /// Which members belong, materialised by the builder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<MembersDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<ThrottleDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteDef>,
}

impl SegmentDef {
    /// The segment's actions as one section.
    pub fn actions(&self) -> ActionsDef {
        ActionsDef { throttle: self.throttle.clone(), cache: self.cache.clone(), route: self.route.clone() }
    }
}

/// How a segment's members are selected and encoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersDef {
    /// A profile rule over member attributes (JSON Logic).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<serde_json::Value>,
    /// `true`: every member (who consented to the segment's purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    /// `true`: membership was computed upstream (a Spark job, a warehouse query): a member is in
    /// the segment when its `segments` list names it. Consent filtering still applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precomputed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<EncodingDef>,
    /// Target false-positive rate for `bloom` (default [`DEFAULT_FP_RATE`]) or `fuse` (picks 8-bit
    /// fingerprints, 2⁻⁸, when the rate allows, else 16-bit, 2⁻¹⁶).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp_rate: Option<f64>,
    /// Fingerprint bits of a `fuse` filter, 8 or 16 (false-positive rate 2⁻ᵇⁱᵗˢ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp_bits: Option<u8>,
}

/// Membership encodings the builder can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingDef {
    Exact,
    Bloom,
    /// A binary fuse filter: immutable, 9 or 18 bits a member at 2⁻⁸ or 2⁻¹⁶ false positives.
    Fuse,
    /// The builder decides (the default): `exact` for segments that grant a privilege (a tier or a
    /// throttle quota) and for audiences under [`AUTO_FUSE_MIN_MEMBERS`]; `fuse` (16-bit unless
    /// `fp_rate`/`fp_bits` say otherwise) for larger audiences.
    Auto,
}

/// Members from which an `auto` segment without a privilege becomes a `fuse` filter.
pub const AUTO_FUSE_MIN_MEMBERS: usize = 100_000;

impl Definitions {
    /// Parses and validates definitions from JSON text. Errors carry line and column (schema) or
    /// a field path (meaning), but no file: see [`Definitions::load`].
    /// A leading UTF-8 byte-order mark is skipped.
    pub fn from_json(text: &str) -> Result<Definitions, BuildError> {
        let defs: Definitions = serde_json::from_str(crate::text::strip_bom(text)).map_err(|e| {
            let mut err = BuildError::new(BuildErrorKind::Definitions, json_message(&e));
            if e.line() > 0 {
                err = err.with_line(e.line() as u64).with_column(e.column() as u64);
            }
            err
        })?;
        defs.validate()?;
        Ok(defs)
    }

    /// Reads, parses and validates a definitions file; errors name the file.
    pub fn load(path: &Path) -> Result<Definitions, BuildError> {
        let text = std::fs::read_to_string(path).map_err(|e| BuildError::io(path, &e))?;
        Definitions::from_json(&text).map_err(|e| e.in_file(path))
    }

    /// The tier used when a request matches no tier segment.
    pub fn default_tier_index(&self) -> usize {
        match &self.default_tier {
            Some(name) => self.tiers.iter().position(|t| t == name).unwrap_or(0),
            None => self.tiers.len().saturating_sub(1),
        }
    }

    /// Checks everything serde cannot: names, uniqueness, references, encodings, limits. The
    /// builder calls it again, so hand-constructed definitions get the same checks.
    pub fn validate(&self) -> Result<(), BuildError> {
        let defs = |field: String, msg: String| Err(def_error(field, msg));
        let limit =
            |field: &str, msg: String| Err(BuildError::new(BuildErrorKind::Limit, msg).with_field(field.to_string()));

        if self.id.is_empty() || self.id.len() > 256 {
            return defs("id".into(), "must be 1 to 256 bytes".into());
        }
        if let Some(c) = self.id.chars().find(|&c| crate::text::is_hidden(c)) {
            return defs(
                "id".into(),
                format!(
                    "contains the control or invisible character U+{:04X}; ids are printed and logged",
                    u32::from(c)
                ),
            );
        }
        if self.expires_in_s == Some(0) {
            return defs(
                "expires_in_s".into(),
                "0 would build a snapshot that has expired already (every host refuses it); drop the field for one \
                 that never expires"
                    .into(),
            );
        }
        for (i, src) in self.identity.iter().enumerate() {
            if let Err((field, why)) = crate::verify::compile(src) {
                let at = if field.is_empty() { format!("identity[{i}]") } else { format!("identity[{i}].{field}") };
                return defs(at, why);
            }
        }
        if let Some(c) = &self.client_ip {
            c.compile()?;
        }
        if self.identity.is_empty() && self.segments.iter().any(|s| s.members.is_some()) {
            return defs("identity".into(), "segments have members but no identity source is declared".into());
        }

        if self.purposes.is_empty() {
            return defs("purposes".into(), "at least one purpose is required".into());
        }
        if self.purposes.len() > MAX_PURPOSES {
            return limit("purposes", format!("{} purposes, the edge allows {MAX_PURPOSES}", self.purposes.len()));
        }
        unique_names("purposes", &self.purposes)?;

        let max_tiers = self.max_tiers.unwrap_or(DEFAULT_MAX_TIERS);
        if max_tiers > MAX_TIERS {
            return limit("max_tiers", format!("{max_tiers} is above the edge's hard cap of {MAX_TIERS}"));
        }
        if self.tiers.is_empty() {
            return defs("tiers".into(), "at least one tier is required".into());
        }
        if self.tiers.len() > max_tiers {
            return limit("tiers", format!("{} tiers, max_tiers is {max_tiers}", self.tiers.len()));
        }
        unique_names("tiers", &self.tiers)?;
        if let Some(d) = &self.default_tier
            && !self.tiers.contains(d)
        {
            return defs("default_tier".into(), format!("unknown tier {d:?}"));
        }

        for name in self.tier_actions.keys() {
            if !self.tiers.contains(name) {
                return defs(
                    format!("tier_actions.{name}"),
                    format!("unknown tier {name:?} (declared: {})", self.tiers.join(", ")),
                );
            }
        }
        for name in self.tier_slos.keys() {
            if !self.tiers.contains(name) {
                return defs(
                    format!("tier_slos.{name}"),
                    format!("unknown tier {name:?} (declared: {})", self.tiers.join(", ")),
                );
            }
        }
        if let Some(n) = self.throttle_keys
            && !(1..=MAX_THROTTLE_KEYS).contains(&n)
        {
            return limit("throttle_keys", format!("{n} is not in 1..={MAX_THROTTLE_KEYS}"));
        }

        if self.segments.len() > MAX_SEGMENTS {
            return limit("segments", format!("{} segments, the edge allows {MAX_SEGMENTS}", self.segments.len()));
        }
        let limits = self.limits.unwrap_or_default();
        if self.throttle_keys.is_some() && limits.throttle_keys.is_some() {
            return defs("limits.throttle_keys".into(), "set either `throttle_keys` or `limits.throttle_keys`".into());
        }
        let max_segments = limits.effective()?.segments as usize;
        if self.segments.len() > max_segments {
            return limit("segments", format!("{} segments, limits.segments is {max_segments}", self.segments.len()));
        }
        let mut seen = HashSet::new();
        for (i, s) in self.segments.iter().enumerate() {
            let at = format!("segments[{i}]");
            check_name(&format!("{at}.name"), &s.name)?;
            if !seen.insert(s.name.as_str()) {
                return defs(format!("{at}.name"), format!("duplicate segment name {:?}", s.name));
            }
            if let Some(t) = &s.tier
                && !self.tiers.contains(t)
            {
                return defs(format!("{at}.tier"), format!("unknown tier {t:?} (declared: {})", self.tiers.join(", ")));
            }
            if !self.purposes.contains(&s.purpose) {
                return defs(
                    format!("{at}.purpose"),
                    format!("unknown purpose {:?} (declared: {})", s.purpose, self.purposes.join(", ")),
                );
            }
            if s.rule.is_none() && s.members.is_none() {
                return defs(at, "a segment needs a `rule`, `members`, or both".into());
            }
            if let Some(m) = &s.members {
                m.validate(&format!("{at}.members"), s.tier.is_some())?;
            }
        }
        Ok(())
    }
}

impl MembersDef {
    /// The encoding asked for; `auto` when none was.
    pub fn encoding(&self) -> EncodingDef {
        self.encoding.unwrap_or(EncodingDef::Auto)
    }

    /// Fingerprint bits for a `fuse` filter: `fp_bits`, else the fewest that meet `fp_rate`, else
    /// 8 for an explicit `fuse` and 16 for one `auto` chose.
    pub fn fuse_bits(&self) -> u8 {
        match (self.fp_bits, self.fp_rate) {
            (Some(b), _) => b,
            (None, Some(r)) if r >= 1.0 / 256.0 => 8,
            (None, Some(_)) => 16,
            (None, None) if self.encoding() == EncodingDef::Fuse => 8,
            (None, None) => 16,
        }
    }

    fn validate(&self, at: &str, has_tier: bool) -> Result<(), BuildError> {
        if self.all == Some(false) {
            return Err(def_error(format!("{at}.all"), "`all` may only be true; drop `members` instead".into()));
        }
        if self.precomputed == Some(false) {
            return Err(def_error(
                format!("{at}.precomputed"),
                "`precomputed` may only be true; use `where` or `all` instead".into(),
            ));
        }
        match [self.where_.is_some(), self.all.is_some(), self.precomputed.is_some()].iter().filter(|&&x| x).count() {
            1 => {}
            0 => {
                return Err(def_error(
                    at.into(),
                    "needs `where` (a profile rule), `\"all\": true` or `\"precomputed\": true`".into(),
                ));
            }
            _ => {
                return Err(def_error(
                    at.into(),
                    "use one of `where`, `\"all\": true` and `\"precomputed\": true`, not several".into(),
                ));
            }
        }
        // Privilege-granting segments must have no false positives: a bloom hit would hand a
        // stranger a paid tier.
        let encoding = self.encoding();
        if has_tier && matches!(encoding, EncodingDef::Bloom | EncodingDef::Fuse) {
            let name = if encoding == EncodingDef::Bloom { "bloom" } else { "fuse" };
            return Err(def_error(
                format!("{at}.encoding"),
                format!("a segment with a tier grants a privilege and must be `exact`, not `{name}`"),
            ));
        }
        if let Some(rate) = self.fp_rate {
            if encoding == EncodingDef::Exact {
                return Err(def_error(format!("{at}.fp_rate"), "an `exact` set has no false positives".into()));
            }
            if !(rate > 0.0 && rate < 0.5) {
                return Err(def_error(format!("{at}.fp_rate"), format!("{rate} is not in (0, 0.5)")));
            }
            if encoding != EncodingDef::Bloom && rate < (-16f64).exp2() {
                return Err(def_error(
                    format!("{at}.fp_rate"),
                    format!("{rate} is below a 16-bit fuse filter's 2^-16; use `exact`"),
                ));
            }
        }
        if let Some(bits) = self.fp_bits {
            if !matches!(encoding, EncodingDef::Fuse | EncodingDef::Auto) {
                return Err(def_error(format!("{at}.fp_bits"), "only a `fuse` filter has fingerprint bits".into()));
            }
            if bits != 8 && bits != 16 {
                return Err(def_error(format!("{at}.fp_bits"), format!("{bits} is not 8 or 16")));
            }
            if self.fp_rate.is_some() {
                return Err(def_error(format!("{at}.fp_bits"), "give `fp_bits` or `fp_rate`, not both".into()));
            }
        }
        Ok(())
    }

    /// The target false-positive rate for `bloom`.
    pub fn fp_rate(&self) -> f64 {
        self.fp_rate.unwrap_or(DEFAULT_FP_RATE)
    }
}

pub(crate) fn def_error(field: String, message: String) -> BuildError {
    BuildError::new(BuildErrorKind::Definitions, message).with_field(field)
}

/// Names end up in response headers and W3C baggage; the edge re-checks the same alphabet.
pub(crate) fn check_name(field: &str, name: &str) -> Result<(), BuildError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
    if ok { Ok(()) } else { Err(def_error(field.into(), format!("name {name:?} is not [a-z0-9_.-]{{1,64}}"))) }
}

fn unique_names(section: &str, names: &[String]) -> Result<(), BuildError> {
    let mut seen = HashSet::new();
    for (i, n) in names.iter().enumerate() {
        check_name(&format!("{section}[{i}]"), n)?;
        if !seen.insert(n.as_str()) {
            return Err(def_error(format!("{section}[{i}]"), format!("duplicate name {n:?}")));
        }
    }
    Ok(())
}

/// serde_json appends " at line L column C" to its messages; the location is reported separately.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match full.rfind(" at line ") {
        Some(i) if e.line() > 0 => full[..i].to_string(),
        _ => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"id": "t", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract"],
        "tiers": ["gold", "basic"], "segments": [{"name": "g", "tier": "gold", "purpose": "contract",
        "members": {"all": true}}]}"#;

    #[test]
    fn minimal_parses_with_defaults() {
        let d = Definitions::from_json(MINIMAL).unwrap();
        assert_eq!(d.default_tier_index(), 1);
        assert_eq!(d.segments[0].precedence, 0);
        assert_eq!(d.segments[0].members.as_ref().unwrap().encoding(), EncodingDef::Auto);
    }

    #[test]
    fn identity_may_be_omitted_only_without_members() {
        let rule_only = r#"{"id": "t", "purposes": ["contract"], "tiers": ["all"], "segments":
            [{"name": "p", "purpose": "contract", "rule": {"==": [{"var": "path"}, "/"]}}]}"#;
        let d = Definitions::from_json(rule_only).unwrap();
        assert!(d.identity.is_empty());
        d.validate().unwrap();
        let with_members = MINIMAL.replace(r#""identity": [{"cookie": "uid", "trust": "unverified"}], "#, "");
        let e = Definitions::from_json(&with_members).and_then(|d| d.validate()).unwrap_err();
        assert_eq!(e.field(), Some("identity"), "{e}");
    }

    #[test]
    fn unknown_field_has_line_and_column() {
        let text = MINIMAL.replace("\"tiers\"", "\"teirs\"");
        let e = Definitions::from_json(&text).unwrap_err();
        assert_eq!(e.kind(), BuildErrorKind::Definitions);
        assert_eq!(e.line(), Some(2));
        assert!(e.column().is_some());
        assert!(e.message().contains("unknown field `teirs`"), "{e}");
        assert!(!e.message().contains(" at line "), "{e}");
    }
}
