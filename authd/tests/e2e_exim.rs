//! Debian's Exim 4.96 (exim4-daemon-heavy, its `dovecot` authenticator) authenticating
//! through saslmech-authd: in `-bs` mode (one SMTP session on stdin/stdout, as inetd runs it)
//! over the UNIX socket, and as a daemon (`-bdf -oX PORT`) over loopback TCP.
//!
//! `cargo test -p saslmech-authd --test e2e_exim` (as root).

mod support;

use support::authd::{ALICE, AuthServer, BOB, Options};
use support::cases::{Checks, mechanism_matrix};
use support::clients::{Via, swaks};
use support::mta::{Exim, InetdBridge};

/// Exim 4.96 marks an AUTH request `secured` under TLS and also when the client's address
/// equals the server's (checked on the wire: `AUTH 1 PLAIN service=smtp secured
/// rip=127.0.0.1 lip=127.0.0.1 nologin resp=…`): every loopback session here is secured, so
/// the daemon keeps its default policy (plaintext mechanisms only on secured requests).
fn exim_options() -> Options {
    Options {
        plaintext_without_tls: false,
        ..Options::default()
    }
}

/// Exim opens one daemon connection per AUTH: with the daemon stopped AUTH answers 435, and
/// once it is back logins work again with the same Exim (daemon or configuration).
fn outage(c: &mut Checks, tag: &str, auth: &mut AuthServer, via: &Via) {
    auth.stop();
    c.expect(
        &format!("{tag}: daemon stopped → 435"),
        435,
        &swaks(via, "PLAIN", ALICE.0, ALICE.1),
    );
    c.expect(
        &format!("{tag}: daemon stopped → 435 (CRAM-MD5)"),
        435,
        &swaks(via, "CRAM-MD5", ALICE.0, ALICE.1),
    );
    auth.start_again();
    c.expect(
        &format!("{tag}: daemon back → swaks PLAIN 235"),
        235,
        &swaks(via, "PLAIN", BOB.0, BOB.1),
    );
    c.expect(
        &format!("{tag}: daemon back → swaks LOGIN 235"),
        235,
        &swaks(via, "LOGIN", ALICE.0, ALICE.1),
    );
}

#[test]
fn exim_bs_over_unix_socket() {
    let mut auth = AuthServer::start(&exim_options());
    let exim = Exim::new(&auth.unix_path());
    // swaks drives `exim -bs` itself (--pipe); the TCP-only clients go through an inetd-style
    // bridge that runs one `exim -bs` per connection.
    let via = Via::Pipe(exim.bs_command(40000, 25));
    let bridge = InetdBridge::new(&exim);
    let mut c = Checks::default();
    mechanism_matrix(&mut c, "exim -bs/unix", &auth, &via, bridge.port);
    // A client at another address: no `secured`, so the default policy refuses PLAIN and
    // LOGIN (535) but not CRAM-MD5.
    let remote = Via::Pipe(exim.bs_command_from("192.0.2.7", 40001, 25));
    c.expect(
        "exim -bs from 192.0.2.7: PLAIN refused without TLS",
        535,
        &swaks(&remote, "PLAIN", ALICE.0, ALICE.1),
    );
    c.expect(
        "exim -bs from 192.0.2.7: LOGIN refused without TLS",
        535,
        &swaks(&remote, "LOGIN", BOB.0, BOB.1),
    );
    c.expect(
        "exim -bs from 192.0.2.7: CRAM-MD5",
        235,
        &swaks(&remote, "CRAM-MD5", ALICE.0, ALICE.1),
    );
    outage(&mut c, "exim -bs/unix", &mut auth, &via);
    c.finish("exim_bs_over_unix_socket");
}

#[test]
fn exim_daemon_over_tcp() {
    let mut auth = AuthServer::start(&exim_options());
    let mut exim = Exim::new(&format!("127.0.0.1 {}", auth.tcp_port));
    exim.start_daemon();
    let via = Via::Tcp(exim.port);
    let mut c = Checks::default();
    mechanism_matrix(&mut c, "exim daemon/tcp", &auth, &via, exim.port);
    outage(&mut c, "exim daemon/tcp", &mut auth, &via);
    c.finish("exim_daemon_over_tcp");
}
