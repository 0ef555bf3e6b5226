use core::ptr::{null, null_mut};

use saslmech::ffi::saslmech_result::*;
use saslmech::ffi::*;

/// The request view of an engine session, or the getter's refusal.
unsafe fn server_view(s: *const saslmech_server) -> Result<*mut saslmech_request, saslmech_result> {
    let mut view = null_mut();
    let mut kind = saslmech_request_kind::SASLMECH_REQUEST_AUTHORIZE;
    // SAFETY: `s` is NULL or live; the out-parameters are locals. The view is only read
    // through, or answered while no other reference to the session exists.
    match unsafe { saslmech::ffi::saslmech_server_request(s.cast_mut(), &mut view, &mut kind) } {
        SASLMECH_OK => Ok(view),
        e => Err(e),
    }
}

/// The request view of a server adapter, or the getter's refusal.
unsafe fn proto_view(
    s: *const saslmech_proto_server,
) -> Result<*mut saslmech_request, saslmech_result> {
    let mut view = null_mut();
    let mut kind = saslmech_request_kind::SASLMECH_REQUEST_AUTHORIZE;
    // SAFETY: as in `server_view`.
    match unsafe {
        saslmech::ffi::saslmech_proto_server_request(s.cast_mut(), &mut view, &mut kind)
    } {
        SASLMECH_OK => Ok(view),
        e => Err(e),
    }
}

pub unsafe extern "C" fn saslmech_server_start_no_ir(
    s: *mut saslmech_server,
    st: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { saslmech_server_start(s, null(), 0, st) }
}

pub unsafe extern "C" fn saslmech_server_challenge(
    s: *const saslmech_server,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { saslmech_server_message(s, p, n) }
}

pub unsafe extern "C" fn saslmech_server_success_data(
    s: *const saslmech_server,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { saslmech_server_message(s, p, n) }
}

pub unsafe extern "C" fn saslmech_server_request(
    s: *const saslmech_server,
    kind: *mut saslmech_request_kind,
) -> saslmech_result {
    let mut view = null_mut();
    // SAFETY: forwarded; the view is not used.
    unsafe { saslmech::ffi::saslmech_server_request(s.cast_mut(), &mut view, kind) }
}

pub unsafe extern "C" fn saslmech_proto_server_request(
    s: *const saslmech_proto_server,
    kind: *mut saslmech_request_kind,
) -> saslmech_result {
    let mut view = null_mut();
    // SAFETY: forwarded; the view is not used.
    unsafe { saslmech::ffi::saslmech_proto_server_request(s.cast_mut(), &mut view, kind) }
}

type ReadPart =
    unsafe extern "C" fn(*const saslmech_request, *mut *const u8, *mut usize) -> saslmech_result;
type ReadId =
    unsafe extern "C" fn(*const saslmech_identity, *mut *const u8, *mut usize) -> saslmech_result;

/// A request part as the old per-handle accessor gave it: NULL out-parameters first.
unsafe fn part(
    view: Result<*mut saslmech_request, saslmech_result>,
    f: ReadPart,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    if p.is_null() || n.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    match view {
        // SAFETY: a view of a live handle; the out-parameters are non-NULL.
        Ok(v) => unsafe { f(v, p, n) },
        Err(e) => e,
    }
}

unsafe fn id_part(
    id: Result<*const saslmech_identity, saslmech_result>,
    f: ReadId,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    if p.is_null() || n.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    match id {
        // SAFETY: a view of a live handle; the out-parameters are non-NULL.
        Ok(v) => unsafe { f(v, p, n) },
        Err(e) => e,
    }
}

unsafe fn server_id(
    s: *const saslmech_server,
) -> Result<*const saslmech_identity, saslmech_result> {
    let mut id = null();
    // SAFETY: `s` is NULL or live; the out-parameter is a local.
    match unsafe { saslmech_server_identity(s, &mut id) } {
        SASLMECH_OK => Ok(id),
        e => Err(e),
    }
}

unsafe fn proto_id(
    s: *const saslmech_proto_server,
) -> Result<*const saslmech_identity, saslmech_result> {
    let mut id = null();
    // SAFETY: `s` is NULL or live; the out-parameter is a local.
    match unsafe { saslmech_proto_server_identity(s, &mut id) } {
        SASLMECH_OK => Ok(id),
        e => Err(e),
    }
}

macro_rules! parts {
    ($($name:ident, $view:ident, $handle:ty, $f:ident, $part:ident;)*) => {$(
        pub unsafe extern "C" fn $name(
            s: *const $handle,
            p: *mut *const u8,
            n: *mut usize,
        ) -> saslmech_result {
            // SAFETY: `s` is NULL or live; forwarded.
            unsafe { $part($view(s), $f, p, n) }
        }
    )*};
}

parts! {
    saslmech_server_request_authcid, server_view, saslmech_server, saslmech_request_authcid, part;
    saslmech_server_request_authzid, server_view, saslmech_server, saslmech_request_authzid, part;
    saslmech_server_request_password, server_view, saslmech_server, saslmech_request_password, part;
    saslmech_server_request_token, server_view, saslmech_server, saslmech_request_token, part;
    saslmech_server_request_host, server_view, saslmech_server, saslmech_request_host, part;
    saslmech_proto_server_request_authcid, proto_view, saslmech_proto_server, saslmech_request_authcid, part;
    saslmech_proto_server_request_authzid, proto_view, saslmech_proto_server, saslmech_request_authzid, part;
    saslmech_proto_server_request_password, proto_view, saslmech_proto_server, saslmech_request_password, part;
    saslmech_proto_server_request_token, proto_view, saslmech_proto_server, saslmech_request_token, part;
    saslmech_proto_server_request_host, proto_view, saslmech_proto_server, saslmech_request_host, part;
    saslmech_server_identity_authcid, server_id, saslmech_server, saslmech_identity_authcid, id_part;
    saslmech_server_identity_authzid, server_id, saslmech_server, saslmech_identity_authzid, id_part;
    saslmech_server_identity_effective, server_id, saslmech_server, saslmech_identity_effective, id_part;
    saslmech_server_identity_trace, server_id, saslmech_server, saslmech_identity_trace, id_part;
    saslmech_proto_server_identity_authcid, proto_id, saslmech_proto_server, saslmech_identity_authcid, id_part;
    saslmech_proto_server_identity_authzid, proto_id, saslmech_proto_server, saslmech_identity_authzid, id_part;
    saslmech_proto_server_identity_effective, proto_id, saslmech_proto_server, saslmech_identity_effective, id_part;
    saslmech_proto_server_identity_trace, proto_id, saslmech_proto_server, saslmech_identity_trace, id_part;
}

pub unsafe extern "C" fn saslmech_server_request_port(
    s: *const saslmech_server,
    port: *mut u16,
) -> saslmech_result {
    if port.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    // SAFETY: `s` is NULL or live; `port` is a non-NULL local.
    unsafe { server_view(s).map_or_else(|e| e, |v| saslmech_request_port(v, port)) }
}

pub unsafe extern "C" fn saslmech_proto_server_request_port(
    s: *const saslmech_proto_server,
    port: *mut u16,
) -> saslmech_result {
    if port.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    // SAFETY: as above.
    unsafe { proto_view(s).map_or_else(|e| e, |v| saslmech_request_port(v, port)) }
}

/// An answer as the old per-handle call gave it: a NULL status first, then the view, then
/// the answer and the status it led to.
unsafe fn server_answer(
    s: *mut saslmech_server,
    st: *mut saslmech_status,
    f: impl FnOnce(*mut saslmech_request) -> saslmech_result,
) -> saslmech_result {
    if st.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    // SAFETY: `s` is NULL or live; the view is answered while no reference to `s` exists.
    unsafe {
        let view = match server_view(s) {
            Ok(v) => v,
            Err(e) => return e,
        };
        match f(view) {
            SASLMECH_OK => saslmech_server_status(s, st),
            e => e,
        }
    }
}

unsafe fn proto_answer(
    s: *mut saslmech_proto_server,
    ev: *mut saslmech_event,
    f: impl FnOnce(*mut saslmech_request) -> saslmech_result,
) -> saslmech_result {
    if ev.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    // SAFETY: as in `server_answer`.
    unsafe {
        let view = match proto_view(s) {
            Ok(v) => v,
            Err(e) => return e,
        };
        match f(view) {
            SASLMECH_OK => saslmech_proto_server_event(s, ev),
            e => e,
        }
    }
}

macro_rules! answers {
    ($handle:ty, $out:ty, $via:ident, $($name:ident => $verdict:ident;)*) => {$(
        pub unsafe extern "C" fn $name(s: *mut $handle, out: *mut $out) -> saslmech_result {
            // SAFETY: forwarded.
            unsafe { $via(s, out, |v| saslmech_request_answer(v, $verdict)) }
        }
    )*};
}

answers! { saslmech_server, saslmech_status, server_answer,
    saslmech_server_answer_accept => SASLMECH_VERDICT_ACCEPT;
    saslmech_server_answer_reject => SASLMECH_VERDICT_REJECT;
    saslmech_server_answer_unknown_user => SASLMECH_VERDICT_UNKNOWN_USER;
    saslmech_server_answer_account_disabled => SASLMECH_VERDICT_ACCOUNT_DISABLED;
    saslmech_server_answer_temporary_failure => SASLMECH_VERDICT_TEMPORARY_FAILURE;
}
answers! { saslmech_proto_server, saslmech_event, proto_answer,
    saslmech_proto_server_answer_accept => SASLMECH_VERDICT_ACCEPT;
    saslmech_proto_server_answer_reject => SASLMECH_VERDICT_REJECT;
    saslmech_proto_server_answer_unknown_user => SASLMECH_VERDICT_UNKNOWN_USER;
    saslmech_proto_server_answer_account_disabled => SASLMECH_VERDICT_ACCOUNT_DISABLED;
    saslmech_proto_server_answer_temporary_failure => SASLMECH_VERDICT_TEMPORARY_FAILURE;
}

macro_rules! byte_answers {
    ($handle:ty, $out:ty, $via:ident, $($name:ident => $f:ident;)*) => {$(
        pub unsafe extern "C" fn $name(
            s: *mut $handle,
            p: *const u8,
            n: usize,
            out: *mut $out,
        ) -> saslmech_result {
            // SAFETY: forwarded; `p` is NULL or valid for `n` bytes.
            unsafe { $via(s, out, |v| $f(v, p, n)) }
        }
    )*};
}

byte_answers! { saslmech_server, saslmech_status, server_answer,
    saslmech_server_answer_password => saslmech_request_answer_password;
    saslmech_server_answer_cram_md5_keys => saslmech_request_answer_cram_md5_keys;
    saslmech_server_answer_token_owner => saslmech_request_answer_token_owner;
}
byte_answers! { saslmech_proto_server, saslmech_event, proto_answer,
    saslmech_proto_server_answer_password => saslmech_request_answer_password;
    saslmech_proto_server_answer_cram_md5_keys => saslmech_request_answer_cram_md5_keys;
    saslmech_proto_server_answer_token_owner => saslmech_request_answer_token_owner;
}

/// The old token error answers: NULL status text refused; the scope given (the old call
/// refused a NULL scope).
unsafe fn token_error(
    v: *mut saslmech_request,
    p: *const u8,
    n: usize,
    scope: Option<(*const u8, usize)>,
) -> saslmech_result {
    // SAFETY: forwarded; each pointer is NULL or valid for its length.
    unsafe {
        match scope {
            Some((sp, _)) if sp.is_null() => SASLMECH_NULL_ARGUMENT,
            Some((sp, sn)) => saslmech_request_answer_token_error(v, p, n, sp, sn),
            None => saslmech_request_answer_token_error(v, p, n, null(), 0),
        }
    }
}

pub unsafe extern "C" fn saslmech_server_answer_token_error(
    s: *mut saslmech_server,
    p: *const u8,
    n: usize,
    st: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { server_answer(s, st, |v| token_error(v, p, n, None)) }
}

pub unsafe extern "C" fn saslmech_server_answer_token_error_scope(
    s: *mut saslmech_server,
    p: *const u8,
    n: usize,
    sp: *const u8,
    sn: usize,
    st: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { server_answer(s, st, |v| token_error(v, p, n, Some((sp, sn)))) }
}

pub unsafe extern "C" fn saslmech_proto_server_answer_token_error(
    s: *mut saslmech_proto_server,
    p: *const u8,
    n: usize,
    ev: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { proto_answer(s, ev, |v| token_error(v, p, n, None)) }
}

pub unsafe extern "C" fn saslmech_proto_server_answer_token_error_scope(
    s: *mut saslmech_proto_server,
    p: *const u8,
    n: usize,
    sp: *const u8,
    sn: usize,
    ev: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { proto_answer(s, ev, |v| token_error(v, p, n, Some((sp, sn)))) }
}

pub unsafe extern "C" fn saslmech_server_answer_scram_keys(
    s: *mut saslmech_server,
    keys: *const saslmech_scram_keys,
    st: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { server_answer(s, st, |v| saslmech_request_answer_scram_keys(v, keys)) }
}

pub unsafe extern "C" fn saslmech_proto_server_answer_scram_keys(
    s: *mut saslmech_proto_server,
    keys: *const saslmech_scram_keys,
    ev: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { proto_answer(s, ev, |v| saslmech_request_answer_scram_keys(v, keys)) }
}

pub unsafe extern "C" fn saslmech_client_new(
    m: saslmech_mechanism,
    c: *const saslmech_credentials,
    flags: saslmech_client_flags,
    out: *mut *mut saslmech_client,
) -> saslmech_result {
    // SAFETY: forwarded; NULL config: the defaults.
    unsafe { saslmech::ffi::saslmech_client_new(m, c, null(), flags, out) }
}

pub unsafe extern "C" fn saslmech_client_new_with_config(
    m: saslmech_mechanism,
    c: *const saslmech_credentials,
    cfg: *const saslmech_client_config,
    flags: saslmech_client_flags,
    out: *mut *mut saslmech_client,
) -> saslmech_result {
    if cfg.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    // SAFETY: forwarded.
    unsafe { saslmech::ffi::saslmech_client_new(m, c, cfg, flags, out) }
}

/// The old `_with_limit`: a client config with that challenge limit.
pub unsafe extern "C" fn saslmech_client_new_with_limit(
    m: saslmech_mechanism,
    c: *const saslmech_credentials,
    flags: saslmech_client_flags,
    limit: usize,
    out: *mut *mut saslmech_client,
) -> saslmech_result {
    if c.is_null() || out.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    if saslmech_mechanism_name(m).is_null() {
        return SASLMECH_UNKNOWN_MECHANISM;
    }
    let mut cfg = null_mut();
    // SAFETY: locals and live handles; the config is freed before returning.
    unsafe {
        assert_eq!(saslmech_client_config_new(&mut cfg), SASLMECH_OK);
        let r = match saslmech_client_config_set_max_challenge(cfg, limit) {
            SASLMECH_OK => saslmech::ffi::saslmech_client_new(m, c, cfg, flags, out),
            e => e,
        };
        saslmech_client_config_free(cfg);
        r
    }
}

pub unsafe extern "C" fn saslmech_client_finish(c: *mut saslmech_client) -> saslmech_result {
    // SAFETY: forwarded.
    unsafe { saslmech::ffi::saslmech_client_finish(c, null(), 0) }
}

pub unsafe extern "C" fn saslmech_client_finish_with_data(
    c: *mut saslmech_client,
    p: *const u8,
    n: usize,
) -> saslmech_result {
    if p.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    // SAFETY: forwarded.
    unsafe { saslmech::ffi::saslmech_client_finish(c, p, n) }
}

macro_rules! credentials {
    ($($name:ident => $field:ident;)*) => {$(
        pub unsafe extern "C" fn $name(
            c: *mut saslmech_credentials,
            p: *const u8,
            n: usize,
        ) -> saslmech_result {
            // SAFETY: forwarded.
            unsafe { saslmech_credentials_set(c, $field, p, n) }
        }
    )*};
}

credentials! {
    saslmech_credentials_set_authcid => SASLMECH_CREDENTIAL_AUTHCID;
    saslmech_credentials_set_authzid => SASLMECH_CREDENTIAL_AUTHZID;
    saslmech_credentials_set_password => SASLMECH_CREDENTIAL_PASSWORD;
    saslmech_credentials_set_token => SASLMECH_CREDENTIAL_TOKEN;
    saslmech_credentials_set_trace => SASLMECH_CREDENTIAL_TRACE;
    saslmech_credentials_set_host => SASLMECH_CREDENTIAL_HOST;
    saslmech_credentials_set_service => SASLMECH_CREDENTIAL_SERVICE;
}

pub unsafe extern "C" fn saslmech_server_config_set_nonce_os(
    c: *mut saslmech_server_config,
) -> saslmech_result {
    // SAFETY: forwarded; NULL: back to OS randomness.
    unsafe { saslmech_server_config_set_nonce_fixed(c, null(), 0) }
}

pub unsafe extern "C" fn saslmech_client_config_set_nonce_os(
    c: *mut saslmech_client_config,
) -> saslmech_result {
    // SAFETY: forwarded; NULL: back to OS randomness.
    unsafe { saslmech_client_config_set_nonce_fixed(c, null(), 0) }
}

pub unsafe extern "C" fn saslmech_scram_keys_generate(
    hash: saslmech_scram_hash,
    p: *const u8,
    n: usize,
    iterations: u32,
    out: *mut *mut saslmech_scram_keys,
) -> saslmech_result {
    // SAFETY: forwarded; NULL salt: a random one.
    unsafe { saslmech_scram_keys_derive(hash, p, n, null(), 0, iterations, out) }
}

macro_rules! server_news {
    ($($name:ident => $protocol:ident;)*) => {$(
        pub unsafe extern "C" fn $name(
            c: *const saslmech_server_config,
            out: *mut *mut saslmech_proto_server,
        ) -> saslmech_result {
            // SAFETY: forwarded.
            unsafe { saslmech_proto_server_new(c, $protocol, out) }
        }
    )*};
}

server_news! {
    saslmech_smtp_server_new => SASLMECH_PROTOCOL_SMTP;
    saslmech_imap_server_new => SASLMECH_PROTOCOL_IMAP;
    saslmech_pop3_server_new => SASLMECH_PROTOCOL_POP3;
}

macro_rules! client_news {
    ($($name:ident, $with:ident => $protocol:ident;)*) => {$(
        pub unsafe extern "C" fn $name(
            m: saslmech_mechanism,
            c: *const saslmech_credentials,
            out: *mut *mut saslmech_proto_client,
        ) -> saslmech_result {
            // SAFETY: forwarded; NULL config: the defaults.
            unsafe { saslmech_proto_client_new($protocol, null(), 0, m, c, null(), out) }
        }

        pub unsafe extern "C" fn $with(
            m: saslmech_mechanism,
            c: *const saslmech_credentials,
            cfg: *const saslmech_client_config,
            out: *mut *mut saslmech_proto_client,
        ) -> saslmech_result {
            if cfg.is_null() {
                return SASLMECH_NULL_ARGUMENT;
            }
            // SAFETY: forwarded.
            unsafe { saslmech_proto_client_new($protocol, null(), 0, m, c, cfg, out) }
        }
    )*};
}

client_news! {
    saslmech_smtp_client_new, saslmech_smtp_client_new_with_config => SASLMECH_PROTOCOL_SMTP;
    saslmech_pop3_client_new, saslmech_pop3_client_new_with_config => SASLMECH_PROTOCOL_POP3;
}

pub unsafe extern "C" fn saslmech_imap_client_new(
    tag: *const u8,
    tag_len: usize,
    m: saslmech_mechanism,
    c: *const saslmech_credentials,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    if tag.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    // SAFETY: forwarded.
    unsafe { saslmech_proto_client_new(SASLMECH_PROTOCOL_IMAP, tag, tag_len, m, c, null(), out) }
}

pub unsafe extern "C" fn saslmech_imap_client_new_with_config(
    tag: *const u8,
    tag_len: usize,
    m: saslmech_mechanism,
    c: *const saslmech_credentials,
    cfg: *const saslmech_client_config,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    if tag.is_null() || cfg.is_null() {
        return SASLMECH_NULL_ARGUMENT;
    }
    // SAFETY: forwarded.
    unsafe { saslmech_proto_client_new(SASLMECH_PROTOCOL_IMAP, tag, tag_len, m, c, cfg, out) }
}

pub unsafe extern "C" fn saslmech_proto_client_outcome_status(
    c: *const saslmech_proto_client,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    let (mut t, mut tn) = (null(), 0usize);
    // SAFETY: forwarded; the text goes to locals.
    unsafe { saslmech_proto_client_outcome_reply(c, p, n, &mut t, &mut tn) }
}

pub unsafe extern "C" fn saslmech_proto_client_outcome_text(
    c: *const saslmech_proto_client,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    let (mut s, mut sn) = (null(), 0usize);
    // SAFETY: forwarded; the status goes to locals.
    unsafe { saslmech_proto_client_outcome_reply(c, &mut s, &mut sn, p, n) }
}

macro_rules! parsers {
    ($($name:ident => $protocol:ident;)*) => {$(
        pub unsafe extern "C" fn $name(
            text: *const u8,
            len: usize,
            out: *mut u8,
            cap: usize,
            out_len: *mut usize,
        ) -> saslmech_result {
            // SAFETY: forwarded.
            unsafe { saslmech_proto_mechanisms($protocol, text, len, out, cap, out_len) }
        }
    )*};
}

parsers! {
    saslmech_smtp_ehlo_mechanisms => SASLMECH_PROTOCOL_SMTP;
    saslmech_imap_capability_mechanisms => SASLMECH_PROTOCOL_IMAP;
    saslmech_pop3_capa_mechanisms => SASLMECH_PROTOCOL_POP3;
}
