//! Member readers: CSV, JSONL and Parquet, one record at a time.
//!
//! Member exports can be tens of millions of rows, and the builder keeps only fingerprints, so the
//! readers stream: an iterator of [`Member`]s, never a `Vec` of the file. Every record carries the
//! line (for Parquet: the row) it came from, so any later complaint (an unknown purpose, a
//! duplicate id) can point at it.
//!
//! CSV is loosely typed, as warehouse exports are: an empty cell is `null`, `true`/`false` are
//! booleans, anything that parses as a finite number is a number, the rest are strings (so a zip
//! code `01234` becomes the number 1234; JSON Logic's loose `==` still matches `"01234"`). JSONL
//! keeps the types it was given; Parquet maps its Arrow types (see [`parquet`](self::ParquetMembers)).
//!
//! Where members come from is a [`MemberSource`]: a file (`.csv`, `.jsonl`, either also `.gz` or
//! `.zst`, or `.parquet`), a directory of Parquet part files (hive-style `key=value` directories
//! become attributes), or stdin (`-`, CSV or JSONL, format given). A source can be opened again and
//! reads the same members in the same order, which is how a duplicate id found at the end of a
//! build is traced back to its lines. Rows of a Parquet directory are numbered across its part
//! files in path order; [`MemberSource::relocate`] turns such a row into (part file, row in it).

mod arrow;
mod csv;
mod dataset;
mod jsonl;
mod parquet;
mod values;

pub use self::arrow::batch_members;
pub use self::csv::CsvMembers;
pub use self::jsonl::JsonlMembers;
pub use self::parquet::ParquetMembers;
pub use dataset::locate;

use crate::error::{BuildError, BuildErrorKind};
use edgeseg::rule::Literal;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// One member: an id, the purposes they consented to, and profile attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The customer id, as the edge will see it (the builder only keeps its keyed fingerprint).
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
    /// 1-based line in the source file (Parquet: row, counted across a directory's part files in
    /// path order; see [`MemberSource::relocate`]), for error messages.
    pub line: Option<u64>,
}

impl Member {
    /// The attribute named `name`, if present.
    pub fn attribute(&self, name: &str) -> Option<&Literal> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Which columns of a CSV or Parquet export are which. JSONL has fixed field names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberColumns {
    /// The customer id column (default `id`).
    pub id: String,
    /// Consented purposes (default `consents`): a delimited string, or in Parquet also a list of strings.
    pub consents: String,
    /// Precomputed segment names (default `segments`), in the same forms as `consents`.
    pub segments: String,
    /// The TCF v2 string (default `tcf`).
    pub tcf: String,
    /// Separator of the delimited-string form of `consents` and `segments` (default `;`).
    pub list_delimiter: char,
    /// `Some`: only these columns become attributes (Parquet reads no others); `None`: every
    /// column not named above does.
    pub attributes: Option<Vec<String>>,
}

impl Default for MemberColumns {
    fn default() -> MemberColumns {
        MemberColumns {
            id: "id".into(),
            consents: "consents".into(),
            segments: "segments".into(),
            tcf: "tcf".into(),
            list_delimiter: ';',
            attributes: None,
        }
    }
}

impl MemberColumns {
    /// Whether a column named `name` (not one of the named roles) is read as an attribute.
    pub(crate) fn is_attribute(&self, name: &str) -> bool {
        self.attributes.as_ref().is_none_or(|keep| keep.iter().any(|k| k == name))
    }

    /// Whether `name` is the id, consents, segments or TCF column.
    pub(crate) fn is_role(&self, name: &str) -> bool {
        [&self.id, &self.consents, &self.segments, &self.tcf].iter().any(|r| r.as_str() == name)
    }

    /// The first listed attribute that is not among `present`.
    pub(crate) fn missing_attribute<'a>(&self, present: impl Iterator<Item = &'a str> + Clone) -> Option<String> {
        self.attributes.as_ref()?.iter().find(|k| !present.clone().any(|p| p == k.as_str())).cloned()
    }
}

/// The record format of a member source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberFormat {
    /// CSV with a header row.
    Csv,
    /// JSON Lines.
    Jsonl,
    /// Apache Parquet: a file, or a directory of part files.
    Parquet,
}

impl MemberFormat {
    /// `csv`, `jsonl` or `parquet` (any case).
    pub fn parse(name: &str) -> Option<MemberFormat> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(MemberFormat::Csv),
            "jsonl" => Some(MemberFormat::Jsonl),
            "parquet" => Some(MemberFormat::Parquet),
            _ => None,
        }
    }
}

/// Where members come from, and how to read them. Opening it twice reads the same members in the
/// same order (except stdin, which can be read once: see [`MemberSource::is_stdin`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSource {
    /// A file, a directory of Parquet part files, or `-` for stdin.
    pub path: PathBuf,
    /// The format; `None`: by extension (a directory is Parquet). Stdin needs one.
    pub format: Option<MemberFormat>,
    /// Column names and list separator (CSV and Parquet).
    pub columns: MemberColumns,
}

impl MemberSource {
    /// The source at `path` with the format by extension and the default columns.
    pub fn new(path: impl Into<PathBuf>) -> MemberSource {
        MemberSource { path: path.into(), format: None, columns: MemberColumns::default() }
    }

    /// Whether this is stdin (`-`), which cannot be read a second time: checks that re-read the
    /// members (duplicate lines, case collisions) cannot name lines for it.
    pub fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }

    /// The name errors use: the path, or `<stdin>`.
    pub fn name(&self) -> PathBuf {
        if self.is_stdin() { PathBuf::from("<stdin>") } else { self.path.clone() }
    }

    /// Opens the source. Parquet sources are checked here, before any row is read: every part
    /// file's footer and schema (id column present and a string or integer, every attribute of a
    /// supported type).
    pub fn open(&self) -> Result<MemberFile, BuildError> {
        let path = self.path.as_path();
        if self.is_stdin() {
            let input = Input(Box::new(std::io::stdin()));
            return match self.format {
                Some(MemberFormat::Csv) => {
                    Ok(MemberFile::Csv(CsvMembers::with_columns(input, Some(&self.name()), &self.columns)))
                }
                Some(MemberFormat::Jsonl) => {
                    Ok(MemberFile::Jsonl(JsonlMembers::new(BufReader::new(input), Some(&self.name()))))
                }
                Some(MemberFormat::Parquet) => Err(self.unreadable(
                    "Parquet cannot be read from stdin (the reader seeks to the footer at the end); give the file",
                )),
                None => Err(self.unreadable("reading members from stdin needs a format: csv or jsonl")),
            };
        }
        if self.format.is_none_or(|f| f == MemberFormat::Parquet) && path.is_dir() {
            return Ok(MemberFile::Parquet(ParquetMembers::open(path, &self.columns)?));
        }
        let (format, compression) = by_extension(path);
        let Some(format) = self.format.or(format) else {
            return Err(self.unreadable(
                "cannot tell the member file format: the name must end in .csv or .jsonl (optionally followed by \
                 .gz or .zst), or .parquet, or it must be a directory of Parquet files",
            ));
        };
        if format == MemberFormat::Parquet {
            return Ok(MemberFile::Parquet(ParquetMembers::open(path, &self.columns)?));
        }
        let file = File::open(path).map_err(|e| BuildError::io(path, &e))?;
        let input = match compression {
            Compression::None => Input(Box::new(file)),
            Compression::Gzip => Input(Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))),
            Compression::Zstd => Input(Box::new(
                zstd::stream::read::Decoder::new(file)
                    .map_err(|e| BuildError::new(BuildErrorKind::Io, format!("zstd: {e}")).with_file(path))?,
            )),
        };
        Ok(match format {
            MemberFormat::Jsonl => MemberFile::Jsonl(JsonlMembers::new(BufReader::new(input), Some(path))),
            _ => MemberFile::Csv(CsvMembers::with_columns(input, Some(path), &self.columns)),
        })
    }

    fn unreadable(&self, message: &str) -> BuildError {
        BuildError::new(BuildErrorKind::Members, message).with_file(self.name())
    }

    /// Puts an error about row N of a Parquet directory at (part file, row within it), with the
    /// directory-wide row kept in the message. Errors that already name a file (the readers'
    /// own: a part file) and errors of other sources are returned as they are.
    pub fn relocate(&self, e: BuildError) -> BuildError {
        let (Some(n), false) = (e.line(), self.is_stdin()) else { return e };
        if !self.path.is_dir() || e.file().is_some_and(|f| f != self.path) {
            return e;
        }
        let Ok((file, row)) = locate(&self.path, n) else { return e };
        let mut out = BuildError::new(e.kind(), format!("{} (row {n} of {})", e.message(), self.path.display()))
            .with_file(file)
            .with_line(row);
        if let Some(field) = e.field() {
            out = out.with_field(field);
        }
        out
    }
}

/// Opens a member file or Parquet directory with the default columns, the format by extension.
pub fn open(path: &Path) -> Result<MemberFile, BuildError> {
    MemberSource::new(path).open()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The format and compression a file name says: `members.csv.gz` → (CSV, gzip).
fn by_extension(path: &Path) -> (Option<MemberFormat>, Compression) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let (stem, compression) = match name.rsplit_once('.') {
        Some((stem, "gz")) => (stem, Compression::Gzip),
        Some((stem, "zst")) => (stem, Compression::Zstd),
        _ => (name.as_str(), Compression::None),
    };
    let format = match stem.rsplit_once('.').map(|(_, ext)| ext) {
        Some("csv") => Some(MemberFormat::Csv),
        Some("jsonl") => Some(MemberFormat::Jsonl),
        Some("parquet") if compression == Compression::None => Some(MemberFormat::Parquet),
        _ => None,
    };
    (format, compression)
}

/// A byte stream a text reader reads from: a file, a decompressor over one, or stdin.
pub struct Input(Box<dyn Read>);

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Input")
    }
}

/// A member source opened by [`open`] or [`MemberSource::open`].
#[derive(Debug)]
pub enum MemberFile {
    /// CSV, possibly decompressed on the fly.
    Csv(CsvMembers<Input>),
    /// JSON Lines, possibly decompressed on the fly.
    Jsonl(JsonlMembers<BufReader<Input>>),
    /// A Parquet file or directory.
    Parquet(ParquetMembers),
}

impl Iterator for MemberFile {
    type Item = Result<Member, BuildError>;
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            MemberFile::Csv(r) => r.next(),
            MemberFile::Jsonl(r) => r.next(),
            MemberFile::Parquet(r) => r.next(),
        }
    }
}

pub(crate) fn members_error(file: Option<&Path>, line: u64, message: impl Into<String>) -> BuildError {
    let e = BuildError::new(BuildErrorKind::Members, message).with_line(line);
    match file {
        Some(f) => e.with_file(f),
        None => e,
    }
}

/// One step of a member reader that stops for good after its first error or its end: after an
/// error the reader's position is unreliable, so it stops rather than guess.
pub(crate) fn step(
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

/// A delimited list cell: items trimmed, empty items dropped.
pub(crate) fn split_list(cell: &str, delimiter: char) -> Vec<String> {
    cell.split(delimiter).map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect()
}

/// Types a CSV cell (see the module docs). Hive partition values are typed the same way.
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

    #[test]
    fn formats_come_from_extensions() {
        let f = |n: &str| by_extension(Path::new(n));
        assert_eq!(f("m.csv"), (Some(MemberFormat::Csv), Compression::None));
        assert_eq!(f("m.JSONL.gz"), (Some(MemberFormat::Jsonl), Compression::Gzip));
        assert_eq!(f("m.csv.zst"), (Some(MemberFormat::Csv), Compression::Zstd));
        assert_eq!(f("m.parquet"), (Some(MemberFormat::Parquet), Compression::None));
        assert_eq!(f("m.parquet.gz").0, None);
        assert_eq!(f("m.txt").0, None);
        assert_eq!(f("csv").0, None);
    }
}
