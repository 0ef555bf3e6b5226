//! `make install` and the pkg-config link lines the README gives, tested as written: a program
//! that knows only the installed files links dynamically and fully statically, and runs.
#![cfg(feature = "capi")]

mod support;

use std::path::Path;
use std::process::Command;

use support::capi::{lib_dir, require, root, run, scratch, text};

/// The README's link lines (checked to be there verbatim), `$(...)` expanded by the shell.
const DYNAMIC: &str = "cc app.c -o app $(pkg-config --cflags --libs saslmech)";
const STATIC: &str = "cc -static app.c -o app $(pkg-config --cflags --libs --static saslmech)";

fn install(destdir: &Path, prefix: &str, build: &str) {
    let _ = std::fs::remove_dir_all(destdir);
    let out = run(
        Command::new("make")
            .current_dir(root().join("bindings/c"))
            .arg("--no-print-directory")
            .arg("install")
            .arg("SKIP_CARGO=1")
            .arg(format!("SASLMECH_LIB={}", lib_dir().display()))
            .arg(format!("BUILD={}", scratch(build).display()))
            .arg(format!("PREFIX={prefix}"))
            .arg(format!("DESTDIR={}", destdir.display())),
        120,
    );
    assert!(out.status.success(), "make install failed:\n{}", text(&out));
}

/// Compile `bindings/c/tests/link_test.c` as `app.c` with one of the README's lines in `dir`,
/// with pkg-config pointed at an installed tree by `env`; run the result.
fn link_and_run(dir: &Path, line: &str, env: &[(&str, String)], ld_path: Option<&Path>) -> String {
    std::fs::copy(
        root().join("bindings/c/tests/link_test.c"),
        dir.join("app.c"),
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.join("app"));
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir).arg("-ec").arg(line);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(&mut cmd, 120);
    assert!(out.status.success(), "`{line}` failed:\n{}", text(&out));

    let mut app = Command::new(dir.join("app"));
    if let Some(p) = ld_path {
        app.env("LD_LIBRARY_PATH", p);
    }
    let out = run(&mut app, 60);
    assert!(out.status.success(), "app failed:\n{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("link_test: ok, saslmech "));
    let out = run(Command::new("readelf").arg("-d").arg(dir.join("app")), 60);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn readme_states_the_tested_link_lines() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for line in [DYNAMIC, STATIC] {
        assert!(
            readme.contains(line),
            "README.md lacks the tested line `{line}`"
        );
    }
}

#[test]
fn make_install_into_destdir_gives_working_pkg_config_link_lines() {
    require("pkg-config", "pkg-config");
    require("readelf", "binutils");
    let dir = scratch("install-destdir");
    let destdir = dir.join("stage");
    install(&destdir, "/usr", "install-build-destdir");

    let lib = destdir.join("usr/lib");
    for f in [
        "usr/include/saslmech.h",
        "usr/lib/libsaslmech.a",
        "usr/lib/pkgconfig/saslmech.pc",
    ] {
        assert!(destdir.join(f).is_file(), "{f} not installed");
    }
    let so = std::fs::read_link(lib.join("libsaslmech.so")).expect("libsaslmech.so symlink");
    assert_eq!(so, Path::new("libsaslmech.so.0"));
    let real = std::fs::read_link(lib.join("libsaslmech.so.0")).expect("SONAME symlink");
    assert!(lib.join(&real).is_file(), "{} missing", real.display());
    let pc = std::fs::read_to_string(lib.join("pkgconfig/saslmech.pc")).unwrap();
    assert!(pc.contains("prefix=/usr\n") && pc.contains("Libs: -L${libdir} -lsaslmech"));
    assert!(pc.contains(&format!("Version: {}\n", env!("CARGO_PKG_VERSION"))));

    // A staged tree: pkg-config's sysroot prefixes -I and -L with DESTDIR.
    let env = [
        (
            "PKG_CONFIG_LIBDIR",
            lib.join("pkgconfig").display().to_string(),
        ),
        ("PKG_CONFIG_SYSROOT_DIR", destdir.display().to_string()),
    ];
    let out = run(
        Command::new("pkg-config")
            .args(["--cflags", "--libs", "saslmech"])
            .envs(env.iter().map(|(k, v)| (k, v))),
        30,
    );
    let flags = String::from_utf8_lossy(&out.stdout);
    assert!(
        flags.contains(&format!("-I{}/usr/include", destdir.display()))
            && flags.contains(&format!("-L{}/usr/lib", destdir.display()))
            && flags.contains("-lsaslmech"),
        "unexpected flags: {flags}"
    );

    let dynamic = link_and_run(&dir, DYNAMIC, &env, Some(&lib));
    assert!(
        dynamic.contains("Shared library: [libsaslmech.so.0]"),
        "{dynamic}"
    );
    let fully_static = link_and_run(&dir, STATIC, &env, None);
    assert!(
        !fully_static.contains("Shared library:"),
        "the static link still needs shared libraries:\n{fully_static}"
    );
}

#[test]
fn make_install_into_a_prefix_works_with_pkg_config_path() {
    require("pkg-config", "pkg-config");
    let dir = scratch("install-prefix");
    let prefix = dir.join("prefix");
    let _ = std::fs::remove_dir_all(&prefix);
    install(
        Path::new(""),
        &prefix.display().to_string(),
        "install-build-prefix",
    );
    let env = [(
        "PKG_CONFIG_PATH",
        prefix.join("lib/pkgconfig").display().to_string(),
    )];
    let dynamic = link_and_run(&dir, DYNAMIC, &env, Some(&prefix.join("lib")));
    assert!(
        dynamic.contains("Shared library: [libsaslmech.so.0]"),
        "{dynamic}"
    );
}
