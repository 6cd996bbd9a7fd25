//! edgeseg-snapshots integration tests: one binary, a module per topic.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "in tests a failed unwrap is a failed test")]

mod build;
mod compat;
mod compile;
mod compressed;
mod definitions;
mod flagd;
mod inspect;
mod limits;
mod members;
mod parquet;
mod parts;
mod sample;
mod untrusted;

use edgeseg::{Decision, Engine, Request};
use edgeseg_snapshots::members::{CsvMembers, Member};
use edgeseg_snapshots::{BuildError, BuildOptions, Built, Definitions, sample as samples};
use std::path::PathBuf;

/// A fixed, reproducible build: seeded keys and a fixed clock.
pub fn seeded(seed: u64) -> BuildOptions {
    BuildOptions { seed: Some(seed), created_ms: Some(1_763_700_000_000), ..BuildOptions::default() }
}

/// `count` sample members as CSV text.
pub fn sample_csv(count: u64, seed: u64) -> String {
    let mut out = Vec::new();
    samples::write_members(&mut out, count, seed).unwrap();
    String::from_utf8(out).unwrap()
}

/// Sample members, parsed.
pub fn sample_members(count: u64, seed: u64) -> Vec<Member> {
    CsvMembers::new(sample_csv(count, seed).as_bytes(), None).collect::<Result<_, _>>().unwrap()
}

/// The demo definitions built over `count` sample members.
pub fn demo_build(count: u64, seed: u64, opts: &BuildOptions) -> Built {
    let defs = Definitions::from_json(samples::DEMO_DEFINITIONS).unwrap();
    edgeseg_snapshots::build(&defs, sample_members(count, seed).into_iter().map(Ok), opts).unwrap()
}

/// Builds from inline definitions and JSONL member lines.
pub fn build_jsonl(defs: &str, members: &str, opts: &BuildOptions) -> Result<Built, BuildError> {
    let defs = Definitions::from_json(defs)?;
    let reader = edgeseg_snapshots::members::JsonlMembers::new(members.as_bytes(), None);
    edgeseg_snapshots::build(&defs, reader, opts)
}

/// A GET request with the given headers.
pub fn request<'a>(path: &'a str, country: Option<&'a str>, headers: Vec<(&'a str, &'a str)>) -> Request<'a> {
    Request {
        method: "GET",
        host: "shop.example",
        path,
        headers,
        country,
        client_ip: None,
        now_ms: 1_763_720_000_000,
        attributes: vec![],
        verified_id: None,
    }
}

/// The decision's tier and segments, owned.
pub fn decide(engine: &mut Engine, req: &Request<'_>) -> (String, Vec<String>) {
    let d: Decision<'_> = engine.decide(req);
    (d.tier.to_string(), d.segments.iter().map(|s| s.to_string()).collect())
}

/// A fresh scratch directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("edgeseg-snapshots").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
