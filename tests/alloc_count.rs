//! Heap allocations per full in-memory handshake (client and server, raw tokens): at most 4
//! for every mechanism. Allocation counts are deterministic, so this is a test, not a
//! benchmark.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use saslmech::{
    Answer, ClientSession, Credentials, Mechanism, ServerConfig, ServerSession, ServerStep,
    Transport,
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

/// One handshake as an MTA would run it: the backend hands back the stored password.
fn handshake(config: &Arc<ServerConfig>, mech: Mechanism) {
    let creds = Credentials::new()
        .authcid("user@example.com")
        .password(b"correct horse")
        .token(b"tok");
    let mut c = ClientSession::new(mech, &creds).unwrap();
    let mut s = ServerSession::new(config, mech, &Transport::tls()).unwrap();
    let ir = c.start().unwrap();
    let mut step = s.start(ir).unwrap();
    loop {
        step = match step {
            ServerStep::Challenge(ch) => {
                let r = c.step(ch).unwrap();
                s.step(r).unwrap()
            }
            ServerStep::Request(saslmech::Request::ValidateToken(_)) => {
                s.answer(Answer::Accept).unwrap()
            }
            ServerStep::Request(_) => s.answer(Answer::Password(b"correct horse")).unwrap(),
            ServerStep::Success(_) => break,
            other => panic!("{other:?}"),
        }
    }
    c.finish(None).unwrap();
}

#[test]
fn at_most_four_allocations_per_handshake() {
    let config = Arc::new(ServerConfig::new());
    for mech in [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
    ] {
        handshake(&config, mech); // warm up anything lazily initialised
        let before = ALLOCS.load(Ordering::SeqCst);
        handshake(&config, mech);
        let n = ALLOCS.load(Ordering::SeqCst) - before;
        println!("{mech}: {n} allocations per handshake");
        assert!(n <= 4, "{mech}: {n} allocations");
        assert!(n >= 1, "{mech}: the counter must see the session buffers");
    }
}
