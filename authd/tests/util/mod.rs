//! Test helpers: run the built daemon on a loopback port and a temp-dir UNIX socket, and a
//! line client with timeouts on every read.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every wait in these tests is bounded by this.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Daemon {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub socket: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
}

pub fn b64(bytes: &[u8]) -> String {
    saslmech::b64::encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    saslmech::b64::decode(text.as_bytes())
        .unwrap()
        .as_slice()
        .to_vec()
}

impl Daemon {
    /// Start with this `[auth]` body, passwd-file and any extra tables.
    pub fn start(auth: &str, users: &str, extra: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("auth");
        let users_path = dir.path().join("users");
        std::fs::write(&users_path, users).unwrap();
        let config = format!(
            "[listen]\ntcp = \"127.0.0.1:0\"\nunix = \"{}\"\nunix_mode = \"0600\"\n[auth]\n{auth}\n[passdb]\npasswd_file = \"{}\"\n{extra}\n",
            socket.display(),
            users_path.display()
        );
        let config_path = dir.path().join("authd.toml");
        std::fs::write(&config_path, config).unwrap();
        Self::spawn(dir, &config_path, socket)
    }

    pub fn spawn(dir: tempfile::TempDir, config_path: &Path, socket: PathBuf) -> Daemon {
        Self::spawn_until(dir, config_path, socket, "passwd-file loaded")
    }

    /// [`Daemon::spawn`], waiting for a log line containing `ready` instead.
    pub fn spawn_until(
        dir: tempfile::TempDir,
        config_path: &Path,
        socket: PathBuf,
        ready: &str,
    ) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_saslmech-authd"))
            .arg("--config")
            .arg(config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening tcp=127.0.0.1:").nth(1) {
                        let _ = tx.send(rest.trim().parse::<u16>().unwrap());
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let port = match rx.recv_timeout(TIMEOUT) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                panic!("daemon did not log its port: {:?}", log.lock().unwrap());
            }
        };
        let d = Daemon {
            child,
            dir,
            port,
            socket,
            log,
        };
        // The passwd-file is read after binding: wait for it.
        assert!(d.wait_log(|l| l.contains(ready)), "{:?}", d.log());
        d
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Wait (bounded) until a log line matches.
    pub fn wait_log(&self, pred: impl Fn(&str) -> bool) -> bool {
        let end = Instant::now() + TIMEOUT;
        while Instant::now() < end {
            if self.log.lock().unwrap().iter().any(|l| pred(l)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn count_log(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.log.lock().unwrap().iter().filter(|l| pred(l)).count()
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// SIGTERM and wait (bounded) for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let end = Instant::now() + TIMEOUT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < end, "daemon did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn tcp(&self) -> Client {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        let r = s.try_clone().unwrap();
        Client::new(Box::new(r), Box::new(s))
    }

    pub fn unix(&self) -> Client {
        let s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        let r = s.try_clone().unwrap();
        Client::new(Box::new(r), Box::new(s))
    }

    /// A client that has read the handshake and sent VERSION and CPID.
    pub fn client(&self) -> Client {
        let mut c = self.tcp();
        c.handshake();
        c
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    reader: BufReader<Box<dyn Read + Send>>,
    writer: Box<dyn Write + Send>,
    pub handshake: Vec<String>,
}

impl Client {
    fn new(r: Box<dyn Read + Send>, w: Box<dyn Write + Send>) -> Client {
        Client {
            reader: BufReader::new(r),
            writer: w,
            handshake: Vec::new(),
        }
    }

    /// Read the server handshake up to DONE, then send VERSION and CPID (as Postfix does).
    pub fn handshake(&mut self) -> &[String] {
        for _ in 0..100 {
            let l = self.recv();
            let done = l == "DONE";
            self.handshake.push(l);
            if done {
                break;
            }
        }
        assert_eq!(self.handshake.last().map(String::as_str), Some("DONE"));
        self.send("VERSION\t1\t0");
        self.send(&format!("CPID\t{}", std::process::id()));
        &self.handshake
    }

    pub fn send(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).unwrap();
        self.writer.write_all(b"\n").unwrap();
        self.writer.flush().unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// One reply line (without LF); panics on timeout or EOF.
    pub fn recv(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .expect("reply within the timeout");
        assert!(n > 0, "connection closed by the daemon");
        line.strip_suffix('\n').unwrap_or(&line).to_owned()
    }

    /// True if the daemon closed the connection (EOF) within the timeout.
    pub fn closed(&mut self) -> bool {
        let mut buf = Vec::new();
        match self.reader.read_to_end(&mut buf) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }

    /// Everything the daemon sends until it closes the connection; `None` if it does not
    /// close it within the read timeout.
    pub fn rest_until_closed(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        match self.reader.read_to_end(&mut buf) {
            Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                Some(String::from_utf8_lossy(&buf).into_owned())
            }
            Err(_) => None,
        }
    }

    /// AUTH PLAIN with an initial response, secured, from `rip`.
    pub fn plain(&mut self, id: u32, user: &str, pass: &str, rip: &str) -> String {
        let ir = b64(format!("\0{user}\0{pass}").as_bytes());
        self.send(&format!(
            "AUTH\t{id}\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip={rip}\tsecured\tresp={ir}"
        ));
        self.recv()
    }
}
