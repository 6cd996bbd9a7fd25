//! Decide latency in wasmtime on a sharded snapshot: a request whose shard is cold (read from
//! disk, SHA-256 checked, loaded into the guest, then decided) against one whose shard is held.
//!
//! ```sh
//! edgeseg build --definitions snapshots/data/demo.json --synthetic-members 10000000 \
//!     --shard-bytes 4194304 --out /tmp/e7/demo.head
//! cargo run --release -p edgeseg-host --example shard_latency -- target/wasm/edgeseg.wasm /tmp/e7/demo.head 2000
//! ```
//!
//! Requests are the sample generator's, for members of the built population; medians of wall time
//! around the calls (the machine's load moves them: compare the two columns of one run).

use edgeseg_host::guest::{Guest, GuestConfig};
use edgeseg_host::traffic::{TrafficReader, TrafficRecord};
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (module, head) = match (args.get(1), args.get(2)) {
        (Some(m), Some(h)) => (m.clone(), std::path::PathBuf::from(h)),
        _ => anyhow::bail!("usage: shard_latency MODULE NAME.head [REQUESTS] [MEMBERS]"),
    };
    let requests: u64 = args.get(3).map_or(Ok(2_000), |s| s.parse())?;
    let members: u64 = args.get(4).map_or(Ok(10_000_000), |s| s.parse())?;
    let mut traffic = Vec::new();
    edgeseg_snapshots::sample::write_traffic(&mut traffic, members, requests, 42)?;
    let records: Vec<TrafficRecord> = TrafficReader::new(traffic.as_slice()).collect::<Result<_, _>>()?;

    let mut guest = Guest::from_file(std::path::Path::new(&module), GuestConfig::default())?;
    guest.load_snapshot(&std::fs::read(&head)?)?;
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for r in &records {
        let req = r.request();
        let Some(index) = guest.shard_for(&req)? else { continue };
        // Cold: drop the shard first, so this request pays for reading and loading it.
        guest.drop_shard(index)?;
        let t = Instant::now();
        let bytes = std::fs::read(edgeseg_snapshots::shard::shard_path(&head, index))?;
        guest.load_shard(&bytes)?;
        let d = guest.decide(&req)?;
        cold.push(t.elapsed());
        anyhow::ensure!(!d.shard_missing, "shard {index} was loaded");
        // Warm: the same request again with its shard held.
        let t = Instant::now();
        guest.decide(&req)?;
        warm.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or_default()
    };
    let n = cold.len();
    println!(
        "{n} identified requests: decide with a cold shard (read + SHA-256 + load + decide) median {:?}, \
         with the shard held median {:?}",
        median(&mut cold),
        median(&mut warm)
    );
    Ok(())
}
