//! The demo submission server (`examples/submission/`, built with the feature `gssapi` and
//! started with `--keytab`) against real SMTP clients authenticating with Kerberos tickets
//! from a private MIT KDC (`tests/support/kdc.rs`): `gsasl --smtp` with GSSAPI and GS2-KRB5,
//! msmtp `--auth=gssapi`, curl `--login-options AUTH=GSSAPI -u :`. Without a ticket the
//! clients fail, and a bad token gets a clean 535 on a connection that stays usable.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::kdc::{self, Kdc, REALM};

const TIMEOUT: Duration = Duration::from_secs(30);

struct Demo {
    child: Child,
    addr: String,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Build the demo with the feature `gssapi` (cargo reuses the build when it is current).
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/submission");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // As tests/submission_clients.rs: without the variables cargo set for this test process.
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
        .args([
            "build",
            "--quiet",
            "--example",
            "submission",
            "--features",
            "gssapi",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo build --example submission --features gssapi");
    assert!(status.success());
    bin
}

impl Demo {
    fn start(kdc: &Kdc) -> Demo {
        let keytab = kdc.dir.join("smtp.keytab");
        let mut child = Command::new(demo_binary())
            .args(["--listen", "127.0.0.1:0", "--keytab"])
            .arg(&keytab)
            .envs(kdc.env())
            .env_remove("KRB5_KTNAME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the demo");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        let mut addr = None;
        for _ in 0..30 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            banner.push_str(&line);
            if let Some(a) = line.trim_end().strip_prefix("listening on ") {
                addr = Some(a.to_owned());
                break;
            }
        }
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
        });
        let addr = addr.unwrap_or_else(|| panic!("no address in the banner:\n{banner}"));
        assert!(
            banner.contains("GSSAPI, GS2-KRB5: smtp/localhost"),
            "{banner}"
        );
        let port = addr.rsplit_once(':').unwrap().1.parse().unwrap();
        Demo {
            child,
            addr,
            port,
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait (bounded) until the log shows `what` `n` times.
    fn wait_log(&self, what: &str, n: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.log().matches(what).count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// Run a client with the KDC's environment (and a ccache), bounded by TIMEOUT.
fn run(kdc: &Kdc, ccache: &str, program: &str, args: &[String], stdin: &str) -> Output {
    let mut child = kdc
        .command(&kdc::find(program).unwrap_or_else(|| panic!("{program} not installed")))
        .env("KRB5CCNAME", ccache)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

const MESSAGE: &str =
    "From: alice@example.com\r\nTo: friend@example.com\r\nSubject: kerberos\r\n\r\nhello\r\n";

fn gsasl_args(demo: &Demo, mech: &str) -> Vec<String> {
    let mut a = strings(&["--smtp", "--connect"]);
    a.push(demo.addr.clone());
    a.extend(strings(&[
        "--no-starttls",
        "-m",
        mech,
        "--service",
        "smtp",
        "--hostname",
        "localhost",
        "-d",
        "--quiet",
    ]));
    a
}

fn msmtp_args(demo: &Demo) -> Vec<String> {
    let mut a = strings(&[
        "--host=localhost",
        "--tls=off",
        "--auth=gssapi",
        "--user=alice",
    ]);
    a.push(format!("--port={}", demo.port));
    a.extend(strings(&["--from=alice@example.com", "friend@example.com"]));
    a
}

fn curl_args(demo: &Demo) -> Vec<String> {
    let mut a = strings(&["-sS", "--url"]);
    a.push(format!("smtp://localhost:{}", demo.port));
    a.extend(strings(&[
        "--login-options",
        "AUTH=GSSAPI",
        "-u",
        ":",
        "--mail-from",
        "alice@example.com",
        "--mail-rcpt",
        "friend@example.com",
        "-T",
        "-",
    ]));
    a
}

fn show(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn real_clients_log_in_with_kerberos() {
    let kdc = Kdc::start();
    let demo = Demo::start(&kdc);
    let cc = kdc.ccache();
    let who = format!("authenticated as alice@{REALM}");
    let mut logins = 0;
    for mech in ["GSSAPI", "GS2-KRB5"] {
        let o = run(&kdc, &cc, "gsasl", &gsasl_args(&demo, mech), "");
        logins += 1;
        assert!(
            o.status.success(),
            "gsasl {mech}: {}\n{}",
            show(&o),
            demo.log()
        );
        assert!(demo.wait_log(&who, logins), "gsasl {mech}: {}", demo.log());
    }
    let o = run(&kdc, &cc, "msmtp", &msmtp_args(&demo), MESSAGE);
    logins += 1;
    assert!(o.status.success(), "msmtp: {}\n{}", show(&o), demo.log());
    assert!(demo.wait_log(&who, logins), "msmtp: {}", demo.log());
    let o = run(&kdc, &cc, "curl", &curl_args(&demo), MESSAGE);
    logins += 1;
    assert!(o.status.success(), "curl: {}\n{}", show(&o), demo.log());
    assert!(demo.wait_log(&who, logins), "curl: {}", demo.log());
}

#[test]
fn without_a_ticket_clients_fail_and_the_server_stays_usable() {
    let kdc = Kdc::start();
    let demo = Demo::start(&kdc);
    let none = format!("FILE:{}/no-such-cache", kdc.dir.display());
    for (program, args, stdin) in [
        ("gsasl", gsasl_args(&demo, "GSSAPI"), ""),
        ("msmtp", msmtp_args(&demo), MESSAGE),
        ("curl", curl_args(&demo), MESSAGE),
    ] {
        let o = run(&kdc, &none, program, &args, stdin);
        assert!(
            !o.status.success(),
            "{program} without a ticket: {}",
            show(&o)
        );
    }
    assert!(!demo.log().contains("authenticated as"), "{}", demo.log());

    // A token that is not a Kerberos ticket: 535, and the connection goes on.
    let mut s = TcpStream::connect(&demo.addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            assert!(
                r.read_line(&mut line).unwrap() > 0,
                "connection closed after {all}"
            );
            all.push_str(&line);
            if line.as_bytes().get(3) == Some(&b' ') {
                return all;
            }
        }
    };
    assert!(reply().starts_with("220"));
    s.write_all(b"EHLO client.example\r\n").unwrap();
    let ehlo = reply();
    assert!(
        ehlo.contains("GSSAPI") && ehlo.contains("GS2-KRB5"),
        "{ehlo}"
    );
    for mech in ["GSSAPI", "GS2-KRB5"] {
        // GS2-KRB5: a valid GS2 header before the bogus token.
        let token = if mech == "GSSAPI" {
            "YIIBAQYJKoZIhvcSAQICAQBuggEA"
        } else {
            "biwsAQBuggEA"
        };
        s.write_all(format!("AUTH {mech} {token}\r\n").as_bytes())
            .unwrap();
        let r535 = reply();
        assert!(r535.starts_with("535 "), "{mech}: {r535}");
        s.write_all(b"NOOP\r\n").unwrap();
        assert!(reply().starts_with("250"));
    }
    s.write_all(b"QUIT\r\n").unwrap();
    assert!(reply().starts_with("221"));
}
