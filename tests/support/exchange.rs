//! The engine's client against its server, in memory. [`run`] drives a client you keep (to
//! look at it afterwards) with the framing you choose; [`pair`] makes the client from a
//! mechanism and credentials and sends raw messages. Requests are answered by a closure:
//! with an [`Answer`] directly, or with an owned [`Reply`], which is what the small user
//! table [`Users`] gives.
//!
//! Every copy of a message lives in a wiped buffer ([`SecretBuf`]): `tests/heap_wipe.rs`
//! runs through here and scans freed memory for the password.

use std::sync::Arc;

use saslmech::{
    Answer, ClientConfig, ClientSession, CramMd5Keys, Credentials, Error, Failure, Mechanism,
    Request, SecretBuf, ServerConfig, ServerSession, ServerStep, Transport,
};

/// How the messages travel.
#[derive(Debug, Clone, Copy)]
pub struct Framing {
    /// Base64 on both sides (the `*_b64` calls) instead of raw bytes.
    pub b64: bool,
    /// The client sends its first message with the command if it has one; otherwise it
    /// waits for a challenge.
    pub initial_response: bool,
}

impl Framing {
    /// Raw messages, with an initial response.
    pub const RAW: Framing = Framing {
        b64: false,
        initial_response: true,
    };

    pub fn new(b64: bool, initial_response: bool) -> Framing {
        Framing {
            b64,
            initial_response,
        }
    }
}

/// What answers a request: an [`Answer`], or an owned [`Reply`].
pub trait AsAnswer {
    fn as_answer(&self) -> Answer<'_>;
}

impl AsAnswer for Answer<'_> {
    fn as_answer(&self) -> Answer<'_> {
        *self
    }
}

/// An owned answer, so a backend can compute what it answers (CRAM-MD5 keys, a copy of the
/// password) while the request borrows the session.
pub enum Reply {
    Accept,
    Reject,
    Unknown,
    Password(SecretBuf),
    Keys(CramMd5Keys),
    Owner(String),
}

impl AsAnswer for Reply {
    fn as_answer(&self) -> Answer<'_> {
        match self {
            Reply::Accept => Answer::Accept,
            Reply::Reject => Answer::Reject,
            Reply::Unknown => Answer::UnknownUser,
            Reply::Password(p) => Answer::Password(p.as_slice()),
            Reply::Keys(k) => Answer::CramMd5Keys(k),
            Reply::Owner(o) => Answer::TokenOwner(o),
        }
    }
}

/// A user table: (user, password, token).
pub struct Users<'a> {
    pub users: &'a [(&'a str, &'a [u8], &'a [u8])],
    /// Answer CRAM-MD5 secret requests with precomputed keys instead of the password.
    pub cram_keys: bool,
    /// Verify passwords by returning the stored password (engine compares) rather than
    /// comparing here.
    pub engine_compares: bool,
    /// Allowed (authcid, authzid) pairs.
    pub authz: &'a [(&'a str, &'a str)],
}

impl Users<'_> {
    pub fn answer(&self, req: &Request<'_>) -> Reply {
        match req {
            Request::VerifyPassword(r) => match self.users.iter().find(|u| u.0 == r.authcid()) {
                None => Reply::Unknown,
                Some(u) if self.engine_compares => Reply::Password(SecretBuf::from_slice(u.1)),
                Some(u) if u.1 == r.password() => Reply::Accept,
                Some(_) => Reply::Reject,
            },
            Request::Secret(r) => match self.users.iter().find(|u| u.0 == r.authcid()) {
                None => Reply::Unknown,
                Some(u) if self.cram_keys => Reply::Keys(CramMd5Keys::from_password(u.1)),
                Some(u) => Reply::Password(SecretBuf::from_slice(u.1)),
            },
            // The owner of the token, whoever the client named: the engine compares.
            Request::ValidateToken(r) => match self.users.iter().find(|u| u.2 == r.token()) {
                Some(u) => Reply::Owner(u.0.to_owned()),
                None => Reply::Reject,
            },
            Request::Authorize(r) => {
                if self
                    .authz
                    .iter()
                    .any(|(c, z)| *c == r.authcid() && *z == r.authzid())
                {
                    Reply::Accept
                } else {
                    Reply::Reject
                }
            }
            _ => Reply::Reject,
        }
    }
}

/// How an exchange ended.
#[derive(Debug)]
pub struct Exchange {
    /// The server's verdict: (authcid, authzid) or the failure (`Cancelled` when the client
    /// stopped the exchange).
    pub server: Result<(String, Option<String>), Failure>,
    /// The client's verdict: `finish` on the server's success, the error that stopped it
    /// otherwise (`Failed` with the server's failure when the server stopped it).
    pub client: Result<(), Error>,
    /// Every challenge the server sent, in order.
    pub challenges: Vec<SecretBuf>,
    /// Every response the client sent (the initial response first, if any).
    pub responses: Vec<SecretBuf>,
    /// The success data that came with the server's success, if any.
    pub success_data: Option<SecretBuf>,
    /// The client stopped the exchange with an error.
    client_stopped: bool,
}

/// The end of an exchange in one value.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both sides succeeded.
    Success {
        authcid: String,
        authzid: Option<String>,
    },
    /// The server failed the exchange.
    Failure(Failure),
    /// The client refused a server message or the server's success.
    ClientError(Error),
}

impl Exchange {
    pub fn verdict(&self) -> Verdict {
        match (&self.server, self.client) {
            (Ok((authcid, authzid)), Ok(())) => Verdict::Success {
                authcid: authcid.clone(),
                authzid: authzid.clone(),
            },
            (Ok(_), Err(e)) => Verdict::ClientError(e),
            (Err(_), Err(e)) if self.client_stopped => Verdict::ClientError(e),
            (Err(f), _) => Verdict::Failure(*f),
        }
    }

    fn new() -> Exchange {
        Exchange {
            server: Err(Failure::Cancelled),
            client: Ok(()),
            challenges: Vec::new(),
            responses: Vec::new(),
            success_data: None,
            client_stopped: false,
        }
    }

    fn server_failed(mut self, f: Failure) -> Exchange {
        self.server = Err(f);
        self.client = Err(Error::Failed(f));
        self
    }

    fn client_stopped(mut self, server: Failure, e: Error) -> Exchange {
        self.server = Err(server);
        self.client = Err(e);
        self.client_stopped = true;
        self
    }
}

/// What the loop does after a server step, with the step's borrows copied out.
enum Next<A> {
    Challenge(SecretBuf),
    Answer(A),
    Success(String, Option<String>, Option<SecretBuf>),
    Failure(Failure),
}

/// Make a client for `mechanism` and run it against a server with raw messages and an
/// initial response.
pub fn pair<A: AsAnswer>(
    mechanism: Mechanism,
    creds: &Credentials<'_>,
    client_config: &ClientConfig,
    server_config: ServerConfig,
    transport: &Transport,
    answer: impl FnMut(Request<'_>) -> A,
) -> Exchange {
    let mut client =
        ClientSession::with_config(mechanism, creds, client_config).expect("client session");
    run(
        &mut client,
        &Arc::new(server_config),
        transport,
        Framing::RAW,
        answer,
    )
}

/// Run `client` against a new server session of its mechanism until one side ends it.
/// Errors of the server's API (misuse, not failures) panic.
pub fn run<A: AsAnswer>(
    client: &mut ClientSession,
    config: &Arc<ServerConfig>,
    transport: &Transport,
    framing: Framing,
    mut answer: impl FnMut(Request<'_>) -> A,
) -> Exchange {
    let b64 = framing.b64;
    let mut ex = Exchange::new();
    let mut server = match ServerSession::new(config, client.mechanism(), transport) {
        Ok(s) => s,
        Err(f) => return ex.server_failed(f),
    };
    let ir: Option<SecretBuf> = if framing.initial_response {
        let r = if b64 {
            client.start_b64()
        } else {
            client.start()
        };
        match r {
            Ok(ir) => ir.map(SecretBuf::from_slice),
            // The server never started: it has nothing to cancel.
            Err(e) => return ex.client_stopped(Failure::Cancelled, e),
        }
    } else {
        None
    };
    let ir_slice = ir.as_ref().map(SecretBuf::as_slice);
    let mut step = if b64 {
        server.start_b64(ir_slice)
    } else {
        server.start(ir_slice)
    }
    .expect("server start");
    ex.responses.extend(ir);
    for _ in 0..32 {
        let next = match step {
            ServerStep::Challenge(c) => Next::Challenge(SecretBuf::from_slice(c)),
            ServerStep::Request(r) => Next::Answer(answer(r)),
            ServerStep::Success(ok) => Next::Success(
                ok.identity.authcid().to_owned(),
                ok.identity.authzid().map(str::to_owned),
                ok.data.map(SecretBuf::from_slice),
            ),
            ServerStep::Failure(f) => Next::Failure(f),
            other => panic!("unexpected step {other:?}"),
        };
        step = match next {
            Next::Challenge(challenge) => {
                let r = if b64 {
                    client.step_b64(challenge.as_slice())
                } else {
                    client.step(challenge.as_slice())
                };
                let response = match r {
                    Ok(r) => SecretBuf::from_slice(r),
                    Err(e) => {
                        ex.challenges.push(challenge);
                        let cancelled = server.cancel().expect("cancel");
                        return ex.client_stopped(cancelled, e);
                    }
                };
                ex.challenges.push(challenge);
                let step = if b64 {
                    server.step_b64(response.as_slice())
                } else {
                    server.step(response.as_slice())
                }
                .expect("server step");
                ex.responses.push(response);
                step
            }
            Next::Answer(a) => if b64 {
                server.answer_b64(a.as_answer())
            } else {
                server.answer(a.as_answer())
            }
            .expect("server answer"),
            Next::Success(authcid, authzid, data) => {
                ex.client = client.finish(data.as_ref().map(SecretBuf::as_slice));
                ex.server = Ok((authcid, authzid));
                ex.success_data = data;
                return ex;
            }
            Next::Failure(f) => return ex.server_failed(f),
        };
    }
    panic!("exchange did not end within 32 steps");
}
