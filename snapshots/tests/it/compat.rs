//! Committed old snapshots keep loading and keep deciding as they did.
//!
//! `snapshots/data/compat/` holds snapshot files built by earlier versions of the builder, each
//! next to the decisions it produced for a set of requests (`<name>.decisions.json`). A change to
//! the format, the fingerprint hash or the rule IR that would break an already-deployed snapshot
//! fails here. Files are only ever added, never regenerated:
//!
//! ```text
//! EDGESEG_BLESS=1 cargo test -p edgeseg-snapshots --test it compat
//! ```
//!
//! writes `v<FORMAT_VERSION>-demo.*` if it does not exist yet (see `data/compat/README.md`).

use crate::{decide, demo_build, request, seeded};
use edgeseg::Engine;
use edgeseg::format::FORMAT_VERSION;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Case {
    id: String,
    path: String,
    tier: String,
    segments: Vec<String>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data").join("compat")
}

/// The requests every compat file is checked against: 200 sample members, half at checkout.
fn cases_for(engine: &mut Engine) -> Vec<Case> {
    (1..=200)
        .map(|i| {
            let id = edgeseg_snapshots::sample::member_id(i * 5);
            let path = if i % 2 == 0 { "/checkout" } else { "/" }.to_string();
            let cookie = format!("edgeseg_uid={id}");
            let (tier, segments) = decide(engine, &request(&path, Some("DE"), vec![("cookie", &cookie)]));
            Case { id, path, tier, segments }
        })
        .collect()
}

fn bless_current_version() {
    let snap_path = dir().join(format!("v{FORMAT_VERSION}-demo.snapshot"));
    if snap_path.exists() {
        return;
    }
    // Demo definitions, 1000 sample members (seed 42), keys from seed 42, created 2025-11-21T04:40Z.
    let built = demo_build(1000, 42, &seeded(42));
    let mut engine = Engine::load(&built.bytes).unwrap();
    let lines: Vec<String> = cases_for(&mut engine).iter().map(|c| serde_json::to_string(c).unwrap()).collect();
    std::fs::write(&snap_path, &built.bytes).unwrap();
    std::fs::write(snap_path.with_extension("decisions.json"), format!("[\n{}\n]\n", lines.join(",\n"))).unwrap();
}

fn check(snap_path: &Path) {
    let bytes = std::fs::read(snap_path).unwrap();
    let mut engine = Engine::load(&bytes).unwrap_or_else(|e| panic!("{}: {e}", snap_path.display()));
    let cases_path = snap_path.with_extension("decisions.json");
    let text = std::fs::read_to_string(&cases_path).unwrap_or_else(|e| panic!("{}: {e}", cases_path.display()));
    let expected: Vec<Case> = serde_json::from_str(&text).unwrap();
    assert_eq!(cases_for(&mut engine), expected, "{}", snap_path.display());
    // Each file exercises what matters: every tier and an in_segment rule.
    for tier in ["premium", "standard", "free"] {
        assert!(expected.iter().any(|c| c.tier == tier), "{}: no {tier} case", snap_path.display());
    }
    assert!(expected.iter().any(|c| c.segments.iter().any(|s| s == "high-value-checkout")));
}

#[test]
fn committed_snapshots_still_load_and_decide_the_same() {
    if std::env::var_os("EDGESEG_BLESS").is_some_and(|v| v == "1") {
        bless_current_version();
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "snapshot"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no compat snapshots in {}", dir().display());
    for f in &files {
        check(f);
    }
}
