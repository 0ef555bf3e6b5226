//! The demo submission server (`examples/submission.rs`) against real mail clients: swaks,
//! curl, msmtp, python3's smtplib and `gsasl --smtp`, plus the crate's own SMTP client
//! adapter over a raw socket.
//!
//! Each test starts the server on an ephemeral loopback port. A missing client fails the test
//! naming the Debian package (`scripts/install-deps.sh` installs them); nothing is skipped.
//! Every client runs under `timeout`, every socket has a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use saslmech::proto::ClientEvent;
use saslmech::proto::smtp::SmtpClient;
use saslmech::{Credentials, Mechanism};

const USER: &str = "demo@example.com";
const PASSWORD: &str = "demo-password";
const TOKEN: &str = "demo-token";
const CLIENT_TIMEOUT: &str = "30";

// ---------------------------------------------------------------------------------------
// The server under test

struct Server {
    child: Child,
    addr: String,
    spool: PathBuf,
    cert: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.spool);
    }
}

fn example_binary() -> PathBuf {
    static BUILD: Once = Once::new();
    // target/debug/deps/<this test> -> target/debug/examples/submission
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join("submission");
    BUILD.call_once(|| {
        // `cargo test` builds examples, `cargo test --test NAME` does not: make sure it is
        // there and current.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        // Variables cargo sets for this test process would make build scripts that watch
        // them (ring's) rebuild: run cargo with the environment of a shell.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("CARGO_PKG_")
                || key.starts_with("CARGO_MANIFEST_")
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "OUT_DIR",
                ]
                .contains(&key.as_ref())
            {
                build.env_remove(key.as_ref());
            }
        }
        let status = build
            .args(["build", "--quiet", "--example", "submission"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --example submission");
        assert!(status.success(), "cargo build --example submission failed");
    });
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(example_binary())
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the submission example");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        // Read the banner until `listening on ADDR` (bounded: the server prints a few lines).
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut addr, mut spool, mut cert) = (None, None, None);
        let mut banner = String::new();
        for _ in 0..20 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            banner.push_str(&line);
            let line = line.trim_end();
            if let Some(d) = line.strip_prefix("messages are written to ") {
                spool = Some(PathBuf::from(d));
            }
            if let Some(c) = line.strip_prefix("TLS certificate (self-signed, made at start): ") {
                cert = Some(PathBuf::from(c));
            }
            if let Some(a) = line.strip_prefix("listening on ") {
                addr = Some(a.to_owned());
                break;
            }
        }
        // Drain the rest of stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
        });
        let addr = addr.unwrap_or_else(|| panic!("no `listening on` line in:\n{banner}"));
        assert!(
            addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
            "{addr}"
        );
        Server {
            child,
            addr,
            spool: spool.expect("spool directory line"),
            cert: cert.expect("certificate line"),
            log,
        }
    }

    fn host(&self) -> &str {
        self.addr.split(':').next().unwrap()
    }

    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap()
    }

    /// The delivered message whose body contains `marker`.
    fn delivered(&self, marker: &str) -> Option<String> {
        for entry in std::fs::read_dir(&self.spool).ok()? {
            let path = entry.ok()?.path();
            if path.extension().is_some_and(|e| e == "eml") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if text.contains(marker) {
                    return Some(text);
                }
            }
        }
        None
    }

    fn assert_delivered(&self, marker: &str, what: &str) {
        let msg = self.delivered(marker).unwrap_or_else(|| {
            panic!(
                "{what}: no message containing {marker} in {}\nserver log:\n{}",
                self.spool.display(),
                self.log.lock().unwrap()
            )
        });
        assert!(
            msg.contains(&format!("X-Authenticated-As: {USER}")),
            "{what}: {msg}"
        );
        assert!(
            msg.contains("X-Envelope-To: <friend@example.com>"),
            "{what}: {msg}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Running clients

/// Fail loudly if a client is missing.
fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is not installed: install the Debian package `{package}` (scripts/install-deps.sh)"
    );
}

/// Run `program args` under `timeout`, feeding `stdin`; stdout and stderr together.
fn run(program: &str, args: &[&str], stdin: &str) -> (Output, String) {
    let mut child = Command::new("timeout")
        .args(["-k", "5", CLIENT_TIMEOUT, program])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(data.as_bytes());
    });
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(20),
        "{program} took {elapsed:?}"
    );
    assert_ne!(out.status.code(), Some(124), "{program} {args:?} timed out");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn marker(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("marker-{tag}-{}-{n}", std::process::id())
}

fn message(marker: &str) -> String {
    format!("From: {USER}\r\nTo: friend@example.com\r\nSubject: {marker}\r\n\r\nbody {marker}\r\n")
}

/// One client invocation to run in parallel with others.
type Job<'a, T> = Box<dyn FnOnce() -> T + Send + 'a>;

/// Run several client invocations in parallel, returning their results in order.
fn parallel<T: Send>(jobs: Vec<Job<'_, T>>) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs.into_iter().map(|j| s.spawn(j)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

// ---------------------------------------------------------------------------------------
// swaks

fn swaks(server: &Server, mech: &str, password: &str, tls: bool, marker: &str) -> (Output, String) {
    let mut args = vec![
        "--server",
        &server.addr,
        "--auth",
        mech,
        "--auth-user",
        USER,
        "--auth-password",
        password,
        "--from",
        USER,
        "--to",
        "friend@example.com",
        "--header",
    ];
    let subject = format!("Subject: {marker}");
    args.push(&subject);
    if tls {
        args.push("--tls");
    }
    run("swaks", &args, "")
}

#[test]
fn swaks_with_starttls_and_insecure() {
    require("swaks", "swaks");
    let server = Server::start(&[]);
    let insecure = Server::start(&["--allow-insecure-auth"]);
    let mechs = ["PLAIN", "LOGIN", "CRAM-MD5"];
    let mut jobs: Vec<Job<'_, (String, (Output, String))>> = Vec::new();
    for m in mechs {
        let (s, i) = (&server, &insecure);
        let (m1, m2, m3) = (
            marker("swaks-tls"),
            marker("swaks-insecure"),
            marker("swaks-wrong"),
        );
        jobs.push(Box::new(move || {
            (m1.clone(), swaks(s, m, PASSWORD, true, &m1))
        }));
        jobs.push(Box::new(move || {
            (m2.clone(), swaks(i, m, PASSWORD, false, &m2))
        }));
        jobs.push(Box::new(move || {
            (m3.clone(), swaks(s, m, "wrong-password", true, &m3))
        }));
    }
    let results = parallel(jobs);
    for (i, m) in mechs.iter().enumerate() {
        for (j, srv) in [&server, &insecure].into_iter().enumerate() {
            let (marker, (out, text)) = &results[i * 3 + j];
            let what = format!("swaks {m} {}", ["STARTTLS", "--allow-insecure-auth"][j]);
            assert!(out.status.success(), "{what}:\n{text}");
            assert!(
                text.contains("235 2.7.0 Authentication successful"),
                "{what}:\n{text}"
            );
            srv.assert_delivered(marker, &what);
        }
        let (_, (out, text)) = &results[i * 3 + 2];
        assert!(!out.status.success(), "swaks {m} wrong password:\n{text}");
        assert!(
            text.contains("535 5.7.8 Authentication credentials invalid"),
            "swaks {m}:\n{text}"
        );
    }
    // Habit: swaks sends PLAIN's initial response with the command.
    let (_, text) = &results[0].1;
    assert!(
        text.contains("AUTH PLAIN AGRlbW9AZXhhbXBsZS5jb20AZGVtby1wYXNzd29yZA=="),
        "{text}"
    );

    // Without TLS and without --allow-insecure-auth, PLAIN is not advertised, so swaks does
    // not even try; CRAM-MD5 is, and works.
    let (out, text) = swaks(&server, "PLAIN", PASSWORD, false, &marker("x"));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("250-AUTH CRAM-MD5\r") || text.contains("250-AUTH CRAM-MD5\n"),
        "{text}"
    );
    assert!(!text.contains("AUTH PLAIN"), "{text}");
    let m = marker("swaks-cram-plaintext");
    let (out, text) = swaks(&server, "CRAM-MD5", PASSWORD, false, &m);
    assert!(out.status.success(), "{text}");
    server.assert_delivered(&m, "swaks CRAM-MD5 without TLS");
}

// ---------------------------------------------------------------------------------------
// curl

fn curl(
    server: &Server,
    mech: &str,
    secret: &str,
    sasl_ir: bool,
    marker: &str,
) -> (Output, String) {
    let url = format!("smtp://{}", server.addr);
    let userpass = format!("{USER}:{secret}");
    let login = format!("AUTH={mech}");
    let mut args = vec!["-v", "--url", &url, "--ssl-reqd", "-k", "--mail-from", USER];
    args.extend(["--mail-rcpt", "friend@example.com", "-T", "-"]);
    if mech == "XOAUTH2" {
        args.extend(["--user", USER, "--oauth2-bearer", secret]);
    } else {
        args.extend(["--user", &userpass, "--login-options", &login]);
    }
    if sasl_ir {
        args.push("--sasl-ir");
    }
    run("curl", &args, &message(marker))
}

#[test]
fn curl_every_mechanism_with_and_without_sasl_ir() {
    require("curl", "curl");
    let server = Server::start(&[]);
    let mechs = ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"];
    let mut jobs: Vec<Job<'_, (String, (Output, String))>> = Vec::new();
    for m in mechs {
        let secret = if m == "XOAUTH2" { TOKEN } else { PASSWORD };
        for ir in [false, true] {
            let s = &server;
            let mk = marker("curl");
            jobs.push(Box::new(move || (mk.clone(), curl(s, m, secret, ir, &mk))));
        }
        let s = &server;
        let wrong = if m == "XOAUTH2" {
            "wrong-token"
        } else {
            "wrong-password"
        };
        jobs.push(Box::new(move || {
            (String::new(), curl(s, m, wrong, true, "never"))
        }));
    }
    let results = parallel(jobs);
    for (i, m) in mechs.iter().enumerate() {
        for (k, ir) in [false, true].into_iter().enumerate() {
            let (marker, (out, text)) = &results[i * 3 + k];
            let what = format!("curl {m} sasl-ir={ir}");
            assert!(out.status.success(), "{what}:\n{text}");
            assert!(
                text.contains("< 235 2.7.0 Authentication successful"),
                "{what}:\n{text}"
            );
            server.assert_delivered(marker, &what);
            let sent_ir = text.lines().any(|l| l.starts_with(&format!("> AUTH {m} ")));
            // curl sends an initial response only with --sasl-ir; for LOGIN it is the user
            // name (a habit the server must accept), CRAM-MD5 never has one.
            assert_eq!(sent_ir, ir && *m != "CRAM-MD5", "{what}:\n{text}");
        }
        let (_, (out, text)) = &results[i * 3 + 2];
        let what = format!("curl {m} wrong secret");
        assert_eq!(out.status.code(), Some(67), "{what}:\n{text}");
        if *m == "XOAUTH2" {
            // The error challenge goes out; curl drops the connection instead of answering.
            assert!(
                text.contains("< 334 eyJzdGF0dXMiOiI0MDEi"),
                "{what}:\n{text}"
            );
        } else {
            assert!(
                text.contains("< 535 5.7.8 Authentication credentials invalid"),
                "{what}:\n{text}"
            );
        }
    }
    let (_, text) = &results[4].1; // LOGIN with --sasl-ir
    assert!(
        text.contains("> AUTH LOGIN ZGVtb0BleGFtcGxlLmNvbQ=="),
        "{text}"
    );
    // The dropped XOAUTH2 connection did not hurt the server.
    let m = marker("curl-after");
    let (out, text) = curl(&server, "PLAIN", PASSWORD, true, &m);
    assert!(out.status.success(), "{text}");
    server.assert_delivered(&m, "curl after a dropped connection");
}

// ---------------------------------------------------------------------------------------
// msmtp

fn msmtp(server: &Server, mech: &str, secret: &str, marker: &str) -> (Output, String) {
    let host = format!("--host={}", server.host());
    let port = format!("--port={}", server.port());
    let auth = format!("--auth={mech}");
    let user = format!("--user={USER}");
    let pass = format!("--passwordeval=echo {secret}");
    let from = format!("--from={USER}");
    let args = [
        "-v",
        &host,
        &port,
        "--tls=on",
        "--tls-starttls=on",
        "--tls-certcheck=off",
        &auth,
        &user,
        &pass,
        &from,
        "friend@example.com",
    ];
    run("msmtp", &args, &message(marker))
}

#[test]
fn msmtp_every_mechanism() {
    require("msmtp", "msmtp");
    let server = Server::start(&[]);
    let mechs = ["plain", "login", "cram-md5", "xoauth2"];
    let mut jobs: Vec<Job<'_, (String, (Output, String))>> = Vec::new();
    for m in mechs {
        let (good, bad) = if m == "xoauth2" {
            (TOKEN, "wrong-token")
        } else {
            (PASSWORD, "wrong-password")
        };
        let s = &server;
        let mk = marker("msmtp");
        jobs.push(Box::new(move || (mk.clone(), msmtp(s, m, good, &mk))));
        jobs.push(Box::new(move || (String::new(), msmtp(s, m, bad, "never"))));
    }
    let results = parallel(jobs);
    for (i, m) in mechs.iter().enumerate() {
        let (marker, (out, text)) = &results[i * 2];
        let what = format!("msmtp {m}");
        assert!(out.status.success(), "{what}:\n{text}");
        assert!(
            text.contains("<-- 235 2.7.0 Authentication successful"),
            "{what}:\n{text}"
        );
        server.assert_delivered(marker, &what);
        let (_, (out, text)) = &results[i * 2 + 1];
        assert!(!out.status.success(), "{what} wrong:\n{text}");
        assert!(
            text.contains("<-- 535 5.7.8 Authentication credentials invalid"),
            "{what} wrong:\n{text}"
        );
    }
    // Habits: msmtp sends PLAIN's initial response; it answers the XOAUTH2 error challenge
    // with an empty line before the 535.
    assert!(
        results[0]
            .1
            .1
            .contains("--> AUTH PLAIN AGRlbW9AZXhhbXBsZS5jb20AZGVtby1wYXNzd29yZA==")
    );
    let xo_wrong = &results[7].1.1;
    assert!(
        xo_wrong.contains("<-- 334 eyJzdGF0dXMiOiI0MDEi"),
        "{xo_wrong}"
    );
    assert!(xo_wrong.lines().any(|l| l == "--> "), "{xo_wrong}");
}

// ---------------------------------------------------------------------------------------
// python3 smtplib

const SMTPLIB: &str = r#"
import smtplib, ssl, sys
host, port, mode, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(host, port, timeout=20)
s.set_debuglevel(1)
if mode != "plaintext":
    s.starttls(context=ctx)
s.ehlo()
def auth(mech, user, password):
    s.user, s.password = user, password
    obj = getattr(s, "auth_" + mech.lower().replace("-", "_"))
    try:
        code, resp = s.auth(mech, obj, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as e:
        code, resp = e.smtp_code, e.smtp_error
    print("RESULT", mech, code, resp.decode(), flush=True)
    return code
for mech in ["PLAIN", "LOGIN", "CRAM-MD5"]:
    if mode == "plaintext":
        auth(mech, "demo@example.com", "demo-password")
        continue
    auth(mech, "demo@example.com", "wrong-password")
    if auth(mech, "demo@example.com", "demo-password") == 235:
        s.sendmail("demo@example.com", ["friend@example.com"],
                   "Subject: %s-%s\r\n\r\nbody\r\n" % (marker, mech))
    s.rset()
    # A new connection for the next mechanism: the server refuses a second AUTH (503).
    s.quit()
    s = smtplib.SMTP(host, port, timeout=20)
    s.starttls(context=ctx)
    s.ehlo()
    s.set_debuglevel(1)
s.quit()
"#;

#[test]
fn python_smtplib_retry_on_the_same_connection_and_538() {
    require("python3", "python3");
    let server = Server::start(&[]);
    let insecure = Server::start(&["--allow-insecure-auth"]);
    let mk = marker("smtplib");
    let results = parallel(vec![
        Box::new(|| {
            run(
                "python3",
                &["-c", SMTPLIB, server.host(), server.port(), "tls", &mk],
                "",
            )
        }),
        Box::new(|| {
            run(
                "python3",
                &[
                    "-c",
                    SMTPLIB,
                    server.host(),
                    server.port(),
                    "plaintext",
                    "x",
                ],
                "",
            )
        }),
        Box::new(|| {
            run(
                "python3",
                &[
                    "-c",
                    SMTPLIB,
                    insecure.host(),
                    insecure.port(),
                    "plaintext",
                    "x",
                ],
                "",
            )
        }),
    ]);
    let (out, text) = &results[0];
    assert!(out.status.success(), "{text}");
    for m in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        // Wrong then right, on the same connection.
        let wrong = format!("RESULT {m} 535 5.7.8 Authentication credentials invalid");
        let right = format!("RESULT {m} 235 2.7.0 Authentication successful");
        let (w, r) = (text.find(&wrong), text.find(&right));
        assert!(w.is_some() && r.is_some() && w < r, "smtplib {m}:\n{text}");
        server.assert_delivered(&format!("{mk}-{m}"), &format!("smtplib {m}"));
    }
    // Habit: smtplib sends LOGIN's user name as an initial response.
    assert!(
        text.contains("AUTH LOGIN ZGVtb0BleGFtcGxlLmNvbQ=="),
        "{text}"
    );

    // Before STARTTLS: PLAIN and LOGIN get 538; CRAM-MD5 is allowed.
    let (out, text) = &results[1];
    assert!(out.status.success(), "{text}");
    for m in ["PLAIN", "LOGIN"] {
        let line = format!(
            "RESULT {m} 538 5.7.11 Encryption required for requested authentication mechanism"
        );
        assert!(text.contains(&line), "smtplib {m} before STARTTLS:\n{text}");
    }
    assert!(text.contains("RESULT CRAM-MD5 235"), "{text}");
    // Unless the operator allows it.
    let (out, text) = &results[2];
    assert!(out.status.success(), "{text}");
    assert!(text.contains("RESULT PLAIN 235 2.7.0"), "{text}");
}

// ---------------------------------------------------------------------------------------
// gsasl --smtp

fn gsasl(server: &Server, mech: &str, password: &str, starttls: bool) -> (Output, String) {
    let cert = server.cert.to_str().unwrap().to_owned();
    let mut args = vec![
        "--smtp",
        "--connect",
        &server.addr,
        "-m",
        mech,
        "-a",
        USER,
        "-p",
        password,
    ];
    if starttls {
        args.extend(["--x509-ca-file", &cert]);
    } else {
        args.push("--no-starttls");
    }
    run("gsasl", &args, "")
}

#[test]
fn gsasl_smtp_every_mechanism() {
    require("gsasl", "gsasl");
    let server = Server::start(&[]);
    let insecure = Server::start(&["--allow-insecure-auth"]);
    let mechs = ["PLAIN", "LOGIN", "CRAM-MD5"];
    let mut jobs: Vec<Job<'_, (Output, String)>> = Vec::new();
    for m in mechs {
        let (s, i) = (&server, &insecure);
        jobs.push(Box::new(move || gsasl(s, m, PASSWORD, true)));
        jobs.push(Box::new(move || gsasl(s, m, "wrong-password", true)));
        jobs.push(Box::new(move || gsasl(i, m, PASSWORD, false)));
    }
    jobs.push(Box::new(|| gsasl(&server, "PLAIN", PASSWORD, false)));
    jobs.push(Box::new(|| gsasl(&server, "LOGIN", PASSWORD, false)));
    let results = parallel(jobs);
    for (i, m) in mechs.iter().enumerate() {
        let (out, text) = &results[i * 3];
        assert!(out.status.success(), "gsasl {m} STARTTLS:\n{text}");
        assert!(
            text.contains("235 2.7.0 Authentication successful"),
            "gsasl {m}:\n{text}"
        );
        assert!(
            !text.contains("AUTH PLAIN "),
            "gsasl never sends an initial response:\n{text}"
        );
        let (out, text) = &results[i * 3 + 1];
        assert_eq!(out.status.code(), Some(1), "gsasl {m} wrong:\n{text}");
        assert!(
            text.contains("535 5.7.8 Authentication credentials invalid"),
            "gsasl {m} wrong:\n{text}"
        );
        let (out, text) = &results[i * 3 + 2];
        assert!(
            out.status.success(),
            "gsasl {m} --allow-insecure-auth:\n{text}"
        );
        assert!(
            text.contains("235 2.7.0"),
            "gsasl {m} --allow-insecure-auth:\n{text}"
        );
    }
    for (k, m) in ["PLAIN", "LOGIN"].iter().enumerate() {
        let (out, text) = &results[9 + k];
        assert!(!out.status.success(), "gsasl {m} before STARTTLS:\n{text}");
        assert!(
            text.contains("538 5.7.11 Encryption required for requested authentication mechanism"),
            "gsasl {m} before STARTTLS:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The crate's own client adapter over a raw socket, and abuse

struct Raw {
    stream: BufReader<TcpStream>,
}

impl Raw {
    fn connect(server: &Server) -> Raw {
        let s = TcpStream::connect(&server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut raw = Raw {
            stream: BufReader::new(s),
        };
        assert!(raw.line().starts_with("220 "));
        raw
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.stream.read_line(&mut l).unwrap();
        l
    }

    /// Send a command, return the reply's lines.
    fn cmd(&mut self, c: &str) -> Vec<String> {
        self.send(format!("{c}\r\n").as_bytes());
        let mut lines = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "connection closed after {c}");
            let more = l.as_bytes().get(3) == Some(&b'-');
            lines.push(l);
            if !more {
                return lines;
            }
        }
    }

    fn auth(&mut self, client: &mut SmtpClient) -> saslmech::proto::ClientOutcome {
        let cmd = client.start().unwrap();
        self.send(cmd.as_slice());
        for _ in 0..16 {
            let l = self.line();
            match client.reply(l.as_bytes()).unwrap() {
                ClientEvent::Send(r) => self.send(r.as_slice()),
                ClientEvent::Done(o) => return o,
                _ => {}
            }
        }
        panic!("exchange did not end");
    }
}

#[test]
fn own_client_adapter_retries_on_the_same_connection_for_every_mechanism() {
    let server = Server::start(&["--allow-insecure-auth"]);
    for m in [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
    ] {
        let mut raw = Raw::connect(&server);
        let ehlo = raw.cmd("EHLO test");
        let names = saslmech::proto::smtp::ehlo_mechanisms(ehlo.iter().map(|l| l.as_bytes()));
        assert!(names.contains(&m.name().to_owned()), "{ehlo:?}");
        // MAIL before AUTH: 530.
        assert_eq!(
            raw.cmd("MAIL FROM:<demo@example.com>")[0],
            "530 5.7.0 Authentication required\r\n"
        );
        let base = Credentials::new().authcid(USER);
        let wrong = if m.uses_token() {
            base.token(b"wrong-token")
        } else {
            base.password(b"wrong")
        };
        let o = raw.auth(&mut SmtpClient::new(m, &wrong).unwrap());
        assert_eq!((o.smtp_code(), o.authenticated), (Some(535), false), "{m}");
        let right = if m.uses_token() {
            base.token(TOKEN.as_bytes())
        } else {
            base.password(PASSWORD.as_bytes())
        };
        let o = raw.auth(&mut SmtpClient::new(m, &right).unwrap());
        assert_eq!((o.smtp_code(), o.authenticated), (Some(235), true), "{m}");
        let mk = marker("own");
        assert!(raw.cmd("MAIL FROM:<demo@example.com>")[0].starts_with("250"));
        assert!(raw.cmd("RCPT TO:<friend@example.com>")[0].starts_with("250"));
        assert!(raw.cmd("DATA")[0].starts_with("354"));
        let body = format!("Subject: {mk}\r\n\r\n..dot-stuffed line\r\n.");
        assert!(raw.cmd(&body)[0].starts_with("250 2.0.0"));
        let msg = server.delivered(&mk).expect("delivered");
        assert!(msg.contains("\r\n.dot-stuffed line\r\n"), "{msg}");
        assert_eq!(
            raw.cmd("AUTH PLAIN =")[0],
            "503 5.5.1 Already authenticated\r\n"
        );
        assert_eq!(raw.cmd("QUIT")[0], "221 2.0.0 Bye\r\n");
    }
}

#[test]
fn bad_input_ends_only_that_exchange_and_connections_run_concurrently() {
    let server = Server::start(&[]);
    // Several connections at once, each mid-exchange.
    let mut held: Vec<Raw> = (0..4).map(|_| Raw::connect(&server)).collect();
    for r in &mut held {
        r.cmd("EHLO x");
        assert_eq!(r.cmd("AUTH CRAM-MD5")[0].get(..4), Some("334 "));
    }
    let mut raw = Raw::connect(&server);
    raw.cmd("EHLO x");
    // Garbage, binary and over-long lines in an exchange and as commands.
    assert_eq!(raw.cmd("AUTH CRAM-MD5")[0].get(..4), Some("334 "));
    assert_eq!(
        raw.cmd("\u{1}\u{2}%%%")[0],
        "501 5.5.2 Invalid base64 data\r\n"
    );
    assert_eq!(raw.cmd("AUTH CRAM-MD5")[0].get(..4), Some("334 "));
    let long = "A".repeat(20000);
    assert_eq!(
        raw.cmd(&long)[0],
        "500 5.5.6 Authentication Exchange line is too long\r\n"
    );
    assert_eq!(
        raw.cmd("AUTH NOPE")[0],
        "504 5.5.4 Unrecognized authentication type\r\n"
    );
    assert_eq!(
        raw.cmd(&format!("AUTH PLAIN {long}"))[0],
        "500 5.5.6 Authentication Exchange line is too long\r\n"
    );
    raw.send(b"\xff\xfe\x00garbage\r\n");
    assert!(raw.line().starts_with("500 5.5.2"));
    assert_eq!(
        raw.cmd("AUTH PLAIN")[0],
        "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    );
    // Wrong credentials, up to the server's limit of 5 a connection: then it says 421 and
    // closes (RFC 4954 asks for at least 3 attempts).
    let wrong = Credentials::new().authcid(USER).password(b"wrong");
    for _ in 0..4 {
        let o = raw.auth(&mut SmtpClient::new(Mechanism::CramMd5, &wrong).unwrap());
        assert_eq!(o.smtp_code(), Some(535));
    }
    let o = {
        let mut gone = Raw::connect(&server);
        gone.cmd("EHLO x");
        for _ in 0..4 {
            gone.auth(&mut SmtpClient::new(Mechanism::CramMd5, &wrong).unwrap());
        }
        let last = gone.auth(&mut SmtpClient::new(Mechanism::CramMd5, &wrong).unwrap());
        assert_eq!(last.smtp_code(), Some(535));
        assert_eq!(gone.line(), "421 4.7.0 Too many failed authentications\r\n");
        assert_eq!(gone.line(), "", "closed");
        last
    };
    assert!(!o.authenticated);
    // The held connections still finish their exchanges.
    for r in &mut held {
        assert_eq!(r.cmd("*")[0], "501 5.0.0 Authentication cancelled\r\n");
    }
    // And CRAM-MD5 works without TLS on the same connection after all that.
    let creds = Credentials::new()
        .authcid(USER)
        .password(PASSWORD.as_bytes());
    let o = raw.auth(&mut SmtpClient::new(Mechanism::CramMd5, &creds).unwrap());
    assert!(o.authenticated, "{o:?}\n{}", server.log.lock().unwrap());
}

#[test]
fn users_file_with_plaintext_and_cram_md5_secrets() {
    let dir = std::env::temp_dir().join(format!("saslmech-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users");
    let hashed = saslmech::CramMd5Keys::from_password(b"hashed secret").to_dovecot();
    std::fs::write(
        &file,
        format!(
            "# test accounts\n\nalice@example.com:alice pw\nbob@example.com:{hashed}\n\
             carol@example.com:{{PLAIN}}{{braces}}\ncarol@example.com:{{BEARER}}carol-token\n"
        ),
    )
    .unwrap();
    let server = Server::start(&["--users", file.to_str().unwrap(), "--allow-insecure-auth"]);
    let cases: [(Mechanism, &str, &[u8], bool); 8] = [
        (Mechanism::Plain, "alice@example.com", b"alice pw", true),
        (Mechanism::CramMd5, "alice@example.com", b"alice pw", true),
        // A {CRAM-MD5} secret serves CRAM-MD5 and also PLAIN/LOGIN (hashing the password).
        (
            Mechanism::CramMd5,
            "bob@example.com",
            b"hashed secret",
            true,
        ),
        (Mechanism::Login, "bob@example.com", b"hashed secret", true),
        (Mechanism::Plain, "bob@example.com", b"hashed secreT", false),
        (Mechanism::Plain, "carol@example.com", b"{braces}", true),
        (
            Mechanism::XOAuth2,
            "carol@example.com",
            b"carol-token",
            true,
        ),
        // The built-in demo account is gone.
        (Mechanism::Plain, USER, PASSWORD.as_bytes(), false),
    ];
    for (m, user, secret, ok) in cases {
        let mut raw = Raw::connect(&server);
        raw.cmd("EHLO x");
        let base = Credentials::new().authcid(user);
        let c = if m.uses_token() {
            base.token(secret)
        } else {
            base.password(secret)
        };
        let o = raw.auth(&mut SmtpClient::new(m, &c).unwrap());
        assert_eq!(o.authenticated, ok, "{m} {user}: {o:?}");
    }
    // A malformed file is refused at start with the line number.
    std::fs::write(&file, "ok@example.com:pw\nno-colon-here\n").unwrap();
    let out = Command::new(example_binary())
        .args(["--listen", "127.0.0.1:0", "--users", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2: expected user:secret"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = Path::new(&dir);
}
