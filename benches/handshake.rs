//! Full in-memory client+server handshakes per mechanism, and heap allocations per handshake.
//!
//! `cargo bench --bench handshake`. Both sessions are created, stepped to completion with raw
//! tokens, and dropped inside the timed closure; the server's backend answers at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use saslmech::{
    Answer, ClientSession, CramMd5Keys, Credentials, Mechanism, Request, ServerConfig,
    ServerSession, ServerStep, Transport,
};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const USER: &str = "user@example.com";
const PASSWORD: &[u8] = b"correct horse battery";
const TOKEN: &[u8] = b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg";

/// How the backend answers secret requests.
#[derive(Clone, Copy)]
enum Backend<'a> {
    /// The application compares the password itself and answers Accept.
    Verdict,
    /// The application hands back the stored password (plaintext).
    Password,
    /// CRAM-MD5: the application hands back the precomputed HMAC state.
    Keys(&'a CramMd5Keys),
}

fn handshake(config: &Arc<ServerConfig>, mech: Mechanism, backend: Backend<'_>) {
    let creds = Credentials::new()
        .authcid(USER)
        .password(PASSWORD)
        .token(TOKEN);
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
            ServerStep::Request(r) => {
                let answer = match (r, backend) {
                    (Request::VerifyPassword(p), Backend::Verdict) => {
                        if saslmech::ct_eq(p.password(), PASSWORD) {
                            Answer::Accept
                        } else {
                            Answer::Reject
                        }
                    }
                    (Request::ValidateToken(t), _) => {
                        if saslmech::ct_eq(t.token(), TOKEN) {
                            Answer::Accept
                        } else {
                            Answer::Reject
                        }
                    }
                    (Request::Secret(_), Backend::Keys(k)) => Answer::CramMd5Keys(k),
                    _ => Answer::Password(PASSWORD),
                };
                s.answer(answer).unwrap()
            }
            ServerStep::Success(ok) => {
                black_box(ok.identity.authcid());
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    c.finish(None).unwrap();
}

fn cases(keys: &CramMd5Keys) -> Vec<(&'static str, Mechanism, Backend<'_>)> {
    vec![
        ("PLAIN", Mechanism::Plain, Backend::Verdict),
        (
            "PLAIN (engine compares)",
            Mechanism::Plain,
            Backend::Password,
        ),
        ("LOGIN", Mechanism::Login, Backend::Verdict),
        (
            "CRAM-MD5 (plaintext secret)",
            Mechanism::CramMd5,
            Backend::Password,
        ),
        (
            "CRAM-MD5 (stored keys)",
            Mechanism::CramMd5,
            Backend::Keys(keys),
        ),
        ("XOAUTH2", Mechanism::XOAuth2, Backend::Verdict),
    ]
}

fn bench(c: &mut Criterion) {
    let config = Arc::new(ServerConfig::new());
    let keys = CramMd5Keys::from_password(PASSWORD);
    let mut group = c.benchmark_group("handshake");
    for (name, mech, backend) in cases(&keys) {
        handshake(&config, mech, backend);
        let before = ALLOCS.load(Ordering::Relaxed);
        handshake(&config, mech, backend);
        let n = ALLOCS.load(Ordering::Relaxed) - before;
        eprintln!("allocations per handshake: {name}: {n}");
        group.bench_function(name, |b| {
            b.iter(|| handshake(&config, mech, black_box(backend)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
