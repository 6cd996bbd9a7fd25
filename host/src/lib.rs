//! # edgeseg-host — the native side of edgeseg
//!
//! Runs the very `edgeseg.wasm` module the CDN edges run, under wasmtime, against recorded
//! traffic, and reports what the snapshot would do: which tier each request lands in, how many
//! users each tier serves, how long a decision takes inside the module. Running the real module
//! rather than the native crate is the point: what the report says is what the edge will do,
//! down to the ABI and the memory and fuel limits.
//!
//! * [`guest`] — the wasmtime embedding of the raw ABI (`edge/ABI.md`): limits, trap recovery,
//!   snapshot hot swap.
//! * [`traffic`] — the streaming reader of edgeseg's JSONL request log.
//! * [`replay`] — feeds traffic through a guest and aggregates the per-tier [`replay::Report`].
//! * [`diff`] — the same traffic through two snapshots: tier transitions and deploy gates.
//! * [`report`] — `--html` and `--markdown`: a self-contained page and a PR summary of either.
//! * [`shards`] — a sharded snapshot's shard files, loaded into the guest as requests need them.
//! * [`cli`] — the `edgeseg` command line.

pub mod cli;
pub mod diff;
pub mod guest;
pub mod identity;
pub mod replay;
pub mod report;
pub mod shards;
pub mod traffic;
