//! A demo SMTP submission server on loopback, built on `saslmech::proto::smtp::SmtpServer`.
//!
//! ```text
//! cargo run --example submission [-- --listen 127.0.0.1:2587] [--users FILE] [--allow-insecure-auth]
//! ```
//!
//! EHLO, STARTTLS (rustls with a self-signed certificate made at start), AUTH (PLAIN, LOGIN,
//! CRAM-MD5, XOAUTH2), MAIL/RCPT/DATA (messages are written to a temporary directory it
//! reports), RSET, NOOP, QUIT. One thread per connection; credential lookups go to a separate
//! directory thread over a channel and come back as answers, the way an asynchronous backend
//! would answer the engine's requests.
//!
//! Built-in account: `demo@example.com` / `demo-password`, XOAUTH2 bearer token `demo-token`.
//! `--users FILE` replaces it with the accounts in FILE, one `user:secret` a line:
//!
//! ```text
//! # comments and blank lines are ignored
//! alice@example.com:correct horse          # plaintext password
//! bob@example.com:{PLAIN}{braces}ok        # {PLAIN}: plaintext, even if it starts with {
//! carol@example.com:{CRAM-MD5}<64 hex>     # Dovecot's CRAM-MD5 hash (doveadm pw -s CRAM-MD5)
//! alice@example.com:{BEARER}some-token     # an XOAUTH2 bearer token for that user
//! ```
//!
//! The parser lives in `cli/src/users.rs`, shared with the `saslmech server` command.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use saslmech::proto::smtp::SmtpServer;
use saslmech::proto::{AuthRequest, Phase, ServerEvent};
use saslmech::{Failure, SecretBuf, ServerConfig};

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
const MAX_CONNECTIONS: usize = 64;
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Accounts and the lookup backend

#[path = "../cli/src/users.rs"]
mod users;

use users::{Directory, Secret, Verdict};

fn demo_directory() -> Directory {
    let mut d = Directory::default();
    d.secrets.insert(
        DEMO_USER.into(),
        Secret::Plain(SecretBuf::from_slice(DEMO_PASSWORD.as_bytes())),
    );
    d.tokens.insert(
        DEMO_USER.into(),
        SecretBuf::from_slice(DEMO_TOKEN.as_bytes()),
    );
    d
}

/// Decide a request. Runs on the directory thread.
fn decide(dir: &Directory, request: &AuthRequest) -> Verdict {
    match request {
        AuthRequest::VerifyPassword {
            authcid, password, ..
        } => dir.verify_password(authcid, password.as_slice()),
        AuthRequest::Secret { authcid, .. } => dir.secret(authcid),
        AuthRequest::ValidateToken { user, token, .. } => {
            dir.validate_token(user, token.as_slice())
        }
        // Nobody may act as somebody else here.
        AuthRequest::Authorize { .. } => Verdict::Reject,
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
// Connections

enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    Closed,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Closed => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Closed => Ok(()),
        }
    }
}

/// A connection with a bounded line reader.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
}

impl Conn {
    /// The next line without its line ending, cut at `MAX_LINE + 1` bytes (the rest of an
    /// over-long line is read and dropped). `None` at end of stream.
    fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut discarding = false;
        let mut kept: Vec<u8> = Vec::new();
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if discarding {
                    return Ok(Some(kept));
                }
                return Ok(Some(line));
            }
            if self.buf.len() > MAX_LINE {
                if !discarding {
                    kept = self.buf[..=MAX_LINE].to_vec();
                    discarding = true;
                }
                self.buf.clear();
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn reply(&mut self, text: &str) -> io::Result<()> {
        self.send(format!("{text}\r\n").as_bytes())
    }
}

struct Shared {
    config: Arc<ServerConfig>,
    tls: Arc<rustls::ServerConfig>,
    directory: mpsc::Sender<Lookup>,
    spool: PathBuf,
    messages: AtomicU64,
    connections: AtomicUsize,
}

fn log(id: u64, what: &str) {
    eprintln!("conn {id}: {what}");
}

/// The address between `<` and `>` after `FROM:` / `TO:`.
fn path_arg(args: &str, keyword: &str) -> Option<String> {
    let rest = args
        .get(..keyword.len())
        .filter(|k| k.eq_ignore_ascii_case(keyword))
        .and_then(|_| args.get(keyword.len()..))?
        .trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let addr = &rest[..end];
    (!addr.contains(['\r', '\n']) && addr.len() <= 256).then(|| addr.to_owned())
}

fn serve(shared: Arc<Shared>, tcp: TcpStream, id: u64) -> io::Result<()> {
    tcp.set_read_timeout(Some(IDLE_TIMEOUT))?;
    tcp.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let mut conn = Conn {
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
    };
    let mut auth = SmtpServer::new(Arc::clone(&shared.config));
    let mut tls = false;
    let mut greeted = false;
    let mut failures = 0u32;
    let mut mail_from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();

    conn.reply("220 localhost ESMTP saslmech demo submission server")?;
    while let Some(line) = conn.read_line()? {
        if line.len() > MAX_COMMAND
            && !line
                .get(..5)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"AUTH "))
        {
            conn.reply("500 5.5.2 Line too long")?;
            continue;
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let (verb, args) = text.split_once(' ').unwrap_or((&text, ""));
        let verb = verb.to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                greeted = true;
                mail_from = None;
                rcpts.clear();
                let mut lines = vec![
                    "localhost".to_owned(),
                    "8BITMIME".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                ];
                if !tls {
                    lines.push("STARTTLS".into());
                }
                if let Some(keyword) = auth.ehlo_keyword() {
                    lines.push(keyword);
                }
                lines.push(format!("SIZE {MAX_MESSAGE}"));
                let last = lines.len() - 1;
                let mut out = String::new();
                for (i, l) in lines.iter().enumerate() {
                    out.push_str(&format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }));
                }
                conn.send(out.as_bytes())?;
            }
            "HELO" => {
                greeted = true;
                mail_from = None;
                rcpts.clear();
                conn.reply("250 localhost")?;
            }
            "STARTTLS" => {
                if tls {
                    conn.reply("503 5.5.1 TLS already active")?;
                    continue;
                }
                conn.reply("220 2.0.0 Ready to start TLS")?;
                // Anything pipelined after STARTTLS was sent in the clear: drop it.
                conn.buf.clear();
                let Stream::Plain(tcp) = std::mem::replace(&mut conn.stream, Stream::Closed) else {
                    return Ok(());
                };
                let server = rustls::ServerConnection::new(Arc::clone(&shared.tls))
                    .map_err(io::Error::other)?;
                let mut stream = rustls::StreamOwned::new(server, tcp);
                while stream.conn.is_handshaking() {
                    stream.conn.complete_io(&mut stream.sock)?;
                }
                conn.stream = Stream::Tls(Box::new(stream));
                tls = true;
                greeted = false;
                mail_from = None;
                rcpts.clear();
                auth.set_tls(true);
                log(id, "TLS established");
            }
            "AUTH" => {
                if !greeted {
                    conn.reply("503 5.5.1 Send EHLO first")?;
                    continue;
                }
                if mail_from.is_some() {
                    conn.reply("503 5.5.1 AUTH not allowed during a mail transaction")?;
                    continue;
                }
                let mut event = auth.command(&line);
                loop {
                    match event {
                        Ok(ServerEvent::Challenge(reply)) => {
                            conn.send(&reply)?;
                            let Some(next) = conn.read_line()? else {
                                return Ok(());
                            };
                            event = auth.line(&next);
                        }
                        Ok(ServerEvent::Request(request)) => {
                            let verdict = lookup(&shared.directory, request);
                            event = auth.answer(verdict.answer());
                        }
                        Ok(ServerEvent::Success { reply, identity }) => {
                            log(id, &format!("authenticated as {}", identity.effective()));
                            conn.send(&reply)?;
                            break;
                        }
                        Ok(ServerEvent::Failure { reply, failure }) => {
                            log(id, &format!("authentication failed: {failure}"));
                            conn.send(&reply)?;
                            // Count guesses, not protocol errors.
                            if matches!(failure, Failure::BadCredentials | Failure::AuthzDenied) {
                                failures += 1;
                            }
                            if failures >= MAX_AUTH_FAILURES {
                                conn.reply("421 4.7.0 Too many failed authentications")?;
                                return Ok(());
                            }
                            break;
                        }
                        Ok(ServerEvent::Reply(reply)) => {
                            conn.send(&reply)?;
                            break;
                        }
                        Ok(_) | Err(_) => {
                            conn.reply("451 4.3.0 Internal error")?;
                            auth.reset();
                            break;
                        }
                    }
                }
            }
            "MAIL" => {
                if auth.phase() != Phase::Authenticated {
                    conn.reply("530 5.7.0 Authentication required")?;
                } else if mail_from.is_some() {
                    conn.reply("503 5.5.1 Nested MAIL command")?;
                } else if let Some(from) = path_arg(args, "FROM:") {
                    mail_from = Some(from);
                    conn.reply("250 2.1.0 Ok")?;
                } else {
                    conn.reply("501 5.5.4 Syntax: MAIL FROM:<address>")?;
                }
            }
            "RCPT" => {
                if mail_from.is_none() {
                    conn.reply("503 5.5.1 Need MAIL command")?;
                } else if rcpts.len() >= MAX_RECIPIENTS {
                    conn.reply("452 4.5.3 Too many recipients")?;
                } else if let Some(to) = path_arg(args, "TO:") {
                    rcpts.push(to);
                    conn.reply("250 2.1.5 Ok")?;
                } else {
                    conn.reply("501 5.5.4 Syntax: RCPT TO:<address>")?;
                }
            }
            "DATA" => {
                if rcpts.is_empty() {
                    conn.reply("503 5.5.1 Need RCPT command")?;
                    continue;
                }
                conn.reply("354 End data with <CR><LF>.<CR><LF>")?;
                let mut body: Vec<u8> = Vec::new();
                let mut too_big = false;
                loop {
                    let Some(l) = conn.read_line()? else {
                        return Ok(());
                    };
                    if l == b"." {
                        break;
                    }
                    let l = l.strip_prefix(b".").unwrap_or(&l);
                    if body.len() + l.len() + 2 > MAX_MESSAGE {
                        too_big = true;
                        continue;
                    }
                    body.extend_from_slice(l);
                    body.extend_from_slice(b"\r\n");
                }
                let from = mail_from.take().unwrap_or_default();
                let to = std::mem::take(&mut rcpts);
                if too_big {
                    conn.reply("552 5.3.4 Message too big")?;
                    continue;
                }
                let who = auth
                    .identity()
                    .map(|i| i.effective().to_owned())
                    .unwrap_or_default();
                let n = shared.messages.fetch_add(1, Ordering::Relaxed) + 1;
                let path = shared.spool.join(format!("msg-{n:06}.eml"));
                let mut file = Vec::new();
                file.extend_from_slice(format!("X-Authenticated-As: {who}\r\n").as_bytes());
                file.extend_from_slice(format!("X-Envelope-From: <{from}>\r\n").as_bytes());
                for r in &to {
                    file.extend_from_slice(format!("X-Envelope-To: <{r}>\r\n").as_bytes());
                }
                file.extend_from_slice(&body);
                match std::fs::write(&path, &file) {
                    Ok(()) => {
                        log(
                            id,
                            &format!(
                                "delivered {} ({} bytes) for {who}",
                                path.display(),
                                body.len()
                            ),
                        );
                        conn.reply(&format!("250 2.0.0 Ok: queued as {n}"))?;
                    }
                    Err(e) => {
                        log(id, &format!("cannot write {}: {e}", path.display()));
                        conn.reply("451 4.3.0 Cannot store message")?;
                    }
                }
            }
            "RSET" => {
                mail_from = None;
                rcpts.clear();
                conn.reply("250 2.0.0 Ok")?;
            }
            "NOOP" => conn.reply("250 2.0.0 Ok")?,
            "QUIT" => {
                conn.reply("221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => conn.reply("500 5.5.2 Command not recognized")?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Start-up

struct Args {
    listen: String,
    users: Option<PathBuf>,
    allow_insecure_auth: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: submission [--listen ADDR] [--users FILE] [--allow-insecure-auth]\n\
         \n\
         --listen ADDR          address to listen on (default 127.0.0.1:2587; port 0 picks one)\n\
         --users FILE           accounts, one user:secret a line (see the README)\n\
         --allow-insecure-auth  allow PLAIN, LOGIN and XOAUTH2 without STARTTLS (testing only)"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        listen: "127.0.0.1:2587".into(),
        users: None,
        allow_insecure_auth: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => args.listen = it.next().unwrap_or_else(|| usage()),
            "--users" => args.users = Some(it.next().unwrap_or_else(|| usage()).into()),
            "--allow-insecure-auth" => args.allow_insecure_auth = true,
            _ => usage(),
        }
    }
    args
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, and the TLS configuration using
/// it. Also returns the certificate in PEM, for clients that verify (`gsasl --x509-ca-file`).
fn tls_config() -> Result<(Arc<rustls::ServerConfig>, String), String> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified =
        rcgen::generate_simple_self_signed(names).map_err(|e| format!("certificate: {e}"))?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    let b64 = saslmech::b64::encode(&cert);
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| format!("TLS: {e}"))?;
    Ok((Arc::new(config), pem))
}

fn main() {
    let args = parse_args();
    let (directory, accounts) = match &args.users {
        Some(path) => match Directory::load(path) {
            Ok(d) => {
                let n = d.len();
                (d, format!("{n} credentials from {}", path.display()))
            }
            Err(e) => {
                eprintln!("submission: {e}");
                std::process::exit(1);
            }
        },
        None => (
            demo_directory(),
            format!("{DEMO_USER} / {DEMO_PASSWORD}, XOAUTH2 bearer token {DEMO_TOKEN}"),
        ),
    };
    let (tls, pem) = tls_config().unwrap_or_else(|e| {
        eprintln!("submission: {e}");
        std::process::exit(1)
    });
    let spool = std::env::temp_dir().join(format!("saslmech-submission-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&spool) {
        eprintln!("submission: {}: {e}", spool.display());
        std::process::exit(1);
    }
    let cert_file = spool.join("cert.pem");
    if let Err(e) = std::fs::write(&cert_file, pem) {
        eprintln!("submission: {}: {e}", cert_file.display());
        std::process::exit(1);
    }
    let config = ServerConfig::new()
        .hostname("localhost")
        .allow_plaintext_without_tls(args.allow_insecure_auth);
    let listener = TcpListener::bind(&args.listen).unwrap_or_else(|e| {
        eprintln!("submission: cannot listen on {}: {e}", args.listen);
        std::process::exit(1)
    });
    let addr = listener
        .local_addr()
        .map_or(args.listen.clone(), |a| a.to_string());
    let shared = Arc::new(Shared {
        config: Arc::new(config),
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
    println!("saslmech demo submission server");
    println!("accounts: {accounts}");
    println!("messages are written to {}", shared.spool.display());
    println!(
        "TLS certificate (self-signed, made at start): {}",
        cert_file.display()
    );
    if args.allow_insecure_auth {
        println!("PLAIN, LOGIN and XOAUTH2 are allowed without TLS (--allow-insecure-auth)");
    } else {
        println!("PLAIN, LOGIN and XOAUTH2 need STARTTLS first (CRAM-MD5 does not)");
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
        "  gsasl --smtp --connect {addr} --x509-ca-file {} -m CRAM-MD5 -a {user} -p {pass}",
        cert_file.display()
    );
    if args.users.is_none() {
        println!(
            "  curl -sS --url smtp://{addr} --ssl-reqd -k --user {user} --oauth2-bearer {DEMO_TOKEN} --mail-from {user} --mail-rcpt friend@example.com -T - <<< 'Subject: hello'"
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
        if shared.connections.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            let mut tcp = tcp;
            let _ = tcp.write_all(b"421 4.3.2 Too many connections\r\n");
            continue;
        }
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            if let Err(e) = serve(Arc::clone(&shared), tcp, id) {
                log(id, &format!("closed: {e}"));
            }
            shared.connections.fetch_sub(1, Ordering::AcqRel);
        });
    }
}
