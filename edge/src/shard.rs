//! Sharded snapshots: a head and 2^bits shards, so an edge holds one customer's slice of the
//! membership instead of all of it.
//!
//! ```text
//!  NAME.head        a snapshot container (format 3): everything that is not per member — rules,
//!                   tiers, actions, consent config, identity, limits, the fingerprint key — and a
//!                   [`Sharding`] record: the shard count, a build id, each shard's length, CRC-32C
//!                   and SHA-256. Its member sets are empty placeholders (so nothing that misreads
//!                   a head can match a member).
//!  NAME.shard-XXXX  a container of its own (magic `EDGESHD\0`, version 1): the head's id, version
//!                   and build id, the shard index, and for every member set of the head the
//!                   members whose fingerprint's top `bits` bits equal the index.
//! ```
//!
//! A request's shard follows from its identity alone ([`shard_index`]): anonymous requests need
//! none. A shard is bound to its head by id, version, build id, index, length and CRC-32C, all
//! checked here; its SHA-256 is in the head, so one signature over the head covers every shard —
//! hosts that verify signatures check the digest before handing the bytes over (as with the
//! signature itself, no hash code beyond CRC-32C lives in the module).
//!
//! Inside a shard every fingerprint shares its top `bits` bits: they carry no information there.
//! The builder stores each fingerprint shifted left by `bits` ([`probe_key`]; within one shard a
//! bijection, so exact sets stay exact) and the engine probes with the same shift: the compact
//! exact encoding buckets by top bits, which are uniform again, and declares the `bits` low zero
//! bits so it does not store them — a shard's exact sets cost what the same members cost in one
//! unsharded set.

use crate::error::{Error, ErrorKind};
use crate::format;
use crate::membership::{Encoding, MembershipData, MembershipSet};
use crate::snapshot::Snapshot;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use serde::{Deserialize, Serialize};

/// Most shard bits a head may declare (65,536 shards).
pub const MAX_SHARD_BITS: u8 = 16;
/// The shard budget an engine starts with: decoded shards it keeps before evicting the least
/// recently used (32 MiB, the Worker adapter's default too).
pub const DEFAULT_SHARD_BUDGET: u64 = 32 << 20;

/// The head's sharding record (format 3, after the limits record).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sharding {
    /// `2^bits` shards; a fingerprint's top `bits` bits are its shard index.
    pub bits: u8,
    /// Names this build: every shard carries it, so a shard of another build of the same id and
    /// version is refused.
    pub build: u64,
    /// One entry per shard, in index order.
    pub shards: Vec<ShardEntry>,
}

/// What the head knows of one shard.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// The shard file's length in bytes.
    pub len: u64,
    /// Its container checksum (CRC-32C of its payload), checked by the engine.
    pub crc32c: u32,
    /// SHA-256 of the whole shard file, checked by hosts (a signed head covers it). One byte
    /// string on the wire (serde's own `[u8; 32]` is 32 elements, unrolled in the module's code).
    #[serde(with = "serde_bytes")]
    pub sha256: [u8; 32],
    /// Distinct members filed in this shard (for reports).
    pub members: u64,
}

impl Sharding {
    /// The number of shards.
    pub fn count(&self) -> u32 {
        1u32 << self.bits.min(MAX_SHARD_BITS)
    }

    /// The shard holding `fingerprint`.
    pub fn index_of(&self, fingerprint: u64) -> u32 {
        shard_index(fingerprint, self.bits)
    }
}

/// The shard of a fingerprint: its top `bits` bits.
pub fn shard_index(fingerprint: u64, bits: u8) -> u32 {
    if bits == 0 { 0 } else { (fingerprint >> (64 - u32::from(bits.min(MAX_SHARD_BITS)))) as u32 }
}

/// The key a shard's sets are built and probed with: the fingerprint shifted left by `bits` (the
/// bits every member of the shard shares go; `bits` zero bits come in low).
#[inline]
pub fn probe_key(fingerprint: u64, bits: u8) -> u64 {
    fingerprint << u32::from(bits.min(MAX_SHARD_BITS))
}

/// A shard as the builder writes it. `B` as in [`MembershipData`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "B: serde_bytes::Serialize", deserialize = "B: serde_bytes::Deserialize<'de>"))]
pub struct ShardPayload<B = Vec<u8>> {
    pub snapshot_id: String,
    pub snapshot_version: u64,
    pub build: u64,
    pub index: u32,
    pub bits: u8,
    /// Parallel to the head's purposes: `Some` exactly where the purpose needs consent.
    pub purposes: Vec<Option<MembershipData<B>>>,
    /// Parallel to the head's segments: `Some` exactly where the segment has members.
    pub segments: Vec<Option<MembershipData<B>>>,
}

impl ShardPayload {
    /// The shard container: header, then the postcard payload (written once, header last).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let sets: usize = self.purposes.iter().chain(&self.segments).flatten().map(|d| d.byte_len()).sum();
        let mut out = Vec::with_capacity(format::HEADER_LEN + sets + 1024);
        out.resize(format::HEADER_LEN, 0);
        let out =
            postcard::to_extend(self, out).map_err(|e| Error::new(ErrorKind::Payload, format!("encode shard: {e}")))?;
        format::wrap_reserved_as(out, &format::SHARD_MAGIC, format::SHARD_VERSION)
    }
}

/// A validated shard, bound to its head: probe-ready sets over its own buffer.
#[derive(Debug)]
pub struct Shard {
    pub index: u32,
    pub(crate) bits: u8,
    pub(crate) purposes: Vec<Option<MembershipSet>>,
    pub(crate) segments: Vec<Option<MembershipSet>>,
    /// Bytes held (the shard file's length).
    pub byte_len: usize,
    /// Engine clock of the last decision that used it (least recently used goes first).
    last_used: Cell<u64>,
}

impl Shard {
    /// Checks `bytes` against the head `snap` and makes the sets probe-ready in place (no copy).
    pub fn decode_owned(bytes: Vec<u8>, snap: &Snapshot) -> Result<Shard, Error> {
        // Static messages: each formatted one costs module size, and the host knows which shard
        // it handed over.
        let invalid = |why: &'static str| Err(Error::new(ErrorKind::Invalid, why));
        let Some(sharding) = &snap.sharding else {
            return invalid("the snapshot is not sharded");
        };
        let buf = Arc::new(bytes);
        let byte_len = buf.len();
        let (header, payload) =
            format::split_as(&buf, &format::SHARD_MAGIC, format::SHARD_VERSION, format::SHARD_VERSION)?;
        let (p, rest) = postcard::take_from_bytes::<ShardPayload<&[u8]>>(payload)
            .map_err(|e| Error::new(ErrorKind::Payload, format!("{e}")))?;
        if !rest.is_empty() {
            return Err(Error::new(ErrorKind::Payload, "bytes after the shard payload"));
        }
        if p.snapshot_id != snap.id || p.snapshot_version != snap.version || p.build != sharding.build {
            return invalid("a shard of another snapshot, version or build");
        }
        let Some(entry) = sharding.shards.get(p.index as usize) else {
            return invalid("shard index out of range");
        };
        if p.bits != sharding.bits || entry.len != byte_len as u64 || entry.crc32c != header.checksum {
            return invalid("the shard's length or checksum differs from the head's entry for it");
        }
        if p.purposes.len() != snap.purposes.len() || p.segments.len() != snap.segments.len() {
            return invalid("the shard's sets do not match the head's purposes and segments");
        }
        let mut purposes = Vec::with_capacity(p.purposes.len());
        for (data, view) in p.purposes.into_iter().zip(&snap.purposes) {
            purposes.push(match (data, view.requires_consent) {
                (Some(d), true) if d.encoding() == Encoding::Exact => {
                    Some(MembershipSet::load_within(d, &buf, &view.name)?)
                }
                (None, false) => None,
                _ => return invalid("a shard consent set is missing, unexpected or not exact"),
            });
        }
        let mut segments = Vec::with_capacity(p.segments.len());
        for (data, view) in p.segments.into_iter().zip(&snap.segments) {
            segments.push(match (data, view.membership.is_some()) {
                (Some(d), true) => Some(MembershipSet::load_within(d, &buf, &view.name)?),
                (None, false) => None,
                _ => return invalid("a shard member set is missing or unexpected"),
            });
        }
        Ok(Shard { index: p.index, bits: p.bits, purposes, segments, byte_len, last_used: Cell::new(0) })
    }

    /// The consent set of purpose `i` in this shard.
    pub(crate) fn purpose(&self, i: usize) -> Option<&MembershipSet> {
        self.purposes.get(i).and_then(Option::as_ref)
    }

    /// The member set of segment `i` in this shard.
    pub(crate) fn segment(&self, i: usize) -> Option<&MembershipSet> {
        self.segments.get(i).and_then(Option::as_ref)
    }
}

/// Shard counters a host reads (also in [`crate::EngineStats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardStats {
    /// Shards loaded (accepted) since the engine was made.
    pub loads: u64,
    /// Shard files refused (another build, wrong index, corrupt…).
    pub refused: u64,
    /// Identified decisions whose shard was held.
    pub hits: u64,
    /// Identified decisions whose shard was not held: decided fail-closed (`shard_missing`).
    pub misses: u64,
    /// Shards dropped to stay within the budget.
    pub evictions: u64,
    /// Shards held now, and their bytes.
    pub held: u64,
    pub held_bytes: u64,
    /// The byte budget.
    pub budget_bytes: u64,
}

/// The shards an engine holds, least recently used evicted first once over the byte budget.
#[derive(Debug)]
pub(crate) struct ShardCache {
    held: Vec<Shard>,
    budget: u64,
    clock: Cell<u64>,
    pub(crate) stats: ShardStats,
}

impl ShardCache {
    pub(crate) fn new() -> ShardCache {
        let stats = ShardStats { budget_bytes: DEFAULT_SHARD_BUDGET, ..ShardStats::default() };
        ShardCache { held: Vec::new(), budget: DEFAULT_SHARD_BUDGET, clock: Cell::new(0), stats }
    }

    /// The held shard `index`, marked as just used.
    pub(crate) fn get(&self, index: u32) -> Option<&Shard> {
        let shard = self.held.iter().find(|s| s.index == index)?;
        let now = self.clock.get() + 1;
        self.clock.set(now);
        shard.last_used.set(now);
        Some(shard)
    }

    pub(crate) fn contains(&self, index: u32) -> bool {
        self.held.iter().any(|s| s.index == index)
    }

    /// Keeps `shard` (replacing a held one of the same index), then evicts the least recently
    /// used others until the held bytes fit the budget. The new shard itself always stays: a
    /// budget smaller than one shard still serves the shard just loaded.
    pub(crate) fn insert(&mut self, shard: Shard) {
        self.held.retain(|s| s.index != shard.index);
        let now = self.clock.get() + 1;
        self.clock.set(now);
        shard.last_used.set(now);
        let index = shard.index;
        self.held.push(shard);
        self.stats.loads += 1;
        self.evict_to_budget(Some(index));
    }

    /// Drops shard `index`; whether it was held.
    pub(crate) fn remove(&mut self, index: u32) -> bool {
        let before = self.held.len();
        self.held.retain(|s| s.index != index);
        self.refresh();
        before != self.held.len()
    }

    pub(crate) fn set_budget(&mut self, bytes: u64) {
        self.budget = bytes;
        self.evict_to_budget(None);
    }

    pub(crate) fn held_indices(&self) -> Vec<u32> {
        self.held.iter().map(|s| s.index).collect()
    }

    fn evict_to_budget(&mut self, keep: Option<u32>) {
        while self.bytes() > self.budget {
            let victim = self
                .held
                .iter()
                .enumerate()
                .filter(|(_, s)| Some(s.index) != keep)
                .min_by_key(|(_, s)| s.last_used.get())
                .map(|(i, _)| i);
            let Some(i) = victim else { break };
            self.held.swap_remove(i);
            self.stats.evictions += 1;
        }
        self.refresh();
    }

    fn bytes(&self) -> u64 {
        self.held.iter().map(|s| s.byte_len as u64).sum()
    }

    fn refresh(&mut self) {
        self.stats.held = self.held.len() as u64;
        self.stats.held_bytes = self.bytes();
        self.stats.budget_bytes = self.budget;
    }
}
