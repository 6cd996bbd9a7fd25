//! Arrow cells to member values: which Arrow types each role accepts (checked when a Parquet file
//! is opened) and the conversion of one cell.
//!
//! Attributes: integers, floats and decimals are numbers (an integer beyond ±(2^53 − 1), where
//! f64 stops being exact, and a non-finite float are refused); booleans are booleans; strings
//! (also large, view and dictionary-encoded) are strings; dates and timestamps (any unit, any
//! time zone or none) are numbers of whole milliseconds since the Unix epoch, rounded down —
//! what a rule compares with `now`-style millisecond values; null is null.

use super::split_list;
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, ArrowPrimitiveType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type,
    Decimal256Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_schema::{DataType, TimeUnit};
use edgeseg::rule::Literal;

/// Largest integer an f64 (a JavaScript number) holds exactly, with all below it.
const MAX_SAFE: u64 = (1 << 53) - 1;
const MS_PER_DAY: i64 = 86_400_000;

/// The attribute types (see the module docs).
pub(super) const ATTRIBUTE_TYPES: &str = "integers, floats, decimals, booleans, strings, dates, timestamps, null";

/// Strings: utf8, large_utf8, utf8_view, and dictionaries of those.
pub(super) fn is_string(dt: &DataType) -> bool {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => {
            matches!(**values, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        }
        _ => false,
    }
}

fn is_integer(dt: &DataType) -> bool {
    dt.is_integer()
}

/// The id: a string, or an integer (written in decimal, as a CSV export would).
pub(super) fn is_id(dt: &DataType) -> bool {
    is_string(dt) || is_integer(dt)
}

/// `consents` and `segments`: a list of strings, or a delimited string.
pub(super) fn is_list(dt: &DataType) -> bool {
    match dt {
        DataType::List(item) | DataType::LargeList(item) => is_string(item.data_type()),
        other => is_string(other),
    }
}

/// A scalar attribute type (see the module docs).
pub(super) fn is_attribute(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Null
            | DataType::Boolean
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(..)
    ) || is_integer(dt)
        || is_string(dt)
}

fn mismatch(a: &dyn Array) -> String {
    format!("internal: the column's data is not of its declared type {}", a.data_type())
}

fn prim<T: ArrowPrimitiveType>(a: &dyn Array, i: usize) -> Result<T::Native, String> {
    a.as_primitive_opt::<T>().map(|p| p.value(i)).ok_or_else(|| mismatch(a))
}

fn dict_str<K: ArrowDictionaryKeyType>(a: &dyn Array, i: usize) -> Option<&str> {
    let d = a.as_dictionary_opt::<K>()?;
    string_at(d.values().as_ref(), d.key(i)?)
}

/// The string at row `i`, `None` if null (or not a string column).
pub(super) fn string_at(a: &dyn Array, i: usize) -> Option<&str> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Utf8 => a.as_string_opt::<i32>().map(|s| s.value(i)),
        DataType::LargeUtf8 => a.as_string_opt::<i64>().map(|s| s.value(i)),
        DataType::Utf8View => a.as_string_view_opt().map(|s| s.value(i)),
        DataType::Dictionary(key, _) => match **key {
            DataType::Int8 => dict_str::<Int8Type>(a, i),
            DataType::Int16 => dict_str::<Int16Type>(a, i),
            DataType::Int32 => dict_str::<Int32Type>(a, i),
            DataType::Int64 => dict_str::<Int64Type>(a, i),
            DataType::UInt8 => dict_str::<UInt8Type>(a, i),
            DataType::UInt16 => dict_str::<UInt16Type>(a, i),
            DataType::UInt32 => dict_str::<UInt32Type>(a, i),
            DataType::UInt64 => dict_str::<UInt64Type>(a, i),
            _ => None,
        },
        _ => None,
    }
}

/// The integer at row `i` of an integer column, widened (`None` for other types).
fn integer_at(a: &dyn Array, i: usize) -> Result<Option<i128>, String> {
    Ok(Some(match a.data_type() {
        DataType::Int8 => prim::<Int8Type>(a, i)?.into(),
        DataType::Int16 => prim::<Int16Type>(a, i)?.into(),
        DataType::Int32 => prim::<Int32Type>(a, i)?.into(),
        DataType::Int64 => prim::<Int64Type>(a, i)?.into(),
        DataType::UInt8 => prim::<UInt8Type>(a, i)?.into(),
        DataType::UInt16 => prim::<UInt16Type>(a, i)?.into(),
        DataType::UInt32 => prim::<UInt32Type>(a, i)?.into(),
        DataType::UInt64 => prim::<UInt64Type>(a, i)?.into(),
        _ => return Ok(None),
    }))
}

/// The id at row `i`: the string, or the integer in decimal; `None` if null.
pub(super) fn id_at(a: &dyn Array, i: usize) -> Result<Option<String>, String> {
    if a.is_null(i) {
        return Ok(None);
    }
    match integer_at(a, i)? {
        Some(n) => Ok(Some(n.to_string())),
        None => Ok(string_at(a, i).map(String::from)),
    }
}

/// The list at row `i` of a `consents`/`segments` column: a list's non-empty items (trimmed), or a
/// delimited string split as a CSV cell is. Null is the empty list.
pub(super) fn list_at(a: &dyn Array, i: usize, delimiter: char) -> Vec<String> {
    if a.is_null(i) {
        return Vec::new();
    }
    let items = match a.data_type() {
        DataType::List(_) => a.as_list_opt::<i32>().map(|l| l.value(i)),
        DataType::LargeList(_) => a.as_list_opt::<i64>().map(|l| l.value(i)),
        _ => return string_at(a, i).map_or_else(Vec::new, |s| split_list(s, delimiter)),
    };
    let Some(items) = items else { return Vec::new() };
    (0..items.len())
        .filter_map(|j| string_at(items.as_ref(), j))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn number(x: f64) -> Result<Literal, String> {
    if x.is_finite() { Ok(Literal::Number(x)) } else { Err(format!("the number {x} is not finite")) }
}

fn integer(n: i128) -> Result<Literal, String> {
    if n.unsigned_abs() > u128::from(MAX_SAFE) {
        return Err(format!("the integer {n} is beyond ±(2^53 − 1), where numbers stop being exact"));
    }
    // Exact: |n| < 2^53.
    Ok(Literal::Number(n as f64))
}

fn decimal(text: String) -> Result<Literal, String> {
    text.parse::<f64>().map_err(|e| format!("decimal {text}: {e}")).and_then(number)
}

/// Milliseconds since the epoch from a count of `unit`s, rounded down.
fn millis(v: i64, unit: TimeUnit) -> Result<Literal, String> {
    let ms = match unit {
        TimeUnit::Second => v.checked_mul(1000).ok_or_else(|| format!("timestamp {v} s overflows"))?,
        TimeUnit::Millisecond => v,
        TimeUnit::Microsecond => v.div_euclid(1000),
        TimeUnit::Nanosecond => v.div_euclid(1_000_000),
    };
    integer(ms.into())
}

/// The attribute value at row `i` (see the module docs); `Err` says why the value is refused.
pub(super) fn literal_at(a: &dyn Array, i: usize) -> Result<Literal, String> {
    let dt = a.data_type();
    if matches!(dt, DataType::Null) || a.is_null(i) {
        return Ok(Literal::Null);
    }
    if let Some(n) = integer_at(a, i)? {
        return integer(n);
    }
    match dt {
        DataType::Boolean => a.as_boolean_opt().map(|b| Literal::Bool(b.value(i))).ok_or_else(|| mismatch(a)),
        DataType::Float16 => number(prim::<Float16Type>(a, i)?.to_f64()),
        DataType::Float32 => number(prim::<Float32Type>(a, i)?.into()),
        DataType::Float64 => number(prim::<Float64Type>(a, i)?),
        DataType::Decimal32(..) => {
            decimal(a.as_primitive_opt::<Decimal32Type>().ok_or_else(|| mismatch(a))?.value_as_string(i))
        }
        DataType::Decimal64(..) => {
            decimal(a.as_primitive_opt::<Decimal64Type>().ok_or_else(|| mismatch(a))?.value_as_string(i))
        }
        DataType::Decimal128(..) => {
            decimal(a.as_primitive_opt::<Decimal128Type>().ok_or_else(|| mismatch(a))?.value_as_string(i))
        }
        DataType::Decimal256(..) => {
            decimal(a.as_primitive_opt::<Decimal256Type>().ok_or_else(|| mismatch(a))?.value_as_string(i))
        }
        DataType::Date32 => integer(i128::from(prim::<Date32Type>(a, i)?) * i128::from(MS_PER_DAY)),
        DataType::Date64 => integer(prim::<Date64Type>(a, i)?.into()),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => prim::<TimestampSecondType>(a, i)?,
                TimeUnit::Millisecond => prim::<TimestampMillisecondType>(a, i)?,
                TimeUnit::Microsecond => prim::<TimestampMicrosecondType>(a, i)?,
                TimeUnit::Nanosecond => prim::<TimestampNanosecondType>(a, i)?,
            };
            millis(v, *unit)
        }
        _ => match string_at(a, i) {
            Some(s) => Ok(Literal::String(s.to_string())),
            None if is_string(dt) => Ok(Literal::Null),
            None => Err(format!("type {dt} cannot be an attribute (supported: {ATTRIBUTE_TYPES})")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMicrosecondArray};

    #[test]
    fn integers_beyond_2_53_and_timestamps() {
        let a = Int64Array::from(vec![(1 << 53) - 1, 1 << 53, -(1 << 53)]);
        assert_eq!(literal_at(&a, 0), Ok(Literal::Number(9_007_199_254_740_991.0)));
        assert!(literal_at(&a, 1).unwrap_err().contains("2^53"));
        assert!(literal_at(&a, 2).is_err());
        let t = TimestampMicrosecondArray::from(vec![1_700_000_000_123_999, -1]).with_timezone("UTC");
        assert_eq!(literal_at(&t, 0), Ok(Literal::Number(1_700_000_000_123.0)));
        assert_eq!(literal_at(&t, 1), Ok(Literal::Number(-1.0)), "rounded down");
    }
}
