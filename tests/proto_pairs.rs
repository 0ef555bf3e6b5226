//! The crate's SMTP, IMAP and POP3 client adapters against its server adapters, for every
//! mechanism, with and without initial responses, right and wrong credentials.

mod proto_support {
    pub mod pair;
}

use std::sync::{Arc, mpsc};

use proto_support::pair::{ClientSide, PASSWORD, ServerSide, TOKEN, USER, run};
use saslmech::proto::imap::{ImapClient, ImapServer};
use saslmech::proto::pop3::{Pop3Client, Pop3Server};
use saslmech::proto::smtp::{SmtpClient, SmtpServer};
use saslmech::proto::{AuthRequest, ClientEvent, Phase, ServerEvent};
use saslmech::{ALL_MECHANISMS, Answer, Credentials, Failure, Mechanism, ServerConfig};

#[derive(Clone, Copy, Debug)]
enum Proto {
    Smtp,
    Imap,
    Pop3,
}

fn creds(mechanism: Mechanism, right: bool) -> Credentials<'static> {
    let c = Credentials::new().authcid(USER);
    match (mechanism.uses_token(), right) {
        (true, true) => c.token(TOKEN),
        (true, false) => c.token(b"wrong-token"),
        (false, true) => c.password(PASSWORD),
        (false, false) => c.password(b"wrong password"),
    }
}

fn pair(
    proto: Proto,
    mechanism: Mechanism,
    creds: &Credentials<'_>,
    ir: bool,
) -> (Box<dyn ClientSide>, Box<dyn ServerSide>) {
    let config = Arc::new(ServerConfig::new());
    match proto {
        Proto::Smtp => {
            let mut s = SmtpServer::new(config);
            s.set_tls(true);
            let c = SmtpClient::new(mechanism, creds)
                .unwrap()
                .initial_response(ir);
            (Box::new(c), Box::new(s))
        }
        Proto::Imap => {
            let mut s = ImapServer::new(config);
            s.set_tls(true);
            let c = ImapClient::new("a001", mechanism, creds)
                .unwrap()
                .sasl_ir(ir);
            (Box::new(c), Box::new(s))
        }
        Proto::Pop3 => {
            let mut s = Pop3Server::new(config);
            s.set_tls(true);
            let c = Pop3Client::new(mechanism, creds)
                .unwrap()
                .initial_response(ir);
            (Box::new(c), Box::new(s))
        }
    }
}

#[test]
fn every_protocol_every_mechanism_right_and_wrong() {
    let mut combinations = 0;
    for proto in [Proto::Smtp, Proto::Imap, Proto::Pop3] {
        for &mechanism in ALL_MECHANISMS {
            for ir in [true, false] {
                // Right credentials: both sides agree on success and on who.
                let good = creds(mechanism, true);
                let (mut c, mut s) = pair(proto, mechanism, &good, ir);
                let r = run(c.as_mut(), s.as_mut());
                let what = format!("{proto:?} {mechanism} ir={ir}: {:?}", r.transcript);
                assert!(r.client.authenticated, "{what}");
                assert_eq!(r.client.failure, None, "{what}");
                assert_eq!(r.server.as_ref().unwrap().authcid, USER, "{what}");
                assert_eq!(r.requests, 1, "{what}");
                // The initial response went with the command exactly when asked for and
                // the mechanism is client-first.
                let first = &r.transcript[0];
                let words = first.split(' ').count() - 1; // without "C:"
                let expected = match proto {
                    Proto::Imap => 3,
                    _ => 2,
                } + usize::from(ir && mechanism.client_first());
                assert_eq!(words, expected, "{what}");
                match proto {
                    Proto::Smtp => assert_eq!(r.client.smtp_code(), Some(235), "{what}"),
                    Proto::Imap => assert_eq!(r.client.status, "OK", "{what}"),
                    Proto::Pop3 => assert_eq!(r.client.status, "+OK", "{what}"),
                }

                // Wrong credentials: both sides see BadCredentials.
                let bad = creds(mechanism, false);
                let (mut c, mut s) = pair(proto, mechanism, &bad, ir);
                let r = run(c.as_mut(), s.as_mut());
                let what = format!("{proto:?} {mechanism} ir={ir} wrong: {:?}", r.transcript);
                assert!(!r.client.authenticated, "{what}");
                assert_eq!(r.client.failure, Some(Failure::BadCredentials), "{what}");
                assert_eq!(
                    r.server.unwrap_err(),
                    Some(Failure::BadCredentials),
                    "{what}"
                );
                match proto {
                    Proto::Smtp => assert_eq!(r.client.smtp_code(), Some(535), "{what}"),
                    Proto::Imap => {
                        assert_eq!(r.client.status, "NO", "{what}");
                        assert!(
                            r.client.text.starts_with("[AUTHENTICATIONFAILED]"),
                            "{what}"
                        );
                    }
                    Proto::Pop3 => {
                        assert_eq!(r.client.status, "-ERR", "{what}");
                        assert!(r.client.text.starts_with("[AUTH]"), "{what}");
                    }
                }
                if mechanism == Mechanism::XOAuth2 {
                    // The error challenge, then the client's empty acknowledgement.
                    let n = r.transcript.len();
                    assert!(
                        r.transcript[n - 3].contains(" eyJzdGF0dXMiOiI0MDEi"),
                        "{what}"
                    );
                    assert!(r.transcript[n - 2] == "C: ", "{what}");
                }
                combinations += 2;
            }
        }
    }
    assert_eq!(combinations, 3 * ALL_MECHANISMS.len() * 2 * 2);
}

#[test]
fn retry_after_failure_on_the_same_adapter() {
    let mut server = SmtpServer::new(Arc::new(ServerConfig::new()));
    server.set_tls(true);
    for &mechanism in ALL_MECHANISMS {
        let bad = creds(mechanism, false);
        let mut c = SmtpClient::new(mechanism, &bad).unwrap();
        let r = run(&mut c, &mut server);
        assert_eq!(r.client.smtp_code(), Some(535), "{mechanism}");
        assert_eq!(server.phase(), Phase::Idle);
    }
    let good = creds(Mechanism::CramMd5, true);
    let mut c = SmtpClient::new(Mechanism::CramMd5, &good).unwrap();
    let r = run(&mut c, &mut server);
    assert!(r.client.authenticated);
    assert_eq!(server.phase(), Phase::Authenticated);
    assert_eq!(server.identity().unwrap().authcid, USER);
    // A second AUTH is refused with 503 and changes nothing.
    let again = server.command(b"AUTH PLAIN =").unwrap();
    assert_eq!(
        again.reply().unwrap(),
        b"503 5.5.1 Already authenticated\r\n"
    );
    assert_eq!(server.phase(), Phase::Authenticated);
}

#[test]
fn requests_are_answered_later_from_another_thread() {
    // The lookup runs on a "backend" thread; the adapter waits meanwhile, holding nothing
    // borrowed, and the event loop keeps going.
    let (to_backend, backend_rx) = mpsc::channel::<AuthRequest>();
    let (to_loop, answers) = mpsc::channel::<Option<Vec<u8>>>();
    let backend = std::thread::spawn(move || {
        for request in backend_rx {
            let stored = match &request {
                AuthRequest::VerifyPassword { authcid, .. }
                | AuthRequest::Secret { authcid, .. }
                    if authcid == USER =>
                {
                    Some(PASSWORD.to_vec())
                }
                _ => None,
            };
            to_loop.send(stored).unwrap();
        }
    });
    for mechanism in [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5] {
        let good = creds(mechanism, true);
        let mut client = ImapClient::new("x1", mechanism, &good).unwrap();
        let mut server = ImapServer::new(Arc::new(ServerConfig::new()));
        server.set_tls(true);
        let mut event = server.command(client.start().unwrap().as_slice()).unwrap();
        let outcome = loop {
            event = match event {
                ServerEvent::Request(request) => {
                    assert_eq!(request.user(), USER);
                    to_backend.send(request).unwrap();
                    // Meanwhile: the adapter refuses client lines and new commands.
                    assert_eq!(server.phase(), Phase::Request);
                    assert!(server.line(b"").is_err());
                    assert!(server.command(b"x2 AUTHENTICATE PLAIN").is_err());
                    let stored = answers.recv().unwrap();
                    match &stored {
                        Some(p) => server.answer(Answer::Password(p)).unwrap(),
                        None => server.answer(Answer::UnknownUser).unwrap(),
                    }
                }
                other => {
                    let reply = other.reply().unwrap().to_vec();
                    match client.line(&reply).unwrap() {
                        ClientEvent::Send(line) => server.line(line.as_slice()).unwrap(),
                        ClientEvent::Done(o) => break o,
                        ClientEvent::More => unreachable!(),
                        _ => unreachable!(),
                    }
                }
            };
        };
        assert!(outcome.authenticated, "{mechanism}");
        assert_eq!(server.identity().unwrap().authcid, USER);
    }
    drop(to_backend);
    backend.join().unwrap();
}

#[test]
fn wrong_answer_kind_leaves_the_request_pending() {
    let mut server = SmtpServer::new(Arc::new(ServerConfig::new()));
    server.set_tls(true);
    let ServerEvent::Request(_) = server
        .command(b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
        .unwrap()
    else {
        panic!()
    };
    let keys = saslmech::CramMd5Keys::from_password(PASSWORD);
    assert_eq!(
        server.answer(Answer::CramMd5Keys(&keys)).unwrap_err(),
        saslmech::Error::WrongAnswer
    );
    assert_eq!(server.phase(), Phase::Request);
    let ok = server.answer(Answer::Password(PASSWORD)).unwrap();
    assert!(matches!(ok, ServerEvent::Success { .. }));
}

#[test]
fn pop3_initial_response_over_255_octets_goes_after_the_challenge() {
    let long = vec![b'p'; 300];
    let c = Credentials::new().authcid(USER).password(&long);
    let mut client = Pop3Client::new(Mechanism::Plain, &c).unwrap();
    let command = client.start().unwrap();
    assert_eq!(command.as_slice(), b"AUTH PLAIN\r\n");
    let ClientEvent::Send(response) = client.line(b"+ \r\n").unwrap() else {
        panic!()
    };
    assert!(response.len() > 255);
    assert_eq!(
        saslmech::b64::decode(response.as_slice()[..response.len() - 2].as_ref())
            .unwrap()
            .as_slice(),
        [b"\0tim\0".as_slice(), &long].concat()
    );
    // A short one fits: with the command.
    let c = Credentials::new().authcid(USER).password(PASSWORD);
    let mut client = Pop3Client::new(Mechanism::Plain, &c).unwrap();
    assert!(client.start().unwrap().len() > "AUTH PLAIN\r\n".len());
}

#[test]
fn smtp_client_parses_multiline_and_reports_codes() {
    let c = creds(Mechanism::Login, true);
    let mut client = SmtpClient::new(Mechanism::Login, &c).unwrap();
    assert_eq!(client.start().unwrap().as_slice(), b"AUTH LOGIN\r\n");
    let ClientEvent::Send(_) = client.reply(b"334 VXNlcm5hbWU6\r\n").unwrap() else {
        panic!()
    };
    let ClientEvent::Send(_) = client.reply(b"334 UGFzc3dvcmQ6\r\n").unwrap() else {
        panic!()
    };
    assert!(matches!(
        client
            .reply(b"535-5.7.8 Username and Password not accepted. Learn more at\r\n")
            .unwrap(),
        ClientEvent::More
    ));
    let ClientEvent::Done(o) = client
        .reply(b"535 5.7.8  https://support.example/answer\r\n")
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(o.smtp_code(), Some(535));
    assert_eq!(o.failure, Some(Failure::BadCredentials));
    assert_eq!(
        o.text,
        "5.7.8 Username and Password not accepted. Learn more at\n5.7.8  https://support.example/answer"
    );
    // Finished: further lines are misuse.
    assert!(client.reply(b"250 ok").is_err());

    // Reply codes map to failures.
    for (code, failure) in [
        ("454 4.7.0 x", Failure::TemporaryFailure),
        ("504 5.5.4 x", Failure::MechanismUnavailable),
        ("534 5.7.9 x", Failure::MechanismTooWeak),
        ("538 5.7.11 x", Failure::EncryptionRequired),
        ("523 5.7.10 x", Failure::EncryptionRequired),
        ("525 5.7.13 x", Failure::AccountDisabled),
        ("501 5.5.2 x", Failure::Malformed),
    ] {
        let mut client = SmtpClient::new(Mechanism::Plain, &creds(Mechanism::Plain, true)).unwrap();
        let _ = client.start().unwrap();
        let ClientEvent::Done(o) = client.reply(code.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(o.failure, Some(failure), "{code}");
        assert_eq!(o.smtp_code(), code[..3].parse().ok());
    }
}

#[test]
fn client_cancels_on_a_bad_challenge_and_reports_its_own_reason() {
    let c = creds(Mechanism::CramMd5, true);
    let mut client = SmtpClient::new(Mechanism::CramMd5, &c).unwrap();
    let _ = client.start().unwrap();
    let ClientEvent::Send(star) = client.reply(b"334 not*base64\r\n").unwrap() else {
        panic!()
    };
    assert_eq!(star.as_slice(), b"*\r\n");
    let ClientEvent::Done(o) = client.reply(b"501 5.0.0 Authentication cancelled").unwrap() else {
        panic!()
    };
    assert_eq!(o.failure, Some(Failure::InvalidBase64));
    assert!(!o.authenticated);

    // And the server side of that: `*` gives 501 5.0.0.
    let mut server = SmtpServer::new(Arc::new(ServerConfig::new()));
    let ServerEvent::Challenge(_) = server.command(b"AUTH CRAM-MD5").unwrap() else {
        panic!()
    };
    let ev = server.line(b"*").unwrap();
    assert_eq!(
        ev.reply().unwrap(),
        b"501 5.0.0 Authentication cancelled\r\n"
    );
}

#[test]
fn ehlo_and_capability_parsing() {
    let ehlo: Vec<&[u8]> = vec![
        b"250-mail.example.com\r\n",
        b"250-AUTH=PLAIN LOGIN\r\n",
        b"250-AUTH GSSAPI PLAIN XOAUTH2 cram-md5 bogus/name\r\n",
        b"250 SIZE 1000\r\n",
    ];
    assert_eq!(
        saslmech::proto::smtp::ehlo_mechanisms(ehlo),
        ["PLAIN", "LOGIN", "GSSAPI", "XOAUTH2", "CRAM-MD5"]
    );
    let imap = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2] ready\r\n";
    assert_eq!(
        saslmech::proto::imap::capability_mechanisms(imap),
        ["PLAIN", "XOAUTH2"]
    );
    assert!(!saslmech::proto::imap::has_sasl_ir(imap));
}
