//! Identity sources of the definitions, checked and compiled to the snapshot's form: a JWK becomes
//! the raw public key the hosts import (Ed25519's 32 bytes, P-256's uncompressed point), an HMAC
//! source keeps only the name of the host variable holding its secret.

use crate::definitions::{
    DEFAULT_JWT_LEEWAY_S, HmacDef, IdentityDef, JwkDef, JwtDef, MAX_JWT_LEEWAY_S, TrustDef, VerifyDef,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edgeseg::snapshot::{IdentitySource, JwtAlg, JwtVerify, Verify};

/// A field (relative to the source, `""` for the source itself) and what is wrong with it.
pub type Refusal = (String, String);

/// Checks one identity source and compiles it.
pub fn compile(def: &IdentityDef) -> Result<IdentitySource, Refusal> {
    let refuse = |field: &str, why: &str| Err((field.to_string(), why.to_string()));
    let (name, cookie) = match (&def.cookie, &def.header) {
        (Some(n), None) => (n, true),
        (None, Some(n)) => (n, false),
        _ => return refuse("", "name exactly one of \"cookie\" and \"header\""),
    };
    if name.is_empty() || name.len() > 256 {
        return refuse(if cookie { "cookie" } else { "header" }, "name must be 1 to 256 bytes");
    }
    let verify = match (&def.verify, def.trust) {
        (Some(_), Some(_)) => return refuse("trust", "a verified source cannot also be \"unverified\""),
        (None, None) => {
            return refuse(
                "",
                "an identity source needs \"verify\" (a JWT or an HMAC-signed value the host checks) or the explicit \
                 opt-out \"trust\": \"unverified\" (a bare claim anyone can send: only behind an origin that \
                 authenticates and overwrites it; see SECURITY.md)",
            );
        }
        (None, Some(TrustDef::Unverified)) => None,
        (Some(VerifyDef::Jwt(j)), None) => Some(Verify::Jwt(jwt(j)?)),
        (Some(VerifyDef::Hmac(HmacDef { secret_env })), None) => {
            let ok = !secret_env.is_empty()
                && secret_env.len() <= 128
                && secret_env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return refuse("verify.hmac.secret_env", "must be 1 to 128 of [A-Za-z0-9_]");
            }
            Some(Verify::Hmac { secret_env: secret_env.clone() })
        }
    };
    Ok(match (verify, cookie) {
        (None, true) => IdentitySource::Cookie(name.clone()),
        (None, false) => IdentitySource::Header(name.clone()),
        (Some(v), true) => IdentitySource::VerifiedCookie(name.clone(), v),
        (Some(v), false) => IdentitySource::VerifiedHeader(name.clone(), v),
    })
}

fn jwt(j: &JwtDef) -> Result<JwtVerify, Refusal> {
    let refuse = |field: &str, why: String| Err((format!("verify.jwt.{field}"), why));
    let alg = match j.alg.as_str() {
        "EdDSA" => JwtAlg::EdDSA,
        "ES256" => JwtAlg::ES256,
        other => {
            return refuse(
                "alg",
                format!(
                    "{other:?} is not accepted: EdDSA or ES256 (a key in a snapshot is public, so no HS*; no none)"
                ),
            );
        }
    };
    let key = jwk(&j.key, alg).map_err(|why| ("verify.jwt.key".to_string(), why))?;
    let claim = j.claim.clone().unwrap_or_else(|| "sub".into());
    if claim.is_empty() || claim.len() > 256 {
        return refuse("claim", "must be 1 to 256 bytes".into());
    }
    let leeway_s = j.leeway_s.unwrap_or(DEFAULT_JWT_LEEWAY_S);
    if leeway_s > MAX_JWT_LEEWAY_S {
        return refuse("leeway_s", format!("{leeway_s} s is over the {MAX_JWT_LEEWAY_S} s allowed"));
    }
    for (field, v) in [("issuer", &j.issuer), ("audience", &j.audience)] {
        if v.as_ref().is_some_and(|v| v.is_empty() || v.len() > 1024) {
            return refuse(field, "must be 1 to 1024 bytes".into());
        }
    }
    Ok(JwtVerify { alg, key, claim, issuer: j.issuer.clone(), audience: j.audience.clone(), leeway_s })
}

/// The raw public key of a JWK for `alg`.
fn jwk(k: &JwkDef, alg: JwtAlg) -> Result<Vec<u8>, String> {
    if k.d.is_some() {
        return Err("is a private key (it has \"d\"): put only the public JWK in definitions".into());
    }
    let coord = |name: &str, v: &str| {
        URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).map_err(|e| format!("\"{name}\" is not base64url: {e}"))
    };
    match (alg, k.kty.as_str(), k.crv.as_str()) {
        (JwtAlg::EdDSA, "OKP", "Ed25519") => {
            let x = coord("x", &k.x)?;
            let bytes: [u8; 32] = x.as_slice().try_into().map_err(|_| format!("\"x\" is {} bytes, not 32", x.len()))?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| "\"x\" is not an Ed25519 point".to_string())?;
            Ok(x)
        }
        (JwtAlg::ES256, "EC", "P-256") => {
            let x = coord("x", &k.x)?;
            let y = coord("y", k.y.as_deref().ok_or("a P-256 key needs \"y\"")?)?;
            if x.len() != 32 || y.len() != 32 {
                return Err(format!("\"x\" and \"y\" must be 32 bytes each (got {} and {})", x.len(), y.len()));
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok(point)
        }
        (_, kty, crv) => Err(format!("a {kty}/{crv} key cannot verify {}", alg.name())),
    }
}
