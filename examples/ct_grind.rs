//! ctgrind: run the engine's secret comparisons under valgrind memcheck with the secret bytes
//! marked *undefined*. Memcheck then reports every branch and every memory index that depends
//! on them ("Conditional jump or move depends on uninitialised value(s)", "Use of
//! uninitialised value of size N"): exactly the secret-dependent control flow and memory
//! access that constant-time code must not have. Results are declassified (marked defined)
//! before anyone branches on them, as the verdict of a comparison is public.
//!
//! `tests/ct_valgrind.rs` builds this with optimizations (as shipped: no debug assertions or
//! overflow checks, which would add branches of their own) and runs every case under
//! valgrind; the `control_*` cases are deliberately not constant time and must be flagged,
//! which proves the method can fail.
//!
//! Manual run: `cargo build --profile bench --example ct_grind` then
//! `valgrind -q target/release/examples/ct_grind CASE` (`list` prints the cases).

use std::hint::black_box;
use std::sync::Arc;

use saslmech::{
    Answer, ClientConfig, ClientSession, CramMd5Keys, Credentials, Mechanism, NonceSource,
    ScramHash, ScramKeys, ServerConfig, ServerSession, ServerStep, Transport, ct_eq,
    ct_eq_password,
};

/// Valgrind client requests (valgrind.h / memcheck.h), without a C shim.
mod vg {
    const MC: usize = ((b'M' as usize) << 24) | ((b'C' as usize) << 16);
    const MAKE_MEM_UNDEFINED: usize = MC + 1;
    const MAKE_MEM_DEFINED: usize = MC + 2;
    const RUNNING_ON_VALGRIND: usize = 0x1001;

    #[cfg(target_arch = "x86_64")]
    fn request(default: usize, args: [usize; 6]) -> usize {
        let mut result = default;
        // SAFETY: valgrind's client-request sequence for amd64 (valgrind.h,
        // VALGRIND_DO_CLIENT_REQUEST_EXPR). Natively it does nothing: the four rotations
        // turn rdi by 128 bits in all, `xchg rbx, rbx` swaps a register with itself, and rdx
        // keeps `default`. Under valgrind the core reads the six words at rax (`args`, alive
        // for the whole call) and puts the answer in rdx. No stack use; flags are clobbered,
        // which asm! assumes by default.
        unsafe {
            core::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                inout("rdx") result,
                in("rax") args.as_ptr(),
                options(nostack),
            );
        }
        result
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn request(_: usize, _: [usize; 6]) -> usize {
        eprintln!("ct_grind: valgrind client requests are implemented for x86_64 only");
        std::process::exit(3);
    }

    pub fn running_on_valgrind() -> bool {
        request(0, [RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0]) != 0
    }

    /// Mark `v`'s bytes secret: memcheck reports any branch or index that depends on them.
    pub fn secret<T: ?Sized>(v: &T) {
        let len = core::mem::size_of_val(v);
        request(
            0,
            [
                MAKE_MEM_UNDEFINED,
                v as *const T as *const u8 as usize,
                len,
                0,
                0,
                0,
            ],
        );
    }

    /// Declassify `v` (a verdict that is allowed to be public).
    pub fn public<T: Copy>(v: T) -> T {
        let v = core::hint::black_box(v);
        request(
            0,
            [
                MAKE_MEM_DEFINED,
                &v as *const T as usize,
                core::mem::size_of::<T>(),
                0,
                0,
                0,
            ],
        );
        core::hint::black_box(v)
    }
}

const CASES: &[(&str, fn())] = &[
    ("ct_eq", case_ct_eq),
    ("ct_eq_password", case_ct_eq_password),
    ("cram_md5_digest", case_cram_md5_digest),
    ("cram_md5_keys_hex", case_cram_md5_keys_hex),
    ("plain_stored_password", case_plain_session),
    ("login_stored_password", case_login_session),
    ("cram_md5_stored_password", case_cram_md5_session),
    ("cram_md5_stored_keys", case_cram_md5_keys_session),
    ("scram_sha_1_stored_keys", case_scram_sha_1_session),
    ("scram_sha_256_stored_keys", case_scram_sha_256_session),
    ("scram_sha_512_stored_keys", case_scram_sha_512_session),
    ("scram_keys_rfc5803", case_scram_keys_rfc5803),
    ("cram_md5_keys_eq", case_cram_md5_keys_eq),
    ("plain_message_b64", case_plain_message_b64),
    ("control_slice_eq", control_slice_eq),
    ("control_early_exit", control_early_exit),
    ("control_rfc5803_split", control_rfc5803_split),
    ("control_rfc5803_table_b64", control_rfc5803_table_b64),
    (
        "control_cram_md5_keys_bytes_eq",
        control_cram_md5_keys_bytes_eq,
    ),
    (
        "control_plain_message_table_b64",
        control_plain_message_table_b64,
    ),
];

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    if name == "list" {
        for (n, _) in CASES {
            println!("{n}");
        }
        return;
    }
    let Some((_, case)) = CASES.iter().find(|(n, _)| *n == name) else {
        eprintln!("usage: ct_grind CASE|list");
        std::process::exit(2);
    };
    if !vg::running_on_valgrind() {
        eprintln!("ct_grind: not running under valgrind (the check would prove nothing)");
        std::process::exit(4);
    }
    case();
    println!("ct_grind: {name} done");
}

/// Two 32-byte secrets differing in one late byte.
fn pair() -> ([u8; 32], [u8; 32]) {
    let a: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
    let mut b = a;
    b[29] ^= 1;
    (a, b)
}

fn case_ct_eq() {
    let (a, b) = pair();
    vg::secret(&a);
    vg::secret(&b);
    let same = vg::public(ct_eq(black_box(&a), black_box(&a)));
    let differ = vg::public(ct_eq(black_box(&a), black_box(&b)));
    assert!(same && !differ);
}

fn case_ct_eq_password() {
    let stored = *b"tanstaaftanstaaf";
    let given = *b"tanstaaftanstaaF";
    vg::secret(&stored);
    vg::secret(&given);
    let same = vg::public(ct_eq_password(black_box(&stored), black_box(&stored)));
    let differ = vg::public(ct_eq_password(black_box(&given), black_box(&stored)));
    // Different lengths (the length of a password is its own business, not the verdict's).
    let longer = *b"tanstaaftanstaaftanstaaf";
    vg::secret(&longer);
    let other = vg::public(ct_eq_password(black_box(&longer), black_box(&stored)));
    // Beyond the 64-byte window both are hashed first.
    let (long_a, mut long_b) = ([0x61u8; 80], [0x61u8; 80]);
    long_b[79] = 0x62;
    vg::secret(&long_a);
    vg::secret(&long_b);
    let long_same = vg::public(ct_eq_password(black_box(&long_a), black_box(&long_a)));
    let long_differ = vg::public(ct_eq_password(black_box(&long_a), black_box(&long_b)));
    assert!(same && !differ && !other && long_same && !long_differ);
}

/// The CRAM-MD5 check as the server does it: HMAC-MD5 state from the stored password, the
/// MAC of the challenge, compared with the client's digest.
fn case_cram_md5_digest() {
    let password = *b"tanstaaftanstaaf";
    let long_password = [0x61u8; 80]; // hashed first, as HMAC does
    vg::secret(&password);
    vg::secret(&long_password);
    let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
    let client_digest: [u8; 16] = [
        0xb9, 0x13, 0xa6, 0x02, 0xc7, 0xed, 0xa7, 0xa4, 0x95, 0xb4, 0xe6, 0xe7, 0x33, 0x4d, 0x38,
        0x90,
    ];
    let keys = CramMd5Keys::from_password(black_box(&password));
    let expected = keys.mac(challenge);
    let ok = vg::public(ct_eq(&expected, &client_digest));
    let keys2 = CramMd5Keys::from_password(black_box(&long_password));
    let bad = vg::public(ct_eq(&keys2.mac(challenge), &client_digest));
    assert!(ok && !bad);
}

/// Stored CRAM-MD5 keys to and from Dovecot's `{CRAM-MD5}` hex and bytes.
fn case_cram_md5_keys_hex() {
    let password = *b"tanstaaftanstaaf";
    vg::secret(&password);
    let keys = CramMd5Keys::from_password(black_box(&password));
    let text = keys.to_dovecot();
    let bytes = keys.to_bytes();
    let again = CramMd5Keys::from_bytes(black_box(&bytes));
    let same = vg::public(ct_eq(&again.to_bytes()[..], &bytes[..]));
    assert!(same && vg::public(text.len()) == 74);
    // The scheme label is public; the 64 hex digits are the secret.
    vg::secret(&text.as_bytes()[10..]);
    let parsed = CramMd5Keys::from_dovecot(black_box(&text));
    let parsed_ok = vg::public(parsed.is_some());
    assert!(parsed_ok);
}

fn server(m: Mechanism) -> ServerSession {
    let config = Arc::new(
        ServerConfig::new()
            .hostname("postoffice.reston.mci.net")
            .nonce_source(saslmech::NonceSource::Fixed(b"1896.697170952".to_vec())),
    );
    ServerSession::new(&config, m, &Transport::tls()).unwrap()
}

fn verdict(step: Result<ServerStep<'_>, saslmech::Error>) -> bool {
    // The step's discriminant is the (public) verdict.
    let ok = matches!(step, Ok(ServerStep::Success(_)));
    vg::public(ok)
}

/// PLAIN: the client's message is public (the client sent it); the stored password is secret.
fn case_plain_session() {
    for stored in [*b"tanstaaftanstaaf", *b"tanstaaftanstaaF"] {
        let mut s = server(Mechanism::Plain);
        let _ = s.start(Some(b"\0tim\0tanstaaftanstaaf")).unwrap();
        vg::secret(&stored);
        let ok = verdict(s.answer(Answer::Password(black_box(&stored))));
        assert_eq!(ok, stored[15] == b'f');
    }
}

fn case_login_session() {
    for stored in [*b"tanstaaftanstaaf", *b"xanstaaftanstaaf"] {
        let mut s = server(Mechanism::Login);
        let _ = s.start(Some(b"tim")).unwrap();
        let _ = s.step(b"tanstaaftanstaaf").unwrap();
        vg::secret(&stored);
        let ok = verdict(s.answer(Answer::Password(black_box(&stored))));
        assert_eq!(ok, stored[0] == b't');
    }
}

fn case_cram_md5_session() {
    for stored in [*b"tanstaaftanstaaf", *b"tanstaaftanstaaF"] {
        let mut s = server(Mechanism::CramMd5);
        let _ = s.start(None).unwrap();
        let _ = s.step(b"tim b913a602c7eda7a495b4e6e7334d3890").unwrap();
        vg::secret(&stored);
        let ok = verdict(s.answer(Answer::Password(black_box(&stored))));
        assert_eq!(ok, stored[15] == b'f');
    }
}

fn case_cram_md5_keys_session() {
    for password in [*b"tanstaaftanstaaf", *b"tanstaaftanstaaF"] {
        let keys = CramMd5Keys::from_password(&password);
        let mut s = server(Mechanism::CramMd5);
        let _ = s.start(None).unwrap();
        let _ = s.step(b"tim b913a602c7eda7a495b4e6e7334d3890").unwrap();
        vg::secret(&keys);
        let ok = verdict(s.answer(Answer::CramMd5Keys(black_box(&keys))));
        assert_eq!(ok, password[15] == b'f');
    }
}

/// SCRAM: the client's messages are public; StoredKey and ServerKey are secret. The proof is
/// wrong (the keys are another password's), so the only output is the verdict: the proof check
/// (`H(proof XOR HMAC(StoredKey, AuthMessage))` against StoredKey) and the ServerSignature must
/// not branch on the keys. (On success the ServerSignature goes out base64-encoded: public by
/// the protocol, so that path is not part of the check.)
fn scram_session(m: Mechanism, hash: ScramHash) {
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(&[m])
            .nonce_source(NonceSource::Fixed(b"3rfcNHYJY1ZVvWVs7j".to_vec()))
            .scram_iterations(2),
    );
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let cc = ClientConfig::new()
        .scram_iterations(1, 4096)
        .nonce_source(NonceSource::Fixed(b"fyko+d2lbbFgONRv9qkxdawL".to_vec()));
    let mut c = ClientSession::with_config(m, &creds, &cc).unwrap();
    let mut s = ServerSession::new(&config, m, &Transport::tls()).unwrap();
    let first = c.start().unwrap().unwrap().to_vec();
    let _ = s.start(Some(&first)).unwrap();
    // Keys of another password, copied through secret-marked buffers.
    let other = ScramKeys::derive(hash, b"pencil2", b"NaCl", 2).unwrap();
    let mut stored = [0u8; 64];
    let mut server_key = [0u8; 64];
    let n = hash.output_len();
    stored[..n].copy_from_slice(other.stored_key());
    server_key[..n].copy_from_slice(other.server_key());
    vg::secret(&stored);
    vg::secret(&server_key);
    let keys = ScramKeys::new(hash, b"NaCl", 2, &stored[..n], &server_key[..n]).unwrap();
    let server_first = match s.answer(Answer::ScramKeys(black_box(&keys))).unwrap() {
        ServerStep::Challenge(c) => c.to_vec(),
        _ => panic!("no server-first"),
    };
    let last = c.step(&server_first).unwrap().to_vec();
    let ok = verdict(s.step(&last));
    assert!(!ok);
}

fn case_scram_sha_1_session() {
    scram_session(Mechanism::ScramSha1, ScramHash::Sha1);
}

fn case_scram_sha_256_session() {
    scram_session(Mechanism::ScramSha256, ScramHash::Sha256);
}

fn case_scram_sha_512_session() {
    scram_session(Mechanism::ScramSha512, ScramHash::Sha512);
}

/// Control: slice `==` (memcmp) stops at the first difference. Must be flagged.
fn control_slice_eq() {
    let (a, b) = pair();
    vg::secret(&a);
    vg::secret(&b);
    let r = vg::public(black_box(&a[..]) == black_box(&b[..]));
    assert!(!r);
}

/// Control: a hand-written comparison with an early exit. Must be flagged.
fn control_early_exit() {
    #[inline(never)]
    fn eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        for (x, y) in a.iter().zip(b) {
            if x != y {
                return false;
            }
        }
        true
    }
    let (a, b) = pair();
    vg::secret(&a);
    vg::secret(&b);
    let r = vg::public(eq(black_box(&a), black_box(&b)));
    assert!(!r);
}

/// An RFC 5803 entry whose StoredKey and ServerKey (the base64 after the last `$`, but not
/// the `:` between them, whose place is fixed by the hash) are secret.
fn rfc5803_secret_entry(hash: ScramHash) -> (ScramKeys, String) {
    let keys = ScramKeys::derive(hash, b"pencil", b"NaCl-NaCl-NaCl", 2).unwrap();
    let text = keys.to_rfc5803().to_string();
    let keys_at = text.rfind('$').unwrap() + 1;
    let colon = text.rfind(':').unwrap();
    vg::secret(&text.as_bytes()[keys_at..colon]);
    vg::secret(&text.as_bytes()[colon + 1..]);
    (keys, text)
}

/// Parsing stored SCRAM keys: the base64 of StoredKey and ServerKey is decoded without a
/// branch or table index on it; only whether the whole entry was well formed is public.
fn case_scram_keys_rfc5803() {
    for hash in [ScramHash::Sha1, ScramHash::Sha256] {
        let (keys, text) = rfc5803_secret_entry(hash);
        let parsed = ScramKeys::from_rfc5803(black_box(&text));
        let ok = vg::public(parsed.is_ok());
        assert!(ok);
        let parsed = parsed.unwrap();
        let same = vg::public(ct_eq(parsed.stored_key(), keys.stored_key()))
            & vg::public(ct_eq(parsed.server_key(), keys.server_key()));
        assert!(same);
    }
}

/// Equality of stored CRAM-MD5 keys.
fn case_cram_md5_keys_eq() {
    let a = CramMd5Keys::from_password(b"tanstaaftanstaaf");
    let b = CramMd5Keys::from_password(b"tanstaaftanstaaF");
    let a2 = a.clone();
    vg::secret(&a);
    vg::secret(&b);
    vg::secret(&a2);
    let same = vg::public(black_box(&a) == black_box(&a2));
    let differ = vg::public(black_box(&a) == black_box(&b));
    assert!(same && !differ);
}

/// PLAIN's message (it carries the password) as base64 from the client, decoded as the
/// server decodes every client response (`b64::decode_into`). Secret: every character but
/// the last two, which say whether there is padding, that is the decoded length (public: the
/// text's length on the wire gives it within two octets, and every later step uses it).
/// Only the text's validity may be branched on.
fn case_plain_message_b64() {
    for (text, want) in [
        (
            &b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"[..],
            &b"\0tim\0tanstaaftanstaaf"[..],
        ),
        (
            b"dGltAHRpbQB0YW5zdGFhZnRhbnN0YWFmMQ==",
            b"tim\0tim\0tanstaaftanstaaf1",
        ),
        (
            b"dGltAHRpbQB0YW5zdGFhZnRhbnN0YWFmMTI=",
            b"tim\0tim\0tanstaaftanstaaf12",
        ),
    ] {
        let text = text.to_vec();
        vg::secret(&text[..text.len() - 2]);
        let mut out = saslmech::SecretBuf::new();
        let ok = vg::public(saslmech::b64::decode_into(black_box(&text), &mut out).is_ok());
        assert!(ok);
        let len = vg::public(out.len());
        assert_eq!(len, want.len());
        let same = vg::public(ct_eq(out.as_slice(), want));
        assert!(same);
    }
}

/// Control: `split_once` (memchr) over secret text. Must be flagged.
fn control_rfc5803_split() {
    let (_, text) = rfc5803_secret_entry(ScramHash::Sha256);
    let keys = &text[text.rfind('$').unwrap() + 1..];
    let split = black_box(keys)
        .split_once(':')
        .map(|(a, b)| (a.len(), b.len()));
    let found = vg::public(split.is_some());
    assert!(found);
}

/// Control: the `base64` crate's table-driven decoder over a secret key. Must be flagged.
fn control_rfc5803_table_b64() {
    use base64::Engine as _;
    let (_, text) = rfc5803_secret_entry(ScramHash::Sha256);
    let colon = text.rfind(':').unwrap();
    let mut out = [0u8; 48];
    let r = base64::engine::general_purpose::STANDARD
        .decode_slice(black_box(&text.as_bytes()[colon + 1..]), &mut out);
    let ok = vg::public(r.is_ok());
    assert!(ok);
}

/// Control: CRAM-MD5 key state compared as bytes with `==`. Must be flagged.
fn control_cram_md5_keys_bytes_eq() {
    let a = CramMd5Keys::from_password(b"tanstaaftanstaaf").to_bytes();
    let b = CramMd5Keys::from_password(b"tanstaaftanstaaF").to_bytes();
    vg::secret(&a);
    vg::secret(&b);
    let r = vg::public(black_box(&a[..]) == black_box(&b[..]));
    assert!(!r);
}

/// Control: the PLAIN message decoded with the `base64` crate. Must be flagged.
fn control_plain_message_table_b64() {
    use base64::Engine as _;
    let text = *b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm";
    vg::secret(&text[..text.len() - 2]);
    let mut out = [0u8; 32];
    let r = base64::engine::general_purpose::STANDARD.decode_slice(black_box(&text), &mut out);
    let ok = vg::public(r.is_ok());
    assert!(ok);
}
