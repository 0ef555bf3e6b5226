//! OAUTHBEARER (RFC 7628): a GS2 header, then `key=value` pairs separated by `^A`, ending in
//! `^A^A`, in one client message:
//!
//! ```text
//! n,a=user@example.com,^Ahost=server.example.com^Aport=143^Aauth=Bearer <token>^A^A
//! ```
//!
//! The server parses strictly: a full GS2 header (`n` or `y`, never `p=`: the mechanism has no
//! channel binding), keys of letters only, values of printable characters, `auth` present
//! exactly once, the final `^A` and nothing after it. The token, host, port and authzid go to
//! the application in [`Request::ValidateToken`]. An invalid token is answered with a JSON
//! error challenge (`status`, `scope`, `openid-configuration`), to which the client sends
//! `^A` (or an empty response, or cancels); then the exchange fails.

use super::ServerMechanism;
use super::oauth::{self, bearer, bearer_token, error_challenge};
use super::{Next, check_identity};
use crate::config::ServerConfig;
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, Request, TokenRequest};
use crate::secret::{SecretBuf, SecretStr};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Start,
    WantMessage,
    Validating,
    /// The error challenge went out; the client's `^A` comes next.
    WantAck,
    Valid,
}

/// Where each field lies in the kept message.
#[derive(Clone, Copy, Debug, Default)]
struct Fields {
    authzid: Option<super::Span>,
    host: Option<super::Span>,
    port: Option<u16>,
    token: super::Span,
}

/// The server side of OAUTHBEARER.
#[derive(Debug, Default)]
pub struct Server {
    state: State,
    /// The client message, then its authzid unescaped.
    message: SecretBuf,
    fields: Fields,
    /// The token's owner ([`Answer::TokenOwner`]), kept only when it is not the authzid.
    owner: Option<SecretStr>,
    openid_configuration: Option<String>,
}

impl Server {
    fn receive(&mut self, c: &ServerConfig, message: &[u8]) -> Next {
        // One buffer: the message, then room for the authzid, which unescapes no longer than
        // its field (the text between the first two commas).
        let room = message.iter().skip(2).position(|b| *b == b',').unwrap_or(0);
        let mut buf = SecretBuf::with_capacity(message.len() + room);
        buf.extend(message);
        match parse(c, message, &mut buf) {
            Ok(fields) => {
                self.message = buf;
                self.fields = fields;
                self.state = State::Validating;
                Next::Request
            }
            Err(f) => Next::Failure(f),
        }
    }

    /// The authzid, if the client sent one (`None` if the fields are not spans of the
    /// message, which `receive` rules out).
    fn authzid(&self) -> Option<Option<&str>> {
        super::optional_str(self.fields.authzid, self.message.as_slice())
    }
}

impl ServerMechanism for Server {
    fn start(&mut self, c: &ServerConfig, _: &mut SecretBuf, ir: Option<&[u8]>) -> Next {
        self.openid_configuration = c.oauth_openid_configuration.clone();
        match ir {
            Some(message) => self.receive(c, message),
            None => {
                self.state = State::WantMessage;
                Next::StaticChallenge(b"")
            }
        }
    }

    fn step(&mut self, c: &ServerConfig, _: &mut SecretBuf, input: &[u8]) -> Next {
        match self.state {
            State::WantMessage => self.receive(c, input),
            // RFC 7628 §3.2.3: the client answers the error challenge with `^A`; some send an
            // empty response. Either way the exchange fails.
            State::WantAck if input == b"\x01" || input.is_empty() => {
                Next::Failure(Failure::BadCredentials)
            }
            _ => Next::Failure(Failure::Malformed),
        }
    }

    fn answer(&mut self, out: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != State::Validating {
            return Err(Error::InvalidState);
        }
        let empty_token = self
            .fields
            .token
            .bytes(self.message.as_slice())
            .ok_or(Error::InvalidState)?
            .is_empty();
        let (status, scope) = match answer {
            // An empty token (`auth=`, used to discover the scope) is never valid.
            Answer::TokenOwner(_) if empty_token => ("invalid_token", None),
            // A valid token is answered with its owner, never with a bare accept: the engine,
            // not the application, then decides whether that owner may act as the `a=`
            // identity (asking `Request::Authorize` when they differ).
            Answer::TokenOwner(owner) => {
                if owner.is_empty() || owner.contains('\0') {
                    return Err(Error::InvalidArgument(
                        "token owner empty or containing NUL",
                    ));
                }
                self.owner = (Some(owner) != self.authzid().ok_or(Error::InvalidState)?)
                    .then(|| SecretStr::from_str(owner));
                self.state = State::Valid;
                return Ok(Next::Success);
            }
            Answer::Reject | Answer::UnknownUser => ("invalid_token", None),
            Answer::TokenError(e) => (e.status, e.scope),
            _ => return Err(Error::WrongAnswer),
        };
        error_challenge(
            out,
            &[
                ("status", Some(status)),
                ("scope", scope),
                ("openid-configuration", self.openid_configuration.as_deref()),
            ],
        );
        self.message.clear();
        self.state = State::WantAck;
        Ok(Next::Challenge)
    }

    fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        if self.state != State::Validating {
            return None;
        }
        let m = self.message.as_slice();
        let authzid = self.authzid()?;
        Some(Request::ValidateToken(TokenRequest {
            mechanism,
            user: authzid.unwrap_or(""),
            token: self.fields.token.bytes(m)?,
            authzid,
            host: super::optional_str(self.fields.host, m)?,
            port: self.fields.port,
        }))
    }

    fn identity(&self) -> Option<Identity<'_>> {
        if self.state != State::Valid {
            return None;
        }
        let authzid = self.authzid()?;
        Some(match (&self.owner, authzid) {
            (Some(owner), authzid) => Identity {
                authcid: owner.as_str(),
                authzid,
            },
            // The owner is the authzid (`answer` keeps no owner only then).
            (None, Some(authzid)) => Identity {
                authcid: authzid,
                authzid: None,
            },
            (None, None) => return None,
        })
    }

    fn wipe(&mut self) {
        *self = Server::default();
    }
}

/// Parse `gs2-header ^A *(key=value ^A) ^A`. The authzid, unescaped, is appended to `buf`.
fn parse(c: &ServerConfig, message: &[u8], buf: &mut SecretBuf) -> Result<Fields, Failure> {
    let mut fields = Fields::default();
    // gs2-cbind-flag: `n` or `y`; `p=` asks for channel binding this mechanism lacks.
    let rest = match message {
        [b'n' | b'y', b',', rest @ ..] => rest,
        _ => return Err(Failure::Malformed),
    };
    let comma = rest
        .iter()
        .position(|b| *b == b',')
        .ok_or(Failure::Malformed)?;
    let (authzid, rest) = rest.split_at(comma);
    let rest = rest.get(1..).ok_or(Failure::Malformed)?;
    match authzid {
        [] => {}
        [b'a', b'=', name @ ..] => {
            let start = buf.len();
            unescape(name, buf)?;
            check_identity(
                buf.as_slice().get(start..).ok_or(Failure::Malformed)?,
                c.max_identity,
            )?;
            fields.authzid = Some(super::Span::at(start, buf.len() - start));
        }
        _ => return Err(Failure::Malformed),
    }
    let mut rest = rest.strip_prefix(b"\x01").ok_or(Failure::Malformed)?;
    let mut auth = None;
    loop {
        if rest == b"\x01" {
            break;
        }
        let end = rest
            .iter()
            .position(|b| *b == 1)
            .ok_or(Failure::Malformed)?;
        let (pair, more) = rest.split_at(end);
        rest = more.get(1..).ok_or(Failure::Malformed)?;
        let eq = pair
            .iter()
            .position(|b| *b == b'=')
            .ok_or(Failure::Malformed)?;
        let (key, value) = pair.split_at(eq);
        let value = value.get(1..).ok_or(Failure::Malformed)?;
        if key.is_empty()
            || !key.iter().all(u8::is_ascii_alphabetic)
            || !value
                .iter()
                .all(|b| matches!(b, 0x21..=0x7e | b' ' | b'\t' | b'\r' | b'\n'))
        {
            return Err(Failure::Malformed);
        }
        let span = super::Span::of(message, value);
        match key {
            b"auth" if auth.is_none() => auth = Some(value),
            b"host" if fields.host.is_none() => fields.host = Some(span),
            b"port" if fields.port.is_none() => {
                let port = match value.first() {
                    Some(b'0'..=b'9') if value.len() <= 5 => core::str::from_utf8(value)
                        .ok()
                        .and_then(|p| p.parse::<u16>().ok()),
                    _ => None,
                };
                fields.port = Some(port.ok_or(Failure::Malformed)?);
            }
            b"auth" | b"host" | b"port" => return Err(Failure::Malformed),
            // Unknown keys are ignored (RFC 7628 §3.1).
            _ => {}
        }
    }
    let auth = auth.ok_or(Failure::Malformed)?;
    let token = if auth.is_empty() {
        auth
    } else {
        bearer(auth).ok_or(Failure::Malformed)?
    };
    fields.token = super::Span::of(message, token);
    Ok(fields)
}

/// A GS2 `saslname`: `=2C` is `,`, `=3D` is `=`.
fn unescape(s: &[u8], out: &mut SecretBuf) -> Result<(), Failure> {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'=' => {
                match s.get(i + 1..i + 3) {
                    Some(b"2C") => out.push(b','),
                    Some(b"3D") => out.push(b'='),
                    _ => return Err(Failure::Malformed),
                }
                i += 3;
            }
            b',' => return Err(Failure::Malformed),
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(())
}

/// The client side of OAUTHBEARER: the shared OAuth client with OAUTHBEARER's message, and
/// `^A` in answer to the error challenge (RFC 7628 §3.2.3).
pub type Client = oauth::Client<Message>;

/// OAUTHBEARER's client message: GS2 header with the user as authzid, `host=` and `port=` if
/// known, `auth=Bearer ` token, `^A^A`.
pub enum Message {}

impl oauth::ClientMessage for Message {
    const ACK: &'static [u8] = b"\x01";

    fn message(creds: &Credentials<'_>) -> Result<SecretBuf, Error> {
        let token = bearer_token(creds)?;
        let user = creds.authzid.or(creds.authcid).filter(|u| !u.is_empty());
        if user.is_some_and(|u| u.contains(['\0', '\x01'])) {
            return Err(Error::InvalidArgument("user contains NUL or ^A"));
        }
        let host = creds.host.filter(|h| !h.is_empty());
        if host.is_some_and(|h| !h.bytes().all(|b| matches!(b, 0x21..=0x7e))) {
            return Err(Error::InvalidArgument("host is not printable ASCII"));
        }
        // Sized for the worst case: every user byte escaped, a five-digit port.
        let mut message = SecretBuf::with_capacity(
            token.len()
                + user.map_or(0, |u| 2 + 3 * u.len())
                + host.map_or(0, |h| 6 + h.len())
                + "n,,\x01port=65535\x01auth=Bearer \x01\x01".len(),
        );
        message.extend(b"n,");
        if let Some(user) = user {
            message.extend(b"a=");
            // A GS2 saslname: runs of plain bytes as they are, `,` and `=` escaped.
            let mut rest = user.as_bytes();
            while let Some(at) = rest.iter().position(|b| matches!(b, b',' | b'=')) {
                let (plain, special) = rest.split_at(at);
                message.extend(plain);
                // `position` found it: `special` starts with `,` or `=`.
                let Some((first, after)) = special.split_first() else {
                    break;
                };
                message.extend(if *first == b',' { b"=2C" } else { b"=3D" });
                rest = after;
            }
            message.extend(rest);
        }
        message.extend(b",\x01");
        if let Some(host) = host {
            message.extend(b"host=");
            message.extend(host.as_bytes());
            message.push(1);
        }
        if let Some(port) = creds.port {
            message.extend(b"port=");
            message.extend_decimal(u32::from(port));
            message.push(1);
        }
        message.extend(b"auth=Bearer ");
        message.extend(token);
        message.extend(b"\x01\x01");
        Ok(message)
    }
}
