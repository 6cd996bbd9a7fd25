//! CSV members: a header row names the columns (see [`MemberColumns`] for which are which), every
//! other column is an attribute typed by [`csv_value`].

use super::{Member, MemberColumns, csv_value, members_error, split_list, step};
use crate::error::{BuildError, BuildErrorKind};
use std::io::Read;
use std::path::{Path, PathBuf};

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

/// Streams members from CSV with a header row: `id` (required), `consents` and `segments`
/// (optional, `;`-separated), `tcf` (optional), every other column an attribute. The names and
/// the separator are [`MemberColumns`]'s (defaults as above).
#[derive(Debug)]
pub struct CsvMembers<R> {
    reader: csv::Reader<R>,
    file: Option<PathBuf>,
    names: MemberColumns,
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
    /// Reads CSV from `reader` with the default column names; `file` only names the source in errors.
    pub fn new(reader: R, file: Option<&Path>) -> CsvMembers<R> {
        CsvMembers::with_columns(reader, file, &MemberColumns::default())
    }

    /// Reads CSV from `reader` with the given column names and list separator.
    pub fn with_columns(reader: R, file: Option<&Path>, columns: &MemberColumns) -> CsvMembers<R> {
        let reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(reader);
        CsvMembers {
            reader,
            file: file.map(Path::to_path_buf),
            names: columns.clone(),
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
        let names = &self.names;
        if headers.is_empty() || headers.iter().all(str::is_empty) {
            return Err(self.err(1, format!("empty file: a header row with an `{}` column is required", names.id)));
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
                "" => return Err(self.err(1, format!("column {} has no name", i + 1))),
                n if n == names.id => id = Some(i),
                n if n == names.consents => consents = Some(i),
                n if n == names.segments => segments = Some(i),
                n if n == names.tcf => tcf = Some(i),
                n if names.is_attribute(n) => attributes.push((i, name.to_string())),
                _ => {}
            }
        }
        if let Some(missing) = names.missing_attribute(headers.iter()) {
            return Err(self.err(1, format!("no column {missing:?} (listed as an attribute)")).with_field(missing));
        }
        let Some(id) = id else {
            return Err(self.err(1, format!("no `{}` column in the header row", self.names.id)));
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
            return Err(self.err(line, "empty id").with_field(self.names.id.clone()));
        }
        let delimiter = self.names.list_delimiter;
        let list = |col: Option<usize>| col.map_or_else(Vec::new, |i| split_list(cell(i), delimiter));
        let (consents, segments) = (list(cols.consents), list(cols.segments));
        let tcf = cols.tcf.map(|i| cell(i).trim().to_string()).filter(|t| !t.is_empty());
        let attributes = cols.attributes.iter().map(|(i, name)| (name.clone(), csv_value(cell(*i)))).collect();
        Ok(Some(Member { id, consents, segments, tcf, attributes, line: Some(line) }))
    }
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
