//! The C example server `bindings/c/examples/smtpd.c` (which runs AUTH through the SMTP
//! adapter's C API, `saslmech_proto_server_new`), built with AddressSanitizer and
//! UndefinedBehaviorSanitizer against the static library, driven by real SMTP clients (swaks,
//! python3's smtplib, curl incl. XOAUTH2 and OAUTHBEARER, `gsasl --smtp` incl. SCRAM-SHA-1 and
//! SCRAM-SHA-256 against stored keys) and by a raw client checking the reply codes, and
//! shown to serve other connections while one waits on its credential lookup. Each test stops
//! its server with SIGTERM and requires a clean exit (no sanitizer report, no leak).
#![cfg(feature = "capi")]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use saslmech::b64;
use support::capi::{make_c, require, run, text};

const USER: &str = "demo@example.com";
const PASSWORD: &str = "demo-password";
const TOKEN: &str = "demo-token";

struct Smtpd {
    child: Option<Child>,
    port: u16,
    stderr: Arc<Mutex<String>>,
}

impl Smtpd {
    fn start(delay_ms: u64) -> Smtpd {
        Self::start_with(delay_ms, &[])
    }

    /// With extra options (`-m MECH,...`).
    fn start_with(delay_ms: u64, options: &[&str]) -> Smtpd {
        let build = make_c("asan", true);
        let mut child = Command::new(build.join("smtpd"))
            .args(["-d", &delay_ms.to_string()])
            .args(options)
            .args(["127.0.0.1", "0"])
            .env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
            .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start smtpd");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("smtpd did not report its address");
        let port = line
            .strip_prefix("smtpd: listening on 127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Smtpd {
            child: Some(child),
            port,
            stderr,
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stop with SIGTERM; the server must exit 0 with no sanitizer report. Returns its stderr.
    fn stop(mut self) -> String {
        require("kill", "procps");
        let child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let out = run(Command::new("kill").args(["-TERM", &pid]), 10);
        assert!(out.status.success(), "{}", text(&out));
        let out = support::capi::wait(child, 30, "smtpd");
        // Let the reader thread take the last bytes.
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().unwrap().clone();
        assert!(
            out.status.success(),
            "smtpd exited with {}:\n{stderr}",
            out.status
        );
        assert!(!stderr.contains("Sanitizer"), "sanitizer report:\n{stderr}");
        assert!(stderr.contains("smtpd: stopped"), "{stderr}");
        stderr
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn logins(stderr: &str) -> usize {
    stderr.matches(&format!("authenticated as {USER}")).count()
}

fn client(cmd: &mut Command) -> (bool, Option<i32>, String) {
    let out = run(cmd, 60);
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), out.status.code(), all)
}

// ---------------------------------------------------------------------------------------------

#[test]
fn swaks_plain_login_cram_md5() {
    require("swaks", "swaks");
    let server = Smtpd::start(0);
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let (ok, _, out) = client(
            Command::new("swaks")
                .args(["--server", &server.addr(), "--auth", mech])
                .args(["--auth-user", USER, "--auth-password", PASSWORD])
                .args([
                    "--from",
                    USER,
                    "--to",
                    "friend@example.com",
                    "--timeout",
                    "20",
                ]),
        );
        assert!(ok, "swaks {mech}:\n{out}");
        assert!(out.contains("<-  235 2.7.0"), "swaks {mech}:\n{out}");
        assert!(out.contains("<-  250 2.0.0 Ok: message accepted"), "{out}");

        // A wrong password: 535, and the connection is still served (QUIT gets 221).
        let (ok, _, out) = client(
            Command::new("swaks")
                .args(["--server", &server.addr(), "--auth", mech])
                .args(["--auth-user", USER, "--auth-password", "wrong"])
                .args([
                    "--from",
                    USER,
                    "--to",
                    "friend@example.com",
                    "--timeout",
                    "20",
                ]),
        );
        assert!(!ok, "swaks {mech} with a wrong password succeeded:\n{out}");
        let after = out
            .split("535 5.7.8 Authentication credentials invalid")
            .nth(1)
            .unwrap_or_else(|| panic!("no 535 for swaks {mech}:\n{out}"));
        assert!(after.contains("<-  221 2.0.0 Bye"), "{out}");
    }
    assert_eq!(logins(&server.stop()), 3);
}

#[test]
fn python_smtplib_plain_login_cram_md5() {
    require("python3", "python3");
    let server = Smtpd::start(0);
    let script = r#"
import smtplib, sys
port = int(sys.argv[1])
for mech, ir in [("PLAIN", True), ("PLAIN", False), ("LOGIN", True), ("LOGIN", False),
                 ("CRAM-MD5", True)]:
    s = smtplib.SMTP("127.0.0.1", port, timeout=20)
    s.ehlo()
    fn = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech]
    s.user, s.password = sys.argv[2], "wrong"
    try:
        s.auth(mech, fn, initial_response_ok=ir)
        print(mech, ir, "wrong", "accepted")
    except smtplib.SMTPAuthenticationError as e:
        print(mech, ir, "wrong", e.smtp_code, e.smtp_error.decode())
    # Same connection, right password.
    s.password = sys.argv[3]
    code, msg = s.auth(mech, fn, initial_response_ok=ir)
    print(mech, ir, "right", code, msg.decode())
    s.sendmail(sys.argv[2], ["friend@example.com"], "Subject: hi\r\n\r\nhello\r\n")
    print(mech, ir, "sent")
    s.quit()
"#;
    let (ok, _, out) = client(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(server.port.to_string())
            .args([USER, PASSWORD]),
    );
    assert!(ok, "smtplib:\n{out}");
    for (mech, ir) in [
        ("PLAIN", "True"),
        ("PLAIN", "False"),
        ("LOGIN", "True"),
        ("LOGIN", "False"),
        ("CRAM-MD5", "True"),
    ] {
        for want in [
            format!("{mech} {ir} wrong 535 5.7.8 Authentication credentials invalid"),
            format!("{mech} {ir} right 235 2.7.0 Authentication successful"),
            format!("{mech} {ir} sent"),
        ] {
            assert!(out.contains(&want), "missing {want:?}:\n{out}");
        }
    }
    assert_eq!(logins(&server.stop()), 5);
}

fn curl(server: &Smtpd, mech: &str, creds: &[&str], sasl_ir: bool) -> (Option<i32>, String) {
    let mail = support::capi::scratch("smtpd").join("mail.txt");
    std::fs::write(&mail, "Subject: hi\r\n\r\nhello\r\n").unwrap();
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-v", "--max-time", "20"])
        .arg("--url")
        .arg(format!("smtp://{}", server.addr()))
        .args(["--mail-from", USER, "--mail-rcpt", "friend@example.com"])
        .arg("-T")
        .arg(&mail)
        .args(["--login-options", &format!("AUTH={mech}")])
        .args(creds);
    if sasl_ir {
        cmd.arg("--sasl-ir");
    }
    let (_, code, out) = client(&mut cmd);
    (code, out)
}

#[test]
fn curl_plain_login_cram_md5_xoauth2_oauthbearer() {
    require("curl", "curl");
    let server = Smtpd::start(0);
    let right = format!("{USER}:{PASSWORD}");
    let wrong = format!("{USER}:wrong");
    let mut expected_logins = 0;
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        for sasl_ir in [false, true] {
            let (code, out) = curl(&server, mech, &["--user", &right], sasl_ir);
            assert_eq!(code, Some(0), "curl {mech} ir={sasl_ir}:\n{out}");
            assert!(out.contains("< 235 2.7.0"), "curl {mech}:\n{out}");
            assert!(out.contains("< 250 2.0.0 Ok: message accepted"), "{out}");
            expected_logins += 1;
            let (code, out) = curl(&server, mech, &["--user", &wrong], sasl_ir);
            assert_eq!(code, Some(67), "curl {mech} wrong password:\n{out}"); // login denied
            assert!(out.contains("< 535 5.7.8"), "curl {mech}:\n{out}");
        }
    }
    assert_eq!(logins(&server.stop()), expected_logins);

    // curl prefers OAUTHBEARER to XOAUTH2 whenever both are offered, whatever its
    // --login-options say: a server offering only XOAUTH2 for tokens.
    let server = Smtpd::start_with(0, &["-m", "XOAUTH2,PLAIN"]);
    let mut expected_logins = 0;
    for sasl_ir in [false, true] {
        let (code, out) = curl(
            &server,
            "XOAUTH2",
            &["--user", USER, "--oauth2-bearer", TOKEN],
            sasl_ir,
        );
        assert_eq!(code, Some(0), "curl XOAUTH2 ir={sasl_ir}:\n{out}");
        assert!(out.contains("> AUTH XOAUTH2"), "{out}");
        assert!(out.contains("< 235 2.7.0"), "{out}");
        expected_logins += 1;
        // A bad token: the XOAUTH2 error challenge ({"status":"401",...} in base64), then
        // curl gives up.
        let (code, out) = curl(
            &server,
            "XOAUTH2",
            &["--user", USER, "--oauth2-bearer", "bad-token"],
            sasl_ir,
        );
        assert_ne!(
            code,
            Some(0),
            "curl XOAUTH2 with a bad token succeeded:\n{out}"
        );
        assert!(out.contains("> AUTH XOAUTH2"), "{out}");
        assert!(out.contains("< 334 eyJzdGF0dXMiOiI0MDEi"), "{out}");
    }
    assert_eq!(logins(&server.stop()), expected_logins);

    // OAUTHBEARER (RFC 7628): curl sends the GS2 authzid, host and port with the token.
    let server = Smtpd::start(0);
    let mut expected_logins = 0;
    for sasl_ir in [false, true] {
        let (code, out) = curl(
            &server,
            "OAUTHBEARER",
            &["--user", USER, "--oauth2-bearer", TOKEN],
            sasl_ir,
        );
        assert_eq!(code, Some(0), "curl OAUTHBEARER ir={sasl_ir}:\n{out}");
        assert!(out.contains("> AUTH OAUTHBEARER"), "{out}");
        assert!(out.contains("< 235 2.7.0"), "{out}");
        expected_logins += 1;
        // A bad token: the error challenge ({"status":"invalid_token"}), curl's ^A, 535.
        let (code, out) = curl(
            &server,
            "OAUTHBEARER",
            &["--user", USER, "--oauth2-bearer", "bad-token"],
            sasl_ir,
        );
        assert_eq!(code, Some(67), "curl OAUTHBEARER with a bad token:\n{out}");
        assert!(
            out.contains("< 334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0="),
            "{out}"
        );
        assert!(out.contains("< 535 5.7.8"), "{out}");
    }
    assert_eq!(logins(&server.stop()), expected_logins);
}

#[test]
fn gsasl_smtp_plain_login_cram_md5_scram() {
    require("gsasl", "gsasl");
    let server = Smtpd::start(0);
    let gsasl = |mech: &str, password: &str| {
        client(
            Command::new("gsasl")
                .args(["--smtp", "--connect", &server.addr(), "--no-starttls"])
                .args(["-m", mech, "-a", USER, "-p", password, "-d", "--quiet"]),
        )
    };
    // SCRAM against the keys the server stores (saslmech_scram_keys_*), not the password.
    let mechs = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"];
    for mech in mechs {
        let (ok, _, out) = gsasl(mech, PASSWORD);
        assert!(ok, "gsasl {mech}:\n{out}");
        assert!(out.contains("235 2.7.0 Authentication successful"), "{out}");
        let (ok, code, out) = gsasl(mech, "wrong");
        assert!(
            !ok && code == Some(1),
            "gsasl {mech} wrong password:\n{out}"
        );
        assert!(out.contains("535 5.7.8"), "{out}");
    }
    assert_eq!(logins(&server.stop()), mechs.len());
}

// ---------------------------------------------------------------------------------------------
// A raw client, to check the exact replies.

struct Conn {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Conn {
    fn open(server: &Smtpd) -> Conn {
        let s = TcpStream::connect(server.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        assert!(c.reply().starts_with("220 "));
        c
    }

    fn send(&mut self, line: &str) {
        self.w.write_all(line.as_bytes()).unwrap();
        self.w.write_all(b"\r\n").unwrap();
    }

    /// One reply, its lines joined by `\n`, without CRLF.
    fn reply(&mut self) -> String {
        let mut all = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.r.read_line(&mut line).expect("read reply");
            assert!(n > 0, "connection closed; got {all:?}");
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            all.push(line);
            if last {
                return all.join("\n");
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send(line);
        self.reply()
    }
}

fn plain(user: &str, password: &str) -> String {
    b64::encode(format!("\0{user}\0{password}").as_bytes())
}

#[test]
fn reply_codes_of_rfc_4954() {
    let server = Smtpd::start(0);
    let mut c = Conn::open(&server);
    assert_eq!(
        c.cmd("MAIL FROM:<demo@example.com>"),
        "530 5.7.0 Authentication required"
    );
    assert!(
        c.cmd("AUTH PLAIN").starts_with("503 5.5.1"),
        "AUTH before EHLO"
    );
    let ehlo = c.cmd("EHLO client.example");
    assert!(
        ehlo.contains(
            "250-AUTH SCRAM-SHA-256 SCRAM-SHA-1 OAUTHBEARER XOAUTH2 CRAM-MD5 PLAIN LOGIN"
        ),
        "{ehlo}"
    );
    assert!(c.cmd("AUTH").starts_with("501 5.5.4"));
    assert_eq!(
        c.cmd("AUTH GSSAPI"),
        "504 5.5.4 Unrecognized authentication type"
    );

    // An empty challenge is "334 " with the space; "*" cancels with 501. (These replies are
    // the SMTP adapter's, which the server writes as they come.)
    assert_eq!(c.cmd("AUTH PLAIN"), "334 ");
    assert_eq!(c.cmd("*"), "501 5.0.0 Authentication cancelled");
    // Bad base64, an empty initial response PLAIN cannot parse (a malformed message fails
    // like wrong credentials), an initial response CRAM-MD5 does not take.
    assert_eq!(c.cmd("AUTH PLAIN ****"), "501 5.5.2 Invalid base64 data");
    assert_eq!(c.cmd("AUTH PLAIN"), "334 ");
    assert_eq!(c.cmd("AHRpbQ="), "501 5.5.2 Invalid base64 data");
    assert_eq!(
        c.cmd("AUTH PLAIN ="),
        "535 5.7.8 Authentication credentials invalid"
    );
    assert!(c.cmd("AUTH CRAM-MD5 =").starts_with("501 5.7.0"));

    // LOGIN with a wrong password, then the backend's other answers.
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(c.cmd(&b64::encode(USER.as_bytes())), "334 UGFzc3dvcmQ6");
    assert_eq!(
        c.cmd(&b64::encode(b"wrong")),
        "535 5.7.8 Authentication credentials invalid"
    );
    assert_eq!(
        c.cmd(&format!(
            "AUTH PLAIN {}",
            plain("tempfail@example.com", "x")
        )),
        "454 4.7.0 Temporary authentication failure"
    );
    assert_eq!(
        c.cmd(&format!(
            "AUTH PLAIN {}",
            plain("disabled@example.com", "x")
        )),
        "525 5.7.13 User account disabled"
    );
    assert_eq!(
        c.cmd(&format!(
            "AUTH PLAIN {}",
            plain("nobody@example.com", PASSWORD)
        )),
        "535 5.7.8 Authentication credentials invalid"
    );

    // XOAUTH2 with a bad token: the error challenge, the empty response, 535.
    let xoauth2 =
        |token: &str| b64::encode(format!("user={USER}\x01auth=Bearer {token}\x01\x01").as_bytes());
    let challenge = c.cmd(&format!("AUTH XOAUTH2 {}", xoauth2("bad")));
    let json = b64::decode(challenge.strip_prefix("334 ").unwrap().as_bytes()).unwrap();
    assert_eq!(json.as_slice(), br#"{"status":"401","schemes":"bearer"}"#);
    assert_eq!(c.cmd(""), "535 5.7.8 Authentication credentials invalid");

    // Overlong lines: in a command, and in an exchange (which it ends).
    let long = "A".repeat(13_000);
    assert!(c.cmd(&format!("NOOP {long}")).starts_with("500 5.5.2"));
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    assert_eq!(
        c.cmd(&long),
        "500 5.5.6 Authentication Exchange line is too long"
    );
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok");

    // After all that the connection still authenticates, once.
    assert_eq!(
        c.cmd(&format!("AUTH XOAUTH2 {}", xoauth2(TOKEN))),
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain(USER, PASSWORD))),
        "503 5.5.1 Already authenticated"
    );
    assert_eq!(c.cmd("MAIL FROM:<demo@example.com>"), "250 2.1.0 Ok");
    assert_eq!(c.cmd("RCPT TO:<friend@example.com>"), "250 2.1.5 Ok");
    assert!(c.cmd("DATA").starts_with("354 "));
    c.send("Subject: hi");
    c.send("");
    assert!(c.cmd(".").starts_with("250 2.0.0"));
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    drop(c);

    // CRAM-MD5 with the stored key state, through the raw client too.
    let mut c = Conn::open(&server);
    c.cmd("EHLO client.example");
    let challenge = c.cmd("AUTH CRAM-MD5");
    let challenge = b64::decode(challenge.strip_prefix("334 ").unwrap().as_bytes()).unwrap();
    let creds = saslmech::Credentials::new()
        .authcid(USER)
        .password(PASSWORD.as_bytes());
    let mut cl = saslmech::ClientSession::new(saslmech::Mechanism::CramMd5, &creds).unwrap();
    let response = b64::encode(cl.step(challenge.as_slice()).unwrap());
    assert_eq!(c.cmd(&response), "235 2.7.0 Authentication successful");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");

    assert_eq!(logins(&server.stop()), 2);
}

#[test]
fn other_connections_are_served_while_one_waits_on_its_lookup() {
    const DELAY: u64 = 1500;
    let server = Smtpd::start(DELAY);
    let mut a = Conn::open(&server);
    a.cmd("EHLO a.example");
    let mut b = Conn::open(&server);
    b.cmd("EHLO b.example");

    // A asks; its password lookup takes DELAY ms.
    let t0 = Instant::now();
    a.send(&format!("AUTH PLAIN {}", plain(USER, PASSWORD)));

    // Meanwhile B is served at once ...
    assert_eq!(b.cmd("NOOP"), "250 2.0.0 Ok");
    assert!(b.cmd("EHLO b.example").starts_with("250-localhost"));
    let b_served = t0.elapsed();
    assert!(
        b_served < Duration::from_millis(DELAY / 2),
        "B waited {b_served:?} behind A's lookup"
    );
    // ... while A has had no reply yet.
    a.w.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        a.r.get_mut().read(&mut byte).is_err(),
        "A answered before its lookup was done"
    );
    a.w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();

    // B starts its own lookup (a wrong password) while A's is still pending.
    let t1 = Instant::now();
    b.send(&format!("AUTH PLAIN {}", plain(USER, "wrong")));

    assert_eq!(a.reply(), "235 2.7.0 Authentication successful");
    let a_done = t0.elapsed();
    assert_eq!(b.reply(), "535 5.7.8 Authentication credentials invalid");
    let b_done = t1.elapsed();
    assert!(
        a_done >= Duration::from_millis(DELAY),
        "A answered after {a_done:?}"
    );
    assert!(
        b_done >= Duration::from_millis(DELAY),
        "B answered after {b_done:?}"
    );
    // The two lookups overlapped: B did not wait for A's to finish first.
    assert!(
        t0.elapsed() < Duration::from_millis(2 * DELAY - 200),
        "lookups ran one after the other: {:?}",
        t0.elapsed()
    );

    // Both connections stay usable.
    assert_eq!(a.cmd("MAIL FROM:<demo@example.com>"), "250 2.1.0 Ok");
    b.send(&format!("AUTH PLAIN {}", plain(USER, PASSWORD)));
    assert_eq!(b.reply(), "235 2.7.0 Authentication successful");
    assert_eq!(a.cmd("QUIT"), "221 2.0.0 Bye");
    assert_eq!(b.cmd("QUIT"), "221 2.0.0 Bye");
    assert_eq!(logins(&server.stop()), 2);
}

// ---------------------------------------------------------------------------------------------
// Under abuse (issue #11, item 6): slow clients, over-long lines, bare LF, bad octets.

/// A raw connection that may see anything: the first line with a deadline, `None` on silence.
fn connect_raw(server: &Smtpd) -> (TcpStream, Option<String>) {
    let s = TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    let greeting = match r.read_line(&mut line) {
        Ok(n) if n > 0 => Some(line.trim_end().to_owned()),
        _ => None,
    };
    (s, greeting)
}

/// Everything the server still sends until it closes (bounded by the read timeout).
fn rest(s: &mut TcpStream, secs: u64) -> String {
    s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&all).into_owned()
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

/// Fill the table with `max` slow-loris clients (each sends one byte a second and never ends
/// a line), check that the next client gets 421 at once, not silence, and that a new client
/// is served, 220 and a login, within `within` while the slow clients keep going. Returns
/// how long the new client waited and what the slow clients heard: stress mode (from a full
/// table until it is 3/4 full) cut some with 421 4.4.2; the others are still connected.
fn slow_loris(server: &Smtpd, max: usize, within: Duration) -> (Duration, Vec<String>) {
    let mut held = Vec::new();
    for i in 0..max {
        let (s, greeting) = connect_raw(server);
        assert_eq!(
            greeting.as_deref().map(|g| &g[..4]),
            Some("220 "),
            "connection {i} of {max}"
        );
        held.push(s);
    }
    let t0 = Instant::now();
    let (_, refused) = connect_raw(server);
    let refused = refused.expect("silence from a full server: it must say 421");
    assert!(refused.starts_with("421 4.3.2"), "{refused}");

    // The slow clients: a byte a second each, never a whole line.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<TcpStream> = held.iter().map(|s| s.try_clone().unwrap()).collect();
    let flag = Arc::clone(&stop);
    let loris = std::thread::spawn(move || {
        let mut writers: Vec<(TcpStream, bool)> = writers.into_iter().map(|w| (w, true)).collect();
        for _ in 0..150 {
            if flag.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            for (w, live) in &mut writers {
                // Stop writing once the server has spoken (it says 421 and closes).
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

    // A new client tries every half second until it is served.
    let mut attempts = 0;
    let waited = loop {
        attempts += 1;
        assert!(
            t0.elapsed() < within,
            "no 220 after {:?} ({attempts} attempts): slow clients lock the server out",
            t0.elapsed()
        );
        let (s, greeting) = connect_raw(server);
        let greeting = greeting.unwrap_or_else(|| panic!("silence at attempt {attempts}"));
        if greeting.starts_with("421 4.3.2") {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        assert!(greeting.starts_with("220 "), "{greeting}");
        let waited = t0.elapsed();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Conn {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        assert!(c.cmd("EHLO new.example").starts_with("250-"));
        assert_eq!(
            c.cmd(&format!("AUTH PLAIN {}", plain(USER, PASSWORD))),
            "235 2.7.0 Authentication successful"
        );
        assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
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

/// At least a quarter of the slow clients were cut with 421 4.4.2 (enough to end stress
/// mode); the others heard nothing (still connected, with the normal timeout again).
fn check_cut(words: &[String]) {
    let cut = words
        .iter()
        .filter(|w| *w == "421 4.4.2 localhost Error: timeout exceeded\r\n")
        .count();
    assert!(cut >= words.len() / 4 && cut >= 1, "{words:?}");
    assert!(
        words
            .iter()
            .all(|w| w.is_empty() || w.starts_with("421 4.4.2 ")),
        "{words:?}"
    );
}

#[test]
fn slow_loris_with_the_default_limits_64_connections_and_10_s_under_stress() {
    let server = Smtpd::start(0);
    let (waited, words) = slow_loris(&server, 64, Duration::from_secs(120));
    // Stress mode cuts the 300 s command timeout to 10 s once the table is full.
    assert!(waited >= Duration::from_secs(8), "served after {waited:?}");
    assert!(waited < Duration::from_secs(40), "served after {waited:?}");
    check_cut(&words);
    let log = server.stop();
    assert!(
        log.contains("connection table full: stress timeouts"),
        "{log}"
    );
    assert_eq!(logins(&log), 1);
}

#[test]
fn slow_loris_with_small_configured_limits() {
    let server = Smtpd::start_with(
        0,
        &["-c", "4", "-t", "30", "-T", "1", "-s", "60", "-S", "30"],
    );
    let (waited, words) = slow_loris(&server, 4, Duration::from_secs(30));
    assert!(
        waited >= Duration::from_millis(800),
        "served after {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "served after {waited:?}");
    check_cut(&words);
    let log = server.stop();
    assert!(log.contains("stress over: normal timeouts"), "{log}");
}

#[test]
fn command_and_session_deadlines_without_stress() {
    // 2 s for a line, 4 s for a session; the table (10) is far from full.
    let server = Smtpd::start_with(0, &["-c", "10", "-t", "2", "-T", "1", "-s", "4", "-S", "3"]);
    // A client that sends a byte every half second but never a whole line: cut after 2 s,
    // though no read ever waits 2 s.
    let (mut s, greeting) = connect_raw(&server);
    assert!(greeting.unwrap().starts_with("220 "));
    let t0 = Instant::now();
    let mut gone = None;
    for _ in 0..20 {
        s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let mut buf = [0u8; 256];
        if let Ok(n) = s.read(&mut buf) {
            gone = Some((
                t0.elapsed(),
                String::from_utf8_lossy(&buf[..n]).into_owned(),
            ));
            break;
        }
        if s.write_all(b"x").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (when, said) = gone.expect("still connected after 10 s");
    assert_eq!(said, "421 4.4.2 localhost Error: timeout exceeded\r\n");
    assert!(
        when >= Duration::from_millis(1900) && when < Duration::from_secs(4),
        "{when:?}"
    );

    // A client that sends a whole command every half second: cut by the session deadline.
    let mut c = Conn::open(&server);
    let t0 = Instant::now();
    let mut replies = 0;
    let said = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no session deadline"
        );
        std::thread::sleep(Duration::from_millis(500));
        // Has the server spoken on its own?
        c.w.set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let spoke = c.r.fill_buf().map(|b| !b.is_empty()).unwrap_or(false);
        c.w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        if spoke {
            break c.reply();
        }
        // The deadline may pass between that look and this command: then the reply read
        // next is the server's 421, not the NOOP's.
        let reply = c.cmd("NOOP");
        if reply.starts_with("421 ") {
            break reply;
        }
        assert_eq!(reply, "250 2.0.0 Ok");
        replies += 1;
    };
    assert_eq!(said, "421 4.4.2 localhost Error: timeout exceeded");
    assert!(replies >= 5, "{replies} NOOPs answered");
    let when = t0.elapsed();
    assert!(
        when >= Duration::from_millis(3500) && when < Duration::from_secs(6),
        "{when:?}"
    );
    server.stop();
}

#[test]
fn one_overlong_line_gets_one_reply() {
    let server = Smtpd::start(0);
    let mut c = Conn::open(&server);
    c.cmd("EHLO client.example");
    // A pipelined client: a 70,000-octet command, then NOOP, in one write.
    let long = format!("NOOP {}\r\nNOOP\r\n", "A".repeat(70_000));
    c.w.write_all(long.as_bytes()).unwrap();
    assert_eq!(c.reply(), "500 5.5.2 Line too long");
    assert_eq!(c.reply(), "250 2.0.0 Ok", "more than one reply to one line");
    // In an AUTH exchange: the adapter's 500 5.5.6 ends it, once.
    assert_eq!(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6");
    let long = format!("{}\r\nNOOP\r\n", "A".repeat(70_000));
    c.w.write_all(long.as_bytes()).unwrap();
    assert_eq!(
        c.reply(),
        "500 5.5.6 Authentication Exchange line is too long"
    );
    assert_eq!(c.reply(), "250 2.0.0 Ok", "more than one reply to one line");
    // A line whose CR is the last octet of a buffer-full is not a bare LF.
    let mut edge = vec![b'A'; MAX_LINE_C + 2 - 1];
    edge.push(b'\r');
    edge.extend_from_slice(b"\nNOOP\r\n");
    c.w.write_all(&edge).unwrap();
    assert_eq!(c.reply(), "500 5.5.2 Line too long");
    assert_eq!(c.reply(), "250 2.0.0 Ok");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    server.stop();
}

/// smtpd.c's buffer: MAX_LINE (12288) + 2 octets before it gives up on a line.
const MAX_LINE_C: usize = 12288;

/// A connection authenticated and at `354`, ready for the message.
fn in_data(server: &Smtpd) -> Conn {
    let mut c = Conn::open(server);
    c.cmd("EHLO client.example");
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain(USER, PASSWORD))),
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(c.cmd("MAIL FROM:<demo@example.com>"), "250 2.1.0 Ok");
    assert_eq!(c.cmd("RCPT TO:<friend@example.com>"), "250 2.1.5 Ok");
    assert!(c.cmd("DATA").starts_with("354 "));
    c
}

#[test]
fn bare_lf_is_refused_and_data_ends_only_at_crlf_dot_crlf() {
    let server = Smtpd::start(0);
    // A bare LF in a command: 521 and the connection is closed.
    let mut c = Conn::open(&server);
    c.w.write_all(b"EHLO client.example\n").unwrap();
    assert_eq!(
        rest(&mut c.w, 5),
        "521 5.5.2 localhost Error: bare <LF> received\r\n"
    );
    // The smuggling pattern: LF . LF inside the message, then a second transaction.
    let mut c = in_data(&server);
    c.w.write_all(
        b"Subject: one\r\n\r\nbody\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<friend@example.com>\r\nDATA\r\n",
    )
    .unwrap();
    assert_eq!(
        rest(&mut c.w, 5),
        "521 5.5.2 localhost Error: bare <LF> received\r\n"
    );
    // CR LF . LF and LF . CR LF too.
    for smuggle in [&b"body\r\n.\nNOOP\r\n"[..], b"body\n.\r\nNOOP\r\n"] {
        let mut c = in_data(&server);
        c.w.write_all(smuggle).unwrap();
        assert_eq!(
            rest(&mut c.w, 5),
            "521 5.5.2 localhost Error: bare <LF> received\r\n"
        );
    }
    // "." followed by a NUL is not the end of the message; a bare CR is message text; only
    // CRLF . CRLF ends it.
    let mut c = in_data(&server);
    c.w.write_all(b"Subject: two\r\n\r\n.\x00\r\nMAIL FROM:<x@example.com>\r\na\rb\r\n.\r")
        .unwrap();
    // The CR and the LF of CRLF . CRLF may come in different reads.
    std::thread::sleep(Duration::from_millis(100));
    c.w.write_all(b"\n").unwrap();
    assert_eq!(c.reply(), "250 2.0.0 Ok: message accepted (and discarded)");
    assert_eq!(c.cmd("NOOP"), "250 2.0.0 Ok");
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    let log = server.stop();
    assert_eq!(log.matches("bare <LF> received").count(), 4, "{log}");
}

#[test]
fn bad_mechanism_names_and_bad_octets_on_the_socket() {
    let server = Smtpd::start(0);
    let mut c = Conn::open(&server);
    c.cmd("EHLO client.example");
    for (line, reply) in [
        (
            &b"AUTH NOT/A/NAME"[..],
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]",
        ),
        (
            b"AUTH PL\xc3\xa9IN",
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]",
        ),
        (
            b"AUTH PLAIN\x00",
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]",
        ),
        (
            b"AUTH ABCDEFGHIJ0123456789X",
            "501 5.5.4 Syntax: AUTH mechanism [initial-response]",
        ),
        (b"AUTH PLAIN \xff", "501 5.5.2 Invalid base64 data"),
        (
            b"AUTH KERBEROS_V4",
            "504 5.5.4 Unrecognized authentication type",
        ),
        (
            b"NOOP\x00 trailing",
            "500 5.5.2 Error: invalid characters in command",
        ),
        (
            b"EHLO caf\xc3\xa9.example",
            "500 5.5.2 Error: invalid characters in command",
        ),
        (
            b"AUTH\x00PLAIN",
            "500 5.5.2 Error: invalid characters in command",
        ),
    ] {
        c.w.write_all(line).unwrap();
        c.w.write_all(b"\r\n").unwrap();
        assert_eq!(c.reply(), reply, "{:?}", String::from_utf8_lossy(line));
    }
    // Still usable.
    assert_eq!(
        c.cmd(&format!("AUTH PLAIN {}", plain(USER, PASSWORD))),
        "235 2.7.0 Authentication successful"
    );
    assert_eq!(c.cmd("QUIT"), "221 2.0.0 Bye");
    server.stop();
}
