//! `edgeseg slo rules`: Prometheus recording and alerting rules for the tiers' SLOs;
//! `edgeseg slo dashboard`: the Grafana dashboard over the same metrics.

use crate::replay::grafana::{DashboardSource, dashboard};
use crate::replay::rules::{RuleSource, TierSlo, slo_rules};
use crate::replay::slo::default_severity;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SloArgs {
    #[command(subcommand)]
    pub command: SloCommand,
}

#[derive(Debug, Subcommand)]
pub enum SloCommand {
    /// Print Prometheus rules (YAML) watching each tier's SLO with multi-window burn-rate alerts,
    /// labelled `tier`, `severity` (page/ticket), `slo` (availability/latency) and `burn`.
    Rules(RulesCmd),
    /// Print a Grafana dashboard (JSON model): a row per tier with request rate, error ratio
    /// against the SLO, burn rates per alert window and, with a latency histogram, p99.
    Dashboard(DashboardArgs),
}

#[derive(Debug, Args)]
pub struct RulesCmd {
    #[command(flatten)]
    pub source: RulesArgs,
    /// A Prometheus latency histogram labelled by tier (base name, e.g.
    /// `http_request_duration_seconds`), with a bucket at each tier's p99 bound: adds latency
    /// burn-rate alerts for the tiers with a p99 target.
    #[arg(long, value_name = "NAME")]
    pub latency_histogram: Option<String>,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub source: RulesArgs,
    /// A Prometheus latency histogram labelled by tier (base name, e.g.
    /// `http_request_duration_seconds`); adds a p99 panel per tier.
    #[arg(long, value_name = "NAME")]
    pub latency_histogram: Option<String>,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// A snapshot (its tiers' SLOs are used; it carries no severities: premium pages, other
    /// tiers get tickets).
    #[arg(long, value_name = "FILE", conflicts_with = "definitions", required_unless_present = "definitions")]
    pub snapshot: Option<PathBuf>,
    /// Or a definitions file (built in memory; no member file needed for SLOs): its tiers' SLOs
    /// and `tier_slos.<tier>.severity`.
    #[arg(long, value_name = "FILE")]
    pub definitions: Option<PathBuf>,
    /// The production request counter.
    #[arg(long, default_value = "http_requests_total")]
    pub metric: String,
    /// The label carrying the tier (`x-edgeseg-tier`).
    #[arg(long, default_value = "tier")]
    pub tier_label: String,
    /// The label carrying the HTTP status code.
    #[arg(long, default_value = "code")]
    pub status_label: String,
}

pub fn run_slo(args: &SloArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    match &args.command {
        SloCommand::Rules(r) => {
            let (_, tiers, src) = load(&r.source)?;
            if let Some(h) = &r.latency_histogram {
                prometheus_name("--latency-histogram", h, true)?;
            }
            write!(out, "{}", slo_rules(&tiers, &src, r.latency_histogram.as_deref()))?;
        }
        SloCommand::Dashboard(d) => {
            let (id, tiers, rules) = load(&d.source)?;
            if let Some(h) = &d.latency_histogram {
                prometheus_name("--latency-histogram", h, true)?;
            }
            let tiers: Vec<(String, edgeseg::snapshot::Slo)> = tiers.into_iter().map(|t| (t.tier, t.slo)).collect();
            let src = DashboardSource { rules, latency_histogram: d.latency_histogram.clone() };
            serde_json::to_writer_pretty(&mut *out, &dashboard(&id, &tiers, &src))?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn prometheus_name(what: &str, v: &str, colons: bool) -> anyhow::Result<()> {
    let ok = v.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':'));
    if ok { Ok(()) } else { anyhow::bail!("{what} {v:?} is not a Prometheus name") }
}

/// The snapshot's id, its tiers that have an SLO, and the checked metric source.
type Loaded = (String, Vec<TierSlo>, RuleSource);

fn load(r: &RulesArgs) -> anyhow::Result<Loaded> {
    let (bytes, defs) = match (&r.snapshot, &r.definitions) {
        (Some(path), _) => (std::fs::read(path).with_context(|| format!("reading {}", path.display()))?, None),
        (None, Some(path)) => {
            // SLOs live in the definitions; members do not matter, so build with none.
            let defs = edgeseg_snapshots::Definitions::load(path)?;
            let opts = edgeseg_snapshots::BuildOptions { seed: Some(0), created_ms: Some(0), ..Default::default() };
            (edgeseg_snapshots::build(&defs, std::iter::empty(), &opts)?.bytes, Some(defs))
        }
        (None, None) => anyhow::bail!("pass --snapshot or --definitions"),
    };
    let snap = edgeseg::Snapshot::decode(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Severity is the definitions' business only (the edge never needs it): from a snapshot, the
    // defaults by tier name.
    let severity = |tier: &str| {
        defs.as_ref()
            .and_then(|d| d.tier_slos.get(tier))
            .and_then(|s| s.as_ref()?.severity)
            .unwrap_or_else(|| default_severity(tier))
    };
    let tiers: Vec<TierSlo> = snap
        .tiers
        .iter()
        .filter_map(|t| Some(TierSlo { tier: t.name.clone(), slo: t.slo?, severity: severity(&t.name) }))
        .collect();
    if tiers.is_empty() {
        anyhow::bail!("no tier of snapshot {} has an SLO", snap.id);
    }
    let src =
        RuleSource { metric: r.metric.clone(), tier_label: r.tier_label.clone(), status_label: r.status_label.clone() };
    for (what, v) in
        [("--metric", &src.metric), ("--tier-label", &src.tier_label), ("--status-label", &src.status_label)]
    {
        prometheus_name(what, v, what == "--metric")?;
    }
    Ok((snap.id.clone(), tiers, src))
}
