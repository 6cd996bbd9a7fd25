//! The demo pipeline end to end, through the CLI in-process: sample → build → inspect → replay.
//! Deterministic parts of its output are goldens (`EDGESEG_BLESS=1` rewrites them).

use edgeseg_host::cli;
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::replay::{ReplayOptions, ScheduledDelta, replay};
use edgeseg_host::traffic::TrafficReader;
use edgeseg_tests::golden::assert_golden;
use edgeseg_tests::{root, scratch, wasm_module};
use std::path::Path;

fn edgeseg(args: &[&str]) -> String {
    let mut out = Vec::new();
    let argv = std::iter::once("edgeseg").chain(args.iter().copied()).map(Into::into);
    if let Err(e) = cli::run(argv, &mut out) {
        panic!("edgeseg {}: {e:#}", args.join(" "));
    }
    String::from_utf8(out).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn demo_pipeline_matches_goldens() {
    let dir = scratch("demo");
    let defs = root().join("snapshots/data/demo.json");
    let snapshot = dir.join("demo.snapshot");
    let traffic = dir.join("traffic.jsonl");
    edgeseg(&["sample", "--seed", "42", "--members", "3000", "--requests", "2000", "--out-dir", s(&dir)]);
    edgeseg(&[
        "build",
        "--definitions",
        s(&defs),
        "--members",
        s(&dir.join("members.csv")),
        "--out",
        s(&snapshot),
        "--seed",
        "42",
        "--created-ms",
        "1763700000000",
    ]);
    assert_golden("tests/golden/demo-inspect.txt", &edgeseg(&["inspect", s(&snapshot)]));

    let delta = dir.join("revocations.delta");
    let said = edgeseg(&[
        "revoke",
        "--snapshot",
        s(&snapshot),
        "--revocations",
        s(&dir.join("revocations.txt")),
        "--sequence",
        "1",
        "--created-ms",
        "1763720000000",
        "--out",
        s(&delta),
    ]);
    assert!(said.starts_with("delta 1 for snapshot demo v1: 3 revocations"), "{said}");

    let replay_with = |deltas: Vec<ScheduledDelta>| {
        let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
        guest.load_snapshot(&std::fs::read(&snapshot).unwrap()).unwrap();
        let reader = TrafficReader::new(std::io::BufReader::new(std::fs::File::open(&traffic).unwrap()));
        replay(&mut guest, reader, &ReplayOptions { deltas, ..ReplayOptions::default() }).unwrap()
    };
    let report = replay_with(vec![ScheduledDelta { after: 1000, bytes: std::fs::read(&delta).unwrap() }]);
    assert_golden("tests/golden/demo-replay.txt", &report.to_text(false));
    assert_eq!(report.consent.violations, 0);
    assert_eq!(report.consent.deltas_applied, 1);
    // The revocations only bite after the delta lands: the same traffic without it has none, and
    // every other column of the consent report is unchanged.
    let revoked = |r: &edgeseg_host::replay::Report| r.consent.purposes.iter().map(|p| p.revoked).sum::<u64>();
    let without = replay_with(vec![]);
    assert!(revoked(&report) > 0, "the sample revokes its heaviest visitors");
    assert_eq!(revoked(&without), 0);
    let gpc = |r: &edgeseg_host::replay::Report| r.consent.purposes.iter().map(|p| p.gpc).collect::<Vec<_>>();
    assert_eq!(gpc(&report), gpc(&without));

    // The CLI's --json report agrees with the library's and accounts for every request.
    let json: serde_json::Value = serde_json::from_str(&edgeseg(&[
        "replay",
        "--module",
        s(wasm_module()),
        "--snapshot",
        s(&snapshot),
        "--traffic",
        s(&traffic),
        "--json",
    ]))
    .unwrap();
    let tiers = json["tiers"].as_array().expect("tiers array");
    let names: Vec<&str> = tiers.iter().map(|t| t["tier"].as_str().unwrap()).collect();
    assert_eq!(names, ["premium", "standard", "free"]);
    let total: u64 = tiers.iter().map(|t| t["requests"].as_u64().unwrap()).sum();
    assert_eq!(total, 2000);
    assert_eq!(json["requests"].as_u64(), Some(2000));
}
