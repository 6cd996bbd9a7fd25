//! The `bloom` encoding's probe, read in place: the serialised form of the `bloomfilter` crate
//! (3.x), which the builder writes (feature `bloom`), probed here without that crate, so the edge
//! needs no std and no copy of the bitmap.
//!
//! Layout (little-endian): version (1) · bitmap length in bytes (u64) · hash count `k` (u32) ·
//! 32-byte seed (two SipHash-1-3 keys) · bitmap. Bit `i` is bit `i % 8` of byte `i / 8`.
//! A key's first two hashes are SipHash-1-3 of the key's 8 little-endian bytes under each seed
//! half; hash `i ≥ 2` is `(h0 + i·h1) mod (2^64 − 59)`; each hash picks bit `hash mod bits`. The
//! test `probes_as_the_bloomfilter_crate` holds this to the crate, bit for bit.

use super::SetBytes;
use core::hash::Hasher;
use siphasher::sip::SipHasher13;

/// Bytes before the bitmap.
pub const HEADER_LEN: usize = 1 + 8 + 4 + 32;
/// Largest hash count accepted from a snapshot: beyond this a filter is broken or hostile (each
/// probe would cost that many hash rounds).
pub const MAX_HASHES: u32 = 32;
/// The largest prime below 2^64: the crate's modulus for hashes past the first two.
const PRIME: u64 = 0xFFFF_FFFF_FFFF_FFC5;

/// A validated bloom filter over a range of the snapshot's buffer.
pub struct BloomSet {
    bytes: SetBytes,
    /// Bits in the bitmap (≥ 8).
    bits: u64,
    hashes: u32,
    keys: [SipHasher13; 2],
}

impl core::fmt::Debug for BloomSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BloomSet").field("bits", &self.bits).field("hashes", &self.hashes).finish()
    }
}

impl BloomSet {
    /// Validates the header: version 1, a non-empty bitmap whose length the header states
    /// exactly, 1 to [`MAX_HASHES`] hashes. `None`: malformed.
    pub(crate) fn parse(shared: SetBytes) -> Option<BloomSet> {
        let bytes = shared.get();
        let version = *bytes.first()?;
        let len = u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?);
        let hashes = u32::from_le_bytes(bytes.get(9..13)?.try_into().ok()?);
        let seed = bytes.get(13..HEADER_LEN)?;
        let bitmap = bytes.len().checked_sub(HEADER_LEN)? as u64;
        if version != 1 || len == 0 || len != bitmap || hashes == 0 || hashes > MAX_HASHES {
            return None;
        }
        let key = |half: &[u8]| -> Option<SipHasher13> { Some(SipHasher13::new_with_key(half.try_into().ok()?)) };
        let keys = [key(seed.get(..16)?)?, key(seed.get(16..)?)?];
        Some(BloomSet { bits: len.checked_mul(8)?, hashes, keys, bytes: shared })
    }

    /// Bits in the bitmap.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Hashes per key.
    pub fn hashes(&self) -> u32 {
        self.hashes
    }

    pub fn contains(&self, fingerprint: u64) -> bool {
        let bitmap = self.bytes.get().get(HEADER_LEN..).unwrap_or_default();
        let sip = |key: &SipHasher13| {
            let mut h = *key;
            h.write(&fingerprint.to_le_bytes());
            h.finish()
        };
        let (h0, h1) = (sip(&self.keys[0]), sip(&self.keys[1]));
        (0..self.hashes).all(|i| {
            let hash = match i {
                0 => h0,
                1 => h1,
                _ => h0.wrapping_add(u64::from(i).wrapping_mul(h1)) % PRIME,
            };
            let bit = hash % self.bits;
            bitmap.get((bit / 8) as usize).is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn spread(n: u64, salt: u64) -> impl Iterator<Item = u64> {
        (0..n).map(move |i| (i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(23) ^ salt)
    }

    /// Filters written by the crate, of every shape the builder makes (1 to 20 hashes, bitmaps
    /// from a few bytes up), answer every key here exactly as the crate answers it.
    #[test]
    fn probes_as_the_bloomfilter_crate() {
        for (k, (n, fp_rate)) in
            [(1u64, 0.5), (10, 0.1), (1000, 0.01), (5000, 0.001), (3000, 1e-6), (20_000, 0.05)].into_iter().enumerate()
        {
            let seed: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(k as u8));
            let mut theirs = bloomfilter::Bloom::<u64>::new_for_fp_rate_with_seed(n as usize, fp_rate, &seed).unwrap();
            let members: Vec<u64> = spread(n, k as u64).collect();
            for fp in &members {
                theirs.set(fp);
            }
            let ours = BloomSet::parse(SetBytes::owned(theirs.to_bytes())).expect("a crate-written filter loads");
            assert_eq!(ours.hashes(), theirs.number_of_hash_functions(), "n={n}");
            assert_eq!(ours.bits(), theirs.len(), "n={n}");
            let mut positives = 0;
            for fp in members.iter().copied().chain(spread(20_000, 0xabcd + k as u64)).chain([0, u64::MAX]) {
                let answer = ours.contains(fp);
                assert_eq!(answer, theirs.check(&fp), "n={n} fp_rate={fp_rate} key {fp:#x}");
                positives += usize::from(answer);
            }
            assert!(positives >= members.len(), "every member is found");
        }
    }

    #[test]
    fn headers_that_would_misprobe_are_refused() {
        let seed = [3u8; 32];
        let mut theirs = bloomfilter::Bloom::<u64>::new_for_fp_rate_with_seed(100, 0.01, &seed).unwrap();
        theirs.set(&7);
        let good = theirs.to_bytes();
        let parse = |b: Vec<u8>| BloomSet::parse(SetBytes::owned(b)).is_some();
        assert!(parse(good.clone()));
        let with = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            b
        };
        assert!(!parse(with(0, &[2])), "version 2");
        assert!(!parse(with(9, &0u32.to_le_bytes())), "no hashes");
        assert!(!parse(with(9, &(MAX_HASHES + 1).to_le_bytes())), "too many hashes");
        assert!(!parse(with(1, &(good.len() as u64).to_le_bytes())), "a length past the bitmap");
        assert!(!parse(good[..HEADER_LEN].to_vec()), "no bitmap");
        assert!(!parse(good[..HEADER_LEN - 1].to_vec()), "a cut header");
        assert!(!parse(good[..good.len() - 1].to_vec()), "a cut bitmap");
        assert!(!parse(Vec::new()));
    }
}
