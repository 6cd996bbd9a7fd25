//! Definitions: every refusal points at a field path, a line, or both.

use crate::{build_jsonl, scratch, seeded};
use edgeseg_snapshots::definitions::{Definitions, IdentityDef};
use edgeseg_snapshots::{BuildErrorKind, sample};
use serde_json::{Value, json};

fn base() -> Value {
    json!({
        "id": "t",
        "identity": [{"cookie": "uid", "trust": "unverified"}, {"header": "x-customer-id", "trust": "unverified"}],
        "purposes": ["contract", "personalisation"],
        "tiers": ["premium", "standard", "free"],
        "segments": [
            {"name": "premium", "tier": "premium", "purpose": "contract", "precedence": 100,
             "members": {"where": {"==": [{"var": "plan"}, "premium"]}}},
            {"name": "reco", "purpose": "personalisation", "members": {"all": true}},
            {"name": "mobile", "purpose": "contract", "rule": {"==": [{"var": "attributes.device"}, "mobile"]}}
        ]
    })
}

fn refuse(v: Value) -> edgeseg_snapshots::BuildError {
    match Definitions::from_json(&v.to_string()) {
        Ok(_) => panic!("accepted: {v}"),
        Err(e) => e,
    }
}

fn with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = base();
    edit(&mut v);
    v
}

#[test]
fn the_base_and_the_demo_are_valid() {
    let d = Definitions::from_json(&base().to_string()).unwrap();
    assert_eq!(d.identity[1], IdentityDef::unverified_header("x-customer-id"));
    assert_eq!(d.default_tier_index(), 2);
    let demo = Definitions::from_json(sample::DEMO_DEFINITIONS).unwrap();
    assert_eq!(demo.tiers, ["premium", "standard", "free"]);
}

#[test]
fn semantic_errors_carry_field_paths() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(|v| v["segments"][2]["tier"] = json!("gold")), "segments[2].tier", "unknown tier \"gold\""),
        (with(|v| v["segments"][1]["purpose"] = json!("ads")), "segments[1].purpose", "unknown purpose \"ads\""),
        (with(|v| v["segments"][1]["name"] = json!("premium")), "segments[1].name", "duplicate segment name"),
        (with(|v| v["segments"][0]["name"] = json!("Premium")), "segments[0].name", "[a-z0-9_.-]"),
        (with(|v| v["tiers"][1] = json!("premium")), "tiers[1]", "duplicate name"),
        (with(|v| v["purposes"][1] = json!("Ads!")), "purposes[1]", "is not"),
        (with(|v| v["default_tier"] = json!("gold")), "default_tier", "unknown tier"),
        (
            with(|v| v["segments"][0]["members"]["encoding"] = json!("bloom")),
            "segments[0].members.encoding",
            "must be `exact`",
        ),
        (
            with(|v| {
                v["segments"][1]["members"]["encoding"] = json!("exact");
                v["segments"][1]["members"]["fp_rate"] = json!(0.01);
            }),
            "segments[1].members.fp_rate",
            "an `exact` set has no false positives",
        ),
        (
            with(|v| v["segments"][1]["members"] = json!({"encoding": "fuse", "fp_bits": 12, "all": true})),
            "segments[1].members.fp_bits",
            "not 8 or 16",
        ),
        (
            with(|v| v["segments"][1]["members"] = json!({"encoding": "bloom", "fp_bits": 8, "all": true})),
            "segments[1].members.fp_bits",
            "only a `fuse` filter",
        ),
        (
            with(|v| v["segments"][1]["members"] = json!({"encoding": "fuse", "fp_rate": 1e-6, "all": true})),
            "segments[1].members.fp_rate",
            "below a 16-bit fuse filter",
        ),
        (
            with(|v| v["segments"][1]["members"] = json!({"encoding": "bloom", "fp_rate": 1.5, "all": true})),
            "segments[1].members.fp_rate",
            "not in (0, 0.5)",
        ),
        (with(|v| v["segments"][1]["members"] = json!({"all": false})), "segments[1].members.all", "only be true"),
        (with(|v| v["segments"][1]["members"] = json!({})), "segments[1].members", "needs `where`"),
        (with(|v| v["segments"][2]["rule"] = Value::Null), "segments[2]", "needs a `rule`, `members`, or both"),
        (with(|v| v["identity"] = json!([])), "identity", "no identity source"),
        (with(|v| v["purposes"] = json!([])), "purposes", "at least one"),
    ];
    for (defs, field, msg) in cases {
        let e = refuse(defs);
        assert_eq!(e.kind(), BuildErrorKind::Definitions, "{e}");
        assert_eq!(e.field(), Some(field), "{e}");
        assert!(e.message().contains(msg), "{e} does not contain {msg:?}");
    }
}

#[test]
fn tier_caps_are_limits() {
    let six = with(|v| v["tiers"] = json!(["a", "b", "c", "d", "e", "f"]));
    let six = {
        let mut s = six;
        s["segments"][0]["tier"] = json!("a");
        s
    };
    let e = refuse(six.clone());
    assert_eq!((e.kind(), e.field()), (BuildErrorKind::Limit, Some("tiers")));
    let mut raised = six;
    raised["max_tiers"] = json!(6);
    Definitions::from_json(&raised.to_string()).unwrap();
    raised["max_tiers"] = json!(17);
    assert_eq!(refuse(raised).field(), Some("max_tiers"));
}

#[test]
fn schema_errors_carry_line_and_column() {
    let text = "{\n  \"id\": \"t\",\n  \"identity\": [],\n  \"purposes\": [\"contract\"],\n  \"tiers\": [\"a\"],\n  \"segmnts\": []\n}";
    let e = Definitions::from_json(text).unwrap_err();
    assert_eq!((e.kind(), e.line()), (BuildErrorKind::Definitions, Some(6)));
    assert!(e.message().contains("unknown field `segmnts`"), "{e}");
    // Unknown fields are refused at every level, not just the top.
    let e = refuse(with(|v| v["segments"][0]["members"]["wher"] = json!(true)));
    assert!(e.message().contains("unknown field `wher`"), "{e}");
    let e = Definitions::from_json("{\"id\": \"t\",").unwrap_err();
    assert_eq!(e.line(), Some(1));
}

#[test]
fn load_names_the_file() {
    let dir = scratch("definitions-load");
    let path = dir.join("bad.json");
    std::fs::write(&path, "{\n  \"id\": 5\n}\n").unwrap();
    let e = Definitions::load(&path).unwrap_err();
    assert_eq!(e.file(), Some(path.as_path()));
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().starts_with(&format!("{}:2:", path.display())), "{e}");

    let missing = dir.join("missing.json");
    let e = Definitions::load(&missing).unwrap_err();
    assert_eq!((e.kind(), e.file()), (BuildErrorKind::Io, Some(missing.as_path())));
}

#[test]
fn rule_errors_point_into_the_definitions() {
    let defs = with(|v| {
        v["segments"][2]["rule"] = json!({"and": [true, {"foo": 1}]});
    });
    let e = build_jsonl(&defs.to_string(), "", &seeded(1)).unwrap_err();
    assert_eq!(e.kind(), BuildErrorKind::Rule);
    assert_eq!(e.field(), Some("segments[2].rule.and[1]"));
    // in_segment may only name a segment that has members.
    let defs = with(|v| v["segments"][1]["rule"] = json!({"in_segment": "mobile"}));
    let e = build_jsonl(&defs.to_string(), "", &seeded(1)).unwrap_err();
    assert!(e.message().contains("segment \"mobile\" has no `members`"), "{e}");
    assert_eq!(e.field(), Some("segments[1].rule"));
    // Profile rules are compiled in profile mode: no in_segment there.
    let defs = with(|v| v["segments"][1]["members"] = json!({"where": {"in_segment": "premium"}}));
    let e = build_jsonl(&defs.to_string(), "", &seeded(1)).unwrap_err();
    assert_eq!(e.field(), Some("segments[1].members.where"));
}

#[test]
fn the_readme_example_is_valid_and_builds() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("## Definitions\n\n```json\n").unwrap() + "## Definitions\n\n```json\n".len();
    let len = readme[start..].find("\n```").unwrap();
    let example = &readme[start..start + len];
    let defs = Definitions::from_json(example).unwrap_or_else(|e| panic!("README example: {e}"));
    assert_eq!(defs.segments.len(), 8);
    let built = crate::build_jsonl(
        example,
        "{\"id\": \"u1\", \"consents\": [\"personalisation\"], \"attributes\": {\"engagement\": 70}}\n",
        &seeded(1),
    )
    .unwrap();
    let engaged = built.summary.segments.iter().find(|s| s.name == "engaged-mobile").unwrap();
    assert_eq!((engaged.members, engaged.rule_nodes), (1, 3));
}

/// An Ed25519 public JWK (RFC 8037) whose `x` is a valid point.
fn ed_jwk() -> Value {
    use base64::Engine as _;
    let public = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes();
    json!({"kty": "OKP", "crv": "Ed25519", "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public), "kid": "k1"})
}

#[test]
fn identity_sources_must_verify_or_opt_out_explicitly() {
    let jwt = |edit: &dyn Fn(&mut Value)| {
        with(|v| {
            let mut src = json!({"header": "authorization", "verify": {"jwt": {"alg": "EdDSA", "key": ed_jwk()}}});
            edit(&mut src);
            v["identity"] = json!([src]);
        })
    };
    let d = Definitions::from_json(&jwt(&|_| {}).to_string()).unwrap();
    let verify = d.identity[0].verify.as_ref().unwrap();
    let compiled = edgeseg_snapshots::verify::compile(&d.identity[0]).unwrap();
    let edgeseg::snapshot::IdentitySource::VerifiedHeader(name, edgeseg::snapshot::Verify::Jwt(j)) = compiled else {
        panic!("{verify:?} compiled to {compiled:?}");
    };
    assert_eq!((name.as_str(), j.key.len(), j.claim.as_str(), j.leeway_s), ("authorization", 32, "sub", 60));

    let cases: Vec<(Value, &str, &str)> = vec![
        // A bare claim is no longer the default: it must be asked for.
        (with(|v| v["identity"] = json!([{"cookie": "uid"}])), "identity[0]", "\"trust\": \"unverified\""),
        (with(|v| v["identity"] = json!([{"cookie": "uid", "header": "x"}])), "identity[0]", "exactly one"),
        (jwt(&|s| s["trust"] = json!("unverified")), "identity[0].trust", "cannot also be"),
        (jwt(&|s| s["verify"]["jwt"]["alg"] = json!("HS256")), "identity[0].verify.jwt.alg", "EdDSA or ES256"),
        (jwt(&|s| s["verify"]["jwt"]["alg"] = json!("ES256")), "identity[0].verify.jwt.key", "cannot verify ES256"),
        (jwt(&|s| s["verify"]["jwt"]["key"]["d"] = json!("secret")), "identity[0].verify.jwt.key", "private key"),
        (jwt(&|s| s["verify"]["jwt"]["key"]["x"] = json!("AAAA")), "identity[0].verify.jwt.key", "not 32"),
        (jwt(&|s| s["verify"]["jwt"]["leeway_s"] = json!(3600)), "identity[0].verify.jwt.leeway_s", "over the 600"),
        (
            with(|v| v["identity"] = json!([{"cookie": "sid", "verify": {"hmac": {"secret_env": "A-B"}}}])),
            "identity[0].verify.hmac.secret_env",
            "[A-Za-z0-9_]",
        ),
    ];
    for (defs, field, msg) in cases {
        let e = refuse(defs);
        assert_eq!(e.kind(), BuildErrorKind::Definitions, "{e}");
        assert_eq!(e.field(), Some(field), "{e}");
        assert!(e.message().contains(msg), "{e} does not contain {msg:?}");
    }
}

#[test]
fn verified_sources_build_and_inspect_names_their_trust() {
    let defs = with(|v| {
        v["identity"] = json!([
            {"header": "authorization", "verify": {"jwt": {"alg": "EdDSA", "key": ed_jwk(), "audience": "shop"}}},
            {"cookie": "sid", "verify": {"hmac": {"secret_env": "EDGESEG_ID_SECRET"}}},
            {"cookie": "uid", "trust": "unverified"}
        ])
    });
    let members = "{\"id\": \"u1\", \"attributes\": {\"plan\": \"premium\"}}\n";
    let bytes = build_jsonl(&defs.to_string(), members, &seeded(50)).unwrap().bytes;
    let snap = edgeseg::Snapshot::decode(&bytes).unwrap();
    assert_eq!(snap.identity.len(), 3);
    assert!(snap.identity[0].verify().is_some() && snap.identity[1].verify().is_some());
    assert!(snap.identity[2].verify().is_none());
    let text = edgeseg_snapshots::inspect::inspect(&bytes).unwrap().to_string();
    assert!(
        text.contains(
            "header authorization (jwt EdDSA), then cookie sid (hmac $EDGESEG_ID_SECRET), then cookie uid (unverified)"
        ),
        "{text}"
    );
}

#[test]
fn client_ip_settings_reach_the_snapshot_and_bad_ones_are_refused() {
    let defs = with(|v| v["client_ip"] = json!({"ipv6_prefix_bits": 56, "trusted_header": "x-forwarded-for"}));
    let members = "{\"id\": \"u1\", \"attributes\": {\"plan\": \"premium\"}}\n";
    let bytes = build_jsonl(&defs.to_string(), members, &seeded(5)).unwrap().bytes;
    let snap = edgeseg::Snapshot::decode(&bytes).unwrap();
    assert_eq!((snap.client_ip.ipv6_bits(), snap.client_ip.trusted_header.as_deref()), (56, Some("x-forwarded-for")));
    // Without the section the record is not written: the bytes are what they were.
    let plain = build_jsonl(&base().to_string(), members, &seeded(5)).unwrap().bytes;
    let with_default =
        build_jsonl(&with(|v| v["client_ip"] = json!({})).to_string(), members, &seeded(5)).unwrap().bytes;
    assert_eq!(plain, with_default);
    assert_eq!(edgeseg::Snapshot::decode(&plain).unwrap().client_ip, Default::default());

    for (edit, field) in [
        (json!({"ipv6_prefix_bits": 8}), "client_ip.ipv6_prefix_bits"),
        (json!({"ipv6_prefix_bits": 129}), "client_ip.ipv6_prefix_bits"),
        (json!({"trusted_header": "X-Forwarded-For"}), "client_ip.trusted_header"),
    ] {
        let e = refuse(with(|v| v["client_ip"] = edit.clone()));
        assert_eq!(e.field(), Some(field), "{e}");
    }
}
