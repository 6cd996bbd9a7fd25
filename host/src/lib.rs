//! # edgeseg-host — the native side of edgeseg
//!
//! Runs the very `edgeseg.wasm` module the CDN edges run, under wasmtime, so that what the host
//! reports is what the edge will do, down to the ABI and the memory and fuel limits.
//!
//! * [`guest`] — the wasmtime embedding of the raw ABI (`edge/ABI.md`): limits, trap recovery,
//!   snapshot hot swap.
//! * [`traffic`] — the streaming reader of edgeseg's JSONL request log.
//! * [`replay`] — feeds traffic through a guest and aggregates the per-tier [`replay::Report`].

pub mod guest;
pub mod replay;
pub mod traffic;
