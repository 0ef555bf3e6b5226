//! The libsasl2 plugins under test, the programs the tests need, and libsasl2's own view of
//! which plugin registers which mechanism (`saslpluginviewer`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use super::private_postfix::{POSTFIX_CMD_TIMEOUT, run_bounded};

/// Debian's libsasl2 plugin directory (multiarch, amd64).
pub const SYSTEM_PLUGIN_DIR: &str = "/usr/lib/x86_64-linux-gnu/sasl2";
/// Where `scripts/install-deps.sh --e2e` unpacks Debian's `libsasl2-modules-kdexoauth2`
/// (unpacked, not installed: in the system directory it would take XOAUTH2 from every
/// libsasl2 program on the machine).
pub const KDE_PLUGIN_DIR: &str = "/var/lib/saslmech-e2e/kdexoauth2/usr/lib/x86_64-linux-gnu/sasl2";

/// The mechanism plugins under test, in a directory of their own.
pub struct Plugins {
    dir: TempDir,
}

/// Cyrus SASL's own mechanism plugins, standing in for ours to prove the harness.
const CYRUS_OWN: &[(&str, &str)] = &[
    ("PLAIN", "plain"),
    ("LOGIN", "login"),
    ("CRAM-MD5", "crammd5"),
    ("SCRAM-SHA-256", "scram"),
];

impl Plugins {
    /// A plugin directory for one test.
    pub fn get() -> Plugins {
        ensure_programs();
        let dir = TempDir::new("plugins");
        for (_, name) in CYRUS_OWN {
            let lib = format!("lib{name}.so");
            std::os::unix::fs::symlink(
                Path::new(SYSTEM_PLUGIN_DIR).join(&lib),
                dir.path().join(&lib),
            )
            .expect("symlink a plugin");
        }
        Plugins { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The name libsasl2 gives the plugin that provides `mech`.
    pub fn plugin_name(&self, mech: &str) -> &'static str {
        CYRUS_OWN
            .iter()
            .find(|(m, _)| *m == mech)
            .map(|(_, n)| *n)
            .unwrap_or_else(|| panic!("no plugin under test provides {mech}"))
    }

    /// The mechanisms the relay test uses, as `smtp_sasl_mechanism_filter` names them.
    pub fn relay_mechanisms(&self) -> Vec<&'static str> {
        vec!["plain"]
    }

    /// The mechanisms smtpd offers from the plugin.
    pub fn smtpd_mechanisms(&self) -> Vec<&'static str> {
        CYRUS_OWN.iter().map(|(m, _)| *m).collect()
    }

    /// The client's plugin path: ours first, then Debian's directory.
    pub fn client_sasl_path(&self) -> String {
        format!("{}:{SYSTEM_PLUGIN_DIR}", self.dir().display())
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
        "/usr/bin/swaks",
        "/usr/bin/gsasl",
        "/usr/sbin/saslpasswd2",
        "/usr/sbin/saslpluginviewer",
        "/usr/bin/flock",
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
