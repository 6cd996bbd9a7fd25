//! `edgeseg diff`: a rule change that demotes premium members is caught before it ships.

use edgeseg_host::cli;
use edgeseg_tests::{root, scratch, wasm_module};
use std::collections::HashSet;
use std::path::Path;

fn edgeseg(args: &[&str]) -> Result<String, String> {
    let mut out = Vec::new();
    let argv = std::iter::once("edgeseg").chain(args.iter().copied()).map(Into::into);
    let result = cli::run(argv, &mut out);
    let text = String::from_utf8(out).unwrap();
    match result {
        Ok(()) => Ok(text),
        Err(e) => Err(format!("{text}\n{e:#}")),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_demoting_rule_change_fails_the_gate_and_names_the_segment() {
    let dir = scratch("diff");
    edgeseg(&["sample", "--seed", "11", "--members", "3000", "--requests", "4000", "--out-dir", s(&dir)]).unwrap();
    let defs = std::fs::read_to_string(root().join("snapshots/data/demo.json")).unwrap();
    // The new definitions restrict premium to customers with a lifetime value above 700.
    let narrowed = defs.replace(
        r#""members": {"where": {"==": [{"var": "plan"}, "premium"]}, "encoding": "exact"}"#,
        r#""members": {"where": {"and": [{"==": [{"var": "plan"}, "premium"]}, {">": [{"var": "ltv"}, 700]}]}, "encoding": "exact"}"#,
    );
    assert_ne!(defs, narrowed, "the demo's premium segment changed shape; update this test");
    let (old_defs, new_defs) = (dir.join("old.json"), dir.join("new.json"));
    std::fs::write(&old_defs, &defs).unwrap();
    std::fs::write(&new_defs, narrowed.replace(r#""version": 1,"#, r#""version": 2,"#)).unwrap();
    let members = dir.join("members.csv");
    for (d, out) in [(&old_defs, "old.snapshot"), (&new_defs, "new.snapshot")] {
        edgeseg(&["build", "--definitions", s(d), "--members", s(&members), "--out", s(&dir.join(out)), "--seed", "5"])
            .unwrap();
    }

    // Expected, from the files: premium members with ltv <= 700 who appear in the traffic.
    let demotable: HashSet<String> = std::fs::read_to_string(&members)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1] == "premium" && f[4].parse::<f64>().unwrap() <= 700.0).then(|| f[0].to_owned())
        })
        .collect();
    let seen: HashSet<String> = std::fs::read_to_string(dir.join("traffic.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let cookie = v["headers"]["cookie"]
                .as_str()
                .and_then(|c| c.split("; ").find_map(|p| p.strip_prefix("edgeseg_uid=")).map(str::to_owned));
            cookie.or_else(|| v["headers"]["x-customer-id"].as_str().map(str::to_owned))
        })
        .filter(|id| demotable.contains(id))
        .collect();
    assert!(seen.len() >= 3, "the sample should demote a few visiting premium members: {}", seen.len());

    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "diff".to_owned(),
            "--module".into(),
            s(wasm_module()).into(),
            "--old".into(),
            s(&dir.join("old.snapshot")).into(),
            "--new".into(),
            s(&dir.join("new.snapshot")).into(),
            "--traffic".into(),
            s(&dir.join("traffic.jsonl")).into(),
        ];
        a.extend(extra.iter().map(|x| (*x).to_owned()));
        a
    };
    let run = |a: Vec<String>| edgeseg(&a.iter().map(String::as_str).collect::<Vec<_>>());

    let failed = run(args(&["--forbid-demotion", "premium"])).unwrap_err();
    let expected = format!("FAIL forbid-demotion premium: {} users (", seen.len());
    assert!(failed.contains(&expected), "expected {expected:?} in:\n{failed}");
    assert!(failed.contains("segment premium stopped matching (its members changed"), "{failed}");
    assert!(failed.contains("gate failed: forbid-demotion premium"), "{failed}");

    // The gate off: exit 0, and the matrix shows where they went (premium → free).
    let ok = run(args(&[])).unwrap();
    assert!(ok.contains("tier transitions") && ok.contains("old \\ new"), "{ok}");
    let json: serde_json::Value = serde_json::from_str(&run(args(&["--json"])).unwrap()).unwrap();
    let tiers: Vec<&str> = json["tiers"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tiers, ["premium", "standard", "free"]);
    let cell = |o: usize, n: usize| json["matrix"][o][n]["users"].as_u64().unwrap();
    assert_eq!(cell(0, 2), seen.len() as u64, "premium → free users");
    assert_eq!(cell(0, 1), 0);
    assert_eq!(json["moved_users"].as_u64(), Some(seen.len() as u64));
    let premium = json["segments"].as_array().unwrap().iter().find(|s| s["segment"] == "premium").unwrap();
    assert_eq!(premium["gained"].as_u64(), Some(0));
    assert!(premium["lost"].as_u64().unwrap() >= seen.len() as u64);

    // A generous max-moved passes, a zero one fails with the share.
    assert!(run(args(&["--max-moved", "50%"])).is_ok());
    let e = run(args(&["--max-moved", "0"])).unwrap_err();
    assert!(e.contains("FAIL max-moved 0%") && e.contains("% of requests ("), "{e}");
    // The same snapshot on both sides moves nobody.
    let same = edgeseg(&[
        "diff",
        "--module",
        s(wasm_module()),
        "--old",
        s(&dir.join("old.snapshot")),
        "--new",
        s(&dir.join("old.snapshot")),
        "--traffic",
        s(&dir.join("traffic.jsonl")),
        "--forbid-demotion",
        "premium",
        "--max-moved",
        "0",
    ])
    .unwrap();
    assert!(same.contains("moved: 0 requests (0.00%), 0 users"), "{same}");
}
