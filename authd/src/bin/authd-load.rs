//! `authd-load`: a load generator for Dovecot-auth-protocol daemons (saslmech-authd, Dovecot's
//! own auth service). It speaks the client side of the protocol as Postfix's smtpd does: one
//! persistent connection per client, requests numbered on it, ONE request in flight at a time.
//!
//! ```text
//! authd-load (--unix PATH | --tcp HOST:PORT) [--mech PLAIN|SCRAM-SHA-256] [--user U --pass P]
//!            [--conns N] [--duration SECS | --count LOGINS] [--warmup SECS] [--no-penalty]
//!            [--pid PID]... [--label TEXT] [--blocking-reads]
//! authd-load (--unix PATH | --tcp HOST:PORT) --idle N [--hold SECS] [--pid PID]...
//! ```
//!
//! Reports logins/s, p50/p99 latency (from sending AUTH to reading OK), the daemon's CPU time
//! per login (utime+stime of every `--pid` from /proc, before and after the measured interval)
//! and its resident memory; `--idle N` opens N idle connections (handshake done) and reports
//! the daemon's resident memory before and with them. The last line, `RESULT key=value …`, is
//! for scripts. Replies are read as Postfix reads them: `poll` for input, then `read`
//! (`--blocking-reads`: `read` alone). Only std, the saslmech engine (the SCRAM client side)
//! and rustix's `poll`.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use saslmech::{ClientSession, Credentials, Mechanism, ScramClientCache};

/// Every read and write on a daemon connection gives up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Latency samples kept per connection (bounds memory on long runs).
const MAX_SAMPLES: usize = 2_000_000;
/// Handshake lines accepted before DONE.
const MAX_HANDSHAKE_LINES: usize = 1_000;

#[derive(Clone, Debug)]
enum Target {
    Unix(String),
    Tcp(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mech {
    Plain,
    ScramSha256,
}

impl Mech {
    fn name(self) -> &'static str {
        match self {
            Mech::Plain => "PLAIN",
            Mech::ScramSha256 => "SCRAM-SHA-256",
        }
    }
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
}

const USAGE: &str = "usage: authd-load (--unix PATH | --tcp HOST:PORT) [--mech PLAIN|SCRAM-SHA-256] \
[--user U --pass P] [--conns N] [--duration SECS | --count LOGINS] [--warmup SECS] [--no-penalty] \
[--pid PID]... [--label TEXT] [--blocking-reads]\n       authd-load (--unix PATH | --tcp HOST:PORT) --idle N [--hold SECS] [--pid PID]...";

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
    if a.idle.is_some_and(|n| n == 0 || n > 100_000) {
        return Err("--idle must be 1..=100000".into());
    }
    if a.duration.is_none() && a.count.is_none() {
        a.duration = Some(Duration::from_secs(5));
    }
    Ok(a)
}

/// A socket read the way Postfix reads its auth server (`timed_read`): `poll` for input, then
/// `read`. A thread blocked in `read` on an AF_UNIX stream is woken each time the daemon
/// *consumes* the request it just wrote (the kernel signals "writable" on the same wait queue),
/// and that spurious wake-up is charged to the daemon's `recv`; a `poll` for input only is not
/// woken by it. `--blocking-reads` reads without the `poll`, as the first version did.
struct Waited<S> {
    s: S,
    poll_first: bool,
}

impl<S: std::io::Read + AsFd> std::io::Read for Waited<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.poll_first {
            let timeout = Timespec {
                tv_sec: IO_TIMEOUT.as_secs() as i64,
                tv_nsec: 0,
            };
            loop {
                let mut fds = [PollFd::new(&self.s, PollFlags::IN)];
                match poll(&mut fds, Some(&timeout)) {
                    Ok(0) => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "no reply from the daemon",
                        ));
                    }
                    Ok(_) => break,
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.s.read(buf)
    }
}

/// One client connection to the daemon.
struct Conn {
    w: Box<dyn Write + Send>,
    r: BufReader<Box<dyn std::io::Read + Send>>,
    line: String,
    next_id: u32,
}

impl Conn {
    fn open(target: &Target, cpid: u32, poll_first: bool) -> std::io::Result<Conn> {
        let (w, r): (Box<dyn Write + Send>, Box<dyn std::io::Read + Send>) = match target {
            Target::Unix(path) => {
                let s = UnixStream::connect(path)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                (Box::new(s.try_clone()?), Box::new(Waited { s, poll_first }))
            }
            Target::Tcp(addr) => {
                let s = TcpStream::connect(addr)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                s.set_nodelay(true)?;
                (Box::new(s.try_clone()?), Box::new(Waited { s, poll_first }))
            }
        };
        let mut c = Conn {
            w,
            r: BufReader::new(r),
            line: String::new(),
            next_id: 1,
        };
        c.w.write_all(format!("VERSION\t1\t0\nCPID\t{cpid}\n").as_bytes())?;
        for _ in 0..MAX_HANDSHAKE_LINES {
            if c.read_line()? == "DONE" {
                return Ok(c);
            }
        }
        Err(std::io::Error::other("no DONE in the handshake"))
    }

    fn read_line(&mut self) -> std::io::Result<&str> {
        self.line.clear();
        if self.r.read_line(&mut self.line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "daemon closed the connection",
            ));
        }
        Ok(self.line.trim_end_matches('\n'))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Fail,
}

/// One login with one request in flight; returns after OK or FAIL.
fn login(c: &mut Conn, a: &Args, cache: &mut Option<ScramClientCache>) -> Result<Outcome, String> {
    let id = c.next_id;
    c.next_id = c.next_id.wrapping_add(1).max(1);
    let params = format!(
        "service=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured{}",
        if a.no_penalty { "\tno-penalty" } else { "" }
    );
    let mech = match a.mech {
        Mech::Plain => Mechanism::Plain,
        Mech::ScramSha256 => Mechanism::ScramSha256,
    };
    let cached = cache.clone();
    let mut creds = Credentials::new()
        .authcid(&a.user)
        .password(a.pass.as_bytes());
    if let Some(k) = cached.as_ref() {
        creds = creds.scram_cache(k);
    }
    let mut client = ClientSession::new(mech, &creds).map_err(|e| format!("client: {e:?}"))?;
    let first = client
        .start_b64()
        .map_err(|e| format!("client start: {e:?}"))?
        .map(<[u8]>::to_vec);
    let mut out = format!("AUTH\t{id}\t{}\t{params}", a.mech.name());
    if let Some(ir) = first {
        out.push_str("\tresp=");
        out.push_str(std::str::from_utf8(&ir).map_err(|_| "non-ASCII base64")?);
    }
    out.push('\n');
    c.w.write_all(out.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut conts = 0u32;
    // PLAIN: one round; SCRAM: server-first, server-final, then OK.
    for _ in 0..8 {
        let line = c.read_line().map_err(|e| format!("read: {e}"))?.to_owned();
        let mut f = line.split('\t');
        let kind = f.next().unwrap_or("");
        let rid: Option<u32> = f.next().and_then(|v| v.parse().ok());
        if rid != Some(id) {
            return Err(format!("reply for another request: {line:?}"));
        }
        match kind {
            "OK" => {
                if !client.is_finished() {
                    let resp = f
                        .find_map(|p| p.strip_prefix("resp="))
                        .map(|d| saslmech::b64::decode(d.as_bytes()));
                    match resp {
                        Some(Ok(d)) => client.finish(Some(d.as_slice())),
                        Some(Err(_)) => return Err("bad base64 in OK resp=".into()),
                        None => client.finish(None),
                    }
                    .map_err(|e| format!("the server's OK did not verify: {e:?}"))?;
                }
                if cache.is_none() {
                    *cache = client.scram_cache().cloned();
                }
                return Ok(Outcome::Ok);
            }
            "FAIL" => return Ok(Outcome::Fail),
            "CONT" => {
                let data = f.next().unwrap_or("");
                conts += 1;
                let reply = if a.mech == Mech::ScramSha256 && conts == 2 {
                    // The server-final message travels in a CONT (Postfix relays it as a 334);
                    // the client verifies it and answers empty.
                    let d =
                        saslmech::b64::decode(data.as_bytes()).map_err(|_| "bad base64 in CONT")?;
                    client
                        .finish(Some(d.as_slice()))
                        .map_err(|e| format!("server-final: {e:?}"))?;
                    String::new()
                } else {
                    let r = client
                        .step_b64(data.as_bytes())
                        .map_err(|e| format!("client step: {e:?}"))?;
                    String::from_utf8_lossy(r).into_owned()
                };
                c.w.write_all(format!("CONT\t{id}\t{reply}\n").as_bytes())
                    .map_err(|e| format!("write: {e}"))?;
            }
            _ => return Err(format!("unexpected line {line:?}")),
        }
    }
    Err("more than 8 rounds".into())
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
        conns.push(
            Conn::open(&a.target, cpid(i), !a.blocking_reads)
                .map_err(|e| format!("connection {i}: {e}"))?,
        );
    }
    // Let the daemon settle (lazy allocations, its own bookkeeping).
    std::thread::sleep(a.hold);
    let with = total_rss(&a.pids);
    // Every connection is still alive and answering: one login on the last one.
    let mut cache = None;
    let check = conns.last_mut().map(|c| login(c, a, &mut cache));
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

struct ThreadResult {
    ok: u64,
    fail: u64,
    errors: Vec<String>,
    samples: Vec<u32>,
}

fn run_load(a: &Args) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(a.conns + 1));
    let per_thread_count = a.count.map(|c| c.div_ceil(a.conns as u64));
    let mut handles = Vec::new();
    for i in 0..a.conns {
        let (a2, stop, measuring, barrier, started) = (
            a.clone(),
            stop.clone(),
            measuring.clone(),
            barrier.clone(),
            started.clone(),
        );
        handles.push(std::thread::spawn(move || {
            let mut r = ThreadResult {
                ok: 0,
                fail: 0,
                errors: Vec::new(),
                samples: Vec::new(),
            };
            let conn = Conn::open(&a2.target, cpid(i), !a2.blocking_reads);
            barrier.wait();
            let mut conn = match conn {
                Ok(c) => c,
                Err(e) => {
                    r.errors.push(format!("connect: {e}"));
                    return r;
                }
            };
            started.fetch_add(1, Ordering::SeqCst);
            let mut cache = None;
            // Bounded: by --count per thread, or by the main thread's stop flag (duration);
            // u64::MAX iterations can never be reached at a few hundred thousand per second.
            let limit = per_thread_count.unwrap_or(u64::MAX);
            let mut done = 0u64;
            while done < limit && !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let res = login(&mut conn, &a2, &mut cache);
                let us = t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                let counting = measuring.load(Ordering::Relaxed) || a2.count.is_some();
                match res {
                    Ok(o) => {
                        if counting {
                            match o {
                                Outcome::Ok => r.ok += 1,
                                Outcome::Fail => r.fail += 1,
                            }
                            if r.samples.len() < MAX_SAMPLES {
                                r.samples.push(us);
                            }
                            done += 1;
                        }
                    }
                    Err(e) => {
                        r.errors.push(e);
                        // Reconnect once per error, as Postfix does; give up after 100 errors.
                        if r.errors.len() >= 100 {
                            break;
                        }
                        match Conn::open(&a2.target, cpid(i), !a2.blocking_reads) {
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
        }));
    }
    barrier.wait();
    let tck = clk_tck() as f64;
    let (cpu0, self0, t0);
    if a.count.is_some() {
        measuring.store(true, Ordering::SeqCst);
        cpu0 = total_cpu(&a.pids);
        self0 = cpu_ticks(std::process::id()).unwrap_or(0);
        t0 = Instant::now();
    } else {
        std::thread::sleep(a.warmup);
        cpu0 = total_cpu(&a.pids);
        self0 = cpu_ticks(std::process::id()).unwrap_or(0);
        t0 = Instant::now();
        measuring.store(true, Ordering::SeqCst);
        std::thread::sleep(a.duration.unwrap_or(Duration::from_secs(5)));
        measuring.store(false, Ordering::SeqCst);
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
        stop.store(true, Ordering::SeqCst);
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(h.join().map_err(|_| "a load thread panicked")?);
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
        "{} {} conns={} {}: {n} logins ({ok} ok, {fail} failed, {} errors) in {secs:.2} s = {rate:.0}/s; latency p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms",
        target_name(&a.target),
        a.mech.name(),
        a.conns,
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
        "RESULT label={} mech={} conns={} logins={n} ok={ok} fail={fail} errors={} secs={secs:.3} rate={rate:.1} p50_ms={p50:.3} p99_ms={p99:.3} max_ms={max:.3} cpu_s={cpu_s:.3} cpu_us_per_login={:.2} daemon_cpu_pct={:.1} rss_kb={rss} gen_cpu_us_per_login={:.2} load={}",
        a.label,
        a.mech.name(),
        a.conns,
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
