//! What the engine decided for one request, and the headers that carry it downstream.

use crate::actions::{CacheMode, Source};
use crate::consent::Narrowing;
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// A header to add: to the request sent to the origin ([`Decision::headers`]) or to the response
/// sent to the client and the edge cache ([`Decision::response_headers`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header<'e> {
    pub name: &'e str,
    /// Borrowed where the value is already in the snapshot (tier, route, snapshot version) or
    /// constant; built only where it is new text. On the wire it is a plain string either way, and
    /// a host decoding a decision borrows it from the answer buffer.
    #[serde(borrow)]
    pub value: Cow<'e, str>,
}

/// The decision for one request. Borrows names from the engine's snapshot; crosses the raw ABI as
/// postcard and deserialises borrowing from the host's buffer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision<'e> {
    pub snapshot_version: u64,
    pub tier: &'e str,
    /// Index of `tier` in the snapshot's tiers (0 = highest precedence).
    pub tier_index: u16,
    /// Matched segments, highest precedence first. Only segments whose purpose is granted on this
    /// request can appear here.
    #[serde(borrow)]
    pub segments: Vec<&'e str>,
    /// Whether a customer id was found in the request.
    pub identified: bool,
    /// Bit `i` set: purpose `i` of the snapshot is granted on this request (`contract` always is).
    /// This is the mask segments were matched under, after every narrowing signal.
    pub consent: u64,
    /// Which purposes each request signal (GPC, TCF, consent cookie, revocation) took away from
    /// what the snapshot granted.
    pub narrowing: Narrowing,
    #[serde(borrow)]
    pub throttle: Option<ThrottleOutcome<'e>>,
    #[serde(borrow)]
    pub cache: Option<CacheOutcome<'e>>,
    #[serde(borrow)]
    pub route: Option<RouteOutcome<'e>>,
    /// Headers for the request to the origin: tier, segments, baggage, snapshot version, route,
    /// lane, cache key.
    #[serde(borrow)]
    pub headers: Vec<Header<'e>>,
    /// Headers for the response: `Cache-Control`, `Vary`, surrogate keys, RateLimit fields and,
    /// on a reject, `Retry-After`.
    #[serde(borrow)]
    pub response_headers: Vec<Header<'e>>,
    /// The snapshot is past its `expires_ms` and nothing has replaced it: it still serves
    /// (last-known-good) and the origin is told with `x-edgeseg-stale: 1`.
    pub stale: bool,
    /// Segments not matched because their rule ran out of its evaluation budget
    /// (`Engine::set_eval_budget`), in precedence order. Empty for any sane rule.
    #[serde(borrow)]
    pub budget_skipped: Vec<&'e str>,
    /// The snapshot is sharded and the identity's shard was not held: decided without membership
    /// and without recorded consent (default tier, nothing consent-gated), counted in
    /// [`crate::shard::ShardStats::misses`] and sent to the origin as `x-edgeseg-shard-missing: 1`.
    pub shard_missing: bool,
    /// Segments not matched because their rule failed (an `edgeseg::rule::EvalError`, such as
    /// arithmetic on a word), in precedence order; counted in `EngineStats::rule_errors`.
    #[serde(borrow)]
    pub rule_errors: Vec<&'e str>,
}

impl Decision<'_> {
    /// The request must be answered `429 Too Many Requests` with [`Decision::response_headers`]
    /// instead of going to the origin.
    pub fn rejected(&self) -> bool {
        self.throttle.as_ref().is_some_and(|t| t.result == ThrottleResult::Rejected)
    }
}

/// What a throttle did to this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleResult {
    Allowed,
    Rejected,
    /// Served, but moved to the throttle's lane.
    Deprioritized,
}

/// The throttle that applied to this request and its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleOutcome<'e> {
    #[serde(borrow)]
    pub source: Source<'e>,
    pub result: ThrottleResult,
    /// The lane a deprioritized request goes to.
    pub lane: Option<&'e str>,
    /// Requests allowed per window, and how many more would be allowed right now.
    pub limit: u32,
    pub remaining: u32,
    pub retry_after_s: Option<u64>,
    /// Opaque state key and its GCRA state after this request, for hosts that keep throttle state
    /// outside the instance (Fastly Compute starts a fresh one per request): store the pair and
    /// hand it back through `Engine::import_throttle_state` before the next decision.
    pub state_key: u64,
    pub state: u64,
}

/// The cache policy that applied to this request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheOutcome<'e> {
    #[serde(borrow)]
    pub source: Source<'e>,
    pub mode: CacheMode,
    /// The cache-key part the worker must fold into its cache key (also sent as
    /// `x-edgeseg-cache-key`).
    pub key: Option<String>,
}

/// The origin pool and lane for this request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteOutcome<'e> {
    #[serde(borrow)]
    pub source: Source<'e>,
    pub pool: &'e str,
    pub lane: &'e str,
}

/// W3C Baggage caps a header at 8192 bytes.
pub(crate) const MAX_BAGGAGE: usize = 8192;
/// Baggage members under this prefix are edgeseg's: a client's own are never passed on.
pub const BAGGAGE_PREFIX: &str = "edgeseg.";

/// W3C Baggage's limits: what every platform must pass on is at least 64 list members and 8192
/// bytes; past either, a hop may drop members, ours among them.
pub(crate) const MAX_BAGGAGE_MEMBERS: usize = 64;

/// The engine's baggage members: `edgeseg.tier`, `edgeseg.segments` (the consented segments,
/// comma-separated and percent-encoded as `%2C`: names are `[a-z0-9_.-]`, so nothing else needs
/// encoding) and `edgeseg.snapshot` (the snapshot version). The segments member is left out when
/// there are none, and when the three alone would pass the size limit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OurBaggage<'a> {
    pub tier: &'a str,
    pub segments: &'a [&'a str],
    pub snapshot: &'a str,
}

impl<'a> OurBaggage<'a> {
    const FIXED: usize = "edgeseg.tier=,edgeseg.segments=,edgeseg.snapshot=".len();

    /// The members for a decision, with the segments left out if they alone would pass the limit.
    pub(crate) fn new(tier: &'a str, segments: &'a [&'a str], snapshot: &'a str) -> Self {
        let listed: usize = segments.iter().map(|s| s.len() + 3).sum();
        let fits = Self::FIXED + tier.len() + listed + snapshot.len() <= MAX_BAGGAGE;
        OurBaggage { tier, segments: if fits { segments } else { &[] }, snapshot }
    }

    /// Bytes and list members written by [`Self::push_into`].
    fn size(&self) -> (usize, usize) {
        let listed: usize = self.segments.iter().map(|s| s.len() + 3).sum();
        (Self::FIXED + self.tier.len() + listed + self.snapshot.len(), 2 + usize::from(!self.segments.is_empty()))
    }

    fn push_into(&self, out: &mut String) {
        out.push_str("edgeseg.tier=");
        out.push_str(self.tier);
        for (i, s) in self.segments.iter().enumerate() {
            out.push_str(if i == 0 { ",edgeseg.segments=" } else { "%2C" });
            out.push_str(s);
        }
        out.push_str(",edgeseg.snapshot=");
        out.push_str(self.snapshot);
    }
}

/// The engine's members alone (what [`merge_baggage`] sends with no client baggage).
#[cfg(test)]
pub(crate) fn engine_baggage(tier: &str, segments: &[&str], snapshot: &str) -> String {
    let mut out = String::new();
    OurBaggage::new(tier, segments, snapshot).push_into(&mut out);
    out
}

/// What a decision tags the request to the origin with.
pub(crate) struct Tags<'e, 's> {
    pub tier: &'e str,
    pub segments: &'s [&'e str],
    /// The snapshot version, as `x-edgeseg-snapshot` sends it.
    pub snapshot: &'e str,
    pub stale: bool,
    pub shard_missing: bool,
}

impl<'e> Tags<'e, '_> {
    /// `x-edgeseg-tier`, `x-edgeseg-segments` (when any), `baggage` (merged with the client's),
    /// `traceparent` (when given), `x-edgeseg-snapshot`, and the stale and shard-missing flags.
    pub(crate) fn headers(&self, req: &crate::request::Request<'_>, traceparent: Option<String>) -> Vec<Header<'e>> {
        let mut headers = Vec::with_capacity(8);
        headers.push(Header { name: "x-edgeseg-tier", value: Cow::Borrowed(self.tier) });
        if !self.segments.is_empty() {
            headers.push(Header { name: "x-edgeseg-segments", value: Cow::Owned(self.segments.join(",")) });
        }
        let ours = OurBaggage::new(self.tier, self.segments, self.snapshot);
        headers.push(Header { name: "baggage", value: Cow::Owned(merge_baggage(req.header_values("baggage"), ours)) });
        if let Some(tp) = traceparent {
            headers.push(Header { name: "traceparent", value: Cow::Owned(tp) });
        }
        headers.push(Header { name: "x-edgeseg-snapshot", value: Cow::Borrowed(self.snapshot) });
        if self.stale {
            headers.push(Header { name: "x-edgeseg-stale", value: Cow::Borrowed("1") });
        }
        if self.shard_missing {
            headers.push(Header { name: "x-edgeseg-shard-missing", value: Cow::Borrowed("1") });
        }
        headers
    }
}

/// Merges the engine's members ([`OurBaggage`]) into the request's `baggage` headers per the
/// W3C Baggage format: every `baggage` header is read (in order, as one list: W3C Baggage allows
/// several), other list members are kept in order, and every `edgeseg.*` member the client sent
/// is dropped, the prefix matched in any case (only the engine speaks for that namespace, and a
/// downstream reader may not care about case). When the result would pass the W3C limits (bytes
/// or members), only the engine's members are sent: a client cannot smuggle a spoofed member past
/// the merge, nor push ours out, by making its header too long.
pub(crate) fn merge_baggage<'a>(existing: impl Iterator<Item = &'a str> + Clone, ours: OurBaggage<'_>) -> String {
    let client: usize = existing.clone().map(|v| v.len() + 1).sum();
    let (our_len, our_members) = ours.size();
    // One allocation: what is kept of the client's values, a comma and the engine's members.
    let mut out = String::with_capacity(client + 1 + our_len);
    for value in existing {
        strip_baggage_into(value, &mut out);
    }
    let over_members =
        !out.is_empty() && out.bytes().filter(|&b| b == b',').count() + 1 + our_members > MAX_BAGGAGE_MEMBERS;
    if out.len() + 1 + our_len > MAX_BAGGAGE || over_members {
        out.clear();
    }
    if !out.is_empty() {
        out.push(',');
    }
    ours.push_into(&mut out);
    out
}

/// A `baggage` value without its `edgeseg.*` members, the prefix matched in any case (what a
/// fallback answer forwards). A host with several `baggage` headers joins them with `,` first:
/// they are one list.
pub fn strip_baggage(existing: &str) -> String {
    let mut out = String::with_capacity(existing.len());
    strip_baggage_into(existing, &mut out);
    out
}

/// [`strip_baggage`], appended to `out` (a comma first when `out` already holds members).
fn strip_baggage_into(existing: &str, out: &mut String) {
    for member in existing.split(',') {
        let member = member.trim_matches([' ', '\t']);
        let key = member.split(['=', ';']).next().unwrap_or("").trim_matches([' ', '\t']);
        let ours = key.get(..BAGGAGE_PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(BAGGAGE_PREFIX));
        if member.is_empty() || ours {
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(member);
    }
}

/// Appends `n` in decimal: header values are built per decision, and `core::fmt` for one integer
/// is several times the work (and pulls the formatting machinery into the hot path).
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if let Some(Ok(text)) = digits.get(start..).map(core::str::from_utf8) {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baggage_merge() {
        let one = |v: &'static str| core::iter::once(v);
        let t = |tier: &str| engine_baggage(tier, &[], "7");
        let o = |tier| OurBaggage { tier, segments: &[], snapshot: "7" };
        assert_eq!(merge_baggage(core::iter::empty(), o("premium")), "edgeseg.tier=premium,edgeseg.snapshot=7");
        assert_eq!(
            merge_baggage(one("a=1, edgeseg.tier=free;p=1 ,b=2;prop, edgeseg.segments=vip"), o("premium")),
            "a=1,b=2;prop,edgeseg.tier=premium,edgeseg.snapshot=7"
        );
        assert_eq!(merge_baggage(one(" , "), o("free")), t("free"));
        // Too long to merge: the client's members (a spoofed tier among them) are all dropped.
        let huge = alloc::format!("edgeseg.tier=premium,k={}", "v".repeat(MAX_BAGGAGE));
        assert_eq!(merge_baggage(core::iter::once(huge.as_str()), o("free")), t("free"));
        // Also when the length comes from several headers together.
        let half = alloc::format!("k={}", "v".repeat(MAX_BAGGAGE / 2));
        assert_eq!(merge_baggage([half.as_str(), "EDGESEG.tier=premium", &half].into_iter(), o("free")), t("free"));
        assert_eq!(strip_baggage("edgeseg.tier=premium, a=1;p , edgeseg.x=2,b=3"), "a=1;p,b=3");
        assert_eq!(strip_baggage("edgeseg.tier=premium"), "");
    }

    /// Issue 25: the segments and the snapshot travel in baggage, within W3C Baggage's limits:
    /// a client cannot push the engine's members past the 64 members every hop must keep.
    #[test]
    fn baggage_carries_segments_and_snapshot_within_the_limits() {
        let o = OurBaggage { tier: "premium", segments: &["vip", "churn-risk"], snapshot: "42" };
        let ours = engine_baggage("premium", &["vip", "churn-risk"], "42");
        assert_eq!(ours, "edgeseg.tier=premium,edgeseg.segments=vip%2Cchurn-risk,edgeseg.snapshot=42");
        let many: alloc::vec::Vec<String> = (0..62).map(|i| alloc::format!("k{i}=v")).collect();
        let many = many.join(",");
        // 62 of the client's and 3 of ours: 65 members, so the client's go.
        assert_eq!(merge_baggage(core::iter::once(many.as_str()), o), ours);
        // 61 and 3 fit.
        let fewer = many.rsplit_once(',').map(|(a, _)| a).unwrap_or_default();
        assert_eq!(merge_baggage(core::iter::once(fewer), o), alloc::format!("{fewer},{ours}"));
        // Segment names that alone pass the byte limit are left out; tier and snapshot stay.
        let long = "s".repeat(64);
        let names: alloc::vec::Vec<&str> = (0..200).map(|_| long.as_str()).collect();
        assert_eq!(engine_baggage("free", &names, "42"), "edgeseg.tier=free,edgeseg.snapshot=42");
        assert!(engine_baggage("free", &names[..100], "42").len() <= MAX_BAGGAGE);
    }

    /// Issue 19: `EDGESEG.tier=premium` passed the strip, and only the first `baggage` header was
    /// read, so a second header carried a spoofed member through.
    #[test]
    fn baggage_strip_ignores_case_and_reads_every_header() {
        assert_eq!(strip_baggage("EDGESEG.tier=premium, Edgeseg.Segments=vip,a=1, eDgEsEg.x;p"), "a=1");
        assert_eq!(strip_baggage("edgesegx=1,edgeseg=2"), "edgesegx=1,edgeseg=2");
        assert_eq!(
            merge_baggage(
                ["a=1", "EDGESEG.tier=premium, b=2", "", "Edgeseg.tier=gold"].into_iter(),
                OurBaggage { tier: "free", segments: &[], snapshot: "1" }
            ),
            "a=1,b=2,edgeseg.tier=free,edgeseg.snapshot=1"
        );
    }

    #[test]
    fn push_decimal_writes_every_width() {
        for n in [0, 7, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX / 10, u64::MAX] {
            let mut out = String::from("x=");
            push_decimal(&mut out, n);
            assert_eq!(out, alloc::format!("x={n}"));
        }
    }
}
