//! Replay numbers on a small traffic set, worked out by hand from the fixture (see
//! `support::payload`).

use crate::support::{guest, snapshot};
use edgeseg_host::guest::GuestError;
use edgeseg_host::replay::{ReplayError, ReplayOptions, replay};
use edgeseg_host::traffic::{TrafficReader, TrafficRecord};

/// | line | who              | where              | segments                    | tier    |
/// |------|------------------|--------------------|-----------------------------|---------|
/// | 1    | u1 (cookie)      | DE mobile /        | vip mobile-de audience      | premium |
/// | 2    | u1 (cookie)      | FR /checkout/x     | vip audience checkout       | premium |
/// | 3    | u2 (header)      | DE mobile /        | vip mobile-de               | premium |
/// | 4    | u3 (cookie)      | /checkout          | plus audience checkout      | plus    |
/// | 5    | u4 (header)      | DE mobile /        | plus (u4 has no consent)    | plus    |
/// | 6    | anonymous        | DE mobile /checkout| checkout                    | free    |
/// | 7    | u5 (cookie)      | /                  | —                           | free    |
/// | 8    | malformed        |                    |                             |         |
/// | 9    | anonymous, array headers | /          | —                           | free    |
pub const TRAFFIC: &str = r#"{"now_ms": 1763719200000, "method": "GET", "host": "shop.example", "path": "/", "headers": {"cookie": "edgeseg_uid=u1"}, "country": "DE", "attributes": {"device": "mobile"}}
{"now_ms": 1763719200001, "method": "GET", "host": "shop.example", "path": "/checkout/x", "headers": {"cookie": "theme=dark; edgeseg_uid=u1"}, "country": "FR"}
{"now_ms": 1763719200002, "method": "GET", "host": "shop.example", "path": "/", "headers": {"x-customer-id": "u2"}, "country": "DE", "attributes": {"device": "mobile"}}
{"now_ms": 1763719200003, "method": "POST", "host": "shop.example", "path": "/checkout", "headers": {"cookie": "edgeseg_uid=u3"}, "status": 200, "latency_ms": 12.5}
{"now_ms": 1763719200004, "method": "GET", "path": "/", "headers": {"X-Customer-Id": "u4"}, "country": "DE", "attributes": {"device": "mobile"}}
{"now_ms": 1763719200005, "method": "GET", "path": "/checkout", "country": "DE", "attributes": {"device": "mobile"}}
{"now_ms": 1763719200006, "method": "GET", "path": "/", "headers": {"cookie": "edgeseg_uid=u5"}}
{"now_ms": "yesterday", "method": "GET", "path": "/"}
{"now_ms": 1763719200008, "method": "GET", "path": "/", "headers": [["accept", "*/*"], ["accept", "text/html"]]}
"#;

fn records(text: &str) -> impl Iterator<Item = Result<TrafficRecord, edgeseg_host::traffic::TrafficError>> + '_ {
    TrafficReader::new(text.as_bytes())
}

const EXPECTED_TEXT: &str = "\
snapshot           fixture v7
requests           8
decided            8
identified         6 (75.00% of decided)
malformed skipped  1
guest traps        0
guest errors       0

tier      requests    share    users   segments  seg/req  rejected    deprio
premium          3   37.50%        2          8     2.67         0         0
plus             2   25.00%        2          4     2.00         0         0
free             3   37.50%        1          1     0.33         0         0

tier     cache                                 route
premium  none 3                                default 3
plus     none 2                                default 2
free     none 3                                default 3
shadowed actions   cache 0, route 0, throttle 0
throttle keys      0 held, high-water 0 of 65536 (evictions 0)

segment     requests    share
vip                3   37.50%
plus               2   25.00%
mobile-de          2   25.00%
audience           3   37.50%
checkout           3   37.50%

consent violations 0
tcf invalid        0
cookie invalid     0
deltas applied     0
purpose           narrowed      gpc      tcf   cookie  revoked
personalisation          0        0        0        0        0
";

#[test]
fn report_numbers_match_the_hand_computation() {
    let mut guest = guest();
    guest.load_snapshot(&snapshot(7)).unwrap();
    let report =
        replay(&mut guest, records(TRAFFIC), &ReplayOptions { skip_malformed: true, ..ReplayOptions::default() })
            .unwrap();

    assert_eq!((report.snapshot_id.as_str(), report.snapshot_version), ("fixture", 7));
    assert_eq!((report.requests, report.decided, report.identified), (8, 8, 6));
    assert_eq!(report.identified_share_pct, 75.0);
    assert_eq!((report.malformed_skipped, report.guest_traps, report.guest_errors), (1, 0, 0));
    let tiers: Vec<_> = report
        .tiers
        .iter()
        .map(|t| (t.tier.as_str(), t.requests, t.share_pct, t.distinct_users, t.segments_matched))
        .collect();
    assert_eq!(tiers, [("premium", 3, 37.5, Some(2), 8), ("plus", 2, 25.0, Some(2), 4), ("free", 3, 37.5, Some(1), 1)]);
    assert_eq!(report.tiers[0].segments_per_request, 8.0 / 3.0);
    let segments: Vec<_> = report.segments.iter().map(|s| (s.segment.as_str(), s.requests)).collect();
    assert_eq!(segments, [("vip", 3), ("plus", 2), ("mobile-de", 2), ("audience", 3), ("checkout", 3)]);

    assert_eq!(report.to_text(false), EXPECTED_TEXT);

    // Timing fields are there, consistent, and kept out of the deterministic text.
    let timings = report.timings.as_ref().unwrap();
    let latency = timings.latency.as_ref().unwrap();
    assert_eq!(latency.samples, 8);
    assert!(latency.p50_us > 0.0 && latency.p50_us <= latency.p99_us);
    assert!(timings.decisions_per_sec > 0.0);
    for t in &report.tiers {
        let l = t.latency.as_ref().unwrap();
        assert!(l.p50_us <= l.p99_us);
    }
    let full = report.to_text(true);
    assert!(full.contains("decide latency") && full.contains("p50 µs") && full.contains("module "), "{full}");
    assert!(!full.contains("u1") && !full.contains("u5"), "customer ids must never be printed");
}

#[test]
fn json_report_is_the_same_numbers_and_strips_to_a_pure_function_of_the_input() {
    let mut guest = guest();
    guest.load_snapshot(&snapshot(7)).unwrap();
    let mut report =
        replay(&mut guest, records(TRAFFIC), &ReplayOptions { skip_malformed: true, ..ReplayOptions::default() })
            .unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["tiers"][0]["tier"], "premium");
    assert_eq!(json["tiers"][2]["distinct_users"], 1);
    assert_eq!(json["segments"][3]["segment"], "audience");
    assert!(json["timings"]["latency"]["p99_us"].is_number());
    report.strip_timings();
    let again = {
        let mut r =
            replay(&mut guest, records(TRAFFIC), &ReplayOptions { skip_malformed: true, ..ReplayOptions::default() })
                .unwrap();
        r.strip_timings();
        r
    };
    assert_eq!(serde_json::to_string(&report).unwrap(), serde_json::to_string(&again).unwrap());
}

#[test]
fn tiers_without_traffic_are_still_listed() {
    let mut guest = guest();
    guest.load_snapshot(&snapshot(1)).unwrap();
    let only_anonymous = "{\"now_ms\": 1, \"method\": \"GET\", \"path\": \"/\"}\n";
    let report = replay(&mut guest, records(only_anonymous), &ReplayOptions::default()).unwrap();
    let tiers: Vec<_> = report.tiers.iter().map(|t| (t.tier.as_str(), t.requests, t.latency.is_some())).collect();
    assert_eq!(tiers, [("premium", 0, false), ("plus", 0, false), ("free", 1, true)]);
    assert!(report.to_text(true).contains("        -"));
}

#[test]
fn a_malformed_line_stops_the_replay_unless_skipped() {
    let mut guest = guest();
    guest.load_snapshot(&snapshot(1)).unwrap();
    match replay(&mut guest, records(TRAFFIC), &ReplayOptions::default()) {
        Err(ReplayError::Traffic(e)) => {
            assert_eq!(e.line, 8);
            assert!(e.to_string().contains("line 8"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn replay_needs_a_snapshot() {
    let mut guest = guest();
    let e = replay(&mut guest, records(TRAFFIC), &ReplayOptions::default()).unwrap_err();
    assert!(matches!(e, ReplayError::Guest(GuestError::NoSnapshot)), "{e}");
}

#[test]
fn traps_are_counted_and_the_replay_goes_on() {
    let mut guest = guest();
    guest.load_snapshot(&snapshot(1)).unwrap();
    guest.set_fuel_per_call(Some(500)).unwrap();
    let report =
        replay(&mut guest, records(TRAFFIC), &ReplayOptions { skip_malformed: true, ..ReplayOptions::default() })
            .unwrap();
    assert_eq!((report.requests, report.decided, report.guest_traps), (8, 0, 8));
    assert!(report.tiers.iter().all(|t| t.requests == 0));
    let fallback = report.fallback.as_ref().unwrap();
    assert_eq!((fallback.answers, fallback.tier.as_str()), (8, "free"));
    let text = report.to_text(false);
    assert!(text.contains("guest traps        8"), "{text}");
    assert!(text.contains("fallback answers   8 (tier free;"), "{text}");
    let prom = report.to_prometheus();
    let line = prom.lines().find(|l| l.starts_with("edgeseg_replay_fallback_answers_total{")).unwrap();
    assert!(line.ends_with(" 8"), "{line}");
}
