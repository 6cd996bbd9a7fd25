//! Inspect: everything a person needs, nothing that identifies anyone.

use crate::{demo_build, seeded};
use edgeseg::ErrorKind;
use edgeseg_snapshots::inspect;

#[test]
fn describes_header_times_identity_purposes_tiers_and_segments() {
    let built = demo_build(2000, 8, &seeded(8));
    let i = inspect(&built.bytes).unwrap();
    assert_eq!(i.total_bytes, built.bytes.len());
    assert_eq!(i.header.format_version, 1);
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
        ["premium", "standard", "high-value", "high-value-checkout", "churn-risk", "de-mobile", "checkout-visitors"]
    );
    let contract = &i.purposes[0];
    assert_eq!((contract.requires_consent, contract.consented), (false, None));
    let personalisation = &i.purposes[1];
    assert!(personalisation.requires_consent && personalisation.consented.is_some_and(|n| n > 1000));
    for (s, b) in i.segments.iter().zip(&built.summary.segments) {
        assert_eq!((s.members, s.membership_bytes, s.rule_nodes), (b.members, b.bytes, b.rule_nodes), "{}", s.name);
        assert_eq!(s.encoding, b.encoding);
    }
    assert_eq!(i.segments[0].bits_per_member, Some(64.0));

    let text = i.to_string();
    for needle in [
        "snapshot demo version 1",
        "crc32c 0x",
        "2025-11-21T04:40:00.000Z",
        "cookie edgeseg_uid, then header x-customer-id",
        "premium > standard > free (default free)",
        "churn-risk",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
    assert!(!text.contains("u0000"), "an id in:\n{text}");
    let json = serde_json::to_string(&i).unwrap();
    assert!(!json.contains("u0000") && !json.contains("key"), "{json}");
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
