//! A demo SMTP submission server on loopback, built on `saslmech::proto::smtp::SmtpServer`.
//!
//! ```text
//! cargo run --example submission [-- --listen 127.0.0.1:2587] [--users FILE] [--allow-insecure-auth]
//! ```
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
//! keys), CRAM-MD5 does not. The parser is `cli/src/users.rs`, included below and shared with
//! the `saslmech server` command-line tool.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

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
const MAX_CONNECTIONS: usize = 64;
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

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
                let server = rustls::ServerConnection::new(Arc::clone(&shared.tls.config))
                    .map_err(io::Error::other)?;
                let mut stream = rustls::StreamOwned::new(server, tcp);
                while stream.conn.is_handshaking() {
                    stream.conn.complete_io(&mut stream.sock)?;
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
}

fn usage() -> ! {
    eprintln!(
        "usage: submission [--listen ADDR] [--users FILE] [--allow-insecure-auth] [--mechanisms LIST]\n\
         \n\
         --listen ADDR          address to listen on (default 127.0.0.1:2587; port 0 picks one)\n\
         --users FILE           accounts, one user:secret a line (see the README)\n\
         --allow-insecure-auth  allow PLAIN, LOGIN, OAUTHBEARER and XOAUTH2 without STARTTLS (testing only)\n\
         --mechanisms LIST      enable only these, comma-separated, in this order (default:\n\
         \x20                      SCRAM-SHA-256-PLUS,SCRAM-SHA-256,SCRAM-SHA-1-PLUS,SCRAM-SHA-1,\n\
         \x20                      OAUTHBEARER,XOAUTH2,CRAM-MD5,PLAIN,LOGIN,EXTERNAL)"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        listen: "127.0.0.1:2587".into(),
        users: None,
        allow_insecure_auth: false,
        mechanisms: DEFAULT_MECHANISMS.to_vec(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => args.listen = it.next().unwrap_or_else(|| usage()),
            "--users" => args.users = Some(it.next().unwrap_or_else(|| usage()).into()),
            "--allow-insecure-auth" => args.allow_insecure_auth = true,
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
