//! Fixtures shared by the fuzz targets: a small valid snapshot (the host tests' fixture,
//! `edgeseg_snapshots::fixture`), a few fixed requests, a rule environment over arbitrary request fields,
//! and the list of traffic-log readers the `traffic_*` targets drain.
//!
//! Fixtures may unwrap: they are built from constants, once per fuzzing process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arbitrary::Arbitrary;
use edgeseg::format;
use edgeseg::rule::{Env, Slot, Value};
use edgeseg::snapshot::{PayloadExt, SnapshotPayload};
use edgeseg::{AttrValue, Engine, Request};
use edgeseg_snapshots::fixture::Fixture;
use std::borrow::Cow;
use std::sync::OnceLock;

pub use edgeseg_snapshots::fixture::KEY;
pub const SNAPSHOT_ID: &str = "fuzz-fixture";
pub const SNAPSHOT_VERSION: u64 = 7;

/// The shared hand-made fixture (`edgeseg_snapshots::fixture`, as the host tests use it): five
/// segments over two purposes, exact and bloom memberships, a request rule, a path rule.
pub fn payload() -> SnapshotPayload {
    let mut fixture = Fixture::small(SNAPSHOT_VERSION);
    fixture.id = SNAPSHOT_ID.into();
    // Small, so that building an engine per fuzz input stays cheap (the default is 65 536).
    fixture.ext = PayloadExt { throttle_keys: 64, ..PayloadExt::default() };
    fixture.payload().unwrap()
}

/// The fixture's snapshot bytes (encoded once per process).
pub fn snapshot() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| payload().encode().unwrap())
}

/// The container to fuzz, from a fuzz input. The first byte says how the rest is read: odd, as a
/// postcard payload that gets a valid header here (`magic`, `version`, length and CRC-32C), so the
/// mutator explores the payload decoder instead of dying on the checksum; even, as container bytes
/// as they are (the header checks themselves). `None` for an empty input.
pub fn container<'d>(data: &'d [u8], magic: &[u8; 8], version: u16) -> Option<Cow<'d, [u8]>> {
    let (&mode, rest) = data.split_first()?;
    if mode & 1 == 1 { format::wrap_as(rest, magic, version).ok().map(Cow::Owned) } else { Some(Cow::Borrowed(rest)) }
}

/// [`container`] for snapshots.
pub fn snapshot_container(data: &[u8]) -> Option<Cow<'_, [u8]>> {
    container(data, &format::MAGIC, format::FORMAT_VERSION)
}

/// [`container`] for revocation deltas.
pub fn delta_container(data: &[u8]) -> Option<Cow<'_, [u8]>> {
    container(data, &format::DELTA_MAGIC, format::DELTA_VERSION)
}

/// A fresh engine over the fixture snapshot whose identity sources are verified (an EdDSA JWT in
/// `authorization`, an HMAC-signed `edgeseg_uid` cookie): what `edgeseg_identity_claim` reads.
pub fn verified_engine() -> Engine {
    use edgeseg::snapshot::{IdentitySource, JwtAlg, JwtVerify, Verify};
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = BYTES.get_or_init(|| {
        let mut p = payload();
        let jwt = JwtVerify {
            alg: JwtAlg::EdDSA,
            key: vec![0x11; 32],
            claim: "sub".into(),
            issuer: None,
            audience: Some("shop".into()),
            leeway_s: 60,
        };
        p.identity = vec![
            IdentitySource::VerifiedHeader("authorization".into(), Verify::Jwt(jwt)),
            IdentitySource::VerifiedCookie("edgeseg_uid".into(), Verify::Hmac { secret_env: "ID_SECRET".into() }),
        ];
        p.encode().unwrap()
    });
    Engine::load(bytes).unwrap()
}

/// A fresh engine over the fixture snapshot.
pub fn engine() -> Engine {
    Engine::load(snapshot()).unwrap()
}

/// Requests decided against every snapshot that loads: anonymous, a member by cookie and by
/// header, consent signals (GPC, a TCF string, a malformed one), attributes and a client IP.
pub fn requests() -> Vec<Request<'static>> {
    let base =
        Request { method: "GET", host: "shop.example", path: "/", now_ms: 1_763_719_200_000, ..Request::default() };
    vec![
        base.clone(),
        Request {
            path: "/checkout/cart",
            headers: vec![("cookie", "edgeseg_uid=u1; euconsent-v2=CQbP0NAQbP0NAEsACBENAwEgAL-AAAAAAAYgAAAAAAAA")],
            country: Some("DE"),
            attributes: vec![("device", AttrValue::String("mobile"))],
            verified_id: None,
            ..base.clone()
        },
        Request {
            headers: vec![("x-customer-id", "u3"), ("sec-gpc", "1"), ("baggage", "a=1,edgeseg.tier=free")],
            client_ip: Some("192.0.2.7"),
            ..base.clone()
        },
        Request {
            method: "POST",
            headers: vec![("Cookie", "edgeseg_uid=\"u2\"; euconsent-v2=CQ"), ("cookie", "consent=personalisation")],
            attributes: vec![("n", AttrValue::Number(f64::NAN)), ("b", AttrValue::Bool(true)), ("z", AttrValue::Null)],
            verified_id: None,
            now_ms: u64::MAX,
            ..base
        },
    ]
}

/// An attribute value, generated.
#[derive(Arbitrary, Debug)]
pub enum ArbAttr {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
}

/// Request fields and the rest of a rule's world, generated.
#[derive(Arbitrary, Debug)]
pub struct Context {
    pub method: String,
    pub host: String,
    pub path: String,
    pub country: Option<String>,
    pub now_ms: u64,
    pub identity: Option<String>,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
    pub attributes: Vec<(String, ArbAttr)>,
    /// Bit `i`: the request is in segment `i`.
    pub segments: u64,
    /// Bit `i`: purpose `i` is granted.
    pub consent: u64,
}

/// A rule [`Env`] over a generated [`Context`] (a test double of the engine's request env).
#[derive(Debug)]
pub struct TestEnv<'c>(pub &'c Context);

impl<'a> Env<'a> for TestEnv<'a> {
    fn slot(&self, slot: &'a Slot) -> Value<'a> {
        let c = self.0;
        let find = |list: &'a [(String, String)], name: &str| {
            list.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map_or(Value::Null, |(_, v)| Value::Str(v))
        };
        match slot {
            Slot::Method => Value::Str(&c.method),
            Slot::Host => Value::Str(&c.host),
            Slot::Path => Value::Str(&c.path),
            Slot::Country => c.country.as_deref().map_or(Value::Null, Value::Str),
            Slot::Now => Value::Number((c.now_ms / 1000) as f64),
            Slot::NowMs => Value::Number(c.now_ms as f64),
            Slot::Header(name) => find(&c.headers, name),
            Slot::Cookie(name) => find(&c.cookies, name),
            Slot::Attribute(name) => match c.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v) {
                None | Some(ArbAttr::Null) => Value::Null,
                Some(ArbAttr::Bool(b)) => Value::Bool(*b),
                Some(ArbAttr::Number(n)) => Value::Number(*n),
                Some(ArbAttr::String(s)) => Value::Str(s),
            },
            Slot::Identity => c.identity.as_deref().map_or(Value::Null, Value::Str),
        }
    }

    fn in_segment(&self, segment: u16) -> bool {
        segment < 64 && self.0.segments & (1 << segment) != 0
    }

    fn consent(&self, purpose: u16) -> bool {
        purpose < 64 && self.0.consent & (1 << purpose) != 0
    }
}

/// The host's traffic-log readers, compiled from `host/src/` itself (the same source files, not
/// copies). Depending on `edgeseg-host` would be simpler, but it links wasmtime, which under
/// sanitizer coverage and one codegen unit turns a cold fuzz build from minutes into most of an
/// hour on two cores; the readers depend only on `edgeseg`, serde and serde_json. (If the host
/// ever gains a feature that leaves wasmtime out, depend on it instead.)
/// (`rustfmt::skip`: the file is formatted in its own crate; rustfmt would look for its `#[cfg(test)]
/// mod tests` next to this path.)
#[rustfmt::skip]
#[path = "../../host/src"]
pub mod host_src {
    // Inside an inline `#[path]` module, `traffic.rs`'s own `mod lines;` (nginx, har, time)
    // resolve under `host/src/traffic/`, as they do in the host crate.
    pub mod traffic;
}
pub use host_src::traffic as host_traffic;

/// Every traffic-log reader, as "drain this whole input". A reader added on another branch (nginx,
/// HAR) gets a `#[path]` module above, a function here and a three-line `traffic_<name>` target.
pub mod traffic {
    use super::host_traffic::TrafficReader;
    use std::io::Cursor;

    /// Drains the JSONL reader over `data` (a small line cap, so long lines are exercised too),
    /// turning each record into the engine's request and deciding it. Returns (records, errors).
    pub fn jsonl(data: &[u8], engine: &mut edgeseg::Engine) -> (usize, usize) {
        drain(TrafficReader::new(Cursor::new(data)).with_max_line_bytes(4096), engine)
    }

    /// Drains the nginx reader: the first line of `data` is the `log_format` (refused formats
    /// end the case), the rest the log; `combined` when the first byte is even.
    pub fn nginx(data: &[u8], engine: &mut edgeseg::Engine) -> (usize, usize) {
        use super::host_traffic::nginx::{COMBINED, LogFormat, NginxReader};
        let (format, log) = match data.split_first() {
            Some((b, rest)) if b % 2 == 0 => (COMBINED.to_owned(), rest),
            Some((_, rest)) => {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let (head, tail) = rest.split_at(end);
                (String::from_utf8_lossy(head).into_owned(), tail)
            }
            None => return (0, 0),
        };
        let Ok(format) = LogFormat::parse(&format) else { return (0, 0) };
        drain(NginxReader::new(Cursor::new(log), format).with_max_line_bytes(4096), engine)
    }

    /// Drains the HAR reader (its walker thread included) with a 64 KiB entry cap. A fatal error
    /// (a broken document, an entry over the cap) is allowed, as the last item.
    pub fn har(data: &[u8], engine: &mut edgeseg::Engine) -> (usize, usize) {
        use super::host_traffic::har::HarReader;
        let Ok(reader) = HarReader::new(Cursor::new(data.to_vec()), 64 << 10) else { return (0, 0) };
        drain_with(reader, engine, true)
    }

    /// Line readers over a cursor: a fatal error (an IO error) would be a reader bug.
    fn drain(
        reader: impl Iterator<Item = Result<super::host_traffic::TrafficRecord, super::host_traffic::TrafficError>>,
        engine: &mut edgeseg::Engine,
    ) -> (usize, usize) {
        drain_with(reader, engine, false)
    }

    /// Every record decided, every error displayed; nothing may follow a fatal error, and a fatal
    /// error at all only where `fatal_allowed`. Returns (records, errors).
    fn drain_with(
        reader: impl Iterator<Item = Result<super::host_traffic::TrafficRecord, super::host_traffic::TrafficError>>,
        engine: &mut edgeseg::Engine,
        fatal_allowed: bool,
    ) -> (usize, usize) {
        let (mut records, mut errors, mut ended) = (0, 0, false);
        for item in reader {
            assert!(!ended, "an item after a fatal error");
            match item {
                Ok(record) => {
                    records += 1;
                    let _ = engine.decide(&record.request());
                }
                Err(e) => {
                    errors += 1;
                    let _ = e.to_string();
                    ended = e.is_fatal();
                    assert!(fatal_allowed || !ended, "fatal error from an in-memory reader: {e}");
                }
            }
        }
        (records, errors)
    }
}
