//! `saslmech_request` and `saslmech_identity`: the pending request, its answers, and who
//! authenticated — one family of functions for both server handles. An engine session
//! (`saslmech_server_request`, `saslmech_server_identity`) and a protocol adapter
//! (`saslmech_proto_server_request`, `saslmech_proto_server_identity`) hand out the same
//! views, so each accessor and each answer exists once.
//!
//! A view lives inside the handle that hands it out and points back at it: it needs no
//! `_free`, and every call on it runs inside that handle's panic boundary and poison state.

use super::enums::*;
use super::keys::{saslmech_scram_keys, scram_keys_ref};
use super::panic::*;
use super::proto_server::saslmech_proto_server;
use super::server::saslmech_server;
use crate::proto::AuthRequest;
use crate::{Answer, CramMd5Keys, Request, TokenError};

/// The handle a view belongs to.
#[derive(Clone, Copy)]
pub(crate) enum Owner {
    Server(*mut saslmech_server),
    Adapter(*mut saslmech_proto_server),
}

/// What both server handles offer the views: the pending request, who authenticated, and
/// taking an answer.
pub(crate) trait Exchange {
    /// The pending request (`SASLMECH_INVALID_STATE` if none).
    fn pending(&self) -> R<Pending<'_>>;
    /// Who authenticated (`SASLMECH_INVALID_STATE` before success).
    fn authenticated(&self) -> R<Authenticated<'_>>;
    /// Answer the pending request; the handle records what comes next.
    fn answer(&mut self, answer: Answer<'_>) -> R<()>;
}

/// A server handle's pending request (borrowed: from `saslmech_server_request` or
/// `saslmech_proto_server_request`, which also give its kind; never freed). Read it with the
/// `saslmech_request_*` accessors and answer it with one `saslmech_request_answer*` call; the handle's status
/// (`saslmech_server_status`) or event (`saslmech_proto_server_event`) then says what comes
/// next.
pub struct saslmech_request {
    owner: Owner,
}

/// Who authenticated on a server handle (borrowed: from `saslmech_server_identity` or
/// `saslmech_proto_server_identity`; never freed).
pub struct saslmech_identity {
    owner: Owner,
}

// SAFETY: a view's pointer refers to the handle that contains the view, so the two always
// move between threads together, and the pointer is dereferenced only by calls on the view,
// which the C contract confines to the thread using the handle.
unsafe impl Send for saslmech_request {}
// SAFETY: as for `saslmech_request`.
unsafe impl Send for saslmech_identity {}

impl saslmech_request {
    /// A view that is not yet attached (replaced before the handle reaches C).
    pub(crate) fn unset() -> Self {
        saslmech_request {
            owner: Owner::Server(core::ptr::null_mut()),
        }
    }

    pub(crate) fn new(owner: Owner) -> Self {
        saslmech_request { owner }
    }
}

impl saslmech_identity {
    /// A view that is not yet attached (replaced before the handle reaches C).
    pub(crate) fn unset() -> Self {
        saslmech_identity {
            owner: Owner::Server(core::ptr::null_mut()),
        }
    }

    pub(crate) fn new(owner: Owner) -> Self {
        saslmech_identity { owner }
    }
}

/// Run `f` on the handle `owner` names, read-only, inside its panic boundary.
///
/// # Safety
/// The owner is NULL or a live handle not being changed.
unsafe fn read(owner: Owner, f: impl FnOnce(&dyn Exchange) -> R<()>) -> saslmech_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        match owner {
            Owner::Server(p) => with_ref(p.cast_const(), |s| f(s)),
            Owner::Adapter(p) => with_ref(p.cast_const(), |s| f(s)),
        }
    }
}

/// Run `f` on the handle `owner` names, mutably, inside its panic boundary.
///
/// # Safety
/// The owner is NULL or a live handle used by this thread only.
unsafe fn change(owner: Owner, f: impl FnOnce(&mut dyn Exchange) -> R<()>) -> saslmech_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        match owner {
            Owner::Server(p) => with_mut(p, |s| f(s)),
            Owner::Adapter(p) => with_mut(p, |s| f(s)),
        }
    }
}

/// The owner of a request view.
///
/// # Safety
/// `request` is NULL or a view handed out by a live handle.
unsafe fn request_owner(request: *const saslmech_request) -> Option<Owner> {
    // SAFETY: guaranteed by the caller; the reference ends before the owner is used.
    unsafe { request.as_ref() }.map(|r| r.owner)
}

/// Which part of the pending request (or of the identity) an accessor wants.
#[derive(Clone, Copy)]
enum Part {
    Authcid,
    Authzid,
    Password,
    Token,
    Host,
    Effective,
    Trace,
}

/// A pending request as the C accessors see it, whether the engine's session ([`Request`])
/// or a protocol adapter ([`AuthRequest`]) holds it: one place decides which part each kind
/// of request has.
pub(crate) struct Pending<'a> {
    pub(crate) kind: saslmech_request_kind,
    /// The authcid; for a token request, the user the client names.
    user: &'a str,
    authzid: Option<&'a str>,
    password: Option<&'a [u8]>,
    token: Option<&'a [u8]>,
    host: Option<&'a str>,
    port: Option<u16>,
}

impl<'a> Pending<'a> {
    fn new(kind: saslmech_request_kind, user: &'a str) -> Self {
        Pending {
            kind,
            user,
            authzid: None,
            password: None,
            token: None,
            host: None,
            port: None,
        }
    }

    /// The part's bytes: `Ok(None)` if this request may have it but does not (absent),
    /// `SASLMECH_INVALID_STATE` if this kind of request never has it.
    fn part(&self, part: Part) -> R<Option<&'a [u8]>> {
        use saslmech_request_kind::*;
        let token_request = self.kind == SASLMECH_REQUEST_VALIDATE_TOKEN;
        Ok(match part {
            Part::Authcid => Some(self.user.as_bytes()),
            Part::Authzid => self.authzid.map(str::as_bytes),
            Part::Password if self.kind == SASLMECH_REQUEST_VERIFY_PASSWORD => self.password,
            Part::Token if token_request => self.token,
            Part::Host if token_request => self.host.map(str::as_bytes),
            Part::Password | Part::Token | Part::Host | Part::Effective | Part::Trace => {
                return Err(SASLMECH_INVALID_STATE);
            }
        })
    }

    fn port(&self) -> R<u16> {
        if self.kind != saslmech_request_kind::SASLMECH_REQUEST_VALIDATE_TOKEN {
            return Err(SASLMECH_INVALID_STATE);
        }
        self.port.ok_or(SASLMECH_ABSENT)
    }
}

impl<'a> From<Request<'a>> for Pending<'a> {
    fn from(r: Request<'a>) -> Self {
        use saslmech_request_kind::*;
        match r {
            Request::VerifyPassword(r) => Pending {
                authzid: r.authzid(),
                password: Some(r.password()),
                ..Pending::new(SASLMECH_REQUEST_VERIFY_PASSWORD, r.authcid())
            },
            Request::Secret(r) => Pending::new(SASLMECH_REQUEST_SECRET, r.authcid()),
            Request::ValidateToken(r) => Pending {
                authzid: r.authzid(),
                token: Some(r.token()),
                host: r.host(),
                port: r.port(),
                ..Pending::new(SASLMECH_REQUEST_VALIDATE_TOKEN, r.user())
            },
            Request::Authorize(r) => Pending {
                authzid: Some(r.authzid()),
                ..Pending::new(SASLMECH_REQUEST_AUTHORIZE, r.authcid())
            },
            #[cfg(feature = "gssapi")]
            Request::Principal(r) => Pending {
                authzid: r.authzid(),
                ..Pending::new(SASLMECH_REQUEST_PRINCIPAL, r.principal())
            },
        }
    }
}

impl<'a> From<&'a AuthRequest> for Pending<'a> {
    fn from(r: &'a AuthRequest) -> Self {
        use saslmech_request_kind::*;
        match r {
            AuthRequest::VerifyPassword {
                authcid,
                authzid,
                password,
                ..
            } => Pending {
                authzid: authzid.as_deref(),
                password: Some(password.as_slice()),
                ..Pending::new(SASLMECH_REQUEST_VERIFY_PASSWORD, authcid)
            },
            AuthRequest::Secret { authcid, .. } => Pending::new(SASLMECH_REQUEST_SECRET, authcid),
            AuthRequest::ValidateToken {
                user,
                token,
                authzid,
                host,
                port,
                ..
            } => Pending {
                authzid: authzid.as_deref(),
                token: Some(token.as_slice()),
                host: host.as_deref(),
                port: *port,
                ..Pending::new(SASLMECH_REQUEST_VALIDATE_TOKEN, user)
            },
            AuthRequest::Authorize {
                authcid, authzid, ..
            } => Pending {
                authzid: Some(authzid),
                ..Pending::new(SASLMECH_REQUEST_AUTHORIZE, authcid)
            },
            #[cfg(feature = "gssapi")]
            AuthRequest::Principal {
                principal, authzid, ..
            } => Pending {
                authzid: authzid.as_deref(),
                ..Pending::new(SASLMECH_REQUEST_PRINCIPAL, principal)
            },
        }
    }
}

/// Who authenticated, as the C accessors see it (engine session or protocol adapter).
pub(crate) struct Authenticated<'a> {
    pub(crate) authcid: &'a str,
    pub(crate) authzid: Option<&'a str>,
    pub(crate) trace: Option<&'a str>,
}

impl<'a> Authenticated<'a> {
    fn part(&self, part: Part) -> R<Option<&'a [u8]>> {
        Ok(match part {
            Part::Authcid => Some(self.authcid.as_bytes()),
            Part::Authzid => self.authzid.map(str::as_bytes),
            Part::Trace => self.trace.map(str::as_bytes),
            Part::Effective => Some(self.authzid.unwrap_or(self.authcid).as_bytes()),
            Part::Password | Part::Token | Part::Host => return Err(SASLMECH_INVALID_STATE),
        })
    }
}

// ---- The pending request -------------------------------------------------------------------

/// # Safety
/// The C contract: `request` is NULL or a view of a live handle not being changed.
unsafe fn request_part(
    request: *const saslmech_request,
    part: Part,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe {
        let Some(owner) = request_owner(request) else {
            return SASLMECH_NULL_ARGUMENT;
        };
        read(owner, |s| put_part(p, n, || s.pending()?.part(part)))
    }
}

/// The user the pending request is about: the authentication identity (for a token request,
/// the user the client names, possibly empty: OAUTHBEARER without `a=`). UTF-8, not
/// NUL-terminated; valid until the next non-const call on the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_authcid(
    request: *const saslmech_request,
    authcid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { request_part(request, Part::Authcid, authcid, len) }
}

/// The authorization identity of a password, token (OAUTHBEARER's GS2 header) or authorize
/// request; `SASLMECH_ABSENT` if the client asked for none (or the request kind has none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_authzid(
    request: *const saslmech_request,
    authzid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { request_part(request, Part::Authzid, authzid, len) }
}

/// The password the client sent, for `SASLMECH_REQUEST_VERIFY_PASSWORD` (else
/// `SASLMECH_INVALID_STATE`). Compare it in constant time (`saslmech_ct_eq_password`), or let
/// the library do it with `saslmech_request_answer_password`. Never log it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_password(
    request: *const saslmech_request,
    password: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { request_part(request, Part::Password, password, len) }
}

/// The bearer token, for `SASLMECH_REQUEST_VALIDATE_TOKEN` (else `SASLMECH_INVALID_STATE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_token(
    request: *const saslmech_request,
    token: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { request_part(request, Part::Token, token, len) }
}

/// OAUTHBEARER: the `host` the client says it connected to, for a token request
/// (`SASLMECH_ABSENT` if it did not say; `SASLMECH_INVALID_STATE` for other requests).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_host(
    request: *const saslmech_request,
    host: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { request_part(request, Part::Host, host, len) }
}

/// OAUTHBEARER: the `port` the client says it connected to, for a token request
/// (`SASLMECH_ABSENT` if it did not say; `SASLMECH_INVALID_STATE` for other requests).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_port(
    request: *const saslmech_request,
    port: *mut u16,
) -> saslmech_result {
    // SAFETY: the C contract: `request` is NULL or a view of a live handle not being changed.
    unsafe {
        let Some(owner) = request_owner(request) else {
            return SASLMECH_NULL_ARGUMENT;
        };
        read(owner, |s| {
            nonnull(port)?;
            put(port, s.pending()?.port()?);
            Ok(())
        })
    }
}

// ---- Answers -------------------------------------------------------------------------------

/// Answer the pending request with what `make` builds from C's arguments.
///
/// # Safety
/// The C contract: `request` is NULL or a view of a live handle used by this thread only.
unsafe fn answer(
    request: *mut saslmech_request,
    make: impl FnOnce(&mut dyn Exchange) -> R<()>,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe {
        let Some(owner) = request_owner(request) else {
            return SASLMECH_NULL_ARGUMENT;
        };
        change(owner, make)
    }
}

/// Answer the pending request with a verdict (`SASLMECH_VERDICT_*`): accept a password the
/// application checked, or an authorization; reject; unknown user; account disabled;
/// temporary failure. Then the handle's status (`saslmech_server_status`) or event
/// (`saslmech_proto_server_event`) says what comes next: another request, a challenge, the
/// success or the failure. For every `saslmech_request_answer*` call: an answer that does not
/// fit the request is `SASLMECH_WRONG_ANSWER` and leaves it pending (a bare accept of a token
/// is one: answer a valid token with `saslmech_request_answer_token_owner`); with no request
/// pending, `SASLMECH_INVALID_STATE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_answer(
    request: *mut saslmech_request,
    verdict: saslmech_verdict,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { answer(request, |s| s.answer(verdict_from_c(verdict)?)) }
}

/// The stored plaintext password, for the library to compare in constant time (password
/// requests) or to verify the CRAM-MD5 digest or run SCRAM with (secret requests).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_answer_password(
    request: *mut saslmech_request,
    password: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `password` is valid for `len` bytes; `request` forwarded.
    unsafe {
        answer(request, |s| {
            s.answer(Answer::Password(bytes(password, len)?))
        })
    }
}

/// CRAM-MD5's precomputed key state (`SASLMECH_CRAM_MD5_KEYS_LEN` bytes, from
/// `saslmech_cram_md5_keys_from_password` or `_from_dovecot`), for a secret request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_answer_cram_md5_keys(
    request: *mut saslmech_request,
    keys: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is valid for `len` bytes; `request` forwarded.
    unsafe {
        answer(request, |s| {
            let keys = bytes(keys, len)?;
            let keys = <&[u8; 32]>::try_from(keys).map_err(|_| SASLMECH_INVALID_ARGUMENT)?;
            let keys = CramMd5Keys::from_bytes(keys); // wiped when dropped
            s.answer(Answer::CramMd5Keys(&keys))
        })
    }
}

/// SCRAM's stored keys (`saslmech_scram_keys_*`), for a secret request from a SCRAM
/// mechanism: the keys' hash must be the mechanism's (else `SASLMECH_WRONG_ANSWER`). The
/// keys are copied; free them whenever convenient.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_answer_scram_keys(
    request: *mut saslmech_request,
    keys: *const saslmech_scram_keys,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is NULL or a live handle not being changed; `request`
    // forwarded.
    unsafe {
        answer(request, |s| {
            s.answer(Answer::ScramKeys(scram_keys_ref(keys)?))
        })
    }
}

/// XOAUTH2, OAUTHBEARER: the token is valid and belongs to `user` (UTF-8) — the only way to
/// accept a token. The engine compares `user` with the identity the client asked for (the
/// user XOAUTH2 names, OAUTHBEARER's `a=`): the same, or none asked, is a success as `user`;
/// a different one is followed by a `SASLMECH_REQUEST_AUTHORIZE` request. GSSAPI, GS2-KRB5
/// (`SASLMECH_REQUEST_PRINCIPAL`): the principal maps to the local user `user`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_answer_token_owner(
    request: *mut saslmech_request,
    user: *const u8,
    user_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `user` is valid for `user_len` bytes; `request` forwarded.
    unsafe {
        answer(request, |s| {
            let user = text(user, user_len)?;
            let result = s.answer(Answer::TokenOwner(user));
            // A refused answer changes nothing: a principal request takes the user instead.
            #[cfg(feature = "gssapi")]
            if result == Err(SASLMECH_WRONG_ANSWER) {
                return s.answer(Answer::User(user));
            }
            result
        })
    }
}

/// The token is invalid: send an error challenge with this `status` (XOAUTH2: an HTTP code such
/// as `"401"`; OAUTHBEARER: RFC 6750's error code such as `"invalid_token"`) and, unless
/// `scope` is NULL (`scope_len` is then ignored), the scope the token needs; then fail. UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_request_answer_token_error(
    request: *mut saslmech_request,
    status: *const u8,
    status_len: usize,
    scope: *const u8,
    scope_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `status` is valid for `status_len` bytes, `scope` NULL or valid
    // for `scope_len`; `request` forwarded.
    unsafe {
        answer(request, |s| {
            let scope = match opt_bytes(scope, scope_len)? {
                Some(b) => Some(core::str::from_utf8(b).map_err(|_| SASLMECH_INVALID_UTF8)?),
                None => None,
            };
            let e = TokenError {
                status: text(status, status_len)?,
                scope,
            };
            s.answer(Answer::TokenError(e))
        })
    }
}

// ---- Who authenticated ---------------------------------------------------------------------

/// # Safety
/// The C contract: `identity` is NULL or a view of a live handle not being changed.
unsafe fn identity_part(
    identity: *const saslmech_identity,
    part: Part,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract; the reference to the view ends before the owner is used.
    unsafe {
        let Some(owner) = identity.as_ref().map(|i| i.owner) else {
            return SASLMECH_NULL_ARGUMENT;
        };
        read(owner, |s| put_part(p, n, || s.authenticated()?.part(part)))
    }
}

/// The authentication identity: who proved it knows the credentials. UTF-8, not
/// NUL-terminated; valid until the next non-const call on the handle. `SASLMECH_INVALID_STATE`
/// once the handle no longer holds an authenticated identity (an adapter after `_reset`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_identity_authcid(
    identity: *const saslmech_identity,
    authcid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { identity_part(identity, Part::Authcid, authcid, len) }
}

/// The authorization identity the client asked to act as (and was allowed to);
/// `SASLMECH_ABSENT` if it asked for none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_identity_authzid(
    identity: *const saslmech_identity,
    authzid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { identity_part(identity, Part::Authzid, authzid, len) }
}

/// The identity to act as: the authzid if one was given, else the authcid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_identity_effective(
    identity: *const saslmech_identity,
    effective: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { identity_part(identity, Part::Effective, effective, len) }
}

/// ANONYMOUS: the trace information the client sent (possibly empty); for logs only, the
/// identity is always `anonymous`. `SASLMECH_ABSENT` for other mechanisms.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_identity_trace(
    identity: *const saslmech_identity,
    trace: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { identity_part(identity, Part::Trace, trace, len) }
}
