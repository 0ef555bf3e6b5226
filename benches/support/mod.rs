//! What the benchmarks share: a counting allocator, the cases (mechanism, backend answer,
//! transport), and a full in-memory handshake.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use saslmech::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, CramMd5Keys, Credentials, Mechanism,
    NonceSource, Request, ScramClientCache, ScramHash, ScramKeys, ServerConfig, ServerSession,
    ServerStep, Transport, b64,
};

/// Counts allocations and live bytes; forwards to `System`.
pub struct Counting;
pub static ALLOCS: AtomicUsize = AtomicUsize::new(0);
pub static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

pub const USER: &str = "user@example.com";
pub const PASSWORD: &[u8] = b"correct horse battery";
pub const TOKEN: &[u8] = b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg";
pub const CB: [u8; 32] = [7; 32];

/// How the server's backend answers.
#[derive(Clone, Copy)]
pub enum Backend {
    /// The application checks the password or token itself and answers Accept/Reject.
    Verdict,
    /// The application hands back the stored plaintext password.
    Password,
    /// The application hands back stored keys (CRAM-MD5 state, SCRAM StoredKey/ServerKey).
    Keys,
}

/// One benchmark case.
pub struct Case {
    pub name: &'static str,
    pub mechanism: Mechanism,
    pub backend: Backend,
    /// SCRAM: the client starts from cached keys (protocol cost only, no PBKDF2).
    pub client_cache: bool,
}

pub fn cases() -> Vec<Case> {
    use Backend::*;
    let c = |name, mechanism, backend, client_cache| Case {
        name,
        mechanism,
        backend,
        client_cache,
    };
    vec![
        c("PLAIN", Mechanism::Plain, Verdict, false),
        c("PLAIN (engine compares)", Mechanism::Plain, Password, false),
        c("LOGIN", Mechanism::Login, Verdict, false),
        c(
            "CRAM-MD5 (plaintext secret)",
            Mechanism::CramMd5,
            Password,
            false,
        ),
        c("CRAM-MD5 (stored keys)", Mechanism::CramMd5, Keys, false),
        c("XOAUTH2", Mechanism::XOAuth2, Verdict, false),
        c("OAUTHBEARER", Mechanism::OAuthBearer, Verdict, false),
        c("EXTERNAL", Mechanism::External, Verdict, false),
        c("ANONYMOUS", Mechanism::Anonymous, Verdict, false),
        c(
            "SCRAM-SHA-1 (stored keys, client PBKDF2)",
            Mechanism::ScramSha1,
            Keys,
            false,
        ),
        c(
            "SCRAM-SHA-256 (stored keys, client PBKDF2)",
            Mechanism::ScramSha256,
            Keys,
            false,
        ),
        c(
            "SCRAM-SHA-256 (protocol only)",
            Mechanism::ScramSha256,
            Keys,
            true,
        ),
        c(
            "SCRAM-SHA-256-PLUS (protocol only)",
            Mechanism::ScramSha256Plus,
            Keys,
            true,
        ),
    ]
}

/// Everything a handshake needs that is set up once: configs, stored keys, caches.
pub struct Fixture {
    pub server: Arc<ServerConfig>,
    pub client: ClientConfig,
    pub client_plus: ClientConfig,
    /// Fixed nonces on both sides, so that recorded messages verify when replayed.
    pub server_fixed: Arc<ServerConfig>,
    pub client_fixed: ClientConfig,
    pub client_plus_fixed: ClientConfig,
    pub cram: CramMd5Keys,
    pub scram1: ScramKeys,
    pub scram256: ScramKeys,
    pub cache1: ScramClientCache,
    pub cache256: ScramClientCache,
    /// The connection facts, made once (a server has them before AUTH).
    pub tls: Transport,
    pub tls_external: Transport,
    pub tls_plus: Transport,
}

impl Fixture {
    pub fn new() -> Fixture {
        let scram1 =
            ScramKeys::derive(ScramHash::Sha1, PASSWORD, b"0123456789abcdef", 4096).unwrap();
        let scram256 =
            ScramKeys::derive(ScramHash::Sha256, PASSWORD, b"0123456789abcdef", 4096).unwrap();
        let server = || {
            ServerConfig::new()
                .mechanisms(saslmech::ALL_MECHANISMS)
                .allow_plaintext_without_tls(true)
        };
        let fixed = || NonceSource::Fixed(b"fyko+d2lbbFgONRv9qkxdawL".to_vec());
        let plus = || ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &CB);
        let mut f = Fixture {
            server: Arc::new(server()),
            client: ClientConfig::new(),
            client_plus: plus(),
            server_fixed: Arc::new(
                server().nonce_source(NonceSource::Fixed(b"3rfcNHYJY1ZVvWVs7j".to_vec())),
            ),
            client_fixed: ClientConfig::new().nonce_source(fixed()),
            client_plus_fixed: plus().nonce_source(fixed()),
            cram: CramMd5Keys::from_password(PASSWORD),
            cache1: ScramClientCache::from_salted_password(ScramHash::Sha1, &[0; 20], b"x", 1)
                .unwrap(),
            cache256: ScramClientCache::from_salted_password(ScramHash::Sha256, &[0; 32], b"x", 1)
                .unwrap(),
            scram1,
            scram256,
            tls: Transport::tls(),
            tls_external: Transport::tls().with_external_identity(USER),
            tls_plus: Transport::tls().with_channel_binding(ChannelBindingType::TlsExporter, &CB),
        };
        // Fill the caches the way a client would: one login with the password.
        for m in [Mechanism::ScramSha1, Mechanism::ScramSha256] {
            let case = Case {
                name: "",
                mechanism: m,
                backend: Backend::Keys,
                client_cache: false,
            };
            let cache = handshake(&f, &case).unwrap();
            match m {
                Mechanism::ScramSha1 => f.cache1 = cache,
                _ => f.cache256 = cache,
            }
        }
        f
    }

    pub fn transport(&self, m: Mechanism) -> &Transport {
        match m {
            Mechanism::External => &self.tls_external,
            m if m.channel_binding() => &self.tls_plus,
            _ => &self.tls,
        }
    }

    pub fn credentials(&self, case: &Case) -> Credentials<'_> {
        let mut c = Credentials::new().authcid(USER).token(TOKEN).trace("bench");
        let cache = match case.mechanism {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => &self.cache1,
            _ => &self.cache256,
        };
        c = if case.client_cache {
            c.scram_cache(cache)
        } else {
            c.password(PASSWORD)
        };
        c
    }

    pub fn client_config(&self, m: Mechanism) -> &ClientConfig {
        if m.channel_binding() {
            &self.client_plus
        } else {
            &self.client
        }
    }

    pub fn client_config_fixed(&self, m: Mechanism) -> &ClientConfig {
        if m.channel_binding() {
            &self.client_plus_fixed
        } else {
            &self.client_fixed
        }
    }

    pub fn answer<'a>(&'a self, case: &Case, request: &Request<'_>) -> Answer<'a> {
        match (request, case.backend) {
            (Request::VerifyPassword(p), Backend::Verdict) => {
                if saslmech::ct_eq(p.password(), PASSWORD) {
                    Answer::Accept
                } else {
                    Answer::Reject
                }
            }
            (Request::ValidateToken(t), _) => {
                // A valid token is answered with its owner (a bare Accept is WrongAnswer).
                if saslmech::ct_eq(t.token(), TOKEN) {
                    Answer::TokenOwner(USER)
                } else {
                    Answer::Reject
                }
            }
            (Request::Secret(s), Backend::Keys) => match s.mechanism() {
                Mechanism::CramMd5 => Answer::CramMd5Keys(&self.cram),
                Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Answer::ScramKeys(&self.scram1),
                _ => Answer::ScramKeys(&self.scram256),
            },
            (Request::Authorize(_), _) => Answer::Accept,
            _ => Answer::Password(PASSWORD),
        }
    }
}

/// A full handshake, both sessions created, stepped to completion with raw tokens and
/// dropped. Returns the SCRAM client cache, if any (used by `Fixture::new`).
pub fn handshake(f: &Fixture, case: &Case) -> Option<ScramClientCache> {
    let m = case.mechanism;
    let creds = f.credentials(case);
    let mut c = ClientSession::with_config(m, &creds, f.client_config(m)).unwrap();
    let mut s = ServerSession::new(&f.server, m, f.transport(m)).unwrap();
    let ir = c.start().unwrap();
    let mut step = s.start(ir).unwrap();
    loop {
        step = match step {
            ServerStep::Challenge(ch) => {
                let r = c.step(ch).unwrap();
                s.step(r).unwrap()
            }
            ServerStep::Request(r) => {
                let a = f.answer(case, &r);
                s.answer(a).unwrap()
            }
            ServerStep::Success(ok) => {
                black_box(ok.identity.authcid());
                c.finish(ok.data).unwrap();
                break;
            }
            other => panic!("{}: {other:?}", case.name),
        }
    }
    c.scram_cache().cloned()
}

/// Heap allocations made by one handshake (after a warm-up run).
pub fn allocations(f: &Fixture, case: &Case) -> usize {
    handshake(f, case);
    let before = ALLOCS.load(Ordering::Relaxed);
    handshake(f, case);
    ALLOCS.load(Ordering::Relaxed) - before
}

/// What each side sent in one handshake run with fixed nonces, raw and base64: replaying one
/// side against the other's recorded messages verifies.
pub struct Recording {
    pub ir: Option<Vec<u8>>,
    /// The client's responses to the server's challenges, in order.
    pub responses: Vec<Vec<u8>>,
    /// The server's challenges, in order.
    pub challenges: Vec<Vec<u8>>,
    pub success_data: Option<Vec<u8>>,
    pub ir_b64: Option<Vec<u8>>,
    pub responses_b64: Vec<Vec<u8>>,
    pub challenges_b64: Vec<Vec<u8>>,
}

/// Run a handshake with the fixed-nonce configurations and record both sides.
pub fn record(f: &Fixture, case: &Case) -> Recording {
    let m = case.mechanism;
    let creds = f.credentials(case);
    let mut c = ClientSession::with_config(m, &creds, f.client_config_fixed(m)).unwrap();
    let mut s = ServerSession::new(&f.server_fixed, m, f.transport(m)).unwrap();
    let ir = c.start().unwrap().map(<[u8]>::to_vec);
    let mut rec = Recording {
        ir: ir.clone(),
        responses: Vec::new(),
        challenges: Vec::new(),
        success_data: None,
        ir_b64: None,
        responses_b64: Vec::new(),
        challenges_b64: Vec::new(),
    };
    let mut step = s.start(ir.as_deref()).unwrap();
    loop {
        step = match step {
            ServerStep::Challenge(ch) => {
                rec.challenges.push(ch.to_vec());
                let r = c.step(ch).unwrap();
                rec.responses.push(r.to_vec());
                s.step(r).unwrap()
            }
            ServerStep::Request(r) => {
                let a = f.answer(case, &r);
                s.answer(a).unwrap()
            }
            ServerStep::Success(ok) => {
                rec.success_data = ok.data.map(<[u8]>::to_vec);
                c.finish(ok.data).unwrap();
                break;
            }
            other => panic!("{}: {other:?}", case.name),
        }
    }
    let enc = |v: &Vec<u8>| b64::encode(v).into_bytes();
    rec.ir_b64 = rec.ir.as_ref().map(enc);
    rec.responses_b64 = rec.responses.iter().map(enc).collect();
    rec.challenges_b64 = rec.challenges.iter().map(enc).collect();
    rec
}

/// The server side alone, fed the recorded client messages (raw or base64). Returns the
/// identity's length (so the work is not optimised away).
pub fn replay_server(f: &Fixture, case: &Case, rec: &Recording, base64: bool) -> usize {
    let m = case.mechanism;
    let mut s = ServerSession::new(&f.server_fixed, m, f.transport(m)).unwrap();
    let mut responses = if base64 {
        rec.responses_b64.iter()
    } else {
        rec.responses.iter()
    };
    let mut step = if base64 {
        s.start_b64(rec.ir_b64.as_deref()).unwrap()
    } else {
        s.start(rec.ir.as_deref()).unwrap()
    };
    loop {
        step = match step {
            ServerStep::Challenge(_) => {
                let r = responses.next().unwrap();
                if base64 {
                    s.step_b64(r).unwrap()
                } else {
                    s.step(r).unwrap()
                }
            }
            ServerStep::Request(r) => {
                let a = f.answer(case, &r);
                if base64 {
                    s.answer_b64(a).unwrap()
                } else {
                    s.answer(a).unwrap()
                }
            }
            ServerStep::Success(ok) => break ok.identity.authcid().len(),
            other => panic!("{}: {other:?}", case.name),
        }
    }
}

/// The client side alone, fed the recorded server challenges (raw or base64).
pub fn replay_client(f: &Fixture, case: &Case, rec: &Recording, base64: bool) {
    let m = case.mechanism;
    let creds = f.credentials(case);
    let mut c = ClientSession::with_config(m, &creds, f.client_config_fixed(m)).unwrap();
    if base64 {
        black_box(c.start_b64().unwrap());
        for ch in &rec.challenges_b64 {
            black_box(c.step_b64(ch).unwrap());
        }
    } else {
        black_box(c.start().unwrap());
        for ch in &rec.challenges {
            black_box(c.step(ch).unwrap());
        }
    }
    c.finish(rec.success_data.as_deref()).unwrap();
}

/// Heap allocations made by `run` (after a warm-up call).
pub fn count_allocations(mut run: impl FnMut()) -> usize {
    run();
    let before = ALLOCS.load(Ordering::Relaxed);
    run();
    ALLOCS.load(Ordering::Relaxed) - before
}
