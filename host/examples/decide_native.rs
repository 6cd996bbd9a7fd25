//! Decides a request log natively (the edge compiled for this machine, no wasm) on a snapshot,
//! whole or sharded, and prints one JSON decision per request: what a pipeline's test compares
//! between two builds (the Spark job's output and `edgeseg build`'s, in python/tests).
//!
//! ```sh
//! cargo run -p edgeseg-host --example decide_native -- OUT/snapshot.head traffic.jsonl > decisions.jsonl
//! ```
//!
//! Shards are read from beside the head as requests need them; a request whose shard file is
//! missing or refused stops the run with the edge's error.

use edgeseg::Engine;
use edgeseg_host::traffic::TrafficReader;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (head, traffic) = match (args.get(1), args.get(2)) {
        (Some(h), Some(t)) => (PathBuf::from(h), PathBuf::from(t)),
        _ => anyhow::bail!("usage: decide_native SNAPSHOT|NAME.head TRAFFIC.jsonl"),
    };
    let mut engine = Engine::load(&std::fs::read(&head)?).map_err(|e| anyhow::anyhow!("{}: {e}", head.display()))?;
    let reader = TrafficReader::new(std::io::BufReader::new(std::fs::File::open(&traffic)?));
    let mut out = BufWriter::new(std::io::stdout().lock());
    for record in reader {
        let record = record?;
        let req = record.request();
        if let Some(i) = engine.shard_for(&req)
            && !engine.has_shard(i)
        {
            let path = edgeseg_snapshots::shard::shard_path(&head, i);
            let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            engine.load_shard(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        }
        serde_json::to_writer(&mut out, &engine.decide(&req))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
