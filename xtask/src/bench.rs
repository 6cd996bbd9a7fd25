//! `cargo xtask bench`: edgeseg against its peers, in one command and one run.
//!
//! 1. the tests crate's `rules_bench` example: compiled rule evaluation against datalogic-rs on
//!    the same rules and data (`target/bench/rules.json`);
//! 2. the tests crate's criterion bench `edgeseg` (`tests/benches/edgeseg/`): the full decision
//!    natively and in wasmtime against datalogic-rs, membership probes against bare `bloomfilter`
//!    and `xorf` filters, snapshot load time at 10^5..10^7 members, replay throughput in wasmtime;
//!    each section prints ours beside the peer with the ratio, and the run's medians go to
//!    `target/bench/report.json`, into which this task then merges the rules figures.
//!
//! 3. the JS path in Node (`tests/peers/js-bench.mjs`): the npm package's `decide` and
//!    `segmentsFor` beside the raw module fed pre-encoded requests and beside datalogic-rs in wasm
//!    behind a JSON-string ABI as flagd-evaluator embeds it (`tests/peers/flagd-wasm`, bench-only,
//!    never shipped), on one `==`, a 4-clause and/or, `fractional` and all three; medians, the
//!    ratios decide÷raw and peer÷decide, and cold start (`target/bench/js.json`).
//!
//! All run optimised against the module `cargo xtask build` makes (wasm-opt included), so the
//! wasm figures are the shipped module's. `--quick` shrinks sizes and run times (a minute or two
//! instead of several); `--only rules|decisions|js` runs one part; goals are printed, never
//! asserted: the machine is shared.
//!
//! A full run's report (the JS figures merged in) is then rendered as BENCHMARKS.md at the
//! repository root (`benchmarks_md.rs`); `--render` only re-renders it from the last
//! `target/bench/report.json`, measuring nothing.

use crate::tasks::{build, cargo, root, run, step, target_dir};
use serde_json::Value;
use std::process::Command;

pub fn bench(args: &[String]) -> Result<(), String> {
    let mut runs = None;
    let mut quick = false;
    let mut only = None;
    let mut render_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = Some(it.next().ok_or("--runs needs a number")?.clone()),
            "--quick" => quick = true,
            "--render" => render_only = true,
            "--only" => match it.next().map(String::as_str) {
                Some(part @ ("rules" | "decisions" | "js")) => only = Some(part.to_string()),
                _ => return Err("--only needs rules, decisions or js".into()),
            },
            other => return Err(format!("bench: unknown argument {other}")),
        }
    }
    let dir = target_dir().join("bench");
    let report = dir.join("report.json");
    if render_only {
        return render(&report);
    }
    let module = stable_copy(&build(&[])?, &dir.join("edgeseg.wasm"))?;

    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if part("js") {
        js(&module, &dir, quick)?;
    }
    if only.as_deref() == Some("js") {
        return Ok(());
    }
    if !part("rules") {
        return decisions(&module, &dir, quick);
    }

    step("rule evaluation: edgeseg against datalogic-rs (tests/examples/rules_bench.rs)");
    let rules = dir.join("rules.json");
    let mut cmd = cargo();
    cmd.args(["run", "--locked", "--release", "-q", "-p", "edgeseg-tests", "--example", "rules_bench", "--"])
        .arg("--json")
        .arg(&rules)
        .env("EDGESEG_WASM", &module);
    match (runs, quick) {
        (Some(n), _) => {
            cmd.args(["--runs", &n]);
        }
        (None, true) => {
            cmd.args(["--runs", "3"]);
        }
        (None, false) => {}
    }
    run(&mut cmd)?;
    if only.is_some() {
        return Ok(());
    }
    decisions(&module, &dir, quick)?;
    merge(&report, &rules, &dir.join("js.json"))?;
    println!("\nJSON report (every section, rules and JS included): {}", report.display());
    render(&report)
}

/// Writes BENCHMARKS.md at the repository root from the report at `report`.
fn render(report: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(report)
        .map_err(|e| format!("{}: {e} (run `cargo xtask bench` first: --render only re-renders)", report.display()))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", report.display()))?;
    let out = root().join("BENCHMARKS.md");
    std::fs::write(&out, crate::benchmarks_md::render(&value)).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("rendered {} from {}", out.display(), report.display());
    Ok(())
}

/// The CPU's model name (Linux's /proc/cpuinfo), for BENCHMARKS.md's machine line.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, m)| m.trim().to_owned())
            })
        })
        .unwrap_or_default()
}

/// The criterion bench: decisions, membership probes, snapshot loads, replay.
fn decisions(module: &std::path::Path, dir: &std::path::Path, quick: bool) -> Result<(), String> {
    step("decisions, membership probes, snapshot loads, replay (criterion: tests/benches/edgeseg)");
    let report = dir.join("report.json");
    let mut cmd = cargo();
    cmd.args(["bench", "--locked", "-p", "edgeseg-tests", "--bench", "edgeseg", "--"])
        .env("EDGESEG_WASM", module)
        .env("CRITERION_HOME", dir.join("criterion"))
        .env("EDGESEG_BENCH_REPORT", &report);
    if quick {
        cmd.arg("--quick");
    }
    run(&mut cmd)
}

/// The JS path in Node against the raw module and the datalogic-rs wasm peer (see the module doc).
fn js(module: &std::path::Path, dir: &std::path::Path, quick: bool) -> Result<(), String> {
    step(
        "JS path in Node: the npm package's decide vs the raw engine vs datalogic-rs in wasm (tests/peers/js-bench.mjs)",
    );
    // The CLI only builds the scenario snapshots: the debug build `test-js` also uses.
    run(cargo().args(["build", "--locked", "-p", "edgeseg-host", "--bin", "edgeseg"]))?;
    let peer = peer_module()?;
    let pkg = crate::js::build(&[])?;
    let mut cmd = Command::new("node");
    cmd.arg(root().join("tests/peers/js-bench.mjs"))
        .env("EDGESEG_JS_PKG", &pkg)
        .env("EDGESEG_WASM", module)
        .env("EDGESEG_PEER_WASM", &peer)
        .env("EDGESEG_CLI", target_dir().join("debug").join("edgeseg"))
        .env("EDGESEG_BENCH_DIR", dir.join("js"))
        .env("EDGESEG_BENCH_JSON", dir.join("js.json"));
    if quick {
        cmd.env("EDGESEG_BENCH_ITERS", "5000").env("EDGESEG_BENCH_RUNS", "5");
    }
    run(&mut cmd)
}

/// The bench-only peer module: datalogic-rs behind a JSON-string ABI, built for wasm32 (release).
pub(crate) fn peer_module() -> Result<std::path::PathBuf, String> {
    run(cargo().args([
        "build",
        "--locked",
        "--release",
        "-p",
        "flagd-wasm-peer",
        "--target",
        "wasm32-unknown-unknown",
    ]))?;
    Ok(target_dir().join("wasm32-unknown-unknown").join("release").join("flagd_wasm_peer.wasm"))
}

/// Copies the module to `to` unless `to` already holds the same bytes. The tests crate's build
/// script watches the module it is given: a fresh copy every run (wasm-opt rewrites its output)
/// would rebuild the benches each time.
fn stable_copy(from: &std::path::Path, to: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let bytes = std::fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    if std::fs::read(to).ok().as_deref() != Some(bytes.as_slice()) {
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(to, &bytes).map_err(|e| format!("{}: {e}", to.display()))?;
    }
    Ok(to.to_path_buf())
}

/// Puts the rules bench's report into the combined one, under `rules`, and prints its headline
/// beside the others'.
fn merge(report: &std::path::Path, rules: &std::path::Path, js: &std::path::Path) -> Result<(), String> {
    let read = |p: &std::path::Path| -> Result<Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut combined = read(report)?;
    let rules = read(rules)?;
    println!(
        "\nrule evaluation (above): median ratio datalogic-rs / edgeseg {:.1}x over {} rules",
        rules["median_ratio"].as_f64().unwrap_or(f64::NAN),
        rules["rules"].as_array().map_or(0, Vec::len)
    );
    combined["rules"] = rules;
    combined["js"] = read(js)?;
    // For tracking across commits: which code, when, on how many cores.
    let commit = crate::tasks::output(
        std::process::Command::new("git").current_dir(crate::tasks::root()).args(["rev-parse", "HEAD"]),
    )
    .map(|s| s.trim().to_owned())
    .unwrap_or_default();
    let dirty = crate::tasks::output(
        std::process::Command::new("git").current_dir(crate::tasks::root()).args(["status", "--porcelain"]),
    )
    .is_ok_and(|s| !s.trim().is_empty());
    let measured_at_unix_s =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    combined["run"] = serde_json::json!({
        "git_commit": commit, "git_dirty": dirty, "measured_at_unix_s": measured_at_unix_s, "cores": cores,
        "cpu": cpu_model(), "os": format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    });
    let text = serde_json::to_string_pretty(&combined).map_err(|e| e.to_string())? + "\n";
    std::fs::write(report, text).map_err(|e| format!("{}: {e}", report.display()))
}
