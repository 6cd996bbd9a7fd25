//! Replays synthetic traffic through the real module and prints the report: a quick throughput
//! check that needs no data files.
//!
//! ```text
//! cargo build -p edgeseg --target wasm32-unknown-unknown --profile wasm
//! cargo run --release -p edgeseg-host --example replay_synthetic -- [MODULE] [REQUESTS]
//! ```
//!
//! MODULE defaults to `$EDGESEG_WASM`, then `target/wasm32-unknown-unknown/wasm/edgeseg.wasm`;
//! REQUESTS to 50 000. The snapshot is the shared hand-made fixture (`edgeseg_snapshots::fixture`)
//! at scale: 3 tiers; `vip` (20 000 exact members) → premium, `plus` (50 000 exact members) → plus,
//! a country-and-device rule, a bloom audience of 200 000, a path rule, 300 000 consented. Requests come from a fixed-seed generator: 70% identified among
//! 400 000 ids.

use anyhow::Context;
use edgeseg::fingerprint::FingerprintKey;
use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::replay::{ReplayOptions, replay};
use edgeseg_host::traffic::TrafficReader;
use edgeseg_snapshots::fixture::Fixture;
use std::fmt::Write;
use std::path::PathBuf;

const KEY: FingerprintKey = FingerprintKey(*b"synthetic-key-01");

fn ids(range: std::ops::Range<u64>) -> Vec<u64> {
    range.map(|i| KEY.fingerprint(&format!("u{i:07}"))).collect()
}

/// The shared fixture's five segments (`edgeseg_snapshots::fixture`) at scale.
fn snapshot() -> anyhow::Result<Vec<u8>> {
    let fixture = Fixture {
        id: "synthetic".into(),
        version: 1,
        key: KEY,
        vip: ids(0..20_000),
        plus: ids(20_000..70_000),
        consented: ids(0..300_000),
        audience: ids(100_000..300_000),
        audience_fp_rate: 0.01,
        ext: Default::default(),
    };
    Ok(fixture.encode()?)
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
