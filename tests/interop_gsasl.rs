//! Interop with GNU SASL's command-line tool (Debian package `gsasl`): our client against the
//! gsasl server and the gsasl client against our server, over its line protocol (one base64
//! token per line, strict alternation, server first), for every mechanism both speak, with
//! the right password and a wrong one.
//!
//! Every child runs under `timeout`, so a protocol mismatch ends the test instead of hanging it.
//! (This covers the gsasl half of the interop work; Cyrus SASL's sample programs are not
//! driven yet.)

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use saslmech::{
    Answer, ClientSession, Credentials, Mechanism, Request, ServerConfig, ServerSession,
    ServerStep, Transport,
};

struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(args: &[&str]) -> Peer {
        let mut child = Command::new("timeout")
            .arg("20")
            .arg("gsasl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "cannot run gsasl: install the Debian package `gsasl` (scripts/install-deps.sh)",
            );
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Peer {
            child,
            stdin,
            stdout,
        }
    }

    /// The next line without its newline; `None` at end of output.
    fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
        }
    }

    fn write_line(&mut self, line: &[u8]) {
        if let Some(stdin) = self.stdin.as_mut() {
            // gsasl may already have exited (a failure): the write error is the verdict's
            // business, not this helper's.
            let _ = stdin.write_all(line);
            let _ = stdin.write_all(b"\n");
            let _ = stdin.flush();
        }
    }

    /// Close its input and wait; true if it exited with status 0.
    fn finish(mut self) -> bool {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        assert_ne!(status.code(), Some(124), "gsasl timed out");
        assert!(
            status.code() != Some(127),
            "gsasl not found: install the Debian package `gsasl`"
        );
        status.success()
    }
}

/// How many messages our client sends in a complete exchange (gsasl then waits for one more
/// line, which it gets as end of input).
fn client_messages(m: Mechanism) -> usize {
    match m {
        Mechanism::Login => 2,
        m if m.is_scram() => 3, // client-first, client-final, empty acknowledgement of v=
        _ => 1,
    }
}

/// Our client against `gsasl --server`. Returns (gsasl's verdict, our client's verdict: it
/// sent everything and `finish` accepted; for SCRAM that includes the server's signature).
fn our_client(m: Mechanism, server_password: &str, client_password: &str) -> (bool, bool) {
    let mut args = vec!["--server", "--no-cb", "-d", "--quiet", "-m", m.name()];
    args.extend(["-p", server_password]);
    let mut peer = Peer::spawn(&args);
    assert_eq!(peer.read_line().as_deref(), Some(m.name()));
    let creds = Credentials::new()
        .authcid("user")
        .password(client_password.as_bytes())
        .trace("sirhc");
    let mut client = ClientSession::new(m, &creds).unwrap();
    let mut initial = client.start_b64().unwrap().map(<[u8]>::to_vec);
    let mut sent = 0;
    let mut client_ok = true;
    for _ in 0..10 {
        let Some(challenge) = peer.read_line() else {
            break;
        };
        if sent == client_messages(m) {
            // gsasl ends with one more line after the last step; answer it with an empty one.
            peer.write_line(b"");
            continue;
        }
        let response = match initial.take() {
            // A client-first mechanism answers the empty first challenge with its message.
            Some(ir) if challenge.is_empty() => Ok(ir),
            _ => client.step_b64(challenge.as_bytes()).map(<[u8]>::to_vec),
        };
        match response {
            Ok(r) => {
                peer.write_line(&r);
                sent += 1;
            }
            Err(_) => {
                client_ok = false;
                break;
            }
        }
    }
    let server_ok = peer.finish();
    if client_ok {
        client_ok = sent == client_messages(m) && client.finish(None).is_ok();
    }
    (server_ok, client_ok)
}

/// `gsasl --client` against our server (SMTP-like: no success data). Returns our verdict.
fn our_server(m: Mechanism, client_password: &str, success_data: bool) -> Result<String, String> {
    let mut args = vec![
        "--client",
        "--no-client-first",
        "--no-cb",
        "-d",
        "--quiet",
        "-m",
        m.name(),
    ];
    args.extend(["-a", "user", "-p", client_password, "-n", "sirhc"]);
    let mut peer = Peer::spawn(&args);
    assert_eq!(peer.read_line().as_deref(), Some(m.name()));
    let config = Arc::new(ServerConfig::new().mechanisms(&[m]).hostname("localhost"));
    let transport = Transport::tls().with_success_data(success_data);
    let mut server = ServerSession::new(&config, m, &transport).unwrap();
    let mut step = server.start_b64(None).unwrap();
    let verdict = loop {
        match step {
            ServerStep::Challenge(c) => {
                peer.write_line(c);
                let Some(line) = peer.read_line() else {
                    break Err("gsasl client stopped".to_owned());
                };
                step = server.step_b64(line.as_bytes()).unwrap();
            }
            ServerStep::Request(Request::VerifyPassword(r)) => {
                assert_eq!(r.authcid(), "user");
                step = server.answer_b64(Answer::Password(b"pencil")).unwrap();
            }
            ServerStep::Request(Request::Secret(r)) => {
                assert_eq!(r.authcid(), "user");
                step = server.answer_b64(Answer::Password(b"pencil")).unwrap();
            }
            ServerStep::Request(other) => panic!("{other:?}"),
            ServerStep::Success(ok) => {
                if let Some(data) = ok.data {
                    // gsasl takes success data as one more line.
                    peer.write_line(data);
                }
                break Ok(ok.identity.authcid().to_owned());
            }
            ServerStep::Failure(f) => break Err(f.to_string()),
            other => panic!("{other:?}"),
        }
    };
    // gsasl reads one more line after its last step.
    peer.write_line(b"");
    let client_status = peer.finish();
    if verdict.is_ok() && m.is_scram() {
        // A SCRAM client that verified our signature exits 0.
        assert!(
            client_status,
            "gsasl client did not accept our server-final message"
        );
    }
    verdict
}

const BOTH_WAYS: [Mechanism; 5] = [
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::CramMd5,
    Mechanism::ScramSha1,
    Mechanism::ScramSha256,
];

#[test]
fn our_client_against_gsasl_server() {
    for m in BOTH_WAYS {
        assert_eq!(our_client(m, "pencil", "pencil"), (true, true), "{m}");
        let (server_ok, client_ok) = our_client(m, "pencil", "wrong");
        assert!(!server_ok, "{m}: gsasl accepted a wrong password");
        // Only SCRAM authenticates the server, so only a SCRAM client can tell by itself;
        // for the others the protocol's failure reply is the client's verdict.
        if m.is_scram() {
            assert!(!client_ok, "{m}: our client reported success");
        }
    }
    // Not ANONYMOUS: the gsasl 2.2 command-line server has no callback to validate it and
    // always fails ("No callback specified by caller"); the other direction is tested below.
}

#[test]
fn gsasl_client_against_our_server() {
    for m in BOTH_WAYS {
        for success_data in [false, true] {
            if success_data && !m.is_scram() {
                continue;
            }
            assert_eq!(
                our_server(m, "pencil", success_data),
                Ok("user".to_owned()),
                "{m}"
            );
            assert!(our_server(m, "wrong", success_data).is_err(), "{m}");
        }
    }
    assert_eq!(
        our_server(Mechanism::Anonymous, "", false),
        Ok("anonymous".to_owned())
    );
}
