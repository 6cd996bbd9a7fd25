//! The pipeline: consent, decisions at the edge, privacy, determinism, bloom accuracy.

use crate::{build_jsonl, decide, demo_build, request, sample_members, scratch, seeded};
use edgeseg::Engine;
use edgeseg::rule::Literal;
use edgeseg_snapshots::{BuildErrorKind, BuildOptions, ExactForm, SegmentSummary, build_files, sample};

const CONSENT_DEFS: &str = r#"{
  "id": "consent", "version": 7, "expires_in_s": 3600,
  "identity": [{"cookie": "uid", "trust": "unverified"}, {"header": "x-customer-id", "trust": "unverified"}],
  "purposes": ["contract", "personalisation", "marketing"],
  "tiers": ["premium", "free"],
  "segments": [
    {"name": "premium", "tier": "premium", "purpose": "contract", "precedence": 100,
     "members": {"where": {"==": [{"var": "plan"}, "premium"]}}},
    {"name": "engaged", "purpose": "personalisation", "precedence": 50,
     "members": {"where": {">=": [{"var": "engagement"}, 50]}}},
    {"name": "everyone-mkt", "purpose": "marketing", "precedence": 40, "members": {"all": true}},
    {"name": "engaged-mobile", "purpose": "personalisation", "precedence": 30,
     "members": {"where": {">=": [{"var": "engagement"}, 50]}},
     "rule": {"==": [{"var": "attributes.device"}, "mobile"]}}
  ]
}"#;

const CONSENT_MEMBERS: &str = r#"{"id": "alice", "consents": ["personalisation", "marketing"], "attributes": {"plan": "premium", "engagement": 80}}
{"id": "bob", "consents": [], "attributes": {"plan": "premium", "engagement": 90}}
{"id": "carol", "consents": ["marketing"], "attributes": {"plan": "free", "engagement": 70}}
{"id": "dave", "consents": ["personalisation", "contract"], "attributes": {"plan": "free", "engagement": 10}}
"#;

fn seg<'a>(summary: &'a [SegmentSummary], name: &str) -> &'a SegmentSummary {
    summary.iter().find(|s| s.name == name).unwrap()
}

#[test]
fn consent_filters_members_and_counts_exclusions() {
    let built = build_jsonl(CONSENT_DEFS, CONSENT_MEMBERS, &seeded(3)).unwrap();
    let s = &built.summary;
    assert_eq!(s.members_read, 4);
    assert_eq!((s.version, s.snapshot_id.as_str()), (7, "consent"));
    // Contract needs no consent: bob is premium without consenting to anything.
    assert_eq!((seg(&s.segments, "premium").members, seg(&s.segments, "premium").excluded_no_consent), (2, 0));
    // alice, bob, carol are engaged; only alice consented to personalisation.
    assert_eq!((seg(&s.segments, "engaged").members, seg(&s.segments, "engaged").excluded_no_consent), (1, 2));
    assert_eq!(
        (seg(&s.segments, "everyone-mkt").members, seg(&s.segments, "everyone-mkt").excluded_no_consent),
        (2, 2)
    );
    let purposes: Vec<(&str, bool, u64)> =
        s.purposes.iter().map(|p| (p.name.as_str(), p.requires_consent, p.consented)).collect();
    assert_eq!(purposes, [("contract", false, 0), ("personalisation", true, 2), ("marketing", true, 2)]);

    let mut engine = Engine::load(&built.bytes).unwrap();
    let mut by_cookie = |id: &str, device: &str| {
        let cookie = format!("uid={id}");
        let mut r = request("/", None, vec![("cookie", cookie.as_str())]);
        r.attributes = vec![("device", edgeseg::AttrValue::String(device))];
        decide(&mut engine, &r)
    };
    assert_eq!(
        by_cookie("alice", "mobile"),
        ("premium".into(), vec!["premium".into(), "engaged".into(), "everyone-mkt".into(), "engaged-mobile".into()])
    );
    // Segment with both members and rule: both must hold.
    assert_eq!(by_cookie("alice", "desktop").1, ["premium", "engaged", "everyone-mkt"]);
    assert_eq!(by_cookie("bob", "mobile"), ("premium".into(), vec!["premium".into()]));
    assert_eq!(by_cookie("carol", "mobile"), ("free".into(), vec!["everyone-mkt".into()]));
    assert_eq!(by_cookie("dave", "mobile"), ("free".into(), vec![]));
    assert_eq!(by_cookie("nobody", "mobile"), ("free".into(), vec![]));
    assert_eq!(engine.snapshot().expires_ms, Some(1_763_700_000_000 + 3_600_000));
}

/// A member's TCF string narrows their listed consents at build time exactly as at the edge.
#[test]
fn member_tcf_strings_narrow_listed_consents_and_are_counted() {
    let defs = CONSENT_DEFS.replace(
        r#""tiers": ["premium", "free"],"#,
        r#""tiers": ["premium", "free"],
           "consent": {"tcf": {"purposes": {"personalisation": [1, 5, 6], "marketing": [1, 3, 4, 7]}}},"#,
    );
    // TCF purposes 1, 5, 6, 8, 9 (tests/tools/tcf.py 1 5 6 8 9): personalisation yes, marketing no.
    let no_ads = "CQbP0NAQbP0NAEsACBENAwEgAI2AAAAAAAYgAAAAAAAA";
    let members = format!(
        "{{\"id\": \"alice\", \"consents\": [\"personalisation\", \"marketing\"], \"tcf\": \"{no_ads}\", \"attributes\": {{\"plan\": \"free\", \"engagement\": 80}}}}\n\
         {{\"id\": \"erin\", \"consents\": [\"personalisation\", \"marketing\"], \"tcf\": \"not-base64!\", \"attributes\": {{\"plan\": \"free\", \"engagement\": 80}}}}\n\
         {{\"id\": \"frank\", \"consents\": [\"personalisation\", \"marketing\"], \"attributes\": {{\"plan\": \"free\", \"engagement\": 80}}}}\n"
    );
    let built = build_jsonl(&defs, &members, &seeded(3)).unwrap();
    let s = &built.summary;
    let counts = |name: &str| {
        let g = seg(&s.segments, name);
        (g.members, g.excluded_no_consent, g.excluded_tcf)
    };
    // alice keeps personalisation, loses marketing to her TCF string; erin's string is unreadable,
    // so both mapped purposes go; frank has no string and keeps what he listed.
    assert_eq!(counts("engaged"), (2, 1, 1));
    assert_eq!(counts("everyone-mkt"), (1, 2, 2));
    let mut engine = Engine::load(&built.bytes).unwrap();
    let segments = |engine: &mut Engine, id: &str| {
        let cookie = format!("uid={id}");
        decide(engine, &request("/", None, vec![("cookie", cookie.as_str())])).1
    };
    assert_eq!(segments(&mut engine, "alice"), ["engaged"]);
    assert_eq!(segments(&mut engine, "erin"), Vec::<String>::new());
    assert_eq!(segments(&mut engine, "frank"), ["engaged", "everyone-mkt"]);
    assert!(s.to_string().contains("of-tcf"), "{s}");
}

#[test]
fn demo_round_trip_decides_like_the_profiles_say() {
    let members = sample_members(3000, 42);
    let built = demo_build(3000, 42, &seeded(42));
    let mut engine = Engine::load(&built.bytes).unwrap();
    assert_eq!(engine.snapshot().version, 1);
    let attr = |m: &edgeseg_snapshots::Member, k: &str| m.attribute(k).cloned().unwrap_or(Literal::Null);
    let mut checked = [0usize; 3];
    for m in &members {
        let plan = attr(m, "plan");
        let expected_tier = match &plan {
            Literal::String(p) if p == "premium" || p == "standard" => p.clone(),
            _ => "free".to_string(),
        };
        let cookie = format!("edgeseg_uid={}; theme=dark", m.id);
        let (tier, segments) = decide(&mut engine, &request("/checkout", Some("DE"), vec![("cookie", &cookie)]));
        assert_eq!(tier, expected_tier, "{}", m.id);
        let consents = |p: &str| m.consents.iter().any(|c| c == p);
        let high_value = matches!(attr(m, "ltv"), Literal::Number(x) if x > 500.0) && consents("personalisation");
        assert_eq!(segments.contains(&"high-value".to_string()), high_value, "{}", m.id);
        assert_eq!(segments.contains(&"high-value-checkout".to_string()), high_value, "{}", m.id);
        assert_eq!(segments.contains(&"checkout-visitors".to_string()), consents("analytics"), "{}", m.id);
        assert!(!segments.contains(&"de-mobile".to_string()), "no Mobile user agent was sent");
        checked[match tier.as_str() {
            "premium" => 0,
            "standard" => 1,
            _ => 2,
        }] += 1;
        // The same member identified by header instead of cookie gets the same tier.
        let (by_header, _) = decide(&mut engine, &request("/", None, vec![("X-Customer-Id", &m.id)]));
        assert_eq!(by_header, expected_tier);
    }
    assert!(checked.iter().all(|&n| n > 50), "{checked:?}");

    // Anonymous: default tier, and consent-gated rules fail closed; only the contract segment
    // that keeps checkout pages out of caches matches.
    let ua = "Mozilla/5.0 (iPhone; Mobile)";
    assert_eq!(
        decide(&mut engine, &request("/checkout", Some("DE"), vec![("user-agent", ua)])),
        ("free".into(), vec!["private-pages".into()])
    );
    // A consenting member on a DE mobile request matches the request rule.
    let m = members.iter().find(|m| m.consents.iter().any(|c| c == "personalisation")).unwrap();
    let cookie = format!("edgeseg_uid={}", m.id);
    let (_, segs) = decide(&mut engine, &request("/", Some("DE"), vec![("cookie", &cookie), ("user-agent", ua)]));
    assert!(segs.contains(&"de-mobile".to_string()), "{segs:?}");
    let (_, segs) = decide(&mut engine, &request("/", Some("FR"), vec![("cookie", &cookie), ("user-agent", ua)]));
    assert!(!segs.contains(&"de-mobile".to_string()), "{segs:?}");
}

#[test]
fn no_raw_member_id_is_in_the_snapshot() {
    let built = demo_build(2000, 5, &BuildOptions::default());
    let contains = |needle: &[u8]| built.bytes.windows(needle.len()).any(|w| w == needle);
    for id in ["u0000001", "u0000002", "u0000777", "u0001500", "u0002000"] {
        assert!(!contains(id.as_bytes()), "{id} is in the snapshot");
    }
    // Not even a shared prefix of the ids survives.
    assert!(!contains(b"u0000"), "an id prefix is in the snapshot");
    // Nor profile data: profile rules are evaluated here, never shipped. (Needles are long enough
    // that random fingerprint bytes cannot match them by chance; "ltv" could, one build in 500.)
    assert!(!contains(b"engagement"), "a profile attribute name is in the snapshot");
}

#[test]
fn seeded_builds_are_reproducible_and_unseeded_ones_are_not() {
    let (mut a, mut b) = (demo_build(1500, 9, &seeded(11)), demo_build(1500, 9, &seeded(11)));
    assert_eq!(a.bytes, b.bytes);
    // The member check's time is the one thing in a summary that is not a function of the inputs.
    for s in [&mut a.summary, &mut b.summary] {
        s.member_check.as_mut().unwrap().seconds = 0.0;
    }
    assert_eq!(a.summary, b.summary);
    let c = demo_build(1500, 9, &seeded(12));
    assert_ne!(a.bytes, c.bytes, "another seed, another key");

    let now = BuildOptions { created_ms: Some(1_763_700_000_000), ..BuildOptions::default() };
    let x = demo_build(1500, 9, &now);
    let y = demo_build(1500, 9, &now);
    assert_ne!(x.bytes, y.bytes, "random keys differ between builds");
    // …but describe the same snapshot.
    assert_eq!(
        x.summary.segments.iter().map(|s| s.members).collect::<Vec<_>>(),
        y.summary.segments.iter().map(|s| s.members).collect::<Vec<_>>()
    );
}

#[test]
fn bloom_segments_meet_their_false_positive_target() {
    let built = demo_build(20_000, 1, &seeded(1));
    let churn = seg(&built.summary.segments, "churn-risk");
    assert_eq!(churn.encoding.as_deref(), Some("bloom"));
    assert!(churn.members > 1000, "{}", churn.members);
    let measured = churn.measured_fp_rate.unwrap();
    assert!((0.004..0.02).contains(&measured), "measured {measured}");
    assert_eq!(churn.target_fp_rate, Some(0.01));
    // ~9.6 bits per member at 1%, far below exact's 64.
    let bits = churn.bytes as f64 * 8.0 / churn.members as f64;
    assert!((8.0..12.0).contains(&bits), "{bits} bits per member");
    let premium = seg(&built.summary.segments, "premium");
    assert_eq!((premium.encoding.as_deref(), premium.measured_fp_rate), (Some("exact"), None));
    // Compact exact by default; the plain form is format 1's 8 bytes a member.
    assert!((premium.bytes as u64) < premium.members * 8, "{} bytes for {}", premium.bytes, premium.members);
    let plain = demo_build(20_000, 1, &BuildOptions { exact_form: ExactForm::Plain, ..seeded(1) });
    assert_eq!(seg(&plain.summary.segments, "premium").bytes as u64, premium.members * 8);
    let rule_only = seg(&built.summary.segments, "de-mobile");
    assert_eq!((rule_only.encoding.as_deref(), rule_only.members, rule_only.bytes), (None, 0, 0));
    assert_eq!(rule_only.rule_nodes, 7);
}

#[test]
fn versions_default_from_definitions_then_clock() {
    let mut opts = seeded(1);
    assert_eq!(build_jsonl(CONSENT_DEFS, CONSENT_MEMBERS, &opts).unwrap().summary.version, 7);
    opts.version = Some(99);
    assert_eq!(build_jsonl(CONSENT_DEFS, CONSENT_MEMBERS, &opts).unwrap().summary.version, 99);
    let unversioned = CONSENT_DEFS.replace("\"version\": 7,", "");
    let b = build_jsonl(&unversioned, CONSENT_MEMBERS, &seeded(1)).unwrap();
    assert_eq!(b.summary.version, 1_763_700_000_000);
    let b = build_jsonl(&unversioned, CONSENT_MEMBERS, &BuildOptions { seed: Some(1), ..Default::default() }).unwrap();
    assert!(b.summary.version > 1_763_700_000_000, "defaults to the clock");
}

#[test]
fn build_files_reads_csv_and_jsonl_alike() {
    let dir = scratch("build-files");
    let defs = dir.join("demo.json");
    std::fs::write(&defs, sample::DEMO_DEFINITIONS).unwrap();
    let csv = dir.join("members.csv");
    std::fs::write(&csv, crate::sample_csv(500, 2)).unwrap();
    let from_csv = build_files(&defs, &csv, &seeded(4)).unwrap();

    let jsonl = dir.join("members.jsonl");
    let lines: String = sample_members(500, 2)
        .iter()
        .map(|m| {
            let attrs: serde_json::Map<String, serde_json::Value> = m
                .attributes
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Literal::Number(n) => serde_json::json!(n),
                        Literal::String(s) => serde_json::json!(s),
                        _ => serde_json::Value::Null,
                    };
                    (k.clone(), v)
                })
                .collect();
            format!("{}\n", serde_json::json!({"id": m.id, "consents": m.consents, "attributes": attrs}))
        })
        .collect();
    std::fs::write(&jsonl, lines).unwrap();
    let from_jsonl = build_files(&defs, &jsonl, &seeded(4)).unwrap();
    assert_eq!(from_csv.bytes, from_jsonl.bytes);

    let e = build_files(&dir.join("nope.json"), &csv, &seeded(4)).unwrap_err();
    assert_eq!(e.kind(), BuildErrorKind::Io);
}

#[test]
fn summary_display_is_a_table() {
    let built = demo_build(1000, 3, &seeded(3));
    let text = built.summary.to_string();
    assert!(text.starts_with("snapshot demo version 1:"), "{text}");
    for name in ["premium", "standard", "high-value", "churn-risk", "de-mobile", "checkout-visitors"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing:\n{text}");
    }
    assert!(!text.contains("u0000"), "{text}");
    let json = serde_json::to_value(&built.summary).unwrap();
    assert_eq!(json["segments"][0]["name"], "premium");
}

/// The demo at full size (under a second even in a debug build). For the table and timings:
/// `cargo test --release -p edgeseg-snapshots --test it -- --nocapture demo_at_100k`.
#[test]
fn demo_at_100k_members() {
    let dir = scratch("demo-100k");
    let (defs, csv) = (dir.join("demo.json"), dir.join("members.csv"));
    std::fs::write(&defs, sample::DEMO_DEFINITIONS).unwrap();
    let t = std::time::Instant::now();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    sample::write_members(&mut out, 100_000, 42).unwrap();
    drop(out);
    let generated = t.elapsed();
    let t = std::time::Instant::now();
    let built =
        build_files(&defs, &csv, &BuildOptions { created_ms: Some(1_763_700_000_000), ..Default::default() }).unwrap();
    let elapsed = t.elapsed();
    println!("{}", built.summary);
    println!("sample members: {generated:.2?}; build (read, filter, encode, self-check, fp probes): {elapsed:.2?}");
    assert_eq!(built.summary.members_read, 100_000);
    let premium = seg(&built.summary.segments, "premium");
    assert!((4000..6000).contains(&premium.members), "{}", premium.members);
    // Consent filtering visibly removes members from every consent-gated membership segment.
    for name in ["high-value", "churn-risk"] {
        assert!(seg(&built.summary.segments, name).excluded_no_consent > 1000, "{name}");
    }
}

#[test]
fn action_conflicts_are_reported_unless_provably_disjoint() {
    let defs = r#"{"id": "c", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract"], "tiers": ["all"],
      "segments": [
        {"name": "x-page", "purpose": "contract", "precedence": 50, "rule": {"==": [{"var": "path"}, "/x"]},
         "cache": {"mode": "public", "max_age": 60}},
        {"name": "y-page", "purpose": "contract", "precedence": 49, "rule": {"===": [{"var": "path"}, "/y"]},
         "cache": {"mode": "no-store"}},
        {"name": "shop", "purpose": "contract", "precedence": 40,
         "rule": {"starts_with": [{"var": "path"}, "/shop"]},
         "throttle": {"rate": 10, "key": "user"}, "route": {"pool": "shop"}},
        {"name": "cart", "purpose": "contract", "precedence": 30,
         "rule": {"and": [{"starts_with": [{"var": "path"}, "/shop/cart"]}, {"==": [{"var": "method"}, "POST"]}]},
         "throttle": {"rate": 2, "key": "user"}, "route": {"pool": "shop"}},
        {"name": "blog", "purpose": "contract", "precedence": 20,
         "rule": {"starts_with": [{"var": "path"}, "/blog"]}, "throttle": {"rate": 1, "key": "ip"}},
        {"name": "gold", "purpose": "contract", "precedence": 10,
         "members": {"where": {"==": [{"var": "plan"}, "gold"]}}, "route": {"pool": "gold"}},
        {"name": "basic", "purpose": "contract", "precedence": 5,
         "members": {"where": {"==": [{"var": "plan"}, "basic"]}}, "route": {"pool": "basic"}},
        {"name": "anyone", "purpose": "contract", "precedence": 1,
         "rule": {"!!": [{"var": "path"}]}, "cache": {"mode": "private"}}
      ]}"#;
    let members = "{\"id\": \"a\", \"attributes\": {\"plan\": \"gold\"}}\n{\"id\": \"b\", \"attributes\": {\"plan\": \"basic\"}}\n";
    let built = build_jsonl(defs, members, &seeded(1)).unwrap();
    let found: Vec<(&str, &str, &str)> =
        built.summary.conflicts.iter().map(|c| (c.action, c.winner.as_str(), c.shadowed.as_str())).collect();
    assert_eq!(
        found,
        [
            // x-page and y-page require different paths, but either can meet `anyone`.
            ("cache", "x-page", "anyone"),
            ("cache", "y-page", "anyone"),
            // /shop/cart extends /shop: both can match; the same route is no conflict.
            ("throttle", "shop", "cart"),
            // shop and blog have disjoint prefixes; gold and basic have disjoint members; a rule
            // segment and a member segment may overlap.
            ("route", "shop", "gold"),
            ("route", "shop", "basic"),
            ("route", "cart", "gold"),
            ("route", "cart", "basic"),
        ]
    );
    let text = built.summary.to_string();
    assert!(text.contains("action conflicts") && text.contains("throttle shop over cart"), "{text}");
}
