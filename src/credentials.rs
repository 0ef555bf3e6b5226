//! What a client authenticates with ([`Credentials`]).

use core::fmt;

use crate::error::Error;
use crate::keys::ScramClientCache;

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
    #[cfg(feature = "gssapi")]
    pub(crate) service: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    /// No credentials yet; add them with the builder methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// SCRAM keys cached from an earlier login ([`ClientSession::scram_cache`](crate::ClientSession::scram_cache)): used instead of
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

    /// OAUTHBEARER: the host name the client connected to (`host=`). GSSAPI, GS2-KRB5: the
    /// host of the target service principal.
    pub fn host(mut self, host: &'a str) -> Self {
        self.host = Some(host);
        self
    }

    /// GSSAPI, GS2-KRB5 (feature `gssapi`): the service name of the target principal
    /// (`smtp`, `imap`); with [`host`](Self::host) it names `service/host@REALM`. The ticket
    /// comes from the default credential cache (`KRB5CCNAME`).
    ///
    /// ```
    /// use saslmech::Credentials;
    /// let creds = Credentials::new().service("smtp").host("mx.example.com");
    /// # let _ = creds;
    /// ```
    #[cfg(feature = "gssapi")]
    pub fn service(mut self, service: &'a str) -> Self {
        self.service = Some(service);
        self
    }

    /// OAUTHBEARER: the port the client connected to (`port=`).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    pub(crate) fn need_authcid(&self) -> Result<&'a str, Error> {
        match self.authcid {
            Some(a) if !a.is_empty() && !a.contains('\0') => Ok(a),
            _ => Err(Error::InvalidArgument(
                "authcid missing, empty or containing NUL",
            )),
        }
    }

    pub(crate) fn need_password(&self) -> Result<&'a [u8], Error> {
        match self.password {
            Some(p) if !p.is_empty() && !p.contains(&0) => Ok(p),
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
            .finish_non_exhaustive()
    }
}
