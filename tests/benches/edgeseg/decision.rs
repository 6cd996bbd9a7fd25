//! The full decision, natively and in wasmtime, beside datalogic-rs evaluating the same segment
//! rules on the same requests.
//!
//! The snapshot is the demo's (`snapshots/data/demo.json` over sample members); the requests are
//! the sample traffic. datalogic-rs gets each request as a JSON document (method, host, path,
//! country, now_ms, headers, cookies, attributes) and evaluates the demo's request-time rules on
//! it; `in_segment` (an edgeseg operator) becomes `{"var": "in_segment.NAME"}`, its answer
//! precomputed per request by a probe of the real set. edgeseg's compiled evaluation of those same
//! rules on those same documents is measured too, for the like-for-like ratio: a decision does far
//! more than evaluate rules.

use crate::fixtures;
use crate::harness::{Harness, Speed, ratio, show_ratio};
use datalogic_rs::bumpalo::Bump;
use datalogic_rs::{DataValue, Engine as Datalogic};
use edgeseg::Engine;
use edgeseg_snapshots::compile::{compile_data, literal_from_json, literal_to_json};
use serde_json::{Map, Value, json};
use std::hint::black_box;

pub const WHAT_A_DECISION_DOES: &str = "a decision also finds the identity, fingerprints it, \
narrows recorded consent by GPC/TCF/cookie signals, probes membership sets, orders 8 segments, picks the tier and \
actions, runs the throttle and writes headers; datalogic-rs only evaluates the rules";

/// `{"in_segment": NAME}` → `{"var": "in_segment.NAME"}`, everywhere in `rule`.
fn replace_in_segment(rule: &Value) -> Value {
    match rule {
        Value::Object(map) => {
            if let (1, Some(Value::String(name))) = (map.len(), map.get("in_segment")) {
                return json!({"var": format!("in_segment.{name}")});
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), replace_in_segment(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(replace_in_segment).collect()),
        other => other.clone(),
    }
}

/// The demo's request-time rules (segments with a `rule`), `in_segment` replaced, and the names
/// of the segments they ask about.
fn demo_rules() -> (Vec<(String, Value)>, Vec<String>) {
    let defs: Value = serde_json::from_slice(&std::fs::read(fixtures::demo_definitions()).unwrap()).unwrap();
    let mut asked = Vec::new();
    let mut rules = Vec::new();
    for seg in defs["segments"].as_array().unwrap() {
        if let Some(rule) = seg.get("rule") {
            collect_in_segment(rule, &mut asked);
            rules.push((seg["name"].as_str().unwrap().to_owned(), replace_in_segment(rule)));
        }
    }
    (rules, asked)
}

fn collect_in_segment(rule: &Value, out: &mut Vec<String>) {
    match rule {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("in_segment")
                && !out.contains(name)
            {
                out.push(name.clone());
            }
            map.values().for_each(|v| collect_in_segment(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_in_segment(v, out)),
        _ => {}
    }
}

/// The request as a JSON Logic data document.
fn document(engine: &Engine, req: &edgeseg::Request<'_>, asked: &[String]) -> Value {
    let mut headers = Map::new();
    let mut cookies = Map::new();
    for (name, value) in &req.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            for pair in value.split(';') {
                if let Some((k, v)) = pair.split_once('=') {
                    cookies.insert(k.trim().to_owned(), v.trim().into());
                }
            }
        }
        headers.entry(name).or_insert_with(|| (*value).into());
    }
    let attributes: Map<String, Value> = req
        .attributes
        .iter()
        .map(|(n, v)| {
            let v = match v {
                edgeseg::AttrValue::Null => Value::Null,
                edgeseg::AttrValue::Bool(b) => (*b).into(),
                edgeseg::AttrValue::Number(n) => json!(n),
                edgeseg::AttrValue::String(s) => (*s).into(),
            };
            ((*n).to_owned(), v)
        })
        .collect();
    let snapshot = engine.snapshot();
    let fingerprint = engine.identity(req).map(|id| snapshot.fingerprint(id));
    let in_segment: Map<String, Value> = asked
        .iter()
        .map(|name| {
            let seg = snapshot.segments.iter().find(|s| &s.name == name).unwrap();
            let member = fingerprint.is_some_and(|fp| seg.membership.as_ref().is_some_and(|m| m.contains(fp)));
            (name.clone(), member.into())
        })
        .collect();
    json!({
        "method": req.method, "host": req.host, "path": req.path, "country": req.country,
        "now_ms": req.now_ms, "headers": headers, "cookies": cookies, "attributes": attributes,
        "in_segment": in_segment,
    })
}

pub fn run(h: &mut Harness) -> Value {
    let mode = h.mode();
    let members = mode.size(2_000, 20_000, 100_000);
    let requests = mode.size(50, 1_000, 1_000);
    let snapshot = fixtures::demo_snapshot(members);
    let jsonl = fixtures::traffic(members, requests);
    let records = fixtures::records(&jsonl);
    let reqs: Vec<edgeseg::Request<'_>> = records.iter().map(|r| r.request()).collect();
    let n = reqs.len() as f64;

    // Native and wasm must decide alike before either is timed (fresh engines: same throttle state).
    let mut native = Engine::load(&snapshot).unwrap();
    let mut guest = fixtures::guest(edgeseg_host::guest::DEFAULT_MAX_MEMORY_BYTES);
    guest.load_snapshot(&snapshot).unwrap();
    let mut matched = 0usize;
    // Fuel per decide (wasm instructions in the guest): the one figure here the machine's load
    // does not move, so two runs on different days compare.
    let mut fuel = Vec::with_capacity(reqs.len());
    for req in &reqs {
        let ours = native.decide(req);
        let (tier, segments) =
            (ours.tier.to_owned(), ours.segments.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        matched += segments.len();
        let theirs =
            guest.decide_with(req, |d| (d.tier.to_owned(), d.segments.iter().map(|s| (*s).to_owned()).collect()));
        assert_eq!(theirs.unwrap(), (tier, segments), "native and wasm decide differently");
        fuel.push(guest.last_call_fuel().expect("the default guest meters fuel"));
    }
    fuel.sort_unstable();
    let fuel_median = fuel[fuel.len() / 2];
    let fuel_mean = fuel.iter().sum::<u64>() as f64 / n;

    // Each timed call decides the next request of the sample, round and round with the clock
    // moving on (see `traffic_loop`): the median is per request, over the traffic's mix.
    let native_ns = h.bench(
        "decision",
        "edgeseg-native",
        Speed::Fast,
        traffic_loop(&reqs, |req| {
            black_box(native.decide(black_box(req)).tier_index);
        }),
    );
    // The host's default meters fuel (a runaway rule cannot hang it); without it, and with a
    // wall-clock deadline checked through epochs instead (a serving host's setting), is what
    // metering costs. Each on a fresh guest of the same module and snapshot.
    let max_memory = edgeseg_host::guest::DEFAULT_MAX_MEMORY_BYTES;
    let mut wasm_bench = |id: &str, mut guest: edgeseg_host::guest::Guest| {
        guest.load_snapshot(&snapshot).unwrap();
        h.bench(
            "decision",
            id,
            Speed::Fast,
            traffic_loop(&reqs, |req| {
                black_box(guest.decide_with(black_box(req), |d| d.tier_index).unwrap());
            }),
        )
    };
    let wasm_ns = wasm_bench("edgeseg-wasm", guest);
    let unmetered_ns = wasm_bench("edgeseg-wasm-nofuel", fixtures::guest_unmetered(max_memory));
    let deadline_ns = wasm_bench("edgeseg-wasm-deadline", fixtures::guest_deadline(max_memory));

    // The same rules on the same requests, as data documents.
    let (rules, asked) = demo_rules();
    let docs: Vec<Value> = reqs.iter().map(|r| document(&native, r, &asked)).collect();
    let dl = Datalogic::new();
    let theirs: Vec<_> = rules.iter().map(|(_, r)| dl.compile(r).unwrap()).collect();
    let ours: Vec<_> = rules.iter().map(|(_, r)| compile_data(r).unwrap()).collect();
    let our_docs: Vec<_> = docs.iter().map(|d| literal_from_json(d).unwrap()).collect();
    let texts: Vec<String> = docs.iter().map(Value::to_string).collect();
    let arena = Bump::new();
    let their_docs: Vec<&DataValue<'_>> =
        texts.iter().map(|t| &*arena.alloc(DataValue::from_str(t, &arena).unwrap())).collect();
    let mut truthy = 0usize;
    for (doc, (text, our_doc)) in docs.iter().zip(texts.iter().zip(&our_docs)) {
        for ((name, rule), compiled) in rules.iter().zip(&ours) {
            let mine = literal_to_json(&compiled.evaluate_data(our_doc).to_literal());
            let other: Value = dl.eval_into(rule, text.as_str()).unwrap();
            assert_eq!(mine, other, "segment {name}: the engines disagree on {doc}");
            truthy += usize::from(mine == Value::Bool(true));
        }
    }
    let rules_ns = h.bench(
        "decision",
        "edgeseg-rules",
        Speed::Fast,
        cycle(&our_docs, |doc| {
            for rule in &ours {
                black_box(rule.evaluate_data(black_box(doc)));
            }
        }),
    );
    let mut scratch = Bump::with_capacity(64 << 10);
    let mut calls = 0u32;
    let datalogic_ns = h.bench(
        "decision",
        "datalogic-rules",
        Speed::Fast,
        cycle(&their_docs, |doc| {
            // The arena is datalogic-rs's scratch space; reset it now and then, as a server would.
            calls += 1;
            if calls.is_multiple_of(256) {
                scratch.reset();
            }
            for rule in &theirs {
                black_box(dl.evaluate(rule, *black_box(doc), &scratch).unwrap());
            }
        }),
    );

    json!({
        "snapshot_members": members,
        "requests": reqs.len(),
        "segments_matched_per_request": matched as f64 / n,
        "rules": rules.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "rules_true_per_request": truthy as f64 / n,
        "wasm_fuel_per_decide": {"median": fuel_median, "mean": fuel_mean},
        "ns_per_request": {
            "edgeseg_native_decide": native_ns,
            "edgeseg_wasm_decide": wasm_ns,
            "edgeseg_wasm_decide_no_fuel": unmetered_ns,
            "edgeseg_wasm_decide_deadline": deadline_ns,
            "edgeseg_rules_only": rules_ns,
            "datalogic_rules_only": datalogic_ns,
        },
        "ratio_datalogic_over": {
            "native_decide": ratio(native_ns, datalogic_ns),
            "wasm_decide": ratio(wasm_ns, datalogic_ns),
            "wasm_decide_no_fuel": ratio(unmetered_ns, datalogic_ns),
            "wasm_decide_deadline": ratio(deadline_ns, datalogic_ns),
            "rules_only": ratio(rules_ns, datalogic_ns),
        },
        "note": WHAT_A_DECISION_DOES,
    })
}

/// A routine that decides the next request of `reqs` on each call; at the end of the sample it
/// starts over one sample-span later, so the throttle sees traffic going on at the sample's rate
/// rather than the same second replayed (which would throttle nearly everyone).
fn traffic_loop<'r>(reqs: &[edgeseg::Request<'r>], mut f: impl FnMut(&edgeseg::Request<'r>)) -> impl FnMut() {
    let mut reqs = reqs.to_vec();
    let first = reqs.first().map_or(0, |r| r.now_ms);
    let span = reqs.last().map_or(0, |r| r.now_ms) - first + 1_000;
    let mut i = 0;
    move || {
        f(&reqs[i]);
        i += 1;
        if i == reqs.len() {
            i = 0;
            reqs.iter_mut().for_each(|r| r.now_ms += span);
        }
    }
}

/// A routine that handles the next item of `items` on each call, round the cycle.
fn cycle<'a, T>(items: &'a [T], mut f: impl FnMut(&'a T)) -> impl FnMut() {
    let mut i = 0;
    move || {
        f(&items[i]);
        i = (i + 1) % items.len();
    }
}

pub fn print(r: &Value) {
    let ns = &r["ns_per_request"];
    let ratios = &r["ratio_datalogic_over"];
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!(
        "\nfull decision: demo snapshot ({} members), {} sample requests; ns per request; ratio = datalogic-rs / edgeseg",
        r["snapshot_members"], r["requests"]
    );
    println!("{:<44} {:>12} {:>12} {:>9}", "", "edgeseg", "datalogic-rs", "ratio");
    let rules = r["rules"].as_array().map_or(0, Vec::len);
    // Every row: ours, datalogic-rs's rules-only figure, and the ratio between them.
    let row = |label: &str, ours: &str, ratio: &str| {
        println!(
            "{label:<44} {:>12.0} {:>12.0} {:>9}",
            f(&ns[ours]),
            f(&ns["datalogic_rules_only"]),
            show_ratio(f(&ratios[ratio]))
        );
    };
    row("decide, native (vs datalogic: rules only)", "edgeseg_native_decide", "native_decide");
    row("decide, wasm in wasmtime (host default: fuel)", "edgeseg_wasm_decide", "wasm_decide");
    row("decide, wasm, fuel metering off", "edgeseg_wasm_decide_no_fuel", "wasm_decide_no_fuel");
    row("decide, wasm, epoch deadline instead of fuel", "edgeseg_wasm_decide_deadline", "wasm_decide_deadline");
    row(&format!("the {rules} request-time rules only, native"), "edgeseg_rules_only", "rules_only");
    println!(
        "{:<44} {:>12} (mean {:.0}; wasm instructions in the guest, independent of the machine's load)",
        "decide, wasm: fuel per request, median",
        r["wasm_fuel_per_decide"]["median"],
        f(&r["wasm_fuel_per_decide"]["mean"])
    );
    println!(
        "  note: {WHAT_A_DECISION_DOES}; wasm includes encoding the request and decoding the answer (`Guest::decide_with`)"
    );
}
