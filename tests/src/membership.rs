//! Snapshots with many members, for the membership tests and benches: built by the real builder
//! from generated members (no member file), one segment per requested encoding.

use edgeseg_snapshots::{BuildOptions, Built, Definitions, ExactForm, Member, build};

/// The id of synthetic member `i` (the same scheme in every helper here).
pub fn member_id(i: u64) -> String {
    format!("m{i:010}")
}

/// `count` members, every one consenting to `audience`.
pub fn members(count: u64) -> impl Iterator<Item = Result<Member, edgeseg_snapshots::BuildError>> {
    (0..count).map(|i| {
        Ok(Member { id: member_id(i), consents: vec!["audience".into()], tcf: None, attributes: vec![], line: None })
    })
}

/// Definitions with one segment holding every member, encoded as `members_json` says (e.g.
/// `{"encoding": "fuse", "fp_bits": 8}`); `"all": true` is added.
pub fn definitions(segments: &[(&str, &str)]) -> Definitions {
    let segs: Vec<String> = segments
        .iter()
        .map(|(name, enc)| {
            let enc = enc.trim().trim_start_matches('{').trim_end_matches('}');
            let sep = if enc.trim().is_empty() { "" } else { ", " };
            format!(r#"{{"name": "{name}", "purpose": "audience", "members": {{"all": true{sep}{enc}}}}}"#)
        })
        .collect();
    let json = format!(
        r#"{{"id": "scale", "identity": [{{"header": "x-customer-id"}}], "purposes": ["contract", "audience"],
            "tiers": ["all"], "segments": [{}]}}"#,
        segs.join(", ")
    );
    match Definitions::from_json(&json) {
        Ok(d) => d,
        Err(e) => panic!("synthetic definitions: {e}"),
    }
}

/// Builds a snapshot of `count` members with one segment per `(name, members-encoding JSON)`.
/// Seeded, so the fingerprint key is the same for every call with the same `seed`.
pub fn snapshot(count: u64, segments: &[(&str, &str)], exact_form: ExactForm, seed: u64) -> Built {
    let opts =
        BuildOptions { seed: Some(seed), created_ms: Some(1_763_700_000_000), exact_form, ..BuildOptions::default() };
    match build(&definitions(segments), members(count), &opts) {
        Ok(b) => b,
        Err(e) => panic!("synthetic build of {count} members: {e}"),
    }
}
