//! The replay report in the Prometheus text exposition format (version 0.0.4), for dashboards
//! that chart a replay next to production (the rules that watch production: [`super::rules`]).
//!
//! Metric names carry the `edgeseg_replay_` prefix: they describe a replay, not live traffic.
//! Every series has a `snapshot` label so two replays (old and new snapshot) can share a
//! Pushgateway or a textfile collector.

use super::Report;
use std::fmt::Write;

/// Escapes a label value per the exposition format: backslash, double quote and newline.
pub(crate) fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// One metric family: `# HELP`, `# TYPE`, then the samples.
struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", label(v))).collect();
        let value = if value.is_finite() { format!("{value}") } else { "NaN".to_owned() };
        let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
    }
}

impl Report {
    /// The report as Prometheus text exposition.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let snap = format!("{}@{}", self.snapshot_id, self.snapshot_version);
        let mut f = Family { out: &mut out };

        f.head("edgeseg_replay_requests_total", "counter", "Requests decided, by tier.");
        for t in &self.tiers {
            f.sample("edgeseg_replay_requests_total", &[("snapshot", &snap), ("tier", &t.tier)], t.requests as f64);
        }
        f.head("edgeseg_replay_throttled_total", "counter", "Requests a throttle rejected or deprioritized, by tier.");
        for t in &self.tiers {
            for (result, n) in [("rejected", t.rejected), ("deprioritized", t.deprioritized)] {
                let labels = [("snapshot", snap.as_str()), ("tier", t.tier.as_str()), ("result", result)];
                f.sample("edgeseg_replay_throttled_total", &labels, n as f64);
            }
        }
        f.head("edgeseg_replay_cache_total", "counter", "Requests by cache mode and tier.");
        for t in &self.tiers {
            for (mode, n) in &t.cache {
                let labels = [("snapshot", snap.as_str()), ("tier", t.tier.as_str()), ("mode", mode.as_str())];
                f.sample("edgeseg_replay_cache_total", &labels, *n as f64);
            }
        }
        f.head("edgeseg_replay_route_total", "counter", "Requests by route (pool/lane) and tier.");
        for t in &self.tiers {
            for (route, n) in &t.routes {
                let labels = [("snapshot", snap.as_str()), ("tier", t.tier.as_str()), ("route", route.as_str())];
                f.sample("edgeseg_replay_route_total", &labels, *n as f64);
            }
        }
        f.head("edgeseg_replay_segment_requests_total", "counter", "Requests that matched each segment.");
        for s in &self.segments {
            let labels = [("snapshot", snap.as_str()), ("segment", s.segment.as_str())];
            f.sample("edgeseg_replay_segment_requests_total", &labels, s.requests as f64);
        }
        f.head(
            "edgeseg_replay_consent_narrowed_total",
            "counter",
            "Requests where a consent signal removed a purpose the snapshot granted.",
        );
        for p in &self.consent.purposes {
            for (signal, n) in [("gpc", p.gpc), ("tcf", p.tcf), ("cookie", p.cookie), ("revoked", p.revoked)] {
                let labels = [("snapshot", snap.as_str()), ("purpose", p.purpose.as_str()), ("signal", signal)];
                f.sample("edgeseg_replay_consent_narrowed_total", &labels, n as f64);
            }
        }
        f.head(
            "edgeseg_replay_consent_violations_total",
            "counter",
            "Decisions matching a segment whose purpose was excluded (must be 0).",
        );
        f.sample("edgeseg_replay_consent_violations_total", &[("snapshot", &snap)], self.consent.violations as f64);
        f.head("edgeseg_replay_guest_traps_total", "counter", "Guest calls that trapped (the guest recovered).");
        f.sample("edgeseg_replay_guest_traps_total", &[("snapshot", &snap)], self.guest_traps as f64);
        f.head(
            "edgeseg_replay_fallback_answers_total",
            "counter",
            "Requests the host answered in the guest's place (trap or guest error): default tier, fail-safe actions.",
        );
        let answers = self.fallback.as_ref().map_or(0, |f| f.answers);
        f.sample("edgeseg_replay_fallback_answers_total", &[("snapshot", &snap)], answers as f64);
        f.head(
            "edgeseg_replay_stale_decisions_total",
            "counter",
            "Decisions on a snapshot past its expiry that nothing replaced (last-known-good, flagged stale).",
        );
        f.sample("edgeseg_replay_stale_decisions_total", &[("snapshot", &snap)], self.stale_decisions as f64);
        if let Some(n) = self.headers_skipped {
            f.head(
                "edgeseg_replay_headers_skipped_total",
                "counter",
                "Header values over the snapshot's header_bytes limit, read as absent.",
            );
            f.sample("edgeseg_replay_headers_skipped_total", &[("snapshot", &snap)], n as f64);
        }
        f.head(
            "edgeseg_replay_refused_loads_total",
            "counter",
            "Snapshots refused at a hot swap (the previous one kept serving), by kind.",
        );
        for (kind, n) in &self.refused_loads {
            f.sample("edgeseg_replay_refused_loads_total", &[("snapshot", &snap), ("kind", kind)], *n as f64);
        }
        if let Some(sh) = &self.shards {
            f.head(
                "edgeseg_replay_shard_requests_total",
                "counter",
                "Identified requests on a sharded head, by whether their shard was held (hit) or had to be read (miss).",
            );
            for (result, n) in [("hit", sh.hits), ("miss", sh.misses)] {
                f.sample("edgeseg_replay_shard_requests_total", &[("snapshot", &snap), ("result", result)], n as f64);
            }
            for (name, help, n) in [
                ("edgeseg_replay_shard_loads_total", "Shards read and loaded into the guest.", sh.loaded),
                (
                    "edgeseg_replay_shard_evictions_total",
                    "Shards dropped to stay within the shard budget.",
                    sh.evictions,
                ),
                (
                    "edgeseg_replay_shard_refused_total",
                    "Shards read but refused (SHA-256, another build, corrupt).",
                    sh.refused,
                ),
                ("edgeseg_replay_shard_read_errors_total", "Shard files that could not be read.", sh.read_errors),
                (
                    "edgeseg_replay_shard_missing_decisions_total",
                    "Decisions made without their shard (fail-closed: default tier, nothing consent-gated).",
                    sh.missing_shard_decisions,
                ),
            ] {
                f.head(name, "counter", help);
                f.sample(name, &[("snapshot", &snap)], n as f64);
            }
        }
        if let Some(ts) = &self.throttle_state {
            f.head("edgeseg_replay_throttle_keys_high_water", "gauge", "Most throttle keys held at once.");
            f.sample("edgeseg_replay_throttle_keys_high_water", &[("snapshot", &snap)], ts.high_water as f64);
        }
        if self.tiers.iter().any(|t| t.latency.is_some()) {
            f.head("edgeseg_replay_decide_seconds", "summary", "Decision latency inside the wasm module.");
            for t in &self.tiers {
                if let Some(l) = &t.latency {
                    for (q, us) in [("0.5", l.p50_us), ("0.99", l.p99_us)] {
                        let labels = [("snapshot", snap.as_str()), ("tier", t.tier.as_str()), ("quantile", q)];
                        f.sample("edgeseg_replay_decide_seconds", &labels, us / 1e6);
                    }
                    let labels = [("snapshot", snap.as_str()), ("tier", t.tier.as_str())];
                    f.sample("edgeseg_replay_decide_seconds_count", &labels, l.samples as f64);
                }
            }
        }
        if !self.slos.is_empty() {
            f.head("edgeseg_replay_slo_success_ratio", "gauge", "Logged success ratio (status < 500) per tier.");
            for s in &self.slos {
                if let Some(pct) = s.success_pct {
                    f.sample(
                        "edgeseg_replay_slo_success_ratio",
                        &[("snapshot", &snap), ("tier", &s.tier)],
                        pct / 100.0,
                    );
                }
            }
            f.head("edgeseg_replay_slo_target_ratio", "gauge", "The tier's availability target.");
            for s in &self.slos {
                let labels = [("snapshot", snap.as_str()), ("tier", s.tier.as_str())];
                f.sample("edgeseg_replay_slo_target_ratio", &labels, s.availability_target_pct / 100.0);
            }
            f.head("edgeseg_replay_slo_burn_rate_max", "gauge", "Highest burn rate per window over the log.");
            for s in &self.slos {
                for b in &s.max_burn {
                    if let Some(burn) = b.burn {
                        let w = window_label(b.window_s);
                        let labels = [("snapshot", snap.as_str()), ("tier", s.tier.as_str()), ("window", w.as_str())];
                        f.sample("edgeseg_replay_slo_burn_rate_max", &labels, burn);
                    }
                }
            }
        }
        out
    }
}

/// `300` → `5m`, `3600` → `1h`: Prometheus duration syntax.
pub fn window_label(seconds: u64) -> String {
    if seconds.is_multiple_of(3600) { format!("{}h", seconds / 3600) } else { format!("{}m", seconds / 60) }
}
