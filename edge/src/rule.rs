//! Rule IR and its evaluator.
//!
//! Rules are written as JSON Logic (plus edgeseg's `in_segment`) and compiled by the builder into
//! this IR: a flat list of [`Node`]s where every child index is smaller than its parent's, the root
//! is the last node, constants are folded, and every `var` path is resolved once to a [`Slot`]. The
//! edge never parses JSON; it walks this list.
//!
//! Semantics follow json-logic-js, which follows JavaScript: `==` is loose equality with JS's
//! coercions, `===` strict; `<` and friends compare strings by UTF-16 code units and everything
//! else as numbers; an empty array is falsy (JSON Logic's one departure from JS); `and`/`or`
//! return the deciding operand, not a bool. Anything odd (a missing header, a string where a number
//! was expected) evaluates to `null`/`false` rather than failing: a rule never errors at the edge.
//!
//! Validation ([`Rule::validate`]) guarantees that evaluation only follows existing indices and
//! that recursion depth is bounded, so a hostile snapshot cannot overflow the guest's stack.

use crate::error::{Error, ErrorKind};
use crate::request::AttrValue;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;
use serde::{Deserialize, Serialize};

/// Deepest rule the edge evaluates (the builder refuses deeper ones).
pub const MAX_DEPTH: usize = 64;
/// Most nodes in one rule.
pub const MAX_NODES: usize = 4096;

/// A literal value in the IR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Literal>),
}

/// Where a `var` reads from, resolved at build time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Slot {
    Method,
    Host,
    Path,
    Country,
    /// Seconds since the Unix epoch (as flagd's `$flagd.timestamp`).
    Now,
    NowMs,
    /// A request header, name stored lower-case.
    Header(String),
    Cookie(String),
    /// A request attribute (at the edge) or a member attribute (profile rules in the builder).
    Attribute(String),
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// `==`, loose.
    Eq,
    /// `!=`, loose.
    Ne,
    /// `===`.
    StrictEq,
    /// `!==`.
    StrictNe,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One IR node. Child references are indices into [`Rule::nodes`], always smaller than the node's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Node {
    Literal(Literal),
    Var {
        slot: Slot,
        default: Option<u32>,
    },
    /// An array whose elements are not all constant.
    Array(Vec<u32>),
    /// Two operands, or three for the "between" forms of `<` and `<=`.
    Compare {
        op: CompareOp,
        args: Vec<u32>,
    },
    /// Array membership (strict equality) or substring.
    In {
        needle: u32,
        haystack: u32,
    },
    And(Vec<u32>),
    Or(Vec<u32>),
    Not(u32),
    /// `!!`
    Truthy(u32),
    /// `if`: condition, value pairs, then an optional else.
    If(Vec<u32>),
    /// Is the request's identity in this segment's membership set?
    InSegment(u16),
}

/// A compiled rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub nodes: Vec<Node>,
}

/// What a rule can see. The edge implements it over a request; the builder over a member's
/// attributes (profile rules).
pub trait Env<'a> {
    fn slot(&self, slot: &'a Slot) -> Value<'a>;
    fn in_segment(&self, segment: u16) -> bool;
}

/// A runtime value. Borrows from the rule and from the request; allocates only for arrays built
/// from non-constant elements.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    /// A constant array straight from the IR.
    Literals(&'a [Literal]),
    Array(Vec<Value<'a>>),
}

impl<'a> From<&'a Literal> for Value<'a> {
    fn from(l: &'a Literal) -> Value<'a> {
        match l {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Number(n) => Value::Number(*n),
            Literal::String(s) => Value::Str(s),
            Literal::Array(items) => Value::Literals(items),
        }
    }
}

impl<'a> From<AttrValue<'a>> for Value<'a> {
    fn from(a: AttrValue<'a>) -> Value<'a> {
        match a {
            AttrValue::Null => Value::Null,
            AttrValue::Bool(b) => Value::Bool(b),
            AttrValue::Number(n) => Value::Number(n),
            AttrValue::String(s) => Value::Str(s),
        }
    }
}

impl Rule {
    /// Checks the structural invariants evaluation relies on. `segments` is the number of
    /// segments in the snapshot (for `InSegment`).
    pub fn validate(&self, segments: usize) -> Result<(), Error> {
        let invalid = |why: String| Err(Error::new(ErrorKind::Invalid, why));
        if self.nodes.is_empty() {
            return invalid("rule has no nodes".into());
        }
        if self.nodes.len() > MAX_NODES {
            return invalid(format!("rule has {} nodes, limit {MAX_NODES}", self.nodes.len()));
        }
        let mut depth: Vec<usize> = Vec::with_capacity(self.nodes.len());
        for (i, node) in self.nodes.iter().enumerate() {
            let mut d = 1usize;
            let mut child = |c: u32| -> Result<(), Error> {
                match depth.get(c as usize) {
                    Some(cd) if (c as usize) < i => {
                        d = d.max(cd + 1);
                        Ok(())
                    }
                    _ => Err(Error::new(ErrorKind::Invalid, format!("rule node {i} refers forward to {c}"))),
                }
            };
            match node {
                Node::Literal(_) => {}
                Node::Var { default, .. } => {
                    if let Some(c) = default {
                        child(*c)?;
                    }
                }
                Node::Array(cs) | Node::And(cs) | Node::Or(cs) | Node::If(cs) => {
                    for c in cs {
                        child(*c)?;
                    }
                }
                Node::Compare { op, args } => {
                    let between_ok = matches!(op, CompareOp::Lt | CompareOp::Le) && args.len() == 3;
                    if args.len() != 2 && !between_ok {
                        return invalid(format!("rule node {i}: {op:?} with {} operands", args.len()));
                    }
                    for c in args {
                        child(*c)?;
                    }
                }
                Node::In { needle, haystack } => {
                    child(*needle)?;
                    child(*haystack)?;
                }
                Node::Not(c) | Node::Truthy(c) => child(*c)?,
                Node::InSegment(s) => {
                    if usize::from(*s) >= segments {
                        return invalid(format!("rule node {i}: in_segment {s} of {segments} segments"));
                    }
                }
            }
            if d > MAX_DEPTH {
                return invalid(format!("rule deeper than {MAX_DEPTH}"));
            }
            depth.push(d);
        }
        Ok(())
    }

    /// Evaluates the rule and applies JSON Logic truthiness to the result.
    pub fn matches<'a>(&'a self, env: &impl Env<'a>) -> bool {
        truthy(&self.evaluate(env))
    }

    /// Evaluates the rule to a value.
    pub fn evaluate<'a>(&'a self, env: &impl Env<'a>) -> Value<'a> {
        match self.nodes.len().checked_sub(1) {
            Some(root) => self.eval(root, env),
            None => Value::Null,
        }
    }

    fn eval<'a>(&'a self, i: usize, env: &impl Env<'a>) -> Value<'a> {
        let Some(node) = self.nodes.get(i) else { return Value::Null };
        let ev = |c: &u32| self.eval(*c as usize, env);
        match node {
            Node::Literal(l) => Value::from(l),
            Node::Var { slot, default } => match (env.slot(slot), default) {
                (Value::Null, Some(d)) => ev(d),
                (v, _) => v,
            },
            Node::Array(cs) => Value::Array(cs.iter().map(ev).collect()),
            Node::Compare { op, args } => Value::Bool(self.compare(*op, args, env)),
            Node::In { needle, haystack } => Value::Bool(contains(&ev(haystack), &ev(needle))),
            Node::And(cs) => {
                let mut last = Value::Null;
                for c in cs {
                    last = ev(c);
                    if !truthy(&last) {
                        break;
                    }
                }
                last
            }
            Node::Or(cs) => {
                let mut last = Value::Null;
                for c in cs {
                    last = ev(c);
                    if truthy(&last) {
                        break;
                    }
                }
                last
            }
            Node::Not(c) => Value::Bool(!truthy(&ev(c))),
            Node::Truthy(c) => Value::Bool(truthy(&ev(c))),
            Node::If(cs) => {
                let mut pairs = cs.chunks_exact(2);
                for pair in pairs.by_ref() {
                    if let [cond, then] = pair
                        && truthy(&ev(cond))
                    {
                        return ev(then);
                    }
                }
                match pairs.remainder() {
                    [otherwise] => ev(otherwise),
                    _ => Value::Null,
                }
            }
            Node::InSegment(s) => Value::Bool(env.in_segment(*s)),
        }
    }

    fn compare<'a>(&'a self, op: CompareOp, args: &[u32], env: &impl Env<'a>) -> bool {
        let vals: Vec<Value<'a>> = args.iter().map(|c| self.eval(*c as usize, env)).collect();
        match (op, vals.as_slice()) {
            (CompareOp::Eq, [a, b]) => loose_eq(a, b),
            (CompareOp::Ne, [a, b]) => !loose_eq(a, b),
            (CompareOp::StrictEq, [a, b]) => strict_eq(a, b),
            (CompareOp::StrictNe, [a, b]) => !strict_eq(a, b),
            (CompareOp::Lt, [a, b]) => less(a, b, false),
            (CompareOp::Le, [a, b]) => less(a, b, true),
            (CompareOp::Gt, [a, b]) => less(b, a, false),
            (CompareOp::Ge, [a, b]) => less(b, a, true),
            (CompareOp::Lt, [a, b, c]) => less(a, b, false) && less(b, c, false),
            (CompareOp::Le, [a, b, c]) => less(a, b, true) && less(b, c, true),
            _ => false,
        }
    }
}

/// JSON Logic truthiness: JS truthiness, except that an empty array is falsy.
pub fn truthy(v: &Value<'_>) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::Str(s) => !s.is_empty(),
        Value::Literals(items) => !items.is_empty(),
        Value::Array(items) => !items.is_empty(),
    }
}

fn is_array(v: &Value<'_>) -> bool {
    matches!(v, Value::Literals(_) | Value::Array(_))
}

fn elements<'a>(v: &Value<'a>) -> Vec<Value<'a>> {
    match v {
        Value::Literals(items) => items.iter().map(Value::from).collect(),
        Value::Array(items) => items.clone(),
        _ => Vec::new(),
    }
}

/// JS `===`. Arrays are objects: never strictly equal to anything built separately.
pub fn strict_eq(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        _ => false,
    }
}

/// JS `==` (Abstract Equality Comparison) over JSON values.
pub fn loose_eq(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        _ if is_array(a) && is_array(b) => false,
        (Value::Number(x), Value::Str(s)) | (Value::Str(s), Value::Number(x)) => *x == string_to_number(s),
        (Value::Bool(x), other) | (other, Value::Bool(x)) => {
            loose_eq(&Value::Number(if *x { 1.0 } else { 0.0 }), other)
        }
        // ToPrimitive of an array is its string form (`[1,2]` → `"1,2"`); compare that instead.
        _ if is_array(a) => loose_eq(&Value::Str(&to_js_string(a)), b),
        _ if is_array(b) => loose_eq(a, &Value::Str(&to_js_string(b))),
        _ => strict_eq(a, b),
    }
}

/// JS Abstract Relational Comparison: `a < b` (or `a <= b` with `or_equal`).
fn less(a: &Value<'_>, b: &Value<'_>, or_equal: bool) -> bool {
    let pa = to_primitive(a);
    let pb = to_primitive(b);
    if let (Prim::Str(x), Prim::Str(y)) = (&pa, &pb) {
        let ord = x.encode_utf16().cmp(y.encode_utf16());
        return ord == Ordering::Less || (or_equal && ord == Ordering::Equal);
    }
    let (x, y) = (pa.to_number(), pb.to_number());
    if or_equal { x <= y } else { x < y }
}

enum Prim<'a> {
    Num(f64),
    Str(alloc::borrow::Cow<'a, str>),
}

impl Prim<'_> {
    fn to_number(&self) -> f64 {
        match self {
            Prim::Num(n) => *n,
            Prim::Str(s) => string_to_number(s),
        }
    }
}

fn to_primitive<'a>(v: &Value<'a>) -> Prim<'a> {
    match v {
        Value::Null => Prim::Num(0.0),
        Value::Bool(b) => Prim::Num(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => Prim::Num(*n),
        Value::Str(s) => Prim::Str(alloc::borrow::Cow::Borrowed(s)),
        Value::Literals(_) | Value::Array(_) => Prim::Str(alloc::borrow::Cow::Owned(to_js_string(v))),
    }
}

/// JS `ToNumber` for strings: trimmed decimal (or `0x`/`0o`/`0b` integer, or `Infinity`); empty is 0;
/// anything else NaN.
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)] {
        if let Some(digits) = t.strip_prefix(prefix) {
            return u64::from_str_radix(digits, radix).map_or(f64::NAN, |n| n as f64);
        }
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    // Rust also accepts "inf", "nan", "infinity"; JS does not.
    if t.bytes().any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// JS `String(v)` for JSON values.
pub fn to_js_string(v: &Value<'_>) -> String {
    let mut out = String::new();
    write_js_string(v, &mut out);
    out
}

fn write_js_string(v: &Value<'_>, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_js_number(*n, out),
        Value::Str(s) => out.push_str(s),
        Value::Literals(_) | Value::Array(_) => {
            for (i, item) in elements(v).iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // Inside Array.prototype.join, null and undefined become "".
                if !matches!(item, Value::Null) {
                    write_js_string(item, out);
                }
            }
        }
    }
}

fn write_js_number(n: f64, out: &mut String) {
    use core::fmt::Write;
    if n.is_nan() {
        out.push_str("NaN");
    } else if n.is_infinite() {
        out.push_str(if n > 0.0 { "Infinity" } else { "-Infinity" });
    } else if n == 0.0 {
        out.push('0');
    } else if n.abs() < 1e21 && (n as i128) as f64 == n {
        let _ = write!(out, "{}", n as i128);
    } else {
        let _ = write!(out, "{n}");
    }
}

/// JSON Logic `in`: substring when the haystack is a string, strict membership when an array.
fn contains(haystack: &Value<'_>, needle: &Value<'_>) -> bool {
    match haystack {
        Value::Str(h) => match needle {
            Value::Str(n) => h.contains(n),
            Value::Null | Value::Bool(_) | Value::Number(_) => h.contains(to_js_string(needle).as_str()),
            Value::Literals(_) | Value::Array(_) => false,
        },
        Value::Literals(items) => items.iter().any(|l| strict_eq(&Value::from(l), needle)),
        Value::Array(items) => items.iter().any(|v| strict_eq(v, needle)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn n(x: f64) -> Value<'static> {
        Value::Number(x)
    }
    fn s(x: &'static str) -> Value<'static> {
        Value::Str(x)
    }

    #[test]
    fn loose_equality_follows_js() {
        assert!(loose_eq(&n(1.0), &s("1")));
        assert!(loose_eq(&s(" 1 "), &n(1.0)));
        assert!(loose_eq(&n(0.0), &s("")));
        assert!(loose_eq(&Value::Bool(true), &n(1.0)));
        assert!(loose_eq(&Value::Bool(true), &s("1")));
        assert!(loose_eq(&Value::Bool(false), &s("0")));
        assert!(!loose_eq(&Value::Null, &n(0.0)));
        assert!(!loose_eq(&Value::Null, &Value::Bool(false)));
        assert!(loose_eq(&Value::Null, &Value::Null));
        assert!(!loose_eq(&n(f64::NAN), &n(f64::NAN)));
        assert!(!loose_eq(&s("abc"), &n(0.0)));
        let arr = [Literal::Number(1.0), Literal::Number(2.0)];
        assert!(loose_eq(&Value::Literals(&arr), &s("1,2")));
        assert!(loose_eq(&Value::Literals(&arr[..1]), &n(1.0)));
        assert!(loose_eq(&Value::Bool(true), &Value::Literals(&arr[..1])));
        assert!(!loose_eq(&Value::Literals(&arr), &Value::Null));
        assert!(!loose_eq(&Value::Literals(&arr), &Value::Literals(&arr)));
        assert!(!strict_eq(&n(1.0), &s("1")));
    }

    #[test]
    fn relational_follows_js() {
        assert!(less(&s("a"), &s("b"), false));
        assert!(less(&s("B"), &s("a"), false));
        assert!(less(&s("10"), &s("9"), false)); // string compare
        assert!(!less(&n(10.0), &s("9"), false)); // numeric compare
        assert!(less(&Value::Null, &n(1.0), false));
        assert!(!less(&s("x"), &n(1.0), false) && !less(&n(1.0), &s("x"), false));
        assert!(less(&n(1.0), &n(1.0), true));
        // UTF-16 order, not UTF-8: U+FF61 (one unit) sorts after U+1F600 (surrogates D83D…).
        assert!(less(&s("\u{1F600}"), &s("\u{FF61}"), false));
    }

    #[test]
    fn truthiness_and_numbers() {
        assert!(!truthy(&Value::Literals(&[])));
        assert!(truthy(&s("0")));
        assert!(!truthy(&n(f64::NAN)));
        assert!(string_to_number("inf").is_nan());
        assert_eq!(string_to_number("0x1A"), 26.0);
        assert_eq!(string_to_number("-1.5e3"), -1500.0);
        assert_eq!(to_js_string(&n(3.0)), "3");
        assert_eq!(to_js_string(&n(-0.5)), "-0.5");
        let arr = [Literal::Null, Literal::Bool(true), Literal::String("x".into())];
        assert_eq!(to_js_string(&Value::Literals(&arr)), ",true,x");
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
            nodes: vec![
                Node::Literal(Literal::Null),
                Node::Var { slot: Slot::Path, default: Some(0) },
                Node::If(vec![1]),
            ],
        };
        assert_eq!(only_else.evaluate(&NoEnv), Value::Null);
    }

    #[test]
    fn validate_refuses_forward_refs_bad_arity_and_depth() {
        let fwd = Rule { nodes: vec![Node::Not(1), Node::Literal(Literal::Null)] };
        assert_eq!(fwd.validate(0).unwrap_err().kind(), ErrorKind::Invalid);
        let selfref = Rule { nodes: vec![Node::Not(0)] };
        assert!(selfref.validate(0).is_err());
        let arity =
            Rule { nodes: vec![Node::Literal(Literal::Null), Node::Compare { op: CompareOp::Eq, args: vec![0] }] };
        assert!(arity.validate(0).is_err());
        let between_gt = Rule {
            nodes: vec![Node::Literal(Literal::Null), Node::Compare { op: CompareOp::Gt, args: vec![0, 0, 0] }],
        };
        assert!(between_gt.validate(0).is_err());
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

    #[test]
    fn in_on_arrays_and_strings() {
        let hay = [Literal::String("DE".into()), Literal::Number(1.0)];
        assert!(contains(&Value::Literals(&hay), &s("DE")));
        assert!(!contains(&Value::Literals(&hay), &s("1")));
        assert!(contains(&s("/checkout/cart"), &s("checkout")));
        assert!(contains(&s("v1.2"), &n(1.0)));
        assert!(!contains(&Value::Null, &s("x")));
    }
}
