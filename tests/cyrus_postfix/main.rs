//! Debian's unmodified Postfix 3.7 through libsasl2 and the saslmech Cyrus SASL plugin
//! (`libcyrus-saslmech.so`, built from `bindings/cyrus`), with no rebuild of Postfix:
//!
//! 1. its SMTP client (`smtp_sasl_type = cyrus`) relays mail with XOAUTH2 and OAUTHBEARER to a
//!    loopback upstream ([`upstream`]) that checks user and token: delivered with the right
//!    token; deferred, with the upstream's reply in Postfix's log, with a wrong one;
//! 2. its smtpd (`smtpd_sasl_type = cyrus`) offers the plugin's mechanisms and checks passwords
//!    from a private sasldb: swaks PLAIN, LOGIN, CRAM-MD5 and `gsasl --smtp` SCRAM-SHA-256;
//! 3. the plugin path's order decides who provides XOAUTH2 when Debian's
//!    `libsasl2-modules-kdexoauth2` is there too.
//!
//! The configuration lines are the ones `README.md` and `docs/cyrus-postfix.md` quote (a test
//! checks that they still do). Private instances (`postfix -c DIR`), loopback ports, no chroot;
//! as root. Programs missing are installed with `scripts/install-deps.sh --e2e` (under flock)
//! or the test fails: nothing is skipped.
//!
//! `cargo test -p saslmech --test cyrus_postfix`

mod plugins;
// The C library build of the C tests (`lib_dir`); the rest of that module is unused here.
#[allow(dead_code)]
#[path = "../support/capi.rs"]
mod capi;
#[path = "../shared/private_postfix.rs"]
mod private_postfix;
mod upstream;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use plugins::{PLUGIN_NAME, Plugins, TempDir, run_checked};
use private_postfix::{POSTFIX_CMD_TIMEOUT, PostfixSpec, PrivatePostfix, run_bounded};
use upstream::{REJECT_TEXT, Upstream};

/// How long a message may take from `sendmail` to its final log line.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The relay account at the upstream and its OAuth access token.
const RELAY_USER: &str = "relay@example.org";
const RELAY_TOKEN: &str = "ya29.saslmech-test-token-1";
/// A token the upstream refuses (an expired or revoked one).
const WRONG_TOKEN: &str = "ya29.saslmech-test-token-expired";
/// The sender whose mail goes out with the wrong token (sender-dependent authentication).
const WRONG_TOKEN_SENDER: &str = "expired@example.org";

/// The smtpd account in the private sasldb.
const SMTPD_USER: &str = "alice";
const SMTPD_PASS: &str = "correct horse battery staple";
const SMTPD_REALM: &str = "example.com";

/// Postfix's `import_environment` with the plugin path added: master(8) scrubs the
/// environment, and libsasl2 reads `SASL_PATH` in every Postfix process that loads it.
fn import_environment(sasl_path: &str) -> String {
    format!(
        "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C SASL_PATH={sasl_path}\n"
    )
}

/// The SMTP client lines of `main.cf` for relaying through an OAuth provider, as the docs
/// quote them (`relayhost` and the map file differ per installation; the docs add
/// `smtp_tls_security_level = encrypt`, which this loopback upstream without TLS cannot take).
fn client_main_cf(relayhost: &str, password_map: &Path, filter: &str) -> String {
    format!(
        "relayhost = {relayhost}\n\
         smtp_sasl_auth_enable = yes\n\
         smtp_sasl_type = cyrus\n\
         smtp_sasl_password_maps = hash:{map}\n\
         smtp_sasl_mechanism_filter = {filter}\n\
         smtp_sasl_security_options = noanonymous\n",
        map = password_map.display()
    )
}

/// smtpd's SASL lines of `main.cf`, as the docs quote them.
fn smtpd_main_cf() -> &'static str {
    "smtpd_sasl_auth_enable = yes\n\
     smtpd_sasl_type = cyrus\n\
     smtpd_sasl_path = smtpd\n\
     smtpd_sasl_security_options = noanonymous\n"
}

/// `<config_directory>/sasl/smtpd.conf` for smtpd with the plugin's mechanisms and a private sasldb.
fn smtpd_conf(mechs: &str, sasldb: &Path) -> String {
    format!(
        "pwcheck_method: auxprop\n\
         auxprop_plugin: sasldb\n\
         sasldb_path: {}\n\
         mech_list: {mechs}\n\
         saslmech_mechanisms: {mechs}\n",
        sasldb.display()
    )
}

// ---------------------------------------------------------------------------------------------
// 1. The SMTP client: relaying with XOAUTH2 and OAUTHBEARER.

/// A private Postfix whose SMTP client relays to `up`, loading plugins from `sasl_path`.
struct Relay {
    pf: PrivatePostfix,
    // Dropped after the instance.
    _maps: TempDir,
}

/// The first of `mechs` goes through the default transport (the documented lines), each
/// further one through a transport of its own chosen by the recipient's domain (test-only).
fn start_relay(up: &Upstream, mechs: &[&str], sasl_path: &str) -> Relay {
    let relayhost = format!("[127.0.0.1]:{}", up.port);
    let maps = TempDir::new("maps");
    let password_map = maps.path().join("sasl_passwd");
    let transport_map = maps.path().join("transport");
    // The operator's lines: one map entry for the relay host.
    let mut passwords = format!("{relayhost} {RELAY_USER}:{RELAY_TOKEN}\n");
    // Test-only: mail from WRONG_TOKEN_SENDER authenticates with a wrong token, so that one
    // instance shows both outcomes (sender-dependent authentication also keeps each sender's
    // SMTP connections apart).
    passwords += &format!("{WRONG_TOKEN_SENDER} {RELAY_USER}:{WRONG_TOKEN}\n");
    write(&password_map, &passwords);
    let mut transports = String::new();
    let mut services = String::new();
    for m in mechs.iter().skip(1) {
        transports += &format!("{} smtp_{m}:{relayhost}\n", domain(m));
        services += &format!("smtp_{m} unix - - n - - smtp -o smtp_sasl_mechanism_filter={m}\n");
    }
    write(&transport_map, &transports);
    let first = mechs.first().copied().unwrap_or("xoauth2");
    let pf = PrivatePostfix::start(&PostfixSpec {
        main_cf: format!(
            "{}{}smtp_sender_dependent_authentication = yes\ntransport_maps = texthash:{}\n",
            client_main_cf(&relayhost, &password_map, first),
            import_environment(sasl_path),
            transport_map.display()
        ),
        master_cf: services,
        ..PostfixSpec::default()
    });
    // As an operator does after each change of the file (a new token): Postfix's smtp
    // processes notice the changed .db and restart.
    run_checked(
        Command::new("postmap")
            .arg("-c")
            .arg(&pf.conf)
            .arg(format!("hash:{}", password_map.display())),
        None,
    );
    Relay { pf, _maps: maps }
}

#[test]
fn postfix_smtp_client_relays_with_oauth_through_the_plugin() {
    let plugins = Plugins::get();
    let up = Upstream::start(RELAY_USER, RELAY_TOKEN);
    let mechs = plugins.relay_mechanisms();
    let relay = start_relay(&up, &mechs, &plugins.client_sasl_path());
    let pf = &relay.pf;

    // The right token first (a SASL failure makes Postfix hold back further mail to that
    // destination for a while), every mechanism at once.
    for m in &mechs {
        pf.sendmail(
            "sender@example.org",
            &format!("good@{}", domain(m)),
            &message(&format!("relay {m} right token")),
        );
    }
    for m in &mechs {
        let line = wait_status(pf, &format!("good@{}", domain(m)));
        assert!(
            line.contains("status=sent")
                && line.contains(&format!("127.0.0.1[127.0.0.1]:{}", up.port)),
            "{m}: the message with the right token was not delivered to the upstream:\n{line}\n{}",
            pf.log()
        );
    }
    for m in &mechs {
        pf.sendmail(
            WRONG_TOKEN_SENDER,
            &format!("bad@{}", domain(m)),
            &message(&format!("relay {m} wrong token")),
        );
    }
    for m in &mechs {
        let line = wait_status(pf, &format!("bad@{}", domain(m)));
        assert!(
            line.contains("status=deferred")
                && line.contains("SASL authentication failed")
                && line.contains(REJECT_TEXT),
            "{m}: the message with the wrong token was not deferred with the upstream's reply:\n{line}"
        );
    }
    // The plugin logged, through libsasl2's log callback, why the provider refused the token
    // (the `status` of its error challenge).
    let log = pf.log();
    for (m, status) in [("XOAUTH2", "401"), ("OAUTHBEARER", "invalid_token")] {
        if mechs.contains(&m.to_ascii_lowercase().as_str()) {
            let want = format!(
                "SASL authentication failure: saslmech: {m}: the server rejected the token: status {status}"
            );
            assert!(log.contains(&want), "no `{want}` in Postfix's log:\n{log}");
        }
    }

    let auths = up.auths();
    let messages = up.messages();
    for m in &mechs {
        let upper = m.to_ascii_uppercase();
        let of_mech: Vec<_> = auths.iter().filter(|a| a.mech == upper).collect();
        let good = of_mech
            .iter()
            .find(|a| a.accepted)
            .unwrap_or_else(|| panic!("{m}: no accepted AUTH at the upstream: {auths:#?}"));
        assert_eq!(good.user.as_deref(), Some(RELAY_USER), "{m}: user");
        assert_eq!(good.secret.as_deref(), Some(RELAY_TOKEN), "{m}: token");
        assert_eq!(good.code, 235);
        let bad = of_mech
            .iter()
            .find(|a| !a.accepted)
            .unwrap_or_else(|| panic!("{m}: no refused AUTH at the upstream: {auths:#?}"));
        assert_eq!(
            bad.user.as_deref(),
            Some(RELAY_USER),
            "{m}: user (wrong token)"
        );
        assert_eq!(bad.secret.as_deref(), Some(WRONG_TOKEN), "{m}: wrong token");
        assert_eq!(bad.code, 535, "{m}: the exchange ended with 535: {bad:?}");
        // The OAuth error challenge was answered as the mechanism says.
        let expected_reply: Option<&[u8]> = match *m {
            "xoauth2" => Some(b""),
            "oauthbearer" => Some(b"\x01"),
            _ => None,
        };
        assert_eq!(
            bad.error_reply.as_deref(),
            expected_reply,
            "{m}: the client's answer to the error challenge"
        );
        if *m == "oauthbearer" {
            // RFC 7628's host= is the relay host Postfix named to libsasl2. No port=: Postfix
            // hands libsasl2 no remote address (sasl_client_new without ipremoteport).
            assert_eq!(good.host.as_deref(), Some("127.0.0.1"), "{m}: host=");
            assert_eq!(good.port, None, "{m}: port=");
        }
        // Delivered: the message itself, from the authenticated session.
        let rcpt = format!("<good@{}>", domain(m));
        let msg = messages
            .iter()
            .find(|x| x.rcpt_to.iter().any(|r| r.starts_with(&rcpt)))
            .unwrap_or_else(|| panic!("{m}: the upstream has no message for {rcpt}"));
        assert_eq!(msg.auth_user, RELAY_USER);
        assert!(msg.mail_from.starts_with("<sender@example.org>"), "{msg:?}");
        assert!(
            msg.data
                .contains(&format!("Subject: relay {m} right token")),
            "{m}: message body: {}",
            msg.data
        );
        // Refused: nothing from the wrong-token sender arrived.
        let bad_rcpt = format!("<bad@{}>", domain(m));
        assert!(
            !messages
                .iter()
                .any(|x| x.rcpt_to.iter().any(|r| r.starts_with(&bad_rcpt))),
            "{m}: a message with the wrong token was delivered"
        );
    }
    // Nothing else broke the protocol (a client closing after QUIT or a 535 is fine).
    let errors: Vec<_> = up
        .errors()
        .into_iter()
        .filter(|e| e != "client closed the connection")
        .collect();
    assert!(errors.is_empty(), "upstream protocol errors: {errors:?}");
}

fn domain(mech: &str) -> String {
    format!("{mech}.example.net")
}

fn message(subject: &str) -> String {
    format!(
        "From: sender@example.org\nTo: someone@example.net\nSubject: {subject}\n\nrelayed by Postfix through libsasl2 and the saslmech plugin\n"
    )
}

/// The log line with the final status of the message to `rcpt` (sent, deferred, bounced).
fn wait_status(pf: &PrivatePostfix, rcpt: &str) -> String {
    let needle = format!("to=<{rcpt}>");
    pf.wait_log(
        &format!("a delivery status for {rcpt}"),
        DELIVERY_TIMEOUT,
        |log| {
            log.lines()
                .find(|l| l.contains(&needle) && l.contains("status="))
                .map(str::to_owned)
        },
    )
}

// ---------------------------------------------------------------------------------------------
// 2. smtpd: the plugin's server mechanisms.

#[test]
fn postfix_smtpd_offers_and_checks_the_plugins_mechanisms() {
    let plugins = Plugins::get();
    let sasl = TempDir::new("sasl");
    let sasldb = sasl.path().join("sasldb2");
    run_checked(
        Command::new("saslpasswd2")
            .args(["-p", "-c", "-f"])
            .arg(&sasldb)
            .args(["-a", "smtpd", "-u", SMTPD_REALM, SMTPD_USER]),
        Some(SMTPD_PASS.as_bytes()),
    );
    // smtpd runs as user postfix.
    run_checked(Command::new("chown").arg("postfix").arg(&sasldb), None);
    let mechs = plugins.smtpd_mechanisms();
    // The path holds the mechanism plugins under test and Cyrus's sasldb auxprop plugin only:
    // no other mechanism plugin is there to answer.
    let sasl_path = plugins.server_sasl_path(&sasl);
    let pf = PrivatePostfix::start(&PostfixSpec {
        main_cf: format!(
            "{}{}smtpd_sasl_local_domain = {SMTPD_REALM}\n\
             smtpd_relay_restrictions = permit_sasl_authenticated, reject\n\
             default_transport = error:no delivery from this test\n\
             relay_transport = error:no delivery from this test\n",
            import_environment(&sasl_path),
            smtpd_main_cf(),
        ),
        smtpd: true,
        // Debian's Postfix has libsasl2 read `<config_directory>/sasl/<smtpd_sasl_path>.conf`
        // (then /usr/lib/sasl/): `cyrus_sasl_config_path` is not used (checked with strace).
        conf_files: vec![(
            "sasl/smtpd.conf".to_owned(),
            smtpd_conf(&mechs.join(" "), &sasldb),
        )],
        ..PostfixSpec::default()
    });

    // EHLO offers exactly the configured mechanisms.
    let offered = ehlo_auth(pf.port);
    let want: BTreeSet<String> = mechs.iter().map(|m| m.to_string()).collect();
    assert_eq!(offered, want, "smtpd's AUTH line; log:\n{}", pf.log());

    // Each offered mechanism came from the plugin under test: the only plugin in the path
    // that registers it (libsasl2's own view, through the same SASL_PATH).
    let providers = plugins::server_providers(&sasl_path);
    for m in &mechs {
        assert_eq!(
            providers.get(*m).map(Vec::as_slice),
            Some(&[plugins.plugin_name(m).to_owned()][..]),
            "{m}: the plugins registering it in {sasl_path}"
        );
    }

    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let code = swaks(pf.port, mech, SMTPD_USER, SMTPD_PASS);
        assert_eq!(code, Some(235), "swaks {mech} with the right password");
        let code = swaks(pf.port, mech, SMTPD_USER, "wrong password");
        assert_eq!(code, Some(535), "swaks {mech} with a wrong password");
    }
    let code = swaks(pf.port, "PLAIN", "nobody", SMTPD_PASS);
    assert_eq!(code, Some(535), "swaks PLAIN for an unknown user");

    let (ok, out) = gsasl_smtp(pf.port, "SCRAM-SHA-256", SMTPD_USER, SMTPD_PASS);
    assert!(
        ok,
        "gsasl --smtp SCRAM-SHA-256 with the right password:\n{out}"
    );
    assert!(out.contains("235 "), "gsasl saw 235:\n{out}");
    let (ok, out) = gsasl_smtp(pf.port, "SCRAM-SHA-256", SMTPD_USER, "wrong password");
    assert!(
        !ok,
        "gsasl --smtp SCRAM-SHA-256 with a wrong password:\n{out}"
    );
    assert!(out.contains("535 "), "gsasl saw 535:\n{out}");
}

/// The mechanisms of smtpd's `250-AUTH` line.
fn ehlo_auth(port: u16) -> BTreeSet<String> {
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect to smtpd");
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut w = sock.try_clone().expect("clone");
    let mut r = BufReader::new(sock);
    let mut line = String::new();
    r.read_line(&mut line).expect("banner");
    assert!(line.starts_with("220"), "banner: {line}");
    w.write_all(b"EHLO client.example.com\r\n").expect("EHLO");
    let mut auth = None;
    // Bounded: an EHLO reply has a few dozen lines at most.
    for _ in 0..64 {
        line.clear();
        r.read_line(&mut line).expect("EHLO reply");
        let l = line.trim_end();
        if let Some(m) = l.strip_prefix("250-AUTH ").or(l.strip_prefix("250 AUTH ")) {
            auth = Some(m.split(' ').map(str::to_owned).collect());
        }
        if !l.starts_with("250-") {
            break;
        }
    }
    let _ = w.write_all(b"QUIT\r\n");
    auth.expect("smtpd offered no AUTH")
}

/// swaks' reply code to the AUTH exchange (the first reply after `-> AUTH` other than 334).
fn swaks(port: u16, mech: &str, user: &str, pass: &str) -> Option<u16> {
    let out = run_bounded(
        Command::new("swaks")
            .args(["--server", &format!("127.0.0.1:{port}")])
            .args([
                "--helo",
                "client.example.com",
                "--from",
                "alice@example.com",
            ])
            .args(["--to", "rcpt@example.net"])
            .args(["--auth", mech, "--auth-user", user, "--auth-password", pass])
            .args(["--quit-after", "AUTH", "--timeout", "30"]),
        None,
        POSTFIX_CMD_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // swaks marks what it sent with "->", what it received with "<-", error replies "<**".
    let mut after_auth = false;
    let mut code = None;
    for l in stdout.lines() {
        let t = l.trim_start();
        if t.starts_with("-> AUTH") {
            after_auth = true;
        } else if let Some(r) = t.strip_prefix("<** ").or_else(|| t.strip_prefix("<- "))
            && after_auth
        {
            let c: Option<u16> = r.trim_start().get(..3).and_then(|c| c.parse().ok());
            if c != Some(334) {
                code = c;
                break;
            }
        }
    }
    if code.is_none() {
        eprintln!("swaks {mech}: no reply after AUTH:\n{stdout}");
    }
    code
}

/// `gsasl --smtp` (a real SMTP AUTH client): whether it succeeded, and what it printed.
fn gsasl_smtp(port: u16, mech: &str, user: &str, pass: &str) -> (bool, String) {
    let out = run_bounded(
        Command::new("gsasl")
            .args(["--smtp", "--connect", &format!("127.0.0.1:{port}")])
            .args(["--no-starttls", "--no-cb", "--verbose"])
            .args(["-m", mech, "-a", user, "-p", pass]),
        None,
        POSTFIX_CMD_TIMEOUT,
    );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// 3. The XOAUTH2 name clash with Debian's libsasl2-modules-kdexoauth2.

/// Both plugins register the client mechanism XOAUTH2; libsasl2 keeps them in plugin-path
/// order and uses the first. With ours first (the documented `SASL_PATH`), ours is first, and
/// the relay test delivers with kdexoauth2 in Postfix's path after ours; the other way round,
/// kdexoauth2's is first, and Postfix cannot relay with XOAUTH2 at all.
#[test]
fn sasl_path_order_decides_the_xoauth2_name_clash() {
    let plugins = Plugins::get();
    let ours = plugins.dir().display().to_string();
    let kde = plugins::KDE_PLUGIN_DIR;
    let first = plugins::providers("-c", &format!("{ours}:{kde}"));
    assert_eq!(
        first.get("XOAUTH2").map(Vec::as_slice),
        Some(&[PLUGIN_NAME.to_owned(), "kdexoauth2".to_owned()][..]),
        "SASL_PATH=ours:kde: {first:?}"
    );
    // OAUTHBEARER is ours alone either way.
    assert_eq!(
        first.get("OAUTHBEARER").map(Vec::as_slice),
        Some(&[PLUGIN_NAME.to_owned()][..])
    );
    let reversed = plugins::providers("-c", &format!("{kde}:{ours}"));
    assert_eq!(
        reversed.get("XOAUTH2").map(Vec::as_slice),
        Some(&["kdexoauth2".to_owned(), PLUGIN_NAME.to_owned()][..]),
        "SASL_PATH=kde:ours: {reversed:?}"
    );

    // And so Postfix, with kdexoauth2 first, cannot relay with XOAUTH2 at all.
    let up = Upstream::start(RELAY_USER, RELAY_TOKEN);
    let relay = start_relay(
        &up,
        &["xoauth2"],
        &format!("{kde}:{ours}:{}", plugins::SYSTEM_PLUGIN_DIR),
    );
    relay.pf.sendmail(
        "sender@example.org",
        "good@xoauth2.example.net",
        &message("kdexoauth2 first"),
    );
    let line = wait_status(&relay.pf, "good@xoauth2.example.net");
    // kdexoauth2 calls the password callback with a signature of its own: libsasl2 refuses
    // it (SASL_BADPARAM) before anything is sent.
    assert!(
        line.contains("status=deferred")
            && line.contains("SASL authentication failed; cannot authenticate to server")
            && line.contains("invalid parameter supplied"),
        "with kdexoauth2 first: {line}"
    );
    assert!(
        up.auths().is_empty(),
        "AUTH sent with kdexoauth2 first: {:?}",
        up.auths()
    );
    assert!(up.messages().is_empty(), "delivered with kdexoauth2 first");
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The configuration blocks in README.md and docs/cyrus-postfix.md are the ones these tests
/// run, with an installation's names in place of the test's temporary ones.
#[test]
fn docs_quote_the_tested_configuration() {
    let root = plugins::repo_root();
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    };
    let (readme, doc) = (read("README.md"), read("docs/cyrus-postfix.md"));
    let import = import_environment(&format!(
        "{}:{}",
        plugins::DEFAULT_PLUGIN_DIR,
        plugins::SYSTEM_PLUGIN_DIR
    ));
    let client = client_main_cf(
        "[smtp.gmail.com]:587",
        Path::new("/etc/postfix/sasl_passwd"),
        "xoauth2",
    );
    for (name, text) in [("README.md", &readme), ("docs/cyrus-postfix.md", &doc)] {
        for (what, block) in [
            ("import_environment", import.as_str()),
            ("the SMTP client lines", client.as_str()),
            ("the install command", "sudo make -C bindings/cyrus install"),
        ] {
            assert!(
                text.contains(block),
                "{name} does not quote {what} the tests run:\n{block}"
            );
        }
    }
    let smtpd = smtpd_conf(
        "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256",
        Path::new("/etc/sasldb2"),
    );
    for (what, block) in [
        ("smtpd.conf", smtpd.as_str()),
        ("smtpd's main.cf lines", smtpd_main_cf()),
    ] {
        assert!(
            doc.contains(block),
            "docs/cyrus-postfix.md does not quote {what} the tests run:\n{block}"
        );
    }
    // The documented plugin directory is the one `make install` uses by default.
    let makefile = read("bindings/cyrus/Makefile");
    assert!(
        makefile.contains("PLUGINDIR ?= /usr/lib/$(if $(MULTIARCH),$(MULTIARCH)/)saslmech/sasl2"),
        "bindings/cyrus/Makefile's default PLUGINDIR changed: update the docs"
    );
}
