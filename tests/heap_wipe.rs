//! After full PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 handshakes (raw and base64, both sides) and
//! the drop of every session, no heap block freed during the run still holds the password —
//! in raw form or base64-encoded.
//!
//! A global allocator scans each block as it is freed. A control run proves the scan can
//! fail: an ordinary `Vec` holding the sentinel is found.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Users, Verdict, run_pair};
use saslmech::{ClientSession, Credentials, Mechanism, ServerConfig, Transport};

const SENTINEL: &[u8] = b"Sentinel-Pa55word-7f3a9c2e1b-do-not-leak-0123456789";

/// Patterns to look for: the sentinel itself, and the alignment-independent middle of its
/// base64 encoding at each of the three offsets it could start at.
static PATTERNS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);

fn patterns() -> Vec<Vec<u8>> {
    let mut p = vec![SENTINEL.to_vec()];
    for prefix in 0..3 {
        let mut msg = vec![b'x'; prefix];
        msg.extend_from_slice(SENTINEL);
        let enc = saslmech::b64::encode(&msg);
        p.push(enc.as_bytes()[8..enc.len() - 8].to_vec());
    }
    p
}

struct Scanning;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

// SAFETY: every method forwards to `System` with the caller's pointer and layout unchanged;
// `dealloc` only reads the block (which is still allocated and `layout.size()` long) before
// freeing it. `realloc` keeps GlobalAlloc's default (alloc, copy, dealloc), so blocks left
// behind by growth are scanned too.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let (true, Some(pats)) = (ARMED.load(Ordering::SeqCst), PATTERNS.get()) {
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if pats.iter().any(|p| contains(block, p)) {
                FOUND.fetch_add(1, Ordering::SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Scanning = Scanning;

#[test]
fn no_freed_block_holds_the_password() {
    PATTERNS.set(patterns()).unwrap();
    let config = Arc::new(ServerConfig::new());
    let users_tbl = [("user@example.com", SENTINEL, SENTINEL)];

    // Control: an ordinary Vec is caught, so the scan is live.
    ARMED.store(true, Ordering::SeqCst);
    drop(std::hint::black_box(SENTINEL.to_vec()));
    ARMED.store(false, Ordering::SeqCst);
    assert_eq!(
        FOUND.swap(0, Ordering::SeqCst),
        1,
        "control: the scanner must see a plain Vec"
    );

    let mut runs = 0;
    ARMED.store(true, Ordering::SeqCst);
    for mech in [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
    ] {
        for b64 in [false, true] {
            for (cram_keys, engine_compares) in [(false, false), (true, true)] {
                let users = Users {
                    users: &users_tbl,
                    cram_keys,
                    engine_compares,
                    authz: &[],
                };
                let mut creds = Credentials::new().authcid("user@example.com");
                creds = if mech == Mechanism::XOAuth2 {
                    creds.token(b"bearer-token-is-not-the-sentinel")
                } else {
                    creds.password(SENTINEL)
                };
                let mut client = ClientSession::new(mech, &creds).unwrap();
                let v = run_pair(&config, &Transport::tls(), &mut client, &users, b64, true);
                if mech == Mechanism::XOAuth2 {
                    // The token differs from the table's: the error challenge path runs.
                    assert!(matches!(v, Verdict::Failure(_)), "{v:?}");
                } else {
                    assert!(matches!(v, Verdict::Success { .. }), "{mech}: {v:?}");
                }
                drop(client);
                runs += 1;
            }
        }
    }
    ARMED.store(false, Ordering::SeqCst);
    assert_eq!(runs, 16);
    assert_eq!(
        FOUND.load(Ordering::SeqCst),
        0,
        "a freed heap block still held the password"
    );
}
