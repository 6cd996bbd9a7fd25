//! Committed old snapshots keep loading and keep deciding as they did.
//!
//! `snapshots/data/compat/` holds snapshot files built by earlier versions of the builder, each
//! with the decisions it produced for a few requests. A change to the format, the fingerprint
//! hash or the rule IR that breaks an already-deployed snapshot fails here. To add a file for a
//! new format version (never to "fix" an old one):
//!
//! ```text
//! EDGESEG_BLESS=1 cargo test -p edgeseg-snapshots --test it compat
//! ```

use crate::{decide, demo_build, request, seeded};
use edgeseg::Engine;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

const NAME: &str = "v1-demo";

fn cases_for(engine: &Engine) -> Vec<Case> {
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

#[test]
fn committed_snapshots_still_load_and_decide_the_same() {
    let snap_path = dir().join(format!("{NAME}.snapshot"));
    let cases_path = dir().join(format!("{NAME}.decisions.json"));
    if std::env::var_os("EDGESEG_BLESS").is_some_and(|v| v == "1") {
        // Built exactly like this: demo definitions, 1000 sample members (seed 42), seed 42.
        let built = demo_build(1000, 42, &seeded(42));
        let engine = Engine::load(&built.bytes).unwrap();
        std::fs::create_dir_all(dir()).unwrap();
        std::fs::write(&snap_path, &built.bytes).unwrap();
        let lines: Vec<String> = cases_for(&engine).iter().map(|c| serde_json::to_string(c).unwrap()).collect();
        std::fs::write(&cases_path, format!("[\n{}\n]\n", lines.join(",\n"))).unwrap();
    }
    let bytes = std::fs::read(&snap_path).unwrap_or_else(|e| panic!("{}: {e}", snap_path.display()));
    let engine = Engine::load(&bytes).unwrap();
    let expected: Vec<Case> = serde_json::from_str(&std::fs::read_to_string(&cases_path).unwrap()).unwrap();
    assert_eq!(cases_for(&engine), expected);
    // The file exercises what matters: every tier and some audience segments.
    for tier in ["premium", "standard", "free"] {
        assert!(expected.iter().any(|c| c.tier == tier), "no {tier} case");
    }
    assert!(expected.iter().any(|c| c.segments.iter().any(|s| s == "high-value-checkout")));
}
