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
}

impl<'a> Request<'a> {
    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, v)| v)
    }

    /// The cookie named `name` (exact, case-sensitive, as RFC 6265 has it), from any `cookie`
    /// header; surrounding double quotes are removed from the value.
    pub fn cookie(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("cookie")).flat_map(|&(_, v)| v.split(';')).find_map(
            |pair| {
                let (k, v) = pair.split_once('=')?;
                (k.trim() == name).then(|| {
                    let v = v.trim();
                    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
                })
            },
        )
    }

    /// The attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<AttrValue<'a>> {
        self.attributes.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn headers_and_cookies() {
        let r = Request {
            headers: vec![("Cookie", "a=1; uid=\"u-7\""), ("X-Customer-Id", "c-9"), ("cookie", "b=2;c=x=y")],
            ..Request::default()
        };
        assert_eq!(r.header("x-customer-id"), Some("c-9"));
        assert_eq!(r.header("missing"), None);
        assert_eq!(r.cookie("uid"), Some("u-7"));
        assert_eq!(r.cookie("b"), Some("2"));
        assert_eq!(r.cookie("c"), Some("x=y"));
        assert_eq!(r.cookie("UID"), None);
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
        };
        let bytes = postcard::to_allocvec(&r).unwrap();
        let back: Request<'_> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, r);
    }
}
