//! `.gz` and `.zst` member files read as the plain file does: the same bytes for the same seed.

use crate::parquet::{DEFS, build, csv_text};
use crate::scratch;
use edgeseg::rule::Literal;
use edgeseg_snapshots::members::{MemberFormat, MemberSource};
use std::io::Write;
use std::path::Path;

fn gzip(text: &str) -> Vec<u8> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap()
}

fn zstd(text: &str) -> Vec<u8> {
    zstd::stream::encode_all(text.as_bytes(), 3).unwrap()
}

/// The CSV members as JSONL.
fn jsonl_text() -> String {
    let text = csv_text();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let mut out = String::new();
    for r in rows.records() {
        let r = r.unwrap();
        let list = |i: usize| r[i].split(';').filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>();
        let mut attributes = serde_json::Map::new();
        for (i, name) in headers.iter().enumerate().skip(3) {
            let value = match edgeseg_snapshots::members::csv_value(&r[i]) {
                Literal::Null => serde_json::Value::Null,
                Literal::Bool(b) => b.into(),
                Literal::Number(n) => n.into(),
                Literal::String(s) => s.into(),
                other => panic!("{other:?}"),
            };
            attributes.insert(name.into(), value);
        }
        let m = serde_json::json!({"id": &r[0], "consents": list(1), "segments": list(2), "attributes": attributes});
        out.push_str(&format!("{m}\n"));
    }
    out
}

fn bytes_of(path: &Path) -> Vec<u8> {
    build(&MemberSource::new(path)).unwrap().bytes
}

#[test]
fn gz_and_zst_members_build_the_same_bytes_as_plain_files() {
    let dir = scratch("compressed");
    assert!(DEFS.contains("precomputed"));
    for (name, text) in [("members.csv", csv_text()), ("members.jsonl", jsonl_text())] {
        let plain = dir.join(name);
        std::fs::write(&plain, &text).unwrap();
        let expected = bytes_of(&plain);
        let gz = dir.join(format!("{name}.gz"));
        std::fs::write(&gz, gzip(&text)).unwrap();
        let zst = dir.join(format!("{name}.ZST"));
        std::fs::write(&zst, zstd(&text)).unwrap();
        assert!(bytes_of(&gz) == expected, "{name}.gz");
        assert!(bytes_of(&zst) == expected, "{name}.zst");
        // An explicit format overrides the name; the compression still comes from it.
        let odd = dir.join(format!("{name}.data.gz"));
        std::fs::write(&odd, gzip(&text)).unwrap();
        let format = MemberFormat::parse(name.rsplit_once('.').unwrap().1);
        let source = MemberSource { format, ..MemberSource::new(&odd) };
        assert!(build(&source).unwrap().bytes == expected, "{name} with --members-format");
    }
    assert_eq!(bytes_of(&dir.join("members.csv")), bytes_of(&dir.join("members.jsonl")), "CSV and JSONL agree");
}

#[test]
fn a_corrupt_gzip_is_an_error_naming_the_file() {
    let dir = scratch("compressed-corrupt");
    let mut bytes = gzip(&csv_text());
    let n = bytes.len();
    bytes.truncate(n / 2);
    let gz = dir.join("members.csv.gz");
    std::fs::write(&gz, bytes).unwrap();
    let e = build(&MemberSource::new(&gz)).unwrap_err();
    assert_eq!(e.file(), Some(gz.as_path()), "{e}");
    let zst = dir.join("members.jsonl.zst");
    std::fs::write(&zst, b"not zstd at all").unwrap();
    let e = build(&MemberSource::new(&zst)).unwrap_err();
    assert_eq!(e.file(), Some(zst.as_path()), "{e}");
}

#[test]
fn stdin_needs_a_format_and_parquet_cannot_come_from_stdin() {
    let e = MemberSource::new("-").open().unwrap_err();
    assert!(e.message().contains("needs a format"), "{e}");
    assert_eq!(e.file(), Some(Path::new("<stdin>")));
    let parquet = MemberSource { format: Some(MemberFormat::Parquet), ..MemberSource::new("-") };
    assert!(parquet.open().unwrap_err().message().contains("cannot be read from stdin"));
}
