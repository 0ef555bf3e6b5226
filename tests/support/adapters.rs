//! A crate client adapter (SMTP, IMAP, POP3) against a crate server adapter, line by line,
//! with a test backend that knows one user: [`run`].

use saslmech::proto::imap::{ImapClient, ImapServer};
use saslmech::proto::pop3::{Pop3Client, Pop3Server};
use saslmech::proto::smtp::{SmtpClient, SmtpServer};
use saslmech::proto::{AuthIdentity, AuthRequest, ClientEvent, ClientOutcome, Phase, ServerEvent};
use saslmech::{
    Answer, Error, Failure, Mechanism, ScramHash, ScramKeys, SecretBuf, TokenError, Transport,
};
use std::sync::LazyLock;

pub const USER: &str = "tim";
pub const PASSWORD: &[u8] = b"tanstaaftanstaaf";
pub const TOKEN: &[u8] = b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";

/// A server adapter of any protocol.
pub trait ServerSide {
    fn command(&mut self, line: &[u8]) -> Result<ServerEvent, Error>;
    fn line(&mut self, line: &[u8]) -> Result<ServerEvent, Error>;
    fn answer(&mut self, answer: Answer<'_>) -> Result<ServerEvent, Error>;
    fn set_transport(&mut self, transport: Transport);
    fn phase(&self) -> Phase;
    fn identity(&self) -> Option<&AuthIdentity>;
}

/// A client adapter of any protocol.
pub trait ClientSide {
    fn start(&mut self) -> Result<SecretBuf, Error>;
    fn feed(&mut self, line: &[u8]) -> Result<ClientEvent, Error>;
}

macro_rules! server_side {
    ($t:ty) => {
        impl ServerSide for $t {
            fn command(&mut self, line: &[u8]) -> Result<ServerEvent, Error> {
                <$t>::command(self, line)
            }
            fn line(&mut self, line: &[u8]) -> Result<ServerEvent, Error> {
                <$t>::line(self, line)
            }
            fn answer(&mut self, answer: Answer<'_>) -> Result<ServerEvent, Error> {
                <$t>::answer(self, answer)
            }
            fn set_transport(&mut self, transport: Transport) {
                <$t>::set_transport(self, transport)
            }
            fn phase(&self) -> Phase {
                <$t>::phase(self)
            }
            fn identity(&self) -> Option<&AuthIdentity> {
                <$t>::identity(self)
            }
        }
    };
}
server_side!(SmtpServer);
server_side!(ImapServer);
server_side!(Pop3Server);

impl ClientSide for SmtpClient {
    fn start(&mut self) -> Result<SecretBuf, Error> {
        SmtpClient::start(self)
    }
    fn feed(&mut self, line: &[u8]) -> Result<ClientEvent, Error> {
        self.reply(line)
    }
}
impl ClientSide for ImapClient {
    fn start(&mut self) -> Result<SecretBuf, Error> {
        ImapClient::start(self)
    }
    fn feed(&mut self, line: &[u8]) -> Result<ClientEvent, Error> {
        self.line(line)
    }
}
impl ClientSide for Pop3Client {
    fn start(&mut self) -> Result<SecretBuf, Error> {
        Pop3Client::start(self)
    }
    fn feed(&mut self, line: &[u8]) -> Result<ClientEvent, Error> {
        self.line(line)
    }
}

/// The stored SCRAM-SHA-256 keys of `tim` (SCRAM-SHA-1 is answered with the plaintext
/// password, so both ways of answering a SCRAM `Secret` request are exercised).
pub static SCRAM_SHA256_KEYS: LazyLock<ScramKeys> =
    LazyLock::new(|| ScramKeys::generate(ScramHash::Sha256, PASSWORD, 4096).unwrap());

/// The test backend: user `tim` with `PASSWORD` and `TOKEN`.
pub fn backend(request: &AuthRequest) -> Answer<'static> {
    match request {
        AuthRequest::Secret {
            authcid, mechanism, ..
        } if authcid == USER
            && matches!(
                mechanism,
                Mechanism::ScramSha256 | Mechanism::ScramSha256Plus
            ) =>
        {
            Answer::ScramKeys(&SCRAM_SHA256_KEYS)
        }
        AuthRequest::VerifyPassword { authcid, .. } | AuthRequest::Secret { authcid, .. } => {
            if authcid == USER {
                Answer::Password(PASSWORD)
            } else {
                Answer::UnknownUser
            }
        }
        AuthRequest::ValidateToken {
            token, mechanism, ..
        } => {
            if token.as_slice() != TOKEN {
                Answer::TokenError(TokenError {
                    status: if *mechanism == Mechanism::OAuthBearer {
                        "invalid_token"
                    } else {
                        "401"
                    },
                    scope: None,
                })
            } else {
                // The token is USER's, whoever the client named: the engine compares.
                Answer::TokenOwner(USER)
            }
        }
        AuthRequest::Authorize { .. } => Answer::Reject,
        // GSSAPI, GS2-KRB5: alice's principal is the user `USER`.
        #[cfg(feature = "gssapi")]
        AuthRequest::Principal { principal, .. } if principal.starts_with("alice@") => {
            Answer::User(USER)
        }
        _ => Answer::Reject,
    }
}

/// What happened in one exchange.
#[derive(Debug)]
pub struct Run {
    pub client: ClientOutcome,
    pub server: Result<AuthIdentity, Option<Failure>>,
    /// `C: …` / `S: …` lines.
    pub transcript: Vec<String>,
    pub requests: usize,
}

/// Run one exchange to its end. Every bound is small: the loop ends within 64 turns.
pub fn run(client: &mut dyn ClientSide, server: &mut dyn ServerSide) -> Run {
    let mut transcript = Vec::new();
    let mut requests = 0;
    let command = client.start().expect("client start");
    transcript.push(format!(
        "C: {}",
        String::from_utf8_lossy(command.as_slice()).trim_end()
    ));
    let mut event = server.command(command.as_slice()).expect("server command");
    let mut server_result: Option<Result<AuthIdentity, Option<Failure>>> = None;
    for _ in 0..64 {
        let reply = match event {
            ServerEvent::Request(ref r) => {
                requests += 1;
                let answer = backend(r);
                event = server.answer(answer).expect("server answer");
                continue;
            }
            ServerEvent::Challenge(r) => r,
            ServerEvent::Success { reply, identity } => {
                server_result = Some(Ok(identity));
                reply
            }
            ServerEvent::Failure { reply, failure } => {
                server_result = Some(Err(Some(failure)));
                reply
            }
            ServerEvent::Reply(reply) => {
                server_result = Some(Err(None));
                reply
            }
            other => panic!("unexpected {other:?}"),
        };
        transcript.push(format!("S: {}", String::from_utf8_lossy(&reply).trim_end()));
        match client.feed(&reply).expect("client feed") {
            ClientEvent::Send(line) => {
                transcript.push(format!(
                    "C: {}",
                    String::from_utf8_lossy(line.as_slice()).trim_end()
                ));
                assert!(
                    server_result.is_none(),
                    "client answered a final reply: {transcript:?}"
                );
                event = server.line(line.as_slice()).expect("server line");
            }
            ClientEvent::Done(outcome) => {
                return Run {
                    client: outcome,
                    server: server_result.expect("client done before the server"),
                    transcript,
                    requests,
                };
            }
            other => panic!("unexpected {other:?} in {transcript:?}"),
        }
    }
    panic!("exchange did not end: {transcript:?}");
}
