//! The client session: [`ClientSession`]. What it authenticates with ([`Credentials`]) and its
//! limits ([`ClientConfig`]) are vocabulary, below it.
//!
//! ```
//! use saslmech::{ClientSession, Credentials, Mechanism};
//!
//! let creds = Credentials::new().authcid("tim").password(b"tanstaaftanstaaf");
//! let mut c = ClientSession::new(Mechanism::CramMd5, &creds).unwrap();
//! assert_eq!(c.start().unwrap(), None); // CRAM-MD5 is server-first
//! let response = c.step(b"<1896.697170952@postoffice.reston.mci.net>").unwrap();
//! assert_eq!(response, b"tim b913a602c7eda7a495b4e6e7334d3890");
//! c.finish(None).unwrap(); // the server said 235 / OK
//! ```

use core::fmt;

use crate::b64;
use crate::error::{Error, Failure};
use crate::keys::ScramClientCache;
use crate::mech::{self, OAuthError};
use crate::mechanism::Mechanism;
use crate::secret::SecretBuf;

// The session's vocabulary, also imported from here by the protocol adapters (`proto`).
pub(crate) use crate::config::ClientConfig;
pub(crate) use crate::credentials::Credentials;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    Running,
    Finished,
    Failed(Failure),
}

/// One client-side authentication exchange.
///
/// Call [`start`](Self::start) for the initial response (`None`: send none; `Some(b"")`: send
/// an empty one), [`step`](Self::step) for each server challenge, and
/// [`finish`](Self::finish) when the server reports success. Calling `step` without `start`
/// is fine too: for a client-first mechanism an empty first challenge is then answered with
/// the initial response (protocols without initial-response support work that way).
pub struct ClientSession {
    mechanism: Mechanism,
    state: State,
    max_challenge: usize,
    mech: mech::Client,
    b64: SecretBuf,
}

impl fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSession")
            .field("mechanism", &self.mechanism)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// A client for `mechanism` with default limits. Fails with
    /// [`Error::InvalidArgument`] if the credentials lack what the mechanism needs.
    pub fn new(mechanism: Mechanism, credentials: &Credentials<'_>) -> Result<Self, Error> {
        Self::with_config(mechanism, credentials, &ClientConfig::default())
    }

    /// A client with explicit limits.
    pub fn with_config(
        mechanism: Mechanism,
        credentials: &Credentials<'_>,
        config: &ClientConfig,
    ) -> Result<Self, Error> {
        Ok(ClientSession {
            mechanism,
            state: State::Start,
            max_challenge: config.max_challenge,
            mech: mech::Client::new(mechanism, credentials, config)?,
            b64: SecretBuf::new(),
        })
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The initial response: `None` if the mechanism has none (server-first), `Some` (possibly
    /// empty) otherwise.
    pub fn start(&mut self) -> Result<Option<&[u8]>, Error> {
        if self.state != State::Start {
            return Err(Error::InvalidState);
        }
        self.state = State::Running;
        Ok(self.mech.get_mut().start())
    }

    /// [`start`](Self::start) in base64. An empty initial response is `Some(b"")`; SMTP, IMAP
    /// and POP3 send it as `=`.
    pub fn start_b64(&mut self) -> Result<Option<&[u8]>, Error> {
        if self.state != State::Start {
            return Err(Error::InvalidState);
        }
        self.state = State::Running;
        let mut out = core::mem::take(&mut self.b64);
        out.clear();
        let has = match self.mech.get_mut().start() {
            Some(ir) => {
                b64::encode_into(ir, &mut out);
                true
            }
            None => false,
        };
        self.b64 = out;
        Ok(has.then_some(self.b64.as_slice()))
    }

    /// Answer a server challenge.
    pub fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Error> {
        self.check_step(challenge.len())?;
        match self.mech.get_mut().step(challenge) {
            Ok(r) => Ok(r),
            Err(f) => {
                self.state = State::Failed(f);
                Err(Error::Failed(f))
            }
        }
    }

    /// Answer a base64 server challenge with a base64 response.
    pub fn step_b64(&mut self, challenge: &[u8]) -> Result<&[u8], Error> {
        // The state first: after the end every call is `InvalidState`, whatever its input.
        self.check_step(0)?;
        if challenge.len() > b64::encoded_len(self.max_challenge) {
            return self.fail(Failure::TooLarge);
        }
        let mut buf = core::mem::take(&mut self.b64);
        let result = match b64::decode_into(challenge, &mut buf) {
            // The text's length bounds the decoded length only to within two bytes.
            Ok(()) if buf.len() > self.max_challenge => Err(Failure::TooLarge),
            Ok(()) => match self.mech.get_mut().step(buf.as_slice()) {
                Ok(response) => {
                    // The decoded challenge is no longer needed: reuse its buffer.
                    buf.clear();
                    b64::encode_into(response, &mut buf);
                    Ok(())
                }
                Err(f) => Err(f),
            },
            Err(f) => Err(f),
        };
        self.b64 = buf;
        match result {
            Ok(()) => Ok(self.b64.as_slice()),
            Err(f) => {
                self.b64.clear();
                self.fail(f)
            }
        }
    }

    /// The server reported success, with optional success data. For mechanisms with mutual
    /// authentication this verifies the server; for the others it checks that the client had
    /// nothing left to say.
    pub fn finish(&mut self, success_data: Option<&[u8]>) -> Result<(), Error> {
        if matches!(self.state, State::Finished | State::Failed(_)) {
            return Err(Error::InvalidState);
        }
        match self.mech.get_mut().finish(success_data) {
            Ok(()) => {
                self.state = State::Finished;
                Ok(())
            }
            Err(f) => self.fail(f),
        }
    }

    /// The parsed error challenge of an OAuth mechanism, if the server sent one.
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        self.mech.get().oauth_error()
    }

    /// For SCRAM, once the server has proved itself: the keys to keep for the next login to
    /// this server (see [`ScramClientCache`]), so that it skips PBKDF2.
    pub fn scram_cache(&self) -> Option<&ScramClientCache> {
        self.mech.get().scram_cache()
    }

    /// True once [`finish`](Self::finish) succeeded.
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    fn check_step(&mut self, len: usize) -> Result<(), Error> {
        match self.state {
            State::Start | State::Running => {}
            _ => return Err(Error::InvalidState),
        }
        if len > self.max_challenge {
            return self.fail(Failure::TooLarge);
        }
        self.state = State::Running;
        Ok(())
    }

    fn fail<T>(&mut self, f: Failure) -> Result<T, Error> {
        self.state = State::Failed(f);
        Err(Error::Failed(f))
    }
}
