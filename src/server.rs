//! The server session: [`ServerSession`] and what each call returns ([`ServerStep`]).
//!
//! The vocabulary it speaks lives below it: the requests and answers in `request`, the
//! configuration and transport in `config`; the mechanisms it drives in `mech`.
//!
//! A [`ServerSession`] never calls back into the application. When it needs something only
//! the application knows (is this password right? what is this user's secret? is this token
//! valid? may this user act as that one?) it returns [`ServerStep::Request`] and waits. The
//! application answers with [`ServerSession::answer`] whenever it is ready: right away, or from
//! a later turn of its event loop after an asynchronous lookup. The session is an owned `Send`
//! value that holds no borrows, so it can be parked anywhere in the meantime.
//!
//! ```
//! use std::sync::Arc;
//! use saslmech::{Answer, Mechanism, Request, ServerConfig, ServerSession, ServerStep, Transport};
//!
//! let config = Arc::new(ServerConfig::new());
//! let mut s = ServerSession::new(&config, Mechanism::Plain, &Transport::tls()).unwrap();
//! let mut step = s.start(Some(b"\0tim\0tanstaaftanstaaf")).unwrap();
//! // Drive the session until it ends.
//! loop {
//!     match step {
//!         ServerStep::Request(Request::VerifyPassword(req)) => {
//!             assert_eq!(req.authcid(), "tim");
//!             // Look up the stored password (perhaps asynchronously), then answer.
//!             step = s.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap();
//!         }
//!         ServerStep::Success(ok) => {
//!             assert_eq!(ok.identity.authcid(), "tim");
//!             break;
//!         }
//!         ServerStep::Challenge(_) => unreachable!("PLAIN with an initial response"),
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! ```

use core::fmt;
use std::sync::Arc;

use crate::b64;
use crate::error::{Error, Failure};
use crate::mech::{self, Next};
use crate::mechanism::Mechanism;
use crate::secret::SecretBuf;

// The session's vocabulary, also imported from here by the protocol adapters (`proto`).
pub(crate) use crate::config::{ServerConfig, Transport};
pub(crate) use crate::request::{Answer, AuthorizeRequest, Identity, Request};

/// A successful exchange.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Success<'a> {
    /// Who authenticated.
    pub identity: Identity<'a>,
    /// Additional data to send with the success reply (never set when the transport cannot
    /// carry it: then it went out as a challenge before this).
    pub data: Option<&'a [u8]>,
}

/// What the session needs the caller to do next.
#[must_use = "the caller must act on every step: send the challenge, answer the request, or end the exchange"]
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerStep<'a> {
    /// Send this challenge to the client, then pass its response to [`ServerSession::step`].
    Challenge(&'a [u8]),
    /// Answer this request with [`ServerSession::answer`], now or later.
    Request(Request<'a>),
    /// The client authenticated.
    Success(Success<'a>),
    /// The exchange failed.
    Failure(Failure),
}

/// Where a session stands. `Pending` means a request is waiting for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Created; `start` comes next.
    Start,
    /// A challenge was sent; `step` comes next.
    Challenged,
    /// The mechanism asked the application something.
    PendingMech,
    /// Credentials verified; asking whether authcid may act as authzid. `data` says whether
    /// success data waits in `out`.
    PendingAuthorize { data: bool },
    /// Success data went out as a challenge; an empty response completes the exchange.
    FinalChallenge,
    /// Authenticated.
    Done { data: bool },
    /// Ended with a failure.
    Failed(Failure),
}

/// One call of an exchange (see [`ServerSession::run`]).
pub(crate) enum Op<'a> {
    Start(Option<&'a [u8]>),
    Step(&'a [u8]),
    Answer(Answer<'a>),
}

/// A borrow-free summary of what a call produced; turned into a [`ServerStep`] at the end.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Challenge(Option<&'static [u8]>),
    Request,
    Success,
    Failure(Failure),
}

/// One server-side authentication exchange.
///
/// Create it when the client names a mechanism, call [`start`](Self::start) with the initial
/// response (if any), then [`step`](Self::step) with each client response and
/// [`answer`](Self::answer) each request, until it returns `Success` or `Failure`. The
/// `_b64` variants take and give base64 text, for protocols that carry it.
///
/// Misuse (a step while a request waits, an answer that does not fit, any call after the end)
/// returns an [`Error`] and changes nothing.
pub struct ServerSession {
    config: Arc<ServerConfig>,
    mechanism: Mechanism,
    success_data: bool,
    state: State,
    steps: u16,
    mech: mech::Server,
    /// The last challenge or the success data, raw.
    out: SecretBuf,
    /// Base64 scratch: decoded input, then encoded output.
    b64: SecretBuf,
    /// Where the bytes the last call returned are (see [`ServerSession::last_message`]).
    shown: Shown,
}

/// Where the challenge or success data the last call returned lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Nothing,
    Static(&'static [u8]),
    Out,
    B64,
}

impl fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSession")
            .field("mechanism", &self.mechanism)
            .field("state", &self.state)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

impl ServerSession {
    /// Begin an exchange with `mechanism` if the configuration allows it on this transport.
    ///
    /// Fails with [`Failure::MechanismUnavailable`] (also for a `-PLUS` mechanism without
    /// channel-binding data, and EXTERNAL without an external identity),
    /// [`Failure::MechanismTooWeak`] or [`Failure::EncryptionRequired`] (SMTP 504, 534, 538).
    pub fn new(
        config: &Arc<ServerConfig>,
        mechanism: Mechanism,
        transport: &Transport,
    ) -> Result<ServerSession, Failure> {
        config.check_transport(mechanism, transport)?;
        Ok(ServerSession {
            config: Arc::clone(config),
            mechanism,
            success_data: transport.success_data,
            state: State::Start,
            steps: 0,
            mech: mech::Server::new(mechanism, config, transport),
            out: SecretBuf::new(),
            b64: SecretBuf::new(),
            shown: Shown::Nothing,
        })
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Start the exchange. `None` means the client sent no initial response; `Some(b"")` means
    /// it sent an empty one (`=` in SMTP, IMAP and POP3).
    pub fn start(&mut self, initial_response: Option<&[u8]>) -> Result<ServerStep<'_>, Error> {
        let kind = self.run(Op::Start(initial_response), false)?;
        Ok(self.view(kind))
    }

    /// [`start`](Self::start) with a base64 initial response; challenges come back base64.
    pub fn start_b64(&mut self, initial_response: Option<&[u8]>) -> Result<ServerStep<'_>, Error> {
        let kind = self.run(Op::Start(initial_response), true)?;
        Ok(self.view(kind))
    }

    /// Pass the client's response to the last challenge.
    pub fn step(&mut self, response: &[u8]) -> Result<ServerStep<'_>, Error> {
        let kind = self.run(Op::Step(response), false)?;
        Ok(self.view(kind))
    }

    /// [`step`](Self::step) with a base64 response; challenges come back base64.
    pub fn step_b64(&mut self, response: &[u8]) -> Result<ServerStep<'_>, Error> {
        let kind = self.run(Op::Step(response), true)?;
        Ok(self.view(kind))
    }

    /// Answer the pending request.
    pub fn answer(&mut self, answer: Answer<'_>) -> Result<ServerStep<'_>, Error> {
        let kind = self.run(Op::Answer(answer), false)?;
        Ok(self.view(kind))
    }

    /// [`answer`](Self::answer), with any challenge that follows given as base64.
    pub fn answer_b64(&mut self, answer: Answer<'_>) -> Result<ServerStep<'_>, Error> {
        let kind = self.run(Op::Answer(answer), true)?;
        Ok(self.view(kind))
    }

    /// One call of the exchange, without building the [`ServerStep`] (the C API asks for the
    /// parts it needs separately). `base64`: the input is base64 text (not an answer's), and
    /// the challenge or success data is encoded too; either way it is then in
    /// [`last_message`](Self::last_message).
    pub(crate) fn run(&mut self, op: Op<'_>, base64: bool) -> Result<Kind, Error> {
        let kind = match op {
            Op::Start(ir) => match ir {
                Some(text) if base64 => {
                    if self.state != State::Start {
                        return Err(Error::InvalidState);
                    }
                    self.decoded(text, |s, ir| s.do_start(Some(ir)))?
                }
                ir => self.do_start(ir)?,
            },
            Op::Step(response) if base64 => {
                if !matches!(self.state, State::Challenged | State::FinalChallenge) {
                    return Err(Error::InvalidState);
                }
                self.decoded(response, Self::do_step)?
            }
            Op::Step(response) => self.do_step(response)?,
            Op::Answer(answer) => self.do_answer(answer)?,
        };
        self.show(kind, base64);
        Ok(kind)
    }

    /// Decode base64 `text` into the scratch buffer and pass it to `f` (a malformed text fails
    /// the exchange).
    fn decoded(
        &mut self,
        text: &[u8],
        f: impl FnOnce(&mut Self, &[u8]) -> Result<Kind, Error>,
    ) -> Result<Kind, Error> {
        let mut buf = core::mem::take(&mut self.b64);
        let kind = match self.decode(text, &mut buf) {
            Ok(()) => f(self, buf.as_slice()),
            Err(failure) => Ok(self.fail(failure)),
        };
        buf.clear();
        self.b64 = buf;
        kind
    }

    /// The client cancelled (`*`). Ends the exchange with [`Failure::Cancelled`].
    pub fn cancel(&mut self) -> Result<Failure, Error> {
        if self.is_finished() {
            return Err(Error::InvalidState);
        }
        match self.fail(Failure::Cancelled) {
            Kind::Failure(f) => Ok(f),
            _ => Err(Error::InvalidState),
        }
    }

    /// The request waiting for an answer, if any.
    pub fn request(&self) -> Option<Request<'_>> {
        match self.state {
            State::PendingMech => self.mech.get().request(self.mechanism),
            State::PendingAuthorize { .. } => {
                let id = self.mech.get().identity()?;
                Some(Request::Authorize(AuthorizeRequest {
                    authcid: id.authcid,
                    authzid: id.authzid?,
                }))
            }
            _ => None,
        }
    }

    /// The bytes the last successful call returned to send: the challenge of a
    /// [`ServerStep::Challenge`] or the data of a [`ServerStep::Success`] (base64 if that call
    /// was a `_b64` one), until the next call that changes the session. `None` if that call
    /// returned a request, success without data or a failure.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use saslmech::{Mechanism, ServerConfig, ServerSession, ServerStep, Transport};
    /// let config = Arc::new(ServerConfig::new().mechanisms(&[Mechanism::Login]));
    /// let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
    /// assert!(matches!(s.start(None).unwrap(), ServerStep::Challenge(b"Username:")));
    /// assert_eq!(s.last_message(), Some(&b"Username:"[..]));
    /// assert!(matches!(s.step(b"tim").unwrap(), ServerStep::Challenge(b"Password:")));
    /// assert!(matches!(s.step(b"tanstaaftanstaaf").unwrap(), ServerStep::Request(_)));
    /// assert_eq!(s.last_message(), None);
    /// ```
    pub fn last_message(&self) -> Option<&[u8]> {
        match self.shown {
            Shown::Nothing => None,
            Shown::Static(c) => Some(c),
            Shown::Out => Some(self.out.as_slice()),
            Shown::B64 => Some(self.b64.as_slice()),
        }
    }

    /// The identity, once the exchange succeeded.
    pub fn identity(&self) -> Option<Identity<'_>> {
        match self.state {
            State::Done { .. } => self.mech.get().identity(),
            _ => None,
        }
    }

    /// ANONYMOUS: the trace information the client sent (possibly empty), once the exchange
    /// succeeded. Log it; the identity is always `anonymous`.
    pub fn anonymous_trace(&self) -> Option<&str> {
        match self.state {
            State::Done { .. } => self.mech.get().anonymous_trace(),
            _ => None,
        }
    }

    /// The failure, once the exchange failed.
    pub fn failure(&self) -> Option<Failure> {
        match self.state {
            State::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// True once the exchange succeeded or failed.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done { .. } | State::Failed(_))
    }

    fn decode(&self, text: &[u8], buf: &mut SecretBuf) -> Result<(), Failure> {
        // Refuse before allocating anything in proportion to the input.
        if text.len() > b64::encoded_len(self.config.max_message) {
            return Err(Failure::TooLarge);
        }
        b64::decode_into(text, buf)
    }

    fn fail(&mut self, failure: Failure) -> Kind {
        self.shown = Shown::Nothing;
        self.out.clear();
        self.mech.get_mut().wipe();
        self.state = State::Failed(failure);
        Kind::Failure(failure)
    }

    fn do_start(&mut self, initial_response: Option<&[u8]>) -> Result<Kind, Error> {
        if self.state != State::Start {
            return Err(Error::InvalidState);
        }
        if let Some(ir) = initial_response {
            if ir.len() > self.config.max_message {
                return Ok(self.fail(Failure::TooLarge));
            }
            self.steps = 1;
        }
        let next = self
            .mech
            .get_mut()
            .start(&self.config, &mut self.out, initial_response);
        Ok(self.advance(next))
    }

    fn do_step(&mut self, response: &[u8]) -> Result<Kind, Error> {
        match self.state {
            State::Challenged => {}
            State::FinalChallenge => {
                // The client acknowledges the success data with an empty response.
                return Ok(if response.is_empty() {
                    self.out.clear();
                    self.state = State::Done { data: false };
                    Kind::Success
                } else {
                    self.fail(Failure::Malformed)
                });
            }
            _ => return Err(Error::InvalidState),
        }
        if response.len() > self.config.max_message {
            return Ok(self.fail(Failure::TooLarge));
        }
        self.steps = self.steps.saturating_add(1);
        if self.steps > self.config.max_steps {
            return Ok(self.fail(Failure::TooManySteps));
        }
        let next = self
            .mech
            .get_mut()
            .step(&self.config, &mut self.out, response);
        Ok(self.advance(next))
    }

    fn do_answer(&mut self, answer: Answer<'_>) -> Result<Kind, Error> {
        match self.state {
            State::PendingMech => {}
            State::PendingAuthorize { data } => {
                return Ok(match answer {
                    Answer::Accept => self.succeed(data),
                    Answer::Reject => self.fail(Failure::AuthzDenied),
                    Answer::TemporaryFailure => self.fail(Failure::TemporaryFailure),
                    _ => return Err(Error::WrongAnswer),
                });
            }
            _ => return Err(Error::InvalidState),
        }
        match answer {
            Answer::TemporaryFailure => return Ok(self.fail(Failure::TemporaryFailure)),
            Answer::AccountDisabled => return Ok(self.fail(Failure::AccountDisabled)),
            _ => {}
        }
        let next = self.mech.get_mut().answer(&mut self.out, answer)?;
        Ok(self.advance(next))
    }

    /// Apply what the mechanism said to the session's state.
    fn advance(&mut self, next: Next) -> Kind {
        match next {
            Next::Challenge => {
                self.state = State::Challenged;
                Kind::Challenge(None)
            }
            Next::StaticChallenge(c) => {
                self.state = State::Challenged;
                Kind::Challenge(Some(c))
            }
            Next::Request => {
                self.state = State::PendingMech;
                Kind::Request
            }
            Next::Success | Next::SuccessData => {
                let data = matches!(next, Next::SuccessData);
                if self.mech.get().needs_authorization() {
                    self.state = State::PendingAuthorize { data };
                    Kind::Request
                } else {
                    self.succeed(data)
                }
            }
            Next::Failure(f) => self.fail(f),
        }
    }

    /// The credentials are verified and any authzid authorized: finish, sending success data
    /// as a final challenge if the transport cannot carry it.
    fn succeed(&mut self, data: bool) -> Kind {
        if data && !self.success_data {
            self.state = State::FinalChallenge;
            Kind::Challenge(None)
        } else {
            self.state = State::Done { data };
            Kind::Success
        }
    }

    /// Note where the bytes to send are (encoding them in base64 mode).
    fn show(&mut self, kind: Kind, base64: bool) {
        let raw: Option<&[u8]> = match kind {
            Kind::Challenge(Some(c)) => Some(c),
            Kind::Challenge(None) => Some(self.out.as_slice()),
            Kind::Success if matches!(self.state, State::Done { data: true }) => {
                Some(self.out.as_slice())
            }
            _ => None,
        };
        if base64 {
            self.b64.clear();
            if let Some(raw) = raw {
                b64::encode_into(raw, &mut self.b64);
            }
        }
        self.shown = match (raw, kind) {
            (None, _) => Shown::Nothing,
            (Some(_), _) if base64 => Shown::B64,
            (Some(_), Kind::Challenge(Some(c))) => Shown::Static(c),
            (Some(_), _) => Shown::Out,
        };
    }

    fn view(&self, kind: Kind) -> ServerStep<'_> {
        let bytes = self.last_message();
        match kind {
            // `show` put every challenge's bytes somewhere.
            Kind::Challenge(_) => match bytes {
                Some(bytes) => ServerStep::Challenge(bytes),
                None => ServerStep::Failure(Failure::Malformed),
            },
            Kind::Request => match self.request() {
                Some(r) => ServerStep::Request(r),
                None => ServerStep::Failure(Failure::Malformed),
            },
            Kind::Success => match self.mech.get().identity() {
                Some(identity) => ServerStep::Success(Success {
                    identity,
                    data: bytes,
                }),
                None => ServerStep::Failure(Failure::Malformed),
            },
            Kind::Failure(f) => ServerStep::Failure(f),
        }
    }
}
