//! The replay page: violations in big type, then per-tier traffic over log time, decide latency,
//! SLO burn rates against the alert factors, throttle rejections over time, the cache mix and
//! consent narrowing per purpose and signal.

use super::svg::{self, Bars, Series};
use super::{duration, escape, page, table, time};
use crate::replay::Report;
use crate::replay::slo::{ALERTS, WINDOWS_S};
use std::fmt::Write;

/// The charts of the replay page, by `data-chart` name, in page order.
pub const REPLAY_CHARTS: [&str; 7] =
    ["tier-traffic", "tier-share", "latency", "burn-rates", "throttle-rejections", "cache-mix", "consent-narrowing"];

/// The replay report as one self-contained HTML page.
pub fn replay_html(report: &Report) -> String {
    let violations = report.consent.violations;
    let passed = violations == 0;
    let title = format!("edgeseg replay — {} v{}", report.snapshot_id, report.snapshot_version);
    let meta = format!(
        "{} requests, {} decided, {} identified ({:.2}%), {} malformed skipped, {} fallback answers",
        report.requests,
        report.decided,
        report.identified,
        report.identified_share_pct,
        report.malformed_skipped,
        report.fallback.as_ref().map_or(0, |f| f.answers)
    );
    let verdict = if passed { "no consent violation" } else { "consent violations: the replay fails" };
    let mut body = String::new();
    let _ = write!(
        body,
        "<section><h2>Consent violations</h2><p id=\"violations\" class=\"big {}\" data-count=\"{violations}\">{violations}</p>\
         <p class=\"note\">Decisions that matched a segment whose purpose the request's signals, the applied revocations \
         or the member's recorded consent exclude (the host's own audit). Must be 0.</p></section>",
        if passed { "ok" } else { "bad" }
    );
    body.push_str("<h2>Charts</h2><div class=\"charts\">");
    let tiers: Vec<&str> = report.tiers.iter().map(|t| t.tier.as_str()).collect();
    let tl = &report.timeline;
    let buckets = tl.tiers.first().map_or(0, |s| s.decisions.len()) as u64;
    let (first, last) = (time(tl.start_ms), time(tl.start_ms.saturating_add(buckets.saturating_sub(1) * tl.bucket_ms)));
    let per_bucket = format!("per {} of log time", duration(tl.bucket_ms));
    let series_of = |f: fn(&crate::replay::timeline::TierSeries) -> &Vec<u64>| -> Vec<Series<'_>> {
        tl.tiers.iter().map(|s| Series { name: &s.tier, values: f(s).iter().map(|&v| v as f64).collect() }).collect()
    };

    // Decisions per tier over log time.
    let svg_area = svg::stacked_area("decisions per tier over log time", &series_of(|s| &s.decisions), &first, &last);
    body.push_str(&svg::figure("tier-traffic", &format!("Decisions per tier, {per_bucket}"), &tiers, "", &svg_area));

    // Traffic share: one 100% bar.
    let share: Vec<Series> = report.tiers.iter().map(|t| Series { name: &t.tier, values: vec![t.share_pct] }).collect();
    let note: Vec<String> = report.tiers.iter().map(|t| format!("{} {:.2}%", t.tier, t.share_pct)).collect();
    let svg_share = svg::bars("traffic share per tier", &["share %".to_owned()], &share, Bars::Stacked, &[]);
    body.push_str(&svg::figure(
        "tier-share",
        "Traffic share per tier (% of decided)",
        &tiers,
        &note.join(", "),
        &svg_share,
    ));

    // Decide latency distribution.
    let hist = report.timings.as_ref().map(|t| t.histogram.as_slice()).unwrap_or_default();
    let cats: Vec<String> = hist.iter().map(|b| svg::label(b.upper_us)).collect();
    let counts = [Series { name: "calls", values: hist.iter().map(|b| b.count as f64).collect() }];
    let lat_note = match report.timings.as_ref().and_then(|t| t.latency.as_ref()) {
        Some(l) => format!(
            "p50 {:.2} µs, p99 {:.2} µs over {} calls; bins log-spaced, labelled by upper bound (µs)",
            l.p50_us, l.p99_us, l.samples
        ),
        None => "no timings in this report".to_owned(),
    };
    let svg_lat = svg::bars("decide latency distribution", &cats, &counts, Bars::Grouped, &[]);
    body.push_str(&svg::figure("latency", "Decide latency (the wasm call alone)", &[], &lat_note, &svg_lat));

    // SLO burn rates: the highest per window, per tier, against every alert factor.
    let windows: Vec<String> = WINDOWS_S.iter().map(|&w| duration(w * 1000)).collect();
    let burn: Vec<Series> = report
        .slos
        .iter()
        .map(|s| Series {
            name: &s.tier,
            values: WINDOWS_S
                .iter()
                .map(|&w| s.max_burn.iter().find(|b| b.window_s == w).and_then(|b| b.burn).unwrap_or(0.0))
                .collect(),
        })
        .collect();
    let slo_tiers: Vec<&str> = report.slos.iter().map(|s| s.tier.as_str()).collect();
    let refs: Vec<(String, f64)> = ALERTS.iter().map(|a| (a.burn_label().to_string(), a.factor)).collect();
    let fired: Vec<String> = report
        .slos
        .iter()
        .flat_map(|s| {
            s.alerts
                .iter()
                .filter_map(move |a| a.first_fired_ms.map(|t| format!("{} {} from {}", s.tier, a.alert, time(t))))
        })
        .collect();
    let burn_note = if report.slos.is_empty() {
        "no tier of this snapshot declares an SLO".to_owned()
    } else {
        format!(
            "highest burn rate per window (log scale; a window longer than the log has none); alerts fired: {}",
            if fired.is_empty() { "none".to_owned() } else { fired.join("; ") }
        )
    };
    let svg_burn = svg::bars("SLO burn rates", &windows, &burn, Bars::GroupedLog, &refs);
    body.push_str(&svg::figure(
        "burn-rates",
        "SLO burn rate per window vs alert factors",
        &slo_tiers,
        &burn_note,
        &svg_burn,
    ));

    // Throttle rejections per tier over time.
    let rejected: u64 = report.tiers.iter().map(|t| t.rejected).sum();
    let svg_rej =
        svg::stacked_area("throttle rejections per tier over log time", &series_of(|s| &s.rejected), &first, &last);
    let rej_note = format!(
        "{rejected} requests rejected (429) in all; {} deprioritized",
        report.tiers.iter().map(|t| t.deprioritized).sum::<u64>()
    );
    body.push_str(&svg::figure(
        "throttle-rejections",
        &format!("Throttle rejections per tier, {per_bucket}"),
        &tiers,
        &rej_note,
        &svg_rej,
    ));

    // Cache mix per tier.
    let mut modes: Vec<&str> = report.tiers.iter().flat_map(|t| t.cache.keys().map(String::as_str)).collect();
    modes.sort_unstable();
    modes.dedup();
    let cache: Vec<Series> = modes
        .iter()
        .map(|m| Series {
            name: m,
            values: report.tiers.iter().map(|t| t.cache.get(*m).copied().unwrap_or(0) as f64).collect(),
        })
        .collect();
    let tier_names: Vec<String> = tiers.iter().map(|t| (*t).to_owned()).collect();
    let svg_cache = svg::bars("cache mix per tier", &tier_names, &cache, Bars::Stacked, &[]);
    body.push_str(&svg::figure("cache-mix", "Cache mix per tier (requests)", &modes, "", &svg_cache));

    // Consent narrowing per purpose and signal.
    let purposes: Vec<String> = report.consent.purposes.iter().map(|p| p.purpose.clone()).collect();
    let signals = ["gpc", "tcf", "cookie", "revoked"];
    let narrowing: Vec<Series> = signals
        .iter()
        .enumerate()
        .map(|(k, name)| Series {
            name,
            values: report
                .consent
                .purposes
                .iter()
                .map(|p| [p.gpc, p.tcf, p.cookie, p.revoked].get(k).copied().unwrap_or(0) as f64)
                .collect(),
        })
        .collect();
    let svg_consent = svg::bars("consent narrowing per purpose and signal", &purposes, &narrowing, Bars::Grouped, &[]);
    let consent_note = format!(
        "requests where a signal took the purpose away; TCF strings invalid: {}, consent cookies invalid: {}, deltas applied: {}",
        report.consent.tcf_invalid, report.consent.cookie_invalid, report.consent.deltas_applied
    );
    body.push_str(&svg::figure(
        "consent-narrowing",
        "Consent narrowing per purpose and signal",
        &signals,
        &consent_note,
        &svg_consent,
    ));
    body.push_str("</div>");

    // The numbers behind the charts.
    body.push_str("<h2>Tiers</h2>");
    let rows: Vec<Vec<String>> = report
        .tiers
        .iter()
        .map(|t| {
            vec![
                escape(&t.tier),
                t.requests.to_string(),
                format!("{:.2}%", t.share_pct),
                t.distinct_users.map_or_else(|| "n/a".to_owned(), |u| u.to_string()),
                format!("{:.2}", t.segments_per_request),
                t.rejected.to_string(),
                t.deprioritized.to_string(),
                t.latency.as_ref().map_or_else(|| "-".to_owned(), |l| format!("{:.2}", l.p99_us)),
            ]
        })
        .collect();
    body.push_str(&table(
        "tiers",
        &["tier", "requests", "share", "users", "seg/req", "rejected", "deprioritized", "p99 µs"],
        &rows,
    ));
    body.push_str("<h2>Segments</h2>");
    let rows: Vec<Vec<String>> = report
        .segments
        .iter()
        .map(|s| vec![escape(&s.segment), s.requests.to_string(), format!("{:.2}%", s.share_pct)])
        .collect();
    body.push_str(&table("segments", &["segment", "requests", "share"], &rows));
    body.push_str("<h2>Consent narrowing</h2>");
    let rows: Vec<Vec<String>> = report
        .consent
        .purposes
        .iter()
        .map(|p| {
            vec![
                escape(&p.purpose),
                p.narrowed.to_string(),
                p.gpc.to_string(),
                p.tcf.to_string(),
                p.cookie.to_string(),
                p.revoked.to_string(),
            ]
        })
        .collect();
    body.push_str(&table("purposes", &["purpose", "narrowed", "gpc", "tcf", "cookie", "revoked"], &rows));
    page("replay", &title, &meta, passed, verdict, &body)
}
