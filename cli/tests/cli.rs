//! The `saslmech` binary: ours against ours through pipes for every mechanism, the exact
//! lines and exit codes of each side, and usage errors.

mod support;

use saslmech::CramMd5Keys;
use support::{Side, TempDir, is_base64_line, run_pair, run_with_input, saslmech_cmd};

fn users_file(dir: &TempDir) -> String {
    let carol = CramMd5Keys::from_password(b"carol's secret").to_dovecot();
    let text = format!(
        "# test accounts\n\
         alice:secret\n\
         alice:{{BEARER}}alice-token\n\
         bob:{{PLAIN}}{{braces}}\n\
         carol:{carol}\n"
    );
    dir.file("users", text.as_bytes())
        .to_str()
        .unwrap()
        .to_owned()
}

fn ours(args: &[&str]) -> Side {
    Side {
        cmd: saslmech_cmd(args),
        package: "saslmech",
        leading_mechanism_line: None,
    }
}

/// Check what every exchange must satisfy: strict alternation starting with the server,
/// and nothing but base64 lines on either stdout.
fn check_framing(x: &support::Exchange) {
    for (i, line) in x.transcript.iter().enumerate() {
        let want = if i % 2 == 0 { "S: " } else { "C: " };
        assert!(line.starts_with(want), "line {i} out of turn\n{}", x.dump());
    }
    for line in x.server.lines.iter().chain(&x.client.lines) {
        assert!(is_base64_line(line), "not base64: {line:?}\n{}", x.dump());
    }
}

struct Case {
    mechanism: &'static str,
    client: &'static [&'static str],
    authcid: &'static str,
    /// Lines the client writes on success: its messages, then the trailing empty line.
    client_lines: usize,
}

const CASES: &[Case] = &[
    Case {
        mechanism: "PLAIN",
        client: &["--authcid", "alice", "--password", "secret"],
        authcid: "alice",
        client_lines: 2,
    },
    Case {
        mechanism: "plain",
        client: &[
            "--authcid",
            "alice",
            "--password",
            "secret",
            "--authzid",
            "alice",
        ],
        authcid: "alice",
        client_lines: 2,
    },
    Case {
        mechanism: "PLAIN",
        client: &["--authcid", "bob", "--password", "{braces}"],
        authcid: "bob",
        client_lines: 2,
    },
    Case {
        mechanism: "PLAIN",
        client: &["--authcid", "carol", "--password", "carol's secret"],
        authcid: "carol",
        client_lines: 2,
    },
    Case {
        mechanism: "LOGIN",
        client: &["--authcid", "alice", "--password", "secret"],
        authcid: "alice",
        client_lines: 3,
    },
    Case {
        mechanism: "CRAM-MD5",
        client: &["--authcid", "alice", "--password", "secret"],
        authcid: "alice",
        client_lines: 2,
    },
    Case {
        mechanism: "CRAM-MD5",
        client: &["--authcid", "carol", "--password", "carol's secret"],
        authcid: "carol",
        client_lines: 2,
    },
    Case {
        mechanism: "XOAUTH2",
        client: &["--authcid", "alice", "--token", "alice-token"],
        authcid: "alice",
        client_lines: 2,
    },
];

fn client_args<'a>(mechanism: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["client", "--mechanism", mechanism];
    v.extend_from_slice(rest);
    v
}

#[test]
fn ours_against_ours_succeeds_for_every_mechanism() {
    let dir = TempDir::new("cli-pairs");
    let users = users_file(&dir);
    let mut seen = std::collections::BTreeSet::new();
    for case in CASES {
        let x = run_pair(
            ours(&["server", "--mechanism", case.mechanism, "--users", &users]),
            ours(&client_args(case.mechanism, case.client)),
        );
        let name = case.mechanism.to_ascii_uppercase();
        assert_eq!(x.server.code(), Some(0), "{name}\n{}", x.dump());
        assert_eq!(x.client.code(), Some(0), "{name}\n{}", x.dump());
        assert!(
            x.server.stderr.contains(&format!(
                "saslmech server: {name}: authenticated authcid={:?}",
                case.authcid
            )),
            "{}",
            x.dump()
        );
        assert!(
            x.client
                .stderr
                .contains(&format!("saslmech client: {name}: completed")),
            "{}",
            x.dump()
        );
        check_framing(&x);
        // The server's final line is empty (none of these has success data); the client's
        // last line is the trailing empty line.
        assert_eq!(
            x.server.lines.last().map(String::as_str),
            Some(""),
            "{}",
            x.dump()
        );
        assert_eq!(x.client.lines.len(), case.client_lines, "{}", x.dump());
        assert_eq!(
            x.client.lines.last().map(String::as_str),
            Some(""),
            "{}",
            x.dump()
        );
        seen.insert(name);
    }
    // Every mechanism the tool drives was exercised.
    for m in saslmech::ALL_MECHANISMS {
        assert!(seen.contains(m.name()), "{m} not tested");
    }
}

#[test]
fn ours_against_ours_fails_on_both_sides_with_wrong_credentials() {
    let dir = TempDir::new("cli-wrong");
    let users = users_file(&dir);
    let wrong: &[(&str, &[&str], &str)] = &[
        (
            "PLAIN",
            &["--authcid", "alice", "--password", "wrong"],
            "credentials invalid",
        ),
        (
            "PLAIN",
            &["--authcid", "nobody", "--password", "secret"],
            "credentials invalid",
        ),
        (
            "PLAIN",
            &["--authcid", "carol", "--password", "secret"],
            "credentials invalid",
        ),
        (
            "PLAIN",
            &[
                "--authcid",
                "alice",
                "--password",
                "secret",
                "--authzid",
                "bob",
            ],
            "not authorized",
        ),
        (
            "LOGIN",
            &["--authcid", "alice", "--password", "wrong"],
            "credentials invalid",
        ),
        (
            "CRAM-MD5",
            &["--authcid", "alice", "--password", "wrong"],
            "credentials invalid",
        ),
        (
            "CRAM-MD5",
            &["--authcid", "carol", "--password", "secret"],
            "credentials invalid",
        ),
        (
            "CRAM-MD5",
            &["--authcid", "nobody", "--password", "x"],
            "credentials invalid",
        ),
        (
            "XOAUTH2",
            &["--authcid", "alice", "--token", "wrong"],
            "credentials invalid",
        ),
        (
            "XOAUTH2",
            &["--authcid", "bob", "--token", "alice-token"],
            "credentials invalid",
        ),
    ];
    for (mechanism, args, why) in wrong {
        let x = run_pair(
            ours(&["server", "--mechanism", mechanism, "--users", &users]),
            ours(&client_args(mechanism, args)),
        );
        assert_eq!(
            x.server.code(),
            Some(1),
            "{mechanism} {args:?}\n{}",
            x.dump()
        );
        assert_eq!(
            x.client.code(),
            Some(1),
            "{mechanism} {args:?}\n{}",
            x.dump()
        );
        assert!(
            x.server.stderr.contains("authentication failed") && x.server.stderr.contains(why),
            "{}",
            x.dump()
        );
        assert!(
            !x.server.stderr.contains("authenticated authcid"),
            "{}",
            x.dump()
        );
        assert!(x.client.stderr.contains("not completed"), "{}", x.dump());
        check_framing(&x);
        // The server wrote no final line.
        if *mechanism == "XOAUTH2" {
            // Its last line was the error challenge, which the client reported.
            let last = x.server.lines.last().unwrap();
            let json = saslmech::b64::decode(last.as_bytes()).unwrap();
            assert!(
                json.as_slice().starts_with(b"{\"status\":\"401\""),
                "{}",
                x.dump()
            );
            assert!(x.client.stderr.contains("status \"401\""), "{}", x.dump());
        } else {
            assert!(
                x.server.lines.iter().skip(1).all(|l| !l.is_empty()),
                "{}",
                x.dump()
            );
        }
    }
}

#[test]
fn server_lines_and_exit_codes() {
    let dir = TempDir::new("cli-server");
    let users = users_file(&dir);
    let server = |mech: &str| saslmech_cmd(&["server", "--mechanism", mech, "--users", &users]);
    let b64 = |s: &[u8]| saslmech::b64::encode(s);

    // PLAIN: an empty first challenge, then the final empty line.
    let ir = b64(b"\0alice\0secret");
    let e = run_with_input(server("PLAIN"), format!("{ir}\n").as_bytes());
    assert_eq!(e.out(), (Some(0), vec!["", ""]), "{e:?}");
    // A trailing empty line after success, CRLF endings: both accepted.
    let e = run_with_input(server("PLAIN"), format!("{ir}\r\n\r\n").as_bytes());
    assert_eq!(e.code(), Some(0), "{e:?}");

    // LOGIN: two prompts, then the final empty line.
    let input = format!("{}\n{}\n", b64(b"alice"), b64(b"secret"));
    let e = run_with_input(server("LOGIN"), input.as_bytes());
    assert_eq!(
        e.out(),
        (Some(0), vec!["VXNlcm5hbWU6", "UGFzc3dvcmQ6", ""]),
        "{e:?}"
    );

    // CRAM-MD5: one challenge; answer it as a client would.
    let mut p = support::Proc::spawn(server("CRAM-MD5"), "saslmech");
    let deadline = std::time::Instant::now() + support::TIMEOUT;
    let challenge = p.next_line(deadline).unwrap();
    let challenge = saslmech::b64::decode(challenge.as_bytes()).unwrap();
    assert!(
        challenge.as_slice().starts_with(b"<") && challenge.as_slice().ends_with(b"@localhost>")
    );
    let mac = CramMd5Keys::from_password(b"secret").mac(challenge.as_slice());
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert!(p.send_line(&b64(format!("alice {hex}").as_bytes())));
    assert_eq!(p.next_line(deadline).as_deref(), Some(""));
    assert_eq!(p.next_line(deadline), None);
    assert_eq!(p.wait(deadline).code(), Some(0));
    assert!(p.stderr().contains("authenticated authcid=\"alice\""));

    // Wrong password: 1, and no final line.
    let e = run_with_input(
        server("PLAIN"),
        format!("{}\n", b64(b"\0alice\0nope")).as_bytes(),
    );
    assert_eq!(e.out(), (Some(1), vec![""]), "{e:?}");
    // The client ends the exchange early: 1.
    let e = run_with_input(server("PLAIN"), b"");
    assert_eq!(e.out(), (Some(1), vec![""]), "{e:?}");
    assert!(e.stderr.contains("the client ended the exchange"), "{e:?}");
    // A malformed message (valid base64): 1.
    let e = run_with_input(server("PLAIN"), format!("{}\n", b64(b"no nuls")).as_bytes());
    assert_eq!(e.code(), Some(1), "{e:?}");
    // Not base64: 2.
    let e = run_with_input(server("PLAIN"), b"not base64!\n");
    assert_eq!(e.out(), (Some(2), vec![""]), "{e:?}");
    // A line longer than any message: 2.
    let mut long = vec![b'A'; 200 * 1024];
    long.push(b'\n');
    let e = run_with_input(server("PLAIN"), &long);
    assert_eq!(e.code(), Some(2), "{e:?}");
    assert!(e.stderr.contains("longer than"), "{e:?}");
}

#[test]
fn client_lines_and_exit_codes() {
    let client = |args: &[&str]| saslmech_cmd(args);
    let plain = [
        "client",
        "--mechanism",
        "PLAIN",
        "--authcid",
        "tim",
        "--password",
        "tanstaaftanstaaf",
    ];
    let ir = saslmech::b64::encode(b"\0tim\0tanstaaftanstaaf");

    // Completed: the initial response, then the trailing empty line.
    let e = run_with_input(client(&plain), b"\n\n");
    assert_eq!(e.out(), (Some(0), vec![ir.as_str(), ""]), "{e:?}");
    assert!(
        e.stderr.contains("saslmech client: PLAIN: completed"),
        "{e:?}"
    );
    // The server ended the exchange before its final line: 1.
    let e = run_with_input(client(&plain), b"\n");
    assert_eq!(e.out(), (Some(1), vec![ir.as_str()]), "{e:?}");
    // A non-empty line after PLAIN's only message is a challenge PLAIN cannot answer: 1.
    let e = run_with_input(client(&plain), b"\nZGF0YQ==\n");
    assert_eq!(e.code(), Some(1), "{e:?}");
    // Not base64: 2.
    let e = run_with_input(client(&plain), b"***\n");
    assert_eq!((e.code(), e.lines.len()), (Some(2), 0), "{e:?}");

    // CRAM-MD5: the RFC 2195 example exchange.
    let cram = [
        "client",
        "--mechanism",
        "cram-md5",
        "--authcid",
        "tim",
        "--password",
        "tanstaaftanstaaf",
    ];
    let challenge = saslmech::b64::encode(b"<1896.697170952@postoffice.reston.mci.net>");
    let e = run_with_input(client(&cram), format!("{challenge}\n\n").as_bytes());
    assert_eq!(
        e.out(),
        (
            Some(0),
            vec!["dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", ""]
        ),
        "{e:?}"
    );

    // A password file: its first line.
    let dir = TempDir::new("cli-client");
    let pw = dir.file("pw", b"tanstaaftanstaaf\nignored\n");
    let with_file = [
        "client",
        "--mechanism",
        "PLAIN",
        "--authcid",
        "tim",
        "--password-file",
        pw.to_str().unwrap(),
    ];
    let e = run_with_input(client(&with_file), b"\n\n");
    assert_eq!(e.out(), (Some(0), vec![ir.as_str(), ""]), "{e:?}");
}

#[test]
fn usage_errors_exit_2_with_nothing_on_stdout() {
    let dir = TempDir::new("cli-usage");
    let users = users_file(&dir);
    let bad_users = dir.file("bad", b"alice:secret\nno colon here\n");
    let bad_users = bad_users.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&[], "subcommand"),
        (&["frobnicate"], "unknown subcommand"),
        (&["client"], "--mechanism is required"),
        (
            &[
                "client",
                "--mechanism",
                "GSSAPI",
                "--authcid",
                "u",
                "--password",
                "p",
            ],
            "unknown mechanism",
        ),
        (
            &["client", "--mechanism", "PLAIN", "--authcid", "u"],
            "--password",
        ),
        (
            &["client", "--mechanism", "PLAIN", "--password", "p"],
            "--authcid",
        ),
        (
            &[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "u",
                "--password",
                "p",
                "--bogus",
                "x",
            ],
            "unknown option",
        ),
        (
            &[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "u",
                "--password",
                "p",
                "--token",
                "t",
            ],
            "no --token",
        ),
        (
            &[
                "client",
                "--mechanism",
                "XOAUTH2",
                "--authcid",
                "u",
                "--password",
                "p",
            ],
            "no password",
        ),
        (
            &[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "u",
                "--password-file",
                "/nonexistent/pw",
            ],
            "/nonexistent/pw",
        ),
        // The engine refuses what a mechanism cannot carry.
        (
            &[
                "client",
                "--mechanism",
                "LOGIN",
                "--authcid",
                "u",
                "--password",
                "p",
                "--authzid",
                "z",
            ],
            "authzid",
        ),
        (
            &[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "u",
                "--password",
                "p",
                "--cb-type",
                "tls-exporter",
            ],
            "go together",
        ),
        (
            &[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "u",
                "--password",
                "p",
                "--cb-type",
                "tls-exporter",
                "--cb-data-hex",
                "xyz",
            ],
            "hex",
        ),
        (
            &[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "u",
                "--password",
                "p",
                "--cb-type",
                "tls-whatever",
                "--cb-data-hex",
                "00",
            ],
            "--cb-type",
        ),
        (
            &[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "u",
                "--password",
                "p",
                "--cb-type",
                "tls-exporter",
                "--cb-data-hex",
                "0011",
            ],
            "takes no channel binding",
        ),
        (&["server", "--mechanism", "PLAIN"], "--users"),
        (
            &[
                "server",
                "--mechanism",
                "PLAIN",
                "--users",
                "/nonexistent/users",
            ],
            "/nonexistent/users",
        ),
        (
            &["server", "--mechanism", "PLAIN", "--users", bad_users],
            ":2: expected user:secret",
        ),
        (
            &[
                "server",
                "--mechanism",
                "CRAM-MD5",
                "--users",
                &users,
                "--cb-type",
                "tls-unique",
                "--cb-data-hex",
                "0011",
            ],
            "takes no channel binding",
        ),
    ];
    for (args, why) in cases {
        // Input that would complete an exchange, were one started.
        let e = run_with_input(saslmech_cmd(args), b"\n\n\n");
        assert_eq!(e.code(), Some(2), "{args:?}: {e:?}");
        assert!(e.lines.is_empty(), "{args:?} wrote to stdout: {e:?}");
        assert!(
            e.stderr.contains(why),
            "{args:?}: expected {why:?} in {:?}",
            e.stderr
        );
    }
}

#[test]
fn help_and_version() {
    for args in [
        &["--help"][..],
        &["help"],
        &["client", "--help"],
        &["server", "-h"],
    ] {
        let e = run_with_input(saslmech_cmd(args), b"");
        assert_eq!(e.code(), Some(0), "{e:?}");
        let text = e.lines.join("\n");
        for m in saslmech::ALL_MECHANISMS {
            assert!(
                text.lines()
                    .any(|l| l.split_whitespace().next() == Some(m.name())),
                "{m}: {text}"
            );
        }
        for needle in [
            "--cb-data-hex",
            "Exit status",
            "{BEARER}",
            "{CRAM-MD5}",
            "gsasl",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
    }
    let e = run_with_input(saslmech_cmd(&["--version"]), b"");
    assert_eq!(e.code(), Some(0));
    assert_eq!(e.lines, [format!("saslmech {}", env!("CARGO_PKG_VERSION"))]);
}
