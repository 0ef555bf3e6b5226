//! The server side: configuration, sessions, and the requests a session makes of the
//! application.
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

pub use crate::mech::cram_md5::CramMd5Keys;
pub use crate::mech::scram::{ChannelBinding, ChannelBindingType, ScramHash, ScramKeys};

/// Where a server's random nonces come from.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum NonceSource {
    /// The operating system's random number generator (the default). Bytes are fetched 512 at
    /// a time into a pool owned by the [`ServerConfig`] (one `getrandom` call per ~28
    /// sessions instead of one each); the pool is discarded if the process id changes, so a
    /// forked child never reuses its parent's nonces.
    #[default]
    Os,
    /// Use these bytes verbatim as the nonce, for every session. Only for tests and RFC
    /// vectors: a fixed nonce makes CRAM-MD5 replayable.
    Fixed(Vec<u8>),
    /// Fill the buffer with random bytes; return `false` if no randomness is available.
    Function(fn(&mut [u8]) -> bool),
}

impl fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NonceSource::Os => f.write_str("Os"),
            NonceSource::Fixed(v) => write!(f, "Fixed({} bytes)", v.len()),
            NonceSource::Function(_) => f.write_str("Function"),
        }
    }
}

/// Buffered OS randomness (see [`NonceSource::Os`]).
struct RandomPool {
    pid: u32,
    pos: usize,
    buf: [u8; 512],
}

impl RandomPool {
    fn take(&mut self, out: &mut [u8]) -> bool {
        let pid = std::process::id();
        if pid != self.pid || self.pos.saturating_add(out.len()) > self.buf.len() {
            if getrandom::fill(&mut self.buf).is_err() {
                return false;
            }
            self.pid = pid;
            self.pos = 0;
        }
        let end = self.pos.saturating_add(out.len());
        match self.buf.get_mut(self.pos..end) {
            Some(src) => {
                out.copy_from_slice(src);
                // Used bytes are not kept around.
                src.fill(0);
                self.pos = end;
                true
            }
            None => false,
        }
    }
}

/// A nonce produced for one session: fixed text, or random bytes that the mechanism encodes.
pub(crate) enum Nonce<'a> {
    Fixed(&'a [u8]),
    Random([u8; 18]),
}

/// Server policy and limits, shared by many sessions through an `Arc`.
///
/// ```
/// use saslmech::{Mechanism, ServerConfig};
/// let config = ServerConfig::new()
///     .mechanisms(&[Mechanism::Plain, Mechanism::CramMd5])
///     .hostname("mx.example.com")
///     .max_message(16 * 1024);
/// let offered: Vec<_> = config.offered(false).collect();
/// assert_eq!(offered, [Mechanism::CramMd5]); // PLAIN needs TLS
/// ```
#[derive(Debug)]
pub struct ServerConfig {
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) allow_plaintext_without_tls: bool,
    pub(crate) allow_weak: bool,
    pub(crate) hostname: String,
    pub(crate) max_message: usize,
    pub(crate) max_identity: usize,
    pub(crate) max_steps: u16,
    pub(crate) nonce: NonceSource,
    pool: Pool,
    pub(crate) scram_iterations: u32,
    pub(crate) scram_secret: SecretBuf,
    pub(crate) secret_storage: SecretStorage,
    pub(crate) oauth_openid_configuration: Option<String>,
}

/// How the application stores the secrets it answers [`Request::Secret`] with (CRAM-MD5 and
/// SCRAM). The engine spends the same work on an unknown user ([`Answer::UnknownUser`],
/// [`Answer::Reject`]) as on a known user stored this way, so the time between the answer and
/// the next server message does not tell an attacker which users exist.
///
/// ```
/// use saslmech::{SecretStorage, ServerConfig};
/// // Secrets stored as SCRAM keys (RFC 5803) and Dovecot `{CRAM-MD5}` states:
/// let config = ServerConfig::new().secret_storage(SecretStorage::Keys);
/// assert_eq!(config.storage(), SecretStorage::Keys);
/// assert_eq!(ServerConfig::new().storage(), SecretStorage::Plaintext);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecretStorage {
    /// Plaintext passwords, answered with [`Answer::Password`] (the default). A known user
    /// costs a key derivation per login (SCRAM: PBKDF2 with
    /// [`ServerConfig::scram_iterations`]; CRAM-MD5: the HMAC key schedule), so an unknown
    /// user costs the same derivation on a dummy password.
    #[default]
    Plaintext,
    /// Stored keys, answered with [`Answer::ScramKeys`] and [`Answer::CramMd5Keys`]: no
    /// derivation per login, and none for an unknown user.
    Keys,
}

/// The random pool, behind a lock so a config can be shared by sessions on many threads.
#[derive(Default)]
struct Pool(std::sync::Mutex<Option<RandomPool>>);

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pool")
    }
}

impl Clone for ServerConfig {
    /// A copy of the settings with a fresh random pool.
    fn clone(&self) -> Self {
        ServerConfig {
            mechanisms: self.mechanisms.clone(),
            allow_plaintext_without_tls: self.allow_plaintext_without_tls,
            allow_weak: self.allow_weak,
            hostname: self.hostname.clone(),
            max_message: self.max_message,
            max_identity: self.max_identity,
            max_steps: self.max_steps,
            nonce: self.nonce.clone(),
            scram_iterations: self.scram_iterations,
            scram_secret: self.scram_secret.clone(),
            secret_storage: self.secret_storage,
            oauth_openid_configuration: self.oauth_openid_configuration.clone(),
            pool: Pool::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerConfig {
    /// Default maximum size of one decoded client message (64 KiB, as Dovecot).
    pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;
    /// Default maximum length of an authentication or authorization identity.
    pub const DEFAULT_MAX_IDENTITY: usize = 1024;
    /// Default maximum number of client messages in one exchange.
    pub const DEFAULT_MAX_STEPS: u16 = 10;
    /// Default SCRAM iteration count for keys derived from a plaintext password and for
    /// unknown users (RFC 7677 recommends at least 4096).
    pub const DEFAULT_SCRAM_ITERATIONS: u32 = 4096;

    /// SCRAM-SHA-256(-PLUS), SCRAM-SHA-1(-PLUS), OAUTHBEARER, XOAUTH2, CRAM-MD5, PLAIN and LOGIN
    /// enabled (EXTERNAL and ANONYMOUS only when listed with [`mechanisms`](Self::mechanisms));
    /// mechanisms that expose a secret need TLS; default limits; OS randomness; hostname
    /// `localhost`; a random SCRAM fake-salt secret (set a stable one with
    /// [`scram_secret`](Self::scram_secret)).
    pub fn new() -> Self {
        ServerConfig {
            mechanisms: vec![
                Mechanism::ScramSha256Plus,
                Mechanism::ScramSha256,
                Mechanism::ScramSha1Plus,
                Mechanism::ScramSha1,
                Mechanism::OAuthBearer,
                Mechanism::XOAuth2,
                Mechanism::CramMd5,
                Mechanism::Plain,
                Mechanism::Login,
            ],
            allow_plaintext_without_tls: false,
            allow_weak: true,
            hostname: "localhost".to_owned(),
            max_message: Self::DEFAULT_MAX_MESSAGE,
            max_identity: Self::DEFAULT_MAX_IDENTITY,
            max_steps: Self::DEFAULT_MAX_STEPS,
            nonce: NonceSource::Os,
            pool: Pool::default(),
            scram_iterations: Self::DEFAULT_SCRAM_ITERATIONS,
            scram_secret: random_secret(),
            secret_storage: SecretStorage::Plaintext,
            oauth_openid_configuration: None,
        }
    }

    /// The mechanisms to enable, in the order they are advertised. EXTERNAL and ANONYMOUS are
    /// enabled only by listing them here.
    pub fn mechanisms(mut self, mechanisms: &[Mechanism]) -> Self {
        self.mechanisms = mechanisms.to_vec();
        self
    }

    /// Allow mechanisms that expose a reusable secret (PLAIN, LOGIN, XOAUTH2) without TLS.
    /// Only for testing or for channels protected otherwise (a local socket).
    pub fn allow_plaintext_without_tls(mut self, allow: bool) -> Self {
        self.allow_plaintext_without_tls = allow;
        self
    }

    /// Allow weak mechanisms (CRAM-MD5). On by default; when off they fail with
    /// [`Failure::MechanismTooWeak`] and are not offered.
    pub fn allow_weak(mut self, allow: bool) -> Self {
        self.allow_weak = allow;
        self
    }

    /// The host name placed in CRAM-MD5 challenges.
    pub fn hostname(mut self, hostname: &str) -> Self {
        self.hostname = hostname.to_owned();
        self
    }

    /// Maximum size of one decoded client message, in octets.
    pub fn max_message(mut self, n: usize) -> Self {
        self.max_message = n;
        self
    }

    /// Maximum length of an identity (authcid, authzid, user name), in octets. Values below
    /// 255 are raised to 255, which RFC 4616 requires servers to accept.
    pub fn max_identity(mut self, n: usize) -> Self {
        self.max_identity = n.max(255);
        self
    }

    /// Maximum number of client messages in one exchange.
    pub fn max_steps(mut self, n: u16) -> Self {
        self.max_steps = n.max(1);
        self
    }

    /// Where nonces come from.
    pub fn nonce_source(mut self, source: NonceSource) -> Self {
        self.nonce = source;
        self
    }

    /// The secret that keys the salts SCRAM shows for unknown users and for users whose
    /// plaintext password the application supplies ([`Answer::Password`]): `HMAC-SHA-256(secret,
    /// mechanism, user name)`. The same user always gets the same salt, so a probe cannot tell
    /// a made-up user from a real one. Set the same secret on every server of a cluster and
    /// keep it across restarts; by default it is random per configuration.
    pub fn scram_secret(mut self, secret: &[u8]) -> Self {
        self.scram_secret = SecretBuf::from_slice(secret);
        self
    }

    /// The SCRAM iteration count used with [`Answer::Password`] and for unknown users. Should
    /// match what stored keys use, so unknown users do not stand out. At least 1.
    pub fn scram_iterations(mut self, iterations: u32) -> Self {
        self.scram_iterations = iterations.max(1);
        self
    }

    /// How the application stores CRAM-MD5 and SCRAM secrets (default
    /// [`SecretStorage::Plaintext`]), so that an unknown user costs the same work as a known
    /// one. Set [`SecretStorage::Keys`] when the application answers with stored keys.
    pub fn secret_storage(mut self, storage: SecretStorage) -> Self {
        self.secret_storage = storage;
        self
    }

    /// The configured [`SecretStorage`].
    pub fn storage(&self) -> SecretStorage {
        self.secret_storage
    }

    /// The `openid-configuration` URL that OAUTHBEARER error challenges carry (RFC 7628 §3.2.2).
    pub fn oauth_openid_configuration(mut self, url: &str) -> Self {
        self.oauth_openid_configuration = Some(url.to_owned());
        self
    }

    /// The configured maximum size of one client message.
    pub fn max_message_len(&self) -> usize {
        self.max_message
    }

    /// Check whether `mechanism` may be used on a channel with or without TLS.
    pub fn check(&self, mechanism: Mechanism, tls: bool) -> Result<(), Failure> {
        if !self.mechanisms.contains(&mechanism) {
            return Err(Failure::MechanismUnavailable);
        }
        if mechanism.weak() && !self.allow_weak {
            return Err(Failure::MechanismTooWeak);
        }
        if mechanism.requires_tls() && !tls && !self.allow_plaintext_without_tls {
            return Err(Failure::EncryptionRequired);
        }
        Ok(())
    }

    /// Check whether `mechanism` may be used on `transport`: [`check`](Self::check), and the
    /// `-PLUS` mechanisms need channel-binding data, EXTERNAL an external identity.
    pub fn check_transport(
        &self,
        mechanism: Mechanism,
        transport: &Transport,
    ) -> Result<(), Failure> {
        self.check(mechanism, transport.tls)?;
        if (mechanism.channel_binding() && transport.channel_bindings.is_empty())
            || (mechanism == Mechanism::External && transport.external_identity.is_none())
        {
            return Err(Failure::MechanismUnavailable);
        }
        Ok(())
    }

    /// The mechanisms to advertise on a channel with or without TLS. Leaves out those that
    /// need more than TLS (the `-PLUS` mechanisms, EXTERNAL): use
    /// [`offered_on`](Self::offered_on) to include them.
    pub fn offered(&self, tls: bool) -> impl Iterator<Item = Mechanism> + '_ {
        self.mechanisms.iter().copied().filter(move |m| {
            !m.channel_binding() && *m != Mechanism::External && self.check(*m, tls).is_ok()
        })
    }

    /// The mechanisms to advertise on `transport` (RFC 5802 §6: `-PLUS` only where channel
    /// binding is possible).
    pub fn offered_on<'a>(
        &'a self,
        transport: &'a Transport,
    ) -> impl Iterator<Item = Mechanism> + 'a {
        self.mechanisms
            .iter()
            .copied()
            .filter(move |m| self.check_transport(*m, transport).is_ok())
    }

    pub(crate) fn nonce(&self) -> Result<Nonce<'_>, Failure> {
        let mut buf = [0u8; 18];
        let ok = match &self.nonce {
            NonceSource::Fixed(v) => return Ok(Nonce::Fixed(v)),
            NonceSource::Os => {
                let mut guard = self.pool.0.lock().unwrap_or_else(|e| e.into_inner());
                let pool = guard.get_or_insert_with(|| RandomPool {
                    pid: 0,
                    pos: 512,
                    buf: [0; 512],
                });
                pool.take(&mut buf)
            }
            NonceSource::Function(f) => f(&mut buf),
        };
        if ok {
            Ok(Nonce::Random(buf))
        } else {
            Err(Failure::TemporaryFailure)
        }
    }
}

/// A random secret for SCRAM's fake salts (see [`ServerConfig::scram_secret`]).
fn random_secret() -> SecretBuf {
    let mut buf = [0u8; 32];
    if getrandom::fill(&mut buf).is_err() {
        // No OS randomness now: fall back to the standard library's per-process random keys.
        use std::hash::{BuildHasher, Hasher};
        for chunk in buf.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(chunk.as_ptr() as usize);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    let s = SecretBuf::from_slice(&buf);
    zeroize::Zeroize::zeroize(&mut buf);
    s
}

/// What the server knows about the connection the exchange runs on.
///
/// ```
/// use saslmech::{ChannelBindingType, Transport};
/// // A STARTTLS'd SMTP connection whose client presented a certificate.
/// let t = Transport::tls()
///     .with_success_data(false)
///     .with_channel_binding(ChannelBindingType::TlsExporter, &[7u8; 32])
///     .with_external_identity("mail.example.net");
/// assert_eq!(t.external_identity(), Some("mail.example.net"));
/// assert!(t.channel_binding(ChannelBindingType::TlsExporter).is_some());
/// assert!(t.channel_binding(ChannelBindingType::TlsUnique).is_none());
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Transport {
    /// The connection is protected by TLS.
    pub tls: bool,
    /// The protocol can carry data with its success reply. SMTP, IMAP and POP3 cannot: then
    /// server-final data goes out as one more challenge that the client answers with an
    /// empty response.
    pub success_data: bool,
    /// Channel-binding data the TLS layer provides (for the SCRAM `-PLUS` mechanisms).
    pub(crate) channel_bindings: Vec<ChannelBinding>,
    /// The identity the transport established (for EXTERNAL).
    pub(crate) external_identity: Option<String>,
}

impl Transport {
    /// A TLS-protected connection whose protocol can carry success data.
    pub fn tls() -> Self {
        Transport {
            tls: true,
            success_data: true,
            channel_bindings: Vec::new(),
            external_identity: None,
        }
    }

    /// A connection without TLS whose protocol can carry success data.
    pub fn plaintext() -> Self {
        Transport {
            tls: false,
            success_data: true,
            channel_bindings: Vec::new(),
            external_identity: None,
        }
    }

    /// Set whether the protocol carries success data (false for SMTP, IMAP and POP3).
    pub fn with_success_data(mut self, success_data: bool) -> Self {
        self.success_data = success_data;
        self
    }

    /// Add channel-binding data of one type (replacing earlier data of that type). Supply every
    /// type the TLS layer can give: `tls-exporter` (TLS 1.3), `tls-server-end-point`, and
    /// `tls-unique` only on TLS 1.2 or older. With any, the server offers the `-PLUS`
    /// mechanisms and refuses a client that claims it could not find them (the `y` flag).
    pub fn with_channel_binding(mut self, kind: ChannelBindingType, data: &[u8]) -> Self {
        self.channel_bindings.retain(|b| b.kind() != kind);
        self.channel_bindings.push(ChannelBinding::new(kind, data));
        self
    }

    /// The identity the transport established, such as the subject of a verified TLS client
    /// certificate: EXTERNAL authenticates as it.
    pub fn with_external_identity(mut self, identity: &str) -> Self {
        self.external_identity = Some(identity.to_owned());
        self
    }

    /// The channel-binding data of type `kind`, if supplied.
    pub fn channel_binding(&self, kind: ChannelBindingType) -> Option<&[u8]> {
        self.channel_bindings
            .iter()
            .find(|b| b.kind() == kind)
            .map(ChannelBinding::data)
    }

    /// The external identity, if supplied.
    pub fn external_identity(&self) -> Option<&str> {
        self.external_identity.as_deref()
    }
}

/// The identities established by a successful exchange.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    pub(crate) authcid: &'a str,
    pub(crate) authzid: Option<&'a str>,
}

impl<'a> Identity<'a> {
    /// The authentication identity: whose credentials were checked.
    pub fn authcid(&self) -> &'a str {
        self.authcid
    }

    /// The authorization identity the client asked to act as, if it asked.
    pub fn authzid(&self) -> Option<&'a str> {
        self.authzid
    }

    /// The identity to act as: the authzid if one was given (and authorized), else the
    /// authcid.
    pub fn effective(&self) -> &'a str {
        self.authzid.unwrap_or(self.authcid)
    }

    /// True if an authzid was given that differs from the authcid.
    pub(crate) fn needs_authorization(&self) -> bool {
        self.authzid.is_some_and(|z| z != self.authcid)
    }
}

impl fmt::Debug for Identity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("authcid", &self.authcid)
            .field("authzid", &self.authzid)
            .finish()
    }
}

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

/// A question the session asks the application.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Request<'a> {
    /// Check a password (PLAIN, LOGIN). Answer [`Answer::Accept`] / [`Answer::Reject`] after
    /// checking it yourself, or [`Answer::Password`] with the stored password for the engine to
    /// compare in constant time, or [`Answer::UnknownUser`] (never an empty password).
    VerifyPassword(PasswordRequest<'a>),
    /// Supply the user's secret (CRAM-MD5, SCRAM): [`Answer::Password`] with the plaintext,
    /// [`Answer::CramMd5Keys`] (CRAM-MD5) or [`Answer::ScramKeys`] (SCRAM, for the
    /// mechanism's hash) with the stored keys, or [`Answer::UnknownUser`] for a user that does
    /// not exist (never an empty password: an empty secret fails like an unknown user). Tell
    /// the config how secrets are stored ([`ServerConfig::secret_storage`]) so that an unknown
    /// user costs the same work as a known one.
    Secret(SecretRequest<'a>),
    /// Validate a bearer token (XOAUTH2, OAUTHBEARER). A valid token is answered with
    /// [`Answer::TokenOwner`], naming the user it was issued to (for example its `email` or
    /// `sub` claim): the engine compares the owner with the user the client named
    /// ([`TokenRequest::user`]) and, when they differ, asks [`Request::Authorize`] whether the
    /// owner may act as that user. An invalid token is [`Answer::Reject`] or
    /// [`Answer::TokenError`] with what the error challenge should say. A bare
    /// [`Answer::Accept`] is [`Error::WrongAnswer`]: the application must say whose token it
    /// validated.
    ValidateToken(TokenRequest<'a>),
    /// May `authcid` act as `authzid`? [`Answer::Accept`] or [`Answer::Reject`].
    Authorize(AuthorizeRequest<'a>),
}

/// A password to check.
#[derive(Clone, Copy)]
pub struct PasswordRequest<'a> {
    pub(crate) mechanism: Mechanism,
    pub(crate) authcid: &'a str,
    pub(crate) authzid: Option<&'a str>,
    pub(crate) password: &'a [u8],
}

impl<'a> PasswordRequest<'a> {
    /// The mechanism asking.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
    /// The user whose password this is.
    pub fn authcid(&self) -> &'a str {
        self.authcid
    }
    /// The identity the user asks to act as, if any (authorized separately afterwards).
    pub fn authzid(&self) -> Option<&'a str> {
        self.authzid
    }
    /// The password the client sent. Compare it in constant time, or let the engine do it
    /// with [`Answer::Password`].
    pub fn password(&self) -> &'a [u8] {
        self.password
    }
}

impl fmt::Debug for PasswordRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordRequest")
            .field("mechanism", &self.mechanism)
            .field("authcid", &self.authcid)
            .field("authzid", &self.authzid)
            .field(
                "password",
                &format_args!("<{} bytes redacted>", self.password.len()),
            )
            .finish()
    }
}

/// A request for the secret the engine needs to verify the client.
#[derive(Clone, Copy, Debug)]
pub struct SecretRequest<'a> {
    pub(crate) mechanism: Mechanism,
    pub(crate) authcid: &'a str,
}

impl<'a> SecretRequest<'a> {
    /// The mechanism asking (decides which answers fit).
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
    /// The user whose secret is needed.
    pub fn authcid(&self) -> &'a str {
        self.authcid
    }
}

/// A bearer token to validate.
#[derive(Clone, Copy)]
pub struct TokenRequest<'a> {
    pub(crate) mechanism: Mechanism,
    pub(crate) user: &'a str,
    pub(crate) token: &'a [u8],
    pub(crate) authzid: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    pub(crate) port: Option<u16>,
}

impl<'a> TokenRequest<'a> {
    /// The mechanism asking.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
    /// The user the client names: XOAUTH2's `user=`, OAUTHBEARER's authzid (empty if the
    /// client sent none: then the token alone says who it is).
    pub fn user(&self) -> &'a str {
        self.user
    }
    /// The token (without the `Bearer ` scheme). Empty for an OAUTHBEARER client asking
    /// which scope it needs (RFC 7628 §4.3); the engine never accepts an empty token.
    pub fn token(&self) -> &'a [u8] {
        self.token
    }
    /// OAUTHBEARER: the authorization identity of the GS2 header (`a=`), if any.
    pub fn authzid(&self) -> Option<&'a str> {
        self.authzid
    }
    /// OAUTHBEARER: the `host` the client connected to, if it said.
    pub fn host(&self) -> Option<&'a str> {
        self.host
    }
    /// OAUTHBEARER: the `port` the client connected to, if it said.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
}

impl fmt::Debug for TokenRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("mechanism", &self.mechanism)
            .field("user", &self.user)
            .field("authzid", &self.authzid)
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "token",
                &format_args!("<{} bytes redacted>", self.token.len()),
            )
            .finish()
    }
}

/// An authorization decision to make.
#[derive(Clone, Copy, Debug)]
pub struct AuthorizeRequest<'a> {
    pub(crate) authcid: &'a str,
    pub(crate) authzid: &'a str,
}

impl<'a> AuthorizeRequest<'a> {
    /// Who authenticated.
    pub fn authcid(&self) -> &'a str {
        self.authcid
    }
    /// Whom they ask to act as.
    pub fn authzid(&self) -> &'a str {
        self.authzid
    }
}

/// What an invalid token's error challenge should say (XOAUTH2's JSON `status` and `scope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenError<'a> {
    /// The status: an HTTP code for XOAUTH2 (`"401"`), an OAuth error code for OAUTHBEARER
    /// (`"invalid_token"`).
    pub status: &'a str,
    /// The scope the token needs, if the server wants to tell.
    pub scope: Option<&'a str>,
}

/// The application's answer to a [`Request`].
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Answer<'a> {
    /// The password is valid ([`Request::VerifyPassword`]); the authorization is allowed
    /// ([`Request::Authorize`]). Not for tokens: see [`Answer::TokenOwner`].
    Accept,
    /// The password or token is invalid; the authorization is denied.
    Reject,
    /// No such user. Fails exactly like a wrong password.
    UnknownUser,
    /// The user exists but the account is disabled.
    AccountDisabled,
    /// The backend could not answer now (SMTP 454).
    TemporaryFailure,
    /// The stored plaintext password (for [`Request::VerifyPassword`] and the
    /// [`Request::Secret`] of CRAM-MD5 and SCRAM). An empty password, or one that SASLprep
    /// maps to nothing, authenticates nobody: it fails like [`Answer::UnknownUser`].
    Password(&'a [u8]),
    /// CRAM-MD5's precomputed HMAC-MD5 state, as Dovecot stores it (`{CRAM-MD5}`).
    CramMd5Keys(&'a CramMd5Keys),
    /// SCRAM's stored keys (for [`Request::Secret`] from a SCRAM mechanism; their hash must be
    /// the mechanism's, else [`Error::WrongAnswer`]).
    ScramKeys(&'a ScramKeys),
    /// XOAUTH2, OAUTHBEARER: the token is valid and was issued to this user, who becomes the
    /// authentication identity. When the client named another user (XOAUTH2's `user=`,
    /// OAUTHBEARER's `a=`), the session asks [`Request::Authorize`] whether the owner may act
    /// as that user.
    TokenOwner(&'a str),
    /// The token is invalid: send an error challenge with this content, then fail.
    TokenError(TokenError<'a>),
}

impl fmt::Debug for Answer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Accept => f.write_str("Accept"),
            Answer::Reject => f.write_str("Reject"),
            Answer::UnknownUser => f.write_str("UnknownUser"),
            Answer::AccountDisabled => f.write_str("AccountDisabled"),
            Answer::TemporaryFailure => f.write_str("TemporaryFailure"),
            Answer::Password(p) => write!(f, "Password(<{} bytes redacted>)", p.len()),
            Answer::CramMd5Keys(_) => f.write_str("CramMd5Keys(<redacted>)"),
            Answer::ScramKeys(k) => f.debug_tuple("ScramKeys").field(k).finish(),
            Answer::TokenOwner(u) => f.debug_tuple("TokenOwner").field(u).finish(),
            Answer::TokenError(e) => f.debug_tuple("TokenError").field(e).finish(),
        }
    }
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
            State::PendingMech => self.mech.request(self.mechanism),
            State::PendingAuthorize { .. } => {
                let id = self.mech.identity()?;
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
            State::Done { .. } => self.mech.identity(),
            _ => None,
        }
    }

    /// ANONYMOUS: the trace information the client sent (possibly empty), once the exchange
    /// succeeded. Log it; the identity is always `anonymous`.
    pub fn anonymous_trace(&self) -> Option<&str> {
        match self.state {
            State::Done { .. } => self.mech.anonymous_trace(),
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
        self.mech.wipe();
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
        let next = self.mech.step(&self.config, &mut self.out, response);
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
        let next = self.mech.answer(&mut self.out, answer)?;
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
                if self.mech.needs_authorization() {
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
            Kind::Challenge(_) => ServerStep::Challenge(bytes.unwrap_or_default()),
            Kind::Request => match self.request() {
                Some(r) => ServerStep::Request(r),
                None => ServerStep::Failure(Failure::Malformed),
            },
            Kind::Success => match self.mech.identity() {
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
