//! A postcard rule, then a generated request context from the bytes after it: a rule that
//! validates evaluates without panicking, and terminates (MAX_NODES and MAX_DEPTH bound it;
//! libFuzzer's `-timeout` reports a hang).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use edgeseg::rule::Rule;
use edgeseg_fuzz::{Context, TestEnv};
use libfuzzer_sys::fuzz_target;

/// Segments the validated rule may refer to with `in_segment`.
const SEGMENTS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Ok((rule, rest)) = postcard::take_from_bytes::<Rule>(data) else { return };
    if rule.validate(SEGMENTS).is_err() {
        return;
    }
    let Ok(context) = Context::arbitrary_take_rest(Unstructured::new(rest)) else { return };
    let env = TestEnv(&context);
    let _ = rule.evaluate(&env).to_literal();
    let _ = rule.matches(&env);
});
