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

use crate::error::{Error, ErrorKind};
use alloc::format;
use alloc::vec::Vec;

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
    let h0 = ((u128::from(hash) * u128::from(segment_count_length)) >> 64) as u64;
    let h1 = (h0 + u64::from(segment_length)) ^ ((hash >> 18) & mask);
    let h2 = (h0 + 2 * u64::from(segment_length)) ^ (hash & mask);
    [h0 as usize, h1 as usize, h2 as usize]
}

/// A validated binary fuse filter.
#[derive(Debug)]
pub struct FuseSet {
    bytes: Vec<u8>,
    wide: bool,
    seed: u64,
    segment_length: u32,
    segment_count_length: u32,
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_le_bytes)
}

impl FuseSet {
    pub(crate) fn new(bytes: Vec<u8>, what: &str) -> Result<FuseSet, Error> {
        let invalid = |why: &str| Error::new(ErrorKind::Invalid, format!("{what}: fuse filter {why}"));
        let (Some(&bits), Some(&arity), Some(seglen), Some(segcount), Some(seed)) = (
            bytes.first(),
            bytes.get(1),
            le_u32(&bytes, 4),
            le_u32(&bytes, 8),
            bytes.get(12..20).and_then(|s| <[u8; 8]>::try_from(s).ok()).map(u64::from_le_bytes),
        ) else {
            return Err(invalid("header truncated"));
        };
        let width: usize = match bits {
            8 => 1,
            16 => 2,
            _ => return Err(invalid("fingerprint bits not 8 or 16")),
        };
        if arity != ARITY || bytes.get(2..4) != Some(&[0, 0][..]) {
            return Err(invalid("arity not 3"));
        }
        if !seglen.is_power_of_two() || seglen > MAX_SEGMENT_LENGTH || segcount == 0 {
            return Err(invalid("segment length or count out of range"));
        }
        // Every slot is below (segment count + 2) × segment length: require exactly that many
        // fingerprints, computed without overflow on 32-bit targets too.
        let segment_count_length = segcount.checked_mul(seglen).ok_or_else(|| invalid("too large"))?;
        let array = (segcount as usize)
            .checked_add(2)
            .and_then(|n| n.checked_mul(seglen as usize))
            .and_then(|n| n.checked_mul(width))
            .and_then(|n| n.checked_add(HEADER_LEN));
        if array != Some(bytes.len()) {
            return Err(invalid("length disagrees with its header"));
        }
        Ok(FuseSet { bytes, wide: bits == 16, seed, segment_length: seglen, segment_count_length })
    }

    pub fn contains(&self, key: u64) -> bool {
        let h = hash(key, self.seed);
        let f = fingerprint(h);
        let [a, b, c] = slots(h, self.segment_length, self.segment_count_length);
        let data = self.bytes.get(HEADER_LEN..).unwrap_or_default();
        if self.wide {
            let at = |i: usize| {
                data.get(2 * i..2 * i + 2).and_then(|s| <[u8; 2]>::try_from(s).ok()).map(u16::from_le_bytes)
            };
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
