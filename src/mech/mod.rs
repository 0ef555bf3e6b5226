//! The mechanisms, one folder or file each, and the contract they keep with the sessions.
//!
//! A server mechanism implements [`ServerMechanism`], a client mechanism
//! [`ClientMechanism`]. [`crate::ServerSession`] has already enforced the size and
//! round-trip limits and the session's own state, so a mechanism sees only well-ordered
//! calls: `start` once, then `step` after each challenge and `answer` after each request;
//! each returns a [`Next`]. The sessions hold the mechanism as an enum ([`Server`],
//! [`Client`]) stored inline, whose methods forward through the trait: no box, no
//! allocation, and one `match` per call.
//!
//! Mechanisms import only the vocabulary (`request`, `config`, `credentials`, `keys`,
//! `channel_binding`, `nonce`) and the primitives below it, never the sessions
//! (`tests/layers.rs`).

use std::sync::Arc;

use crate::config::{ClientConfig, ServerConfig, Transport};
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::keys::ScramClientCache;
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, Request};
use crate::secret::SecretBuf;

pub mod anonymous;
pub mod cram_md5;
pub mod external;
#[cfg(feature = "gssapi")]
pub mod gssapi;
pub mod login;
pub(crate) mod oauth;
pub mod oauthbearer;
pub mod plain;
pub mod scram;
pub mod xoauth2;

pub use oauth::OAuthError;

#[cfg(test)]
mod same_work_tests;

/// The server side of a mechanism.
///
/// Every method is called only in the order the session allows; `out` is the session's
/// output buffer, which holds the challenge or success data a call produced and which the
/// mechanism owns between calls (SCRAM keeps server-first there until client-final).
pub(crate) trait ServerMechanism {
    /// The client chose this mechanism, with or without an initial response (`Some(b"")` is
    /// an empty one).
    fn start(&mut self, config: &ServerConfig, out: &mut SecretBuf, ir: Option<&[u8]>) -> Next;
    /// The client's response to the last challenge.
    fn step(&mut self, config: &ServerConfig, out: &mut SecretBuf, response: &[u8]) -> Next;
    /// The application's answer to [`request`](Self::request). A misfit answer is an
    /// [`Error`] and changes nothing.
    fn answer(&mut self, out: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error>;
    /// What the mechanism asks, after it returned [`Next::Request`].
    fn request(&self, mechanism: Mechanism) -> Option<Request<'_>>;
    /// Who authenticated, after success.
    fn identity(&self) -> Option<Identity<'_>>;
    /// Forget everything received (after a failure).
    fn wipe(&mut self);
    /// After success: the client asked to act as someone else, which the application must
    /// authorize.
    fn needs_authorization(&self) -> bool {
        self.identity().is_some_and(|id| id.needs_authorization())
    }
    /// ANONYMOUS's trace, after success.
    fn anonymous_trace(&self) -> Option<&str> {
        None
    }
}

/// The client side of a mechanism.
pub(crate) trait ClientMechanism {
    /// The initial response: `None` for a server-first mechanism.
    fn start(&mut self) -> Option<&[u8]>;
    /// The response to a server challenge (an empty first challenge asks a client-first
    /// mechanism for its initial response).
    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure>;
    /// The server reported success, with optional success data.
    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure>;
    /// SCRAM: the keys to keep for the next login, once the server proved itself.
    fn scram_cache(&self) -> Option<&ScramClientCache> {
        None
    }
    /// OAuth: the server's parsed error challenge.
    fn oauth_error(&self) -> Option<&OAuthError> {
        None
    }
}

/// PLAIN's and LOGIN's verdict on the application's answer to `Request::VerifyPassword`:
/// the stored password is compared in constant time, byte for byte (the client never sends an
/// empty password, so an empty stored one never matches); an unknown user costs the same
/// comparison. Nothing here branches on the stored password's content (`tests/ct_valgrind.rs`).
pub(crate) fn verify_password(given: &[u8], answer: Answer<'_>) -> Result<bool, Error> {
    Ok(match answer {
        Answer::Accept => true,
        Answer::Reject | Answer::UnknownUser => {
            core::hint::black_box(crate::secret::ct_eq_password(
                given,
                b"saslmech-unknown-user",
            ));
            false
        }
        Answer::Password(stored) => crate::secret::ct_eq_password(given, stored),
        _ => return Err(Error::WrongAnswer),
    })
}

/// What a server mechanism produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send the challenge in `out`.
    Challenge,
    /// Send this constant challenge.
    StaticChallenge(&'static [u8]),
    /// Ask the application (see `request()`).
    Request,
    /// Authenticated, no success data.
    Success,
    /// Authenticated; `out` holds success data for the client (SCRAM's server-final message).
    SuccessData,
    /// Failed.
    Failure(Failure),
}

/// A byte range in a mechanism's buffer (kept instead of borrows, so sessions own everything).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The span of `part` inside `whole` (`part` must be a sub-slice of `whole`).
    pub(crate) fn of(whole: &[u8], part: &[u8]) -> Span {
        let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
        Span::at(start, part.len())
    }

    pub(crate) fn at(start: usize, len: usize) -> Span {
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        Span {
            start,
            end: start.saturating_add(u32::try_from(len).unwrap_or(u32::MAX)),
        }
    }

    /// Where the span begins.
    pub(crate) fn start(self) -> usize {
        self.start as usize
    }

    /// The span's bytes in `buf`; `None` if `buf` is not the buffer it was made over (shorter).
    pub(crate) fn bytes(self, buf: &[u8]) -> Option<&[u8]> {
        buf.get(self.start as usize..self.end as usize)
    }

    /// The span as text. Spans are only made over input already checked to be UTF-8; `None`
    /// if it is not the span of text in `buf`.
    pub(crate) fn str(self, buf: &[u8]) -> Option<&str> {
        core::str::from_utf8(self.bytes(buf)?).ok()
    }

    /// The span of a string that is UTF-8 as a whole (no validation, only a boundary check).
    pub(crate) fn text(self, s: &str) -> Option<&str> {
        s.get(self.start as usize..self.end as usize)
    }
}

/// The text of an optional span: `Some(None)` without one, `None` if the span is not in `s`.
pub(crate) fn optional_text(span: Option<Span>, s: &str) -> Option<Option<&str>> {
    match span {
        Some(span) => Some(Some(span.text(s)?)),
        None => Some(None),
    }
}

/// [`optional_text`] over bytes already checked to be UTF-8.
pub(crate) fn optional_str(span: Option<Span>, buf: &[u8]) -> Option<Option<&str>> {
    match span {
        Some(span) => Some(Some(span.str(buf)?)),
        None => Some(None),
    }
}

/// True if `bytes` contains `byte`.
pub(crate) fn has_byte(bytes: &[u8], byte: u8) -> bool {
    bytes.contains(&byte)
}

/// Check an identity (authcid, authzid, user name): non-empty, UTF-8, no NUL, not too long.
pub(crate) fn check_identity(bytes: &[u8], max: usize) -> Result<&str, Failure> {
    if has_byte(bytes, 0) {
        return Err(Failure::Malformed);
    }
    let s = core::str::from_utf8(bytes).map_err(|_| Failure::Malformed)?;
    check_identity_str(s, max)
}

/// [`check_identity`] for text already known to be UTF-8 and free of NUL.
pub(crate) fn check_identity_str(s: &str, max: usize) -> Result<&str, Failure> {
    if s.is_empty() {
        return Err(Failure::Malformed);
    }
    if s.len() > max {
        return Err(Failure::TooLarge);
    }
    Ok(s)
}

/// The server side of each mechanism, inline.
#[derive(Debug)]
pub(crate) enum Server {
    Plain(plain::Server),
    Login(login::Server),
    CramMd5(cram_md5::Server),
    XOAuth2(xoauth2::Server),
    Scram(scram::Server),
    OAuthBearer(oauthbearer::Server),
    External(external::Server),
    Anonymous(anonymous::Server),
    #[cfg(feature = "gssapi")]
    Gssapi(Box<gssapi::Server>),
    #[cfg(feature = "gssapi")]
    Gs2Krb5(Box<gssapi::gs2_krb5::Server>),
}

impl Server {
    pub(crate) fn new(
        mechanism: Mechanism,
        config: &Arc<ServerConfig>,
        transport: &Transport,
    ) -> Server {
        match mechanism {
            Mechanism::Plain => Server::Plain(plain::Server::default()),
            Mechanism::Login => Server::Login(login::Server::default()),
            Mechanism::CramMd5 => Server::CramMd5(cram_md5::Server::default()),
            Mechanism::XOAuth2 => Server::XOAuth2(xoauth2::Server::default()),
            Mechanism::ScramSha1
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha256
            | Mechanism::ScramSha256Plus
            | Mechanism::ScramSha512
            | Mechanism::ScramSha512Plus => {
                Server::Scram(scram::Server::new(mechanism, config, transport))
            }
            Mechanism::OAuthBearer => Server::OAuthBearer(oauthbearer::Server::default()),
            Mechanism::External => Server::External(external::Server::new(transport)),
            Mechanism::Anonymous => Server::Anonymous(anonymous::Server::default()),
            #[cfg(feature = "gssapi")]
            Mechanism::Gssapi => Server::Gssapi(Box::default()),
            #[cfg(feature = "gssapi")]
            Mechanism::Gs2Krb5 => Server::Gs2Krb5(Box::default()),
        }
    }

    /// The mechanism this enum holds, as the trait.
    #[inline]
    pub(crate) fn get(&self) -> &dyn ServerMechanism {
        match self {
            Server::Plain(m) => m,
            Server::Login(m) => m,
            Server::CramMd5(m) => m,
            Server::XOAuth2(m) => m,
            Server::Scram(m) => m,
            Server::OAuthBearer(m) => m,
            Server::External(m) => m,
            Server::Anonymous(m) => m,
            #[cfg(feature = "gssapi")]
            Server::Gssapi(m) => &**m,
            #[cfg(feature = "gssapi")]
            Server::Gs2Krb5(m) => &**m,
        }
    }

    /// The mechanism this enum holds, as the trait, to drive.
    #[inline]
    pub(crate) fn get_mut(&mut self) -> &mut dyn ServerMechanism {
        match self {
            Server::Plain(m) => m,
            Server::Login(m) => m,
            Server::CramMd5(m) => m,
            Server::XOAuth2(m) => m,
            Server::Scram(m) => m,
            Server::OAuthBearer(m) => m,
            Server::External(m) => m,
            Server::Anonymous(m) => m,
            #[cfg(feature = "gssapi")]
            Server::Gssapi(m) => &mut **m,
            #[cfg(feature = "gssapi")]
            Server::Gs2Krb5(m) => &mut **m,
        }
    }
}

/// The client side of each mechanism, inline.
// SCRAM's client (with its key cache: two keyed HMAC states) is the largest by far; it stays
// inline on purpose, as boxing it would cost an allocation per SCRAM login
// (docs/PERFORMANCE.md).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Client {
    Plain(plain::Client),
    Login(login::Client),
    CramMd5(cram_md5::Client),
    XOAuth2(xoauth2::Client),
    Scram(scram::Client),
    OAuthBearer(oauthbearer::Client),
    External(external::Client),
    Anonymous(anonymous::Client),
    #[cfg(feature = "gssapi")]
    Gssapi(Box<gssapi::Client>),
    #[cfg(feature = "gssapi")]
    Gs2Krb5(Box<gssapi::gs2_krb5::Client>),
}

impl Client {
    #[inline]
    pub(crate) fn new(
        mechanism: Mechanism,
        creds: &Credentials<'_>,
        config: &ClientConfig,
    ) -> Result<Client, Error> {
        Ok(match mechanism {
            Mechanism::Plain => Client::Plain(plain::Client::new(creds)?),
            Mechanism::Login => Client::Login(login::Client::new(creds)?),
            Mechanism::CramMd5 => Client::CramMd5(cram_md5::Client::new(creds)?),
            Mechanism::XOAuth2 => Client::XOAuth2(xoauth2::Client::new(creds)?),
            Mechanism::ScramSha1
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha256
            | Mechanism::ScramSha256Plus
            | Mechanism::ScramSha512
            | Mechanism::ScramSha512Plus => {
                Client::Scram(scram::Client::new(mechanism, creds, config)?)
            }
            Mechanism::OAuthBearer => Client::OAuthBearer(oauthbearer::Client::new(creds)?),
            Mechanism::External => Client::External(external::Client::new(creds)?),
            Mechanism::Anonymous => Client::Anonymous(anonymous::Client::new(creds)?),
            #[cfg(feature = "gssapi")]
            Mechanism::Gssapi => Client::Gssapi(Box::new(gssapi::Client::new(creds)?)),
            #[cfg(feature = "gssapi")]
            Mechanism::Gs2Krb5 => {
                Client::Gs2Krb5(Box::new(gssapi::gs2_krb5::Client::new(creds, config)?))
            }
        })
    }

    /// The mechanism this enum holds, as the trait.
    #[inline]
    pub(crate) fn get(&self) -> &dyn ClientMechanism {
        match self {
            Client::Plain(m) => m,
            Client::Login(m) => m,
            Client::CramMd5(m) => m,
            Client::XOAuth2(m) => m,
            Client::Scram(m) => m,
            Client::OAuthBearer(m) => m,
            Client::External(m) => m,
            Client::Anonymous(m) => m,
            #[cfg(feature = "gssapi")]
            Client::Gssapi(m) => &**m,
            #[cfg(feature = "gssapi")]
            Client::Gs2Krb5(m) => &**m,
        }
    }

    /// The mechanism this enum holds, as the trait, to drive.
    #[inline]
    pub(crate) fn get_mut(&mut self) -> &mut dyn ClientMechanism {
        match self {
            Client::Plain(m) => m,
            Client::Login(m) => m,
            Client::CramMd5(m) => m,
            Client::XOAuth2(m) => m,
            Client::Scram(m) => m,
            Client::OAuthBearer(m) => m,
            Client::External(m) => m,
            Client::Anonymous(m) => m,
            #[cfg(feature = "gssapi")]
            Client::Gssapi(m) => &mut **m,
            #[cfg(feature = "gssapi")]
            Client::Gs2Krb5(m) => &mut **m,
        }
    }
}
