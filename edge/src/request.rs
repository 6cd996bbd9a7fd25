//! What the edge knows about one request.
//!
//! Borrowed throughout: postcard decodes a [`Request`] from the ABI buffer without copying a
//! string, and a native host builds one over its own buffers. Header names are matched
//! ASCII-case-insensitively; cookies are read from every `cookie` header.

use serde::{Deserialize, Serialize};

/// A request attribute value (set by the platform or the worker: device class, ASN, plan hint…).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum AttrValue<'a> {
    Null,
    Bool(bool),
    Number(f64),
    #[serde(borrow)]
    String(&'a str),
}

/// One request, as the edge sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    /// `(name, value)` pairs in arrival order; names in any case.
    #[serde(borrow)]
    pub headers: alloc::vec::Vec<(&'a str, &'a str)>,
    /// ISO 3166-1 alpha-2 country from the platform (e.g. `request.cf.country`), if known.
    pub country: Option<&'a str>,
    /// The client's IP address as the platform saw it (e.g. `CF-Connecting-IP`, Fastly's
    /// `client.ip`), if known. Only ever hashed (throttle keys), never stored or echoed.
    pub client_ip: Option<&'a str>,
    /// Milliseconds since the Unix epoch. The only clock the engine ever sees.
    pub now_ms: u64,
    #[serde(borrow)]
    pub attributes: alloc::vec::Vec<(&'a str, AttrValue<'a>)>,
    /// The customer id the host proved from the token of the snapshot's verified identity source
    /// ([`crate::identity`]): the only place the engine takes a verified id from. `None` when the
    /// host verified nothing (no token, or it failed): a token without it is anonymous.
    pub verified_id: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(n, _)| same_name(n, name)).map(|&(_, v)| v)
    }

    /// Every header named `name` (ASCII case-insensitive), in arrival order. What a signal that
    /// must not be widened by a duplicate reads: a client that sends a header twice gets both
    /// copies counted, not just the one a lookup happens to find first.
    pub fn header_values<'r>(&'r self, name: &'r str) -> HeaderValues<'r, 'a> {
        HeaderValues { headers: self.headers.iter(), name }
    }

    /// The first cookie named `name` (exact, case-sensitive, as RFC 6265 has it), from any
    /// `cookie` header: the pairs are split at `;`, each at its first `=`, the name and the value
    /// trimmed of spaces and tabs (RFC 6265's OWS), and surrounding double quotes removed from the
    /// value. What rules read; signals and identity read every copy ([`Request::cookies`]).
    pub fn cookie(&self, name: &str) -> Option<&'a str> {
        self.cookies(name).next()
    }

    /// Every cookie named `name`, across all `cookie` headers, in arrival order (parsed as
    /// [`Request::cookie`] does).
    pub fn cookies<'r>(&'r self, name: &'r str) -> Cookies<'r, 'a> {
        Cookies { headers: self.header_values("cookie"), pairs: "".split(';'), name }
    }

    /// The attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<AttrValue<'a>> {
        self.attributes.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }
}

/// Every copy of one header: [`Request::header_values`].
#[derive(Clone, Debug)]
pub struct HeaderValues<'r, 'a> {
    headers: core::slice::Iter<'r, (&'a str, &'a str)>,
    name: &'r str,
}

impl<'a> Iterator for HeaderValues<'_, 'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let name = self.name;
        self.headers.find(|(n, _)| same_name(n, name)).map(|&(_, v)| v)
    }
}

/// Every copy of one cookie: [`Request::cookies`]. One concrete type (not a chain of closures):
/// it runs several times per decision (identity, consent cookie, TCF string, rules), and each
/// adapter chain would be compiled again at every use.
#[derive(Clone, Debug)]
pub struct Cookies<'r, 'a> {
    headers: HeaderValues<'r, 'a>,
    pairs: core::str::Split<'a, char>,
    name: &'r str,
}

impl<'a> Iterator for Cookies<'_, 'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        // Byte trimming, no closures over `str::trim`'s Unicode whitespace tables.
        loop {
            for pair in self.pairs.by_ref() {
                let Some((k, v)) = pair.split_once('=') else { continue };
                if trim_ows(k) == self.name {
                    let v = trim_ows(v);
                    return Some(v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v));
                }
            }
            self.pairs = self.headers.next()?.split(';');
        }
    }
}

/// Header names, ASCII case-insensitive. Names usually arrive lower-case (HTTP/2 and HTTP/3 send
/// them so, and the Fetch API's `Headers` lower-cases them), as rules and the engine ask for them:
/// one byte comparison settles those, before the byte-by-byte case folding.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a == b || a.eq_ignore_ascii_case(b))
}

fn is_ows(b: &u8) -> bool {
    matches!(b, b' ' | b'\t')
}

/// `s` without leading or trailing spaces and tabs (RFC 6265's OWS).
fn trim_ows(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|c| !is_ows(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ows(c)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn headers_and_cookies() {
        let r = Request {
            headers: vec![("Cookie", "a=1; uid=\"u-7\""), ("X-Customer-Id", "c-9"), ("cookie", "b=2;c=x=y")],
            ..Request::default()
        };
        assert_eq!(r.header("x-customer-id"), Some("c-9"));
        assert_eq!(r.header("X-CUSTOMER-ID"), Some("c-9"));
        // Same length, one byte apart, in either case: not the header.
        assert_eq!(r.header("x-customer-ie"), None);
        assert_eq!(r.header("X-Customer-Ie"), None);
        assert_eq!(r.header("missing"), None);
        let lower = Request { headers: vec![("user-agent", "ua"), ("accept", "*/*")], ..Request::default() };
        assert_eq!(lower.header("user-agent"), Some("ua"));
        assert_eq!(lower.header("User-Agent"), Some("ua"));
        assert_eq!(lower.header("user-agenT"), Some("ua"));
        assert_eq!(lower.header("user-agent "), None);
        assert_eq!(r.cookie("uid"), Some("u-7"));
        assert_eq!(r.cookie("b"), Some("2"));
        assert_eq!(r.cookie("c"), Some("x=y"));
        assert_eq!(r.cookie("UID"), None);
    }

    #[test]
    fn every_copy_of_a_header_and_a_cookie() {
        let r = Request {
            headers: vec![
                ("Cookie", "site=a; uid=1"),
                ("sec-gpc", "0"),
                ("cookie", "site=; x=2;site=\"b\""),
                ("Sec-GPC", "1, 1"),
            ],
            ..Request::default()
        };
        assert_eq!(r.header_values("sec-gpc").collect::<Vec<_>>(), ["0", "1, 1"]);
        assert_eq!(r.header_values("missing").count(), 0);
        assert_eq!(r.cookies("site").collect::<Vec<_>>(), ["a", "", "b"]);
        assert_eq!(r.cookies("uid").collect::<Vec<_>>(), ["1"]);
        assert_eq!(r.cookie("site"), Some("a"));
    }

    #[test]
    fn postcard_round_trip_borrows() {
        let r = Request {
            method: "GET",
            host: "shop.example",
            path: "/p/1",
            headers: vec![("user-agent", "ua")],
            country: Some("DE"),
            client_ip: Some("192.0.2.1"),
            now_ms: 1_700_000_000_000,
            attributes: vec![("device", AttrValue::String("mobile")), ("score", AttrValue::Number(3.5))],
            verified_id: None,
        };
        let bytes = postcard::to_allocvec(&r).unwrap();
        let back: Request<'_> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, r);
    }

    /// The in-place scan against the plain definition (split each pair at its first `=`, trim
    /// both halves of spaces and tabs, unquote), over every short string from an alphabet of the
    /// awkward characters (a no-break space is not OWS: it stays part of the name or value).
    #[test]
    fn cookie_scan_agrees_with_the_definition() {
        fn reference<'a>(header: &'a str, name: &str) -> Option<&'a str> {
            header.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                let ows: &[char] = &[' ', '\t'];
                (k.trim_matches(ows) == name).then(|| {
                    let v = v.trim_matches(ows);
                    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
                })
            })
        }
        let alphabet = ['a', 'b', '=', ';', ' ', '\t', '"', '\u{a0}'];
        let strings = |len: u32| {
            (0..alphabet.len().pow(len)).map(move |mut i| {
                let mut s = alloc::string::String::new();
                for _ in 0..len {
                    s.push(alphabet[i % alphabet.len()]);
                    i /= alphabet.len();
                }
                s
            })
        };
        let names: alloc::vec::Vec<_> = (0..=2).flat_map(strings).collect();
        let mut checked = 0;
        for header in (0..=5).flat_map(strings) {
            let r = Request { headers: vec![("Cookie", header.as_str())], ..Request::default() };
            for name in &names {
                assert_eq!(r.cookie(name), reference(&header, name), "cookie {name:?} in {header:?}");
                checked += 1;
            }
        }
        assert!(checked > 1_000_000, "{checked}");
    }
}
