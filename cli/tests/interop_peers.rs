//! Interoperability with the incumbents, through pipes: GNU SASL's `gsasl` and Cyrus SASL's
//! sample programs, each side against ours, for every mechanism both speak, each with right
//! credentials (success on both sides) and wrong ones (failure on both sides). This file is
//! the one place for gsasl and Cyrus interop.
//!
//! One row per (peer, mechanism) at the bottom of this file; a new mechanism is a new row
//! (plus, where it needs them, its flags and expectations in the per-mechanism functions
//! below: `gsasl_client_flags`, `our_client_flags`, `cyrus_server_case`, `cyrus_client_case`).
//!
//! - gsasl rows drive the `saslmech` command-line tool (either side of a gsasl pair can be
//!   swapped for it): a relay passes lines between the two processes, dropping the
//!   mechanism name gsasl writes first.
//! - Cyrus rows drive the library directly (`ClientSession` / `ServerSession`) from the
//!   relay, which speaks the sample programs' `S: <b64>` / `C: <b64>` framing.
//!
//! What "wrong" means per mechanism: a wrong password (PLAIN, LOGIN, CRAM-MD5, SCRAM); for
//! ANONYMOUS a trace over 255 characters (refused by our server; Cyrus's server truncates
//! traces instead, so against it the failing case is a server that forbids anonymous logins,
//! `-f noanonymous`); for EXTERNAL an authorization identity the server denies.
//!
//! What is not here, and why:
//! - `gsasl --server` with ANONYMOUS or EXTERNAL: the gsasl 2.2 command-line server has no
//!   callback to validate either and always fails ("No callback specified by caller"); the
//!   test `gsasl_server_cannot_validate_anonymous_or_external` pins that down.
//! - The SCRAM -PLUS mechanisms: neither `gsasl` (it binds only to a TLS connection it makes
//!   itself, `--connect`; no flag takes channel-binding data) nor the Cyrus sample programs
//!   take channel-binding data. `gsasl --smtp` with `tls-exporter` against the demo server is
//!   in `tests/submission_clients.rs`.
//! - OAUTHBEARER, XOAUTH2: neither gsasl 2.2 nor Cyrus SASL 2.1.28 implements them.
//! - gsasl with SCRAM-SHA-512: gsasl 2.2 implements SCRAM-SHA-1 and SCRAM-SHA-256 only
//!   (`gsasl --client -m SCRAM-SHA-512` says "Cannot find mechanism"); Cyrus 2.1.28 has it.
//!
//! Peer habits these tests rely on (gsasl 2.2, Cyrus SASL 2.1.28):
//! - gsasl writes the mechanism name as its first line; after its last step it reads one
//!   more line, then reads until end of input; its server takes one password (`-p`) for any
//!   user and needs `--no-cb` for SCRAM without channel binding; its client may exit 0 after
//!   a failed exchange, so a client's failure is judged by the server.
//! - Cyrus: the first `C:` line is base64 of `MECH` or `MECH\0initial-response`; the server
//!   prints `Negotiation complete` on success, then exchanges one application message (as
//!   does the client); SCRAM's server-final goes out as one more `S:` challenge, answered by
//!   an empty `C:`; the client reads its password from stdin after a `Password: ` prompt
//!   on stderr (run under `setsid` so it has no terminal to open instead); both need
//!   `stdbuf -oL` on pipes. The server finds its sasldb through `SASL_CONF_PATH` and
//!   `sample.conf`; `saslpasswd2` stores the plaintext there, from which Cyrus's SCRAM
//!   derives what it needs.
//! - Cyrus's ANONYMOUS client sends `ID@hostname` as its trace (`ID` from `-u`, else
//!   `anonymous`); its EXTERNAL client sends `-u` as the authzid (empty without it).
//! - `sasl-sample-server -e id=ID` hands the library the address of its `ID` pointer instead
//!   of the string (`sasl_setprop(conn, SASL_AUTH_EXTERNAL, &ext_authid)`), so the external
//!   identity is garbage: EXTERNAL succeeds without an authzid but the user name it prints
//!   is noise, and every authzid is refused. The EXTERNAL row against it checks exactly
//!   that much.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use saslmech::{
    Answer, ClientSession, Credentials, Failure, Mechanism, Request, ScramHash, ScramKeys,
    ServerConfig, ServerSession, ServerStep, Transport, b64,
};
use support::{Proc, Side, TIMEOUT, TempDir, find_program, is_base64_line, run_pair, saslmech_cmd};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";
const WRONG: &str = "battery staple";
/// The realm the sasldb entry is made in, and the Cyrus server's user domain.
const REALM: &str = "localhost";
/// ANONYMOUS trace information, and one a character too long (RFC 4505: at most 255).
const TRACE: &str = "sirhc@example.org";
fn long_trace() -> String {
    "t".repeat(256)
}
/// The authorization identity EXTERNAL rows ask for in the failing case.
const OTHER: &str = "bob";

#[derive(Clone, Copy, Debug)]
enum Peer {
    /// `gsasl --server` against `saslmech client`.
    GsaslServer,
    /// `gsasl --client` against `saslmech server`.
    GsaslClient,
    /// `gsasl --client` against `saslmech server --no-success-data` (SCRAM's server-final as
    /// one more challenge, as SMTP, IMAP and POP3 carry it).
    GsaslClientNoSuccessData,
    /// `sasl-sample-server` against our `ClientSession`.
    CyrusServer,
    /// `sasl-sample-client` against our `ServerSession`.
    CyrusClient,
}

fn run_row(peer: Peer, mechanism: &str) {
    for right in [true, false] {
        match peer {
            Peer::GsaslServer => gsasl_server(mechanism, right),
            Peer::GsaslClient => gsasl_client(mechanism, right, true),
            Peer::GsaslClientNoSuccessData => gsasl_client(mechanism, right, false),
            Peer::CyrusServer => cyrus_server(mechanism, right),
            Peer::CyrusClient => cyrus_client(mechanism, right),
        }
    }
}

/// Who the server says authenticated, after a successful exchange.
fn authenticated_as(mechanism: &str) -> &'static str {
    match mechanism {
        "ANONYMOUS" => "anonymous",
        // EXTERNAL: the identity the transport established, which the rows set to USER.
        _ => USER,
    }
}

// ---------------------------------------------------------------------------------------
// gsasl against the command-line tool

/// `gsasl --client` flags for a mechanism, beyond `-m`.
fn gsasl_client_flags(mechanism: &str, right: bool) -> Vec<String> {
    let password = if right { PASSWORD } else { WRONG };
    match mechanism {
        "ANONYMOUS" => {
            let trace = if right {
                TRACE.to_owned()
            } else {
                long_trace()
            };
            vec!["-n".into(), trace]
        }
        "EXTERNAL" if right => Vec::new(),
        "EXTERNAL" => vec!["-z".into(), OTHER.into()],
        _ => vec!["-a".into(), USER.into(), "-p".into(), password.into()],
    }
}

/// Why our server refuses the failing case of a mechanism.
fn our_server_refusal(mechanism: &str) -> &'static str {
    match mechanism {
        "ANONYMOUS" => "authentication failed: authentication message too large",
        "EXTERNAL" => {
            "authentication failed: not authorized to use the requested authorization identity"
        }
        _ => "authentication failed: authentication credentials invalid",
    }
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

fn gsasl(role: &str, mechanism: &str, extra: &[String]) -> Side {
    let mut cmd = Command::new(find_program("gsasl", "gsasl"));
    // --no-cb: no TLS here, so no channel binding (SCRAM without it needs the flag).
    cmd.arg(role)
        .args(["--no-cb", "--quiet", "-m", mechanism])
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

/// The lines each side wrote, without the framing, for exact checks.
fn payloads<'a>(x: &'a support::Exchange, tag: &str) -> Vec<&'a str> {
    x.transcript
        .iter()
        .filter_map(|l| l.strip_prefix(tag))
        .collect()
}

fn gsasl_server(mechanism: &str, right: bool) {
    let password = if right { PASSWORD } else { WRONG };
    let mut client = vec!["client".into(), "--mechanism".into(), mechanism.into()];
    client.extend(our_client_flags(mechanism, password));
    let x = run_pair(
        gsasl("--server", mechanism, &["-p".into(), PASSWORD.into()]),
        ours(client),
    );
    let what = format!("gsasl --server {mechanism}, right password: {right}");
    check_lines(&x);
    let scram = mechanism.starts_with("SCRAM-");
    if right {
        assert_eq!(x.server.code(), Some(0), "{what}\n{}", x.dump());
        assert_eq!(x.client.code(), Some(0), "{what}\n{}", x.dump());
        let completed = if scram {
            format!("saslmech client: {mechanism}: completed; server verified")
        } else {
            format!("saslmech client: {mechanism}: completed")
        };
        assert!(x.client.stderr.contains(&completed), "{what}\n{}", x.dump());
        if scram {
            // client-first, client-final, then the empty line after gsasl's v=.
            let c = payloads(&x, "C: ");
            assert_eq!(c.len(), 3, "{what}\n{}", x.dump());
            assert_eq!(c[2], "", "{what}\n{}", x.dump());
        }
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

fn gsasl_client(mechanism: &str, right: bool, success_data: bool) {
    let dir = TempDir::new("interop-gsasl");
    let mut server = vec!["server".into(), "--mechanism".into(), mechanism.into()];
    match mechanism {
        // No accounts needed: no users file (it is optional for these two).
        "ANONYMOUS" => {}
        "EXTERNAL" => server.extend(["--external-id".into(), USER.into()]),
        _ => {
            let users = dir.file("users", format!("{USER}:{PASSWORD}\n").as_bytes());
            server.extend(["--users".into(), users.to_str().unwrap().into()]);
        }
    }
    if !success_data {
        server.push("--no-success-data".into());
    }
    let mut client = gsasl_client_flags(mechanism, right);
    client.insert(0, "--no-client-first".into());
    let x = run_pair(ours(server), gsasl("--client", mechanism, &client));
    let what = format!(
        "gsasl --client {mechanism}, right credentials: {right}, success data: {success_data}"
    );
    check_lines(&x);
    if right {
        assert_eq!(x.server.code(), Some(0), "{what}\n{}", x.dump());
        let who = authenticated_as(mechanism);
        assert!(
            x.server
                .stderr
                .contains(&format!("{mechanism}: authenticated authcid=\"{who}\"")),
            "{what}\n{}",
            x.dump()
        );
        if mechanism == "ANONYMOUS" {
            assert!(
                x.server.stderr.contains(&format!("trace=\"{TRACE}\"")),
                "{what}\n{}",
                x.dump()
            );
        }
        // For SCRAM, gsasl exits 0 only if our server signature verified.
        assert_eq!(x.client.code(), Some(0), "{what}\n{}", x.dump());
        if mechanism.starts_with("SCRAM-") {
            // Server lines: the empty first challenge, server-first, v= (as success data, or
            // as a challenge), then one empty line (after gsasl's acknowledgement, or as the
            // final line after the challenge was answered).
            let s = payloads(&x, "S: ");
            assert_eq!(s.len(), 4, "{what}\n{}", x.dump());
            let v = b64::decode(s[2].as_bytes()).unwrap();
            assert!(v.as_slice().starts_with(b"v="), "{what}\n{}", x.dump());
            assert_eq!(s[3], "", "{what}\n{}", x.dump());
        }
    } else {
        // gsasl's client cannot always tell: judged by the server.
        assert_eq!(x.server.code(), Some(1), "{what}\n{}", x.dump());
        assert!(
            x.server.stderr.contains(our_server_refusal(mechanism)),
            "{what}\n{}",
            x.dump()
        );
        assert!(
            !x.server.stderr.contains("authenticated authcid"),
            "{what}\n{}",
            x.dump()
        );
    }
}

/// gsasl's command-line server cannot validate ANONYMOUS or EXTERNAL (it installs no
/// callback for them), so there are no `GsaslServer` rows for them. If a gsasl release
/// gains this, this test fails: add the rows then.
#[test]
fn gsasl_server_cannot_validate_anonymous_or_external() {
    for (mechanism, flags) in [
        ("ANONYMOUS", ["--trace", TRACE]),
        ("EXTERNAL", ["--authzid", USER]),
    ] {
        let mut client = vec!["client".into(), "--mechanism".into(), mechanism.into()];
        client.extend(flags.map(String::from));
        let mut gsasl_cmd = Command::new(find_program("gsasl", "gsasl"));
        gsasl_cmd.args(["--server", "--no-cb", "-m", mechanism]);
        let x = run_pair(
            Side {
                cmd: gsasl_cmd,
                package: "gsasl",
                leading_mechanism_line: Some(mechanism.to_owned()),
            },
            ours(client),
        );
        check_lines(&x);
        assert_ne!(x.server.code(), Some(0), "{mechanism}\n{}", x.dump());
        assert!(
            x.server.stderr.contains("No callback specified by caller"),
            "{mechanism}\n{}",
            x.dump()
        );
        assert_eq!(x.client.code(), Some(1), "{mechanism}\n{}", x.dump());
        // Our client did send its message: the empty first challenge was answered.
        assert_eq!(payloads(&x, "C: ").len(), 1, "{mechanism}\n{}", x.dump());
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
fn cyrus_cmd(program: &str, dir: &TempDir, args: &[String]) -> Command {
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

/// One side of a Cyrus exchange: our client's credentials and `sasl-sample-server`'s extra
/// flags, and what the server says at the end.
struct CyrusServerCase {
    flags: Vec<String>,
    password: &'static str,
    authzid: Option<&'static str>,
    /// The `Username:` the server prints on success (`None`: not checked).
    username: Option<String>,
    /// What the server writes to stderr when it refuses.
    refusal: &'static str,
}

fn cyrus_server_case(mechanism: &str, right: bool) -> CyrusServerCase {
    let mut case = CyrusServerCase {
        flags: Vec::new(),
        password: if right { PASSWORD } else { WRONG },
        authzid: None,
        username: Some(format!("{USER}@{REALM}")),
        refusal: "authentication failure",
    };
    match mechanism {
        "ANONYMOUS" => {
            case.username = Some(format!("anonymous@{REALM}"));
            if !right {
                // Cyrus truncates over-long traces; what fails is a server that forbids
                // anonymous logins (a flag the sample server takes but does not list).
                case.flags = vec!["-f".into(), "noanonymous".into()];
                case.refusal = "no mechanism available";
            }
        }
        "EXTERNAL" => {
            case.flags = vec!["-e".into(), format!("ssf=0,id={USER}")];
            // The sample server garbles the external id (see the top of this file).
            case.username = None;
            if !right {
                case.authzid = Some(OTHER);
                case.refusal = "Requested identity not authenticated identity";
            }
        }
        _ => {}
    }
    case
}

/// Our client's credentials for a mechanism.
fn library_credentials<'a>(mechanism: Mechanism, case: &'a CyrusServerCase) -> Credentials<'a> {
    let creds = match mechanism {
        Mechanism::Anonymous => Credentials::new().trace(TRACE),
        Mechanism::External => Credentials::new(),
        _ => Credentials::new()
            .authcid(USER)
            .password(case.password.as_bytes()),
    };
    match case.authzid {
        Some(z) => creds.authzid(z),
        None => creds,
    }
}

/// The sample programs' application phase after authentication (one message each way).
const SERVER_MESSAGE: &[u8] = b"srv message 1\0";
const CLIENT_MESSAGE: &[u8] = b"client message 1\0";

fn cyrus_server(mechanism: &str, right: bool) {
    let m: Mechanism = mechanism.parse().unwrap();
    let case = cyrus_server_case(mechanism, right);
    let dir = cyrus_setup(mechanism);
    let deadline = Instant::now() + TIMEOUT;
    let mut args: Vec<String> = ["-m", mechanism, "-u", REALM].map(String::from).into();
    args.extend(case.flags.iter().cloned());
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

    let mut client = ClientSession::new(m, &library_credentials(m, &case)).unwrap();
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
            // The server says so: the client finishes (and checks it had nothing left; for
            // SCRAM, that it verified the server's signature).
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
        "sasl-sample-server {mechanism}, right credentials: {right} {CYRUS_PACKAGES}\nstdout:\n{stdout}\nstderr:\n{}",
        p.stderr()
    );
    if right {
        assert_eq!(client_failure, None, "{what}");
        assert_eq!(completed, Some(Ok(())), "{what}");
        assert!(client.is_finished(), "{what}");
        assert!(status.success(), "{what}");
        if let Some(user) = &case.username {
            assert!(stdout.contains(&format!("Username: {user}")), "{what}");
        }
        if m.is_scram() {
            // Challenges before completion: server-first, then server-final (v=) as one
            // more challenge, which the client verified before answering it.
            let challenges: Vec<Vec<u8>> = transcript
                .iter()
                .take_while(|l| *l != "Negotiation complete")
                .filter_map(|l| framed(l, "S:"))
                .skip(1) // the mechanism list
                .map(decode)
                .collect();
            assert_eq!(challenges.len(), 2, "{what}");
            assert!(challenges[1].starts_with(b"v="), "{what}");
        }
    } else {
        assert!(!status.success(), "{what}");
        assert!(p.stderr().contains(case.refusal), "{what}");
        assert_eq!(completed, None, "{what}");
        assert!(!client.is_finished(), "{what}");
    }
}

/// `sasl-sample-client`'s extra flags for a mechanism, and how our server ends.
fn cyrus_client_case(mechanism: &str, right: bool) -> (Vec<String>, Result<String, Failure>) {
    let ok = Ok(authenticated_as(mechanism).to_owned());
    match mechanism {
        // Its trace is `ID@hostname`: over 255 characters with a long `-u`.
        "ANONYMOUS" if right => (Vec::new(), ok),
        "ANONYMOUS" => (vec!["-u".into(), long_trace()], Err(Failure::TooLarge)),
        "EXTERNAL" => {
            let mut flags = vec!["-e".into(), format!("ssf=0,id={USER}")];
            if right {
                (flags, ok)
            } else {
                flags.extend(["-u".into(), OTHER.into()]);
                (flags, Err(Failure::AuthzDenied))
            }
        }
        _ if right => (vec!["-a".into(), USER.into()], ok),
        _ => (vec!["-a".into(), USER.into()], Err(Failure::BadCredentials)),
    }
}

/// What the relay does next, owned so the session can be called again.
enum Next<'a> {
    Send(Vec<u8>),
    Answer(Answer<'a>),
    Done(Result<String, Failure>),
}

fn cyrus_client(mechanism: &str, right: bool) {
    let m: Mechanism = mechanism.parse().unwrap();
    let password = if right { PASSWORD } else { WRONG };
    let (flags, expected) = cyrus_client_case(mechanism, right);
    let dir = cyrus_setup(mechanism);
    let deadline = Instant::now() + TIMEOUT;
    let mut args: Vec<String> = vec!["-m".into(), mechanism.into()];
    args.extend(flags);
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

    // SMTP-like: the sample client expects server-final data as one more challenge. SCRAM
    // runs against stored keys.
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(&[m])
            .allow_plaintext_without_tls(true),
    );
    let mut transport = Transport::plaintext().with_success_data(false);
    if m == Mechanism::External {
        transport = transport.with_external_identity(USER);
    }
    let keys = ScramHash::of(m).map(|h| {
        ScramKeys::derive(h, PASSWORD.as_bytes(), b"interop salt", h.min_iterations()).unwrap()
    });
    let mut server = ServerSession::new(&config, m, &transport).unwrap();
    let mut step = server.start(ir);
    let outcome = loop {
        let next = match step.unwrap() {
            ServerStep::Challenge(c) => Next::Send(c.to_vec()),
            ServerStep::Request(r) => Next::Answer(match (r, &keys) {
                (Request::VerifyPassword(r), _) if r.authcid() == USER => {
                    Answer::Password(PASSWORD.as_bytes())
                }
                (Request::Secret(r), Some(k)) if r.authcid() == USER => Answer::ScramKeys(k),
                (Request::Secret(r), None) if r.authcid() == USER => {
                    Answer::Password(PASSWORD.as_bytes())
                }
                (Request::VerifyPassword(_) | Request::Secret(_), _) => Answer::UnknownUser,
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
    let trace = server.anonymous_trace().map(str::to_owned);
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
        "sasl-sample-client {mechanism}, right credentials: {right} {CYRUS_PACKAGES}\nstdout:\n{}\nstderr:\n{}",
        transcript.join("\n"),
        p.stderr()
    );
    assert_eq!(outcome, expected, "{what}");
    if right {
        assert!(status.success(), "{what}");
        assert!(
            transcript.iter().any(|l| l == "Negotiation complete"),
            "{what}"
        );
        if m == Mechanism::Anonymous {
            let trace = trace.unwrap();
            assert!(trace.starts_with("anonymous@"), "{trace:?} {what}");
        }
    } else {
        // The client learns it from the server ending the exchange.
        assert!(!status.success(), "{what}");
        assert!(
            !transcript.iter().any(|l| l == "Negotiation complete"),
            "{what}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The rows: (peer, mechanism).

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
    gsasl_server_scram_sha_1: GsaslServer "SCRAM-SHA-1";
    gsasl_server_scram_sha_256: GsaslServer "SCRAM-SHA-256";
    gsasl_client_plain: GsaslClient "PLAIN";
    gsasl_client_login: GsaslClient "LOGIN";
    gsasl_client_cram_md5: GsaslClient "CRAM-MD5";
    gsasl_client_scram_sha_1: GsaslClient "SCRAM-SHA-1";
    gsasl_client_scram_sha_256: GsaslClient "SCRAM-SHA-256";
    gsasl_client_scram_sha_1_no_success_data: GsaslClientNoSuccessData "SCRAM-SHA-1";
    gsasl_client_scram_sha_256_no_success_data: GsaslClientNoSuccessData "SCRAM-SHA-256";
    gsasl_client_anonymous: GsaslClient "ANONYMOUS";
    gsasl_client_external: GsaslClient "EXTERNAL";
    cyrus_server_plain: CyrusServer "PLAIN";
    cyrus_server_login: CyrusServer "LOGIN";
    cyrus_server_cram_md5: CyrusServer "CRAM-MD5";
    cyrus_server_scram_sha_1: CyrusServer "SCRAM-SHA-1";
    cyrus_server_scram_sha_256: CyrusServer "SCRAM-SHA-256";
    cyrus_server_scram_sha_512: CyrusServer "SCRAM-SHA-512";
    cyrus_server_anonymous: CyrusServer "ANONYMOUS";
    cyrus_server_external: CyrusServer "EXTERNAL";
    cyrus_client_plain: CyrusClient "PLAIN";
    cyrus_client_login: CyrusClient "LOGIN";
    cyrus_client_cram_md5: CyrusClient "CRAM-MD5";
    cyrus_client_scram_sha_1: CyrusClient "SCRAM-SHA-1";
    cyrus_client_scram_sha_256: CyrusClient "SCRAM-SHA-256";
    cyrus_client_scram_sha_512: CyrusClient "SCRAM-SHA-512";
    cyrus_client_anonymous: CyrusClient "ANONYMOUS";
    cyrus_client_external: CyrusClient "EXTERNAL";
}
