//! LOGIN (draft-murchison-sasl-login, MS-XLOGIN): the prompts and answers of the draft,
//! MS-XLOGIN and gsasl byte for byte, the username as initial response, the grammar, the
//! engine's client against its server in every framing, and property tests.

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::{
    Answer, ClientSession, Credentials, Failure, Mechanism, Request, ServerConfig, ServerSession,
    ServerStep, Transport,
};
use support::exchange::Framing;
use support::props::{self, account, mutation, password, token};
use support::{challenge, failure, start_fails};

fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new())
}

// ---- Examples ----

#[test]
fn login_client_ignores_challenge_text() {
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf");
    // The draft's `User Name\0` / `Password\0`, MS-XLOGIN's `Username:` / `Password:`, and
    // gsasl's `User Name` / `Password`.
    for (c1, c2) in [
        (&b"VXNlciBOYW1lAA=="[..], &b"UGFzc3dvcmQA"[..]),
        (b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"),
        (b"VXNlciBOYW1l", b"UGFzc3dvcmQ="),
    ] {
        let mut c = ClientSession::new(Mechanism::Login, &creds).unwrap();
        assert_eq!(c.start().unwrap(), None);
        assert_eq!(c.step_b64(c1).unwrap(), b"dGlt");
        assert_eq!(c.step_b64(c2).unwrap(), b"dGFuc3RhYWZ0YW5zdGFhZg==");
        c.finish(None).unwrap();
    }
}

#[test]
fn login_server_prompts_and_accepts_username_as_initial_response() {
    let config = config();
    let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
    assert_eq!(challenge(s.start_b64(None).unwrap()), b"VXNlcm5hbWU6");
    assert_eq!(challenge(s.step_b64(b"dGlt").unwrap()), b"UGFzc3dvcmQ6");
    match s.step_b64(b"dGFuc3RhYWZ0YW5zdGFhZg==").unwrap() {
        ServerStep::Request(Request::VerifyPassword(r)) => {
            assert_eq!(r.authcid(), "tim");
            assert_eq!(r.password(), b"tanstaaftanstaaf");
            assert_eq!(r.mechanism(), Mechanism::Login);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap(),
        ServerStep::Success(_)
    ));

    // MS-XLOGIN: `AUTH LOGIN dGlt`.
    let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
    assert_eq!(
        challenge(s.start_b64(Some(b"dGlt")).unwrap()),
        b"UGFzc3dvcmQ6"
    );
    assert!(matches!(
        s.step_b64(b"dGFuc3RhYWZ0YW5zdGFhZg==").unwrap(),
        ServerStep::Request(_)
    ));
    match s.answer(Answer::Password(b"wrong")).unwrap() {
        ServerStep::Failure(f) => assert_eq!(f, Failure::BadCredentials),
        other => panic!("{other:?}"),
    }
}

// ---- Grammar ----

#[test]
fn login_grammar() {
    let mut s = ServerSession::new(&config(), Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(None).unwrap();
    assert_eq!(failure(s.step(b"").unwrap()), Failure::Malformed); // empty user name
    let mut s = ServerSession::new(&config(), Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"tim")).unwrap();
    assert_eq!(failure(s.step(b"pa\0ss").unwrap()), Failure::Malformed); // NUL in password
    assert_eq!(
        start_fails(&config(), Mechanism::Login, b"t\xffm"),
        Failure::Malformed
    );
    assert_eq!(
        start_fails(&config(), Mechanism::Login, b""),
        Failure::Malformed
    );
}

// ---- Client against server ----

#[test]
fn pairs_in_every_framing_and_backend() {
    props::every_framing_and_backend(Mechanism::Login);
}

// ---- Properties ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn valid_credentials_authenticate(a in account(), b64: bool, ir: bool, keys: bool) {
        props::valid_credentials_authenticate(Mechanism::Login, &a, Framing::new(b64, ir), keys)?;
    }

    #[test]
    fn wrong_credentials_never_authenticate(
        a in account(), other in password(), other_token in token(), b64: bool, keys: bool,
    ) {
        props::wrong_credentials_never_authenticate(Mechanism::Login, &a, &other, &other_token, b64, keys)?;
    }

    #[test]
    fn mutated_messages_never_panic(m in mutation(), b64: bool) {
        props::mutated_message_never_panics(Mechanism::Login, &m, b64)?;
    }
}
