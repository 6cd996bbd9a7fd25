//! Member readers: CSV and JSONL, one record at a time.
//!
//! Member exports can be tens of millions of rows, and the builder keeps only fingerprints, so the
//! readers stream: an iterator of [`Member`]s, never a `Vec` of the file. Every record carries the
//! line it came from, so any later complaint (an unknown purpose, a duplicate id) can point at it.
//!
//! CSV is loosely typed, as warehouse exports are: an empty cell is `null`, `true`/`false` are
//! booleans, anything that parses as a finite number is a number, the rest are strings (so a zip
//! code `01234` becomes the number 1234; JSON Logic's loose `==` still matches `"01234"`). JSONL
//! keeps the types it was given.

use crate::error::{BuildError, BuildErrorKind};
use edgeseg::rule::Literal;
use serde::Deserialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One member: an id, the purposes they consented to, and profile attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub id: String,
    /// Purpose names as written (the builder resolves them against the definitions).
    pub consents: Vec<String>,
    /// The member's IAB TCF v2 string, if the export has one: purposes mapped in the definitions'
    /// `consent.tcf` are kept only if the string consents to all their TCF purposes.
    pub tcf: Option<String>,
    /// Segments computed upstream that the member belongs to: names of segments whose
    /// definitions say `"members": {"precomputed": true}`. Consent filtering still applies.
    pub segments: Vec<String>,
    /// Scalar attributes (`Literal::Array` never appears), in file order.
    pub attributes: Vec<(String, Literal)>,
    /// 1-based line in the source file, for error messages.
    pub line: Option<u64>,
}

impl Member {
    /// The attribute named `name`, if present.
    pub fn attribute(&self, name: &str) -> Option<&Literal> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

fn csv_err(file: Option<&Path>, e: &csv::Error) -> BuildError {
    let line = e.position().map_or(1, csv::Position::line);
    match e.kind() {
        csv::ErrorKind::Io(io) => {
            let err = BuildError::new(BuildErrorKind::Io, io.to_string()).with_line(line);
            match file {
                Some(f) => err.with_file(f),
                None => err,
            }
        }
        _ => members_error(file, line, e.to_string()),
    }
}

fn members_error(file: Option<&Path>, line: u64, message: impl Into<String>) -> BuildError {
    let e = BuildError::new(BuildErrorKind::Members, message).with_line(line);
    match file {
        Some(f) => e.with_file(f),
        None => e,
    }
}

/// Opens a member file, choosing the reader by extension: `.csv` or `.jsonl`.
pub fn open(path: &Path) -> Result<MemberFile, BuildError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let file = || File::open(path).map_err(|e| BuildError::io(path, &e));
    match ext.as_deref() {
        Some("csv") => Ok(MemberFile::Csv(CsvMembers::new(file()?, Some(path)))),
        Some("jsonl") => Ok(MemberFile::Jsonl(JsonlMembers::new(BufReader::new(file()?), Some(path)))),
        _ => Err(BuildError::new(
            BuildErrorKind::Members,
            "cannot tell the member file format: the name must end in .csv or .jsonl",
        )
        .with_file(path)),
    }
}

/// A member file opened by [`open`].
#[derive(Debug)]
pub enum MemberFile {
    Csv(CsvMembers<File>),
    Jsonl(JsonlMembers<BufReader<File>>),
}

impl Iterator for MemberFile {
    type Item = Result<Member, BuildError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            MemberFile::Csv(r) => r.next(),
            MemberFile::Jsonl(r) => r.next(),
        }
    }
}

/// Streams members from CSV with a header row: `id` (required), `consents` and `segments`
/// (optional, `;`-separated), `tcf` (optional), every other column an attribute.
#[derive(Debug)]
pub struct CsvMembers<R> {
    reader: csv::Reader<R>,
    file: Option<PathBuf>,
    columns: Option<Columns>,
    record: csv::StringRecord,
    done: bool,
}

#[derive(Debug)]
struct Columns {
    id: usize,
    consents: Option<usize>,
    segments: Option<usize>,
    tcf: Option<usize>,
    attributes: Vec<(usize, String)>,
}

impl<R: Read> CsvMembers<R> {
    /// Reads CSV from `reader`; `file` only names the source in errors.
    pub fn new(reader: R, file: Option<&Path>) -> CsvMembers<R> {
        let reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(reader);
        CsvMembers {
            reader,
            file: file.map(Path::to_path_buf),
            columns: None,
            record: csv::StringRecord::new(),
            done: false,
        }
    }

    fn err(&self, line: u64, message: impl Into<String>) -> BuildError {
        members_error(self.file.as_deref(), line, message)
    }

    fn columns(&mut self) -> Result<(), BuildError> {
        let headers = self.reader.headers().map_err(|e| csv_err(self.file.as_deref(), &e))?.clone();
        if headers.is_empty() || headers.iter().all(str::is_empty) {
            return Err(self.err(1, "empty file: a header row with an `id` column is required"));
        }
        let mut id = None;
        let mut consents = None;
        let mut segments = None;
        let mut tcf = None;
        let mut attributes = Vec::new();
        for (i, name) in headers.iter().enumerate() {
            if headers.iter().take(i).any(|n| n == name) {
                return Err(self.err(1, format!("duplicate column {name:?}")).with_field(name));
            }
            match name {
                "id" => id = Some(i),
                "consents" => consents = Some(i),
                "segments" => segments = Some(i),
                "tcf" => tcf = Some(i),
                "" => return Err(self.err(1, format!("column {} has no name", i + 1))),
                _ => attributes.push((i, name.to_string())),
            }
        }
        let Some(id) = id else {
            return Err(self.err(1, "no `id` column in the header row"));
        };
        self.columns = Some(Columns { id, consents, segments, tcf, attributes });
        Ok(())
    }

    fn read(&mut self) -> Result<Option<Member>, BuildError> {
        if self.columns.is_none() {
            self.columns()?;
        }
        if !self.reader.read_record(&mut self.record).map_err(|e| csv_err(self.file.as_deref(), &e))? {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, csv::Position::line);
        let Some(cols) = &self.columns else { return Ok(None) };
        let cell = |i: usize| self.record.get(i).unwrap_or("");
        let id = cell(cols.id).to_string();
        if id.is_empty() {
            return Err(self.err(line, "empty id").with_field("id"));
        }
        let list = |col: Option<usize>| match col {
            Some(i) => cell(i).split(';').map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect(),
            None => Vec::new(),
        };
        let (consents, segments) = (list(cols.consents), list(cols.segments));
        let tcf = cols.tcf.map(|i| cell(i).trim().to_string()).filter(|t| !t.is_empty());
        let attributes = cols.attributes.iter().map(|(i, name)| (name.clone(), csv_value(cell(*i)))).collect();
        Ok(Some(Member { id, consents, segments, tcf, attributes, line: Some(line) }))
    }
}

/// One step of a member reader that stops for good after its first error or its end: after an
/// error the reader's position is unreliable, so it stops rather than guess.
fn step(
    done: &mut bool,
    read: impl FnOnce() -> Result<Option<Member>, BuildError>,
) -> Option<Result<Member, BuildError>> {
    if *done {
        return None;
    }
    let out = read().transpose();
    *done = !matches!(out, Some(Ok(_)));
    out
}

impl<R: Read> Iterator for CsvMembers<R> {
    type Item = Result<Member, BuildError>;
    fn next(&mut self) -> Option<Self::Item> {
        let mut done = self.done;
        let out = step(&mut done, || self.read());
        self.done = done;
        out
    }
}

/// Types a CSV cell (see the module docs).
pub fn csv_value(cell: &str) -> Literal {
    match cell {
        "" => Literal::Null,
        "true" => Literal::Bool(true),
        "false" => Literal::Bool(false),
        _ => match cell.parse::<f64>() {
            // Rust also parses "inf" and "NaN"; those stay strings.
            Ok(n) if n.is_finite() => Literal::Number(n),
            _ => Literal::String(cell.to_string()),
        },
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_typed() {
        assert_eq!(csv_value(""), Literal::Null);
        assert_eq!(csv_value("true"), Literal::Bool(true));
        assert_eq!(csv_value("42"), Literal::Number(42.0));
        assert_eq!(csv_value("-1.5e2"), Literal::Number(-150.0));
        assert_eq!(csv_value("inf"), Literal::String("inf".into()));
        assert_eq!(csv_value("NaN"), Literal::String("NaN".into()));
        assert_eq!(csv_value("DE"), Literal::String("DE".into()));
    }
}
