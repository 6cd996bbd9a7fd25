//! `cargo xtask bench`: edgeseg's compiled rule evaluation against datalogic-rs, in one run.
//!
//! The measured code is the `rules_bench` example of the tests crate (it needs datalogic-rs, a
//! dev-dependency there); this task builds it optimised, runs it, and leaves the JSON report in
//! `target/bench/rules.json`. The ≥ 10× goal is printed by the bench, never asserted.

use crate::tasks::{cargo, root, run, target_dir};

pub fn bench(args: &[String]) -> Result<(), String> {
    let mut runs = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = Some(it.next().ok_or("--runs needs a number")?.clone()),
            other => return Err(format!("bench: unknown argument {other}")),
        }
    }
    let report = target_dir().join("bench").join("rules.json");
    let mut cmd = cargo();
    cmd.args(["run", "--locked", "--release", "-q", "-p", "edgeseg-tests", "--example", "rules_bench", "--"])
        .arg("--json")
        .arg(&report);
    if let Some(n) = runs {
        cmd.args(["--runs", &n]);
    }
    // The tests crate's build script builds the guest module unless one is given; the bench does
    // not use it, so hand over the xtask-built one when it exists.
    let module = root().join("target/wasm/edgeseg.wasm");
    if module.is_file() {
        cmd.env("EDGESEG_WASM", module);
    }
    run(&mut cmd)
}
