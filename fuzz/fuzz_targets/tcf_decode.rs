//! Arbitrary bytes as a TCF v2 string (lossy UTF-8, as a header or cookie would give it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(tc) = edgeseg::tcf::decode(&s) {
        for i in 0..=u8::MAX {
            let _ = (tc.purpose_consent(i), tc.purpose_li(i), tc.special_feature_optin(i));
        }
    }
});
