//! `edgeseg slo dashboard`: a Grafana dashboard (JSON model) with one row per tier that has an SLO,
//! over the same production metrics and recording rules `edgeseg slo rules` sets up.
//!
//! Each row: request rate, error ratio against the SLO's allowance, burn rate per alert window
//! (thresholds at the page and warn factors), and — when a latency histogram is named — p99
//! latency against the tier's p99 target. Queries use `edgeseg:error_ratio:rate<w>` from the
//! recording rules, so the dashboard and the alerts can never disagree on what an error is.

use super::prometheus::window_label;
use super::rules::RuleSource;
use super::slo::{ALERTS, WINDOWS_S};
use serde_json::{Value, json};

/// Where the dashboard's queries read: the rules' source plus an optional latency histogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardSource {
    pub rules: RuleSource,
    /// A Prometheus histogram's base name (e.g. `http_request_duration_seconds`), labelled by tier.
    pub latency_histogram: Option<String>,
}

fn quote(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Every PromQL expression in `dashboard`, in panel order (for checking them with promtool).
pub fn expressions(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(e) = target["expr"].as_str() {
                out.push(e.to_owned());
            }
        }
    }
    out
}

/// The dashboard for `tiers` (name, SLO) reading `src`.
pub fn dashboard(snapshot_id: &str, tiers: &[(String, edgeseg::snapshot::Slo)], src: &DashboardSource) -> Value {
    let t = &src.rules.tier_label;
    let m = &src.rules.metric;
    let mut panels = Vec::new();
    let mut y = 0u32;
    let mut id = 1u32;
    let mut next_id = || {
        id += 1;
        id
    };
    for (tier, slo) in tiers {
        let sel = format!("{t}=\"{}\"", quote(tier));
        // From parts per million, so 99.95% gives exactly 0.0005 in the queries, not 1 - 0.9995.
        let budget = f64::from(1_000_000 - slo.availability_ppm.min(1_000_000)) / 1_000_000.0;
        let p99_target = slo.latency_p99_ms;
        panels.push(json!({
            "type": "row", "id": next_id(), "collapsed": false, "panels": [],
            "title": format!("{tier} — SLO {}%{}", slo.availability() * 100.0,
                p99_target.map(|ms| format!(", p99 < {ms} ms")).unwrap_or_default()),
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        }));
        y += 1;
        let width = if src.latency_histogram.is_some() { 6 } else { 8 };
        let mut x = 0u32;
        let mut panel = |title: &str, unit: &str, targets: Vec<Value>, steps: Vec<Value>, id: u32| {
            let p = json!({
                "type": "timeseries", "id": id, "title": format!("{tier}: {title}"),
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": width, "x": x, "y": y},
                "fieldConfig": {"defaults": {"unit": unit, "custom": {"thresholdsStyle": {"mode": "line"}},
                    "thresholds": {"mode": "absolute", "steps": steps}}, "overrides": []},
                "targets": targets,
            });
            x += width;
            p
        };
        let target =
            |expr: String, legend: &str, ref_id: &str| json!({"expr": expr, "legendFormat": legend, "refId": ref_id});
        let green = json!({"color": "green", "value": null});
        panels.push(panel(
            "requests/s",
            "reqps",
            vec![target(format!("sum(rate({m}{{{sel}}}[5m]))"), "requests/s", "A")],
            vec![green.clone()],
            next_id(),
        ));
        panels.push(panel(
            "error ratio (5m) vs allowance",
            "percentunit",
            vec![target(format!("edgeseg:error_ratio:rate5m{{{sel}}}"), "5xx ratio", "A")],
            vec![green.clone(), json!({"color": "red", "value": budget})],
            next_id(),
        ));
        let burn_targets = WINDOWS_S
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let w = window_label(w);
                let ref_id = char::from(b'A' + u8::try_from(i).unwrap_or(0)).to_string();
                target(format!("edgeseg:error_ratio:rate{w}{{{sel}}} / {budget}"), &format!("burn {w}"), &ref_id)
            })
            .collect();
        let mut factors: Vec<f64> = ALERTS.iter().map(|a| a.factor).collect();
        factors.sort_by(f64::total_cmp);
        factors.dedup();
        let mut steps = vec![green.clone()];
        steps.extend(factors.iter().map(|f| json!({"color": if *f >= 4.0 { "red" } else { "orange" }, "value": f})));
        panels.push(panel("burn rate (x budget)", "none", burn_targets, steps, next_id()));
        if let Some(h) = &src.latency_histogram {
            let steps = match p99_target {
                Some(ms) => vec![green.clone(), json!({"color": "red", "value": f64::from(ms) / 1000.0})],
                None => vec![green.clone()],
            };
            panels.push(panel(
                "p99 latency",
                "s",
                vec![target(
                    format!("histogram_quantile(0.99, sum by (le) (rate({h}_bucket{{{sel}}}[5m])))"),
                    "p99",
                    "A",
                )],
                steps,
                next_id(),
            ));
        }
        y += 8;
    }
    json!({
        "title": format!("edgeseg SLOs — {snapshot_id}"),
        "uid": format!("edgeseg-slo-{}", snapshot_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(28).collect::<String>()),
        "description": "Generated by `edgeseg slo dashboard`; error ratios come from the `edgeseg slo rules` recording rules.",
        "tags": ["edgeseg", "slo"],
        "schemaVersion": 39,
        "editable": true,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]},
        "panels": panels,
    })
}
