//! `saslmech_proto_server`: the server side of SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH for
//! one connection (line in, reply bytes out). Its pending request and authenticated identity
//! are the same views an engine session hands out (`request.rs`).

use std::sync::Arc;

use super::enums::*;
use super::panic::*;
use super::request::{
    Authenticated, Exchange, Owner, Pending, saslmech_identity, saslmech_request,
};
use super::server_config::saslmech_server_config;
use crate::mechanism::Mechanism;
use crate::proto::imap::ImapServer;
use crate::proto::pop3::Pop3Server;
use crate::proto::smtp::{SmtpReplies, SmtpServer};
use crate::proto::{self, AuthIdentity, AuthRequest, Phase, ServerEvent};
use crate::{Answer, Error, Failure, SecretBuf, Transport};

/// What a protocol adapter produced (`saslmech_proto_server_*` gives 1 to 5,
/// `saslmech_proto_client_*` 6 to 8).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_event {
    /// (Server) Write the challenge line (`saslmech_proto_server_reply`: `334 ...`, `+ ...`),
    /// then pass the client's next line to `saslmech_proto_server_line`.
    SASLMECH_EVENT_CHALLENGE = 1,
    /// (Server) A request waits for the application (`saslmech_proto_server_request` says
    /// which kind): answer it with a `saslmech_request_answer*` call, now or from a
    /// later turn of the event loop. Nothing is written meanwhile; keep the client's further
    /// input until then.
    SASLMECH_EVENT_REQUEST = 2,
    /// (Server) Write the success reply: the client is authenticated
    /// (`saslmech_proto_server_identity`).
    SASLMECH_EVENT_SUCCESS = 3,
    /// (Server) Write the failure reply (`saslmech_proto_server_failure` says why); the
    /// adapter is ready for another attempt.
    SASLMECH_EVENT_FAILURE = 4,
    /// (Server) Write the reply; no exchange took place (a syntax error, already
    /// authenticated, POP3's mechanism list).
    SASLMECH_EVENT_REPLY = 5,
    /// (Client) Write the bytes `saslmech_proto_client_output` gives, then pass the server's
    /// next line in.
    SASLMECH_EVENT_SEND = 6,
    /// (Client) Nothing to write: pass the server's next line in (a multi-line reply goes on,
    /// or an unrelated untagged response arrived).
    SASLMECH_EVENT_MORE = 7,
    /// (Client) The exchange is over: `saslmech_proto_client_outcome`.
    SASLMECH_EVENT_DONE = 8,
}

pub(crate) use saslmech_event::*;

/// Where a server adapter stands: which call takes the connection's next line.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_phase {
    /// No exchange: an AUTH command goes to `saslmech_proto_server_command`.
    SASLMECH_PHASE_IDLE = 1,
    /// A challenge went out: the client's next line goes to `saslmech_proto_server_line`.
    SASLMECH_PHASE_EXCHANGE = 2,
    /// A request waits for a `saslmech_request_answer*` call.
    SASLMECH_PHASE_REQUEST = 3,
    /// The client authenticated; a further AUTH command is refused (`503`, `BAD`, `-ERR`).
    SASLMECH_PHASE_AUTHENTICATED = 4,
}

/// A configurable reply of the SMTP server adapter (`SASLMECH_SMTP_REPLY_*`), for
/// `saslmech_smtp_server_set_reply`. Taken as an integer and validated on entry. The defaults
/// are RFC 4954's and RFC 5248's.
pub type saslmech_smtp_reply = u32;
/// `235 2.7.0 Authentication successful`.
pub const SASLMECH_SMTP_REPLY_SUCCESS: saslmech_smtp_reply = 1;
/// `535 5.7.8 Authentication credentials invalid` (also for malformed messages).
pub const SASLMECH_SMTP_REPLY_BAD_CREDENTIALS: saslmech_smtp_reply = 2;
/// The authorization identity was refused (by default the same as `BAD_CREDENTIALS`).
pub const SASLMECH_SMTP_REPLY_AUTHZ_DENIED: saslmech_smtp_reply = 3;
/// `525 5.7.13 User account disabled`.
pub const SASLMECH_SMTP_REPLY_ACCOUNT_DISABLED: saslmech_smtp_reply = 4;
/// `501 5.5.2 Invalid base64 data`.
pub const SASLMECH_SMTP_REPLY_INVALID_BASE64: saslmech_smtp_reply = 5;
/// `501 5.7.0 Initial response not allowed for this mechanism`.
pub const SASLMECH_SMTP_REPLY_UNEXPECTED_INITIAL_RESPONSE: saslmech_smtp_reply = 6;
/// `501 5.0.0 Authentication cancelled`.
pub const SASLMECH_SMTP_REPLY_CANCELLED: saslmech_smtp_reply = 7;
/// `504 5.5.4 Unrecognized authentication type`.
pub const SASLMECH_SMTP_REPLY_MECHANISM_UNAVAILABLE: saslmech_smtp_reply = 8;
/// `534 5.7.9 Authentication mechanism is too weak`.
pub const SASLMECH_SMTP_REPLY_MECHANISM_TOO_WEAK: saslmech_smtp_reply = 9;
/// `538 5.7.11 Encryption required for requested authentication mechanism` (RFC 5248's
/// `523 5.7.10 Encryption needed` is the other choice).
pub const SASLMECH_SMTP_REPLY_ENCRYPTION_REQUIRED: saslmech_smtp_reply = 10;
/// `454 4.7.0 Temporary authentication failure`.
pub const SASLMECH_SMTP_REPLY_TEMPORARY_FAILURE: saslmech_smtp_reply = 11;
/// `500 5.5.6 Authentication Exchange line is too long`.
pub const SASLMECH_SMTP_REPLY_LINE_TOO_LONG: saslmech_smtp_reply = 12;
/// `503 5.5.1 Already authenticated`.
pub const SASLMECH_SMTP_REPLY_ALREADY_AUTHENTICATED: saslmech_smtp_reply = 13;
/// `501 5.5.4 Syntax: AUTH mechanism [initial-response]`.
pub const SASLMECH_SMTP_REPLY_SYNTAX: saslmech_smtp_reply = 14;

/// The field of `SmtpReplies` a `saslmech_smtp_reply` names.
fn smtp_reply_field(r: &mut SmtpReplies, which: saslmech_smtp_reply) -> R<&mut String> {
    Ok(match which {
        SASLMECH_SMTP_REPLY_SUCCESS => &mut r.success,
        SASLMECH_SMTP_REPLY_BAD_CREDENTIALS => &mut r.bad_credentials,
        SASLMECH_SMTP_REPLY_AUTHZ_DENIED => &mut r.authz_denied,
        SASLMECH_SMTP_REPLY_ACCOUNT_DISABLED => &mut r.account_disabled,
        SASLMECH_SMTP_REPLY_INVALID_BASE64 => &mut r.invalid_base64,
        SASLMECH_SMTP_REPLY_UNEXPECTED_INITIAL_RESPONSE => &mut r.unexpected_initial_response,
        SASLMECH_SMTP_REPLY_CANCELLED => &mut r.cancelled,
        SASLMECH_SMTP_REPLY_MECHANISM_UNAVAILABLE => &mut r.mechanism_unavailable,
        SASLMECH_SMTP_REPLY_MECHANISM_TOO_WEAK => &mut r.mechanism_too_weak,
        SASLMECH_SMTP_REPLY_ENCRYPTION_REQUIRED => &mut r.encryption_required,
        SASLMECH_SMTP_REPLY_TEMPORARY_FAILURE => &mut r.temporary_failure,
        SASLMECH_SMTP_REPLY_LINE_TOO_LONG => &mut r.line_too_long,
        SASLMECH_SMTP_REPLY_ALREADY_AUTHENTICATED => &mut r.already_authenticated,
        SASLMECH_SMTP_REPLY_SYNTAX => &mut r.syntax,
        _ => return Err(SASLMECH_INVALID_ARGUMENT),
    })
}

// Lives in the boxed handle, where the variants' size difference costs nothing worth a
// second allocation.
#[allow(clippy::large_enum_variant)]
enum ServerAdapter {
    Smtp(SmtpServer),
    Imap(ImapServer),
    Pop3(Pop3Server),
}

impl ServerAdapter {
    fn protocol(&self) -> Protocol {
        match self {
            ServerAdapter::Smtp(_) => Protocol::Smtp,
            ServerAdapter::Imap(_) => Protocol::Imap,
            ServerAdapter::Pop3(_) => Protocol::Pop3,
        }
    }

    fn command(&mut self, line: &[u8]) -> Result<ServerEvent, Error> {
        match self {
            ServerAdapter::Smtp(a) => a.command(line),
            ServerAdapter::Imap(a) => a.command(line),
            ServerAdapter::Pop3(a) => a.command(line),
        }
    }

    fn line(&mut self, line: &[u8]) -> Result<ServerEvent, Error> {
        match self {
            ServerAdapter::Smtp(a) => a.line(line),
            ServerAdapter::Imap(a) => a.line(line),
            ServerAdapter::Pop3(a) => a.line(line),
        }
    }

    fn answer(&mut self, answer: Answer<'_>) -> Result<ServerEvent, Error> {
        match self {
            ServerAdapter::Smtp(a) => a.answer(answer),
            ServerAdapter::Imap(a) => a.answer(answer),
            ServerAdapter::Pop3(a) => a.answer(answer),
        }
    }

    fn set_transport(&mut self, transport: Transport) {
        match self {
            ServerAdapter::Smtp(a) => a.set_transport(transport),
            ServerAdapter::Imap(a) => a.set_transport(transport),
            ServerAdapter::Pop3(a) => a.set_transport(transport),
        }
    }

    fn reset(&mut self) {
        match self {
            ServerAdapter::Smtp(a) => a.reset(),
            ServerAdapter::Imap(a) => a.reset(),
            ServerAdapter::Pop3(a) => a.reset(),
        }
    }

    fn phase(&self) -> Phase {
        match self {
            ServerAdapter::Smtp(a) => a.phase(),
            ServerAdapter::Imap(a) => a.phase(),
            ServerAdapter::Pop3(a) => a.phase(),
        }
    }

    fn identity(&self) -> Option<&AuthIdentity> {
        match self {
            ServerAdapter::Smtp(a) => a.identity(),
            ServerAdapter::Imap(a) => a.identity(),
            ServerAdapter::Pop3(a) => a.identity(),
        }
    }

    fn with_max_line(self, max: usize) -> Self {
        match self {
            ServerAdapter::Smtp(a) => ServerAdapter::Smtp(a.with_max_line(max)),
            ServerAdapter::Imap(a) => ServerAdapter::Imap(a.with_max_line(max)),
            ServerAdapter::Pop3(a) => ServerAdapter::Pop3(a.with_max_line(max)),
        }
    }
}

/// The server side of SMTP AUTH, IMAP AUTHENTICATE or POP3 AUTH for one connection (made by
/// `saslmech_proto_server_new`). Line in, reply bytes out; its requests are answered through
/// the same `saslmech_request` view as an engine session's, now or later. It may be moved between threads but not used by two threads at once.
pub struct saslmech_proto_server {
    /// Always `Some` between calls (taken only to apply a builder method).
    adapter: Option<ServerAdapter>,
    /// What the adapter knows about the connection (TLS, channel binding, external identity).
    transport: Transport,
    /// The SMTP replies in force, once one was changed (SMTP only).
    replies: Option<Box<SmtpReplies>>,
    /// The mechanism the last AUTH command named, if it is one this library implements.
    mechanism: Option<Mechanism>,
    /// What the last call that advanced the adapter produced.
    event: Option<saslmech_event>,
    /// The reply bytes of that event (challenges may carry server secrets' derivatives: wiped).
    reply: SecretBuf,
    /// The pending request, after `SASLMECH_EVENT_REQUEST`.
    request: Option<AuthRequest>,
    /// Why the last exchange failed, after `SASLMECH_EVENT_FAILURE`.
    failure: Option<Failure>,
    /// The views `saslmech_proto_server_request` and `saslmech_proto_server_identity` hand out.
    request_view: saslmech_request,
    identity_view: saslmech_identity,
    poisoned: Poison,
}

impl Handle for saslmech_proto_server {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_proto_server {
    /// The pending request (`SASLMECH_INVALID_STATE` if none).
    fn pending_request(&self) -> R<Pending<'_>> {
        Ok(self.request.as_ref().ok_or(SASLMECH_INVALID_STATE)?.into())
    }

    /// Who authenticated (`SASLMECH_INVALID_STATE` before success).
    fn authenticated_identity(&self) -> R<Authenticated<'_>> {
        let id = self.adapter()?.identity().ok_or(SASLMECH_INVALID_STATE)?;
        Ok(Authenticated {
            authcid: &id.authcid,
            authzid: id.authzid.as_deref(),
            trace: id.trace.as_deref(),
        })
    }

    fn new(adapter: ServerAdapter) -> Self {
        saslmech_proto_server {
            adapter: Some(adapter),
            transport: Transport::plaintext(),
            replies: None,
            mechanism: None,
            event: None,
            reply: SecretBuf::new(),
            request: None,
            failure: None,
            request_view: saslmech_request::unset(),
            identity_view: saslmech_identity::unset(),
            poisoned: Poison::default(),
        }
    }

    /// The adapter. `None` only after a panic inside `rebuild`, which poisons the handle.
    fn adapter(&self) -> R<&ServerAdapter> {
        self.adapter.as_ref().ok_or(SASLMECH_POISONED)
    }

    fn adapter_mut(&mut self) -> R<&mut ServerAdapter> {
        self.adapter.as_mut().ok_or(SASLMECH_POISONED)
    }

    /// Apply a builder method to the adapter (its state is kept).
    fn rebuild(&mut self, f: impl FnOnce(ServerAdapter) -> ServerAdapter) -> R<()> {
        let a = self.adapter.take().ok_or(SASLMECH_POISONED)?;
        self.adapter = Some(f(a));
        Ok(())
    }

    /// Give the adapter a changed transport (which forgets any exchange and authentication).
    fn set_transport(&mut self, transport: Transport) -> R<()> {
        self.adapter_mut()?.set_transport(transport.clone());
        self.transport = transport;
        self.forget()
    }

    /// Forget the exchange's outputs (TLS change, reset).
    fn forget(&mut self) -> R<()> {
        self.mechanism = None;
        self.event = None;
        self.reply.clear();
        self.request = None;
        self.failure = None;
        Ok(())
    }

    /// Record what a call produced; an error changes nothing.
    fn record(&mut self, event: Result<ServerEvent, Error>) -> R<saslmech_event> {
        let event = event.map_err(error_to_c)?;
        self.reply.clear();
        self.request = None;
        self.failure = None;
        let kind = match event {
            ServerEvent::Challenge(r) => {
                self.reply.extend(&r);
                SASLMECH_EVENT_CHALLENGE
            }
            ServerEvent::Request(r) => {
                self.request = Some(r);
                SASLMECH_EVENT_REQUEST
            }
            ServerEvent::Success { reply, .. } => {
                self.reply.extend(&reply);
                SASLMECH_EVENT_SUCCESS
            }
            ServerEvent::Failure { reply, failure } => {
                self.reply.extend(&reply);
                self.failure = Some(failure);
                SASLMECH_EVENT_FAILURE
            }
            ServerEvent::Reply(r) => {
                self.reply.extend(&r);
                SASLMECH_EVENT_REPLY
            }
        };
        self.event = Some(kind);
        Ok(kind)
    }

    fn command(&mut self, line: &[u8]) -> R<saslmech_event> {
        let protocol = self.adapter()?.protocol();
        let r = self.adapter_mut()?.command(line);
        let began = matches!(
            r,
            Ok(ServerEvent::Challenge(_)
                | ServerEvent::Request(_)
                | ServerEvent::Success { .. }
                | ServerEvent::Failure { .. })
        );
        let kind = self.record(r)?;
        if began {
            self.mechanism = command_mechanism(protocol, line);
        }
        Ok(kind)
    }

    fn line(&mut self, line: &[u8]) -> R<saslmech_event> {
        let r = self.adapter_mut()?.line(line);
        self.record(r)
    }

    fn answer_request(&mut self, answer: Answer<'_>) -> R<saslmech_event> {
        let r = self.adapter_mut()?.answer(answer);
        self.record(r)
    }
}

/// The mechanism an AUTH / AUTHENTICATE command line names.
fn command_mechanism(protocol: Protocol, line: &[u8]) -> Option<Mechanism> {
    let line = proto::strip_eol(line);
    let args = match protocol {
        Protocol::Smtp | Protocol::Pop3 => proto::word(line).1,
        Protocol::Imap => proto::word(proto::word(line).1).1,
    };
    Mechanism::from_name(proto::word(args).0)
}

/// Make a server adapter for `protocol` (`SASLMECH_PROTOCOL_*`) for a new connection without
/// TLS, with the configuration's policy (a snapshot, as for `saslmech_server_new`): SMTP AUTH
/// (RFC 4954, RFC 5248's reply codes, configurable with `saslmech_smtp_server_set_reply`),
/// IMAP AUTHENTICATE (RFC 9051, SASL-IR RFC 4959, response codes RFC 5530; replies carry the
/// command's tag) or POP3 AUTH (RFC 5034, response codes RFC 2449 and RFC 3206). Lines up to
/// 12288 octets are accepted (`saslmech_proto_server_set_max_line`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_new(
    config: *const saslmech_server_config,
    protocol: saslmech_protocol,
    out: *mut *mut saslmech_proto_server,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle not being changed; `out` is NULL or
    // writable. The views' owner is written through the fresh raw pointer, before C has it.
    unsafe {
        with_ref(config, |c| {
            nonnull(out)?;
            let config = Arc::clone(&c.config);
            let adapter = match protocol_from_c(protocol)? {
                Protocol::Smtp => ServerAdapter::Smtp(SmtpServer::new(config)),
                Protocol::Imap => ServerAdapter::Imap(ImapServer::new(config)),
                Protocol::Pop3 => ServerAdapter::Pop3(Pop3Server::new(config)),
            };
            let p = Box::into_raw(Box::new(saslmech_proto_server::new(adapter)));
            (*p).request_view = saslmech_request::new(Owner::Adapter(p));
            (*p).identity_view = saslmech_identity::new(Owner::Adapter(p));
            put(out, p);
            Ok(())
        })
    }
}

/// Free a server adapter (NULL is a no-op), wiping what it holds: a pending request's
/// password or token, the last reply.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_free(server: *mut saslmech_proto_server) {
    // SAFETY: the C contract: `server` came from a `saslmech_*_server_new`, freed once.
    unsafe { free(server) }
}

/// Record whether the connection is protected by TLS; call it after the STARTTLS (STLS)
/// handshake. It also forgets any exchange and authentication (RFC 3207 §4.2), any channel
/// binding and external identity given before, and changes which mechanisms may be used (ask
/// `saslmech_server_config_offered` with `SASLMECH_SERVER_TLS`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_set_tls(
    server: *mut saslmech_proto_server,
    tls: bool,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only.
    unsafe {
        with_mut(server, |s| {
            let transport = if tls {
                Transport::tls()
            } else {
                Transport::plaintext()
            };
            s.set_transport(transport)
        })
    }
}

/// Give the adapter the TLS connection's channel-binding data of one type (replacing earlier
/// data of that type), after `saslmech_proto_server_set_tls(server, true)` (else
/// `SASLMECH_INVALID_STATE`): then the SCRAM `-PLUS` mechanisms are offered and usable. Supply
/// every type the TLS layer gives (see `saslmech_server_set_channel_binding`). Like
/// `_set_tls`, it forgets any exchange and authentication.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_set_channel_binding(
    server: *mut saslmech_proto_server,
    kind: saslmech_channel_binding,
    data: *const u8,
    data_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only, `data` is
    // valid for `data_len` bytes.
    unsafe {
        with_mut(server, |s| {
            let data = bytes(data, data_len)?;
            let kind = channel_binding_from_c(kind)?;
            if data.is_empty() {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            if !s.transport.tls {
                return Err(SASLMECH_INVALID_STATE);
            }
            s.set_transport(s.transport.clone().with_channel_binding(kind, data))
        })
    }
}

/// Give the adapter the identity the transport established (a verified TLS client
/// certificate's subject): then EXTERNAL, if enabled, is offered and authenticates as it.
/// UTF-8, not empty. `_set_tls` forgets it, so call this after; like `_set_tls`, it forgets
/// any exchange and authentication.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_set_external_identity(
    server: *mut saslmech_proto_server,
    identity: *const u8,
    identity_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only, `identity`
    // is valid for `identity_len` bytes.
    unsafe {
        with_mut(server, |s| {
            let identity = text(identity, identity_len)?;
            if identity.is_empty() {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            s.set_transport(s.transport.clone().with_external_identity(identity))
        })
    }
}

/// Forget the exchange in progress (a pending request included) and any authentication, as
/// when the connection's state is reset entirely.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_reset(
    server: *mut saslmech_proto_server,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only.
    unsafe {
        with_mut(server, |s| {
            s.adapter_mut()?.reset();
            s.forget()
        })
    }
}

/// The longest line accepted, in octets without CRLF (at least 1; default 12288). A longer
/// line ends the exchange with `SASLMECH_FAILURE_TOO_LARGE` and its reply.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_set_max_line(
    server: *mut saslmech_proto_server,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only.
    unsafe {
        with_mut(server, |s| {
            if max == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            s.rebuild(|a| a.with_max_line(max))
        })
    }
}

/// Replace one of the SMTP adapter's replies (`which`: `SASLMECH_SMTP_*`) with `text`,
/// without CRLF: UTF-8 starting with a reply code and a space (`"535 5.7.8 No"`); CR and LF
/// in it become spaces. `SASLMECH_INVALID_ARGUMENT` for an IMAP or POP3 adapter, an unknown
/// `which`, or text that does not start with a code. Only this adapter changes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_smtp_server_set_reply(
    server: *mut saslmech_proto_server,
    which: saslmech_smtp_reply,
    text: *const u8,
    text_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only; `text` is
    // valid for `text_len` bytes.
    unsafe {
        with_mut(server, |s| {
            let t = self::text(text, text_len)?;
            if s.adapter()?.protocol() != Protocol::Smtp {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let code_ok = matches!(
                t.as_bytes(),
                [b'2'..=b'5', b'0'..=b'9', b'0'..=b'9', b' ', ..]
            );
            if !code_ok {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let replies = s.replies.get_or_insert_with(Box::default);
            t.clone_into(smtp_reply_field(replies, which)?);
            let applied = SmtpReplies::clone(replies);
            s.rebuild(|a| match a {
                ServerAdapter::Smtp(a) => ServerAdapter::Smtp(a.with_replies(applied)),
                other => other,
            })
        })
    }
}

/// Pass a command line from the client (with or without its CRLF): SMTP's and POP3's
/// `AUTH <mechanism> [<initial-response> | =]` (POP3 also a bare `AUTH`), IMAP's
/// `<tag> AUTHENTICATE <mechanism> [<initial-response> | =]`. Writes what happened to
/// `*event`; write `saslmech_proto_server_reply` unless it is `SASLMECH_EVENT_REQUEST`.
///
/// `SASLMECH_INVALID_ARGUMENT` if the line is not that command (handle it yourself);
/// `SASLMECH_INVALID_STATE` during an exchange (`saslmech_proto_server_phase`). What the
/// adapter cannot know stays with the caller: refusing AUTH before EHLO or during a mail
/// transaction, closing the connection after repeated failures.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_command(
    server: *mut saslmech_proto_server,
    line: *const u8,
    len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only; `line` is
    // valid for `len` bytes.
    unsafe {
        with_mut(server, |s| {
            nonnull(event)?;
            let line = bytes(line, len)?;
            put(event, s.command(line)?);
            Ok(())
        })
    }
}

/// Pass a client line during the exchange (`SASLMECH_PHASE_EXCHANGE`): base64, an empty line,
/// or `*` to cancel, with or without its CRLF. A line longer than the limit ends the exchange
/// (`SASLMECH_FAILURE_TOO_LARGE`): a server that cannot buffer a whole overlong line passes
/// the part it has, which is enough to get that reply. `SASLMECH_INVALID_STATE` in any other
/// phase.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_line(
    server: *mut saslmech_proto_server,
    line: *const u8,
    len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only; `line` is
    // valid for `len` bytes.
    unsafe {
        with_mut(server, |s| {
            nonnull(event)?;
            let line = bytes(line, len)?;
            put(event, s.line(line)?);
            Ok(())
        })
    }
}

/// Where the adapter stands (which call takes the next line).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_phase(
    server: *const saslmech_proto_server,
    phase: *mut saslmech_phase,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(phase)?;
            let p = match s.adapter()?.phase() {
                Phase::Idle => saslmech_phase::SASLMECH_PHASE_IDLE,
                Phase::Exchange => saslmech_phase::SASLMECH_PHASE_EXCHANGE,
                Phase::Request => saslmech_phase::SASLMECH_PHASE_REQUEST,
                Phase::Authenticated => saslmech_phase::SASLMECH_PHASE_AUTHENTICATED,
            };
            put(phase, p);
            Ok(())
        })
    }
}

/// The event the last call that advanced the adapter produced (for a connection parked in an
/// event loop). `SASLMECH_INVALID_STATE` before the first, and after `_set_tls` or `_reset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_event(
    server: *const saslmech_proto_server,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(event)?;
            put(event, s.event.ok_or(SASLMECH_INVALID_STATE)?);
            Ok(())
        })
    }
}

/// The bytes to write to the client for the last event, CRLF included (POP3's mechanism list
/// is several lines). `SASLMECH_INVALID_STATE` after `SASLMECH_EVENT_REQUEST` (nothing to
/// write) or before any event. Valid until the next non-const call on this adapter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_reply(
    server: *const saslmech_proto_server,
    reply: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(reply)?;
            nonnull(len)?;
            match s.event {
                None | Some(SASLMECH_EVENT_REQUEST) => return Err(SASLMECH_INVALID_STATE),
                Some(_) => put_bytes(reply, len, s.reply.as_slice()),
            }
            Ok(())
        })
    }
}

/// Why the exchange failed, after `SASLMECH_EVENT_FAILURE` (else `SASLMECH_INVALID_STATE`):
/// for logs and for counting failed attempts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_failure(
    server: *const saslmech_proto_server,
    failure: *mut saslmech_failure,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(failure)?;
            put(
                failure,
                failure_to_c(s.failure.ok_or(SASLMECH_INVALID_STATE)?),
            );
            Ok(())
        })
    }
}

/// The mechanism the last AUTH command that began an exchange named; it stays while the
/// client is authenticated. `SASLMECH_ABSENT` if none did (or its name is not a mechanism
/// this library implements).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_mechanism(
    server: *const saslmech_proto_server,
    mechanism: *mut saslmech_mechanism,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(mechanism)?;
            let m = s.mechanism.ok_or(SASLMECH_ABSENT)?;
            put(mechanism, mechanism_to_c(m).0);
            Ok(())
        })
    }
}

/// The pending request and its kind (`SASLMECH_REQUEST_*`), after `SASLMECH_EVENT_REQUEST`
/// (else `SASLMECH_INVALID_STATE`): the same view an engine session gives
/// (`saslmech_request_*`), answered with one `saslmech_request_answer*` call, after which
/// `saslmech_proto_server_event` says what to write (the reply, unless it is another request).
/// The view is part of the adapter: it is never freed and stays usable until the adapter is
/// freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_request(
    server: *mut saslmech_proto_server,
    request: *mut *mut saslmech_request,
    kind: *mut saslmech_request_kind,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not used by another thread. The view's
    // address is taken from the raw pointer (no reference), inside the handle's allocation.
    unsafe {
        with_ref(server.cast_const(), |s| {
            nonnull(request)?;
            nonnull(kind)?;
            let k = s.pending_request()?.kind;
            put(request, core::ptr::addr_of_mut!((*server).request_view));
            put(kind, k);
            Ok(())
        })
    }
}

/// Who authenticated, while the adapter is in `SASLMECH_PHASE_AUTHENTICATED` (else
/// `SASLMECH_INVALID_STATE`): the same view an engine session gives (`saslmech_identity_*`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_identity(
    server: *const saslmech_proto_server,
    identity: *mut *const saslmech_identity,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed. The view's address
    // is taken from the raw pointer (no reference), inside the handle's allocation.
    unsafe {
        with_ref(server, |s| {
            nonnull(identity)?;
            s.authenticated_identity()?;
            put(identity, core::ptr::addr_of!((*server).identity_view));
            Ok(())
        })
    }
}

impl Exchange for saslmech_proto_server {
    fn pending(&self) -> R<Pending<'_>> {
        self.pending_request()
    }

    fn authenticated(&self) -> R<Authenticated<'_>> {
        self.authenticated_identity()
    }

    fn answer(&mut self, answer: Answer<'_>) -> R<()> {
        self.answer_request(answer).map(|_| ())
    }
}
