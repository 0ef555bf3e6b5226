//! SASL mechanism names and properties, and the client's choice among advertised mechanisms.

use core::fmt;
use core::str::FromStr;

/// A SASL mechanism this engine implements, by its IANA name.
///
/// Parsing is case-insensitive; `Display` gives the canonical upper-case name.
///
/// ```
/// use saslmech::Mechanism;
/// let m: Mechanism = "cram-md5".parse().unwrap();
/// assert_eq!(m, Mechanism::CramMd5);
/// assert_eq!(m.to_string(), "CRAM-MD5");
/// assert!(!m.client_first());
/// assert!(Mechanism::Plain.exposes_secret());
/// assert!("NTLM".parse::<Mechanism>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Mechanism {
    /// PLAIN (RFC 4616).
    Plain,
    /// LOGIN (draft-murchison-sasl-login, MS-XLOGIN).
    Login,
    /// CRAM-MD5 (RFC 2195).
    CramMd5,
    /// XOAUTH2 (Google, Microsoft).
    XOAuth2,
    /// SCRAM-SHA-1 (RFC 5802).
    ScramSha1,
    /// SCRAM-SHA-1-PLUS: SCRAM-SHA-1 with TLS channel binding (RFC 5802).
    ScramSha1Plus,
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// SCRAM-SHA-256-PLUS: SCRAM-SHA-256 with TLS channel binding (RFC 7677).
    ScramSha256Plus,
    /// SCRAM-SHA-512 (draft-melnikov-scram-sha-512). Not in [`ServerConfig::new`]'s default
    /// list: a server offers it when listed, and answers with `SCRAM-SHA-512` keys or the
    /// plaintext.
    ///
    /// [`ServerConfig::new`]: crate::ServerConfig::new
    ScramSha512,
    /// SCRAM-SHA-512-PLUS: SCRAM-SHA-512 with TLS channel binding
    /// (draft-melnikov-scram-sha-512).
    ScramSha512Plus,
    /// OAUTHBEARER (RFC 7628).
    OAuthBearer,
    /// EXTERNAL (RFC 4422 Appendix A): the identity comes from the transport (a TLS client
    /// certificate).
    External,
    /// ANONYMOUS (RFC 4505).
    Anonymous,
    /// GSSAPI (RFC 4752) with Kerberos V5 (feature `gssapi`).
    #[cfg(feature = "gssapi")]
    Gssapi,
    /// GS2-KRB5 (RFC 5801): Kerberos V5 through the GS2 bridge (feature `gssapi`).
    #[cfg(feature = "gssapi")]
    Gs2Krb5,
}

/// Every mechanism the engine implements, strongest first (the order [`select`] prefers).
/// EXTERNAL and ANONYMOUS come last: [`select`] picks them only when asked for explicitly.
///
/// SCRAM-SHA-512 ranks just below SCRAM-SHA-256 of the same kind: channel binding counts for
/// more than the hash (neither SHA-256 nor SHA-512 has a weakness that matters to HMAC or
/// PBKDF2), and between the two hashes the standards-track one (RFC 7677, the one RFC 9051
/// recommends and every SCRAM mail server keeps keys for) is the safer guess when a server
/// offers both. A server offering SCRAM-SHA-512 alone gets it.
///
/// GS2-KRB5 and GSSAPI (feature `gssapi`) are listed apart, in `KERBEROS`.
pub const ALL: &[Mechanism] = &[
    Mechanism::ScramSha256Plus,
    Mechanism::ScramSha512Plus,
    Mechanism::ScramSha256,
    Mechanism::ScramSha512,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha1,
    Mechanism::OAuthBearer,
    Mechanism::XOAuth2,
    Mechanism::CramMd5,
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::External,
    Mechanism::Anonymous,
];

/// The Kerberos mechanisms (feature `gssapi`), GS2-KRB5 first: not in [`ALL`], since a
/// session of theirs needs a Kerberos ticket (client) or keytab (server), not a password.
/// [`select`] ranks them after [`ALL`] and picks them only with [`SelectOptions::kerberos`].
#[cfg(feature = "gssapi")]
pub const KERBEROS: &[Mechanism] = &[Mechanism::Gs2Krb5, Mechanism::Gssapi];

/// [`ALL`], then the Kerberos mechanisms when the feature `gssapi` is on.
fn every() -> impl Iterator<Item = Mechanism> {
    #[cfg(feature = "gssapi")]
    let kerberos = KERBEROS.iter();
    #[cfg(not(feature = "gssapi"))]
    let kerberos = [].iter();
    ALL.iter().chain(kerberos).copied()
}

impl Mechanism {
    /// The canonical IANA name.
    pub const fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::ScramSha512Plus => "SCRAM-SHA-512-PLUS",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::External => "EXTERNAL",
            Mechanism::Anonymous => "ANONYMOUS",
            #[cfg(feature = "gssapi")]
            Mechanism::Gssapi => "GSSAPI",
            #[cfg(feature = "gssapi")]
            Mechanism::Gs2Krb5 => "GS2-KRB5",
        }
    }

    /// Parse a mechanism name, ignoring ASCII case. Returns `None` for names this engine does
    /// not implement.
    pub fn from_name(name: &[u8]) -> Option<Mechanism> {
        every().find(|m| m.name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// True if the client speaks first, so the mechanism can use an initial response.
    /// (LOGIN is server-first, though servers accept the username as an initial response.)
    pub const fn client_first(self) -> bool {
        !matches!(self, Mechanism::Login | Mechanism::CramMd5)
    }

    /// True if the password itself crosses the wire, so an eavesdropper could reuse it.
    pub const fn exposes_secret(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login)
    }

    /// True if the mechanism must not be offered on a channel without TLS by default:
    /// those that expose the password, and bearer-token mechanisms, whose token is replayable
    /// for its lifetime (RFC 7628 §5 requires TLS).
    pub const fn requires_tls(self) -> bool {
        matches!(
            self,
            Mechanism::Plain | Mechanism::Login | Mechanism::XOAuth2 | Mechanism::OAuthBearer
        )
    }

    /// True for mechanisms with known cryptographic weaknesses that a strict policy may refuse
    /// (CRAM-MD5: MD5, no mutual authentication, plaintext-equivalent storage).
    pub const fn weak(self) -> bool {
        matches!(self, Mechanism::CramMd5)
    }

    /// True if the mechanism takes TLS channel binding (the SCRAM `-PLUS` family).
    pub const fn channel_binding(self) -> bool {
        matches!(
            self,
            Mechanism::ScramSha1Plus | Mechanism::ScramSha256Plus | Mechanism::ScramSha512Plus
        )
    }

    /// True for the SCRAM family (with or without channel binding).
    pub const fn is_scram(self) -> bool {
        matches!(
            self,
            Mechanism::ScramSha1
                | Mechanism::ScramSha1Plus
                | Mechanism::ScramSha256
                | Mechanism::ScramSha256Plus
                | Mechanism::ScramSha512
                | Mechanism::ScramSha512Plus
        )
    }

    /// True if the mechanism authenticates with a password (as opposed to a token or the
    /// transport).
    pub const fn uses_password(self) -> bool {
        matches!(
            self,
            Mechanism::Plain
                | Mechanism::Login
                | Mechanism::CramMd5
                | Mechanism::ScramSha1
                | Mechanism::ScramSha1Plus
                | Mechanism::ScramSha256
                | Mechanism::ScramSha256Plus
                | Mechanism::ScramSha512
                | Mechanism::ScramSha512Plus
        )
    }

    /// True for GSSAPI and GS2-KRB5 (feature `gssapi`): the client authenticates with a
    /// Kerberos ticket.
    pub const fn uses_kerberos(self) -> bool {
        #[cfg(feature = "gssapi")]
        if matches!(self, Mechanism::Gssapi | Mechanism::Gs2Krb5) {
            return true;
        }
        false
    }

    /// True if the mechanism authenticates with an OAuth 2.0 bearer token.
    pub const fn uses_token(self) -> bool {
        matches!(self, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an unknown mechanism name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownMechanism;

impl fmt::Display for UnknownMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown or unsupported SASL mechanism")
    }
}

impl std::error::Error for UnknownMechanism {}

impl FromStr for Mechanism {
    type Err = UnknownMechanism;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mechanism::from_name(s.as_bytes()).ok_or(UnknownMechanism)
    }
}

/// What the client has and what it may do, for [`select`].
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct SelectOptions {
    /// The client has a password.
    pub password: bool,
    /// The client has an OAuth 2.0 bearer token.
    pub token: bool,
    /// The connection is protected by TLS.
    pub tls: bool,
    /// Allow mechanisms that send the password or token in the clear without TLS.
    pub allow_plaintext: bool,
    /// TLS channel-binding data is available, so the SCRAM `-PLUS` mechanisms may be chosen.
    pub channel_binding: bool,
    /// The client wants EXTERNAL (its identity is established by the transport, such as a
    /// TLS client certificate). Never chosen unless set.
    pub external: bool,
    /// The client wants ANONYMOUS. Never chosen unless set.
    pub anonymous: bool,
    /// The client has a Kerberos ticket: GS2-KRB5 and GSSAPI may be chosen (feature
    /// `gssapi`). Never chosen unless set.
    #[cfg(feature = "gssapi")]
    pub kerberos: bool,
}

impl SelectOptions {
    const fn uses_kerberos(&self) -> bool {
        #[cfg(feature = "gssapi")]
        if self.kerberos {
            return true;
        }
        false
    }

    /// Options for a client holding a password.
    pub fn password(tls: bool) -> Self {
        SelectOptions {
            password: true,
            tls,
            ..Default::default()
        }
    }

    /// Options for a client holding a bearer token.
    pub fn token(tls: bool) -> Self {
        SelectOptions {
            token: true,
            tls,
            ..Default::default()
        }
    }

    /// Allow plaintext mechanisms without TLS (for testing against loopback servers).
    pub fn allow_plaintext(mut self, allow: bool) -> Self {
        self.allow_plaintext = allow;
        self
    }

    /// Say whether channel-binding data is available (enables the SCRAM `-PLUS` mechanisms).
    pub fn channel_binding(mut self, available: bool) -> Self {
        self.channel_binding = available;
        self
    }

    /// Allow EXTERNAL.
    pub fn external(mut self, allow: bool) -> Self {
        self.external = allow;
        self
    }

    /// Allow ANONYMOUS.
    pub fn anonymous(mut self, allow: bool) -> Self {
        self.anonymous = allow;
        self
    }

    /// Allow GS2-KRB5 and GSSAPI (the client has a Kerberos ticket).
    #[cfg(feature = "gssapi")]
    pub fn kerberos(mut self, allow: bool) -> Self {
        self.kerberos = allow;
        self
    }
}

/// Pick the strongest mechanism from a server's advertised list that the client can use.
///
/// Names the engine does not know are ignored; mechanisms that need TLS are skipped on a
/// plaintext channel unless `allow_plaintext` is set; the `-PLUS` mechanisms need
/// `channel_binding`; EXTERNAL and ANONYMOUS are chosen only when asked for.
///
/// ```
/// use saslmech::{select, Mechanism, SelectOptions};
/// let advertised = "PLAIN LOGIN CRAM-MD5 NTLM".split(' ');
/// assert_eq!(select(advertised.clone(), SelectOptions::password(true)), Some(Mechanism::CramMd5));
/// let modern = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "PLAIN"];
/// assert_eq!(select(modern, SelectOptions::password(true)), Some(Mechanism::ScramSha256));
/// let opts = SelectOptions::password(true).channel_binding(true);
/// assert_eq!(select(modern, opts), Some(Mechanism::ScramSha256Plus));
/// // SCRAM-SHA-512 when the server offers it without SCRAM-SHA-256.
/// let kafka = ["SCRAM-SHA-512", "PLAIN"];
/// assert_eq!(select(kafka, SelectOptions::password(true)), Some(Mechanism::ScramSha512));
/// // Without TLS only CRAM-MD5 is safe to use.
/// let only_plain = ["PLAIN", "LOGIN"];
/// assert_eq!(select(only_plain, SelectOptions::password(false)), None);
/// assert_eq!(select(only_plain, SelectOptions::password(true)), Some(Mechanism::Plain));
/// ```
pub fn select<'a, I>(advertised: I, opts: SelectOptions) -> Option<Mechanism>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(usize, Mechanism)> = None;
    for name in advertised {
        let Some(m) = Mechanism::from_name(name.trim().as_bytes()) else {
            continue;
        };
        let usable = (m.uses_password() && opts.password)
            || (m.uses_token() && opts.token)
            || (m == Mechanism::External && opts.external)
            || (m == Mechanism::Anonymous && opts.anonymous)
            || (m.uses_kerberos() && opts.uses_kerberos());
        if !usable
            || (m.requires_tls() && !opts.tls && !opts.allow_plaintext)
            || (m.channel_binding() && !opts.channel_binding)
        {
            continue;
        }
        let rank = every().position(|x| x == m).unwrap_or(usize::MAX);
        if best.is_none_or(|(r, _)| rank < r) {
            best = Some((rank, m));
        }
    }
    best.map(|(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in every().collect::<Vec<_>>().iter() {
            assert_eq!(Mechanism::from_name(m.name().as_bytes()), Some(*m));
            assert_eq!(m.name().to_ascii_lowercase().parse::<Mechanism>(), Ok(*m));
        }
        assert_eq!("PLAIN ".parse::<Mechanism>(), Err(UnknownMechanism));
        assert_eq!(Mechanism::from_name(b""), None);
    }

    #[test]
    fn selection() {
        let adv = ["login", "plain", "xoauth2"];
        assert_eq!(
            select(adv, SelectOptions::password(true)),
            Some(Mechanism::Plain)
        );
        assert_eq!(
            select(adv, SelectOptions::token(true)),
            Some(Mechanism::XOAuth2)
        );
        assert_eq!(select(adv, SelectOptions::token(false)), None);
        assert_eq!(
            select(adv, SelectOptions::password(false).allow_plaintext(true)),
            Some(Mechanism::Plain)
        );
        assert_eq!(
            select(["LOGIN"], SelectOptions::password(true)),
            Some(Mechanism::Login)
        );
        assert_eq!(select([], SelectOptions::password(true)), None);
    }

    #[test]
    fn strength_order() {
        let all: Vec<&str> = ALL.iter().map(|m| m.name()).collect();
        // Advertised in reverse order: the rank decides, not the position.
        let reversed: Vec<&str> = all.iter().rev().copied().collect();
        let cb = SelectOptions::password(true).channel_binding(true);
        assert_eq!(
            select(reversed.clone(), cb),
            Some(Mechanism::ScramSha256Plus)
        );
        assert_eq!(
            select(reversed.clone(), SelectOptions::password(true)),
            Some(Mechanism::ScramSha256)
        );
        assert_eq!(
            select(["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "CRAM-MD5"], cb),
            Some(Mechanism::ScramSha1Plus)
        );
        // SCRAM-SHA-512: below SCRAM-SHA-256 of the same kind, above the hash's lack of
        // channel binding, above SCRAM-SHA-1.
        let scram = [
            "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-1",
            "SCRAM-SHA-512",
            "SCRAM-SHA-512-PLUS",
            "SCRAM-SHA-256",
        ];
        assert_eq!(select(scram, cb), Some(Mechanism::ScramSha512Plus));
        assert_eq!(
            select(scram, SelectOptions::password(true)),
            Some(Mechanism::ScramSha256)
        );
        assert_eq!(
            select(["SCRAM-SHA-1-PLUS", "SCRAM-SHA-512"], cb),
            Some(Mechanism::ScramSha512)
        );
        assert_eq!(
            select(
                ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "CRAM-MD5"],
                SelectOptions::password(false)
            ),
            Some(Mechanism::ScramSha1)
        );
        assert_eq!(
            select(reversed.clone(), SelectOptions::token(true)),
            Some(Mechanism::OAuthBearer)
        );
        // OAUTHBEARER's bearer token needs TLS (RFC 7628 §5).
        assert_eq!(select(["OAUTHBEARER"], SelectOptions::token(false)), None);
        // EXTERNAL and ANONYMOUS only when asked.
        assert_eq!(
            select(["EXTERNAL", "ANONYMOUS"], SelectOptions::password(true)),
            None
        );
        assert_eq!(
            select(
                ["EXTERNAL", "ANONYMOUS"],
                SelectOptions::default().external(true)
            ),
            Some(Mechanism::External)
        );
        assert_eq!(
            select(
                ["EXTERNAL", "ANONYMOUS"],
                SelectOptions::default().anonymous(true)
            ),
            Some(Mechanism::Anonymous)
        );
        for m in ALL {
            assert_eq!(m.channel_binding(), m.name().ends_with("-PLUS"));
            assert!(m.client_first() || matches!(m, Mechanism::Login | Mechanism::CramMd5));
        }
        #[cfg(feature = "gssapi")]
        {
            let adv = ["GSSAPI", "GS2-KRB5", "PLAIN"];
            assert_eq!(
                select(adv, SelectOptions::password(true)),
                Some(Mechanism::Plain)
            );
            let krb = SelectOptions::default().kerberos(true);
            assert_eq!(select(adv, krb), Some(Mechanism::Gs2Krb5));
            assert_eq!(select(["GSSAPI"], krb), Some(Mechanism::Gssapi));
        }
    }
}
