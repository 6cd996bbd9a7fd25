//! Binary fuse filter construction (the edge only probes: `edgeseg::membership::fuse`).
//!
//! Follows the reference construction of Graf & Lemire (2022): keys are hashed with a seed and
//! bucketed by their top bits so that the peeling pass walks memory in order (this is what keeps
//! 10⁸ keys at a few seconds), every slot counts its keys and XORs their hashes, slots holding a
//! single key are peeled off a stack, and fingerprints are assigned in reverse peeling order. A
//! seed that does not peel (rare, and likelier for tiny sets) is replaced and construction retried.
//!
//! Memory: about 24 bytes a key during construction, freed before the next segment is built.

use edgeseg::membership::fuse::{ARITY, HEADER_LEN, MAX_SEGMENT_LENGTH, fingerprint, hash, slots};

/// Seeds tried before giving up (the reference gives up after 100; with distinct keys a failure
/// after a handful is already a sign of a bug).
const MAX_ATTEMPTS: u32 = 100;

/// Why a filter could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuseError {
    /// Over 2^32 slots: split the set.
    TooLarge,
    /// No seed peeled in [`MAX_ATTEMPTS`] tries.
    Unpeelable,
}

impl std::fmt::Display for FuseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FuseError::TooLarge => f.write_str("too many keys for one fuse filter"),
            FuseError::Unpeelable => write!(f, "no seed peeled in {MAX_ATTEMPTS} attempts"),
        }
    }
}

/// Segment length and count for `n` keys (the reference's formulas for arity 3).
fn geometry(n: usize) -> (u32, u32) {
    let seglen = if n == 0 {
        4
    } else {
        let bits = ((n as f64).ln() / 3.33f64.ln() + 2.25).floor().max(0.0) as u32;
        (1u32 << bits.min(31)).min(MAX_SEGMENT_LENGTH)
    };
    let factor = if n <= 1 { 0.0 } else { (0.875 + 0.25 * 1e6f64.ln() / (n as f64).ln()).max(1.125) };
    let capacity = (n as f64 * factor).round() as u64;
    let count = capacity.div_ceil(u64::from(seglen)).saturating_sub(u64::from(ARITY) - 1).max(1);
    (seglen, u32::try_from(count).unwrap_or(u32::MAX))
}

/// Builds a filter over distinct `keys` (keyed fingerprints) with 8- or 16-bit fingerprints.
/// `seed` starts the sequence of seeds tried; the result is a deterministic function of both.
pub fn build(keys: &[u64], bits: u8, seed: u64) -> Result<Vec<u8>, FuseError> {
    let mut peeler = Peeler::new(keys.len())?;
    let mut seeds = seed;
    for _ in 0..MAX_ATTEMPTS {
        seeds = seeds.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let seed = hash(seeds, 0x5EED);
        if peeler.peel(keys, seed) {
            return Ok(peeler.assign(bits, seed));
        }
    }
    Err(FuseError::Unpeelable)
}

/// One construction attempt with exactly this filter `seed` (the seed stored in the header, not
/// the start of [`build`]'s sequence): `Ok(None)` when it does not peel. For differential tests
/// against another implementation of the same construction (`xorf`), which must then write the
/// same fingerprints.
pub fn build_with_seed(keys: &[u64], bits: u8, seed: u64) -> Result<Option<Vec<u8>>, FuseError> {
    let mut peeler = Peeler::new(keys.len())?;
    Ok(peeler.peel(keys, seed).then(|| peeler.assign(bits, seed)))
}

/// The construction's scratch space, sized once for a key count and reused across seeds.
struct Peeler {
    size: usize,
    seglen: u32,
    segcount: u32,
    seg_count_len: u32,
    reverse_order: Vec<u64>,
    reverse_h: Vec<u8>,
    alone: Vec<u32>,
    t2count: Vec<u8>,
    t2hash: Vec<u64>,
    block_bits: u32,
    start_pos: Vec<usize>,
}

impl Peeler {
    fn new(size: usize) -> Result<Peeler, FuseError> {
        let (seglen, segcount) = geometry(size);
        let seg_count_len = segcount.checked_mul(seglen).ok_or(FuseError::TooLarge)?;
        let array_len = (u64::from(segcount) + 2) * u64::from(seglen);
        let array_len = usize::try_from(array_len).map_err(|_| FuseError::TooLarge)?;
        if u32::try_from(array_len).is_err() || u32::try_from(size).is_err() {
            return Err(FuseError::TooLarge);
        }
        let mut block_bits = 1u32;
        while (1u64 << block_bits) < u64::from(segcount) {
            block_bits += 1;
        }
        Ok(Peeler {
            size,
            seglen,
            segcount,
            seg_count_len,
            reverse_order: vec![0u64; size + 1],
            reverse_h: vec![0u8; size],
            alone: vec![0u32; array_len],
            t2count: vec![0u8; array_len],
            t2hash: vec![0u64; array_len],
            block_bits,
            start_pos: vec![0usize; 1 << block_bits],
        })
    }

    /// Bucketing, counting and peeling under `seed`; true when every key peeled (then
    /// `reverse_order`/`reverse_h` hold the peeling order).
    fn peel(&mut self, keys: &[u64], seed: u64) -> bool {
        let (size, seglen, seg_count_len, block_bits) = (self.size, self.seglen, self.seg_count_len, self.block_bits);
        let (reverse_order, reverse_h) = (&mut self.reverse_order, &mut self.reverse_h);
        let (alone, t2count, t2hash) = (&mut self.alone, &mut self.t2count, &mut self.t2hash);
        reverse_order.fill(0);
        reverse_order[size] = 1;
        t2count.fill(0);
        t2hash.fill(0);
        for (i, p) in self.start_pos.iter_mut().enumerate() {
            *p = ((i as u128 * size as u128) >> block_bits) as usize;
        }
        let mask_block = self.start_pos.len() - 1;
        for &key in keys {
            let h = hash(key, seed);
            // A zero hash would read as an empty slot below; its key is re-hashed by the next seed.
            if h == 0 {
                return false;
            }
            let mut segment = (h >> (64 - block_bits)) as usize;
            while reverse_order[self.start_pos[segment]] != 0 {
                segment = (segment + 1) & mask_block;
            }
            reverse_order[self.start_pos[segment]] = h;
            self.start_pos[segment] += 1;
        }
        for &h in &reverse_order[..size] {
            let [h0, h1, h2] = slots(h, seglen, seg_count_len);
            for (which, slot) in [h0, h1, h2].into_iter().enumerate() {
                t2count[slot] = t2count[slot].wrapping_add(4) ^ (which as u8);
                t2hash[slot] ^= h;
                // Over 63 keys in one slot overflows the counter: try another seed.
                if t2count[slot] < 4 {
                    return false;
                }
            }
        }
        let mut qsize = 0usize;
        for (i, &count) in t2count.iter().enumerate() {
            alone[qsize] = i as u32;
            if count >> 2 == 1 {
                qsize += 1;
            }
        }
        let mut stack = 0usize;
        while qsize > 0 {
            qsize -= 1;
            let index = alone[qsize] as usize;
            if t2count[index] >> 2 != 1 {
                continue;
            }
            let h = t2hash[index];
            let found = t2count[index] & 3;
            reverse_h[stack] = found;
            reverse_order[stack] = h;
            stack += 1;
            let [h0, h1, h2] = slots(h, seglen, seg_count_len);
            let h012 = [h0, h1, h2, h0, h1];
            for step in 1..=2u8 {
                let other = h012[usize::from(found + step)];
                alone[qsize] = other as u32;
                if t2count[other] >> 2 == 2 {
                    qsize += 1;
                }
                t2count[other] = t2count[other].wrapping_sub(4) ^ ((found + step) % 3);
                t2hash[other] ^= h;
            }
        }
        stack == size
    }

    /// Fingerprints in reverse peeling order, after a successful [`Peeler::peel`] under `seed`;
    /// the filter's bytes.
    fn assign(self, bits: u8, seed: u64) -> Vec<u8> {
        let Peeler { size, seglen, segcount, seg_count_len, reverse_order, reverse_h, alone, t2count, t2hash, .. } =
            self;
        drop((alone, t2count, t2hash));
        let wide = bits == 16;
        let array_len = (segcount as usize + 2) * seglen as usize;
        let mut fps = vec![0u16; array_len];
        for i in (0..size).rev() {
            let h = reverse_order[i];
            let [h0, h1, h2] = slots(h, seglen, seg_count_len);
            let h012 = [h0, h1, h2, h0, h1];
            let found = usize::from(reverse_h[i]);
            let f = if wide { fingerprint(h) as u16 } else { u16::from(fingerprint(h) as u8) };
            fps[h012[found]] = f ^ fps[h012[found + 1]] ^ fps[h012[found + 2]];
        }
        let width = if wide { 2 } else { 1 };
        let mut out = Vec::with_capacity(HEADER_LEN + array_len * width);
        out.extend_from_slice(&[bits, ARITY, 0, 0]);
        out.extend_from_slice(&seglen.to_le_bytes());
        out.extend_from_slice(&segcount.to_le_bytes());
        out.extend_from_slice(&seed.to_le_bytes());
        if wide {
            out.extend(fps.iter().flat_map(|f| f.to_le_bytes()));
        } else {
            out.extend(fps.iter().map(|&f| f as u8));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeseg::membership::{MembershipData, MembershipSet};

    fn keys(n: u64, salt: u64) -> Vec<u64> {
        (0..n).map(|i| hash(i, salt)).collect()
    }

    #[test]
    fn builds_probes_and_meets_its_rate() {
        for (n, bits) in [(0u64, 8u8), (1, 8), (2, 16), (10, 8), (1000, 16), (200_000, 8), (200_000, 16)] {
            let ks = keys(n, 1);
            let bytes = build(&ks, bits, 42).unwrap();
            let len = bytes.len();
            let set = MembershipSet::load(MembershipData::Fuse(bytes), "t").unwrap();
            assert!(ks.iter().all(|&k| set.contains(k)), "n={n} bits={bits}: a member is missing");
            let probes = 400_000u64;
            let hits = keys(probes, 1 << 40).into_iter().filter(|&k| set.contains(k)).count() as f64;
            let rate = hits / probes as f64;
            let target = (-f64::from(bits)).exp2();
            assert!(rate < target * 1.5 + 1e-5, "n={n} bits={bits}: rate {rate} vs {target}");
            if n >= 200_000 {
                let per_key = len as f64 * 8.0 / n as f64;
                assert!(per_key < f64::from(bits) * 1.2, "n={n}: {per_key} bits a key");
            }
        }
    }

    #[test]
    fn is_deterministic() {
        let ks = keys(5000, 3);
        assert_eq!(build(&ks, 8, 7).unwrap(), build(&ks, 8, 7).unwrap());
        assert_ne!(build(&ks, 8, 7).unwrap(), build(&ks, 8, 8).unwrap());
    }
}
