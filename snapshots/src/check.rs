//! The member check: before a build writes anything, every member of every set — consent sets
//! and segment sets, whatever their encoding (exact, compact exact, bloom, fuse) — is probed in
//! the snapshot as the edge decoded it, and a single miss fails the build
//! ([`BuildErrorKind::MemberMissing`]). Filters have false positives by design, never false
//! negatives; a construction or encoding bug that dropped a member would otherwise ship silently
//! (the false-positive measurement cannot see it). The cost is one probe per set membership and
//! is reported ([`MemberCheck`], the build report's last line). Also here: the false-positive
//! measurement of bloom and fuse sets ([`measure_fp_rate`]).

use crate::error::{BuildError, BuildErrorKind};
use edgeseg::Snapshot;
use edgeseg::membership::{MembershipData, MembershipSet};
use serde::Serialize;
use std::time::Instant;

/// What the member check probed, and how long it took.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MemberCheck {
    /// Sets probed (consent sets and segment sets).
    pub sets: u64,
    /// Probes made: one per member of each set.
    pub probes: u64,
    /// Wall time of the probes, in seconds.
    pub seconds: f64,
}

impl MemberCheck {
    /// Probes every member of `set`, which `what` names in the error.
    pub(crate) fn set(&mut self, set: &MembershipSet, members: &[u64], what: &str) -> Result<(), BuildError> {
        let start = Instant::now();
        let missing = members.iter().filter(|&&fp| !set.contains(fp)).count();
        self.seconds += start.elapsed().as_secs_f64();
        self.sets += 1;
        self.probes += members.len() as u64;
        if missing == 0 {
            return Ok(());
        }
        let message = format!(
            "{missing} of {} members not found in the {} set as written: the set is wrong (a builder bug); \
             nothing was written",
            members.len(),
            set.encoding().as_str()
        );
        Err(BuildError::new(BuildErrorKind::MemberMissing, message).with_field(what.to_string()))
    }

    /// Probes every member of `data`, a set not yet in a snapshot (a shard's), loaded as the edge
    /// loads it. Costs a copy of the set's bytes: one shard's worth.
    pub(crate) fn data(&mut self, data: &MembershipData, members: &[u64], what: &str) -> Result<(), BuildError> {
        let set = MembershipSet::load(data.clone(), what)
            .map_err(|e| BuildError::new(BuildErrorKind::Encode, e.to_string()).with_field(what.to_string()))?;
        self.set(&set, members, what)
    }

    /// Adds another part's check (a shard's) to this one.
    pub(crate) fn add(&mut self, other: &MemberCheck) {
        self.sets += other.sets;
        self.probes += other.probes;
        self.seconds += other.seconds;
    }

    /// Probes every consent set and segment set of the decoded `snapshot`; `consented[i]` and
    /// `segments[i]` are the fingerprints filed into purpose `i` and segment `i`.
    pub(crate) fn snapshot(
        snapshot: &Snapshot,
        consented: &[Vec<u64>],
        segments: &[Vec<u64>],
    ) -> Result<MemberCheck, BuildError> {
        let mut check = MemberCheck::default();
        for (p, fps) in snapshot.purposes.iter().zip(consented) {
            if let Some(set) = &p.consented {
                check.set(set, fps, &format!("purpose {}", p.name))?;
            }
        }
        for (s, fps) in snapshot.segments.iter().zip(segments) {
            if let Some(set) = &s.membership {
                check.set(set, fps, &format!("segment {}", s.name))?;
            }
        }
        Ok(check)
    }
}

/// Probes random fingerprints that are not members (`members` sorted) and returns the hit rate.
pub(crate) fn measure_fp_rate(
    prng: &mut crate::prng::SplitMix64,
    members: &[u64],
    contains: impl Fn(u64) -> bool,
) -> f64 {
    let (mut probes, mut hits) = (0u64, 0u64);
    while probes < crate::build::FP_PROBES {
        let fp = prng.next_u64();
        if members.binary_search(&fp).is_ok() {
            continue;
        }
        probes += 1;
        hits += u64::from(contains(fp));
    }
    hits as f64 / probes as f64
}

/// Test-only: the next fuse filter this thread builds gets one fingerprint corrupted, in a slot
/// its first member reads (see `build::segments`). No runtime flag: it exists only under
/// `cfg(test)`.
#[cfg(test)]
pub(crate) mod tamper {
    use std::cell::Cell;

    thread_local! {
        static NEXT_FUSE: Cell<bool> = const { Cell::new(false) };
    }

    pub(crate) fn arm() {
        NEXT_FUSE.with(|c| c.set(true));
    }

    /// Flips the low bit of the fingerprint in `members[0]`'s first slot, if armed.
    pub(crate) fn fuse(bytes: &mut [u8], members: &[u64]) {
        use edgeseg::membership::fuse::{HEADER_LEN, hash, slots};
        if !NEXT_FUSE.with(|c| c.replace(false)) {
            return;
        }
        let u32_at = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let (seglen, segcount) = (u32_at(4), u32_at(8));
        let seed = bytes[12..20].try_into().map_or(0, u64::from_le_bytes);
        let width = if bytes[0] == 16 { 2 } else { 1 };
        let [slot, _, _] = slots(hash(members[0], seed), seglen, seglen * segcount);
        bytes[HEADER_LEN + slot * width] ^= 1;
    }
}

#[cfg(test)]
mod tests {
    use crate::{BuildErrorKind, BuildOptions, Definitions, Member, build};

    const DEFS: &str = r#"{
      "id": "t", "version": 1,
      "identity": [{"cookie": "uid", "trust": "unverified"}],
      "purposes": ["contract", "ads"],
      "tiers": ["premium"],
      "segments": [
        {"name": "big", "purpose": "contract", "precedence": 10,
         "members": {"encoding": "fuse", "all": true}},
        {"name": "bloomed", "purpose": "ads", "precedence": 5,
         "members": {"encoding": "bloom", "all": true}},
        {"name": "listed", "tier": "premium", "purpose": "contract", "precedence": 1,
         "members": {"encoding": "exact", "all": true}}
      ]
    }"#;

    fn members(n: usize) -> impl Iterator<Item = Result<Member, crate::BuildError>> {
        (0..n).map(|i| {
            Ok(Member {
                id: format!("member-{i}"),
                consents: vec!["ads".into()],
                tcf: None,
                segments: Vec::new(),
                attributes: Vec::new(),
                line: None,
            })
        })
    }

    fn opts() -> BuildOptions {
        BuildOptions { seed: Some(5), created_ms: Some(1_763_700_000_000), ..BuildOptions::default() }
    }

    #[test]
    fn every_member_of_every_set_is_probed() {
        let defs = Definitions::from_json(DEFS).unwrap();
        let built = build(&defs, members(5000), &opts()).unwrap();
        let check = built.summary.member_check.clone().expect("checked");
        // fuse, bloom and exact segments, and the `ads` consent set: 5000 members each.
        assert_eq!((check.sets, check.probes), (4, 4 * 5000));
        assert!(built.summary.to_string().contains("member check: 4 sets, 20000 probes"));
    }

    #[test]
    fn a_corrupted_fuse_fingerprint_fails_the_build() {
        let defs = Definitions::from_json(DEFS).unwrap();
        super::tamper::arm();
        let e = build(&defs, members(5000), &opts()).unwrap_err();
        assert_eq!(e.kind(), BuildErrorKind::MemberMissing, "{e}");
        assert!(e.to_string().contains("segment big") && e.to_string().contains("fuse set"), "{e}");
        // Unarmed, the same build passes: the failure was the corruption.
        build(&defs, members(5000), &opts()).unwrap();
    }
}
