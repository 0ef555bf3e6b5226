//! Constant time, checked the ctgrind way: `examples/ct_grind.rs` marks secret bytes undefined
//! for valgrind memcheck and runs the engine's secret comparisons; memcheck reports every
//! branch or memory index that depends on them. Built with optimizations (`--profile bench`:
//! release plus debug info for the stack traces), as the code ships.
//!
//! * The comparison primitives (`ct_eq`, `ct_eq_password`, the CRAM-MD5 HMAC and digest
//!   check) must give no report at all.
//! * The PLAIN, LOGIN and CRAM-MD5 stored-secret checks and the SCRAM-SHA-1/-256 proof check
//!   against stored keys (StoredKey, ServerKey secret) in a real session must give exactly
//!   one report, in the mechanism's own file: the branch on the (public) verdict. One report
//!   proves the secret reached the verdict (the marking works); more would be a leak.
//! * The controls (slice `==`, an early-exit loop) must be reported: the method can fail.
//!
//! Needs valgrind (Debian package `valgrind`, installed by scripts/install-deps.sh).

use std::path::PathBuf;
use std::process::Command;

/// Build the example with optimizations; return its path.
fn build() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--profile",
            "bench",
            "--example",
            "ct_grind",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo");
    assert!(status.success(), "building examples/ct_grind.rs failed");
    // target/debug/deps/ct_valgrind-HASH -> target/
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let bin = target.join("release/examples/ct_grind");
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

/// Run one case under memcheck; return the source location (`file.rs:line`) of the
/// innermost frame of each report.
fn run(bin: &PathBuf, case: &str) -> Vec<String> {
    let out = Command::new("valgrind")
        .args([
            "--tool=memcheck",
            "--leak-check=no",
            "--error-exitcode=0",
            "--num-callers=4",
            "--error-limit=no",
        ])
        .arg(bin)
        .arg(case)
        .output()
        .unwrap_or_else(|e| {
            panic!("valgrind not runnable ({e}): install the Debian package valgrind")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("ct_grind: {case} done")),
        "ct_grind {case} did not run to the end:\n{stdout}\n{stderr}"
    );
    let mut sites = Vec::new();
    let mut lines = stderr.lines();
    while let Some(l) = lines.next() {
        if l.contains("depends on uninitialised value") || l.contains("Use of uninitialised value")
        {
            let at = lines.next().unwrap_or_default();
            // "==1== at 0x1229F4: path::to::fn (cram_md5.rs:128)"
            let loc = at
                .rsplit_once('(')
                .map(|(_, l)| l.trim_end_matches(')').to_owned())
                .unwrap_or_else(|| at.to_owned());
            sites.push(loc);
        }
    }
    sites.sort();
    sites.dedup();
    sites
}

#[test]
fn secret_comparisons_have_no_secret_dependent_branch_or_index() {
    let bin = build();
    for case in ["ct_eq", "ct_eq_password", "cram_md5_digest"] {
        let sites = run(&bin, case);
        assert!(
            sites.is_empty(),
            "{case}: secret-dependent branches or indexes at {sites:?}"
        );
    }
    // Exactly one report each, at the verdict, in the mechanism's (or parser's) own file.
    for (case, file) in [
        ("plain_stored_password", "plain.rs"),
        ("login_stored_password", "login.rs"),
        ("cram_md5_stored_password", "cram_md5.rs"),
        ("cram_md5_stored_keys", "cram_md5.rs"),
        ("cram_md5_keys_hex", "cram_md5.rs"),
        ("scram_sha_1_stored_keys", "scram.rs"),
        ("scram_sha_256_stored_keys", "scram.rs"),
    ] {
        // Reports in ct_grind.rs itself come after the verdict (the harness branching on the
        // step it got back) and are not the library's.
        let sites: Vec<String> = run(&bin, case)
            .into_iter()
            .filter(|s| !s.starts_with("ct_grind.rs:"))
            .collect();
        assert_eq!(
            sites.len(),
            1,
            "{case}: expected only the verdict, got {sites:?}"
        );
        assert!(
            sites[0].starts_with(&format!("{file}:")),
            "{case}: the one report must be the verdict in {file}, got {sites:?}"
        );
    }
    // Controls: non-constant-time comparisons are caught.
    for case in ["control_slice_eq", "control_early_exit"] {
        let sites = run(&bin, case);
        assert!(
            !sites.is_empty(),
            "{case}: a variable-time comparison went unnoticed"
        );
    }
}
