//! Writes the committed seed corpus, `fuzz/corpus/<target>/`: a few valid inputs per target.
//!
//! ```sh
//! cd fuzz && cargo +nightly run --example seeds
//! ```
//!
//! Deterministic (fixed fixture, sample seed 42), so rerunning it rewrites the same files.
#![allow(clippy::unwrap_used)]

use edgeseg::delta::{ALL_PURPOSES, Revocation, RevocationDelta};
use edgeseg::rule::{ArithOp, CompareOp, IterOp, Literal, Node, Rule, Slot};
use edgeseg_fuzz::{KEY, SNAPSHOT_ID, SNAPSHOT_VERSION};
use std::path::Path;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn prefixed(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(bytes);
    out
}

/// The two forms of a container seed (see `edgeseg_fuzz::container`): raw, and payload only.
fn containers(bytes: &[u8]) -> [Vec<u8>; 2] {
    [prefixed(0, bytes), prefixed(1, &bytes[edgeseg::format::HEADER_LEN..])]
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let snapshot = edgeseg_fuzz::snapshot();
    let v2_demo = std::fs::read(root.join("snapshots/data/compat/v2-demo.snapshot")).unwrap();
    for (name, bytes) in [("fixture", snapshot), ("v2-demo", &v2_demo)] {
        let [raw, payload] = containers(bytes);
        write("snapshot_decode", &format!("{name}-raw"), &raw);
        write("snapshot_decode", &format!("{name}-payload"), &payload);
    }

    let delta = RevocationDelta::new(
        SNAPSHOT_ID,
        SNAPSHOT_VERSION,
        KEY.key_id(),
        1,
        1_763_720_000_000,
        vec![
            Revocation { fingerprint: KEY.fingerprint("u1"), purposes: 0b10 },
            Revocation { fingerprint: KEY.fingerprint("u3"), purposes: ALL_PURPOSES },
        ],
    )
    .encode()
    .unwrap();
    let empty = RevocationDelta::new(SNAPSHOT_ID, SNAPSHOT_VERSION, KEY.key_id(), 2, 1_763_720_000_000, vec![])
        .encode()
        .unwrap();
    for (name, bytes) in [("two-members", &delta), ("empty", &empty)] {
        let [raw, payload] = containers(bytes);
        write("delta_decode", &format!("{name}-raw"), &raw);
        write("delta_decode", &format!("{name}-payload"), &payload);
    }

    let requests: Vec<Vec<u8>> = edgeseg_fuzz::requests().iter().map(|r| postcard::to_allocvec(r).unwrap()).collect();
    let throttle: Vec<(u64, u64)> = vec![(1, 1_763_719_200_000_000), (u64::MAX, 0)];
    let rules = rules();
    let [raw, payload] = containers(snapshot);
    write("abi_entry", "load-raw", &prefixed(0, &raw));
    write("abi_entry", "load-payload", &prefixed(0, &payload));
    for (i, request) in requests.iter().enumerate() {
        write("abi_entry", &format!("decide-{i}"), &prefixed(1, request));
    }
    // Identity claims against verified sources: a bearer token, a signed cookie, and the same
    // with a verified id the host proved.
    let token_requests = [
        edgeseg::Request {
            headers: vec![("authorization", "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2ln")],
            ..Default::default()
        },
        edgeseg::Request {
            headers: vec![("cookie", "edgeseg_uid=u1.1763719900.bWFj")],
            verified_id: Some("u1"),
            ..Default::default()
        },
    ];
    for (i, request) in token_requests.iter().enumerate() {
        write("abi_entry", &format!("identity-claim-{i}"), &prefixed(5, &postcard::to_allocvec(request).unwrap()));
    }
    let [raw, payload] = containers(&delta);
    write("abi_entry", "apply-delta-raw", &prefixed(2, &raw));
    write("abi_entry", "apply-delta-payload", &prefixed(2, &payload));
    write("abi_entry", "throttle-import", &prefixed(3, &postcard::to_allocvec(&throttle).unwrap()));
    let data = Literal::Object(vec![("a".into(), Literal::Array(vec![Literal::Number(1.0), Literal::Number(2.5)]))]);
    let eval = postcard::to_allocvec(&(rules.last().unwrap(), &data)).unwrap();
    write("abi_entry", "eval", &prefixed(4, &eval));

    // rule_eval: a postcard rule, then bytes for the generated context.
    for (i, rule) in rules.iter().enumerate() {
        let mut bytes = postcard::to_allocvec(rule).unwrap();
        bytes.extend_from_slice(b"GET\0shop.example\0/checkout\0DE\0\x01\x02\x03\x04\x05\x06\x07\x08");
        write("rule_eval", &format!("rule-{i}"), &bytes);
    }

    // TCF strings from tests/spec/consent-signals.json (valid, v1, truncated).
    for (name, tcf) in [
        ("all-purposes", "CQbP0NAQbP0NAEsACBENAwEgAL-AAAAAAAYgAAAAAAAA"),
        ("no-purpose-1", "CQbP0NAQbP0NAEsACBENAwEgAD-AAAAAAAYgAAAAAAAA"),
        ("v1", "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"),
        ("short", "CQ"),
    ] {
        write("tcf_decode", name, tcf.as_bytes());
    }

    // Traffic: a few lines of the sample generator's log (seed 42), and both header forms.
    let mut sample = Vec::new();
    edgeseg_snapshots::sample::write_traffic(&mut sample, 50, 6, 42).unwrap();
    write("traffic_jsonl", "sample", &sample);
    write(
        "traffic_jsonl",
        "header-pairs",
        br#"{"now_ms": 1763719200123, "method": "GET", "host": "shop.example", "path": "/p/123", "headers": [["cookie", "edgeseg_uid=u1"], ["cookie", "theme=dark"]], "country": "DE", "client_ip": "192.0.2.7", "attributes": {"device": "mobile", "n": 1.5, "b": true, "z": null}, "status": 200, "latency_ms": 84.5}
{"now_ms": 1, "method": "POST", "path": "/"}

not json
"#,
    );
}

/// A few rules over every slot kind and the main node kinds.
fn rules() -> Vec<Rule> {
    let var = |slot| Node::Var { slot, default: None };
    let s = |v: &str| Node::Literal(Literal::String(v.into()));
    vec![
        Rule {
            nodes: vec![
                var(Slot::Country),
                s("DE"),
                Node::Compare { op: CompareOp::StrictEq, args: vec![0, 1] },
                var(Slot::Attribute("device".into())),
                s("mobile"),
                Node::Compare { op: CompareOp::Eq, args: vec![3, 4] },
                Node::And(vec![2, 5]),
            ],
        },
        Rule { nodes: vec![s("/checkout"), var(Slot::Path), Node::In { needle: 0, haystack: 1 }] },
        Rule {
            nodes: vec![
                var(Slot::Header("x-plan".into())),
                var(Slot::Cookie("plan".into())),
                Node::Or(vec![0, 1]),
                Node::InSegment(3),
                Node::Not(3),
                Node::And(vec![2, 4]),
            ],
        },
        Rule {
            nodes: vec![
                Node::Literal(Literal::Array(vec![Literal::Number(1.0), Literal::Number(2.5), Literal::Null])),
                Node::ScopeVar { path: vec![], default: None },
                Node::Iterate { op: IterOp::Map, array: 0, body: 1 },
            ],
        },
        Rule {
            nodes: vec![
                var(Slot::NowMs),
                Node::Literal(Literal::Number(1000.0)),
                Node::Arith { op: ArithOp::Div, args: vec![0, 1] },
                var(Slot::Method),
                Node::Cat(vec![3, 2, 3]),
                Node::Literal(Literal::Number(-3.0)),
                Node::Substr(vec![4, 5]),
            ],
        },
    ]
}
