//! # edgeseg — the edge segmentation engine
//!
//! This crate is the part of edgeseg that runs on every request, inside a WebAssembly module on a
//! CDN edge worker, in a browser, or natively in the replay host. It does one thing: given a
//! [`Snapshot`] (built offline by `edgeseg-snapshots`) and a [`Request`], produce a [`Decision`] —
//! which tier the request belongs to, which segments it matched, and the headers to add.
//!
//! ## Why it is shaped this way
//!
//! * **Pure.** The core does no IO, reads no clock and draws no randomness. Time comes in the
//!   request (`now_ms`); the fingerprint key and filter seeds come in the snapshot. The same
//!   snapshot and the same requests give the same decisions on x86_64 and on wasm32, which is what
//!   lets CI replay real traffic and trust the result at the edge.
//! * **`#![no_std]` + alloc.** Only the `bloom` feature links std (the `bloomfilter` crate, which the
//!   builder uses to make filters; probing them is our own code): the wasm modules do not enable it,
//!   and without it the crate builds for targets that have no std at all.
//! * **No JSON at the edge.** Rules are parsed, checked and compiled to a small IR by the builder;
//!   this crate only walks IR ([`rule`]). The snapshot is postcard behind a checksummed header
//!   ([`format`]).
//! * **Never panics on input.** Every byte of a snapshot and a request is untrusted: decoding
//!   validates everything that evaluation later relies on, and evaluation itself only uses checked
//!   access, so a bad input is a typed [`Error`], never a trap across the wasm boundary.
//! * **Customer ids never ship.** Membership sets hold keyed 64-bit fingerprints ([`fingerprint`]).
//!
//! Two thin skins sit on top: [`abi`] (raw exports, feature `abi`) and `js` (wasm-bindgen, feature
//! `js`, wasm32 only).
#![no_std]
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::panic))]

extern crate alloc;

#[cfg(feature = "abi")]
pub mod abi;

/// Both wasm modules' allocator (raw ABI and JS): talc instead of std's dlmalloc, ~7 KB less code
/// (issue 9's size budgets). Single-threaded wasm only (no `atomics`), like the ABI's handle table
/// and wasm-bindgen's own state; it grows memory with `memory.grow` as dlmalloc did, so hosts'
/// memory limits apply the same way.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics"), any(feature = "abi", feature = "js")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The raw-ABI module links no std (only the builder's `bloom` feature needs it; the JS module gets
/// std through wasm-bindgen), so it brings its own panic handler: a trap, as std's is under the
/// profile's `panic = "abort"`. Nothing is formatted, so no message code is linked. Hosts see the
/// trap and re-instantiate (`host/src/guest.rs`); no input reaches it (see "Never panics").
#[cfg(all(target_arch = "wasm32", feature = "abi", not(feature = "js"), not(feature = "bloom"), not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
pub mod actions;
pub mod consent;
mod decision;
pub mod delta;
mod engine;
mod error;
pub mod fingerprint;
pub mod format;
pub mod identity;
#[cfg(all(feature = "js", target_arch = "wasm32"))]
pub mod js;
pub mod membership;
pub mod path;
mod request;
pub mod response;
pub mod rule;
pub mod shard;
pub mod snapshot;
pub mod swap;
pub mod tcf;
pub mod throttle;
pub mod trace;

pub use decision::{CacheOutcome, Decision, Header, RouteOutcome, ThrottleOutcome, ThrottleResult, strip_baggage};
pub use engine::{Classification, Engine, EngineStats, MAX_ID_LEN};
pub use error::{Error, ErrorKind};
pub use request::{AttrValue, Cookies, HeaderValues, Request};
pub use snapshot::Snapshot;
pub use throttle::ip_key;
