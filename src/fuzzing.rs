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
use crate::{
    Answer, ClientConfig, ClientSession, CramMd5Keys, Credentials, Error, Failure, Mechanism,
    NonceSource, Request, ServerConfig, ServerSession, ServerStep, TokenError, Transport,
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
];

/// The mechanisms the differential target chooses from (by its first byte, modulo the length).
/// Append new mechanisms at the end so that existing corpus files keep their meaning.
pub const MECHANISMS: &[Mechanism] = &[
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::CramMd5,
    Mechanism::XOAuth2,
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

/// The most operations one input may drive (keeps every run short).
pub const MAX_OPS: usize = 48;
/// The largest message a `*_BIG` operation builds (above the default 64 KiB limit).
pub const MAX_BIG: usize = 80 * 1024;
/// The host name and fixed nonce that make the server's CRAM-MD5 challenge RFC 2195's.
pub const RFC2195_HOST: &str = "postoffice.reston.mci.net";
/// See [`RFC2195_HOST`].
pub const RFC2195_NONCE: &[u8] = b"1896.697170952";

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
    /// Number of answer kinds.
    pub const COUNT: u8 = 8;
}

/// The server configuration and transport two bytes select.
///
/// `a`: bit 0 TLS, bit 1 success data, bit 2 allow plaintext without TLS, bit 3 refuse weak
/// mechanisms, bits 4–5 `max_message` (default, 64, 512, 4096), bits 6–7 `max_steps`
/// (default, 1, 2, 3). `b`: bit 0 `max_identity` 255, bits 1–2 nonce (fixed RFC 2195 nonce,
/// OS, a source that fails, a counter pattern).
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
        _ => NonceSource::Function(|buf| {
            for (i, x) in buf.iter_mut().enumerate() {
                *x = i as u8;
            }
            true
        }),
    };
    let mut config = ServerConfig::new()
        .mechanisms(crate::ALL_MECHANISMS)
        .allow_plaintext_without_tls(a & 4 != 0)
        .allow_weak(a & 8 == 0)
        .hostname(RFC2195_HOST)
        .max_message(max_message)
        .max_steps(max_steps)
        .nonce_source(nonce);
    if b & 1 != 0 {
        config = config.max_identity(255);
    }
    let transport = if a & 1 != 0 {
        Transport::tls()
    } else {
        Transport::plaintext()
    };
    (config, transport.with_success_data(a & 2 != 0))
}

/// An answer as read from the input; owns what the `Answer` borrows.
enum OwnedAnswer<'a> {
    Simple(u8),
    Password(&'a [u8]),
    Keys(&'a [u8], CramMd5Keys),
    TokenError(&'a str, &'a str),
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
        }
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
        let hex = stored.strip_prefix("{CRAM-MD5}").unwrap_or(stored);
        assert_eq!(
            k.to_dovecot().get(10..),
            Some(hex),
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
        user: String,
        token: Vec<u8>,
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
            user: {
                let _ = t.mechanism();
                t.user().to_owned()
            },
            token: t.token().to_vec(),
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
            assert!(config.check(mechanism, transport.tls).is_err());
            assert!(!config.offered(transport.tls).any(|m| m == mechanism));
            return;
        }
    };
    let _ = format!("{config:?}{transport:?}");
    assert!(config.offered(transport.tls).any(|m| m == mechanism));
    let max_message = config.max_message_len();
    let max_identity = config_max_identity(&config);
    let mut oracle = ServerOracle::default();
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
                assert!(
                    matches!(e, Error::InvalidState | Error::WrongAnswer),
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
        outcome.check_consistent(&s, &after, max_message, max_identity);
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
        }
    }
    let _ = format!("{s:?}{s:#?}");
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
    fn check_consistent(
        &self,
        s: &ServerSession,
        after: &Snapshot,
        max_message: usize,
        max_identity: usize,
    ) {
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
                    Pending::Token { user, token } => {
                        check_identity("token request", user, max_identity);
                        assert!(!token.is_empty() && token.len() <= max_message);
                    }
                    Pending::Authorize { authcid, authzid } => {
                        check_identity("authorize request", authcid, max_identity);
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
                check_identity("success", authcid, max_identity);
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
#[derive(Default)]
struct ServerOracle {
    /// Client messages accepted so far (the initial response counts).
    messages: u32,
    last_message: Vec<u8>,
    last_challenge: Vec<u8>,
    /// An answer that vouched for the credentials was given (and accepted).
    positive_answer: bool,
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
        let mut positive = false;
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
                if cram_md5_digest(&self.last_message) == Some(expected) {
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
            (Pending::Token { .. }, A::Simple(ans::ACCEPT)) => {
                assert!(
                    matches!(
                        outcome,
                        Outcome::Success { .. } | Outcome::Request(Pending::Authorize { .. })
                    ),
                    "an accepted token did not succeed: {outcome:?}"
                );
                positive = true;
            }
            (Pending::Token { .. }, A::Simple(_)) => {
                let Outcome::Challenge(c) = outcome else {
                    panic!("a rejected token gave {outcome:?}, not an error challenge");
                };
                assert!(
                    crate::OAuthError::parse(c).is_some(),
                    "error challenge not JSON"
                );
            }
            (Pending::Token { .. }, A::TokenError(status, _)) => {
                let Outcome::Challenge(c) = outcome else {
                    panic!("a token error gave {outcome:?}, not an error challenge");
                };
                let e = crate::OAuthError::parse(c).unwrap_or_default();
                assert_eq!(e.status.as_deref(), Some(*status), "error challenge status");
            }
            (Pending::Token { .. }, _) => refused(),
            // Requests of mechanisms to come: no mechanism-specific oracle yet.
            _ => positive = succeeded,
        }
        if positive {
            self.positive_answer = true;
        }
    }
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
/// token) instead of the defaults; bits 1–2 `max_challenge` (64 KiB, 16, 100, 4096).
///
/// Oracles, beyond no panic: only `InvalidArgument` refuses credentials; errors are
/// `InvalidState` (nothing changes) or `Failed` (the session is over); after the end every
/// call is `InvalidState`; base64 outputs are strict and match the raw output; each response
/// is exactly what the mechanism prescribes for these credentials (CRAM-MD5 checked against
/// the reference HMAC).
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
    let mut creds = Credentials::new()
        .authcid(authcid)
        .password(password)
        .token(token);
    if !authzid.is_empty() {
        creds = creds.authzid(authzid);
    }
    let mut config = ClientConfig::default();
    config.max_challenge = match (flags >> 1) & 3 {
        0 => config.max_challenge,
        1 => 16,
        2 => 100,
        _ => 4096,
    };
    let max_challenge = config.max_challenge;
    let mut c = match ClientSession::with_config(mechanism, &creds, &config) {
        Ok(c) => c,
        Err(e) => {
            assert!(matches!(e, Error::InvalidArgument(_)), "client new: {e:?}");
            return;
        }
    };
    let _ = format!("{creds:?}{c:?}{c:#?}");
    assert_eq!(c.mechanism(), mechanism);
    let expect = Expected::new(mechanism, authcid, authzid, password, token);
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
                            Some(_) => {}
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
                            responses >= expect.messages,
                            "finished before sending everything"
                        );
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
    /// Messages the client must have sent before `finish` may succeed.
    messages: usize,
}

impl<'a> Expected<'a> {
    fn new(
        mechanism: Mechanism,
        authcid: &'a str,
        authzid: &'a str,
        password: &'a [u8],
        token: &'a [u8],
    ) -> Self {
        let messages = match mechanism {
            Mechanism::Login => 2,
            _ => 1,
        };
        Expected {
            mechanism,
            authcid,
            authzid,
            password,
            token,
            messages,
        }
    }

    /// Response number `n` (0 = the first message, initial response or not).
    fn check_response(&self, n: usize, response: &[u8], challenge: &[u8]) {
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
            (m, n) if n >= self.messages => {
                panic!("{m} sent a response number {n}")
            }
            _ => {}
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
    let mut creds = Credentials::new()
        .authcid(authcid)
        .password(password)
        .token(token);
    if !authzid.is_empty() {
        creds = creds.authzid(authzid);
    }
    let Ok(mut client) = ClientSession::new(mechanism, &creds) else {
        return;
    };
    let tls = flags & dflag::TLS != 0;
    let transport = if tls {
        Transport::tls()
    } else {
        Transport::plaintext()
    }
    .with_success_data(flags & dflag::SUCCESS_DATA != 0);
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(crate::ALL_MECHANISMS)
            .allow_plaintext_without_tls(true)
            .hostname(RFC2195_HOST),
    );
    let Ok(mut server) = ServerSession::new(&config, mechanism, &transport) else {
        panic!("{mechanism} refused with plaintext allowed");
    };
    let b64 = flags & dflag::BASE64 != 0;
    let keys = CramMd5Keys::from_password(stored_password);

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
                step = if b64 {
                    server.step_b64(&resp)
                } else {
                    server.step(&resp)
                };
            }
            ServerStep::Request(r) => {
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
                    Request::Secret(_) if flags & dflag::KEYS != 0 => Answer::CramMd5Keys(&keys),
                    Request::Secret(_) => Answer::Password(stored_password),
                    Request::ValidateToken(t) => {
                        checked_token = Some(t.token().to_vec());
                        if t.token() == stored_token {
                            Answer::Accept
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
            Mechanism::XOAuth2 => assert_eq!(
                checked_token.as_deref(),
                Some(stored_token),
                "XOAUTH2 success with a token that is not the stored one"
            ),
            #[allow(unreachable_patterns)]
            _ => {}
        }
        if authz_asked {
            assert!(flags & dflag::DENY_AUTHZ == 0, "success after authz denied");
        }
        if !mutated {
            assert_eq!(authcid_ok, authcid, "authenticated as someone else");
            if authzid_ok.is_some() {
                assert_eq!(authzid_ok.as_deref(), Some(authzid), "authzid changed");
            }
        }
    }
    // Completeness: a clean exchange with matching credentials succeeds, unless it asked for
    // an authorization the application denies; with mismatching ones it fails.
    if !mutated && !client_failed {
        let matching = match mechanism {
            Mechanism::XOAuth2 => stored_token == token,
            _ => stored_password == password,
        };
        let denied = authz_asked && flags & dflag::DENY_AUTHZ != 0;
        // Identities over the server's limit fail with TooLarge, as they should.
        let within_limits = authcid.len() <= ServerConfig::DEFAULT_MAX_IDENTITY
            && authzid.len() <= ServerConfig::DEFAULT_MAX_IDENTITY;
        if matching && !denied && within_limits {
            assert!(
                verdict.is_ok(),
                "{mechanism}: clean exchange failed: {verdict:?}"
            );
        } else if !matching {
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
    for bits in 0..16u8 {
        let mut opts = if bits & 1 != 0 {
            crate::SelectOptions::password(bits & 4 != 0)
        } else {
            crate::SelectOptions::token(bits & 4 != 0)
        };
        opts.password |= bits & 2 != 0;
        opts = opts.allow_plaintext(bits & 8 != 0);
        let usable = |m: &Mechanism| {
            ((m.uses_password() && opts.password) || (m.uses_token() && opts.token))
                && (!m.requires_tls() || opts.tls || opts.allow_plaintext)
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
