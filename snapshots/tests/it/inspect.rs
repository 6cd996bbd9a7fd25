//! Inspect: everything a person needs, nothing that identifies anyone.

use crate::{demo_build, seeded};
use edgeseg::ErrorKind;
use edgeseg_snapshots::inspect;

#[test]
fn describes_header_times_identity_purposes_tiers_and_segments() {
    let built = demo_build(2000, 8, &seeded(8));
    let i = inspect(&built.bytes).unwrap();
    assert_eq!(i.total_bytes, built.bytes.len());
    assert_eq!(i.header.format_version, 2);
    assert_eq!(i.header.payload_len as usize, built.bytes.len() - 20);
    assert!(i.header.checksum.starts_with("0x") && i.header.checksum.len() == 10, "{}", i.header.checksum);
    assert_eq!((i.snapshot_id.as_str(), i.version), ("demo", 1));
    assert_eq!(i.created, "2025-11-21T04:40:00.000Z");
    assert_eq!(i.expires.as_deref(), Some("2025-11-22T04:40:00.000Z"));
    assert_eq!(
        i.identity.iter().map(|s| (s.source.as_str(), s.name.as_str())).collect::<Vec<_>>(),
        [("cookie", "edgeseg_uid"), ("header", "x-customer-id")]
    );
    assert_eq!(i.tiers, ["premium", "standard", "free"]);
    assert_eq!(i.default_tier, "free");
    let names: Vec<&str> = i.segments.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "premium",
            "standard",
            "high-value",
            "high-value-checkout",
            "churn-risk",
            "de-mobile",
            "checkout-visitors",
            "private-pages"
        ]
    );
    // Consent signals and actions, as the demo definitions configure them.
    assert_eq!(i.consent_sources.tcf_cookie.as_deref(), Some("euconsent-v2"));
    assert_eq!(i.consent_sources.cookie.as_deref(), Some("site_consent"));
    let marketing = i.purposes.iter().find(|p| p.name == "marketing").unwrap();
    assert_eq!((marketing.gpc, marketing.tcf_purposes.as_slice()), (true, &[1u8, 3, 4, 7][..]));
    let owners: Vec<&str> = i.actions.iter().map(|a| a.owner.as_str()).collect();
    assert_eq!(owners, ["tier:premium", "tier:standard", "tier:free", "segment:private-pages"]);
    let free = &i.actions[2];
    assert_eq!(free.throttle.as_deref(), Some("2/1000ms burst 10 per user, reject"));
    assert_eq!(free.route.as_deref(), Some("shared-pool/standard"));
    assert_eq!(i.actions[0].throttle, None);
    assert_eq!(i.throttle_keys, 65_536);
    let contract = &i.purposes[0];
    assert_eq!((contract.requires_consent, contract.consented), (false, None));
    let personalisation = &i.purposes[1];
    assert!(personalisation.requires_consent && personalisation.consented.is_some_and(|n| n > 1000));
    for (s, b) in i.segments.iter().zip(&built.summary.segments) {
        assert_eq!((s.members, s.membership_bytes, s.rule_nodes), (b.members, b.bytes, b.rule_nodes), "{}", s.name);
        assert_eq!(s.encoding, b.encoding);
    }
    // Compact exact: never over format 1's 64 bits a member (a small set stays plain).
    assert!(i.segments[0].bits_per_member.is_some_and(|b| (40.0..=64.0).contains(&b)), "{:?}", i.segments[0]);

    let text = i.to_string();
    for needle in [
        "snapshot demo version 1",
        "crc32c 0x",
        "2025-11-21T04:40:00.000Z",
        "cookie edgeseg_uid (unverified), then header x-customer-id (unverified)",
        "premium > standard > free (default free)",
        "churn-risk",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(!text.contains("u0000"), "an id in:\n{text}");
    let json = serde_json::to_value(&i).unwrap();
    assert!(!json.to_string().contains("u0000"), "{json}");
    // No field carries the fingerprint key.
    fn fields(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => m.iter().for_each(|(k, v)| {
                out.push(k.clone());
                fields(v, out);
            }),
            serde_json::Value::Array(a) => a.iter().for_each(|v| fields(v, out)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    fields(&json, &mut names);
    assert!(names.iter().all(|n| n != "key" && !n.contains("fingerprint")), "{names:?}");
    for needle in [
        "signals   TCF cookie euconsent-v2, consent cookie site_consent, Sec-GPC",
        "tier:free",
        "route    shared-pool/standard",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}

#[test]
fn broken_bytes_fail_with_the_edge_error() {
    let built = demo_build(100, 8, &seeded(8));
    let mut bytes = built.bytes.clone();
    *bytes.last_mut().unwrap() ^= 1;
    assert_eq!(inspect(&bytes).unwrap_err().kind(), ErrorKind::ChecksumMismatch);
    assert_eq!(inspect(&bytes[..10]).unwrap_err().kind(), ErrorKind::Truncated);
    assert_eq!(inspect(b"not a snapshot at all, no").unwrap_err().kind(), ErrorKind::BadMagic);
}
