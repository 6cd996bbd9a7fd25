//! `cargo xtask bench`: edgeseg against its peers, one run, ratios side by side.
//!
//! ```text
//! cargo bench -p edgeseg-tests --bench edgeseg -- [--quick]     # measure (criterion), print, write JSON
//! cargo test  -p edgeseg-tests --bench edgeseg                  # smoke: every case once, tiny sizes
//! ```
//!
//! Four sections, each measured by criterion (the figure is criterion's median, read back from
//! its `estimates.json` under `$CRITERION_HOME`, default `target/bench/criterion`):
//!
//! * [`decision`] — `Engine::decide` natively and through the wasm module in wasmtime on sample
//!   traffic against a demo snapshot, beside datalogic-rs evaluating the demo's request-time
//!   segment rules on the same requests as JSON data;
//! * [`membership`] — our probe per encoding at 10^6 members (hits and misses) beside a bare
//!   `bloomfilter::Bloom<u64>` and a bare `xorf::BinaryFuse8` over the same fingerprints;
//! * [`load`] — `Engine::load` and the module's load in wasmtime at 10^5, 10^6, 10^7 members per
//!   encoding, as ns per member (snapshots built once and cached in `target/bench/snapshots/`);
//! * [`replay`] — `edgeseg_host::replay::replay` of sample traffic in wasmtime, decisions/s.
//!
//! The table goes to stdout and the report to `$EDGESEG_BENCH_REPORT` (default
//! `target/bench/report.json`). `--quick` shrinks sizes and criterion's times. Without `--bench`
//! (which `cargo bench` passes) nothing is timed: every case runs once on tiny inputs and its
//! answers are checked, so `cargo test --benches` keeps the harness honest without a long run.
//! Timings are printed, never asserted: the machine is shared.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a bench: a panic is its error report")]

mod decision;
mod fixtures;
mod harness;
mod load;
mod membership;
mod replay;

use harness::{Harness, Mode};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mode =
        if args.iter().any(|a| a == "--bench") { if quick { Mode::Quick } else { Mode::Full } } else { Mode::Smoke };
    let mut h = Harness::new(mode);
    eprintln!("edgeseg bench: {} run", mode.name());

    // Section names among the arguments (`-- --bench load`) run only those sections.
    let sections = ["decision", "membership", "load", "replay"];
    let only: Vec<&str> = args.iter().map(String::as_str).filter(|a| sections.contains(a)).collect();
    let on = |name: &str| only.is_empty() || only.contains(&name);
    let decision = if on("decision") { decision::run(&mut h) } else { json!(null) };
    let membership = if on("membership") { membership::run(&mut h) } else { json!(null) };
    let load = if on("load") { load::run(&mut h) } else { json!(null) };
    let replay = if on("replay") { replay::run(&mut h) } else { json!(null) };

    if mode == Mode::Smoke {
        println!("smoke run: every bench case ran once and its answers agree (nothing timed)");
        return;
    }
    println!();
    println!(
        "== edgeseg vs peers ({} run; medians; shared, noisy machine: compare ratios, not absolutes) ==",
        mode.name()
    );
    if on("decision") {
        decision::print(&decision);
    }
    if on("membership") {
        membership::print(&membership);
    }
    if on("load") {
        load::print(&load);
    }
    if on("replay") {
        replay::print(&replay);
    }

    let report = json!({
        "mode": mode.name(),
        "unit": "criterion medians; ns unless a field says otherwise",
        "criterion_home": h.home().display().to_string(),
        "decision": decision,
        "membership": membership,
        "load": load,
        "replay": replay,
    });
    let path = std::env::var_os("EDGESEG_BENCH_REPORT")
        .map_or_else(|| fixtures::bench_dir().join("report.json"), std::path::PathBuf::from);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
    println!("\nJSON report: {}", path.display());
}
