//! Interoperability with the incumbents, through pipes: GNU SASL's `gsasl` and Cyrus SASL's
//! sample programs, each side against ours, for every mechanism both speak, with the right
//! password (success on both sides) and a wrong one (failure on both sides).
//!
//! One row per (peer, mechanism) at the bottom of this file; a new mechanism is a new row
//! (plus, where a peer needs them, its extra flags in `gsasl_flags` / `cyrus_flags` and our
//! side's in `our_client_flags` / `library_credentials`).
//!
//! - gsasl rows drive the `saslmech` command-line tool (either side of a gsasl pair can be
//!   swapped for it): a relay passes lines between the two processes, dropping the
//!   mechanism name gsasl writes first.
//! - Cyrus rows drive the library directly (`ClientSession` / `ServerSession`) from the
//!   relay, which speaks the sample programs' `S: <b64>` / `C: <b64>` framing.
//!
//! Peer habits these tests rely on (gsasl 2.2, Cyrus SASL 2.1.28):
//! - gsasl writes the mechanism name as its first line; after its last step it reads one
//!   more line, then reads until end of input; its server takes one password (`-p`) for any
//!   user; its client exits 0 even after a wrong password, so a client's failure is judged
//!   by the server.
//! - Cyrus: the first `C:` line is base64 of `MECH` or `MECH\0initial-response`; the server
//!   prints `Negotiation complete` on success, then exchanges one application message (as
//!   does the client); the client reads its password from stdin after a `Password: ` prompt
//!   on stderr (run under `setsid` so it has no terminal to open instead); both need
//!   `stdbuf -oL` on pipes. The server finds its sasldb through `SASL_CONF_PATH` and
//!   `sample.conf`.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use saslmech::{
    Answer, ClientSession, Credentials, Failure, Mechanism, Request, ServerConfig, ServerSession,
    ServerStep, Transport, b64,
};
use support::{Proc, Side, TIMEOUT, TempDir, find_program, is_base64_line, run_pair, saslmech_cmd};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";
const WRONG: &str = "battery staple";
/// The realm the sasldb entry is made in, and the Cyrus server's user domain.
const REALM: &str = "localhost";

#[derive(Clone, Copy, Debug)]
enum Peer {
    /// `gsasl --server` against `saslmech client`.
    GsaslServer,
    /// `gsasl --client` against `saslmech server`.
    GsaslClient,
    /// `sasl-sample-server` against our `ClientSession`.
    CyrusServer,
    /// `sasl-sample-client` against our `ServerSession`.
    CyrusClient,
}

fn run_row(peer: Peer, mechanism: &str) {
    for right in [true, false] {
        match peer {
            Peer::GsaslServer => gsasl_server(mechanism, right),
            Peer::GsaslClient => gsasl_client(mechanism, right),
            Peer::CyrusServer => cyrus_server(mechanism, right),
            Peer::CyrusClient => cyrus_client(mechanism, right),
        }
    }
}

// ---------------------------------------------------------------------------------------
// gsasl against the command-line tool

/// gsasl's flags for a mechanism, beyond `-m`.
fn gsasl_flags(_mechanism: &str) -> Vec<String> {
    // --no-cb: no TLS here, so no channel binding (SCRAM without it needs the flag).
    // ANONYMOUS will add `-n TRACE`.
    vec!["--no-cb".into(), "--quiet".into()]
}

/// `saslmech client` flags for a mechanism.
fn our_client_flags(_mechanism: &str, password: &str) -> Vec<String> {
    vec![
        "--authcid".into(),
        USER.into(),
        "--password".into(),
        password.into(),
    ]
}

fn gsasl(role: &str, mechanism: &str, extra: &[&str]) -> Side {
    let mut cmd = Command::new(find_program("gsasl", "gsasl"));
    cmd.arg(role)
        .args(gsasl_flags(mechanism))
        .args(["-m", mechanism])
        .args(extra);
    Side {
        cmd,
        package: "gsasl",
        leading_mechanism_line: Some(mechanism.to_owned()),
    }
}

fn ours(args: Vec<String>) -> Side {
    let mut cmd = saslmech_cmd(&[]);
    cmd.args(args);
    Side {
        cmd,
        package: "saslmech",
        leading_mechanism_line: None,
    }
}

fn check_lines(x: &support::Exchange) {
    for line in x.server.lines.iter().chain(&x.client.lines) {
        assert!(is_base64_line(line), "not base64: {line:?}\n{}", x.dump());
    }
    for (i, line) in x
        .transcript
        .iter()
        .filter(|l| !l.contains("dropped"))
        .enumerate()
    {
        let want = if i % 2 == 0 { "S: " } else { "C: " };
        assert!(line.starts_with(want), "line {i} out of turn\n{}", x.dump());
    }
}

fn gsasl_server(mechanism: &str, right: bool) {
    let password = if right { PASSWORD } else { WRONG };
    let mut client = vec!["client".into(), "--mechanism".into(), mechanism.into()];
    client.extend(our_client_flags(mechanism, password));
    let x = run_pair(
        gsasl("--server", mechanism, &["-p", PASSWORD]),
        ours(client),
    );
    let what = format!("gsasl --server {mechanism}, right password: {right}");
    check_lines(&x);
    if right {
        assert_eq!(x.server.code(), Some(0), "{what}\n{}", x.dump());
        assert_eq!(x.client.code(), Some(0), "{what}\n{}", x.dump());
        assert!(
            x.client
                .stderr
                .contains(&format!("saslmech client: {mechanism}: completed")),
            "{what}\n{}",
            x.dump()
        );
    } else {
        assert_ne!(x.server.code(), Some(0), "{what}\n{}", x.dump());
        assert!(
            x.server.stderr.contains("mechanism error"),
            "{what}\n{}",
            x.dump()
        );
        assert_eq!(x.client.code(), Some(1), "{what}\n{}", x.dump());
        assert!(
            x.client.stderr.contains("not completed"),
            "{what}\n{}",
            x.dump()
        );
    }
}

fn gsasl_client(mechanism: &str, right: bool) {
    let password = if right { PASSWORD } else { WRONG };
    let dir = TempDir::new("interop-gsasl");
    let users = dir.file("users", format!("{USER}:{PASSWORD}\n").as_bytes());
    let x = run_pair(
        ours(vec![
            "server".into(),
            "--mechanism".into(),
            mechanism.into(),
            "--users".into(),
            users.to_str().unwrap().into(),
        ]),
        gsasl(
            "--client",
            mechanism,
            &["--no-client-first", "-a", USER, "-p", password],
        ),
    );
    let what = format!("gsasl --client {mechanism}, right password: {right}");
    check_lines(&x);
    if right {
        assert_eq!(x.server.code(), Some(0), "{what}\n{}", x.dump());
        assert!(
            x.server
                .stderr
                .contains(&format!("{mechanism}: authenticated authcid=\"{USER}\"")),
            "{what}\n{}",
            x.dump()
        );
        assert_eq!(x.client.code(), Some(0), "{what}\n{}", x.dump());
    } else {
        // gsasl's client cannot tell: judged by the server.
        assert_eq!(x.server.code(), Some(1), "{what}\n{}", x.dump());
        assert!(
            x.server
                .stderr
                .contains("authentication failed: authentication credentials invalid"),
            "{what}\n{}",
            x.dump()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Cyrus SASL's sample programs against the library

/// A sasldb with the test user, and the `sample.conf` that points the programs at it.
fn cyrus_setup(mechanism: &str) -> TempDir {
    let dir = TempDir::new("interop-cyrus");
    let db = dir.0.join("sasldb");
    let mut p = Proc::spawn(
        {
            let mut c = Command::new(find_program("saslpasswd2", "sasl2-bin"));
            c.args(["-p", "-c", "-f"])
                .arg(&db)
                .args(["-a", "sample", "-u", REALM, USER]);
            c
        },
        "sasl2-bin",
    );
    assert!(p.send_line(PASSWORD));
    p.close_stdin();
    let status = p.wait(Instant::now() + TIMEOUT);
    assert!(status.success(), "saslpasswd2 failed: {}", p.stderr());
    dir.file(
        "sample.conf",
        format!(
            "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {}\nmech_list: {mechanism}\n",
            db.display()
        )
        .as_bytes(),
    );
    dir
}

/// A Cyrus sample program, line-buffered and without a controlling terminal.
fn cyrus_cmd(program: &str, dir: &TempDir, args: &[&str]) -> Command {
    let mut c = Command::new(find_program("setsid", "util-linux"));
    c.arg(find_program("stdbuf", "coreutils"))
        .arg("-oL")
        .arg(find_program(program, "sasl2-bin"))
        .args(args)
        .env("SASL_CONF_PATH", &dir.0);
    c
}

/// Said when a Cyrus exchange fails: its mechanisms are plugins in other packages.
const CYRUS_PACKAGES: &str =
    "(the Cyrus rows need the Debian packages sasl2-bin, libsasl2-modules and libsasl2-modules-db)";

/// Extra flags for the Cyrus programs (EXTERNAL will add `-e ssf=…,id=…`).
fn cyrus_flags(_mechanism: &str) -> Vec<&'static str> {
    Vec::new()
}

/// The line's payload if it is a `S:` or `C:` line.
fn framed<'a>(line: &'a str, tag: &str) -> Option<&'a str> {
    line.strip_prefix(tag).map(str::trim_start)
}

fn decode(text: &str) -> Vec<u8> {
    b64::decode(text.as_bytes())
        .unwrap_or_else(|f| panic!("peer sent bad base64 {text:?}: {f}"))
        .as_slice()
        .to_vec()
}

/// Our client's credentials for a mechanism.
fn library_credentials<'a>(_mechanism: Mechanism, password: &'a str) -> Credentials<'a> {
    Credentials::new()
        .authcid(USER)
        .password(password.as_bytes())
}

/// The sample programs' application phase after authentication (one message each way).
const SERVER_MESSAGE: &[u8] = b"srv message 1\0";
const CLIENT_MESSAGE: &[u8] = b"client message 1\0";

fn cyrus_server(mechanism: &str, right: bool) {
    let m: Mechanism = mechanism.parse().unwrap();
    let password = if right { PASSWORD } else { WRONG };
    let dir = cyrus_setup(mechanism);
    let deadline = Instant::now() + TIMEOUT;
    let mut args = vec!["-m", mechanism, "-u", REALM];
    args.extend(cyrus_flags(mechanism));
    let mut p = Proc::spawn(cyrus_cmd("sasl-sample-server", &dir, &args), "sasl2-bin");
    let mut transcript = Vec::new();

    // The mechanism list.
    let list = loop {
        let line = p.next_line(deadline).unwrap_or_else(|| {
            panic!(
                "sasl-sample-server ended before its mechanism list: {}",
                p.stderr()
            )
        });
        transcript.push(line.clone());
        if let Some(list) = framed(&line, "S:") {
            break String::from_utf8(decode(list)).unwrap();
        }
    };
    assert!(list.split(' ').any(|x| x == mechanism), "offered {list:?}");

    let mut client = ClientSession::new(m, &library_credentials(m, password)).unwrap();
    let mut first = mechanism.as_bytes().to_vec();
    if let Some(ir) = client.start().unwrap() {
        first.push(0);
        first.extend_from_slice(ir);
    }
    assert!(p.send_line(&format!("C: {}", b64::encode(&first))));

    let mut completed = None;
    let mut client_failure = None;
    while let Some(line) = p.next_line(deadline) {
        transcript.push(line.clone());
        if line == "Negotiation complete" {
            // The server says so: the client finishes (and checks it had nothing left).
            completed = Some(client.finish(None));
            continue;
        }
        let Some(payload) = framed(&line, "S:") else {
            continue;
        };
        let data = decode(payload);
        if completed.is_some() {
            assert_eq!(data, SERVER_MESSAGE);
            assert!(p.send_line(&format!("C: {}", b64::encode(CLIENT_MESSAGE))));
            continue;
        }
        match client.step(&data) {
            Ok(response) => {
                let line = format!("C: {}", b64::encode(response));
                assert!(p.send_line(&line));
            }
            Err(e) => {
                client_failure = Some(e);
                p.close_stdin();
            }
        }
    }
    let status = p.wait(deadline);
    let stdout = transcript.join("\n");
    let what = format!(
        "sasl-sample-server {mechanism}, right password: {right} {CYRUS_PACKAGES}\nstdout:\n{stdout}\nstderr:\n{}",
        p.stderr()
    );
    if right {
        assert_eq!(client_failure, None, "{what}");
        assert_eq!(completed, Some(Ok(())), "{what}");
        assert!(client.is_finished(), "{what}");
        assert!(status.success(), "{what}");
        assert!(
            stdout.contains(&format!("Username: {USER}@{REALM}")),
            "{what}"
        );
    } else {
        assert!(!status.success(), "{what}");
        assert!(p.stderr().contains("authentication failure"), "{what}");
        assert_eq!(completed, None, "{what}");
        assert!(!client.is_finished(), "{what}");
    }
}

/// What the relay does next, owned so the session can be called again.
enum Next {
    Send(Vec<u8>),
    Answer(Answer<'static>),
    Done(Result<String, Failure>),
}

fn cyrus_client(mechanism: &str, right: bool) {
    let m: Mechanism = mechanism.parse().unwrap();
    let password = if right { PASSWORD } else { WRONG };
    let dir = cyrus_setup(mechanism);
    let deadline = Instant::now() + TIMEOUT;
    let mut args = vec!["-m", mechanism, "-a", USER];
    args.extend(cyrus_flags(mechanism));
    let mut p = Proc::spawn_with_prompt(
        cyrus_cmd("sasl-sample-client", &dir, &args),
        "sasl2-bin",
        Some(("Password: ", password.to_owned())),
    );
    let mut transcript = Vec::new();
    let next_c = |p: &Proc, transcript: &mut Vec<String>| -> Option<Vec<u8>> {
        loop {
            let line = p.next_line(deadline)?;
            transcript.push(line.clone());
            if let Some(payload) = framed(&line, "C:") {
                return Some(decode(payload));
            }
        }
    };

    assert!(p.send_line(&format!("S: {}", b64::encode(mechanism.as_bytes()))));
    let first = next_c(&p, &mut transcript).expect("the client's first message");
    let (name, ir) = match first.iter().position(|b| *b == 0) {
        Some(i) => (&first[..i], Some(&first[i + 1..])),
        None => (&first[..], None),
    };
    assert_eq!(name, mechanism.as_bytes());

    // SMTP-like: the sample client expects server-final data as one more challenge.
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(&[m])
            .allow_plaintext_without_tls(true),
    );
    let transport = Transport::plaintext().with_success_data(false);
    let mut server = ServerSession::new(&config, m, &transport).unwrap();
    let mut step = server.start(ir);
    let outcome = loop {
        let next = match step.unwrap() {
            ServerStep::Challenge(c) => Next::Send(c.to_vec()),
            ServerStep::Request(r) => Next::Answer(match r {
                Request::VerifyPassword(r) if r.authcid() == USER => {
                    Answer::Password(PASSWORD.as_bytes())
                }
                Request::Secret(r) if r.authcid() == USER => Answer::Password(PASSWORD.as_bytes()),
                Request::VerifyPassword(_) | Request::Secret(_) => Answer::UnknownUser,
                _ => Answer::Reject,
            }),
            ServerStep::Success(ok) => Next::Done(Ok(ok.identity.authcid().to_owned())),
            ServerStep::Failure(f) => Next::Done(Err(f)),
            other => panic!("unexpected {other:?}"),
        };
        step = match next {
            Next::Send(c) => {
                assert!(p.send_line(&format!("S: {}", b64::encode(&c))));
                match next_c(&p, &mut transcript) {
                    Some(response) => server.step(&response),
                    None => break Err(Failure::Cancelled),
                }
            }
            Next::Answer(a) => server.answer(a),
            Next::Done(outcome) => break outcome,
        };
    };
    match &outcome {
        Ok(_) => {
            // The sample server's application message; the client answers with its own.
            assert!(p.send_line(&format!("S: {}", b64::encode(SERVER_MESSAGE))));
            let reply = next_c(&p, &mut transcript);
            assert_eq!(reply.as_deref(), Some(CLIENT_MESSAGE), "{transcript:?}");
        }
        Err(_) => p.close_stdin(),
    }
    let status = p.wait(deadline);
    let what = format!(
        "sasl-sample-client {mechanism}, right password: {right} {CYRUS_PACKAGES}\nstdout:\n{}\nstderr:\n{}",
        transcript.join("\n"),
        p.stderr()
    );
    if right {
        assert_eq!(outcome, Ok(USER.to_owned()), "{what}");
        assert!(status.success(), "{what}");
        assert!(
            transcript.iter().any(|l| l == "Negotiation complete"),
            "{what}"
        );
    } else {
        assert_eq!(outcome, Err(Failure::BadCredentials), "{what}");
        // The client learns it from the server ending the exchange.
        assert!(!status.success(), "{what}");
    }
}

// ---------------------------------------------------------------------------------------
// The rows: (peer, mechanism). SCRAM-SHA-1, SCRAM-SHA-256, ANONYMOUS and EXTERNAL (Cyrus)
// join here as they land.

macro_rules! rows {
    ($($name:ident: $peer:ident $mechanism:literal;)*) => {
        $(
            #[test]
            fn $name() {
                run_row(Peer::$peer, $mechanism);
            }
        )*
    };
}

rows! {
    gsasl_server_plain: GsaslServer "PLAIN";
    gsasl_server_login: GsaslServer "LOGIN";
    gsasl_server_cram_md5: GsaslServer "CRAM-MD5";
    gsasl_client_plain: GsaslClient "PLAIN";
    gsasl_client_login: GsaslClient "LOGIN";
    gsasl_client_cram_md5: GsaslClient "CRAM-MD5";
    cyrus_server_plain: CyrusServer "PLAIN";
    cyrus_server_login: CyrusServer "LOGIN";
    cyrus_server_cram_md5: CyrusServer "CRAM-MD5";
    cyrus_client_plain: CyrusClient "PLAIN";
    cyrus_client_login: CyrusClient "LOGIN";
    cyrus_client_cram_md5: CyrusClient "CRAM-MD5";
}
