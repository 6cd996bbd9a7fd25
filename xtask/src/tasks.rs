//! The xtask commands.

use crate::config;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("$ {}", show(cmd));
    let status = cmd.status().map_err(|e| format!("{}: {e}", show(cmd)))?;
    if status.success() { Ok(()) } else { Err(format!("failed ({status}): {}", show(cmd))) }
}

pub(crate) fn output(cmd: &mut Command) -> Result<String, String> {
    eprintln!("$ {}", show(cmd));
    let out = cmd.output().map_err(|e| format!("{}: {e}", show(cmd)))?;
    if !out.status.success() {
        return Err(format!("failed ({}): {}\n{}", out.status, show(cmd), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn step(name: &str) {
    eprintln!("\n==> {name}");
}

/// Installs rustup targets (idempotent: about a second when they are there already). Every command
/// that builds for a target calls this first: `RUSTUP_AUTO_INSTALL=0`, or an older rustup, leaves
/// `rust-toolchain.toml`'s `targets` uninstalled, and a fresh machine has only the host's.
pub(crate) fn rustup_targets(targets: &[&str]) -> Result<(), String> {
    run(Command::new("rustup").current_dir(root()).args(["target", "add"]).args(targets))
}

/// Builds the raw-ABI module as `wasm-pack.toml` says and copies it to its `out` path.
pub fn build(_args: &[String]) -> Result<PathBuf, String> {
    let cfg = config::load(&root())?.raw;
    rustup_targets(&[&cfg.target])?;
    run(cargo().args(["build", "--locked", "-p", &cfg.package, "--lib", "--target", &cfg.target]).args([
        "--profile",
        &cfg.profile,
        "--no-default-features",
        "--features",
        &cfg.features.join(","),
    ]))?;
    let built =
        target_dir().join(&cfg.target).join(&cfg.profile).join(format!("{}.wasm", cfg.package.replace('-', "_")));
    let out = root().join(&cfg.out);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let before = std::fs::metadata(&built).map_err(|e| format!("{}: {e}", built.display()))?.len();
    run(Command::new(wasm_opt(&cfg.binaryen)?).args(&cfg.wasm_opt).arg(&built).arg("-o").arg(&out))?;
    eprintln!("wasm-opt: {before} -> {} bytes", std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0));
    let bytes = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let gz = gzip_len(&out)?;
    eprintln!("{}: {} bytes raw, {gz} bytes gzip (budget {} gzip)", cfg.out, bytes.len(), cfg.budget_gzip_bytes);
    if gz > cfg.budget_gzip_bytes {
        eprintln!("warning: {} is over its gzip budget", cfg.out);
    }
    Ok(out)
}

/// The binary `bin` of npm package `package` at exactly `version`, installed into
/// `target/tools/<package>-<version>` on first use (npm is a package registry, the one network
/// source allowed). Each caller checks the version the binary reports.
pub(crate) fn npm_tool(package: &str, version: &str, bin: &str) -> Result<PathBuf, String> {
    let tools = target_dir().join("tools").join(format!("{package}-{version}"));
    let path = tools.join("node_modules").join(".bin").join(bin);
    if !path.is_file() {
        std::fs::create_dir_all(&tools).map_err(|e| format!("{}: {e}", tools.display()))?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--no-save", "--prefix"])
            .arg(&tools)
            .arg(format!("{package}@{version}")))?;
    }
    Ok(path)
}

/// The pinned `wasm-opt` from npm `binaryen`. Refuses any other version.
pub(crate) fn wasm_opt(version: &str) -> Result<PathBuf, String> {
    let bin = npm_tool("binaryen", version, "wasm-opt")?;
    let reported = output(Command::new(&bin).arg("--version"))?;
    let major = version.split('.').next().unwrap_or(version);
    if !reported.contains(&format!("version {major}")) {
        return Err(format!("{} reports {reported:?}, wasm-pack.toml pins binaryen {version}", bin.display()));
    }
    Ok(bin)
}

/// The file's gzip size at flate2's best compression (level 9): the same number on every machine,
/// with or without a `gzip` binary.
pub(crate) fn gzip_len(path: &Path) -> Result<u64, String> {
    use std::io::Write;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes).map_err(|e| format!("gzip {}: {e}", path.display()))?;
    let out = gz.finish().map_err(|e| format!("gzip {}: {e}", path.display()))?;
    Ok(out.len() as u64)
}

struct DemoArgs {
    release: bool,
    members: String,
    requests: String,
}

fn demo_args(args: &[String]) -> Result<DemoArgs, String> {
    let mut d = DemoArgs { release: false, members: "100000".into(), requests: "50000".into() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--release" => d.release = true,
            "--members" => d.members = it.next().ok_or("--members needs a number")?.clone(),
            "--requests" => d.requests = it.next().ok_or("--requests needs a number")?.clone(),
            other => return Err(format!("demo: unknown argument {other}")),
        }
    }
    Ok(d)
}

/// Sample data → snapshot → replay in wasmtime → per-tier report.
pub fn demo(args: &[String]) -> Result<(), String> {
    let d = demo_args(args)?;
    let module = build(&[])?;
    let mut host = cargo();
    host.args(["build", "--locked", "-p", "edgeseg-host", "--bin", "edgeseg"]);
    if d.release {
        host.arg("--release");
    }
    run(&mut host)?;
    let bin = target_dir().join(if d.release { "release" } else { "debug" }).join("edgeseg");
    let dir = target_dir().join("demo");
    let edgeseg = || {
        let mut c = Command::new(&bin);
        c.current_dir(root());
        c
    };
    let snapshot = dir.join("demo.snapshot");
    step("sample data (deterministic, seed 42)");
    run(edgeseg()
        .args(["sample", "--seed", "42", "--members", &d.members, "--requests", &d.requests])
        .arg("--out-dir")
        .arg(&dir))?;
    step("build the snapshot");
    run(edgeseg()
        .args(["build", "--definitions", "snapshots/data/demo.json"])
        .arg("--members")
        .arg(dir.join("members.csv"))
        .arg("--out")
        .arg(&snapshot))?;
    step("inspect the snapshot");
    run(edgeseg().arg("inspect").arg(&snapshot))?;
    step("a revocation delta: opt-outs received since the build");
    let delta = dir.join("revocations.delta");
    run(edgeseg()
        .args(["revoke", "--sequence", "1", "--created-ms", "1763720000000", "--snapshot"])
        .arg(&snapshot)
        .arg("--revocations")
        .arg(dir.join("revocations.txt"))
        .arg("--out")
        .arg(&delta))?;
    step("replay the sample traffic through the wasm module in wasmtime (the delta lands halfway)");
    let halfway = d.requests.parse::<u64>().map_err(|e| format!("--requests: {e}"))? / 2;
    run(edgeseg()
        .arg("replay")
        .arg("--module")
        .arg(&module)
        .arg("--snapshot")
        .arg(&snapshot)
        .arg("--traffic")
        .arg(dir.join("traffic.jsonl"))
        .arg("--delta")
        .arg(format!("{}@{halfway}", delta.display())))?;
    Ok(())
}

/// Installs the Debian packages that are missing (`dpkg -s` says which). CI runs as root on a
/// Debian machine; elsewhere the error says what to install by hand.
pub(crate) fn apt_install(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !Command::new("dpkg").args(["-s", p]).output().is_ok_and(|o| o.status.success()))
        .collect();
    if missing.is_empty() {
        eprintln!("ok: {} already installed", packages.join(", "));
        return Ok(());
    }
    let hint =
        |e: String| format!("{e}\ninstall by hand: apt-get install -y --no-install-recommends {}", missing.join(" "));
    run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive")).map_err(hint)?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .map_err(hint)
}

/// Seconds per fuzz target in `cargo xtask test` (`cargo xtask fuzz` defaults to 60).
const FUZZ_SECONDS: u32 = 10;

/// Everything CI runs. Installs what it needs first: a fresh machine has only rustup, cargo, Node, git.
/// `cargo xtask test-js`: the JS half of [`test`] alone (it needs the `edgeseg` CLI for its
/// snapshots, which `test` gets from the demo step).
pub fn test_js(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("test-js: unknown argument {a}"));
    }
    let started = Instant::now();
    run(cargo().args(["build", "--locked", "-p", "edgeseg-host", "--bin", "edgeseg"]))?;
    crate::js::test(&target_dir().join("debug").join("edgeseg"))?;
    eprintln!("\nxtask test-js: all steps passed in {:.0?}", started.elapsed());
    Ok(())
}

/// `cargo xtask test-spark`: the Spark half of [`test`] alone.
pub fn test_spark(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("test-spark: unknown argument {a}"));
    }
    let started = Instant::now();
    let module = build(&[])?;
    crate::spark::test(&module)?;
    eprintln!("\nxtask test-spark: all steps passed in {:.0?}", started.elapsed());
    Ok(())
}

pub fn test(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("test: unknown argument {a}"));
    }
    let started = Instant::now();
    let cfg = config::load(&root())?.raw;

    step("rustup targets (wasm32 for the module, a no-std target for the core)");
    rustup_targets(&[&cfg.target, "thumbv7em-none-eabihf"])?;
    run(Command::new("rustup").current_dir(root()).args(["component", "add", "clippy", "rustfmt"]))?;

    step(
        "Debian packages the tests drive (promtool from `prometheus`, amtool from `prometheus-alertmanager`; nginx and chromium for the traffic readers)",
    );
    apt_install(&["prometheus", "prometheus-alertmanager", "nginx", "chromium"])?;

    step("raw-ABI module");
    let module = build(&[])?;

    step("guard: the raw build's dependency tree has no JS glue");
    let tree =
        output(
            cargo()
                .args(["tree", "--locked", "-p", &cfg.package, "--target", &cfg.target, "-e", "normal,build"])
                .args(["--no-default-features", "--features", &cfg.features.join(","), "--prefix", "none"]),
        )?;
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if cfg.forbidden_crates.iter().any(|f| f == name) {
            return Err(format!("the raw build depends on {name}:\n{tree}"));
        }
    }
    eprintln!("ok: none of {:?}", cfg.forbidden_crates);

    step("guard: the module's imports");
    let wasm = std::fs::read(&module).map_err(|e| format!("{}: {e}", module.display()))?;
    let imports = crate::wasm::imports(&wasm)?;
    let unexpected: Vec<&String> = imports.iter().filter(|i| !cfg.allowed_imports.contains(i)).collect();
    if !unexpected.is_empty() {
        return Err(format!("{} imports {unexpected:?}; allowed: {:?}", module.display(), cfg.allowed_imports));
    }
    eprintln!("ok: {} import(s)", imports.len());

    step("no_std: the core without `bloom` builds for a target that has no std");
    run(cargo()
        .args(["rustc", "--locked", "-p", "edgeseg", "--lib", "--crate-type", "rlib", "--no-default-features"])
        .args(["--target", "thumbv7em-none-eabihf", "--", "-D", "warnings"]))?;

    step("rustfmt");
    run(cargo().args(["fmt", "--all", "--check"]))?;

    step("clippy (native workspace, and the edge for wasm32)");
    run(cargo().args(["clippy", "--locked", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    run(cargo()
        .args(["clippy", "--locked", "-p", "edgeseg", "--target", &cfg.target, "--no-default-features"])
        .args(["--features", &cfg.features.join(","), "--", "-D", "warnings"]))?;
    let js = config::load(&root())?.js;
    run(cargo()
        .args(["clippy", "--locked", "-p", "edgeseg", "--target", &cfg.target, "--no-default-features"])
        .args(["--features", &js.features.join(","), "--lib", "--tests", "--", "-D", "warnings"])
        // The skin's test embeds the snapshot and delta named here; clippy only needs the files to
        // exist (the real ones are built by the JS step).
        .env("EDGESEG_JS_SNAPSHOT", root().join("Cargo.toml"))
        .env("EDGESEG_JS_DELTA", root().join("Cargo.toml")))?;

    step("tests: unit, spec (native + wasmtime), CLI, goldens");
    run(cargo().args(["test", "--locked", "--workspace"]).env("EDGESEG_WASM", &module))?;

    // clippy --all-targets above compiled the bench code; this runs every case of it once on tiny
    // inputs (no criterion, nothing timed) so a harness that panics or disagrees fails here, not
    // at the next `cargo xtask bench`.
    step("bench smoke run (tests/benches/edgeseg without --bench: each case once, answers checked)");
    run(cargo().args(["test", "--locked", "-p", "edgeseg-tests", "--bench", "edgeseg"]).env("EDGESEG_WASM", &module))?;

    step("examples run (host/examples)");
    run(cargo()
        .args(["run", "--locked", "-q", "-p", "edgeseg-host", "--example", "replay_synthetic", "--"])
        .arg(&module)
        .arg("2000"))?;

    step("the README's demo, end to end (smaller data)");
    demo(&["--members".into(), "20000".into(), "--requests".into(), "5000".into()])?;

    // After the demo: the `edgeseg` CLI it built makes the JS tests' snapshot.
    crate::js::test(&target_dir().join("debug").join("edgeseg"))?;

    // The Python package and the Spark job: a venv, a wheel, PySpark in local mode.
    crate::spark::test(&module)?;

    // Both modules were just built; both are within their gzip budgets, and this keeps them there.
    step("size: both modules against their gzip budgets and the peers; the raw module's biggest functions");
    crate::size::size(&["--reuse".into(), "--check".into()])?;

    step("fuzz: a short bounded run of every target (needs a nightly toolchain)");
    if crate::fuzz::nightly_installed() {
        let fuzzing = Instant::now();
        crate::fuzz::run(FUZZ_SECONDS, None)?;
        eprintln!("fuzz step: {:.0?}", fuzzing.elapsed());
    } else {
        eprintln!("skipped: no nightly toolchain (rustup toolchain install nightly --profile minimal)");
    }

    eprintln!("\nxtask test: all steps passed in {:.0?}", started.elapsed());
    Ok(())
}
