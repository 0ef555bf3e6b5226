//! No secret in any `Debug` or `Display` output: every mechanism's client and server is driven
//! through success, wrong credentials, cancellation and misuse with a sentinel password (and
//! token), and everything observable is formatted with `{:?}` and `{:#?}` at every step. The
//! sentinel must not appear: not as text, not as the decimal byte list `Debug` gives `&[u8]`,
//! not in hex, and not in base64 at any alignment.

use std::fmt::Debug;
use std::sync::Arc;

use saslmech::proto::imap::{ImapClient, ImapServer};
use saslmech::proto::pop3::{Pop3Client, Pop3Server};
use saslmech::proto::smtp::{SmtpClient, SmtpServer};
use saslmech::proto::{AuthRequest, ClientEvent, ServerEvent};
use saslmech::{
    ALL_MECHANISMS, Answer, ChannelBindingType, ClientConfig, ClientSession, CramMd5Keys,
    Credentials, Mechanism, NonceSource, Request, ScramHash, ScramKeys, ServerConfig,
    ServerSession, ServerStep, TokenError, Transport, b64,
};

const SENTINEL: &str = "S3ntinel-P4ssw0rd-Zq9xK";

/// Every rendering of the sentinel a leak could take.
fn forbidden() -> Vec<String> {
    let s = SENTINEL.as_bytes();
    let mut v = vec![SENTINEL.to_owned()];
    let list = format!("{s:?}");
    v.push(
        list.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    );
    v.push(s.iter().map(|b| format!("{b:02x}")).collect());
    v.push(s.iter().map(|b| format!("{b:02X}")).collect());
    // Base64 at each alignment: only the characters that depend on the sentinel alone.
    for pad in 0..3 {
        let mut data = vec![0u8; pad];
        data.extend_from_slice(s);
        let text = b64::encode(&data);
        let start = (pad * 4).div_ceil(3);
        let end = text.len() - 4;
        v.push(text[start..end].to_owned());
    }
    v
}

#[derive(Default)]
struct Log(String);

impl Log {
    fn add(&mut self, v: &impl Debug) {
        self.0.push_str(&format!("{v:?}\n{v:#?}\n"));
    }
    fn check(&self, what: &str) {
        assert!(self.0.len() > 100, "{what}: nothing was logged");
        for f in forbidden() {
            assert!(
                !self.0.contains(&f),
                "{what}: the sentinel leaked as {f:?} in:\n{}",
                self.0
            );
        }
    }
}

fn config() -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::new()
            .mechanisms(ALL_MECHANISMS)
            .hostname("mx.example.com")
            .nonce_source(NonceSource::Fixed(b"1.2".to_vec()))
            .scram_iterations(2)
            .scram_secret(SENTINEL.as_bytes()),
    )
}

/// The sentinel is also the channel-binding data (secret to the connection) on both sides.
fn transport() -> Transport {
    Transport::tls()
        .with_success_data(false)
        .with_channel_binding(ChannelBindingType::TlsExporter, SENTINEL.as_bytes())
        .with_external_identity("tim")
}

/// Channel binding for the `-PLUS` mechanisms only (plain SCRAM with binding data says `y`,
/// which this server, offering `-PLUS`, rightly refuses as a downgrade).
fn client_config(m: Mechanism) -> ClientConfig {
    let c = ClientConfig::new().scram_iterations(1, 4096);
    if m.channel_binding() {
        c.channel_binding(ChannelBindingType::TlsExporter, SENTINEL.as_bytes())
    } else {
        c
    }
}

/// SCRAM keys derived from `stored` (for the mechanism's hash), or `None` for the others.
fn scram_keys(m: Mechanism, stored: &[u8]) -> Option<ScramKeys> {
    ScramHash::of(m).map(|h| ScramKeys::derive(h, stored, b"NaCl", 2).unwrap())
}

/// True if the mechanism has a password or token that a wrong stored one makes fail.
fn has_secret(m: Mechanism) -> bool {
    m.uses_password() || m.uses_token()
}

/// Drive a client and a server against each other; `stored` is what the application answers
/// with. Everything goes into the log.
/// Returns whether the server reported success.
fn exchange(m: Mechanism, stored: &[u8], authzid: Option<&str>, log: &mut Log, b64: bool) -> bool {
    let mut succeeded = false;
    let mut creds = Credentials::new()
        .authcid("tim")
        .password(SENTINEL.as_bytes())
        .token(SENTINEL.as_bytes());
    if let Some(z) = authzid {
        creds = creds.authzid(z);
    }
    log.add(&creds);
    let cc = client_config(m);
    log.add(&cc);
    let Ok(mut client) = ClientSession::with_config(m, &creds, &cc).map_err(|e| log.add(&e)) else {
        return false;
    };
    log.add(&client);
    let config = config();
    log.add(&*config);
    let transport = transport();
    log.add(&transport);
    let mut server = ServerSession::new(&config, m, &transport).unwrap();
    log.add(&server);
    let keys = CramMd5Keys::from_password(SENTINEL.as_bytes());
    log.add(&keys);
    let scram = scram_keys(m, stored);
    log.add(&scram);
    let ir = if b64 {
        client.start_b64().unwrap().map(<[u8]>::to_vec)
    } else {
        client.start().unwrap().map(<[u8]>::to_vec)
    };
    log.add(&client);
    let mut step = match (&ir, b64) {
        (Some(ir), true) => server.start_b64(Some(ir)),
        (Some(ir), false) => server.start(Some(ir)),
        (None, true) => server.start_b64(None),
        (None, false) => server.start(None),
    };
    for _ in 0..8 {
        let s = match step {
            Ok(s) => s,
            Err(e) => {
                log.add(&e);
                log.0.push_str(&format!("{e}\n"));
                break;
            }
        };
        log.add(&s);
        match s {
            ServerStep::Challenge(c) => {
                let c = c.to_vec();
                let r = if b64 {
                    client.step_b64(&c).map(<[u8]>::to_vec)
                } else {
                    client.step(&c).map(<[u8]>::to_vec)
                };
                log.add(&client);
                log.add(&client.oauth_error());
                match r {
                    Ok(resp) => {
                        step = if b64 {
                            server.step_b64(&resp)
                        } else {
                            server.step(&resp)
                        }
                    }
                    Err(e) => {
                        log.add(&e);
                        log.0.push_str(&format!("{e}\n"));
                        log.add(&server.cancel());
                        break;
                    }
                }
            }
            ServerStep::Request(r) => {
                log.add(&r);
                let answer = match r {
                    Request::VerifyPassword(_) => Answer::Password(stored),
                    Request::Secret(_) if m.is_scram() && stored == SENTINEL.as_bytes() => {
                        Answer::ScramKeys(scram.as_ref().unwrap())
                    }
                    Request::Secret(_) if stored == SENTINEL.as_bytes() => {
                        Answer::CramMd5Keys(&keys)
                    }
                    Request::Secret(_) => Answer::Password(stored),
                    Request::ValidateToken(t)
                        if t.token() == stored
                            && t.authzid().is_none()
                            && m == Mechanism::OAuthBearer =>
                    {
                        Answer::TokenOwner("tim")
                    }
                    Request::ValidateToken(t) if t.token() == stored => Answer::TokenOwner("tim"),
                    Request::ValidateToken(_) => Answer::TokenError(TokenError {
                        status: "401",
                        scope: Some("mail"),
                    }),
                    _ => Answer::Accept,
                };
                log.add(&answer);
                log.add(&server.request());
                // Misuse first: a step while the request waits.
                log.add(&server.step(SENTINEL.as_bytes()).map(|_| ()));
                step = if b64 {
                    server.answer_b64(answer)
                } else {
                    server.answer(answer)
                };
            }
            ServerStep::Success(ok) => {
                succeeded = true;
                log.add(&ok);
                log.add(&ok.identity);
                log.add(&client.finish(ok.data).map(|_| ()));
                break;
            }
            ServerStep::Failure(f) => {
                log.add(&f);
                log.0.push_str(&format!("{f}\n"));
                break;
            }
            _ => break,
        }
    }
    log.add(&server);
    log.add(&server.identity());
    log.add(&server.anonymous_trace());
    log.add(&server.failure());
    log.add(&client);
    // Calls after the end.
    log.add(&server.step(SENTINEL.as_bytes()).map(|_| ()));
    log.add(
        &server
            .answer(Answer::Password(SENTINEL.as_bytes()))
            .map(|_| ()),
    );
    log.add(&client.step(SENTINEL.as_bytes()).map(|_| ()));
    log.add(&client.finish(Some(SENTINEL.as_bytes())));
    succeeded
}

#[test]
fn the_sentinel_never_appears_in_debug_or_display() {
    for &m in ALL_MECHANISMS {
        for b64 in [false, true] {
            let mut log = Log::default();
            // The paths really were taken: success with the right secret, not with a wrong
            // one (EXTERNAL and ANONYMOUS have no secret: they succeed either way).
            assert!(exchange(m, SENTINEL.as_bytes(), None, &mut log, b64), "{m}");
            assert_eq!(
                exchange(m, b"wrong", None, &mut log, b64),
                !has_secret(m),
                "{m}"
            );
            exchange(m, SENTINEL.as_bytes(), Some("other"), &mut log, b64);
            log.check(&format!("{m} (base64: {b64})"));
        }
    }
}

/// The protocol adapters: the same sentinel through SMTP, IMAP and POP3, server and client,
/// every event, request and outcome, and the adapters themselves, formatted at every step.
#[test]
fn the_sentinel_never_appears_in_protocol_adapter_events() {
    for &m in ALL_MECHANISMS {
        for proto in ["smtp", "imap", "pop3"] {
            let mut log = Log::default();
            let ok = adapter_exchange(proto, m, SENTINEL.as_bytes(), &mut log);
            assert!(ok, "{proto} {m}");
            let ok = adapter_exchange(proto, m, b"wrong", &mut log);
            assert_eq!(ok, !has_secret(m), "{proto} {m}");
            log.check(&format!("{proto} {m}"));
        }
    }
}

/// One server adapter (`command`, `line`, `answer`) and one client adapter (`start`, `reply`
/// or `line`) of a protocol, behind closures so the drive loop is shared.
type LineFn<E> = Box<dyn FnMut(&[u8]) -> E>;

struct Adapters {
    command: LineFn<ServerEvent>,
    line: LineFn<ServerEvent>,
    answer: Box<dyn FnMut(Answer<'_>) -> ServerEvent>,
    client_line: LineFn<ClientEvent>,
    debug: Box<dyn Fn() -> String>,
}

fn adapter_exchange(proto: &str, m: Mechanism, stored: &[u8], log: &mut Log) -> bool {
    use std::cell::RefCell;
    use std::rc::Rc;
    let creds = Credentials::new()
        .authcid("tim")
        .password(SENTINEL.as_bytes())
        .token(SENTINEL.as_bytes());
    let cc = client_config(m);
    let keys = CramMd5Keys::from_password(SENTINEL.as_bytes());
    let scram = scram_keys(m, stored);
    let (start, mut a) = match proto {
        "smtp" => {
            let s = Rc::new(RefCell::new(SmtpServer::new(config())));
            s.borrow_mut().set_transport(transport());
            let c = Rc::new(RefCell::new(
                SmtpClient::with_config(m, &creds, &cc).unwrap(),
            ));
            let start = c.borrow_mut().start().unwrap();
            let (s1, s2, s3, c1, s4, c2) = (s.clone(), s.clone(), s.clone(), c.clone(), s, c);
            (
                start,
                Adapters {
                    command: Box::new(move |l| s1.borrow_mut().command(l).unwrap()),
                    line: Box::new(move |l| s2.borrow_mut().line(l).unwrap()),
                    answer: Box::new(move |a| s3.borrow_mut().answer(a).unwrap()),
                    client_line: Box::new(move |l| c1.borrow_mut().reply(l).unwrap()),
                    debug: Box::new(move || format!("{:?}{:?}", s4.borrow(), c2.borrow())),
                },
            )
        }
        "imap" => {
            let s = Rc::new(RefCell::new(ImapServer::new(config())));
            s.borrow_mut().set_transport(transport());
            let c = Rc::new(RefCell::new(
                ImapClient::with_config("a1", m, &creds, &cc).unwrap(),
            ));
            let start = c.borrow_mut().start().unwrap();
            let (s1, s2, s3, c1, s4, c2) = (s.clone(), s.clone(), s.clone(), c.clone(), s, c);
            (
                start,
                Adapters {
                    command: Box::new(move |l| s1.borrow_mut().command(l).unwrap()),
                    line: Box::new(move |l| s2.borrow_mut().line(l).unwrap()),
                    answer: Box::new(move |a| s3.borrow_mut().answer(a).unwrap()),
                    client_line: Box::new(move |l| c1.borrow_mut().line(l).unwrap()),
                    debug: Box::new(move || format!("{:?}{:?}", s4.borrow(), c2.borrow())),
                },
            )
        }
        _ => {
            let s = Rc::new(RefCell::new(Pop3Server::new(config())));
            s.borrow_mut().set_transport(transport());
            let c = Rc::new(RefCell::new(
                Pop3Client::with_config(m, &creds, &cc).unwrap(),
            ));
            let start = c.borrow_mut().start().unwrap();
            let (s1, s2, s3, c1, s4, c2) = (s.clone(), s.clone(), s.clone(), c.clone(), s, c);
            (
                start,
                Adapters {
                    command: Box::new(move |l| s1.borrow_mut().command(l).unwrap()),
                    line: Box::new(move |l| s2.borrow_mut().line(l).unwrap()),
                    answer: Box::new(move |a| s3.borrow_mut().answer(a).unwrap()),
                    client_line: Box::new(move |l| c1.borrow_mut().line(l).unwrap()),
                    debug: Box::new(move || format!("{:?}{:?}", s4.borrow(), c2.borrow())),
                },
            )
        }
    };
    log.add(&start);
    let mut event = (a.command)(start.as_slice());
    for _ in 0..12 {
        log.add(&event);
        log.0.push_str(&(a.debug)());
        let next_line = match &event {
            ServerEvent::Request(r) => {
                let answer = match r {
                    AuthRequest::VerifyPassword { .. } => Answer::Password(stored),
                    AuthRequest::Secret { .. } if m.is_scram() => {
                        Answer::ScramKeys(scram.as_ref().unwrap())
                    }
                    AuthRequest::Secret { .. } if stored == SENTINEL.as_bytes() => {
                        Answer::CramMd5Keys(&keys)
                    }
                    AuthRequest::Secret { .. } => Answer::Password(stored),
                    AuthRequest::ValidateToken {
                        token,
                        authzid,
                        user,
                        ..
                    } if token.as_slice() == stored => match authzid {
                        Some(z) => Answer::TokenOwner(z),
                        None if m == Mechanism::XOAuth2 => Answer::TokenOwner(user),
                        None => Answer::TokenOwner("tim"),
                    },
                    AuthRequest::ValidateToken { .. } => Answer::Reject,
                    _ => Answer::Accept,
                };
                log.add(&answer);
                event = (a.answer)(answer);
                continue;
            }
            other => other.reply().unwrap().to_vec(),
        };
        let c = (a.client_line)(&next_line);
        log.add(&c);
        match c {
            ClientEvent::Send(l) => event = (a.line)(l.as_slice()),
            ClientEvent::Done(outcome) => return outcome.authenticated,
            ClientEvent::More => {
                // POP3's list or an SMTP continuation: nothing to send; the server has
                // nothing more to say either.
                return false;
            }
            _ => return false,
        }
    }
    panic!("{proto} {m}: no outcome after 12 steps")
}

#[test]
fn the_check_itself_catches_a_leak() {
    // A Debug that leaks, in each form the check looks for.
    let mut log = Log::default();
    log.add(&"x".repeat(200));
    log.check("clean");
    for leak in [
        format!("{:?}", SENTINEL.as_bytes()),
        b64::encode(format!("\0tim\0{SENTINEL}").as_bytes()),
        SENTINEL.bytes().map(|b| format!("{b:02x}")).collect(),
    ] {
        let mut log = Log::default();
        log.add(&"x".repeat(200));
        log.add(&leak);
        let caught = std::panic::catch_unwind(|| log.check("leaky")).is_err();
        assert!(caught, "a leak as {leak} went unnoticed");
    }
}
