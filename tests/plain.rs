//! PLAIN (RFC 4616): the examples of RFC 4616 and RFC 4954 byte for byte, the message
//! grammar, authorization identities, the engine's client against its server in every framing,
//! and property tests.

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::{
    Answer, ClientSession, Credentials, Error, Failure, Mechanism, Request, ServerConfig,
    ServerSession, ServerStep, Transport, b64,
};
use support::exchange::{Framing, Users, Verdict};
use support::props::{self, Mutation, account, mutation, password, token};
use support::{challenge, start_fails};

fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new())
}

// ---- RFC 4616 and RFC 4954 examples ----

#[test]
fn plain_rfc4616_example1_without_initial_response() {
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    // `S: + ""`: an empty challenge.
    assert_eq!(challenge(s.start(None).unwrap()), b"");
    let msg = b64::decode(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
    assert_eq!(msg.as_slice(), b"\0tim\0tanstaaftanstaaf");
    match s.step(msg.as_slice()).unwrap() {
        ServerStep::Request(Request::VerifyPassword(r)) => {
            assert_eq!(r.authcid(), "tim");
            assert_eq!(r.authzid(), None);
            assert_eq!(r.password(), b"tanstaaftanstaaf");
        }
        other => panic!("{other:?}"),
    }
    match s.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap() {
        ServerStep::Success(ok) => {
            assert_eq!(ok.identity.authcid(), "tim");
            assert_eq!(ok.identity.authzid(), None);
            assert_eq!(ok.data, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.identity().unwrap().effective(), "tim");
}

#[test]
fn plain_rfc4616_example2_authorization_denied() {
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    match s.start(Some(b"Ursel\0Kurt\0xipj3plmq")).unwrap() {
        ServerStep::Request(Request::VerifyPassword(r)) => {
            assert_eq!(r.authcid(), "Kurt");
            assert_eq!(r.authzid(), Some("Ursel"));
        }
        other => panic!("{other:?}"),
    }
    // The password is right...
    match s.answer(Answer::Accept).unwrap() {
        ServerStep::Request(Request::Authorize(r)) => {
            assert_eq!(r.authcid(), "Kurt");
            assert_eq!(r.authzid(), "Ursel");
        }
        other => panic!("{other:?}"),
    }
    // ...but Kurt may not act as Ursel.
    match s.answer(Answer::Reject).unwrap() {
        ServerStep::Failure(f) => assert_eq!(f, Failure::AuthzDenied),
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_rfc4616_example2_authorization_allowed() {
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"Ursel\0Kurt\0xipj3plmq")).unwrap();
    let _ = s.answer(Answer::Password(b"xipj3plmq")).unwrap();
    match s.answer(Answer::Accept).unwrap() {
        ServerStep::Success(ok) => {
            assert_eq!(ok.identity.authcid(), "Kurt");
            assert_eq!(ok.identity.effective(), "Ursel");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_rfc4954_with_and_without_initial_response() {
    // C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    match s.start_b64(Some(b"dGVzdAB0ZXN0ADEyMzQ=")).unwrap() {
        ServerStep::Request(Request::VerifyPassword(r)) => {
            assert_eq!(
                (r.authzid(), r.authcid(), r.password()),
                (Some("test"), "test", &b"1234"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    // authzid equal to authcid needs no authorization request.
    assert!(matches!(
        s.answer(Answer::Password(b"1234")).unwrap(),
        ServerStep::Success(_)
    ));

    // C: AUTH PLAIN / S: 334 (empty) / C: dGVzdAB0ZXN0ADEyMzQ=
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    assert_eq!(challenge(s.start_b64(None).unwrap()), b"");
    assert!(matches!(
        s.step_b64(b"dGVzdAB0ZXN0ADEyMzQ=").unwrap(),
        ServerStep::Request(_)
    ));
    assert!(matches!(
        s.answer(Answer::Accept).unwrap(),
        ServerStep::Success(_)
    ));

    // The client produces exactly the RFC's initial response.
    let creds = Credentials::new()
        .authzid("test")
        .authcid("test")
        .password(b"1234");
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    assert_eq!(c.start_b64().unwrap(), Some(&b"dGVzdAB0ZXN0ADEyMzQ="[..]));
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf");
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    assert_eq!(
        c.start_b64().unwrap(),
        Some(&b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"[..])
    );
    // Without initial-response support the server's empty challenge gets the message.
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    assert_eq!(c.step_b64(b"").unwrap(), b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
}

// ---- Grammar and client checks ----

#[test]
fn plain_grammar() {
    use Failure::*;
    let long = vec![b'a'; 2000];
    let cases: Vec<(Vec<u8>, Failure)> = vec![
        (b"\0user".to_vec(), Malformed),                         // two fields
        (b"a\0b\0c\0d".to_vec(), Malformed),                     // four fields
        (b"\0\0password".to_vec(), Malformed),                   // empty authcid
        (b"\0user\0".to_vec(), Malformed),                       // empty password
        (b"".to_vec(), Malformed),                               // nothing
        (b"\0us\xffer\0pw".to_vec(), Malformed),                 // authcid not UTF-8
        (b"\xc3\0user\0pw".to_vec(), Malformed),                 // authzid not UTF-8
        (b"\0user\0p\xffw".to_vec(), Malformed),                 // password not UTF-8
        ([b"\0".as_slice(), &long, b"\0pw"].concat(), TooLarge), // authcid over max_identity
        ([long.as_slice(), b"\0u\0pw"].concat(), TooLarge),      // authzid over max_identity
    ];
    for (msg, want) in cases {
        assert_eq!(
            start_fails(&config(), Mechanism::Plain, &msg),
            want,
            "{msg:?}"
        );
    }
}

#[test]
fn plain_accepts_255_octet_fields_and_utf8() {
    let f = "é".repeat(127) + "x"; // 255 octets
    assert_eq!(f.len(), 255);
    let msg = format!("{f}\0{f}\0{f}");
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    assert!(matches!(
        s.start(Some(msg.as_bytes())).unwrap(),
        ServerStep::Request(_)
    ));
    assert!(matches!(
        s.answer(Answer::Password(f.as_bytes())).unwrap(),
        ServerStep::Success(_)
    ));
}

/// The PLAIN client sent passwords that are not UTF-8, which RFC 4616 forbids and the PLAIN
/// server (rightly) refuses as malformed: a clean exchange between the engine's own client
/// and server failed. The client now refuses such a password when it is created.
#[test]
fn plain_client_refuses_a_password_its_server_would_refuse() {
    let creds = Credentials::new().authcid("tim").password(b"\xff");
    assert_eq!(
        ClientSession::new(Mechanism::Plain, &creds).err(),
        Some(Error::InvalidArgument("PLAIN password is not UTF-8"))
    );
    // UTF-8 beyond ASCII is fine.
    let creds = Credentials::new()
        .authcid("tim")
        .password("pässwörd".as_bytes());
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    assert_eq!(c.start().unwrap(), Some("\0tim\0pässwörd".as_bytes()));
}

// ---- Client against server ----

#[test]
fn pairs_in_every_framing_and_backend() {
    props::every_framing_and_backend(Mechanism::Plain);
}

#[test]
fn plain_authzid_pairs() {
    let users = [("kurt", &b"xipj3plmq"[..], &b""[..])];
    let u = Users {
        users: &users,
        cram_keys: false,
        engine_compares: true,
        authz: &[("kurt", "ursel")],
    };
    let mut c = props::client(Mechanism::Plain, "kurt", b"xipj3plmq", Some("ursel"));
    assert_eq!(
        props::verdict(&mut c, &u, Framing::new(true, true)),
        Verdict::Success {
            authcid: "kurt".into(),
            authzid: Some("ursel".into())
        }
    );
    let mut c = props::client(Mechanism::Plain, "kurt", b"xipj3plmq", Some("root"));
    assert_eq!(
        props::verdict(&mut c, &u, Framing::new(true, true)),
        Verdict::Failure(Failure::AuthzDenied)
    );
    // Wrong password: no authorization question is asked at all.
    let mut c = props::client(Mechanism::Plain, "kurt", b"nope", Some("ursel"));
    assert_eq!(
        props::verdict(&mut c, &u, Framing::new(false, true)),
        Verdict::Failure(Failure::BadCredentials)
    );
}

// ---- Properties ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn valid_credentials_authenticate(a in account(), b64: bool, ir: bool, keys: bool) {
        props::valid_credentials_authenticate(Mechanism::Plain, &a, Framing::new(b64, ir), keys)?;
    }

    #[test]
    fn wrong_credentials_never_authenticate(
        a in account(), other in password(), other_token in token(), b64: bool, keys: bool,
    ) {
        props::wrong_credentials_never_authenticate(Mechanism::Plain, &a, &other, &other_token, b64, keys)?;
    }

    #[test]
    fn mutated_messages_never_panic(m in mutation(), b64: bool) {
        props::mutated_message_never_panics(Mechanism::Plain, &m, b64)?;
    }
}

/// A case `mutated_messages_never_panic` once shrank to (`pair.proptest-regressions`, when
/// one property test covered four mechanisms): the base64 initial response truncated.
#[test]
fn mutated_messages_regression_truncated_initial_response() {
    let m = Mutation {
        which: 0,
        kind: 1,
        pos: 158272283864391397,
        byte: 0,
        junk: vec![0],
    };
    props::mutated_message_never_panics(Mechanism::Plain, &m, true).unwrap();
}
