//! Membership sets: which fingerprints belong to a segment (or consented to a purpose).
//!
//! Four encodings, chosen per set by the builder:
//!
//! * [`MembershipData::Exact`] — strictly ascending fingerprints, 8 bytes little-endian each,
//!   probed in place (interpolation, then binary search). No false positives: required wherever
//!   membership grants a privilege (a tier, a quota) or records consent.
//! * [`MembershipData::Bloom`] — the serialised form of a `bloomfilter::Bloom<u64>` (45-byte header:
//!   version, bitmap length, hash count, 32-byte seed; then the bitmap), which the builder writes
//!   with that crate (feature `bloom`) and [`bloom`] probes without it. Compact, has false
//!   positives: meant for audiences and deltas. Probed with `u64` keys (their little-endian bytes).
//! * [`MembershipData::Fuse`] — a binary fuse filter ([`fuse`]): immutable, about 9 bits a member
//!   at 2⁻⁸ false positives or 18 at 2⁻¹⁶. For large audiences.
//! * [`MembershipData::Packed`] — compact `exact` ([`packed`]): the same sorted fingerprints,
//!   quotiented into buckets, about 47 bits a member at 10⁷ instead of 64; no false positives.
//!   Decides exactly as [`MembershipData::Exact`] over the same members.
//!
//! Everything is validated at load: an exact set that is not strictly ascending, or a bloom header
//! with a zero-length bitmap (a probe would divide by zero) or an absurd hash count, is an
//! [`ErrorKind::Invalid`] snapshot, not a trap at probe time.
//!
//! Loading borrows: every encoding is one postcard byte string (length, then raw bytes), so a
//! snapshot decodes with [`MembershipData`] over `&[u8]` slices of its own buffer and every set
//! keeps only a validated range of that buffer ([`SetBytes`], shared with the snapshot); probes
//! read fingerprints, remainders, slots and bitmap bytes from those bytes in place (no alignment
//! assumed).

pub mod bloom;
pub mod fuse;
pub mod packed;

use crate::error::{Error, ErrorKind};
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// The encoding name, for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Encoding {
    /// No false positives (plain or compact form).
    Exact,
    Bloom,
    Fuse,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Exact => "exact",
            Encoding::Bloom => "bloom",
            Encoding::Fuse => "fuse",
        }
    }
}

/// A membership set as it travels in the snapshot payload: each variant one byte string. `B` is
/// `Vec<u8>` where sets are built (and by default), `&[u8]` where a snapshot is decoded without
/// copying ([`crate::snapshot::Snapshot::decode_owned`]); both are the same bytes on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(serialize = "B: serde_bytes::Serialize", deserialize = "B: serde_bytes::Deserialize<'de>"))]
pub enum MembershipData<B = Vec<u8>> {
    /// Strictly ascending u64 fingerprints, little-endian, concatenated.
    Exact(#[serde(with = "serde_bytes")] B),
    /// `bloomfilter::Bloom::<u64>::to_bytes()`.
    Bloom(#[serde(with = "serde_bytes")] B),
    /// A binary fuse filter, [`fuse`]'s layout (appended in format 2; older engines refuse it).
    Fuse(#[serde(with = "serde_bytes")] B),
    /// Compact exact, [`packed`]'s layout (appended in format 2).
    Packed(#[serde(with = "serde_bytes")] B),
}

/// A loaded set's bytes: a range of a buffer shared with the snapshot it came from (or the set's
/// own bytes, for a set loaded on its own). Cloning shares; nothing is copied.
#[derive(Clone)]
pub struct SetBytes {
    buf: Arc<Vec<u8>>,
    start: usize,
    end: usize,
}

impl SetBytes {
    /// A set's own bytes.
    pub fn owned(bytes: Vec<u8>) -> SetBytes {
        let end = bytes.len();
        SetBytes { buf: Arc::new(bytes), start: 0, end }
    }

    /// All of `buf`.
    pub fn whole(buf: &Arc<Vec<u8>>) -> SetBytes {
        SetBytes { buf: Arc::clone(buf), start: 0, end: buf.len() }
    }

    /// The whole shared buffer.
    pub fn into_shared(self) -> Arc<Vec<u8>> {
        self.buf
    }

    /// `part`, which must lie inside `buf` (postcard borrowed it from there), as a range of
    /// `buf`; `None` if it does not.
    pub fn within(buf: &Arc<Vec<u8>>, part: &[u8]) -> Option<SetBytes> {
        let start = (part.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
        let end = start.checked_add(part.len())?;
        let same = buf.get(start..end)?.as_ptr() == part.as_ptr();
        same.then(|| SetBytes { buf: Arc::clone(buf), start, end })
    }

    /// The bytes (a range checked when this was made, so never empty by accident).
    #[inline]
    pub fn get(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }
}

impl core::fmt::Debug for SetBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} bytes at {}", self.end - self.start, self.start)
    }
}

/// Largest hash count accepted from a snapshot (see [`bloom::MAX_HASHES`]).
pub const MAX_BLOOM_HASHES: u32 = bloom::MAX_HASHES;

impl MembershipData {
    /// Builds an exact set from fingerprints in any order, duplicates allowed.
    pub fn exact(mut fingerprints: Vec<u64>) -> MembershipData {
        fingerprints.sort_unstable();
        fingerprints.dedup();
        let mut bytes = Vec::with_capacity(fingerprints.len() * 8);
        for fp in fingerprints {
            bytes.extend_from_slice(&fp.to_le_bytes());
        }
        MembershipData::Exact(bytes)
    }

    /// Builds a compact exact set from fingerprints in any order, duplicates allowed. Decides
    /// exactly as [`MembershipData::exact`] over the same fingerprints.
    pub fn packed(mut fingerprints: Vec<u64>) -> Result<MembershipData, Error> {
        fingerprints.sort_unstable();
        fingerprints.dedup();
        packed::encode(&fingerprints).map(MembershipData::Packed)
    }

    /// Builds a bloom filter for `fingerprints` at false-positive rate `fp_rate` with `seed`.
    ///
    /// The seed must come from a real random source (or a test's fixed value); a seed whose two
    /// 16-byte halves are equal measurably degrades the filter and is refused.
    #[cfg(feature = "bloom")]
    pub fn bloom(fingerprints: &[u64], fp_rate: f64, seed: &[u8; 32]) -> Result<MembershipData, Error> {
        if seed[..16] == seed[16..] {
            return Err(Error::new(ErrorKind::Invalid, "bloom seed halves are equal"));
        }
        if !(fp_rate > 0.0 && fp_rate < 1.0) {
            return Err(Error::new(ErrorKind::Invalid, format!("bloom fp rate {fp_rate} not in (0, 1)")));
        }
        let items = fingerprints.len().max(1);
        let mut bloom = bloomfilter::Bloom::<u64>::new_for_fp_rate_with_seed(items, fp_rate, seed)
            .map_err(|e| Error::new(ErrorKind::Invalid, e))?;
        for fp in fingerprints {
            bloom.set(fp);
        }
        Ok(MembershipData::Bloom(bloom.to_bytes()))
    }
}

impl<B: AsRef<[u8]>> MembershipData<B> {
    pub fn encoding(&self) -> Encoding {
        match self {
            MembershipData::Exact(_) | MembershipData::Packed(_) => Encoding::Exact,
            MembershipData::Bloom(_) => Encoding::Bloom,
            MembershipData::Fuse(_) => Encoding::Fuse,
        }
    }

    /// Encoded size in bytes.
    pub fn byte_len(&self) -> usize {
        self.bytes().len()
    }

    fn bytes(&self) -> &[u8] {
        match self {
            MembershipData::Exact(b)
            | MembershipData::Bloom(b)
            | MembershipData::Fuse(b)
            | MembershipData::Packed(b) => b.as_ref(),
        }
    }
}

impl<B> MembershipData<B> {
    /// The encoding tag and the bytes.
    fn split(self) -> (MembershipData<()>, B) {
        match self {
            MembershipData::Exact(b) => (MembershipData::Exact(()), b),
            MembershipData::Bloom(b) => (MembershipData::Bloom(()), b),
            MembershipData::Fuse(b) => (MembershipData::Fuse(()), b),
            MembershipData::Packed(b) => (MembershipData::Packed(()), b),
        }
    }
}

/// A validated, probe-ready membership set.
#[derive(Debug)]
pub enum MembershipSet {
    /// The plain form, probed in place by the same code as the compact form (one bucket, 64-bit
    /// remainders).
    Exact(packed::PackedSet),
    Bloom(bloom::BloomSet),
    Fuse(fuse::FuseSet),
    Packed(packed::PackedSet),
}

impl MembershipSet {
    /// Validates `data` and makes it probe-ready, keeping its bytes. `what` names the set in
    /// errors.
    pub fn load(data: MembershipData, what: &str) -> Result<MembershipSet, Error> {
        let (kind, bytes) = data.split();
        Self::parse(kind, Some(SetBytes::owned(bytes)), what)
    }

    /// Validates `data`, a set postcard borrowed from `buf`, and makes it probe-ready over that
    /// range of `buf` without copying it.
    pub fn load_within(data: MembershipData<&[u8]>, buf: &Arc<Vec<u8>>, what: &str) -> Result<MembershipSet, Error> {
        let (kind, part) = data.split();
        Self::parse(kind, SetBytes::within(buf, part), what)
    }

    fn parse(kind: MembershipData<()>, bytes: Option<SetBytes>, what: &str) -> Result<MembershipSet, Error> {
        // One message for every way a set can be malformed: each distinct message costs module
        // size, and the set's name and encoding say where to look.
        let (set, name) = match kind {
            MembershipData::Exact(()) => (bytes.and_then(packed::PackedSet::plain).map(MembershipSet::Exact), "exact"),
            MembershipData::Bloom(()) => (bytes.and_then(bloom::BloomSet::parse).map(MembershipSet::Bloom), "bloom"),
            MembershipData::Fuse(()) => (bytes.and_then(fuse::FuseSet::parse).map(MembershipSet::Fuse), "fuse"),
            MembershipData::Packed(()) => {
                (bytes.and_then(packed::PackedSet::parse).map(MembershipSet::Packed), "compact exact")
            }
        };
        set.ok_or_else(|| Error::new(ErrorKind::Invalid, format!("{what}: malformed {name} set")))
    }

    /// Is `fingerprint` in the set? (Bloom: maybe.)
    pub fn contains(&self, fingerprint: u64) -> bool {
        match self {
            MembershipSet::Exact(s) | MembershipSet::Packed(s) => s.contains(fingerprint),
            MembershipSet::Bloom(s) => s.contains(fingerprint),
            MembershipSet::Fuse(s) => s.contains(fingerprint),
        }
    }

    pub fn encoding(&self) -> Encoding {
        match self {
            MembershipSet::Exact(_) | MembershipSet::Packed(_) => Encoding::Exact,
            MembershipSet::Bloom(_) => Encoding::Bloom,
            MembershipSet::Fuse(_) => Encoding::Fuse,
        }
    }

    /// A fuse filter's fingerprint bits (its false-positive rate is 2^-bits).
    pub fn fp_bits(&self) -> Option<u8> {
        match self {
            MembershipSet::Fuse(s) => Some(s.fingerprint_bits()),
            _ => None,
        }
    }

    /// Exact sets know their size; bloom filters do not.
    pub fn exact_len(&self) -> Option<usize> {
        match self {
            MembershipSet::Exact(s) | MembershipSet::Packed(s) => Some(s.len()),
            MembershipSet::Bloom(_) => None,
            MembershipSet::Fuse(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_probes_and_rejects_unsorted() {
        let data = MembershipData::exact(alloc::vec![5, 1, 9, 5, u64::MAX]);
        let set = MembershipSet::load(data, "t").unwrap();
        for fp in [1, 5, 9, u64::MAX] {
            assert!(set.contains(fp), "{fp}");
        }
        for fp in [0, 2, 6, 10, u64::MAX - 1] {
            assert!(!set.contains(fp), "{fp}");
        }
        assert_eq!(set.exact_len(), Some(4));
        let mut unsorted = Vec::new();
        unsorted.extend_from_slice(&9u64.to_le_bytes());
        unsorted.extend_from_slice(&1u64.to_le_bytes());
        let err = MembershipSet::load(MembershipData::Exact(unsorted), "t").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
        let err = MembershipSet::load(MembershipData::Exact(alloc::vec![0; 7]), "t").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
    }

    fn spread(n: u64, salt: u64) -> Vec<u64> {
        (0..n).map(|i| (i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ salt).collect()
    }

    #[test]
    fn packed_decides_as_plain_exact() {
        for n in [0u64, 1, 2, 63, 64, 65, 1000, 50_000] {
            let mut fps = spread(n, n);
            // Extremes and a run sharing a bucket.
            if n > 2 {
                fps.extend([0, 1, u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) + 1]);
            }
            let plain = MembershipSet::load(MembershipData::exact(fps.clone()), "t").unwrap();
            let data = MembershipData::packed(fps.clone()).unwrap();
            assert_eq!(data.encoding(), Encoding::Exact);
            let bytes = data.byte_len();
            assert_eq!(bytes, packed::encoded_len(plain.exact_len().unwrap()));
            let packed = MembershipSet::load(data, "t").unwrap();
            assert_eq!(packed.exact_len(), plain.exact_len(), "n={n}");
            for &fp in &fps {
                assert!(packed.contains(fp), "n={n} member {fp:#x}");
            }
            let mut sorted = fps.clone();
            sorted.sort_unstable();
            for probe in spread(20_000, 0xdead_beef).into_iter().chain(fps.iter().map(|f| f ^ 1)) {
                let want = sorted.binary_search(&probe).is_ok();
                assert_eq!(packed.contains(probe), want, "n={n} probe {probe:#x}");
                assert_eq!(plain.contains(probe), want, "n={n} plain probe {probe:#x}");
            }
            if n >= 1000 {
                // 64 − (⌊log2 n⌋ − 4) remainder bits, at most 2 bits of offsets.
                let len = plain.exact_len().unwrap();
                let bits = bytes as f64 * 8.0 / len as f64;
                let bound = f64::from(70 - (usize::BITS - 1 - len.leading_zeros()));
                assert!(bits <= bound && bits < 64.0, "{bits} bits per member at n={n}");
            }
        }
    }

    /// Probes start where a fingerprint would sit if the set were spread evenly; sets that are
    /// not (clusters, runs, one crowded bucket: only a hostile builder makes them) must answer
    /// exactly as a search of the sorted list, in both exact forms.
    #[test]
    fn exact_probes_agree_with_a_sorted_search_on_skewed_sets() {
        let run = |start: u64, step: u64, n: u64| (0..n).map(move |i| start.wrapping_add(i * step));
        let sets: Vec<Vec<u64>> = alloc::vec![
            run(0, 1, 5000).collect(),
            run(u64::MAX - 4999, 1, 5000).collect(),
            run(1 << 40, 3, 3000).chain(run(u64::MAX - 100, 7, 10)).collect(),
            // Half the members crowd one bucket's first values, the rest spread.
            run(0x8000_0000_0000_0000, 1, 2000).chain(spread(2000, 9)).collect(),
            spread(4000, 1).into_iter().map(|f| f >> 20).collect(),
            spread(4000, 2).into_iter().map(|f| f | 0xffff_ff00_0000_0000).collect(),
        ];
        for (k, fps) in sets.into_iter().enumerate() {
            let mut sorted = fps.clone();
            sorted.sort_unstable();
            sorted.dedup();
            let plain = MembershipSet::load(MembershipData::exact(fps.clone()), "t").unwrap();
            let packed = MembershipSet::load(MembershipData::packed(fps.clone()).unwrap(), "t").unwrap();
            let probes = sorted
                .iter()
                .flat_map(|&f| [f, f.wrapping_add(1), f.wrapping_sub(1), f ^ (1 << 63), f >> 1])
                .chain(spread(5000, 0xfeed))
                .chain([0, 1, u64::MAX, u64::MAX - 1]);
            for probe in probes {
                let want = sorted.binary_search(&probe).is_ok();
                assert_eq!(plain.contains(probe), want, "set {k}, plain, probe {probe:#x}");
                assert_eq!(packed.contains(probe), want, "set {k}, packed, probe {probe:#x}");
            }
        }
    }

    #[test]
    fn sets_load_in_place_from_a_shared_buffer() {
        let fps = spread(3000, 5);
        let MembershipData::Packed(packed) = MembershipData::packed(fps.clone()).unwrap() else { unreachable!() };
        let MembershipData::Exact(plain) = MembershipData::exact(fps.clone()) else { unreachable!() };
        // Both sets at odd offsets of one buffer: probes read unaligned words in place.
        let mut buf = alloc::vec![0xEE; 3];
        buf.extend_from_slice(&packed);
        buf.push(0xEE);
        let at = buf.len();
        buf.extend_from_slice(&plain);
        let buf = Arc::new(buf);
        let a = MembershipSet::load_within(MembershipData::Packed(&buf[3..3 + packed.len()]), &buf, "t").unwrap();
        let b = MembershipSet::load_within(MembershipData::Exact(&buf[at..]), &buf, "t").unwrap();
        let owned = MembershipSet::load(MembershipData::Packed(packed.clone()), "t").unwrap();
        for probe in fps.iter().copied().chain(spread(5000, 77)) {
            assert_eq!(a.contains(probe), owned.contains(probe), "{probe:#x}");
            assert_eq!(b.contains(probe), owned.contains(probe), "{probe:#x}");
        }
        assert_eq!(Arc::strong_count(&buf), 3, "the sets share the buffer, no copy");
        // A slice from anywhere else is refused, not read.
        let err = MembershipSet::load_within(MembershipData::Packed(&packed[..]), &buf, "t").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn packed_refuses_hostile_layouts() {
        let MembershipData::Packed(good) = MembershipData::packed(spread(5000, 3)).unwrap() else { unreachable!() };
        let load = |b: Vec<u8>| MembershipSet::load(MembershipData::Packed(b), "t").map(|_| ());
        assert!(load(good.clone()).is_ok());
        assert_eq!(load(good[..7].to_vec()).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(load(good[..good.len() - 1].to_vec()).unwrap_err().kind(), ErrorKind::Invalid);
        let mut q = good.clone();
        q[0] = 40;
        assert_eq!(load(q).unwrap_err().kind(), ErrorKind::Invalid);
        // A count that disagrees with the offsets, and offsets that go backwards.
        let mut count = good.clone();
        count[4] ^= 1;
        assert_eq!(load(count).unwrap_err().kind(), ErrorKind::Invalid);
        let mut back = good.clone();
        back[packed::HEADER_LEN + 8..packed::HEADER_LEN + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(load(back).unwrap_err().kind(), ErrorKind::Invalid);
        let mut zero = good;
        zero[packed::HEADER_LEN..packed::HEADER_LEN + 4].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(load(zero).unwrap_err().kind(), ErrorKind::Invalid);
    }

    #[test]
    fn fuse_refuses_hostile_headers() {
        // A well-formed empty-ish filter: 8-bit, segment length 4, one segment, 12 slots.
        let mut good = alloc::vec![8u8, 3, 0, 0];
        good.extend_from_slice(&4u32.to_le_bytes());
        good.extend_from_slice(&1u32.to_le_bytes());
        good.extend_from_slice(&7u64.to_le_bytes());
        good.extend_from_slice(&[0; 12]);
        let load = |b: &[u8]| MembershipSet::load(MembershipData::Fuse(b.to_vec()), "t").map(|_| ());
        assert!(load(&good).is_ok());
        let bad = |at: usize, v: u8| {
            let mut b = good.clone();
            b[at] = v;
            load(&b).unwrap_err().kind()
        };
        assert_eq!(bad(0, 12), ErrorKind::Invalid); // fingerprint bits
        assert_eq!(bad(1, 4), ErrorKind::Invalid); // arity
        assert_eq!(bad(4, 3), ErrorKind::Invalid); // segment length not a power of two
        assert_eq!(bad(8, 0), ErrorKind::Invalid); // no segments
        assert_eq!(bad(8, 2), ErrorKind::Invalid); // length disagrees
        assert_eq!(bad(0, 16), ErrorKind::Invalid); // 16-bit needs twice the bytes
        assert_eq!(load(&good[..19]).unwrap_err().kind(), ErrorKind::Invalid);
        // Huge geometry that would overflow 32-bit index arithmetic.
        let mut huge = good.clone();
        huge[4..8].copy_from_slice(&(1u32 << 18).to_le_bytes());
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(load(&huge).unwrap_err().kind(), ErrorKind::Invalid);
        // Every probe of a valid filter stays in bounds (no panic), whatever the key.
        let set = MembershipSet::load(MembershipData::Fuse(good), "t").unwrap();
        let hits = spread(10_000, 9).into_iter().filter(|&k| set.contains(k)).count();
        assert!(hits < 200, "{hits}");
    }

    #[cfg(feature = "bloom")]
    #[test]
    fn bloom_probes_and_refuses_hostile_headers() {
        let seed: [u8; 32] = core::array::from_fn(|i| i as u8);
        let fps: Vec<u64> = (0..1000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let data = MembershipData::bloom(&fps, 0.01, &seed).unwrap();
        let MembershipData::Bloom(bytes) = data.clone() else { unreachable!() };
        let set = MembershipSet::load(data, "t").unwrap();
        assert!(fps.iter().all(|&fp| set.contains(fp)));
        let false_pos = (1_000_000..1_010_000u64).filter(|&fp| set.contains(fp)).count();
        assert!(false_pos < 300, "{false_pos} false positives in 10000 at a 1% target");

        // Zero-length bitmap: a probe would divide by zero.
        let mut zero = bytes[..bloom::HEADER_LEN].to_vec();
        zero[1..9].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(MembershipSet::load(MembershipData::Bloom(zero), "t").unwrap_err().kind(), ErrorKind::Invalid);
        // Absurd hash count: a probe would spin for billions of rounds.
        let mut many = bytes.clone();
        many[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(MembershipSet::load(MembershipData::Bloom(many), "t").unwrap_err().kind(), ErrorKind::Invalid);
        // Truncated header.
        assert_eq!(
            MembershipSet::load(MembershipData::Bloom(bytes[..5].to_vec()), "t").unwrap_err().kind(),
            ErrorKind::Invalid
        );
        // Equal seed halves are refused at build.
        assert!(MembershipData::bloom(&fps, 0.01, &[7; 32]).is_err());
    }
}
