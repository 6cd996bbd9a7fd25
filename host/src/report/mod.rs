//! Reports people look at: `--html FILE` (one self-contained page: inline CSS and SVG, no script,
//! no network) and `--markdown FILE` (a summary of at most [`MARKDOWN_MAX_LINES`] lines for a pull
//! request comment or `$GITHUB_STEP_SUMMARY`) for `edgeseg replay` and `edgeseg diff`.
//!
//! The pages are built from the same [`crate::replay::Report`] and [`crate::diff::DiffReport`]
//! the text and JSON outputs print; nothing is recomputed here. Each page says its verdict first
//! (`#verdict`, `data-verdict="pass|fail"`), the replay its consent-violation count in big type
//! (`#violations`, green at 0), and every chart is a `figure.chart[data-chart]` whose series are
//! `path.series` (the browser test, `js/test/reports.test.mjs`, reads exactly these). Only
//! fingerprints of customers ever appear, never ids.

mod diff_html;
mod markdown;
mod replay_html;
pub mod svg;

pub use diff_html::{DIFF_CHARTS, diff_html};
pub use markdown::{MARKDOWN_MAX_LINES, diff_markdown, replay_markdown};
pub use replay_html::{REPLAY_CHARTS, replay_html};

use std::fmt::Write;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1040px;padding:16px 24px;color:#1b1f24;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}\
.meta{color:#57606a;margin:0 0 12px}\
.verdict{display:inline-block;font-weight:700;font-size:18px;padding:4px 14px;border-radius:6px;color:#fff}\
.pass{background:#1a7f37}.fail{background:#cf222e}\
.big{font-size:64px;font-weight:800;line-height:1;margin:8px 0}.big.ok{color:#1a7f37}.big.bad{color:#cf222e}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}\
figure.chart{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:10px}\
figcaption{font-weight:600;margin-bottom:4px}\
svg{width:100%;height:auto;display:block}\
.axis{stroke:#57606a;fill:none}.grid{stroke:#eaeef2;fill:none}.ref{stroke:#cf222e;stroke-dasharray:4 3;fill:none}\
.tick{font-size:10px;fill:#57606a}.ref-label{font-size:10px;fill:#cf222e}.count{font-size:11px;fill:#1b1f24}\
.series{stroke:#fff;stroke-width:.5}.cell{stroke:none}\
.legend{list-style:none;padding:0;margin:0 0 4px;display:flex;flex-wrap:wrap;gap:4px 12px;font-size:12px}\
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}\
.note{color:#57606a;font-size:12px;margin:4px 0 0}\
table{border-collapse:collapse;margin:4px 0 12px;font-size:13px}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}\
td.ok{color:#1a7f37;font-weight:700}td.bad{color:#cf222e;font-weight:700}code{font-size:12px}";

/// The whole page: title, verdict, then `body` (already HTML).
fn page(kind: &str, title: &str, meta: &str, passed: bool, verdict_text: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 4096);
    let (class, word) = if passed { ("pass", "PASS") } else { ("fail", "FAIL") };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body data-report=\"{kind}\">\
         <h1>{}</h1><p class=\"meta\">{}</p>\
         <p><span id=\"verdict\" class=\"verdict {class}\" data-verdict=\"{class}\">{word}</span> {}</p>\n{body}\n</body></html>\n",
        escape(title),
        escape(title),
        escape(meta),
        escape(verdict_text)
    );
    out
}

/// An HTML table: a header row and rows of cells (already HTML).
fn table(id: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table id=\"{id}\"><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A log time as ISO 8601 (UTC, milliseconds).
fn time(ms: u64) -> String {
    edgeseg_snapshots::inspect::iso8601(ms)
}

/// A duration in the largest whole unit that fits (`15 s`, `4 min`, `2 h`).
fn duration(ms: u64) -> String {
    match ms {
        ms if ms >= 3_600_000 && ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms if ms >= 60_000 => format!("{:.0} min", ms as f64 / 60_000.0),
        ms => format!("{:.0} s", ms as f64 / 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(duration(32_000), "32 s");
        assert_eq!(duration(7_200_000), "2 h");
    }
}
