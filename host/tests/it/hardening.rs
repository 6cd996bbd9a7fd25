//! Issue 10's hardening through the real module: configured limits, stale snapshots flagged,
//! refused loads by kind in the report, and no client-sent `edgeseg.*` baggage passed on.

use crate::replay::TRAFFIC;
use crate::support::{Req, guest, payload, snapshot};
use edgeseg::ErrorKind;
use edgeseg::delta::{ALL_PURPOSES, Revocation, RevocationDelta};
use edgeseg::snapshot::Limits;
use edgeseg_host::guest::{FallbackReason, GuestError};
use edgeseg_host::replay::{ReplayOptions, replay};
use edgeseg_host::traffic::TrafficReader;

/// The log's first request time (`crate::replay::TRAFFIC`), and `Req::request`'s.
const NOW: u64 = 1_763_719_200_000;

fn replay_all(guest: &mut edgeseg_host::guest::Guest) -> edgeseg_host::replay::Report {
    let opts = ReplayOptions { skip_malformed: true, ..ReplayOptions::default() };
    replay(guest, TrafficReader::new(TRAFFIC.as_bytes()), &opts).unwrap()
}

fn prom_line(prom: &str, prefix: &str) -> String {
    prom.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in\n{prom}")).to_owned()
}

#[test]
fn refused_loads_are_counted_by_kind_in_the_report_and_the_exposition() {
    let mut guest = guest();
    guest.swap_snapshot(&snapshot(5), NOW).unwrap();
    let mut expired = payload(6);
    expired.expires_ms = Some(NOW);
    let mut over_limit = payload(6);
    over_limit.ext.limits = Limits { segments: 4, ..Limits::default() };
    let mut flipped = snapshot(6);
    *flipped.last_mut().unwrap() ^= 1;
    for (bytes, kind) in [
        (expired.encode().unwrap(), ErrorKind::Expired),
        (snapshot(4), ErrorKind::Rollback),
        (snapshot(3), ErrorKind::Rollback),
        (flipped, ErrorKind::ChecksumMismatch),
        (over_limit.encode().unwrap(), ErrorKind::TooLarge),
    ] {
        assert_eq!(guest.swap_snapshot(&bytes, NOW).unwrap_err().kind(), Some(kind));
    }
    let by_kind: Vec<(&str, u64)> = guest.refused_loads_by_kind().iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(by_kind, [("ChecksumMismatch", 1), ("Expired", 1), ("Rollback", 2), ("TooLarge", 1)]);
    assert_eq!(guest.refused_loads(), 5);

    let report = replay_all(&mut guest);
    assert_eq!(report.snapshot_version, 5, "the last good snapshot kept serving");
    assert_eq!(report.refused_loads, guest.refused_loads_by_kind().clone());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["refused_loads"]["Rollback"], 2);
    assert!(report.to_text(false).contains("refused loads      ChecksumMismatch 1, Expired 1, Rollback 2, TooLarge 1"));
    let prom = report.to_prometheus();
    let line = prom_line(&prom, r#"edgeseg_replay_refused_loads_total{snapshot="fixture@5",kind="Rollback"}"#);
    assert!(line.ends_with(" 2"), "{line}");
}

#[test]
fn a_snapshot_past_its_expiry_keeps_serving_flagged_stale() {
    let mut guest = guest();
    // Loaded while fresh; the log runs past its expiry (first request at NOW, the rest later).
    let mut p = payload(8);
    p.expires_ms = Some(NOW + 3);
    guest.load_snapshot(&p.encode().unwrap()).unwrap();
    let u1 = Req { path: "/".into(), headers: vec![("cookie".into(), "edgeseg_uid=u1".into())], ..Req::default() };
    let fresh = guest.decide(&u1.request()).unwrap();
    assert!(!fresh.stale && !fresh.headers.iter().any(|(n, _)| n == "x-edgeseg-stale"));

    let report = replay_all(&mut guest);
    // Requests at NOW+3 and later (5 of the 8 decided) are stale, and still decided normally.
    assert_eq!((report.decided, report.stale_decisions), (8, 5));
    assert_eq!(report.tiers[0].requests, 3, "premium requests are still premium");
    assert!(report.to_text(false).contains("stale decisions    5"));
    let line = prom_line(&report.to_prometheus(), "edgeseg_replay_stale_decisions_total{");
    assert!(line.ends_with(" 5"), "{line}");
    assert_eq!(guest.stats().unwrap().stale_decisions, 5);

    let mut late = u1.request();
    late.now_ms = NOW + 3;
    let d = guest.decide(&late).unwrap();
    assert_eq!(d.tier, "premium");
    assert!(d.stale);
    assert!(d.headers.contains(&("x-edgeseg-stale".to_owned(), "1".to_owned())));
}

#[test]
fn a_header_over_the_snapshot_s_limit_is_read_as_absent_and_counted() {
    let mut guest = guest();
    let mut p = payload(2);
    p.ext.limits = Limits { header_bytes: 32, ..Limits::default() };
    guest.load_snapshot(&p.encode().unwrap()).unwrap();
    let cookie = |v: &str| Req { path: "/".into(), headers: vec![("cookie".into(), v.into())], ..Req::default() };
    let short = guest.decide(&cookie("edgeseg_uid=u1").request()).unwrap();
    assert_eq!((short.tier.as_str(), short.identified), ("premium", true));
    let long = guest.decide(&cookie(&format!("edgeseg_uid=u1; pad={}", "x".repeat(32))).request()).unwrap();
    assert_eq!((long.tier.as_str(), long.identified), ("free", false), "skipped, not trapped");
    let megabyte = guest.decide(&cookie(&format!("edgeseg_uid=u1; pad={}", "x".repeat(1 << 20))).request()).unwrap();
    assert_eq!(megabyte.tier, "free");
    assert_eq!(guest.stats().unwrap().headers_skipped, 2);
    let report = replay_all(&mut guest);
    assert_eq!(report.headers_skipped, Some(2), "the log's headers are all short");
    let line = prom_line(&report.to_prometheus(), "edgeseg_replay_headers_skipped_total{");
    assert!(line.ends_with(" 2"), "{line}");
}

#[test]
fn a_delta_over_the_snapshot_s_delta_bytes_is_refused_and_the_applied_one_stays() {
    let mut guest = guest();
    let mut p = payload(3);
    p.ext.limits = Limits { delta_bytes: 256, ..Limits::default() };
    guest.load_snapshot(&p.encode().unwrap()).unwrap();
    let key = p.fingerprint_key.key_id();
    let delta = |seq: u64, n: u64| {
        let entries = (1..=n).map(|i| Revocation { fingerprint: i << 44, purposes: ALL_PURPOSES }).collect();
        RevocationDelta::new("fixture", 3, key, seq, 0, entries).encode().unwrap()
    };
    guest.apply_delta(&delta(1, 3)).unwrap();
    let big = delta(2, 40);
    assert!(big.len() > 256);
    let e = guest.apply_delta(&big).unwrap_err();
    assert_eq!(e.kind(), Some(ErrorKind::TooLarge), "{e}");
    let stats = guest.stats().unwrap();
    assert_eq!((stats.delta_sequence, stats.revocations), (Some(1), 3));
}

#[test]
fn client_edgeseg_baggage_never_passes_the_decision_or_the_fallback() {
    let mut guest = guest();
    guest.load_snapshot(&snapshot(4)).unwrap();
    let spoof = Req {
        path: "/".into(),
        headers: vec![("baggage".into(), "edgeseg.tier=premium, a=1, edgeseg.segments=vip".into())],
        ..Req::default()
    };
    let normal = guest.decide_or_fallback(&spoof.request()).unwrap();
    assert_eq!(normal.fallback, None);
    let baggage =
        |d: &edgeseg_host::guest::OwnedDecision| d.headers.iter().find(|(n, _)| n == "baggage").map(|(_, v)| v.clone());
    assert_eq!(baggage(&normal.decision).as_deref(), Some("a=1,edgeseg.tier=free,edgeseg.snapshot=4"));

    guest.set_fuel_per_call(Some(500)).unwrap();
    let fallback = guest.decide_or_fallback(&spoof.request()).unwrap();
    assert!(matches!(fallback.fallback, Some((FallbackReason::GuestTrap, GuestError::Trap(_)))));
    assert_eq!(baggage(&fallback.decision).as_deref(), Some("a=1"));
    // Only edgeseg members: the fallback says to send no baggage at all.
    let only =
        Req { path: "/".into(), headers: vec![("baggage".into(), "edgeseg.tier=premium".into())], ..Req::default() };
    assert_eq!(baggage(&guest.decide_or_fallback(&only.request()).unwrap().decision).as_deref(), Some(""));
    // No client baggage: nothing to override.
    let none = Req { path: "/".into(), ..Req::default() };
    assert_eq!(baggage(&guest.decide_or_fallback(&none.request()).unwrap().decision), None);

    // Issue 19: the prefix in another case, and a second `baggage` header, were passed on.
    guest.set_fuel_per_call(None).unwrap();
    let sneaky = Req {
        path: "/".into(),
        headers: vec![
            ("baggage".into(), "a=1".into()),
            ("Baggage".into(), "EDGESEG.tier=premium, b=2".into()),
            ("baggage".into(), "Edgeseg.Segments=vip".into()),
        ],
        ..Req::default()
    };
    let normal = guest.decide_or_fallback(&sneaky.request()).unwrap();
    assert_eq!(normal.fallback, None);
    assert_eq!(baggage(&normal.decision).as_deref(), Some("a=1,b=2,edgeseg.tier=free,edgeseg.snapshot=4"));
    guest.set_fuel_per_call(Some(500)).unwrap();
    let fallback = guest.decide_or_fallback(&sneaky.request()).unwrap();
    assert!(fallback.fallback.is_some());
    assert_eq!(baggage(&fallback.decision).as_deref(), Some("a=1,b=2"));
}
