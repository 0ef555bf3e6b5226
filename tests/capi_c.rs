//! The C ABI from C: the header is current (with its section comments) and compiles as C99
//! and C++11, the API keeps one family per concept within 120 functions, the shared library
//! (built as bindings/c/Makefile builds it) exports only `saslmech_*` and has its SONAME, and
//! the C tests (bindings/c/tests/test_api.c) pass as they are, under AddressSanitizer +
//! UndefinedBehaviorSanitizer, and under valgrind with no errors and no leaks.
#![cfg(feature = "capi")]

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use support::capi::{lib_dir, make_c, require, root, run, text};

fn read(path: impl AsRef<std::path::Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The names of the functions `src/ffi/` exports.
fn exported_in_source() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let dir = root().join("src/ffi");
    for entry in std::fs::read_dir(&dir).expect("src/ffi") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = read(&path);
        let mut lines = src.lines();
        while let Some(line) = lines.next() {
            if line.trim() == "#[unsafe(no_mangle)]" {
                let decl = lines.next().expect("a function follows no_mangle");
                let name = decl
                    .split("fn ")
                    .nth(1)
                    .and_then(|rest| rest.split('(').next())
                    .unwrap_or_else(|| panic!("not a function: {decl}"));
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// The C API's size: issue #12 asked for at most 120 functions, one family per concept.
#[test]
fn the_c_api_has_at_most_120_functions_and_no_duplicate_family() {
    let names = exported_in_source();
    assert!(
        (100..=120).contains(&names.len()),
        "{} exported functions",
        names.len()
    );
    // Requests, answers and identities exist once, for both server handles.
    let twice: Vec<_> = names
        .iter()
        .filter(|n| {
            n.starts_with("saslmech_proto_server_request_")
                || n.starts_with("saslmech_proto_server_answer")
                || n.starts_with("saslmech_proto_server_identity_")
                || n.starts_with("saslmech_server_request_")
                || n.starts_with("saslmech_server_answer")
                || n.starts_with("saslmech_server_identity_")
        })
        .collect();
    assert!(twice.is_empty(), "per-handle request family: {twice:?}");
    // One way to list offered mechanisms, one client constructor per kind of client.
    let constructors: Vec<_> = names.iter().filter(|n| n.contains("client_new")).collect();
    assert_eq!(
        constructors,
        ["saslmech_client_new", "saslmech_proto_client_new"],
        "client constructors"
    );
    assert!(!names.contains("saslmech_proto_server_advertised"));
}

/// Every file of the C ABI stays readable: about 1,000 lines at most.
#[test]
fn no_ffi_file_is_over_a_thousand_lines() {
    for entry in std::fs::read_dir(root().join("src/ffi")).expect("src/ffi") {
        let path = entry.expect("dir entry").path();
        let lines = read(&path).lines().count();
        assert!(lines <= 1000, "{}: {lines} lines", path.display());
    }
}

#[test]
fn header_matches_the_generated_one() {
    let committed = read(root().join("include/saslmech.h"));
    let generated = read(concat!(env!("OUT_DIR"), "/saslmech.h"));
    assert!(
        committed == generated,
        "include/saslmech.h is out of date with src/ffi/; regenerate it with\n\
         \n    SASLMECH_UPDATE_HEADER=1 cargo build --features capi\n\nand commit it"
    );
    // What the header must carry: guards and the Rust doc comments.
    for needle in [
        "#ifndef SASLMECH_H",
        "#define SASLMECH_H",
        "extern \"C\" {",
        "// What a call did. `SASLMECH_OK` is 0",
        "SASLMECH_OK = 0,",
        "typedef struct saslmech_server saslmech_server;",
        "typedef struct saslmech_request saslmech_request;",
        // The section comments build.rs adds, one per area.
        "// Server sessions (saslmech_server)",
        "// Requests, answers and identities (saslmech_request, saslmech_identity)",
        "// Protocol adapters, server side (saslmech_proto_server)",
    ] {
        assert!(committed.contains(needle), "header lacks {needle:?}");
    }
    assert!(
        !committed.contains(" sasl_"),
        "the sasl_ prefix belongs to Cyrus SASL"
    );
    for name in exported_in_source() {
        assert!(
            committed.contains(&format!("{name}(")),
            "{name} not declared in the header"
        );
    }
}

#[test]
fn shared_library_exports_only_saslmech_symbols_and_has_a_soname() {
    require("nm", "binutils");
    require("readelf", "binutils");
    let so = lib_dir().join("libsaslmech.so");
    let out = run(
        Command::new("nm").args(["-D", "--defined-only"]).arg(&so),
        60,
    );
    assert!(out.status.success(), "{}", text(&out));
    let symbols: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    let foreign: Vec<_> = symbols
        .iter()
        .filter(|s| !s.starts_with("saslmech_"))
        .collect();
    assert!(
        foreign.is_empty(),
        "exported besides saslmech_*: {foreign:?}"
    );
    assert_eq!(
        symbols,
        exported_in_source(),
        "exports differ from src/ffi/"
    );

    let out = run(Command::new("readelf").arg("-d").arg(&so), 60);
    let dynamic = String::from_utf8_lossy(&out.stdout);
    assert!(
        dynamic.contains("Library soname: [libsaslmech.so.0]"),
        "no SONAME libsaslmech.so.0:\n{dynamic}"
    );
}

#[test]
fn every_export_is_exercised_by_the_c_tests() {
    let tests = read(root().join("bindings/c/tests/test_api.c"));
    let missing: Vec<_> = exported_in_source()
        .into_iter()
        .filter(|name| !tests.contains(&format!("{name}(")))
        .collect();
    assert!(missing.is_empty(), "not called by test_api.c: {missing:?}");
}

#[test]
fn every_export_is_reached_by_the_capi_fuzz_target() {
    // Every `.rs` file of the target's module folder, concatenated.
    let dir = root().join("fuzz/bodies/src/capi");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    assert!(files.len() > 1, "no module files in {}", dir.display());
    let target: String = files.into_iter().map(read).collect();
    let missing: Vec<_> = exported_in_source()
        .into_iter()
        .filter(|name| {
            !target
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == name)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "not called by fuzz/bodies/src/capi/*.rs: {missing:?}"
    );
}

fn assert_all_passed(out: &std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("checks, 0 failed"),
        "C tests failed:\n{}",
        text(out)
    );
}

#[test]
fn c_tests_pass_static_and_shared_and_the_header_compiles_as_c99_and_cxx11() {
    // make builds header_c99.o (-std=c99 -Wall -Wextra -Wpedantic -Werror) and header_cxx.o
    // (-std=c++11, same warnings), or fails.
    let build = make_c("plain", false);
    assert!(build.join("header_c99.o").is_file() && build.join("header_cxx.o").is_file());
    assert_all_passed(&run(&mut Command::new(build.join("test_api")), 120));

    // The shared build finds the library through its SONAME symlink.
    let out = run(
        Command::new("readelf")
            .arg("-d")
            .arg(build.join("test_api_shared")),
        60,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Shared library: [libsaslmech.so.0]"));
    assert_all_passed(&run(&mut Command::new(build.join("test_api_shared")), 120));
}

#[test]
fn c_tests_pass_under_asan_and_ubsan() {
    let build = make_c("asan", true);

    // The sanitizers are really there: the runtime is linked in ...
    let out = run(Command::new("nm").arg(build.join("test_api")), 60);
    let syms = String::from_utf8_lossy(&out.stdout);
    assert!(
        syms.contains("__asan_init"),
        "test_api is not linked with ASan"
    );
    assert!(
        syms.contains("__ubsan_handle_"),
        "test_api is not linked with UBSan"
    );
    // ... and active: a deliberate overflow built the same way is caught.
    let out = run(Command::new(build.join("asan_canary")).arg("asan"), 60);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr)
                .contains("ERROR: AddressSanitizer: heap-buffer-overflow"),
        "ASan did not catch the canary's overflow:\n{}",
        text(&out)
    );
    let out = run(Command::new(build.join("asan_canary")).arg("ubsan"), 60);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("signed integer overflow"),
        "UBSan did not catch the canary's overflow:\n{}",
        text(&out)
    );

    let out = run(
        Command::new(build.join("test_api"))
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=1:halt_on_error=1:abort_on_error=0",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
        120,
    );
    assert_all_passed(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Sanitizer"), "sanitizer report:\n{stderr}");
}

fn valgrind(program: &std::path::Path) {
    require("valgrind", "valgrind");
    let out = run(
        Command::new("valgrind")
            .args([
                "--leak-check=full",
                "--show-leak-kinds=all",
                "--errors-for-leak-kinds=all",
                "--error-exitcode=1",
            ])
            .arg(program),
        300,
    );
    assert_all_passed(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors from 0 contexts"),
        "valgrind errors:\n{stderr}"
    );
    assert!(
        stderr.contains("All heap blocks were freed -- no leaks are possible"),
        "valgrind found leaked or unfreed memory:\n{stderr}"
    );
}

#[test]
fn c_tests_pass_under_valgrind_without_errors_or_leaks() {
    let build = make_c("plain", false);
    valgrind(&build.join("test_api"));
    valgrind(&build.join("test_api_shared"));
}
