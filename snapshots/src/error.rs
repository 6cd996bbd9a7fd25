//! Build errors: a kind for programs, a location (file, line, field path) and a message for people.
//!
//! Every input the builder reads is written by someone else — a definitions file edited by hand, a
//! member export from a warehouse — so every failure says *where*: `members.csv:17: field
//! `consents`: unknown purpose "ads"`. The location parts are optional because the same error
//! type serves in-memory inputs (no file) and whole-file problems (no line).

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong, coarsely enough to act on.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuildErrorKind {
    /// A file could not be opened or read.
    Io,
    /// The definitions are not valid JSON, break the schema, or refer to something undeclared.
    Definitions,
    /// A member record is malformed, duplicated, or names an unknown purpose in its consents.
    Members,
    /// A rule does not compile: unknown operator, wrong arity, unknown variable, bad `in_segment`.
    Rule,
    /// Reserved for consent inputs other than the member file's `consents` column (revocation
    /// deltas, see DESIGN.md). An unknown purpose in a member's consents is a [`Members`] error.
    ///
    /// [`Members`]: BuildErrorKind::Members
    Consent,
    /// A hard cap was exceeded: tiers, purposes, segments, rule depth or size, or a profile rule's
    /// evaluation budget on some member.
    Limit,
    /// The snapshot could not be encoded, or failed the builder's own decode self-check.
    Encode,
    /// A member was not found in a set as written (the builder's member check, [`crate::check`]):
    /// a construction bug, never bad input.
    MemberMissing,
}

/// An error from loading definitions, reading members or building a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    kind: BuildErrorKind,
    file: Option<PathBuf>,
    line: Option<u64>,
    column: Option<u64>,
    field: Option<String>,
    message: String,
}

impl BuildError {
    /// A new error without a location; add one with the `with_*` methods. Public so that member
    /// sources outside this crate (the `Item` of [`crate::build()`]'s iterator) can report too.
    pub fn new(kind: BuildErrorKind, message: impl Into<String>) -> BuildError {
        BuildError { kind, file: None, line: None, column: None, field: None, message: message.into() }
    }

    /// Sets the file the error is in.
    #[must_use]
    pub fn with_file(mut self, file: impl Into<PathBuf>) -> BuildError {
        self.file = Some(file.into());
        self
    }

    /// Sets the file only if none is set yet (used when a pipeline stage learns the file late).
    #[must_use]
    pub fn in_file(self, file: &Path) -> BuildError {
        if self.file.is_some() { self } else { self.with_file(file) }
    }

    /// Sets the 1-based line.
    #[must_use]
    pub fn with_line(mut self, line: u64) -> BuildError {
        self.line = Some(line);
        self
    }

    /// Sets the 1-based column (JSON syntax errors know it).
    #[must_use]
    pub fn with_column(mut self, column: u64) -> BuildError {
        self.column = Some(column);
        self
    }

    /// Sets the field: a column name, or a path into the definitions like `segments[2].tier`.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> BuildError {
        self.field = Some(field.into());
        self
    }

    pub fn kind(&self) -> BuildErrorKind {
        self.kind
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn line(&self) -> Option<u64> {
        self.line
    }

    pub fn column(&self) -> Option<u64> {
        self.column
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The reason, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn io(file: &Path, err: &std::io::Error) -> BuildError {
        BuildError::new(BuildErrorKind::Io, err.to_string()).with_file(file)
    }
}

impl fmt::Display for BuildError {
    /// `file:line:column: field `f`: message`, leaving out whatever is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut located = false;
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            located = true;
        }
        if let Some(line) = self.line {
            if located {
                write!(f, ":{line}")?;
            } else {
                write!(f, "line {line}")?;
            }
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
            located = true;
        }
        if located {
            f.write_str(": ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_what_is_known() {
        let e = BuildError::new(BuildErrorKind::Members, "unknown purpose \"ads\"")
            .with_file("members.csv")
            .with_line(17)
            .with_field("consents");
        assert_eq!(e.to_string(), "members.csv:17: field `consents`: unknown purpose \"ads\"");
        let e = BuildError::new(BuildErrorKind::Definitions, "expected `,`").with_line(3).with_column(9);
        assert_eq!(e.to_string(), "line 3:9: expected `,`");
        let e = BuildError::new(BuildErrorKind::Rule, "boom").with_field("segments[0].rule");
        assert_eq!(e.to_string(), "field `segments[0].rule`: boom");
        let e = e.in_file(Path::new("a.json")).in_file(Path::new("b.json"));
        assert_eq!(e.file(), Some(Path::new("a.json")));
    }
}
