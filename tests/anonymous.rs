//! ANONYMOUS (RFC 4505): the RFC's example, the trace rules, pairs, and a property test.

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::{
    Answer, ClientConfig, ClientSession, Credentials, Error, Failure, Mechanism, ServerConfig,
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

/// A connection with a client certificate: ANONYMOUS ignores it.
fn cert() -> Transport {
    Transport::tls().with_external_identity("fred@example.com")
}

#[test]
fn anonymous_rfc4505_example() {
    // `AUTHENTICATE ANONYMOUS`, `+`, `c2lyaGM=` ("sirhc").
    let mut s =
        ServerSession::new(&config(), Mechanism::Anonymous, &Transport::plaintext()).unwrap();
    assert_eq!(own(s.start_b64(None).unwrap()), Out::Challenge(Vec::new()));
    assert_eq!(
        own(s.step_b64(b"c2lyaGM=").unwrap()),
        Out::Success {
            authcid: "anonymous".into(),
            authzid: None,
            data: None
        }
    );
    assert_eq!(s.anonymous_trace(), Some("sirhc"));
    // The client produces the same token.
    let creds = Credentials::new().trace("sirhc");
    let mut c = ClientSession::new(Mechanism::Anonymous, &creds).unwrap();
    assert_eq!(c.start().unwrap(), Some(&b"sirhc"[..]));
    c.finish(None).unwrap();
}

#[test]
fn anonymous_trace_rules() {
    let start = |trace: &[u8]| {
        let mut s =
            ServerSession::new(&config(), Mechanism::Anonymous, &Transport::plaintext()).unwrap();
        let out = own(s.start(Some(trace)).unwrap());
        (out, s.anonymous_trace().map(str::to_owned))
    };
    // Empty is allowed; 255 characters (not octets) is the limit.
    assert_eq!(start(b"").1.as_deref(), Some(""));
    let max: String = "é".repeat(255);
    assert_eq!(start(max.as_bytes()).1.as_deref(), Some(max.as_str()));
    assert_eq!(
        start("é".repeat(256).as_bytes()).0,
        Out::Failure(Failure::TooLarge)
    );
    assert!(matches!(start(b"user@example.com").0, Out::Success { .. }));
    for bad in [&b"a\0b"[..], b"a\nb", b"\xff"] {
        assert_eq!(start(bad).0, Out::Failure(Failure::Malformed), "{bad:?}");
    }
    // The identity is never the trace: "postmaster" as a trace is still anonymous.
    assert_eq!(
        start(b"postmaster").0,
        Out::Success {
            authcid: "anonymous".into(),
            authzid: None,
            data: None
        }
    );
    // Off unless listed.
    let default = Arc::new(ServerConfig::new());
    assert_eq!(
        ServerSession::new(&default, Mechanism::Anonymous, &Transport::tls()).unwrap_err(),
        Failure::MechanismUnavailable
    );
    assert!(!default.offered(true).any(|m| m == Mechanism::Anonymous));
    // The client refuses a trace it may not send.
    for bad in ["x".repeat(256), "a\nb".to_owned()] {
        let creds = Credentials::new().trace(&bad);
        assert!(matches!(
            ClientSession::new(Mechanism::Anonymous, &creds),
            Err(Error::InvalidArgument(_))
        ));
    }
}

#[test]
fn anonymous_pairs() {
    for success_data in [true, false] {
        for trace in ["", "sirhc", "user@example.com"] {
            let creds = Credentials::new().trace(trace);
            let o = pair(
                Mechanism::Anonymous,
                &creds,
                &ClientConfig::new(),
                ServerConfig::new().mechanisms(&[Mechanism::Anonymous]),
                &Transport::plaintext().with_success_data(success_data),
                |req| -> Answer<'static> { panic!("{req:?}") },
            );
            assert_eq!(o.server, Ok(("anonymous".into(), None)));
            o.client.unwrap();
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(a in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut s = ServerSession::new(&config(), Mechanism::Anonymous, &cert()).unwrap();
        let out = own(s.start(Some(&a)).unwrap());
        match out {
            Out::Success { authcid, .. } => {
                prop_assert_eq!(authcid, "anonymous");
            }
            Out::Request => prop_assert!(false, "ANONYMOUS asks nothing"),
            Out::Failure(_) => {}
            Out::Challenge(_) => prop_assert!(false, "no challenge after a message"),
        }
    }
}
