//! Tidy: the repository checked as text, in rust-analyzer's manner (`xtask/src/tidy.rs` there).
//!
//! - every source file (`.rs` under a crate's `src/`, and `js/*.js`) is named in ARCHITECTURE.md's
//!   code map, in its crate's section (by its path from the crate's `src/`, or any suffix of it that
//!   names one file there, or its path from the repository root anywhere in the file);
//! - every repository path the docs name in backticks exists;
//! - no non-test source file is longer than [`MAX_LINES`], except the files in [`OVER_LIMIT`], which
//!   may only shrink.
//!
//! Unit-test files (`tests.rs`, or anything under a `tests/` directory inside `src/`) are neither
//! required in the code map nor held to the line limit: the module they test is.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The longest a non-test source file may be, in lines.
const MAX_LINES: usize = 600;

/// Source files longer than [`MAX_LINES`] when this test was written, with their line counts then
/// (or since, lowered as they shrank). Each may only shrink; lower the number when one does, and
/// delete the entry once the file is at or under the limit.
const OVER_LIMIT: &[(&str, usize)] = &[
    ("edge/src/engine.rs", 635),
    ("edge/src/rule/value.rs", 633),
    ("edge/src/snapshot.rs", 627),
    ("snapshots/src/build.rs", 706),
    ("snapshots/src/definitions.rs", 621),
];

/// The docs whose backticked paths must exist.
const DOCS: &[&str] = &["README.md", "ARCHITECTURE.md", "js/README.md", "snapshots/README.md"];

/// Backticked words in the docs that look like repository paths but name something else: what a
/// command writes, or a path inside the built npm package. Everything under `target/` is skipped
/// too (build output).
const NOT_REPO_PATHS: &[&str] = &[
    // wasm-bindgen's JS glue and its types, written into the npm package's build (`target/js/pkg/*/`).
    "edgeseg.js",
    "edgeseg.d.ts",
    // criterion's per-bench output (`target/bench/criterion/`).
    "estimates.json",
];

/// Extensions that make a backticked word a file path even without a `/`.
const FILE_EXTENSIONS: &[&str] =
    &[".rs", ".md", ".js", ".mjs", ".ts", ".json", ".toml", ".yml", ".yaml", ".py", ".lock", ".txt", ".sh"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate sits in the workspace").to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file and directory of the repository, as `/`-separated paths from its root (build output,
/// dependencies and VCS data left out).
fn repo_paths(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if matches!(name.as_ref(), "target" | "node_modules" | ".git") {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            if path.is_dir() {
                out.insert(format!("{rel}/"));
                walk(root, &path, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// The crate directories: top-level directories with a `Cargo.toml` and a `src/`.
fn crate_dirs(paths: &BTreeSet<String>) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| p.strip_suffix("/Cargo.toml"))
        .filter(|dir| !dir.contains('/') && paths.contains(&format!("{dir}/src/")))
        .map(str::to_owned)
        .collect()
}

fn is_unit_test_file(path: &str) -> bool {
    path.ends_with("/tests.rs") || path.split_once("/src/").is_some_and(|(_, rest)| rest.contains("tests/"))
}

/// The source files the code map must name and the line limit applies to.
fn source_files(paths: &BTreeSet<String>) -> Vec<String> {
    let crates = crate_dirs(paths);
    paths
        .iter()
        .filter(|p| {
            let rs = p.ends_with(".rs") && crates.iter().any(|c| p.starts_with(&format!("{c}/src/")));
            let js = p.starts_with("js/") && p.ends_with(".js") && !p["js/".len()..].contains('/');
            (rs || js) && !is_unit_test_file(p)
        })
        .cloned()
        .collect()
}

/// A doc's backticked spans, each with the crate directory whose section (`### \`dir/\``) it is in.
/// Fenced code blocks are skipped: they hold commands and diagrams, not references.
fn code_spans(text: &str, crates: &[String]) -> Vec<(String, Option<String>)> {
    let mut spans = Vec::new();
    let mut section: Option<String> = None;
    let mut fenced = false;
    let mut prose = String::new();
    let flush = |prose: &mut String, section: &Option<String>, spans: &mut Vec<(String, Option<String>)>| {
        for (i, part) in prose.split('`').enumerate() {
            if i % 2 == 1 {
                spans.push((part.to_owned(), section.clone()));
            }
        }
        prose.clear();
    };
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if line.starts_with('#') {
            flush(&mut prose, &section, &mut spans);
            section = if line.starts_with("### ") {
                crates.iter().chain(["js".to_owned()].iter()).find(|c| line.contains(&format!("`{c}/`"))).cloned()
            } else {
                None
            };
        }
        prose.push_str(line);
        prose.push('\n');
    }
    flush(&mut prose, &section, &mut spans);
    spans
}

/// Whether a backticked word is meant as a path in the repository: it ends in a file extension,
/// or it starts with a directory that is there (from the root, the doc's directory or the section's
/// crate), so `edgeseg/worker` (an npm subpath) or `text/html` are not taken for paths.
fn looks_like_path(word: &str, doc_dir: &str, section: Option<&str>, paths: &BTreeSet<String>) -> bool {
    const NOT_IN_PATHS: &[char] = &[
        ' ', '\n', '<', '>', '|', '*', '?', '{', '}', '$', '@', '=', ':', ',', '(', ')', '[', ']', '\'', '"', '\\',
        '…', '#', '^',
    ];
    if word.is_empty()
        || word.contains(NOT_IN_PATHS)
        || word.starts_with(['/', '-', '.', '~'])
        || word.starts_with("target/")
        || word.contains("...")
    {
        return false;
    }
    if FILE_EXTENSIONS.iter().any(|ext| word.ends_with(ext) && word.len() > ext.len()) {
        return true;
    }
    word.contains('/') && {
        let first = word.split('/').next().unwrap_or_default();
        let bases = [Some(String::new()), (!doc_dir.is_empty()).then(|| format!("{doc_dir}/"))]
            .into_iter()
            .chain(section.map(|c| [Some(format!("{c}/")), Some(format!("{c}/src/"))]).into_iter().flatten())
            .flatten();
        bases.into_iter().any(|base| paths.contains(&format!("{base}{first}/")))
    }
}

/// What a backticked word names: the repository paths it resolves to, from the root, from the doc's
/// directory, or, in a crate's section of ARCHITECTURE.md, as a suffix of paths in that crate.
fn resolve(word: &str, doc_dir: &str, section: Option<&str>, paths: &BTreeSet<String>) -> Vec<String> {
    let exact = |p: String| paths.contains(&p).then_some(p);
    let is_dir = word.ends_with('/');
    let mut found: Vec<String> = [
        Some(word.to_owned()),
        (!doc_dir.is_empty()).then(|| format!("{doc_dir}/{word}")),
        section.map(|c| format!("{c}/{word}")),
        section.map(|c| format!("{c}/src/{word}")),
    ]
    .into_iter()
    .flatten()
    .filter_map(|p| exact(p.clone()).or_else(|| (!is_dir).then(|| exact(format!("{p}/"))).flatten()))
    .collect();
    if found.is_empty()
        && let Some(c) = section
    {
        let suffix = format!("/{word}");
        found = paths
            .iter()
            .filter(|p| p.starts_with(&format!("{c}/")) && (p.ends_with(&suffix) || p.ends_with(&format!("{suffix}/"))))
            .cloned()
            .collect();
    }
    found.sort();
    found.dedup();
    found
}

/// The one source file a backticked word in ARCHITECTURE.md names, if it names exactly one.
fn names_source_file(
    word: &str,
    section: Option<&str>,
    sources: &BTreeSet<&str>,
    paths: &BTreeSet<String>,
) -> Option<String> {
    let word = if word.ends_with('/') { format!("{word}mod.rs") } else { word.to_owned() };
    if sources.contains(word.as_str()) {
        return Some(word);
    }
    let section = section?;
    let hits: Vec<String> =
        resolve(&word, "", Some(section), paths).into_iter().filter(|p| sources.contains(p.as_str())).collect();
    match hits.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

#[test]
fn every_source_file_is_in_the_code_map() {
    let root = root();
    let paths = repo_paths(&root);
    let crates = crate_dirs(&paths);
    let sources = source_files(&paths);
    let source_set: BTreeSet<&str> = sources.iter().map(String::as_str).collect();
    let text = read(&root.join("ARCHITECTURE.md"));
    let named: BTreeSet<String> = code_spans(&text, &crates)
        .iter()
        .filter_map(|(word, section)| names_source_file(word, section.as_deref(), &source_set, &paths))
        .collect();
    let missing: Vec<&String> = sources.iter().filter(|s| !named.contains(*s)).collect();
    assert!(
        missing.is_empty(),
        "these source files are not in ARCHITECTURE.md's code map; add a line for each under its crate's \
         `### \\`dir/\\`` heading, naming it in backticks by its path from the crate's src/ (e.g. \
         `guest/claim.rs`) or from the repository root, and saying what it holds:\n  {}",
        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn every_path_the_docs_name_exists() {
    let root = root();
    let paths = repo_paths(&root);
    let crates = crate_dirs(&paths);
    let mut broken = Vec::new();
    for doc in DOCS {
        let text = read(&root.join(doc));
        let doc_dir = doc.rsplit_once('/').map_or("", |(dir, _)| dir);
        for (word, section) in code_spans(&text, &crates) {
            let section = if *doc == "ARCHITECTURE.md" { section } else { None };
            if NOT_REPO_PATHS.contains(&word.as_str()) || !looks_like_path(&word, doc_dir, section.as_deref(), &paths) {
                continue;
            }
            if resolve(&word, doc_dir, section.as_deref(), &paths).is_empty() {
                let place = section.map(|c| format!(" (in the `{c}/` section)")).unwrap_or_default();
                broken.push(format!("{doc}: `{word}`{place}"));
            }
        }
    }
    broken.dedup();
    assert!(
        broken.is_empty(),
        "these backticked paths in the docs do not exist; fix the path (from the repository root, from \
         the doc's directory, or, in ARCHITECTURE.md, from the section's crate), or, if it is not a \
         repository path (build output, a path inside the npm package), add it to NOT_REPO_PATHS in \
         tests/suite/tidy.rs with the reason:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn no_source_file_is_over_the_line_limit() {
    let root = root();
    let paths = repo_paths(&root);
    let mut problems = Vec::new();
    for file in source_files(&paths) {
        let lines = read(&root.join(&file)).lines().count();
        match OVER_LIMIT.iter().find(|(f, _)| *f == file) {
            None if lines > MAX_LINES => problems.push(format!(
                "{file} has {lines} lines, over the limit of {MAX_LINES}: split it into modules (do not add it to \
                 OVER_LIMIT in tests/suite/tidy.rs: that list only shrinks)"
            )),
            Some((_, allowed)) if lines > *allowed => problems.push(format!(
                "{file} has {lines} lines, more than the {allowed} it is allowed in OVER_LIMIT (tests/suite/tidy.rs): \
                 it may only shrink; move code out of it to at most {allowed} lines"
            )),
            Some(_) if lines <= MAX_LINES => problems.push(format!(
                "{file} has {lines} lines, at or under the limit of {MAX_LINES}: delete its entry from OVER_LIMIT in \
                 tests/suite/tidy.rs"
            )),
            Some((_, allowed)) if lines < *allowed => problems.push(format!(
                "{file} shrank to {lines} lines: lower its entry in OVER_LIMIT (tests/suite/tidy.rs) from {allowed} to \
                 {lines}, so it cannot grow back"
            )),
            _ => {}
        }
    }
    for (file, _) in OVER_LIMIT {
        if !paths.contains(*file) {
            problems
                .push(format!("{file} is in OVER_LIMIT (tests/suite/tidy.rs) but does not exist: delete its entry"));
        }
    }
    assert!(problems.is_empty(), "line limit:\n  {}", problems.join("\n  "));
}
