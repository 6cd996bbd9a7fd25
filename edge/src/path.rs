//! The request path as rules see it: normalised once per decision, before any rule runs.
//!
//! A path rule (`{"starts_with": [{"var": "path"}, "/account"]}` → `no-store`) is a security
//! boundary: if `/Account`, `//account`, `/%61ccount` or `/shop/../account` reach the same page at
//! the origin but not the same rule at the edge, the page gets the public cache policy meant for
//! something else (web-cache deception, issue 19). So the edge compares the path the way a lenient
//! origin would resolve it, and every host gets this from the core, not from its own adapter:
//!
//! 1. **Percent-decoding of unreserved characters** (RFC 3986 §2.3, §6.2.2.2): `%41`-`%5A`,
//!    `%61`-`%7A`, `%30`-`%39`, `%2D` `%2E` `%5F` `%7E` become the character. Every other escape
//!    stays an escape (`%2F` is not a `/`: it is data inside a segment to the origin too).
//! 2. **ASCII lower-casing** of the whole path, escapes included (`%2F` → `%2f`). RFC 3986 makes
//!    paths case-sensitive, but many origins are not (case-insensitive file systems, routers that
//!    fold case), and a rule that a capital letter escapes fails open. Rules therefore see the path
//!    in lower case and their path literals must be written in lower case (a literal with an
//!    upper-case letter never matches a path).
//! 3. **Duplicate slashes collapsed** (`//a///b` → `/a/b`), as nginx's `merge_slashes` does.
//! 4. **Dot segments removed** (RFC 3986 §5.2.4): `.` dropped, `..` drops the segment before it,
//!    never climbing above the root. Decoding comes first, so `%2e%2e` is a `..` here too.
//!
//! Only the path is touched: the query (from the first `?`) is kept byte for byte. The result is
//! idempotent, and a path that is already normal (the common case: lower-case, no `%`, no `//`,
//! no dot segment) is returned borrowed after one scan, without allocating.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

/// `path` (which may carry a query) as rules see it; see the module notes.
pub fn normalize(path: &str) -> Cow<'_, str> {
    if is_normal(path.as_bytes()) { Cow::Borrowed(path) } else { renormalize(path) }
}

/// The slow path of [`normalize`], out of line: most requests never take it. One pass over the
/// segments: each is decoded and lower-cased (steps 1 and 2) straight into `out` after a `/`, then
/// taken back if it is empty or `.` (steps 3 and 4), or taken back with its predecessor if it is
/// `..`. A path that starts with `/` keeps it; one that ends in `/`, `/.` or `/..` ends in `/`
/// (RFC 3986 §5.2.4 keeps that trailing slash). Only ASCII bytes are replaced by ASCII bytes, so
/// the result is UTF-8 whenever the input is.
#[inline(never)]
fn renormalize(path: &str) -> Cow<'_, str> {
    let (only_path, query) = match path.find('?') {
        Some(i) => (path.get(..i).unwrap_or(path), path.get(i..).unwrap_or("")),
        None => (path, ""),
    };
    let src = only_path.as_bytes();
    let absolute = src.first() == Some(&b'/');
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    let mut trailing_slash = false;
    for segment in src.split(|&b| b == b'/') {
        let mark = out.len();
        if absolute || !out.is_empty() {
            out.push(b'/');
        }
        let body = out.len();
        decode_and_lower_into(segment, &mut out);
        match out.get(body..) {
            Some(b"" | b".") => {
                out.truncate(mark);
                trailing_slash = true;
            }
            Some(b"..") => {
                out.truncate(mark);
                let keep = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(keep);
                trailing_slash = true;
            }
            _ => trailing_slash = false,
        }
    }
    if trailing_slash && !src.is_empty() && out.last() != Some(&b'/') {
        out.push(b'/');
    }
    out.extend_from_slice(query.as_bytes());
    match String::from_utf8(out) {
        Ok(out) if out != path => Cow::Owned(out),
        _ => Cow::Borrowed(path),
    }
}

/// True when [`normalize`] would return `path` unchanged: up to the first `?`, no upper-case
/// ASCII, no `%`, no `//`, no `.` or `..` segment. (Conservative: a path with a `%` that stays
/// escaped is normal too, but is sent down the slow path, which then finds it unchanged.) One
/// byte loop with no look-behind: it runs on every decision.
#[inline]
fn is_normal(path: &[u8]) -> bool {
    let mut after_slash = false;
    // Dots since the segment began, or `u8::MAX` once it holds anything else.
    let mut dots: u8 = 0;
    for &b in path {
        match b {
            b'?' => break,
            b'/' => {
                if after_slash || matches!(dots, 1 | 2) {
                    return false;
                }
                after_slash = true;
                dots = 0;
            }
            b'%' | b'A'..=b'Z' => return false,
            b'.' => {
                after_slash = false;
                dots = dots.saturating_add(1).min(3);
            }
            _ => {
                after_slash = false;
                dots = u8::MAX;
            }
        }
    }
    !matches!(dots, 1 | 2)
}

/// Steps 1 and 2 for one segment: unreserved escapes decoded, ASCII lower-cased (other escapes
/// kept, their hex digits lower-cased too).
fn decode_and_lower_into(segment: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&b) = segment.get(i) {
        let mut byte = b;
        let mut width = 1;
        if b == b'%'
            && let (Some(h), Some(l)) = (segment.get(i + 1).and_then(hex), segment.get(i + 2).and_then(hex))
        {
            let decoded = h << 4 | l;
            if decoded.is_ascii_alphanumeric() || b"-._~".contains(&decoded) {
                byte = decoded;
                width = 3;
            }
        }
        out.push(byte.to_ascii_lowercase());
        i += width;
    }
}

fn hex(digit: &u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_19_spellings_of_account_are_one_path() {
        for p in [
            "/account",
            "/Account",
            "//account",
            "/%61ccount",
            "/%41CCOUNT",
            "/shop/../account",
            "/./account",
            "/%2e%2e/account",
            "/x/%2E%2e/account",
            "///account",
        ] {
            assert_eq!(normalize(p), "/account", "{p}");
        }
        for p in ["/account/", "/account//", "/account/.", "/account/x/..", "/Account/./"] {
            assert_eq!(normalize(p), "/account/", "{p}");
        }
    }

    #[test]
    fn each_step() {
        // Reserved escapes stay escaped (lower-cased); a broken escape is left as it is.
        assert_eq!(normalize("/a%2Fb/%20x/%7e%5F"), "/a%2fb/%20x/~_");
        assert_eq!(normalize("/100%/%zz/%4"), "/100%/%zz/%4");
        // Never above the root; relative paths stay relative.
        assert_eq!(normalize("/../../a/./b/../c"), "/a/c");
        assert_eq!(normalize("/.."), "/");
        assert_eq!(normalize("a/./b//c"), "a/b/c");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("*"), "*");
        // Non-ASCII text is kept as it is (only ASCII letters fold).
        assert_eq!(normalize("/Ünïcode/É"), "/Ünïcode/É");
    }

    #[test]
    fn the_query_is_untouched() {
        assert_eq!(normalize("/Search//x/../?Q=%41B//..&x=/../"), "/search/?Q=%41B//..&x=/../");
        assert_eq!(normalize("/p?Q=A"), "/p?Q=A");
        assert!(matches!(normalize("/p?Q=A%2F//"), Cow::Borrowed(_)));
    }

    #[test]
    fn normal_paths_are_borrowed() {
        for p in ["/", "/p/1", "/checkout", "/.well-known/x", "/a..b/.c/c.", "/a%2fb", "/x?y=Z", "/ünï", ""] {
            assert!(matches!(normalize(p), Cow::Borrowed(_)), "{p}");
        }
    }

    /// Over every short string of an alphabet of the awkward characters: the result is a fixed
    /// point (normalising again changes nothing), `is_normal` never claims a path normal that
    /// would change, and normal results are borrowed.
    #[test]
    fn idempotent_and_the_fast_check_agrees() {
        let alphabet = ['/', '.', '%', '2', 'e', 'E', 'a', '?', 'F'];
        let mut checked = 0;
        for len in 0..=6u32 {
            for mut i in 0..alphabet.len().pow(len) {
                let mut s = String::new();
                for _ in 0..len {
                    s.push(alphabet[i % alphabet.len()]);
                    i /= alphabet.len();
                }
                let once = normalize(&s).into_owned();
                assert_eq!(normalize(&once), once.as_str(), "not idempotent on {s:?}");
                assert!(matches!(normalize(&once), Cow::Borrowed(_)), "{once:?} from {s:?} allocates again");
                let path = s.split('?').next().unwrap_or("");
                if is_normal(path.as_bytes()) {
                    assert_eq!(once, s, "{s:?} passed the fast check but changes");
                }
                checked += 1;
            }
        }
        assert!(checked > 500_000, "{checked}");
    }
}
