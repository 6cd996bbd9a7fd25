//! `--html` and `--markdown` on `edgeseg replay` and `edgeseg diff` (issue 26): the Markdown
//! summaries of the demo replay and of a demoting diff are goldens (`EDGESEG_BLESS=1` rewrites
//! them) and valid GitHub tables of at most 40 lines, verdict first; the HTML pages are
//! self-contained (no script, no external reference) with every chart. The pages in a real
//! browser: `js/test/reports.test.mjs`.

use edgeseg_host::cli;
use edgeseg_host::diff::{Cell, DiffReport, GateResult, SegmentChange};
use edgeseg_host::report::{DIFF_CHARTS, MARKDOWN_MAX_LINES, REPLAY_CHARTS, diff_markdown};
use edgeseg_tests::golden::assert_golden;
use edgeseg_tests::{root, scratch, wasm_module};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

fn edgeseg(args: &[&str]) -> Result<String, String> {
    let mut out = Vec::new();
    let argv = std::iter::once("edgeseg").chain(args.iter().copied()).map(Into::into);
    let result = cli::run(argv, &mut out);
    let text = String::from_utf8(out).unwrap();
    result.map(|()| text).map_err(|e| format!("{e:#}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Cells of a table row: `|`-separated, `\|` inside a cell not counting.
fn cells(row: &str) -> usize {
    let (mut bars, mut escaped) = (0usize, false);
    for c in row.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '|' => bars += 1,
            _ => {}
        }
    }
    bars.saturating_sub(1)
}

/// What GitHub needs to render `md`'s tables, and the summary's own bounds.
fn assert_valid_summary(md: &str, title: &str) {
    let lines: Vec<&str> = md.lines().collect();
    assert!(lines.len() <= MARKDOWN_MAX_LINES, "{} lines:\n{md}", lines.len());
    assert!(lines[0].starts_with(title), "the verdict comes first: {}", lines[0]);
    let mut i = 0;
    let mut tables = 0;
    while i < lines.len() {
        if !lines[i].starts_with('|') {
            i += 1;
            continue;
        }
        tables += 1;
        assert!(i > 0 && lines[i - 1].is_empty(), "a table must follow a blank line (line {})", i + 1);
        let width = cells(lines[i]);
        assert!(width >= 2, "line {}: {}", i + 1, lines[i]);
        let delimiter = lines.get(i + 1).copied().unwrap_or("");
        let parts: Vec<&str> = delimiter.trim_matches('|').split('|').collect();
        assert!(
            parts.iter().all(|p| matches!(p.trim(), ":--" | "--:" | "---" | ":-:")),
            "line {}: not a delimiter row: {delimiter}",
            i + 2
        );
        let mut j = i;
        while j < lines.len() && lines[j].starts_with('|') {
            assert_eq!(cells(lines[j]), width, "line {} has another column count than its header: {}", j + 1, lines[j]);
            assert!(lines[j].ends_with('|'), "line {}: {}", j + 1, lines[j]);
            j += 1;
        }
        i = j;
    }
    assert!(tables >= 2, "the summary has its tables:\n{md}");
}

/// Nothing in `html` can reach the network or run: no script, no external reference.
fn assert_self_contained(html: &str, charts: &[&str]) {
    let lower = html.to_lowercase();
    for needle in ["<script", " src=", " href=", "url(", "@import", "<link", "<iframe", "<img"] {
        assert!(!lower.contains(needle), "the page holds {needle:?}");
    }
    let without_ns = lower.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"), "a URL in the page");
    for chart in charts {
        assert_eq!(html.matches(&format!("data-chart=\"{chart}\"")).count(), 1, "chart {chart}");
    }
    assert_eq!(html.matches("<figure class=\"chart\"").count(), charts.len());
}

#[test]
fn demo_replay_and_demoting_diff_reports() {
    let dir = scratch("reports");
    let defs = std::fs::read_to_string(root().join("snapshots/data/demo.json")).unwrap();
    let narrowed = defs.replace(
        r#""members": {"where": {"==": [{"var": "plan"}, "premium"]}, "encoding": "exact"}"#,
        r#""members": {"where": {"and": [{"==": [{"var": "plan"}, "premium"]}, {">": [{"var": "ltv"}, 700]}]}, "encoding": "exact"}"#,
    );
    assert_ne!(defs, narrowed, "the demo's premium segment changed shape; update this test");
    std::fs::write(dir.join("new.json"), narrowed.replace(r#""version": 1,"#, r#""version": 2,"#)).unwrap();
    edgeseg(&["sample", "--seed", "42", "--members", "3000", "--requests", "2000", "--out-dir", s(&dir)]).unwrap();
    for (d, out) in [(root().join("snapshots/data/demo.json"), "old.snapshot"), (dir.join("new.json"), "new.snapshot")]
    {
        let members = dir.join("members.csv");
        let out = dir.join(out);
        edgeseg(&["build", "--definitions", s(&d), "--members", s(&members), "--out", s(&out), "--seed", "42"])
            .unwrap();
    }
    let (traffic, old, new) = (dir.join("traffic.jsonl"), dir.join("old.snapshot"), dir.join("new.snapshot"));

    let json: serde_json::Value = serde_json::from_str(
        &edgeseg(&[
            "replay",
            "--module",
            s(wasm_module()),
            "--snapshot",
            s(&old),
            "--traffic",
            s(&traffic),
            "--json",
            "--html",
            s(&dir.join("replay.html")),
            "--markdown",
            s(&dir.join("replay.md")),
        ])
        .unwrap(),
    )
    .unwrap();
    let md = std::fs::read_to_string(dir.join("replay.md")).unwrap();
    assert_golden("tests/golden/demo-replay.md", &md);
    assert_valid_summary(&md, "## edgeseg replay: ✅ pass — 0 consent violations");
    let html = std::fs::read_to_string(dir.join("replay.html")).unwrap();
    assert_self_contained(&html, &REPLAY_CHARTS);
    assert!(html.contains("id=\"violations\" class=\"big ok\" data-count=\"0\">0<"), "0 violations, in green");
    assert!(html.contains("data-verdict=\"pass\""));
    // The timeline counts every decision, per tier as the report does.
    let timeline = &json["timeline"]["tiers"];
    for (series, tier) in timeline.as_array().unwrap().iter().zip(json["tiers"].as_array().unwrap()) {
        let sum: u64 = series["decisions"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!((series["tier"].as_str(), sum), (tier["tier"].as_str(), tier["requests"].as_u64().unwrap()));
    }

    // The diff fails its gate and still writes both reports.
    let failed = edgeseg(&[
        "diff",
        "--module",
        s(wasm_module()),
        "--old",
        s(&old),
        "--new",
        s(&new),
        "--traffic",
        s(&traffic),
        "--forbid-demotion",
        "premium",
        "--max-moved",
        "50%",
        "--html",
        s(&dir.join("diff.html")),
        "--markdown",
        s(&dir.join("diff.md")),
    ])
    .unwrap_err();
    assert!(failed.contains("gate failed: forbid-demotion premium"), "{failed}");
    let md = std::fs::read_to_string(dir.join("diff.md")).unwrap();
    assert_golden("tests/golden/demo-diff.md", &md);
    assert_valid_summary(&md, "## edgeseg diff: ❌ 1 of 2 gates failed");
    assert!(md.contains("- ❌ **forbid-demotion premium** — tripped by `premium`"), "{md}");
    let html = std::fs::read_to_string(dir.join("diff.html")).unwrap();
    assert_self_contained(&html, &DIFF_CHARTS);
    assert!(html.contains("data-verdict=\"fail\""));
    assert!(html.contains("<tr data-gate=\"forbid-demotion premium\" data-passed=\"false\">"));

    // Moved requests by fingerprint: each is a demoted premium member's, under the old key, and
    // no member id is anywhere in the pages.
    let members = std::fs::read_to_string(dir.join("members.csv")).unwrap();
    let ids: Vec<&str> = members.lines().skip(1).filter_map(|l| l.split(',').next()).collect();
    let key = edgeseg::Engine::load(&std::fs::read(&old).unwrap()).unwrap();
    let premium: HashSet<String> = members
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1) == Some("premium"))
        .map(|l| format!("{:016x}", key.snapshot().fingerprint(l.split(',').next().unwrap())))
        .collect();
    let json: serde_json::Value = serde_json::from_str(
        &edgeseg(&[
            "diff",
            "--module",
            s(wasm_module()),
            "--old",
            s(&old),
            "--new",
            s(&new),
            "--traffic",
            s(&traffic),
            "--json",
        ])
        .unwrap(),
    )
    .unwrap();
    let sample = json["moved_sample"].as_array().unwrap();
    assert_eq!(sample.len(), 20.min(json["moved_requests"].as_u64().unwrap() as usize));
    for m in sample {
        let f = m["fingerprint"].as_str().expect("demoted premium requests are identified");
        assert!(premium.contains(f), "{f} is not a premium member's fingerprint");
        assert!(html.contains(f), "{f} is in the page");
        assert_eq!((m["old_tier"].as_str(), m["new_tier"].as_str()), (Some("premium"), Some("free")));
    }
    for page in ["replay.html", "diff.html", "replay.md", "diff.md"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        let leaked: Vec<&&str> = ids.iter().filter(|id| text.contains(**id)).collect();
        assert!(leaked.is_empty(), "{page} holds member ids {leaked:?}");
    }
}

#[test]
fn a_diff_summary_stays_within_40_lines_whatever_the_snapshot() {
    let tiers: Vec<String> = (0..30).map(|i| format!("tier|{i}")).collect();
    let matrix =
        (0..30).map(|r| (0..30).map(|c| Cell { requests: (r * 7 + c * 3) % 11, users: 1 }).collect()).collect();
    let report = DiffReport {
        old: "a v1".into(),
        new: "a v2".into(),
        requests: 1000,
        undecided: 0,
        malformed_skipped: 0,
        tiers,
        matrix,
        moved_requests: 900,
        moved_pct: 90.0,
        moved_users: 10,
        moved_sample: Vec::new(),
        segments: (0..50).map(|i| SegmentChange { segment: format!("s`{i}"), gained: i, lost: 2 * i }).collect(),
        throttle_changes: BTreeMap::new(),
        cache_changes: BTreeMap::new(),
        gates: (0..10)
            .map(|i| GateResult {
                gate: format!("forbid-demotion tier|{i}"),
                passed: i % 2 == 0,
                explanation: "x | y\nz".into(),
                tripped_by: vec![format!("s`{i}")],
            })
            .collect(),
        old_shards: None,
        new_shards: None,
    };
    let md = diff_markdown(&report);
    assert_valid_summary(&md, "## edgeseg diff: ❌ 5 of 10 gates failed");
    assert!(
        md.contains("… 6 more gates") && md.contains("… 24 more tiers") && md.contains("… 45 more segments"),
        "{md}"
    );
    assert_eq!(cells("| a \\| b | c |"), 2);
}
