//! Parquet directories as Spark, Flink and DuckDB write them: part files under the directory,
//! possibly under hive-style partition directories (`country=DE/part-0.parquet`, nested), read
//! in path order.
//!
//! Taken: `*.parquet` files, and `part-*` files without an extension (Flink's default names).
//! Ignored: names starting with `.` or `_` (`_SUCCESS`, `_committed_*`, `_temporary/`,
//! `.part-0.crc`) and other `*.crc` files. Anything else is an error rather than a silent skip:
//! a file that holds members under an unexpected name must not vanish from a build.
//!
//! A partition directory `key=value` gives each member below it the attribute `key` with the
//! value URL-percent-decoded (as Spark escapes it) and typed as a CSV cell ([`csv_value`]);
//! `__HIVE_DEFAULT_PARTITION__` (Spark's and Hive's null) is null.

use super::csv_value;
use crate::error::{BuildError, BuildErrorKind};
use edgeseg::rule::Literal;
use std::path::{Path, PathBuf};

/// Hive's and Spark's directory name for a null partition value.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// One Parquet file of a source, with the partition values its directories give.
#[derive(Clone, Debug)]
pub(super) struct Part {
    pub(super) path: PathBuf,
    pub(super) partitions: Vec<(String, Literal)>,
}

/// The part files of `root` (itself, if it is a file), sorted by path.
pub(super) fn parts(root: &Path) -> Result<Vec<Part>, BuildError> {
    if !root.is_dir() {
        return Ok(vec![Part { path: root.to_path_buf(), partitions: Vec::new() }]);
    }
    let mut out = Vec::new();
    walk(root, &mut Vec::new(), &mut out)?;
    if out.is_empty() {
        return Err(BuildError::new(
            BuildErrorKind::Members,
            "no Parquet part files in this directory (looked for *.parquet and part-* below it)",
        )
        .with_file(root));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(dir: &Path, partitions: &mut Vec<(String, Literal)>, out: &mut Vec<Part>) -> Result<(), BuildError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BuildError::io(dir, &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| BuildError::io(dir, &e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let kind = entry.file_type().map_err(|e| BuildError::io(&path, &e))?;
        let is_dir = kind.is_dir() || (kind.is_symlink() && path.is_dir());
        if is_dir {
            let pushed = match name.split_once('=') {
                Some((key, value)) => {
                    if key.is_empty() || partitions.iter().any(|(k, _)| k == key) {
                        return Err(BuildError::new(
                            BuildErrorKind::Members,
                            format!("partition directory {name:?}: empty or repeated partition key"),
                        )
                        .with_file(&path));
                    }
                    partitions.push((key.to_string(), partition_value(value)));
                    true
                }
                None => false,
            };
            walk(&path, partitions, out)?;
            if pushed {
                partitions.pop();
            }
        } else if name.ends_with(".parquet") || (name.starts_with("part-") && !name.contains('.')) {
            out.push(Part { path, partitions: partitions.clone() });
        } else if !name.ends_with(".crc") {
            return Err(BuildError::new(
                BuildErrorKind::Members,
                "unexpected file in a Parquet directory (parts are *.parquet or part-*; names starting with . or _ \
                 are ignored)",
            )
            .with_file(&path));
        }
    }
    Ok(())
}

/// A partition directory's value: percent-decoded, typed as a CSV cell; Hive's null marker is null.
fn partition_value(raw: &str) -> Literal {
    if raw == HIVE_NULL {
        return Literal::Null;
    }
    csv_value(&percent_decode(raw))
}

/// `%XX` escapes decoded (Spark escapes `/`, `=`, `%`, `:` and others so); left as written if the
/// result is not UTF-8.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_string())
}

/// Where row `row` (1-based, as [`Member::line`](super::Member::line) counts) of the source at
/// `path` is: the part file and the 1-based row within it. For a file, that file and `row`; for a
/// directory, found from the part files' footers (row counts only; no data is read).
pub fn locate(path: &Path, row: u64) -> Result<(PathBuf, u64), BuildError> {
    if !path.is_dir() {
        return Ok((path.to_path_buf(), row));
    }
    let mut before = 0u64;
    for part in parts(path)? {
        let rows = super::parquet::row_count(&part.path)?;
        if row <= before + rows {
            return Ok((part.path, row - before));
        }
        before += rows;
    }
    Err(BuildError::new(BuildErrorKind::Members, format!("row {row} is past the last part file ({before} rows)"))
        .with_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_are_decoded_and_typed() {
        assert_eq!(partition_value("DE"), Literal::String("DE".into()));
        assert_eq!(partition_value("S%C3%A3o%20Paulo"), Literal::String("São Paulo".into()));
        assert_eq!(partition_value("a%3Db%2Fc"), Literal::String("a=b/c".into()));
        assert_eq!(partition_value("2024"), Literal::Number(2024.0));
        assert_eq!(partition_value("true"), Literal::Bool(true));
        assert_eq!(partition_value(HIVE_NULL), Literal::Null);
        assert_eq!(partition_value("%zz%"), Literal::String("%zz%".into()));
        assert_eq!(partition_value("%FF"), Literal::String("%FF".into()), "not UTF-8: as written");
    }
}
