//! Issue #11, item 1, where a user meets it: a users file whose stored secret is empty once
//! prepared (a password of only U+00AD, which SASLprep maps to nothing) or is the hash or the
//! SCRAM keys of the empty password must not let a client in with the empty password.
//! `saslmech server` refuses such a file, naming the line, before it speaks; the tests play
//! the attacker anyway, so that a server which does start shows what it would accept.

mod support;

use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use saslmech::b64;
use saslmech::{CramMd5Keys, ScramHash, ScramKeys};
use sha2::{Digest, Sha256};
use support::{Proc, TIMEOUT, TempDir, saslmech_cmd};

/// The client nonce of the hand-made SCRAM client-first message.
const CLIENT_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";

/// `HMAC-SHA-256(key, data)`.
fn hmac256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().into()
}

/// The attacker's side of SCRAM-SHA-256 with the empty password (RFC 5802 §3), written by
/// hand because the crate's own client refuses an empty password. Returns after sending the
/// client-final message, or when the server stops talking.
fn scram_sha256_with_empty_password(p: &Proc, deadline: Instant) {
    // A client-first mechanism: the server's first line is an empty challenge.
    if p.next_line(deadline).is_none() {
        return;
    }
    let client_first_bare = format!("n=mallory,r={CLIENT_NONCE}");
    assert!(p.send_line(&b64::encode(format!("n,,{client_first_bare}").as_bytes())));
    let Some(server_first) = p.next_line(deadline) else {
        return;
    };
    let server_first = b64::decode(server_first.as_bytes()).unwrap();
    let server_first = std::str::from_utf8(server_first.as_slice())
        .unwrap()
        .to_owned();
    let field = |name: &str| {
        server_first
            .split(',')
            .find_map(|f| f.strip_prefix(name))
            .unwrap()
            .to_owned()
    };
    let (nonce, salt, iterations) = (field("r="), field("s="), field("i="));
    let salt = b64::decode(salt.as_bytes()).unwrap();
    let iterations: u32 = iterations.parse().unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(b"", salt.as_slice(), iterations, &mut salted);
    let client_key = hmac256(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac256(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let client_final = format!("{without_proof},p={}", b64::encode(&proof));
    assert!(p.send_line(&b64::encode(client_final.as_bytes())));
}

/// The attacker's side of CRAM-MD5 with the empty password.
fn cram_md5_with_empty_password(p: &Proc, deadline: Instant) {
    let Some(challenge) = p.next_line(deadline) else {
        return;
    };
    let challenge = b64::decode(challenge.as_bytes()).unwrap();
    let mac = CramMd5Keys::from_password(b"").mac(challenge.as_slice());
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert!(p.send_line(&b64::encode(format!("mallory {hex}").as_bytes())));
}

/// PLAIN with a password of U+00AD alone (SASLprep: the empty string).
fn plain_with_soft_hyphen(p: &Proc, deadline: Instant) {
    if p.next_line(deadline).is_none() {
        return;
    }
    assert!(p.send_line(&b64::encode("\0mallory\0\u{AD}".as_bytes())));
}

type Attack = fn(&Proc, Instant);

#[test]
fn a_users_file_with_an_empty_stored_secret_is_refused_naming_the_line() {
    let dir = TempDir::new("cli-empty-secret");
    let empty_cram = CramMd5Keys::from_password(b"").to_dovecot();
    let empty_scram = ScramKeys::derive(ScramHash::Sha256, b"", b"some salt", 4096)
        .unwrap()
        .to_rfc5803();
    // (mallory's line, mechanism, the attacker, what the refusal says)
    let cases: [(&str, &str, Attack, &str); 6] = [
        (
            "mallory:\u{AD}",
            "SCRAM-SHA-256",
            scram_sha256_with_empty_password,
            "empty password after SASLprep",
        ),
        (
            "mallory:{PLAIN}\u{AD}\u{AD}",
            "SCRAM-SHA-256",
            scram_sha256_with_empty_password,
            "empty password after SASLprep",
        ),
        (
            "mallory:\u{AD}",
            "PLAIN",
            plain_with_soft_hyphen,
            "empty password after SASLprep",
        ),
        (
            "mallory:\u{AD}",
            "CRAM-MD5",
            cram_md5_with_empty_password,
            "empty password after SASLprep",
        ),
        (
            &format!("mallory:{}", &*empty_cram),
            "CRAM-MD5",
            cram_md5_with_empty_password,
            "{CRAM-MD5} hash of the empty password",
        ),
        (
            &format!("mallory:{empty_scram}"),
            "SCRAM-SHA-256",
            scram_sha256_with_empty_password,
            "SCRAM keys of the empty password",
        ),
    ];
    // Every case is run; the failures are reported together.
    let mut failures = Vec::new();
    for (i, (line, mechanism, attack, why)) in cases.iter().enumerate() {
        // mallory's entry on line 3, after a good account and a comment.
        let users = dir.file(
            &format!("users{i}"),
            format!("alice:secret\n# mallory\n{line}\n").as_bytes(),
        );
        let users = users.to_str().unwrap();
        let mut p = Proc::spawn(
            saslmech_cmd(&["server", "--mechanism", mechanism, "--users", users]),
            "saslmech",
        );
        let deadline = Instant::now() + TIMEOUT;
        attack(&p, deadline);
        p.close_stdin();
        // Whatever else the server wrote.
        while p.next_line(deadline).is_some() {}
        let status = p.wait(deadline);
        let stderr = p.stderr();
        let what = format!("{mechanism} with {line:?}: {status:?}\n{stderr}");
        let refused = status.code() == Some(2)
            && !stderr.contains("authenticated")
            && stderr.contains(&format!("{users}:3: mallory: {why}"));
        if !refused {
            failures.push(what);
        }
    }
    assert!(failures.is_empty(), "not refused:\n{}", failures.join("\n"));
}
