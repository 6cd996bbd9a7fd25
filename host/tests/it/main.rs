//! Integration tests of `edgeseg-host`: one binary (linking wasmtime once), a module per topic.
//!
//! The guest module is the real `edgeseg.wasm` (see [`support::wasm_path`]); snapshots are made
//! by hand (`edgeseg_snapshots::fixture`, through [`support::payload`]) so every expected
//! number in these tests can be worked out on paper.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "in tests a failed unwrap is a failed test")]

mod cli;
mod guest;
mod hardening;
mod hostile;
mod identity;
mod member_input;
mod replay;
mod shards;
mod support;
mod wasm;
