//! What a host sends back: the decision's response headers merged with the origin response's, so
//! that caching never loosens what the origin said.
//!
//! A segment's cache policy (`public, max-age=60, s-maxage=300…`, `Vary: x-edgeseg-cache-key`,
//! surrogate keys) describes how a *shareable* page may be cached. Laid blindly over an origin
//! response that said `Cache-Control: private, no-store`, carried `Vary: Cookie` or set a cookie,
//! it would put one visitor's page in the shared cache for the next (issue 19). So every host
//! merges with [`merge_origin`], which lets the stricter side win:
//!
//! * **Cache-Control.** Each side is read as how far the response may be stored — nowhere
//!   (`no-store`), only by the visitor's browser (`private`; on the origin's side also any
//!   `Set-Cookie`), or by shared caches — and whether the origin wants every use revalidated
//!   (`no-cache`). The result is the more restrictive of the two on both counts:
//!   - the decision carries no `Cache-Control` (no policy, or `bypass`): the origin's stands;
//!   - either says `no-store`: `no-store` (the origin's own header when it said so);
//!   - the origin says `private`: its header stands (the decision can only tighten it to `no-store`);
//!   - the origin sets a cookie or says `no-cache`, without `private`: the decision's `public`
//!     policy is not applied; the result is `private` (the origin's `no-cache` kept), or the
//!     origin's own header when it said only `no-cache` and the decision was `public`;
//!   - otherwise (the origin allows shared caching): the decision's policy, as before.
//! * **Vary** is appended to, never replaced: the origin's members, then the decision's,
//!   duplicates (any case) dropped; `*` absorbs everything.
//! * **Surrogate-Key / Cache-Tag** name a shared object: sent only when the decision's `public`
//!   policy applies.
//! * Every other response header of the decision (RateLimit fields…) passes unchanged.
//!
//! The answer lists the headers to **set** on the origin's response, each replacing the origin's
//! header of that name; a header not listed keeps the origin's value.

use crate::decision::Header;
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

/// How far a response may be stored, least to most permissive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Store {
    Nowhere,
    Browser,
    Shared,
}

/// The headers to set on the origin's response (see the module notes): `decision` is the
/// decision's `response_headers` (names as the engine writes them, lower-case), `origin` every
/// header of the origin's response, names in any case, repeated names as separate pairs or
/// comma-joined.
///
/// Written for size as much as for speed (it is in both wasm modules): plain loops over the
/// pairs, one case-insensitive name test, no iterator adapters compiled once per use.
pub fn merge_origin<'d>(decision: &[Header<'d>], origin: &[(&str, &str)]) -> Vec<Header<'d>> {
    // The origin's Cache-Control directives (every copy), and whether it sets a cookie.
    let mut text_store = Store::Shared;
    let mut revalidate = false;
    let mut sets_cookie = false;
    for &(name, value) in origin {
        if is(name, "set-cookie") {
            sets_cookie = true;
        } else if is(name, "cache-control") {
            for directive in value.split(',') {
                let directive = directive.split('=').next().unwrap_or("").trim();
                if is(directive, "no-store") {
                    text_store = Store::Nowhere;
                } else if is(directive, "private") {
                    text_store = text_store.min(Store::Browser);
                } else if is(directive, "no-cache") {
                    revalidate = true;
                }
            }
        }
    }
    let origin_store = if sets_cookie { text_store.min(Store::Browser) } else { text_store };

    let mut out = Vec::with_capacity(decision.len());
    let mut public_applies = false;
    for h in decision {
        match h.name {
            "cache-control" => {
                // The engine renders its policy mode first: `no-store`, `private, …` or `public, …`.
                let decided = if h.value.starts_with("no-store") {
                    Store::Nowhere
                } else if h.value.starts_with("private") {
                    Store::Browser
                } else {
                    Store::Shared
                };
                let value = match origin_store.min(decided) {
                    Store::Nowhere if text_store == Store::Nowhere => continue,
                    Store::Nowhere => Cow::Borrowed("no-store"),
                    Store::Browser if text_store == Store::Browser => continue,
                    Store::Browser if revalidate => Cow::Borrowed("private, no-cache"),
                    Store::Browser if decided == Store::Browser => h.value.clone(),
                    Store::Browser => Cow::Borrowed("private"),
                    Store::Shared if revalidate => continue,
                    Store::Shared => {
                        public_applies = true;
                        h.value.clone()
                    }
                };
                out.push(Header { name: h.name, value });
            }
            "vary" => out.push(Header { name: h.name, value: Cow::Owned(merge_vary(origin, &h.value)) }),
            "surrogate-key" | "cache-tag" => {}
            _ => out.push(h.clone()),
        }
    }
    // Surrogate keys name a shared object: only with the decision's public policy (which the
    // engine writes before them).
    if public_applies {
        out.extend(decision.iter().filter(|h| matches!(h.name, "surrogate-key" | "cache-tag")).cloned());
    }
    out
}

/// ASCII case-insensitive name comparison (one copy of the loop for every caller).
#[inline(never)]
fn is(name: &str, expected: &str) -> bool {
    name.eq_ignore_ascii_case(expected)
}

/// The origin's `Vary` members (every copy), then `decided`'s, each once (ASCII case-insensitive,
/// first spelling kept); `*` if any member is `*`.
fn merge_vary(origin: &[(&str, &str)], decided: &str) -> String {
    let mut out = String::new();
    let origin_vary = origin.iter().filter(|(n, _)| is(n, "vary")).map(|&(_, v)| v);
    for value in origin_vary.chain(core::iter::once(decided)) {
        for member in value.split(',') {
            let member = member.trim();
            if member == "*" {
                return String::from("*");
            }
            if member.is_empty() || out.split(',').any(|seen| is(seen.trim(), member)) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(member);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const PUBLIC: &str = "public, max-age=60, s-maxage=300, stale-while-revalidate=30, stale-if-error=86400";

    fn decision(cache_control: &'static str) -> Vec<Header<'static>> {
        let h = |name, value| Header { name, value: Cow::Borrowed(value) };
        let mut out = vec![h("ratelimit-policy", "\"free\";q=10;w=5"), h("ratelimit", "\"free\";r=9;t=1")];
        out.push(h("cache-control", cache_control));
        if cache_control.starts_with("public") {
            out.push(h("vary", "x-edgeseg-cache-key"));
            out.push(h("surrogate-key", "edgeseg-tier-free catalog"));
            out.push(h("cache-tag", "edgeseg-tier-free,catalog"));
        }
        out
    }

    fn get<'h>(headers: &'h [Header<'_>], name: &str) -> Option<&'h str> {
        headers.iter().find(|h| h.name == name).map(|h| h.value.as_ref())
    }

    /// The finding: the origin's private, no-store, Vary: Cookie, Set-Cookie response came back
    /// public with `Vary: x-edgeseg-cache-key` only.
    #[test]
    fn issue_19_a_private_origin_response_stays_private() {
        let origin = [
            ("Cache-Control", "private, no-store"),
            ("Vary", "Accept-Encoding, Cookie"),
            ("Set-Cookie", "session=s3cr3t; HttpOnly"),
        ];
        let merged = merge_origin(&decision(PUBLIC), &origin);
        assert_eq!(get(&merged, "cache-control"), None, "the origin's own Cache-Control stands");
        assert_eq!(get(&merged, "vary"), Some("Accept-Encoding, Cookie, x-edgeseg-cache-key"));
        assert_eq!(get(&merged, "surrogate-key"), None);
        assert_eq!(get(&merged, "cache-tag"), None);
        assert_eq!(get(&merged, "ratelimit"), Some("\"free\";r=9;t=1"), "other headers pass");
    }

    #[test]
    fn the_stricter_side_wins() {
        let cc = |decided: &'static str, origin: &[(&str, &str)]| {
            let merged = merge_origin(&decision(decided), origin);
            (get(&merged, "cache-control").map(String::from), get(&merged, "surrogate-key").is_some())
        };
        let set = |v: &str| (Some(String::from(v)), false);
        let keep = (None, false);
        // A shareable origin response: the segment's policy, as before.
        assert_eq!(cc(PUBLIC, &[]), (Some(PUBLIC.into()), true));
        assert_eq!(cc(PUBLIC, &[("cache-control", "public, max-age=600")]), (Some(PUBLIC.into()), true));
        assert_eq!(cc("private, max-age=0", &[("cache-control", "max-age=600")]), set("private, max-age=0"));
        assert_eq!(cc("no-store", &[("cache-control", "public")]), set("no-store"));
        // The origin said private: it stands, unless the decision says no-store.
        assert_eq!(cc(PUBLIC, &[("cache-control", "Private, max-age=5")]), keep);
        assert_eq!(cc("private, max-age=60", &[("cache-control", "private, max-age=5")]), keep);
        assert_eq!(cc("no-store", &[("cache-control", "private")]), set("no-store"));
        assert_eq!(cc(PUBLIC, &[("cache-control", "private=\"set-cookie\"")]), keep);
        // no-store: the origin's header (it cannot get stricter).
        assert_eq!(cc(PUBLIC, &[("cache-control", "max-age=5"), ("cache-control", "NO-STORE")]), keep);
        assert_eq!(cc("no-store", &[("cache-control", "no-store")]), keep);
        // A cookie-setting response is never shared.
        assert_eq!(cc(PUBLIC, &[("set-cookie", "a=1")]), set("private"));
        assert_eq!(cc(PUBLIC, &[("Set-Cookie", "a=1"), ("cache-control", "public, max-age=600")]), set("private"));
        assert_eq!(cc("private, max-age=60", &[("set-cookie", "a=1")]), set("private, max-age=60"));
        // no-cache: never served from a cache without revalidation.
        assert_eq!(cc(PUBLIC, &[("cache-control", "no-cache")]), keep);
        assert_eq!(cc("private, max-age=60", &[("cache-control", "no-cache")]), set("private, no-cache"));
        assert_eq!(cc(PUBLIC, &[("set-cookie", "a=1"), ("cache-control", "no-cache")]), set("private, no-cache"));
        assert_eq!(cc("no-store", &[("cache-control", "no-cache")]), set("no-store"));
        assert_eq!(
            cc("private, max-age=60", &[("set-cookie", "a=1"), ("cache-control", "no-cache")]),
            set("private, no-cache")
        );
        assert_eq!(cc(PUBLIC, &[("set-cookie", "a=1"), ("cache-control", "private, max-age=9")]), keep);
        assert_eq!(cc("no-store", &[("set-cookie", "a=1")]), set("no-store"));
    }

    #[test]
    fn no_policy_touches_nothing_but_vary_is_always_appended() {
        let only_rl = &decision(PUBLIC)[..2];
        assert_eq!(merge_origin(only_rl, &[("cache-control", "public, max-age=600")]), only_rl.to_vec());
        let vary = [Header { name: "vary", value: Cow::Borrowed("x-edgeseg-cache-key, cookie") }];
        let merged = |origin: &[(&str, &str)]| merge_origin(&vary, origin).remove(0).value.into_owned();
        assert_eq!(merged(&[]), "x-edgeseg-cache-key, cookie");
        assert_eq!(
            merged(&[("vary", "Cookie"), ("Vary", "accept-encoding,  X-Edgeseg-Cache-Key")]),
            "Cookie, accept-encoding, X-Edgeseg-Cache-Key"
        );
        assert_eq!(merged(&[("vary", "*")]), "*");
        assert_eq!(merged(&[("vary", ", ,")]), "x-edgeseg-cache-key, cookie");
    }
}
