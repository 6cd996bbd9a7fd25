//! Builds the guest: the raw-ABI wasm module the tests load into wasmtime, exactly as `cargo xtask
//! build` does (same package, target, profile, features). When `EDGESEG_WASM` names an existing
//! module (as `cargo xtask test` sets it), that one is used instead of building a second copy.
//!
//! The nested cargo uses its own target directory so it never waits on the outer build's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=EDGESEG_WASM");
    if let Some(given) = std::env::var_os("EDGESEG_WASM").map(PathBuf::from)
        && given.is_file()
    {
        println!("cargo:rerun-if-changed={}", given.display());
        println!("cargo:rustc-env=EDGESEG_TEST_WASM={}", given.display());
        return;
    }
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    for watched in ["edge/src", "edge/Cargo.toml", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_dir = root.join("target").join("guest");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-p", "edgeseg", "--lib", "--target", "wasm32-unknown-unknown", "--profile", "wasm"])
        .args(["--no-default-features", "--features", "abi", "--target-dir"])
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "building the guest module failed ({s}); is the wasm32-unknown-unknown target installed? (`rustup target add wasm32-unknown-unknown`)"
        )),
        Err(e) => fail(&format!("could not run cargo to build the guest module: {e}")),
    }
    let module = target_dir.join("wasm32-unknown-unknown").join("wasm").join("edgeseg.wasm");
    println!("cargo:rustc-env=EDGESEG_TEST_WASM={}", module.display());
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
