//! Parquet member input: part-file directories with hive partitions decide exactly as the same
//! members in CSV, and hostile files fail with errors that say where.

use crate::{scratch, seeded};
use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, GzipLevel, ZstdLevel};
use ::parquet::file::properties::WriterProperties;
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field};
use edgeseg::rule::Literal;
use edgeseg_snapshots::members::{self, MemberColumns, MemberSource, locate};
use edgeseg_snapshots::{BuildError, BuildErrorKind, Built, Definitions, build_source_with_progress};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DEFS: &str = r#"{
  "id": "pq", "version": 1,
  "identity": [{"cookie": "uid", "trust": "unverified"}],
  "purposes": ["contract", "personalisation", "marketing"],
  "tiers": ["gold", "free"],
  "segments": [
    {"name": "gold", "tier": "gold", "purpose": "contract", "precedence": 100,
     "members": {"where": {"and": [{">": [{"var": "ltv"}, 100]}, {">=": [{"var": "signup"}, 1700000000000]}]}}},
    {"name": "recent", "purpose": "personalisation", "precedence": 50,
     "members": {"where": {">=": [{"var": "last_seen"}, 1700000500000]}}},
    {"name": "de-vip", "purpose": "marketing", "precedence": 40,
     "members": {"where": {"and": [{"==": [{"var": "country"}, "DE"]}, {"==": [{"var": "vip"}, true]}]}}},
    {"name": "upstream", "purpose": "marketing", "precedence": 30, "members": {"precomputed": true}},
    {"name": "engaged", "purpose": "contract", "precedence": 20,
     "members": {"where": {"and": [{">": [{"var": "engagement"}, 50]}, {"==": [{"var": "plan"}, "pro"]}]}}}
  ]
}"#;

/// One member, as both the Parquet parts and the CSV hold it.
pub struct Row {
    pub id: &'static str,
    pub consents: &'static [&'static str],
    pub segments: &'static [&'static str],
    pub engagement: Option<i64>,
    pub ltv: f64,
    pub vip: Option<bool>,
    pub signup_ms: i64,
    pub last_seen_us: i64,
    pub plan: Option<&'static str>,
}

const P: &str = "personalisation";
const M: &str = "marketing";

#[rustfmt::skip]
pub const ROWS: [Row; 12] = [
    Row { id: "u01", consents: &[P, M], segments: &["upstream"], engagement: Some(80), ltv: 250.5, vip: Some(true), signup_ms: 1_700_000_100_000, last_seen_us: 1_700_000_600_000_999, plan: Some("pro") },
    Row { id: "u02", consents: &[P], segments: &[], engagement: None, ltv: 99.99, vip: Some(false), signup_ms: 1_699_000_000_000, last_seen_us: 1_700_000_400_000_000, plan: None },
    Row { id: "u03", consents: &[], segments: &["upstream"], engagement: Some(51), ltv: 1e3, vip: None, signup_ms: 1_700_000_000_000, last_seen_us: 1_700_000_499_999_999, plan: Some("pro") },
    Row { id: "u04", consents: &[M], segments: &["upstream"], engagement: Some(-3), ltv: 0.0, vip: Some(true), signup_ms: 1_600_000_000_000, last_seen_us: 1_700_000_500_000_000, plan: Some("free") },
    Row { id: "u05", consents: &[P, M], segments: &[], engagement: Some(50), ltv: 100.0, vip: Some(true), signup_ms: 1_710_000_000_000, last_seen_us: -1, plan: Some("pro") },
    Row { id: "u06", consents: &[M], segments: &["upstream"], engagement: Some(90), ltv: 101.25, vip: Some(false), signup_ms: 1_710_000_000_001, last_seen_us: 1_800_000_000_000_000, plan: Some("pro") },
    Row { id: "u07", consents: &[], segments: &[], engagement: None, ltv: 5e2, vip: Some(true), signup_ms: 1_690_000_000_000, last_seen_us: 1_700_000_500_000_001, plan: None },
    Row { id: "u08", consents: &[P], segments: &["upstream"], engagement: Some(70), ltv: 300.0, vip: Some(true), signup_ms: 1_720_000_000_000, last_seen_us: 1_700_000_700_000_000, plan: Some("pro") },
    Row { id: "u09", consents: &[M], segments: &[], engagement: Some(10), ltv: 12.5, vip: Some(true), signup_ms: 1_700_000_000_000, last_seen_us: 1_600_000_000_000_000, plan: Some("free") },
    Row { id: "u10", consents: &[P, M], segments: &["upstream"], engagement: Some(99), ltv: 150.0, vip: None, signup_ms: 1_699_999_999_999, last_seen_us: 1_700_000_900_000_000, plan: Some("pro") },
    Row { id: "u11", consents: &[M], segments: &["upstream"], engagement: Some(60), ltv: 200.0, vip: Some(true), signup_ms: 1_730_000_000_000, last_seen_us: 1_700_000_000_000_000, plan: Some("pro") },
    Row { id: "u12", consents: &[P], segments: &[], engagement: None, ltv: 1.0, vip: Some(false), signup_ms: 1_700_000_000_000, last_seen_us: 1_700_000_800_000_000, plan: None },
];

/// The parts: partition directory, file name, rows, consents/segments as delimited strings,
/// `plan` dictionary-encoded, codec, rows per row group.
#[allow(clippy::type_complexity, reason = "a test table")]
const PARTS: [(&str, &str, std::ops::Range<usize>, bool, &str, usize); 4] = [
    ("country=DE", "part-00000-c000.snappy.parquet", 0..4, false, "snappy", 1024),
    ("country=DE", "part-00001-c000.zstd.parquet", 4..7, true, "zstd", 1024),
    ("country=FR", "part-00000-c000.gz.parquet", 7..10, false, "gzip", 2),
    ("country=__HIVE_DEFAULT_PARTITION__", "part-00000.parquet", 10..12, false, "none", 1024),
];

const COUNTRIES: [&str; 4] = ["DE", "DE", "FR", ""];

pub fn write_parquet(path: &Path, batch: &RecordBatch, compression: Compression, group_rows: usize) {
    let props =
        WriterProperties::builder().set_compression(compression).set_max_row_group_row_count(Some(group_rows)).build();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn list(rows: &[Row], f: impl Fn(&Row) -> &'static [&'static str]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for s in f(r) {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

pub fn batch(rows: &[Row], delimited: bool) -> RecordBatch {
    let (consents, segments): (ArrayRef, ArrayRef) = if delimited {
        let joined = |f: fn(&Row) -> &'static [&'static str]| {
            Arc::new(StringArray::from(rows.iter().map(|r| f(r).join(" ; ")).collect::<Vec<_>>())) as ArrayRef
        };
        (joined(|r| r.consents), joined(|r| r.segments))
    } else {
        (list(rows, |r| r.consents), list(rows, |r| r.segments))
    };
    let plan: ArrayRef = if delimited {
        Arc::new(rows.iter().map(|r| r.plan).collect::<DictionaryArray<Int32Type>>())
    } else {
        Arc::new(StringArray::from(rows.iter().map(|r| r.plan).collect::<Vec<_>>()))
    };
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(StringArray::from(rows.iter().map(|r| r.id).collect::<Vec<_>>())) as ArrayRef),
        ("consents", consents),
        ("segments", segments),
        ("engagement", Arc::new(Int64Array::from(rows.iter().map(|r| r.engagement).collect::<Vec<_>>()))),
        ("ltv", Arc::new(Float64Array::from(rows.iter().map(|r| r.ltv).collect::<Vec<_>>()))),
        ("vip", Arc::new(BooleanArray::from(rows.iter().map(|r| r.vip).collect::<Vec<_>>()))),
        (
            "signup",
            Arc::new(
                TimestampMillisecondArray::from(rows.iter().map(|r| r.signup_ms).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
        ),
        (
            "last_seen",
            Arc::new(
                TimestampMicrosecondArray::from(rows.iter().map(|r| r.last_seen_us).collect::<Vec<_>>())
                    .with_timezone("+01:00"),
            ),
        ),
        ("plan", plan),
    ])
    .unwrap()
}

/// The dataset as Spark would leave it: four parts under hive partitions, plus marker files.
pub fn write_dataset(dir: &Path) -> PathBuf {
    let root = dir.join("members.parquet.d");
    for (partition, name, rows, delimited, codec, groups) in PARTS {
        std::fs::create_dir_all(root.join(partition)).unwrap();
        let codec = match codec {
            "snappy" => Compression::SNAPPY,
            "zstd" => Compression::ZSTD(ZstdLevel::default()),
            "gzip" => Compression::GZIP(GzipLevel::default()),
            _ => Compression::UNCOMPRESSED,
        };
        write_parquet(&root.join(partition).join(name), &batch(&ROWS[rows], delimited), codec, groups);
    }
    std::fs::write(root.join("_SUCCESS"), "").unwrap();
    std::fs::write(root.join("_committed_1234"), "{}").unwrap();
    std::fs::write(root.join("country=DE").join(".part-00000-c000.snappy.parquet.crc"), "crc").unwrap();
    std::fs::create_dir_all(root.join("_temporary/0")).unwrap();
    std::fs::write(root.join("_temporary/0/junk"), "half-written").unwrap();
    root
}

/// The same members as CSV, in the same order.
pub fn csv_text() -> String {
    let mut out = String::from("id,consents,segments,engagement,ltv,vip,signup,last_seen,plan,country\n");
    for (p, (_, _, rows, ..)) in PARTS.iter().enumerate() {
        for r in &ROWS[rows.clone()] {
            let opt = |v: Option<String>| v.unwrap_or_default();
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                r.id,
                r.consents.join(";"),
                r.segments.join(";"),
                opt(r.engagement.map(|e| e.to_string())),
                r.ltv,
                opt(r.vip.map(|v| v.to_string())),
                r.signup_ms,
                r.last_seen_us.div_euclid(1000),
                r.plan.unwrap_or(""),
                COUNTRIES[p],
            ));
        }
    }
    out
}

/// A struct column of `n` rows: never a member field.
fn a_struct(n: i64) -> ArrayRef {
    let field = Arc::new(Field::new("a", DataType::Int64, false));
    Arc::new(StructArray::from(vec![(field, Arc::new(Int64Array::from((0..n).collect::<Vec<_>>())) as ArrayRef)]))
}

pub fn build(source: &MemberSource) -> Result<Built, BuildError> {
    build_source_with_progress(&Definitions::from_json(DEFS).unwrap(), source, &seeded(7), &mut |_| {})
}

#[test]
fn a_hive_partitioned_part_directory_builds_the_same_bytes_as_the_csv() {
    let dir = scratch("parquet-vs-csv");
    let root = write_dataset(&dir);
    let csv = dir.join("members.csv");
    std::fs::write(&csv, csv_text()).unwrap();
    let from_parquet = build(&MemberSource::new(&root)).unwrap();
    let from_csv = build(&MemberSource::new(&csv)).unwrap();
    assert_eq!(from_parquet.summary.members_read, 12);
    let counts = |b: &Built| b.summary.segments.iter().map(|s| (s.name.clone(), s.members)).collect::<Vec<_>>();
    assert_eq!(counts(&from_parquet), counts(&from_csv));
    // Worked out from ROWS: timestamps compared in milliseconds, consent applied, DE only.
    let expect = [("gold", 5), ("recent", 4), ("de-vip", 3), ("upstream", 5), ("engaged", 6)];
    for (name, n) in expect {
        let s = from_parquet.summary.segments.iter().find(|s| s.name == name).unwrap();
        assert_eq!(s.members, n, "{name}");
    }
    assert!(from_parquet.bytes == from_csv.bytes, "same seed, same members, same order: same bytes");
}

#[test]
fn rows_are_numbered_across_parts_and_located_back() {
    let dir = scratch("parquet-rows");
    let root = write_dataset(&dir);
    let all: Vec<_> = members::open(&root).unwrap().map(Result::unwrap).collect();
    assert_eq!(all.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(), ROWS.iter().map(|r| r.id).collect::<Vec<_>>());
    assert_eq!(all.iter().map(|m| m.line.unwrap()).collect::<Vec<_>>(), (1..=12).collect::<Vec<u64>>());
    let m = &all[9];
    assert_eq!(m.attribute("country"), Some(&Literal::String("FR".into())));
    assert_eq!(m.attribute("last_seen"), Some(&Literal::Number(1_700_000_900_000.0)));
    assert_eq!(m.attribute("signup"), Some(&Literal::Number(1_699_999_999_999.0)));
    assert_eq!(all[10].attribute("country"), Some(&Literal::Null), "__HIVE_DEFAULT_PARTITION__");
    assert_eq!(all[1].attribute("engagement"), Some(&Literal::Null));
    assert_eq!(all[4].consents, [P, M], "delimited string, trimmed");
    assert_eq!(all[5].attribute("plan"), Some(&Literal::String("pro".into())), "dictionary-encoded");
    assert_eq!(all[6].attribute("plan"), Some(&Literal::Null));
    let (file, row) = locate(&root, 9).unwrap();
    assert_eq!((file, row), (root.join("country=FR/part-00000-c000.gz.parquet"), 2));
    assert_eq!(locate(&root, 4).unwrap().1, 4);
    assert!(locate(&root, 13).is_err());
}

#[test]
fn later_errors_in_a_directory_name_the_part_file_and_its_row() {
    let dir = scratch("parquet-relocate");
    let root = write_dataset(&dir);
    // u09 again in the last part: a duplicate found only after every member was read.
    let mut dup = batch(&ROWS[10..12], false);
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["u11", "u09"]));
    dup = RecordBatch::try_new(dup.schema(), std::iter::once(ids).chain(dup.columns()[1..].iter().cloned()).collect())
        .unwrap();
    write_parquet(&root.join("country=__HIVE_DEFAULT_PARTITION__/part-00000.parquet"), &dup, Compression::SNAPPY, 10);
    let e = build(&MemberSource::new(&root)).unwrap_err();
    assert_eq!(e.kind(), BuildErrorKind::Members);
    assert_eq!(e.file(), Some(root.join("country=__HIVE_DEFAULT_PARTITION__/part-00000.parquet").as_path()), "{e}");
    assert_eq!((e.line(), e.field()), (Some(2), Some("id")), "{e}");
    assert!(e.message().contains("also at line 9") && e.message().contains("row 12 of"), "{e}");

    // An unknown purpose, found by the build (not the reader), in the second part.
    let mut rows = batch(&ROWS[4..7], true);
    let consents: ArrayRef = Arc::new(StringArray::from(vec!["marketing", "ads", ""]));
    let mut cols = rows.columns().to_vec();
    cols[1] = consents;
    rows = RecordBatch::try_new(rows.schema(), cols).unwrap();
    write_parquet(&root.join("country=DE/part-00001-c000.zstd.parquet"), &rows, Compression::SNAPPY, 10);
    let e = build(&MemberSource::new(&root)).unwrap_err();
    assert_eq!(e.file(), Some(root.join("country=DE/part-00001-c000.zstd.parquet").as_path()), "{e}");
    assert_eq!((e.line(), e.field()), (Some(2), Some("consents")), "{e}");
}

#[test]
fn integer_ids_and_other_column_names() {
    let dir = scratch("parquet-columns");
    let batch = RecordBatch::try_from_iter(vec![
        ("user_id", Arc::new(Int64Array::from(vec![1001, 1002, 1003])) as ArrayRef),
        ("purposes", Arc::new(StringArray::from(vec!["personalisation|marketing", "", "marketing"]))),
        ("ltv", Arc::new(Float64Array::from(vec![500.0, 1.0, 200.0]))),
        ("signup", Arc::new(Int64Array::from(vec![1_700_000_000_001, 1, 1_700_000_000_000]))),
        ("ignored", a_struct(3)),
    ])
    .unwrap();
    let file = dir.join("m.parquet");
    write_parquet(&file, &batch, Compression::SNAPPY, 2);
    let columns = MemberColumns {
        id: "user_id".into(),
        consents: "purposes".into(),
        list_delimiter: '|',
        attributes: Some(vec!["ltv".into(), "signup".into()]),
        ..MemberColumns::default()
    };
    let source = MemberSource { path: file, format: None, columns };
    let csv = dir.join("m.csv");
    std::fs::write(&csv, "id,consents,ltv,signup\n1001,personalisation;marketing,500,1700000000001\n1002,,1,1\n1003,marketing,200,1700000000000\n").unwrap();
    let (a, b) = (build(&source).unwrap(), build(&MemberSource::new(&csv)).unwrap());
    assert_eq!(a.summary.segments[0].members, 2, "gold: 1001 and 1003");
    assert!(a.bytes == b.bytes);
}

/// Hostile input: the error's display for `source`.
pub fn refused(source: &Path) -> BuildError {
    let e = build(&MemberSource::new(source)).unwrap_err();
    assert!(e.to_string().contains(&source.display().to_string()) || e.file().is_some(), "{e}");
    e
}

#[test]
fn hostile_parquet_is_refused_with_where() {
    let dir = scratch("parquet-hostile");
    let one = |name: &str, batch: RecordBatch, groups: usize| {
        let p = dir.join(name);
        write_parquet(&p, &batch, Compression::SNAPPY, groups);
        p
    };
    let good = batch(&ROWS[..4], false);
    let with = |name: &str, col: ArrayRef| {
        let mut fields: Vec<(String, ArrayRef)> =
            good.schema().fields().iter().zip(good.columns()).map(|(f, c)| (f.name().clone(), c.clone())).collect();
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = col,
            None => fields.push((name.to_string(), col)),
        }
        RecordBatch::try_from_iter(fields).unwrap()
    };

    let float_id = one("float-id.parquet", with("id", Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0]))), 10);
    let e = refused(&float_id);
    assert_eq!((e.file(), e.field()), (Some(float_id.as_path()), Some("id")), "{e}");
    assert!(e.message().contains("Float64") && e.message().contains("string or an integer"), "{e}");

    let struct_id = one("struct-id.parquet", with("id", a_struct(4)), 10);
    assert!(refused(&struct_id).message().contains("Struct"));

    let null_id =
        one("null-id.parquet", with("id", Arc::new(StringArray::from(vec![Some("a"), Some("b"), None, Some("d")]))), 2);
    let e = refused(&null_id);
    assert_eq!((e.file(), e.line(), e.field()), (Some(null_id.as_path()), Some(3), Some("id")), "{e}");
    assert!(e.message().contains("null id") && e.message().contains("row group 2 of 2"), "{e}");
    assert!(e.to_string().starts_with(&format!("{}:3: field `id`: null id", null_id.display())), "{e}");

    let no_id = one("no-id.parquet", RecordBatch::try_from_iter(vec![("x", good.column(0).clone())]).unwrap(), 10);
    assert!(refused(&no_id).message().contains("no id column `id` (columns: x)"));

    let mut tags = ListBuilder::new(arrow_array::builder::Int64Builder::new());
    for _ in 0..4 {
        tags.values().append_value(1);
        tags.append(true);
    }
    let nested = one("nested.parquet", with("tags", Arc::new(tags.finish())), 10);
    let e = refused(&nested);
    assert_eq!(e.field(), Some("tags"), "{e}");
    assert!(e.message().contains("List") && e.message().contains("cannot be an attribute"), "{e}");

    let huge = one("huge.parquet", with("engagement", Arc::new(Int64Array::from(vec![1, 2, 3, 1 << 60]))), 10);
    let e = refused(&huge);
    assert_eq!((e.line(), e.field()), (Some(4), Some("engagement")), "{e}");
    assert!(e.message().contains("2^53"), "{e}");

    let nan = one("nan.parquet", with("ltv", Arc::new(Float64Array::from(vec![1.0, f64::NAN, 3.0, 4.0]))), 10);
    assert_eq!(refused(&nan).line(), Some(2));

    let bad_list = one("bad-list.parquet", with("consents", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))), 10);
    assert_eq!(refused(&bad_list).field(), Some("consents"));

    let bytes = std::fs::read(&float_id).unwrap();
    let truncated = dir.join("truncated.parquet");
    std::fs::write(&truncated, &bytes[..bytes.len() - 20]).unwrap();
    let e = refused(&truncated);
    assert_eq!((e.kind(), e.file()), (BuildErrorKind::Members, Some(truncated.as_path())), "{e}");
    assert!(e.message().contains("not a readable Parquet file"), "{e}");
    // Cut in the data pages, footer rebuilt away: the reader must still fail cleanly.
    let mut mangled = std::fs::read(one("mangled.parquet", good.clone(), 10)).unwrap();
    for b in &mut mangled[8..120] {
        *b = !*b;
    }
    let mangled_path = dir.join("mangled.parquet");
    std::fs::write(&mangled_path, &mangled).unwrap();
    assert_eq!(refused(&mangled_path).file(), Some(mangled_path.as_path()));

    let text = dir.join("text.parquet");
    std::fs::write(&text, "id,consents\nu1,\n").unwrap();
    assert!(refused(&text).message().contains("not a readable Parquet file"));

    let empty = dir.join("empty-dir");
    std::fs::create_dir_all(empty.join("_temporary")).unwrap();
    std::fs::write(empty.join("_SUCCESS"), "").unwrap();
    let e = refused(&empty);
    assert_eq!(e.file(), Some(empty.as_path()));
    assert!(e.message().contains("no Parquet part files"), "{e}");

    let odd = dir.join("odd-dir");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::copy(dir.join("huge.parquet"), odd.join("part-0.parquet")).unwrap();
    std::fs::write(odd.join("notes.txt"), "").unwrap();
    assert!(refused(&odd).message().contains("unexpected file"));
}
