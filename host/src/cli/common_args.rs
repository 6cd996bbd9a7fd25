//! Arguments several subcommands share, declared once: the wasm module (`--module`,
//! `EDGESEG_WASM`), the progress-bar switches, and `--delta FILE@N`.

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

/// Where the module is looked for when neither `--module` nor `EDGESEG_WASM` says otherwise
/// (`cargo xtask` copies the size-optimised build there).
pub const DEFAULT_MODULE: &str = "target/wasm/edgeseg.wasm";
/// Environment variable naming the module, below `--module` in precedence.
pub const MODULE_ENV: &str = "EDGESEG_WASM";

/// The edgeseg wasm module a subcommand runs.
#[derive(Debug, Args)]
pub struct ModuleArgs {
    /// The edgeseg wasm module (raw ABI, `cargo xtask build`).
    #[arg(long = "module", value_name = "FILE", env = MODULE_ENV, default_value = DEFAULT_MODULE)]
    pub path: PathBuf,
}

/// `--progress` / `--no-progress`: by default a bar is drawn when stderr is a terminal.
#[derive(Debug, Args, Default)]
pub struct ProgressArgs {
    /// Draw a progress bar on stderr even when stderr is not a terminal.
    #[arg(long, conflicts_with = "no_progress")]
    pub progress: bool,
    /// Never draw a progress bar (by default it is drawn when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
}

/// How a progress bar is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    Hidden,
    /// Redrawn in place on a terminal.
    Terminal,
    /// Asked for (`--progress`) with stderr a file or pipe: plain lines, no cursor moves.
    Plain,
}

impl ProgressArgs {
    pub fn draw(&self) -> Draw {
        self.draw_for(io::stderr().is_terminal())
    }

    fn draw_for(&self, terminal: bool) -> Draw {
        match (self.progress, self.no_progress, terminal) {
            (_, true, _) => Draw::Hidden,
            (_, false, true) => Draw::Terminal,
            (true, false, false) => Draw::Plain,
            (false, false, false) => Draw::Hidden,
        }
    }

    /// A bar drawn as [`ProgressArgs::draw`] says, redrawn at most `hz` times a second on a
    /// terminal and once a second as plain lines.
    pub fn bar(&self, hz: u8) -> ProgressBar {
        let target = match self.draw() {
            Draw::Hidden => return ProgressBar::hidden(),
            Draw::Terminal => ProgressDrawTarget::stderr_with_hz(hz),
            Draw::Plain => ProgressDrawTarget::term_like_with_hz(Box::new(PlainStderr), 1),
        };
        ProgressBar::with_draw_target(None, target)
    }
}

/// `--progress` into a file or pipe: one plain line per redraw, no cursor moves.
#[derive(Debug)]
struct PlainStderr;

impl indicatif::TermLike for PlainStderr {
    fn width(&self) -> u16 {
        80
    }
    fn move_cursor_up(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        let s = s.trim_end();
        if s.is_empty() { Ok(()) } else { writeln!(io::stderr(), "{s}") }
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// `--delta FILE@N`: a delta file applied after N requests (`FILE` alone: before the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaSpec {
    pub file: PathBuf,
    pub after: u64,
}

impl std::str::FromStr for DeltaSpec {
    type Err = String;

    /// The last `@` splits: a path may hold `@`, the count may not. `FILE@` and `FILE@x` are
    /// errors (clap exits 2 naming the flag), not a file called `FILE@x`.
    fn from_str(spec: &str) -> Result<Self, String> {
        let (file, after) = match spec.rsplit_once('@') {
            Some((file, n)) => {
                let after = n.parse::<u64>().map_err(|_| format!("{n:?} after the last '@' is not a request count"))?;
                (file, after)
            }
            None => (spec, 0),
        };
        if file.is_empty() {
            return Err("no delta file before '@'".into());
        }
        Ok(DeltaSpec { file: PathBuf::from(file), after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_specs_split_at_the_last_at_and_refuse_a_bad_count() {
        assert_eq!("a.delta".parse(), Ok(DeltaSpec { file: "a.delta".into(), after: 0 }));
        assert_eq!("x@y/a.delta@250".parse(), Ok(DeltaSpec { file: "x@y/a.delta".into(), after: 250 }));
        assert!("a.delta@".parse::<DeltaSpec>().is_err());
        assert!("a.delta@-1".parse::<DeltaSpec>().is_err());
        assert!("a.delta@1k".parse::<DeltaSpec>().is_err());
        assert!("@5".parse::<DeltaSpec>().is_err());
    }

    #[test]
    fn a_bad_flag_value_is_a_usage_error_naming_the_flag() {
        use crate::cli::Cli;
        use clap::Parser;
        let replay = ["edgeseg", "replay", "--snapshot", "s", "--traffic", "t"];
        let err = Cli::try_parse_from(replay.iter().chain(&["--delta", "d@soon"])).unwrap_err();
        assert_eq!((err.kind(), err.exit_code()), (clap::error::ErrorKind::ValueValidation, 2));
        assert!(err.to_string().contains("--delta <FILE@N>"), "{err}");
        let build = ["edgeseg", "build", "--definitions", "d", "--members", "m", "--out", "o"];
        let err = Cli::try_parse_from(build.iter().chain(&["--exact-form", "dense"])).unwrap_err();
        assert_eq!((err.kind(), err.exit_code()), (clap::error::ErrorKind::InvalidValue, 2));
        assert!(Cli::try_parse_from(build.iter().chain(&["--exact-form", "plain", "--no-progress"])).is_ok());
        assert!(Cli::try_parse_from(build.iter().chain(&["--progress", "--no-progress"])).is_err());
    }

    #[test]
    fn progress_is_drawn_on_a_terminal_or_when_asked_and_never_when_refused() {
        let args = |progress, no_progress| ProgressArgs { progress, no_progress };
        assert_eq!(args(false, false).draw_for(true), Draw::Terminal);
        assert_eq!(args(false, false).draw_for(false), Draw::Hidden);
        assert_eq!(args(true, false).draw_for(false), Draw::Plain);
        assert_eq!(args(true, false).draw_for(true), Draw::Terminal);
        assert_eq!(args(false, true).draw_for(true), Draw::Hidden);
    }
}
