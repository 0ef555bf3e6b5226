//! `authd-load`: a load generator for Dovecot-auth-protocol daemons (saslmech-authd, Dovecot's
//! own auth service). It speaks the client side of the protocol as Postfix's smtpd does: one
//! persistent connection per client, requests numbered on it, ONE request in flight at a time.
//!
//! ```text
//! authd-load (--unix PATH | --tcp HOST:PORT) [--mech PLAIN|SCRAM-SHA-256] [--user U --pass P]
//!            [--conns N] [--duration SECS | --count LOGINS] [--warmup SECS] [--no-penalty]
//!            [--driver threads|events] [--loops K] [--blocking-reads]
//!            [--pid PID]... [--label TEXT]
//! authd-load (--unix PATH | --tcp HOST:PORT) --idle N [--hold SECS] [--pid PID]...
//! ```
//!
//! Two drivers put the same bytes on the wire (see `login.rs`):
//! - `threads` (default): a thread per connection, blocked until its reply arrives, as each of
//!   Postfix's smtpd processes is. Replies are read as Postfix reads them: `poll` for input,
//!   then `read` (`--blocking-reads`: `read` alone). The daemon pays a thread wake-up for
//!   every reply, and the two cores pay a context switch in and out of each client thread;
//! - `events`: `--loops K` threads (default 1), each an epoll loop over its share of the
//!   connections, as an event-driven client (or a proxy in front of the MTAs) would be. Still
//!   one request in flight per connection; the generator takes far less of the shared CPU, so
//!   the daemons' own limits show.
//!
//! Reports logins/s, p50/p99 latency (from sending AUTH to reading OK), the daemon's CPU time
//! per login (utime+stime of every `--pid` from /proc, before and after the measured interval)
//! and its resident memory; `--idle N` opens N idle connections (handshake done) and reports
//! the daemon's resident memory before and with them. The last line, `RESULT key=value …`, is
//! for scripts. Only std, the saslmech engine (the SCRAM client side) and rustix's `poll` and
//! `epoll`.
#![forbid(unsafe_code)]

mod events;
mod login;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use saslmech::ScramClientCache;

use login::{LineBuf, Login, Mech, Outcome, Plan};

/// Every read and write on a daemon connection gives up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Latency samples kept per driver thread (bounds memory on long runs).
const MAX_SAMPLES: usize = 2_000_000;
/// Handshake lines accepted before DONE.
const MAX_HANDSHAKE_LINES: usize = 1_000;
/// Errors (each followed by a reconnect) before a driver thread gives up.
const MAX_ERRORS: usize = 100;

#[derive(Clone, Debug)]
enum Target {
    Unix(String),
    Tcp(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    Threads,
    Events,
}

#[derive(Clone, Debug)]
struct Args {
    target: Target,
    mech: Mech,
    user: String,
    pass: String,
    conns: usize,
    duration: Option<Duration>,
    count: Option<u64>,
    warmup: Duration,
    no_penalty: bool,
    pids: Vec<u32>,
    idle: Option<usize>,
    hold: Duration,
    label: String,
    blocking_reads: bool,
    driver: Driver,
    loops: usize,
}

impl Args {
    /// The driver as reported: `threads`, or `events` with the number of loops.
    fn driver_name(&self) -> String {
        match self.driver {
            Driver::Threads => "threads".into(),
            Driver::Events => format!("events/{}", self.loops.min(self.conns)),
        }
    }
}

const USAGE: &str = "usage: authd-load (--unix PATH | --tcp HOST:PORT) [--mech PLAIN|SCRAM-SHA-256] \
[--user U --pass P] [--conns N] [--duration SECS | --count LOGINS] [--warmup SECS] [--no-penalty] \
[--driver threads|events] [--loops K] [--blocking-reads] [--pid PID]... [--label TEXT]\n       \
authd-load (--unix PATH | --tcp HOST:PORT) --idle N [--hold SECS] [--pid PID]...";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        target: Target::Unix(String::new()),
        mech: Mech::Plain,
        user: "alice@example.com".into(),
        pass: "alice-secret".into(),
        conns: 1,
        duration: None,
        count: None,
        warmup: Duration::from_secs(1),
        no_penalty: false,
        pids: Vec::new(),
        idle: None,
        hold: Duration::from_secs(1),
        label: String::new(),
        blocking_reads: false,
        driver: Driver::Threads,
        loops: 1,
    };
    let mut have_target = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        let secs = |v: String| -> Result<Duration, String> {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e6)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("bad seconds: {v}"))
        };
        match flag.as_str() {
            "--unix" => {
                a.target = Target::Unix(val("--unix")?);
                have_target = true;
            }
            "--tcp" => {
                a.target = Target::Tcp(val("--tcp")?);
                have_target = true;
            }
            "--mech" => {
                a.mech = match val("--mech")?.to_ascii_uppercase().as_str() {
                    "PLAIN" => Mech::Plain,
                    "SCRAM-SHA-256" => Mech::ScramSha256,
                    m => return Err(format!("unsupported mechanism {m} (PLAIN, SCRAM-SHA-256)")),
                }
            }
            "--user" => a.user = val("--user")?,
            "--pass" => a.pass = val("--pass")?,
            "--conns" => {
                a.conns = val("--conns")?
                    .parse()
                    .map_err(|e| format!("--conns: {e}"))?
            }
            "--duration" => a.duration = Some(secs(val("--duration")?)?),
            "--count" => {
                a.count = Some(
                    val("--count")?
                        .parse()
                        .map_err(|e| format!("--count: {e}"))?,
                )
            }
            "--warmup" => a.warmup = secs(val("--warmup")?)?,
            "--no-penalty" => a.no_penalty = true,
            "--blocking-reads" => a.blocking_reads = true,
            "--driver" => {
                a.driver = match val("--driver")?.as_str() {
                    "threads" => Driver::Threads,
                    "events" => Driver::Events,
                    d => return Err(format!("unknown driver {d} (threads, events)")),
                }
            }
            "--loops" => {
                a.loops = val("--loops")?
                    .parse()
                    .map_err(|e| format!("--loops: {e}"))?
            }
            "--pid" => a
                .pids
                .push(val("--pid")?.parse().map_err(|e| format!("--pid: {e}"))?),
            "--idle" => a.idle = Some(val("--idle")?.parse().map_err(|e| format!("--idle: {e}"))?),
            "--hold" => a.hold = secs(val("--hold")?)?,
            "--label" => a.label = val("--label")?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if !have_target {
        return Err(USAGE.into());
    }
    if a.conns == 0 || a.conns > 10_000 {
        return Err("--conns must be 1..=10000".into());
    }
    if a.loops == 0 || a.loops > 64 {
        return Err("--loops must be 1..=64".into());
    }
    if a.idle.is_some_and(|n| n == 0 || n > 100_000) {
        return Err("--idle must be 1..=100000".into());
    }
    if a.duration.is_none() && a.count.is_none() {
        a.duration = Some(Duration::from_secs(5));
    }
    Ok(a)
}

/// A connection to the daemon.
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn connect(target: &Target) -> std::io::Result<Stream> {
        let s = match target {
            Target::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
            Target::Tcp(addr) => {
                let s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
        };
        s.set_timeouts(Some(IO_TIMEOUT))?;
        Ok(s)
    }

    fn set_timeouts(&self, t: Option<Duration>) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
            Stream::Tcp(s) => {
                s.set_read_timeout(t)?;
                s.set_write_timeout(t)
            }
        }
    }

    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_nonblocking(on),
            Stream::Tcp(s) => s.set_nonblocking(on),
        }
    }

    /// Wait until the socket is readable (`POLLIN`) or writable (`POLLOUT`), at most
    /// [`IO_TIMEOUT`].
    fn wait(&self, flags: PollFlags) -> std::io::Result<()> {
        let timeout = Timespec {
            tv_sec: IO_TIMEOUT.as_secs() as i64,
            tv_nsec: 0,
        };
        // Bounded: EINTR retries only (a signal each time), and the timeout ends the wait.
        for _ in 0..1_000 {
            let mut fds = [PollFd::new(self, flags)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no reply from the daemon",
                    ));
                }
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(std::io::Error::other("poll interrupted too often"))
    }

    /// `write_all` that also works on a non-blocking socket (waits for room, bounded).
    fn send(&mut self, mut buf: &[u8]) -> std::io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = buf.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.wait(PollFlags::OUT)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

/// One client connection to the daemon, handshake done.
struct Conn {
    s: Stream,
    lines: LineBuf,
    out: Vec<u8>,
    next_id: u32,
    cache: Option<ScramClientCache>,
}

impl Conn {
    /// Connect and complete the handshake (`VERSION`, `CPID` out; everything up to `DONE` in).
    fn open(target: &Target, cpid: u32) -> std::io::Result<Conn> {
        let mut c = Conn {
            s: Stream::connect(target)?,
            lines: LineBuf::default(),
            out: Vec::with_capacity(512),
            next_id: 1,
            cache: None,
        };
        c.s.send(format!("VERSION\t1\t0\nCPID\t{cpid}\n").as_bytes())?;
        let mut seen = 0;
        // Bounded: MAX_HANDSHAKE_LINES lines, and each fill either adds bytes (a line holds at
        // most 64 KiB) or ends the handshake.
        for _ in 0..MAX_HANDSHAKE_LINES.saturating_mul(64 * 1024) {
            while let Some(line) = c.lines.next_line() {
                if line == b"DONE" {
                    return Ok(c);
                }
                seen += 1;
                if seen >= MAX_HANDSHAKE_LINES {
                    return Err(std::io::Error::other("no DONE in the handshake"));
                }
            }
            if c.lines.fill(&mut c.s)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "daemon closed the connection in the handshake",
                ));
            }
        }
        Err(std::io::Error::other("no DONE in the handshake"))
    }

    /// The id for the next request (never 0).
    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Write the AUTH of a new login.
    fn begin(&mut self, plan: &Plan) -> Result<Login, String> {
        let id = self.take_id();
        self.out.clear();
        let l = Login::start(plan, id, self.cache.as_ref(), &mut self.out)?;
        self.s.send(&self.out).map_err(|e| format!("write: {e}"))?;
        Ok(l)
    }

    /// Feed the buffered lines to `login`, writing its answers; `Some` when it is over.
    fn drain(&mut self, login: &mut Login) -> Result<Option<Outcome>, String> {
        while let Some(line) = self.lines.next_line() {
            self.out.clear();
            if let Some(o) = login.on_line(line, &mut self.out, &mut self.cache)? {
                if !self.lines.is_empty() {
                    return Err("more lines after the final reply".into());
                }
                return Ok(Some(o));
            }
            if !self.out.is_empty() {
                self.s.send(&self.out).map_err(|e| format!("write: {e}"))?;
            }
        }
        Ok(None)
    }

    /// One whole login, blocking: as one of Postfix's smtpd processes does it.
    fn login(&mut self, plan: &Plan, poll_first: bool) -> Result<Outcome, String> {
        let mut l = self.begin(plan)?;
        // Bounded: each turn reads at least one byte, the daemon's lines are at most 64 KiB
        // and the login at most 8 rounds.
        for _ in 0..1_000_000 {
            if let Some(o) = self.drain(&mut l)? {
                return Ok(o);
            }
            if poll_first {
                self.s
                    .wait(PollFlags::IN)
                    .map_err(|e| format!("read: {e}"))?;
            }
            match self.lines.fill(&mut self.s) {
                Ok(0) => return Err("read: daemon closed the connection".into()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
        Err("read: no end to the login".into())
    }
}

/// What the main thread tells the drivers.
struct Control {
    /// Stop starting logins (duration mode).
    stop: AtomicBool,
    /// Inside the measured interval.
    measuring: AtomicBool,
    /// Logins per connection (`--count`), or none (duration mode).
    per_conn: Option<u64>,
}

impl Control {
    fn counting(&self) -> bool {
        self.per_conn.is_some() || self.measuring.load(Ordering::Relaxed)
    }
}

/// What one driver thread saw.
#[derive(Default)]
struct ThreadResult {
    ok: u64,
    fail: u64,
    errors: Vec<String>,
    samples: Vec<u32>,
}

impl ThreadResult {
    fn record(&mut self, o: Outcome, t0: Instant) {
        match o {
            Outcome::Ok => self.ok += 1,
            Outcome::Fail => self.fail += 1,
        }
        if self.samples.len() < MAX_SAMPLES {
            let us = t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            self.samples.push(us);
        }
    }
}

/// The `threads` driver: connection `i` on this thread, one login after another.
fn run_thread(i: usize, a: &Args, plan: &Plan, ctl: &Control, barrier: &Barrier) -> ThreadResult {
    let mut r = ThreadResult::default();
    let conn = Conn::open(&a.target, cpid(i));
    barrier.wait();
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            r.errors.push(format!("connect: {e}"));
            return r;
        }
    };
    // Bounded: by --count, or by the main thread's stop flag (duration); u64::MAX iterations
    // can never be reached at a few hundred thousand per second.
    let limit = ctl.per_conn.unwrap_or(u64::MAX);
    let mut done = 0u64;
    while done < limit && !ctl.stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        match conn.login(plan, !a.blocking_reads) {
            Ok(o) => {
                if ctl.counting() {
                    r.record(o, t);
                    done += 1;
                }
            }
            Err(e) => {
                r.errors.push(e);
                // Reconnect once per error, as Postfix does; give up after MAX_ERRORS.
                if r.errors.len() >= MAX_ERRORS {
                    break;
                }
                match Conn::open(&a.target, cpid(i)) {
                    Ok(c) => conn = c,
                    Err(e) => {
                        r.errors.push(format!("reconnect: {e}"));
                        break;
                    }
                }
            }
        }
    }
    r
}

/// /proc/PID/stat utime+stime, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit(')').next()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After "(comm)": state is field 3 of the whole line, utime 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// /proc/PID/status VmRSS, in kB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn total_cpu(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|p| cpu_ticks(*p)).sum()
}

fn total_rss(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|p| rss_kb(*p)).sum()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

fn cpid(i: usize) -> u32 {
    (std::process::id() % 40_000) * 100_000 + (i as u32 % 100_000)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[idx.min(sorted.len() - 1)]) / 1000.0
}

fn target_name(t: &Target) -> String {
    match t {
        Target::Unix(p) => format!("unix:{p}"),
        Target::Tcp(a) => format!("tcp:{a}"),
    }
}

fn run_idle(a: &Args, n: usize) -> Result<(), String> {
    let before = total_rss(&a.pids);
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        conns.push(Conn::open(&a.target, cpid(i)).map_err(|e| format!("connection {i}: {e}"))?);
    }
    // Let the daemon settle (lazy allocations, its own bookkeeping).
    std::thread::sleep(a.hold);
    let with = total_rss(&a.pids);
    // Every connection is still alive and answering: one login on the last one.
    let plan = Plan::new(a.mech, &a.user, &a.pass, a.no_penalty);
    let check = conns.last_mut().map(|c| c.login(&plan, !a.blocking_reads));
    let per_conn = (with.saturating_sub(before) as f64) * 1024.0 / n as f64;
    println!(
        "idle connections: {n} open; daemon RSS {before} kB before, {with} kB with them ({per_conn:.0} bytes per connection); check login: {check:?}"
    );
    println!(
        "RESULT label={} mode=idle conns={n} rss_before_kb={before} rss_kb={with} bytes_per_conn={per_conn:.0} load={}",
        a.label,
        loadavg()
    );
    drop(conns);
    Ok(())
}

fn run_load(a: &Args) -> Result<(), String> {
    let ctl = Arc::new(Control {
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
        per_conn: a.count.map(|c| c.div_ceil(a.conns as u64)),
    });
    let plan = Arc::new(Plan::new(a.mech, &a.user, &a.pass, a.no_penalty));
    // One thread per connection, or `--loops` event loops sharing the connections out.
    let workers: Vec<std::ops::Range<usize>> = match a.driver {
        Driver::Threads => (0..a.conns).map(|i| i..i + 1).collect(),
        Driver::Events => {
            let k = a.loops.min(a.conns);
            (0..k)
                .map(|j| (a.conns * j / k)..(a.conns * (j + 1) / k))
                .collect()
        }
    };
    let barrier = Arc::new(Barrier::new(workers.len() + 1));
    let mut handles = Vec::new();
    for range in workers {
        let (a2, plan, ctl, barrier) = (a.clone(), plan.clone(), ctl.clone(), barrier.clone());
        handles.push(std::thread::spawn(move || match a2.driver {
            Driver::Threads => run_thread(range.start, &a2, &plan, &ctl, &barrier),
            Driver::Events => events::run(range, &a2, &plan, &ctl, &barrier),
        }));
    }
    barrier.wait();
    let tck = clk_tck() as f64;
    let (cpu0, self0, t0);
    if a.count.is_some() {
        ctl.measuring.store(true, Ordering::SeqCst);
        cpu0 = total_cpu(&a.pids);
        self0 = cpu_ticks(std::process::id()).unwrap_or(0);
        t0 = Instant::now();
    } else {
        std::thread::sleep(a.warmup);
        cpu0 = total_cpu(&a.pids);
        self0 = cpu_ticks(std::process::id()).unwrap_or(0);
        t0 = Instant::now();
        ctl.measuring.store(true, Ordering::SeqCst);
        std::thread::sleep(a.duration.unwrap_or(Duration::from_secs(5)));
        ctl.measuring.store(false, Ordering::SeqCst);
    }
    let elapsed_measured = if a.count.is_none() {
        Some(t0.elapsed())
    } else {
        None
    };
    let cpu1_early = total_cpu(&a.pids);
    let self1_early = cpu_ticks(std::process::id()).unwrap_or(0);
    if a.count.is_none() {
        // Duration mode: stop the threads; with --count they end after their share.
        ctl.stop.store(true, Ordering::SeqCst);
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(h.join().map_err(|_| "a driver thread panicked")?);
    }
    let (elapsed, cpu1, self1) = match elapsed_measured {
        Some(e) => (e, cpu1_early, self1_early),
        None => (
            t0.elapsed(),
            total_cpu(&a.pids),
            cpu_ticks(std::process::id()).unwrap_or(0),
        ),
    };
    let rss = total_rss(&a.pids);
    let ok: u64 = results.iter().map(|r| r.ok).sum();
    let fail: u64 = results.iter().map(|r| r.fail).sum();
    let errors: Vec<String> = results
        .iter()
        .flat_map(|r| r.errors.iter().cloned())
        .collect();
    let mut samples: Vec<u32> = results.into_iter().flat_map(|r| r.samples).collect();
    samples.sort_unstable();
    let n = ok + fail;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rate = n as f64 / secs;
    let (p50, p99, max) = (
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
    );
    let cpu_s = cpu1.saturating_sub(cpu0) as f64 / tck;
    let self_s = self1.saturating_sub(self0) as f64 / tck;
    let per_login_us = |s: f64| if n > 0 { s * 1e6 / n as f64 } else { 0.0 };
    println!(
        "{} {} conns={} driver={} {}: {n} logins ({ok} ok, {fail} failed, {} errors) in {secs:.2} s = {rate:.0}/s; latency p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms",
        target_name(&a.target),
        a.mech.name(),
        a.conns,
        a.driver_name(),
        if a.no_penalty {
            "with no-penalty"
        } else {
            "without no-penalty"
        },
        errors.len()
    );
    if !a.pids.is_empty() {
        println!(
            "daemon pids {:?}: CPU {cpu_s:.2} s = {:.1} us/login ({:.0} % of a core), RSS {rss} kB; load generator CPU {:.1} us/login",
            a.pids,
            per_login_us(cpu_s),
            cpu_s / secs * 100.0,
            per_login_us(self_s)
        );
    }
    for e in errors.iter().take(5) {
        eprintln!("error: {e}");
    }
    println!(
        "RESULT label={} mech={} conns={} driver={} logins={n} ok={ok} fail={fail} errors={} secs={secs:.3} rate={rate:.1} p50_ms={p50:.3} p99_ms={p99:.3} max_ms={max:.3} cpu_s={cpu_s:.3} cpu_us_per_login={:.2} daemon_cpu_pct={:.1} rss_kb={rss} gen_cpu_us_per_login={:.2} load={}",
        a.label,
        a.mech.name(),
        a.conns,
        a.driver_name(),
        errors.len(),
        per_login_us(cpu_s),
        cpu_s / secs * 100.0,
        per_login_us(self_s),
        loadavg()
    );
    if ok == 0 {
        return Err("no successful login".into());
    }
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let r = match a.idle {
        Some(n) => run_idle(&a, n),
        None => run_load(&a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authd-load: {e}");
            ExitCode::FAILURE
        }
    }
}
