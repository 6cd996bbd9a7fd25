//! TC string decoder tests: a field-by-field encoder written here, published strings, every error, and
//! a pseudo-random robustness sweep.

use super::*;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

// ---------------------------------------------------------------------------------------------------
// Test-side encoder. It takes the other road from the decoder on purpose: bits are packed into bytes
// (zero-padded to a whole byte, as CMPs do) and the bytes go through a textbook 3-bytes-to-4-chars
// base64url, while the decoder reads bits straight out of characters.
// ---------------------------------------------------------------------------------------------------

#[derive(Default)]
struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    /// Appends the low `n` bits of `v`, most significant first.
    fn put(&mut self, v: u64, n: u32) -> &mut Self {
        assert!(n == 64 || v >> n == 0, "{v} does not fit in {n} bits");
        for i in (0..n).rev() {
            self.bits.push(v >> i & 1 == 1);
        }
        self
    }

    fn bytes(&self) -> Vec<u8> {
        self.bits
            .chunks(8)
            .map(|c| c.iter().enumerate().fold(0u8, |b, (i, &bit)| b | (u8::from(bit) << (7 - i))))
            .collect()
    }

    fn base64url(&self) -> String {
        base64url(&self.bytes())
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5).
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Core-segment field values exactly as they go on the wire (bit sets in wire order: id 1 first).
#[derive(Clone, Copy)]
struct Wire {
    version: u64,
    created: u64,
    last_updated: u64,
    cmp_id: u64,
    cmp_version: u64,
    consent_screen: u64,
    language: [u64; 2],
    vendor_list_version: u64,
    tcf_policy_version: u64,
    is_service_specific: bool,
    use_non_standard_texts: bool,
    special_features: u64,
    purposes_consent: u64,
    purposes_li: u64,
    purpose_one_treatment: bool,
    publisher_cc: [u64; 2],
}

/// Field widths in wire order (the spec's core-string table, Version through PublisherCC).
const WIDTHS: [u32; 18] = [6, 36, 36, 12, 12, 6, 6, 6, 12, 6, 1, 1, 12, 24, 24, 1, 6, 6];

impl Wire {
    /// A plausible string: version 2, English, German publisher, a few purposes.
    fn typical() -> Wire {
        Wire {
            version: 2,
            created: 17_000_000_000,
            last_updated: 17_000_000_123,
            cmp_id: 300,
            cmp_version: 12,
            consent_screen: 1,
            language: [4, 13], // E N
            vendor_list_version: 150,
            tcf_policy_version: 4,
            is_service_specific: true,
            use_non_standard_texts: false,
            special_features: 0b1000_0000_0000,
            purposes_consent: 0b1011_0000_0000_0000_0000_0000,
            purposes_li: 0b0000_0011_0000_0000_0000_0000,
            purpose_one_treatment: false,
            publisher_cc: [3, 4], // D E
        }
    }

    fn values(&self) -> [u64; 18] {
        [
            self.version,
            self.created,
            self.last_updated,
            self.cmp_id,
            self.cmp_version,
            self.consent_screen,
            self.language[0],
            self.language[1],
            self.vendor_list_version,
            self.tcf_policy_version,
            u64::from(self.is_service_specific),
            u64::from(self.use_non_standard_texts),
            self.special_features,
            self.purposes_consent,
            self.purposes_li,
            u64::from(self.purpose_one_treatment),
            self.publisher_cc[0],
            self.publisher_cc[1],
        ]
    }

    /// The fixed fields only.
    fn fields(&self) -> BitWriter {
        let mut w = BitWriter::default();
        for (v, n) in self.values().into_iter().zip(WIDTHS) {
            w.put(v, n);
        }
        w
    }

    /// The fixed fields followed by empty vendor sections (MaxVendorId 0, bit field), as a CMP writes.
    fn core(&self) -> String {
        let mut w = self.fields();
        w.put(0, 16).put(0, 1).put(0, 16).put(0, 1).put(0, 12);
        w.base64url()
    }

    /// What the decoder should return, computed from the wire values by the spec's rules.
    fn expected(&self) -> TcString {
        let letters = |l: [u64; 2]| [b'A' + l[0] as u8, b'A' + l[1] as u8];
        TcString {
            version: self.version as u8,
            created_ds: self.created,
            last_updated_ds: self.last_updated,
            cmp_id: self.cmp_id as u16,
            cmp_version: self.cmp_version as u16,
            consent_screen: self.consent_screen as u8,
            consent_language: letters(self.language),
            vendor_list_version: self.vendor_list_version as u16,
            tcf_policy_version: self.tcf_policy_version as u8,
            is_service_specific: self.is_service_specific,
            use_non_standard_texts: self.use_non_standard_texts,
            special_feature_optins: reverse(self.special_features, 12) as u16,
            purposes_consent: reverse(self.purposes_consent, 24) as u32,
            purposes_li_transparency: reverse(self.purposes_li, 24) as u32,
            purpose_one_treatment: self.purpose_one_treatment,
            publisher_cc: letters(self.publisher_cc),
        }
    }
}

/// Wire order (id 1 = most significant of `n`) to struct order (id 1 = bit 0).
fn reverse(v: u64, n: u32) -> u64 {
    (0..n).filter(|i| v >> (n - 1 - i) & 1 == 1).fold(0, |acc, i| acc | 1 << i)
}

// ---------------------------------------------------------------------------------------------------
// Deterministic PRNG for the sweeps (SplitMix64, Steele/Lea/Flood 2014).
// ---------------------------------------------------------------------------------------------------

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bits(&mut self, n: u32) -> u64 {
        self.next() >> (64 - n)
    }
}

// ---------------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------------

#[test]
fn encoder_matches_known_base64url() {
    // RFC 4648 §10 vectors, with `=` stripped; the encoder is only as good as this.
    assert_eq!(base64url(b"f"), "Zg");
    assert_eq!(base64url(b"fo"), "Zm8");
    assert_eq!(base64url(b"foo"), "Zm9v");
    assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
}

#[test]
fn fixed_fields_are_213_bits_and_fit_36_characters() {
    assert_eq!(WIDTHS.iter().sum::<u32>() as usize, CORE_FIELDS_BITS);
    assert_eq!(CORE_FIELDS_BITS, 213);
    // 213 bits pad to 27 bytes, which base64url writes as exactly 36 characters.
    assert_eq!(Wire::typical().fields().base64url().len(), 36);
}

#[test]
fn typical_string_round_trips() {
    let w = Wire::typical();
    let tc = decode(&w.core()).unwrap();
    assert_eq!(tc, w.expected());
    assert_eq!(&tc.consent_language, b"EN");
    assert_eq!(&tc.publisher_cc, b"DE");
    assert!(tc.purpose_consent(1) && !tc.purpose_consent(2) && tc.purpose_consent(3) && tc.purpose_consent(4));
    assert!(!tc.purpose_consent(5));
    assert!(tc.purpose_li(7) && tc.purpose_li(8) && !tc.purpose_li(1));
    assert!(tc.special_feature_optin(1) && !tc.special_feature_optin(2));
}

#[test]
fn fixed_fields_alone_are_enough() {
    // Exactly the 213 bits (36 characters), no vendor sections: everything this decoder reads is there.
    let w = Wire::typical();
    assert_eq!(decode(&w.fields().base64url()), Ok(w.expected()));
}

#[test]
fn maximum_values_round_trip() {
    let w = Wire {
        version: 2,
        created: (1 << 36) - 1,
        last_updated: (1 << 36) - 1,
        cmp_id: 4095,
        cmp_version: 4095,
        consent_screen: 63,
        language: [25, 25],
        vendor_list_version: 4095,
        tcf_policy_version: 63,
        is_service_specific: true,
        use_non_standard_texts: true,
        special_features: 0xFFF,
        purposes_consent: 0xFF_FFFF,
        purposes_li: 0xFF_FFFF,
        purpose_one_treatment: true,
        publisher_cc: [25, 25],
    };
    let tc = decode(&w.core()).unwrap();
    assert_eq!(tc, w.expected());
    assert_eq!(tc.created_ds, 68_719_476_735);
    assert_eq!((tc.cmp_id, tc.cmp_version, tc.vendor_list_version), (4095, 4095, 4095));
    assert_eq!((tc.consent_screen, tc.tcf_policy_version), (63, 63));
    assert_eq!(&tc.consent_language, b"ZZ");
    assert_eq!(
        (tc.special_feature_optins, tc.purposes_consent, tc.purposes_li_transparency),
        (0xFFF, 0xFF_FFFF, 0xFF_FFFF)
    );
    assert!((1..=24).all(|p| tc.purpose_consent(p) && tc.purpose_li(p)));
    assert!((1..=12).all(|f| tc.special_feature_optin(f)));
}

#[test]
fn minimum_values_round_trip() {
    let w = Wire {
        version: 2,
        created: 0,
        last_updated: 0,
        cmp_id: 0,
        cmp_version: 0,
        consent_screen: 0,
        language: [0, 0],
        vendor_list_version: 0,
        tcf_policy_version: 0,
        is_service_specific: false,
        use_non_standard_texts: false,
        special_features: 0,
        purposes_consent: 0,
        purposes_li: 0,
        purpose_one_treatment: false,
        publisher_cc: [0, 0],
    };
    let tc = decode(&w.core()).unwrap();
    assert_eq!(tc, w.expected());
    assert_eq!(&tc.consent_language, b"AA");
    assert!((0..=255).all(|p| !tc.purpose_consent(p) && !tc.purpose_li(p) && !tc.special_feature_optin(p)));
}

#[test]
fn each_field_is_read_from_its_own_bits() {
    // Set one field to all ones and everything else to zero: a field read one bit early or late, or two
    // fields swapped, shows up as a neighbour that is not zero.
    let zero = Wire {
        version: 2,
        created: 0,
        last_updated: 0,
        cmp_id: 0,
        cmp_version: 0,
        consent_screen: 0,
        language: [0, 0],
        vendor_list_version: 0,
        tcf_policy_version: 0,
        is_service_specific: false,
        use_non_standard_texts: false,
        special_features: 0,
        purposes_consent: 0,
        purposes_li: 0,
        purpose_one_treatment: false,
        publisher_cc: [0, 0],
    };
    for field in 1..WIDTHS.len() {
        let mut w = BitWriter::default();
        for (i, (v, n)) in zero.values().into_iter().zip(WIDTHS).enumerate() {
            // Letters stay in range: 25 = Z is the largest valid one.
            let ones = if matches!(i, 6 | 7 | 16 | 17) { 25 } else { (1u64 << n) - 1 };
            w.put(if i == field { ones } else { v }, n);
        }
        let tc = decode(&w.base64url()).unwrap();
        let mut expected = zero.expected();
        match field {
            1 => expected.created_ds = (1 << 36) - 1,
            2 => expected.last_updated_ds = (1 << 36) - 1,
            3 => expected.cmp_id = 4095,
            4 => expected.cmp_version = 4095,
            5 => expected.consent_screen = 63,
            6 => expected.consent_language[0] = b'Z',
            7 => expected.consent_language[1] = b'Z',
            8 => expected.vendor_list_version = 4095,
            9 => expected.tcf_policy_version = 63,
            10 => expected.is_service_specific = true,
            11 => expected.use_non_standard_texts = true,
            12 => expected.special_feature_optins = 0xFFF,
            13 => expected.purposes_consent = 0xFF_FFFF,
            14 => expected.purposes_li_transparency = 0xFF_FFFF,
            15 => expected.purpose_one_treatment = true,
            16 => expected.publisher_cc[0] = b'Z',
            17 => expected.publisher_cc[1] = b'Z',
            _ => unreachable!(),
        }
        assert_eq!(tc, expected, "field {field}");
    }
}

#[test]
fn random_values_round_trip() {
    let mut rng = SplitMix64(0x7CF0_0001);
    for case in 0..2_000 {
        let w = Wire {
            version: 2,
            created: rng.bits(36),
            last_updated: rng.bits(36),
            cmp_id: rng.bits(12),
            cmp_version: rng.bits(12),
            consent_screen: rng.bits(6),
            language: [rng.below(26), rng.below(26)],
            vendor_list_version: rng.bits(12),
            tcf_policy_version: rng.bits(6),
            is_service_specific: rng.bits(1) == 1,
            use_non_standard_texts: rng.bits(1) == 1,
            special_features: rng.bits(12),
            purposes_consent: rng.bits(24),
            purposes_li: rng.bits(24),
            purpose_one_treatment: rng.bits(1) == 1,
            publisher_cc: [rng.below(26), rng.below(26)],
        };
        assert_eq!(decode(&w.core()), Ok(w.expected()), "case {case}");
    }
}

#[test]
fn purpose_one_is_the_first_wire_bit() {
    let only = |purposes: u64| {
        decode(&Wire { purposes_consent: purposes, purposes_li: purposes, ..Wire::typical() }.core()).unwrap()
    };

    let first = only(1 << 23);
    assert_eq!(first.purposes_consent, 1);
    assert_eq!(first.purposes_li_transparency, 1);
    assert!(first.purpose_consent(1) && first.purpose_li(1));
    assert!((2..=24).all(|p| !first.purpose_consent(p) && !first.purpose_li(p)));

    let last = only(1);
    assert_eq!(last.purposes_consent, 1 << 23);
    assert!(last.purpose_consent(24) && last.purpose_li(24));
    assert!((1..=23).all(|p| !last.purpose_consent(p)));

    // Each purpose alone, through the helper.
    for p in 1..=24u8 {
        let tc = only(1 << (24 - p));
        assert!((1..=24).all(|q| tc.purpose_consent(q) == (q == p)), "purpose {p}");
    }
    // Ids outside 1..=24 are never set, even with every bit on.
    let all = only(0xFF_FFFF);
    assert!(!all.purpose_consent(0) && !all.purpose_consent(25) && !all.purpose_li(0) && !all.purpose_li(u8::MAX));
}

#[test]
fn special_feature_one_is_the_first_wire_bit() {
    for f in 1..=12u8 {
        let tc = decode(&Wire { special_features: 1 << (12 - f), ..Wire::typical() }.core()).unwrap();
        assert_eq!(tc.special_feature_optins, 1 << (f - 1));
        assert!((1..=12).all(|g| tc.special_feature_optin(g) == (g == f)), "feature {f}");
    }
    let all = decode(&Wire { special_features: 0xFFF, ..Wire::typical() }.core()).unwrap();
    assert!(!all.special_feature_optin(0) && !all.special_feature_optin(13));
}

#[test]
fn letters_decode_a_to_z() {
    for (a, b) in [(0, 25), (25, 0), (4, 13), (3, 4), (5, 17), (12, 7)] {
        let tc = decode(&Wire { language: [a, b], publisher_cc: [b, a], ..Wire::typical() }.core()).unwrap();
        let (la, lb) = (b'A' + a as u8, b'A' + b as u8);
        assert_eq!(tc.consent_language, [la, lb]);
        assert_eq!(tc.publisher_cc, [lb, la]);
    }
}

// ---------------------------------------------------------------------------------------------------
// Published strings
// ---------------------------------------------------------------------------------------------------

/// The service-specific example of the IAB spec, "Transparency and Consent String with Global Vendor &
/// CMP List Formats" v2.2, section "TC String Format":
/// <https://github.com/InteractiveAdvertisingBureau/GDPR-Transparency-and-Consent-Framework/blob/master/TCFv2/IAB%20Tech%20Lab%20-%20Consent%20string%20and%20vendor%20list%20formats%20v2.md>
///
/// Field values as stated by the synopsis of the Perl decoder GDPR::IAB::TCFv2, which parses this
/// same string: <https://metacpan.org/pod/GDPR::IAB::TCFv2> — version 2, created epoch 1228644257,
/// last updated epoch 1326215413 (whole seconds), CMP 21 (Traffective GmbH), CMP version 7, consent
/// screen 2, language "EN", vendor list version 23, consent for purposes 1, 3, 9 and 10.
const SPEC_SERVICE_SPECIFIC: &str =
    "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA.argAC0gAAAAAAAAAAAA";

#[test]
fn spec_service_specific_example() {
    let tc = decode(SPEC_SERVICE_SPECIFIC).unwrap();
    assert_eq!(tc.version, 2);
    assert_eq!(tc.created_ds / 10, 1_228_644_257);
    assert_eq!(tc.last_updated_ds / 10, 1_326_215_413);
    assert_eq!(tc.cmp_id, 21);
    assert_eq!(tc.cmp_version, 7);
    assert_eq!(tc.consent_screen, 2);
    assert_eq!(&tc.consent_language, b"EN");
    assert_eq!(tc.vendor_list_version, 23);
    assert!([1, 3, 9, 10].iter().all(|&p| tc.purpose_consent(p)));
    // The spec introduces it as a service-specific string.
    assert!(tc.is_service_specific);

    // The rest, read by hand from the characters (the source does not state them). Version through
    // SpecialFeatureOptIns take 6+36+36+12+12+6+12+12+6+1+1+12 = 152 bits, so PurposesConsent starts at
    // bit 2 of character 25. Characters 25..=33 are "KDAADnAAB" = 001010 000011 000000 000000 000011
    // 100111 000000 000000 000001; from bit 2 on, the 24 consent bits are 1010 0000 1100 0000 0000 0000
    // (purposes 1, 3, 9, 10: matches the source) and the 24 legitimate-interest bits after them are
    // 0011 1001 1100 0000 0000 0000 (purposes 3, 4, 5, 8, 9, 10).
    assert_eq!((1..=24).filter(|&p| tc.purpose_consent(p)).collect::<Vec<_>>(), [1, 3, 9, 10]);
    assert_eq!((1..=24).filter(|&p| tc.purpose_li(p)).collect::<Vec<_>>(), [3, 4, 5, 8, 9, 10]);
    assert_eq!(tc.tcf_policy_version, 2);
    assert!(!tc.use_non_standard_texts);
    assert_eq!((1..=12).filter(|&f| tc.special_feature_optin(f)).collect::<Vec<_>>(), [2]);
    assert!(!tc.purpose_one_treatment);
    assert_eq!(&tc.publisher_cc, b"KM");
}

#[test]
fn spec_four_segment_and_macro_examples_decode() {
    // Same spec, "TC String Format": a globally-scoped string with all four segments.
    let four = "COw4XqLOw4XqLAAAAAENAXCAAAAAAAAAAAAAAAAAAAAA.IFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAgEQACEABAAAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAAQiRAEQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA.QFukWSQgAIQwgI0QEByFAAAAeIAACAIgSAAQAIAgEQACEABAAAgAQFAEAIAAAGBAAgAAAAQAIFAAMCQAAgAAQiRAEQAAAAANAAIAAggAIYQFAAARmggBC3ZCYzU2yIA.YAAAAAAAAAAAAAAAAAA";
    let tc = decode(four).unwrap();
    // Created is bits 6..42 (characters 1..=6) and LastUpdated bits 42..78 (characters 7..=12); both are
    // "Ow4XqL", so the two times are equal.
    assert_eq!(tc.created_ds, tc.last_updated_ds);
    assert_eq!((tc.cmp_id, tc.cmp_version, tc.vendor_list_version, tc.tcf_policy_version), (0, 0, 23, 2));
    assert_eq!(&tc.consent_language, b"EN");
    assert!(!tc.is_service_specific && tc.purposes_consent == 0);

    // Same spec, "How does a URL-based service process the TC string…": the `${GDPR_CONSENT_123}` example.
    let tc = decode("COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw").unwrap();
    // "Ab" at characters 13–14 puts 27 in CmpId; "OAAA" at 25 sets the first three purpose bits.
    assert_eq!(tc.cmp_id, 27);
    assert_eq!((1..=24).filter(|&p| tc.purpose_consent(p)).collect::<Vec<_>>(), [1, 2, 3]);
}

// ---------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------

#[test]
fn empty_and_dots() {
    let core = Wire::typical().core();
    assert_eq!(decode(""), Err(TcfError::Empty));
    assert_eq!(decode("."), Err(TcfError::EmptySegment { index: 0 }));
    assert_eq!(decode("...."), Err(TcfError::EmptySegment { index: 0 }));
    assert_eq!(decode(&format!(".{core}")), Err(TcfError::EmptySegment { index: 0 }));
    assert_eq!(decode(&format!("{core}.")), Err(TcfError::EmptySegment { index: 1 }));
    assert_eq!(decode(&format!("{core}..YAAA")), Err(TcfError::EmptySegment { index: 1 }));
    assert_eq!(decode(&format!("{core}.YAAA.")), Err(TcfError::EmptySegment { index: 2 }));
    assert!(decode(&format!("{core}.YAAA.IAAA")).is_ok());
}

#[test]
fn bad_base64_in_core() {
    let core = Wire::typical().core();
    for junk in ['+', '/', '=', ' ', '\n', '\0', '%', '!', '~', '\u{7f}'] {
        for at in [0, 1, 5, core.len() - 1] {
            let mut s: Vec<char> = core.chars().collect();
            s[at] = junk;
            let s: String = s.into_iter().collect();
            assert_eq!(decode(&s), Err(TcfError::BadBase64 { at }), "{junk:?} at {at}");
        }
    }
}

#[test]
fn padding_is_rejected() {
    // CMPs strip `=` and the IAB reference decoder refuses it; so does this one (see the module docs).
    let core = Wire::typical().core();
    assert_eq!(decode(&format!("{core}=")), Err(TcfError::BadBase64 { at: core.len() }));
    assert_eq!(decode(&format!("{core}==")), Err(TcfError::BadBase64 { at: core.len() }));
    assert_eq!(decode(&format!("{core}.YA==")), Err(TcfError::BadBase64 { at: core.len() + 3 }));
}

#[test]
fn bad_base64_in_later_segments() {
    let core = Wire::typical().core();
    let n = core.len();
    assert_eq!(decode(&format!("{core}.YA+A")), Err(TcfError::BadBase64 { at: n + 3 }));
    assert_eq!(decode(&format!("{core}.YAAA.IA/A")), Err(TcfError::BadBase64 { at: n + 8 }));
    assert_eq!(decode(&format!("{core}.YAAA.IAAA.QAA A")), Err(TcfError::BadBase64 { at: n + 14 }));
    assert_eq!(decode(&format!("{core} ")), Err(TcfError::BadBase64 { at: n }));
    // The first bad byte wins, wherever the empty segments are.
    assert_eq!(decode(&format!("{core}.Y!..")), Err(TcfError::BadBase64 { at: n + 2 }));
}

#[test]
fn non_ascii_is_rejected_at_its_first_byte() {
    let core = Wire::typical().core();
    // Multibyte characters: é (2 bytes), € (3), 🍪 (4); the offset is in bytes.
    for ch in ['é', '€', '🍪', '\u{FF21}' /* fullwidth A */] {
        assert_eq!(decode(&format!("C{ch}")), Err(TcfError::BadBase64 { at: 1 }));
        assert_eq!(decode(&format!("{ch}{core}")), Err(TcfError::BadBase64 { at: 0 }));
        assert_eq!(decode(&format!("{core}.YA{ch}A")), Err(TcfError::BadBase64 { at: core.len() + 3 }));
    }
    assert_eq!(decode("🍪"), Err(TcfError::BadBase64 { at: 0 }));
}

#[test]
fn truncated_at_every_field_boundary() {
    // A core is read six bits per character, so "cut at bit b" means "keep the characters that b
    // bits need" (rounded up: the cut falls inside the last one) and also the ones before (rounded down).
    let full = Wire::typical().fields().base64url();
    let mut boundary = 0;
    for width in WIDTHS {
        boundary += width as usize;
        for chars in [boundary / 6, boundary.div_ceil(6)] {
            let core = &full[..chars];
            let got = decode(core);
            if chars < 36 {
                // 35 characters carry 210 bits, 3 short of the 213 the fixed fields take.
                assert_eq!(got, Err(TcfError::Truncated { bits: chars * 6 }), "{chars} chars");
            } else {
                assert!(got.is_ok(), "{chars} chars");
            }
            // Later segments do not make up for a short core.
            if (1..36).contains(&chars) {
                assert_eq!(decode(&format!("{core}.{full}")), Err(TcfError::Truncated { bits: chars * 6 }));
            }
        }
    }
    assert_eq!(boundary, 213);
    assert_eq!(decode("C"), Err(TcfError::Truncated { bits: 6 }));
    assert_eq!(decode(&full[..35]), Err(TcfError::Truncated { bits: 210 }));
    assert!(decode(&full[..36]).is_ok());
}

#[test]
fn versions_other_than_2_are_rejected() {
    for version in [0, 1, 3, 4, 63] {
        let s = Wire { version, ..Wire::typical() }.core();
        assert_eq!(decode(&s), Err(TcfError::UnsupportedVersion(version as u8)), "version {version}");
    }
    // The version is checked before the length: a lone "B" (version 1, the TCF v1.1 prefix) or "D" (3).
    assert_eq!(decode("B"), Err(TcfError::UnsupportedVersion(1)));
    assert_eq!(decode("D"), Err(TcfError::UnsupportedVersion(3)));
    // The example of the TCF v1.1 spec ("Consent string and vendor list formats v1.1 Final.md", section
    // "Vendor Consent String Format", same IAB repository), long enough to be a v2 core if it were one.
    assert_eq!(decode("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"), Err(TcfError::UnsupportedVersion(1)));
    assert_eq!(decode("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASAAAAAAAAAA"), Err(TcfError::UnsupportedVersion(1)));
}

#[test]
fn over_long_strings_are_rejected_before_reading() {
    let core = Wire::typical().core();
    let filler = |n: usize| "A".repeat(n);

    // Exactly the cap is fine.
    let at_cap = format!("{core}.{}", filler(MAX_TC_STRING_LEN - core.len() - 1));
    assert_eq!(at_cap.len(), MAX_TC_STRING_LEN);
    assert!(decode(&at_cap).is_ok());

    let over = format!("{at_cap}A");
    assert_eq!(decode(&over), Err(TcfError::TooLong { len: MAX_TC_STRING_LEN + 1 }));
    // Length is checked first, whatever the content.
    let junk = "!".repeat(1 << 20);
    assert_eq!(decode(&junk), Err(TcfError::TooLong { len: 1 << 20 }));
    let dots = ".".repeat(MAX_TC_STRING_LEN + 1);
    assert_eq!(decode(&dots), Err(TcfError::TooLong { len: MAX_TC_STRING_LEN + 1 }));
}

#[test]
fn letters_beyond_z_are_rejected() {
    for bad in [26, 27, 40, 63] {
        let lang = |l| decode(&Wire { language: l, ..Wire::typical() }.core());
        assert_eq!(lang([bad, 0]), Err(TcfError::BadLanguage), "{bad}");
        assert_eq!(lang([0, bad]), Err(TcfError::BadLanguage), "{bad}");
        let cc = |c| decode(&Wire { publisher_cc: c, ..Wire::typical() }.core());
        assert_eq!(cc([bad, 4]), Err(TcfError::BadPublisherCc), "{bad}");
        assert_eq!(cc([4, bad]), Err(TcfError::BadPublisherCc), "{bad}");
    }
}

#[test]
fn errors_display_for_people() {
    let all = [
        (TcfError::Empty, "TC string is empty"),
        (TcfError::TooLong { len: 9000 }, "TC string is 9000 bytes, longer than the 8192 accepted"),
        (TcfError::BadBase64 { at: 3 }, "TC string has a non-base64url byte at offset 3"),
        (TcfError::EmptySegment { index: 1 }, "TC string segment 1 is empty"),
        (TcfError::Truncated { bits: 42 }, "TC string core segment has 42 bits, fewer than the 213 of its fields"),
        (TcfError::UnsupportedVersion(1), "TC string version 1 is not supported (only 2)"),
        (TcfError::BadLanguage, "TC string consent language is not two letters A-Z"),
        (TcfError::BadPublisherCc, "TC string publisher country is not two letters A-Z"),
    ];
    for (e, msg) in all {
        assert_eq!(e.to_string(), msg);
    }
}

// ---------------------------------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------------------------------

#[test]
fn random_strings_never_panic() {
    // Mostly base64url, with dots and junk (padding, plain-base64 characters, whitespace, control and
    // multibyte characters) mixed in. One case in four starts with a valid version-2 core prefix so the
    // sweep also reaches the field readers, not only the alphabet check.
    const JUNK: [&str; 10] = [".", ".", "=", "+", "/", " ", "\0", "é", "🍪", "\u{FFFD}"];
    let prefix = Wire::typical().core();
    let mut rng = SplitMix64(0x5EED_7CF2);
    let (mut ok, mut err) = (0, 0);
    for case in 0..20_000 {
        let len = match rng.below(100) {
            0 => MAX_TC_STRING_LEN - 8 + rng.below(16) as usize,
            1..=9 => rng.below(400) as usize,
            _ => rng.below(80) as usize,
        };
        let mut s = String::with_capacity(len + 4);
        if rng.below(4) == 0 {
            s.push_str(&prefix[..rng.below(prefix.len() as u64 + 1) as usize]);
        }
        while s.len() < len {
            if rng.below(20) == 0 {
                s.push_str(JUNK[rng.below(JUNK.len() as u64) as usize]);
            } else {
                s.push(char::from(ALPHABET[rng.below(64) as usize]));
            }
        }
        match decode(&s) {
            Ok(tc) => {
                ok += 1;
                assert_eq!(tc.version, 2, "case {case}: {s:?}");
                assert!(tc.consent_language.iter().chain(&tc.publisher_cc).all(u8::is_ascii_uppercase));
                assert!(tc.special_feature_optins < 1 << 12 && tc.purposes_consent < 1 << 24);
                assert!(tc.purposes_li_transparency < 1 << 24 && tc.created_ds < 1 << 36);
                assert!(s.len() <= MAX_TC_STRING_LEN && s.split('.').next().unwrap().len() >= 36);
            }
            Err(e) => {
                err += 1;
                assert!(!e.to_string().is_empty());
            }
        }
    }
    // The sweep is only worth something if it exercises both outcomes.
    assert!(ok > 100 && err > 100, "ok {ok}, err {err}");
}
