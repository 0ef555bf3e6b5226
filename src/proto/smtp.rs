//! SMTP AUTH (RFC 4954) with RFC 5248 enhanced status codes: [`SmtpServer`] for an MTA or
//! submission server, [`SmtpClient`] for a mail client.
//!
//! The server's reply for each outcome is in [`SmtpReplies`], whose defaults are:
//!
//! | outcome | reply |
//! |---|---|
//! | challenge | `334 <base64>` (`334 ` for an empty one) |
//! | success | `235 2.7.0 Authentication successful` |
//! | wrong credentials (and malformed mechanism messages) | `535 5.7.8 Authentication credentials invalid` |
//! | account disabled | `525 5.7.13 User account disabled` |
//! | undecodable base64 | `501 5.5.2 Invalid base64 data` |
//! | initial response to a server-first mechanism | `501 5.7.0 Initial response not allowed for this mechanism` |
//! | client cancelled with `*` | `501 5.0.0 Authentication cancelled` |
//! | unknown or not offered mechanism (a well-formed name) | `504 5.5.4 Unrecognized authentication type` |
//! | mechanism too weak for policy | `534 5.7.9 Authentication mechanism is too weak` |
//! | plaintext mechanism before TLS | `538 5.7.11 Encryption required for requested authentication mechanism` (or `523 5.7.10`) |
//! | temporary failure | `454 4.7.0 Temporary authentication failure` |
//! | exchange line over 12288 octets | `500 5.5.6 Authentication Exchange line is too long` |
//! | AUTH when already authenticated | `503 5.5.1 Already authenticated` |
//! | AUTH without a mechanism, with extra arguments, or with a mechanism name that is not RFC 4422 `sasl-mech` syntax (1 to 20 of `A-Z 0-9 - _`: NUL, control characters and octets above 0x7F are not) | `501 5.5.4 Syntax: AUTH mechanism [initial-response]` |
//!
//! SMTP cannot carry data with its success reply: server-final data goes out as one more
//! `334` and the adapter expects an empty line before `235`.

use std::sync::Arc;

use super::{
    AuthIdentity, ClientDriver, ClientEvent, Phase, Replies, ServerDriver, ServerEvent, strip_eol,
    word,
};
use crate::client::{ClientConfig, Credentials};
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::secret::SecretBuf;
use crate::server::{Answer, ServerConfig, Transport};

/// RFC 4954 §4: "12288 octets is considered to be a sufficient line length limit".
pub const MAX_LINE: usize = 12288;

/// The server's reply for each outcome, without CRLF (`"535 5.7.8 …"`). Change any field to
/// match an existing installation; CR and LF in a configured text are replaced by spaces.
///
/// ```
/// use saslmech::proto::smtp::SmtpReplies;
/// let replies = SmtpReplies::default().encryption_needed_523();
/// assert_eq!(replies.encryption_required, "523 5.7.10 Encryption needed");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmtpReplies {
    /// Authentication succeeded.
    pub success: String,
    /// Wrong credentials, unknown user, or a mechanism message that does not parse.
    pub bad_credentials: String,
    /// The credentials were right but the authorization identity was refused.
    pub authz_denied: String,
    /// The application reported the account as disabled.
    pub account_disabled: String,
    /// A response or initial response was not valid base64.
    pub invalid_base64: String,
    /// An initial response was sent with a server-first mechanism.
    pub unexpected_initial_response: String,
    /// The client cancelled with `*`.
    pub cancelled: String,
    /// The mechanism is unknown or not offered.
    pub mechanism_unavailable: String,
    /// The mechanism is too weak for the configured policy.
    pub mechanism_too_weak: String,
    /// The mechanism needs TLS and the connection has none.
    pub encryption_required: String,
    /// The credential backend could not answer.
    pub temporary_failure: String,
    /// An exchange line (or decoded message) was too long.
    pub line_too_long: String,
    /// AUTH after a successful AUTH.
    pub already_authenticated: String,
    /// AUTH without a mechanism, with extra arguments, or with a mechanism name that is not
    /// RFC 4422 `sasl-mech` syntax (NUL, control or non-ASCII octets included).
    pub syntax: String,
}

impl Default for SmtpReplies {
    fn default() -> Self {
        SmtpReplies {
            success: "235 2.7.0 Authentication successful".into(),
            bad_credentials: "535 5.7.8 Authentication credentials invalid".into(),
            authz_denied: "535 5.7.8 Authentication credentials invalid".into(),
            account_disabled: "525 5.7.13 User account disabled".into(),
            invalid_base64: "501 5.5.2 Invalid base64 data".into(),
            unexpected_initial_response:
                "501 5.7.0 Initial response not allowed for this mechanism".into(),
            cancelled: "501 5.0.0 Authentication cancelled".into(),
            mechanism_unavailable: "504 5.5.4 Unrecognized authentication type".into(),
            mechanism_too_weak: "534 5.7.9 Authentication mechanism is too weak".into(),
            encryption_required:
                "538 5.7.11 Encryption required for requested authentication mechanism".into(),
            temporary_failure: "454 4.7.0 Temporary authentication failure".into(),
            line_too_long: "500 5.5.6 Authentication Exchange line is too long".into(),
            already_authenticated: "503 5.5.1 Already authenticated".into(),
            syntax: "501 5.5.4 Syntax: AUTH mechanism [initial-response]".into(),
        }
    }
}

impl SmtpReplies {
    /// Use RFC 5248's `523 5.7.10 Encryption needed` instead of RFC 4954's historical `538`.
    pub fn encryption_needed_523(mut self) -> Self {
        self.encryption_required = "523 5.7.10 Encryption needed".into();
        self
    }

    /// The reply for a failure.
    pub fn for_failure(&self, failure: Failure) -> &str {
        match failure {
            Failure::BadCredentials
            | Failure::Malformed
            | Failure::TooManySteps
            | Failure::ChannelBinding
            | Failure::ServerAuthentication => &self.bad_credentials,
            Failure::AuthzDenied => &self.authz_denied,
            Failure::AccountDisabled => &self.account_disabled,
            Failure::InvalidBase64 => &self.invalid_base64,
            Failure::UnexpectedInitialResponse => &self.unexpected_initial_response,
            Failure::Cancelled => &self.cancelled,
            Failure::TemporaryFailure => &self.temporary_failure,
            Failure::MechanismUnavailable => &self.mechanism_unavailable,
            Failure::MechanismTooWeak => &self.mechanism_too_weak,
            Failure::EncryptionRequired => &self.encryption_required,
            Failure::TooLarge => &self.line_too_long,
        }
    }
}

/// A configured reply text, with CR and LF made spaces, then CRLF.
fn line(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
    out
}

impl Replies for SmtpReplies {
    const CHALLENGE: &'static [u8] = b"334 ";

    fn success(&self) -> Vec<u8> {
        line(&self.success)
    }

    fn failure(&self, failure: Failure) -> Vec<u8> {
        line(self.for_failure(failure))
    }

    fn already_authenticated(&self) -> Vec<u8> {
        line(&self.already_authenticated)
    }

    fn syntax(&self) -> Vec<u8> {
        line(&self.syntax)
    }
}

/// The server side of SMTP AUTH for one connection.
///
/// Pass the `AUTH` command line to [`command`](Self::command), each following client line to
/// [`line`](Self::line) while [`phase`](Self::phase) is [`Phase::Exchange`], and answer each
/// [`ServerEvent::Request`] with [`answer`](Self::answer). A failed attempt leaves the
/// adapter ready for another `AUTH`.
///
/// ```
/// use std::sync::Arc;
/// use saslmech::proto::{Phase, ServerEvent, smtp::SmtpServer};
/// use saslmech::{Answer, ServerConfig};
///
/// let mut server = SmtpServer::new(Arc::new(ServerConfig::new()));
/// // Before STARTTLS only mechanisms that expose no reusable secret are offered; PLAIN is
/// // refused.
/// assert_eq!(
///     server.ehlo_keyword().as_deref(),
///     Some("AUTH SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5")
/// );
/// let refused = server.command(b"AUTH PLAIN AHRpbQB0aW0=").unwrap();
/// assert!(refused.reply().unwrap().starts_with(b"538 5.7.11 "));
///
/// server.set_tls(true);
/// let ServerEvent::Challenge(c) = server.command(b"AUTH LOGIN").unwrap() else { panic!() };
/// assert_eq!(c, b"334 VXNlcm5hbWU6\r\n");
/// let ServerEvent::Challenge(_) = server.line(b"dGlt").unwrap() else { panic!() };
/// let ServerEvent::Request(_) = server.line(b"d3Jvbmc=").unwrap() else { panic!() };
/// assert_eq!(server.phase(), Phase::Request);
/// let failed = server.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap();
/// assert_eq!(failed.reply().unwrap(), b"535 5.7.8 Authentication credentials invalid\r\n");
/// assert_eq!(server.phase(), Phase::Idle); // ready for another AUTH
/// ```
pub struct SmtpServer {
    driver: ServerDriver<SmtpReplies>,
}

impl core::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.driver.debug("SmtpServer", f)
    }
}

impl SmtpServer {
    /// An adapter for a new connection without TLS, with the default replies.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        SmtpServer {
            driver: ServerDriver::new(config, SmtpReplies::default(), MAX_LINE),
        }
    }

    /// Use these replies.
    pub fn with_replies(mut self, replies: SmtpReplies) -> Self {
        self.driver.replies = replies;
        self
    }

    /// The longest exchange line accepted, in octets without CRLF (default [`MAX_LINE`]).
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.driver.set_max_line(max_line);
        self
    }

    /// Record whether the connection is protected by TLS; call it after the STARTTLS
    /// handshake. This also forgets any authentication, as RFC 3207 §4.2 requires, and any
    /// channel binding or external identity set before.
    pub fn set_tls(&mut self, tls: bool) {
        self.driver.set_tls(tls);
    }

    /// Describe the connection fully, after the STARTTLS handshake: TLS, the channel-binding
    /// data the TLS layer gives (then the SCRAM `-PLUS` mechanisms are offered) and the
    /// identity a client certificate established (then EXTERNAL is offered, if enabled). Its
    /// success-data flag is ignored: SMTP has none. Forgets any authentication, as
    /// [`set_tls`](Self::set_tls) does.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use saslmech::proto::smtp::SmtpServer;
    /// use saslmech::{ChannelBindingType, Mechanism, ServerConfig, Transport};
    ///
    /// let config = ServerConfig::new().mechanisms(&[
    ///     Mechanism::ScramSha256Plus,
    ///     Mechanism::ScramSha256,
    ///     Mechanism::External,
    ///     Mechanism::Plain,
    /// ]);
    /// let mut server = SmtpServer::new(Arc::new(config));
    /// assert_eq!(server.ehlo_keyword().as_deref(), Some("AUTH SCRAM-SHA-256"));
    /// // After STARTTLS: the exporter value (RFC 9266) and the client certificate's subject.
    /// let exporter = [0x5au8; 32];
    /// server.set_transport(
    ///     Transport::tls()
    ///         .with_channel_binding(ChannelBindingType::TlsExporter, &exporter)
    ///         .with_external_identity("client.example.net"),
    /// );
    /// assert_eq!(
    ///     server.ehlo_keyword().as_deref(),
    ///     Some("AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 EXTERNAL PLAIN")
    /// );
    /// ```
    pub fn set_transport(&mut self, transport: Transport) {
        self.driver.set_transport(transport);
    }

    /// Forget the exchange and any authentication (for example after `RSET` is *not* enough:
    /// use it when the connection's state is reset entirely).
    pub fn reset(&mut self) {
        self.driver.reset();
    }

    /// The EHLO keyword line without the `250-` prefix (`AUTH PLAIN LOGIN`), from the policy
    /// and the transport (TLS, channel binding, external identity); `None` if no mechanism
    /// may be used now (then do not advertise AUTH).
    pub fn ehlo_keyword(&self) -> Option<String> {
        let mut out = String::from("AUTH");
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

    /// The `AUTH <mechanism> [<initial-response> | =]` command line.
    ///
    /// What the adapter cannot know stays with the caller: refusing AUTH before EHLO or
    /// during a mail transaction (`503`), and closing the connection after repeated failures.
    ///
    /// Returns [`Error::InvalidArgument`] if the line is not an AUTH command, and
    /// [`Error::InvalidState`] during an exchange.
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
    ///
    /// [`Error::WrongAnswer`] (the answer does not fit the request) leaves it pending.
    pub fn answer(&mut self, answer: Answer<'_>) -> Result<ServerEvent, Error> {
        self.driver.answer(answer)
    }
}

/// The mechanisms a server advertises in its EHLO reply, from its lines (`250-AUTH PLAIN
/// LOGIN`, also the old `250-AUTH=PLAIN LOGIN` form), upper-cased and without duplicates,
/// in the order given. Lines may keep their `250-` prefixes and CRLF.
///
/// ```
/// use saslmech::proto::smtp::ehlo_mechanisms;
/// use saslmech::{select, Mechanism, SelectOptions};
/// let ehlo: [&[u8]; 4] = [b"250-mx.example.com", b"250-AUTH=LOGIN", b"250-AUTH login Plain CRAM-MD5", b"250 8BITMIME"];
/// let mechs = ehlo_mechanisms(ehlo);
/// assert_eq!(mechs, ["LOGIN", "PLAIN", "CRAM-MD5"]);
/// let best = select(mechs.iter().map(String::as_str), SelectOptions::password(true));
/// assert_eq!(best, Some(Mechanism::CramMd5));
/// ```
pub fn ehlo_mechanisms<'a, I>(lines: I) -> Vec<String>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        let mut l = strip_eol(l);
        if let Some((_, text)) = split_reply(l) {
            l = text;
        }
        let keyword_end = l
            .iter()
            .position(|b| *b == b' ' || *b == b'=')
            .unwrap_or(l.len());
        let (keyword, rest) = l.split_at(keyword_end);
        if !keyword.eq_ignore_ascii_case(b"AUTH") {
            continue;
        }
        let rest = rest.get(1..).unwrap_or_default();
        for name in rest.split(|b| *b == b' ').filter(|n| !n.is_empty()) {
            if let Some(name) = mechanism_name(name)
                && !out.contains(&name)
            {
                out.push(name);
            }
        }
    }
    out
}

/// A SASL mechanism name (RFC 4422: 1 to 20 of `A-Z 0-9 - _`), upper-cased.
pub(crate) fn mechanism_name(name: &[u8]) -> Option<String> {
    super::is_mechanism_name(name).then(|| String::from_utf8_lossy(name).to_ascii_uppercase())
}

/// Split `ddd[-| ]text` into the code and the rest (separator included in neither): returns
/// `(code, text)` and whether more lines follow is `line.get(3) == Some(&b'-')`.
fn split_reply(line: &[u8]) -> Option<(u16, &[u8])> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None => Some((code, &b""[..])),
        Some(b' ' | b'-') => Some((code, line.get(4..).unwrap_or_default())),
        Some(_) => None,
    }
}

/// What a failure reply code says about why the server refused.
fn indicated(code: u16) -> Failure {
    match code {
        535 => Failure::BadCredentials,
        525 => Failure::AccountDisabled,
        504 => Failure::MechanismUnavailable,
        534 => Failure::MechanismTooWeak,
        538 | 523 => Failure::EncryptionRequired,
        400..=499 => Failure::TemporaryFailure,
        _ => Failure::Malformed,
    }
}

/// The longest multi-line reply text kept, in octets; the rest is dropped.
const MAX_REPLY_TEXT: usize = 4096;

/// The client side of SMTP AUTH.
///
/// ```
/// use saslmech::proto::{ClientEvent, smtp::SmtpClient};
/// use saslmech::{Credentials, Mechanism};
///
/// let creds = Credentials::new().authcid("tim").password(b"tanstaaftanstaaf");
/// let mut client = SmtpClient::new(Mechanism::Plain, &creds).unwrap();
/// assert_eq!(client.start().unwrap().as_slice(), b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
/// match client.reply(b"235 2.7.0 Authentication successful\r\n").unwrap() {
///     ClientEvent::Done(outcome) => {
///         assert!(outcome.authenticated);
///         assert_eq!(outcome.smtp_code(), Some(235));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
pub struct SmtpClient {
    driver: ClientDriver,
    use_ir: bool,
    max_line: usize,
    text: String,
}

impl core::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("mechanism", &self.driver.mechanism())
            .finish_non_exhaustive()
    }
}

impl SmtpClient {
    /// A client for `mechanism`; fails if the credentials lack what it needs.
    pub fn new(mechanism: Mechanism, credentials: &Credentials<'_>) -> Result<Self, Error> {
        Self::with_config(mechanism, credentials, &ClientConfig::default())
    }

    /// A client with explicit settings: the TLS channel-binding data for the SCRAM `-PLUS`
    /// mechanisms ([`ClientConfig::channel_binding`]), SCRAM iteration bounds, limits.
    pub fn with_config(
        mechanism: Mechanism,
        credentials: &Credentials<'_>,
        config: &ClientConfig,
    ) -> Result<Self, Error> {
        Ok(SmtpClient {
            driver: ClientDriver::new(mechanism, credentials, config)?,
            use_ir: true,
            max_line: MAX_LINE,
            text: String::new(),
        })
    }

    /// Whether to send an initial response with the command when the mechanism has one (on by
    /// default). Without it the response goes after the server's empty `334 `.
    pub fn initial_response(mut self, use_ir: bool) -> Self {
        self.use_ir = use_ir;
        self
    }

    /// The longest command line, CRLF included, that may carry an initial response (default
    /// [`MAX_LINE`]); a longer one is sent without it.
    pub fn max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// The `AUTH` command to send.
    pub fn start(&mut self) -> Result<SecretBuf, Error> {
        let prefix = format!("AUTH {}", self.driver.mechanism().name());
        self.driver.start(&prefix, self.use_ir, self.max_line)
    }

    /// A line of the server's reply.
    pub fn reply(&mut self, line: &[u8]) -> Result<ClientEvent, Error> {
        self.driver.check_running()?;
        let line = strip_eol(line);
        let Some((code, text)) = split_reply(line) else {
            return Ok(self.driver.garbled());
        };
        if line.get(3) == Some(&b'-') {
            self.push_text(text);
            return Ok(ClientEvent::More);
        }
        self.push_text(text);
        let full = core::mem::take(&mut self.text);
        Ok(match code {
            334 => self.driver.challenge(text.trim_ascii()),
            200..=299 => self.driver.success(&code.to_string(), &full),
            400..=599 => self
                .driver
                .failure(&code.to_string(), &full, indicated(code)),
            _ => self.driver.garbled(),
        })
    }

    fn push_text(&mut self, text: &[u8]) {
        if self.text.len() >= MAX_REPLY_TEXT {
            return;
        }
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        let room = MAX_REPLY_TEXT.saturating_sub(self.text.len());
        self.text
            .push_str(&super::lossy(text.get(..room).unwrap_or(text)));
    }
}
