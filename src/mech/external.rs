//! EXTERNAL (RFC 4422 Appendix A): the client is authenticated by the transport, typically a
//! TLS client certificate, and the application hands the identity it derived to the session
//! ([`Transport::with_external_identity`](crate::Transport::with_external_identity)).
//!
//! The client's one message is an authorization identity or empty. Empty means "act as the
//! derived identity"; a differing authzid is put to the application as
//! [`Request::Authorize`](crate::Request::Authorize) by the session.

use super::plain::finish_without_data;
use super::{ClientMechanism, ServerMechanism};
use super::{Next, check_identity};
use crate::config::{ServerConfig, Transport};
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, Request};
use crate::secret::{SecretBuf, SecretStr};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Start,
    WantMessage,
    Done,
}

/// The server side of EXTERNAL.
#[derive(Debug, Default)]
pub struct Server {
    state: State,
    /// The identity the transport established.
    external: Option<String>,
    /// The authzid the client asked for, checked UTF-8 (`None`: it sent an empty message).
    authzid: Option<SecretStr>,
}

impl Server {
    pub(crate) fn new(transport: &Transport) -> Server {
        Server {
            external: transport.external_identity.clone(),
            ..Server::default()
        }
    }

    fn receive(&mut self, c: &ServerConfig, authzid: &[u8]) -> Next {
        if self.external.as_deref().is_none_or(str::is_empty) {
            return Next::Failure(Failure::BadCredentials);
        }
        if !authzid.is_empty() {
            match check_identity(authzid, c.max_identity) {
                Ok(authzid) => self.authzid = Some(SecretStr::from_str(authzid)),
                Err(f) => return Next::Failure(f),
            }
        }
        self.state = State::Done;
        // The session asks for authorization when the authzid differs.
        Next::Success
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

    fn answer(&mut self, _: &mut SecretBuf, _: Answer<'_>) -> Result<Next, Error> {
        Err(Error::InvalidState)
    }

    fn request(&self, _: Mechanism) -> Option<Request<'_>> {
        None
    }

    fn identity(&self) -> Option<Identity<'_>> {
        if self.state != State::Done {
            return None;
        }
        Some(Identity {
            authcid: self.external.as_deref()?,
            authzid: self.authzid.as_ref().map(SecretStr::as_str),
        })
    }

    fn wipe(&mut self) {
        self.state = State::Start;
        self.authzid = None;
    }
}

/// The client side of EXTERNAL: its message is the authzid, or empty.
#[derive(Debug)]
pub struct Client {
    authzid: String,
    sent: bool,
}

impl Client {
    pub(crate) fn new(creds: &Credentials<'_>) -> Result<Client, Error> {
        let authzid = creds.authzid.unwrap_or("");
        if authzid.contains('\0') {
            return Err(Error::InvalidArgument("authzid contains NUL"));
        }
        Ok(Client {
            authzid: authzid.to_owned(),
            sent: false,
        })
    }
}

impl ClientMechanism for Client {
    fn start(&mut self) -> Option<&[u8]> {
        self.sent = true;
        Some(self.authzid.as_bytes())
    }

    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        if self.sent || !challenge.is_empty() {
            return Err(Failure::Malformed);
        }
        self.sent = true;
        Ok(self.authzid.as_bytes())
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        finish_without_data(self.sent, data)
    }
}
