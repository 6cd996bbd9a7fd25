//! Arrow record batches as members: which column plays which role, and one row as a [`Member`].
//! The Parquet reader uses it per part file; the Python package (`python/`) uses it on the
//! batches a Spark task holds ([`batch_members`]).
//!
//! Roles come from [`MemberColumns`]: the id (a string, or an integer written in decimal; null is
//! an error), `consents` and `segments` (a list of strings, or a delimited string), `tcf` (a
//! string); every other column (or only those listed in [`MemberColumns::attributes`]) is an
//! attribute typed by its Arrow type (`values.rs`: timestamps and dates become milliseconds since
//! the epoch).

use super::values::{self, ATTRIBUTE_TYPES};
use super::{Member, MemberColumns};
use crate::error::{BuildError, BuildErrorKind};
use arrow_array::RecordBatch;
use arrow_schema::Schema;

/// What a column is read as.
#[derive(Clone, Copy, Debug)]
pub(super) enum Role {
    Id,
    Consents,
    Segments,
    Tcf,
    Attribute,
}

/// A problem with a column: its name and what is wrong.
pub(super) type ColumnError = (String, String);

/// The roles of `schema`'s columns (by index in `schema`), checked against their types.
pub(super) fn roles(schema: &Schema, columns: &MemberColumns) -> Result<Vec<(usize, Role)>, ColumnError> {
    let err = |column: &str, message: String| (column.to_string(), message);
    let find = |name: &str| schema.fields().iter().position(|f| f.name() == name);
    let Some(id) = find(&columns.id) else {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        return Err(err(&columns.id, format!("no id column `{}` (columns: {})", columns.id, names.join(", "))));
    };
    let mut roles: Vec<(usize, Role)> = vec![(id, Role::Id)];
    let id_type = schema.field(id).data_type();
    if !values::is_id(id_type) {
        return Err(err(&columns.id, format!("the id column has type {id_type}; it must be a string or an integer")));
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
        roles.push((i, Role::Attribute));
    }
    if let Some(missing) = columns.missing_attribute(schema.fields().iter().map(|f| f.name().as_str())) {
        return Err(err(&missing, "no such column (listed as an attribute)".to_string()));
    }
    Ok(roles)
}

/// Where each role's column is in a batch.
#[derive(Debug)]
pub(super) struct BatchColumns {
    id: (usize, String),
    consents: Option<usize>,
    segments: Option<usize>,
    tcf: Option<usize>,
    attributes: Vec<(usize, String)>,
}

impl BatchColumns {
    /// From `(position in the batch, index in schema, role)` triples.
    pub(super) fn new(
        schema: &Schema,
        columns: &MemberColumns,
        roles: impl IntoIterator<Item = (usize, usize, Role)>,
    ) -> BatchColumns {
        let mut out = BatchColumns {
            id: (0, columns.id.clone()),
            consents: None,
            segments: None,
            tcf: None,
            attributes: Vec::new(),
        };
        for (at, i, role) in roles {
            match role {
                Role::Id => out.id.0 = at,
                Role::Consents => out.consents = Some(at),
                Role::Segments => out.segments = Some(at),
                Role::Tcf => out.tcf = Some(at),
                Role::Attribute => out.attributes.push((at, schema.field(i).name().clone())),
            }
        }
        out
    }

    /// Row `row` of `batch` as a member (no line set).
    pub(super) fn member(&self, batch: &RecordBatch, row: usize, delimiter: char) -> Result<Member, ColumnError> {
        let column = |i: usize| batch.column(i).as_ref();
        let (id_at, id_name) = (self.id.0, self.id.1.as_str());
        let id = values::id_at(column(id_at), row)
            .map_err(|e| (id_name.to_string(), e))?
            .ok_or_else(|| (id_name.to_string(), "null id".to_string()))?;
        let list = |c: Option<usize>| c.map_or_else(Vec::new, |i| values::list_at(column(i), row, delimiter));
        let tcf = self
            .tcf
            .and_then(|i| values::string_at(column(i), row))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let mut attributes = Vec::with_capacity(self.attributes.len());
        for (i, name) in &self.attributes {
            let value = values::literal_at(column(*i), row).map_err(|e| (name.clone(), e))?;
            attributes.push((name.clone(), value));
        }
        Ok(Member { id, consents: list(self.consents), segments: list(self.segments), tcf, attributes, line: None })
    }
}

/// The members of record batches, for callers that hold members as Arrow (the Python package):
/// [`Member::line`] numbers rows from 1 across the batches, and errors name `source`, that row
/// and the column.
pub fn batch_members(
    batches: &[RecordBatch],
    columns: &MemberColumns,
    source: &str,
) -> Result<Vec<Member>, BuildError> {
    let mut out = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    let mut before = 0u64;
    for batch in batches {
        let schema = batch.schema();
        let err = |row: u64, (column, message): ColumnError| {
            BuildError::new(BuildErrorKind::Members, format!("{source}: {message}")).with_line(row).with_field(column)
        };
        let roles = roles(&schema, columns).map_err(|e| err(before + 1, e))?;
        let cols = BatchColumns::new(&schema, columns, roles.into_iter().map(|(i, role)| (i, i, role)));
        for row in 0..batch.num_rows() {
            let line = before + row as u64 + 1;
            let mut m = cols.member(batch, row, columns.list_delimiter).map_err(|e| err(line, e))?;
            m.line = Some(line);
            out.push(m);
        }
        before += batch.num_rows() as u64;
    }
    Ok(out)
}
