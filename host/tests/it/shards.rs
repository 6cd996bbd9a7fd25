//! Sharded snapshots through wasmtime: a head plus shard files decide exactly as the whole
//! snapshot of the same members; missing, corrupt, foreign and forged shards are refused or
//! fail closed, counted, and recovered from; a small budget evicts and stays correct.
//!
//! The sharded snapshots are cut here by hand from the fixture's payload ([`cut`]), the way the
//! builder does it: members partitioned by their fingerprint's top bits, each shard's sets built
//! from the fingerprints keyed by [`probe_key`], the head keeping empty placeholder sets and a
//! sharding record of each shard's length, CRC-32C and SHA-256. Every set is exact (the
//! fixture's bloom audience is made exact), so whole and sharded must agree bit for bit.

use crate::replay::TRAFFIC;
use crate::support::{Req, guest, guest_with, workspace};
use edgeseg::ErrorKind;
use edgeseg::membership::MembershipData;
use edgeseg::shard::{ShardEntry, ShardPayload, Sharding, probe_key, shard_index};
use edgeseg::snapshot::SnapshotPayload;
use edgeseg_host::guest::{Guest, GuestConfig, GuestError, OwnedDecision};
use edgeseg_host::replay::{ReplayOptions, replay};
use edgeseg_host::shards::{Ensured, ShardFiles, ShardSource};
use edgeseg_host::traffic::TrafficReader;
use edgeseg_snapshots::fixture::{Fixture, KEY};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const MEMBERS: usize = 400;

fn id(i: usize) -> String {
    format!("m{i}")
}

/// The fixture with 400 members spread over every set (all exact).
fn payload(version: u64) -> SnapshotPayload {
    let ids = |f: &dyn Fn(usize) -> bool| (0..MEMBERS).filter(|&i| f(i)).map(|i| KEY.fingerprint(&id(i))).collect();
    let fixture = Fixture {
        vip: ids(&|i| i % 10 == 0),
        plus: ids(&|i| i % 10 == 1 || i % 7 == 0),
        consented: ids(&|i| i % 3 != 0),
        audience: ids(&|i| i % 2 == 0),
        ..Fixture::small(version)
    };
    let mut p = fixture.payload().unwrap();
    let audience = p.segments.iter_mut().find(|s| s.name == "audience").unwrap();
    audience.membership = Some(MembershipData::exact(fixture.audience.clone()));
    p
}

/// A head and its shards.
struct Cut {
    head: Vec<u8>,
    shards: Vec<Vec<u8>>,
}

fn fingerprints(d: &MembershipData) -> Vec<u64> {
    match d {
        MembershipData::Exact(b) => b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect(),
        other => panic!("the test cuts exact sets only, not {:?}", other.encoding()),
    }
}

/// `whole` cut into `2^bits` shards of build `build`.
fn cut(whole: &SnapshotPayload, bits: u8, build: u64) -> Cut {
    let part = |d: Option<&MembershipData>, i: u32, members: &mut BTreeSet<u64>| {
        let fps: Vec<u64> = d.map(fingerprints).unwrap_or_default();
        let mine: Vec<u64> = fps.into_iter().filter(|&fp| shard_index(fp, bits) == i).collect();
        members.extend(&mine);
        MembershipData::exact(mine.into_iter().map(|fp| probe_key(fp, bits)).collect())
    };
    let mut shards = Vec::new();
    let mut entries = Vec::new();
    for i in 0..1u32 << bits {
        let mut members = BTreeSet::new();
        let purposes = whole
            .purposes
            .iter()
            .map(|p| p.requires_consent.then(|| part(p.consented.as_ref(), i, &mut members)))
            .collect();
        let segments =
            whole.segments.iter().map(|s| s.membership.as_ref().map(|d| part(Some(d), i, &mut members))).collect();
        let shard = ShardPayload {
            snapshot_id: whole.id.clone(),
            snapshot_version: whole.version,
            build,
            index: i,
            bits,
            purposes,
            segments,
        };
        let bytes = shard.encode().unwrap();
        entries.push(ShardEntry {
            len: bytes.len() as u64,
            crc32c: u32::from_le_bytes(bytes[16..20].try_into().unwrap()),
            sha256: Sha256::digest(&bytes).into(),
            members: members.len() as u64,
        });
        shards.push(bytes);
    }
    let mut head = whole.clone();
    for p in &mut head.purposes {
        if p.consented.is_some() {
            p.consented = Some(MembershipData::Exact(Vec::new()));
        }
    }
    for s in &mut head.segments {
        if s.membership.is_some() {
            s.membership = Some(MembershipData::Exact(Vec::new()));
        }
    }
    head.ext.sharding = Some(Sharding { bits, build, shards: entries });
    Cut { head: head.encode().unwrap(), shards }
}

fn scratch(name: &str) -> PathBuf {
    let dir = workspace().join("target").join("test-scratch").join(format!("shards-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `cut` as `dir/fixture.head` + `dir/fixture.shard-XXXX`; the head's path.
fn write(dir: &Path, cut: &Cut) -> PathBuf {
    let head = dir.join("fixture.head");
    std::fs::write(&head, &cut.head).unwrap();
    let files = ShardFiles::for_head(&head, None);
    for (i, bytes) in cut.shards.iter().enumerate() {
        std::fs::write(files.path(i as u32), bytes).unwrap();
    }
    head
}

/// Requests for every member (by cookie and by header), a few non-members and anonymous ones,
/// in and out of Germany on mobile, on and off the checkout path.
fn requests() -> Vec<Req> {
    let mut out = Vec::new();
    for i in 0..MEMBERS + 20 {
        let header = if i % 2 == 0 {
            ("cookie".to_owned(), format!("edgeseg_uid={}", id(i)))
        } else {
            ("x-customer-id".to_owned(), id(i))
        };
        out.push(Req {
            path: if i % 5 == 0 { "/checkout/cart".into() } else { "/".into() },
            headers: vec![header],
            country: (i % 3 == 0).then(|| "DE".into()),
            device: (i % 4 != 1).then(|| "mobile".into()),
        });
    }
    out.push(Req {
        path: "/checkout".into(),
        country: Some("DE".into()),
        device: Some("mobile".into()),
        ..Req::default()
    });
    out
}

/// A guest serving `cut`'s head and the source of its files.
fn sharded_guest(head: &Path, budget: Option<u64>) -> (Guest, ShardSource) {
    let mut g = guest();
    if let Some(budget) = budget {
        g.set_shard_budget(budget).unwrap();
    }
    let loaded = g.load_snapshot(&std::fs::read(head).unwrap()).unwrap();
    assert!(loaded.shards > 1, "{loaded:?}");
    (g, ShardSource::new(ShardFiles::for_head(head, None)))
}

/// What replay does for one request: its shard made present if possible, then the decision.
fn decide(g: &mut Guest, source: &mut ShardSource, req: &Req) -> OwnedDecision {
    let request = req.request();
    if let Some(index) = g.shard_for(&request).unwrap() {
        source.ensure(g, index).unwrap();
    }
    g.decide(&request).unwrap()
}

fn whole_guest(version: u64) -> Guest {
    let mut g = guest();
    g.load_snapshot(&payload(version).encode().unwrap()).unwrap();
    g
}

fn missing_header(d: &OwnedDecision) -> bool {
    d.headers.iter().any(|(n, v)| n == "x-edgeseg-shard-missing" && v == "1")
}

#[test]
fn a_sharded_head_decides_exactly_as_the_whole_snapshot() {
    let dir = scratch("same");
    let head = write(&dir, &cut(&payload(3), 3, 0xB1));
    let (mut sharded, mut source) = sharded_guest(&head, None);
    let mut whole = whole_guest(3);
    let mut tiers = BTreeSet::new();
    for (n, req) in requests().iter().enumerate() {
        let a = whole.decide(&req.request()).unwrap();
        let b = decide(&mut sharded, &mut source, req);
        assert!(!b.shard_missing, "request {n}");
        assert_eq!(a, b, "request {n}");
        tiers.insert(a.tier.clone());
    }
    assert_eq!(tiers.len(), 3, "every tier is reached: {tiers:?}");
    // Natively, the same shard for the same request.
    let native = edgeseg::Engine::load(&std::fs::read(&head).unwrap()).unwrap();
    for req in requests().iter().take(50) {
        assert_eq!(sharded.shard_for(&req.request()).unwrap(), native.shard_for(&req.request()));
    }
    let c = source.counters;
    assert_eq!((c.misses, c.loads, c.refused, c.read_errors), (8, 8, 0, 0), "each of 8 shards read once: {c:?}");
    assert_eq!(c.hits + c.misses, MEMBERS as u64 + 20, "one per identified request");
    let engine = sharded.stats().unwrap().shards;
    assert_eq!((engine.loads, engine.misses, engine.evictions, engine.held), (8, 0, 0, 8), "{engine:?}");
    assert_eq!(sharded.shard_stats().held, 8);
}

#[test]
fn a_missing_or_corrupt_shard_fails_closed_is_counted_and_a_later_good_read_recovers() {
    let dir = scratch("missing");
    let cut = cut(&payload(3), 2, 7);
    let head = write(&dir, &cut);
    let (mut g, mut source) = sharded_guest(&head, None);
    let mut whole = whole_guest(3);
    // m0 is vip (premium) and consented? 0 % 3 == 0: no. m10: vip, 10 % 3 = 1: consented.
    let req = Req {
        path: "/".into(),
        headers: vec![("cookie".into(), format!("edgeseg_uid={}", id(10)))],
        country: Some("DE".into()),
        device: Some("mobile".into()),
    };
    let expected = whole.decide(&req.request()).unwrap();
    assert_eq!(expected.tier, "premium");
    assert!(expected.segments.contains(&"mobile-de".to_owned()), "{expected:?}");
    let index = g.shard_for(&req.request()).unwrap().unwrap();
    let path = source.files.path(index);

    // Missing file: decided without membership or recorded consent, flagged, counted.
    std::fs::remove_file(&path).unwrap();
    let d = decide(&mut g, &mut source, &req);
    assert!(d.shard_missing && missing_header(&d), "{d:?}");
    assert_eq!(d.tier, "free");
    assert!(d.segments.iter().all(|s| s != "vip" && s != "mobile-de"), "nothing member or consent-gated: {d:?}");
    assert_eq!(source.counters.read_errors, 1);

    // Corrupt file (one byte flipped): refused by the SHA-256 check before the guest sees it.
    let mut corrupt = cut.shards[index as usize].clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x10;
    std::fs::write(&path, &corrupt).unwrap();
    let d = decide(&mut g, &mut source, &req);
    assert!(d.shard_missing && missing_header(&d) && d.tier == "free", "{d:?}");
    assert_eq!((source.counters.refused, g.shard_stats().refused_digest), (1, 1));
    // The guest never saw it: its own refusal count is 0, its misses are the two decisions.
    let engine = g.stats().unwrap().shards;
    assert_eq!((engine.refused, engine.misses, engine.loads), (0, 2, 0), "{engine:?}");

    // The good file is back: the next request reads it again and decides as the whole snapshot.
    std::fs::write(&path, &cut.shards[index as usize]).unwrap();
    let d = decide(&mut g, &mut source, &req);
    assert_eq!(d, expected);
    let c = source.counters;
    assert_eq!((c.misses, c.loads, c.refused, c.read_errors, c.hits), (3, 1, 1, 1, 0), "{c:?}");
    let d = decide(&mut g, &mut source, &req);
    assert_eq!(d, expected);
    assert_eq!(source.counters.hits, 1);
}

#[test]
fn a_shard_of_another_build_is_refused() {
    let dir = scratch("foreign");
    let ours = cut(&payload(3), 2, 1);
    let theirs = cut(&payload(3), 2, 2);
    let head = write(&dir, &ours);
    let (mut g, _) = sharded_guest(&head, None);
    match g.load_shard(&theirs.shards[1]) {
        Err(GuestError::Refused { kind: ErrorKind::ChecksumMismatch, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(!g.has_shard(1));
    // The engine alone refuses it too (by its build id).
    let mut native = edgeseg::Engine::load(&ours.head).unwrap();
    assert_eq!(native.load_shard(theirs.shards[1].clone()).unwrap_err().kind(), ErrorKind::Invalid);
    // A whole snapshot takes no shard.
    let mut whole = whole_guest(3);
    assert!(matches!(whole.load_shard(&ours.shards[0]), Err(GuestError::Refused { kind: ErrorKind::Invalid, .. })));
    // And ours loads; loading it again replaces it (held once, counted twice).
    assert_eq!(g.load_shard(&ours.shards[1]).unwrap(), 1);
    assert_eq!(g.load_shard(&ours.shards[1]).unwrap(), 1);
    assert_eq!(g.held_shards(), [1]);
    let (host, engine) = (g.shard_stats(), g.stats().unwrap().shards);
    assert_eq!((host.loads, host.held, host.held_bytes), (2, 1, ours.shards[1].len() as u64));
    assert_eq!((engine.loads, engine.held, engine.held_bytes), (2, 1, ours.shards[1].len() as u64));
    // Dropping: held, then not.
    assert!(g.drop_shard(1).unwrap());
    assert!(!g.drop_shard(1).unwrap());
    assert!(g.held_shards().is_empty());
}

/// Flips `bytes[at..at + 4]` so that the CRC-32C of `bytes[20..]` is `target` again: CRC is
/// affine over GF(2), so the 32 bits of a window can cancel any change (Gaussian elimination).
fn forge_crc(bytes: &mut [u8], at: usize, target: u32) {
    let crc = |b: &[u8]| edgeseg::format::crc32c(&b[20..]);
    let base = crc(bytes);
    // Column j: the CRC change of flipping bit j of the window.
    let mut cols = Vec::new();
    for j in 0..32 {
        bytes[at + j / 8] ^= 1 << (j % 8);
        cols.push(crc(bytes) ^ base);
        bytes[at + j / 8] ^= 1 << (j % 8);
    }
    // Solve sum(x_j * cols[j]) = base ^ target.
    let mut rows: Vec<(u32, u64)> = cols.iter().enumerate().map(|(j, &c)| (c, 1u64 << j)).collect();
    let mut want = base ^ target;
    let mut flips = 0u64;
    for bit in (0..32).rev() {
        let Some(p) = rows.iter().position(|(c, _)| c >> bit & 1 == 1) else { continue };
        let pivot = rows.swap_remove(p);
        for r in &mut rows {
            if r.0 >> bit & 1 == 1 {
                r.0 ^= pivot.0;
                r.1 ^= pivot.1;
            }
        }
        if want >> bit & 1 == 1 {
            want ^= pivot.0;
            flips ^= pivot.1;
        }
    }
    assert_eq!(want, 0, "the window's bits span the CRC");
    for j in 0..32 {
        if flips >> j & 1 == 1 {
            bytes[at + j / 8] ^= 1 << (j % 8);
        }
    }
    assert_eq!(crc(bytes), target);
}

#[test]
fn the_sha256_check_refuses_a_shard_altered_with_its_crc_kept_which_the_engine_alone_accepts() {
    let dir = scratch("forged");
    let cut = cut(&payload(3), 1, 9);
    let head = write(&dir, &cut);
    let original = &cut.shards[0];
    let crc = u32::from_le_bytes(original[16..20].try_into().unwrap());
    // The payload ends with the audience set (plain exact: sorted little-endian u64s) and the
    // checkout segment's `None` byte. Alter the low half of its last fingerprint and forge the
    // CRC back with the low half of the one before (the order stays): two members drop out.
    let mut forged = original.clone();
    let end = forged.len();
    forged[end - 9] ^= 0x5a;
    forge_crc(&mut forged, end - 17, crc);
    assert_ne!(&forged, original);

    let mut native = edgeseg::Engine::load(&cut.head).unwrap();
    assert_eq!(native.load_shard(forged.clone()).unwrap(), 0, "CRC and binding check out");

    let (mut g, _) = sharded_guest(&head, None);
    match g.load_shard(&forged) {
        Err(GuestError::Refused { kind: ErrorKind::ChecksumMismatch, message }) => {
            assert!(message.contains("SHA-256"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((g.shard_stats().refused, g.shard_stats().refused_digest, g.shard_stats().loads), (1, 1, 0));
    assert_eq!(g.stats().unwrap().shards.refused, 0, "the guest never saw it");
}

#[test]
fn a_budget_below_the_working_set_evicts_and_decisions_stay_the_same() {
    let dir = scratch("budget");
    let cut = cut(&payload(3), 3, 4);
    let head = write(&dir, &cut);
    let largest = cut.shards.iter().map(Vec::len).max().unwrap() as u64;
    let budget = largest * 2;
    let (mut g, mut source) = sharded_guest(&head, Some(budget));
    let mut whole = whole_guest(3);
    for (n, req) in requests().iter().enumerate() {
        assert_eq!(decide(&mut g, &mut source, req), whole.decide(&req.request()).unwrap(), "request {n}");
        assert!(g.shard_stats().held_bytes <= budget, "request {n}: {:?}", g.shard_stats());
        assert!(g.held_shards().len() <= 2);
    }
    let host = g.shard_stats();
    let engine = g.stats().unwrap().shards;
    assert!(host.evictions > 0 && source.counters.misses > 8, "{host:?} {:?}", source.counters);
    assert_eq!(host.evictions, source.counters.loads - host.held);
    assert_eq!(engine.evictions, 0, "the host made room first: {engine:?}");
    assert_eq!((engine.held, engine.held_bytes, engine.budget_bytes), (host.held, host.held_bytes, budget));
    assert_eq!(engine.misses, 0);

    // Shrinking the budget drops at once, least recently used first.
    let before = g.held_shards();
    g.set_shard_budget(1).unwrap();
    assert_eq!(g.held_shards(), [] as [u32; 0], "{before:?}");
    assert_eq!(g.stats().unwrap().shards.held, 0);
}

#[test]
fn after_a_trap_the_shards_are_gone_and_the_next_request_reloads_its_own() {
    let dir = scratch("trap");
    let head = write(&dir, &cut(&payload(3), 2, 5));
    let (mut g, mut source) = sharded_guest(&head, None);
    let mut whole = whole_guest(3);
    let reqs = requests();
    for req in &reqs[..40] {
        decide(&mut g, &mut source, req);
    }
    assert_eq!(g.held_shards().len(), 4);
    g.set_fuel_per_call(Some(500)).unwrap();
    assert!(matches!(g.decide(&reqs[0].request()), Err(GuestError::Trap(_))));
    assert!(g.held_shards().is_empty(), "the dead instance's shards are forgotten");
    g.set_fuel_per_call(Some(edgeseg_host::guest::DEFAULT_FUEL_PER_CALL)).unwrap();
    let loads = source.counters.loads;
    for (n, req) in reqs.iter().enumerate() {
        let d = decide(&mut g, &mut source, req);
        assert!(!d.shard_missing, "request {n}");
        assert_eq!(d, whole.decide(&req.request()).unwrap(), "request {n}");
    }
    assert_eq!(source.counters.loads, loads + 4, "each shard read again once");
}

#[test]
fn a_guest_without_fuel_metering_serves_shards_too() {
    let dir = scratch("unmetered");
    let head = write(&dir, &cut(&payload(3), 1, 6));
    let mut g = guest_with(GuestConfig { fuel_per_call: None, ..GuestConfig::default() });
    g.load_snapshot(&std::fs::read(&head).unwrap()).unwrap();
    let mut source = ShardSource::new(ShardFiles::for_head(&head, None));
    let req = &requests()[10];
    let index = g.shard_for(&req.request()).unwrap().unwrap();
    assert!(matches!(source.ensure(&mut g, index).unwrap(), Ensured::Loaded { .. }));
    assert!(matches!(source.ensure(&mut g, index).unwrap(), Ensured::Held));
}

#[test]
fn replay_of_a_sharded_head_reports_its_shards_and_audits_consent_from_them() {
    let dir = scratch("replay");
    let cut = cut(&payload(7), 2, 3);
    let head = write(&dir, &cut);
    // The replay traffic of `replay.rs` (members u1..u5 are not in this fixture) plus a request
    // per member: consent-gated segments match, so an audit blind to the shards would count
    // violations.
    let mut traffic = TRAFFIC.to_owned();
    for i in 0..60 {
        traffic.push_str(&format!(
            "{{\"now_ms\": 1763719200100, \"method\": \"GET\", \"path\": \"/\", \"headers\": {{\"cookie\": \"edgeseg_uid={}\"}}, \"country\": \"DE\", \"attributes\": {{\"device\": \"mobile\"}}}}\n",
            id(i)
        ));
    }
    let run = |g: &mut Guest, shards: Option<ShardFiles>| {
        let opts = ReplayOptions { skip_malformed: true, shards, ..ReplayOptions::default() };
        let mut report = replay(g, TrafficReader::new(traffic.as_bytes()), &opts).unwrap();
        report.strip_timings();
        report
    };
    let mut whole = whole_guest(7);
    let expected = run(&mut whole, None);
    assert!(expected.shards.is_none());
    assert!(!serde_json::to_string(&expected).unwrap().contains("\"shards\""));
    assert!(expected.segments.iter().any(|s| s.segment == "mobile-de" && s.requests > 10), "{expected:?}");

    let (mut g, _) = sharded_guest(&head, None);
    let report = run(&mut g, Some(ShardFiles::for_head(&head, None)));
    assert_eq!(report.consent.violations, 0);
    let shards = report.shards.clone().unwrap();
    assert_eq!((shards.shards, shards.loaded, shards.missing_shard_decisions, shards.refused), (4, 4, 0, 0));
    assert_eq!(shards.hits + shards.misses, report.identified, "{shards:?}");
    // Everything but the shard lines is the whole snapshot's report.
    let mut same = report.clone();
    same.shards = None;
    assert_eq!(same, expected);
    let text = report.to_text(false);
    assert!(text.contains("shard loads        4 (hits "), "{text}");
    assert!(text.contains("shard missing      0 decisions"), "{text}");
    let prom = report.to_prometheus();
    assert!(prom.contains("edgeseg_replay_shard_loads_total{snapshot=\"fixture@7\"} 4"), "{prom}");

    // Without its shard files the replay still runs: fail-closed decisions, counted, no violation.
    let empty = scratch("replay-empty");
    let (mut g, _) = sharded_guest(&head, None);
    let report = run(&mut g, Some(ShardFiles { dir: empty, stem: "fixture".into() }));
    let shards = report.shards.unwrap();
    assert_eq!(shards.read_errors, shards.misses);
    assert_eq!(shards.missing_shard_decisions, report.identified);
    assert!(shards.first_failure.unwrap().contains("fixture.shard-"));
    assert_eq!(report.consent.violations, 0);
    assert!(report.tiers.iter().all(|t| t.tier == "free" || t.requests == 0), "{:?}", report.tiers);

    // A sharded head without a shard location is an error, not a silent fail-closed replay.
    let (mut g, _) = sharded_guest(&head, None);
    let opts = ReplayOptions { skip_malformed: true, ..ReplayOptions::default() };
    assert!(replay(&mut g, TrafficReader::new(traffic.as_bytes()), &opts).is_err());
}

#[test]
fn diff_takes_a_sharded_side_and_counts_its_missing_shards() {
    use edgeseg_host::diff::{DiffShards, Gates, diff, diff_sharded};
    let dir = scratch("diff");
    let cut = cut(&payload(7), 2, 8);
    let head = write(&dir, &cut);
    let mut traffic = String::new();
    for i in 0..80 {
        traffic.push_str(&format!(
            "{{\"now_ms\": 1763719200100, \"method\": \"GET\", \"path\": \"/\", \"headers\": {{\"x-customer-id\": \"{}\"}}}}\n",
            id(i)
        ));
    }
    let records = || TrafficReader::new(traffic.as_bytes());
    let files = ShardFiles::for_head(&head, None);
    let shards = DiffShards { old: Some(files.clone()), new: None };

    // Sharded old, whole new: nothing moves.
    let (mut old, _) = sharded_guest(&head, None);
    let mut new = whole_guest(7);
    let report = diff_sharded(&mut old, &mut new, records(), false, &Gates::default(), &shards).unwrap();
    assert_eq!(report.moved_requests, 0, "{report:?}");
    let s = report.old_shards.clone().unwrap();
    assert_eq!((s.shards, s.loaded, s.missing_shard_decisions), (4, 4, 0));
    assert!(report.new_shards.is_none());
    assert!(report.to_text().contains("old shards: 4 loaded"), "{}", report.to_text());

    // Without shard 0's file, its members fall to the default tier on the old side: counted,
    // and the deploy gate sees them move.
    std::fs::remove_file(files.path(0)).unwrap();
    let (mut old, _) = sharded_guest(&head, None);
    let mut new = whole_guest(7);
    let report = diff_sharded(&mut old, &mut new, records(), false, &Gates::default(), &shards).unwrap();
    let s = report.old_shards.unwrap();
    assert!(s.missing_shard_decisions > 0 && s.read_errors == s.missing_shard_decisions, "{s:?}");
    assert!(report.moved_requests > 0);

    // `diff` without shard locations refuses a sharded side instead of failing every request closed.
    let (mut old, _) = sharded_guest(&head, None);
    let mut new = whole_guest(7);
    assert!(diff(&mut old, &mut new, records(), false, &Gates::default()).is_err());
}
