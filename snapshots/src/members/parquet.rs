//! Parquet members, streamed a record batch at a time through the Arrow reader, reading only the
//! columns that become member fields.
//!
//! Columns are named by [`MemberColumns`]: the id (a string, or an integer written in decimal;
//! null is an error), `consents` and `segments` (a list of strings, or a delimited string),
//! `tcf` (a string); every other column (or those listed in [`MemberColumns::attributes`]) is an
//! attribute typed by its Arrow type (see `values.rs`: timestamps and dates become milliseconds
//! since the epoch). Every part file's footer and schema are checked when the source is opened,
//! so a wrong column type fails before the first row is read.
//!
//! Errors name the part file, the 1-based row within it, the row group and the column.
//! [`Member::line`] counts rows across a directory's part files in path order (for a single file,
//! the row within it); [`super::locate`] maps it back.

use super::dataset::{Part, parts};
use super::values::{self, ATTRIBUTE_TYPES};
use super::{Member, MemberColumns};
use crate::error::{BuildError, BuildErrorKind};
use arrow_array::RecordBatch;
use arrow_schema::Schema;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Rows decoded at a time: a batch of the projected columns is what is held in memory.
const BATCH_ROWS: usize = 8192;

/// Streams members from a Parquet file or a directory of part files (see the module docs).
#[derive(Debug)]
pub struct ParquetMembers {
    files: Vec<FilePlan>,
    delimiter: char,
    /// Index of the file being read (or next to be opened).
    file: usize,
    reading: Option<Reading>,
    /// Rows in the files before the current one.
    before: u64,
    done: bool,
}

/// A part file, checked: where each role's column is in the projected batches.
#[derive(Debug)]
struct FilePlan {
    path: PathBuf,
    partitions: Vec<(String, edgeseg::rule::Literal)>,
    /// Rows per row group, for error messages.
    row_groups: Vec<u64>,
    /// Root column indices read, ascending (the batches' column order).
    projection: Vec<usize>,
    id: (usize, String),
    consents: Option<usize>,
    segments: Option<usize>,
    tcf: Option<usize>,
    attributes: Vec<(usize, String)>,
}

struct Reading {
    reader: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    /// Next row in `batch`.
    row: usize,
    /// Rows of this file before `batch`.
    done_rows: u64,
}

impl std::fmt::Debug for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reading").field("row", &self.row).field("done_rows", &self.done_rows).finish_non_exhaustive()
    }
}

fn unreadable(path: &Path, e: impl std::fmt::Display) -> BuildError {
    BuildError::new(BuildErrorKind::Members, format!("not a readable Parquet file (corrupt or truncated?): {e}"))
        .with_file(path)
}

/// Opens `path` and reads its footer, turning a reader panic on hostile bytes into an error.
fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, BuildError> {
    let file = File::open(path).map_err(|e| BuildError::io(path, &e))?;
    match catch_unwind(AssertUnwindSafe(|| ParquetRecordBatchReaderBuilder::try_new(file))) {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(unreadable(path, e)),
        Err(_) => Err(unreadable(path, "the Parquet reader failed on the footer")),
    }
}

/// The number of rows a Parquet file's footer declares.
pub(super) fn row_count(path: &Path) -> Result<u64, BuildError> {
    let rows = builder(path)?.metadata().file_metadata().num_rows();
    u64::try_from(rows).map_err(|_| unreadable(path, format!("negative row count {rows}")))
}

impl FilePlan {
    fn new(part: Part, columns: &MemberColumns) -> Result<FilePlan, BuildError> {
        let b = builder(&part.path)?;
        let row_groups = b.metadata().row_groups().iter().map(|g| u64::try_from(g.num_rows()).unwrap_or(0)).collect();
        let schema: &Schema = b.schema();
        let path = part.path.clone();
        let err = |column: &str, message: String| {
            BuildError::new(BuildErrorKind::Members, message).with_file(&path).with_field(column)
        };
        let find = |name: &str| schema.fields().iter().position(|f| f.name() == name);
        let Some(id) = find(&columns.id) else {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(err(&columns.id, format!("no id column `{}` (columns: {})", columns.id, names.join(", "))));
        };
        let mut roles: Vec<(usize, Role)> = vec![(id, Role::Id)];
        let id_type = schema.field(id).data_type();
        if !values::is_id(id_type) {
            return Err(err(
                &columns.id,
                format!("the id column has type {id_type}; it must be a string or an integer"),
            ));
        }
        for (name, role) in [(&columns.consents, Role::Consents), (&columns.segments, Role::Segments)] {
            if let Some(i) = find(name) {
                let dt = schema.field(i).data_type();
                if !values::is_list(dt) {
                    return Err(err(name, format!("type {dt}: must be a list of strings or a delimited string")));
                }
                roles.push((i, role));
            }
        }
        if let Some(i) = find(&columns.tcf) {
            let dt = schema.field(i).data_type();
            if !values::is_string(dt) {
                return Err(err(&columns.tcf, format!("type {dt}: the TCF column must be a string")));
            }
            roles.push((i, Role::Tcf));
        }
        for (i, field) in schema.fields().iter().enumerate() {
            let name = field.name();
            if columns.is_role(name) || !columns.is_attribute(name) {
                continue;
            }
            if !values::is_attribute(field.data_type()) {
                return Err(err(
                    name,
                    format!(
                        "type {} cannot be an attribute (supported: {ATTRIBUTE_TYPES}); leave the column out of the \
                         export or name the attributes to read",
                        field.data_type()
                    ),
                ));
            }
            if part.partitions.iter().any(|(k, _)| k == name) {
                return Err(err(name, "is both a column and a partition directory".to_string()));
            }
            roles.push((i, Role::Attribute));
        }
        if let Some(missing) = columns.missing_attribute(schema.fields().iter().map(|f| f.name().as_str())) {
            return Err(err(&missing, "no such column (listed as an attribute)".to_string()));
        }
        if let Some((k, _)) = part.partitions.iter().find(|(k, _)| columns.is_role(k)) {
            return Err(err(k, "a partition directory names a member column (id, consents, segments or tcf)".into()));
        }
        roles.sort_by_key(|(i, _)| *i);
        let mut plan = FilePlan {
            path: part.path,
            partitions: part.partitions.into_iter().filter(|(k, _)| columns.is_attribute(k)).collect(),
            row_groups,
            projection: roles.iter().map(|(i, _)| *i).collect(),
            id: (0, columns.id.clone()),
            consents: None,
            segments: None,
            tcf: None,
            attributes: Vec::new(),
        };
        for (at, (i, role)) in roles.into_iter().enumerate() {
            match role {
                Role::Id => plan.id.0 = at,
                Role::Consents => plan.consents = Some(at),
                Role::Segments => plan.segments = Some(at),
                Role::Tcf => plan.tcf = Some(at),
                Role::Attribute => plan.attributes.push((at, schema.field(i).name().clone())),
            }
        }
        Ok(plan)
    }

    /// "row group 2 of 3" for the 0-based row `row` of this file.
    fn group_of(&self, row: u64) -> String {
        let mut before = 0;
        for (g, rows) in self.row_groups.iter().enumerate() {
            if row < before + rows {
                return format!("row group {} of {}", g + 1, self.row_groups.len());
            }
            before += rows;
        }
        format!("after the last of {} row groups", self.row_groups.len())
    }

    /// An error at the 0-based row `row` of this file.
    fn err(&self, row: u64, column: Option<&str>, message: impl std::fmt::Display) -> BuildError {
        let e = BuildError::new(BuildErrorKind::Members, format!("{message} ({})", self.group_of(row)))
            .with_file(&self.path)
            .with_line(row + 1);
        match column {
            Some(c) => e.with_field(c),
            None => e,
        }
    }

    fn open(&self) -> Result<ParquetRecordBatchReader, BuildError> {
        let b = builder(&self.path)?;
        let mask = ProjectionMask::roots(b.parquet_schema(), self.projection.iter().copied());
        b.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| unreadable(&self.path, e))
    }
}

#[derive(Clone, Copy)]
enum Role {
    Id,
    Consents,
    Segments,
    Tcf,
    Attribute,
}

impl ParquetMembers {
    /// Opens a Parquet file or directory, checking every part file's footer and schema.
    pub fn open(path: &Path, columns: &MemberColumns) -> Result<ParquetMembers, BuildError> {
        let files = parts(path)?.into_iter().map(|p| FilePlan::new(p, columns)).collect::<Result<_, _>>()?;
        Ok(ParquetMembers { files, delimiter: columns.list_delimiter, file: 0, reading: None, before: 0, done: false })
    }

    fn read(&mut self) -> Result<Option<Member>, BuildError> {
        loop {
            let Some(plan) = self.files.get(self.file) else { return Ok(None) };
            let reading = match &mut self.reading {
                Some(r) => r,
                None => self.reading.insert(Reading { reader: plan.open()?, batch: None, row: 0, done_rows: 0 }),
            };
            if let Some(batch) = &reading.batch {
                if reading.row < batch.num_rows() {
                    let row = reading.row;
                    reading.row += 1;
                    let in_file = reading.done_rows + row as u64;
                    return member(plan, batch, row, in_file, self.before, self.delimiter).map(Some);
                }
                reading.done_rows += batch.num_rows() as u64;
                reading.batch = None;
            }
            let at = reading.done_rows;
            match catch_unwind(AssertUnwindSafe(|| reading.reader.next())) {
                Ok(Some(Ok(batch))) => {
                    reading.batch = Some(batch);
                    reading.row = 0;
                }
                Ok(Some(Err(e))) => return Err(plan.err(at, None, format_args!("cannot decode: {e}"))),
                Err(_) => return Err(plan.err(at, None, "cannot decode: the Parquet reader failed on corrupt data")),
                Ok(None) => {
                    self.before += reading.done_rows;
                    self.reading = None;
                    self.file += 1;
                }
            }
        }
    }
}

/// Row `row` of `batch` (row `in_file` of its file, 0-based) as a member.
fn member(
    plan: &FilePlan,
    batch: &RecordBatch,
    row: usize,
    in_file: u64,
    before: u64,
    delimiter: char,
) -> Result<Member, BuildError> {
    let column = |i: usize| batch.column(i).as_ref();
    let (id_at, id_name) = (&plan.id.0, plan.id.1.as_str());
    let id = values::id_at(column(*id_at), row)
        .map_err(|e| plan.err(in_file, Some(id_name), e))?
        .ok_or_else(|| plan.err(in_file, Some(id_name), "null id"))?;
    let list = |c: Option<usize>| c.map_or_else(Vec::new, |i| values::list_at(column(i), row, delimiter));
    let tcf = plan
        .tcf
        .and_then(|i| values::string_at(column(i), row))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let mut attributes = Vec::with_capacity(plan.attributes.len() + plan.partitions.len());
    for (i, name) in &plan.attributes {
        let value = values::literal_at(column(*i), row).map_err(|e| plan.err(in_file, Some(name), e))?;
        attributes.push((name.clone(), value));
    }
    attributes.extend(plan.partitions.iter().cloned());
    Ok(Member {
        id,
        consents: list(plan.consents),
        segments: list(plan.segments),
        tcf,
        attributes,
        line: Some(before + in_file + 1),
    })
}

impl Iterator for ParquetMembers {
    type Item = Result<Member, BuildError>;
    fn next(&mut self) -> Option<Self::Item> {
        let mut done = self.done;
        let out = super::step(&mut done, || self.read());
        self.done = done;
        out
    }
}
