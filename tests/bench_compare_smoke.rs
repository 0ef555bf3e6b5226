//! The side-by-side benchmark harness (bindings/c/bench) still builds against this run's C
//! library and runs: a tiny run where every row is present and every handshake of saslmech,
//! GNU SASL and Cyrus SASL succeeded, and runs where one library's server holds the wrong
//! password must fail, naming that library, instead of printing figures.
#![cfg(feature = "capi")]

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use support::capi::{lib_dir, require, root, run, scratch, text};

/// Build the harness and the allocation counter once for this test binary.
fn harness() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        require("make", "make");
        require("cc", "gcc");
        require("pkg-config", "pkg-config");
        require("flock", "util-linux");
        let dir = scratch("bench");
        let mut cmd = Command::new("flock");
        cmd.arg(dir.join(".lock"))
            .arg("make")
            .current_dir(root().join("bindings/c/bench"))
            .arg("--no-print-directory")
            .arg("all")
            .arg("SKIP_CARGO=1")
            .arg(format!("SASLMECH_LIB={}", lib_dir().display()))
            .arg(format!("BUILD={}", dir.display()));
        let out = run(&mut cmd, 300);
        assert!(
            out.status.success(),
            "building the harness failed (it needs libgsasl-dev, libsasl2-dev, libssl-dev and \
             libsasl2-modules: scripts/install-deps.sh installs them):\n{}",
            text(&out)
        );
        dir
    })
}

/// The `row` lines of a results file: (group, library, status, fields after the status).
fn rows(tsv: &str) -> Vec<(String, String, String, Vec<String>)> {
    tsv.lines()
        .filter(|l| l.starts_with("row\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 5, "short row: {l:?}");
            (
                f[1].to_owned(),
                f[2].to_owned(),
                f[3].to_owned(),
                f[4..].iter().map(|s| (*s).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn every_row_is_present_and_every_handshake_succeeds() {
    require("python3", "python3");
    let dir = harness();
    let tsv = dir.join("smoke.tsv");
    let _ = std::fs::remove_file(&tsv);
    let out = run(
        Command::new(dir.join("bench"))
            .arg("--smoke")
            .arg("--out")
            .arg(&tsv),
        120,
    );
    assert!(out.status.success(), "{}", text(&out));
    let results = std::fs::read_to_string(&tsv).expect("results written");

    // The renderer's own completeness check (what `make smoke` runs) ...
    let check = run(
        Command::new("python3")
            .arg(root().join("bindings/c/bench/render.py"))
            .arg(&tsv)
            .arg("--check"),
        60,
    );
    assert!(check.status.success(), "{}", text(&check));

    // ... and an independent one here.
    let rows = rows(&results);
    let handshakes = [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "SCRAM-SHA-256",
        "SCRAM-SHA-256 protocol only",
    ];
    for group in handshakes {
        for lib in ["saslmech", "gsasl", "cyrus"] {
            let row = rows
                .iter()
                .find(|r| r.0 == group && r.1 == lib)
                .unwrap_or_else(|| panic!("no row for {group} / {lib}:\n{results}"));
            // Not measurable: Cyrus SASL's client takes no salted password.
            let must_measure = group != "SCRAM-SHA-256 protocol only" || lib != "cyrus";
            if !must_measure {
                continue;
            }
            assert_eq!(row.2, "ok", "{group} / {lib} not measured: {row:?}");
            let median: f64 = row.3[0].parse().expect("median");
            let allocs: f64 = row.3[4].parse().expect("allocations");
            assert!(median > 0.0, "{group} / {lib}: median {median}");
            assert!(
                allocs >= 1.0,
                "{group} / {lib}: {allocs} allocations (counter not preloaded?)"
            );
        }
    }
    for lib in ["saslmech", "openssl", "gsasl"] {
        assert!(
            rows.iter()
                .any(|r| r.0 == "PBKDF2-SHA-256 4096" && r.1 == lib && r.2 == "ok"),
            "no PBKDF2 row for {lib}:\n{results}"
        );
    }
    assert!(results.contains("meta\tload_start\t"), "{results}");
}

#[test]
fn a_library_whose_handshakes_fail_fails_the_run() {
    let dir = harness();
    let groups = [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "SCRAM-SHA-256",
        "SCRAM-SHA-256 protocol only",
    ];
    for lib in ["saslmech", "gsasl", "cyrus"] {
        for group in groups {
            if group == "SCRAM-SHA-256 protocol only" && lib == "cyrus" {
                continue; // not measurable (see the other test)
            }
            let out = run(
                Command::new(dir.join("bench")).args([
                    "--smoke",
                    "--sabotage",
                    lib,
                    "--only",
                    group,
                ]),
                120,
            );
            assert_eq!(
                out.status.code(),
                Some(2),
                "{group} / {lib}: {}",
                text(&out)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(&format!("{group} with {lib}: handshake failed")),
                "{group} / {lib}: {stderr}"
            );
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains("row\t"),
                "{group} / {lib}: rows printed despite the failure"
            );
        }
    }
}
