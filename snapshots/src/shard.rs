//! Sharded output: a head and 2^bits shards (the format is `edgeseg::shard`'s), built in bounded
//! memory.
//!
//! ```text
//! members ──► ingest (the same validation, consent filtering and profile rules as a whole build)
//!         ──► one fixed-size record per member appended to one of 256 run files by the top 8
//!             bits of its fingerprint (fingerprint, line, consent purposes, segments)
//!         ──► shard bits chosen from the counts (--shards N, else the smallest power of two that
//!             keeps the estimated shard size under --shard-bytes)
//!         ──► per run, the records sorted (duplicates found here, named by line), then cut into
//!             its shards (or several runs merged into one shard): every set built, the shard
//!             staged in the scratch directory, its length, CRC-32C and SHA-256 kept
//!         ──► the head: rules, tiers, actions, key, limits, empty placeholder sets, the shard
//!             table; then every shard decoded once against it (the edge's own validation)
//!         ──► only then the shards moved beside the head, and the head written: a build that
//!             fails (a duplicate id found in the last run) leaves an earlier build untouched
//! ```
//!
//! Memory: the run buffers (256 × 64 KiB), one run's records and one shard's sets — not the
//! member count. A run holds 1/256 of the members: at 10⁹ members about 4 M records (~100 MB).
//! Keys: the fingerprint key and filter seeds come from the same [`KeySource`] as a whole build,
//! so a seeded sharded build and a seeded whole build share the key and decide alike for the
//! exact sets (filters' false positives differ per build, as between any two builds).

use crate::build::{
    BuildOptions, ExactForm, Filed, KeySource, Progress, bit, exact_with, expires_ms, ingest, now_ms, resolve,
};
use crate::check::MemberCheck;
use crate::definitions::EncodingDef;
use crate::error::{BuildError, BuildErrorKind};
use crate::members::Member;
use crate::plan::Plan;
use crate::prng::{SplitMix64, mix};
use edgeseg::fingerprint::FingerprintKey;
use edgeseg::membership::{MembershipData, packed};
use edgeseg::shard::{MAX_SHARD_BITS, ShardEntry, ShardPayload, Sharding, probe_key, shard_index};
use edgeseg::snapshot::{Purpose, Segment, SnapshotPayload, Tier};
use edgeseg::{Engine, Snapshot};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The target shard size when none is given: a Workers KV value is capped at 25 MiB, and a shard
/// this size loads in milliseconds.
pub const DEFAULT_SHARD_BYTES: u64 = 4 << 20;
/// Run files by the top bits of the fingerprint.
const RUN_BITS: u8 = 8;

/// How to shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardOptions {
    /// `Some(n)`: exactly 2^n shards. `None`: chosen from `shard_bytes`.
    pub bits: Option<u8>,
    /// Target largest shard, in bytes (estimated from the member counts before the shards are
    /// built; the build reports the real sizes).
    pub shard_bytes: u64,
}

impl Default for ShardOptions {
    fn default() -> ShardOptions {
        ShardOptions { bits: None, shard_bytes: DEFAULT_SHARD_BYTES }
    }
}

/// One shard written.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ShardFile {
    pub index: u32,
    pub path: PathBuf,
    pub bytes: u64,
    pub members: u64,
}

/// A sharded build: where the head and shards went, and the usual summary (sizes summed over the
/// shards).
#[derive(Clone, Debug)]
pub struct ShardedBuild {
    pub head: PathBuf,
    pub head_bytes: u64,
    pub bits: u8,
    pub shards: Vec<ShardFile>,
    pub summary: crate::BuildSummary,
}

/// The file of shard `index` beside `head` (`NAME.head` → `NAME.shard-000a`).
pub fn shard_path(head: &Path, index: u32) -> PathBuf {
    let stem = head.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "snapshot".into());
    head.with_file_name(format!("{stem}.shard-{index:04x}"))
}

fn io_err(path: &Path, e: std::io::Error) -> BuildError {
    BuildError::new(BuildErrorKind::Encode, format!("{}: {e}", path.display()))
}

/// Builds a sharded snapshot: the head at `head`, shards beside it ([`shard_path`]).
pub fn build_sharded(
    defs: &crate::Definitions,
    members: impl IntoIterator<Item = Result<Member, BuildError>>,
    opts: &BuildOptions,
    sharding: &ShardOptions,
    head: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<ShardedBuild, BuildError> {
    let plan = Plan::new(defs)?;
    if let Some(b) = sharding.bits
        && b > MAX_SHARD_BITS
    {
        return Err(BuildError::new(
            BuildErrorKind::Limit,
            format!("{} shards, at most 2^{MAX_SHARD_BITS}", 1u64 << b),
        ));
    }
    let runs_dir = head.with_extension("runs");
    std::fs::create_dir_all(&runs_dir).map_err(|e| io_err(&runs_dir, e))?;
    let result = build_in(&plan, members, opts, sharding, head, &runs_dir, progress);
    // The runs are scratch: gone whether the build succeeded or not.
    let _ = std::fs::remove_dir_all(&runs_dir);
    result
}

/// A member's record in a run file: fingerprint, line (`u64::MAX`: none), consent purposes, then
/// the segment bit words.
pub(crate) struct Record {
    pub(crate) fingerprint: u64,
    pub(crate) line: u64,
    pub(crate) consented: u64,
    pub(crate) segments: Vec<u64>,
}

impl Record {
    /// The record of a member as [`ingest`] files it.
    pub(crate) fn of(m: &Filed<'_>) -> Record {
        Record {
            fingerprint: m.fingerprint,
            line: m.line.unwrap_or(u64::MAX),
            consented: m.consented,
            segments: m.segments.to_vec(),
        }
    }
}

/// The key of a build: supplied (`BuildOptions::fingerprint_key`) or drawn from `keys`.
pub(crate) fn build_key(opts: &BuildOptions, keys: &mut KeySource) -> Result<FingerprintKey, BuildError> {
    if let Some(key) = opts.fingerprint_key {
        return Ok(key);
    }
    let mut key = [0u8; 16];
    keys.fill(&mut key)?;
    Ok(FingerprintKey(key))
}

/// The build id of a sharded snapshot, which every shard repeats (binds shards to their head).
pub(crate) fn build_id(key: &FingerprintKey, id: &str, version: u64, created_ms: u64) -> u64 {
    key.hash_parts(&[b"build", id.as_bytes(), &version.to_le_bytes(), &created_ms.to_le_bytes()])
}

/// Filter seeds for shard `index` when the key was supplied: derived from the key and the index,
/// so a shard built anywhere (another machine, a Spark task) has the same bytes.
pub(crate) fn shard_keys(key: &FingerprintKey, index: u32) -> KeySource {
    KeySource(Some(SplitMix64::new(key.hash_parts(&[b"edgeseg filter seeds", &index.to_le_bytes()]))))
}

/// Sorts one shard's records by fingerprint and refuses duplicates, naming their lines.
pub(crate) fn sort_records(recs: &mut [Record]) -> Result<(), BuildError> {
    recs.sort_unstable_by_key(|x| x.fingerprint);
    let Some(pair) = recs.windows(2).find(|w| w[0].fingerprint == w[1].fingerprint) else { return Ok(()) };
    let lines = (pair[0].line, pair[1].line);
    Err(match lines {
        (a, b) if a != u64::MAX && b != u64::MAX => BuildError::new(
            BuildErrorKind::Members,
            format!("duplicate id (also at line {}), or two ids whose keyed 64-bit fingerprints collide", a.min(b)),
        )
        .with_field("id")
        .with_line(a.max(b)),
        _ => BuildError::new(
            BuildErrorKind::Members,
            format!("duplicate id: two members have fingerprint {:016x}", pair[0].fingerprint),
        )
        .with_field("id"),
    })
}

fn build_in(
    plan: &Plan,
    members: impl IntoIterator<Item = Result<Member, BuildError>>,
    opts: &BuildOptions,
    sharding: &ShardOptions,
    head: &Path,
    runs_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<ShardedBuild, BuildError> {
    let mut keys = KeySource(opts.seed.map(|s| SplitMix64::new(mix(s ^ 0x6B65_7973))));
    let key = build_key(opts, &mut keys)?;
    let words = plan.segments.len().div_ceil(64);
    let record_len = 24 + 8 * words;

    let run_path = |r: usize| runs_dir.join(format!("run-{r:03}"));
    let mut runs = Vec::with_capacity(1 << RUN_BITS);
    for r in 0..1usize << RUN_BITS {
        let path = run_path(r);
        runs.push(BufWriter::with_capacity(1 << 16, File::create(&path).map_err(|e| io_err(&path, e))?));
    }
    let mut record = Vec::with_capacity(record_len);
    let counts = ingest(plan, &key, members, progress, &mut |m: Filed<'_>| {
        record.clear();
        record.extend_from_slice(&m.fingerprint.to_le_bytes());
        record.extend_from_slice(&m.line.unwrap_or(u64::MAX).to_le_bytes());
        record.extend_from_slice(&m.consented.to_le_bytes());
        for w in m.segments {
            record.extend_from_slice(&w.to_le_bytes());
        }
        let r = shard_index(m.fingerprint, RUN_BITS) as usize;
        match runs.get_mut(r) {
            Some(w) => w.write_all(&record).map_err(|e| io_err(&run_path(r), e)),
            None => Err(BuildError::new(BuildErrorKind::Encode, "run index out of range")),
        }
    })?;
    for (r, w) in runs.into_iter().enumerate() {
        w.into_inner().map_err(|e| io_err(&run_path(r), e.into_error()))?;
    }

    let bits = match sharding.bits {
        Some(b) => b,
        None => choose_bits(plan, &counts, opts.exact_form, sharding.shard_bytes),
    };
    let created_ms = match opts.created_ms {
        Some(ms) => ms,
        None => now_ms()?,
    };
    let version = opts.version.or(plan.version).unwrap_or(created_ms);
    let build = build_id(&key, &plan.id, version, created_ms);
    let encodings = encodings(plan, &counts.segments);

    // Shards in index order: bits ≥ RUN_BITS cuts each run into 2^(bits−8) shards; fewer bits
    // merge 2^(8−bits) runs into one shard.
    let shard_count = 1u32 << bits;
    let mut writer = ShardWriter {
        shape: ShardShape { plan, encodings: &encodings, form: opts.exact_form, bits, build, version },
        keys: &mut keys,
        supplied_key: opts.fingerprint_key,
        head,
        staging: runs_dir,
        staged: Vec::with_capacity(shard_count as usize),
        entries: Vec::with_capacity(shard_count as usize),
        files: Vec::with_capacity(shard_count as usize),
        set_bytes: vec![0; plan.segments.len()],
        purpose_bytes: vec![0; plan.purposes.len()],
        member_check: MemberCheck::default(),
    };
    let runs_per_shard = 1usize << RUN_BITS.saturating_sub(bits);
    let mut pending: Vec<Record> = Vec::new();
    for r in 0..1usize << RUN_BITS {
        progress(Progress::Encoding { index: r, of: 1 << RUN_BITS });
        let mut recs = read_run(&run_path(r), record_len, words)?;
        let _ = std::fs::remove_file(run_path(r));
        sort_records(&mut recs)?;
        pending.extend(recs);
        if (r + 1) % runs_per_shard != 0 {
            continue;
        }
        // `pending` holds whole shards now, in fingerprint order.
        let mut rest = std::mem::take(&mut pending);
        while !rest.is_empty() {
            let index = shard_index(rest[0].fingerprint, bits);
            let split = rest.iter().position(|x| shard_index(x.fingerprint, bits) != index).unwrap_or(rest.len());
            let tail = rest.split_off(split);
            let shard = rest;
            rest = tail;
            // Shards with no members at all still exist (every index has a file).
            while writer.written() < index {
                let empty = writer.written();
                writer.write(empty, &[])?;
            }
            writer.write(index, &shard)?;
        }
    }
    while writer.written() < shard_count {
        let empty = writer.written();
        writer.write(empty, &[])?;
    }

    let ShardWriter { entries, files, staged, set_bytes, purpose_bytes, member_check, .. } = writer;
    progress(Progress::Checking);
    let expires_ms = expires_ms(plan, created_ms)?;
    let payload = head_payload(
        plan,
        key,
        &counts.segments,
        HeadStamp { version, created_ms, expires_ms },
        Sharding { bits, build, shards: entries },
    );
    let bytes = payload.encode().map_err(|e| BuildError::new(BuildErrorKind::Encode, e.to_string()))?;
    // Self-check with the edge's own validation: the head, then every shard against it (one at
    // a time), so nothing the edge would refuse leaves the builder.
    let check = |e: edgeseg::Error| {
        BuildError::new(BuildErrorKind::Encode, format!("self-check: the edge would refuse this snapshot: {e}"))
    };
    let snapshot = Snapshot::decode(&bytes).map_err(check)?;
    let mut engine = Engine::from_snapshot(snapshot);
    engine.set_shard_budget(0);
    for path in &staged {
        let shard = std::fs::read(path).map_err(|e| io_err(path, e))?;
        engine.load_shard(shard).map_err(check)?;
    }
    // Everything checked: the shards move into place, then the head (written under a temporary
    // name and renamed, so a reader never sees half of it). Until the head is renamed, an older
    // head beside them refuses the new shards by their SHA-256 (fail-closed), never mixes them in.
    for (from, f) in staged.iter().zip(&files) {
        std::fs::rename(from, &f.path).map_err(|e| io_err(&f.path, e))?;
    }
    let tmp = head.with_extension("head-tmp");
    std::fs::write(&tmp, &bytes).map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, head).map_err(|e| io_err(head, e))?;
    let summary = crate::summary::sharded(
        plan,
        engine.snapshot(),
        &counts,
        &set_bytes,
        &purpose_bytes,
        &files,
        bytes.len(),
        member_check,
    );
    Ok(ShardedBuild { head: head.to_path_buf(), head_bytes: bytes.len() as u64, bits, shards: files, summary })
}

/// When and which version a head is: the same for every part of one build.
pub(crate) struct HeadStamp {
    pub(crate) version: u64,
    pub(crate) created_ms: u64,
    pub(crate) expires_ms: Option<u64>,
}

/// A sharded snapshot's head: rules, tiers, actions, key, empty placeholder sets, members per
/// segment (`segment_members`) and the shard table.
pub(crate) fn head_payload(
    plan: &Plan,
    key: FingerprintKey,
    segment_members: &[u64],
    stamp: HeadStamp,
    sharding: Sharding,
) -> SnapshotPayload {
    let placeholder = || Some(MembershipData::Exact(Vec::new()));
    let mut ext = plan.ext.clone();
    ext.sharding = Some(sharding);
    SnapshotPayload {
        id: plan.id.clone(),
        version: stamp.version,
        created_ms: stamp.created_ms,
        expires_ms: stamp.expires_ms,
        fingerprint_key: key,
        identity: plan.identity.clone(),
        purposes: plan
            .purposes
            .iter()
            .map(|p| Purpose {
                name: p.name.clone(),
                requires_consent: p.requires_consent,
                consented: if p.requires_consent { placeholder() } else { None },
            })
            .collect(),
        tiers: plan.tiers.iter().map(|t| Tier { name: t.clone() }).collect(),
        default_tier: plan.default_tier,
        segments: plan
            .segments
            .iter()
            .zip(segment_members)
            .map(|(seg, &n)| Segment {
                name: seg.name.clone(),
                tier: seg.tier,
                purpose: seg.purpose,
                precedence: seg.precedence,
                rule: seg.rule.clone(),
                membership: seg.selection.as_ref().and_then(|_| placeholder()),
                members: n,
            })
            .collect(),
        ext,
    }
}

/// Each segment's encoding, `auto` resolved from its member count over the whole build.
pub(crate) fn encodings(plan: &Plan, segment_members: &[u64]) -> Vec<Option<EncodingDef>> {
    plan.segments
        .iter()
        .zip(segment_members)
        .map(|(seg, &n)| resolve(seg, usize::try_from(n).unwrap_or(usize::MAX)))
        .collect()
}

/// The fewest shard bits whose estimated largest shard fits `target` bytes (from the members per
/// set; the per-shard estimate adds a quarter for the imbalance of a keyed hash's split).
pub(crate) fn choose_bits(plan: &Plan, counts: &crate::build::Counts, form: ExactForm, target: u64) -> u8 {
    let mut total = 0f64;
    for (p, &n) in plan.purposes.iter().zip(&counts.consented) {
        if p.requires_consent {
            total += estimate(EncodingDef::Exact, n, form, 0.0, 0);
        }
    }
    for (seg, &n) in plan.segments.iter().zip(&counts.segments) {
        if let Some(e) = resolve(seg, usize::try_from(n).unwrap_or(usize::MAX)) {
            total += estimate(e, n, form, seg.fp_rate, seg.fuse_bits);
        }
    }
    let mut bits = 0u8;
    while bits < MAX_SHARD_BITS && total * 1.25 / f64::from(1u32 << bits) > target as f64 {
        bits += 1;
    }
    bits
}

/// Estimated bytes of a set of `n` members.
fn estimate(e: EncodingDef, n: u64, form: ExactForm, fp_rate: f64, fuse_bits: u8) -> f64 {
    let n_f = n as f64;
    match e {
        EncodingDef::Exact | EncodingDef::Auto => match form {
            ExactForm::Plain => 8.0 * n_f,
            ExactForm::Compact => packed::encoded_len(usize::try_from(n).unwrap_or(usize::MAX)) as f64,
        },
        EncodingDef::Bloom => n_f * -fp_rate.ln() / (2f64.ln().powi(2)) / 8.0,
        EncodingDef::Fuse => n_f * f64::from(fuse_bits) * 1.13 / 8.0,
    }
}

fn read_run(path: &Path, record_len: usize, words: usize) -> Result<Vec<Record>, BuildError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let len = file.metadata().map_err(|e| io_err(path, e))?.len() as usize;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut out = Vec::with_capacity(len / record_len.max(1));
    let mut buf = vec![0u8; record_len];
    let word = |b: &[u8], i: usize| {
        b.get(i * 8..i * 8 + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes)
    };
    for _ in 0..len / record_len.max(1) {
        reader.read_exact(&mut buf).map_err(|e| io_err(path, e))?;
        out.push(Record {
            fingerprint: word(&buf, 0),
            line: word(&buf, 1),
            consented: word(&buf, 2),
            segments: (0..words).map(|i| word(&buf, 3 + i)).collect(),
        });
    }
    Ok(out)
}

/// What every shard of one build shares.
pub(crate) struct ShardShape<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) encodings: &'a [Option<EncodingDef>],
    pub(crate) form: ExactForm,
    pub(crate) bits: u8,
    pub(crate) build: u64,
    pub(crate) version: u64,
}

/// One shard encoded: its bytes, its head-table entry, and bytes per set (for the summary).
pub(crate) struct EncodedShard {
    pub(crate) bytes: Vec<u8>,
    pub(crate) entry: ShardEntry,
    pub(crate) set_bytes: Vec<usize>,
    pub(crate) purpose_bytes: Vec<usize>,
    /// Every member probed in every set of the shard (a set is its own bytes until encoded).
    pub(crate) member_check: MemberCheck,
}

impl ShardShape<'_> {
    /// Builds shard `index` from its members (sorted by fingerprint).
    pub(crate) fn encode(
        &self,
        keys: &mut KeySource,
        index: u32,
        members: &[Record],
    ) -> Result<EncodedShard, BuildError> {
        let (plan, bits, form) = (self.plan, self.bits, self.form);
        let encode_err = |what: String| {
            move |e: edgeseg::Error| BuildError::new(BuildErrorKind::Encode, e.to_string()).with_field(what)
        };
        let mut purpose_bytes = vec![0; plan.purposes.len()];
        let mut member_check = MemberCheck::default();
        let mut purposes = Vec::with_capacity(plan.purposes.len());
        for (i, p) in plan.purposes.iter().enumerate() {
            purposes.push(if p.requires_consent {
                let fps: Vec<u64> = members
                    .iter()
                    .filter(|m| m.consented & (1 << i) != 0)
                    .map(|m| probe_key(m.fingerprint, bits))
                    .collect();
                let what = format!("purpose {}", p.name);
                let set = exact_with(fps.clone(), form, bits, &what)?;
                member_check.data(&set, &fps, &what)?;
                if let Some(b) = purpose_bytes.get_mut(i) {
                    *b = set.byte_len();
                }
                Some(set)
            } else {
                None
            });
        }
        let mut set_bytes = vec![0; plan.segments.len()];
        let mut segments = Vec::with_capacity(plan.segments.len());
        for (i, (seg, encoding)) in plan.segments.iter().zip(self.encodings).enumerate() {
            let Some(encoding) = encoding else {
                segments.push(None);
                continue;
            };
            let fps: Vec<u64> =
                members.iter().filter(|m| bit(&m.segments, i)).map(|m| probe_key(m.fingerprint, bits)).collect();
            let field = format!("segment {}", seg.name);
            let set = match encoding {
                EncodingDef::Exact | EncodingDef::Auto => exact_with(fps.clone(), form, bits, &field)?,
                EncodingDef::Bloom => {
                    MembershipData::bloom(&fps, seg.fp_rate, &keys.bloom_seed()?).map_err(encode_err(field.clone()))?
                }
                EncodingDef::Fuse => {
                    let mut seed = [0u8; 8];
                    keys.fill(&mut seed)?;
                    let bytes = crate::fuse::build(&fps, seg.fuse_bits, u64::from_le_bytes(seed)).map_err(|e| {
                        BuildError::new(BuildErrorKind::Encode, e.to_string()).with_field(field.clone())
                    })?;
                    MembershipData::Fuse(bytes)
                }
            };
            member_check.data(&set, &fps, &field)?;
            if let Some(b) = set_bytes.get_mut(i) {
                *b = set.byte_len();
            }
            segments.push(Some(set));
        }
        let payload = ShardPayload {
            snapshot_id: plan.id.clone(),
            snapshot_version: self.version,
            build: self.build,
            index,
            bits,
            purposes,
            segments,
        };
        let bytes = payload.encode().map_err(encode_err(format!("shard {index}")))?;
        let crc32c = bytes.get(16..20).and_then(|s| <[u8; 4]>::try_from(s).ok()).map_or(0, u32::from_le_bytes);
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        let entry = ShardEntry { len: bytes.len() as u64, crc32c, sha256, members: members.len() as u64 };
        Ok(EncodedShard { bytes, entry, set_bytes, purpose_bytes, member_check })
    }
}

/// Writes the shards of one build in index order, and keeps what the head and the summary need.
struct ShardWriter<'a> {
    shape: ShardShape<'a>,
    keys: &'a mut KeySource,
    /// A supplied key: each shard's filter seeds derive from it and the index ([`shard_keys`]).
    supplied_key: Option<FingerprintKey>,
    head: &'a Path,
    /// Where shards are written until the whole build has passed its self-check (the scratch
    /// directory): a build that fails half-way never leaves a shard beside an older head.
    staging: &'a Path,
    staged: Vec<PathBuf>,
    entries: Vec<ShardEntry>,
    files: Vec<ShardFile>,
    /// Bytes per segment and per purpose, summed over the shards.
    set_bytes: Vec<usize>,
    purpose_bytes: Vec<usize>,
    member_check: MemberCheck,
}

impl ShardWriter<'_> {
    /// Shards written so far: the index of the next.
    fn written(&self) -> u32 {
        self.entries.len() as u32
    }

    /// Builds, writes and records shard `index` from its members (sorted by fingerprint).
    fn write(&mut self, index: u32, members: &[Record]) -> Result<(), BuildError> {
        let shard = match self.supplied_key {
            Some(key) => self.shape.encode(&mut shard_keys(&key, index), index, members)?,
            None => self.shape.encode(self.keys, index, members)?,
        };
        for (sum, b) in self.set_bytes.iter_mut().zip(&shard.set_bytes) {
            *sum += b;
        }
        for (sum, b) in self.purpose_bytes.iter_mut().zip(&shard.purpose_bytes) {
            *sum += b;
        }
        self.member_check.add(&shard.member_check);
        let staged = self.staging.join(format!("shard-{index:04x}"));
        std::fs::write(&staged, &shard.bytes).map_err(|e| io_err(&staged, e))?;
        self.staged.push(staged);
        let path = shard_path(self.head, index);
        self.files.push(ShardFile { index, path, bytes: shard.entry.len, members: shard.entry.members });
        self.entries.push(shard.entry);
        Ok(())
    }
}
