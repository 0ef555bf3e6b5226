//! ANONYMOUS (RFC 4505): the client's one message is optional trace information (an email
//! address or a token) of at most 255 characters, which the server may log.
//!
//! The server accepts it only if the configuration lists ANONYMOUS (the default does not).
//! The authenticated identity is the fixed name `anonymous`, never the trace: a client
//! cannot become `postmaster` by sending that as its trace. The trace is available from
//! [`ServerSession::anonymous_trace`](crate::ServerSession::anonymous_trace).

use super::Next;
use super::plain::finish_without_data;
use super::{ClientMechanism, ServerMechanism};
use crate::config::ServerConfig;
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, Request};
use crate::secret::SecretBuf;

/// The identity a successful ANONYMOUS exchange yields.
pub const ANONYMOUS_IDENTITY: &str = "anonymous";

/// The longest trace, in characters (RFC 4505 §2).
pub const MAX_TRACE_CHARS: usize = 255;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Start,
    WantMessage,
    Done,
}

/// The server side of ANONYMOUS.
#[derive(Debug, Default)]
pub struct Server {
    state: State,
    trace: String,
}

/// Check a trace: UTF-8, at most 255 characters, no control characters.
fn check_trace(trace: &[u8]) -> Result<&str, Failure> {
    let s = core::str::from_utf8(trace).map_err(|_| Failure::Malformed)?;
    if s.chars().any(char::is_control) {
        return Err(Failure::Malformed);
    }
    if s.chars().count() > MAX_TRACE_CHARS {
        return Err(Failure::TooLarge);
    }
    Ok(s)
}

impl Server {
    fn receive(&mut self, _: &ServerConfig, trace: &[u8]) -> Next {
        match check_trace(trace) {
            Ok(s) => {
                self.trace = s.to_owned();
                self.state = State::Done;
                Next::Success
            }
            Err(f) => Next::Failure(f),
        }
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
        (self.state == State::Done).then_some(Identity {
            authcid: ANONYMOUS_IDENTITY,
            authzid: None,
        })
    }

    /// The trace the client sent, once the exchange succeeded.
    fn anonymous_trace(&self) -> Option<&str> {
        (self.state == State::Done).then_some(self.trace.as_str())
    }

    fn wipe(&mut self) {
        *self = Server::default();
    }
}

/// The client side of ANONYMOUS: its message is the trace, or empty.
#[derive(Debug)]
pub struct Client {
    trace: String,
    sent: bool,
}

impl Client {
    pub(crate) fn new(creds: &Credentials<'_>) -> Result<Client, Error> {
        let trace = creds.trace.unwrap_or("");
        check_trace(trace.as_bytes())
            .map_err(|_| Error::InvalidArgument("trace over 255 characters or with controls"))?;
        Ok(Client {
            trace: trace.to_owned(),
            sent: false,
        })
    }
}

impl ClientMechanism for Client {
    fn start(&mut self) -> Option<&[u8]> {
        self.sent = true;
        Some(self.trace.as_bytes())
    }

    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        if self.sent || !challenge.is_empty() {
            return Err(Failure::Malformed);
        }
        self.sent = true;
        Ok(self.trace.as_bytes())
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        finish_without_data(self.sent, data)
    }
}
