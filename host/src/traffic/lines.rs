//! The capped line reader under every line-oriented log format (edgeseg JSONL, nginx).
//!
//! A production log is untrusted input: a line is read with a length cap, so an endless line
//! without a newline cannot exhaust memory — the excess is consumed and dropped, and the line is
//! reported as too long with its number. `\r\n` endings are accepted; the `\r` is not counted. A
//! UTF-8 byte-order mark at the start of the input (as Windows tools write) is dropped.

use super::{TrafficError, TrafficErrorReason};
use std::io::{self, BufRead};

/// A UTF-8 byte-order mark: not part of the first line (nor of a HAR document).
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One line as [`Lines::next_line`] hands it out.
#[derive(Debug)]
pub enum Line<'a> {
    /// The line's bytes (without its ending) and its 1-based number.
    Text(u64, &'a [u8]),
    /// A line over the cap or an IO error, with its number; after an IO error the input is over.
    Error(TrafficError),
}

/// Streams lines with a length cap and 1-based numbers.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    max_line: usize,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R, max_line: usize) -> Lines<R> {
        Lines { reader, max_line, line: 0, buf: Vec::new(), done: false }
    }

    /// The cap, in bytes.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Sets the cap, in bytes (line ending excluded).
    pub fn set_max_line(&mut self, max: usize) {
        self.max_line = max;
    }

    /// The next line, or `None` at the end of input (and after an IO error).
    pub fn next_line(&mut self) -> Option<Line<'_>> {
        if self.done {
            return None;
        }
        match self.fill() {
            Ok(None) => {
                self.done = true;
                None
            }
            Ok(Some(kept)) => {
                self.line += 1;
                if self.line == 1 && self.buf.starts_with(BOM) {
                    self.buf.drain(..BOM.len());
                }
                if kept {
                    Some(Line::Text(self.line, &self.buf))
                } else {
                    let reason = TrafficErrorReason::TooLong { limit: self.max_line };
                    Some(Line::Error(TrafficError { line: self.line, reason }))
                }
            }
            Err(e) => {
                self.done = true;
                let reason = TrafficErrorReason::Io(e.to_string());
                Some(Line::Error(TrafficError { line: self.line + 1, reason }))
            }
        }
    }

    /// The next non-blank line through `parse(text, line number)`, a line error as is, or `None`
    /// at the end: what every line-oriented reader's `Iterator::next` is.
    pub fn parse_next<T>(
        &mut self,
        parse: impl FnOnce(&[u8], u64) -> Result<T, TrafficError>,
    ) -> Option<Result<T, TrafficError>> {
        loop {
            match self.next_line()? {
                Line::Error(e) => return Some(Err(e)),
                Line::Text(_, text) if text.iter().all(u8::is_ascii_whitespace) => continue,
                Line::Text(line, text) => return Some(parse(text, line)),
            }
        }
    }

    /// Reads the next line into `self.buf` (without `\n` or `\r\n`). `Ok(None)` at end of input;
    /// `Ok(Some(false))` for a line over the cap, which has been consumed but not kept.
    fn fill(&mut self) -> io::Result<Option<bool>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !any {
                    return Ok(None);
                }
                // End of input: a last line without a newline still counts.
                break;
            }
            any = true;
            let (chunk, used, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (available.split_at(i).0, i + 1, true),
                None => (available, available.len(), false),
            };
            if !too_long {
                // Allow one byte over the cap for a `\r` that belongs to the line ending.
                if self.buf.len() + chunk.len() > self.max_line.saturating_add(1) {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.reader.consume(used);
            if ended {
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.buf.len() > self.max_line {
            too_long = true;
        }
        Ok(Some(!too_long))
    }
}
