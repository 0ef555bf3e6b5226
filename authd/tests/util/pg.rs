//! A private PostgreSQL server for tests: Debian's `postgresql` package, `initdb` into a
//! temporary directory, listening only on a UNIX socket in that directory (no TCP at all),
//! run as the `postgres` system user (initdb refuses root), stopped with `pg_ctl stop`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The socket's port number (only names the socket file `.s.PGSQL.5432` in our directory).
pub const PORT: u16 = 5432;

fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// The PostgreSQL binaries, installing Debian's package once if they are missing. Panics
/// (the test fails loudly) if it cannot be installed.
pub fn bins() -> PathBuf {
    static BINS: OnceLock<PathBuf> = OnceLock::new();
    BINS.get_or_init(|| {
        if let Some(b) = bin_dir() {
            return b;
        }
        let st = Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q"])
            .args(["--no-install-recommends", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status();
        assert!(
            matches!(st, Ok(s) if s.success()),
            "PostgreSQL is not installed and `apt-get install postgresql` failed ({st:?}); run scripts/install-deps.sh"
        );
        bin_dir().expect("postgresql installed but no /usr/lib/postgresql/*/bin/initdb")
    })
    .clone()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as the server's user (`postgres` when we are root, else ourselves).
fn as_pg(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> Output {
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One private server. Dropping it stops the server (immediate mode).
pub struct Pg {
    pub dir: tempfile::TempDir,
    bins: PathBuf,
    running: bool,
}

impl Pg {
    /// initdb a new cluster (not started).
    pub fn init() -> Pg {
        let bins = bins();
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(dir.path());
                    c
                },
                "chown",
            );
        }
        // The socket directory must be searchable by clients running as other users (Dovecot's
        // auth process runs as `dovecot`); initdb makes the data directory inside it 0700.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let mut c = as_pg(&bins.join("initdb"));
        c.arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .args(["--locale=C"]);
        run(c, "initdb");
        Pg {
            dir,
            bins,
            running: false,
        }
    }

    /// initdb and start.
    pub fn start_new() -> Pg {
        let mut pg = Pg::init();
        pg.start();
        pg
    }

    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The connection string for the daemon and psql.
    pub fn connection(&self) -> String {
        format!(
            "host={} port={PORT} user=postgres dbname=postgres",
            self.socket_dir().display()
        )
    }

    /// Start (waits until it accepts connections, at most 30 s).
    pub fn start(&mut self) {
        let mut c = as_pg(&self.bins.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .arg("-o")
            .arg(format!(
                "-k {} -p {PORT} -c listen_addresses='' -c fsync=off -c max_connections=50",
                self.socket_dir().display()
            ))
            .args(["-w", "-t", "30", "start"]);
        run(c, "pg_ctl start");
        self.running = true;
    }

    /// Stop: `fast` ends the sessions at once (their clients see the connection drop).
    pub fn stop(&mut self) {
        self.stop_mode("fast");
    }

    /// Stop with `pg_ctl -m MODE` (`fast`, or `immediate`: like a crash).
    pub fn stop_mode(&mut self, mode: &str) {
        let mut c = as_pg(&self.bins.join("pg_ctl"));
        c.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", mode, "-w", "-t", "30", "stop"]);
        run(c, "pg_ctl stop");
        self.running = false;
    }

    /// Run SQL through psql (stops at the first error).
    pub fn sql(&self, sql: &str) -> String {
        let file = self.dir.path().join("load.sql");
        std::fs::write(&file, sql).unwrap();
        let mut c = Command::new(self.bins.join("psql"));
        c.arg("-h")
            .arg(self.socket_dir())
            .args(["-p", &PORT.to_string(), "-U", "postgres", "-d", "postgres"])
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f"])
            .arg(&file);
        let out = run(c, "psql");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if self.running {
            let mut c = as_pg(&self.bins.join("pg_ctl"));
            c.arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "immediate", "-w", "-t", "30", "stop"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let _ = c.status();
        }
    }
}

/// SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
