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
