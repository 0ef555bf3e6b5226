//! GSSAPI (RFC 4752) and GS2-KRB5 (RFC 5801) through the C API against a real private MIT KDC
//! (`tests/support/kdc.rs`): the library built as `make -C bindings/c FEATURES=gssapi` builds
//! it, and the C program `bindings/c/tests/test_gssapi.c` (client and server of this library
//! in one process, linked statically with the Kerberos libraries the Makefile names for
//! `Libs.private`) run with the KDC's environment: success with the principal mapped to a
//! local user, a principal and an authzid the server refuses, and no ticket on the client;
//! and `bindings/c/tests/test_api.c`, the whole C API test, against that library.
//! Once more under valgrind (no errors, no leaks; MIT krb5's saved error message suppressed by
//! name in `bindings/c/tests/mit-krb5.supp`) and under AddressSanitizer + UBSan.
#![cfg(all(feature = "capi", feature = "gssapi"))]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::capi::{cargo, require, root, run, scratch, text};
use support::kdc::Kdc;

/// The static library with the features `capi,gssapi`, built as `make FEATURES=gssapi`
/// builds it (into this run's target directory) and copied aside, so that another test
/// binary's build of the plain C library cannot replace it under us.
fn gssapi_lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable in target/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("target directory");
    let mut cmd = cargo();
    cmd.current_dir(root())
        .args(["rustc", "--quiet", "--lib", "--features", "capi,gssapi"])
        .args(["--crate-type", "staticlib"])
        .arg("--target-dir")
        .arg(target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let out = run(&mut cmd, 900);
    assert!(out.status.success(), "cargo rustc failed:\n{}", text(&out));
    let dir = scratch("lib-gssapi");
    std::fs::copy(profile_dir.join("libsaslmech.a"), dir.join("libsaslmech.a"))
        .expect("copy libsaslmech.a");
    dir
}

/// `make FEATURES=gssapi` of the C test program against the library in `lib`, with
/// AddressSanitizer + UndefinedBehaviorSanitizer if `sanitize`.
fn build_test_gssapi(lib: &Path, sanitize: bool) -> PathBuf {
    require("make", "make");
    require("cc", "gcc");
    require("pkg-config", "pkg-config");
    let build = scratch(if sanitize {
        "build-gssapi-asan"
    } else {
        "build-gssapi"
    });
    let program = build.join("test_gssapi");
    let mut make = Command::new("make");
    make.current_dir(root().join("bindings/c"))
        .arg("--no-print-directory")
        .arg("SKIP_CARGO=1")
        .arg("FEATURES=gssapi")
        .arg(format!("SASLMECH_LIB={}", lib.display()))
        .arg(format!("BUILD={}", build.display()))
        .arg(&program)
        .arg(build.join("saslmech.pc"));
    if sanitize {
        make.arg("SANITIZE=1");
    } else {
        make.arg(build.join("test_api"));
    }
    let out = run(&mut make, 300);
    assert!(out.status.success(), "make failed:\n{}", text(&out));
    // The static link (always redone: the library was just copied) named MIT krb5's GSS-API
    // library, and so does the pkg-config file's Libs.private, which `pkg-config --static`
    // adds to an application's static link.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("-lgssapi_krb5"),
        "not linked with krb5:\n{stdout}"
    );
    let pc = std::fs::read_to_string(build.join("saslmech.pc")).expect("saslmech.pc");
    let private = pc
        .lines()
        .find_map(|l| l.strip_prefix("Libs.private:"))
        .unwrap_or_else(|| panic!("no Libs.private in saslmech.pc:\n{pc}"));
    assert!(
        private.contains("-lgssapi_krb5") && private.contains("-lpthread"),
        "Libs.private: {private}"
    );
    program
}

fn assert_passed(out: &Output, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let checks: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("checks: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        out.status.success() && checks > 0,
        "{what} failed:\n{}",
        text(out)
    );
}

/// Run the program with a ticket and without, through `wrap` (valgrind) if given, with
/// `env` added; returns the stderr of both runs.
fn run_both(kdc: &Kdc, program: &Path, wrap: &[&str], env: &[(&str, &str)]) -> [String; 2] {
    let command = |args: &[&str]| {
        let mut cmd = match wrap.split_first() {
            Some((tool, tool_args)) => {
                let mut c = Command::new(tool);
                c.args(tool_args).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args).envs(kdc.env());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    };
    let out = run(&mut command(&[]), 300);
    assert_passed(&out, &format!("{wrap:?} test_gssapi"));
    eprintln!(
        "{} {wrap:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    // No ticket: a credential cache that does not exist.
    let empty = format!("FILE:{}/no-such-cache", kdc.dir.display());
    let mut cmd = command(&["noticket"]);
    let no_ticket = run(cmd.env("KRB5CCNAME", &empty), 300);
    assert_passed(&no_ticket, &format!("{wrap:?} test_gssapi noticket"));
    [
        String::from_utf8_lossy(&out.stderr).into_owned(),
        String::from_utf8_lossy(&no_ticket.stderr).into_owned(),
    ]
}

#[test]
fn c_client_and_server_complete_gssapi_and_gs2_krb5_with_typed_failures() {
    // The Kerberos packages (libkrb5-dev for the link, the KDC programs) before building.
    support::kdc::ensure_installed();
    let lib = gssapi_lib_dir();
    let program = build_test_gssapi(&lib, false);
    // The whole C API test (every export, every mechanism's handshake) against the library
    // with the feature: what `make FEATURES=gssapi check` runs.
    let out = run(&mut Command::new(program.with_file_name("test_api")), 120);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("checks, 0 failed"),
        "test_api with the feature gssapi failed:\n{}",
        text(&out)
    );
    let kdc = Kdc::start();
    run_both(&kdc, &program, &[], &[]);

    // Under valgrind: no memory errors and every heap block freed, but for MIT krb5's saved
    // error message after a failed gss_init_sec_context (the no-ticket run), suppressed by
    // name in bindings/c/tests/mit-krb5.supp.
    require("valgrind", "valgrind");
    let supp = format!(
        "--suppressions={}",
        root().join("bindings/c/tests/mit-krb5.supp").display()
    );
    let valgrind = [
        "valgrind",
        "--error-exitcode=1",
        "--leak-check=full",
        "--show-leak-kinds=all",
        "--errors-for-leak-kinds=all",
        &supp,
    ];
    let [with_ticket, no_ticket] = run_both(&kdc, &program, &valgrind, &[]);
    for stderr in [&with_ticket, &no_ticket] {
        assert!(
            stderr.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
            "valgrind errors:\n{stderr}"
        );
        for kind in ["definitely", "indirectly", "possibly"] {
            assert!(
                !stderr.contains(&format!("{kind} lost: "))
                    || stderr.contains(&format!("{kind} lost: 0 bytes")),
                "valgrind: memory {kind} lost:\n{stderr}"
            );
        }
    }
    // The successful exchanges free everything, with nothing suppressed.
    assert!(
        with_ticket.contains("All heap blocks were freed -- no leaks are possible"),
        "valgrind found unfreed memory:\n{with_ticket}"
    );

    // Under AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer.
    let program = build_test_gssapi(&lib, true);
    let sanitizers = [
        (
            "ASAN_OPTIONS",
            "detect_leaks=1:halt_on_error=1:abort_on_error=0",
        ),
        ("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
    ];
    for stderr in run_both(&kdc, &program, &[], &sanitizers) {
        assert!(!stderr.contains("Sanitizer"), "sanitizer report:\n{stderr}");
    }
}
