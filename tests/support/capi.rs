//! For the tests that build and run C (`capi_*`, `bench_compare_smoke`): building the C
//! libraries for this test run, building the C side with `bindings/c/Makefile`, and running
//! programs with timeouts.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the `libsaslmech.a` and `libsaslmech.so` of this checkout, built
/// once per test binary the way `bindings/c/Makefile` builds them (the crate's own crate types
/// are `lib` only): `cargo rustc --lib --features capi --crate-type cdylib,staticlib`, into this
/// test run's target directory and profile, with the Makefile's SONAME argument.
pub fn lib_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/<this test> -> target/<profile>
            let exe = std::env::current_exe().expect("current_exe");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("test executable in target/<profile>/deps")
                .to_path_buf();
            let target_dir = profile_dir
                .parent()
                .expect("target directory")
                .to_path_buf();
            let mut cmd = cargo();
            cmd.current_dir(root())
                .args(["rustc", "--quiet", "--lib", "--features", "capi"])
                .args(["--crate-type", "cdylib,staticlib"])
                .arg("--target-dir")
                .arg(&target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            // As bindings/c/Makefile: a plain cdylib has no SONAME.
            cmd.args(["--", "-C", "link-arg=-Wl,-soname,libsaslmech.so.0"]);
            let out = run(&mut cmd, 900);
            assert!(
                out.status.success(),
                "cargo rustc --crate-type cdylib,staticlib failed:\n{}",
                text(&out)
            );
            for lib in ["libsaslmech.a", "libsaslmech.so"] {
                assert!(
                    profile_dir.join(lib).is_file(),
                    "{lib} not found in {} after cargo rustc",
                    profile_dir.display()
                );
            }
            profile_dir
        })
        .clone()
}

/// `cargo` with the environment of a shell: the variables cargo sets for this test process
/// would make build scripts that watch them rebuild.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("CARGO_BIN_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&key.as_ref())
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// A scratch directory for this test binary's outputs (under `target/tmp`).
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("capi")
        .join(name);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Fail loudly, naming the package, if a program the tests need is missing. Never skip.
pub fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is not installed: install the Debian package `{package}` \
         (scripts/install-deps.sh does)"
    );
}

static MAKE: Mutex<()> = Mutex::new(());

/// Build the C programs with the Makefile against this run's library, into `build`, with the
/// sanitizers if `sanitize`. Returns the build directory.
pub fn make_c(build: &str, sanitize: bool) -> PathBuf {
    require("make", "make");
    require("cc", "gcc");
    require("c++", "g++");
    require("flock", "util-linux");
    let _guard = MAKE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch(build);
    // flock too, for runners that run tests in parallel processes (cargo nextest).
    let mut cmd = Command::new("flock");
    cmd.arg(dir.join(".lock"))
        .arg("make")
        .current_dir(root().join("bindings/c"))
        .arg("--no-print-directory")
        .arg("all")
        .arg("SKIP_CARGO=1")
        .arg(format!("SASLMECH_LIB={}", lib_dir().display()))
        .arg(format!("BUILD={}", dir.display()));
    if sanitize {
        cmd.arg("SANITIZE=1");
    }
    let out = run(&mut cmd, 300);
    assert!(out.status.success(), "make failed:\n{}", text(&out));
    dir
}

/// stdout and stderr of a finished program, for assertions and messages.
pub fn text(out: &Output) -> String {
    format!(
        "--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run a command to completion, killing it (and failing the test) after `secs` seconds.
pub fn run(cmd: &mut Command, secs: u64) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    wait(child, secs, &format!("{cmd:?}"))
}

/// Wait for a spawned child, collecting its piped output, with a deadline.
pub fn wait(mut child: Child, secs: u64, what: &str) -> Output {
    // Pipes already taken by the caller read as empty.
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut p) = stdout {
            let _ = p.read_to_end(&mut v);
        }
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut p) = stderr {
            let _ = p.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}
