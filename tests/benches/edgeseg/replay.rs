//! Replay throughput in wasmtime: `edgeseg_host::replay::replay` — what `edgeseg replay` runs,
//! minus file IO — over sample traffic against the demo snapshot: JSONL parsing, the decision in
//! the module, the native consent audit and the per-tier report. Each timed replay starts from a
//! freshly loaded snapshot (untimed), so throttle state does not carry over between runs.

use crate::fixtures;
use crate::harness::{Harness, Speed};
use edgeseg_host::replay::{ReplayOptions, replay};
use edgeseg_host::traffic::TrafficReader;
use serde_json::{Value, json};
use std::cell::RefCell;

pub fn run(h: &mut Harness) -> Value {
    let mode = h.mode();
    let members = mode.size(2_000, 20_000, 100_000);
    let requests = mode.size(200, 2_000, 20_000);
    let snapshot = fixtures::demo_snapshot(members);
    let jsonl = fixtures::traffic(members, requests);
    let guest = RefCell::new(fixtures::guest(edgeseg_host::guest::DEFAULT_MAX_MEMORY_BYTES));
    let opts = ReplayOptions::default();
    // The last replay's own latency figures: the `edgeseg_decide` wasm call alone.
    let call_us = std::cell::Cell::new((f64::NAN, f64::NAN));
    let ns = h.bench_batched(
        "replay",
        "wasm",
        Speed::Slow,
        || {
            guest.borrow_mut().load_snapshot(&snapshot).unwrap();
        },
        |()| {
            let report = replay(&mut guest.borrow_mut(), TrafficReader::new(jsonl.as_slice()), &opts).unwrap();
            assert_eq!(report.requests, requests);
            assert_eq!((report.decided, report.guest_traps, report.guest_errors), (requests, 0, 0));
            assert_eq!(report.consent.violations, 0);
            if let Some(l) = report.timings.and_then(|t| t.latency) {
                call_us.set((l.p50_us, l.p99_us));
            }
        },
    );
    json!({
        "snapshot_members": members,
        "requests": requests,
        "ns_per_replay": ns,
        "decisions_per_sec": requests as f64 / (ns / 1e9),
        "us_per_decision": ns / 1e3 / requests as f64,
        "decide_call_p50_us": call_us.get().0,
        "decide_call_p99_us": call_us.get().1,
    })
}

pub fn print(r: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!(
        "\nreplay in wasmtime: {} sample requests against the demo snapshot ({} members), parse + decide + audit + report",
        r["requests"], r["snapshot_members"]
    );
    println!(
        "  {:.0} decisions/s ({:.2} µs per decision; {:.1} ms per replay); the wasm decide call alone: p50 {:.2} µs, p99 {:.2} µs",
        f(&r["decisions_per_sec"]),
        f(&r["us_per_decision"]),
        f(&r["ns_per_replay"]) / 1e6,
        f(&r["decide_call_p50_us"]),
        f(&r["decide_call_p99_us"]),
    );
}
