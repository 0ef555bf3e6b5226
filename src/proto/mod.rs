//! Protocol adapters: SMTP AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 9051, RFC 4959) and POP3
//! AUTH (RFC 5034), server side and client side.
//!
//! Each adapter is sans-IO: the caller reads a line from its connection and passes it in; the
//! adapter returns an owned event saying what to write back and what happens next. Nothing
//! here reads a socket, and nothing keeps a borrow across calls, so an adapter can live in any
//! event loop (or behind a C ABI) and be parked while a credential lookup runs elsewhere.
//!
//! * Server side ([`smtp::SmtpServer`], [`imap::ImapServer`], [`pop3::Pop3Server`]): pass the
//!   command line to `command`, each following client line to `line`, and answer each
//!   [`ServerEvent::Request`] with `answer` (now or later). Events carry the exact reply
//!   bytes, CRLF included.
//! * Client side ([`smtp::SmtpClient`], [`imap::ImapClient`], [`pop3::Pop3Client`]): `start`
//!   gives the command to send; pass each server line to `reply` (or `line`) and write what
//!   [`ClientEvent::Send`] holds until [`ClientEvent::Done`].
//!
//! Lines may be passed with or without their CRLF. Arbitrary bytes never panic: bad input is
//! a protocol reply (for the server) or a failed outcome (for the client); a call that does
//! not fit the adapter's state returns [`Error::InvalidState`] and changes nothing.
//!
//! ```
//! use std::sync::Arc;
//! use saslmech::proto::{ServerEvent, smtp::SmtpServer};
//! use saslmech::{Answer, ServerConfig};
//!
//! let mut server = SmtpServer::new(Arc::new(ServerConfig::new()));
//! server.set_tls(true); // after STARTTLS
//! assert_eq!(
//!     server.ehlo_keyword().as_deref(),
//!     Some("AUTH SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 CRAM-MD5 PLAIN LOGIN")
//! );
//!
//! let event = server.command(b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n").unwrap();
//! let ServerEvent::Request(request) = event else { panic!() };
//! assert_eq!(request.user(), "tim");
//! // ... look the user up, perhaps asynchronously, then:
//! match server.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap() {
//!     ServerEvent::Success { reply, identity } => {
//!         assert_eq!(reply, b"235 2.7.0 Authentication successful\r\n");
//!         assert_eq!(identity.authcid, "tim");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```
//!
//! None of the three protocols can carry data with its success reply, so a mechanism that
//! ends with server data (SCRAM's server-final `v=…`) sends it as one more challenge, which
//! the client answers with an empty line before the success reply. The client adapters
//! verify it (for SCRAM, the server's signature) and report `authenticated` only if it holds:
//!
//! ```
//! use std::sync::Arc;
//! use saslmech::proto::{ClientEvent, ServerEvent, smtp::{SmtpClient, SmtpServer}};
//! use saslmech::{Answer, Credentials, Mechanism, ScramHash, ScramKeys, ServerConfig};
//!
//! let keys = ScramKeys::generate(ScramHash::Sha256, b"pencil", 4096).unwrap();
//! let mut server = SmtpServer::new(Arc::new(ServerConfig::new()));
//! let creds = Credentials::new().authcid("user").password(b"pencil");
//! let mut client = SmtpClient::new(Mechanism::ScramSha256, &creds).unwrap();
//!
//! let mut transcript = Vec::new();
//! let mut event = server.command(client.start().unwrap().as_slice()).unwrap();
//! let outcome = loop {
//!     event = match event {
//!         // The stored keys, looked up by user name (never the plaintext password).
//!         ServerEvent::Request(_) => server.answer(Answer::ScramKeys(&keys)).unwrap(),
//!         other => {
//!             let reply = other.reply().unwrap().to_vec();
//!             transcript.push(String::from_utf8_lossy(&reply[..3]).into_owned());
//!             match client.reply(&reply).unwrap() {
//!                 ClientEvent::Send(line) => server.line(line.as_slice()).unwrap(),
//!                 ClientEvent::Done(outcome) => break outcome,
//!                 ClientEvent::More => unreachable!("single-line replies"),
//!                 _ => unreachable!(),
//!             }
//!         }
//!     };
//! };
//! // server-first, server-final (answered with an empty line), then success.
//! assert_eq!(transcript, ["334", "334", "235"]);
//! assert!(outcome.authenticated);
//! ```

use std::sync::Arc;

use crate::client::{ClientConfig, ClientSession, Credentials};
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::secret::SecretBuf;
use crate::server::{Answer, Request, ServerConfig, ServerSession, ServerStep, Transport};

pub mod imap;
pub mod pop3;
pub mod smtp;

/// Who authenticated, as owned strings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthIdentity {
    /// The authentication identity: whose credentials were checked.
    pub authcid: String,
    /// The authorization identity the client asked to act as (already authorized), if any.
    pub authzid: Option<String>,
    /// ANONYMOUS: the trace information the client sent (for logs only: the identity is
    /// always `anonymous`).
    pub trace: Option<String>,
}

impl AuthIdentity {
    /// The identity to act as: the authzid if one was given, else the authcid.
    pub fn effective(&self) -> &str {
        self.authzid.as_deref().unwrap_or(&self.authcid)
    }
}

/// An owned copy of the engine's [`Request`]: what the application must answer before the
/// exchange can go on. It is `Send`, so it can be handed to a lookup thread or task; secrets
/// in it are in zeroizing buffers and never printed.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthRequest {
    /// Check a password (PLAIN, LOGIN): answer [`Answer::Password`] with the stored password,
    /// or [`Answer::Accept`] / [`Answer::Reject`] / [`Answer::UnknownUser`].
    VerifyPassword {
        /// The mechanism asking.
        mechanism: Mechanism,
        /// The user.
        authcid: String,
        /// The identity the user asks to act as, if any (authorized separately afterwards).
        authzid: Option<String>,
        /// The password the client sent.
        password: SecretBuf,
    },
    /// Supply the user's secret (CRAM-MD5, SCRAM): [`Answer::Password`],
    /// [`Answer::CramMd5Keys`] (CRAM-MD5), [`Answer::ScramKeys`] (SCRAM, for the mechanism's
    /// hash) or [`Answer::UnknownUser`].
    Secret {
        /// The mechanism asking.
        mechanism: Mechanism,
        /// The user.
        authcid: String,
    },
    /// Validate a bearer token (XOAUTH2, OAUTHBEARER): a valid token is answered with
    /// [`Answer::TokenOwner`], naming the user it was issued to (the engine compares it with
    /// `user` and asks [`AuthRequest::Authorize`] when they differ); an invalid one with
    /// [`Answer::Reject`] or [`Answer::TokenError`]. A bare [`Answer::Accept`] is refused.
    ValidateToken {
        /// The mechanism asking.
        mechanism: Mechanism,
        /// The user the client names: XOAUTH2's `user=`, OAUTHBEARER's authzid (empty if the
        /// client sent none: then the token alone says who it is).
        user: String,
        /// The token.
        token: SecretBuf,
        /// OAUTHBEARER: the authorization identity of the GS2 header, if any.
        authzid: Option<String>,
        /// OAUTHBEARER: the `host` the client says it connected to, if it said.
        host: Option<String>,
        /// OAUTHBEARER: the `port` the client says it connected to, if it said.
        port: Option<u16>,
    },
    /// May `authcid` act as `authzid`? [`Answer::Accept`] or [`Answer::Reject`].
    Authorize {
        /// Who authenticated.
        authcid: String,
        /// Whom they want to act as.
        authzid: String,
    },
    /// GSSAPI, GS2-KRB5 (feature `gssapi`): which local user is this Kerberos principal, and
    /// may it log in? [`Answer::User`], [`Answer::Accept`] (the principal's own name),
    /// [`Answer::Reject`] or [`Answer::UnknownUser`].
    #[cfg(feature = "gssapi")]
    Principal {
        /// The mechanism asking.
        mechanism: Mechanism,
        /// The authenticated principal (`name@REALM`).
        principal: String,
        /// The authorization identity the client asked for, if any.
        authzid: Option<String>,
    },
}

impl AuthRequest {
    /// The user the request is about (the authcid, or XOAUTH2's user).
    pub fn user(&self) -> &str {
        match self {
            AuthRequest::VerifyPassword { authcid, .. }
            | AuthRequest::Secret { authcid, .. }
            | AuthRequest::Authorize { authcid, .. } => authcid,
            AuthRequest::ValidateToken { user, .. } => user,
            #[cfg(feature = "gssapi")]
            AuthRequest::Principal { principal, .. } => principal,
        }
    }

    fn from_engine(r: &Request<'_>) -> AuthRequest {
        match r {
            Request::VerifyPassword(p) => AuthRequest::VerifyPassword {
                mechanism: p.mechanism(),
                authcid: p.authcid().to_owned(),
                authzid: p.authzid().map(str::to_owned),
                password: SecretBuf::from_slice(p.password()),
            },
            Request::Secret(s) => AuthRequest::Secret {
                mechanism: s.mechanism(),
                authcid: s.authcid().to_owned(),
            },
            Request::ValidateToken(t) => AuthRequest::ValidateToken {
                mechanism: t.mechanism(),
                user: t.user().to_owned(),
                token: SecretBuf::from_slice(t.token()),
                authzid: t.authzid().map(str::to_owned),
                host: t.host().map(str::to_owned),
                port: t.port(),
            },
            Request::Authorize(a) => AuthRequest::Authorize {
                authcid: a.authcid().to_owned(),
                authzid: a.authzid().to_owned(),
            },
            #[cfg(feature = "gssapi")]
            Request::Principal(p) => AuthRequest::Principal {
                mechanism: p.mechanism(),
                principal: p.principal().to_owned(),
                authzid: p.authzid().map(str::to_owned),
            },
        }
    }
}

/// What a server adapter produced. Write the reply bytes (CRLF included) to the client.
#[must_use = "write the reply, answer the request, or act on the outcome"]
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Write this challenge line (`334 …`, `+ …`); pass the client's next line to `line`.
    Challenge(Vec<u8>),
    /// The exchange waits for the application: answer with `answer`, now or later. Lines the
    /// client sends meanwhile must be kept until then.
    Request(AuthRequest),
    /// Write `reply`: the client is authenticated.
    Success {
        /// The success reply (`235 …`, `tag OK …`, `+OK …`).
        reply: Vec<u8>,
        /// Who authenticated.
        identity: AuthIdentity,
    },
    /// Write `reply`: the exchange failed, and the adapter is ready for another attempt.
    Failure {
        /// The failure reply.
        reply: Vec<u8>,
        /// Why (for logs and for counting failed attempts).
        failure: Failure,
    },
    /// Write this reply; no exchange took place (syntax error, already authenticated, a
    /// mechanism list).
    Reply(Vec<u8>),
}

impl ServerEvent {
    /// The bytes to write to the client, if any.
    pub fn reply(&self) -> Option<&[u8]> {
        match self {
            ServerEvent::Challenge(r)
            | ServerEvent::Reply(r)
            | ServerEvent::Success { reply: r, .. }
            | ServerEvent::Failure { reply: r, .. } => Some(r),
            ServerEvent::Request(_) => None,
        }
    }
}

/// Where a server adapter stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// No exchange: the next AUTH command goes to `command`.
    Idle,
    /// A challenge went out: the client's next line goes to `line`.
    Exchange,
    /// A request waits for `answer`.
    Request,
    /// The client authenticated; further AUTH commands are refused.
    Authenticated,
}

/// The protocol-independent result of one server-side call.
#[derive(Debug)]
enum Step {
    /// A base64 challenge.
    Challenge(Vec<u8>),
    Request(AuthRequest),
    Success(AuthIdentity),
    Failure(Failure),
}

enum DriverState {
    Idle,
    Exchange(ServerSession),
    Request(ServerSession),
    Authenticated(AuthIdentity),
}

/// How one protocol words the server's replies. Each is the whole reply, CRLF included.
pub(crate) trait Replies {
    /// What goes before a challenge's base64 (`334 `, `+ `).
    const CHALLENGE: &'static [u8];
    /// The client authenticated.
    fn success(&self) -> Vec<u8>;
    /// The exchange failed.
    fn failure(&self, failure: Failure) -> Vec<u8>;
    /// An AUTH command after a successful one.
    fn already_authenticated(&self) -> Vec<u8>;
    /// An AUTH command with extra arguments, or (by default) with no mechanism.
    fn syntax(&self) -> Vec<u8>;
    /// An AUTH command with no mechanism, given the mechanisms offered now.
    fn no_mechanism(&self, offered: impl Iterator<Item = Mechanism>) -> Vec<u8> {
        let _ = offered;
        self.syntax()
    }
}

/// The server side shared by the three protocols: mechanism lookup, base64, `*`, requests,
/// line limits, what state follows each outcome, and the reply for each outcome in the
/// words of `R`. The protocol files keep their command syntax and their replies.
pub(crate) struct ServerDriver<R> {
    config: Arc<ServerConfig>,
    /// Always without success data: none of the three protocols can carry it.
    transport: Transport,
    state: DriverState,
    /// The longest line accepted, in octets without CRLF.
    max_line: usize,
    pub(crate) replies: R,
}

impl<R: Replies> ServerDriver<R> {
    pub(crate) fn new(config: Arc<ServerConfig>, replies: R, max_line: usize) -> Self {
        ServerDriver {
            config,
            transport: Transport::plaintext().with_success_data(false),
            state: DriverState::Idle,
            max_line,
            replies,
        }
    }

    pub(crate) fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line;
    }

    pub(crate) fn set_tls(&mut self, tls: bool) {
        let transport = if tls {
            Transport::tls()
        } else {
            Transport::plaintext()
        };
        self.set_transport(transport);
    }

    pub(crate) fn set_transport(&mut self, transport: Transport) {
        self.transport = transport.with_success_data(false);
        self.state = DriverState::Idle;
    }

    pub(crate) fn reset(&mut self) {
        self.state = DriverState::Idle;
    }

    pub(crate) fn phase(&self) -> Phase {
        match self.state {
            DriverState::Idle => Phase::Idle,
            DriverState::Exchange(_) => Phase::Exchange,
            DriverState::Request(_) => Phase::Request,
            DriverState::Authenticated(_) => Phase::Authenticated,
        }
    }

    pub(crate) fn identity(&self) -> Option<&AuthIdentity> {
        match &self.state {
            DriverState::Authenticated(id) => Some(id),
            _ => None,
        }
    }

    /// The adapter's `Debug`: where it stands, never what it holds.
    pub(crate) fn debug(&self, name: &str, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct(name)
            .field("phase", &self.phase())
            .field("tls", &self.transport.tls)
            .finish_non_exhaustive()
    }

    /// The mechanisms to advertise now: those the policy allows on this transport (the
    /// `-PLUS` mechanisms only with channel-binding data, EXTERNAL only with an external
    /// identity).
    pub(crate) fn offered(&self) -> impl Iterator<Item = Mechanism> + '_ {
        self.config.offered_on(&self.transport)
    }

    /// Refuse a command during an exchange (before the line is even looked at).
    pub(crate) fn expect_command(&self) -> Result<(), Error> {
        match self.phase() {
            Phase::Exchange | Phase::Request => Err(Error::InvalidState),
            Phase::Idle | Phase::Authenticated => Ok(()),
        }
    }

    /// An AUTH command the protocol has parsed: `line` is the whole command without CRLF,
    /// `args` what follows its verb (`<mechanism> [<initial-response> | =]`).
    pub(crate) fn command(&mut self, line: &[u8], args: &[u8]) -> ServerEvent {
        if self.phase() == Phase::Authenticated {
            return ServerEvent::Reply(self.replies.already_authenticated());
        }
        if line.len() > self.max_line {
            return self.abort(Failure::TooLarge);
        }
        let (mechanism, rest) = word(args);
        let (ir, extra) = word(rest);
        if mechanism.is_empty() {
            return ServerEvent::Reply(self.replies.no_mechanism(self.offered()));
        }
        // Not a name at all (RFC 4422 §3.1 `sasl-mech`: NUL, controls, octets above 0x7F and
        // punctuation included) is a syntax error; a well-formed name the server does not
        // offer is an unknown mechanism (`begin`). Such octets in an initial response are
        // invalid base64 (`start_b64`).
        if !extra.is_empty() || !is_mechanism_name(mechanism) {
            return ServerEvent::Reply(self.replies.syntax());
        }
        let step = self.begin(mechanism, (!ir.is_empty()).then_some(ir));
        self.event(step)
    }

    /// Begin an exchange. `ir` is the initial response as sent (`=` for an empty one).
    fn begin(&mut self, name: &[u8], ir: Option<&[u8]>) -> Step {
        let Some(mechanism) = Mechanism::from_name(name) else {
            return Step::Failure(Failure::MechanismUnavailable);
        };
        let mut session = match ServerSession::new(&self.config, mechanism, &self.transport) {
            Ok(s) => s,
            Err(f) => return Step::Failure(f),
        };
        let ir = ir.map(|text| if text == b"=" { &b""[..] } else { text });
        let step = own(session.start_b64(ir)).unwrap_or_else(misuse);
        self.keep(session, step)
    }

    /// A client line during the exchange (with or without CRLF).
    pub(crate) fn line(&mut self, line: &[u8]) -> Result<ServerEvent, Error> {
        let mut session = match core::mem::replace(&mut self.state, DriverState::Idle) {
            DriverState::Exchange(s) => s,
            other => {
                self.state = other;
                return Err(Error::InvalidState);
            }
        };
        let line = strip_eol(line);
        let step = if line.len() > self.max_line {
            Step::Failure(Failure::TooLarge)
        } else if line == b"*" {
            Step::Failure(session.cancel().unwrap_or(Failure::Cancelled))
        } else {
            let step = own(session.step_b64(line)).unwrap_or_else(misuse);
            self.keep(session, step)
        };
        Ok(self.event(step))
    }

    /// The application's answer to the pending request.
    pub(crate) fn answer(&mut self, answer: Answer<'_>) -> Result<ServerEvent, Error> {
        let mut session = match core::mem::replace(&mut self.state, DriverState::Idle) {
            DriverState::Request(s) => s,
            other => {
                self.state = other;
                return Err(Error::InvalidState);
            }
        };
        match own(session.answer_b64(answer)) {
            Ok(step) => {
                let step = self.keep(session, step);
                Ok(self.event(step))
            }
            Err(e) => {
                // Misuse (a wrong kind of answer): the request is still pending.
                self.state = DriverState::Request(session);
                Err(e)
            }
        }
    }

    /// End the current exchange (line too long).
    fn abort(&mut self, failure: Failure) -> ServerEvent {
        self.state = DriverState::Idle;
        self.event(Step::Failure(failure))
    }

    /// Keep the session if the exchange goes on.
    fn keep(&mut self, session: ServerSession, mut step: Step) -> Step {
        self.state = match &mut step {
            Step::Challenge(_) => DriverState::Exchange(session),
            Step::Request(_) => DriverState::Request(session),
            Step::Success(id) => {
                id.trace = session.anonymous_trace().map(str::to_owned);
                DriverState::Authenticated(id.clone())
            }
            Step::Failure(_) => DriverState::Idle,
        };
        step
    }

    /// The step in the protocol's words.
    fn event(&self, step: Step) -> ServerEvent {
        match step {
            Step::Challenge(c) => ServerEvent::Challenge(reply(&[R::CHALLENGE, &c])),
            Step::Request(r) => ServerEvent::Request(r),
            Step::Success(identity) => ServerEvent::Success {
                reply: self.replies.success(),
                identity,
            },
            Step::Failure(failure) => ServerEvent::Failure {
                reply: self.replies.failure(failure),
                failure,
            },
        }
    }
}

/// A call the engine refused where none can be refused: end the exchange rather than guess.
fn misuse(e: Error) -> Step {
    Step::Failure(e.failure().unwrap_or(Failure::Malformed))
}

/// Turn the engine's borrowed step into an owned one.
fn own(result: Result<ServerStep<'_>, Error>) -> Result<Step, Error> {
    Ok(match result? {
        ServerStep::Challenge(c) => Step::Challenge(c.to_vec()),
        ServerStep::Request(r) => Step::Request(AuthRequest::from_engine(&r)),
        ServerStep::Success(ok) => Step::Success(AuthIdentity {
            authcid: ok.identity.authcid().to_owned(),
            authzid: ok.identity.authzid().map(str::to_owned),
            trace: None,
        }),
        ServerStep::Failure(f) => Step::Failure(f),
    })
}

/// What a client adapter produced.
#[must_use = "send the bytes, read another line, or act on the outcome"]
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// Write these bytes (a response line, CRLF included) and pass the server's next line in.
    /// The buffer is wiped when dropped: responses carry passwords.
    Send(SecretBuf),
    /// Nothing to write; pass the server's next line in (a multi-line reply goes on, or an
    /// unrelated untagged response arrived).
    More,
    /// The exchange is over.
    Done(ClientOutcome),
}

/// How a client-side exchange ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOutcome {
    /// True if the server accepted the client and the client has nothing against the server.
    pub authenticated: bool,
    /// The server's status: the SMTP reply code (`235`, `535`), IMAP's `OK`/`NO`/`BAD`, POP3's
    /// `+OK`/`-ERR`. Empty if the server's reply could not be parsed.
    pub status: String,
    /// The server's text after the status (an SMTP multi-line reply's lines joined by `\n`).
    pub text: String,
    /// Why it failed: the client's own reason if it gave up (for example a challenge it could
    /// not parse), else the failure the server's reply indicates.
    pub failure: Option<Failure>,
}

impl ClientOutcome {
    /// The SMTP reply code, if the status is one.
    pub fn smtp_code(&self) -> Option<u16> {
        self.status.parse().ok()
    }

    fn malformed(text: &str) -> Self {
        ClientOutcome {
            authenticated: false,
            status: String::new(),
            text: text.to_owned(),
            failure: Some(Failure::Malformed),
        }
    }
}

/// Client-side states shared by the three protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    Start,
    Exchange,
    /// The client sent `*`; the server's failure reply comes next.
    Cancelled(Failure),
    Done,
}

/// At most this many challenges in one exchange before the client gives up.
const MAX_CHALLENGES: u16 = 32;

/// The client-side exchange shared by the three protocols. Responses are one base64 line,
/// cancellation is `*`, in all three.
pub(crate) struct ClientDriver {
    session: ClientSession,
    state: ClientState,
    challenges: u16,
    /// An initial response that did not go with the command: sent at the first (empty)
    /// challenge.
    deferred: Option<SecretBuf>,
}

impl ClientDriver {
    pub(crate) fn new(
        mechanism: Mechanism,
        credentials: &Credentials<'_>,
        config: &ClientConfig,
    ) -> Result<Self, Error> {
        Ok(ClientDriver {
            session: ClientSession::with_config(mechanism, credentials, config)?,
            state: ClientState::Start,
            challenges: 0,
            deferred: None,
        })
    }

    pub(crate) fn mechanism(&self) -> Mechanism {
        self.session.mechanism()
    }

    /// Build the command: `prefix` (`AUTH PLAIN`, `a1 AUTHENTICATE PLAIN`), then ` <initial
    /// response>` if there is one, `use_ir` allows it and the whole line with CRLF fits in
    /// `max_line` octets, then CRLF.
    pub(crate) fn start(
        &mut self,
        prefix: &str,
        use_ir: bool,
        max_line: usize,
    ) -> Result<SecretBuf, Error> {
        if self.state != ClientState::Start {
            return Err(Error::InvalidState);
        }
        let ir = self.session.start_b64()?.map(SecretBuf::from_slice);
        self.state = ClientState::Exchange;
        let mut line =
            SecretBuf::with_capacity(prefix.len() + 3 + ir.as_ref().map_or(0, SecretBuf::len));
        line.extend(prefix.as_bytes());
        if let Some(ir) = ir {
            let text: &[u8] = if ir.is_empty() { b"=" } else { ir.as_slice() };
            if use_ir && prefix.len() + 1 + text.len() + 2 <= max_line {
                line.push(b' ');
                line.extend(text);
            } else {
                self.deferred = Some(ir);
            }
        }
        line.extend(b"\r\n");
        Ok(line)
    }

    pub(crate) fn check_running(&self) -> Result<(), Error> {
        match self.state {
            ClientState::Exchange | ClientState::Cancelled(_) => Ok(()),
            ClientState::Start | ClientState::Done => Err(Error::InvalidState),
        }
    }

    /// A challenge (base64 text) from the server.
    pub(crate) fn challenge(&mut self, b64: &[u8]) -> ClientEvent {
        if let ClientState::Cancelled(_) = self.state {
            self.state = ClientState::Done;
            return ClientEvent::Done(ClientOutcome::malformed(
                "server sent a challenge after the client cancelled",
            ));
        }
        self.challenges = self.challenges.saturating_add(1);
        if self.challenges > MAX_CHALLENGES {
            return self.cancel(Failure::TooManySteps);
        }
        if let Some(ir) = self.deferred.take() {
            return if b64.is_empty() {
                ClientEvent::Send(line_of(ir.as_slice()))
            } else {
                self.cancel(Failure::Malformed)
            };
        }
        match self.session.step_b64(b64) {
            Ok(response) => ClientEvent::Send(line_of(response)),
            Err(e) => self.cancel(e.failure().unwrap_or(Failure::Malformed)),
        }
    }

    fn cancel(&mut self, failure: Failure) -> ClientEvent {
        self.state = ClientState::Cancelled(failure);
        ClientEvent::Send(SecretBuf::from_slice(b"*\r\n"))
    }

    /// The server reported success.
    pub(crate) fn success(&mut self, status: &str, text: &str) -> ClientEvent {
        let prior = self.state;
        self.state = ClientState::Done;
        let failure = match prior {
            ClientState::Cancelled(f) => Some(f),
            _ if self.deferred.is_some() => Some(Failure::ServerAuthentication),
            _ => self
                .session
                .finish(None)
                .err()
                .map(|e| e.failure().unwrap_or(Failure::Malformed)),
        };
        ClientEvent::Done(ClientOutcome {
            authenticated: failure.is_none(),
            status: status.to_owned(),
            text: text.to_owned(),
            failure,
        })
    }

    /// The server reported failure; `indicated` is what its reply says.
    pub(crate) fn failure(&mut self, status: &str, text: &str, indicated: Failure) -> ClientEvent {
        let failure = match self.state {
            ClientState::Cancelled(f) => f,
            _ => indicated,
        };
        self.state = ClientState::Done;
        ClientEvent::Done(ClientOutcome {
            authenticated: false,
            status: status.to_owned(),
            text: text.to_owned(),
            failure: Some(failure),
        })
    }

    /// The server's reply could not be understood.
    pub(crate) fn garbled(&mut self) -> ClientEvent {
        self.state = ClientState::Done;
        ClientEvent::Done(ClientOutcome::malformed("unparseable server reply"))
    }
}

/// `text` CRLF, in a wiped-on-drop buffer.
fn line_of(text: &[u8]) -> SecretBuf {
    let mut line = SecretBuf::with_capacity(text.len() + 2);
    line.extend(text);
    line.extend(b"\r\n");
    line
}

/// Strip one trailing LF and then one CR.
pub(crate) fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Split off the first space-separated word; the rest has its leading spaces removed.
pub(crate) fn word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|b| *b == b' ') {
        Some(i) => {
            let (w, rest) = s.split_at(i);
            let rest = rest
                .iter()
                .position(|b| *b != b' ')
                .map_or(&b""[..], |j| rest.get(j..).unwrap_or_default());
            (w, rest)
        }
        None => (s, &b""[..]),
    }
}

/// True for a SASL mechanism name as RFC 4422 §3.1 spells it (`sasl-mech`): 1 to 20 of
/// `A-Z 0-9 - _`. Lower-case letters are accepted too, as [`Mechanism::from_name`] matches
/// names without regard to case (clients do send `auth login`).
pub(crate) fn is_mechanism_name(name: &[u8]) -> bool {
    (1..=20).contains(&name.len())
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// Reply text for a line: printable ASCII only, so that nothing a peer sent can break the
/// framing or a terminal.
pub(crate) fn lossy(text: &[u8]) -> String {
    text.iter()
        .map(|b| {
            if (0x20..0x7f).contains(b) {
                char::from(*b)
            } else {
                '?'
            }
        })
        .collect()
}

/// `parts` concatenated, then CRLF.
pub(crate) fn reply(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 2);
    for p in parts {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(b"\r\n");
    out
}
