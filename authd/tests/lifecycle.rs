//! SIGHUP reload without dropping connections, SIGTERM shutdown, --check-config, the hash
//! subcommand and the UNIX socket's mode.

mod util;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use util::{Daemon, b64};

const AUTH: &str = "mechanisms = [\"PLAIN\", \"LOGIN\"]\n";
const BIN: &str = env!("CARGO_BIN_EXE_saslmech-authd");

#[test]
fn sighup_reloads_passwd_file_and_config_without_dropping_connections() {
    let d = Daemon::start(AUTH, "tim:{PLAIN}old\n", "");
    let mut c = d.client();
    assert_eq!(c.plain(1, "tim", "old", "127.0.0.1"), "OK\t1\tuser=tim");
    // A LOGIN exchange left half-way across the reload.
    c.send("AUTH\t2\tLOGIN\tservice=smtp\tsecured");
    assert!(c.recv().starts_with("CONT\t2\t"));
    c.send(&format!("CONT\t2\t{}", b64(b"tim")));
    assert!(c.recv().starts_with("CONT\t2\t"));

    let users = d.dir.path().join("users");
    std::fs::write(&users, "tim:{PLAIN}new\nann:{PLAIN}fresh\n").unwrap();
    // The configuration is reloaded too: a failure delay appears.
    let config = d.dir.path().join("authd.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[auth]\n", "[auth]\nfailure_delay_ms = 300\n"),
    )
    .unwrap();
    d.signal("HUP");
    assert!(
        d.wait_log(|l| l.contains("reloaded configuration and passwd-file")),
        "{:?}",
        d.log()
    );

    // The same connection goes on: the pending exchange finishes against the new file.
    c.send(&format!("CONT\t2\t{}", b64(b"new")));
    assert_eq!(c.recv(), "OK\t2\tuser=tim");
    assert_eq!(c.plain(3, "ann", "fresh", "127.0.0.1"), "OK\t3\tuser=ann");
    let t = std::time::Instant::now();
    assert_eq!(c.plain(4, "tim", "old", "127.0.0.1"), "FAIL\t4\tuser=tim");
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));

    // A broken configuration on reload keeps the running one.
    std::fs::write(&config, "[auth\nnonsense").unwrap();
    d.signal("HUP");
    assert!(d.wait_log(|l| l.contains("reload failed, keeping the previous configuration")));
    assert_eq!(c.plain(5, "ann", "fresh", "127.0.0.1"), "OK\t5\tuser=ann");
    // A missing passwd-file too.
    std::fs::write(&config, text).unwrap();
    std::fs::remove_file(&users).unwrap();
    d.signal("HUP");
    assert!(d.wait_log(|l| l.contains("reload failed") && l.contains("passdb.passwd_file")));
    assert_eq!(c.plain(6, "ann", "fresh", "127.0.0.1"), "OK\t6\tuser=ann");
}

#[test]
fn sigterm_exits_zero_and_removes_the_socket() {
    let d = Daemon::start(AUTH, "tim:{PLAIN}x\n", "");
    let socket = d.socket.clone();
    assert!(socket.exists());
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // An idle persistent connection (Postfix keeps one) does not hold up the shutdown.
    let mut c = d.unix();
    c.handshake();
    let st = d.stop();
    assert!(st.success(), "{st:?}");
    assert!(!socket.exists());
}

fn check(config: &str, users: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let u = dir.path().join("users");
    std::fs::write(&u, users).unwrap();
    let c = dir.path().join("c.toml");
    std::fs::write(&c, config.replace("USERS", &u.display().to_string())).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&c)
        .arg("--check-config")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn check_config_names_the_bad_key() {
    let good = "[listen]\ntcp = \"127.0.0.1:0\"\n[passdb]\npasswd_file = \"USERS\"\n";
    let (ok, out) = check(good, "tim:{PLAIN}x\n");
    assert!(ok, "{out}");
    assert!(out.contains("valid (1 users)"), "{out}");
    for (config, key) in [
        (
            format!("{good}[auth]\nmechanisms = [\"PLAIN\", \"NTLM\"]\n"),
            "auth.mechanisms",
        ),
        (
            format!("{good}[auth]\nfailure_delay = 5\n"),
            "failure_delay",
        ),
        (format!("{good}[throttle]\nmax_failures = 3\n"), "window_s"),
        (format!("{good}[oauth]\nuser_claim = \"email\"\n"), "oauth"),
        (
            format!("{good}[oauth]\nhs256_key_file = \"/nonexistent/key\"\n"),
            "oauth.hs256_key_file",
        ),
        (
            good.replace("USERS", "/nonexistent/users"),
            "passdb.passwd_file",
        ),
        (good.replace("127.0.0.1:0", "8.8.8.8:25"), "listen.tcp"),
    ] {
        let (ok, out) = check(&config, "tim:{PLAIN}x\n");
        assert!(!ok, "{config}");
        assert!(out.contains(key), "{key}: {out}");
    }
    // A passwd-file line that cannot be used is an error here (the daemon would skip it).
    let (ok, out) = check(good, "tim:{PLAIN}x\nbob:{SHA512-CRYPT}$5$nope\n");
    assert!(!ok);
    assert!(out.contains("line 2") && out.contains("bob"), "{out}");
    assert!(!out.contains("$5$nope"), "the secret leaked: {out}");
}

#[test]
fn hash_subcommand_writes_every_scheme() {
    for scheme in [
        "PLAIN",
        "CRAM-MD5",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "SHA512-CRYPT",
        "SHA256-CRYPT",
        "BLF-CRYPT",
        "SSHA",
        "SSHA256",
        "SSHA512",
    ] {
        let mut child = Command::new(BIN)
            .args(["hash", "--scheme", scheme, "--user", "tim"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"pencil\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{scheme}");
        let line = String::from_utf8(out.stdout).unwrap();
        let field = line.trim_end().strip_prefix("tim:").unwrap();
        assert!(field.starts_with(&format!("{{{scheme}}}")), "{field}");
        let (_, secret) =
            saslmech_authd::passdb::parse_secret(field, saslmech_authd::scheme::Scheme::Plain)
                .unwrap();
        assert!(secret.verify(b"pencil"), "{scheme}");
        assert!(!secret.verify(b"pencil\n"), "{scheme}");
        if scheme.ends_with("-CRYPT") && scheme != "BLF-CRYPT" {
            // `$6$rounds=5000$SALT$HASH`: crypt(3) and Dovecot use at most 16 salt characters
            // (e2e_postfix_pgsql checks each entry with `doveadm pw -t`).
            let salt = field.split('$').nth(3).unwrap();
            assert_eq!(salt.len(), 16, "{field}");
        }
    }
    // Password from the flag, and an unknown scheme.
    let out = Command::new(BIN)
        .args(["hash", "-s", "SSHA", "-p", "pencil"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("{SSHA}"));
    let out = Command::new(BIN)
        .args(["hash", "-s", "MD5-CRYPT", "-p", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scheme"));
}

#[test]
fn unix_socket_owner_group_and_mode() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    // Our own uid and gid: chown to them works with or without privileges.
    let probe = dir.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    let meta = std::fs::metadata(&probe).unwrap();
    let (uid, gid) = (meta.uid(), meta.gid());
    let users = dir.path().join("users");
    std::fs::write(&users, "tim:{PLAIN}x\n").unwrap();
    let socket = dir.path().join("auth");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[listen]\ntcp = \"127.0.0.1:0\"\nunix = \"{}\"\nunix_mode = \"0640\"\nunix_owner = \"{uid}\"\nunix_group = \"{gid}\"\n[passdb]\npasswd_file = \"{}\"\n",
            socket.display(),
            users.display()
        ),
    )
    .unwrap();
    let mut d = Daemon::spawn(dir, &config, socket.clone());
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o640);
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    let mut c = d.unix();
    c.handshake();
    assert_eq!(c.plain(1, "tim", "x", "127.0.0.1"), "OK\t1\tuser=tim");
    // A stale socket file from a killed daemon is replaced on the next start.
    drop(c);
    let dir = std::mem::replace(&mut d.dir, tempfile::tempdir().unwrap());
    d.signal("KILL");
    drop(d);
    assert!(socket.exists());
    let d = Daemon::spawn(dir, &config, socket);
    let mut c = d.unix();
    c.handshake();
    assert_eq!(c.plain(1, "tim", "x", "127.0.0.1"), "OK\t1\tuser=tim");
}

/// Threads of the daemon named `authd` (the runtime's workers and blocking-pool threads).
fn runtime_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter(|t| {
            let comm = t.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.trim() == "authd")
        })
        .count()
}

/// Event-loop threads the daemon starts with (`runtime`), then a bcrypt check on the blocking
/// pool while the event loop answers PLAIN, then SIGTERM.
fn event_loop_serves_and_stops(runtime: &str, workers: usize) {
    let blf = {
        let out = Command::new(BIN)
            .args(["hash", "-s", "BLF-CRYPT", "-p", "pencil"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let d = Daemon::start(AUTH, &format!("tim:{{PLAIN}}x\nbob:{blf}\n"), runtime);
    // Before any slow hash the blocking pool has no thread: these are the loop's workers (a
    // single-threaded loop runs on the main thread).
    assert_eq!(runtime_threads(d.child.id()), workers, "{runtime:?}");
    let mut c = d.client();
    let ir = b64(b"\0bob\0pencil");
    c.send(&format!("AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp={ir}"));
    assert_eq!(c.plain(2, "tim", "x", "127.0.0.1"), "OK\t2\tuser=tim");
    assert_eq!(c.recv(), "OK\t1\tuser=bob");
    assert!(d.stop().success());
}

#[test]
fn single_threaded_event_loop_serves_and_stops() {
    // The default (no [runtime] table) and the explicit setting.
    event_loop_serves_and_stops("", 0);
    event_loop_serves_and_stops("[runtime]\nworker_threads = 1\n", 0);
}

#[test]
fn multi_threaded_event_loop_serves_and_stops() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    event_loop_serves_and_stops("[runtime]\nworker_threads = 0\n", cpus);
    event_loop_serves_and_stops("[runtime]\nworker_threads = 3\n", 3);
}
