//! Verified identity through the real module (issue 19, finding 1): a forged id is anonymous, a
//! token the host cannot verify is anonymous and counted by reason, a valid one decides as its
//! customer. Tokens are signed here with real keys; the guest never sees a key or a secret.

use crate::support::{guest, payload};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use edgeseg::Request;
use edgeseg::snapshot::{IdentitySource, JwtAlg, JwtVerify, Verify};
use edgeseg_host::guest::Guest;
use edgeseg_host::identity::sign_hmac;
use serde_json::json;

/// 2025-11-21T04:40:00Z, the requests' clock.
const NOW_MS: u64 = 1_763_700_000_000;
const NOW_S: u64 = NOW_MS / 1000;
const SECRET_ENV: &str = "EDGESEG_IT_ID_SECRET";

fn ed_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn es_key() -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap()
}

fn jwt_verify(alg: JwtAlg, key: Vec<u8>) -> Verify {
    Verify::Jwt(JwtVerify {
        alg,
        key,
        claim: "sub".into(),
        issuer: Some("https://id.example".into()),
        audience: Some("shop".into()),
        leeway_s: 60,
    })
}

/// A guest serving the fixture, its identity sources replaced by `sources`.
fn guest_with_sources(sources: Vec<IdentitySource>) -> Guest {
    let mut p = payload(1);
    p.identity = sources;
    let mut g = guest();
    g.load_snapshot(&p.encode().unwrap()).unwrap();
    g
}

/// EdDSA bearer tokens in `authorization`, then an HMAC-signed `edgeseg_sid` cookie.
fn verified_guest() -> Guest {
    let mut g = guest_with_sources(vec![
        IdentitySource::VerifiedHeader(
            "authorization".into(),
            jwt_verify(JwtAlg::EdDSA, ed_key(1).verifying_key().to_bytes().to_vec()),
        ),
        IdentitySource::VerifiedCookie("edgeseg_sid".into(), Verify::Hmac { secret_env: SECRET_ENV.into() }),
    ]);
    g.identity_verifier().set_secret(SECRET_ENV, b"origin secret");
    g
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A compact JWT over `header` and `claims`, signed by `sign`.
fn jwt(header: serde_json::Value, claims: serde_json::Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let signing_input = format!("{}.{}", b64(&header), b64(&claims));
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sign(signing_input.as_bytes())))
}

fn eddsa(key: &ed25519_dalek::SigningKey, claims: serde_json::Value) -> String {
    jwt(json!({"alg": "EdDSA", "typ": "JWT"}), claims, |m| key.sign(m).to_bytes().to_vec())
}

fn claims(sub: &str) -> serde_json::Value {
    json!({"sub": sub, "iss": "https://id.example", "aud": "shop", "exp": NOW_S + 300, "iat": NOW_S})
}

fn decide(g: &mut Guest, headers: &[(&str, &str)]) -> (String, bool) {
    let req = Request {
        method: "GET",
        host: "shop.example",
        path: "/",
        headers: headers.to_vec(),
        now_ms: NOW_MS,
        ..Request::default()
    };
    let d = g.decide(&req).unwrap();
    (d.tier, d.identified)
}

fn refused(g: &mut Guest) -> Vec<(String, u64)> {
    g.identity_verifier().refused.iter().map(|(k, n)| ((*k).to_string(), *n)).collect()
}

#[test]
fn a_valid_eddsa_token_decides_as_its_customer() {
    let mut g = verified_guest();
    let token = format!("Bearer {}", eddsa(&ed_key(1), claims("u1")));
    assert_eq!(decide(&mut g, &[("authorization", &token)]), ("premium".into(), true));
    assert_eq!(g.identity_verifier().verified, 1);
    assert!(refused(&mut g).is_empty());
}

#[test]
fn forged_ids_and_bad_tokens_are_anonymous_and_counted_by_reason() {
    let mut g = verified_guest();
    let anonymous = ("free".to_string(), false);
    // The old bare claims name a premium member: no verified source reads them.
    assert_eq!(decide(&mut g, &[("x-customer-id", "u1"), ("cookie", "edgeseg_uid=u1")]), anonymous);
    let cases: Vec<(String, &str)> = vec![
        (eddsa(&ed_key(2), claims("u1")), "signature"),
        (jwt(json!({"alg": "none"}), claims("u1"), |_| Vec::new()), "alg"),
        (jwt(json!({"alg": "ES256"}), claims("u1"), |m| ed_key(1).sign(m).to_bytes().to_vec()), "alg"),
        (
            eddsa(&ed_key(1), json!({"sub": "u1", "iss": "https://id.example", "aud": "shop", "exp": NOW_S - 61})),
            "expired",
        ),
        (eddsa(&ed_key(1), json!({"sub": "u1", "iss": "https://id.example", "aud": "shop"})), "malformed"),
        (
            eddsa(
                &ed_key(1),
                json!({"sub": "u1", "iss": "https://id.example", "aud": "shop", "exp": NOW_S + 900, "nbf": NOW_S + 120}),
            ),
            "not_yet_valid",
        ),
        (
            eddsa(&ed_key(1), json!({"sub": "u1", "iss": "https://evil.example", "aud": "shop", "exp": NOW_S + 300})),
            "issuer",
        ),
        (
            eddsa(&ed_key(1), json!({"sub": "u1", "iss": "https://id.example", "aud": "admin", "exp": NOW_S + 300})),
            "audience",
        ),
        (
            eddsa(&ed_key(1), json!({"sub": 42, "iss": "https://id.example", "aud": "shop", "exp": NOW_S + 300})),
            "claim",
        ),
        ("not.a-jwt".into(), "malformed"),
        // A configured issuer or audience must be there at all.
        (eddsa(&ed_key(1), json!({"sub": "u1", "aud": "shop", "exp": NOW_S + 300})), "issuer"),
        (eddsa(&ed_key(1), json!({"sub": "u1", "iss": "https://id.example", "exp": NOW_S + 300})), "audience"),
    ];
    for (token, _) in &cases {
        assert_eq!(decide(&mut g, &[("authorization", token), ("x-customer-id", "u1")]), anonymous, "{token}");
    }
    // A valid token's payload swapped for another customer's: the signature no longer holds.
    let good = eddsa(&ed_key(1), claims("u3"));
    let parts: Vec<&str> = good.split('.').collect();
    let swapped = format!("{}.{}.{}", parts[0], b64(&claims("u1")), parts[2]);
    assert_eq!(decide(&mut g, &[("authorization", &swapped)]), anonymous);

    let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
    for (_, why) in &cases {
        *expected.entry((*why).to_string()).or_default() += 1;
    }
    *expected.entry("signature".into()).or_default() += 1;
    assert_eq!(refused(&mut g), expected.into_iter().collect::<Vec<_>>());
    assert_eq!(g.identity_verifier().verified, 0);
    // The engine saw tokens without a verified id, one per refused request.
    assert_eq!(g.stats().unwrap().identity_refused, cases.len() as u64 + 1);
}

#[test]
fn es256_tokens_verify_with_the_p256_point_from_the_snapshot() {
    let key = es_key();
    let point = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
    let mut g = guest_with_sources(vec![IdentitySource::VerifiedHeader(
        "authorization".into(),
        jwt_verify(JwtAlg::ES256, point),
    )]);
    let sign = |m: &[u8]| {
        let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&key, m);
        sig.to_bytes().to_vec()
    };
    let token = jwt(json!({"alg": "ES256"}), claims("u3"), sign);
    assert_eq!(decide(&mut g, &[("authorization", &token)]), ("plus".into(), true));
    // EdDSA-signed under an ES256 source: refused for its alg.
    assert_eq!(decide(&mut g, &[("authorization", &eddsa(&ed_key(1), claims("u3")))]), ("free".into(), false));
    assert_eq!(refused(&mut g), vec![("alg".to_string(), 1)]);
}

#[test]
fn hmac_cookies_verify_with_the_hosts_secret_only() {
    let mut g = verified_guest();
    let good = sign_hmac("u2", NOW_S + 600, b"origin secret");
    assert_eq!(decide(&mut g, &[("cookie", &format!("edgeseg_sid={good}"))]), ("premium".into(), true));
    let tampered = good.replacen("u2", "u1", 1);
    let expired = sign_hmac("u2", NOW_S - 1, b"origin secret");
    let other_secret = sign_hmac("u1", NOW_S + 600, b"guessed");
    for v in [&tampered, &expired, &other_secret, &"u1".to_string()] {
        assert_eq!(decide(&mut g, &[("cookie", &format!("edgeseg_sid={v}"))]), ("free".into(), false), "{v}");
    }
    assert_eq!(
        refused(&mut g),
        vec![("expired".to_string(), 1), ("malformed".to_string(), 1), ("signature".to_string(), 2)]
    );
    // A host without the secret verifies nothing: anonymous, counted as `no_secret`.
    let mut bare = guest_with_sources(vec![IdentitySource::VerifiedCookie(
        "edgeseg_sid".into(),
        Verify::Hmac { secret_env: "EDGESEG_IT_UNSET_SECRET".into() },
    )]);
    assert_eq!(decide(&mut bare, &[("cookie", &format!("edgeseg_sid={good}"))]), ("free".into(), false));
    assert_eq!(refused(&mut bare), vec![("no_secret".to_string(), 1)]);
}

#[test]
fn a_host_that_does_not_verify_gets_anonymous_decisions() {
    // The request's own verified_id is what the host vouches for; a raw-ABI host that skips the
    // claim step and sends none gets the token's request decided anonymous, and counted.
    let mut g = verified_guest();
    let token = eddsa(&ed_key(1), claims("u1"));
    let req = Request { headers: vec![("authorization", token.as_str())], now_ms: NOW_MS, ..Request::default() };
    let raw = g.decide_raw(&postcard::to_stdvec(&req).unwrap()).unwrap();
    let d: Result<edgeseg::Decision<'_>, edgeseg::abi::AbiError> = postcard::from_bytes(&raw).unwrap();
    let d = d.unwrap();
    assert_eq!((d.tier, d.identified), ("free", false));
    assert_eq!(g.stats().unwrap().identity_refused, 1);
}
