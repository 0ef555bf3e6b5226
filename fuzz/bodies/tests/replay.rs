//! Replays every committed corpus file of every fuzz target through the target's function,
//! on stable, so a crash a campaign found stays fixed. Also checks that the cargo-fuzz
//! targets, `saslmech::fuzzing::TARGETS` and the corpus directories agree.
#![cfg(feature = "fuzzing")]

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use saslmech::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
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

#[test]
fn every_corpus_file_replays_without_panic() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, target) in TARGETS {
        let files = corpus_files(name);
        assert!(!files.is_empty(), "fuzz/corpus/{name}/ has no seeds");
        for file in files {
            let data = fs::read(&file).unwrap();
            total += 1;
            if let Err(e) = panic::catch_unwind(|| target(&data)) {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: {msg}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "corpus inputs that panic:\n{}",
        failures.join("\n")
    );
    assert!(total >= TARGETS.len());
}

#[test]
fn targets_cargo_fuzz_and_corpus_agree() {
    let cargo = fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    let mut bins: Vec<String> = cargo
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|n| *n != "saslmech-fuzz")
        // The C API target exists only with the `capi` feature (the fuzz crate enables it).
        .filter(|n| cfg!(feature = "capi") || *n != "capi")
        .map(str::to_owned)
        .collect();
    bins.sort();
    let mut files: Vec<String> = fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_owned))
        .filter(|n| cfg!(feature = "capi") || n != "capi")
        .collect();
    files.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(
        bins, names,
        "fuzz/Cargo.toml [[bin]]s vs saslmech::fuzzing::TARGETS"
    );
    assert_eq!(
        files, names,
        "fuzz/fuzz_targets/*.rs vs saslmech::fuzzing::TARGETS"
    );
    for name in &names {
        let body = fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs"))).unwrap();
        assert!(
            body.contains(&format!("saslmech::fuzzing::{name}(data)")),
            "fuzz_targets/{name}.rs does not call saslmech::fuzzing::{name}"
        );
    }
}
