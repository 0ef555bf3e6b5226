//! `saslmech client` and `saslmech server` with GSSAPI and GS2-KRB5 (feature `gssapi`),
//! against each other and against `gsasl --client`, with tickets from a private MIT KDC
//! (the root crate's `tests/support/kdc.rs`). GSS-API reads `KRB5_CONFIG`, `KRB5CCNAME` and
//! `KRB5_KTNAME` from the environment, which each process here gets from the KDC.

#[allow(dead_code)] // the root crate's tests use all of it
#[path = "../../tests/support/kdc.rs"]
mod kdc;
mod support;

use std::process::Command;

use kdc::{Kdc, REALM};
use support::{Side, find_program, run_pair, saslmech_cmd};

fn ours(kdc: &Kdc, args: &[&str]) -> Side {
    let mut cmd = saslmech_cmd(args);
    cmd.envs(kdc.env());
    Side {
        cmd,
        package: "saslmech",
        leading_mechanism_line: None,
    }
}

fn client(kdc: &Kdc, mech: &str, service: &str, extra: &[&str]) -> Side {
    let mut args = vec!["client", "--mechanism", mech, "--service", service];
    args.extend(["--hostname", "localhost"]);
    args.extend_from_slice(extra);
    ours(kdc, &args)
}

#[test]
fn saslmech_client_and_server() {
    let kdc = Kdc::start();
    for mech in ["GSSAPI", "GS2-KRB5"] {
        for no_success_data in [false, true] {
            let mut server = vec!["server", "--mechanism", mech];
            if no_success_data {
                server.push("--no-success-data");
            }
            let x = run_pair(ours(&kdc, &server), client(&kdc, mech, "smtp", &[]));
            assert_eq!(x.server.code(), Some(0), "{mech}\n{}", x.dump());
            assert_eq!(x.client.code(), Some(0), "{mech}\n{}", x.dump());
            let who = format!("authenticated authcid=\"alice@{REALM}\"");
            assert!(x.server.stderr.contains(&who), "{mech}\n{}", x.dump());
            assert!(
                x.client.stderr.contains("completed"),
                "{mech}\n{}",
                x.dump()
            );
        }
        // A ticket for imap/localhost, whose key the server's keytab (smtp) lacks.
        let x = run_pair(
            ours(&kdc, &["server", "--mechanism", mech]),
            client(&kdc, mech, "imap", &[]),
        );
        assert_eq!(x.server.code(), Some(1), "{mech}\n{}", x.dump());
        assert!(
            x.server.stderr.contains("authentication failed"),
            "{mech}\n{}",
            x.dump()
        );
        // An authzid other than the principal: the server's users file allows nobody.
        let x = run_pair(
            ours(&kdc, &["server", "--mechanism", mech]),
            client(&kdc, mech, "smtp", &["--authzid", "bob"]),
        );
        assert_eq!(x.server.code(), Some(1), "{mech}\n{}", x.dump());
    }
}

#[test]
fn gsasl_client_against_saslmech_server() {
    let kdc = Kdc::start();
    for mech in ["GSSAPI", "GS2-KRB5"] {
        let mut cmd = Command::new(find_program("gsasl", "gsasl"));
        cmd.envs(kdc.env())
            .args(["--client", "--no-client-first", "--quiet", "-m", mech])
            .args(["--service", "smtp", "--hostname", "localhost"]);
        let gsasl = Side {
            cmd,
            package: "gsasl",
            leading_mechanism_line: Some(mech.to_owned()),
        };
        let x = run_pair(ours(&kdc, &["server", "--mechanism", mech]), gsasl);
        assert_eq!(x.server.code(), Some(0), "{mech}\n{}", x.dump());
        let who = format!("authenticated authcid=\"alice@{REALM}\"");
        assert!(x.server.stderr.contains(&who), "{mech}\n{}", x.dump());
    }
}

#[test]
fn usage_errors() {
    let kdc = Kdc::start();
    for (args, want) in [
        (
            &["client", "--mechanism", "GSSAPI"][..],
            "GSSAPI needs --service S --hostname H",
        ),
        (
            &[
                "client",
                "--mechanism",
                "GS2-KRB5",
                "--service",
                "smtp",
                "--hostname",
                "localhost",
                "--authcid",
                "a",
            ],
            "takes no --authcid",
        ),
        (
            &[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "a",
                "--password",
                "p",
                "--service",
                "smtp",
            ],
            "takes no --service or --hostname",
        ),
    ] {
        let e = support::run_with_input(ours(&kdc, args).cmd, b"");
        assert_eq!(e.code(), Some(2), "{args:?}: {e:?}");
        assert!(e.stderr.contains(want), "{args:?}: {}", e.stderr);
    }
}
