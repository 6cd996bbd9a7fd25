//! Arbitrary bytes as a HAR 1.2 document,
//! drained record by record and error by error; each record is decided.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static ENGINE: RefCell<edgeseg::Engine> = RefCell::new(edgeseg_fuzz::engine());
}

fuzz_target!(|data: &[u8]| {
    ENGINE.with_borrow_mut(|engine| edgeseg_fuzz::traffic::har(data, engine));
});
