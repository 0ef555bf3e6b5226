//! A Rust program that depends on saslmech without the `capi` feature builds no C library:
//! no `libsaslmech*.so` and no `libsaslmech*.a` anywhere in its target directory (cargo builds
//! every crate type a dependency lists, so a `cdylib` or `staticlib` in saslmech's
//! `[lib] crate-type` would put them there). The C libraries come from
//! `cargo rustc --crate-type cdylib,staticlib --features capi` (bindings/c/Makefile).

use std::path::{Path, PathBuf};

mod support;

use support::capi::{cargo, root, run, scratch, text};

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn a_rust_dependent_builds_no_c_library() {
    let dir = scratch("rust-dependent");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"rust-dependent\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[dependencies]\nsaslmech = {{ path = {:?} }}\n\n[workspace]\n",
            root().display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", saslmech::Mechanism::Plain.name());\n}\n",
    )
    .unwrap();
    // The same versions as the workspace, so that the build needs no network.
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    let target = dir.join("target");
    let out = run(
        cargo()
            .current_dir(&dir)
            .args(["build", "--offline", "--quiet", "--target-dir"])
            .arg(&target),
        900,
    );
    assert!(out.status.success(), "cargo build failed:\n{}", text(&out));

    let mut all = Vec::new();
    files(&target, &mut all);
    let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        all.iter()
            .any(|p| name(p).starts_with("libsaslmech-") && name(p).ends_with(".rlib")),
        "saslmech was not built as a Rust library in {}",
        target.display()
    );
    let c_libraries: Vec<_> = all
        .iter()
        .map(name)
        .filter(|n| n.starts_with("libsaslmech") && (n.contains(".so") || n.ends_with(".a")))
        .collect();
    assert!(
        c_libraries.is_empty(),
        "a Rust dependent built C libraries of saslmech: {c_libraries:?} (is `cdylib` or \
         `staticlib` back in Cargo.toml's [lib] crate-type?)"
    );
}
