//! `ServerSession::last_message`: the bytes the last call returned to send, asked for again
//! (the C API hands them out this way instead of copying them).

use std::sync::Arc;

use saslmech::{
    Answer, ClientConfig, ClientSession, Credentials, Error, Mechanism, ScramHash, ScramKeys,
    ServerConfig, ServerSession, ServerStep, Transport,
};

fn config() -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::new()
            .mechanisms(saslmech::ALL_MECHANISMS)
            .scram_iterations(16),
    )
}

/// The bytes a step carries to the client, if any.
fn sent<'a>(step: &ServerStep<'a>) -> Option<Vec<u8>> {
    match step {
        ServerStep::Challenge(c) => Some(c.to_vec()),
        ServerStep::Success(s) => s.data.map(<[u8]>::to_vec),
        _ => None,
    }
}

#[test]
fn login_raw_and_base64() {
    let config = config();
    for b64 in [false, true] {
        let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
        assert_eq!(s.last_message(), None, "nothing before the start");
        let step = if b64 {
            s.start_b64(None)
        } else {
            s.start(None)
        }
        .unwrap();
        let expect: &[u8] = if b64 { b"VXNlcm5hbWU6" } else { b"Username:" };
        assert_eq!(sent(&step).as_deref(), Some(expect));
        assert_eq!(s.last_message(), Some(expect));
        // A refused call (an answer while no request waits) leaves it as it was.
        assert_eq!(s.answer(Answer::Accept).err(), Some(Error::InvalidState));
        assert_eq!(s.last_message(), Some(expect));
        let step = if b64 {
            s.step_b64(b"dGlt")
        } else {
            s.step(b"tim")
        }
        .unwrap();
        let expect: &[u8] = if b64 { b"UGFzc3dvcmQ6" } else { b"Password:" };
        assert_eq!(sent(&step).as_deref(), Some(expect));
        assert_eq!(s.last_message(), Some(expect));
        let step = if b64 {
            s.step_b64(b"cHc=")
        } else {
            s.step(b"pw")
        }
        .unwrap();
        assert!(matches!(step, ServerStep::Request(_)));
        assert_eq!(s.last_message(), None, "a request sends nothing");
        let step = s.answer(Answer::Password(b"pw")).unwrap();
        assert!(matches!(step, ServerStep::Success(_)));
        assert_eq!(s.last_message(), None, "success without data");
    }
}

#[test]
fn cram_md5_challenge_and_failure() {
    let config = config();
    let mut s = ServerSession::new(&config, Mechanism::CramMd5, &Transport::tls()).unwrap();
    let challenge = sent(&s.start(None).unwrap()).unwrap();
    assert!(challenge.starts_with(b"<"));
    assert_eq!(s.last_message(), Some(&challenge[..]));
    // Malformed response: the exchange fails, nothing to send.
    assert!(matches!(
        s.step(b"no digest").unwrap(),
        ServerStep::Failure(_)
    ));
    assert_eq!(s.last_message(), None);
    // Cancel ends with nothing to send too.
    let mut s = ServerSession::new(&config, Mechanism::CramMd5, &Transport::tls()).unwrap();
    assert!(matches!(
        s.start_b64(None).unwrap(),
        ServerStep::Challenge(_)
    ));
    assert!(s.last_message().is_some_and(|m| !m.is_empty()));
    s.cancel().unwrap();
    assert_eq!(s.last_message(), None);
}

/// SCRAM's server-final as success data, and as a final challenge where the protocol cannot
/// carry success data; raw and base64.
#[test]
fn scram_server_final_as_data_and_as_challenge() {
    let config = config();
    let keys = ScramKeys::derive(ScramHash::Sha256, b"pencil", b"salt", 16).unwrap();
    for (success_data, b64) in [(true, false), (true, true), (false, false), (false, true)] {
        let creds = Credentials::new().authcid("user").password(b"pencil");
        // The server's test keys have 16 iterations: let the client accept that.
        let cc = ClientConfig::new().scram_iterations(1, 4096);
        let mut c = ClientSession::with_config(Mechanism::ScramSha256, &creds, &cc).unwrap();
        let transport = Transport::tls().with_success_data(success_data);
        let mut s = ServerSession::new(&config, Mechanism::ScramSha256, &transport).unwrap();
        let first = c.start().unwrap().unwrap().to_vec();
        let first = if b64 {
            saslmech::b64::encode(&first).into_bytes()
        } else {
            first
        };
        let step = if b64 {
            s.start_b64(Some(&first))
        } else {
            s.start(Some(&first))
        }
        .unwrap();
        assert!(matches!(step, ServerStep::Request(_)));
        assert_eq!(s.last_message(), None);
        let step = if b64 {
            s.answer_b64(Answer::ScramKeys(&keys))
        } else {
            s.answer(Answer::ScramKeys(&keys))
        }
        .unwrap();
        let server_first = sent(&step).unwrap();
        assert_eq!(s.last_message(), Some(&server_first[..]));
        let raw_first = if b64 {
            saslmech::b64::decode(&server_first)
                .unwrap()
                .as_slice()
                .to_vec()
        } else {
            server_first.clone()
        };
        let last = c.step(&raw_first).unwrap().to_vec();
        let last = if b64 {
            saslmech::b64::encode(&last).into_bytes()
        } else {
            last
        };
        let step = if b64 {
            s.step_b64(&last)
        } else {
            s.step(&last)
        }
        .unwrap();
        let server_final = sent(&step).unwrap();
        assert!(matches!(
            (&step, success_data),
            (ServerStep::Success(_), true) | (ServerStep::Challenge(_), false)
        ));
        assert_eq!(s.last_message(), Some(&server_final[..]));
        let expect_prefix: &[u8] = if b64 { b"dj" } else { b"v=" }; // "dj" starts base64 "v="
        assert!(
            server_final.starts_with(expect_prefix),
            "{success_data} {b64} {:?}",
            String::from_utf8_lossy(&server_final)
        );
        if !success_data {
            // The client's empty acknowledgement: success, nothing more to send.
            let step = if b64 { s.step_b64(b"") } else { s.step(b"") }.unwrap();
            assert!(matches!(step, ServerStep::Success(_)));
            assert_eq!(s.last_message(), None);
        }
    }
}
