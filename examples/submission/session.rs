//! The SMTP session: one connection's state machine, from the greeting to QUIT.

use std::io;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use saslmech::proto::smtp::SmtpServer;
use saslmech::proto::{Phase, ServerEvent};
use saslmech::{ChannelBindingType, Failure, ServerConfig};

use crate::conn::{Abort, Conn, Line, Stream, aborted};
use crate::tls::Tls;
use crate::{Limits, Lookup, MAX_AUTH_FAILURES, MAX_COMMAND, MAX_MESSAGE, MAX_RECIPIENTS, lookup};

pub(crate) struct Shared {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) limits: Limits,
    /// Stress mode: from a full connection table until it is no more than 3/4 full.
    pub(crate) stressed: AtomicBool,
    pub(crate) tls: Tls,
    pub(crate) directory: mpsc::Sender<Lookup>,
    pub(crate) spool: PathBuf,
    pub(crate) messages: AtomicU64,
    pub(crate) connections: AtomicUsize,
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
pub(crate) fn serve(shared: Arc<Shared>, tcp: TcpStream, id: u64) {
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
