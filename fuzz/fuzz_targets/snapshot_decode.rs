//! Arbitrary bytes as a snapshot (raw, or a payload given a valid header: see
//! `edgeseg_fuzz::container`): loading never panics, and a snapshot that loads decides the
//! fixed requests (and its stats) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(bytes) = edgeseg_fuzz::snapshot_container(data) else { return };
    let Ok(mut engine) = edgeseg::Engine::load(&bytes) else { return };
    for request in edgeseg_fuzz::requests() {
        let _ = engine.decide(&request);
        let _ = engine.classify(&request);
    }
    let _ = engine.stats();
});
