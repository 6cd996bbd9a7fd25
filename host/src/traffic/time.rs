//! Timestamps in the forms access logs write them, to Unix milliseconds.
//!
//! No time-zone database: every form carries its UTC offset (`+0100`, `+01:00`, `Z`), so the
//! conversion is arithmetic on the proleptic Gregorian calendar.

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Latest year a log timestamp may carry (RFC 3339's four digits). Beyond it the calendar
/// arithmetic would overflow `i64` for absurd years (the `traffic_nginx` fuzz target found
/// `21/Nov/1000000000000000002025:…`), and no log is written that far ahead.
const MAX_YEAR: i64 = 9999;

/// Milliseconds since the epoch from civil fields; `None` if any is out of range or the result
/// is before 1970.
fn to_ms(date: (i64, i64, i64), hms: (i64, i64, i64), millis: i64, offset_s: i64) -> Option<u64> {
    let (year, month, day) = date;
    let (h, m, s) = hms;
    let valid = (0..=MAX_YEAR).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && (0..24).contains(&h)
        && (0..60).contains(&m)
        && (0..=60).contains(&s);
    if !valid {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s - offset_s;
    u64::try_from(secs.checked_mul(1000)?.checked_add(millis)?).ok()
}

/// `+0100`, `-07:00`, `Z` → seconds east of UTC.
fn offset(s: &str) -> Option<i64> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|&c| c != ':').collect();
    if digits.len() != 4 {
        return None;
    }
    let h = num(digits.get(..2)?)?;
    let m = num(digits.get(2..)?)?;
    (h < 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// nginx `$time_local`: `10/Oct/2000:13:55:36 -0700` (one-second precision).
pub fn parse_time_local(s: &str) -> Option<u64> {
    let (stamp, zone) = s.split_once(' ')?;
    let mut parts = stamp.splitn(3, '/');
    let day = num(parts.next()?)?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let rest = parts.next()?;
    let mut f = rest.split(':');
    let year = num(f.next()?)?;
    let (h, m, sec) = (num(f.next()?)?, num(f.next()?)?, num(f.next()?)?);
    if f.next().is_some() {
        return None;
    }
    to_ms((year, month, day), (h, m, sec), 0, offset(zone)?)
}

/// ISO 8601 / RFC 3339 date-time with an offset: nginx `$time_iso8601`
/// (`2000-10-10T13:55:36-07:00`) and HAR's `startedDateTime` (`2026-12-01T23:18:44.123Z`).
/// Fractions of a second beyond milliseconds are truncated.
pub fn parse_iso8601(s: &str) -> Option<u64> {
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let (year, month, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() {
        return None;
    }
    let zone_at = time.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = time.split_at(zone_at);
    let (hms, frac) = match clock.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (clock, None),
    };
    let mut t = hms.split(':');
    let (h, m, sec) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if t.next().is_some() {
        return None;
    }
    let millis = match frac {
        None => 0,
        Some(f) => {
            num(f)?;
            let mut ms = 0;
            for (i, b) in f.bytes().take(3).enumerate() {
                ms += i64::from(b - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
            }
            ms
        }
    };
    to_ms((year, month, day), (h, m, sec), millis, offset(zone)?)
}

/// nginx `$msec`: seconds since the epoch with a millisecond fraction (`1700000000.123`).
pub fn parse_msec(s: &str) -> Option<u64> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs = u64::try_from(num(secs)?).ok()?;
    let mut ms = 0u64;
    if !frac.is_empty() {
        num(frac)?;
        for (i, b) in frac.bytes().take(3).enumerate() {
            ms += u64::from(b - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
        }
    }
    secs.checked_mul(1000)?.checked_add(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_local_with_offsets() {
        // The nginx documentation's example.
        assert_eq!(parse_time_local("10/Oct/2000:13:55:36 -0700"), Some(971_211_336_000));
        assert_eq!(parse_time_local("01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(parse_time_local("29/Feb/2024:12:00:00 +0100"), Some(1_709_204_400_000));
        assert_eq!(parse_time_local("30/Feb/2024:12:00:00 +0100"), None);
        assert_eq!(parse_time_local("10/Foo/2000:13:55:36 -0700"), None);
        assert_eq!(parse_time_local("10/Oct/2000:13:55:36"), None);
    }

    #[test]
    fn iso8601_forms() {
        assert_eq!(parse_iso8601("2000-10-10T13:55:36-07:00"), Some(971_211_336_000));
        assert_eq!(parse_iso8601("2000-10-10T20:55:36.25Z"), Some(971_211_336_250));
        assert_eq!(parse_iso8601("2000-10-10T20:55:36.123456+00:00"), Some(971_211_336_123));
        assert_eq!(parse_iso8601("2000-10-10T20:55:36"), None, "no offset: ambiguous");
        assert_eq!(parse_iso8601("2000-13-10T20:55:36Z"), None);
    }

    /// The `traffic_nginx` fuzz target's finding: a 22-digit year overflowed the day count (a
    /// panic in debug builds, a wrong time in release). Years past 9999 are refused.
    #[test]
    fn absurd_years_are_refused_not_overflowed() {
        assert_eq!(parse_time_local("21/Nov/1000000000000000002025:10:00:00 +0000"), None);
        assert_eq!(parse_time_local("21/Nov/9223372036854775807:10:00:00 +0000"), None);
        assert_eq!(parse_iso8601("9223372036854775807-01-01T00:00:00Z"), None);
        assert_eq!(parse_iso8601("10000-01-01T00:00:00Z"), None);
        assert_eq!(parse_iso8601("9999-12-31T23:59:59Z"), Some(253_402_300_799_000));
    }

    #[test]
    fn msec() {
        assert_eq!(parse_msec("971211336.123"), Some(971_211_336_123));
        assert_eq!(parse_msec("971211336"), Some(971_211_336_000));
        assert_eq!(parse_msec("97x.1"), None);
    }
}
