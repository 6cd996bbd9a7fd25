//! Where a snapshot says the customer id of a request is found, and how a token is verified.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Where the customer id of a request is found ([`crate::identity`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentitySource {
    /// A request header (name matched case-insensitively) whose value is the id: a bare claim,
    /// for origins that authenticate upstream (`"trust": "unverified"`).
    Header(String),
    /// A cookie (name matched exactly) whose value is the id: a bare claim, as `Header`.
    Cookie(String),
    /// A header carrying a token the host verifies (`Authorization: Bearer <JWT>`).
    VerifiedHeader(String, Verify),
    /// A cookie carrying a token the host verifies.
    VerifiedCookie(String, Verify),
}

impl IdentitySource {
    /// The header or cookie name.
    pub fn name(&self) -> &str {
        match self {
            IdentitySource::Header(n)
            | IdentitySource::Cookie(n)
            | IdentitySource::VerifiedHeader(n, _)
            | IdentitySource::VerifiedCookie(n, _) => n,
        }
    }

    /// How its token is verified (`None`: a bare claim).
    pub fn verify(&self) -> Option<&Verify> {
        match self {
            IdentitySource::Header(_) | IdentitySource::Cookie(_) => None,
            IdentitySource::VerifiedHeader(_, v) | IdentitySource::VerifiedCookie(_, v) => Some(v),
        }
    }
}

/// How a host verifies an identity token before the engine takes its id. Only public material is
/// here: an HMAC secret stays in the host's environment, named by `secret_env`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verify {
    /// A compact JWS/JWT (a `Bearer ` prefix is dropped) signed by `key`.
    Jwt(JwtVerify),
    /// `<id>.<expiry, Unix seconds>.<base64url HMAC-SHA256(secret, "<id>.<expiry>")>`, the secret
    /// read from the host's environment variable `secret_env`.
    Hmac { secret_env: String },
}

/// A JWT's verification: algorithm, public key, and the claims checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtVerify {
    pub alg: JwtAlg,
    /// The raw public key: 32 bytes for EdDSA (Ed25519), the 65-byte uncompressed SEC1 point
    /// for ES256 (P-256). The token's `alg` header must name `alg` exactly.
    pub key: Vec<u8>,
    /// The claim holding the id (`sub` by default): a string.
    pub claim: String,
    /// `iss` must equal this, when set.
    pub issuer: Option<String>,
    /// `aud` must be (or contain) this, when set.
    pub audience: Option<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf` (`exp` is required).
    pub leeway_s: u32,
}

/// The JWT signature algorithms a verified identity may use (no `none`, no HMAC JWTs: a key in
/// the snapshot is public).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwtAlg {
    EdDSA,
    ES256,
}

impl JwtAlg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlg::EdDSA => "EdDSA",
            JwtAlg::ES256 => "ES256",
        }
    }

    /// Length of its raw public key.
    pub fn key_len(self) -> usize {
        match self {
            JwtAlg::EdDSA => 32,
            JwtAlg::ES256 => 65,
        }
    }
}
