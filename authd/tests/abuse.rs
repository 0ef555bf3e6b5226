//! Failure delay, per-IP throttling, and floods on one connection while others log in.

mod util;

use std::io::Write;
use std::time::{Duration, Instant};

use util::{Daemon, b64};

const USERS: &str = "tim:{PLAIN}tanstaaftanstaaf\n";
const AUTH: &str = "mechanisms = [\"PLAIN\", \"LOGIN\"]\n";

#[test]
fn failure_delay_holds_back_only_the_failure() {
    let d = Daemon::start(&format!("{AUTH}failure_delay_ms = 600\n"), USERS, "");
    let mut c = d.client();
    let mut other = d.client();
    let t = Instant::now();
    let ir = b64(b"\0tim\0wrong");
    c.send(&format!("AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp={ir}"));
    // A success sent after the failure, on the same connection, overtakes it.
    assert_eq!(
        c.plain(2, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t2\tuser=tim"
    );
    assert_eq!(
        other.plain(1, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t1\tuser=tim"
    );
    let fast = t.elapsed();
    assert!(
        fast < Duration::from_millis(600),
        "successes waited {fast:?}"
    );
    assert_eq!(c.recv(), "FAIL\t1\tuser=tim");
    let slow = t.elapsed();
    assert!(
        slow >= Duration::from_millis(600),
        "the failure came after {slow:?}"
    );
    // Many failures at once are all held back together, not one after the other.
    let t = Instant::now();
    for id in 10..20 {
        c.send(&format!(
            "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={ir}"
        ));
    }
    for _ in 10..20 {
        assert!(c.recv().starts_with("FAIL\t"));
    }
    let all = t.elapsed();
    assert!(
        all >= Duration::from_millis(600) && all < Duration::from_millis(3000),
        "{all:?}"
    );
}

#[test]
fn throttle_per_remote_ip() {
    let d = Daemon::start(AUTH, USERS, "[throttle]\nmax_failures = 3\nwindow_s = 60\n");
    let mut c = d.client();
    for id in 1..=3 {
        assert_eq!(
            c.plain(id, "tim", "wrong", "192.0.2.9"),
            format!("FAIL\t{id}\tuser=tim")
        );
    }
    // The right password from the throttled address fails, without a password check.
    assert_eq!(
        c.plain(4, "tim", "tanstaaftanstaaf", "192.0.2.9"),
        "FAIL\t4\tuser=tim"
    );
    assert!(d.wait_log(|l| l.contains("id=4") && l.contains("throttled")));
    // Other addresses are not affected, on this connection or another.
    assert_eq!(
        c.plain(5, "tim", "tanstaaftanstaaf", "192.0.2.10"),
        "OK\t5\tuser=tim"
    );
    let mut other = d.client();
    assert_eq!(
        other.plain(1, "tim", "tanstaaftanstaaf", "198.51.100.1"),
        "OK\t1\tuser=tim"
    );
    // IPv4-mapped IPv6 is the same address.
    assert_eq!(
        other.plain(2, "tim", "tanstaaftanstaaf", "::ffff:192.0.2.9"),
        "FAIL\t2\tuser=tim"
    );
    // `no-penalty` skips the throttle (Dovecot's AUTH parameter).
    let ir = b64(b"\0tim\0tanstaaftanstaaf");
    other.send(&format!(
        "AUTH\t3\tPLAIN\tservice=smtp\tsecured\tno-penalty\trip=192.0.2.9\tresp={ir}"
    ));
    assert_eq!(other.recv(), "OK\t3\tuser=tim");
    // Without rip= (Exim -bs: rip=NULL) there is nothing to throttle by.
    for id in 10..15 {
        let ir = b64(b"\0tim\0wrong");
        other.send(&format!(
            "AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\trip=NULL\tlip=NULL\tresp={ir}"
        ));
        assert_eq!(other.recv(), format!("FAIL\t{id}\tuser=tim"));
    }
    other.send(&format!(
        "AUTH\t20\tPLAIN\tservice=smtp\tsecured\trip=NULL\tlip=NULL\tresp={ir}"
    ));
    assert_eq!(other.recv(), "OK\t20\tuser=tim");
}

#[test]
fn throttle_window_ends() {
    let d = Daemon::start(AUTH, USERS, "[throttle]\nmax_failures = 1\nwindow_s = 1\n");
    let mut c = d.client();
    assert_eq!(c.plain(1, "tim", "wrong", "192.0.2.1"), "FAIL\t1\tuser=tim");
    assert_eq!(
        c.plain(2, "tim", "tanstaaftanstaaf", "192.0.2.1"),
        "FAIL\t2\tuser=tim"
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        c.plain(3, "tim", "tanstaaftanstaaf", "192.0.2.1"),
        "OK\t3\tuser=tim"
    );
}

/// One connection floods the daemon (and never reads its replies) while another logs in.
#[test]
fn flood_on_one_connection_while_another_logs_in() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut flooder = d.tcp();
    flooder.handshake();
    let port = d.port;
    let flood = std::thread::spawn(move || {
        let _keep = flooder;
        // A raw second handle, writing as fast as it can until the daemon stops reading.
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut sent = 0usize;
        let mut buf = Vec::new();
        buf.extend_from_slice(b"VERSION\t1\t0\nCPID\t1\n");
        let wrong = b64(b"\0tim\0wrong");
        let mut id = 0u32;
        let end = Instant::now() + Duration::from_secs(4);
        while Instant::now() < end {
            // Valid requests, each finishing at once (so never too many in flight), whose
            // replies are never read.
            for _ in 0..1000 {
                id += 1;
                buf.extend_from_slice(
                    format!("AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={wrong}\n").as_bytes(),
                );
            }
            match s.write_all(&buf) {
                Ok(()) => sent += buf.len(),
                Err(_) => break,
            }
            buf.clear();
        }
        sent
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut c = d.client();
    for id in 1..=50 {
        let t = Instant::now();
        assert_eq!(
            c.plain(id, "tim", "tanstaaftanstaaf", "127.0.0.1"),
            format!("OK\t{id}\tuser=tim")
        );
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "login {id} took {:?}",
            t.elapsed()
        );
    }
    let sent = flood.join().unwrap();
    assert!(sent > 100_000, "the flood wrote only {sent} bytes");
    // A new connection still works after the flood.
    let mut c = d.client();
    assert_eq!(
        c.plain(1, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t1\tuser=tim"
    );
}

/// Many connections logging in at once, each with several requests in flight.
#[test]
fn many_connections_in_parallel() {
    let d = Daemon::start(AUTH, USERS, "");
    let port = d.port;
    let threads: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(util::TIMEOUT)).unwrap();
                let mut w = s.try_clone().unwrap();
                let mut r = std::io::BufReader::new(s);
                let mut line = String::new();
                loop {
                    line.clear();
                    assert!(std::io::BufRead::read_line(&mut r, &mut line).unwrap() > 0);
                    if line == "DONE\n" {
                        break;
                    }
                }
                w.write_all(b"VERSION\t1\t0\nCPID\t1\n").unwrap();
                let ok = b64(b"\0tim\0tanstaaftanstaaf");
                let mut n = 0;
                for round in 0..20u32 {
                    for k in 0..5u32 {
                        let id = round * 5 + k + 1;
                        w.write_all(
                            format!("AUTH\t{id}\tPLAIN\tservice=smtp\tsecured\tresp={ok}\n")
                                .as_bytes(),
                        )
                        .unwrap();
                    }
                    for _ in 0..5 {
                        line.clear();
                        assert!(std::io::BufRead::read_line(&mut r, &mut line).unwrap() > 0);
                        assert!(
                            line.starts_with("OK\t") && line.ends_with("\tuser=tim\n"),
                            "{line}"
                        );
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 16 * 100);
}

#[test]
fn flood_of_unknown_ids_ends_that_connection() {
    let d = Daemon::start(AUTH, USERS, "");
    let mut good = d.client();
    let mut c = d.client();
    for i in 0..16 {
        c.send(&format!("CONT\t{i}\tAAAA"));
        assert_eq!(
            c.recv(),
            format!("FAIL\t{i}\treason=Authentication request timed out")
        );
    }
    c.send("CONT\t99\tAAAA");
    assert!(c.closed());
    assert!(d.wait_log(|l| l.contains("closing connection") && l.contains("unknown request ids")));
    assert_eq!(
        good.plain(1, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t1\tuser=tim"
    );
}

/// Beyond max_connections clients wait in the listen queue; reloads still happen.
#[test]
fn max_connections_queue_and_reload_meanwhile() {
    use std::io::Read;
    let d = Daemon::start(&format!("{AUTH}max_connections = 2\n"), USERS, "");
    let mut a = d.client();
    let b = d.client();
    let mut third = std::net::TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let r = third.read(&mut buf);
    assert!(r.is_err(), "the third connection was served: {r:?}");
    d.signal("HUP");
    assert!(d.wait_log(|l| l.contains("reloaded configuration")));
    assert_eq!(
        a.plain(1, "tim", "tanstaaftanstaaf", "127.0.0.1"),
        "OK\t1\tuser=tim"
    );
    drop(b);
    third.set_read_timeout(Some(util::TIMEOUT)).unwrap();
    let n = third.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"VERSION\t1\t"), "{:?}", &buf[..n]);
}
