//! Decimal text to the nearest `f64` (round half to even), without core's `str::parse::<f64>`.
//!
//! core's parser is fast on every input because it carries about 10 KB of power-of-five tables
//! (Eisel–Lemire) plus a big-decimal fallback: 15 KB of the module's gzip size, for a coercion
//! rules meet now and then (`"3.5" * 2`). This one is small instead:
//!
//! * **fast path** (Clinger): at most 19 significant digits forming an integer `m ≤ 2^53` and a
//!   decimal exponent within ±22 — `m` and `10^|e|` are exact doubles, so one multiplication or
//!   division rounds once, correctly. Nearly every number a rule meets takes this path.
//! * **exact path**: the value as a ratio of big integers, its 53-bit quotient and remainder found
//!   by shift-and-subtract, rounded half to even, subnormals included. Only the first 800
//!   significant digits are kept, plus one non-zero digit standing for any non-zero remainder —
//!   enough to decide the rounding of any double (767 digits suffice) — so a hostile megabyte of
//!   digits costs the same as 800; exponents are clamped far outside the double range.
//!
//! The grammar is Rust's `f64::from_str` for finite decimals: an optional sign, digits with an
//! optional `.` (at least one digit in all), an optional `e`/`E`, sign and at least one digit.

use alloc::vec::Vec;

/// Significant digits kept before the sticky digit.
const MAX_DIGITS: usize = 800;
/// Exact powers of ten as doubles.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Parses `s` (see the module notes); `None` if it is not a decimal number.
pub fn parse(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    // Significant digits (leading zeros dropped) and the exponent of the last one kept.
    let mut digits: Vec<u8> = Vec::new();
    let mut dropped_nonzero = false;
    let mut exp10: i64 = 0;
    let mut seen_digit = false;
    let mut seen_point = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                seen_digit = true;
                if digits.is_empty() && c == b'0' {
                    if seen_point {
                        exp10 -= 1;
                    }
                } else if digits.len() < MAX_DIGITS {
                    digits.push(c - b'0');
                    if seen_point {
                        exp10 -= 1;
                    }
                } else {
                    dropped_nonzero |= c != b'0';
                    if !seen_point {
                        exp10 += 1;
                    }
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let exp_negative = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            e = (e * 10 + i64::from(c - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp10 += if exp_negative { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    if dropped_nonzero {
        // Any non-zero tail: one more non-zero digit keeps the value strictly between its
        // neighbours at this precision, which is all rounding needs to know.
        digits.push(1);
        exp10 -= 1;
    }
    let magnitude = magnitude(&digits, exp10);
    Some(if negative { -magnitude } else { magnitude })
}

/// `0.d1d2… × 10^(exp10 + len)`, i.e. the integer `digits` times `10^exp10`, to the nearest double.
fn magnitude(digits: &[u8], exp10: i64) -> f64 {
    if digits.is_empty() {
        return 0.0;
    }
    let len = digits.len() as i64;
    // Far outside the double range (10^-343 rounds to 0, 10^310 overflows), before any work.
    if len + exp10 > 310 {
        return f64::INFINITY;
    }
    if len + exp10 < -343 {
        return 0.0;
    }
    if digits.len() <= 19 {
        let m = digits.iter().fold(0u64, |m, &d| m * 10 + u64::from(d));
        if m <= 1 << 53 && exp10.abs() <= 22 {
            let p = POW10.get(exp10.unsigned_abs() as usize).copied().unwrap_or(1.0);
            let m = m as f64;
            return if exp10 >= 0 { m * p } else { m / p };
        }
    }
    exact(digits, exp10)
}

/// The correctly rounded quotient of `digits × 10^max(e,0)` by `10^max(-e,0)`.
fn exact(digits: &[u8], exp10: i64) -> f64 {
    let mut num = Big::zero();
    for &d in digits {
        num.mul_small(10);
        num.add_small(u32::from(d));
    }
    let mut den = Big::one();
    let (up, down) = if exp10 >= 0 { (&mut num, exp10) } else { (&mut den, -exp10) };
    for _ in 0..down {
        up.mul_small(10);
    }
    // Binary exponent of the last mantissa bit: q = num / (den × 2^e2) should land in [2^52, 2^53).
    let mut e2 = num.bits() as i64 - den.bits() as i64 - 53;
    loop {
        let e = e2.max(-1074);
        let (q, rem_cmp) = quotient(&num, &den, e);
        if q >= 1 << 53 && e == e2 {
            e2 += 1;
            continue;
        }
        if q < 1 << 52 && e == e2 {
            e2 -= 1;
            continue;
        }
        // Round half to even.
        let mut q = q;
        if rem_cmp == core::cmp::Ordering::Greater || (rem_cmp == core::cmp::Ordering::Equal && q & 1 == 1) {
            q += 1;
        }
        let mut e = e;
        if q == 1 << 53 {
            q >>= 1;
            e += 1;
        }
        if e > 971 {
            return f64::INFINITY;
        }
        // q × 2^e: normal when q has 53 bits (biased exponent e + 1075), subnormal otherwise.
        let bits = if q >= 1 << 52 { ((e + 1075) as u64) << 52 | (q - (1 << 52)) } else { q };
        return f64::from_bits(bits);
    }
}

/// `floor(num / (den × 2^e))` (below 2^54 by the caller's choice of `e`, or smaller for
/// subnormals) and how twice the remainder compares with the divisor.
fn quotient(num: &Big, den: &Big, e: i64) -> (u64, core::cmp::Ordering) {
    let mut a = num.clone();
    let mut b = den.clone();
    if e < 0 {
        a.shl(e.unsigned_abs() as usize);
    } else {
        b.shl(e as usize);
    }
    let mut q = 0u64;
    for bit in (0..55).rev() {
        let mut shifted = b.clone();
        shifted.shl(bit);
        if a.cmp(&shifted) != core::cmp::Ordering::Less {
            a.sub(&shifted);
            q |= 1 << bit;
        }
    }
    a.shl(1);
    (q, a.cmp(&b))
}

/// A little-endian unsigned big integer with just the operations above.
#[derive(Clone, Debug)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn one() -> Big {
        Big(alloc::vec![1])
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            if carry == 0 {
                return;
            }
            let v = u64::from(*limb) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn bits(&self) -> usize {
        match self.0.last() {
            Some(&top) => (self.0.len() - 1) * 32 + (32 - top.leading_zeros() as usize),
            None => 0,
        }
    }

    fn shl(&mut self, n: usize) {
        let (limbs, bits) = (n / 32, n % 32);
        if bits > 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let v = *limb;
                *limb = (v << bits) | carry;
                carry = v >> (32 - bits);
            }
            if carry > 0 {
                self.0.push(carry);
            }
        }
        if limbs > 0 && !self.0.is_empty() {
            self.0.splice(0..0, core::iter::repeat_n(0, limbs));
        }
    }

    fn cmp(&self, other: &Big) -> core::cmp::Ordering {
        let (a, b) = (self.0.len(), other.0.len());
        if a != b {
            return a.cmp(&b);
        }
        for (x, y) in self.0.iter().rev().zip(other.0.iter().rev()) {
            if x != y {
                return x.cmp(y);
            }
        }
        core::cmp::Ordering::Equal
    }

    /// `self -= other`; the caller guarantees `self >= other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let o = i64::from(other.0.get(i).copied().unwrap_or(0));
            let mut v = i64::from(*limb) - o - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            *limb = v as u32;
        }
        self.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use alloc::format;
    use alloc::string::String;

    fn same(s: &str) {
        let ours = parse(s);
        // core also reads "inf", "NaN" and "infinity"; the callers refuse letters before parsing.
        let letters = s.bytes().any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E');
        let core = if letters { None } else { s.parse::<f64>().ok() };
        match (ours, core) {
            (Some(a), Some(b)) => assert_eq!(a.to_bits(), b.to_bits(), "{s}: {a:e} vs core {b:e}"),
            (None, None) => {}
            (a, b) => panic!("{s}: {a:?} vs core {b:?}"),
        }
    }

    #[test]
    fn hard_cases_round_as_core_does() {
        for s in [
            "0",
            "-0",
            "+0",
            "0.0",
            ".5",
            "5.",
            "1e0",
            "1E+2",
            "1e-2",
            "00012.50e1",
            "0.1",
            "0.2",
            "0.3",
            "9007199254740992",
            "9007199254740993",
            "9007199254740995",
            "18014398509481985",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "4.9e-324",
            "5e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e-400",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1e309",
            "123456789012345678901234567890",
            "1e23",
            "8.98846567431158e307",
            "0.000000000000000000000000000000000000000001",
            "3.14159265358979323846264338327950288419716939937510",
            "7.2057594037927933e16",
            "1448997445238699",
            "4.35679723e-300",
            "1e22",
            "1e-22",
            "123.456e30",
            "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368",
            "",
            "-",
            "+",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "--1",
            " 1",
            "1 ",
            "1x",
            "0x10",
            "inf",
            "NaN",
            "1_0",
        ] {
            same(s);
        }
    }

    #[test]
    fn a_hostile_run_of_digits_is_capped_and_still_exact() {
        let mut s = String::from("1.");
        s.push_str(&"0".repeat(100_000));
        s.push('1');
        same(&s);
        let long = format!("{}e-99999", "9".repeat(200_000));
        same(&long);
        // Just above and below a halfway point, decided by a digit 900 places in.
        let half = "9007199254740993";
        same(&format!("{half}.{}1", "0".repeat(900)));
        same(&format!("{half}.{}", "0".repeat(900)));
    }

    #[test]
    fn random_decimals_match_core_bit_for_bit() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        // 200 000 cases in an optimised build (a few seconds); fewer in the debug test profile.
        let cases = if cfg!(debug_assertions) { 15_000 } else { 200_000 };
        for _ in 0..cases {
            let r = next();
            let digits = 1 + (r % 40) as usize;
            let mut s = String::new();
            for k in 0..digits {
                let d = (next() % 10) as u8;
                s.push(char::from(b'0' + d));
                if k == (r >> 8) as usize % (digits + 1) {
                    s.push('.');
                }
            }
            let exp = (next() % 700) as i64 - 350;
            if r & (1 << 20) != 0 {
                s.push_str(&format!("e{exp}"));
            }
            same(&s);
            // And the shortest form of a random double: halfway neighbours are exercised too.
            let x = f64::from_bits(next() >> 1);
            if x.is_finite() {
                same(&format!("{x:e}"));
                same(&format!("{x:.17e}"));
            }
        }
    }
}
