//! Request-time consent: signals that can only take purposes away.
//!
//! The snapshot records, per purpose, which members consented when it was built (the builder
//! already dropped everyone else from that purpose's segments). A request then carries signals that
//! may have changed since: the browser's Global Privacy Control, an IAB TCF v2 string, the site's
//! own consent cookie, and revocations delivered beside the snapshot ([`crate::delta`]). Each of
//! them can only **remove** purposes from what the snapshot granted, never add one: a signal the
//! edge cannot read therefore fails closed for the purposes it speaks about, and a `contract`
//! purpose (no consent needed) is never touched.
//!
//! | signal | where | removes |
//! |---|---|---|
//! | GPC | `Sec-GPC: 1` | purposes marked `sale_sharing` |
//! | TCF v2 | cookie or header named in [`ConsentConfig`] | every purpose whose mapped TCF purposes are not all consented; all mapped purposes when the string is malformed |
//! | consent cookie | cookie named in [`ConsentConfig`] | every consent-gated purpose not listed; all of them when the value is malformed |
//! | revocation | [`crate::delta::RevocationDelta`] | the purposes revoked for this fingerprint |
//!
//! Every occurrence of a signal counts, so a duplicate can only narrow further: any `Sec-GPC`
//! list member equal to `1` in any `Sec-GPC` header; every copy of the TCF cookie and of the TCF
//! header (both are read: the header is no longer only a fallback for a missing cookie); every
//! copy of the consent cookie. Each copy removes what it does not grant, and a malformed copy
//! removes everything it speaks about, so a client cannot put a permissive copy ahead of a
//! restrictive one (`site_consent=a|b|c; site_consent=`) and have only the first read.

use crate::snapshot::PurposeView;
use crate::tcf;
use alloc::string::String;
use serde::{Deserialize, Serialize};

/// Where the edge reads consent signals; carried in the snapshot (format 2 extension).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentConfig {
    /// Cookie holding an IAB TCF v2 string (conventionally `euconsent-v2`).
    pub tcf_cookie: Option<String>,
    /// Header holding a TCF v2 string. Read as well as the cookie: every copy of either counts.
    pub tcf_header: Option<String>,
    /// The site's own consent cookie: the consent-gated purposes the visitor allows, by name,
    /// separated by `|`, `,`, `+` or spaces. Purposes it does not list are removed.
    pub cookie: Option<String>,
}

/// How request signals act on one purpose; parallel to the snapshot's purposes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurposeSignals {
    /// `Sec-GPC: 1` removes this purpose (it sells or shares personal data).
    pub sale_sharing: bool,
    /// TCF purposes that must all be consented in a TCF string for this purpose to stay granted:
    /// bit `n - 1` is TCF purpose `n`. `0`: TCF strings say nothing about this purpose.
    pub tcf_purposes: u32,
}

/// What each signal took away on one request. Bit `i` is purpose `i` of the snapshot; only
/// purposes the snapshot had granted to this request appear, so a bit means "this signal changed
/// the outcome for this purpose". A purpose may be removed by several signals at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrowing {
    pub gpc: u64,
    pub tcf: u64,
    pub cookie: u64,
    pub revoked: u64,
    /// A TCF string was present but could not be decoded (it then grants none of its purposes).
    pub tcf_invalid: bool,
    /// The consent cookie was present but malformed (it then grants nothing).
    pub cookie_invalid: bool,
}

impl Narrowing {
    /// Every purpose some signal removed.
    pub fn removed(&self) -> u64 {
        self.gpc | self.tcf | self.cookie | self.revoked
    }
}

/// Longest consent cookie value read; longer values are malformed (fail closed).
pub const MAX_CONSENT_COOKIE: usize = 1024;

/// Purposes the request's own signals (GPC, TCF, consent cookie) deny, before intersecting with
/// what the snapshot granted. `gated` is the mask of purposes that need consent.
// Out of line: `classify` may be inlined into more than one caller (the JS skin's `decide` and
// `segmentsFor`), and this body should exist once in the module.
#[inline(never)]
pub(crate) fn deny_from_signals(
    req: &crate::Request<'_>,
    config: &ConsentConfig,
    purposes: &[PurposeView],
    gated: u64,
) -> Narrowing {
    let mut n = Narrowing::default();
    // Every occurrence counts (a duplicate can only narrow): any list member of any `Sec-GPC`
    // header equal to `1`. workerd and the Fetch API merge duplicates into `1, 1`.
    if req.header_values("sec-gpc").any(|v| v.split(',').any(|m| m.trim() == "1")) {
        n.gpc = mask(purposes, |p| p.signals.sale_sharing) & gated;
    }

    // Every copy of the TCF cookie and of the TCF header (a merged header splits at commas, which
    // a TCF string never contains): each copy removes what it does not consent to, so the
    // purposes kept are those every copy consents to.
    if let Some(name) = config.tcf_cookie.as_deref() {
        for value in req.cookies(name) {
            narrow_tcf(&mut n, value, purposes, gated);
        }
    }
    if let Some(name) = config.tcf_header.as_deref() {
        for value in req.header_values(name) {
            for value in value.split(',') {
                narrow_tcf(&mut n, value, purposes, gated);
            }
        }
    }

    // Every copy of the consent cookie: the purposes allowed are those every copy allows; one
    // malformed copy allows nothing.
    if let Some(name) = config.cookie.as_deref() {
        for value in req.cookies(name) {
            match parse_consent_cookie(value, purposes) {
                Some(allowed) => n.cookie |= gated & !allowed,
                None => {
                    n.cookie = gated;
                    n.cookie_invalid = true;
                }
            }
        }
    }
    n
}

/// One copy of a TCF string narrows `n`: the purposes whose mapped TCF purposes it does not all
/// consent to, or every mapped purpose when it is malformed.
fn narrow_tcf(n: &mut Narrowing, value: &str, purposes: &[PurposeView], gated: u64) {
    match tcf::decode(value.trim()) {
        Ok(tc) => {
            n.tcf |= mask(purposes, |p| {
                let need = p.signals.tcf_purposes;
                need != 0 && need & tc.purposes_consent != need
            }) & gated;
        }
        Err(_) => {
            n.tcf |= mask(purposes, |p| p.signals.tcf_purposes != 0) & gated;
            n.tcf_invalid = true;
        }
    }
}

/// The purposes a consent cookie allows, or `None` when it is malformed. Unknown purpose names
/// are ignored (a site may list purposes this snapshot does not use); anything outside the name
/// alphabet makes the whole value malformed.
fn parse_consent_cookie(value: &str, purposes: &[PurposeView]) -> Option<u64> {
    if value.len() > MAX_CONSENT_COOKIE {
        return None;
    }
    let mut allowed = 0u64;
    for token in value.split(['|', ',', '+', ' ']) {
        if token.is_empty() {
            continue;
        }
        if !token.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b)) {
            return None;
        }
        if let Some(i) = purposes.iter().position(|p| p.name == token) {
            allowed |= 1u64.checked_shl(i as u32).unwrap_or(0);
        }
    }
    Some(allowed)
}

/// The mask of purposes for which `f` holds.
pub(crate) fn mask(purposes: &[PurposeView], f: impl Fn(&PurposeView) -> bool) -> u64 {
    purposes.iter().enumerate().filter(|(_, p)| f(p)).fold(0, |m, (i, _)| m | 1u64.checked_shl(i as u32).unwrap_or(0))
}
