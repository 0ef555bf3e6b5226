//! `authd-load`, the benchmark's load generator, against the daemon: both drivers, both
//! mechanisms, over the UNIX socket and TCP, counting what it did and reporting failures
//! as failures.

mod util;

use std::collections::HashMap;
use std::process::Command;

use util::{Daemon, TIMEOUT};

const LOAD: &str = env!("CARGO_BIN_EXE_authd-load");
const BIN: &str = env!("CARGO_BIN_EXE_saslmech-authd");

fn hash(scheme: &str, pass: &str) -> String {
    let out = Command::new(BIN)
        .args(["hash", "-s", scheme, "-p", pass])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn daemon() -> Daemon {
    let users = format!(
        "plain@example.com:{{PLAIN}}plain-secret\nscram@example.com:{}\n",
        hash("SCRAM-SHA-256", "scram-secret")
    );
    Daemon::start("mechanisms = [\"PLAIN\", \"SCRAM-SHA-256\"]\n", &users, "")
}

struct Run {
    success: bool,
    result: HashMap<String, String>,
    stderr: String,
}

/// Run authd-load with these arguments, measuring process `pid` (bounded: its own 10 s I/O
/// timeout per read).
fn load(pid: u32, target: &[&str], args: &[&str]) -> Run {
    let pid = pid.to_string();
    let started = std::time::Instant::now();
    let out = Command::new(LOAD)
        .args(target)
        .args(["--pid", &pid, "--label", "test"])
        .args(args)
        .output()
        .unwrap();
    assert!(started.elapsed() < TIMEOUT * 3, "authd-load took too long");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = stdout
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in {stdout:?}"));
    let result = line
        .split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Run {
        success: out.status.success(),
        result,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn unix(d: &Daemon) -> Vec<String> {
    vec!["--unix".into(), d.socket.display().to_string()]
}

fn tcp(d: &Daemon) -> Vec<String> {
    vec!["--tcp".into(), format!("127.0.0.1:{}", d.port)]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn both_drivers_log_in_with_plain_and_scram() {
    let d = daemon();
    let logins_before = d.count_log(|l| l.contains("result=\"ok\""));
    let mut expected_ok = 0;
    for driver in [
        &["--driver", "threads"][..],
        &["--driver", "events", "--loops", "2"],
    ] {
        for (mech, user, pass) in [
            ("PLAIN", "plain@example.com", "plain-secret"),
            ("SCRAM-SHA-256", "scram@example.com", "scram-secret"),
        ] {
            for target in [unix(&d), tcp(&d)] {
                // 50 logins over 4 connections: 13 each, 52 in all.
                let mut args = vec![
                    "--mech", mech, "--user", user, "--pass", pass, "--conns", "4", "--count", "50",
                ];
                args.extend_from_slice(driver);
                let r = load(d.child.id(), &strs(&target), &args);
                assert!(r.success, "{mech} {driver:?}: {}", r.stderr);
                assert_eq!(r.result["logins"], "52", "{mech} {driver:?}");
                assert_eq!(r.result["ok"], "52", "{mech} {driver:?}");
                assert_eq!(r.result["fail"], "0");
                assert_eq!(r.result["errors"], "0", "{}", r.stderr);
                assert_eq!(r.result["mech"], mech);
                let want = if driver[1] == "events" {
                    "events/2"
                } else {
                    "threads"
                };
                assert_eq!(r.result["driver"], want);
                assert!(r.result["rss_kb"].parse::<u64>().unwrap() > 0);
                expected_ok += 52;
            }
        }
    }
    // The daemon logged every one of those logins (its log thread writes in batches).
    let logged = || d.count_log(|l| l.contains("result=\"ok\"")) - logins_before;
    let end = std::time::Instant::now() + TIMEOUT;
    while logged() < expected_ok && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(logged(), expected_ok);
}

#[test]
fn wrong_password_counts_failures_and_exits_non_zero() {
    let d = daemon();
    for driver in ["threads", "events"] {
        for (mech, user) in [
            ("PLAIN", "plain@example.com"),
            ("SCRAM-SHA-256", "scram@example.com"),
        ] {
            let r = load(
                d.child.id(),
                &strs(&unix(&d)),
                &[
                    "--mech", mech, "--user", user, "--pass", "wrong", "--conns", "2", "--count",
                    "6", "--driver", driver,
                ],
            );
            assert!(!r.success, "{mech} {driver}");
            assert!(r.stderr.contains("no successful login"), "{}", r.stderr);
            assert_eq!(r.result["ok"], "0");
            assert_eq!(r.result["fail"], "6", "{mech} {driver}");
            assert_eq!(r.result["errors"], "0");
        }
    }
}

#[test]
fn a_vanished_daemon_is_an_error_not_a_hang() {
    let d = daemon();
    let (target, pid) = (unix(&d), d.child.id());
    assert!(d.stop().success());
    for driver in ["threads", "events"] {
        let r = load(
            pid,
            &strs(&target),
            &["--count", "4", "--conns", "2", "--driver", driver],
        );
        assert!(!r.success);
        assert_eq!(r.result["logins"], "0");
        // One error per connection that could not open, counted once.
        assert_eq!(r.result["errors"], "2", "{driver}: {}", r.stderr);
        assert!(r.stderr.contains("connect"), "{}", r.stderr);
    }
}
