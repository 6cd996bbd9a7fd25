//! What a build produced, for the person who ran it (`Display`, a table) and for scripts and CI
//! (`Serialize`). Counts and sizes only: no id, no fingerprint, no key.

use serde::Serialize;
use std::fmt;

/// The outcome of one build.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BuildSummary {
    pub snapshot_id: String,
    pub version: u64,
    pub members_read: u64,
    /// Total snapshot size, header included.
    pub bytes: usize,
    /// In snapshot order (precedence descending, then name).
    pub segments: Vec<SegmentSummary>,
    /// In definitions order.
    pub purposes: Vec<PurposeSummary>,
    /// Segment pairs that can match one request with different actions; the winner's applies.
    pub conflicts: Vec<crate::conflicts::Conflict>,
    /// Every member probed in every set before writing (`None`: a build path that does not).
    pub member_check: Option<crate::check::MemberCheck>,
}

/// One segment of a build.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentSummary {
    pub name: String,
    pub tier: Option<String>,
    pub purpose: String,
    pub precedence: i32,
    /// `"exact"`, `"bloom"`, `"fuse"`, or `None` for a rule-only segment.
    pub encoding: Option<String>,
    /// Members written (after consent filtering).
    pub members: u64,
    /// Members the selection matched but who had not consented to the segment's purpose
    /// (including `excluded_tcf`).
    pub excluded_no_consent: u64,
    /// Of those, members who listed the purpose but whose TCF string withholds a mapped TCF purpose.
    pub excluded_tcf: u64,
    /// Size of the membership set.
    pub bytes: usize,
    /// Nodes in the request rule (0 when there is none).
    pub rule_nodes: usize,
    /// The bloom or fuse filter's target false-positive rate ε (a fuse filter's is 2^-bits).
    pub target_fp_rate: Option<f64>,
    /// The filter's false-positive rate measured on [`crate::build::FP_PROBES`] (10⁶) random
    /// non-member fingerprints.
    pub measured_fp_rate: Option<f64>,
}

/// One purpose of a build.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PurposeSummary {
    pub name: String,
    pub requires_consent: bool,
    /// Members in the consent set (0 for `contract`, which has none).
    pub consented: u64,
    /// Size of the consent set.
    pub bytes: usize,
}

/// Human-readable size: bytes below 10 kB, else kB/MB with one decimal.
pub(crate) fn size(bytes: usize) -> String {
    let b = bytes as f64;
    if bytes < 10_000 {
        format!("{bytes} B")
    } else if bytes < 10_000_000 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{:.1} MB", b / 1e6)
    }
}

/// Bits per member of a set, or `-` when it has no members.
pub(crate) fn bits_per_member(bytes: usize, members: u64) -> String {
    if members == 0 { "-".into() } else { format!("{:.1}", bytes as f64 * 8.0 / members as f64) }
}

impl fmt::Display for BuildSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "snapshot {} version {}: {} ({} bytes) from {} members",
            self.snapshot_id,
            self.version,
            size(self.bytes),
            self.bytes,
            self.members_read
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<24} {:<10} {:<16} {:>5} {:<8} {:>9} {:>9} {:>7} {:>10} {:>8} {:>9} {:>5} {:>17}",
            "segment",
            "tier",
            "purpose",
            "prec",
            "encoding",
            "members",
            "no-cnsnt",
            "of-tcf",
            "bytes",
            "bits/mbr",
            "log2(1/e)",
            "rule",
            "fp target/meas"
        )?;
        for s in &self.segments {
            let fp = match (s.target_fp_rate, s.measured_fp_rate) {
                (Some(t), Some(m)) => format!("{t:.2e}/{m:.2e}"),
                _ => "-".into(),
            };
            let log2 = s.target_fp_rate.map_or_else(|| "-".into(), |t| format!("{:.1}", -t.log2()));
            let has_set = s.encoding.is_some();
            writeln!(
                f,
                "{:<24} {:<10} {:<16} {:>5} {:<8} {:>9} {:>9} {:>7} {:>10} {:>8} {:>9} {:>5} {:>17}",
                s.name,
                s.tier.as_deref().unwrap_or("-"),
                s.purpose,
                s.precedence,
                s.encoding.as_deref().unwrap_or("rule"),
                if has_set { s.members.to_string() } else { "-".into() },
                if has_set { s.excluded_no_consent.to_string() } else { "-".into() },
                if has_set { s.excluded_tcf.to_string() } else { "-".into() },
                if has_set { size(s.bytes) } else { "-".into() },
                if has_set { bits_per_member(s.bytes, s.members) } else { "-".into() },
                log2,
                if s.rule_nodes == 0 { "-".into() } else { s.rule_nodes.to_string() },
                fp,
            )?;
        }
        writeln!(f)?;
        writeln!(f, "{:<24} {:<8} {:>10} {:>10}", "purpose", "consent", "consented", "bytes")?;
        for p in &self.purposes {
            writeln!(
                f,
                "{:<24} {:<8} {:>10} {:>10}",
                p.name,
                if p.requires_consent { "required" } else { "no" },
                if p.requires_consent { p.consented.to_string() } else { "-".into() },
                if p.requires_consent { size(p.bytes) } else { "-".into() },
            )?;
        }
        if let Some(c) = &self.member_check {
            writeln!(f)?;
            writeln!(f, "member check: {} sets, {} probes, all found ({:.3} s)", c.sets, c.probes, c.seconds)?;
        }
        if !self.conflicts.is_empty() {
            writeln!(f)?;
            writeln!(f, "action conflicts: these segments can match one request; the first one's action applies")?;
            for c in &self.conflicts {
                writeln!(f, "  {:<8} {} over {}", c.action, c.winner, c.shadowed)?;
            }
        }
        Ok(())
    }
}

/// The summary of a sharded build (`crate::shard`): counts from the build, sizes summed over the
/// shards, the member check summed over them.
#[allow(clippy::too_many_arguments, reason = "one call site; the parts of a sharded build's outcome")]
pub(crate) fn sharded(
    plan: &crate::plan::Plan,
    snapshot: &edgeseg::Snapshot,
    counts: &crate::build::Counts,
    set_bytes: &[usize],
    purpose_bytes: &[usize],
    files: &[crate::shard::ShardFile],
    head_bytes: usize,
    member_check: crate::check::MemberCheck,
) -> crate::BuildSummary {
    let segments = plan
        .segments
        .iter()
        .enumerate()
        .map(|(i, seg)| {
            let n = counts.segments.get(i).copied().unwrap_or(0);
            let encoding = crate::build::resolve(seg, usize::try_from(n).unwrap_or(usize::MAX));
            crate::SegmentSummary {
                name: seg.name.clone(),
                tier: seg.tier.and_then(|t| plan.tiers.get(usize::from(t))).cloned(),
                purpose: plan.purposes.get(usize::from(seg.purpose)).map_or_else(String::new, |p| p.name.clone()),
                precedence: seg.precedence,
                encoding: encoding.map(|e| match e {
                    crate::definitions::EncodingDef::Exact | crate::definitions::EncodingDef::Auto => {
                        "exact".to_string()
                    }
                    crate::definitions::EncodingDef::Bloom => "bloom".to_string(),
                    crate::definitions::EncodingDef::Fuse => "fuse".to_string(),
                }),
                members: n,
                excluded_no_consent: counts.excluded.get(i).copied().unwrap_or(0),
                excluded_tcf: counts.excluded_tcf.get(i).copied().unwrap_or(0),
                bytes: set_bytes.get(i).copied().unwrap_or(0),
                rule_nodes: seg.rule.as_ref().map_or(0, |r| r.nodes.len()),
                target_fp_rate: match encoding {
                    Some(crate::definitions::EncodingDef::Bloom) => Some(seg.fp_rate),
                    Some(crate::definitions::EncodingDef::Fuse) => Some((-f64::from(seg.fuse_bits)).exp2()),
                    _ => None,
                },
                // Not measured per shard: each shard's filter has the target rate by construction.
                measured_fp_rate: None,
            }
        })
        .collect();
    let purposes = plan
        .purposes
        .iter()
        .enumerate()
        .map(|(i, p)| crate::PurposeSummary {
            name: p.name.clone(),
            requires_consent: p.requires_consent,
            consented: counts.consented.get(i).copied().unwrap_or(0),
            bytes: purpose_bytes.get(i).copied().unwrap_or(0),
        })
        .collect();
    crate::BuildSummary {
        snapshot_id: snapshot.id.clone(),
        version: snapshot.version,
        members_read: counts.members,
        bytes: head_bytes + files.iter().map(|f| f.bytes as usize).sum::<usize>(),
        segments,
        purposes,
        conflicts: Vec::new(),
        member_check: Some(member_check),
    }
}
