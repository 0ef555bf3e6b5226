//! The differential target: a real client against a real server, messages mutated in
//! flight, the application answering with matching or different credentials.

use crate::*;

/// Message mutations of the differential target (the byte before each message in flight,
/// modulo 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mutation {
    /// Deliver the message unchanged.
    Pass = 0,
    /// Cut it to the length in the next byte.
    Truncate = 1,
    /// Flip the bits of the next byte at the position in the byte after (modulo length).
    Flip = 2,
    /// Replace it with a byte string from the input.
    Replace = 3,
    /// Append a byte string from the input.
    Append = 4,
    /// Insert a byte string at the position in the next byte.
    Insert = 5,
}

impl Mutation {
    /// Every mutation, in the order of its byte.
    pub const ALL: [Mutation; 6] = [
        Mutation::Pass,
        Mutation::Truncate,
        Mutation::Flip,
        Mutation::Replace,
        Mutation::Append,
        Mutation::Insert,
    ];

    /// The mutation a byte selects: the byte modulo 8, where the values past the last
    /// mutation select the first.
    pub fn from_byte(byte: u8) -> Self {
        Self::ALL
            .get(usize::from(byte % 8))
            .copied()
            .unwrap_or(Self::ALL[0])
    }
}

impl From<Mutation> for u8 {
    fn from(value: Mutation) -> u8 {
        value as u8
    }
}

/// Apply one mutation from the input to `msg`; returns whether it changed.
fn mutate_message(input: &mut Input<'_>, msg: &mut Vec<u8>) -> bool {
    let before = msg.clone();
    match Mutation::from_byte(input.byte()) {
        Mutation::Truncate => {
            let n = usize::from(input.byte());
            msg.truncate(n);
        }
        Mutation::Flip => {
            let flip_mask = input.byte();
            let at = usize::from(input.byte());
            let len = msg.len();
            if let Some(b) = msg.get_mut(at.checked_rem(len).unwrap_or(0)) {
                *b ^= flip_mask;
            }
        }
        Mutation::Replace => *msg = input.bytes().to_vec(),
        Mutation::Append => msg.extend_from_slice(input.bytes()),
        Mutation::Insert => {
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
pub mod differential_binding {
    /// The server has the client's type (or `tls-exporter`) with the same data.
    pub const SAME: u8 = 0;
    /// The same type with different data (a man in the middle).
    pub const DIFFERENT: u8 = 1;
    /// No channel-binding data.
    pub const NONE: u8 = 2;
    /// All three types, with the same data as the client's.
    pub const ALL: u8 = 3;
}

/// Differential flags (second byte).
pub mod differential_flag {
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
/// Input: mechanism byte ([`MECHANISMS`]), flags ([`differential_flag`]), credentials (authcid, authzid,
/// password, token, then the application's stored password and token for
/// [`differential_flag::MISMATCH`]), then one mutation ([`Mutation`]) per message in flight.
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
    let (stored_password, stored_token) = if flags & differential_flag::MISMATCH != 0 {
        (input.bytes(), input.bytes())
    } else {
        (password, token)
    };
    // The mechanisms after the first four read one more byte (see [`differential_binding`]).
    let binding_and_iterations = if MECHANISMS.iter().position(|m| *m == mechanism) >= Some(4) {
        input.byte()
    } else {
        0
    };
    let iterations = u32::from(binding_and_iterations >> 4) + 1;
    let client_binding = channel_binding(binding_and_iterations);
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
    let tls = flags & differential_flag::TLS != 0;
    let mut transport = if tls {
        Transport::tls()
    } else {
        Transport::plaintext()
    }
    .with_success_data(flags & differential_flag::SUCCESS_DATA != 0);
    // The server's channel-binding data: the client's type (or tls-exporter), with the same
    // or different data, none, or all three types.
    let server_binding = (binding_and_iterations >> 2) & 3;
    let (cb_kind, cb_data) =
        client_binding.unwrap_or((ChannelBindingType::TlsExporter, CB_EXPORTER));
    match server_binding {
        differential_binding::SAME => transport = transport.with_channel_binding(cb_kind, cb_data),
        differential_binding::DIFFERENT => {
            transport = transport.with_channel_binding(cb_kind, b"a different connection")
        }
        differential_binding::NONE => {}
        _ => {
            for sel in 1..=3 {
                if let Some((kind, data)) = channel_binding(sel) {
                    transport = transport.with_channel_binding(kind, data);
                }
            }
        }
    }
    // EXTERNAL: the certificate names the authcid, or (MISMATCH) nobody.
    let external = if flags & differential_flag::MISMATCH != 0 {
        ""
    } else {
        authcid
    };
    transport = transport.with_external_identity(external);
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(saslmech::ALL_MECHANISMS)
            .allow_plaintext_without_tls(true)
            .hostname(RFC2195_HOST)
            .scram_iterations(iterations)
            .scram_secret(SCRAM_SECRET),
    );
    let mut server = match ServerSession::new(&config, mechanism, &transport) {
        Ok(s) => s,
        // -PLUS on a connection without channel-binding data is not offered.
        Err(Failure::MechanismUnavailable)
            if mechanism.channel_binding() && server_binding == differential_binding::NONE =>
        {
            return;
        }
        Err(f) => panic!("{mechanism} refused with plaintext allowed: {f:?}"),
    };
    let b64 = flags & differential_flag::BASE64 != 0;
    let keys = CramMd5Keys::from_password(stored_password);
    let hash = ScramHash::of(mechanism);
    let scram_keys = hash
        .and_then(|h| ScramKeys::derive(h, stored_password, b"differential salt", iterations).ok());
    // The SCRAM messages the server received and sent, for the reference proof check.
    let mut scram_msgs: Vec<Vec<u8>> = Vec::new();

    let mut mutated = false;
    // The message from the client to the server, raw or base64 as the transport wants.
    let ir = if flags & differential_flag::INITIAL_RESPONSE != 0 {
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
                        if flags & differential_flag::APP_COMPARES != 0 {
                            if p.password() == stored_password {
                                Answer::Accept
                            } else {
                                Answer::Reject
                            }
                        } else {
                            Answer::Password(stored_password)
                        }
                    }
                    Request::Secret(_)
                        if hash.is_some() && flags & differential_flag::KEYS != 0 =>
                    {
                        match &scram_keys {
                            Some(k) => Answer::ScramKeys(k),
                            None => Answer::UnknownUser,
                        }
                    }
                    Request::Secret(_) if flags & differential_flag::KEYS != 0 => {
                        Answer::CramMd5Keys(&keys)
                    }
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
                        } else if flags & differential_flag::APP_COMPARES != 0 {
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
                        if flags & differential_flag::DENY_AUTHZ != 0 {
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
                let stored_key = if flags & differential_flag::KEYS != 0 {
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
            assert!(
                flags & differential_flag::DENY_AUTHZ == 0,
                "success after authz denied"
            );
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
                let stored_mode = if flags & differential_flag::KEYS != 0 {
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
            matches!(
                server_binding,
                differential_binding::SAME | differential_binding::ALL
            )
        } else if mechanism.is_scram() {
            client_binding.is_none() || server_binding == differential_binding::NONE
        } else {
            true
        };
        let denied = authz_asked && flags & differential_flag::DENY_AUTHZ != 0;
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
