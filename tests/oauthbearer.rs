//! OAUTHBEARER (RFC 7628): the RFC's examples both ways, strict GS2 parsing, the error
//! challenge and what may follow it.

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::{
    Answer, ClientConfig, ClientSession, Credentials, Error, Failure, Mechanism, Request,
    ServerConfig, ServerSession, TokenError, Transport, b64,
};
use support::exchange::pair;
use support::{Out, own};

const TOKEN: &str = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
/// §4.1, IMAP (port 143).
const IR_IMAP: &str = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";
/// §4.1, SMTP (port 587).
const IR_SMTP: &str = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";
/// §4.3: an empty `auth=` to discover the scope.
const IR_DISCOVER: &str =
    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9AQE=";
const ERR_DISCOVER: &str = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWcifQ==";
/// §4.3's second copy (the client cancels).
const ERR_CANCEL: &str = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";
/// §4.4, SMTP: not valid GS2 (`user=` where `a=` belongs).
const IR_RFC_4_4: &str = "bix1c2VyPXNvbWV1c2VyQGV4YW1wbGUuY29tLAFhdXRoPUJlYXJlciB2RjlkZnQ0cW1UYzJOdmIzUmxja0JoZEhSaGRtbHpkR0V1WTI5dENnPT0BAQ==";
const ERR_RFC_4_4: &str = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciBtYWMiLCJzY29wZSI6Imh0dHBzOi8vbWFpbC5leGFtcGxlLmNvbS8ifQ==";

fn config() -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::new()
            .oauth_openid_configuration("https://example.com/.well-known/openid-config"),
    )
}

fn session() -> ServerSession {
    ServerSession::new(&config(), Mechanism::OAuthBearer, &Transport::tls()).unwrap()
}

#[test]
fn rfc7628_4_1_server() {
    for (ir, port) in [(IR_IMAP, 143), (IR_SMTP, 587)] {
        let mut s = session();
        assert_eq!(own(s.start_b64(Some(ir.as_bytes())).unwrap()), Out::Request);
        match s.request().unwrap() {
            Request::ValidateToken(t) => {
                assert_eq!(t.mechanism(), Mechanism::OAuthBearer);
                assert_eq!(t.user(), "user@example.com");
                assert_eq!(t.authzid(), Some("user@example.com"));
                assert_eq!(t.host(), Some("server.example.com"));
                assert_eq!(t.port(), Some(port));
                assert_eq!(t.token(), TOKEN.as_bytes());
                assert!(!format!("{t:?}").contains(TOKEN));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            own(s.answer(Answer::TokenOwner("user@example.com")).unwrap()),
            Out::Success {
                authcid: "user@example.com".into(),
                authzid: None,
                data: None
            }
        );
    }
}

#[test]
fn rfc7628_4_1_client() {
    for (ir, port) in [(IR_IMAP, 143), (IR_SMTP, 587)] {
        let creds = Credentials::new()
            .authcid("user@example.com")
            .host("server.example.com")
            .port(port)
            .token(TOKEN.as_bytes());
        let mut c = ClientSession::new(Mechanism::OAuthBearer, &creds).unwrap();
        assert_eq!(c.start_b64().unwrap(), Some(ir.as_bytes()));
        c.finish(None).unwrap();
    }
}

#[test]
fn rfc7628_4_3_discovery_and_error_challenge() {
    let mut s = session();
    assert_eq!(
        own(s.start_b64(Some(IR_DISCOVER.as_bytes())).unwrap()),
        Out::Request
    );
    match s.request().unwrap() {
        Request::ValidateToken(t) => assert_eq!(t.token(), b""),
        other => panic!("{other:?}"),
    }
    // An empty token is never valid, even if the application says so.
    let mut s2 = session();
    let _ = s2.start_b64(Some(IR_DISCOVER.as_bytes())).unwrap();
    assert!(matches!(
        own(s2.answer(Answer::TokenOwner("user@example.com")).unwrap()),
        Out::Challenge(_)
    ));
    // The application says which scope it needs; the challenge is the RFC's, byte for byte.
    let step = s
        .answer_b64(Answer::TokenError(TokenError {
            status: "invalid_token",
            scope: Some("example_scope"),
        }))
        .unwrap();
    assert_eq!(own(step), Out::Challenge(ERR_DISCOVER.as_bytes().to_vec()));
    // The client acknowledges with ^A (AQ==); the exchange fails.
    assert_eq!(
        own(s.step_b64(b"AQ==").unwrap()),
        Out::Failure(Failure::BadCredentials)
    );
}

#[test]
fn after_the_error_challenge_every_ending_fails_cleanly() {
    for ending in [&b"\x01"[..], b"", b"*", b"junk"] {
        let mut s = session();
        let _ = s.start_b64(Some(IR_IMAP.as_bytes())).unwrap();
        assert!(matches!(
            own(s.answer(Answer::Reject).unwrap()),
            Out::Challenge(_)
        ));
        let out = if ending == b"*" {
            Out::Failure(s.cancel().unwrap())
        } else {
            own(s.step(ending).unwrap())
        };
        let expected = match ending {
            b"*" => Failure::Cancelled,
            b"junk" => Failure::Malformed,
            _ => Failure::BadCredentials,
        };
        assert_eq!(out, Out::Failure(expected), "{ending:?}");
        assert!(s.is_finished());
        assert_eq!(s.step(b"\x01").unwrap_err(), Error::InvalidState);
    }
    // Without an application scope the challenge still has the status and the server-wide
    // discovery URL.
    let mut s = session();
    let _ = s.start(Some(b"n,,\x01auth=Bearer abc\x01\x01")).unwrap();
    match own(s.answer(Answer::UnknownUser).unwrap()) {
        Out::Challenge(c) => assert_eq!(
            c,
            br#"{"status":"invalid_token","openid-configuration":"https://example.com/.well-known/openid-config"}"#
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn client_parses_error_challenges_and_acknowledges() {
    for (challenge, openid) in [
        (
            ERR_DISCOVER,
            Some("https://example.com/.well-known/openid-config"),
        ),
        (
            ERR_CANCEL,
            Some("https://example.com/.well-known/openid-configuration"),
        ),
        (ERR_RFC_4_4, None),
    ] {
        let creds = Credentials::new()
            .authcid("user@example.com")
            .token(TOKEN.as_bytes());
        let mut c = ClientSession::new(Mechanism::OAuthBearer, &creds).unwrap();
        c.start().unwrap();
        assert_eq!(c.step_b64(challenge.as_bytes()).unwrap(), b"AQ==");
        let e = c.oauth_error().unwrap();
        assert_eq!(e.status.as_deref(), Some("invalid_token"));
        assert_eq!(e.openid_configuration.as_deref(), openid);
        // The server then fails; the client has nothing more to do or say.
        assert!(c.step(b"").is_err());
    }
    // A challenge that is not JSON is refused.
    let creds = Credentials::new().token(TOKEN.as_bytes());
    let mut c = ClientSession::new(Mechanism::OAuthBearer, &creds).unwrap();
    assert_eq!(
        c.start().unwrap(),
        Some(&b"n,,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"[..])
    );
    assert_eq!(c.step(b"nope"), Err(Error::Failed(Failure::Malformed)));
}

#[test]
fn strict_parsing() {
    let rfc_4_4 = b64::decode(IR_RFC_4_4.as_bytes()).unwrap();
    assert!(
        rfc_4_4
            .as_slice()
            .starts_with(b"n,user=someuser@example.com,\x01")
    );
    let bad: &[&[u8]] = &[
        // RFC 7628 §4.4's own SMTP example: `user=` is not GS2.
        rfc_4_4.as_slice(),
        // missing final ^A
        b"n,,\x01auth=Bearer abc\x01",
        b"n,,\x01auth=Bearer abc",
        // trailing data after the final ^A
        b"n,,\x01auth=Bearer abc\x01\x01x",
        b"n,,\x01auth=Bearer abc\x01\x01\x01",
        // channel binding flag
        b"p=tls-exporter,,\x01auth=Bearer abc\x01\x01",
        b"p=,,\x01auth=Bearer abc\x01\x01",
        // gs2 header shapes
        b"",
        b"\x01",
        b"n",
        b"n,\x01auth=Bearer abc\x01\x01",
        b"x,,\x01auth=Bearer abc\x01\x01",
        b"n,,auth=Bearer abc\x01\x01",
        b"n,a=,\x01auth=Bearer abc\x01\x01",
        b"n,a=us=2er,\x01auth=Bearer abc\x01\x01",
        b"n,a=u\0,\x01auth=Bearer abc\x01\x01",
        // key/value pairs
        b"n,,\x01\x01",
        b"n,,\x01host=x\x01\x01",
        b"n,,\x01auth=Bearer abc\x01auth=Bearer abc\x01\x01",
        b"n,,\x01auth=Basic abc\x01\x01",
        b"n,,\x01auth=Bearer\x01\x01",
        b"n,,\x01auth=Bearer a b\x01\x01",
        b"n,,\x01auth=Bearerabc\x01\x01",
        b"n,,\x01auth=Bearer abc\x01h0st=x\x01\x01",
        b"n,,\x01auth=Bearer abc\x01=x\x01\x01",
        b"n,,\x01auth=Bearer abc\x01host\x01\x01",
        b"n,,\x01auth=Bearer abc\x01host=a\x00b\x01\x01",
        b"n,,\x01auth=Bearer abc\x01port=\x01\x01",
        b"n,,\x01auth=Bearer abc\x01port=65536\x01\x01",
        b"n,,\x01auth=Bearer abc\x01port=-1\x01\x01",
        b"n,,\x01auth=Bearer abc\x01port=1\x01port=2\x01\x01",
    ];
    for msg in bad {
        let mut s = session();
        assert_eq!(
            own(s.start(Some(msg)).unwrap()),
            Out::Failure(Failure::Malformed),
            "{:?}",
            String::from_utf8_lossy(msg)
        );
    }
    // Accepted: `y`, unknown keys, case-insensitive scheme, escapes, values with spaces.
    let good: &[(&[u8], &str)] = &[
        (b"y,,\x01auth=Bearer abc\x01\x01", ""),
        (b"n,a=a=2Cb=3Dc,\x01auth=bearer abc\x01\x01", "a,b=c"),
        (
            b"n,,\x01mthd=POST\x01qs=a b\x01auth=BEARER abc==\x01\x01",
            "",
        ),
    ];
    for (msg, user) in good {
        let mut s = session();
        assert_eq!(own(s.start(Some(msg)).unwrap()), Out::Request, "{msg:?}");
        match s.request().unwrap() {
            Request::ValidateToken(t) => assert_eq!(t.user(), *user),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn token_owner_and_authorization() {
    // No authzid: the application must say whose token it is.
    let mut s = session();
    let _ = s.start(Some(b"n,,\x01auth=Bearer abc\x01\x01")).unwrap();
    assert_eq!(s.answer(Answer::Accept).unwrap_err(), Error::WrongAnswer);
    assert_eq!(
        own(s.answer(Answer::TokenOwner("alice")).unwrap()),
        Out::Success {
            authcid: "alice".into(),
            authzid: None,
            data: None
        }
    );
    // An authzid other than the owner: the session asks.
    for (decision, expected) in [
        (Answer::Accept, Ok(("alice", Some("shared")))),
        (Answer::Reject, Err(Failure::AuthzDenied)),
    ] {
        let mut s = session();
        let _ = s
            .start(Some(b"n,a=shared,\x01auth=Bearer abc\x01\x01"))
            .unwrap();
        assert_eq!(
            own(s.answer(Answer::TokenOwner("alice")).unwrap()),
            Out::Request
        );
        match s.request().unwrap() {
            Request::Authorize(a) => {
                assert_eq!((a.authcid(), a.authzid()), ("alice", "shared"));
            }
            other => panic!("{other:?}"),
        }
        let out = own(s.answer(decision).unwrap());
        match expected {
            Ok((c, z)) => assert_eq!(
                out,
                Out::Success {
                    authcid: c.into(),
                    authzid: z.map(Into::into),
                    data: None
                }
            ),
            Err(f) => assert_eq!(out, Out::Failure(f)),
        }
    }
    // The owner is the authzid: no question.
    let mut s = session();
    let _ = s
        .start(Some(b"n,a=alice,\x01auth=Bearer abc\x01\x01"))
        .unwrap();
    assert!(matches!(
        own(s.answer(Answer::TokenOwner("alice")).unwrap()),
        Out::Success { .. }
    ));
}

#[test]
fn requires_tls() {
    let plain = Transport::plaintext();
    assert_eq!(
        ServerSession::new(&config(), Mechanism::OAuthBearer, &plain).unwrap_err(),
        Failure::EncryptionRequired
    );
    assert!(Mechanism::OAuthBearer.requires_tls());
}

#[test]
fn pairs_in_both_success_data_modes() {
    for success_data in [true, false] {
        for valid in [true, false] {
            let creds = Credentials::new()
                .authcid("user@example.com")
                .host("mx.example.com")
                .port(587)
                .token(TOKEN.as_bytes());
            let o = pair(
                Mechanism::OAuthBearer,
                &creds,
                &ClientConfig::new(),
                ServerConfig::new(),
                &Transport::tls().with_success_data(success_data),
                |req| match req {
                    Request::ValidateToken(t) => {
                        assert_eq!((t.host(), t.port()), (Some("mx.example.com"), Some(587)));
                        if valid && t.token() == TOKEN.as_bytes() {
                            Answer::TokenOwner("user@example.com")
                        } else {
                            Answer::TokenError(TokenError {
                                status: "invalid_token",
                                scope: Some("mail"),
                            })
                        }
                    }
                    other => panic!("{other:?}"),
                },
            );
            if valid {
                assert_eq!(o.server, Ok(("user@example.com".into(), None)));
                o.client.unwrap();
                assert!(o.challenges.is_empty());
            } else {
                assert_eq!(o.server, Err(Failure::BadCredentials));
                assert_eq!(o.responses.last().unwrap().as_slice(), b"\x01");
                assert_eq!(o.challenges.len(), 1);
            }
        }
    }
    // Without an initial response: an empty challenge first.
    let creds = Credentials::new().token(b"abc");
    let mut s = session();
    let mut c = ClientSession::new(Mechanism::OAuthBearer, &creds).unwrap();
    assert_eq!(own(s.start(None).unwrap()), Out::Challenge(Vec::new()));
    let r = c.step(b"").unwrap().to_vec();
    assert_eq!(own(s.step(&r).unwrap()), Out::Request);
}

#[test]
fn client_argument_checks() {
    for creds in [
        Credentials::new().authcid("u"),
        Credentials::new().authcid("u").token(b"a b"),
        Credentials::new().authcid("u\x01").token(b"abc"),
        Credentials::new().authcid("u").host("a\x01b").token(b"abc"),
    ] {
        assert!(matches!(
            ClientSession::new(Mechanism::OAuthBearer, &creds),
            Err(Error::InvalidArgument(_))
        ));
    }
    // authzid wins over authcid, and is escaped.
    let creds = Credentials::new()
        .authcid("u")
        .authzid("a,b=c")
        .token(b"abc");
    let mut c = ClientSession::new(Mechanism::OAuthBearer, &creds).unwrap();
    assert_eq!(
        c.start().unwrap(),
        Some(&b"n,a=a=2Cb=3Dc,\x01auth=Bearer abc\x01\x01"[..])
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary messages, before and after the error challenge: never a panic; a request
    /// only for a message that re-serializes to a well-formed one.
    #[test]
    fn arbitrary_messages_never_panic(
        a in prop::collection::vec(any::<u8>(), 0..120),
        b in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut s = session();
        if own(s.start(Some(&a)).unwrap()) == Out::Request {
            prop_assert!(a.ends_with(b"\x01\x01"));
            let out = own(s.answer(Answer::Reject).unwrap());
            prop_assert!(matches!(out, Out::Challenge(_)));
            let out = own(s.step(&b).unwrap());
            prop_assert!(matches!(out, Out::Failure(_)));
        }
    }

    /// Mutations of the RFC message: never a panic, and a request carries the token only if
    /// the token part survived.
    #[test]
    fn mutated_rfc_message(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut m = b64::decode(IR_IMAP.as_bytes()).unwrap().as_slice().to_vec();
        let i = pos.index(m.len());
        m[i] = byte;
        let mut s = session();
        if own(s.start(Some(&m)).unwrap()) == Out::Request {
            match s.request().unwrap() {
                Request::ValidateToken(t) => prop_assert!(!t.token().contains(&1)),
                other => panic!("{other:?}"),
            }
        }
    }
}
