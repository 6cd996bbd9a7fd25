//! Replays synthetic traffic through the real module and prints the report: a quick throughput
//! check that needs no data files.
//!
//! ```text
//! cargo build -p edgeseg --target wasm32-unknown-unknown --profile wasm
//! cargo run --release -p edgeseg-host --example replay_synthetic -- [MODULE] [REQUESTS]
//! ```
//!
//! MODULE defaults to `$EDGESEG_WASM`, then `target/wasm32-unknown-unknown/wasm/edgeseg.wasm`;
//! REQUESTS to 50 000. The snapshot is made by hand: 3 tiers; `vip` (20 000 exact members) →
//! premium, `plus` (50 000 exact members) → plus, a country-and-device rule, a bloom audience of
//! 200 000, and a path rule. Requests come from a fixed-seed generator: 70% identified among
//! 400 000 ids.

use anyhow::Context;
use edgeseg::fingerprint::FingerprintKey;
use edgeseg::membership::MembershipData;
use edgeseg::rule::{CompareOp, Literal, Node, Rule, Slot};
use edgeseg::snapshot::{IdentitySource, Purpose, Segment, SnapshotPayload, Tier};
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::replay::{ReplayOptions, replay};
use edgeseg_host::traffic::TrafficReader;
use std::fmt::Write;
use std::path::PathBuf;

const KEY: FingerprintKey = FingerprintKey(*b"synthetic-key-01");

fn ids(range: std::ops::Range<u64>) -> Vec<u64> {
    range.map(|i| KEY.fingerprint(&format!("u{i:07}"))).collect()
}

fn snapshot() -> anyhow::Result<Vec<u8>> {
    let seed: [u8; 32] = core::array::from_fn(|i| (i * 7 + 1) as u8);
    let var = |slot| Node::Var { slot, default: None };
    let text = |s: &str| Node::Literal(Literal::String(s.into()));
    let mobile_de = vec![
        var(Slot::Country),
        text("DE"),
        Node::Compare { op: CompareOp::StrictEq, args: vec![0, 1] },
        var(Slot::Attribute("device".into())),
        text("mobile"),
        Node::Compare { op: CompareOp::Eq, args: vec![3, 4] },
        Node::And(vec![2, 5]),
    ];
    let checkout = vec![text("/checkout"), var(Slot::Path), Node::In { needle: 0, haystack: 1 }];
    let segment = |name: &str, precedence, tier, purpose, rule: Option<Vec<Node>>, membership| Segment {
        name: name.into(),
        tier,
        purpose,
        precedence,
        rule: rule.map(|nodes| Rule { nodes }),
        membership,
        members: 0,
    };
    let payload = SnapshotPayload {
        id: "synthetic".into(),
        version: 1,
        created_ms: 1_763_700_000_000,
        expires_ms: None,
        fingerprint_key: KEY,
        identity: vec![IdentitySource::Cookie("edgeseg_uid".into()), IdentitySource::Header("x-customer-id".into())],
        purposes: vec![
            Purpose { name: "contract".into(), requires_consent: false, consented: None },
            Purpose {
                name: "personalisation".into(),
                requires_consent: true,
                consented: Some(MembershipData::exact(ids(0..300_000))),
            },
        ],
        tiers: vec![Tier { name: "premium".into() }, Tier { name: "plus".into() }, Tier { name: "free".into() }],
        default_tier: 2,
        segments: vec![
            segment("vip", 100, Some(0), 0, None, Some(MembershipData::exact(ids(0..20_000)))),
            segment("plus", 50, Some(1), 0, None, Some(MembershipData::exact(ids(20_000..70_000)))),
            segment("mobile-de", 10, None, 1, Some(mobile_de), None),
            segment("audience", 8, None, 1, None, Some(MembershipData::bloom(&ids(100_000..300_000), 0.01, &seed)?)),
            segment("checkout", 5, None, 0, Some(checkout), None),
        ],
        ext: Default::default(),
    };
    Ok(payload.encode()?)
}

/// `n` JSONL requests from a fixed-seed xorshift generator.
fn traffic(n: usize) -> String {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::with_capacity(n * 200);
    for i in 0..n {
        let r = next();
        let id = r % 400_000;
        let headers = match r % 10 {
            0..=4 => format!(r#"{{"cookie": "theme=dark; edgeseg_uid=u{id:07}", "user-agent": "Mozilla/5.0"}}"#),
            5 | 6 => format!(r#"[["x-customer-id", "u{id:07}"], ["accept", "*/*"]]"#),
            _ => r#"{"user-agent": "curl/8"}"#.to_owned(),
        };
        let country = ["DE", "FR", "US", "GB"][(r >> 8) as usize % 4];
        let device = ["mobile", "desktop"][(r >> 12) as usize % 2];
        let path = ["/", "/p/123", "/checkout/cart", "/search?q=x"][(r >> 16) as usize % 4];
        let _ = writeln!(
            out,
            r#"{{"now_ms": {}, "method": "GET", "host": "shop.example", "path": "{path}", "headers": {headers}, "country": "{country}", "attributes": {{"device": "{device}"}}}}"#,
            1_763_719_200_000u64 + i as u64
        );
    }
    out
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let module = args
        .next()
        .or_else(|| std::env::var("EDGESEG_WASM").ok())
        .map_or_else(|| PathBuf::from("target/wasm32-unknown-unknown/wasm/edgeseg.wasm"), PathBuf::from);
    let requests: usize = args.next().map_or(Ok(50_000), |n| n.parse()).context("REQUESTS must be a number")?;

    let mut guest = Guest::from_file(&module, GuestConfig::default())?;
    guest.load_snapshot(&snapshot()?).context("loading the synthetic snapshot")?;
    let log = traffic(requests);
    let report = replay(&mut guest, TrafficReader::new(log.as_bytes()), &ReplayOptions::default())?;
    print!("{report}");
    Ok(())
}
