//! Build script: with the `capi` feature, the C header. (The shared library's SONAME is set
//! where it is built, by `bindings/c/Makefile`: `cargo rustc --crate-type cdylib,staticlib --
//! -C link-arg=-Wl,-soname,libsaslmech.so.0`.)
//!
//! The header is generated into `$OUT_DIR/saslmech.h` on every build of the `capi` feature;
//! the committed copy `include/saslmech.h` is rewritten only when `SASLMECH_UPDATE_HEADER=1`
//! is set, and the test `capi_header` fails when the two differ:
//!
//! ```sh
//! SASLMECH_UPDATE_HEADER=1 cargo build --features capi
//! ```

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "capi")]
    header::generate();
}

#[cfg(feature = "capi")]
mod header {
    use std::path::{Path, PathBuf};

    pub fn generate() {
        let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
        let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
        for input in ["cbindgen.toml", "src/lib.rs", "src/ffi"] {
            println!("cargo:rerun-if-changed={input}");
        }
        println!("cargo:rerun-if-env-changed=SASLMECH_UPDATE_HEADER");

        let config = match cbindgen::Config::from_file(dir.join("cbindgen.toml")) {
            Ok(c) => c,
            Err(e) => {
                println!("cargo:warning=cbindgen.toml: {e}");
                std::process::exit(1);
            }
        };
        // `with_src` parses the files directly (milliseconds); `with_crate` would spawn
        // `cargo metadata` and take far longer.
        let bindings = match cbindgen::Builder::new()
            .with_config(config)
            .with_src(dir.join("src/ffi/mod.rs"))
            .generate()
        {
            Ok(b) => b,
            Err(e) => {
                println!("cargo:warning=cbindgen: {e}");
                std::process::exit(1);
            }
        };
        let mut generated = Vec::new();
        bindings.write(&mut generated);
        let header = with_sections(&String::from_utf8_lossy(&generated), &dir);
        write(&out.join("saslmech.h"), &header);
        if std::env::var_os("SASLMECH_UPDATE_HEADER").is_some_and(|v| v == "1") {
            write(&dir.join("include/saslmech.h"), &header);
        }
    }

    fn write(path: &Path, text: &str) {
        if let Err(e) = std::fs::write(path, text) {
            println!("cargo:warning={}: {e}", path.display());
            std::process::exit(1);
        }
    }

    /// The files of `src/ffi/` that export functions, in the order `mod.rs` declares them (and
    /// cbindgen therefore emits their functions), with the title of their header section.
    const SECTIONS: &[(&str, &str)] = &[
        ("general.rs", "Library-wide functions"),
        (
            "keys.rs",
            "Stored secrets: CRAM-MD5 keys, SCRAM keys, the SCRAM client cache",
        ),
        (
            "server_config.rs",
            "Server configuration (saslmech_server_config)",
        ),
        ("server.rs", "Server sessions (saslmech_server)"),
        (
            "request.rs",
            "Requests, answers and identities (saslmech_request, saslmech_identity)",
        ),
        (
            "client.rs",
            "Clients (saslmech_credentials, saslmech_client_config, saslmech_client)",
        ),
        (
            "proto_server.rs",
            "Protocol adapters, server side (saslmech_proto_server)",
        ),
        (
            "proto_client.rs",
            "Protocol adapters, client side (saslmech_proto_client)",
        ),
    ];

    /// cbindgen keeps no comments but the items' docs: put a section comment (the file's title
    /// and the first paragraph of its module docs) before the first function of each file.
    fn with_sections(header: &str, dir: &Path) -> String {
        let mut lines: Vec<String> = header.lines().map(str::to_owned).collect();
        for (file, title) in SECTIONS {
            let path = dir.join("src/ffi").join(file);
            let Ok(src) = std::fs::read_to_string(&path) else {
                println!("cargo:warning=cannot read {}", path.display());
                std::process::exit(1);
            };
            let Some(first) = src
                .lines()
                .find_map(|l| l.split("extern \"C\" fn ").nth(1))
                .and_then(|rest| rest.split('(').next())
            else {
                println!("cargo:warning={file} exports no function");
                std::process::exit(1);
            };
            let call = format!("{first}(");
            let Some(mut at) = lines
                .iter()
                .position(|l| !l.starts_with("//") && l.contains(&call))
            else {
                println!("cargo:warning={first} is not in the header");
                std::process::exit(1);
            };
            // Above the function's own doc comment.
            while at > 0 && lines[at - 1].starts_with("//") {
                at -= 1;
            }
            let rule = format!("// {}", "=".repeat(94));
            let mut banner = vec![rule.clone(), format!("// {title}"), "//".to_owned()];
            banner.extend(
                src.lines()
                    .map_while(|l| l.strip_prefix("//!"))
                    .take_while(|l| !l.trim().is_empty())
                    .map(|l| format!("//{l}")),
            );
            banner.push(rule);
            banner.push(String::new());
            lines.splice(at..at, banner);
        }
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }
}
