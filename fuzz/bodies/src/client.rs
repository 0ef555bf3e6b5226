//! The client targets: a `ClientSession` fed arbitrary challenges, checked against what the
//! mechanism prescribes.

use crate::*;

/// Client operations (the operation byte, modulo the number of operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ClientOperation {
    /// `start()`.
    Start = 0,
    /// `start_b64()`.
    StartBase64 = 1,
    /// `step(bytes)`.
    Step = 2,
    /// `step_b64(bytes)`.
    StepBase64 = 3,
    /// `finish(None)`.
    Finish = 4,
    /// `finish(Some(bytes))`.
    FinishData = 5,
    /// `step(big)`.
    StepBig = 6,
    /// `step_b64(big)`.
    StepBase64Big = 7,
}

impl ClientOperation {
    /// Every operation, in the order of its byte.
    pub const ALL: [ClientOperation; 8] = [
        ClientOperation::Start,
        ClientOperation::StartBase64,
        ClientOperation::Step,
        ClientOperation::StepBase64,
        ClientOperation::Finish,
        ClientOperation::FinishData,
        ClientOperation::StepBig,
        ClientOperation::StepBase64Big,
    ];

    /// The operation a byte selects (the byte modulo their number).
    pub fn from_byte(byte: u8) -> Self {
        Self::ALL[usize::from(byte) % Self::ALL.len()]
    }
}

impl From<ClientOperation> for u8 {
    fn from(value: ClientOperation) -> u8 {
        value as u8
    }
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
        let operation = ClientOperation::from_byte(input.byte());
        let was_finished = c.is_finished();
        match operation {
            ClientOperation::Start | ClientOperation::StartBase64 => {
                let r = if operation == ClientOperation::Start {
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
            ClientOperation::Step
            | ClientOperation::StepBase64
            | ClientOperation::StepBig
            | ClientOperation::StepBase64Big => {
                let challenge: &[u8] = match operation {
                    ClientOperation::Step | ClientOperation::StepBase64 => input.bytes(),
                    _ => {
                        big = input.big();
                        &big
                    }
                };
                let b64 = matches!(
                    operation,
                    ClientOperation::StepBase64 | ClientOperation::StepBase64Big
                );
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
                let data = if operation == ClientOperation::FinishData {
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
                assert!(saslmech::OAuthError::parse(challenge).is_some());
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
                assert!(saslmech::OAuthError::parse(challenge).is_some());
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
