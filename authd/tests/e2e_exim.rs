//! Debian's Exim 4.96 (exim4-daemon-heavy, its `dovecot` authenticator) authenticating
//! through saslmech-authd: in `-bs` mode (one SMTP session on stdin/stdout, as inetd runs it)
//! over the UNIX socket, and as a daemon (`-bdf -oX PORT`) over loopback TCP.
//!
//! `cargo test -p saslmech-authd --test e2e_exim` (as root).

#[path = "util/pg.rs"]
mod pg;
mod support;

use support::authd::{ALICE, AuthServer, BOB, Options, Passdb};
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

/// The user database down under a running daemon: Exim 4.96 turns a `FAIL … temp` reply into
/// 535 like any other failure, but a dropped daemon connection into 435 — so the default
/// `temp_failure = "disconnect"` is what makes Exim tell the client to retry. Once the
/// database is back the same daemon and Exim log users in again.
#[test]
fn exim_with_database_down() {
    support::deps::ensure();
    let mut pg = pg::Pg::start_new();
    pg.sql(&format!(
        "CREATE TABLE users (username text PRIMARY KEY, password text NOT NULL);\n\
         INSERT INTO users VALUES ({}, {});\n",
        pg::lit(ALICE.0),
        pg::lit(&format!("{{PLAIN}}{}", ALICE.1))
    ));
    let query = "SELECT password FROM users WHERE username = '%u'";
    let opts = |temp_failure| Options {
        passdb: Passdb::Pgsql {
            connection: pg.connection(),
            query: query.to_owned(),
            dovecot_query: query.to_owned(),
            query_timeout_ms: 2000,
        },
        temp_failure: Some(temp_failure),
        ..exim_options()
    };
    let reply = AuthServer::start(&opts("reply"));
    let disconnect = AuthServer::start(&opts("disconnect"));
    let exim_reply = Exim::new(&reply.unix_path());
    let exim_disconnect = Exim::new(&disconnect.unix_path());
    let via_reply = Via::Pipe(exim_reply.bs_command(40000, 25));
    let via_disconnect = Via::Pipe(exim_disconnect.bs_command(40000, 25));
    let mut c = Checks::default();
    c.expect(
        "database up: PLAIN",
        235,
        &swaks(&via_disconnect, "PLAIN", ALICE.0, ALICE.1),
    );
    pg.stop();
    c.expect(
        "database down, temp_failure = \"reply\" (FAIL … temp) → 535",
        535,
        &swaks(&via_reply, "PLAIN", ALICE.0, ALICE.1),
    );
    let r = swaks(&via_disconnect, "PLAIN", ALICE.0, ALICE.1);
    c.expect(
        "database down, temp_failure = \"disconnect\" → 435",
        435,
        &r,
    );
    c.check(
        "database down, disconnect: Exim's text for a lost daemon",
        r.line.contains("Unable to authenticate at present"),
        &r.line,
    );
    c.expect(
        "database down, disconnect: LOGIN → 435",
        435,
        &swaks(&via_disconnect, "LOGIN", ALICE.0, ALICE.1),
    );
    c.check(
        "the daemon logged why it closed the connection",
        disconnect
            .log_text()
            .contains("failed temporarily (database unavailable); auth.temp_failure"),
        &disconnect.log_text(),
    );
    pg.start();
    c.expect(
        "database back: PLAIN",
        235,
        &swaks(&via_disconnect, "PLAIN", ALICE.0, ALICE.1),
    );
    c.expect(
        "database back: wrong password → 535",
        535,
        &swaks(&via_disconnect, "PLAIN", ALICE.0, "wrong"),
    );
    c.finish("exim_with_database_down");
}
