//! edgeseg's cross-crate test suite: one binary, a module per topic.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test helpers: a panic is the failure report")]

mod abi;
mod actions;
mod budget;
mod demo;
mod diff;
mod differential;
mod filters;
mod har;
mod hostile;
mod jsonlogic;
mod membership;
mod nginx;
mod privacy;
mod ratelimit_fields;
mod reports;
mod rule_errors;
mod shards;
mod slo;
mod spec;
mod throttle;
mod tidy;
mod tracing;
mod work;
