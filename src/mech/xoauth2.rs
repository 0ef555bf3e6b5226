//! XOAUTH2 (Google, Microsoft): `user=` user `^A` `auth=Bearer ` token `^A^A`, one client
//! message.
//!
//! An invalid token is answered with an error challenge, a JSON object such as
//! `{"status":"401","schemes":"bearer","scope":"…"}`, to which the client must send an empty
//! response; then the exchange fails.

use super::ServerMechanism;
use super::oauth::{self, bearer, bearer_token, error_challenge};
use super::{Next, Span, check_identity};
use crate::config::ServerConfig;
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, Request, TokenRequest};
use crate::secret::{SecretBuf, SecretStr};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Start,
    WantMessage,
    Validating,
    /// The error challenge went out; the client's (empty) acknowledgement comes next.
    WantAck,
    Valid,
}

/// The server side of XOAUTH2.
#[derive(Debug, Default)]
pub struct Server {
    state: State,
    /// The client's message (UTF-8 throughout); the spans point into it.
    message: SecretStr,
    user: Span,
    token: Span,
    /// Whose token it is ([`Answer::TokenOwner`]), kept only when it is not the user the
    /// client named.
    owner: Option<SecretStr>,
}

impl Server {
    /// Parse `user=` user `^A` `auth=` scheme SP token `^A^A`, exactly.
    fn receive(&mut self, c: &ServerConfig, message: &[u8]) -> Next {
        let Some(rest) = message.strip_prefix(b"user=") else {
            return Next::Failure(Failure::Malformed);
        };
        let Some((user, rest)) = split_once(rest, 1) else {
            return Next::Failure(Failure::Malformed);
        };
        let Some(auth) = rest
            .strip_prefix(b"auth=")
            .and_then(|r| r.strip_suffix(b"\x01\x01"))
        else {
            return Next::Failure(Failure::Malformed);
        };
        let Some(token) = bearer(auth) else {
            return Next::Failure(Failure::Malformed);
        };
        if let Err(f) = check_identity(user, c.max_identity) {
            return Next::Failure(f);
        }
        // The user is UTF-8 and the rest is ASCII, so the whole message is UTF-8.
        let Ok(text) = core::str::from_utf8(message) else {
            return Next::Failure(Failure::Malformed);
        };
        self.message = SecretStr::from_str(text);
        self.user = Span::of(message, user);
        self.token = Span::of(message, token);
        self.state = State::Validating;
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
            // Whatever the client acknowledges with (an empty response, or `^A` as some
            // clients send), the exchange fails.
            State::WantAck => Next::Failure(Failure::BadCredentials),
            _ => Next::Failure(Failure::Malformed),
        }
    }

    fn answer(&mut self, out: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != State::Validating {
            return Err(Error::InvalidState);
        }
        let (status, scope) = match answer {
            // A valid token is answered with its owner, never with a bare accept: the engine,
            // not the application, then decides whether that owner may act as the user the
            // client named (asking `Request::Authorize` when they differ).
            Answer::TokenOwner(owner) => {
                if owner.is_empty() || owner.contains('\0') {
                    return Err(Error::InvalidArgument(
                        "token owner empty or containing NUL",
                    ));
                }
                let user = self
                    .user
                    .text(self.message.as_str())
                    .ok_or(Error::InvalidState)?;
                self.owner = (owner != user).then(|| SecretStr::from_str(owner));
                self.state = State::Valid;
                return Ok(Next::Success);
            }
            Answer::Reject | Answer::UnknownUser => ("401", None),
            Answer::TokenError(e) => (e.status, e.scope),
            _ => return Err(Error::WrongAnswer),
        };
        error_challenge(
            out,
            &[
                ("status", Some(status)),
                ("schemes", Some("bearer")),
                ("scope", scope),
            ],
        );
        self.message = SecretStr::default();
        self.state = State::WantAck;
        Ok(Next::Challenge)
    }

    fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        if self.state != State::Validating {
            return None;
        }
        let m = self.message.as_str();
        Some(Request::ValidateToken(TokenRequest {
            mechanism,
            user: self.user.text(m)?,
            token: self.token.text(m)?.as_bytes(),
            authzid: None,
            host: None,
            port: None,
        }))
    }

    /// The token's owner; when that is not the user the client named, the named user is the
    /// authorization identity (which the session then asks the application to authorize).
    fn identity(&self) -> Option<Identity<'_>> {
        if self.state != State::Valid {
            return None;
        }
        let user = self.user.text(self.message.as_str())?;
        Some(match &self.owner {
            None => Identity {
                authcid: user,
                authzid: None,
            },
            Some(owner) => Identity {
                authcid: owner.as_str(),
                authzid: Some(user),
            },
        })
    }

    fn wipe(&mut self) {
        *self = Server::default();
    }
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|b| *b == sep)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// The client side of XOAUTH2: the shared OAuth client with XOAUTH2's message, and an empty
/// response to the error challenge.
pub type Client = oauth::Client<Message>;

/// XOAUTH2's client message: `user=` user `^A` `auth=Bearer ` token `^A^A`.
pub enum Message {}

impl oauth::ClientMessage for Message {
    const ACK: &'static [u8] = b"";

    fn message(creds: &Credentials<'_>) -> Result<SecretBuf, Error> {
        let user = creds.need_authcid()?;
        let token = bearer_token(creds)?;
        if super::has_byte(user.as_bytes(), 1) {
            return Err(Error::InvalidArgument("user contains ^A"));
        }
        let mut message = SecretBuf::with_capacity(user.len() + token.len() + 22);
        message.extend(b"user=");
        message.extend(user.as_bytes());
        message.extend(b"\x01auth=Bearer ");
        message.extend(token);
        message.extend(b"\x01\x01");
        Ok(message)
    }
}
