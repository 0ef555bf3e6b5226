//! `saslmech_server`: one server-side exchange of the engine, for an application that frames
//! the protocol itself (or speaks one the adapters do not). Its pending request and the
//! authenticated identity are views (`request.rs`) shared with the protocol adapters.

use std::sync::Arc;

use super::enums::*;
use super::panic::*;
use super::request::{
    Authenticated, Exchange, Owner, Pending, saslmech_identity, saslmech_request,
};
use super::server_config::saslmech_server_config;
use crate::mechanism::Mechanism;
use crate::server::{Kind, Op};
use crate::{Answer, Failure, ServerConfig, ServerSession, Transport};

/// One server-side authentication exchange. It may be moved between threads (for example
/// parked while a lookup runs elsewhere) but not used by two threads at once.
pub struct saslmech_server {
    config: Arc<ServerConfig>,
    mechanism: Mechanism,
    transport: Transport,
    base64: bool,
    /// Made by `start`, where the policy is checked.
    session: Option<ServerSession>,
    /// A failure without a session (policy refused at start, or cancelled before it).
    ended: Option<Failure>,
    /// What the last call that advanced the exchange produced. The challenge or success data
    /// that came with it stays in the session (`ServerSession::last_message`): never copied.
    status: Option<saslmech_status>,
    /// The views `saslmech_server_request` and `saslmech_server_identity` hand out.
    request: saslmech_request,
    identity: saslmech_identity,
    poisoned: Poison,
}

impl Handle for saslmech_server {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_server {
    fn session(&self) -> R<&ServerSession> {
        self.session.as_ref().ok_or(SASLMECH_INVALID_STATE)
    }

    /// The pending request (`SASLMECH_INVALID_STATE` if none).
    pub(crate) fn pending(&self) -> R<Pending<'_>> {
        Ok(self
            .session()?
            .request()
            .ok_or(SASLMECH_INVALID_STATE)?
            .into())
    }

    /// Who authenticated (`SASLMECH_INVALID_STATE` before success).
    fn authenticated(&self) -> R<Authenticated<'_>> {
        let session = self.session()?;
        let id = session.identity().ok_or(SASLMECH_INVALID_STATE)?;
        Ok(Authenticated {
            authcid: id.authcid(),
            authzid: id.authzid(),
            trace: session.anonymous_trace(),
        })
    }

    fn start(&mut self, ir: Option<&[u8]>) -> R<saslmech_status> {
        if self.session.is_some() || self.ended.is_some() {
            return Err(SASLMECH_INVALID_STATE);
        }
        let status = match ServerSession::new(&self.config, self.mechanism, &self.transport) {
            Err(f) => {
                self.ended = Some(f);
                SASLMECH_STATUS_FAILURE
            }
            Ok(session) => {
                let session = self.session.insert(session);
                match session.run(Op::Start(ir), self.base64) {
                    Ok(kind) => classify(kind),
                    Err(e) => {
                        // Nothing started: as before the call.
                        self.session = None;
                        return Err(error_to_c(e));
                    }
                }
            }
        };
        self.status = Some(status);
        Ok(status)
    }

    fn step(&mut self, response: &[u8]) -> R<saslmech_status> {
        self.run(Op::Step(response))
    }

    fn run(&mut self, op: Op<'_>) -> R<saslmech_status> {
        let session = self.session.as_mut().ok_or(SASLMECH_INVALID_STATE)?;
        let status = classify(session.run(op, self.base64).map_err(error_to_c)?);
        self.status = Some(status);
        Ok(status)
    }

    fn cancel(&mut self) -> R<saslmech_status> {
        if self.ended.is_some() {
            return Err(SASLMECH_INVALID_STATE);
        }
        match self.session.as_mut() {
            Some(session) => {
                session.cancel().map_err(error_to_c)?;
            }
            None => self.ended = Some(Failure::Cancelled),
        }
        self.status = Some(SASLMECH_STATUS_FAILURE);
        Ok(SASLMECH_STATUS_FAILURE)
    }
}

/// The status of a step (its bytes stay in the session).
fn classify(kind: Kind) -> saslmech_status {
    match kind {
        Kind::Challenge(_) => SASLMECH_STATUS_CHALLENGE,
        Kind::Request => SASLMECH_STATUS_REQUEST,
        Kind::Success => SASLMECH_STATUS_SUCCESS,
        Kind::Failure(_) => SASLMECH_STATUS_FAILURE,
    }
}

/// Make a server session for `mechanism` on a connection described by `flags`
/// (`SASLMECH_SERVER_*` bits). The session keeps its own reference to the configuration.
///
/// The policy (is the mechanism offered, strong enough, allowed without TLS?) is checked by
/// `saslmech_server_start`, which reports a refusal as `SASLMECH_STATUS_FAILURE` like any other
/// failure; `saslmech_server_config_check` asks beforehand.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_new(
    config: *const saslmech_server_config,
    mechanism: saslmech_mechanism,
    flags: saslmech_server_flags,
    out: *mut *mut saslmech_server,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle not being changed; `out` is NULL
    // (refused) or writable. The views are written through `p`, fresh from `Box::into_raw`,
    // while no reference to the new handle exists, before C has it.
    unsafe {
        with_ref(config, |c| {
            nonnull(out)?;
            let mechanism = mechanism_from_c(mechanism)?;
            if flags & !SERVER_FLAGS != 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let transport = if flags & SASLMECH_SERVER_TLS != 0 {
                Transport::tls()
            } else {
                Transport::plaintext()
            };
            let h = saslmech_server {
                config: Arc::clone(&c.config),
                mechanism,
                transport: transport.with_success_data(flags & SASLMECH_SERVER_SUCCESS_DATA != 0),
                base64: flags & SASLMECH_SERVER_BASE64 != 0,
                session: None,
                ended: None,
                status: None,
                request: saslmech_request::unset(),
                identity: saslmech_identity::unset(),
                poisoned: Poison::default(),
            };
            let p = Box::into_raw(Box::new(h));
            // The views point back at the handle that holds them; written through the raw
            // pointer, so that they share its provenance.
            (*p).request = saslmech_request::new(Owner::Server(p));
            (*p).identity = saslmech_identity::new(Owner::Server(p));
            put(out, p);
            Ok(())
        })
    }
}

/// Free a server session (NULL is a no-op), wiping everything it holds: received passwords,
/// tokens, challenges.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_free(server: *mut saslmech_server) {
    // SAFETY: the C contract: `server` came from `saslmech_server_new`, freed once.
    unsafe { free(server) }
}

/// Give the session the TLS connection's channel-binding data of one type (replacing earlier
/// data of that type), between `saslmech_server_new` and the start: supply every type the TLS
/// layer can give (`SASLMECH_CB_TLS_EXPORTER` on TLS 1.3, `_TLS_SERVER_END_POINT`, and
/// `_TLS_UNIQUE` only on TLS 1.2 or older). The SCRAM `-PLUS` mechanisms need it; with it
/// plain SCRAM refuses a client that claims the server offers no `-PLUS` (a downgrade). Only
/// with `SASLMECH_SERVER_TLS` (else `SASLMECH_INVALID_STATE`); after the start,
/// `SASLMECH_INVALID_STATE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_set_channel_binding(
    server: *mut saslmech_server,
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
            if s.session.is_some() || s.ended.is_some() || !s.transport.tls {
                return Err(SASLMECH_INVALID_STATE);
            }
            s.transport = s.transport.clone().with_channel_binding(kind, data);
            Ok(())
        })
    }
}

/// Give the session the identity the transport established (the subject of a verified TLS
/// client certificate, a local peer's user name), between `saslmech_server_new` and the
/// start: EXTERNAL authenticates as it. UTF-8, not empty. After the start,
/// `SASLMECH_INVALID_STATE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_set_external_identity(
    server: *mut saslmech_server,
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
            if s.session.is_some() || s.ended.is_some() {
                return Err(SASLMECH_INVALID_STATE);
            }
            s.transport = s.transport.clone().with_external_identity(identity);
            Ok(())
        })
    }
}

/// The session's mechanism.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_mechanism(
    server: *const saslmech_server,
    out: *mut saslmech_mechanism,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(out)?;
            put(out, mechanism_to_c(s.mechanism).0);
            Ok(())
        })
    }
}

/// Start the exchange with the client's initial response, or without one if
/// `initial_response` is NULL (`len` is then ignored). An initial response may be empty
/// (`len` 0: SMTP, IMAP and POP3 send it as `=`; pass the empty string, not `"="`), which
/// differs from none. In base64 mode the response is base64 text. Writes what comes next to
/// `*status`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_start(
    server: *mut saslmech_server,
    initial_response: *const u8,
    len: usize,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only; the initial
    // response is NULL or valid for `len` bytes.
    unsafe {
        with_mut(server, |s| {
            nonnull(status)?;
            let ir = opt_bytes(initial_response, len)?;
            put(status, s.start(ir)?);
            Ok(())
        })
    }
}

/// Pass the client's response to the last challenge (base64 text in base64 mode; `len` may be
/// 0). Writes what comes next to `*status`. Input over the configured limit, invalid base64 or
/// a malformed message end the exchange with `SASLMECH_STATUS_FAILURE`; a call when no
/// challenge is outstanding is `SASLMECH_INVALID_STATE` and changes nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_step(
    server: *mut saslmech_server,
    response: *const u8,
    len: usize,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only, `response`
    // is valid for `len` bytes.
    unsafe {
        with_mut(server, |s| {
            nonnull(status)?;
            let response = bytes(response, len)?;
            put(status, s.step(response)?);
            Ok(())
        })
    }
}

/// The client cancelled (`*`): ends the exchange with `SASLMECH_FAILURE_CANCELLED` and writes
/// `SASLMECH_STATUS_FAILURE`. `SASLMECH_INVALID_STATE` once the exchange has ended.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_cancel(
    server: *mut saslmech_server,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle used by this thread only.
    unsafe {
        with_mut(server, |s| {
            nonnull(status)?;
            put(status, s.cancel()?);
            Ok(())
        })
    }
}

/// The status the last call that advanced the exchange produced (for a session parked in an
/// event loop). `SASLMECH_INVALID_STATE` before start.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_status(
    server: *const saslmech_server,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(status)?;
            put(status, s.status.ok_or(SASLMECH_INVALID_STATE)?);
            Ok(())
        })
    }
}

/// The bytes to send with the status the last call produced: after
/// `SASLMECH_STATUS_CHALLENGE` the challenge (base64 text in base64 mode; may be empty: SMTP
/// then sends `334 ` with the space), after `SASLMECH_STATUS_SUCCESS` the data to send with
/// the success reply (only on a transport with `SASLMECH_SERVER_SUCCESS_DATA`; base64 in
/// base64 mode), `SASLMECH_ABSENT` if there is none. `SASLMECH_INVALID_STATE` after any other
/// status. Valid until the next non-const call on this session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_message(
    server: *const saslmech_server,
    message: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(message)?;
            nonnull(len)?;
            let last = s.session()?.last_message();
            let bytes = match s.status {
                Some(SASLMECH_STATUS_CHALLENGE) => last.unwrap_or_default(),
                Some(SASLMECH_STATUS_SUCCESS) => last.ok_or(SASLMECH_ABSENT)?,
                _ => return Err(SASLMECH_INVALID_STATE),
            };
            put_bytes(message, len, bytes);
            Ok(())
        })
    }
}

/// The pending request and its kind (`SASLMECH_REQUEST_*`), after `SASLMECH_STATUS_REQUEST`
/// (else `SASLMECH_INVALID_STATE`): a view into the session (`saslmech_request_*`), answered
/// with one `saslmech_request_answer*` call. Taken from a non-const session because answering
/// it changes the session. The view is part of the session: it is never freed and stays
/// usable until the session is freed, always meaning the request pending at the time of the
/// call (none: `SASLMECH_INVALID_STATE`); what its accessors return is valid until the next
/// non-const call on the session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_request(
    server: *mut saslmech_server,
    request: *mut *mut saslmech_request,
    kind: *mut saslmech_request_kind,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not used by another thread. The view's
    // address is taken from the raw pointer (no reference), inside the handle's allocation.
    unsafe {
        with_ref(server.cast_const(), |s| {
            nonnull(request)?;
            nonnull(kind)?;
            let k = s.pending()?.kind;
            put(request, core::ptr::addr_of_mut!((*server).request));
            put(kind, k);
            Ok(())
        })
    }
}

/// Why the exchange failed, after `SASLMECH_STATUS_FAILURE` (else `SASLMECH_INVALID_STATE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_failure(
    server: *const saslmech_server,
    failure: *mut saslmech_failure,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(failure)?;
            let f = s
                .ended
                .or_else(|| s.session.as_ref().and_then(ServerSession::failure))
                .ok_or(SASLMECH_INVALID_STATE)?;
            put(failure, failure_to_c(f));
            Ok(())
        })
    }
}

/// Who authenticated, after `SASLMECH_STATUS_SUCCESS` (else `SASLMECH_INVALID_STATE`): a view
/// into the session (`saslmech_identity_*`), valid until the session is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_identity(
    server: *const saslmech_server,
    identity: *mut *const saslmech_identity,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed. The view's address
    // is taken from the raw pointer (no reference), inside the handle's allocation.
    unsafe {
        with_ref(server, |s| {
            nonnull(identity)?;
            s.authenticated()?;
            put(identity, core::ptr::addr_of!((*server).identity));
            Ok(())
        })
    }
}

impl Exchange for saslmech_server {
    fn pending(&self) -> R<Pending<'_>> {
        saslmech_server::pending(self)
    }

    fn authenticated(&self) -> R<Authenticated<'_>> {
        saslmech_server::authenticated(self)
    }

    fn answer(&mut self, answer: Answer<'_>) -> R<()> {
        self.run(Op::Answer(answer)).map(|_| ())
    }
}
