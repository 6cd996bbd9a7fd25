//! SLO tooling checked by Prometheus's own `promtool` (Debian `prometheus`, installed by `cargo
//! xtask test`): the generated rules load, the replay's exposition parses.

use edgeseg_host::cli;
use edgeseg_tests::{root, scratch, wasm_module};
use std::path::Path;
use std::process::Command;

fn edgeseg(args: &[&str]) -> String {
    let mut out = Vec::new();
    let argv = std::iter::once("edgeseg").chain(args.iter().copied()).map(Into::into);
    if let Err(e) = cli::run(argv, &mut out) {
        panic!("edgeseg {}: {e:#}", args.join(" "));
    }
    String::from_utf8(out).unwrap()
}

fn promtool(args: &[&str], stdin: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new("promtool");
    cmd.args(args);
    if let Some(p) = stdin {
        cmd.stdin(std::fs::File::open(p).unwrap());
    }
    cmd.output().unwrap_or_else(|e| {
        panic!("promtool not runnable ({e}); `cargo xtask test` installs it (apt-get install prometheus)")
    })
}

#[test]
fn promtool_accepts_the_generated_rules_and_the_replay_exposition() {
    let dir = scratch("slo");
    let defs = root().join("snapshots/data/demo.json");
    let rules = edgeseg(&["slo", "rules", "--definitions", defs.to_str().unwrap()]);
    // Three tiers with SLOs (defaults by name), four alerts each, five recording rules.
    assert_eq!(rules.matches("- alert:").count(), 12, "{rules}");
    assert_eq!(rules.matches("- record:").count(), 5, "{rules}");
    assert!(rules.contains(r#"edgeseg:error_ratio:rate1h{tier="premium"} > 0.007200 and edgeseg:error_ratio:rate5m{tier="premium"} > 0.007200"#), "{rules}");
    let path = dir.join("rules.yml");
    std::fs::write(&path, &rules).unwrap();
    let checked = promtool(&["check", "rules", path.to_str().unwrap()], None);
    assert!(
        checked.status.success(),
        "promtool check rules:\n{}\n{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(String::from_utf8_lossy(&checked.stdout).contains("SUCCESS: 17 rules found"));

    // A label name Prometheus would reject is refused before any YAML is written.
    let mut out = Vec::new();
    let argv = ["edgeseg", "slo", "rules", "--definitions", defs.to_str().unwrap(), "--tier-label", "x-tier"];
    assert!(cli::run(argv.iter().map(Into::into), &mut out).is_err());

    edgeseg(&["sample", "--seed", "3", "--members", "2000", "--requests", "3000", "--out-dir", dir.to_str().unwrap()]);
    let snapshot = dir.join("demo.snapshot");
    let members = dir.join("members.csv");
    edgeseg(&[
        "build",
        "--definitions",
        defs.to_str().unwrap(),
        "--members",
        members.to_str().unwrap(),
        "--out",
        snapshot.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    let prom = dir.join("replay.prom");
    edgeseg(&[
        "replay",
        "--module",
        wasm_module().to_str().unwrap(),
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--traffic",
        dir.join("traffic.jsonl").to_str().unwrap(),
        "--prometheus",
        prom.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains(r#"edgeseg_replay_consent_violations_total{snapshot="demo@1"} 0"#), "{text}");
    assert!(text.contains("edgeseg_replay_slo_burn_rate_max{"), "{text}");
    let checked = promtool(&["check", "metrics"], Some(&prom));
    assert!(
        checked.status.success(),
        "promtool check metrics:\n{}\n{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}
