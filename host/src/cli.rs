//! The `edgeseg` command line.
//!
//! [`run`] does all the work against any writer so tests drive the CLI in-process; [`main`] is
//! the thin process wrapper (exit codes, error chain on stderr). One enum variant and one
//! function per subcommand; `sample`, `build` and `inspect` wrap `edgeseg-snapshots`
//! (`cli/snapshot_cmds.rs`), `replay` drives the wasm module,
//! `jsonlogic` is the conformance command (`cli/jsonlogic.rs`).

mod common_args;
mod diff;
pub mod jsonlogic;
mod member_args;
mod report_args;
mod revoke;
mod slo;
mod snapshot_cmds;
mod traffic_args;

use crate::guest::{Guest, GuestConfig};
use crate::replay::{ReplayOptions, ScheduledDelta, replay};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use common_args::{DeltaSpec, ModuleArgs};
pub use diff::DiffArgs;
pub use report_args::ReportArgs;
pub use revoke::RevokeArgs;
pub use slo::SloArgs;
pub use snapshot_cmds::{BuildArgs, ImportFlagdArgs, InspectArgs, SampleArgs};
use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
pub use traffic_args::{Traffic, TrafficArgs, TrafficFormat};

pub use common_args::{DEFAULT_MODULE, MODULE_ENV};

/// edgeseg: segment CDN traffic at the edge with a WebAssembly engine and prebuilt snapshots.
#[derive(Debug, Parser)]
#[command(name = "edgeseg", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write deterministic sample members (CSV) and traffic (JSONL) for demos and tests.
    Sample(SampleArgs),
    /// Build a snapshot from segment definitions and a member file.
    Build(BuildArgs),
    /// Describe a snapshot: header, tiers, purposes, segments and sizes (never an id).
    Inspect(InspectArgs),
    /// Replay a request log (edgeseg JSONL, nginx or HAR) through the wasm module; report per tier.
    Replay(ReplayArgs),
    /// Write a revocation delta (opt-outs since the build) for a snapshot.
    Revoke(RevokeArgs),
    /// SLO tooling for the tiers' SLOs: Prometheus rules (`rules`) and a Grafana dashboard
    /// (`dashboard`).
    Slo(SloArgs),
    /// Replay the same traffic on two snapshots: tier transitions, segment changes, gates.
    Diff(DiffArgs),
    /// Conformance: evaluate JSON Lines `{"rule", "data"}` from stdin, one result line each.
    Jsonlogic(jsonlogic::JsonLogicArgs),
    /// Turn a flagd flag file's `$evaluators` into segments (prints a definitions fragment).
    ImportFlagd(ImportFlagdArgs),
    /// Make an Ed25519 key pair for signing snapshots (`build --signing-key`, `--public-key`).
    Keygen(snapshot_cmds::KeygenArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Snapshot file (as built by `edgeseg build`), or a sharded snapshot's `NAME.head`.
    #[arg(long, value_name = "FILE")]
    pub snapshot: PathBuf,
    #[command(flatten)]
    pub shards: ShardArgs,
    #[command(flatten)]
    pub traffic: TrafficArgs,
    #[command(flatten)]
    pub module: ModuleArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Fuel (wasm operations) per guest call; 0 turns metering off.
    #[arg(long, value_name = "N", default_value_t = crate::guest::DEFAULT_FUEL_PER_CALL)]
    pub fuel: u64,
    /// Wall-clock limit per guest call in milliseconds (wasmtime epoch interruption; 0: off).
    /// Far cheaper than fuel, but a trap then depends on the machine: with `--fuel 0` this is how
    /// a serving host would run the module.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub deadline_ms: u64,
    /// Apply a revocation delta after N requests (`FILE@N`; `FILE` alone: before the first).
    /// Repeatable.
    #[arg(long, value_name = "FILE@N")]
    pub delta: Vec<DeltaSpec>,
    /// Also write the report as Prometheus text exposition to FILE.
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
    /// Also write one OpenTelemetry span per decision to FILE, as OTLP/JSON (an
    /// `ExportTraceServiceRequest`: what `POST /v1/traces` takes), for a trace viewer.
    #[arg(long, value_name = "FILE")]
    pub otlp: Option<PathBuf>,
    /// Require the snapshot to be signed by the key whose public half is in FILE (64 hex digits).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// Where a sharded snapshot's shards are and how many bytes of them the guest holds (`replay`).
#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Directory of a sharded head's shard files `NAME.shard-XXXX` [default: the head's directory].
    #[arg(long, value_name = "DIR")]
    pub shards: Option<PathBuf>,
    /// Bytes of shards the guest holds; least recently used shards are dropped past it
    /// [default: 32 MiB].
    #[arg(long, value_name = "BYTES")]
    pub shard_budget: Option<u64>,
}

impl ShardArgs {
    /// Applies the budget to `guest` (which serves the snapshot read from `head`) and says where
    /// its shards are: `None` for a whole snapshot (a note on stderr if `--shards` was given).
    fn apply(&self, guest: &mut Guest, head: &std::path::Path) -> anyhow::Result<Option<crate::shards::ShardFiles>> {
        if let Some(bytes) = self.shard_budget {
            guest.set_shard_budget(bytes).context("setting the shard budget")?;
        }
        if guest.snapshot().is_none_or(|s| s.shards == 0) {
            if self.shards.is_some() || self.shard_budget.is_some() {
                eprintln!("note: {} is not sharded; --shards and --shard-budget do nothing", head.display());
            }
            return Ok(None);
        }
        Ok(Some(crate::shards::ShardFiles::for_head(head, self.shards.as_deref())))
    }
}

/// Reads a `--delta` file.
fn scheduled_delta(spec: &DeltaSpec) -> anyhow::Result<ScheduledDelta> {
    let bytes = std::fs::read(&spec.file).with_context(|| format!("reading delta {}", spec.file.display()))?;
    Ok(ScheduledDelta { after: spec.after, bytes })
}

/// Parses `args` (program name first, as `std::env::args_os` gives them) and runs the command,
/// writing its output to `out`. `--help` and `--version` are written to `out` and succeed;
/// argument errors come back as a [`clap::Error`] inside the `anyhow::Error`.
pub fn run(args: impl IntoIterator<Item = OsString>, out: &mut dyn Write) -> anyhow::Result<()> {
    run_with_input(args, &mut LazyStdin(None), out)
}

/// Standard input, locked only when first read: commands that read stdin themselves (`build
/// --members -`, `replay --traffic -`) would otherwise wait forever for a lock held here.
struct LazyStdin(Option<io::StdinLock<'static>>);

impl LazyStdin {
    fn lock(&mut self) -> &mut io::StdinLock<'static> {
        self.0.get_or_insert_with(|| io::stdin().lock())
    }
}

impl io::Read for LazyStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
}

impl BufRead for LazyStdin {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.lock().fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.lock().consume(amount);
    }
}

/// [`run`] with `input` in place of standard input (for commands that read it: `jsonlogic`).
pub fn run_with_input(
    args: impl IntoIterator<Item = OsString>,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            write!(out, "{}", e.render())?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    match cli.command {
        Command::Sample(args) => snapshot_cmds::run_sample(&args, out),
        Command::Build(args) => snapshot_cmds::run_build(&args, out),
        Command::Inspect(args) => snapshot_cmds::run_inspect(&args, out),
        Command::Replay(args) => run_replay(&args, out),
        Command::Revoke(args) => revoke::run_revoke(&args, out),
        Command::Slo(args) => slo::run_slo(&args, out),
        Command::Diff(args) => diff::run_diff(&args, out),
        Command::Jsonlogic(args) => jsonlogic::run_jsonlogic(&args, input, out),
        Command::ImportFlagd(args) => snapshot_cmds::run_import_flagd(&args, out),
        Command::Keygen(args) => snapshot_cmds::run_keygen(&args, out),
    }
}

/// Standard output that remembers whether the reader went away (`EPIPE`: `edgeseg … | head -1`).
struct Stdout<W> {
    inner: W,
    broken_pipe: bool,
}

impl<W: Write> Stdout<W> {
    fn note<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result {
            self.broken_pipe |= e.kind() == io::ErrorKind::BrokenPipe;
        }
        result
    }
}

impl<W: Write> Write for Stdout<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.inner.write(buf);
        self.note(result)
    }
    fn flush(&mut self) -> io::Result<()> {
        let result = self.inner.flush();
        self.note(result)
    }
}

/// The process entry point: runs [`run`] on the real arguments and stdout; errors go to stderr
/// with their whole cause chain, and the exit code is non-zero (2 for usage errors, 1 otherwise).
/// A reader that closed standard output early (`edgeseg inspect … | head -1`) is not an error:
/// the command stops at its next write and exits quietly with status 0, as `cat` would.
pub fn main() -> ExitCode {
    let stdout = io::stdout();
    let mut out = Stdout { inner: stdout.lock(), broken_pipe: false };
    let result = run(std::env::args_os(), &mut out).and_then(|()| out.flush().map_err(Into::into));
    if out.broken_pipe {
        return ExitCode::SUCCESS;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(usage) = e.downcast_ref::<clap::Error>() {
                eprint!("{}", usage.render());
                return ExitCode::from(2);
            }
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run_replay(args: &ReplayArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let module = &args.module.path;
    let config = GuestConfig {
        fuel_per_call: (args.fuel > 0).then_some(args.fuel),
        deadline: (args.deadline_ms > 0).then(|| std::time::Duration::from_millis(args.deadline_ms)),
        ..GuestConfig::default()
    };
    let mut guest = Guest::from_file(module, config)?;
    if let Some(path) = &args.public_key {
        guest.set_public_key(Some(snapshot_cmds::read_public_key(path)?));
    }
    let snapshot =
        std::fs::read(&args.snapshot).with_context(|| format!("reading snapshot {}", args.snapshot.display()))?;
    if let Some(key) = guest.public_key() {
        edgeseg_snapshots::sign::verify(&snapshot, key)
            .with_context(|| format!("verifying snapshot {}", args.snapshot.display()))?;
    }
    guest.load_snapshot(&snapshot).with_context(|| format!("loading snapshot {}", args.snapshot.display()))?;

    let mut deltas = args.delta.iter().map(scheduled_delta).collect::<anyhow::Result<Vec<_>>>()?;
    deltas.sort_by_key(|d| d.after);
    let shards = args.shards.apply(&mut guest, &args.snapshot)?;
    let opts =
        ReplayOptions { skip_malformed: args.traffic.skip_malformed, deltas, shards, spans: args.otlp.is_some() };
    let traffic_name = args.traffic.traffic.display().to_string();
    let mut traffic = args.traffic.open()?;
    for note in &traffic.notes {
        eprintln!("note: {note}");
    }
    let report = replay(&mut guest, &mut traffic, &opts);
    traffic.finish();
    let report = report.with_context(|| format!("replaying {traffic_name}"))?;

    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report.to_text(true))?;
    }
    if let Some(path) = &args.prometheus {
        std::fs::write(path, report.to_prometheus()).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.otlp {
        let spans = crate::replay::otlp::export_request(&report.spans, &report.snapshot_id, report.snapshot_version);
        std::fs::write(path, serde_json::to_vec(&spans)?).with_context(|| format!("writing {}", path.display()))?;
    }
    args.reports.write(|| crate::report::replay_html(&report), || crate::report::replay_markdown(&report))?;
    // The privacy gate: a replay that found a consent violation fails, whatever else it shows.
    if report.consent.violations > 0 {
        anyhow::bail!(
            "{} consent violations (decisions matching a segment whose purpose was excluded)",
            report.consent.violations
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // clap checks duplicate flags and the like only when a subcommand is first parsed; check
        // them all up front.
        Cli::command().debug_assert();
    }
}
