//! Where a request's customer id comes from: the snapshot's identity sources, in order.
//!
//! A source is a header or a cookie. An **unverified** source (`"trust": "unverified"` in the
//! definitions) is a bare claim: its value is the id. A **verified** source carries a token — a
//! JWT or an HMAC-signed cookie ([`Verify`]) — that the *host* checks (WebCrypto in the Worker,
//! natively in the wasmtime host: the module links no curve code) before the decision. The host
//! asks [`claim`] which token to check, and hands the id it proved over in
//! [`Request::verified_id`]. The engine takes a verified source's id from there and nowhere else:
//! a token the host did not prove, or a forged header beside it, is anonymous.
//!
//! The first source present decides. Every copy of it is read: copies that disagree
//! (`edgeseg_uid=alice; edgeseg_uid=bob`, two `x-customer-id` headers) make the request anonymous
//! rather than letting the first copy win, which need not be the one the origin reads. An empty
//! or over-long value reads as absent, and the next source is tried.

use crate::engine::MAX_ID_LEN;
use crate::request::Request;
use crate::snapshot::{IdentitySource, Snapshot, Verify};

/// What the first present identity source of a request says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim<'s, 'r> {
    /// No source is present (or the present one's copies disagree): anonymous.
    None,
    /// An unverified source's value: the id itself.
    Bare(&'r str),
    /// A verified source's token, for the host to check with `verify`.
    Token { source: u16, token: &'r str, verify: &'s Verify },
}

/// Who the request is, as a decision sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity<'r> {
    pub id: Option<&'r str>,
    /// The id came from a token the host verified: it may key a per-user throttle bucket even
    /// when it is in no set (a client cannot mint such ids).
    pub verified: bool,
    /// A verified source's token was present but the host handed over no verified id (bad
    /// signature, expired, or a host that does not verify): decided as anonymous, and counted.
    pub refused: bool,
}

/// The first present identity source's value ([`Claim`]).
pub fn claim<'s, 'r>(snap: &'s Snapshot, req: &Request<'r>) -> Claim<'s, 'r> {
    /// The value every copy agrees on (`Ok(None)`: no copy), or `Err` when copies disagree.
    fn agreed<'r>(mut copies: impl Iterator<Item = &'r str>) -> Result<Option<&'r str>, ()> {
        let Some(first) = copies.next().map(str::trim) else { return Ok(None) };
        if copies.any(|v| v.trim() != first) { Err(()) } else { Ok(Some(first)) }
    }
    for (i, src) in snap.identity.iter().enumerate() {
        let found = match src {
            IdentitySource::Header(name) | IdentitySource::VerifiedHeader(name, _) => agreed(req.header_values(name)),
            IdentitySource::Cookie(name) | IdentitySource::VerifiedCookie(name, _) => agreed(req.cookies(name)),
        };
        match found {
            Err(()) => return Claim::None,
            // A token may be longer than an id (a JWT): the header cap still bounds it.
            Ok(Some(v)) if !v.is_empty() => match src.verify() {
                None if v.len() <= MAX_ID_LEN => return Claim::Bare(v),
                None => {}
                Some(verify) => return Claim::Token { source: i as u16, token: v, verify },
            },
            Ok(_) => {}
        }
    }
    Claim::None
}

/// The request's identity: a bare claim's value, or for a token the id the host verified.
#[inline(never)] // once in the module, however many callers `classify` is inlined into
pub fn identity<'r>(snap: &Snapshot, req: &Request<'r>) -> Identity<'r> {
    match claim(snap, req) {
        Claim::None => Identity::default(),
        Claim::Bare(id) => Identity { id: Some(id), verified: false, refused: false },
        Claim::Token { .. } => match req.verified_id.filter(|v| !v.is_empty() && v.len() <= MAX_ID_LEN) {
            Some(id) => Identity { id: Some(id), verified: true, refused: false },
            None => Identity { id: None, verified: false, refused: true },
        },
    }
}
