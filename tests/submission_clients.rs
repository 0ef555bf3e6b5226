//! The demo submission server (`examples/submission/`) against real mail clients: swaks,
//! curl, msmtp, python3's smtplib and `gsasl --smtp`, plus the crate's own SMTP client
//! adapter over a raw socket and over a rustls STARTTLS (channel binding, client
//! certificate). Every mechanism the server offers is driven by at least one real client:
//! PLAIN, LOGIN, CRAM-MD5, XOAUTH2, OAUTHBEARER, SCRAM-SHA-1/-256 and their -PLUS variants
//! (gsasl, `tls-exporter`), EXTERNAL (msmtp with the demo client certificate). SCRAM-SHA-512
//! and -PLUS, which none of these clients implements (gsasl 2.2, which msmtp and curl use,
//! has no SCRAM-SHA-512), are driven by the crate's own client over STARTTLS.
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
use saslmech::{ChannelBindingType, ClientConfig, Credentials, Mechanism};
use sha2::Digest;

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
    /// The demo client certificate and key for EXTERNAL (demo accounts only).
    client_cert: Option<(PathBuf, PathBuf)>,
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
        let (mut addr, mut spool, mut cert, mut client_cert) = (None, None, None, None);
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
            if let Some((c, k)) = line
                .strip_prefix("client certificate for EXTERNAL: ")
                .and_then(|l| l.split_once(" key "))
            {
                client_cert = Some((PathBuf::from(c), PathBuf::from(k)));
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
            client_cert,
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
    // not even try; SCRAM and CRAM-MD5 are, and CRAM-MD5 works.
    let (out, text) = swaks(&server, "PLAIN", PASSWORD, false, &marker("x"));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.lines().any(|l| l
            .trim_end()
            .ends_with("250-AUTH SCRAM-SHA-256 SCRAM-SHA-512 SCRAM-SHA-1 CRAM-MD5")),
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
    if mech == "XOAUTH2" || mech == "OAUTHBEARER" {
        // curl picks the bearer mechanism itself: OAUTHBEARER when offered, else XOAUTH2
        // (it ignores `--login-options AUTH=XOAUTH2` then), so the server decides which.
        args.extend(["--user", USER, "--oauth2-bearer", secret]);
    } else {
        args.extend(["--user", &userpass, "--login-options", &login]);
    }
    if sasl_ir {
        args.push("--sasl-ir");
    }
    run("curl", &args, &message(marker))
}

/// The mechanisms the demo offered before this issue: a server offering no OAUTHBEARER, so
/// curl's `--oauth2-bearer` uses XOAUTH2.
const WITHOUT_OAUTHBEARER: &str = "PLAIN,LOGIN,CRAM-MD5,XOAUTH2";

#[test]
fn curl_every_mechanism_with_and_without_sasl_ir() {
    require("curl", "curl");
    let server = Server::start(&[]);
    let xoauth2_server = Server::start(&["--mechanisms", WITHOUT_OAUTHBEARER]);
    let mechs = ["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"];
    let server_for = |m: &str| {
        if m == "XOAUTH2" {
            &xoauth2_server
        } else {
            &server
        }
    };
    let mut jobs: Vec<Job<'_, (String, (Output, String))>> = Vec::new();
    for m in mechs {
        let bearer = m == "XOAUTH2" || m == "OAUTHBEARER";
        let secret = if bearer { TOKEN } else { PASSWORD };
        for ir in [false, true] {
            let s = server_for(m);
            let mk = marker("curl");
            jobs.push(Box::new(move || (mk.clone(), curl(s, m, secret, ir, &mk))));
        }
        let s = server_for(m);
        let wrong = if bearer {
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
        let server = server_for(m);
        for (k, ir) in [false, true].into_iter().enumerate() {
            let (marker, (out, text)) = &results[i * 3 + k];
            let what = format!("curl {m} sasl-ir={ir}");
            assert!(out.status.success(), "{what}:\n{text}");
            assert!(
                text.contains("< 235 2.7.0 Authentication successful"),
                "{what}:\n{text}"
            );
            server.assert_delivered(marker, &what);
            // The mechanism is the one asked for (for the bearer token: the one the server
            // offers).
            assert!(
                text.lines().any(|l| l.trim_end() == format!("> AUTH {m}")
                    || l.starts_with(&format!("> AUTH {m} "))),
                "{what}:\n{text}"
            );
            let sent_ir = text.lines().any(|l| l.starts_with(&format!("> AUTH {m} ")));
            // curl sends an initial response only with --sasl-ir; for LOGIN it is the user
            // name (a habit the server must accept), CRAM-MD5 never has one.
            assert_eq!(sent_ir, ir && *m != "CRAM-MD5", "{what}:\n{text}");
        }
        let (_, (out, text)) = &results[i * 3 + 2];
        let what = format!("curl {m} wrong secret");
        assert_eq!(out.status.code(), Some(67), "{what}:\n{text}");
        match *m {
            "XOAUTH2" => {
                // The error challenge goes out; curl drops the connection instead of
                // answering.
                assert!(
                    text.contains("< 334 eyJzdGF0dXMiOiI0MDEi"),
                    "{what}:\n{text}"
                );
            }
            "OAUTHBEARER" => {
                // The RFC 7628 error challenge, curl's ^A, then 535.
                let lines: Vec<&str> = text
                    .lines()
                    .map(str::trim_end)
                    .filter(|l| l.starts_with("> ") || l.starts_with("< "))
                    .collect();
                let at = lines
                    .iter()
                    .position(|l| l.starts_with("< 334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIi"))
                    .unwrap_or_else(|| panic!("{what}:\n{text}"));
                assert_eq!(lines[at + 1], "> AQ==", "{what}:\n{text}");
                assert!(
                    lines[at + 2..].contains(&"< 535 5.7.8 Authentication credentials invalid"),
                    "{what}:\n{text}"
                );
            }
            _ => {
                assert!(
                    text.contains("< 535 5.7.8 Authentication credentials invalid"),
                    "{what}:\n{text}"
                );
            }
        }
    }
    let (_, text) = &results[4].1; // LOGIN with --sasl-ir
    assert!(
        text.contains("> AUTH LOGIN ZGVtb0BleGFtcGxlLmNvbQ=="),
        "{text}"
    );
    // The dropped XOAUTH2 connection did not hurt the server.
    let m = marker("curl-after");
    let (out, text) = curl(&xoauth2_server, "PLAIN", PASSWORD, true, &m);
    assert!(out.status.success(), "{text}");
    xoauth2_server.assert_delivered(&m, "curl after a dropped connection");
}

// ---------------------------------------------------------------------------------------
// msmtp

fn msmtp(server: &Server, mech: &str, secret: &str, marker: &str) -> (Output, String) {
    msmtp_with(server, mech, USER, Some(secret), false, marker)
}

/// msmtp over STARTTLS (the server certificate not checked). `secret: None` sends no
/// password (EXTERNAL); `client_cert` presents the demo client certificate.
fn msmtp_with(
    server: &Server,
    mech: &str,
    user: &str,
    secret: Option<&str>,
    client_cert: bool,
    marker: &str,
) -> (Output, String) {
    let host = format!("--host={}", server.host());
    let port = format!("--port={}", server.port());
    let auth = format!("--auth={mech}");
    let user = format!("--user={user}");
    let from = format!("--from={USER}");
    let mut args = vec![
        "-v".to_owned(),
        host,
        port,
        "--tls=on".into(),
        "--tls-starttls=on".into(),
        "--tls-certcheck=off".into(),
        auth,
        user,
    ];
    if let Some(secret) = secret {
        args.push(format!("--passwordeval=echo {secret}"));
    }
    if client_cert {
        let (cert, key) = server
            .client_cert
            .as_ref()
            .expect("demo client certificate");
        args.push(format!("--tls-cert-file={}", cert.display()));
        args.push(format!("--tls-key-file={}", key.display()));
    }
    args.extend([from, "friend@example.com".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run("msmtp", &args, &message(marker))
}

/// The lines msmtp sent (`--> `) and received (`<-- `), trimmed.
fn dialogue(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| l.starts_with("--> ") || l.starts_with("<-- ") || *l == "-->")
        .collect()
}

#[test]
fn msmtp_every_mechanism() {
    require("msmtp", "msmtp");
    let server = Server::start(&[]);
    // msmtp has no -PLUS mechanisms (it gives GNU SASL no channel binding data): it picks
    // plain SCRAM, with the `n` flag.
    let mechs = [
        "plain",
        "login",
        "cram-md5",
        "xoauth2",
        "scram-sha-256",
        "scram-sha-1",
        "oauthbearer",
    ];
    let mut jobs: Vec<Job<'_, (String, (Output, String))>> = Vec::new();
    for m in mechs {
        let (good, bad) = if m == "xoauth2" || m == "oauthbearer" {
            (TOKEN, "wrong-token")
        } else {
            (PASSWORD, "wrong-password")
        };
        let s = &server;
        let mk = marker("msmtp");
        jobs.push(Box::new(move || (mk.clone(), msmtp(s, m, good, &mk))));
        jobs.push(Box::new(move || (String::new(), msmtp(s, m, bad, "never"))));
    }
    // EXTERNAL: with the demo client certificate; without one (not offered); and asking to
    // act as somebody else (refused).
    let s = &server;
    let mk = marker("msmtp-external");
    jobs.push(Box::new(move || {
        (mk.clone(), msmtp_with(s, "external", USER, None, true, &mk))
    }));
    jobs.push(Box::new(move || {
        (
            String::new(),
            msmtp_with(s, "external", USER, None, false, "never"),
        )
    }));
    jobs.push(Box::new(move || {
        let other = "postmaster@example.com";
        (
            String::new(),
            msmtp_with(s, "external", other, None, true, "never"),
        )
    }));
    let results = parallel(jobs);
    for (i, m) in mechs.iter().enumerate() {
        let (marker, (out, text)) = &results[i * 2];
        let what = format!("msmtp {m}");
        assert!(out.status.success(), "{what}:\n{text}");
        assert!(
            text.contains("<-- 235 2.7.0 Authentication successful"),
            "{what}:\n{text}"
        );
        let upper = m.to_ascii_uppercase();
        assert!(
            dialogue(text)
                .iter()
                .any(|l| *l == format!("--> AUTH {upper}")
                    || l.starts_with(&format!("--> AUTH {upper} "))),
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
    // Habits: msmtp sends PLAIN's initial response; it answers the XOAUTH2 and the
    // OAUTHBEARER error challenges with an empty line (RFC 7628 asks for ^A; the server takes
    // both) before the 535.
    assert!(
        results[0]
            .1
            .1
            .contains("--> AUTH PLAIN AGRlbW9AZXhhbXBsZS5jb20AZGVtby1wYXNzd29yZA==")
    );
    for (k, status) in [
        (7, "eyJzdGF0dXMiOiI0MDEi"),
        (13, "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIi"),
    ] {
        let wrong = &results[k].1.1;
        let d = dialogue(wrong);
        let at = d
            .iter()
            .position(|l| l.starts_with(&format!("<-- 334 {status}")))
            .unwrap_or_else(|| panic!("{wrong}"));
        assert!(d[at + 1] == "-->" || d[at + 1] == "--> ", "{wrong}");
        assert_eq!(
            d[at + 2],
            "<-- 535 5.7.8 Authentication credentials invalid"
        );
    }
    // SCRAM: the server-final goes out as one more 334, msmtp (GNU SASL) verifies it and
    // answers with an empty line, then 235. No channel binding from msmtp: the `n` flag.
    for k in [8, 10] {
        let text = &results[k].1.1;
        let d = dialogue(text);
        let at = d
            .iter()
            .position(|l| *l == "<-- 235 2.7.0 Authentication successful")
            .unwrap();
        assert!(d[at - 1] == "-->" || d[at - 1] == "--> ", "{text}");
        let v = d[at - 2].strip_prefix("<-- 334 ").expect("server-final");
        let v = saslmech::b64::decode(v.as_bytes()).unwrap();
        assert!(v.as_slice().starts_with(b"v="), "{text}");
        let client_first = d.iter().find_map(|l| {
            let b = saslmech::b64::decode(l.strip_prefix("--> ")?.as_bytes()).ok()?;
            b.as_slice().starts_with(b"n,,n=").then_some(())
        });
        assert!(client_first.is_some(), "{text}");
    }
    // EXTERNAL with the client certificate: offered, `AUTH EXTERNAL`, the empty challenge,
    // msmtp's authzid (the certificate's own identity), 235.
    let (marker, (out, text)) = &results[14];
    assert!(out.status.success(), "msmtp external:\n{text}");
    let d = dialogue(text);
    assert!(
        d.iter()
            .any(|l| l.starts_with("<-- 250-AUTH ") && l.ends_with(" EXTERNAL")),
        "{text}"
    );
    let at = d.iter().position(|l| *l == "--> AUTH EXTERNAL").unwrap();
    assert_eq!(d[at + 1], "<-- 334");
    assert_eq!(d[at + 2], "--> ZGVtb0BleGFtcGxlLmNvbQ==", "{text}");
    assert_eq!(d[at + 3], "<-- 235 2.7.0 Authentication successful");
    server.assert_delivered(marker, "msmtp external");
    // Without a certificate EXTERNAL is not offered.
    let (_, (out, text)) = &results[15];
    assert!(!out.status.success(), "{text}");
    assert!(
        !dialogue(text).iter().any(|l| l.contains("EXTERNAL")),
        "{text}"
    );
    assert!(
        text.contains("does not support authentication method EXTERNAL"),
        "{text}"
    );
    // Asking to act as somebody else: 535.
    let (_, (out, text)) = &results[16];
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("<-- 535 5.7.8 Authentication credentials invalid"),
        "{text}"
    );
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
    gsasl_with(server, mech, password, starttls, &[])
}

fn gsasl_with(
    server: &Server,
    mech: &str,
    password: &str,
    starttls: bool,
    extra: &[&str],
) -> (Output, String) {
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
    args.extend(extra);
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

#[test]
fn gsasl_smtp_scram_with_and_without_channel_binding() {
    require("gsasl", "gsasl");
    let server = Server::start(&[]);
    // (mechanism, STARTTLS, extra flags). Over STARTTLS gsasl has channel-binding data, so
    // plain SCRAM needs --no-cb (with it gsasl would claim it could bind, which a server
    // offering -PLUS must refuse); the -PLUS mechanisms bind to tls-exporter (TLS 1.3).
    let cases: [(&str, bool, &[&str]); 5] = [
        ("SCRAM-SHA-256", true, &["--no-cb"]),
        ("SCRAM-SHA-1", true, &["--no-cb"]),
        ("SCRAM-SHA-256-PLUS", true, &[]),
        ("SCRAM-SHA-1-PLUS", true, &[]),
        // SCRAM exposes no reusable secret: offered before STARTTLS too.
        ("SCRAM-SHA-256", false, &[]),
    ];
    let mut jobs: Vec<Job<'_, (Output, String)>> = Vec::new();
    for (m, tls, extra) in cases {
        let s = &server;
        jobs.push(Box::new(move || gsasl_with(s, m, PASSWORD, tls, extra)));
        jobs.push(Box::new(move || {
            gsasl_with(s, m, "wrong-password", tls, extra)
        }));
    }
    let results = parallel(jobs);
    for (i, (m, tls, _)) in cases.iter().enumerate() {
        let what = format!("gsasl {m} starttls={tls}");
        let (out, text) = &results[i * 2];
        assert!(out.status.success(), "{what}:\n{text}");
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        let at = lines
            .iter()
            .position(|l| *l == "235 2.7.0 Authentication successful")
            .unwrap_or_else(|| panic!("{what}:\n{text}"));
        // Server-final as one more 334, verified by gsasl, answered by an empty line.
        assert_eq!(lines[at - 1], "", "{what}:\n{text}");
        let v = lines[at - 2].strip_prefix("334 ").expect("server-final");
        assert!(
            saslmech::b64::decode(v.as_bytes())
                .unwrap()
                .as_slice()
                .starts_with(b"v="),
            "{what}:\n{text}"
        );
        // The GS2 header says how the client bound: p=tls-exporter for -PLUS, n otherwise.
        let first = lines[lines
            .iter()
            .position(|l| *l == format!("AUTH {m}"))
            .unwrap()
            + 2];
        let first = saslmech::b64::decode(first.as_bytes()).unwrap();
        let header: &[u8] = if m.ends_with("-PLUS") {
            b"p=tls-exporter,,n="
        } else {
            b"n,,n="
        };
        assert!(first.as_slice().starts_with(header), "{what}:\n{text}");
        let (out, text) = &results[i * 2 + 1];
        assert_eq!(out.status.code(), Some(1), "{what} wrong:\n{text}");
        assert!(
            text.contains("535 5.7.8 Authentication credentials invalid"),
            "{what} wrong:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The crate's own client adapter over a raw socket, and abuse

/// Anything a connection can be: TCP, or TLS over it.
trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

struct Raw {
    stream: BufReader<Box<dyn Duplex>>,
}

impl Raw {
    fn connect(server: &Server) -> Raw {
        let s = TcpStream::connect(&server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut raw = Raw {
            stream: BufReader::new(Box::new(s)),
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

    /// Connect, EHLO, STARTTLS with a rustls client that trusts exactly the demo's server
    /// certificate (optionally presenting the demo client certificate), EHLO again. Returns
    /// the connection and its channel-binding data: the `tls-exporter` value (RFC 9266) and
    /// the `tls-server-end-point` hash (RFC 5929).
    fn connect_tls(server: &Server, client_cert: bool) -> (Raw, [u8; 32], [u8; 32]) {
        let tcp = TcpStream::connect(&server.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        tcp.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut plain = BufReader::new(tcp);
        let mut line = String::new();
        let mut expect = |plain: &mut BufReader<TcpStream>, send: &[u8], code: &str| {
            plain.get_mut().write_all(send).unwrap();
            loop {
                line.clear();
                plain.read_line(&mut line).unwrap();
                assert!(line.starts_with(code), "{line}");
                if line.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
        };
        expect(&mut plain, b"", "220 ");
        expect(&mut plain, b"EHLO tls\r\n", "250");
        expect(&mut plain, b"STARTTLS\r\n", "220 ");
        let tcp = plain.into_inner();

        let pinned = pem_blocks(&std::fs::read_to_string(&server.cert).unwrap()).remove(0);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                cert: pinned,
                provider,
            }));
        let config = if client_cert {
            let (cert, key) = server.client_cert.as_ref().unwrap();
            let cert = pem_blocks(&std::fs::read_to_string(cert).unwrap()).remove(0);
            let key = pem_blocks(&std::fs::read_to_string(key).unwrap()).remove(0);
            let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.into());
            builder
                .with_client_auth_cert(vec![cert.into()], key)
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        assert_eq!(
            tls.conn.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        let exporter = tls
            .conn
            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(b""))
            .unwrap();
        let server_cert = &tls.conn.peer_certificates().unwrap()[0];
        let end_point: [u8; 32] = sha2::Sha256::digest(server_cert.as_ref()).into();
        let mut raw = Raw {
            stream: BufReader::new(Box::new(tls)),
        };
        assert!(raw.cmd("EHLO tls")[0].starts_with("250"));
        (raw, exporter, end_point)
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

/// The DER contents of the PEM blocks in `text`.
fn pem_blocks(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut b64 = None::<String>;
    for line in text.lines() {
        if line.starts_with("-----BEGIN ") {
            b64 = Some(String::new());
        } else if line.starts_with("-----END ") {
            let data = b64.take().unwrap();
            out.push(
                saslmech::b64::decode(data.as_bytes())
                    .unwrap()
                    .as_slice()
                    .to_vec(),
            );
        } else if let Some(b) = b64.as_mut() {
            b.push_str(line.trim());
        }
    }
    out
}

/// Trust exactly one server certificate (the demo's self-signed one), checking the handshake
/// signatures as usual.
#[derive(Debug)]
struct Pinned {
    cert: Vec<u8>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the pinned certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[test]
fn own_client_adapter_binds_to_the_tls_channel() {
    // The crate's SMTP client over a real STARTTLS: SCRAM -PLUS with both binding types the
    // demo supplies, what must fail (other binding data; plain SCRAM from a client that could
    // bind), and EXTERNAL with the demo client certificate.
    let server = Server::start(&[]);
    let creds = Credentials::new()
        .authcid(USER)
        .password(PASSWORD.as_bytes());
    type Case = (Mechanism, Option<ChannelBindingType>, bool, bool);
    let cases: [Case; 9] = [
        // (mechanism, binding type, tamper with the data, expected success)
        (
            Mechanism::ScramSha256Plus,
            Some(ChannelBindingType::TlsExporter),
            false,
            true,
        ),
        (
            Mechanism::ScramSha256Plus,
            Some(ChannelBindingType::TlsServerEndPoint),
            false,
            true,
        ),
        (
            Mechanism::ScramSha1Plus,
            Some(ChannelBindingType::TlsExporter),
            false,
            true,
        ),
        (
            Mechanism::ScramSha256Plus,
            Some(ChannelBindingType::TlsExporter),
            true,
            false,
        ),
        // A client with binding data that picks plain SCRAM (`y`): a downgrade, refused.
        (
            Mechanism::ScramSha256,
            Some(ChannelBindingType::TlsExporter),
            false,
            false,
        ),
        (Mechanism::ScramSha256, None, false, true),
        // SCRAM-SHA-512 (its keys derived at start from the demo password, like the others).
        (
            Mechanism::ScramSha512Plus,
            Some(ChannelBindingType::TlsExporter),
            false,
            true,
        ),
        (
            Mechanism::ScramSha512Plus,
            Some(ChannelBindingType::TlsServerEndPoint),
            false,
            true,
        ),
        (Mechanism::ScramSha512, None, false, true),
    ];
    std::thread::scope(|scope| {
        for (m, kind, tamper, ok) in cases {
            let (server, creds) = (&server, &creds);
            scope.spawn(move || {
                let (mut raw, exporter, end_point) = Raw::connect_tls(server, false);
                let ehlo = raw.cmd("EHLO again");
                let names =
                    saslmech::proto::smtp::ehlo_mechanisms(ehlo.iter().map(|l| l.as_bytes()));
                assert!(names.contains(&"SCRAM-SHA-256-PLUS".to_owned()), "{ehlo:?}");
                assert!(!names.contains(&"EXTERNAL".to_owned()), "{ehlo:?}");
                let mut config = ClientConfig::new();
                if let Some(kind) = kind {
                    let mut data = match kind {
                        ChannelBindingType::TlsExporter => exporter,
                        _ => end_point,
                    };
                    if tamper {
                        data[0] ^= 1;
                    }
                    config = config.channel_binding(kind, &data);
                }
                let mut client = SmtpClient::with_config(m, creds, &config).unwrap();
                let o = raw.auth(&mut client);
                let what = format!("{m} {kind:?} tamper={tamper}: {o:?}");
                assert_eq!(o.authenticated, ok, "{what}");
                assert_eq!(o.smtp_code(), Some(if ok { 235 } else { 535 }), "{what}");
                if ok {
                    let mk = marker("own-tls");
                    assert!(raw.cmd("MAIL FROM:<demo@example.com>")[0].starts_with("250"));
                    assert!(raw.cmd("RCPT TO:<friend@example.com>")[0].starts_with("250"));
                    assert!(raw.cmd("DATA")[0].starts_with("354"));
                    assert!(
                        raw.cmd(&format!("Subject: {mk}\r\n\r\nbody\r\n."))[0]
                            .starts_with("250 2.0.0")
                    );
                    server.assert_delivered(&mk, &what);
                }
            });
        }
        // EXTERNAL: offered only with the client certificate, and then it names the user.
        let server = &server;
        scope.spawn(move || {
            let (mut raw, _, _) = Raw::connect_tls(server, true);
            let ehlo = raw.cmd("EHLO again");
            assert!(
                ehlo.iter().any(|l| l.trim_end().ends_with(" EXTERNAL")),
                "{ehlo:?}"
            );
            let mut client = SmtpClient::new(Mechanism::External, &Credentials::new()).unwrap();
            assert_eq!(client.start().unwrap().as_slice(), b"AUTH EXTERNAL =\r\n");
            let mut client = SmtpClient::new(Mechanism::External, &Credentials::new()).unwrap();
            let o = raw.auth(&mut client);
            assert!(o.authenticated, "{o:?}");
            assert_eq!(
                raw.cmd("AUTH PLAIN =")[0],
                "503 5.5.1 Already authenticated\r\n"
            );
        });
    });
}

#[test]
fn own_client_adapter_retries_on_the_same_connection_for_every_mechanism() {
    let server = Server::start(&["--allow-insecure-auth"]);
    for m in [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
        Mechanism::ScramSha1,
        Mechanism::OAuthBearer,
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
fn users_file_with_plaintext_cram_md5_and_scram_secrets() {
    let dir = std::env::temp_dir().join(format!("saslmech-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users");
    let hashed = saslmech::CramMd5Keys::from_password(b"hashed secret")
        .to_dovecot()
        .to_string();
    // RFC 5803 stored keys, as `ScramKeys::to_rfc5803` writes them.
    let scram = saslmech::ScramKeys::generate(saslmech::ScramHash::Sha256, b"dave pw", 4096)
        .unwrap()
        .to_rfc5803();
    assert!(scram.starts_with("SCRAM-SHA-256$4096:"));
    std::fs::write(
        &file,
        format!(
            "# test accounts\n\nalice@example.com:alice pw\nbob@example.com:{hashed}\n\
             carol@example.com:{{PLAIN}}{{braces}}\ncarol@example.com:{{BEARER}}carol-token\n\
             dave@example.com:{scram}\n"
        ),
    )
    .unwrap();
    let server = Server::start(&["--users", file.to_str().unwrap(), "--allow-insecure-auth"]);
    let cases: [(Mechanism, &str, &[u8], bool); 18] = [
        (Mechanism::Plain, "alice@example.com", b"alice pw", true),
        (Mechanism::CramMd5, "alice@example.com", b"alice pw", true),
        // A plaintext password also gets SCRAM keys derived at start.
        (
            Mechanism::ScramSha256,
            "alice@example.com",
            b"alice pw",
            true,
        ),
        (Mechanism::ScramSha1, "alice@example.com", b"alice pw", true),
        (
            Mechanism::ScramSha1,
            "alice@example.com",
            b"alice pW",
            false,
        ),
        // Stored SCRAM-SHA-256 keys serve SCRAM-SHA-256 and PLAIN/LOGIN (deriving from the
        // password with the stored salt), not SCRAM-SHA-1 or CRAM-MD5.
        (Mechanism::ScramSha256, "dave@example.com", b"dave pw", true),
        (
            Mechanism::ScramSha256,
            "dave@example.com",
            b"dave pW",
            false,
        ),
        (Mechanism::Plain, "dave@example.com", b"dave pw", true),
        (Mechanism::Login, "dave@example.com", b"dave pW", false),
        (Mechanism::ScramSha1, "dave@example.com", b"dave pw", false),
        (Mechanism::CramMd5, "dave@example.com", b"dave pw", false),
        // OAUTHBEARER with the token of the {BEARER} line.
        (
            Mechanism::OAuthBearer,
            "carol@example.com",
            b"carol-token",
            true,
        ),
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
    std::fs::write(
        &file,
        "x@example.com:SCRAM-SHA-256$4096:c2FsdA==$short:keys\n",
    )
    .unwrap();
    let out = Command::new(example_binary())
        .args(["--listen", "127.0.0.1:0", "--users", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(":1: expected SCRAM-SHA-1$, SCRAM-SHA-256$ or SCRAM-SHA-512$")
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = Path::new(&dir);
}

// ---------------------------------------------------------------------------------------
// Under abuse (issue #11, item 6): slow clients (also in the TLS handshake), over-long
// lines, bare LF, bad mechanism names and octets.

/// A raw connection and its first line, or `None` if the server said nothing for 5 s.
fn connect_raw(server: &Server) -> (Raw, Option<String>) {
    let s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = Raw {
        stream: BufReader::new(Box::new(s)),
    };
    let mut l = String::new();
    let first = match raw.stream.read_line(&mut l) {
        Ok(n) if n > 0 => Some(l),
        _ => None,
    };
    (raw, first)
}

/// A slow client: connected, greeted, and in one of two places where it never finishes.
fn slow_client(server: &Server, in_handshake: bool) -> TcpStream {
    let s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("220 "), "{line}");
    if in_handshake {
        let mut w = s.try_clone().unwrap();
        w.write_all(b"EHLO slow\r\nSTARTTLS\r\n").unwrap();
        loop {
            line.clear();
            assert!(r.read_line(&mut line).unwrap() > 0, "closed");
            if line.starts_with("220 ") {
                break;
            }
        }
        // The start of a TLS record that announces 512 octets: a ClientHello that never ends.
        w.write_all(b"\x16\x03\x01\x02\x00").unwrap();
    }
    s
}

/// What the server has already sent, without waiting more than a moment.
fn rest_now(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..16 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// Fill the table with `max` slow-loris clients (every other one stuck in the TLS handshake,
/// the others in a command line; each sends a byte a second and never finishes), check that
/// the next client gets 421 at once, not silence, and that a new client is served, 220 and a
/// login, within `within` while the slow clients keep going. Returns how long the new client
/// waited and what the slow clients heard (stress mode, from a full table until it is 3/4
/// full, cut some; the others are still connected).
fn slow_loris(server: &Server, max: usize, within: Duration) -> (Duration, Vec<String>) {
    let mut held: Vec<TcpStream> = (0..max).map(|i| slow_client(server, i % 2 == 1)).collect();
    let t0 = std::time::Instant::now();
    let (_, refused) = connect_raw(server);
    let refused = refused.expect("silence from a full server: it must say 421");
    assert_eq!(refused, "421 4.3.2 Too many connections\r\n");

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers: Vec<(TcpStream, bool)> = held
        .iter()
        .map(|s| (s.try_clone().unwrap(), true))
        .collect();
    let flag = Arc::clone(&stop);
    let loris = std::thread::spawn(move || {
        for _ in 0..150 {
            if flag.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            for (w, live) in &mut writers {
                // Stop writing once the server has spoken or closed.
                w.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
                if *live && w.peek(&mut [0u8; 1]).is_ok() {
                    *live = false;
                }
                if *live {
                    let _ = w.write_all(b"N");
                }
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });

    let mut attempts = 0;
    let waited = loop {
        attempts += 1;
        assert!(
            t0.elapsed() < within,
            "no 220 after {:?} ({attempts} attempts): slow clients lock the server out",
            t0.elapsed()
        );
        let (mut raw, greeting) = connect_raw(server);
        let greeting = greeting.unwrap_or_else(|| panic!("silence at attempt {attempts}"));
        if greeting.starts_with("421 4.3.2") {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        assert!(greeting.starts_with("220 "), "{greeting}");
        let waited = t0.elapsed();
        raw.cmd("EHLO new.example");
        let creds = Credentials::new()
            .authcid(USER)
            .password(PASSWORD.as_bytes());
        let o = raw.auth(&mut SmtpClient::new(Mechanism::CramMd5, &creds).unwrap());
        assert!(o.authenticated, "{o:?}");
        assert_eq!(raw.cmd("QUIT")[0], "221 2.0.0 Bye\r\n");
        break waited;
    };
    assert!(
        attempts > 1,
        "the first attempt was served: the table was not full"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    loris.join().unwrap();
    let words = held.iter_mut().map(rest_now).collect();
    (waited, words)
}

/// At least a quarter of the slow clients were cut (enough to end stress mode): those in a
/// command line with 421 4.4.2, those in the TLS handshake by closing (nothing in clear text
/// can be said there); the others heard nothing yet (still connected, normal timeouts again).
fn check_cut(words: &[String], log: &str) {
    let cut = log.matches("closed: timeout exceeded").count();
    assert!(cut >= words.len() / 4 && cut >= 1, "{words:?}\n{log}");
    for (i, w) in words.iter().enumerate() {
        let in_handshake = i % 2 == 1;
        if in_handshake {
            assert!(w.is_empty() || w.starts_with("250"), "{i}: {w:?}");
        } else {
            assert!(
                w.is_empty() || w == "421 4.4.2 localhost Error: timeout exceeded\r\n",
                "{i}: {w:?}"
            );
        }
    }
}

#[test]
fn slow_loris_with_the_default_limits_64_connections_and_10_s_under_stress() {
    let server = Server::start(&[]);
    let (waited, words) = slow_loris(&server, 64, Duration::from_secs(120));
    assert!(waited >= Duration::from_secs(8), "served after {waited:?}");
    assert!(waited < Duration::from_secs(40), "served after {waited:?}");
    let log = server.log.lock().unwrap().clone();
    check_cut(&words, &log);
    assert!(
        log.contains("connection table full: stress timeouts"),
        "{log}"
    );
}

#[test]
fn slow_loris_with_small_configured_limits() {
    let server = Server::start(&[
        "--max-connections",
        "4",
        "--command-timeout",
        "30",
        "--stress-command-timeout",
        "1",
        "--session-timeout",
        "60",
        "--stress-session-timeout",
        "30",
    ]);
    let (waited, words) = slow_loris(&server, 4, Duration::from_secs(30));
    assert!(
        waited >= Duration::from_millis(800),
        "served after {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "served after {waited:?}");
    let log = server.log.lock().unwrap().clone();
    check_cut(&words, &log);
    assert!(log.contains("stress over: normal timeouts"), "{log}");
}

#[test]
fn command_handshake_and_session_deadlines_without_stress() {
    let server = Server::start(&[
        "--max-connections",
        "10",
        "--command-timeout",
        "2",
        "--stress-command-timeout",
        "1",
        "--session-timeout",
        "4",
        "--stress-session-timeout",
        "3",
    ]);
    // Clients that send a byte every half second but never a whole line, in a command and
    // in the TLS handshake: cut after 2 s, though no read ever waits 2 s.
    for in_handshake in [false, true] {
        let mut s = slow_client(&server, in_handshake);
        let t0 = std::time::Instant::now();
        let mut gone = None;
        for _ in 0..20 {
            s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            let mut buf = [0u8; 256];
            match s.read(&mut buf) {
                Ok(n) => {
                    gone = Some((
                        t0.elapsed(),
                        String::from_utf8_lossy(&buf[..n]).into_owned(),
                    ));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    gone = Some((t0.elapsed(), e.to_string()));
                    break;
                }
            }
            if s.write_all(b"x").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        let (when, said) = gone.unwrap_or_else(|| {
            panic!(
                "still connected after 10 s (handshake: {in_handshake})\n{}",
                server.log.lock().unwrap()
            )
        });
        if in_handshake {
            assert_eq!(said, "", "closed without a word");
        } else {
            assert_eq!(said, "421 4.4.2 localhost Error: timeout exceeded\r\n");
        }
        assert!(
            when >= Duration::from_millis(1500) && when < Duration::from_secs(4),
            "{when:?}"
        );
    }

    // A client that sends a whole command every half second: cut by the session deadline.
    let s = TcpStream::connect(&server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let control = s.try_clone().unwrap();
    let mut raw = Raw {
        stream: BufReader::new(Box::new(s)),
    };
    assert!(raw.line().starts_with("220 "));
    let t0 = std::time::Instant::now();
    let mut replies = 0;
    let said = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no session deadline"
        );
        std::thread::sleep(Duration::from_millis(500));
        // Has the server spoken on its own?
        control
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let spoke = raw.stream.fill_buf().is_ok_and(|b| !b.is_empty());
        control
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        if spoke {
            break raw.line();
        }
        assert_eq!(raw.cmd("NOOP")[0], "250 2.0.0 Ok\r\n");
        replies += 1;
    };
    assert_eq!(said, "421 4.4.2 localhost Error: timeout exceeded\r\n");
    assert!(replies >= 5, "{replies} NOOPs answered");
    let when = t0.elapsed();
    assert!(
        when >= Duration::from_millis(3500) && when < Duration::from_secs(6),
        "{when:?}"
    );
}

#[test]
fn one_overlong_line_gets_one_reply() {
    let server = Server::start(&["--allow-insecure-auth"]);
    let mut raw = Raw::connect(&server);
    raw.cmd("EHLO x");
    // A pipelined client: a 70,000-octet command, then NOOP, in one write: one reply each.
    raw.send(format!("NOOP {}\r\nNOOP\r\n", "A".repeat(70_000)).as_bytes());
    assert_eq!(raw.line(), "500 5.5.2 Line too long\r\n");
    assert_eq!(
        raw.line(),
        "250 2.0.0 Ok\r\n",
        "more than one reply to one line"
    );
    assert_eq!(raw.cmd("AUTH LOGIN")[0], "334 VXNlcm5hbWU6\r\n");
    raw.send(format!("{}\r\nNOOP\r\n", "A".repeat(70_000)).as_bytes());
    assert_eq!(
        raw.line(),
        "500 5.5.6 Authentication Exchange line is too long\r\n"
    );
    assert_eq!(
        raw.line(),
        "250 2.0.0 Ok\r\n",
        "more than one reply to one line"
    );
    // A line whose CR is the last octet the reader keeps before dropping is not a bare LF.
    let mut edge = vec![b'A'; 16 * 1024 + 1];
    edge.extend_from_slice(b"\r\nNOOP\r\n");
    raw.send(&edge);
    assert_eq!(raw.line(), "500 5.5.2 Line too long\r\n");
    assert_eq!(raw.line(), "250 2.0.0 Ok\r\n");
}

#[test]
fn bad_mechanism_names_and_bad_octets_on_the_socket() {
    let server = Server::start(&["--allow-insecure-auth"]);
    let mut raw = Raw::connect(&server);
    raw.cmd("EHLO x");
    // Mechanism names that are not names, NUL and octets above 0x7F.
    for (line, reply) in [
        (
            &b"AUTH NOT/A/NAME"[..],
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n",
        ),
        (
            b"AUTH PL\xc3\xa9IN",
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n",
        ),
        (
            b"AUTH PLAIN\x00",
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n",
        ),
        (b"AUTH PLAIN \xff", "501 5.5.2 Invalid base64 data\r\n"),
        (
            b"AUTH KERBEROS_V4",
            "504 5.5.4 Unrecognized authentication type\r\n",
        ),
        (
            b"NOOP\x00 trailing",
            "500 5.5.2 Error: invalid characters in command\r\n",
        ),
        (
            b"EHLO caf\xc3\xa9.example",
            "500 5.5.2 Error: invalid characters in command\r\n",
        ),
        (
            b"MAIL FROM:<a\xff@example.com>",
            "500 5.5.2 Error: invalid characters in command\r\n",
        ),
    ] {
        raw.send(line);
        raw.send(b"\r\n");
        assert_eq!(raw.line(), reply, "{:?}", String::from_utf8_lossy(line));
    }
    // Still usable.
    let creds = Credentials::new()
        .authcid(USER)
        .password(PASSWORD.as_bytes());
    let o = raw.auth(&mut SmtpClient::new(Mechanism::CramMd5, &creds).unwrap());
    assert!(o.authenticated, "{o:?}");
}

#[test]
fn bare_lf_is_refused_and_data_ends_only_at_crlf_dot_crlf() {
    let server = Server::start(&["--allow-insecure-auth"]);
    // A bare LF in a command: 521 and closed.
    let mut bare = Raw::connect(&server);
    bare.send(b"EHLO x\n");
    assert_eq!(
        bare.line(),
        "521 5.5.2 localhost Error: bare <LF> received\r\n"
    );
    assert_eq!(bare.line(), "", "closed");

    // In a message: the smuggling patterns end the session, nothing is delivered.
    let smuggled = marker("smuggled");
    let creds = Credentials::new()
        .authcid(USER)
        .password(PASSWORD.as_bytes());
    let in_data = || {
        let mut r = Raw::connect(&server);
        r.cmd("EHLO x");
        let o = r.auth(&mut SmtpClient::new(Mechanism::Plain, &creds).unwrap());
        assert!(o.authenticated);
        assert_eq!(r.cmd(&format!("MAIL FROM:<{USER}>"))[0], "250 2.1.0 Ok\r\n");
        assert_eq!(r.cmd("RCPT TO:<friend@example.com>")[0], "250 2.1.5 Ok\r\n");
        assert!(r.cmd("DATA")[0].starts_with("354 "));
        r
    };
    for smuggle in [
        format!("Subject: {smuggled}\r\n\r\nbody\n.\nMAIL FROM:<evil@example.com>\r\n"),
        format!("Subject: {smuggled}\r\n\r\nbody\r\n.\nNOOP\r\n"),
        format!("Subject: {smuggled}\r\n\r\nbody\n.\r\nNOOP\r\n"),
    ] {
        let mut r = in_data();
        r.send(smuggle.as_bytes());
        assert_eq!(
            r.line(),
            "521 5.5.2 localhost Error: bare <LF> received\r\n",
            "{smuggle:?}"
        );
        assert_eq!(r.line(), "", "closed");
    }
    assert!(
        server.delivered(&smuggled).is_none(),
        "smuggled message delivered"
    );

    // "." then NUL is not the end; a bare CR is text; only CRLF . CRLF ends the message (its
    // CR and LF in different reads here).
    let kept = marker("kept");
    let mut r = in_data();
    r.send(
        format!("Subject: {kept}\r\n\r\n.\x00\r\nMAIL FROM:<x@example.com>\r\na\rb\r\n.\r")
            .as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(100));
    r.send(b"\n");
    assert!(r.line().starts_with("250 2.0.0 Ok: queued"));
    let msg = server.delivered(&kept).expect("delivered");
    assert!(
        msg.contains("\r\n\x00\r\nMAIL FROM:<x@example.com>\r\na\rb\r\n"),
        "{msg:?}"
    );
    assert_eq!(r.cmd("QUIT")[0], "221 2.0.0 Bye\r\n");
}
