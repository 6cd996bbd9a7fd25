//! Compiled rule evaluation, edgeseg against datalogic-rs 5.4.0 (the engine inside flagd), on the
//! same rules and the same data. Run it with `cargo xtask bench` (release build, JSON report in
//! `target/bench/rules.json`), or directly:
//!
//! ```text
//! cargo run --release -p edgeseg-tests --example rules_bench -- [--json FILE] [--runs N]
//! ```
//!
//! Two modes. **data**: `var` reads a JSON document (json-logic-js's `apply(rule, data)`, the
//! conformance path). **request**: the product path — the same rules compiled as request rules
//! (`country`, `headers.user-agent`, `attributes.ltv`, …) and evaluated against an
//! `edgeseg::Request`, against datalogic-rs over the equivalent document (`{"country": …,
//! "headers": {…}, "attributes": {…}}`) with the same rule text. "some over an array" has no
//! request form (attributes are scalars).
//!
//! Both sides do their one-off work outside the timed loop: edgeseg compiles each rule to IR and
//! converts the data to a `Literal` (or builds the `Request`) once; datalogic-rs compiles once
//! (`Engine::compile`) and parses the data once into an arena (`DataValue::from_str`). Each timed run evaluates one rule many
//! times; the figure is the median of the runs, in nanoseconds per evaluation. The issue's goal
//! (edgeseg ≥ 10× faster per evaluation) is printed, never asserted: timing on a shared machine
//! is a measurement, not a test.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a bench: a panic is its error report")]

use datalogic_rs::bumpalo::Bump;
use datalogic_rs::{DataValue, Engine};
use edgeseg::{AttrValue, Request};
use edgeseg_snapshots::compile::{Mode, compile_data, compile_rule, literal_from_json, literal_to_json};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long one timed run should take (the iteration count is calibrated to it).
const RUN_TARGET: Duration = Duration::from_millis(40);

fn rules() -> Vec<(&'static str, Value)> {
    vec![
        (
            "segment: 4 clauses",
            json!({"and": [
                {"==": [{"var": "country"}, "DE"]},
                {">=": [{"var": "ltv"}, 500]},
                {"in": ["Mobile", {"var": "ua"}]},
                {"!": {"var": "blocked"}}
            ]}),
        ),
        ("var: nested path", json!({"==": [{"var": "profile.plan"}, "premium"]})),
        ("arithmetic", json!({"<": [{"+": [{"var": "a"}, {"*": [{"var": "b"}, 2]}, -1]}, 100]})),
        (
            "if chain",
            json!({"if": [{"<": [{"var": "ltv"}, 100]}, "low", {"<": [{"var": "ltv"}, 1000]}, "mid", "high"]}),
        ),
        ("some over an array", json!({"some": [{"var": "tags"}, {"==": [{"var": ""}, "vip"]}]})),
        (
            "string: starts_with + in",
            json!({"or": [{"starts_with": [{"var": "email"}, "admin@"]}, {"in": [{"var": "country"}, ["AT", "CH"]]}]}),
        ),
    ]
}

fn data() -> Value {
    json!({
        "country": "DE",
        "ltv": 912.4,
        "ua": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1",
        "blocked": false,
        "profile": {"plan": "premium", "since": 2021},
        "a": 3,
        "b": 7,
        "tags": ["new", "eu", "newsletter", "vip"],
        "email": "admin@example.com"
    })
}

/// A data-mode `var` path as the request rule reads it; `None`: no request form.
fn request_path(path: &str) -> Option<String> {
    Some(match path {
        "country" => "country".into(),
        "ua" => "headers.user-agent".into(),
        "profile.plan" => "attributes.plan".into(),
        "ltv" | "blocked" | "a" | "b" | "email" => format!("attributes.{path}"),
        _ => return None,
    })
}

/// The rule with every `var` path rewritten by [`request_path`].
fn request_rule(rule: &Value) -> Option<Value> {
    Some(match rule {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let v = match (k.as_str(), v) {
                    ("var", Value::String(p)) => Value::String(request_path(p)?),
                    _ => request_rule(v)?,
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(request_rule).collect::<Option<_>>()?),
        other => other.clone(),
    })
}

/// The bench request, and the document datalogic-rs reads for it.
fn request(ua: &str) -> (Request<'_>, Value) {
    let req = Request {
        method: "GET",
        host: "shop.example",
        path: "/checkout",
        headers: vec![("accept", "text/html"), ("user-agent", ua), ("accept-language", "de-DE")],
        country: Some("DE"),
        now_ms: 1_763_700_000_000,
        attributes: vec![
            ("ltv", AttrValue::Number(912.4)),
            ("blocked", AttrValue::Bool(false)),
            ("plan", AttrValue::String("premium")),
            ("a", AttrValue::Number(3.0)),
            ("b", AttrValue::Number(7.0)),
            ("email", AttrValue::String("admin@example.com")),
        ],
        ..Request::default()
    };
    let doc = json!({
        "method": "GET", "host": "shop.example", "path": "/checkout", "country": "DE",
        "headers": {"accept": "text/html", "user-agent": ua, "accept-language": "de-DE"},
        "attributes": {"ltv": 912.4, "blocked": false, "plan": "premium", "a": 3, "b": 7,
                       "email": "admin@example.com"}
    });
    (req, doc)
}

/// Median ns per call of `f` over `runs` runs, each about [`RUN_TARGET`] long.
fn measure(runs: usize, mut f: impl FnMut(u64)) -> f64 {
    let mut iters = 1_000u64;
    loop {
        let t = Instant::now();
        f(iters);
        if t.elapsed() >= RUN_TARGET / 4 || iters >= 1 << 30 {
            let per = t.elapsed().as_secs_f64() / iters as f64;
            iters = ((RUN_TARGET.as_secs_f64() / per.max(1e-12)) as u64).max(1);
            break;
        }
        iters *= 4;
    }
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f(iters);
            t.elapsed().as_secs_f64() * 1e9 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let json_out = flag("--json");
    let runs: usize = flag("--runs").map_or(11, |r| r.parse().expect("--runs N"));

    let data_json = data();
    let data_text = data_json.to_string();
    let our_data = literal_from_json(&data_json).unwrap();
    let engine = Engine::new();
    let data_arena = Bump::new();
    let their_data: &DataValue<'_> = data_arena.alloc(DataValue::from_str(&data_text, &data_arena).unwrap());

    let ua = data_json["ua"].as_str().unwrap().to_owned();
    let (req, req_doc) = request(&ua);
    let req_text = req_doc.to_string();
    let req_arena = Bump::new();
    let their_req: &DataValue<'_> = req_arena.alloc(DataValue::from_str(&req_text, &req_arena).unwrap());

    println!("rule evaluation, median of {runs} runs (ns per evaluation; lower is better)\n");
    println!("{:<28} {:<8} {:>10} {:>12} {:>8}", "rule", "mode", "edgeseg", "datalogic-rs", "ratio");
    let mut rows = Vec::new();
    for (name, data_rule) in rules() {
        for mode in ["data", "request"] {
            let (rule_json, ours, doc_text, their_doc) = if mode == "data" {
                (data_rule.clone(), compile_data(&data_rule).unwrap(), &data_text, their_data)
            } else {
                let Some(r) = request_rule(&data_rule) else { continue };
                let compiled = compile_rule(&r, Mode::Request, &[], "rule").unwrap();
                (r, compiled, &req_text, their_req)
            };
            let theirs = engine.compile(&rule_json).unwrap();
            let eval = || if mode == "data" { ours.evaluate_data(&our_data) } else { ours.evaluate(&req) };
            // Same answer first: a fast wrong engine would be no result.
            let our_answer = literal_to_json(&eval().to_literal());
            let their_answer: Value = engine.eval_into(&rule_json, doc_text.as_str()).unwrap();
            assert_eq!(our_answer, their_answer, "{name} ({mode}): the engines disagree");

            let edgeseg_ns = if mode == "data" {
                measure(runs, |n| {
                    for _ in 0..n {
                        black_box(ours.evaluate_data(black_box(&our_data)));
                    }
                })
            } else {
                measure(runs, |n| {
                    for _ in 0..n {
                        black_box(ours.evaluate(black_box(&req)));
                    }
                })
            };
            let mut arena = Bump::with_capacity(64 << 10);
            let datalogic_ns = measure(runs, |n| {
                for i in 0..n {
                    if i % 1024 == 0 {
                        arena.reset();
                    }
                    black_box(engine.evaluate(&theirs, black_box(their_doc), &arena).unwrap());
                }
            });
            let ratio = datalogic_ns / edgeseg_ns;
            println!("{name:<28} {mode:<8} {edgeseg_ns:>10.1} {datalogic_ns:>12.1} {ratio:>7.1}x");
            rows.push(json!({"rule": name, "mode": mode, "json": rule_json, "edgeseg_ns": edgeseg_ns,
                             "datalogic_ns": datalogic_ns, "ratio": ratio, "result": our_answer}));
        }
    }
    let mut ratios: Vec<f64> = rows.iter().map(|r| r["ratio"].as_f64().unwrap()).collect();
    ratios.sort_by(f64::total_cmp);
    let median_ratio = ratios[ratios.len() / 2];
    let met = ratios.iter().filter(|r| **r >= 10.0).count();
    let mode_median = |mode: &str| {
        let mut r: Vec<f64> = rows.iter().filter(|r| r["mode"] == mode).map(|r| r["ratio"].as_f64().unwrap()).collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    let (median_data, median_request) = (mode_median("data"), mode_median("request"));
    println!(
        "\nmedian ratio {median_ratio:.1}x (data {median_data:.1}x, request {median_request:.1}x); goal: edgeseg ≥ 10x faster per evaluation — {} ({met} of {} rows at ≥ 10x)",
        if median_ratio >= 10.0 { "met" } else { "not met" },
        ratios.len()
    );
    if let Some(path) = json_out {
        let report = json!({"runs": runs, "unit": "ns per evaluation (median)", "datalogic_rs": "5.4.0",
                            "goal": "edgeseg >= 10x faster per evaluation", "median_ratio": median_ratio,
                            "median_ratio_data": median_data, "median_ratio_request": median_request,
                            "rules": rows});
        if let Some(dir) = std::path::Path::new(&path).parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
        println!("JSON report: {path}");
    }
}
