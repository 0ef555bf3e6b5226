//! The PostgreSQL passdb against a real, private PostgreSQL server (Debian's package, started
//! by the test on a UNIX socket in a temporary directory): logins in every scheme over the
//! Dovecot protocol, the optional columns, parameters never spliced into SQL, and the failure
//! cases — database down at start, restarted under load, a slow query, an absent user.

#[path = "util/pg.rs"]
mod pg;
mod util;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pg::{Pg, lit};
use saslmech::{ClientSession, Credentials, Mechanism};
use util::{Client, Daemon, b64, unb64};

const AUTH: &str =
    "mechanisms = [\"PLAIN\", \"LOGIN\", \"CRAM-MD5\", \"SCRAM-SHA-1\", \"SCRAM-SHA-256\"]\n";

/// Secrets for the password "pencil", written by Dovecot 2.3.19's `doveadm pw` (the same
/// fixtures as schemes_wire.rs), one user per scheme.
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

fn argon2_entry(alg: &str, m_kib: u32) -> String {
    use argon2::CustomizedPasswordHasher;
    let params = argon2::Params::new(m_kib, 1, 1, None).unwrap();
    let h = argon2::Argon2::default()
        .hash_password_customized(b"pencil", b"fixedsalt1234567", Some(alg), None, params)
        .unwrap();
    format!("{{{}}}{h}", alg.to_ascii_uppercase())
}

const DOMAIN: &str = "example.com";

/// The schema of docs/authd.md, with every scheme loaded (user `SCHEME@example.com`).
fn load_users(pg: &Pg) {
    let mut sql = String::from(
        "CREATE TABLE users (
            username text NOT NULL,
            domain text NOT NULL,
            password text,
            disabled boolean NOT NULL DEFAULT false,
            login text,
            PRIMARY KEY (username, domain)
        );\n",
    );
    let mut rows: Vec<(String, String)> = FIXTURES
        .iter()
        .map(|(u, s)| ((*u).to_owned(), (*s).to_owned()))
        .collect();
    rows.push(("argon2i".into(), argon2_entry("argon2i", 256)));
    rows.push(("argon2id".into(), argon2_entry("argon2id", 256)));
    // Made by the daemon's own `hash` subcommand, as an administrator would.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_saslmech-authd"))
        .args(["hash", "--scheme", "SHA256-CRYPT", "--password", "pencil"])
        .output()
        .unwrap();
    assert!(out.status.success());
    rows.push((
        "hashed".into(),
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    ));
    for (u, s) in &rows {
        sql.push_str(&format!(
            "INSERT INTO users (username, domain, password) VALUES ({}, {}, {});\n",
            lit(u),
            lit(DOMAIN),
            lit(s)
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO users VALUES ('off', {d}, '{{PLAIN}}pencil', true, NULL);
         INSERT INTO users VALUES ('alias', {d}, '{{PLAIN}}pencil', false, 'real@example.com');
         INSERT INTO users VALUES ('nullpw', {d}, NULL, false, NULL);
         INSERT INTO users VALUES ('nosuchscheme', {d}, '{{NOPE}}x', false, NULL);\n",
        d = lit(DOMAIN)
    ));
    pg.sql(&sql);
}

const QUERY: &str = "SELECT password, disabled AS nologin, login AS \\\"user\\\" FROM users WHERE username = '%n' AND domain = '%d' AND %s IN ('smtp', 'submission')";

/// Start the daemon on the PostgreSQL passdb with this query and timeouts, answering a
/// temporary failure with `FAIL … temp` (`temp_failure = "reply"`).
fn daemon(pg: &Pg, query: &str, query_timeout_ms: u64, extra: &str) -> Daemon {
    daemon_with(pg, query, query_timeout_ms, "reply", extra)
}

/// [`daemon`] with this `[auth] temp_failure`.
fn daemon_with(
    pg: &Pg,
    query: &str,
    query_timeout_ms: u64,
    temp_failure: &str,
    extra: &str,
) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("auth");
    let config = format!(
        "[listen]\ntcp = \"127.0.0.1:0\"\nunix = \"{}\"\n[auth]\n{AUTH}request_timeout_s = 30\ntemp_failure = \"{temp_failure}\"\n[passdb]\ndriver = \"pgsql\"\n[pgsql]\nconnection = \"{}\"\npool_size = 4\nconnect_timeout_ms = 1000\nquery_timeout_ms = {query_timeout_ms}\npassword_query = \"{query}\"\n{extra}\n",
        socket.display(),
        pg.connection(),
    );
    let path = dir.path().join("authd.toml");
    std::fs::write(&path, config).unwrap();
    Daemon::spawn_until(dir, &path, socket, "pgsql passdb loaded")
}

fn u(name: &str) -> String {
    format!("{name}@{DOMAIN}")
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

fn scram(c: &mut Client, id: u32, mech: Mechanism, user: &str, pass: &[u8]) -> String {
    let mut client =
        ClientSession::new(mech, &Credentials::new().authcid(user).password(pass)).unwrap();
    let first = client.start().unwrap().unwrap().to_vec();
    c.send(&format!(
        "AUTH\t{id}\t{}\tservice=smtp\tsecured\tresp={}",
        mech.name(),
        b64(&first)
    ));
    let r = c.recv();
    let Some(data) = r.strip_prefix(&format!("CONT\t{id}\t")) else {
        return r;
    };
    let fin = client.step(&unb64(data)).unwrap().to_vec();
    c.send(&format!("CONT\t{id}\t{}", b64(&fin)));
    let r = c.recv();
    if let Some(data) = r.strip_prefix(&format!("CONT\t{id}\t")) {
        client.finish(Some(&unb64(data))).unwrap();
        c.send(&format!("CONT\t{id}\t"));
        return c.recv();
    }
    r
}

#[test]
fn logins_in_every_scheme_and_the_optional_columns() {
    let pg = Pg::start_new();
    load_users(&pg);
    let d = daemon(&pg, QUERY, 5000, "");
    let mut c = d.client();
    // PLAIN against every scheme, all in flight at once on one connection.
    let mut want = HashMap::new();
    let mut id = 0;
    let names = FIXTURES
        .iter()
        .map(|(n, _)| *n)
        .chain(["argon2i", "argon2id", "hashed"]);
    for name in names {
        for (pass, ok) in [("pencil", true), ("crayon", false)] {
            id += 1;
            let user = u(name);
            c.send(&format!(
                "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={}",
                b64(format!("\0{user}\0{pass}").as_bytes())
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
        assert_eq!(Some(&r), want.remove(&id).as_ref(), "{r}");
    }
    assert!(want.is_empty());
    // CRAM-MD5 and SCRAM from what is stored.
    assert_eq!(
        cram(&mut c, 100, &u("cram"), b"pencil"),
        format!("OK\t100\tuser={}", u("cram"))
    );
    assert_eq!(
        cram(&mut c, 101, &u("plain"), b"pencil"),
        format!("OK\t101\tuser={}", u("plain"))
    );
    assert_eq!(
        cram(&mut c, 102, &u("blf"), b"pencil"),
        format!("FAIL\t102\tuser={}", u("blf"))
    );
    assert_eq!(
        scram(
            &mut c,
            103,
            Mechanism::ScramSha256,
            &u("scram256"),
            b"pencil"
        ),
        format!("OK\t103\tuser={}", u("scram256"))
    );
    assert_eq!(
        scram(&mut c, 104, Mechanism::ScramSha1, &u("scram1"), b"pencil"),
        format!("OK\t104\tuser={}", u("scram1"))
    );
    assert_eq!(
        scram(&mut c, 105, Mechanism::ScramSha256, &u("plain"), b"pencil"),
        format!("OK\t105\tuser={}", u("plain"))
    );
    assert_eq!(
        scram(
            &mut c,
            106,
            Mechanism::ScramSha256,
            &u("scram256"),
            b"crayon"
        ),
        format!("FAIL\t106\tuser={}", u("scram256"))
    );
    // The disabled flag, a NULL or unusable password: refused like a wrong password.
    for (i, name) in ["off", "nullpw", "nosuchscheme", "nobody"]
        .iter()
        .enumerate()
    {
        let id = 200 + i as u32;
        assert_eq!(
            c.plain(id, &u(name), "pencil", "127.0.0.1"),
            format!("FAIL\t{id}\tuser={}", u(name))
        );
    }
    // The `user` column renames the login.
    assert_eq!(
        c.plain(300, &u("alias"), "pencil", "127.0.0.1"),
        "OK\t300\tuser=real@example.com"
    );
    assert_eq!(
        c.plain(301, &u("alias"), "crayon", "127.0.0.1"),
        format!("FAIL\t301\tuser={}", u("alias"))
    );
    // Quotes, backslashes and SQL in the user name are data, never SQL.
    for (i, evil) in [
        "x' OR '1'='1@example.com",
        "plain@example.com' --",
        "'; DROP TABLE users; --@example.com",
        "plain\\@example.com",
    ]
    .iter()
    .enumerate()
    {
        let id = 400 + i as u32;
        assert_eq!(
            c.plain(id, evil, "pencil", "127.0.0.1"),
            format!("FAIL\t{id}\tuser={evil}")
        );
    }
    assert_eq!(pg.sql("SELECT count(*) FROM users;").trim(), "18");
    // %s is the service: this query serves smtp and submission only.
    let ir = b64(format!("\0{}\0pencil", u("plain")).as_bytes());
    c.send(&format!(
        "AUTH\t500\tPLAIN\tservice=imap\tsecured\tresp={ir}"
    ));
    assert_eq!(c.recv(), format!("FAIL\t500\tuser={}", u("plain")));
    c.send(&format!(
        "AUTH\t501\tPLAIN\tservice=submission\tsecured\tresp={ir}"
    ));
    assert_eq!(c.recv(), format!("OK\t501\tuser={}", u("plain")));
    assert!(d.wait_log(|l| l.contains("user=\"off@example.com\"") && l.contains("nologin")));
    assert!(
        d.wait_log(|l| l.contains("user=\"nobody@example.com\"") && l.contains("unknown user"))
    );
}

#[test]
fn database_down_at_start_then_up_without_restart() {
    let mut pg = Pg::init();
    let d = daemon(&pg, QUERY, 2000, "");
    let mut c = d.client();
    let t = Instant::now();
    assert_eq!(
        c.plain(1, &u("plain"), "pencil", "127.0.0.1"),
        format!(
            "FAIL\t1\tuser={}\treason=Temporary authentication failure.\ttemp",
            u("plain")
        )
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // SCRAM asks for the secret: the same temporary failure.
    let r = scram(&mut c, 2, Mechanism::ScramSha256, &u("scram256"), b"pencil");
    assert!(r.starts_with("FAIL\t2\t") && r.ends_with("\ttemp"), "{r}");
    pg.start();
    load_users(&pg);
    assert_eq!(
        c.plain(3, &u("plain"), "pencil", "127.0.0.1"),
        format!("OK\t3\tuser={}", u("plain"))
    );
    assert!(d.wait_log(|l| l.contains("database unavailable")));
    assert!(d.wait_log(|l| l.contains("result=\"tempfail\"")));
}

/// `temp_failure = "disconnect"` (the default): a request that fails temporarily closes its
/// connection with no reply (Postfix and Exim then report a temporary failure, 454 / 435);
/// the other request in flight on it is logged as dropped; another connection, with its own
/// exchange half done, is not touched and finishes once the database is back.
#[test]
fn temp_failure_disconnect_closes_only_that_connection() {
    let mut pg = Pg::init();
    let d = daemon_with(&pg, QUERY, 2000, "disconnect", "");
    let login = "AUTH\t1\tLOGIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured";
    let mut a = d.client();
    let mut b = d.client();
    for c in [&mut a, &mut b] {
        c.send(login);
        assert_eq!(c.recv(), format!("CONT\t1\t{}", b64(b"Username:")));
    }
    let ir = b64(format!("\0{}\0pencil", u("plain")).as_bytes());
    a.send(&format!(
        "AUTH\t2\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp={ir}"
    ));
    let t = Instant::now();
    assert_eq!(
        a.rest_until_closed().as_deref(),
        Some(""),
        "closed, no reply"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(d.wait_log(|l| l.contains(
        "closing connection: request 2 failed temporarily (database unavailable); auth.temp_failure = \"disconnect\""
    )));
    assert!(d.wait_log(|l| l.contains("id=1") && l.contains("request dropped")));
    assert_eq!(
        d.count_log(|l| l.contains("request dropped")),
        1,
        "{:?}",
        d.log()
    );
    pg.start();
    load_users(&pg);
    // The other connection finishes its exchange: nothing of it was lost.
    b.send(&format!("CONT\t1\t{}", b64(u("plain").as_bytes())));
    assert_eq!(b.recv(), format!("CONT\t1\t{}", b64(b"Password:")));
    b.send(&format!("CONT\t1\t{}", b64(b"pencil")));
    assert_eq!(b.recv(), format!("OK\t1\tuser={}", u("plain")));
    // A new connection (as Postfix opens for its next AUTH) logs in; wrong passwords still
    // get a FAIL reply, not a disconnect.
    let mut c = d.client();
    assert_eq!(
        c.plain(1, &u("plain"), "pencil", "127.0.0.1"),
        format!("OK\t1\tuser={}", u("plain"))
    );
    assert_eq!(
        c.plain(2, &u("plain"), "crayon", "127.0.0.1"),
        format!("FAIL\t2\tuser={}", u("plain"))
    );
    assert_eq!(
        d.count_log(|l| l.contains("closing connection")),
        1,
        "{:?}",
        d.log()
    );
}

#[test]
fn slow_query_times_out_with_temp_and_holds_up_nobody() {
    let pg = Pg::start_new();
    load_users(&pg);
    pg.sql(
        "CREATE FUNCTION lookup(u text, d text) RETURNS TABLE(password text) LANGUAGE sql AS $$
           SELECT pg_sleep(CASE WHEN u LIKE 'slow%' THEN 10 ELSE 0 END);
           SELECT coalesce(password, '') FROM users WHERE username = u AND domain = d
             UNION ALL SELECT '{PLAIN}pencil' WHERE u LIKE 'slow%';
         $$;",
    );
    let d = daemon(&pg, "SELECT password FROM lookup(%n, %d)", 700, "");
    let mut slow = d.client();
    let mut fast = d.client();
    let t = Instant::now();
    for id in 1..=3 {
        slow.send(&format!(
            "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={}",
            b64(format!("\0slow{id}@{DOMAIN}\0pencil").as_bytes())
        ));
    }
    // Other logins go on meanwhile (the pool has 4 connections, 3 are busy sleeping).
    assert_eq!(
        fast.plain(1, &u("plain"), "pencil", "127.0.0.1"),
        format!("OK\t1\tuser={}", u("plain"))
    );
    let fast_done = t.elapsed();
    let mut replies: Vec<String> = (0..3).map(|_| slow.recv()).collect();
    let slow_done = t.elapsed();
    replies.sort();
    for (i, r) in replies.iter().enumerate() {
        let id = i + 1;
        assert_eq!(
            r,
            &format!(
                "FAIL\t{id}\tuser=slow{id}@{DOMAIN}\treason=Temporary authentication failure.\ttemp"
            )
        );
    }
    assert!(fast_done < Duration::from_millis(700), "{fast_done:?}");
    assert!(slow_done >= Duration::from_millis(650), "{slow_done:?}");
    assert!(slow_done < Duration::from_secs(4), "{slow_done:?}");
    // The timed-out queries were cancelled on the server, and the pool still works.
    for id in 2..=6 {
        assert_eq!(
            fast.plain(id, &u("plain"), "pencil", "127.0.0.1"),
            format!("OK\t{id}\tuser={}", u("plain"))
        );
    }
    assert!(d.wait_log(|l| l.contains("password_query timed out")));
    let end = Instant::now() + Duration::from_secs(10);
    while !pg.log().contains("canceling statement due to user request") && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        pg.log().contains("canceling statement due to user request"),
        "{}",
        pg.log()
    );
}

/// An absent user: the same reply as a wrong password, after the same work (one query, and
/// a check against a slow hash from the table).
#[test]
fn absent_user_is_answered_like_a_wrong_password() {
    let pg = Pg::start_new();
    load_users(&pg);
    pg.sql(&format!(
        "INSERT INTO users (username, domain, password) VALUES ('slow', {}, {});",
        lit(DOMAIN),
        lit(&argon2_entry("argon2id", 8 * 1024))
    ));
    let d = daemon(&pg, QUERY, 5000, "");
    let mut c = d.client();
    let time = |c: &mut Client, id: u32, user: &str| {
        let t = Instant::now();
        assert_eq!(
            c.plain(id, user, "wrong", "127.0.0.1"),
            format!("FAIL\t{id}\tuser={user}")
        );
        t.elapsed()
    };
    let real = (1..=3).map(|i| time(&mut c, i, &u("slow"))).min().unwrap();
    let absent = (4..=6)
        .map(|i| time(&mut c, i, &u("nobody")))
        .min()
        .unwrap();
    assert!(absent * 4 > real, "absent {absent:?} vs real {real:?}");
    assert!(
        d.wait_log(|l| l.contains("user=\"nobody@example.com\"") && l.contains("unknown user"))
    );
    eprintln!("wrong password: real user {real:?}, absent user {absent:?}");
}

/// The server is stopped and started again while clients log in: every request gets exactly
/// one reply, `OK` or `FAIL … temp` (a wrong answer never), none waits past its timeout,
/// and logins succeed again afterwards without restarting the daemon.
#[test]
fn database_restarted_under_load() {
    let mut pg = Pg::start_new();
    load_users(&pg);
    let d = daemon(&pg, QUERY, 1500, "");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let conns = 6;
    let per_batch = 4u32;
    let mut workers = Vec::new();
    for w in 0..conns {
        let mut c = d.client();
        let stop = std::sync::Arc::clone(&stop);
        workers.push(std::thread::spawn(move || {
            let (mut ok, mut temp, mut worst) = (0u32, 0u32, Duration::ZERO);
            let mut id = 0u32;
            // Bounded: at most 400 batches, and the main thread stops us.
            for _ in 0..400 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let t = Instant::now();
                let mut sent = HashMap::new();
                for _ in 0..per_batch {
                    id += 1;
                    let user = u(if (id + w).is_multiple_of(2) { "plain" } else { "ssha" });
                    c.send(&format!(
                        "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={}",
                        b64(format!("\0{user}\0pencil").as_bytes())
                    ));
                    sent.insert(id, user);
                }
                for _ in 0..per_batch {
                    let r = c.recv();
                    let f: Vec<&str> = r.split('\t').collect();
                    let rid: u32 = f[1].parse().unwrap();
                    let user = sent.remove(&rid).unwrap_or_else(|| panic!("unexpected {r}"));
                    if r == format!("OK\t{rid}\tuser={user}") {
                        ok += 1;
                    } else {
                        assert_eq!(
                            r,
                            format!(
                                "FAIL\t{rid}\tuser={user}\treason=Temporary authentication failure.\ttemp"
                            )
                        );
                        temp += 1;
                    }
                }
                assert!(sent.is_empty());
                worst = worst.max(t.elapsed());
            }
            (ok, temp, worst, c)
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    pg.stop();
    std::thread::sleep(Duration::from_millis(1500));
    pg.start();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut temp) = (0, 0);
    for w in workers {
        let (o, t, worst, mut c) = w.join().unwrap();
        ok += o;
        temp += t;
        // No request hangs: each batch ended within the pool's and the query's timeouts.
        assert!(worst < Duration::from_secs(6), "worst batch {worst:?}");
        // Nothing more on the wire: no reply was sent twice.
        c.send(
            "AUTH\t99999\tPLAIN\tservice=smtp\tsecured\tresp=AHBsYWluQGV4YW1wbGUuY29tAHBlbmNpbA==",
        );
        assert_eq!(c.recv(), "OK\t99999\tuser=plain@example.com");
    }
    eprintln!("restart under load: {ok} ok, {temp} temp");
    assert!(ok > 0 && temp > 0, "ok {ok}, temp {temp}");
    // The pool recovered: a fresh connection logs in at once.
    let mut c = d.client();
    let t = Instant::now();
    assert_eq!(
        c.plain(1, &u("sha256"), "pencil", "127.0.0.1"),
        format!("OK\t1\tuser={}", u("sha256"))
    );
    assert!(t.elapsed() < Duration::from_secs(2));
}

/// `--check-config` validates `[pgsql]` without contacting the database, and SIGHUP swaps in a
/// new query (and a new pool) without dropping connections.
#[test]
fn check_config_and_reload() {
    let pg = Pg::start_new();
    load_users(&pg);
    pg.sql(
        "CREATE TABLE other (name text PRIMARY KEY, secret text);
         INSERT INTO other VALUES ('plain@example.com', '{PLAIN}crayon');",
    );
    let d = daemon(&pg, QUERY, 5000, "");
    let config = d.dir.path().join("authd.toml");
    let check = |path: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_saslmech-authd"))
            .arg("--config")
            .arg(path)
            .arg("--check-config")
            .output()
            .unwrap()
    };
    let out = check(&config);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("PostgreSQL passdb"));
    let text = std::fs::read_to_string(&config).unwrap();
    let bad = d.dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("'%n'", "'%n@x'")).unwrap();
    let out = check(&bad);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pgsql.password_query"));

    let mut c = d.client();
    assert_eq!(
        c.plain(1, &u("plain"), "pencil", "127.0.0.1"),
        format!("OK\t1\tuser={}", u("plain"))
    );
    std::fs::write(
        &config,
        text.replace(
            QUERY,
            "SELECT secret AS password FROM other WHERE name = %u",
        ),
    )
    .unwrap();
    d.signal("HUP");
    assert!(
        d.wait_log(|l| l.contains("pgsql passdb reloaded")),
        "{:?}",
        d.log()
    );
    // The same connection, the new query.
    assert_eq!(
        c.plain(2, &u("plain"), "pencil", "127.0.0.1"),
        format!("FAIL\t2\tuser={}", u("plain"))
    );
    assert_eq!(
        c.plain(3, &u("plain"), "crayon", "127.0.0.1"),
        format!("OK\t3\tuser={}", u("plain"))
    );
    assert!(d.stop().success());
}

/// Connections idle in the pool while the server restarts (cleanly, or killed as in a crash)
/// are not reused: the first logins afterwards succeed, none answered `temp`.
#[test]
fn idle_pool_connections_do_not_outlive_a_restart() {
    let mut pg = Pg::start_new();
    load_users(&pg);
    let d = daemon(&pg, QUERY, 2000, "");
    let mut clients: Vec<Client> = (0..4).map(|_| d.client()).collect();
    let mut id = 0;
    for mode in ["fast", "immediate"] {
        // Fill the pool: four lookups at once need four connections.
        for c in clients.iter_mut() {
            id += 1;
            c.send(&format!(
                "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={}",
                b64(format!("\0{}\0pencil", u("plain")).as_bytes())
            ));
        }
        for c in clients.iter_mut() {
            let r = c.recv();
            assert!(r.starts_with("OK\t"), "{r}");
        }
        pg.stop_mode(mode);
        pg.start();
        for c in clients.iter_mut() {
            id += 1;
            assert_eq!(
                c.plain(id, &u("plain"), "pencil", "127.0.0.1"),
                format!("OK\t{id}\tuser={}", u("plain")),
                "after a {mode} restart"
            );
        }
    }
    assert_eq!(d.count_log(|l| l.contains("tempfail")), 0, "{:?}", d.log());
}
