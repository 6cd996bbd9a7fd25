//! `cargo xtask fuzz [--seconds N] [--target NAME]`: every cargo-fuzz target of `fuzz/` for a
//! bounded time, one table at the end.
//!
//! cargo-fuzz is pinned and installed into `target/tools/` like the JS tools; it needs a nightly
//! toolchain, which is checked first (the error names the fix). The targets are built once, then
//! each runs `-max_total_time=N` over a scratch corpus in `target/fuzz/corpus/<target>` (grows
//! from run to run) seeded read-only from the committed `fuzz/corpus/<target>`, so fuzzing never
//! dirties the repository. Execs, execs/s and corpus size come from libFuzzer's final stats
//! (`-print_final_stats=1`) and its last status line. A crash fails the task and names the
//! artifact libFuzzer wrote (under `fuzz/artifacts/<target>/`); turn it into a regression test
//! in the crate that owns the code (`include_bytes!` or the bytes inline).

use crate::tasks::{root, step, target_dir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// cargo-fuzz, pinned (0.13.2: the newest when this was written; installs in ~35 s with --locked).
const CARGO_FUZZ: &str = "0.13.2";
/// The toolchain cargo-fuzz needs (`-Zsanitizer`, sanitizer-coverage flags).
const NIGHTLY: &str = "nightly";
/// A unit slower than this is reported as a hang (rule evaluation must terminate).
const TIMEOUT_SECONDS: u32 = 20;

pub fn fuzz(args: &[String]) -> Result<(), String> {
    let mut seconds = 60;
    let mut target = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let n = it.next().ok_or("--seconds needs a number")?;
                seconds = n.parse().map_err(|e| format!("--seconds {n}: {e}"))?;
            }
            "--target" => target = Some(it.next().ok_or("--target needs a name")?.clone()),
            other => return Err(format!("fuzz: unknown argument {other}")),
        }
    }
    if !nightly_installed() {
        return Err(format!(
            "cargo-fuzz needs a nightly toolchain and `{NIGHTLY}` is not installed; \
             fix: rustup toolchain install {NIGHTLY} --profile minimal"
        ));
    }
    run(seconds, target.as_deref())
}

/// Whether `rustup run nightly rustc` works (what `cargo xtask test` asks before fuzzing).
pub fn nightly_installed() -> bool {
    Command::new("rustup").args(["run", NIGHTLY, "rustc", "--version"]).output().is_ok_and(|o| o.status.success())
}

/// One target's outcome.
struct Outcome {
    target: String,
    execs: Option<u64>,
    execs_per_sec: Option<u64>,
    corpus: Option<u64>,
    /// `None`: no crash. `Some(path)`: the artifact (or what libFuzzer said instead).
    crash: Option<String>,
}

/// Builds every target once and runs the selected ones (all when `only` is `None`) for `seconds`.
pub fn run(seconds: u32, only: Option<&str>) -> Result<(), String> {
    let started = Instant::now();
    let cargo_fuzz = crate::js::cargo_install("cargo-fuzz", CARGO_FUZZ, "cargo-fuzz", true)?;
    let fuzz_dir = root().join("fuzz");
    let targets = list(&cargo_fuzz, &fuzz_dir)?;
    let selected: Vec<&String> = match only {
        Some(name) if !targets.iter().any(|t| t == name) => {
            return Err(format!("fuzz: no target {name}; targets: {}", targets.join(", ")));
        }
        Some(name) => targets.iter().filter(|t| *t == name).collect(),
        None => targets.iter().collect(),
    };

    step(&format!("fuzz: build {} target(s) (nightly, cargo-fuzz {CARGO_FUZZ})", targets.len()));
    let build = Instant::now();
    // cargo-fuzz has no `--locked`: check first that `fuzz/Cargo.lock` needs no change.
    crate::tasks::output(
        Command::new("cargo")
            .args(["metadata", "--locked", "--format-version", "1", "--manifest-path"])
            .arg(fuzz_dir.join("Cargo.toml"))
            .env("RUSTUP_TOOLCHAIN", NIGHTLY)
            .env_remove("CARGO"),
    )?;
    crate::tasks::run(fuzz_cmd(&cargo_fuzz, &fuzz_dir).arg("build"))?;
    eprintln!("fuzz targets built in {:.0?}", build.elapsed());

    let mut outcomes = Vec::new();
    for target in selected {
        step(&format!("fuzz: {target} for {seconds} s"));
        outcomes.push(run_one(&cargo_fuzz, &fuzz_dir, target, seconds)?);
    }

    eprintln!("\n{:<16} {:>12} {:>9} {:>7}  result", "target", "execs", "execs/s", "corpus");
    let show = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
    for o in &outcomes {
        let result = o.crash.as_ref().map_or("ok".to_string(), |a| format!("CRASH {a}"));
        eprintln!(
            "{:<16} {:>12} {:>9} {:>7}  {result}",
            o.target,
            show(o.execs),
            show(o.execs_per_sec),
            show(o.corpus)
        );
    }
    eprintln!("fuzz: {} target(s) in {:.0?}", outcomes.len(), started.elapsed());
    let crashed: Vec<String> =
        outcomes.iter().filter_map(|o| o.crash.as_ref().map(|a| format!("{}: {a}", o.target))).collect();
    if crashed.is_empty() { Ok(()) } else { Err(format!("fuzzing found crashes:\n  {}", crashed.join("\n  "))) }
}

/// `cargo-fuzz fuzz …` in `fuzz/` on the nightly toolchain. The binary is called directly (it is
/// not on PATH); the `cargo` it spawns is rustup's proxy, told to use nightly. Variables cargo set
/// for xtask itself (its own stable cargo and rustc) must not leak into that build.
fn fuzz_cmd(cargo_fuzz: &Path, fuzz_dir: &Path) -> Command {
    let mut cmd = Command::new(cargo_fuzz);
    cmd.arg("fuzz")
        .current_dir(fuzz_dir)
        .env("RUSTUP_TOOLCHAIN", NIGHTLY)
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    cmd
}

fn list(cargo_fuzz: &Path, fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let out = crate::tasks::output(fuzz_cmd(cargo_fuzz, fuzz_dir).arg("list"))?;
    Ok(out.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

fn run_one(cargo_fuzz: &Path, fuzz_dir: &Path, target: &str, seconds: u32) -> Result<Outcome, String> {
    let scratch = target_dir().join("fuzz").join("corpus").join(target);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let seeds: PathBuf = fuzz_dir.join("corpus").join(target);
    let mut cmd = fuzz_cmd(cargo_fuzz, fuzz_dir);
    cmd.args(["run", target]).arg(&scratch);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--").args([
        format!("-max_total_time={seconds}"),
        format!("-timeout={TIMEOUT_SECONDS}"),
        "-print_final_stats=1".into(),
    ]);
    eprintln!("$ cargo fuzz run {target} {} {} -- -max_total_time={seconds} …", scratch.display(), seeds.display());
    let out = cmd.output().map_err(|e| format!("{}: {e}", cargo_fuzz.display()))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let stat = |name: &str| {
        log.lines().find_map(|l| l.strip_prefix(&format!("stat::{name}:"))).and_then(|v| v.trim().parse().ok())
    };
    // The last status line (`#N DONE cov: … corp: 57/1873b …`, or `pulse`/`NEW`): units in corpus.
    let corpus = log
        .lines()
        .rev()
        .find_map(|l| l.split_once(" corp: ").and_then(|(_, rest)| rest.split('/').next()?.trim().parse().ok()));
    let crash = if out.status.success() {
        None
    } else {
        // Show libFuzzer's report (the panic message and stack are near the end).
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        Some(
            log.lines()
                .find_map(|l| l.split_once("Test unit written to ").map(|(_, p)| p.trim().to_string()))
                .map(|p| fuzz_dir.join(p).display().to_string())
                .unwrap_or_else(|| format!("no artifact written ({})", out.status)),
        )
    };
    Ok(Outcome {
        target: target.to_string(),
        execs: stat("number_of_executed_units"),
        execs_per_sec: stat("average_exec_per_sec"),
        corpus,
        crash,
    })
}
