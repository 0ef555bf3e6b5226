//! CRAM-MD5 (RFC 2195): the examples of RFC 2195 and RFC 4954 byte for byte, with the
//! password and with Dovecot's stored keys, the response grammar, the engine's client against
//! its server in every framing, and property tests.

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::{
    Answer, ClientSession, CramMd5Keys, Credentials, Error, Failure, Mechanism, NonceSource,
    Request, ServerConfig, ServerSession, ServerStep, Transport,
};
use support::exchange::Framing;
use support::props::{self, account, mutation, password, token};
use support::{challenge, failure, start_fails, to_hex};

/// The server of RFC 2195's example.
fn rfc2195_config() -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::new()
            .hostname("postoffice.reston.mci.net")
            .nonce_source(NonceSource::Fixed(b"1896.697170952".to_vec())),
    )
}

/// A fixed nonce, for the grammar cases.
fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new().nonce_source(NonceSource::Fixed(b"1.2".to_vec())))
}

// ---- RFC 2195 and RFC 4954 examples ----

#[test]
fn cram_md5_rfc2195_server_with_password_and_with_keys() {
    let keys = CramMd5Keys::from_password(b"tanstaaftanstaaf");
    for answer in [
        Answer::Password(b"tanstaaftanstaaf"),
        Answer::CramMd5Keys(&keys),
    ] {
        let mut s = ServerSession::new(
            &rfc2195_config(),
            Mechanism::CramMd5,
            &Transport::plaintext(),
        )
        .unwrap();
        assert_eq!(
            challenge(s.start_b64(None).unwrap()),
            b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
        );
        match s
            .step_b64(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
            .unwrap()
        {
            ServerStep::Request(Request::Secret(r)) => {
                assert_eq!(r.authcid(), "tim");
                assert_eq!(r.mechanism(), Mechanism::CramMd5);
            }
            other => panic!("{other:?}"),
        }
        match s.answer(answer).unwrap() {
            ServerStep::Success(ok) => assert_eq!(ok.identity.authcid(), "tim"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn cram_md5_rfc2195_client() {
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf");
    let mut c = ClientSession::new(Mechanism::CramMd5, &creds).unwrap();
    assert_eq!(c.start_b64().unwrap(), None);
    assert_eq!(
        c.step_b64(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
            .unwrap(),
        b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    );
    c.finish(None).unwrap();
    assert!(c.is_finished());
}

#[test]
fn cram_md5_rfc4954_framing_and_wrong_secret() {
    let config = Arc::new(
        ServerConfig::new()
            .hostname("sourcefour.andrew.cmu.edu")
            .nonce_source(NonceSource::Fixed(b"4192942341.12828472".to_vec())),
    );
    let mut s = ServerSession::new(&config, Mechanism::CramMd5, &Transport::tls()).unwrap();
    assert_eq!(
        challenge(s.start_b64(None).unwrap()),
        b"PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4="
    );
    match s
        .step_b64(b"cmpzMyBlYzNhNTlmZWQzOTVhYmExZWM2MzY3YzRmNGI0MWFjMA==")
        .unwrap()
    {
        ServerStep::Request(Request::Secret(r)) => assert_eq!(r.authcid(), "rjs3"),
        other => panic!("{other:?}"),
    }
    // The RFC does not give rjs3's password: any guess fails, and so does an unknown user.
    match s.answer(Answer::Password(b"not-the-password")).unwrap() {
        ServerStep::Failure(f) => assert_eq!(f, Failure::BadCredentials),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cram_md5_unknown_user_fails_like_wrong_password() {
    let mut s = ServerSession::new(
        &rfc2195_config(),
        Mechanism::CramMd5,
        &Transport::plaintext(),
    )
    .unwrap();
    let _ = s.start(None).unwrap();
    let _ = s.step(b"tim b913a602c7eda7a495b4e6e7334d3890").unwrap();
    match s.answer(Answer::UnknownUser).unwrap() {
        ServerStep::Failure(f) => assert_eq!(f, Failure::BadCredentials),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cram_md5_user_names_with_spaces_split_at_rightmost_space() {
    let config = rfc2195_config();
    let creds = Credentials::new().authcid("tim smith").password(b"pw");
    let mut c = ClientSession::new(Mechanism::CramMd5, &creds).unwrap();
    let mut s = ServerSession::new(&config, Mechanism::CramMd5, &Transport::tls()).unwrap();
    let ch = challenge(s.start(None).unwrap());
    let resp = c.step(&ch).unwrap().to_vec();
    match s.step(&resp).unwrap() {
        ServerStep::Request(Request::Secret(r)) => assert_eq!(r.authcid(), "tim smith"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.answer(Answer::Password(b"pw")).unwrap(),
        ServerStep::Success(_)
    ));
}

#[test]
fn cram_md5_random_challenges_differ_and_name_the_host() {
    let config = Arc::new(ServerConfig::new().hostname("mx.example.org"));
    let mut seen = Vec::new();
    for _ in 0..4 {
        let mut s = ServerSession::new(&config, Mechanism::CramMd5, &Transport::tls()).unwrap();
        let ch = challenge(s.start(None).unwrap());
        let text = String::from_utf8(ch).unwrap();
        assert!(
            text.starts_with('<') && text.ends_with("@mx.example.org>"),
            "{text}"
        );
        let nonce = &text[1..text.len() - "@mx.example.org>".len()];
        // 128 random bits as two groups of 16 lowercase hex digits.
        let (a, b) = nonce.split_once('.').unwrap();
        assert!(a.len() == 16 && b.len() == 16, "{text}");
        assert!(
            a.bytes()
                .chain(b.bytes())
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
            "{text}"
        );
        assert!(!seen.contains(&text));
        seen.push(text);
    }
}

#[test]
fn cram_md5_dovecot_stored_form() {
    let keys = CramMd5Keys::from_password(b"tanstaaftanstaaf");
    let text = keys.to_dovecot();
    assert_eq!(text.len(), 10 + 64);
    assert_eq!(CramMd5Keys::from_dovecot(&text), Some(keys.clone()));
    assert_eq!(CramMd5Keys::from_dovecot(&text[10..]), Some(keys.clone()));
    assert_eq!(CramMd5Keys::from_dovecot(&text[..70]), None);
    // Upper-case digits read the same (Dovecot writes lower case; other tools may not); the
    // prefix is exact.
    assert_eq!(
        CramMd5Keys::from_dovecot(&text.to_uppercase()),
        Some(keys.clone())
    );
    assert_eq!(CramMd5Keys::from_dovecot(&text.to_lowercase()), None);
    assert_eq!(CramMd5Keys::from_bytes(&keys.to_bytes()), keys);
    // The stored state computes the RFC 2195 digest.
    let mac = keys.mac(b"<1896.697170952@postoffice.reston.mci.net>");
    assert_eq!(to_hex(&mac), "b913a602c7eda7a495b4e6e7334d3890");
    assert_eq!(format!("{keys:?}"), "CramMd5Keys(<redacted>)");
}

// ---- Grammar ----

#[test]
fn cram_md5_grammar() {
    use Failure::*;
    let cases: Vec<(&[u8], Failure)> = vec![
        (b"timb913a602c7eda7a495b4e6e7334d3890", Malformed), // no space
        (b"tim b913a602c7eda7a495b4e6e7334d389", Malformed), // 31 digits
        (b"tim b913a602c7eda7a495b4e6e7334d38900", Malformed), // 33 digits
        (b"tim B913A602C7EDA7A495B4E6E7334D3890", Malformed), // uppercase hex
        (b"tim b913a602c7eda7a495b4e6e7334d389g", Malformed), // not hex
        (b"t\0m b913a602c7eda7a495b4e6e7334d3890", Malformed), // NUL
        (b"tim b913a602c7eda7a495b4e6e7334d3890\0", Malformed), // trailing NUL
        (b" b913a602c7eda7a495b4e6e7334d3890", Malformed),   // empty user
        (b"tim ", Malformed),                                // no digest
        (b"", Malformed),
        (b"t\xffm b913a602c7eda7a495b4e6e7334d3890", Malformed), // user not UTF-8
    ];
    for (msg, want) in cases {
        let mut s = ServerSession::new(&config(), Mechanism::CramMd5, &Transport::tls()).unwrap();
        let _ = s.start(None).unwrap();
        assert_eq!(failure(s.step(msg).unwrap()), want, "{msg:?}");
        assert_eq!(s.step(b"x").unwrap_err(), Error::InvalidState);
    }
    // An initial response to the server-first CRAM-MD5 (SMTP 501 5.7.0).
    assert_eq!(
        start_fails(&config(), Mechanism::CramMd5, b"tim"),
        UnexpectedInitialResponse
    );
}

// ---- Client against server ----

#[test]
fn pairs_in_every_framing_and_backend() {
    props::every_framing_and_backend(Mechanism::CramMd5);
}

// ---- Properties ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn valid_credentials_authenticate(a in account(), b64: bool, ir: bool, keys: bool) {
        props::valid_credentials_authenticate(Mechanism::CramMd5, &a, Framing::new(b64, ir), keys)?;
    }

    #[test]
    fn wrong_credentials_never_authenticate(
        a in account(), other in password(), other_token in token(), b64: bool, keys: bool,
    ) {
        props::wrong_credentials_never_authenticate(Mechanism::CramMd5, &a, &other, &other_token, b64, keys)?;
    }

    #[test]
    fn mutated_messages_never_panic(m in mutation(), b64: bool) {
        props::mutated_message_never_panics(Mechanism::CramMd5, &m, b64)?;
    }
}
