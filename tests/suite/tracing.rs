//! W3C Trace Context at the edge (issue 25): a decision continues the client's `traceparent` with
//! a span of its own, starts a sampled trace only when the definitions ask (`"tracing": {"start":
//! true}`), and puts the consented segments and the snapshot version in `baggage`; natively and in
//! wasmtime alike. `replay --otlp` writes one span per decision that decodes with the
//! OpenTelemetry protocol's own types and carries the ids the origin saw.

use edgeseg_host::cli;
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::traffic::TrafficReader;
use edgeseg_snapshots::{BuildOptions, Definitions, build, sample};
use edgeseg_tests::{root, scratch, wasm_module};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use std::collections::HashSet;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn traceparent(trace: &str, parent: &str) -> String {
    format!("00-{trace}-{parent}-01")
}

/// The demo's definitions, with `tracing` set as given (`None`: left out).
fn snapshot(tracing: Option<serde_json::Value>) -> Vec<u8> {
    let mut defs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("snapshots/data/demo.json")).unwrap()).unwrap();
    if let Some(t) = tracing {
        defs["tracing"] = t;
    }
    let defs = Definitions::from_json(&defs.to_string()).unwrap();
    build(&defs, sample::members(500, 42), &BuildOptions { seed: Some(3), ..Default::default() }).unwrap().bytes
}

/// A traffic line for member `id` with the given `traceparent` headers.
fn line(i: u64, traceparents: &[&str]) -> String {
    let mut headers = vec![serde_json::json!(["cookie", format!("edgeseg_uid={}", sample::member_id(1 + i % 500))])];
    headers.extend(traceparents.iter().map(|t| serde_json::json!(["traceparent", t])));
    serde_json::json!({"now_ms": 1_763_720_000_000u64 + i, "method": "GET", "host": "shop.example",
        "path": "/catalog", "headers": headers, "client_ip": "198.51.100.7"})
    .to_string()
}

/// `(traceparent, baggage)` the decision of `line` sends, natively and in wasmtime (asserted equal).
fn decide_both(native: &mut edgeseg::Engine, guest: &mut Guest, line: &str) -> (Option<String>, String) {
    let record = TrafficReader::new(format!("{line}\n").as_bytes()).next().unwrap().unwrap();
    let n = native.decide(&record.request());
    let g = guest.decide(&record.request()).unwrap();
    let find = |headers: Vec<(String, String)>, name: &str| headers.into_iter().find(|(n, _)| n == name).map(|h| h.1);
    let nh: Vec<_> = n.headers.iter().map(|h| (h.name.to_owned(), h.value.to_string())).collect();
    let gh = g.headers;
    assert_eq!(find(nh.clone(), "baggage"), find(gh.clone(), "baggage"), "{line}");
    let (nt, gt) = (find(nh.clone(), "traceparent"), find(gh, "traceparent"));
    // Span ids differ from decision to decision by design; the trace and the shape must agree.
    assert_eq!(nt.as_deref().map(|t| &t[..36]), gt.as_deref().map(|t| &t[..36]), "{line}");
    assert_eq!(nt.as_deref().map(|t| &t[52..]), gt.as_deref().map(|t| &t[52..]), "{line}");
    (nt, find(nh, "baggage").unwrap())
}

#[test]
fn decisions_continue_traces_and_start_them_only_when_asked() {
    for (what, tracing, starts) in [
        ("no tracing section", None, false),
        ("start: false", Some(serde_json::json!({"start": false})), false),
        ("start: true", Some(serde_json::json!({"start": true})), true),
    ] {
        let snap = snapshot(tracing);
        let mut native = edgeseg::Engine::load(&snap).unwrap();
        let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
        guest.load_snapshot(&snap).unwrap();
        let valid = traceparent(TRACE_ID, PARENT_ID);

        // A valid trace is continued: same trace id, a new span, the sampled flag kept.
        let (tp, baggage) = decide_both(&mut native, &mut guest, &line(1, &[&valid]));
        let tp = tp.unwrap_or_else(|| panic!("{what}: a valid traceparent was not continued"));
        let p = edgeseg::trace::parse_traceparent(&tp).unwrap();
        assert_eq!((p.trace_id, p.flags), (TRACE_ID, 1), "{what}");
        assert_ne!(p.parent_id, PARENT_ID, "{what}: the edge's decision is a span of its own");
        assert!(baggage.contains("edgeseg.tier="), "{what}: {baggage}");
        assert!(baggage.contains("edgeseg.snapshot="), "{what}: {baggage}");
        // Two decisions of one request are two spans.
        let (again, _) = decide_both(&mut native, &mut guest, &line(1, &[&valid]));
        assert_ne!(again.as_deref(), Some(tp.as_str()), "{what}");

        // None, an invalid one, or two (not a list: a client can't pick which counts): a new trace
        // when the definitions start them, else no traceparent at all.
        let upper = valid.to_uppercase();
        for headers in [vec![], vec![upper.as_str()], vec![valid.as_str(), valid.as_str()]] {
            let (tp, _) = decide_both(&mut native, &mut guest, &line(2, &headers));
            assert_eq!(tp.is_some(), starts, "{what}, {headers:?}: {tp:?}");
            if let Some(tp) = tp {
                let p = edgeseg::trace::parse_traceparent(&tp).unwrap();
                assert_ne!(p.trace_id, TRACE_ID, "{what}: an invalid trace is not continued");
                assert_eq!(p.flags, 1, "{what}: a started trace is sampled");
            }
        }
    }
}

#[test]
fn a_definitions_typo_in_tracing_is_refused() {
    let mut defs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("snapshots/data/demo.json")).unwrap()).unwrap();
    defs["tracing"] = serde_json::json!({"strat": true});
    let err = Definitions::from_json(&defs.to_string()).unwrap_err().to_string();
    assert!(err.contains("strat"), "{err}");
}

#[test]
fn baggage_carries_consented_segments_only() {
    let snap = snapshot(None);
    let mut native = edgeseg::Engine::load(&snap).unwrap();
    let mut guest = Guest::from_file(wasm_module(), GuestConfig::default()).unwrap();
    guest.load_snapshot(&snap).unwrap();
    let mut with_segments = 0;
    for i in 0..500 {
        let l = line(i, &[]);
        let record = TrafficReader::new(format!("{l}\n").as_bytes()).next().unwrap().unwrap();
        let segments = native.decide(&record.request()).segments.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (_, baggage) = decide_both(&mut native, &mut guest, &l);
        let member = baggage.split(',').find_map(|m| m.strip_prefix("edgeseg.segments="));
        // The tag header and baggage say the same thing: the decision's (consented) segments.
        assert_eq!(member.map(|m| m.replace("%2C", ",")), (!segments.is_empty()).then(|| segments.join(",")), "{l}");
        with_segments += usize::from(member.is_some());
    }
    assert!(with_segments > 50, "only {with_segments} of 500 demo members matched a segment");
}

#[test]
fn replay_otlp_spans_decode_with_the_otlp_schema_and_keep_the_origins_ids() {
    let dir = scratch("otlp");
    let snap_path = dir.join("demo.snapshot");
    std::fs::write(&snap_path, snapshot(Some(serde_json::json!({"start": true})))).unwrap();
    let valid = traceparent(TRACE_ID, PARENT_ID);
    let lines: Vec<String> =
        (0..200).map(|i| if i == 7 { line(i, &[&valid]) } else { line(i, &[]) }).collect::<Vec<_>>();
    let traffic = dir.join("traffic.jsonl");
    std::fs::write(&traffic, lines.join("\n") + "\n").unwrap();
    let spans_path = dir.join("spans.json");
    let mut out = Vec::new();
    let argv = [
        "edgeseg",
        "replay",
        "--module",
        wasm_module().to_str().unwrap(),
        "--snapshot",
        snap_path.to_str().unwrap(),
        "--traffic",
        traffic.to_str().unwrap(),
        "--json",
        "--otlp",
        spans_path.to_str().unwrap(),
    ];
    cli::run(argv.iter().map(Into::into), &mut out).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();

    let export: ExportTraceServiceRequest =
        serde_json::from_slice(&std::fs::read(&spans_path).unwrap()).expect("OTLP/JSON ExportTraceServiceRequest");
    let spans: Vec<_> = export.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).collect();
    assert_eq!(spans.len(), 200, "one span per decision");
    let ids: HashSet<_> = spans.iter().map(|s| (s.trace_id.clone(), s.span_id.clone())).collect();
    assert_eq!(ids.len(), 200, "span ids are unique");
    let mut per_tier = std::collections::BTreeMap::<String, u64>::new();
    for s in &spans {
        assert_eq!((s.trace_id.len(), s.span_id.len()), (16, 8));
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
        assert!(s.start_time_unix_nano >= 1_763_720_000_000 * 1_000_000);
        let attr = |k: &str| s.attributes.iter().find(|a| a.key == k).and_then(|a| a.value.clone()?.value);
        let Some(Any::StringValue(tier)) = attr("edgeseg.tier") else { panic!("no tier on {s:?}") };
        *per_tier.entry(tier).or_default() += 1;
        assert!(matches!(attr("edgeseg.segments"), Some(Any::ArrayValue(_))), "{s:?}");
        assert!(matches!(attr("edgeseg.decide_ns"), Some(Any::IntValue(n)) if n > 0), "{s:?}");
    }
    for tier in report["tiers"].as_array().unwrap() {
        let n = tier["requests"].as_u64().unwrap();
        assert_eq!(per_tier.get(tier["tier"].as_str().unwrap()).copied().unwrap_or(0), n, "{tier}");
    }
    // The client's trace: its span is a child of the client's parent, in the client's trace.
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let continued: Vec<_> = spans.iter().filter(|s| hex(&s.trace_id) == TRACE_ID).collect();
    assert_eq!(continued.len(), 1);
    assert_eq!(hex(&continued[0].parent_span_id), PARENT_ID);
    // Every other decision started a trace of its own (the definitions ask for it), with no parent.
    assert!(spans.iter().filter(|s| hex(&s.trace_id) != TRACE_ID).all(|s| s.parent_span_id.is_empty()));
}
