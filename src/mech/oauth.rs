//! What XOAUTH2 and OAUTHBEARER share: the error challenge's JSON object, and the client's
//! states around it.

use core::marker::PhantomData;

use super::ClientMechanism;
use super::plain::finish_without_data;
use crate::credentials::Credentials;
use crate::crypto::hex;
use crate::error::{Error, Failure};
use crate::secret::SecretBuf;

/// A server's OAuth error challenge, parsed (XOAUTH2's or OAUTHBEARER's JSON object).
///
/// The raw JSON is kept too. Unknown members are ignored; string members that are missing
/// are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthError {
    /// `status`: an HTTP status for XOAUTH2 (`"401"`), an OAuth error code for OAUTHBEARER
    /// (`"invalid_token"`).
    pub status: Option<String>,
    /// `schemes` (XOAUTH2).
    pub schemes: Option<String>,
    /// `scope`: the scope the server wants.
    pub scope: Option<String>,
    /// `openid-configuration` (OAUTHBEARER): where to discover the authorization server.
    pub openid_configuration: Option<String>,
    /// The challenge as received, trailing newline included.
    pub raw: Vec<u8>,
}

impl OAuthError {
    /// Parse an error challenge. Returns `None` if it is not a JSON object.
    pub fn parse(challenge: &[u8]) -> Option<OAuthError> {
        let mut e = OAuthError {
            raw: challenge.to_vec(),
            ..Default::default()
        };
        let mut p = Parser { s: challenge, i: 0 };
        p.ws();
        p.eat(b'{')?;
        p.ws();
        if p.eat(b'}').is_none() {
            loop {
                p.ws();
                let key = p.string()?;
                p.ws();
                p.eat(b':')?;
                p.ws();
                let value = p.value()?;
                let slot = match key.as_str() {
                    "status" => Some(&mut e.status),
                    "schemes" => Some(&mut e.schemes),
                    "scope" => Some(&mut e.scope),
                    "openid-configuration" => Some(&mut e.openid_configuration),
                    _ => None,
                };
                if let Some(slot) = slot {
                    *slot = value;
                }
                p.ws();
                if p.eat(b',').is_some() {
                    continue;
                }
                p.eat(b'}')?;
                break;
            }
        }
        p.ws();
        (p.i == challenge.len()).then_some(e)
    }
}

/// A small JSON reader for flat objects: enough for OAuth error challenges, no recursion.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    /// A string, a number, `true`, `false` or `null`; nested values are refused.
    fn value(&mut self) -> Option<Option<String>> {
        match self.peek()? {
            b'"' => self.string().map(Some),
            b'n' => self.literal(b"null").map(|_| None),
            b't' => self.literal(b"true").map(|_| Some("true".to_owned())),
            b'f' => self.literal(b"false").map(|_| Some("false".to_owned())),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.i += 1;
                }
                let n = self.s.get(start..self.i)?;
                core::str::from_utf8(n).ok().map(|n| Some(n.to_owned()))
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.s.get(self.i..end)? == word).then(|| self.i = end)
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let end = self.i.checked_add(4)?;
                            let hex = core::str::from_utf8(self.s.get(self.i..end)?).ok()?;
                            let code = u32::from_str_radix(hex, 16).ok()?;
                            self.i = end;
                            // Lone surrogates become U+FFFD; pairs are not combined (OAuth
                            // error values are ASCII in practice).
                            let ch = char::from_u32(code).unwrap_or('\u{fffd}');
                            let mut b = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => out.push(c),
            }
        }
        String::from_utf8(out).ok()
    }
}

/// What an OAuth mechanism's client says; the rest of its side is [`Client`]'s.
pub(crate) trait ClientMessage {
    /// The response to the server's error challenge.
    const ACK: &'static [u8];
    /// The one client message, from the credentials.
    fn message(creds: &Credentials<'_>) -> Result<SecretBuf, Error>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    Start,
    Sent,
    /// Answered the error challenge.
    Acknowledged,
}

/// The client side of an OAuth mechanism: the message goes out as the initial response (or
/// after an empty challenge); a challenge after it is the server's error challenge, kept for
/// the caller and acknowledged with `M::ACK`, after which the exchange can only fail.
pub struct Client<M> {
    state: ClientState,
    message: SecretBuf,
    error: Option<OAuthError>,
    mechanism: PhantomData<M>,
}

impl<M> core::fmt::Debug for Client<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state)
            .field("message", &self.message)
            .field("error", &self.error)
            .finish()
    }
}

impl<M: ClientMessage> Client<M> {
    pub(crate) fn new(creds: &Credentials<'_>) -> Result<Self, Error> {
        Ok(Client {
            state: ClientState::Start,
            message: M::message(creds)?,
            error: None,
            mechanism: PhantomData,
        })
    }
}

impl<M: ClientMessage> ClientMechanism for Client<M> {
    fn start(&mut self) -> Option<&[u8]> {
        self.state = ClientState::Sent;
        Some(self.message.as_slice())
    }

    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        match self.state {
            ClientState::Start if challenge.is_empty() => {
                self.state = ClientState::Sent;
                Ok(self.message.as_slice())
            }
            ClientState::Sent => {
                self.error = Some(OAuthError::parse(challenge).ok_or(Failure::Malformed)?);
                self.message.clear();
                self.state = ClientState::Acknowledged;
                Ok(M::ACK)
            }
            _ => Err(Failure::Malformed),
        }
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        finish_without_data(self.state == ClientState::Sent, data)
    }

    fn oauth_error(&self) -> Option<&OAuthError> {
        self.error.as_ref()
    }
}

/// The bearer token from the credentials, if it is an RFC 6750 `b64token`.
pub(crate) fn bearer_token<'a>(creds: &Credentials<'a>) -> Result<&'a [u8], Error> {
    match creds.token {
        Some(t) if is_b64token(t) => Ok(t),
        _ => Err(Error::InvalidArgument(
            "token missing or not a bearer token",
        )),
    }
}

/// Write an error challenge into `out`: a JSON object of the members given, in order, those
/// without a value left out.
pub(crate) fn error_challenge(out: &mut SecretBuf, members: &[(&str, Option<&str>)]) {
    let present = || {
        members
            .iter()
            .filter_map(|(name, value)| Some((*name, (*value)?)))
    };
    out.clear();
    // Room for the object without escapes: `{`, `"name":"value"` and a comma each, `}`.
    out.reserve(present().map(|(n, v)| n.len() + v.len() + 6).sum::<usize>() + 1);
    out.push(b'{');
    for (i, (name, value)) in present().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_string(out, name);
        out.push(b':');
        push_json_string(out, value);
    }
    out.push(b'}');
}

/// The token of an `auth` value `Bearer <b64token>` (the scheme in any case), or `None`.
pub(crate) fn bearer(auth: &[u8]) -> Option<&[u8]> {
    let space = auth.iter().position(|b| *b == b' ')?;
    let (scheme, token) = auth.split_at(space);
    let token = token.get(1..)?;
    (scheme.eq_ignore_ascii_case(b"Bearer") && is_b64token(token)).then_some(token)
}

/// Append `s` as a JSON string (quoted, with `"`, `\` and control characters escaped).
fn push_json_string(out: &mut SecretBuf, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend(b"\\\""),
            b'\\' => out.extend(b"\\\\"),
            0..=0x1f => {
                let mut digits = [0u8; 2];
                hex::encode(&[b], &mut digits);
                out.extend(b"\\u00");
                out.extend(&digits);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub(crate) fn is_b64token(token: &[u8]) -> bool {
    let body = token.iter().take_while(|b| **b != b'=').count();
    body > 0
        && token.iter().take(body).all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
        && token.iter().skip(body).all(|b| *b == b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_error_challenge() {
        let raw = b"{\"status\":\"401\",\"schemes\":\"bearer mac\",\"scope\":\"https://mail.google.com/\"}\n";
        let e = OAuthError::parse(raw).unwrap();
        assert_eq!(e.status.as_deref(), Some("401"));
        assert_eq!(e.schemes.as_deref(), Some("bearer mac"));
        assert_eq!(e.scope.as_deref(), Some("https://mail.google.com/"));
        assert_eq!(e.raw, raw);
    }

    #[test]
    fn rejects_non_objects() {
        for bad in [
            &b""[..],
            b"[]",
            b"{",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":\"b\"} x",
            b"{\"a\":{}}",
        ] {
            assert_eq!(OAuthError::parse(bad), None, "{bad:?}");
        }
        let e =
            OAuthError::parse(b" { \"status\" : 400 , \"x\": null, \"scope\":\"a\\u0041\\n\" } ")
                .unwrap();
        assert_eq!(e.status.as_deref(), Some("400"));
        assert_eq!(e.scope.as_deref(), Some("aA\n"));
    }

    #[test]
    fn json_escape() {
        let mut b = SecretBuf::new();
        push_json_string(&mut b, "a\"b\\c\n");
        assert_eq!(b.as_slice(), b"\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn error_challenges() {
        let mut b = SecretBuf::from_slice(b"left over");
        error_challenge(
            &mut b,
            &[("status", Some("401")), ("scope", None), ("x", Some("\""))],
        );
        assert_eq!(b.as_slice(), b"{\"status\":\"401\",\"x\":\"\\\"\"}");
        error_challenge(&mut b, &[("scope", None)]);
        assert_eq!(b.as_slice(), b"{}");
    }

    #[test]
    fn bearer_values() {
        assert_eq!(bearer(b"Bearer abc="), Some(&b"abc="[..]));
        assert_eq!(bearer(b"bEARER abc"), Some(&b"abc"[..]));
        for bad in [
            &b""[..],
            b"Bearer",
            b"Bearer ",
            b"Mac abc",
            b"Bearer  abc",
            b"Bearer a b",
        ] {
            assert_eq!(bearer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn b64tokens() {
        assert!(is_b64token(
            b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
        ));
        assert!(is_b64token(b"abc=="));
        assert!(!is_b64token(b""));
        assert!(!is_b64token(b"=="));
        assert!(!is_b64token(b"a b"));
        assert!(!is_b64token(b"a=b"));
    }
}
