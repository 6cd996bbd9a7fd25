//! The traffic options `replay` and `diff` share: which log, in which format, how strictly it is
//! read, and whether a progress bar is drawn.

use super::common_args::ProgressArgs;
use crate::traffic::har::{DEFAULT_MAX_ENTRY_BYTES, HarReader};
use crate::traffic::nginx::{COMBINED, LogFormat, NginxReader};
use crate::traffic::{DEFAULT_MAX_LINE_BYTES, TrafficError, TrafficReader, TrafficRecord};
use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;

/// The request log formats `--format` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrafficFormat {
    /// edgeseg's own request log, one JSON object per line.
    Jsonl,
    /// HAR 1.2 (browser developer tools' HTTP Archive).
    Har,
    /// nginx access log (`combined`, or `--log-format`).
    Nginx,
}

#[derive(Debug, Args)]
pub struct TrafficArgs {
    /// Request log; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub traffic: PathBuf,
    /// Format of the request log [default: har for a `.har` file, nginx with --log-format, else jsonl].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<TrafficFormat>,
    /// The nginx `log_format` string the log was written with [default: nginx's `combined`].
    #[arg(long, value_name = "LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Count and skip malformed log lines (HAR: entries) instead of stopping at the first.
    #[arg(long)]
    pub skip_malformed: bool,
    /// Longest log line accepted, in bytes (jsonl, nginx).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// Largest HAR entry accepted, in bytes; a larger one stops the replay.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_ENTRY_BYTES)]
    pub max_entry_bytes: usize,
    #[command(flatten)]
    pub progress: ProgressArgs,
}

type Records = Box<dyn Iterator<Item = Result<TrafficRecord, TrafficError>>>;

/// An opened request log: records in order, with a progress bar ticking as they are read.
pub struct Traffic {
    records: Records,
    bar: ProgressBar,
    pending: u64,
    /// Things worth knowing about the log that are not errors (printed on stderr).
    pub notes: Vec<String>,
}

impl std::fmt::Debug for Traffic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traffic").field("notes", &self.notes).finish_non_exhaustive()
    }
}

/// Ticks are batched: a progress bar update per record would cost more than the record.
const TICK: u64 = 256;

impl Iterator for Traffic {
    type Item = Result<TrafficRecord, TrafficError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.records.next();
        if next.is_some() {
            self.pending += 1;
        }
        if self.pending >= TICK || (next.is_none() && self.pending > 0) {
            self.bar.inc(self.pending);
            self.pending = 0;
        }
        next
    }
}

impl Traffic {
    /// Removes the progress bar (call once the replay is done, before printing the report).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl TrafficArgs {
    /// The format in effect: `--format`, else implied by `--log-format` or a `.har` name.
    pub fn resolved_format(&self) -> anyhow::Result<TrafficFormat> {
        let har_name = self.traffic.extension().is_some_and(|e| e.eq_ignore_ascii_case("har"));
        let format = match (self.format, &self.log_format) {
            (Some(f), _) => f,
            (None, Some(_)) => TrafficFormat::Nginx,
            (None, None) if har_name => TrafficFormat::Har,
            (None, None) => TrafficFormat::Jsonl,
        };
        if self.log_format.is_some() && format != TrafficFormat::Nginx {
            anyhow::bail!("--log-format describes nginx logs; it cannot be used with --format {format:?}");
        }
        Ok(format)
    }

    /// Opens the log in its format.
    pub fn open(&self) -> anyhow::Result<Traffic> {
        let name = self.traffic.display().to_string();
        let format = self.resolved_format()?;
        let mut notes = Vec::new();
        let records: Records = match format {
            TrafficFormat::Jsonl => {
                let input = buffered(self.open_input()?);
                Box::new(TrafficReader::new(input).with_max_line_bytes(self.max_line_bytes))
            }
            TrafficFormat::Nginx => {
                let source = self.log_format.as_deref().unwrap_or(COMBINED);
                let log_format = LogFormat::parse(source)?;
                if log_format.time_source().whole_seconds() {
                    notes.push(format!(
                        "{name}: the nginx log format has one-second timestamps ($time_local/$time_iso8601); \
                         requests within a second share a time (add $msec for milliseconds)"
                    ));
                }
                let input = buffered(self.open_input()?);
                Box::new(NginxReader::new(input, log_format).with_max_line_bytes(self.max_line_bytes))
            }
            TrafficFormat::Har => Box::new(HarReader::new(self.open_input()?, self.max_entry_bytes)?),
        };
        Ok(Traffic { records, bar: self.progress_bar(), pending: 0, notes })
    }

    fn open_input(&self) -> anyhow::Result<Box<dyn io::Read + Send>> {
        if self.traffic.as_os_str() == "-" {
            return Ok(Box::new(io::stdin()));
        }
        let file = File::open(&self.traffic).with_context(|| format!("opening traffic {}", self.traffic.display()))?;
        Ok(Box::new(file))
    }

    fn progress_bar(&self) -> ProgressBar {
        let bar = self.progress.bar(20);
        if bar.is_hidden() {
            return bar;
        }
        if let Ok(style) = ProgressStyle::with_template("{spinner} {human_pos} requests  {rate}  {elapsed}") {
            let style = style.with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            });
            bar.set_style(style);
        }
        bar
    }
}

fn buffered(input: Box<dyn io::Read + Send>) -> BufReader<Box<dyn io::Read + Send>> {
    BufReader::with_capacity(256 << 10, input)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn traffic(args: &[&str]) -> Result<TrafficArgs, clap::Error> {
        let argv = ["edgeseg", "replay", "--snapshot", "s"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Replay(r) => Ok(r.traffic),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_format_follows_the_flag_the_log_format_and_the_name() {
        let f = |args: &[&str]| traffic(args).unwrap().resolved_format();
        assert_eq!(f(&["--traffic", "t.jsonl"]).unwrap(), TrafficFormat::Jsonl);
        assert_eq!(f(&["--traffic", "t.HAR"]).unwrap(), TrafficFormat::Har);
        assert_eq!(f(&["--traffic", "t.har", "--format", "jsonl"]).unwrap(), TrafficFormat::Jsonl);
        assert_eq!(f(&["--traffic", "access.log", "--format", "nginx"]).unwrap(), TrafficFormat::Nginx);
        assert_eq!(
            f(&["--traffic", "access.log", "--log-format", "$msec \"$request\""]).unwrap(),
            TrafficFormat::Nginx
        );
        let err = f(&["--traffic", "t.har", "--format", "har", "--log-format", "$msec"]).unwrap_err();
        assert!(err.to_string().contains("--log-format describes nginx logs"), "{err}");
        assert!(traffic(&["--traffic", "t", "--format", "apache"]).is_err());
    }

    #[test]
    fn the_progress_bar_counts_records_not_the_end() {
        let dir = std::env::temp_dir().join(format!("edgeseg-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("t.jsonl");
        let line = r#"{"now_ms": 1, "method": "GET", "path": "/"}"#;
        std::fs::write(&log, format!("{line}\nnot json\n{line}\n")).unwrap();
        let args = traffic(&["--traffic", log.to_str().unwrap(), "--no-progress"]).unwrap();
        let mut t = args.open().unwrap();
        assert_eq!(t.by_ref().count(), 3, "errors are records to the bar too: it counts lines read");
        assert_eq!(t.next(), None);
        assert_eq!(t.bar.position(), 3);
        assert!(t.bar.is_hidden());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn progress_flags_exclude_each_other_and_a_bad_log_format_fails_on_open() {
        assert!(traffic(&["--traffic", "t", "--progress", "--no-progress"]).is_err());
        let args = traffic(&["--traffic", "t", "--log-format", "$remote_addr", "--no-progress"]).unwrap();
        let err = args.open().unwrap_err();
        assert!(err.to_string().contains("nginx log format: no time"), "{err}");
        let missing = traffic(&["--traffic", "/nonexistent/edgeseg.jsonl"]).unwrap().open().unwrap_err();
        assert!(format!("{missing:#}").contains("opening traffic /nonexistent/edgeseg.jsonl"), "{missing:#}");
    }
}
