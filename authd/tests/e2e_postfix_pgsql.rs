//! Debian's unmodified Postfix 3.7 (`smtpd_sasl_type = dovecot`) authenticating through
//! saslmech-authd whose users live in PostgreSQL (`[passdb] driver = "pgsql"`): a private
//! PostgreSQL 15 server (tests/util/pg.rs) with a users table holding a user in every scheme
//! the passwd-file supports, written by `saslmech-authd hash`; real SMTP clients (swaks,
//! `gsasl --smtp`) log in through Postfix; then the database is stopped (454, with
//! `temp_failure = "disconnect"`) and started again under the running daemon and Postfix.
//!
//! `cargo test -p saslmech-authd --test e2e_postfix_pgsql` (as root: Postfix's master must be).
//!
//! `AUTHD_TARGET=dovecot` runs the same checks against Dovecot 2.3's auth service with
//! `passdb { driver = sql }` (dovecot-pgsql) on the same table, for comparison (not in CI).
//! Debian 12's Dovecot 2.3.19 fails about a dozen of them there: the disabled user logs in
//! (Dovecot answers `OK … nologin`, and Postfix ignores `nologin`), some logins against slow
//! hashes end in 454 (smtpd gives up waiting and drops its auth connection), and with the
//! database down
//! a SCRAM login once aborted its auth process (an assertion in
//! `auth_request_lookup_credentials_callback`).

#[path = "util/pg.rs"]
mod pg;
mod support;

use std::process::Command;

use pg::{Pg, lit};
use support::authd::{AuthServer, Options, Passdb, Target, authd_bin};
use support::cases::Checks;
use support::clients::{AuthResult, Smtp, Via, gsasl_smtp, swaks};
use support::mta::Postfix;
use support::run_ok;

const DOMAIN: &str = "example.com";

/// saslmech-authd's query: the documented schema (docs/authd.md), both optional columns.
const QUERY: &str = "SELECT password, disabled AS nologin, login AS \"user\" FROM users \
                     WHERE username = '%n' AND domain = '%d'";
/// Dovecot's: its `nologin` field is set by any non-NULL value, so `false` must become NULL.
const DOVECOT_QUERY: &str = "SELECT password, CASE WHEN disabled THEN 'Y' END AS nologin, \
                             login AS \"user\" FROM users WHERE username = '%n' AND domain = '%d'";

/// One table row per scheme: (scheme as `saslmech-authd hash` names it, the prefix stored).
/// `CLEAR` is another name of `PLAIN`; `CRYPT` is stored without a prefix (the default scheme,
/// which picks SHA512-CRYPT from `$6$`).
const SCHEMES: &[&str] = &[
    "PLAIN",
    "CLEAR",
    "CRAM-MD5",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "SHA512-CRYPT",
    "SHA256-CRYPT",
    "BLF-CRYPT",
    "ARGON2I",
    "ARGON2ID",
    "SSHA",
    "SSHA256",
    "SSHA512",
    "CRYPT",
];

fn user(scheme: &str) -> String {
    format!("{}@{DOMAIN}", scheme.to_ascii_lowercase())
}

/// Each user's own password (so one user's password is wrong for every other).
fn pass(scheme: &str) -> String {
    format!("pw of {} 1!", scheme.to_ascii_lowercase())
}

/// `saslmech-authd hash --scheme S --password P`, as an administrator fills the table; each
/// entry is also checked with Dovecot's `doveadm pw -t` (the table must stay usable by Dovecot).
fn hash(scheme: &str, password: &str) -> String {
    let out = run_ok(
        Command::new(authd_bin())
            .args(["hash", "--scheme", scheme, "--password", password])
            .env("RUST_LOG", "error"),
    );
    let entry = out.stdout.trim().to_owned();
    let check = support::run(
        Command::new("doveadm").args(["pw", "-t", &entry, "-p", password]),
        None,
        support::CMD_TIMEOUT,
    );
    assert!(
        check.status.success() && check.stdout.contains("(verified)"),
        "doveadm pw -t does not verify what `saslmech-authd hash --scheme {scheme}` wrote ({entry}):\n{}",
        check.all()
    );
    entry
}

/// The users table of docs/authd.md with one user per scheme, a disabled user, a user whose
/// `login` column renames it, and nothing for `nobody@`.
fn load_users(pg: &Pg) {
    let mut sql = String::from(
        "CREATE TABLE users (
            username text NOT NULL,
            domain   text NOT NULL,
            password text,
            disabled boolean NOT NULL DEFAULT false,
            login    text,
            PRIMARY KEY (username, domain)
        );\n",
    );
    for scheme in SCHEMES {
        let stored = match *scheme {
            "CLEAR" => format!("{{CLEAR}}{}", pass(scheme)),
            "CRYPT" => {
                let h = hash("SHA512-CRYPT", &pass(scheme));
                h.strip_prefix("{SHA512-CRYPT}")
                    .unwrap_or_else(|| panic!("hash wrote {h}"))
                    .to_owned()
            }
            s => {
                let h = hash(s, &pass(scheme));
                assert!(h.starts_with(&format!("{{{s}}}")), "hash wrote {h} for {s}");
                h
            }
        };
        let name = scheme.to_ascii_lowercase();
        sql += &format!(
            "INSERT INTO users (username, domain, password) VALUES ({}, {}, {});\n",
            lit(&name),
            lit(DOMAIN),
            lit(&stored)
        );
    }
    let plain = hash("PLAIN", "pw of off 1!");
    sql += &format!(
        "INSERT INTO users VALUES ('off', {d}, {}, true, NULL);\n",
        lit(&plain),
        d = lit(DOMAIN)
    );
    let sha = hash("SHA512-CRYPT", "pw of alias 1!");
    sql += &format!(
        "INSERT INTO users VALUES ('alias', {d}, {}, false, 'real@example.com');\n",
        lit(&sha),
        d = lit(DOMAIN)
    );
    pg.sql(&sql);
}

/// The mechanisms beyond PLAIN and LOGIN that each stored scheme can serve.
fn extra_mechs(scheme: &str) -> &'static [&'static str] {
    match scheme {
        "PLAIN" | "CLEAR" => &["CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"],
        "CRAM-MD5" => &["CRAM-MD5"],
        "SCRAM-SHA-1" => &["SCRAM-SHA-1"],
        "SCRAM-SHA-256" => &["SCRAM-SHA-256"],
        _ => &[],
    }
}

/// One login through Postfix with a real client: swaks for PLAIN, LOGIN and CRAM-MD5,
/// `gsasl --smtp` for SCRAM (swaks has none).
fn login(port: u16, mech: &str, user: &str, pass: &str) -> AuthResult {
    if mech.starts_with("SCRAM-") {
        gsasl_smtp(port, mech, user, pass).0
    } else {
        swaks(&Via::Tcp(port), mech, user, pass)
    }
}

/// Runs `cases` (what, mechanism, user, password, wanted reply code) on a few threads (each
/// client is a separate program run) and records them in order.
fn run_cases(c: &mut Checks, port: u16, cases: Vec<(String, &'static str, String, String, u16)>) {
    let mut chunks: Vec<Vec<_>> = vec![Vec::new(); 4];
    for (i, case) in cases.into_iter().enumerate() {
        chunks[i % 4].push(case);
    }
    let threads: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            std::thread::spawn(move || {
                chunk
                    .into_iter()
                    .map(|(what, mech, u, p, want)| {
                        let r = login(port, mech, &u, &p);
                        (what, want, r)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for (what, want, r) in t.join().expect("client thread") {
            c.expect(&what, want, &r);
        }
    }
}

/// Authenticates, then starts a mail transaction so that Postfix logs the SASL user name it
/// got (`client=…, sasl_method=PLAIN, sasl_username=…`, written when the queue file opens).
fn sasl_username_logged(pf: &Postfix, user: &str, pass: &str) -> (u16, bool, String) {
    let mut s = Smtp::session(pf.port);
    let auth = s.auth_plain(user, pass).expect("AUTH");
    let mail = s.cmd("MAIL FROM:<sender@example.com>").expect("MAIL");
    let rcpt = s.cmd("RCPT TO:<rcpt@example.org>").expect("RCPT");
    let _ = s.cmd("RSET");
    let _ = s.cmd("QUIT");
    let detail = format!(
        "AUTH {}; MAIL {}; RCPT {}",
        auth.text(),
        mail.text(),
        rcpt.text()
    );
    // Bounded: 10 s.
    let mut logged = None;
    for _ in 0..200 {
        logged = pf
            .log()
            .lines()
            .find(|l| l.contains("sasl_username=real@example.com"))
            .map(str::to_owned);
        if logged.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (auth.code, logged.is_some(), format!("{detail}; {logged:?}"))
}

#[test]
fn postfix_with_pgsql_passdb() {
    support::deps::ensure();
    let mut pg = Pg::start_new();
    load_users(&pg);
    let opts = Options {
        // Postfix marks AUTH `secured` only under TLS; these sessions are plain text.
        plaintext_without_tls: true,
        passdb: Passdb::Pgsql {
            connection: pg.connection(),
            query: QUERY.to_owned(),
            dovecot_query: DOVECOT_QUERY.to_owned(),
            query_timeout_ms: 2000,
        },
        // What docs/authd.md recommends for Postfix (also the default): a temporary failure
        // closes the daemon connection, so that Postfix answers 454 instead of 535.
        temp_failure: Some("disconnect"),
        ..Options::default()
    };
    let auth = AuthServer::start(&opts);
    // The queue file (and its `client=…, sasl_username=…` log line) opens at MAIL FROM, not
    // at the first accepted RCPT (this instance accepts none).
    let pf = Postfix::start_with(
        &auth.unix_path(),
        "smtpd_tls_security_level = none\nsmtpd_delay_open_until_valid_rcpt = no\n",
    );
    let port = pf.port;
    let mut c = Checks::default();

    // Every scheme: PLAIN and LOGIN → 235, a wrong password → 535, and the other mechanisms
    // the stored secret can serve → 235.
    let mut cases = Vec::new();
    for scheme in SCHEMES {
        let (u, p) = (user(scheme), pass(scheme));
        cases.push((
            format!("{scheme}: PLAIN"),
            "PLAIN",
            u.clone(),
            p.clone(),
            235,
        ));
        cases.push((
            format!("{scheme}: LOGIN"),
            "LOGIN",
            u.clone(),
            p.clone(),
            235,
        ));
        cases.push((
            format!("{scheme}: PLAIN, wrong password"),
            "PLAIN",
            u.clone(),
            format!("{p}x"),
            535,
        ));
        for mech in extra_mechs(scheme) {
            cases.push((format!("{scheme}: {mech}"), mech, u.clone(), p.clone(), 235));
        }
    }
    cases.extend([
        (
            "CRAM-MD5: wrong password".to_owned(),
            "CRAM-MD5",
            user("CRAM-MD5"),
            "nope".to_owned(),
            535,
        ),
        (
            "SCRAM-SHA-256: wrong password".to_owned(),
            "SCRAM-SHA-256",
            user("SCRAM-SHA-256"),
            "nope".to_owned(),
            535,
        ),
        // A mechanism the stored scheme cannot serve fails like a wrong password.
        (
            "BLF-CRYPT: CRAM-MD5 cannot be served".to_owned(),
            "CRAM-MD5",
            user("BLF-CRYPT"),
            pass("BLF-CRYPT"),
            535,
        ),
        (
            "SHA512-CRYPT: SCRAM-SHA-256 cannot be served".to_owned(),
            "SCRAM-SHA-256",
            user("SHA512-CRYPT"),
            pass("SHA512-CRYPT"),
            535,
        ),
        (
            "a user absent from the table".to_owned(),
            "PLAIN",
            format!("nobody@{DOMAIN}"),
            "pw of nobody 1!".to_owned(),
            535,
        ),
        (
            "a disabled user, right password".to_owned(),
            "PLAIN",
            format!("off@{DOMAIN}"),
            "pw of off 1!".to_owned(),
            535,
        ),
        (
            "a renamed user (login column), LOGIN".to_owned(),
            "LOGIN",
            format!("alias@{DOMAIN}"),
            "pw of alias 1!".to_owned(),
            235,
        ),
        (
            "a renamed user (login column), wrong password".to_owned(),
            "PLAIN",
            format!("alias@{DOMAIN}"),
            "pw of off 1!".to_owned(),
            535,
        ),
    ]);
    run_cases(&mut c, port, cases);

    // The login column: Postfix gets (and logs) the name from the table, not the one typed.
    let (code, logged, detail) =
        sasl_username_logged(&pf, &format!("alias@{DOMAIN}"), "pw of alias 1!");
    c.check(
        "a renamed user: 235, and Postfix logs sasl_username=real@example.com",
        code == 235 && logged,
        &detail,
    );

    outage(&mut c, &mut pg, &auth, &opts, &pf);
    c.finish("postfix_with_pgsql_passdb");
}

/// The database stops under the running daemon and Postfix: logins fail at once with a
/// temporary failure (never hang, never a wrong answer) — 454 through saslmech-authd, whose
/// `temp_failure = "disconnect"` closes the daemon connection, because Postfix 3.7 turns
/// every `FAIL` reply, `temp` or not, into 535; once the database is back, the same daemon
/// and the same Postfix (and an smtpd process that already failed, which reconnects to the
/// daemon for its next AUTH) log users in again — nothing restarted but PostgreSQL.
fn outage(c: &mut Checks, pg: &mut Pg, auth: &AuthServer, opts: &Options, pf: &Postfix) {
    let daemon_pid = auth.main_pid();
    let u = user("PLAIN");
    let p = pass("PLAIN");
    // Dovecot (AUTHD_TARGET=dovecot, for comparison) answers `FAIL … temp`: Postfix says 535
    // with Dovecot's reason.
    let (want, want_text) = match auth.target {
        Target::Saslmech => (
            454,
            "4.7.0 Temporary authentication failure: Connection lost to authentication server",
        ),
        Target::Dovecot => (535, "Temporary authentication failure"),
    };
    // An smtpd process with an established daemon connection.
    let mut held = Smtp::session(pf.port);
    pg.stop();
    let t = std::time::Instant::now();
    let r = held.auth_plain(&u, &p);
    let took = t.elapsed();
    let text = r
        .as_ref()
        .map(|r| r.text())
        .unwrap_or_else(|e| e.to_string());
    c.check(
        &format!("database down: {want} {want_text:?}, within 5 s"),
        matches!(&r, Ok(r) if r.code == want && r.text().contains(want_text))
            && took < std::time::Duration::from_secs(5),
        &format!("{text} after {took:?}"),
    );
    let r = swaks(&Via::Tcp(pf.port), "PLAIN", &u, &p);
    c.expect("database down: swaks PLAIN", want, &r);
    c.check(
        "database down: swaks sees the temporary-failure text",
        r.line.contains(want_text),
        &r.line,
    );
    let r = gsasl_smtp(
        pf.port,
        "SCRAM-SHA-256",
        &user("SCRAM-SHA-256"),
        &pass("SCRAM-SHA-256"),
    )
    .0;
    c.expect("database down: gsasl SCRAM-SHA-256", want, &r);
    if auth.target == Target::Saslmech {
        // The other choice, `temp_failure = "reply"` (applied by a reload): the daemon answers
        // `FAIL … temp` and Postfix turns it into 535, as for a wrong password.
        auth.reconfigure(&Options {
            temp_failure: Some("reply"),
            ..opts.clone()
        });
        let r = held.auth_plain(&u, &p);
        c.check(
            "database down, temp_failure = \"reply\": Postfix answers 535 with the daemon's reason",
            matches!(&r, Ok(r) if r.code == 535
                && r.text().contains("535 5.7.8 Error: authentication failed: Temporary authentication failure.")),
            &format!("{r:?}"),
        );
        auth.reconfigure(opts);
        let r = held.auth_plain(&u, &p);
        c.check(
            "database down, back to \"disconnect\" by a reload: 454",
            matches!(&r, Ok(r) if r.code == 454 && r.text().contains(want_text)),
            &format!("{r:?}"),
        );
        let log = auth.log_text();
        c.check(
            "database down: the daemon logged the temporary failures and why it disconnected",
            log.contains("result=\"tempfail\"")
                && log.contains("failed temporarily (database unavailable); auth.temp_failure"),
            "no result=\"tempfail\" or no \"failed temporarily\" line",
        );
    }

    pg.start();
    let r = held.auth_plain(&u, &p);
    c.check(
        "database back: 235 on the smtpd session that failed (it reconnects to the daemon)",
        matches!(&r, Ok(r) if r.code == 235),
        &format!("{r:?}"),
    );
    let cases = vec![
        (
            "database back: swaks PLAIN".to_owned(),
            "PLAIN",
            u.clone(),
            p.clone(),
            235,
        ),
        (
            "database back: swaks LOGIN (SHA512-CRYPT)".to_owned(),
            "LOGIN",
            user("SHA512-CRYPT"),
            pass("SHA512-CRYPT"),
            235,
        ),
        (
            "database back: swaks CRAM-MD5".to_owned(),
            "CRAM-MD5",
            u.clone(),
            p.clone(),
            235,
        ),
        (
            "database back: gsasl SCRAM-SHA-256".to_owned(),
            "SCRAM-SHA-256",
            user("SCRAM-SHA-256"),
            pass("SCRAM-SHA-256"),
            235,
        ),
        (
            "database back: wrong password".to_owned(),
            "PLAIN",
            u.clone(),
            "wrong".to_owned(),
            535,
        ),
    ];
    run_cases(c, pf.port, cases);
    c.check(
        "the daemon was not restarted",
        auth.main_pid() == daemon_pid && support::pid_alive(daemon_pid),
        "its PID changed or it exited",
    );
}
