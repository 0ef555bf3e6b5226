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
//! Mechanisms: before STARTTLS SCRAM-SHA-256, SCRAM-SHA-1 and CRAM-MD5 (they expose no
//! reusable secret); after it also SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS (channel binding
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

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use saslmech::proto::smtp::SmtpServer;
use saslmech::proto::{AuthRequest, Phase, ServerEvent};
use saslmech::{ChannelBindingType, Failure, Mechanism, ServerConfig, Transport};
use sha2::{Digest, Sha256};

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

impl Stream {
    /// The TCP socket under the stream, if it is still there.
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Tls(s) => Some(&s.sock),
            Stream::Closed => None,
        }
    }
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

/// Why a connection is being ended by the server (carried in an `io::Error`).
#[derive(Debug)]
enum Abort {
    /// A line, the TLS handshake or the session took longer than allowed.
    Timeout,
    /// A line ended in a bare LF.
    BareLf,
}

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Abort::Timeout => "timeout exceeded",
            Abort::BareLf => "bare <LF> received",
        })
    }
}

impl std::error::Error for Abort {}

fn abort(why: Abort) -> io::Error {
    io::Error::other(why)
}

/// The `Abort` an error carries, if it is one.
fn aborted(e: &io::Error) -> Option<&Abort> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Abort>())
}

/// A line from the client, without its CRLF.
struct Line {
    /// The line, cut at `MAX_LINE + 1` octets.
    bytes: Vec<u8>,
    /// It was longer than `MAX_LINE` (the rest was read and dropped).
    overlong: bool,
}

/// A connection with a bounded line reader and deadlines.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    /// While discarding an over-long line: its last dropped octet was a CR.
    prev_cr: bool,
    shared: Arc<Shared>,
    /// When the connection was accepted.
    started: Instant,
}

impl Conn {
    /// When something that began at `since` (waiting for a line, a TLS handshake) must be
    /// done: the command time from then, or the end of the session if sooner. Asked again at
    /// each wake-up, so that a table that fills up shortens the wait of those already waiting.
    fn deadline(&self, since: Instant) -> Instant {
        let limits = &self.shared.limits;
        let (command, session) = if self.shared.stressed.load(Ordering::Acquire) {
            (limits.stress_command, limits.stress_session)
        } else {
            (limits.command, limits.session)
        };
        (since + command).min(self.started + session)
    }

    /// How long to wait now for something that began at `since` (at most a second, so that
    /// stress is noticed); `Abort::Timeout` once the deadline has passed.
    fn wait(&self, since: Instant) -> io::Result<Duration> {
        let deadline = self.deadline(since);
        let now = Instant::now();
        if now >= deadline {
            return Err(abort(Abort::Timeout));
        }
        Ok((deadline - now).clamp(Duration::from_millis(1), Duration::from_secs(1)))
    }

    /// The next line; `None` at end of stream. A line must end in CRLF (a bare LF is
    /// `Abort::BareLf`) and arrive whole within the command time (`Abort::Timeout`). An
    /// over-long line is cut at `MAX_LINE + 1` octets and the rest read and dropped.
    fn read_line(&mut self) -> io::Result<Option<Line>> {
        let since = Instant::now();
        let mut kept: Option<Vec<u8>> = None;
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|b| *b == b'\n') {
                let i = scanned + i;
                let cr = match i {
                    0 => kept.is_some() && self.prev_cr,
                    _ => self.buf[i - 1] == b'\r',
                };
                if !cr {
                    return Err(abort(Abort::BareLf));
                }
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.truncate(i.saturating_sub(1));
                self.prev_cr = false;
                return Ok(Some(match kept {
                    Some(bytes) => Line {
                        bytes,
                        overlong: true,
                    },
                    None => Line {
                        bytes: line,
                        overlong: false,
                    },
                }));
            }
            if self.buf.len() > MAX_LINE {
                if kept.is_none() {
                    kept = Some(self.buf[..=MAX_LINE].to_vec());
                }
                self.prev_cr = self.buf.last() == Some(&b'\r');
                self.buf.clear();
            }
            scanned = self.buf.len();
            let mut chunk = [0u8; 4096];
            let n = loop {
                let wait = self.wait(since)?;
                if let Some(tcp) = self.stream.tcp() {
                    tcp.set_read_timeout(Some(wait))?;
                }
                match self.stream.read(&mut chunk) {
                    Ok(n) => break n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        // A client that does not read its replies has the command time to take them.
        let wait = self
            .deadline(Instant::now())
            .saturating_duration_since(Instant::now());
        if let Some(tcp) = self.stream.tcp() {
            tcp.set_write_timeout(Some(wait.max(Duration::from_millis(1))))?;
        }
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn reply(&mut self, text: &str) -> io::Result<()> {
        self.send(format!("{text}\r\n").as_bytes())
    }

    /// Close: stop sending, then read (briefly, boundedly) what the client still sends, so
    /// that closing with unread input does not reset the connection before the client has
    /// read the last reply.
    fn close(&mut self) {
        if let Some(tcp) = self.stream.tcp() {
            let _ = tcp.shutdown(std::net::Shutdown::Write);
            let _ = tcp.set_read_timeout(Some(Duration::from_millis(200)));
            let mut sink = [0u8; 4096];
            let mut raw = tcp;
            for _ in 0..16 {
                match raw.read(&mut sink) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        self.stream = Stream::Closed;
    }
}

struct Shared {
    config: Arc<ServerConfig>,
    limits: Limits,
    /// Stress mode: from a full connection table until it is no more than 3/4 full.
    stressed: AtomicBool,
    tls: Tls,
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

/// Serve one connection, then close it: with 421 if it ran out of time, with 521 after a
/// bare LF.
fn serve(shared: Arc<Shared>, tcp: TcpStream, id: u64) {
    let mut conn = Conn {
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
        prev_cr: false,
        shared: Arc::clone(&shared),
        started: Instant::now(),
    };
    if let Err(e) = session(&shared, &mut conn, id) {
        log(id, &format!("closed: {e}"));
        let last = match aborted(&e) {
            Some(Abort::Timeout) => Some("421 4.4.2 localhost Error: timeout exceeded"),
            Some(Abort::BareLf) => Some("521 5.5.2 localhost Error: bare <LF> received"),
            None => None,
        };
        if let Some(text) = last {
            let _ = conn.reply(text);
        }
    }
    conn.close();
}

fn session(shared: &Arc<Shared>, conn: &mut Conn, id: u64) -> io::Result<()> {
    let mut auth = SmtpServer::new(Arc::clone(&shared.config));
    let mut tls = false;
    let mut greeted = false;
    let mut failures = 0u32;
    let mut mail_from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();

    conn.reply("220 localhost ESMTP saslmech demo submission server")?;
    while let Some(Line { bytes: line, .. }) = conn.read_line()? {
        let is_auth = line
            .get(..5)
            .is_some_and(|v| v.eq_ignore_ascii_case(b"AUTH "));
        if line.len() > MAX_COMMAND && !is_auth {
            conn.reply("500 5.5.2 Line too long")?;
            continue;
        }
        // Commands are printable ASCII: no NUL, no control, nothing above 0x7F (no SMTPUTF8
        // here). An AUTH line goes to the adapter whole, which answers 501.
        if !is_auth && !line.iter().all(|b| (0x20..0x7f).contains(b)) {
            conn.reply("500 5.5.2 Error: invalid characters in command")?;
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
                let server = rustls::ServerConnection::new(Arc::clone(&shared.tls.config))
                    .map_err(io::Error::other)?;
                let mut stream = rustls::StreamOwned::new(server, tcp);
                // The handshake has the command time, counted as a whole: a client that sends
                // a byte now and then does not hold the connection. (Step by step rather
                // than `complete_io`, which keeps reading as long as bytes come.)
                let since = Instant::now();
                let again = |e: &io::Error| {
                    matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    )
                };
                loop {
                    let wait = conn.wait(since)?;
                    stream.sock.set_read_timeout(Some(wait))?;
                    stream.sock.set_write_timeout(Some(wait))?;
                    if stream.conn.wants_write() {
                        match stream.conn.write_tls(&mut stream.sock) {
                            Ok(_) => {}
                            Err(e) if again(&e) => {}
                            Err(e) => return Err(e),
                        }
                        continue;
                    }
                    if !stream.conn.is_handshaking() {
                        break;
                    }
                    match stream.conn.read_tls(&mut stream.sock) {
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(_) => {
                            if let Err(e) = stream.conn.process_new_packets() {
                                // Send the alert rustls queued, then give up.
                                let _ = stream.conn.write_tls(&mut stream.sock);
                                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                            }
                        }
                        Err(e) if again(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                let transport = shared.tls.transport(&stream.conn);
                log(
                    id,
                    &format!(
                        "TLS established ({:?}; channel binding: {}{}{})",
                        stream.conn.protocol_version(),
                        if transport
                            .channel_binding(ChannelBindingType::TlsExporter)
                            .is_some()
                        {
                            "tls-exporter, "
                        } else {
                            ""
                        },
                        "tls-server-end-point",
                        transport
                            .external_identity()
                            .map(|i| format!("; client certificate for {i}"))
                            .unwrap_or_default(),
                    ),
                );
                conn.stream = Stream::Tls(Box::new(stream));
                tls = true;
                greeted = false;
                mail_from = None;
                rcpts.clear();
                // Channel binding for the -PLUS mechanisms, the certificate's identity for
                // EXTERNAL; this also forgets any authentication (RFC 3207 §4.2).
                auth.set_transport(transport);
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
                            event = auth.line(&next.bytes);
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
                let mut too_long = false;
                loop {
                    // Lines end in CRLF (a bare LF ends the session): only CRLF "." CRLF
                    // ends the message.
                    let Some(Line { bytes: l, overlong }) = conn.read_line()? else {
                        return Ok(());
                    };
                    if l == b"." {
                        break;
                    }
                    if overlong {
                        too_long = true;
                        continue;
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
                if too_long {
                    conn.reply("500 5.5.2 Message line too long")?;
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

/// Every mechanism the demo enables by default, in the order it advertises them. EXTERNAL
/// is offered only to a client that presented the demo client certificate.
const DEFAULT_MECHANISMS: [Mechanism; 10] = [
    Mechanism::ScramSha256Plus,
    Mechanism::ScramSha256,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha1,
    Mechanism::OAuthBearer,
    Mechanism::XOAuth2,
    Mechanism::CramMd5,
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::External,
];

struct Args {
    listen: String,
    users: Option<PathBuf>,
    allow_insecure_auth: bool,
    mechanisms: Vec<Mechanism>,
    limits: Limits,
}

fn usage() -> ! {
    eprintln!(
        "usage: submission [--listen ADDR] [--users FILE] [--allow-insecure-auth] [--mechanisms LIST]\n\
         \x20                 [--max-connections N] [--command-timeout SECS] [--session-timeout SECS]\n\
         \x20                 [--stress-command-timeout SECS] [--stress-session-timeout SECS]\n\
         \n\
         --listen ADDR          address to listen on (default 127.0.0.1:2587; port 0 picks one)\n\
         --users FILE           accounts, one user:secret a line (see docs/cli.md)\n\
         --allow-insecure-auth  allow PLAIN, LOGIN, OAUTHBEARER and XOAUTH2 without STARTTLS (testing only)\n\
         --mechanisms LIST      enable only these, comma-separated, in this order (default:\n\
         \x20                      SCRAM-SHA-256-PLUS,SCRAM-SHA-256,SCRAM-SHA-1-PLUS,SCRAM-SHA-1,\n\
         \x20                      OAUTHBEARER,XOAUTH2,CRAM-MD5,PLAIN,LOGIN,EXTERNAL)\n\
         --max-connections N    connections served at once (default 64); one more gets 421\n\
         --command-timeout SECS time for one whole line or the TLS handshake (default 300)\n\
         --session-timeout SECS time for a whole session (default 1800)\n\
         --stress-command-timeout SECS, --stress-session-timeout SECS\n\
         \x20                      the same while the table is full, until it is 3/4 full\n\
         \x20                      (defaults 10 and 120); SECS may have decimals"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        listen: "127.0.0.1:2587".into(),
        users: None,
        allow_insecure_auth: false,
        mechanisms: DEFAULT_MECHANISMS.to_vec(),
        limits: Limits::default(),
    };
    let seconds = |text: Option<String>| -> Duration {
        text.and_then(|t| t.parse::<f64>().ok())
            .filter(|s| *s > 0.0 && *s <= 1e9)
            .map(Duration::from_secs_f64)
            .unwrap_or_else(|| usage())
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => args.listen = it.next().unwrap_or_else(|| usage()),
            "--users" => args.users = Some(it.next().unwrap_or_else(|| usage()).into()),
            "--allow-insecure-auth" => args.allow_insecure_auth = true,
            "--max-connections" => {
                args.limits.max_connections = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage())
            }
            "--command-timeout" => args.limits.command = seconds(it.next()),
            "--session-timeout" => args.limits.session = seconds(it.next()),
            "--stress-command-timeout" => args.limits.stress_command = seconds(it.next()),
            "--stress-session-timeout" => args.limits.stress_session = seconds(it.next()),
            "--mechanisms" => {
                let list = it.next().unwrap_or_else(|| usage());
                args.mechanisms = list
                    .split(',')
                    .map(|name| {
                        Mechanism::from_name(name.trim().as_bytes()).unwrap_or_else(|| {
                            eprintln!("submission: unknown mechanism {name:?}");
                            usage()
                        })
                    })
                    .collect();
            }
            _ => usage(),
        }
    }
    args
}

/// PEM armour for DER bytes.
fn pem(label: &str, der: &[u8]) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    let b64 = saslmech::b64::encode(der);
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The TLS side of the server: configuration, and what a connection's handshake tells the
/// SASL layer.
struct Tls {
    config: Arc<rustls::ServerConfig>,
    /// `tls-server-end-point` (RFC 5929): SHA-256 of the server certificate (its signature
    /// uses SHA-256).
    end_point: [u8; 32],
    /// The client certificates the demo CA issued: SHA-256 of the DER -> the identity.
    client_certs: HashMap<[u8; 32], String>,
}

impl Tls {
    /// The transport after a completed handshake: channel-binding data and, for a client
    /// certificate the demo issued (its chain already verified by rustls), the identity.
    fn transport(&self, conn: &rustls::ServerConnection) -> Transport {
        let mut transport = Transport::tls()
            .with_channel_binding(ChannelBindingType::TlsServerEndPoint, &self.end_point);
        // RFC 9266: tls-exporter is defined for TLS 1.3 only.
        if conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
            && let Ok(ekm) =
                conn.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(b""))
        {
            transport = transport.with_channel_binding(ChannelBindingType::TlsExporter, &ekm);
        }
        let identity = conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|cert| self.client_certs.get(&sha256(cert)));
        if let Some(identity) = identity {
            transport = transport.with_external_identity(identity);
        }
        transport
    }
}

/// Files the server writes for clients: its certificate and, in demo mode, a client
/// certificate and key for EXTERNAL.
struct TlsFiles {
    server_cert_pem: String,
    client: Option<(String, String)>,
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, and the TLS configuration using
/// it. With `client_identity`, also a demo CA that issues one client certificate for that
/// identity: clients may present it (client certificates are optional), and rustls verifies
/// its chain against the demo CA.
fn tls_config(client_identity: Option<&str>) -> Result<(Tls, TlsFiles), String> {
    let err = |e: &dyn std::fmt::Display| format!("TLS: {e}");
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| err(&e))?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let server_cert_pem = pem("CERTIFICATE", &cert);
    let end_point = sha256(&cert);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?;
    let mut client_certs = HashMap::new();
    let mut client = None;
    let builder = match client_identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            use rcgen::{
                BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
                KeyPair, KeyUsagePurpose, SanType,
            };
            let mut ca = CertificateParams::default();
            ca.distinguished_name
                .push(DnType::CommonName, "saslmech demo client CA");
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let ca_key = KeyPair::generate().map_err(|e| err(&e))?;
            let ca_cert = ca.self_signed(&ca_key).map_err(|e| err(&e))?;
            let issuer = Issuer::new(ca, ca_key);
            let mut leaf = CertificateParams::default();
            leaf.distinguished_name.push(DnType::CommonName, identity);
            leaf.subject_alt_names = vec![SanType::Rfc822Name(
                identity.try_into().map_err(|e| err(&e))?,
            )];
            leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            let leaf_key = KeyPair::generate().map_err(|e| err(&e))?;
            let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(|e| err(&e))?;
            client_certs.insert(sha256(leaf_cert.der()), identity.to_owned());
            client = Some((
                pem("CERTIFICATE", leaf_cert.der()),
                pem("PRIVATE KEY", &leaf_key.serialize_der()),
            ));
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca_cert.der().clone()).map_err(|e| err(&e))?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| err(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(vec![cert], key)
        .map_err(|e| err(&e))?;
    Ok((
        Tls {
            config: Arc::new(config),
            end_point,
            client_certs,
        },
        TlsFiles {
            server_cert_pem,
            client,
        },
    ))
}

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

fn main() {
    let args = parse_args();
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
