//! Every reply code of the SMTP AUTH issue list, produced by the server adapter, plus the
//! IMAP and POP3 equivalents.

mod support;

use std::sync::Arc;

use saslmech::proto::imap::ImapServer;
use saslmech::proto::pop3::Pop3Server;
use saslmech::proto::smtp::{SmtpReplies, SmtpServer};
use saslmech::proto::{AuthRequest, Phase, ServerEvent};
use saslmech::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, Credentials, Failure, Mechanism,
    ServerConfig, TokenError, Transport,
};
use support::adapters::ServerSide;

/// `AHRpbQB0YW5zdGFhZnRhbnN0YWFm` = base64("\0tim\0tanstaaftanstaaf").
const PLAIN_IR: &str = "AHRpbQB0YW5zdGFhZnRhbnN0YWFm";

fn smtp(tls: bool) -> SmtpServer {
    let mut s = SmtpServer::new(Arc::new(ServerConfig::new()));
    s.set_tls(tls);
    s
}

fn text(ev: &ServerEvent) -> String {
    String::from_utf8(ev.reply().expect("a reply").to_vec()).unwrap()
}

/// The event must be a request (the exchange waits for the application).
fn expect_request(ev: ServerEvent) -> AuthRequest {
    match ev {
        ServerEvent::Request(r) => r,
        other => panic!("expected a request: {other:?}"),
    }
}

/// The event must be a challenge; its line.
fn expect_challenge(ev: ServerEvent) -> Vec<u8> {
    match ev {
        ServerEvent::Challenge(c) => c,
        other => panic!("expected a challenge: {other:?}"),
    }
}

/// `<command> PLAIN_IR` must ask the application; the event that follows `answer`.
fn answer_plain(s: &mut dyn ServerSide, command: &str, answer: Answer<'_>) -> ServerEvent {
    expect_request(
        s.command(format!("{command} {PLAIN_IR}").as_bytes())
            .unwrap(),
    );
    s.answer(answer).unwrap()
}

fn failure(ev: &ServerEvent) -> Option<Failure> {
    match ev {
        ServerEvent::Failure { failure, .. } => Some(*failure),
        _ => None,
    }
}

#[test]
fn smtp_334_challenges_including_the_empty_one() {
    let mut s = smtp(true);
    let ev = s.command(b"AUTH PLAIN\r\n").unwrap();
    assert!(matches!(ev, ServerEvent::Challenge(_)));
    assert_eq!(text(&ev), "334 \r\n", "an empty challenge keeps its space");
    let mut s = smtp(true);
    let ev = s.command(b"auth login").unwrap();
    assert_eq!(text(&ev), "334 VXNlcm5hbWU6\r\n");
}

#[test]
fn smtp_235_and_535() {
    // (command, the stored password, reply, failure)
    let cases: [(&str, &[u8], &str, Option<Failure>); 2] = [
        (
            "AUTH plain",
            b"tanstaaftanstaaf",
            "235 2.7.0 Authentication successful\r\n",
            None,
        ),
        (
            "AUTH PLAIN",
            b"other",
            "535 5.7.8 Authentication credentials invalid\r\n",
            Some(Failure::BadCredentials),
        ),
    ];
    for (command, stored, reply, failed) in cases {
        let mut s = smtp(true);
        let ev = answer_plain(&mut s, command, Answer::Password(stored));
        assert_eq!(text(&ev), reply, "{command}");
        assert_eq!(failure(&ev), failed, "{command}");
        let succeeded = matches!(ev, ServerEvent::Success { .. });
        assert_eq!(succeeded, failed.is_none(), "{command}");
    }
    // A malformed PLAIN message is also 535 (nothing more is revealed).
    let mut s = smtp(true);
    let ev = s.command(b"AUTH PLAIN dGlt").unwrap();
    assert_eq!(
        text(&ev),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(failure(&ev), Some(Failure::Malformed));
}

#[test]
fn smtp_501_variants() {
    // Undecodable base64, in the initial response and in a continuation line.
    let mut s = smtp(true);
    for bad in [
        "AUTH PLAIN =AAA",
        "AUTH PLAIN AAA=BBB",
        "AUTH PLAIN dGlt\x01",
    ] {
        let ev = s.command(bad.as_bytes()).unwrap();
        assert_eq!(text(&ev), "501 5.5.2 Invalid base64 data\r\n", "{bad:?}");
        assert_eq!(failure(&ev), Some(Failure::InvalidBase64));
    }
    expect_challenge(s.command(b"AUTH LOGIN").unwrap());
    let ev = s.line(b"dGlt ").unwrap();
    assert_eq!(text(&ev), "501 5.5.2 Invalid base64 data\r\n");

    // An initial response to a server-first mechanism.
    let ev = s.command(b"AUTH CRAM-MD5 dGlt").unwrap();
    assert_eq!(
        text(&ev),
        "501 5.7.0 Initial response not allowed for this mechanism\r\n"
    );
    let ev = s.command(b"AUTH CRAM-MD5 =").unwrap();
    assert!(text(&ev).starts_with("501 5.7.0 "));

    // Cancel with `*`: 501 5.0.0 by default, configurable.
    expect_challenge(s.command(b"AUTH PLAIN").unwrap());
    let ev = s.line(b"*\r\n").unwrap();
    assert_eq!(text(&ev), "501 5.0.0 Authentication cancelled\r\n");
    assert_eq!(failure(&ev), Some(Failure::Cancelled));

    let mut replies = SmtpReplies::default();
    replies.cancelled = "501 5.7.0 Authentication aborted".into();
    let mut s = smtp(true).with_replies(replies);
    expect_challenge(s.command(b"AUTH LOGIN").unwrap());
    assert_eq!(
        text(&s.line(b"*").unwrap()),
        "501 5.7.0 Authentication aborted\r\n"
    );

    // Syntax.
    assert_eq!(
        text(&s.command(b"AUTH").unwrap()),
        "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
    );
    assert!(text(&s.command(b"AUTH PLAIN a b").unwrap()).starts_with("501 5.5.4 "));
}

#[test]
fn smtp_504_unknown_or_not_offered() {
    let config = ServerConfig::new().mechanisms(&[Mechanism::Plain]);
    let mut s = SmtpServer::new(Arc::new(config));
    s.set_tls(true);
    // Well-formed names (RFC 4422 `sasl-mech`) the server does not know or does not offer;
    // names that are not names at all are a syntax error (see the next test).
    for cmd in [
        "AUTH GSSAPI",
        "AUTH CRAM-MD5",
        "AUTH X-SOMETHING_NEW",
        "AUTH ABCDEFGHIJ0123456789 xx",
    ] {
        let ev = s.command(cmd.as_bytes()).unwrap();
        assert_eq!(
            text(&ev),
            "504 5.5.4 Unrecognized authentication type\r\n",
            "{cmd}"
        );
        assert_eq!(failure(&ev), Some(Failure::MechanismUnavailable));
    }
}

/// AUTH arguments whose mechanism is not a name (RFC 4422 `sasl-mech`: 1 to 20 of
/// `A-Z 0-9 - _`), NUL, control characters and octets above 0x7F included: a syntax error.
const NOT_A_MECHANISM: [&[u8]; 12] = [
    b"NOT/A/NAME",
    b"NOT/A/NAME xx",
    b"\xc3\xa9",
    b"PL\xc3\xa9IN",
    b"ABCDEFGHIJ0123456789X",
    b"PLAIN.",
    b"SCRAM-SHA-256=",
    b"\"PLAIN\"",
    b"PLAIN\x00",
    b"\x00",
    b"PLAIN\x7f AHRpbQ==",
    b"PLAIN\rX",
];

/// AUTH arguments with NUL or octets above 0x7F in the initial response: invalid base64.
const BAD_OCTETS_IN_IR: [&[u8]; 3] = [
    b"PLAIN \x00",
    b"PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\x00",
    b"PLAIN \xffAAAA",
];

/// A server adapter, its command verb and its replies to the two lists above.
type Case = (Box<dyn ServerSide>, &'static [u8], [&'static str; 2]);

#[test]
fn mechanism_name_syntax_and_bad_octets_are_syntax_errors_in_every_protocol() {
    let config = Arc::new(ServerConfig::new());
    let cases = NOT_A_MECHANISM
        .iter()
        .map(|a| (*a, 0))
        .chain(BAD_OCTETS_IN_IR.iter().map(|a| (*a, 1)));
    for (args, kind) in cases {
        let shown = String::from_utf8_lossy(args).into_owned();
        let servers: [Case; 3] = [
            (
                Box::new(SmtpServer::new(config.clone())),
                b"AUTH ",
                [
                    "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n",
                    "501 5.5.2 Invalid base64 data\r\n",
                ],
            ),
            (
                Box::new(ImapServer::new(config.clone())),
                b"t AUTHENTICATE ",
                [
                    "t BAD Syntax: AUTHENTICATE mechanism [initial-response]\r\n",
                    "t BAD Invalid base64 data\r\n",
                ],
            ),
            (
                Box::new(Pop3Server::new(config.clone())),
                b"AUTH ",
                [
                    "-ERR Syntax: AUTH mechanism [initial-response]\r\n",
                    "-ERR Invalid base64 data\r\n",
                ],
            ),
        ];
        for (mut server, verb, expected) in servers {
            server.set_transport(Transport::tls());
            let mut line = verb.to_vec();
            line.extend_from_slice(args);
            let ev = server.command(&line).unwrap();
            assert_eq!(text(&ev), expected[kind], "{shown:?}");
            if kind == 0 {
                assert!(
                    matches!(ev, ServerEvent::Reply(_)),
                    "{shown:?}: a syntax reply, not an unknown mechanism: {ev:?}"
                );
            }
            assert_eq!(server.phase(), Phase::Idle, "{shown:?}");
            // The adapter is ready for a good command afterwards.
            let mut good = verb.to_vec();
            good.extend_from_slice(b"PLAIN");
            expect_challenge(server.command(&good).unwrap());
        }
    }
    // Lower case is still a name (mechanism names are matched without regard to case) and
    // a well-formed unknown name is still 504.
    let mut s = smtp(true);
    expect_challenge(s.command(b"auth plain").unwrap());
    let mut s = smtp(true);
    assert_eq!(
        text(&s.command(b"AUTH KERBEROS_V4").unwrap()),
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
}

#[test]
fn smtp_534_too_weak() {
    let config = ServerConfig::new().allow_weak(false);
    let mut s = SmtpServer::new(Arc::new(config));
    s.set_tls(true);
    assert_eq!(
        s.ehlo_keyword().as_deref(),
        Some("AUTH SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 PLAIN LOGIN")
    );
    let ev = s.command(b"AUTH CRAM-MD5").unwrap();
    assert_eq!(
        text(&ev),
        "534 5.7.9 Authentication mechanism is too weak\r\n"
    );
}

#[test]
fn smtp_538_or_523_before_tls_and_the_ehlo_keyword() {
    let mut s = smtp(false);
    // SCRAM and CRAM-MD5 expose no reusable secret: offered before STARTTLS.
    assert_eq!(
        s.ehlo_keyword().as_deref(),
        Some("AUTH SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5")
    );
    for m in ["PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"] {
        let ev = s.command(format!("AUTH {m}").as_bytes()).unwrap();
        assert_eq!(
            text(&ev),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
        );
        assert_eq!(failure(&ev), Some(Failure::EncryptionRequired));
    }
    let mut s = smtp(false).with_replies(SmtpReplies::default().encryption_needed_523());
    assert_eq!(
        text(
            &s.command(format!("AUTH PLAIN {PLAIN_IR}").as_bytes())
                .unwrap()
        ),
        "523 5.7.10 Encryption needed\r\n"
    );
    // After STARTTLS: everything enabled by default is offered, except the -PLUS
    // mechanisms, which need channel-binding data (see `plus_and_external_follow_the_transport`).
    s.set_tls(true);
    assert_eq!(
        s.ehlo_keyword().as_deref(),
        Some("AUTH SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 CRAM-MD5 PLAIN LOGIN")
    );
    // Operators may allow plaintext mechanisms without TLS.
    let config = ServerConfig::new().allow_plaintext_without_tls(true);
    let mut s = SmtpServer::new(Arc::new(config));
    assert_eq!(
        s.ehlo_keyword().as_deref(),
        Some("AUTH SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 CRAM-MD5 PLAIN LOGIN")
    );
    assert!(matches!(
        s.command(format!("AUTH PLAIN {PLAIN_IR}").as_bytes())
            .unwrap(),
        ServerEvent::Request(_)
    ));
    // No mechanism at all: no keyword.
    let config = ServerConfig::new().mechanisms(&[Mechanism::Plain]);
    assert_eq!(SmtpServer::new(Arc::new(config)).ehlo_keyword(), None);
}

#[test]
fn smtp_454_temporary_and_525_disabled() {
    let mut s = smtp(true);
    for (answer, reply, failed) in [
        (
            Answer::TemporaryFailure,
            "454 4.7.0 Temporary authentication failure\r\n",
            Failure::TemporaryFailure,
        ),
        (
            Answer::AccountDisabled,
            "525 5.7.13 User account disabled\r\n",
            Failure::AccountDisabled,
        ),
    ] {
        let ev = answer_plain(&mut s, "AUTH PLAIN", answer);
        assert_eq!(text(&ev), reply);
        assert_eq!(failure(&ev), Some(failed), "{reply}");
    }
}

#[test]
fn smtp_500_line_too_long() {
    let mut s = smtp(true);
    // A continuation line of 12289 octets.
    expect_challenge(s.command(b"AUTH PLAIN").unwrap());
    let long = vec![b'A'; 12289];
    let ev = s.line(&long).unwrap();
    assert_eq!(
        text(&ev),
        "500 5.5.6 Authentication Exchange line is too long\r\n"
    );
    assert_eq!(failure(&ev), Some(Failure::TooLarge));
    assert_eq!(s.phase(), Phase::Idle);
    // 12288 octets of (valid) base64 is not too long for the framing.
    expect_challenge(s.command(b"AUTH PLAIN").unwrap());
    let ev = s.line(&vec![b'A'; 12288]).unwrap();
    assert!(!text(&ev).starts_with("500"), "{}", text(&ev));
    // The command line itself.
    let mut cmd = b"AUTH PLAIN ".to_vec();
    cmd.extend(vec![b'A'; 12288]);
    assert!(text(&s.command(&cmd).unwrap()).starts_with("500 5.5.6 "));
}

#[test]
fn smtp_503_when_already_authenticated() {
    let mut s = smtp(true);
    let _ = answer_plain(&mut s, "AUTH PLAIN", Answer::Accept);
    let ev = s.command(b"AUTH LOGIN").unwrap();
    assert_eq!(text(&ev), "503 5.5.1 Already authenticated\r\n");
    assert!(matches!(ev, ServerEvent::Reply(_)));
    // STARTTLS (or a reset) forgets the authentication.
    s.set_tls(true);
    assert_eq!(s.phase(), Phase::Idle);
}

#[test]
fn smtp_misuse_is_an_error_not_a_reply() {
    let mut s = smtp(true);
    assert!(s.line(b"").is_err());
    assert!(s.answer(Answer::Accept).is_err());
    assert!(s.command(b"MAIL FROM:<a@b>").is_err());
    expect_challenge(s.command(b"AUTH PLAIN").unwrap());
    assert!(s.command(b"AUTH PLAIN").is_err());
    assert_eq!(s.phase(), Phase::Exchange);
}

#[test]
fn imap_replies() {
    let new = |tls: bool| {
        let mut s = ImapServer::new(Arc::new(ServerConfig::new()));
        s.set_tls(tls);
        s
    };
    let mut s = new(true);
    assert_eq!(text(&s.command(b"a AUTHENTICATE PLAIN").unwrap()), "+ \r\n");
    assert_eq!(
        text(&s.line(b"*").unwrap()),
        "a BAD Authentication cancelled\r\n"
    );
    for (command, reply) in [
        ("b AUTHENTICATE PLAIN %%%%", "b BAD Invalid base64 data\r\n"),
        (
            "c AUTHENTICATE CRAM-MD5 =",
            "c BAD Initial response not allowed for this mechanism\r\n",
        ),
        (
            "d AUTHENTICATE FOO",
            "d NO Unsupported authentication mechanism\r\n",
        ),
    ] {
        assert_eq!(text(&s.command(command.as_bytes()).unwrap()), reply);
    }
    for (command, answer, reply) in [
        (
            "e AUTHENTICATE PLAIN",
            Answer::Reject,
            "e NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
        ),
        (
            "f AUTHENTICATE PLAIN",
            Answer::TemporaryFailure,
            "f NO [UNAVAILABLE] Temporary authentication failure\r\n",
        ),
    ] {
        assert_eq!(text(&answer_plain(&mut s, command, answer)), reply);
    }
    // An authzid that is refused: [AUTHORIZATIONFAILED].
    let ir = saslmech::b64::encode(b"bob\0tim\0tanstaaftanstaaf");
    expect_request(
        s.command(format!("g AUTHENTICATE PLAIN {ir}").as_bytes())
            .unwrap(),
    );
    expect_request(s.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap());
    assert_eq!(
        text(&s.answer(Answer::Reject).unwrap()),
        "g NO [AUTHORIZATIONFAILED] Authorization failed\r\n"
    );
    assert_eq!(
        text(&answer_plain(
            &mut s,
            "h AUTHENTICATE PLAIN",
            Answer::Accept
        )),
        "h OK AUTHENTICATE completed\r\n"
    );
    assert_eq!(
        text(&s.command(b"i AUTHENTICATE PLAIN").unwrap()),
        "i BAD Already authenticated\r\n"
    );

    let mut s = new(false);
    assert_eq!(
        s.capabilities(),
        "AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=CRAM-MD5 SASL-IR"
    );
    assert_eq!(
        text(&s.command(b"a AUTHENTICATE PLAIN").unwrap()),
        "a NO [PRIVACYREQUIRED] Encryption required for this mechanism\r\n"
    );
    assert_eq!(
        text(&s.command(b"+ AUTHENTICATE PLAIN").unwrap()),
        "* BAD Invalid tag\r\n"
    );
}

#[test]
fn pop3_replies() {
    let mut s = Pop3Server::new(Arc::new(ServerConfig::new()));
    assert_eq!(
        s.capa_line().as_deref(),
        Some("SASL SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5")
    );
    assert_eq!(
        text(&s.command(b"AUTH PLAIN").unwrap()),
        "-ERR [AUTH] Plaintext authentication disallowed without TLS\r\n"
    );
    s.set_tls(true);
    assert_eq!(text(&s.command(b"AUTH PLAIN").unwrap()), "+ \r\n");
    assert_eq!(
        text(&s.line(b"*").unwrap()),
        "-ERR Authentication cancelled\r\n"
    );
    // The last one succeeds.
    for (answer, reply) in [
        (
            Answer::TemporaryFailure,
            "-ERR [SYS/TEMP] Temporary authentication failure\r\n",
        ),
        (Answer::Reject, "-ERR [AUTH] Authentication failed\r\n"),
        (Answer::Accept, "+OK Authentication successful\r\n"),
    ] {
        assert_eq!(text(&answer_plain(&mut s, "AUTH PLAIN", answer)), reply);
    }
    assert_eq!(
        text(&s.command(b"AUTH").unwrap()),
        "-ERR Already authenticated\r\n"
    );
}

// ---------------------------------------------------------------------------------------
// The later mechanisms: SCRAM (+PLUS), OAUTHBEARER, EXTERNAL, ANONYMOUS.

const EXPORTER: [u8; 32] = [0x42; 32];

fn later_config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new().mechanisms(&[
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::OAuthBearer,
        Mechanism::External,
        Mechanism::Anonymous,
        Mechanism::Plain,
    ]))
}

fn bound() -> Transport {
    Transport::tls().with_channel_binding(ChannelBindingType::TlsExporter, &EXPORTER)
}

#[test]
fn plus_and_external_follow_the_transport() {
    let states: [(Transport, &str); 4] = [
        (Transport::plaintext(), "SCRAM-SHA-256 ANONYMOUS"),
        (
            Transport::tls(),
            "SCRAM-SHA-256 OAUTHBEARER ANONYMOUS PLAIN",
        ),
        (
            bound(),
            "SCRAM-SHA-256-PLUS SCRAM-SHA-256 OAUTHBEARER ANONYMOUS PLAIN",
        ),
        (
            bound().with_external_identity("client.example.net"),
            "SCRAM-SHA-256-PLUS SCRAM-SHA-256 OAUTHBEARER EXTERNAL ANONYMOUS PLAIN",
        ),
    ];
    for (transport, names) in states {
        let mut smtp = SmtpServer::new(later_config());
        smtp.set_transport(transport.clone());
        assert_eq!(smtp.ehlo_keyword().unwrap(), format!("AUTH {names}"));
        let mut imap = ImapServer::new(later_config());
        imap.set_transport(transport.clone());
        let caps: Vec<String> = names.split(' ').map(|n| format!("AUTH={n}")).collect();
        assert_eq!(imap.capabilities(), format!("{} SASL-IR", caps.join(" ")));
        let mut pop3 = Pop3Server::new(later_config());
        pop3.set_transport(transport.clone());
        assert_eq!(pop3.capa_line().unwrap(), format!("SASL {names}"));
        // What is not offered is refused as unavailable.
        if transport
            .channel_binding(ChannelBindingType::TlsExporter)
            .is_none()
        {
            let ev = smtp.command(b"AUTH SCRAM-SHA-256-PLUS").unwrap();
            assert_eq!(text(&ev), "504 5.5.4 Unrecognized authentication type\r\n");
            assert_eq!(failure(&ev), Some(Failure::MechanismUnavailable));
            assert_eq!(
                text(&imap.command(b"a AUTHENTICATE SCRAM-SHA-256-PLUS").unwrap()),
                "a NO Unsupported authentication mechanism\r\n"
            );
        }
        if transport.external_identity().is_none() {
            let ev = smtp.command(b"AUTH EXTERNAL =").unwrap();
            assert_eq!(text(&ev), "504 5.5.4 Unrecognized authentication type\r\n");
            assert_eq!(
                text(&pop3.command(b"AUTH EXTERNAL =").unwrap()),
                "-ERR Unsupported authentication mechanism\r\n"
            );
        }
    }
    // set_tls drops what set_transport gave.
    let mut smtp = SmtpServer::new(later_config());
    smtp.set_transport(bound().with_external_identity("x"));
    smtp.set_tls(true);
    assert_eq!(
        smtp.ehlo_keyword().unwrap(),
        "AUTH SCRAM-SHA-256 OAUTHBEARER ANONYMOUS PLAIN"
    );
}

/// A server adapter of each protocol, for the tests that run the same exchange in all three.
struct Protocol {
    name: &'static str,
    /// A new adapter for `later_config()` on this transport.
    new: fn(Transport) -> Box<dyn ServerSide>,
    /// The command for a mechanism, up to its initial response.
    command: fn(&str) -> String,
    /// What goes before a challenge's base64.
    challenge: &'static str,
}

/// SMTP, IMAP, POP3, in that order.
fn protocols() -> [Protocol; 3] {
    [
        Protocol {
            name: "SMTP",
            new: |t| on(SmtpServer::new(later_config()), t),
            command: |m| format!("AUTH {m} "),
            challenge: "334 ",
        },
        Protocol {
            name: "IMAP",
            new: |t| on(ImapServer::new(later_config()), t),
            command: |m| format!("a AUTHENTICATE {m} "),
            challenge: "+ ",
        },
        Protocol {
            name: "POP3",
            new: |t| on(Pop3Server::new(later_config()), t),
            command: |m| format!("AUTH {m} "),
            challenge: "+ ",
        },
    ]
}

/// `server` on `transport`.
fn on(mut server: impl ServerSide + 'static, transport: Transport) -> Box<dyn ServerSide> {
    server.set_transport(transport);
    Box::new(server)
}

/// Run SCRAM-SHA-256(-PLUS) up to the server-final challenge on any protocol. Returns the
/// server-final challenge line.
fn scram_to_final(server: &mut dyn ServerSide, p: &Protocol, plus: bool) -> Vec<u8> {
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf");
    let cc = if plus {
        ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &EXPORTER)
    } else {
        ClientConfig::new()
    };
    let m = if plus {
        Mechanism::ScramSha256Plus
    } else {
        Mechanism::ScramSha256
    };
    let mut client = ClientSession::with_config(m, &creds, &cc).unwrap();
    let first = client.start_b64().unwrap().unwrap().to_vec();
    let mut command = (p.command)(m.name()).into_bytes();
    command.extend(first);
    let AuthRequest::Secret { mechanism, .. } = expect_request(server.command(&command).unwrap())
    else {
        panic!("{}: no Secret request", p.name)
    };
    assert_eq!(mechanism, m);
    let server_first = expect_challenge(
        server
            .answer(Answer::Password(b"tanstaaftanstaaf"))
            .unwrap(),
    );
    let b64 = std::str::from_utf8(&server_first)
        .unwrap()
        .strip_prefix(p.challenge)
        .unwrap()
        .trim_end();
    let client_final = client.step_b64(b64.as_bytes()).unwrap().to_vec();
    let server_final = expect_challenge(server.line(&client_final).unwrap());
    // The client verifies it and answers with an empty response.
    let b64 = std::str::from_utf8(&server_final)
        .unwrap()
        .strip_prefix(p.challenge)
        .unwrap()
        .trim_end();
    assert!(
        saslmech::b64::decode(b64.as_bytes())
            .unwrap()
            .as_slice()
            .starts_with(b"v="),
        "{}",
        p.name
    );
    assert_eq!(client.step_b64(b64.as_bytes()).unwrap(), b"");
    client.finish(None).unwrap();
    server_final
}

#[test]
fn scram_server_final_is_one_more_challenge_in_every_protocol() {
    // Server-final `v=…` goes out as a challenge (`334 v=…`, `+ v=…`); an empty line then
    // succeeds, `*` cancels, anything else fails. Replies in SMTP, IMAP, POP3 order.
    let acks: [(&[u8], [&str; 3]); 3] = [
        (
            b"",
            [
                "235 2.7.0 Authentication successful\r\n",
                "a OK AUTHENTICATE completed\r\n",
                "+OK Authentication successful\r\n",
            ],
        ),
        (
            b"*",
            [
                "501 5.0.0 Authentication cancelled\r\n",
                "a BAD Authentication cancelled\r\n",
                "-ERR Authentication cancelled\r\n",
            ],
        ),
        (
            b"dGlt",
            [
                "535 5.7.8 Authentication credentials invalid\r\n",
                "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
                "-ERR [AUTH] Authentication failed\r\n",
            ],
        ),
    ];
    for plus in [false, true] {
        for (ack, replies) in acks {
            for (p, reply) in protocols().iter().zip(replies) {
                let what = format!("{} plus={plus} ack {ack:?}", p.name);
                let mut s = (p.new)(bound());
                let fin = scram_to_final(&mut *s, p, plus);
                assert!(
                    fin.starts_with(format!("{}dj", p.challenge).as_bytes()),
                    "{what}: {fin:?}"
                );
                let ev = s.line(ack).unwrap();
                assert_eq!(text(&ev), reply, "{what}");
                let authenticated = ack.is_empty();
                assert_eq!(s.phase() == Phase::Authenticated, authenticated, "{what}");
                if authenticated {
                    assert_eq!(s.identity().unwrap().authcid, "tim", "{what}");
                }
            }
        }
    }
}

#[test]
fn oauthbearer_error_challenge_then_ack_empty_or_cancel() {
    // n,a=tim,^Aauth=Bearer xx^A^A
    let ir = "bixhPXRpbSwBYXV0aD1CZWFyZXIgeHgBAQ==";
    let error = TokenError {
        status: "invalid_token",
        scope: Some("mail"),
    };
    // Replies in SMTP, IMAP, POP3 order.
    for (ack, replies) in [
        (
            "AQ==",
            [
                "535 5.7.8 Authentication credentials invalid\r\n",
                "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
                "-ERR [AUTH] Authentication failed\r\n",
            ],
        ),
        (
            "",
            [
                "535 5.7.8 Authentication credentials invalid\r\n",
                "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n",
                "-ERR [AUTH] Authentication failed\r\n",
            ],
        ),
        (
            "*",
            [
                "501 5.0.0 Authentication cancelled\r\n",
                "a BAD Authentication cancelled\r\n",
                "-ERR Authentication cancelled\r\n",
            ],
        ),
    ] {
        for (p, reply) in protocols().iter().zip(replies) {
            let what = format!("{} ack {ack:?}", p.name);
            let mut s = (p.new)(Transport::tls());
            let command = format!("{}{ir}", (p.command)("OAUTHBEARER"));
            let r = expect_request(s.command(command.as_bytes()).unwrap());
            assert_eq!(r.user(), "tim", "{what}");
            let challenge = text(&s.answer(Answer::TokenError(error)).unwrap());
            let b64 = challenge
                .strip_prefix(p.challenge)
                .unwrap_or_else(|| panic!("{what}: {challenge:?}"))
                .trim_end();
            let json = saslmech::b64::decode(b64.as_bytes()).unwrap();
            assert_eq!(
                json.as_slice(),
                br#"{"status":"invalid_token","scope":"mail"}"#,
                "{what}"
            );
            assert_eq!(text(&s.line(ack.as_bytes()).unwrap()), reply, "{what}");
            assert_eq!(s.phase(), Phase::Idle, "{what}");
        }
    }
}

#[test]
fn external_and_anonymous() {
    let cert = bound().with_external_identity("client.example.net");
    // EXTERNAL with `=`: act as the certificate's identity.
    let mut s = SmtpServer::new(later_config());
    s.set_transport(cert.clone());
    let ServerEvent::Success { reply, identity } = s.command(b"AUTH EXTERNAL =").unwrap() else {
        panic!()
    };
    assert_eq!(reply, b"235 2.7.0 Authentication successful\r\n");
    assert_eq!(identity.authcid, "client.example.net");
    // Without an initial response: an empty challenge, an empty line.
    let mut s = ImapServer::new(later_config());
    s.set_transport(cert.clone());
    assert_eq!(
        text(&s.command(b"a AUTHENTICATE EXTERNAL").unwrap()),
        "+ \r\n"
    );
    assert_eq!(
        text(&s.line(b"").unwrap()),
        "a OK AUTHENTICATE completed\r\n"
    );
    // An authzid goes to the application; refused, it is an authorization failure.
    let mut s = ImapServer::new(later_config());
    s.set_transport(cert.clone());
    let ServerEvent::Request(AuthRequest::Authorize { authcid, authzid }) = s
        .command(b"b AUTHENTICATE EXTERNAL cG9zdG1hc3Rlcg==")
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (authcid.as_str(), authzid.as_str()),
        ("client.example.net", "postmaster")
    );
    assert_eq!(
        text(&s.answer(Answer::Reject).unwrap()),
        "b NO [AUTHORIZATIONFAILED] Authorization failed\r\n"
    );
    let mut s = Pop3Server::new(later_config());
    s.set_transport(cert);
    expect_request(s.command(b"AUTH EXTERNAL cG9zdG1hc3Rlcg==").unwrap());
    let ServerEvent::Success { identity, .. } = s.answer(Answer::Accept).unwrap() else {
        panic!()
    };
    assert_eq!(identity.effective(), "postmaster");

    // ANONYMOUS: no TLS needed, the identity is always `anonymous`, the trace is kept.
    let mut s = SmtpServer::new(later_config());
    let trace = saslmech::b64::encode(b"postmaster");
    let ServerEvent::Success { identity, .. } = s
        .command(format!("AUTH ANONYMOUS {trace}").as_bytes())
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(identity.authcid, "anonymous");
    assert_eq!(identity.trace.as_deref(), Some("postmaster"));
    // A trace over 255 characters is refused.
    let mut s = Pop3Server::new(later_config());
    let long = saslmech::b64::encode("x".repeat(256).as_bytes());
    let ev = s
        .command(format!("AUTH ANONYMOUS {long}").as_bytes())
        .unwrap();
    assert_eq!(failure(&ev), Some(Failure::TooLarge));
    // Not enabled (the default): not offered, refused.
    let mut s = smtp(true);
    let ev = s
        .command(format!("AUTH ANONYMOUS {trace}").as_bytes())
        .unwrap();
    assert_eq!(text(&ev), "504 5.5.4 Unrecognized authentication type\r\n");
}
