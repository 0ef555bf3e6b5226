//! Why an authentication ended ([`Failure`]) and why a call was refused ([`Error`]).

use core::fmt;

/// Why an authentication exchange ended without success.
///
/// Protocol adapters map each kind to a reply code (see [`crate::proto`]); keep the kinds
/// apart so that, for example, a wrong password (SMTP 535) is never reported as a syntax
/// error (SMTP 501).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Failure {
    /// The credentials were wrong, or the user is unknown (the two are indistinguishable).
    BadCredentials,
    /// The credentials were right but the authenticated identity may not act as the
    /// requested authorization identity.
    AuthzDenied,
    /// The application reported the account as disabled.
    AccountDisabled,
    /// A message did not follow the mechanism's grammar.
    Malformed,
    /// A message was not valid strict base64.
    InvalidBase64,
    /// An initial response was sent for a mechanism that does not take one.
    UnexpectedInitialResponse,
    /// The client cancelled the exchange.
    Cancelled,
    /// The application's backend could not answer; the client may try again later.
    TemporaryFailure,
    /// The mechanism is unknown, not implemented, or not offered by this server.
    MechanismUnavailable,
    /// The mechanism is offered by the engine but too weak for the configured policy.
    MechanismTooWeak,
    /// The mechanism would expose a reusable secret on a channel without TLS.
    EncryptionRequired,
    /// The exchange took more round trips than the configured limit.
    TooManySteps,
    /// A message or field exceeded the configured size limit.
    TooLarge,
    /// Channel binding did not match, or a downgrade was detected.
    ChannelBinding,
    /// (Client side) the server's proof of knowing the credentials was missing or wrong.
    ServerAuthentication,
}

impl Failure {
    /// True for failures the client may retry later without changing anything.
    pub fn is_temporary(self) -> bool {
        matches!(self, Failure::TemporaryFailure)
    }

    /// A short, fixed English description; never contains input data.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::BadCredentials => "authentication credentials invalid",
            Failure::AuthzDenied => "not authorized to use the requested authorization identity",
            Failure::AccountDisabled => "account disabled",
            Failure::Malformed => "malformed authentication message",
            Failure::InvalidBase64 => "invalid base64",
            Failure::UnexpectedInitialResponse => "initial response not allowed for this mechanism",
            Failure::Cancelled => "authentication cancelled by the client",
            Failure::TemporaryFailure => "temporary authentication failure",
            Failure::MechanismUnavailable => "mechanism not available",
            Failure::MechanismTooWeak => "mechanism too weak for policy",
            Failure::EncryptionRequired => "encryption required for this mechanism",
            Failure::TooManySteps => "too many authentication round trips",
            Failure::TooLarge => "authentication message too large",
            Failure::ChannelBinding => "channel binding mismatch",
            Failure::ServerAuthentication => "server failed to prove knowledge of the credentials",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Failure {}

/// A call the engine refused.
///
/// Misuse (`InvalidState`, `WrongAnswer`, `InvalidArgument`) leaves the session exactly as it
/// was; `Failed` means the exchange is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The exchange ended with this failure (client side, or a session that was never created).
    Failed(Failure),
    /// The call does not fit the session's state (for example a step after completion, or a
    /// step while a request is waiting for its answer).
    InvalidState,
    /// The answer does not fit the pending request.
    WrongAnswer,
    /// An argument is unusable (for example credentials a mechanism needs are missing, or a
    /// field contains a character the mechanism cannot carry).
    InvalidArgument(&'static str),
}

impl Error {
    /// The failure, if this error ended an exchange.
    pub fn failure(self) -> Option<Failure> {
        match self {
            Error::Failed(f) => Some(f),
            _ => None,
        }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        Error::Failed(f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Failed(x) => x.fmt(f),
            Error::InvalidState => f.write_str("call not valid in the session's current state"),
            Error::WrongAnswer => f.write_str("answer does not fit the pending request"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
        }
    }
}

impl std::error::Error for Error {}
