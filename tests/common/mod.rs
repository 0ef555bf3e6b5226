//! Helpers shared by the integration tests: drive a server session with a fixed user table.
#![allow(dead_code)]

use std::sync::Arc;

use saslmech::{
    Answer, ClientSession, CramMd5Keys, Failure, Mechanism, Request, SecretBuf, ServerConfig,
    ServerSession, ServerStep, Transport,
};

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
    pub fn answer(&self, req: &Request<'_>) -> Outcome {
        match req {
            Request::VerifyPassword(r) => match self.users.iter().find(|u| u.0 == r.authcid()) {
                None => Outcome::Unknown,
                Some(u) if self.engine_compares => Outcome::Password(SecretBuf::from_slice(u.1)),
                Some(u) if u.1 == r.password() => Outcome::Accept,
                Some(_) => Outcome::Reject,
            },
            Request::Secret(r) => match self.users.iter().find(|u| u.0 == r.authcid()) {
                None => Outcome::Unknown,
                Some(u) if self.cram_keys => Outcome::Keys(CramMd5Keys::from_password(u.1)),
                Some(u) => Outcome::Password(SecretBuf::from_slice(u.1)),
            },
            // The owner of the token, whoever the client named: the engine compares.
            Request::ValidateToken(r) => match self.users.iter().find(|u| u.2 == r.token()) {
                Some(u) => Outcome::Owner(u.0.to_owned()),
                None => Outcome::Reject,
            },
            Request::Authorize(r) => {
                if self
                    .authz
                    .iter()
                    .any(|(c, z)| *c == r.authcid() && *z == r.authzid())
                {
                    Outcome::Accept
                } else {
                    Outcome::Reject
                }
            }
            _ => Outcome::Reject,
        }
    }
}

/// An owned answer, so it can be built while the request borrows the session.
pub enum Outcome {
    Accept,
    Reject,
    Unknown,
    Password(SecretBuf),
    Keys(CramMd5Keys),
    Owner(String),
}

impl Outcome {
    pub fn as_answer(&self) -> Answer<'_> {
        match self {
            Outcome::Accept => Answer::Accept,
            Outcome::Reject => Answer::Reject,
            Outcome::Unknown => Answer::UnknownUser,
            Outcome::Password(p) => Answer::Password(p.as_slice()),
            Outcome::Keys(k) => Answer::CramMd5Keys(k),
            Outcome::Owner(o) => Answer::TokenOwner(o),
        }
    }
}

/// The result of a client↔server exchange.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Success {
        authcid: String,
        authzid: Option<String>,
    },
    Failure(Failure),
    ClientError(saslmech::Error),
}

/// Run a full exchange in memory, both sides raw (`b64 = false`) or base64.
pub fn run_pair(
    config: &Arc<ServerConfig>,
    transport: &Transport,
    client: &mut ClientSession,
    users: &Users<'_>,
    b64: bool,
    use_ir: bool,
) -> Verdict {
    let mech: Mechanism = client.mechanism();
    let mut server = match ServerSession::new(config, mech, transport) {
        Ok(s) => s,
        Err(f) => return Verdict::Failure(f),
    };
    // Copies of messages live in wiped buffers: the heap-wipe test runs through here.
    let ir: Option<SecretBuf> = if use_ir {
        let r = if b64 {
            client.start_b64()
        } else {
            client.start()
        };
        match r {
            Ok(ir) => ir.map(SecretBuf::from_slice),
            Err(e) => return Verdict::ClientError(e),
        }
    } else {
        None
    };
    let mut step = if b64 {
        server
            .start_b64(ir.as_ref().map(SecretBuf::as_slice))
            .unwrap()
    } else {
        server.start(ir.as_ref().map(SecretBuf::as_slice)).unwrap()
    };
    for _ in 0..20 {
        let owned: Result<SecretBuf, Outcome> = match step {
            ServerStep::Challenge(c) => Ok(SecretBuf::from_slice(c)),
            ServerStep::Request(ref r) => Err(users.answer(r)),
            ServerStep::Success(ok) => {
                let v = Verdict::Success {
                    authcid: ok.identity.authcid().to_owned(),
                    authzid: ok.identity.authzid().map(str::to_owned),
                };
                let data = ok.data.map(SecretBuf::from_slice);
                return match client.finish(data.as_ref().map(SecretBuf::as_slice)) {
                    Ok(()) => v,
                    Err(e) => Verdict::ClientError(e),
                };
            }
            ServerStep::Failure(f) => return Verdict::Failure(f),
            other => panic!("unexpected step {other:?}"),
        };
        step = match owned {
            Ok(challenge) => {
                let challenge = challenge.as_slice();
                let r = if b64 {
                    client.step_b64(challenge)
                } else {
                    client.step(challenge)
                };
                let response = match r {
                    Ok(r) => SecretBuf::from_slice(r),
                    Err(e) => return Verdict::ClientError(e),
                };
                let response = response.as_slice();
                if b64 {
                    server.step_b64(response).unwrap()
                } else {
                    server.step(response).unwrap()
                }
            }
            Err(outcome) => server.answer_b64_or_raw(b64, outcome.as_answer()),
        };
    }
    panic!("exchange did not end within 20 steps");
}

pub trait AnswerExt {
    fn answer_b64_or_raw(&mut self, b64: bool, a: Answer<'_>) -> ServerStep<'_>;
}

impl AnswerExt for ServerSession {
    fn answer_b64_or_raw(&mut self, b64: bool, a: Answer<'_>) -> ServerStep<'_> {
        if b64 {
            self.answer_b64(a).unwrap()
        } else {
            self.answer(a).unwrap()
        }
    }
}
