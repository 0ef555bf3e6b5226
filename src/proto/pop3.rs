//! POP3 `AUTH` (RFC 5034, response codes RFC 2449 and RFC 3206): [`Pop3Server`] and
//! [`Pop3Client`].
//!
//! | outcome | reply |
//! |---|---|
//! | challenge | `+ <base64>` (`+ ` for an empty one) |
//! | success | `+OK Authentication successful` |
//! | wrong credentials, malformed message, authorization refused | `-ERR [AUTH] Authentication failed` |
//! | temporary failure | `-ERR [SYS/TEMP] Temporary authentication failure` |
//! | plaintext mechanism before TLS | `-ERR [AUTH] Plaintext authentication disallowed without TLS` |
//! | `*` (cancel) | `-ERR Authentication cancelled` |
//! | a mechanism name that is not RFC 4422 `sasl-mech` syntax (NUL, control or non-ASCII octets included), extra arguments | `-ERR Syntax: AUTH mechanism [initial-response]` |
//! | other protocol errors | `-ERR …` |
//!
//! A bare `AUTH` lists the mechanisms in the older multi-line form some clients use. A client
//! sends an initial response only if the whole command fits POP3's 255 octets.

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

/// The default longest exchange line a server accepts, in octets without CRLF.
pub const MAX_LINE: usize = 12288;

/// RFC 2449 §4: a command line, CRLF included, is at most 255 octets; an AUTH command with
/// an initial response that would be longer goes without it (RFC 5034 §4).
pub const MAX_COMMAND: usize = 255;

fn failure_text(failure: Failure) -> &'static str {
    match failure {
        Failure::BadCredentials
        | Failure::Malformed
        | Failure::AuthzDenied
        | Failure::AccountDisabled
        | Failure::TooManySteps
        | Failure::ChannelBinding
        | Failure::ServerAuthentication => "-ERR [AUTH] Authentication failed",
        Failure::TemporaryFailure => "-ERR [SYS/TEMP] Temporary authentication failure",
        Failure::EncryptionRequired => {
            "-ERR [AUTH] Plaintext authentication disallowed without TLS"
        }
        Failure::MechanismUnavailable => "-ERR Unsupported authentication mechanism",
        Failure::MechanismTooWeak => "-ERR Authentication mechanism is too weak",
        Failure::Cancelled => "-ERR Authentication cancelled",
        Failure::InvalidBase64 => "-ERR Invalid base64 data",
        Failure::UnexpectedInitialResponse => {
            "-ERR Initial response not allowed for this mechanism"
        }
        Failure::TooLarge => "-ERR Authentication line too long",
    }
}

/// POP3's replies: untagged, and a bare `AUTH` lists the mechanisms.
struct Untagged;

impl Replies for Untagged {
    const CHALLENGE: &'static [u8] = b"+ ";

    fn success(&self) -> Vec<u8> {
        reply(&[b"+OK Authentication successful"])
    }

    fn failure(&self, failure: Failure) -> Vec<u8> {
        reply(&[failure_text(failure).as_bytes()])
    }

    fn already_authenticated(&self) -> Vec<u8> {
        reply(&[b"-ERR Already authenticated"])
    }

    fn syntax(&self) -> Vec<u8> {
        reply(&[b"-ERR Syntax: AUTH mechanism [initial-response]"])
    }

    fn no_mechanism(&self, offered: impl Iterator<Item = Mechanism>) -> Vec<u8> {
        let mut list = b"+OK\r\n".to_vec();
        for m in offered {
            list.extend_from_slice(m.name().as_bytes());
            list.extend_from_slice(b"\r\n");
        }
        list.extend_from_slice(b".\r\n");
        list
    }
}

/// The server side of POP3 `AUTH` for one connection.
///
/// ```
/// use std::sync::Arc;
/// use saslmech::proto::{ServerEvent, pop3::Pop3Server};
/// use saslmech::{Mechanism, ServerConfig};
///
/// let config = ServerConfig::new().mechanisms(&[Mechanism::Plain, Mechanism::CramMd5]);
/// let mut server = Pop3Server::new(Arc::new(config));
/// server.set_tls(true);
/// assert_eq!(server.capa_line().as_deref(), Some("SASL PLAIN CRAM-MD5"));
/// let list = server.command(b"AUTH\r\n").unwrap();
/// assert_eq!(list.reply().unwrap(), b"+OK\r\nPLAIN\r\nCRAM-MD5\r\n.\r\n");
/// let bad = server.command(b"AUTH PLAIN %%%%").unwrap();
/// assert_eq!(bad.reply().unwrap(), b"-ERR Invalid base64 data\r\n");
/// ```
pub struct Pop3Server {
    driver: ServerDriver<Untagged>,
}

impl core::fmt::Debug for Pop3Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.driver.debug("Pop3Server", f)
    }
}

impl Pop3Server {
    /// An adapter for a new connection without TLS.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Pop3Server {
            driver: ServerDriver::new(config, Untagged, MAX_LINE),
        }
    }

    /// The longest line accepted, in octets without CRLF (default [`MAX_LINE`]).
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.driver.set_max_line(max_line);
        self
    }

    /// Record whether the connection is protected by TLS (after STLS); forgets any
    /// authentication, channel binding and external identity.
    pub fn set_tls(&mut self, tls: bool) {
        self.driver.set_tls(tls);
    }

    /// Describe the connection fully (after STLS, or for an implicit-TLS port): TLS, the
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

    /// The `CAPA` line (`SASL PLAIN LOGIN`), or `None` if no mechanism may be used now.
    pub fn capa_line(&self) -> Option<String> {
        let mut out = String::from("SASL");
        for m in self.driver.offered() {
            out.push(' ');
            out.push_str(m.name());
        }
        (out.len() > 4).then_some(out)
    }

    /// Where the exchange stands.
    pub fn phase(&self) -> Phase {
        self.driver.phase()
    }

    /// Who authenticated, once the client has.
    pub fn identity(&self) -> Option<&AuthIdentity> {
        self.driver.identity()
    }

    /// The `AUTH [<mechanism> [<initial-response> | =]]` command line.
    ///
    /// [`Error::InvalidArgument`] if the line is not an AUTH command; [`Error::InvalidState`]
    /// during an exchange.
    pub fn command(&mut self, line: &[u8]) -> Result<ServerEvent, Error> {
        self.driver.expect_command()?;
        let line = strip_eol(line);
        let (verb, args) = word(line);
        if !verb.eq_ignore_ascii_case(b"AUTH") {
            return Err(Error::InvalidArgument("not an AUTH command"));
        }
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

/// The mechanisms in a `CAPA` response's `SASL` line, upper-cased, in order.
///
/// ```
/// use saslmech::proto::pop3::capa_mechanisms;
/// assert_eq!(capa_mechanisms(b"SASL PLAIN cram-md5\r\n"), ["PLAIN", "CRAM-MD5"]);
/// assert!(capa_mechanisms(b"USER").is_empty());
/// ```
pub fn capa_mechanisms(line: &[u8]) -> Vec<String> {
    let (keyword, rest) = word(strip_eol(line));
    let mut out: Vec<String> = Vec::new();
    if keyword.eq_ignore_ascii_case(b"SASL") {
        for name in rest.split(|b| *b == b' ') {
            if let Some(name) = super::smtp::mechanism_name(name)
                && !out.contains(&name)
            {
                out.push(name);
            }
        }
    }
    out
}

/// What an `-ERR` says about why the server refused (RFC 3206 codes).
fn indicated(text: &[u8]) -> Failure {
    let code = |c: &[u8]| text.windows(c.len()).any(|w| w.eq_ignore_ascii_case(c));
    if code(b"[SYS/TEMP]") || code(b"[IN-USE]") {
        Failure::TemporaryFailure
    } else {
        Failure::BadCredentials
    }
}

/// The client side of POP3 `AUTH`.
///
/// ```
/// use saslmech::proto::{ClientEvent, pop3::Pop3Client};
/// use saslmech::{Credentials, Mechanism};
///
/// let creds = Credentials::new().authcid("tim").password(b"tanstaaftanstaaf");
/// let mut client = Pop3Client::new(Mechanism::Plain, &creds).unwrap();
/// assert_eq!(client.start().unwrap().as_slice(), b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
/// let ClientEvent::Done(o) = client.line(b"+OK welcome\r\n").unwrap() else { panic!() };
/// assert!(o.authenticated);
/// ```
pub struct Pop3Client {
    driver: ClientDriver,
    use_ir: bool,
}

impl core::fmt::Debug for Pop3Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pop3Client")
            .field("mechanism", &self.driver.mechanism())
            .finish_non_exhaustive()
    }
}

impl Pop3Client {
    /// A client for `mechanism`; fails if the credentials lack what it needs.
    pub fn new(mechanism: Mechanism, credentials: &Credentials<'_>) -> Result<Self, Error> {
        Self::with_config(mechanism, credentials, &ClientConfig::default())
    }

    /// A client with explicit settings (channel binding for the SCRAM `-PLUS` mechanisms,
    /// SCRAM iteration bounds, limits).
    pub fn with_config(
        mechanism: Mechanism,
        credentials: &Credentials<'_>,
        config: &ClientConfig,
    ) -> Result<Self, Error> {
        Ok(Pop3Client {
            driver: ClientDriver::new(mechanism, credentials, config)?,
            use_ir: true,
        })
    }

    /// Whether to send an initial response when it fits in 255 octets (on by default).
    pub fn initial_response(mut self, use_ir: bool) -> Self {
        self.use_ir = use_ir;
        self
    }

    /// The `AUTH` command to send.
    pub fn start(&mut self) -> Result<SecretBuf, Error> {
        let prefix = format!("AUTH {}", self.driver.mechanism().name());
        self.driver.start(&prefix, self.use_ir, MAX_COMMAND)
    }

    /// A line from the server.
    pub fn line(&mut self, line: &[u8]) -> Result<ClientEvent, Error> {
        self.driver.check_running()?;
        let line = strip_eol(line);
        let (status, text) = word(line);
        // The text is copied only for a status line: a challenge (as long as the peer likes)
        // is not turned into a String first.
        Ok(if status.eq_ignore_ascii_case(b"+OK") {
            self.driver.success("+OK", &lossy(text))
        } else if status.eq_ignore_ascii_case(b"-ERR") {
            self.driver.failure("-ERR", &lossy(text), indicated(text))
        } else if let Some(rest) = line.strip_prefix(b"+") {
            let b64 = rest.strip_prefix(b" ").unwrap_or(rest);
            self.driver.challenge(b64.trim_ascii())
        } else {
            self.driver.garbled()
        })
    }
}
