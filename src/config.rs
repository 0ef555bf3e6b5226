//! Configuration: the server's policy and limits ([`ServerConfig`], shared by its sessions),
//! what the server knows about a connection ([`Transport`]), and the client's limits
//! ([`ClientConfig`]).

use crate::channel_binding::{ChannelBinding, ChannelBindingType};
use crate::error::Failure;
use crate::keys::ScramHash;
use crate::mechanism::Mechanism;
use crate::nonce::{Nonce, NonceSource, SharedPool, random_secret};
use crate::secret::SecretBuf;

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
    pool: SharedPool,
    /// `None`: each hash's own default ([`ScramHash::min_iterations`]).
    pub(crate) scram_iterations: Option<u32>,
    pub(crate) scram_secret: SecretBuf,
    pub(crate) secret_storage: SecretStorage,
    pub(crate) oauth_openid_configuration: Option<String>,
    #[cfg(feature = "gssapi")]
    pub(crate) gssapi_acceptor: Option<String>,
}

/// How the application stores the secrets it answers [`Request::Secret`](crate::Request::Secret) with (CRAM-MD5 and
/// SCRAM). The engine spends the same work on an unknown user ([`Answer::UnknownUser`](crate::Answer::UnknownUser),
/// [`Answer::Reject`](crate::Answer::Reject)) as on a known user stored this way, so the time between the answer and
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
    /// Plaintext passwords, answered with [`Answer::Password`](crate::Answer::Password) (the default). A known user
    /// costs a key derivation per login (SCRAM: PBKDF2 with
    /// [`ServerConfig::scram_iterations`]; CRAM-MD5: the HMAC key schedule), so an unknown
    /// user costs the same derivation on a dummy password.
    #[default]
    Plaintext,
    /// Stored keys, answered with [`Answer::ScramKeys`](crate::Answer::ScramKeys) and [`Answer::CramMd5Keys`](crate::Answer::CramMd5Keys): no
    /// derivation per login, and none for an unknown user.
    Keys,
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
            #[cfg(feature = "gssapi")]
            gssapi_acceptor: self.gssapi_acceptor.clone(),
            pool: SharedPool::default(),
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
    /// Default SCRAM-SHA-1 and SCRAM-SHA-256 iteration count for keys derived from a plaintext
    /// password and for unknown users (RFC 7677 recommends at least 4096). SCRAM-SHA-512's
    /// default is 10000 (draft-melnikov-scram-sha-512); see [`ScramHash::min_iterations`].
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
            pool: SharedPool::default(),
            scram_iterations: None,
            scram_secret: random_secret(),
            secret_storage: SecretStorage::Plaintext,
            oauth_openid_configuration: None,
            #[cfg(feature = "gssapi")]
            gssapi_acceptor: None,
        }
    }

    /// GSSAPI, GS2-KRB5 (feature `gssapi`): accept only tickets for the service principal
    /// `service/hostname` (for example `smtp` and `mx.example.com`), whose key must be in the
    /// keytab (`KRB5_KTNAME`, else the system's `/etc/krb5.keytab`). By default any service
    /// principal of the keytab is accepted. Enable the mechanisms themselves with
    /// [`mechanisms`](Self::mechanisms): they are never on by default.
    ///
    /// ```
    /// use saslmech::{Mechanism, ServerConfig};
    /// let config = ServerConfig::new()
    ///     .mechanisms(&[Mechanism::Gs2Krb5, Mechanism::Gssapi])
    ///     .gssapi_acceptor("smtp", "mx.example.com");
    /// assert_eq!(config.offered(false).count(), 2); // no TLS needed: no secret crosses the wire
    /// ```
    #[cfg(feature = "gssapi")]
    pub fn gssapi_acceptor(mut self, service: &str, hostname: &str) -> Self {
        self.gssapi_acceptor = Some(format!("{service}@{hostname}"));
        self
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
    /// plaintext password the application supplies ([`Answer::Password`](crate::Answer::Password)): `HMAC-SHA-256(secret,
    /// mechanism, user name)`. The same user always gets the same salt, so a probe cannot tell
    /// a made-up user from a real one. Set the same secret on every server of a cluster and
    /// keep it across restarts; by default it is random per configuration.
    pub fn scram_secret(mut self, secret: &[u8]) -> Self {
        self.scram_secret = SecretBuf::from_slice(secret);
        self
    }

    /// The SCRAM iteration count used with [`Answer::Password`](crate::Answer::Password) and for unknown users. Should
    /// match what stored keys use, so unknown users do not stand out. At least 1.
    ///
    /// Set, it holds for every SCRAM hash. Unset, each hash has the count its specification
    /// recommends ([`ScramHash::min_iterations`]): 4096
    /// ([`DEFAULT_SCRAM_ITERATIONS`](Self::DEFAULT_SCRAM_ITERATIONS)) for SCRAM-SHA-1 and
    /// SCRAM-SHA-256, 10000 for SCRAM-SHA-512.
    pub fn scram_iterations(mut self, iterations: u32) -> Self {
        self.scram_iterations = Some(iterations.max(1));
        self
    }

    /// The iteration count for `hash`: the configured one, else the hash's default.
    pub(crate) fn scram_iterations_for(&self, hash: ScramHash) -> u32 {
        self.scram_iterations.unwrap_or(hash.min_iterations())
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

    /// A nonce for one session, from the configured source.
    pub(crate) fn nonce(&self) -> Result<Nonce<'_>, Failure> {
        self.nonce.server_nonce(&self.pool)
    }
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
