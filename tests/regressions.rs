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
