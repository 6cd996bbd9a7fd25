//! edgeseg's cross-crate test suite: one binary, a module per topic.

mod abi;
mod compat;
mod demo;
mod privacy;
mod spec;
