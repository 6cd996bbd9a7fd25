//! IAB TCF v2 consent strings (the `euconsent-v2` cookie, the `gdpr_consent` parameter): core segment only.
//!
//! A TC string is one to four base64url segments joined by `.`. The first, the **core segment**, carries
//! everything a segmentation decision can use without the Global Vendor List: who wrote the string and
//! when, the purposes the user consented to or did not object to, special-feature opt-ins and the
//! publisher's country. The other segments (disclosed vendors, allowed vendors, publisher TC) are
//! checked for being base64url and otherwise ignored; the per-vendor sections that follow the fixed core
//! fields are not decoded either.
//!
//! ## Why it is shaped this way
//!
//! * **Hostile input costs O(len), capped.** The value comes straight from a cookie or a query string.
//!   It is refused above [`MAX_TC_STRING_LEN`] before anything else, every byte is then looked at once to
//!   check the alphabet, and only the 213 bits of fixed core fields are ever decoded — a vendor section
//!   that announces 65 535 vendors costs nothing.
//! * **No byte buffer.** Base64url packs six bits per character, so the reader takes bits straight out
//!   of the characters; nothing is allocated.
//! * **Strict alphabet, no padding.** The spec says base64url; the IAB reference decoder (iabtcf-es
//!   `Base64Url.decode`) accepts only `[A-Za-z0-9_-]` and CMPs strip `=` when encoding. A padded string
//!   was not written by a conforming CMP, so `=` is a [`TcfError::BadBase64`] like any other stray
//!   character. Refusing is the safe direction here: a caller that cannot read a string treats the
//!   request as having no consent.
//! * **Fields as encoded, no policy.** The decoder reports what the string says. Two fields change what
//!   the purpose bits mean and are the caller's to weigh, see [`TcString::purpose_one_treatment`] and
//!   [`TcString::is_service_specific`].
//!
//! Bit layout: "Transparency and Consent String with Global Vendor & CMP List Formats", IAB Europe TCF
//! v2.2 (May 2023), section "The Core String": fields are big-endian, bits numbered left to right, each
//! base64url character contributing its six bits most significant first.

use core::fmt;

#[cfg(test)]
mod tests;

/// Longest TC string accepted, in bytes, all segments and dots included.
///
/// A TC string lives in a cookie or a URL. Browsers only promise 4096 bytes per cookie (RFC 6265 §6.1)
/// and common servers and CDNs refuse request headers above 8 KiB, so nothing longer can have reached
/// the edge honestly; a full four-segment string with publisher restrictions is a few hundred bytes to
/// a couple of kilobytes. The cap keeps the one validating pass over the string short and bounded.
pub const MAX_TC_STRING_LEN: usize = 8192;

/// The only encoding version this decoder reads. Version 1 (TCF v1.1, first character `B`) has a
/// different layout; a version 3 would too.
const SUPPORTED_VERSION: u8 = 2;

/// Bits of fixed fields at the start of the core segment, Version through PublisherCC.
const CORE_FIELDS_BITS: usize = 6 + 36 + 36 + 12 + 12 + 6 + 12 + 12 + 6 + 1 + 1 + 12 + 24 + 24 + 1 + 12;

/// The fixed fields of a TC string's core segment.
///
/// Bit sets are stored with **bit `n - 1` for id `n`**, so `purposes_consent & 1` is purpose 1. On the
/// wire it is the other way round (purpose 1 is the first, most significant bit of the 24); use
/// [`TcString::purpose_consent`] and friends rather than shifting by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcString {
    /// Encoding version; always 2 in a decoded value.
    pub version: u8,
    /// When the string was first created, in deciseconds since the Unix epoch (36 bits).
    pub created_ds: u64,
    /// When the string was last changed, in deciseconds since the Unix epoch (36 bits).
    pub last_updated_ds: u64,
    /// Id of the Consent Management Platform that last updated the string (12 bits).
    pub cmp_id: u16,
    /// That CMP's own version number (12 bits).
    pub cmp_version: u16,
    /// CMP-internal number of the screen where consent was given (6 bits).
    pub consent_screen: u8,
    /// ISO 639-1 language of the CMP UI, two ASCII uppercase letters.
    pub consent_language: [u8; 2],
    /// Global Vendor List version the string was made against (12 bits).
    pub vendor_list_version: u16,
    /// TCF policy version of that vendor list (6 bits); 4 is TCF v2.2.
    pub tcf_policy_version: u8,
    /// Whether the string belongs to one publisher's service (`true`) or was the legacy global
    /// consensu.org cookie (`false`). TCF v2.2 has no global scope any more, so current CMPs write `true`.
    pub is_service_specific: bool,
    /// The CMP showed customised stack texts instead of the standard ones (named
    /// `UseNonStandardStacks` in earlier spec versions).
    pub use_non_standard_texts: bool,
    /// Special-feature opt-ins, 12 bits: bit `n - 1` is special feature `n`.
    pub special_feature_optins: u16,
    /// Consent per purpose, 24 bits: bit `n - 1` is purpose `n`.
    pub purposes_consent: u32,
    /// Legitimate interest established and not objected to, per purpose, 24 bits: bit `n - 1` is purpose `n`.
    pub purposes_li_transparency: u32,
    /// `true`: purpose 1 (store/access information on a device) was **not disclosed at all**, because the
    /// publisher's jurisdiction ([`TcString::publisher_cc`]) does not require consent for it. Purpose 1's
    /// consent bit is then 0 without meaning "refused"; whether that suffices is a legal call per
    /// country. The spec calls a non-service-specific string with this set invalid; this decoder still
    /// reports it as encoded.
    pub purpose_one_treatment: bool,
    /// ISO 3166-1 alpha-2 country whose law the publisher is under, two ASCII uppercase letters.
    pub publisher_cc: [u8; 2],
}

impl TcString {
    /// Whether the user consented to purpose `purpose` (1–24). Ids outside 1–24 are `false`.
    ///
    /// This is the raw bit: read it together with [`TcString::purpose_one_treatment`] for purpose 1.
    pub fn purpose_consent(&self, purpose: u8) -> bool {
        flag(self.purposes_consent, purpose, 24)
    }

    /// Whether legitimate interest is established (and not objected to) for purpose `purpose` (1–24).
    /// Ids outside 1–24 are `false`.
    pub fn purpose_li(&self, purpose: u8) -> bool {
        flag(self.purposes_li_transparency, purpose, 24)
    }

    /// Whether the user opted in to special feature `feature` (1–12). Ids outside 1–12 are `false`.
    pub fn special_feature_optin(&self, feature: u8) -> bool {
        flag(u32::from(self.special_feature_optins), feature, 12)
    }
}

/// Bit `id - 1` of `set`, for ids `1..=width`.
fn flag(set: u32, id: u8, width: u8) -> bool {
    match id.checked_sub(1) {
        Some(i) if i < width => set >> i & 1 == 1,
        _ => false,
    }
}

/// Why a TC string was not decoded.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcfError {
    /// The string is empty.
    Empty,
    /// The string is longer than [`MAX_TC_STRING_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The byte at offset `at` is not base64url (`A–Z a–z 0–9 - _`) nor a segment dot. Covers `=`
    /// padding, `+` and `/` of plain base64, whitespace and any byte of a non-ASCII character.
    BadBase64 {
        /// Byte offset in the whole string.
        at: usize,
    },
    /// Segment number `index` (0 is the core) is empty: a leading, trailing or doubled dot.
    EmptySegment {
        /// Zero-based segment number.
        index: usize,
    },
    /// The core segment ends before the fixed core fields do (213 bits, 36 characters).
    Truncated {
        /// Bits the core segment carries: six per character.
        bits: usize,
    },
    /// The encoding version is not 2.
    UnsupportedVersion(u8),
    /// A ConsentLanguage letter is outside A–Z (6-bit value above 25).
    BadLanguage,
    /// A PublisherCC letter is outside A–Z (6-bit value above 25).
    BadPublisherCc,
}

impl fmt::Display for TcfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TcfError::Empty => f.write_str("TC string is empty"),
            TcfError::TooLong { len } => {
                write!(f, "TC string is {len} bytes, longer than the {MAX_TC_STRING_LEN} accepted")
            }
            TcfError::BadBase64 { at } => write!(f, "TC string has a non-base64url byte at offset {at}"),
            TcfError::EmptySegment { index } => write!(f, "TC string segment {index} is empty"),
            TcfError::Truncated { bits } => {
                write!(f, "TC string core segment has {bits} bits, fewer than the {CORE_FIELDS_BITS} of its fields")
            }
            TcfError::UnsupportedVersion(v) => write!(f, "TC string version {v} is not supported (only 2)"),
            TcfError::BadLanguage => f.write_str("TC string consent language is not two letters A-Z"),
            TcfError::BadPublisherCc => f.write_str("TC string publisher country is not two letters A-Z"),
        }
    }
}

impl core::error::Error for TcfError {}

/// Decodes the core segment of TC string `s`, after checking that every segment is non-empty base64url.
///
/// Checks run cheapest and most general first, so each input gets one well-defined error: length
/// ([`TcfError::Empty`], [`TcfError::TooLong`]), alphabet and segments ([`TcfError::BadBase64`],
/// [`TcfError::EmptySegment`]), then the core's version before its length, so that a short TCF v1
/// string reads as [`TcfError::UnsupportedVersion`] rather than [`TcfError::Truncated`].
pub fn decode(s: &str) -> Result<TcString, TcfError> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return Err(TcfError::Empty);
    }
    if bytes.len() > MAX_TC_STRING_LEN {
        return Err(TcfError::TooLong { len: bytes.len() });
    }
    let core = check_segments(bytes)?;

    let mut r = BitReader { chars: core, pos: 0 };
    let version = r.read_u8(6)?;
    if version != SUPPORTED_VERSION {
        return Err(TcfError::UnsupportedVersion(version));
    }
    // One length check up front keeps the error independent of which field runs out.
    if r.available() < CORE_FIELDS_BITS {
        return Err(TcfError::Truncated { bits: r.available() });
    }
    Ok(TcString {
        version,
        created_ds: r.read(36)?,
        last_updated_ds: r.read(36)?,
        cmp_id: r.read_u16(12)?,
        cmp_version: r.read_u16(12)?,
        consent_screen: r.read_u8(6)?,
        consent_language: r.letters(TcfError::BadLanguage)?,
        vendor_list_version: r.read_u16(12)?,
        tcf_policy_version: r.read_u8(6)?,
        is_service_specific: r.read_bool()?,
        use_non_standard_texts: r.read_bool()?,
        // 12 flags fit in 16 bits.
        special_feature_optins: r.read_flags(12)? as u16,
        purposes_consent: r.read_flags(24)?,
        purposes_li_transparency: r.read_flags(24)?,
        purpose_one_treatment: r.read_bool()?,
        publisher_cc: r.letters(TcfError::BadPublisherCc)?,
    })
}

/// Checks the whole string in one pass and returns the core segment's bytes.
fn check_segments(bytes: &[u8]) -> Result<&[u8], TcfError> {
    let mut segment = 0;
    let mut segment_len = 0;
    for (at, &b) in bytes.iter().enumerate() {
        if b == b'.' {
            if segment_len == 0 {
                return Err(TcfError::EmptySegment { index: segment });
            }
            segment += 1;
            segment_len = 0;
        } else if sextet(b).is_some() {
            segment_len += 1;
        } else {
            return Err(TcfError::BadBase64 { at });
        }
    }
    if segment_len == 0 {
        return Err(TcfError::EmptySegment { index: segment });
    }
    // `split` always yields a first piece (the whole input when there is no dot).
    Ok(bytes.split(|&b| b == b'.').next().unwrap_or(bytes))
}

/// The six bits a base64url character stands for.
const fn sextet(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    })
}

/// Reads big-endian bit fields straight out of base64url characters, six bits per character.
struct BitReader<'a> {
    chars: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn available(&self) -> usize {
        self.chars.len().saturating_mul(6)
    }

    fn truncated(&self) -> TcfError {
        TcfError::Truncated { bits: self.available() }
    }

    fn bit(&mut self) -> Result<bool, TcfError> {
        let sextet = self.chars.get(self.pos / 6).and_then(|&c| sextet(c)).ok_or_else(|| self.truncated())?;
        let bit = sextet >> (5 - self.pos % 6) & 1 == 1;
        self.pos += 1;
        Ok(bit)
    }

    /// The next `n` bits (at most 64; more would shift the first ones out) as a big-endian number.
    /// Takes what is left of each character at once (up to six bits), not bit by bit: this runs
    /// for every request that carries a TC string.
    fn read(&mut self, n: u32) -> Result<u64, TcfError> {
        let mut v = 0u64;
        let mut left = n;
        while left > 0 {
            let sextet = self.chars.get(self.pos / 6).and_then(|&c| sextet(c)).ok_or_else(|| self.truncated())?;
            let unread = 6 - (self.pos % 6) as u32;
            let take = unread.min(left);
            let bits = u64::from(sextet >> (unread - take)) & ((1 << take) - 1);
            v = v.checked_shl(take).unwrap_or(0) | bits;
            self.pos += take as usize;
            left -= take;
        }
        Ok(v)
    }

    /// The next `n` bits, `n` at most 16.
    fn read_u16(&mut self, n: u32) -> Result<u16, TcfError> {
        // At most 16 bits were read, so the value fits.
        Ok(self.read(n.min(16))? as u16)
    }

    /// The next `n` bits, `n` at most 8.
    fn read_u8(&mut self, n: u32) -> Result<u8, TcfError> {
        // At most 8 bits were read, so the value fits.
        Ok(self.read(n.min(8))? as u8)
    }

    fn read_bool(&mut self) -> Result<bool, TcfError> {
        self.bit()
    }

    /// `n` id flags (at most 32), the first on the wire for id 1, returned with bit `i` for id `i + 1`.
    fn read_flags(&mut self, n: u32) -> Result<u32, TcfError> {
        let n = n.min(32);
        if n == 0 {
            return Ok(0);
        }
        // Read big-endian (first flag highest), then mirrored so the first flag is bit 0.
        Ok((self.read(n)?.reverse_bits() >> (64 - n)) as u32)
    }

    /// Two 6-bit letters, A = 0 … Z = 25, as ASCII uppercase; `bad` if either is above 25.
    fn letters(&mut self, bad: TcfError) -> Result<[u8; 2], TcfError> {
        let mut out = [0u8; 2];
        for slot in &mut out {
            let v = self.read_u8(6)?;
            if v > 25 {
                return Err(bad);
            }
            *slot = b'A' + v;
        }
        Ok(out)
    }
}
