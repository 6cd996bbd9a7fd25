//! Snapshot signatures: Ed25519 over a container's header and payload (`edge/src/format.rs`,
//! flag [`edgeseg::format::FLAG_SIGNED`]).
//!
//! The builder signs with a secret key kept by whoever publishes snapshots; every host that loads
//! them holds only the public key and verifies with `verify_strict` (no malleable or small-order
//! edge cases accepted) before the module sees a byte. Keys are files of 64 hex digits.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use edgeseg::ErrorKind;
use edgeseg::format::{SIGNATURE_LEN, sign_with, signed_parts};
use std::fmt;

/// The public key type hosts configure.
pub type PublicKey = VerifyingKey;

/// Why a container does not verify; [`VerifyError::kind`] is the error kind hosts report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The container itself is bad (truncated, checksum…): the load would refuse it anyway.
    Container(edgeseg::Error),
    /// A key is configured and the snapshot carries no signature.
    Unsigned,
    /// The signature does not verify under the configured key.
    BadSignature(String),
}

impl VerifyError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            VerifyError::Container(e) => e.kind(),
            VerifyError::Unsigned | VerifyError::BadSignature(_) => ErrorKind::Signature,
        }
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Container(e) => write!(f, "{e}"),
            VerifyError::Unsigned => f.write_str("the snapshot is not signed and a public key is configured"),
            VerifyError::BadSignature(why) => {
                write!(f, "the signature does not verify under the configured key: {why}")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

/// A bad key file or key text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// A new signing key from the OS's random source.
pub fn generate() -> Result<SigningKey, KeyError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| KeyError(format!("no randomness for a key: {e}")))?;
    Ok(SigningKey::from_bytes(&secret))
}

/// Lower-case hex, the key file format.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex32(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError(format!("{what}: expected 64 hex digits, got {} characters", text.chars().count())));
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = text.get(2 * i..2 * i + 2).unwrap_or("00");
        *byte = u8::from_str_radix(pair, 16).map_err(|e| KeyError(format!("{what}: {e}")))?;
    }
    Ok(out)
}

/// A signing (secret) key from its hex text.
pub fn signing_key(text: &str) -> Result<SigningKey, KeyError> {
    from_hex32(text, "signing key").map(|b| SigningKey::from_bytes(&b))
}

/// A public key from its hex text (refused if it is not a valid curve point).
pub fn verifying_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = from_hex32(text, "public key")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError(format!("public key: {e}")))
}

/// Signs an unsigned snapshot container.
pub fn sign(container: &[u8], key: &SigningKey) -> Result<Vec<u8>, edgeseg::Error> {
    sign_with(container, |message| key.sign(message).to_bytes())
}

/// Checks `container`'s signature under `key` (strict verification).
pub fn verify(container: &[u8], key: &VerifyingKey) -> Result<(), VerifyError> {
    let (message, signature) = signed_parts(container).map_err(VerifyError::Container)?.ok_or(VerifyError::Unsigned)?;
    let bytes: [u8; SIGNATURE_LEN] =
        signature.try_into().map_err(|_| VerifyError::BadSignature("not 64 bytes".into()))?;
    key.verify_strict(message, &Signature::from_bytes(&bytes)).map_err(|e| VerifyError::BadSignature(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> Vec<u8> {
        edgeseg::format::wrap(b"a payload").unwrap()
    }

    #[test]
    fn a_signed_container_verifies_under_its_key_only() {
        let key = generate().unwrap();
        let signed = sign(&container(), &key).unwrap();
        assert_eq!(verify(&signed, &key.verifying_key()), Ok(()));
        let other = generate().unwrap();
        assert_eq!(verify(&signed, &other.verifying_key()).unwrap_err().kind(), ErrorKind::Signature);
        assert_eq!(verify(&container(), &key.verifying_key()), Err(VerifyError::Unsigned));
        // A flipped signature bit; a flipped payload bit is caught by the checksum first.
        let mut bad = signed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(matches!(verify(&bad, &key.verifying_key()), Err(VerifyError::BadSignature(_))));
        let mut payload = signed.clone();
        payload[21] ^= 1;
        assert_eq!(verify(&payload, &key.verifying_key()).unwrap_err().kind(), ErrorKind::ChecksumMismatch);
        // Re-signing with the flag cleared is not possible without the key: the header is signed.
        let mut unflagged = signed.clone();
        unflagged[10] = 0;
        assert!(verify(&unflagged, &key.verifying_key()).is_err());
    }

    #[test]
    fn keys_round_trip_through_hex_and_bad_text_is_refused() {
        let key = generate().unwrap();
        let secret = to_hex(&key.to_bytes());
        let public = to_hex(key.verifying_key().as_bytes());
        assert_eq!(signing_key(&format!("{secret}\n")).unwrap().to_bytes(), key.to_bytes());
        assert_eq!(verifying_key(&public).unwrap(), key.verifying_key());
        assert!(verifying_key("abc").unwrap_err().0.contains("64 hex digits"));
        assert!(signing_key(&"zz".repeat(32)).is_err());
    }
}
