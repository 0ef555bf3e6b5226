//! A demo SMTP submission server on loopback, built on `saslmech::proto::smtp::SmtpServer`.
//!
//! ```text
//! cargo run --example submission [-- --listen 127.0.0.1:2587] [--users FILE] [--allow-insecure-auth]
//! ```
//!
//! Limits, so that idle or slow clients cannot hold the server: at most `--max-connections`
//! (64) at once, the next one gets `421 4.3.2` and is closed at once. Each command or message
//! line, CRLF included, and the STARTTLS handshake must arrive within `--command-timeout`
//! (300 s, as Postfix's `smtpd_timeout`) counted per line, not per read, so a byte now and then
//! does not keep a connection; a session lasts at most `--session-timeout` (1800 s). While the
//! connection table is full, and until it is no more than three quarters full, the stress
//! values apply instead (`--stress-command-timeout` 10 s, `--stress-session-timeout` 120 s),
//! as in Postfix's stress mode. Out of time: `421 4.4.2 localhost Error: timeout exceeded`
//! and the connection is closed (during the TLS handshake it is just closed).
//!
//! Lines end in CRLF: a bare LF, in a command or in a message, gets `521 5.5.2 localhost
//! Error: bare <LF> received` and the connection is closed, as Postfix does with
//! `smtpd_forbid_bare_newline`, so a message ends only at CRLF `.` CRLF (no SMTP smuggling).
//! An over-long line gets one reply however long it is; a command with NUL or octets outside
//! printable ASCII gets `500 5.5.2` (an AUTH command: the adapter's `501`).
//!
//! EHLO, STARTTLS (rustls with a self-signed certificate made at start), AUTH, MAIL/RCPT/DATA
//! (messages are written to a temporary directory it reports), RSET, NOOP, QUIT. One thread
//! per connection; credential lookups go to a separate directory thread over a channel and
//! come back as answers, the way an asynchronous backend would answer the engine's requests.
//!
//! Mechanisms: before STARTTLS SCRAM-SHA-256, SCRAM-SHA-512, SCRAM-SHA-1 and CRAM-MD5 (they
//! expose no reusable secret); after it also the SCRAM -PLUS variants (channel binding
//! `tls-exporter` on TLS 1.3, and `tls-server-end-point`), OAUTHBEARER, XOAUTH2, PLAIN and
//! LOGIN, and EXTERNAL when the client presented the demo client certificate.
//!
//! Built-in account: `demo@example.com` / `demo-password` (its SCRAM keys are derived at
//! start, so SCRAM runs against stored keys), bearer token `demo-token` for OAUTHBEARER and
//! XOAUTH2, and a client certificate for EXTERNAL, issued at start by a demo CA and written
//! next to the server certificate. `--users FILE` replaces them with the accounts in FILE,
//! one `user:secret` a line (no client certificates then):
//!
//! ```text
//! # comments and blank lines are ignored
//! alice@example.com:correct horse          # plaintext password (SCRAM keys derived at start)
//! bob@example.com:{PLAIN}{braces}ok        # {PLAIN}: plaintext, even if it starts with { or SCRAM-
//! carol@example.com:{CRAM-MD5}<64 hex>     # Dovecot's CRAM-MD5 hash (doveadm pw -s CRAM-MD5)
//! dave@example.com:SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>   # RFC 5803 stored keys
//! alice@example.com:{BEARER}some-token     # a bearer token (OAUTHBEARER, XOAUTH2) for that user
//! ```
//!
//! A user may have several lines (say a `SCRAM-SHA-1$…` and a `SCRAM-SHA-256$…` entry). With
//! only stored SCRAM keys, PLAIN and LOGIN still work (the password is checked against the
//! keys), CRAM-MD5 does not. The parser is the `saslmech-users` crate (`users/`) and shared with
//! the `saslmech server` command-line tool.

use std::io::{self, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use saslmech::proto::AuthRequest;
use saslmech::{ChannelBindingType, Mechanism, ServerConfig, Transport};

mod args;
mod conn;
mod session;
mod tls;

use args::parse_args;
use session::{Shared, serve};
use tls::tls_config;

const DEMO_USER: &str = "demo@example.com";
const DEMO_PASSWORD: &str = "demo-password";
const DEMO_TOKEN: &str = "demo-token";

/// Longest line kept; longer lines are cut here (the adapter then answers 500 5.5.6).
const MAX_LINE: usize = 16 * 1024;
/// Longest command line other than AUTH (RFC 5321 allows 512; be generous).
const MAX_COMMAND: usize = 4096;
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
const MAX_RECIPIENTS: usize = 100;
const MAX_AUTH_FAILURES: u32 = 5;
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections at once, and how long a line and a session may take, normally and
/// under stress (a full connection table). Set by the command line.
#[derive(Clone, Copy, Debug)]
struct Limits {
    max_connections: usize,
    command: Duration,
    session: Duration,
    stress_command: Duration,
    stress_session: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            command: Duration::from_secs(300),
            session: Duration::from_secs(1800),
            stress_command: Duration::from_secs(10),
            stress_session: Duration::from_secs(120),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Accounts and the lookup backend

// The users file (`--users`) and the answers it gives: one parser, shared with the
// `saslmech server` command-line tool.
use saslmech_users as users;

use users::{Directory, Verdict};

/// The built-in account: the demo user's password (its SCRAM keys derived at start, like
/// any plaintext entry) and bearer token, in the users-file format.
fn demo_directory() -> Result<Directory, String> {
    let text = format!("{DEMO_USER}:{DEMO_PASSWORD}\n{DEMO_USER}:{{BEARER}}{DEMO_TOKEN}\n");
    Directory::parse(text.as_bytes(), "built-in account")
}

/// Decide a request. Runs on the directory thread.
fn decide(dir: &Directory, request: &AuthRequest) -> Verdict {
    match request {
        AuthRequest::VerifyPassword {
            authcid, password, ..
        } => dir.verify_password(authcid, password.as_slice()),
        AuthRequest::Secret {
            authcid, mechanism, ..
        } => dir.secret(*mechanism, authcid),
        AuthRequest::ValidateToken {
            user,
            token,
            mechanism,
            ..
        } => dir.validate_token(*mechanism, user, token.as_slice()),
        // Nobody may act as somebody else here.
        AuthRequest::Authorize { .. } => Verdict::Reject,
        // GSSAPI, GS2-KRB5 (`--keytab`): every principal of the realm logs in as itself.
        #[cfg(feature = "gssapi")]
        AuthRequest::Principal { .. } => Verdict::Accept,
        _ => Verdict::Reject,
    }
}

type Lookup = (AuthRequest, mpsc::Sender<Verdict>);

/// Start the directory thread; requests go in through the returned sender.
fn spawn_directory(dir: Directory) -> mpsc::Sender<Lookup> {
    let (tx, rx) = mpsc::channel::<Lookup>();
    std::thread::spawn(move || {
        for (request, reply) in rx {
            let _ = reply.send(decide(&dir, &request));
        }
    });
    tx
}

/// Ask the directory and wait for its answer (the connection's thread parks meanwhile; the
/// adapter holds the exchange).
fn lookup(directory: &mpsc::Sender<Lookup>, request: AuthRequest) -> Verdict {
    let (tx, rx) = mpsc::channel();
    if directory.send((request, tx)).is_err() {
        return Verdict::Unavailable;
    }
    rx.recv_timeout(LOOKUP_TIMEOUT)
        .unwrap_or(Verdict::Unavailable)
}

// ---------------------------------------------------------------------------------------
// Start-up

/// Write `contents` to `path`, readable by the owner only when `private`; exit on error.
fn write_file(path: &Path, contents: &str, private: bool) {
    use std::os::unix::fs::OpenOptionsExt;
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .and_then(|mut f| f.write_all(contents.as_bytes()));
    if let Err(e) = result {
        eprintln!("submission: {}: {e}", path.display());
        std::process::exit(1);
    }
}

/// GSS-API finds the keytab through `KRB5_KTNAME`, read from the environment: run again with it
/// set (changing this process's environment would race with GSS-API reading it).
#[cfg(feature = "gssapi")]
fn with_keytab(keytab: &Path) {
    use std::os::unix::process::CommandExt;
    let path = std::fs::canonicalize(keytab).unwrap_or_else(|e| {
        eprintln!("submission: {}: {e}", keytab.display());
        std::process::exit(1)
    });
    let want = format!("FILE:{}", path.display());
    if std::env::var("KRB5_KTNAME").is_ok_and(|v| v == want) {
        return;
    }
    let mut argv = std::env::args_os();
    let program = argv.next().unwrap_or_default();
    let e = std::process::Command::new(std::env::current_exe().unwrap_or(program.into()))
        .args(argv)
        .env("KRB5_KTNAME", want)
        .exec();
    eprintln!("submission: cannot re-run with KRB5_KTNAME: {e}");
    std::process::exit(1)
}

fn main() {
    let args = parse_args();
    #[cfg(feature = "gssapi")]
    if let Some(keytab) = &args.keytab {
        with_keytab(keytab);
    }
    let loaded = match &args.users {
        Some(path) => Directory::load(path).map(|d| {
            let n = d.len();
            (d, format!("{n} credentials from {}", path.display()))
        }),
        None => demo_directory().map(|d| {
            (
                d,
                format!(
                    "{DEMO_USER} / {DEMO_PASSWORD}, bearer token {DEMO_TOKEN} (OAUTHBEARER, XOAUTH2), \
                     client certificate for EXTERNAL"
                ),
            )
        }),
    };
    let (directory, accounts) = loaded.unwrap_or_else(|e| {
        eprintln!("submission: {e}");
        std::process::exit(1)
    });
    let client_identity = args.users.is_none().then_some(DEMO_USER);
    let (tls, files) = tls_config(client_identity).unwrap_or_else(|e| {
        eprintln!("submission: {e}");
        std::process::exit(1)
    });
    let spool = std::env::temp_dir().join(format!("saslmech-submission-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&spool) {
        eprintln!("submission: {}: {e}", spool.display());
        std::process::exit(1);
    }
    let cert_file = spool.join("cert.pem");
    write_file(&cert_file, &files.server_cert_pem, false);
    let client_files = files.client.as_ref().map(|(cert, key)| {
        let (cert_path, key_path) = (spool.join("client-cert.pem"), spool.join("client-key.pem"));
        write_file(&cert_path, cert, false);
        write_file(&key_path, key, true);
        (cert_path, key_path)
    });
    let config = ServerConfig::new()
        .mechanisms(&args.mechanisms)
        .hostname("localhost")
        .allow_plaintext_without_tls(args.allow_insecure_auth);
    #[cfg(feature = "gssapi")]
    let config = config.gssapi_acceptor("smtp", "localhost");
    let listener = TcpListener::bind(&args.listen).unwrap_or_else(|e| {
        eprintln!("submission: cannot listen on {}: {e}", args.listen);
        std::process::exit(1)
    });
    let addr = listener
        .local_addr()
        .map_or(args.listen.clone(), |a| a.to_string());
    let shared = Arc::new(Shared {
        config: Arc::new(config),
        limits: args.limits,
        stressed: AtomicBool::new(false),
        tls,
        directory: spawn_directory(directory),
        spool,
        messages: AtomicU64::new(0),
        connections: AtomicUsize::new(0),
    });

    let user = if args.users.is_some() {
        "USER"
    } else {
        DEMO_USER
    };
    let pass = if args.users.is_some() {
        "PASSWORD"
    } else {
        DEMO_PASSWORD
    };
    let (host, port) = addr.rsplit_once(':').unwrap_or((&addr, "2587"));
    println!("saslmech demo submission server");
    println!("accounts: {accounts}");
    println!("messages are written to {}", shared.spool.display());
    println!(
        "TLS certificate (self-signed, made at start): {}",
        cert_file.display()
    );
    if let Some((cert, key)) = &client_files {
        println!(
            "client certificate for EXTERNAL: {} key {}",
            cert.display(),
            key.display()
        );
    }
    // What EHLO advertises before STARTTLS, and after it on TLS 1.3 with and without the
    // demo client certificate (the binding data here only stand in for the real ones).
    let offered = |t: &Transport| -> String {
        let names: Vec<&str> = shared.config.offered_on(t).map(Mechanism::name).collect();
        if names.is_empty() {
            "(none)".to_owned()
        } else {
            names.join(" ")
        }
    };
    let after = Transport::tls().with_channel_binding(ChannelBindingType::TlsExporter, &[0; 32]);
    println!("before STARTTLS: {}", offered(&Transport::plaintext()));
    println!("after STARTTLS: {}", offered(&after));
    if client_files.is_some() {
        let with_cert = after.with_external_identity(DEMO_USER);
        println!(
            "after STARTTLS with the client certificate: {}",
            offered(&with_cert)
        );
    }
    if let Some(keytab) = &args.keytab {
        println!(
            "GSSAPI, GS2-KRB5: smtp/localhost from {} (each principal logs in as itself)",
            keytab.display()
        );
    }
    println!("listening on {addr}");
    println!("try:");
    println!(
        "  swaks --server {addr} --tls --auth PLAIN --auth-user {user} --auth-password {pass} --from {user} --to friend@example.com"
    );
    println!(
        "  curl -sS --url smtp://{addr} --ssl-reqd -k --user {user}:{pass} --mail-from {user} --mail-rcpt friend@example.com -T - <<< 'Subject: hello'"
    );
    println!(
        "  gsasl --smtp --connect {addr} --x509-ca-file {} -m SCRAM-SHA-256-PLUS -a {user} -p {pass}",
        cert_file.display()
    );
    println!(
        "  msmtp --host={host} --port={port} --tls=on --tls-starttls=on --tls-trust-file={} --auth=scram-sha-256 --user={user} --passwordeval='echo {pass}' --from={user} friend@example.com <<< 'Subject: hello'",
        cert_file.display()
    );
    if args.keytab.is_some() {
        println!(
            "  curl -sS --url smtp://localhost:{port} --login-options AUTH=GSSAPI -u : --mail-from {user} --mail-rcpt friend@example.com -T - <<< 'Subject: hello'"
        );
    }
    if args.users.is_none() {
        println!(
            "  curl -sS --url smtp://{addr} --ssl-reqd -k --user {user} --oauth2-bearer {DEMO_TOKEN} --mail-from {user} --mail-rcpt friend@example.com -T - <<< 'Subject: hello'"
        );
    }
    if let Some((cert, key)) = &client_files {
        println!(
            "  msmtp --host={host} --port={port} --tls=on --tls-starttls=on --tls-trust-file={} --tls-cert-file={} --tls-key-file={} --auth=external --user={user} --from={user} friend@example.com <<< 'Subject: hello'",
            cert_file.display(),
            cert.display(),
            key.display()
        );
    }
    let _ = io::stdout().flush();

    let ids = AtomicU64::new(0);
    for tcp in listener.incoming() {
        let tcp = match tcp {
            Ok(t) => t,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let id = ids.fetch_add(1, Ordering::Relaxed) + 1;
        let max = shared.limits.max_connections;
        let count = shared.connections.fetch_add(1, Ordering::AcqRel) + 1;
        if count >= max && !shared.stressed.swap(true, Ordering::AcqRel) {
            eprintln!("connection table full: stress timeouts");
        }
        if count > max {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            // Say so rather than keep the client waiting; never block the accept loop on it.
            let mut tcp = tcp;
            let _ = tcp.set_nonblocking(true);
            let _ = tcp.write_all(b"421 4.3.2 Too many connections\r\n");
            continue;
        }
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            serve(Arc::clone(&shared), tcp, id);
            let left = shared.connections.fetch_sub(1, Ordering::AcqRel) - 1;
            let max = shared.limits.max_connections;
            if left < max && left <= max - max / 4 && shared.stressed.swap(false, Ordering::AcqRel)
            {
                eprintln!("stress over: normal timeouts");
            }
        });
    }
}
