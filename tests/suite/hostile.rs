//! Hostile traffic through the real module in wasmtime: state stays bounded, huge values are
//! handled, nothing traps.

use edgeseg::ThrottleResult;
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::traffic::TrafficRecord;
use edgeseg_tests::{scratch_per_call, spec, wasm_module};

/// One tier, throttled per client address; a consent-gated member segment; TCF and cookie signals.
const DEFS: &str = r#"{"id": "hostile", "identity": [{"cookie": "uid", "trust": "unverified"}],
  "purposes": ["contract", "personalisation"], "tiers": ["all"],
  "consent": {"gpc": ["personalisation"], "tcf": {"cookie": "euconsent-v2", "purposes": {"personalisation": [1]}},
              "cookie": "site_consent"},
  "tier_actions": {"all": {"throttle": {"rate": 1, "period_s": 60, "burst": 1, "key": "ip"}}},
  "segments": [
    {"name": "known", "purpose": "personalisation", "members": {"all": true}},
    {"name": "any", "purpose": "contract", "rule": {"!!": [{"var": "path"}]}}]}"#;

fn guest() -> Guest {
    let spec = spec::SpecFile {
        description: String::new(),
        definitions: serde_json::from_str(DEFS).unwrap(),
        members: vec![serde_json::json!({"id": "alice", "consents": ["personalisation"]})],
        cases: vec![],
    };
    let bytes = spec::build_snapshot(&spec, &scratch_per_call("hostile"));
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&bytes).unwrap();
    guest
}

fn record(now_ms: u64, ip: String, headers: Vec<(String, String)>) -> TrafficRecord {
    TrafficRecord {
        line: 1,
        now_ms,
        method: "GET".into(),
        host: "h".into(),
        path: "/".into(),
        headers,
        country: None,
        client_ip: Some(ip),
        attributes: vec![],
        status: None,
        latency_ms: None,
    }
}

#[test]
fn hundreds_of_thousands_of_distinct_client_addresses_keep_the_throttle_table_and_memory_bounded() {
    let mut guest = guest();
    let now = 1_763_700_000_000;
    let mut memory_after_warmup = 0;
    let mut allowed = 0u64;
    // 300 000 by default (4.6x the table's capacity: every slot is evicted several times) to keep
    // CI short on a debug wasmtime; `EDGESEG_HOSTILE_KEYS=1000000` runs the full million.
    let n: u32 = std::env::var("EDGESEG_HOSTILE_KEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(300_000);
    for i in 0..n {
        // Every request from a new client (an IPv6 sweep over /64s: addresses inside one /64 are
        // one client's), all within the same second.
        let ip = format!("2001:db8:{:x}:{:x}::1", i >> 16, i & 0xffff);
        let d = guest.decide_with(&record(now, ip, vec![]).request(), |d| d.throttle.as_ref().map(|t| t.result));
        match d.unwrap() {
            Some(ThrottleResult::Allowed) => allowed += 1,
            other => panic!("request {i}: {other:?}"),
        }
        if i == 100_000.min(n / 2) {
            memory_after_warmup = guest.memory_bytes();
        }
    }
    // Each new address gets its burst; the table evicts instead of growing.
    assert_eq!(allowed, u64::from(n));
    let stats = guest.stats().unwrap();
    assert!(stats.throttle_keys <= stats.throttle_capacity, "{stats:?}");
    assert!(stats.throttle_evictions >= u64::from(n) - stats.throttle_capacity, "{stats:?}");
    assert_eq!(guest.memory_bytes(), memory_after_warmup, "guest memory grew after the table filled");
    assert!(guest.memory_bytes() < 16 << 20, "{} bytes of guest memory", guest.memory_bytes());
    assert_eq!(guest.traps(), 0);
}

#[test]
fn one_megabyte_header_values_are_decided_without_a_trap() {
    let mut guest = guest();
    let now = 1_763_700_000_000;
    let mb = "A".repeat(1 << 20);
    let cases: Vec<(&str, Vec<(String, String)>)> = vec![
        ("user-agent", vec![("user-agent".into(), mb.clone())]),
        ("cookie value", vec![("cookie".into(), format!("uid=alice; junk={mb}"))]),
        ("customer id", vec![("cookie".into(), format!("uid={mb}"))]),
        ("TCF string", vec![("cookie".into(), format!("uid=alice; euconsent-v2=C{mb}"))]),
        ("consent cookie", vec![("cookie".into(), format!("uid=alice; site_consent={mb}"))]),
        ("baggage", vec![("cookie".into(), "uid=alice".into()), ("baggage".into(), format!("k={mb}"))]),
        ("GPC", vec![("cookie".into(), "uid=alice".into()), ("sec-gpc".into(), mb.clone())]),
    ];
    for (i, (what, headers)) in cases.into_iter().enumerate() {
        let ip = format!("192.0.2.{i}");
        let d = guest.decide(&record(now, ip, headers).request()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(d.tier, "all", "{what}");
        match what {
            // A 1 MB TCF string is refused, not decoded: it grants nothing (fail-closed).
            "TCF string" | "consent cookie" => assert_eq!(d.segments, ["any"], "{what}"),
            // A huge id is just an id nobody has.
            "customer id" | "user-agent" => assert_eq!(d.segments, ["any"], "{what}"),
            // The whole cookie header is past the snapshot's `header_bytes` (8 KiB by default):
            // identity reads it as absent, so alice is anonymous here (fail-closed).
            "cookie value" => assert_eq!(d.segments, ["any"], "{what}"),
            // An unrelated huge cookie or header leaves alice recognised.
            _ => assert_eq!(d.segments, ["any", "known"], "{what}"),
        }
        // Nothing echoes a megabyte back into the decision's headers.
        let longest = d.headers.iter().chain(&d.response_headers).map(|(_, v)| v.len()).max().unwrap_or(0);
        assert!(longest < 8 << 10, "{what}: a {longest}-byte header value in the decision");
    }
    // alice still decides normally afterwards, in the same instance.
    let d = guest.decide(&record(now, "192.0.2.200".into(), vec![("cookie".into(), "uid=alice".into())]).request());
    assert_eq!(d.unwrap().segments, ["any", "known"]);
    assert_eq!(guest.traps(), 0);
}
