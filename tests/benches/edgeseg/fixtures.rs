//! What the benches run on: the wasm module, demo snapshots over sample members, sample traffic,
//! and one-segment "audience" snapshots per membership encoding at any size, cached on disk.

use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::traffic::{TrafficReader, TrafficRecord};
use edgeseg_snapshots::definitions::EncodingDef;
use edgeseg_snapshots::members::CsvMembers;
use edgeseg_snapshots::{BuildOptions, Definitions, ExactForm, Member, build, sample};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A membership encoding as the bench builds it: its row label, what the definitions say, and
/// how exact sets are written.
#[derive(Clone, Copy, Debug)]
pub struct Encoding {
    pub name: &'static str,
    pub def: EncodingDef,
    /// `fp_bits` for `fuse` (8 or 16); ignored by the other encodings.
    pub fp_bits: Option<u8>,
    pub exact_form: ExactForm,
}

const fn enc(name: &'static str, def: EncodingDef, fp_bits: Option<u8>, exact_form: ExactForm) -> Encoding {
    Encoding { name, def, fp_bits, exact_form }
}

/// Every membership encoding the builder offers, benched in this order. A new encoding is one
/// line here: the fixtures build a one-segment snapshot with `"encoding": <def>` and probe/load
/// whatever it writes.
pub const ENCODINGS: &[Encoding] = &[
    enc("exact", EncodingDef::Exact, None, ExactForm::Compact),
    enc("exact-plain", EncodingDef::Exact, None, ExactForm::Plain),
    enc("bloom", EncodingDef::Bloom, None, ExactForm::Compact),
    enc("fuse8", EncodingDef::Fuse, Some(8), ExactForm::Compact),
    enc("fuse16", EncodingDef::Fuse, Some(16), ExactForm::Compact),
];

/// The sample generator's seed (the demo's).
pub const SEED: u64 = 42;

/// `target/bench` (or `$CARGO_TARGET_DIR/bench`).
pub fn bench_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from).join("bench")
}

/// The raw-ABI module: `$EDGESEG_WASM` (what `cargo xtask bench` builds, wasm-opt included), else
/// the one the tests crate's build script made.
pub fn module() -> PathBuf {
    std::env::var_os("EDGESEG_WASM").map_or_else(|| PathBuf::from(env!("EDGESEG_TEST_WASM")), PathBuf::from)
}

/// A guest of the module with the default limits, but `max_memory_bytes` of linear memory.
pub fn guest(max_memory_bytes: usize) -> Guest {
    sibling(GuestConfig { max_memory_bytes, ..GuestConfig::default() })
}

/// [`guest`] without fuel metering (a looping guest would hang it: never a serving host's choice).
pub fn guest_unmetered(max_memory_bytes: usize) -> Guest {
    sibling(GuestConfig { max_memory_bytes, fuel_per_call: None, deadline: None })
}

/// [`guest`] stopped by a wall-clock deadline (epoch interruption) instead of fuel: how a serving
/// host would run it.
pub fn guest_deadline(max_memory_bytes: usize) -> Guest {
    sibling(GuestConfig {
        max_memory_bytes,
        fuel_per_call: None,
        deadline: Some(std::time::Duration::from_millis(100)),
    })
}

thread_local! {
    /// One compiled module per interruption setting (fuel, deadline): guests are siblings sharing its code.
    static COMPILED: std::cell::RefCell<Vec<Guest>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn sibling(config: GuestConfig) -> Guest {
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let kind = |c: &GuestConfig| (c.fuel_per_call.is_some(), c.deadline.is_some());
        if let Some(base) = compiled.iter().find(|g| kind(g.config()) == kind(&config)) {
            return base.sibling(config).unwrap();
        }
        let guest = Guest::from_file(&module(), config.clone()).unwrap();
        compiled.push(guest.sibling(config).unwrap());
        guest
    })
}

/// The encoding's name as definitions spell it (`"exact"`, `"bloom"`, …).
fn def_name(encoding: EncodingDef) -> String {
    serde_json::to_value(encoding).unwrap().as_str().unwrap().to_owned()
}

fn options() -> BuildOptions {
    BuildOptions {
        version: Some(1),
        created_ms: Some(sample::TRAFFIC_EPOCH_MS),
        seed: Some(SEED),
        exact_form: ExactForm::default(),
        fingerprint_key: None,
    }
}

/// The demo snapshot (`snapshots/data/demo.json`) over `members` sample members, built as
/// `cargo xtask demo` builds it (reproducible keys).
pub fn demo_snapshot(members: u64) -> Vec<u8> {
    let defs = Definitions::load(&demo_definitions()).unwrap();
    let mut csv = Vec::new();
    sample::write_members(&mut csv, members, SEED).unwrap();
    build(&defs, CsvMembers::new(csv.as_slice(), None), &options()).unwrap().bytes
}

pub fn demo_definitions() -> PathBuf {
    workspace().join("snapshots").join("data").join("demo.json")
}

fn workspace() -> PathBuf {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests.parent().unwrap_or(tests).to_path_buf()
}

/// `requests` lines of sample traffic (JSONL) for a demo snapshot of `members` members.
pub fn traffic(members: u64, requests: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sample::write_traffic(&mut out, members, requests, SEED).unwrap();
    out
}

pub fn records(jsonl: &[u8]) -> Vec<TrafficRecord> {
    TrafficReader::new(jsonl).collect::<Result<_, _>>().unwrap()
}

/// Definitions with one segment, `audience`, holding every member in `encoding`.
fn audience_definitions(encoding: Encoding) -> Definitions {
    let mut members = serde_json::json!({"all": true, "encoding": def_name(encoding.def)});
    if let Some(bits) = encoding.fp_bits {
        members["fp_bits"] = bits.into();
    }
    let text = serde_json::json!({
        "id": "bench-audience",
        "version": 1,
        "identity": [{"cookie": "edgeseg_uid", "trust": "unverified"}],
        "purposes": ["contract"],
        "tiers": ["standard"],
        "segments": [{
            "name": "audience", "purpose": "contract", "precedence": 1,
            "members": members
        }]
    });
    Definitions::from_json(&text.to_string()).unwrap()
}

/// The member id of audience member `i` (`0..members`): the sample generator's ids.
pub fn audience_id(i: u64) -> String {
    sample::member_id(i + 1)
}

fn build_audience(encoding: Encoding, members: u64) -> Vec<u8> {
    let defs = audience_definitions(encoding);
    let members = (0..members).map(|i| {
        Ok(Member {
            id: audience_id(i),
            consents: Vec::new(),
            segments: Vec::new(),
            tcf: None,
            attributes: Vec::new(),
            line: None,
        })
    });
    build(&defs, members, &BuildOptions { exact_form: encoding.exact_form, ..options() }).unwrap().bytes
}

/// FNV-1a, for cache keys (stable across Rust versions, unlike std's hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The audience snapshot of `members` members in `encoding`: built once, then read from
/// `target/bench/snapshots/`. Builds are reproducible (fixed seed), so the cache key is what a
/// build depends on: the encoding, the size, and the bytes of a 1 000-member build — which change
/// whenever the builder or the format does, so a stale file is never measured.
pub fn audience_snapshot(encoding: Encoding, members: u64) -> Vec<u8> {
    let name = encoding.name;
    let key = fnv1a(&build_audience(encoding, members.min(1_000)));
    let dir = bench_dir().join("snapshots");
    let path = dir.join(format!("audience-{name}-{members}-{key:016x}.snapshot"));
    if let Ok(bytes) = std::fs::read(&path) {
        return bytes;
    }
    let started = Instant::now();
    eprintln!("building the {name} audience snapshot of {members} members (cached in {})", dir.display());
    let bytes = build_audience(encoding, members);
    eprintln!("  {} bytes in {:.1?}", bytes.len(), started.elapsed());
    // Old builds of this size and encoding are dead weight (10^7 exact is 80 MB).
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let prefix = format!("audience-{name}-{members}-");
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    bytes
}

/// A fixed pseudo-random sequence (SplitMix64) for picking probe keys.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
