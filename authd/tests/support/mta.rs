//! Private instances of Debian's unmodified Postfix (`postfix -c DIR`) and Exim 4.96
//! (exim4-daemon-heavy, unpacked), configured to hand SMTP AUTH to the auth daemon.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::clients::Smtp;
use super::deps::{self, EXIM_BIN};
use super::{CMD_TIMEOUT, Proc, TempDir, free_port, run, wait_for, write_file};

use super::private_postfix::{PostfixSpec, PrivatePostfix};

/// Postfix's `main.cf` lines for the SASL part (also quoted in docs/dropin-authd.md).
pub fn postfix_sasl_lines(sasl_path: &str) -> String {
    format!(
        "smtpd_sasl_auth_enable = yes\n\
         smtpd_sasl_type = dovecot\n\
         smtpd_sasl_path = {sasl_path}\n\
         smtpd_sasl_security_options = noanonymous\n\
         smtpd_relay_restrictions = permit_sasl_authenticated, reject\n"
    )
}

/// A private Postfix (the generic part lives in `tests/shared/private_postfix.rs`, shared with
/// the root package's Cyrus-plugin tests): smtpd on 127.0.0.1:`port` handing SMTP AUTH to the
/// daemon at `sasl_path`, no chroot, logging to `data/maillog`, nothing delivered.
pub struct Postfix {
    pub port: u16,
    pub sasl_path: String,
    pf: PrivatePostfix,
    keep: Vec<TempDir>,
}

impl Postfix {
    /// `sasl_path`: an absolute UNIX socket path or `inet:127.0.0.1:PORT`.
    pub fn start(sasl_path: &str) -> Postfix {
        Postfix::start_with(sasl_path, "")
    }

    /// With STARTTLS offered (a self-signed certificate made here): Postfix then marks AUTH
    /// requests on TLS sessions `secured`.
    pub fn start_tls(sasl_path: &str) -> Postfix {
        let dir = TempDir::new("pftls");
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        super::run_ok(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=mx.example.com",
                ])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        );
        let mut pf = Postfix::start_with(
            sasl_path,
            &format!(
                "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\n",
                cert.display(),
                key.display()
            ),
        );
        // Each new smtpd process reads them: keep them as long as the instance.
        pf.keep.push(dir);
        pf
    }

    /// With `extra_main_cf` in place of the default `smtpd_tls_security_level = none` line.
    pub fn start_with(sasl_path: &str, extra_main_cf: &str) -> Postfix {
        deps::ensure();
        let pf = PrivatePostfix::start(&PostfixSpec {
            main_cf: format!(
                "default_transport = error:no delivery from the e2e tests\n\
                 relay_transport = error:no delivery from the e2e tests\n\
                 {extra_main_cf}\
                 {sasl}",
                sasl = postfix_sasl_lines(sasl_path),
            ),
            smtpd: true,
            ..PostfixSpec::default()
        });
        Postfix {
            port: pf.port,
            sasl_path: sasl_path.to_owned(),
            pf,
            keep: Vec::new(),
        }
    }

    pub fn log(&self) -> String {
        self.pf.log()
    }

    /// The running smtpd processes (children of this instance's master).
    pub fn smtpd_pids(&self) -> Vec<u32> {
        let Some(master) = self.pf.master_pid() else {
            return Vec::new();
        };
        super::children_of(master)
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim_end() == "smtpd")
            })
            .collect()
    }
}

/// The Exim authenticators the tests use, all handing the exchange to the auth daemon at
/// `server_socket` (a UNIX path or "127.0.0.1 PORT").
pub fn exim_authenticators(server_socket: &str) -> String {
    let mut s = String::from("begin authenticators\n\n");
    for mech in [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "SCRAM-SHA-256",
        "XOAUTH2",
        "OAUTHBEARER",
    ] {
        s += &format!(
            "{name}:\n  driver = dovecot\n  public_name = {mech}\n  server_socket = {server_socket}\n  server_set_id = $auth1\n\n",
            name = mech.to_lowercase().replace('-', "_"),
        );
    }
    s
}

/// A private Exim configuration; runs as `exim4 -C CONF -bs` (one SMTP session on
/// stdin/stdout) or as a foreground daemon (`-bdf -oX PORT`).
pub struct Exim {
    pub conf: PathBuf,
    pub port: u16,
    daemon: Option<Proc>,
    tmp: TempDir,
}

impl Exim {
    pub fn new(server_socket: &str) -> Exim {
        deps::ensure();
        let tmp = TempDir::new("exim");
        let d = tmp.path().to_path_buf();
        for sub in ["spool", "log"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
            run(
                Command::new("chown").arg("Debian-exim:").arg(d.join(sub)),
                None,
                CMD_TIMEOUT,
            );
        }
        let conf = d.join("exim.conf");
        let dd = d.display();
        write_file(
            &conf,
            &format!(
                "primary_hostname = mx.example.com\n\
                 exim_path = {EXIM_BIN}\n\
                 spool_directory = {dd}/spool\n\
                 log_file_path = {dd}/log/%slog\n\
                 pid_file_path = {dd}/exim.pid\n\
                 keep_environment =\n\
                 local_interfaces = 127.0.0.1\n\
                 auth_advertise_hosts = *\n\
                 host_lookup =\n\
                 rfc1413_hosts =\n\
                 smtp_accept_max = 200\n\
                 smtp_accept_max_per_host = 200\n\
                 queue_only = true\n\
                 acl_smtp_rcpt = acl_check_rcpt\n\
                 \n\
                 begin acl\n\
                 \n\
                 acl_check_rcpt:\n  accept authenticated = *\n  deny message = relay not permitted\n\n\
                 {auths}",
                auths = exim_authenticators(server_socket),
            ),
        );
        Exim {
            conf,
            port: 0,
            daemon: None,
            tmp,
        }
    }

    /// The `-bs` command line (as swaks --pipe and the inetd bridge run it).
    pub fn bs_command(&self, rport: u16, lport: u16) -> Vec<String> {
        self.bs_command_from("127.0.0.1", rport, lport)
    }

    /// `-bs` for a client at `rip` (Exim passes it on as `rip=`; only rip == lip is secured).
    pub fn bs_command_from(&self, rip: &str, rport: u16, lport: u16) -> Vec<String> {
        vec![
            EXIM_BIN.to_owned(),
            "-C".to_owned(),
            self.conf.display().to_string(),
            "-bs".to_owned(),
            "-oMa".to_owned(),
            format!("{rip}.{rport}"),
            "-oMi".to_owned(),
            format!("127.0.0.1.{lport}"),
        ]
    }

    /// Starts `exim4 -C CONF -bdf -oX PORT` and waits for its banner.
    pub fn start_daemon(&mut self) {
        let port = free_port();
        let log = std::fs::File::create(self.tmp.path().join("log/daemon.out")).expect("create");
        let p = Proc::spawn(
            "exim daemon",
            Command::new(EXIM_BIN)
                .arg("-C")
                .arg(&self.conf)
                .args(["-bdf", "-oX", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup"))
                .stderr(log),
        );
        self.daemon = Some(p);
        self.port = port;
        let mainlog = self.tmp.path().join("log/mainlog");
        wait_for("Exim's banner", Duration::from_secs(20), || {
            if let Some(d) = self.daemon.as_mut()
                && !d.is_running()
            {
                panic!(
                    "exim exited at start:\n{}",
                    super::authd::read_lossy(&mainlog)
                );
            }
            let mut s = Smtp::connect(port).ok()?;
            let banner = s.read_reply().ok()?;
            let _ = s.cmd("QUIT");
            (banner.code == 220).then_some(())
        });
    }

    pub fn log(&self) -> String {
        let d = self.tmp.path().join("log");
        format!(
            "{}{}{}",
            super::authd::read_lossy(&d.join("mainlog")),
            super::authd::read_lossy(&d.join("paniclog")),
            super::authd::read_lossy(&d.join("daemon.out"))
        )
    }
}

impl Drop for Exim {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- exim logs:\n{}", self.log());
        }
        drop(self.daemon.take());
    }
}

/// An inetd-style listener on 127.0.0.1 that runs one `exim -bs` per connection, so that
/// TCP-only clients (gsasl, curl, msmtp) drive Exim's `-bs` mode.
pub struct InetdBridge {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InetdBridge {
    pub fn new(exim: &Exim) -> InetdBridge {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let conf = exim.conf.clone();
        let thread = std::thread::spawn(move || {
            // Bounded: ends when the bridge is dropped (checked every 10 ms).
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, peer)) => {
                        let conf = conf.clone();
                        std::thread::spawn(move || serve_bs(sock, peer.port(), port, conf));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        InetdBridge {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

fn serve_bs(sock: TcpStream, rport: u16, lport: u16, conf: PathBuf) {
    let _ = sock.set_nonblocking(false);
    let Ok(mut child) = Command::new(EXIM_BIN)
        .arg("-C")
        .arg(&conf)
        .args([
            "-bs",
            "-oMa",
            &format!("127.0.0.1.{rport}"),
            "-oMi",
            &format!("127.0.0.1.{lport}"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return;
    };
    let mut to_exim = child.stdin.take().expect("stdin");
    let mut from_exim = child.stdout.take().expect("stdout");
    let mut sock_r = sock.try_clone().expect("clone");
    let mut sock_w = sock;
    let up = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = sock_r.read(&mut buf) {
            if n == 0 || to_exim.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut buf = [0u8; 4096];
    while let Ok(n) = from_exim.read(&mut buf) {
        if n == 0 || sock_w.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = sock_w.shutdown(std::net::Shutdown::Both);
    let _ = child.kill();
    let _ = child.wait();
    let _ = up.join();
}

impl Drop for InetdBridge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
