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
//!
//! A third column, **hand-written**, is each rule written out as plain Rust over the same data (the
//! same `Literal` document, the same `Request` and its lookups by name, std's substring search):
//! what a rule engine could at best reach if it compiled the rule to native code, with no
//! interpretation at all. Its ratio against datalogic-rs is the ceiling for the goal above.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a bench: a panic is its error report")]

use datalogic_rs::bumpalo::Bump;
use datalogic_rs::{DataValue, Engine};
use edgeseg::rule::{Literal, Value as RuleValue};
use edgeseg::{AttrValue, Request};
use edgeseg_snapshots::compile::{Mode, compile_data, compile_rule, literal_from_json, literal_to_json};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// How long one timed run should take (the iteration count is calibrated to it).
const RUN_TARGET: Duration = Duration::from_millis(40);

/// A rule written out by hand over the data document (see the module's "hand-written").
type DataFn = fn(&Literal) -> RuleValue<'static>;
/// The same over the request; `None`: the rule has no request form.
type RequestFn = Option<fn(&Request<'_>) -> RuleValue<'static>>;

fn rules() -> Vec<(&'static str, Value, DataFn, RequestFn)> {
    vec![
        (
            "segment: 4 clauses",
            json!({"and": [
                {"==": [{"var": "country"}, "DE"]},
                {">=": [{"var": "ltv"}, 500]},
                {"in": ["Mobile", {"var": "ua"}]},
                {"!": {"var": "blocked"}}
            ]}),
            |d| {
                RuleValue::Bool(
                    str_at(d, "country") == Some("DE")
                        && num_at(d, "ltv").is_some_and(|n| n >= 500.0)
                        && str_at(d, "ua").is_some_and(|ua| ua.contains("Mobile"))
                        && !truthy_at(d, "blocked"),
                )
            },
            Some(|r| {
                RuleValue::Bool(
                    r.country == Some("DE")
                        && attr_num(r, "ltv").is_some_and(|n| n >= 500.0)
                        && r.header("user-agent").is_some_and(|ua| ua.contains("Mobile"))
                        && !attr_truthy(r, "blocked"),
                )
            }),
        ),
        (
            "var: nested path",
            json!({"==": [{"var": "profile.plan"}, "premium"]}),
            |d| RuleValue::Bool(at(d, "profile").and_then(|p| at(p, "plan")).and_then(lit_str) == Some("premium")),
            Some(|r| RuleValue::Bool(matches!(r.attribute("plan"), Some(AttrValue::String("premium"))))),
        ),
        (
            "arithmetic",
            json!({"<": [{"+": [{"var": "a"}, {"*": [{"var": "b"}, 2]}, -1]}, 100]}),
            |d| {
                RuleValue::Bool(match (num_at(d, "a"), num_at(d, "b")) {
                    (Some(a), Some(b)) => a + b * 2.0 - 1.0 < 100.0,
                    _ => false,
                })
            },
            Some(|r| {
                RuleValue::Bool(match (attr_num(r, "a"), attr_num(r, "b")) {
                    (Some(a), Some(b)) => a + b * 2.0 - 1.0 < 100.0,
                    _ => false,
                })
            }),
        ),
        (
            "if chain",
            json!({"if": [{"<": [{"var": "ltv"}, 100]}, "low", {"<": [{"var": "ltv"}, 1000]}, "mid", "high"]}),
            |d| tiered(num_at(d, "ltv")),
            Some(|r| tiered(attr_num(r, "ltv"))),
        ),
        (
            "some over an array",
            json!({"some": [{"var": "tags"}, {"==": [{"var": ""}, "vip"]}]}),
            |d| {
                RuleValue::Bool(match at(d, "tags") {
                    Some(Literal::Array(tags)) => tags.iter().any(|t| lit_str(t) == Some("vip")),
                    _ => false,
                })
            },
            None,
        ),
        (
            "string: starts_with + in",
            json!({"or": [{"starts_with": [{"var": "email"}, "admin@"]}, {"in": [{"var": "country"}, ["AT", "CH"]]}]}),
            |d| {
                RuleValue::Bool(
                    str_at(d, "email").is_some_and(|e| e.starts_with("admin@"))
                        || str_at(d, "country").is_some_and(|c| ["AT", "CH"].contains(&c)),
                )
            },
            Some(|r| {
                RuleValue::Bool(
                    matches!(r.attribute("email"), Some(AttrValue::String(e)) if e.starts_with("admin@"))
                        || r.country.is_some_and(|c| ["AT", "CH"].contains(&c)),
                )
            }),
        ),
    ]
}

// The hand-written rules' lookups: by name, as every engine must (only the shapes the bench data
// has; anything else reads as missing).
fn at<'d>(d: &'d Literal, key: &str) -> Option<&'d Literal> {
    match d {
        Literal::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}
fn lit_str(l: &Literal) -> Option<&str> {
    if let Literal::String(s) = l { Some(s) } else { None }
}
fn str_at<'d>(d: &'d Literal, key: &str) -> Option<&'d str> {
    at(d, key).and_then(lit_str)
}
fn num_at(d: &Literal, key: &str) -> Option<f64> {
    if let Some(Literal::Number(n)) = at(d, key) { Some(*n) } else { None }
}
fn truthy_at(d: &Literal, key: &str) -> bool {
    match at(d, key) {
        None | Some(Literal::Null | Literal::Bool(false)) => false,
        Some(Literal::Number(n)) => *n != 0.0 && !n.is_nan(),
        Some(Literal::String(s)) => !s.is_empty(),
        Some(Literal::Array(items)) => !items.is_empty(),
        Some(_) => true,
    }
}
fn attr_num(r: &Request<'_>, name: &str) -> Option<f64> {
    if let Some(AttrValue::Number(n)) = r.attribute(name) { Some(n) } else { None }
}
fn attr_truthy(r: &Request<'_>, name: &str) -> bool {
    match r.attribute(name) {
        None | Some(AttrValue::Null | AttrValue::Bool(false)) => false,
        Some(AttrValue::Number(n)) => n != 0.0 && !n.is_nan(),
        Some(AttrValue::String(s)) => !s.is_empty(),
        Some(AttrValue::Bool(true)) => true,
    }
}
fn tiered(ltv: Option<f64>) -> RuleValue<'static> {
    // A missing value is null, which `<` reads as 0.
    let n = ltv.unwrap_or(0.0);
    RuleValue::Str(if n < 100.0 {
        "low"
    } else if n < 1000.0 {
        "mid"
    } else {
        "high"
    })
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
    println!(
        "{:<28} {:<8} {:>10} {:>12} {:>8} {:>12} {:>8}",
        "rule", "mode", "edgeseg", "datalogic-rs", "ratio", "hand-written", "ceiling"
    );
    let mut rows = Vec::new();
    for (name, data_rule, by_hand_data, by_hand_request) in rules() {
        for mode in ["data", "request"] {
            if mode == "request" && by_hand_request.is_none() {
                continue;
            }
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
            let by_hand = || match by_hand_request {
                Some(f) if mode == "request" => f(&req),
                _ => by_hand_data(&our_data),
            };
            assert_eq!(literal_to_json(&by_hand().to_literal()), our_answer, "{name} ({mode}): the hand-written rule");

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
            let by_hand_ns = match by_hand_request {
                Some(f) if mode == "request" => measure(runs, |n| {
                    for _ in 0..n {
                        black_box(f(black_box(&req)));
                    }
                }),
                _ => measure(runs, |n| {
                    for _ in 0..n {
                        black_box(by_hand_data(black_box(&our_data)));
                    }
                }),
            };
            let ratio = datalogic_ns / edgeseg_ns;
            let ceiling = datalogic_ns / by_hand_ns;
            println!(
                "{name:<28} {mode:<8} {edgeseg_ns:>10.1} {datalogic_ns:>12.1} {ratio:>7.1}x {by_hand_ns:>12.1} {ceiling:>7.1}x"
            );
            rows.push(json!({"rule": name, "mode": mode, "json": rule_json, "edgeseg_ns": edgeseg_ns,
                             "datalogic_ns": datalogic_ns, "ratio": ratio, "hand_written_ns": by_hand_ns,
                             "ceiling_ratio": ceiling, "result": our_answer}));
        }
    }
    let median_of = |field: &str, mode: Option<&str>| {
        let mut r: Vec<f64> =
            rows.iter().filter(|r| mode.is_none_or(|m| r["mode"] == m)).map(|r| r[field].as_f64().unwrap()).collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    let median_ratio = median_of("ratio", None);
    let (median_data, median_request) = (median_of("ratio", Some("data")), median_of("ratio", Some("request")));
    let median_ceiling = median_of("ceiling_ratio", None);
    let met = rows.iter().filter(|r| r["ratio"].as_f64().unwrap() >= 10.0).count();
    let reachable = rows.iter().filter(|r| r["ceiling_ratio"].as_f64().unwrap() >= 10.0).count();
    println!(
        "\nmedian ratio {median_ratio:.1}x (data {median_data:.1}x, request {median_request:.1}x); goal: edgeseg ≥ 10x faster per evaluation — {} ({met} of {} rows at ≥ 10x)",
        if median_ratio >= 10.0 { "met" } else { "not met" },
        rows.len()
    );
    println!(
        "hand-written Rust, the ceiling: median {median_ceiling:.1}x datalogic-rs ({reachable} of {} rows at ≥ 10x)",
        rows.len()
    );
    if let Some(path) = json_out {
        let report = json!({"runs": runs, "unit": "ns per evaluation (median)", "datalogic_rs": "5.4.0",
                            "goal": "edgeseg >= 10x faster per evaluation", "median_ratio": median_ratio,
                            "median_ratio_data": median_data, "median_ratio_request": median_request,
                            "median_ceiling_ratio": median_ceiling, "rules": rows});
        if let Some(dir) = std::path::Path::new(&path).parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap() + "\n").unwrap();
        println!("JSON report: {path}");
    }
}
