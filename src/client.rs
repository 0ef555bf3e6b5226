//! The client side: credentials and client sessions.
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
use crate::mech;
pub use crate::mech::scram::ScramClientCache;
use crate::mechanism::Mechanism;
use crate::secret::SecretBuf;
use crate::server::{ChannelBinding, ChannelBindingType, NonceSource};

pub use crate::mech::oauth::OAuthError;

/// What the client authenticates with. Borrowed: the session copies what its mechanism needs
/// into wiped-on-drop memory, so these may be dropped once the session exists.
#[derive(Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub(crate) authcid: Option<&'a str>,
    pub(crate) authzid: Option<&'a str>,
    pub(crate) password: Option<&'a [u8]>,
    pub(crate) token: Option<&'a [u8]>,
    pub(crate) trace: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) port: Option<u16>,
    pub(crate) scram_cache: Option<&'a ScramClientCache>,
}

impl<'a> Credentials<'a> {
    /// No credentials yet; add them with the builder methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// SCRAM keys cached from an earlier login ([`ClientSession::scram_cache`]): used instead of
    /// running PBKDF2 while the server's salt and iteration count are unchanged.
    pub fn scram_cache(mut self, cache: &'a ScramClientCache) -> Self {
        self.scram_cache = Some(cache);
        self
    }

    /// The authentication identity (user name).
    pub fn authcid(mut self, authcid: &'a str) -> Self {
        self.authcid = Some(authcid);
        self
    }

    /// The authorization identity to act as, if different from the authcid.
    pub fn authzid(mut self, authzid: &'a str) -> Self {
        self.authzid = Some(authzid);
        self
    }

    /// The password.
    pub fn password(mut self, password: &'a [u8]) -> Self {
        self.password = Some(password);
        self
    }

    /// An OAuth 2.0 bearer token.
    pub fn token(mut self, token: &'a [u8]) -> Self {
        self.token = Some(token);
        self
    }

    /// ANONYMOUS trace information: an email address or a token, at most 255 characters.
    pub fn trace(mut self, trace: &'a str) -> Self {
        self.trace = Some(trace);
        self
    }

    /// OAUTHBEARER: the host name the client connected to (`host=`).
    pub fn host(mut self, host: &'a str) -> Self {
        self.host = Some(host);
        self
    }

    /// OAUTHBEARER: the port the client connected to (`port=`).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    pub(crate) fn need_authcid(&self) -> Result<&'a str, Error> {
        match self.authcid {
            Some(a) if !a.is_empty() && !mech::has_byte(a.as_bytes(), 0) => Ok(a),
            _ => Err(Error::InvalidArgument(
                "authcid missing, empty or containing NUL",
            )),
        }
    }

    pub(crate) fn need_password(&self) -> Result<&'a [u8], Error> {
        match self.password {
            Some(p) if !p.is_empty() && !mech::has_byte(p, 0) => Ok(p),
            _ => Err(Error::InvalidArgument(
                "password missing, empty or containing NUL",
            )),
        }
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("authcid", &self.authcid)
            .field("authzid", &self.authzid)
            .field("password", &self.password.map(|_| "<redacted>"))
            .field("token", &self.token.map(|_| "<redacted>"))
            .field("trace", &self.trace)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("scram_cache", &self.scram_cache.map(|_| "<redacted>"))
            .finish()
    }
}

/// Client limits and connection facts.
///
/// ```
/// use saslmech::{ChannelBindingType, ClientConfig};
/// let config = ClientConfig::new()
///     .channel_binding(ChannelBindingType::TlsExporter, &[0u8; 32])
///     .scram_iterations(4096, 100_000);
/// assert_eq!(config.min_iterations, 4096);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Maximum size of one decoded server challenge.
    pub max_challenge: usize,
    /// Where SCRAM's client nonce comes from (OS randomness by default; `Fixed` only for
    /// tests and vectors).
    pub nonce: NonceSource,
    /// The TLS connection's channel-binding data, if the client has it. With it the SCRAM
    /// `-PLUS` mechanisms bind to it, and plain SCRAM tells the server so (the `y` flag).
    pub channel_binding: Option<ChannelBinding>,
    /// The smallest SCRAM iteration count the client accepts (default 4096).
    pub min_iterations: u32,
    /// The largest SCRAM iteration count the client computes, so a hostile server cannot make
    /// it spin (default 600 000).
    pub max_iterations: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_challenge: 64 * 1024,
            nonce: NonceSource::Os,
            channel_binding: None,
            min_iterations: Self::DEFAULT_MIN_ITERATIONS,
            max_iterations: Self::DEFAULT_MAX_ITERATIONS,
        }
    }
}

impl ClientConfig {
    /// Default lower bound on a server's SCRAM iteration count (RFC 7677 §4).
    pub const DEFAULT_MIN_ITERATIONS: u32 = 4096;
    /// Default upper bound on a server's SCRAM iteration count.
    pub const DEFAULT_MAX_ITERATIONS: u32 = 600_000;

    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the TLS channel-binding data.
    pub fn channel_binding(mut self, kind: ChannelBindingType, data: &[u8]) -> Self {
        self.channel_binding = Some(ChannelBinding::new(kind, data));
        self
    }

    /// Bound the SCRAM iteration count a server may ask for (`min` is raised to 1, `max` to
    /// `min`).
    pub fn scram_iterations(mut self, min: u32, max: u32) -> Self {
        self.min_iterations = min.max(1);
        self.max_iterations = max.max(self.min_iterations);
        self
    }

    /// Where the client nonce comes from.
    pub fn nonce_source(mut self, source: NonceSource) -> Self {
        self.nonce = source;
        self
    }
}

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
        Ok(self.mech.start())
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
        let has = match self.mech.start() {
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
        match self.mech.step(challenge) {
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
            Ok(()) => match self.mech.step(buf.as_slice()) {
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
        match self.mech.finish(success_data) {
            Ok(()) => {
                self.state = State::Finished;
                Ok(())
            }
            Err(f) => self.fail(f),
        }
    }

    /// The parsed error challenge of an OAuth mechanism, if the server sent one.
    pub fn oauth_error(&self) -> Option<&OAuthError> {
        self.mech.oauth_error()
    }

    /// For SCRAM, once the server has proved itself: the keys to keep for the next login to
    /// this server (see [`ScramClientCache`]), so that it skips PBKDF2.
    pub fn scram_cache(&self) -> Option<&ScramClientCache> {
        self.mech.scram_cache()
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
