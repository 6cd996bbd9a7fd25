//! The hand-made fixture snapshot: five segments small enough to work out every expected number
//! on paper. The host's integration tests, the fuzz targets and the synthetic replay example all
//! build it from here (with their own member sets), so the three can never drift apart.
//!
//! | segment    | prec | tier    | purpose         | membership          | rule                                   |
//! |------------|------|---------|-----------------|---------------------|----------------------------------------|
//! | vip        | 100  | premium | contract        | exact [`Fixture::vip`]  | —                                  |
//! | plus       | 50   | plus    | contract        | exact [`Fixture::plus`] | —                                  |
//! | mobile-de  | 10   | —       | personalisation | —                   | country == "DE" and device == "mobile" |
//! | audience   | 8    | —       | personalisation | bloom [`Fixture::audience`] | —                              |
//! | checkout   | 5    | —       | contract        | —                   | "/checkout" in path                    |
//!
//! Tiers premium > plus > free (default). Identity: cookie `edgeseg_uid`, then header
//! `x-customer-id`. Personalisation needs consent: members of [`Fixture::consented`].
//!
//! Unlike [`crate::build()`], nothing here filters by consent: a fixture may put a member in a
//! personalisation segment without consent on purpose, so tests can see the edge refuse it.

use edgeseg::Error;
use edgeseg::fingerprint::FingerprintKey;
use edgeseg::membership::MembershipData;
use edgeseg::rule::{CompareOp, Literal, Node, Rule, Slot};
use edgeseg::snapshot::{IdentitySource, PayloadExt, Purpose, Segment, SnapshotPayload, Tier};

/// The fingerprint key of [`Fixture::small`].
pub const KEY: FingerprintKey = FingerprintKey(*b"0123456789abcdef");

/// Bloom seed of the audience segment (fixed, so a fixture's bytes are reproducible).
const SEED: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    31,
];

/// The fixture's identity, key and member sets (fingerprints under [`Fixture::key`]).
#[derive(Clone, Debug)]
pub struct Fixture {
    pub id: String,
    pub version: u64,
    pub key: FingerprintKey,
    pub vip: Vec<u64>,
    pub plus: Vec<u64>,
    /// Members who consented to personalisation.
    pub consented: Vec<u64>,
    pub audience: Vec<u64>,
    /// The audience bloom filter's false-positive rate.
    pub audience_fp_rate: f64,
    /// Everything after the core sections (throttles, limits, …); default: none.
    pub ext: PayloadExt,
}

impl Fixture {
    /// The paper-sized fixture: vip {u1, u2}, plus {u3, u4}, consent {u1, u2, u3}, audience
    /// (bloom, 0.1%) {u1, u3}, id `fixture`.
    pub fn small(version: u64) -> Fixture {
        let ids = |ids: &[&str]| ids.iter().map(|id| KEY.fingerprint(id)).collect();
        Fixture {
            id: "fixture".into(),
            version,
            key: KEY,
            vip: ids(&["u1", "u2"]),
            plus: ids(&["u3", "u4"]),
            consented: ids(&["u1", "u2", "u3"]),
            audience: ids(&["u1", "u3"]),
            audience_fp_rate: 0.001,
            ext: PayloadExt::default(),
        }
    }

    /// The payload (exact sets in their plain form, as the host tests have always used).
    pub fn payload(&self) -> Result<SnapshotPayload, Error> {
        let mut mobile = Vec::new();
        let a = compare(&mut mobile, Slot::Country, CompareOp::StrictEq, "DE");
        let b = compare(&mut mobile, Slot::Attribute("device".into()), CompareOp::Eq, "mobile");
        mobile.push(Node::And(vec![a, b]));
        let checkout = vec![
            Node::Literal(Literal::String("/checkout".into())),
            Node::Var { slot: Slot::Path, default: None },
            Node::In { needle: 0, haystack: 1 },
        ];
        let segment = |name: &str, precedence, tier, purpose, rule: Option<Vec<Node>>, members: &[u64], exact| {
            let membership = match (members.is_empty(), exact) {
                (true, _) => None,
                (false, true) => Some(MembershipData::exact(members.to_vec())),
                (false, false) => Some(MembershipData::bloom(members, self.audience_fp_rate, &SEED)?),
            };
            Ok::<_, Error>(Segment {
                name: name.into(),
                tier,
                purpose,
                precedence,
                rule: rule.map(|nodes| Rule { nodes }),
                members: members.len() as u64,
                membership,
            })
        };
        Ok(SnapshotPayload {
            id: self.id.clone(),
            version: self.version,
            created_ms: 1_763_700_000_000,
            expires_ms: None,
            fingerprint_key: self.key,
            identity: vec![
                IdentitySource::Cookie("edgeseg_uid".into()),
                IdentitySource::Header("x-customer-id".into()),
            ],
            purposes: vec![
                Purpose { name: "contract".into(), requires_consent: false, consented: None },
                Purpose {
                    name: "personalisation".into(),
                    requires_consent: true,
                    consented: Some(MembershipData::exact(self.consented.clone())),
                },
            ],
            tiers: vec![Tier { name: "premium".into() }, Tier { name: "plus".into() }, Tier { name: "free".into() }],
            default_tier: 2,
            segments: vec![
                segment("vip", 100, Some(0), 0, None, &self.vip, true)?,
                segment("plus", 50, Some(1), 0, None, &self.plus, true)?,
                segment("mobile-de", 10, None, 1, Some(mobile), &[], true)?,
                segment("audience", 8, None, 1, None, &self.audience, false)?,
                segment("checkout", 5, None, 0, Some(checkout), &[], true)?,
            ],
            ext: self.ext.clone(),
        })
    }

    /// The snapshot bytes.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        self.payload()?.encode()
    }
}

/// Nodes for `<slot> <op> <string literal>`, appended to `nodes`; returns the new node's index.
fn compare(nodes: &mut Vec<Node>, slot: Slot, op: CompareOp, value: &str) -> u32 {
    nodes.push(Node::Var { slot, default: None });
    nodes.push(Node::Literal(Literal::String(value.into())));
    let n = nodes.len() as u32;
    nodes.push(Node::Compare { op, args: vec![n - 2, n - 1] });
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeseg::{Engine, Request};

    /// The table in the module doc, decided by the real engine.
    #[test]
    fn small_fixture_decides_as_documented() {
        let mut engine = Engine::load(&Fixture::small(3).encode().unwrap()).unwrap();
        let mut decide = |headers: Vec<(&'static str, &'static str)>, path: &'static str| {
            let req = Request {
                method: "GET",
                host: "shop.example",
                path,
                headers,
                country: Some("DE"),
                now_ms: 1_763_719_200_000,
                attributes: vec![("device", edgeseg::AttrValue::String("mobile"))],
                verified_id: None,
                ..Request::default()
            };
            let d = engine.decide(&req);
            (d.tier.to_owned(), d.segments.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        // u1: vip (premium), consented, so mobile-de and audience too.
        let (tier, segs) = decide(vec![("cookie", "edgeseg_uid=u1")], "/checkout/x");
        assert_eq!(tier, "premium");
        assert_eq!(segs, ["vip", "mobile-de", "audience", "checkout"]);
        // u4: plus, no consent: no personalisation segment.
        let (tier, segs) = decide(vec![("x-customer-id", "u4")], "/");
        assert_eq!(tier, "plus");
        assert_eq!(segs, ["plus"]);
    }
}
