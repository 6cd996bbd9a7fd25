//! The pipeline: definitions + members → snapshot bytes.
//!
//! ```text
//! Definitions ──► Plan (validate, order, compile rules) ──┐
//! members ──► per member: check id, resolve consents,     ├─► membership sets ─► payload ─► bytes
//!             fingerprint, evaluate profile rules ────────┘        │                        │
//!                                                                   └── decode self-check ◄──┘
//! ```
//!
//! Memory is proportional to the output, not the input: a member is dropped as soon as its
//! fingerprint has been filed under the sets it belongs to. Profile attributes are only ever
//! evaluated here, so they never reach the edge; neither do ids, only keyed fingerprints.
//!
//! Keys: a real build draws the 128-bit fingerprint key and each bloom seed from the OS
//! (`getrandom`), so fingerprints from two builds cannot be linked. With [`BuildOptions::seed`]
//! they are derived from the seed instead, which makes the bytes reproducible for tests and
//! goldens — and makes the fingerprints guessable by anyone who knows the seed, so never ship one.
//! With [`BuildOptions::fingerprint_key`] the key is supplied (a secret file) and the seeds derive
//! from it: reproducible like a seed, secret like a drawn key.

use crate::definitions::{AUTO_FUSE_MIN_MEMBERS, Definitions, EncodingDef};
use crate::error::{BuildError, BuildErrorKind};
use crate::members::{Member, MemberSource};
use crate::plan::{Plan, Selection};
use crate::prng::{SplitMix64, mix};
pub use crate::summary::{BuildSummary, PurposeSummary, SegmentSummary};
use edgeseg::Snapshot;
use edgeseg::fingerprint::FingerprintKey;
use edgeseg::membership::MembershipData;
use edgeseg::rule::{DEFAULT_EVAL_BUDGET, Env, Halt, Literal, Slot, Value};
use edgeseg::snapshot::{Purpose, Segment, SnapshotPayload, Tier};
use std::collections::HashMap;
use std::path::Path;

/// The edge refuses to fingerprint longer ids (`edgeseg`'s engine `MAX_ID_LEN`): a member with a
/// longer id could never be matched, so the builder refuses it.
const MAX_ID_LEN: usize = 512;
/// Random non-member fingerprints probed per bloom or fuse segment to measure its false-positive
/// rate.
pub const FP_PROBES: u64 = 1_000_000;

/// How `exact` sets are written. Both decide identically; `Plain` is the format-1 form (64 bits a
/// member), kept for old engines and for the test that pins the equivalence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExactForm {
    /// Compact (`MembershipData::Packed`): about 64 − log2(n) + 5 bits a member.
    #[default]
    Compact,
    /// Sorted little-endian u64s (`MembershipData::Exact`).
    Plain,
}

/// Build stages reported to a progress callback (see [`build_with_progress`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Members read so far.
    Members(u64),
    /// Encoding segment `index` of `of` (membership sets are built one at a time).
    Encoding { index: usize, of: usize },
    /// Measuring false-positive rates and decoding the result.
    Checking,
}

/// Knobs of one build. `Default` is a real build: now, random keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Snapshot version; default: the definitions' `version`, else `created_ms`.
    pub version: Option<u64>,
    /// Creation time in ms since the epoch; default: the system clock.
    pub created_ms: Option<u64>,
    /// `Some`: derive the fingerprint key and bloom seeds from this seed (reproducible bytes, for
    /// tests and goldens only). `None`: draw them from the OS.
    pub seed: Option<u64>,
    /// How `exact` sets (segments and consent sets) are written.
    pub exact_form: ExactForm,
    /// `Some`: fingerprint ids under this key (from `edgeseg keygen --fingerprint`) instead of a
    /// fresh one, and derive the filter seeds from it: builds become reproducible, and parts built
    /// on different machines (a Spark job's tasks) agree. See [`crate::keys`].
    pub fingerprint_key: Option<FingerprintKey>,
}

/// A built snapshot and what went into it.
#[derive(Clone, Debug)]
pub struct Built {
    pub bytes: Vec<u8>,
    pub summary: BuildSummary,
}

/// Builds from a definitions file and a member file (`.csv` or `.jsonl`, by extension).
pub fn build_files(definitions: &Path, members: &Path, opts: &BuildOptions) -> Result<Built, BuildError> {
    let defs = Definitions::load(definitions)?;
    let plan = Plan::new(&defs).map_err(|e| e.in_file(definitions))?;
    build_file_plan(&plan, &MemberSource::new(members), opts, &mut |_| {})
}

/// [`build_with_progress`] over a member file (`.csv` or `.jsonl`): errors name the file, and a
/// duplicate id is reported with both its lines (found by reading the file again: the build keeps
/// fingerprints only).
pub fn build_file_with_progress(
    defs: &Definitions,
    members: &Path,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Built, BuildError> {
    build_file_plan(&Plan::new(defs)?, &MemberSource::new(members), opts, progress)
}

/// [`build_file_with_progress`] over any [`MemberSource`]: a Parquet directory (errors name the
/// part file and its row), compressed files, other column names, stdin (read once: a duplicate
/// id is then reported without its lines).
pub fn build_source_with_progress(
    defs: &Definitions,
    members: &MemberSource,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Built, BuildError> {
    build_file_plan(&Plan::new(defs)?, members, opts, progress)
}

fn build_file_plan(
    plan: &Plan,
    members: &MemberSource,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Built, BuildError> {
    let reader = members.open()?;
    run(plan, reader, opts, progress, Some(members))
        .map_err(|e| if e.kind() == BuildErrorKind::Members { members.relocate(e.in_file(&members.name())) } else { e })
}

/// Builds from parsed definitions and any source of members.
pub fn build(
    defs: &Definitions,
    members: impl IntoIterator<Item = Result<Member, BuildError>>,
    opts: &BuildOptions,
) -> Result<Built, BuildError> {
    run(&Plan::new(defs)?, members, opts, &mut |_| {}, None)
}

/// [`build`], reporting progress to `progress` (members every 65 536 and at the end, then each
/// encoding stage). The CLI renders it as a progress bar.
pub fn build_with_progress(
    defs: &Definitions,
    members: impl IntoIterator<Item = Result<Member, BuildError>>,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Built, BuildError> {
    run(&Plan::new(defs)?, members, opts, progress, None)
}

/// Where key material comes from: the OS, or a stream derived from a seed.
pub(crate) struct KeySource(pub(crate) Option<SplitMix64>);

impl KeySource {
    pub(crate) fn fill(&mut self, out: &mut [u8]) -> Result<(), BuildError> {
        match &mut self.0 {
            Some(prng) => {
                prng.fill(out);
                Ok(())
            }
            None => getrandom::fill(out)
                .map_err(|e| BuildError::new(BuildErrorKind::Encode, format!("no randomness for keys: {e}"))),
        }
    }

    /// A bloom seed whose two halves differ (equal halves degrade the filter; see DESIGN.md).
    pub(crate) fn bloom_seed(&mut self) -> Result<[u8; 32], BuildError> {
        let mut seed = [0u8; 32];
        for _ in 0..8 {
            self.fill(&mut seed)?;
            if seed[..16] != seed[16..] {
                return Ok(seed);
            }
        }
        Err(BuildError::new(BuildErrorKind::Encode, "the random source keeps returning equal seed halves"))
    }
}

/// Everything collected from the members.
struct Tally {
    counts: Counts,
    /// Fingerprints of consenting members, by purpose (empty for `contract`).
    consented: Vec<Vec<u64>>,
    /// Fingerprints by segment (empty for rule-only segments).
    fingerprints: Vec<Vec<u64>>,
}

/// What [`ingest`] counts, whatever it files the members into. Also the counts of one partition
/// of a build in parts ([`crate::parts::PartCounts`]), merged on the driver.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Members read.
    pub members: u64,
    /// Members filed per consent purpose and per segment (after consent filtering).
    pub consented: Vec<u64>,
    pub segments: Vec<u64>,
    /// Members that matched a segment's selection but had not consented to its purpose.
    pub excluded: Vec<u64>,
    /// Of those, members who listed the purpose but whose TCF string does not consent to it.
    pub excluded_tcf: Vec<u64>,
}

/// One member as [`ingest`] files it: fingerprint, line, the consent purposes it is filed under
/// (bit per purpose) and the segments (bit per segment, in 64-bit words).
pub(crate) struct Filed<'a> {
    pub(crate) fingerprint: u64,
    pub(crate) line: Option<u64>,
    pub(crate) consented: u64,
    pub(crate) segments: &'a [u64],
}

fn run(
    plan: &Plan,
    members: impl IntoIterator<Item = Result<Member, BuildError>>,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(Progress),
    file: Option<&MemberSource>,
) -> Result<Built, BuildError> {
    let mut keys = KeySource(opts.seed.map(|s| SplitMix64::new(mix(s ^ 0x6B65_7973))));
    let key = crate::shard::build_key(opts, &mut keys)?;
    if let Some(k) = opts.fingerprint_key {
        // Filter seeds from the supplied key, as a one-shard build's would be.
        keys = crate::shard::shard_keys(&k, u32::MAX);
    }
    let mut consented = vec![Vec::new(); plan.purposes.len()];
    let mut fingerprints = vec![Vec::new(); plan.segments.len()];
    // Every member's fingerprint, sorted at the end to find duplicate ids: 8 bytes a member, no
    // id strings or positions kept (a duplicate's lines are found again by `duplicate_error`).
    // Two distinct ids whose keyed 64-bit fingerprints collide (odds ~n²/2⁶⁵) count as duplicates
    // too — the edge could not tell them apart either.
    let mut seen: Vec<u64> = Vec::new();
    let counts = ingest(plan, &key, members, progress, &mut |m: Filed<'_>| {
        seen.push(m.fingerprint);
        for (i, fps) in consented.iter_mut().enumerate() {
            if m.consented & (1 << i) != 0 {
                fps.push(m.fingerprint);
            }
        }
        for (i, fps) in fingerprints.iter_mut().enumerate() {
            if bit(m.segments, i) {
                fps.push(m.fingerprint);
            }
        }
        Ok(())
    })?;
    seen.sort_unstable();
    if let Some(pair) = seen.windows(2).find(|w| w[0] == w[1]) {
        return Err(duplicate_error(&key, pair[0], file));
    }
    drop(seen);
    let mut tally = Tally { counts, consented, fingerprints };
    let conflicts = find_conflicts(plan, &mut tally);

    let created_ms = match opts.created_ms {
        Some(ms) => ms,
        None => now_ms()?,
    };
    let expires_ms = expires_ms(plan, created_ms)?;
    let payload = SnapshotPayload {
        id: plan.id.clone(),
        version: opts.version.or(plan.version).unwrap_or(created_ms),
        created_ms,
        expires_ms,
        fingerprint_key: key,
        identity: plan.identity.clone(),
        purposes: purposes(plan, &mut tally, opts.exact_form)?,
        tiers: plan.tiers.iter().map(|t| Tier { name: t.clone() }).collect(),
        default_tier: plan.default_tier,
        segments: segments(plan, &mut tally, &mut keys, opts.exact_form, progress)?,
        ext: plan.ext.clone(),
    };
    progress(Progress::Checking);
    let bytes = payload.encode().map_err(|e| BuildError::new(BuildErrorKind::Encode, e.to_string()))?;
    drop(payload);
    // Decode once with the edge's own validation: a snapshot the edge would refuse never leaves.
    // It takes the bytes (no copy) and gives them back.
    let len = bytes.len();
    let snapshot = Snapshot::decode_owned(bytes).map_err(|e| {
        BuildError::new(BuildErrorKind::Encode, format!("self-check: the edge would refuse this snapshot: {e}"))
    })?;
    let check = crate::check::MemberCheck::snapshot(&snapshot, &tally.consented, &tally.fingerprints)?;
    let probe = SplitMix64::new(opts.seed.map_or_else(|| key.fingerprint("fp-probe"), |s| mix(s ^ 0x7072_6F62)));
    let mut summary = summarise(plan, &snapshot, tally, probe, len);
    summary.conflicts = conflicts;
    summary.member_check = Some(check);
    Ok(Built { bytes: snapshot.into_bytes(), summary })
}

/// Segments that can match the same request with different actions (see [`crate::conflicts`]).
/// Sorts the collected fingerprints in place (the encoders sort them anyway).
fn find_conflicts(plan: &Plan, tally: &mut Tally) -> Vec<crate::conflicts::Conflict> {
    for fps in &mut tally.fingerprints {
        fps.sort_unstable();
    }
    let facts: Vec<_> = plan
        .segments
        .iter()
        .zip(&plan.ext.segments)
        .zip(&tally.fingerprints)
        .map(|((seg, actions), fps)| crate::conflicts::SegmentFacts {
            name: &seg.name,
            actions,
            rule: seg.rule.as_ref(),
            members: seg.selection.as_ref().map(|_| fps.as_slice()),
        })
        .collect();
    crate::conflicts::find(&facts)
}

/// An exact set in the chosen form.
fn exact(fps: Vec<u64>, form: ExactForm, what: &str) -> Result<MembershipData, BuildError> {
    exact_with(fps, form, 0, what)
}

/// [`exact`] over keys whose lowest `zero_bits` bits are 0 (a shard's), which the compact form
/// does not store.
pub(crate) fn exact_with(
    mut fps: Vec<u64>,
    form: ExactForm,
    zero_bits: u8,
    what: &str,
) -> Result<MembershipData, BuildError> {
    use edgeseg::membership::packed;
    match form {
        ExactForm::Plain => Ok(MembershipData::exact(fps)),
        // Below a few hundred members the bucket offsets can cost more than they save: then the
        // plain form is the smaller one, and it is what "compact" writes.
        ExactForm::Compact if packed::encoded_len_with(fps.len(), zero_bits) >= fps.len() * 8 => {
            Ok(MembershipData::exact(fps))
        }
        ExactForm::Compact => {
            fps.sort_unstable();
            fps.dedup();
            packed::encode_with(&fps, zero_bits)
                .map(MembershipData::Packed)
                .map_err(|e| BuildError::new(BuildErrorKind::Encode, e.to_string()).with_field(what.to_string()))
        }
    }
}

/// The purposes table; consent sets take the collected fingerprints.
fn purposes(plan: &Plan, tally: &mut Tally, form: ExactForm) -> Result<Vec<Purpose>, BuildError> {
    plan.purposes
        .iter()
        .zip(&tally.consented)
        .map(|(p, fps)| {
            Ok(Purpose {
                name: p.name.clone(),
                requires_consent: p.requires_consent,
                consented: if p.requires_consent {
                    Some(exact(fps.clone(), form, &format!("purpose {}", p.name))?)
                } else {
                    None
                },
            })
        })
        .collect()
}

/// The encoding a segment gets: `auto` resolved by privilege and size.
pub(crate) fn resolve(seg: &crate::plan::PlanSegment, members: usize) -> Option<EncodingDef> {
    match &seg.selection {
        Some((_, EncodingDef::Auto)) if seg.privileged || members < AUTO_FUSE_MIN_MEMBERS => Some(EncodingDef::Exact),
        Some((_, EncodingDef::Auto)) => Some(EncodingDef::Fuse),
        Some((_, e)) => Some(*e),
        None => None,
    }
}

/// The segments in snapshot order. Exact sets take their fingerprints; bloom and fuse segments
/// keep theirs for the false-positive probe in [`summarise`].
fn segments(
    plan: &Plan,
    tally: &mut Tally,
    keys: &mut KeySource,
    form: ExactForm,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<Segment>, BuildError> {
    let mut out = Vec::with_capacity(plan.segments.len());
    let of = plan.segments.len();
    for (index, (seg, fps)) in plan.segments.iter().zip(&mut tally.fingerprints).enumerate() {
        progress(Progress::Encoding { index, of });
        let members = fps.len() as u64;
        let field = || format!("segment {}", seg.name);
        let membership = match resolve(seg, fps.len()) {
            Some(EncodingDef::Exact | EncodingDef::Auto) => Some(exact(fps.clone(), form, &field())?),
            Some(EncodingDef::Bloom) => Some(
                MembershipData::bloom(fps, seg.fp_rate, &keys.bloom_seed()?)
                    .map_err(|e| BuildError::new(BuildErrorKind::Encode, e.to_string()).with_field(field()))?,
            ),
            Some(EncodingDef::Fuse) => {
                let mut seed = [0u8; 8];
                keys.fill(&mut seed)?;
                // Fingerprints were sorted for the conflict check; ids are unique, so they are
                // distinct already (dedup is for safety, it costs one pass).
                fps.dedup();
                #[allow(unused_mut, reason = "only the test-only tamper hook writes to it")]
                let mut bytes = crate::fuse::build(fps, seg.fuse_bits, u64::from_le_bytes(seed))
                    .map_err(|e| BuildError::new(BuildErrorKind::Encode, e.to_string()).with_field(field()))?;
                #[cfg(test)]
                crate::check::tamper::fuse(&mut bytes, fps);
                Some(MembershipData::Fuse(bytes))
            }
            None => None,
        };
        out.push(Segment {
            name: seg.name.clone(),
            tier: seg.tier,
            purpose: seg.purpose,
            precedence: seg.precedence,
            rule: seg.rule.clone(),
            membership,
            members,
        });
    }
    Ok(out)
}

/// The build summary, read back from the decoded snapshot (so it reports what was written), plus
/// what only the builder knows: consent exclusions and measured false-positive rates.
fn summarise(plan: &Plan, snapshot: &Snapshot, tally: Tally, mut probe: SplitMix64, bytes: usize) -> BuildSummary {
    let segments = plan
        .segments
        .iter()
        .zip(&snapshot.segments)
        .zip(tally.fingerprints)
        .zip(tally.counts.excluded.into_iter().zip(tally.counts.excluded_tcf))
        .map(|(((seg, view), mut fps), (excluded, excluded_tcf))| {
            let target = match resolve(seg, fps.len()) {
                Some(EncodingDef::Bloom) => Some(seg.fp_rate),
                Some(EncodingDef::Fuse) => Some((-f64::from(seg.fuse_bits)).exp2()),
                _ => None,
            };
            let measured = target.map(|_| {
                fps.sort_unstable();
                crate::check::measure_fp_rate(&mut probe, &fps, |fp| {
                    view.membership.as_ref().is_some_and(|m| m.contains(fp))
                })
            });
            SegmentSummary {
                name: seg.name.clone(),
                tier: seg.tier.and_then(|t| plan.tiers.get(usize::from(t))).cloned(),
                purpose: plan.purposes.get(usize::from(seg.purpose)).map_or_else(String::new, |p| p.name.clone()),
                precedence: seg.precedence,
                encoding: view.membership.as_ref().map(|m| m.encoding().as_str().to_string()),
                members: view.members,
                excluded_no_consent: excluded,
                excluded_tcf,
                bytes: view.membership_bytes,
                rule_nodes: seg.rule.as_ref().map_or(0, |r| r.nodes.len()),
                target_fp_rate: target,
                measured_fp_rate: measured,
            }
        })
        .collect();
    let purposes = snapshot
        .purposes
        .iter()
        .map(|p| PurposeSummary {
            name: p.name.clone(),
            requires_consent: p.requires_consent,
            consented: p.consented.as_ref().and_then(|s| s.exact_len()).unwrap_or(0) as u64,
            bytes: p.consented_bytes,
        })
        .collect();
    BuildSummary {
        snapshot_id: snapshot.id.clone(),
        version: snapshot.version,
        members_read: tally.counts.members,
        bytes,
        segments,
        purposes,
        conflicts: Vec::new(),
        member_check: None,
    }
}

/// When a snapshot created at `created_ms` expires (`expires_in_s` after it), if ever.
pub(crate) fn expires_ms(plan: &Plan, created_ms: u64) -> Result<Option<u64>, BuildError> {
    plan.expires_in_s
        .map(|s| {
            s.checked_mul(1000).and_then(|ms| ms.checked_add(created_ms)).ok_or_else(|| {
                BuildError::new(BuildErrorKind::Limit, "created_ms + expires_in_s overflows").with_field("expires_in_s")
            })
        })
        .transpose()
}

pub(crate) fn now_ms() -> Result<u64, BuildError> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| BuildError::new(BuildErrorKind::Encode, "the system clock is before 1970; pass created_ms"))?;
    u64::try_from(since.as_millis()).map_err(|_| BuildError::new(BuildErrorKind::Encode, "the system clock is absurd"))
}

/// Profile rules see one member's attributes and nothing else.
struct MemberEnv<'m> {
    id: &'m str,
    attributes: &'m [(String, Literal)],
}

impl<'a> Env<'a> for MemberEnv<'a> {
    fn slot(&self, slot: &'a Slot) -> Value<'a> {
        match slot {
            Slot::Attribute(name) => {
                self.attributes.iter().find(|(n, _)| n == name).map_or(Value::Null, |(_, v)| Value::from(v))
            }
            // Same bucketing key as at the edge, so a profile-rule `fractional` and a request-rule
            // `fractional` put a member in the same bucket.
            Slot::Identity => Value::Str(self.id),
            _ => Value::Null,
        }
    }
    fn in_segment(&self, _: u16) -> bool {
        false
    }
}

/// Bit `i` of a bit set held in 64-bit words.
pub(crate) fn bit(words: &[u64], i: usize) -> bool {
    words.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

/// The error for two members sharing fingerprint `fp`. With the member file at hand, its lines
/// are found by reading it again (the build kept no positions): the same id twice, or — odds
/// about n²/2⁶⁵ — two ids whose keyed 64-bit fingerprints collide, which the edge could not tell
/// apart either, so both are refused.
pub(crate) fn duplicate_error(key: &FingerprintKey, fp: u64, file: Option<&MemberSource>) -> BuildError {
    let err = |msg: String| BuildError::new(BuildErrorKind::Members, msg).with_field("id");
    let stdin = file.is_some_and(MemberSource::is_stdin);
    let found: Vec<(Option<u64>, String)> = file
        .filter(|_| !stdin)
        .and_then(|source| source.open().ok())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|m| key.fingerprint(&m.id) == fp)
        .take(2)
        .map(|m| (m.line, m.id))
        .collect();
    match found.as_slice() {
        [(Some(a), x), (Some(b), y)] if x == y => err(format!("duplicate id (also at line {a})")).with_line(*b),
        [(Some(a), _), (Some(b), _)] => err(format!(
            "the ids at lines {a} and {b} differ but their keyed 64-bit fingerprints collide (the edge could not tell \
             them apart); build again with another key"
        ))
        .with_line(*b),
        _ => err(format!(
            "duplicate id: two members have fingerprint {fp:016x} (the same id twice, or ids whose fingerprints \
             collide); the build keeps fingerprints only, so it cannot name the records{}",
            if stdin { " (members from stdin cannot be read again)" } else { "" }
        )),
    }
}

/// Reads every member: validates its id and consents, fingerprints it, evaluates the profile
/// rules, applies consent filtering, and hands it to `file` with the sets it belongs to. Duplicate
/// ids are the filer's to find (it sees every fingerprint).
pub(crate) fn ingest(
    plan: &Plan,
    key: &FingerprintKey,
    members: impl IntoIterator<Item = Result<Member, BuildError>>,
    progress: &mut dyn FnMut(Progress),
    file: &mut dyn FnMut(Filed<'_>) -> Result<(), BuildError>,
) -> Result<Counts, BuildError> {
    let purpose_index: HashMap<&str, usize> =
        plan.purposes.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let declared = || plan.purposes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut tally = Counts {
        members: 0,
        consented: vec![0; plan.purposes.len()],
        segments: vec![0; plan.segments.len()],
        excluded: vec![0; plan.segments.len()],
        excluded_tcf: vec![0; plan.segments.len()],
    };
    let mut segment_bits = vec![0u64; plan.segments.len().div_ceil(64)];
    let precomputed: std::collections::HashSet<&str> = plan
        .segments
        .iter()
        .filter(|s| matches!(s.selection, Some((Selection::Precomputed, _))))
        .map(|s| s.name.as_str())
        .collect();
    let precomputed_names = || {
        let mut names: Vec<&str> = precomputed.iter().copied().collect();
        names.sort_unstable();
        if names.is_empty() { "none".to_string() } else { names.join(", ") }
    };
    for member in members {
        let m = member?;
        tally.members += 1;
        if tally.members.is_multiple_of(1 << 16) {
            progress(Progress::Members(tally.members));
        }
        let err = |msg: String, field: &str| {
            let e = BuildError::new(BuildErrorKind::Members, msg).with_field(field);
            match m.line {
                Some(l) => e.with_line(l),
                None => e,
            }
        };
        if m.id.is_empty() || m.id.len() > MAX_ID_LEN {
            return Err(err(format!("id must be 1 to {MAX_ID_LEN} bytes (the edge ignores longer ones)"), "id"));
        }
        if m.id.trim() != m.id {
            return Err(err(
                "id has leading or trailing whitespace; the edge trims ids, so it could never match".into(),
                "id",
            ));
        }
        if let Some(problem) = crate::text::id_problem(&m.id, plan.id_rules) {
            return Err(err(problem, "id"));
        }
        let mut granted = 0u64;
        for c in &m.consents {
            match purpose_index.get(c.as_str()) {
                Some(&i) => granted |= 1 << i,
                None => return Err(err(format!("unknown purpose {c:?} (declared: {})", declared()), "consents")),
            }
        }
        for (i, p) in plan.purposes.iter().enumerate() {
            if !p.requires_consent {
                granted |= 1 << i;
            }
        }
        // A member's TCF string narrows their listed consents exactly as it would at the edge:
        // a mapped purpose survives only if every TCF purpose it maps to is consented, and a
        // string that does not decode grants none of the mapped purposes.
        let listed = granted;
        if let Some(tcf) = &m.tcf {
            let tcf_consent = edgeseg::tcf::decode(tcf.trim()).map(|tc| tc.purposes_consent).unwrap_or(0);
            for (i, signals) in plan.ext.purposes.iter().enumerate() {
                let need = signals.tcf_purposes;
                if need != 0 && need & tcf_consent != need {
                    granted &= !(1u64 << i);
                }
            }
        }
        let fp = key.fingerprint(&m.id);
        let mut consented = 0u64;
        for (i, p) in plan.purposes.iter().enumerate() {
            if p.requires_consent && granted & (1 << i) != 0 {
                consented |= 1 << i;
                tally.consented[i] += 1;
            }
        }
        segment_bits.fill(0);
        for name in &m.segments {
            if precomputed.contains(name.as_str()) {
                continue;
            }
            let message = if plan.segments.iter().any(|s| &s.name == name) {
                format!(
                    "segment {name:?} is not precomputed: its members come from its definition (add \
                     `\"precomputed\": true` to its `members` to take them from this list)"
                )
            } else {
                format!("unknown segment {name:?} (precomputed segments: {})", precomputed_names())
            };
            return Err(err(message, "segments"));
        }
        let env = MemberEnv { id: &m.id, attributes: &m.attributes };
        for (i, seg) in plan.segments.iter().enumerate() {
            let Some((selection, _)) = &seg.selection else { continue };
            let selected = match selection {
                Selection::All => true,
                Selection::Precomputed => m.segments.iter().any(|n| n == &seg.name),
                // Out of budget is not "no": the edge skips such a rule per request, but here it
                // would silently empty the segment for everyone. A rule that fails on a member
                // (arithmetic on a word in its attribute) does not select it, as at the edge.
                Selection::Where(rule) => match rule.matches_within(&env, DEFAULT_EVAL_BUDGET) {
                    Err(Halt::Error(_)) => Ok(false),
                    other => other,
                }
                .map_err(|_| {
                    let at = m.line.map_or_else(String::new, |l| format!(" at line {l}"));
                    BuildError::new(
                        BuildErrorKind::Limit,
                        format!(
                            "segment {:?}: the profile rule ran out of its evaluation budget ({DEFAULT_EVAL_BUDGET} \
                             work units) on the member{at}; simplify the rule",
                            seg.name
                        ),
                    )
                    .with_field(format!("segments[{}].members.where", seg.def_index))
                })?,
            };
            if !selected {
                continue;
            }
            if granted & (1 << seg.purpose) != 0 {
                if let Some(w) = segment_bits.get_mut(i / 64) {
                    *w |= 1 << (i % 64);
                }
                tally.segments[i] += 1;
            } else {
                tally.excluded[i] += 1;
                if listed & (1 << seg.purpose) != 0 {
                    tally.excluded_tcf[i] += 1;
                }
            }
        }
        file(Filed { fingerprint: fp, line: m.line, consented, segments: &segment_bits })?;
    }
    progress(Progress::Members(tally.members));
    Ok(tally)
}
