//! Compact `exact`: the sorted fingerprints split by their top `q` bits into 2^q buckets, each
//! bucket's remaining `64 − q` bits packed back to back, plus one u32 offset per bucket — a
//! quotiented form of the sorted list (close to Elias–Fano, simpler to probe). With `q ≈
//! log2(n) − 4` (16 to 32 members a bucket) it costs `64 − log2(n) + 4` bits plus 1–2 bits of
//! offsets per member: about 47 bits at 10⁷ members, against 64 for the plain form. A probe reads
//! two offsets and searches a bucket in place (interpolation first: a bucket's remainders are spread
//! evenly, so the first guess is usually within a step or two; then binary search); nothing is
//! decoded at load.
//!
//! Layout (little-endian):
//!
//! ```text
//! 0      bucket bits q, 0..=28
//! 1      zero low bits z, 0..=16: every member's lowest z bits are 0 and are not stored (a
//!        shard's keys: see `crate::shard::probe_key`); 0 in unsharded snapshots, which older
//!        engines read (they refuse z ≠ 0)
//! 2..4   zero
//! 4..8   member count n (u32)
//! 8..    2^q + 1 offsets (u32): the first 0, never decreasing, the last n
//! ..     n remainders of 64 − q − z bits each, least significant bit first, zero-padded to a byte
//! ```
//!
//! Validation at load checks the header, the exact length and the offsets, which is all a probe
//! relies on to stay in bounds. The order of remainders inside a bucket is the builder's
//! promise: a bucket out of order can only hide its own members (as leaving them out would), and
//! the container's checksum already catches corruption.

use super::SetBytes;
use crate::error::{Error, ErrorKind};
use alloc::vec::Vec;

/// Bytes before the offsets.
pub const HEADER_LEN: usize = 8;
/// Most bucket bits accepted (2^28 offsets is 1 GiB: no real set needs more).
pub const MAX_BUCKET_BITS: u8 = 28;
/// Most zero low bits a set may declare.
pub const MAX_ZERO_BITS: u8 = 16;

/// A validated compact exact set.
#[derive(Debug)]
pub struct PackedSet {
    bytes: SetBytes,
    bucket_bits: u32,
    /// Low bits every member has zero, not stored.
    zero_bits: u32,
    len: usize,
    /// Byte offset of the remainders.
    data: usize,
    /// The plain form (`MembershipData::Exact`): no header, no offsets, one bucket.
    plain: bool,
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_le_bytes)
}

fn remainder_mask(width: u32) -> u64 {
    if width >= 64 { u64::MAX } else { (1u64 << width) - 1 }
}

/// Bucket bits for `n` members: about 16 to 32 members a bucket.
pub fn bucket_bits(n: usize) -> u8 {
    if n < 64 { 0 } else { ((usize::BITS - 1 - n.leading_zeros()) as u8).saturating_sub(4).min(MAX_BUCKET_BITS) }
}

/// Bytes [`encode`] writes for `n` members.
pub fn encoded_len(n: usize) -> usize {
    encoded_len_with(n, 0)
}

/// Bytes [`encode_with`] writes for `n` members with `zero_bits`.
pub fn encoded_len_with(n: usize, zero_bits: u8) -> usize {
    let q = bucket_bits(n);
    HEADER_LEN + 4 * ((1usize << q) + 1) + (n * (64 - usize::from(q) - usize::from(zero_bits))).div_ceil(8)
}

/// Encodes strictly ascending fingerprints (the builder's side; no edge path calls it).
pub fn encode(sorted: &[u64]) -> Result<Vec<u8>, Error> {
    encode_with(sorted, 0)
}

/// [`encode`] for keys whose lowest `zero_bits` bits are all 0 (a shard's: the bits every member
/// of a shard shares are shifted out), which are then not stored.
pub fn encode_with(sorted: &[u64], zero_bits: u8) -> Result<Vec<u8>, Error> {
    let n = u32::try_from(sorted.len()).map_err(|_| Error::new(ErrorKind::Invalid, "over 2^32 members in one set"))?;
    let z = u32::from(zero_bits);
    if zero_bits > MAX_ZERO_BITS || sorted.iter().any(|&fp| fp & remainder_mask(z) != 0) {
        return Err(Error::new(ErrorKind::Invalid, "a key has a bit set below the declared zero bits"));
    }
    let q = bucket_bits(sorted.len());
    let width = 64 - u32::from(q);
    let buckets = 1usize << q;
    let mut out = Vec::with_capacity(encoded_len_with(sorted.len(), zero_bits));
    out.extend_from_slice(&[q, zero_bits, 0, 0]);
    out.extend_from_slice(&n.to_le_bytes());
    let bucket_of = |fp: u64| if q == 0 { 0 } else { (fp >> width) as usize };
    let mut at = 0usize;
    for b in 0..=buckets {
        while sorted.get(at).is_some_and(|&fp| bucket_of(fp) < b) {
            at += 1;
        }
        out.extend_from_slice(&(at as u32).to_le_bytes());
    }
    let mask = remainder_mask(width);
    let stored = width - z;
    let (mut acc, mut bits) = (0u128, 0u32);
    for &fp in sorted {
        acc |= u128::from((fp & mask) >> z) << bits;
        bits += stored;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    Ok(out)
}

impl PackedSet {
    /// Validates the header, the length and the offsets (`None`: malformed).
    pub(crate) fn parse(shared: SetBytes) -> Option<PackedSet> {
        let bytes = shared.get();
        let n = le_u32(bytes, 4)?;
        let (q, z) = match bytes.get(..4)? {
            &[q, z, 0, 0] if q <= MAX_BUCKET_BITS && z <= MAX_ZERO_BITS => (q, z),
            _ => return None,
        };
        let width = 64 - u32::from(q) - u32::from(z);
        let offsets = (1usize << q) + 1;
        let data = offsets.checked_mul(4)?.checked_add(HEADER_LEN)?;
        let total = data.checked_add((n as usize).checked_mul(width as usize)?.div_ceil(8))?;
        if total != bytes.len() {
            return None;
        }
        // Offsets start at 0, never decrease and end at n: every bucket lies inside the data.
        let mut prev = 0u32;
        for (i, c) in bytes.get(HEADER_LEN..data)?.chunks_exact(4).enumerate() {
            let off = <[u8; 4]>::try_from(c).map_or(0, u32::from_le_bytes);
            if off < prev || (i == 0 && off != 0) {
                return None;
            }
            prev = off;
        }
        (prev == n).then_some(PackedSet {
            bytes: shared,
            bucket_bits: u32::from(q),
            zero_bits: u32::from(z),
            len: n as usize,
            data,
            plain: false,
        })
    }

    /// The plain form: strictly ascending little-endian u64s (checked here, as format 1 did).
    pub(crate) fn plain(shared: SetBytes) -> Option<PackedSet> {
        let bytes = shared.get();
        let mut chunks = bytes.chunks_exact(8);
        let mut words = chunks.by_ref().map(|c| <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes));
        let ascending = match words.next() {
            Some(first) => words.try_fold(first, |prev, fp| (prev < fp).then_some(fp)).is_some(),
            None => true,
        };
        let whole = chunks.remainder().is_empty();
        let len = bytes.len() / 8;
        (ascending && whole).then_some(PackedSet {
            bytes: shared,
            bucket_bits: 0,
            zero_bits: 0,
            len,
            data: 0,
            plain: true,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn offset(&self, bytes: &[u8], bucket: usize) -> usize {
        if self.plain {
            return if bucket == 0 { 0 } else { self.len };
        }
        le_u32(bytes, HEADER_LEN + 4 * bucket).map_or(0, |o| o as usize)
    }

    fn remainder(&self, bytes: &[u8], i: usize, width: u32) -> u64 {
        let bit = i * width as usize;
        let start = self.data + bit / 8;
        let shift = (bit % 8) as u32;
        // Up to 9 bytes hold the value; bytes past the end read as zero (validation makes the
        // last value end inside the data, so they are never part of it).
        let byte = |k: usize| u64::from(bytes.get(start + k).copied().unwrap_or(0));
        let lo = match bytes.get(start..start + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
            Some(word) => u64::from_le_bytes(word),
            None => (0..8).fold(0, |w, k| w | byte(k) << (8 * k)),
        };
        let hi = if shift == 0 { 0 } else { byte(8) << (64 - shift) };
        ((lo >> shift) | hi) & remainder_mask(width)
    }

    pub fn contains(&self, fingerprint: u64) -> bool {
        let (z, below) = (self.zero_bits, 64 - self.bucket_bits);
        if fingerprint & remainder_mask(z) != 0 {
            return false;
        }
        let bucket = if self.bucket_bits == 0 { 0 } else { (fingerprint >> below) as usize };
        let width = below - z;
        let want = (fingerprint & remainder_mask(below)) >> z;
        let bytes = self.bytes.get();
        let (mut lo, mut hi) = (self.offset(bytes, bucket), self.offset(bytes, bucket + 1));
        let Some(span) = hi.checked_sub(lo).filter(|s| *s > 0) else { return false };
        let at = |i: usize| self.remainder(bytes, i, width);
        // Fingerprints are keyed hashes, so a bucket's remainders are spread evenly over
        // [0, 2^width): start where `want` would sit (interpolation), walk a few steps, and only
        // then binary-search what is left. A typical probe reads one to three remainders from one
        // cache line instead of a binary search's four to five dependent reads; a skewed bucket (a
        // hostile snapshot) costs at most the few steps more than the search alone.
        // Both factors below 2^32, so the product fits a u64 (an overflow check would cost a
        // 128-bit multiply call in wasm); a span past 2^32 only makes the guess worse.
        let shift = width.saturating_sub(32);
        let product = (want >> shift) * (span.min(u32::MAX as usize) as u64);
        let guess = lo + ((product >> (width - shift)) as usize).min(span - 1);
        const STEPS: usize = 4;
        match at(guess).cmp(&want) {
            core::cmp::Ordering::Equal => return true,
            core::cmp::Ordering::Less => {
                lo = guess + 1;
                for _ in 0..STEPS {
                    if lo >= hi {
                        return false;
                    }
                    match at(lo).cmp(&want) {
                        core::cmp::Ordering::Less => lo += 1,
                        core::cmp::Ordering::Equal => return true,
                        core::cmp::Ordering::Greater => return false,
                    }
                }
            }
            core::cmp::Ordering::Greater => {
                hi = guess;
                for _ in 0..STEPS {
                    if lo >= hi {
                        return false;
                    }
                    match at(hi - 1).cmp(&want) {
                        core::cmp::Ordering::Greater => hi -= 1,
                        core::cmp::Ordering::Equal => return true,
                        core::cmp::Ordering::Less => return false,
                    }
                }
            }
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match at(mid).cmp(&want) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}
