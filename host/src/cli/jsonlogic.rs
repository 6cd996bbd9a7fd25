//! `edgeseg jsonlogic [--native]`: the conformance command.
//!
//! Reads JSON Lines `{"rule": <JSON Logic>, "data": <JSON>}` and writes one line per input line,
//! in order: `{"result": <JSON>}` or `{"error": "<message>"}`. Each rule is compiled by the builder
//! (natively, in `Mode::Data`: `var` reads `data`) and evaluated inside the wasm module through
//! wasmtime (`edgeseg_eval`), or with `--native` by the Rust core directly — the same IR and the
//! same evaluator, so the two must agree line for line. A bad line is an error line, never the end
//! of the run; blank lines are skipped. Results print as `JSON.stringify` would (NaN → `null`).

use super::module_path;
use crate::guest::{Guest, GuestConfig};
use clap::Args;
use edgeseg::rule::Literal;
use edgeseg_snapshots::compile::{compile_data, literal_from_json, literal_to_json};
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct JsonLogicArgs {
    /// Evaluate with the native Rust core instead of the wasm module.
    #[arg(long)]
    pub native: bool,
    /// The edgeseg wasm module [default: $EDGESEG_WASM, else target/wasm/edgeseg.wasm].
    #[arg(long, value_name = "FILE", conflicts_with = "native")]
    pub module: Option<PathBuf>,
    /// Fuel (wasm operations) per evaluation; 0 turns metering off.
    #[arg(long, value_name = "N", default_value_t = crate::guest::DEFAULT_FUEL_PER_CALL)]
    pub fuel: u64,
}

/// Runs the command over `input`, one answer line per input line.
pub fn run_jsonlogic(args: &JsonLogicArgs, input: &mut dyn BufRead, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut guest = if args.native {
        None
    } else {
        let config = GuestConfig { fuel_per_call: (args.fuel > 0).then_some(args.fuel), ..GuestConfig::default() };
        Some(Guest::from_file(&module_path(args.module.as_ref()), config)?)
    };
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let answer = match evaluate(&line, guest.as_mut()) {
            Ok(result) => json!({ "result": literal_to_json(&result) }),
            Err(message) => json!({ "error": message }),
        };
        serde_json::to_writer(&mut *out, &answer)?;
        writeln!(out)?;
    }
    Ok(())
}

/// One input line to its result, or the message of the error line.
fn evaluate(line: &[u8], guest: Option<&mut Guest>) -> Result<Literal, String> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let serde_json::Value::Object(mut fields) = value else {
        return Err("expected an object {\"rule\": …, \"data\": …}".into());
    };
    let rule = fields.remove("rule").ok_or("missing field `rule`")?;
    let data = fields.remove("data").unwrap_or(serde_json::Value::Null);
    if let Some(unknown) = fields.keys().next() {
        return Err(format!("unknown field `{unknown}` (expected `rule` and `data`)"));
    }
    let rule = compile_data(&rule).map_err(|e| e.to_string())?;
    let data = literal_from_json(&data).map_err(|e| e.to_string())?;
    match guest {
        Some(guest) => guest.eval(&rule, &data).map_err(|e| e.to_string()),
        None => Ok(rule.evaluate_data(&data).to_literal()),
    }
}
