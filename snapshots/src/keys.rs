//! Supplied fingerprint keys: `edgeseg keygen --fingerprint` writes one, `build
//! --fingerprint-key FILE` (and the Python package's builds) use it.
//!
//! A build normally draws a fresh 128-bit key, so no two builds' fingerprints can be linked. A
//! pipeline that builds one snapshot on many machines needs them all to fingerprint alike, and a
//! reproducible build needs the same key twice: for both, the key is a secret file (32 hex digits,
//! mode 0600) and the filter seeds derive from it. The head records it, as every snapshot does, and
//! names it by [`FingerprintKey::key_id`], which `inspect` shows and revocation deltas carry.
//!
//! Rotation: fingerprints under a new key share nothing with the old ones, so a new key means a
//! full rebuild of every shard and a new head; deltas made for the old key are refused by the new
//! snapshot (their key id differs). Anyone holding the key can test a guessed id against a
//! snapshot, exactly as anyone holding a snapshot can: keep it where the snapshots' own access
//! rules already apply.

use crate::error::{BuildError, BuildErrorKind};
use edgeseg::fingerprint::FingerprintKey;

/// A new fingerprint key from the OS's random source.
pub fn generate() -> Result<FingerprintKey, BuildError> {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key)
        .map_err(|e| BuildError::new(BuildErrorKind::Encode, format!("no randomness for a key: {e}")))?;
    Ok(FingerprintKey(key))
}

/// The key file's text: 32 lower-case hex digits and a newline.
pub fn to_text(key: &FingerprintKey) -> String {
    format!("{}\n", crate::sign::to_hex(&key.0))
}

/// A key from its file text (32 hex digits; surrounding whitespace ignored).
pub fn from_text(text: &str) -> Result<FingerprintKey, BuildError> {
    let text = text.trim();
    let bad = || {
        BuildError::new(
            BuildErrorKind::Definitions,
            format!(
                "a fingerprint key is 32 hex digits (from `edgeseg keygen --fingerprint`), got {} characters",
                text.chars().count()
            ),
        )
    };
    if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut key = [0u8; 16];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = text.get(2 * i..2 * i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()).ok_or_else(bad)?;
    }
    if key == [0u8; 16] {
        return Err(BuildError::new(BuildErrorKind::Definitions, "an all-zero fingerprint key is refused"));
    }
    Ok(FingerprintKey(key))
}

/// Reads a key file.
pub fn load(path: &std::path::Path) -> Result<FingerprintKey, BuildError> {
    let text = std::fs::read_to_string(path).map_err(|e| BuildError::io(path, &e))?;
    from_text(&text).map_err(|e| e.with_file(path))
}

/// A key id as printed: 16 hex digits.
pub fn key_id_hex(key: &FingerprintKey) -> String {
    format!("{:016x}", key.key_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips_and_refuses_bad_text() {
        let key = generate().unwrap();
        assert_eq!(from_text(&to_text(&key)).unwrap(), key);
        assert_eq!(from_text("  00112233445566778899aabbccddeeff \n").unwrap().0[15], 0xff);
        for bad in ["", "0011", "zz112233445566778899aabbccddeeff", "00112233445566778899aabbccddeeff00"] {
            assert!(from_text(bad).is_err(), "{bad:?}");
        }
        assert!(from_text(&"0".repeat(32)).unwrap_err().to_string().contains("all-zero"));
    }
}
