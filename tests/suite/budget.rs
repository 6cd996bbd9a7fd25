//! The run-time evaluation budget (issue 10): a rule whose loops would run or allocate without
//! bound (a `reduce` that doubles a string, `some` nested over large arrays) stops, does not match
//! and is counted — natively and inside the wasm module under wasmtime — while the other segments
//! of the same request decide as usual.

use edgeseg::{Engine, Request};
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_tests::{scratch_per_call, spec, wasm_module};
use serde_json::json;

fn snapshot() -> Vec<u8> {
    let big: Vec<u32> = (0..2000).collect();
    // Neither hog is constant (both start from the request's path), so the builder cannot fold
    // them; `var` inside a body reads the element.
    let doubler = json!({"reduce": [(0..64).collect::<Vec<u32>>(),
        {"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, {"var": "path"}]});
    let nested = json!({"some": [{"merge": [{"var": "path"}, big]},
        {"some": [{"merge": [{"var": "x"}, big]}, {"==": [{"var": ""}, -1]}]}]});
    let spec = spec::SpecFile {
        description: String::new(),
        definitions: json!({
            "id": "budget", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract"], "tiers": ["standard"],
            "segments": [
                {"name": "doubler", "purpose": "contract", "precedence": 30, "rule": doubler},
                {"name": "nested", "purpose": "contract", "precedence": 20, "rule": nested},
                {"name": "plain", "purpose": "contract", "precedence": 10, "rule": {"!!": [{"var": "path"}]}}
            ]
        }),
        members: vec![json!({"id": "alice", "consents": []})],
        cases: vec![],
    };
    spec::build_snapshot(&spec, &scratch_per_call("budget"))
}

fn request() -> Request<'static> {
    Request { method: "GET", host: "shop.example", path: "/cart", now_ms: 1_763_700_000_000, ..Request::default() }
}

#[test]
fn budget_hogging_rules_do_not_match_and_are_counted_natively() {
    let mut engine = Engine::load(&snapshot()).unwrap();
    for round in 1..=2u64 {
        let d = engine.decide(&request());
        assert_eq!(d.segments, ["plain"]);
        assert_eq!(d.budget_skipped, ["doubler", "nested"]);
        assert_eq!(engine.stats().rule_budget_skips, 2 * round);
    }
    // A budget too small for even the plain rule skips it as well; a large one changes nothing
    // for it.
    engine.set_eval_budget(1);
    assert_eq!(engine.decide(&request()).budget_skipped, ["doubler", "nested", "plain"]);
    engine.set_eval_budget(1 << 16);
    assert_eq!(engine.decide(&request()).segments, ["plain"]);
}

#[test]
fn budget_hogging_rules_do_not_match_and_are_counted_in_wasmtime() {
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&snapshot()).unwrap();
    for round in 1..=2u64 {
        let (segments, skipped) = guest
            .decide_with(&request(), |d| {
                let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
                (owned(&d.segments), owned(&d.budget_skipped))
            })
            .unwrap();
        assert_eq!(segments, ["plain"]);
        assert_eq!(skipped, ["doubler", "nested"]);
        assert_eq!(guest.stats().unwrap().rule_budget_skips, 2 * round);
    }
}
