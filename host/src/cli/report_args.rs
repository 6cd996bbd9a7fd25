//! `--html FILE` and `--markdown FILE`, the report files `replay` and `diff` share (rendered by
//! [`crate::report`]).

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// `--html FILE` and `--markdown FILE`, shared by `replay` and `diff`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Also write the report as one self-contained HTML page (inline CSS and SVG, no network).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write a Markdown summary (≤ 40 lines, verdict first) for a pull-request comment.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

impl ReportArgs {
    /// Writes the files asked for; called before a failing verdict is returned, so a failed
    /// gate still leaves its reports behind.
    pub(super) fn write(&self, html: impl FnOnce() -> String, markdown: impl FnOnce() -> String) -> anyhow::Result<()> {
        for (path, text) in [
            (&self.html, self.html.as_ref().map(|_| html())),
            (&self.markdown, self.markdown.as_ref().map(|_| markdown())),
        ] {
            if let (Some(path), Some(text)) = (path, text) {
                std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Ok(())
    }
}
