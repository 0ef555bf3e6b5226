//! SMTP AUTH clients: swaks, `gsasl --smtp`, curl and msmtp as real programs, plus a small raw
//! SMTP client for timing-sensitive and concurrent cases. Each returns the server's reply to
//! the AUTH exchange as it appeared on the wire.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use super::{CMD_TIMEOUT, Output, b64, run};

/// One SMTP reply (possibly multi-line).
#[derive(Clone, Debug)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// A raw SMTP client.
pub struct Smtp {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Smtp {
    pub fn connect(port: u16) -> std::io::Result<Smtp> {
        let s =
            TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(10))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.set_write_timeout(Some(Duration::from_secs(30)))?;
        let r = BufReader::new(s.try_clone()?);
        Ok(Smtp { w: s, r })
    }

    /// Connects, reads the banner and says EHLO; panics unless both are positive.
    pub fn session(port: u16) -> Smtp {
        let mut s = Smtp::connect(port).unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
        let banner = s.read_reply().expect("banner");
        assert_eq!(banner.code, 220, "banner: {}", banner.text());
        let ehlo = s.cmd("EHLO client.example.com").expect("EHLO");
        assert_eq!(ehlo.code, 250, "EHLO: {}", ehlo.text());
        s
    }

    pub fn read_reply(&mut self) -> std::io::Result<Reply> {
        let mut lines = Vec::new();
        for _ in 0..100 {
            let mut line = String::new();
            if self.r.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            let line = line.trim_end().to_owned();
            let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                let code =
                    code.ok_or_else(|| std::io::Error::other(format!("bad reply {lines:?}")))?;
                return Ok(Reply { code, lines });
            }
        }
        Err(std::io::Error::other("reply longer than 100 lines"))
    }

    pub fn cmd(&mut self, line: &str) -> std::io::Result<Reply> {
        self.w.write_all(format!("{line}\r\n").as_bytes())?;
        self.read_reply()
    }

    /// `AUTH PLAIN <initial response>`.
    pub fn auth_plain(&mut self, user: &str, pass: &str) -> std::io::Result<Reply> {
        self.cmd(&format!(
            "AUTH PLAIN {}",
            b64(format!("\0{user}\0{pass}").as_bytes())
        ))
    }
}

/// The result of one SMTP AUTH by an external client.
#[derive(Debug)]
pub struct AuthResult {
    /// The final reply code to the AUTH exchange (235, 535, 454, 435, …), 0 if none was seen.
    pub code: u16,
    /// That reply line.
    pub line: String,
    pub transcript: String,
}

impl AuthResult {
    fn from_lines(replies: &[(bool, String)], transcript: String) -> AuthResult {
        // `replies`: (is_after_auth_command, reply line "NNN ...") in wire order.
        for (after_auth, line) in replies {
            if !after_auth {
                continue;
            }
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .unwrap_or(0);
            if code != 334 && code != 0 && line.as_bytes().get(3) != Some(&b'-') {
                return AuthResult {
                    code,
                    line: line.clone(),
                    transcript,
                };
            }
        }
        AuthResult {
            code: 0,
            line: String::new(),
            transcript,
        }
    }
}

/// Where swaks connects.
#[derive(Clone, Debug)]
pub enum Via {
    Tcp(u16),
    /// `swaks --pipe COMMAND` (Exim `-bs`).
    Pipe(Vec<String>),
}

/// `swaks --auth MECH … --quit-after AUTH`.
pub fn swaks(via: &Via, mech: &str, user: &str, pass: &str) -> AuthResult {
    swaks_with(via, mech, user, pass, &[])
}

/// The same with STARTTLS first (`swaks --tls`: fails unless the server offers it).
pub fn swaks_tls(via: &Via, mech: &str, user: &str, pass: &str) -> AuthResult {
    swaks_with(via, mech, user, pass, &["--tls"])
}

fn swaks_with(via: &Via, mech: &str, user: &str, pass: &str, extra: &[&str]) -> AuthResult {
    let mut cmd = Command::new("swaks");
    cmd.args(extra);
    match via {
        Via::Tcp(port) => cmd.args(["--server", &format!("127.0.0.1:{port}")]),
        Via::Pipe(argv) => cmd.args(["--pipe", &argv.join(" ")]),
    };
    cmd.args([
        "--helo",
        "client.example.com",
        "--from",
        user,
        "--to",
        "rcpt@example.org",
    ])
    .args(["--auth", mech, "--auth-user", user, "--auth-password", pass])
    .args(["--quit-after", "AUTH", "--timeout", "30"]);
    let out = run(&mut cmd, None, CMD_TIMEOUT);
    // swaks marks what it sent with "->" ("~>" under TLS) and what it received with "<-"
    // ("<~"), error replies with "<**" ("<~*").
    let mut after_auth = false;
    let mut replies = Vec::new();
    for l in out.stdout.lines() {
        let t = l.trim_start();
        if t.starts_with("-> AUTH") || t.starts_with("~> AUTH") {
            after_auth = true;
        } else if let Some(r) = t
            .strip_prefix("<** ")
            .or_else(|| t.strip_prefix("<- "))
            .or_else(|| t.strip_prefix("<~ "))
            .or_else(|| t.strip_prefix("<~* "))
        {
            replies.push((after_auth, r.trim_start().to_owned()));
        }
    }
    AuthResult::from_lines(&replies, out.all())
}

/// `gsasl --smtp --connect 127.0.0.1:PORT` (gsasl never sends an initial response). gsasl
/// prints the SMTP dialogue on stderr/stdout; its exit status is 0 only after a 235.
pub fn gsasl_smtp(port: u16, mech: &str, user: &str, pass: &str) -> (AuthResult, Output) {
    let out = run(
        Command::new("gsasl")
            .args([
                "--smtp",
                "--connect",
                &format!("127.0.0.1:{port}"),
                "--no-starttls",
                "--no-cb",
            ])
            .args(["-m", mech, "-a", user, "-p", pass, "--verbose"]),
        None,
        CMD_TIMEOUT,
    );
    // --verbose shows the server's lines as they are ("235 2.7.0 …"), the client's as sent.
    let mut after_auth = false;
    let mut replies = Vec::new();
    for l in out.stdout.lines().chain(out.stderr.lines()) {
        let t = l.trim();
        if t.starts_with("AUTH ") {
            after_auth = true;
        } else if t.len() >= 3 && t.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
            replies.push((after_auth, t.to_owned()));
        }
    }
    (AuthResult::from_lines(&replies, out.all()), out)
}

/// curl with `--oauth2-bearer`: `mech` is OAUTHBEARER (`--login-options AUTH=…`; curl 7.88
/// never picks XOAUTH2 when OAUTHBEARER is offered, so XOAUTH2 goes through msmtp).
/// `-X NOOP` ends the session right after AUTH without a mail transaction.
pub fn curl_oauth(port: u16, mech: &str, user: &str, token: &str) -> AuthResult {
    let out = run(
        Command::new("curl")
            .args([
                "-v",
                "-s",
                "--max-time",
                "30",
                &format!("smtp://127.0.0.1:{port}/client.example.com"),
            ])
            .args([
                "--login-options",
                &format!("AUTH={mech}"),
                "--user",
                &format!("{user}:"),
            ])
            .args(["--oauth2-bearer", token, "-X", "NOOP"]),
        None,
        CMD_TIMEOUT,
    );
    // curl -v: "> AUTH …" sent, "< 235 …" received. curl 7.88 prefers OAUTHBEARER whenever
    // the server offers it, whatever --login-options says: check what it really sent.
    let mut after_auth = false;
    let mut replies = Vec::new();
    for l in out.stderr.lines() {
        if let Some(sent) = l.strip_prefix("> AUTH ") {
            let sent_mech = sent.split(' ').next().unwrap_or("");
            if sent_mech != mech {
                let t = out.all();
                return AuthResult {
                    code: 0,
                    line: format!("curl sent AUTH {sent_mech}, not {mech}"),
                    transcript: t,
                };
            }
            after_auth = true;
        } else if let Some(r) = l.strip_prefix("< ") {
            replies.push((after_auth, r.to_owned()));
        }
    }
    AuthResult::from_lines(&replies, out.all())
}

/// msmtp sending one message with `--auth=oauthbearer|xoauth2` and the token as password.
pub fn msmtp_oauth(port: u16, mech: &str, user: &str, token: &str) -> AuthResult {
    let dir = super::TempDir::new("msmtp");
    let tokfile = dir.path().join("token");
    super::write_file(&tokfile, token);
    let out = run(
        Command::new("msmtp")
            .args([
                "--debug",
                "--host=127.0.0.1",
                &format!("--port={port}"),
                "--tls=off",
            ])
            .arg(format!("--auth={}", mech.to_lowercase()))
            .arg(format!("--user={user}"))
            .arg(format!("--passwordeval=cat {}", tokfile.display()))
            .arg(format!("--from={user}"))
            .arg("--domain=client.example.com")
            .arg("rcpt@example.org"),
        Some(b"Subject: e2e\r\n\r\nhello\r\n"),
        CMD_TIMEOUT,
    );
    // msmtp --debug: "--> AUTH …" sent, "<-- 235 …" received.
    let mut after_auth = false;
    let mut replies = Vec::new();
    for l in out.stdout.lines().chain(out.stderr.lines()) {
        if l.starts_with("--> AUTH") {
            after_auth = true;
        } else if let Some(r) = l.strip_prefix("<-- ") {
            replies.push((after_auth, r.to_owned()));
        }
    }
    AuthResult::from_lines(&replies, out.all())
}
