//! `replay --otlp FILE`: one OpenTelemetry span per decision, as OTLP/JSON (an
//! `ExportTraceServiceRequest`, the body `POST /v1/traces` takes and the file exporter writes), so
//! a trace viewer shows the edge's decisions beside the origin's spans.
//!
//! A decision that sent a `traceparent` (the client's trace continued, or one the definitions
//! started) keeps its ids: the span is the one the origin saw as its parent. Other decisions get
//! ids hashed from the replay's position, stable from run to run. Timestamps are the log's;
//! the duration is the guest call's.

use super::Seen;
use crate::traffic::TrafficRecord;
use edgeseg::{Request, ThrottleResult};
use serde_json::{Value, json};
use std::hash::{DefaultHasher, Hasher};

/// What a span keeps of one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionSpan {
    /// The log's request time, Unix milliseconds.
    pub now_ms: u64,
    /// The guest call's duration.
    pub duration_ns: u64,
    pub method: String,
    pub path: String,
    pub tier: String,
    /// Consented matched segments, highest precedence first (what the decision tagged).
    pub segments: Vec<String>,
    /// The `traceparent` the decision sent to the origin, if any.
    pub traceparent: Option<String>,
    /// The parent id of the client's valid `traceparent`, if the decision continued one.
    pub client_parent: Option<String>,
    /// `allowed`, `rejected` or `deprioritized`, when a throttle applied.
    pub throttle: Option<&'static str>,
    /// The cache policy's mode, when one applied.
    pub cache: Option<String>,
    /// 1-based position of the request in the replay: the seed of ids a decision did not send.
    pub position: u64,
}

impl DecisionSpan {
    /// `(trace id, span id)`: the decision's `traceparent`'s, else hashed from the position.
    fn ids(&self) -> (String, String) {
        if let Some(p) = self.traceparent.as_deref().and_then(edgeseg::trace::parse_traceparent) {
            return (p.trace_id.to_owned(), p.parent_id.to_owned());
        }
        let h = |salt: &str| {
            let mut h = DefaultHasher::new();
            h.write(salt.as_bytes());
            h.write_u64(self.position);
            h.write_u64(self.now_ms);
            h.finish() | 1
        };
        (format!("{:016x}{:016x}", h("trace-hi"), h("trace-lo")), format!("{:016x}", h("span")))
    }

    fn to_json(&self, snapshot: &str) -> Value {
        let (trace_id, span_id) = self.ids();
        let start = u128::from(self.now_ms) * 1_000_000;
        let end = start + u128::from(self.duration_ns);
        let text = |k: &str, v: &str| json!({"key": k, "value": {"stringValue": v}});
        let mut attributes = vec![
            text("edgeseg.tier", &self.tier),
            json!({"key": "edgeseg.segments", "value": {"arrayValue": {
                "values": self.segments.iter().map(|s| json!({"stringValue": s})).collect::<Vec<_>>()
            }}}),
            text("edgeseg.snapshot", snapshot),
            json!({"key": "edgeseg.decide_ns", "value": {"intValue": self.duration_ns.to_string()}}),
            text("http.request.method", &self.method),
            text("url.path", &self.path),
        ];
        if let Some(t) = self.throttle {
            attributes.push(text("edgeseg.throttle", t));
        }
        if let Some(c) = &self.cache {
            attributes.push(text("edgeseg.cache", c));
        }
        let mut span = json!({
            "traceId": trace_id,
            "spanId": span_id,
            "name": "edgeseg decide",
            // SPAN_KIND_INTERNAL: the decision is a step inside the edge's handling.
            "kind": 1,
            // OTLP/JSON carries 64-bit integers as decimal strings.
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": end.to_string(),
            "attributes": attributes,
            "status": {},
        });
        if let Some(parent) = &self.client_parent {
            span["parentSpanId"] = json!(parent);
        }
        span
    }
}

/// The span of one decision (`replay --otlp`).
pub(super) fn span_of(
    record: &TrafficRecord,
    request: &Request<'_>,
    tiers: &[String],
    seen: &Seen,
    duration_ns: u64,
    position: u64,
) -> Option<DecisionSpan> {
    let (traceparent, segments) = seen.span.clone()?;
    // The client's parent, when the decision continued its trace (one valid `traceparent`).
    let mut incoming = request.header_values("traceparent");
    let client_parent = match (incoming.next(), incoming.next(), &traceparent) {
        (Some(v), None, Some(_)) => edgeseg::trace::parse_traceparent(v).map(|p| p.parent_id.to_owned()),
        _ => None,
    };
    Some(DecisionSpan {
        now_ms: record.now_ms,
        duration_ns,
        method: record.method.clone(),
        path: record.path.clone(),
        tier: tiers.get(seen.tier_index).cloned().unwrap_or_default(),
        segments,
        traceparent,
        client_parent,
        throttle: seen.throttle.map(|t| match t {
            ThrottleResult::Allowed => "allowed",
            ThrottleResult::Rejected => "rejected",
            ThrottleResult::Deprioritized => "deprioritized",
        }),
        cache: seen.cache.map(str::to_owned),
        position,
    })
}

/// The spans as one OTLP/JSON `ExportTraceServiceRequest`.
pub fn export_request(spans: &[DecisionSpan], snapshot_id: &str, snapshot_version: u64) -> Value {
    let version = snapshot_version.to_string();
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "edgeseg-replay"}},
            {"key": "edgeseg.snapshot_id", "value": {"stringValue": snapshot_id}},
        ]},
        "scopeSpans": [{
            "scope": {"name": "edgeseg", "version": env!("CARGO_PKG_VERSION")},
            "spans": spans.iter().map(|s| s.to_json(&version)).collect::<Vec<_>>(),
        }],
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(traceparent: Option<&str>) -> DecisionSpan {
        DecisionSpan {
            now_ms: 1_763_700_000_000,
            duration_ns: 4_200,
            method: "GET".into(),
            path: "/".into(),
            tier: "premium".into(),
            segments: vec!["premium".into(), "vip".into()],
            traceparent: traceparent.map(str::to_owned),
            client_parent: None,
            throttle: None,
            cache: Some("public".into()),
            position: 1,
        }
    }

    #[test]
    fn a_continued_decision_keeps_the_ids_the_origin_saw() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let j = span(Some(tp)).to_json("7");
        assert_eq!(j["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(j["spanId"], "00f067aa0ba902b7");
        assert_eq!(j["startTimeUnixNano"], "1763700000000000000");
        assert_eq!(j["endTimeUnixNano"], "1763700000000004200");
    }

    #[test]
    fn other_decisions_get_stable_distinct_ids() {
        let (a, b) = (span(None), DecisionSpan { position: 2, ..span(None) });
        assert_eq!(a.ids(), span(None).ids());
        assert_ne!(a.ids(), b.ids());
        let (t, s) = a.ids();
        assert_eq!((t.len(), s.len()), (32, 16));
        assert!(t.bytes().chain(s.bytes()).all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
