//! JSON Logic's arithmetic (the community's semantics, as datalogic-rs computes them) and string
//! operators (as json-logic-js computes them).

use super::community::number;
use super::error::EvalError;
use super::value::{Value, elements, to_integer, to_number, write_js_string};
use alloc::string::String;
use alloc::vec::Vec;
use core::borrow::Borrow;
use serde::{Deserialize, Serialize};

/// Numeric operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArithOp {
    /// `+`: the sum, from 0 (so unary `+` casts).
    Add,
    /// `-`: the first operand minus the others, or `-a` with one.
    Sub,
    /// `*`: the product, from 1.
    Mul,
    /// `/`: the first operand divided by the others, or `1 / a` with one.
    Div,
    /// `%`: the remainder of the first operand by the others (sign of the dividend).
    Mod,
    /// `max`: the largest of numbers.
    Max,
    /// `min`: the smallest of numbers.
    Min,
}

/// Applies an arithmetic operator to evaluated operands (values, or references to them: the
/// evaluator passes references to operands it evaluated in place), with the community's
/// coercions ([`number`]): an operand that is no number is [`EvalError::NaN`], an operator short
/// of operands [`EvalError::InvalidArguments`]. A single operand that is an array stands for its
/// elements (`{"-": [{"var": "xs"}]}` folds `xs`).
pub fn arith<'a, V: Borrow<Value<'a>>>(op: ArithOp, vals: &[V]) -> Result<Value<'a>, EvalError> {
    match vals {
        [one] if one.borrow().is_array() => arith_over(op, &elements(one.borrow()), true),
        _ => arith_over(op, vals, false),
    }
}

fn arith_over<'a, V: Borrow<Value<'a>>>(op: ArithOp, vals: &[V], spread: bool) -> Result<Value<'a>, EvalError> {
    let num = |v: &V| number(v.borrow()).ok_or(EvalError::NaN);
    if op == ArithOp::Mod && vals.len() < 2 {
        return Err(EvalError::InvalidArguments);
    }
    let (first, rest) = match (op, vals.split_first()) {
        (ArithOp::Add | ArithOp::Mul, _) => {
            let (unit, times) = (if op == ArithOp::Add { 0.0 } else { 1.0 }, op == ArithOp::Mul);
            let mut acc = unit;
            for v in vals {
                let x = num(v)?;
                acc = if times { acc * x } else { acc + x };
            }
            return Ok(Value::Number(acc));
        }
        (ArithOp::Max | ArithOp::Min, _) => return extreme(vals, op == ArithOp::Max),
        (_, None) => return Err(EvalError::InvalidArguments),
        (_, Some(split)) => split,
    };
    let a = num(first)?;
    match (op, rest.is_empty()) {
        (ArithOp::Sub, true) if !spread => return Ok(Value::Number(-a)),
        (ArithOp::Div, true) if !spread => {
            return if a == 0.0 { Err(EvalError::NaN) } else { Ok(Value::Number(1.0 / a)) };
        }
        (ArithOp::Mod, true) => return Err(EvalError::InvalidArguments),
        _ => {}
    }
    let mut acc = a;
    for (i, v) in rest.iter().enumerate() {
        let x = num(v)?;
        acc = match op {
            ArithOp::Sub => acc - x,
            _ if x == 0.0 => {
                // datalogic-rs: integers divided by zero are NaN; anything else saturates.
                let dividend_int = if i == 0 { integer(first.borrow()) } else { whole(acc) };
                if dividend_int && integer(v.borrow()) {
                    return Err(EvalError::NaN);
                }
                return Ok(Value::Number(if acc > 0.0 {
                    f64::MAX
                } else if acc < 0.0 {
                    f64::MIN
                } else {
                    0.0
                }));
            }
            ArithOp::Div => acc / x,
            _ => acc % x,
        };
    }
    Ok(Value::Number(acc))
}

/// A number written or computed as an integer (not a string or a bool that would coerce to one).
fn integer(v: &Value<'_>) -> bool {
    matches!(v, Value::Number(n) if whole(*n))
}

/// A whole number in `i64`'s range (no `f64::fract` without std).
fn whole(x: f64) -> bool {
    x as i64 as f64 == x
}

/// `max`/`min`: numbers only (no coercion), at least one; the first of equals wins.
fn extreme<'a, V: Borrow<Value<'a>>>(vals: &[V], max: bool) -> Result<Value<'a>, EvalError> {
    let mut best: Option<f64> = None;
    for v in vals {
        let Value::Number(x) = v.borrow() else { return Err(EvalError::InvalidArguments) };
        if best.is_none_or(|b| if max { *x > b } else { *x < b }) {
            best = Some(*x);
        }
    }
    best.map(Value::Number).ok_or(EvalError::InvalidArguments)
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

    fn ok(v: Result<Value<'_>, EvalError>) -> f64 {
        num(v.unwrap_or_else(|e| panic!("failed: {e:?}")))
    }

    #[test]
    fn plus_and_times_coerce_strictly() {
        assert_eq!(ok(arith::<Value<'_>>(ArithOp::Add, &[])), 0.0);
        assert_eq!(ok(arith::<Value<'_>>(ArithOp::Mul, &[])), 1.0);
        assert_eq!(ok(arith(ArithOp::Add, &[s("2.5")])), 2.5);
        assert_eq!(ok(arith(ArithOp::Add, &[n(1.0), Value::Null, Value::Bool(true)])), 2.0);
        assert_eq!(ok(arith(ArithOp::Mul, &[n(2.0), s("3"), n(4.0)])), 24.0);
        assert_eq!(arith(ArithOp::Add, &[n(1.0), s("2px")]), Err(EvalError::NaN));
        assert_eq!(arith(ArithOp::Mul, &[s("x")]), Err(EvalError::NaN));
        let arr = [Literal::Number(1.0)];
        assert_eq!(arith(ArithOp::Add, &[n(1.0), Value::Literals(&arr)]), Err(EvalError::NaN));
        // One array operand stands for its elements.
        let xs = [Literal::Number(10.0), Literal::Number(2.0), Literal::Number(3.0)];
        assert_eq!(ok(arith(ArithOp::Add, &[Value::Literals(&xs)])), 15.0);
        assert_eq!(ok(arith(ArithOp::Sub, &[Value::Literals(&xs)])), 5.0);
    }

    #[test]
    fn minus_divide_modulo_fold() {
        assert_eq!(ok(arith(ArithOp::Sub, &[s("2")])), -2.0);
        assert_eq!(ok(arith(ArithOp::Sub, &[n(10.0), n(2.0), n(3.0)])), 5.0);
        assert_eq!(arith::<Value<'_>>(ArithOp::Sub, &[]), Err(EvalError::InvalidArguments));
        assert_eq!(ok(arith(ArithOp::Div, &[n(12.0), n(2.0), n(3.0)])), 2.0);
        assert_eq!(ok(arith(ArithOp::Div, &[n(4.0)])), 0.25);
        assert_eq!(arith::<Value<'_>>(ArithOp::Div, &[]), Err(EvalError::InvalidArguments));
        assert_eq!(arith(ArithOp::Div, &[n(1.0), n(0.0)]), Err(EvalError::NaN));
        assert_eq!(arith(ArithOp::Div, &[n(0.0)]), Err(EvalError::NaN));
        // Division by a zero that is no written integer saturates (datalogic-rs).
        assert_eq!(ok(arith(ArithOp::Div, &[n(2.0), Value::Null])), f64::MAX);
        assert_eq!(ok(arith(ArithOp::Div, &[n(-1.5), n(0.0)])), f64::MIN);
        assert_eq!(ok(arith(ArithOp::Mod, &[n(-7.0), n(3.0)])), -1.0);
        assert_eq!(ok(arith(ArithOp::Mod, &[n(7.0), n(3.0), n(2.0)])), 1.0);
        assert_eq!(arith(ArithOp::Mod, &[n(7.0)]), Err(EvalError::InvalidArguments));
        assert_eq!(arith(ArithOp::Mod, &[n(1.0), n(0.0)]), Err(EvalError::NaN));
    }

    #[test]
    fn max_and_min_take_numbers_only() {
        assert_eq!(ok(arith(ArithOp::Max, &[n(1.0), n(3.0), n(2.0)])), 3.0);
        assert_eq!(ok(arith(ArithOp::Min, &[n(1.0), n(-2.0)])), -2.0);
        assert_eq!(arith::<Value<'_>>(ArithOp::Max, &[]), Err(EvalError::InvalidArguments));
        assert_eq!(arith(ArithOp::Max, &[n(1.0), s("3")]), Err(EvalError::InvalidArguments));
        assert_eq!(arith(ArithOp::Min, &[Value::Null, n(1.0)]), Err(EvalError::InvalidArguments));
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
