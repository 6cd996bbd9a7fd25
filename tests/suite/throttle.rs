//! Throttles across instances: a host that creates a fresh instance per request (Fastly Compute)
//! carries each key's GCRA state out of one decision and into the next instance, through the ABI,
//! and gets exactly the verdicts one long-lived instance would give.

use edgeseg::ThrottleResult;
use edgeseg_host::guest::{Guest, GuestConfig, OwnedDecision};
use edgeseg_host::traffic::TrafficReader;
use edgeseg_tests::{scratch_per_call, spec, wasm_module};

const DEFS: &str = r#"{"id": "fresh", "purposes": ["contract"], "tiers": ["all"],
  "tier_actions": {"all": {"throttle": {"rate": 2, "period_s": 1, "burst": 4, "key": "ip"}}},
  "segments": [{"name": "any", "purpose": "contract", "rule": {"!!": [{"var": "path"}]}}]}"#;

fn snapshot() -> Vec<u8> {
    let spec = spec::SpecFile {
        description: String::new(),
        definitions: serde_json::from_str(DEFS).unwrap(),
        members: vec![],
        cases: vec![],
    };
    spec::build_snapshot(&spec, &scratch_per_call("throttle-fresh"))
}

fn request(now_ms: u64, ip: &str) -> edgeseg_host::traffic::TrafficRecord {
    let line = format!(r#"{{"now_ms": {now_ms}, "method": "GET", "path": "/", "client_ip": "{ip}"}}"#);
    TrafficReader::new(format!("{line}\n").as_bytes()).next().unwrap().unwrap()
}

#[test]
fn state_handed_between_fresh_instances_gives_the_long_lived_verdicts() {
    let bytes = snapshot();
    let mut long_lived = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    long_lived.load_snapshot(&bytes).unwrap();
    // The host's own store of throttle state, keyed by the opaque state key.
    let mut store: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();

    // Seven requests from one address within 1.5 s, then one from another address.
    let times = [0u64, 0, 100, 200, 300, 900, 1500];
    let mut verdicts = Vec::new();
    for (i, t) in times.iter().enumerate() {
        let record = request(1_763_700_000_000 + t, "192.0.2.10");
        let expected = long_lived.decide(&record.request()).unwrap();

        let mut fresh = long_lived.sibling(GuestConfig::default()).unwrap();
        fresh.load_snapshot(&bytes).unwrap();
        let entries: Vec<(u64, u64)> = store.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(fresh.import_throttle_state(&entries).unwrap() as usize, entries.len());
        let got: OwnedDecision = fresh.decide(&record.request()).unwrap();
        let t = got.throttle.as_ref().expect("the tier throttle applies");
        store.insert(t.state_key, t.state);
        assert_eq!(got, expected, "request {i} at +{}ms", times[i]);
        verdicts.push(t.result);
    }
    use ThrottleResult::{Allowed, Rejected};
    // T = 500 ms, burst 4 (tolerance 1500 ms): +0, +0, +100, +200 use the burst (TAT +2000); at
    // +300 four units are owed, so it is rejected; +900 owes three (allowed, TAT +2500); +1500
    // owes two (allowed).
    assert_eq!(verdicts, [Allowed, Allowed, Allowed, Allowed, Rejected, Allowed, Allowed]);

    // Without the handed-over state a fresh instance would have let the fifth request through.
    let mut amnesiac = long_lived.sibling(GuestConfig::default()).unwrap();
    amnesiac.load_snapshot(&bytes).unwrap();
    let first = amnesiac.decide(&request(1_763_700_000_300, "192.0.2.10").request()).unwrap();
    assert_eq!(first.throttle.unwrap().result, Allowed);

    // The engine counts the keys it holds; the long-lived instance holds one (one address).
    let stats = long_lived.stats().unwrap();
    assert_eq!((stats.throttle_keys, stats.throttle_keys_high_water), (1, 1));
}

#[test]
fn import_refuses_an_oversized_message_without_trapping() {
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&snapshot()).unwrap();
    let too_many: Vec<(u64, u64)> = (0..5000).map(|k| (k, 1)).collect();
    let e = guest.import_throttle_state(&too_many).unwrap_err();
    assert!(e.to_string().contains("limit"), "{e}");
    assert_eq!(guest.traps(), 0);
    assert_eq!(guest.import_throttle_state(&[(7, 1)]).unwrap(), 1);
}

/// Issue 19, finding 2: the demo's free tier throttles per user (burst 10, 2/s). A client that
/// sends a fresh made-up `edgeseg_uid` with every request, or rotates IPv6 addresses inside one
/// /64, or spells one IPv4 address seven ways, used to get a fresh bucket each time (0 of 100
/// rejected). Ids that are no member now key by the client IP, and IPs are canonical: natively and
/// in wasmtime, about 90 of 100 are rejected.
#[test]
fn rotating_ids_addresses_or_spellings_still_gets_throttled() {
    use edgeseg_snapshots::{BuildOptions, Definitions, build, sample};
    let defs = Definitions::load(&edgeseg_tests::root().join("snapshots/data/demo.json")).unwrap();
    let snap =
        build(&defs, sample::members(1_000, 42), &BuildOptions { seed: Some(3), ..Default::default() }).unwrap().bytes;
    let line = |i: u64, cookie: &str, ip: &str| {
        format!(
            r#"{{"now_ms": {}, "method": "GET", "host": "shop.example", "path": "/catalog", "headers": [["cookie", "{cookie}"]], "client_ip": "{ip}"}}"#,
            1_763_720_000_000 + i
        )
    };
    let spellings = [
        "198.51.100.7",
        " 198.51.100.7",
        "198.51.100.7:443",
        "::ffff:198.51.100.7",
        "::FFFF:c633:6407",
        "0:0:0:0:0:ffff:c633:6407",
        "[::ffff:198.51.100.7]:8080",
    ];
    type Attack<'a> = (&'static str, Box<dyn Fn(u64) -> String + 'a>);
    let attacks: [Attack<'_>; 3] = [
        ("fresh made-up ids", Box::new(|i| line(i, &format!("edgeseg_uid=forged-{i}"), "203.0.113.9"))),
        ("IPv6 rotation in one /64", Box::new(|i| line(i, "", &format!("2001:db8:1:2:{:x}::{:x}", i * 7, i)))),
        ("seven spellings of one IPv4", Box::new(move |i| line(i, "", spellings[(i % 7) as usize]))),
    ];
    for (what, make) in attacks {
        let records: Vec<_> = (0..100)
            .map(|i| TrafficReader::new(format!("{}\n", make(i)).as_bytes()).next().unwrap().unwrap())
            .collect();
        let mut native = edgeseg::Engine::load(&snap).unwrap();
        let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
        guest.load_snapshot(&snap).unwrap();
        let (mut native_rejected, mut guest_rejected) = (0, 0);
        for r in &records {
            let d = native.decide(&r.request());
            assert_eq!(d.tier, "free", "{what}");
            native_rejected += u32::from(d.rejected());
            let g = guest.decide(&r.request()).unwrap();
            guest_rejected += u32::from(g.throttle.as_ref().is_some_and(|t| t.result == ThrottleResult::Rejected));
        }
        assert!(native_rejected >= 85, "{what}: only {native_rejected} of 100 rejected natively");
        assert_eq!(native_rejected, guest_rejected, "{what}: native and wasmtime disagree");
    }
}

/// A member's own id still keys its own bucket (members are not lumped behind a shared IP).
#[test]
fn members_keep_their_own_buckets_behind_one_ip() {
    use edgeseg_snapshots::{BuildOptions, Definitions, build, sample};
    let defs = Definitions::load(&edgeseg_tests::root().join("snapshots/data/demo.json")).unwrap();
    let snap =
        build(&defs, sample::members(1_000, 42), &BuildOptions { seed: Some(3), ..Default::default() }).unwrap().bytes;
    let mut engine = edgeseg::Engine::load(&snap).unwrap();
    let (mut rejected, mut free) = (0, 0);
    for i in 0..100u64 {
        let line = format!(
            r#"{{"now_ms": {}, "method": "GET", "host": "shop.example", "path": "/catalog", "headers": [["cookie", "edgeseg_uid={}"]], "client_ip": "203.0.113.9"}}"#,
            1_763_720_000_000 + i,
            sample::member_id(i)
        );
        let r = TrafficReader::new(format!("{line}\n").as_bytes()).next().unwrap().unwrap();
        let d = engine.decide(&r.request());
        free += u32::from(d.tier == "free");
        rejected += u32::from(d.rejected());
    }
    assert!(free > 50, "{free}");
    assert_eq!(rejected, 0, "one request per member: no member is throttled by another's traffic");
}

/// Replay reports evasion: the most throttle buckets one client address reached. A client minting
/// ids reaches one (they collapse to its address); members behind one address reach one each.
#[test]
fn replay_reports_buckets_per_address() {
    use edgeseg_host::replay::{ReplayOptions, replay};
    use edgeseg_snapshots::{BuildOptions, Definitions, build, sample};
    let defs = Definitions::load(&edgeseg_tests::root().join("snapshots/data/demo.json")).unwrap();
    let snap =
        build(&defs, sample::members(1_000, 42), &BuildOptions { seed: Some(3), ..Default::default() }).unwrap().bytes;
    let log = |uid: &dyn Fn(u64) -> String| -> String {
        (0..50u64)
            .map(|i| {
                format!(
                    r#"{{"now_ms": {}, "method": "GET", "host": "shop.example", "path": "/catalog", "headers": [["cookie", "edgeseg_uid={}"]], "client_ip": "203.0.113.9"}}"#,
                    1_763_720_000_000 + i * 1000,
                    uid(i)
                ) + "\n"
            })
            .collect()
    };
    let run = |text: String| {
        let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
        guest.load_snapshot(&snap).unwrap();
        replay(&mut guest, TrafficReader::new(text.as_bytes()), &ReplayOptions::default())
            .unwrap()
            .throttle_state
            .unwrap()
    };
    let forged = run(log(&|i| format!("forged-{i}")));
    assert_eq!((forged.addresses, forged.max_buckets_per_address), (1, 1), "{forged:?}");
    let members = run(log(&|i| sample::member_id(i)));
    assert_eq!(members.addresses, 1);
    assert!(members.max_buckets_per_address > 10, "{members:?}");
    assert_eq!(members.addresses_with_several_buckets, 1);
}

/// Issue 19: a verified identity keys its own bucket even when it is in no set (a client cannot
/// mint one: the origin signs it), while tokens that prove nothing — forged under a guessed
/// secret — are anonymous and share the client IP's bucket. Natively (the host's `Verifier` over
/// the engine's `identity_claim`) and in wasmtime (`Guest::decide` verifies) alike.
#[test]
fn verified_ids_key_their_own_buckets_and_forged_tokens_share_the_ip() {
    use edgeseg::identity::Claim;
    use edgeseg_host::identity::{Verifier, sign_hmac};
    use edgeseg_snapshots::{BuildOptions, Definitions, build, sample};
    let mut defs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(edgeseg_tests::root().join("snapshots/data/demo.json")).unwrap())
            .unwrap();
    defs["identity"] =
        serde_json::json!([{"cookie": "edgeseg_sid", "verify": {"hmac": {"secret_env": "DEMO_ID_SECRET"}}}]);
    let defs = Definitions::from_json(&defs.to_string()).unwrap();
    let snap =
        build(&defs, sample::members(1_000, 42), &BuildOptions { seed: Some(3), ..Default::default() }).unwrap().bytes;
    let now_ms = 1_763_720_000_000u64;
    let line = |i: u64, value: &str| {
        format!(
            r#"{{"now_ms": {}, "method": "GET", "host": "shop.example", "path": "/catalog", "headers": [["cookie", "edgeseg_sid={value}"]], "client_ip": "203.0.113.9"}}"#,
            now_ms + i
        )
    };
    let exp = now_ms / 1000 + 3600;
    type Case = (&'static str, Box<dyn Fn(u64) -> String>, u32, u32);
    let cases: [Case; 2] = [
        ("verified visitors", Box::new(move |i| sign_hmac(&format!("visitor-{i}"), exp, b"origin secret")), 0, 0),
        (
            "forged under a guessed secret",
            Box::new(move |i| sign_hmac(&format!("visitor-{i}"), exp, b"guess")),
            85,
            100,
        ),
    ];
    for (what, token, min_rejected, refused) in cases {
        let mut native = edgeseg::Engine::load(&snap).unwrap();
        let mut verifier = Verifier::default();
        verifier.set_secret("DEMO_ID_SECRET", b"origin secret");
        let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
        guest.load_snapshot(&snap).unwrap();
        guest.identity_verifier().set_secret("DEMO_ID_SECRET", b"origin secret");
        let (mut native_rejected, mut guest_rejected) = (0, 0);
        for i in 0..100 {
            let record = TrafficReader::new(format!("{}\n", line(i, &token(i))).as_bytes()).next().unwrap().unwrap();
            let req = record.request();
            let proved = match native.identity_claim(&req) {
                Claim::Token { token, verify, .. } => verifier.verify(token, verify, req.now_ms).ok(),
                other => panic!("{what}: no token claimed: {other:?}"),
            };
            let req = edgeseg::Request { verified_id: proved.as_deref(), ..req };
            let d = native.decide(&req);
            assert_eq!((d.tier, d.identified), ("free", proved.is_some()), "{what}");
            native_rejected += u32::from(d.rejected());
            let g = guest.decide(&record.request()).unwrap();
            guest_rejected += u32::from(g.throttle.as_ref().is_some_and(|t| t.result == ThrottleResult::Rejected));
        }
        assert!(
            native_rejected >= min_rejected && (min_rejected > 0 || native_rejected == 0),
            "{what}: {native_rejected} rejected"
        );
        assert_eq!(native_rejected, guest_rejected, "{what}: native and wasmtime disagree");
        assert_eq!(verifier.refused.values().sum::<u64>(), u64::from(refused), "{what}");
        assert_eq!(
            guest.identity_verifier().refused.get("signature").copied().unwrap_or(0),
            u64::from(refused),
            "{what}"
        );
        assert_eq!(native.stats().identity_refused, u64::from(refused), "{what}");
    }
}

/// Issue 19: the IPv6 prefix is the definitions' (`client_ip.ipv6_prefix_bits`), and a header is
/// read for the client address only when the definitions name it as a trusted proxy's — its last
/// entry, so a client prepending made-up addresses gets no fresh bucket. Natively and in wasmtime.
#[test]
fn the_definitions_set_the_ipv6_prefix_and_a_trusted_proxy_header() {
    use edgeseg_snapshots::{BuildOptions, Definitions, build, sample};
    let mut defs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(edgeseg_tests::root().join("snapshots/data/demo.json")).unwrap())
            .unwrap();
    defs["client_ip"] = serde_json::json!({"ipv6_prefix_bits": 56, "trusted_header": "x-forwarded-for"});
    let defs = Definitions::from_json(&defs.to_string()).unwrap();
    let snap =
        build(&defs, sample::members(1_000, 42), &BuildOptions { seed: Some(3), ..Default::default() }).unwrap().bytes;
    let line = |i: u64, ip: Option<String>, xff: &str| {
        let ip = ip.map_or(String::new(), |ip| format!(r#", "client_ip": "{ip}""#));
        format!(
            r#"{{"now_ms": {}, "method": "GET", "host": "shop.example", "path": "/catalog", "headers": [["x-forwarded-for", "{xff}"]]{ip}}}"#,
            1_763_720_000_000 + i
        )
    };
    type Attack<'a> = (&'static str, Box<dyn Fn(u64) -> String + 'a>);
    let attacks: [Attack<'_>; 2] = [
        (
            "IPv6 rotation across /64s in one /56",
            Box::new(|i| line(i, Some(format!("2001:db8:1:2{:02x}::{:x}", i % 200, i)), "")),
        ),
        (
            "made-up addresses before the proxy's entry",
            Box::new(|i| line(i, None, &format!("10.9.{}.{}, 203.0.113.9", i / 250, i % 250))),
        ),
    ];
    for (what, make) in attacks {
        let mut native = edgeseg::Engine::load(&snap).unwrap();
        let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
        guest.load_snapshot(&snap).unwrap();
        let (mut native_rejected, mut guest_rejected) = (0, 0);
        for i in 0..100 {
            let r = TrafficReader::new(format!("{}\n", make(i)).as_bytes()).next().unwrap().unwrap();
            native_rejected += u32::from(native.decide(&r.request()).rejected());
            let g = guest.decide(&r.request()).unwrap();
            guest_rejected += u32::from(g.throttle.as_ref().is_some_and(|t| t.result == ThrottleResult::Rejected));
        }
        assert!(native_rejected >= 85, "{what}: only {native_rejected} of 100 rejected natively");
        assert_eq!(native_rejected, guest_rejected, "{what}: native and wasmtime disagree");
    }
}
