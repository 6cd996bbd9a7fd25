//! `cargo xtask test-spark` (and a step of `test`): the Python package and the Spark job.
//!
//! Installs what it needs (Java 17 from Debian if `java` is missing; a venv at `target/pyenv` with
//! the pins of `python/requirements-test.txt`), builds the `edgeseg` abi3 wheel with maturin into
//! `target/wheels`, installs it, and runs `python/tests` with unittest: PySpark in local mode writes
//! 10^6 members as Parquet, the job (`examples/spark/build_snapshot.py`) and `edgeseg build` build
//! them, and the outputs must agree byte for byte and decide alike natively and in wasmtime.

use crate::tasks::{apt_install, cargo, output, root, run, step, target_dir};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's Python, creating the venv and installing the pins when they are not there yet.
fn venv() -> Result<PathBuf, String> {
    let dir = target_dir().join("pyenv");
    let python = dir.join("bin").join("python");
    let requirements = root().join("python").join("requirements-test.txt");
    let stamp = dir.join("requirements.installed");
    let wanted = std::fs::read_to_string(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && python.exists() {
        eprintln!("ok: {} has the pinned packages", dir.display());
        return Ok(python);
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "-r"]).arg(&requirements))?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}

/// Java for PySpark: Debian's headless JRE 17 when no `java` runs.
fn java() -> Result<(), String> {
    if Command::new("java").arg("-version").output().is_ok_and(|o| o.status.success()) {
        eprintln!("ok: java is installed");
        return Ok(());
    }
    apt_install(&["openjdk-17-jre-headless"])
}

/// Builds and installs the wheel; returns its path.
fn wheel(python: &Path) -> Result<PathBuf, String> {
    let out = target_dir().join("wheels");
    let _ = std::fs::remove_dir_all(&out);
    run(Command::new(python)
        .current_dir(root())
        // The dev profile: it shares the member readers' compiled crates (opt-level 2, see the
        // workspace Cargo.toml) with the CLI build, instead of a second, release build of them.
        .args(["-m", "maturin", "build", "--profile", "dev", "--locked", "--quiet", "-m"])
        .arg(root().join("python").join("Cargo.toml"))
        .arg("-o")
        .arg(&out))?;
    let wheel = std::fs::read_dir(&out)
        .map_err(|e| format!("{}: {e}", out.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| format!("maturin wrote no wheel into {}", out.display()))?;
    run(Command::new(python).args(["-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps"]).arg(&wheel))?;
    Ok(wheel)
}

/// The whole Spark test, given the wasm module.
pub fn test(module: &Path) -> Result<(), String> {
    step("Spark: Java, the Python venv (pinned), the edgeseg wheel");
    java()?;
    let python = venv()?;
    let wheel = wheel(&python)?;
    eprintln!("ok: {}", wheel.display());

    step("Spark: the edgeseg CLI and the native decider the test compares with");
    run(cargo().args(["build", "--locked", "-p", "edgeseg-host", "--bin", "edgeseg", "--example", "decide_native"]))?;
    let debug = target_dir().join("debug");

    step(
        "Spark: python/tests (PySpark local[2], 10^6 members; job vs CLI byte for byte, decisions natively and in wasmtime)",
    );
    let version = output(Command::new(&python).args(["-c", "import edgeseg, pyspark; print(pyspark.__version__)"]))?;
    eprintln!("pyspark {}", version.trim());
    run(Command::new(&python)
        .current_dir(root())
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(root().join("python").join("tests"))
        .env("EDGESEG_CLI", debug.join("edgeseg"))
        .env("EDGESEG_DECIDE_NATIVE", debug.join("examples").join("decide_native"))
        .env("EDGESEG_WASM", module)
        .env("PYSPARK_PYTHON", &python))
}
