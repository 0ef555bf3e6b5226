//! Child processes driven through pipes, with deadlines: nothing here can hang a test.
#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long one exchange may take, all processes included. Exchanges take milliseconds;
/// this only bounds a broken one.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The `saslmech` binary under test.
pub fn saslmech() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_saslmech"))
}

/// The path of `program`, searched in `PATH` and then in the sbin directories (Debian puts
/// `saslpasswd2` and the Cyrus sample programs in `/usr/sbin`, which an unprivileged `PATH`
/// may lack). A missing program fails the test, naming the Debian package to install.
pub fn find_program(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "{program} not found: install the Debian package `{package}` (scripts/install-deps.sh does)"
    )
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "saslmech-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running child: its stdout as a channel of lines (line endings removed), its stderr
/// collected, its stdin writable from several threads.
pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Arc<Mutex<Option<ChildStdin>>>,
    lines: Option<Receiver<String>>,
    stderr: Arc<Mutex<String>>,
    threads: Vec<JoinHandle<()>>,
}

impl Proc {
    /// Spawn `cmd` with all three streams piped. A missing program fails the test, naming
    /// the Debian package that provides it.
    pub fn spawn(cmd: Command, package: &str) -> Proc {
        Self::spawn_with_prompt(cmd, package, None)
    }

    /// Like [`spawn`](Self::spawn); each time `prompt` appears on the child's stderr (a
    /// password prompt without a newline), write `answer` and a newline to its stdin.
    pub fn spawn_with_prompt(
        mut cmd: Command,
        package: &str,
        prompt: Option<(&'static str, String)>,
    ) -> Proc {
        let program = cmd.get_program().to_string_lossy().into_owned();
        let name = std::path::Path::new(&program)
            .file_name()
            .map_or(program.clone(), |n| n.to_string_lossy().into_owned());
        let mut child = match cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "{program} not found: install the Debian package `{package}` \
                 (scripts/install-deps.sh does)"
            ),
            Err(e) => panic!("spawning {program}: {e}"),
        };
        let stdin = Arc::new(Mutex::new(child.stdin.take()));
        let stdout = child.stdout.take().unwrap();
        let stderr_pipe = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let out_thread = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() == Some(&b'\n') {
                            buf.pop();
                        }
                        if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_thread = {
            let stderr = Arc::clone(&stderr);
            let stdin = Arc::clone(&stdin);
            std::thread::spawn(move || {
                let mut pipe = stderr_pipe;
                let mut chunk = [0u8; 1024];
                let mut answered = 0;
                loop {
                    let n = match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let mut all = stderr.lock().unwrap();
                    all.push_str(&String::from_utf8_lossy(&chunk[..n]));
                    if let Some((prompt, answer)) = &prompt {
                        let asked = all.matches(prompt).count();
                        while answered < asked {
                            answered += 1;
                            if let Some(w) = stdin.lock().unwrap().as_mut() {
                                let _ = w.write_all(format!("{answer}\n").as_bytes());
                                let _ = w.flush();
                            }
                        }
                    }
                }
            })
        };
        Proc {
            name,
            child,
            stdin,
            lines: Some(rx),
            stderr,
            threads: vec![out_thread, err_thread],
        }
    }

    /// Write one line; false if the child no longer reads.
    pub fn send_line(&self, line: &str) -> bool {
        match self.stdin.lock().unwrap().as_mut() {
            Some(w) => w.write_all(format!("{line}\n").as_bytes()).is_ok() && w.flush().is_ok(),
            None => false,
        }
    }

    /// Close the child's stdin (end of input).
    pub fn close_stdin(&self) {
        self.stdin.lock().unwrap().take();
    }

    /// The next stdout line, `None` at end of output. Panics at the deadline.
    pub fn next_line(&self, deadline: Instant) -> Option<String> {
        let rx = self.lines.as_ref().expect("lines taken by a relay");
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => Some(l),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!(
                "{}: no output before the deadline; stderr so far:\n{}",
                self.name,
                self.stderr()
            ),
        }
    }

    /// What the child wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait for the child to exit; kill it and panic at the deadline.
    pub fn wait(&mut self, deadline: Instant) -> ExitStatus {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                for t in self.threads.drain(..) {
                    t.join().unwrap();
                }
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit before the deadline; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Never leave a child behind, whatever happened.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One side of a line-protocol pair.
pub struct Side {
    pub cmd: Command,
    /// The Debian package providing the program, for the failure message if it is missing.
    pub package: &'static str,
    /// gsasl writes the mechanism name as its first line: the relay checks and drops it.
    pub leading_mechanism_line: Option<String>,
}

/// How one side of a pair ended.
#[derive(Debug)]
pub struct Ended {
    pub status: ExitStatus,
    /// Every line it wrote to stdout (a leading mechanism line excluded).
    pub lines: Vec<String>,
    pub stderr: String,
}

impl Ended {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The exit code and the stdout lines, to compare in one assertion.
    pub fn out(&self) -> (Option<i32>, Vec<&str>) {
        (self.code(), self.lines.iter().map(String::as_str).collect())
    }
}

/// A finished exchange between a server and a client process.
#[derive(Debug)]
pub struct Exchange {
    pub server: Ended,
    pub client: Ended,
    /// Every line in the order the relay passed it, `S: ` or `C: ` prefixed.
    pub transcript: Vec<String>,
}

impl Exchange {
    /// Everything there is to know, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "transcript:\n  {}\nserver exit {:?}, stderr:\n{}\nclient exit {:?}, stderr:\n{}",
            self.transcript.join("\n  "),
            self.server.code(),
            self.server.stderr,
            self.client.code(),
            self.client.stderr
        )
    }
}

/// Connect `server`'s stdout to `client`'s stdin and back through a relay (two pump
/// threads), as a shell would with two pipes, and wait for both to exit. When one side's
/// output ends, the other side's input is closed.
pub fn run_pair(server: Side, client: Side) -> Exchange {
    let deadline = Instant::now() + TIMEOUT;
    let mut s = Proc::spawn(server.cmd, server.package);
    let mut c = Proc::spawn(client.cmd, client.package);
    let transcript = Arc::new(Mutex::new(Vec::new()));
    let pump = |from: &mut Proc,
                to: &Proc,
                tag: &'static str,
                skip: Option<String>|
     -> JoinHandle<Vec<String>> {
        let rx = from.lines.take().unwrap();
        let to_stdin = Arc::clone(&to.stdin);
        let transcript = Arc::clone(&transcript);
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            let mut skip = skip;
            for line in rx {
                if let Some(mech) = skip.take() {
                    transcript
                        .lock()
                        .unwrap()
                        .push(format!("{tag}(mechanism line, dropped) {line}"));
                    assert_eq!(
                        line, mech,
                        "{tag} side's first line should name the mechanism"
                    );
                    continue;
                }
                transcript.lock().unwrap().push(format!("{tag}: {line}"));
                if let Some(w) = to_stdin.lock().unwrap().as_mut() {
                    // A peer that has exited does not read: that is its business.
                    let _ = w
                        .write_all(format!("{line}\n").as_bytes())
                        .and_then(|()| w.flush());
                }
                lines.push(line);
            }
            // End of this side's output: end of the other side's input.
            to_stdin.lock().unwrap().take();
            lines
        })
    };
    let s_to_c = pump(&mut s, &c, "S", server.leading_mechanism_line);
    let c_to_s = pump(&mut c, &s, "C", client.leading_mechanism_line);
    let s_status = s.wait(deadline);
    let c_status = c.wait(deadline);
    let s_lines = s_to_c.join().unwrap();
    let c_lines = c_to_s.join().unwrap();
    let transcript = transcript.lock().unwrap().clone();
    Exchange {
        server: Ended {
            status: s_status,
            lines: s_lines,
            stderr: s.stderr(),
        },
        client: Ended {
            status: c_status,
            lines: c_lines,
            stderr: c.stderr(),
        },
        transcript,
    }
}

/// Run a command with `input` on stdin (then end of input); collect everything.
pub fn run_with_input(cmd: Command, input: &[u8]) -> Ended {
    let deadline = Instant::now() + TIMEOUT;
    let mut p = Proc::spawn(cmd, "saslmech");
    if let Some(w) = p.stdin.lock().unwrap().as_mut() {
        // The child may exit before reading everything.
        let _ = w.write_all(input);
    }
    p.close_stdin();
    let mut lines = Vec::new();
    while let Some(l) = p.next_line(deadline) {
        lines.push(l);
    }
    let status = p.wait(deadline);
    Ended {
        status,
        lines,
        stderr: p.stderr(),
    }
}

/// `saslmech` with arguments.
pub fn saslmech_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(saslmech());
    cmd.args(args);
    cmd
}

/// True if `line` is strict base64 (what the tool may write to stdout; empty allowed).
pub fn is_base64_line(line: &str) -> bool {
    saslmech::b64::decode(line.as_bytes()).is_ok()
}
