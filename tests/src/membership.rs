//! Snapshots with many members, for the membership tests and benches: built by the real builder
//! from generated members (no member file), one segment per requested encoding.

use edgeseg_snapshots::{BuildOptions, Built, Definitions, ExactForm, Member, build};

/// The id of synthetic member `i` (the same scheme in every helper here).
pub fn member_id(i: u64) -> String {
    format!("m{i:010}")
}

/// `count` members, every one consenting to `audience` when `consent`, else to nothing.
pub fn members(count: u64, consent: bool) -> impl Iterator<Item = Result<Member, edgeseg_snapshots::BuildError>> {
    (0..count).map(move |i| {
        let consents = if consent { vec!["audience".into()] } else { vec![] };
        Ok(Member { id: member_id(i), consents, segments: vec![], tcf: None, attributes: vec![], line: None })
    })
}

/// Definitions with one segment per `(name, members JSON fields)` holding every member, e.g.
/// `("audience", r#""encoding": "fuse", "fp_bits": 8"#)`; `"all": true` is added. Segments serve
/// the `audience` purpose, which needs consent (so the snapshot also carries an exact consent set
/// of every member), or with `consent` false `contract`, which needs none.
pub fn definitions(segments: &[(&str, &str)], consent: bool) -> Definitions {
    let purpose = if consent { "audience" } else { "contract" };
    let segs: Vec<String> = segments
        .iter()
        .map(|(name, enc)| {
            let enc = enc.trim().trim_start_matches('{').trim_end_matches('}');
            let sep = if enc.trim().is_empty() { "" } else { ", " };
            format!(r#"{{"name": "{name}", "purpose": "{purpose}", "members": {{"all": true{sep}{enc}}}}}"#)
        })
        .collect();
    let json = format!(
        r#"{{"id": "scale", "identity": [{{"header": "x-customer-id", "trust": "unverified"}}], "purposes": ["contract", "audience"],
            "tiers": ["all"], "segments": [{}]}}"#,
        segs.join(", ")
    );
    match Definitions::from_json(&json) {
        Ok(d) => d,
        Err(e) => panic!("synthetic definitions: {e}"),
    }
}

/// Builds a snapshot of `count` members with [`definitions`]`(segments, consent)`. Seeded, so the
/// fingerprint key is the same for every call with the same `seed`.
pub fn snapshot(count: u64, segments: &[(&str, &str)], consent: bool, exact_form: ExactForm, seed: u64) -> Built {
    let opts =
        BuildOptions { seed: Some(seed), created_ms: Some(1_763_700_000_000), exact_form, ..BuildOptions::default() };
    match build(&definitions(segments, consent), members(count, consent), &opts) {
        Ok(b) => b,
        Err(e) => panic!("synthetic build of {count} members: {e}"),
    }
}
