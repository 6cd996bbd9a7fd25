//! `cargo xtask size`: what the wasm artefacts weigh, against their budgets and the peers.
//!
//! Sizes are bytes on disk and gzip at flate2's best compression (level 9), the way a CDN or npm
//! serves them. Budgets come from `wasm-pack.toml` in bytes; KB here is 1024 bytes (the raw-ABI
//! module's 64 KB budget is 65,536 bytes, the JS module's 80 KB is 81,920). The JS module's budget
//! covers what a Worker ships: the web build's `_bg.wasm` after wasm-opt, its JS glue and its
//! snippets (the skin's JS half, minified by esbuild).
//!
//! The peers' sizes are their own published gzip figures, not measured here.
//!
//! The top-contributors list reads function names from the `name` section, which the shipped
//! module does not carry: a second copy is built with the `wasm-names` profile (the `wasm` profile,
//! unstripped) and run through the same wasm-opt flags, `--strip-dwarf` for `--strip-debug`, for this
//! analysis only. Names are demangled without their hashes.

use crate::config;
use crate::tasks::{cargo, gzip_len, root, run, target_dir, wasm_opt};
use crate::wasm;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

const KB: u64 = 1024;
const TOP: usize = 20;
/// The unstripped twin of the `wasm` profile (root Cargo.toml).
const NAMES_PROFILE: &str = "wasm-names";

/// Published gzip sizes of comparable engines, in KB (1024 bytes).
const PEERS: [(&str, u64); 3] =
    [("flagd-evaluator", 851), ("Unleash Yggdrasil pure-wasm", 254), ("Flipt client engine", 161)];

#[derive(Debug, Serialize)]
struct Artefact {
    name: &'static str,
    path: String,
    raw_bytes: u64,
    gzip_bytes: u64,
    /// None for the parts of a whole that carries the budget (the JS module's wasm and glue).
    budget_gzip_bytes: Option<u64>,
    pass: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Peer {
    name: &'static str,
    published_gzip_bytes: u64,
    /// The peer's published gzip size over ours (how many times smaller edgeseg is).
    times_raw_abi: f64,
    times_js: f64,
}

#[derive(Debug, Serialize)]
struct Contributor {
    name: String,
    bytes: u64,
    percent_of_code: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    kb: u64,
    artefacts: Vec<Artefact>,
    peers: Vec<Peer>,
    code_bytes: u64,
    /// The data section (strings, tables): not in the function list.
    data_bytes: u64,
    functions: usize,
    top_contributors: Vec<Contributor>,
    pass: bool,
}

struct Args {
    json: bool,
    check: bool,
    reuse: bool,
}

fn args(args: &[String]) -> Result<Args, String> {
    let mut a = Args { json: false, check: false, reuse: false };
    for arg in args {
        match arg.as_str() {
            "--json" => a.json = true,
            "--check" => a.check = true,
            "--reuse" => a.reuse = true,
            other => return Err(format!("size: unknown argument {other}")),
        }
    }
    Ok(a)
}

fn len(path: &Path) -> Result<u64, String> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e} (build it first, or drop --reuse)", path.display()))
}

fn artefact(name: &'static str, path: &Path, budget: Option<u64>) -> Result<Artefact, String> {
    let gzip_bytes = gzip_len(path)?;
    Ok(Artefact {
        name,
        path: path.strip_prefix(root()).unwrap_or(path).display().to_string(),
        raw_bytes: len(path)?,
        gzip_bytes,
        budget_gzip_bytes: budget,
        pass: budget.map(|b| gzip_bytes <= b),
    })
}

/// The raw-ABI module with its `name` section: built unstripped, then the shipped wasm-opt flags
/// with `--strip-dwarf` for `--strip-debug` (which would drop the names), plus `--debuginfo`.
fn named_module(raw: &config::Raw) -> Result<PathBuf, String> {
    run(cargo().args(["build", "--locked", "-p", &raw.package, "--lib", "--target", &raw.target]).args([
        "--profile",
        NAMES_PROFILE,
        "--no-default-features",
        "--features",
        &raw.features.join(","),
    ]))?;
    let file = format!("{}.wasm", raw.package.replace('-', "_"));
    let built = target_dir().join(&raw.target).join(NAMES_PROFILE).join(&file);
    let dir = target_dir().join("size");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join(file.replace(".wasm", ".names.wasm"));
    // `--strip-dwarf` instead of `--strip-debug`: DWARF left in would make wasm-opt skip passes.
    let flags = raw.wasm_opt.iter().map(|f| if f == "--strip-debug" { "--strip-dwarf" } else { f.as_str() });
    run(Command::new(wasm_opt(&raw.binaryen)?).args(flags).arg("--debuginfo").arg(&built).arg("-o").arg(&out))?;
    Ok(out)
}

/// Every `.js` file under `dir` (wasm-bindgen's snippets: the skin's JS half), each gzipped on its
/// own as a CDN serves them.
fn snippets(dir: &Path) -> Result<Vec<Artefact>, String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(out) };
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            out.extend(snippets(&path)?);
        } else if path.extension().is_some_and(|e| e == "js") {
            out.push(artefact("snippet", &path, None)?);
        }
    }
    Ok(out)
}

fn report(a: &Args) -> Result<Report, String> {
    let cfg = config::load(&root())?;
    let raw_module = if a.reuse { root().join(&cfg.raw.out) } else { crate::tasks::build(&[])? };
    let pkg = if a.reuse { root().join(&cfg.js.out) } else { crate::js::build(&[])? };
    let web = pkg.join("web");
    let raw = artefact("raw-ABI module", &raw_module, Some(cfg.raw.budget_gzip_bytes))?;
    let js_wasm = artefact("JS module wasm (web)", &web.join("edgeseg_bg.wasm"), None)?;
    let js_glue = artefact("JS module glue (web)", &web.join("edgeseg.js"), None)?;
    let snippets = snippets(&web.join("snippets"))?;
    let js_snippets = Artefact {
        name: "JS module snippets (web)",
        path: format!("{}/web/snippets", cfg.js.out),
        raw_bytes: snippets.iter().map(|a| a.raw_bytes).sum(),
        gzip_bytes: snippets.iter().map(|a| a.gzip_bytes).sum(),
        budget_gzip_bytes: None,
        pass: None,
    };
    let js_gzip = js_wasm.gzip_bytes + js_glue.gzip_bytes + js_snippets.gzip_bytes;
    let js_total = Artefact {
        name: "JS module, wasm + glue + snippets",
        path: format!("{}/web", cfg.js.out),
        raw_bytes: js_wasm.raw_bytes + js_glue.raw_bytes + js_snippets.raw_bytes,
        gzip_bytes: js_gzip,
        budget_gzip_bytes: Some(cfg.js.budget_gzip_bytes),
        pass: Some(js_gzip <= cfg.js.budget_gzip_bytes),
    };
    let ratio = |peer: u64, ours: u64| (peer as f64 / ours.max(1) as f64 * 10.0).round() / 10.0;
    let peers = PEERS
        .iter()
        .map(|&(name, kb)| Peer {
            name,
            published_gzip_bytes: kb * KB,
            times_raw_abi: ratio(kb * KB, raw.gzip_bytes),
            times_js: ratio(kb * KB, js_gzip),
        })
        .collect();

    let named = named_module(&cfg.raw)?;
    let bytes = std::fs::read(&named).map_err(|e| format!("{}: {e}", named.display()))?;
    let mut functions = wasm::functions(&bytes)?;
    let data_bytes = wasm::data_bytes(&bytes)?;
    let code_bytes: u64 = functions.iter().map(|f| f.body_bytes).sum();
    let count = functions.len();
    functions.sort_by(|x, y| y.body_bytes.cmp(&x.body_bytes).then_with(|| x.name.cmp(&y.name)));
    let top_contributors = functions
        .into_iter()
        .take(TOP)
        .map(|f| Contributor {
            percent_of_code: (f.body_bytes as f64 * 1000.0 / code_bytes.max(1) as f64).round() / 10.0,
            name: format!("{:#}", rustc_demangle::demangle(&f.name)),
            bytes: f.body_bytes,
        })
        .collect();
    let pass = raw.pass != Some(false) && js_total.pass != Some(false);
    Ok(Report {
        kb: KB,
        artefacts: vec![raw, js_wasm, js_glue, js_snippets, js_total],
        peers,
        code_bytes,
        data_bytes,
        functions: count,
        top_contributors,
        pass,
    })
}

fn print_table(r: &Report) {
    println!("\nsizes (gzip = flate2 level 9; KB = {} bytes)", r.kb);
    println!("{:<34} {:>9} {:>9} {:>14} {:>6}  path", "artefact", "raw", "gzip", "budget (gzip)", "result");
    for a in &r.artefacts {
        let budget = a.budget_gzip_bytes.map_or("-".to_string(), |b| format!("{b} ({} KB)", b / r.kb));
        let result = match a.pass {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "",
        };
        println!("{:<34} {:>9} {:>9} {:>14} {:>6}  {}", a.name, a.raw_bytes, a.gzip_bytes, budget, result, a.path);
    }
    println!("\npeers (published gzip sizes, not measured here): how many times edgeseg's gzip size");
    println!("{:<28} {:>10} {:>10} {:>10}", "peer", "published", "raw-ABI", "JS");
    for p in &r.peers {
        println!(
            "{:<28} {:>7} KB {:>9.1}x {:>9.1}x",
            p.name,
            p.published_gzip_bytes / r.kb,
            p.times_raw_abi,
            p.times_js
        );
    }
    println!(
        "\ntop {} contributors to the raw-ABI module (function bodies after wasm-opt; {} functions, {} bytes of code;",
        r.top_contributors.len(),
        r.functions,
        r.code_bytes
    );
    println!("the data section's {} bytes of strings and tables are not listed)", r.data_bytes);
    println!("{:>7} {:>6}  function", "bytes", "%code");
    for c in &r.top_contributors {
        println!("{:>7} {:>5.1}%  {}", c.bytes, c.percent_of_code, c.name);
    }
}

pub fn size(raw_args: &[String]) -> Result<(), String> {
    let a = args(raw_args)?;
    let r = report(&a)?;
    if a.json {
        let text = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print_table(&r);
    }
    let failed: Vec<&str> = r.artefacts.iter().filter(|x| x.pass == Some(false)).map(|x| x.name).collect();
    if failed.is_empty() {
        eprintln!("size: every artefact is within its gzip budget");
        Ok(())
    } else {
        eprintln!("size: over budget: {}", failed.join(", "));
        if a.check { Err(format!("over the gzip budget: {}", failed.join(", "))) } else { Ok(()) }
    }
}
