//! Keyed 64-bit fingerprints of customer ids.
//!
//! The snapshot never holds an id, only `SipHash-2-4(key, utf8(id))` with a 128-bit key drawn at
//! build time and stored in the snapshot. Without the key, a fingerprint cannot be checked against
//! a guessed id list; with it, the edge can fingerprint the id it sees in a request and probe.
//!
//! Portability: the id's bytes are fed with `Hasher::write` — no `Hash` impl, no length prefix of
//! platform width — so x86_64 and wasm32 produce the same bits (pinned by a test vector below and
//! again in the cross-platform spec run).

use core::hash::Hasher;
use serde::{Deserialize, Serialize};
use siphasher::sip::SipHasher24;

/// The 128-bit fingerprint key carried in a snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerprintKey(pub [u8; 16]);

impl core::fmt::Debug for FingerprintKey {
    // Keys are secrets of a sort: never print them whole.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FingerprintKey(…)")
    }
}

impl FingerprintKey {
    /// The fingerprint of `id` under this key.
    pub fn fingerprint(&self, id: &str) -> u64 {
        let mut h = SipHasher24::new_with_key(&self.0);
        h.write(id.as_bytes());
        h.finish()
    }

    /// A keyed hash of several byte strings, each length-prefixed (u32 LE) so that no two
    /// different lists collide by concatenation. Used for throttle state keys, which must not be
    /// predictable (or collidable) by a client choosing its IP or id.
    /// Names this key without revealing it (a keyed hash of a constant): what binds a revocation
    /// delta to the builds whose fingerprints it speaks of.
    pub fn key_id(&self) -> u64 {
        self.hash_parts(&[b"edgeseg key id"])
    }

    pub fn hash_parts(&self, parts: &[&[u8]]) -> u64 {
        let mut h = SipHasher24::new_with_key(&self.0);
        for p in parts {
            h.write(&(p.len() as u32).to_le_bytes());
            h.write(p);
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_vector() {
        // Value from an independent SipHash-2-4 (checked against the paper's vector). Pinned so that a change of hash, key handling or byte feeding cannot slip through: every
        // snapshot ever built would silently stop matching.
        let key = FingerprintKey(*b"0123456789abcdef");
        assert_eq!(key.fingerprint("customer-42"), 17_029_181_305_442_631_398);
        assert_ne!(key.fingerprint("customer-42"), key.fingerprint("customer-43"));
        let other = FingerprintKey(*b"fedcba9876543210");
        assert_ne!(key.fingerprint("customer-42"), other.fingerprint("customer-42"));
    }
}
