//! Membership encodings at scale: compact and plain `exact` decide identically (natively and
//! through the wasm module), `auto` picks by privilege and size, and a 10⁷-member snapshot's fuse
//! filters meet their size and false-positive bounds.

use edgeseg::Engine;
use edgeseg_host::guest::{Guest, GuestConfig, OwnedDecision};
use edgeseg_host::traffic::TrafficRecord;
use edgeseg_snapshots::{BuildOptions, Definitions, ExactForm, build, sample};
use edgeseg_tests::{membership, root, wasm_module};

fn demo_build(form: ExactForm) -> edgeseg_snapshots::Built {
    let defs = Definitions::load(&root().join("snapshots/data/demo.json")).unwrap();
    let opts =
        BuildOptions { seed: Some(42), created_ms: Some(1_763_700_000_000), exact_form: form, ..Default::default() };
    build(&defs, sample::members(20_000, 42), &opts).unwrap()
}

#[test]
fn exact_forms_decide_identically_natively_and_in_wasm() {
    let plain = demo_build(ExactForm::Plain);
    let compact = demo_build(ExactForm::Compact);
    // The same members in every exact set, the compact form smaller.
    let mut exact_segments = 0;
    for (p, c) in plain.summary.segments.iter().zip(&compact.summary.segments) {
        assert_eq!((&p.name, p.members, &p.encoding), (&c.name, c.members, &c.encoding));
        if p.encoding.as_deref() == Some("exact") && p.members > 100 {
            exact_segments += 1;
            assert!(c.bytes < p.bytes, "{}: compact {} B vs plain {} B", p.name, c.bytes, p.bytes);
        }
    }
    assert!(exact_segments >= 3, "the demo has tier and audience segments held exactly");
    for (p, c) in plain.summary.purposes.iter().zip(&compact.summary.purposes) {
        assert_eq!(p.consented, c.consented);
    }

    let mut traffic = Vec::new();
    sample::write_traffic(&mut traffic, 20_000, 3_000, 42).unwrap();
    let records: Vec<TrafficRecord> = traffic
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| TrafficRecord::parse(l, i as u64 + 1).unwrap())
        .collect();
    let mut native = [Engine::load(&plain.bytes).unwrap(), Engine::load(&compact.bytes).unwrap()];
    // Loaded without a copy: the sets are probed in place in the buffer handed over.
    let mut owned =
        [Engine::load_owned(plain.bytes.clone()).unwrap(), Engine::load_owned(compact.bytes.clone()).unwrap()];
    let mut guests = [plain.bytes.as_slice(), compact.bytes.as_slice()].map(|bytes| {
        let mut g = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
        g.load_snapshot(bytes).unwrap();
        g
    });
    let mut members_matched = 0;
    for (i, r) in records.iter().enumerate() {
        let req = r.request();
        let [a, b] = &mut native;
        let (da, db) = (OwnedDecision::from(&a.decide(&req)), OwnedDecision::from(&b.decide(&req)));
        assert_eq!(da, db, "request {i}: plain and compact exact decide differently natively");
        for (o, form) in owned.iter_mut().zip(["plain", "compact"]) {
            let d = OwnedDecision::from(&o.decide(&req));
            assert_eq!(da, d, "request {i}: {form} exact loaded in place decides differently");
        }
        let wa = guests[0].decide(&req).unwrap();
        let wb = guests[1].decide(&req).unwrap();
        assert_eq!(wa, wb, "request {i}: plain and compact exact decide differently in wasm");
        assert_eq!(da, wa, "request {i}: native and wasm differ");
        members_matched += usize::from(da.segments.iter().any(|s| s == "premium" || s == "standard"));
    }
    assert!(members_matched > 100, "the traffic reaches the exact tier segments ({members_matched})");
}

#[test]
fn auto_keeps_privileges_exact_and_large_audiences_fuse() {
    let defs = Definitions::from_json(
        r#"{"id": "auto", "identity": [{"header": "x-customer-id", "trust": "unverified"}], "purposes": ["contract", "audience"],
            "tiers": ["gold", "all"], "default_tier": "all", "segments": [
              {"name": "gold", "tier": "gold", "purpose": "contract", "members": {"all": true}},
              {"name": "quota", "purpose": "contract", "members": {"all": true},
               "throttle": {"rate": 100, "period_s": 1, "burst": 100, "key": "user"}},
              {"name": "big", "purpose": "audience", "members": {"all": true}},
              {"name": "big8", "purpose": "audience", "members": {"all": true, "fp_rate": 0.01}},
              {"name": "small", "purpose": "audience", "members": {"where": {"<": [{"var": "n"}, 1000]}}}]}"#,
    )
    .unwrap();
    let members = (0..120_000u64).map(|i| {
        Ok(edgeseg_snapshots::Member {
            id: membership::member_id(i),
            consents: vec!["audience".into()],
            segments: vec![],
            tcf: None,
            attributes: vec![("n".into(), edgeseg::rule::Literal::Number(i as f64))],
            line: None,
        })
    });
    let built =
        build(&defs, members, &BuildOptions { seed: Some(3), created_ms: Some(1), ..Default::default() }).unwrap();
    let enc = |name: &str| {
        let s = built.summary.segments.iter().find(|s| s.name == name).unwrap();
        (s.encoding.clone().unwrap(), s.target_fp_rate)
    };
    assert_eq!(enc("gold"), ("exact".into(), None));
    assert_eq!(enc("quota"), ("exact".into(), None));
    assert_eq!(enc("big"), ("fuse".into(), Some((-16f64).exp2())));
    assert_eq!(enc("big8"), ("fuse".into(), Some((-8f64).exp2())));
    assert_eq!(enc("small"), ("exact".into(), None));
    // The report prints bits/id beside log2(1/ε).
    let text = built.summary.to_string();
    assert!(text.contains("log2(1/e)"), "{text}");
    // A tier may not be a filter.
    let bad = r#"{"id": "t", "identity": [{"header": "x", "trust": "unverified"}], "purposes": ["contract"], "tiers": ["gold", "all"],
        "default_tier": "all", "segments": [{"name": "g", "tier": "gold", "purpose": "contract",
        "members": {"all": true, "encoding": "fuse"}}]}"#;
    let err = Definitions::from_json(bad).and_then(|d| d.validate().map(|()| d)).unwrap_err();
    assert!(err.to_string().contains("must be `exact`, not `fuse`"), "{err}");
}

/// Done-when of issue 9: at 10⁷ members a fuse segment costs at most 1.2 × log2(1/ε) bits a member,
/// and its false-positive rate measured by the builder on 10⁶ non-members stays within the
/// configured bound (ε plus four standard deviations of the measurement).
#[test]
fn ten_million_members_fuse_within_bounds() {
    let n = 10_000_000u64;
    let built = membership::snapshot(
        n,
        &[("fuse16", r#""encoding": "fuse", "fp_bits": 16"#), ("fuse8", r#""encoding": "fuse", "fp_bits": 8"#)],
        false,
        ExactForm::Compact,
        9,
    );
    for s in &built.summary.segments {
        assert_eq!(s.members, n);
        assert_eq!(s.encoding.as_deref(), Some("fuse"));
        let eps = s.target_fp_rate.unwrap();
        let log2 = -eps.log2();
        let bits = s.bytes as f64 * 8.0 / n as f64;
        assert!(bits <= 1.2 * log2, "{}: {bits:.2} bits a member against log2(1/ε) = {log2}", s.name);
        let measured = s.measured_fp_rate.unwrap();
        let sigma = (eps * (1.0 - eps) / edgeseg_snapshots::build::FP_PROBES as f64).sqrt();
        assert!(measured <= eps + 4.0 * sigma, "{}: measured {measured:e} over ε = {eps:e}", s.name);
        assert!(measured >= eps / 4.0, "{}: measured {measured:e} is implausibly far below ε = {eps:e}", s.name);
    }
    // Members match both filters.
    let mut engine = Engine::load(&built.bytes).unwrap();
    for i in [0, 1, n / 2, n - 1] {
        let id = membership::member_id(i);
        let req = edgeseg::Request {
            method: "GET",
            host: "example.com",
            path: "/",
            headers: vec![("x-customer-id", id.as_str())],
            country: None,
            client_ip: None,
            now_ms: 1_763_700_000_001,
            attributes: vec![],
            verified_id: None,
        };
        let d = OwnedDecision::from(&engine.decide(&req));
        assert_eq!(d.segments, ["fuse16", "fuse8"], "member {i}");
    }
}
