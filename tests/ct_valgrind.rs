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

/// One memcheck report: what kind, and the innermost frame.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Report {
    /// "Use of uninitialised value" (a secret-dependent address: a table index) rather than
    /// a conditional jump on a secret.
    index: bool,
    /// The function of the innermost frame, as valgrind names it.
    function: String,
    /// `file.rs:line` of the innermost frame.
    site: String,
    /// The frames valgrind printed (innermost first, at most two).
    context: String,
}

/// Run one case under memcheck; return its reports (one per kind and site).
fn reports(bin: &PathBuf, case: &str) -> Vec<Report> {
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
    let mut found = Vec::new();
    let mut lines = stderr.lines();
    while let Some(l) = lines.next() {
        let index = l.contains("Use of uninitialised value");
        if index || l.contains("depends on uninitialised value") {
            let at = lines.next().unwrap_or_default();
            let by = lines.next().unwrap_or_default();
            let context = format!("{at}\n{by}");
            // "==1== at 0x1229F4: path::to::fn (cram_md5.rs:128)"
            let (function, site) = match at.rsplit_once(" (") {
                Some((f, l)) => (
                    f.split_once(": ").map_or(f, |(_, f)| f).to_owned(),
                    l.trim_end_matches(')').to_owned(),
                ),
                None => (String::new(), at.to_owned()),
            };
            found.push(Report {
                index,
                function,
                site,
                context,
            });
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Run one case under memcheck; return the source location (`file.rs:line`) of the
/// innermost frame of each report.
fn run(bin: &PathBuf, case: &str) -> Vec<String> {
    let mut sites: Vec<String> = reports(bin, case).into_iter().map(|r| r.site).collect();
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
        // SCRAM's server side is src/mech/scram/server.rs.
        ("scram_sha_1_stored_keys", "server.rs"),
        ("scram_sha_256_stored_keys", "server.rs"),
        ("scram_sha_512_stored_keys", "server.rs"),
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

/// Issue #11 (4): stored keys are parsed and compared, and client messages decoded, without
/// a secret-dependent branch or table index.
///
/// * `CramMd5Keys` equality: no report at all in the library.
/// * Parsing an RFC 5803 entry (StoredKey and ServerKey secret) and decoding a PLAIN message
///   as the server does (the text secret but for its last two characters, which fix the
///   decoded length): no
///   secret-dependent memory index anywhere, and branches only on whether the whole text is
///   valid — `base64ct`'s verdicts (`decode`'s error check and its check that the last block
///   is canonical) and the caller's own on the result.
/// * Each has a control that must be flagged: the memchr `split_once` and the `base64`
///   crate's table-driven decoder over the same secret text, and `==` on the keys' bytes.
#[test]
fn stored_keys_and_client_messages_are_parsed_in_constant_time() {
    let bin = build();
    // Every case is run and every problem reported together.
    let mut problems = Vec::new();
    let library = |r: &Report| !r.site.starts_with("ct_grind.rs:");
    let eq: Vec<Report> = reports(&bin, "cram_md5_keys_eq")
        .into_iter()
        .filter(library)
        .collect();
    if !eq.is_empty() {
        problems.push(format!("cram_md5_keys_eq: {eq:#?}"));
    }
    // The library's own verdict on the result: in the base64 module (`decode_into`,
    // `decode_secret`) or, for the entry as a whole, the parser.
    for (case, own_files) in [
        ("scram_keys_rfc5803", &["b64.rs:", "scram.rs:"][..]),
        ("plain_message_b64", &["b64.rs:"][..]),
    ] {
        let all: Vec<Report> = reports(&bin, case).into_iter().filter(library).collect();
        let leaks: Vec<&Report> = all
            .iter()
            .filter(|r| {
                let own = own_files.iter().any(|f| r.site.starts_with(f));
                r.index || !(is_base64ct_verdict(r) || own)
            })
            .collect();
        if !leaks.is_empty() {
            problems.push(format!(
                "{case}: secret-dependent branches or indexes beyond the validity verdict: \
                 {leaks:#?}"
            ));
        }
    }
    for case in [
        "control_rfc5803_split",
        "control_rfc5803_table_b64",
        "control_cram_md5_keys_bytes_eq",
        "control_plain_message_table_b64",
    ] {
        if run(&bin, case).is_empty() {
            problems.push(format!(
                "{case}: a variable-time parse or comparison went unnoticed"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `base64ct`'s branches on the validity of a whole text: `Encoding::decode`'s final check of
/// its error accumulator and `validate_last_block`'s check that the text is canonical (inlined
/// into `decode`). Not its padding or length handling (`decode_padding`, slicing, copies).
///
/// The debug info names `decode` either by its trait path or, when it is inlined into our
/// caller, as the generic `decode<base64ct::alphabet::…>`: which one depends on the inlining
/// the rest of the crate leads to, so both are recognised.
fn is_base64ct_verdict(r: &Report) -> bool {
    const DECODE: &str = "base64ct::encoding::Encoding>::decode";
    const DECODE_INLINED: &str = "decode<base64ct::alphabet::";
    !r.index
        && r.site.contains("encoding.rs:")
        && (r.context.contains(DECODE) || r.context.contains(DECODE_INLINED))
        && (r.function.ends_with(DECODE)
            || r.function.starts_with(DECODE_INLINED)
            || r.function == "validate_last_block"
            || r.function == "UnknownInlinedFun")
}
