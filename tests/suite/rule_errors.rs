//! Evaluation errors in segment rules (issue 24): a rule that fails (`{"*": [<a word>, 2]}` is the
//! community's NaN error) does not match its segment, and the failure is named in the decision and
//! counted — in the engine's stats natively and in wasmtime, and per segment in the replay report.

use edgeseg::{Engine, Request};
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::replay::{ReplayOptions, replay};
use edgeseg_host::traffic::TrafficReader;
use edgeseg_tests::{scratch_per_call, spec, wasm_module};
use serde_json::json;

fn snapshot() -> Vec<u8> {
    let spec = spec::SpecFile {
        description: String::new(),
        definitions: json!({
            "id": "rule-errors", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract"], "tiers": ["standard"],
            "segments": [
                // The path is a word: times 2 fails with NaN. Never folded (it reads the request).
                {"name": "doubled-path", "purpose": "contract", "precedence": 30, "rule": {">": [{"*": [{"var": "path"}, 2]}, 0]}},
                // A word against a number: Invalid Arguments.
                {"name": "host-is-one", "purpose": "contract", "precedence": 20, "rule": {"==": [{"var": "host"}, 1]}},
                {"name": "plain", "purpose": "contract", "precedence": 10, "rule": {"!!": [{"var": "path"}]}}
            ]
        }),
        members: vec![json!({"id": "alice", "consents": []})],
        cases: vec![],
    };
    spec::build_snapshot(&spec, &scratch_per_call("rule-errors"))
}

fn request() -> Request<'static> {
    Request { method: "GET", host: "shop.example", path: "/cart", now_ms: 1_763_700_000_000, ..Request::default() }
}

#[test]
fn failing_rules_do_not_match_and_are_counted_natively() {
    let mut engine = Engine::load(&snapshot()).unwrap();
    for round in 1..=2u64 {
        let d = engine.decide(&request());
        assert_eq!(d.segments, ["plain"]);
        assert_eq!(d.rule_errors, ["doubled-path", "host-is-one"]);
        assert!(d.budget_skipped.is_empty(), "an error is not a budget skip");
        assert_eq!(engine.stats().rule_errors, 2 * round);
        assert_eq!(engine.stats().rule_budget_skips, 0);
    }
}

#[test]
fn failing_rules_do_not_match_and_are_counted_in_wasmtime_and_replay() {
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&snapshot()).unwrap();
    let (segments, errors) = guest
        .decide_with(&request(), |d| {
            let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            (owned(&d.segments), owned(&d.rule_errors))
        })
        .unwrap();
    assert_eq!(segments, ["plain"]);
    assert_eq!(errors, ["doubled-path", "host-is-one"]);
    assert_eq!(guest.stats().unwrap().rule_errors, 2);

    // Three requests, each failing both rules.
    let log = ["/cart", "/12", "/x"]
        .iter()
        .map(|p| {
            format!(r#"{{"now_ms": 1763700000000, "method": "GET", "host": "shop.example", "path": "{p}"}}"#) + "\n"
        })
        .collect::<String>();
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&snapshot()).unwrap();
    let report = replay(&mut guest, TrafficReader::new(log.as_bytes()), &ReplayOptions::default()).unwrap();
    let errors = |name: &str| report.segments.iter().find(|s| s.segment == name).map(|s| s.rule_errors);
    assert_eq!(errors("doubled-path"), Some(3), "\"/12\" is no number: the path keeps its slash");
    assert_eq!(errors("host-is-one"), Some(3));
    assert_eq!(errors("plain"), Some(0));
    let text = report.to_text(false);
    assert!(text.contains("rule errors: doubled-path in 3 decisions (not matched)"), "{text}");
}
