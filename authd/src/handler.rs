//! One client connection's requests, driven through the engine with no I/O.
//!
//! [`Handler::line`] takes one protocol line and writes any reply into the caller's buffer;
//! when the engine needs a password check, a secret or a token validation it returns
//! [`Event::Lookup`], and the caller (the tokio glue, or a test) answers later with
//! [`Handler::answer`]. Requests are independent: many can be in flight, each answered in any
//! order. A request that failed stays reserved until the caller wrote its `FAIL` (perhaps after
//! the failure delay) and called [`Handler::release`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use saslmech::{
    Answer, Error, Failure, Mechanism, Request, SecretBuf, ServerConfig, ServerSession, ServerStep,
    Transport,
};

use crate::protocol::{self, ClientLine, Fail, InitialResponse};

/// Dovecot's text for a plaintext mechanism refused on an insecure connection.
pub const PLAINTEXT_DISABLED: &str =
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.";

/// The usual service names without an allocation per request.
fn intern_service(service: &str) -> Cow<'static, str> {
    match service {
        "smtp" => Cow::Borrowed("smtp"),
        "submission" => Cow::Borrowed("submission"),
        "imap" => Cow::Borrowed("imap"),
        "pop3" => Cow::Borrowed("pop3"),
        "sieve" => Cow::Borrowed("sieve"),
        other => Cow::Owned(other.to_owned()),
    }
}

/// `CONT` lines for unknown ids tolerated per connection (each answered with `FAIL`, as
/// Dovecot does for requests that timed out); more end the connection.
pub const MAX_UNKNOWN_CONTS: u32 = 16;

/// What the engine needs from the backend to go on with a request.
#[derive(Debug)]
pub enum Lookup {
    /// Check `password` for `user` (PLAIN, LOGIN).
    Password {
        /// The request id.
        id: u32,
        /// The authentication identity.
        user: String,
        /// The password the client sent (wiped on drop).
        password: SecretBuf,
    },
    /// The stored secret of `user` for `mechanism` (CRAM-MD5, SCRAM).
    Secret {
        /// The request id.
        id: u32,
        /// The authentication identity.
        user: String,
        /// The mechanism asking.
        mechanism: Mechanism,
    },
    /// Validate a bearer token (XOAUTH2, OAUTHBEARER).
    Token {
        /// The request id.
        id: u32,
        /// The user the client named (may be empty for OAUTHBEARER).
        user: String,
        /// The token (wiped on drop).
        token: SecretBuf,
        /// The mechanism asking.
        mechanism: Mechanism,
    },
}

impl Lookup {
    /// The request id.
    pub fn id(&self) -> u32 {
        match self {
            Lookup::Password { id, .. } | Lookup::Secret { id, .. } | Lookup::Token { id, .. } => {
                *id
            }
        }
    }
}

/// How a request ended, for the log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Authenticated.
    Ok,
    /// Failed with this engine failure.
    Failed(Failure),
    /// Refused by the daemon before or outside the engine (unknown mechanism, internal error).
    Refused(&'static str),
}

/// A finished request: what to log, and for a failure the reply still to write.
#[derive(Debug)]
pub struct Finished {
    /// The request id.
    pub id: u32,
    /// `service=`.
    pub service: Cow<'static, str>,
    /// The mechanism name as the client sent it.
    pub mechanism: Cow<'static, str>,
    /// The user, if the exchange got as far as naming one.
    pub user: Option<String>,
    /// `rip=`.
    pub remote_ip: Option<IpAddr>,
    /// `no-penalty`.
    pub no_penalty: bool,
    /// How it ended.
    pub outcome: Outcome,
    /// A note from the backend (why a lookup refused), for the log.
    pub note: Option<&'static str>,
    /// How long the request took so far.
    pub duration: Duration,
    /// For a failure: the reply to write (then call [`Handler::release`]). `None` for success
    /// (the `OK` is already written).
    pub fail: Option<Fail>,
}

/// What the caller must do after a call.
#[derive(Debug)]
pub enum Event {
    /// Nothing more (any reply is in the output buffer).
    Nothing,
    /// Answer this lookup with [`Handler::answer`].
    Lookup(Lookup),
    /// A request ended.
    Finished(Finished),
    /// The client broke the protocol: log this and close the connection.
    Close(String),
}

/// The backend's answer to a [`Lookup`], owned so it can come back from another task.
pub enum Owned {
    /// Password or token valid, authorization allowed.
    Accept,
    /// Wrong password, invalid token.
    Reject,
    /// No such user (or the stored scheme cannot serve the mechanism: the same to the client).
    UnknownUser,
    /// The backend could not answer now.
    Temporary,
    /// CRAM-MD5: the stored plaintext.
    Password(SecretBuf),
    /// CRAM-MD5's stored state.
    CramMd5(saslmech::CramMd5Keys),
    /// SCRAM keys (boxed: with room for SCRAM-SHA-512's 64-byte keys they are several times
    /// the size of the other answers).
    Scram(Box<saslmech::ScramKeys>),
    /// A valid token belonging to this user.
    TokenOwner(String),
    /// An invalid token: the error challenge's status.
    TokenError(&'static str),
}

impl std::fmt::Debug for Owned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Owned::Accept => "Accept",
            Owned::Reject => "Reject",
            Owned::UnknownUser => "UnknownUser",
            Owned::Temporary => "Temporary",
            Owned::Password(_) => "Password(<redacted>)",
            Owned::CramMd5(_) => "CramMd5(<redacted>)",
            Owned::Scram(_) => "Scram(<redacted>)",
            Owned::TokenOwner(_) => "TokenOwner",
            Owned::TokenError(_) => "TokenError",
        })
    }
}

impl Owned {
    /// The engine answer borrowing from this.
    pub fn as_answer(&self) -> Answer<'_> {
        match self {
            Owned::Accept => Answer::Accept,
            Owned::Reject => Answer::Reject,
            Owned::UnknownUser => Answer::UnknownUser,
            Owned::Temporary => Answer::TemporaryFailure,
            Owned::Password(p) => Answer::Password(p.as_slice()),
            Owned::CramMd5(k) => Answer::CramMd5Keys(k),
            Owned::Scram(k) => Answer::ScramKeys(k),
            Owned::TokenOwner(u) => Answer::TokenOwner(u),
            Owned::TokenError(status) => Answer::TokenError(saslmech::TokenError {
                status,
                scope: None,
            }),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A challenge went out; a `CONT` comes next.
    Challenged,
    /// A lookup is out; an answer comes next.
    Pending,
    /// Failed; the `FAIL` is not written yet.
    Closing,
}

struct Req {
    session: Option<ServerSession>,
    state: State,
    service: Cow<'static, str>,
    mechanism: Cow<'static, str>,
    user: Option<String>,
    remote_ip: Option<IpAddr>,
    no_penalty: bool,
    final_resp_ok: bool,
    started: Instant,
    last_activity: Instant,
    note: Option<&'static str>,
    /// The login name the passdb reports instead of the client's (SQL `user` column).
    login: Option<String>,
}

/// Hashes a request id for the per-connection map: one multiplication instead of SipHash.
/// Ids are the client's choice, but a connection holds at most
/// [`Limits::max_requests`] of them, so colliding ids cost the client only its own time.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (u64::from(n) ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Requests = HashMap<u32, Req, std::hash::BuildHasherDefault<IdHasher>>;

/// Limits of one connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests in flight (including failures whose reply is delayed).
    pub max_requests: usize,
}

/// One connection's protocol state and requests.
pub struct Handler {
    engine: Arc<ServerConfig>,
    limits: Limits,
    version_seen: bool,
    requests: Requests,
    unknown_conts: u32,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("version_seen", &self.version_seen)
            .field("requests", &self.requests.len())
            .finish_non_exhaustive()
    }
}

fn fail_for(failure: Failure, user: Option<String>) -> Fail {
    let reason = match failure {
        Failure::BadCredentials | Failure::AccountDisabled | Failure::AuthzDenied => None,
        Failure::EncryptionRequired => Some(PLAINTEXT_DISABLED),
        Failure::MechanismUnavailable | Failure::MechanismTooWeak => {
            Some("Unsupported authentication mechanism.")
        }
        Failure::Cancelled => Some("Authentication aborted by client."),
        Failure::InvalidBase64 => Some("Invalid base64 data."),
        Failure::TemporaryFailure => Some("Temporary authentication failure."),
        other => Some(other.as_str()),
    };
    Fail {
        user,
        reason,
        temp: failure.is_temporary(),
    }
}

impl Handler {
    /// A handler for one connection whose handshake offered `engine`'s mechanisms.
    pub fn new(engine: Arc<ServerConfig>, limits: Limits) -> Handler {
        Handler {
            engine,
            limits,
            version_seen: false,
            requests: Requests::default(),
            unknown_conts: 0,
        }
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.requests.len()
    }

    /// The ids of the requests in flight (to log them if the connection closes).
    pub fn request_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.requests.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// `rip=` and `no-penalty` of request `id` (for the throttle).
    pub fn request_origin(&self, id: u32) -> (Option<IpAddr>, bool) {
        self.requests
            .get(&id)
            .map_or((None, true), |r| (r.remote_ip, r.no_penalty))
    }

    /// `service=` of request `id` (empty if unknown).
    pub fn request_service(&self, id: u32) -> Cow<'static, str> {
        // The usual names are borrowed: no allocation per request.
        self.requests
            .get(&id)
            .map_or(Cow::Borrowed(""), |r| r.service.clone())
    }

    /// The passdb names the user differently: report `name` in the `OK` of request `id`
    /// if it succeeds.
    pub fn set_login(&mut self, id: u32, name: String) {
        if let Some(r) = self.requests.get_mut(&id) {
            r.login = Some(name);
        }
    }

    /// True if no request waits for a lookup answer or a reply to be written.
    pub fn is_idle(&self) -> bool {
        self.requests.values().all(|r| r.state == State::Challenged)
    }

    /// Process one line (without its LF). Replies go to `out`.
    pub fn line(&mut self, line: &[u8], now: Instant, out: &mut Vec<u8>) -> Event {
        let parsed = match protocol::parse_line(line) {
            Ok(p) => p,
            Err(e) => return Event::Close(format!("protocol error: {e}")),
        };
        match parsed {
            ClientLine::Version { major, .. } => {
                if major != protocol::VERSION_MAJOR {
                    return Event::Close(format!("unsupported protocol major version {major}"));
                }
                self.version_seen = true;
                Event::Nothing
            }
            ClientLine::Cpid(_) => Event::Nothing,
            _ if !self.version_seen => {
                Event::Close("protocol error: request before VERSION".to_owned())
            }
            ClientLine::Auth(auth) => {
                if self.requests.contains_key(&auth.id) {
                    return Event::Close(format!(
                        "protocol error: duplicate request id {}",
                        auth.id
                    ));
                }
                if self.requests.len() >= self.limits.max_requests {
                    return Event::Close(format!(
                        "too many requests in flight (limit {})",
                        self.limits.max_requests
                    ));
                }
                let known = Mechanism::from_name(auth.mechanism.as_bytes());
                let mut req = Req {
                    session: None,
                    state: State::Challenged,
                    service: intern_service(auth.service),
                    mechanism: match known {
                        Some(m) => Cow::Borrowed(m.name()),
                        None => Cow::Owned(auth.mechanism.to_owned()),
                    },
                    user: None,
                    remote_ip: auth.remote_ip,
                    no_penalty: auth.no_penalty,
                    final_resp_ok: auth.final_resp_ok,
                    started: now,
                    last_activity: now,
                    note: None,
                    login: None,
                };
                let transport = if auth.secured {
                    Transport::tls()
                } else {
                    Transport::plaintext()
                }
                .with_success_data(auth.final_resp_ok);
                let mechanism = known.ok_or(Failure::MechanismUnavailable);
                let session =
                    mechanism.and_then(|m| ServerSession::new(&self.engine, m, &transport));
                let mut session = match session {
                    Ok(s) => s,
                    Err(f) => {
                        req.state = State::Closing;
                        return self.finish(auth.id, req, Outcome::Failed(f), now);
                    }
                };
                let step = match auth.initial_response {
                    InitialResponse::None => session.start_b64(None),
                    InitialResponse::Empty => session.start_b64(Some(b"")),
                    InitialResponse::Base64(text) => session.start_b64(Some(text)),
                };
                let kind = StepKind::of(step);
                req.session = Some(session);
                self.requests.insert(auth.id, req);
                self.after_step(auth.id, kind, now, out)
            }
            ClientLine::Cont { id, data } => {
                let Some(req) = self.requests.get_mut(&id) else {
                    self.unknown_conts = self.unknown_conts.saturating_add(1);
                    if self.unknown_conts > MAX_UNKNOWN_CONTS {
                        return Event::Close(format!(
                            "protocol error: more than {MAX_UNKNOWN_CONTS} CONT lines for unknown request ids"
                        ));
                    }
                    protocol::write_fail(
                        out,
                        id,
                        &Fail {
                            reason: Some("Authentication request timed out"),
                            ..Fail::default()
                        },
                    );
                    // As in Dovecot: the request may have timed out; only this id ends.
                    return Event::Finished(Finished {
                        id,
                        service: Cow::Borrowed(""),
                        mechanism: Cow::Borrowed(""),
                        user: None,
                        remote_ip: None,
                        no_penalty: true,
                        outcome: Outcome::Refused("CONT for an unknown request id"),
                        note: None,
                        duration: Duration::ZERO,
                        fail: None,
                    });
                };
                match req.state {
                    State::Challenged => {}
                    // The failure is decided; the reply is on its way.
                    State::Closing => return Event::Nothing,
                    State::Pending => {
                        req.state = State::Closing;
                        return self.end(
                            id,
                            Outcome::Refused("CONT while a lookup was pending"),
                            now,
                        );
                    }
                }
                req.last_activity = now;
                let kind = match req.session.as_mut() {
                    Some(s) => StepKind::of(s.step_b64(data)),
                    None => StepKind::Internal,
                };
                self.after_step(id, kind, now, out)
            }
        }
    }

    /// Answer the lookup of request `id`. `note` explains a refusal in the log.
    pub fn answer(
        &mut self,
        id: u32,
        answer: Answer<'_>,
        note: Option<&'static str>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Event {
        let Some(req) = self.requests.get_mut(&id) else {
            return Event::Nothing;
        };
        if req.state != State::Pending {
            return Event::Nothing;
        }
        req.last_activity = now;
        req.note = note;
        let kind = match req.session.as_mut() {
            Some(s) => match s.answer_b64(answer) {
                // Engines that take the token's owner only for OAUTHBEARER refuse it for
                // XOAUTH2 (and leave the session as it was): then make the same owner check
                // here — the token must belong to the user the client named.
                Err(Error::WrongAnswer) => match (answer, s.request()) {
                    (Answer::TokenOwner(owner), Some(Request::ValidateToken(t))) => {
                        let verdict = if !t.user().is_empty() && t.user() == owner {
                            Answer::Accept
                        } else {
                            Answer::Reject
                        };
                        StepKind::of(s.answer_b64(verdict))
                    }
                    _ => StepKind::Internal,
                },
                step => StepKind::of(step),
            },
            None => StepKind::Internal,
        };
        self.after_step(id, kind, now, out)
    }

    /// The `FAIL` of request `id` has been written: forget it.
    pub fn release(&mut self, id: u32) {
        if self
            .requests
            .get(&id)
            .is_some_and(|r| r.state == State::Closing)
        {
            self.requests.remove(&id);
        }
    }

    /// End requests waiting for the client's `CONT` longer than `timeout`.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<Finished> {
        let ids: Vec<u32> = self
            .requests
            .iter()
            .filter(|(_, r)| {
                r.state == State::Challenged
                    && now.saturating_duration_since(r.last_activity) >= timeout
            })
            .map(|(id, _)| *id)
            .collect();
        let mut done = Vec::new();
        for id in ids {
            if let Event::Finished(f) = self.end(id, Outcome::Refused("request timed out"), now) {
                done.push(f);
            }
        }
        done
    }

    fn end(&mut self, id: u32, outcome: Outcome, now: Instant) -> Event {
        match self.requests.remove(&id) {
            Some(mut req) => {
                req.session = None;
                req.state = State::Closing;
                self.finish(id, req, outcome, now)
            }
            None => Event::Nothing,
        }
    }

    /// Record a finished request (a failure keeps its slot until `release`).
    fn finish(&mut self, id: u32, mut req: Req, outcome: Outcome, now: Instant) -> Event {
        let fail = match outcome {
            Outcome::Ok => None,
            Outcome::Failed(f) => Some(fail_for(f, req.user.clone())),
            Outcome::Refused(why) => Some(Fail {
                user: req.user.clone(),
                reason: Some(if why == "request timed out" {
                    "Authentication request timed out"
                } else {
                    "Internal authentication failure"
                }),
                temp: why != "request timed out",
            }),
        };
        let finished = Finished {
            id,
            service: std::mem::take(&mut req.service),
            mechanism: std::mem::take(&mut req.mechanism),
            user: req.user.take(),
            remote_ip: req.remote_ip,
            no_penalty: req.no_penalty,
            outcome,
            note: req.note,
            duration: now.saturating_duration_since(req.started),
            fail,
        };
        if finished.fail.is_some() {
            req.session = None;
            req.state = State::Closing;
            self.requests.insert(id, req);
        }
        Event::Finished(finished)
    }

    fn after_step(&mut self, id: u32, kind: StepKind, now: Instant, out: &mut Vec<u8>) -> Event {
        let Some(mut req) = self.requests.remove(&id) else {
            return Event::Nothing;
        };
        let kind = match kind {
            // No master users: an authzid other than the authcid is refused.
            StepKind::Authorize => match req.session.as_mut() {
                Some(s) => StepKind::of(s.answer_b64(Answer::Reject)),
                None => StepKind::Internal,
            },
            k => k,
        };
        match kind {
            StepKind::Challenge => {
                let data = req
                    .session
                    .as_ref()
                    .and_then(|s| s.last_message())
                    .unwrap_or_default();
                protocol::write_cont(out, id, data);
                req.state = State::Challenged;
                self.requests.insert(id, req);
                Event::Nothing
            }
            StepKind::Lookup => {
                let lookup = req.session.as_ref().and_then(|s| s.request()).and_then(
                    |r| -> Option<Lookup> {
                        match r {
                            Request::VerifyPassword(p) => Some(Lookup::Password {
                                id,
                                user: p.authcid().to_owned(),
                                password: SecretBuf::from_slice(p.password()),
                            }),
                            Request::Secret(s) => Some(Lookup::Secret {
                                id,
                                user: s.authcid().to_owned(),
                                mechanism: s.mechanism(),
                            }),
                            Request::ValidateToken(t) => Some(Lookup::Token {
                                id,
                                user: t.user().to_owned(),
                                token: SecretBuf::from_slice(t.token()),
                                mechanism: t.mechanism(),
                            }),
                            _ => None,
                        }
                    },
                );
                match lookup {
                    Some(l) => {
                        req.user = match &l {
                            Lookup::Password { user, .. }
                            | Lookup::Secret { user, .. }
                            | Lookup::Token { user, .. } => {
                                Some(user.clone()).filter(|u| !u.is_empty())
                            }
                        };
                        req.state = State::Pending;
                        self.requests.insert(id, req);
                        Event::Lookup(l)
                    }
                    None => self.finish(id, req, Outcome::Refused("unexpected request"), now),
                }
            }
            StepKind::Success => {
                let login = req.login.take();
                let (user, data) = match req.session.as_ref() {
                    Some(s) => (
                        login.or_else(|| s.identity().map(|i| i.effective().to_owned())),
                        s.last_message().map(<[u8]>::to_vec),
                    ),
                    None => (None, None),
                };
                match user {
                    Some(u) if !u.is_empty() && protocol::is_safe_value(&u) => {
                        let data = data.filter(|_| req.final_resp_ok);
                        protocol::write_ok(out, id, &u, data.as_deref());
                        req.user = Some(u);
                        self.finish(id, req, Outcome::Ok, now)
                    }
                    _ => self.finish(id, req, Outcome::Refused("user name cannot be sent"), now),
                }
            }
            StepKind::Failure(f) => self.finish(id, req, Outcome::Failed(f), now),
            StepKind::Internal | StepKind::Authorize => {
                self.finish(id, req, Outcome::Refused("engine misuse"), now)
            }
        }
    }
}

/// A borrow-free summary of an engine step.
#[derive(Clone, Copy, Debug)]
enum StepKind {
    Challenge,
    Lookup,
    Authorize,
    Success,
    Failure(Failure),
    Internal,
}

impl StepKind {
    fn of(step: Result<ServerStep<'_>, Error>) -> StepKind {
        match step {
            Ok(ServerStep::Challenge(_)) => StepKind::Challenge,
            Ok(ServerStep::Request(Request::Authorize(_))) => StepKind::Authorize,
            Ok(ServerStep::Request(_)) => StepKind::Lookup,
            Ok(ServerStep::Success(_)) => StepKind::Success,
            Ok(ServerStep::Failure(f)) | Err(Error::Failed(f)) => StepKind::Failure(f),
            Ok(_) | Err(_) => StepKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(max: usize) -> Handler {
        let engine = Arc::new(ServerConfig::new().mechanisms(&[
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::CramMd5,
        ]));
        let mut h = Handler::new(engine, Limits { max_requests: max });
        let mut out = Vec::new();
        assert!(matches!(
            h.line(b"VERSION\t1\t0", Instant::now(), &mut out),
            Event::Nothing
        ));
        assert!(matches!(
            h.line(b"CPID\t42", Instant::now(), &mut out),
            Event::Nothing
        ));
        assert!(out.is_empty());
        h
    }

    fn plain(id: u32, user: &str, pass: &str) -> Vec<u8> {
        format!(
            "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={}",
            saslmech::b64::encode(format!("\0{user}\0{pass}").as_bytes())
        )
        .into_bytes()
    }

    #[test]
    fn lookups_answered_out_of_order() {
        let mut h = handler(8);
        let mut out = Vec::new();
        let now = Instant::now();
        let Event::Lookup(a) = h.line(&plain(1, "tim", "x"), now, &mut out) else {
            panic!()
        };
        let Event::Lookup(b) = h.line(&plain(2, "ann", "y"), now, &mut out) else {
            panic!()
        };
        assert_eq!((a.id(), b.id()), (1, 2));
        assert!(out.is_empty());
        assert_eq!(h.in_flight(), 2);
        // The second answered first.
        let Event::Finished(f) = h.answer(2, Answer::Accept, None, now, &mut out) else {
            panic!()
        };
        assert_eq!(f.outcome, Outcome::Ok);
        assert_eq!(f.user.as_deref(), Some("ann"));
        assert_eq!(out, b"OK\t2\tuser=ann\n");
        out.clear();
        let Event::Finished(f) =
            h.answer(1, Answer::UnknownUser, Some("unknown user"), now, &mut out)
        else {
            panic!()
        };
        assert_eq!(f.outcome, Outcome::Failed(Failure::BadCredentials));
        assert_eq!(f.note, Some("unknown user"));
        // The failure's reply is the caller's to write; the id stays reserved until then.
        assert!(out.is_empty());
        assert_eq!(f.fail.as_ref().and_then(|x| x.user.as_deref()), Some("tim"));
        assert_eq!(h.in_flight(), 1);
        assert!(matches!(
            h.line(&plain(1, "tim", "x"), now, &mut out),
            Event::Close(_)
        ));
        h.release(1);
        assert_eq!(h.in_flight(), 0);
        // An answer for a finished request is ignored.
        assert!(matches!(
            h.answer(1, Answer::Accept, None, now, &mut out),
            Event::Nothing
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn request_before_version_and_limits() {
        let engine = Arc::new(ServerConfig::new());
        let mut h = Handler::new(engine, Limits { max_requests: 1 });
        let mut out = Vec::new();
        assert!(matches!(
            h.line(&plain(1, "a", "b"), Instant::now(), &mut out),
            Event::Close(_)
        ));
        let mut h = handler(1);
        let now = Instant::now();
        assert!(matches!(
            h.line(b"AUTH\t1\tLOGIN\tservice=smtp\tsecured", now, &mut out),
            Event::Nothing
        ));
        assert_eq!(out, b"CONT\t1\tVXNlcm5hbWU6\n");
        let Event::Close(msg) = h.line(b"AUTH\t2\tLOGIN\tservice=smtp\tsecured", now, &mut out)
        else {
            panic!()
        };
        assert!(msg.contains("too many requests"), "{msg}");
    }

    #[test]
    fn cont_while_pending_and_expiry() {
        let mut h = handler(8);
        let mut out = Vec::new();
        let now = Instant::now();
        assert!(matches!(
            h.line(&plain(1, "tim", "x"), now, &mut out),
            Event::Lookup(_)
        ));
        let Event::Finished(f) = h.line(b"CONT\t1\tAAAA", now, &mut out) else {
            panic!()
        };
        assert!(matches!(f.outcome, Outcome::Refused(_)));
        // LOGIN left waiting for its username expires.
        assert!(matches!(
            h.line(b"AUTH\t5\tLOGIN\tservice=smtp\tsecured", now, &mut out),
            Event::Nothing
        ));
        assert!(
            h.expire(now + Duration::from_secs(5), Duration::from_secs(10))
                .is_empty()
        );
        let done = h.expire(now + Duration::from_secs(10), Duration::from_secs(10));
        assert_eq!(done.len(), 1);
        assert_eq!(
            done.first()
                .and_then(|f| f.fail.as_ref())
                .and_then(|f| f.reason),
            Some("Authentication request timed out")
        );
    }

    #[test]
    fn unsafe_user_name_is_never_sent_in_ok() {
        let mut h = handler(8);
        let mut out = Vec::new();
        let now = Instant::now();
        let Event::Lookup(_) = h.line(&plain(1, "a\tb", "x"), now, &mut out) else {
            panic!()
        };
        let Event::Finished(f) = h.answer(1, Answer::Accept, None, now, &mut out) else {
            panic!()
        };
        assert!(matches!(f.outcome, Outcome::Refused(_)));
        assert!(out.is_empty());
    }
}
