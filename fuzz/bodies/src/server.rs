//! The server targets: a `ServerSession` driven by arbitrary client messages and answers.

use crate::*;

/// Server operations (the operation byte, taken modulo the number of operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ServerOperation {
    /// `start(None)`.
    Start = 0,
    /// `start(Some(bytes))`.
    StartInitialResponse = 1,
    /// `start_b64(Some(bytes))`.
    StartBase64 = 2,
    /// `start_b64(None)`.
    StartBase64None = 3,
    /// `step(bytes)`.
    Step = 4,
    /// `step_b64(bytes)`.
    StepBase64 = 5,
    /// `answer(answer)`; the answer follows (see [`super::Input`] and `read_answer`).
    Answer = 6,
    /// `answer_b64(answer)`.
    AnswerBase64 = 7,
    /// `cancel()`.
    Cancel = 8,
    /// `step(big)` with [`super::Input::big`].
    StepBig = 9,
    /// `step_b64(big)`.
    StepBase64Big = 10,
    /// `start(Some(big))`.
    StartBig = 11,
}

impl ServerOperation {
    /// Every operation, in the order of its byte.
    pub const ALL: [ServerOperation; 12] = [
        ServerOperation::Start,
        ServerOperation::StartInitialResponse,
        ServerOperation::StartBase64,
        ServerOperation::StartBase64None,
        ServerOperation::Step,
        ServerOperation::StepBase64,
        ServerOperation::Answer,
        ServerOperation::AnswerBase64,
        ServerOperation::Cancel,
        ServerOperation::StepBig,
        ServerOperation::StepBase64Big,
        ServerOperation::StartBig,
    ];

    /// The operation a byte selects (the byte modulo their number).
    pub fn from_byte(byte: u8) -> Self {
        Self::ALL[usize::from(byte) % Self::ALL.len()]
    }
}

impl From<ServerOperation> for u8 {
    fn from(value: ServerOperation) -> u8 {
        value as u8
    }
}

/// Answer kinds (the byte after [`ServerOperation::Answer`], modulo the number of answer kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AnswerKind {
    /// `Answer::Accept`.
    Accept = 0,
    /// `Answer::Reject`.
    Reject = 1,
    /// `Answer::UnknownUser`.
    UnknownUser = 2,
    /// `Answer::AccountDisabled`.
    AccountDisabled = 3,
    /// `Answer::TemporaryFailure`.
    TemporaryFailure = 4,
    /// `Answer::Password(bytes)`.
    Password = 5,
    /// `Answer::CramMd5Keys(from_password(bytes))`.
    CramMd5Keys = 6,
    /// `Answer::TokenError { status: text, scope: text or None if empty }`.
    TokenError = 7,
    /// `Answer::ScramKeys`: a hash byte ([`scram_hash`]), password, salt and an
    /// iteration byte (1 + byte % 16) for `ScramKeys::derive`; if that refuses them, keys from
    /// `ScramKeys::new` with the password bytes repeated as StoredKey and ServerKey.
    ScramKeys = 8,
    /// `Answer::TokenOwner(text)`.
    TokenOwner = 9,
}

impl AnswerKind {
    /// Every answer kind, in the order of its byte.
    pub const ALL: [AnswerKind; 10] = [
        AnswerKind::Accept,
        AnswerKind::Reject,
        AnswerKind::UnknownUser,
        AnswerKind::AccountDisabled,
        AnswerKind::TemporaryFailure,
        AnswerKind::Password,
        AnswerKind::CramMd5Keys,
        AnswerKind::TokenError,
        AnswerKind::ScramKeys,
        AnswerKind::TokenOwner,
    ];

    /// The answer kind a byte selects (the byte modulo their number).
    pub fn from_byte(byte: u8) -> Self {
        Self::ALL[usize::from(byte) % Self::ALL.len()]
    }
}

impl From<AnswerKind> for u8 {
    fn from(value: AnswerKind) -> u8 {
        value as u8
    }
}

/// The server configuration and transport two bytes select.
///
/// `policy`: bit 0 TLS, bit 1 success data, bit 2 allow plaintext without TLS, bit 3 refuse weak
/// mechanisms, bits 4–5 `max_message` (default, 64, 512, 4096), bits 6–7 `max_steps`
/// (default, 1, 2, 3). `environment`: bit 0 `max_identity` 255, bits 1–2 nonce (fixed RFC 2195 nonce,
/// OS, a source that fails, a counter pattern), bits 3–4 channel-binding data on the
/// transport ([`channel_binding`]; 3 gives all three types), bit 5 the external identity
/// [`EXTERNAL_IDENTITY`], bits 6–7 the SCRAM iteration count (1, 2, 3, 16: cheap, so that a
/// campaign gets deep).
pub fn server_config(policy: u8, environment: u8) -> (ServerConfig, Transport) {
    let limits = server_limits(policy, environment);
    let nonce = match (environment >> 1) & 3 {
        0 => NonceSource::Fixed(RFC2195_NONCE.to_vec()),
        1 => NonceSource::Os,
        2 => NonceSource::Function(|_| false),
        _ => NonceSource::Function(counter_nonce),
    };
    let config = ServerConfig::new()
        .mechanisms(saslmech::ALL_MECHANISMS)
        .allow_plaintext_without_tls(policy & 4 != 0)
        .allow_weak(policy & 8 == 0)
        .hostname(RFC2195_HOST)
        .max_message(limits.max_message)
        .max_identity(limits.max_identity)
        .max_steps(limits.max_steps)
        .nonce_source(nonce)
        .scram_secret(SCRAM_SECRET)
        .scram_iterations(limits.scram_iterations);
    let mut transport = if policy & 1 != 0 {
        Transport::tls()
    } else {
        Transport::plaintext()
    };
    match (environment >> 3) & 3 {
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
    if environment & 0x20 != 0 {
        transport = transport.with_external_identity(EXTERNAL_IDENTITY);
    }
    (config, transport.with_success_data(policy & 2 != 0))
}

/// The limits [`server_config`] sets for the same two bytes, which the oracles need and a
/// [`ServerConfig`] does not show (only `max_message_len`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// `max_message`: policy bits 4–5.
    pub max_message: usize,
    /// `max_identity`: environment bit 0 (255, else the default).
    pub max_identity: usize,
    /// `max_steps`: policy bits 6–7.
    pub max_steps: u16,
    /// The SCRAM iteration count for password answers and unknown users: environment bits
    /// 6–7.
    pub scram_iterations: u32,
}

/// The limits two configuration bytes select (see [`server_config`]).
pub fn server_limits(policy: u8, environment: u8) -> ServerLimits {
    ServerLimits {
        max_message: match (policy >> 4) & 3 {
            0 => ServerConfig::DEFAULT_MAX_MESSAGE,
            1 => 64,
            2 => 512,
            _ => 4096,
        },
        max_identity: if environment & 1 != 0 {
            255
        } else {
            ServerConfig::DEFAULT_MAX_IDENTITY
        },
        max_steps: match policy >> 6 {
            0 => ServerConfig::DEFAULT_MAX_STEPS,
            n => u16::from(n),
        },
        scram_iterations: match environment >> 6 {
            3 => 16,
            n => u32::from(n) + 1,
        },
    }
}

/// The hash of a hash byte: even SHA-1, odd SHA-256, but odd with the top bit set SHA-512
/// (added later: corpus files from before keep SHA-1 and, below 0x80, SHA-256).
pub fn scram_hash(byte: u8) -> ScramHash {
    match (byte & 1, byte & 0x80) {
        (0, _) => ScramHash::Sha1,
        (_, 0) => ScramHash::Sha256,
        _ => ScramHash::Sha512,
    }
}

/// Read an `Answer::ScramKeys` operand (see [`AnswerKind::ScramKeys`]).
pub(crate) fn read_scram_keys(input: &mut Input<'_>) -> ScramKeys {
    let hash = scram_hash(input.byte());
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
pub(crate) enum OwnedAnswer<'a> {
    /// Accept, Reject, UnknownUser, AccountDisabled or TemporaryFailure: no operand.
    Simple(AnswerKind),
    Password(&'a [u8]),
    Keys(&'a [u8], CramMd5Keys),
    TokenError(&'a str, &'a str),
    ScramKeys(ScramKeys),
    TokenOwner(&'a str),
}

impl<'a> OwnedAnswer<'a> {
    pub(crate) fn read(input: &mut Input<'a>) -> Self {
        match AnswerKind::from_byte(input.byte()) {
            AnswerKind::Password => OwnedAnswer::Password(input.bytes()),
            AnswerKind::CramMd5Keys => {
                let p = input.bytes();
                OwnedAnswer::Keys(p, keys_round_trip(p))
            }
            AnswerKind::TokenError => OwnedAnswer::TokenError(input.text(), input.text()),
            AnswerKind::ScramKeys => OwnedAnswer::ScramKeys(read_scram_keys(input)),
            AnswerKind::TokenOwner => OwnedAnswer::TokenOwner(input.text()),
            k => OwnedAnswer::Simple(k),
        }
    }

    pub(crate) fn answer(&self) -> Answer<'_> {
        match self {
            OwnedAnswer::Simple(AnswerKind::Accept) => Answer::Accept,
            OwnedAnswer::Simple(AnswerKind::Reject) => Answer::Reject,
            OwnedAnswer::Simple(AnswerKind::UnknownUser) => Answer::UnknownUser,
            OwnedAnswer::Simple(AnswerKind::AccountDisabled) => Answer::AccountDisabled,
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
    pub(crate) fn bad_owner(&self) -> bool {
        matches!(self, OwnedAnswer::TokenOwner(o) if o.is_empty() || o.contains('\0'))
    }
}

/// `CramMd5Keys::from_password(p)`, after checking that its stored forms (Dovecot's text and
/// bytes) round-trip, and that `p` read as stored text parses only if it is well formed.
pub(crate) fn keys_round_trip(p: &[u8]) -> CramMd5Keys {
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
pub(crate) enum Pending {
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

pub(crate) fn pending_of(r: &Request<'_>) -> Pending {
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
pub(crate) fn check_identity(what: &str, id: &str, max: usize) {
    assert!(!id.is_empty(), "{what}: empty identity");
    assert!(!id.contains('\0'), "{what}: identity contains NUL");
    assert!(id.len() <= max, "{what}: identity over the limit");
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
    let (policy, environment) = (input.byte(), input.byte());
    let (config, transport) = server_config(policy, environment);
    let limits = server_limits(policy, environment);
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
    let max_identity = limits.max_identity;
    let mut oracle = ServerOracle {
        mechanism,
        transport: transport.clone(),
        scram_iterations: limits.scram_iterations,
        ..ServerOracle::default()
    };
    // Mechanisms whose credential is the transport's (EXTERNAL) or none (ANONYMOUS): the
    // identity is fixed in advance.
    match mechanism {
        Mechanism::Anonymous => {
            oracle.positive_answer = true;
            oracle.expected_authcid = Some(ANONYMOUS_IDENTITY.to_owned());
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
        let operation = ServerOperation::from_byte(input.byte());
        let before = Snapshot::of(&s);
        let mut owned_msg: Vec<u8> = Vec::new();
        let mut msg: &[u8] = &[];
        let mut answer: Option<OwnedAnswer<'_>> = None;
        match operation {
            ServerOperation::StartInitialResponse
            | ServerOperation::StartBase64
            | ServerOperation::Step
            | ServerOperation::StepBase64 => msg = input.bytes(),
            ServerOperation::StepBig
            | ServerOperation::StepBase64Big
            | ServerOperation::StartBig => owned_msg = input.big(),
            ServerOperation::Answer | ServerOperation::AnswerBase64 => {
                answer = Some(OwnedAnswer::read(&mut input))
            }
            _ => {}
        }
        if !owned_msg.is_empty() {
            msg = &owned_msg;
        }
        if operation == ServerOperation::Cancel {
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
            operation,
            ServerOperation::StartBase64
                | ServerOperation::StartBase64None
                | ServerOperation::StepBase64
                | ServerOperation::StepBase64Big
                | ServerOperation::AnswerBase64
        );
        // What the oracle expects of a message-carrying call.
        let raw_msg: Option<Vec<u8>> = match operation {
            ServerOperation::StartInitialResponse
            | ServerOperation::Step
            | ServerOperation::StepBig
            | ServerOperation::StartBig => Some(msg.to_vec()),
            ServerOperation::StartBase64
            | ServerOperation::StepBase64
            | ServerOperation::StepBase64Big => {
                // None: must fail with InvalidBase64 or TooLarge.
                reference_decode(msg)
            }
            _ => None,
        };
        let is_message = matches!(
            operation,
            ServerOperation::StartInitialResponse
                | ServerOperation::StartBase64
                | ServerOperation::Step
                | ServerOperation::StepBase64
                | ServerOperation::StepBig
                | ServerOperation::StepBase64Big
                | ServerOperation::StartBig
        );
        if let Some(a) = &answer {
            let _ = format!("{:?}", a.answer());
        }
        let result = match operation {
            ServerOperation::Start => s.start(None),
            ServerOperation::StartInitialResponse | ServerOperation::StartBig => s.start(Some(msg)),
            ServerOperation::StartBase64 => s.start_b64(Some(msg)),
            ServerOperation::StartBase64None => s.start_b64(None),
            ServerOperation::Step | ServerOperation::StepBig => s.step(msg),
            ServerOperation::StepBase64 | ServerOperation::StepBase64Big => s.step_b64(msg),
            _ => match &answer {
                Some(a) if operation == ServerOperation::AnswerBase64 => s.answer_b64(a.answer()),
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
                    oracle.messages <= u32::from(limits.max_steps),
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
