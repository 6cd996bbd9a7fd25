//! A sharded build in parts, for a distributed engine: every step a Spark (or any) job needs, each
//! a pure function of its inputs, so parts built in different tasks and machines fit together.
//!
//! ```text
//! driver:  definitions + fingerprint key (a file, the same everywhere)
//! tasks:   count(members of a partition)            ──► PartCounts ─┐ merged on the driver
//! driver:  layout(counts, shards | shard bytes, version, created_ms) ◄┘ ─► Layout (bits, stamp)
//! tasks:   shard_of(id) per member, repartition by shard
//! tasks:   build_shard(layout, index, that shard's members) ──► shard bytes + ShardManifest
//! driver:  assemble_head(layout, every manifest)     ──► head bytes (checks nothing was lost)
//! ```
//!
//! The pieces are the ones `edgeseg build --shards` runs ([`crate::shard`]): the same validation,
//! consent filtering and profile rules ([`crate::build`]'s ingest), the same encodings resolved
//! from the whole build's counts, filter seeds derived from the key and the shard index. So with
//! the same key, version and creation time, a distributed build writes the same bytes as the CLI.

use crate::build::{BuildOptions, ExactForm, Filed, expires_ms, ingest};
use crate::error::{BuildError, BuildErrorKind};
use crate::members::Member;
use crate::plan::Plan;
use crate::shard::{
    HeadStamp, Record, ShardOptions, ShardShape, build_id, choose_bits, encodings, head_payload, shard_keys,
    sort_records,
};
use edgeseg::fingerprint::FingerprintKey;
use edgeseg::shard::{MAX_SHARD_BITS, ShardEntry, Sharding, shard_index};
use edgeseg::{Engine, Snapshot};
use serde::{Deserialize, Serialize};

/// What a partition's members add up to ([`ingest`]'s counts): merged over all partitions, it
/// decides the shard count and each segment's encoding, and it is what [`assemble_head`] checks the
/// shards against.
pub use crate::build::Counts as PartCounts;

impl PartCounts {
    /// Adds another partition's counts (of the same definitions).
    pub fn merge(&mut self, other: &PartCounts) -> Result<(), BuildError> {
        if self.segments.is_empty() && self.consented.is_empty() && self.members == 0 {
            *self = other.clone();
            return Ok(());
        }
        let same = self.consented.len() == other.consented.len() && self.segments.len() == other.segments.len();
        if !same || self.excluded.len() != other.excluded.len() || self.excluded_tcf.len() != other.excluded_tcf.len() {
            return Err(BuildError::new(
                BuildErrorKind::Definitions,
                "counts from different definitions cannot be merged (purpose or segment counts differ)",
            ));
        }
        self.members += other.members;
        for (a, b) in [
            (&mut self.consented, &other.consented),
            (&mut self.segments, &other.segments),
            (&mut self.excluded, &other.excluded),
            (&mut self.excluded_tcf, &other.excluded_tcf),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        Ok(())
    }
}

/// The decisions every part of one build shares, made once on the driver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// 2^bits shards.
    pub bits: u8,
    pub version: u64,
    pub created_ms: u64,
    /// `"compact"` or `"plain"`.
    pub exact_form: String,
    /// The key the parts must be built with ([`FingerprintKey::key_id`]).
    pub key_id: u64,
    /// The whole build's counts.
    pub counts: PartCounts,
}

/// One shard as built by [`build_shard`]: what the head's table needs, and what the driver
/// checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    pub index: u32,
    pub len: u64,
    pub crc32c: u32,
    /// Lower-case hex.
    pub sha256: String,
    pub members: u64,
    /// Members per segment in this shard.
    pub segments: Vec<u64>,
    /// Consenting members per purpose in this shard.
    pub consented: Vec<u64>,
}

fn form(layout: &Layout) -> Result<ExactForm, BuildError> {
    match layout.exact_form.as_str() {
        "compact" => Ok(ExactForm::Compact),
        "plain" => Ok(ExactForm::Plain),
        other => Err(BuildError::new(BuildErrorKind::Definitions, format!("exact_form {other:?}: compact or plain"))),
    }
}

fn check_key(layout: &Layout, key: &FingerprintKey) -> Result<(), BuildError> {
    if layout.key_id == key.key_id() {
        Ok(())
    } else {
        Err(BuildError::new(
            BuildErrorKind::Definitions,
            format!(
                "the layout was made for key id {:016x}, this part is built with {:016x}",
                layout.key_id,
                key.key_id()
            ),
        ))
    }
}

/// The fingerprint of `id` and the shard (of 2^`bits`) it belongs to.
pub fn shard_of(key: &FingerprintKey, id: &str, bits: u8) -> (u64, u32) {
    let fp = key.fingerprint(id);
    (fp, shard_index(fp, bits))
}

/// Validates and counts one partition's members (every check a build makes on a member).
pub fn count(
    defs: &crate::Definitions,
    key: &FingerprintKey,
    members: impl IntoIterator<Item = Result<Member, BuildError>>,
) -> Result<PartCounts, BuildError> {
    let plan = Plan::new(defs)?;
    ingest(&plan, key, members, &mut |_| {}, &mut |_: Filed<'_>| Ok(()))
}

/// The layout of a build from its merged counts: the shard count (`sharding.bits`, else the
/// fewest that keep the estimated shard under `sharding.shard_bytes`), version and creation time
/// (`opts`, defaulting as a build does).
pub fn layout(
    defs: &crate::Definitions,
    key: &FingerprintKey,
    counts: PartCounts,
    sharding: &ShardOptions,
    opts: &BuildOptions,
) -> Result<Layout, BuildError> {
    let plan = Plan::new(defs)?;
    check_counts(&plan, &counts)?;
    let bits = match sharding.bits {
        Some(b) if b > MAX_SHARD_BITS => {
            return Err(BuildError::new(
                BuildErrorKind::Limit,
                format!("{} shards, at most 2^{MAX_SHARD_BITS}", 1u64 << b),
            ));
        }
        Some(b) => b,
        None => choose_bits(&plan, &counts, opts.exact_form, sharding.shard_bytes),
    };
    let created_ms = match opts.created_ms {
        Some(ms) => ms,
        None => crate::build::now_ms()?,
    };
    Ok(Layout {
        bits,
        version: opts.version.or(plan.version).unwrap_or(created_ms),
        created_ms,
        exact_form: match opts.exact_form {
            ExactForm::Compact => "compact".into(),
            ExactForm::Plain => "plain".into(),
        },
        key_id: key.key_id(),
        counts,
    })
}

fn check_counts(plan: &Plan, counts: &PartCounts) -> Result<(), BuildError> {
    if counts.segments.len() != plan.segments.len() || counts.consented.len() != plan.purposes.len() {
        return Err(BuildError::new(
            BuildErrorKind::Definitions,
            "the counts were made with other definitions (purpose or segment counts differ)",
        ));
    }
    Ok(())
}

/// Builds shard `index` from its members (any order; every one must fall into this shard).
pub fn build_shard(
    defs: &crate::Definitions,
    key: &FingerprintKey,
    layout: &Layout,
    index: u32,
    members: impl IntoIterator<Item = Result<Member, BuildError>>,
) -> Result<(Vec<u8>, ShardManifest), BuildError> {
    let plan = Plan::new(defs)?;
    check_key(layout, key)?;
    check_counts(&plan, &layout.counts)?;
    if layout.bits > MAX_SHARD_BITS || u64::from(index) >= 1u64 << layout.bits {
        return Err(BuildError::new(BuildErrorKind::Limit, format!("shard {index} of 2^{}", layout.bits)));
    }
    let mut records = Vec::new();
    let mut stray: Option<(Option<u64>, u32)> = None;
    let counts = ingest(&plan, key, members, &mut |_| {}, &mut |m: Filed<'_>| {
        let at = shard_index(m.fingerprint, layout.bits);
        if at != index && stray.is_none() {
            stray = Some((m.line, at));
        }
        records.push(Record::of(&m));
        Ok(())
    })?;
    if let Some((line, at)) = stray {
        let e = BuildError::new(
            BuildErrorKind::Members,
            format!("a member of shard {at} was given to shard {index} (were the ids assigned with another key?)"),
        )
        .with_field("id");
        return Err(match line {
            Some(l) => e.with_line(l),
            None => e,
        });
    }
    sort_records(&mut records)?;
    let encodings = encodings(&plan, &layout.counts.segments);
    let shape = ShardShape {
        plan: &plan,
        encodings: &encodings,
        form: form(layout)?,
        bits: layout.bits,
        build: build_id(key, &plan.id, layout.version, layout.created_ms),
        version: layout.version,
    };
    let shard = shape.encode(&mut shard_keys(key, index), index, &records)?;
    let manifest = ShardManifest {
        index,
        len: shard.entry.len,
        crc32c: shard.entry.crc32c,
        sha256: crate::sign::to_hex(&shard.entry.sha256),
        members: shard.entry.members,
        segments: counts.segments,
        consented: counts.consented,
    };
    Ok((shard.bytes, manifest))
}

/// The head of a build from every shard's manifest. Refuses a missing, repeated or foreign shard,
/// and counts that do not add up to the layout's (a lost or doubled partition).
pub fn assemble_head(
    defs: &crate::Definitions,
    key: &FingerprintKey,
    layout: &Layout,
    manifests: &[ShardManifest],
) -> Result<Vec<u8>, BuildError> {
    let plan = Plan::new(defs)?;
    check_key(layout, key)?;
    check_counts(&plan, &layout.counts)?;
    let n = 1usize << layout.bits.min(MAX_SHARD_BITS);
    let mut by_index: Vec<Option<&ShardManifest>> = vec![None; n];
    for m in manifests {
        let slot = by_index
            .get_mut(m.index as usize)
            .ok_or_else(|| BuildError::new(BuildErrorKind::Limit, format!("manifest for shard {} of {n}", m.index)))?;
        if slot.replace(m).is_some() {
            return Err(BuildError::new(BuildErrorKind::Members, format!("shard {} was built twice", m.index)));
        }
    }
    let mut entries = Vec::with_capacity(n);
    let mut sums = PartCounts {
        members: 0,
        consented: vec![0; plan.purposes.len()],
        segments: vec![0; plan.segments.len()],
        excluded: Vec::new(),
        excluded_tcf: Vec::new(),
    };
    for (i, m) in by_index.into_iter().enumerate() {
        let m = m.ok_or_else(|| BuildError::new(BuildErrorKind::Members, format!("shard {i} is missing")))?;
        let sha = hex32(&m.sha256).ok_or_else(|| {
            BuildError::new(BuildErrorKind::Encode, format!("shard {i}: sha256 is not 64 hex digits"))
        })?;
        entries.push(ShardEntry { len: m.len, crc32c: m.crc32c, sha256: sha, members: m.members });
        sums.members += m.members;
        for (a, b) in sums.segments.iter_mut().zip(&m.segments) {
            *a += b;
        }
        for (a, b) in sums.consented.iter_mut().zip(&m.consented) {
            *a += b;
        }
    }
    let c = &layout.counts;
    if sums.members != c.members || sums.segments != c.segments || sums.consented != c.consented {
        return Err(BuildError::new(
            BuildErrorKind::Members,
            format!(
                "the shards hold {} members, the counts say {}: a partition was lost, doubled or built from other \
                 data",
                sums.members, c.members
            ),
        ));
    }
    let stamp = HeadStamp {
        version: layout.version,
        created_ms: layout.created_ms,
        expires_ms: expires_ms(&plan, layout.created_ms)?,
    };
    let build = build_id(key, &plan.id, layout.version, layout.created_ms);
    let payload = head_payload(&plan, *key, &c.segments, stamp, Sharding { bits: layout.bits, build, shards: entries });
    let bytes = payload.encode().map_err(|e| BuildError::new(BuildErrorKind::Encode, e.to_string()))?;
    Snapshot::decode(&bytes).map_err(|e| {
        BuildError::new(BuildErrorKind::Encode, format!("self-check: the edge would refuse this head: {e}"))
    })?;
    Ok(bytes)
}

/// Checks a shard against its head with the edge's own validation (length, checksums, build,
/// every set).
pub fn check_shard(head: &[u8], shard: Vec<u8>) -> Result<(), BuildError> {
    let err = |e: edgeseg::Error| BuildError::new(BuildErrorKind::Encode, format!("the edge refuses it: {e}"));
    let mut engine = Engine::from_snapshot(Snapshot::decode(head).map_err(err)?);
    engine.set_shard_budget(0);
    engine.load_shard(shard).map_err(err)?;
    Ok(())
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
