//! Bugs the fuzz targets found, one test each (the inputs are in `fuzz/corpus/*/regress-*`).

use std::sync::Arc;

use saslmech::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, Credentials, Error, Failure,
    Mechanism, ServerConfig, ServerSession, ServerStep, Transport,
};

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

/// Found by the differential campaign (`corpus/differential/regress-scram-empty-prepared-name`):
/// a SCRAM client whose user name SASLprep maps to nothing (U+00AD SOFT HYPHEN) sent `n=,`,
/// which the server refused as `Malformed` after a wasted round trip. The client now refuses
/// such a name when it is made, with a typed error; the name's other characters still count.
#[test]
fn scram_client_refuses_a_name_saslprep_maps_to_nothing() {
    for m in saslmech::ALL_MECHANISMS.iter().filter(|m| m.is_scram()) {
        let config = saslmech::ClientConfig::new()
            .channel_binding(saslmech::ChannelBindingType::TlsExporter, &[7; 32]);
        for name in ["\u{AD}", "\u{AD}\u{200B}", "\u{FE0F}"] {
            let creds = Credentials::new().authcid(name).password(b"pencil");
            assert!(
                matches!(
                    ClientSession::with_config(*m, &creds, &config),
                    Err(Error::InvalidArgument(_))
                ),
                "{m} {name:?}"
            );
        }
        let creds = Credentials::new().authcid("u\u{AD}ser").password(b"pencil");
        let mut c = ClientSession::with_config(*m, &creds, &config).unwrap();
        let first = c.start().unwrap().unwrap().to_vec();
        assert!(
            first.windows(7).any(|w| w == b",n=user"),
            "{m}: {:?}",
            String::from_utf8_lossy(&first)
        );
    }
}
