//! `edgeseg jsonlogic [--native]`: the conformance command.
//!
//! Reads JSON Lines `{"rule": <JSON Logic>, "data": <JSON>}` and writes one line per input line,
//! in order: `{"result": <JSON>}`, `{"error": {"type": "NaN"}}` (the rule failed: the community's
//! error value, e.g. `{"type": "Invalid Arguments"}`) or `{"error": "<message>"}` (no answer: bad
//! input, a refused rule, an exhausted budget). Each rule is compiled by the builder
//! (natively, in `Mode::Data`: `var` reads `data`) and evaluated inside the wasm module through
//! wasmtime (`edgeseg_eval`), or with `--native` by the Rust core directly — the same IR and the
//! same evaluator, so the two must agree line for line. A bad line is an error line, never the end
//! of the run; blank lines are skipped. Results print as `JSON.stringify` would (NaN → `null`).
//!
//! Input is untrusted: lines are read with a cap (`--max-line-bytes`, default 1 MiB as replay's,
//! through the traffic readers' capped line reader), so an endless line costs bounded memory and
//! is one error line; a rule that runs out of the edge's evaluation budget is the error
//! [`BUDGET_EXCEEDED`], never a `null` result.

use crate::guest::{Guest, GuestConfig, GuestError};
use crate::traffic::lines::{Line, Lines};
use clap::Args;
use edgeseg::ErrorKind;
use edgeseg::abi::EVAL_BUDGET_EXCEEDED;
use edgeseg::rule::{DEFAULT_EVAL_BUDGET, Halt, Literal};
use edgeseg_snapshots::compile::{compile_data, literal_from_json, literal_to_json};
use serde_json::json;
use std::io::{BufRead, Write};

#[derive(Debug, Args)]
pub struct JsonLogicArgs {
    /// Evaluate with the native Rust core instead of the wasm module.
    #[arg(long)]
    pub native: bool,
    /// Not read with `--native`.
    #[command(flatten)]
    pub module: super::common_args::ModuleArgs,
    /// Fuel (wasm operations) per evaluation; 0 turns metering off.
    #[arg(long, value_name = "N", default_value_t = crate::guest::DEFAULT_FUEL_PER_CALL)]
    pub fuel: u64,
    /// Longest input line read, in bytes (line ending excluded); a longer line is skipped without
    /// being buffered and answered with an error line.
    #[arg(long, value_name = "N", default_value_t = crate::traffic::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
}

/// The error line's message for a rule that runs out of the evaluation budget, both ways.
pub const BUDGET_EXCEEDED: &str = "evaluation budget exceeded: the rule needs more than 65536 work units";

/// Runs the command over `input`, one answer line per input line.
pub fn run_jsonlogic(args: &JsonLogicArgs, input: &mut dyn BufRead, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut guest = if args.native {
        None
    } else {
        let config = GuestConfig { fuel_per_call: (args.fuel > 0).then_some(args.fuel), ..GuestConfig::default() };
        Some(Guest::from_file(&args.module.path, config)?)
    };
    let mut lines = Lines::new(input, args.max_line_bytes);
    while let Some(line) = lines.next_line() {
        let answer = match line {
            Line::Text(_, text) if text.iter().all(u8::is_ascii_whitespace) => continue,
            Line::Text(_, text) => evaluate(text, guest.as_mut()),
            Line::Error(e) if e.is_fatal() => anyhow::bail!("reading the input: {e}"),
            Line::Error(e) => {
                Err(format!("line {} is longer than {} bytes (--max-line-bytes); skipped", e.line, args.max_line_bytes))
            }
        };
        let answer = match answer {
            Ok(Ok(result)) => json!({ "result": literal_to_json(&result) }),
            Ok(Err(error)) => json!({ "error": literal_to_json(&error) }),
            Err(message) => json!({ "error": message }),
        };
        serde_json::to_writer(&mut *out, &answer)?;
        writeln!(out)?;
    }
    Ok(())
}

/// One input line to its result or its evaluation error's value, or the message of the error line.
fn evaluate(line: &[u8], guest: Option<&mut Guest>) -> Result<Result<Literal, Literal>, String> {
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
        Some(guest) => guest.eval(&rule, &data).map_err(|e| match &e {
            GuestError::Abi { kind: Some(ErrorKind::TooLarge), message, .. } if message == EVAL_BUDGET_EXCEEDED => {
                BUDGET_EXCEEDED.to_string()
            }
            _ => e.to_string(),
        }),
        None => match rule.evaluate_data_within(&data, DEFAULT_EVAL_BUDGET) {
            Ok(value) => Ok(Ok(value.to_literal())),
            Err(Halt::Error(e)) => Ok(Err(e.to_literal())),
            Err(Halt::Budget) => Err(BUDGET_EXCEEDED.to_string()),
        },
    }
}
