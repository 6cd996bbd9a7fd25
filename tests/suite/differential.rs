//! Differential property test: generated rules and data, edgeseg against `datalogic-rs` 5.4.0
//! (the engine inside flagd-evaluator), errors compared too.
//!
//! datalogic-rs is the reference for the JSON Logic community semantics. The generator is untyped
//! (any operator over numbers, numeric and other strings, null, booleans, arrays, objects and
//! variables, any operand count) and nothing is filtered out: every generated case runs on both
//! engines and must give the same value, or the same error kind (`NaN`, `Invalid Arguments`; a
//! rule edgeseg refuses to build counts as datalogic-rs's `InvalidArguments`/`InvalidOperator`).
//! A disagreement passes only when an entry of [`ALLOWED`] — a deliberate difference, with its
//! reason — claims it; each entry has a test below pinning both engines' answers on one case, so
//! an entry that stops being true fails.
//!
//! [`CASES`] per run (`cargo xtask test` runs it); `EDGESEG_DIFF_CASES=N` runs more, and
//! `EDGESEG_DIFF_EXPLORE=1` prints every disagreement instead of stopping at the first.

use datalogic_rs::Engine;
use edgeseg::rule::{DEFAULT_EVAL_BUDGET, EvalError, Halt};
use edgeseg_snapshots::compile::{compile_data, literal_from_json, literal_to_json};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Generated (rule, data) pairs per run.
const CASES: u32 = 100_000;

/// What an engine made of a rule over a document.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Value(Value),
    /// An evaluation error of this kind (`NaN`, `InvalidArguments`, …).
    Error(String),
    /// edgeseg refused to build the rule (its message).
    Refused(String),
}

fn edgeseg(rule: &Value, data: &Value) -> Outcome {
    let rule = match compile_data(rule) {
        Ok(rule) => rule,
        Err(e) => return Outcome::Refused(e.to_string()),
    };
    let data = literal_from_json(data).unwrap_or_else(|e| panic!("data: {e}"));
    match rule.evaluate_data_within(&data, DEFAULT_EVAL_BUDGET) {
        Ok(v) => Outcome::Value(literal_to_json(&v.to_literal())),
        Err(Halt::Error(EvalError::NaN)) => Outcome::Error("NaN".into()),
        Err(Halt::Error(EvalError::InvalidArguments)) => Outcome::Error("InvalidArguments".into()),
        Err(Halt::Budget) => Outcome::Refused("evaluation budget exceeded".into()),
    }
}

fn datalogic(engine: &Engine, rule: &Value, data: &Value) -> Outcome {
    match engine.eval_into::<Value, _, _>(rule, data.to_string().as_str()) {
        Ok(v) => Outcome::Value(v),
        Err(e) => match e.thrown_value().map(|t| t.to_string()) {
            Some(t) if t == r#"{"type":"NaN"}"# => Outcome::Error("NaN".into()),
            Some(t) => Outcome::Error(format!("Thrown {t}")),
            None => Outcome::Error(e.tag().to_string()),
        },
    }
}

/// Same JSON, numbers compared by value (`1` and `1.0` are one number).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn agree(ours: &Outcome, theirs: &Outcome) -> bool {
    match (ours, theirs) {
        (Outcome::Value(a), Outcome::Value(b)) => same(a, b),
        (Outcome::Error(a), Outcome::Error(b)) => a == b,
        (Outcome::Refused(_), Outcome::Error(kind)) => kind == "InvalidArguments" || kind == "InvalidOperator",
        _ => false,
    }
}

/// A deliberate difference from datalogic-rs.
struct Allowed {
    name: &'static str,
    reason: &'static str,
    /// Whether this difference explains a disagreement on `rule`.
    applies: fn(rule: &Value, ours: &Outcome, theirs: &Outcome) -> bool,
}

/// Every difference the property accepts. Each is pinned by a test of the same name below.
/// `build_time_arity` is deliberate; the others are operators not yet moved to the community's
/// semantics (issue 24's remaining work): they still follow json-logic-js, and each excuses only
/// rules that use one of its operators.
const ALLOWED: &[Allowed] = &[
    Allowed {
        name: "build_time_arity",
        reason: "deliberate: edgeseg refuses at build time an operand count an operator would ignore \
                 (`!` of two, `substr` of one, `in` of three): a rule that cannot mean what it says \
                 is a build error with its path, not a silent answer",
        applies: |_, ours, _| matches!(ours, Outcome::Refused(m) if m.contains(" takes ")),
    },
    Allowed {
        name: "literal_array_operand",
        reason: "deliberate: edgeseg folds constants before it evaluates, so `{\"+\": [[1, 2]]}` and \
                 `{\"+\": [{\"var\": \"xs\"}]}` over xs = [1, 2] are the same rule and both sum the \
                 array; datalogic-rs refuses the written array (NaN, or Invalid Arguments for max/min) \
                 but folds the read one",
        applies: |rule, ours, theirs| {
            lone_operand(rule) && matches!((ours, theirs), (Outcome::Value(_), Outcome::Error(_)))
        },
    },
    Allowed {
        name: "eager_operand_errors",
        reason: "not yet converted: edgeseg evaluates every operand before an operator checks any; \
                 datalogic-rs checks each as it goes and stops at the first that fails (or at a \
                 division by a zero that saturates). When a later operand fails too, the engines \
                 name different kinds, or only edgeseg fails",
        applies: |rule, ours, theirs| {
            matches!((ours, theirs), (Outcome::Error(_), Outcome::Error(_)))
                || (matches!(ours, Outcome::Error(_)) && uses(rule, &["/", "%"]))
        },
    },
    Allowed {
        name: "strings_not_yet_converted",
        reason: "not yet converted: `cat` `substr` `in` `starts_with` `ends_with` `merge` keep \
                 json-logic-js's String() conversions (arrays joined with commas, null as \"null\", \
                 objects \"[object Object]\", non-strings never start or end anything) and `merge` \
                 keeps null operands; datalogic-rs prints JSON and flattens",
        applies: |rule, _, _| uses(rule, &["cat", "substr", "in", "starts_with", "ends_with", "merge"]),
    },
    Allowed {
        name: "iteration_not_yet_converted",
        reason: "not yet converted: `map` `filter` `all` `some` `none` `reduce` over a non-array \
                 give json-logic-js's empty answers where datalogic-rs iterates a scalar or fails",
        applies: |rule, _, _| uses(rule, &["map", "filter", "all", "some", "none", "reduce"]),
    },
];

/// Whether `rule` has `+` `*` `max` or `min` of one operand.
fn lone_operand(rule: &Value) -> bool {
    match rule {
        Value::Object(map) => map.iter().any(|(k, v)| {
            let lone = !matches!(v, Value::Array(items) if items.len() != 1);
            (lone && ["+", "*", "max", "min"].contains(&k.as_str())) || lone_operand(v)
        }),
        Value::Array(items) => items.iter().any(lone_operand),
        _ => false,
    }
}

/// Whether `rule` uses any of `ops`.
fn uses(rule: &Value, ops: &[&str]) -> bool {
    match rule {
        Value::Object(map) => map.iter().any(|(k, v)| ops.contains(&k.as_str()) || uses(v, ops)),
        Value::Array(items) => items.iter().any(|v| uses(v, ops)),
        _ => false,
    }
}

fn allowed(rule: &Value, ours: &Outcome, theirs: &Outcome) -> Option<&'static str> {
    ALLOWED.iter().find(|a| (a.applies)(rule, ours, theirs)).map(|a| a.name)
}

// ---------------------------------------------------------------------------------------------
// The generator.

fn num_lit() -> impl Strategy<Value = Value> {
    prop_oneof![4 => (-3i64..10).prop_map(|n| json!(n)), 1 => prop::sample::select(vec![0.5, -2.5, 100.25]).prop_map(|x| json!(x))]
}

fn str_lit() -> impl Strategy<Value = Value> {
    prop::sample::select(vec!["", "a", "abc", "b", "B", "é", "1", "2.5", "10", "9", "x1", "true"])
        .prop_map(|s| json!(s))
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![4 => num_lit(), 3 => str_lit(), 1 => Just(Value::Null), 1 => any::<bool>().prop_map(Value::Bool)]
}

/// The data document: numbers `n`, `m`, strings `s`, `t`, a bool `b`, null `z`, numbers `xs`,
/// strings `ss`, an object `o` with a number `k`, an empty string `e`.
fn data() -> impl Strategy<Value = Value> {
    let nums = prop::collection::vec(num_lit(), 0..4);
    let strs = prop::collection::vec(str_lit(), 0..3);
    (num_lit(), num_lit(), str_lit(), str_lit(), any::<bool>(), nums, strs, num_lit()).prop_map(
        |(n, m, s, t, b, xs, ss, k)| {
            json!({"n": n, "m": m, "s": s, "t": t, "b": b, "z": null, "xs": xs, "ss": ss, "o": {"k": k}, "e": ""})
        },
    )
}

fn op(name: &str, args: Vec<Value>) -> Value {
    json!({ name: args })
}

fn sel(names: &[&'static str]) -> impl Strategy<Value = &'static str> + Clone + use<> {
    prop::sample::select(names.to_vec())
}

/// Any expression; `elem`: inside an iteration body, where `var ""` is the element.
fn expr(depth: u32, elem: bool) -> BoxedStrategy<Value> {
    let var = if elem {
        prop_oneof![Just(json!({"var": ""})), Just(json!({"var": ["", 0]})), Just(json!({"val": []}))].boxed()
    } else {
        let vals = vec![
            json!("n"),
            json!(["o", "k"]),
            json!(["xs", 1]),
            json!([]),
            json!("o.k"),
            json!(["ss", 0]),
            json!("z"),
        ];
        prop_oneof![
            sel(&["n", "m", "s", "t", "b", "z", "xs", "ss", "o.k", "e", "nope"]).prop_map(|p| json!({"var": p})),
            (sel(&["nope", "z", "n"]), scalar()).prop_map(|(p, d)| json!({"var": [p, d]})),
            prop::sample::select(vals).prop_map(|p| json!({"val": p})),
        ]
        .boxed()
    };
    let leaf = prop_oneof![
        6 => scalar(),
        4 => var,
        1 => prop::collection::vec(num_lit(), 0..3).prop_map(Value::Array),
        1 => Just(json!({})),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let sub = move || expr(depth - 1, elem);
    let args = move |lo: usize, hi: usize| prop::collection::vec(expr(depth - 1, elem), lo..hi);
    let array = move || {
        prop_oneof![
            2 => Just(json!({"var": "xs"})),
            1 => Just(json!({"var": "ss"})),
            1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
            1 => expr(depth - 1, false),
        ]
    };
    let body = move || expr(depth - 1, true);
    prop_oneof![
        6 => leaf,
        3 => (sel(&["+", "-", "*", "/", "%", "max", "min"]), args(0, 4)).prop_map(|(o, a)| op(o, a)),
        3 => (sel(&["==", "!=", "===", "!==", "<", "<=", ">", ">="]), args(2, 5)).prop_map(|(o, a)| op(o, a)),
        2 => (sel(&["and", "or", "if", "?:"]), args(0, 5)).prop_map(|(o, a)| op(o, a)),
        1 => (sel(&["!", "!!"]), sub()).prop_map(|(o, a)| op(o, vec![a])),
        1 => (sub(), sub()).prop_map(|(a, b)| op("in", vec![a, b])),
        1 => (sel(&["cat", "merge"]), args(0, 4)).prop_map(|(o, a)| op(o, a)),
        1 => args(2, 4).prop_map(|a| op("substr", a)),
        1 => (sel(&["starts_with", "ends_with"]), sub(), sub()).prop_map(|(o, a, b)| op(o, vec![a, b])),
        1 => (sel(&["map", "filter", "all", "some", "none"]), array(), body()).prop_map(|(o, a, b)| op(o, vec![a, b])),
        1 => (array(), sub()).prop_map(|(a, init)| {
            op("reduce", vec![a, json!({"+": [{"var": "current"}, {"var": "accumulator"}]}), init])
        }),
        1 => prop::collection::vec(sel(&["n", "s", "e", "z", "o.k", "nope"]), 0..4)
            .prop_map(|keys| json!({"missing": keys})),
        1 => (0u32..4, prop::collection::vec(sel(&["n", "s", "e", "z", "nope"]), 0..4))
            .prop_map(|(need, keys)| json!({"missing_some": [need, keys]})),
    ]
    .boxed()
}

fn rule() -> impl Strategy<Value = Value> {
    expr(3, false)
}

#[test]
fn edgeseg_agrees_with_datalogic_rs() {
    let engine = Engine::new();
    let explore = std::env::var_os("EDGESEG_DIFF_EXPLORE").is_some();
    let cases = std::env::var("EDGESEG_DIFF_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(CASES);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let disagreements = std::cell::RefCell::new(Vec::new());
    let excused = std::cell::RefCell::new(BTreeMap::<&str, u64>::new());
    let result = runner.run(&(rule(), data()), |(rule, data)| {
        let ours = edgeseg(&rule, &data);
        let theirs = datalogic(&engine, &rule, &data);
        if agree(&ours, &theirs) {
            return Ok(());
        }
        if let Some(name) = allowed(&rule, &ours, &theirs) {
            *excused.borrow_mut().entry(name).or_default() += 1;
            return Ok(());
        }
        if explore {
            disagreements.borrow_mut().push(format!("{rule}  data={data}\n  edgeseg={ours:?}\n  datalogic={theirs:?}"));
            return Ok(());
        }
        prop_assert!(false, "rule {rule} over {data}: edgeseg {ours:?}, datalogic-rs {theirs:?}");
        Ok(())
    });
    for d in disagreements.borrow().iter() {
        println!("{d}");
    }
    println!(
        "{cases} cases; {} disagreements; allowed differences: {:?}",
        disagreements.borrow().len(),
        excused.borrow()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(disagreements.borrow().is_empty(), "disagreements (see above)");
}

/// A deliberate difference, both ways: edgeseg gives `ours`, datalogic-rs `theirs`, and the
/// allow-list entry `name` claims it.
#[track_caller]
fn pinned(name: &str, rule: Value, data: Value, ours: Outcome, theirs: Outcome) {
    let got = (edgeseg(&rule, &data), datalogic(&Engine::new(), &rule, &data));
    assert_eq!(got.0, ours, "edgeseg on {rule}");
    assert_eq!(got.1, theirs, "datalogic-rs on {rule}: if it now agrees, drop `{name}`");
    assert!(!agree(&got.0, &got.1));
    assert_eq!(allowed(&rule, &got.0, &got.1), Some(name));
    assert!(ALLOWED.iter().any(|a| a.name == name && !a.reason.is_empty()));
}

#[test]
fn build_time_arity() {
    pinned(
        "build_time_arity",
        json!({"!": [1, 2]}),
        json!(null),
        Outcome::Refused("field `rule`: `!` takes 1 argument, got 2".into()),
        Outcome::Value(json!(false)),
    );
}

#[test]
fn literal_array_operand() {
    let rule = json!({"+": [[1, 2]]});
    pinned("literal_array_operand", rule, json!(null), Outcome::Value(json!(3)), Outcome::Error("NaN".into()));
    // The read array: the engines agree.
    let read = json!({"+": [{"var": "xs"}]});
    assert_eq!(edgeseg(&read, &json!({"xs": [1, 2]})), Outcome::Value(json!(3)));
    assert_eq!(datalogic(&Engine::new(), &read, &json!({"xs": [1, 2]})), Outcome::Value(json!(3)));
}

#[test]
fn eager_operand_errors() {
    pinned(
        "eager_operand_errors",
        json!({"min": ["a", {">=": ["B", {}]}]}),
        json!(null),
        Outcome::Error("NaN".into()),
        Outcome::Error("InvalidArguments".into()),
    );
    pinned(
        "eager_operand_errors",
        json!({"/": [1.5, "", {"max": []}]}),
        json!(null),
        Outcome::Error("InvalidArguments".into()),
        Outcome::Value(json!(f64::MAX)),
    );
}

#[test]
fn strings_not_yet_converted() {
    pinned(
        "strings_not_yet_converted",
        json!({"cat": ["a", [1, 2]]}),
        json!(null),
        Outcome::Value(json!("a1,2")),
        Outcome::Value(json!("a12")),
    );
    pinned(
        "strings_not_yet_converted",
        json!({"substr": [null, 1]}),
        json!(null),
        Outcome::Value(json!("ull")),
        Outcome::Value(json!("")),
    );
}

#[test]
fn iteration_not_yet_converted() {
    pinned(
        "iteration_not_yet_converted",
        json!({"filter": [7, {">=": [{"var": ""}, "a"]}]}),
        json!(null),
        Outcome::Value(json!([])),
        Outcome::Error("InvalidArguments".into()),
    );
}

#[test]
fn agreement_is_strict_about_error_kinds() {
    // The comparison itself can fail: a NaN error is not an Invalid Arguments error.
    assert!(!agree(&Outcome::Error("NaN".into()), &Outcome::Error("InvalidArguments".into())));
    assert!(!agree(&Outcome::Value(json!(null)), &Outcome::Error("NaN".into())));
    let engine = Engine::new();
    for (rule, kind) in [
        (json!({"*": ["a", 1]}), "NaN"),
        (json!({"/": [1, 0]}), "NaN"),
        (json!({"-": []}), "InvalidArguments"),
        (json!({"==": [1, "a"]}), "InvalidArguments"),
    ] {
        assert_eq!(edgeseg(&rule, &json!(null)), Outcome::Error(kind.into()), "{rule}");
        assert_eq!(datalogic(&engine, &rule, &json!(null)), Outcome::Error(kind.into()), "{rule}");
    }
}
