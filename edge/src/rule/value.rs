//! Runtime values and JavaScript's coercions over them (json-logic-js inherits JS semantics).

use super::Literal;
use crate::request::AttrValue;
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// A runtime value. Borrows from the rule and from the request; allocates only for arrays built
/// from non-constant elements and strings built at run time (`cat`, `substr`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    /// A constant array straight from the IR.
    Literals(&'a [Literal]),
    Array(Vec<Value<'a>>),
    /// A string built during evaluation.
    String(String),
    /// An object from the data document (rules over data only; see [`super::Rule::evaluate_data`]).
    /// JS semantics: truthy, `String()` is `"[object Object]"`, equal only to itself — and since
    /// nothing here has an identity, never `==` another object.
    Object(&'a [(String, Literal)]),
}

impl<'a> From<&'a Literal> for Value<'a> {
    fn from(l: &'a Literal) -> Value<'a> {
        match l {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Number(n) => Value::Number(*n),
            Literal::String(s) => Value::Str(s),
            Literal::Array(items) => Value::Literals(items),
            Literal::Object(entries) => Value::Object(entries),
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

impl<'a> Value<'a> {
    /// The string, if this is one (borrowed or built).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Literals(_) | Value::Array(_))
    }

    /// An array or an object: a JS object, compared by identity and converted by `ToPrimitive`.
    pub fn is_object_like(&self) -> bool {
        matches!(self, Value::Literals(_) | Value::Array(_) | Value::Object(_))
    }

    /// The value as an owned [`Literal`] (a data value: what `edgeseg_eval` answers).
    pub fn to_literal(&self) -> Literal {
        match self {
            Value::Null => Literal::Null,
            Value::Bool(b) => Literal::Bool(*b),
            Value::Number(n) => Literal::Number(*n),
            Value::Str(s) => Literal::String(String::from(*s)),
            Value::String(s) => Literal::String(s.clone()),
            Value::Literals(items) => Literal::Array(items.to_vec()),
            Value::Array(items) => Literal::Array(items.iter().map(Value::to_literal).collect()),
            Value::Object(entries) => Literal::Object(entries.to_vec()),
        }
    }

    /// JSON Logic truthiness of a value no longer needed (see [`truthy`]).
    #[inline]
    pub fn truthy(self) -> bool {
        let t = truthy(&self);
        self.discard();
        t
    }

    /// Drops a value. Natively without a call to the drop glue for the scalars that own nothing
    /// (the evaluator drops operands at every node); in the size-gated wasm modules a plain drop:
    /// there the inlined check at every operand cost 1.4 KB and saved no guest instructions.
    #[inline(always)]
    pub(crate) fn discard(self) {
        #[cfg(not(target_arch = "wasm32"))]
        if matches!(self, Value::String(_) | Value::Array(_)) {
            drop(self);
        } else {
            core::mem::forget(self);
        }
        #[cfg(target_arch = "wasm32")]
        drop(self);
    }

    /// Number of elements of an array (0 for anything else).
    pub fn len(&self) -> usize {
        match self {
            Value::Literals(items) => items.len(),
            Value::Array(items) => items.len(),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i` of an array.
    pub fn get(&self, i: usize) -> Option<Value<'a>> {
        match self {
            Value::Literals(items) => items.get(i).map(Value::from),
            Value::Array(items) => items.get(i).cloned(),
            _ => None,
        }
    }
}

/// JSON Logic truthiness: JS truthiness, except that an empty array or object is falsy.
pub fn truthy(v: &Value<'_>) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::Str(s) => !s.is_empty(),
        Value::String(s) => !s.is_empty(),
        Value::Literals(items) => !items.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(entries) => !entries.is_empty(),
    }
}

/// The elements of an array value (empty for anything else).
pub fn elements<'a>(v: &Value<'a>) -> Vec<Value<'a>> {
    match v {
        Value::Literals(items) => items.iter().map(Value::from).collect(),
        Value::Array(items) => items.clone(),
        _ => Vec::new(),
    }
}

/// JS `===`. Arrays are objects: never strictly equal to anything built separately.
pub fn strict_eq(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        _ => matches!((a.as_str(), b.as_str()), (Some(x), Some(y)) if x == y),
    }
}

/// JS `==` (Abstract Equality Comparison) over JSON values.
pub fn loose_eq(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        // The common cases first.
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        _ if a.is_object_like() && b.is_object_like() => false,
        (Value::Number(x), s) | (s, Value::Number(x)) if s.as_str().is_some() => {
            *x == string_to_number(s.as_str().unwrap_or_default())
        }
        (Value::Bool(x), other) | (other, Value::Bool(x)) => {
            loose_eq(&Value::Number(if *x { 1.0 } else { 0.0 }), other)
        }
        // ToPrimitive of an array is its string form (`[1,2]` → `"1,2"`), of an object
        // "[object Object]"; compare that instead.
        _ if a.is_object_like() => loose_eq(&Value::String(to_js_string(a)), b),
        _ if b.is_object_like() => loose_eq(a, &Value::String(to_js_string(b))),
        _ => strict_eq(a, b),
    }
}

/// JS Abstract Relational Comparison: `a < b` (or `a <= b` with `or_equal`).
pub fn less(a: &Value<'_>, b: &Value<'_>, or_equal: bool) -> bool {
    if let (Value::Number(x), Value::Number(y)) = (a, b) {
        return if or_equal { x <= y } else { x < y };
    }
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
    Str(Cow<'a, str>),
}

impl Prim<'_> {
    fn to_number(&self) -> f64 {
        match self {
            Prim::Num(n) => *n,
            Prim::Str(s) => string_to_number(s),
        }
    }
}

fn to_primitive<'a>(v: &'a Value<'_>) -> Prim<'a> {
    match v {
        Value::Null => Prim::Num(0.0),
        Value::Bool(b) => Prim::Num(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => Prim::Num(*n),
        Value::Str(s) => Prim::Str(Cow::Borrowed(s)),
        Value::String(s) => Prim::Str(Cow::Borrowed(s.as_str())),
        Value::Literals(_) | Value::Array(_) | Value::Object(_) => Prim::Str(Cow::Owned(to_js_string(v))),
    }
}

/// JS `Number(v)`.
pub fn to_number(v: &Value<'_>) -> f64 {
    to_primitive(v).to_number()
}

/// JS `parseFloat(String(v))`: the longest decimal prefix after leading white space; NaN if none.
/// (json-logic-js's `+` and `*` use it, so `{"+": ["3px"]}` is 3 and `{"+": [null]}` is NaN.)
pub fn parse_float(v: &Value<'_>) -> f64 {
    match v {
        Value::Number(n) => *n,
        Value::Str(s) => parse_float_str(s),
        Value::String(s) => parse_float_str(s),
        _ => parse_float_str(&to_js_string(v)),
    }
}

fn parse_float_str(s: &str) -> f64 {
    let t = s.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned.starts_with("Infinity") {
        return if t.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    let b = t.as_bytes();
    let mut end = usize::from(b.first().is_some_and(|c| *c == b'+' || *c == b'-'));
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let int_end = digits(end);
    let mut mantissa = int_end > end;
    end = int_end;
    if b.get(end) == Some(&b'.') {
        let frac_end = digits(end + 1);
        if frac_end > end + 1 || mantissa {
            mantissa = mantissa || frac_end > end + 1;
            end = frac_end;
        }
    }
    if !mantissa {
        return f64::NAN;
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(end + 1), Some(b'+' | b'-')));
        let exp_end = digits(end + 1 + sign);
        if exp_end > end + 1 + sign {
            end = exp_end;
        }
    }
    t.get(..end).and_then(super::decimal::parse).unwrap_or(f64::NAN)
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
    super::decimal::parse(t).unwrap_or(f64::NAN)
}

/// JS `String(v)` for JSON values.
pub fn to_js_string(v: &Value<'_>) -> String {
    let mut out = String::new();
    write_js_string(v, &mut out);
    out
}

/// Appends JS `String(v)`.
pub fn write_js_string(v: &Value<'_>, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_js_number(*n, out),
        Value::Str(s) => out.push_str(s),
        Value::String(s) => out.push_str(s),
        Value::Object(_) => out.push_str("[object Object]"),
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
    } else if n.abs() < 9_007_199_254_740_992.0 && (n as i64) as f64 == n {
        // Exact integers below 2^53 print as themselves.
        let _ = write!(out, "{}", n as i64);
    } else {
        // Number::toString: the shortest round-trip digits (ryu prints those as `d.ddd` or
        // `d.ddde±x`), placed by the decimal exponent — plain for 1e-7 < |n| < 1e21, exponential
        // outside.
        let mut buf = ryu::Buffer::new();
        let shortest = buf.format_finite(n.abs());
        let (mantissa, exp) = match shortest.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
            None => (shortest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all: String = int.chars().chain(frac.chars()).collect();
        let lead = all.len() - all.trim_start_matches('0').len();
        let digits = all.trim_start_matches('0').trim_end_matches('0');
        let k = digits.len() as i64;
        let point = int.len() as i64 - lead as i64 + exp;
        if n < 0.0 {
            out.push('-');
        }
        let (head, tail) = digits.split_at_checked(1).unwrap_or((digits, ""));
        if k <= point && point <= 21 {
            out.push_str(digits);
            out.extend(core::iter::repeat_n('0', (point - k) as usize));
        } else if 0 < point && point <= 21 {
            let (int, frac) = digits.split_at_checked(point as usize).unwrap_or((digits, ""));
            let _ = write!(out, "{int}.{frac}");
        } else if -6 < point && point <= 0 {
            out.push_str("0.");
            out.extend(core::iter::repeat_n('0', (-point) as usize));
            out.push_str(digits);
        } else {
            out.push_str(head);
            if !tail.is_empty() {
                let _ = write!(out, ".{tail}");
            }
            let e = point - 1;
            let _ = write!(out, "e{}{e}", if e < 0 { "" } else { "+" });
        }
    }
}

/// JSON Logic `in`: substring when the haystack is a string, strict membership when an array.
pub fn contains(haystack: &Value<'_>, needle: &Value<'_>) -> bool {
    if let Some(h) = haystack.as_str() {
        // `String.prototype.indexOf` converts its argument: an array searches for its joined form.
        return match needle.as_str() {
            Some(n) => has_substring(h.as_bytes(), n.as_bytes()),
            None => has_substring(h.as_bytes(), to_js_string(needle).as_bytes()),
        };
    }
    match haystack {
        Value::Literals(items) => items.iter().any(|l| strict_eq(&Value::from(l), needle)),
        Value::Array(items) => items.iter().any(|v| strict_eq(v, needle)),
        _ => false,
    }
}

/// Whether `needle` occurs in `haystack`, bytewise. For UTF-8 text this is `str::contains` (a
/// valid needle can only match at character boundaries), without core's Two-Way searcher: that
/// searcher, and the panic formatting its slicing links, cost the wasm modules about 5.6 KB of
/// code. Haystacks are request values capped by the snapshot's `header_bytes` and needles are
/// rule literals, so a scan is bounded. It tests eight start positions per step (SWAR): a start is
/// a candidate only where both the needle's first and its last byte match, and only candidates are
/// compared in full (a user agent searched for "Mobile" has a few candidates, not one per `M`).
fn has_substring(haystack: &[u8], needle: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let (Some(&first), Some(&last)) = (needle.first(), needle.last()) else { return true };
    let Some(starts) = (haystack.len() + 1).checked_sub(needle.len()) else { return false };
    let last_at = needle.len() - 1;
    let word = |at: usize| haystack.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    let matches_at = |at: usize| haystack.get(at..at + needle.len()) == Some(needle);
    let mut at = 0;
    while at + 8 <= starts {
        let (Some(heads), Some(tails)) = (word(at), word(at + last_at)) else { break };
        // A zero byte where the first and the last byte both match; the high bit of each zero byte
        // set, exactly (no carries between bytes).
        let x = (heads ^ (ONES * u64::from(first))) | (tails ^ (ONES * u64::from(last)));
        let mut candidates = !(((x & LOW7) + LOW7) | x | LOW7);
        while candidates != 0 {
            if matches_at(at + (candidates.trailing_zeros() / 8) as usize) {
                return true;
            }
            candidates &= candidates - 1;
        }
        at += 8;
    }
    (at..starts).any(matches_at)
}

/// JS `ToIntegerOrInfinity`, saturated to `i64` (NaN is 0).
pub fn to_integer(n: f64) -> i64 {
    n as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_search_agrees_with_str_contains() {
        let hay = [
            "",
            "a",
            "abc",
            "aaab",
            "Mozilla/5.0 (iPhone) Mobile/15E148",
            "größe straße",
            "ααβ",
            "日本語テキスト",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1",
        ];
        let needles = [
            "",
            "a",
            "b",
            "ab",
            "aab",
            "abc",
            "abcd",
            "Mobile",
            "15E148",
            "ße",
            "straße",
            "αβ",
            "β",
            "テ",
            "語テ",
            "x",
            "aaaaaaaab",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            "604.1",
            "Mozilla",
            "M",
            "1",
            "Safari/604.1x",
        ];
        for h in hay {
            // Every suffix too, so each needle is met at every offset of the eight-byte steps.
            for cut in 0..=h.len() {
                let Some(h) = h.get(cut..) else { continue };
                for n in needles {
                    assert_eq!(has_substring(h.as_bytes(), n.as_bytes()), h.contains(n), "{h:?} contains {n:?}");
                }
            }
        }
        // Bytes with the high bit set next to the ones searched for (the zero-byte test must not
        // borrow across bytes).
        let bytes: [&[u8]; 3] =
            [&[0x80, 0x00, 0xff, 0x01, 0x7f, 0x80, 0x00, 0x01, 0x00, 0xff], &[0u8; 17], &[0xffu8; 17]];
        for h in bytes {
            for n in
                [&[0x00u8][..], &[0x00, 0x01], &[0xff, 0x01], &[0x80, 0x00, 0x01], &[0xff; 9], &[0; 9], &[0x7f, 0x80]]
            {
                let naive = h.windows(n.len()).any(|w| w == n);
                assert_eq!(has_substring(h, n), naive, "{h:?} contains {n:?}");
            }
        }
    }

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
        assert!(strict_eq(&Value::String("ab".into()), &s("ab")));
        assert!(loose_eq(&Value::String("2".into()), &n(2.0)));
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
        assert!(!truthy(&Value::String(String::new())));
        assert!(string_to_number("inf").is_nan());
        assert_eq!(string_to_number("0x1A"), 26.0);
        assert_eq!(string_to_number("-1.5e3"), -1500.0);
        assert_eq!(to_js_string(&n(3.0)), "3");
        assert_eq!(to_js_string(&n(-0.5)), "-0.5");
        for (x, js) in [
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (-2.5e-7, "-2.5e-7"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (0.0000015, "0.0000015"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (123456789012345680000.0, "123456789012345680000"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-0.0, "0"),
        ] {
            assert_eq!(to_js_string(&n(x)), js, "{x:e}");
        }
        let arr = [Literal::Null, Literal::Bool(true), Literal::String("x".into())];
        assert_eq!(to_js_string(&Value::Literals(&arr)), ",true,x");
        assert_eq!(to_number(&Value::Null), 0.0);
        assert_eq!(to_number(&Value::Bool(true)), 1.0);
        assert_eq!(to_number(&Value::Literals(&[Literal::Number(7.0)])), 7.0);
        assert!(to_number(&Value::Literals(&[Literal::Number(7.0), Literal::Null])).is_nan());
        assert_eq!(to_number(&Value::Literals(&[])), 0.0);
    }

    #[test]
    fn parse_float_takes_the_longest_decimal_prefix() {
        for (input, want) in [
            ("2.75", 2.75),
            ("  12px", 12.0),
            ("-1.5e3x", -1500.0),
            ("1e", 1.0),
            ("1e+", 1.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("+7", 7.0),
            ("-Infinityx", f64::NEG_INFINITY),
            ("0x10", 0.0),
        ] {
            assert_eq!(parse_float_str(input), want, "{input:?}");
        }
        for input in ["", ".", "-", "abc", "e5", "inf", "NaN"] {
            assert!(parse_float_str(input).is_nan(), "{input:?}");
        }
        assert!(parse_float(&Value::Null).is_nan());
        assert!(parse_float(&Value::Bool(true)).is_nan());
        assert_eq!(parse_float(&Value::Literals(&[Literal::Number(4.0), Literal::Number(5.0)])), 4.0);
    }

    #[test]
    fn in_on_arrays_and_strings() {
        let hay = [Literal::String("DE".into()), Literal::Number(1.0)];
        assert!(contains(&Value::Literals(&hay), &s("DE")));
        assert!(!contains(&Value::Literals(&hay), &s("1")));
        assert!(contains(&s("/checkout/cart"), &s("checkout")));
        assert!(contains(&s("v1.2"), &n(1.0)));
        assert!(!contains(&Value::Null, &s("x")));
        assert!(contains(&Value::String("abc".into()), &s("b")));
        let ab = [Literal::String("a".into()), Literal::String("b".into())];
        assert!(contains(&s("xa,by"), &Value::Literals(&ab)));
        assert!(contains(&s("nullish"), &Value::Null));
    }

    #[test]
    fn to_integer_truncates_and_saturates() {
        assert_eq!(to_integer(-1.7), -1);
        assert_eq!(to_integer(f64::NAN), 0);
        assert_eq!(to_integer(f64::INFINITY), i64::MAX);
    }
}
