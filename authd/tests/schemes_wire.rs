//! Every passwd-file scheme through the daemon, with secrets written by Dovecot 2.3.19's
//! `doveadm pw -s SCHEME -p pencil` (embedded fixtures; no Dovecot needed), and mechanisms
//! that the stored scheme cannot serve failing exactly like unknown users.

mod util;

use std::time::Instant;

use saslmech::{ClientSession, Credentials, Mechanism};
use util::{Client, Daemon, b64, unb64};

const FIXTURES: &[(&str, &str)] = &[
    ("plain", "{PLAIN}pencil"),
    (
        "cram",
        "{CRAM-MD5}7f47ace0e2af8f6cdeb72c03243a8c87834e19104164d6a42de72d243adb4080",
    ),
    (
        "scram1",
        "{SCRAM-SHA-1}4096,Gwv+Yh5HflUy6xbH9dOGSA==,nq9h7IWIBVG9AEMXtcacUfkkbo8=,0zNfnZ0tCm0eFFCcLYaxn1C9SmY=",
    ),
    (
        "scram256",
        "{SCRAM-SHA-256}4096,G37+0T+7p8tVb3KbF3aR/g==,wS7/vbRYUTYB7wkZKKF3/szXlHmgd8FbAKDmmVGPINo=,QEOAx1NknjnBTR6tuhw5h8VUBZGM7127SncDVI+V9hA=",
    ),
    (
        "sha512",
        "{SHA512-CRYPT}$6$zc8/P.uafgJYSIvr$4A7E0l3UvzXJBsbllaXdcpz/jW2V6pskIj77yCRy9zqnkX6MIeC3yZf1VlbGYOQdXUB6NrHnhN3bNCgG.FAVx1",
    ),
    (
        "sha256",
        "{SHA256-CRYPT}$5$IBWTclSubFl3wsjv$LeJC/7a5YeYy4nXwbPJ8BEX9kw/UdcR2KkPbLfRguF9",
    ),
    (
        "blf",
        "{BLF-CRYPT}$2y$05$7kORiSyNJcN1Ou.QuC33N.OGBUs7CKCZYuRD7tQ2AmK9ZpoT6U4jG",
    ),
    ("ssha", "{SSHA}pF7Xxi5cm+14N/JpWzXtkGtaFf+5eP5u"),
    (
        "ssha256",
        "{SSHA256}NkVYparslJ6GAL0aC2h7yq57svUJBxfHvvG2g5dMvClZuBJi",
    ),
    (
        "ssha512",
        "{SSHA512}47q30UzSufz41kX06ZQ3GqclnOZdX5PZilwmht4bjEjqPo9nyYOIMHkA4QkvRLd7Xc8rU+BZfosk8rLJWVvdz/EeM28=",
    ),
    // No prefix: the default scheme CRYPT picks the algorithm from `$6$`.
    (
        "bare",
        "$6$zc8/P.uafgJYSIvr$4A7E0l3UvzXJBsbllaXdcpz/jW2V6pskIj77yCRy9zqnkX6MIeC3yZf1VlbGYOQdXUB6NrHnhN3bNCgG.FAVx1",
    ),
];

/// Argon2 entries with small costs (Dovecot's own, m=64 MiB, take seconds each in a debug
/// build; tests/doveadm_fixtures.rs verifies those directly), made with the argon2 crate.
fn argon2_entry(alg: &str, m_kib: u32) -> String {
    use argon2::CustomizedPasswordHasher;
    let params = argon2::Params::new(m_kib, 1, 1, None).unwrap();
    let h = argon2::Argon2::default()
        .hash_password_customized(b"pencil", b"fixedsalt1234567", Some(alg), None, params)
        .unwrap();
    format!("{{{}}}{h}", alg.to_ascii_uppercase())
}

const AUTH: &str =
    "mechanisms = [\"PLAIN\", \"LOGIN\", \"CRAM-MD5\", \"SCRAM-SHA-1\", \"SCRAM-SHA-256\"]\n";

fn users() -> String {
    let mut u: String = FIXTURES
        .iter()
        .map(|(u, s)| format!("{u}:{s}::::::\n"))
        .collect();
    u.push_str(&format!("argon2i:{}\n", argon2_entry("argon2i", 256)));
    u.push_str(&format!("argon2id:{}\n", argon2_entry("argon2id", 256)));
    // Slow on purpose, for the test that slow hashes do not hold up other logins.
    u.push_str(&format!("slow:{}\n", argon2_entry("argon2id", 16 * 1024)));
    u
}

#[test]
fn plain_against_every_scheme() {
    let d = Daemon::start(AUTH, &users(), "");
    let mut c = d.client();
    // All requests at once on one connection: the slow ones go to the blocking pool and the
    // replies come back as each finishes.
    let mut want = std::collections::HashMap::new();
    let mut id = 0;
    let names = FIXTURES
        .iter()
        .map(|(u, _)| *u)
        .chain(["argon2i", "argon2id"]);
    for user in names {
        for (pass, ok) in [("pencil", true), ("crayon", false)] {
            id += 1;
            let ir = b64(format!("\0{user}\0{pass}").as_bytes());
            c.send(&format!(
                "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={ir}"
            ));
            want.insert(
                id,
                if ok {
                    format!("OK\t{id}\tuser={user}")
                } else {
                    format!("FAIL\t{id}\tuser={user}")
                },
            );
        }
    }
    for _ in 0..want.len() {
        let r = c.recv();
        let id: u32 = r.split('\t').nth(1).unwrap().parse().unwrap();
        assert_eq!(Some(&r), want.get(&id), "{r}");
    }
}

fn cram(c: &mut Client, id: u32, user: &str, pass: &[u8]) -> String {
    c.send(&format!("AUTH\t{id}\tCRAM-MD5\tservice=smtp\tsecured"));
    let r = c.recv();
    let chal = unb64(r.strip_prefix(&format!("CONT\t{id}\t")).unwrap());
    let mut client = ClientSession::new(
        Mechanism::CramMd5,
        &Credentials::new().authcid(user).password(pass),
    )
    .unwrap();
    let _ = client.start().unwrap();
    let resp = client.step(&chal).unwrap().to_vec();
    c.send(&format!("CONT\t{id}\t{}", b64(&resp)));
    c.recv()
}

/// Returns the final reply and the server-first message.
fn scram(c: &mut Client, id: u32, mech: Mechanism, user: &str, pass: &[u8]) -> (String, Vec<u8>) {
    let mut client =
        ClientSession::new(mech, &Credentials::new().authcid(user).password(pass)).unwrap();
    let first = client.start().unwrap().unwrap().to_vec();
    c.send(&format!(
        "AUTH\t{id}\t{}\tservice=smtp\tsecured\tresp={}",
        mech.name(),
        b64(&first)
    ));
    let r = c.recv();
    let server_first = unb64(r.strip_prefix(&format!("CONT\t{id}\t")).unwrap());
    let fin = client.step(&server_first).unwrap().to_vec();
    c.send(&format!("CONT\t{id}\t{}", b64(&fin)));
    let r = c.recv();
    if let Some(data) = r.strip_prefix(&format!("CONT\t{id}\t")) {
        client.finish(Some(&unb64(data))).unwrap();
        c.send(&format!("CONT\t{id}\t"));
        return (c.recv(), server_first);
    }
    (r, server_first)
}

#[test]
fn cram_md5_only_where_the_scheme_serves_it() {
    let d = Daemon::start(AUTH, &users(), "");
    let mut c = d.client();
    assert_eq!(cram(&mut c, 1, "plain", b"pencil"), "OK\t1\tuser=plain");
    assert_eq!(cram(&mut c, 2, "cram", b"pencil"), "OK\t2\tuser=cram");
    assert_eq!(cram(&mut c, 3, "cram", b"crayon"), "FAIL\t3\tuser=cram");
    // A hash cannot serve CRAM-MD5: the same reply as an unknown user (Dovecot fails the
    // login the same way), whatever the password.
    for (i, user) in ["blf", "sha512", "scram256", "ssha"].iter().enumerate() {
        let id = 10 + i as u32;
        assert_eq!(
            cram(&mut c, id, user, b"pencil"),
            format!("FAIL\t{id}\tuser={user}")
        );
    }
    assert_eq!(
        cram(&mut c, 20, "nobody", b"pencil"),
        "FAIL\t20\tuser=nobody"
    );
    assert!(d.wait_log(|l| l.contains("user=\"blf\"") && l.contains("stored scheme cannot serve")));
    assert!(d.wait_log(|l| l.contains("user=\"nobody\"") && l.contains("unknown user")));
}

#[test]
fn scram_from_stored_keys_and_from_plaintext() {
    let d = Daemon::start(AUTH, &users(), "");
    let mut c = d.client();
    assert_eq!(
        scram(&mut c, 1, Mechanism::ScramSha256, "scram256", b"pencil").0,
        "OK\t1\tuser=scram256"
    );
    assert_eq!(
        scram(&mut c, 2, Mechanism::ScramSha1, "scram1", b"pencil").0,
        "OK\t2\tuser=scram1"
    );
    assert_eq!(
        scram(&mut c, 3, Mechanism::ScramSha256, "scram256", b"crayon").0,
        "FAIL\t3\tuser=scram256"
    );
    // Derived from a stored plaintext (on the blocking pool), with a stable salt.
    let (r, first_a) = scram(&mut c, 4, Mechanism::ScramSha256, "plain", b"pencil");
    assert_eq!(r, "OK\t4\tuser=plain");
    let (_, first_b) = scram(&mut c, 5, Mechanism::ScramSha256, "plain", b"pencil");
    let salt = |m: &[u8]| {
        String::from_utf8_lossy(m)
            .split(',')
            .find(|p| p.starts_with("s="))
            .unwrap()
            .to_owned()
    };
    assert_eq!(salt(&first_a), salt(&first_b));
    // SCRAM-SHA-1 keys cannot serve SCRAM-SHA-256, nor can a bcrypt hash: like unknown users,
    // each with a stable fake salt.
    let (r, fa) = scram(&mut c, 6, Mechanism::ScramSha256, "blf", b"pencil");
    assert_eq!(r, "FAIL\t6\tuser=blf");
    let (_, fb) = scram(&mut c, 7, Mechanism::ScramSha256, "blf", b"pencil");
    assert_eq!(salt(&fa), salt(&fb));
    assert_eq!(
        scram(&mut c, 8, Mechanism::ScramSha256, "scram1", b"pencil").0,
        "FAIL\t8\tuser=scram1"
    );
    assert_eq!(
        scram(&mut c, 9, Mechanism::ScramSha256, "nobody", b"pencil").0,
        "FAIL\t9\tuser=nobody"
    );
}

/// A slow hash never delays other logins, on the same connection or another.
#[test]
fn slow_hash_does_not_block_plain_logins() {
    let d = Daemon::start(AUTH, &users(), "");
    let mut c = d.client();
    let mut other = d.client();
    // Several argon2id checks in flight...
    let t = Instant::now();
    for id in 1..=3 {
        let ir = b64(b"\0slow\0pencil");
        c.send(&format!(
            "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={ir}"
        ));
    }
    // ...while PLAIN logins on both connections are answered first.
    assert_eq!(
        c.plain(10, "plain", "pencil", "127.0.0.1"),
        "OK\t10\tuser=plain"
    );
    assert_eq!(
        other.plain(1, "plain", "pencil", "127.0.0.1"),
        "OK\t1\tuser=plain"
    );
    let fast = t.elapsed();
    let mut slow = Vec::new();
    for _ in 0..3 {
        slow.push(c.recv());
    }
    let all = t.elapsed();
    slow.sort();
    assert_eq!(
        slow,
        ["OK\t1\tuser=slow", "OK\t2\tuser=slow", "OK\t3\tuser=slow"]
    );
    // (c.plain() read the first reply on the connection: the PLAIN OK overtook the hashes.)
    assert!(all > fast);
    // The log shows how long the hashes took against the PLAIN logins.
    assert!(d.wait_log(|l| l.contains("user=\"slow\"") && l.contains("result=\"ok\"")));
    eprintln!("PLAIN answered after {fast:?}, the argon2 logins after {all:?}");
}

/// An unknown user's password check takes as long as a real user's: the daemon checks it
/// against a stored slow hash too, so the reply's timing does not tell which names exist.
#[test]
fn unknown_users_cost_a_slow_check_when_the_file_has_slow_hashes() {
    let users = format!(
        "slow:{}\nplain:{{PLAIN}}pencil\n",
        argon2_entry("argon2id", 8 * 1024)
    );
    let d = Daemon::start(AUTH, &users, "");
    let mut c = d.client();
    let time = |c: &mut Client, id: u32, user: &str| {
        let t = Instant::now();
        assert_eq!(
            c.plain(id, user, "wrong", "127.0.0.1"),
            format!("FAIL\t{id}\tuser={user}")
        );
        t.elapsed()
    };
    let real = (1..=3).map(|i| time(&mut c, i, "slow")).min().unwrap();
    let unknown = (4..=6).map(|i| time(&mut c, i, "nobody")).min().unwrap();
    // Generous bounds for a loaded machine: the same order of magnitude.
    assert!(unknown * 4 > real, "unknown {unknown:?} vs real {real:?}");
    assert!(d.wait_log(|l| l.contains("user=\"nobody\"") && l.contains("unknown user")));
    eprintln!("wrong password: real user {real:?}, unknown user {unknown:?}");
}
