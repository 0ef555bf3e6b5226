//! The daemon on the wire against recorded exchanges of Postfix 3.7 and Exim 4.96 (the lines
//! their dovecot SASL code writes, as described in shared/reference/dropin-notes.md §1), and
//! each protocol trap.

mod util;

use saslmech::{ClientSession, Credentials, Mechanism};
use util::{Daemon, b64, unb64};

const USERS: &str = "tim:{PLAIN}tanstaaftanstaaf\nalice:{PLAIN}wonderland\n";
const AUTH: &str = "mechanisms = [\"PLAIN\", \"LOGIN\", \"CRAM-MD5\", \"SCRAM-SHA-256\"]\n";

#[test]
fn handshake_is_what_postfix_and_exim_expect() {
    let d = Daemon::start(AUTH, USERS, "");
    for mut c in [d.tcp(), d.unix()] {
        let h = c.handshake().to_vec();
        assert_eq!(h.first().map(String::as_str), Some("VERSION\t1\t2"));
        let pos = |p: &str| h.iter().position(|l| l.starts_with(p)).unwrap();
        // Every MECH before SPID (else both clients take it for the master socket).
        let spid = pos("SPID\t");
        assert!(
            h.iter()
                .take(spid)
                .filter(|l| l.starts_with("MECH\t"))
                .count()
                == 4
        );
        assert!(h.iter().skip(spid).all(|l| !l.starts_with("MECH\t")));
        assert!(h.contains(&"MECH\tPLAIN\tplaintext".to_owned()));
        assert!(h.contains(&"MECH\tLOGIN\tplaintext".to_owned()));
        assert!(h.contains(&"MECH\tCRAM-MD5\tdictionary\tactive".to_owned()));
        assert!(h.contains(&"MECH\tSCRAM-SHA-256\tmutual-auth".to_owned()));
        assert!(pos("CUID\t") > spid);
        let cookie = h
            .get(pos("COOKIE\t"))
            .unwrap()
            .strip_prefix("COOKIE\t")
            .unwrap();
        assert_eq!(cookie.len(), 32);
        assert!(cookie.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(h.last().map(String::as_str), Some("DONE"));
    }
}

/// Postfix: one persistent connection, ids counting up, PLAIN with an initial response, LOGIN
/// without, `AUTH PLAIN =` passed through as `resp==`.
#[test]
fn postfix_session() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut c = d.unix();
    c.handshake();
    // smtpd: AUTH PLAIN <ir> under TLS.
    c.send(&format!(
        "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp={}",
        b64(b"\0tim\0tanstaaftanstaaf")
    ));
    assert_eq!(c.recv(), "OK\t1\tuser=tim");
    // AUTH LOGIN: two challenges, answered with CONT.
    c.send("AUTH\t2\tLOGIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured");
    assert_eq!(c.recv(), format!("CONT\t2\t{}", b64(b"Username:")));
    c.send(&format!("CONT\t2\t{}", b64(b"alice")));
    assert_eq!(c.recv(), format!("CONT\t2\t{}", b64(b"Password:")));
    c.send(&format!("CONT\t2\t{}", b64(b"wonderland")));
    assert_eq!(c.recv(), "OK\t2\tuser=alice");
    // Wrong password: FAIL with user=, Postfix answers 535.
    c.send(&format!(
        "AUTH\t3\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp={}",
        b64(b"\0tim\0wrong")
    ));
    assert_eq!(c.recv(), "FAIL\t3\tuser=tim");
    // `AUTH PLAIN =`: an empty initial response, not the base64 text "=" and not "none"
    // (which would have produced a CONT with an empty challenge).
    c.send("AUTH\t4\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp==");
    let r = c.recv();
    assert!(r.starts_with("FAIL\t4\treason="), "{r}");
    // PLAIN without an initial response: the empty challenge still has its data field.
    c.send("AUTH\t5\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured");
    assert_eq!(c.recv(), "CONT\t5\t");
    c.send(&format!("CONT\t5\t{}", b64(b"\0alice\0wonderland")));
    assert_eq!(c.recv(), "OK\t5\tuser=alice");
    assert!(d.wait_log(|l| l.contains("id=2")
        && l.contains("result=\"ok\"")
        && l.contains("mechanism=\"LOGIN\"")
        && l.contains("user=\"alice\"")
        && l.contains("rip=\"127.0.0.1\"")
        && l.contains("duration_ms=")));
    // Never a secret in the log.
    assert!(
        d.log()
            .iter()
            .all(|l| !l.contains("wonderland") && !l.contains("tanstaaf"))
    );
}

/// Exim: one connection per AUTH; `resp=` always present and empty meaning none; `-bs` mode
/// sends `rip=NULL lip=NULL`.
#[test]
fn exim_session() {
    let d = Daemon::start(AUTH, USERS, "");
    // PLAIN with an initial response.
    let mut c = d.tcp();
    c.handshake();
    c.send(&format!(
        "AUTH\t1\tPLAIN\tservice=smtp\tsecured\trip=NULL\tlip=NULL\tnologin\tresp={}",
        b64(b"\0tim\0tanstaaftanstaaf")
    ));
    assert_eq!(c.recv(), "OK\t1\tuser=tim");
    drop(c);
    // LOGIN with the empty resp=: no initial response, so the first challenge comes.
    let mut c = d.tcp();
    c.handshake();
    c.send("AUTH\t1\tLOGIN\tservice=smtp\tsecured\trip=NULL\tlip=NULL\tnologin\tresp=");
    assert_eq!(c.recv(), format!("CONT\t1\t{}", b64(b"Username:")));
    c.send(&format!("CONT\t1\t{}", b64(b"tim")));
    assert_eq!(c.recv(), format!("CONT\t1\t{}", b64(b"Password:")));
    c.send(&format!("CONT\t1\t{}", b64(b"tanstaaftanstaaf")));
    assert_eq!(c.recv(), "OK\t1\tuser=tim");
    drop(c);
    // CRAM-MD5 with the empty resp=: the challenge, then the digest.
    let mut c = d.tcp();
    c.handshake();
    c.send("AUTH\t1\tCRAM-MD5\tservice=smtp\trip=127.0.0.1\tlip=127.0.0.1\tnologin\tresp=");
    let r = c.recv();
    let chal = r.strip_prefix("CONT\t1\t").unwrap();
    let mut client = ClientSession::new(
        Mechanism::CramMd5,
        &Credentials::new()
            .authcid("tim")
            .password(b"tanstaaftanstaaf"),
    )
    .unwrap();
    assert_eq!(client.start().unwrap(), None);
    let resp = client.step(&unb64(chal)).unwrap().to_vec();
    c.send(&format!("CONT\t1\t{}", b64(&resp)));
    assert_eq!(c.recv(), "OK\t1\tuser=tim");
    assert!(d.wait_log(|l| l.contains("mechanism=\"CRAM-MD5\"")
        && l.contains("rip=\"127.0.0.1\"")
        && l.contains("result=\"ok\"")));
    assert!(d.wait_log(|l| l.contains("mechanism=\"PLAIN\"")
        && l.contains("rip=\"-\"")
        && l.contains("result=\"ok\"")));
}

#[test]
fn plaintext_needs_secured_unless_configured() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut c = d.client();
    c.send(&format!(
        "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=192.0.2.1\trip=192.0.2.2\tresp={}",
        b64(b"\0tim\0tanstaaftanstaaf")
    ));
    assert_eq!(
        c.recv(),
        "FAIL\t1\treason=Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
    );
    // CRAM-MD5 is not a plaintext mechanism: allowed without `secured`.
    c.send("AUTH\t2\tCRAM-MD5\tservice=smtp\tnologin\tlip=192.0.2.1\trip=192.0.2.2");
    assert!(c.recv().starts_with("CONT\t2\t"));
    drop(c);
    let d = Daemon::start(&format!("{AUTH}plaintext_without_tls = true\n"), USERS, "");
    let mut c = d.client();
    c.send(&format!(
        "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=192.0.2.1\trip=192.0.2.2\tresp={}",
        b64(b"\0tim\0tanstaaftanstaaf")
    ));
    assert_eq!(c.recv(), "OK\t1\tuser=tim");
}

#[test]
fn scram_sha_256_and_final_empty_cont() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut c = d.client();
    let mut client = ClientSession::new(
        Mechanism::ScramSha256,
        &Credentials::new().authcid("alice").password(b"wonderland"),
    )
    .unwrap();
    let first = client.start().unwrap().unwrap().to_vec();
    c.send(&format!(
        "AUTH\t9\tSCRAM-SHA-256\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp={}",
        b64(&first)
    ));
    let r = c.recv();
    let server_first = unb64(r.strip_prefix("CONT\t9\t").unwrap());
    let fin = client.step(&server_first).unwrap().to_vec();
    c.send(&format!("CONT\t9\t{}", b64(&fin)));
    // Postfix and Exim cannot take success data with OK: server-final comes as a CONT.
    let r = c.recv();
    let server_final = unb64(r.strip_prefix("CONT\t9\t").unwrap());
    client.finish(Some(&server_final)).unwrap();
    c.send("CONT\t9\t");
    assert_eq!(c.recv(), "OK\t9\tuser=alice");
}

#[test]
fn unknown_mechanism_fails_only_that_request() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut c = d.client();
    c.send("AUTH\t1\tGSSAPI\tservice=smtp\tsecured");
    assert_eq!(
        c.recv(),
        "FAIL\t1\treason=Unsupported authentication mechanism."
    );
    // Known to the engine but not configured.
    c.send("AUTH\t2\tXOAUTH2\tservice=smtp\tsecured");
    assert_eq!(
        c.recv(),
        "FAIL\t2\treason=Unsupported authentication mechanism."
    );
    assert_eq!(
        c.plain(3, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t3\tuser=tim"
    );
}

#[test]
fn bad_input_ends_only_that_connection() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut good = d.client();
    // Garbage.
    let mut c = d.client();
    c.send("HELLO\tworld");
    assert!(c.closed());
    // A request before VERSION.
    let mut c = d.tcp();
    c.send("AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=");
    assert!(c.closed());
    // Another major version.
    let mut c = d.tcp();
    c.send("VERSION\t2\t0");
    assert!(c.closed());
    // An over-long line (the default limit is 16 KiB).
    let mut c = d.client();
    let long = format!("AUTH\t1\tPLAIN\tservice=smtp\tresp={}", "A".repeat(20_000));
    let _ = c.send_raw(long.as_bytes());
    let _ = c.send_raw(b"\n");
    assert!(c.closed());
    // A duplicated id while the first is in flight.
    let mut c = d.client();
    c.send("AUTH\t7\tLOGIN\tservice=smtp\tsecured");
    assert!(c.recv().starts_with("CONT\t7\t"));
    c.send("AUTH\t7\tLOGIN\tservice=smtp\tsecured");
    assert!(c.closed());
    // CONT for an unknown id ends only that id, as in Dovecot.
    let mut c = d.client();
    c.send("CONT\t99\tAAAA");
    assert_eq!(
        c.recv(),
        "FAIL\t99\treason=Authentication request timed out"
    );
    assert_eq!(
        c.plain(1, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t1\tuser=tim"
    );
    // The first connection never noticed.
    assert_eq!(
        good.plain(1, "alice", "wonderland", "127.0.0.1"),
        "OK\t1\tuser=alice"
    );
    for what in [
        "unknown command",
        "request before VERSION",
        "major version 2",
        "line too long",
        "duplicate request id 7",
    ] {
        assert!(
            d.wait_log(|l| l.contains("closing connection") && l.contains(what)),
            "{what}: {:?}",
            d.log()
        );
    }
}

#[test]
fn requests_on_one_connection_are_independent() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut c = d.client();
    // Three LOGIN exchanges interleaved on one connection.
    for id in [10, 11, 12] {
        c.send(&format!("AUTH\t{id}\tLOGIN\tservice=smtp\tsecured"));
        assert_eq!(c.recv(), format!("CONT\t{id}\t{}", b64(b"Username:")));
    }
    c.send(&format!("CONT\t12\t{}", b64(b"tim")));
    assert_eq!(c.recv(), format!("CONT\t12\t{}", b64(b"Password:")));
    c.send(&format!("CONT\t10\t{}", b64(b"alice")));
    assert_eq!(c.recv(), format!("CONT\t10\t{}", b64(b"Password:")));
    c.send(&format!("CONT\t12\t{}", b64(b"tanstaaftanstaaf")));
    assert_eq!(c.recv(), "OK\t12\tuser=tim");
    c.send(&format!("CONT\t11\t{}", b64(b"nobody")));
    assert_eq!(c.recv(), format!("CONT\t11\t{}", b64(b"Password:")));
    c.send(&format!("CONT\t11\t{}", b64(b"x")));
    assert_eq!(c.recv(), "FAIL\t11\tuser=nobody");
    c.send(&format!("CONT\t10\t{}", b64(b"wonderland")));
    assert_eq!(c.recv(), "OK\t10\tuser=alice");
    // The id is free again once finished.
    assert_eq!(
        c.plain(10, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t10\tuser=tim"
    );
}

#[test]
fn too_many_requests_in_flight_ends_the_connection() {
    let d = Daemon::start(
        &format!("{AUTH}max_requests_per_connection = 4\n"),
        USERS,
        "",
    );
    let mut other = d.client();
    let mut c = d.client();
    for id in 1..=4 {
        c.send(&format!("AUTH\t{id}\tLOGIN\tservice=smtp\tsecured"));
        assert!(c.recv().starts_with(&format!("CONT\t{id}\t")));
    }
    c.send("AUTH\t5\tLOGIN\tservice=smtp\tsecured");
    assert!(c.closed());
    assert!(d.wait_log(|l| l.contains("too many requests in flight")));
    assert_eq!(
        other.plain(1, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t1\tuser=tim"
    );
}

#[test]
fn authzid_other_than_authcid_is_refused() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut c = d.client();
    c.send(&format!(
        "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp={}",
        b64(b"alice\0tim\0tanstaaftanstaaf")
    ));
    assert_eq!(c.recv(), "FAIL\t1\tuser=tim");
    c.send(&format!(
        "AUTH\t2\tPLAIN\tservice=smtp\tsecured\tresp={}",
        b64(b"tim\0tim\0tanstaaftanstaaf")
    ));
    assert_eq!(c.recv(), "OK\t2\tuser=tim");
}
