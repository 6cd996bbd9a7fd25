//! flagd's custom operators: `sem_ver` and `fractional` (plus `starts_with`/`ends_with` in `ops`).

use super::value::Value;
use core::cmp::Ordering;

/// MurmurHash3, x86 32-bit variant.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut blocks = data.chunks_exact(4);
    for block in blocks.by_ref() {
        let mut k = block.iter().rev().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = tail.iter().rev().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// flagd `fractional` with a bucketing key: `bucket = (murmur3(key) * total) >> 32`, and the first
/// variant whose cumulative weight exceeds it. Each variant is `[name]` (weight 1) or
/// `[name, weight]` with a non-negative integer weight; anything else, or a total of 0, is null.
pub fn fractional<'a>(key: &Value<'_>, variants: &[Value<'a>]) -> Value<'a> {
    let Some(key) = key.as_str() else { return Value::Null };
    let mut parsed = alloc::vec::Vec::with_capacity(variants.len());
    let mut total: u64 = 0;
    for v in variants {
        if !v.is_array() {
            return Value::Null;
        }
        let name = match v.get(0) {
            Some(name @ (Value::Str(_) | Value::String(_))) => name,
            _ => return Value::Null,
        };
        let weight = match (v.len(), v.get(1)) {
            (1, _) => 1,
            (2, Some(Value::Number(w))) if w >= 0.0 && w <= u32::MAX as f64 && (w as u64) as f64 == w => w as u64,
            _ => return Value::Null,
        };
        total += weight;
        parsed.push((name, weight));
    }
    if total == 0 {
        return Value::Null;
    }
    let bucket = (u64::from(murmur3_32(key.as_bytes(), 0)) * total) >> 32;
    let mut cumulative = 0;
    for (name, weight) in parsed {
        cumulative += weight;
        if bucket < cumulative {
            return name;
        }
    }
    Value::Null
}

/// A parsed semantic version, in Go `golang.org/x/mod/semver`'s grammar (what flagd uses): an
/// optional leading `v`, then `major[.minor[.patch]]` (missing parts are 0), and for full versions
/// an optional `-prerelease` and `+build`.
#[derive(Debug, PartialEq)]
struct SemVer<'s> {
    major: &'s str,
    minor: &'s str,
    patch: &'s str,
    pre: &'s str,
}

fn number(s: &str) -> Option<(&str, &str)> {
    let end = s.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    let (n, rest) = s.split_at_checked(end)?;
    if n.is_empty() || (n.len() > 1 && n.starts_with('0')) {
        return None;
    }
    Some((n, rest))
}

fn identifiers_ok(s: &str, numeric_no_leading_zero: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !(numeric_no_leading_zero
                && id.len() > 1
                && id.starts_with('0')
                && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn parse(v: &str) -> Option<SemVer<'_>> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let (major, rest) = number(v)?;
    let Some(rest) = rest.strip_prefix('.') else {
        return rest.is_empty().then_some(SemVer { major, minor: "0", patch: "0", pre: "" });
    };
    let (minor, rest) = number(rest)?;
    let Some(rest) = rest.strip_prefix('.') else {
        return rest.is_empty().then_some(SemVer { major, minor, patch: "0", pre: "" });
    };
    let (patch, rest) = number(rest)?;
    let (main, build) = match rest.split_once('+') {
        Some((m, b)) => (m, Some(b)),
        None => (rest, None),
    };
    if build.is_some_and(|b| !identifiers_ok(b, false)) {
        return None;
    }
    let pre = match main.strip_prefix('-') {
        Some(p) if identifiers_ok(p, true) => p,
        Some(_) => return None,
        None if main.is_empty() => "",
        None => return None,
    };
    Some(SemVer { major, minor, patch, pre })
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut xs = a.split('.');
    let mut ys = b.split('.');
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let xn = x.bytes().all(|b| b.is_ascii_digit());
                let yn = y.bytes().all(|b| b.is_ascii_digit());
                let ord = match (xn, yn) {
                    (true, true) => cmp_num(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

fn compare(a: &SemVer<'_>, b: &SemVer<'_>) -> Ordering {
    cmp_num(a.major, b.major)
        .then_with(|| cmp_num(a.minor, b.minor))
        .then_with(|| cmp_num(a.patch, b.patch))
        .then_with(|| cmp_pre(a.pre, b.pre))
}

/// flagd `sem_ver`: `[version, op, version]` with op one of `=` `!=` `<` `<=` `>` `>=`, `^` (same
/// major) or `~` (same major and minor). Non-string or invalid versions, or an unknown op, are null.
pub fn sem_ver(a: &Value<'_>, op: &Value<'_>, b: &Value<'_>) -> Value<'static> {
    let (Some(a), Some(op), Some(b)) = (a.as_str(), op.as_str(), b.as_str()) else { return Value::Null };
    let (Some(x), Some(y)) = (parse(a.trim()), parse(b.trim())) else { return Value::Null };
    let ord = compare(&x, &y);
    Value::Bool(match op {
        "=" => ord == Ordering::Equal,
        "!=" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        "<=" => ord != Ordering::Greater,
        ">" => ord == Ordering::Greater,
        ">=" => ord != Ordering::Less,
        "^" => cmp_num(x.major, y.major) == Ordering::Equal,
        "~" => cmp_num(x.major, y.major) == Ordering::Equal && cmp_num(x.minor, y.minor) == Ordering::Equal,
        _ => return Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Literal;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn murmur3_matches_published_vectors() {
        // From Austin Appleby's SMHasher and the widely quoted x86_32 vectors.
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"", 0xffff_ffff), 0x81f1_6f39);
        assert_eq!(murmur3_32(&[0, 0, 0, 0], 0), 0x2362_f9de);
        assert_eq!(murmur3_32(b"aaaa", 0x9747_b28c), 0x5a97_808a);
        assert_eq!(murmur3_32(b"abc", 0), 0xb3dd_93fa);
        assert_eq!(murmur3_32(b"Hello, world!", 0x9747_b28c), 0x2488_4cba);
        assert_eq!(murmur3_32(b"The quick brown fox jumps over the lazy dog", 0x9747_b28c), 0x2fa8_26cd);
        assert_eq!(murmur3_32(b"hello", 0), 0x248b_fa47);
    }

    fn v(x: &'static str) -> Value<'static> {
        Value::Str(x)
    }

    #[test]
    fn sem_ver_orders_like_semver_2() {
        let t = |a, op, b| sem_ver(&v(a), &v(op), &v(b));
        assert_eq!(t("1.0.0", "=", "v1.0.0"), Value::Bool(true));
        assert_eq!(t("1.0.0+build.7", "=", "1.0.0"), Value::Bool(true));
        assert_eq!(t("1.2", "=", "1.2.0"), Value::Bool(true));
        assert_eq!(t("1", "<", "1.0.1"), Value::Bool(true));
        assert_eq!(t("1.10.0", ">", "1.9.9"), Value::Bool(true));
        // semver.org §11's example order.
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ];
        for pair in order.windows(2) {
            if let [a, b] = pair {
                assert_eq!(t(a, "<", b), Value::Bool(true), "{a} < {b}");
                assert_eq!(t(b, ">=", a), Value::Bool(true), "{b} >= {a}");
                assert_eq!(t(a, "!=", b), Value::Bool(true));
            }
        }
        assert_eq!(t("1.5.9", "^", "1.0.0"), Value::Bool(true));
        assert_eq!(t("2.0.0", "^", "1.0.0"), Value::Bool(false));
        assert_eq!(t("1.2.9", "~", "1.2.0"), Value::Bool(true));
        assert_eq!(t("1.3.0", "~", "1.2.0"), Value::Bool(false));
        for bad in ["", "x", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.2-beta", "1.0.0+", "1..0", "v"] {
            assert_eq!(t(bad, "=", "1.0.0"), Value::Null, "{bad:?}");
        }
        assert_eq!(t("1.0.0", "==", "1.0.0"), Value::Null);
        assert_eq!(sem_ver(&Value::Number(1.0), &v("="), &v("1.0.0")), Value::Null);
    }

    fn variant(name: &str, weight: Option<f64>) -> Literal {
        let mut items = vec![Literal::String(String::from(name))];
        if let Some(w) = weight {
            items.push(Literal::Number(w));
        }
        Literal::Array(items)
    }

    #[test]
    fn fractional_refuses_invalid_input() {
        let ok = variant("a", None);
        let lits = [ok.clone(), variant("b", Some(-1.0)), variant("c", Some(0.5))];
        for bad in &lits[1..] {
            let vs = [Value::from(&lits[0]), Value::from(bad)];
            assert_eq!(fractional(&v("k"), &vs), Value::Null);
        }
        let zero = variant("z", Some(0.0));
        assert_eq!(fractional(&v("k"), &[Value::from(&zero)]), Value::Null);
        assert_eq!(fractional(&Value::Null, &[Value::from(&ok)]), Value::Null);
        assert_eq!(fractional(&v("k"), &[v("a")]), Value::Null);
        assert_eq!(fractional(&v("k"), &[Value::from(&ok)]), v("a"));
    }

    /// Output of `tests/spec/tools/fractional.py`, an independent Python MurmurHash3 and bucketing.
    const REFERENCE: &[(&str, &str, &str)] = &[
        ("even", "", "red"),
        ("even", "alice", "red"),
        ("even", "bob", "blue"),
        ("even", "carol", "red"),
        ("even", "user-1", "blue"),
        ("even", "user-2", "blue"),
        ("even", "user-42", "blue"),
        ("even", "flagkeyuser-7", "red"),
        ("even", "ünïcödé", "red"),
        ("even", "premium-canaryc-1234", "blue"),
        ("even", "user-28", "red"),
        ("even", "user-87", "red"),
        ("thirds", "", "a"),
        ("thirds", "alice", "a"),
        ("thirds", "bob", "b"),
        ("thirds", "carol", "a"),
        ("thirds", "user-1", "c"),
        ("thirds", "user-2", "c"),
        ("thirds", "user-42", "c"),
        ("thirds", "flagkeyuser-7", "b"),
        ("thirds", "ünïcödé", "b"),
        ("thirds", "premium-canaryc-1234", "c"),
        ("thirds", "user-28", "a"),
        ("thirds", "user-87", "a"),
        ("canary", "", "canary"),
        ("canary", "alice", "rest"),
        ("canary", "bob", "rest"),
        ("canary", "carol", "rest"),
        ("canary", "user-1", "rest"),
        ("canary", "user-2", "rest"),
        ("canary", "user-42", "rest"),
        ("canary", "flagkeyuser-7", "rest"),
        ("canary", "ünïcödé", "rest"),
        ("canary", "premium-canaryc-1234", "rest"),
        ("canary", "user-28", "canary"),
        ("canary", "user-87", "canary"),
        ("skewed", "", "one"),
        ("skewed", "alice", "two"),
        ("skewed", "bob", "three"),
        ("skewed", "carol", "two"),
        ("skewed", "user-1", "three"),
        ("skewed", "user-2", "three"),
        ("skewed", "user-42", "three"),
        ("skewed", "flagkeyuser-7", "three"),
        ("skewed", "ünïcödé", "three"),
        ("skewed", "premium-canaryc-1234", "three"),
        ("skewed", "user-28", "one"),
        ("skewed", "user-87", "one"),
        ("zero-first", "", "always"),
        ("zero-first", "alice", "always"),
        ("zero-first", "bob", "always"),
        ("zero-first", "carol", "always"),
        ("zero-first", "user-1", "always"),
        ("zero-first", "user-2", "always"),
        ("zero-first", "user-42", "always"),
        ("zero-first", "flagkeyuser-7", "always"),
        ("zero-first", "ünïcödé", "always"),
        ("zero-first", "premium-canaryc-1234", "always"),
        ("zero-first", "user-28", "always"),
        ("zero-first", "user-87", "always"),
    ];

    #[test]
    fn fractional_matches_the_reference_table() {
        let weights = |name: &str| -> Vec<Literal> {
            let list: &[(&str, f64)] = match name {
                "even" => &[("red", 1.0), ("blue", 1.0)],
                "thirds" => &[("a", 1.0), ("b", 1.0), ("c", 1.0)],
                "canary" => &[("canary", 5.0), ("rest", 95.0)],
                "skewed" => &[("one", 10.0), ("two", 20.0), ("three", 70.0)],
                _ => &[("never", 0.0), ("always", 1.0)],
            };
            // "thirds" also checks the default weight of 1.
            list.iter().map(|(n, w)| variant(n, (name != "thirds").then_some(*w))).collect()
        };
        for (set, key, want) in REFERENCE {
            let lits = weights(set);
            let vals: Vec<Value<'_>> = lits.iter().map(Value::from).collect();
            assert_eq!(fractional(&Value::Str(key), &vals), Value::Str(want), "{set} {key:?}");
        }
        // The hashes behind the table, from the same script.
        // murmur3('') = 0x00000000
        // murmur3('alice') = 0x4c518edd
        // murmur3('bob') = 0xa85b7bf2
        // murmur3('carol') = 0x25d7ed74
        // murmur3('user-1') = 0xf8a28763
        // murmur3('user-2') = 0xde9747cb
        // murmur3('user-42') = 0xb972dad0
        // murmur3('flagkeyuser-7') = 0x6cce4ed3
        // murmur3('ünïcödé') = 0x7b5af2c4
        // murmur3('premium-canaryc-1234') = 0xc2145a65
        // murmur3('user-28') = 0x038ace61
        // murmur3('user-87') = 0x0824a091
        assert_eq!(murmur3_32("alice".as_bytes(), 0), 0x4c51_8edd);
        assert_eq!(murmur3_32("ünïcödé".as_bytes(), 0), 0x7b5a_f2c4);
    }
}
