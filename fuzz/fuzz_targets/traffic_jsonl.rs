//! Arbitrary bytes as an edgeseg JSONL request log, drained record by record and error by error;
//! each record is decided by an engine over the fixture snapshot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static ENGINE: RefCell<edgeseg::Engine> = RefCell::new(edgeseg_fuzz::engine());
}

fuzz_target!(|data: &[u8]| {
    ENGINE.with_borrow_mut(|engine| edgeseg_fuzz::traffic::jsonl(data, engine));
});
