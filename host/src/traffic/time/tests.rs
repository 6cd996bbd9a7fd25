//! The log-time parsers against an independent calendar: generated instants are written in every
//! form the readers accept (nginx `$time_local`, `$time_iso8601`, HAR `startedDateTime` and RFC
//! 3339's variants, `$msec`) under generated offsets and fraction lengths, with civil fields from
//! Howard Hinnant's `civil_from_days` (not jiff's), and must parse back to the instant. Then the
//! edge cases by name: leap years, offsets, fractions, out-of-range values.

use super::*;
use proptest::prelude::*;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY_MS: i64 = 86_400_000;
/// 9999-12-30T22:00:00Z, jiff's last `Timestamp` (so that every offset's civil time stays in
/// year 9999).
const LAST_MS: i64 = 253_402_207_200_000;

/// (year, month, day) of a day count from 1970-01-01 (Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month as usize, day)
}

/// The local civil fields of `ms` at `offset_min` east of UTC: date, h, m, s, ms.
fn fields(ms: i64, offset_min: i64) -> ((i64, usize, i64), i64, i64, i64, i64) {
    let local = ms + offset_min * 60_000;
    let (days, in_day) = (local.div_euclid(DAY_MS), local.rem_euclid(DAY_MS));
    (civil(days), in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000)
}

fn offset(offset_min: i64, colon: bool) -> String {
    let (sign, a) = if offset_min < 0 { ('-', -offset_min) } else { ('+', offset_min) };
    if colon { format!("{sign}{:02}:{:02}", a / 60, a % 60) } else { format!("{sign}{:02}{:02}", a / 60, a % 60) }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn time_local_round_trips(ms in DAY_MS..=LAST_MS, offset_min in -1439i64..=1439) {
        let ((y, mo, d), h, mi, s, _) = fields(ms, offset_min);
        let text = format!("{d:02}/{}/{y:04}:{h:02}:{mi:02}:{s:02} {}", MONTHS[mo - 1], offset(offset_min, false));
        prop_assert_eq!(parse_time_local(&text), Some((ms - ms % 1000) as u64), "{}", text);
    }

    #[test]
    fn iso8601_round_trips(
        ms in DAY_MS..=LAST_MS,
        offset_min in -1439i64..=1439,
        zone in 0u8..4,
        separator in prop::sample::select(vec!['T', 't', ' ']),
        frac_digits in 0usize..=9,
        extra in 0u64..1_000_000,
    ) {
        let ((y, mo, d), h, mi, s, milli) = fields(ms, if zone < 2 { 0 } else { offset_min });
        let zone = match zone {
            0 => "Z".to_owned(),
            1 => "z".to_owned(),
            2 => offset(offset_min, true),
            _ => offset(offset_min, false),
        };
        // Nine digits of fraction: the milliseconds, then sub-millisecond digits that truncate.
        let nanos = format!("{milli:03}{extra:06}");
        let frac = if frac_digits == 0 { String::new() } else { format!(".{}", &nanos[..frac_digits]) };
        let text = format!("{y:04}-{mo:02}-{d:02}{separator}{h:02}:{mi:02}:{s:02}{frac}{zone}");
        let kept = match frac_digits { 0 => 0, 1 => milli / 100 * 100, 2 => milli / 10 * 10, _ => milli };
        prop_assert_eq!(parse_iso8601(&text), Some((ms - milli + kept) as u64), "{}", text);
    }

    #[test]
    fn msec_round_trips(ms in 0u64..=u64::MAX / 1000 * 1000 - 1, frac_digits in 0usize..=3) {
        let (secs, milli) = (ms / 1000, ms % 1000);
        let frac = format!("{milli:03}");
        let text = if frac_digits == 0 { secs.to_string() } else { format!("{secs}.{}", &frac[..frac_digits]) };
        let kept = match frac_digits { 0 => 0, 1 => milli / 100 * 100, 2 => milli / 10 * 10, _ => milli };
        prop_assert_eq!(parse_msec(&text), Some(secs * 1000 + kept));
    }
}

#[test]
fn time_local_with_offsets() {
    // The nginx documentation's example.
    assert_eq!(parse_time_local("10/Oct/2000:13:55:36 -0700"), Some(971_211_336_000));
    assert_eq!(parse_time_local("01/Jan/1970:00:00:00 +0000"), Some(0));
    assert_eq!(parse_time_local("01/Jan/1970:01:00:00 +0100"), Some(0));
    assert_eq!(parse_time_local("31/Dec/1969:23:00:00 -0100"), Some(0), "a local date before 1970, UTC at it");
    assert_eq!(parse_time_local("01/Jan/2000:00:00:00 +1400"), Some(946_634_400_000));
    assert_eq!(parse_time_local("10/Foo/2000:13:55:36 -0700"), None);
    assert_eq!(parse_time_local("10/Oct/2000:13:55:36"), None, "no offset");
    assert_eq!(parse_time_local("10/Oct/2000:13:55:36 -0700 extra"), None);
}

#[test]
fn leap_years() {
    assert_eq!(parse_time_local("29/Feb/2024:12:00:00 +0100"), Some(1_709_204_400_000));
    assert_eq!(parse_time_local("29/Feb/2000:00:00:00 +0000"), Some(951_782_400_000), "divisible by 400");
    assert_eq!(parse_time_local("30/Feb/2024:12:00:00 +0100"), None);
    assert_eq!(parse_time_local("29/Feb/2023:00:00:00 +0000"), None);
    assert_eq!(parse_iso8601("2100-02-29T00:00:00Z"), None, "divisible by 100, not 400");
    assert_eq!(parse_iso8601("2024-02-29T23:59:59.999Z"), Some(1_709_251_199_999));
}

#[test]
fn iso8601_forms() {
    assert_eq!(parse_iso8601("2000-10-10T13:55:36-07:00"), Some(971_211_336_000));
    assert_eq!(parse_iso8601("2000-10-10T13:55:36-0700"), Some(971_211_336_000));
    assert_eq!(parse_iso8601("2000-10-10 20:55:36z"), Some(971_211_336_000));
    assert_eq!(parse_iso8601("2000-10-10T20:55:36.25Z"), Some(971_211_336_250));
    assert_eq!(parse_iso8601("2000-10-10T20:55:36.123456789+00:00"), Some(971_211_336_123), "truncated");
    assert_eq!(parse_iso8601("2000-10-10T20:55:36.999999999-00:00"), Some(971_211_336_999));
    assert_eq!(parse_iso8601("2000-10-10T20:55:36"), None, "no offset: ambiguous");
    assert_eq!(parse_iso8601("2000-10-10T20:55:36.Z"), None, "a point without digits");
    assert_eq!(parse_iso8601("2000-10-10T20:55:36.1234567890Z"), None, "past nanoseconds");
}

#[test]
fn out_of_range_values_are_refused() {
    for bad in [
        "2000-13-10T20:55:36Z",
        "2000-00-10T20:55:36Z",
        "2000-04-31T20:55:36Z",
        "2000-10-10T24:00:00Z",
        "2000-10-10T23:60:00Z",
        "2000-10-10T23:59:61Z",
        "2000-10-10T23:59:59+26:00",
        "1969-12-31T23:59:59.999Z",
        "10000-01-01T00:00:00Z",
        "9223372036854775807-01-01T00:00:00Z",
    ] {
        assert_eq!(parse_iso8601(bad), None, "{bad}");
    }
    assert_eq!(parse_time_local("32/Jan/2000:00:00:00 +0000"), None);
    assert_eq!(parse_time_local("01/Jan/2000:24:00:00 +0000"), None);
    assert_eq!(parse_time_local("01/Jan/1969:00:00:00 +0000"), None, "before 1970");
    assert_eq!(parse_msec("97x.1"), None);
    assert_eq!(parse_msec(".5"), None);
    assert_eq!(parse_msec("1.5x"), None);
    assert_eq!(parse_msec("99999999999999999999"), None, "past u64");
}

/// A leap second reads as the second before it (jiff's rule; the log's next line moves on).
#[test]
fn leap_seconds() {
    assert_eq!(parse_iso8601("2016-12-31T23:59:60Z"), Some(1_483_228_799_000));
    assert_eq!(parse_time_local("31/Dec/2016:23:59:60 +0000"), Some(1_483_228_799_000));
}

/// The `traffic_nginx` fuzz target's finding: a 22-digit year overflowed the day count of the
/// hand-written calendar this module had. Years past 9999 are refused.
#[test]
fn absurd_years_are_refused_not_overflowed() {
    assert_eq!(parse_time_local("21/Nov/1000000000000000002025:10:00:00 +0000"), None);
    assert_eq!(parse_time_local("21/Nov/9223372036854775807:10:00:00 +0000"), None);
    assert_eq!(parse_iso8601("9999-12-30T22:00:00Z"), Some(LAST_MS as u64));
    assert_eq!(parse_iso8601("9999-12-31T00:00:00+02:00"), Some(LAST_MS as u64), "the same instant");
    assert_eq!(parse_iso8601("9999-12-30T22:00:01Z"), None, "past jiff's range");
}

#[test]
fn msec() {
    assert_eq!(parse_msec("971211336.123"), Some(971_211_336_123));
    assert_eq!(parse_msec("971211336.1239"), Some(971_211_336_123), "truncated");
    assert_eq!(parse_msec("971211336"), Some(971_211_336_000));
    assert_eq!(parse_msec("971211336."), Some(971_211_336_000));
}
