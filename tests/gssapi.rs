//! GSSAPI (RFC 4752) and GS2-KRB5 (RFC 5801) against a real private MIT KDC
//! (`tests/support/kdc.rs`): the engine's client against its server, and against GNU SASL's
//! `gsasl` and Cyrus SASL's sample programs in both directions, plus each failure typed.
//!
//! GSS-API reads its configuration from the environment (`KRB5_CONFIG`, `KRB5CCNAME`,
//! `KRB5_KTNAME`), which a multi-threaded test process must not change. So each test starts
//! its KDC, then runs itself again as a child process (`--exact NAME`) with that KDC's
//! environment; the child runs the body and the parent checks that exactly that one test
//! passed there.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use saslmech::{
    Answer, ClientSession, Credentials, Error, Failure, Mechanism, Request, ServerConfig,
    ServerSession, ServerStep, Transport, b64,
};
use support::kdc::{self, Kdc, REALM};

const CHILD: &str = "SASLMECH_GSSAPI_TEST_CHILD";
const TIMEOUT: Duration = Duration::from_secs(30);

/// Run the test `name` of this binary in a child process with the KDC's environment (and
/// `extra`), and require that it passed.
fn in_child(kdc: &Kdc, name: &str, extra: &[(&str, String)]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .envs(kdc.env())
        .env(CHILD, "1");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child {name} failed:\n{stdout}\n{stderr}"
    );
}

fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// `fn NAME()`: in the parent, start a KDC and run NAME in a child; in the child, the body.
macro_rules! kdc_test {
    ($name:ident, $body:expr) => {
        kdc_test!($name, |_kdc: &Kdc| Vec::new(), $body);
    };
    ($name:ident, $setup:expr, $body:expr) => {
        #[test]
        fn $name() {
            if is_child() {
                let body: fn() = $body;
                body();
            } else {
                let kdc = Kdc::start();
                let setup: fn(&Kdc) -> Vec<(&'static str, String)> = $setup;
                let extra = setup(&kdc);
                in_child(&kdc, stringify!($name), &extra);
            }
        }
    };
}

fn principal() -> String {
    format!("alice@{REALM}")
}

fn server_config(mechanism: Mechanism) -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new().mechanisms(&[mechanism]))
}

fn client_creds(service: &str) -> Credentials<'_> {
    Credentials::new().service(service).host("localhost")
}

/// What the server concluded and what the client concluded.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    server: Result<(String, Option<String>), Failure>,
    client: Result<(), Error>,
    requests: Vec<String>,
}

/// The engine's client against its server in memory; `answer` answers each request.
fn pair(
    mechanism: Mechanism,
    config: &Arc<ServerConfig>,
    creds: &Credentials<'_>,
    success_data: bool,
    mut answer: impl FnMut(&Request<'_>) -> Answer<'static>,
) -> Outcome {
    let transport = Transport::plaintext().with_success_data(success_data);
    let mut server = ServerSession::new(config, mechanism, &transport).unwrap();
    let mut client = ClientSession::new(mechanism, creds).unwrap();
    let ir = client.start().unwrap().map(<[u8]>::to_vec);
    let mut requests = Vec::new();
    let mut step = server.start(ir.as_deref()).unwrap();
    for _ in 0..20 {
        let next = match step {
            ServerStep::Challenge(c) => {
                let c = c.to_vec();
                match client.step(&c) {
                    Ok(r) => {
                        let r = r.to_vec();
                        server.step(&r).unwrap()
                    }
                    Err(e) => {
                        return Outcome {
                            server: Err(server.cancel().unwrap()),
                            client: Err(e),
                            requests,
                        };
                    }
                }
            }
            ServerStep::Request(r) => {
                requests.push(match &r {
                    Request::Principal(p) => {
                        assert_eq!(p.mechanism(), mechanism);
                        format!("principal {} as {:?}", p.principal(), p.authzid())
                    }
                    Request::Authorize(a) => {
                        format!("authorize {} as {}", a.authcid(), a.authzid())
                    }
                    other => panic!("unexpected request {other:?}"),
                });
                let a = answer(&r);
                server.answer(a).unwrap()
            }
            ServerStep::Success(ok) => {
                let id = (
                    ok.identity.authcid().to_owned(),
                    ok.identity.authzid().map(str::to_owned),
                );
                let data = ok.data.map(<[u8]>::to_vec);
                let client = client.finish(data.as_deref());
                return Outcome {
                    server: Ok(id),
                    client,
                    requests,
                };
            }
            ServerStep::Failure(f) => {
                return Outcome {
                    server: Err(f),
                    client: Ok(()),
                    requests,
                };
            }
            other => panic!("unexpected step {other:?}"),
        };
        step = next;
    }
    panic!("no end after 20 steps");
}

/// Map alice's principal to `alice`, allow nothing else.
fn map_alice(r: &Request<'_>) -> Answer<'static> {
    match r {
        Request::Principal(p) if p.principal() == format!("alice@{REALM}") => Answer::User("alice"),
        _ => Answer::Reject,
    }
}

kdc_test!(engine_pair_both_mechanisms, || {
    for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
        for success_data in [false, true] {
            // Any key of the keytab (the default), and the configured acceptor name.
            for config in [
                server_config(m),
                Arc::new(
                    ServerConfig::new()
                        .mechanisms(&[m])
                        .gssapi_acceptor("smtp", "localhost"),
                ),
            ] {
                let out = pair(m, &config, &client_creds("smtp"), success_data, map_alice);
                assert_eq!(out.server, Ok(("alice".to_owned(), None)), "{m} {out:?}");
                assert_eq!(out.client, Ok(()), "{m}");
                assert_eq!(out.requests, [format!("principal {} as None", principal())]);
            }
        }
        // A client with channel-binding data says so (`y`), which this server accepts.
        if m == Mechanism::Gs2Krb5 {
            let config = saslmech::ClientConfig::new()
                .channel_binding(saslmech::ChannelBindingType::TlsExporter, &[7; 32]);
            let mut c = ClientSession::with_config(m, &client_creds("smtp"), &config).unwrap();
            let first = c.start().unwrap().unwrap().to_vec();
            assert!(first.starts_with(b"y,,"), "{first:?}");
            let mut s = ServerSession::new(&server_config(m), m, &Transport::plaintext()).unwrap();
            assert!(matches!(
                s.start(Some(&first)).unwrap(),
                ServerStep::Request(Request::Principal(_))
            ));
            // The header is bound into the context: `n` in its place fails the context.
            let mut c = ClientSession::with_config(m, &client_creds("smtp"), &config).unwrap();
            let mut first = c.start().unwrap().unwrap().to_vec();
            first[0] = b'n';
            let mut s = ServerSession::new(&server_config(m), m, &Transport::plaintext()).unwrap();
            assert!(matches!(
                s.start(Some(&first)).unwrap(),
                ServerStep::Failure(Failure::BadCredentials)
            ));
        }
        // Accept: the principal's own name is the user.
        let out = pair(m, &server_config(m), &client_creds("smtp"), false, |_| {
            Answer::Accept
        });
        assert_eq!(out.server, Ok((principal(), None)), "{m}");
        // An authzid: the principal request shows it; the user differs, so authorize.
        let creds = client_creds("smtp").authzid("bob");
        let out = pair(m, &server_config(m), &creds, false, |r| match r {
            Request::Principal(_) => Answer::User("alice"),
            Request::Authorize(a) if a.authcid() == "alice" && a.authzid() == "bob" => {
                Answer::Accept
            }
            _ => Answer::Reject,
        });
        assert_eq!(out.server, Ok(("alice".into(), Some("bob".into()))), "{m}");
        assert_eq!(
            out.requests,
            [
                format!("principal {} as Some(\"bob\")", principal()),
                "authorize alice as bob".to_owned()
            ]
        );
    }
});

kdc_test!(engine_failures_are_typed, || {
    for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
        // A principal the application refuses.
        let out = pair(m, &server_config(m), &client_creds("smtp"), false, |_| {
            Answer::Reject
        });
        assert_eq!(out.server, Err(Failure::AuthzDenied), "{m}");
        let out = pair(m, &server_config(m), &client_creds("smtp"), false, |_| {
            Answer::UnknownUser
        });
        assert_eq!(out.server, Err(Failure::BadCredentials), "{m}");
        // An authzid the application refuses.
        let creds = client_creds("smtp").authzid("bob");
        let out = pair(m, &server_config(m), &creds, false, map_alice);
        assert_eq!(out.server, Err(Failure::AuthzDenied), "{m}");
        // The wrong service principal: a ticket for imap/localhost, whose key the server's
        // keytab (smtp only) lacks.
        let out = pair(
            m,
            &server_config(m),
            &client_creds("imap"),
            false,
            map_alice,
        );
        assert_eq!(out.server, Err(Failure::BadCredentials), "{m}");
        assert!(out.requests.is_empty());
        // A server configured for a principal its keytab lacks: a temporary failure (454).
        let config = Arc::new(
            ServerConfig::new()
                .mechanisms(&[m])
                .gssapi_acceptor("imap", "localhost"),
        );
        let out = pair(m, &config, &client_creds("smtp"), false, map_alice);
        assert_eq!(out.server, Err(Failure::TemporaryFailure), "{m}");
        // A service principal the KDC does not know: the client cannot start.
        assert_eq!(
            ClientSession::new(m, &client_creds("pop")).unwrap_err(),
            Error::InvalidArgument("the KDC does not know the service principal")
        );
        // No service or host named.
        assert!(matches!(
            ClientSession::new(m, &Credentials::new().host("localhost")),
            Err(Error::InvalidArgument(_))
        ));
    }
});

/// A server session of `m` parked on its principal request, after the engine's client got it
/// there.
fn parked_on_principal(m: Mechanism, config: &Arc<ServerConfig>) -> ServerSession {
    let mut server = ServerSession::new(config, m, &Transport::plaintext()).unwrap();
    let mut client = ClientSession::new(m, &client_creds("smtp")).unwrap();
    let ir = client.start().unwrap().unwrap().to_vec();
    let mut step = own_step(server.start(Some(&ir)).unwrap());
    for _ in 0..5 {
        match step {
            Some(challenge) => {
                let r = client.step(&challenge).unwrap().to_vec();
                step = own_step(server.step(&r).unwrap());
            }
            None => return server,
        }
    }
    panic!("{m}: no principal request");
}

/// `Some(challenge)`, or `None` for the principal request.
fn own_step(step: ServerStep<'_>) -> Option<Vec<u8>> {
    match step {
        ServerStep::Challenge(c) => Some(c.to_vec()),
        ServerStep::Request(Request::Principal(_)) => None,
        other => panic!("unexpected {other:?}"),
    }
}

kdc_test!(engine_answers_that_do_not_fit_change_nothing, || {
    for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
        let config = Arc::new(ServerConfig::new().mechanisms(&[m]).max_identity(300));
        let mut s = parked_on_principal(m, &config);
        let long = "u".repeat(301);
        let bad_user = Error::InvalidArgument("user name empty, too long or with NUL");
        for (answer, error) in [
            (Answer::Password(b"pw"), Error::WrongAnswer),
            (Answer::TokenOwner("alice"), Error::WrongAnswer),
            (Answer::User(""), bad_user),
            (Answer::User("a\0b"), bad_user),
            (Answer::User(&long), bad_user),
        ] {
            assert_eq!(s.answer(answer).unwrap_err(), error, "{m} {answer:?}");
            let Some(Request::Principal(p)) = s.request() else {
                panic!("{m}: the request is gone after {answer:?}");
            };
            assert_eq!(p.principal(), principal());
        }
        // The backend is down: a temporary failure (454), not a verdict.
        let mut s = parked_on_principal(m, &config);
        assert!(matches!(
            s.answer(Answer::TemporaryFailure).unwrap(),
            ServerStep::Failure(Failure::TemporaryFailure)
        ));
        let mut s = parked_on_principal(m, &config);
        let user = "u".repeat(300);
        let ServerStep::Success(ok) = s.answer(Answer::User(&user)).unwrap() else {
            panic!("{m}: a user name at the limit");
        };
        assert_eq!(ok.identity.authcid(), user);
    }
});

kdc_test!(
    engine_client_without_ticket,
    |kdc: &Kdc| vec![(
        "KRB5CCNAME",
        format!("FILE:{}/no-such-cache", kdc.dir.display())
    )],
    || {
        for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
            assert_eq!(
                ClientSession::new(m, &client_creds("smtp")).unwrap_err(),
                Error::InvalidArgument("no Kerberos ticket, or it expired (run kinit)"),
                "{m}"
            );
        }
    }
);

kdc_test!(
    engine_client_with_expired_ticket,
    |kdc: &Kdc| {
        let cc = format!("FILE:{}/short-cache", kdc.dir.display());
        kdc.kinit("alice", kdc::ALICE_PASSWORD, &cc, Some("2s"));
        std::thread::sleep(Duration::from_millis(3500));
        vec![("KRB5CCNAME", cc)]
    },
    || {
        for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
            assert_eq!(
                ClientSession::new(m, &client_creds("smtp")).unwrap_err(),
                Error::InvalidArgument("no Kerberos ticket, or it expired (run kinit)"),
                "{m}"
            );
        }
    }
);

kdc_test!(protocol_adapters_carry_both_mechanisms, || {
    use saslmech::proto::imap::{ImapClient, ImapServer};
    use saslmech::proto::pop3::{Pop3Client, Pop3Server};
    use saslmech::proto::smtp::{SmtpClient, SmtpServer};
    use support::adapters::{ClientSide, ServerSide, USER, run};
    for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
        for ir in [false, true] {
            let creds = client_creds("smtp");
            let config = server_config(m);
            let pairs: Vec<(Box<dyn ClientSide>, Box<dyn ServerSide>)> = vec![
                (
                    Box::new(SmtpClient::new(m, &creds).unwrap().initial_response(ir)),
                    Box::new(SmtpServer::new(Arc::clone(&config))),
                ),
                (
                    Box::new(ImapClient::new("a1", m, &creds).unwrap().sasl_ir(ir)),
                    Box::new(ImapServer::new(Arc::clone(&config))),
                ),
                (
                    Box::new(Pop3Client::new(m, &creds).unwrap().initial_response(ir)),
                    Box::new(Pop3Server::new(Arc::clone(&config))),
                ),
            ];
            for (mut c, mut s) in pairs {
                s.set_transport(Transport::plaintext());
                let out = run(c.as_mut(), s.as_mut());
                let id = out
                    .server
                    .as_ref()
                    .unwrap_or_else(|e| panic!("{m} {e:?}: {out:?}"));
                assert_eq!(id.authcid, USER, "{m}: {out:?}");
                assert_eq!(out.requests, 1, "{m}: {out:?}");
                assert!(out.client.authenticated, "{m}: {out:?}");
            }
        }
    }
});

// ---- Peers: gsasl and Cyrus SASL's sample programs, through pipes ----

/// A peer process: lines of its stdout arrive through a channel; an unterminated prompt
/// ending in `(y/n) ` counts as a line.
struct Peer {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Peer {
    fn spawn(mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let (tx, lines) = mpsc::channel();
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while let Ok(1) = out.read(&mut byte) {
                if byte[0] == b'\n' {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches('\r')
                        .to_owned();
                    buf.clear();
                    if tx.send(line).is_err() {
                        return;
                    }
                } else {
                    buf.push(byte[0]);
                    if buf.ends_with(b"(y/n) ") {
                        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
                        buf.clear();
                    }
                }
            }
            if !buf.is_empty() {
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
            }
        });
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Peer {
            child,
            lines,
            stderr,
        }
    }

    fn next_line(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.lines.recv_timeout(left).ok()
    }

    fn send(&mut self, line: &str) -> bool {
        match self.child.stdin.as_mut() {
            Some(stdin) => writeln!(stdin, "{line}")
                .and_then(|()| stdin.flush())
                .is_ok(),
            None => false,
        }
    }

    fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait for the exit (killed by PID at the deadline).
    fn wait(&mut self, deadline: Instant) -> std::process::ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn program(name: &str) -> std::path::PathBuf {
    kdc::find(name).unwrap_or_else(|| panic!("{name} is not installed (scripts/install-deps.sh)"))
}

fn gsasl(role: &str, m: Mechanism, extra: &[&str]) -> Peer {
    let mut cmd = Command::new(program("gsasl"));
    cmd.args([
        role,
        "-m",
        m.name(),
        "--service",
        "smtp",
        "--hostname",
        "localhost",
    ])
    .args(["--no-cb", "-d", "--quiet"])
    .args(extra);
    Peer::spawn(cmd)
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    b64::decode(s.as_bytes())
        .ok()
        .map(|b| b.as_slice().to_vec())
}

fn is_b64(line: &str) -> bool {
    !line.is_empty() && unb64(line).is_some()
}

/// Our client against `gsasl --server`.
fn our_client_gsasl_server(m: Mechanism, creds: &Credentials<'_>) -> (bool, String) {
    let deadline = Instant::now() + TIMEOUT;
    let mut p = gsasl("--server", m, &[]);
    let mut client = ClientSession::new(m, creds).unwrap();
    let mut transcript = Vec::new();
    let mut first = true;
    let mut done = false;
    while let Some(line) = p.next_line(deadline) {
        transcript.push(line.clone());
        if line.ends_with("(y/n) ") {
            // gsasl's server asks whether to accept the principal it validated.
            assert!(p.send("y"));
            continue;
        }
        // The mechanism name; then gsasl's server sends an empty challenge, which the client
        // answers with its first token.
        if first && line == m.name() {
            first = false;
            continue;
        }
        if done || !is_b64(&line) && !line.is_empty() {
            continue;
        }
        let challenge = unb64(&line).unwrap_or_default();
        match client.step(&challenge) {
            Ok(r) => {
                let r = b64::encode(r);
                assert!(p.send(&r));
            }
            Err(e) => {
                transcript.push(format!("our client: {e:?}"));
                done = true;
                p.close_stdin();
            }
        }
    }
    let status = p.wait(deadline);
    let text = format!("{}\nstderr:\n{}", transcript.join("\n"), p.stderr());
    (status.success(), text)
}

kdc_test!(gsasl_server_against_our_client, || {
    for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
        let (ok, text) = our_client_gsasl_server(m, &client_creds("smtp"));
        assert!(ok, "{m}: {text}");
        // A ticket for another service: gsasl's server (smtp keytab) fails.
        let (ok, text) = our_client_gsasl_server(m, &client_creds("imap"));
        assert!(!ok, "{m}: {text}");
    }
});

/// `gsasl --client` against our server; `answer` answers the requests.
fn gsasl_client_our_server(
    m: Mechanism,
    extra: &[&str],
    answer: fn(&Request<'_>) -> Answer<'static>,
) -> (Result<(String, Option<String>), Failure>, String) {
    let deadline = Instant::now() + TIMEOUT;
    let mut p = gsasl("--client", m, extra);
    let config = server_config(m);
    let transport = Transport::plaintext().with_success_data(false);
    let mut server = ServerSession::new(&config, m, &transport).unwrap();
    let mut transcript = Vec::new();
    let mut started = false;
    let mut result = None;
    while let Some(line) = p.next_line(deadline) {
        transcript.push(line.clone());
        if !started && line == m.name() {
            // gsasl's client (--no-client-first) waits for an empty challenge.
            started = true;
            match server.start(None).unwrap() {
                ServerStep::Challenge(c) => assert!(p.send(&b64::encode(c))),
                other => panic!("{other:?}"),
            }
            continue;
        }
        if result.is_some() {
            // gsasl reads one more line after its last step.
            p.close_stdin();
            continue;
        }
        if !is_b64(&line) && !line.is_empty() {
            continue;
        }
        let input = unb64(&line).unwrap_or_default();
        let mut step = if started {
            server.step(&input).unwrap()
        } else {
            started = true;
            server.start(Some(&input)).unwrap()
        };
        loop {
            match step {
                ServerStep::Request(r) => {
                    let a = answer(&r);
                    step = server.answer(a).unwrap();
                }
                ServerStep::Challenge(c) => {
                    let c = b64::encode(c);
                    assert!(p.send(&c));
                    break;
                }
                ServerStep::Success(ok) => {
                    result = Some(Ok((
                        ok.identity.authcid().to_owned(),
                        ok.identity.authzid().map(str::to_owned),
                    )));
                    assert!(p.send(""));
                    break;
                }
                ServerStep::Failure(f) => {
                    result = Some(Err(f));
                    p.close_stdin();
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    let _ = p.wait(deadline);
    let text = format!("{}\nstderr:\n{}", transcript.join("\n"), p.stderr());
    (result.unwrap_or(Err(Failure::Cancelled)), text)
}

kdc_test!(gsasl_client_against_our_server, || {
    for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
        let (r, text) = gsasl_client_our_server(m, &["--no-client-first"], map_alice);
        assert_eq!(r, Ok(("alice".into(), None)), "{m}: {text}");
        let (r, text) = gsasl_client_our_server(m, &["--no-client-first", "-z", "bob"], map_alice);
        assert_eq!(r, Err(Failure::AuthzDenied), "{m}: {text}");
        let (r, text) = gsasl_client_our_server(m, &["--no-client-first"], |_| Answer::Reject);
        assert_eq!(r, Err(Failure::AuthzDenied), "{m}: {text}");
    }
});

fn cyrus(program_name: &str, args: &[&str]) -> Peer {
    let mut cmd = Command::new(program("stdbuf"));
    cmd.arg("-oL").arg(program(program_name)).args(args);
    Peer::spawn(cmd)
}

/// `sasl-sample-server` (GSSAPI plugin, smtp keytab) against our client.
fn cyrus_server_our_client(m: Mechanism, creds: &Credentials<'_>) -> (bool, String) {
    let deadline = Instant::now() + TIMEOUT;
    let mut p = cyrus(
        "sasl-sample-server",
        &["-s", "smtp", "-d", "localhost", "-m", m.name()],
    );
    let mut client = ClientSession::new(m, creds).unwrap();
    let mut transcript = Vec::new();
    let mut sent_first = false;
    let mut complete = false;
    let mut failed = false;
    while let Some(line) = p.next_line(deadline) {
        transcript.push(line.clone());
        if line == "Negotiation complete" {
            complete = true;
            transcript.push(format!("client finish: {:?}", client.finish(None)));
            continue;
        }
        let Some(payload) = line.strip_prefix("S: ") else {
            continue;
        };
        let data = unb64(payload).unwrap();
        if !sent_first {
            // The mechanism list.
            sent_first = true;
            let mut first = m.name().as_bytes().to_vec();
            first.push(0);
            first.extend_from_slice(client.start().unwrap().unwrap());
            assert!(p.send(&format!("C: {}", b64::encode(&first))));
            continue;
        }
        if complete {
            assert!(p.send(&format!("C: {}", b64::encode(b"client data"))));
            continue;
        }
        match client.step(&data) {
            Ok(r) => {
                let r = b64::encode(r);
                assert!(p.send(&format!("C: {r}")));
            }
            Err(e) => {
                failed = true;
                transcript.push(format!("our client: {e:?}"));
                p.close_stdin();
            }
        }
    }
    let _ = p.wait(deadline);
    let text = format!("{}\nstderr:\n{}", transcript.join("\n"), p.stderr());
    // Cyrus's sample server prints the user it authenticated after "Negotiation complete".
    let authenticated = complete && transcript.iter().any(|l| l == "Username: alice");
    (authenticated && !failed, text)
}

kdc_test!(cyrus_server_against_our_client, || {
    for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
        let (ok, text) = cyrus_server_our_client(m, &client_creds("smtp"));
        assert!(ok, "{m}: {text}");
        assert!(text.contains("client finish: Ok(())"), "{m}: {text}");
        let (ok, text) = cyrus_server_our_client(m, &client_creds("imap"));
        assert!(!ok, "{m}: {text}");
    }
});

/// `sasl-sample-client` against our server.
fn cyrus_client_our_server(
    m: Mechanism,
    extra: &[&str],
    answer: fn(&Request<'_>) -> Answer<'static>,
) -> (Result<(String, Option<String>), Failure>, String) {
    let deadline = Instant::now() + TIMEOUT;
    let mut args = vec!["-s", "smtp", "-n", "localhost", "-m", m.name()];
    args.extend_from_slice(extra);
    let mut p = cyrus("sasl-sample-client", &args);
    let config = server_config(m);
    let transport = Transport::plaintext().with_success_data(false);
    let mut server = ServerSession::new(&config, m, &transport).unwrap();
    let mut transcript = Vec::new();
    let mut result = None;
    let mut listed = false;
    let deadline_list = deadline;
    while let Some(line) = p.next_line(deadline_list) {
        transcript.push(line.clone());
        if line.contains("Please enter mechanism list") || (!listed && line.starts_with("Waiting"))
        {
            // Give the mechanism list.
            listed = true;
            assert!(p.send(&format!("S: {}", b64::encode(m.name().as_bytes()))));
            continue;
        }
        let Some(payload) = line.strip_prefix("C: ") else {
            continue;
        };
        if result.is_some() {
            continue;
        }
        let data = unb64(payload).unwrap();
        let mut step = if server.last_message().is_none() && !listed_started(&transcript) {
            // The first line: MECH\0initial-response.
            let ir = data
                .iter()
                .position(|&b| b == 0)
                .map(|at| data[at + 1..].to_vec());
            server.start(ir.as_deref()).unwrap()
        } else {
            server.step(&data).unwrap()
        };
        loop {
            match step {
                ServerStep::Request(r) => {
                    if let Request::Principal(q) = &r {
                        let z = q.authzid().unwrap_or("-");
                        transcript.push(format!("principal {} as {z}", q.principal()));
                    }
                    let a = answer(&r);
                    step = server.answer(a).unwrap();
                }
                ServerStep::Challenge(c) => {
                    let c = b64::encode(c);
                    assert!(p.send(&format!("S: {c}")));
                    break;
                }
                ServerStep::Success(ok) => {
                    result = Some(Ok((
                        ok.identity.authcid().to_owned(),
                        ok.identity.authzid().map(str::to_owned),
                    )));
                    p.close_stdin();
                    break;
                }
                ServerStep::Failure(f) => {
                    result = Some(Err(f));
                    p.close_stdin();
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    let _ = p.wait(deadline);
    let text = format!("{}\nstderr:\n{}", transcript.join("\n"), p.stderr());
    (result.unwrap_or(Err(Failure::Cancelled)), text)
}

/// True once the transcript holds more than one `C:` line (the first is the mechanism).
fn listed_started(transcript: &[String]) -> bool {
    transcript.iter().filter(|l| l.starts_with("C: ")).count() > 1
}

kdc_test!(cyrus_client_against_our_server, || {
    for m in [Mechanism::Gssapi, Mechanism::Gs2Krb5] {
        // `-a` names the authentication identity (GS2-KRB5 needs one), `-u` the authzid.
        let (r, text) = cyrus_client_our_server(m, &["-a", "alice"], map_alice);
        assert_eq!(r, Ok(("alice".into(), None)), "{m}: {text}");
        let (r, text) = cyrus_client_our_server(m, &["-a", "alice", "-u", "bob"], map_alice);
        assert_eq!(r, Err(Failure::AuthzDenied), "{m}: {text}");
        assert!(
            text.contains(&format!("principal alice@{REALM} as bob")),
            "{m}: {text}"
        );
        let (r, text) = cyrus_client_our_server(m, &["-a", "alice"], |_| Answer::Reject);
        assert_eq!(r, Err(Failure::AuthzDenied), "{m}: {text}");
    }
});

#[test]
fn kdc_programs_are_found() {
    kdc::ensure_installed();
    for p in [
        "krb5kdc",
        "kinit",
        "gsasl",
        "sasl-sample-server",
        "sasl-sample-client",
    ] {
        assert!(kdc::find(p).is_some(), "{p}");
    }
    let plugin = kdc::cyrus_gssapi_plugin().expect("Cyrus's GSSAPI plugin");
    assert!(plugin.ends_with("sasl2/libgssapiv2.so"));
}
