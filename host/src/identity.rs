//! Verified identity in the wasmtime host: the token a snapshot's verified identity source names
//! is checked here, natively, and only the id it proves reaches the guest
//! (`Request::verified_id`). The module links no curve code; the Worker does the same with
//! WebCrypto (`js/identity.js`), with the same rules and the same refusal reasons.
//!
//! * **JWT** (`jsonwebtoken`): the header's `alg` must be the source's exactly (no `none`, no
//!   HMAC JWTs), the signature must verify under the snapshot's public key, `iss`/`aud` must
//!   match when the source names them. `exp` is required and, with `nbf`, is checked here against
//!   the *request's* time (replays of old traffic stay deterministic), with the source's leeway.
//! * **HMAC** (`hmac`): `<id>.<exp>.<base64url HMAC-SHA256(secret, "<id>.<exp>")>`, split at the
//!   last two dots; the secret comes from the host ([`Verifier::set_secret`], else the process
//!   environment variable the source names) and never from the snapshot.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edgeseg::MAX_ID_LEN;
use edgeseg::snapshot::{JwtAlg, JwtVerify, Verify};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::errors::ErrorKind as JwtError;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::BTreeMap;

/// Why a token proved no id. The names are the report's and the Worker's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Refusal {
    /// Not a JWT / not `<id>.<exp>.<mac>`: bad base64, JSON or shape, `exp` missing.
    Malformed,
    /// The JWT's `alg` is not the source's.
    Alg,
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    /// The id claim is missing, not a string, empty or over 512 bytes.
    Claim,
    /// No secret for an HMAC source in this host.
    NoSecret,
}

impl Refusal {
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::Alg => "alg",
            Refusal::Signature => "signature",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::Issuer => "issuer",
            Refusal::Audience => "audience",
            Refusal::Claim => "claim",
            Refusal::NoSecret => "no_secret",
        }
    }
}

/// Verifies identity tokens and counts what it saw.
#[derive(Debug, Default)]
pub struct Verifier {
    secrets: BTreeMap<String, Vec<u8>>,
    /// Tokens that proved an id.
    pub verified: u64,
    /// Tokens refused, by reason.
    pub refused: BTreeMap<&'static str, u64>,
}

impl Verifier {
    /// Sets the secret of HMAC sources naming `env` (instead of the process environment).
    pub fn set_secret(&mut self, env: &str, secret: &[u8]) {
        self.secrets.insert(env.to_string(), secret.to_vec());
    }

    /// The id `token` proves under `verify` at `now_ms`, counted either way.
    pub fn verify(&mut self, token: &str, verify: &Verify, now_ms: u64) -> Result<String, Refusal> {
        let result = match verify {
            Verify::Jwt(j) => jwt(token, j, now_ms),
            Verify::Hmac { secret_env } => match self.secret(secret_env) {
                Some(secret) => hmac_token(token, &secret, now_ms),
                None => Err(Refusal::NoSecret),
            },
        };
        match &result {
            Ok(_) => self.verified += 1,
            Err(r) => *self.refused.entry(r.name()).or_default() += 1,
        }
        result
    }

    fn secret(&self, env: &str) -> Option<Vec<u8>> {
        self.secrets
            .get(env)
            .cloned()
            .or_else(|| std::env::var_os(env).map(|v| v.into_encoded_bytes()))
            .filter(|s| !s.is_empty())
    }
}

fn check_id(id: &str) -> Result<String, Refusal> {
    if id.is_empty() || id.len() > MAX_ID_LEN { Err(Refusal::Claim) } else { Ok(id.to_string()) }
}

/// A JWT's id claim, after its signature, `alg`, `iss`, `aud`, `exp` and `nbf` are checked.
fn jwt(token: &str, j: &JwtVerify, now_ms: u64) -> Result<String, Refusal> {
    let token = strip_bearer(token);
    // The header's `alg` first, as the Worker reads it: any name but the source's (`none`
    // included, which the crate cannot even parse) is refused for its algorithm.
    let header = token.split('.').next().and_then(|h| URL_SAFE_NO_PAD.decode(h).ok());
    let header: serde_json::Value = header.and_then(|h| serde_json::from_slice(&h).ok()).ok_or(Refusal::Malformed)?;
    match header.get("alg").and_then(serde_json::Value::as_str) {
        None => return Err(Refusal::Malformed),
        Some(a) if a != j.alg.name() => return Err(Refusal::Alg),
        Some(_) => {}
    }
    let (alg, key) = match j.alg {
        JwtAlg::EdDSA => (Algorithm::EdDSA, DecodingKey::from_ed_der(&j.key)),
        JwtAlg::ES256 => (Algorithm::ES256, DecodingKey::from_ec_der(&j.key)),
    };
    let mut validation = Validation::new(alg);
    // Time is the request's, checked below: the crate would read the system clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    // A configured issuer or audience must be present, not just equal when present.
    if j.issuer.is_some() {
        validation.required_spec_claims.insert("iss".into());
    }
    if j.audience.is_some() {
        validation.required_spec_claims.insert("aud".into());
    }
    validation.validate_aud = j.audience.is_some();
    if let Some(aud) = &j.audience {
        validation.set_audience(&[aud]);
    }
    if let Some(iss) = &j.issuer {
        validation.set_issuer(&[iss]);
    }
    let data =
        jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation).map_err(|e| {
            match e.kind() {
                JwtError::InvalidSignature | JwtError::InvalidEcdsaKey | JwtError::InvalidEddsaKey => {
                    Refusal::Signature
                }
                JwtError::InvalidAlgorithm | JwtError::InvalidAlgorithmName | JwtError::UnsupportedAlgorithm => {
                    Refusal::Alg
                }
                JwtError::InvalidIssuer => Refusal::Issuer,
                JwtError::InvalidAudience => Refusal::Audience,
                JwtError::MissingRequiredClaim(c) if c == "iss" => Refusal::Issuer,
                JwtError::MissingRequiredClaim(c) if c == "aud" => Refusal::Audience,
                _ => Refusal::Malformed,
            }
        })?;
    let claims = data.claims;
    let now_s = now_ms / 1000;
    let leeway = u64::from(j.leeway_s);
    let exp = claims.get("exp").and_then(serde_json::Value::as_f64).ok_or(Refusal::Malformed)?;
    if (now_s as f64) > exp + leeway as f64 {
        return Err(Refusal::Expired);
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_f64().ok_or(Refusal::Malformed)?;
        if (now_s.saturating_add(leeway) as f64) < nbf {
            return Err(Refusal::NotYetValid);
        }
    }
    match claims.get(&j.claim) {
        Some(serde_json::Value::String(id)) => check_id(id),
        _ => Err(Refusal::Claim),
    }
}

/// `Bearer <token>` (any case) is the token.
fn strip_bearer(token: &str) -> &str {
    match token.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => token.get(7..).unwrap_or_default().trim_start(),
        _ => token,
    }
}

/// The id of an HMAC-signed `<id>.<exp>.<mac>` value.
fn hmac_token(token: &str, secret: &[u8], now_ms: u64) -> Result<String, Refusal> {
    let (signed, mac) = token.rsplit_once('.').ok_or(Refusal::Malformed)?;
    let (id, exp) = signed.rsplit_once('.').ok_or(Refusal::Malformed)?;
    if exp.is_empty() || exp.len() > 12 || !exp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::Malformed);
    }
    let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| Refusal::Malformed)?;
    let mut expected = Hmac::<sha2::Sha256>::new_from_slice(secret).map_err(|_| Refusal::NoSecret)?;
    expected.update(signed.as_bytes());
    // Constant time, as the crate compares.
    expected.verify_slice(&mac).map_err(|_| Refusal::Signature)?;
    let exp: u64 = exp.parse().map_err(|_| Refusal::Malformed)?;
    if now_ms / 1000 > exp {
        return Err(Refusal::Expired);
    }
    check_id(id)
}

/// Signs `<id>.<exp>` for an HMAC identity source: what an origin sets as the cookie value.
pub fn sign_hmac(id: &str, exp_s: u64, secret: &[u8]) -> String {
    let signed = format!("{id}.{exp_s}");
    let mac = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(signed.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac))
}
