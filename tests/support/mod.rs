//! The helpers the integration tests share; a test file takes them with `mod support;`.
//!
//! - this file: a server step with its borrows copied out ([`Out`], [`own`], [`challenge`],
//!   [`failure`]), a first message that must fail ([`start_fails`]) and hex for test vectors
//!   ([`hex`], [`to_hex`]);
//! - [`exchange`]: the engine's client against its server in memory, answering requests from a
//!   closure or from a user table;
//! - [`props`]: the pair and property tests the PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 files share;
//! - [`adapters`]: an SMTP, IMAP or POP3 client adapter against a server adapter, line by line;
//! - [`capi`]: for the tests that build and run C (`capi_*`, `bench_compare_smoke`): the C
//!   libraries built for this test run, `bindings/c/Makefile`, programs run with timeouts.
//!
//! Each test binary uses a different subset, hence `allow(dead_code)` for the whole module.
#![allow(dead_code)]

pub mod adapters;
pub mod capi;
pub mod exchange;
pub mod kdc;
pub mod props;

use std::sync::Arc;

use saslmech::{
    Answer, Error, Failure, Mechanism, ServerConfig, ServerSession, ServerStep, Transport,
};

/// A server step with its borrows copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Challenge(Vec<u8>),
    Request,
    Success {
        authcid: String,
        authzid: Option<String>,
        data: Option<Vec<u8>>,
    },
    Failure(Failure),
}

pub fn own(step: ServerStep<'_>) -> Out {
    match step {
        ServerStep::Challenge(c) => Out::Challenge(c.to_vec()),
        ServerStep::Request(_) => Out::Request,
        ServerStep::Success(ok) => Out::Success {
            authcid: ok.identity.authcid().to_owned(),
            authzid: ok.identity.authzid().map(str::to_owned),
            data: ok.data.map(<[u8]>::to_vec),
        },
        ServerStep::Failure(f) => Out::Failure(f),
        other => panic!("unexpected step {other:?}"),
    }
}

/// The challenge of a step that must be one.
pub fn challenge(step: ServerStep<'_>) -> Vec<u8> {
    match step {
        ServerStep::Challenge(c) => c.to_vec(),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// The failure of a step that must be one.
pub fn failure(step: ServerStep<'_>) -> Failure {
    match step {
        ServerStep::Failure(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Hex digits to bytes.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Bytes to lower-case hex digits.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Start `mech` with the initial response `ir` and return the failure it must produce; the
/// session is then over and every further call is a clean error.
pub fn start_fails(config: &Arc<ServerConfig>, mech: Mechanism, ir: &[u8]) -> Failure {
    let mut s = ServerSession::new(config, mech, &Transport::tls()).unwrap();
    let f = failure(s.start(Some(ir)).unwrap());
    assert_eq!(s.failure(), Some(f));
    assert!(s.is_finished());
    assert_eq!(s.step(b"x").unwrap_err(), Error::InvalidState);
    assert_eq!(s.answer(Answer::Accept).unwrap_err(), Error::InvalidState);
    assert_eq!(s.cancel().unwrap_err(), Error::InvalidState);
    assert!(s.request().is_none() && s.identity().is_none());
    f
}
