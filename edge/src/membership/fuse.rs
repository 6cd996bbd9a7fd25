//! Binary fuse filters (Graf & Lemire, "Binary Fuse Filters: Fast and Smaller Than Xor Filters",
//! 2022), 3-wise, 8- or 16-bit fingerprints: about 9 or 18 bits per member at 2⁻⁸ or 2⁻¹⁶ false
//! positives. Immutable: built once by the builder (`edgeseg-snapshots`' `fuse` module), which
//! also computes the geometry; the edge only validates the header and probes.
//!
//! Layout (little-endian), one byte string in the snapshot:
//!
//! ```text
//! 0      fingerprint bits: 8 or 16
//! 1      arity: 3
//! 2..4   zero
//! 4..8   segment length (u32, a power of two, at most 2^18)
//! 8..12  segment count (u32, at least 1)
//! 12..20 seed (u64)
//! 20..   (segment count + 2) × segment length fingerprints, 1 or 2 bytes each
//! ```
//!
//! A probe hashes the (already keyed) member fingerprint with the seed, derives three slots, one
//! in each of three consecutive segments, and XORs their fingerprints with the key's. The header
//! checks below make every slot fall inside the array, whatever the bytes say.

use super::SetBytes;

/// Bytes before the fingerprint array.
pub const HEADER_LEN: usize = 20;
/// The only arity written and accepted.
pub const ARITY: u8 = 3;
/// Largest segment length accepted (the reference implementation's cap).
pub const MAX_SEGMENT_LENGTH: u32 = 1 << 18;

/// The per-filter hash of a member fingerprint (murmur3's 64-bit finaliser of key + seed).
#[inline]
pub fn hash(key: u64, seed: u64) -> u64 {
    let mut h = key.wrapping_add(seed);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The fingerprint a key stores, before truncation to 8 or 16 bits.
#[inline]
pub fn fingerprint(hash: u64) -> u64 {
    hash ^ (hash >> 32)
}

/// The three slots of `hash` for a filter with this segment length and `segment_length ×
/// segment_count` (the range of the first slot).
#[inline]
pub fn slots(hash: u64, segment_length: u32, segment_count_length: u32) -> [usize; 3] {
    let mask = u64::from(segment_length) - 1;
    // The high 64 bits of hash × segment_count_length, in u64 arithmetic (no u128 helpers in the
    // module): exact, and it cannot overflow because the second factor is below 2^32.
    let n = u64::from(segment_count_length);
    let h0 = ((hash >> 32) * n + (((hash & 0xffff_ffff) * n) >> 32)) >> 32;
    let h1 = (h0 + u64::from(segment_length)) ^ ((hash >> 18) & mask);
    let h2 = (h0 + 2 * u64::from(segment_length)) ^ (hash & mask);
    [h0 as usize, h1 as usize, h2 as usize]
}

/// A validated binary fuse filter.
#[derive(Debug)]
pub struct FuseSet {
    bytes: SetBytes,
    wide: bool,
    seed: u64,
    segment_length: u32,
    segment_count_length: u32,
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_le_bytes)
}

impl FuseSet {
    /// Validates the header and the length (`None`: malformed).
    pub(crate) fn parse(shared: SetBytes) -> Option<FuseSet> {
        let bytes = shared.get();
        let seglen = le_u32(bytes, 4)?;
        let segcount = le_u32(bytes, 8)?;
        let seed = u64::from_le_bytes(bytes.get(12..20)?.try_into().ok()?);
        let width: usize = match bytes.get(..4)? {
            [8, ARITY, 0, 0] => 1,
            [16, ARITY, 0, 0] => 2,
            _ => return None,
        };
        if !seglen.is_power_of_two() || seglen > MAX_SEGMENT_LENGTH || segcount == 0 {
            return None;
        }
        // Every slot is below (segment count + 2) × segment length: require exactly that many
        // fingerprints, computed without overflow on 32-bit targets too.
        let segment_count_length = segcount.checked_mul(seglen)?;
        let len = (segcount as usize).checked_add(2)?.checked_mul(seglen as usize)?.checked_mul(width)?;
        (len.checked_add(HEADER_LEN)? == bytes.len()).then_some(FuseSet {
            bytes: shared,
            wide: width == 2,
            seed,
            segment_length: seglen,
            segment_count_length,
        })
    }

    pub fn contains(&self, key: u64) -> bool {
        let h = hash(key, self.seed);
        let f = fingerprint(h);
        let [a, b, c] = slots(h, self.segment_length, self.segment_count_length);
        let data = self.bytes.get().get(HEADER_LEN..).unwrap_or_default();
        if self.wide {
            let at =
                |i: usize| data.get(2 * i..2 * i + 2).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_le_bytes);
            matches!((at(a), at(b), at(c)), (Some(x), Some(y), Some(z)) if (f as u16) ^ x ^ y ^ z == 0)
        } else {
            matches!((data.get(a), data.get(b), data.get(c)), (Some(x), Some(y), Some(z)) if (f as u8) ^ x ^ y ^ z == 0)
        }
    }

    /// 8 or 16.
    pub fn fingerprint_bits(&self) -> u8 {
        if self.wide { 16 } else { 8 }
    }
}
