//! JSON Logic's arithmetic and string operators, as json-logic-js computes them.

use super::value::{Value, elements, parse_float, to_integer, to_number, write_js_string};
use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::Borrow;
use serde::{Deserialize, Serialize};

/// Numeric operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArithOp {
    /// `+`: the sum of `parseFloat` of every operand, from 0 (so unary `+` casts).
    Add,
    /// `-`: `a - b`, or `-a` with one operand (`Number` coercion).
    Sub,
    /// `*`: the product of `parseFloat` of every operand; one operand is returned as it is.
    Mul,
    /// `/`
    Div,
    /// `%`: JS remainder (sign of the dividend).
    Mod,
    /// `max`: `Math.max` (empty is -Infinity, any NaN is NaN).
    Max,
    /// `min`: `Math.min` (empty is Infinity, any NaN is NaN).
    Min,
}

/// Applies an arithmetic operator to evaluated operands (values, or references to them: the
/// evaluator passes references to operands it evaluated in place).
pub fn arith<'a, V: Borrow<Value<'a>>>(op: ArithOp, vals: &[V]) -> Value<'a> {
    let num = |i: usize| vals.get(i).map_or(f64::NAN, |v| to_number(v.borrow()));
    let n = match op {
        ArithOp::Add => vals.iter().fold(0.0, |acc, v| acc + parse_float(v.borrow())),
        ArithOp::Mul => {
            if let [only] = vals {
                // `[x].reduce(f)` never calls f: json-logic-js returns the operand untouched.
                return only.borrow().clone();
            }
            match vals.split_first() {
                Some((first, rest)) => {
                    rest.iter().fold(parse_float(first.borrow()), |acc, v| acc * parse_float(v.borrow()))
                }
                None => f64::NAN,
            }
        }
        ArithOp::Sub if vals.len() == 1 => -num(0),
        ArithOp::Sub => num(0) - num(1),
        ArithOp::Div => num(0) / num(1),
        ArithOp::Mod => num(0) % num(1),
        ArithOp::Max => extreme(vals, true),
        ArithOp::Min => extreme(vals, false),
    };
    Value::Number(n)
}

fn extreme<'a, V: Borrow<Value<'a>>>(vals: &[V], max: bool) -> f64 {
    let mut best = if max { f64::NEG_INFINITY } else { f64::INFINITY };
    for v in vals {
        let x = to_number(v.borrow());
        if x.is_nan() {
            return f64::NAN;
        }
        let better = if max { x > best } else { x < best };
        // Math.max(-0, 0) is 0 and Math.min(0, -0) is -0.
        let zero_tie = x == 0.0 && best == 0.0 && (x.is_sign_negative() != max);
        if better || zero_tie {
            best = x;
        }
    }
    best
}

/// `cat`: `Array.prototype.join.call(args, "")` — null becomes "", arrays join with commas.
pub fn cat<'a, V: Borrow<Value<'a>>>(vals: &[V]) -> Value<'a> {
    let mut out = String::new();
    for v in vals {
        let v = v.borrow();
        if !matches!(v, Value::Null) {
            write_js_string(v, &mut out);
        }
    }
    Value::String(out)
}

/// `substr`: `String(source).substr(start, len)` over UTF-16 code units; a negative `len` drops
/// that many units from the end, as json-logic-js does.
pub fn substr<'a, V: Borrow<Value<'a>>>(vals: &[V]) -> Value<'a> {
    let vals: &[V] = vals;
    let arg = |i: usize| vals.get(i).map(Borrow::borrow);
    let mut text = String::new();
    if let Some(source) = arg(0) {
        write_js_string(source, &mut text);
    }
    let units: Vec<u16> = text.encode_utf16().collect();
    let size = units.len() as i64;
    let start = to_integer(arg(1).map_or(0.0, to_number));
    let start = if start < 0 { (size + start).max(0) } else { start.min(size) };
    let rest = size - start;
    let len = match arg(2) {
        None => rest,
        Some(l) => {
            let l = to_number(l);
            // `end < 0` is a JS comparison (NaN is not negative); the negative branch is
            // `substr(0, rest + end)`, truncated after the addition: -0.5 drops one unit.
            if l < 0.0 { to_integer(rest as f64 + l).max(0) } else { to_integer(l).min(rest) }
        }
    };
    let (from, to) = (start as usize, (start + len.max(0)) as usize);
    Value::String(String::from_utf16_lossy(units.get(from..to).unwrap_or_default()))
}

/// `merge`: concatenates its operands, flattening arrays one level.
pub fn merge<'a>(vals: Vec<Value<'a>>) -> Value<'a> {
    let mut out = Vec::new();
    for v in vals {
        if v.is_array() {
            out.extend(elements(&v));
        } else {
            out.push(v);
        }
    }
    Value::Array(out)
}

/// flagd's `starts_with` / `ends_with`: both operands strings, else false.
pub fn affix(text: &Value<'_>, affix: &Value<'_>, suffix: bool) -> bool {
    match (text.as_str(), affix.as_str()) {
        (Some(t), Some(a)) if suffix => t.ends_with(a),
        (Some(t), Some(a)) => t.starts_with(a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Literal;
    use alloc::vec;

    fn n(x: f64) -> Value<'static> {
        Value::Number(x)
    }
    fn s(x: &'static str) -> Value<'static> {
        Value::Str(x)
    }
    fn num(v: Value<'_>) -> f64 {
        match v {
            Value::Number(x) => x,
            other => panic!("not a number: {other:?}"),
        }
    }

    #[test]
    fn plus_and_times_use_parse_float() {
        assert_eq!(num(arith::<Value<'_>>(ArithOp::Add, &[])), 0.0);
        assert_eq!(num(arith(ArithOp::Add, &[s("2.5")])), 2.5);
        assert_eq!(num(arith(ArithOp::Add, &[n(1.0), s("2px"), n(3.0)])), 6.0);
        assert!(num(arith(ArithOp::Add, &[n(1.0), Value::Null])).is_nan());
        assert!(num(arith(ArithOp::Add, &[Value::Bool(true)])).is_nan());
        assert_eq!(num(arith(ArithOp::Mul, &[n(2.0), s("3"), n(4.0)])), 24.0);
        assert_eq!(arith(ArithOp::Mul, &[s("x")]), s("x"));
    }

    #[test]
    fn minus_divide_modulo_use_number() {
        assert_eq!(num(arith(ArithOp::Sub, &[s("2")])), -2.0);
        assert!(num(arith(ArithOp::Sub, &[Value::Null])).is_sign_negative());
        assert_eq!(num(arith(ArithOp::Sub, &[n(4.0), Value::Bool(true)])), 3.0);
        assert_eq!(num(arith(ArithOp::Div, &[n(1.0), n(0.0)])), f64::INFINITY);
        assert_eq!(num(arith(ArithOp::Div, &[n(-1.0), n(0.0)])), f64::NEG_INFINITY);
        assert!(num(arith(ArithOp::Div, &[n(0.0), n(0.0)])).is_nan());
        assert_eq!(num(arith(ArithOp::Mod, &[n(-7.0), n(3.0)])), -1.0);
        assert_eq!(num(arith(ArithOp::Mod, &[n(7.5), n(-2.0)])), 1.5);
        assert!(num(arith(ArithOp::Mod, &[n(1.0), n(0.0)])).is_nan());
    }

    #[test]
    fn max_and_min_follow_math() {
        assert_eq!(num(arith(ArithOp::Max, &[n(1.0), s("3"), n(2.0)])), 3.0);
        assert_eq!(num(arith(ArithOp::Min, &[n(1.0), Value::Null, n(2.0)])), 0.0);
        assert_eq!(num(arith::<Value<'_>>(ArithOp::Max, &[])), f64::NEG_INFINITY);
        assert_eq!(num(arith::<Value<'_>>(ArithOp::Min, &[])), f64::INFINITY);
        assert!(num(arith(ArithOp::Max, &[n(1.0), s("x")])).is_nan());
        assert!(!num(arith(ArithOp::Max, &[n(-0.0), n(0.0)])).is_sign_negative());
        assert!(num(arith(ArithOp::Min, &[n(0.0), n(-0.0)])).is_sign_negative());
    }

    #[test]
    fn cat_substr_merge() {
        let arr = [Literal::Number(1.0), Literal::Null, Literal::Bool(false)];
        assert_eq!(cat(&[s("a"), Value::Null, n(1.5), Value::Literals(&arr)]), Value::String("a1.51,,false".into()));
        let sub = |v: Vec<Value<'static>>| match substr(&v) {
            Value::String(x) => x,
            other => panic!("{other:?}"),
        };
        assert_eq!(sub(vec![s("jsonlogic"), n(4.0)]), "logic");
        assert_eq!(sub(vec![s("jsonlogic"), n(-5.0)]), "logic");
        assert_eq!(sub(vec![s("jsonlogic"), n(1.0), n(3.0)]), "son");
        assert_eq!(sub(vec![s("jsonlogic"), n(4.0), n(-2.0)]), "log");
        assert_eq!(sub(vec![s("jsonlogic"), n(-99.0), n(2.0)]), "js");
        assert_eq!(sub(vec![s("abc"), n(1.0), n(-5.0)]), "");
        assert_eq!(sub(vec![s("abc"), n(5.0)]), "");
        assert_eq!(sub(vec![n(12345.0), n(1.0), n(2.0)]), "23");
        assert_eq!(sub(vec![Value::Null, n(1.0)]), "ull");
        assert_eq!(sub(vec![s("abc"), s("x")]), "abc");
        assert_eq!(sub(vec![s("abc"), n(0.0), n(f64::NAN)]), "");
        assert_eq!(sub(vec![s("abcd"), n(0.0), n(-0.5)]), "abc");
        assert_eq!(sub(vec![s("abcd"), n(0.0), n(1.9)]), "a");
        assert_eq!(sub(vec![s("abcd"), s("1"), s("-1")]), "bc");
        // UTF-16 units: the emoji is two units; cutting it in half gives U+FFFD, as JS would show.
        assert_eq!(sub(vec![s("a\u{1F600}b"), n(1.0), n(2.0)]), "\u{1F600}");
        assert_eq!(sub(vec![s("a\u{1F600}b"), n(2.0)]), "\u{FFFD}b");
        let one = [Literal::Number(1.0)];
        assert_eq!(
            merge(vec![Value::Literals(&one), n(2.0), Value::Array(vec![Value::Literals(&one)])]),
            Value::Array(vec![n(1.0), n(2.0), Value::Literals(&one)])
        );
    }

    #[test]
    fn affixes_need_strings() {
        assert!(affix(&s("premium-gold"), &s("premium"), false));
        assert!(affix(&s("user@example.com"), &s("@example.com"), true));
        assert!(!affix(&n(123.0), &s("1"), false));
        assert!(!affix(&s("123"), &n(1.0), false));
    }
}
