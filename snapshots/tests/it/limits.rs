//! Configured limits (`limits` in the definitions): refused at build with a typed error naming the
//! limit, the segment and the value; carried in the snapshot; held by the edge.

use crate::{build_jsonl, request, seeded};
use edgeseg::snapshot::{Limits, PayloadExt, SnapshotPayload};
use edgeseg::{Engine, ErrorKind};
use edgeseg_snapshots::BuildErrorKind;

/// Rule-only definitions with `segments` extra segments and the given `limits` section.
fn defs(limits: &str, rule: &str, extra_segments: usize) -> String {
    let mut segs = vec![format!(r#"{{"name": "deep", "tier": "premium", "purpose": "contract", "rule": {rule}}}"#)];
    for i in 0..extra_segments {
        segs.push(format!(
            r#"{{"name": "s{i}", "purpose": "contract", "rule": {{"==": [{{"var": "path"}}, "/{i}"]}}}}"#
        ));
    }
    format!(
        r#"{{"id": "lim", "version": 3, "purposes": ["contract"], "tiers": ["premium", "free"],
            "identity": [{{"header": "x-customer-id", "trust": "unverified"}}], {limits} "segments": [{}]}}"#,
        segs.join(",")
    )
}

/// `{"!": {"!": … {"==": [{"var": "path"}, "/x"]}}}`, `nots` deep.
fn nested(nots: usize) -> String {
    let mut r = r#"{"==": [{"var": "path"}, "/x"]}"#.to_string();
    for _ in 0..nots {
        r = format!(r#"{{"!": {r}}}"#);
    }
    r
}

#[test]
fn the_builder_refuses_definitions_over_their_limits_naming_limit_segment_and_value() {
    // Depth: `==` over a var and a literal is 2 deep; each `!` adds one.
    let e = build_jsonl(&defs(r#""limits": {"rule_depth": 4},"#, &nested(3), 0), "", &seeded(1)).unwrap_err();
    assert_eq!(e.kind(), BuildErrorKind::Limit, "{e}");
    assert_eq!(e.field(), Some("segments[0].rule"));
    assert!(
        e.message().contains("segment deep")
            && e.message().contains("5 deep")
            && e.message().contains("rule_depth is 4"),
        "{e}"
    );
    build_jsonl(&defs(r#""limits": {"rule_depth": 5},"#, &nested(3), 0), "", &seeded(1)).unwrap();

    let e = build_jsonl(&defs(r#""limits": {"rule_nodes": 3},"#, &nested(2), 0), "", &seeded(1)).unwrap_err();
    assert_eq!(e.kind(), BuildErrorKind::Limit, "{e}");
    assert!(
        e.message().contains("segment deep")
            && e.message().contains("5 nodes")
            && e.message().contains("rule_nodes is 3"),
        "{e}"
    );

    let e = build_jsonl(&defs(r#""limits": {"segments": 3},"#, &nested(0), 3), "", &seeded(1)).unwrap_err();
    assert_eq!((e.kind(), e.field()), (BuildErrorKind::Limit, Some("segments")), "{e}");
    assert!(e.message().contains("4 segments, limits.segments is 3"), "{e}");

    // A limit over the edge's hard cap, or zero, names itself.
    let e = build_jsonl(&defs(r#""limits": {"header_bytes": 100000},"#, &nested(0), 0), "", &seeded(1)).unwrap_err();
    assert_eq!((e.kind(), e.field()), (BuildErrorKind::Limit, Some("limits.header_bytes")), "{e}");
    let e = build_jsonl(&defs(r#""limits": {"delta_bytes": 0},"#, &nested(0), 0), "", &seeded(1)).unwrap_err();
    assert_eq!(e.field(), Some("limits.delta_bytes"), "{e}");
    let e = build_jsonl(&defs(r#""limits": {"throttle_keys": 2000000},"#, &nested(0), 0), "", &seeded(1)).unwrap_err();
    assert_eq!(e.field(), Some("limits.throttle_keys"), "{e}");
    // An unknown limit is a schema error, not silently ignored.
    assert!(build_jsonl(&defs(r#""limits": {"rules": 1},"#, &nested(0), 0), "", &seeded(1)).is_err());
}

#[test]
fn limits_travel_in_the_snapshot_and_unset_ones_are_the_defaults() {
    let built = build_jsonl(
        &defs(
            r#""limits": {"segments": 8, "header_bytes": 64, "throttle_keys": 128, "delta_bytes": 4096},"#,
            &nested(0),
            1,
        ),
        "",
        &seeded(1),
    )
    .unwrap();
    let engine = Engine::load(&built.bytes).unwrap();
    let snap = engine.snapshot();
    assert_eq!(snap.limits, Limits { segments: 8, header_bytes: 64, delta_bytes: 4096, ..Limits::DEFAULT });
    assert_eq!(snap.throttle_keys, 128);
    assert_eq!(engine.stats().throttle_capacity, 128);

    let plain = build_jsonl(&defs("", &nested(0), 0), "", &seeded(1)).unwrap();
    assert_eq!(Engine::load(&plain.bytes).unwrap().snapshot().limits, Limits::DEFAULT);
}

/// The payload of a built snapshot, to re-encode with other limits.
fn payload_of(bytes: &[u8]) -> SnapshotPayload {
    let (_, payload) = edgeseg::format::split(bytes).unwrap();
    let (mut p, rest) = postcard::take_from_bytes::<SnapshotPayload>(payload).unwrap();
    let (ext, rest) = postcard::take_from_bytes::<PayloadExt>(rest).unwrap();
    let (limits, rest) = postcard::take_from_bytes::<Limits>(rest).unwrap();
    assert!(rest.is_empty());
    p.ext = PayloadExt { limits, ..ext };
    p
}

#[test]
fn the_edge_refuses_a_snapshot_over_its_own_declared_limits_and_holds_them_to_the_hard_caps() {
    let built = build_jsonl(&defs("", &nested(2), 2), "", &seeded(1)).unwrap();
    let mut p = payload_of(&built.bytes);

    p.ext.limits = Limits { segments: 2, ..Limits::default() };
    let e = Engine::load(&p.encode().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    assert!(e.detail().contains("3 segments, limit 2"), "{e}");

    p.ext.limits = Limits { rule_nodes: 4, ..Limits::default() };
    let e = Engine::load(&p.encode().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    assert!(e.detail().contains("segment deep: rule has 5 nodes, limit rule_nodes 4"), "{e}");

    // The declared rule depth, not only the hard cap (`!` `!` `==`(var, literal) is 4 deep).
    p.ext.limits = Limits { rule_depth: 3, ..Limits::default() };
    let e = Engine::load(&p.encode().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert!(e.detail().contains("segment deep: rule deeper than 3"), "{e}");
    p.ext.limits = Limits { rule_depth: 4, ..Limits::default() };
    Engine::load(&p.encode().unwrap()).unwrap();

    // A declared limit over the hard cap is held to the cap (the builder never writes one).
    p.ext.limits = Limits { header_bytes: u32::MAX, segments: u32::MAX, ..Limits::default() };
    let limits = Engine::load(&p.encode().unwrap()).unwrap().snapshot().limits;
    assert_eq!((limits.header_bytes, limits.segments), (Limits::HARD.header_bytes, Limits::HARD.segments));

    p.ext.limits = Limits { rule_nodes: 5, segments: 3, ..Limits::default() };
    Engine::load(&p.encode().unwrap()).unwrap();
}

#[test]
fn a_format_2_snapshot_without_the_limits_record_decodes_with_the_defaults() {
    let built = build_jsonl(&defs(r#""limits": {"header_bytes": 64},"#, &nested(0), 0), "", &seeded(1)).unwrap();
    let p = payload_of(&built.bytes);
    // What a format-2 builder wrote before the limits record existed: payload, then extension.
    let mut old = postcard::to_allocvec(&p).unwrap();
    old.extend(postcard::to_allocvec(&p.ext).unwrap());
    let engine = Engine::load(&edgeseg::format::wrap(&old).unwrap()).unwrap();
    assert_eq!(engine.snapshot().limits, Limits::DEFAULT);
}

#[test]
fn a_longer_header_value_is_read_as_absent_and_counted() {
    let rule = r#"{"==": [{"var": "headers.x-plan"}, "gold"]}"#;
    let built = build_jsonl(&defs(r#""limits": {"header_bytes": 16},"#, rule, 0), "", &seeded(1)).unwrap();
    let mut engine = Engine::load(&built.bytes).unwrap();
    assert_eq!(engine.decide(&request("/", None, vec![("x-plan", "gold")])).tier, "premium");
    // Over 16 bytes: as if the header were not there (the rule reads null), never a trap.
    let long = "gold".to_string() + &"!".repeat(13);
    let d = engine.decide(&request("/", None, vec![("x-plan", &long), ("x-customer-id", &long)]));
    assert_eq!((d.tier, d.identified), ("free", false));
    assert_eq!(engine.stats().headers_skipped, 2);
    // `classify` (no state) skips the same way and counts nothing.
    assert_eq!(engine.classify(&request("/", None, vec![("x-plan", &long)])).headers_skipped, 1);
    assert_eq!(engine.stats().headers_skipped, 2);
}

#[test]
fn a_delta_over_delta_bytes_is_refused_and_the_applied_one_keeps_applying() {
    use edgeseg::delta::{ALL_PURPOSES, Revocation, RevocationDelta};
    let built = build_jsonl(&defs(r#""limits": {"delta_bytes": 200},"#, &nested(0), 0), "", &seeded(1)).unwrap();
    let mut engine = Engine::load(&built.bytes).unwrap();
    let entries = |n: u64| (1..=n).map(|i| Revocation { fingerprint: i << 40, purposes: ALL_PURPOSES }).collect();
    let key = engine.snapshot().key_id();
    let small = RevocationDelta::new("lim", 3, key, 1, 0, entries(2)).encode().unwrap();
    let big = RevocationDelta::new("lim", 3, key, 2, 0, entries(20)).encode().unwrap();
    assert!(small.len() <= 200 && big.len() > 200, "{} {}", small.len(), big.len());
    engine.apply_delta(&small).unwrap();
    let e = engine.apply_delta(&big).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    assert!(e.detail().contains(&format!("delta is {} bytes, limit delta_bytes 200", big.len())), "{e}");
    assert_eq!((engine.stats().delta_sequence, engine.stats().revocations), (Some(1), 2));
}

#[test]
fn an_expired_snapshot_still_decides_but_every_decision_is_flagged_stale() {
    let with_expiry =
        defs("", &nested(0), 0).replacen(r#""version": 3,"#, r#""version": 3, "expires_in_s": 10000,"#, 1);
    let built = build_jsonl(&with_expiry, "", &seeded(1)).unwrap();
    let mut engine = Engine::load(&built.bytes).unwrap();
    let expires = engine.snapshot().expires_ms.unwrap();
    let mut req = request("/x", None, vec![]);
    req.now_ms = expires - 1;
    let fresh = engine.decide(&req);
    assert!(!fresh.stale);
    assert!(!fresh.headers.iter().any(|h| h.name == "x-edgeseg-stale"));
    assert_eq!(engine.stats().stale_decisions, 0);
    req.now_ms = expires;
    let stale = engine.decide(&req);
    assert_eq!((stale.tier, stale.stale), ("premium", true), "the last good snapshot keeps deciding");
    assert!(stale.headers.iter().any(|h| h.name == "x-edgeseg-stale" && h.value == "1"));
    engine.decide(&req);
    assert_eq!(engine.stats().stale_decisions, 2);
}

#[test]
fn a_consent_signal_past_header_bytes_still_narrows_never_widens() {
    // Identity from a header, a consent cookie saying "contract only" in a cookie header longer
    // than the limit: read as absent it would grant personalisation; it must not.
    let defs = r#"{"id": "lim", "version": 3, "purposes": ["contract", "personalisation"], "tiers": ["premium", "free"],
        "identity": [{"header": "x-customer-id", "trust": "unverified"}], "consent": {"cookie": "site_consent"}, "limits": {"header_bytes": 64},
        "segments": [{"name": "reco", "purpose": "personalisation", "members": {"all": true}}]}"#;
    let members = r#"{"id": "alice", "consents": ["personalisation"]}"#;
    let built = build_jsonl(defs, members, &seeded(1)).unwrap();
    let mut engine = Engine::load(&built.bytes).unwrap();
    assert_eq!(engine.decide(&request("/", None, vec![("x-customer-id", "alice")])).segments, ["reco"]);
    let cookie = format!("site_consent=contract; pad={}", "x".repeat(64));
    let d = engine.decide(&request("/", None, vec![("x-customer-id", "alice"), ("cookie", &cookie)]));
    assert!(d.segments.is_empty(), "{:?}", d.segments);
    assert_eq!(engine.stats().headers_skipped, 1);
}
