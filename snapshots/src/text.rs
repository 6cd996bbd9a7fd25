//! Untrusted text at the builder's edges: byte-order marks, customer ids, strings shown to people.
//!
//! Every file the builder reads was written by some other program, and every snapshot `inspect`
//! describes may come from anywhere. Three small rules keep that text honest:
//!
//! * **A UTF-8 byte-order mark is not content.** Spreadsheet and Windows exports start files with
//!   one; the CSV reader has always skipped it, and every other reader (JSONL members, definitions,
//!   revocation lists, traffic logs) does the same through [`strip_bom`].
//! * **An id the edge could never receive is refused**, not built into a member that never
//!   matches: control characters (C0, DEL, C1), invisible format characters (zero-width spaces
//!   and joiners, word joiner, BOM, bidi marks, embeddings, overrides and isolates, line and
//!   paragraph separators, tag characters). The edge fingerprints the id's bytes exactly as the
//!   request carries them, with no Unicode tables, so the builder does not normalise ids either:
//!   by default it refuses an id that is not in NFC (two spellings of one visible id would
//!   otherwise fingerprint differently, and the one the browser sends may be the other), see
//!   [`IdRules`].
//! * **Strings from a snapshot are escaped before they reach a terminal** ([`escape`]): an ESC in
//!   a snapshot id must not repaint the operator's screen.

use std::borrow::Cow;
use std::fmt::Write as _;

/// U+FEFF, which at the start of a UTF-8 file is a byte-order mark.
pub const BOM: char = '\u{feff}';
/// [`BOM`] as UTF-8 bytes.
pub const BOM_BYTES: &[u8] = b"\xEF\xBB\xBF";

/// `text` without a leading byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// Characters that no id, name or label should carry: they are invisible, reorder what is shown
/// around them, or drive a terminal. C0 and C1 controls and DEL; U+00AD soft hyphen; U+061C Arabic
/// letter mark; U+180E Mongolian vowel separator; U+200B–U+200F zero-width space, non-joiner,
/// joiner and the LRM/RLM marks; U+2028/U+2029 line and paragraph separators; U+202A–U+202E bidi
/// embeddings and overrides; U+2060–U+2064 word joiner and invisible operators; U+2066–U+2069
/// bidi isolates; U+206A–U+206F deprecated format characters; U+FEFF zero-width no-break space
/// (BOM); U+FFF9–U+FFFB interlinear annotation; U+E0000–U+E007F tag characters.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// `s` with every [`is_hidden`] character and every backslash escaped (`\u{1b}`, `\\`), so what
/// is printed is what is there, one line, in logical order. Borrowed when nothing needed escaping.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || is_hidden(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_hidden(c) {
            // Writing into a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Which customer ids the builder accepts beyond the edge's own limits (1 to 512 bytes, no
/// surrounding whitespace), set by the definitions' `member_ids` section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRules {
    /// Refuse ids that are not in Unicode Normalization Form C (default `true`).
    pub require_nfc: bool,
}

impl Default for IdRules {
    fn default() -> IdRules {
        IdRules { require_nfc: true }
    }
}

/// Why an id is refused, as a message for a `field `id`` error; `None` when it is acceptable.
/// Length and surrounding whitespace are checked by the builder itself.
pub fn id_problem(id: &str, rules: IdRules) -> Option<String> {
    if let Some((at, c)) = id.char_indices().find(|&(_, c)| is_hidden(c)) {
        let what = if c.is_control() { "a control character" } else { "an invisible format character" };
        return Some(format!(
            "id contains {what} (U+{:04X} at byte {at}): no request carries it as the id, so it could never match",
            u32::from(c)
        ));
    }
    if rules.require_nfc && !unicode_normalization::is_nfc(id) {
        return Some(
            "id is not in Unicode NFC: the edge compares the bytes a request carries and does not normalise, so \
             another spelling of the same text would not match; normalise the export to NFC, or set \
             `member_ids.unicode` to \"as-is\" if requests carry exactly these bytes"
                .into(),
        );
    }
    None
}

/// `id` in Unicode NFC; borrowed when it already is.
pub fn nfc(id: &str) -> Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if unicode_normalization::is_nfc(id) { Cow::Borrowed(id) } else { Cow::Owned(id.nfc().collect()) }
}

/// The key under which two ids count as the same for the collision check ([`case_collisions`]):
/// the NFC form, lower-cased character by character (Unicode lowercase mapping, not full case
/// folding: `ß` and `ss` stay apart).
pub fn fold_key(id: &str) -> String {
    fold_chars(id).collect()
}

fn fold_chars(id: &str) -> impl Iterator<Item = char> + '_ {
    use unicode_normalization::UnicodeNormalization;
    id.nfc().flat_map(char::to_lowercase)
}

/// Members whose distinct ids have the same [`fold_key`]: to the edge they are different people,
/// which is right unless the system that issues ids ignores case. Only lines are kept (the
/// builder never repeats an id in its output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdCollision {
    /// The 1-based lines of the members (in file order), at least two.
    pub lines: Vec<u64>,
}

/// Finds ids that differ but collide after NFC and lower-casing. Reads the members twice through
/// `open` (a fresh reader each time): first keeping a 64-bit hash of each id and of its fold key
/// (16 bytes a member, as the build keeps 8), then, for the fold keys that more than one id hashed
/// to, the keys themselves, so a hash collision is never reported. Exact duplicate ids are left to
/// the build, which refuses them. At most `limit` collisions are returned, with the total count.
pub fn case_collisions<I>(
    mut open: impl FnMut() -> Result<I, crate::BuildError>,
    limit: usize,
) -> Result<(Vec<IdCollision>, u64), crate::BuildError>
where
    I: Iterator<Item = Result<crate::Member, crate::BuildError>>,
{
    let mut hashes = FoldHashes::new();
    for member in open()? {
        hashes.add(&member?.id);
    }
    let suspects = hashes.suspects();
    if suspects.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut groups = Groups::default();
    for member in open()? {
        let m = member?;
        if suspects.binary_search(&hashes.fold_hash(&m.id)).is_ok() {
            groups.add(&m.id, m.line.unwrap_or(0));
        }
    }
    Ok(groups.collisions(limit))
}

/// The first pass of [`case_collisions`]: (fold-key hash, id hash) per member. Not generic, so it
/// is compiled (and optimised) here whatever crate calls `case_collisions`.
struct FoldHashes {
    keys: std::collections::hash_map::RandomState,
    pairs: Vec<(u64, u64)>,
    buf: String,
}

impl FoldHashes {
    fn new() -> FoldHashes {
        FoldHashes { keys: Default::default(), pairs: Vec::new(), buf: String::new() }
    }

    fn fold_hash(&mut self, id: &str) -> u64 {
        use std::hash::BuildHasher;
        self.buf.clear();
        if id.is_ascii() {
            // NFC and lowercase of ASCII text, without the Unicode tables.
            self.buf.extend(id.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            self.buf.extend(fold_chars(id));
        }
        self.keys.hash_one(self.buf.as_str())
    }

    fn add(&mut self, id: &str) {
        use std::hash::BuildHasher;
        let pair = (self.fold_hash(id), self.keys.hash_one(id));
        self.pairs.push(pair);
    }

    /// Fold-key hashes that more than one distinct id hashed to, sorted.
    fn suspects(&mut self) -> Vec<u64> {
        let mut pairs = std::mem::take(&mut self.pairs);
        pairs.sort_unstable();
        pairs.dedup();
        let mut suspects: Vec<u64> = pairs.windows(2).filter(|w| w[0].0 == w[1].0).map(|w| w[0].0).collect();
        suspects.dedup();
        suspects
    }
}

/// The second pass: fold key -> (the first id seen, its lines, whether another id shares it).
#[derive(Default)]
struct Groups(std::collections::HashMap<String, (String, Vec<u64>, bool)>);

impl Groups {
    fn add(&mut self, id: &str, line: u64) {
        let group = self.0.entry(fold_key(id)).or_insert_with(|| (id.to_owned(), Vec::new(), false));
        group.1.push(line);
        group.2 |= group.0 != id;
    }

    fn collisions(self, limit: usize) -> (Vec<IdCollision>, u64) {
        let mut found: Vec<IdCollision> =
            self.0.into_values().filter(|g| g.2).map(|(_, lines, _)| IdCollision { lines }).collect();
        found.sort_by_key(|c| c.lines.first().copied());
        let total = found.len() as u64;
        found.truncate(limit);
        (found, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_is_stripped_once() {
        assert_eq!(strip_bom("\u{feff}{}"), "{}");
        assert_eq!(strip_bom("\u{feff}\u{feff}x"), "\u{feff}x");
        assert_eq!(strip_bom("x"), "x");
        assert_eq!(BOM.to_string().as_bytes(), BOM_BYTES);
    }

    #[test]
    fn hidden_characters_are_escaped() {
        assert_eq!(escape("demo"), Cow::Borrowed("demo"));
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\u{0}\u{9b}\u{202e}\u{200b}"), "x\\u{0}\\u{9b}\\u{202e}\\u{200b}");
        assert_eq!(escape("a\\u{1b}"), "a\\\\u{1b}");
        assert_eq!(escape("Zürich"), "Zürich");
    }

    #[test]
    fn ids_with_hidden_characters_are_refused() {
        let rules = IdRules::default();
        assert_eq!(id_problem("u0000001", rules), None);
        assert_eq!(id_problem("Zoë", rules), None);
        assert_eq!(id_problem("a b", rules), None, "inner spaces are the edge's to judge");
        for bad in ["u1\u{0}", "u\u{1b}1", "u\u{7f}", "u\u{85}", "u\u{200b}1", "u\u{200d}", "\u{2060}u", "u\u{feff}"] {
            assert!(id_problem(bad, rules).is_some(), "{bad:?}");
        }
        for bidi in ["u\u{202e}1", "u\u{2066}1", "u\u{200e}1", "u\u{61c}1"] {
            assert!(id_problem(bidi, rules).is_some(), "{bidi:?}");
        }
    }

    #[test]
    fn non_nfc_ids_are_refused_unless_allowed() {
        let decomposed = "Zoe\u{308}";
        let e = id_problem(decomposed, IdRules::default()).unwrap();
        assert!(e.contains("NFC"), "{e}");
        assert_eq!(id_problem(decomposed, IdRules { require_nfc: false }), None);
        assert_eq!(fold_key(decomposed), fold_key("ZOË"));
        assert_ne!(fold_key("straße"), fold_key("STRASSE"), "lowercase mapping, not full case folding");
    }

    fn member(id: &str, line: u64) -> Result<crate::Member, crate::BuildError> {
        Ok(crate::Member {
            id: id.into(),
            consents: vec![],
            segments: vec![],
            tcf: None,
            attributes: vec![],
            line: Some(line),
        })
    }

    #[test]
    fn case_and_normalisation_collisions_are_found_by_line() {
        let ids = ["u1", "Alice", "bob", "ALICE", "zoe\u{308}", "u2", "ZOË", "alice", "u1"];
        let open = || Ok(ids.iter().enumerate().map(|(i, id)| member(id, i as u64 + 1)));
        let (found, total) = case_collisions(open, 10).unwrap();
        assert_eq!(total, 2);
        assert_eq!(found[0].lines, [2, 4, 8]);
        assert_eq!(found[1].lines, [5, 7]);
        let (found, total) = case_collisions(open, 1).unwrap();
        assert_eq!((found.len(), total), (1, 2));
        // The same id twice is a duplicate (the build's to refuse), not a case collision.
        let open = || Ok(["u1", "U2", "u1"].into_iter().enumerate().map(|(i, id)| member(id, i as u64 + 1)));
        assert_eq!(case_collisions(open, 10).unwrap(), (vec![], 0));
    }
}
