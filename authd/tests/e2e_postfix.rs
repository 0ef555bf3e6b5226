//! Debian's unmodified Postfix 3.7 (`smtpd_sasl_type = dovecot`) authenticating through
//! saslmech-authd, over the UNIX socket and over loopback TCP, with real SMTP clients.
//!
//! `cargo test -p saslmech-authd --test e2e_postfix` (as root: Postfix's master must be).

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use support::authd::{
    ALICE, AuthClient, AuthServer, BOB, CAROL, DAVE, Options, Target, plain_entry,
};
use support::cases::{Checks, mechanism_matrix};
use support::clients::{Smtp, Via, gsasl_smtp, swaks, swaks_tls};
use support::mta::Postfix;

/// Postfix adds `secured` to its AUTH requests only when the SMTP session runs under TLS (not
/// for loopback: checked on the wire), so plain-text sessions need `plaintext_without_tls`.
/// `postfix_tls_marks_secured` covers the default policy.
fn postfix_options() -> Options {
    Options {
        plaintext_without_tls: true,
        ..Options::default()
    }
}

/// What Postfix 3.7 answers when it loses its connection to the auth daemon.
const LOST: &str =
    "454 4.7.0 Temporary authentication failure: Connection lost to authentication server";

/// The smtpd PIDs of Postfix's "Connection lost to authentication server" warnings in `log`.
fn lost_connection_pids(log: &str) -> Vec<u32> {
    log.lines()
        .filter(|l| l.contains("Connection lost to authentication server"))
        .filter_map(|l| {
            let rest = l.split("smtpd[").nth(1)?;
            rest.split(']').next()?.parse().ok()
        })
        .collect()
}

/// Postfix's log from byte `from` on, once it holds at least `n` "Connection lost" warnings
/// (postlogd writes asynchronously; waits at most 10 s).
fn log_with_lost(pf: &Postfix, from: usize, n: usize) -> String {
    let mut tail = String::new();
    for _ in 0..200 {
        tail = pf.log().get(from..).unwrap_or_default().to_owned();
        if lost_connection_pids(&tail).len() >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tail
}

/// The daemon stopped: an smtpd that already talked to it answers 454; once it is back, logins
/// work again without restarting Postfix (the same smtpd processes reconnect).
///
/// Every smtpd process keeps its daemon connection between SMTP sessions. After a restart, an
/// smtpd whose connection is stale writes the AUTH request into it; over TCP that write can
/// succeed (the dead peer answers with a reset only afterwards) and the read then fails, so
/// that one login gets 454 "Connection lost" and the process reconnects for the next (over
/// the UNIX socket the write itself fails and Postfix retries at once). The contract checked:
/// after the restart, at most one 454 per smtpd process that was alive when the daemon
/// stopped, exactly that text, and the retried login then gets 235.
fn outage(c: &mut Checks, tag: &str, auth: &mut AuthServer, pf: &Postfix) {
    // Idle smtpd processes with a daemon connection, as on a busy server: three sessions at
    // once (each EHLO fetches the MECH list over its process's connection), then closed.
    let idle: Vec<Smtp> = (0..3).map(|_| Smtp::session(pf.port)).collect();
    drop(idle);
    // An smtpd process with an established daemon connection (its EHLO fetched the MECH list).
    let mut held = Smtp::session(pf.port);
    auth.stop();
    let stale = pf.smtpd_pids();
    // Over TCP the write into the dead connection succeeds and the read fails ("Connection
    // lost to authentication server"); over the UNIX socket the write fails, Postfix tries to
    // reconnect, cannot, and gives no reason ("(reason unavailable)").
    let stopped = held.auth_plain(ALICE.0, ALICE.1);
    c.check(
        &format!("{tag}: daemon stopped → 454 on an open session"),
        matches!(&stopped, Ok(r) if r.code == 454
            && r.text().contains("454 4.7.0 Temporary authentication failure: ")),
        &format!("{stopped:?}"),
    );
    // Not tried: a brand-new smtpd process that cannot reach the daemon exits ("fatal: no
    // SASL authentication mechanisms") and master(8) then throttles smtpd for 60 s.
    auth.start_again();
    // The held smtpd lost its connection at the 454 and reconnects on its next AUTH.
    let r = held.auth_plain(ALICE.0, ALICE.1);
    c.check(
        &format!("{tag}: daemon back → 235 on the same session"),
        matches!(&r, Ok(r) if r.code == 235),
        &format!("{r:?}"),
    );
    let _ = held.cmd("QUIT");
    // The held session's own warning (over TCP) must be in the log before the mark.
    let held_lost = usize::from(matches!(&stopped, Ok(r) if r.text().contains(LOST)));
    let _ = log_with_lost(pf, 0, held_lost);
    let log_before = pf.log().len();
    // New sessions: each may land on a stale smtpd (one 454 each at most), never more often
    // than there were smtpd processes at the stop.
    let mut lost = 0usize;
    let mut logins = vec![("PLAIN", BOB), ("CRAM-MD5", ALICE)];
    logins.extend(std::iter::repeat_n(("PLAIN", CAROL), stale.len()));
    for (mech, (user, pass)) in logins {
        let mut r = swaks(&Via::Tcp(pf.port), mech, user, pass);
        while r.code == 454 && r.line.contains(LOST) && lost < stale.len() {
            lost += 1;
            eprintln!("{tag}: a stale smtpd connection: {}", r.line);
            r = swaks(&Via::Tcp(pf.port), mech, user, pass);
        }
        c.expect(&format!("{tag}: daemon back → swaks {mech} 235"), 235, &r);
    }
    // Postfix's log names the smtpd of each 454: each one of the processes alive at the
    // stop, none twice.
    let pids = lost_connection_pids(&log_with_lost(pf, log_before, lost));
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    c.check(
        &format!(
            "{tag}: after the restart {lost} login(s) saw 454, each from a different smtpd \
             that was running at the stop ({} were)",
            stale.len()
        ),
        pids.len() == lost && distinct.len() == lost && pids.iter().all(|p| stale.contains(p)),
        &format!("454 from smtpd {pids:?}; running at the stop: {stale:?}"),
    );
}

#[test]
fn postfix_over_unix_socket() {
    let mut auth = AuthServer::start(&postfix_options());
    let pf = Postfix::start(&auth.unix_path());
    let mut c = Checks::default();
    mechanism_matrix(&mut c, "postfix/unix", &auth, &Via::Tcp(pf.port), pf.port);
    outage(&mut c, "postfix/unix", &mut auth, &pf);
    c.finish("postfix_over_unix_socket");
}

#[test]
fn postfix_over_tcp() {
    let mut auth = AuthServer::start(&postfix_options());
    let pf = Postfix::start(&format!("inet:127.0.0.1:{}", auth.tcp_port));
    let mut c = Checks::default();
    mechanism_matrix(&mut c, "postfix/tcp", &auth, &Via::Tcp(pf.port), pf.port);
    outage(&mut c, "postfix/tcp", &mut auth, &pf);
    c.finish("postfix_over_tcp");
}

/// Logins through Postfix keep succeeding while the daemon reloads (SIGHUP, five times), and
/// a user added to the passwd-file logs in after the reload.
#[test]
fn postfix_sighup_reload_under_load() {
    let auth = AuthServer::start(&postfix_options());
    let pf = Postfix::start(&auth.unix_path());
    let pid = auth.main_pid();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ok = Arc::new(AtomicU32::new(0));
    let bad = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let port = pf.port;
    let workers: Vec<_> = (0..6)
        .map(|i| {
            let (stop, ok, bad) = (stop.clone(), ok.clone(), bad.clone());
            std::thread::spawn(move || {
                let user = [ALICE, BOB, CAROL][i % 3];
                // Bounded: at most 2,000 sessions per worker, and the main thread stops them.
                for _ in 0..2000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let r = Smtp::connect(port).and_then(|mut s| {
                        s.read_reply()?;
                        s.cmd("EHLO load.example.com")?;
                        let r = s.auth_plain(user.0, user.1)?;
                        let _ = s.cmd("QUIT");
                        Ok(r)
                    });
                    match r {
                        Ok(r) if r.code == 235 => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => bad.lock().unwrap().push(r.text()),
                        Err(e) => bad.lock().unwrap().push(e.to_string()),
                    }
                }
            })
        })
        .collect();
    let mut c = Checks::default();
    std::thread::sleep(Duration::from_millis(500));
    let before_reloads = ok.load(Ordering::SeqCst);
    for i in 0..5 {
        if i == 2 {
            auth.add_user(&plain_entry(DAVE.0, DAVE.1));
        }
        auth.reload();
        std::thread::sleep(Duration::from_millis(400));
    }
    let dave = swaks(&Via::Tcp(port), "PLAIN", DAVE.0, DAVE.1);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("worker");
    }
    let total = ok.load(Ordering::SeqCst);
    let bad = bad.lock().unwrap().clone();
    c.expect(
        "a user added to the passwd-file logs in after SIGHUP",
        235,
        &dave,
    );
    c.check(
        "every login during the reloads succeeded",
        bad.is_empty(),
        &format!(
            "{} failed, e.g. {:?}",
            bad.len(),
            bad.iter().take(5).collect::<Vec<_>>()
        ),
    );
    c.check(
        "logins kept flowing during the reloads",
        total > before_reloads + 20,
        &format!("{before_reloads} logins before the reloads, {total} in all"),
    );
    eprintln!(
        "{total} logins through Postfix during the test, {before_reloads} before the first SIGHUP"
    );
    if auth.target == Target::Saslmech {
        c.check(
            "the daemon kept its PID across SIGHUP",
            auth.main_pid() == pid,
            "restarted",
        );
    }
    c.finish("postfix_sighup_reload_under_load");
}

/// 64 SMTP sessions open at once (64 smtpd processes, each with its own daemon connection),
/// all sending AUTH at the same moment; every one gets its own right answer.
#[test]
fn postfix_many_concurrent_connections() {
    const N: usize = 64;
    let auth = AuthServer::start(&postfix_options());
    let pf = Postfix::start(&auth.unix_path());
    let barrier = Arc::new(Barrier::new(N));
    let port = pf.port;
    let t0 = Instant::now();
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let (user, pass, want) = match i % 4 {
                    0 => (ALICE.0, ALICE.1, 235),
                    1 => (BOB.0, BOB.1, 235),
                    2 => (CAROL.0, CAROL.1, 235),
                    _ => (ALICE.0, "wrong", 535),
                };
                let s = Smtp::connect(port).and_then(|mut s| {
                    s.read_reply()?;
                    s.cmd("EHLO c.example.com")?;
                    Ok(s)
                });
                barrier.wait();
                let r = s.and_then(|mut s| s.auth_plain(user, pass));
                (
                    i,
                    want,
                    r.map(|r| (r.code, r.text())).map_err(|e| e.to_string()),
                )
            })
        })
        .collect();
    let mut c = Checks::default();
    let mut wrong = Vec::new();
    for t in threads {
        let (i, want, got) = t.join().expect("thread");
        match got {
            Ok((code, _)) if code == want => {}
            other => wrong.push(format!("session {i}: want {want}, got {other:?}")),
        }
    }
    eprintln!("{N} concurrent sessions done in {:?}", t0.elapsed());
    c.check(
        &format!("{N} concurrent Postfix sessions each got the right reply"),
        wrong.is_empty(),
        &wrong.join("; "),
    );
    c.finish("postfix_many_concurrent_connections");
}

/// One daemon connection floods the daemon with pipelined requests and never reads a reply
/// (until the daemon stops reading it: backpressure), other connections send garbage, an
/// over-long line and CONT for unknown ids — while other clients log in, directly and through
/// Postfix. The bad connections end (or only their requests fail); nobody else notices; the
/// flood's requests are all answered once it reads again.
#[test]
fn postfix_flood_on_one_connection() {
    let auth = AuthServer::start(&postfix_options());
    let pf = Postfix::start(&auth.unix_path());
    let mut c = Checks::default();
    let unix = auth.unix.clone();
    let (flooded_tx, flooded_rx) = std::sync::mpsc::channel::<u32>();
    let (drain_tx, drain_rx) = std::sync::mpsc::channel::<()>();
    let flooder = std::thread::spawn(move || {
        let s = std::os::unix::net::UnixStream::connect(&unix).expect("flood connection");
        // A write that blocks for 2 s means the daemon stopped reading us.
        s.set_write_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut w = s.try_clone().expect("clone");
        let mut r = std::io::BufReader::new(s);
        use std::io::{BufRead, Write};
        w.write_all(b"VERSION\t1\t0\nCPID\t4242\n")
            .expect("handshake");
        let mut line = String::new();
        for _ in 0..100 {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 || line == "DONE\n" {
                break;
            }
        }
        let resp = support::b64(format!("\0{}\0{}", ALICE.0, ALICE.1).as_bytes());
        let mut sent = 0u32;
        for id in 1..=20_000u32 {
            let req = format!("AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={resp}\n");
            if w.write_all(req.as_bytes()).is_err() {
                break;
            }
            sent += 1;
        }
        flooded_tx.send(sent).expect("send");
        // Hold the pressure until the others have logged in, then read every reply.
        let _ = drain_rx.recv_timeout(Duration::from_secs(60));
        let mut ok = 0u32;
        for _ in 0..sent {
            line.clear();
            match r.read_line(&mut line) {
                Ok(n) if n > 0 => {
                    if line.starts_with("OK\t") {
                        ok += 1;
                    }
                }
                _ => break,
            }
        }
        (sent, ok)
    });
    let sent_before = flooded_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the flood started");
    eprintln!(
        "flood: {sent_before} requests written before the daemon stopped reading (or all 20,000)"
    );

    // Other connections misbehave meanwhile: each ends, or only its request fails.
    let bad_inputs: [(&str, String); 3] = [
        ("garbage", "this is not the protocol".to_owned()),
        (
            "over-long line",
            format!("AUTH\t1\tPLAIN\tservice=smtp\tresp={}", "A".repeat(100_000)),
        ),
        ("CONT for an unknown id", "CONT\t4242\tAAAA".to_owned()),
    ];
    for (what, line) in bad_inputs {
        let mut b = AuthClient::unix(&auth.unix).expect("connect");
        let _ = b.send(&line);
        let r = b.read_line();
        let ended = match &r {
            Err(_) => true,
            Ok(l) => l.starts_with("FAIL\t"),
        };
        c.check(
            &format!("{what}: that connection ends or that request fails"),
            ended,
            &format!("{r:?}"),
        );
    }

    if auth.target == Target::Saslmech {
        // "…ends that connection or that request with a clear log line": one per bad connection.
        let log = wait_for_log(&auth, "closing connection", 2);
        c.check(
            "the daemon logged why it closed the garbage and over-long-line connections",
            log.is_some(),
            "fewer than 2 `closing connection` lines",
        );
    }

    let mut latencies = Vec::new();
    let mut direct = AuthClient::unix(&auth.unix).expect("second connection");
    for i in 0..20u32 {
        let t = Instant::now();
        let r = direct.plain(i + 1, BOB.0, BOB.1);
        latencies.push(t.elapsed());
        let ok = matches!(&r, Ok(l) if l.starts_with(&format!("OK\t{}\t", i + 1)));
        c.check(
            &format!("direct login {i} during the flood"),
            ok,
            &format!("{r:?}"),
        );
    }
    let t = Instant::now();
    let r = swaks(&Via::Tcp(pf.port), "PLAIN", CAROL.0, CAROL.1);
    let swaks_time = t.elapsed();
    c.expect("swaks PLAIN through Postfix during the flood", 235, &r);
    let r = swaks(&Via::Tcp(pf.port), "CRAM-MD5", ALICE.0, ALICE.1);
    c.expect("swaks CRAM-MD5 through Postfix during the flood", 235, &r);
    let max = latencies.iter().max().copied().unwrap_or_default();
    eprintln!("flood: direct logins max {max:?}; swaks {swaks_time:?}");
    c.check(
        "direct logins stayed fast during the flood (max < 2 s)",
        max < Duration::from_secs(2),
        &format!("{max:?}"),
    );

    drain_tx.send(()).expect("drain");
    let (sent, ok) = flooder.join().expect("flooder");
    c.check(
        "every flooded request was answered OK once the flooder read again",
        ok == sent,
        &format!("{ok} OK of {sent}"),
    );
    let r = AuthClient::unix(&auth.unix).and_then(|mut a| a.plain(7, ALICE.0, ALICE.1));
    c.check(
        "a new direct connection after the flood",
        matches!(&r, Ok(l) if l.starts_with("OK\t7\t")),
        &format!("{r:?}"),
    );
    c.finish("postfix_flood_on_one_connection");
}

/// The daemon's default policy (`plaintext_without_tls = false`): Postfix marks AUTH requests
/// `secured` on STARTTLS sessions, so PLAIN and LOGIN work there and are refused on plain-text
/// sessions, while CRAM-MD5 and SCRAM work on both.
#[test]
fn postfix_tls_marks_secured() {
    let auth = AuthServer::start(&Options {
        plaintext_without_tls: false,
        ..Options::default()
    });
    let pf = Postfix::start_tls(&auth.unix_path());
    let via = Via::Tcp(pf.port);
    let mut c = Checks::default();
    c.expect(
        "STARTTLS, swaks PLAIN",
        235,
        &swaks_tls(&via, "PLAIN", ALICE.0, ALICE.1),
    );
    c.expect(
        "STARTTLS, swaks LOGIN",
        235,
        &swaks_tls(&via, "LOGIN", BOB.0, BOB.1),
    );
    c.expect(
        "STARTTLS, swaks PLAIN wrong password",
        535,
        &swaks_tls(&via, "PLAIN", ALICE.0, "wrong"),
    );
    let r = swaks(&via, "PLAIN", ALICE.0, ALICE.1);
    c.expect("no TLS, swaks PLAIN refused", 535, &r);
    c.check(
        "no TLS: the refusal says why",
        r.line.contains("Plaintext authentication disallowed")
            || r.line.to_lowercase().contains("tls"),
        &r.line,
    );
    c.expect(
        "no TLS, swaks CRAM-MD5",
        235,
        &swaks(&via, "CRAM-MD5", ALICE.0, ALICE.1),
    );
    let (r, _) = gsasl_smtp(pf.port, "SCRAM-SHA-256", CAROL.0, CAROL.1);
    c.expect("no TLS, gsasl SCRAM-SHA-256", 235, &r);
    c.finish("postfix_tls_marks_secured");
}

/// Waits up to 5 s for `n` lines of the daemon's log containing `needle`.
fn wait_for_log(auth: &AuthServer, needle: &str, n: usize) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let log = auth.log_text();
        if log.lines().filter(|l| l.contains(needle)).count() >= n {
            return Some(log);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
