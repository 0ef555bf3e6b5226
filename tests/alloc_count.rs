//! Heap allocations per full in-memory handshake (client and server, raw tokens): at most 4
//! for every mechanism and every way the server's backend may answer. Allocation counts are
//! deterministic, so this is a test, not a benchmark.
//!
//! Where the allocations go (the budget each case meets):
//!
//! * PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, ANONYMOUS: the client's message buffer and the
//!   server's copy of the decoded message (2).
//! * CRAM-MD5: the server's challenge, the client's response, and the server's copy of the
//!   response (3).
//! * EXTERNAL: the server's copy of the transport's identity (1; the client sends nothing).
//! * SCRAM (with stored keys, a password answer, or the client's cached keys): the client's
//!   one buffer (client-first then client-final), the server's one buffer (everything it keeps
//!   from client-first, and its nonce), and the server's output buffer (server-first, then
//!   server-final) (3). `-PLUS` adds the server's copy of the transport's channel-binding data,
//!   taken when the session is made, before the client says which type it binds to (4).
//!   A password that is not printable ASCII needs one more buffer for its SASLprep form.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use saslmech::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, Credentials, Mechanism,
    ScramClientCache, ScramHash, ScramKeys, ServerConfig, ServerSession, ServerStep, Transport,
};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const USER: &str = "user@example.com";
const PASSWORD: &[u8] = b"correct horse";
const CB: [u8; 32] = [7; 32];

/// How the server's backend answers its request.
#[derive(Clone, Copy, Debug)]
enum Backend {
    /// The stored password (the engine compares, or derives SCRAM keys from it).
    Password,
    /// Stored keys (SCRAM).
    Keys,
}

/// Everything made once, before the counted handshakes: configurations, transports, keys.
struct Setup {
    server: Arc<ServerConfig>,
    client: ClientConfig,
    client_plus: ClientConfig,
    tls: Transport,
    tls_plus: Transport,
    tls_external: Transport,
    keys1: ScramKeys,
    keys256: ScramKeys,
    keys512: ScramKeys,
}

impl Setup {
    fn new() -> Setup {
        let salt = b"0123456789abcdef";
        Setup {
            server: Arc::new(ServerConfig::new().mechanisms(saslmech::ALL_MECHANISMS)),
            client: ClientConfig::new(),
            client_plus: ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &CB),
            tls: Transport::tls(),
            tls_plus: Transport::tls().with_channel_binding(ChannelBindingType::TlsExporter, &CB),
            tls_external: Transport::tls().with_external_identity(USER),
            keys1: ScramKeys::derive(ScramHash::Sha1, PASSWORD, salt, 4096).unwrap(),
            keys256: ScramKeys::derive(ScramHash::Sha256, PASSWORD, salt, 4096).unwrap(),
            keys512: ScramKeys::derive(ScramHash::Sha512, PASSWORD, salt, 10_000).unwrap(),
        }
    }
}

/// One handshake; returns the client's SCRAM cache, if any.
fn handshake(
    setup: &Setup,
    mech: Mechanism,
    backend: Backend,
    cache: Option<&ScramClientCache>,
) -> Option<ScramClientCache> {
    let mut creds = Credentials::new()
        .authcid(USER)
        .token(b"tok")
        .trace("trace");
    creds = match cache {
        Some(c) => creds.scram_cache(c),
        None => creds.password(PASSWORD),
    };
    let (client_config, transport) = match mech {
        m if m.channel_binding() => (&setup.client_plus, &setup.tls_plus),
        Mechanism::External => (&setup.client, &setup.tls_external),
        _ => (&setup.client, &setup.tls),
    };
    let mut c = ClientSession::with_config(mech, &creds, client_config).unwrap();
    let mut s = ServerSession::new(&setup.server, mech, transport).unwrap();
    let ir = c.start().unwrap();
    let mut step = s.start(ir).unwrap();
    loop {
        step = match step {
            ServerStep::Challenge(ch) => {
                let r = c.step(ch).unwrap();
                s.step(r).unwrap()
            }
            ServerStep::Request(saslmech::Request::ValidateToken(_)) => {
                s.answer(Answer::TokenOwner(USER)).unwrap()
            }
            ServerStep::Request(saslmech::Request::Authorize(_)) => {
                s.answer(Answer::Accept).unwrap()
            }
            ServerStep::Request(_) => match (backend, ScramHash::of(mech)) {
                (Backend::Keys, Some(ScramHash::Sha1)) => {
                    s.answer(Answer::ScramKeys(&setup.keys1)).unwrap()
                }
                (Backend::Keys, Some(ScramHash::Sha512)) => {
                    s.answer(Answer::ScramKeys(&setup.keys512)).unwrap()
                }
                (Backend::Keys, Some(_)) => s.answer(Answer::ScramKeys(&setup.keys256)).unwrap(),
                _ => s.answer(Answer::Password(PASSWORD)).unwrap(),
            },
            ServerStep::Success(ok) => {
                c.finish(ok.data).unwrap();
                break;
            }
            other => panic!("{mech}: {other:?}"),
        }
    }
    assert!(c.is_finished());
    c.scram_cache().cloned()
}

/// Allocations of one handshake, after a warm-up run (lazy initialisation, the nonce pool).
fn count(
    setup: &Setup,
    mech: Mechanism,
    backend: Backend,
    cache: Option<&ScramClientCache>,
) -> usize {
    handshake(setup, mech, backend, cache);
    let before = ALLOCS.load(Ordering::SeqCst);
    handshake(setup, mech, backend, cache);
    ALLOCS.load(Ordering::SeqCst) - before
}

#[test]
fn at_most_four_allocations_per_handshake() {
    let setup = Setup::new();
    let mut cases: Vec<(Mechanism, Backend, bool, usize)> = Vec::new();
    for &mech in saslmech::ALL_MECHANISMS {
        let budget = match mech {
            Mechanism::External => 1,
            m if m.channel_binding() => 4,
            m if ScramHash::of(m).is_some() => 3,
            _ => 2,
        };
        cases.push((mech, Backend::Password, false, budget));
        if ScramHash::of(mech).is_some() {
            // Stored keys on the server; on the client, the password or the cached keys.
            cases.push((mech, Backend::Keys, false, budget));
            cases.push((mech, Backend::Keys, true, budget));
        }
    }
    for (mech, backend, cached, budget) in cases {
        let cache = cached.then(|| handshake(&setup, mech, backend, None).unwrap());
        let n = count(&setup, mech, backend, cache.as_ref());
        let what = format!("{mech} ({backend:?} backend, client cache: {cached})");
        println!("{what}: {n} allocations per handshake");
        assert!(n <= budget, "{what}: {n} allocations, budget {budget}");
        assert!(n <= 4, "{what}: {n} allocations");
        assert!(n >= 1, "{what}: the counter must see the session buffers");
    }
}
