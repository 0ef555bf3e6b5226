//! PLAIN (RFC 4616): `[authzid] NUL authcid NUL passwd`, in one client message.
//!
//! The server accepts exactly three fields, a non-empty authcid and password, UTF-8
//! throughout, and identities up to `max_identity` octets (at least 255). It asks the
//! application to verify the password, then (through the session) to authorize a differing
//! authzid.

use super::{ClientMechanism, Next, ServerMechanism, Span, check_identity_str, optional_text};
use crate::config::ServerConfig;
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, PasswordRequest, Request};
use crate::secret::{SecretBuf, SecretStr};

/// Server states, in order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Start,
    /// Sent an empty challenge; the message comes next.
    WantMessage,
    /// Asked the application to verify the password.
    Verifying,
    /// Password verified.
    Verified,
}

/// The server side of PLAIN.
#[derive(Debug, Default)]
pub struct Server {
    state: State,
    /// The client's message, kept whole (it is UTF-8 throughout); the spans point into it.
    message: SecretStr,
    authzid: Option<Span>,
    authcid: Span,
    password: Span,
}

impl Server {
    /// Parse `[authzid] NUL authcid NUL passwd` and ask for the password to be verified.
    fn receive(&mut self, c: &ServerConfig, message: &[u8]) -> Next {
        // Every field is UTF-8 (RFC 4616), and so are the NULs between them.
        let Ok(message) = core::str::from_utf8(message) else {
            return Next::Failure(Failure::Malformed);
        };
        // Exactly two NULs. (A byte loop: these messages are short, and memchr's setup
        // cost more than the scan in a profile.)
        let mut nuls = message
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == 0)
            .map(|(i, _)| i);
        let (Some(first), Some(second), None) = (nuls.next(), nuls.next(), nuls.next()) else {
            return Next::Failure(Failure::Malformed);
        };
        let (Some(authzid), Some(authcid), Some(password)) = (
            message.get(..first),
            message.get(first + 1..second),
            message.get(second + 1..),
        ) else {
            return Next::Failure(Failure::Malformed);
        };
        if let Err(f) = check_identity_str(authcid, c.max_identity) {
            return Next::Failure(f);
        }
        if let (false, Err(f)) = (
            authzid.is_empty(),
            check_identity_str(authzid, c.max_identity),
        ) {
            return Next::Failure(f);
        }
        if password.is_empty() {
            return Next::Failure(Failure::Malformed);
        }
        let whole = message.as_bytes();
        self.authzid = (!authzid.is_empty()).then(|| Span::of(whole, authzid.as_bytes()));
        self.authcid = Span::of(whole, authcid.as_bytes());
        self.password = Span::of(whole, password.as_bytes());
        self.message = SecretStr::from_str(message);
        self.state = State::Verifying;
        Next::Request
    }
}

impl ServerMechanism for Server {
    fn start(&mut self, c: &ServerConfig, _: &mut SecretBuf, ir: Option<&[u8]>) -> Next {
        match ir {
            Some(message) => self.receive(c, message),
            None => {
                self.state = State::WantMessage;
                Next::StaticChallenge(b"")
            }
        }
    }

    fn step(&mut self, c: &ServerConfig, _: &mut SecretBuf, input: &[u8]) -> Next {
        match self.state {
            State::WantMessage => self.receive(c, input),
            _ => Next::Failure(Failure::Malformed),
        }
    }

    fn answer(&mut self, _: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != State::Verifying {
            return Err(Error::InvalidState);
        }
        let password = self
            .password
            .text(self.message.as_str())
            .ok_or(Error::InvalidState)?;
        let ok = super::verify_password(password.as_bytes(), answer)?;
        if ok {
            self.state = State::Verified;
            Ok(Next::Success)
        } else {
            Ok(Next::Failure(Failure::BadCredentials))
        }
    }

    fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        if self.state != State::Verifying {
            return None;
        }
        let m = self.message.as_str();
        Some(Request::VerifyPassword(PasswordRequest {
            mechanism,
            authcid: self.authcid.text(m)?,
            authzid: optional_text(self.authzid, m)?,
            password: self.password.text(m)?.as_bytes(),
        }))
    }

    fn identity(&self) -> Option<Identity<'_>> {
        if self.state != State::Verified {
            return None;
        }
        let m = self.message.as_str();
        Some(Identity {
            authcid: self.authcid.text(m)?,
            authzid: optional_text(self.authzid, m)?,
        })
    }

    fn wipe(&mut self) {
        *self = Server::default();
    }
}

/// The client side of PLAIN: the whole message is built when the client is made.
#[derive(Debug)]
pub struct Client {
    message: SecretBuf,
    sent: bool,
}

impl Client {
    pub(crate) fn new(creds: &Credentials<'_>) -> Result<Client, Error> {
        let authcid = creds.need_authcid()?;
        let password = creds.need_password()?;
        let authzid = creds.authzid.unwrap_or("");
        if super::has_byte(authzid.as_bytes(), 0) {
            return Err(Error::InvalidArgument("authzid contains NUL"));
        }
        // RFC 4616: `passwd = 1*SAFE`, UTF-8; servers (ours included) refuse anything else.
        if core::str::from_utf8(password).is_err() {
            return Err(Error::InvalidArgument("PLAIN password is not UTF-8"));
        }
        let mut message =
            SecretBuf::with_capacity(authzid.len() + authcid.len() + password.len() + 2);
        message.extend(authzid.as_bytes());
        message.push(0);
        message.extend(authcid.as_bytes());
        message.push(0);
        message.extend(password);
        Ok(Client {
            message,
            sent: false,
        })
    }
}

impl ClientMechanism for Client {
    fn start(&mut self) -> Option<&[u8]> {
        self.sent = true;
        Some(self.message.as_slice())
    }

    /// Only an empty challenge before the message was sent makes sense: the server asking
    /// for it because no initial response was used.
    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        if self.sent || !challenge.is_empty() {
            return Err(Failure::Malformed);
        }
        self.sent = true;
        Ok(self.message.as_slice())
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        finish_without_data(self.sent, data)
    }
}

/// `finish` for mechanisms without mutual authentication: the client must have sent its
/// last message, and the server has no success data to give.
pub(crate) fn finish_without_data(sent: bool, data: Option<&[u8]>) -> Result<(), Failure> {
    if !sent || data.is_some_and(|d| !d.is_empty()) {
        return Err(Failure::Malformed);
    }
    Ok(())
}
