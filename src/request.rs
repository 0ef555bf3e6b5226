//! What a server session asks the application ([`Request`]), what the application answers
//! ([`Answer`]), and who authenticated ([`Identity`]).

use core::fmt;

use crate::keys::{CramMd5Keys, ScramKeys};
use crate::mechanism::Mechanism;

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
    /// the config how secrets are stored ([`ServerConfig::secret_storage`](crate::ServerConfig::secret_storage)) so that an unknown
    /// user costs the same work as a known one.
    Secret(SecretRequest<'a>),
    /// Validate a bearer token (XOAUTH2, OAUTHBEARER). A valid token is answered with
    /// [`Answer::TokenOwner`], naming the user it was issued to (for example its `email` or
    /// `sub` claim): the engine compares the owner with the user the client named
    /// ([`TokenRequest::user`]) and, when they differ, asks [`Request::Authorize`] whether the
    /// owner may act as that user. An invalid token is [`Answer::Reject`] or
    /// [`Answer::TokenError`] with what the error challenge should say. A bare
    /// [`Answer::Accept`] is [`Error::WrongAnswer`](crate::Error::WrongAnswer): the application must say whose token it
    /// validated.
    ValidateToken(TokenRequest<'a>),
    /// May `authcid` act as `authzid`? [`Answer::Accept`] or [`Answer::Reject`].
    Authorize(AuthorizeRequest<'a>),
    /// GSSAPI, GS2-KRB5 (feature `gssapi`): Kerberos authenticated this principal. Which local
    /// user is it, and may it log in? [`Answer::User`] with the user name,
    /// [`Answer::Accept`] to use the principal's name as it is, [`Answer::Reject`]
    /// ([`Failure::AuthzDenied`](crate::Failure::AuthzDenied)) or [`Answer::UnknownUser`]
    /// ([`Failure::BadCredentials`](crate::Failure::BadCredentials)). When the client asked
    /// for an authzid that differs from the user, the session then asks
    /// [`Request::Authorize`].
    #[cfg(feature = "gssapi")]
    Principal(PrincipalRequest<'a>),
}

/// A Kerberos principal to map to a local user (GSSAPI, GS2-KRB5).
#[cfg(feature = "gssapi")]
#[derive(Clone, Copy, Debug)]
pub struct PrincipalRequest<'a> {
    pub(crate) mechanism: Mechanism,
    pub(crate) principal: &'a str,
    pub(crate) authzid: Option<&'a str>,
}

#[cfg(feature = "gssapi")]
impl<'a> PrincipalRequest<'a> {
    /// The mechanism asking.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
    /// The authenticated principal, as `name@REALM` (e.g. `alice@EXAMPLE.COM`).
    pub fn principal(&self) -> &'a str {
        self.principal
    }
    /// The authorization identity the client asked for, if any (authorized separately
    /// afterwards when it differs from the user the principal maps to).
    pub fn authzid(&self) -> Option<&'a str> {
        self.authzid
    }
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
    /// the mechanism's, else [`Error::WrongAnswer`](crate::Error::WrongAnswer)).
    ScramKeys(&'a ScramKeys),
    /// XOAUTH2, OAUTHBEARER: the token is valid and was issued to this user, who becomes the
    /// authentication identity. When the client named another user (XOAUTH2's `user=`,
    /// OAUTHBEARER's `a=`), the session asks [`Request::Authorize`] whether the owner may act
    /// as that user.
    TokenOwner(&'a str),
    /// The token is invalid: send an error challenge with this content, then fail.
    TokenError(TokenError<'a>),
    /// GSSAPI, GS2-KRB5 ([`Request::Principal`]): the principal may log in as this local user,
    /// who becomes the authentication identity.
    #[cfg(feature = "gssapi")]
    User(&'a str),
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
            #[cfg(feature = "gssapi")]
            Answer::User(u) => f.debug_tuple("User").field(u).finish(),
        }
    }
}
