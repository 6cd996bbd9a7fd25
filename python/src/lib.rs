//! `edgeseg` for Python: the steps of a sharded snapshot build ([`edgeseg_snapshots::parts`]) over
//! Arrow record batches, for a Spark job (`examples/spark/build_snapshot.py`) or any pipeline that
//! holds members as Arrow.
//!
//! Everything crosses as Arrow (members in, fingerprints and shard indices out), bytes (shards,
//! heads) or JSON text (counts, layouts, manifests: small, and readable in a job's logs). Errors
//! raise `edgeseg.BuildError` (a `ValueError`) with the builder's message: file, row and column
//! where known. The fingerprint key is its file's text (32 hex digits), never logged.

use arrow_array::{Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow_pyarrow::PyArrowType;
use edgeseg_snapshots::members::{Member, MemberColumns};
use edgeseg_snapshots::parts::{self, Layout, PartCounts, ShardManifest};
use edgeseg_snapshots::shard::{DEFAULT_SHARD_BYTES, ShardOptions};
use edgeseg_snapshots::{BuildOptions, Definitions, ExactForm, keys};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

create_exception!(edgeseg, BuildError, PyValueError, "A build step refused its input.");

fn err(e: impl std::fmt::Display) -> PyErr {
    BuildError::new_err(e.to_string())
}

fn key(text: &str) -> PyResult<edgeseg::fingerprint::FingerprintKey> {
    keys::from_text(text).map_err(err)
}

fn defs(json: &str) -> PyResult<Definitions> {
    Definitions::from_json(json).map_err(err)
}

fn json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> PyResult<T> {
    serde_json::from_str(text).map_err(|e| err(format!("{what}: {e}")))
}

fn to_json(value: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(value).map_err(err)
}

/// Column names: `id`, `consents`, `segments`, `tcf`, and the delimiter of string-typed lists;
/// every other column is an attribute.
fn columns(id: &str, consents: &str, segments: &str, tcf: &str, delimiter: &str) -> PyResult<MemberColumns> {
    let mut chars = delimiter.chars();
    let (Some(list_delimiter), None) = (chars.next(), chars.next()) else {
        return Err(err(format!("delimiter {delimiter:?}: one character")));
    };
    Ok(MemberColumns {
        id: id.to_string(),
        consents: consents.to_string(),
        segments: segments.to_string(),
        tcf: tcf.to_string(),
        list_delimiter,
        attributes: None,
    })
}

/// The members of some record batches, rows numbered from 1 across them.
fn members(batches: &[RecordBatch], cols: &MemberColumns, source: &str) -> PyResult<Vec<Member>> {
    edgeseg_snapshots::members::batch_members(batches, cols, source).map_err(err)
}

/// The ids of a string array, refusing nulls.
fn ids(array: &arrow_array::ArrayRef) -> PyResult<&StringArray> {
    let ids = array
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| err(format!("ids must be a string array, got {}", array.data_type())))?;
    if ids.null_count() > 0 {
        return Err(err("ids must not be null"));
    }
    Ok(ids)
}

/// The keyed fingerprint of every id (uint64) and its shard of 2^`bits` (uint32).
#[pyfunction]
fn shard_of(
    key_text: &str,
    id_array: PyArrowType<arrow_data::ArrayData>,
    bits: u8,
) -> PyResult<(PyArrowType<arrow_data::ArrayData>, PyArrowType<arrow_data::ArrayData>)> {
    let key = key(key_text)?;
    if bits > edgeseg::shard::MAX_SHARD_BITS {
        return Err(err(format!("at most 2^{} shards", edgeseg::shard::MAX_SHARD_BITS)));
    }
    let array = arrow_array::make_array(id_array.0);
    let ids = ids(&array)?;
    let (fps, shards): (Vec<u64>, Vec<u32>) = ids.iter().flatten().map(|id| parts::shard_of(&key, id, bits)).unzip();
    Ok((PyArrowType(UInt64Array::from(fps).into_data()), PyArrowType(UInt32Array::from(shards).into_data())))
}

/// Validates and counts a partition's members; returns the counts as JSON.
#[pyfunction]
#[pyo3(signature = (definitions, key_text, batches, *, id="id", consents="consents", segments="segments", tcf="tcf", delimiter=";", source="batch"))]
#[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
fn count(
    definitions: &str,
    key_text: &str,
    batches: Vec<PyArrowType<RecordBatch>>,
    id: &str,
    consents: &str,
    segments: &str,
    tcf: &str,
    delimiter: &str,
    source: &str,
) -> PyResult<String> {
    let (defs, key) = (defs(definitions)?, key(key_text)?);
    let batches: Vec<RecordBatch> = batches.into_iter().map(|b| b.0).collect();
    let members = members(&batches, &columns(id, consents, segments, tcf, delimiter)?, source)?;
    to_json(&parts::count(&defs, &key, members.into_iter().map(Ok)).map_err(err)?)
}

/// Adds up counts (JSON texts) from every partition.
#[pyfunction]
fn merge_counts(counts: Vec<String>) -> PyResult<String> {
    let mut total = PartCounts::default();
    for c in &counts {
        total.merge(&json::<PartCounts>(c, "counts")?).map_err(err)?;
    }
    to_json(&total)
}

/// The build's layout (JSON) from the merged counts: `shards` (a power of two) or `shard_bytes`.
#[pyfunction]
#[pyo3(signature = (definitions, key_text, counts, *, shards=None, shard_bytes=None, version=None, created_ms=None, exact_form="compact"))]
#[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
fn layout(
    definitions: &str,
    key_text: &str,
    counts: &str,
    shards: Option<u32>,
    shard_bytes: Option<u64>,
    version: Option<u64>,
    created_ms: Option<u64>,
    exact_form: &str,
) -> PyResult<String> {
    let (defs, key) = (defs(definitions)?, key(key_text)?);
    let bits = match shards {
        Some(n) if n.is_power_of_two() => Some(n.trailing_zeros() as u8),
        Some(n) => return Err(err(format!("shards: {n} is not a power of two"))),
        None => None,
    };
    let sharding = ShardOptions { bits, shard_bytes: shard_bytes.unwrap_or(DEFAULT_SHARD_BYTES) };
    let exact_form = match exact_form {
        "compact" => ExactForm::Compact,
        "plain" => ExactForm::Plain,
        other => return Err(err(format!("exact_form {other:?}: compact or plain"))),
    };
    let opts = BuildOptions { version, created_ms, exact_form, fingerprint_key: Some(key), ..BuildOptions::default() };
    let counts = json::<PartCounts>(counts, "counts")?;
    to_json(&parts::layout(&defs, &key, counts, &sharding, &opts).map_err(err)?)
}

/// Builds shard `index` from its members; returns `(shard bytes, manifest JSON)`.
#[pyfunction]
#[pyo3(signature = (definitions, key_text, layout, index, batches, *, id="id", consents="consents", segments="segments", tcf="tcf", delimiter=";", source="batch"))]
#[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
fn build_shard<'py>(
    py: Python<'py>,
    definitions: &str,
    key_text: &str,
    layout: &str,
    index: u32,
    batches: Vec<PyArrowType<RecordBatch>>,
    id: &str,
    consents: &str,
    segments: &str,
    tcf: &str,
    delimiter: &str,
    source: &str,
) -> PyResult<(Bound<'py, PyBytes>, String)> {
    let (defs, key) = (defs(definitions)?, key(key_text)?);
    let layout = json::<Layout>(layout, "layout")?;
    let batches: Vec<RecordBatch> = batches.into_iter().map(|b| b.0).collect();
    let members = members(&batches, &columns(id, consents, segments, tcf, delimiter)?, source)?;
    let (bytes, manifest) =
        py.detach(|| parts::build_shard(&defs, &key, &layout, index, members.into_iter().map(Ok))).map_err(err)?;
    Ok((PyBytes::new(py, &bytes), to_json(&manifest)?))
}

/// The head from every shard's manifest (JSON texts); refuses missing, doubled or lost parts.
#[pyfunction]
fn assemble_head<'py>(
    py: Python<'py>,
    definitions: &str,
    key_text: &str,
    layout: &str,
    manifests: Vec<String>,
) -> PyResult<Bound<'py, PyBytes>> {
    let (defs, key) = (defs(definitions)?, key(key_text)?);
    let layout = json::<Layout>(layout, "layout")?;
    let manifests = manifests.iter().map(|m| json::<ShardManifest>(m, "manifest")).collect::<PyResult<Vec<_>>>()?;
    let head = parts::assemble_head(&defs, &key, &layout, &manifests).map_err(err)?;
    Ok(PyBytes::new(py, &head))
}

/// Checks a shard against its head with the edge's own validation; raises if the edge would
/// refuse it.
#[pyfunction]
fn check_shard(head: &[u8], shard: &[u8]) -> PyResult<()> {
    parts::check_shard(head, shard.to_vec()).map_err(err)
}

/// The file name of shard `index` beside a head named `head_name` (`NAME.head` →
/// `NAME.shard-000a`), as `edgeseg build --shards` names them and the hosts look for them.
#[pyfunction]
fn shard_file_name(head_name: &str, index: u32) -> PyResult<String> {
    let path = edgeseg_snapshots::shard::shard_path(std::path::Path::new(head_name), index);
    path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| err("head name has no file name"))
}

/// The key id of a fingerprint key (16 hex digits), as `edgeseg inspect` prints it.
#[pyfunction]
fn key_id(key_text: &str) -> PyResult<String> {
    Ok(keys::key_id_hex(&key(key_text)?))
}

#[pymodule]
#[pyo3(name = "edgeseg")]
fn edgeseg_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BuildError", m.py().get_type::<BuildError>())?;
    m.add_function(wrap_pyfunction!(shard_of, m)?)?;
    m.add_function(wrap_pyfunction!(count, m)?)?;
    m.add_function(wrap_pyfunction!(merge_counts, m)?)?;
    m.add_function(wrap_pyfunction!(layout, m)?)?;
    m.add_function(wrap_pyfunction!(build_shard, m)?)?;
    m.add_function(wrap_pyfunction!(assemble_head, m)?)?;
    m.add_function(wrap_pyfunction!(check_shard, m)?)?;
    m.add_function(wrap_pyfunction!(shard_file_name, m)?)?;
    m.add_function(wrap_pyfunction!(key_id, m)?)?;
    Ok(())
}
