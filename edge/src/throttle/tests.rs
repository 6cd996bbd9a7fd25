use super::table::Entry;
use super::*;
use alloc::string::ToString;
use alloc::vec::Vec;

/// 2023-11-14T22:13:20Z, a plausible `now_ms`.
const B: u64 = 1_700_000_000_000;

fn policy(rate: u32, period_ms: u64, burst: u32) -> ThrottlePolicy {
    ThrottlePolicy { rate, period_ms, burst, key: ThrottleKey::Ip, action: ThrottleAction::Reject }
}

fn allowed(remaining: u32, limit: u32, reset_s: u64) -> Verdict {
    Verdict { allowed: true, limit, remaining, reset_s, retry_after_s: None }
}

fn rejected(limit: u32, wait_s: u64) -> Verdict {
    Verdict { allowed: false, limit, remaining: 0, reset_s: wait_s, retry_after_s: Some(wait_s) }
}

/// Distinct, fingerprint-like keys.
fn flood_key(i: u64) -> u64 {
    (i ^ 0x5555_5555).wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ 0x0123_4567_89AB_CDEF
}

#[test]
fn burst_of_n_plus_k_allows_n_then_rejects_k_and_refills_after_the_period() {
    // 5 per second, burst 5: T = 200 ms, τ = 800 ms.
    let p = policy(5, 1000, 5);
    let mut l = Limiter::new(64);
    let got: Vec<Verdict> = (0..8).map(|_| l.check(7, &p, B)).collect();
    let want = [allowed(4, 5, 1), allowed(3, 5, 1), allowed(2, 5, 1), allowed(1, 5, 1), allowed(0, 5, 1)];
    assert_eq!(got[..5], want);
    // TAT = B + 5·T; Retry-After = ⌈(TAT - τ - now) / 1 s⌉ = ⌈200 ms⌉ = 1 s, for each of the k = 3.
    let tat_ms = B + 1000;
    assert_eq!(l.export(7), Some(tat_ms * 1000));
    assert_eq!((tat_ms - 800 - B).div_ceil(1000), 1);
    assert_eq!(got[5..], [rejected(5, 1); 3]);
    // Rejections do not move the TAT; one ms before the period one unit is still owed.
    assert_eq!(l.export(7), Some(tat_ms * 1000));
    assert_eq!(l.peek(7, &p, B + 999).remaining, 4);
    // After the period: the whole burst again, then a rejection.
    let again: Vec<bool> = (0..6).map(|_| l.check(7, &p, B + 1000).allowed).collect();
    assert_eq!(again, [true, true, true, true, true, false]);
}

#[test]
fn retry_after_counts_down_in_whole_seconds() {
    // 2 per 5 s, burst 4: T = 2.5 s, τ = 7.5 s, full refill after 10 s.
    let p = policy(2, 5000, 4);
    let mut l = Limiter::new(64);
    let burst: Vec<Verdict> = (0..6).map(|_| l.check(1, &p, B)).collect();
    let want = [allowed(3, 4, 3), allowed(2, 4, 3), allowed(1, 4, 3), allowed(0, 4, 3), rejected(4, 3), rejected(4, 3)];
    assert_eq!(burst, want);
    assert_eq!(l.check(1, &p, B + 1000), rejected(4, 2)); // TAT - τ - now = 1.5 s
    assert_eq!(l.check(1, &p, B + 2000), rejected(4, 1)); // 0.5 s
    assert_eq!(l.check(1, &p, B + 2499), rejected(4, 1)); // 1 ms
    assert_eq!(l.check(1, &p, B + 2500), allowed(0, 4, 3)); // exactly TAT - τ
    assert_eq!(l.export(1), Some((B + 12_500) * 1000));
    assert_eq!(
        l.peek(1, &p, B + 12_500),
        Verdict { allowed: true, limit: 4, remaining: 4, reset_s: 3, retry_after_s: None }
    );
    assert_eq!(l.check(1, &p, B + 12_500), allowed(3, 4, 3));
    assert_eq!(l.peek(1, &p, B + 12_500), allowed(3, 4, 3));
}

#[test]
fn steady_rate_at_t_spacing_passes_and_at_t_minus_1ms_is_caught() {
    // 10 per second, burst 3: T = 100 ms, τ = 200 ms.
    let p = policy(10, 1000, 3);
    let mut l = Limiter::new(64);
    for i in 0..1000 {
        assert_eq!(l.check(1, &p, B + 100 * i), allowed(2, 3, 1), "request {i}");
    }
    // At 99 ms spacing request i finds TAT - now = i ms of drift: allowed while i ≤ τ = 200 ms.
    let mut l = Limiter::new(64);
    for i in 0..=200u64 {
        let v = l.check(2, &p, B + 99 * i);
        let remaining = match i {
            0 => 2,
            1..=100 => 1,
            _ => 0,
        };
        assert_eq!(v, allowed(remaining, 3, 1), "request {i}");
    }
    assert_eq!(l.check(2, &p, B + 99 * 201), rejected(3, 1));
}

#[test]
fn header_strings_at_each_step() {
    let p = policy(2, 5000, 4); // q = 4, w = ⌈4 · 2.5 s⌉ = 10
    let mut l = Limiter::new(64);
    let mut step = |now: u64| {
        let h = rate_limit_headers("api", &p, &l.check(9, &p, now));
        assert_eq!(h.policy, r#""api";q=4;w=10"#);
        (h.ratelimit, h.retry_after)
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(step(B), (r#""api";r=3;t=3"#.to_string(), None));
    assert_eq!(step(B), (r#""api";r=2;t=3"#.to_string(), None));
    assert_eq!(step(B), (r#""api";r=1;t=3"#.to_string(), None));
    assert_eq!(step(B), (r#""api";r=0;t=3"#.to_string(), None));
    assert_eq!(step(B), (r#""api";r=0;t=3"#.to_string(), some("3")));
    assert_eq!(step(B + 1000), (r#""api";r=0;t=2"#.to_string(), some("2")));
    assert_eq!(step(B + 2000), (r#""api";r=0;t=1"#.to_string(), some("1")));
    assert_eq!(step(B + 2500), (r#""api";r=0;t=3"#.to_string(), None));
    assert_eq!(step(B + 12_500), (r#""api";r=3;t=3"#.to_string(), None));

    let h = rate_limit_headers("api", &p, &rejected(4, 3));
    let fields: Vec<(&str, &str)> = h.fields().collect();
    assert_eq!(
        fields,
        [("RateLimit-Policy", r#""api";q=4;w=10"#), ("RateLimit", r#""api";r=0;t=3"#), ("Retry-After", "3")]
    );
}

#[test]
fn header_windows_round_up_and_names_are_sf_strings() {
    let mut l = Limiter::new(64);
    // 1000/s works exactly: T = 1000 µs; a 50-burst refills in 50 ms, advertised as w=1.
    let fast = policy(1000, 1000, 50);
    assert_eq!(fast.emission_interval_us(), 1000);
    let h = rate_limit_headers("fast", &fast, &l.check(1, &fast, B));
    assert_eq!((h.policy.as_str(), h.ratelimit.as_str()), (r#""fast";q=50;w=1"#, r#""fast";r=49;t=1"#));
    // burst = rate: the familiar "100 per minute".
    let minute = policy(100, 60_000, 100);
    let h = rate_limit_headers("min", &minute, &l.check(2, &minute, B));
    assert_eq!((h.policy.as_str(), h.ratelimit.as_str()), (r#""min";q=100;w=60"#, r#""min";r=99;t=1"#));
    // 3/s does not divide 1 s in µs: T rounds up to 333 334 µs (stricter by 2 µs per second).
    let thirds = policy(3, 1000, 1);
    assert_eq!(thirds.emission_interval_us(), 333_334);
    assert_eq!(thirds.window_s(), 1);
    let h = rate_limit_headers("a\"b\\c\u{e9}\n", &thirds, &rejected(1, 1));
    assert_eq!(h.policy, r#""a\"b\\c__";q=1;w=1"#);
}

#[test]
fn validate_rejects_zeros_and_out_of_range_values() {
    assert_eq!(policy(10, 1000, 5).validate(), Ok(()));
    assert_eq!(policy(0, 1000, 5).validate(), Err("throttle rate must be at least 1"));
    assert_eq!(policy(10, 1000, 0).validate(), Err("throttle burst must be at least 1"));
    assert_eq!(policy(10, 0, 5).validate(), Err("throttle period must be 1 ms ..= 1 day"));
    assert_eq!(policy(10, MAX_PERIOD_MS + 1, 5).validate(), Err("throttle period must be 1 ms ..= 1 day"));
    assert_eq!(policy(1_000_000, 1000, 5).validate(), Ok(()));
    assert_eq!(policy(1_000_001, 1000, 5).validate(), Err("throttle rate is above one request per microsecond"));
    assert_eq!(policy(1, MAX_PERIOD_MS, 366).validate(), Ok(()));
    assert_eq!(policy(1, MAX_PERIOD_MS, 367).validate(), Err("throttle burst takes longer than 366 days to refill"));
    let lane = |lane: &str| ThrottlePolicy {
        action: ThrottleAction::Deprioritize { lane: lane.to_string() },
        ..policy(10, 1000, 5)
    };
    assert_eq!(lane("bulk-2").validate(), Ok(()));
    assert_eq!(lane("").validate(), Err("throttle lane name is not [a-z0-9_.-]{1,64}"));
    assert_eq!(lane("Bulk").validate(), Err("throttle lane name is not [a-z0-9_.-]{1,64}"));
}

#[test]
fn extreme_values_neither_panic_nor_open_the_gate() {
    // rate u32::MAX per u64::MAX ms: T = u64::MAX · 1000 / u32::MAX = (2³² + 1) · 1000 µs exactly.
    let huge = policy(u32::MAX, u64::MAX, u32::MAX);
    assert!(huge.validate().is_err());
    assert_eq!(huge.emission_interval_us(), 4_294_967_297_000);
    assert_eq!(huge.window_s(), 18_446_744_073_709_552); // ⌈u64::MAX / 1000⌉
    let mut l = Limiter::new(64);
    for n in 1..=1000u32 {
        assert_eq!(l.check(1, &huge, u64::MAX), allowed(u32::MAX - n, u32::MAX, 4_294_968), "request {n}");
    }
    // A period so long that T itself leaves u64: everything saturates, nothing panics.
    let endless = policy(1, u64::MAX, u32::MAX);
    assert_eq!((endless.emission_interval_us(), endless.window_s()), (u64::MAX, u64::MAX));
    assert_eq!(l.check(2, &endless, 0), allowed(u32::MAX - 1, u32::MAX, u64::MAX / 1_000_000 + 1));
    assert_eq!(l.export(2), Some(u64::MAX));
    assert!(l.check(2, &endless, u64::MAX).allowed);
    // An unvalidated all-zero policy is clamped to one request per µs, burst 1.
    let zero = policy(0, 0, 0);
    assert_eq!(l.check(3, &zero, B), allowed(0, 1, 1));
    assert_eq!(l.check(3, &zero, B), rejected(1, 1));
    // A normal policy at the end of time still limits: time stands still at MAX_NOW_MS.
    let p = policy(5, 1000, 5);
    let end: Vec<bool> = [u64::MAX, u64::MAX - 1, MAX_NOW_MS, u64::MAX, u64::MAX, u64::MAX]
        .into_iter()
        .map(|now| l.check(4, &p, now).allowed)
        .collect();
    assert_eq!(end, [true, true, true, true, true, false]);
    assert_eq!(l.check(4, &p, u64::MAX), rejected(5, 1));
    assert_eq!(l.export(4), Some(MAX_NOW_MS * 1000 + 1_000_000));
    // Importing u64::MAX blocks a key for good rather than wrapping.
    l.import(5, u64::MAX);
    assert!(!l.check(5, &p, u64::MAX).allowed);
}

#[test]
fn a_million_one_shot_keys_fit_the_table_and_cannot_flush_a_heavy_user() {
    let mut l = Limiter::new(65_536);
    assert_eq!(l.capacity(), 65_536);
    // Memory: 65 536 slots × 24 bytes = 1.5 MiB, allocated once by `new` and never grown.
    assert_eq!(size_of::<Entry>(), 24);
    assert_eq!(l.table_bytes(), l.capacity() * size_of::<Entry>());
    assert_eq!(l.table_bytes(), 1_572_864);
    assert!(l.table_bytes() <= 3 << 19);

    // Heavy user: 1 per minute, burst 5 (τ = 240 s), exhausted and rejected.
    let heavy = policy(1, 60_000, 5);
    let user = 0xDEAD_BEEF_0000_0001;
    for _ in 0..5 {
        assert!(l.check(user, &heavy, B).allowed);
    }
    assert_eq!(l.check(user, &heavy, B), rejected(5, 60));

    // A million distinct one-shot keys at the same instant: nothing expires, so every insert into
    // a full group evicts — always an entry owing one request, never the heavy user owing five.
    let flood = policy(100, 1000, 10);
    for i in 0..1_000_000 {
        assert_eq!(l.check(flood_key(i), &flood, B), allowed(9, 10, 1));
    }
    assert!(l.len() <= l.capacity());
    assert_eq!((l.len(), l.high_water()), (65_536, 65_536));
    assert_eq!(l.evictions(), 1_000_000 - 65_535);
    assert_eq!(l.export(user), Some((B + 300_000) * 1000));
    assert_eq!(l.check(user, &heavy, B + 1000), rejected(5, 59));
}

#[test]
fn a_flood_spread_in_time_reuses_expired_slots_without_loss() {
    let mut l = Limiter::new(65_536);
    let flood = policy(100, 1000, 10); // each key's state expires 10 ms after its request
    for i in 0..1_000_000 {
        assert!(l.check(flood_key(i), &flood, B + i).allowed);
    }
    assert!(l.len() <= l.capacity());
    assert_eq!(l.evictions(), 0);
}

#[test]
fn eviction_order_in_one_group() {
    let mut l = Limiter::new(8);
    assert_eq!(l.capacity(), 8);
    let p = policy(1, 1000, 10); // T = 1 s
    for key in 1..=8u64 {
        for _ in 0..key {
            l.check(key, &p, B);
        }
    }
    assert_eq!((l.len(), l.evictions()), (8, 0));
    // Full, nothing expired: key 9 takes the slot of key 1, the smallest TAT (B + 1 s).
    assert!(l.check(9, &p, B).allowed);
    assert_eq!((l.export(1), l.export(2), l.evictions()), (None, Some((B + 2000) * 1000), 1));
    // At B + 2.5 s keys 2 and 9 have expired: key 10 reuses one of their slots for free.
    assert!(l.check(10, &p, B + 2500).allowed);
    assert_eq!((l.len(), l.evictions()), (8, 1));
    assert!((3..=8).all(|k| l.export(k) == Some((B + k * 1000) * 1000)));
}

#[test]
fn imported_state_outranks_measured_state_until_its_key_checks_again() {
    let mut l = Limiter::new(8);
    let p = policy(1, 1000, 10); // T = 1 s
    for key in 1..=8u64 {
        for _ in 0..key {
            l.check(key, &p, B);
        }
    }
    // Key 20's T is unknown: its 1 s of debt ranks as a million requests. It replaces key 1 …
    l.import(20, (B + 1000) * 1000);
    assert_eq!((l.export(1), l.evictions()), (None, 1));
    // … and survives the next insert, which takes key 2 (owing 2 requests).
    l.check(21, &p, B);
    assert_eq!((l.export(2), l.export(20), l.evictions()), (None, Some((B + 1000) * 1000), 2));
    // Once checked, key 20 owes 2 requests and is ranked like everyone else.
    assert_eq!(l.check(20, &p, B), allowed(8, 10, 1));
    l.check(22, &p, B);
    assert_eq!((l.export(21), l.export(20)), (None, Some((B + 2000) * 1000)));
}

#[test]
fn capacity_never_exceeds_max_keys() {
    let caps: Vec<usize> = [0, 1, 5, 8, 20, 65_536].into_iter().map(|n| Limiter::new(n).capacity()).collect();
    assert_eq!(caps, [0, 1, 5, 8, 16, 65_536]);
    // No table, no state: every request is a fresh key's.
    let mut none = Limiter::new(0);
    let p = policy(1, 1000, 2);
    assert_eq!([none.check(1, &p, B), none.check(1, &p, B)], [allowed(1, 2, 1); 2]);
    assert!(none.is_empty());
    // peek never inserts.
    let l = Limiter::new(64);
    assert_eq!(l.peek(1, &p, B), Verdict { allowed: true, limit: 2, remaining: 2, reset_s: 1, retry_after_s: None });
    assert_eq!(l.len(), 0);
}

#[test]
fn export_import_round_trip_gives_the_same_verdicts() {
    let p = policy(2, 5000, 4);
    let mut original = Limiter::new(64);
    for _ in 0..3 {
        original.check(42, &p, B);
    }
    let tat = original.export(42);
    assert_eq!(tat, Some((B + 7500) * 1000));
    let mut fresh = Limiter::new(64);
    fresh.import(42, tat.unwrap());
    for now in [B, B + 1000, B + 7600, B + 20_000] {
        assert_eq!(fresh.peek(42, &p, now), original.peek(42, &p, now), "peek at {now}");
    }
    for now in [B + 100, B + 100, B + 100, B + 3000, B + 3000] {
        assert_eq!(fresh.check(42, &p, now), original.check(42, &p, now), "check at {now}");
    }
    // Merging keeps the later TAT; 0 is no state; unknown keys export nothing.
    let later = original.export(42).unwrap();
    fresh.import(42, later - 5_000_000);
    assert_eq!(fresh.export(42), Some(later));
    fresh.import(42, later + 5_000_000);
    assert_eq!(fresh.export(42), Some(later + 5_000_000));
    fresh.import(43, 0);
    assert_eq!((fresh.export(43), fresh.len()), (None, 1));
}

#[test]
fn policies_round_trip_through_postcard() {
    let p = ThrottlePolicy {
        rate: 10,
        period_ms: 1000,
        burst: 5,
        key: ThrottleKey::Ip,
        action: ThrottleAction::Deprioritize { lane: "bulk".to_string() },
    };
    let bytes = postcard::to_allocvec(&p).unwrap();
    // rate 10, period 1000 (varint e8 07), burst 5, key Ip (1), Deprioritize (1), "bulk".
    assert_eq!(bytes, [0x0a, 0xe8, 0x07, 0x05, 0x01, 0x01, 0x04, b'b', b'u', b'l', b'k']);
    assert_eq!(postcard::from_bytes::<ThrottlePolicy>(&bytes).unwrap(), p);
    let reject = ThrottlePolicy { key: ThrottleKey::Segment, action: ThrottleAction::Reject, ..p };
    let bytes = postcard::to_allocvec(&reject).unwrap();
    assert_eq!(postcard::from_bytes::<ThrottlePolicy>(&bytes).unwrap(), reject);
}

#[test]
fn a_flood_under_a_slow_policy_cannot_flush_a_heavy_user_of_a_fast_one() {
    // One limiter for every policy (keys mix the policy in). A one-shot key under "1 per hour" has a
    // TAT an hour out — later than a heavy user's 2 s of debt at 10/s — but only one request of debt.
    let mut l = Limiter::new(65_536);
    let fast = policy(10, 1000, 20); // T = 100 ms, τ = 1.9 s
    let user = 0xDEAD_BEEF_0000_0002;
    for _ in 0..20 {
        assert!(l.check(user, &fast, B).allowed);
    }
    assert_eq!(l.check(user, &fast, B), rejected(20, 1));
    let slow = policy(1, 3_600_000, 1);
    for i in 0..1_000_000 {
        assert_eq!(l.check(flood_key(i), &slow, B), allowed(0, 1, 3600));
    }
    assert_eq!(l.evictions(), 1_000_000 - 65_535);
    assert_eq!(l.export(user), Some((B + 2000) * 1000));
    assert_eq!(l.check(user, &fast, B), rejected(20, 1));
}

#[test]
fn ceiling_division_agrees_with_u128_on_both_paths() {
    let big = u128::from(u64::MAX);
    let cases = [
        (0, 1),
        (1, 1),
        (7, 2),
        (1_000_000, 1_000_000),
        (1_000_001, 1_000_000),
        (big, 1),
        (big, big),
        (big + 1, 2),
        (big * 3 + 5, big),
        (u128::MAX, 1_000_000),
        (12_345, big + 7),
    ];
    for (a, b) in cases {
        assert_eq!(super::div_ceil(a, b), a.div_ceil(b), "{a} / {b}");
    }
}
