//! Sharded snapshots (issue 18), natively: a head plus 64 shards decides byte for byte as the
//! unsharded snapshot of the same members and key; a missing shard fails closed and is counted;
//! shards of another build, corrupt shards and shards under a tight budget.
//!
//! The demo's `churn-risk` is a bloom filter: its false positives differ between any two builds
//! (sharded or not), so the byte-for-byte comparison builds it `exact` — every other set of the
//! demo is exact already.

use edgeseg::{Engine, ErrorKind};
use edgeseg_host::traffic::{TrafficReader, TrafficRecord};
use edgeseg_snapshots::shard::{ShardOptions, ShardedBuild, build_sharded, shard_path};
use edgeseg_snapshots::{BuildOptions, Definitions, build, sample};
use edgeseg_tests::{root, scratch};
use std::path::Path;

const MEMBERS: u64 = 100_000;

fn definitions() -> Definitions {
    let text = std::fs::read_to_string(root().join("snapshots/data/demo.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for seg in json["segments"].as_array_mut().unwrap() {
        if let Some(members) = seg.get_mut("members").and_then(|m| m.as_object_mut()) {
            members.insert("encoding".into(), "exact".into());
            members.remove("fp_rate");
        }
    }
    Definitions::from_json(&json.to_string()).unwrap()
}

fn opts(seed: u64) -> BuildOptions {
    BuildOptions { seed: Some(seed), created_ms: Some(1_763_700_000_000), version: Some(7), ..BuildOptions::default() }
}

fn sharded(dir: &Path, seed: u64, bits: u8) -> ShardedBuild {
    let head = dir.join("demo.head");
    let shard = ShardOptions { bits: Some(bits), ..ShardOptions::default() };
    build_sharded(&definitions(), sample::members(MEMBERS, 42), &opts(seed), &shard, &head, &mut |_| {}).unwrap()
}

fn traffic(requests: u64) -> Vec<TrafficRecord> {
    let mut traffic = Vec::new();
    sample::write_traffic(&mut traffic, MEMBERS, requests, 42).unwrap();
    TrafficReader::new(traffic.as_slice()).collect::<Result<_, _>>().unwrap()
}

/// Holds the shard a request needs, reading it from beside the head when it is not held (what
/// every host does), then decides.
fn decide_loading<'e>(engine: &'e mut Engine, head: &Path, r: &TrafficRecord) -> edgeseg::Decision<'e> {
    if let Some(i) = engine.shard_for(&r.request())
        && !engine.has_shard(i)
    {
        engine.load_shard(std::fs::read(shard_path(head, i)).unwrap()).unwrap();
    }
    engine.decide(&r.request())
}

#[test]
fn sixty_four_shards_decide_as_the_whole_snapshot() {
    let dir = scratch("shards-identical");
    let whole = build(&definitions(), sample::members(MEMBERS, 42), &opts(7)).unwrap().bytes;
    let built = sharded(&dir, 7, 6);
    assert_eq!(built.shards.len(), 64);
    assert_eq!(built.shards.iter().map(|s| s.members).sum::<u64>(), MEMBERS);
    // Total bytes within 5% of the whole snapshot (shards drop the bits their members share).
    let total = built.head_bytes + built.shards.iter().map(|s| s.bytes).sum::<u64>();
    let ratio = total as f64 / whole.len() as f64;
    assert!((0.95..=1.05).contains(&ratio), "sharded {total} B vs whole {} B: {ratio:.3}", whole.len());

    let records = traffic(10_000);
    let mut a = Engine::load(&whole).unwrap();
    let mut b = Engine::load(&std::fs::read(&built.head).unwrap()).unwrap();
    // A budget of three shards: the host reads, evicts and re-reads as it goes.
    b.set_shard_budget(3 * built.shards.iter().map(|s| s.bytes).max().unwrap());
    let mut identified = 0;
    for r in &records {
        let x = a.decide(&r.request());
        let y = decide_loading(&mut b, &built.head, r);
        assert_eq!(x, y, "request {r:?}");
        identified += u64::from(x.identified);
    }
    let stats = b.stats().shards;
    assert!(identified > 1_000, "{identified} identified requests");
    assert_eq!(stats.hits, identified, "{stats:?}");
    assert_eq!(stats.misses, 0, "{stats:?}");
    assert!(stats.evictions > 0 && stats.held <= 3, "{stats:?}");
    assert!(stats.held_bytes <= stats.budget_bytes, "{stats:?}");
}

#[test]
fn a_missing_shard_fails_closed_and_a_bad_shard_is_refused() {
    let dir = scratch("shards-missing");
    let built = sharded(&dir, 7, 3);
    let head = std::fs::read(&built.head).unwrap();
    let records = traffic(2_000);
    let mut engine = Engine::load(&head).unwrap();
    let mut whole = Engine::load(&head).unwrap();
    for f in &built.shards {
        whole.load_shard(std::fs::read(&f.path).unwrap()).unwrap();
    }
    let default_tier = engine.snapshot().tiers[usize::from(engine.snapshot().default_tier)].name.clone();
    let gated: u64 =
        engine.snapshot().purposes.iter().enumerate().filter(|(_, p)| p.requires_consent).map(|(i, _)| 1 << i).sum();
    let mut missing = 0;
    for r in &records {
        let req = r.request();
        let d = engine.decide(&req);
        if !d.identified {
            assert!(!d.shard_missing);
            continue;
        }
        missing += 1;
        assert!(d.shard_missing);
        assert_eq!(d.tier, default_tier, "no membership without the shard");
        assert_eq!(d.consent & gated, 0, "no recorded consent without the shard");
        assert!(d.headers.iter().any(|h| h.name == "x-edgeseg-shard-missing" && h.value == "1"));
        let full = whole.decide(&req);
        assert!(!full.shard_missing);
    }
    assert!(missing > 100);
    assert_eq!(engine.stats().shards.misses, missing);

    // A corrupt shard (one flipped byte) and a shard of another build (another key) are refused,
    // counted, and change nothing; the good shard then loads.
    let mut corrupt = std::fs::read(&built.shards[0].path).unwrap();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert_eq!(engine.load_shard(corrupt).unwrap_err().kind(), ErrorKind::ChecksumMismatch);
    let other = sharded(&scratch("shards-other-build"), 8, 3);
    let foreign = std::fs::read(&other.shards[0].path).unwrap();
    assert_eq!(engine.load_shard(foreign).unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(engine.stats().shards.refused, 2);
    assert!(engine.held_shards().is_empty());
    assert_eq!(engine.load_shard(std::fs::read(&built.shards[0].path).unwrap()).unwrap(), 0);
    // A shard handed to an unsharded engine is refused.
    let whole_bytes = build(&definitions(), sample::members(1_000, 42), &opts(7)).unwrap().bytes;
    let mut unsharded = Engine::load(&whole_bytes).unwrap();
    assert!(unsharded.load_shard(std::fs::read(&built.shards[1].path).unwrap()).is_err());
}

/// Issue 19, finding 4: two builds of one id and version (version pinned) under different keys.
/// A revocation delta made for one is refused by the other — natively and in wasmtime — instead of
/// reporting success and revoking nobody; and a host serving one refuses the other as a swap
/// (`Rebuilt`), while the same bytes again are a harmless reload.
#[test]
fn a_delta_or_snapshot_of_another_build_under_the_same_version_is_refused() {
    use edgeseg_host::guest::{Guest, GuestConfig, GuestError};
    let a = build(&definitions(), sample::members(2_000, 42), &opts(7)).unwrap().bytes;
    let b = build(&definitions(), sample::members(2_000, 42), &opts(8)).unwrap().bytes;
    let revocations = format!("{}\n", sample::member_id(3));
    let delta_a =
        edgeseg_snapshots::revoke::revocation_delta(&a, revocations.as_bytes(), 1, 1).unwrap().encode().unwrap();

    let mut native_b = Engine::load(&b).unwrap();
    let err = native_b.apply_delta(&delta_a).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("key"), "{err}");
    let mut native_a = Engine::load(&a).unwrap();
    assert_eq!(native_a.apply_delta(&delta_a).unwrap().entries.len(), 1);

    let mut guest = Guest::from_file(edgeseg_tests::wasm_module(), GuestConfig::default()).unwrap();
    guest.swap_snapshot(&b, 0).unwrap();
    match guest.apply_delta(&delta_a) {
        Err(e) => assert_eq!(e.kind(), Some(ErrorKind::Invalid), "{e}"),
        Ok(info) => panic!("a delta of another build was applied: {info:?}"),
    }
    // A rebuild under the serving id and version is refused; the serving one stays.
    match guest.swap_snapshot(&a, 0) {
        Err(GuestError::Refused { kind: ErrorKind::Rebuilt, .. }) => {}
        other => panic!("expected a Rebuilt refusal, got {other:?}"),
    }
    assert_eq!(guest.snapshot_bytes(), Some(b.as_slice()));
    assert_eq!(guest.refused_loads_by_kind().get("Rebuilt"), Some(&1));
    guest.swap_snapshot(&b, 0).unwrap();
}

fn edgeseg(args: &[&str]) -> Result<String, String> {
    let mut out = Vec::new();
    let argv = std::iter::once("edgeseg").chain(args.iter().copied()).map(Into::into);
    let result = edgeseg_host::cli::run(argv, &mut out);
    let text = String::from_utf8(out).unwrap();
    result.map(|()| text).map_err(|e| format!("{e:#}"))
}

/// A replay's JSON report without what varies from run to run, and its shard lines apart.
fn replay_json(text: &str) -> (serde_json::Value, Option<serde_json::Value>) {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("timings");
    o.remove("module");
    for tier in o["tiers"].as_array_mut().unwrap() {
        tier.as_object_mut().unwrap().remove("latency");
    }
    let shards = o.remove("shards");
    (v, shards)
}

/// The same through wasmtime, as the host serves it: the guest reads each shard from beside the
/// head when a request needs it (SHA-256 checked, under a three-shard budget, so it evicts and
/// reads again), and every decision is byte for byte the whole snapshot's; then `edgeseg replay`
/// of the head reports what the whole snapshot's replay reports, plus its shard lines, with the
/// consent audit reading the shards, and `edgeseg diff` of whole → head moves nobody.
#[test]
fn in_wasmtime_sixty_four_shards_decide_as_the_whole_snapshot_and_replay_and_diff_agree() {
    use edgeseg_host::guest::{Guest, GuestConfig};
    use edgeseg_host::shards::{ShardFiles, ShardSource};
    let dir = scratch("shards-wasmtime");
    let whole = build(&definitions(), sample::members(MEMBERS, 42), &opts(7)).unwrap().bytes;
    let built = sharded(&dir, 7, 6);
    let files = ShardFiles::for_head(&built.head, None);
    for s in &built.shards {
        assert_eq!(files.path(s.index), s.path, "the host finds the builder's files");
    }
    let largest = built.shards.iter().map(|s| s.bytes).max().unwrap();

    let records = traffic(3_000);
    let mut a = Guest::from_file(edgeseg_tests::wasm_module(), GuestConfig::default()).unwrap();
    let mut b = a.sibling(GuestConfig::default()).unwrap();
    a.load_snapshot(&whole).unwrap();
    b.set_shard_budget(3 * largest).unwrap();
    assert_eq!(b.load_snapshot(&std::fs::read(&built.head).unwrap()).unwrap().shards, 64);
    let mut source = ShardSource::new(files);
    let mut identified = 0;
    for (n, r) in records.iter().enumerate() {
        let req = r.request();
        if let Some(i) = b.shard_for(&req).unwrap() {
            source.ensure(&mut b, i).unwrap();
        }
        let x = a.decide(&req).unwrap();
        let y = b.decide(&req).unwrap();
        assert_eq!(x, y, "request {n}");
        identified += u64::from(x.identified);
    }
    let c = source.counters;
    assert!(identified > 300, "{identified}");
    assert_eq!(c.hits + c.misses, identified, "{c:?}");
    assert_eq!((c.loads, c.refused, c.read_errors), (c.misses, 0, 0), "{c:?}");
    let host = b.shard_stats();
    let engine = b.stats().unwrap().shards;
    assert!(host.evictions > 0 && host.held <= 3 && host.held_bytes <= 3 * largest, "{host:?}");
    assert_eq!((engine.hits, engine.misses, engine.evictions), (identified, 0, 0), "{engine:?}");

    // `edgeseg replay` and `edgeseg diff`, whole and sharded.
    let whole_path = dir.join("demo.snapshot");
    std::fs::write(&whole_path, &whole).unwrap();
    let traffic_path = dir.join("traffic.jsonl");
    let mut t = Vec::new();
    sample::write_traffic(&mut t, MEMBERS, 3_000, 42).unwrap();
    std::fs::write(&traffic_path, t).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let (module, traffic, head) = (s(edgeseg_tests::wasm_module()), s(&traffic_path), s(&built.head));
    let budget = (3 * largest).to_string();
    let replay = |snapshot: &str, extra: &[&str]| {
        let mut args = vec!["replay", "--module", &module, "--snapshot", snapshot, "--traffic", &traffic, "--json"];
        args.extend_from_slice(extra);
        edgeseg(&args).unwrap()
    };
    let (expected, none) = replay_json(&replay(&s(&whole_path), &[]));
    assert!(none.is_none(), "a whole snapshot's report has no shard lines");
    let prom = dir.join("replay.prom");
    let (report, shards) = replay_json(&replay(&head, &["--shard-budget", &budget, "--prometheus", &s(&prom)]));
    let exposition = std::fs::read_to_string(&prom).unwrap();
    assert!(exposition.contains("edgeseg_replay_shard_missing_decisions_total{snapshot=\"demo@7\"} 0"), "{exposition}");
    let checked = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom).unwrap())
        .output()
        .expect("promtool (`cargo xtask test` installs it)");
    assert!(checked.status.success(), "promtool: {}", String::from_utf8_lossy(&checked.stdout));
    assert_eq!(report, expected);
    let shards = shards.unwrap();
    assert_eq!(shards["shards"], 64);
    assert_eq!(shards["missing_shard_decisions"], 0);
    assert_eq!(shards["refused"], 0);
    assert!(shards["evictions"].as_u64().unwrap() > 0, "{shards}");
    assert!(expected["consent"]["violations"] == 0);

    // Shards elsewhere: `--shards DIR`; without them every identified request fails closed.
    let moved = scratch("shards-wasmtime-moved");
    let lone_head = moved.join("demo.head");
    std::fs::copy(&built.head, &lone_head).unwrap();
    let (_, shards) = replay_json(&replay(&s(&lone_head), &["--shards", &s(&dir)]));
    assert_eq!(shards.unwrap()["missing_shard_decisions"], 0);
    let (fail_closed, shards) = replay_json(&replay(&s(&lone_head), &[]));
    let shards = shards.unwrap();
    assert_eq!(shards["missing_shard_decisions"], expected["identified"], "{shards}");
    assert_eq!(shards["read_errors"], shards["misses"]);
    assert_eq!(fail_closed["consent"]["violations"], 0);

    let text = edgeseg(&[
        "diff",
        "--module",
        &module,
        "--old",
        &s(&whole_path),
        "--new",
        &head,
        "--traffic",
        &traffic,
        "--max-moved",
        "0",
    ])
    .unwrap();
    assert!(text.contains("moved: 0 requests"), "{text}");
    assert!(text.contains("segments: no change"), "{text}");
    assert!(text.contains("new shards: ") && text.contains(", 0 decisions without their shard"), "{text}");
    assert!(!text.contains("old shards"), "{text}");
}

/// `inspect` on a head shows its shards' size distribution (text and JSON); a whole snapshot has
/// none.
#[test]
fn inspect_shows_the_shard_size_distribution() {
    let dir = scratch("shards-inspect");
    let built = sharded(&dir, 7, 2);
    let inspection = edgeseg_snapshots::inspect(&std::fs::read(&built.head).unwrap()).unwrap();
    let shards = inspection.shards.as_ref().expect("a head has shards");
    assert_eq!((shards.count, shards.bits, shards.members), (4, 2, MEMBERS));
    assert_eq!(shards.total_bytes, built.shards.iter().map(|s| s.bytes).sum::<u64>());
    assert_eq!(shards.max_bytes, built.shards.iter().map(|s| s.bytes).max().unwrap());
    assert!(shards.min_bytes <= shards.median_bytes && shards.median_bytes <= shards.max_bytes);
    assert!(inspection.to_string().contains("shards    4 (2 bits) beside this head"), "{inspection}");
    let whole = build(&definitions(), sample::members(100, 42), &opts(7)).unwrap().bytes;
    let whole = edgeseg_snapshots::inspect(&whole).unwrap();
    assert!(whole.shards.is_none() && !serde_json::to_string(&whole).unwrap().contains("\"shards\""));
}
