//! The replay report's action columns, against a hand-computed run: throttled (rejected and
//! deprioritized) per tier, cache mix, routes, shadowed actions and the throttle table.

use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::replay::{ReplayOptions, replay};
use edgeseg_host::traffic::TrafficReader;
use edgeseg_tests::{scratch, spec, wasm_module};

const DEFS: &str = r#"{"id": "acts", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract"],
  "tiers": ["gold", "free"],
  "tier_actions": {
    "gold": {"route": {"pool": "gold-pool", "lane": "fast"}},
    "free": {"throttle": {"rate": 1, "period_s": 60, "burst": 2, "key": "user"},
             "cache": {"mode": "public", "max_age": 60}}
  },
  "segments": [
    {"name": "gold", "tier": "gold", "purpose": "contract", "precedence": 100, "members": {"all": true}},
    {"name": "api", "purpose": "contract", "precedence": 50, "rule": {"starts_with": [{"var": "path"}, "/api"]},
     "cache": {"mode": "no-store"},
     "throttle": {"rate": 1, "period_s": 60, "burst": 1, "key": "ip", "action": "deprioritize", "lane": "slow"}},
    {"name": "api-v2", "purpose": "contract", "precedence": 40, "rule": {"starts_with": [{"var": "path"}, "/api/v2"]},
     "cache": {"mode": "private"}}
  ]}"#;

#[test]
fn action_columns_match_the_hand_computation() {
    let spec = spec::SpecFile {
        description: String::new(),
        definitions: serde_json::from_str(DEFS).unwrap(),
        members: vec![serde_json::json!({"id": "g1"})],
        cases: vec![],
    };
    let bytes = spec::build_snapshot(&spec, &scratch("replay-actions"));
    let t = 1_763_700_000_000u64;
    let line = |dt: u64, path: &str, cookie: &str, ip: &str| {
        format!(
            r#"{{"now_ms": {}, "method": "GET", "path": "{path}", "headers": {{"cookie": "{cookie}"}}, "client_ip": "{ip}"}}"#,
            t + dt
        )
    };
    let log = [
        // gold: route from the tier, never throttled.
        line(0, "/", "uid=g1", "10.0.0.1"),
        line(0, "/", "uid=g1", "10.0.0.1"),
        line(0, "/", "uid=g1", "10.0.0.1"),
        // free, anonymous from one address: burst 2, then rejected; public cache.
        line(0, "/p", "", "10.0.0.2"),
        line(1, "/p", "", "10.0.0.2"),
        line(2, "/p", "", "10.0.0.2"),
        // /api: the api segment's per-IP deprioritizing throttle (burst 1) and no-store cache;
        // /api/v2 also matches api-v2, whose private cache is shadowed by api's no-store.
        line(0, "/api/x", "", "10.0.0.3"),
        line(1, "/api/v2/y", "", "10.0.0.3"),
        line(2, "/api/v2/z", "", "10.0.0.3"),
    ]
    .join("\n");
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&bytes).unwrap();
    let report = replay(&mut guest, TrafficReader::new(log.as_bytes()), &ReplayOptions::default()).unwrap();

    let tiers: Vec<_> = report
        .tiers
        .iter()
        .map(|t| {
            let mix = |m: &std::collections::BTreeMap<String, u64>| {
                m.iter().map(|(k, n)| format!("{k}={n}")).collect::<Vec<_>>().join(",")
            };
            (t.tier.as_str(), t.requests, t.rejected, t.deprioritized, mix(&t.cache), mix(&t.routes))
        })
        .collect();
    assert_eq!(
        tiers,
        [
            ("gold", 3, 0, 0, "none=3".to_owned(), "gold-pool/fast=3".to_owned()),
            ("free", 6, 1, 2, "no-store=3,public=3".to_owned(), "default=6".to_owned()),
        ]
    );
    let shadowed: Vec<_> = report.shadowed_actions.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(shadowed, [("cache", 2), ("route", 0), ("throttle", 0)]);
    // Keys: the anonymous free visitor's IP under the tier policy, and one IP under api's.
    let state = report.throttle_state.as_ref().unwrap();
    assert_eq!((state.keys, state.high_water, state.evictions), (2, 2, 0));
    assert_eq!(report.consent.violations, 0);
}
