//! # saslmech
//!
//! A SASL mechanism engine for mail servers and clients, with no I/O: pure state machines
//! that take bytes and return what to do next. Where the server needs the application (check
//! a password, fetch a secret, validate a token, authorize an identity) the session returns a
//! [`Request`] and waits for [`ServerSession::answer`], which may come much later, from an
//! event loop, after an asynchronous lookup. Nothing calls back into the application.
//!
//! Mechanisms, client and server: SCRAM-SHA-256, SCRAM-SHA-512, SCRAM-SHA-1 and their `-PLUS`
//! variants with channel binding, OAUTHBEARER, XOAUTH2, CRAM-MD5, PLAIN, LOGIN, EXTERNAL and
//! ANONYMOUS.
//!
//! ## A server drive loop
//!
//! ```
//! use std::sync::Arc;
//! use saslmech::{Answer, Failure, Mechanism, Request, ServerConfig, ServerSession, ServerStep, Transport};
//!
//! // Shared by all sessions.
//! let config = Arc::new(ServerConfig::new().hostname("mx.example.com"));
//!
//! // The client said `AUTH LOGIN` on a TLS connection; its responses arrive as base64 lines.
//! let mut client_lines = ["dGlt", "dGFuc3RhYWZ0YW5zdGFhZg=="].into_iter();
//! let mut session = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
//! let mut step = session.start_b64(None).unwrap();
//! let verdict = loop {
//!     match step {
//!         ServerStep::Challenge(b64) => {
//!             // Send `334 <b64>` and read the client's next line.
//!             assert!(b64 == b"VXNlcm5hbWU6" || b64 == b"UGFzc3dvcmQ6");
//!             let line = client_lines.next().unwrap();
//!             step = session.step_b64(line.as_bytes()).unwrap();
//!         }
//!         ServerStep::Request(Request::VerifyPassword(req)) => {
//!             // Here an event-loop server would start its lookup and come back later;
//!             // the session holds everything it needs meanwhile.
//!             step = if req.authcid() == "tim" {
//!                 session.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap()
//!             } else {
//!                 session.answer(Answer::UnknownUser).unwrap()
//!             };
//!         }
//!         ServerStep::Request(_) => {
//!             step = session.answer(Answer::Reject).unwrap();
//!         }
//!         ServerStep::Success(ok) => break Ok(ok.identity.authcid().to_owned()),
//!         ServerStep::Failure(f) => break Err(f),
//!         _ => break Err(Failure::Malformed),
//!     }
//! };
//! assert_eq!(verdict, Ok("tim".to_owned()));
//! ```
//!
//! ## A client
//!
//! ```
//! use saslmech::{ClientSession, Credentials, Mechanism};
//!
//! let creds = Credentials::new().authcid("test").password(b"1234").authzid("test");
//! let mut client = ClientSession::new(Mechanism::Plain, &creds).unwrap();
//! // `Some` initial response: send `AUTH PLAIN <base64>`.
//! assert_eq!(client.start_b64().unwrap(), Some(&b"dGVzdAB0ZXN0ADEyMzQ="[..]));
//! // The server answered 235: tell the client.
//! client.finish(None).unwrap();
//! ```
//!
//! ## Invariants
//!
//! * Every buffer that holds a secret is wiped when dropped; `Debug` never prints secrets.
//! * Secrets are compared in constant time.
//! * Input from the peer never causes a panic: bad input ends the exchange with a typed
//!   [`Failure`]; misuse of the API returns an [`Error`] and leaves the session as it was.
//! * Every input is bounded ([`ServerConfig::max_message`], [`ServerConfig::max_steps`],
//!   [`ServerConfig::max_identity`]).
//!
//! See `ARCHITECTURE.md` for how the pieces fit, including how SCRAM, OAUTHBEARER, EXTERNAL
//! and ANONYMOUS fit the same shape.

// No module may use `unsafe` except the C ABI (`ffi`, built only with the `capi` feature),
// which allows it for itself and justifies every block. Without `capi` the whole crate forbids
// it; with `capi` the crate denies it and each other module forbids it again below.
#![cfg_attr(not(feature = "capi"), forbid(unsafe_code))]
#![cfg_attr(feature = "capi", deny(unsafe_code))]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

// The modules, bottom layer first (imports only run downwards; `tests/layers.rs` checks it):
// primitives (`error`, `secret`, `b64`, `saslprep`, `crypto`), vocabulary (`mechanism`,
// `channel_binding`, `nonce`, `keys`, `request`, `config`, `credentials`), mechanisms
// (`mech`), sessions (`server`, `client`), adapters (`proto`), the C ABI (`ffi`).
#[forbid(unsafe_code)]
pub mod b64;
#[forbid(unsafe_code)]
mod channel_binding;
#[forbid(unsafe_code)]
mod client;
#[forbid(unsafe_code)]
mod config;
#[forbid(unsafe_code)]
mod credentials;
#[forbid(unsafe_code)]
mod crypto;
#[forbid(unsafe_code)]
mod error;
#[cfg(feature = "capi")]
#[allow(unsafe_code)]
pub mod ffi;
#[forbid(unsafe_code)]
mod keys;
#[forbid(unsafe_code)]
mod mech;
#[forbid(unsafe_code)]
mod mechanism;
#[forbid(unsafe_code)]
mod nonce;
#[forbid(unsafe_code)]
pub mod proto;
#[forbid(unsafe_code)]
mod request;
#[forbid(unsafe_code)]
pub mod saslprep;
#[forbid(unsafe_code)]
mod secret;
#[forbid(unsafe_code)]
mod server;

pub use channel_binding::{ChannelBinding, ChannelBindingType};
pub use client::ClientSession;
pub use config::{ClientConfig, SecretStorage, ServerConfig, Transport};
pub use credentials::Credentials;
pub use error::{Error, Failure};
pub use keys::{CramMd5Keys, ScramClientCache, ScramHash, ScramKeys};
pub use mech::OAuthError;
/// GSSAPI's and GS2-KRB5's own framing (feature `gssapi`), public for the fuzz targets and
/// for applications that log or inspect it.
#[cfg(feature = "gssapi")]
pub use mech::gssapi::framing as gssapi_framing;
#[cfg(feature = "gssapi")]
pub use mechanism::KERBEROS as KERBEROS_MECHANISMS;
pub use mechanism::{ALL as ALL_MECHANISMS, Mechanism, SelectOptions, UnknownMechanism, select};
pub use nonce::NonceSource;
#[cfg(feature = "gssapi")]
pub use request::PrincipalRequest;
pub use request::{
    Answer, AuthorizeRequest, Identity, PasswordRequest, Request, SecretRequest, TokenError,
    TokenRequest,
};
pub use secret::{SecretBuf, ct_eq, ct_eq_password};
pub use server::{ServerSession, ServerStep, Success};
