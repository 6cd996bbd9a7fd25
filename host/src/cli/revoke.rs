//! `edgeseg revoke`: a revocation delta from a list of opt-outs, for a built snapshot.

use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The snapshot the delta is for (its id, version and fingerprint key are used).
    #[arg(long, value_name = "FILE")]
    pub snapshot: PathBuf,
    /// Revocations, one per line: `id` (every consent-gated purpose) or `id,purpose|purpose`.
    #[arg(long, value_name = "FILE")]
    pub revocations: PathBuf,
    /// Delta sequence number; must grow with every delta published for this snapshot. Deltas are
    /// cumulative: list every revocation since the snapshot was built.
    #[arg(long, value_name = "N")]
    pub sequence: u64,
    /// Creation time in ms [default: now].
    #[arg(long, value_name = "MS")]
    pub created_ms: Option<u64>,
    /// Where to write the delta.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub fn run_revoke(args: &RevokeArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let created_ms = match args.created_ms {
        Some(ms) => ms,
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis().try_into()?,
    };
    let delta = edgeseg_snapshots::revoke::revocation_delta_files(
        &args.snapshot,
        &args.revocations,
        args.sequence,
        created_ms,
    )?;
    let bytes = delta.encode().map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    writeln!(
        out,
        "delta {} for snapshot {} v{}: {} revocations, {} bytes -> {}",
        delta.sequence,
        delta.snapshot_id,
        delta.snapshot_version,
        delta.entries.len(),
        bytes.len(),
        args.out.display()
    )?;
    Ok(())
}
