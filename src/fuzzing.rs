//! Fuzz target bodies, as ordinary functions (feature `fuzzing`).
//!
//! Each target takes arbitrary bytes and drives the engine with them, checking *oracles* as it
//! goes: it panics only when the engine breaks a promise, never because the input is odd. The
//! cargo-fuzz targets in `fuzz/` are one-line wrappers around these functions, and the stable
//! test `tests/fuzz_replay.rs` replays every committed corpus file through them, so a crash
//! found by a campaign becomes a regression test by saving its input in `fuzz/corpus/<target>/`.
//!
//! Oracles checked by every target:
//! * no panic, and every output bounded by the configured limits;
//! * a call the session refuses (`Err(InvalidState | WrongAnswer)`) changes nothing;
//! * after success or failure every further call is `Err(Error::InvalidState)`;
//! * the server reports success only for the right credentials: a password it was told to
//!   compare equals the one the client presented; a CRAM-MD5 digest equals HMAC-MD5 of the
//!   challenge under the stored password, computed here with the `hmac` crate as an
//!   independent reference; a token was accepted by the application.
//!
//! # Input formats
//!
//! Inputs are read with [`Input`]: single bytes select operations and flags, and byte strings
//! are length-prefixed ([`Script`] writes them). Reading past the end yields zeros and empty
//! strings, so every byte string is a valid input.
//!
//! * [`server`]: two config bytes (see [`server_config`]), then operations: `op` byte
//!   ([`op`]) followed by its operands.
//! * [`client`]: a flags byte, optional credentials, then operations ([`cop`]).
//! * [`differential`]: a mechanism byte, a flags byte, credentials, then one mutation byte
//!   (plus operands) per message in flight.
//! * [`base64()`]: the raw bytes, used both as text to decode and as data to encode.
//!
//! # Adding a target
//!
//! Write `pub fn NAME(data: &[u8])` here, add `("NAME", NAME)` to [`TARGETS`], and run
//! `scripts/fuzz-add-target.sh NAME` (it writes `fuzz/fuzz_targets/NAME.rs`, the `[[bin]]`
//! entry and an empty corpus directory). `tests/fuzz_replay.rs` checks that the three agree.
//! A new mechanism needs only a line in [`MECHANISMS`] and its two one-line functions.

// The one justified exception to the crate's panic-freedom lints: an oracle that sees the
// engine break a promise must crash, so that the fuzzer records the input. Only this module,
// compiled only with the `fuzzing` feature, does so.
#![allow(clippy::panic)]

use std::sync::Arc;

use crate::b64;
use crate::saslprep::{self, Mode};
use crate::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, CramMd5Keys, Credentials, Error,
    Failure, Mechanism, NonceSource, Request, ScramHash, ScramKeys, ServerConfig, ServerSession,
    ServerStep, TokenError, Transport,
};

mod adapters;
#[cfg(feature = "capi")]
pub use crate::fuzzing_capi::capi;
pub use adapters::{
    imap_client, imap_server, lop, pop3_client, pop3_server, smtp_client, smtp_server, sop,
};

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every fuzz target: its name (the cargo-fuzz target and corpus directory) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("server_plain", server_plain),
    ("server_login", server_login),
    ("server_cram_md5", server_cram_md5),
    ("server_xoauth2", server_xoauth2),
    ("client_plain", client_plain),
    ("client_login", client_login),
    ("client_cram_md5", client_cram_md5),
    ("client_xoauth2", client_xoauth2),
    ("differential", differential),
    ("base64", base64),
    ("mechanism_list", mechanism_list),
    ("server_scram_sha_1", server_scram_sha_1),
    ("server_scram_sha_256", server_scram_sha_256),
    ("server_scram_sha_1_plus", server_scram_sha_1_plus),
    ("server_scram_sha_256_plus", server_scram_sha_256_plus),
    ("server_oauthbearer", server_oauthbearer),
    ("server_external", server_external),
    ("server_anonymous", server_anonymous),
    ("client_scram_sha_1", client_scram_sha_1),
    ("client_scram_sha_256", client_scram_sha_256),
    ("client_scram_sha_1_plus", client_scram_sha_1_plus),
    ("client_scram_sha_256_plus", client_scram_sha_256_plus),
    ("client_oauthbearer", client_oauthbearer),
    ("client_external", client_external),
    ("client_anonymous", client_anonymous),
    ("smtp_server", smtp_server),
    ("imap_server", imap_server),
    ("pop3_server", pop3_server),
    ("smtp_client", smtp_client),
    ("imap_client", imap_client),
    ("pop3_client", pop3_client),
    #[cfg(feature = "capi")]
    ("capi", capi),
];

/// The mechanisms the differential target chooses from (by its first byte, modulo the length).
/// Append new mechanisms at the end so that existing corpus files keep their meaning.
pub const MECHANISMS: &[Mechanism] = &[
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::CramMd5,
    Mechanism::XOAuth2,
    Mechanism::ScramSha1,
    Mechanism::ScramSha256,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha256Plus,
    Mechanism::OAuthBearer,
    Mechanism::External,
    Mechanism::Anonymous,
];

/// The server target for PLAIN.
pub fn server_plain(data: &[u8]) {
    server(Mechanism::Plain, data)
}
/// The server target for LOGIN.
pub fn server_login(data: &[u8]) {
    server(Mechanism::Login, data)
}
/// The server target for CRAM-MD5.
pub fn server_cram_md5(data: &[u8]) {
    server(Mechanism::CramMd5, data)
}
/// The server target for XOAUTH2.
pub fn server_xoauth2(data: &[u8]) {
    server(Mechanism::XOAuth2, data)
}
/// The client target for PLAIN.
pub fn client_plain(data: &[u8]) {
    client(Mechanism::Plain, data)
}
/// The client target for LOGIN.
pub fn client_login(data: &[u8]) {
    client(Mechanism::Login, data)
}
/// The client target for CRAM-MD5.
pub fn client_cram_md5(data: &[u8]) {
    client(Mechanism::CramMd5, data)
}
/// The client target for XOAUTH2.
pub fn client_xoauth2(data: &[u8]) {
    client(Mechanism::XOAuth2, data)
}
/// The server target for SCRAM-SHA-1.
pub fn server_scram_sha_1(data: &[u8]) {
    server(Mechanism::ScramSha1, data)
}
/// The server target for SCRAM-SHA-256.
pub fn server_scram_sha_256(data: &[u8]) {
    server(Mechanism::ScramSha256, data)
}
/// The server target for SCRAM-SHA-1-PLUS.
pub fn server_scram_sha_1_plus(data: &[u8]) {
    server(Mechanism::ScramSha1Plus, data)
}
/// The server target for SCRAM-SHA-256-PLUS.
pub fn server_scram_sha_256_plus(data: &[u8]) {
    server(Mechanism::ScramSha256Plus, data)
}
/// The server target for OAUTHBEARER.
pub fn server_oauthbearer(data: &[u8]) {
    server(Mechanism::OAuthBearer, data)
}
/// The server target for EXTERNAL.
pub fn server_external(data: &[u8]) {
    server(Mechanism::External, data)
}
/// The server target for ANONYMOUS.
pub fn server_anonymous(data: &[u8]) {
    server(Mechanism::Anonymous, data)
}
/// The client target for SCRAM-SHA-1.
pub fn client_scram_sha_1(data: &[u8]) {
    client(Mechanism::ScramSha1, data)
}
/// The client target for SCRAM-SHA-256.
pub fn client_scram_sha_256(data: &[u8]) {
    client(Mechanism::ScramSha256, data)
}
/// The client target for SCRAM-SHA-1-PLUS.
pub fn client_scram_sha_1_plus(data: &[u8]) {
    client(Mechanism::ScramSha1Plus, data)
}
/// The client target for SCRAM-SHA-256-PLUS.
pub fn client_scram_sha_256_plus(data: &[u8]) {
    client(Mechanism::ScramSha256Plus, data)
}
/// The client target for OAUTHBEARER.
pub fn client_oauthbearer(data: &[u8]) {
    client(Mechanism::OAuthBearer, data)
}
/// The client target for EXTERNAL.
pub fn client_external(data: &[u8]) {
    client(Mechanism::External, data)
}
/// The client target for ANONYMOUS.
pub fn client_anonymous(data: &[u8]) {
    client(Mechanism::Anonymous, data)
}

/// The most operations one input may drive (keeps every run short).
pub const MAX_OPS: usize = 48;
/// The largest message a `*_BIG` operation builds (above the default 64 KiB limit).
pub const MAX_BIG: usize = 80 * 1024;
/// The host name and fixed nonce that make the server's CRAM-MD5 challenge RFC 2195's.
pub const RFC2195_HOST: &str = "postoffice.reston.mci.net";
/// See [`RFC2195_HOST`].
pub const RFC2195_NONCE: &[u8] = b"1896.697170952";
/// The external identity the server targets' transport carries (config byte `b` bit 5).
pub const EXTERNAL_IDENTITY: &str = "client.example.net";
/// The SCRAM fake-salt secret of every server target (fixed, so runs are reproducible).
pub const SCRAM_SECRET: &[u8] = b"saslmech fuzzing scram secret";
/// The channel-binding data of the targets: `tls-exporter` (32 bytes), `tls-server-end-point`
/// (a SHA-256 certificate hash) and `tls-unique` (a 12-byte Finished message).
pub const CB_EXPORTER: &[u8] = &[0xe5; 32];
/// See [`CB_EXPORTER`].
pub const CB_END_POINT: &[u8] = &[0x5e; 32];
/// See [`CB_EXPORTER`].
pub const CB_UNIQUE: &[u8] = b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c";
/// RFC 5802's client nonce (the SCRAM-SHA-1 client targets' fixed nonce).
pub const RFC5802_CLIENT_NONCE: &[u8] = b"fyko+d2lbbFgONRv9qkxdawL";
/// RFC 7677's client nonce (the SCRAM-SHA-256 client targets' fixed nonce).
pub const RFC7677_CLIENT_NONCE: &[u8] = b"rOprNGfwEbeRWgbNEkqO";

/// The channel-binding type and data for a two-bit selector: 0 none, 1 `tls-exporter`,
/// 2 `tls-server-end-point`, 3 `tls-unique`.
pub fn channel_binding(sel: u8) -> Option<(ChannelBindingType, &'static [u8])> {
    match sel & 3 {
        1 => Some((ChannelBindingType::TlsExporter, CB_EXPORTER)),
        2 => Some((ChannelBindingType::TlsServerEndPoint, CB_END_POINT)),
        3 => Some((ChannelBindingType::TlsUnique, CB_UNIQUE)),
        _ => None,
    }
}

/// A counter pattern as nonce bytes (deterministic "random" nonces).
fn counter_nonce(buf: &mut [u8]) -> bool {
    for (i, x) in buf.iter_mut().enumerate() {
        *x = i as u8;
    }
    true
}

/// A reader over fuzz input. Reading past the end yields `0` and empty strings.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Read from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One byte (0 at the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// A byte string: a length (one byte below 0x80, else two bytes, 15 bits big-endian),
    /// then that many bytes (fewer if the input ends first).
    pub fn bytes(&mut self) -> &'a [u8] {
        let first = usize::from(self.byte());
        let len = if first < 0x80 {
            first
        } else {
            ((first & 0x7f) << 8) | usize::from(self.byte())
        };
        let (head, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A byte string as text: its longest valid UTF-8 prefix.
    pub fn text(&mut self) -> &'a str {
        utf8_prefix(self.bytes())
    }

    /// A byte string repeated to a length given by two more bytes (times 16), at most
    /// [`MAX_BIG`]: cheap way to reach the size limits.
    pub fn big(&mut self) -> Vec<u8> {
        let unit = self.bytes();
        let n = (usize::from(self.byte()) << 8 | usize::from(self.byte())) * 16;
        let n = n.min(MAX_BIG);
        if unit.is_empty() {
            return vec![b'A'; n];
        }
        unit.iter().copied().cycle().take(n).collect()
    }
}

fn utf8_prefix(b: &[u8]) -> &str {
    match core::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) => b
            .get(..e.valid_up_to())
            .and_then(|p| core::str::from_utf8(p).ok())
            .unwrap_or_default(),
    }
}

/// Writes inputs in the format [`Input`] reads: for seed corpora and tests.
#[derive(Clone, Debug, Default)]
pub struct Script(Vec<u8>);

impl Script {
    /// An empty script.
    pub fn new() -> Self {
        Script(Vec::new())
    }
    /// Append one byte.
    pub fn byte(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }
    /// Append a length-prefixed byte string (at most 32767 bytes; longer ones are cut).
    pub fn bytes(mut self, b: &[u8]) -> Self {
        let b = b.get(..b.len().min(0x7fff)).unwrap_or_default();
        let len = b.len();
        if len < 0x80 {
            self.0.push(len as u8);
        } else {
            self.0.push(0x80 | (len >> 8) as u8);
            self.0.push((len & 0xff) as u8);
        }
        self.0.extend_from_slice(b);
        self
    }
    /// Append an operation byte and a byte string.
    pub fn op(self, op: u8, b: &[u8]) -> Self {
        self.byte(op).bytes(b)
    }
    /// The bytes written.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

/// Server operations (the `op` byte, taken modulo [`op::COUNT`]).
pub mod op {
    /// `start(None)`.
    pub const START: u8 = 0;
    /// `start(Some(bytes))`.
    pub const START_IR: u8 = 1;
    /// `start_b64(Some(bytes))`.
    pub const START_B64: u8 = 2;
    /// `start_b64(None)`.
    pub const START_B64_NONE: u8 = 3;
    /// `step(bytes)`.
    pub const STEP: u8 = 4;
    /// `step_b64(bytes)`.
    pub const STEP_B64: u8 = 5;
    /// `answer(answer)`; the answer follows (see [`super::Input`] and `read_answer`).
    pub const ANSWER: u8 = 6;
    /// `answer_b64(answer)`.
    pub const ANSWER_B64: u8 = 7;
    /// `cancel()`.
    pub const CANCEL: u8 = 8;
    /// `step(big)` with [`super::Input::big`].
    pub const STEP_BIG: u8 = 9;
    /// `step_b64(big)`.
    pub const STEP_B64_BIG: u8 = 10;
    /// `start(Some(big))`.
    pub const START_BIG: u8 = 11;
    /// Number of operations.
    pub const COUNT: u8 = 12;
}

/// Answer kinds (the byte after [`op::ANSWER`], modulo [`ans::COUNT`]).
pub mod ans {
    /// `Answer::Accept`.
    pub const ACCEPT: u8 = 0;
    /// `Answer::Reject`.
    pub const REJECT: u8 = 1;
    /// `Answer::UnknownUser`.
    pub const UNKNOWN_USER: u8 = 2;
    /// `Answer::AccountDisabled`.
    pub const ACCOUNT_DISABLED: u8 = 3;
    /// `Answer::TemporaryFailure`.
    pub const TEMPORARY_FAILURE: u8 = 4;
    /// `Answer::Password(bytes)`.
    pub const PASSWORD: u8 = 5;
    /// `Answer::CramMd5Keys(from_password(bytes))`.
    pub const CRAM_MD5_KEYS: u8 = 6;
    /// `Answer::TokenError { status: text, scope: text or None if empty }`.
    pub const TOKEN_ERROR: u8 = 7;
    /// `Answer::ScramKeys`: a hash byte (even SHA-1, odd SHA-256), password, salt and an
    /// iteration byte (1 + byte % 16) for `ScramKeys::derive`; if that refuses them, keys from
    /// `ScramKeys::new` with the password bytes repeated as StoredKey and ServerKey.
    pub const SCRAM_KEYS: u8 = 8;
    /// `Answer::TokenOwner(text)`.
    pub const TOKEN_OWNER: u8 = 9;
    /// Number of answer kinds.
    pub const COUNT: u8 = 10;
}

/// The server configuration and transport two bytes select.
///
/// `a`: bit 0 TLS, bit 1 success data, bit 2 allow plaintext without TLS, bit 3 refuse weak
/// mechanisms, bits 4–5 `max_message` (default, 64, 512, 4096), bits 6–7 `max_steps`
/// (default, 1, 2, 3). `b`: bit 0 `max_identity` 255, bits 1–2 nonce (fixed RFC 2195 nonce,
/// OS, a source that fails, a counter pattern), bits 3–4 channel-binding data on the
/// transport ([`channel_binding`]; 3 gives all three types), bit 5 the external identity
/// [`EXTERNAL_IDENTITY`], bits 6–7 the SCRAM iteration count (1, 2, 3, 16: cheap, so that a
/// campaign gets deep).
pub fn server_config(a: u8, b: u8) -> (ServerConfig, Transport) {
    let max_message = match (a >> 4) & 3 {
        0 => ServerConfig::DEFAULT_MAX_MESSAGE,
        1 => 64,
        2 => 512,
        _ => 4096,
    };
    let max_steps = match a >> 6 {
        0 => ServerConfig::DEFAULT_MAX_STEPS,
        n => u16::from(n),
    };
    let nonce = match (b >> 1) & 3 {
        0 => NonceSource::Fixed(RFC2195_NONCE.to_vec()),
        1 => NonceSource::Os,
        2 => NonceSource::Function(|_| false),
        _ => NonceSource::Function(counter_nonce),
    };
    let mut config = ServerConfig::new()
        .mechanisms(crate::ALL_MECHANISMS)
        .allow_plaintext_without_tls(a & 4 != 0)
        .allow_weak(a & 8 == 0)
        .hostname(RFC2195_HOST)
        .max_message(max_message)
        .max_steps(max_steps)
        .nonce_source(nonce)
        .scram_secret(SCRAM_SECRET)
        .scram_iterations(match b >> 6 {
            3 => 16,
            n => u32::from(n) + 1,
        });
    if b & 1 != 0 {
        config = config.max_identity(255);
    }
    let mut transport = if a & 1 != 0 {
        Transport::tls()
    } else {
        Transport::plaintext()
    };
    match (b >> 3) & 3 {
        0 => {}
        3 => {
            for sel in 1..=3 {
                if let Some((kind, data)) = channel_binding(sel) {
                    transport = transport.with_channel_binding(kind, data);
                }
            }
        }
        sel => {
            if let Some((kind, data)) = channel_binding(sel) {
                transport = transport.with_channel_binding(kind, data);
            }
        }
    }
    if b & 0x20 != 0 {
        transport = transport.with_external_identity(EXTERNAL_IDENTITY);
    }
    (config, transport.with_success_data(a & 2 != 0))
}

/// Read an `Answer::ScramKeys` operand (see [`ans::SCRAM_KEYS`]).
fn read_scram_keys(input: &mut Input<'_>) -> ScramKeys {
    let hash = if input.byte() & 1 == 0 {
        ScramHash::Sha1
    } else {
        ScramHash::Sha256
    };
    let password = input.bytes();
    let salt = input.bytes();
    let iterations = u32::from(input.byte() % 16) + 1;
    let keys = match ScramKeys::derive(hash, password, salt, iterations) {
        Ok(k) => k,
        Err(e) => {
            assert!(matches!(e, Error::InvalidArgument(_)), "derive: {e:?}");
            let n = hash.output_len();
            let fill: Vec<u8> = password
                .iter()
                .copied()
                .chain([0x5a])
                .cycle()
                .take(n)
                .collect();
            let salt = if salt.is_empty() { b"salt" } else { salt };
            match ScramKeys::new(hash, salt, iterations, &fill, &fill) {
                Ok(k) => k,
                Err(e) => panic!("ScramKeys::new refused valid keys: {e:?}"),
            }
        }
    };
    // The stored form round-trips.
    let text = keys.to_rfc5803();
    assert_eq!(
        ScramKeys::from_rfc5803(&text).as_ref(),
        Ok(&keys),
        "RFC 5803 round trip"
    );
    let _ = format!("{keys:?}");
    keys
}

/// An answer as read from the input; owns what the `Answer` borrows.
enum OwnedAnswer<'a> {
    Simple(u8),
    Password(&'a [u8]),
    Keys(&'a [u8], CramMd5Keys),
    TokenError(&'a str, &'a str),
    ScramKeys(ScramKeys),
    TokenOwner(&'a str),
}

impl<'a> OwnedAnswer<'a> {
    fn read(input: &mut Input<'a>) -> Self {
        match input.byte() % ans::COUNT {
            ans::PASSWORD => OwnedAnswer::Password(input.bytes()),
            ans::CRAM_MD5_KEYS => {
                let p = input.bytes();
                OwnedAnswer::Keys(p, keys_round_trip(p))
            }
            ans::TOKEN_ERROR => OwnedAnswer::TokenError(input.text(), input.text()),
            ans::SCRAM_KEYS => OwnedAnswer::ScramKeys(read_scram_keys(input)),
            ans::TOKEN_OWNER => OwnedAnswer::TokenOwner(input.text()),
            k => OwnedAnswer::Simple(k),
        }
    }

    fn answer(&self) -> Answer<'_> {
        match self {
            OwnedAnswer::Simple(ans::ACCEPT) => Answer::Accept,
            OwnedAnswer::Simple(ans::REJECT) => Answer::Reject,
            OwnedAnswer::Simple(ans::UNKNOWN_USER) => Answer::UnknownUser,
            OwnedAnswer::Simple(ans::ACCOUNT_DISABLED) => Answer::AccountDisabled,
            OwnedAnswer::Simple(_) => Answer::TemporaryFailure,
            OwnedAnswer::Password(p) => Answer::Password(p),
            OwnedAnswer::Keys(_, k) => Answer::CramMd5Keys(k),
            OwnedAnswer::TokenError(status, scope) => Answer::TokenError(TokenError {
                status,
                scope: (!scope.is_empty()).then_some(*scope),
            }),
            OwnedAnswer::ScramKeys(k) => Answer::ScramKeys(k),
            OwnedAnswer::TokenOwner(o) => Answer::TokenOwner(o),
        }
    }

    /// A token owner the engine must refuse as an argument (empty, or with NUL).
    fn bad_owner(&self) -> bool {
        matches!(self, OwnedAnswer::TokenOwner(o) if o.is_empty() || o.contains('\0'))
    }
}

/// `CramMd5Keys::from_password(p)`, after checking that its stored forms (Dovecot's text and
/// bytes) round-trip, and that `p` read as stored text parses only if it is well formed.
fn keys_round_trip(p: &[u8]) -> CramMd5Keys {
    let keys = CramMd5Keys::from_password(p);
    let text = keys.to_dovecot();
    assert_eq!(CramMd5Keys::from_dovecot(&text).as_ref(), Some(&keys));
    assert_eq!(CramMd5Keys::from_bytes(&keys.to_bytes()), keys);
    let stored = utf8_prefix(p);
    if let Some(k) = CramMd5Keys::from_dovecot(stored) {
        // Either case is read; `to_dovecot` writes lower case.
        let hex = stored.strip_prefix("{CRAM-MD5}").unwrap_or(stored);
        assert_eq!(
            k.to_dovecot().get(10..),
            Some(hex.to_ascii_lowercase().as_str()),
            "from_dovecot accepted {stored:?}"
        );
    }
    let _ = format!("{keys:?}");
    keys
}

/// What the oracle remembers of a pending request, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Password {
        authcid: String,
        password: Vec<u8>,
    },
    Secret {
        mechanism: Mechanism,
        authcid: String,
    },
    Token {
        mechanism: Mechanism,
        user: String,
        token: Vec<u8>,
        authzid: Option<String>,
    },
    Authorize {
        authcid: String,
        authzid: String,
    },
    Other,
}

fn pending_of(r: &Request<'_>) -> Pending {
    match r {
        Request::VerifyPassword(p) => Pending::Password {
            authcid: {
                let _ = (p.mechanism(), p.authzid());
                p.authcid().to_owned()
            },
            password: p.password().to_vec(),
        },
        Request::Secret(s) => Pending::Secret {
            mechanism: s.mechanism(),
            authcid: s.authcid().to_owned(),
        },
        Request::ValidateToken(t) => Pending::Token {
            mechanism: {
                let _ = (t.host(), t.port());
                t.mechanism()
            },
            user: t.user().to_owned(),
            token: t.token().to_vec(),
            authzid: t.authzid().map(str::to_owned),
        },
        Request::Authorize(a) => Pending::Authorize {
            authcid: a.authcid().to_owned(),
            authzid: a.authzid().to_owned(),
        },
        #[allow(unreachable_patterns)] // requests added by mechanisms to come
        _ => Pending::Other,
    }
}

/// Check an identity the engine reports: non-empty, no NUL, within the limit.
fn check_identity(what: &str, id: &str, max: usize) {
    assert!(!id.is_empty(), "{what}: empty identity");
    assert!(!id.contains('\0'), "{what}: identity contains NUL");
    assert!(id.len() <= max, "{what}: identity over the limit");
}

/// HMAC-MD5 by the `hmac` crate: the independent reference for CRAM-MD5.
pub fn reference_cram_md5(password: &[u8], challenge: &[u8]) -> [u8; 16] {
    use hmac::{KeyInit, Mac};
    let mut mac = match hmac::Hmac::<md5::Md5>::new_from_slice(password) {
        Ok(m) => m,
        Err(_) => return [0; 16],
    };
    mac.update(challenge);
    mac.finalize().into_bytes().into()
}

/// Parse a CRAM-MD5 response `user SP 32*lowerhex` the way RFC 2195 says (rightmost space).
fn cram_md5_digest(response: &[u8]) -> Option<[u8; 16]> {
    let space = response.iter().rposition(|b| *b == b' ')?;
    let hex = response.get(space + 1..)?;
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let s = core::str::from_utf8(pair).ok()?;
        if s.bytes().any(|c| c.is_ascii_uppercase()) {
            return None;
        }
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// A server-side session driven by arbitrary client messages and arbitrary answers.
///
/// Oracles, beyond no panic: refused calls change nothing; finished sessions refuse every
/// call; outputs are bounded; a stored password answer succeeds exactly when it equals the
/// presented password (PLAIN, LOGIN) or the reference HMAC (CRAM-MD5); `Reject` and
/// `UnknownUser` never succeed; the size and round-trip limits give `TooLarge` and
/// `TooManySteps`.
pub fn server(mechanism: Mechanism, data: &[u8]) {
    let mut input = Input::new(data);
    let (a, b) = (input.byte(), input.byte());
    let (config, transport) = server_config(a, b);
    let config = Arc::new(config);
    let mut s = match ServerSession::new(&config, mechanism, &transport) {
        Ok(s) => s,
        Err(f) => {
            assert!(
                matches!(
                    f,
                    Failure::MechanismUnavailable
                        | Failure::MechanismTooWeak
                        | Failure::EncryptionRequired
                ),
                "policy failure {f:?}"
            );
            assert_eq!(config.check_transport(mechanism, &transport), Err(f));
            assert!(!config.offered_on(&transport).any(|m| m == mechanism));
            assert!(!config.offered(transport.tls).any(|m| m == mechanism));
            return;
        }
    };
    let _ = format!("{config:?}{transport:?}");
    assert!(config.offered_on(&transport).any(|m| m == mechanism));
    assert_eq!(
        config.offered(transport.tls).any(|m| m == mechanism),
        !mechanism.channel_binding() && mechanism != Mechanism::External
    );
    let max_message = config.max_message_len();
    let max_identity = config_max_identity(&config);
    let mut oracle = ServerOracle {
        mechanism,
        transport: transport.clone(),
        scram_iterations: config.scram_iterations,
        ..ServerOracle::default()
    };
    // Mechanisms whose credential is the transport's (EXTERNAL) or none (ANONYMOUS): the
    // identity is fixed in advance.
    match mechanism {
        Mechanism::Anonymous => {
            oracle.positive_answer = true;
            oracle.expected_authcid = Some(crate::mech::anonymous::ANONYMOUS_IDENTITY.to_owned());
        }
        Mechanism::External => {
            oracle.positive_answer = transport.external_identity().is_some_and(|i| !i.is_empty());
            oracle.expected_authcid = transport.external_identity().map(str::to_owned);
        }
        _ => {}
    }
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        let op = input.byte() % op::COUNT;
        let before = Snapshot::of(&s);
        let mut owned_msg: Vec<u8> = Vec::new();
        let mut msg: &[u8] = &[];
        let mut answer: Option<OwnedAnswer<'_>> = None;
        match op {
            op::START_IR | op::START_B64 | op::STEP | op::STEP_B64 => msg = input.bytes(),
            op::STEP_BIG | op::STEP_B64_BIG | op::START_BIG => owned_msg = input.big(),
            op::ANSWER | op::ANSWER_B64 => answer = Some(OwnedAnswer::read(&mut input)),
            _ => {}
        }
        if !owned_msg.is_empty() {
            msg = &owned_msg;
        }
        if op == op::CANCEL {
            let r = s.cancel();
            if before.finished {
                assert_eq!(r, Err(Error::InvalidState), "cancel after the end");
                before.assert_same(&s);
            } else {
                assert_eq!(r, Ok(Failure::Cancelled));
                assert_eq!(s.failure(), Some(Failure::Cancelled));
            }
            continue;
        }
        let b64_out = matches!(
            op,
            op::START_B64 | op::START_B64_NONE | op::STEP_B64 | op::STEP_B64_BIG | op::ANSWER_B64
        );
        // What the oracle expects of a message-carrying call.
        let raw_msg: Option<Vec<u8>> = match op {
            op::START_IR | op::STEP | op::STEP_BIG | op::START_BIG => Some(msg.to_vec()),
            op::START_B64 | op::STEP_B64 | op::STEP_B64_BIG => {
                // None: must fail with InvalidBase64 or TooLarge.
                reference_decode(msg)
            }
            _ => None,
        };
        let is_message = matches!(
            op,
            op::START_IR
                | op::START_B64
                | op::STEP
                | op::STEP_B64
                | op::STEP_BIG
                | op::STEP_B64_BIG
                | op::START_BIG
        );
        if let Some(a) = &answer {
            let _ = format!("{:?}", a.answer());
        }
        let result = match op {
            op::START => s.start(None),
            op::START_IR | op::START_BIG => s.start(Some(msg)),
            op::START_B64 => s.start_b64(Some(msg)),
            op::START_B64_NONE => s.start_b64(None),
            op::STEP | op::STEP_BIG => s.step(msg),
            op::STEP_B64 | op::STEP_B64_BIG => s.step_b64(msg),
            _ => match &answer {
                Some(a) if op == op::ANSWER_B64 => s.answer_b64(a.answer()),
                Some(a) => s.answer(a.answer()),
                None => s.answer(Answer::Reject),
            },
        };
        let outcome = match result {
            Err(e) => {
                // A token owner that is no identity is the application's mistake: refused as
                // an argument, with the request still pending.
                let bad_owner = answer.as_ref().is_some_and(OwnedAnswer::bad_owner);
                assert!(
                    matches!(e, Error::InvalidState | Error::WrongAnswer)
                        || (matches!(e, Error::InvalidArgument(_)) && bad_owner && before.pending),
                    "server call error {e:?}"
                );
                if e == Error::WrongAnswer {
                    assert!(before.pending, "WrongAnswer without a pending request");
                }
                Outcome::Refused
            }
            Ok(step) => {
                assert!(!before.finished, "a finished session accepted a call");
                let _ = format!("{step:?}{step:#?}");
                Outcome::of(step, b64_out)
            }
        };
        if let Some(a) = &answer {
            oracle.check_answer(mechanism, &before, a, &outcome);
        }
        if outcome == Outcome::Refused {
            before.assert_same(&s);
            continue;
        }
        let after = Snapshot::of(&s);
        outcome.check_consistent(
            &s,
            &after,
            max_message,
            max_identity,
            oracle.expected_authcid.as_deref(),
        );
        if mechanism.is_scram() {
            oracle.check_scram(is_message, raw_msg.as_deref(), &outcome, &after);
        }
        // Size limit and base64 strictness on message-carrying calls.
        if is_message {
            match &raw_msg {
                Some(raw) if raw.len() > max_message && !before.final_challenge() => {
                    assert_eq!(
                        outcome,
                        Outcome::Failure(Failure::TooLarge),
                        "oversized message"
                    );
                }
                None if !b64_out => {}
                None => {
                    let f = match &outcome {
                        Outcome::Failure(f) => *f,
                        o => panic!("invalid base64 accepted: {o:?}"),
                    };
                    assert!(
                        matches!(f, Failure::InvalidBase64 | Failure::TooLarge),
                        "invalid base64 gave {f:?}"
                    );
                }
                Some(_) => {}
            }
            // The acknowledgement of success data is not a round trip.
            if !before.final_challenge() {
                oracle.messages += 1;
            }
            if !matches!(outcome, Outcome::Failure(_)) {
                assert!(
                    oracle.messages <= u32::from(config_max_steps(&config)),
                    "more client messages than max_steps"
                );
            }
            if let Some(raw) = raw_msg {
                oracle.last_message = raw;
            }
        }
        if let Outcome::Challenge(c) = &outcome {
            oracle.last_challenge = c.clone();
        }
        if let Outcome::Success { .. } = &outcome {
            assert!(
                oracle.positive_answer,
                "success without a positive answer to a credential request"
            );
            if mechanism == Mechanism::Anonymous {
                assert!(s.anonymous_trace().is_some(), "ANONYMOUS without its trace");
            } else {
                assert_eq!(s.anonymous_trace(), None);
            }
        }
    }
    let _ = format!("{s:?}{s:#?}{:?}", s.anonymous_trace());
}

fn config_max_identity(c: &ServerConfig) -> usize {
    c.max_identity
}
fn config_max_steps(c: &ServerConfig) -> u16 {
    c.max_steps
}

/// The observable state of a server session, to check that refused calls change nothing.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    finished: bool,
    failure: Option<Failure>,
    pending: bool,
    request: Option<Pending>,
    identity: Option<(String, Option<String>)>,
    /// The session's `Debug` (mechanism, state, round trips): refused calls change none.
    debug: String,
}

impl Snapshot {
    fn of(s: &ServerSession) -> Snapshot {
        let request = s.request();
        Snapshot {
            finished: s.is_finished(),
            failure: s.failure(),
            pending: request.is_some(),
            request: request.as_ref().map(pending_of),
            identity: s
                .identity()
                .map(|i| (i.authcid().to_owned(), i.authzid().map(str::to_owned))),
            debug: format!("{s:?}"),
        }
    }

    fn final_challenge(&self) -> bool {
        self.debug.contains("FinalChallenge")
    }

    fn assert_same(&self, s: &ServerSession) {
        assert_eq!(self, &Snapshot::of(s), "a refused call changed the session");
    }
}

/// A step, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Refused,
    Challenge(Vec<u8>),
    Request(Pending),
    Success {
        authcid: String,
        authzid: Option<String>,
        data: Option<Vec<u8>>,
    },
    Failure(Failure),
}

impl Outcome {
    /// Own a step; base64 challenges are decoded (and checked to be strict base64).
    fn of(step: ServerStep<'_>, b64_out: bool) -> Outcome {
        let raw = |bytes: &[u8]| -> Vec<u8> {
            if b64_out {
                match reference_decode(bytes) {
                    Some(d) => d,
                    None => panic!("server produced invalid base64"),
                }
            } else {
                bytes.to_vec()
            }
        };
        match step {
            ServerStep::Challenge(c) => Outcome::Challenge(raw(c)),
            ServerStep::Request(r) => Outcome::Request(pending_of(&r)),
            ServerStep::Success(ok) => Outcome::Success {
                authcid: ok.identity.authcid().to_owned(),
                authzid: ok.identity.authzid().map(str::to_owned),
                data: ok.data.map(raw),
            },
            ServerStep::Failure(f) => Outcome::Failure(f),
            #[allow(unreachable_patterns)] // steps added later
            _ => Outcome::Failure(Failure::Malformed),
        }
    }

    /// The step agrees with the session's own view of itself, and is bounded.
    /// `trusted`: the authcid that comes from the application or the transport, not from the
    /// peer (EXTERNAL's certificate identity, OAUTHBEARER's token owner, ANONYMOUS's fixed
    /// `anonymous`): the identity must be exactly it, and the peer's limits do not apply.
    fn check_consistent(
        &self,
        s: &ServerSession,
        after: &Snapshot,
        max_message: usize,
        max_identity: usize,
        trusted: Option<&str>,
    ) {
        let check_authcid = |what: &str, id: &str| match trusted {
            Some(t) => {
                assert_eq!(
                    id, t,
                    "{what}: not the identity the application or transport gave"
                );
                assert!(!id.is_empty() && !id.contains('\0'), "{what}: {id:?}");
            }
            None => check_identity(what, id, max_identity),
        };
        match self {
            Outcome::Refused => {}
            Outcome::Challenge(c) => {
                assert!(!after.finished && after.request.is_none());
                // Challenges: fixed prompts, CRAM-MD5's `<nonce@host>`, an error JSON whose
                // strings come from the application; never more than this.
                assert!(c.len() <= 64 * 1024 + max_message, "challenge too large");
            }
            Outcome::Request(p) => {
                assert!(!after.finished);
                assert_eq!(after.request.as_ref(), Some(p), "request() disagrees");
                match p {
                    Pending::Password { authcid, password } => {
                        check_identity("password request", authcid, max_identity);
                        assert!(!password.is_empty() && password.len() <= max_message);
                    }
                    Pending::Secret { authcid, .. } => {
                        check_identity("secret request", authcid, max_identity)
                    }
                    Pending::Token {
                        mechanism: Mechanism::OAuthBearer,
                        user,
                        token,
                        authzid,
                    } => {
                        // The user is the authzid, or empty: then the token names the user. An
                        // empty token asks which scope to use (RFC 7628 §4.3).
                        assert_eq!(authzid.as_deref().unwrap_or(""), user);
                        if let Some(z) = authzid {
                            check_identity("token request authzid", z, max_identity);
                        }
                        assert!(token.len() <= max_message);
                    }
                    Pending::Token {
                        user,
                        token,
                        authzid,
                        ..
                    } => {
                        check_identity("token request", user, max_identity);
                        assert!(!token.is_empty() && token.len() <= max_message);
                        assert_eq!(authzid, &None);
                    }
                    Pending::Authorize { authcid, authzid } => {
                        check_authcid("authorize request", authcid);
                        check_identity("authorize request", authzid, max_identity);
                        assert_ne!(authcid, authzid, "authorization asked for the same id");
                    }
                    Pending::Other => {}
                }
            }
            Outcome::Success {
                authcid, authzid, ..
            } => {
                assert!(after.finished && after.failure.is_none() && after.request.is_none());
                if let Some(id) = s.identity() {
                    assert_eq!(id.effective(), authzid.as_deref().unwrap_or(authcid));
                }
                check_authcid("success", authcid);
                if let Some(z) = authzid {
                    check_identity("success authzid", z, max_identity);
                }
                assert_eq!(
                    after.identity,
                    Some((authcid.clone(), authzid.clone())),
                    "identity() disagrees"
                );
                let _ = format!("{:?}", s.identity());
            }
            Outcome::Failure(f) => {
                assert!(!f.as_str().is_empty() && f.to_string() == f.as_str());
                assert_eq!(f.is_temporary(), *f == Failure::TemporaryFailure);
                assert_eq!(Error::from(*f).failure(), Some(*f));
                assert!(after.finished, "failure but not finished");
                assert_eq!(after.failure, Some(*f), "failure() disagrees");
                assert!(after.identity.is_none() && after.request.is_none());
            }
        }
    }
}

/// What the server target remembers across calls.
struct ServerOracle {
    mechanism: Mechanism,
    transport: Transport,
    scram_iterations: u32,
    /// Client messages accepted so far (the initial response counts).
    messages: u32,
    last_message: Vec<u8>,
    last_challenge: Vec<u8>,
    /// An answer that vouched for the credentials was given (and accepted).
    positive_answer: bool,
    /// The authcid the application or transport fixed (see `Outcome::check_consistent`).
    expected_authcid: Option<String>,
    scram: ScramOracle,
}

impl Default for ServerOracle {
    fn default() -> Self {
        ServerOracle {
            mechanism: Mechanism::Plain,
            transport: Transport::plaintext(),
            scram_iterations: ServerConfig::DEFAULT_SCRAM_ITERATIONS,
            messages: 0,
            last_message: Vec::new(),
            last_challenge: Vec::new(),
            positive_answer: false,
            expected_authcid: None,
            scram: ScramOracle::default(),
        }
    }
}

/// What the SCRAM oracle tracks: the exchange as RFC 5802 defines it, recomputed here.
#[derive(Default)]
struct ScramOracle {
    /// 0 nothing yet, 1 client-first taken (secret requested), 2 server-first sent,
    /// 3 client-final verified.
    phase: u8,
    first: Vec<u8>,
    server_first: Vec<u8>,
    /// StoredKey and ServerKey the server must verify against; `None` for an unknown user
    /// (no proof may then succeed).
    keys: Option<(Vec<u8>, Vec<u8>)>,
    /// The server-final message the server must send: `v=` and the reference signature.
    server_final: Option<Vec<u8>>,
}

impl ServerOracle {
    /// The outcome of an answer is the one the request and the answer call for.
    fn check_answer(
        &mut self,
        mechanism: Mechanism,
        before: &Snapshot,
        a: &OwnedAnswer<'_>,
        outcome: &Outcome,
    ) {
        use OwnedAnswer as A;
        let Some(pending) = &before.request else {
            assert_eq!(outcome, &Outcome::Refused, "an answer without a request");
            return;
        };
        let succeeded = matches!(
            outcome,
            Outcome::Success { .. } | Outcome::Request(Pending::Authorize { .. })
        ) || (matches!(outcome, Outcome::Challenge(_))
            && !matches!(pending, Pending::Token { .. }));
        let refused = || {
            assert_eq!(
                outcome,
                &Outcome::Refused,
                "an answer that does not fit {pending:?} was taken"
            )
        };
        let failed = |f: Failure| assert_eq!(outcome, &Outcome::Failure(f), "after {pending:?}");
        let cram = mechanism == Mechanism::CramMd5;
        let scram = mechanism.is_scram();
        let hash = ScramHash::of(mechanism);
        let mut positive = false;
        let challenged = |what: &str| -> Vec<u8> {
            match outcome {
                Outcome::Challenge(c) => c.clone(),
                _ => panic!("{what}: no server-first message but {outcome:?}"),
            }
        };
        let oauth_error = |status: &str| {
            let Outcome::Challenge(c) = outcome else {
                panic!("an invalid token gave {outcome:?}, not an error challenge");
            };
            let e = crate::OAuthError::parse(c).unwrap_or_default();
            assert_eq!(e.status.as_deref(), Some(status), "error challenge status");
        };
        match (pending, a) {
            (Pending::Authorize { .. }, A::Simple(ans::ACCEPT)) => assert!(succeeded),
            (Pending::Authorize { .. }, A::Simple(ans::REJECT)) => failed(Failure::AuthzDenied),
            (Pending::Authorize { .. }, A::Simple(ans::TEMPORARY_FAILURE)) => {
                failed(Failure::TemporaryFailure)
            }
            (Pending::Authorize { .. }, _) => refused(),
            (_, A::Simple(ans::ACCOUNT_DISABLED)) => failed(Failure::AccountDisabled),
            (_, A::Simple(ans::TEMPORARY_FAILURE)) => failed(Failure::TemporaryFailure),
            (Pending::Password { .. }, A::Simple(ans::ACCEPT)) => {
                assert!(succeeded, "Accept did not succeed: {outcome:?}");
                positive = true;
            }
            (Pending::Password { .. }, A::Simple(_)) => failed(Failure::BadCredentials),
            (Pending::Password { password, .. }, A::Password(stored)) => {
                if password.as_slice() == *stored {
                    assert!(succeeded, "the right stored password failed: {outcome:?}");
                    positive = true;
                } else {
                    failed(Failure::BadCredentials);
                }
            }
            (Pending::Password { .. }, _) => refused(),
            (Pending::Secret { .. }, A::Password(p) | A::Keys(p, _)) if cram => {
                let expected = reference_cram_md5(p, &self.last_challenge);
                // An empty stored password authenticates nobody, even with its digest.
                if !p.is_empty() && cram_md5_digest(&self.last_message) == Some(expected) {
                    assert!(succeeded, "the right CRAM-MD5 digest failed: {outcome:?}");
                    positive = true;
                } else {
                    failed(Failure::BadCredentials);
                }
            }
            (Pending::Secret { .. }, A::Simple(ans::REJECT | ans::UNKNOWN_USER)) if cram => {
                failed(Failure::BadCredentials)
            }
            (Pending::Secret { .. }, _) if cram => refused(),
            // SCRAM: keys of the mechanism's hash, a password to derive them from, or an
            // unknown user (fake keys) all give the server-first message.
            (Pending::Secret { .. }, A::ScramKeys(k)) if scram && Some(k.hash()) == hash => {
                let c = challenged("stored keys");
                self.scram_answered(Some((k.stored_key().to_vec(), k.server_key().to_vec())));
                self.check_scram_salt(c, Some(k));
            }
            (Pending::Secret { .. }, A::Password(p)) if scram => {
                let c = challenged("a password");
                let keys = self.scram_keys_from_password(p, &c);
                self.scram_answered(keys);
                self.check_scram_salt(c, None);
            }
            (Pending::Secret { .. }, A::Simple(ans::REJECT | ans::UNKNOWN_USER)) if scram => {
                let c = challenged("an unknown user");
                self.scram_answered(None);
                self.check_scram_salt(c, None);
            }
            (Pending::Secret { .. }, _) if scram => refused(),
            // A valid token is answered with its owner, never with a bare accept. OAUTHBEARER:
            // an empty token (a scope query) is never valid.
            (Pending::Token { .. }, A::Simple(ans::ACCEPT)) => refused(),
            (
                Pending::Token {
                    mechanism: Mechanism::OAuthBearer,
                    token,
                    ..
                },
                A::TokenOwner(_),
            ) if token.is_empty() => oauth_error("invalid_token"),
            (Pending::Token { .. }, a @ A::TokenOwner(_)) => {
                if a.bad_owner() {
                    refused();
                } else {
                    assert!(
                        matches!(
                            outcome,
                            Outcome::Success { .. } | Outcome::Request(Pending::Authorize { .. })
                        ),
                        "an accepted token did not succeed: {outcome:?}"
                    );
                    if let A::TokenOwner(o) = a {
                        self.expected_authcid = Some((*o).to_owned());
                    }
                    positive = true;
                }
            }
            (
                Pending::Token {
                    mechanism: Mechanism::OAuthBearer,
                    ..
                },
                A::Simple(ans::REJECT | ans::UNKNOWN_USER),
            ) => oauth_error("invalid_token"),
            (Pending::Token { .. }, A::Simple(_)) => {
                let Outcome::Challenge(c) = outcome else {
                    panic!("a rejected token gave {outcome:?}, not an error challenge");
                };
                assert!(
                    crate::OAuthError::parse(c).is_some(),
                    "error challenge not JSON"
                );
            }
            (Pending::Token { .. }, A::TokenError(status, _)) => oauth_error(status),
            (Pending::Token { .. }, _) => refused(),
            (Pending::Other, _) => panic!("a request this oracle does not know"),
            (p, a) => panic!("no oracle for answering {p:?} with {}", a.answer_name()),
        }
        if positive {
            self.positive_answer = true;
        }
    }

    fn scram_answered(&mut self, keys: Option<(Vec<u8>, Vec<u8>)>) {
        self.scram.keys = keys;
        self.scram.phase = 2;
    }

    /// The keys a password answer stands for: SASLprep (query), then `Hi` with the salt and
    /// iteration count the server-first message shows. `None` if SASLprep refuses it.
    fn scram_keys_from_password(
        &self,
        p: &[u8],
        server_first: &[u8],
    ) -> Option<(Vec<u8>, Vec<u8>)> {
        let hash = ScramHash::of(self.mechanism)?;
        let (salt, iterations) = scram_salt_and_iterations(server_first)?;
        let prepared = saslprep::saslprep(core::str::from_utf8(p).ok()?, Mode::Query).ok()?;
        // An empty password (before or after SASLprep) authenticates nobody.
        if prepared.is_empty() {
            return None;
        }
        let salted = reference_hi(hash, prepared.as_bytes(), &salt, iterations);
        let client_key = reference_hmac(hash, &salted, &[b"Client Key"]);
        Some((
            reference_h(hash, &client_key),
            reference_hmac(hash, &salted, &[b"Server Key"]),
        ))
    }

    /// The server-first message just sent: `r=` the client's nonce and more, then the salt
    /// and iteration count of the stored keys; for a password answer or an unknown user the
    /// same fake salt (HMAC-SHA-256 of the configured secret and the user name) and the
    /// configured count, so a probe cannot tell them apart.
    fn check_scram_salt(&mut self, server_first: Vec<u8>, keys: Option<&ScramKeys>) {
        self.scram.server_first = server_first.clone();
        let client_nonce = scram_attr(&self.scram.first, b"r=").unwrap_or_default();
        let nonce = scram_attr(&server_first, b"r=").unwrap_or_default();
        assert!(
            server_first.starts_with(b"r=")
                && nonce.len() > client_nonce.len()
                && nonce.starts_with(&client_nonce)
                && nonce.iter().all(|c| matches!(c, 0x21..=0x2b | 0x2d..=0x7e)),
            "server-first nonce"
        );
        let Some((salt, iterations)) = scram_salt_and_iterations(&server_first) else {
            panic!("server-first message without salt and iteration count");
        };
        match keys {
            Some(k) => {
                assert_eq!(salt, k.salt(), "salt of the stored keys");
                assert_eq!(iterations, k.iterations());
            }
            None => {
                let Some(hash) = ScramHash::of(self.mechanism) else {
                    return;
                };
                let user = scram_username(&self.scram.first).unwrap_or_default();
                let fake = reference_hmac(
                    ScramHash::Sha256,
                    SCRAM_SECRET,
                    &[
                        b"saslmech scram fake salt\0",
                        hash.name().as_bytes(),
                        b"\0",
                        &user,
                    ],
                );
                assert_eq!(
                    salt.as_slice(),
                    fake.get(..16).unwrap_or_default(),
                    "fake salt"
                );
                assert_eq!(iterations, self.scram_iterations, "fake iteration count");
            }
        }
    }

    /// Follow a SCRAM exchange: remember client-first, and when the server takes a
    /// client-final message, check it by RFC 5802 against the keys the application gave:
    /// channel binding (RFC 5802 §6, RFC 5929, RFC 9266), nonce, proof; then that the
    /// server-final message carries the reference signature.
    fn check_scram(
        &mut self,
        is_message: bool,
        raw: Option<&[u8]>,
        outcome: &Outcome,
        after: &Snapshot,
    ) {
        let accepted = !matches!(outcome, Outcome::Refused | Outcome::Failure(_));
        if is_message && accepted {
            let raw = raw.unwrap_or_default();
            match self.scram.phase {
                0 => {
                    assert!(
                        matches!(outcome, Outcome::Request(Pending::Secret { .. })),
                        "client-first gave {outcome:?}"
                    );
                    self.scram.first = raw.to_vec();
                    self.scram.phase = 1;
                }
                2 => {
                    self.verify_client_final(raw);
                    self.scram.phase = 3;
                    self.positive_answer = true;
                }
                _ => {}
            }
        }
        // Server-final: success data, or a final challenge.
        let data = match outcome {
            Outcome::Success { data: Some(d), .. } => Some(d),
            Outcome::Challenge(c) if after.final_challenge() => Some(c),
            _ => None,
        };
        if let Some(d) = data {
            assert_eq!(self.scram.phase, 3, "server-final before client-final");
            assert_eq!(
                Some(d),
                self.scram.server_final.as_ref(),
                "server-final is not v= the reference ServerSignature"
            );
        }
    }

    fn verify_client_final(&mut self, msg: &[u8]) {
        let Some(hash) = ScramHash::of(self.mechanism) else {
            return;
        };
        let Some((stored, server_key)) = self.scram.keys.clone() else {
            panic!("a client-final message passed for an unknown user or refused password");
        };
        let Some(cut) = msg.windows(3).rposition(|w| w == b",p=") else {
            panic!("client-final without a proof passed");
        };
        let without_proof = msg.get(..cut).unwrap_or_default();
        let proof = reference_decode(msg.get(cut + 3..).unwrap_or_default()).unwrap_or_default();
        assert_eq!(proof.len(), hash.output_len(), "proof length");
        // Channel binding: c= is the gs2 header, plus the data of the type a `p=` names,
        // which this connection must have; a -PLUS mechanism needs `p=`; `y` is a downgrade
        // when the server offers -PLUS here (it has channel-binding data).
        let first = &self.scram.first;
        let gs2_len = first
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == b',')
            .nth(1)
            .map_or(0, |(i, _)| i + 1);
        let gs2 = first.get(..gs2_len).unwrap_or_default();
        let mut cbind = gs2.to_vec();
        match gs2.first() {
            Some(b'p') => {
                assert!(
                    self.mechanism.channel_binding(),
                    "p= accepted without -PLUS"
                );
                let name = gs2
                    .get(2..)
                    .and_then(|g| g.split(|c| *c == b',').next())
                    .unwrap_or_default();
                let kind = ChannelBindingType::from_name(name);
                let data = kind.and_then(|k| self.transport.channel_binding(k));
                let Some(data) = data else {
                    panic!("channel binding to a type this connection lacks passed");
                };
                cbind.extend_from_slice(data);
            }
            Some(b'y') => {
                assert!(!self.mechanism.channel_binding(), "y accepted for -PLUS");
                assert!(
                    self.transport
                        .channel_binding(ChannelBindingType::TlsExporter)
                        .is_none()
                        && self
                            .transport
                            .channel_binding(ChannelBindingType::TlsServerEndPoint)
                            .is_none()
                        && self
                            .transport
                            .channel_binding(ChannelBindingType::TlsUnique)
                            .is_none(),
                    "a y flag (downgrade) accepted where -PLUS is offered"
                );
            }
            Some(b'n') => assert!(!self.mechanism.channel_binding(), "n accepted for -PLUS"),
            _ => panic!("client-first without a gs2 flag passed"),
        }
        let c = scram_attr(without_proof, b"c=").unwrap_or_default();
        assert!(
            without_proof.starts_with(b"c="),
            "client-final must start with c="
        );
        assert_eq!(reference_decode(&c), Some(cbind), "channel-binding data");
        assert_eq!(
            scram_attr(without_proof, b"r="),
            scram_attr(&self.scram.server_first, b"r="),
            "client-final nonce"
        );
        // The proof: H(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey.
        let bare = first.get(gs2_len..).unwrap_or_default();
        let am: [&[u8]; 5] = [bare, b",", &self.scram.server_first, b",", without_proof];
        let signature = reference_hmac(hash, &stored, &am);
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        assert_eq!(
            reference_h(hash, &client_key),
            stored,
            "a wrong SCRAM proof passed"
        );
        let mut v = b"v=".to_vec();
        v.extend_from_slice(b64::encode(&reference_hmac(hash, &server_key, &am)).as_bytes());
        self.scram.server_final = Some(v);
    }
}

impl OwnedAnswer<'_> {
    fn answer_name(&self) -> &'static str {
        match self {
            OwnedAnswer::Simple(_) => "a simple answer",
            OwnedAnswer::Password(_) => "Password",
            OwnedAnswer::Keys(..) => "CramMd5Keys",
            OwnedAnswer::TokenError(..) => "TokenError",
            OwnedAnswer::ScramKeys(_) => "ScramKeys",
            OwnedAnswer::TokenOwner(_) => "TokenOwner",
        }
    }
}

/// The value of the first attribute `name` (`r=`, `s=`, ...) in a SCRAM message.
fn scram_attr(msg: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    msg.split(|c| *c == b',')
        .find_map(|a| a.strip_prefix(name))
        .map(<[u8]>::to_vec)
}

/// The decoded salt and the iteration count of a server-first message.
fn scram_salt_and_iterations(server_first: &[u8]) -> Option<(Vec<u8>, u32)> {
    let salt = reference_decode(&scram_attr(server_first, b"s=")?)?;
    let i = core::str::from_utf8(&scram_attr(server_first, b"i=")?)
        .ok()?
        .parse()
        .ok()?;
    Some((salt, i))
}

/// The user name of a client-first message, `=2C` and `=3D` decoded.
fn scram_username(first: &[u8]) -> Option<Vec<u8>> {
    let bare = first.splitn(3, |c| *c == b',').nth(2)?;
    let n = scram_attr(bare, b"n=")?;
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = n.get(i) {
        match (c, n.get(i + 1..i + 3)) {
            (b'=', Some(b"2C")) => {
                out.push(b',');
                i += 3;
            }
            (b'=', Some(b"3D")) => {
                out.push(b'=');
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// HMAC by the `hmac` crate over the concatenated parts: SCRAM's reference.
pub fn reference_hmac(hash: ScramHash, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
            return Vec::new();
        };
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match hash {
        ScramHash::Sha1 => run::<hmac::Hmac<sha1::Sha1>>(key, parts),
        _ => run::<hmac::Hmac<sha2::Sha256>>(key, parts),
    }
}

/// `H(data)` by the hash crates.
pub fn reference_h(hash: ScramHash, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    match hash {
        ScramHash::Sha1 => sha1::Sha1::digest(data).to_vec(),
        _ => sha2::Sha256::digest(data).to_vec(),
    }
}

/// `Hi(password, salt, i)` by the `pbkdf2` crate.
pub fn reference_hi(hash: ScramHash, password: &[u8], salt: &[u8], i: u32) -> Vec<u8> {
    let mut out = vec![0u8; hash.output_len()];
    match hash {
        ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, i, &mut out),
        _ => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, i, &mut out),
    }
    out
}

/// Client operations (the `op` byte, modulo [`cop::COUNT`]).
pub mod cop {
    /// `start()`.
    pub const START: u8 = 0;
    /// `start_b64()`.
    pub const START_B64: u8 = 1;
    /// `step(bytes)`.
    pub const STEP: u8 = 2;
    /// `step_b64(bytes)`.
    pub const STEP_B64: u8 = 3;
    /// `finish(None)`.
    pub const FINISH: u8 = 4;
    /// `finish(Some(bytes))`.
    pub const FINISH_DATA: u8 = 5;
    /// `step(big)`.
    pub const STEP_BIG: u8 = 6;
    /// `step_b64(big)`.
    pub const STEP_B64_BIG: u8 = 7;
    /// Number of operations.
    pub const COUNT: u8 = 8;
}

/// Credentials the client targets use unless the input supplies its own.
pub const DEFAULT_AUTHCID: &str = "tim";
/// See [`DEFAULT_AUTHCID`].
pub const DEFAULT_PASSWORD: &[u8] = b"tanstaaftanstaaf";
/// See [`DEFAULT_AUTHCID`].
pub const DEFAULT_TOKEN: &[u8] = b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg";

/// A client-side session driven by arbitrary server challenges.
///
/// Flags byte: bit 0 read credentials from the input (authcid, authzid or empty, password,
/// token) instead of the defaults; bits 1–2 `max_challenge` (64 KiB, 16, 100, 4096); bit 3
/// read an ANONYMOUS trace, an OAUTHBEARER host and a port byte pair; bits 4–5 the
/// channel-binding data of the client config ([`channel_binding`]); bit 6 SCRAM iteration
/// bounds 4096..=4096 (the RFC vectors) instead of 1..=64; bit 7 a counter-pattern nonce
/// instead of the RFC 5802 / RFC 7677 client nonce.
///
/// Oracles, beyond no panic: only `InvalidArgument` refuses credentials; errors are
/// `InvalidState` (nothing changes) or `Failed` (the session is over); after the end every
/// call is `InvalidState`; base64 outputs are strict and match the raw output; each response
/// is exactly what the mechanism prescribes for these credentials (CRAM-MD5 checked against
/// the reference HMAC, SCRAM against a reference RFC 5802 computation); a SCRAM client
/// reports success only after the server proved the reference ServerSignature.
pub fn client(mechanism: Mechanism, data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let (authcid, authzid, password, token) = if flags & 1 != 0 {
        let authcid = input.text();
        let authzid = input.text();
        (authcid, authzid, input.bytes(), input.bytes())
    } else {
        (DEFAULT_AUTHCID, "", DEFAULT_PASSWORD, DEFAULT_TOKEN)
    };
    let (trace, host, port) = if flags & 8 != 0 {
        let trace = input.text();
        let host = input.text();
        let port = u16::from(input.byte()) << 8 | u16::from(input.byte());
        (Some(trace), Some(host), Some(port))
    } else {
        (None, None, None)
    };
    let mut creds = Credentials::new()
        .authcid(authcid)
        .password(password)
        .token(token);
    if !authzid.is_empty() {
        creds = creds.authzid(authzid);
    }
    if let Some(t) = trace {
        creds = creds.trace(t);
    }
    if let (Some(h), Some(p)) = (host, port) {
        creds = creds.host(h).port(p);
    }
    let mut config = ClientConfig::default();
    config.max_challenge = match (flags >> 1) & 3 {
        0 => config.max_challenge,
        1 => 16,
        2 => 100,
        _ => 4096,
    };
    let binding = channel_binding(flags >> 4);
    if let Some((kind, data)) = binding {
        config = config.channel_binding(kind, data);
    }
    config = if flags & 0x40 != 0 {
        config.scram_iterations(4096, 4096)
    } else {
        config.scram_iterations(1, 64)
    };
    let nonce: Vec<u8> = if flags & 0x80 != 0 {
        config = config.nonce_source(NonceSource::Function(counter_nonce));
        let mut n = [0u8; 18];
        counter_nonce(&mut n);
        b64::encode(&n).into_bytes()
    } else {
        let n = match ScramHash::of(mechanism) {
            Some(ScramHash::Sha1) => RFC5802_CLIENT_NONCE,
            _ => RFC7677_CLIENT_NONCE,
        };
        config = config.nonce_source(NonceSource::Fixed(n.to_vec()));
        n.to_vec()
    };
    let max_challenge = config.max_challenge;
    let mut c = match ClientSession::with_config(mechanism, &creds, &config) {
        Ok(c) => c,
        Err(e) => {
            assert!(matches!(e, Error::InvalidArgument(_)), "client new: {e:?}");
            return;
        }
    };
    let _ = format!("{creds:?}{c:?}{c:#?}{config:?}");
    assert_eq!(c.mechanism(), mechanism);
    let mut expect = Expected {
        mechanism,
        authcid,
        authzid,
        password,
        token,
        trace: trace.unwrap_or(""),
        host: host.filter(|h| !h.is_empty()),
        port,
        binding: if mechanism.channel_binding() {
            binding
        } else {
            None
        },
        has_binding: binding.is_some(),
        nonce,
        min_iterations: config.min_iterations,
        max_iterations: config.max_iterations,
        server_signature: None,
        verified: false,
    };
    let mut started = false;
    let mut over = false; // finished or failed
    let mut responses = 0usize;
    let mut big: Vec<u8>;
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        let op = input.byte() % cop::COUNT;
        let was_finished = c.is_finished();
        match op {
            cop::START | cop::START_B64 => {
                let r = if op == cop::START {
                    c.start().map(|o| o.map(<[u8]>::to_vec))
                } else {
                    c.start_b64().map(|o| {
                        o.map(|t| match reference_decode(t) {
                            Some(d) => d,
                            None => panic!("client produced invalid base64"),
                        })
                    })
                };
                if started || over {
                    assert_eq!(r, Err(Error::InvalidState), "second start");
                    continue;
                }
                started = true;
                match r {
                    Ok(ir) => {
                        assert_eq!(ir.is_some(), mechanism.client_first(), "initial response");
                        if let Some(ir) = ir {
                            expect.check_response(0, &ir, &[]);
                            responses = 1;
                        }
                    }
                    Err(e) => panic!("start failed: {e:?}"),
                }
            }
            cop::STEP | cop::STEP_B64 | cop::STEP_BIG | cop::STEP_B64_BIG => {
                let challenge: &[u8] = match op {
                    cop::STEP | cop::STEP_B64 => input.bytes(),
                    _ => {
                        big = input.big();
                        &big
                    }
                };
                let b64 = matches!(op, cop::STEP_B64 | cop::STEP_B64_BIG);
                let decoded = if b64 {
                    reference_decode(challenge)
                } else {
                    Some(challenge.to_vec())
                };
                let r = if b64 {
                    c.step_b64(challenge).map(|t| match reference_decode(t) {
                        Some(d) => d,
                        None => panic!("client produced invalid base64"),
                    })
                } else {
                    c.step(challenge).map(<[u8]>::to_vec)
                };
                if over {
                    assert_eq!(r, Err(Error::InvalidState), "step after the end");
                    assert_eq!(
                        c.is_finished(),
                        was_finished,
                        "a refused step changed state"
                    );
                    continue;
                }
                started = true;
                match r {
                    Ok(resp) => {
                        let d = match decoded {
                            Some(d) => d,
                            None => panic!("invalid base64 challenge accepted"),
                        };
                        assert!(d.len() <= max_challenge, "oversized challenge accepted");
                        expect.check_response(responses, &resp, &d);
                        responses += 1;
                    }
                    Err(e @ Error::Failed(f)) => {
                        over = true;
                        assert_eq!(e.to_string(), f.as_str());
                        match decoded {
                            None => assert!(
                                matches!(f, Failure::InvalidBase64 | Failure::TooLarge),
                                "invalid base64 gave {f:?}"
                            ),
                            Some(d) if d.len() > max_challenge => {
                                assert_eq!(f, Failure::TooLarge)
                            }
                            Some(d) => expect.check_refusal(responses, &d, f),
                        }
                    }
                    Err(e) => panic!("step error {e:?}"),
                }
            }
            _ => {
                let data = if op == cop::FINISH_DATA {
                    Some(input.bytes())
                } else {
                    None
                };
                let r = c.finish(data);
                if over {
                    assert_eq!(r, Err(Error::InvalidState), "finish after the end");
                    assert_eq!(
                        c.is_finished(),
                        was_finished,
                        "a refused finish changed state"
                    );
                    continue;
                }
                match r {
                    Ok(()) => {
                        assert!(c.is_finished());
                        assert!(
                            responses >= expect.messages(),
                            "finished before sending everything"
                        );
                        expect.check_finish(data);
                        over = true;
                    }
                    Err(Error::Failed(_)) => {
                        assert!(!c.is_finished());
                        over = true;
                    }
                    Err(e) => panic!("finish error {e:?}"),
                }
            }
        }
        let _ = format!("{c:?}{:?}", c.oauth_error());
    }
}

/// What a correct client sends, to compare with what it did send.
struct Expected<'a> {
    mechanism: Mechanism,
    authcid: &'a str,
    authzid: &'a str,
    password: &'a [u8],
    token: &'a [u8],
    trace: &'a str,
    host: Option<&'a str>,
    port: Option<u16>,
    /// The channel binding a `-PLUS` client binds to.
    binding: Option<(ChannelBindingType, &'static [u8])>,
    /// The client config has channel-binding data (a non-PLUS SCRAM client then says `y`).
    has_binding: bool,
    /// The SCRAM client nonce.
    nonce: Vec<u8>,
    min_iterations: u32,
    max_iterations: u32,
    /// SCRAM: the reference ServerSignature, once client-final went out.
    server_signature: Option<Vec<u8>>,
    /// SCRAM: the client accepted a server-final message (as a challenge).
    verified: bool,
}

/// `s` as a GS2/SCRAM `saslname`: `,` as `=2C`, `=` as `=3D`.
fn saslname(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b',' => out.extend_from_slice(b"=2C"),
            b'=' => out.extend_from_slice(b"=3D"),
            _ => out.push(b),
        }
    }
    out
}

impl Expected<'_> {
    /// Messages the client must have sent before `finish` may succeed.
    fn messages(&self) -> usize {
        match self.mechanism {
            Mechanism::Login => 2,
            m if m.is_scram() => 2,
            _ => 1,
        }
    }

    /// The SCRAM gs2 header this client must send.
    fn gs2_header(&self) -> Vec<u8> {
        let mut h = match self.binding {
            Some((kind, _)) => format!("p={}", kind.name()).into_bytes(),
            None if self.has_binding => b"y".to_vec(),
            None => b"n".to_vec(),
        };
        h.push(b',');
        if !self.authzid.is_empty() {
            h.extend_from_slice(b"a=");
            h.extend_from_slice(&saslname(self.authzid));
        }
        h.push(b',');
        h
    }

    /// The SCRAM client-first message.
    fn scram_first(&self) -> Vec<u8> {
        let user = saslprep::saslprep(self.authcid, Mode::Query).unwrap_or_default();
        let mut m = self.gs2_header();
        m.extend_from_slice(b"n=");
        m.extend_from_slice(&saslname(&user));
        m.extend_from_slice(b",r=");
        m.extend_from_slice(&self.nonce);
        m
    }

    /// Response number `n` (0 = the first message, initial response or not).
    fn check_response(&mut self, n: usize, response: &[u8], challenge: &[u8]) {
        match (self.mechanism, n) {
            (Mechanism::Plain, 0) => {
                let mut m = self.authzid.as_bytes().to_vec();
                m.push(0);
                m.extend_from_slice(self.authcid.as_bytes());
                m.push(0);
                m.extend_from_slice(self.password);
                assert_eq!(response, m.as_slice(), "PLAIN message");
            }
            (Mechanism::Login, 0) => assert_eq!(response, self.authcid.as_bytes()),
            (Mechanism::Login, 1) => assert_eq!(response, self.password),
            (Mechanism::CramMd5, 0) => {
                let mac = reference_cram_md5(self.password, challenge);
                let mut m = self.authcid.as_bytes().to_vec();
                m.push(b' ');
                for b in mac {
                    m.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                assert_eq!(response, m.as_slice(), "CRAM-MD5 response");
            }
            (Mechanism::XOAuth2, 0) => {
                let mut m = b"user=".to_vec();
                m.extend_from_slice(self.authcid.as_bytes());
                m.extend_from_slice(b"\x01auth=Bearer ");
                m.extend_from_slice(self.token);
                m.extend_from_slice(b"\x01\x01");
                assert_eq!(response, m.as_slice(), "XOAUTH2 message");
            }
            // The acknowledgement of an error challenge is empty.
            (Mechanism::XOAuth2, 1) => {
                assert!(response.is_empty(), "XOAUTH2 acknowledgement");
                assert!(crate::OAuthError::parse(challenge).is_some());
            }
            (Mechanism::OAuthBearer, 0) => {
                let mut m = b"n,".to_vec();
                let user = if self.authzid.is_empty() {
                    self.authcid
                } else {
                    self.authzid
                };
                if !user.is_empty() {
                    m.extend_from_slice(b"a=");
                    m.extend_from_slice(&saslname(user));
                }
                m.extend_from_slice(b",\x01");
                if let Some(h) = self.host {
                    m.extend_from_slice(format!("host={h}\x01").as_bytes());
                }
                if let Some(p) = self.port {
                    m.extend_from_slice(format!("port={p}\x01").as_bytes());
                }
                m.extend_from_slice(b"auth=Bearer ");
                m.extend_from_slice(self.token);
                m.extend_from_slice(b"\x01\x01");
                assert_eq!(response, m.as_slice(), "OAUTHBEARER message");
            }
            (Mechanism::OAuthBearer, 1) => {
                assert_eq!(response, b"\x01", "OAUTHBEARER acknowledgement");
                assert!(crate::OAuthError::parse(challenge).is_some());
            }
            (Mechanism::External, 0) => assert_eq!(response, self.authzid.as_bytes()),
            (Mechanism::Anonymous, 0) => assert_eq!(response, self.trace.as_bytes()),
            (m, 0) if m.is_scram() => {
                assert_eq!(response, self.scram_first().as_slice(), "client-first");
            }
            (m, 1) if m.is_scram() => self.check_client_final(response, challenge),
            (m, 2) if m.is_scram() => {
                assert!(response.is_empty(), "acknowledgement of server-final");
                self.check_server_final(challenge);
                self.verified = true;
            }
            (m, n) => panic!("{m} sent a response number {n}"),
        }
    }

    /// Client-final, computed here by RFC 5802 from the server-first message.
    fn check_client_final(&mut self, response: &[u8], server_first: &[u8]) {
        let Some(hash) = ScramHash::of(self.mechanism) else {
            return;
        };
        let nonce = scram_attr(server_first, b"r=").unwrap_or_default();
        assert!(
            server_first.starts_with(b"r=")
                && nonce.len() > self.nonce.len()
                && nonce.starts_with(&self.nonce),
            "client-final after a server-first message with a bad nonce"
        );
        let Some((salt, iterations)) = scram_salt_and_iterations(server_first) else {
            panic!("client-final without salt and iteration count");
        };
        assert!(!salt.is_empty(), "empty salt accepted");
        assert!(
            (self.min_iterations..=self.max_iterations).contains(&iterations),
            "iteration count {iterations} accepted"
        );
        let password = core::str::from_utf8(self.password).unwrap_or_default();
        let prepared = saslprep::saslprep(password, Mode::Query).unwrap_or_default();
        let salted = reference_hi(hash, prepared.as_bytes(), &salt, iterations);
        let client_key = reference_hmac(hash, &salted, &[b"Client Key"]);
        let stored = reference_h(hash, &client_key);
        let server_key = reference_hmac(hash, &salted, &[b"Server Key"]);
        let mut cbind = self.gs2_header();
        if let Some((_, data)) = self.binding {
            cbind.extend_from_slice(data);
        }
        let mut without_proof = b"c=".to_vec();
        without_proof.extend_from_slice(b64::encode(&cbind).as_bytes());
        without_proof.extend_from_slice(b",r=");
        without_proof.extend_from_slice(&nonce);
        let first = self.scram_first();
        let bare = first.get(self.gs2_header().len()..).unwrap_or_default();
        let am: [&[u8]; 5] = [bare, b",", server_first, b",", &without_proof];
        let signature = reference_hmac(hash, &stored, &am);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let mut m = without_proof.clone();
        m.extend_from_slice(b",p=");
        m.extend_from_slice(b64::encode(&proof).as_bytes());
        assert_eq!(response, m.as_slice(), "SCRAM client-final");
        self.server_signature = Some(reference_hmac(hash, &server_key, &am));
    }

    /// A server-final message the client took: its first attribute is `v=` and the
    /// reference ServerSignature.
    fn check_server_final(&self, msg: &[u8]) {
        let v = msg.split(|c| *c == b',').next().unwrap_or_default();
        let v = v.strip_prefix(b"v=").and_then(reference_decode);
        assert!(
            v.is_some() && v == self.server_signature,
            "server-final without the reference ServerSignature accepted"
        );
    }

    /// The client gave up on challenge `d` before response number `n`: for SCRAM, a
    /// server-first message that is well formed (by a strict reference grammar, no
    /// extensions) with an acceptable iteration count must not be refused.
    fn check_refusal(&self, n: usize, d: &[u8], f: Failure) {
        if !self.mechanism.is_scram() || n != 1 {
            return;
        }
        let attrs: Vec<&[u8]> = d.split(|c| *c == b',').collect();
        let [r, s, i] = attrs.as_slice() else {
            return;
        };
        let (Some(r), Some(s), Some(i)) = (
            r.strip_prefix(b"r="),
            s.strip_prefix(b"s="),
            i.strip_prefix(b"i="),
        ) else {
            return;
        };
        let printable = r.iter().all(|c| matches!(c, 0x21..=0x2b | 0x2d..=0x7e));
        let salt_ok = reference_decode(s).is_some_and(|s| !s.is_empty());
        let count = match i.first() {
            Some(b'1'..=b'9') => core::str::from_utf8(i)
                .ok()
                .and_then(|t| t.parse::<u32>().ok()),
            _ => None,
        };
        let count_ok =
            count.is_some_and(|c| (self.min_iterations..=self.max_iterations).contains(&c));
        if printable
            && r.len() > self.nonce.len()
            && r.starts_with(&self.nonce)
            && salt_ok
            && count_ok
        {
            panic!("a well-formed server-first message refused with {f:?}");
        }
    }

    /// `finish` succeeded: a SCRAM client only after the reference ServerSignature.
    fn check_finish(&self, data: Option<&[u8]>) {
        if !self.mechanism.is_scram() {
            return;
        }
        match data.filter(|d| !d.is_empty()) {
            Some(d) => {
                assert!(
                    !self.verified,
                    "success data after the server-final challenge"
                );
                self.check_server_final(d);
            }
            None => assert!(self.verified, "SCRAM success without the server's proof"),
        }
    }
}

/// Message mutations of the differential target (the byte before each message in flight,
/// modulo [`mutate::COUNT`]).
pub mod mutate {
    /// Deliver the message unchanged.
    pub const PASS: u8 = 0;
    /// Cut it to the length in the next byte.
    pub const TRUNCATE: u8 = 1;
    /// Flip the bits of the next byte at the position in the byte after (modulo length).
    pub const FLIP: u8 = 2;
    /// Replace it with a byte string from the input.
    pub const REPLACE: u8 = 3;
    /// Append a byte string from the input.
    pub const APPEND: u8 = 4;
    /// Insert a byte string at the position in the next byte.
    pub const INSERT: u8 = 5;
    /// Number of mutations; values from here up also deliver unchanged (most runs are clean).
    pub const COUNT: u8 = 8;
}

/// Apply one mutation from the input to `msg`; returns whether it changed.
fn mutate_message(input: &mut Input<'_>, msg: &mut Vec<u8>) -> bool {
    let before = msg.clone();
    match input.byte() % mutate::COUNT {
        mutate::TRUNCATE => {
            let n = usize::from(input.byte());
            msg.truncate(n);
        }
        mutate::FLIP => {
            let x = input.byte();
            let at = usize::from(input.byte());
            let len = msg.len();
            if let Some(b) = msg.get_mut(at.checked_rem(len).unwrap_or(0)) {
                *b ^= x;
            }
        }
        mutate::REPLACE => *msg = input.bytes().to_vec(),
        mutate::APPEND => msg.extend_from_slice(input.bytes()),
        mutate::INSERT => {
            let at = usize::from(input.byte()).min(msg.len());
            let ins = input.bytes();
            msg.splice(at..at, ins.iter().copied());
        }
        _ => {}
    }
    *msg != before
}

/// The owner the differential target's application gives an OAUTHBEARER token that names no
/// user.
pub const DIFFERENTIAL_OWNER: &str = "owner@example.net";

/// The differential target's extra byte for the mechanisms after the first four: bits 0–1
/// the client's channel binding ([`channel_binding`]), bits 2–3 the server's (one of these
/// constants), bits 4–7 the SCRAM iteration count minus one.
pub mod dx {
    /// The server has the client's type (or `tls-exporter`) with the same data.
    pub const CB_SAME: u8 = 0;
    /// The same type with different data (a man in the middle).
    pub const CB_DIFFERENT: u8 = 1;
    /// No channel-binding data.
    pub const CB_NONE: u8 = 2;
    /// All three types, with the same data as the client's.
    pub const CB_ALL: u8 = 3;
}

/// Differential flags (second byte).
pub mod dflag {
    /// The connection has TLS (otherwise plaintext mechanisms are allowed explicitly).
    pub const TLS: u8 = 1;
    /// The transport carries success data.
    pub const SUCCESS_DATA: u8 = 2;
    /// Messages travel as base64 (`start_b64`, `step_b64`).
    pub const BASE64: u8 = 4;
    /// The client sends an initial response when its mechanism allows.
    pub const INITIAL_RESPONSE: u8 = 8;
    /// The application stores credentials different from the client's.
    pub const MISMATCH: u8 = 16;
    /// The application compares passwords itself and answers Accept/Reject (otherwise it
    /// hands the stored password to the engine).
    pub const APP_COMPARES: u8 = 32;
    /// The application denies authorization to a different authzid.
    pub const DENY_AUTHZ: u8 = 64;
    /// CRAM-MD5 secrets are answered as precomputed keys.
    pub const KEYS: u8 = 128;
}

/// A real client against a real server for one mechanism, with arbitrary credentials, the
/// input mutating or truncating messages in flight and the application answering with
/// matching or non-matching credentials (Dovecot's SASL fuzzer, for this engine).
///
/// Input: mechanism byte ([`MECHANISMS`]), flags ([`dflag`]), credentials (authcid, authzid,
/// password, token, then the application's stored password and token for
/// [`dflag::MISMATCH`]), then one mutation ([`mutate`]) per message in flight.
///
/// Oracles: the server never succeeds unless the credentials it checked are the stored ones
/// (password equality, the reference HMAC for CRAM-MD5, token equality); without mutations,
/// matching credentials always succeed with the client's identity and the client accepts the
/// outcome, and mismatching ones always fail; both sides refuse every call after the end.
pub fn differential(data: &[u8]) {
    let mut input = Input::new(data);
    let Some(&mechanism) = MECHANISMS.get(usize::from(input.byte()) % MECHANISMS.len()) else {
        return;
    };
    let flags = input.byte();
    let authcid = input.text();
    let authzid = input.text();
    let password = input.bytes();
    let token = input.bytes();
    let (stored_password, stored_token) = if flags & dflag::MISMATCH != 0 {
        (input.bytes(), input.bytes())
    } else {
        (password, token)
    };
    // The mechanisms after the first four read one more byte (see [`dx`]).
    let x = if MECHANISMS.iter().position(|m| *m == mechanism) >= Some(4) {
        input.byte()
    } else {
        0
    };
    let iterations = u32::from(x >> 4) + 1;
    let client_binding = channel_binding(x);
    let mut creds = Credentials::new()
        .authcid(authcid)
        .password(password)
        .token(token)
        .trace(authcid);
    if !authzid.is_empty() {
        creds = creds.authzid(authzid);
    }
    let mut client_config = ClientConfig::new()
        .scram_iterations(1, 16)
        .nonce_source(NonceSource::Function(counter_nonce));
    if let Some((kind, data)) = client_binding {
        client_config = client_config.channel_binding(kind, data);
    }
    let Ok(mut client) = ClientSession::with_config(mechanism, &creds, &client_config) else {
        return;
    };
    let tls = flags & dflag::TLS != 0;
    let mut transport = if tls {
        Transport::tls()
    } else {
        Transport::plaintext()
    }
    .with_success_data(flags & dflag::SUCCESS_DATA != 0);
    // The server's channel-binding data: the client's type (or tls-exporter), with the same
    // or different data, none, or all three types.
    let server_binding = (x >> 2) & 3;
    let (cb_kind, cb_data) =
        client_binding.unwrap_or((ChannelBindingType::TlsExporter, CB_EXPORTER));
    match server_binding {
        dx::CB_SAME => transport = transport.with_channel_binding(cb_kind, cb_data),
        dx::CB_DIFFERENT => {
            transport = transport.with_channel_binding(cb_kind, b"a different connection")
        }
        dx::CB_NONE => {}
        _ => {
            for sel in 1..=3 {
                if let Some((kind, data)) = channel_binding(sel) {
                    transport = transport.with_channel_binding(kind, data);
                }
            }
        }
    }
    // EXTERNAL: the certificate names the authcid, or (MISMATCH) nobody.
    let external = if flags & dflag::MISMATCH != 0 {
        ""
    } else {
        authcid
    };
    transport = transport.with_external_identity(external);
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(crate::ALL_MECHANISMS)
            .allow_plaintext_without_tls(true)
            .hostname(RFC2195_HOST)
            .scram_iterations(iterations)
            .scram_secret(SCRAM_SECRET),
    );
    let mut server = match ServerSession::new(&config, mechanism, &transport) {
        Ok(s) => s,
        // -PLUS on a connection without channel-binding data is not offered.
        Err(Failure::MechanismUnavailable)
            if mechanism.channel_binding() && server_binding == dx::CB_NONE =>
        {
            return;
        }
        Err(f) => panic!("{mechanism} refused with plaintext allowed: {f:?}"),
    };
    let b64 = flags & dflag::BASE64 != 0;
    let keys = CramMd5Keys::from_password(stored_password);
    let hash = ScramHash::of(mechanism);
    let scram_keys = hash
        .and_then(|h| ScramKeys::derive(h, stored_password, b"differential salt", iterations).ok());
    // The SCRAM messages the server received and sent, for the reference proof check.
    let mut scram_msgs: Vec<Vec<u8>> = Vec::new();

    let mut mutated = false;
    // The message from the client to the server, raw or base64 as the transport wants.
    let ir = if flags & dflag::INITIAL_RESPONSE != 0 {
        let r = if b64 {
            client.start_b64().map(|o| o.map(<[u8]>::to_vec))
        } else {
            client.start().map(|o| o.map(<[u8]>::to_vec))
        };
        match r {
            Ok(ir) => ir,
            Err(e) => panic!("client start: {e:?}"),
        }
    } else {
        None
    };
    let mut ir = ir;
    if let Some(m) = ir.as_mut() {
        mutated |= mutate_message(&mut input, m);
    }
    if let Some(m) = &ir {
        let raw = if b64 {
            reference_decode(m).unwrap_or_default()
        } else {
            m.clone()
        };
        scram_msgs.push(raw);
    }
    let mut step = match (&ir, b64) {
        (Some(m), true) => server.start_b64(Some(m)),
        (Some(m), false) => server.start(Some(m)),
        (None, true) => server.start_b64(None),
        (None, false) => server.start(None),
    };
    let mut checked_password: Option<Vec<u8>> = None;
    let mut checked_token: Option<Vec<u8>> = None;
    let mut challenge_raw: Vec<u8> = Vec::new();
    let mut response_raw: Vec<u8> = Vec::new();
    let mut client_failed = false;
    let mut authz_asked = false;
    let mut verdict: Option<Result<(String, Option<String>), Failure>> = None;
    for _ in 0..16 {
        let s = match step {
            Ok(s) => s,
            Err(e) => panic!("server refused a well-ordered call: {e:?}"),
        };
        match s {
            ServerStep::Challenge(c) => {
                let mut c = c.to_vec();
                let raw = if b64 {
                    reference_decode(&c)
                } else {
                    Some(c.clone())
                };
                if let Some(raw) = raw {
                    challenge_raw = raw;
                }
                if !challenge_raw.is_empty() {
                    scram_msgs.push(challenge_raw.clone());
                }
                mutated |= mutate_message(&mut input, &mut c);
                let r = if b64 {
                    client.step_b64(&c).map(<[u8]>::to_vec)
                } else {
                    client.step(&c).map(<[u8]>::to_vec)
                };
                let mut resp = match r {
                    Ok(resp) => resp,
                    Err(Error::Failed(_)) => {
                        // The client gives up; the protocol sends `*`.
                        client_failed = true;
                        let f = server.cancel();
                        assert_eq!(f, Ok(Failure::Cancelled));
                        verdict = Some(Err(Failure::Cancelled));
                        break;
                    }
                    Err(e) => panic!("client step: {e:?}"),
                };
                mutated |= mutate_message(&mut input, &mut resp);
                response_raw = if b64 {
                    reference_decode(&resp).unwrap_or_default()
                } else {
                    resp.clone()
                };
                scram_msgs.push(response_raw.clone());
                step = if b64 {
                    server.step_b64(&resp)
                } else {
                    server.step(&resp)
                };
            }
            ServerStep::Request(r) => {
                let owner: String;
                let answer = match r {
                    Request::VerifyPassword(p) => {
                        checked_password = Some(p.password().to_vec());
                        if flags & dflag::APP_COMPARES != 0 {
                            if p.password() == stored_password {
                                Answer::Accept
                            } else {
                                Answer::Reject
                            }
                        } else {
                            Answer::Password(stored_password)
                        }
                    }
                    Request::Secret(_) if hash.is_some() && flags & dflag::KEYS != 0 => {
                        match &scram_keys {
                            Some(k) => Answer::ScramKeys(k),
                            None => Answer::UnknownUser,
                        }
                    }
                    Request::Secret(_) if flags & dflag::KEYS != 0 => Answer::CramMd5Keys(&keys),
                    Request::Secret(_) => Answer::Password(stored_password),
                    Request::ValidateToken(t) => {
                        checked_token = Some(t.token().to_vec());
                        if t.token() == stored_token
                            && t.authzid().is_none()
                            && !t.token().is_empty()
                            && mechanism == Mechanism::OAuthBearer
                        {
                            Answer::TokenOwner(DIFFERENTIAL_OWNER)
                        } else if t.token() == stored_token {
                            // The token is the named user's: say so.
                            owner = t.user().to_owned();
                            Answer::TokenOwner(&owner)
                        } else if flags & dflag::APP_COMPARES != 0 {
                            Answer::Reject
                        } else {
                            Answer::TokenError(TokenError {
                                status: "401",
                                scope: Some("https://mail.google.com/"),
                            })
                        }
                    }
                    Request::Authorize(_) => {
                        authz_asked = true;
                        if flags & dflag::DENY_AUTHZ != 0 {
                            Answer::Reject
                        } else {
                            Answer::Accept
                        }
                    }
                    #[allow(unreachable_patterns)] // requests added by mechanisms to come
                    _ => Answer::Reject,
                };
                step = if b64 {
                    server.answer_b64(answer)
                } else {
                    server.answer(answer)
                };
            }
            ServerStep::Success(ok) => {
                let id = (
                    ok.identity.authcid().to_owned(),
                    ok.identity.authzid().map(str::to_owned),
                );
                let mut data = ok.data.map(<[u8]>::to_vec);
                if let Some(d) = data.as_mut() {
                    mutated |= mutate_message(&mut input, d);
                }
                let data = match (data, b64) {
                    (Some(d), true) => reference_decode(&d),
                    (d, _) => d,
                };
                let finished = client.finish(data.as_deref());
                if !mutated {
                    assert_eq!(finished, Ok(()), "client rejects a clean success");
                }
                verdict = Some(Ok(id));
                break;
            }
            ServerStep::Failure(f) => {
                verdict = Some(Err(f));
                break;
            }
            #[allow(unreachable_patterns)]
            _ => break,
        }
    }
    let Some(verdict) = verdict else {
        panic!("{mechanism}: no verdict after 16 round trips");
    };

    // Soundness: success only with the stored credentials.
    if let Ok((authcid_ok, authzid_ok)) = &verdict {
        match mechanism {
            Mechanism::Plain | Mechanism::Login => assert_eq!(
                checked_password.as_deref(),
                Some(stored_password),
                "success with a password that is not the stored one"
            ),
            Mechanism::CramMd5 => assert_eq!(
                cram_md5_digest(&response_raw),
                Some(reference_cram_md5(stored_password, &challenge_raw)),
                "CRAM-MD5 success without the stored secret"
            ),
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => {
                assert_eq!(
                    checked_token.as_deref(),
                    Some(stored_token),
                    "{mechanism} success with a token that is not the stored one"
                );
                assert!(!stored_token.is_empty(), "an empty token succeeded");
            }
            Mechanism::External => {
                assert!(
                    !external.is_empty(),
                    "EXTERNAL without an identity succeeded"
                );
                assert_eq!(authcid_ok, external, "EXTERNAL as someone else");
            }
            Mechanism::Anonymous => {
                assert_eq!(authcid_ok, "anonymous");
                assert_eq!(authzid_ok, &None);
            }
            m if m.is_scram() => {
                // The client-final the server took must carry a valid proof for the stored
                // keys (computed here by RFC 5802), and a c= with this connection's binding.
                let (Some(h), [first, server_first, client_final, ..]) =
                    (hash, scram_msgs.as_slice())
                else {
                    panic!("SCRAM success without three messages");
                };
                let stored_key = if flags & dflag::KEYS != 0 {
                    scram_keys.as_ref().map(|k| k.stored_key().to_vec())
                } else {
                    reference_scram_stored_key(h, stored_password, server_first)
                };
                let Some(stored_key) = stored_key else {
                    panic!("SCRAM success for a stored password SASLprep refuses");
                };
                assert!(
                    reference_scram_proof_ok(h, &stored_key, first, server_first, client_final),
                    "SCRAM success without a valid proof for the stored password"
                );
                let gs2: Vec<u8> = first.iter().copied().take_while(|_| true).collect();
                let gs2_len = gs2
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b',')
                    .nth(1)
                    .map_or(0, |(i, _)| i + 1);
                let mut cbind = gs2.get(..gs2_len).unwrap_or_default().to_vec();
                if mechanism.channel_binding() {
                    let name = cbind
                        .get(2..)
                        .and_then(|g| g.split(|c| *c == b',').next())
                        .unwrap_or_default()
                        .to_vec();
                    let data = ChannelBindingType::from_name(&name)
                        .and_then(|k| transport.channel_binding(k));
                    let Some(data) = data else {
                        panic!("-PLUS success bound to a type the connection lacks");
                    };
                    cbind.extend_from_slice(data);
                }
                let c = scram_attr(client_final, b"c=").and_then(|c| reference_decode(&c));
                assert_eq!(
                    c,
                    Some(cbind),
                    "SCRAM success with the wrong channel binding"
                );
            }
            _ => {}
        }
        if authz_asked {
            assert!(flags & dflag::DENY_AUTHZ == 0, "success after authz denied");
        }
        if !mutated {
            let expected = match mechanism {
                m if m.is_scram() => saslprep::saslprep(authcid, Mode::Query)
                    .map(|c| c.into_owned())
                    .unwrap_or_default(),
                Mechanism::OAuthBearer if !authzid.is_empty() => authzid.to_owned(),
                Mechanism::OAuthBearer if !authcid.is_empty() => authcid.to_owned(),
                Mechanism::OAuthBearer => DIFFERENTIAL_OWNER.to_owned(),
                Mechanism::Anonymous => "anonymous".to_owned(),
                _ => authcid.to_owned(),
            };
            assert_eq!(authcid_ok, &expected, "authenticated as someone else");
            if authzid_ok.is_some() {
                assert_eq!(authzid_ok.as_deref(), Some(authzid), "authzid changed");
            }
        }
    }
    // Completeness: a clean exchange with matching credentials succeeds, unless it asked for
    // an authorization the application denies; with mismatching ones it fails.
    if !mutated && !client_failed {
        let prepared = |p: &[u8], mode: Mode| {
            core::str::from_utf8(p)
                .ok()
                .and_then(|t| saslprep::saslprep(t, mode).ok().map(|c| c.into_owned()))
        };
        let matching = match mechanism {
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => stored_token == token,
            // The certificate identity is the credential.
            Mechanism::External => !external.is_empty(),
            Mechanism::Anonymous => true,
            // SCRAM compares passwords after SASLprep; stored keys are derived in stored mode.
            m if m.is_scram() => {
                let stored_mode = if flags & dflag::KEYS != 0 {
                    Mode::Stored
                } else {
                    Mode::Query
                };
                let stored = prepared(stored_password, stored_mode);
                stored.as_deref().is_some_and(|s| !s.is_empty())
                    && stored == prepared(password, Mode::Query)
            }
            _ => stored_password == password,
        };
        // Channel binding: -PLUS needs the same data on both ends; a client that has data but
        // uses plain SCRAM says `y`, a downgrade where the server offers -PLUS.
        let binding_ok = if mechanism.channel_binding() {
            matches!(server_binding, dx::CB_SAME | dx::CB_ALL)
        } else if mechanism.is_scram() {
            client_binding.is_none() || server_binding == dx::CB_NONE
        } else {
            true
        };
        let denied = authz_asked && flags & dflag::DENY_AUTHZ != 0;
        // Identities over the server's limit fail with TooLarge, as they should.
        let authcid_len = match mechanism {
            m if m.is_scram() => prepared(authcid.as_bytes(), Mode::Query).map_or(0, |c| c.len()),
            Mechanism::External | Mechanism::Anonymous => 0,
            _ => authcid.len(),
        };
        let within_limits = authcid_len <= ServerConfig::DEFAULT_MAX_IDENTITY
            && authzid.len() <= ServerConfig::DEFAULT_MAX_IDENTITY
            && (mechanism != Mechanism::Anonymous || authcid.chars().count() <= 255);
        if matching && binding_ok && !denied && within_limits {
            assert!(
                verdict.is_ok(),
                "{mechanism}: clean exchange failed: {verdict:?}"
            );
        } else if !matching || !binding_ok {
            assert!(
                verdict.is_err(),
                "{mechanism}: mismatching credentials succeeded"
            );
        }
    }
    // After the end every call is refused, on both sides.
    assert!(server.is_finished() || client_failed);
    assert_eq!(server.step(b"").err(), Some(Error::InvalidState));
    assert_eq!(
        server.answer(Answer::Accept).err(),
        Some(Error::InvalidState)
    );
    assert_eq!(server.start(None).err(), Some(Error::InvalidState));
    assert_eq!(server.cancel(), Err(Error::InvalidState));
    if client.is_finished() || client_failed {
        assert_eq!(client.step(b"").err(), Some(Error::InvalidState));
        assert_eq!(client.step_b64(b"").err(), Some(Error::InvalidState));
        assert_eq!(client.finish(None), Err(Error::InvalidState));
    }
    let _ = format!("{server:?}{client:?}");
}

/// SCRAM's StoredKey for a plaintext password answer: SASLprep (query), `Hi` with the salt
/// and iteration count of the server-first message. `None` if SASLprep refuses it.
pub fn reference_scram_stored_key(
    hash: ScramHash,
    password: &[u8],
    server_first: &[u8],
) -> Option<Vec<u8>> {
    let (salt, iterations) = scram_salt_and_iterations(server_first)?;
    let prepared = saslprep::saslprep(core::str::from_utf8(password).ok()?, Mode::Query).ok()?;
    let salted = reference_hi(hash, prepared.as_bytes(), &salt, iterations);
    Some(reference_h(
        hash,
        &reference_hmac(hash, &salted, &[b"Client Key"]),
    ))
}

/// RFC 5802 §3: `H(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey`, with
/// AuthMessage made of client-first-bare, server-first and client-final without its proof.
pub fn reference_scram_proof_ok(
    hash: ScramHash,
    stored_key: &[u8],
    client_first: &[u8],
    server_first: &[u8],
    client_final: &[u8],
) -> bool {
    let Some(bare) = client_first.splitn(3, |c| *c == b',').nth(2) else {
        return false;
    };
    let Some(cut) = client_final.windows(3).rposition(|w| w == b",p=") else {
        return false;
    };
    let without_proof = client_final.get(..cut).unwrap_or_default();
    let Some(proof) = reference_decode(client_final.get(cut + 3..).unwrap_or_default()) else {
        return false;
    };
    let am: [&[u8]; 5] = [bare, b",", server_first, b",", without_proof];
    let signature = reference_hmac(hash, stored_key, &am);
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
    proof.len() == hash.output_len() && reference_h(hash, &client_key) == stored_key
}

/// Mechanism names and the client's choice from an advertised list (an EHLO `AUTH` line, an
/// IMAP `AUTH=` capability list, a POP3 `SASL` line), split on spaces.
///
/// Oracles: a parsed name round-trips case-insensitively through `name`, `Display` and
/// `FromStr`; `select` picks a listed, usable mechanism (TLS policy and credentials
/// respected) and none stronger was listed; its choice does not depend on the list's order.
pub fn mechanism_list(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let names: Vec<&str> = text.split(' ').collect();
    let mut listed = Vec::new();
    for n in &names {
        let parsed = Mechanism::from_name(n.as_bytes());
        assert_eq!(parsed, n.parse::<Mechanism>().ok());
        if let Some(m) = parsed {
            assert!(m.name().eq_ignore_ascii_case(n));
            assert_eq!(m.to_string(), m.name());
            assert!(crate::ALL_MECHANISMS.contains(&m));
            let _ = (m.exposes_secret(), m.channel_binding(), format!("{m:?}"));
            listed.push(m);
        }
        if let Some(m) = Mechanism::from_name(n.trim().as_bytes()) {
            listed.push(m);
        }
    }
    let mut reversed = names.clone();
    reversed.reverse();
    for bits in 0..64u8 {
        let mut opts = if bits & 1 != 0 {
            crate::SelectOptions::password(bits & 4 != 0)
        } else {
            crate::SelectOptions::token(bits & 4 != 0)
        };
        opts.password |= bits & 2 != 0;
        opts = opts
            .allow_plaintext(bits & 8 != 0)
            .channel_binding(bits & 16 != 0)
            .external(bits & 32 != 0)
            .anonymous(bits & 34 == 34);
        let usable = |m: &Mechanism| {
            ((m.uses_password() && opts.password)
                || (m.uses_token() && opts.token)
                || (*m == Mechanism::External && opts.external)
                || (*m == Mechanism::Anonymous && opts.anonymous))
                && (!m.requires_tls() || opts.tls || opts.allow_plaintext)
                && (!m.channel_binding() || opts.channel_binding)
        };
        let chosen = crate::select(names.iter().copied(), opts);
        assert_eq!(
            chosen,
            crate::select(reversed.iter().copied(), opts),
            "order matters"
        );
        let _ = format!("{opts:?}");
        match chosen {
            Some(m) => {
                assert!(listed.contains(&m) && usable(&m), "{m} chosen");
                let rank = |x: &Mechanism| crate::ALL_MECHANISMS.iter().position(|y| y == x);
                for other in listed.iter().filter(|o| usable(o)) {
                    assert!(rank(&m) <= rank(other), "{m} chosen over {other}");
                }
            }
            None => assert!(!listed.iter().any(usable), "nothing chosen from {listed:?}"),
        }
    }
}

/// A strict base64 decoder written for the oracle, independent of the `base64` crate: the
/// standard alphabet, length a multiple of four, `=` only as one or two final characters,
/// and zero bits after the last full byte.
pub fn reference_decode(text: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (i, q) in text.chunks_exact(4).enumerate() {
        let last = i + 1 == quads;
        let pad = q.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for c in q.iter().take(4 - pad) {
            n = n << 6 | value(*c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = n.to_be_bytes();
        let keep = 3 - pad;
        // The bits past the last kept byte must be zero.
        if bytes.iter().skip(1 + keep).any(|b| *b != 0) {
            return None;
        }
        out.extend(bytes.iter().skip(1).take(keep));
    }
    Some(out)
}

/// Strict base64: the engine's decoder agrees with [`reference_decode`] on arbitrary text,
/// and encoding round-trips arbitrary bytes, with `encoded_len` exact and `encode_into`
/// appending.
pub fn base64(data: &[u8]) {
    let ours = b64::decode(data);
    let reference = reference_decode(data);
    match (&ours, &reference) {
        (Ok(a), Some(b)) => assert_eq!(a.as_slice(), b.as_slice(), "decoders disagree"),
        (Err(f), None) => assert_eq!(*f, Failure::InvalidBase64),
        _ => panic!("strictness differs: engine {ours:?}, reference {reference:?}"),
    }
    let mut buf = crate::SecretBuf::from_slice(b"junk");
    let r = b64::decode_into(data, &mut buf);
    assert_eq!(r.is_ok(), reference.is_some());
    if r.is_err() {
        assert!(
            buf.is_empty(),
            "decode_into left bytes behind after an error"
        );
    }
    let text = b64::encode(data);
    assert_eq!(text.len(), b64::encoded_len(data.len()));
    assert_eq!(reference_decode(text.as_bytes()).as_deref(), Some(data));
    let mut appended = crate::SecretBuf::from_slice(b"x");
    b64::encode_into(data, &mut appended);
    assert_eq!(appended.as_slice().first(), Some(&b'x'));
    assert_eq!(appended.as_slice().get(1..), Some(text.as_bytes()));
    match b64::decode(text.as_bytes()) {
        Ok(d) => assert_eq!(d.as_slice(), data),
        Err(f) => panic!("round trip failed: {f:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_reads_and_script_writes_the_same() {
        let long = vec![7u8; 300];
        let s = Script::new().byte(5).bytes(b"abc").bytes(&long).into_vec();
        let mut i = Input::new(&s);
        assert_eq!(i.byte(), 5);
        assert_eq!(i.bytes(), b"abc");
        assert_eq!(i.bytes(), long.as_slice());
        assert!(i.is_empty());
        assert_eq!(i.byte(), 0);
        assert_eq!(i.bytes(), b"");
    }

    #[test]
    fn reference_decoder_is_strict() {
        assert_eq!(reference_decode(b"dGlt").as_deref(), Some(&b"tim"[..]));
        assert_eq!(reference_decode(b"AA==").as_deref(), Some(&b"\0"[..]));
        for bad in [
            &b"=AAA"[..],
            b"AAA=BBB=",
            b"dGm=",
            b"dG=t",
            b"AB==",
            b"dGl",
            b"A===",
        ] {
            assert_eq!(reference_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn targets_accept_empty_and_tiny_inputs() {
        for (name, f) in TARGETS {
            for data in [&b""[..], b"\0", b"\xff\xff\xff", b"\x01\x00\x01\x05dGlt"] {
                f(data);
                let _ = name;
            }
        }
    }
}
