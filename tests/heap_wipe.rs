//! After full PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and SCRAM handshakes (raw and base64, both
//! sides), `ScramKeys::derive` and the drop of every session, no heap block freed during the
//! run still holds the password — in raw form, base64-encoded, or (for non-ASCII passwords,
//! which SASLprep normalizes code point by code point) as a run of its code points in the
//! 32-bit form a normalizer keeps them in.
//!
//! A global allocator scans each block as it is freed. Control runs prove the scan can fail:
//! an ordinary `Vec` holding the sentinel is found, and so are `Vec<char>` and
//! `Vec<(u8, char)>` (the layouts of unicode-normalization's buffers) holding a fragment of a
//! non-ASCII password.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use saslmech::{
    ClientSession, Credentials, Mechanism, ScramHash, ScramKeys, ServerConfig, Transport,
};
use support::exchange::{Framing, Users, Verdict, run};

const SENTINEL: &[u8] = b"Sentinel-Pa55word-7f3a9c2e1b-do-not-leak-0123456789";

/// Non-ASCII passwords whose NFKC step needs more than four code points of working space: a
/// character that expands to six (U+334A SQUARE MIRIBAARU: ミ リ ハ ◌゙ ー ル) and a base
/// letter with five stacked combining marks that compose with nothing. Each is tried alone,
/// after the ASCII sentinel and before it.
const NFKC_SPILLERS: [&str; 2] = ["\u{334A}", "x\u{301}\u{302}\u{303}\u{304}\u{306}"];

/// The code points of each spiller after compatibility decomposition (and canonical
/// ordering; the five marks share combining class 230, so their order stays): what a
/// normalizer holds in its working buffer.
const NFKC_SPILLERS_DECOMPOSED: [&[char]; 2] = [
    &[
        '\u{30DF}', '\u{30EA}', '\u{30CF}', '\u{3099}', '\u{30FC}', '\u{30EB}',
    ],
    &['x', '\u{301}', '\u{302}', '\u{303}', '\u{304}', '\u{306}'],
];

/// A run of this many consecutive decomposed code points found in a freed block counts as a
/// leak (a buffer of four or fewer stays inline; a longer run can only come from a spill).
const RUN: usize = 4;

/// What the scanner looks for.
enum Pattern {
    /// These bytes, anywhere.
    Bytes(Vec<u8>),
    /// These code points as little-endian 32-bit words `stride` bytes apart, anywhere
    /// (`Vec<char>`: stride 4; `Vec<(u8, char)>`: stride 8, the other four bytes anything).
    Chars { chars: Vec<u32>, stride: usize },
}

static PATTERNS: OnceLock<Vec<Pattern>> = OnceLock::new();
static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// The tests share the scanner: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn patterns() -> Vec<Pattern> {
    // The sentinel itself, and the alignment-independent middle of its base64 encoding at
    // each of the three offsets it could start at.
    let mut p = vec![Pattern::Bytes(SENTINEL.to_vec())];
    for prefix in 0..3 {
        let mut msg = vec![b'x'; prefix];
        msg.extend_from_slice(SENTINEL);
        let enc = saslmech::b64::encode(&msg);
        p.push(Pattern::Bytes(enc.as_bytes()[8..enc.len() - 8].to_vec()));
    }
    // Every run of RUN consecutive decomposed code points of each spiller, at both strides.
    for decomposed in NFKC_SPILLERS_DECOMPOSED {
        for run in decomposed.windows(RUN) {
            for stride in [4, 8] {
                p.push(Pattern::Chars {
                    chars: run.iter().map(|&c| u32::from(c)).collect(),
                    stride,
                });
            }
        }
    }
    p
}

struct Scanning;

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn contains_chars(hay: &[u8], chars: &[u32], stride: usize) -> bool {
    // Heap blocks are at least 4-aligned and so are `char`s in them: look at whole words.
    let step = stride / 4;
    let n = hay.len() / 4;
    let word = |i: usize| {
        let b = &hay[i * 4..i * 4 + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    };
    let span = step * (chars.len() - 1) + 1;
    let first = chars[0];
    n >= span
        && (0..=n - span).any(|at| {
            word(at) == first
                && chars
                    .iter()
                    .enumerate()
                    .all(|(k, &c)| word(at + k * step) == c)
        })
}

fn matches(block: &[u8], p: &Pattern) -> bool {
    match p {
        Pattern::Bytes(b) => contains(block, b),
        Pattern::Chars { chars, stride } => contains_chars(block, chars, *stride),
    }
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
            if pats.iter().any(|p| matches(block, p)) {
                FOUND.fetch_add(1, Ordering::SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Scanning = Scanning;

/// Take the scanner: patterns ready, counter at zero.
fn scanner() -> std::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    PATTERNS.get_or_init(patterns);
    ARMED.store(false, Ordering::SeqCst);
    FOUND.store(0, Ordering::SeqCst);
    guard
}

/// Run `f` with the scanner armed; return how many freed blocks held a pattern.
fn scan(f: impl FnOnce()) -> usize {
    FOUND.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    FOUND.swap(0, Ordering::SeqCst)
}

#[test]
fn no_freed_block_holds_the_password() {
    let _serial = scanner();
    let config = Arc::new(ServerConfig::new());
    let users_tbl = [("user@example.com", SENTINEL, SENTINEL)];

    // Control: an ordinary Vec is caught, so the scan is live.
    let control = scan(|| drop(std::hint::black_box(SENTINEL.to_vec())));
    assert_eq!(control, 1, "control: the scanner must see a plain Vec");

    let mut runs = 0;
    let found = scan(|| {
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
                    let framing = Framing::new(b64, true);
                    let v = run(&mut client, &config, &Transport::tls(), framing, |r| {
                        users.answer(&r)
                    })
                    .verdict();
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
    });
    assert_eq!(runs, 16);
    assert_eq!(found, 0, "a freed heap block still held the password");
}

/// SCRAM with non-ASCII passwords: the client (which prepares its password with SASLprep),
/// the server answered with `Answer::Password` (which prepares the stored one) and
/// `ScramKeys::derive`, each with the passwords whose normalization needs a buffer longer
/// than four code points.
#[test]
fn scram_non_ascii_passwords_leave_no_fragment() {
    let _serial = scanner();

    // Controls: a fragment of each spiller is seen in the layouts a normalizer uses.
    for decomposed in NFKC_SPILLERS_DECOMPOSED {
        let seen = scan(|| {
            drop(std::hint::black_box(decomposed.to_vec()));
            let pairs: Vec<(u8, char)> = decomposed.iter().map(|&c| (0, c)).collect();
            drop(std::hint::black_box(pairs));
        });
        assert_eq!(
            seen, 2,
            "control: the scanner must see Vec<char> and Vec<(u8, char)>"
        );
    }

    let config = Arc::new(ServerConfig::new().mechanisms(saslmech::ALL_MECHANISMS));
    let sentinel = std::str::from_utf8(SENTINEL).unwrap();
    // (password, how the failure message shows it)
    let mut passwords = vec![(sentinel.to_owned(), "SENTINEL".to_owned())];
    for s in NFKC_SPILLERS {
        let u = s.escape_unicode();
        passwords.push((s.to_owned(), format!("{u}")));
        passwords.push((format!("{sentinel}{s}"), format!("SENTINEL {u}")));
        passwords.push((format!("{s}{sentinel}"), format!("{u} SENTINEL")));
    }
    let mut runs = 0;
    let mut leaks = Vec::new();
    for (password, shown) in &passwords {
        let pw = password.as_bytes();
        for mech in [
            Mechanism::ScramSha1,
            Mechanism::ScramSha256,
            Mechanism::ScramSha512,
        ] {
            let found = scan(|| {
                let users_tbl = [("user@example.com", pw, &b""[..])];
                let users = Users {
                    users: &users_tbl,
                    cram_keys: false,
                    engine_compares: true,
                    authz: &[],
                };
                let creds = Credentials::new().authcid("user@example.com").password(pw);
                let mut client = ClientSession::new(mech, &creds).unwrap();
                // Raw messages only: `run` hands base64 success data to the client's raw
                // `finish`, which SCRAM's server-final does not survive.
                let v = run(&mut client, &config, &Transport::tls(), Framing::RAW, |r| {
                    users.answer(&r)
                })
                .verdict();
                assert!(matches!(v, Verdict::Success { .. }), "{mech}: {v:?}");
                drop(client);
                runs += 1;
            });
            if found != 0 {
                leaks.push(format!("{mech} client+server, {shown}: {found} blocks"));
            }
        }
        for hash in [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512] {
            let found = scan(|| {
                let keys = ScramKeys::derive(hash, pw, b"salt", 16).unwrap();
                drop(std::hint::black_box(keys));
                runs += 1;
            });
            if found != 0 {
                leaks.push(format!(
                    "ScramKeys::derive {hash:?}, {shown}: {found} blocks"
                ));
            }
        }
    }
    assert_eq!(runs, passwords.len() * 6);
    assert!(
        leaks.is_empty(),
        "freed heap blocks still held a fragment of the password:\n{}",
        leaks.join("\n")
    );
}
