//! The `edgeseg` CLI, run in-process.

use crate::replay::TRAFFIC;
use crate::support::{snapshot, wasm_path, workspace};
use edgeseg_host::cli;
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = workspace().join("target").join("test-scratch").join(format!("host-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn edgeseg(args: &[&str]) -> anyhow::Result<String> {
    let mut out = Vec::new();
    let argv = std::iter::once("edgeseg").chain(args.iter().copied()).map(Into::into);
    cli::run(argv, &mut out)?;
    Ok(String::from_utf8(out)?)
}

struct Files {
    snapshot: String,
    traffic: String,
    module: String,
}

fn files(name: &str) -> Files {
    let dir = scratch(name);
    let snap = dir.join("fixture.snapshot");
    let traffic = dir.join("traffic.jsonl");
    std::fs::write(&snap, snapshot(7)).unwrap();
    std::fs::write(&traffic, TRAFFIC).unwrap();
    let s = |p: PathBuf| p.to_str().unwrap().to_owned();
    Files { snapshot: s(snap), traffic: s(traffic), module: s(wasm_path().to_path_buf()) }
}

#[test]
fn replay_prints_the_text_report() {
    let f = files("text");
    let out = edgeseg(&[
        "replay",
        "--snapshot",
        &f.snapshot,
        "--traffic",
        &f.traffic,
        "--module",
        &f.module,
        "--skip-malformed",
    ])
    .unwrap();
    assert!(out.starts_with("snapshot           fixture v7\nmodule             "), "{out}");
    assert!(out.contains(&format!("module             {} (", f.module)), "{out}");
    assert!(out.contains("throughput") && out.contains("decide latency"), "{out}");
    assert!(out.contains("premium          3   37.50%        2          8     2.67"), "{out}");
}

#[test]
fn replay_prints_json() {
    let f = files("json");
    let out = edgeseg(&[
        "replay",
        "--snapshot",
        &f.snapshot,
        "--traffic",
        &f.traffic,
        "--module",
        &f.module,
        "--skip-malformed",
        "--json",
        "--fuel",
        "0",
    ])
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["requests"], 8);
    assert_eq!(json["malformed_skipped"], 1);
    let tiers: Vec<(&str, u64)> = json["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tier"].as_str().unwrap(), t["requests"].as_u64().unwrap()))
        .collect();
    assert_eq!(tiers, [("premium", 3), ("plus", 2), ("free", 3)]);
    assert_eq!(json["module"]["path"], f.module.as_str());
}

#[test]
fn errors_carry_their_context() {
    let f = files("errors");
    let e =
        edgeseg(&["replay", "--snapshot", &f.snapshot, "--traffic", &f.traffic, "--module", &f.module]).unwrap_err();
    let chain = format!("{e:#}");
    assert!(chain.contains("replaying") && chain.contains("line 8"), "{chain}");

    let e = edgeseg(&["replay", "--snapshot", &f.traffic, "--traffic", &f.traffic, "--module", &f.module]).unwrap_err();
    let chain = format!("{e:#}");
    assert!(chain.contains("loading snapshot") && chain.contains("BadMagic"), "{chain}");

    let missing = format!("{}.missing", f.module);
    let e = edgeseg(&["replay", "--snapshot", &f.snapshot, "--traffic", &f.traffic, "--module", &missing]).unwrap_err();
    assert!(format!("{e:#}").contains(&missing), "{e:#}");

    let e = edgeseg(&["replay", "--snapshot", &f.snapshot, "--traffic", "/nonexistent/t.jsonl", "--module", &f.module])
        .unwrap_err();
    assert!(format!("{e:#}").contains("/nonexistent/t.jsonl"), "{e:#}");
}

#[test]
fn usage_errors_are_clap_errors_and_help_goes_to_out() {
    let e = edgeseg(&["replay", "--snapshot", "s"]).unwrap_err();
    assert!(e.downcast_ref::<clap::Error>().is_some(), "{e:#}");
    let e = edgeseg(&["frobnicate"]).unwrap_err();
    assert!(e.downcast_ref::<clap::Error>().is_some(), "{e:#}");
    let help = edgeseg(&["replay", "--help"]).unwrap();
    assert!(help.contains("--skip-malformed") && help.contains("EDGESEG_WASM"), "{help}");
    assert!(edgeseg(&["--version"]).unwrap().starts_with("edgeseg "));
    let top = edgeseg(&["--help"]).unwrap();
    assert!(top.starts_with("edgeseg: segment CDN traffic"), "the doc comment, not the crate description: {top}");
    let slo = edgeseg(&["slo", "--help"]).unwrap();
    assert!(slo.contains("dashboard") && slo.contains("rules"), "{slo}");
}

#[test]
fn import_flagd_prints_a_definitions_fragment_that_builds() {
    let flags = workspace().join("snapshots/data/flagd/flags.json");
    let out = edgeseg(&["import-flagd", flags.to_str().unwrap(), "--purpose", "personalisation"]).unwrap();
    let fragment: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(fragment["segments"][0]["purpose"], "personalisation");
    assert_eq!(fragment["$evaluators"]["emailWithFaas"]["ends_with"][0]["var"], "attributes.email");
    // Merged into definitions, it builds.
    let defs = serde_json::json!({"id": "imported", "purposes": ["personalisation"], "tiers": ["standard"],
        "$evaluators": fragment["$evaluators"], "segments": fragment["segments"]});
    let defs = edgeseg_snapshots::Definitions::from_json(&defs.to_string()).unwrap();
    let opts = edgeseg_snapshots::BuildOptions { seed: Some(1), ..Default::default() };
    let built = edgeseg_snapshots::build(&defs, std::iter::empty(), &opts).unwrap();
    assert_eq!(built.summary.segments.len(), 3);

    let dir = scratch("import-flagd");
    let bad = dir.join("flags.json");
    std::fs::write(&bad, r#"{"flags": {}, "$evaluators": {"k": {"==": [{"var": "targetingKey"}, "x"]}}}"#).unwrap();
    let e = edgeseg(&["import-flagd", bad.to_str().unwrap()]).unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains("flags.json") && text.contains("$evaluators.k.==[0].var"), "{text}");
}

#[test]
fn keygen_then_a_signed_build_replays_under_its_public_key_and_an_unsigned_one_does_not() {
    let dir = scratch("signing");
    let root = workspace();
    let prefix = dir.join("publisher");
    let out = edgeseg(&["keygen", "--out", prefix.to_str().unwrap()]).unwrap();
    assert!(out.contains("publisher.key") && out.contains("publisher.pub"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("publisher.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwrites a key.
    assert!(edgeseg(&["keygen", "--out", prefix.to_str().unwrap()]).is_err());

    edgeseg(&["sample", "--seed", "5", "--members", "300", "--requests", "200", "--out-dir", dir.to_str().unwrap()])
        .unwrap();
    let defs = root.join("snapshots/data/demo.json");
    let members = dir.join("members.csv");
    let build = |out: &PathBuf, key: Option<&PathBuf>| {
        let mut args = vec!["build", "--definitions", defs.to_str().unwrap(), "--members", members.to_str().unwrap()];
        args.extend(["--out", out.to_str().unwrap(), "--seed", "1", "--created-ms", "1763700000000"]);
        if let Some(k) = key {
            args.extend(["--signing-key", k.to_str().unwrap()]);
        }
        edgeseg(&args).unwrap();
    };
    let signed = dir.join("signed.snapshot");
    let unsigned = dir.join("unsigned.snapshot");
    build(&signed, Some(&dir.join("publisher.key")));
    build(&unsigned, None);
    assert!(edgeseg(&["inspect", signed.to_str().unwrap()]).unwrap().contains("flags 0x0001 (Ed25519-signed)"));

    let module = wasm_path().to_str().unwrap().to_owned();
    let traffic = dir.join("traffic.jsonl");
    let replay = |snapshot: &PathBuf, key: Option<&PathBuf>| {
        let mut args = vec!["replay", "--snapshot", snapshot.to_str().unwrap(), "--traffic", traffic.to_str().unwrap()];
        args.extend(["--module", &module, "--json"]);
        if let Some(k) = key {
            args.extend(["--public-key", k.to_str().unwrap()]);
        }
        edgeseg(&args)
    };
    let public = dir.join("publisher.pub");
    let with_key: serde_json::Value = serde_json::from_str(&replay(&signed, Some(&public)).unwrap()).unwrap();
    // The module decides a signed snapshot exactly as the unsigned build of the same data.
    let plain: serde_json::Value = serde_json::from_str(&replay(&unsigned, None).unwrap()).unwrap();
    assert_eq!(with_key["tiers"][0]["requests"], plain["tiers"][0]["requests"]);
    assert_eq!(with_key["segments"], plain["segments"]);

    let e = format!("{:#}", replay(&unsigned, Some(&public)).unwrap_err());
    assert!(e.contains("not signed"), "{e}");
    let other = dir.join("other");
    edgeseg(&["keygen", "--out", other.to_str().unwrap()]).unwrap();
    let e = format!("{:#}", replay(&signed, Some(&dir.join("other.pub"))).unwrap_err());
    assert!(e.contains("does not verify"), "{e}");
}

/// Runs the real `edgeseg` binary with its standard output a pipe whose reader is already gone.
fn with_closed_stdout(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_edgeseg"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn issue19_a_broken_pipe_on_stdout_ends_quietly_with_status_0() {
    let f = files("broken-pipe");
    let dir = scratch("broken-pipe-sample");
    let sample_dir = dir.to_str().unwrap();
    let defs = dir.join("defs.json");
    std::fs::write(&defs, edgeseg_snapshots::sample::DEMO_DEFINITIONS).unwrap();
    let members = dir.join("members.csv");
    let built = dir.join("out.snapshot");
    let (defs, members, built) = (defs.to_str().unwrap(), members.to_str().unwrap(), built.to_str().unwrap());
    let jsonl = b"{\"rule\": {\"+\": [1, 2]}}\n".repeat(100);
    let revocations = format!("{sample_dir}/revocations.txt");
    let delta = format!("{sample_dir}/out.delta");
    let key = format!("{sample_dir}/publisher");
    let flags = workspace().join("snapshots/data/flagd/flags.json").to_str().unwrap().to_owned();
    let cases: Vec<(Vec<&str>, &[u8])> = vec![
        (vec!["inspect", &f.snapshot], b""),
        (vec!["inspect", "--json", &f.snapshot], b""),
        (vec!["sample", "--out-dir", sample_dir, "--members", "50", "--requests", "20"], b""),
        (vec!["build", "--definitions", defs, "--members", members, "--out", built, "--seed", "1"], b""),
        (
            vec![
                "replay",
                "--snapshot",
                &f.snapshot,
                "--traffic",
                &f.traffic,
                "--module",
                &f.module,
                "--skip-malformed",
            ],
            b"",
        ),
        (vec!["slo", "rules", "--snapshot", built], b""),
        (vec!["slo", "dashboard", "--snapshot", built], b""),
        (vec!["jsonlogic", "--native"], &jsonl),
        (
            vec![
                "diff",
                "--old",
                &f.snapshot,
                "--new",
                &f.snapshot,
                "--traffic",
                &f.traffic,
                "--module",
                &f.module,
                "--skip-malformed",
            ],
            b"",
        ),
        (vec!["revoke", "--snapshot", built, "--revocations", &revocations, "--sequence", "1", "--out", &delta], b""),
        (vec!["import-flagd", &flags], b""),
        (vec!["keygen", "--out", &key], b""),
        (vec!["--help"], b""),
        (vec!["inspect", "--help"], b""),
    ];
    for (args, stdin) in cases {
        let out = with_closed_stdout(&args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "edgeseg {}: {} {stderr}", args.join(" "), out.status);
        assert!(!stderr.contains("Broken pipe") && !stderr.contains("error"), "edgeseg {}: {stderr}", args.join(" "));
    }
    // Other failures still fail.
    let out = with_closed_stdout(&["inspect", "/nonexistent.snapshot"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent.snapshot"));
}

/// Runs the real binary; (status code, stdout, stderr).
fn edgeseg_process(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgeseg")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn issue19_a_pinned_version_over_an_output_with_other_bytes_is_warned_about() {
    let dir = scratch("pinned-version");
    let defs = dir.join("demo.json");
    std::fs::write(&defs, edgeseg_snapshots::sample::DEMO_DEFINITIONS).unwrap();
    let members = dir.join("members.csv");
    let mut csv = Vec::new();
    edgeseg_snapshots::sample::write_members(&mut csv, 200, 1).unwrap();
    std::fs::write(&members, csv).unwrap();
    let out = dir.join("demo.snapshot");
    let (defs, members, out) = (defs.to_str().unwrap(), members.to_str().unwrap(), out.to_str().unwrap());
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "--definitions", defs, "--members", members, "--out", out, "--no-progress"];
        args.extend_from_slice(extra);
        edgeseg_process(&args)
    };
    // The demo pins version 1. The first build has nothing to meet.
    let (code, _, stderr) = build(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    // The same seeded bytes again: nothing to say.
    let (code, _, stderr) = build(&["--seed", "7", "--created-ms", "1763700000000"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("already holds snapshot \"demo\" version 1 with different bytes"), "{stderr}");
    let (_, _, stderr) = build(&["--seed", "7", "--created-ms", "1763700000000"]);
    assert!(!stderr.contains("warning"), "identical bytes: {stderr}");
    // A rebuild with fresh keys under the pinned version: warned, still written.
    let before = std::fs::read(out).unwrap();
    let (code, stdout, stderr) = build(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.starts_with("warning: ") && stderr.contains("bump `version`"), "{stderr}");
    assert!(stdout.contains("wrote"), "{stdout}");
    assert_ne!(std::fs::read(out).unwrap(), before);
    // Another version: no clash.
    let (_, _, stderr) = build(&["--snapshot-version", "2"]);
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn issue19_member_ids_that_differ_only_by_case_are_named_by_line() {
    let dir = scratch("case-ids");
    let defs_text = r#"{"id": "c", "identity": [{"cookie": "uid", "trust": "unverified"}], "purposes": ["contract"], "tiers": ["all"],
        "segments": [{"name": "everyone", "purpose": "contract", "members": {"all": true}}]}"#;
    let defs = dir.join("defs.json");
    std::fs::write(&defs, defs_text).unwrap();
    let strict = dir.join("strict.json");
    std::fs::write(
        &strict,
        defs_text.replace(r#""id": "c","#, r#""id": "c", "member_ids": {"case_collisions": "error"},"#),
    )
    .unwrap();
    let members = dir.join("members.csv");
    std::fs::write(&members, "id\nAlice\nbob\nalice\n").unwrap();
    let out = dir.join("c.snapshot");
    let (defs, strict, members, out) =
        (defs.to_str().unwrap(), strict.to_str().unwrap(), members.to_str().unwrap(), out.to_str().unwrap());

    let (code, _, stderr) = edgeseg_process(&["build", "--definitions", defs, "--members", members, "--out", out]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("warning: 1 group(s) of member ids") && stderr.contains("lines 2, 4"), "{stderr}");
    assert!(!stderr.contains("Alice") && !stderr.contains("alice"), "ids are not repeated: {stderr}");
    std::fs::remove_file(out).unwrap();

    let (code, _, stderr) = edgeseg_process(&["build", "--definitions", strict, "--members", members, "--out", out]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("lines 2, 4") && stderr.contains("\"error\""), "{stderr}");
    assert!(!std::path::Path::new(out).exists(), "a refused build writes nothing");
}

#[test]
fn issue19_inspect_and_replay_escape_a_hostile_snapshot_id() {
    let f = files("hostile-id");
    let mut p = crate::support::payload(7);
    p.id = "evil\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}".into();
    std::fs::write(&f.snapshot, p.encode().unwrap()).unwrap();
    let inspected = edgeseg(&["inspect", &f.snapshot]).unwrap();
    let replayed = edgeseg(&[
        "replay",
        "--snapshot",
        &f.snapshot,
        "--traffic",
        &f.traffic,
        "--module",
        &f.module,
        "--skip-malformed",
    ])
    .unwrap();
    for text in [&inspected, &replayed] {
        assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text:?}");
        assert!(text.contains("evil\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{202e}"), "{text}");
    }
}
