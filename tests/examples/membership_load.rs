//! Snapshot load time against member count (a measurement, not a test): for 10⁵, 10⁶ and 10⁷
//! members (or the counts given as arguments), builds one snapshot per encoding with the real
//! builder, then times `Engine::load` natively and the raw ABI's load in wasmtime (median of
//! runs). Run in release: `cargo run --release -p edgeseg-tests --example membership_load`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measurement: a panic is the report")]

use edgeseg::Engine;
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_snapshots::ExactForm;
use edgeseg_tests::{membership, wasm_module};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let counts: Vec<u64> = {
        let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("member counts")).collect();
        if args.is_empty() { vec![100_000, 1_000_000, 10_000_000] } else { args }
    };
    let cases: [(&str, &str, bool, ExactForm); 5] = [
        ("fuse8, no consent set", r#""encoding": "fuse", "fp_bits": 8"#, false, ExactForm::Compact),
        ("fuse16, no consent set", r#""encoding": "fuse", "fp_bits": 16"#, false, ExactForm::Compact),
        ("exact compact", r#""encoding": "exact""#, false, ExactForm::Compact),
        ("exact plain", r#""encoding": "exact""#, false, ExactForm::Plain),
        ("fuse8 + consent set", r#""encoding": "fuse", "fp_bits": 8"#, true, ExactForm::Compact),
    ];
    println!("{:<24} {:>10} {:>12} {:>12} {:>12}", "encoding", "members", "bytes", "native ms", "wasm ms");
    for &n in &counts {
        for (label, enc, consent, form) in cases {
            let built = membership::snapshot(n, &[("audience", enc)], consent, form, 1);
            let runs = if n >= 10_000_000 { 5 } else { 11 };
            let native = median(
                (0..runs)
                    .map(|_| {
                        let t = Instant::now();
                        let e = Engine::load(&built.bytes).unwrap();
                        let d = t.elapsed();
                        drop(e);
                        d
                    })
                    .collect(),
            );
            if std::env::var_os("EDGESEG_LOAD_BREAKDOWN").is_some() {
                let t = Instant::now();
                let crc = edgeseg::format::crc32c(&built.bytes);
                let crc_t = t.elapsed();
                let t = Instant::now();
                let copy = built.bytes.clone();
                let copy_t = t.elapsed();
                eprintln!(
                    "  crc32c {:.2} ms ({crc:x}), fresh copy {:.2} ms ({})",
                    crc_t.as_secs_f64() * 1e3,
                    copy_t.as_secs_f64() * 1e3,
                    copy.len()
                );
            }
            let config = GuestConfig { max_memory_bytes: 1 << 31, ..GuestConfig::default() };
            let mut guest = Guest::from_file(wasm_module(), config).unwrap();
            let wasm = median(
                (0..runs)
                    .map(|_| {
                        let t = Instant::now();
                        guest.load_snapshot(&built.bytes).unwrap();
                        t.elapsed()
                    })
                    .collect(),
            );
            println!(
                "{label:<24} {n:>10} {:>12} {:>12.2} {:>12.2}",
                built.bytes.len(),
                native.as_secs_f64() * 1e3,
                wasm.as_secs_f64() * 1e3
            );
        }
    }
}
