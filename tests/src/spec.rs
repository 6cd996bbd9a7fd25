//! The spec-data format: one JSON file per topic under `tests/spec/`, each holding segment
//! definitions, members, and request cases with the decision expected for each. The same file runs
//! natively (`edgeseg::Engine`) and through wasmtime (`edgeseg_host::guest::Guest`); both must
//! produce the same decision, and it must be the expected one. The format is documented in
//! `tests/spec/README.md`.

use edgeseg_host::guest::OwnedDecision;
use edgeseg_host::traffic::{TrafficReader, TrafficRecord};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    pub description: String,
    /// A definitions document, exactly as `edgeseg build --definitions` reads it.
    pub definitions: serde_json::Value,
    /// Member records, each exactly one line of a JSONL member file.
    pub members: Vec<serde_json::Value>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// One traffic record, exactly one line of an edgeseg JSONL request log.
    pub request: serde_json::Value,
    /// Revocations in effect from this case on, as lines of an `edgeseg revoke` file (`id` or
    /// `id,purpose|purpose`). Deltas are cumulative: the list replaces the previous one.
    #[serde(default)]
    pub revocations: Option<Vec<String>>,
    pub expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub tier: String,
    /// Matched segments in decision order (precedence descending, then name).
    pub segments: Vec<String>,
    /// Segments whose rule failed (an evaluation error: not matched), in decision order.
    /// Absent = none may fail.
    #[serde(default)]
    pub rule_errors: Vec<String>,
    #[serde(default)]
    pub identified: Option<bool>,
    /// Purposes granted on this request, in snapshot order.
    #[serde(default)]
    pub consent: Option<Vec<String>>,
    /// Header name → expected value, or `null` for "must be absent".
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    /// Response header name → expected value, or `null` for "must be absent".
    #[serde(default)]
    pub response_headers: BTreeMap<String, Option<String>>,
    /// `allowed`, `rejected`, `deprioritized`, or `none` (no throttle applied).
    #[serde(default)]
    pub throttle: Option<String>,
    /// Signal (`gpc`, `tcf`, `cookie`, `revoked`) → the purposes it removed, snapshot order.
    /// Signals not listed must have removed nothing.
    #[serde(default)]
    pub narrowed: Option<BTreeMap<String, Vec<String>>>,
    /// Where each action came from: `{"throttle": "tier:free", "cache": "segment:x"}`; `null` = none.
    #[serde(default)]
    pub sources: BTreeMap<String, Option<String>>,
}

/// Every spec file, sorted by name.
pub fn files() -> Vec<PathBuf> {
    let dir = crate::root().join("tests").join("spec");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    out.sort();
    out
}

pub fn load(path: &Path) -> SpecFile {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Builds the spec's snapshot through the real file path (definitions file + JSONL member file),
/// with a fixed seed so the snapshot is reproducible.
pub fn build_snapshot(spec: &SpecFile, scratch: &Path) -> Vec<u8> {
    let defs = scratch.join("definitions.json");
    let members = scratch.join("members.jsonl");
    let write = |p: &Path, s: String| std::fs::write(p, s).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    write(&defs, spec.definitions.to_string());
    write(&members, spec.members.iter().map(|m| format!("{m}\n")).collect());
    let opts =
        edgeseg_snapshots::BuildOptions { seed: Some(7), created_ms: Some(1_763_700_000_000), ..Default::default() };
    match edgeseg_snapshots::build_files(&defs, &members, &opts) {
        Ok(built) => built.bytes,
        Err(e) => panic!("building the spec snapshot: {e}"),
    }
}

/// Parses a case's request with the host's traffic reader (the same code that reads logs).
pub fn request(case: &Case) -> TrafficRecord {
    let line = format!("{}\n", case.request);
    match TrafficReader::new(line.as_bytes()).next() {
        Some(Ok(record)) => record,
        Some(Err(e)) => panic!("case {:?}: request: {e}", case.name),
        None => panic!("case {:?}: no request", case.name),
    }
}

/// Checks a decision against the expectation; `purposes` are the snapshot's purpose names.
pub fn check(expect: &Expect, d: &OwnedDecision, purposes: &[String]) -> Result<(), String> {
    let mut problems = Vec::new();
    if d.tier != expect.tier {
        problems.push(format!("tier: expected {:?}, got {:?}", expect.tier, d.tier));
    }
    if d.segments != expect.segments {
        problems.push(format!("segments: expected {:?}, got {:?}", expect.segments, d.segments));
    }
    if d.rule_errors != expect.rule_errors {
        problems.push(format!("rule errors: expected {:?}, got {:?}", expect.rule_errors, d.rule_errors));
    }
    if let Some(identified) = expect.identified
        && identified != d.identified
    {
        problems.push(format!("identified: expected {identified}, got {}", d.identified));
    }
    if let Some(consent) = &expect.consent {
        let granted: Vec<String> = purposes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 64 && d.consent & (1 << i) != 0)
            .map(|(_, p)| p.clone())
            .collect();
        if &granted != consent {
            problems.push(format!("consent: expected {consent:?}, got {granted:?}"));
        }
    }
    let names = |mask: u64| -> Vec<String> {
        purposes.iter().enumerate().filter(|(i, _)| *i < 64 && mask & (1 << i) != 0).map(|(_, p)| p.clone()).collect()
    };
    for (name, want) in &expect.headers {
        let got = d.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        if &got != want {
            problems.push(format!("header {name}: expected {want:?}, got {got:?}"));
        }
    }
    for (name, want) in &expect.response_headers {
        let got = d.response_headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        if &got != want {
            problems.push(format!("response header {name}: expected {want:?}, got {got:?}"));
        }
    }
    if let Some(want) = &expect.throttle {
        let got = d.throttle.as_ref().map_or("none".to_owned(), |t| format!("{:?}", t.result).to_lowercase());
        if &got != want {
            problems.push(format!("throttle: expected {want}, got {got}"));
        }
    }
    if let Some(want) = &expect.narrowed {
        let n = &d.narrowing;
        for (signal, mask) in [("gpc", n.gpc), ("tcf", n.tcf), ("cookie", n.cookie), ("revoked", n.revoked)] {
            let got = names(mask);
            let expected = want.get(signal).cloned().unwrap_or_default();
            if got != expected {
                problems.push(format!("narrowed by {signal}: expected {expected:?}, got {got:?}"));
            }
        }
        if let Some(unknown) = want.keys().find(|k| !["gpc", "tcf", "cookie", "revoked"].contains(&k.as_str())) {
            problems.push(format!("unknown signal {unknown:?} in expect.narrowed"));
        }
    }
    for (action, want) in &expect.sources {
        let got = match action.as_str() {
            "throttle" => d.throttle.as_ref().map(|t| t.source.clone()),
            "cache" => d.cache.as_ref().map(|c| c.source.clone()),
            "route" => d.route.as_ref().map(|r| r.source.clone()),
            other => Some(format!("(unknown action {other:?})")),
        };
        if &got != want {
            problems.push(format!("source of {action}: expected {want:?}, got {got:?}"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}
