//! Member readers: types, line numbers, and errors that say where.

use crate::{scratch, seeded};
use edgeseg::rule::Literal;
use edgeseg_snapshots::members::{self, CsvMembers, JsonlMembers, Member};
use edgeseg_snapshots::{BuildError, BuildErrorKind, build_files, sample};

fn csv(text: &str) -> Vec<Result<Member, BuildError>> {
    CsvMembers::new(text.as_bytes(), None).collect()
}

fn jsonl(text: &str) -> Vec<Result<Member, BuildError>> {
    JsonlMembers::new(text.as_bytes(), None).collect()
}

#[test]
fn csv_reads_ids_consents_and_typed_attributes() {
    let got = csv(
        "id,plan,consents,score,vip,note\nu1,premium,personalisation; marketing,42.5,true,\nu2,free,,7,false,hi there\n",
    );
    let m: Vec<Member> = got.into_iter().map(Result::unwrap).collect();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].id, "u1");
    assert_eq!(m[0].consents, ["personalisation", "marketing"]);
    assert_eq!(m[0].line, Some(2));
    assert_eq!(m[0].attribute("plan"), Some(&Literal::String("premium".into())));
    assert_eq!(m[0].attribute("score"), Some(&Literal::Number(42.5)));
    assert_eq!(m[0].attribute("vip"), Some(&Literal::Bool(true)));
    assert_eq!(m[0].attribute("note"), Some(&Literal::Null));
    assert_eq!(m[0].attribute("consents"), None, "consents is not an attribute");
    assert!(m[1].consents.is_empty());
    assert_eq!(m[1].attribute("note"), Some(&Literal::String("hi there".into())));
    assert_eq!(m[1].line, Some(3));
    // No consents column at all is fine.
    let m = csv("id\nu1\n");
    assert!(m[0].as_ref().unwrap().consents.is_empty());
}

#[test]
fn csv_errors_carry_line_numbers() {
    let e = csv("plan\npremium\n").remove(0).unwrap_err();
    assert_eq!((e.kind(), e.line()), (BuildErrorKind::Members, Some(1)));
    assert!(e.message().contains("no `id` column"), "{e}");

    let e = csv("").remove(0).unwrap_err();
    assert!(e.message().contains("empty file"), "{e}");

    let e = csv("id,plan,plan\nu1,a,b\n").remove(0).unwrap_err();
    assert!(e.message().contains("duplicate column"), "{e}");

    let rows = csv("id,plan\nu1,a\nu2,b\n,c\nu4,d\n");
    assert_eq!(rows.len(), 3, "the reader stops at the first error");
    let e = rows[2].clone().unwrap_err();
    assert_eq!((e.line(), e.field()), (Some(4), Some("id")));

    let rows = csv("id,plan\nu1,a\nu2,b,extra\n");
    let e = rows[1].clone().unwrap_err();
    assert_eq!((e.kind(), e.line()), (BuildErrorKind::Members, Some(3)), "{e}");
}

#[test]
fn jsonl_reads_members_and_skips_blank_lines() {
    let text = concat!(
        "{\"id\": \"u1\", \"consents\": [\"personalisation\"], \"attributes\": {\"plan\": \"premium\", \"engagement\": 42}}\n",
        "\n",
        "   \n",
        "{\"id\": \"u2\"}\r\n",
    );
    let m: Vec<Member> = jsonl(text).into_iter().map(Result::unwrap).collect();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].attribute("engagement"), Some(&Literal::Number(42.0)));
    assert_eq!(m[0].consents, ["personalisation"]);
    assert_eq!((m[0].line, m[1].line), (Some(1), Some(4)));
    assert!(m[1].attributes.is_empty());
}

#[test]
fn jsonl_errors_carry_line_numbers_and_fields() {
    let rows = jsonl("{\"id\": \"u1\"}\n\n{\"id\": \"u2\", \"attributes\": {\"tags\": [1]}}\n{\"id\": \"u3\"}\n");
    assert_eq!(rows.len(), 2);
    let e = rows[1].clone().unwrap_err();
    assert_eq!((e.kind(), e.line(), e.field()), (BuildErrorKind::Members, Some(3), Some("attributes.tags")));

    let e = jsonl("{\"id\": \"u1\"}\n{\"id\": \"u2\",\n").remove(1).unwrap_err();
    assert_eq!(e.line(), Some(2));
    let e = jsonl("{\"id\": \"u1\", \"plan\": \"x\"}\n").remove(0).unwrap_err();
    assert!(e.message().contains("unknown field `plan`"), "{e}");
    assert!(!e.message().contains(" at line "), "{e}");
    let e = jsonl("{\"id\": \"\"}\n").remove(0).unwrap_err();
    assert_eq!(e.field(), Some("id"));
}

#[test]
fn open_chooses_by_extension_and_names_the_file() {
    let dir = scratch("members-open");
    let txt = dir.join("members.txt");
    std::fs::write(&txt, "id\nu1\n").unwrap();
    let e = members::open(&txt).unwrap_err();
    assert_eq!(e.file(), Some(txt.as_path()));
    assert!(e.to_string().contains(".csv or .jsonl"), "{e}");
    let missing = dir.join("missing.csv");
    assert_eq!(members::open(&missing).unwrap_err().kind(), BuildErrorKind::Io);

    let upper = dir.join("MEMBERS.JSONL");
    std::fs::write(&upper, "{\"id\": \"u1\"}\n").unwrap();
    assert_eq!(members::open(&upper).unwrap().count(), 1);
}

#[test]
fn build_errors_name_member_file_line_and_field() {
    let dir = scratch("members-build-errors");
    let defs = dir.join("demo.json");
    std::fs::write(&defs, sample::DEMO_DEFINITIONS).unwrap();

    let path = dir.join("members.csv");
    std::fs::write(&path, "id,plan,consents\nu1,free,marketing\nu2,free,marketing;ads\n").unwrap();
    let e = build_files(&defs, &path, &seeded(1)).unwrap_err();
    assert_eq!(e.kind(), BuildErrorKind::Members);
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("{}:3: field `consents`: unknown purpose \"ads\"", path.display())), "{shown}");

    std::fs::write(&path, "id,plan\nu1,free\nu2,free\nu1,premium\n").unwrap();
    let e = build_files(&defs, &path, &seeded(1)).unwrap_err();
    assert_eq!((e.line(), e.field()), (Some(4), Some("id")));
    assert!(e.message().contains("duplicate id (also at line 2)"), "{e}");
    assert_eq!(e.file(), Some(path.as_path()));

    // The duplicate's two records differ (different plans, so different segments): still found,
    // from fingerprints alone, and its lines found again in the file.
    std::fs::write(&path, "id,plan,consents\nu1,free,marketing\nu2,free,\nu3,premium,\nu2,premium,marketing\n")
        .unwrap();
    let e = build_files(&defs, &path, &seeded(1)).unwrap_err();
    assert_eq!((e.line(), e.field()), (Some(5), Some("id")));
    assert!(e.message().contains("duplicate id (also at line 3)"), "{e}");

    // Members from an iterator (no file to read again): refused all the same, records unnamed.
    let member = |id: &str| {
        Ok(Member { id: id.into(), consents: vec![], segments: vec![], tcf: None, attributes: vec![], line: None })
    };
    let defs_parsed = edgeseg_snapshots::Definitions::from_json(sample::DEMO_DEFINITIONS).unwrap();
    let e = edgeseg_snapshots::build(&defs_parsed, [member("a"), member("b"), member("a")], &seeded(1)).unwrap_err();
    assert_eq!((e.kind(), e.field(), e.line()), (BuildErrorKind::Members, Some("id"), None));
    assert!(e.message().starts_with("duplicate id: two members have fingerprint"), "{e}");
    assert!(edgeseg_snapshots::build(&defs_parsed, [member("a"), member("b")], &seeded(1)).is_ok());

    // The edge trims the ids it reads, so a padded id could never match: refused.
    let path = dir.join("members.jsonl");
    std::fs::write(&path, "{\"id\": \"u1\"}\n{\"id\": \" u2\"}\n").unwrap();
    let e = build_files(&defs, &path, &seeded(1)).unwrap_err();
    assert_eq!((e.line(), e.field()), (Some(2), Some("id")));
    assert!(e.message().contains("whitespace"), "{e}");
}
