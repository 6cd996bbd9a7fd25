//! Arbitrary bytes as a revocation delta (raw, or a payload given a valid header: see
//! `edgeseg_fuzz::container`): decoded on their own, then applied to an engine over the
//! fixture snapshot, which must still decide afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(bytes) = edgeseg_fuzz::delta_container(data) else { return };
    let _ = edgeseg::delta::RevocationDelta::decode(&bytes);
    let mut engine = edgeseg_fuzz::engine();
    if engine.apply_delta(&bytes).is_ok() {
        for request in edgeseg_fuzz::requests() {
            let _ = engine.decide(&request);
        }
    }
});
