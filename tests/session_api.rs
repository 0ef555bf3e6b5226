//! The session API every mechanism shares: base64 framing errors, size and round-trip
//! limits, the offering policy, the client's choice of EXTERNAL and ANONYMOUS, API misuse, the application's answers, cancelling, and
//! sessions that move between threads. Each gives its specific typed failure or error, never
//! a panic, and leaves the session consistent. (A mechanism's own grammar is in its file.)

mod support;

use std::sync::Arc;

use saslmech::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, Credentials, Error, Failure,
    Mechanism, NonceSource, SelectOptions, ServerConfig, ServerSession, ServerStep, Transport,
    select,
};
use support::failure;

fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new().nonce_source(NonceSource::Fixed(b"1.2".to_vec())))
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

/// EXTERNAL and ANONYMOUS are chosen from a server's list only when the client asks for them.
#[test]
fn selected_only_when_asked() {
    let adv = ["EXTERNAL", "ANONYMOUS", "PLAIN"];
    assert_eq!(
        select(adv, SelectOptions::password(true)),
        Some(Mechanism::Plain)
    );
    assert_eq!(
        select(adv, SelectOptions::default().external(true)),
        Some(Mechanism::External)
    );
    assert_eq!(
        select(adv, SelectOptions::default().anonymous(true)),
        Some(Mechanism::Anonymous)
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

// ---- Bugs the fuzz targets found in every mechanism's client (the inputs are
// `fuzz/corpus/*/regress-step-b64-*`) ----

/// Credentials every mechanism's client accepts.
fn creds() -> Credentials<'static> {
    Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf")
        .token(b"ya29.token")
}

/// A client configuration for `m` (channel binding for `-PLUS` only: a plain SCRAM client
/// with binding data would rightly be refused as a downgrade), cheap SCRAM.
fn client_config(m: Mechanism, max_challenge: usize) -> ClientConfig {
    let mut c = ClientConfig::new().scram_iterations(1, 4096);
    if m.channel_binding() {
        c = c.channel_binding(ChannelBindingType::TlsExporter, &[7; 32]);
    }
    c.max_challenge = max_challenge;
    c
}

/// A client that completed a real exchange with the engine's server (so `is_finished`).
fn finished_client(m: Mechanism, config: &ClientConfig) -> ClientSession {
    let mut c = ClientSession::with_config(m, &creds(), config).unwrap();
    let server_config = Arc::new(
        ServerConfig::new()
            .mechanisms(saslmech::ALL_MECHANISMS)
            .scram_iterations(1),
    );
    let transport = Transport::tls()
        .with_channel_binding(ChannelBindingType::TlsExporter, &[7; 32])
        .with_external_identity("tim");
    let mut s = ServerSession::new(&server_config, m, &transport).unwrap();
    let ir = c.start().unwrap().map(<[u8]>::to_vec);
    let mut step = s.start(ir.as_deref()).unwrap();
    loop {
        step = match step {
            ServerStep::Challenge(ch) => {
                let r = c.step(ch).unwrap().to_vec();
                s.step(&r).unwrap()
            }
            ServerStep::Request(saslmech::Request::VerifyPassword(_))
            | ServerStep::Request(saslmech::Request::Secret(_)) => {
                s.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap()
            }
            ServerStep::Request(saslmech::Request::ValidateToken(t)) => {
                let owner = t.user().to_owned();
                s.answer(Answer::TokenOwner(&owner)).unwrap()
            }
            ServerStep::Request(_) => s.answer(Answer::Accept).unwrap(),
            ServerStep::Success(ok) => {
                c.finish(ok.data).unwrap();
                break;
            }
            other => panic!("{m}: {other:?}"),
        };
    }
    assert!(c.is_finished(), "{m}");
    c
}

/// `ClientSession::step_b64` checked the challenge's size before the session's state: after
/// the end an oversized challenge gave `Failed(TooLarge)` instead of `InvalidState`, and
/// turned a finished session into a failed one.
#[test]
fn client_step_b64_after_the_end_is_invalid_state() {
    for m in saslmech::ALL_MECHANISMS {
        let config = client_config(*m, 16);
        let big = vec![b'A'; 880];
        // Failed, then called again.
        let mut c = ClientSession::with_config(*m, &creds(), &config).unwrap();
        assert_eq!(c.step_b64(&big), Err(Error::Failed(Failure::TooLarge)));
        assert_eq!(c.step_b64(&big), Err(Error::InvalidState), "{m}");
        // Finished (a whole exchange, with challenges up to the default size), then called
        // again with a challenge over the limit: still finished.
        let mut c = finished_client(*m, &client_config(*m, ClientConfig::new().max_challenge));
        let huge = vec![b'A'; 4 * ClientConfig::new().max_challenge];
        assert_eq!(c.step_b64(&huge), Err(Error::InvalidState), "{m}");
        assert!(c.is_finished(), "{m}: a refused call changed the session");
    }
}

/// `ClientSession::step_b64` bounded the base64 text, not the decoded challenge: a challenge
/// up to two bytes over `max_challenge` reached the mechanism (which then failed with
/// `Malformed`, or answered it). Now it is `TooLarge`, exactly as on the raw path.
#[test]
fn client_step_b64_bounds_the_decoded_challenge() {
    let creds = creds();
    // 24 characters of base64 (the encoded length of 16 bytes) decoding to 18 bytes.
    let text = b"PDEuMjM0NTY3ODlAaG9zdD4=";
    assert_eq!(saslmech::b64::decode(text).unwrap().len(), 17);
    let text18 = b"PDEuMjM0NTY3ODkwQGhvc3Q+";
    assert_eq!(saslmech::b64::decode(text18).unwrap().len(), 18);
    for m in saslmech::ALL_MECHANISMS {
        let config = client_config(*m, 16);
        for t in [&text[..], &text18[..]] {
            let mut c = ClientSession::with_config(*m, &creds, &config).unwrap();
            assert_eq!(c.step_b64(t), Err(Error::Failed(Failure::TooLarge)), "{m}");
            let raw = saslmech::b64::decode(t).unwrap();
            let mut c = ClientSession::with_config(*m, &creds, &config).unwrap();
            assert_eq!(
                c.step(raw.as_slice()),
                Err(Error::Failed(Failure::TooLarge)),
                "{m}"
            );
        }
    }
    // At the limit it is answered.
    let config = client_config(Mechanism::CramMd5, 16);
    let mut c = ClientSession::with_config(Mechanism::CramMd5, &creds, &config).unwrap();
    assert!(c.step_b64(b"PDEyMzQ1Njc4OUBob3N0Pg==").is_ok());
}
