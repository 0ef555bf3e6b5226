//! Fuzz targets for the protocol adapters (`saslmech::proto`): the SMTP, IMAP and POP3 servers
//! fed arbitrary command and exchange lines and arbitrary answers, and the three clients fed
//! arbitrary server lines.
//!
//! Oracles, beyond no panic:
//! * every reply a server adapter produces is a well-formed line of its protocol (SMTP
//!   `ddd SP text CRLF`, IMAP `+ base64` or `tag OK|NO|BAD text`, POP3 `+ base64`, `+OK`,
//!   `-ERR` or the mechanism list), printable ASCII, one CRLF at the end and none inside,
//!   challenges strict base64, failures of the right class (SMTP 4xx exactly for temporary
//!   failures);
//! * a refused call (`InvalidState`, `InvalidArgument`, `WrongAnswer`) changes nothing, and
//!   each is refused exactly where the documentation says;
//! * the phase after each event is the one the event implies; `identity()` agrees with the
//!   success event; success comes only after an answer that vouched for the client (or from
//!   EXTERNAL's transport identity, or ANONYMOUS);
//! * the advertised mechanism lists parse back to what the server offers;
//! * a client adapter's command and responses are single CRLF-terminated lines (base64 or
//!   `*`), within the line limit; it reports `authenticated` only on a success status, with a
//!   failure reason otherwise; after the outcome every call is `InvalidState`.

use std::sync::Arc;

use super::{AnswerKind, Input, OwnedAnswer, reference_decode, server_config};
use saslmech::proto::imap::{self, ImapClient, ImapServer};
use saslmech::proto::pop3::{self, Pop3Client, Pop3Server};
use saslmech::proto::smtp::{self, SmtpClient, SmtpServer};
use saslmech::proto::{AuthIdentity, AuthRequest, ClientEvent, Phase, ServerEvent};
use saslmech::{
    ALL_MECHANISMS, Answer, ClientConfig, Credentials, Error, Failure, Mechanism, ServerConfig,
    Transport,
};

/// The SMTP server adapter target.
pub fn smtp_server(data: &[u8]) {
    adapter_server(Proto::Smtp, data)
}
/// The IMAP server adapter target.
pub fn imap_server(data: &[u8]) {
    adapter_server(Proto::Imap, data)
}
/// The POP3 server adapter target.
pub fn pop3_server(data: &[u8]) {
    adapter_server(Proto::Pop3, data)
}
/// The SMTP client adapter target.
pub fn smtp_client(data: &[u8]) {
    adapter_client(Proto::Smtp, data)
}
/// The IMAP client adapter target.
pub fn imap_client(data: &[u8]) {
    adapter_client(Proto::Imap, data)
}
/// The POP3 client adapter target.
pub fn pop3_client(data: &[u8]) {
    adapter_client(Proto::Pop3, data)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Smtp,
    Imap,
    Pop3,
}

/// Server adapter operations (the operation byte, modulo the number of operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AdapterServerOperation {
    /// `command(bytes)`: an arbitrary command line.
    Command = 0,
    /// `command("AUTH <mechanism> [<initial response>]")` (IMAP: `a1 AUTHENTICATE ...`): a
    /// mechanism byte (index into `ALL_MECHANISMS`, or an unknown name), then the initial
    /// response (empty: none; a single `=`: an empty one).
    Auth = 1,
    /// `line(bytes)`.
    Line = 2,
    /// `line(base64(bytes))`: a well-formed response carrying arbitrary bytes.
    LineBase64 = 3,
    /// `answer(answer)` (the answer as in the server target).
    Answer = 4,
    /// `set_tls(byte & 1)`.
    SetTls = 5,
    /// `reset()`.
    Reset = 6,
    /// `line("*")`.
    Cancel = 7,
    /// `line(big)`: a line built to reach the length limits.
    LineBig = 8,
    /// `command("AUTH <mechanism> <base64(bytes)>")`.
    AuthBase64 = 9,
}

impl AdapterServerOperation {
    /// Every operation, in the order of its byte.
    pub const ALL: [AdapterServerOperation; 10] = [
        AdapterServerOperation::Command,
        AdapterServerOperation::Auth,
        AdapterServerOperation::Line,
        AdapterServerOperation::LineBase64,
        AdapterServerOperation::Answer,
        AdapterServerOperation::SetTls,
        AdapterServerOperation::Reset,
        AdapterServerOperation::Cancel,
        AdapterServerOperation::LineBig,
        AdapterServerOperation::AuthBase64,
    ];

    /// The operation a byte selects (the byte modulo their number).
    pub fn from_byte(byte: u8) -> Self {
        Self::ALL[usize::from(byte) % Self::ALL.len()]
    }
}

impl From<AdapterServerOperation> for u8 {
    fn from(value: AdapterServerOperation) -> u8 {
        value as u8
    }
}

#[allow(clippy::large_enum_variant)] // one per run
enum AnyServer {
    Smtp(SmtpServer),
    Imap(ImapServer),
    Pop3(Pop3Server),
}

impl AnyServer {
    fn command(&mut self, l: &[u8]) -> Result<ServerEvent, Error> {
        match self {
            AnyServer::Smtp(s) => s.command(l),
            AnyServer::Imap(s) => s.command(l),
            AnyServer::Pop3(s) => s.command(l),
        }
    }
    fn line(&mut self, l: &[u8]) -> Result<ServerEvent, Error> {
        match self {
            AnyServer::Smtp(s) => s.line(l),
            AnyServer::Imap(s) => s.line(l),
            AnyServer::Pop3(s) => s.line(l),
        }
    }
    fn answer(&mut self, a: Answer<'_>) -> Result<ServerEvent, Error> {
        match self {
            AnyServer::Smtp(s) => s.answer(a),
            AnyServer::Imap(s) => s.answer(a),
            AnyServer::Pop3(s) => s.answer(a),
        }
    }
    fn phase(&self) -> Phase {
        match self {
            AnyServer::Smtp(s) => s.phase(),
            AnyServer::Imap(s) => s.phase(),
            AnyServer::Pop3(s) => s.phase(),
        }
    }
    fn identity(&self) -> Option<AuthIdentity> {
        match self {
            AnyServer::Smtp(s) => s.identity().cloned(),
            AnyServer::Imap(s) => s.identity().cloned(),
            AnyServer::Pop3(s) => s.identity().cloned(),
        }
    }
    fn set_tls(&mut self, tls: bool) {
        match self {
            AnyServer::Smtp(s) => s.set_tls(tls),
            AnyServer::Imap(s) => s.set_tls(tls),
            AnyServer::Pop3(s) => s.set_tls(tls),
        }
    }
    fn set_transport(&mut self, t: Transport) {
        match self {
            AnyServer::Smtp(s) => s.set_transport(t),
            AnyServer::Imap(s) => s.set_transport(t),
            AnyServer::Pop3(s) => s.set_transport(t),
        }
    }
    fn reset(&mut self) {
        match self {
            AnyServer::Smtp(s) => s.reset(),
            AnyServer::Imap(s) => s.reset(),
            AnyServer::Pop3(s) => s.reset(),
        }
    }
    fn debug(&self) -> String {
        match self {
            AnyServer::Smtp(s) => format!("{s:?}"),
            AnyServer::Imap(s) => format!("{s:?}"),
            AnyServer::Pop3(s) => format!("{s:?}"),
        }
    }
    /// The advertised mechanisms, parsed back with the client-side parser of the protocol.
    fn advertised(&self) -> Vec<String> {
        match self {
            AnyServer::Smtp(s) => match s.ehlo_keyword() {
                Some(k) => {
                    assert!(k.starts_with("AUTH ") && !k.contains(['\r', '\n']));
                    smtp::ehlo_mechanisms([format!("250-{k}").as_bytes()])
                }
                None => Vec::new(),
            },
            AnyServer::Imap(s) => {
                let caps = s.capabilities();
                assert!(caps.ends_with("SASL-IR") && !caps.contains(['\r', '\n']));
                assert!(imap::has_sasl_ir(caps.as_bytes()));
                imap::capability_mechanisms(format!("* CAPABILITY IMAP4rev1 {caps}").as_bytes())
            }
            AnyServer::Pop3(s) => match s.capa_line() {
                Some(l) => {
                    assert!(l.starts_with("SASL ") && !l.contains(['\r', '\n']));
                    pop3::capa_mechanisms(l.as_bytes())
                }
                None => Vec::new(),
            },
        }
    }
}

/// The tag of the IMAP commands [`AdapterServerOperation::Auth`] builds.
const TAG: &str = "a1";

/// The mechanism name for a byte: an index into `ALL_MECHANISMS`, or (past the end) a name
/// the engine does not know, or the empty name.
fn mechanism_name(b: u8) -> &'static str {
    match ALL_MECHANISMS.get(usize::from(b) % (ALL_MECHANISMS.len() + 2)) {
        Some(m) => m.name(),
        None if b.is_multiple_of(2) => "GSSAPI",
        None => "",
    }
}

/// Check one reply of a server adapter: one line (or POP3's mechanism list) of the protocol.
fn check_reply(proto: Proto, reply: &[u8], tag: &str, max: usize) {
    assert!(reply.len() <= max, "reply of {} bytes", reply.len());
    let Some(body) = reply.strip_suffix(b"\r\n") else {
        panic!("reply without CRLF: {reply:?}");
    };
    if proto == Proto::Pop3 && reply.starts_with(b"+OK\r\n") {
        // The mechanism list: +OK, one name per line, a dot.
        let lines: Vec<&[u8]> = body.split(|c| *c == b'\n').collect();
        assert_eq!(lines.first(), Some(&&b"+OK\r"[..]));
        assert_eq!(lines.last(), Some(&&b"."[..]));
        for l in lines.iter().skip(1).take(lines.len().saturating_sub(2)) {
            let name = l.strip_suffix(b"\r").unwrap_or_default();
            assert!(Mechanism::from_name(name).is_some(), "listed {name:?}");
        }
        return;
    }
    assert!(
        body.iter().all(|c| (0x20..0x7f).contains(c)),
        "reply with a control or non-ASCII byte: {reply:?}"
    );
    let challenge = match proto {
        Proto::Smtp => body.strip_prefix(b"334 "),
        Proto::Imap | Proto::Pop3 => body.strip_prefix(b"+ "),
    };
    if let Some(c) = challenge {
        assert!(reference_decode(c).is_some(), "challenge is not base64");
        return;
    }
    match proto {
        Proto::Smtp => {
            let code = body.get(..3).unwrap_or_default();
            assert!(
                code.iter().all(u8::is_ascii_digit)
                    && matches!(code.first(), Some(b'2'..=b'5'))
                    && body.get(3) == Some(&b' ')
                    && body.len() > 4,
                "SMTP reply {reply:?}"
            );
        }
        Proto::Imap => {
            if body == b"* BAD Invalid tag" {
                return;
            }
            let rest = body
                .strip_prefix(tag.as_bytes())
                .and_then(|r| r.strip_prefix(b" "));
            let Some(rest) = rest else {
                panic!("IMAP reply without the command's tag {tag:?}: {reply:?}");
            };
            assert!(
                rest.starts_with(b"OK ") || rest.starts_with(b"NO ") || rest.starts_with(b"BAD "),
                "IMAP reply {reply:?}"
            );
        }
        Proto::Pop3 => assert!(
            body.starts_with(b"+OK ") || body.starts_with(b"-ERR "),
            "POP3 reply {reply:?}"
        ),
    }
}

/// The pending request, as far as the oracle needs it.
enum Pending {
    /// A password to check (the one the client sent).
    Password(Vec<u8>),
    /// An authorization decision (comes only after the credentials were vouched for).
    Authorize,
    /// A secret or a token.
    Other,
}

/// An answer vouched for the client's credentials in this exchange.
fn vouches(request: Option<&Pending>, a: &OwnedAnswer<'_>) -> bool {
    match (request, a) {
        (Some(Pending::Authorize), _) => false,
        (Some(Pending::Password(sent)), OwnedAnswer::Password(p)) => sent.as_slice() == *p,
        (_, OwnedAnswer::Simple(AnswerKind::Accept)) => true,
        (Some(Pending::Other), OwnedAnswer::Password(_)) => true,
        (_, OwnedAnswer::Keys(..) | OwnedAnswer::ScramKeys(_) | OwnedAnswer::TokenOwner(_)) => true,
        _ => false,
    }
}

fn adapter_server(proto: Proto, data: &[u8]) {
    let mut input = Input::new(data);
    // Two bytes for the engine (see `server_config`), one for the adapter: bits 0–1 the line
    // limit, bit 2 whether the adapter gets the transport at once (else plaintext).
    let (policy, environment, adapter_bits) = (input.byte(), input.byte(), input.byte());
    let (config, transport) = server_config(policy, environment);
    let config: Arc<ServerConfig> = Arc::new(config);
    let max_line = match adapter_bits & 3 {
        0 => smtp::MAX_LINE,
        1 => 64,
        2 => 1024,
        _ => 100_000,
    };
    let mut s = match proto {
        Proto::Smtp => {
            AnyServer::Smtp(SmtpServer::new(Arc::clone(&config)).with_max_line(max_line))
        }
        Proto::Imap => {
            AnyServer::Imap(ImapServer::new(Arc::clone(&config)).with_max_line(max_line))
        }
        Proto::Pop3 => {
            AnyServer::Pop3(Pop3Server::new(Arc::clone(&config)).with_max_line(max_line))
        }
    };
    let mut transport = transport;
    if adapter_bits & 4 != 0 {
        s.set_transport(transport.clone());
    } else {
        transport = Transport::plaintext();
    }
    // The reply limit: a challenge is base64 of at most one decoded message plus what the
    // application put in (error JSON, SCRAM salts), on one line.
    let max_reply = 4 * (config.max_message_len() + 64 * 1024) / 3 + 512;
    let mut tag = String::new();
    // The mechanism of the exchange in progress (as named), the pending request, and
    // whether an answer vouched for the client.
    let mut mechanism: Option<Mechanism> = None;
    let mut request: Option<Pending> = None;
    let mut vouched = false;
    for _ in 0..super::MAX_OPS {
        if input.is_empty() {
            break;
        }
        let operation = AdapterServerOperation::from_byte(input.byte());
        let phase = s.phase();
        let identity = s.identity();
        let debug = s.debug();
        let offered = s.advertised();
        let mut answer: Option<OwnedAnswer<'_>> = None;
        let mut new_mechanism: Option<Mechanism> = None;
        let mut new_tag = String::new();
        let is_command = matches!(
            operation,
            AdapterServerOperation::Command
                | AdapterServerOperation::Auth
                | AdapterServerOperation::AuthBase64
        );
        let big: Vec<u8>;
        let line: Vec<u8>;
        let result = match operation {
            AdapterServerOperation::Command
            | AdapterServerOperation::Auth
            | AdapterServerOperation::AuthBase64 => {
                line = match operation {
                    AdapterServerOperation::Command => input.bytes().to_vec(),
                    _ => {
                        let name = mechanism_name(input.byte());
                        let ir = input.bytes();
                        let ir = if operation == AdapterServerOperation::AuthBase64 {
                            saslmech::b64::encode(ir).into_bytes()
                        } else {
                            ir.to_vec()
                        };
                        let mut l = match proto {
                            Proto::Imap => format!("{TAG} AUTHENTICATE {name}").into_bytes(),
                            _ => format!("AUTH {name}").into_bytes(),
                        };
                        if !ir.is_empty() {
                            l.push(b' ');
                            l.extend_from_slice(&ir);
                        }
                        l.extend_from_slice(b"\r\n");
                        l
                    }
                };
                // What the adapter will name the exchange after: the second word, the third
                // for IMAP, whose first is the tag.
                let stripped = strip_eol(&line);
                let words: Vec<&[u8]> = stripped
                    .split(|c| *c == b' ')
                    .filter(|w| !w.is_empty())
                    .collect();
                let skip = if proto == Proto::Imap { 2 } else { 1 };
                new_mechanism = words.get(skip).and_then(|w| Mechanism::from_name(w));
                new_tag = lossy(stripped.split(|c| *c == b' ').next().unwrap_or_default());
                s.command(&line)
            }
            AdapterServerOperation::Line
            | AdapterServerOperation::LineBase64
            | AdapterServerOperation::Cancel
            | AdapterServerOperation::LineBig => {
                line = match operation {
                    AdapterServerOperation::Line => input.bytes().to_vec(),
                    AdapterServerOperation::LineBase64 => {
                        saslmech::b64::encode(input.bytes()).into_bytes()
                    }
                    AdapterServerOperation::Cancel => b"*".to_vec(),
                    _ => {
                        big = input.big();
                        big
                    }
                };
                s.line(&line)
            }
            AdapterServerOperation::Answer => {
                let a = OwnedAnswer::read(&mut input);
                let r = s.answer(a.answer());
                answer = Some(a);
                r
            }
            AdapterServerOperation::SetTls => {
                s.set_tls(input.byte() & 1 != 0);
                transport = Transport::plaintext();
                assert_eq!(s.phase(), Phase::Idle);
                assert!(s.identity().is_none());
                continue;
            }
            AdapterServerOperation::Reset => {
                s.reset();
                assert_eq!(s.phase(), Phase::Idle);
                assert!(s.identity().is_none());
                continue;
            }
        };
        let event = match result {
            Err(e) => {
                match operation {
                    AdapterServerOperation::Answer => {
                        let bad_owner = answer.as_ref().is_some_and(OwnedAnswer::bad_owner);
                        assert!(
                            (phase != Phase::Request && e == Error::InvalidState)
                                || (phase == Phase::Request
                                    && (e == Error::WrongAnswer
                                        || (bad_owner && matches!(e, Error::InvalidArgument(_))))),
                            "answer in {phase:?}: {e:?}"
                        );
                    }
                    AdapterServerOperation::Command
                    | AdapterServerOperation::Auth
                    | AdapterServerOperation::AuthBase64 => assert!(
                        (matches!(phase, Phase::Exchange | Phase::Request)
                            && e == Error::InvalidState)
                            || matches!(e, Error::InvalidArgument(_)),
                        "command in {phase:?}: {e:?}"
                    ),
                    _ => assert!(
                        phase != Phase::Exchange && e == Error::InvalidState,
                        "line in {phase:?}: {e:?}"
                    ),
                }
                // Refused: nothing changed.
                assert_eq!(s.phase(), phase, "a refused call changed the phase");
                assert_eq!(s.identity(), identity);
                assert_eq!(s.debug(), debug);
                continue;
            }
            Ok(e) => e,
        };
        let _ = format!("{event:?}{event:#?}");
        if is_command {
            let invalid_tag = event.reply() == Some(&b"* BAD Invalid tag\r\n"[..]);
            if proto == Proto::Imap && !invalid_tag {
                tag = new_tag;
            }
            if !matches!(event, ServerEvent::Reply(_)) {
                mechanism = new_mechanism;
                vouched = false;
                request = None;
            }
        }
        if let Some(a) = &answer
            && vouches(request.as_ref(), a)
        {
            vouched = true;
        }
        if let Some(reply) = event.reply() {
            let t = if proto == Proto::Imap {
                tag.as_str()
            } else {
                ""
            };
            check_reply(proto, reply, t, max_reply);
        }
        let after = s.phase();
        match &event {
            ServerEvent::Challenge(_) => assert_eq!(after, Phase::Exchange),
            ServerEvent::Request(r) => {
                assert_eq!(after, Phase::Request);
                let user = r.user();
                assert!(!user.contains('\0'));
                request = Some(match r {
                    AuthRequest::VerifyPassword { password, .. } => {
                        Pending::Password(password.as_slice().to_vec())
                    }
                    AuthRequest::Authorize { authcid, authzid } => {
                        assert_ne!(authcid, authzid);
                        // EXTERNAL's credentials are the transport's identity.
                        assert!(
                            vouched || mechanism == Some(Mechanism::External),
                            "authorization asked before the credentials passed"
                        );
                        Pending::Authorize
                    }
                    _ => Pending::Other,
                });
            }
            ServerEvent::Success { identity, .. } => {
                assert_eq!(after, Phase::Authenticated);
                assert_eq!(
                    s.identity().as_ref(),
                    Some(identity),
                    "identity() disagrees"
                );
                assert!(!identity.authcid.is_empty() && !identity.authcid.contains('\0'));
                let m = mechanism;
                let free = match m {
                    Some(Mechanism::Anonymous) => {
                        assert_eq!(identity.authcid, "anonymous");
                        assert!(identity.trace.is_some(), "ANONYMOUS without its trace");
                        true
                    }
                    Some(Mechanism::External) => {
                        assert_eq!(
                            Some(identity.authcid.as_str()),
                            transport.external_identity(),
                            "EXTERNAL as someone else"
                        );
                        true
                    }
                    _ => {
                        assert_eq!(identity.trace, None);
                        false
                    }
                };
                assert!(free || vouched, "{m:?}: success without a vouching answer");
            }
            ServerEvent::Failure { failure, reply } => {
                assert!(matches!(after, Phase::Idle), "failure left {after:?}");
                if proto == Proto::Smtp {
                    assert_eq!(
                        reply.first() == Some(&b'4'),
                        failure.is_temporary(),
                        "SMTP reply class for {failure:?}"
                    );
                }
                if operation == AdapterServerOperation::Answer {
                    assert_ne!(*failure, Failure::InvalidBase64);
                }
                request = None;
            }
            ServerEvent::Reply(_) => {
                assert_eq!(after, phase, "a plain reply changed the phase");
            }
            // `ServerEvent` is non-exhaustive: a new event needs its oracle here.
            other => panic!("an event this target does not know: {other:?}"),
        }
        if phase == Phase::Authenticated
            && matches!(
                operation,
                AdapterServerOperation::Command
                    | AdapterServerOperation::Auth
                    | AdapterServerOperation::AuthBase64
            )
        {
            assert!(
                matches!(event, ServerEvent::Reply(_)),
                "a second AUTH after success gave {event:?}"
            );
        }
        // What the server advertises is what it would take.
        let advertised = s.advertised();
        assert_eq!(
            advertised, offered,
            "the advertised list changed without set_tls"
        );
        for name in &advertised {
            assert!(
                Mechanism::from_name(name.as_bytes()).is_some(),
                "advertised {name}"
            );
        }
    }
    let _ = s.debug();
}

/// Client adapter operations (the operation byte, modulo the number of line kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AdapterClientLine {
    /// An arbitrary line.
    Line = 0,
    /// A challenge carrying base64 of arbitrary bytes (`334 ...`, `+ ...`).
    Challenge = 1,
    /// The protocol's success reply.
    Success = 2,
    /// A failure reply (SMTP code 400 + byte, IMAP NO/BAD, POP3 -ERR) with arbitrary text.
    Failure = 3,
    /// A long line (the size limits).
    Big = 4,
    /// A continuation line (SMTP `334-`, `250-`; IMAP untagged `* ...`).
    More = 5,
}

impl AdapterClientLine {
    /// Every line kind, in the order of its byte.
    pub const ALL: [AdapterClientLine; 6] = [
        AdapterClientLine::Line,
        AdapterClientLine::Challenge,
        AdapterClientLine::Success,
        AdapterClientLine::Failure,
        AdapterClientLine::Big,
        AdapterClientLine::More,
    ];

    /// The line kind a byte selects (the byte modulo their number).
    pub fn from_byte(byte: u8) -> Self {
        Self::ALL[usize::from(byte) % Self::ALL.len()]
    }
}

impl From<AdapterClientLine> for u8 {
    fn from(value: AdapterClientLine) -> u8 {
        value as u8
    }
}

enum AnyClient {
    Smtp(SmtpClient),
    Imap(ImapClient),
    Pop3(Pop3Client),
}

fn adapter_client(proto: Proto, data: &[u8]) {
    let mut input = Input::new(data);
    let Some(&mechanism) = ALL_MECHANISMS.get(usize::from(input.byte()) % ALL_MECHANISMS.len())
    else {
        return;
    };
    let flags = input.byte();
    let creds = Credentials::new()
        .authcid(super::DEFAULT_AUTHCID)
        .password(super::DEFAULT_PASSWORD)
        .token(super::DEFAULT_TOKEN)
        .trace("fuzz@example.net");
    let creds = if flags & 8 != 0 {
        creds.authzid("admin")
    } else {
        creds
    };
    let mut config = ClientConfig::new().scram_iterations(1, 64);
    if let Some((kind, data)) = super::channel_binding(flags >> 4) {
        config = config.channel_binding(kind, data);
    }
    config.max_challenge = if flags & 0x40 != 0 {
        64
    } else {
        config.max_challenge
    };
    let use_ir = flags & 1 != 0;
    let smtp_max_line = if flags & 2 != 0 { 40 } else { smtp::MAX_LINE };
    let made = match proto {
        Proto::Smtp => SmtpClient::with_config(mechanism, &creds, &config)
            .map(|c| AnyClient::Smtp(c.initial_response(use_ir).max_line(smtp_max_line))),
        Proto::Imap => ImapClient::with_config(TAG, mechanism, &creds, &config)
            .map(|c| AnyClient::Imap(c.sasl_ir(use_ir))),
        Proto::Pop3 => Pop3Client::with_config(mechanism, &creds, &config)
            .map(|c| AnyClient::Pop3(c.initial_response(use_ir))),
    };
    let mut c = match made {
        Ok(c) => c,
        Err(e) => {
            assert!(matches!(e, Error::InvalidArgument(_)), "client new: {e:?}");
            return;
        }
    };
    // Before start, lines are refused.
    if flags & 4 != 0 {
        let r = match &mut c {
            AnyClient::Smtp(c) => c.reply(b"235 ok"),
            AnyClient::Imap(c) => c.line(b"a1 OK ok"),
            AnyClient::Pop3(c) => c.line(b"+OK ok"),
        };
        assert_eq!(r.err(), Some(Error::InvalidState), "a line before start");
    }
    let command = match &mut c {
        AnyClient::Smtp(c) => c.start(),
        AnyClient::Imap(c) => c.start(),
        AnyClient::Pop3(c) => c.start(),
    };
    let command = match command {
        Ok(l) => l,
        Err(e) => panic!("start: {e:?}"),
    };
    let cmd = command.as_slice();
    let Some(cmd_body) = cmd.strip_suffix(b"\r\n") else {
        panic!("command without CRLF");
    };
    assert!(!cmd_body.contains(&b'\n') && !cmd_body.contains(&b'\r'));
    let prefix = match proto {
        Proto::Imap => format!("{TAG} AUTHENTICATE {}", mechanism.name()),
        _ => format!("AUTH {}", mechanism.name()),
    };
    assert!(cmd.starts_with(prefix.as_bytes()), "command {cmd:?}");
    let limit = match proto {
        Proto::Smtp => smtp_max_line,
        Proto::Imap => usize::MAX,
        Proto::Pop3 => pop3::MAX_COMMAND,
    };
    if let Some(ir) = cmd_body.get(prefix.len()..).filter(|r| !r.is_empty()) {
        assert!(use_ir, "an initial response without SASL-IR");
        assert!(cmd.len() <= limit, "command over the line limit");
        let Some(ir) = ir.strip_prefix(b" ") else {
            panic!("no space before the initial response");
        };
        assert!(ir == b"=" || reference_decode(ir).is_some_and(|d| !d.is_empty()));
    }
    let _ = format!("{command:?}");
    // A second start is refused.
    let again = match &mut c {
        AnyClient::Smtp(c) => c.start().map(|_| ()),
        AnyClient::Imap(c) => c.start().map(|_| ()),
        AnyClient::Pop3(c) => c.start().map(|_| ()),
    };
    assert_eq!(again, Err(Error::InvalidState));
    let mut done = false;
    for _ in 0..super::MAX_OPS {
        if input.is_empty() {
            break;
        }
        let operation = AdapterClientLine::from_byte(input.byte());
        let mut line: Vec<u8> = match (operation, proto) {
            (AdapterClientLine::Line, _) => input.bytes().to_vec(),
            (AdapterClientLine::Challenge, Proto::Smtp) => {
                let mut l = b"334 ".to_vec();
                l.extend_from_slice(saslmech::b64::encode(input.bytes()).as_bytes());
                l
            }
            (AdapterClientLine::Challenge, _) => {
                let mut l = b"+ ".to_vec();
                l.extend_from_slice(saslmech::b64::encode(input.bytes()).as_bytes());
                l
            }
            (AdapterClientLine::Success, Proto::Smtp) => {
                b"235 2.7.0 Authentication successful".to_vec()
            }
            (AdapterClientLine::Success, Proto::Imap) => b"a1 OK AUTHENTICATE completed".to_vec(),
            (AdapterClientLine::Success, Proto::Pop3) => b"+OK Logged in".to_vec(),
            (AdapterClientLine::Failure, _) => {
                let code = input.byte();
                let text = input.bytes();
                let mut l = match proto {
                    Proto::Smtp => format!("{} ", 400 + u16::from(code % 200)).into_bytes(),
                    Proto::Imap if code & 1 == 0 => b"a1 NO ".to_vec(),
                    Proto::Imap => b"a1 BAD ".to_vec(),
                    Proto::Pop3 => b"-ERR ".to_vec(),
                };
                l.extend_from_slice(text);
                l
            }
            (AdapterClientLine::Big, _) => input.big(),
            (AdapterClientLine::More, Proto::Smtp) => {
                let mut l = b"250-".to_vec();
                l.extend_from_slice(input.bytes());
                l
            }
            (_, _) => {
                let mut l = b"* ".to_vec();
                l.extend_from_slice(input.bytes());
                l
            }
        };
        if input.byte() & 1 != 0 {
            line.extend_from_slice(b"\r\n");
        }
        let r = match &mut c {
            AnyClient::Smtp(c) => c.reply(&line),
            AnyClient::Imap(c) => c.line(&line),
            AnyClient::Pop3(c) => c.line(&line),
        };
        if done {
            assert_eq!(
                r.err(),
                Some(Error::InvalidState),
                "a line after the outcome"
            );
            continue;
        }
        let event = match r {
            Ok(e) => e,
            Err(e) => panic!("client line: {e:?}"),
        };
        let _ = format!("{event:?}");
        match event {
            ClientEvent::Send(l) => {
                let l = l.as_slice();
                let Some(body) = l.strip_suffix(b"\r\n") else {
                    panic!("response without CRLF");
                };
                assert!(
                    body == b"*" || reference_decode(body).is_some(),
                    "response is neither base64 nor *"
                );
            }
            ClientEvent::More => {}
            ClientEvent::Done(outcome) => {
                done = true;
                let _ = format!("{outcome:?}");
                assert_eq!(outcome.authenticated, outcome.failure.is_none());
                assert!(
                    outcome
                        .text
                        .bytes()
                        .all(|c| (0x20..0x7f).contains(&c) || c == b'\n')
                );
                if proto == Proto::Smtp {
                    // A multi-line reply's text is kept, bounded.
                    assert!(outcome.text.len() <= 4097, "outcome text unbounded");
                }
                if outcome.authenticated {
                    let ok = match proto {
                        Proto::Smtp => outcome.smtp_code().is_some_and(|c| (200..300).contains(&c)),
                        Proto::Imap => outcome.status == "OK",
                        Proto::Pop3 => outcome.status == "+OK",
                    };
                    assert!(ok, "authenticated on status {:?}", outcome.status);
                } else {
                    match proto {
                        Proto::Smtp => {
                            assert!(outcome.status.is_empty() || outcome.smtp_code().is_some())
                        }
                        Proto::Imap => {
                            assert!(matches!(outcome.status.as_str(), "" | "OK" | "NO" | "BAD"))
                        }
                        Proto::Pop3 => {
                            assert!(matches!(outcome.status.as_str(), "" | "+OK" | "-ERR"))
                        }
                    }
                }
            }
            // `ClientEvent` is non-exhaustive: a new event needs its oracle here.
            other => panic!("an event this target does not know: {other:?}"),
        }
    }
}

/// One trailing LF and then one CR removed: how the adapters end a line.
fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Printable ASCII with every other byte as `?`: how the adapters echo a peer's text (an IMAP
/// tag) in a reply.
fn lossy(text: &[u8]) -> String {
    text.iter()
        .map(|b| {
            if (0x20..0x7f).contains(b) {
                char::from(*b)
            } else {
                '?'
            }
        })
        .collect()
}
