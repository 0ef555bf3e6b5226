//! Dovecot's auth client protocol 1.x, server side, with no I/O: client lines in, parsed
//! values out; replies written into a caller's buffer.
//!
//! Lines are TAB-separated and end in LF. The server sends its handshake on connect
//! ([`write_handshake`]): `VERSION`, one `MECH` per mechanism (before `SPID`: both Postfix and
//! Exim take a `SPID` first as the wrong socket), `SPID`, `CUID`, `COOKIE`, `DONE`. The client
//! sends `VERSION` and `CPID`, then `AUTH` and `CONT` requests ([`parse_line`]).
//!
//! Traps handled here (see `docs/authd.md`):
//! * `resp==` is an *empty* initial response (Postfix passes `AUTH PLAIN =` through), while an
//!   empty `resp=` (Exim, always) means *none*.
//! * `rip=NULL lip=NULL` (Exim in `-bs` mode) means no address.
//! * Replies: `CONT` always has its data field, even empty (Exim dereferences it); `OK` always
//!   has `user=` (Postfix and Exim fail the login without it).

use std::net::IpAddr;

use saslmech::Mechanism;

/// The protocol version this server speaks.
pub const VERSION_MAJOR: u32 = 1;
/// The minor version this server announces.
pub const VERSION_MINOR: u32 = 2;

/// An initial response, as the `resp=` parameter gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialResponse<'a> {
    /// No `resp=`, or an empty `resp=`: the client sent no initial response.
    None,
    /// `resp==`: an empty initial response.
    Empty,
    /// Base64 text (not yet decoded).
    Base64(&'a [u8]),
}

/// An `AUTH` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthLine<'a> {
    /// The request id the client chose (unique among its requests in flight).
    pub id: u32,
    /// The mechanism name as sent.
    pub mechanism: &'a str,
    /// `service=` (`smtp` from Postfix and Exim).
    pub service: &'a str,
    /// `secured`: the mail client's connection is protected (TLS, or local).
    pub secured: bool,
    /// `lip=`: the local address of the mail client's connection, if known.
    pub local_ip: Option<IpAddr>,
    /// `rip=`: the remote (mail client's) address, if known.
    pub remote_ip: Option<IpAddr>,
    /// `final-resp-ok`: the client accepts success data in the `OK` reply.
    pub final_resp_ok: bool,
    /// `no-penalty`: skip the failure throttle for this request.
    pub no_penalty: bool,
    /// The initial response.
    pub initial_response: InitialResponse<'a>,
}

/// One line from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientLine<'a> {
    /// `VERSION major minor`.
    Version {
        /// Major version (must be 1).
        major: u32,
        /// Minor version.
        minor: u32,
    },
    /// `CPID pid`: the client's process id.
    Cpid(u32),
    /// `AUTH id mech params...`.
    Auth(AuthLine<'a>),
    /// `CONT id data`: the client's response (base64) to the last challenge.
    Cont {
        /// The request id.
        id: u32,
        /// The response, base64 (may be empty).
        data: &'a [u8],
    },
}

/// Why a line could not be parsed. Every case ends the connection except where the caller
/// decides otherwise; `Display` gives a fixed text that never echoes the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The line is not UTF-8 (parameters and names must be).
    NotUtf8,
    /// The command is not one of `VERSION`, `CPID`, `AUTH`, `CONT`.
    UnknownCommand,
    /// A field is missing or malformed.
    Malformed(&'static str),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::NotUtf8 => f.write_str("line is not UTF-8"),
            ParseError::UnknownCommand => f.write_str("unknown command"),
            ParseError::Malformed(what) => write!(f, "malformed {what}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parse a request id: a decimal number without sign, at most `u32::MAX`.
fn parse_u32(field: Option<&[u8]>) -> Option<u32> {
    let f = field?;
    if f.is_empty() || f.len() > 10 || !f.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(f).ok()?.parse().ok()
}

/// Parse an address parameter; Exim's `NULL` and anything unparsable mean none.
fn parse_ip(value: &str) -> Option<IpAddr> {
    value.parse().ok()
}

/// Parse one line from the client, without its LF (a trailing CR is tolerated and removed).
pub fn parse_line(line: &[u8]) -> Result<ClientLine<'_>, ParseError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut fields = line.split(|&b| b == b'\t');
    let command = fields.next().unwrap_or_default();
    match command {
        b"VERSION" => {
            let major = parse_u32(fields.next()).ok_or(ParseError::Malformed("VERSION"))?;
            let minor = parse_u32(fields.next()).ok_or(ParseError::Malformed("VERSION"))?;
            Ok(ClientLine::Version { major, minor })
        }
        b"CPID" => {
            let pid = parse_u32(fields.next()).ok_or(ParseError::Malformed("CPID"))?;
            Ok(ClientLine::Cpid(pid))
        }
        b"CONT" => {
            let id = parse_u32(fields.next()).ok_or(ParseError::Malformed("CONT id"))?;
            // A missing data field is an empty response.
            let data = fields.next().unwrap_or_default();
            if fields.next().is_some() {
                return Err(ParseError::Malformed("CONT (extra field)"));
            }
            Ok(ClientLine::Cont { id, data })
        }
        b"AUTH" => parse_auth(fields).map(ClientLine::Auth),
        _ => Err(ParseError::UnknownCommand),
    }
}

fn parse_auth<'a>(mut fields: impl Iterator<Item = &'a [u8]>) -> Result<AuthLine<'a>, ParseError> {
    let id = parse_u32(fields.next()).ok_or(ParseError::Malformed("AUTH id"))?;
    let mechanism = fields
        .next()
        .filter(|m| !m.is_empty())
        .ok_or(ParseError::Malformed("AUTH mechanism"))?;
    let mechanism = std::str::from_utf8(mechanism).map_err(|_| ParseError::NotUtf8)?;
    let mut auth = AuthLine {
        id,
        mechanism,
        service: "",
        secured: false,
        local_ip: None,
        remote_ip: None,
        final_resp_ok: false,
        no_penalty: false,
        initial_response: InitialResponse::None,
    };
    let mut service = None;
    for field in fields {
        let (key, value) = match field.iter().position(|&b| b == b'=') {
            Some(eq) => (
                field.get(..eq).unwrap_or_default(),
                field.get(eq.saturating_add(1)..).unwrap_or_default(),
            ),
            None => (field, &b""[..]),
        };
        match key {
            b"resp" => {
                auth.initial_response = match value {
                    b"" => InitialResponse::None,
                    b"=" => InitialResponse::Empty,
                    text => InitialResponse::Base64(text),
                }
            }
            b"service" => {
                let s = std::str::from_utf8(value).map_err(|_| ParseError::NotUtf8)?;
                service = Some(s);
            }
            b"secured" => auth.secured = true,
            b"final-resp-ok" => auth.final_resp_ok = true,
            b"no-penalty" => auth.no_penalty = true,
            b"lip" => {
                auth.local_ip = std::str::from_utf8(value).ok().and_then(parse_ip);
            }
            b"rip" => {
                auth.remote_ip = std::str::from_utf8(value).ok().and_then(parse_ip);
            }
            // `nologin`, `lport`, `rport`, `session`, `valid-client-cert` and parameters of
            // later protocol versions: ignored, as Dovecot ignores what it does not know.
            _ => {}
        }
    }
    auth.service = service
        .filter(|s| !s.is_empty())
        .ok_or(ParseError::Malformed("AUTH (no service=)"))?;
    Ok(auth)
}

/// The `MECH` line flags of a mechanism, as Dovecot announces them.
pub fn mechanism_flags(m: Mechanism) -> &'static [&'static str] {
    match m {
        Mechanism::Plain | Mechanism::Login => &["plaintext"],
        // A sniffed exchange allows an offline dictionary attack; the server is challenged.
        Mechanism::CramMd5 => &["dictionary", "active"],
        // The server proves it knows the keys too.
        m if m.is_scram() => &["mutual-auth"],
        // The bearer token crosses the wire and can be replayed for its lifetime.
        Mechanism::XOAuth2 | Mechanism::OAuthBearer => &["plaintext"],
        Mechanism::Anonymous => &["anonymous"],
        _ => &[],
    }
}

/// Write the server's handshake: `VERSION`, the `MECH` lines, then `SPID`, `CUID`, `COOKIE`,
/// `DONE`.
pub fn write_handshake(
    out: &mut Vec<u8>,
    mechanisms: &[Mechanism],
    spid: u32,
    cuid: u64,
    cookie: &[u8; 16],
) {
    out.extend_from_slice(format!("VERSION\t{VERSION_MAJOR}\t{VERSION_MINOR}\n").as_bytes());
    for m in mechanisms {
        out.extend_from_slice(b"MECH\t");
        out.extend_from_slice(m.name().as_bytes());
        for flag in mechanism_flags(*m) {
            out.push(b'\t');
            out.extend_from_slice(flag.as_bytes());
        }
        out.push(b'\n');
    }
    out.extend_from_slice(format!("SPID\t{spid}\nCUID\t{cuid}\nCOOKIE\t").as_bytes());
    for b in cookie {
        out.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    out.extend_from_slice(b"\nDONE\n");
}

fn push_id(out: &mut Vec<u8>, id: u32) {
    let mut buf = [0u8; 10];
    let mut n = id;
    let mut i = buf.len();
    loop {
        i = i.saturating_sub(1);
        if let Some(slot) = buf.get_mut(i) {
            // `n % 10` is below 10, so the cast cannot truncate.
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

/// True if `value` can travel in a reply field unescaped: neither Postfix nor Exim unescapes,
/// so TAB, LF, CR and `\x01` cannot be carried at all.
pub fn is_safe_value(value: &str) -> bool {
    !value
        .bytes()
        .any(|b| matches!(b, b'\t' | b'\n' | b'\r' | 1))
}

/// Write `CONT id data` (the data field is always present, even empty).
pub fn write_cont(out: &mut Vec<u8>, id: u32, data_b64: &[u8]) {
    out.extend_from_slice(b"CONT\t");
    push_id(out, id);
    out.push(b'\t');
    out.extend_from_slice(data_b64);
    out.push(b'\n');
}

/// Write `OK id user=USER [resp=DATA]`. The caller has checked `user` with
/// [`is_safe_value`].
pub fn write_ok(out: &mut Vec<u8>, id: u32, user: &str, final_data_b64: Option<&[u8]>) {
    out.extend_from_slice(b"OK\t");
    push_id(out, id);
    out.extend_from_slice(b"\tuser=");
    out.extend_from_slice(user.as_bytes());
    if let Some(data) = final_data_b64 {
        out.extend_from_slice(b"\tresp=");
        out.extend_from_slice(data);
    }
    out.push(b'\n');
}

/// A failure reply's optional fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fail {
    /// `user=`: the user the client named, if known and safe to send.
    pub user: Option<String>,
    /// `reason=`: Postfix relays it to the SMTP client.
    pub reason: Option<&'static str>,
    /// `temp`: a temporary failure.
    pub temp: bool,
}

/// Write `FAIL id [user=..] [reason=..] [temp]`.
pub fn write_fail(out: &mut Vec<u8>, id: u32, fail: &Fail) {
    out.extend_from_slice(b"FAIL\t");
    push_id(out, id);
    if let Some(user) = fail.user.as_deref().filter(|u| is_safe_value(u)) {
        out.extend_from_slice(b"\tuser=");
        out.extend_from_slice(user.as_bytes());
    }
    if let Some(reason) = fail.reason {
        out.extend_from_slice(b"\treason=");
        out.extend_from_slice(reason.as_bytes());
    }
    if fail.temp {
        out.extend_from_slice(b"\ttemp");
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_auth_lines() {
        let l = parse_line(
            b"AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp=AHRlc3QAdGVzdA==",
        )
        .unwrap();
        let ClientLine::Auth(a) = l else {
            panic!("{l:?}")
        };
        assert_eq!(a.id, 1);
        assert_eq!(a.mechanism, "PLAIN");
        assert_eq!(a.service, "smtp");
        assert!(a.secured);
        assert_eq!(a.remote_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(
            a.initial_response,
            InitialResponse::Base64(b"AHRlc3QAdGVzdA==")
        );
        // `AUTH PLAIN =` passed through.
        let ClientLine::Auth(a) =
            parse_line(b"AUTH\t2\tPLAIN\tservice=smtp\tnologin\tlip=1.2.3.4\trip=5.6.7.8\tresp==")
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(a.initial_response, InitialResponse::Empty);
        assert!(!a.secured);
        // No resp at all.
        let ClientLine::Auth(a) =
            parse_line(b"AUTH\t3\tLOGIN\tservice=smtp\tnologin\tlip=::1\trip=::1\tsecured")
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(a.initial_response, InitialResponse::None);
        assert_eq!(a.local_ip, Some("::1".parse().unwrap()));
    }

    #[test]
    fn exim_auth_lines() {
        // Exim 4.96 -bs without -oMa: NULL addresses, empty resp= meaning none.
        let ClientLine::Auth(a) =
            parse_line(b"AUTH\t1\tLOGIN\tservice=smtp\tnologin\tlip=NULL\trip=NULL\tresp=")
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(a.remote_ip, None);
        assert_eq!(a.local_ip, None);
        assert_eq!(a.initial_response, InitialResponse::None);
    }

    #[test]
    fn handshake_lines_and_cont() {
        assert_eq!(
            parse_line(b"VERSION\t1\t0").unwrap(),
            ClientLine::Version { major: 1, minor: 0 }
        );
        assert_eq!(parse_line(b"CPID\t4242\r").unwrap(), ClientLine::Cpid(4242));
        assert_eq!(
            parse_line(b"CONT\t7\t").unwrap(),
            ClientLine::Cont { id: 7, data: b"" }
        );
        assert_eq!(
            parse_line(b"CONT\t7\tdGVzdA==").unwrap(),
            ClientLine::Cont {
                id: 7,
                data: b"dGVzdA=="
            }
        );
    }

    #[test]
    fn garbage_is_refused() {
        for (line, want) in [
            (&b"HELLO"[..], ParseError::UnknownCommand),
            (b"", ParseError::UnknownCommand),
            (b"VERSION\tx\t0", ParseError::Malformed("VERSION")),
            (
                b"AUTH\t-1\tPLAIN\tservice=smtp",
                ParseError::Malformed("AUTH id"),
            ),
            (
                b"AUTH\t99999999999\tPLAIN\tservice=smtp",
                ParseError::Malformed("AUTH id"),
            ),
            (
                b"AUTH\t1\tPLAIN",
                ParseError::Malformed("AUTH (no service=)"),
            ),
            (
                b"AUTH\t1\t\tservice=smtp",
                ParseError::Malformed("AUTH mechanism"),
            ),
            (b"CONT\tx\tabc", ParseError::Malformed("CONT id")),
            (
                b"CONT\t1\tabc\tdef",
                ParseError::Malformed("CONT (extra field)"),
            ),
            (b"AUTH\t1\tPLAIN\tservice=\xff", ParseError::NotUtf8),
        ] {
            assert_eq!(parse_line(line).unwrap_err(), want, "{line:?}");
        }
    }

    #[test]
    fn handshake_has_mech_before_spid() {
        let mut out = Vec::new();
        write_handshake(
            &mut out,
            &[
                Mechanism::Plain,
                Mechanism::CramMd5,
                Mechanism::ScramSha256,
                Mechanism::ScramSha512,
            ],
            77,
            3,
            &[0xab; 16],
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tCRAM-MD5\tdictionary\tactive\n\
             MECH\tSCRAM-SHA-256\tmutual-auth\nMECH\tSCRAM-SHA-512\tmutual-auth\n\
             SPID\t77\nCUID\t3\n\
             COOKIE\tabababababababababababababababab\nDONE\n"
        );
    }

    #[test]
    fn replies() {
        let mut out = Vec::new();
        write_cont(&mut out, 1, b"");
        write_cont(&mut out, 4294967295, b"PDE+");
        write_ok(&mut out, 20, "tim", None);
        write_ok(&mut out, 0, "tim", Some(b"dj1h"));
        write_fail(&mut out, 3, &Fail::default());
        write_fail(
            &mut out,
            4,
            &Fail {
                user: Some("a\tb".into()),
                reason: Some("nope"),
                temp: true,
            },
        );
        write_fail(
            &mut out,
            5,
            &Fail {
                user: Some("bob".into()),
                ..Fail::default()
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CONT\t1\t\nCONT\t4294967295\tPDE+\nOK\t20\tuser=tim\nOK\t0\tuser=tim\tresp=dj1h\n\
             FAIL\t3\nFAIL\t4\treason=nope\ttemp\nFAIL\t5\tuser=bob\n"
        );
    }
}
