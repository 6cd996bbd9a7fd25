//! The bounded key → `TAT` table behind [`super::Limiter`]: set-associative, 8 slots per group.
//!
//! Why groups and not open addressing: a probe sequence in a full open-addressed table either grows
//! without bound or needs tombstones, and eviction from the middle of a chain breaks lookups of keys
//! further along it. Here a key may only live in the 8 slots of its group, so lookup, insert and
//! victim choice all read exactly one group, removal is just overwriting, and the eviction window
//! of the module doc is the group itself.
//!
//! A slot with `tat == 0` is empty: a real `TAT` is `max(TAT, now) + T ≥ 1`, and a `TAT` of 0 would
//! answer like an absent key anyway. So the table is two `u64`s per slot and nothing else.

use alloc::boxed::Box;
use alloc::vec;

/// Slots per group: the bounded probe (and eviction) window.
pub(super) const WAYS: usize = 8;

/// One slot. 16 bytes, no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) key: u64,
    /// The key's theoretical arrival time in µs; 0 marks an empty slot.
    pub(super) tat: u64,
}

impl Entry {
    const EMPTY: Entry = Entry { key: 0, tat: 0 };
}

#[derive(Debug)]
pub(super) struct Table {
    slots: Box<[Entry]>,
    ways: usize,
    groups: usize,
    len: usize,
    high_water: usize,
    evictions: u64,
}

/// A fixed multiply-xorshift mix (no randomness: keys are already keyed fingerprints; this only
/// spreads structured keys such as `fingerprint ^ policy_index` over the groups).
fn mix(key: u64) -> u64 {
    let h = (key ^ (key >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
}

impl Table {
    pub(super) fn new(max_keys: usize) -> Table {
        let ways = max_keys.min(WAYS);
        let groups = max_keys.checked_div(ways).unwrap_or(0);
        let capacity = groups.saturating_mul(ways);
        Table {
            slots: vec![Entry::EMPTY; capacity].into_boxed_slice(),
            ways,
            groups,
            len: 0,
            high_water: 0,
            evictions: 0,
        }
    }

    fn group_range(&self, key: u64) -> core::ops::Range<usize> {
        // Multiply-high range reduction: uniform over any group count, no power of two needed.
        let index = (u128::from(mix(key)) * self.groups as u128) >> 64;
        let start = usize::try_from(index).unwrap_or(0).saturating_mul(self.ways);
        start..start.saturating_add(self.ways)
    }

    fn group(&self, key: u64) -> &[Entry] {
        self.slots.get(self.group_range(key)).unwrap_or(&[])
    }

    pub(super) fn get(&self, key: u64) -> Option<u64> {
        self.group(key).iter().find(|e| e.tat != 0 && e.key == key).map(|e| e.tat)
    }

    /// Sets `key`'s `TAT` (inserting it, evicting if its group is full).
    pub(super) fn put(&mut self, key: u64, tat: u64, now: u64) {
        self.store(key, tat, now, |_, new| new);
    }

    /// Sets `key`'s `TAT` to the later of the stored and the given one.
    pub(super) fn merge(&mut self, key: u64, tat: u64, now: u64) {
        self.store(key, tat, now, u64::max);
    }

    fn store(&mut self, key: u64, tat: u64, now: u64, combine: impl Fn(u64, u64) -> u64) {
        let range = self.group_range(key);
        let Some(group) = self.slots.get_mut(range) else { return };
        if let Some(e) = group.iter_mut().find(|e| e.tat != 0 && e.key == key) {
            e.tat = combine(e.tat, tat);
            return;
        }
        // Victim: empty, else expired (lossless), else the smallest TAT (closest to full refill).
        let empty = group.iter().position(|e| e.tat == 0);
        let expired = || group.iter().position(|e| e.tat <= now);
        let least = || group.iter().enumerate().min_by_key(|(_, e)| e.tat).map(|(i, _)| i);
        let (victim, lossy) = match empty {
            Some(i) => {
                self.len = self.len.saturating_add(1);
                self.high_water = self.high_water.max(self.len);
                (Some(i), false)
            }
            None => match expired() {
                Some(i) => (Some(i), false),
                None => (least(), true),
            },
        };
        if let Some(slot) = victim.and_then(|i| group.get_mut(i)) {
            *slot = Entry { key, tat };
            if lossy {
                self.evictions = self.evictions.saturating_add(1);
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn high_water(&self) -> usize {
        self.high_water
    }

    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.slots.len().saturating_mul(size_of::<Entry>())
    }

    pub(super) fn evictions(&self) -> u64 {
        self.evictions
    }
}
