//! `edgeseg diff`: the same traffic through two snapshots; tier transitions and gates.

use super::TrafficArgs;
use crate::diff::{DiffShards, Gates, diff_sharded};
use crate::guest::{Guest, GuestConfig};
use crate::shards::ShardFiles;
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
    /// Directory of the old snapshot's shard files, when it is a sharded head [default: its directory].
    #[arg(long, value_name = "DIR")]
    pub old_shards: Option<PathBuf>,
    /// Directory of the new snapshot's shard files, when it is a sharded head [default: its directory].
    #[arg(long, value_name = "DIR")]
    pub new_shards: Option<PathBuf>,
    /// Bytes of shards each guest holds; least recently used shards are dropped past it
    /// [default: 32 MiB].
    #[arg(long, value_name = "BYTES")]
    pub shard_budget: Option<u64>,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    #[command(flatten)]
    pub module: super::common_args::ModuleArgs,
    /// Fail if any request leaves this tier for a lower one. Repeatable.
    #[arg(long, value_name = "TIER")]
    pub forbid_demotion: Vec<String>,
    /// Fail if more than this share of requests changes tier, e.g. `1%` or `0.5`.
    #[arg(long, value_name = "PCT")]
    pub max_moved: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub reports: super::ReportArgs,
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
    let module = &args.module.path;
    let mut old = Guest::from_file(module, GuestConfig::default())?;
    let mut new = old.sibling(GuestConfig::default())?;
    for (guest, path) in [(&mut old, &args.old), (&mut new, &args.new)] {
        let bytes = std::fs::read(path).with_context(|| format!("reading snapshot {}", path.display()))?;
        guest.load_snapshot(&bytes).with_context(|| format!("loading snapshot {}", path.display()))?;
        if let Some(budget) = args.shard_budget {
            guest.set_shard_budget(budget).context("setting the shard budget")?;
        }
    }
    let shards = DiffShards {
        old: Some(ShardFiles::for_head(&args.old, args.old_shards.as_deref())),
        new: Some(ShardFiles::for_head(&args.new, args.new_shards.as_deref())),
    };
    let mut traffic = args.traffic.open()?;
    for note in &traffic.notes {
        eprintln!("note: {note}");
    }
    let gates = Gates { forbid_demotion: args.forbid_demotion.clone(), max_moved_pct };
    let report = diff_sharded(&mut old, &mut new, &mut traffic, args.traffic.skip_malformed, &gates, &shards);
    traffic.finish();
    let report = report?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report.to_text())?;
    }
    args.reports.write(|| crate::report::diff_html(&report), || crate::report::diff_markdown(&report))?;
    let failed: Vec<String> =
        report.gates.iter().filter(|g| !g.passed).map(|g| format!("{}: {}", g.gate, g.explanation)).collect();
    if !failed.is_empty() {
        anyhow::bail!("gate failed: {}", failed.join("; "));
    }
    Ok(())
}
