//! Which throttle bucket a request counts against.

use crate::actions::Source;
use crate::request::Request;
use crate::snapshot::Snapshot;
use crate::throttle::{Limiter, ThrottleKey, ThrottlePolicy, ip_key_prefix};

/// The RateLimit policy name: the segment's or tier's name.
pub(super) fn source_name(source: Source<'_>) -> &str {
    match source {
        Source::Segment(n) | Source::Tier(n) => n,
    }
}

/// The throttle state key for a request, or `None` when the policy's key cannot be formed (a
/// per-user or per-IP policy on a request that carries neither: it is not throttled — the platform
/// always supplies an IP, so this only happens in synthetic traffic).
///
/// Keys are keyed hashes over the policy's source, so two policies never share state and a client
/// cannot aim its IP or id at another's bucket. Per-user policies key by the user only when the
/// identity is a member of the snapshot (`fingerprint` is `None` otherwise): an id that is in no
/// set costs a client nothing to mint, so rotating made-up ids must not buy fresh buckets — those
/// requests, like anonymous ones, fall back to the IP. The IP is canonical ([`crate::throttle::ip_key`]): one
/// address has one key however it is spelled, and an IPv6 client is keyed by its /64, the block
/// one subscriber holds.
pub(super) fn throttle_key(
    snap: &Snapshot,
    policy: &ThrottlePolicy,
    source: Source<'_>,
    fingerprint: Option<u64>,
    req: &Request<'_>,
) -> Option<u64> {
    let (kind, name) = match source {
        Source::Segment(n) => (b"s", n),
        Source::Tier(n) => (b"t", n),
    };
    let fp_bytes;
    let fp_bytes_ip;
    let (which, value): (&[u8], &[u8]) = match (policy.key, fingerprint, snap.client_ip.client_ip(req)) {
        (ThrottleKey::Segment, _, _) => (b"segment", b""),
        (ThrottleKey::User, Some(fp), _) => {
            fp_bytes = fp.to_le_bytes();
            (b"user", &fp_bytes)
        }
        (ThrottleKey::User | ThrottleKey::Ip, _, Some(ip)) => {
            let (bytes, len) = ip_key_prefix(ip, snap.client_ip.ipv6_bits());
            fp_bytes_ip = bytes;
            (b"ip", fp_bytes_ip.get(..len).unwrap_or_default())
        }
        (ThrottleKey::User | ThrottleKey::Ip, _, None) => return None,
    };
    Some(snap.fingerprint_key.hash_parts(&[kind, name.as_bytes(), which, value]))
}

/// The snapshot's throttle state: its table is allocated now when the snapshot has throttles, so
/// no decision pays for it (1.5 MiB at the default key count), and never when it has none.
pub(super) fn limiter(snap: &Snapshot) -> Limiter {
    let mut limiter = Limiter::new(snap.throttle_keys as usize);
    let actions = snap.tiers.iter().map(|t| &t.actions).chain(snap.segments.iter().map(|s| &s.actions));
    if actions.into_iter().any(|a| a.throttle.is_some()) {
        limiter.allocate();
    }
    limiter
}
