//! What the server targets check: the observable state of a session, the outcome an answer
//! must lead to, and SCRAM's RFC 5802 recomputation.

use crate::*;

/// The observable state of a server session, to check that refused calls change nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) finished: bool,
    pub(crate) failure: Option<Failure>,
    pub(crate) pending: bool,
    pub(crate) request: Option<Pending>,
    pub(crate) identity: Option<(String, Option<String>)>,
    /// The session's `Debug` (mechanism, state, round trips): refused calls change none.
    pub(crate) debug: String,
}

impl Snapshot {
    pub(crate) fn of(s: &ServerSession) -> Snapshot {
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

    pub(crate) fn final_challenge(&self) -> bool {
        self.debug.contains("FinalChallenge")
    }

    pub(crate) fn assert_same(&self, s: &ServerSession) {
        assert_eq!(self, &Snapshot::of(s), "a refused call changed the session");
    }
}

/// A step, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
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
    pub(crate) fn of(step: ServerStep<'_>, b64_out: bool) -> Outcome {
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
    pub(crate) fn check_consistent(
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
pub(crate) struct ServerOracle {
    pub(crate) mechanism: Mechanism,
    pub(crate) transport: Transport,
    pub(crate) scram_iterations: u32,
    /// Client messages accepted so far (the initial response counts).
    pub(crate) messages: u32,
    pub(crate) last_message: Vec<u8>,
    pub(crate) last_challenge: Vec<u8>,
    /// An answer that vouched for the credentials was given (and accepted).
    pub(crate) positive_answer: bool,
    /// The authcid the application or transport fixed (see `Outcome::check_consistent`).
    pub(crate) expected_authcid: Option<String>,
    pub(crate) scram: ScramOracle,
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
pub(crate) struct ScramOracle {
    /// 0 nothing yet, 1 client-first taken (secret requested), 2 server-first sent,
    /// 3 client-final verified.
    pub(crate) phase: u8,
    pub(crate) first: Vec<u8>,
    pub(crate) server_first: Vec<u8>,
    /// StoredKey and ServerKey the server must verify against; `None` for an unknown user
    /// (no proof may then succeed).
    pub(crate) keys: Option<(Vec<u8>, Vec<u8>)>,
    /// The server-final message the server must send: `v=` and the reference signature.
    pub(crate) server_final: Option<Vec<u8>>,
}

impl ServerOracle {
    /// The outcome of an answer is the one the request and the answer call for.
    pub(crate) fn check_answer(
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
            let e = saslmech::OAuthError::parse(c).unwrap_or_default();
            assert_eq!(e.status.as_deref(), Some(status), "error challenge status");
        };
        match (pending, a) {
            (Pending::Authorize { .. }, A::Simple(AnswerKind::Accept)) => assert!(succeeded),
            (Pending::Authorize { .. }, A::Simple(AnswerKind::Reject)) => {
                failed(Failure::AuthzDenied)
            }
            (Pending::Authorize { .. }, A::Simple(AnswerKind::TemporaryFailure)) => {
                failed(Failure::TemporaryFailure)
            }
            (Pending::Authorize { .. }, _) => refused(),
            (_, A::Simple(AnswerKind::AccountDisabled)) => failed(Failure::AccountDisabled),
            (_, A::Simple(AnswerKind::TemporaryFailure)) => failed(Failure::TemporaryFailure),
            (Pending::Password { .. }, A::Simple(AnswerKind::Accept)) => {
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
            (Pending::Secret { .. }, A::Simple(AnswerKind::Reject | AnswerKind::UnknownUser))
                if cram =>
            {
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
            (Pending::Secret { .. }, A::Simple(AnswerKind::Reject | AnswerKind::UnknownUser))
                if scram =>
            {
                let c = challenged("an unknown user");
                self.scram_answered(None);
                self.check_scram_salt(c, None);
            }
            (Pending::Secret { .. }, _) if scram => refused(),
            // A valid token is answered with its owner, never with a bare accept. OAUTHBEARER:
            // an empty token (a scope query) is never valid.
            (Pending::Token { .. }, A::Simple(AnswerKind::Accept)) => refused(),
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
                A::Simple(AnswerKind::Reject | AnswerKind::UnknownUser),
            ) => oauth_error("invalid_token"),
            (Pending::Token { .. }, A::Simple(_)) => {
                let Outcome::Challenge(c) = outcome else {
                    panic!("a rejected token gave {outcome:?}, not an error challenge");
                };
                assert!(
                    saslmech::OAuthError::parse(c).is_some(),
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

    pub(crate) fn scram_answered(&mut self, keys: Option<(Vec<u8>, Vec<u8>)>) {
        self.scram.keys = keys;
        self.scram.phase = 2;
    }

    /// The keys a password answer stands for: SASLprep (query), then `Hi` with the salt and
    /// iteration count the server-first message shows. `None` if SASLprep refuses it.
    pub(crate) fn scram_keys_from_password(
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
    pub(crate) fn check_scram_salt(&mut self, server_first: Vec<u8>, keys: Option<&ScramKeys>) {
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
    pub(crate) fn check_scram(
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

    pub(crate) fn verify_client_final(&mut self, msg: &[u8]) {
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
    pub(crate) fn answer_name(&self) -> &'static str {
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
