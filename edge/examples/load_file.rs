//! Times `Engine::load` on snapshot files (a measurement): `cargo run --release -p edgeseg
//! --example load_file -- FILE...` prints the median of runs per file for `Engine::load` and `Engine::load_owned`, and the checksum alone.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measurement: a panic is the report")]
#![allow(
    clippy::disallowed_methods,
    reason = "a native measurement beside the core, not in it: reads files and the clock"
)]

use std::time::{Duration, Instant};

/// Median of 9 runs of `run` (each returns the time it measured), in ms.
fn median_ms(run: impl FnMut() -> Duration) -> f64 {
    let mut v: Vec<Duration> = std::iter::repeat_with(run).take(9).collect();
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("snapshot file");
        let load = median_ms(|| {
            let t = Instant::now();
            let e = edgeseg::Engine::load(&bytes).unwrap();
            let d = t.elapsed();
            drop(e);
            d
        });
        let owned = median_ms(|| {
            let copy = bytes.clone();
            let t = Instant::now();
            let e = edgeseg::Engine::load_owned(copy).unwrap();
            let d = t.elapsed();
            drop(e);
            d
        });
        let crc = median_ms(|| {
            let t = Instant::now();
            std::hint::black_box(edgeseg::format::crc32c(std::hint::black_box(&bytes)));
            t.elapsed()
        });
        println!(
            "{path}: {} bytes, load {load:.2} ms, load_owned {owned:.2} ms (crc32c alone {crc:.2} ms)",
            bytes.len()
        );
    }
}
