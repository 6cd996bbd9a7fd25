//! Timestamps in the forms access logs write them, to Unix milliseconds.
//!
//! Calendar dates go through `jiff` (RFC 3339 / ISO 8601 and `strptime`), no time-zone database:
//! every form carries its UTC offset (`+0100`, `+01:00`, `Z`; jiff allows up to ±25:59). Times
//! before 1970 and after jiff's last instant (9999-12-30T22:00:00Z) are refused; a leap second
//! (`:60`) reads as `:59` (jiff's rule); fractions beyond milliseconds are truncated. `$msec` is
//! plain arithmetic.

use jiff::Timestamp;
use jiff::fmt::strtime;

/// Milliseconds since the epoch; `None` before 1970.
fn unix_ms(t: Timestamp) -> Option<u64> {
    u64::try_from(t.as_millisecond()).ok()
}

/// nginx `$time_local`: `10/Oct/2000:13:55:36 -0700` (one-second precision).
pub fn parse_time_local(s: &str) -> Option<u64> {
    unix_ms(strtime::parse("%d/%b/%Y:%H:%M:%S %z", s).ok()?.to_timestamp().ok()?)
}

/// ISO 8601 / RFC 3339 date-time with an offset: nginx `$time_iso8601`
/// (`2000-10-10T13:55:36-07:00`) and HAR's `startedDateTime` (`2026-12-01T23:18:44.123Z`).
/// Without an offset the time is ambiguous and refused.
pub fn parse_iso8601(s: &str) -> Option<u64> {
    unix_ms(s.parse::<Timestamp>().ok()?)
}

/// nginx `$msec`: seconds since the epoch with a millisecond fraction (`1700000000.123`).
pub fn parse_msec(s: &str) -> Option<u64> {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty() || !digits(secs) || !digits(frac) {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let mut ms = 0u64;
    for (i, b) in frac.bytes().take(3).enumerate() {
        ms += u64::from(b - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
    }
    secs.checked_mul(1000)?.checked_add(ms)
}

#[cfg(test)]
mod tests;
