//! The JSON Logic community's coercions and comparisons (as datalogic-rs 5.4 computes them), where
//! they replaced json-logic-js's JavaScript ones: numbers from strings by a strict decimal
//! grammar, `null` and booleans as 0 and 1, errors instead of NaN, deep equality of arrays.

use super::CompareOp;
use super::decimal;
use super::error::EvalError;
use super::value::{Value, elements};

/// A value as a number for arithmetic: a number; a string that is a decimal number (an optional
/// sign, digits with an optional point, an optional exponent; no spaces, no hex) or empty (0);
/// `null` 0; a boolean 0 or 1. `None` (the caller's NaN error) for anything else.
pub fn number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Null => Some(0.0),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Str(_) | Value::String(_) => match v.as_str() {
            Some("") => Some(0.0),
            Some(s) => decimal::parse(s),
            None => None,
        },
        _ => None,
    }
}

/// `===`: same type and value; arrays element by element, objects entry by entry.
pub fn strict_equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().zip(y.iter()).all(|((k, v), (l, w))| k == l && strict_equal(&v.into(), &w.into()))
        }
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ if a.is_array() && b.is_array() => same_elements(a, b),
        _ => matches!((a.as_str(), b.as_str()), (Some(x), Some(y)) if x == y),
    }
}

fn same_elements(a: &Value<'_>, b: &Value<'_>) -> bool {
    a.len() == b.len() && elements(a).iter().zip(elements(b).iter()).all(|(x, y)| strict_equal(x, y))
}

/// `==`: numbers against numeric strings, booleans as 0/1 against numbers and as
/// `"true"`/`"false"` against strings, `null` equal to `0`, `false` and `""`; an array only equals
/// an equal array. A string that is no number against a number, or an array against anything
/// else (or an unequal array), is [`EvalError::InvalidArguments`].
pub fn loose_equal(a: &Value<'_>, b: &Value<'_>) -> Result<bool, EvalError> {
    if a.is_array() && b.is_array() {
        return if same_elements(a, b) { Ok(true) } else { Err(EvalError::InvalidArguments) };
    }
    if a.is_object_like() || b.is_object_like() {
        return match (a, b) {
            (Value::Object(_), Value::Object(_)) => Ok(false),
            _ => Err(EvalError::InvalidArguments),
        };
    }
    // Scalars: a string against a non-string by its kind, else both as numbers (null 0, booleans
    // 0 and 1).
    let (text, other) = match (a.as_str(), b.as_str()) {
        (Some(x), Some(y)) => return Ok(x == y),
        (Some(x), None) => (x, b),
        (None, Some(y)) => (y, a),
        (None, None) => return Ok(number(a) == number(b)),
    };
    match other {
        Value::Null => Ok(text.is_empty()),
        Value::Bool(x) => Ok(text == if *x { "true" } else { "false" }),
        _ => match decimal::parse(text) {
            Some(x) => Ok(matches!(other, Value::Number(n) if *n == x)),
            None => Err(EvalError::InvalidArguments),
        },
    }
}

/// `<` `<=` `>` `>=` on one pair: numbers as numbers, strings by code point; an array or object
/// is [`EvalError::NaN`]; otherwise both sides as [`number`]s, a number against a string that is
/// none being NaN too, and anything else (a word against `null`) false.
pub fn ordered(op: CompareOp, a: &Value<'_>, b: &Value<'_>) -> Result<bool, EvalError> {
    let holds = |o: core::cmp::Ordering| match op {
        CompareOp::Lt => o.is_lt(),
        CompareOp::Le => o.is_le(),
        CompareOp::Gt => o.is_gt(),
        _ => o.is_ge(),
    };
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        return Ok(holds(x.cmp(y)));
    }
    if a.is_object_like() || b.is_object_like() {
        return Err(EvalError::NaN);
    }
    match (number(a), number(b)) {
        (Some(x), Some(y)) => Ok(x.partial_cmp(&y).is_some_and(holds)),
        _ if matches!(a, Value::Number(_)) || matches!(b, Value::Number(_)) => Err(EvalError::NaN),
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Literal;
    use alloc::vec;

    const NAN: Result<bool, EvalError> = Err(EvalError::NaN);
    const INVALID: Result<bool, EvalError> = Err(EvalError::InvalidArguments);

    #[test]
    fn numbers_from_strings_are_strict() {
        assert_eq!(number(&Value::Str("1e3")), Some(1000.0));
        assert_eq!(number(&Value::Str("+1")), Some(1.0));
        assert_eq!(number(&Value::Str("")), Some(0.0));
        assert_eq!(number(&Value::Null), Some(0.0));
        assert_eq!(number(&Value::Bool(true)), Some(1.0));
        assert_eq!(number(&Value::Str(" 1")), None);
        assert_eq!(number(&Value::Str("2px")), None);
        assert_eq!(number(&Value::Str("0x10")), None);
        assert_eq!(number(&Value::Literals(&[])), None);
    }

    #[test]
    fn loose_equality() {
        let one = [Literal::Number(1.0)];
        let two = [Literal::Number(2.0)];
        assert_eq!(loose_equal(&Value::Str("1"), &Value::Number(1.0)), Ok(true));
        assert_eq!(loose_equal(&Value::Str("a"), &Value::Number(1.0)), INVALID);
        assert_eq!(loose_equal(&Value::Str(""), &Value::Number(0.0)), INVALID);
        assert_eq!(loose_equal(&Value::Bool(true), &Value::Str("1")), Ok(false));
        assert_eq!(loose_equal(&Value::Bool(true), &Value::Str("true")), Ok(true));
        assert_eq!(loose_equal(&Value::Null, &Value::Str("")), Ok(true));
        assert_eq!(loose_equal(&Value::Null, &Value::Bool(false)), Ok(true));
        assert_eq!(loose_equal(&Value::Literals(&one), &Value::Array(vec![Value::Number(1.0)])), Ok(true));
        assert_eq!(loose_equal(&Value::Literals(&one), &Value::Literals(&two)), INVALID);
        assert_eq!(loose_equal(&Value::Number(1.0), &Value::Literals(&one)), INVALID);
        assert!(strict_equal(&Value::Literals(&one), &Value::Array(vec![Value::Number(1.0)])));
    }

    #[test]
    fn orderings() {
        assert_eq!(ordered(CompareOp::Lt, &Value::Str("10"), &Value::Str("9")), Ok(true));
        assert_eq!(ordered(CompareOp::Lt, &Value::Str("10"), &Value::Number(9.0)), Ok(false));
        assert_eq!(ordered(CompareOp::Lt, &Value::Null, &Value::Number(1.0)), Ok(true));
        assert_eq!(ordered(CompareOp::Lt, &Value::Str("a"), &Value::Null), Ok(false));
        assert_eq!(ordered(CompareOp::Lt, &Value::Number(1.0), &Value::Str("a")), NAN);
        assert_eq!(ordered(CompareOp::Ge, &Value::Literals(&[]), &Value::Number(1.0)), NAN);
        assert_eq!(ordered(CompareOp::Gt, &Value::Str("é"), &Value::Str("z")), Ok(true));
    }
}
