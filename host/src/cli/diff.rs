//! `edgeseg diff`: the same traffic through two snapshots; tier transitions and gates.

use super::TrafficArgs;
use crate::diff::{Gates, diff};
use crate::guest::{Guest, GuestConfig};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The snapshot serving today.
    #[arg(long, value_name = "FILE")]
    pub old: PathBuf,
    /// The snapshot about to ship.
    #[arg(long, value_name = "FILE")]
    pub new: PathBuf,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    /// The edgeseg wasm module [default: $EDGESEG_WASM, else target/wasm/edgeseg.wasm].
    #[arg(long, value_name = "FILE")]
    pub module: Option<PathBuf>,
    /// Fail if any request leaves this tier for a lower one. Repeatable.
    #[arg(long, value_name = "TIER")]
    pub forbid_demotion: Vec<String>,
    /// Fail if more than this share of requests changes tier, e.g. `1%` or `0.5`.
    #[arg(long, value_name = "PCT")]
    pub max_moved: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run_diff(args: &DiffArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let max_moved_pct = match &args.max_moved {
        Some(v) => {
            let pct: f64 = v.trim_end_matches('%').trim().parse().with_context(|| format!("--max-moved {v:?}"))?;
            if !(0.0..=100.0).contains(&pct) {
                anyhow::bail!("--max-moved {v:?} is not a percentage");
            }
            Some(pct)
        }
        None => None,
    };
    let module = super::module_path(args.module.as_ref());
    let mut old = Guest::from_file(&module, GuestConfig::default())?;
    let mut new = old.sibling(GuestConfig::default())?;
    for (guest, path) in [(&mut old, &args.old), (&mut new, &args.new)] {
        let bytes = std::fs::read(path).with_context(|| format!("reading snapshot {}", path.display()))?;
        guest.load_snapshot(&bytes).with_context(|| format!("loading snapshot {}", path.display()))?;
    }
    let mut traffic = args.traffic.open()?;
    for note in &traffic.notes {
        eprintln!("note: {note}");
    }
    let gates = Gates { forbid_demotion: args.forbid_demotion.clone(), max_moved_pct };
    let report = diff(&mut old, &mut new, &mut traffic, args.traffic.skip_malformed, &gates);
    traffic.finish();
    let report = report?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report.to_text())?;
    }
    let failed: Vec<String> =
        report.gates.iter().filter(|g| !g.passed).map(|g| format!("{}: {}", g.gate, g.explanation)).collect();
    if !failed.is_empty() {
        anyhow::bail!("gate failed: {}", failed.join("; "));
    }
    Ok(())
}
