//! `edgeseg build`'s member-input flags (format, column names, list separator) and the checks
//! that read the members a second time (`member_ids.case_collisions`).
//!
//! Stdin (`--members -`) is read once, by the build: checks that need a second pass say they
//! could not run rather than hang waiting for input that will not come again.

use anyhow::Context;
use clap::Args;
use edgeseg_snapshots::Definitions;
use edgeseg_snapshots::definitions::CaseCollisions;
use edgeseg_snapshots::members::{MemberColumns, MemberFormat, MemberSource, locate};
use std::path::{Path, PathBuf};

/// How to read `--members`: its format and which columns are which.
#[derive(Debug, Args)]
pub struct MemberInputArgs {
    /// The member format: `csv`, `jsonl` or `parquet` [default: by extension: .csv, .jsonl (either
    /// also .gz or .zst), .parquet; a directory is Parquet]. Required with `--members -` (stdin:
    /// csv or jsonl).
    #[arg(long, value_name = "FORMAT", value_parser = ["csv", "jsonl", "parquet"])]
    pub members_format: Option<String>,
    /// The customer id column (CSV, Parquet: a string or an integer column).
    #[arg(long, value_name = "NAME", default_value = "id")]
    pub id_column: String,
    /// The consented purposes column: a delimited string, or (Parquet) a list of strings.
    #[arg(long, value_name = "NAME", default_value = "consents")]
    pub consents_column: String,
    /// The precomputed segments column, in the same forms as `--consents-column`.
    #[arg(long, value_name = "NAME", default_value = "segments")]
    pub segments_column: String,
    /// The TCF v2 string column.
    #[arg(long, value_name = "NAME", default_value = "tcf")]
    pub tcf_column: String,
    /// Separator of delimited consents and segments strings.
    #[arg(long, value_name = "CHAR", default_value_t = ';')]
    pub list_delimiter: char,
    /// Read only these columns as attributes (comma-separated; Parquet then reads no others)
    /// [default: every column not named above].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub attributes: Option<Vec<String>>,
}

impl MemberInputArgs {
    /// The source `--members PATH` names, read as these flags say. Stdin without a format is a
    /// usage error.
    pub fn source(&self, path: &Path) -> anyhow::Result<MemberSource> {
        let format = self.members_format.as_deref().and_then(MemberFormat::parse);
        if path.as_os_str() == "-" && !matches!(format, Some(MemberFormat::Csv | MemberFormat::Jsonl)) {
            let e = clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                "`--members -` reads stdin and needs `--members-format csv` or `--members-format jsonl`\n",
            );
            return Err(e.into());
        }
        let columns = MemberColumns {
            id: self.id_column.clone(),
            consents: self.consents_column.clone(),
            segments: self.segments_column.clone(),
            tcf: self.tcf_column.clone(),
            list_delimiter: self.list_delimiter,
            attributes: self.attributes.clone(),
        };
        Ok(MemberSource { path: path.to_path_buf(), format, columns })
    }
}

/// Most colliding groups of ids named; the rest are counted.
const COLLISIONS_SHOWN: usize = 10;

/// The definitions' `member_ids.case_collisions` over the members: ids that differ only by case
/// or Unicode normalisation are named by line (Parquet directories: part file and row) on stderr
/// (`warn`, the default) or refuse the build (`error`). Never the ids themselves: the builder does
/// not repeat ids. Stdin cannot be read twice: `warn` says the check was skipped, `error` refuses.
pub fn check_case_collisions(definitions: &Path, members: &MemberSource) -> anyhow::Result<()> {
    let policy = Definitions::load(definitions)?.member_ids.unwrap_or_default().case_collisions();
    if policy == CaseCollisions::Off {
        return Ok(());
    }
    if members.is_stdin() {
        let text = "member_ids.case_collisions cannot be checked for members read from stdin (the check reads \
                    them a second time); give a file";
        if policy == CaseCollisions::Error {
            anyhow::bail!("{text} (member_ids.case_collisions is \"error\")");
        }
        eprintln!("warning: {text}");
        return Ok(());
    }
    let (found, total) = edgeseg_snapshots::text::case_collisions(|| members.open(), COLLISIONS_SHOWN)?;
    if total == 0 {
        return Ok(());
    }
    let mut text = format!(
        "{total} group(s) of member ids in {} differ only by case or Unicode normalisation; the edge treats each \
         spelling as a different customer:",
        members.path.display()
    );
    for c in &found {
        text.push_str(&format!("\n  {}", where_is(&members.path, &c.lines)?.join(", ")));
    }
    if total > found.len() as u64 {
        text.push_str(&format!("\n  … and {} more", total - found.len() as u64));
    }
    match policy {
        CaseCollisions::Error => anyhow::bail!("{text}\n(member_ids.case_collisions is \"error\")"),
        _ => eprintln!("warning: {text}\n(member_ids.case_collisions: \"error\" refuses, \"off\" skips this check)"),
    }
    Ok(())
}

/// `lines 3, 9` for a file; `dir/part-0.parquet row 3` and so on for a Parquet directory.
fn where_is(path: &Path, lines: &[u64]) -> anyhow::Result<Vec<String>> {
    if !path.is_dir() {
        let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
        return Ok(vec![format!("lines {}", lines.join(", "))]);
    }
    lines
        .iter()
        .map(|&n| {
            let (file, row): (PathBuf, u64) = locate(path, n).with_context(|| format!("locating row {n}"))?;
            Ok(format!("{} row {row}", file.display()))
        })
        .collect()
}
