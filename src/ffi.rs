//! The C ABI (feature `capi`): the functions declared in `include/saslmech.h`.
//!
//! This is the only module allowed `unsafe`. Every export:
//!
//! * checks every pointer argument for NULL before anything else (`SASLMECH_NULL_ARGUMENT`);
//! * takes enumerations from C as integers and validates them (never a Rust enum built from
//!   an arbitrary integer);
//! * writes its out-parameters only when it returns `SASLMECH_OK`;
//! * runs inside a panic boundary (`guard`, `with_mut`, `with_ref`): a panic becomes
//!   `SASLMECH_PANIC` and the handle it happened on answers `SASLMECH_POISONED` to every later
//!   call but `_free`.
//!
//! The contract on the C side, stated once for all the functions here (they are `unsafe fn`
//! for Rust callers for this reason): a pointer argument is NULL or valid for what its
//! documentation says (`len` readable bytes, one writable value); a handle comes from the
//! matching `_new` and is not used after its `_free`; one handle is not used by two threads at
//! the same time, except a `saslmech_server_config`, a `saslmech_client_config` or
//! `saslmech_scram_keys` through the functions that take it as `const`.
//!
//! Numbers in this file (result codes, mechanisms, statuses, request kinds, failures, flags)
//! are part of the ABI: they are never changed or reused. New ones are appended.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // stated once, above

use core::ffi::{CStr, c_char};
use core::sync::atomic::{AtomicBool, Ordering};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::b64;
use crate::channel_binding::ChannelBindingType;
use crate::client::ClientSession;
use crate::config::{ClientConfig, ServerConfig, Transport};
use crate::credentials::Credentials;
use crate::error::{Error, Failure};
use crate::keys::{CramMd5Keys, ScramClientCache, ScramHash, ScramKeys};
use crate::mechanism::{self, Mechanism, SelectOptions};
use crate::nonce::NonceSource;
use crate::proto::imap::{ImapClient, ImapServer};
use crate::proto::pop3::{Pop3Client, Pop3Server};
use crate::proto::smtp::{SmtpClient, SmtpReplies, SmtpServer};
use crate::proto::{
    self, AuthIdentity, AuthRequest, ClientEvent, ClientOutcome, Phase, ServerEvent,
};
use crate::request::{Answer, Request, TokenError};
use crate::secret::{SecretBuf, ct_eq, ct_eq_password};
use crate::server::{Kind, Op, ServerSession};

// ---------------------------------------------------------------------------------------------
// Numbers

/// What a call did. `SASLMECH_OK` is 0; the other numbers are stable and never reused.
/// `saslmech_strerror` describes each.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_result {
    /// The call succeeded; its out-parameters are written.
    SASLMECH_OK = 0,
    /// A pointer argument was NULL. Nothing was done.
    SASLMECH_NULL_ARGUMENT = 1,
    /// An argument was out of range (unknown flag bits, a limit of 0, a wrong key length, a
    /// length over `PTRDIFF_MAX`), or credentials lack what the mechanism needs.
    SASLMECH_INVALID_ARGUMENT = 2,
    /// Text that must be UTF-8 (an identity, a host name, a token error) was not.
    SASLMECH_INVALID_UTF8 = 3,
    /// A mechanism number or name this library does not implement.
    SASLMECH_UNKNOWN_MECHANISM = 4,
    /// The call does not fit the session's state: a step before start or after the end, a
    /// step while a request waits for its answer, an answer with no request pending, or an
    /// accessor for something the last step did not produce. The session is unchanged.
    SASLMECH_INVALID_STATE = 5,
    /// The answer does not fit the pending request (for example a token error answering a
    /// password request). The request stays pending.
    SASLMECH_WRONG_ANSWER = 6,
    /// The client exchange ended with a failure (see `saslmech_client_failure`), or a base64
    /// or key text could not be decoded.
    SASLMECH_FAILED = 7,
    /// The optional value asked for is absent (no authorization identity, no success data,
    /// no usable mechanism). Not an error; the out-parameters are not written.
    SASLMECH_ABSENT = 8,
    /// The caller's output buffer is too small. Nothing was written.
    SASLMECH_BUFFER_TOO_SMALL = 9,
    /// The library caught an internal panic (a bug). The handle is now unusable.
    SASLMECH_PANIC = 10,
    /// The handle caught a panic earlier and refuses all calls but `_free`.
    SASLMECH_POISONED = 11,
}

use saslmech_result::*;

type R<T> = Result<T, saslmech_result>;

/// What a server session needs next, after a call that advanced it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_status {
    /// Send the challenge (`saslmech_server_challenge`), then pass the client's response to
    /// `saslmech_server_step`.
    SASLMECH_STATUS_CHALLENGE = 1,
    /// Answer the request (`saslmech_server_request` says which kind) with one of the
    /// `saslmech_server_answer_*` calls, now or from a later turn of the event loop.
    SASLMECH_STATUS_REQUEST = 2,
    /// The client authenticated (`saslmech_server_identity_*`, `saslmech_server_success_data`).
    SASLMECH_STATUS_SUCCESS = 3,
    /// The exchange failed (`saslmech_server_failure` says why).
    SASLMECH_STATUS_FAILURE = 4,
}

use saslmech_status::*;

/// The kind of a server session's pending request.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_request {
    /// PLAIN, LOGIN: check the password (`saslmech_server_request_authcid`,
    /// `_request_authzid`, `_request_password`). Answer `accept`/`reject` after checking it
    /// yourself, `password` with the stored password for the library to compare in constant
    /// time, `unknown_user`, `account_disabled` or `temporary_failure`.
    SASLMECH_REQUEST_VERIFY_PASSWORD = 1,
    /// CRAM-MD5: supply the user's secret (`saslmech_server_request_authcid`): `password`
    /// with the plaintext, `cram_md5_keys` with the precomputed state, or `unknown_user`.
    SASLMECH_REQUEST_SECRET = 2,
    /// XOAUTH2: validate the bearer token (`saslmech_server_request_authcid` gives the user,
    /// `_request_token` the token). Answer `accept`, `reject` or `token_error`.
    SASLMECH_REQUEST_VALIDATE_TOKEN = 3,
    /// May the authenticated user (`_request_authcid`) act as `_request_authzid`? Answer
    /// `accept` or `reject`.
    SASLMECH_REQUEST_AUTHORIZE = 4,
}

/// Why an exchange failed. Map these to protocol replies (SMTP: `BAD_CREDENTIALS` 535 5.7.8,
/// `MALFORMED`/`INVALID_BASE64`/`CANCELLED` 501 5.5.2, `TEMPORARY` 454 4.7.0, ...).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_failure {
    /// No failure (what `saslmech_server_config_check` reports for an allowed mechanism).
    SASLMECH_FAILURE_NONE = 0,
    /// Wrong credentials or unknown user (indistinguishable on purpose).
    SASLMECH_FAILURE_BAD_CREDENTIALS = 1,
    /// The user may not act as the requested authorization identity.
    SASLMECH_FAILURE_AUTHZ_DENIED = 2,
    /// The application reported the account as disabled.
    SASLMECH_FAILURE_ACCOUNT_DISABLED = 3,
    /// A message did not follow the mechanism's grammar.
    SASLMECH_FAILURE_MALFORMED = 4,
    /// A message was not valid strict base64.
    SASLMECH_FAILURE_INVALID_BASE64 = 5,
    /// An initial response was sent for a mechanism that does not take one.
    SASLMECH_FAILURE_UNEXPECTED_INITIAL_RESPONSE = 6,
    /// The client cancelled (`*`).
    SASLMECH_FAILURE_CANCELLED = 7,
    /// The backend could not answer; the client may retry later.
    SASLMECH_FAILURE_TEMPORARY = 8,
    /// The mechanism is not offered by this server.
    SASLMECH_FAILURE_MECHANISM_UNAVAILABLE = 9,
    /// The mechanism is too weak for the configured policy.
    SASLMECH_FAILURE_MECHANISM_TOO_WEAK = 10,
    /// The mechanism would expose a reusable secret without TLS.
    SASLMECH_FAILURE_ENCRYPTION_REQUIRED = 11,
    /// Too many round trips.
    SASLMECH_FAILURE_TOO_MANY_STEPS = 12,
    /// A message or field exceeded its size limit.
    SASLMECH_FAILURE_TOO_LARGE = 13,
    /// Channel binding mismatch or downgrade.
    SASLMECH_FAILURE_CHANNEL_BINDING = 14,
    /// (Client) the server failed to prove knowledge of the credentials.
    SASLMECH_FAILURE_SERVER_AUTHENTICATION = 15,
}

/// A mechanism number (`SASLMECH_MECH_*`). Taken as an integer and validated on entry.
pub type saslmech_mechanism = u32;
/// PLAIN (RFC 4616).
pub const SASLMECH_MECH_PLAIN: saslmech_mechanism = 1;
/// LOGIN (draft-murchison-sasl-login).
pub const SASLMECH_MECH_LOGIN: saslmech_mechanism = 2;
/// CRAM-MD5 (RFC 2195).
pub const SASLMECH_MECH_CRAM_MD5: saslmech_mechanism = 3;
/// XOAUTH2 (Google, Microsoft).
pub const SASLMECH_MECH_XOAUTH2: saslmech_mechanism = 4;
/// SCRAM-SHA-1 (RFC 5802).
pub const SASLMECH_MECH_SCRAM_SHA_1: saslmech_mechanism = 5;
/// SCRAM-SHA-1-PLUS (RFC 5802, channel binding).
pub const SASLMECH_MECH_SCRAM_SHA_1_PLUS: saslmech_mechanism = 6;
/// SCRAM-SHA-256 (RFC 7677).
pub const SASLMECH_MECH_SCRAM_SHA_256: saslmech_mechanism = 7;
/// SCRAM-SHA-256-PLUS (RFC 7677, channel binding).
pub const SASLMECH_MECH_SCRAM_SHA_256_PLUS: saslmech_mechanism = 8;
/// OAUTHBEARER (RFC 7628).
pub const SASLMECH_MECH_OAUTHBEARER: saslmech_mechanism = 9;
/// EXTERNAL (RFC 4422 appendix A).
pub const SASLMECH_MECH_EXTERNAL: saslmech_mechanism = 10;
/// ANONYMOUS (RFC 4505).
pub const SASLMECH_MECH_ANONYMOUS: saslmech_mechanism = 11;

/// Server session flags for `saslmech_server_new` (and the TLS bit for the config queries).
pub type saslmech_server_flags = u32;
/// The connection is protected by TLS.
pub const SASLMECH_SERVER_TLS: saslmech_server_flags = 1;
/// The protocol can carry data with its success reply (not SMTP, IMAP or POP3: without this
/// flag, server-final data goes out as one more challenge answered by an empty response).
pub const SASLMECH_SERVER_SUCCESS_DATA: saslmech_server_flags = 2;
/// The session speaks base64: responses passed in are base64 text, challenges and success
/// data come out as base64 text (as SMTP, IMAP and POP3 carry them).
pub const SASLMECH_SERVER_BASE64: saslmech_server_flags = 4;
const SERVER_FLAGS: u32 =
    SASLMECH_SERVER_TLS | SASLMECH_SERVER_SUCCESS_DATA | SASLMECH_SERVER_BASE64;
/// For `saslmech_server_config_offered` and `_check` only: the connection has TLS
/// channel-binding data (then the SCRAM `-PLUS` mechanisms may be used). A session is given
/// the data itself with `saslmech_server_set_channel_binding`; `saslmech_server_new` refuses
/// this bit.
pub const SASLMECH_SERVER_CHANNEL_BINDING: saslmech_server_flags = 8;
/// For `saslmech_server_config_offered` and `_check` only: the connection has an external
/// identity (then EXTERNAL may be used, if enabled). A session is given the identity with
/// `saslmech_server_set_external_identity`; `saslmech_server_new` refuses this bit.
pub const SASLMECH_SERVER_EXTERNAL: saslmech_server_flags = 16;
const QUERY_FLAGS: u32 = SERVER_FLAGS | SASLMECH_SERVER_CHANNEL_BINDING | SASLMECH_SERVER_EXTERNAL;

/// Client session flags for `saslmech_client_new`.
pub type saslmech_client_flags = u32;
/// The session speaks base64: challenges and success data passed in are base64 text, the
/// responses that come out are base64 text.
pub const SASLMECH_CLIENT_BASE64: saslmech_client_flags = 1;
const CLIENT_FLAGS: u32 = SASLMECH_CLIENT_BASE64;

/// What the client has and may do, for `saslmech_select`.
pub type saslmech_select_flags = u32;
/// The client has a password.
pub const SASLMECH_SELECT_PASSWORD: saslmech_select_flags = 1;
/// The client has an OAuth 2.0 bearer token.
pub const SASLMECH_SELECT_TOKEN: saslmech_select_flags = 2;
/// The connection is protected by TLS.
pub const SASLMECH_SELECT_TLS: saslmech_select_flags = 4;
/// Allow mechanisms that send the password or token in the clear without TLS (loopback tests).
pub const SASLMECH_SELECT_ALLOW_PLAINTEXT: saslmech_select_flags = 8;
/// TLS channel-binding data is available, so the SCRAM `-PLUS` mechanisms may be chosen.
pub const SASLMECH_SELECT_CHANNEL_BINDING: saslmech_select_flags = 16;
/// The client wants EXTERNAL (the transport establishes its identity). Never chosen unless set.
pub const SASLMECH_SELECT_EXTERNAL: saslmech_select_flags = 32;
/// The client wants ANONYMOUS. Never chosen unless set.
pub const SASLMECH_SELECT_ANONYMOUS: saslmech_select_flags = 64;
const SELECT_FLAGS: u32 = SASLMECH_SELECT_PASSWORD
    | SASLMECH_SELECT_TOKEN
    | SASLMECH_SELECT_TLS
    | SASLMECH_SELECT_ALLOW_PLAINTEXT
    | SASLMECH_SELECT_CHANNEL_BINDING
    | SASLMECH_SELECT_EXTERNAL
    | SASLMECH_SELECT_ANONYMOUS;

/// Mechanism properties reported by `saslmech_mechanism_properties`.
pub type saslmech_properties = u32;
/// The client speaks first, so the mechanism can use an initial response.
pub const SASLMECH_PROP_CLIENT_FIRST: saslmech_properties = 1;
/// The password itself crosses the wire.
pub const SASLMECH_PROP_EXPOSES_SECRET: saslmech_properties = 2;
/// Not offered without TLS by default.
pub const SASLMECH_PROP_REQUIRES_TLS: saslmech_properties = 4;
/// Known cryptographic weaknesses (CRAM-MD5).
pub const SASLMECH_PROP_WEAK: saslmech_properties = 8;
/// Takes TLS channel binding (the SCRAM -PLUS family).
pub const SASLMECH_PROP_CHANNEL_BINDING: saslmech_properties = 16;
/// Authenticates with a password.
pub const SASLMECH_PROP_USES_PASSWORD: saslmech_properties = 32;
/// Authenticates with an OAuth 2.0 bearer token.
pub const SASLMECH_PROP_USES_TOKEN: saslmech_properties = 64;

/// A member of a server's OAuth error challenge, for `saslmech_client_oauth_error`.
pub type saslmech_oauth_field = u32;
/// `status`.
pub const SASLMECH_OAUTH_STATUS: saslmech_oauth_field = 1;
/// `schemes`.
pub const SASLMECH_OAUTH_SCHEMES: saslmech_oauth_field = 2;
/// `scope`.
pub const SASLMECH_OAUTH_SCOPE: saslmech_oauth_field = 3;
/// `openid-configuration`.
pub const SASLMECH_OAUTH_OPENID_CONFIGURATION: saslmech_oauth_field = 4;
/// The whole challenge as received.
pub const SASLMECH_OAUTH_RAW: saslmech_oauth_field = 5;

/// Length of a CRAM-MD5 key state (`saslmech_cram_md5_keys_*`,
/// `saslmech_server_answer_cram_md5_keys`).
pub const SASLMECH_CRAM_MD5_KEYS_LEN: usize = 32;

/// A TLS channel-binding type (RFC 5056 names), for the SCRAM `-PLUS` mechanisms. Taken as an
/// integer and validated on entry.
pub type saslmech_channel_binding = u32;
/// `tls-unique` (RFC 5929): only on TLS 1.2 or older.
pub const SASLMECH_CB_TLS_UNIQUE: saslmech_channel_binding = 1;
/// `tls-server-end-point` (RFC 5929): the hash of the server's certificate.
pub const SASLMECH_CB_TLS_SERVER_END_POINT: saslmech_channel_binding = 2;
/// `tls-exporter` (RFC 9266): the TLS exporter with label `EXPORTER-Channel-Binding`, 32
/// octets; the one to use on TLS 1.3.
pub const SASLMECH_CB_TLS_EXPORTER: saslmech_channel_binding = 3;

/// A SCRAM hash (`saslmech_scram_keys_derive`, `_generate`). Taken as an integer and validated.
pub type saslmech_scram_hash = u32;
/// SHA-1 (SCRAM-SHA-1, SCRAM-SHA-1-PLUS).
pub const SASLMECH_SCRAM_SHA_1: saslmech_scram_hash = 1;
/// SHA-256 (SCRAM-SHA-256, SCRAM-SHA-256-PLUS).
pub const SASLMECH_SCRAM_SHA_256: saslmech_scram_hash = 2;

fn channel_binding_from_c(kind: saslmech_channel_binding) -> R<ChannelBindingType> {
    match kind {
        SASLMECH_CB_TLS_UNIQUE => Ok(ChannelBindingType::TlsUnique),
        SASLMECH_CB_TLS_SERVER_END_POINT => Ok(ChannelBindingType::TlsServerEndPoint),
        SASLMECH_CB_TLS_EXPORTER => Ok(ChannelBindingType::TlsExporter),
        _ => Err(SASLMECH_INVALID_ARGUMENT),
    }
}

fn scram_hash_to_c(hash: ScramHash) -> saslmech_scram_hash {
    match hash {
        ScramHash::Sha1 => SASLMECH_SCRAM_SHA_1,
        ScramHash::Sha256 => SASLMECH_SCRAM_SHA_256,
    }
}

fn scram_hash_from_c(hash: saslmech_scram_hash) -> R<ScramHash> {
    match hash {
        SASLMECH_SCRAM_SHA_1 => Ok(ScramHash::Sha1),
        SASLMECH_SCRAM_SHA_256 => Ok(ScramHash::Sha256),
        _ => Err(SASLMECH_INVALID_ARGUMENT),
    }
}

/// Every mechanism, strongest first (the order of `saslmech::ALL_MECHANISMS`).
const MECHANISMS: [saslmech_mechanism; 11] = [
    SASLMECH_MECH_SCRAM_SHA_256_PLUS,
    SASLMECH_MECH_SCRAM_SHA_256,
    SASLMECH_MECH_SCRAM_SHA_1_PLUS,
    SASLMECH_MECH_SCRAM_SHA_1,
    SASLMECH_MECH_OAUTHBEARER,
    SASLMECH_MECH_XOAUTH2,
    SASLMECH_MECH_CRAM_MD5,
    SASLMECH_MECH_PLAIN,
    SASLMECH_MECH_LOGIN,
    SASLMECH_MECH_EXTERNAL,
    SASLMECH_MECH_ANONYMOUS,
];

fn mechanism_from_c(m: saslmech_mechanism) -> R<Mechanism> {
    match m {
        SASLMECH_MECH_PLAIN => Ok(Mechanism::Plain),
        SASLMECH_MECH_LOGIN => Ok(Mechanism::Login),
        SASLMECH_MECH_CRAM_MD5 => Ok(Mechanism::CramMd5),
        SASLMECH_MECH_XOAUTH2 => Ok(Mechanism::XOAuth2),
        SASLMECH_MECH_SCRAM_SHA_1 => Ok(Mechanism::ScramSha1),
        SASLMECH_MECH_SCRAM_SHA_1_PLUS => Ok(Mechanism::ScramSha1Plus),
        SASLMECH_MECH_SCRAM_SHA_256 => Ok(Mechanism::ScramSha256),
        SASLMECH_MECH_SCRAM_SHA_256_PLUS => Ok(Mechanism::ScramSha256Plus),
        SASLMECH_MECH_OAUTHBEARER => Ok(Mechanism::OAuthBearer),
        SASLMECH_MECH_EXTERNAL => Ok(Mechanism::External),
        SASLMECH_MECH_ANONYMOUS => Ok(Mechanism::Anonymous),
        _ => Err(SASLMECH_UNKNOWN_MECHANISM),
    }
}

fn mechanism_to_c(m: Mechanism) -> (saslmech_mechanism, &'static CStr) {
    match m {
        Mechanism::Plain => (SASLMECH_MECH_PLAIN, c"PLAIN"),
        Mechanism::Login => (SASLMECH_MECH_LOGIN, c"LOGIN"),
        Mechanism::CramMd5 => (SASLMECH_MECH_CRAM_MD5, c"CRAM-MD5"),
        Mechanism::XOAuth2 => (SASLMECH_MECH_XOAUTH2, c"XOAUTH2"),
        Mechanism::ScramSha1 => (SASLMECH_MECH_SCRAM_SHA_1, c"SCRAM-SHA-1"),
        Mechanism::ScramSha1Plus => (SASLMECH_MECH_SCRAM_SHA_1_PLUS, c"SCRAM-SHA-1-PLUS"),
        Mechanism::ScramSha256 => (SASLMECH_MECH_SCRAM_SHA_256, c"SCRAM-SHA-256"),
        Mechanism::ScramSha256Plus => (SASLMECH_MECH_SCRAM_SHA_256_PLUS, c"SCRAM-SHA-256-PLUS"),
        Mechanism::OAuthBearer => (SASLMECH_MECH_OAUTHBEARER, c"OAUTHBEARER"),
        Mechanism::External => (SASLMECH_MECH_EXTERNAL, c"EXTERNAL"),
        Mechanism::Anonymous => (SASLMECH_MECH_ANONYMOUS, c"ANONYMOUS"),
    }
}

fn failure_to_c(f: Failure) -> saslmech_failure {
    use saslmech_failure::*;
    match f {
        Failure::BadCredentials => SASLMECH_FAILURE_BAD_CREDENTIALS,
        Failure::AuthzDenied => SASLMECH_FAILURE_AUTHZ_DENIED,
        Failure::AccountDisabled => SASLMECH_FAILURE_ACCOUNT_DISABLED,
        Failure::Malformed => SASLMECH_FAILURE_MALFORMED,
        Failure::InvalidBase64 => SASLMECH_FAILURE_INVALID_BASE64,
        Failure::UnexpectedInitialResponse => SASLMECH_FAILURE_UNEXPECTED_INITIAL_RESPONSE,
        Failure::Cancelled => SASLMECH_FAILURE_CANCELLED,
        Failure::TemporaryFailure => SASLMECH_FAILURE_TEMPORARY,
        Failure::MechanismUnavailable => SASLMECH_FAILURE_MECHANISM_UNAVAILABLE,
        Failure::MechanismTooWeak => SASLMECH_FAILURE_MECHANISM_TOO_WEAK,
        Failure::EncryptionRequired => SASLMECH_FAILURE_ENCRYPTION_REQUIRED,
        Failure::TooManySteps => SASLMECH_FAILURE_TOO_MANY_STEPS,
        Failure::TooLarge => SASLMECH_FAILURE_TOO_LARGE,
        Failure::ChannelBinding => SASLMECH_FAILURE_CHANNEL_BINDING,
        Failure::ServerAuthentication => SASLMECH_FAILURE_SERVER_AUTHENTICATION,
    }
}

/// The description of a failure number, NUL-terminated (the same words as `Failure::as_str`).
fn failure_text(f: u32) -> &'static CStr {
    match f {
        0 => c"no failure",
        1 => c"authentication credentials invalid",
        2 => c"not authorized to use the requested authorization identity",
        3 => c"account disabled",
        4 => c"malformed authentication message",
        5 => c"invalid base64",
        6 => c"initial response not allowed for this mechanism",
        7 => c"authentication cancelled by the client",
        8 => c"temporary authentication failure",
        9 => c"mechanism not available",
        10 => c"mechanism too weak for policy",
        11 => c"encryption required for this mechanism",
        12 => c"too many authentication round trips",
        13 => c"authentication message too large",
        14 => c"channel binding mismatch",
        15 => c"server failed to prove knowledge of the credentials",
        _ => c"unknown saslmech_failure",
    }
}

fn result_text(r: u32) -> &'static CStr {
    match r {
        0 => c"success",
        1 => c"a pointer argument was NULL",
        2 => c"invalid argument",
        3 => c"text is not valid UTF-8",
        4 => c"unknown or unsupported mechanism",
        5 => c"call not valid in the session's current state",
        6 => c"answer does not fit the pending request",
        7 => c"authentication failed",
        8 => c"value absent",
        9 => c"output buffer too small",
        10 => c"internal panic caught (library bug); the handle is unusable",
        11 => c"handle unusable after an earlier internal panic",
        _ => c"unknown saslmech_result",
    }
}

fn error_to_c(e: Error) -> saslmech_result {
    match e {
        Error::Failed(_) => SASLMECH_FAILED,
        Error::InvalidState => SASLMECH_INVALID_STATE,
        Error::WrongAnswer => SASLMECH_WRONG_ANSWER,
        Error::InvalidArgument(_) => SASLMECH_INVALID_ARGUMENT,
    }
}

// What the README promises about threads, checked by the compiler: sessions and credentials
// may move between threads, a configuration may also be shared by them.
const _: () = {
    const fn send<T: Send>() {}
    const fn send_and_sync<T: Send + Sync>() {}
    send::<saslmech_server>();
    send::<saslmech_client>();
    send::<saslmech_credentials>();
    send::<saslmech_proto_server>();
    send::<saslmech_proto_client>();
    send_and_sync::<saslmech_client_config>();
    send_and_sync::<saslmech_scram_keys>();
    send_and_sync::<saslmech_server_config>();
};

// ---------------------------------------------------------------------------------------------
// The panic boundary and pointer helpers

/// Run `f` inside the panic boundary: its error, `SASLMECH_OK`, or `SASLMECH_PANIC`.
fn guard(f: impl FnOnce() -> R<()>) -> saslmech_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => SASLMECH_OK,
        Ok(Err(e)) => e,
        Err(_) => SASLMECH_PANIC,
    }
}

/// A value returned directly (a static string) from inside the panic boundary, or `fallback`.
fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Set once a call on a handle caught a panic. Atomic, so that a handle read by several threads
/// at once (a shared configuration) has no data race even then.
#[derive(Default)]
struct Poison(AtomicBool);

impl Poison {
    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A handle that a caught panic makes unusable.
trait Handle {
    fn poisoned(&self) -> &Poison;
}

/// Run `f` on the handle `h` points to, inside the panic boundary; a panic poisons the handle.
///
/// # Safety
/// `h` is NULL or points to a live handle that no one else uses during the call.
unsafe fn with_mut<H: Handle>(h: *mut H, f: impl FnOnce(&mut H) -> R<()>) -> saslmech_result {
    // SAFETY: the caller guarantees `h` is NULL (checked here) or valid and unaliased.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return SASLMECH_NULL_ARGUMENT;
    };
    if h.poisoned().get() {
        return SASLMECH_POISONED;
    }
    match catch_unwind(AssertUnwindSafe(|| f(&mut *h))) {
        Ok(Ok(())) => SASLMECH_OK,
        Ok(Err(e)) => e,
        Err(_) => {
            h.poisoned().set();
            SASLMECH_PANIC
        }
    }
}

/// [`with_mut`] for calls that do not change the handle.
///
/// # Safety
/// `h` is NULL or points to a live handle that no one changes during the call.
unsafe fn with_ref<H: Handle>(h: *const H, f: impl FnOnce(&H) -> R<()>) -> saslmech_result {
    // SAFETY: the caller guarantees `h` is NULL (checked here) or valid for shared access.
    let Some(h) = (unsafe { h.as_ref() }) else {
        return SASLMECH_NULL_ARGUMENT;
    };
    if h.poisoned().get() {
        return SASLMECH_POISONED;
    }
    match catch_unwind(AssertUnwindSafe(|| f(h))) {
        Ok(Ok(())) => SASLMECH_OK,
        Ok(Err(e)) => e,
        Err(_) => {
            h.poisoned().set();
            SASLMECH_PANIC
        }
    }
}

/// Bytes from C.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for `'a`, not written meanwhile.
unsafe fn bytes<'a>(p: *const u8, len: usize) -> R<&'a [u8]> {
    if p.is_null() {
        return Err(SASLMECH_NULL_ARGUMENT);
    }
    if len > isize::MAX as usize {
        return Err(SASLMECH_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL (checked), `u8` needs no alignment, `len` fits `isize` (checked), and
    // the caller guarantees the bytes are readable and stable for `'a`.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// UTF-8 text from C.
///
/// # Safety
/// As [`bytes`].
unsafe fn text<'a>(p: *const u8, len: usize) -> R<&'a str> {
    // SAFETY: forwarded from the caller.
    let b = unsafe { bytes(p, len) }?;
    core::str::from_utf8(b).map_err(|_| SASLMECH_INVALID_UTF8)
}

/// Fail with `SASLMECH_NULL_ARGUMENT` if an out-pointer is NULL (checked before any work).
fn nonnull<T>(p: *mut T) -> R<()> {
    if p.is_null() {
        Err(SASLMECH_NULL_ARGUMENT)
    } else {
        Ok(())
    }
}

/// Write one out-parameter.
///
/// # Safety
/// `p` is non-NULL (checked by the caller with [`nonnull`]) and valid for one aligned write.
unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: guaranteed by the caller.
    unsafe { p.write(v) }
}

/// Write a byte string as pointer + length.
///
/// # Safety
/// Both pointers are non-NULL and valid for one write each.
unsafe fn put_bytes(p: *mut *const u8, n: *mut usize, b: &[u8]) {
    // An empty slice's pointer may dangle; C may not even pass such a pointer to memcmp with a
    // length of 0, so empty output points at a real (NUL) byte.
    static EMPTY: [u8; 1] = [0];
    let ptr = if b.is_empty() {
        EMPTY.as_ptr()
    } else {
        b.as_ptr()
    };
    // SAFETY: guaranteed by the caller.
    unsafe {
        put(p, ptr);
        put(n, b.len());
    }
}

/// Free a handle made by `Box::into_raw`.
///
/// # Safety
/// `h` is NULL or came from `Box::into_raw` and is not used afterwards.
unsafe fn free<H>(h: *mut H) {
    if h.is_null() {
        return;
    }
    // Dropping wipes every secret buffer the handle owns. A panic in a destructor must not
    // unwind into C either; the memory is then leaked, which is the safe outcome.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller guarantees `h` came from `Box::into_raw` and is not used again.
        drop(unsafe { Box::from_raw(h) });
    }));
}

// ---------------------------------------------------------------------------------------------
// Library-wide functions

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };

const fn parse_u32(s: &str) -> u32 {
    let mut b = s.as_bytes();
    let mut n: u32 = 0;
    while let [d, rest @ ..] = b {
        n = n
            .saturating_mul(10)
            .saturating_add(d.wrapping_sub(b'0') as u32);
        b = rest;
    }
    n
}

const VERSION_NUMBER: u32 = (parse_u32(env!("CARGO_PKG_VERSION_MAJOR")) << 16)
    | (parse_u32(env!("CARGO_PKG_VERSION_MINOR")) << 8)
    | parse_u32(env!("CARGO_PKG_VERSION_PATCH"));

/// The library's version, as text (`"0.1.0"`): a static NUL-terminated string.
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_version() -> *const c_char {
    guard_value(c"unknown".as_ptr(), || VERSION.as_ptr())
}

/// The library's version as a number: `major << 16 | minor << 8 | patch`.
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_version_number() -> u32 {
    guard_value(0, || VERSION_NUMBER)
}

/// A short English description of a `saslmech_result`: a static NUL-terminated string, never
/// NULL (unknown numbers get "unknown saslmech_result").
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_strerror(result: u32) -> *const c_char {
    guard_value(c"unknown saslmech_result".as_ptr(), || {
        result_text(result).as_ptr()
    })
}

/// A short English description of a `saslmech_failure`: a static NUL-terminated string, never
/// NULL, never containing input data.
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_failure_str(failure: u32) -> *const c_char {
    guard_value(c"unknown saslmech_failure".as_ptr(), || {
        failure_text(failure).as_ptr()
    })
}

/// The canonical IANA name of a mechanism (`"CRAM-MD5"`): a static NUL-terminated string, or
/// NULL if the number is not a mechanism this library implements.
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_mechanism_name(mechanism: saslmech_mechanism) -> *const c_char {
    guard_value(core::ptr::null(), || match mechanism_from_c(mechanism) {
        Ok(m) => mechanism_to_c(m).1.as_ptr(),
        Err(_) => core::ptr::null(),
    })
}

/// Look a mechanism up by name, ignoring ASCII case. `SASLMECH_UNKNOWN_MECHANISM` if this
/// library does not implement it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_mechanism_from_name(
    name: *const u8,
    name_len: usize,
    out: *mut saslmech_mechanism,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: `name` is valid for `name_len` bytes.
        let name = unsafe { bytes(name, name_len) }?;
        let m = Mechanism::from_name(name).ok_or(SASLMECH_UNKNOWN_MECHANISM)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, mechanism_to_c(m).0) };
        Ok(())
    })
}

/// A mechanism's properties, as `SASLMECH_PROP_*` bits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_mechanism_properties(
    mechanism: saslmech_mechanism,
    out: *mut saslmech_properties,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        let m = mechanism_from_c(mechanism)?;
        let mut p = 0;
        for (set, bit) in [
            (m.client_first(), SASLMECH_PROP_CLIENT_FIRST),
            (m.exposes_secret(), SASLMECH_PROP_EXPOSES_SECRET),
            (m.requires_tls(), SASLMECH_PROP_REQUIRES_TLS),
            (m.weak(), SASLMECH_PROP_WEAK),
            (m.channel_binding(), SASLMECH_PROP_CHANNEL_BINDING),
            (m.uses_password(), SASLMECH_PROP_USES_PASSWORD),
            (m.uses_token(), SASLMECH_PROP_USES_TOKEN),
        ] {
            if set {
                p |= bit;
            }
        }
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, p) };
        Ok(())
    })
}

/// Every mechanism this library implements, strongest first: a static array of `*len`
/// numbers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_mechanisms(
    list: *mut *const saslmech_mechanism,
    len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(list)?;
        nonnull(len)?;
        debug_assert_eq!(MECHANISMS.len(), mechanism::ALL.len());
        // SAFETY: both checked non-NULL above; the array is static.
        unsafe {
            put(list, MECHANISMS.as_ptr());
            put(len, MECHANISMS.len());
        }
        Ok(())
    })
}

/// Pick the strongest mechanism the client can use from a server's advertised list (the
/// mechanism names separated by spaces, as after `AUTH` in an SMTP EHLO reply, or tabs, CRs or
/// LFs). Names this library does not know, including names that are not UTF-8, are ignored.
/// `flags` is a set of `SASLMECH_SELECT_*` bits. `SASLMECH_ABSENT` if none fits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_select(
    advertised: *const u8,
    advertised_len: usize,
    flags: saslmech_select_flags,
    out: *mut saslmech_mechanism,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: `advertised` is valid for `advertised_len` bytes.
        let advertised = unsafe { bytes(advertised, advertised_len) }?;
        if flags & !SELECT_FLAGS != 0 {
            return Err(SASLMECH_INVALID_ARGUMENT);
        }
        let opts = SelectOptions {
            password: flags & SASLMECH_SELECT_PASSWORD != 0,
            token: flags & SASLMECH_SELECT_TOKEN != 0,
            tls: flags & SASLMECH_SELECT_TLS != 0,
            allow_plaintext: flags & SASLMECH_SELECT_ALLOW_PLAINTEXT != 0,
            channel_binding: flags & SASLMECH_SELECT_CHANNEL_BINDING != 0,
            external: flags & SASLMECH_SELECT_EXTERNAL != 0,
            anonymous: flags & SASLMECH_SELECT_ANONYMOUS != 0,
        };
        let names = advertised
            .split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .filter_map(|n| core::str::from_utf8(n).ok());
        let m = mechanism::select(names, opts).ok_or(SASLMECH_ABSENT)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, mechanism_to_c(m).0) };
        Ok(())
    })
}

/// Compare a password the client sent with the stored one in constant time (both are hashed
/// first, so neither the position of a difference nor a length mismatch shows in the timing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_ct_eq_password(
    given: *const u8,
    given_len: usize,
    stored: *const u8,
    stored_len: usize,
    equal: *mut bool,
) -> saslmech_result {
    guard(|| {
        nonnull(equal)?;
        // SAFETY: the C contract: each pointer is valid for its length.
        let (given, stored) = unsafe { (bytes(given, given_len)?, bytes(stored, stored_len)?) };
        let eq = ct_eq_password(given, stored);
        // SAFETY: `equal` checked non-NULL above.
        unsafe { put(equal, eq) };
        Ok(())
    })
}

/// Compare two byte strings in constant time for strings of the same (public) length, such as
/// digests; different lengths compare unequal at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_ct_eq(
    a: *const u8,
    a_len: usize,
    b: *const u8,
    b_len: usize,
    equal: *mut bool,
) -> saslmech_result {
    guard(|| {
        nonnull(equal)?;
        // SAFETY: the C contract: each pointer is valid for its length.
        let (a, b) = unsafe { (bytes(a, a_len)?, bytes(b, b_len)?) };
        let eq = ct_eq(a, b);
        // SAFETY: `equal` checked non-NULL above.
        unsafe { put(equal, eq) };
        Ok(())
    })
}

/// Encode bytes as padded standard base64 into `out` (capacity `out_cap`), writing the length
/// to `*out_len`. `out_cap` must be at least `4 * ((in_len + 2) / 3)`, else
/// `SASLMECH_BUFFER_TOO_SMALL`. No NUL terminator is written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_b64_encode(
    input: *const u8,
    input_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        nonnull(out_len)?;
        // SAFETY: the C contract: `input` is valid for `input_len` bytes.
        let input = unsafe { bytes(input, input_len) }?;
        let mut buf = SecretBuf::new();
        b64::encode_into(input, &mut buf);
        // SAFETY: as above, for `out`.
        unsafe { copy_out(buf.as_slice(), out, out_cap, out_len) }
    })
}

/// Decode strict base64 (RFC 4648: no whitespace, padding only at the end) into `out`
/// (capacity `out_cap`, at least `3 * (in_len / 4)`), writing the length to `*out_len`.
/// Invalid base64 is `SASLMECH_FAILED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_b64_decode(
    input: *const u8,
    input_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        nonnull(out_len)?;
        // SAFETY: the C contract: `input` is valid for `input_len` bytes.
        let input = unsafe { bytes(input, input_len) }?;
        if out_cap < input_len / 4 * 3 {
            return Err(SASLMECH_BUFFER_TOO_SMALL);
        }
        let buf = b64::decode(input).map_err(|_| SASLMECH_FAILED)?;
        // SAFETY: as above, for `out`.
        unsafe { copy_out(buf.as_slice(), out, out_cap, out_len) }
    })
}

/// Copy `src` into a caller's buffer.
///
/// # Safety
/// `out` is non-NULL and valid for `cap` byte writes; `out_len` non-NULL and writable.
unsafe fn copy_out(src: &[u8], out: *mut u8, cap: usize, out_len: *mut usize) -> R<()> {
    if src.len() > cap {
        return Err(SASLMECH_BUFFER_TOO_SMALL);
    }
    // SAFETY: `out` has room for `cap >= src.len()` bytes (caller); `src` is our own memory,
    // which cannot overlap a buffer the caller owns.
    unsafe {
        core::ptr::copy_nonoverlapping(src.as_ptr(), out, src.len());
        put(out_len, src.len());
    }
    Ok(())
}

/// Derive CRAM-MD5's key state (the HMAC-MD5 inner and outer pads, 32 bytes) from a password,
/// so that a server can store it instead of the password and answer a
/// `SASLMECH_REQUEST_SECRET` with `saslmech_server_answer_cram_md5_keys`. `out_cap` must be at
/// least `SASLMECH_CRAM_MD5_KEYS_LEN`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_cram_md5_keys_from_password(
    password: *const u8,
    password_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        if out_cap < SASLMECH_CRAM_MD5_KEYS_LEN {
            return Err(SASLMECH_BUFFER_TOO_SMALL);
        }
        // SAFETY: the C contract: `password` is valid for `password_len` bytes.
        let password = unsafe { bytes(password, password_len) }?;
        let mut keys = CramMd5Keys::from_password(password).to_bytes();
        // SAFETY: as above, for `out` with `out_cap` bytes.
        let r = unsafe { copy_keys(&keys, out, out_cap) };
        zeroize::Zeroize::zeroize(&mut keys);
        r
    })
}

/// Parse CRAM-MD5's key state from Dovecot's `{CRAM-MD5}` + 64 hex digits form (either case;
/// the prefix is optional) into 32 bytes. Text that does not parse is `SASLMECH_FAILED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_cram_md5_keys_from_dovecot(
    text: *const u8,
    text_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        if out_cap < SASLMECH_CRAM_MD5_KEYS_LEN {
            return Err(SASLMECH_BUFFER_TOO_SMALL);
        }
        // SAFETY: the C contract: `text` is valid for `text_len` bytes.
        let text = unsafe { self::text(text, text_len) }?;
        let parsed = CramMd5Keys::from_dovecot(text).ok_or(SASLMECH_FAILED)?;
        let mut keys = parsed.to_bytes();
        // SAFETY: as above, for `out` with `out_cap` bytes.
        let r = unsafe { copy_keys(&keys, out, out_cap) };
        zeroize::Zeroize::zeroize(&mut keys);
        r
    })
}

/// # Safety
/// `out` is non-NULL and valid for `cap` byte writes.
unsafe fn copy_keys(keys: &[u8; 32], out: *mut u8, cap: usize) -> R<()> {
    if cap < SASLMECH_CRAM_MD5_KEYS_LEN {
        return Err(SASLMECH_BUFFER_TOO_SMALL);
    }
    // SAFETY: room for 32 bytes (checked); our array cannot overlap the caller's buffer.
    unsafe { core::ptr::copy_nonoverlapping(keys.as_ptr(), out, keys.len()) };
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SCRAM stored keys

/// SCRAM's stored keys for one user (salt, iteration count, StoredKey, ServerKey; never the
/// password), to answer a SCRAM secret request with `saslmech_server_answer_scram_keys`.
/// Immutable once made; may be shared by threads.
pub struct saslmech_scram_keys {
    keys: ScramKeys,
    /// The RFC 5803 text, made once (it holds the keys: wiped when freed).
    rfc5803: SecretBuf,
    poisoned: Poison,
}

impl Handle for saslmech_scram_keys {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

/// Box new keys into `out`.
///
/// # Safety
/// `out` is non-NULL and writable.
unsafe fn put_scram_keys(out: *mut *mut saslmech_scram_keys, keys: ScramKeys) {
    let text = keys.to_rfc5803();
    let h = saslmech_scram_keys {
        rfc5803: SecretBuf::from_slice(text.as_bytes()),
        keys,
        poisoned: Poison::default(),
    };
    // The String held the keys too; wipe it before it is freed.
    let mut text = text.into_bytes();
    zeroize::Zeroize::zeroize(&mut text);
    // SAFETY: guaranteed by the caller.
    unsafe { put(out, Box::into_raw(Box::new(h))) };
}

/// The keys a handle holds, for an answer.
///
/// # Safety
/// `keys` is NULL or a live handle not being changed.
unsafe fn scram_keys_ref<'a>(keys: *const saslmech_scram_keys) -> R<&'a ScramKeys> {
    // SAFETY: guaranteed by the caller.
    let k = unsafe { keys.as_ref() }.ok_or(SASLMECH_NULL_ARGUMENT)?;
    if k.poisoned.get() {
        return Err(SASLMECH_POISONED);
    }
    Ok(&k.keys)
}

/// A password from C for SCRAM: UTF-8 (SASLprep works on text).
///
/// # Safety
/// As [`bytes`].
unsafe fn scram_password<'a>(p: *const u8, len: usize) -> R<&'a [u8]> {
    // SAFETY: forwarded from the caller.
    let pw = unsafe { bytes(p, len) }?;
    core::str::from_utf8(pw).map_err(|_| SASLMECH_INVALID_UTF8)?;
    Ok(pw)
}

/// Derive SCRAM keys for `hash` (`SASLMECH_SCRAM_*`) from a password (UTF-8, prepared with
/// SASLprep), a salt and an iteration count, as stored when the password is set. Refused
/// (`SASLMECH_INVALID_ARGUMENT`): an empty salt, 0 iterations, a password SASLprep rejects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_derive(
    hash: saslmech_scram_hash,
    password: *const u8,
    password_len: usize,
    salt: *const u8,
    salt_len: usize,
    iterations: u32,
    out: *mut *mut saslmech_scram_keys,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: each pointer is valid for its length.
        let (password, salt) = unsafe {
            (
                scram_password(password, password_len)?,
                bytes(salt, salt_len)?,
            )
        };
        let hash = scram_hash_from_c(hash)?;
        let keys = ScramKeys::derive(hash, password, salt, iterations).map_err(error_to_c)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put_scram_keys(out, keys) };
        Ok(())
    })
}

/// `saslmech_scram_keys_derive` with a fresh random 16-octet salt, for storing a new password.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_generate(
    hash: saslmech_scram_hash,
    password: *const u8,
    password_len: usize,
    iterations: u32,
    out: *mut *mut saslmech_scram_keys,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: `password` is valid for `password_len` bytes.
        let password = unsafe { scram_password(password, password_len) }?;
        let hash = scram_hash_from_c(hash)?;
        let keys = ScramKeys::generate(hash, password, iterations).map_err(error_to_c)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put_scram_keys(out, keys) };
        Ok(())
    })
}

/// Read keys in the RFC 5803 form
/// `SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>` (as
/// Dovecot and OpenLDAP store them). Text that does not parse is `SASLMECH_FAILED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_from_rfc5803(
    text: *const u8,
    text_len: usize,
    out: *mut *mut saslmech_scram_keys,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: `text` is valid for `text_len` bytes.
        let text = unsafe { self::text(text, text_len) }?;
        let keys = ScramKeys::from_rfc5803(text).map_err(|_| SASLMECH_FAILED)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put_scram_keys(out, keys) };
        Ok(())
    })
}

/// The keys in the RFC 5803 form, to store. ASCII, not NUL-terminated; valid until the keys
/// are freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_to_rfc5803(
    keys: *const saslmech_scram_keys,
    text: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is a live handle.
    unsafe {
        with_ref(keys, |k| {
            nonnull(text)?;
            nonnull(len)?;
            put_bytes(text, len, k.rfc5803.as_slice());
            Ok(())
        })
    }
}

/// The keys' hash (`SASLMECH_SCRAM_*`) and iteration count.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_params(
    keys: *const saslmech_scram_keys,
    hash: *mut saslmech_scram_hash,
    iterations: *mut u32,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is a live handle.
    unsafe {
        with_ref(keys, |k| {
            nonnull(hash)?;
            nonnull(iterations)?;
            put(hash, scram_hash_to_c(k.keys.hash()));
            put(iterations, k.keys.iterations());
            Ok(())
        })
    }
}

/// Free SCRAM keys (NULL is a no-op), wiping them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_free(keys: *mut saslmech_scram_keys) {
    // SAFETY: the C contract: `keys` came from a `saslmech_scram_keys_*` constructor, freed once.
    unsafe { free(keys) }
}

// ---------------------------------------------------------------------------------------------
// SCRAM client cache

/// What a SCRAM client may keep between logins to one server so that it need not run PBKDF2
/// again: the server's salt and iteration count and the keys derived from them. Get it from a
/// client after a successful exchange (`saslmech_client_scram_cache`) or make it from a
/// SaltedPassword (`saslmech_scram_client_cache_from_salted_password`); give it to
/// `saslmech_credentials_set_scram_cache`. Used only while the server announces the same salt
/// and iteration count; otherwise the client derives from the password again (and fails
/// without one). Like a password, it lets its holder log in: store it as carefully.
/// Immutable once made; may be shared by threads.
pub struct saslmech_scram_client_cache {
    cache: ScramClientCache,
    poisoned: Poison,
}

impl Handle for saslmech_scram_client_cache {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

/// Box a cache into `out`.
///
/// # Safety
/// `out` is non-NULL and writable.
unsafe fn put_scram_client_cache(
    out: *mut *mut saslmech_scram_client_cache,
    cache: ScramClientCache,
) {
    let h = saslmech_scram_client_cache {
        cache,
        poisoned: Poison::default(),
    };
    // SAFETY: guaranteed by the caller.
    unsafe { put(out, Box::into_raw(Box::new(h))) };
}

/// A cache from a SaltedPassword (`Hi(password, salt, iterations)` of RFC 5802, 20 bytes for
/// SHA-1, 32 for SHA-256) computed or stored elsewhere, with the salt and iteration count it
/// was computed with. `SASLMECH_INVALID_ARGUMENT` for a wrong length, an empty salt or 0
/// iterations.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_client_cache_from_salted_password(
    hash: saslmech_scram_hash,
    salted_password: *const u8,
    salted_password_len: usize,
    salt: *const u8,
    salt_len: usize,
    iterations: u32,
    out: *mut *mut saslmech_scram_client_cache,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: each pointer is valid for its length.
        let (salted, salt) = unsafe {
            (
                bytes(salted_password, salted_password_len)?,
                bytes(salt, salt_len)?,
            )
        };
        let hash = scram_hash_from_c(hash)?;
        let cache = ScramClientCache::from_salted_password(hash, salted, salt, iterations)
            .map_err(error_to_c)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put_scram_client_cache(out, cache) };
        Ok(())
    })
}

/// The cache's hash (`SASLMECH_SCRAM_*`), iteration count and salt (valid until the cache is
/// freed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_client_cache_params(
    cache: *const saslmech_scram_client_cache,
    hash: *mut saslmech_scram_hash,
    iterations: *mut u32,
    salt: *mut *const u8,
    salt_len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `cache` is a live handle.
    unsafe {
        with_ref(cache, |c| {
            nonnull(hash)?;
            nonnull(iterations)?;
            nonnull(salt)?;
            nonnull(salt_len)?;
            put(hash, scram_hash_to_c(c.cache.hash()));
            put(iterations, c.cache.iterations());
            put_bytes(salt, salt_len, c.cache.salt());
            Ok(())
        })
    }
}

/// Free a cache (NULL is a no-op), wiping its keys.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_client_cache_free(cache: *mut saslmech_scram_client_cache) {
    // SAFETY: the C contract: `cache` came from a `saslmech_*scram*cache*` constructor, freed
    // once.
    unsafe { free(cache) }
}

// ---------------------------------------------------------------------------------------------
// Server configuration

/// Server policy and limits, shared by many sessions. Sessions take a snapshot when they are
/// made (`saslmech_server_new`): later changes affect only new sessions, and the config may be
/// freed while sessions made from it live on. The functions taking it `const` may be called
/// from several threads at once; the setters need exclusive access.
pub struct saslmech_server_config {
    config: Arc<ServerConfig>,
    /// The advertised lists, indexed by `query_index` (kept ready so that reads are `const`).
    offered: [String; 8],
    poisoned: Poison,
}

impl Handle for saslmech_server_config {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_server_config {
    fn new(config: ServerConfig) -> Self {
        let mut c = saslmech_server_config {
            config: Arc::new(config),
            offered: Default::default(),
            poisoned: Poison::default(),
        };
        c.refresh();
        c
    }

    /// Apply a builder method (copying the configuration first if sessions share it).
    fn edit(&mut self, f: impl FnOnce(ServerConfig) -> ServerConfig) {
        let c = Arc::make_mut(&mut self.config);
        *c = f(core::mem::take(c));
        self.refresh();
    }

    fn refresh(&mut self) {
        for (i, list) in self.offered.iter_mut().enumerate() {
            list.clear();
            let transport = query_transport(i);
            for m in self.config.offered_on(&transport) {
                if !list.is_empty() {
                    list.push(' ');
                }
                list.push_str(m.name());
            }
        }
    }
}

/// The index of the connection described by query flags (`SASLMECH_SERVER_TLS`,
/// `_CHANNEL_BINDING`, `_EXTERNAL`) among the eight kinds.
fn query_index(flags: saslmech_server_flags) -> usize {
    usize::from(flags & SASLMECH_SERVER_TLS != 0)
        | usize::from(flags & SASLMECH_SERVER_CHANNEL_BINDING != 0) << 1
        | usize::from(flags & SASLMECH_SERVER_EXTERNAL != 0) << 2
}

/// A transport of the kind `query_index` numbers (placeholder data: only its presence
/// matters to the policy).
fn query_transport(index: usize) -> Transport {
    let mut t = if index & 1 != 0 {
        Transport::tls()
    } else {
        Transport::plaintext()
    };
    if index & 2 != 0 {
        t = t.with_channel_binding(ChannelBindingType::TlsExporter, &[0; 32]);
    }
    if index & 4 != 0 {
        t = t.with_external_identity("external");
    }
    t
}

/// Make a server configuration with the defaults: SCRAM-SHA-256-PLUS, SCRAM-SHA-256,
/// SCRAM-SHA-1-PLUS, SCRAM-SHA-1, OAUTHBEARER, XOAUTH2, CRAM-MD5, PLAIN and LOGIN enabled (in
/// that order; EXTERNAL and ANONYMOUS only when listed with `_set_mechanisms`); mechanisms
/// that expose a secret or a bearer token need TLS; weak mechanisms allowed; 64 KiB per
/// message, 1024-octet identities, 10 round trips; OS randomness; host name `localhost`; 4096
/// SCRAM iterations and a random SCRAM fake-salt secret.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_new(
    out: *mut *mut saslmech_server_config,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        let h = Box::into_raw(Box::new(saslmech_server_config::new(ServerConfig::new())));
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, h) };
        Ok(())
    })
}

/// Free a server configuration (NULL is a no-op). Sessions made from it are not affected.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_free(config: *mut saslmech_server_config) {
    // SAFETY: the C contract: `config` came from `saslmech_server_config_new`, freed once.
    unsafe { free(config) }
}

/// The mechanisms to enable, in the order they are advertised (`len` may be 0: none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_mechanisms(
    config: *mut saslmech_server_config,
    mechanisms: *const saslmech_mechanism,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if mechanisms.is_null() {
                return Err(SASLMECH_NULL_ARGUMENT);
            }
            if len > isize::MAX as usize / size_of::<u32>() {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            // SAFETY: non-NULL (checked), `u32`-aligned and valid for `len` values (the C
            // contract), total size within `isize` (checked).
            let list = core::slice::from_raw_parts(mechanisms, len);
            let list: Vec<Mechanism> = list
                .iter()
                .map(|m| mechanism_from_c(*m))
                .collect::<R<_>>()?;
            c.edit(|cfg| cfg.mechanisms(&list));
            Ok(())
        })
    }
}

/// Allow mechanisms that expose a reusable secret (PLAIN, LOGIN, XOAUTH2) without TLS. Only
/// for tests and channels protected otherwise (loopback, a local socket).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_allow_plaintext(
    config: *mut saslmech_server_config,
    allow: bool,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            c.edit(|cfg| cfg.allow_plaintext_without_tls(allow));
            Ok(())
        })
    }
}

/// Allow weak mechanisms (CRAM-MD5); on by default.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_allow_weak(
    config: *mut saslmech_server_config,
    allow: bool,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            c.edit(|cfg| cfg.allow_weak(allow));
            Ok(())
        })
    }
}

/// The host name placed in CRAM-MD5 challenges: 1 to 255 octets of UTF-8 without spaces,
/// control characters, `<` or `>` (else `SASLMECH_INVALID_ARGUMENT`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_hostname(
    config: *mut saslmech_server_config,
    hostname: *const u8,
    hostname_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `hostname`
    // is valid for `hostname_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let name = text(hostname, hostname_len)?;
            let bad = |ch: char| ch.is_control() || ch.is_whitespace() || ch == '<' || ch == '>';
            if name.is_empty() || name.len() > 255 || name.chars().any(bad) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.edit(|cfg| cfg.hostname(name));
            Ok(())
        })
    }
}

/// Maximum size of one decoded client message, in octets (at least 1; default 65536).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_max_message(
    config: *mut saslmech_server_config,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if max == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.edit(|cfg| cfg.max_message(max));
            Ok(())
        })
    }
}

/// Maximum length of an identity, in octets (values below 255 are raised to 255, which
/// RFC 4616 requires servers to accept; default 1024).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_max_identity(
    config: *mut saslmech_server_config,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            c.edit(|cfg| cfg.max_identity(max));
            Ok(())
        })
    }
}

/// Maximum number of client messages in one exchange (1 to 65535; default 10).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_max_steps(
    config: *mut saslmech_server_config,
    max: u32,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            let max = u16::try_from(max)
                .ok()
                .filter(|m| *m > 0)
                .ok_or(SASLMECH_INVALID_ARGUMENT)?;
            c.edit(|cfg| cfg.max_steps(max));
            Ok(())
        })
    }
}

/// Take nonces from the operating system's random number generator (the default).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_nonce_os(
    config: *mut saslmech_server_config,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            c.edit(|cfg| cfg.nonce_source(NonceSource::Os));
            Ok(())
        })
    }
}

/// Use these bytes verbatim as the nonce of every session (CRAM-MD5's challenge is then
/// `<nonce@hostname>`): 1 to 255 printable ASCII characters other than `<`, `>`, `@`.
/// ONLY for tests and RFC vectors: a fixed nonce makes CRAM-MD5 replayable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_nonce_fixed(
    config: *mut saslmech_server_config,
    nonce: *const u8,
    nonce_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `nonce` is
    // valid for `nonce_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let nonce = bytes(nonce, nonce_len)?;
            let ok = |b: &u8| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'@');
            if nonce.is_empty() || nonce.len() > 255 || !nonce.iter().all(ok) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let nonce = nonce.to_vec();
            c.edit(|cfg| cfg.nonce_source(NonceSource::Fixed(nonce)));
            Ok(())
        })
    }
}

/// The secret that keys the salts SCRAM shows for unknown users and for users answered with a
/// plaintext password (at least 1 octet): set the same one on every server of a cluster and
/// keep it across restarts, so that a probe cannot tell a made-up user from a real one. By
/// default it is random per configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_scram_secret(
    config: *mut saslmech_server_config,
    secret: *const u8,
    secret_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `secret` is
    // valid for `secret_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let secret = bytes(secret, secret_len)?;
            if secret.is_empty() {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.edit(|cfg| cfg.scram_secret(secret));
            Ok(())
        })
    }
}

/// The SCRAM iteration count used when a request is answered with a plaintext password and
/// for unknown users (at least 1; default 4096). Make it match the stored keys', so that
/// unknown users do not stand out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_scram_iterations(
    config: *mut saslmech_server_config,
    iterations: u32,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if iterations == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.edit(|cfg| cfg.scram_iterations(iterations));
            Ok(())
        })
    }
}

/// The `openid-configuration` URL OAUTHBEARER error challenges carry (RFC 7628 §3.2.2), UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_oauth_openid_configuration(
    config: *mut saslmech_server_config,
    url: *const u8,
    url_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `url` is
    // valid for `url_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let url = text(url, url_len)?;
            c.edit(|cfg| cfg.oauth_openid_configuration(url));
            Ok(())
        })
    }
}

/// The configured maximum size of one client message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_max_message(
    config: *const saslmech_server_config,
    out: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle not being changed.
    unsafe {
        with_ref(config, |c| {
            nonnull(out)?;
            put(out, c.config.max_message_len());
            Ok(())
        })
    }
}

/// The mechanisms to advertise on a connection described by `flags` (`SASLMECH_SERVER_TLS`,
/// `SASLMECH_SERVER_CHANNEL_BINDING` for the `-PLUS` mechanisms, `SASLMECH_SERVER_EXTERNAL`
/// for EXTERNAL; the other bits do not matter), as their names separated by single spaces,
/// ready for an EHLO `AUTH` line or an IMAP `CAPABILITY`; empty if none. Valid until the next
/// setter on this config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_offered(
    config: *const saslmech_server_config,
    flags: saslmech_server_flags,
    names: *mut *const u8,
    names_len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle not being changed.
    unsafe {
        with_ref(config, |c| {
            nonnull(names)?;
            nonnull(names_len)?;
            if flags & !QUERY_FLAGS != 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let list = c.offered.get(query_index(flags)).ok_or(SASLMECH_PANIC)?;
            put_bytes(names, names_len, list.as_bytes());
            Ok(())
        })
    }
}

/// Whether `mechanism` may be used on a connection described by `flags` (as for
/// `saslmech_server_config_offered`): writes `SASLMECH_FAILURE_NONE` if so, else
/// `MECHANISM_UNAVAILABLE` (also a `-PLUS` mechanism without channel binding, EXTERNAL without
/// an external identity), `MECHANISM_TOO_WEAK` or `ENCRYPTION_REQUIRED` (what
/// `saslmech_server_start` would fail with).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_check(
    config: *const saslmech_server_config,
    mechanism: saslmech_mechanism,
    flags: saslmech_server_flags,
    verdict: *mut saslmech_failure,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle not being changed.
    unsafe {
        with_ref(config, |c| {
            nonnull(verdict)?;
            let m = mechanism_from_c(mechanism)?;
            if flags & !QUERY_FLAGS != 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let transport = query_transport(query_index(flags));
            let v = match c.config.check_transport(m, &transport) {
                Ok(()) => saslmech_failure::SASLMECH_FAILURE_NONE,
                Err(f) => failure_to_c(f),
            };
            put(verdict, v);
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Server sessions

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
    fn pending(&self) -> R<Pending<'_>> {
        Ok(self
            .session()?
            .request()
            .ok_or(SASLMECH_INVALID_STATE)?
            .into())
    }

    /// Who authenticated (`SASLMECH_INVALID_STATE` before success).
    fn identity(&self) -> R<Authenticated<'_>> {
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

    fn answer(&mut self, answer: Answer<'_>) -> R<saslmech_status> {
        self.run(Op::Answer(answer))
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
    // SAFETY: the C contract: `config` is a live handle not being changed.
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
                poisoned: Poison::default(),
            };
            put(out, Box::into_raw(Box::new(h)));
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

/// # Safety
/// The C contract: `server` is a live handle used by this thread only; the initial response
/// pointer is NULL or valid for its length.
unsafe fn server_start(
    server: *mut saslmech_server,
    initial_response: Option<(*const u8, usize)>,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(server, |s| {
            nonnull(status)?;
            let ir = match initial_response {
                Some((p, n)) => Some(bytes(p, n)?),
                None => None,
            };
            put(status, s.start(ir)?);
            Ok(())
        })
    }
}

/// Start the exchange with the client's initial response (`len` may be 0: an empty initial
/// response, which SMTP, IMAP and POP3 send as `=`; pass the empty string, not `"="`). In
/// base64 mode the response is base64 text. Writes what comes next to `*status`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_start(
    server: *mut saslmech_server,
    initial_response: *const u8,
    len: usize,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_start(server, Some((initial_response, len)), status) }
}

/// Start the exchange without an initial response (the client sent none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_start_no_ir(
    server: *mut saslmech_server,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_start(server, None, status) }
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

/// The challenge to send, after `SASLMECH_STATUS_CHALLENGE` (base64 text in base64 mode; may be
/// empty: SMTP then sends `334 ` with the space). Valid until the next non-const call on this
/// session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_challenge(
    server: *const saslmech_server,
    challenge: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(challenge)?;
            nonnull(len)?;
            if s.status != Some(SASLMECH_STATUS_CHALLENGE) {
                return Err(SASLMECH_INVALID_STATE);
            }
            let message = s.session()?.last_message().unwrap_or_default();
            put_bytes(challenge, len, message);
            Ok(())
        })
    }
}

/// The kind of the pending request, after `SASLMECH_STATUS_REQUEST`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_request(
    server: *const saslmech_server,
    kind: *mut saslmech_request,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(kind)?;
            put(kind, s.pending()?.kind);
            Ok(())
        })
    }
}

/// Which part of the pending request (or of the identity) an accessor wants.
#[derive(Clone, Copy)]
enum Part {
    Authcid,
    Authzid,
    Password,
    Token,
    Effective,
    Host,
    Trace,
}

/// A pending request as the C accessors see it, whether the engine's session
/// ([`Request`]) or a protocol adapter ([`AuthRequest`]) holds it: one place decides which
/// part each kind of request has.
struct Pending<'a> {
    kind: saslmech_request,
    /// The authcid; for a token request, the user the client names.
    user: &'a str,
    authzid: Option<&'a str>,
    password: Option<&'a [u8]>,
    token: Option<&'a [u8]>,
    host: Option<&'a str>,
    port: Option<u16>,
}

impl<'a> Pending<'a> {
    fn new(kind: saslmech_request, user: &'a str) -> Self {
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
        use saslmech_request::*;
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
        if self.kind != saslmech_request::SASLMECH_REQUEST_VALIDATE_TOKEN {
            return Err(SASLMECH_INVALID_STATE);
        }
        self.port.ok_or(SASLMECH_ABSENT)
    }
}

impl<'a> From<Request<'a>> for Pending<'a> {
    fn from(r: Request<'a>) -> Self {
        use saslmech_request::*;
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
        }
    }
}

impl<'a> From<&'a AuthRequest> for Pending<'a> {
    fn from(r: &'a AuthRequest) -> Self {
        use saslmech_request::*;
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
        }
    }
}

/// Who authenticated, as the C accessors see it (engine session or protocol adapter).
struct Authenticated<'a> {
    authcid: &'a str,
    authzid: Option<&'a str>,
    trace: Option<&'a str>,
}

impl<'a> Authenticated<'a> {
    fn part(&self, part: Part) -> R<Option<&'a [u8]>> {
        Ok(match part {
            Part::Authcid => Some(self.authcid.as_bytes()),
            Part::Authzid => self.authzid.map(str::as_bytes),
            Part::Trace => self.trace.map(str::as_bytes),
            Part::Password | Part::Token | Part::Effective | Part::Host => {
                Some(self.authzid.unwrap_or(self.authcid).as_bytes())
            }
        })
    }
}

/// Write the part `get` finds to C (`SASLMECH_ABSENT` if there is none), after checking the
/// out-parameters: a NULL one is `SASLMECH_NULL_ARGUMENT` whatever the state.
///
/// # Safety
/// `p` and `n` are NULL (refused) or writable.
unsafe fn put_part<'a>(
    p: *mut *const u8,
    n: *mut usize,
    get: impl FnOnce() -> R<Option<&'a [u8]>>,
) -> R<()> {
    nonnull(p)?;
    nonnull(n)?;
    let bytes = get()?.ok_or(SASLMECH_ABSENT)?;
    // SAFETY: checked non-NULL above; writable by the caller's contract.
    unsafe { put_bytes(p, n, bytes) };
    Ok(())
}

unsafe fn server_request_part(
    server: *const saslmech_server,
    part: Part,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe { with_ref(server, |s| put_part(p, n, || s.pending()?.part(part))) }
}

/// The user the pending request is about: the authentication identity (for a token request,
/// the user the client names). UTF-8, not NUL-terminated; valid until the next non-const call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_request_authcid(
    server: *const saslmech_server,
    authcid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_request_part(server, Part::Authcid, authcid, len) }
}

/// The authorization identity of a password, token (OAUTHBEARER's GS2 header) or authorize
/// request; `SASLMECH_ABSENT` if the client asked for none (or the request kind has none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_request_authzid(
    server: *const saslmech_server,
    authzid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_request_part(server, Part::Authzid, authzid, len) }
}

/// The password the client sent, for `SASLMECH_REQUEST_VERIFY_PASSWORD` (else
/// `SASLMECH_INVALID_STATE`). Compare it in constant time (`saslmech_ct_eq_password`), or let
/// the library do it with `saslmech_server_answer_password`. Never log it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_request_password(
    server: *const saslmech_server,
    password: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_request_part(server, Part::Password, password, len) }
}

/// The bearer token, for `SASLMECH_REQUEST_VALIDATE_TOKEN` (else `SASLMECH_INVALID_STATE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_request_token(
    server: *const saslmech_server,
    token: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_request_part(server, Part::Token, token, len) }
}

/// OAUTHBEARER: the `host` the client says it connected to, for a token request
/// (`SASLMECH_ABSENT` if it did not say; `SASLMECH_INVALID_STATE` for other requests).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_request_host(
    server: *const saslmech_server,
    host: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_request_part(server, Part::Host, host, len) }
}

/// OAUTHBEARER: the `port` the client says it connected to, for a token request
/// (`SASLMECH_ABSENT` if it did not say; `SASLMECH_INVALID_STATE` for other requests).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_request_port(
    server: *const saslmech_server,
    port: *mut u16,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(port)?;
            put(port, s.pending()?.port()?);
            Ok(())
        })
    }
}

/// Answer the pending request with `answer` and write what comes next to `*status`.
///
/// # Safety
/// The C contract: `server` is a live handle used by this thread only; `status` is NULL or
/// writable.
unsafe fn server_answer(
    server: *mut saslmech_server,
    status: *mut saslmech_status,
    answer: impl FnOnce(&mut saslmech_server) -> R<saslmech_status>,
) -> saslmech_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(server, |s| {
            nonnull(status)?;
            let st = answer(s)?;
            put(status, st);
            Ok(())
        })
    }
}

/// Accept: the password or token is valid, or the authorization is allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_accept(
    server: *mut saslmech_server,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_answer(server, status, |s| s.answer(Answer::Accept)) }
}

/// Reject: the password or token is invalid, or the authorization is denied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_reject(
    server: *mut saslmech_server,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_answer(server, status, |s| s.answer(Answer::Reject)) }
}

/// No such user: fails exactly like a wrong password (CRAM-MD5 does the same work first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_unknown_user(
    server: *mut saslmech_server,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_answer(server, status, |s| s.answer(Answer::UnknownUser)) }
}

/// The account exists but is disabled (`SASLMECH_FAILURE_ACCOUNT_DISABLED`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_account_disabled(
    server: *mut saslmech_server,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_answer(server, status, |s| s.answer(Answer::AccountDisabled)) }
}

/// The backend cannot answer now (`SASLMECH_FAILURE_TEMPORARY`, SMTP 454).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_temporary_failure(
    server: *mut saslmech_server,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_answer(server, status, |s| s.answer(Answer::TemporaryFailure)) }
}

/// The stored plaintext password, for the library to compare in constant time (password
/// requests) or to verify the CRAM-MD5 digest with (secret requests).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_password(
    server: *mut saslmech_server,
    password: *const u8,
    len: usize,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `password` is valid for `len` bytes; `server` forwarded.
    unsafe {
        server_answer(server, status, |s| {
            s.answer(Answer::Password(bytes(password, len)?))
        })
    }
}

/// CRAM-MD5's precomputed key state (`SASLMECH_CRAM_MD5_KEYS_LEN` bytes, from
/// `saslmech_cram_md5_keys_from_password` or `_from_dovecot`), for a secret request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_cram_md5_keys(
    server: *mut saslmech_server,
    keys: *const u8,
    len: usize,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is valid for `len` bytes; `server` forwarded.
    unsafe {
        server_answer(server, status, |s| {
            let keys = cram_keys(bytes(keys, len)?)?; // wiped when dropped
            s.answer(Answer::CramMd5Keys(&keys))
        })
    }
}

/// SCRAM's stored keys (`saslmech_scram_keys_*`), for a secret request from a SCRAM
/// mechanism: the keys' hash must be the mechanism's (else `SASLMECH_WRONG_ANSWER`). The
/// keys are copied; free them whenever convenient.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_scram_keys(
    server: *mut saslmech_server,
    keys: *const saslmech_scram_keys,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is NULL or a live handle not being changed; `server`
    // forwarded.
    unsafe {
        server_answer(server, status, |s| {
            let keys = scram_keys_ref(keys)?;
            s.answer(Answer::ScramKeys(keys))
        })
    }
}

/// OAUTHBEARER: the token is valid and belongs to `user` (UTF-8). Needed when the client sent
/// no authorization identity; when it did and it differs, an authorize request follows.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_token_owner(
    server: *mut saslmech_server,
    user: *const u8,
    user_len: usize,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `user` is valid for `user_len` bytes; `server` forwarded.
    unsafe {
        server_answer(server, status, |s| {
            s.answer(Answer::TokenOwner(text(user, user_len)?))
        })
    }
}

/// CRAM-MD5 key state from C bytes (exactly `SASLMECH_CRAM_MD5_KEYS_LEN`).
fn cram_keys(b: &[u8]) -> R<CramMd5Keys> {
    let keys = <&[u8; 32]>::try_from(b).map_err(|_| SASLMECH_INVALID_ARGUMENT)?;
    Ok(CramMd5Keys::from_bytes(keys))
}

/// The token is invalid: send an error challenge with this `status` (XOAUTH2: an HTTP code such
/// as `"401"`), then fail. UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_token_error(
    server: *mut saslmech_server,
    error_status: *const u8,
    error_status_len: usize,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: `error_status` is valid for its length; `server` forwarded.
    unsafe {
        server_answer(server, status, |s| {
            let e = TokenError {
                status: text(error_status, error_status_len)?,
                scope: None,
            };
            s.answer(Answer::TokenError(e))
        })
    }
}

/// `saslmech_server_answer_token_error` with the scope the token needs. UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_answer_token_error_scope(
    server: *mut saslmech_server,
    error_status: *const u8,
    error_status_len: usize,
    scope: *const u8,
    scope_len: usize,
    status: *mut saslmech_status,
) -> saslmech_result {
    // SAFETY: the C contract: both texts are valid for their lengths; `server` forwarded.
    unsafe {
        server_answer(server, status, |s| {
            let e = TokenError {
                status: text(error_status, error_status_len)?,
                scope: Some(text(scope, scope_len)?),
            };
            s.answer(Answer::TokenError(e))
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

unsafe fn server_identity(
    server: *const saslmech_server,
    part: Part,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe { with_ref(server, |s| put_part(p, n, || s.identity()?.part(part))) }
}

/// Who authenticated (the authentication identity), after `SASLMECH_STATUS_SUCCESS`. UTF-8,
/// not NUL-terminated; valid until the session is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_identity_authcid(
    server: *const saslmech_server,
    authcid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_identity(server, Part::Authcid, authcid, len) }
}

/// The authorization identity the client asked to act as (and was allowed to), after
/// success; `SASLMECH_ABSENT` if it asked for none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_identity_authzid(
    server: *const saslmech_server,
    authzid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_identity(server, Part::Authzid, authzid, len) }
}

/// The identity to act as after success: the authzid if one was given, else the authcid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_identity_effective(
    server: *const saslmech_server,
    identity: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_identity(server, Part::Effective, identity, len) }
}

/// ANONYMOUS: the trace information the client sent (possibly empty), after success; for
/// logs only, the identity is always `anonymous`. `SASLMECH_ABSENT` for other mechanisms.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_identity_trace(
    server: *const saslmech_server,
    trace: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { server_identity(server, Part::Trace, trace, len) }
}

/// Data to send with the success reply, after `SASLMECH_STATUS_SUCCESS` on a transport with
/// `SASLMECH_SERVER_SUCCESS_DATA` (base64 in base64 mode); `SASLMECH_ABSENT` if there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_success_data(
    server: *const saslmech_server,
    data: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(data)?;
            nonnull(len)?;
            if s.status != Some(SASLMECH_STATUS_SUCCESS) {
                return Err(SASLMECH_INVALID_STATE);
            }
            let message = s.session()?.last_message().ok_or(SASLMECH_ABSENT)?;
            put_bytes(data, len, message);
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Client credentials and sessions

/// What a client authenticates with. Sessions copy what they need, so the credentials may be
/// changed or freed once a session is made.
#[derive(Default)]
pub struct saslmech_credentials {
    authcid: Option<String>,
    authzid: Option<String>,
    password: Option<SecretBuf>,
    token: Option<SecretBuf>,
    trace: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    scram_cache: Option<ScramClientCache>,
    poisoned: Poison,
}

impl Handle for saslmech_credentials {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

/// Make an empty set of credentials.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_new(
    out: *mut *mut saslmech_credentials,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        let h = Box::into_raw(Box::<saslmech_credentials>::default());
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, h) };
        Ok(())
    })
}

/// Free credentials (NULL is a no-op), wiping the password and token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_free(credentials: *mut saslmech_credentials) {
    // SAFETY: the C contract: `credentials` came from `saslmech_credentials_new`, freed once.
    unsafe { free(credentials) }
}

impl saslmech_credentials {
    /// The credentials as the Rust API takes them.
    fn borrow(&self) -> Credentials<'_> {
        let mut creds = Credentials::new();
        if let Some(a) = &self.authcid {
            creds = creds.authcid(a);
        }
        if let Some(z) = &self.authzid {
            creds = creds.authzid(z);
        }
        if let Some(p) = &self.password {
            creds = creds.password(p.as_slice());
        }
        if let Some(t) = &self.token {
            creds = creds.token(t.as_slice());
        }
        if let Some(t) = &self.trace {
            creds = creds.trace(t);
        }
        if let Some(h) = &self.host {
            creds = creds.host(h);
        }
        if let Some(p) = self.port {
            creds = creds.port(p);
        }
        if let Some(c) = &self.scram_cache {
            creds = creds.scram_cache(c);
        }
        creds
    }
}

/// The text fields of credentials.
#[derive(Clone, Copy)]
enum Text {
    Authcid,
    Authzid,
    Trace,
    Host,
}

unsafe fn set_identity(
    credentials: *mut saslmech_credentials,
    field: Text,
    value: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle used by this thread only, `value`
    // is valid for `len` bytes.
    unsafe {
        with_mut(credentials, |c| {
            let v = Some(text(value, len)?.to_owned());
            match field {
                Text::Authcid => c.authcid = v,
                Text::Authzid => c.authzid = v,
                Text::Trace => c.trace = v,
                Text::Host => c.host = v,
            }
            Ok(())
        })
    }
}

unsafe fn set_secret(
    credentials: *mut saslmech_credentials,
    token: bool,
    value: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle used by this thread only, `value`
    // is valid for `len` bytes.
    unsafe {
        with_mut(credentials, |c| {
            let v = Some(SecretBuf::from_slice(bytes(value, len)?));
            if token {
                c.token = v;
            } else {
                c.password = v;
            }
            Ok(())
        })
    }
}

/// The authentication identity (user name), UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_authcid(
    credentials: *mut saslmech_credentials,
    authcid: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { set_identity(credentials, Text::Authcid, authcid, len) }
}

/// The authorization identity to act as, if different from the authcid; UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_authzid(
    credentials: *mut saslmech_credentials,
    authzid: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { set_identity(credentials, Text::Authzid, authzid, len) }
}

/// The password (copied into memory that is wiped when freed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_password(
    credentials: *mut saslmech_credentials,
    password: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { set_secret(credentials, false, password, len) }
}

/// An OAuth 2.0 bearer token (copied into memory that is wiped when freed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_token(
    credentials: *mut saslmech_credentials,
    token: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { set_secret(credentials, true, token, len) }
}

/// ANONYMOUS: the trace information to send (an email address or a token, at most 255
/// characters), UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_trace(
    credentials: *mut saslmech_credentials,
    trace: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { set_identity(credentials, Text::Trace, trace, len) }
}

/// OAUTHBEARER: the host name the client connected to (`host=`), UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_host(
    credentials: *mut saslmech_credentials,
    host: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { set_identity(credentials, Text::Host, host, len) }
}

/// SCRAM: keys from an earlier login to this server (copied), so that the client skips
/// PBKDF2 while the server announces the same salt and iteration count; a password is then
/// needed only if it does not. NULL removes them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_scram_cache(
    credentials: *mut saslmech_credentials,
    cache: *const saslmech_scram_client_cache,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle used by this thread only; `cache`
    // is NULL or a live handle not being changed.
    unsafe {
        with_mut(credentials, |c| {
            c.scram_cache = match cache.as_ref() {
                None => None,
                Some(k) if k.poisoned.get() => return Err(SASLMECH_POISONED),
                Some(k) => Some(k.cache.clone()),
            };
            Ok(())
        })
    }
}

/// OAUTHBEARER: the port the client connected to (`port=`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_port(
    credentials: *mut saslmech_credentials,
    port: u16,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle used by this thread only.
    unsafe {
        with_mut(credentials, |c| {
            c.port = Some(port);
            Ok(())
        })
    }
}

/// Client settings and connection facts, for `saslmech_client_new_with_config` and the
/// protocol clients' `_new_with_config`: the TLS channel-binding data (for the SCRAM `-PLUS`
/// mechanisms), SCRAM iteration bounds, the challenge size limit. Sessions copy it when made.
pub struct saslmech_client_config {
    config: ClientConfig,
    poisoned: Poison,
}

impl Handle for saslmech_client_config {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

/// Make a client configuration with the defaults: challenges up to 64 KiB, no channel
/// binding, SCRAM iteration counts from 4096 to 600000, OS randomness.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_new(
    out: *mut *mut saslmech_client_config,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        let h = saslmech_client_config {
            config: ClientConfig::default(),
            poisoned: Poison::default(),
        };
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, Box::into_raw(Box::new(h))) };
        Ok(())
    })
}

/// Free a client configuration (NULL is a no-op), wiping the channel-binding data.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_free(config: *mut saslmech_client_config) {
    // SAFETY: the C contract: `config` came from `saslmech_client_config_new`, freed once.
    unsafe { free(config) }
}

/// The TLS connection's channel-binding data (`kind`: `SASLMECH_CB_*`, data not empty). With
/// it the SCRAM `-PLUS` mechanisms bind to it, and plain SCRAM tells the server the client
/// could have (so that a stripped `-PLUS` is detected).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_channel_binding(
    config: *mut saslmech_client_config,
    kind: saslmech_channel_binding,
    data: *const u8,
    data_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `data` is
    // valid for `data_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let data = bytes(data, data_len)?;
            let kind = channel_binding_from_c(kind)?;
            if data.is_empty() {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.config = core::mem::take(&mut c.config).channel_binding(kind, data);
            Ok(())
        })
    }
}

/// The SCRAM iteration counts the client accepts from a server: at least `min` (so a server
/// cannot weaken the exchange; at least 1), at most `max` (so a hostile server cannot make the
/// client spin; at least `min`), else `SASLMECH_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_scram_iterations(
    config: *mut saslmech_client_config,
    min: u32,
    max: u32,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if min == 0 || max < min {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.config = core::mem::take(&mut c.config).scram_iterations(min, max);
            Ok(())
        })
    }
}

/// The largest decoded server challenge accepted, in octets (at least 1; default 65536).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_max_challenge(
    config: *mut saslmech_client_config,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if max == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.config.max_challenge = max;
            Ok(())
        })
    }
}

/// Use these bytes verbatim as SCRAM's client nonce (1 to 255 printable ASCII characters other
/// than `,`). ONLY for tests and RFC vectors.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_nonce_fixed(
    config: *mut saslmech_client_config,
    nonce: *const u8,
    nonce_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `nonce` is
    // valid for `nonce_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let nonce = bytes(nonce, nonce_len)?;
            let ok = |b: &u8| b.is_ascii_graphic() && *b != b',';
            if nonce.is_empty() || nonce.len() > 255 || !nonce.iter().all(ok) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let source = NonceSource::Fixed(nonce.to_vec());
            c.config = core::mem::take(&mut c.config).nonce_source(source);
            Ok(())
        })
    }
}

/// Take SCRAM's client nonce from the operating system's random number generator (the
/// default).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_nonce_os(
    config: *mut saslmech_client_config,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            c.config = core::mem::take(&mut c.config).nonce_source(NonceSource::Os);
            Ok(())
        })
    }
}

/// A client configuration's settings.
///
/// # Safety
/// `config` is NULL or a live handle not being changed.
unsafe fn client_config_ref<'a>(config: *const saslmech_client_config) -> R<&'a ClientConfig> {
    // SAFETY: guaranteed by the caller.
    let c = unsafe { config.as_ref() }.ok_or(SASLMECH_NULL_ARGUMENT)?;
    if c.poisoned.get() {
        return Err(SASLMECH_POISONED);
    }
    Ok(&c.config)
}

/// One client-side authentication exchange. It may be moved between threads but not used by
/// two threads at once.
pub struct saslmech_client {
    /// Its responses are handed to C where the session keeps them: never copied.
    session: ClientSession,
    base64: bool,
    failed: Option<Failure>,
    poisoned: Poison,
}

impl Handle for saslmech_client {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_client {
    /// Turn a session error into a result code, remembering a failure.
    fn fail(&mut self, e: Error) -> saslmech_result {
        remember_failure(&mut self.failed, e)
    }

    fn live(&self) -> R<()> {
        match self.failed {
            Some(_) => Err(SASLMECH_INVALID_STATE),
            None => Ok(()),
        }
    }

    /// The initial response, if the mechanism has one.
    fn start(&mut self) -> R<Option<&[u8]>> {
        self.live()?;
        // Split borrows: the response borrows the session while a failure is recorded.
        let r = if self.base64 {
            self.session.start_b64()
        } else {
            self.session.start()
        };
        r.map_err(|e| remember_failure(&mut self.failed, e))
    }

    fn step(&mut self, challenge: &[u8]) -> R<&[u8]> {
        self.live()?;
        let r = if self.base64 {
            self.session.step_b64(challenge)
        } else {
            self.session.step(challenge)
        };
        r.map_err(|e| remember_failure(&mut self.failed, e))
    }

    fn finish(&mut self, data: Option<&[u8]>) -> R<()> {
        self.live()?;
        // The state first, as the session itself checks it: a finished client refuses any
        // further finish (with malformed base64 too) without recording a failure.
        if self.session.is_finished() {
            return Err(SASLMECH_INVALID_STATE);
        }
        let decoded;
        let data = match data {
            Some(d) if self.base64 => match b64::decode(d) {
                Ok(d) => {
                    decoded = d;
                    Some(decoded.as_slice())
                }
                Err(f) => return Err(self.fail(Error::Failed(f))),
            },
            other => other,
        };
        let r = self.session.finish(data);
        r.map_err(|e| self.fail(e))
    }
}

/// Turn a client session error into a result code, remembering a failure.
fn remember_failure(failed: &mut Option<Failure>, e: Error) -> saslmech_result {
    if let Error::Failed(f) = e {
        *failed = Some(f);
    }
    error_to_c(e)
}

unsafe fn client_new(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    flags: saslmech_client_flags,
    config: impl FnOnce() -> R<ClientConfig>,
    out: *mut *mut saslmech_client,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle not being changed.
    unsafe {
        with_ref(credentials, |c| {
            nonnull(out)?;
            let config = config()?;
            let mechanism = mechanism_from_c(mechanism)?;
            if flags & !CLIENT_FLAGS != 0 || config.max_challenge == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let creds = c.borrow();
            let session =
                ClientSession::with_config(mechanism, &creds, &config).map_err(error_to_c)?;
            let h = saslmech_client {
                session,
                base64: flags & SASLMECH_CLIENT_BASE64 != 0,
                failed: None,
                poisoned: Poison::default(),
            };
            put(out, Box::into_raw(Box::new(h)));
            Ok(())
        })
    }
}

/// Make a client session for `mechanism` (`flags`: `SASLMECH_CLIENT_*` bits), accepting
/// challenges up to 64 KiB. `SASLMECH_INVALID_ARGUMENT` if the credentials lack what the
/// mechanism needs (a user name, a password or token without NUL bytes), or for a SCRAM
/// `-PLUS` mechanism, which needs channel-binding data (`saslmech_client_new_with_config`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_new(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    flags: saslmech_client_flags,
    out: *mut *mut saslmech_client,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe {
        client_new(
            mechanism,
            credentials,
            flags,
            || Ok(ClientConfig::default()),
            out,
        )
    }
}

/// `saslmech_client_new` with a limit on the size of one decoded server challenge (at least 1).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_new_with_limit(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    flags: saslmech_client_flags,
    max_challenge: usize,
    out: *mut *mut saslmech_client,
) -> saslmech_result {
    let config = || {
        Ok(ClientConfig {
            max_challenge,
            ..ClientConfig::default()
        })
    };
    // SAFETY: forwarded C contract.
    unsafe { client_new(mechanism, credentials, flags, config, out) }
}

/// `saslmech_client_new` with the settings of `config` (channel binding, SCRAM iteration
/// bounds, challenge limit), copied into the session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_new_with_config(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    config: *const saslmech_client_config,
    flags: saslmech_client_flags,
    out: *mut *mut saslmech_client,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is NULL or a live handle not being changed; the rest
    // forwarded.
    unsafe {
        client_new(
            mechanism,
            credentials,
            flags,
            || client_config_ref(config).cloned(),
            out,
        )
    }
}

/// Free a client session (NULL is a no-op), wiping its copy of the credentials.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_free(client: *mut saslmech_client) {
    // SAFETY: the C contract: `client` came from `saslmech_client_new`, freed once.
    unsafe { free(client) }
}

/// The session's mechanism.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_mechanism(
    client: *const saslmech_client,
    out: *mut saslmech_mechanism,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(out)?;
            put(out, mechanism_to_c(c.session.mechanism()).0);
            Ok(())
        })
    }
}

/// The initial response. `*has_initial_response` is false if the mechanism has none (send the
/// command without one), true otherwise, with the response in `*response`/`*len` (base64 in
/// base64 mode), which may be empty (SMTP, IMAP and POP3 send an empty one as `=`). Valid until
/// the next non-const call on this session. Only once, before any step.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_start(
    client: *mut saslmech_client,
    has_initial_response: *mut bool,
    response: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe {
        with_mut(client, |c| {
            nonnull(has_initial_response)?;
            nonnull(response)?;
            nonnull(len)?;
            let ir = c.start()?;
            put(has_initial_response, ir.is_some());
            put_bytes(response, len, ir.unwrap_or_default());
            Ok(())
        })
    }
}

/// Answer a server challenge (base64 text in base64 mode, where an empty challenge is the
/// empty string). The response goes to `*response`/`*len`, valid until the next non-const call
/// on this session. A challenge the mechanism cannot answer, or one over the size limit, ends
/// the exchange: `SASLMECH_FAILED` (see `saslmech_client_failure`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_step(
    client: *mut saslmech_client,
    challenge: *const u8,
    challenge_len: usize,
    response: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only; `challenge`
    // is valid for `challenge_len` bytes.
    unsafe {
        with_mut(client, |c| {
            nonnull(response)?;
            nonnull(len)?;
            let challenge = bytes(challenge, challenge_len)?;
            let r = c.step(challenge)?;
            put_bytes(response, len, r);
            Ok(())
        })
    }
}

/// The server reported success without success data. `SASLMECH_FAILED` if the mechanism
/// expected more (mutual authentication not completed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_finish(client: *mut saslmech_client) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe { with_mut(client, |c| c.finish(None)) }
}

/// The server reported success with success data (base64 text in base64 mode).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_finish_with_data(
    client: *mut saslmech_client,
    data: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only; `data` is
    // valid for `len` bytes.
    unsafe {
        with_mut(client, |c| {
            let data = bytes(data, len)?;
            c.finish(Some(data))
        })
    }
}

/// Whether `saslmech_client_finish` succeeded.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_is_finished(
    client: *const saslmech_client,
    finished: *mut bool,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(finished)?;
            put(finished, c.session.is_finished());
            Ok(())
        })
    }
}

/// SCRAM, once the server has proved itself: a copy of the keys to keep for the next login to
/// this server (`saslmech_credentials_set_scram_cache`), so that it skips PBKDF2. Free it
/// with `saslmech_scram_client_cache_free`. `SASLMECH_ABSENT` before that, or for another
/// mechanism.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_scram_cache(
    client: *const saslmech_client,
    out: *mut *mut saslmech_scram_client_cache,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(out)?;
            let cache = c.session.scram_cache().ok_or(SASLMECH_ABSENT)?.clone();
            put_scram_client_cache(out, cache);
            Ok(())
        })
    }
}

/// Why the exchange failed, after a call returned `SASLMECH_FAILED` (else
/// `SASLMECH_INVALID_STATE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_failure(
    client: *const saslmech_client,
    failure: *mut saslmech_failure,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(failure)?;
            put(
                failure,
                failure_to_c(c.failed.ok_or(SASLMECH_INVALID_STATE)?),
            );
            Ok(())
        })
    }
}

/// A member (`SASLMECH_OAUTH_*`) of the OAuth error challenge the server sent (XOAUTH2), as
/// UTF-8 text valid until the next non-const call; `SASLMECH_ABSENT` if the server sent no
/// error challenge or the member is missing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_oauth_error(
    client: *const saslmech_client,
    field: saslmech_oauth_field,
    value: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(value)?;
            nonnull(len)?;
            if !(SASLMECH_OAUTH_STATUS..=SASLMECH_OAUTH_RAW).contains(&field) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let e = c.session.oauth_error().ok_or(SASLMECH_ABSENT)?;
            let v: Option<&[u8]> = match field {
                SASLMECH_OAUTH_STATUS => e.status.as_deref().map(str::as_bytes),
                SASLMECH_OAUTH_SCHEMES => e.schemes.as_deref().map(str::as_bytes),
                SASLMECH_OAUTH_SCOPE => e.scope.as_deref().map(str::as_bytes),
                SASLMECH_OAUTH_OPENID_CONFIGURATION => {
                    e.openid_configuration.as_deref().map(str::as_bytes)
                }
                _ => Some(e.raw.as_slice()),
            };
            put_bytes(value, len, v.ok_or(SASLMECH_ABSENT)?);
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Protocol adapters: SMTP AUTH, IMAP AUTHENTICATE, POP3 AUTH

/// What a protocol adapter produced (`saslmech_proto_server_*` gives 1 to 5,
/// `saslmech_proto_client_*` 6 to 8).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_event {
    /// (Server) Write the challenge line (`saslmech_proto_server_reply`: `334 ...`, `+ ...`),
    /// then pass the client's next line to `saslmech_proto_server_line`.
    SASLMECH_EVENT_CHALLENGE = 1,
    /// (Server) A request waits for the application (`saslmech_proto_server_request` says
    /// which kind): answer it with a `saslmech_proto_server_answer_*` call, now or from a
    /// later turn of the event loop. Nothing is written meanwhile; keep the client's further
    /// input until then.
    SASLMECH_EVENT_REQUEST = 2,
    /// (Server) Write the success reply: the client is authenticated
    /// (`saslmech_proto_server_identity_*`).
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

use saslmech_event::*;

/// Where a server adapter stands: which call takes the connection's next line.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_phase {
    /// No exchange: an AUTH command goes to `saslmech_proto_server_command`.
    SASLMECH_PHASE_IDLE = 1,
    /// A challenge went out: the client's next line goes to `saslmech_proto_server_line`.
    SASLMECH_PHASE_EXCHANGE = 2,
    /// A request waits for a `saslmech_proto_server_answer_*` call.
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

/// The protocol an adapter speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Smtp,
    Imap,
    Pop3,
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

    fn advertised(&self) -> Option<String> {
        match self {
            ServerAdapter::Smtp(a) => a.ehlo_keyword(),
            ServerAdapter::Imap(a) => Some(a.capabilities()),
            ServerAdapter::Pop3(a) => a.capa_line(),
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
/// `saslmech_smtp_server_new`, `saslmech_imap_server_new` or `saslmech_pop3_server_new`).
/// Line in, reply bytes out; credential requests are answered by explicit calls, now or
/// later. It may be moved between threads but not used by two threads at once.
pub struct saslmech_proto_server {
    /// Always `Some` between calls (taken only to apply a builder method).
    adapter: Option<ServerAdapter>,
    /// What the adapter knows about the connection (TLS, channel binding, external identity).
    transport: Transport,
    /// The SMTP replies in force, once one was changed (SMTP only).
    replies: Option<Box<SmtpReplies>>,
    /// The advertised text, recomputed when the TLS state changes.
    advertised: Option<String>,
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
    poisoned: Poison,
}

impl Handle for saslmech_proto_server {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_proto_server {
    /// The pending request (`SASLMECH_INVALID_STATE` if none).
    fn pending(&self) -> R<Pending<'_>> {
        Ok(self.request.as_ref().ok_or(SASLMECH_INVALID_STATE)?.into())
    }

    /// Who authenticated (`SASLMECH_INVALID_STATE` before success).
    fn identity(&self) -> R<Authenticated<'_>> {
        let id = self.adapter()?.identity().ok_or(SASLMECH_INVALID_STATE)?;
        Ok(Authenticated {
            authcid: &id.authcid,
            authzid: id.authzid.as_deref(),
            trace: id.trace.as_deref(),
        })
    }

    fn new(adapter: ServerAdapter) -> Self {
        let advertised = adapter.advertised();
        saslmech_proto_server {
            adapter: Some(adapter),
            transport: Transport::plaintext(),
            replies: None,
            advertised,
            mechanism: None,
            event: None,
            reply: SecretBuf::new(),
            request: None,
            failure: None,
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
        self.advertised = self.adapter()?.advertised();
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

    fn answer(&mut self, answer: Answer<'_>) -> R<saslmech_event> {
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

/// Make a server adapter of the given kind from a configuration snapshot.
///
/// # Safety
/// The C contract: `config` is a live handle not being changed; `out` is NULL or writable.
unsafe fn proto_server_new(
    config: *const saslmech_server_config,
    make: impl FnOnce(Arc<ServerConfig>) -> ServerAdapter,
    out: *mut *mut saslmech_proto_server,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe {
        with_ref(config, |c| {
            nonnull(out)?;
            let h = saslmech_proto_server::new(make(Arc::clone(&c.config)));
            put(out, Box::into_raw(Box::new(h)));
            Ok(())
        })
    }
}

/// Make an SMTP AUTH server adapter (RFC 4954) for a new connection without TLS, with the
/// configuration's policy (a snapshot, as for `saslmech_server_new`) and the default replies.
/// Lines up to 12288 octets are accepted.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_smtp_server_new(
    config: *const saslmech_server_config,
    out: *mut *mut saslmech_proto_server,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_server_new(config, |c| ServerAdapter::Smtp(SmtpServer::new(c)), out) }
}

/// Make an IMAP AUTHENTICATE server adapter (RFC 9051, SASL-IR RFC 4959, response codes
/// RFC 5530) for a new connection without TLS. Replies carry the command's tag.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_imap_server_new(
    config: *const saslmech_server_config,
    out: *mut *mut saslmech_proto_server,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_server_new(config, |c| ServerAdapter::Imap(ImapServer::new(c)), out) }
}

/// Make a POP3 AUTH server adapter (RFC 5034, response codes RFC 2449 and RFC 3206) for a
/// new connection without TLS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_pop3_server_new(
    config: *const saslmech_server_config,
    out: *mut *mut saslmech_proto_server,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_server_new(config, |c| ServerAdapter::Pop3(Pop3Server::new(c)), out) }
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
/// binding and external identity given before, and changes what
/// `saslmech_proto_server_advertised` gives.
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

/// What to advertise now, from the policy and the TLS state: SMTP's EHLO keyword line
/// without the `250-` (`AUTH PLAIN LOGIN`), IMAP's capability tokens (`AUTH=PLAIN SASL-IR`),
/// POP3's CAPA line (`SASL PLAIN LOGIN`). `SASLMECH_ABSENT` for SMTP and POP3 when no
/// mechanism may be used now (then advertise nothing). Valid until the next non-const call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_advertised(
    server: *const saslmech_proto_server,
    text: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(text)?;
            nonnull(len)?;
            let a = s.advertised.as_deref().ok_or(SASLMECH_ABSENT)?;
            put_bytes(text, len, a.as_bytes());
            Ok(())
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

/// The kind of the pending request (`SASLMECH_REQUEST_*`, as for the engine's sessions),
/// after `SASLMECH_EVENT_REQUEST`; `SASLMECH_INVALID_STATE` when none is pending.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_request(
    server: *const saslmech_proto_server,
    kind: *mut saslmech_request,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(kind)?;
            put(kind, s.pending()?.kind);
            Ok(())
        })
    }
}

unsafe fn proto_request_part(
    server: *const saslmech_proto_server,
    part: Part,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe { with_ref(server, |s| put_part(p, n, || s.pending()?.part(part))) }
}

/// The user the pending request is about (as `saslmech_server_request_authcid`). UTF-8, not
/// NUL-terminated; valid until the next non-const call on this adapter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_request_authcid(
    server: *const saslmech_proto_server,
    authcid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_request_part(server, Part::Authcid, authcid, len) }
}

/// The authorization identity of a password, token (OAUTHBEARER) or authorize request;
/// `SASLMECH_ABSENT` if the client asked for none (or the request kind has none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_request_authzid(
    server: *const saslmech_proto_server,
    authzid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_request_part(server, Part::Authzid, authzid, len) }
}

/// The password the client sent, for `SASLMECH_REQUEST_VERIFY_PASSWORD` (else
/// `SASLMECH_INVALID_STATE`). Never log it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_request_password(
    server: *const saslmech_proto_server,
    password: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_request_part(server, Part::Password, password, len) }
}

/// The bearer token, for `SASLMECH_REQUEST_VALIDATE_TOKEN` (else `SASLMECH_INVALID_STATE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_request_token(
    server: *const saslmech_proto_server,
    token: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_request_part(server, Part::Token, token, len) }
}

/// OAUTHBEARER: the `host` the client says it connected to, for a token request (as
/// `saslmech_server_request_host`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_request_host(
    server: *const saslmech_proto_server,
    host: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_request_part(server, Part::Host, host, len) }
}

/// OAUTHBEARER: the `port` the client says it connected to, for a token request (as
/// `saslmech_server_request_port`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_request_port(
    server: *const saslmech_proto_server,
    port: *mut u16,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe {
        with_ref(server, |s| {
            nonnull(port)?;
            put(port, s.pending()?.port()?);
            Ok(())
        })
    }
}

/// Answer the pending request and write the resulting event.
///
/// # Safety
/// The C contract: `server` is a live handle used by this thread only; `event` is NULL or
/// writable.
unsafe fn proto_answer(
    server: *mut saslmech_proto_server,
    event: *mut saslmech_event,
    answer: impl FnOnce(&mut saslmech_proto_server) -> R<saslmech_event>,
) -> saslmech_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_mut(server, |s| {
            nonnull(event)?;
            let e = answer(s)?;
            put(event, e);
            Ok(())
        })
    }
}

/// Accept: the password or token is valid, or the authorization is allowed. Writes the next
/// event (another request, the success or failure reply, or a challenge). An answer that does
/// not fit the request is `SASLMECH_WRONG_ANSWER` and leaves it pending; with no request
/// pending, `SASLMECH_INVALID_STATE`. The same holds for every `saslmech_proto_server_answer_*`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_accept(
    server: *mut saslmech_proto_server,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_answer(server, event, |s| s.answer(Answer::Accept)) }
}

/// Reject: the password or token is invalid, or the authorization is denied.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_reject(
    server: *mut saslmech_proto_server,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_answer(server, event, |s| s.answer(Answer::Reject)) }
}

/// No such user: fails exactly like a wrong password.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_unknown_user(
    server: *mut saslmech_proto_server,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_answer(server, event, |s| s.answer(Answer::UnknownUser)) }
}

/// The account exists but is disabled (SMTP `525 5.7.13`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_account_disabled(
    server: *mut saslmech_proto_server,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_answer(server, event, |s| s.answer(Answer::AccountDisabled)) }
}

/// The backend cannot answer now (SMTP `454 4.7.0`, IMAP `[UNAVAILABLE]`, POP3 `[SYS/TEMP]`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_temporary_failure(
    server: *mut saslmech_proto_server,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_answer(server, event, |s| s.answer(Answer::TemporaryFailure)) }
}

/// The stored plaintext password, for the library to compare in constant time (password
/// requests) or to verify the CRAM-MD5 digest with (secret requests).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_password(
    server: *mut saslmech_proto_server,
    password: *const u8,
    len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `password` is valid for `len` bytes; `server` forwarded.
    unsafe {
        proto_answer(server, event, |s| {
            s.answer(Answer::Password(bytes(password, len)?))
        })
    }
}

/// CRAM-MD5's precomputed key state (`SASLMECH_CRAM_MD5_KEYS_LEN` bytes), for a secret
/// request.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_cram_md5_keys(
    server: *mut saslmech_proto_server,
    keys: *const u8,
    len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is valid for `len` bytes; `server` forwarded.
    unsafe {
        proto_answer(server, event, |s| {
            let keys = cram_keys(bytes(keys, len)?)?; // wiped when dropped
            s.answer(Answer::CramMd5Keys(&keys))
        })
    }
}

/// SCRAM's stored keys, for a secret request from a SCRAM mechanism (as
/// `saslmech_server_answer_scram_keys`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_scram_keys(
    server: *mut saslmech_proto_server,
    keys: *const saslmech_scram_keys,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is NULL or a live handle not being changed; `server`
    // forwarded.
    unsafe {
        proto_answer(server, event, |s| {
            let keys = scram_keys_ref(keys)?;
            s.answer(Answer::ScramKeys(keys))
        })
    }
}

/// OAUTHBEARER: the token is valid and belongs to `user` (as
/// `saslmech_server_answer_token_owner`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_token_owner(
    server: *mut saslmech_proto_server,
    user: *const u8,
    user_len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `user` is valid for `user_len` bytes; `server` forwarded.
    unsafe {
        proto_answer(server, event, |s| {
            s.answer(Answer::TokenOwner(text(user, user_len)?))
        })
    }
}

/// The token is invalid: send an error challenge with this `status` (XOAUTH2: an HTTP code
/// such as `"401"`), then fail when the client answers it. UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_token_error(
    server: *mut saslmech_proto_server,
    error_status: *const u8,
    error_status_len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `error_status` is valid for its length; `server` forwarded.
    unsafe {
        proto_answer(server, event, |s| {
            let e = TokenError {
                status: text(error_status, error_status_len)?,
                scope: None,
            };
            s.answer(Answer::TokenError(e))
        })
    }
}

/// `saslmech_proto_server_answer_token_error` with the scope the token needs. UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_answer_token_error_scope(
    server: *mut saslmech_proto_server,
    error_status: *const u8,
    error_status_len: usize,
    scope: *const u8,
    scope_len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: both texts are valid for their lengths; `server` forwarded.
    unsafe {
        proto_answer(server, event, |s| {
            let e = TokenError {
                status: text(error_status, error_status_len)?,
                scope: Some(text(scope, scope_len)?),
            };
            s.answer(Answer::TokenError(e))
        })
    }
}

unsafe fn proto_identity(
    server: *const saslmech_proto_server,
    part: Part,
    p: *mut *const u8,
    n: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `server` is a live handle not being changed.
    unsafe { with_ref(server, |s| put_part(p, n, || s.identity()?.part(part))) }
}

/// Who authenticated (the authentication identity), while the adapter is in
/// `SASLMECH_PHASE_AUTHENTICATED` (else `SASLMECH_INVALID_STATE`). UTF-8, not NUL-terminated;
/// valid until the next non-const call on this adapter.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_identity_authcid(
    server: *const saslmech_proto_server,
    authcid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_identity(server, Part::Authcid, authcid, len) }
}

/// The authorization identity the client asked to act as (and was allowed to);
/// `SASLMECH_ABSENT` if it asked for none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_identity_authzid(
    server: *const saslmech_proto_server,
    authzid: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_identity(server, Part::Authzid, authzid, len) }
}

/// The identity to act as: the authzid if one was given, else the authcid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_identity_effective(
    server: *const saslmech_proto_server,
    identity: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_identity(server, Part::Effective, identity, len) }
}

/// ANONYMOUS: the trace information the client sent (possibly empty), while authenticated;
/// `SASLMECH_ABSENT` for other mechanisms.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_server_identity_trace(
    server: *const saslmech_proto_server,
    trace: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe { proto_identity(server, Part::Trace, trace, len) }
}

// ---------------------------------------------------------------------------------------------
// Protocol adapters, client side

enum ClientAdapter {
    Smtp(SmtpClient),
    Imap(ImapClient),
    Pop3(Pop3Client),
}

/// The client side of SMTP AUTH, IMAP AUTHENTICATE or POP3 AUTH (made by
/// `saslmech_smtp_client_new`, `saslmech_imap_client_new` or `saslmech_pop3_client_new`): it
/// builds the command, takes the server's reply lines, and gives the responses to write and
/// the outcome. It may be moved between threads but not used by two threads at once.
pub struct saslmech_proto_client {
    /// Always `Some` between calls (taken only to apply a builder method).
    adapter: Option<ClientAdapter>,
    mechanism: Mechanism,
    started: bool,
    event: Option<saslmech_event>,
    /// The command or response to write (carries passwords: wiped).
    out: SecretBuf,
    outcome: Option<ClientOutcome>,
    poisoned: Poison,
}

impl Handle for saslmech_proto_client {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_proto_client {
    fn adapter_mut(&mut self) -> R<&mut ClientAdapter> {
        self.adapter.as_mut().ok_or(SASLMECH_POISONED)
    }

    /// Apply a builder method before the command is built.
    fn configure(&mut self, f: impl FnOnce(ClientAdapter) -> R<ClientAdapter>) -> R<()> {
        if self.started {
            return Err(SASLMECH_INVALID_STATE);
        }
        let a = self.adapter.take().ok_or(SASLMECH_POISONED)?;
        self.adapter = Some(f(a)?);
        Ok(())
    }

    fn start(&mut self) -> R<()> {
        let cmd = match self.adapter_mut()? {
            ClientAdapter::Smtp(a) => a.start(),
            ClientAdapter::Imap(a) => a.start(),
            ClientAdapter::Pop3(a) => a.start(),
        }
        .map_err(error_to_c)?;
        self.started = true;
        self.out = cmd;
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> R<saslmech_event> {
        let event = match self.adapter_mut()? {
            ClientAdapter::Smtp(a) => a.reply(line),
            ClientAdapter::Imap(a) => a.line(line),
            ClientAdapter::Pop3(a) => a.line(line),
        }
        .map_err(error_to_c)?;
        self.out.clear();
        let kind = match event {
            ClientEvent::Send(bytes) => {
                self.out = bytes;
                SASLMECH_EVENT_SEND
            }
            ClientEvent::More => SASLMECH_EVENT_MORE,
            ClientEvent::Done(outcome) => {
                self.outcome = Some(outcome);
                SASLMECH_EVENT_DONE
            }
        };
        self.event = Some(kind);
        Ok(kind)
    }
}

/// A client adapter from C arguments.
///
/// # Safety
/// The C contract: `credentials` is a live handle not being changed; `out` NULL or writable.
unsafe fn proto_client_new(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    out: *mut *mut saslmech_proto_client,
    config: impl FnOnce() -> R<ClientConfig>,
    make: impl FnOnce(Mechanism, &Credentials<'_>, &ClientConfig) -> R<ClientAdapter>,
) -> saslmech_result {
    // SAFETY: forwarded C contract.
    unsafe {
        with_ref(credentials, |c| {
            nonnull(out)?;
            let config = config()?;
            let mechanism = mechanism_from_c(mechanism)?;
            let adapter = make(mechanism, &c.borrow(), &config)?;
            let h = saslmech_proto_client {
                adapter: Some(adapter),
                mechanism,
                started: false,
                event: None,
                out: SecretBuf::new(),
                outcome: None,
                poisoned: Poison::default(),
            };
            put(out, Box::into_raw(Box::new(h)));
            Ok(())
        })
    }
}

fn smtp_client(m: Mechanism, c: &Credentials<'_>, cfg: &ClientConfig) -> R<ClientAdapter> {
    let a = SmtpClient::with_config(m, c, cfg).map_err(error_to_c)?;
    Ok(ClientAdapter::Smtp(a))
}

fn pop3_client(m: Mechanism, c: &Credentials<'_>, cfg: &ClientConfig) -> R<ClientAdapter> {
    let a = Pop3Client::with_config(m, c, cfg).map_err(error_to_c)?;
    Ok(ClientAdapter::Pop3(a))
}

/// # Safety
/// `tag` is NULL or valid for `tag_len` bytes.
unsafe fn imap_client(
    tag: *const u8,
    tag_len: usize,
) -> impl FnOnce(Mechanism, &Credentials<'_>, &ClientConfig) -> R<ClientAdapter> {
    move |m, c, cfg| {
        // SAFETY: guaranteed by the caller.
        let tag = unsafe { text(tag, tag_len) }?;
        let a = ImapClient::with_config(tag, m, c, cfg).map_err(error_to_c)?;
        Ok(ClientAdapter::Imap(a))
    }
}

/// Make an SMTP AUTH client for `mechanism`. It sends an initial response with the command
/// when the mechanism has one and the line fits 12288 octets. `SASLMECH_INVALID_ARGUMENT` if
/// the credentials lack what the mechanism needs (or for a SCRAM `-PLUS` mechanism, which
/// needs `saslmech_smtp_client_new_with_config` and channel-binding data).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_smtp_client_new(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    let config = || Ok(ClientConfig::default());
    // SAFETY: forwarded C contract.
    unsafe { proto_client_new(mechanism, credentials, out, config, smtp_client) }
}

/// `saslmech_smtp_client_new` with the settings of `config` (channel binding for the SCRAM
/// `-PLUS` mechanisms, SCRAM iteration bounds, challenge limit).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_smtp_client_new_with_config(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    config: *const saslmech_client_config,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is NULL or a live handle not being changed; the rest
    // forwarded.
    unsafe {
        let config = || client_config_ref(config).cloned();
        proto_client_new(mechanism, credentials, out, config, smtp_client)
    }
}

/// Make an IMAP AUTHENTICATE client for `mechanism` sending its command with `tag` (1 to 64
/// IMAP `ASTRING-CHAR`s other than `+`, else `SASLMECH_INVALID_ARGUMENT`). It sends an
/// initial response (SASL-IR) by default.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_imap_client_new(
    tag: *const u8,
    tag_len: usize,
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    let config = || Ok(ClientConfig::default());
    // SAFETY: forwarded C contract; `tag` is valid for `tag_len` bytes.
    unsafe {
        proto_client_new(
            mechanism,
            credentials,
            out,
            config,
            imap_client(tag, tag_len),
        )
    }
}

/// `saslmech_imap_client_new` with the settings of `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_imap_client_new_with_config(
    tag: *const u8,
    tag_len: usize,
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    config: *const saslmech_client_config,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is NULL or a live handle not being changed, `tag` is
    // valid for `tag_len` bytes; the rest forwarded.
    unsafe {
        let config = || client_config_ref(config).cloned();
        proto_client_new(
            mechanism,
            credentials,
            out,
            config,
            imap_client(tag, tag_len),
        )
    }
}

/// Make a POP3 AUTH client for `mechanism`. It sends an initial response with the command
/// when the whole line fits POP3's 255 octets.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_pop3_client_new(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    let config = || Ok(ClientConfig::default());
    // SAFETY: forwarded C contract.
    unsafe { proto_client_new(mechanism, credentials, out, config, pop3_client) }
}

/// `saslmech_pop3_client_new` with the settings of `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_pop3_client_new_with_config(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    config: *const saslmech_client_config,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is NULL or a live handle not being changed; the rest
    // forwarded.
    unsafe {
        let config = || client_config_ref(config).cloned();
        proto_client_new(mechanism, credentials, out, config, pop3_client)
    }
}

/// Free a client adapter (NULL is a no-op), wiping its copy of the credentials and the last
/// response.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_free(client: *mut saslmech_proto_client) {
    // SAFETY: the C contract: `client` came from a `saslmech_*_client_new`, freed once.
    unsafe { free(client) }
}

/// Whether to send an initial response with the command when the mechanism has one (on by
/// default; for IMAP turn it off for a server that does not list `SASL-IR`, see
/// `saslmech_imap_has_sasl_ir`). Without it the response follows the server's empty
/// challenge. Only before `saslmech_proto_client_start` (else `SASLMECH_INVALID_STATE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_set_initial_response(
    client: *mut saslmech_proto_client,
    use_initial_response: bool,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe {
        with_mut(client, |c| {
            c.configure(|a| {
                Ok(match a {
                    ClientAdapter::Smtp(a) => {
                        ClientAdapter::Smtp(a.initial_response(use_initial_response))
                    }
                    ClientAdapter::Imap(a) => ClientAdapter::Imap(a.sasl_ir(use_initial_response)),
                    ClientAdapter::Pop3(a) => {
                        ClientAdapter::Pop3(a.initial_response(use_initial_response))
                    }
                })
            })
        })
    }
}

/// The longest SMTP command line, CRLF included, that may carry an initial response (at
/// least 1; default 12288); a longer one goes without it. `SASLMECH_INVALID_ARGUMENT` for an
/// IMAP client (no limit) or a POP3 client (RFC 2449's 255, fixed). Only before
/// `saslmech_proto_client_start`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_smtp_client_set_max_line(
    client: *mut saslmech_proto_client,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe {
        with_mut(client, |c| {
            if max == 0 || !matches!(c.adapter, Some(ClientAdapter::Smtp(_))) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.configure(|a| match a {
                ClientAdapter::Smtp(a) => Ok(ClientAdapter::Smtp(a.max_line(max))),
                other => Ok(other),
            })
        })
    }
}

/// The client's mechanism.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_mechanism(
    client: *const saslmech_proto_client,
    mechanism: *mut saslmech_mechanism,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(mechanism)?;
            put(mechanism, mechanism_to_c(c.mechanism).0);
            Ok(())
        })
    }
}

/// The command to send (`AUTH PLAIN AHRpbQ...`, `a1 AUTHENTICATE PLAIN ...`), CRLF included;
/// then pass each server line to `saslmech_proto_client_line`. Only once. Valid until the
/// next non-const call on this client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_start(
    client: *mut saslmech_proto_client,
    command: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe {
        with_mut(client, |c| {
            nonnull(command)?;
            nonnull(len)?;
            c.start()?;
            put_bytes(command, len, c.out.as_slice());
            Ok(())
        })
    }
}

/// Pass a line from the server (with or without its CRLF) and write what follows to `*event`:
/// `SASLMECH_EVENT_SEND` (write `saslmech_proto_client_output`), `SASLMECH_EVENT_MORE` (read
/// another line) or `SASLMECH_EVENT_DONE` (`saslmech_proto_client_outcome`). A line that
/// cannot be parsed ends the exchange (`SASLMECH_FAILURE_MALFORMED`); a challenge the
/// mechanism cannot answer is answered with `*` and the exchange ends at the server's reply.
/// `SASLMECH_INVALID_STATE` before start or after the end.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_line(
    client: *mut saslmech_proto_client,
    line: *const u8,
    len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only; `line` is
    // valid for `len` bytes.
    unsafe {
        with_mut(client, |c| {
            nonnull(event)?;
            let line = bytes(line, len)?;
            put(event, c.line(line)?);
            Ok(())
        })
    }
}

/// The bytes to write after `SASLMECH_EVENT_SEND` (a response line with CRLF, or `*\r\n`);
/// `SASLMECH_INVALID_STATE` after any other event. Valid until the next non-const call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_output(
    client: *const saslmech_proto_client,
    output: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(output)?;
            nonnull(len)?;
            if c.event != Some(SASLMECH_EVENT_SEND) {
                return Err(SASLMECH_INVALID_STATE);
            }
            put_bytes(output, len, c.out.as_slice());
            Ok(())
        })
    }
}

/// How the exchange ended, after `SASLMECH_EVENT_DONE` (else `SASLMECH_INVALID_STATE`):
/// `*authenticated` is true if the server accepted the client and the client has nothing
/// against the server; `*failure` is why not (`SASLMECH_FAILURE_NONE` when authenticated):
/// the client's own reason if it gave up, else what the server's reply indicates.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_outcome(
    client: *const saslmech_proto_client,
    authenticated: *mut bool,
    failure: *mut saslmech_failure,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(authenticated)?;
            nonnull(failure)?;
            let o = c.outcome.as_ref().ok_or(SASLMECH_INVALID_STATE)?;
            let f = o
                .failure
                .map_or(saslmech_failure::SASLMECH_FAILURE_NONE, failure_to_c);
            put(authenticated, o.authenticated);
            put(failure, f);
            Ok(())
        })
    }
}

/// The server's final status, after `SASLMECH_EVENT_DONE`: the SMTP reply code (`"235"`,
/// `"535"`), IMAP's `"OK"`/`"NO"`/`"BAD"`, POP3's `"+OK"`/`"-ERR"`; empty if the server's
/// reply could not be parsed. ASCII, valid until the client is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_outcome_status(
    client: *const saslmech_proto_client,
    status: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(status)?;
            nonnull(len)?;
            let o = c.outcome.as_ref().ok_or(SASLMECH_INVALID_STATE)?;
            put_bytes(status, len, o.status.as_bytes());
            Ok(())
        })
    }
}

/// The server's text after the status (an SMTP multi-line reply's lines joined by `\n`, at
/// most 4096 octets), after `SASLMECH_EVENT_DONE`. Printable ASCII (other bytes the server
/// sent become `?`), valid until the client is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_outcome_text(
    client: *const saslmech_proto_client,
    text: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(text)?;
            nonnull(len)?;
            let o = c.outcome.as_ref().ok_or(SASLMECH_INVALID_STATE)?;
            put_bytes(text, len, o.text.as_bytes());
            Ok(())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// What servers advertise

/// Join `names` with single spaces into the caller's buffer.
///
/// # Safety
/// `out` is non-NULL and valid for `cap` byte writes; `out_len` non-NULL and writable.
unsafe fn put_names(names: &[String], out: *mut u8, cap: usize, out_len: *mut usize) -> R<()> {
    let joined = names.join(" ");
    // SAFETY: forwarded from the caller.
    unsafe { copy_out(joined.as_bytes(), out, cap, out_len) }
}

/// Lines of a (possibly multi-line) response.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| *b == b'\n')
}

/// The mechanisms a server advertises in its EHLO reply (`reply`: the whole reply with its
/// lines separated by CRLF or LF, or a single line; `250-AUTH PLAIN LOGIN` and the old
/// `250-AUTH=PLAIN` forms), upper-cased, without duplicates, in order, separated by single
/// spaces into `out` (capacity `out_cap`; as many octets as the reply always suffice), ready
/// for `saslmech_select`. Empty if the server advertises none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_smtp_ehlo_mechanisms(
    reply: *const u8,
    reply_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        nonnull(out_len)?;
        // SAFETY: the C contract: `reply` is valid for `reply_len` bytes.
        let reply = unsafe { bytes(reply, reply_len) }?;
        let names = proto::smtp::ehlo_mechanisms(lines(reply));
        // SAFETY: as above, for `out` and `out_len`.
        unsafe { put_names(&names, out, out_cap, out_len) }
    })
}

/// The mechanisms in an IMAP `CAPABILITY` response (`AUTH=PLAIN` tokens; one line, or
/// several separated by LF), as `saslmech_smtp_ehlo_mechanisms` gives them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_imap_capability_mechanisms(
    capability: *const u8,
    capability_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        nonnull(out_len)?;
        // SAFETY: the C contract: `capability` is valid for `capability_len` bytes.
        let capability = unsafe { bytes(capability, capability_len) }?;
        let mut names: Vec<String> = Vec::new();
        for name in lines(capability).flat_map(proto::imap::capability_mechanisms) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        // SAFETY: as above, for `out` and `out_len`.
        unsafe { put_names(&names, out, out_cap, out_len) }
    })
}

/// Whether an IMAP `CAPABILITY` response lists `SASL-IR` (or `IMAP4rev2`, where it is core):
/// if not, turn initial responses off (`saslmech_proto_client_set_initial_response`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_imap_has_sasl_ir(
    capability: *const u8,
    capability_len: usize,
    has: *mut bool,
) -> saslmech_result {
    guard(|| {
        nonnull(has)?;
        // SAFETY: the C contract: `capability` is valid for `capability_len` bytes.
        let capability = unsafe { bytes(capability, capability_len) }?;
        let found = lines(capability).any(proto::imap::has_sasl_ir);
        // SAFETY: `has` checked non-NULL above.
        unsafe { put(has, found) };
        Ok(())
    })
}

/// The mechanisms in a POP3 `CAPA` response's `SASL` line (the whole response with its lines
/// separated by CRLF or LF, or the one line), as `saslmech_smtp_ehlo_mechanisms` gives them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_pop3_capa_mechanisms(
    capa: *const u8,
    capa_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        nonnull(out_len)?;
        // SAFETY: the C contract: `capa` is valid for `capa_len` bytes.
        let capa = unsafe { bytes(capa, capa_len) }?;
        let mut names: Vec<String> = Vec::new();
        for name in lines(capa).flat_map(proto::pop3::capa_mechanisms) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        // SAFETY: as above, for `out` and `out_len`.
        unsafe { put_names(&names, out, out_cap, out_len) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ptr::null_mut;

    /// Found by the capi fuzz campaign (`corpus/capi/regress-finish-after-finish-base64`): a
    /// base64 client that had finished took a second `finish_with_data` with malformed
    /// base64 as a failure, so it was then both finished and failed. It is refused as
    /// `SASLMECH_INVALID_STATE` and records nothing.
    #[test]
    fn a_finished_client_refuses_another_finish_without_failing() {
        let mut creds = null_mut();
        let mut c = null_mut();
        // SAFETY: valid out-pointers and byte strings; handles freed once at the end.
        unsafe {
            assert_eq!(saslmech_credentials_new(&mut creds), SASLMECH_OK);
            assert_eq!(
                saslmech_credentials_set_authcid(creds, b"tim".as_ptr(), 3),
                SASLMECH_OK
            );
            assert_eq!(
                saslmech_credentials_set_password(creds, b"pw".as_ptr(), 2),
                SASLMECH_OK
            );
            let flags = SASLMECH_CLIENT_BASE64;
            assert_eq!(
                saslmech_client_new(SASLMECH_MECH_PLAIN, creds, flags, &mut c),
                SASLMECH_OK
            );
            let (mut has, mut p, mut n) = (false, core::ptr::null(), 0usize);
            assert_eq!(
                saslmech_client_start(c, &mut has, &mut p, &mut n),
                SASLMECH_OK
            );
            assert_eq!(saslmech_client_finish(c), SASLMECH_OK);
            for data in [&b"!!"[..], b"", b"AA=="] {
                let r = saslmech_client_finish_with_data(c, data.as_ptr(), data.len());
                assert_eq!(r, SASLMECH_INVALID_STATE);
            }
            assert_eq!(saslmech_client_finish(c), SASLMECH_INVALID_STATE);
            let mut done = false;
            assert_eq!(saslmech_client_is_finished(c, &mut done), SASLMECH_OK);
            assert!(done);
            let mut f = saslmech_failure::SASLMECH_FAILURE_MALFORMED;
            assert_eq!(saslmech_client_failure(c, &mut f), SASLMECH_INVALID_STATE);
            saslmech_client_free(c);
            saslmech_credentials_free(creds);
        }
    }

    fn server() -> (*mut saslmech_server_config, *mut saslmech_server) {
        let mut cfg = null_mut();
        let mut s = null_mut();
        // SAFETY: valid out-pointers.
        unsafe {
            assert_eq!(saslmech_server_config_new(&mut cfg), SASLMECH_OK);
            assert_eq!(
                saslmech_server_new(cfg, SASLMECH_MECH_PLAIN, SASLMECH_SERVER_TLS, &mut s),
                SASLMECH_OK
            );
        }
        (cfg, s)
    }

    #[test]
    fn a_panic_is_caught_and_poisons_the_session() {
        let (cfg, s) = server();
        let mut st = SASLMECH_STATUS_CHALLENGE;
        // SAFETY: `s` is live and used by this thread only.
        unsafe {
            let r = with_mut(s, |_| -> R<()> { panic!("deliberate panic in a test") });
            assert_eq!(r, SASLMECH_PANIC);
            assert_eq!(saslmech_server_start_no_ir(s, &mut st), SASLMECH_POISONED);
            assert_eq!(saslmech_server_status(s, &mut st), SASLMECH_POISONED);
            assert_eq!(st, SASLMECH_STATUS_CHALLENGE, "out-parameter written");
            saslmech_server_free(s);
            saslmech_server_config_free(cfg);
        }
    }

    #[test]
    fn a_panic_in_a_const_call_poisons_too() {
        let (cfg, s) = server();
        let mut m = 0;
        // SAFETY: `s` is live and used by this thread only.
        unsafe {
            let r = with_ref(s.cast_const(), |_| -> R<()> { panic!("deliberate panic") });
            assert_eq!(r, SASLMECH_PANIC);
            assert_eq!(saslmech_server_mechanism(s, &mut m), SASLMECH_POISONED);
            assert_eq!(m, 0);
            // The config it was made from is a different handle, unaffected.
            let mut max = 0;
            assert_eq!(
                saslmech_server_config_max_message(cfg, &mut max),
                SASLMECH_OK
            );
            saslmech_server_free(s);
            saslmech_server_config_free(cfg);
        }
    }

    #[test]
    fn a_panic_poisons_an_adapter_and_free_still_works() {
        let mut cfg = null_mut();
        let mut s = null_mut();
        let mut ev = SASLMECH_EVENT_MORE;
        // SAFETY: valid out-pointers; `s` is live and used by this thread only.
        unsafe {
            assert_eq!(saslmech_server_config_new(&mut cfg), SASLMECH_OK);
            assert_eq!(saslmech_smtp_server_new(cfg, &mut s), SASLMECH_OK);
            let line = b"AUTH PLAIN";
            let r = with_mut(s, |_| -> R<()> { panic!("deliberate panic in a test") });
            assert_eq!(r, SASLMECH_PANIC);
            assert_eq!(
                saslmech_proto_server_command(s, line.as_ptr(), line.len(), &mut ev),
                SASLMECH_POISONED
            );
            assert_eq!(ev, SASLMECH_EVENT_MORE, "out-parameter written");
            saslmech_proto_server_free(s);
            saslmech_server_config_free(cfg);
        }
    }

    #[test]
    fn guards_without_a_handle() {
        assert_eq!(guard(|| panic!("deliberate panic")), SASLMECH_PANIC);
        assert_eq!(guard(|| Err(SASLMECH_ABSENT)), SASLMECH_ABSENT);
        assert_eq!(guard(|| Ok(())), SASLMECH_OK);
        assert_eq!(guard_value(7, || panic!("deliberate panic")), 7);
        // SAFETY: NULL is a valid argument to every export.
        unsafe {
            assert_eq!(
                with_mut::<saslmech_server>(null_mut(), |_| Ok(())),
                SASLMECH_NULL_ARGUMENT
            );
            free::<saslmech_server>(null_mut());
        }
    }

    #[test]
    fn failure_descriptions_match_the_rust_ones() {
        let all = [
            Failure::BadCredentials,
            Failure::AuthzDenied,
            Failure::AccountDisabled,
            Failure::Malformed,
            Failure::InvalidBase64,
            Failure::UnexpectedInitialResponse,
            Failure::Cancelled,
            Failure::TemporaryFailure,
            Failure::MechanismUnavailable,
            Failure::MechanismTooWeak,
            Failure::EncryptionRequired,
            Failure::TooManySteps,
            Failure::TooLarge,
            Failure::ChannelBinding,
            Failure::ServerAuthentication,
        ];
        for f in all {
            let text = failure_text(failure_to_c(f) as u32).to_str().unwrap();
            assert_eq!(text, f.as_str());
        }
    }

    #[test]
    fn mechanism_numbers_round_trip() {
        assert_eq!(MECHANISMS.len(), mechanism::ALL.len());
        for (n, m) in MECHANISMS.iter().zip(mechanism::ALL) {
            assert_eq!(mechanism_from_c(*n), Ok(*m));
            let (num, name) = mechanism_to_c(*m);
            assert_eq!(num, *n);
            assert_eq!(name.to_str().unwrap(), m.name());
        }
        assert_eq!(VERSION.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
