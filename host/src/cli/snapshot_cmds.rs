//! `edgeseg sample | build | inspect`: thin wrappers over `edgeseg-snapshots`. `build` adds two
//! checks that need the file system: ids in the member file that differ only by case
//! (`member_ids.case_collisions`), and an `--out` that already holds the same id and version with
//! other bytes (a warning).

use super::common_args::ProgressArgs;
use super::member_args::{MemberInputArgs, check_case_collisions};
use anyhow::Context;
use clap::{Args, ValueEnum};
use edgeseg_snapshots::{BuildOptions, Definitions, ExactForm, Progress, build_with_progress, inspect, sample};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Directory to write `members.csv` and `traffic.jsonl` into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Members to generate.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub members: u64,
    /// Requests to generate.
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    pub requests: u64,
    /// Generator seed: the same seed gives the same files.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Segment definitions (JSON; see snapshots/README.md).
    #[arg(long, value_name = "FILE")]
    pub definitions: PathBuf,
    /// Members: a `.csv` or `.jsonl` file (either also `.gz` or `.zst`), a `.parquet` file or a
    /// directory of Parquet part files, or `-` for stdin (with `--members-format`).
    #[arg(long, value_name = "PATH", required_unless_present = "synthetic_members")]
    pub members: Option<PathBuf>,
    /// How the members are read.
    #[command(flatten)]
    pub member_input: MemberInputArgs,
    /// Instead of a member file, generate N members as `edgeseg sample` would (seed 42), one at a
    /// time: for builds at scale without an N-line file.
    #[arg(long, value_name = "N", conflicts_with = "members")]
    pub synthetic_members: Option<u64>,
    /// How `exact` sets are written. Both forms decide identically.
    #[arg(long, value_enum, value_name = "FORM", default_value_t = ExactFormArg::Compact)]
    pub exact_form: ExactFormArg,
    #[command(flatten)]
    pub progress: ProgressArgs,
    /// Sign the snapshot with this Ed25519 secret key (a file of 64 hex digits, from `edgeseg
    /// keygen`); hosts configured with the public key refuse anything unsigned or re-signed.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Fingerprint ids under this key (a file of 32 hex digits, from `edgeseg keygen
    /// --fingerprint`) instead of a fresh one; filter seeds derive from it. Builds become
    /// reproducible and parts built elsewhere (the Spark job) agree. A new key means a full rebuild.
    #[arg(long, value_name = "FILE", conflicts_with = "seed")]
    pub fingerprint_key: Option<PathBuf>,
    /// Where to write the snapshot.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Snapshot version [default: the definitions' `version`, else the creation time in ms]. A
    /// pinned version over an `--out` that holds the same id and version with other bytes is
    /// warned about: hosts would not take the new one as an update.
    #[arg(long, value_name = "N")]
    pub snapshot_version: Option<u64>,
    /// Creation time in ms since the epoch [default: now].
    #[arg(long, value_name = "MS")]
    pub created_ms: Option<u64>,
    /// Derive the fingerprint key and filter seeds from this number instead of the OS's random
    /// source. For reproducible test fixtures only: anyone who knows the seed can fingerprint ids.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Print the build summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write a sharded snapshot with exactly N shards (a power of two): `--out` is the head, and
    /// shards go beside it as `NAME.shard-XXXX` (hex index).
    #[arg(long, value_name = "N", value_parser = parse_shards)]
    pub shards: Option<u8>,
    /// Write a sharded snapshot whose shards are at most about BYTES each (the count is the
    /// smallest power of two that fits; 4194304 = 4 MiB is a good start for Workers KV).
    #[arg(long, value_name = "BYTES", conflicts_with = "shards")]
    pub shard_bytes: Option<u64>,
}

/// `--shards N`: N a power of two from 1 to 2^16, as its exponent.
fn parse_shards(s: &str) -> Result<u8, String> {
    let n: u32 = s.parse().map_err(|e| format!("{e}"))?;
    if n.is_power_of_two() && n <= 1 << edgeseg::shard::MAX_SHARD_BITS {
        Ok(n.trailing_zeros() as u8)
    } else {
        Err(format!("{n} is not a power of two from 1 to {}", 1u32 << edgeseg::shard::MAX_SHARD_BITS))
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Snapshot file.
    pub snapshot: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run_sample(args: &SampleArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;
    let members = args.out_dir.join("members.csv");
    let traffic = args.out_dir.join("traffic.jsonl");
    write_with(&members, |w| sample::write_members(w, args.members, args.seed))?;
    write_with(&traffic, |w| sample::write_traffic(w, args.members, args.requests, args.seed))?;
    let revocations = args.out_dir.join("revocations.txt");
    let revoked = (args.members / 1000).max(1);
    write_with(&revocations, |w| sample::write_revocations(w, args.members, revoked, args.seed))?;
    writeln!(out, "wrote {} members to {}", args.members, members.display())?;
    writeln!(out, "wrote {} requests to {}", args.requests, traffic.display())?;
    writeln!(out, "wrote {revoked} revocations to {}", revocations.display())?;
    Ok(())
}

fn write_with(
    path: &std::path::Path,
    f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(file);
    f(&mut w).and_then(|()| w.flush()).with_context(|| format!("writing {}", path.display()))
}

/// `--exact-form`: how `exact` sets are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExactFormArg {
    /// About 64 − log2(n) + 5 bits a member.
    Compact,
    /// 64 bits a member (the format-1 form).
    Plain,
}

impl From<ExactFormArg> for ExactForm {
    fn from(form: ExactFormArg) -> Self {
        match form {
            ExactFormArg::Compact => ExactForm::Compact,
            ExactFormArg::Plain => ExactForm::Plain,
        }
    }
}

pub fn run_build(args: &BuildArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let opts = BuildOptions {
        version: args.snapshot_version,
        created_ms: args.created_ms,
        seed: args.seed,
        exact_form: args.exact_form.into(),
        fingerprint_key: args.fingerprint_key.as_deref().map(edgeseg_snapshots::keys::load).transpose()?,
    };
    if args.shards.is_some() || args.shard_bytes.is_some() {
        return run_build_sharded(args, &opts, out);
    }
    let members = args.members.as_deref().map(|p| args.member_input.source(p)).transpose()?;
    let mut built = {
        let defs = Definitions::load(&args.definitions)?;
        let bar = args.progress.bar(4);
        bar.set_style(indicatif::ProgressStyle::default_spinner());
        let mut report = |p: Progress| match p {
            Progress::Members(n) => bar.set_message(format!("{n} members read")),
            Progress::Encoding { index, of } => bar.set_message(format!("encoding segment {} of {of}", index + 1)),
            Progress::Checking => bar.set_message("measuring false-positive rates, checking the snapshot"),
        };
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        let built = match (&members, args.synthetic_members) {
            (Some(source), _) => edgeseg_snapshots::build_source_with_progress(&defs, source, &opts, &mut report),
            (None, Some(n)) => build_with_progress(&defs, sample::members(n, 42), &opts, &mut report),
            (None, None) => anyhow::bail!("give --members or --synthetic-members"),
        };
        bar.finish_and_clear();
        built?
    };
    if let Some(source) = &members {
        check_case_collisions(&args.definitions, source)?;
    }
    if let Some(path) = &args.signing_key {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key = edgeseg_snapshots::sign::signing_key(&text).with_context(|| format!("in {}", path.display()))?;
        built.bytes = edgeseg_snapshots::sign::sign(&built.bytes, &key).map_err(|e| anyhow::anyhow!("signing: {e}"))?;
    }
    if let Some(warning) = same_version_warning(&args.out, &built.bytes) {
        eprintln!("warning: {warning}");
    }
    // Write to a temporary name and rename, so a crash never leaves half a snapshot under the
    // name a deploy step picks up.
    let tmp = args.out.with_extension("tmp");
    std::fs::write(&tmp, &built.bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out).with_context(|| format!("renaming to {}", args.out.display()))?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &built.summary)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", built.summary)?;
        writeln!(out, "wrote {} ({} bytes)", args.out.display(), built.bytes.len())?;
    }
    Ok(())
}

/// `build --shards N | --shard-bytes B`: the head at `--out`, shards beside it, one manifest line.
fn run_build_sharded(args: &BuildArgs, opts: &BuildOptions, out: &mut dyn Write) -> anyhow::Result<()> {
    use edgeseg_snapshots::shard::{DEFAULT_SHARD_BYTES, ShardOptions, build_sharded};
    let defs = Definitions::load(&args.definitions)?;
    let sharding = ShardOptions { bits: args.shards, shard_bytes: args.shard_bytes.unwrap_or(DEFAULT_SHARD_BYTES) };
    let built = match (&args.members, args.synthetic_members) {
        (Some(path), _) => {
            let source = args.member_input.source(path)?;
            check_case_collisions(&args.definitions, &source)?;
            build_sharded(&defs, source.open()?, opts, &sharding, &args.out, &mut |_| {}).map_err(|e| {
                if e.kind() == edgeseg_snapshots::BuildErrorKind::Members {
                    source.relocate(e.in_file(&source.name()))
                } else {
                    e
                }
            })?
        }
        (None, Some(n)) => build_sharded(&defs, sample::members(n, 42), opts, &sharding, &args.out, &mut |_| {})?,
        (None, None) => anyhow::bail!("give --members or --synthetic-members"),
    };
    if let Some(path) = &args.signing_key {
        // One signature over the head covers every shard: the head holds each shard's SHA-256.
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key = edgeseg_snapshots::sign::signing_key(&text).with_context(|| format!("in {}", path.display()))?;
        let head = std::fs::read(&built.head).with_context(|| format!("reading {}", built.head.display()))?;
        let signed = edgeseg_snapshots::sign::sign(&head, &key).map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        std::fs::write(&built.head, signed).with_context(|| format!("writing {}", built.head.display()))?;
    }
    let sizes: Vec<u64> = built.shards.iter().map(|f| f.bytes).collect();
    let (min, max) = (sizes.iter().min().copied().unwrap_or(0), sizes.iter().max().copied().unwrap_or(0));
    let total: u64 = sizes.iter().sum();
    let manifest = serde_json::json!({
        "head": built.head.display().to_string(),
        "head_bytes": built.head_bytes,
        "shards": built.shards.len(),
        "shard_bytes": {"min": min, "max": max, "total": total},
        "members": built.summary.members_read,
    });
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &serde_json::json!({"summary": built.summary, "manifest": manifest}))?;
        writeln!(out)?;
    } else {
        write!(out, "{}", built.summary)?;
        writeln!(out, "{manifest}")?;
    }
    Ok(())
}

/// Hosts identify a snapshot by id and version: a different snapshot under the same pair is
/// ignored by the Worker (it already serves "that" version) and refused or taken differently by
/// other hosts, and a revocation delta for one does not revoke in the other. A pinned `version`
/// (definitions or `--snapshot-version`) rebuilt over its previous output is exactly that.
fn same_version_warning(out: &Path, bytes: &[u8]) -> Option<String> {
    let existing = std::fs::read(out).ok()?;
    if existing == bytes {
        return None;
    }
    let (old, new) = (edgeseg::swap::peek(&existing).ok()?, edgeseg::swap::peek(bytes).ok()?);
    (old.id == new.id && old.version == new.version).then(|| {
        format!(
            "{} already holds snapshot \"{}\" version {} with different bytes; hosts that have loaded it will not \
             take this one as an update (same id and version) and its revocation deltas do not apply here: bump \
             `version` (or --snapshot-version), or leave it unset so the build time is the version",
            out.display(),
            edgeseg_snapshots::text::escape(&new.id),
            new.version
        )
    })
}

pub fn run_inspect(args: &InspectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.snapshot).with_context(|| format!("reading {}", args.snapshot.display()))?;
    let inspection = inspect(&bytes).with_context(|| format!("inspecting {}", args.snapshot.display()))?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &inspection)?;
        writeln!(out)?;
    } else {
        write!(out, "{inspection}")?;
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct ImportFlagdArgs {
    /// A flagd flag-definition file (`{"flags": {...}, "$evaluators": {...}}`).
    pub flags: PathBuf,
    /// The purpose of every imported segment.
    #[arg(long, value_name = "NAME", default_value = "contract")]
    pub purpose: String,
}

/// Prints `{"$evaluators": …, "segments": […]}` to merge into a definitions file.
pub fn run_import_flagd(args: &ImportFlagdArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.flags).with_context(|| format!("reading {}", args.flags.display()))?;
    let fragment = edgeseg_snapshots::flagd::import_evaluators(&text, &args.purpose)
        .map_err(|e| e.in_file(&args.flags))
        .with_context(|| format!("importing {}", args.flags.display()))?;
    serde_json::to_writer_pretty(&mut *out, &fragment)?;
    writeln!(out)?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Writes `<OUT>.key` (the secret signing key, mode 0600) and `<OUT>.pub` (the public key hosts
    /// are configured with), each 64 hex digits. With `--fingerprint`: `<OUT>.fpkey`.
    #[arg(long, value_name = "PREFIX")]
    pub out: PathBuf,
    /// Write a fingerprint key instead (`<OUT>.fpkey`, 32 hex digits, mode 0600) for `build
    /// --fingerprint-key` and the Spark job: every build with it fingerprints ids alike.
    #[arg(long)]
    pub fingerprint: bool,
}

/// Creates `path` for a secret: never over an existing file, mode 0600.
fn create_secret(path: &Path) -> anyhow::Result<File> {
    anyhow::ensure!(!path.exists(), "{} exists; refusing to overwrite a key", path.display());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("creating {}", path.display()))
}

pub fn run_keygen(args: &KeygenArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    use edgeseg_snapshots::{keys, sign};
    if args.fingerprint {
        let path = args.out.with_extension("fpkey");
        let key = keys::generate()?;
        let mut file = create_secret(&path)?;
        file.write_all(keys::to_text(&key).as_bytes()).with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "fingerprint key {} (keep secret), key id {}", path.display(), keys::key_id_hex(&key))?;
        return Ok(());
    }
    let key = sign::generate()?;
    let secret = args.out.with_extension("key");
    let public = args.out.with_extension("pub");
    anyhow::ensure!(!public.exists(), "{} exists; refusing to overwrite a key", public.display());
    let mut file = create_secret(&secret)?;
    writeln!(file, "{}", sign::to_hex(&key.to_bytes())).with_context(|| format!("writing {}", secret.display()))?;
    std::fs::write(&public, format!("{}\n", sign::to_hex(key.verifying_key().as_bytes())))
        .with_context(|| format!("writing {}", public.display()))?;
    writeln!(out, "signing key {} (keep secret), public key {}", secret.display(), public.display())?;
    Ok(())
}

/// Reads a public key file (64 hex digits).
pub fn read_public_key(path: &std::path::Path) -> anyhow::Result<edgeseg_snapshots::sign::PublicKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    edgeseg_snapshots::sign::verifying_key(&text).with_context(|| format!("in {}", path.display()))
}
