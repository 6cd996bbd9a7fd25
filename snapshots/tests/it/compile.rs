//! JSON Logic → IR: every operator, folding, slots, and errors that say where.

use edgeseg::rule::{CompareOp, Literal, MAX_DEPTH, Node, Rule, Slot};
use edgeseg_snapshots::BuildErrorKind;
use edgeseg_snapshots::compile::{Mode, compile_rule, compile_segment_rule};
use serde_json::{Value, json};

const SEGS: &[&str] = &["premium", "churn"];

fn req(v: Value) -> Rule {
    compile_rule(&v, Mode::Request, SEGS, "rule").unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn err(v: Value, mode: Mode) -> edgeseg_snapshots::BuildError {
    compile_rule(&v, mode, SEGS, "segments[3].rule").unwrap_err()
}

fn lit_s(s: &str) -> Node {
    Node::Literal(Literal::String(s.into()))
}

fn var(slot: Slot) -> Node {
    Node::Var { slot, default: None }
}

#[test]
fn var_resolves_request_slots() {
    for (path, slot) in [
        ("method", Slot::Method),
        ("host", Slot::Host),
        ("path", Slot::Path),
        ("country", Slot::Country),
        ("now", Slot::Now),
        ("now_ms", Slot::NowMs),
        ("headers.User-Agent", Slot::Header("user-agent".into())),
        ("cookies.Beta", Slot::Cookie("Beta".into())),
        ("attributes.device", Slot::Attribute("device".into())),
    ] {
        assert_eq!(req(json!({"var": path})).nodes, vec![var(slot.clone())], "{path}");
        assert_eq!(req(json!({"var": [path]})).nodes, vec![var(slot)], "[{path}]");
    }
    let with_default = req(json!({"var": ["headers.x-lang", "en"]}));
    assert_eq!(
        with_default.nodes,
        vec![lit_s("en"), Node::Var { slot: Slot::Header("x-lang".into()), default: Some(0) }]
    );
}

#[test]
fn var_in_profile_mode_names_attributes() {
    for path in ["plan", "attributes.plan"] {
        let r = compile_rule(&json!({"var": path}), Mode::Profile, &[], "w").unwrap();
        assert_eq!(r.nodes, vec![var(Slot::Attribute("plan".into()))]);
    }
    // A request root is just another attribute name in a profile.
    let r = compile_rule(&json!({"var": "country"}), Mode::Profile, &[], "w").unwrap();
    assert_eq!(r.nodes, vec![var(Slot::Attribute("country".into()))]);
}

#[test]
fn comparisons() {
    for (op, cop) in [
        ("==", CompareOp::Eq),
        ("!=", CompareOp::Ne),
        ("===", CompareOp::StrictEq),
        ("!==", CompareOp::StrictNe),
        ("<", CompareOp::Lt),
        ("<=", CompareOp::Le),
        (">", CompareOp::Gt),
        (">=", CompareOp::Ge),
    ] {
        let r = req(json!({op: [{"var": "path"}, "/x"]}));
        assert_eq!(r.nodes, vec![var(Slot::Path), lit_s("/x"), Node::Compare { op: cop, args: vec![0, 1] }], "{op}");
    }
    // Between forms.
    for (op, cop) in [("<", CompareOp::Lt), ("<=", CompareOp::Le)] {
        // Constants are emitted when their parent is, after the dynamic operands compiled before.
        let r = req(json!({op: [1, {"var": "now"}, 5]}));
        assert_eq!(
            r.nodes,
            vec![
                var(Slot::Now),
                Node::Literal(Literal::Number(1.0)),
                Node::Literal(Literal::Number(5.0)),
                Node::Compare { op: cop, args: vec![1, 0, 2] }
            ]
        );
    }
    // Every comparison chains (the community's form).
    let r = req(json!({">": [1, {"var": "now"}, 5]}));
    assert_eq!(r.nodes.last(), Some(&Node::Compare { op: CompareOp::Gt, args: vec![1, 0, 2] }));
    assert!(err(json!({"==": [1]}), Mode::Request).message().contains("got 1"));
}

#[test]
fn in_and_or_not_truthy_if() {
    let r = req(json!({"in": ["Mobile", {"var": "headers.user-agent"}]}));
    assert_eq!(
        r.nodes,
        vec![var(Slot::Header("user-agent".into())), lit_s("Mobile"), Node::In { needle: 1, haystack: 0 }]
    );
    let r = req(json!({"in": [{"var": "country"}, ["DE", "FR"]]}));
    assert_eq!(
        r.nodes,
        vec![
            var(Slot::Country),
            Node::Literal(Literal::Array(vec![Literal::String("DE".into()), Literal::String("FR".into())])),
            Node::In { needle: 0, haystack: 1 }
        ]
    );
    let r = req(json!({"and": [{"var": "path"}, {"var": "host"}]}));
    assert_eq!(r.nodes, vec![var(Slot::Path), var(Slot::Host), Node::And(vec![0, 1])]);
    let r = req(json!({"or": [{"var": "path"}, {"var": "host"}]}));
    assert_eq!(r.nodes.last(), Some(&Node::Or(vec![0, 1])));
    // `!` and `!!` take their operand wrapped or bare.
    for v in [json!({"!": [{"var": "path"}]}), json!({"!": {"var": "path"}})] {
        assert_eq!(req(v).nodes, vec![var(Slot::Path), Node::Not(0)]);
    }
    for v in [json!({"!!": [{"var": "path"}]}), json!({"!!": {"var": "path"}})] {
        assert_eq!(req(v).nodes, vec![var(Slot::Path), Node::Truthy(0)]);
    }
    // `!` of a one-element array literal must be written wrapped: [[x]].
    assert_eq!(req(json!({"!": [[]]})).nodes, vec![Node::Literal(Literal::Bool(true))]);
    let r = req(json!({"if": [{"var": "path"}, "a", {"var": "host"}, "b", "c"]}));
    assert_eq!(
        r.nodes,
        vec![var(Slot::Path), var(Slot::Host), lit_s("a"), lit_s("b"), lit_s("c"), Node::If(vec![0, 2, 1, 3, 4])]
    );
    // The community's zero-operand forms: null.
    for empty in ["and", "or", "if", "?:"] {
        assert_eq!(req(json!({ empty: [] })).nodes, vec![Node::Literal(Literal::Null)], "{empty}");
    }
    assert!(err(json!({"!": [1, 2]}), Mode::Request).message().contains("`!` takes 1 argument"));
}

#[test]
fn in_segment_resolves_names_to_final_indices() {
    assert_eq!(req(json!({"in_segment": "churn"})).nodes, vec![Node::InSegment(1)]);
    assert_eq!(req(json!({"in_segment": ["premium"]})).nodes, vec![Node::InSegment(0)]);
    let e = err(json!({"in_segment": "gold"}), Mode::Request);
    assert_eq!((e.kind(), e.field()), (BuildErrorKind::Rule, Some("segments[3].rule")));
    assert!(e.message().contains("unknown segment \"gold\""), "{e}");
    let e = err(json!({"in_segment": "premium"}), Mode::Profile);
    assert!(e.message().contains("request rules only"), "{e}");
}

#[test]
fn consent_resolves_purpose_names_and_is_never_folded() {
    let purposes = ["contract", "personalisation", "marketing"];
    let compile = |json: serde_json::Value, mode| {
        compile_segment_rule(&json, mode, &["promo"], &purposes, &|_| true, Some("promo"), "segments[0].rule")
    };
    assert_eq!(compile(json!({"consent": "marketing"}), Mode::Request).unwrap().nodes, vec![Node::Consent(2)]);
    // Over constants it still reads the request: `!` of it stays a node, not a folded literal.
    assert_eq!(
        compile(json!({"!": {"consent": ["personalisation"]}}), Mode::Request).unwrap().nodes,
        vec![Node::Consent(1), Node::Not(0)]
    );
    let e = compile(json!({"consent": "ads"}), Mode::Request).unwrap_err();
    assert_eq!((e.kind(), e.field()), (BuildErrorKind::Rule, Some("segments[0].rule")));
    assert!(e.message().contains("unknown purpose \"ads\" (declared: contract, personalisation, marketing)"), "{e}");
    let e = compile(json!({"consent": ["marketing", "contract"]}), Mode::Request).unwrap_err();
    assert!(e.message().contains("takes 1 purpose name, got 2"), "{e}");
    let e = compile(json!({"consent": "marketing"}), Mode::Profile).unwrap_err();
    assert!(e.message().contains("request rules only"), "{e}");
}

#[test]
fn constants_fold_with_edge_semantics() {
    let folded = |v: Value| req(v).nodes;
    assert_eq!(folded(json!({"==": [1, "1"]})), vec![Node::Literal(Literal::Bool(true))]);
    assert_eq!(folded(json!({"===": [1, "1"]})), vec![Node::Literal(Literal::Bool(false))]);
    assert_eq!(folded(json!({"!": {"<": [1, 2]}})), vec![Node::Literal(Literal::Bool(false))]);
    assert_eq!(folded(json!({"in": ["b", ["a", "b"]]})), vec![Node::Literal(Literal::Bool(true))]);
    assert_eq!(folded(json!({"or": [0, "", "x"]})), vec![lit_s("x")]);
    assert_eq!(folded(json!({"if": [false, 1, 2]})), vec![Node::Literal(Literal::Number(2.0))]);
    assert_eq!(
        folded(json!(["a", {"==": [1, 1]}])),
        vec![Node::Literal(Literal::Array(vec![Literal::String("a".into()), Literal::Bool(true)]))]
    );
    // A constant subtree inside a dynamic rule folds too; the dynamic part stays.
    let r = req(json!({"and": [{"var": "path"}, {"<": [1, 2, 3]}]}));
    assert_eq!(r.nodes, vec![var(Slot::Path), Node::Literal(Literal::Bool(true)), Node::And(vec![0, 1])]);
    // An array with a dynamic element stays an array node.
    let r = req(json!({"in": ["x", ["a", {"var": "path"}]]}));
    assert_eq!(
        r.nodes,
        vec![var(Slot::Path), lit_s("a"), Node::Array(vec![1, 0]), lit_s("x"), Node::In { needle: 3, haystack: 2 }]
    );
}

#[test]
fn identical_literals_are_stored_once() {
    let r = req(json!({"or": [{"==": [{"var": "country"}, "DE"]}, {"==": [{"var": "cookies.c"}, "DE"]}]}));
    let de = r.nodes.iter().filter(|n| **n == lit_s("DE")).count();
    assert_eq!(de, 1, "{:?}", r.nodes);
    r.validate(0).unwrap();
}

#[test]
fn unknown_operator_names_it_and_where_it_stands() {
    let e = err(json!({"and": [{"var": "path"}, {"foo": [1]}]}), Mode::Request);
    assert_eq!(e.kind(), BuildErrorKind::Rule);
    assert_eq!(e.field(), Some("segments[3].rule.and[1]"));
    assert_eq!(e.to_string(), "field `segments[3].rule.and[1]`: unknown operator \"foo\"");
    let e = err(json!({"!": {"if": [true, {"concat": ["a"]}]}}), Mode::Request);
    assert_eq!(e.field(), Some("segments[3].rule.!.if[1]"));
}

#[test]
fn val_takes_its_path_by_segments() {
    // At the edge the segments name a request slot.
    assert_eq!(req(json!({"val": ["headers", "X-Lang"]})).nodes, vec![var(Slot::Header("x-lang".into()))]);
    assert_eq!(req(json!({"val": ["country"]})).nodes, vec![var(Slot::Country)]);
    let e = err(json!({"val": [{"cat": ["coun", "try"]}]}), Mode::Request);
    assert!(e.message().contains("constant string or index"), "{e}");
    assert_eq!(e.field(), Some("segments[3].rule.val[0]"));
}

#[test]
fn malformed_rules_are_refused() {
    let e = err(json!({"==": [1, 2], "!=": [1, 2]}), Mode::Request);
    assert!(e.message().contains("exactly one key"), "{e}");
    // `{}` is an empty object, a value (falsy).
    assert_eq!(req(json!({"!": {}})).nodes, vec![Node::Literal(Literal::Bool(true))]);
    let e = err(json!({"var": "user.plan"}), Mode::Request);
    assert_eq!(e.field(), Some("segments[3].rule.var"));
    assert!(e.message().contains("unknown variable \"user.plan\"") && e.message().contains("headers.<name>"), "{e}");
    assert!(err(json!({"var": "headers."}), Mode::Request).message().contains("unknown variable"));
    assert!(err(json!({"var": 0}), Mode::Request).message().contains("must be a string"));
    assert!(err(json!({"var": ""}), Mode::Profile).message().contains("empty"));
    assert!(err(json!({"var": ["a", 1, 2]}), Mode::Profile).message().contains("optional default"));
}

#[test]
fn depth_and_size_limits_are_limit_errors() {
    let mut deep = json!({"var": "path"});
    for _ in 0..MAX_DEPTH {
        deep = json!({"!": deep});
    }
    let e = err(deep, Mode::Request);
    assert_eq!(e.kind(), BuildErrorKind::Limit, "{e}");
    let mut ok = json!({"var": "path"});
    for _ in 1..MAX_DEPTH {
        ok = json!({"!": ok});
    }
    assert_eq!(req(ok).nodes.len(), MAX_DEPTH);

    let wide: Vec<Value> = (0..5000).map(|i| json!({"==": [{"var": "path"}, format!("/{i}")]})).collect();
    let e = err(json!({"or": wide}), Mode::Request);
    assert_eq!(e.kind(), BuildErrorKind::Limit, "{e}");
}

#[test]
fn arithmetic_and_string_operators_compile_and_fold() {
    use edgeseg::rule::ArithOp;
    let num = |x: f64| Node::Literal(Literal::Number(x));
    let folded = |v: Value| req(v).nodes;
    assert_eq!(folded(json!({"+": [1, "2", 3]})), vec![num(6.0)]);
    assert_eq!(folded(json!({"+": "3.5"})), vec![num(3.5)]);
    assert_eq!(folded(json!({"-": 2})), vec![num(-2.0)]);
    assert_eq!(folded(json!({"*": [2, 2.5]})), vec![num(5.0)]);
    assert_eq!(folded(json!({"%": [7, 3]})), vec![num(1.0)]);
    assert_eq!(folded(json!({"max": [1, 5, 3]})), vec![num(5.0)]);
    assert_eq!(folded(json!({"-": [10, 2, 3]})), vec![num(5.0)]);
    assert_eq!(folded(json!({"/": [12, 2, 3]})), vec![num(2.0)]);
    assert_eq!(folded(json!({"*": []})), vec![num(1.0)]);
    // A constant that fails is not folded: it stays, to fail where it is evaluated.
    assert_eq!(folded(json!({"min": []})), vec![Node::Arith { op: ArithOp::Min, args: vec![] }]);
    assert_eq!(
        folded(json!({"/": [1, 0]})),
        vec![num(1.0), num(0.0), Node::Arith { op: ArithOp::Div, args: vec![0, 1] }]
    );
    assert_eq!(folded(json!({"cat": ["a", null, 1, [2, 3]]})), vec![lit_s("a12,3")]);
    assert_eq!(folded(json!({"substr": ["jsonlogic", -5, -2]})), vec![lit_s("log")]);
    assert_eq!(
        folded(json!({"merge": [[1], 2, [[3]]]})),
        vec![Node::Literal(Literal::Array(vec![
            Literal::Number(1.0),
            Literal::Number(2.0),
            Literal::Array(vec![Literal::Number(3.0)])
        ]))]
    );
    assert_eq!(folded(json!({"log": {"==": [1, 1]}})), vec![Node::Literal(Literal::Bool(true))]);
    assert_eq!(folded(json!({"starts_with": ["premium-eu", "premium"]})), vec![Node::Literal(Literal::Bool(true))]);
    assert_eq!(folded(json!({"ends_with": [5, "5"]})), vec![Node::Literal(Literal::Bool(false))]);
    assert_eq!(folded(json!({"sem_ver": ["1.2.3", "^", "1.0.0"]})), vec![Node::Literal(Literal::Bool(true))]);
    assert_eq!(folded(json!({"sem_ver": ["nope", "=", "1.0.0"]})), vec![Node::Literal(Literal::Null)]);
    assert_eq!(folded(json!({"fractional": ["user-28", ["canary", 5], ["rest", 95]]})), vec![lit_s("canary")]);

    let r = req(json!({"+": [{"var": "now"}, 1]}));
    assert_eq!(r.nodes, vec![var(Slot::Now), num(1.0), Node::Arith { op: ArithOp::Add, args: vec![0, 1] }]);
    let r = req(json!({"starts_with": [{"var": "path"}, "/api"]}));
    assert_eq!(r.nodes, vec![var(Slot::Path), lit_s("/api"), Node::Affix { suffix: false, text: 0, affix: 1 }]);

    for (rule, want) in [
        (json!({"substr": ["a"]}), "`substr` takes 2 or 3 arguments"),
        (json!({"sem_ver": ["1.0.0", "="]}), "`sem_ver` takes 3 arguments"),
        (json!({"log": [1, 2]}), "`log` takes 1 argument"),
        (json!({"fractional": [["a", 1], ["b", 1]]}), "explicit bucketing key"),
        (json!({"map": [[1]]}), "`map` takes 2 arguments"),
    ] {
        let e = err(rule.clone(), Mode::Request);
        assert!(e.message().contains(want), "{rule}: {e}");
    }
}

#[test]
fn fractional_defaults_to_segment_name_plus_customer_id_and_nothing_exposes_the_id() {
    let rule = compile_segment_rule(
        &json!({"fractional": [["on", 1], ["off", 1]]}),
        Mode::Request,
        &["rollout"],
        &[],
        &|_| true,
        Some("rollout"),
        "segments[0].rule",
    )
    .unwrap();
    // if(id, fractional(cat("rollout", id), …), null): anonymous requests get no bucket.
    let id = rule.nodes.iter().position(|n| *n == var(Slot::Identity)).expect("identity slot");
    let Some(Node::If(branches)) = rule.nodes.last() else { panic!("root is not an if: {:?}", rule.nodes) };
    assert_eq!(branches[0] as usize, id);
    assert!(matches!(rule.nodes[branches[1] as usize], Node::Fractional { .. }));
    assert!(rule.nodes.iter().any(|n| matches!(n, Node::Cat(parts) if parts.len() == 2 && parts[1] as usize == id)));
    assert_eq!(rule.nodes[branches[2] as usize], Node::Literal(Literal::Null));
    // No user-written path reaches the id: a rule comparing it with a literal would ship a raw id.
    for path in ["identity", "id", "user.id", "customer_id"] {
        let e = err(json!({"==": [{"var": path}, "alice"]}), Mode::Request);
        assert_eq!(e.kind(), BuildErrorKind::Rule, "{path}: {e}");
    }
}

#[test]
fn iteration_bodies_read_the_element_not_the_request() {
    use edgeseg::rule::{ArithOp, IterOp};
    let here = |path: &[&str]| Node::ScopeVar { path: path.iter().map(|p| p.to_string()).collect(), default: None };
    // Inside the body `var` is a ScopeVar, even when it looks like a request path.
    let r = req(json!({"some": [{"merge": [{"var": "attributes.a"}]}, {"==": [{"var": "country"}, 1]}]}));
    assert_eq!(
        r.nodes,
        vec![
            var(Slot::Attribute("a".into())),
            Node::Merge(vec![0]),
            here(&["country"]),
            Node::Literal(Literal::Number(1.0)),
            Node::Compare { op: CompareOp::Eq, args: vec![2, 3] },
            Node::Iterate { op: IterOp::Some, array: 1, body: 4 },
        ]
    );
    let r = req(json!({"reduce": [{"var": "attributes.a"}, {"+": [{"var": "current.0"}, {"var": "accumulator"}]}, 0]}));
    assert_eq!(
        r.nodes,
        vec![
            var(Slot::Attribute("a".into())),
            here(&["current", "0"]),
            here(&["accumulator"]),
            Node::Arith { op: ArithOp::Add, args: vec![1, 2] },
            Node::Literal(Literal::Number(0.0)),
            Node::Reduce { array: 0, body: 3, initial: Some(4) },
        ]
    );
    // Numeric and empty paths; constant arrays fold through their bodies.
    let folded = |v: Value| req(v).nodes;
    let nums = |xs: &[f64]| Node::Literal(Literal::Array(xs.iter().map(|x| Literal::Number(*x)).collect()));
    assert_eq!(folded(json!({"map": [[[1, 2], [3, 4]], {"var": 1}]})), vec![nums(&[2.0, 4.0])]);
    assert_eq!(folded(json!({"filter": [[1, 2, 3], {"%": [{"var": ""}, 2]}]})), vec![nums(&[1.0, 3.0])]);
    assert_eq!(folded(json!({"all": [[], true]})), vec![Node::Literal(Literal::Bool(false))]);
    assert_eq!(folded(json!({"none": [[0, ""], {"var": ""}]})), vec![Node::Literal(Literal::Bool(true))]);
    assert_eq!(
        folded(json!({"reduce": [[1, 2, 3], {"*": [{"var": "current"}, {"var": "accumulator"}]}, 1]})),
        vec![Node::Literal(Literal::Number(6.0))]
    );
    // Nested: the inner body sees the inner element only.
    assert_eq!(
        folded(
            json!({"map": [[[1, 2], [3, 4]], {"reduce": [{"var": ""}, {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}]})
        ),
        vec![nums(&[3.0, 7.0])]
    );
}

#[test]
fn missing_resolves_keys_like_var() {
    use edgeseg::rule::MissingKey;
    let key = |name: &str, var| MissingKey { name: name.into(), var };
    let r = req(json!({"missing": ["country", "cookies.uid"]}));
    assert_eq!(
        r.nodes,
        vec![
            var(Slot::Country),
            var(Slot::Cookie("uid".into())),
            Node::Missing(vec![key("country", 0), key("cookies.uid", 1)])
        ]
    );
    assert_eq!(req(json!({"missing": [["country"]]})).nodes.last(), Some(&Node::Missing(vec![key("country", 0)])));
    let r = req(json!({"missing_some": [1, ["country", "host"]]}));
    assert_eq!(
        r.nodes,
        vec![
            Node::Literal(Literal::Number(1.0)),
            var(Slot::Country),
            var(Slot::Host),
            Node::MissingSome { need: 0, keys: vec![key("country", 1), key("host", 2)] }
        ]
    );
    for (rule, want) in [
        (json!({"missing": [{"var": "path"}]}), "constant strings"),
        (json!({"missing": ["user.plan"]}), "unknown variable \"user.plan\""),
        (json!({"missing_some": [1, "country"]}), "keys as an array"),
        (json!({"missing_some": [["country"]]}), "takes 2 arguments"),
        (json!({"map": [[1], {"missing": ["country"]}]}), "inside an iteration body"),
    ] {
        let e = err(rule.clone(), Mode::Request);
        assert!(e.message().contains(want), "{rule}: {e}");
    }
    let e = err(json!({"and": [true, {"missing": ["country", 3]}]}), Mode::Request);
    assert_eq!(e.field(), Some("segments[3].rule.and[1].missing[1]"));
}

/// The examples on jsonlogic.com's operations page (and json-logic-js's behaviour for the corners),
/// evaluated by constant folding — which runs the edge's own evaluator.
#[test]
fn operations_page_examples_fold_to_their_documented_results() {
    let cases = [
        (json!({"max": [1, 2, 3]}), json!(3)),
        (json!({"min": [1, 2, 3]}), json!(1)),
        (json!({"+": [4, 2]}), json!(6)),
        (json!({"-": [4, 2]}), json!(2)),
        (json!({"*": [4, 2]}), json!(8)),
        (json!({"/": [4, 2]}), json!(2)),
        (json!({"+": [2, 2, 2, 2, 2]}), json!(10)),
        (json!({"*": [2, 2, 2, 2, 2]}), json!(32)),
        (json!({"-": 2}), json!(-2)),
        (json!({"-": -2}), json!(2)),
        (json!({"+": "3.25"}), json!(3.25)),
        (json!({"%": [101, 2]}), json!(1)),
        (json!({"map": [[1, 2, 3, 4, 5], {"*": [{"var": ""}, 2]}]}), json!([2, 4, 6, 8, 10])),
        (json!({"filter": [[1, 2, 3, 4, 5], {"%": [{"var": ""}, 2]}]}), json!([1, 3, 5])),
        (json!({"reduce": [[1, 2, 3, 4, 5], {"+": [{"var": "current"}, {"var": "accumulator"}]}, 0]}), json!(15)),
        (json!({"all": [[1, 2, 3], {">": [{"var": ""}, 0]}]}), json!(true)),
        (json!({"some": [[-1, 0, 1], {">": [{"var": ""}, 0]}]}), json!(true)),
        (json!({"none": [[-3, -2, -1], {">": [{"var": ""}, 0]}]}), json!(true)),
        (json!({"merge": [[1, 2], [3, 4]]}), json!([1, 2, 3, 4])),
        (json!({"merge": [1, 2, [3, 4]]}), json!([1, 2, 3, 4])),
        (json!({"in": ["Spring", "Springfield"]}), json!(true)),
        (json!({"cat": ["I love", " pie"]}), json!("I love pie")),
        (json!({"cat": ["I love ", "apple", " pie"]}), json!("I love apple pie")),
        (json!({"substr": ["jsonlogic", 4]}), json!("logic")),
        (json!({"substr": ["jsonlogic", -5]}), json!("logic")),
        (json!({"substr": ["jsonlogic", 0, 1]}), json!("j")),
        (json!({"substr": ["jsonlogic", -1]}), json!("c")),
        (json!({"substr": ["jsonlogic", 4, -2]}), json!("log")),
        (json!({"log": "apple"}), json!("apple")),
        (json!({"all": [[], {">": [{"var": ""}, 0]}]}), json!(false)),
        (json!({"none": [[], true]}), json!(true)),
        (json!({"reduce": [[], {"+": [1, 1]}]}), json!(null)),
        (json!({"reduce": ["not an array", {"+": [1, 1]}, 7]}), json!(7)),
        (json!({"cat": [1.5, "|", 1e21, "|", 0.0000001]}), json!("1.5|1e+21|1e-7")),
    ];
    for (rule, want) in cases {
        let r = req(rule.clone());
        let want = match &want {
            Value::Null => Literal::Null,
            Value::Bool(b) => Literal::Bool(*b),
            Value::Number(n) => Literal::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Literal::String(s.clone()),
            Value::Array(items) => {
                Literal::Array(items.iter().map(|i| Literal::Number(i.as_f64().unwrap_or(f64::NAN))).collect())
            }
            Value::Object(_) => unreachable!(),
        };
        assert_eq!(r.nodes, vec![Node::Literal(want)], "{rule}");
    }
}

/// Issue 19: the edge compares the path lower-cased, so a path literal with a capital letter would
/// silently never match (a no-store guard for "/Account" guarding nothing): refused at build.
#[test]
fn upper_case_path_literals_are_refused() {
    for rule in [
        json!({"starts_with": [{"var": "path"}, "/Account"]}),
        json!({"==": [{"var": "path"}, "/p/Item"]}),
        json!({"in": ["/Checkout", {"var": "path"}]}),
        json!({"in": [{"var": "path"}, ["/a", "/B"]]}),
        json!({"and": [{"==": [{"var": "method"}, "GET"]}, {"ends_with": [{"var": "path"}, ".HTML"]}]}),
    ] {
        let e = err(rule.clone(), Mode::Request);
        assert_eq!(e.kind(), BuildErrorKind::Rule, "{rule}: {e}");
        assert!(e.to_string().contains("lower-cased"), "{rule}: {e}");
    }
    // Lower case, a query part in any case, other slots in any case: fine.
    for rule in [
        json!({"starts_with": [{"var": "path"}, "/account"]}),
        json!({"==": [{"var": "path"}, "/search?Q=A"]}),
        json!({"==": [{"var": "method"}, "GET"]}),
        json!({"==": [{"var": "headers.x-Path"}, "/Account"]}),
    ] {
        req(rule);
    }
    // Profile rules read member attributes, not the request path.
    compile_rule(&json!({"==": [{"var": "path"}, "/Account"]}), Mode::Profile, SEGS, "w").unwrap();
}
