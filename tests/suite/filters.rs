//! Binary fuse filters held to their reference, `xorf` (issue 25: "filters proven against their
//! reference").
//!
//! Our filter follows xorf's hashing (murmur3's finaliser of key + seed, fingerprint `h ^ h >> 32`,
//! three slots from the high product and two masked shifts) and its fingerprint array; only the
//! header differs (ours: bits, arity, segment length, segment *count*, seed; xorf's descriptor:
//! seed, segment length, mask, segment count × length), so the two map onto each other exactly.
//! Two deliberate differences in *construction*, measured here rather than hidden:
//! - seeds: xorf draws them from SplitMix64(1); ours come from the snapshot's key source, so a
//!   build is reproducible from its key. Compared by building ours at xorf's winning seed.
//! - below 10⁶ keys xorf retries every fourth seed with half the segment length (FastFilter
//!   PR 50); ours keeps the formula's geometry and tries another seed. Our probe reads such a
//!   filter unchanged (the array is the same length), which the small sizes below check.
//!
//! Everything here compares answers key by key on 10⁶ random members and 10⁶ random non-members.

use edgeseg::membership::{MembershipData, MembershipSet};
use edgeseg_snapshots::fuse;
use xorf::{BinaryFuse8, BinaryFuse16, Descriptor, Filter};

const KEYS: usize = 1_000_000;

/// SplitMix64's output for a counter: a bijection, so distinct counters give distinct keys, and
/// independent of the murmur3 mix the filters hash with.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `n` distinct random members and `n` random keys that are none of them.
fn keys(n: usize, salt: u64) -> (Vec<u64>, Vec<u64>) {
    let members = (0..n as u64).map(|i| splitmix(i ^ (salt << 40))).collect();
    let others = (0..n as u64).map(|i| splitmix(i ^ (salt << 40) ^ (1 << 39))).collect();
    (members, others)
}

/// A filter in both forms: ours (bytes, loaded by the edge's validation) and xorf's.
trait Pair: Filter<u64> + Sized {
    const BITS: u8;
    fn build(keys: &[u64]) -> Self;
    fn descriptor(&self) -> &Descriptor;
    fn fingerprint_bytes(&self) -> Vec<u8>;
    fn from_parts(descriptor: Descriptor, fingerprints: &[u8]) -> Self;
}

impl Pair for BinaryFuse8 {
    const BITS: u8 = 8;
    fn build(keys: &[u64]) -> Self {
        BinaryFuse8::try_from(keys).expect("xorf builds")
    }
    fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }
    fn fingerprint_bytes(&self) -> Vec<u8> {
        self.fingerprints.to_vec()
    }
    fn from_parts(descriptor: Descriptor, fingerprints: &[u8]) -> Self {
        BinaryFuse8 { descriptor, fingerprints: fingerprints.into() }
    }
}

impl Pair for BinaryFuse16 {
    const BITS: u8 = 16;
    fn build(keys: &[u64]) -> Self {
        BinaryFuse16::try_from(keys).expect("xorf builds")
    }
    fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }
    fn fingerprint_bytes(&self) -> Vec<u8> {
        self.fingerprints.iter().flat_map(|f| f.to_le_bytes()).collect()
    }
    fn from_parts(descriptor: Descriptor, fingerprints: &[u8]) -> Self {
        let fps = fingerprints.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        BinaryFuse16 { descriptor, fingerprints: fps }
    }
}

/// xorf's filter in our layout (header + the same fingerprint array).
fn to_ours<F: Pair>(f: &F) -> Vec<u8> {
    let d = f.descriptor();
    assert_eq!(d.segment_length_mask, d.segment_length - 1);
    assert_eq!(d.segment_count_length % d.segment_length, 0);
    let mut out = vec![F::BITS, fuse_arity(), 0, 0];
    out.extend_from_slice(&d.segment_length.to_le_bytes());
    out.extend_from_slice(&(d.segment_count_length / d.segment_length).to_le_bytes());
    out.extend_from_slice(&d.seed.to_le_bytes());
    out.extend(f.fingerprint_bytes());
    out
}

fn fuse_arity() -> u8 {
    edgeseg::membership::fuse::ARITY
}

/// Our filter's bytes as an xorf filter.
fn to_xorf<F: Pair>(bytes: &[u8]) -> F {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(&bytes[..4], &[F::BITS, fuse_arity(), 0, 0]);
    let (seglen, segcount) = (u32_at(4), u32_at(8));
    let descriptor = Descriptor {
        seed: u64::from_le_bytes(bytes[12..20].try_into().unwrap()),
        segment_length: seglen,
        segment_length_mask: seglen - 1,
        segment_count_length: segcount * seglen,
    };
    F::from_parts(descriptor, &bytes[edgeseg::membership::fuse::HEADER_LEN..])
}

fn load(bytes: Vec<u8>) -> MembershipSet {
    MembershipSet::load(MembershipData::Fuse(bytes), "xorf").expect("the edge accepts the filter")
}

/// Every member found by both; every non-member answered alike. Returns the false positives.
fn same_answers<F: Pair>(ours: &MembershipSet, theirs: &F, members: &[u64], others: &[u64]) -> usize {
    let missing = members.iter().filter(|&&k| !ours.contains(k) || !theirs.contains(&k)).count();
    assert_eq!(missing, 0, "{missing} members not found");
    let differ = others.iter().filter(|&&k| ours.contains(k) != theirs.contains(&k)).count();
    assert_eq!(differ, 0, "{differ} of {} non-members answered differently", others.len());
    others.iter().filter(|&&k| ours.contains(k)).count()
}

/// xorf's filters, read by our edge's validation and probe.
fn xorf_probed_by_ours<F: Pair>() {
    let (members, others) = keys(KEYS, u64::from(F::BITS));
    let theirs = F::build(&members);
    let ours = load(to_ours(&theirs));
    let fp = same_answers(&ours, &theirs, &members, &others);
    // Not vacuous: the non-members do include false positives, about 2^-bits of them.
    let expected = KEYS as f64 * (-f64::from(F::BITS)).exp2();
    assert!(fp as f64 > expected * 0.5 && (fp as f64) < expected * 1.5 + 10.0, "{fp} false positives");
}

/// Our construction at xorf's seed writes xorf's fingerprints byte for byte; built at our own
/// seed, xorf's probe answers as ours does.
fn ours_matches_xorf<F: Pair>() {
    let (members, others) = keys(KEYS, 100 + u64::from(F::BITS));
    let theirs = F::build(&members);
    let reference = to_ours(&theirs);
    let at_seed = fuse::build_with_seed(&members, F::BITS, theirs.descriptor().seed)
        .unwrap()
        .expect("xorf's winning seed peels for us too");
    assert_eq!(at_seed.len(), reference.len(), "same geometry");
    assert!(at_seed == reference, "same header and fingerprints at the same seed");

    let own = fuse::build(&members, F::BITS, 7).unwrap();
    assert_eq!(own[4..12], reference[4..12], "same segment length and count at 10^6 keys");
    let theirs_of_ours: F = to_xorf(&own);
    same_answers(&load(own), &theirs_of_ours, &members, &others);
}

#[test]
fn xorf_binary_fuse8_probed_by_ours() {
    xorf_probed_by_ours::<BinaryFuse8>();
}

#[test]
fn xorf_binary_fuse16_probed_by_ours() {
    xorf_probed_by_ours::<BinaryFuse16>();
}

#[test]
fn our_binary_fuse8_is_xorfs() {
    ours_matches_xorf::<BinaryFuse8>();
}

#[test]
fn our_binary_fuse16_is_xorfs() {
    ours_matches_xorf::<BinaryFuse16>();
}

/// Small sets, where xorf may pick a halved segment length: our probe still answers as xorf's,
/// and where the geometry is the formula's, our construction at its seed is byte-identical.
/// Measured over every 97th size from 5 to 200 000 (salt 3): xorf halved the segment length for
/// 30 of 2 062 sizes (1.5 %); three of them are pinned here so that path stays covered.
#[test]
fn small_filters_agree_with_xorf() {
    let mut halved = Vec::new();
    for n in [0usize, 1, 2, 3, 5, 17, 100, 1000, 4096, 4370, 10_000, 12_227, 65_537, 125_814, 300_000] {
        let (members, others) = keys(n, 3);
        let others = &others[..others.len().min(20_000)];
        if agree::<BinaryFuse8>(&members, others) | agree::<BinaryFuse16>(&members, others) {
            halved.push(n);
        }
    }
    assert_eq!(halved, [4370, 12_227, 125_814], "the sizes where xorf's geometry departs from ours");
}

/// Same answers from our probe on xorf's filter; byte-identical construction at xorf's seed when
/// the geometry is ours. True when xorf used a halved segment length.
fn agree<F: Pair>(members: &[u64], others: &[u64]) -> bool {
    let theirs = F::build(members);
    let reference = to_ours(&theirs);
    same_answers(&load(reference.clone()), &theirs, members, others);
    let own = fuse::build(members, F::BITS, 1).unwrap();
    if own[4..12] != reference[4..12] {
        let (ours_len, theirs_len) = (&own[4..8], &reference[4..8]);
        let half = u32::from_le_bytes(ours_len.try_into().unwrap()) / 2;
        assert_eq!(theirs_len, half.to_le_bytes(), "the only departure is a halved segment length");
        assert_eq!(own.len(), reference.len(), "over the same array");
        return true;
    }
    let at_seed = fuse::build_with_seed(members, F::BITS, theirs.descriptor().seed).unwrap();
    assert!(at_seed.as_ref() == Some(&reference), "n={}: byte-identical at xorf's seed", members.len());
    false
}
