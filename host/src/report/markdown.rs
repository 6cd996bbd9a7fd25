//! The Markdown summaries: at most [`MARKDOWN_MAX_LINES`] lines of GitHub-flavoured Markdown for a
//! pull-request comment, the verdict first. Tables are capped (the rest counted in a last row), so
//! the bound holds for any snapshot. Only deterministic figures appear (no timings), so the output
//! is a pure function of snapshots and traffic and can be pinned by a golden test.

use crate::diff::DiffReport;
use crate::replay::Report;
use std::fmt::Write;

/// The longest summary either command writes.
pub const MARKDOWN_MAX_LINES: usize = 40;

/// Text for a table cell or a line: `|` escaped, markup characters neutralised, one line.
fn cell(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;").replace(['\n', '\r'], " ")
}

/// A name as inline code (backticks in it would end the span early).
fn code(s: &str) -> String {
    format!("`{}`", cell(s).replace('`', "'"))
}

/// A table of `rows` under `header` (`right` columns right-aligned), at most `max` rows; the rest
/// are counted in a final row. Ends with a blank line.
fn table(out: &mut String, header: &[&str], right: &[bool], rows: Vec<Vec<String>>, max: usize, what: &str) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let align: Vec<&str> = right.iter().map(|&r| if r { "--:" } else { ":--" }).collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
    let total = rows.len();
    for row in rows.into_iter().take(max) {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    if total > max {
        let mut more = vec![String::new(); header.len()];
        if let Some(first) = more.first_mut() {
            *first = format!("… {} more {what}", total - max);
        }
        let _ = writeln!(out, "| {} |", more.join(" | "));
    }
    out.push('\n');
}

/// The replay summary: the consent verdict, tier shares, the busiest segments, consent narrowing
/// and the SLOs missed.
pub fn replay_markdown(report: &Report) -> String {
    let mut out = String::new();
    let v = report.consent.violations;
    let verdict = if v == 0 {
        "✅ pass — 0 consent violations".to_owned()
    } else {
        format!("❌ fail — {v} consent violations")
    };
    let _ = writeln!(out, "## edgeseg replay: {verdict}\n");
    let _ = writeln!(
        out,
        "Snapshot {} v{}: {} requests, {} decided, {} identified ({:.2}%), {} host fallback answers.\n",
        code(&report.snapshot_id),
        report.snapshot_version,
        report.requests,
        report.decided,
        report.identified,
        report.identified_share_pct,
        report.fallback.as_ref().map_or(0, |f| f.answers)
    );
    let rows = report
        .tiers
        .iter()
        .map(|t| {
            vec![
                cell(&t.tier),
                t.requests.to_string(),
                format!("{:.2}%", t.share_pct),
                t.distinct_users.map_or_else(|| "n/a".to_owned(), |u| u.to_string()),
                t.rejected.to_string(),
                t.deprioritized.to_string(),
            ]
        })
        .collect();
    let header = ["tier", "requests", "share", "users", "rejected", "deprioritized"];
    table(&mut out, &header, &[false, true, true, true, true, true], rows, 8, "tiers");
    let mut segments: Vec<_> = report.segments.iter().collect();
    segments.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.segment.cmp(&b.segment)));
    let rows = segments
        .iter()
        .map(|s| vec![cell(&s.segment), s.requests.to_string(), format!("{:.2}%", s.share_pct)])
        .collect();
    table(&mut out, &["segment", "requests", "share"], &[false, true, true], rows, 6, "segments");
    let rows: Vec<Vec<String>> = report
        .consent
        .purposes
        .iter()
        .map(|p| {
            [p.narrowed, p.gpc, p.tcf, p.cookie, p.revoked].iter().map(u64::to_string).fold(
                vec![cell(&p.purpose)],
                |mut r, n| {
                    r.push(n);
                    r
                },
            )
        })
        .collect();
    if !rows.is_empty() {
        let header = ["purpose", "narrowed", "gpc", "tcf", "cookie", "revoked"];
        table(&mut out, &header, &[false, true, true, true, true, true], rows, 5, "purposes");
    }
    let missed: Vec<String> = report.slos.iter().filter(|s| s.met == Some(false)).map(|s| code(&s.tier)).collect();
    let fired = report.slos.iter().flat_map(|s| s.alerts.iter()).filter(|a| a.first_fired_ms.is_some()).count();
    let _ = writeln!(
        out,
        "SLOs missed: {}; burn-rate alerts that would have fired: {fired}.",
        if missed.is_empty() { "none".to_owned() } else { missed.join(", ") }
    );
    out
}

/// The diff summary: the gates' verdict and each gate, tier shares before and after, the largest
/// transitions and the most moved segments.
pub fn diff_markdown(report: &DiffReport) -> String {
    let mut out = String::new();
    let failed = report.gates.iter().filter(|g| !g.passed).count();
    let verdict = match (report.gates.len(), failed) {
        (0, _) => "no gate given".to_owned(),
        (n, 0) => format!("✅ all {n} gates passed"),
        (n, f) => format!("❌ {f} of {n} gates failed"),
    };
    let _ = writeln!(out, "## edgeseg diff: {verdict}\n");
    const GATES: usize = 4;
    for g in report.gates.iter().take(GATES) {
        let by = if g.tripped_by.is_empty() {
            String::new()
        } else {
            format!(" — tripped by {}", g.tripped_by.iter().map(|s| code(s)).collect::<Vec<_>>().join(", "))
        };
        let mark = if g.passed { "✅" } else { "❌" };
        let _ = writeln!(out, "- {mark} **{}**{by}: {}", cell(&g.gate), cell(&g.explanation));
    }
    if report.gates.len() > GATES {
        let _ = writeln!(out, "- … {} more gates", report.gates.len() - GATES);
    }
    if !report.gates.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} → {} over {} requests: {} moved ({:.2}%), {} users; {} undecided.\n",
        code(&report.old),
        code(&report.new),
        report.requests,
        report.moved_requests,
        report.moved_pct,
        report.moved_users,
        report.undecided
    );
    let decided: u64 = report.matrix.iter().flatten().map(|c| c.requests).sum();
    let pct = |n: u64| if decided == 0 { 0.0 } else { n as f64 * 100.0 / decided as f64 };
    let rows = report
        .tiers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let old: u64 = report.matrix.get(i).map_or(0, |row| row.iter().map(|c| c.requests).sum());
            let new: u64 = report.matrix.iter().filter_map(|row| row.get(i)).map(|c| c.requests).sum();
            let change = new as i128 - old as i128;
            vec![
                cell(t),
                old.to_string(),
                format!("{:.2}%", pct(old)),
                new.to_string(),
                format!("{:.2}%", pct(new)),
                format!("{change:+}"),
            ]
        })
        .collect();
    let header = ["tier", "old requests", "old share", "new requests", "new share", "change"];
    table(&mut out, &header, &[false, true, true, true, true, true], rows, 6, "tiers");
    let mut moves: Vec<(usize, usize, &crate::diff::Cell)> = report
        .matrix
        .iter()
        .enumerate()
        .flat_map(|(r, row)| {
            row.iter().enumerate().filter(move |(c, x)| *c != r && x.requests > 0).map(move |(c, x)| (r, c, x))
        })
        .collect();
    moves.sort_by(|a, b| b.2.requests.cmp(&a.2.requests).then_with(|| (a.0, a.1).cmp(&(b.0, b.1))));
    let name = |i: usize| report.tiers.get(i).map_or_else(String::new, |t| cell(t));
    if moves.is_empty() {
        let _ = writeln!(out, "No request changed tier.\n");
    } else {
        let rows = moves
            .iter()
            .map(|(r, c, x)| {
                let way = if c > r { "demoted" } else { "promoted" };
                vec![name(*r), name(*c), way.to_owned(), x.requests.to_string(), x.users.to_string()]
            })
            .collect();
        let header = ["old tier", "new tier", "move", "requests", "users"];
        table(&mut out, &header, &[false, false, false, true, true], rows, 6, "transitions");
    }
    let mut segments: Vec<_> = report.segments.iter().collect();
    segments.sort_by(|a, b| (b.gained + b.lost).cmp(&(a.gained + a.lost)).then_with(|| a.segment.cmp(&b.segment)));
    if segments.is_empty() {
        let _ = writeln!(out, "No segment matches differently.");
    } else {
        let rows =
            segments.iter().map(|s| vec![cell(&s.segment), format!("+{}", s.gained), format!("-{}", s.lost)]).collect();
        table(&mut out, &["segment", "gained", "lost"], &[false, true, true], rows, 5, "segments");
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b<c>\nd"), "a\\|b&lt;c&gt; d");
        assert_eq!(code("x`y"), "`x'y`");
        let mut out = String::new();
        table(
            &mut out,
            &["a", "b"],
            &[false, true],
            (0..5).map(|i| vec![i.to_string(), "x".into()]).collect(),
            3,
            "rows",
        );
        assert_eq!(out.lines().count(), 2 + 3 + 1 + 1);
        assert!(out.contains("| … 2 more rows |  |"), "{out}");
    }
}
