//! The auth daemon under test: `saslmech-authd`, or (with `AUTHD_TARGET=dovecot`) Dovecot 2.3's
//! own auth service as a private auth-only instance. Both listen on a UNIX socket (mode 0666,
//! so Postfix's smtpd and Exim can connect) and on a loopback TCP port, and serve the same
//! passwd-file.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::jwt::Keys;
use super::{Proc, TempDir, deps, free_port, run_ok, wait_for, write_file};

/// The users every test can log in as. `carol` has SCRAM-SHA-256 stored keys (PLAIN works,
/// CRAM-MD5 cannot); the others are `{PLAIN}`.
pub const ALICE: (&str, &str) = ("alice@example.com", "alice-secret");
pub const BOB: (&str, &str) = ("bob@example.com", "hunter2 with spaces");
pub const CAROL: (&str, &str) = ("carol@example.com", "carol-scram-only");
/// Added to the passwd-file by the reload test.
pub const DAVE: (&str, &str) = ("dave@example.com", "dave-new");

pub const ISSUER: &str = "https://idp.example.com";
pub const AUDIENCE: &str = "smtp.example.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Saslmech,
    Dovecot,
}

/// `AUTHD_TARGET` (default `saslmech`).
pub fn target() -> Target {
    match std::env::var("AUTHD_TARGET").as_deref() {
        Ok("dovecot") => Target::Dovecot,
        Ok("saslmech") | Ok("") | Err(_) => Target::Saslmech,
        Ok(other) => panic!("AUTHD_TARGET={other}: expected saslmech or dovecot"),
    }
}

/// The daemon binary: `SASLMECH_AUTHD_BIN`, else the one cargo built for these tests.
pub fn authd_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SASLMECH_AUTHD_BIN") {
        return PathBuf::from(p);
    }
    match option_env!("CARGO_BIN_EXE_saslmech-authd") {
        Some(p) => PathBuf::from(p),
        None => panic!("no saslmech-authd binary: set SASLMECH_AUTHD_BIN"),
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// `[auth] plaintext_without_tls` (Dovecot: `disable_plaintext_auth = no`).
    pub plaintext_without_tls: bool,
    pub failure_delay_ms: u32,
    pub max_failures: u32,
    /// Where the users are (default: the harness's passwd-file with alice, bob and carol).
    pub passdb: Passdb,
    /// `[auth] temp_failure` (`"reply"` or `"disconnect"`); `None` leaves the default.
    pub temp_failure: Option<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            plaintext_without_tls: true,
            failure_delay_ms: 0,
            max_failures: 1000,
            passdb: Passdb::PasswdFile,
            temp_failure: None,
        }
    }
}

/// The daemon's passdb.
#[derive(Clone, Debug, Default)]
pub enum Passdb {
    /// The passwd-file this harness writes (alice, bob, carol).
    #[default]
    PasswdFile,
    /// A PostgreSQL database (see `tests/util/pg.rs`): saslmech-authd's `driver = "pgsql"`, or
    /// Dovecot's `passdb { driver = sql }` with `dovecot-pgsql`.
    Pgsql {
        /// libpq key/value connection string (both daemons take the same one).
        connection: String,
        /// saslmech-authd's `password_query`.
        query: String,
        /// Dovecot's `password_query` (Dovecot sets `nologin` for any non-NULL value, so a
        /// boolean column must become NULL when false).
        dovecot_query: String,
        /// saslmech-authd's `query_timeout_ms` (also its `connect_timeout_ms`).
        query_timeout_ms: u32,
    },
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub struct AuthServer {
    pub target: Target,
    pub unix: PathBuf,
    pub tcp_port: u16,
    pub passwd: PathBuf,
    pub keys: Keys,
    pub log: PathBuf,
    config: PathBuf,
    proc: Option<Proc>,
    _tmp: TempDir,
}

/// A passwd-file line in Dovecot's format.
pub fn plain_entry(user: &str, pass: &str) -> String {
    format!("{user}:{{PLAIN}}{pass}::::::\n")
}

/// SCRAM-SHA-256 stored keys as Dovecot writes them (`doveadm pw`, 4096 iterations).
pub fn scram_entry(user: &str, pass: &str) -> String {
    let out = run_ok(Command::new("doveadm").args(["pw", "-s", "SCRAM-SHA-256", "-p", pass]));
    format!("{user}:{}::::::\n", out.stdout.trim())
}

impl AuthServer {
    pub fn start(opts: &Options) -> AuthServer {
        deps::ensure();
        let target = target();
        let tmp = TempDir::new("auth");
        let dir = tmp.path().to_path_buf();
        let passwd = dir.join("users");
        let mut users = String::new();
        users += &plain_entry(ALICE.0, ALICE.1);
        users += &plain_entry(BOB.0, BOB.1);
        users += &scram_entry(CAROL.0, CAROL.1);
        write_file(&passwd, &users);
        let keys = Keys::generate(&dir);
        let unix = dir.join("auth");
        let log = dir.join("daemon.log");
        let (config, tcp_port) = match target {
            Target::Saslmech => (dir.join("authd.toml"), 0),
            Target::Dovecot => (dir.join("dovecot.conf"), free_port()),
        };
        let mut s = AuthServer {
            target,
            unix,
            tcp_port,
            passwd,
            keys,
            log,
            config,
            proc: None,
            _tmp: tmp,
        };
        s.write_config(opts);
        s.start_again();
        s
    }

    fn dir(&self) -> &Path {
        self._tmp.path()
    }

    fn write_config(&self, opts: &Options) {
        match self.target {
            Target::Saslmech => {
                // TCP: port 0 on the first start (the daemon logs the port it got), the same
                // port on restarts, so the MTAs' `smtpd_sasl_path`/`server_socket` stay right.
                let tcp = format!("127.0.0.1:{}", self.tcp_port);
                write_file(
                    &self.config,
                    &format!(
                        r#"[listen]
unix = "{unix}"
unix_mode = "0666"
tcp = "{tcp}"

[auth]
mechanisms = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER"]
plaintext_without_tls = {ptls}
failure_delay_ms = {delay}
{tempfail}
{passdb}
[oauth]
hs256_key_file = "{hs}"
rs256_public_key_file = "{rs}"
es256_public_key_file = "{es}"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
user_claim = "email"
leeway_s = 30

[throttle]
max_failures = {maxf}
window_s = 60
"#,
                        unix = self.unix.display(),
                        ptls = opts.plaintext_without_tls,
                        delay = opts.failure_delay_ms,
                        tempfail = opts
                            .temp_failure
                            .map(|t| format!("temp_failure = {}\n", toml_str(t)))
                            .unwrap_or_default(),
                        passdb = self.saslmech_passdb(&opts.passdb),
                        hs = self.keys.hs256_key_file.display(),
                        rs = self.keys.rs256_public.display(),
                        es = self.keys.es256_public.display(),
                        maxf = opts.max_failures,
                    ),
                );
            }
            Target::Dovecot => {
                let d = self.dir().display();
                std::fs::create_dir_all(self.dir().join("run")).expect("mkdir run");
                std::fs::create_dir_all(self.dir().join("state")).expect("mkdir state");
                write_file(
                    &self.config,
                    &format!(
                        r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {log}
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = {dpa}
auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 xoauth2 oauthbearer
auth_cache_size = 0
auth_failure_delay = {delay}ms
default_login_user = dovenull
default_internal_user = dovecot
{passdb}userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener {unix} {{
    mode = 0666
  }}
  inet_listener auth-client {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
"#,
                        log = self.log.display(),
                        dpa = if opts.plaintext_without_tls {
                            "no"
                        } else {
                            "yes"
                        },
                        delay = opts.failure_delay_ms,
                        passdb = self.dovecot_passdb(&opts.passdb),
                        unix = self.unix.display(),
                        port = self.tcp_port,
                    ),
                );
            }
        }
    }

    /// saslmech-authd's `[passdb]` (and `[pgsql]`) tables.
    fn saslmech_passdb(&self, passdb: &Passdb) -> String {
        match passdb {
            Passdb::PasswdFile => format!(
                "[passdb]\npasswd_file = {}\n",
                toml_str(&self.passwd.display().to_string())
            ),
            Passdb::Pgsql {
                connection,
                query,
                query_timeout_ms,
                ..
            } => format!(
                "[passdb]\ndriver = \"pgsql\"\n\n[pgsql]\nconnection = {}\npool_size = 4\n\
                 connect_timeout_ms = {query_timeout_ms}\nquery_timeout_ms = {query_timeout_ms}\n\
                 password_query = {}\n",
                toml_str(connection),
                toml_str(query)
            ),
        }
    }

    /// Dovecot's `passdb { }` block (and, for SQL, its `dovecot-sql.conf.ext`).
    fn dovecot_passdb(&self, passdb: &Passdb) -> String {
        match passdb {
            Passdb::PasswdFile => format!(
                "passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {}\n}}\n",
                self.passwd.display()
            ),
            Passdb::Pgsql {
                connection,
                dovecot_query,
                ..
            } => {
                let conf = self.dir().join("dovecot-sql.conf.ext");
                write_file(
                    &conf,
                    &format!(
                        "driver = pgsql\nconnect = {connection}\ndefault_pass_scheme = CRYPT\n\
                         password_query = {dovecot_query}\n"
                    ),
                );
                format!(
                    "passdb {{\n  driver = sql\n  args = {}\n}}\n",
                    conf.display()
                )
            }
        }
    }

    /// Starts the daemon (again) with the same socket path and TCP port, and waits until both
    /// answer the handshake.
    pub fn start_again(&mut self) {
        assert!(self.proc.is_none(), "already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open log");
        let log_start = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0) as usize;
        let mut cmd = match self.target {
            Target::Saslmech => {
                let mut c = Command::new(authd_bin());
                c.arg("--config").arg(&self.config).env("RUST_LOG", "info");
                c
            }
            Target::Dovecot => {
                let mut c = Command::new("/usr/sbin/dovecot");
                c.arg("-F").arg("-c").arg(&self.config);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        let mut proc = Proc::spawn("auth daemon", &mut cmd);
        if self.tcp_port == 0 {
            let path = self.log.clone();
            let port = wait_for(
                "saslmech-authd's `listening tcp=` log line",
                Duration::from_secs(20),
                || {
                    if !proc.is_running() {
                        panic!("saslmech-authd exited at start:\n{}", read_lossy(&path));
                    }
                    let text = read_lossy(&path);
                    let text = text.get(log_start..).unwrap_or("");
                    let i = text.find("listening tcp=127.0.0.1:")?;
                    let digits: String = text[i + "listening tcp=127.0.0.1:".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit())
                        .collect();
                    digits.parse::<u16>().ok()
                },
            );
            self.tcp_port = port;
            // Restarts bind the same port.
            let text = std::fs::read_to_string(&self.config).expect("read config");
            write_file(
                &self.config,
                &text.replace(
                    "tcp = \"127.0.0.1:0\"",
                    &format!("tcp = \"127.0.0.1:{port}\""),
                ),
            );
        }
        let unix = self.unix.clone();
        let port = self.tcp_port;
        let logp = self.log.clone();
        wait_for(
            "the auth daemon's handshake on its UNIX socket and TCP port",
            Duration::from_secs(20),
            || {
                if !proc.is_running() {
                    panic!("the auth daemon exited at start:\n{}", read_lossy(&logp));
                }
                let a = AuthClient::unix(&unix).ok()?;
                let b = AuthClient::tcp(port).ok()?;
                (!a.mechs.is_empty() && !b.mechs.is_empty()).then_some(())
            },
        );
        self.proc = Some(proc);
    }

    /// SIGTERM and wait for the exit (SIGKILL after 10 s).
    pub fn stop(&mut self) {
        let mut p = self.proc.take().expect("not running");
        // Dovecot's auth process outlives its master while it has clients: stop it by PID too.
        let children = super::children_of(p.pid());
        p.signal("TERM");
        if p.wait_exit(Duration::from_secs(10)).is_none() {
            panic!(
                "the auth daemon did not exit within 10 s of SIGTERM:\n{}",
                self.log_text()
            );
        }
        for pid in children {
            if super::pid_alive(pid) {
                let _ = Command::new("kill")
                    .args(["-s", "KILL", &pid.to_string()])
                    .status();
            }
        }
    }

    /// SIGHUP: saslmech-authd reloads its configuration and passwd-file; Dovecot's master
    /// restarts its auth process (and passwd-file is re-read when its mtime changes anyway).
    pub fn reload(&self) {
        self.proc.as_ref().expect("not running").signal("HUP");
    }

    /// saslmech-authd: rewrite the configuration with `opts` and reload it (SIGHUP), waiting
    /// (at most 10 s) until the daemon logs the reload.
    pub fn reconfigure(&self, opts: &Options) {
        assert_eq!(
            self.target,
            Target::Saslmech,
            "reconfigure: saslmech-authd only"
        );
        let count = |t: &str| t.matches("reloaded configuration").count();
        let before = count(&self.log_text());
        self.write_config(opts);
        self.reload();
        wait_for("the daemon's reload", Duration::from_secs(10), || {
            (count(&self.log_text()) > before).then_some(())
        });
    }

    /// The daemon's PID (Dovecot: its master).
    pub fn main_pid(&self) -> u32 {
        self.proc.as_ref().expect("not running").pid()
    }

    /// The PIDs whose CPU time counts as the daemon's: saslmech-authd itself; Dovecot's `auth`
    /// and `anvil` processes (the first starts on the first connection).
    pub fn worker_pids(&self) -> Vec<u32> {
        match self.target {
            Target::Saslmech => vec![self.main_pid()],
            Target::Dovecot => super::children_of(self.main_pid())
                .into_iter()
                .filter(|p| {
                    let comm =
                        std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                    matches!(comm.trim(), "auth" | "anvil")
                })
                .collect(),
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.proc.as_mut().map(|p| p.is_running()).unwrap_or(false)
    }

    pub fn add_user(&self, entry: &str) {
        let mut f = OpenOptions::new()
            .append(true)
            .open(&self.passwd)
            .expect("open passwd");
        f.write_all(entry.as_bytes()).expect("append passwd");
    }

    pub fn log_text(&self) -> String {
        read_lossy(&self.log)
    }

    /// `smtpd_sasl_path` / Exim `server_socket` values.
    pub fn unix_path(&self) -> String {
        self.unix.display().to_string()
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            let children = super::children_of(p.pid());
            let _ = Command::new("kill")
                .args(["-s", "TERM", &p.pid().to_string()])
                .status();
            if p.wait_exit(Duration::from_secs(5)).is_none() {
                drop(p); // SIGKILL
            }
            for pid in children {
                if super::pid_alive(pid) {
                    let _ = Command::new("kill")
                        .args(["-s", "KILL", &pid.to_string()])
                        .status();
                }
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "--- auth daemon log ({}):\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

pub fn read_lossy(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
}

/// A raw Dovecot auth-protocol client connection (as Postfix's smtpd keeps one).
pub struct AuthClient {
    pub writer: Box<dyn Write + Send>,
    pub reader: BufReader<Box<dyn std::io::Read + Send>>,
    pub mechs: Vec<String>,
    pub handshake: Vec<String>,
}

impl AuthClient {
    pub fn unix(path: &Path) -> std::io::Result<AuthClient> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        let r = s.try_clone()?;
        AuthClient::handshake(Box::new(s), Box::new(r))
    }

    pub fn tcp(port: u16) -> std::io::Result<AuthClient> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        s.set_nodelay(true)?;
        let r = s.try_clone()?;
        AuthClient::handshake(Box::new(s), Box::new(r))
    }

    fn handshake(
        mut writer: Box<dyn Write + Send>,
        reader: Box<dyn std::io::Read + Send>,
    ) -> std::io::Result<AuthClient> {
        writer.write_all(format!("VERSION\t1\t0\nCPID\t{}\n", std::process::id()).as_bytes())?;
        let mut reader = BufReader::new(reader);
        let mut handshake = Vec::new();
        let mut mechs = Vec::new();
        for _ in 0..200 {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other(
                    "connection closed during the handshake",
                ));
            }
            let line = line.trim_end_matches('\n').to_owned();
            if let Some(rest) = line.strip_prefix("MECH\t") {
                mechs.push(rest.split('\t').next().unwrap_or("").to_owned());
            }
            let done = line == "DONE";
            handshake.push(line);
            if done {
                return Ok(AuthClient {
                    writer,
                    reader,
                    mechs,
                    handshake,
                });
            }
        }
        Err(std::io::Error::other("no DONE within 200 handshake lines"))
    }

    pub fn send(&mut self, line: &str) -> std::io::Result<()> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\n")
    }

    pub fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        Ok(line.trim_end_matches('\n').to_owned())
    }

    /// `AUTH id PLAIN … resp=…`, returning the reply line.
    pub fn plain(&mut self, id: u32, user: &str, pass: &str) -> std::io::Result<String> {
        let resp = super::b64(format!("\0{user}\0{pass}").as_bytes());
        self.send(&format!(
            "AUTH\t{id}\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp={resp}"
        ))?;
        self.read_line()
    }
}
