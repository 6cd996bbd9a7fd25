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

/// Applies an arithmetic operator to evaluated operands, with the community's coercions
/// ([`number`]): an operand that is no number is [`EvalError::NaN`], an operator short of
/// operands [`EvalError::InvalidArguments`]. A single operand that is an array stands for its
/// elements (`{"-": [{"var": "xs"}]}` folds `xs`). One non-generic body (the size-gated modules
/// carry it once).
pub fn arith<'a>(op: ArithOp, vals: &[&Value<'a>]) -> Result<Value<'a>, EvalError> {
    if let [one] = vals
        && one.is_array()
    {
        let items = elements(one);
        let refs: Vec<&Value<'a>> = items.iter().collect();
        return arith_over(op, &refs, true);
    }
    arith_over(op, vals, false)
}

fn arith_over<'a>(op: ArithOp, vals: &[&Value<'a>], spread: bool) -> Result<Value<'a>, EvalError> {
    let num = |v: &Value<'_>| number(v).ok_or(EvalError::NaN);
    if op == ArithOp::Mod && vals.len() < 2 {
        return Err(EvalError::InvalidArguments);
    }
    let (first, rest) = match (op, vals.split_first()) {
        (ArithOp::Add | ArithOp::Mul, _) => {
            let times = op == ArithOp::Mul;
            let mut acc = if times { 1.0 } else { 0.0 };
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
    if rest.is_empty() && !spread {
        // Unary `-` negates, unary `/` inverts (`%` of one was refused above).
        return match op {
            ArithOp::Sub => Ok(Value::Number(-a)),
            _ if a == 0.0 => Err(EvalError::NaN),
            _ => Ok(Value::Number(1.0 / a)),
        };
    }
    let mut acc = a;
    for (i, v) in rest.iter().enumerate() {
        let x = num(v)?;
        acc = match op {
            ArithOp::Sub => acc - x,
            _ if x == 0.0 => {
                // datalogic-rs: integers divided by zero are NaN; anything else saturates.
                let dividend_int = if i == 0 { integer(first) } else { whole(acc) };
                if dividend_int && integer(v) {
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
fn extreme<'a>(vals: &[&Value<'a>], max: bool) -> Result<Value<'a>, EvalError> {
    let mut best: Option<f64> = None;
    for v in vals {
        let Value::Number(x) = v else { return Err(EvalError::InvalidArguments) };
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

    fn ar<'a>(op: ArithOp, vals: &[Value<'a>]) -> Result<Value<'a>, EvalError> {
        let refs: Vec<&Value<'a>> = vals.iter().collect();
        arith(op, &refs)
    }

    fn ok(v: Result<Value<'_>, EvalError>) -> f64 {
        num(v.unwrap_or_else(|e| panic!("failed: {e:?}")))
    }

    #[test]
    fn plus_and_times_coerce_strictly() {
        assert_eq!(ok(ar(ArithOp::Add, &[])), 0.0);
        assert_eq!(ok(ar(ArithOp::Mul, &[])), 1.0);
        assert_eq!(ok(ar(ArithOp::Add, &[s("2.5")])), 2.5);
        assert_eq!(ok(ar(ArithOp::Add, &[n(1.0), Value::Null, Value::Bool(true)])), 2.0);
        assert_eq!(ok(ar(ArithOp::Mul, &[n(2.0), s("3"), n(4.0)])), 24.0);
        assert_eq!(ar(ArithOp::Add, &[n(1.0), s("2px")]), Err(EvalError::NaN));
        assert_eq!(ar(ArithOp::Mul, &[s("x")]), Err(EvalError::NaN));
        let arr = [Literal::Number(1.0)];
        assert_eq!(ar(ArithOp::Add, &[n(1.0), Value::Literals(&arr)]), Err(EvalError::NaN));
        // One array operand stands for its elements.
        let xs = [Literal::Number(10.0), Literal::Number(2.0), Literal::Number(3.0)];
        assert_eq!(ok(ar(ArithOp::Add, &[Value::Literals(&xs)])), 15.0);
        assert_eq!(ok(ar(ArithOp::Sub, &[Value::Literals(&xs)])), 5.0);
    }

    #[test]
    fn minus_divide_modulo_fold() {
        assert_eq!(ok(ar(ArithOp::Sub, &[s("2")])), -2.0);
        assert_eq!(ok(ar(ArithOp::Sub, &[n(10.0), n(2.0), n(3.0)])), 5.0);
        assert_eq!(ar(ArithOp::Sub, &[]), Err(EvalError::InvalidArguments));
        assert_eq!(ok(ar(ArithOp::Div, &[n(12.0), n(2.0), n(3.0)])), 2.0);
        assert_eq!(ok(ar(ArithOp::Div, &[n(4.0)])), 0.25);
        assert_eq!(ar(ArithOp::Div, &[]), Err(EvalError::InvalidArguments));
        assert_eq!(ar(ArithOp::Div, &[n(1.0), n(0.0)]), Err(EvalError::NaN));
        assert_eq!(ar(ArithOp::Div, &[n(0.0)]), Err(EvalError::NaN));
        // Division by a zero that is no written integer saturates (datalogic-rs).
        assert_eq!(ok(ar(ArithOp::Div, &[n(2.0), Value::Null])), f64::MAX);
        assert_eq!(ok(ar(ArithOp::Div, &[n(-1.5), n(0.0)])), f64::MIN);
        assert_eq!(ok(ar(ArithOp::Mod, &[n(-7.0), n(3.0)])), -1.0);
        assert_eq!(ok(ar(ArithOp::Mod, &[n(7.0), n(3.0), n(2.0)])), 1.0);
        assert_eq!(ar(ArithOp::Mod, &[n(7.0)]), Err(EvalError::InvalidArguments));
        assert_eq!(ar(ArithOp::Mod, &[n(1.0), n(0.0)]), Err(EvalError::NaN));
    }

    #[test]
    fn max_and_min_take_numbers_only() {
        assert_eq!(ok(ar(ArithOp::Max, &[n(1.0), n(3.0), n(2.0)])), 3.0);
        assert_eq!(ok(ar(ArithOp::Min, &[n(1.0), n(-2.0)])), -2.0);
        assert_eq!(ar(ArithOp::Max, &[]), Err(EvalError::InvalidArguments));
        assert_eq!(ar(ArithOp::Max, &[n(1.0), s("3")]), Err(EvalError::InvalidArguments));
        assert_eq!(ar(ArithOp::Min, &[Value::Null, n(1.0)]), Err(EvalError::InvalidArguments));
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
