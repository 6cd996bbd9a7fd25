//! `wasm-pack.toml`: the one place that says how the wasm artefacts are built.

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub raw: Raw,
    pub js: Js,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    pub package: String,
    pub target: String,
    pub profile: String,
    pub features: Vec<String>,
    pub out: String,
    pub binaryen: String,
    pub wasm_opt: Vec<String>,
    pub budget_gzip_bytes: u64,
    pub allowed_imports: Vec<String>,
    pub forbidden_crates: Vec<String>,
}

/// The npm package of the wasm-bindgen skin (`[js]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Js {
    pub crate_dir: String,
    pub features: Vec<String>,
    pub profile: String,
    pub targets: Vec<String>,
    pub out: String,
    pub package_dir: String,
    pub wasm_bindgen: String,
    pub wasm_pack: String,
    pub deno: String,
    pub esbuild: String,
    pub budget_gzip_bytes: u64,
}

pub fn load(root: &Path) -> Result<Config, String> {
    let path = root.join("wasm-pack.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
