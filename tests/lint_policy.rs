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

/// The modules that may contain `unsafe` (each block justified where it is): the C ABI only
/// (feature `capi`). The fuzz bodies live in their own crate, `fuzz/bodies`.
const UNSAFE_MODULES: &[&str] = &["ffi"];

/// (file, lint): the justified exceptions. The reason is written next to each in the file.
const EXCEPTIONS: &[(&str, &str)] = &[];

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
    // The panic lints: the `#![cfg_attr(not(test), deny(...))]` block (there are other
    // `cfg_attr` blocks, for the unsafe policy).
    let block = lib
        .split("#![cfg_attr(")
        .skip(1)
        .find(|b| b.trim_start().starts_with("not(test),"))
        .expect("src/lib.rs: the #![cfg_attr(not(test), deny(...))] lint block is gone");
    let block = &block[..block.find(")]").unwrap()];
    for lint in DENIED {
        assert!(block.contains(lint), "src/lib.rs no longer denies {lint}");
    }
    // Unsafe code: forbidden in the whole crate without the C ABI; with it, denied at the
    // crate level and forbidden again on every module but the C ABI itself.
    assert!(
        lib.contains("#![cfg_attr(not(feature = \"capi\"), forbid(unsafe_code))]"),
        "src/lib.rs: forbid(unsafe_code) without `capi` is gone"
    );
    assert!(
        lib.contains("#![cfg_attr(feature = \"capi\", deny(unsafe_code))]"),
        "src/lib.rs: deny(unsafe_code) with `capi` is gone"
    );
    let mut attrs: Vec<&str> = Vec::new();
    for line in lib.lines().map(str::trim) {
        if line.starts_with("#[") {
            attrs.push(line);
            continue;
        }
        if let Some(rest) = line.strip_prefix("pub mod ").or(line.strip_prefix("mod ")) {
            let name = rest.trim_end_matches(';');
            let allowed = UNSAFE_MODULES.contains(&name);
            if allowed {
                assert!(
                    attrs.iter().any(|a| a.contains("allow(unsafe_code)")),
                    "src/lib.rs: mod {name} should say allow(unsafe_code) explicitly"
                );
            } else {
                assert!(
                    attrs.contains(&"#[forbid(unsafe_code)]"),
                    "src/lib.rs: mod {name} lacks #[forbid(unsafe_code)]"
                );
            }
        }
        attrs.clear();
    }
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
