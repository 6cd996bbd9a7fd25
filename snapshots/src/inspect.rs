//! A description of snapshot bytes, for people (`Display`) and for scripts (`Serialize`).
//!
//! Inspection goes through the edge's own decoder ([`edgeseg::Snapshot::decode`]), so a snapshot
//! that inspects cleanly is one the edge will load, and a broken one fails with the edge's error.
//! What it shows is safe to paste into a ticket: sizes, counts, names and times. It never shows a
//! fingerprint, the fingerprint key (only its key id, a keyed hash of a constant) or anything
//! derived from an id.
//!
//! The bytes may come from anywhere, and the edge checks only tier, segment and purpose names
//! against `[a-z0-9_.-]`: the snapshot id, identity and consent-cookie names, lanes and pools can
//! hold anything. The text form escapes control and invisible characters in every string it
//! prints ([`crate::text::escape`]); the JSON form keeps exact values under JSON's own escaping.

use crate::summary::{bits_per_member, size};
use crate::text::escape;
use edgeseg::actions::{Actions, CacheKey, CacheMode};
use edgeseg::format;
use edgeseg::snapshot::{IdentitySource, Verify};
use edgeseg::throttle::{ThrottleAction, ThrottleKey};
use edgeseg::{Error, Snapshot};
use serde::Serialize;
use std::fmt;

/// Everything [`inspect`] found out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inspection {
    /// Size of the snapshot, header included.
    pub total_bytes: usize,
    pub header: HeaderInfo,
    pub snapshot_id: String,
    pub version: u64,
    /// Names the fingerprint key without revealing it (16 hex digits): equal for builds made with
    /// the same supplied key, and what revocation deltas are bound to.
    pub key_id: String,
    pub created_ms: u64,
    /// `created_ms` as ISO-8601 UTC.
    pub created: String,
    pub expires_ms: Option<u64>,
    pub expires: Option<String>,
    /// Where the edge looks for the customer id, in order.
    pub identity: Vec<IdentityInfo>,
    pub purposes: Vec<PurposeInfo>,
    /// Highest precedence first.
    pub tiers: Vec<String>,
    pub default_tier: String,
    /// In evaluation order.
    pub segments: Vec<SegmentInfo>,
    /// Where request-time consent signals are read.
    pub consent_sources: ConsentSources,
    /// Every tier and segment that carries an action, tiers first.
    pub actions: Vec<ActionInfo>,
    /// Throttle table size of an engine over this snapshot.
    pub throttle_keys: u32,
    /// The limits in force (the snapshot's, defaults filled in).
    pub limits: edgeseg::snapshot::Limits,
    /// A sharded head's shards (absent for a whole snapshot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<ShardsInfo>,
}

/// The size distribution of a sharded head's shards, from the head's shard table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShardsInfo {
    pub count: u32,
    pub bits: u8,
    /// Shard file sizes: sum, smallest, median, largest.
    pub total_bytes: u64,
    pub min_bytes: u64,
    pub median_bytes: u64,
    pub max_bytes: u64,
    /// Members filed per shard: sum, smallest, largest.
    pub members: u64,
    pub min_members: u64,
    pub max_members: u64,
}

fn shards_info(sh: &edgeseg::shard::Sharding) -> ShardsInfo {
    let mut sizes: Vec<u64> = sh.shards.iter().map(|e| e.len).collect();
    sizes.sort_unstable();
    let members = sh.shards.iter().map(|e| e.members);
    ShardsInfo {
        count: sh.count(),
        bits: sh.bits,
        total_bytes: sizes.iter().sum(),
        min_bytes: sizes.first().copied().unwrap_or(0),
        median_bytes: sizes.get(sizes.len() / 2).copied().unwrap_or(0),
        max_bytes: sizes.last().copied().unwrap_or(0),
        members: members.clone().sum(),
        min_members: members.clone().min().unwrap_or(0),
        max_members: members.max().unwrap_or(0),
    }
}

/// Cookie and header names the edge reads consent signals from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConsentSources {
    pub tcf_cookie: Option<String>,
    pub tcf_header: Option<String>,
    pub cookie: Option<String>,
}

/// One tier's or segment's actions, described.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionInfo {
    /// `tier:<name>` or `segment:<name>`.
    pub owner: String,
    pub throttle: Option<String>,
    pub cache: Option<String>,
    pub route: Option<String>,
}

/// The fixed header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeaderInfo {
    pub format_version: u16,
    pub flags: u16,
    pub payload_len: u32,
    /// CRC-32C of the payload, as `0x` and eight hex digits.
    pub checksum: String,
}

/// One identity source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IdentityInfo {
    /// `"cookie"` or `"header"`.
    pub source: String,
    pub name: String,
    /// How its token is verified: `"unverified"` (a bare claim), `"jwt EdDSA"`, `"jwt ES256"` or
    /// `"hmac $VAR"`.
    pub trust: String,
}

/// One purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PurposeInfo {
    pub name: String,
    pub requires_consent: bool,
    /// Members in the (exact) consent set; `None` for purposes without one.
    pub consented: Option<u64>,
    pub bytes: usize,
    /// `Sec-GPC: 1` removes it.
    pub gpc: bool,
    /// TCF purposes that must all be consented in a TCF string.
    pub tcf_purposes: Vec<u8>,
}

/// One segment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SegmentInfo {
    pub name: String,
    pub tier: Option<String>,
    pub purpose: String,
    pub precedence: i32,
    /// `"exact"`, `"bloom"`, `"fuse"`, or `None` for a rule-only segment.
    pub encoding: Option<String>,
    /// A fuse filter's fingerprint bits: its false-positive rate is 2^-bits, so this is log2(1/ε)
    /// to set beside `bits_per_member`.
    pub fp_bits: Option<u8>,
    /// As counted by the builder (a bloom filter cannot count itself).
    pub members: u64,
    pub membership_bytes: usize,
    pub bits_per_member: Option<f64>,
    pub rule_nodes: usize,
}

/// Decodes and describes snapshot bytes.
pub fn inspect(bytes: &[u8]) -> Result<Inspection, Error> {
    let (header, _) = format::split(bytes)?;
    let snap = Snapshot::decode(bytes)?;
    let tier_name = |t: u16| snap.tiers.get(usize::from(t)).map_or_else(|| format!("#{t}"), |t| t.name.clone());
    Ok(Inspection {
        total_bytes: bytes.len(),
        header: HeaderInfo {
            format_version: header.version,
            flags: header.flags,
            payload_len: header.payload_len,
            checksum: format!("{:#010x}", header.checksum),
        },
        snapshot_id: snap.id.clone(),
        version: snap.version,
        key_id: format!("{:016x}", snap.key_id()),
        created_ms: snap.created_ms,
        created: iso8601(snap.created_ms),
        expires_ms: snap.expires_ms,
        expires: snap.expires_ms.map(iso8601),
        identity: snap
            .identity
            .iter()
            .map(|s| IdentityInfo {
                source: match s {
                    IdentitySource::Cookie(_) | IdentitySource::VerifiedCookie(..) => "cookie".into(),
                    IdentitySource::Header(_) | IdentitySource::VerifiedHeader(..) => "header".into(),
                },
                name: s.name().to_owned(),
                trust: match s.verify() {
                    None => "unverified".into(),
                    Some(Verify::Jwt(j)) => format!("jwt {}", j.alg.name()),
                    Some(Verify::Hmac { secret_env }) => format!("hmac ${secret_env}"),
                },
            })
            .collect(),
        purposes: snap
            .purposes
            .iter()
            .map(|p| PurposeInfo {
                name: p.name.clone(),
                requires_consent: p.requires_consent,
                consented: p.consented.as_ref().and_then(|s| s.exact_len()).map(|n| n as u64),
                bytes: p.consented_bytes,
                gpc: p.signals.sale_sharing,
                tcf_purposes: (1..=24u8).filter(|t| p.signals.tcf_purposes & (1 << (t - 1)) != 0).collect(),
            })
            .collect(),
        tiers: snap.tiers.iter().map(|t| t.name.clone()).collect(),
        default_tier: tier_name(snap.default_tier),
        segments: snap
            .segments
            .iter()
            .map(|s| SegmentInfo {
                name: s.name.clone(),
                tier: s.tier.map(tier_name),
                purpose: snap.purposes.get(usize::from(s.purpose)).map_or_else(String::new, |p| p.name.clone()),
                precedence: s.precedence,
                encoding: s.membership.as_ref().map(|m| m.encoding().as_str().to_string()),
                fp_bits: s.membership.as_ref().and_then(|m| m.fp_bits()),
                members: s.members,
                membership_bytes: s.membership_bytes,
                bits_per_member: (s.membership.is_some() && s.members > 0)
                    .then(|| s.membership_bytes as f64 * 8.0 / s.members as f64),
                rule_nodes: s.rule.as_ref().map_or(0, |r| r.nodes.len()),
            })
            .collect(),
        consent_sources: ConsentSources {
            tcf_cookie: snap.consent.tcf_cookie.clone(),
            tcf_header: snap.consent.tcf_header.clone(),
            cookie: snap.consent.cookie.clone(),
        },
        actions: snap
            .tiers
            .iter()
            .map(|t| (format!("tier:{}", t.name), &t.actions))
            .chain(snap.segments.iter().map(|s| (format!("segment:{}", s.name), &s.actions)))
            .filter(|(_, a)| !a.is_empty())
            .map(|(owner, a)| describe_actions(owner, a))
            .collect(),
        throttle_keys: snap.throttle_keys,
        limits: snap.limits,
        shards: snap.sharding.as_ref().map(shards_info),
    })
}

fn describe_actions(owner: String, a: &Actions) -> ActionInfo {
    let throttle = a.throttle.as_ref().map(|t| {
        let key = match t.key {
            ThrottleKey::User => "user",
            ThrottleKey::Ip => "ip",
            ThrottleKey::Segment => "segment",
        };
        let action = match &t.action {
            ThrottleAction::Reject => "reject".to_owned(),
            ThrottleAction::Deprioritize { lane } => format!("deprioritize to {lane}"),
        };
        format!("{}/{}ms burst {} per {key}, {action}", t.rate, t.period_ms, t.burst)
    });
    let cache = a.cache.as_ref().map(|c| {
        let control = c.cache_control().unwrap_or_else(|| "bypass".to_owned());
        let key = match c.key {
            CacheKey::Tier => "tier",
            CacheKey::Segment => "segment",
            CacheKey::Shared => "shared",
        };
        if matches!(c.mode, CacheMode::Public) { format!("{control}; key {key}") } else { control }
    });
    let route = a.route.as_ref().map(|r| format!("{}/{}", r.pool, r.lane));
    ActionInfo { owner, throttle, cache, route }
}

/// `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`, by Howard Hinnant's `civil_from_days`
/// (no date crate for one conversion; the epoch and leap-year cases are tested).
pub fn iso8601(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let rem = ms % 86_400_000;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        writeln!(f, "snapshot {} version {}", escape(&self.snapshot_id), self.version)?;
        writeln!(f, "  size      {} ({} bytes)", size(self.total_bytes), self.total_bytes)?;
        writeln!(
            f,
            "  header    format v{}, flags {:#06x}{}, payload {} bytes, crc32c {}",
            h.format_version,
            h.flags,
            if h.flags & edgeseg::format::FLAG_SIGNED != 0 { " (Ed25519-signed)" } else { "" },
            h.payload_len,
            h.checksum
        )?;
        writeln!(f, "  key id    {}", self.key_id)?;
        writeln!(f, "  created   {} ({} ms)", self.created, self.created_ms)?;
        match (&self.expires, self.expires_ms) {
            (Some(iso), Some(ms)) => writeln!(f, "  expires   {iso} ({ms} ms)")?,
            _ => writeln!(f, "  expires   never")?,
        }
        let ids: Vec<String> =
            self.identity.iter().map(|i| format!("{} {} ({})", i.source, escape(&i.name), escape(&i.trust))).collect();
        writeln!(f, "  identity  {}", if ids.is_empty() { "none".into() } else { ids.join(", then ") })?;
        let tiers: Vec<_> = self.tiers.iter().map(|t| escape(t)).collect();
        writeln!(f, "  tiers     {} (default {})", tiers.join(" > "), escape(&self.default_tier))?;
        let c = &self.consent_sources;
        let mut sources = Vec::new();
        if let Some(n) = &c.tcf_cookie {
            sources.push(format!("TCF cookie {}", escape(n)));
        }
        if let Some(n) = &c.tcf_header {
            sources.push(format!("TCF header {}", escape(n)));
        }
        if let Some(n) = &c.cookie {
            sources.push(format!("consent cookie {}", escape(n)));
        }
        sources.push("Sec-GPC".into());
        writeln!(f, "  signals   {}", sources.join(", "))?;
        writeln!(f, "  throttle  {} keys", self.throttle_keys)?;
        let l = &self.limits;
        writeln!(
            f,
            "  limits    {} segments, rules {} nodes / depth {}, headers {} bytes, delta {} bytes",
            l.segments, l.rule_nodes, l.rule_depth, l.header_bytes, l.delta_bytes
        )?;
        if let Some(sh) = &self.shards {
            writeln!(
                f,
                "  shards    {} ({} bits) beside this head: {} in all; each {} to {}, median {}; {} to {} of {} \
                 members each",
                sh.count,
                sh.bits,
                size(sh.total_bytes as usize),
                size(sh.min_bytes as usize),
                size(sh.max_bytes as usize),
                size(sh.median_bytes as usize),
                sh.min_members,
                sh.max_members,
                sh.members
            )?;
        }
        writeln!(f)?;
        writeln!(f, "{:<24} {:<8} {:>10} {:>10}  {:<4} tcf", "purpose", "consent", "consented", "bytes", "gpc")?;
        for p in &self.purposes {
            let tcf: Vec<String> = p.tcf_purposes.iter().map(u8::to_string).collect();
            writeln!(
                f,
                "{:<24} {:<8} {:>10} {:>10}  {:<4} {}",
                escape(&p.name),
                if p.requires_consent { "required" } else { "no" },
                p.consented.map_or_else(|| "-".into(), |n| n.to_string()),
                if p.consented.is_some() { size(p.bytes) } else { "-".into() },
                if p.gpc { "off" } else { "-" },
                if tcf.is_empty() { "-".into() } else { tcf.join(",") },
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<24} {:<10} {:<16} {:>5} {:<8} {:>9} {:>10} {:>8} {:>9} {:>5}",
            "segment", "tier", "purpose", "prec", "encoding", "members", "bytes", "bits/mbr", "log2(1/e)", "rule"
        )?;
        for s in &self.segments {
            let has_set = s.encoding.is_some();
            writeln!(
                f,
                "{:<24} {:<10} {:<16} {:>5} {:<8} {:>9} {:>10} {:>8} {:>9} {:>5}",
                escape(&s.name),
                escape(s.tier.as_deref().unwrap_or("-")),
                escape(&s.purpose),
                s.precedence,
                s.encoding.as_deref().unwrap_or("rule"),
                if has_set { s.members.to_string() } else { "-".into() },
                if has_set { size(s.membership_bytes) } else { "-".into() },
                if has_set { bits_per_member(s.membership_bytes, s.members) } else { "-".into() },
                s.fp_bits.map_or_else(|| "-".into(), |b| b.to_string()),
                if s.rule_nodes == 0 { "-".into() } else { s.rule_nodes.to_string() },
            )?;
        }
        if !self.actions.is_empty() {
            writeln!(f)?;
            writeln!(f, "actions (the first matched segment with one, else the tier)")?;
            for a in &self.actions {
                writeln!(f, "  {}", escape(&a.owner))?;
                for (what, v) in [("throttle", &a.throttle), ("cache", &a.cache), ("route", &a.route)] {
                    if let Some(v) = v {
                        writeln!(f, "    {what:<9}{}", escape(v))?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_763_719_200_123), "2025-11-21T10:00:00.123Z");
        assert_eq!(iso8601(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(iso8601(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }
}
