//! Sharded snapshots in the guest (`edgeseg::shard`, ABI 3): which shard a request needs, loading
//! one (after the host checks its SHA-256 against the head), dropping one, the byte budget.
//!
//! **The host decides what the guest holds.** The ABI cannot say which shards an engine holds,
//! and the engine's own LRU evicts silently, so the host keeps the authoritative list here and
//! enforces the byte budget itself: before a shard goes in, the least recently used others are
//! dropped (`edgeseg_drop_shard`) until the new one fits. The engine gets the same budget
//! (`edgeseg_shard_budget`) as a backstop; because the host makes room first, it never has to
//! evict on its own, so the host's list is exact — no decision is made on a shard the host thinks
//! is held and is not. "Recently used" is per decision: [`Guest::decide_with`] touches the shard
//! of every identified request decided with it (the index comes from the `edgeseg_shard_for`
//! answer for the same request bytes, asked again only if the caller did not ask first).
//!
//! **Traps.** A trap replaces the instance and re-loads the head (`guest.rs`); the shards it held
//! are gone with it. The host forgets them at that moment, so the next request that needs one
//! finds it not held and loads it again: decisions after a trap are the same as without the trap
//! (one re-read per shard in use), never made on a shard believed held.
//!
//! **SHA-256.** The module checks a shard's binding (id, version, build, index, length, CRC-32C)
//! but carries no cryptographic hash; the head's [`edgeseg::shard::ShardEntry::sha256`] is checked
//! here, natively, before the bytes are handed over. A shard whose digest is none of the head's —
//! altered bytes, even with a recomputed CRC, or a shard of another build — is refused with
//! [`GuestError::Refused`] of kind `ChecksumMismatch` and counted; the guest never sees it. Since
//! the head's signature (when signed) covers the digests, this makes one signature cover every
//! shard.

use super::instance::{Budget, Live, trap};
use super::{Guest, GuestError, call_budget, unavailable};
use edgeseg::ErrorKind;
use edgeseg::Request;
use edgeseg::abi::{ShardForResult, ShardResult};
use edgeseg::shard::{DEFAULT_SHARD_BUDGET, Sharding};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The host's shard counters for one guest (since it was made; the engine's own are in
/// [`edgeseg::EngineStats::shards`], since its last (re-)instantiation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GuestShardStats {
    /// Shards the guest accepted.
    pub loads: u64,
    /// Shards refused: by the host's SHA-256 check (`refused_digest`) or by the guest.
    pub refused: u64,
    /// Of `refused`, those whose SHA-256 matched none of the head's shards.
    pub refused_digest: u64,
    /// Shards the host dropped to keep within the budget.
    pub evictions: u64,
    /// Shards held now, and their bytes.
    pub held: u64,
    pub held_bytes: u64,
    /// The byte budget.
    pub budget_bytes: u64,
}

#[derive(Clone, Copy, Debug)]
struct Held {
    index: u32,
    bytes: u64,
    last_used: u64,
}

/// What the host knows of the serving snapshot's shards.
#[derive(Debug)]
pub(super) struct ShardState {
    /// The serving head's sharding record (`None`: not sharded, or no snapshot).
    sharding: Option<Sharding>,
    /// The head's shard digests, to find a shard's entry from its bytes.
    by_digest: HashMap<[u8; 32], u32>,
    held: Vec<Held>,
    clock: u64,
    budget: u64,
    stats: GuestShardStats,
    /// The last `edgeseg_shard_for` question (the postcard request) and its answer, so a decide
    /// of the same request need not ask again.
    last_query: Option<(Vec<u8>, Option<u32>)>,
}

impl Default for ShardState {
    fn default() -> ShardState {
        ShardState {
            sharding: None,
            by_digest: HashMap::new(),
            held: Vec::new(),
            clock: 0,
            budget: DEFAULT_SHARD_BUDGET,
            stats: GuestShardStats { budget_bytes: DEFAULT_SHARD_BUDGET, ..GuestShardStats::default() },
            last_query: None,
        }
    }
}

impl ShardState {
    /// A new serving snapshot (sharded or not): nothing held.
    pub(super) fn serve(&mut self, sharding: Option<Sharding>) {
        self.by_digest =
            sharding.iter().flat_map(|sh| sh.shards.iter().enumerate().map(|(i, e)| (e.sha256, i as u32))).collect();
        self.sharding = sharding;
        self.forget_held();
    }

    /// The instance died (or the snapshot changed): whatever it held is gone.
    pub(super) fn forget_held(&mut self) {
        self.held.clear();
        self.last_query = None;
        self.refresh();
    }

    pub(super) fn is_sharded(&self) -> bool {
        self.sharding.is_some()
    }

    pub(super) fn budget(&self) -> u64 {
        self.budget
    }

    /// The answer to `request` if it was the last question asked.
    pub(super) fn cached_query(&self, request: &[u8]) -> Option<Option<u32>> {
        self.last_query.as_ref().filter(|(q, _)| q.as_slice() == request).map(|(_, a)| *a)
    }

    fn remember_query(&mut self, request: &[u8], answer: Option<u32>) {
        match &mut self.last_query {
            Some((q, a)) => {
                q.clear();
                q.extend_from_slice(request);
                *a = answer;
            }
            None => self.last_query = Some((request.to_vec(), answer)),
        }
    }

    fn position(&self, index: u32) -> Option<usize> {
        self.held.iter().position(|h| h.index == index)
    }

    /// A decision used shard `index` (`missing`: the guest says it did not hold it).
    pub(super) fn used(&mut self, index: u32, missing: bool) {
        let Some(i) = self.position(index) else { return };
        if missing {
            // Cannot happen while the host's list is exact; if it ever does, believe the guest
            // so the next request reloads the shard.
            self.held.swap_remove(i);
            self.refresh();
            return;
        }
        self.clock += 1;
        if let Some(h) = self.held.get_mut(i) {
            h.last_used = self.clock;
        }
    }

    fn held_bytes(&self) -> u64 {
        self.held.iter().map(|h| h.bytes).sum()
    }

    /// The least recently used held shard other than `keep`, if the held bytes other than
    /// `keep`'s (which `incoming` replaces) plus `incoming` exceed the budget.
    fn victim(&self, incoming: u64, keep: Option<u32>) -> Option<u32> {
        let others: u64 = self.held.iter().filter(|h| Some(h.index) != keep).map(|h| h.bytes).sum();
        if others.saturating_add(incoming) <= self.budget {
            return None;
        }
        self.held.iter().filter(|h| Some(h.index) != keep).min_by_key(|h| h.last_used).map(|h| h.index)
    }

    fn refresh(&mut self) {
        self.stats.held = self.held.len() as u64;
        self.stats.held_bytes = self.held_bytes();
        self.stats.budget_bytes = self.budget;
    }
}

/// Calls `edgeseg_shard_for` with `request` in the kept request buffer.
fn call_shard_for(
    live: &mut Live,
    handle: u32,
    request: &[u8],
    fuel: Budget,
    answer: &mut Vec<u8>,
) -> Result<Option<u32>, GuestError> {
    let (ptr, len) = live.request_buffer(request, fuel)?;
    live.arm(fuel);
    let packed = live.exports.shard_for.call(&mut live.store, (handle, ptr, len)).map_err(trap)?;
    live.take_answer(packed, fuel, answer)?;
    let answer: ShardForResult = decode_result("shard_for", answer)?;
    answer.map_err(GuestError::from)
}

fn decode_result<'a, T: serde::Deserialize<'a>>(what: &str, answer: &'a [u8]) -> Result<T, GuestError> {
    postcard::from_bytes(answer)
        .map_err(|e| GuestError::Host(format!("undecodable {what} answer ({} bytes): {e}", answer.len())))
}

/// Sets the engine's shard budget (after a load or a re-instantiation: a new engine starts with
/// the module's default).
pub(super) fn push_budget(live: &mut Live, handle: u32, bytes: u64, fuel: Budget) -> Result<(), GuestError> {
    live.arm(fuel);
    match live.exports.shard_budget.call(&mut live.store, (handle, bytes)).map_err(trap)? {
        1 => Ok(()),
        _ => Err(GuestError::Host(format!("the guest has no engine {handle} to set a shard budget on"))),
    }
}

impl Guest {
    /// The shard `request` needs (`edgeseg_shard_for`): `None` when the serving snapshot is not
    /// sharded or the request carries no identity.
    pub fn shard_for(&mut self, request: &Request<'_>) -> Result<Option<u32>, GuestError> {
        let handle = self.current.as_ref().map(|c| c.info.handle).ok_or(GuestError::NoSnapshot)?;
        let mut buf = std::mem::take(&mut self.request_buf);
        buf.clear();
        let buf =
            postcard::to_extend(request, buf).map_err(|e| GuestError::Host(format!("encoding the request: {e}")))?;
        let answer = self.shard_for_encoded(handle, &buf);
        self.request_buf = buf;
        answer
    }

    /// [`Guest::shard_for`] of an encoded request, answered from the last question when it was
    /// the same request.
    pub(super) fn shard_for_encoded(&mut self, handle: u32, request: &[u8]) -> Result<Option<u32>, GuestError> {
        if let Some(answer) = self.shards.cached_query(request) {
            return Ok(answer);
        }
        let answer = self.with_recovery(|g| {
            let fuel = call_budget(&g.config);
            let Guest { live, answer_buf, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            call_shard_for(live, handle, request, fuel, answer_buf)
        })?;
        self.shards.remember_query(request, answer);
        Ok(answer)
    }

    /// Whether the guest holds shard `index` of the serving snapshot (the host's exact list; see
    /// the module documentation).
    pub fn has_shard(&self, index: u32) -> bool {
        self.shards.position(index).is_some()
    }

    /// The shards the guest holds, least recently used first.
    pub fn held_shards(&self) -> Vec<u32> {
        let mut held = self.shards.held.clone();
        held.sort_by_key(|h| h.last_used);
        held.into_iter().map(|h| h.index).collect()
    }

    /// The host's shard counters.
    pub fn shard_stats(&self) -> GuestShardStats {
        self.shards.stats
    }

    /// The serving head's sharding record (`None`: not sharded).
    pub fn sharding(&self) -> Option<&Sharding> {
        self.shards.sharding.as_ref()
    }

    /// Loads a shard of the serving (sharded) snapshot. Its SHA-256 must be one of the head's
    /// shard digests, else it is refused here ([`GuestError::Refused`], `ChecksumMismatch`)
    /// without reaching the guest. Then the least recently used held shards are dropped until it
    /// fits the budget, and the guest validates and keeps it (taking the buffer over). Answers
    /// the shard's index. Refusals (the host's and the guest's) are counted.
    pub fn load_shard(&mut self, bytes: &[u8]) -> Result<u32, GuestError> {
        let handle = self.current.as_ref().map(|c| c.info.handle).ok_or(GuestError::NoSnapshot)?;
        if !self.shards.is_sharded() {
            self.shards.stats.refused += 1;
            return Err(GuestError::Refused {
                kind: ErrorKind::Invalid,
                message: "the serving snapshot is not sharded".into(),
            });
        }
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let Some(&index) = self.shards.by_digest.get(&digest) else {
            self.shards.stats.refused += 1;
            self.shards.stats.refused_digest += 1;
            return Err(GuestError::Refused {
                kind: ErrorKind::ChecksumMismatch,
                message: format!(
                    "the shard's SHA-256 ({} bytes) is none of the head's shard digests (altered, or of another build)",
                    bytes.len()
                ),
            });
        };
        // Make room first, so the engine never evicts on its own (the host's list stays exact).
        // A held shard of the same index is replaced by the guest only if this load succeeds (a
        // refused load leaves it held), so it stays in the list until then.
        while let Some(victim) = self.shards.victim(bytes.len() as u64, Some(index)) {
            self.drop_held(victim)?;
            self.shards.stats.evictions += 1;
        }
        let loaded = self.with_recovery(|g| {
            let fuel = g.load_budget(bytes.len());
            let Guest { live, answer_buf, .. } = g;
            let live = live.as_mut().ok_or_else(unavailable)?;
            // `edgeseg_load_shard` takes the buffer over (frees it also when refusing).
            let (ptr, len) = live.write_fresh(bytes, fuel)?;
            live.arm(fuel);
            let packed = live.exports.load_shard.call(&mut live.store, (handle, ptr, len)).map_err(trap)?;
            live.take_answer(packed, fuel, answer_buf)?;
            let answer: ShardResult = decode_result("load_shard", answer_buf)?;
            answer.map_err(GuestError::from)
        });
        match loaded {
            Ok(loaded) => {
                self.shards.clock += 1;
                let held = Held { index: loaded, bytes: bytes.len() as u64, last_used: self.shards.clock };
                self.shards.held.retain(|h| h.index != loaded);
                self.shards.held.push(held);
                self.shards.stats.loads += 1;
                self.shards.refresh();
                Ok(loaded)
            }
            Err(e) => {
                self.shards.stats.refused += 1;
                self.shards.refresh();
                Err(e)
            }
        }
    }

    /// Drops shard `index` from the guest; whether it was held.
    pub fn drop_shard(&mut self, index: u32) -> Result<bool, GuestError> {
        self.current.as_ref().ok_or(GuestError::NoSnapshot)?;
        self.drop_held(index)
    }

    fn drop_held(&mut self, index: u32) -> Result<bool, GuestError> {
        let handle = self.current.as_ref().map(|c| c.info.handle).ok_or(GuestError::NoSnapshot)?;
        if let Some(i) = self.shards.position(index) {
            self.shards.held.swap_remove(i);
        }
        self.shards.refresh();
        self.with_recovery(|g| {
            let fuel = call_budget(&g.config);
            let live = g.live_mut()?;
            live.arm(fuel);
            let dropped = live.exports.drop_shard.call(&mut live.store, (handle, index)).map_err(trap)?;
            Ok(dropped == 1)
        })
    }

    /// Bytes of shards the guest may hold (default [`DEFAULT_SHARD_BUDGET`]); held shards past it
    /// are dropped at once, least recently used first, and counted as evictions. Kept across
    /// snapshot loads and re-instantiations. Without a snapshot it only takes effect at the next
    /// load.
    pub fn set_shard_budget(&mut self, bytes: u64) -> Result<(), GuestError> {
        self.shards.budget = bytes;
        self.shards.refresh();
        let Some(handle) = self.current.as_ref().map(|c| c.info.handle) else { return Ok(()) };
        while let Some(victim) = self.shards.victim(0, None) {
            self.drop_held(victim)?;
            self.shards.stats.evictions += 1;
        }
        self.with_recovery(|g| {
            let fuel = call_budget(&g.config);
            push_budget(g.live_mut()?, handle, bytes, fuel)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_other_shard_is_the_victim() {
        let mut s = ShardState { budget: 10, clock: 3, ..ShardState::default() };
        for (index, last_used) in [(1, 3), (2, 1), (3, 2)] {
            s.held.push(Held { index, bytes: 4, last_used });
        }
        assert_eq!(s.victim(0, None), Some(2), "12 bytes held, budget 10");
        assert_eq!(s.victim(0, Some(2)), None, "2 is being replaced: the 8 other bytes fit");
        assert_eq!(s.victim(4, Some(2)), Some(3), "its 4 new bytes and the 8 others do not");
        s.held.retain(|h| h.index != 2);
        assert_eq!(s.victim(0, None), None, "8 bytes fit");
        assert_eq!(s.victim(4, None), Some(3), "4 more do not");
        s.used(3, false);
        assert_eq!(s.victim(4, None), Some(1), "3 was just used");
        s.used(1, true);
        assert_eq!(s.held.len(), 1, "the guest said 1 was missing: forgotten");
    }
}
