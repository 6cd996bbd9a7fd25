//! Issue 19's builder holes: inputs from other programs (byte-order marks, hostile ids, rule
//! bombs, `expires_in_s: 0`) and snapshots from anywhere (`inspect` of a hostile id). Each test
//! reproduces the finding and checks it now fails closed.

use crate::{build_jsonl, scratch, seeded};
use edgeseg::Engine;
use edgeseg::snapshot::{Limits, PayloadExt, SnapshotPayload};
use edgeseg_snapshots::text::case_collisions;
use edgeseg_snapshots::{BuildErrorKind, Definitions, build_files, inspect, members, revoke};

const DEFS: &str = r#"{"id": "u", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract"],
    "tiers": ["gold", "basic"], "segments": [
    {"name": "gold", "tier": "gold", "purpose": "contract", "members": {"where": {"==": [{"var": "plan"}, "gold"]}}}]}"#;

const BOM: &str = "\u{feff}";

#[test]
fn issue19_a_byte_order_mark_is_accepted_in_jsonl_members_definitions_and_revocations() {
    let dir = scratch("bom");
    let defs = dir.join("defs.json");
    std::fs::write(&defs, format!("{BOM}{DEFS}")).unwrap();
    let jsonl = dir.join("members.jsonl");
    let body = "{\"id\": \"u1\", \"attributes\": {\"plan\": \"gold\"}}\n{\"id\": \"u2\"}\n";
    std::fs::write(&jsonl, format!("{BOM}{body}")).unwrap();
    let csv = dir.join("members.csv");
    std::fs::write(&csv, format!("{BOM}id,plan\nu1,gold\nu2,\n")).unwrap();

    let from_jsonl = build_files(&defs, &jsonl, &seeded(1)).unwrap();
    let from_csv = build_files(&defs, &csv, &seeded(1)).unwrap();
    assert_eq!(from_jsonl.bytes, from_csv.bytes, "the mark is not part of the first id");
    assert_eq!(from_jsonl.summary.segments[0].members, 1);
    let mut engine = Engine::load(&from_jsonl.bytes).unwrap();
    let (tier, _) = crate::decide(&mut engine, &crate::request("/", None, vec![("cookie", "uid=u1")]));
    assert_eq!(tier, "gold");

    // Definitions from text, and a flagd file, likewise.
    Definitions::from_json(&format!("{BOM}{DEFS}")).unwrap();
    let flags = r#"{"flags": {}, "$evaluators": {"gold": {"==": [{"var": "email"}, "a@example.com"]}}}"#;
    edgeseg_snapshots::flagd::import_evaluators(&format!("{BOM}{flags}"), "contract").unwrap();

    // A revocation list: the first id must be the member's, not "\u{feff}u1".
    let with = revoke::revocation_delta(&from_jsonl.bytes, format!("{BOM}u1\n").as_bytes(), 1, 0).unwrap();
    let without = revoke::revocation_delta(&from_jsonl.bytes, "u1\n".as_bytes(), 1, 0).unwrap();
    assert_eq!(with.entries, without.entries);
}

#[test]
fn issue19_an_opt_out_written_in_another_normalisation_still_revokes_the_member() {
    // The member file is NFC (the builder's default); the opt-out list came from a system that
    // writes NFD. The delta must revoke the member all the same.
    let defs = r#"{"id": "r", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract", "marketing"],
        "tiers": ["all"], "segments": [{"name": "mkt", "purpose": "marketing", "members": {"all": true}}]}"#;
    let built = build_jsonl(defs, "{\"id\": \"zoë\", \"consents\": [\"marketing\"]}\n", &seeded(1)).unwrap();
    let delta = revoke::revocation_delta(&built.bytes, "zoe\u{308}\n".as_bytes(), 1, 0).unwrap();
    let mut engine = Engine::load(&built.bytes).unwrap();
    let cookie = [("cookie", "uid=zoë")];
    assert_eq!(crate::decide(&mut engine, &crate::request("/", None, cookie.to_vec())).1, ["mkt"]);
    engine.apply_delta(&delta.encode().unwrap()).unwrap();
    assert!(crate::decide(&mut engine, &crate::request("/", None, cookie.to_vec())).1.is_empty());
    assert_eq!(delta.entries.len(), 2, "the id as written and its NFC spelling");
}

#[test]
fn issue19_expires_in_s_zero_is_refused_by_field() {
    let text = DEFS.replace(r#""id": "u","#, r#""id": "u", "expires_in_s": 0,"#);
    let e = Definitions::from_json(&text).unwrap_err();
    assert_eq!((e.kind(), e.field()), (BuildErrorKind::Definitions, Some("expires_in_s")), "{e}");
    assert!(e.message().contains("expired"), "{e}");
    Definitions::from_json(&DEFS.replace(r#""id": "u","#, r#""id": "u", "expires_in_s": 1,"#)).unwrap();
}

#[test]
fn issue19_a_profile_rule_out_of_budget_is_a_build_error_naming_segment_and_rule_path() {
    // Building a 70,000-byte string costs more than the edge's 65,536 work units: the rule bomb
    // used to select nobody and build a snapshot with an empty segment, rc 0.
    let defs = r#"{"id": "bomb", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract"], "tiers": ["all"],
        "segments": [
        {"name": "fine", "purpose": "contract", "members": {"all": true}},
        {"name": "bomb", "purpose": "contract",
         "members": {"where": {"==": [{"cat": [{"var": "note"}, "!"]}, "x"]}}}]}"#;
    let short = "{\"id\": \"u1\", \"attributes\": {\"note\": \"hello\"}}\n";
    let built = build_jsonl(defs, short, &seeded(1)).unwrap();
    assert_eq!(built.summary.segments.iter().map(|s| s.members).sum::<u64>(), 1);

    let long = format!("{short}{{\"id\": \"u2\", \"attributes\": {{\"note\": \"{}\"}}}}\n", "a".repeat(70_000));
    let e = build_jsonl(defs, &long, &seeded(1)).unwrap_err();
    assert_eq!((e.kind(), e.field()), (BuildErrorKind::Limit, Some("segments[1].members.where")), "{e}");
    assert!(e.message().contains("segment \"bomb\"") && e.message().contains("budget"), "{e}");
    assert!(e.message().contains("line 2"), "names the member's line: {e}");
}

fn member_error(id: &str) -> edgeseg_snapshots::BuildError {
    let line = serde_json::json!({"id": id}).to_string();
    build_jsonl(DEFS, &format!("{{\"id\": \"ok\"}}\n{line}\n"), &seeded(1)).unwrap_err()
}

#[test]
fn issue19_ids_with_control_or_invisible_characters_are_refused_naming_the_line() {
    for id in ["u\u{0}1", "u\u{1b}[2J", "u\u{7f}", "u\u{9b}1", "u\u{200b}1", "u\u{200c}", "u\u{200d}1", "\u{2060}u1"] {
        let e = member_error(id);
        assert_eq!((e.kind(), e.line(), e.field()), (BuildErrorKind::Members, Some(2), Some("id")), "{id:?}: {e}");
        assert!(e.message().contains("U+"), "{e}");
        assert!(!e.message().contains(id), "the raw id is not echoed: {e}");
    }
    for id in ["u\u{feff}1", "u\u{202e}1", "u\u{2066}1", "u\u{200e}1"] {
        assert_eq!(member_error(id).field(), Some("id"), "{id:?}");
    }
    // Through a file, the error names it.
    let dir = scratch("hidden-ids");
    let defs = dir.join("defs.json");
    std::fs::write(&defs, DEFS).unwrap();
    let csv = dir.join("members.csv");
    std::fs::write(&csv, "id\nu1\n\"u\u{1b}2\"\n").unwrap();
    let e = build_files(&defs, &csv, &seeded(1)).unwrap_err();
    assert!(e.to_string().starts_with(&format!("{}:3: field `id`:", csv.display())), "{e}");
}

#[test]
fn issue19_ids_not_in_nfc_are_refused_by_default_and_taken_as_is_on_request() {
    let decomposed = "zoe\u{308}";
    let e = member_error(decomposed);
    assert_eq!((e.line(), e.field()), (Some(2), Some("id")), "{e}");
    assert!(e.message().contains("NFC"), "{e}");
    assert!(!e.message().contains("zoe"), "the id is not echoed: {e}");

    let as_is = DEFS.replace(r#""id": "u","#, r#""id": "u", "member_ids": {"unicode": "as-is"},"#);
    let built = build_jsonl(
        &as_is,
        &format!("{{\"id\": \"{decomposed}\", \"attributes\": {{\"plan\": \"gold\"}}}}\n"),
        &seeded(1),
    )
    .unwrap();
    // The edge matches exactly the bytes it was given, and only those.
    let mut engine = Engine::load(&built.bytes).unwrap();
    let cookie = format!("uid={decomposed}");
    assert_eq!(crate::decide(&mut engine, &crate::request("/", None, vec![("cookie", &cookie)])).0, "gold");
    assert_eq!(crate::decide(&mut engine, &crate::request("/", None, vec![("cookie", "uid=zoë")])).0, "basic");

    let e = Definitions::from_json(&DEFS.replace(r#""id": "u","#, r#""id": "u", "member_ids": {"unicode": "nfd"},"#))
        .unwrap_err();
    assert!(e.message().contains("unknown variant"), "{e}");
}

#[test]
fn issue19_ids_that_differ_only_by_case_are_found_by_line() {
    let dir = scratch("case-ids");
    let csv = dir.join("members.csv");
    std::fs::write(&csv, "id\nAlice\nbob\nalice\nBOB\ncarol\n").unwrap();
    let (found, total) = case_collisions(|| members::open(&csv), 10).unwrap();
    assert_eq!(total, 2);
    assert_eq!(found.iter().map(|c| c.lines.clone()).collect::<Vec<_>>(), [vec![2, 4], vec![3, 5]]);
    let d = Definitions::from_json(
        &DEFS.replace(r#""id": "u","#, r#""id": "u", "member_ids": {"case_collisions": "error"},"#),
    )
    .unwrap();
    assert_eq!(d.member_ids.unwrap().case_collisions(), edgeseg_snapshots::definitions::CaseCollisions::Error);
}

#[test]
fn issue19_a_snapshot_id_with_control_characters_is_refused_at_build_and_escaped_by_inspect() {
    let e = Definitions::from_json(&DEFS.replace(r#""id": "u","#, r#""id": "u\u001b[2J","#)).unwrap_err();
    assert_eq!(e.field(), Some("id"), "{e}");

    // A snapshot made elsewhere can still carry one: inspect shows it escaped.
    let built = build_jsonl(DEFS, "{\"id\": \"u1\"}\n", &seeded(1)).unwrap();
    let (_, payload) = edgeseg::format::split(&built.bytes).unwrap();
    let (mut p, rest) = postcard::take_from_bytes::<SnapshotPayload>(payload).unwrap();
    let (ext, rest) = postcard::take_from_bytes::<PayloadExt>(rest).unwrap();
    let (limits, _) = postcard::take_from_bytes::<Limits>(rest).unwrap();
    p.ext = PayloadExt { limits, ..ext };
    p.version = 1;
    p.id = "evil\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}1m\u{202e}\r\nsnapshot fake".into();
    p.identity = vec![edgeseg::snapshot::IdentitySource::Cookie("uid\u{1b}[31m".into())];
    let bytes = p.encode().unwrap();
    let text = inspect(&bytes).unwrap().to_string();
    assert!(!text.chars().any(|c| c != '\n' && edgeseg_snapshots::text::is_hidden(c)), "{text:?}");
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "snapshot evil\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{9b}1m\\u{202e}\\u{d}\\u{a}snapshot fake version 1"
    );
    assert!(text.contains("cookie uid\\u{1b}[31m"), "{text}");
    // JSON keeps the exact value (escaped by JSON's own rules) for scripts.
    let json = serde_json::to_string(&inspect(&bytes).unwrap()).unwrap();
    assert!(json.contains("evil\\u001b]0;owned"), "{json}");
}
