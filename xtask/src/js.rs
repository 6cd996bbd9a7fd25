//! The JS skin: the npm package (`cargo xtask build-js`) and its tests in real runtimes.
//!
//! Everything is installed from package registries into the repo's `target/tools/` (CI is a fresh
//! machine and caches nothing): `wasm-bindgen-cli` at exactly the crate's pinned version (without
//! `--locked`: its lock file names a crate version the registry lacks), `wasm-pack`, the `[raw]`
//! binaryen pin from npm, Deno from npm `deno`, and the test runtimes from
//! `js/test/package-lock.json` with `npm ci`.
//! Headless Chromium and its driver come from Debian (`apt-get`, CI runs as root). Debian's
//! binaryen is never installed: its wasm-opt breaks wasm-bindgen output.

use crate::config;
use crate::tasks::{cargo, gzip_len, output, root, run, step, target_dir, wasm_opt};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Tools {
    wasm_pack: PathBuf,
    test_runner: PathBuf,
    wasm_opt: PathBuf,
    /// binaryen first, then wasm-bindgen: wasm-pack takes both from PATH (and downloads nothing
    /// with `--mode no-install`).
    path: OsString,
}

pub(crate) fn cargo_install(name: &str, version: &str, bin: &str, locked: bool) -> Result<PathBuf, String> {
    let dir = target_dir().join("tools").join(format!("{name}-{version}"));
    let exe = dir.join("bin").join(bin);
    if !exe.is_file() {
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(["install", name, "--version", version, "--root"]).arg(&dir);
        if locked {
            cmd.arg("--locked");
        }
        run(&mut cmd)?;
    }
    Ok(exe)
}

fn tools(js: &config::Js, raw: &config::Raw) -> Result<Tools, String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    if !manifest.contains(&format!("wasm-bindgen = {{ version = \"={}\"", js.wasm_bindgen)) {
        return Err(format!(
            "Cargo.toml must pin the wasm-bindgen crate to \"={}\" (wasm-pack.toml [js])",
            js.wasm_bindgen
        ));
    }
    let bindgen = cargo_install("wasm-bindgen-cli", &js.wasm_bindgen, "wasm-bindgen", false)?;
    let wasm_pack = cargo_install("wasm-pack", &js.wasm_pack, "wasm-pack", true)?;
    let wasm_opt = wasm_opt(&raw.binaryen)?;
    let dirs = [wasm_opt.parent(), bindgen.parent()].into_iter().flatten().map(Path::to_path_buf);
    let path = std::env::join_paths(dirs.chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())))
        .map_err(|e| format!("PATH: {e}"))?;
    let test_runner = bindgen.with_file_name("wasm-bindgen-test-runner");
    Ok(Tools { wasm_pack, test_runner, wasm_opt, path })
}

/// Builds the npm package: one wasm-pack build per target, wasm-opt on each module, then the
/// package manifest, README, Worker adapter and browser helper from `js/`.
pub fn build(_args: &[String]) -> Result<PathBuf, String> {
    let cfg = config::load(&root())?;
    let (raw, js) = (cfg.raw, cfg.js);
    crate::tasks::rustup_targets(&[&raw.target])?;
    let tools = tools(&js, &raw)?;
    let esbuild = esbuild(&js.esbuild)?;
    let out = root().join(&js.out);
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    for target in &js.targets {
        let dir = out.join(target);
        run(Command::new(&tools.wasm_pack)
            .env("PATH", &tools.path)
            .args(["build", "--mode", "no-install", "--no-pack", "--no-opt", "--target", target])
            .args(["--profile", &js.profile, "--out-name", "edgeseg", "--out-dir"])
            .arg(&dir)
            .arg(root().join(&js.crate_dir))
            .args(["--", "--locked", "--no-default-features", "--features", &js.features.join(",")]))?;
        let wasm = dir.join("edgeseg_bg.wasm");
        run(Command::new(&tools.wasm_opt).args(&raw.wasm_opt).arg(&wasm).arg("-o").arg(&wasm))?;
        if target == "web" {
            add_reset(&dir)?;
        }
        // The skin's JS half ships minified; the nodejs glue is CommonJS and so must it be.
        let format = if target == "nodejs" { "cjs" } else { "esm" };
        minify_snippets(&esbuild, &dir.join("snippets"), format)?;
        // wasm-pack leaves a `*` .gitignore that would hide the folder from `npm pack`.
        let _ = std::fs::remove_file(dir.join(".gitignore"));
    }
    // The nodejs target is CommonJS inside a `"type": "module"` package.
    write(&out.join("nodejs").join("package.json"), "{ \"type\": \"commonjs\" }\n")?;
    let src = root().join(&js.package_dir);
    for entry in std::fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_file() {
            let to = out.join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &to).map_err(|e| format!("{} -> {}: {e}", path.display(), to.display()))?;
        }
    }
    let manifest = std::fs::read_to_string(out.join("package.json")).map_err(|e| format!("package.json: {e}"))?;
    let version = env!("CARGO_PKG_VERSION");
    if !manifest.contains(&format!("\"version\": \"{version}\"")) {
        return Err(format!(
            "{}/package.json must say \"version\": \"{version}\" (the workspace version)",
            js.package_dir
        ));
    }
    let wasm = out.join("web").join("edgeseg_bg.wasm");
    let raw_len = std::fs::metadata(&wasm).map_err(|e| format!("{}: {e}", wasm.display()))?.len();
    let gz = gzip_len(&wasm)?;
    let glue = out.join("web").join("edgeseg.js");
    let glue_len = std::fs::metadata(&glue).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "{}/web/edgeseg_bg.wasm: {raw_len} bytes raw, {gz} bytes gzip (budget {} gzip); glue edgeseg.js: {glue_len} bytes raw, {} bytes gzip",
        js.out,
        js.budget_gzip_bytes,
        gzip_len(&glue)?
    );
    if gz > js.budget_gzip_bytes {
        eprintln!("warning: the JS module is over its gzip budget");
    }
    Ok(out)
}

/// Minifies every snippet under `dir` in place with esbuild, as an ES module or (`cjs`) CommonJS:
/// the nodejs target's glue `require`s its snippets, and Node before 20.19 cannot `require` an ES
/// module (the package promises Node ≥ 18).
fn minify_snippets(esbuild: &Path, dir: &Path, format: &str) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            minify_snippets(esbuild, &path, format)?;
        } else if path.extension().is_some_and(|e| e == "js") {
            run(Command::new(esbuild)
                .arg(&path)
                .args(["--minify", "--log-level=warning", "--allow-overwrite", "--target=es2020"])
                .arg(format!("--format={format}"))
                .arg(format!("--outfile={}", path.display())))?;
        }
    }
    Ok(())
}

/// esbuild from npm `esbuild` at exactly `version`, under `target/tools`.
fn esbuild(version: &str) -> Result<PathBuf, String> {
    let bin = crate::tasks::npm_tool("esbuild", version, "esbuild")?;
    let reported = output(Command::new(&bin).arg("--version"))?;
    if reported.trim() != version {
        return Err(format!("{} reports {reported:?}, wasm-pack.toml pins esbuild {version}", bin.display()));
    }
    Ok(bin)
}

/// The instance variable of wasm-bindgen's web glue, which [`add_reset`] clears.
const GLUE_INSTANCE: &str = "let wasmModule, wasmInstance, wasm;";

/// Appends `__edgesegReset()` to the web glue: it forgets the instance, so the next `initSync`
/// instantiates the module afresh. The Worker adapter (`js/worker.js`) calls it after a wasm trap,
/// which can leave an instance's shadow stack and allocator mid-call. wasm-bindgen's own
/// `--experimental-reset-state-function` (which wasm-pack cannot pass) would guard every method
/// with an instance check, about 300 bytes of gzip against the JS budget; this is one line.
fn add_reset(dir: &Path) -> Result<(), String> {
    let glue = dir.join("edgeseg.js");
    let mut text = std::fs::read_to_string(&glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    if !text.contains(GLUE_INSTANCE) {
        return Err(format!(
            "{}: wasm-bindgen's glue no longer declares `{GLUE_INSTANCE}`; update xtask's add_reset",
            glue.display()
        ));
    }
    text.push_str("export function __edgesegReset(){wasm=undefined}\n");
    write(&glue, &text)?;
    let types = dir.join("edgeseg.d.ts");
    let mut decl = std::fs::read_to_string(&types).map_err(|e| format!("{}: {e}", types.display()))?;
    decl.push_str("/** Forgets the instance: the next `initSync` instantiates the module afresh (after a trap). */\nexport function __edgesegReset(): void;\n");
    write(&types, &decl)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Deno from npm `deno` at exactly `version`, under `target/tools`.
fn deno(version: &str) -> Result<PathBuf, String> {
    let bin = crate::tasks::npm_tool("deno", version, "deno")?;
    let reported = output(Command::new(&bin).arg("--version"))?;
    if !reported.starts_with(&format!("deno {version} ")) {
        return Err(format!("{} reports {reported:?}, wasm-pack.toml pins deno {version}", bin.display()));
    }
    Ok(bin)
}

/// The sharded test data under `dir/shards` (issue 18), for `js/test/shards.test.mjs`:
/// * `big.head` + `big.shard-XXXX`: 10^6 synthetic members in 64 shards (the demo definitions), for
///   the Worker in workerd;
/// * `whole.snapshot`, and `small.head` + 64 shards: the same 10^5 members and fingerprint key
///   (`--seed 7`), from the demo definitions with `churn-risk` made `exact` (a bloom filter's false
///   positives differ between any two builds; tests/suite/shards.rs does the same natively), and
///   `sample/traffic.jsonl`: 5,000 requests for that population, decided through both.
fn shard_snapshots(edgeseg: &Path, dir: &Path) -> Result<PathBuf, String> {
    let out = dir.join("shards");
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let demo = root().join("snapshots/data/demo.json");
    let text = std::fs::read_to_string(&demo).map_err(|e| format!("{}: {e}", demo.display()))?;
    let mut defs: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", demo.display()))?;
    for seg in defs["segments"].as_array_mut().into_iter().flatten() {
        if let Some(members) = seg.get_mut("members").and_then(|m| m.as_object_mut()) {
            members.insert("encoding".into(), "exact".into());
            members.remove("fp_rate");
        }
    }
    let exact = out.join("demo-exact.json");
    write(&exact, &defs.to_string())?;
    // The pair compared byte for byte shares its creation time too (the Worker's snapshot is
    // created now: one created at a fixed past time would have expired).
    let build = |defs: &Path, members: &str, name: &str, sharded: bool, created: &[&str]| {
        let mut cmd = Command::new(edgeseg);
        cmd.arg("build").arg("--definitions").arg(defs).args(["--synthetic-members", members, "--no-progress"]);
        cmd.args(["--seed", "7", "--snapshot-version", "7"]).args(created).arg("--out").arg(out.join(name));
        if sharded {
            cmd.args(["--shards", "64"]);
        }
        run(&mut cmd)
    };
    let fixed = ["--created-ms", "1763700000000"];
    build(&demo, "1000000", "big.head", true, &[])?;
    build(&exact, "100000", "whole.snapshot", false, &fixed)?;
    build(&exact, "100000", "small.head", true, &fixed)?;
    run(Command::new(edgeseg)
        .args(["sample", "--members", "100000", "--requests", "5000", "--seed", "42", "--out-dir"])
        .arg(out.join("sample")))?;
    Ok(out)
}

/// Debian's headless Chromium and chromedriver, installed when missing (CI runs as root on Debian).
fn chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file() {
        return Ok(());
    }
    crate::tasks::apt_install(&["chromium", "chromium-driver"])
}

/// The JS tests, in real runtimes. `edgeseg` is the CLI binary (builds the test snapshot).
pub fn test(edgeseg: &Path) -> Result<(), String> {
    let cfg = config::load(&root())?;
    let tools = tools(&cfg.js, &cfg.raw)?;

    step(
        "JS: Debian chromium + chromedriver, and promtool (`prometheus`) for the Worker's metrics; npm ci of the test runtimes (workerd, playwright-core, tsc); Deno",
    );
    chromium()?;
    crate::tasks::apt_install(&["prometheus"])?;
    let npm_dir = root().join("js").join("test");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&npm_dir))?;
    let deno = deno(&cfg.js.deno)?;
    let versions = [
        output(Command::new("node").arg("--version"))?,
        output(Command::new(CHROMIUM).arg("--version"))?,
        output(Command::new(npm_dir.join("node_modules/.bin/workerd")).arg("--version"))?,
        output(Command::new(&deno).arg("--version"))?,
    ];

    const JS_TEST_SEED: &str = "20260101";
    step("JS: test snapshot (js/test/members.csv + the demo definitions)");
    let dir = target_dir().join("js");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let snapshot = dir.join("test.snapshot");
    run(Command::new(edgeseg)
        .current_dir(root())
        .args(["build", "--definitions", "snapshots/data/demo.json", "--members", "js/test/members.csv", "--out"])
        .arg(&snapshot)
        // A fixed seed: `churn-risk` is a bloom segment, and with a random seed a member outside it
        // is a false positive about once in a hundred builds, which the tests would see.
        .args(["--seed", JS_TEST_SEED]))?;
    // The same data as version 2, for the Worker's last-known-good tests (v2 serves, then v1
    // arriving again is a rollback and is refused).
    let snapshot_v2 = dir.join("test-v2.snapshot");
    run(Command::new(edgeseg)
        .current_dir(root())
        .args(["build", "--definitions", "snapshots/data/demo.json", "--members", "js/test/members.csv"])
        .args(["--snapshot-version", "2", "--seed", JS_TEST_SEED, "--out"])
        .arg(&snapshot_v2))?;
    // A publisher key pair, the v2 data signed with it, and the same data signed by an impostor,
    // for the Worker's signature tests.
    let keys = |name: &str| -> Result<(), String> {
        for ext in ["key", "pub"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}.{ext}")));
        }
        run(Command::new(edgeseg).arg("keygen").arg("--out").arg(dir.join(name)))
    };
    keys("publisher")?;
    keys("impostor")?;
    let signed = |name: &str, key: &str| -> Result<PathBuf, String> {
        let out = dir.join(format!("test-{name}.snapshot"));
        run(Command::new(edgeseg)
            .current_dir(root())
            .args(["build", "--definitions", "snapshots/data/demo.json", "--members", "js/test/members.csv"])
            .args(["--snapshot-version", "3", "--seed", JS_TEST_SEED, "--signing-key"])
            .arg(dir.join(format!("{key}.key")))
            .arg("--out")
            .arg(&out))?;
        Ok(out)
    };
    let snapshot_signed = signed("signed", "publisher")?;
    let snapshot_impostor = signed("impostor", "impostor")?;
    let public_key = std::fs::read_to_string(dir.join("publisher.pub")).map_err(|e| format!("publisher.pub: {e}"))?;
    let delta = dir.join("test.delta");
    run(Command::new(edgeseg)
        .current_dir(root())
        .args(["revoke", "--revocations", "js/test/revocations.txt", "--sequence", "1", "--snapshot"])
        .arg(&snapshot)
        .arg("--out")
        .arg(&delta))?;

    step("JS: sharded snapshots (10^6 members in 64 shards; 10^5 sharded and whole) and their traffic");
    let shards = shard_snapshots(edgeseg, &dir)?;

    step("JS: npm package (wasm-pack for each target in wasm-pack.toml)");
    let pkg = build(&[])?;

    let wasm_test = |browser: bool| {
        let mut cmd = cargo();
        cmd.args(["test", "--locked", "-p", "edgeseg", "--target", "wasm32-unknown-unknown", "--no-default-features"])
            .args(["--features", &cfg.js.features.join(","), "--test", "js"])
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", &tools.test_runner)
            .env("EDGESEG_JS_SNAPSHOT", &snapshot)
            .env("EDGESEG_JS_DELTA", &delta)
            .env("PATH", &tools.path);
        if browser {
            cmd.env("WASM_BINDGEN_USE_BROWSER", "1").env("CHROMEDRIVER", CHROMEDRIVER);
        }
        run(&mut cmd)
    };
    step("JS: wasm-bindgen-test in Node");
    wasm_test(false)?;
    step("JS: wasm-bindgen-test in headless Chromium");
    wasm_test(true)?;

    let node_test = |file: &str| {
        run(Command::new("node")
            .args(["--test", "--test-reporter", "spec", file])
            .current_dir(&npm_dir)
            .env("EDGESEG_JS_PKG", &pkg)
            .env("EDGESEG_JS_SNAPSHOT", &snapshot)
            .env("EDGESEG_JS_SNAPSHOT_V2", &snapshot_v2)
            .env("EDGESEG_JS_SNAPSHOT_SIGNED", &snapshot_signed)
            .env("EDGESEG_JS_SNAPSHOT_IMPOSTOR", &snapshot_impostor)
            .env("EDGESEG_JS_PUBLIC_KEY", public_key.trim())
            .env("EDGESEG_JS_DELTA", &delta)
            .env("EDGESEG_JS_OUT", &dir)
            .env("EDGESEG_JS_SHARDS", &shards)
            .env("EDGESEG_CHROMIUM", CHROMIUM)
            .env("EDGESEG_DENO", &deno)
            .env("EDGESEG_CLI", edgeseg)
            .env("EDGESEG_REPORTS", target_dir().join("reports")))
    };
    step("JS: the package by name (Node, web, bundler builds; Deno) and its TypeScript types (tsc --strict)");
    node_test("package.test.mjs")?;
    step("JS: the fast path (requests encoded in JS, only what the snapshot reads; decisions read back from bytes)");
    node_test("wire.test.mjs")?;
    step(
        "JS: a smoke run of the JS-path bench (tests/peers/js-bench.mjs, 20 calls: answers checked, times meaningless)",
    );
    let raw = crate::tasks::build(&[])?;
    let peer = crate::bench::peer_module()?;
    run(Command::new("node")
        .arg(root().join("tests/peers/js-bench.mjs"))
        .env("EDGESEG_JS_PKG", &pkg)
        .env("EDGESEG_WASM", &raw)
        .env("EDGESEG_PEER_WASM", &peer)
        .env("EDGESEG_CLI", edgeseg)
        .env("EDGESEG_BENCH_DIR", dir.join("bench"))
        .env("EDGESEG_BENCH_ITERS", "20")
        .env("EDGESEG_BENCH_RUNS", "1"))?;
    step("JS: the Worker adapter in workerd (miniflare), answering real fetches");
    node_test("worker.test.mjs")?;
    step(
        "JS: the Worker's Prometheus metrics in workerd: traffic, a scrape behind its token, a push; promtool check metrics",
    );
    node_test("metrics.test.mjs")?;
    step("JS: sharded snapshots through the Node build and the Worker adapter in workerd");
    node_test("shards.test.mjs")?;
    step("JS: verified identity (edgeseg/identity in Node, the Worker in workerd: JWTs and HMAC cookies)");
    node_test("identity.test.mjs")?;
    step("JS: the browser demo page in headless Chromium (playwright-core)");
    node_test("demo.test.mjs")?;
    step("JS: edgeseg replay/diff --html (the demo's 50k requests, a demoting diff) in headless Chromium");
    crate::reports::render(edgeseg, &crate::tasks::build(&[])?)?;
    node_test("reports.test.mjs")?;

    let [node, chromium, workerd, deno] = versions.map(|v| v.lines().next().unwrap_or("").trim().to_string());
    eprintln!("JS runtimes exercised: Node {node}, {chromium}, {workerd}, {deno}");
    Ok(())
}
