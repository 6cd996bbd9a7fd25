//! Whether a snapshot may replace the one serving: the last-known-good rule, in one place, for
//! every host (the wasmtime host, the Worker adapter).
//!
//! A snapshot that does not load is refused by [`crate::Engine::load`] already. Two more refusals
//! need the host's clock or the serving snapshot, so they live here:
//!
//! * **expired**: a snapshot whose `expires_ms` is at or before now carries memberships and
//!   consents nobody vouches for any more ([`ErrorKind::Expired`]);
//! * **rollback**: a snapshot of the same lineage (`id`) with a lower `version` than the serving
//!   one — an old file replayed by a misconfigured pipeline or an attacker, which would bring back
//!   revoked consents ([`ErrorKind::Rollback`]). Another lineage is an operator's explicit switch
//!   and is allowed;
//! * **rebuilt**: the same `id` and `version` with other bytes (payload checksum) — a second build
//!   under a pinned version, whose keys and members differ from the serving one's, so deltas and
//!   caches keyed to the version would silently mean something else ([`ErrorKind::Rebuilt`]).
//!   The same bytes again are a harmless re-load.
//!
//! [`peek`] reads a snapshot's lineage without building an engine (checksum, then the first payload
//! fields), so a host can refuse before paying for a load.

use crate::error::{Error, ErrorKind};
use crate::format;
use alloc::format;
use alloc::string::String;
use serde::Deserialize;

/// Who a snapshot is: its lineage, version and expiry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Lineage {
    pub id: String,
    pub version: u64,
    pub created_ms: u64,
    pub expires_ms: Option<u64>,
    /// The container's payload checksum (CRC-32C): tells two builds of one version apart.
    #[serde(skip)]
    pub checksum: u32,
}

/// The checked header and the payload's leading fields (the same in formats 1 and 2).
pub fn peek(bytes: &[u8]) -> Result<Lineage, Error> {
    let (header, payload) = format::split(bytes)?;
    postcard::take_from_bytes::<Lineage>(payload)
        .map(|(lineage, _)| Lineage { checksum: header.checksum, ..lineage })
        .map_err(|e| Error::new(ErrorKind::Payload, format!("{e}")))
}

/// `Ok` when `candidate` may replace `serving` (none yet: any unexpired snapshot) at `now_ms`.
pub fn admit(serving: Option<&Lineage>, candidate: &Lineage, now_ms: u64) -> Result<(), Error> {
    if let Some(expires) = candidate.expires_ms
        && expires <= now_ms
    {
        return Err(Error::new(
            ErrorKind::Expired,
            format!("{} v{} expired at {expires} ms, now is {now_ms} ms", candidate.id, candidate.version),
        ));
    }
    let Some(s) = serving.filter(|s| s.id == candidate.id) else { return Ok(()) };
    if candidate.version < s.version {
        return Err(Error::new(
            ErrorKind::Rollback,
            format!("{} v{} would replace the newer v{}", s.id, candidate.version, s.version),
        ));
    }
    if candidate.version == s.version && candidate.checksum != s.checksum {
        return Err(Error::new(
            ErrorKind::Rebuilt,
            format!("{} v{} is serving with other bytes; give a new build a new version", s.id, s.version),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn lineage(id: &str, version: u64, expires_ms: Option<u64>) -> Lineage {
        Lineage { id: id.to_string(), version, created_ms: 0, expires_ms, checksum: 1 }
    }

    #[test]
    fn expiry_is_checked_against_the_host_clock() {
        let l = lineage("shop", 3, Some(1_000));
        assert_eq!(admit(None, &l, 999), Ok(()));
        assert_eq!(admit(None, &l, 1_000).map_err(|e| e.kind()), Err(ErrorKind::Expired));
        assert_eq!(admit(None, &lineage("shop", 3, None), u64::MAX), Ok(()));
    }

    #[test]
    fn only_an_older_version_of_the_same_lineage_is_a_rollback() {
        let serving = lineage("shop", 5, None);
        let serving = Some(&serving);
        assert_eq!(admit(serving, &lineage("shop", 4, None), 0).map_err(|e| e.kind()), Err(ErrorKind::Rollback));
        assert_eq!(admit(serving, &lineage("shop", 5, None), 0), Ok(()));
        assert_eq!(admit(serving, &lineage("shop", 6, None), 0), Ok(()));
        assert_eq!(admit(serving, &lineage("other", 1, None), 0), Ok(()));
    }

    #[test]
    fn the_same_version_with_other_bytes_is_refused() {
        let serving = lineage("shop", 5, None);
        let rebuilt = Lineage { checksum: 2, ..lineage("shop", 5, None) };
        assert_eq!(admit(Some(&serving), &rebuilt, 0).map_err(|e| e.kind()), Err(ErrorKind::Rebuilt));
        // Another lineage at the same version number is another snapshot, not a rebuild.
        assert_eq!(admit(Some(&serving), &Lineage { checksum: 2, ..lineage("other", 5, None) }, 0), Ok(()));
    }

    #[test]
    fn peek_refuses_what_load_refuses_at_the_container() {
        assert_eq!(peek(b"nope").map_err(|e| e.kind()), Err(ErrorKind::Truncated));
        let payload = postcard::to_allocvec(&("shop", 7u64, 11u64, Some(99u64), "rest")).unwrap_or_default();
        let bytes = format::wrap(&payload).unwrap_or_default();
        let checksum = format::split(&bytes).unwrap().0.checksum;
        assert_eq!(
            peek(&bytes),
            Ok(Lineage { id: "shop".into(), version: 7, created_ms: 11, expires_ms: Some(99), checksum })
        );
        let mut flipped = bytes.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(peek(&flipped).map_err(|e| e.kind()), Err(ErrorKind::ChecksumMismatch));
    }
}
