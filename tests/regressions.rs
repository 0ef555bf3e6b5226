//! Bugs the fuzz targets found, one test each (the inputs are in `fuzz/corpus/*/regress-*`).

use saslmech::{ClientConfig, ClientSession, Credentials, Error, Failure, Mechanism};

/// `ClientSession::step_b64` checked the challenge's size before the session's state: after
/// the end an oversized challenge gave `Failed(TooLarge)` instead of `InvalidState`, and
/// turned a finished session into a failed one.
#[test]
fn client_step_b64_after_the_end_is_invalid_state() {
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf")
        .token(b"ya29.token");
    for m in saslmech::ALL_MECHANISMS {
        let mut config = ClientConfig::default();
        config.max_challenge = 16;
        let big = vec![b'A'; 880];
        // Failed, then called again.
        let mut c = ClientSession::with_config(*m, &creds, &config).unwrap();
        assert_eq!(c.step_b64(&big), Err(Error::Failed(Failure::TooLarge)));
        assert_eq!(c.step_b64(&big), Err(Error::InvalidState), "{m}");
        // Finished, then called again: still finished.
        let mut c = ClientSession::with_config(*m, &creds, &config).unwrap();
        let _ = c.start();
        if *m == Mechanism::Login {
            c.step(b"Username:").unwrap();
            c.step(b"Password:").unwrap();
        } else if *m == Mechanism::CramMd5 {
            c.step(b"<1.2@h>").unwrap();
        }
        c.finish(None).unwrap();
        assert_eq!(c.step_b64(&big), Err(Error::InvalidState), "{m}");
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
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf")
        .token(b"ya29.token");
    let mut config = ClientConfig::default();
    config.max_challenge = 16;
    // 24 characters of base64 (the encoded length of 16 bytes) decoding to 18 bytes.
    let text = b"PDEuMjM0NTY3ODlAaG9zdD4=";
    assert_eq!(saslmech::b64::decode(text).unwrap().len(), 17);
    let text18 = b"PDEuMjM0NTY3ODkwQGhvc3Q+";
    assert_eq!(saslmech::b64::decode(text18).unwrap().len(), 18);
    for m in saslmech::ALL_MECHANISMS {
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
    let mut c = ClientSession::with_config(Mechanism::CramMd5, &creds, &config).unwrap();
    assert!(c.step_b64(b"PDEyMzQ1Njc4OUBob3N0Pg==").is_ok());
}
