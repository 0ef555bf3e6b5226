//! Replays every committed corpus file of every fuzz target through the target's function,
//! on stable, so a crash a campaign found stays fixed (`cargo test --workspace`, which
//! `make check` runs). Also checks that the cargo-fuzz targets, `saslmech_fuzz::TARGETS` and
//! the corpus directories agree.

#![forbid(unsafe_code)]

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use saslmech_fuzz::{GSSAPI_TARGETS, TARGETS};

fn fuzz_dir() -> PathBuf {
    // This crate is `fuzz/bodies/`.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target` on every file and returns one line per file that made it panic (the file
/// and the panic message).
fn replay(target: saslmech_fuzz::Target, files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for file in files {
        let data = fs::read(file).unwrap();
        if let Err(e) = panic::catch_unwind(|| target(&data)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", file.display()));
        }
    }
    failures
}

#[test]
fn every_corpus_file_replays_without_panic() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, target) in TARGETS {
        let files = corpus_files(name);
        assert!(!files.is_empty(), "fuzz/corpus/{name}/ has no seeds");
        total += files.len();
        failures.extend(replay(*target, &files));
    }
    assert!(
        failures.is_empty(),
        "corpus inputs that panic:\n{}",
        failures.join("\n")
    );
    // The committed corpus has thousands of files: a replay that found only a handful read
    // the wrong directory.
    assert!(total >= 1000, "only {total} corpus files replayed");
    println!("replayed {total} corpus files of {} targets", TARGETS.len());
}

/// The replay above can fail: a body that panics on an input is reported with that input's
/// file, and the other files still run.
#[test]
fn replay_reports_an_input_that_makes_a_body_panic() {
    fn panics_on_boom(data: &[u8]) {
        assert!(!data.starts_with(b"boom"), "an oracle failed");
    }
    let dir = std::env::temp_dir().join(format!("saslmech-fuzz-replay-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let (good, bad) = (dir.join("good"), dir.join("bad"));
    fs::write(&good, b"fine").unwrap();
    fs::write(&bad, b"boom!").unwrap();
    let failures = replay(panics_on_boom, &[bad.clone(), good]);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with(&bad.display().to_string()),
        "{failures:?}"
    );
    assert!(failures[0].ends_with("an oracle failed"), "{failures:?}");
}

#[test]
fn targets_cargo_fuzz_and_corpus_agree() {
    let cargo = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let mut bins: Vec<String> = cargo
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "saslmech-fuzz-targets" && *n != "saslmech-fuzz")
        // The C API target exists only with the `capi` feature (the cargo-fuzz crate enables it).
        .filter(|n| cfg!(feature = "capi") || *n != "capi")
        // The GSSAPI framing targets only with `gssapi` (the cargo-fuzz crate enables it).
        .filter(|n| cfg!(feature = "gssapi") || !GSSAPI_TARGETS.contains(n))
        .map(str::to_owned)
        .collect();
    bins.sort();
    let mut files: Vec<String> = fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_owned))
        .filter(|n| cfg!(feature = "capi") || n != "capi")
        .filter(|n| cfg!(feature = "gssapi") || !GSSAPI_TARGETS.contains(&n.as_str()))
        .collect();
    files.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(
        bins, names,
        "fuzz/Cargo.toml [[bin]]s vs saslmech_fuzz::TARGETS"
    );
    assert_eq!(
        files, names,
        "fuzz/fuzz_targets/*.rs vs saslmech_fuzz::TARGETS"
    );
    for name in &names {
        let body = fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs"))).unwrap();
        assert!(
            body.contains(&format!("saslmech_fuzz::{name}(data)")),
            "fuzz_targets/{name}.rs does not call saslmech_fuzz::{name}"
        );
    }
}
