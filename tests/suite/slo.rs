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

/// Writes `yaml` to `path` and asserts `promtool check rules` accepts it with `count` rules.
fn check_rules(path: &Path, yaml: &str, count: usize) {
    std::fs::write(path, yaml).unwrap();
    let checked = promtool(&["check", "rules", path.to_str().unwrap()], None);
    let stdout = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "promtool check rules:\n{stdout}\n{}", String::from_utf8_lossy(&checked.stderr));
    assert!(stdout.contains(&format!("SUCCESS: {count} rules found")), "{stdout}");
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
    check_rules(&dir.join("rules.yml"), &rules, 17);

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

#[test]
fn the_grafana_dashboard_has_a_row_per_tier_and_every_query_passes_promtool() {
    let dir = scratch("slo-dashboard");
    let defs = root().join("snapshots/data/demo.json");
    let defs = defs.to_str().unwrap();
    let text =
        edgeseg(&["slo", "dashboard", "--definitions", defs, "--latency-histogram", "http_request_duration_seconds"]);
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let panels = dash["panels"].as_array().unwrap();
    let rows: Vec<&str> = panels.iter().filter(|p| p["type"] == "row").map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(rows, ["premium — SLO 99.95%, p99 < 200 ms", "standard — SLO 99.9%, p99 < 500 ms", "free — SLO 99%"]);
    // Four panels under each row, none overlapping: request rate, error ratio, burn rate, p99.
    assert_eq!(panels.len(), 3 * 5);
    let mut cells = std::collections::HashSet::new();
    for p in panels.iter().filter(|p| p["type"] == "timeseries") {
        let g = &p["gridPos"];
        assert!(cells.insert((g["x"].as_u64().unwrap(), g["y"].as_u64().unwrap())), "overlap at {g}");
        assert!(g["x"].as_u64().unwrap() + g["w"].as_u64().unwrap() <= 24, "{g}");
    }
    let by_title = |t: &str| panels.iter().find(|p| p["title"] == t).unwrap_or_else(|| panic!("no panel {t}"));
    // The premium error ratio is drawn against its 0.05% allowance; burn thresholds are the alerts'.
    let err = by_title("premium: error ratio (5m) vs allowance");
    assert_eq!(err["targets"][0]["expr"], r#"edgeseg:error_ratio:rate5m{tier="premium"}"#);
    assert_eq!(err["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"], 0.0005);
    let burn = by_title("free: burn rate (x budget)");
    let steps: Vec<f64> = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["value"].as_f64())
        .collect();
    assert_eq!(steps, [2.0, 4.0, 6.0, 14.4]);
    assert_eq!(burn["targets"][3]["expr"], r#"edgeseg:error_ratio:rate1h{tier="free"} / 0.01"#);
    let p99 = by_title("standard: p99 latency");
    assert_eq!(p99["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"], 0.5);

    // Every query is valid PromQL, and every recording rule it reads is one `slo rules` defines:
    // promtool checks them as recording rules of one file together with the generated rules.
    let rules = edgeseg(&["slo", "rules", "--definitions", defs]);
    let exprs = edgeseg_host::replay::grafana::expressions(&dash);
    assert_eq!(exprs.len(), 3 * (1 + 1 + 5 + 1));
    let defined: Vec<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- record: ")).collect();
    for e in &exprs {
        if let Some(start) = e.find("edgeseg:error_ratio:") {
            let name: String =
                e[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '_').collect();
            assert!(defined.contains(&name.as_str()), "{name} is not recorded by `slo rules`");
        }
    }
    let mut yaml = rules.clone();
    yaml.push_str("  - name: dashboard-queries\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        yaml.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {}\n",
            serde_json::to_string(e).unwrap()
        ));
    }
    check_rules(&dir.join("dashboard-queries.yml"), &yaml, 17 + exprs.len());
}

/// The labels of every alert in generated rules: (alertname, tier, severity, slo, burn).
fn alert_labels(rules: &str) -> Vec<[String; 5]> {
    rules
        .split("      - alert: ")
        .skip(1)
        .map(|r| {
            let get = |k: &str| {
                let v = r.lines().find_map(|l| l.trim().strip_prefix(k)).unwrap_or_else(|| panic!("no {k} in {r}"));
                v.trim_matches('\'').to_owned()
            };
            let name = r.lines().next().unwrap().trim().to_owned();
            [name, get("tier: "), get("severity: "), get("slo: "), get("burn: ")]
        })
        .collect()
}

/// `promtool test rules` (tests/promtool/slo-rules.test.yml) on the demo's generated rules: a
/// premium page, a free-tier ticket and a latency alert each fire on one synthetic series and stay
/// silent on another.
#[test]
fn promtool_unit_tests_fire_and_silence_each_tier_alert() {
    let dir = scratch("slo-promtool-test");
    let defs = root().join("snapshots/data/demo.json");
    let rules = edgeseg(&[
        "slo",
        "rules",
        "--definitions",
        defs.to_str().unwrap(),
        "--latency-histogram",
        "http_request_duration_seconds",
    ]);
    // 5 error-ratio and 2 × 5 slow-ratio recording rules (premium and standard have p99 targets);
    // 4 availability alerts for each of 3 tiers, 4 latency alerts for each of 2.
    check_rules(&dir.join("rules.yml"), &rules, 5 + 10 + 12 + 8);
    let labels = alert_labels(&rules);
    let severities = |tier: &str, slo: &str| -> Vec<&str> {
        labels.iter().filter(|l| l[1] == tier && l[3] == slo).map(|l| l[2].as_str()).collect()
    };
    assert_eq!(severities("premium", "availability"), ["page", "ticket", "page", "ticket"]);
    assert_eq!(severities("premium", "latency"), ["page", "ticket", "page", "ticket"]);
    assert_eq!(severities("standard", "availability"), ["ticket"; 4]);
    assert_eq!(severities("free", "availability"), ["ticket"; 4]);
    assert!(severities("free", "latency").is_empty(), "free has no p99 target");

    let test = dir.join("slo-rules.test.yml");
    std::fs::copy(root().join("tests/promtool/slo-rules.test.yml"), &test).unwrap();
    let out = promtool(&["test", "rules", test.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "promtool test rules:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tier_slos.<tier>.severity` in the definitions decides a tier's fast-burn severity; a value
/// that is neither `page` nor `ticket` is refused, naming the values allowed.
#[test]
fn severity_per_tier_comes_from_the_definitions() {
    let dir = scratch("slo-severity");
    let demo = std::fs::read_to_string(root().join("snapshots/data/demo.json")).unwrap();
    let mut defs: serde_json::Value = serde_json::from_str(&demo).unwrap();
    defs["tier_slos"] = serde_json::json!({
        "premium": {"availability": 99.95, "latency_p99_ms": 200, "severity": "ticket"},
        "standard": {"availability": 99.9, "severity": "page"},
    });
    let path = dir.join("defs.json");
    std::fs::write(&path, defs.to_string()).unwrap();
    let rules = edgeseg(&["slo", "rules", "--definitions", path.to_str().unwrap()]);
    let labels = alert_labels(&rules);
    let by_tier = |tier: &str| -> Vec<&str> { labels.iter().filter(|l| l[1] == tier).map(|l| l[2].as_str()).collect() };
    assert_eq!(by_tier("premium"), ["ticket"; 4]);
    assert_eq!(by_tier("standard"), ["page", "ticket", "page", "ticket"]);
    assert_eq!(by_tier("free"), ["ticket"; 4], "free is not listed: its default");

    defs["tier_slos"]["standard"]["severity"] = "sev1".into();
    std::fs::write(&path, defs.to_string()).unwrap();
    let argv = ["edgeseg", "slo", "rules", "--definitions", path.to_str().unwrap()];
    let err = cli::run(argv.iter().map(Into::into), &mut Vec::new()).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("unknown variant `sev1`, expected `ticket` or `page`"), "{msg}");
}

/// The example Alertmanager configuration loads (`amtool check-config`, Debian
/// `prometheus-alertmanager`) and routes every alert the demo's rules generate by its severity.
#[test]
fn the_alertmanager_example_routes_every_generated_alert_by_severity() {
    let config = root().join("examples/alertmanager/edgeseg.yml");
    let amtool = |args: &[&str]| {
        Command::new("amtool").args(args).output().unwrap_or_else(|e| {
            panic!(
                "amtool not runnable ({e}); `cargo xtask test` installs it (apt-get install prometheus-alertmanager)"
            )
        })
    };
    let checked = amtool(&["check-config", config.to_str().unwrap()]);
    assert!(checked.status.success(), "amtool check-config:\n{}", String::from_utf8_lossy(&checked.stdout));
    let defs = root().join("snapshots/data/demo.json");
    let rules = edgeseg(&[
        "slo",
        "rules",
        "--definitions",
        defs.to_str().unwrap(),
        "--latency-histogram",
        "http_request_duration_seconds",
    ]);
    let mut seen = std::collections::BTreeSet::new();
    for [name, tier, severity, slo, _] in alert_labels(&rules) {
        if !seen.insert((name.clone(), tier.clone(), severity.clone(), slo.clone())) {
            continue;
        }
        let file = format!("--config.file={}", config.display());
        let labels =
            [format!("alertname={name}"), format!("tier={tier}"), format!("severity={severity}"), format!("slo={slo}")];
        let mut args = vec!["config", "routes", "test", file.as_str()];
        args.extend(labels.iter().map(String::as_str));
        let out = amtool(&args);
        let receiver = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let want = if severity == "page" { "edgeseg-pager" } else { "edgeseg-tickets" };
        assert_eq!(receiver, want, "{labels:?}");
    }
    assert!(seen.iter().any(|(_, _, s, _)| s == "page") && seen.iter().any(|(_, _, s, _)| s == "ticket"));
}
