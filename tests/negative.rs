//! Malformed input, limits, policy and API misuse: each gives its specific typed failure or
//! error, never a panic, and leaves the session consistent.

use std::sync::Arc;

use saslmech::{
    Answer, ClientSession, Credentials, Error, Failure, Mechanism, NonceSource, ServerConfig,
    ServerSession, ServerStep, Transport,
};

fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new().nonce_source(NonceSource::Fixed(b"1.2".to_vec())))
}

fn failure(step: ServerStep<'_>) -> Failure {
    match step {
        ServerStep::Failure(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Start `mech` with `ir` and return the failure it must produce.
fn start_fails(mech: Mechanism, ir: &[u8]) -> Failure {
    let mut s = ServerSession::new(&config(), mech, &Transport::tls()).unwrap();
    let f = failure(s.start(Some(ir)).unwrap());
    assert_eq!(s.failure(), Some(f));
    assert!(s.is_finished());
    // Every further call is a clean error.
    assert_eq!(s.step(b"x").unwrap_err(), Error::InvalidState);
    assert_eq!(s.answer(Answer::Accept).unwrap_err(), Error::InvalidState);
    assert_eq!(s.cancel().unwrap_err(), Error::InvalidState);
    assert!(s.request().is_none() && s.identity().is_none());
    f
}

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
        assert_eq!(start_fails(Mechanism::Plain, &msg), want, "{msg:?}");
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
        start_fails(Mechanism::CramMd5, b"tim"),
        UnexpectedInitialResponse
    );
}

#[test]
fn login_grammar() {
    let mut s = ServerSession::new(&config(), Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(None).unwrap();
    assert_eq!(failure(s.step(b"").unwrap()), Failure::Malformed); // empty user name
    let mut s = ServerSession::new(&config(), Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"tim")).unwrap();
    assert_eq!(failure(s.step(b"pa\0ss").unwrap()), Failure::Malformed); // NUL in password
    assert_eq!(start_fails(Mechanism::Login, b"t\xffm"), Failure::Malformed);
    assert_eq!(start_fails(Mechanism::Login, b""), Failure::Malformed);
}

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
            start_fails(Mechanism::XOAuth2, msg),
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

#[test]
fn base64_errors_are_typed_and_end_the_exchange() {
    for bad in [&b"=AAA"[..], b"AAA=BBB", b"dGlt\r", b"d Glt", b"dGl", b"*"] {
        let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
        assert_eq!(
            failure(s.start_b64(Some(bad)).unwrap()),
            Failure::InvalidBase64,
            "{bad:?}"
        );
        let mut s = ServerSession::new(&config(), Mechanism::Login, &Transport::tls()).unwrap();
        let _ = s.start_b64(None).unwrap();
        assert_eq!(
            failure(s.step_b64(bad).unwrap()),
            Failure::InvalidBase64,
            "{bad:?}"
        );
        assert_eq!(s.step_b64(b"dGlt").unwrap_err(), Error::InvalidState);
    }
    // The client side too.
    let creds = Credentials::new().authcid("tim").password(b"pw");
    let mut c = ClientSession::new(Mechanism::CramMd5, &creds).unwrap();
    assert_eq!(
        c.step_b64(b"=AAA").unwrap_err(),
        Error::Failed(Failure::InvalidBase64)
    );
    assert_eq!(c.step_b64(b"PDE+").unwrap_err(), Error::InvalidState);
}

#[test]
fn size_limits() {
    let config = Arc::new(ServerConfig::new().max_message(1000));
    let big = vec![b'a'; 1001];
    let mut s = ServerSession::new(&config, Mechanism::Plain, &Transport::tls()).unwrap();
    assert_eq!(failure(s.start(Some(&big)).unwrap()), Failure::TooLarge);
    let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(None).unwrap();
    assert_eq!(failure(s.step(&big).unwrap()), Failure::TooLarge);
    // Base64 text longer than the limit could decode to is refused before decoding.
    let text = vec![b'A'; 10 * 1024 * 1024];
    let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start_b64(None).unwrap();
    assert_eq!(failure(s.step_b64(&text).unwrap()), Failure::TooLarge);
    // Exactly at the limit is fine.
    let msg = [b"\0u\0".as_slice(), &vec![b'p'; 997]].concat();
    assert_eq!(msg.len(), 1000);
    let mut s = ServerSession::new(&config, Mechanism::Plain, &Transport::tls()).unwrap();
    assert!(matches!(
        s.start(Some(&msg)).unwrap(),
        ServerStep::Request(_)
    ));
    // Client side.
    let creds = Credentials::new().authcid("tim").password(b"pw");
    let mut c = ClientSession::new(Mechanism::CramMd5, &creds).unwrap();
    assert_eq!(
        c.step(&vec![b'<'; 70 * 1024]).unwrap_err(),
        Error::Failed(Failure::TooLarge)
    );
}

#[test]
fn round_trip_limit() {
    // LOGIN needs two client messages; a limit of one stops it.
    let config = Arc::new(ServerConfig::new().max_steps(1));
    let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(None).unwrap();
    assert!(matches!(s.step(b"tim").unwrap(), ServerStep::Challenge(_)));
    assert_eq!(failure(s.step(b"pw").unwrap()), Failure::TooManySteps);
}

#[test]
fn policy() {
    let config = Arc::new(ServerConfig::new().mechanisms(&[Mechanism::Plain, Mechanism::CramMd5]));
    let plain = Transport::plaintext();
    assert_eq!(
        ServerSession::new(&config, Mechanism::Plain, &plain).unwrap_err(),
        Failure::EncryptionRequired
    );
    assert_eq!(
        ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap_err(),
        Failure::MechanismUnavailable
    );
    assert!(ServerSession::new(&config, Mechanism::CramMd5, &plain).is_ok());
    let strict = Arc::new(ServerConfig::new().allow_weak(false));
    assert_eq!(
        ServerSession::new(&strict, Mechanism::CramMd5, &Transport::tls()).unwrap_err(),
        Failure::MechanismTooWeak
    );
    assert!(!strict.offered(true).any(|m| m == Mechanism::CramMd5));
    let lax = Arc::new(ServerConfig::new().allow_plaintext_without_tls(true));
    assert!(ServerSession::new(&lax, Mechanism::Plain, &plain).is_ok());
    // Everything but the -PLUS mechanisms (they need channel-binding data).
    assert_eq!(
        lax.offered(false).collect::<Vec<_>>(),
        [
            Mechanism::ScramSha256,
            Mechanism::ScramSha1,
            Mechanism::OAuthBearer,
            Mechanism::XOAuth2,
            Mechanism::CramMd5,
            Mechanism::Plain,
            Mechanism::Login
        ]
    );
    // Without TLS only what exposes no reusable secret.
    assert_eq!(
        ServerConfig::new().offered(false).collect::<Vec<_>>(),
        [
            Mechanism::ScramSha256,
            Mechanism::ScramSha1,
            Mechanism::CramMd5
        ]
    );
}

#[test]
fn misuse_is_an_error_and_changes_nothing() {
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    // Step before start.
    assert_eq!(s.step(b"x").unwrap_err(), Error::InvalidState);
    assert_eq!(s.answer(Answer::Accept).unwrap_err(), Error::InvalidState);
    assert!(matches!(
        s.start(Some(b"\0tim\0pw")).unwrap(),
        ServerStep::Request(_)
    ));
    // Start twice; step while a request waits.
    assert_eq!(s.start(None).unwrap_err(), Error::InvalidState);
    assert_eq!(s.step(b"x").unwrap_err(), Error::InvalidState);
    // The wrong kind of answer leaves the request pending.
    let keys = saslmech::CramMd5Keys::from_password(b"pw");
    assert_eq!(
        s.answer(Answer::CramMd5Keys(&keys)).unwrap_err(),
        Error::WrongAnswer
    );
    assert!(s.request().is_some());
    assert!(matches!(
        s.answer(Answer::Password(b"pw")).unwrap(),
        ServerStep::Success(_)
    ));
    // After completion everything is a clean error and the identity stays.
    assert_eq!(s.answer(Answer::Accept).unwrap_err(), Error::InvalidState);
    assert_eq!(s.step(b"").unwrap_err(), Error::InvalidState);
    assert_eq!(s.step_b64(b"").unwrap_err(), Error::InvalidState);
    assert_eq!(s.identity().unwrap().authcid(), "tim");

    // CRAM-MD5 refuses Accept (it must verify itself) and keeps waiting.
    let mut s = ServerSession::new(&config(), Mechanism::CramMd5, &Transport::tls()).unwrap();
    let _ = s.start(None).unwrap();
    let _ = s.step(b"tim 00000000000000000000000000000000").unwrap();
    assert_eq!(s.answer(Answer::Accept).unwrap_err(), Error::WrongAnswer);
    assert_eq!(
        failure(s.answer(Answer::Password(b"pw")).unwrap()),
        Failure::BadCredentials
    );

    // An Authorize request takes only Accept, Reject or TemporaryFailure.
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"other\0tim\0pw")).unwrap();
    let _ = s.answer(Answer::Accept).unwrap();
    assert_eq!(
        s.answer(Answer::Password(b"pw")).unwrap_err(),
        Error::WrongAnswer
    );
    assert_eq!(
        failure(s.answer(Answer::TemporaryFailure).unwrap()),
        Failure::TemporaryFailure
    );
}

#[test]
fn application_outcomes() {
    let cases = [
        (Answer::TemporaryFailure, Failure::TemporaryFailure),
        (Answer::AccountDisabled, Failure::AccountDisabled),
        (Answer::UnknownUser, Failure::BadCredentials),
        (Answer::Reject, Failure::BadCredentials),
        (Answer::Password(b"nope"), Failure::BadCredentials),
    ];
    for (answer, want) in cases {
        let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
        let _ = s.start(Some(b"\0tim\0pw")).unwrap();
        assert_eq!(failure(s.answer(answer).unwrap()), want);
        assert!(s.is_finished());
    }
}

#[test]
fn cancel() {
    let mut s = ServerSession::new(&config(), Mechanism::Login, &Transport::tls()).unwrap();
    let _ = s.start(None).unwrap();
    assert_eq!(s.cancel().unwrap(), Failure::Cancelled);
    assert_eq!(s.failure(), Some(Failure::Cancelled));
    assert_eq!(s.step(b"tim").unwrap_err(), Error::InvalidState);
}

#[test]
fn client_misuse() {
    // Credentials the mechanism needs are checked up front.
    let none = Credentials::new();
    // (EXTERNAL and ANONYMOUS need no credentials.)
    let needs_credentials = saslmech::ALL_MECHANISMS
        .iter()
        .filter(|m| !matches!(m, Mechanism::External | Mechanism::Anonymous));
    for m in needs_credentials {
        assert!(
            matches!(
                ClientSession::new(*m, &none),
                Err(Error::InvalidArgument(_))
            ),
            "{m}"
        );
    }
    let nul = Credentials::new().authcid("a\0b").password(b"pw");
    assert!(ClientSession::new(Mechanism::Plain, &nul).is_err());
    let bad_token = Credentials::new().authcid("u").token(b"has space");
    assert!(ClientSession::new(Mechanism::XOAuth2, &bad_token).is_err());
    let authz = Credentials::new().authcid("u").password(b"p").authzid("z");
    assert!(ClientSession::new(Mechanism::Login, &authz).is_err());
    assert!(ClientSession::new(Mechanism::CramMd5, &authz).is_err());

    let creds = Credentials::new().authcid("tim").password(b"pw");
    // PLAIN: a second challenge is a protocol error, and the session is over.
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    let _ = c.start().unwrap();
    assert_eq!(c.start().unwrap_err(), Error::InvalidState);
    assert_eq!(
        c.step(b"more?").unwrap_err(),
        Error::Failed(Failure::Malformed)
    );
    assert_eq!(c.step(b"").unwrap_err(), Error::InvalidState);
    assert_eq!(c.finish(None).unwrap_err(), Error::InvalidState);
    // LOGIN: a third prompt is an error; finishing early is an error.
    let mut c = ClientSession::new(Mechanism::Login, &creds).unwrap();
    let _ = c.step(b"Username:").unwrap();
    let _ = c.step(b"Password:").unwrap();
    assert_eq!(
        c.step(b"Again:").unwrap_err(),
        Error::Failed(Failure::Malformed)
    );
    let mut c = ClientSession::new(Mechanism::Login, &creds).unwrap();
    let _ = c.step(b"Username:").unwrap();
    assert_eq!(
        c.finish(None).unwrap_err(),
        Error::Failed(Failure::Malformed)
    );
    // Success data from a mechanism that has none is refused.
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    let _ = c.start().unwrap();
    assert_eq!(
        c.finish(Some(b"v=xyz")).unwrap_err(),
        Error::Failed(Failure::Malformed)
    );
    // XOAUTH2: a non-JSON error challenge is malformed; after acknowledging, nothing more.
    let tok = Credentials::new().authcid("u").token(b"tok");
    let mut c = ClientSession::new(Mechanism::XOAuth2, &tok).unwrap();
    let _ = c.start().unwrap();
    assert_eq!(
        c.step(b"not json").unwrap_err(),
        Error::Failed(Failure::Malformed)
    );
    let mut c = ClientSession::new(Mechanism::XOAuth2, &tok).unwrap();
    let _ = c.start().unwrap();
    assert_eq!(c.step(b"{\"status\":\"401\"}").unwrap(), b"");
    assert_eq!(
        c.step(b"{}").unwrap_err(),
        Error::Failed(Failure::Malformed)
    );
}

#[test]
fn sessions_are_owned_and_send() {
    // A session can be parked while the application's lookup runs elsewhere.
    fn owned_send<T: Send + 'static>() {}
    owned_send::<ServerSession>();
    owned_send::<ClientSession>();
    fn shared<T: Send + Sync + 'static>() {}
    shared::<ServerConfig>();

    // Park a session on its request, move it to another thread, answer there.
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    assert!(matches!(
        s.start(Some(b"\0tim\0pw")).unwrap(),
        ServerStep::Request(_)
    ));
    let handle = std::thread::spawn(move || {
        let ok = matches!(
            s.answer(Answer::Password(b"pw")).unwrap(),
            ServerStep::Success(_)
        );
        (ok, s.identity().map(|i| i.authcid().to_owned()))
    });
    assert_eq!(handle.join().unwrap(), (true, Some("tim".to_owned())));
}
