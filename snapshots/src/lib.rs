//! # edgeseg-snapshots — from segment definitions and member files to snapshot bytes
//!
//! The edge ([`edgeseg`]) is deliberately small: it walks rule IR and probes fingerprint sets.
//! Everything that needs JSON, files, clocks, randomness or member data happens here, once, at
//! build time:
//!
//! * [`definitions`] — the hand-written JSON that declares tiers, purposes and segments, checked
//!   with errors that point at `file:line:column` or a field path like `segments[2].tier`;
//! * [`members`] — streaming CSV/JSONL (plain, gzip, zstd, stdin) and Parquet (file or part-file
//!   directory, hive partitions) readers with line or row numbers;
//! * [`policy`] — the consent-signal and action sections (throttle, cache, route);
//! * [`revoke`] — revocation deltas (opt-outs since the build) for the edge to apply at once;
//! * [`compile`] — JSON Logic to the edge's IR, constant-folded, variables resolved to slots;
//! * [`build()`] — consent filtering, profile rules evaluated with the edge's own evaluator,
//!   keyed fingerprints, exact/bloom sets, a snapshot the edge's decoder has already accepted;
//! * [`inspect()`] — what is in a snapshot, without ever showing an id or the key;
//! * [`sample`] — deterministic demo members, traffic and definitions;
//! * [`text`] — untrusted text: byte-order marks, which customer ids are refused, escaping for display;
//! * [`keys`] — supplied fingerprint keys (reproducible builds, builds in parts);
//! * [`parts`] — a sharded build as separate steps for a distributed engine (Spark);
//! * [`fixture`] — the hand-made five-segment snapshot the host tests, fuzz targets and examples share.
//!
//! Two promises hold for every snapshot built here: **no raw customer id and no profile
//! attribute is ever written** (only SipHash fingerprints under a per-build key), and **a member
//! is in a segment only if the segment's purpose is `contract` or the member consented to it**.
//!
//! Native only: this crate reads files and the system clock, which the edge never may.
#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, reason = "in tests a failed unwrap is a failed test")
)]

pub mod build;
pub mod check;
pub mod compile;
pub mod conflicts;
pub mod definitions;
mod error;
pub mod fixture;
pub mod flagd;
pub mod fuse;
pub mod inspect;
pub mod keys;
pub mod members;
pub mod parts;
mod plan;
pub mod policy;
mod prng;
pub mod revoke;
pub mod sample;
pub mod shard;
pub mod sign;
mod summary;
pub mod text;
pub mod verify;

pub use build::{
    BuildOptions, Built, ExactForm, Progress, build, build_file_with_progress, build_files, build_source_with_progress,
    build_with_progress,
};
pub use definitions::Definitions;
pub use error::{BuildError, BuildErrorKind};
pub use inspect::{Inspection, inspect};
pub use members::Member;
pub use summary::{BuildSummary, PurposeSummary, SegmentSummary};
