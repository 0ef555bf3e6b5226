//! No secret in any `Debug` or `Display` output: every mechanism's client and server is driven
//! through success, wrong credentials, cancellation and misuse with a sentinel password (and
//! token), and everything observable is formatted with `{:?}` and `{:#?}` at every step. The
//! sentinel must not appear: not as text, not as the decimal byte list `Debug` gives `&[u8]`,
//! not in hex, and not in base64 at any alignment.

use std::fmt::Debug;
use std::sync::Arc;

use saslmech::{
    ALL_MECHANISMS, Answer, ClientSession, CramMd5Keys, Credentials, Mechanism, NonceSource,
    Request, ServerConfig, ServerSession, ServerStep, TokenError, Transport, b64,
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
            .hostname("mx.example.com")
            .nonce_source(NonceSource::Fixed(b"1.2".to_vec())),
    )
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
    let Ok(mut client) = ClientSession::new(m, &creds).map_err(|e| log.add(&e)) else {
        return false;
    };
    log.add(&client);
    let config = config();
    log.add(&*config);
    let mut server =
        ServerSession::new(&config, m, &Transport::tls().with_success_data(false)).unwrap();
    log.add(&server);
    let keys = CramMd5Keys::from_password(SENTINEL.as_bytes());
    log.add(&keys);
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
                    Request::Secret(_) if stored == SENTINEL.as_bytes() => {
                        Answer::CramMd5Keys(&keys)
                    }
                    Request::Secret(_) => Answer::Password(stored),
                    Request::ValidateToken(t) if t.token() == stored => Answer::Accept,
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
            // The paths really were taken: success with the right secret, not with a wrong one.
            assert!(exchange(m, SENTINEL.as_bytes(), None, &mut log, b64), "{m}");
            assert!(!exchange(m, b"wrong", None, &mut log, b64), "{m}");
            exchange(m, SENTINEL.as_bytes(), Some("other"), &mut log, b64);
            log.check(&format!("{m} (base64: {b64})"));
        }
    }
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
