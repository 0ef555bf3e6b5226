//! Build script: the shared library's SONAME, and with the `capi` feature the C header.
//!
//! The header is generated into `$OUT_DIR/saslmech.h` on every build of the `capi` feature;
//! the committed copy `include/saslmech.h` is rewritten only when `SASLMECH_UPDATE_HEADER=1`
//! is set, and the test `capi_header` fails when the two differ:
//!
//! ```sh
//! SASLMECH_UPDATE_HEADER=1 cargo build --features capi
//! ```

fn main() {
    // A plain cdylib has no SONAME; C programs linked against libsaslmech.so must record the
    // ABI version, so that an incompatible 1.x is never loaded in place of 0.x.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsaslmech.so.0");
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "capi")]
    header::generate();
}

#[cfg(feature = "capi")]
mod header {
    use std::path::PathBuf;

    pub fn generate() {
        let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
        let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
        for input in ["cbindgen.toml", "src/lib.rs", "src/ffi.rs"] {
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
            .with_src(dir.join("src/ffi.rs"))
            .generate()
        {
            Ok(b) => b,
            Err(e) => {
                println!("cargo:warning=cbindgen: {e}");
                std::process::exit(1);
            }
        };
        bindings.write_to_file(out.join("saslmech.h"));
        if std::env::var_os("SASLMECH_UPDATE_HEADER").is_some_and(|v| v == "1") {
            bindings.write_to_file(dir.join("include/saslmech.h"));
        }
    }
}
