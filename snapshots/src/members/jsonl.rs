//! JSON Lines members: `{"id": "u1", "consents": [..], "segments": [..], "tcf": "..", "attributes": {..}}`,
//! one object a line; the field names are fixed (the column mapping is for CSV and Parquet), and
//! attributes keep the JSON types they were given.

use super::{Member, members_error, step};
use crate::error::{BuildError, BuildErrorKind};
use edgeseg::rule::Literal;
use serde::Deserialize;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Streams members from JSON Lines: `{"id": "u1", "consents": [..], "segments": [..], "attributes": {..}}`.
#[derive(Debug)]
pub struct JsonlMembers<R> {
    reader: R,
    file: Option<PathBuf>,
    line: u64,
    buf: String,
    done: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonMember {
    id: String,
    #[serde(default)]
    consents: Vec<String>,
    #[serde(default)]
    segments: Vec<String>,
    #[serde(default)]
    tcf: Option<String>,
    #[serde(default)]
    attributes: serde_json::Map<String, serde_json::Value>,
}

impl<R: BufRead> JsonlMembers<R> {
    /// Reads JSONL from `reader`; `file` only names the source in errors.
    pub fn new(reader: R, file: Option<&Path>) -> JsonlMembers<R> {
        JsonlMembers { reader, file: file.map(Path::to_path_buf), line: 0, buf: String::new(), done: false }
    }

    fn err(&self, message: impl Into<String>) -> BuildError {
        members_error(self.file.as_deref(), self.line, message)
    }

    fn read(&mut self) -> Result<Option<Member>, BuildError> {
        loop {
            self.buf.clear();
            self.line += 1;
            let n = self.reader.read_line(&mut self.buf).map_err(|e| {
                let kind = if e.kind() == std::io::ErrorKind::InvalidData {
                    BuildErrorKind::Members
                } else {
                    BuildErrorKind::Io
                };
                BuildError::new(kind, e.to_string()).with_line(self.line)
            });
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    return Err(match &self.file {
                        Some(f) => e.with_file(f),
                        None => e,
                    });
                }
            };
            if n == 0 {
                return Ok(None);
            }
            if self.line == 1 && self.buf.starts_with(crate::text::BOM) {
                // A byte-order mark (as Windows tools write) is not part of the first record.
                self.buf.drain(..crate::text::BOM.len_utf8());
            }
            if !self.buf.trim().is_empty() {
                break;
            }
        }
        let parsed: JsonMember = serde_json::from_str(self.buf.trim_end()).map_err(|e| {
            let msg = e.to_string();
            let msg = msg.rfind(" at line ").map_or(msg.as_str(), |i| &msg[..i]).to_string();
            self.err(msg).with_column(e.column() as u64)
        })?;
        if parsed.id.is_empty() {
            return Err(self.err("empty id").with_field("id"));
        }
        let mut attributes = Vec::with_capacity(parsed.attributes.len());
        for (name, value) in parsed.attributes {
            let lit = match value {
                serde_json::Value::Null => Literal::Null,
                serde_json::Value::Bool(b) => Literal::Bool(b),
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(x) if x.is_finite() => Literal::Number(x),
                    _ => {
                        return Err(self
                            .err(format!("number {n} is out of range"))
                            .with_field(format!("attributes.{name}")));
                    }
                },
                serde_json::Value::String(s) => Literal::String(s),
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                    return Err(self
                        .err("attribute values must be scalars (null, bool, number or string)")
                        .with_field(format!("attributes.{name}")));
                }
            };
            attributes.push((name, lit));
        }
        Ok(Some(Member {
            id: parsed.id,
            consents: parsed.consents,
            segments: parsed.segments,
            tcf: parsed.tcf,
            attributes,
            line: Some(self.line),
        }))
    }
}

impl<R: BufRead> Iterator for JsonlMembers<R> {
    type Item = Result<Member, BuildError>;
    fn next(&mut self) -> Option<Self::Item> {
        let mut done = self.done;
        let out = step(&mut done, || self.read());
        self.done = done;
        out
    }
}
