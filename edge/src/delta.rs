//! Revocation deltas: opt-outs that reach the edge before the next full snapshot does.
//!
//! A privacy owner must be able to say that an opt-out takes effect on the very next request. A
//! full snapshot rebuild takes minutes and a CDN rollout longer, so revocations travel separately
//! as a small exact set of fingerprints, each with the purposes it revokes, and are loaded beside
//! the snapshot with [`crate::Engine::apply_delta`].
//!
//! A delta is bound to one snapshot — `snapshot_id`, `snapshot_version` and `key_id`, which names
//! the fingerprint key its fingerprints were made with ([`crate::Snapshot::key_id`]): two builds of
//! one id and version under different keys share no fingerprints, so a delta made for one would
//! revoke nobody in the other and is refused instead. The next full build already excludes the
//! revoked members. Version 1 deltas carried no key id and are refused (a delta lives only until
//! the next build).
//! Deltas are **cumulative**: each one carries every revocation since its snapshot was built, with
//! a `sequence` that grows. Applying one replaces the previous one, so a lost or reordered
//! delivery can never un-revoke anyone; an older or equal sequence is refused with
//! [`ErrorKind::Stale`] and the engine keeps what it had.
//!
//! Container: the snapshot header layout (`format`) under the magic `EDGESRV\0`, then postcard.

use crate::error::{Error, ErrorKind};
use crate::format::{self, DELTA_MAGIC, DELTA_VERSION};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Most entries one delta may hold. Deltas are meant to be small; past this, rebuild the snapshot.
pub const MAX_REVOCATIONS: usize = 1 << 20;
/// `purposes` value revoking every consent-gated purpose.
pub const ALL_PURPOSES: u64 = u64::MAX;

/// One revoked member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The member's fingerprint under the snapshot's key.
    pub fingerprint: u64,
    /// Bit `i`: purpose `i` of the snapshot is revoked. [`ALL_PURPOSES`] revokes everything.
    pub purposes: u64,
}

/// A revocation delta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationDelta {
    pub snapshot_id: String,
    pub snapshot_version: u64,
    /// Grows with every delta published for the same snapshot.
    pub sequence: u64,
    pub created_ms: u64,
    /// Strictly ascending by fingerprint (one entry per member).
    pub entries: Vec<Revocation>,
    /// The snapshot's [`crate::Snapshot::key_id`]: which fingerprint key the entries are under.
    pub key_id: u64,
}

impl RevocationDelta {
    /// A delta from entries in any order; several entries for one fingerprint are merged.
    pub fn new(
        snapshot_id: &str,
        snapshot_version: u64,
        key_id: u64,
        sequence: u64,
        created_ms: u64,
        mut entries: Vec<Revocation>,
    ) -> RevocationDelta {
        entries.sort_unstable_by_key(|e| e.fingerprint);
        let mut merged: Vec<Revocation> = Vec::with_capacity(entries.len());
        for e in entries {
            match merged.last_mut() {
                Some(last) if last.fingerprint == e.fingerprint => last.purposes |= e.purposes,
                _ => merged.push(e),
            }
        }
        RevocationDelta {
            snapshot_id: snapshot_id.into(),
            snapshot_version,
            sequence,
            created_ms,
            entries: merged,
            key_id,
        }
    }

    /// Encodes the delta behind its header.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let payload =
            postcard::to_allocvec(self).map_err(|e| Error::new(ErrorKind::Payload, format!("encode: {e}")))?;
        format::wrap_as(&payload, &DELTA_MAGIC, DELTA_VERSION)
    }

    /// Checks the header, decodes and validates a delta.
    pub fn decode(bytes: &[u8]) -> Result<RevocationDelta, Error> {
        let (_header, payload) = format::split_as(bytes, &DELTA_MAGIC, DELTA_VERSION, DELTA_VERSION)?;
        let delta: RevocationDelta =
            postcard::from_bytes(payload).map_err(|e| Error::new(ErrorKind::Payload, format!("delta: {e}")))?;
        if delta.entries.len() > MAX_REVOCATIONS {
            return Err(Error::new(
                ErrorKind::Invalid,
                format!("delta has {} entries, limit {MAX_REVOCATIONS}", delta.entries.len()),
            ));
        }
        if delta.entries.windows(2).any(|w| matches!(w, [a, b] if a.fingerprint >= b.fingerprint)) {
            return Err(Error::new(ErrorKind::Invalid, "delta entries are not strictly ascending"));
        }
        Ok(delta)
    }

    /// The purposes revoked for `fingerprint` (0 when it is not in the delta).
    pub fn revoked(&self, fingerprint: u64) -> u64 {
        self.entries
            .binary_search_by_key(&fingerprint, |e| e.fingerprint)
            .ok()
            .and_then(|i| self.entries.get(i))
            .map_or(0, |e| e.purposes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trip_merges_and_probes() {
        let d = RevocationDelta::new(
            "demo",
            7,
            0xfeed,
            3,
            1,
            vec![
                Revocation { fingerprint: 9, purposes: 0b10 },
                Revocation { fingerprint: 2, purposes: ALL_PURPOSES },
                Revocation { fingerprint: 9, purposes: 0b100 },
            ],
        );
        let back = RevocationDelta::decode(&d.encode().unwrap()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.revoked(9), 0b110);
        assert_eq!(back.revoked(2), ALL_PURPOSES);
        assert_eq!(back.revoked(5), 0);
    }

    #[test]
    fn unsorted_or_foreign_bytes_are_refused() {
        let mut d = RevocationDelta::new("demo", 1, 0xfeed, 1, 1, vec![]);
        d.entries = vec![Revocation { fingerprint: 5, purposes: 1 }, Revocation { fingerprint: 5, purposes: 2 }];
        assert_eq!(RevocationDelta::decode(&d.encode().unwrap()).unwrap_err().kind(), ErrorKind::Invalid);
        // A snapshot is not a delta.
        let snap = format::wrap(b"x").unwrap();
        assert_eq!(RevocationDelta::decode(&snap).unwrap_err().kind(), ErrorKind::BadMagic);
        assert_eq!(RevocationDelta::decode(&[]).unwrap_err().kind(), ErrorKind::Truncated);
    }
}
