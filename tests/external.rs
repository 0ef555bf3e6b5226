//! EXTERNAL (RFC 4422 Appendix A): the RFC's example, the identity from the transport, the
//! authorization identity through `Authorize`, the listing rules, pairs, and a property test.

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::{
    Answer, ClientConfig, ClientSession, Credentials, Failure, Mechanism, Request, ServerConfig,
    ServerSession, Transport,
};
use support::exchange::pair;
use support::{Out, own};

/// EXTERNAL and ANONYMOUS enabled next to PLAIN.
fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new().mechanisms(&[
        Mechanism::External,
        Mechanism::Anonymous,
        Mechanism::Plain,
    ]))
}

fn cert() -> Transport {
    Transport::tls().with_external_identity("fred@example.com")
}

#[test]
fn external_rfc4422_example_1_empty_response() {
    // `AUTHENTICATE EXTERNAL`, `+ ""`, `+ ""`: the derived identity.
    let mut s = ServerSession::new(&config(), Mechanism::External, &cert()).unwrap();
    assert_eq!(own(s.start(None).unwrap()), Out::Challenge(Vec::new()));
    assert_eq!(
        own(s.step(b"").unwrap()),
        Out::Success {
            authcid: "fred@example.com".into(),
            authzid: None,
            data: None
        }
    );
    // SMTP `AUTH EXTERNAL =`: an empty initial response, in base64.
    let mut s = ServerSession::new(&config(), Mechanism::External, &cert()).unwrap();
    assert!(matches!(
        own(s.start_b64(Some(b"")).unwrap()),
        Out::Success { .. }
    ));
    // The client: an empty initial response.
    let mut c = ClientSession::new(Mechanism::External, &Credentials::new()).unwrap();
    assert_eq!(c.start_b64().unwrap(), Some(&b""[..]));
    c.finish(None).unwrap();
}

#[test]
fn external_authzid_goes_through_authorize() {
    for (decision, expected) in [
        (Answer::Accept, Ok(())),
        (Answer::Reject, Err(Failure::AuthzDenied)),
    ] {
        let mut s = ServerSession::new(&config(), Mechanism::External, &cert()).unwrap();
        assert_eq!(own(s.start(Some(b"postmaster")).unwrap()), Out::Request);
        match s.request().unwrap() {
            Request::Authorize(a) => {
                assert_eq!(a.authcid(), "fred@example.com");
                assert_eq!(a.authzid(), "postmaster");
            }
            other => panic!("{other:?}"),
        }
        let out = own(s.answer(decision).unwrap());
        match expected {
            Ok(()) => assert_eq!(
                out,
                Out::Success {
                    authcid: "fred@example.com".into(),
                    authzid: Some("postmaster".into()),
                    data: None
                }
            ),
            Err(f) => assert_eq!(out, Out::Failure(f)),
        }
    }
    // The authzid equal to the derived identity needs no decision.
    let mut s = ServerSession::new(&config(), Mechanism::External, &cert()).unwrap();
    assert!(matches!(
        own(s.start(Some(b"fred@example.com")).unwrap()),
        Out::Success { .. }
    ));
    // Malformed authzids.
    for bad in [&b"a\0b"[..], b"\xff"] {
        let mut s = ServerSession::new(&config(), Mechanism::External, &cert()).unwrap();
        assert_eq!(
            own(s.start(Some(bad)).unwrap()),
            Out::Failure(Failure::Malformed)
        );
    }
    let long = vec![b'a'; 5000];
    let mut s = ServerSession::new(&config(), Mechanism::External, &cert()).unwrap();
    assert_eq!(
        own(s.start(Some(&long)).unwrap()),
        Out::Failure(Failure::TooLarge)
    );
}

#[test]
fn external_needs_an_identity_and_a_listing() {
    let no_cert = Transport::tls();
    assert_eq!(
        ServerSession::new(&config(), Mechanism::External, &no_cert).unwrap_err(),
        Failure::MechanismUnavailable
    );
    let offered: Vec<_> = config().offered_on(&no_cert).collect();
    assert!(!offered.contains(&Mechanism::External));
    let offered: Vec<_> = config().offered_on(&cert()).collect();
    assert!(offered.contains(&Mechanism::External));
    // Not enabled by default.
    let default = Arc::new(ServerConfig::new());
    assert_eq!(
        ServerSession::new(&default, Mechanism::External, &cert()).unwrap_err(),
        Failure::MechanismUnavailable
    );
}

#[test]
fn external_pairs() {
    for success_data in [true, false] {
        for authzid in [None, Some("fred@example.com"), Some("other")] {
            let mut creds = Credentials::new();
            if let Some(z) = authzid {
                creds = creds.authzid(z);
            }
            let o = pair(
                Mechanism::External,
                &creds,
                &ClientConfig::new(),
                ServerConfig::new().mechanisms(&[Mechanism::External]),
                &cert().with_success_data(success_data),
                |req| match req {
                    Request::Authorize(a) if a.authzid() == "other" => Answer::Reject,
                    other => panic!("{other:?}"),
                },
            );
            if authzid == Some("other") {
                assert_eq!(o.server, Err(Failure::AuthzDenied));
            } else {
                assert_eq!(o.server.unwrap().0, "fred@example.com");
                o.client.unwrap();
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(a in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut s = ServerSession::new(&config(), Mechanism::External, &cert()).unwrap();
        let out = own(s.start(Some(&a)).unwrap());
        match out {
            Out::Success { authcid, .. } => {
                prop_assert_eq!(authcid, "fred@example.com");
            }
            Out::Request => {
                let out = own(s.answer(Answer::Reject).unwrap());
                prop_assert_eq!(out, Out::Failure(Failure::AuthzDenied));
            }
            Out::Failure(_) => {}
            Out::Challenge(_) => prop_assert!(false, "no challenge after a message"),
        }
    }
}
