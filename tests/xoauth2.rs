//! XOAUTH2 (Google's and Microsoft's OAuth 2.0 mechanism): Google's example and curl's
//! test 922 byte for byte, the error challenge both ways, the message grammar, the engine's
//! client against its server in every framing, and property tests.

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::{
    Answer, ClientSession, Credentials, Failure, Mechanism, Request, ServerConfig, ServerSession,
    ServerStep, TokenError, Transport, b64,
};
use support::exchange::Framing;
use support::props::{self, account, mutation, password, token};
use support::{challenge, start_fails};

fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new())
}

/// Google's example initial response (developers.google.com/gmail/imap/xoauth2-protocol):
/// `user=someuser@example.com^Aauth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg^A^A`.
const GOOGLE_IR: &[u8] = b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
/// Google's example error challenge: `{"status":"401","schemes":"bearer mac","scope":"https://mail.google.com/"}`
/// and a newline.
const GOOGLE_ERROR: &[u8] = b"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";

// ---- Google's and curl's examples ----

#[test]
fn xoauth2_google_initial_response() {
    let creds = Credentials::new()
        .authcid("someuser@example.com")
        .token(b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    let mut c = ClientSession::new(Mechanism::XOAuth2, &creds).unwrap();
    assert_eq!(c.start_b64().unwrap(), Some(GOOGLE_IR));

    let mut s = ServerSession::new(&config(), Mechanism::XOAuth2, &Transport::tls()).unwrap();
    match s.start_b64(Some(GOOGLE_IR)).unwrap() {
        ServerStep::Request(Request::ValidateToken(r)) => {
            assert_eq!(r.user(), "someuser@example.com");
            assert_eq!(r.token(), b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
        }
        other => panic!("{other:?}"),
    }
    match s
        .answer(Answer::TokenOwner("someuser@example.com"))
        .unwrap()
    {
        ServerStep::Success(ok) => assert_eq!(ok.identity.authcid(), "someuser@example.com"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn xoauth2_curl_test922_vector() {
    let creds = Credentials::new().authcid("user").token(b"mF_9.B5f-4.1JqM");
    let mut c = ClientSession::new(Mechanism::XOAuth2, &creds).unwrap();
    assert_eq!(
        c.start_b64().unwrap(),
        Some(&b"dXNlcj11c2VyAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB"[..])
    );
}

#[test]
fn xoauth2_google_error_challenge_client() {
    let creds = Credentials::new()
        .authcid("someuser@example.com")
        .token(b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    let mut c = ClientSession::new(Mechanism::XOAuth2, &creds).unwrap();
    let _ = c.start_b64().unwrap();
    // The client answers the error challenge with an empty response.
    assert_eq!(c.step_b64(GOOGLE_ERROR).unwrap(), b"");
    let e = c.oauth_error().unwrap();
    assert_eq!(e.status.as_deref(), Some("401"));
    assert_eq!(e.schemes.as_deref(), Some("bearer mac"));
    assert_eq!(e.scope.as_deref(), Some("https://mail.google.com/"));
    assert_eq!(e.raw.last(), Some(&b'\n'));
    // Google's POP variant, without the newline.
    let mut c = ClientSession::new(Mechanism::XOAuth2, &creds).unwrap();
    let _ = c.start().unwrap();
    let pop = b"eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
    assert_eq!(c.step_b64(pop).unwrap(), b"");
    assert_eq!(c.oauth_error().unwrap().status.as_deref(), Some("400"));
}

#[test]
fn xoauth2_server_error_challenge_then_failure() {
    for ack in [&b""[..], b"AQ=="] {
        let mut s = ServerSession::new(&config(), Mechanism::XOAuth2, &Transport::tls()).unwrap();
        assert!(matches!(
            s.start_b64(Some(GOOGLE_IR)).unwrap(),
            ServerStep::Request(_)
        ));
        let err = TokenError {
            status: "401",
            scope: Some("https://mail.google.com/"),
        };
        let ch = challenge(s.answer_b64(Answer::TokenError(err)).unwrap());
        let json = b64::decode(&ch).unwrap();
        assert_eq!(
            json.as_slice(),
            br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#
        );
        // The crate's own client understands it.
        let parsed = saslmech::OAuthError::parse(json.as_slice()).unwrap();
        assert_eq!(parsed.scope.as_deref(), Some("https://mail.google.com/"));
        match s.step_b64(ack).unwrap() {
            ServerStep::Failure(f) => assert_eq!(f, Failure::BadCredentials),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn xoauth2_without_initial_response() {
    let mut s = ServerSession::new(&config(), Mechanism::XOAuth2, &Transport::tls()).unwrap();
    assert_eq!(challenge(s.start(None).unwrap()), b"");
    let msg = b64::decode(GOOGLE_IR).unwrap();
    assert!(matches!(
        s.step(msg.as_slice()).unwrap(),
        ServerStep::Request(_)
    ));
    match s.answer(Answer::Reject).unwrap() {
        ServerStep::Challenge(c) => assert_eq!(c, br#"{"status":"401","schemes":"bearer"}"#),
        other => panic!("{other:?}"),
    }
}

// ---- Grammar ----

#[test]
fn xoauth2_grammar() {
    let cases: &[&[u8]] = &[
        b"user=u\x01auth=Bearer tok\x01",               // one final ^A
        b"user=u\x01auth=Bearer tok\x01\x01\x01",       // three
        b"user=u\x01auth=Bearer tok\x01\x01x",          // trailing data
        b"user=u\x01auth=Basic tok\x01\x01",            // not Bearer
        b"user=u\x01auth=Bearer \x01\x01",              // empty token
        b"user=u\x01auth=Bearer t k\x01\x01",           // space in token
        b"user=u\x01auth=Bearertok\x01\x01",            // no space
        b"user=\x01auth=Bearer tok\x01\x01",            // empty user
        b"User=u\x01auth=Bearer tok\x01\x01",           // wrong key case
        b"auth=Bearer tok\x01user=u\x01\x01",           // wrong order
        b"user=u\x01host=x\x01auth=Bearer tok\x01\x01", // extra key
        b"",
    ];
    for msg in cases {
        assert_eq!(
            start_fails(&config(), Mechanism::XOAuth2, msg),
            Failure::Malformed,
            "{msg:?}"
        );
    }
    // Scheme name is case-insensitive.
    let mut s = ServerSession::new(&config(), Mechanism::XOAuth2, &Transport::tls()).unwrap();
    assert!(matches!(
        s.start(Some(b"user=u\x01auth=bearer tok\x01\x01")).unwrap(),
        ServerStep::Request(_)
    ));
}

// ---- Client against server ----

#[test]
fn pairs_in_every_framing_and_backend() {
    props::every_framing_and_backend(Mechanism::XOAuth2);
}

// ---- Properties ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn valid_credentials_authenticate(a in account(), b64: bool, ir: bool, keys: bool) {
        props::valid_credentials_authenticate(Mechanism::XOAuth2, &a, Framing::new(b64, ir), keys)?;
    }

    #[test]
    fn wrong_credentials_never_authenticate(
        a in account(), other in password(), other_token in token(), b64: bool, keys: bool,
    ) {
        props::wrong_credentials_never_authenticate(Mechanism::XOAuth2, &a, &other, &other_token, b64, keys)?;
    }

    #[test]
    fn mutated_messages_never_panic(m in mutation(), b64: bool) {
        props::mutated_message_never_panics(Mechanism::XOAuth2, &m, b64)?;
    }
}

/// A case `valid_credentials_authenticate` once shrank to (`pair.proptest-regressions`, when
/// one property test covered four mechanisms): a raw exchange without an initial response.
#[test]
fn valid_credentials_regression_raw_without_initial_response() {
    let a = props::Account {
        user: "a".into(),
        password: "\u{a1}".into(),
        token: b"0".to_vec(),
    };
    props::valid_credentials_authenticate(
        Mechanism::XOAuth2,
        &a,
        Framing::new(false, false),
        false,
    )
    .unwrap();
}
