//! Golden files you can bless: `EDGESEG_BLESS=1 cargo test` rewrites them; otherwise a mismatch
//! fails with a line diff, so a reviewer sees exactly what changed.

use std::path::Path;

/// Compares `actual` with the committed file at `path` (relative to the workspace root).
pub fn assert_golden(path: &str, actual: &str) {
    let full = crate::root().join(path);
    if std::env::var_os("EDGESEG_BLESS").is_some_and(|v| v != "0") {
        if let Some(dir) = full.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&full, actual) {
            panic!("cannot bless {}: {e}", full.display());
        }
        return;
    }
    let expected = read(&full);
    if expected != actual {
        panic!(
            "{path} differs from the output (run with EDGESEG_BLESS=1 to accept the new output):\n{}",
            diff(&expected, actual)
        );
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read golden {} ({e}); create it with EDGESEG_BLESS=1", path.display()))
}

/// A unified-style line diff (`-` expected, `+` actual) with two lines of context.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // Longest common subsequence table; golden files are small.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 3).min(ops.len());
        ops[lo..hi].iter().any(|(c, _)| *c != ' ')
    };
    let mut out = String::from("--- expected\n+++ actual\n");
    let mut skipped = false;
    for (k, (c, line)) in ops.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out.push_str("@@\n");
                skipped = false;
            }
            out.push_str(&format!("{c}{line}\n"));
        } else {
            skipped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn diff_marks_changes_only() {
        let d = super::diff("0\na\nb\nc\nd\ne\nf\ng\n", "0\na\nb\nC\nd\ne\nf\ng\nh\n");
        assert!(d.contains(" a\n b\n-c\n+C\n d\n e\n"), "{d}");
        assert!(d.contains("+h\n"), "{d}");
        assert!(!d.contains(" 0\n"), "context is limited to two lines: {d}");
        assert!(d.contains("@@\n"), "a gap is marked: {d}");
    }
}
