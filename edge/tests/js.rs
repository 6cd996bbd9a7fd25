//! The JS skin, in real JavaScript engines: `cargo xtask test` runs this file with
//! wasm-bindgen-test in Node and again in headless Chromium (`WASM_BINDGEN_USE_BROWSER=1`).
//!
//! The snapshot is `js/test/members.csv` built with the demo definitions (see `js/test/README.md`);
//! xtask passes its path in `EDGESEG_JS_SNAPSHOT`. Requests are made in JavaScript (inline below)
//! so the shapes under test are the ones callers really pass: plain objects, pairs, `Headers`, a
//! Fetch `Request`.
#![cfg(all(target_arch = "wasm32", feature = "js"))]
// A panic is the failure report in tests; clippy's `allow-unwrap-in-tests` does not recognise
// `#[wasm_bindgen_test]` functions as tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use edgeseg::js::Engine;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

const SNAPSHOT: &[u8] = include_bytes!(env!("EDGESEG_JS_SNAPSHOT"));
/// `js/test/revocations.txt` (alice revokes personalisation) as a delta for that snapshot.
const DELTA: &[u8] = include_bytes!(env!("EDGESEG_JS_DELTA"));

#[wasm_bindgen(inline_js = r#"
export function request(kind) {
  const now = 1767225600000;
  switch (kind) {
    case "alice-object":
      return { method: "GET", host: "shop.example", path: "/", headers: { cookie: "theme=dark; edgeseg_uid=alice" }, nowMs: now };
    case "alice-2100":
      return { method: "GET", host: "shop.example", path: "/", headers: { cookie: "edgeseg_uid=alice" }, nowMs: 4102444800000 };
    case "alice-request":
      return new Request("https://shop.example/checkout?step=2", { headers: new Headers({ "x-customer-id": "alice" }) });
    case "alice-pairs-mobile":
      return { url: "https://shop.example/p/1", headers: [["X-Customer-Id", "alice"], ["User-Agent", "Mozilla/5.0 Mobile"]], cf: { country: "DE" }, nowMs: now };
    case "bob-product":
      // bob is in the member file but in no set of the snapshot (free, no consent): his id keys no
      // throttle bucket of its own, so the free tier's throttle keys by the address.
      return { url: "https://shop.example/p/1", headers: { cookie: "edgeseg_uid=bob" }, clientIp: "192.0.2.10", nowMs: now };
    case "bob-checkout":
      return { url: "https://shop.example/checkout", headers: { cookie: ["a=1", "edgeseg_uid=bob"] }, country: "US", nowMs: now };
    case "anonymous-mobile":
      return { url: "https://shop.example/", headers: { "user-agent": "Mobile" }, country: "DE", attributes: { device: "mobile", score: 3, bot: false, x: null } };
    case "spoofed-ip":
      return { url: "https://shop.example/p/1", headers: { "cf-connecting-ip": "203.0.113.7" }, nowMs: now };
    case "cloudflare-ip":
      return { url: "https://shop.example/p/1", headers: { "cf-connecting-ip": "203.0.113.7" }, cf: { country: "DE" }, nowMs: now };
    case "bad-headers":
      return { headers: 5 };
    case "bad-now":
      return { nowMs: "soon" };
    case "not-an-object":
      return "GET /";
  }
}
export function errorOf(f) {
  try { f(); return null; } catch (e) { return { isError: e instanceof Error, kind: e.kind, code: e.code, message: String(e.message) }; }
}
"#)]
extern "C" {
    fn request(kind: &str) -> JsValue;
    #[wasm_bindgen(js_name = errorOf)]
    fn error_of(f: &Closure<dyn Fn()>) -> JsValue;
}

#[derive(Debug, Deserialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct Decision {
    snapshot_version: u64,
    tier: String,
    segments: Vec<String>,
    identified: bool,
    headers: Vec<Header>,
    response_headers: Vec<Header>,
    throttle: Option<Throttle>,
    stale: bool,
}

#[derive(Debug, Deserialize)]
struct Stats {
    throttle_keys: u64,
    stale_decisions: u64,
}

#[derive(Debug, Deserialize)]
struct DeltaInfo {
    sequence: u64,
    entries: u64,
}

#[derive(Debug, Deserialize)]
struct Throttle {
    result: String,
    remaining: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Thrown {
    is_error: bool,
    kind: String,
    code: u16,
    message: String,
}

fn engine() -> Engine {
    Engine::load(SNAPSHOT.to_vec()).unwrap_or_else(|e| panic!("load: {e:?}"))
}

fn decide(kind: &str) -> Decision {
    let v = engine().decide(request(kind)).unwrap_or_else(|e| panic!("decide {kind}: {e:?}"));
    serde_wasm_bindgen::from_value(v).unwrap()
}

fn thrown(f: impl Fn() + 'static) -> Thrown {
    let f = Closure::<dyn Fn()>::new(f);
    serde_wasm_bindgen::from_value(error_of(&f)).expect("an error was thrown")
}

#[wasm_bindgen_test]
fn premium_member_by_cookie_from_a_plain_object() {
    let d = decide("alice-object");
    assert_eq!(d.tier, "premium");
    assert!(d.identified);
    assert_eq!(d.segments, ["premium", "high-value"]);
    assert_eq!(d.snapshot_version, 1);
    let tier = d.headers.iter().find(|h| h.name == "x-edgeseg-tier").unwrap();
    assert_eq!(tier.value, "premium");
}

#[wasm_bindgen_test]
fn fetch_request_with_headers_and_a_url() {
    let d = decide("alice-request");
    assert_eq!(d.tier, "premium");
    assert_eq!(d.segments, ["premium", "high-value", "high-value-checkout", "checkout-visitors", "private-pages"]);
    // Checkout pages are never stored; premium has no throttle.
    let cc = d.response_headers.iter().find(|h| h.name == "cache-control").unwrap();
    assert_eq!(cc.value, "no-store");
    assert!(d.throttle.is_none());
}

#[wasm_bindgen_test]
fn free_member_is_throttled_and_cached_publicly() {
    let mut e = engine();
    let raw = e.decide(request("bob-product")).unwrap();
    // Field types do not depend on the values: the version stays a Number, the opaque throttle
    // state is always a BigInt (a Number would lose bits of the 64-bit key).
    let field = |v: &JsValue, k: &str| js_sys::Reflect::get(v, &JsValue::from_str(k)).unwrap();
    assert!(field(&raw, "snapshot_version").as_f64().is_some());
    let throttle = field(&raw, "throttle");
    assert!(field(&throttle, "state_key").is_bigint() && field(&throttle, "state").is_bigint());
    let first: Decision = serde_wasm_bindgen::from_value(raw).unwrap();
    let t = first.throttle.as_ref().unwrap();
    assert_eq!((t.result.as_str(), t.remaining), ("Allowed", 9));
    let rl = first.response_headers.iter().find(|h| h.name == "ratelimit").unwrap();
    assert_eq!(rl.value, "\"free\";r=9;t=1");
    let cc = first.response_headers.iter().find(|h| h.name == "cache-control").unwrap();
    assert!(cc.value.starts_with("public, max-age=60"), "{}", cc.value);
    // The same instant: the burst of 10 runs out on the eleventh request.
    let mut last = first;
    for _ in 0..10 {
        last = serde_wasm_bindgen::from_value(e.decide(request("bob-product")).unwrap()).unwrap();
    }
    assert_eq!(last.throttle.unwrap().result, "Rejected");
    assert!(last.response_headers.iter().any(|h| h.name == "retry-after" && h.value == "1"));
    // segmentsFor counts nothing against the throttle.
    for _ in 0..20 {
        e.segments_for(request("bob-product")).unwrap();
    }
    let stats: Stats = serde_wasm_bindgen::from_value(e.stats().unwrap()).unwrap();
    assert_eq!(stats.throttle_keys, 1);
}

/// Issue 19: a `cf-connecting-ip` header is the client's own claim outside Cloudflare: it must not
/// key a per-IP throttle (rotating it bought a fresh bucket per request). Only a request that
/// carries Cloudflare's `cf` object (which clients cannot set) is keyed by it.
#[wasm_bindgen_test]
fn the_client_ip_header_is_trusted_only_on_cloudflare() {
    // An anonymous free-tier request with no IP from the host: no per-user or per-IP key, no throttle.
    assert!(decide("spoofed-ip").throttle.is_none());
    assert!(decide("cloudflare-ip").throttle.is_some());
}

#[wasm_bindgen_test]
fn past_its_expiry_the_snapshot_still_decides_but_flagged_stale() {
    let mut e = engine();
    let fresh = decide_with(&mut e, "alice-object");
    assert!(!fresh.stale);
    assert!(!fresh.headers.iter().any(|h| h.name == "x-edgeseg-stale"));
    // The test snapshot expires a day after it is built; 2100 is long past that.
    let stale = decide_with(&mut e, "alice-2100");
    assert_eq!((stale.tier.as_str(), stale.stale), ("premium", true));
    assert!(stale.headers.iter().any(|h| h.name == "x-edgeseg-stale" && h.value == "1"));
    let stats: Stats = serde_wasm_bindgen::from_value(e.stats().unwrap()).unwrap();
    assert_eq!(stats.stale_decisions, 1);
}

#[wasm_bindgen_test]
fn a_revocation_delta_applies_from_the_next_decision() {
    let mut e = engine();
    assert_eq!(decide_with(&mut e, "alice-object").segments, ["premium", "high-value"]);
    let info: DeltaInfo = serde_wasm_bindgen::from_value(e.apply_delta(DELTA).unwrap()).unwrap();
    assert_eq!((info.sequence, info.entries), (1, 1));
    assert_eq!(decide_with(&mut e, "alice-object").segments, ["premium"]);
    // The same delta again is stale; a snapshot is not a delta. Both keep the applied one.
    let t = thrown(|| drop(engine_with_delta().apply_delta(DELTA).map_err(throw)));
    assert_eq!(t.kind, "Stale");
    let t = thrown(|| drop(engine().apply_delta(SNAPSHOT).map_err(throw)));
    assert_eq!(t.kind, "BadMagic");
    assert_eq!(decide_with(&mut e, "alice-object").segments, ["premium"]);
}

#[wasm_bindgen_test]
fn check_replaces_refuses_a_rollback_and_accepts_a_first_or_newer_snapshot() {
    let e = engine();
    let (id, version) = (e.snapshot_id(), e.version().unwrap().as_f64().unwrap());
    let now = 1_767_225_600_000.0;
    let sum = Some(e.checksum());
    assert!(e.check_replaces(None, None, now, None).is_ok());
    assert!(e.check_replaces(Some(id.clone()), Some(version), now, sum).is_ok());
    assert!(e.check_replaces(Some("another-lineage".into()), Some(version + 5.0), now, Some(1)).is_ok());
    let (id2, e2) = (id.clone(), engine());
    let t = thrown(move || {
        let _ = e.check_replaces(Some(id.clone()), Some(version + 1.0), now, sum).map_err(throw);
    });
    assert_eq!((t.kind.as_str(), t.code), ("Rollback", 14));
    // Issue 19: another build under the serving id and version (other bytes) is refused.
    let t = thrown(move || {
        let _ = e2.check_replaces(Some(id2.clone()), Some(version), now, sum.map(|c| c ^ 1)).map_err(throw);
    });
    assert_eq!((t.kind.as_str(), t.code), ("Rebuilt", 17));
}

fn engine_with_delta() -> Engine {
    let mut e = engine();
    e.apply_delta(DELTA).unwrap();
    e
}

fn decide_with(e: &mut Engine, kind: &str) -> Decision {
    serde_wasm_bindgen::from_value(e.decide(request(kind)).unwrap()).unwrap()
}

#[wasm_bindgen_test]
fn header_pairs_and_cloudflare_country() {
    let d = decide("alice-pairs-mobile");
    assert!(d.segments.contains(&"de-mobile".to_string()), "{d:?}");
}

#[wasm_bindgen_test]
fn no_consent_no_consent_gated_segments() {
    let d = decide("bob-checkout");
    assert_eq!(d.tier, "free");
    assert!(d.identified);
    // Only the contract segment that keeps checkout pages out of caches.
    assert_eq!(d.segments, ["private-pages"], "{d:?}");
}

#[wasm_bindgen_test]
fn segments_for_an_anonymous_context_fail_closed() {
    let mut e = engine();
    let segs: Vec<String> =
        serde_wasm_bindgen::from_value(e.segments_for(request("anonymous-mobile")).unwrap()).unwrap();
    assert!(segs.is_empty(), "{segs:?}");
    let d: Decision = serde_wasm_bindgen::from_value(e.decide(request("anonymous-mobile")).unwrap()).unwrap();
    assert_eq!(d.tier, "free");
    assert!(!d.identified);
}

#[wasm_bindgen_test]
fn version_and_names() {
    let e = engine();
    assert_eq!(e.version().unwrap().as_f64(), Some(1.0));
    assert_eq!(e.snapshot_id(), "demo");
    let tiers: Vec<String> = serde_wasm_bindgen::from_value(e.tiers()).unwrap();
    assert_eq!(tiers, ["premium", "standard", "free"]);
}

#[wasm_bindgen_test]
fn bad_snapshots_throw_errors_with_a_kind() {
    let t = thrown(|| drop(Engine::load(b"not a snapshot, but long enough to have a header".to_vec()).map_err(throw)));
    assert!(t.is_error);
    assert_eq!(t.kind, "BadMagic");
    assert_eq!(t.code, 2);
    let t = thrown(|| drop(Engine::load(SNAPSHOT[..SNAPSHOT.len() - 1].to_vec()).map_err(throw)));
    assert_eq!(t.kind, "Truncated", "{}", t.message);
}

#[wasm_bindgen_test]
fn bad_requests_throw_request_errors() {
    for kind in ["bad-headers", "bad-now", "not-an-object"] {
        let t = thrown(move || drop(engine().decide(request(kind)).map_err(throw)));
        assert!(t.is_error);
        assert_eq!(t.kind, "Request", "{kind}: {}", t.message);
    }
}

/// Rethrows a JS error value so `errorOf` sees what a JS caller would.
fn throw(e: JsValue) {
    wasm_bindgen::throw_val(e)
}

#[wasm_bindgen(inline_js = r#"
export function hostile() {
  return { get method() { throw new TypeError("getter says no"); } };
}
"#)]
extern "C" {
    fn hostile() -> JsValue;
}

#[wasm_bindgen_test]
fn exceptions_while_reading_a_request_become_request_errors() {
    let t = thrown(|| drop(engine().decide(hostile()).map_err(throw)));
    assert_eq!(t.kind, "Request");
    assert!(t.message.contains("getter says no"), "{}", t.message);
}
