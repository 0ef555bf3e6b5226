//! LOGIN (draft-murchison-sasl-login, MS-XLOGIN): the server prompts for the user name, then
//! for the password.
//!
//! The server sends `Username:` and `Password:` (the strings one widely deployed client
//! insists on) and accepts the user name as an initial response (`AUTH LOGIN dGlt`). The
//! client goes by step count and ignores the prompts' text, which varies between servers
//! (`User Name`, `User Name\0`, `Username:`).

use super::plain::finish_without_data;
use super::{ClientMechanism, ServerMechanism};
use super::{Next, Span, check_identity, has_byte};
use crate::config::ServerConfig;
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, PasswordRequest, Request};
use crate::secret::SecretBuf;

const USERNAME: &[u8] = b"Username:";
const PASSWORD: &[u8] = b"Password:";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Start,
    WantUsername,
    WantPassword,
    Verifying,
    Verified,
}

/// The server side of LOGIN.
#[derive(Debug, Default)]
pub struct Server {
    state: State,
    /// User name, then password.
    buf: SecretBuf,
    username: Span,
    password: Span,
}

impl Server {
    fn username(&mut self, c: &ServerConfig, username: &[u8]) -> Next {
        if let Err(f) = check_identity(username, c.max_identity) {
            return Next::Failure(f);
        }
        // Room for a typical password too, so that it does not reallocate.
        self.buf = SecretBuf::with_capacity(username.len() + 128);
        self.buf.extend(username);
        self.username = Span::at(0, username.len());
        self.state = State::WantPassword;
        Next::StaticChallenge(PASSWORD)
    }

    fn password(&mut self, password: &[u8]) -> Next {
        // Passwords may be any bytes but NUL, CR and LF (the draft); the framing already
        // excludes CR and LF.
        if password.is_empty() || has_byte(password, 0) {
            return Next::Failure(Failure::Malformed);
        }
        self.password = Span::at(self.buf.len(), password.len());
        self.buf.extend(password);
        self.state = State::Verifying;
        Next::Request
    }
}

impl ServerMechanism for Server {
    fn start(&mut self, c: &ServerConfig, _: &mut SecretBuf, ir: Option<&[u8]>) -> Next {
        match ir {
            // MS-XLOGIN: the initial response carries the user name.
            Some(username) => self.username(c, username),
            None => {
                self.state = State::WantUsername;
                Next::StaticChallenge(USERNAME)
            }
        }
    }

    fn step(&mut self, c: &ServerConfig, _: &mut SecretBuf, input: &[u8]) -> Next {
        match self.state {
            State::WantUsername => self.username(c, input),
            State::WantPassword => self.password(input),
            _ => Next::Failure(Failure::Malformed),
        }
    }

    fn answer(&mut self, _: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != State::Verifying {
            return Err(Error::InvalidState);
        }
        let password = self
            .password
            .bytes(self.buf.as_slice())
            .ok_or(Error::InvalidState)?;
        let ok = super::verify_password(password, answer)?;
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
        let b = self.buf.as_slice();
        Some(Request::VerifyPassword(PasswordRequest {
            mechanism,
            authcid: self.username.str(b)?,
            authzid: None,
            password: self.password.bytes(b)?,
        }))
    }

    fn identity(&self) -> Option<Identity<'_>> {
        if self.state != State::Verified {
            return None;
        }
        Some(Identity {
            authcid: self.username.str(self.buf.as_slice())?,
            authzid: None,
        })
    }

    fn wipe(&mut self) {
        *self = Server::default();
    }

    fn needs_authorization(&self) -> bool {
        // No authzid in this mechanism: answered without building the identity.
        false
    }
}

/// The client side of LOGIN: user name at the first challenge, password at the second.
#[derive(Debug)]
pub struct Client {
    /// User name, then password.
    buf: SecretBuf,
    split: usize,
    sent: u8,
}

impl Client {
    pub(crate) fn new(creds: &Credentials<'_>) -> Result<Client, Error> {
        let authcid = creds.need_authcid()?;
        let password = creds.need_password()?;
        if creds.authzid.is_some_and(|z| z != authcid) {
            return Err(Error::InvalidArgument("LOGIN cannot carry an authzid"));
        }
        let mut buf = SecretBuf::with_capacity(authcid.len() + password.len());
        buf.extend(authcid.as_bytes());
        buf.extend(password);
        Ok(Client {
            buf,
            split: authcid.len(),
            sent: 0,
        })
    }
}

impl ClientMechanism for Client {
    fn start(&mut self) -> Option<&[u8]> {
        None
    }

    /// The prompt's text is ignored: only the count matters.
    fn step(&mut self, _challenge: &[u8]) -> Result<&[u8], Failure> {
        let (user, pass) = self
            .buf
            .as_slice()
            .split_at_checked(self.split)
            .ok_or(Failure::Malformed)?;
        self.sent = self.sent.saturating_add(1);
        match self.sent {
            1 => Ok(user),
            2 => Ok(pass),
            _ => Err(Failure::Malformed),
        }
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        finish_without_data(self.sent >= 2, data)
    }
}
