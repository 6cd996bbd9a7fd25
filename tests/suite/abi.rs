//! The raw ABI under hostile input, through wasmtime: typed errors, never a trap, and the last good
//! snapshot keeps serving.

use edgeseg::ErrorKind;
use edgeseg_host::guest::{Guest, GuestConfig, GuestError};
use edgeseg_tests::{scratch_per_call, spec, wasm_module};

fn tiers_snapshot() -> Vec<u8> {
    let spec = spec::load(&edgeseg_tests::root().join("tests/spec/tiers.json"));
    spec::build_snapshot(&spec, &scratch_per_call("abi-tiers"))
}

const ALICE: &str = r#"{"now_ms": 1763700000000, "method": "GET", "path": "/", "headers": {"cookie": "uid=alice"}}"#;

fn alice_tier(guest: &mut Guest) -> String {
    let record = edgeseg_host::traffic::TrafficReader::new(format!("{ALICE}\n").as_bytes()).next().unwrap().unwrap();
    guest.decide(&record.request()).unwrap().tier
}

#[test]
fn the_module_imports_nothing() {
    // Checked with wasmtime itself, independently of the host wrapper and of xtask's own parser.
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::from_file(&engine, wasm_module()).unwrap();
    let imports: Vec<String> = module.imports().map(|i| format!("{}::{}", i.module(), i.name())).collect();
    assert!(imports.is_empty(), "raw module imports {imports:?}");
    for export in [
        "memory",
        "edgeseg_abi_version",
        "edgeseg_alloc",
        "edgeseg_dealloc",
        "edgeseg_load",
        "edgeseg_decide",
        "edgeseg_free",
    ] {
        assert!(module.get_export(export).is_some(), "missing export {export}");
    }
    let guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    assert!(guest.imports().is_empty());
}

#[test]
fn each_corruption_is_refused_with_its_kind_and_the_last_good_snapshot_keeps_serving() {
    let good = tiers_snapshot();
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&good).unwrap();
    assert_eq!(alice_tier(&mut guest), "premium");

    let mut flipped = good.clone();
    let mid = 20 + (good.len() - 20) / 2;
    flipped[mid] ^= 0x04;
    let mut magic = good.clone();
    magic[..8].copy_from_slice(b"GZIP\0\0\0\0");
    let mut version = good.clone();
    version[8] = 9;
    // A format-2 payload labelled format 1: the extension record is left over, not ignored.
    let mut relabelled = good.clone();
    relabelled[8] = 1;
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    let cases: [(&str, Vec<u8>, ErrorKind); 7] = [
        ("empty", Vec::new(), ErrorKind::Truncated),
        ("truncated", good[..good.len() / 2].to_vec(), ErrorKind::Truncated),
        ("flipped bit", flipped, ErrorKind::ChecksumMismatch),
        ("wrong magic", magic, ErrorKind::BadMagic),
        ("wrong version", version, ErrorKind::UnsupportedVersion),
        ("format 2 labelled 1", relabelled, ErrorKind::Payload),
        ("trailing bytes", trailing, ErrorKind::LengthMismatch),
    ];
    for (what, bytes, kind) in cases {
        match guest.load_snapshot(&bytes) {
            Err(GuestError::Abi { kind: got, .. }) => assert_eq!(got, Some(kind), "{what}"),
            other => panic!("{what}: expected an ABI error of kind {kind:?}, got {other:?}"),
        }
        assert_eq!(alice_tier(&mut guest), "premium", "after {what}, the good snapshot must still answer");
    }
}

/// A small deterministic PRNG (SplitMix64) so mutation runs are reproducible.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn mutated_snapshots_and_garbage_requests_never_trap() {
    let good = tiers_snapshot();
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&good).unwrap();
    let mut state = 0x0ED6_E5E6u64;
    let mut refused = 0;
    for _ in 0..300 {
        let mut bytes = good.clone();
        // Mutate the payload and re-seal the header checksum, so the decoder and validator (not
        // just the checksum) see the damage.
        for _ in 0..1 + splitmix(&mut state) % 4 {
            let at = 20 + (splitmix(&mut state) as usize) % (bytes.len() - 20);
            bytes[at] = splitmix(&mut state) as u8;
        }
        let crc = edgeseg::format::crc32c(&bytes[20..]);
        bytes[16..20].copy_from_slice(&crc.to_le_bytes());
        match guest.load_snapshot(&bytes) {
            Ok(_) => guest.load_snapshot(&good).map(|_| ()).unwrap(),
            Err(GuestError::Abi { .. }) => refused += 1,
            Err(other) => panic!("a mutated snapshot must be refused, not {other:?}"),
        }
        let garbage: Vec<u8> = (0..splitmix(&mut state) % 64).map(|_| splitmix(&mut state) as u8).collect();
        match guest.decide_raw(&garbage) {
            Ok(answer) => {
                let decoded: Result<Result<edgeseg::Decision<'_>, edgeseg::abi::AbiError>, _> =
                    postcard::from_bytes(&answer);
                assert!(decoded.is_ok(), "the answer to garbage must itself be well-formed");
            }
            Err(other) => panic!("garbage request must be answered, not {other:?}"),
        }
    }
    assert!(refused > 100, "only {refused} of 300 mutated snapshots were refused");
    assert_eq!(alice_tier(&mut guest), "premium");
}

#[test]
fn garbage_request_is_a_request_error() {
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&tiers_snapshot()).unwrap();
    let answer = guest.decide_raw(&[0xff; 9]).unwrap();
    let decoded: Result<edgeseg::Decision<'_>, edgeseg::abi::AbiError> = postcard::from_bytes(&answer).unwrap();
    assert_eq!(decoded.unwrap_err().kind(), Some(ErrorKind::Request));
}
