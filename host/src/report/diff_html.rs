//! The diff page: the gates first (pass/fail and the segment that tripped each), then the
//! tier-transition matrix as heatmaps (requests and users), segment gains and losses, and a
//! sample of moved requests by fingerprint.

use super::svg::{self, Bars, Series};
use super::{escape, page, table};
use crate::diff::DiffReport;
use std::fmt::Write;

/// The charts of the diff page, by `data-chart` name, in page order.
pub const DIFF_CHARTS: [&str; 3] = ["transitions-requests", "transitions-users", "segment-changes"];

/// Demotions (right of the diagonal: the new tier ranks lower), promotions, unchanged.
const MOVE_COLOURS: [&str; 3] = ["#cf222e", "#1a7f37", "#57606a"];

/// The diff report as one self-contained HTML page.
pub fn diff_html(report: &DiffReport) -> String {
    let passed = report.passed();
    let title = format!("edgeseg diff — {} → {}", report.old, report.new);
    let meta = format!(
        "{} requests, {} undecided, {} malformed skipped; {} moved ({:.2}%), {} users",
        report.requests,
        report.undecided,
        report.malformed_skipped,
        report.moved_requests,
        report.moved_pct,
        report.moved_users
    );
    let failed = report.gates.iter().filter(|g| !g.passed).count();
    let verdict = match (report.gates.len(), failed) {
        (0, _) => "no gate given".to_owned(),
        (n, 0) => format!("all {n} gates passed"),
        (n, f) => format!("{f} of {n} gates failed"),
    };
    let mut body = String::new();
    body.push_str("<h2>Gates</h2>");
    if report.gates.is_empty() {
        body.push_str(
            "<p class=\"note\">No gate given (<code>--forbid-demotion</code>, <code>--max-moved</code>).</p>",
        );
    } else {
        body.push_str("<table id=\"gates\"><thead><tr><th>gate</th><th>result</th><th>tripped by</th><th>explanation</th></tr></thead><tbody>");
        for g in &report.gates {
            let (class, word) = if g.passed { ("ok", "pass") } else { ("bad", "FAIL") };
            let by: Vec<String> = g.tripped_by.iter().map(|s| format!("<code>{}</code>", escape(s))).collect();
            let _ = write!(
                body,
                "<tr data-gate=\"{}\" data-passed=\"{}\"><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                escape(&g.gate),
                g.passed,
                escape(&g.gate),
                if by.is_empty() { "-".to_owned() } else { by.join(", ") },
                escape(&g.explanation)
            );
        }
        body.push_str("</tbody></table>");
    }

    body.push_str("<h2>Charts</h2><div class=\"charts\">");
    let cols = &report.tiers;
    let rows: Vec<String> = report.tiers.iter().map(|t| format!("{t} (old)")).collect();
    for (id, what, pick) in [
        ("transitions-requests", "requests", (|c: &crate::diff::Cell| c.requests) as fn(&crate::diff::Cell) -> u64),
        ("transitions-users", "users", |c: &crate::diff::Cell| c.users),
    ] {
        let values: Vec<Vec<u64>> = report.matrix.iter().map(|row| row.iter().map(pick).collect()).collect();
        let svg = svg::heatmap(&format!("tier transitions, {what}"), &rows, cols, &values, MOVE_COLOURS);
        let note = "rows: old tier, columns: new tier (highest first); red: demoted, green: promoted";
        body.push_str(&svg::figure(id, &format!("Tier transitions ({what})"), &[], note, &svg));
    }
    let segs: Vec<String> = report.segments.iter().map(|s| s.segment.clone()).collect();
    let changes = [
        Series { name: "gained", values: report.segments.iter().map(|s| s.gained as f64).collect() },
        Series { name: "lost", values: report.segments.iter().map(|s| -(s.lost as f64)).collect() },
    ];
    let svg = svg::bars("segment gains and losses", &segs, &changes, Bars::Grouped, &[]);
    let note = if segs.is_empty() {
        "no segment matches differently"
    } else {
        "requests a segment matches only in the new snapshot (up) or only in the old (down)"
    };
    body.push_str(&svg::figure(
        "segment-changes",
        "Segment gains and losses (requests)",
        &["gained", "lost"],
        note,
        &svg,
    ));
    body.push_str("</div>");

    body.push_str("<h2>Segments</h2>");
    let seg_rows: Vec<Vec<String>> = report
        .segments
        .iter()
        .map(|s| vec![escape(&s.segment), format!("+{}", s.gained), format!("-{}", s.lost)])
        .collect();
    body.push_str(&table("segments", &["segment", "gained", "lost"], &seg_rows));

    let _ = write!(body, "<h2>Moved requests (first {} of {})</h2>", report.moved_sample.len(), report.moved_requests);
    body.push_str("<p class=\"note\">Customers by the old snapshot's keyed fingerprint only, never by id.</p>");
    let moved: Vec<Vec<String>> = report
        .moved_sample
        .iter()
        .map(|m| {
            let list = |v: &[String]| if v.is_empty() { "-".to_owned() } else { escape(&v.join(", ")) };
            vec![
                m.request.to_string(),
                m.fingerprint.as_deref().map_or_else(|| "anonymous".to_owned(), |f| format!("<code>{f}</code>")),
                escape(&m.old_tier),
                escape(&m.new_tier),
                list(&m.lost),
                list(&m.gained),
            ]
        })
        .collect();
    body.push_str(&table(
        "moved-sample",
        &["request", "fingerprint", "old tier", "new tier", "segments lost", "segments gained"],
        &moved,
    ));

    let other = |m: &std::collections::BTreeMap<String, u64>| {
        if m.is_empty() {
            "none".to_owned()
        } else {
            m.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
        }
    };
    let _ = write!(
        body,
        "<h2>Other changes</h2><p>Throttle: {}</p><p>Cache: {}</p>",
        escape(&other(&report.throttle_changes)),
        escape(&other(&report.cache_changes))
    );
    page("diff", &title, &meta, passed, &verdict, &body)
}
