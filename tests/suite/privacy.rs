//! The snapshot never holds a raw customer id, and `inspect` never prints one.

use edgeseg_snapshots::{BuildOptions, build_files, inspect, sample};
use edgeseg_tests::scratch;
use std::collections::HashSet;

/// How many distinct `ids` occur anywhere in `haystack` (all ids have the same length).
fn occurrences(haystack: &[u8], ids: &HashSet<Vec<u8>>, id_len: usize) -> usize {
    haystack.windows(id_len).filter(|w| ids.contains(*w)).map(<[u8]>::to_vec).collect::<HashSet<_>>().len()
}

#[test]
fn no_member_id_appears_in_the_snapshot_bytes_or_the_inspect_output() {
    let dir = scratch("privacy");
    let mut csv = Vec::new();
    sample::write_members(&mut csv, 5000, 42).unwrap();
    std::fs::write(dir.join("members.csv"), &csv).unwrap();
    std::fs::write(dir.join("demo.json"), sample::DEMO_DEFINITIONS).unwrap();

    let ids: HashSet<Vec<u8>> = String::from_utf8(csv.clone())
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().as_bytes().to_vec())
        .collect();
    assert_eq!(ids.len(), 5000);
    let id_len = ids.iter().next().unwrap().len();
    assert!(ids.iter().all(|id| id.len() == id_len), "sample ids have one length");
    // The scanner works: the member file itself is full of ids.
    assert_eq!(occurrences(&csv, &ids, id_len), 5000);

    let built = build_files(&dir.join("demo.json"), &dir.join("members.csv"), &BuildOptions::default()).unwrap();
    assert!(built.summary.segments.iter().any(|s| s.members > 0), "the demo must put members in segments");
    assert_eq!(occurrences(&built.bytes, &ids, id_len), 0, "a raw id is in the snapshot bytes");

    let inspection = inspect(&built.bytes).unwrap();
    let text = inspection.to_string();
    let json = serde_json::to_string(&inspection).unwrap();
    assert!(text.contains("premium"), "inspect should describe the segments:\n{text}");
    assert_eq!(occurrences(text.as_bytes(), &ids, id_len), 0, "inspect printed an id");
    assert_eq!(occurrences(json.as_bytes(), &ids, id_len), 0, "inspect --json printed an id");
}
