//! Evaluator tests over hand-built IR.

use super::*;
use crate::error::ErrorKind;
use alloc::vec;

fn n(x: f64) -> Value<'static> {
    Value::Number(x)
}
fn s(x: &'static str) -> Value<'static> {
    Value::Str(x)
}

struct NoEnv;
impl<'a> Env<'a> for NoEnv {
    fn slot(&self, _: &'a Slot) -> Value<'a> {
        Value::Null
    }
    fn in_segment(&self, s: u16) -> bool {
        s == 1
    }
}

#[test]
fn and_or_return_the_deciding_operand() {
    let rule = Rule {
        nodes: vec![
            Node::Literal(Literal::Number(0.0)),
            Node::Literal(Literal::String("x".into())),
            Node::Or(vec![0, 1]),
            Node::And(vec![1, 0]),
            Node::Array(vec![2, 3]),
        ],
    };
    rule.validate(0).unwrap();
    assert_eq!(rule.evaluate(&NoEnv), Value::Array(vec![s("x"), n(0.0)]));
}

#[test]
fn if_chains_and_defaults() {
    let rule = Rule {
        nodes: vec![
            Node::Literal(Literal::String("fallback".into())),
            Node::Var { slot: Slot::Header("x".into()), default: Some(0) },
            Node::InSegment(0),
            Node::InSegment(1),
            Node::Literal(Literal::String("zero".into())),
            Node::Literal(Literal::String("one".into())),
            Node::If(vec![2, 4, 3, 5, 1]),
        ],
    };
    rule.validate(2).unwrap();
    assert_eq!(rule.evaluate(&NoEnv), s("one"));
    let only_else = Rule {
        nodes: vec![Node::Literal(Literal::Null), Node::Var { slot: Slot::Path, default: Some(0) }, Node::If(vec![1])],
    };
    assert_eq!(only_else.evaluate(&NoEnv), Value::Null);
}

#[test]
fn validate_refuses_forward_refs_bad_arity_and_depth() {
    let fwd = Rule { nodes: vec![Node::Not(1), Node::Literal(Literal::Null)] };
    assert_eq!(fwd.validate(0).unwrap_err().kind(), ErrorKind::Invalid);
    let selfref = Rule { nodes: vec![Node::Not(0)] };
    assert!(selfref.validate(0).is_err());
    // Comparisons and arithmetic take any count: the counts without an answer fail when
    // evaluated (the community's Invalid Arguments), not at load.
    let one = Rule { nodes: vec![Node::Literal(Literal::Null), Node::Compare { op: CompareOp::Eq, args: vec![0] }] };
    assert!(one.validate(0).is_ok());
    assert_eq!(one.evaluate_within(&NoEnv, DEFAULT_EVAL_BUDGET), Err(Halt::Error(EvalError::InvalidArguments)));
    let chain =
        Rule { nodes: vec![Node::Literal(Literal::Null), Node::Compare { op: CompareOp::Gt, args: vec![0, 0, 0] }] };
    assert!(chain.validate(0).is_ok());
    assert_eq!(chain.evaluate_within(&NoEnv, DEFAULT_EVAL_BUDGET), Ok(Value::Bool(false)));
    let none = Rule { nodes: vec![Node::Arith { op: ArithOp::Sub, args: vec![] }] };
    assert!(none.validate(0).is_ok());
    assert!(!none.matches(&NoEnv), "a failed rule does not match");
    assert_eq!(none.matches_within(&NoEnv, 8), Err(Halt::Error(EvalError::InvalidArguments)));
    let seg = Rule { nodes: vec![Node::InSegment(3)] };
    assert!(seg.validate(3).is_err());
    let mut deep = vec![Node::Literal(Literal::Bool(true))];
    for i in 0..MAX_DEPTH as u32 {
        deep.push(Node::Not(i));
    }
    assert!(Rule { nodes: deep.clone() }.validate(0).is_err());
    deep.pop();
    assert!(Rule { nodes: deep }.validate(0).is_ok());
    assert!(Rule { nodes: vec![] }.validate(0).is_err());
}

/// Issue 10 (fuzzing): 61 nodes, node `i` the `+` of node `i - 1` twice — valid by depth and size,
/// but 2^60 evaluations. Found reviewing what bounds the `rule_eval` fuzz target's termination (a
/// 60 s run had not hit it); `validate` now counts shared subtrees.
#[test]
fn issue_10_shared_subtrees_are_bounded() {
    let bytes = include_bytes!("../../testdata/fuzz/rule_eval-shared-subtrees");
    let rule: Rule = postcard::from_bytes(bytes).unwrap();
    assert_eq!(rule.nodes.len(), 61);
    let err = rule.validate(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(alloc::format!("{err}").contains("evaluations"), "{err}");

    // Sharing itself stays legal while the work stays small (17 levels: 2^17 - 1 > 2^16 refused,
    // 16 levels: 2^16 - 1 evaluations accepted, and the sum is right).
    let doubling = |levels: u32| {
        let mut nodes = vec![num_lit(1.0)];
        for i in 1..levels {
            nodes.push(Node::Arith { op: ArithOp::Add, args: vec![i - 1, i - 1] });
        }
        Rule { nodes }
    };
    assert!(doubling(17).validate(0).is_err());
    let ok = doubling(16);
    assert!(ok.validate(0).is_ok());
    assert_eq!(ok.evaluate(&NoEnv), n(32768.0));
}

fn num_lit(x: f64) -> Node {
    Node::Literal(Literal::Number(x))
}

#[test]
fn iteration_bodies_read_the_element() {
    let list = Literal::Array(vec![Literal::Number(1.0), Literal::Number(2.0), Literal::Number(3.0)]);
    let here = |path: &[&str]| Node::ScopeVar { path: path.iter().map(|p| String::from(*p)).collect(), default: None };
    let rule = |op: IterOp| Rule {
        nodes: vec![
            Node::Literal(list.clone()),
            here(&[]),
            num_lit(1.0),
            Node::Compare { op: CompareOp::Gt, args: vec![1, 2] },
            Node::Iterate { op, array: 0, body: 3 },
        ],
    };
    let b = |x| Value::Bool(x);
    assert_eq!(rule(IterOp::Map).evaluate(&NoEnv), Value::Array(vec![b(false), b(true), b(true)]));
    assert_eq!(rule(IterOp::Filter).evaluate(&NoEnv), Value::Array(vec![n(2.0), n(3.0)]));
    assert_eq!(rule(IterOp::All).evaluate(&NoEnv), b(false));
    assert_eq!(rule(IterOp::Some).evaluate(&NoEnv), b(true));
    assert_eq!(rule(IterOp::None).evaluate(&NoEnv), b(false));
    for op in [IterOp::All, IterOp::Some] {
        let mut empty = rule(op);
        empty.nodes[0] = Node::Literal(Literal::Array(vec![]));
        assert_eq!(empty.evaluate(&NoEnv), b(false), "{op:?} of []");
    }
    let mut not_array = rule(IterOp::Map);
    not_array.nodes[0] = Node::Literal(Literal::String("abc".into()));
    assert_eq!(not_array.evaluate(&NoEnv), Value::Array(vec![]));

    // reduce: sum with an initial value; a path into a nested element; a default for a miss.
    let sum = Rule {
        nodes: vec![
            Node::Literal(list.clone()),
            here(&["current"]),
            here(&["accumulator"]),
            Node::Arith { op: ArithOp::Add, args: vec![1, 2] },
            num_lit(10.0),
            Node::Reduce { array: 0, body: 3, initial: Some(4) },
        ],
    };
    sum.validate(0).unwrap();
    assert_eq!(sum.evaluate(&NoEnv), n(16.0));
    let nested = Literal::Array(vec![list.clone(), Literal::Array(vec![Literal::Null])]);
    let pick = Rule {
        nodes: vec![
            Node::Literal(nested),
            s_lit("none"),
            Node::ScopeVar { path: vec!["0".into()], default: Some(1) },
            Node::ScopeVar { path: vec!["5".into()], default: Some(1) },
            Node::Array(vec![2, 3]),
            Node::Iterate { op: IterOp::Map, array: 0, body: 4 },
        ],
    };
    pick.validate(0).unwrap();
    assert_eq!(
        pick.evaluate(&NoEnv),
        Value::Array(vec![
            Value::Array(vec![n(1.0), s("none")]),
            // A null that is there is null, not the default (json-logic-js).
            Value::Array(vec![Value::Null, s("none")]),
        ])
    );
    // Outside any body a ScopeVar reads nothing.
    let top = Rule { nodes: vec![s_lit("d"), Node::ScopeVar { path: vec![], default: Some(0) }] };
    assert_eq!(top.evaluate(&NoEnv), s("d"));
}

fn s_lit(x: &str) -> Node {
    Node::Literal(Literal::String(x.into()))
}

struct Headers;
impl<'a> Env<'a> for Headers {
    fn slot(&self, slot: &'a Slot) -> Value<'a> {
        match slot {
            Slot::Header(h) if h == "a" => Value::Str("x"),
            Slot::Header(h) if h == "b" => Value::Str(""),
            _ => Value::Null,
        }
    }
    fn in_segment(&self, _: u16) -> bool {
        false
    }
}

#[test]
fn missing_and_missing_some() {
    let key = |name: &str, var| MissingKey { name: name.into(), var };
    let nodes = vec![
        Node::Var { slot: Slot::Header("a".into()), default: None },
        Node::Var { slot: Slot::Header("b".into()), default: None },
        Node::Var { slot: Slot::Header("c".into()), default: None },
        num_lit(1.0),
        num_lit(2.0),
        num_lit(3.0),
    ];
    let keys = vec![key("headers.a", 0), key("headers.b", 1), key("headers.c", 2)];
    let mut missing = nodes.clone();
    missing.push(Node::Missing(keys.clone()));
    let missing = Rule { nodes: missing };
    missing.validate(0).unwrap();
    // Missing means absent: a header sent empty is present (the community's `missing`).
    assert_eq!(missing.evaluate(&Headers), Value::Array(vec![s("headers.c")]));
    for (need, want) in [(4, Value::Array(vec![])), (5, Value::Array(vec![s("headers.c")]))] {
        let mut some = nodes.clone();
        some.push(Node::MissingSome { need: need as u32, keys: keys.clone() });
        let some = Rule { nodes: some };
        some.validate(0).unwrap();
        assert_eq!(some.evaluate(&Headers), want, "need node {need}");
    }
}

#[test]
fn validate_checks_new_node_arity() {
    let lit = Node::Literal(Literal::Null);
    for bad in [
        Node::Substr(vec![0]),
        Node::Iterate { op: IterOp::Map, array: 0, body: 1 },
        Node::Reduce { array: 0, body: 0, initial: Some(1) },
        Node::ScopeVar { path: vec![], default: Some(1) },
        Node::Missing(vec![MissingKey { name: "x".into(), var: 1 }]),
        Node::Fractional { key: 0, variants: vec![1] },
    ] {
        assert!(Rule { nodes: vec![lit.clone(), bad.clone()] }.validate(0).is_err(), "{bad:?}");
    }
}

#[test]
fn scope_paths_need_canonical_indices() {
    let list = Literal::Array(vec![Literal::Array(vec![Literal::Number(7.0), Literal::Number(8.0)])]);
    for (seg, want) in [("1", n(8.0)), ("01", s("d")), ("+1", s("d")), ("1.0", s("d")), ("x", s("d"))] {
        let rule = Rule {
            nodes: vec![
                Node::Literal(list.clone()),
                s_lit("d"),
                Node::ScopeVar { path: vec![seg.into()], default: Some(1) },
                Node::Iterate { op: IterOp::Map, array: 0, body: 2 },
            ],
        };
        assert_eq!(rule.evaluate(&NoEnv), Value::Array(vec![want]), "{seg}");
    }
}

/// `reduce` over `n` elements whose body doubles the accumulator (`cat(acc, acc)`), from `seed`.
fn doubling(n: usize) -> Rule {
    Rule {
        nodes: vec![
            Node::Literal(Literal::Array(vec![Literal::Number(0.0); n])),
            Node::ScopeVar { path: vec!["accumulator".into()], default: None },
            Node::Cat(vec![1, 1]),
            Node::Literal(Literal::String("ab".into())),
            Node::Reduce { array: 0, body: 2, initial: Some(3) },
        ],
    }
}

#[test]
fn a_doubling_reduce_runs_out_of_budget_and_does_not_match() {
    // 2^64 bytes if nothing stopped it.
    let rule = doubling(64);
    rule.validate(0).unwrap();
    assert_eq!(rule.evaluate_within(&NoEnv, DEFAULT_EVAL_BUDGET), Err(Halt::Budget));
    assert!(!rule.matches(&NoEnv));
    assert_eq!(rule.evaluate(&NoEnv), Value::Null);
    assert_eq!(rule.evaluate_data(&Literal::Null), Value::Null);
    // A few doublings fit: 5 elements walked, 5 × (body, cat, 2 reads) nodes, 4+8+…+64 bytes.
    let small = doubling(5);
    assert_eq!(small.evaluate(&NoEnv).as_str().map(str::len), Some(64));
}

#[test]
fn nested_maps_over_large_arrays_run_out_of_budget() {
    let big = Literal::Array((0..4096).map(|i| Literal::Number(f64::from(i))).collect());
    let rule = Rule {
        nodes: vec![
            Node::Literal(big),
            Node::ScopeVar { path: vec![], default: None },
            Node::Iterate { op: IterOp::Map, array: 0, body: 1 },
            Node::Iterate { op: IterOp::Map, array: 0, body: 2 },
            Node::Iterate { op: IterOp::Some, array: 0, body: 3 },
        ],
    };
    rule.validate(0).unwrap();
    // 4096^3 body runs unbounded; the budget stops it after a few thousand.
    assert_eq!(rule.evaluate_within(&NoEnv, DEFAULT_EVAL_BUDGET), Err(Halt::Budget));
    assert_eq!(rule.matches_within(&NoEnv, 1 << 12), Err(Halt::Budget));
    assert!(!rule.matches(&NoEnv));
}

#[test]
fn the_budget_counts_nodes_elements_and_bytes_exactly() {
    // and(1, "x"): three node evaluations.
    let rule = Rule {
        nodes: vec![
            Node::Literal(Literal::Number(1.0)),
            Node::Literal(Literal::String("x".into())),
            Node::And(vec![0, 1]),
        ],
    };
    assert_eq!(rule.evaluate_within(&NoEnv, 3), Ok(s("x")));
    assert_eq!(rule.evaluate_within(&NoEnv, 2), Err(Halt::Budget));
    // cat("ab", "ab"): three nodes and four bytes.
    let cat = Rule { nodes: vec![Node::Literal(Literal::String("ab".into())), Node::Cat(vec![0, 0])] };
    assert_eq!(cat.evaluate_within(&NoEnv, 7), Ok(Value::String("abab".into())));
    assert_eq!(cat.evaluate_within(&NoEnv, 6), Err(Halt::Budget));
    // map over three elements with an identity body: two nodes, three elements, three body runs.
    let map = Rule {
        nodes: vec![
            Node::Literal(Literal::Array(vec![Literal::Null; 3])),
            Node::ScopeVar { path: vec![], default: None },
            Node::Iterate { op: IterOp::Map, array: 0, body: 1 },
        ],
    };
    assert!(map.evaluate_within(&NoEnv, 8).is_ok());
    assert_eq!(map.evaluate_within(&NoEnv, 7), Err(Halt::Budget));
}

#[test]
fn a_request_is_an_environment_of_its_own() {
    let req = Request {
        method: "GET",
        path: "/p",
        headers: vec![("User-Agent", "Mobile Safari")],
        attributes: vec![("plan", crate::request::AttrValue::String("gold"))],
        verified_id: None,
        ..Request::default()
    };
    assert_eq!(req.slot(&Slot::Header("user-agent".into())), s("Mobile Safari"));
    assert_eq!(req.slot(&Slot::Attribute("plan".into())), s("gold"));
    assert_eq!(req.slot(&Slot::Path), s("/p"));
    assert_eq!(req.slot(&Slot::Identity), Value::Null);
    assert!(!req.in_segment(0) && !req.consent(0));
}
