//! The repository holds sources, not build output, and its README stays short.
//!
//! Build output once slipped into the index (`bindings/c/build-asan/`, 40 MB of binaries,
//! although `.gitignore` listed it). These tests read the index with `git ls-files` and fail
//! on any tracked file that is build output: a path under a `target/` or `build*/` directory,
//! an object file or library by its name, a file `.gitignore` ignores, or a file that starts
//! with the ELF or `ar` magic (executables, shared and static libraries, object files).
//!
//! CI runs from a git clone, so these tests need `git` and a git checkout, and fail (they do
//! not skip) without them.

use std::io::Read as _;
use std::path::Path;
use std::process::Command;

/// The largest README.md allowed: what a newcomer reads on one screen-scroll per topic.
/// Details belong in `docs/`.
const README_MAX_BYTES: u64 = 16 * 1024;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `git <args>` in the repository, split at NUL bytes (use `-z`).
fn git_paths(args: &[&str]) -> Vec<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `git {}`: {e}; this test needs git",
                args.join(" ")
            )
        });
    assert!(
        out.status.success(),
        "`git {}` failed (this test needs a git checkout):\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

fn tracked() -> Vec<String> {
    let paths = git_paths(&["ls-files", "-z"]);
    assert!(
        paths.iter().any(|p| p == "Cargo.toml"),
        "`git ls-files` does not list Cargo.toml: not the saslmech checkout?"
    );
    paths
}

/// Why `path` looks like build output by its name, or `None`.
fn build_output_by_name(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.split('/').collect();
    let (file, dirs) = parts.split_last()?;
    if dirs
        .iter()
        .any(|d| *d == "target" || d.starts_with("target-"))
    {
        return Some("under a cargo target directory");
    }
    if dirs
        .iter()
        .any(|d| *d == "build" || d.starts_with("build-"))
    {
        return Some("under a build directory");
    }
    let ext = file.rsplit_once('.').map(|(_, e)| e);
    if matches!(
        ext,
        Some("o" | "obj" | "a" | "lib" | "so" | "dylib" | "dll" | "exe" | "rlib" | "rmeta" | "pdb")
    ) {
        return Some("an object file or library by its name");
    }
    // Versioned shared libraries: libsaslmech.so.0, libsaslmech.so.0.1.0.
    if file.contains(".so.") {
        return Some("a versioned shared library by its name");
    }
    None
}

/// Why the file's first bytes say it is a binary build product, or `None`.
fn build_output_by_content(path: &Path) -> Option<&'static str> {
    if !path.is_file() {
        return None;
    }
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let head = head.get(..n)?;
    if head.starts_with(b"\x7fELF") {
        return Some("an ELF file (executable, shared library or object)");
    }
    if head.starts_with(b"!<arch>\n") {
        return Some("an ar archive (static library)");
    }
    None
}

#[test]
fn no_build_output_is_tracked() {
    let mut bad = Vec::new();
    for path in tracked() {
        // A tracked file deleted from the working tree has no content to check.
        let why =
            build_output_by_name(&path).or_else(|| build_output_by_content(&root().join(&path)));
        if let Some(why) = why {
            bad.push(format!("  {path}: {why}"));
        }
    }
    assert!(
        bad.is_empty(),
        "build output is tracked; remove it from the index with `git rm -r --cached PATH` \
         (and list it in .gitignore):\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_tracked_file_is_ignored() {
    // Tracked files that the repository's .gitignore files match: once committed, ignoring no
    // longer protects them. (Only the .gitignore files in the tree count, not a user's global
    // excludes, so that the test says the same on every machine.)
    let ignored = git_paths(&[
        "ls-files",
        "-z",
        "--cached",
        "--ignored",
        "--exclude-per-directory=.gitignore",
    ]);
    assert!(
        ignored.is_empty(),
        "tracked although .gitignore lists them; `git rm -r --cached` them:\n  {}",
        ignored.join("\n  ")
    );
}

#[test]
fn the_name_rules_catch_what_they_should() {
    for path in [
        "target/debug/saslmech",
        "fuzz/target/x86_64-unknown-linux-gnu/release/capi",
        "target-old/debug/libsaslmech.so",
        "bindings/c/build/test_api",
        "bindings/c/build-asan/test_api.o",
        "bindings/c/bench/build/bench",
        "smtpd.o",
        "libsaslmech.a",
        "libsaslmech.so",
        "lib/libsaslmech.so.0.1.0",
    ] {
        assert!(build_output_by_name(path).is_some(), "{path} not caught");
    }
    for path in [
        "build.rs",
        "Cargo.toml",
        "fuzz/fuzz_targets/capi.rs",
        "bindings/c/Makefile",
        "bindings/c/saslmech.pc.in",
        "docs/performance.svg",
        "src/b64.rs",
    ] {
        assert_eq!(build_output_by_name(path), None, "{path} caught");
    }
}

#[test]
fn readme_stays_lean() {
    let size = std::fs::metadata(root().join("README.md"))
        .expect("README.md")
        .len();
    assert!(
        size <= README_MAX_BYTES,
        "README.md is {size} bytes, over {README_MAX_BYTES}: keep it to what a newcomer needs \
         (what it is, the two commands, the mechanism table, a Rust and a C example, links) \
         and move details to docs/"
    );
}
