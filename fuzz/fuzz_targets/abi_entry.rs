//! The raw ABI's entry points, natively: the `extern "C"` exports only exist on wasm32, and each
//! is a pointer shim over one of these message functions (`edge/src/abi.rs`). The first byte picks
//! the entry point, the rest is its message; every answer must be a non-empty postcard message
//! that decodes as the entry point's result type. Snapshots and deltas go through
//! `edgeseg_fuzz::container` (one more byte: raw, or a payload given a valid header).
#![no_main]

use edgeseg::abi::{self, ClaimResult, DecideResult, DeltaResult, EvalResult, ImportResult, LoadResult};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, message)) = data.split_first() else { return };
    match which % 6 {
        0 => {
            let Some(bytes) = edgeseg_fuzz::snapshot_container(message) else { return };
            let answer = match edgeseg::Engine::load(&bytes) {
                Ok(engine) => abi::load_message(Ok((&engine, 1))),
                Err(e) => abi::load_message(Err(&e)),
            };
            assert!(postcard::from_bytes::<LoadResult<'_>>(&answer).is_ok());
        }
        1 => {
            let mut engine = edgeseg_fuzz::engine();
            let answer = abi::decide_message(&mut engine, message);
            assert!(postcard::from_bytes::<DecideResult<'_>>(&answer).is_ok());
        }
        2 => {
            let mut engine = edgeseg_fuzz::engine();
            let Some(bytes) = edgeseg_fuzz::delta_container(message) else { return };
            let answer = abi::delta_message(&mut engine, &bytes);
            assert!(postcard::from_bytes::<DeltaResult>(&answer).is_ok());
        }
        3 => {
            let mut engine = edgeseg_fuzz::engine();
            let answer = abi::throttle_import_message(&mut engine, message);
            assert!(postcard::from_bytes::<ImportResult>(&answer).is_ok());
            // Imported state must not break the next decisions.
            for request in edgeseg_fuzz::requests() {
                let _ = engine.decide(&request);
            }
        }
        5 => {
            // A request against verified identity sources: the claim, then the decision with
            // and without a verified id, must all answer.
            let mut engine = edgeseg_fuzz::verified_engine();
            let answer = abi::identity_claim_message(&engine, message);
            assert!(postcard::from_bytes::<ClaimResult<'_>>(&answer).is_ok());
            let answer = abi::decide_message(&mut engine, message);
            assert!(postcard::from_bytes::<DecideResult<'_>>(&answer).is_ok());
        }
        _ => {
            let answer = abi::eval_message(message);
            assert!(postcard::from_bytes::<EvalResult>(&answer).is_ok());
        }
    }
});
