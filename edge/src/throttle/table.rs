//! The bounded key → `TAT` table behind [`super::Limiter`]: set-associative, 8 slots per group.
//!
//! Why groups and not open addressing: a probe sequence in a full open-addressed table either grows
//! without bound or needs tombstones, and eviction from the middle of a chain breaks lookups of keys
//! further along it. Here a key may only live in the 8 slots of its group, so lookup, insert and
//! victim choice all read exactly one group, removal is just overwriting, and the eviction window
//! of the module doc is the group itself.
//!
//! A slot with `tat == 0` is empty: a real `TAT` is `max(TAT, now) + T ≥ 1`, and a `TAT` of 0 would
//! answer like an absent key anyway.
//!
//! Each slot also keeps its key's emission interval `T`, so that a victim is ranked by its debt in
//! *requests*, `⌈(TAT - now) / T⌉` — what evicting it would forgive — rather than by `TAT` alone.
//! The two orders agree within one policy; across policies sharing the table they do not: a
//! one-shot key under "1 per hour" has a `TAT` an hour out but owes one request, while a heavy user
//! at 10/s with 2 s of debt owes twenty. Ranking by `TAT` would let a flood through a slow-policy
//! segment flush the heavy users of every faster one (the test
//! `a_flood_under_a_slow_policy_cannot_flush_a_heavy_user_of_a_fast_one` fails that way).

use alloc::boxed::Box;
use alloc::vec;

/// Slots per group: the bounded probe (and eviction) window.
pub(super) const WAYS: usize = 8;

/// One slot. 24 bytes, no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) key: u64,
    /// The key's theoretical arrival time in µs; 0 marks an empty slot.
    pub(super) tat: u64,
    /// The key's emission interval `T` in µs as of its last check; 0 when unknown (imported).
    pub(super) interval: u64,
}

impl Entry {
    const EMPTY: Entry = Entry { key: 0, tat: 0, interval: 0 };

    /// Eviction rank, smallest first: requests of debt at `now`, then `TAT`. Empty and expired
    /// slots owe nothing and come first (empty before expired, as `tat == 0`). An imported entry
    /// whose `T` is unknown is ranked as if `T` were 1 µs (the shortest a valid policy has): state a
    /// host carried over is kept over anything measured, until the key's next check learns `T`.
    fn rank(&self, now: u64) -> (u64, u64) {
        (self.tat.saturating_sub(now).div_ceil(self.interval.max(1)), self.tat)
    }
}

#[derive(Debug)]
pub(super) struct Table {
    /// Empty until the first key is stored: a snapshot without throttles (or an instance that
    /// never throttles) does not pay for the table (1.5 MiB at the default key count).
    slots: Box<[Entry]>,
    capacity: usize,
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
        Table { slots: Box::default(), capacity, ways, groups, len: 0, high_water: 0, evictions: 0 }
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

    /// Sets `key`'s `TAT` and `T` (inserting it, evicting if its group is full).
    pub(super) fn put(&mut self, key: u64, tat: u64, interval: u64, now: u64) {
        self.store(Entry { key, tat, interval }, now, |_, new| new);
    }

    /// Sets `key`'s `TAT` to the later of the stored and the given one, keeping a known `T`.
    pub(super) fn merge(&mut self, key: u64, tat: u64, now: u64) {
        self.store(Entry { key, tat, interval: 0 }, now, |old, new| Entry { tat: old.tat.max(new.tat), ..old });
    }

    pub(super) fn allocate(&mut self) {
        if self.slots.is_empty() {
            self.slots = vec![Entry::EMPTY; self.capacity].into_boxed_slice();
        }
    }

    fn store(&mut self, new: Entry, now: u64, combine: impl Fn(Entry, Entry) -> Entry) {
        self.allocate();
        let range = self.group_range(new.key);
        let Some(group) = self.slots.get_mut(range) else { return };
        if let Some(e) = group.iter_mut().find(|e| e.tat != 0 && e.key == new.key) {
            *e = combine(*e, new);
            return;
        }
        // Victim: the lowest rank — empty, else expired (lossless), else the fewest requests owed.
        let Some(slot) = group.iter_mut().min_by_key(|e| e.rank(now)) else { return };
        if slot.tat == 0 {
            self.len = self.len.saturating_add(1);
            self.high_water = self.high_water.max(self.len);
        } else if slot.tat > now {
            self.evictions = self.evictions.saturating_add(1);
        }
        *slot = new;
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn high_water(&self) -> usize {
        self.high_water
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(super) fn bytes(&self) -> usize {
        self.capacity.saturating_mul(size_of::<Entry>())
    }

    pub(super) fn evictions(&self) -> u64 {
        self.evictions
    }
}
