//! Shared harness for edgeseg's cross-crate tests (the test binary is `tests/suite/main.rs`).
//!
//! * [`spec`] — the one spec-data format (definitions + members + requests + expected decisions),
//!   run natively and through wasmtime with identical results.
//! * [`membership`] — snapshots with many synthetic members, per encoding (tests and benches).
//! * [`golden`] — committed expected outputs, rewritten with `EDGESEG_BLESS=1`, diffed on failure.

pub mod golden;
pub mod membership;
pub mod spec;

use std::path::{Path, PathBuf};

/// The raw-ABI module built for the tests by `build.rs` (or given by `EDGESEG_WASM`).
pub fn wasm_module() -> &'static Path {
    Path::new(env!("EDGESEG_TEST_WASM"))
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A fresh scratch directory for each call (`target/test-scratch/<name>-<n>`), for helpers that
/// several tests call at once: with one shared directory, one test's [`scratch`] emptied it while
/// another was building in it.
pub fn scratch_per_call(name: &str) -> PathBuf {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    scratch(&format!("{name}-{}", CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)))
}

/// A fresh, empty scratch directory under `target/test-scratch/<name>`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target").join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}
