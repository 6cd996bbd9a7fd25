//! Snapshot load time against the number of members, per encoding: natively `Engine::load_owned`
//! (`Snapshot::decode_owned`: checksum, decode, validation; the sets are probed in place in the
//! buffer handed over) and `Engine::load` (the same after one copy of the caller's bytes), and
//! `Guest::load_snapshot` in wasmtime (the host's copy into the guest and the one it keeps for
//! recovery, the module's decode and validation, and the free of the snapshot it replaces).
//! The growth column is ns per member: flat means load cost is linear in members.

use crate::fixtures::{self, ENCODINGS};
use crate::harness::{Harness, Speed};
use edgeseg::Engine;
use serde_json::{Value, json};
use std::hint::black_box;

/// The goal for 10^7 members, natively.
const GOAL_MS_AT_10M: f64 = 20.0;

pub fn run(h: &mut Harness) -> Value {
    let sizes: &[u64] = match h.mode() {
        crate::harness::Mode::Smoke => &[1_000],
        crate::harness::Mode::Quick => &[10_000, 100_000],
        crate::harness::Mode::Full => &[100_000, 1_000_000, 10_000_000],
    };
    // 10^7 exact members is an 80 MB snapshot, held twice while the guest swaps: room for that.
    let mut guest = fixtures::guest(2 << 30);
    let mut rows = Vec::new();
    for &encoding in ENCODINGS {
        let name = encoding.name;
        for &members in sizes {
            let bytes = fixtures::audience_snapshot(encoding, members);
            let engine = Engine::load(&bytes).unwrap();
            assert_eq!(engine.snapshot().segments[0].members, members, "{name} at {members}");
            drop(engine);
            let native_ns = h.bench_batched(
                "load",
                &format!("native-owned-{name}-{members}"),
                Speed::Slow,
                || bytes.clone(),
                |owned| drop(black_box(Engine::load_owned(black_box(owned)).unwrap())),
            );
            let copy_ns = h.bench("load", &format!("native-{name}-{members}"), Speed::Slow, || {
                black_box(Engine::load(black_box(&bytes)).unwrap());
            });
            let wasm_ns = h.bench("load", &format!("wasm-{name}-{members}"), Speed::Slow, || {
                black_box(guest.load_snapshot(black_box(&bytes)).unwrap());
            });
            rows.push(json!({
                "encoding": name, "members": members, "snapshot_bytes": bytes.len(),
                "native_ns": native_ns, "native_copy_ns": copy_ns, "wasm_ns": wasm_ns,
                "native_ns_per_member": native_ns / members as f64,
                "wasm_ns_per_member": wasm_ns / members as f64,
                "wasm_over_native": wasm_ns / native_ns,
            }));
        }
    }
    json!({"goal": format!("10^7 members load in <= {GOAL_MS_AT_10M} ms natively"), "sizes": rows})
}

pub fn print(r: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!("\nsnapshot load vs members (one segment holding every member); ms, and ns per member for growth");
    println!("native: load_owned (the engine keeps the buffer); +copy: load(&[u8]), which copies it first");
    println!(
        "{:<8} {:>10} {:>12} {:>11} {:>10} {:>10} {:>11} {:>10} {:>11}",
        "encoding", "members", "bytes", "native ms", "ns/member", "+copy ms", "wasm ms", "ns/member", "wasm/native"
    );
    for row in r["sizes"].as_array().into_iter().flatten() {
        println!(
            "{:<8} {:>10} {:>12} {:>11.2} {:>10.2} {:>10.2} {:>11.2} {:>10.2} {:>10.1}x",
            row["encoding"].as_str().unwrap_or(""),
            row["members"].as_u64().unwrap_or(0),
            row["snapshot_bytes"].as_u64().unwrap_or(0),
            f(&row["native_ns"]) / 1e6,
            f(&row["native_ns_per_member"]),
            f(&row["native_copy_ns"]) / 1e6,
            f(&row["wasm_ns"]) / 1e6,
            f(&row["wasm_ns_per_member"]),
            f(&row["wasm_over_native"]),
        );
    }
    for row in r["sizes"].as_array().into_iter().flatten().filter(|row| row["members"] == 10_000_000) {
        let ms = f(&row["native_ns"]) / 1e6;
        println!(
            "  goal: 10^7 {} members load natively in <= {GOAL_MS_AT_10M} ms: {ms:.1} ms, {}",
            row["encoding"].as_str().unwrap_or(""),
            if ms <= GOAL_MS_AT_10M { "met" } else { "not met" }
        );
    }
}
