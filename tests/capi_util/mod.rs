//! Shared by the `capi_*` integration tests: locating the library cargo built for this test
//! run, building the C side with `bindings/c/Makefile`, and running programs with timeouts.
#![allow(dead_code)] // each test file uses a different subset

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the `libsaslmech.a` and `libsaslmech.so` that cargo built (with the
/// `capi` feature) for this very test run: next to the test executable.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .expect("test executable has a directory")
        .to_path_buf();
    for lib in ["libsaslmech.a", "libsaslmech.so"] {
        assert!(
            dir.join(lib).is_file(),
            "{lib} not found in {} (cargo builds it next to the tests with --features capi)",
            dir.display()
        );
    }
    dir
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
