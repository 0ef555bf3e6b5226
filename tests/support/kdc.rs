//! A private MIT Kerberos KDC for the GSSAPI tests: a realm in a temporary directory, the KDC
//! on a loopback ephemeral port (started with `krb5kdc -n`, stopped by its PID on drop),
//! principals `alice` (password [`ALICE_PASSWORD`]), `bob`, `smtp/localhost` and
//! `imap/localhost`, the keytab `smtp.keytab` holding only `smtp/localhost`, and a credential
//! cache with alice's ticket. Missing programs are installed through
//! `scripts/install-deps.sh --kerberos` (under flock); a KDC that does not come up fails the
//! test.

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const REALM: &str = "SASLMECH.TEST";
pub const ALICE_PASSWORD: &str = "alice-kerberos-password";

pub struct Kdc {
    pub dir: PathBuf,
    pub port: u16,
    kdc: Child,
}

/// Cyrus SASL's GSSAPI plugin (`libsasl2-modules-gssapi-mit`), if installed.
pub fn cyrus_gssapi_plugin() -> Option<PathBuf> {
    let lib = std::fs::read_dir("/usr/lib").ok()?;
    lib.filter_map(Result::ok)
        .map(|e| e.path().join("sasl2/libgssapiv2.so"))
        .find(|p| p.exists())
}

/// Install the Kerberos packages if a program (or Cyrus's GSSAPI plugin) is missing, with
/// `scripts/install-deps.sh --kerberos` under the lock the other installing tests take.
pub fn ensure_installed() {
    let have = ["krb5kdc", "kdb5_util", "kadmin.local", "kinit"]
        .iter()
        .all(|p| find(p).is_some())
        && cyrus_gssapi_plugin().is_some();
    if have {
        return;
    }
    // The repository root (this file serves the root crate's and cli/'s tests).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| d.join("scripts/install-deps.sh").is_file())
        .expect("scripts/install-deps.sh above the crate");
    let status = Command::new("flock")
        .args(["-w", "900", "/tmp/saslmech-e2e-deps.lock", "bash"])
        .arg(root.join("scripts/install-deps.sh"))
        .arg("--kerberos")
        .status()
        .expect("run scripts/install-deps.sh --kerberos");
    assert!(status.success(), "installing the Kerberos packages failed");
    assert!(
        cyrus_gssapi_plugin().is_some(),
        "libsasl2-modules-gssapi-mit did not install Cyrus's GSSAPI plugin"
    );
}

/// A program in PATH or the sbin directories (krb5kdc is in /usr/sbin).
pub fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    // A port free for both TCP and UDP on loopback.
    for _ in 0..50 {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for the KDC");
}

impl Kdc {
    pub fn start() -> Kdc {
        ensure_installed();
        let dir = std::env::temp_dir().join(format!(
            "saslmech-kdc-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let d = dir.display();
        std::fs::write(
            dir.join("krb5.conf"),
            format!(
                "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n \
                 dns_lookup_realm = false\n dns_canonicalize_hostname = false\n rdns = false\n \
                 udp_preference_limit = 1\n\n[realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{port}\n }}\n\n\
                 [domain_realm]\n localhost = {REALM}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("kdc.conf"),
            format!(
                "[kdcdefaults]\n kdc_listen = 127.0.0.1:{port}\n kdc_tcp_listen = 127.0.0.1:{port}\n\n\
                 [realms]\n {REALM} = {{\n  database_name = {d}/principal\n  key_stash_file = {d}/stash\n  \
                 acl_file = {d}/kadm5.acl\n  max_life = 10h\n  \
                 supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n }}\n\n\
                 [logging]\n kdc = FILE:{d}/kdc.log\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("kadm5.acl"), "").unwrap();
        let mut kdc = Kdc {
            dir,
            port,
            kdc: Command::new("true").spawn().unwrap(),
        };
        kdc.tool(
            "kdb5_util",
            &["create", "-s", "-r", REALM, "-P", "master-password"],
        );
        for q in [
            format!("addprinc -pw {ALICE_PASSWORD} alice"),
            "addprinc -pw bob-kerberos-password bob".to_owned(),
            "addprinc -randkey smtp/localhost".to_owned(),
            "addprinc -randkey imap/localhost".to_owned(),
            format!("ktadd -k {}/smtp.keytab smtp/localhost", kdc.dir.display()),
            format!("ktadd -k {}/imap.keytab imap/localhost", kdc.dir.display()),
        ] {
            kdc.tool("kadmin.local", &["-r", REALM, "-q", &q]);
        }
        let _ = kdc.kdc.wait();
        kdc.kdc = kdc
            .command(&find("krb5kdc").expect("krb5kdc"))
            .args(["-n", "-r", REALM])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start krb5kdc");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the KDC did not come up");
            if let Ok(Some(status)) = kdc.kdc.try_wait() {
                panic!("krb5kdc exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        kdc.kinit("alice", ALICE_PASSWORD, &kdc.ccache(), None);
        kdc
    }

    /// The environment every Kerberos program (and this process's GSS-API) needs.
    pub fn env(&self) -> Vec<(String, String)> {
        let d = self.dir.display();
        vec![
            ("KRB5_CONFIG".into(), format!("{d}/krb5.conf")),
            ("KRB5_KDC_PROFILE".into(), format!("{d}/kdc.conf")),
            ("KRB5CCNAME".into(), self.ccache()),
            ("KRB5_KTNAME".into(), format!("FILE:{d}/smtp.keytab")),
        ]
    }

    pub fn ccache(&self) -> String {
        format!("FILE:{}/cc", self.dir.display())
    }

    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }

    fn tool(&self, program: &str, args: &[&str]) {
        let out = self
            .command(&find(program).unwrap_or_else(|| panic!("{program} not found")))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `kinit` `principal` into the cache `ccache`, optionally with a lifetime (`-l`).
    pub fn kinit(&self, principal: &str, password: &str, ccache: &str, lifetime: Option<&str>) {
        use std::io::Write;
        let mut cmd = self.command(&find("kinit").expect("kinit"));
        cmd.env("KRB5CCNAME", ccache);
        if let Some(l) = lifetime {
            cmd.args(["-l", l]);
        }
        let mut child = cmd
            .arg(principal)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kinit {principal}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = self.kdc.kill();
        let _ = self.kdc.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
