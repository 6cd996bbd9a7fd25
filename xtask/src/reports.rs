//! The reports' browser test data (issue 26): the demo's 50k-request replay and a demoting diff,
//! each written by the `edgeseg` CLI as HTML, Markdown and JSON into `target/reports/`, for
//! `js/test/reports.test.mjs` to load in headless Chromium (screenshots land there too).

use crate::tasks::{output, root, target_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The demo definitions' premium segment, and the same restricted to a lifetime value above 700:
/// the rule change `diff` must catch (as in `tests/suite/diff.rs`).
const PREMIUM: &str = r#""members": {"where": {"==": [{"var": "plan"}, "premium"]}, "encoding": "exact"}"#;
const PREMIUM_NARROWED: &str = r#""members": {"where": {"and": [{"==": [{"var": "plan"}, "premium"]}, {">": [{"var": "ltv"}, 700]}]}, "encoding": "exact"}"#;

/// Runs `cmd`, writes its standard output to `out` and says whether it succeeded.
fn run_to(cmd: &mut Command, out: &Path) -> Result<bool, String> {
    eprintln!("$ {:?} > {}", cmd, out.display());
    let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    std::fs::write(out, &o.stdout).map_err(|e| format!("{}: {e}", out.display()))?;
    eprint!("{}", String::from_utf8_lossy(&o.stderr));
    Ok(o.status.success())
}

/// Renders the reports with `edgeseg` (the CLI) and `module` (the raw-ABI module) and returns
/// their directory.
pub fn render(edgeseg: &Path, module: &Path) -> Result<PathBuf, String> {
    let dir = target_dir().join("reports");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cli = || {
        let mut c = Command::new(edgeseg);
        c.current_dir(root());
        c
    };
    output(
        cli().args(["sample", "--members", "100000", "--requests", "50000", "--seed", "42", "--out-dir"]).arg(&dir),
    )?;
    let defs =
        std::fs::read_to_string(root().join("snapshots/data/demo.json")).map_err(|e| format!("demo.json: {e}"))?;
    if !defs.contains(PREMIUM) {
        return Err("the demo's premium segment changed shape; update xtask/src/reports.rs".into());
    }
    let demoting = defs.replace(PREMIUM, PREMIUM_NARROWED).replace(r#""version": 1,"#, r#""version": 2,"#);
    std::fs::write(dir.join("demoting.json"), demoting).map_err(|e| format!("demoting.json: {e}"))?;
    for (defs, out) in
        [(root().join("snapshots/data/demo.json"), "demo.snapshot"), (dir.join("demoting.json"), "demoting.snapshot")]
    {
        output(
            cli()
                .arg("build")
                .arg("--definitions")
                .arg(defs)
                .arg("--members")
                .arg(dir.join("members.csv"))
                .args(["--seed", "42", "--out"])
                .arg(dir.join(out)),
        )?;
    }
    let traffic = dir.join("traffic.jsonl");
    let replayed = run_to(
        cli()
            .arg("replay")
            .arg("--module")
            .arg(module)
            .arg("--snapshot")
            .arg(dir.join("demo.snapshot"))
            .arg("--traffic")
            .arg(&traffic)
            .args(["--no-progress", "--json", "--html"])
            .arg(dir.join("replay.html"))
            .arg("--markdown")
            .arg(dir.join("replay.md")),
        &dir.join("replay.json"),
    )?;
    if !replayed {
        return Err("edgeseg replay of the demo failed".into());
    }
    // The premium gate must trip: the command fails, and still leaves its reports.
    eprintln!("(the diff below must fail its premium gate: its `error: gate failed` is expected)");
    let diffed = run_to(
        cli()
            .arg("diff")
            .arg("--module")
            .arg(module)
            .arg("--old")
            .arg(dir.join("demo.snapshot"))
            .arg("--new")
            .arg(dir.join("demoting.snapshot"))
            .arg("--traffic")
            .arg(&traffic)
            .args(["--no-progress", "--forbid-demotion", "premium", "--max-moved", "50%", "--json", "--html"])
            .arg(dir.join("diff.html"))
            .arg("--markdown")
            .arg(dir.join("diff.md")),
        &dir.join("diff.json"),
    )?;
    if diffed {
        return Err("edgeseg diff passed a rule change that demotes premium members".into());
    }
    Ok(dir)
}
