//! Result codes and every other number that crosses the ABI, with their conversions.
//!
//! Each number is stable: never changed, never reused; new ones are appended. Numbers coming
//! from C are taken as integers (`u32`) and validated here, never transmuted into a Rust enum.

use core::ffi::CStr;

use crate::mechanism::Mechanism;
use crate::{ChannelBindingType, Error, Failure, ScramHash};

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

pub(crate) use saslmech_result::*;

pub(crate) type R<T> = Result<T, saslmech_result>;

/// What a server session needs next, after a call that advanced it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_status {
    /// Send the challenge (`saslmech_server_message`), then pass the client's response to
    /// `saslmech_server_step`.
    SASLMECH_STATUS_CHALLENGE = 1,
    /// Answer the request (`saslmech_server_request` gives it and its kind) with one of the
    /// `saslmech_request_answer*` calls, now or from a later turn of the event loop.
    SASLMECH_STATUS_REQUEST = 2,
    /// The client authenticated (`saslmech_server_identity`; success data, if any, from
    /// `saslmech_server_message`).
    SASLMECH_STATUS_SUCCESS = 3,
    /// The exchange failed (`saslmech_server_failure` says why).
    SASLMECH_STATUS_FAILURE = 4,
}

pub(crate) use saslmech_status::*;

/// The kind of a pending request (`saslmech_request_kind`), for both server handles.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum saslmech_request_kind {
    /// PLAIN, LOGIN: check the password (`saslmech_request_authcid`, `_authzid`,
    /// `_password`). Answer `saslmech_request_answer` with `SASLMECH_VERDICT_ACCEPT` or
    /// `_REJECT` after checking it yourself, `saslmech_request_answer_password` with the stored
    /// password for the library to compare in constant time, or a verdict `UNKNOWN_USER`,
    /// `ACCOUNT_DISABLED` or `TEMPORARY_FAILURE`.
    SASLMECH_REQUEST_VERIFY_PASSWORD = 1,
    /// CRAM-MD5 and SCRAM: supply the user's stored secret (`saslmech_request_authcid`):
    /// `saslmech_request_answer_password` with the plaintext (either mechanism),
    /// `_answer_cram_md5_keys` with CRAM-MD5's precomputed state, `_answer_scram_keys` with
    /// SCRAM's stored keys (of the mechanism's hash), or the verdict `UNKNOWN_USER` (which
    /// costs the same work as a known user).
    SASLMECH_REQUEST_SECRET = 2,
    /// XOAUTH2 and OAUTHBEARER: validate the bearer token (`saslmech_request_token`;
    /// `_authcid` is the user the client names, `_authzid` OAUTHBEARER's `a=`, `_host` and
    /// `_port` what it says it connected to). A valid token MUST be answered with its owner,
    /// `saslmech_request_answer_token_owner`: the engine compares the owner with the identity
    /// the client asked for and, when they differ, asks for authorization
    /// (`SASLMECH_REQUEST_AUTHORIZE`) before success. A bare `SASLMECH_VERDICT_ACCEPT` is
    /// `SASLMECH_WRONG_ANSWER`. An invalid token is answered with
    /// `saslmech_request_answer_token_error` (the error challenge) or the verdict `REJECT`.
    SASLMECH_REQUEST_VALIDATE_TOKEN = 3,
    /// May the authenticated user (`saslmech_request_authcid`) act as
    /// `saslmech_request_authzid`? Answer the verdict `ACCEPT` or `REJECT`.
    SASLMECH_REQUEST_AUTHORIZE = 4,
    /// GSSAPI, GS2-KRB5 (library built with the `gssapi` feature): Kerberos authenticated the
    /// principal `saslmech_request_authcid` (`name@REALM`), which asks to act as
    /// `saslmech_request_authzid` (if present). Answer with the local user it maps to,
    /// `saslmech_request_answer_token_owner`, or the verdict `ACCEPT` (the principal's own
    /// name), `REJECT` (authorization denied) or `UNKNOWN_USER`.
    SASLMECH_REQUEST_PRINCIPAL = 5,
}

/// Why an exchange failed. The SMTP adapter's default replies (RFC 4954, RFC 5248) show how
/// the failures map to a protocol: `BAD_CREDENTIALS`, `MALFORMED` (a decoded message that
/// breaks the mechanism's grammar fails the authentication, as Dovecot and Postfix answer it),
/// `TOO_MANY_STEPS`, `CHANNEL_BINDING` and `SERVER_AUTHENTICATION` 535 5.7.8; `AUTHZ_DENIED`
/// 535 5.7.8 by default; `ACCOUNT_DISABLED` 525 5.7.13; `INVALID_BASE64` 501 5.5.2 (what the
/// SMTP layer itself cannot decode is a protocol error); `UNEXPECTED_INITIAL_RESPONSE`
/// 501 5.7.0; `CANCELLED` 501 5.0.0; `TEMPORARY` 454 4.7.0; `MECHANISM_UNAVAILABLE`
/// 504 5.5.4; `MECHANISM_TOO_WEAK` 534 5.7.9; `ENCRYPTION_REQUIRED` 538 5.7.11; `TOO_LARGE`
/// 500 5.5.6.
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
/// SCRAM-SHA-512 (draft-melnikov-scram-sha-512). Not enabled by default on a server.
pub const SASLMECH_MECH_SCRAM_SHA_512: saslmech_mechanism = 12;
/// SCRAM-SHA-512-PLUS (draft-melnikov-scram-sha-512, channel binding).
pub const SASLMECH_MECH_SCRAM_SHA_512_PLUS: saslmech_mechanism = 13;
/// GSSAPI (RFC 4752), Kerberos V5; only in a library built with the `gssapi` feature (else
/// `SASLMECH_UNKNOWN_MECHANISM`).
pub const SASLMECH_MECH_GSSAPI: saslmech_mechanism = 20;
/// GS2-KRB5 (RFC 5801); only with the `gssapi` feature, as GSSAPI.
pub const SASLMECH_MECH_GS2_KRB5: saslmech_mechanism = 21;

/// Server session flags for `saslmech_server_new` (and the connection bits for the config
/// queries).
pub type saslmech_server_flags = u32;
/// The connection is protected by TLS.
pub const SASLMECH_SERVER_TLS: saslmech_server_flags = 1;
/// The protocol can carry data with its success reply (not SMTP, IMAP or POP3: without this
/// flag, server-final data goes out as one more challenge answered by an empty response).
pub const SASLMECH_SERVER_SUCCESS_DATA: saslmech_server_flags = 2;
/// The session speaks base64: responses passed in are base64 text, challenges and success
/// data come out as base64 text (as SMTP, IMAP and POP3 carry them).
pub const SASLMECH_SERVER_BASE64: saslmech_server_flags = 4;
pub(crate) const SERVER_FLAGS: u32 =
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
pub(crate) const QUERY_FLAGS: u32 =
    SERVER_FLAGS | SASLMECH_SERVER_CHANNEL_BINDING | SASLMECH_SERVER_EXTERNAL;

/// Client session flags for `saslmech_client_new`.
pub type saslmech_client_flags = u32;
/// The session speaks base64: challenges and success data passed in are base64 text, the
/// responses that come out are base64 text.
pub const SASLMECH_CLIENT_BASE64: saslmech_client_flags = 1;
pub(crate) const CLIENT_FLAGS: u32 = SASLMECH_CLIENT_BASE64;

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
pub(crate) const SELECT_FLAGS: u32 = SASLMECH_SELECT_PASSWORD
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
/// `saslmech_request_answer_cram_md5_keys`).
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

/// A SCRAM hash (`saslmech_scram_keys_derive`). Taken as an integer and validated.
pub type saslmech_scram_hash = u32;
/// SHA-1 (SCRAM-SHA-1, SCRAM-SHA-1-PLUS).
pub const SASLMECH_SCRAM_SHA_1: saslmech_scram_hash = 1;
/// SHA-256 (SCRAM-SHA-256, SCRAM-SHA-256-PLUS).
pub const SASLMECH_SCRAM_SHA_256: saslmech_scram_hash = 2;
/// SHA-512 (SCRAM-SHA-512, SCRAM-SHA-512-PLUS).
pub const SASLMECH_SCRAM_SHA_512: saslmech_scram_hash = 3;

/// A verdict answering a pending request (`saslmech_request_answer`). Taken as an integer and
/// validated on entry.
pub type saslmech_verdict = u32;
/// Accept: the password is valid (checked by the application), or the authorization is
/// allowed. Not for a token request: answer a valid token with its owner.
pub const SASLMECH_VERDICT_ACCEPT: saslmech_verdict = 1;
/// Reject: the password or token is invalid, or the authorization is denied.
pub const SASLMECH_VERDICT_REJECT: saslmech_verdict = 2;
/// No such user: fails exactly like a wrong password, after the same work.
pub const SASLMECH_VERDICT_UNKNOWN_USER: saslmech_verdict = 3;
/// The account exists but is disabled (`SASLMECH_FAILURE_ACCOUNT_DISABLED`).
pub const SASLMECH_VERDICT_ACCOUNT_DISABLED: saslmech_verdict = 4;
/// The backend cannot answer now (`SASLMECH_FAILURE_TEMPORARY`, SMTP 454).
pub const SASLMECH_VERDICT_TEMPORARY_FAILURE: saslmech_verdict = 5;

/// The application protocol of an adapter (`saslmech_proto_server_new`,
/// `saslmech_proto_client_new`, `saslmech_proto_mechanisms`). Taken as an integer and
/// validated on entry.
pub type saslmech_protocol = u32;
/// SMTP AUTH (RFC 4954).
pub const SASLMECH_PROTOCOL_SMTP: saslmech_protocol = 1;
/// IMAP AUTHENTICATE (RFC 9051, SASL-IR RFC 4959).
pub const SASLMECH_PROTOCOL_IMAP: saslmech_protocol = 2;
/// POP3 AUTH (RFC 5034).
pub const SASLMECH_PROTOCOL_POP3: saslmech_protocol = 3;

/// A field of client credentials (`saslmech_credentials_set`). Taken as an integer and
/// validated on entry.
pub type saslmech_credential = u32;
/// The authentication identity (user name), UTF-8.
pub const SASLMECH_CREDENTIAL_AUTHCID: saslmech_credential = 1;
/// The authorization identity to act as, if different from the authcid; UTF-8.
pub const SASLMECH_CREDENTIAL_AUTHZID: saslmech_credential = 2;
/// The password (any bytes; copied into memory that is wiped when freed).
pub const SASLMECH_CREDENTIAL_PASSWORD: saslmech_credential = 3;
/// An OAuth 2.0 bearer token (copied into memory that is wiped when freed).
pub const SASLMECH_CREDENTIAL_TOKEN: saslmech_credential = 4;
/// ANONYMOUS: the trace information to send (an email address or a token, at most 255
/// characters), UTF-8.
pub const SASLMECH_CREDENTIAL_TRACE: saslmech_credential = 5;
/// OAUTHBEARER: the host name the client connected to (`host=`), UTF-8. GSSAPI, GS2-KRB5: the
/// host of the target service principal (`service/host@REALM`).
pub const SASLMECH_CREDENTIAL_HOST: saslmech_credential = 6;
/// GSSAPI, GS2-KRB5: the service name of the target principal (`smtp`, `imap`), UTF-8; with
/// `SASLMECH_CREDENTIAL_HOST` it names `service/host@REALM`. Accepted by every build, used
/// only by a library built with the `gssapi` feature.
pub const SASLMECH_CREDENTIAL_SERVICE: saslmech_credential = 7;

/// How the application stores the secrets it answers `SASLMECH_REQUEST_SECRET` with
/// (`saslmech_server_config_set_secret_storage`), so that an unknown user costs the engine the
/// same work as a known one. Taken as an integer and validated on entry.
pub type saslmech_secret_storage = u32;
/// Plaintext passwords, answered with `saslmech_request_answer_password` (the default): a known
/// user costs a key derivation per login (SCRAM's PBKDF2 with the configured iteration count,
/// CRAM-MD5's key schedule), so an unknown user costs the same derivation.
pub const SASLMECH_SECRET_STORAGE_PLAINTEXT: saslmech_secret_storage = 1;
/// Stored keys, answered with `saslmech_request_answer_scram_keys` and
/// `_answer_cram_md5_keys`: no derivation per login, and none for an unknown user.
pub const SASLMECH_SECRET_STORAGE_KEYS: saslmech_secret_storage = 2;

pub(crate) fn channel_binding_from_c(kind: saslmech_channel_binding) -> R<ChannelBindingType> {
    match kind {
        SASLMECH_CB_TLS_UNIQUE => Ok(ChannelBindingType::TlsUnique),
        SASLMECH_CB_TLS_SERVER_END_POINT => Ok(ChannelBindingType::TlsServerEndPoint),
        SASLMECH_CB_TLS_EXPORTER => Ok(ChannelBindingType::TlsExporter),
        _ => Err(SASLMECH_INVALID_ARGUMENT),
    }
}

pub(crate) fn scram_hash_to_c(hash: ScramHash) -> saslmech_scram_hash {
    match hash {
        ScramHash::Sha1 => SASLMECH_SCRAM_SHA_1,
        ScramHash::Sha256 => SASLMECH_SCRAM_SHA_256,
        ScramHash::Sha512 => SASLMECH_SCRAM_SHA_512,
    }
}

pub(crate) fn scram_hash_from_c(hash: saslmech_scram_hash) -> R<ScramHash> {
    match hash {
        SASLMECH_SCRAM_SHA_1 => Ok(ScramHash::Sha1),
        SASLMECH_SCRAM_SHA_256 => Ok(ScramHash::Sha256),
        SASLMECH_SCRAM_SHA_512 => Ok(ScramHash::Sha512),
        _ => Err(SASLMECH_INVALID_ARGUMENT),
    }
}

/// Every mechanism, strongest first (the order of `saslmech::ALL_MECHANISMS`).
pub(crate) const MECHANISMS: [saslmech_mechanism; 13] = [
    SASLMECH_MECH_SCRAM_SHA_256_PLUS,
    SASLMECH_MECH_SCRAM_SHA_512_PLUS,
    SASLMECH_MECH_SCRAM_SHA_256,
    SASLMECH_MECH_SCRAM_SHA_512,
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

pub(crate) fn mechanism_from_c(m: saslmech_mechanism) -> R<Mechanism> {
    match m {
        SASLMECH_MECH_PLAIN => Ok(Mechanism::Plain),
        SASLMECH_MECH_LOGIN => Ok(Mechanism::Login),
        SASLMECH_MECH_CRAM_MD5 => Ok(Mechanism::CramMd5),
        SASLMECH_MECH_XOAUTH2 => Ok(Mechanism::XOAuth2),
        SASLMECH_MECH_SCRAM_SHA_1 => Ok(Mechanism::ScramSha1),
        SASLMECH_MECH_SCRAM_SHA_1_PLUS => Ok(Mechanism::ScramSha1Plus),
        SASLMECH_MECH_SCRAM_SHA_256 => Ok(Mechanism::ScramSha256),
        SASLMECH_MECH_SCRAM_SHA_256_PLUS => Ok(Mechanism::ScramSha256Plus),
        SASLMECH_MECH_SCRAM_SHA_512 => Ok(Mechanism::ScramSha512),
        SASLMECH_MECH_SCRAM_SHA_512_PLUS => Ok(Mechanism::ScramSha512Plus),
        SASLMECH_MECH_OAUTHBEARER => Ok(Mechanism::OAuthBearer),
        SASLMECH_MECH_EXTERNAL => Ok(Mechanism::External),
        SASLMECH_MECH_ANONYMOUS => Ok(Mechanism::Anonymous),
        #[cfg(feature = "gssapi")]
        SASLMECH_MECH_GSSAPI => Ok(Mechanism::Gssapi),
        #[cfg(feature = "gssapi")]
        SASLMECH_MECH_GS2_KRB5 => Ok(Mechanism::Gs2Krb5),
        _ => Err(SASLMECH_UNKNOWN_MECHANISM),
    }
}

pub(crate) fn mechanism_to_c(m: Mechanism) -> (saslmech_mechanism, &'static CStr) {
    match m {
        Mechanism::Plain => (SASLMECH_MECH_PLAIN, c"PLAIN"),
        Mechanism::Login => (SASLMECH_MECH_LOGIN, c"LOGIN"),
        Mechanism::CramMd5 => (SASLMECH_MECH_CRAM_MD5, c"CRAM-MD5"),
        Mechanism::XOAuth2 => (SASLMECH_MECH_XOAUTH2, c"XOAUTH2"),
        Mechanism::ScramSha1 => (SASLMECH_MECH_SCRAM_SHA_1, c"SCRAM-SHA-1"),
        Mechanism::ScramSha1Plus => (SASLMECH_MECH_SCRAM_SHA_1_PLUS, c"SCRAM-SHA-1-PLUS"),
        Mechanism::ScramSha256 => (SASLMECH_MECH_SCRAM_SHA_256, c"SCRAM-SHA-256"),
        Mechanism::ScramSha256Plus => (SASLMECH_MECH_SCRAM_SHA_256_PLUS, c"SCRAM-SHA-256-PLUS"),
        Mechanism::ScramSha512 => (SASLMECH_MECH_SCRAM_SHA_512, c"SCRAM-SHA-512"),
        Mechanism::ScramSha512Plus => (SASLMECH_MECH_SCRAM_SHA_512_PLUS, c"SCRAM-SHA-512-PLUS"),
        Mechanism::OAuthBearer => (SASLMECH_MECH_OAUTHBEARER, c"OAUTHBEARER"),
        Mechanism::External => (SASLMECH_MECH_EXTERNAL, c"EXTERNAL"),
        Mechanism::Anonymous => (SASLMECH_MECH_ANONYMOUS, c"ANONYMOUS"),
        #[cfg(feature = "gssapi")]
        Mechanism::Gssapi => (SASLMECH_MECH_GSSAPI, c"GSSAPI"),
        #[cfg(feature = "gssapi")]
        Mechanism::Gs2Krb5 => (SASLMECH_MECH_GS2_KRB5, c"GS2-KRB5"),
    }
}

pub(crate) fn failure_to_c(f: Failure) -> saslmech_failure {
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
pub(crate) fn failure_text(f: u32) -> &'static CStr {
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

pub(crate) fn result_text(r: u32) -> &'static CStr {
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

pub(crate) fn error_to_c(e: Error) -> saslmech_result {
    match e {
        Error::Failed(_) => SASLMECH_FAILED,
        Error::InvalidState => SASLMECH_INVALID_STATE,
        Error::WrongAnswer => SASLMECH_WRONG_ANSWER,
        Error::InvalidArgument(_) => SASLMECH_INVALID_ARGUMENT,
    }
}

/// The `Answer` a verdict stands for.
pub(crate) fn verdict_from_c(v: saslmech_verdict) -> R<crate::Answer<'static>> {
    use crate::Answer;
    match v {
        SASLMECH_VERDICT_ACCEPT => Ok(Answer::Accept),
        SASLMECH_VERDICT_REJECT => Ok(Answer::Reject),
        SASLMECH_VERDICT_UNKNOWN_USER => Ok(Answer::UnknownUser),
        SASLMECH_VERDICT_ACCOUNT_DISABLED => Ok(Answer::AccountDisabled),
        SASLMECH_VERDICT_TEMPORARY_FAILURE => Ok(Answer::TemporaryFailure),
        _ => Err(SASLMECH_INVALID_ARGUMENT),
    }
}

/// The protocols an adapter speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Smtp,
    Imap,
    Pop3,
}

pub(crate) fn protocol_from_c(p: saslmech_protocol) -> R<Protocol> {
    match p {
        SASLMECH_PROTOCOL_SMTP => Ok(Protocol::Smtp),
        SASLMECH_PROTOCOL_IMAP => Ok(Protocol::Imap),
        SASLMECH_PROTOCOL_POP3 => Ok(Protocol::Pop3),
        _ => Err(SASLMECH_INVALID_ARGUMENT),
    }
}

pub(crate) fn secret_storage_from_c(s: saslmech_secret_storage) -> R<crate::SecretStorage> {
    match s {
        SASLMECH_SECRET_STORAGE_PLAINTEXT => Ok(crate::SecretStorage::Plaintext),
        SASLMECH_SECRET_STORAGE_KEYS => Ok(crate::SecretStorage::Keys),
        _ => Err(SASLMECH_INVALID_ARGUMENT),
    }
}
