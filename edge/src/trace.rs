//! W3C Trace Context: the decision continues the request's trace.
//!
//! A valid incoming `traceparent` (Trace Context Level 1) is continued: the origin gets the same
//! trace id, a new parent id (the edge's decision is a span of its own) and the sampled flag. A
//! missing or invalid one starts a new, sampled trace only when the snapshot's definitions ask for
//! it ([`TraceConfig::start`]); otherwise no `traceparent` is added. Ids are keyed hashes (the
//! snapshot's fingerprint key over the incoming ids, the request time, a per-engine sequence and
//! the request's client address and path, so that two isolates at the same millisecond and
//! sequence still differ): unpredictable to a client, and no imports needed for randomness.

use alloc::string::String;

use crate::fingerprint::FingerprintKey;

/// The snapshot's tracing settings: a record of its own after the client-address one, written
/// only when not the default (snapshots without it are unchanged, and an older edge refuses one
/// that has it rather than ignore it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceConfig {
    /// Start a sampled trace when the request carries no valid `traceparent`.
    pub start: bool,
}

/// The parts of a valid `traceparent` a continuation keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent<'a> {
    /// 32 lower-case hex digits, not all zero.
    pub trace_id: &'a str,
    /// 16 lower-case hex digits, not all zero.
    pub parent_id: &'a str,
    /// The trace flags byte.
    pub flags: u8,
}

/// Parses one `traceparent` value per Trace Context Level 1: version `00` is exactly 55
/// characters; a later version may be longer, with a `-` after the flags; `ff` is invalid; hex is
/// lower-case; neither id may be all zeros. Spaces and tabs around the value are HTTP's, not the
/// field's, and are ignored.
pub fn parse_traceparent(value: &str) -> Option<TraceParent<'_>> {
    let v = value.trim_matches([' ', '\t']);
    let b = v.as_bytes();
    // One pass over the 55 characters: dashes where the format has them, lower-case hex elsewhere.
    let mut flags = 0u8;
    for (i, &c) in b.iter().take(55).enumerate() {
        let ok = match i {
            2 | 35 | 52 => c == b'-',
            _ => matches!(c, b'0'..=b'9' | b'a'..=b'f'),
        };
        if !ok {
            return None;
        }
        if i >= 53 {
            flags = (flags << 4) | if c <= b'9' { c - b'0' } else { c - b'a' + 10 };
        }
    }
    let zero = |r: core::ops::Range<usize>| b.get(r).is_none_or(|s| s.iter().all(|&c| c == b'0'));
    let version_00 = b.starts_with(b"00");
    let length_ok = b.len() == 55 || (b.len() > 55 && !version_00 && b.get(55) == Some(&b'-'));
    if !length_ok || b.starts_with(b"ff") || zero(3..35) || zero(36..52) {
        return None;
    }
    Some(TraceParent { trace_id: v.get(3..35)?, parent_id: v.get(36..52)?, flags })
}

/// The `traceparent` to send to the origin, or `None` when the request has no valid one and the
/// snapshot does not start traces. Several `traceparent` headers are invalid (the field is not a
/// list): the request then counts as having none.
pub(crate) fn outgoing<'a>(
    mut incoming: impl Iterator<Item = &'a str>,
    config: TraceConfig,
    key: &FingerprintKey,
    salt: &Salt<'_>,
) -> Option<String> {
    let first = incoming.next();
    let parent = if incoming.next().is_none() { first.and_then(parse_traceparent) } else { None };
    if parent.is_none() && !config.start {
        return None;
    }
    // Every id hashes the request time, the engine's sequence and the request: unique per decision.
    let counters = (u128::from(salt.now_ms) << 64 | u128::from(salt.seq)).to_le_bytes();
    let (client, path) = (salt.client.as_bytes(), salt.path.as_bytes());
    let mut out = String::with_capacity(55);
    out.push_str("00-");
    match parent {
        Some(p) => out.push_str(p.trace_id),
        None => {
            let hi = key.hash_parts(&[b"trace", &counters, client, path]);
            push_hex(&mut out, hi);
            push_hex(&mut out, hi ^ key.hash_parts(&[b"trace-lo", &counters, client, path]) | 1);
        }
    }
    let parent_id = parent.map_or("", |p| p.parent_id);
    let span = key.hash_parts(&[out.as_bytes(), parent_id.as_bytes(), &counters, client, path]);
    out.push('-');
    push_hex(&mut out, span | 1);
    out.push_str(if parent.is_none_or(|p| p.flags & SAMPLED != 0) { "-01" } else { "-00" });
    Some(out)
}

/// What makes one decision's ids differ from another's.
pub(crate) struct Salt<'a> {
    /// The request time.
    pub now_ms: u64,
    /// The engine's count of decisions so far.
    pub seq: u64,
    /// The client address as the host gave it (empty when none).
    pub client: &'a str,
    /// The request path.
    pub path: &'a str,
}

/// The one flag Level 1 defines; others are not propagated into a version `00` header.
const SAMPLED: u8 = 0x01;

/// Appends `v` as 16 lower-case hex digits.
fn push_hex(out: &mut String, v: u64) {
    for shift in (0..16).rev() {
        let d = ((v >> (shift * 4)) & 15) as u8;
        out.push(char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const KEY: FingerprintKey = FingerprintKey([7; 16]);

    fn salt(now_ms: u64, seq: u64) -> Salt<'static> {
        Salt { now_ms, seq, client: "192.0.2.1", path: "/" }
    }

    #[test]
    fn parses_the_specs_example() {
        let p = parse_traceparent(VALID).unwrap();
        assert_eq!(p.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(p.parent_id, "00f067aa0ba902b7");
        assert_eq!(p.flags, 1);
        assert_eq!(parse_traceparent(&format!(" {VALID}\t")), Some(p));
    }

    #[test]
    fn refuses_what_level_1_refuses() {
        let bad = [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01é",
        ];
        for b in bad {
            assert_eq!(parse_traceparent(b), None, "{b:?}");
        }
        // A later version may carry more fields after a dash; the first 55 characters are read.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-whatever";
        assert_eq!(parse_traceparent(later).map(|p| p.flags), Some(3));
        assert_eq!(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03x"), None);
    }

    #[test]
    fn continues_the_trace_with_a_new_span() {
        let off = TraceConfig::default();
        let out = outgoing([VALID].into_iter(), off, &KEY, &salt(1000, 1)).unwrap();
        let p = parse_traceparent(&out).unwrap();
        assert_eq!(p.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(p.parent_id, "00f067aa0ba902b7");
        assert_eq!(p.flags, 1);
        assert!(out.starts_with("00-"));
        // Each decision is its own span; unknown flags are not passed into a version 00 header.
        let next = outgoing([VALID].into_iter(), off, &KEY, &salt(1000, 2)).unwrap();
        assert_ne!(parse_traceparent(&next).unwrap().parent_id, p.parent_id);
        let unsampled = VALID.replace("-01", "-fe");
        let out = outgoing([unsampled.as_str()].into_iter(), off, &KEY, &salt(1000, 1)).unwrap();
        assert_eq!(parse_traceparent(&out).unwrap().flags, 0);
    }

    #[test]
    fn starts_only_when_asked() {
        let off = TraceConfig::default();
        let on = TraceConfig { start: true };
        assert_eq!(outgoing(core::iter::empty(), off, &KEY, &salt(1000, 1)), None);
        assert_eq!(outgoing(["garbage"].into_iter(), off, &KEY, &salt(1000, 1)), None);
        // Two headers: not a list, so invalid; a client cannot pick which one counts.
        assert_eq!(outgoing([VALID, VALID].into_iter(), off, &KEY, &salt(1000, 1)), None);
        let a = outgoing(core::iter::empty(), on, &KEY, &salt(1000, 1)).unwrap();
        let b = outgoing(["garbage"].into_iter(), on, &KEY, &salt(1000, 2)).unwrap();
        let (pa, pb) = (parse_traceparent(&a).unwrap(), parse_traceparent(&b).unwrap());
        assert_eq!((pa.flags, pb.flags), (1, 1));
        assert_ne!(pa.trace_id, pb.trace_id);
        assert_ne!(pa.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        // Two isolates at the same millisecond and sequence, for different clients, differ.
        let other = Salt { client: "192.0.2.2", ..salt(1000, 1) };
        let c = outgoing(core::iter::empty(), on, &KEY, &other).unwrap();
        assert_ne!(parse_traceparent(&c).unwrap().trace_id, pa.trace_id);
        // A valid incoming trace is continued even when starting is on.
        let c = outgoing([VALID].into_iter(), on, &KEY, &salt(1000, 3)).unwrap();
        assert_eq!(parse_traceparent(&c).unwrap().trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }
}
