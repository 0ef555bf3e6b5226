//! The Cyrus SASL plugin (bindings/cyrus, docs/cyrus-plugin.md), built with its Makefile
//! against this run's static library and loaded by Debian's own libsasl2 2.1.28:
//! - the plugin exports only the two init symbols and needs no libsasl2;
//! - `saslpluginviewer` lists its client and server mechanisms with their flags;
//! - the in-process program (bindings/cyrus/tests/inproc.c: a libsasl2 client and server in one
//!   process) runs every mechanism both ways, right and wrong credentials: our plugin against
//!   Cyrus's own plugins for PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1/-256 (with and without channel
//!   binding, and SCRAM keys stored as RFC 5803 authPassword), and against itself for XOAUTH2
//!   and OAUTHBEARER; plainly, under valgrind (no errors, no leaks) and under ASan + UBSan;
//! - the `saslmech_mechanisms` option chooses the mechanisms;
//! - Debian's sasl-sample-server and sasl-sample-client (the client through a pty, for its
//!   password prompt) authenticate through the plugin against Cyrus's plugins, either way.
#![cfg(feature = "capi")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use support::capi::{lib_dir, require, root, run, scratch, text, wait};

const CYRUS_PLUGINS: &str = "/usr/lib/x86_64-linux-gnu/sasl2";
const PLUGIN: &str = "libcyrus-saslmech.so";

/// The mechanisms the plugin provides (libsasl2 offers SCRAM's -PLUS through the same entry).
const MECHANISMS: [&str; 8] = [
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "SCRAM-SHA-512",
    "CRAM-MD5",
    "OAUTHBEARER",
    "XOAUTH2",
    "PLAIN",
    "LOGIN",
];

/// Builds the plugin and the in-process program with bindings/cyrus/Makefile (once per
/// variant), returning the build directory.
fn build(sanitize: bool) -> PathBuf {
    static PLAIN: OnceLock<PathBuf> = OnceLock::new();
    static ASAN: OnceLock<PathBuf> = OnceLock::new();
    let cell = if sanitize { &ASAN } else { &PLAIN };
    cell.get_or_init(|| {
        require("make", "make");
        require("cc", "gcc");
        require("flock", "util-linux");
        assert!(
            Path::new("/usr/include/sasl/saslplug.h").is_file(),
            "<sasl/saslplug.h> is missing: install the Debian package libsasl2-dev \
             (scripts/install-deps.sh does)"
        );
        let dir = scratch(if sanitize { "cyrus-asan" } else { "cyrus" });
        let mut cmd = Command::new("flock");
        cmd.arg(dir.join(".lock"))
            .arg("make")
            .current_dir(root().join("bindings/cyrus"))
            .args(["--no-print-directory", "all", "tests", "SKIP_CARGO=1"])
            .arg(format!("SASLMECH_LIB={}", lib_dir().display()))
            .arg(format!("BUILD={}", dir.display()));
        if sanitize {
            cmd.arg("SANITIZE=1");
        }
        let out = run(&mut cmd, 300);
        assert!(out.status.success(), "make failed:\n{}", text(&out));
        dir
    })
    .clone()
}

/// A private libsasl2 setup in a fresh directory: `ours/` (the plugin and Cyrus's sasldb
/// auxprop), `cyrus/` (Cyrus's PLAIN, LOGIN, CRAM-MD5, SCRAM and sasldb), `conf/sample.conf`
/// (`pwcheck_method: auxprop`, `auxprop_plugin: sasldb`, a private sasldb) with alice
/// (password `secret`) and bob (whose "password" is the bearer token `tok123`).
struct Setup {
    dir: PathBuf,
}

impl Setup {
    fn new(name: &str, sanitize: bool) -> Setup {
        require("saslpasswd2", "sasl2-bin");
        let build = build(sanitize);
        let dir = scratch(&format!("cyrus-setup-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["ours", "cyrus", "conf"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        std::fs::copy(build.join(PLUGIN), dir.join("ours").join(PLUGIN)).expect("copy plugin");
        for (sub, lib) in [
            ("ours", "libsasldb.so"),
            ("cyrus", "libsasldb.so"),
            ("cyrus", "libplain.so"),
            ("cyrus", "liblogin.so"),
            ("cyrus", "libcrammd5.so"),
            ("cyrus", "libscram.so"),
        ] {
            let target = Path::new(CYRUS_PLUGINS).join(lib);
            assert!(
                target.exists(),
                "{} is missing: install libsasl2-modules and libsasl2-modules-db",
                target.display()
            );
            std::os::unix::fs::symlink(&target, dir.join(sub).join(lib)).expect("symlink");
        }
        let conf = format!(
            "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {}\n",
            dir.join("sasldb2").display()
        );
        std::fs::write(dir.join("conf/sample.conf"), &conf).expect("sample.conf");
        std::fs::write(
            dir.join("conf/oauthonly.conf"),
            format!("{conf}saslmech_mechanisms: XOAUTH2, oauthbearer\n"),
        )
        .expect("oauthonly.conf");
        let setup = Setup { dir };
        setup.add_user("alice", "secret");
        setup.add_user("bob", "tok123");
        setup
    }

    fn add_user(&self, user: &str, password: &str) {
        let mut child = Command::new("saslpasswd2")
            .args(["-p", "-c", "-f"])
            .arg(self.dir.join("sasldb2"))
            .args(["-a", "sample", "-u", "localhost", user])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("saslpasswd2");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write password");
        let out = wait(child, 30, "saslpasswd2");
        assert!(out.status.success(), "saslpasswd2: {}", text(&out));
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.join(sub)
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How the in-process program runs.
#[derive(Clone, Copy, PartialEq)]
enum Runner {
    Plain,
    Valgrind,
    Asan,
}

/// Runs the in-process program with `client`'s and `server`'s plugin directories; returns its
/// output after asserting that it succeeded and ran every case.
fn inproc(setup: &Setup, runner: Runner, client: &str, server: &str, args: &[&str]) -> String {
    let program = build(runner == Runner::Asan).join("inproc");
    let mut cmd = match runner {
        Runner::Valgrind => {
            require("valgrind", "valgrind");
            let mut c = Command::new("valgrind");
            c.args([
                "-q",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect",
            ])
            .arg(&program);
            c
        }
        Runner::Asan => {
            let mut c = Command::new(&program);
            c.env(
                "ASAN_OPTIONS",
                "detect_leaks=1:abort_on_error=0:exitcode=98",
            )
            .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
            c
        }
        Runner::Plain => Command::new(&program),
    };
    cmd.arg("-c")
        .arg(setup.path(client))
        .arg("-s")
        .arg(setup.path(server))
        .arg("-f")
        .arg(setup.path("conf"))
        .args(args)
        .current_dir(&setup.dir);
    let out = run(&mut cmd, 600);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "inproc ({client} client, {server} server) failed:\n{}",
        text(&out)
    );
    let cases = args.iter().filter(|a| a.contains(',')).count();
    assert!(
        stdout.contains(&format!("{cases} cases, 0 failed")),
        "not every case ran:\n{}",
        text(&out)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("PASS ")).count(),
        cases,
        "{}",
        text(&out)
    );
    stdout
}

/// What our plugin and Cyrus's both implement, right and wrong credentials, as the protocol
/// variants libsasl2 applications use (no initial response, success data, prompts, proxy).
const WIRE_CASES: &[&str] = &[
    "PLAIN,alice,secret,ok",
    "PLAIN,alice,wrong,fail",
    "PLAIN,alice,secret,ok,noir",
    "PLAIN,alice,secret,ok,interact",
    "PLAIN,alice,secret,fail,authz=bob",
    "LOGIN,alice,secret,ok",
    "LOGIN,alice,wrong,fail",
    "CRAM-MD5,alice,secret,ok",
    "CRAM-MD5,alice,wrong,fail",
    "CRAM-MD5,nobody,secret,fail",
    "SCRAM-SHA-1,alice,secret,ok",
    "SCRAM-SHA-1,alice,wrong,fail",
    "SCRAM-SHA-256,alice,secret,ok",
    "SCRAM-SHA-256,alice,secret,ok,sd",
    "SCRAM-SHA-256,alice,secret,ok,interact",
    "SCRAM-SHA-256,alice,wrong,fail",
    "SCRAM-SHA-256,nobody,secret,fail",
    "SCRAM-SHA-512,alice,secret,ok",
    "SCRAM-SHA-512,alice,wrong,fail",
    // -PLUS: channel binding (tls-exporter data on both sides); a man in the middle (other
    // data on the client) is caught; plain SCRAM still works when the client has binding data
    // but the server offered no -PLUS.
    "SCRAM-SHA-256-PLUS,alice,secret,ok,cb",
    "SCRAM-SHA-256-PLUS,alice,secret,fail,cbbad",
    "SCRAM-SHA-1-PLUS,alice,secret,ok,cb",
    "SCRAM-SHA-1-PLUS,alice,secret,fail,cbbad",
    "SCRAM-SHA-512-PLUS,alice,secret,ok,cb",
    "SCRAM-SHA-512-PLUS,alice,secret,fail,cbbad",
    // Keys stored as RFC 5803 authPassword, no plaintext (`-k carol:keypass`).
    "SCRAM-SHA-256,carol,keypass,ok",
    "SCRAM-SHA-256,carol,nope,fail",
    "SCRAM-SHA-1,carol-sha1,keypass,ok",
    "SCRAM-SHA-1,carol-sha1,nope,fail",
    "SCRAM-SHA-512,carol-sha512,keypass,ok",
    "SCRAM-SHA-512,carol-sha512,nope,fail",
];

/// What only our plugin implements: client against server.
const OWN_CASES: &[&str] = &[
    "XOAUTH2,bob,tok123,ok",
    "XOAUTH2,bob,tok123,ok,noir",
    "XOAUTH2,bob,tok123,ok,interact",
    "XOAUTH2,bob,badtok,fail,detail=XOAUTH2: the server rejected the token: status 401",
    "XOAUTH2,alice,tok123,fail",
    "OAUTHBEARER,bob,tok123,ok",
    "OAUTHBEARER,bob,tok123,ok,sd",
    "OAUTHBEARER,bob,badtok,fail,detail=OAUTHBEARER: the server rejected the token: status invalid_token",
    // A client that refuses mechanisms open to a passive attack (Postfix's default
    // `noplaintext`) does not use the bearer-token mechanisms, and still uses SCRAM.
    "XOAUTH2,bob,tok123,fail,noplain,detail=No worthy mechs found",
    "OAUTHBEARER,bob,tok123,fail,noplain,detail=No worthy mechs found",
    "SCRAM-SHA-256,alice,secret,ok,noplain",
];

/// Under valgrind, where the debug build's PBKDF2 is slow: every mechanism and path once.
const VALGRIND_WIRE_CASES: &[&str] = &[
    "PLAIN,alice,secret,ok",
    "PLAIN,alice,wrong,fail",
    "PLAIN,alice,secret,ok,interact",
    "LOGIN,alice,secret,ok",
    "CRAM-MD5,alice,secret,ok",
    "CRAM-MD5,alice,wrong,fail",
    "SCRAM-SHA-256-PLUS,alice,secret,ok,cb",
    "SCRAM-SHA-256,carol,nope,fail",
    "SCRAM-SHA-1,carol-sha1,keypass,ok",
];

fn all_pairs(runner: Runner, name: &str) {
    let setup = Setup::new(name, runner == Runner::Asan);
    let mut wire: Vec<&str> = vec!["-k", "carol:keypass"];
    wire.extend_from_slice(if runner == Runner::Valgrind {
        VALGRIND_WIRE_CASES
    } else {
        WIRE_CASES
    });
    // Our client against Cyrus's server, Cyrus's client against our server.
    inproc(&setup, runner, "ours", "cyrus", &wire);
    inproc(&setup, runner, "cyrus", "ours", &wire[2..]);
    // Our client against our server: everything.
    let mut own: Vec<&str> = wire[2..].to_vec();
    own.extend_from_slice(OWN_CASES);
    inproc(&setup, runner, "ours", "ours", &own);
}

#[test]
fn inproc_every_mechanism_both_ways() {
    all_pairs(Runner::Plain, "plain");
}

#[test]
fn inproc_under_valgrind_has_no_errors_and_no_leaks() {
    all_pairs(Runner::Valgrind, "valgrind");
}

#[test]
fn inproc_under_asan_and_ubsan() {
    all_pairs(Runner::Asan, "asan");
}

#[test]
fn the_plugin_exports_only_the_two_init_symbols_and_needs_no_libsasl2() {
    require("nm", "binutils");
    require("readelf", "binutils");
    let so = build(false).join(PLUGIN);
    let out = run(
        Command::new("nm").args(["-D", "--defined-only"]).arg(&so),
        60,
    );
    assert!(out.status.success(), "{}", text(&out));
    let symbols: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).map(str::to_owned))
        .collect();
    let want: BTreeSet<String> = ["sasl_client_plug_init", "sasl_server_plug_init"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(symbols, want, "exported symbols");
    let out = run(Command::new("readelf").arg("-d").arg(&so), 60);
    assert!(out.status.success(), "{}", text(&out));
    let needed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .map(str::to_owned)
        .collect();
    assert!(!needed.is_empty(), "no NEEDED entries:\n{}", text(&out));
    assert!(
        needed
            .iter()
            .all(|l| !l.contains("libsasl2") && !l.contains("libsaslmech")),
        "the plugin must be self-contained: {needed:?}"
    );
}

/// `saslpluginviewer`'s blocks for one plugin: mechanism -> (security flags, features).
fn viewer_blocks(section: &str, plugin: &str) -> BTreeMap<String, (String, String)> {
    let mut blocks = BTreeMap::new();
    let mut lines = section.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with(&format!("Plugin \"{plugin}\"")) {
            continue;
        }
        let mech = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("SASL mechanism: "))
            .and_then(|l| l.split(',').next())
            .unwrap_or_default()
            .to_owned();
        let flags = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("security flags: "))
            .unwrap_or_default()
            .to_owned();
        let features = lines
            .next()
            .and_then(|l| l.trim().strip_prefix("features:"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        blocks.insert(mech, (flags, features));
    }
    blocks
}

#[test]
fn saslpluginviewer_lists_the_mechanisms_and_their_flags() {
    require("saslpluginviewer", "sasl2-bin");
    let setup = Setup::new("viewer", false);
    let out = run(
        Command::new("saslpluginviewer").env("SASL_PATH", setup.path("ours")),
        60,
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (server, client) = stdout
        .split_once("Installed and properly configured SASL (client side)")
        .unwrap_or_else(|| panic!("no client section:\n{}", text(&out)));
    let scram = (
        "NO_ANONYMOUS|NO_PLAINTEXT|NO_ACTIVE|MUTUAL_AUTH",
        "WANT_CLIENT_FIRST|PROXY_AUTHENTICATION|CHANNEL_BINDING",
    );
    // The OAuth mechanisms carry a replayable bearer token: not NO_PLAINTEXT.
    let oauth = ("NO_ANONYMOUS|PASS_CREDENTIALS", "WANT_CLIENT_FIRST");
    for (side, section) in [("server", server), ("client", client)] {
        let blocks = viewer_blocks(section, "cyrus-saslmech");
        let names: BTreeSet<&str> = blocks.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            MECHANISMS.into_iter().collect(),
            "{side} mechanisms:\n{stdout}"
        );
        let expect: [(&str, (&str, &str)); 8] = [
            ("SCRAM-SHA-1", scram),
            ("SCRAM-SHA-256", scram),
            ("SCRAM-SHA-512", scram),
            ("OAUTHBEARER", oauth),
            ("XOAUTH2", oauth),
            ("CRAM-MD5", ("NO_ANONYMOUS|NO_PLAINTEXT", "SERVER_FIRST")),
            (
                "PLAIN",
                (
                    "NO_ANONYMOUS|PASS_CREDENTIALS",
                    "WANT_CLIENT_FIRST|PROXY_AUTHENTICATION",
                ),
            ),
            (
                "LOGIN",
                (
                    "NO_ANONYMOUS|PASS_CREDENTIALS",
                    if side == "server" { "" } else { "SERVER_FIRST" },
                ),
            ),
        ];
        for (mech, (flags, features)) in expect {
            let (got_flags, got_features) = &blocks[mech];
            assert_eq!(got_flags, flags, "{side} {mech} security flags");
            assert_eq!(got_features, features, "{side} {mech} features");
        }
    }
}

#[test]
fn the_saslmech_mechanisms_option_chooses_the_mechanisms() {
    let setup = Setup::new("option", false);
    let all = inproc(&setup, Runner::Plain, "ours", "ours", &["-l"]);
    let only = inproc(
        &setup,
        Runner::Plain,
        "ours",
        "ours",
        &["-a", "oauthonly", "-l"],
    );
    let server = |out: &str| -> BTreeSet<String> {
        out.lines()
            .find_map(|l| l.strip_prefix("server: "))
            .unwrap_or_else(|| panic!("no server list:\n{out}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        server(&all),
        MECHANISMS.iter().map(|m| m.to_string()).collect(),
        "{all}"
    );
    assert_eq!(
        server(&only),
        ["OAUTHBEARER", "XOAUTH2"]
            .iter()
            .map(|m| m.to_string())
            .collect(),
        "{only}"
    );
}

/// libsasl2 takes a mechanism from the first directory of its plugin path that has it: the
/// order of `SASL_PATH` (or of the application's plugin path) decides between our PLAIN and
/// Cyrus's, told apart by their failure messages.
#[test]
fn the_first_plugin_directory_wins() {
    let setup = Setup::new("order", false);
    let ours = setup.path("ours").display().to_string();
    let cyrus = setup.path("cyrus").display().to_string();
    let ours_first = format!("{ours}:{cyrus}");
    let cyrus_first = format!("{cyrus}:{ours}");
    let program = build(false).join("inproc");
    for (path, detail) in [
        (
            &ours_first,
            "sdetail=PLAIN: authentication credentials invalid",
        ),
        (&cyrus_first, "sdetail=Password verification failed"),
    ] {
        let case = format!("PLAIN,alice,wrong,fail,{detail}");
        let out = run(
            Command::new(&program)
                .arg("-c")
                .arg(&ours)
                .arg("-s")
                .arg(path)
                .arg("-f")
                .arg(setup.path("conf"))
                .arg(&case)
                .current_dir(&setup.dir),
            60,
        );
        assert!(out.status.success(), "server path {path}:\n{}", text(&out));
    }
}

/// Debian's libsasl2-modules-kdexoauth2 (its `libkdexoauth2.so`), unpacked, not installed:
/// `apt-get download` and `dpkg-deb -x` into this test's scratch directory (the package's only
/// dependency is libc), or the copy the Postfix end-to-end tests unpack, if present.
fn kdexoauth2_dir() -> PathBuf {
    let shared = Path::new("/var/lib/saslmech-e2e/kdexoauth2/usr/lib/x86_64-linux-gnu/sasl2");
    if shared.join("libkdexoauth2.so").exists() {
        return shared.to_path_buf();
    }
    require("apt-get", "apt");
    require("dpkg-deb", "dpkg");
    let dir = scratch("cyrus-kdexoauth2");
    let plugins = dir.join("root/usr/lib/x86_64-linux-gnu/sasl2");
    if !plugins.join("libkdexoauth2.so").exists() {
        let script = format!(
            "set -e; cd '{d}'; rm -rf root *.deb; \
             apt-get download libsasl2-modules-kdexoauth2 >/dev/null 2>&1 || \
             {{ apt-get update -qq && apt-get download libsasl2-modules-kdexoauth2; }}; \
             dpkg-deb -x libsasl2-modules-kdexoauth2_*.deb root",
            d = dir.display()
        );
        let out = run(
            Command::new("flock")
                .arg(dir.join(".lock"))
                .args(["sh", "-c", &script]),
            600,
        );
        assert!(
            out.status.success(),
            "could not download libsasl2-modules-kdexoauth2:\n{}",
            text(&out)
        );
    }
    assert!(
        plugins.join("libkdexoauth2.so").exists(),
        "{}",
        plugins.display()
    );
    plugins
}

/// Debian's libsasl2-modules-kdexoauth2 also registers XOAUTH2 and calls the password callback
/// with the wrong signature. With our directory first in the plugin path, our XOAUTH2 serves a
/// standard client; with its directory first, the login fails with SASL_BADPARAM.
#[test]
fn our_directory_first_wins_xoauth2_over_kdexoauth2() {
    let setup = Setup::new("kdexoauth2", false);
    let kde = setup.path("kde");
    std::fs::create_dir_all(&kde).expect("mkdir kde");
    std::os::unix::fs::symlink(
        kdexoauth2_dir().join("libkdexoauth2.so"),
        kde.join("libkdexoauth2.so"),
    )
    .expect("symlink");
    let ours = setup.path("ours").display().to_string();
    let kde = kde.display().to_string();
    let program = build(false).join("inproc");
    for (client_path, case) in [
        (format!("{ours}:{kde}"), "XOAUTH2,bob,tok123,ok"),
        (
            format!("{kde}:{ours}"),
            "XOAUTH2,bob,tok123,fail,detail=invalid parameter supplied",
        ),
    ] {
        let out = run(
            Command::new(&program)
                .arg("-c")
                .arg(&client_path)
                .arg("-s")
                .arg(&ours)
                .arg("-f")
                .arg(setup.path("conf"))
                .arg(case)
                .current_dir(&setup.dir),
            60,
        );
        assert!(
            out.status.success(),
            "client path {client_path}, {case}:\n{}",
            text(&out)
        );
    }
}

/// Debian's sample programs through a pty (bindings/cyrus/tests/sample_pair.py): returns the
/// server's exit status and the user it reports.
fn sample_pair(setup: &Setup, server: &str, client: &str, mech: &str, pw: &str) -> (i32, String) {
    let out = run(
        Command::new("python3")
            .arg(root().join("bindings/cyrus/tests/sample_pair.py"))
            .arg("--server-path")
            .arg(setup.path(server))
            .arg("--client-path")
            .arg(setup.path(client))
            .arg("--conf")
            .arg(setup.path("conf"))
            .args(["--mech", mech, "--user", "alice", "--password", pw])
            .args(["--timeout", "30"]),
        60,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "sample_pair.py:\n{}", text(&out));
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT:\n{}", text(&out)));
    let mut rc = -1;
    let mut user = String::new();
    for field in result.split_whitespace() {
        if let Some(v) = field.strip_prefix("server_rc=") {
            rc = v.parse().unwrap_or(-1);
        } else if let Some(v) = field.strip_prefix("server_user=") {
            user = v.to_owned();
        }
    }
    (rc, user)
}

#[test]
fn debian_sample_programs_authenticate_through_the_plugin() {
    require("sasl-sample-server", "sasl2-bin");
    require("sasl-sample-client", "sasl2-bin");
    require("python3", "python3");
    require("stdbuf", "coreutils");
    let setup = Setup::new("sample", false);
    for mech in ["PLAIN", "SCRAM-SHA-256", "CRAM-MD5", "LOGIN"] {
        for (server, client) in [("cyrus", "ours"), ("ours", "cyrus")] {
            let what = format!("{mech}: {client} client, {server} server");
            assert_eq!(
                sample_pair(&setup, server, client, mech, "secret"),
                (0, "alice@localhost".to_owned()),
                "{what}, right password"
            );
            let (rc, user) = sample_pair(&setup, server, client, mech, "wrong");
            assert!(
                rc != 0 && user == "-",
                "{what}, wrong password: {rc} {user}"
            );
        }
    }
}

#[test]
fn make_install_puts_the_plugin_under_destdir() {
    let build = build(false);
    let stage = scratch("cyrus-install");
    let _ = std::fs::remove_dir_all(&stage);
    let out = run(
        Command::new("make")
            .current_dir(root().join("bindings/cyrus"))
            .args(["--no-print-directory", "install", "SKIP_CARGO=1"])
            .arg(format!("SASLMECH_LIB={}", lib_dir().display()))
            .arg(format!("BUILD={}", build.display()))
            .arg(format!("DESTDIR={}", stage.display()))
            .arg("PLUGINDIR=/usr/lib/x86_64-linux-gnu/saslmech/sasl2"),
        120,
    );
    assert!(out.status.success(), "{}", text(&out));
    let installed = stage
        .join("usr/lib/x86_64-linux-gnu/saslmech/sasl2")
        .join(PLUGIN);
    assert_eq!(
        std::fs::read(&installed).expect("installed plugin"),
        std::fs::read(build.join(PLUGIN)).expect("built plugin"),
        "{}",
        installed.display()
    );
    let _ = std::fs::remove_dir_all(&stage);
}
