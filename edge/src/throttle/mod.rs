//! Per-segment throttles: GCRA rate limits with bounded state and IETF `RateLimit` headers.
//!
//! A snapshot may attach a [`ThrottlePolicy`] to a segment: `rate` requests per `period_ms`, with
//! bursts of up to `burst`, counted per user, per IP or for the whole segment ([`ThrottleKey`]).
//! The caller folds the policy/segment id and the user/IP/segment identity into one `u64` key
//! (already a keyed SipHash fingerprint) and asks a [`Limiter`] for a [`Verdict`].
//!
//! ## The algorithm: GCRA, in integer microseconds
//!
//! The generic cell rate algorithm keeps one number per key, the *theoretical arrival time* `TAT`.
//! With the emission interval `T = period / rate` and the tolerance `τ = (burst - 1) · T`:
//!
//! * a request at `now` is **allowed** iff `now ≥ TAT - τ`;
//! * on allow, `TAT ← max(TAT, now) + T`; on reject, nothing changes.
//!
//! A fresh key (or one with `TAT ≤ now`) therefore takes `burst` requests at one instant, then one
//! more every `T`; it is full again `burst · T` after it went idle (one `period` when
//! `burst = rate`). A rejected request learns `Retry-After = ⌈(TAT - τ - now) / 1 s⌉`, at least 1.
//!
//! Time is `now_ms` from the request; internally everything is microseconds (`now_ms · 1000`), so
//! that `T` is exact for every rate that divides `period` in µs (1000/s gives `T = 1000 µs`). When
//! it does not divide, `T` is rounded **up** (`⌈period_µs / rate⌉`): the limiter may be up to 1 µs
//! per request stricter than the policy, never looser. Products such as `τ` are taken in `u128` and
//! stored `TAT`s saturate at `u64::MAX`, so no policy value from snapshot bytes can overflow.
//! `now_ms` is clamped to [`MAX_NOW_MS`] (about the year 292 000): past it time stands still, which
//! fails closed (no refills) instead of letting a saturated `TAT` wave everything through.
//!
//! What a verdict says, at every step (derivations in [`Verdict`] and [`rate_limit_headers`]):
//! `remaining = burst - ⌈(TAT - now) / T⌉` clamped to `0..=burst` — exactly how many more requests
//! would be allowed right now — and `reset` = how long `remaining` stays an exact upper bound.
//!
//! ## Bounded state and what a flood can do
//!
//! [`Limiter::new`]`(max_keys)` sizes its whole table up front (`capacity() ≤ max_keys` slots of
//! 24 bytes: key, `TAT`, `T`; never reallocated). The engine allocates it at load when the snapshot
//! has throttles ([`Limiter::allocate`]); otherwise the first key stored would, and a snapshot
//! without throttles stores none, so it costs nothing here. Slots form groups of 8; a key lives
//! only in the group its mixed fingerprint selects, so a lookup or insert reads 8 slots (192
//! contiguous bytes).
//! An insert into a full group picks its victim **losslessly first**:
//!
//! 1. an empty slot, else
//! 2. a slot whose `TAT ≤ now`: such an entry answers exactly like an absent key, so dropping it
//!    changes no verdict (not counted in [`Limiter::evictions`]), else
//! 3. the slot that **owes the fewest requests**, `⌈(TAT - now) / T⌉` (ties: smallest `TAT`) — the
//!    key closest to full refill, whose loss forgives the least (counted in `evictions`). Within one
//!    policy this is simply the smallest `TAT`; measuring in requests rather than time keeps it
//!    true when one limiter serves policies of different speeds.
//!
//! Attack analysis. A flood of one-shot keys (random IPs), under any policy, leaves entries that
//! owe one request each. A throttled heavy user owes at least `burst` (its `TAT - now > τ`), so
//! under rule 3 every flood entry in its group goes before it does, and the flood only recycles the
//! memory the limiter already owns. To push a user owing `d` requests out, an attacker must fill the
//! other 7 slots of its group with keys owing at least `d` each, i.e. spend `7·d` requests that land
//! in that group — and since keys are keyed fingerprints, mixed before indexing, it cannot aim at a
//! group: expect about `capacity / 8 × 7 × d` requests (themselves throttled) to forgive `d`. With
//! `burst = 1` a throttled key owes one request, ties with the flood and may go (oldest `TAT`
//! first), forgiving less than one `T` of waiting. A table too small for the honest working set
//! degrades to forgiving the smallest debts first.
//!
//! Hosts that start a fresh instance per request (Fastly) carry state across with
//! [`Limiter::export`] / [`Limiter::import`]: a `TAT` is a plain instant in µs, and merging keeps the
//! later one, so replaying an older export can never loosen a limit.

mod client_ip;
mod headers;
mod table;
#[cfg(test)]
mod tests;

pub use client_ip::{ClientIpConfig, IPV6_THROTTLE_PREFIX_BITS, ip_key, ip_key_prefix};
pub use headers::{RATELIMIT, RATELIMIT_POLICY, RETRY_AFTER, RateLimitHeaders, rate_limit_headers};

use alloc::string::String;
use serde::{Deserialize, Serialize};
use table::Table;

/// Largest `now_ms` taken at face value; later instants are clamped to it (see the module doc).
pub const MAX_NOW_MS: u64 = u64::MAX / 2000;
/// Longest accepted `period_ms`: one day.
pub const MAX_PERIOD_MS: u64 = 86_400_000;
/// Longest accepted time to refill a whole burst (`burst · T`): 366 days, in µs. Keeps `w` and every
/// `TAT` a validated policy can produce far inside `u64` µs.
pub const MAX_BURST_WINDOW_US: u64 = 366 * 86_400 * 1_000_000;

const US_PER_MS: u64 = 1_000;
const US_PER_S: u128 = 1_000_000;

/// A rate limit attached to a segment. Postcard-encoded in the snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottlePolicy {
    /// Requests per `period_ms` in the long run (≥ 1).
    pub rate: u32,
    /// The period `rate` is counted over, in ms (`1..=`[`MAX_PERIOD_MS`]).
    pub period_ms: u64,
    /// Requests a fresh key may make at one instant (≥ 1).
    pub burst: u32,
    /// Whose requests share one budget.
    pub key: ThrottleKey,
    /// What happens to a request over the limit.
    pub action: ThrottleAction,
}

/// Whose requests are counted together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleKey {
    /// Per customer (the request's customer-id fingerprint).
    User,
    /// Per client IP.
    Ip,
    /// One budget for every request that matched the segment.
    Segment,
}

/// What to do with a request the limiter rejects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleAction {
    /// Refuse it (the host answers 429 with the [`rate_limit_headers`]).
    Reject,
    /// Serve it in a lower-priority lane, named like segments (`[a-z0-9_.-]{1,64}`).
    Deprioritize { lane: String },
}

impl ThrottlePolicy {
    /// Checks what the limiter relies on to give meaningful answers. Run at snapshot decode;
    /// [`Limiter::check`] stays total (clamping zeros to one) even for a policy that fails here.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.rate == 0 {
            return Err("throttle rate must be at least 1");
        }
        if self.burst == 0 {
            return Err("throttle burst must be at least 1");
        }
        if self.period_ms == 0 || self.period_ms > MAX_PERIOD_MS {
            return Err("throttle period must be 1 ms ..= 1 day");
        }
        if u128::from(self.period_ms) * u128::from(US_PER_MS) < u128::from(self.rate) {
            return Err("throttle rate is above one request per microsecond");
        }
        if Gcra::new(self).burst_window_us() > u128::from(MAX_BURST_WINDOW_US) {
            return Err("throttle burst takes longer than 366 days to refill");
        }
        if let ThrottleAction::Deprioritize { lane } = &self.action {
            let ok = !lane.is_empty()
                && lane.len() <= 64
                && lane.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-.".contains(&b));
            if !ok {
                return Err("throttle lane name is not [a-z0-9_.-]{1,64}");
            }
        }
        Ok(())
    }

    /// The emission interval `T` in µs: `⌈period_ms · 1000 / rate⌉`, at least 1 (saturating).
    pub fn emission_interval_us(&self) -> u64 {
        u64::try_from(Gcra::new(self).interval).unwrap_or(u64::MAX)
    }

    /// The `w` of `RateLimit-Policy`: seconds to refill a whole burst, `⌈burst · T / 1 s⌉` (≥ 1).
    pub fn window_s(&self) -> u64 {
        ceil_s(Gcra::new(self).burst_window_us()).max(1)
    }
}

/// The answer for one request (from [`Limiter::check`]) or for the current state ([`Limiter::peek`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the request is (or, for `peek`, would be) allowed.
    pub allowed: bool,
    /// The quota `q`: the burst, i.e. the most requests the key can ever make at one instant.
    pub limit: u32,
    /// How many more requests would be allowed right now (after this one, for `check`).
    pub remaining: u32,
    /// Seconds (rounded up) during which `remaining` is the most the key can make: the time until
    /// the allowance next grows. When `remaining = 0` this is the time until a request is allowed.
    pub reset_s: u64,
    /// For a rejected request, seconds until one would be allowed (equal to `reset_s`), ≥ 1.
    pub retry_after_s: Option<u64>,
}

/// A policy in GCRA integers: µs, `u128` where products could leave `u64`.
#[derive(Clone, Copy, Debug)]
struct Gcra {
    /// `T`, ≥ 1 µs.
    interval: u128,
    /// `τ = (burst - 1) · T`.
    tolerance: u128,
    /// ≥ 1.
    burst: u32,
}

impl Gcra {
    fn new(p: &ThrottlePolicy) -> Gcra {
        let period = u128::from(p.period_ms).saturating_mul(u128::from(US_PER_MS));
        let interval = div_ceil(period, u128::from(p.rate.max(1))).max(1);
        let burst = p.burst.max(1);
        Gcra { interval, tolerance: interval.saturating_mul(u128::from(burst.saturating_sub(1))), burst }
    }

    fn burst_window_us(&self) -> u128 {
        self.interval.saturating_mul(u128::from(self.burst))
    }

    /// The verdict for the state `tat` at `now`, as if a request arrived now (nothing consumed).
    fn assess(&self, tat: u64, now: u64) -> Verdict {
        let debt = u128::from(tat.saturating_sub(now));
        let owed = u32::try_from(div_ceil(debt, self.interval)).unwrap_or(u32::MAX);
        let remaining = self.burst.saturating_sub(owed);
        // With `remaining = burst - ⌈debt/T⌉` this is `debt - ⌈debt/T⌉·T + T ∈ (0, T]`: the (r+1)-th
        // request, if the first r were sent now, would be allowed after exactly this long. With
        // `remaining` clamped at 0 it is `debt - τ > 0`, the wait for the next allowed request.
        let reset_us =
            debt.saturating_add(u128::from(remaining).saturating_mul(self.interval)).saturating_sub(self.tolerance);
        let reset_s = ceil_s(reset_us);
        let allowed = remaining > 0;
        Verdict { allowed, limit: self.burst, remaining, reset_s, retry_after_s: (!allowed).then_some(reset_s.max(1)) }
    }

    /// The state after allowing a request at `now`.
    fn advance(&self, tat: u64, now: u64) -> u64 {
        let next = u128::from(tat.max(now)).saturating_add(self.interval);
        u64::try_from(next).unwrap_or(u64::MAX)
    }
}

fn ceil_s(us: u128) -> u64 {
    u64::try_from(div_ceil(us, US_PER_S)).unwrap_or(u64::MAX)
}

/// `a.div_ceil(b)` (`b ≥ 1`), in `u64` when both fit — they always do for real policies and
/// clocks. A `u128` division is a software routine of a few hundred instructions in wasm, and a
/// throttled decision divides five times.
fn div_ceil(a: u128, b: u128) -> u128 {
    match (u64::try_from(a), u64::try_from(b)) {
        (Ok(a), Ok(b)) if b > 0 => u128::from(a.div_ceil(b)),
        _ => a.div_ceil(b),
    }
}

fn now_us(now_ms: u64) -> u64 {
    now_ms.min(MAX_NOW_MS).saturating_mul(US_PER_MS)
}

/// GCRA state for up to `capacity()` keys in one preallocated table (see the module doc).
#[derive(Debug)]
pub struct Limiter {
    table: Table,
    /// The latest `now` seen, in µs: lets `import` tell expired slots without a clock.
    latest_us: u64,
}

impl Limiter {
    /// A limiter holding at most `max_keys` keys: `capacity()` is `max_keys` rounded down to a
    /// multiple of the group size (8), or `max_keys` itself below 8, allocated now and never grown.
    /// `Limiter::new(0)` keeps no state and so limits nothing.
    pub fn new(max_keys: usize) -> Limiter {
        Limiter { table: Table::new(max_keys), latest_us: 0 }
    }

    /// Counts one request for `key` under `policy` at `now_ms`.
    pub fn check(&mut self, key: u64, policy: &ThrottlePolicy, now_ms: u64) -> Verdict {
        let now = now_us(now_ms);
        self.latest_us = self.latest_us.max(now);
        let gcra = Gcra::new(policy);
        let tat = self.table.get(key).unwrap_or(0);
        let before = gcra.assess(tat, now);
        if !before.allowed {
            return before;
        }
        let next = gcra.advance(tat, now);
        self.table.put(key, next, u64::try_from(gcra.interval).unwrap_or(u64::MAX), now);
        Verdict { allowed: true, retry_after_s: None, ..gcra.assess(next, now) }
    }

    /// The verdict a request at `now_ms` would get, without counting it: `remaining` and `reset_s`
    /// describe the current state (equal to those of the last `check` at the same instant).
    pub fn peek(&self, key: u64, policy: &ThrottlePolicy, now_ms: u64) -> Verdict {
        Gcra::new(policy).assess(self.table.get(key).unwrap_or(0), now_us(now_ms))
    }

    /// The key's `TAT` in µs since the epoch of `now_ms`, if the table holds it.
    pub fn export(&self, key: u64) -> Option<u64> {
        self.table.get(key)
    }

    /// Merges a `TAT` exported by another instance, keeping the later of the two. A `TAT` of 0 (or
    /// any instant already past) is equivalent to no state.
    pub fn import(&mut self, key: u64, tat: u64) {
        if tat > 0 {
            self.table.merge(key, tat, self.latest_us);
        }
    }

    /// Slots holding a key (including expired ones, reclaimed on the next insert into their group).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no slot holds a key.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// The most slots ever held at once.
    pub fn high_water(&self) -> usize {
        self.table.high_water()
    }

    /// Allocates the table now rather than at the first key stored (the engine does so at load
    /// for a snapshot that has throttles, so no decision pays for it).
    pub fn allocate(&mut self) {
        self.table.allocate();
    }

    /// Slots in the table (≤ `max_keys`).
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Bytes of the slot table once allocated (at the first key stored): `capacity() × 24`.
    pub fn table_bytes(&self) -> usize {
        self.table.bytes()
    }

    /// Live entries (`TAT > now`) dropped for room: each forgave some debt. Reuse of expired slots
    /// is lossless and not counted.
    pub fn evictions(&self) -> u64 {
        self.table.evictions()
    }
}
