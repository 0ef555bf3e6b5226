//! The configuration file (TOML), its defaults and its validation.
//!
//! Every table rejects unknown keys, so a typo is an error that names the key instead of a
//! setting silently ignored. See `docs/authd.md` for the reference.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use saslmech::Mechanism;
use serde::Deserialize;

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen.
    pub listen: Listen,
    /// Mechanisms and policy.
    #[serde(default)]
    pub auth: Auth,
    /// The password database.
    pub passdb: Passdb,
    /// The PostgreSQL passdb (with `passdb.driver = "pgsql"`).
    #[serde(default)]
    pub pgsql: Option<Pgsql>,
    /// Local validation of OAuth 2.0 bearer tokens (JWTs).
    #[serde(default)]
    pub oauth: Option<OAuth>,
    /// Throttling of failed logins per remote IP.
    #[serde(default)]
    pub throttle: Option<Throttle>,
    /// Logging.
    #[serde(default)]
    pub log: Log,
    /// The event loop.
    #[serde(default)]
    pub runtime: Runtime,
}

/// `[runtime]`: threads of the event loop (slow hashes always run on the blocking pool).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// Event-loop threads: 1 (default) = a single-threaded loop, as Dovecot's one auth
    /// process; 0 = one per core; N = N threads.
    #[serde(default = "one")]
    pub worker_threads: usize,
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime { worker_threads: 1 }
    }
}

fn one() -> usize {
    1
}

/// `[listen]`: a UNIX socket, a loopback TCP address, or both.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// Path of the UNIX socket (a stale socket file there is replaced).
    pub unix: Option<PathBuf>,
    /// Octal permission bits of the socket, such as `"0660"` (default `"0666"`).
    pub unix_mode: Option<String>,
    /// Owner of the socket: a user name or a numeric uid.
    pub unix_owner: Option<String>,
    /// Group of the socket: a group name or a numeric gid.
    pub unix_group: Option<String>,
    /// TCP address, such as `"127.0.0.1:12345"`; port 0 picks a free port (logged).
    pub tcp: Option<String>,
    /// Allow a TCP address that is not loopback. The protocol has no authentication of its
    /// own: anyone who reaches the port can test passwords.
    #[serde(default)]
    pub tcp_allow_non_loopback: bool,
}

/// `[auth]`: mechanisms, policy and limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Mechanisms to offer, by IANA name.
    #[serde(default = "default_mechanisms")]
    pub mechanisms: Vec<String>,
    /// Allow the plaintext mechanisms (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) on requests that are
    /// not `secured` (no TLS between the mail client and the MTA).
    #[serde(default)]
    pub plaintext_without_tls: bool,
    /// Milliseconds to hold back every failure reply (Dovecot's `auth_failure_delay`).
    #[serde(default)]
    pub failure_delay_ms: u64,
    /// Longest protocol line accepted, in bytes, LF included (default 16384).
    #[serde(default = "default_max_line")]
    pub max_line: usize,
    /// Most requests in flight on one connection (default 32); one more ends the connection.
    #[serde(default = "default_max_requests")]
    pub max_requests_per_connection: usize,
    /// Most client connections at a time (default 4096); more wait in the listen queue.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Seconds a request may wait for its client's next `CONT` before it is dropped (60).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_s: u64,
    /// Host name the engine uses where a mechanism needs one.
    #[serde(default)]
    pub hostname: Option<String>,
    /// PBKDF2 iterations for SCRAM keys derived from plaintext or hashed passwords (4096).
    #[serde(default = "default_scram_iterations")]
    pub scram_iterations: u32,
    /// How a temporary failure of the passdb (database down, slow, pool exhausted) reaches
    /// the client: see [`TempFailure`].
    #[serde(default)]
    pub temp_failure: TempFailure,
}

/// `auth.temp_failure`: what the daemon does when the passdb cannot answer a request now.
///
/// Debian's Postfix 3.7 and Exim 4.96 both turn every `FAIL` reply into 535 ("wrong
/// password"), `temp` or not; they report a temporary failure (Postfix 454, Exim 435) only
/// when they lose their connection to the auth daemon.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TempFailure {
    /// Close that client connection instead of replying (the reason is logged; the other
    /// requests in flight on it are dropped and logged). Postfix answers 454, Exim 435, and
    /// each reconnects for its next login.
    #[default]
    Disconnect,
    /// Answer `FAIL id reason=… temp`, as Dovecot does (for clients that act on `temp`).
    Reply,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            mechanisms: default_mechanisms(),
            plaintext_without_tls: false,
            failure_delay_ms: 0,
            max_line: default_max_line(),
            max_requests_per_connection: default_max_requests(),
            max_connections: default_max_connections(),
            request_timeout_s: default_request_timeout(),
            hostname: None,
            scram_iterations: default_scram_iterations(),
            temp_failure: TempFailure::default(),
        }
    }
}

fn default_mechanisms() -> Vec<String> {
    vec!["PLAIN".to_owned(), "LOGIN".to_owned()]
}
fn default_max_line() -> usize {
    16384
}
fn default_max_requests() -> usize {
    32
}
fn default_max_connections() -> usize {
    4096
}
fn default_request_timeout() -> u64 {
    60
}
fn default_scram_iterations() -> u32 {
    4096
}

/// Where the passwords are.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    /// A passwd-file loaded into memory (`passdb.passwd_file`).
    #[default]
    PasswdFile,
    /// A PostgreSQL database (`[pgsql]`).
    Pgsql,
}

/// `[passdb]`: the passwd-file, or the choice of PostgreSQL.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Passdb {
    /// `"passwd-file"` (default) or `"pgsql"`.
    #[serde(default)]
    pub driver: Driver,
    /// Path of the passwd-file (Dovecot's format: `user:{SCHEME}secret:uid:gid:...`).
    #[serde(default)]
    pub passwd_file: Option<PathBuf>,
    /// Scheme of entries without a `{SCHEME}` prefix (Dovecot's `scheme=`; default `CRYPT`).
    #[serde(default = "default_scheme")]
    pub default_scheme: String,
}

fn default_scheme() -> String {
    "CRYPT".to_owned()
}

/// `[pgsql]`: the PostgreSQL passdb.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pgsql {
    /// libpq-style connection string (`host=/run/postgresql dbname=mail user=authd`) or URL.
    pub connection: String,
    /// Most connections open at once (default 8).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Milliseconds to open a connection (default 2000).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Milliseconds for one query, and for a free connection from the pool (default 5000).
    #[serde(default = "default_query_timeout")]
    pub query_timeout_ms: u64,
    /// The query: `%u` user, `%n` user part, `%d` domain, `%s` service, bound as parameters.
    /// Columns: `password` (required), `nologin` and `user` (optional).
    pub password_query: String,
}

fn default_pool_size() -> usize {
    8
}
fn default_connect_timeout() -> u64 {
    2000
}
fn default_query_timeout() -> u64 {
    5000
}

/// `[oauth]`: local JWT validation for OAUTHBEARER and XOAUTH2.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth {
    /// File holding the raw HS256 secret (trailing newline stripped).
    pub hs256_key_file: Option<PathBuf>,
    /// PEM file with the RS256 public key.
    pub rs256_public_key_file: Option<PathBuf>,
    /// PEM file with the ES256 (P-256) public key.
    pub es256_public_key_file: Option<PathBuf>,
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// Required `aud` (one of), if set.
    pub audience: Option<String>,
    /// The claim that names the user (default `email`).
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Seconds of clock skew tolerated for `exp` and `nbf` (default 30).
    #[serde(default = "default_leeway")]
    pub leeway_s: u64,
}

fn default_user_claim() -> String {
    "email".to_owned()
}
fn default_leeway() -> u64 {
    30
}

/// `[throttle]`: refuse a remote IP for a while after too many failed logins.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Failures allowed per window; the next attempt fails without checking the password.
    pub max_failures: u32,
    /// Window length in seconds.
    pub window_s: u64,
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `error`, `warn`, `info` (default) or `debug`.
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: default_level(),
        }
    }
}

fn default_level() -> String {
    "info".to_owned()
}

/// A configuration error, naming the key at fault.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

impl Config {
    /// Read and validate the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        let config =
            Config::parse(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        Ok(config)
    }

    /// Parse and validate configuration text. Relative paths stay relative (to the working
    /// directory).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Check the values that the types alone cannot (names, ranges, combinations).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.unix.is_none() && self.listen.tcp.is_none() {
            return err("listen: set at least one of listen.unix and listen.tcp");
        }
        if let Some(mode) = &self.listen.unix_mode {
            parse_mode(mode)?;
        }
        if let Some(tcp) = &self.listen.tcp {
            let addr = self.tcp_addr(tcp)?;
            if !addr.ip().is_loopback() && !self.listen.tcp_allow_non_loopback {
                return err(format!(
                    "listen.tcp: {addr} is not a loopback address (set listen.tcp_allow_non_loopback = true to allow it)"
                ));
            }
        }
        self.mechanisms()?;
        if !(256..=1 << 20).contains(&self.auth.max_line) {
            return err("auth.max_line: must be between 256 and 1048576");
        }
        if !(1..=65_536).contains(&self.auth.max_requests_per_connection) {
            return err("auth.max_requests_per_connection: must be between 1 and 65536");
        }
        if !(1..=1_000_000).contains(&self.auth.max_connections) {
            return err("auth.max_connections: must be between 1 and 1000000");
        }
        if !(1..=86_400).contains(&self.auth.request_timeout_s) {
            return err("auth.request_timeout_s: must be between 1 and 86400");
        }
        if self.auth.failure_delay_ms > 60_000 {
            return err("auth.failure_delay_ms: at most 60000");
        }
        if !(1..=10_000_000).contains(&self.auth.scram_iterations) {
            return err("auth.scram_iterations: must be between 1 and 10000000");
        }
        if crate::scheme::Scheme::from_name(&self.passdb.default_scheme).is_none() {
            return err(format!(
                "passdb.default_scheme: unknown scheme {:?}",
                self.passdb.default_scheme
            ));
        }
        match self.passdb.driver {
            Driver::PasswdFile => {
                if self.passdb.passwd_file.is_none() {
                    return err("passdb.passwd_file: required with driver = \"passwd-file\"");
                }
            }
            Driver::Pgsql => {
                let Some(p) = &self.pgsql else {
                    return err("passdb.driver: \"pgsql\" needs a [pgsql] table");
                };
                if self.passdb.passwd_file.is_some() {
                    return err("passdb.passwd_file: not used with driver = \"pgsql\"");
                }
                if !(1..=1024).contains(&p.pool_size) {
                    return err("pgsql.pool_size: must be between 1 and 1024");
                }
                if !(1..=600_000).contains(&p.connect_timeout_ms) {
                    return err("pgsql.connect_timeout_ms: must be between 1 and 600000");
                }
                if !(1..=600_000).contains(&p.query_timeout_ms) {
                    return err("pgsql.query_timeout_ms: must be between 1 and 600000");
                }
                p.connection
                    .parse::<tokio_postgres::Config>()
                    .map_err(|e| ConfigError(format!("pgsql.connection: {e}")))?;
                crate::pgsql::translate(&p.password_query)
                    .map_err(|e| ConfigError(format!("pgsql.password_query: {e}")))?;
            }
        }
        if self.pgsql.is_some() && self.passdb.driver != Driver::Pgsql {
            return err("pgsql: set passdb.driver = \"pgsql\" to use it");
        }
        if let Some(o) = &self.oauth {
            if o.hs256_key_file.is_none()
                && o.rs256_public_key_file.is_none()
                && o.es256_public_key_file.is_none()
            {
                return err(
                    "oauth: set at least one of oauth.hs256_key_file, oauth.rs256_public_key_file, oauth.es256_public_key_file",
                );
            }
            if o.leeway_s > 86_400 {
                return err("oauth.leeway_s: at most 86400");
            }
            if o.user_claim.is_empty() {
                return err("oauth.user_claim: must not be empty");
            }
        }
        let wants_tokens = self.mechanisms()?.iter().any(|m| m.uses_token());
        if wants_tokens && self.oauth.is_none() {
            return err("auth.mechanisms: XOAUTH2/OAUTHBEARER need an [oauth] table");
        }
        if self.runtime.worker_threads > 1024 {
            return err("runtime.worker_threads: at most 1024");
        }
        if let Some(t) = &self.throttle {
            if t.max_failures == 0 {
                return err("throttle.max_failures: must be at least 1");
            }
            if t.window_s == 0 {
                return err("throttle.window_s: must be at least 1");
            }
        }
        if !matches!(
            self.log.level.as_str(),
            "error" | "warn" | "info" | "debug" | "trace"
        ) {
            return err(format!("log.level: unknown level {:?}", self.log.level));
        }
        Ok(())
    }

    fn tcp_addr(&self, tcp: &str) -> Result<SocketAddr, ConfigError> {
        tcp.parse::<SocketAddr>()
            .map_err(|_| ConfigError(format!("listen.tcp: {tcp:?} is not an IP:PORT address")))
    }

    /// The TCP address to listen on, if any.
    pub fn tcp(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.listen
            .tcp
            .as_deref()
            .map(|t| self.tcp_addr(t))
            .transpose()
    }

    /// The configured mechanisms, in the configured order, without duplicates.
    pub fn mechanisms(&self) -> Result<Vec<Mechanism>, ConfigError> {
        let mut out = Vec::new();
        if self.auth.mechanisms.is_empty() {
            return err("auth.mechanisms: must name at least one mechanism");
        }
        for name in &self.auth.mechanisms {
            let m = Mechanism::from_name(name.as_bytes()).ok_or_else(|| {
                ConfigError(format!("auth.mechanisms: unknown mechanism {name:?}"))
            })?;
            if m.channel_binding() || matches!(m, Mechanism::External | Mechanism::Anonymous) {
                return err(format!(
                    "auth.mechanisms: {name} is not available through the auth protocol"
                ));
            }
            if !out.contains(&m) {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The socket's permission bits.
    pub fn unix_mode(&self) -> Result<u32, ConfigError> {
        match &self.listen.unix_mode {
            Some(m) => parse_mode(m),
            None => Ok(0o666),
        }
    }
}

/// Parse an octal mode such as `"0660"`.
fn parse_mode(mode: &str) -> Result<u32, ConfigError> {
    match u32::from_str_radix(mode.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => err(format!(
            "listen.unix_mode: {mode:?} is not an octal mode like \"0660\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "[listen]\ntcp = \"127.0.0.1:0\"\n[passdb]\npasswd_file = \"/x\"\n";

    #[test]
    fn minimal_config_has_defaults() {
        let c = Config::parse(MIN).unwrap();
        assert_eq!(c.auth.mechanisms, ["PLAIN", "LOGIN"]);
        assert_eq!(c.passdb.default_scheme, "CRYPT");
        assert_eq!(c.unix_mode().unwrap(), 0o666);
        assert!(c.oauth.is_none());
    }

    #[test]
    fn temp_failure_values() {
        assert_eq!(
            Config::parse(MIN).unwrap().auth.temp_failure,
            TempFailure::Disconnect
        );
        for (value, want) in [
            ("reply", TempFailure::Reply),
            ("disconnect", TempFailure::Disconnect),
        ] {
            let c = Config::parse(&format!("{MIN}[auth]\ntemp_failure = \"{value}\"\n")).unwrap();
            assert_eq!(c.auth.temp_failure, want);
        }
        let e = Config::parse(&format!("{MIN}[auth]\ntemp_failure = \"hang-up\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("hang-up") && e.contains("reply"), "{e}");
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::parse(&format!("{MIN}[auth]\nfailure_dealy_ms = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("failure_dealy_ms"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        for (extra, key) in [
            ("[auth]\nmechanisms = [\"NOPE\"]\n", "auth.mechanisms"),
            ("[auth]\nmechanisms = [\"XOAUTH2\"]\n", "auth.mechanisms"),
            (
                "[throttle]\nmax_failures = 0\nwindow_s = 1\n",
                "throttle.max_failures",
            ),
            ("[log]\nlevel = \"loud\"\n", "log.level"),
            ("[auth]\nrequest_timeout_s = 0\n", "auth.request_timeout_s"),
            (
                "[auth]\nmax_requests_per_connection = 0\n",
                "auth.max_requests_per_connection",
            ),
            (
                "[auth]\nfailure_delay_ms = 60001\n",
                "auth.failure_delay_ms",
            ),
            ("[auth]\nmax_line = 10\n", "auth.max_line"),
            (
                "[auth]\nmax_connections = 100000000000\n",
                "auth.max_connections",
            ),
        ] {
            let e = Config::parse(&format!("{MIN}{extra}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{extra}: {e}");
        }
        let e = Config::parse(&MIN.replace("\"/x\"\n", "\"/x\"\ndefault_scheme = \"MD5\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("passdb.default_scheme"), "{e}");
        let e = Config::parse("[listen]\ntcp = \"10.1.2.3:5\"\n[passdb]\npasswd_file = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen.tcp"), "{e}");
        let e = Config::parse(
            "[listen]\nunix = \"/x\"\nunix_mode = \"999\"\n[passdb]\npasswd_file = \"/x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("listen.unix_mode"), "{e}");
        let e = Config::parse("[listen]\n[passdb]\npasswd_file = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listen"), "{e}");
    }

    #[test]
    fn pgsql_section() {
        let base = "[listen]\ntcp = \"127.0.0.1:0\"\n[passdb]\ndriver = \"pgsql\"\n";
        let ok = format!(
            "{base}[pgsql]\nconnection = \"host=/tmp dbname=mail\"\npassword_query = \"SELECT password FROM u WHERE name = '%u'\"\n"
        );
        let c = Config::parse(&ok).unwrap();
        let p = c.pgsql.unwrap();
        assert_eq!(
            (p.pool_size, p.connect_timeout_ms, p.query_timeout_ms),
            (8, 2000, 5000)
        );
        for (text, key) in [
            (base.to_string(), "[pgsql]"),
            (ok.replace("'%u'", "'%x'"), "pgsql.password_query"),
            (ok.replace("'%u'", "'%u@x'"), "pgsql.password_query"),
            (format!("{ok}pool_size = 0\n"), "pgsql.pool_size"),
            (
                format!("{ok}query_timeout_ms = 0\n"),
                "pgsql.query_timeout_ms",
            ),
            (format!("{ok}poolsize = 3\n"), "poolsize"),
            (ok.replace("driver = \"pgsql\"\n", ""), "passdb.passwd_file"),
            (
                ok.replace("host=/tmp dbname=mail", "host=/tmp port=notaport"),
                "pgsql.connection",
            ),
        ] {
            let e = Config::parse(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn contract_example_parses() {
        let text = r#"
[listen]
unix = "/tmp/x/auth"
unix_mode = "0666"
tcp = "127.0.0.1:0"
[auth]
mechanisms = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER"]
plaintext_without_tls = false
failure_delay_ms = 0
[passdb]
passwd_file = "/path/users"
[oauth]
hs256_key_file = "k"
issuer = "i"
audience = "a"
user_claim = "email"
leeway_s = 30
[throttle]
max_failures = 10
window_s = 60
"#;
        let c = Config::parse(text).unwrap();
        assert_eq!(c.mechanisms().unwrap().len(), 7);
        assert_eq!(c.throttle.unwrap().max_failures, 10);
        assert_eq!(c.oauth.unwrap().leeway_s, 30);
    }
}
