//! flagd reuse: `$evaluators` + `{"$ref": name}` in definitions, and importing a flagd flag file's
//! `$evaluators` as segments (`snapshots/data/flagd/flags.json` follows flagd's flag schema).

use crate::{decide, request, scratch, seeded};
use edgeseg::{AttrValue, Engine, Request};
use edgeseg_snapshots::{BuildErrorKind, Definitions, build, flagd};
use serde_json::{Value, json};

fn flag_file() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/flagd/flags.json");
    std::fs::read_to_string(path).unwrap()
}

fn with_attributes<'a>(attributes: Vec<(&'a str, AttrValue<'a>)>) -> Request<'a> {
    Request { attributes, ..request("/", Some("DE"), vec![]) }
}

/// Definitions around an imported fragment, plus one hand-written segment reusing a fragment.
fn definitions(fragment: &Value) -> Value {
    let mut segments = fragment["segments"].as_array().unwrap().clone();
    segments.push(json!({"name": "faas-de", "purpose": "contract",
        "rule": {"and": [{"$ref": "emailWithFaas"}, {"==": [{"var": "country"}, "DE"]}]}}));
    json!({"id": "flagd", "purposes": ["contract"], "tiers": ["standard"],
           "$evaluators": fragment["$evaluators"], "segments": segments})
}

#[test]
fn imported_evaluators_build_and_match_like_flagd() {
    let fragment = flagd::import_evaluators(&flag_file(), "contract").unwrap();
    let names: Vec<&str> =
        fragment["segments"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["appv2", "betatesters", "emailwithfaas"]);
    let defs = Definitions::from_json(&definitions(&fragment).to_string()).unwrap();
    let built = build(&defs, std::iter::empty(), &seeded(1)).unwrap();
    let mut engine = Engine::load(&built.bytes).unwrap();

    let faas_beta = with_attributes(vec![
        ("email", AttrValue::String("ana@faas.com")),
        ("tier", AttrValue::String("beta")),
        ("appVersion", AttrValue::String("2.1.0")),
    ]);
    assert_eq!(decide(&mut engine, &faas_beta).1, ["appv2", "betatesters", "emailwithfaas", "faas-de"]);
    let other =
        with_attributes(vec![("email", AttrValue::String("bo@example.com")), ("tier", AttrValue::String("beta"))]);
    assert!(decide(&mut engine, &other).1.is_empty());
}

#[test]
fn bad_refs_name_the_file_the_segment_and_the_path() {
    let dir = scratch("flagd-refs");
    let members = dir.join("members.jsonl");
    std::fs::write(&members, "").unwrap();
    let cases = [
        (json!({"and": [true, {"$ref": "nope"}]}), "segments[0].rule.and[1].$ref", "unknown evaluator \"nope\""),
        (json!({"$ref": "a"}), "$evaluators.b.!.$ref", "a -> b -> a"),
    ];
    for (rule, field, message) in cases {
        let defs = json!({"id": "refs", "purposes": ["contract"], "tiers": ["standard"],
            "$evaluators": {"a": {"or": [false, {"$ref": "b"}]}, "b": {"!": {"$ref": "a"}}},
            "segments": [{"name": "broken", "purpose": "contract", "rule": rule}]});
        let path = dir.join("definitions.json");
        std::fs::write(&path, defs.to_string()).unwrap();
        let e = edgeseg_snapshots::build_files(&path, &members, &seeded(1)).unwrap_err();
        assert_eq!(e.kind(), BuildErrorKind::Rule, "{e}");
        assert_eq!(e.file(), Some(path.as_path()), "{e}");
        assert_eq!(e.field(), Some(field), "{e}");
        assert!(e.message().contains("segment \"broken\"") && e.message().contains(message), "{e}");
    }
}
