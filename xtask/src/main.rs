//! `cargo xtask`: build orchestration for edgeseg.
//!
//! * `cargo xtask build` — the raw-ABI wasm module at `target/wasm/edgeseg.wasm` (config: `wasm-pack.toml`)
//! * `cargo xtask build-js` — the npm package of the JS skin at `target/js/pkg` (config: `[js]`)
//! * `cargo xtask demo`  — sample data → snapshot → replay through the module in wasmtime → report
//! * `cargo xtask test`  — installs what tests need, checks the guards, runs every test and the demo
//! * `cargo xtask test-js` — only the JS half of `test` (Node, Chromium, workerd, Deno), for JS work
//! * `cargo xtask test-spark` — only the Python package and the Spark job's test (Java, venv, wheel)
//! * `cargo xtask size`  — raw and gzip sizes of both modules against budgets and peers, top functions
//! * `cargo xtask bench` — edgeseg against its peers: rules, decisions, membership, loads, replay (`target/bench/report.json`)
//! * `cargo xtask fuzz`  — every cargo-fuzz target of `fuzz/` for N seconds (nightly), a table of execs
//!
//! Plain `std::process::Command`: xtask should build in seconds on a fresh machine.

mod bench;
mod benchmarks_md;
mod config;
mod fuzz;
mod js;
mod reports;
mod size;
mod spark;
mod tasks;
mod wasm;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => tasks::build(&args[1..]).map(|_| ()),
        Some("build-js") => js::build(&args[1..]).map(|_| ()),
        Some("demo") => tasks::demo(&args[1..]),
        Some("test") => tasks::test(&args[1..]),
        Some("test-js") => tasks::test_js(&args[1..]),
        Some("test-spark") => tasks::test_spark(&args[1..]),
        Some("size") => size::size(&args[1..]),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <build|build-js|demo|test|test-js|test-spark|size|bench|fuzz> [--release]\n\n{}",
                USAGE
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "\
  build   build the raw-ABI module into target/wasm/edgeseg.wasm and print its size
  build-js build the JS npm package (wasm-pack per target in wasm-pack.toml [js]) into target/js/pkg
  demo    generate sample data, build a snapshot, replay sample traffic in wasmtime, print the report
          (--release: build the host optimised; --members N --requests N to resize)
  test    install targets, check the raw-build guards, no_std build, clippy, rustfmt, every test, demo
  test-js only the JS half of test: installs its tools, builds the edgeseg CLI and the npm package,
          runs the wasm-bindgen tests (Node, headless Chromium) and the Worker/browser/Deno tests
  test-spark only the Spark part of test: Java, a pinned venv in target/pyenv, the edgeseg wheel
          (maturin), then python/tests: the PySpark job vs edgeseg build on 10^6 Parquet members
  size    raw and gzip sizes of the raw-ABI and JS modules, budgets (pass/fail), peers' published sizes,
          the raw module's 20 biggest functions (--json; --check: exit non-zero over a budget;
          --reuse: measure target/wasm and target/js/pkg as they are instead of building them)
  bench   edgeseg against its peers, ratios side by side (release, medians): rule evaluation and the full
          decision (native, wasmtime) vs datalogic-rs; membership probes vs bare bloomfilter and xorf;
          snapshot load at 10^5..10^7 members; replay decisions/s in wasmtime; the JS path in Node
          (the npm package's decide vs the raw module vs datalogic-rs in wasm, cold start). JSON in
          target/bench/report.json, rendered as BENCHMARKS.md (--quick: small sizes, short runs;
          --runs N for the rules bench; --only rules|decisions|js: one part, nothing rendered;
          --render: only re-render BENCHMARKS.md from the last report)
  fuzz    build the cargo-fuzz targets of fuzz/ (nightly) and run each for --seconds N (default 60;
          --target NAME for one); table of execs, execs/s, corpus; fails naming any crash artifact";
