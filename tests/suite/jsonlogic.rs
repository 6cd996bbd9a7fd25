//! `edgeseg jsonlogic`, the conformance command, driven in-process through the real CLI parser:
//! the spec-data cases in their data-only form, through the wasm module and natively, and the
//! error lines of bad input, in order.

use edgeseg_host::cli;
use edgeseg_tests::{spec, wasm_module};
use serde_json::{Map, Value, json};

/// Runs `edgeseg jsonlogic` (through wasmtime, or `--native`) over `input`; the output lines.
fn jsonlogic(native: bool, input: &str) -> Vec<Value> {
    let module = wasm_module().to_str().unwrap().to_string();
    let mut argv = vec!["edgeseg".to_string(), "jsonlogic".to_string()];
    if native {
        argv.push("--native".into());
    } else {
        argv.extend(["--module".to_string(), module]);
    }
    let mut out = Vec::new();
    if let Err(e) = cli::run_with_input(argv.iter().map(Into::into), &mut input.as_bytes(), &mut out) {
        panic!("edgeseg jsonlogic: {e:#}");
    }
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Runs both ways and insists on identical output.
fn both(input: &str) -> Vec<Value> {
    let wasm = jsonlogic(false, input);
    let native = jsonlogic(true, input);
    assert_eq!(wasm, native, "wasm and native disagree");
    wasm
}

/// JSON Logic truthiness of a JSON result.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// The data document a request rule sees, laid out as its `var` paths name it: `method`, `host`,
/// `path`, `country`, `now`, `now_ms`, `headers.<lower-case name>`, `cookies.<name>`,
/// `attributes.<name>`.
fn request_data(request: &Value) -> Value {
    let mut data = Map::new();
    for key in ["method", "host", "path", "country", "now_ms", "attributes"] {
        if let Some(v) = request.get(key) {
            data.insert(key.into(), v.clone());
        }
    }
    if let Some(ms) = request.get("now_ms").and_then(Value::as_u64) {
        data.insert("now".into(), json!(ms / 1000));
    }
    let pairs: Vec<(String, String)> = match request.get("headers") {
        Some(Value::Object(h)) => h.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect(),
        Some(Value::Array(h)) => {
            h.iter().map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string())).collect()
        }
        _ => Vec::new(),
    };
    let (mut headers, mut cookies) = (Map::new(), Map::new());
    for (name, value) in pairs {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            for part in value.split(';') {
                if let Some((k, v)) = part.trim().split_once('=') {
                    cookies.entry(k.to_string()).or_insert_with(|| json!(v));
                }
            }
        }
        headers.entry(name).or_insert_with(|| json!(value));
    }
    data.insert("headers".into(), Value::Object(headers));
    data.insert("cookies".into(), Value::Object(cookies));
    Value::Object(data)
}

/// A segment rule has a data-only form when it reads nothing but the request: no memberships,
/// no consent, no `in_segment`, no `fractional` with the default (customer id) key.
fn data_only(segment: &Value) -> Option<&Value> {
    let rule = segment.get("rule")?;
    if segment.get("members").is_some() || segment["purpose"] != "contract" {
        return None;
    }
    let text = rule.to_string();
    (!text.contains("\"in_segment\"") && !text.contains("\"fractional\":[[")).then_some(rule)
}

#[test]
fn spec_cases_in_data_form_pass_through_wasm_and_natively() {
    // One run over every file: each run compiles the module in wasmtime, which dominates.
    let mut input = String::new();
    let mut expected = Vec::new();
    for path in spec::files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.starts_with("jsonlogic-") || name == "flagd-operators.json" || name == "operators.json") {
            continue;
        }
        let file = spec::load(&path);
        for case in &file.cases {
            let data = request_data(&case.request);
            for segment in file.definitions["segments"].as_array().unwrap() {
                let Some(rule) = data_only(segment) else { continue };
                let seg = segment["name"].as_str().unwrap();
                input.push_str(&json!({"rule": rule, "data": data}).to_string());
                input.push('\n');
                expected
                    .push((format!("{name}: {} / {seg}", case.name), case.expect.segments.iter().any(|s| s == seg)));
            }
        }
    }
    let out = both(&input);
    assert_eq!(out.len(), expected.len(), "one output line per input line");
    for (line, (what, matched)) in out.iter().zip(&expected) {
        // A rule that fails (an error value, not a message) does not match.
        let Some(result) = line.get("result") else {
            assert!(line["error"].is_object() && !matched, "{what}: {line}");
            continue;
        };
        assert_eq!(truthy(result), *matched, "{what}: result {result}");
    }
    assert!(expected.len() >= 100, "only {} spec rule evaluations had a data-only form", expected.len());
}

#[test]
fn results_and_errors_come_out_in_order() {
    let input = [
        r#"{"rule": {"var": "a.b"}, "data": {"a": {"b": [1, 2]}}}"#,
        r#"{"rule": {"==": [1, "#,
        r#"{"rule": {"and": [true, {"frobnicate": [1]}]}, "data": {}}"#,
        "",
        r#"{"rule": {"cat": ["x", {"var": "n"}]}, "data": {"n": 1.5}}"#,
        r#"{"data": {}}"#,
        r#"[1, 2]"#,
        r#"{"rule": {"in_segment": "premium"}}"#,
        r#"{"rule": {"/": [{"var": "x"}, 0]}, "data": {"x": 1}}"#,
        r#"{"rule": true, "data": 1, "extra": 0}"#,
    ]
    .join("\n");
    let out = both(&input);
    let error = |i: usize| out[i]["error"].as_str().unwrap_or_else(|| panic!("line {i}: {}", out[i])).to_string();
    assert_eq!(out.len(), 9, "blank lines are skipped, every other line answers: {out:?}");
    assert_eq!(out[0], json!({"result": [1, 2]}));
    assert!(error(1).starts_with("invalid JSON"), "{}", error(1));
    assert!(error(2).contains("unknown operator \"frobnicate\"") && error(2).contains("rule.and[1]"), "{}", error(2));
    assert_eq!(out[3], json!({"result": "x1.5"}));
    assert!(error(4).contains("`rule`"), "{}", error(4));
    assert!(error(5).contains("object"), "{}", error(5));
    assert!(error(6).contains("in_segment"), "{}", error(6));
    // An integer divided by zero fails with the community's NaN error (its value, not a message).
    assert_eq!(out[7], json!({"error": {"type": "NaN"}}));
    assert!(error(8).contains("extra"), "{}", error(8));
}

#[test]
fn issue19_a_rule_out_of_budget_is_a_distinct_error_not_null() {
    // 70,000 bytes of string built: more than the 65,536 work units. A rule that returns null is
    // still a result.
    let input = [
        json!({"rule": {"cat": [{"var": "s"}, "!"]}, "data": {"s": "a".repeat(70_000)}}).to_string(),
        json!({"rule": {"var": "missing"}, "data": {}}).to_string(),
        json!({"rule": {"cat": [{"var": "s"}, "!"]}, "data": {"s": "ab"}}).to_string(),
    ]
    .join("\n");
    let out = both(&input);
    assert_eq!(out[0], json!({"error": cli::jsonlogic::BUDGET_EXCEEDED}));
    assert!(cli::jsonlogic::BUDGET_EXCEEDED.contains(&edgeseg::rule::DEFAULT_EVAL_BUDGET.to_string()));
    assert_eq!(out[1], json!({"result": null}));
    assert_eq!(out[2], json!({"result": "ab!"}));
}

/// `edgeseg jsonlogic --native` with extra arguments over any reader.
fn jsonlogic_native(extra: &[&str], input: &mut dyn std::io::BufRead) -> Vec<Value> {
    let argv = ["edgeseg", "jsonlogic", "--native"].iter().chain(extra).map(|s| s.to_string());
    let mut out = Vec::new();
    cli::run_with_input(argv.map(Into::into), input, &mut out).unwrap();
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn issue19_an_over_long_line_is_an_error_line_read_in_bounded_memory() {
    let ok = r#"{"rule": {"+": [1, 2]}}"#;
    // A 64 MiB line generated on the fly: the reader consumes it without buffering it (the cap is
    // 1 MiB by default), answers one error line and carries on.
    let (head, tail) = (format!("{ok}\n{{\"rule\": \""), format!("\"}}\n{ok}\n"));
    let body = std::io::Read::take(std::io::repeat(b'a'), 64 << 20);
    let endless = std::io::Read::chain(std::io::Read::chain(head.as_bytes(), body), tail.as_bytes());
    let out = jsonlogic_native(&[], &mut std::io::BufReader::new(endless));
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[0], json!({"result": 3}));
    let e = out[1]["error"].as_str().unwrap();
    assert!(e.contains("line 2") && e.contains("1048576") && e.contains("--max-line-bytes"), "{e}");
    assert_eq!(out[2], json!({"result": 3}));

    // A smaller cap, a BOM and CRLF endings.
    let input = format!("\u{feff}{ok}\r\n{{\"rule\": \"{}\"}}\r\n{ok}\r\n", "b".repeat(100));
    let out = jsonlogic_native(&["--max-line-bytes", "64"], &mut input.as_bytes());
    assert_eq!(out[0], json!({"result": 3}));
    assert!(out[1]["error"].as_str().unwrap().contains("longer than 64 bytes"), "{out:?}");
    assert_eq!(out[2], json!({"result": 3}));
}
