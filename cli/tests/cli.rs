//! The `saslmech` binary: ours against ours through pipes for every mechanism, the exact
//! lines and exit codes of each side, and usage errors.

mod support;

use saslmech::{CramMd5Keys, ScramHash, ScramKeys};
use support::{Side, TempDir, is_base64_line, run_pair, run_with_input, saslmech_cmd};

/// Channel-binding data both sides of a -PLUS exchange use (as if from one TLS connection).
const CB: &str = "5d9a0c6e1f";

fn users_file(dir: &TempDir) -> String {
    let carol = CramMd5Keys::from_password(b"carol's secret")
        .to_dovecot()
        .to_string();
    // dave has only stored SCRAM keys (RFC 5803), one entry per hash.
    let dave1 = ScramKeys::derive(ScramHash::Sha1, b"dave's secret", b"dave salt 1", 4096)
        .unwrap()
        .to_rfc5803();
    let dave256 = ScramKeys::derive(ScramHash::Sha256, b"dave's secret", b"dave salt", 4096)
        .unwrap()
        .to_rfc5803();
    let dave512 = ScramKeys::derive(ScramHash::Sha512, b"dave's secret", b"dave salt", 10_000)
        .unwrap()
        .to_rfc5803();
    let text = format!(
        "# test accounts\n\
         alice:secret\n\
         alice:{{BEARER}}alice-token\n\
         bob:{{PLAIN}}{{braces}}\n\
         carol:{carol}\n\
         dave:{dave256}\n\
         dave:{dave1}\n\
         dave:{dave512}\n"
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
    /// Extra server flags.
    server: &'static [&'static str],
    /// The server reads the users file (optional for EXTERNAL and ANONYMOUS).
    users: bool,
    /// What the server reports as authenticated (`authcid="…"` and what follows).
    authenticated: &'static str,
    /// Lines the client writes on success: its messages, then the trailing empty line.
    client_lines: usize,
}

const fn case(
    mechanism: &'static str,
    client: &'static [&'static str],
    authenticated: &'static str,
    client_lines: usize,
) -> Case {
    Case {
        mechanism,
        client,
        server: &[],
        users: true,
        authenticated,
        client_lines,
    }
}

const ALICE: &[&str] = &["--authcid", "alice", "--password", "secret"];
const DAVE: &[&str] = &["--authcid", "dave", "--password", "dave's secret"];
const CAROL: &[&str] = &["--authcid", "carol", "--password", "carol's secret"];
const ALICE_TOKEN: &[&str] = &["--authcid", "alice", "--token", "alice-token"];
const ALICE_CB: &[&str] = &[
    "--authcid",
    "alice",
    "--password",
    "secret",
    "--cb-type",
    "tls-exporter",
    "--cb-data-hex",
    CB,
];
const SERVER_CB: &[&str] = &["--cb-type", "tls-exporter", "--cb-data-hex", CB];

const CASES: &[Case] = &[
    case("PLAIN", ALICE, "alice\"", 2),
    case(
        "plain",
        &[
            "--authcid",
            "alice",
            "--password",
            "secret",
            "--authzid",
            "alice",
        ],
        "alice\" authzid=\"alice\"",
        2,
    ),
    case(
        "PLAIN",
        &["--authcid", "bob", "--password", "{braces}"],
        "bob\"",
        2,
    ),
    case("PLAIN", CAROL, "carol\"", 2),
    // Checked against the stored SCRAM keys.
    case("PLAIN", DAVE, "dave\"", 2),
    case("LOGIN", ALICE, "alice\"", 3),
    case("LOGIN", DAVE, "dave\"", 3),
    case("CRAM-MD5", ALICE, "alice\"", 2),
    case("CRAM-MD5", CAROL, "carol\"", 2),
    // SCRAM: client-first, client-final, and the empty line after the server's v=. alice's
    // keys are derived from her password at load; dave's are stored.
    case("SCRAM-SHA-1", ALICE, "alice\"", 3),
    case("SCRAM-SHA-1", DAVE, "dave\"", 3),
    case("SCRAM-SHA-256", ALICE, "alice\"", 3),
    case("SCRAM-SHA-256", DAVE, "dave\"", 3),
    case("SCRAM-SHA-512", ALICE, "alice\"", 3),
    case("SCRAM-SHA-512", DAVE, "dave\"", 3),
    case(
        "scram-sha-256",
        &[
            "--authcid",
            "dave",
            "--password",
            "dave's secret",
            "--authzid",
            "dave",
        ],
        "dave\" authzid=\"dave\"",
        3,
    ),
    Case {
        server: &["--no-success-data"],
        ..case("SCRAM-SHA-256", ALICE, "alice\"", 3)
    },
    Case {
        server: SERVER_CB,
        ..case("SCRAM-SHA-1-PLUS", ALICE_CB, "alice\"", 3)
    },
    Case {
        server: SERVER_CB,
        ..case("SCRAM-SHA-256-PLUS", ALICE_CB, "alice\"", 3)
    },
    Case {
        server: SERVER_CB,
        ..case("SCRAM-SHA-512-PLUS", ALICE_CB, "alice\"", 3)
    },
    Case {
        server: &[
            "--cb-type",
            "tls-server-end-point",
            "--cb-data-hex",
            CB,
            "--no-success-data",
        ],
        ..case(
            "SCRAM-SHA-256-PLUS",
            &[
                "--authcid",
                "dave",
                "--password",
                "dave's secret",
                "--cb-type",
                "tls-server-end-point",
                "--cb-data-hex",
                CB,
            ],
            "dave\"",
            3,
        )
    },
    case("OAUTHBEARER", ALICE_TOKEN, "alice\"", 2),
    case("XOAUTH2", ALICE_TOKEN, "alice\"", 2),
    Case {
        server: &["--external-id", "alice"],
        users: false,
        ..case("EXTERNAL", &[], "alice\"", 2)
    },
    Case {
        server: &["--external-id", "alice"],
        ..case(
            "EXTERNAL",
            &["--authzid", "alice"],
            "alice\" authzid=\"alice\"",
            2,
        )
    },
    Case {
        users: false,
        ..case(
            "ANONYMOUS",
            &["--trace", "sirhc@example.org"],
            "anonymous\"\nsaslmech server: ANONYMOUS: trace=\"sirhc@example.org\"",
            2,
        )
    },
    case(
        "ANONYMOUS",
        &[],
        "anonymous\"\nsaslmech server: ANONYMOUS: trace=\"\"",
        2,
    ),
];

fn client_args<'a>(mechanism: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["client", "--mechanism", mechanism];
    v.extend_from_slice(rest);
    v
}

/// `--authcid <authcid> --password <password>`, then `rest`.
fn creds<'a>(authcid: &'a str, password: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--authcid", authcid, "--password", password];
    v.extend_from_slice(rest);
    v
}

/// `--authcid <authcid> --token <token>`, then `rest`.
fn token<'a>(authcid: &'a str, token: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--authcid", authcid, "--token", token];
    v.extend_from_slice(rest);
    v
}

/// `--cb-type <cb_type> --cb-data-hex <hex>`.
fn cb<'a>(cb_type: &'a str, hex: &'a str) -> [&'a str; 4] {
    ["--cb-type", cb_type, "--cb-data-hex", hex]
}

/// `client --mechanism <mechanism> --authcid u --password p`, then `rest`.
fn client_up<'a>(mechanism: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    client_args(mechanism, &creds("u", "p", rest))
}

fn server_args<'a>(mechanism: &'a str, users: Option<&'a str>, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["server", "--mechanism", mechanism];
    if let Some(users) = users {
        v.extend(["--users", users]);
    }
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
            ours(&server_args(
                case.mechanism,
                case.users.then_some(users.as_str()),
                case.server,
            )),
            ours(&client_args(case.mechanism, case.client)),
        );
        let name = case.mechanism.to_ascii_uppercase();
        let scram = name.starts_with("SCRAM-");
        let what = format!("{name} {:?} {:?}\n{}", case.client, case.server, x.dump());
        assert_eq!(x.server.code(), Some(0), "{what}");
        assert_eq!(x.client.code(), Some(0), "{what}");
        assert!(
            x.server.stderr.contains(&format!(
                "saslmech server: {name}: authenticated authcid=\"{}\n",
                case.authenticated
            )),
            "{what}"
        );
        let completed = if scram {
            format!("saslmech client: {name}: completed; server verified")
        } else {
            format!("saslmech client: {name}: completed")
        };
        assert!(x.client.stderr.contains(&completed), "{what}");
        check_framing(&x);
        // The server's last line is empty: the final line (no success data), or the answer
        // to the client's acknowledgement of SCRAM's v= (success data), or the final line
        // after v= went out as a challenge (--no-success-data).
        assert_eq!(
            x.server.lines.last().map(String::as_str),
            Some(""),
            "{what}"
        );
        if scram {
            let v = saslmech::b64::decode(x.server.lines[2].as_bytes()).unwrap();
            assert!(v.as_slice().starts_with(b"v="), "{what}");
            assert_eq!(x.server.lines.len(), 4, "{what}");
        }
        // The client's last line is the trailing empty line.
        assert_eq!(x.client.lines.len(), case.client_lines, "{what}");
        assert_eq!(
            x.client.lines.last().map(String::as_str),
            Some(""),
            "{what}"
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
    const INVALID: &str = "credentials invalid";
    const DENIED: &str = "not authorized";
    // (mechanism, client flags, server flags, why the server refuses)
    let wrong: Vec<(&str, Vec<&str>, &[&str], &str)> = vec![
        ("PLAIN", creds("alice", "wrong", &[]), &[], INVALID),
        ("PLAIN", creds("nobody", "secret", &[]), &[], INVALID),
        ("PLAIN", creds("carol", "secret", &[]), &[], INVALID),
        ("PLAIN", creds("dave", "secret", &[]), &[], INVALID),
        (
            "PLAIN",
            creds("alice", "secret", &["--authzid", "bob"]),
            &[],
            DENIED,
        ),
        ("LOGIN", creds("alice", "wrong", &[]), &[], INVALID),
        ("CRAM-MD5", creds("alice", "wrong", &[]), &[], INVALID),
        ("CRAM-MD5", creds("carol", "secret", &[]), &[], INVALID),
        ("CRAM-MD5", creds("nobody", "x", &[]), &[], INVALID),
        // Only stored SCRAM keys: CRAM-MD5 cannot use them.
        (
            "CRAM-MD5",
            creds("dave", "dave's secret", &[]),
            &[],
            INVALID,
        ),
        ("SCRAM-SHA-1", creds("alice", "wrong", &[]), &[], INVALID),
        ("SCRAM-SHA-256", creds("dave", "wrong", &[]), &[], INVALID),
        ("SCRAM-SHA-512", creds("dave", "wrong", &[]), &[], INVALID),
        ("SCRAM-SHA-512", creds("nobody", "x", &[]), &[], INVALID),
        // An unknown user gets a fake salt and fails like a wrong password.
        ("SCRAM-SHA-256", creds("nobody", "x", &[]), &[], INVALID),
        // Only a {CRAM-MD5} hash: SCRAM cannot use it.
        (
            "SCRAM-SHA-256",
            creds("carol", "carol's secret", &[]),
            &[],
            INVALID,
        ),
        (
            "SCRAM-SHA-256",
            creds("alice", "secret", &["--authzid", "bob"]),
            &[],
            DENIED,
        ),
        (
            "SCRAM-SHA-256",
            creds("alice", "wrong", &[]),
            &["--no-success-data"],
            INVALID,
        ),
        // Other channel-binding data than the server's: a different TLS connection.
        (
            "SCRAM-SHA-256-PLUS",
            creds("alice", "secret", &cb("tls-exporter", "00")),
            SERVER_CB,
            "channel binding mismatch",
        ),
        // A channel-binding type the server has no data for.
        (
            "SCRAM-SHA-1-PLUS",
            creds("alice", "secret", &cb("tls-unique", CB)),
            SERVER_CB,
            "channel binding mismatch",
        ),
        (
            "SCRAM-SHA-256-PLUS",
            creds("alice", "wrong", &cb("tls-exporter", CB)),
            SERVER_CB,
            INVALID,
        ),
        (
            "SCRAM-SHA-512-PLUS",
            creds("alice", "wrong", &cb("tls-exporter", CB)),
            SERVER_CB,
            INVALID,
        ),
        ("OAUTHBEARER", token("alice", "wrong", &[]), &[], INVALID),
        // alice's token, but acting as bob (a=bob): not bob's token.
        (
            "OAUTHBEARER",
            token("alice", "alice-token", &["--authzid", "bob"]),
            &[],
            INVALID,
        ),
        ("XOAUTH2", token("alice", "wrong", &[]), &[], INVALID),
        ("XOAUTH2", token("bob", "alice-token", &[]), &[], INVALID),
        (
            "EXTERNAL",
            vec!["--authzid", "bob"],
            &["--external-id", "alice"],
            DENIED,
        ),
    ];
    for (mechanism, args, server, why) in &wrong {
        let x = run_pair(
            ours(&server_args(mechanism, Some(&users), server)),
            ours(&client_args(mechanism, args)),
        );
        let what = format!("{mechanism} {args:?} {server:?}\n{}", x.dump());
        assert_eq!(x.server.code(), Some(1), "{what}");
        assert_eq!(x.client.code(), Some(1), "{what}");
        assert!(
            x.server.stderr.contains("authentication failed") && x.server.stderr.contains(why),
            "{what}"
        );
        assert!(!x.server.stderr.contains("authenticated authcid"), "{what}");
        assert!(x.client.stderr.contains("not completed"), "{what}");
        check_framing(&x);
        // The server wrote no final line.
        let status = match *mechanism {
            "XOAUTH2" => Some("401"),
            "OAUTHBEARER" => Some("invalid_token"),
            _ => None,
        };
        if let Some(status) = status {
            // Its last line was the error challenge, which the client reported (and
            // answered: XOAUTH2 with an empty line, OAUTHBEARER with ^A).
            let last = x.server.lines.last().unwrap();
            let json = saslmech::b64::decode(last.as_bytes()).unwrap();
            let want = format!("{{\"status\":\"{status}\"");
            assert!(json.as_slice().starts_with(want.as_bytes()), "{what}");
            assert!(
                x.client.stderr.contains(&format!("status \"{status}\"")),
                "{what}"
            );
            let answer = if *mechanism == "OAUTHBEARER" {
                "AQ=="
            } else {
                ""
            };
            assert_eq!(
                x.client.lines.last().map(String::as_str),
                Some(answer),
                "{what}"
            );
        } else {
            assert!(
                x.server.lines.iter().skip(1).all(|l| !l.is_empty()),
                "{what}"
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

    // ANONYMOUS (no users file): the trace is logged; 255 characters pass, 256 do not.
    let anonymous = || saslmech_cmd(&["server", "--mechanism", "ANONYMOUS"]);
    let ok = "é".repeat(255);
    let e = run_with_input(anonymous(), format!("{}\n", b64(ok.as_bytes())).as_bytes());
    assert_eq!(e.out(), (Some(0), vec!["", ""]), "{e:?}");
    assert!(
        e.stderr.contains(&format!(
            "authenticated authcid=\"anonymous\"\nsaslmech server: ANONYMOUS: trace=\"{ok}\""
        )),
        "{e:?}"
    );
    let e = run_with_input(anonymous(), format!("{}\n", b64(&[b't'; 256])).as_bytes());
    assert_eq!(e.out(), (Some(1), vec![""]), "{e:?}");
    assert!(e.stderr.contains("message too large"), "{e:?}");

    // EXTERNAL: an empty message acts as the external identity; the same as an authzid
    // is fine, another is refused.
    let external = || saslmech_cmd(&["server", "--mechanism", "EXTERNAL", "--external-id", "cn=x"]);
    let e = run_with_input(external(), b"\n");
    assert_eq!(e.out(), (Some(0), vec!["", ""]), "{e:?}");
    assert!(
        e.stderr.contains("authenticated authcid=\"cn=x\"\n"),
        "{e:?}"
    );
    let e = run_with_input(external(), format!("{}\n", b64(b"cn=x")).as_bytes());
    assert_eq!(e.code(), Some(0), "{e:?}");
    let e = run_with_input(external(), format!("{}\n", b64(b"cn=y")).as_bytes());
    assert_eq!(e.out(), (Some(1), vec![""]), "{e:?}");
    assert!(e.stderr.contains("not authorized"), "{e:?}");

    // SCRAM: the client's first message must be client-first; after v= the client's
    // acknowledgement is an empty line or end of input, nothing else.
    let e = run_with_input(
        server("SCRAM-SHA-256"),
        format!("{}\n", b64(b"junk")).as_bytes(),
    );
    assert_eq!(e.out(), (Some(1), vec![""]), "{e:?}");
    let e = run_with_input(
        server("SCRAM-SHA-256"),
        format!("{}\n", b64(b"n,,n=alice,r=abcdefghijklmnop")).as_bytes(),
    );
    // Server-first went out, then the input ended.
    assert_eq!(e.code(), Some(1), "{e:?}");
    assert_eq!(e.lines.len(), 2, "{e:?}");
    let first = saslmech::b64::decode(e.lines[1].as_bytes()).unwrap();
    assert!(first.as_slice().starts_with(b"r=abcdefghijklmnop"), "{e:?}");
    assert!(first.as_slice().ends_with(b",i=4096"), "{e:?}");
}

#[test]
fn client_lines_and_exit_codes() {
    let client = |args: &[&str]| saslmech_cmd(args);
    let plain = client_args("PLAIN", &creds("tim", "tanstaaftanstaaf", &[]));
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
    let cram = client_args("cram-md5", &creds("tim", "tanstaaftanstaaf", &[]));
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

    // EXTERNAL: the authzid (empty without --authzid) as the initial response.
    let e = run_with_input(client(&["client", "--mechanism", "EXTERNAL"]), b"\n\n");
    assert_eq!(e.out(), (Some(0), vec!["", ""]), "{e:?}");
    let e = run_with_input(
        client(&["client", "--mechanism", "EXTERNAL", "--authzid", "bob"]),
        b"\n\n",
    );
    assert_eq!(e.out(), (Some(0), vec!["Ym9i", ""]), "{e:?}");
    // ANONYMOUS: the trace.
    let e = run_with_input(
        client(&["client", "--mechanism", "ANONYMOUS", "--trace", "sirhc"]),
        b"\n\n",
    );
    assert_eq!(e.out(), (Some(0), vec!["c2lyaGM=", ""]), "{e:?}");
    // OAUTHBEARER: the GS2 header with a=, the token; an error challenge is answered
    // with ^A and reported, and the exchange ends without success.
    let bearer = client_args("OAUTHBEARER", &token("alice", "t0k", &[]));
    let e = run_with_input(client(&bearer), b"\n\n");
    assert_eq!(
        e.out(),
        (
            Some(0),
            vec![
                saslmech::b64::encode(b"n,a=alice,\x01auth=Bearer t0k\x01\x01").as_str(),
                ""
            ]
        ),
        "{e:?}"
    );
    let json = saslmech::b64::encode(br#"{"status":"invalid_token","scope":"mail"}"#);
    let e = run_with_input(client(&bearer), format!("\n{json}\n").as_bytes());
    assert_eq!(e.code(), Some(1), "{e:?}");
    assert_eq!(e.lines[1], "AQ==", "{e:?}");
    assert!(
        e.stderr
            .contains("server error challenge: status \"invalid_token\", scope \"mail\""),
        "{e:?}"
    );

    // SCRAM: client-first with the GS2 header (n: no channel binding; p=TYPE with it).
    let scram = client_args("SCRAM-SHA-256", &creds("tim", "p", &[]));
    let e = run_with_input(client(&scram), b"\n");
    assert_eq!(e.code(), Some(1), "{e:?}");
    let first = saslmech::b64::decode(e.lines[0].as_bytes()).unwrap();
    assert!(first.as_slice().starts_with(b"n,,n=tim,r="), "{e:?}");
    let e = run_with_input(
        client(&client_args(
            "SCRAM-SHA-1-PLUS",
            &creds(
                "tim",
                "p",
                &[
                    "--authzid",
                    "a,b",
                    "--cb-type",
                    "tls-server-end-point",
                    "--cb-data-hex",
                    "00",
                ],
            ),
        )),
        b"\n",
    );
    let first = saslmech::b64::decode(e.lines[0].as_bytes()).unwrap();
    assert!(
        first
            .as_slice()
            .starts_with(b"p=tls-server-end-point,a=a=2Cb,n=tim,r="),
        "{e:?}"
    );
    // A server asking for more iterations than the client computes (600000) or fewer
    // than it accepts (4096): refused before computing, exit 1, nothing more written.
    for (count, why) in [("600001", "too large"), ("4095", "too weak")] {
        let mut p = support::Proc::spawn(client(&scram), "saslmech");
        let deadline = std::time::Instant::now() + support::TIMEOUT;
        assert!(p.send_line(""));
        let first = p.next_line(deadline).unwrap();
        let first = saslmech::b64::decode(first.as_bytes()).unwrap();
        let nonce = std::str::from_utf8(first.as_slice())
            .unwrap()
            .rsplit_once("r=")
            .unwrap()
            .1
            .to_owned();
        let server_first =
            saslmech::b64::encode(format!("r={nonce}srv,s=c2FsdA==,i={count}").as_bytes());
        assert!(p.send_line(&server_first));
        assert_eq!(p.next_line(deadline), None, "{count}");
        assert_eq!(p.wait(deadline).code(), Some(1), "{count}");
        assert!(p.stderr().contains(why), "{count}: {}", p.stderr());
    }
}

#[test]
fn usage_errors_exit_2_with_nothing_on_stdout() {
    let dir = TempDir::new("cli-usage");
    let users = users_file(&dir);
    let bad_users = dir.file("bad", b"alice:secret\nno colon here\n");
    let bad_users = bad_users.to_str().unwrap();
    let long_trace = "t".repeat(256);
    let bad_scram = dir.file(
        "bad-scram",
        b"alice:secret\ndave:SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA\n",
    );
    let bad_scram = bad_scram.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // clap's errors name the subcommand, flag or value at fault.
        (vec![], "'saslmech' requires a subcommand"),
        (vec!["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (
            vec!["client"],
            "required arguments were not provided:\n  --mechanism <M>",
        ),
        (
            client_up("NTLM", &[]),
            "invalid value 'NTLM' for '--mechanism <M>'",
        ),
        (
            client_up("PLAIN", &["--mechanism", "LOGIN"]),
            "the argument '--mechanism <M>' cannot be used multiple times",
        ),
        (
            client_up("PLAIN", &["--password-file", "/dev/null"]),
            "the argument '--password <P>' cannot be used with '--password-file <F>'",
        ),
        (client_args("PLAIN", &["--authcid", "u"]), "--password"),
        (client_args("PLAIN", &["--password", "p"]), "--authcid"),
        (
            client_up("PLAIN", &["--bogus", "x"]),
            "unexpected argument '--bogus' found",
        ),
        (client_up("PLAIN", &["--token", "t"]), "no --token"),
        (client_up("XOAUTH2", &[]), "no password"),
        (
            client_args(
                "PLAIN",
                &["--authcid", "u", "--password-file", "/nonexistent/pw"],
            ),
            "/nonexistent/pw",
        ),
        // The engine refuses what a mechanism cannot carry.
        (client_up("LOGIN", &["--authzid", "z"]), "authzid"),
        (
            client_up("PLAIN", &["--cb-type", "tls-exporter"]),
            "required arguments were not provided:\n  --cb-data-hex <H>",
        ),
        (
            client_up("PLAIN", &cb("tls-exporter", "xyz")),
            "invalid value 'xyz' for '--cb-data-hex <H>': expected an even number of hex digits",
        ),
        (
            client_up("PLAIN", &cb("tls-whatever", "00")),
            "invalid value 'tls-whatever' for '--cb-type <T>'",
        ),
        (
            client_up("PLAIN", &cb("tls-exporter", "0011")),
            "takes no channel binding",
        ),
        (server_args("PLAIN", None, &[]), "PLAIN needs --users FILE"),
        (
            server_args("PLAIN", Some("/nonexistent/users"), &[]),
            "/nonexistent/users",
        ),
        (
            server_args("PLAIN", Some(bad_users), &[]),
            ":2: expected user:secret",
        ),
        (
            server_args("CRAM-MD5", Some(&users), &cb("tls-unique", "0011")),
            "takes no channel binding",
        ),
        (
            client_args("EXTERNAL", &["--authcid", "u"]),
            "EXTERNAL takes no --authcid",
        ),
        (
            client_args("ANONYMOUS", &["--authzid", "u"]),
            "ANONYMOUS takes no --authzid",
        ),
        (client_args("ANONYMOUS", &["--trace", &long_trace]), "trace"),
        (
            client_up("PLAIN", &["--trace", "t"]),
            "PLAIN takes no --trace",
        ),
        (client_args("OAUTHBEARER", &["--authcid", "u"]), "--token"),
        (
            client_up("SCRAM-SHA-256-PLUS", &[]),
            "needs channel binding",
        ),
        (
            server_args("SCRAM-SHA-1-PLUS", Some(&users), &[]),
            "needs channel binding",
        ),
        (server_args("SCRAM-SHA-256", None, &[]), "--users"),
        (server_args("EXTERNAL", None, &[]), "--external-id"),
        (
            server_args("PLAIN", Some(&users), &["--external-id", "x"]),
            "PLAIN takes no --external-id",
        ),
        (
            server_args("ANONYMOUS", None, &["--no-success-data=yes"]),
            "unexpected value 'yes' for '--no-success-data' found",
        ),
        (
            server_args("SCRAM-SHA-256", Some(bad_scram), &[]),
            ":2: expected SCRAM-SHA-1$, SCRAM-SHA-256$ or SCRAM-SHA-512$",
        ),
        // A users file given for ANONYMOUS is still read.
        (
            server_args("ANONYMOUS", Some(bad_users), &[]),
            ":2: expected user:secret",
        ),
    ];
    for (args, why) in &cases {
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
            "--trace",
            "--external-id",
            "--no-success-data",
            "Exit status",
            "{BEARER}",
            "{CRAM-MD5}",
            "SCRAM-SHA-256$",
            "gsasl",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
    }
    let e = run_with_input(saslmech_cmd(&["--version"]), b"");
    assert_eq!(e.code(), Some(0));
    assert_eq!(e.lines, [format!("saslmech {}", env!("CARGO_PKG_VERSION"))]);
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let e = run_with_input(saslmech_cmd(&["completions", shell]), b"");
        assert_eq!(e.code(), Some(0), "{shell}: {e:?}");
        let script = e.lines.join("\n");
        // (fish names long flags without their dashes.)
        for word in [
            "saslmech",
            "client",
            "server",
            "cb-data-hex",
            "no-success-data",
        ] {
            assert!(script.contains(word), "{shell}: {word}");
        }
    }
    let e = run_with_input(saslmech_cmd(&["completions", "tcsh"]), b"");
    assert_eq!(e.code(), Some(2), "{e:?}");
    assert!(e.lines.is_empty(), "{e:?}");
    assert!(
        e.stderr.contains("invalid value 'tcsh' for '<SHELL>'")
            && e.stderr
                .contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{e:?}"
    );
}

/// What bash offers after `words` (the last one being completed), with the script sourced.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let words_list = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let n = words.len() - 1;
    let program = format!(
        "source '{}'\n\
         COMP_WORDS=({words_list}); COMP_CWORD={n}\n\
         _saslmech saslmech '{}' '{}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words[n],
        words[n - 1],
    );
    let mut bash = std::process::Command::new(support::find_program("bash", "bash"));
    bash.args(["--norc", "--noprofile", "-c", &program]);
    let e = run_with_input(bash, b"");
    assert_eq!(e.code(), Some(0), "{words:?}: {e:?}");
    // (printf prints one empty line for no candidates.)
    e.lines.into_iter().filter(|l| !l.is_empty()).collect()
}

#[test]
fn bash_completes_subcommands_flags_and_mechanisms() {
    let dir = TempDir::new("cli-completions");
    let e = run_with_input(saslmech_cmd(&["completions", "bash"]), b"");
    assert_eq!(e.code(), Some(0), "{e:?}");
    let script = dir.file("saslmech.bash", e.lines.join("\n").as_bytes());
    assert_eq!(bash_completes(&script, &["saslmech", "cl"]), ["client"]);
    assert_eq!(
        bash_completes(&script, &["saslmech", "server", "--no"]),
        ["--no-success-data"]
    );
    // The client has no --users; the server has no --password.
    assert!(bash_completes(&script, &["saslmech", "client", "--u"]).is_empty());
    assert!(bash_completes(&script, &["saslmech", "server", "--pass"]).is_empty());
    let mut scram1 = bash_completes(
        &script,
        &["saslmech", "client", "--mechanism", "SCRAM-SHA-1"],
    );
    scram1.sort();
    assert_eq!(scram1, ["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"]);
    let all = bash_completes(&script, &["saslmech", "server", "--mechanism", ""]);
    for m in saslmech::ALL_MECHANISMS {
        assert!(all.iter().any(|c| c == m.name()), "{m}: {all:?}");
    }
    assert_eq!(
        bash_completes(&script, &["saslmech", "server", "--cb-type", "tls-e"]),
        ["tls-exporter"]
    );
}
