//! The panic-freedom lints cannot drift: `src/lib.rs` denies them for all library code outside
//! tests (which `cargo clippy --all-targets --all-features -- -D warnings` in CI enforces), and
//! every exception in `src/` is one of the few listed here with its reason.

use std::fs;
use std::path::Path;

const DENIED: &[&str] = &[
    "clippy::unwrap_used",
    "clippy::expect_used",
    "clippy::panic",
    "clippy::indexing_slicing",
    "clippy::unreachable",
    "clippy::todo",
    "clippy::unimplemented",
];

/// (file, lint): the justified exceptions. The reason is written next to each in the file.
const EXCEPTIONS: &[(&str, &str)] = &[
    // Fuzz oracles must crash on a broken promise; compiled only with feature `fuzzing`.
    ("src/fuzzing.rs", "clippy::panic"),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn lib_denies_the_panic_lints_outside_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let block = lib
        .split("#![cfg_attr(")
        .nth(1)
        .expect("src/lib.rs: the #![cfg_attr(not(test), deny(...))] lint block is gone");
    let block = &block[..block.find(")]").unwrap()];
    assert!(
        block.trim_start().starts_with("not(test),"),
        "lint block: {block}"
    );
    for lint in DENIED {
        assert!(block.contains(lint), "src/lib.rs no longer denies {lint}");
    }
    assert!(
        lib.contains("#![forbid(unsafe_code)]"),
        "src/lib.rs: forbid(unsafe_code) is gone"
    );
}

#[test]
fn every_exception_is_listed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for line in text.lines() {
            let line = line.trim();
            if !(line.starts_with("#[allow(") || line.starts_with("#![allow(")) {
                continue;
            }
            for lint in DENIED {
                if line.contains(lint) {
                    found.push((rel.clone(), lint.to_string()));
                }
            }
        }
    }
    for (file, lint) in &found {
        assert!(
            EXCEPTIONS.iter().any(|(f, l)| f == file && l == lint),
            "{file} allows {lint}: justify it and list it in tests/lint_policy.rs"
        );
    }
}
