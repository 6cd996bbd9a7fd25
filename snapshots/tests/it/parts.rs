//! Builds in parts (the Spark job's steps) against `build --shards`, supplied fingerprint keys and
//! precomputed memberships.

use crate::scratch;
use edgeseg::fingerprint::FingerprintKey;
use edgeseg::rule::Literal;
use edgeseg_snapshots::members::Member;
use edgeseg_snapshots::parts::{self, PartCounts, ShardManifest};
use edgeseg_snapshots::shard::{ShardOptions, build_sharded, shard_path};
use edgeseg_snapshots::{BuildErrorKind, BuildOptions, Definitions, build, keys};

const DEFS: &str = r#"{"id": "parts", "version": 7,
  "identity": [{"cookie": "uid", "trust": "unverified"}],
  "purposes": ["contract", "ads"],
  "tiers": ["free", "gold"],
  "segments": [
    {"name": "gold", "tier": "gold", "purpose": "contract", "members": {"where": {">=": [{"var": "ltv"}, 500]}}},
    {"name": "fans", "purpose": "ads", "members": {"all": true, "encoding": "bloom", "fp_rate": 0.01}},
    {"name": "many", "purpose": "ads", "members": {"where": {"<": [{"var": "ltv"}, 900]}, "encoding": "fuse"}},
    {"name": "churn", "purpose": "ads", "members": {"precomputed": true}},
    {"name": "vip", "purpose": "contract", "members": {"precomputed": true}}]}"#;

fn key() -> FingerprintKey {
    keys::from_text("0123456789abcdef0f1e2d3c4b5a6978").unwrap()
}

fn member(i: u64) -> Member {
    let mut segments = Vec::new();
    if i.is_multiple_of(7) {
        segments.push("churn".to_string());
    }
    if i.is_multiple_of(11) {
        segments.push("vip".to_string());
    }
    Member {
        id: format!("cust-{i:06}"),
        consents: if i.is_multiple_of(3) { vec![] } else { vec!["ads".into()] },
        segments,
        tcf: None,
        attributes: vec![("ltv".into(), Literal::Number((i * 37 % 1000) as f64))],
        line: Some(i + 2),
    }
}

const N: u64 = 6_000;

fn opts() -> BuildOptions {
    BuildOptions { fingerprint_key: Some(key()), created_ms: Some(1_763_700_000_000), ..BuildOptions::default() }
}

/// The Spark job's steps, run here over three "partitions" of the members.
fn build_in_parts(defs: &Definitions, bits: u8) -> (Vec<u8>, Vec<Vec<u8>>, Vec<ShardManifest>) {
    let key = key();
    let partitions: Vec<Vec<Member>> = (0..3).map(|p| (0..N).filter(|i| i % 3 == p).map(member).collect()).collect();
    let mut counts = PartCounts::default();
    for part in &partitions {
        let c = parts::count(defs, &key, part.iter().cloned().map(Ok)).unwrap();
        counts.merge(&c).unwrap();
    }
    assert_eq!(counts.members, N);
    let layout =
        parts::layout(defs, &key, counts, &ShardOptions { bits: Some(bits), ..ShardOptions::default() }, &opts())
            .unwrap();
    let mut by_shard: Vec<Vec<Member>> = vec![Vec::new(); 1 << bits];
    for m in partitions.into_iter().flatten() {
        let (_, s) = parts::shard_of(&key, &m.id, bits);
        by_shard[s as usize].push(m);
    }
    let mut shards = Vec::new();
    let mut manifests = Vec::new();
    // Built in reverse order, members reversed: neither order may matter.
    for (index, members) in by_shard.into_iter().enumerate().rev() {
        let (bytes, manifest) =
            parts::build_shard(defs, &key, &layout, index as u32, members.into_iter().rev().map(Ok)).unwrap();
        parts::check_shard(&[], bytes.clone()).unwrap_err();
        shards.push(bytes);
        manifests.push(manifest);
    }
    shards.reverse();
    let head = parts::assemble_head(defs, &key, &layout, &manifests).unwrap();
    for s in &shards {
        parts::check_shard(&head, s.clone()).unwrap();
    }
    (head, shards, manifests)
}

#[test]
fn parts_write_the_same_bytes_as_build_shards() {
    let defs = Definitions::from_json(DEFS).unwrap();
    let (head, shards, _) = build_in_parts(&defs, 3);
    let dir = scratch("parts-vs-cli");
    let out = dir.join("p.head");
    let sharding = ShardOptions { bits: Some(3), ..ShardOptions::default() };
    let built = build_sharded(&defs, (0..N).map(member).map(Ok), &opts(), &sharding, &out, &mut |_| {}).unwrap();
    assert_eq!(built.shards.len(), 8);
    assert_eq!(std::fs::read(&out).unwrap(), head, "head bytes");
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(&std::fs::read(shard_path(&out, i as u32)).unwrap(), s, "shard {i}");
    }
    // Every shard's sets were probed member by member: as many probes as the whole build makes.
    let whole = build(&defs, (0..N).map(member).map(Ok), &opts()).unwrap().summary.member_check.unwrap();
    let sharded = built.summary.member_check.clone().unwrap();
    assert!(whole.probes > 0 && sharded.sets > whole.sets, "{whole:?} {sharded:?}");
    assert_eq!(sharded.probes, whole.probes);
    // And a second CLI-style build with the same key is the same again: reproducible.
    let again = dir.join("q.head");
    build_sharded(&defs, (0..N).map(member).map(Ok), &opts(), &sharding, &again, &mut |_| {}).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), head);
}

#[test]
fn supplied_key_makes_whole_builds_reproducible_and_is_the_snapshots_key() {
    let defs = Definitions::from_json(DEFS).unwrap();
    let a = build(&defs, (0..N).map(member).map(Ok), &opts()).unwrap();
    let b = build(&defs, (0..N).map(member).map(Ok), &opts()).unwrap();
    assert_eq!(a.bytes, b.bytes);
    let snap = edgeseg::Snapshot::decode(&a.bytes).unwrap();
    assert_eq!(snap.key_id(), key().key_id());
    // Without a supplied key every build draws its own.
    let unkeyed = BuildOptions { fingerprint_key: None, ..opts() };
    let c = build(&defs, (0..N).map(member).map(Ok), &unkeyed).unwrap();
    assert_ne!(edgeseg::Snapshot::decode(&c.bytes).unwrap().key_id(), key().key_id());
}

#[test]
fn precomputed_segments_take_their_members_from_the_list_and_still_need_consent() {
    let defs = Definitions::from_json(DEFS).unwrap();
    let built = build(&defs, (0..N).map(member).map(Ok), &opts()).unwrap();
    let seg = |name: &str| built.summary.segments.iter().find(|s| s.name == name).unwrap().clone();
    // churn: every 7th member, of whom those without `ads` consent (i % 3 == 0) are excluded.
    let churn_listed = (0..N).filter(|i| i % 7 == 0).count() as u64;
    let churn_kept = (0..N).filter(|i| i % 7 == 0 && i % 3 != 0).count() as u64;
    assert_eq!(seg("churn").members, churn_kept);
    assert_eq!(seg("churn").excluded_no_consent, churn_listed - churn_kept);
    // vip is a contract segment: every listed member.
    assert_eq!(seg("vip").members, (0..N).filter(|i| i % 11 == 0).count() as u64);
}

#[test]
fn precomputed_lists_naming_other_segments_are_refused() {
    let defs = Definitions::from_json(DEFS).unwrap();
    let mut m = member(1);
    m.segments = vec!["chrun".into()];
    let e = build(&defs, [Ok(m.clone())], &opts()).unwrap_err();
    assert_eq!(e.kind(), BuildErrorKind::Members);
    assert!(e.to_string().contains("unknown segment \"chrun\" (precomputed segments: churn, vip)"), "{e}");
    m.segments = vec!["gold".into()];
    let e = build(&defs, [Ok(m)], &opts()).unwrap_err();
    assert!(e.to_string().contains("segment \"gold\" is not precomputed"), "{e}");
}

#[test]
fn a_lost_or_doubled_partition_and_a_foreign_key_are_refused() {
    let defs = Definitions::from_json(DEFS).unwrap();
    let (_, _, manifests) = build_in_parts(&defs, 2);
    let key = key();
    let mut counts = PartCounts::default();
    counts.merge(&parts::count(&defs, &key, (0..N).map(member).map(Ok)).unwrap()).unwrap();
    let layout =
        parts::layout(&defs, &key, counts, &ShardOptions { bits: Some(2), ..ShardOptions::default() }, &opts())
            .unwrap();
    // All present: fine.
    parts::assemble_head(&defs, &key, &layout, &manifests).unwrap();
    // One missing.
    let e = parts::assemble_head(&defs, &key, &layout, &manifests[1..]).unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
    // One twice.
    let mut doubled = manifests.clone();
    doubled.push(manifests[0].clone());
    assert!(parts::assemble_head(&defs, &key, &layout, &doubled).unwrap_err().to_string().contains("built twice"));
    // A shard whose members do not add up (a partition lost before the shard was built).
    let mut short = manifests.clone();
    short[0].members -= 1;
    let e = parts::assemble_head(&defs, &key, &layout, &short).unwrap_err();
    assert!(e.to_string().contains("a partition was lost"), "{e}");
    // Another key.
    let other = keys::from_text("ffffffffffffffffffffffffffffffff").unwrap();
    let e = parts::assemble_head(&defs, &other, &layout, &manifests).unwrap_err();
    assert!(e.to_string().contains("key id"), "{e}");
    // A member handed to the wrong shard.
    let m = member(5);
    let (_, s) = parts::shard_of(&key, &m.id, 2);
    let e = parts::build_shard(&defs, &key, &layout, (s + 1) % 4, [Ok(m)]).unwrap_err();
    assert!(e.to_string().contains("was given to shard"), "{e}");
}

#[test]
fn a_sharded_build_that_fails_leaves_the_previous_build_in_place() {
    let defs = Definitions::from_json(DEFS).unwrap();
    let dir = scratch("sharded-failure");
    let head = dir.join("s.head");
    let sharding = ShardOptions { bits: Some(3), ..ShardOptions::default() };
    build_sharded(&defs, (0..N).map(member).map(Ok), &opts(), &sharding, &head, &mut |_| {}).unwrap();
    let before: Vec<Vec<u8>> = std::iter::once(head.clone())
        .chain((0..8).map(|i| shard_path(&head, i)))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // Another build into the same place, refused late: a duplicate id whose run comes last, after
    // most shards have been built.
    let (last, _) =
        (0..N).map(|i| (i, parts::shard_of(&key(), &member(i).id, 8).1)).max_by_key(|&(_, run)| run).unwrap();
    let members = (0..N).map(member).chain(std::iter::once(member(last))).map(Ok);
    let other = BuildOptions { created_ms: Some(1), ..opts() };
    let e = build_sharded(&defs, members, &other, &sharding, &head, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("duplicate id"), "{e}");
    let after: Vec<Vec<u8>> = std::iter::once(head.clone())
        .chain((0..8).map(|i| shard_path(&head, i)))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(before == after, "a failed build changed the files of the previous one");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 9, "scratch files left behind: {left:?}");
}
