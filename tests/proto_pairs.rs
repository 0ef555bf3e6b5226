//! The crate's SMTP, IMAP and POP3 client adapters against its server adapters, for every
//! mechanism, with and without initial responses, right and wrong credentials.

mod support;

use std::sync::{Arc, mpsc};

use saslmech::proto::imap::{ImapClient, ImapServer};
use saslmech::proto::pop3::{Pop3Client, Pop3Server};
use saslmech::proto::smtp::{SmtpClient, SmtpServer};
use saslmech::proto::{AuthRequest, ClientEvent, Phase, ServerEvent};
use saslmech::{
    ALL_MECHANISMS, Answer, ChannelBindingType, ClientConfig, Credentials, Failure, Mechanism,
    ServerConfig, Transport,
};
use support::adapters::{ClientSide, PASSWORD, ServerSide, TOKEN, USER, run};

#[derive(Clone, Copy, Debug)]
enum Proto {
    Smtp,
    Imap,
    Pop3,
}

/// The channel-binding data both ends take from "the TLS layer" (a `tls-exporter` value).
const CB: [u8; 32] = [0x5a; 32];
/// The identity "the client certificate" established, for EXTERNAL.
const CERT_IDENTITY: &str = USER;

/// Every mechanism enabled, EXTERNAL and ANONYMOUS included.
fn config() -> ServerConfig {
    ServerConfig::new().mechanisms(ALL_MECHANISMS)
}

/// A STARTTLS'd connection with channel-binding data and a client certificate.
fn transport() -> Transport {
    Transport::tls()
        .with_channel_binding(ChannelBindingType::TlsExporter, &CB)
        .with_external_identity(CERT_IDENTITY)
}

/// The client's settings: channel-binding data only for the -PLUS mechanisms (a client that
/// has it but picks plain SCRAM tells the server so, and fails against a server offering
/// -PLUS: see `scram_without_plus_fails_when_both_could_bind`).
fn client_config(mechanism: Mechanism) -> ClientConfig {
    if mechanism.channel_binding() {
        ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &CB)
    } else {
        ClientConfig::new()
    }
}

fn creds(mechanism: Mechanism, right: bool) -> Credentials<'static> {
    match mechanism {
        // Right: act as the certificate's identity. Wrong: ask to act as somebody else,
        // which the backend refuses.
        Mechanism::External if right => Credentials::new(),
        Mechanism::External => Credentials::new().authzid("postmaster"),
        // ANONYMOUS has no wrong credentials: its failing case is a server that does not
        // enable it (see `pair`).
        Mechanism::Anonymous => Credentials::new().trace("tim@example.com"),
        _ => {
            let c = Credentials::new().authcid(USER);
            match (mechanism.uses_token(), right) {
                (true, true) => c.token(TOKEN),
                (true, false) => c.token(b"wrong-token"),
                (false, true) => c.password(PASSWORD),
                (false, false) => c.password(b"wrong password"),
            }
        }
    }
}

fn pair_with(
    proto: Proto,
    mechanism: Mechanism,
    creds: &Credentials<'_>,
    ir: bool,
    config: ServerConfig,
    transport: Transport,
    client: &ClientConfig,
) -> (Box<dyn ClientSide>, Box<dyn ServerSide>) {
    let config = Arc::new(config);
    match proto {
        Proto::Smtp => {
            let mut s = SmtpServer::new(config);
            s.set_transport(transport);
            let c = SmtpClient::with_config(mechanism, creds, client)
                .unwrap()
                .initial_response(ir);
            (Box::new(c), Box::new(s))
        }
        Proto::Imap => {
            let mut s = ImapServer::new(config);
            s.set_transport(transport);
            let c = ImapClient::with_config("a001", mechanism, creds, client)
                .unwrap()
                .sasl_ir(ir);
            (Box::new(c), Box::new(s))
        }
        Proto::Pop3 => {
            let mut s = Pop3Server::new(config);
            s.set_transport(transport);
            let c = Pop3Client::with_config(mechanism, creds, client)
                .unwrap()
                .initial_response(ir);
            (Box::new(c), Box::new(s))
        }
    }
}

fn pair(
    proto: Proto,
    mechanism: Mechanism,
    creds: &Credentials<'_>,
    ir: bool,
    right: bool,
) -> (Box<dyn ClientSide>, Box<dyn ServerSide>) {
    let config = if mechanism == Mechanism::Anonymous && !right {
        ServerConfig::new()
    } else {
        config()
    };
    pair_with(
        proto,
        mechanism,
        creds,
        ir,
        config,
        transport(),
        &client_config(mechanism),
    )
}

/// The decoded challenge of a `334 …` / `+ …` transcript line.
fn challenge_of(line: &str) -> Vec<u8> {
    let b64 = line
        .strip_prefix("S: 334 ")
        .or_else(|| line.strip_prefix("S: + "))
        .unwrap_or_else(|| panic!("not a challenge: {line}"));
    saslmech::b64::decode(b64.as_bytes())
        .unwrap()
        .as_slice()
        .to_vec()
}

#[test]
fn every_protocol_every_mechanism_right_and_wrong() {
    let mut combinations = 0;
    for proto in [Proto::Smtp, Proto::Imap, Proto::Pop3] {
        for &mechanism in ALL_MECHANISMS {
            for ir in [true, false] {
                // Right credentials: both sides agree on success and on who.
                let good = creds(mechanism, true);
                let (mut c, mut s) = pair(proto, mechanism, &good, ir, true);
                let r = run(c.as_mut(), s.as_mut());
                let what = format!("{proto:?} {mechanism} ir={ir}: {:?}", r.transcript);
                assert!(r.client.authenticated, "{what}");
                assert_eq!(r.client.failure, None, "{what}");
                let identity = r.server.as_ref().unwrap();
                match mechanism {
                    Mechanism::Anonymous => {
                        assert_eq!(identity.authcid, "anonymous", "{what}");
                        assert_eq!(identity.trace.as_deref(), Some("tim@example.com"));
                    }
                    _ => {
                        assert_eq!(identity.authcid, USER, "{what}");
                        assert_eq!(identity.trace, None, "{what}");
                    }
                }
                assert_eq!(identity.authzid, None, "{what}");
                // One lookup, except where the transport or nobody vouches.
                let lookups = usize::from(!matches!(
                    mechanism,
                    Mechanism::External | Mechanism::Anonymous
                ));
                assert_eq!(r.requests, lookups, "{what}");
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
                if mechanism.is_scram() {
                    // Server-final went out as one more challenge, answered by an empty
                    // line, before the success reply.
                    let n = r.transcript.len();
                    assert!(
                        challenge_of(&r.transcript[n - 3]).starts_with(b"v="),
                        "{what}"
                    );
                    assert_eq!(r.transcript[n - 2], "C: ", "{what}");
                    if mechanism.channel_binding() {
                        // The client-final's c= carries the binding data.
                        let client_final = &r.transcript[n - 4];
                        let decoded = saslmech::b64::decode(
                            client_final.strip_prefix("C: ").unwrap().as_bytes(),
                        )
                        .unwrap();
                        let cbind = [&b"p=tls-exporter,,"[..], &CB].concat();
                        let c = format!("c={},", saslmech::b64::encode(&cbind));
                        assert!(decoded.as_slice().starts_with(c.as_bytes()), "{what}");
                    }
                }

                // Wrong credentials: both sides see the failure.
                let bad = creds(mechanism, false);
                let (mut c, mut s) = pair(proto, mechanism, &bad, ir, false);
                let r = run(c.as_mut(), s.as_mut());
                let what = format!("{proto:?} {mechanism} ir={ir} wrong: {:?}", r.transcript);
                assert!(!r.client.authenticated, "{what}");
                let server_failure = match mechanism {
                    Mechanism::External => Failure::AuthzDenied,
                    Mechanism::Anonymous => Failure::MechanismUnavailable,
                    _ => Failure::BadCredentials,
                };
                assert_eq!(r.server.unwrap_err(), Some(server_failure), "{what}");
                let (code, client_failure) = match (proto, mechanism) {
                    (Proto::Smtp, Mechanism::Anonymous) => {
                        ("504 5.5.4", Failure::MechanismUnavailable)
                    }
                    (Proto::Smtp, _) => ("535 5.7.8", Failure::BadCredentials),
                    (Proto::Imap, Mechanism::External) => {
                        ("NO [AUTHORIZATIONFAILED]", Failure::AuthzDenied)
                    }
                    (Proto::Imap, Mechanism::Anonymous) => {
                        ("NO Unsupported", Failure::BadCredentials)
                    }
                    (Proto::Imap, _) => ("NO [AUTHENTICATIONFAILED]", Failure::BadCredentials),
                    (Proto::Pop3, Mechanism::Anonymous) => {
                        ("-ERR Unsupported", Failure::BadCredentials)
                    }
                    (Proto::Pop3, _) => ("-ERR [AUTH]", Failure::BadCredentials),
                };
                assert_eq!(r.client.failure, Some(client_failure), "{what}");
                let status_text = format!("{} {}", r.client.status, r.client.text);
                assert!(status_text.starts_with(code), "{what}: {status_text}");
                if mechanism == Mechanism::XOAuth2 || mechanism == Mechanism::OAuthBearer {
                    // The error challenge, then the client's acknowledgement: XOAUTH2's
                    // empty line, OAUTHBEARER's ^A (RFC 7628 §3.2.3).
                    let n = r.transcript.len();
                    let error = challenge_of(&r.transcript[n - 3]);
                    let json = String::from_utf8(error).unwrap();
                    let status = if mechanism == Mechanism::XOAuth2 {
                        r#"{"status":"401""#
                    } else {
                        r#"{"status":"invalid_token""#
                    };
                    assert!(json.starts_with(status), "{what}: {json}");
                    let ack = if mechanism == Mechanism::XOAuth2 {
                        "C: "
                    } else {
                        "C: AQ=="
                    };
                    assert_eq!(r.transcript[n - 2], ack, "{what}");
                }
                if mechanism.is_scram() {
                    // No server-final for a wrong proof: the failure reply at once.
                    assert!(!r.transcript.iter().any(|l| l == "C: "), "{what}");
                }
                combinations += 2;
            }
        }
    }
    assert_eq!(combinations, 3 * ALL_MECHANISMS.len() * 2 * 2);
}

#[test]
fn retry_after_failure_on_the_same_adapter() {
    let mut server = SmtpServer::new(Arc::new(config()));
    server.set_transport(transport());
    for &mechanism in ALL_MECHANISMS {
        if mechanism == Mechanism::Anonymous {
            continue; // no wrong credentials
        }
        let bad = creds(mechanism, false);
        let mut c = SmtpClient::with_config(mechanism, &bad, &client_config(mechanism)).unwrap();
        let r = run(&mut c, &mut server);
        assert_eq!(r.client.smtp_code(), Some(535), "{mechanism}");
        assert_eq!(server.phase(), Phase::Idle);
    }
    for mechanism in [Mechanism::CramMd5, Mechanism::ScramSha256Plus] {
        let good = creds(mechanism, true);
        let mut c = SmtpClient::with_config(mechanism, &good, &client_config(mechanism)).unwrap();
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
        // A new TLS session forgets it (RFC 3207 §4.2).
        server.set_transport(transport());
        assert_eq!(server.phase(), Phase::Idle);
    }
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

#[test]
fn scram_without_plus_fails_when_both_could_bind() {
    // RFC 5802 §6: a client that could bind but picks plain SCRAM says so (`y`); a server
    // that offers -PLUS takes that as a downgrade. Against a server without binding data
    // (so offering no -PLUS) the same client succeeds.
    for m in [Mechanism::ScramSha256, Mechanism::ScramSha1] {
        let binding = ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &CB);
        for proto in [Proto::Smtp, Proto::Imap, Proto::Pop3] {
            let good = creds(m, true);
            let (mut c, mut s) = pair_with(proto, m, &good, true, config(), transport(), &binding);
            let r = run(c.as_mut(), s.as_mut());
            assert!(!r.client.authenticated, "{proto:?} {m}: {:?}", r.transcript);
            assert_eq!(r.server.unwrap_err(), Some(Failure::ChannelBinding));
            let (mut c, mut s) =
                pair_with(proto, m, &good, true, config(), Transport::tls(), &binding);
            let r = run(c.as_mut(), s.as_mut());
            assert!(r.client.authenticated, "{proto:?} {m}: {:?}", r.transcript);
        }
    }
}

#[test]
fn plus_with_other_binding_data_fails() {
    // A man in the middle terminates TLS twice: the two ends see different exporter values.
    for m in [Mechanism::ScramSha256Plus, Mechanism::ScramSha1Plus] {
        let theirs = ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &[1; 32]);
        let good = creds(m, true);
        let (mut c, mut s) = pair_with(Proto::Smtp, m, &good, true, config(), transport(), &theirs);
        let r = run(c.as_mut(), s.as_mut());
        assert_eq!(r.client.smtp_code(), Some(535), "{m}: {:?}", r.transcript);
        assert_eq!(r.server.unwrap_err(), Some(Failure::ChannelBinding));
        // A binding type the server does not have (tls-unique on TLS 1.3) fails closed too.
        let unique = ClientConfig::new().channel_binding(ChannelBindingType::TlsUnique, &CB);
        let (mut c, mut s) = pair_with(Proto::Imap, m, &good, true, config(), transport(), &unique);
        let r = run(c.as_mut(), s.as_mut());
        assert_eq!(r.client.status, "NO", "{m}: {:?}", r.transcript);
        assert_eq!(r.server.unwrap_err(), Some(Failure::ChannelBinding));
    }
    // And a -PLUS client needs binding data before it can start at all.
    let good = creds(Mechanism::ScramSha256Plus, true);
    assert!(SmtpClient::new(Mechanism::ScramSha256Plus, &good).is_err());
}

/// Drive a client adapter by hand: the server's lines are given, the client's collected.
fn feed(
    client: &mut SmtpClient,
    lines: &[&[u8]],
) -> (Vec<Vec<u8>>, Option<saslmech::proto::ClientOutcome>) {
    let mut sent = Vec::new();
    for l in lines {
        match client.reply(l).unwrap() {
            ClientEvent::Send(b) => sent.push(b.as_slice().to_vec()),
            ClientEvent::Done(o) => return (sent, Some(o)),
            _ => {}
        }
    }
    (sent, None)
}

#[test]
fn the_client_verifies_scram_server_final() {
    // A real server adapter produces server-first; a forged server-final, or success without
    // one, must not authenticate the client.
    for forge in [true, false] {
        let good = creds(Mechanism::ScramSha256, true);
        let mut client = SmtpClient::new(Mechanism::ScramSha256, &good).unwrap();
        let mut server = SmtpServer::new(Arc::new(config()));
        server.set_tls(true);
        let ServerEvent::Request(r) = server.command(client.start().unwrap().as_slice()).unwrap()
        else {
            panic!()
        };
        let first = server.answer(support::adapters::backend(&r)).unwrap();
        let (sent, _) = feed(&mut client, &[first.reply().unwrap()]);
        let ServerEvent::Challenge(final_line) = server.line(&sent[0]).unwrap() else {
            panic!()
        };
        let outcome = if forge {
            // Flip one bit of the signature.
            let text = String::from_utf8(final_line).unwrap();
            let v = saslmech::b64::decode(&text.trim_end().as_bytes()[4..]).unwrap();
            let mut sig = saslmech::b64::decode(&v.as_slice()[2..])
                .unwrap()
                .as_slice()
                .to_vec();
            sig[0] ^= 1;
            let forged = format!(
                "334 {}\r\n",
                saslmech::b64::encode(format!("v={}", saslmech::b64::encode(&sig)).as_bytes())
            );
            let (sent, done) = feed(&mut client, &[forged.as_bytes()]);
            assert_eq!(sent, [b"*\r\n".to_vec()], "the client cancels");
            assert!(done.is_none());
            let (_, done) = feed(&mut client, &[b"501 5.0.0 Authentication cancelled\r\n"]);
            done.unwrap()
        } else {
            let (_, done) = feed(&mut client, &[b"235 2.7.0 Authentication successful\r\n"]);
            done.unwrap()
        };
        assert!(!outcome.authenticated, "forge={forge}: {outcome:?}");
        assert_eq!(outcome.failure, Some(Failure::ServerAuthentication));
    }
}

#[test]
fn oauthbearer_requests_carry_host_port_and_authzid() {
    let token = Credentials::new()
        .token(TOKEN)
        .host("mx.example.com")
        .port(587);
    let mut client = SmtpClient::new(Mechanism::OAuthBearer, &token).unwrap();
    let mut server = SmtpServer::new(Arc::new(config()));
    server.set_tls(true);
    let ServerEvent::Request(request) = server.command(client.start().unwrap().as_slice()).unwrap()
    else {
        panic!()
    };
    let AuthRequest::ValidateToken {
        mechanism,
        user,
        authzid,
        host,
        port,
        ..
    } = &request
    else {
        panic!("{request:?}")
    };
    assert_eq!(*mechanism, Mechanism::OAuthBearer);
    assert_eq!((user.as_str(), authzid.as_deref()), ("", None));
    assert_eq!(
        (host.as_deref(), *port),
        (Some("mx.example.com"), Some(587))
    );
    // No authzid: the backend names the token's owner.
    let ServerEvent::Success { reply, identity } = server.answer(Answer::TokenOwner(USER)).unwrap()
    else {
        panic!()
    };
    assert_eq!(identity.authcid, USER);
    let (_, done) = feed(&mut client, &[&reply]);
    assert!(done.unwrap().authenticated);
    // With an authzid the request names it.
    let token = Credentials::new().authzid("tim").token(TOKEN);
    let mut client = SmtpClient::new(Mechanism::OAuthBearer, &token).unwrap();
    let mut server = SmtpServer::new(Arc::new(config()));
    server.set_tls(true);
    let ServerEvent::Request(request) = server.command(client.start().unwrap().as_slice()).unwrap()
    else {
        panic!()
    };
    assert!(matches!(&request, AuthRequest::ValidateToken { authzid: Some(a), .. } if a == "tim"));
    assert_eq!(request.user(), "tim");
}
