//! Every spec file, natively and through wasmtime: identical decisions, and the expected ones.

use edgeseg::Engine;
use edgeseg_host::guest::{Guest, GuestConfig, OwnedDecision};
use edgeseg_tests::{scratch, spec, wasm_module};

#[test]
fn spec_files_decide_the_same_natively_and_in_wasmtime_and_as_expected() {
    let files = spec::files();
    assert!(files.len() >= 3, "spec files missing: {files:?}");
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in &files {
        let file = path.file_stem().unwrap().to_string_lossy().into_owned();
        let spec = spec::load(path);
        let bytes = spec::build_snapshot(&spec, &scratch(&format!("spec-{file}")));
        let mut engine = Engine::load(&bytes).unwrap();
        let loaded = guest.load_snapshot(&bytes).unwrap();
        let mut sequence = 0;
        for case in &spec.cases {
            cases += 1;
            if let Some(lines) = &case.revocations {
                sequence += 1;
                let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
                let delta =
                    edgeseg_snapshots::revoke::revocation_delta(&bytes, text.as_bytes(), sequence, 1_763_700_000_000)
                        .unwrap()
                        .encode()
                        .unwrap();
                engine.apply_delta(&delta).unwrap();
                guest.apply_delta(&delta).unwrap();
            }
            let record = spec::request(case);
            let request = record.request();
            let native = engine.decide(&request);

            // Byte for byte: the ABI answer is the postcard of the native decision. One call each
            // side: decisions may change state (throttles), so both see the same sequence.
            let native_answer: Result<_, edgeseg::abi::AbiError> = Ok(native.clone());
            let wasm_answer = guest.decide_raw(&postcard::to_allocvec(&request).unwrap()).unwrap();
            if postcard::to_allocvec(&native_answer).unwrap() != wasm_answer {
                failures.push(format!("{file}: {}: wasm answer bytes differ from native", case.name));
            }
            let native = OwnedDecision::from(&native);
            let wasm = OwnedDecision::from_answer(&wasm_answer).unwrap();
            if native != wasm {
                failures.push(format!("{file}: {}: native {native:?} != wasm {wasm:?}", case.name));
                continue;
            }
            if let Err(why) = spec::check(&case.expect, &native, &loaded.purposes) {
                failures.push(format!("{file}: {}: {why}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {cases} spec cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(cases >= 20, "only {cases} spec cases ran");
}
