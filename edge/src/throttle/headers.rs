//! `RateLimit-Policy`, `RateLimit` and `Retry-After` field values for a [`Verdict`].
//!
//! Follows **draft-ietf-httpapi-ratelimit-headers-11** ("RateLimit header fields for HTTP", Polli,
//! Martinez, Miller; HTTPAPI WG, May 2026): both fields are Structured-Field lists of items whose
//! value is the policy name (an sf-string) with parameters —
//!
//! ```text
//! RateLimit-Policy: "name";q=<quota>;w=<window seconds>      (§3: q REQUIRED, w OPTIONAL)
//! RateLimit:        "name";r=<available quota>;t=<seconds>   (§4: r REQUIRED, t OPTIONAL)
//! ```
//!
//! ## Mapping GCRA onto q, w, r, t
//!
//! * **q = `burst`.** §2/§3.1.1 define the quota as the capacity a client "may consume within a time
//!   window". Under GCRA the capacity is the burst: it is the most that can be consumed at once, and
//!   the available quota `r` ranges over exactly `0..=burst`. Advertising `q = rate` instead would
//!   let `r > q` whenever `burst > rate`, and hide the burst entirely.
//! * **w = `⌈burst · T⌉` seconds** (`T = period / rate`): the time an emptied bucket takes to refill
//!   to `q`. Then `q / w` is the policy's sustained rate `rate / period` (exactly when `burst · T` is
//!   whole seconds; otherwise slightly lower, because §3.1.3 allows whole seconds only and `w` is
//!   rounded **up** — a client pacing itself on `q / w` never goes faster than the policy). With
//!   `burst = rate` this is just `q = rate; w = period`.
//! * **r = `remaining`** = `burst - ⌈(TAT - now) / T⌉`, clamped to `0..=burst`: how many further
//!   requests would be allowed right now (after the current one, for an allowed request).
//! * **t = `reset_s`**, the *effective window* of §4.1.2: "the number of seconds within which the
//!   client can use no more than the available quota". Under GCRA a unit of quota comes back every
//!   `T`, so the longest interval over which `r` is still the limit ends when the allowance next
//!   grows: `t = ⌈(TAT - now + r · T - (burst - 1) · T) / 1 s⌉`, which is `≤ ⌈T⌉` while `r > 0`, and
//!   with `r = 0` is the wait until the next request is allowed. The "seconds until full refill"
//!   reading of the older `RateLimit-Reset` field was rejected: the client could use more than `r`
//!   before it ends, and on a rejection it would end *after* `Retry-After`, which §6 forbids ("the
//!   Retry-After field value SHOULD NOT reference a point in time earlier than the end of the
//!   effective window").
//! * **Retry-After** (rejected requests only): `⌈(TAT - (burst - 1) · T - now) / 1 s⌉ ≥ 1`, which is
//!   the same instant as `t` (as in the draft's appendix B.1.4 example).
//!
//! Seconds are always rounded up: a client that waits what it is told is never early.
//!
//! The policy name is written as an sf-string: `"` and `\` are escaped, and bytes outside printable
//! ASCII (which RFC 9651 strings cannot hold) become `_`. Snapshot names are `[a-z0-9_.-]` anyway.

use super::{ThrottlePolicy, Verdict};
use crate::decision::push_decimal;
use alloc::string::String;

/// Field name of the quota policy.
pub const RATELIMIT_POLICY: &str = "RateLimit-Policy";
/// Field name of the current service limit.
pub const RATELIMIT: &str = "RateLimit";
/// Field name of the rejection back-off (RFC 9110 §10.2.3, delay-seconds).
pub const RETRY_AFTER: &str = "Retry-After";

/// Field values to add to a response. See the module doc for what each number means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// Value of `RateLimit-Policy`, e.g. `"api";q=4;w=10`.
    pub policy: String,
    /// Value of `RateLimit`, e.g. `"api";r=3;t=3`.
    pub ratelimit: String,
    /// Value of `Retry-After` in seconds; only for a rejected request.
    pub retry_after: Option<String>,
}

impl RateLimitHeaders {
    /// `(field name, value)` pairs, in the order above.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [(RATELIMIT_POLICY, self.policy.as_str()), (RATELIMIT, self.ratelimit.as_str())]
            .into_iter()
            .chain(self.retry_after.as_deref().map(|v| (RETRY_AFTER, v)))
    }
}

/// The field values for verdict `v` of `policy`, under the policy name `name`.
pub fn rate_limit_headers(name: &str, policy: &ThrottlePolicy, v: &Verdict) -> RateLimitHeaders {
    let name = sf_string(name);
    let retry_after = (!v.allowed).then(|| {
        let mut out = String::new();
        push_decimal(&mut out, v.retry_after_s.unwrap_or(v.reset_s).max(1));
        out
    });
    // `"name";a=<n>;b=<m>`, written without `core::fmt` (this runs on every throttled request).
    let field = |a: &str, n: u64, b: &str, m: u64| {
        let mut out = String::with_capacity(name.len() + 32);
        out.push_str(&name);
        out.push_str(a);
        push_decimal(&mut out, n);
        out.push_str(b);
        push_decimal(&mut out, m);
        out
    };
    RateLimitHeaders {
        policy: field(";q=", v.limit.into(), ";w=", policy.window_s()),
        ratelimit: field(";r=", v.remaining.into(), ";t=", v.reset_s),
        retry_after,
    }
}

/// An RFC 9651 sf-string: `"` + printable ASCII with `"` and `\` escaped + `"`.
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('_'),
        }
    }
    out.push('"');
    out
}
