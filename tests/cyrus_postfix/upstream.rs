//! The upstream of the relay tests: a small SMTP server on 127.0.0.1 that plays a mail
//! provider's submission service (Gmail, Microsoft 365). Written here, independently of the
//! engine, so that the client side under test (Postfix → libsasl2 → plugin) is checked against
//! the mechanisms' wire formats, not against our own server code.
//!
//! It offers `AUTH PLAIN XOAUTH2 OAUTHBEARER`, accepts exactly one user with one secret (the
//! password for PLAIN, the bearer token for the OAuth mechanisms) and records every AUTH and
//! every message. A wrong user or token is refused the way providers do it:
//! - XOAUTH2: `334` with a base64 JSON error (`{"status":"401",…}`), the client's empty reply,
//!   then `535 5.7.8`;
//! - OAUTHBEARER (RFC 7628 §3.2.2): `334` with a base64 JSON error
//!   (`{"status":"invalid_token",…}`), the client's `%x01` reply, then `535 5.7.8`;
//! - PLAIN: `535 5.7.8` at once.
//!
//! Every read has a timeout; the accept loop stops when the server is dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The error challenge sent on a refused XOAUTH2 token (Google's format).
pub const XOAUTH2_ERROR_JSON: &str =
    r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#;
/// The error challenge sent on a refused OAUTHBEARER token (RFC 7628 §3.2.2).
pub const OAUTHBEARER_ERROR_JSON: &str = r#"{"status":"invalid_token","scope":"mail","openid-configuration":"https://idp.example.net/.well-known/openid-configuration"}"#;
/// The text of the final 535 reply (it must show in Postfix's log).
pub const REJECT_TEXT: &str = "5.7.8 Username and Password not accepted (saslmech test upstream)";

/// One AUTH command as the upstream saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSeen {
    /// The mechanism named in the AUTH command, upper case.
    pub mech: String,
    /// Whether the client sent an initial response with the AUTH command.
    pub initial_response: bool,
    /// The decoded client message (the one with the credentials).
    pub message: Vec<u8>,
    /// The user it named (`user=` for XOAUTH2, the GS2 `a=` for OAUTHBEARER, the authcid for
    /// PLAIN); `None` if the message did not parse.
    pub user: Option<String>,
    /// The token (`auth=Bearer …`) or the PLAIN password; `None` if the message did not parse.
    pub secret: Option<String>,
    /// OAUTHBEARER's `host=` and `port=` key-value pairs, as sent.
    pub host: Option<String>,
    pub port: Option<String>,
    /// The upstream's verdict.
    pub accepted: bool,
    /// After an OAuth error challenge: the client's decoded reply to it (XOAUTH2 expects an
    /// empty one, OAUTHBEARER `\x01`); `None` if there was no error challenge or no reply.
    pub error_reply: Option<Vec<u8>>,
    /// The final reply code sent (235, 535, or 501 for malformed input).
    pub code: u16,
}

/// One message as the upstream received it.
#[derive(Debug, Clone)]
pub struct MessageSeen {
    /// The AUTH user of the session that sent it.
    pub auth_user: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: String,
}

#[derive(Default)]
struct Seen {
    auths: Vec<AuthSeen>,
    messages: Vec<MessageSeen>,
    errors: Vec<String>,
}

/// A running upstream; stops (accept loop ends, within 10 ms) when dropped.
pub struct Upstream {
    pub port: u16,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    /// Accepts `user` with `secret` (the token, or the PLAIN password).
    pub fn start(user: &str, secret: &str) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let account = Arc::new((user.to_owned(), secret.to_owned()));
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let (seen, account) = (seen2.clone(), account.clone());
                        std::thread::spawn(move || {
                            if let Err(e) = serve(sock, &account.0, &account.1, &seen) {
                                lock(&seen).errors.push(e);
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Upstream {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    pub fn auths(&self) -> Vec<AuthSeen> {
        lock(&self.seen).auths.clone()
    }

    pub fn messages(&self) -> Vec<MessageSeen> {
        lock(&self.seen).messages.clone()
    }

    /// Protocol errors a session ended with (a client that broke the protocol, a timeout).
    pub fn errors(&self) -> Vec<String> {
        lock(&self.seen).errors.clone()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(m: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn line(&mut self) -> Result<String, String> {
        let mut s = String::new();
        match self.r.read_line(&mut s) {
            Ok(0) => Err("client closed the connection".into()),
            Ok(_) => Ok(s.trim_end_matches(['\r', '\n']).to_owned()),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    fn send(&mut self, reply: &str) -> Result<(), String> {
        self.w
            .write_all(format!("{reply}\r\n").as_bytes())
            .map_err(|e| format!("write: {e}"))
    }
}

fn serve(sock: TcpStream, user: &str, secret: &str, seen: &Mutex<Seen>) -> Result<(), String> {
    sock.set_nonblocking(false).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let w = sock.try_clone().map_err(|e| e.to_string())?;
    let mut c = Conn {
        r: BufReader::new(sock),
        w,
    };
    c.send("220 upstream.example.net ESMTP saslmech test upstream")?;
    let mut authed: Option<String> = None;
    let mut from: Option<String> = None;
    let mut rcpts = Vec::new();
    loop {
        let line = c.line()?;
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or("");
        match verb {
            "EHLO" => c.send(
                "250-upstream.example.net\r\n250-PIPELINING\r\n250-AUTH PLAIN XOAUTH2 OAUTHBEARER\r\n250 8BITMIME",
            )?,
            "HELO" => c.send("250 upstream.example.net")?,
            "AUTH" => {
                if authed.is_some() {
                    c.send("503 5.5.1 Already authenticated")?;
                    continue;
                }
                let seen_auth = auth(&mut c, &line, user, secret)?;
                let ok = seen_auth.accepted;
                let name = seen_auth.user.clone().unwrap_or_default();
                lock(seen).auths.push(seen_auth);
                if ok {
                    authed = Some(name);
                }
            }
            "MAIL" => {
                if authed.is_none() {
                    c.send("530 5.7.0 Authentication required")?;
                    continue;
                }
                from = Some(line.get(10..).unwrap_or("").to_owned());
                rcpts.clear();
                c.send("250 2.1.0 Ok")?;
            }
            "RCPT" => {
                if from.is_none() {
                    c.send("503 5.5.1 Error: need MAIL command")?;
                    continue;
                }
                rcpts.push(line.get(8..).unwrap_or("").to_owned());
                c.send("250 2.1.5 Ok")?;
            }
            "DATA" => {
                let (Some(f), false) = (from.take(), rcpts.is_empty()) else {
                    c.send("503 5.5.1 Error: need RCPT command")?;
                    continue;
                };
                c.send("354 End data with <CR><LF>.<CR><LF>")?;
                let mut data = String::new();
                // Bounded by the read timeout and by this size limit.
                loop {
                    let l = c.line()?;
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                    if data.len() > 1 << 20 {
                        return Err("message over 1 MiB".into());
                    }
                }
                let n = {
                    let mut s = lock(seen);
                    s.messages.push(MessageSeen {
                        auth_user: authed.clone().unwrap_or_default(),
                        mail_from: f,
                        rcpt_to: std::mem::take(&mut rcpts),
                        data,
                    });
                    s.messages.len()
                };
                c.send(&format!("250 2.0.0 Ok: queued as UPSTREAM{n}"))?;
            }
            "RSET" => {
                from = None;
                rcpts.clear();
                c.send("250 2.0.0 Ok")?;
            }
            "NOOP" => c.send("250 2.0.0 Ok")?,
            "QUIT" => {
                c.send("221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => c.send("502 5.5.2 Error: command not recognized")?,
        }
    }
}

/// One AUTH exchange; returns what was seen (the final reply is already sent).
fn auth(c: &mut Conn, line: &str, user: &str, secret: &str) -> Result<AuthSeen, String> {
    let mut words = line.split(' ').skip(1);
    let mech = words.next().unwrap_or("").to_ascii_uppercase();
    let ir = words.next();
    let mut seen = AuthSeen {
        mech: mech.clone(),
        initial_response: ir.is_some(),
        message: Vec::new(),
        user: None,
        secret: None,
        host: None,
        port: None,
        accepted: false,
        error_reply: None,
        code: 0,
    };
    if !["PLAIN", "XOAUTH2", "OAUTHBEARER"].contains(&mech.as_str()) {
        c.send("504 5.5.4 Unrecognized authentication type")?;
        seen.code = 504;
        return Ok(seen);
    }
    let b64 = match ir {
        // "=" is an empty initial response (RFC 4954).
        Some(ir) => ir.to_owned(),
        None => {
            c.send("334 ")?;
            c.line()?
        }
    };
    let Some(message) = b64_decode(&b64) else {
        c.send("501 5.5.2 Cannot decode response")?;
        seen.code = 501;
        return Ok(seen);
    };
    seen.message = message.clone();
    let parsed = match mech.as_str() {
        "PLAIN" => parse_plain(&message),
        "XOAUTH2" => parse_xoauth2(&message),
        _ => parse_oauthbearer(&message).map(|(u, t, h, p)| {
            seen.host = h;
            seen.port = p;
            (u, t)
        }),
    };
    let Some((u, s)) = parsed else {
        c.send("501 5.5.2 Malformed authentication message")?;
        seen.code = 501;
        return Ok(seen);
    };
    seen.accepted = u == user && s == secret;
    seen.user = Some(u);
    seen.secret = Some(s);
    if seen.accepted {
        c.send("235 2.7.0 Accepted")?;
        seen.code = 235;
        return Ok(seen);
    }
    let error_json = match mech.as_str() {
        "XOAUTH2" => Some(XOAUTH2_ERROR_JSON),
        "OAUTHBEARER" => Some(OAUTHBEARER_ERROR_JSON),
        _ => None,
    };
    if let Some(json) = error_json {
        c.send(&format!("334 {}", b64_encode(json.as_bytes())))?;
        let reply = c.line()?;
        if reply == "*" {
            // The client cancelled instead of acknowledging.
            seen.error_reply = Some(b"*".to_vec());
            c.send("501 5.7.0 Authentication cancelled")?;
            seen.code = 501;
            return Ok(seen);
        }
        seen.error_reply = Some(b64_decode(&reply).unwrap_or_else(|| reply.into_bytes()));
    }
    c.send(&format!("535 {REJECT_TEXT}"))?;
    seen.code = 535;
    Ok(seen)
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`.
fn parse_plain(m: &[u8]) -> Option<(String, String)> {
    let s = std::str::from_utf8(m).ok()?;
    let mut parts = s.split('\0');
    let (_authzid, authcid, pass) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((authcid.to_owned(), pass.to_owned()))
}

/// `user=U ^A auth=Bearer T ^A ^A`, exactly.
fn parse_xoauth2(m: &[u8]) -> Option<(String, String)> {
    let s = std::str::from_utf8(m).ok()?;
    let body = s.strip_suffix("\x01\x01")?;
    let (u, a) = body.split_once('\x01')?;
    let user = u.strip_prefix("user=")?;
    let token = a.strip_prefix("auth=Bearer ")?;
    if user.is_empty() || token.is_empty() || token.contains('\x01') {
        return None;
    }
    Some((user.to_owned(), token.to_owned()))
}

type OauthbearerFields = (String, String, Option<String>, Option<String>);

/// RFC 7628: `n,a=U, ^A host=H ^A port=P ^A auth=Bearer T ^A ^A` (host and port optional; the
/// authzid is required here: it names the mailbox, as providers require).
fn parse_oauthbearer(m: &[u8]) -> Option<OauthbearerFields> {
    let s = std::str::from_utf8(m).ok()?;
    let (gs2, rest) = s.split_once('\x01')?;
    let mut g = gs2.split(',');
    if g.next()? != "n" {
        return None;
    }
    let user = g
        .next()?
        .strip_prefix("a=")?
        .replace("=2C", ",")
        .replace("=3D", "=");
    if !g.next()?.is_empty() || g.next().is_some() || user.is_empty() {
        return None;
    }
    let kvs = rest.strip_suffix("\x01\x01")?;
    let (mut host, mut port, mut token) = (None, None, None);
    for kv in kvs.split('\x01') {
        let (k, v) = kv.split_once('=')?;
        match k {
            "host" => host = Some(v.to_owned()),
            "port" => port = Some(v.to_owned()),
            "auth" => token = Some(v.strip_prefix("Bearer ")?.to_owned()),
            _ => {}
        }
    }
    Some((user, token?, host, port))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn b64_encode(data: &[u8]) -> String {
    let mut s = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Strict standard base64 with padding; `=` alone is the empty message (RFC 4954).
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    if s == "=" {
        return Some(Vec::new());
    }
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::new();
    for quad in s.as_bytes().chunks(4) {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for (i, &ch) in quad.iter().enumerate() {
            let v = if i >= 4 - pad {
                0
            } else {
                B64.iter().position(|&x| x == ch)? as u32
            };
            n = (n << 6) | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[test]
fn upstream_parsers_take_the_wire_formats() {
    assert_eq!(
        parse_xoauth2(b"user=a@b.c\x01auth=Bearer tok\x01\x01"),
        Some(("a@b.c".into(), "tok".into()))
    );
    assert_eq!(parse_xoauth2(b"user=a@b.c\x01auth=tok\x01\x01"), None);
    assert_eq!(
        parse_oauthbearer(b"n,a=a@b.c,\x01host=h\x01port=25\x01auth=Bearer tok\x01\x01"),
        Some((
            "a@b.c".into(),
            "tok".into(),
            Some("h".into()),
            Some("25".into())
        ))
    );
    assert_eq!(parse_oauthbearer(b"n,,\x01auth=Bearer tok\x01\x01"), None);
    assert_eq!(
        parse_plain(b"\0u\0p"),
        Some(("u".to_owned(), "p".to_owned()))
    );
    for s in ["", "a", "ab", "abc", "\x01"] {
        assert_eq!(
            b64_decode(&b64_encode(s.as_bytes())).as_deref(),
            Some(s.as_bytes())
        );
    }
    assert_eq!(b64_encode(b"\x01"), "AQ==");
}
