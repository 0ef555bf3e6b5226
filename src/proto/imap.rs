//! IMAP `AUTHENTICATE` (RFC 9051 §6.2.2, SASL-IR RFC 4959, response codes RFC 5530):
//! [`ImapServer`] and [`ImapClient`].
//!
//! | outcome | tagged reply |
//! |---|---|
//! | challenge | `+ <base64>` (`+ ` for an empty one) |
//! | success | `tag OK AUTHENTICATE completed` |
//! | wrong credentials, malformed message, account disabled | `tag NO [AUTHENTICATIONFAILED] Authentication failed` |
//! | authorization identity refused | `tag NO [AUTHORIZATIONFAILED] Authorization failed` |
//! | temporary failure | `tag NO [UNAVAILABLE] Temporary authentication failure` |
//! | plaintext mechanism before TLS | `tag NO [PRIVACYREQUIRED] Encryption required for this mechanism` |
//! | unknown or not offered mechanism (a well-formed name) | `tag NO Unsupported authentication mechanism` |
//! | mechanism too weak | `tag NO Authentication mechanism is too weak` |
//! | `*` (cancel) | `tag BAD Authentication cancelled` |
//! | invalid base64, initial response to a server-first mechanism, line too long | `tag BAD …` |
//! | a mechanism name that is not RFC 4422 `sasl-mech` syntax (NUL, control or non-ASCII octets included), extra arguments | `tag BAD Syntax: AUTHENTICATE mechanism [initial-response]` |
//!
//! Server-final data goes out as one more `+` continuation, answered by an empty line.

use std::sync::Arc;

use super::{
    AuthIdentity, ClientDriver, ClientEvent, Phase, Replies, ServerDriver, ServerEvent, lossy,
    reply, strip_eol, word,
};
use crate::client::{ClientConfig, Credentials};
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::secret::SecretBuf;
use crate::server::{Answer, ServerConfig, Transport};

/// The default longest line accepted, in octets without CRLF.
pub const MAX_LINE: usize = 12288;

/// The text after the tag for a failure.
fn failure_text(failure: Failure) -> &'static str {
    match failure {
        Failure::BadCredentials
        | Failure::Malformed
        | Failure::AccountDisabled
        | Failure::TooManySteps
        | Failure::ChannelBinding
        | Failure::ServerAuthentication => "NO [AUTHENTICATIONFAILED] Authentication failed",
        Failure::AuthzDenied => "NO [AUTHORIZATIONFAILED] Authorization failed",
        Failure::TemporaryFailure => "NO [UNAVAILABLE] Temporary authentication failure",
        Failure::EncryptionRequired => {
            "NO [PRIVACYREQUIRED] Encryption required for this mechanism"
        }
        Failure::MechanismUnavailable => "NO Unsupported authentication mechanism",
        Failure::MechanismTooWeak => "NO Authentication mechanism is too weak",
        Failure::Cancelled => "BAD Authentication cancelled",
        Failure::InvalidBase64 => "BAD Invalid base64 data",
        Failure::UnexpectedInitialResponse => "BAD Initial response not allowed for this mechanism",
        Failure::TooLarge => "BAD Authentication line too long",
    }
}

/// IMAP's replies: tagged with the tag of the command being answered.
struct Tagged {
    tag: String,
}

impl Tagged {
    fn reply(&self, text: &str) -> Vec<u8> {
        reply(&[self.tag.as_bytes(), b" ", text.as_bytes()])
    }
}

impl Replies for Tagged {
    const CHALLENGE: &'static [u8] = b"+ ";

    fn success(&self) -> Vec<u8> {
        self.reply("OK AUTHENTICATE completed")
    }

    fn failure(&self, failure: Failure) -> Vec<u8> {
        self.reply(failure_text(failure))
    }

    fn already_authenticated(&self) -> Vec<u8> {
        self.reply("BAD Already authenticated")
    }

    fn syntax(&self) -> Vec<u8> {
        self.reply("BAD Syntax: AUTHENTICATE mechanism [initial-response]")
    }
}

/// True for a valid IMAP tag: 1 to 64 `ASTRING-CHAR`s other than `+`.
fn valid_tag(tag: &[u8]) -> bool {
    (1..=64).contains(&tag.len())
        && tag.iter().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// The server side of IMAP `AUTHENTICATE` for one connection.
///
/// ```
/// use std::sync::Arc;
/// use saslmech::proto::{ServerEvent, imap::ImapServer};
/// use saslmech::{Answer, ServerConfig};
///
/// let mut server = ImapServer::new(Arc::new(ServerConfig::new()));
/// server.set_tls(true);
/// assert_eq!(
///     server.capabilities(),
///     "AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-1 AUTH=OAUTHBEARER AUTH=XOAUTH2 AUTH=CRAM-MD5 \
///      AUTH=PLAIN AUTH=LOGIN SASL-IR"
/// );
/// let ServerEvent::Challenge(c) = server.command(b"a1 AUTHENTICATE PLAIN\r\n").unwrap() else { panic!() };
/// assert_eq!(c, b"+ \r\n");
/// assert_eq!(server.line(b"*\r\n").unwrap().reply().unwrap(), b"a1 BAD Authentication cancelled\r\n");
/// ```
pub struct ImapServer {
    driver: ServerDriver<Tagged>,
}

impl core::fmt::Debug for ImapServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.driver.debug("ImapServer", f)
    }
}

impl ImapServer {
    /// An adapter for a new connection without TLS.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        let replies = Tagged { tag: String::new() };
        ImapServer {
            driver: ServerDriver::new(config, replies, MAX_LINE),
        }
    }

    /// The longest line accepted, in octets without CRLF (default [`MAX_LINE`]).
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.driver.set_max_line(max_line);
        self
    }

    /// Record whether the connection is protected by TLS (after STARTTLS); forgets any
    /// authentication, channel binding and external identity.
    pub fn set_tls(&mut self, tls: bool) {
        self.driver.set_tls(tls);
    }

    /// Describe the connection fully (after STARTTLS, or for an implicit-TLS port): TLS, the
    /// channel-binding data for the SCRAM `-PLUS` mechanisms, the external identity for
    /// EXTERNAL. Forgets any authentication. See
    /// [`SmtpServer::set_transport`](super::smtp::SmtpServer::set_transport).
    pub fn set_transport(&mut self, transport: Transport) {
        self.driver.set_transport(transport);
    }

    /// Forget the exchange and any authentication.
    pub fn reset(&mut self) {
        self.driver.reset();
    }

    /// The capability tokens to advertise now: `AUTH=<mech>` for each mechanism allowed by
    /// policy and the transport, then `SASL-IR`.
    pub fn capabilities(&self) -> String {
        let mut out = String::new();
        for m in self.driver.offered() {
            out.push_str("AUTH=");
            out.push_str(m.name());
            out.push(' ');
        }
        out.push_str("SASL-IR");
        out
    }

    /// Where the exchange stands.
    pub fn phase(&self) -> Phase {
        self.driver.phase()
    }

    /// Who authenticated, once the client has.
    pub fn identity(&self) -> Option<&AuthIdentity> {
        self.driver.identity()
    }

    /// The `tag AUTHENTICATE <mechanism> [<initial-response> | =]` command line.
    ///
    /// [`Error::InvalidArgument`] if the line is not an AUTHENTICATE command;
    /// [`Error::InvalidState`] during an exchange.
    pub fn command(&mut self, line: &[u8]) -> Result<ServerEvent, Error> {
        self.driver.expect_command()?;
        let line = strip_eol(line);
        let (tag, rest) = word(line);
        let (verb, args) = word(rest);
        if !verb.eq_ignore_ascii_case(b"AUTHENTICATE") {
            return Err(Error::InvalidArgument("not an AUTHENTICATE command"));
        }
        if !valid_tag(tag) {
            return Ok(ServerEvent::Reply(reply(&[b"* BAD Invalid tag"])));
        }
        self.driver.replies.tag = lossy(tag);
        Ok(self.driver.command(line, args))
    }

    /// A client line during the exchange: base64, an empty line, or `*` to cancel.
    pub fn line(&mut self, line: &[u8]) -> Result<ServerEvent, Error> {
        self.driver.line(line)
    }

    /// Answer the pending [`ServerEvent::Request`].
    pub fn answer(&mut self, answer: Answer<'_>) -> Result<ServerEvent, Error> {
        self.driver.answer(answer)
    }
}

/// The mechanisms in a `CAPABILITY` response (`AUTH=PLAIN` tokens), upper-cased, in order.
///
/// ```
/// use saslmech::proto::imap::{capability_mechanisms, has_sasl_ir};
/// let line = b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN auth=xoauth2";
/// assert_eq!(capability_mechanisms(line), ["PLAIN", "XOAUTH2"]);
/// assert!(has_sasl_ir(line));
/// ```
pub fn capability_mechanisms(line: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for token in tokens(line) {
        if let Some(name) = token
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case(b"AUTH="))
            .and_then(|_| token.get(5..))
            .and_then(super::smtp::mechanism_name)
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    out
}

/// True if a `CAPABILITY` response lists `SASL-IR` (or `IMAP4rev2`, where it is core).
pub fn has_sasl_ir(line: &[u8]) -> bool {
    tokens(line).any(|t| t.eq_ignore_ascii_case(b"SASL-IR") || t.eq_ignore_ascii_case(b"IMAP4rev2"))
}

fn tokens(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    strip_eol(line)
        .split(|b| *b == b' ')
        .map(|t| t.strip_prefix(b"[").unwrap_or(t))
        .map(|t| t.strip_suffix(b"]").unwrap_or(t))
}

/// What a tagged `NO` says about why the server refused.
fn indicated(text: &[u8]) -> Failure {
    let code = |c: &[u8]| text.windows(c.len()).any(|w| w.eq_ignore_ascii_case(c));
    if code(b"[UNAVAILABLE]") {
        Failure::TemporaryFailure
    } else if code(b"[AUTHORIZATIONFAILED]") {
        Failure::AuthzDenied
    } else if code(b"[PRIVACYREQUIRED]") {
        Failure::EncryptionRequired
    } else {
        Failure::BadCredentials
    }
}

/// The client side of IMAP `AUTHENTICATE`.
///
/// ```
/// use saslmech::proto::{ClientEvent, imap::ImapClient};
/// use saslmech::{Credentials, Mechanism};
///
/// let creds = Credentials::new().authcid("tim").password(b"tanstaaftanstaaf");
/// let mut client = ImapClient::new("a1", Mechanism::Login, &creds).unwrap();
/// assert_eq!(client.start().unwrap().as_slice(), b"a1 AUTHENTICATE LOGIN\r\n");
/// let ClientEvent::Send(r) = client.line(b"+ VXNlcm5hbWU6\r\n").unwrap() else { panic!() };
/// assert_eq!(r.as_slice(), b"dGlt\r\n");
/// let ClientEvent::More = client.line(b"* OK still here\r\n").unwrap() else { panic!() };
/// let ClientEvent::Send(_) = client.line(b"+ UGFzc3dvcmQ6\r\n").unwrap() else { panic!() };
/// let ClientEvent::Done(o) = client.line(b"a1 NO [AUTHENTICATIONFAILED] no\r\n").unwrap() else { panic!() };
/// assert_eq!((o.authenticated, o.status.as_str()), (false, "NO"));
/// ```
pub struct ImapClient {
    driver: ClientDriver,
    tag: String,
    use_ir: bool,
}

impl core::fmt::Debug for ImapClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ImapClient")
            .field("tag", &self.tag)
            .field("mechanism", &self.driver.mechanism())
            .finish_non_exhaustive()
    }
}

impl ImapClient {
    /// A client sending the command with `tag`; fails on an invalid tag or credentials the
    /// mechanism cannot use.
    pub fn new(
        tag: &str,
        mechanism: Mechanism,
        credentials: &Credentials<'_>,
    ) -> Result<Self, Error> {
        Self::with_config(tag, mechanism, credentials, &ClientConfig::default())
    }

    /// A client with explicit settings (channel binding for the SCRAM `-PLUS` mechanisms,
    /// SCRAM iteration bounds, limits).
    pub fn with_config(
        tag: &str,
        mechanism: Mechanism,
        credentials: &Credentials<'_>,
        config: &ClientConfig,
    ) -> Result<Self, Error> {
        if !valid_tag(tag.as_bytes()) {
            return Err(Error::InvalidArgument("invalid IMAP tag"));
        }
        Ok(ImapClient {
            driver: ClientDriver::new(mechanism, credentials, config)?,
            tag: tag.to_owned(),
            use_ir: true,
        })
    }

    /// Whether to send an initial response (SASL-IR). On by default; turn it off for an
    /// IMAP4rev1 server that does not list `SASL-IR` (see [`has_sasl_ir`]).
    pub fn sasl_ir(mut self, use_ir: bool) -> Self {
        self.use_ir = use_ir;
        self
    }

    /// The `AUTHENTICATE` command to send.
    pub fn start(&mut self) -> Result<SecretBuf, Error> {
        let prefix = format!(
            "{} AUTHENTICATE {}",
            self.tag,
            self.driver.mechanism().name()
        );
        self.driver.start(&prefix, self.use_ir, usize::MAX)
    }

    /// A line from the server.
    pub fn line(&mut self, line: &[u8]) -> Result<ClientEvent, Error> {
        self.driver.check_running()?;
        let line = strip_eol(line);
        if let Some(rest) = line.strip_prefix(b"+") {
            let b64 = rest.strip_prefix(b" ").unwrap_or(rest);
            return Ok(self.driver.challenge(b64.trim_ascii()));
        }
        let (tag, rest) = word(line);
        if tag != self.tag.as_bytes() {
            // Untagged data, or another command's completion.
            return Ok(ClientEvent::More);
        }
        let (status, text) = word(rest);
        let (status_s, text_s) = (lossy(status).to_ascii_uppercase(), lossy(text));
        Ok(match status_s.as_str() {
            "OK" => self.driver.success(&status_s, &text_s),
            "NO" => self.driver.failure(&status_s, &text_s, indicated(text)),
            "BAD" => self.driver.failure(&status_s, &text_s, Failure::Malformed),
            _ => self.driver.garbled(),
        })
    }
}
