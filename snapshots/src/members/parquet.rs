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

use super::arrow::{self, BatchColumns, Role};
use super::dataset::{Part, parts};
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
    /// Where each role is in the projected batches.
    columns: BatchColumns,
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
        let mut roles = arrow::roles(schema, columns).map_err(|(column, message)| err(&column, message))?;
        if let Some((i, _)) = roles.iter().find(|(i, r)| {
            matches!(r, Role::Attribute) && part.partitions.iter().any(|(k, _)| k == schema.field(*i).name())
        }) {
            return Err(err(schema.field(*i).name(), "is both a column and a partition directory".to_string()));
        }
        if let Some((k, _)) = part.partitions.iter().find(|(k, _)| columns.is_role(k)) {
            return Err(err(k, "a partition directory names a member column (id, consents, segments or tcf)".into()));
        }
        roles.sort_by_key(|(i, _)| *i);
        let projection = roles.iter().map(|(i, _)| *i).collect();
        // Positions in the projected batches: the roles in ascending column order.
        let projected = roles.into_iter().enumerate().map(|(at, (i, role))| (at, i, role));
        let plan = FilePlan {
            path: part.path,
            partitions: part.partitions.into_iter().filter(|(k, _)| columns.is_attribute(k)).collect(),
            row_groups,
            projection,
            columns: BatchColumns::new(schema, columns, projected),
        };
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
    let mut m = plan
        .columns
        .member(batch, row, delimiter)
        .map_err(|(column, message)| plan.err(in_file, Some(&column), message))?;
    m.attributes.extend(plan.partitions.iter().cloned());
    m.line = Some(before + in_file + 1);
    Ok(m)
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
