//! The libsasl2 plugins under test, the programs the tests need, and libsasl2's own view of
//! which plugin registers which mechanism (`saslpluginviewer`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Once, OnceLock};

use super::private_postfix::{POSTFIX_CMD_TIMEOUT, run_bounded};

/// Debian's libsasl2 plugin directory (multiarch, amd64).
pub const SYSTEM_PLUGIN_DIR: &str = "/usr/lib/x86_64-linux-gnu/sasl2";
/// Where `scripts/install-deps.sh --e2e` unpacks Debian's `libsasl2-modules-kdexoauth2`
/// (unpacked, not installed: in the system directory it would take XOAUTH2 from every
/// libsasl2 program on the machine).
pub const KDE_PLUGIN_DIR: &str = "/var/lib/saslmech-e2e/kdexoauth2/usr/lib/x86_64-linux-gnu/sasl2";

/// libsasl2's name for our plugin: its file name `libcyrus-saslmech.so` minus `lib`, cut at
/// the first `.`.
pub const PLUGIN_NAME: &str = "cyrus-saslmech";
/// The plugin's file and the directory `make -C bindings/cyrus install` puts it in by default.
pub const PLUGIN_FILE: &str = "libcyrus-saslmech.so";
pub const DEFAULT_PLUGIN_DIR: &str = "/usr/lib/x86_64-linux-gnu/saslmech/sasl2";

/// The saslmech plugin, installed for one test with the documented command
/// (`make -C bindings/cyrus install`) into a staging directory (`DESTDIR`), so that it sits in
/// `$DESTDIR/usr/lib/x86_64-linux-gnu/saslmech/sasl2`, a directory of its own.
pub struct Plugins {
    stage: TempDir,
}

impl Plugins {
    pub fn get() -> Plugins {
        ensure_programs();
        let build = built();
        let stage = TempDir::new("stage");
        run_checked(
            make(build)
                .arg("install")
                .arg(format!("DESTDIR={}", stage.path().display())),
            None,
        );
        let p = Plugins { stage };
        assert!(
            p.dir().join(PLUGIN_FILE).is_file(),
            "make install put no {PLUGIN_FILE} in {}",
            p.dir().display()
        );
        p
    }

    /// The plugin's directory.
    pub fn dir(&self) -> PathBuf {
        self.stage
            .path()
            .join(DEFAULT_PLUGIN_DIR.trim_start_matches('/'))
    }

    /// The name libsasl2 gives the plugin that provides `mech`: ours, for every mechanism the
    /// tests use.
    pub fn plugin_name(&self, _mech: &str) -> &'static str {
        PLUGIN_NAME
    }

    /// The mechanisms the relay test uses, as `smtp_sasl_mechanism_filter` names them.
    pub fn relay_mechanisms(&self) -> Vec<&'static str> {
        vec!["xoauth2", "oauthbearer"]
    }

    /// The mechanisms smtpd offers from the plugin.
    pub fn smtpd_mechanisms(&self) -> Vec<&'static str> {
        vec!["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"]
    }

    /// The client's plugin path: ours first, then Debian's own directory, as documented. Here
    /// Debian's `libsasl2-modules-kdexoauth2` (unpacked) stands between them, as if installed
    /// in Debian's directory: its XOAUTH2 fails Postfix with SASL_BADPARAM, so a delivery
    /// proves that ours won the name clash.
    pub fn client_sasl_path(&self) -> String {
        format!(
            "{}:{KDE_PLUGIN_DIR}:{SYSTEM_PLUGIN_DIR}",
            self.dir().display()
        )
    }

    /// The server's plugin path: ours, then a directory holding only Cyrus's sasldb auxprop
    /// plugin (made in `scratch`), so that no other mechanism plugin can answer.
    pub fn server_sasl_path(&self, scratch: &TempDir) -> String {
        let aux = scratch.path().join("auxprop");
        std::fs::create_dir_all(&aux).expect("mkdir auxprop");
        std::os::unix::fs::symlink(
            Path::new(SYSTEM_PLUGIN_DIR).join("libsasldb.so"),
            aux.join("libsasldb.so"),
        )
        .expect("symlink libsasldb.so");
        format!("{}:{}", self.dir().display(), aux.display())
    }
}

/// Where this test run builds the plugin, and the library it links.
struct Build {
    /// target/<profile>, holding libsaslmech.a.
    lib: PathBuf,
    /// target/<profile>/cyrus-postfix-plugin, the Makefile's BUILD directory.
    out: PathBuf,
}

/// `make -C bindings/cyrus` with this test run's static library (built by cargo here, into
/// this run's target directory and profile, as bindings/c/Makefile and the C tests build it).
fn make(b: &Build) -> Command {
    let mut cmd = Command::new("flock");
    cmd.args([
        "-w",
        "900",
        "/tmp/saslmech-cyrus-postfix-make.lock",
        "make",
        "-C",
    ])
    .arg(repo_root().join("bindings/cyrus"))
    .arg("SKIP_CARGO=1")
    .arg(format!("SASLMECH_LIB={}", b.lib.display()))
    .arg(format!("BUILD={}", b.out.display()));
    cmd
}

fn built() -> &'static Build {
    static BUILT: OnceLock<Build> = OnceLock::new();
    BUILT.get_or_init(|| {
        // libsaslmech.a as the C tests build it (the same cargo invocation and environment,
        // so that they share one artifact).
        let lib = super::capi::lib_dir();
        let b = Build {
            out: lib.join("cyrus-postfix-plugin"),
            lib,
        };
        run_checked(&mut make(&b), None);
        b
    })
}

/// For each mechanism, the plugins that register it on the server (`-s`) or client (`-c`)
/// side, in libsasl2's order, as `saslpluginviewer` lists them with `SASL_PATH=sasl_path`.
pub fn providers(side: &str, sasl_path: &str) -> BTreeMap<String, Vec<String>> {
    let out = run_checked(
        Command::new("saslpluginviewer")
            .arg(side)
            .env("SASL_PATH", sasl_path),
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut plugin: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Plugin \"") {
            plugin = rest.split('"').next().map(str::to_owned);
        } else if let (Some(rest), Some(p)) = (t.strip_prefix("SASL mechanism: "), &plugin) {
            let mech = rest.split(',').next().unwrap_or("").to_owned();
            let v = map.entry(mech).or_default();
            if !v.contains(p) {
                v.push(p.clone());
            }
        }
    }
    assert!(
        !map.is_empty(),
        "saslpluginviewer {side} listed no mechanism with SASL_PATH={sasl_path}:\n{text}"
    );
    map
}

pub fn server_providers(sasl_path: &str) -> BTreeMap<String, Vec<String>> {
    providers("-s", sasl_path)
}

/// Runs a command that must succeed (bounded), with `input` on stdin.
pub fn run_checked(cmd: &mut Command, input: Option<&[u8]>) -> Output {
    let desc = format!("{cmd:?}");
    let out = run_bounded(cmd, input, POSTFIX_CMD_TIMEOUT);
    assert!(
        out.status.success(),
        "{desc} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What the tests run, by absolute path.
fn needed() -> Vec<String> {
    let mut v: Vec<String> = [
        "/usr/sbin/postfix",
        "/usr/sbin/sendmail",
        "/usr/sbin/postmap",
        "/usr/bin/swaks",
        "/usr/bin/gsasl",
        "/usr/sbin/saslpasswd2",
        "/usr/sbin/saslpluginviewer",
        "/usr/bin/flock",
        "/usr/bin/make",
        "/usr/bin/cc",
        "/usr/include/sasl/saslplug.h",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for lib in [
        "libsasldb.so",
        "libplain.so",
        "liblogin.so",
        "libcrammd5.so",
        "libscram.so",
    ] {
        v.push(format!("{SYSTEM_PLUGIN_DIR}/{lib}"));
    }
    v.push(format!("{KDE_PLUGIN_DIR}/libkdexoauth2.so"));
    v
}

fn missing() -> Vec<String> {
    needed()
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect()
}

/// Installs what is missing with `scripts/install-deps.sh --e2e` (serialised with the other
/// end-to-end tests by flock); panics if anything is still missing, or when not root.
pub fn ensure_programs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let uid = run_bounded(Command::new("id").arg("-u"), None, POSTFIX_CMD_TIMEOUT);
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "these tests run private Postfix instances (master runs as root) and must run as root"
        );
        let before = missing();
        if before.is_empty() {
            return;
        }
        let script = repo_root().join("scripts/install-deps.sh");
        eprintln!(
            "cyrus_postfix: installing {before:?} with {} --e2e",
            script.display()
        );
        let out = run_bounded(
            Command::new("flock")
                .args(["-w", "900", "/tmp/saslmech-e2e-deps.lock", "bash"])
                .arg(&script)
                .arg("--e2e"),
            None,
            POSTFIX_CMD_TIMEOUT * 15,
        );
        let after = missing();
        assert!(
            after.is_empty(),
            "still missing {after:?} after `{} --e2e` ({}):\n{}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static TMP_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A temporary directory (mode 0755: Postfix's daemons run as user postfix), removed when
/// dropped (kept with `E2E_KEEP=1`).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = TMP_COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = PathBuf::from(format!("/tmp/smcp-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
