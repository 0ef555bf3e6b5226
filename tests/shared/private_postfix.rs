//! A private instance of Debian's unmodified Postfix for end-to-end tests, shared by the
//! workspace's test suites through `#[path]` (saslmech-authd's `authd/tests/support/mta.rs`
//! and the root package's `tests/cyrus_postfix.rs`). Self-contained: only `std`.
//!
//! `postfix -c DIR` with master running as root, no chroot anywhere, logging to a plain file
//! (`data/maillog`), listening only on 127.0.0.1. The caller adds its SASL lines to `main.cf`
//! and its services to `master.cf`. Dropping the guard stops the instance by its master's PID
//! and removes the directory (kept with `E2E_KEEP=1`).
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long one `postfix`, `postqueue` or `sendmail` command may run.
pub const POSTFIX_CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// What the caller adds to the common configuration.
#[derive(Default)]
pub struct PostfixSpec {
    /// Appended to `main.cf` after the common lines (a later line wins in Postfix).
    pub main_cf: String,
    /// Services appended to `master.cf` after Debian's standard ones.
    pub master_cf: String,
    /// Run smtpd on a free 127.0.0.1 port (`PrivatePostfix::port`), and wait for its banner.
    pub smtpd: bool,
    /// `-o` overrides for that smtpd (e.g. `-o smtpd_sasl_path=smtpd`).
    pub smtpd_args: String,
    /// Further files in the configuration directory, by relative path (e.g. `sasl/smtpd.conf`,
    /// where Debian's Postfix has libsasl2 look for its application configuration).
    pub conf_files: Vec<(String, String)>,
}

/// A running private Postfix.
pub struct PrivatePostfix {
    /// smtpd's loopback port (0 without smtpd).
    pub port: u16,
    /// The instance's directory: `etc/` (main.cf, master.cf), `queue/`, `data/` (maillog).
    pub dir: PathBuf,
    /// The configuration directory (`postfix -c`).
    pub conf: PathBuf,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The `main.cf` lines every instance has: loopback only, private queue and data directories,
/// a plain log file, nothing delivered locally, no rate limits or error sleeps.
pub fn base_main_cf(dir: &Path) -> String {
    let dd = dir.display();
    format!(
        "compatibility_level = 3.6\n\
         queue_directory = {dd}/queue\n\
         data_directory = {dd}/data\n\
         maillog_file = {dd}/data/maillog\n\
         maillog_file_prefixes = {dd}\n\
         myhostname = mx.example.com\n\
         mydomain = example.com\n\
         mydestination =\n\
         inet_interfaces = 127.0.0.1\n\
         inet_protocols = ipv4\n\
         mynetworks = 127.0.0.0/8\n\
         alias_maps =\n\
         alias_database =\n\
         local_recipient_maps =\n\
         smtpd_tls_security_level = none\n\
         smtp_tls_security_level = none\n\
         smtpd_client_connection_count_limit = 0\n\
         smtpd_client_connection_rate_limit = 0\n\
         smtpd_client_auth_rate_limit = 0\n\
         smtpd_error_sleep_time = 0\n\
         default_process_limit = 200\n"
    )
}

/// Debian's standard `master.cf` services, with the chroot column `n` everywhere.
pub const BASE_MASTER_CF: &str = "\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// A free loopback TCP port (bound then released).
pub fn free_loopback_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Runs `cmd` (stdin from `input`), killing it and panicking after `timeout`.
pub fn run_bounded(cmd: &mut Command, input: Option<&[u8]>, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    if let Some(data) = input {
        let mut w = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = w.write_all(&data);
        });
    }
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{desc} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// True while process `pid` exists and has not exited (a zombie counts as exited).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie (state Z) has exited.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .map(|r| !r.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

fn smtp_banner(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 512];
    let ok = matches!(s.read(&mut buf), Ok(n) if n >= 4 && buf.starts_with(b"220"));
    use std::io::Write;
    let _ = s.write_all(b"QUIT\r\n");
    ok
}

impl PrivatePostfix {
    /// Writes the configuration, runs `postfix check` (creates the queue subdirectories with
    /// the right owners) and `postfix start`, and waits (bounded) for smtpd's banner if any.
    /// Needs root (master runs as root) and the `postfix` package.
    pub fn start(spec: &PostfixSpec) -> PrivatePostfix {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        // Short path: UNIX socket paths are limited to 107 bytes.
        let dir = PathBuf::from(format!("/tmp/smpf-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let conf = dir.join("etc");
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(dir.join(sub))
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.join(sub).display()));
        }
        chmod(&dir, 0o755);
        let out = run_bounded(
            Command::new("chown").arg("postfix").arg(dir.join("data")),
            None,
            POSTFIX_CMD_TIMEOUT,
        );
        assert!(out.status.success(), "chown postfix data: {out:?}");
        let port = if spec.smtpd { free_loopback_port() } else { 0 };
        write(
            &conf.join("main.cf"),
            &format!("{}{}", base_main_cf(&dir), spec.main_cf),
        );
        let smtpd = if spec.smtpd {
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd {}\n",
                spec.smtpd_args
            )
        } else {
            String::new()
        };
        write(
            &conf.join("master.cf"),
            &format!("{smtpd}{BASE_MASTER_CF}{}", spec.master_cf),
        );
        for (rel, text) in &spec.conf_files {
            let path = conf.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
            }
            write(&path, text);
        }
        let pf = PrivatePostfix { port, dir, conf };
        pf.postfix("check");
        pf.postfix("start");
        if spec.smtpd {
            let start = Instant::now();
            while !smtp_banner(port) {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "no smtpd banner on 127.0.0.1:{port} after 30 s; log:\n{}",
                    pf.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        pf
    }

    /// `postfix -c CONF WHAT`; on failure runs it again under script(1), since off a tty
    /// postfix exits 1 silently, and panics with what it said and the log.
    pub fn postfix(&self, what: &str) {
        let out = run_bounded(
            Command::new("postfix").arg("-c").arg(&self.conf).arg(what),
            None,
            POSTFIX_CMD_TIMEOUT,
        );
        if !out.status.success() {
            let why = run_bounded(
                Command::new("script").args([
                    "-qec",
                    &format!("postfix -c {} {what}", self.conf.display()),
                    "/dev/null",
                ]),
                None,
                POSTFIX_CMD_TIMEOUT,
            );
            panic!(
                "postfix {what} failed:\n{}{}\n{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&why.stdout),
                String::from_utf8_lossy(&why.stderr),
                self.log()
            );
        }
    }

    /// Submits a message with Postfix's own `sendmail -C CONF -f FROM -- TO` (postdrop and
    /// pickup); panics if sendmail fails.
    pub fn sendmail(&self, from: &str, to: &str, message: &str) {
        let out = run_bounded(
            Command::new("sendmail")
                .arg("-C")
                .arg(&self.conf)
                .args(["-f", from, "--", to]),
            Some(message.as_bytes()),
            POSTFIX_CMD_TIMEOUT,
        );
        assert!(
            out.status.success(),
            "sendmail -f {from} {to} failed ({}):\n{}{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// The instance's log so far (`data/maillog`), lossily decoded.
    pub fn log(&self) -> String {
        std::fs::read(self.dir.join("data/maillog"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Polls the log every 50 ms until `f` finds what it wants, or panics after `timeout`
    /// with the log.
    pub fn wait_log<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            let log = self.log();
            if let Some(v) = f(&log) {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}; Postfix's log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The master process's PID, from its pid file.
    pub fn master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("queue/pid/master.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for PrivatePostfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(pid) = pid {
            for _ in 0..500 {
                if !pid_alive(pid) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if pid_alive(pid) {
                let _ = Command::new("kill")
                    .args(["-s", "KILL", &pid.to_string()])
                    .status();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "--- postfix maillog ({}):\n{}",
                self.dir.display(),
                self.log()
            );
        }
        if std::env::var_os("E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}
