//! Membership probes: ours per encoding against a bare `bloomfilter::Bloom<u64>` and a bare
//! `xorf::BinaryFuse8` over the same fingerprints.
//!
//! Our sets come out of the builder (the audience snapshot of [`fixtures::audience_snapshot`],
//! decoded by `Snapshot::decode`) and are probed through `MembershipSet::contains`, the call the
//! engine makes. The peers are built straight from the members' fingerprints: the bloom filter at
//! the builder's default false-positive rate, the fuse filter at its fixed 8-bit fingerprints.
//! Each timed call probes a batch of keys in random order (members for hits, non-members for
//! misses); the figure is ns per probe.

use crate::fixtures::{self, ENCODINGS};
use crate::harness::{Harness, Speed, ratio, show_ratio};
use edgeseg::Snapshot;
use edgeseg_snapshots::definitions::DEFAULT_FP_RATE;
use serde_json::{Value, json};
use std::hint::black_box;
use xorf::Filter;

const BATCH: usize = 4_096;

/// A probe-able set and its size.
struct Probe<'a> {
    name: String,
    bits_per_member: f64,
    contains: Box<dyn Fn(u64) -> bool + 'a>,
}

pub fn run(h: &mut Harness) -> Value {
    let members = h.mode().size(2_000, 100_000, 1_000_000);
    let mut seed = 0x6d65_6d62u64;
    // Keys come from the first snapshot's fingerprint key; every audience build uses the same
    // seed, so the key is the same in all of them (checked below by probing hits).
    let first = Snapshot::decode(&fixtures::audience_snapshot(ENCODINGS[0], members)).unwrap();
    let hits: Vec<u64> = (0..BATCH)
        .map(|_| first.fingerprint(&fixtures::audience_id(fixtures::splitmix(&mut seed) % members)))
        .collect();
    let misses: Vec<u64> = (0..BATCH)
        .map(|_| first.fingerprint(&fixtures::audience_id(members + fixtures::splitmix(&mut seed) % (members * 10))))
        .collect();
    let all: Vec<u64> = (0..members).map(|i| first.fingerprint(&fixtures::audience_id(i))).collect();
    drop(first);

    let snapshots: Vec<(String, Snapshot)> = ENCODINGS
        .iter()
        .map(|&e| (e.name.to_owned(), Snapshot::decode(&fixtures::audience_snapshot(e, members)).unwrap()))
        .collect();
    let mut probes: Vec<Probe<'_>> = snapshots
        .iter()
        .map(|(name, s)| {
            let seg = &s.segments[0];
            let set = seg.membership.as_ref().unwrap();
            Probe {
                name: format!("edgeseg {name}"),
                bits_per_member: seg.membership_bytes as f64 * 8.0 / members as f64,
                contains: Box::new(move |fp| set.contains(fp)),
            }
        })
        .collect();
    let ours = probes.len();

    let mut bloom = bloomfilter::Bloom::<u64>::new_for_fp_rate_with_seed(
        all.len(),
        DEFAULT_FP_RATE,
        &core::array::from_fn(|i| i as u8),
    )
    .unwrap();
    all.iter().for_each(|fp| bloom.set(fp));
    let fuse = xorf::BinaryFuse8::try_from(all.as_slice()).unwrap();
    let (bloom_bits, fuse_bytes) = (bloom.len(), fuse.fingerprints.len());
    probes.push(Probe {
        name: "bloomfilter::Bloom<u64>".into(),
        bits_per_member: bloom_bits as f64 / members as f64,
        contains: Box::new(move |fp| bloom.check(&fp)),
    });
    probes.push(Probe {
        name: "xorf::BinaryFuse8".into(),
        bits_per_member: fuse_bytes as f64 * 8.0 / members as f64,
        contains: Box::new(move |fp| fuse.contains(&fp)),
    });

    let mut rows = Vec::new();
    for p in &probes {
        assert!(hits.iter().all(|&fp| (p.contains)(fp)), "{}: a member is missing", p.name);
        let false_positives = misses.iter().filter(|&&fp| (p.contains)(fp)).count();
        let mut time = |what: &str, keys: &[u64]| {
            let id = format!("{}-{what}", p.name.replace([' ', ':', '<', '>'], "_"));
            h.bench("membership", &id, Speed::Fast, || {
                for &fp in keys {
                    black_box((p.contains)(black_box(fp)));
                }
            }) / BATCH as f64
        };
        let hit_ns = time("hit", &hits);
        let miss_ns = time("miss", &misses);
        rows.push(json!({
            "set": p.name, "bits_per_member": p.bits_per_member,
            "hit_ns": hit_ns, "miss_ns": miss_ns,
            "false_positives": false_positives, "misses_probed": BATCH,
        }));
    }
    let peer = |name: &str| rows.iter().find(|r| r["set"] == name).cloned().unwrap();
    let (bloom_row, fuse_row) = (peer("bloomfilter::Bloom<u64>"), peer("xorf::BinaryFuse8"));
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    for row in rows.iter_mut().take(ours) {
        let (hit, miss) = (f(&row["hit_ns"]), f(&row["miss_ns"]));
        row["ratio_bloomfilter_over_ours"] =
            json!({"hit": ratio(hit, f(&bloom_row["hit_ns"])), "miss": ratio(miss, f(&bloom_row["miss_ns"]))});
        row["ratio_xorf_over_ours"] =
            json!({"hit": ratio(hit, f(&fuse_row["hit_ns"])), "miss": ratio(miss, f(&fuse_row["miss_ns"]))});
    }
    json!({"members": members, "batch": BATCH, "sets": rows})
}

pub fn print(r: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!(
        "\nmembership probe at {} members; ns per probe ({} keys per batch, random order); ratio = peer / edgeseg",
        r["members"], r["batch"]
    );
    println!(
        "{:<26} {:>8} {:>8} {:>8} {:>7} {:>11} {:>11} {:>10} {:>10}",
        "set", "bits/id", "hit", "miss", "fp", "bloom: hit", "bloom: miss", "xorf: hit", "xorf: miss"
    );
    for row in r["sets"].as_array().into_iter().flatten() {
        let fp = format!("{}/{}", row["false_positives"], row["misses_probed"]);
        let ratios = |k: &str, w: &str| show_ratio(f(&row[k][w]));
        println!(
            "{:<26} {:>8.1} {:>8.1} {:>8.1} {:>7} {:>11} {:>11} {:>10} {:>10}",
            row["set"].as_str().unwrap_or(""),
            f(&row["bits_per_member"]),
            f(&row["hit_ns"]),
            f(&row["miss_ns"]),
            fp,
            ratios("ratio_bloomfilter_over_ours", "hit"),
            ratios("ratio_bloomfilter_over_ours", "miss"),
            ratios("ratio_xorf_over_ours", "hit"),
            ratios("ratio_xorf_over_ours", "miss"),
        );
    }
}
