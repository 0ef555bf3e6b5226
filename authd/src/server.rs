//! The tokio glue: listeners, one task per client connection, lookups answered inline or on
//! the blocking pool, failure delay, throttling, SIGHUP reload and SIGTERM shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::backend::{self, Resolution, State};
use crate::config::{Config, TempFailure};
use crate::handler::{Event, Finished, Handler, Limits, Outcome, Owned};
use crate::logfmt::{Millis, QuotedIp};
use crate::protocol::{self, Fail};

/// The running daemon, shared by all connection tasks.
pub struct Daemon {
    state: ArcSwap<State>,
    config_path: Option<PathBuf>,
    throttle: crate::throttle::Throttle,
    hash_slots: Arc<Semaphore>,
    next_cuid: AtomicU64,
    cookie: [u8; 16],
    secret: [u8; 32],
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("config_path", &self.config_path)
            .finish_non_exhaustive()
    }
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| format!("no OS randomness: {e}"))?;
    Ok(b)
}

fn log_line_errors(errors: &[crate::passdb::LineError], path: Option<&Path>) {
    let Some(path) = path else { return };
    for e in errors {
        warn!(file = %path.display(), "passwd-file {e}");
    }
}

fn log_loaded(state: &State, what: &str) {
    match (&state.passdb, &state.config.passdb.passwd_file) {
        (crate::passdb::Source::File(db), Some(path)) => {
            info!(users = db.len(), file = %path.display(), "passwd-file {what}");
        }
        (crate::passdb::Source::Pgsql(pg), _) => {
            info!(
                query = pg.sql(),
                "pgsql passdb {what} (connections are opened on demand)"
            );
        }
        _ => {}
    }
}

impl Daemon {
    /// Build the daemon from a validated configuration (reads the passwd-file and keys).
    /// `config_path` is re-read on SIGHUP.
    pub fn new(config: Config, config_path: Option<PathBuf>) -> Result<Arc<Daemon>, String> {
        let secret = random::<32>()?;
        let (state, errors) = State::build(config, secret)?;
        log_line_errors(&errors, state.config.passdb.passwd_file.as_deref());
        log_loaded(&state, "loaded");
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Arc::new(Daemon {
            state: ArcSwap::from_pointee(state),
            config_path,
            throttle: crate::throttle::Throttle::new(),
            // Slow hashes in flight at once: enough to keep every core busy, not so many
            // that a flood of bcrypt logins spawns hundreds of threads.
            hash_slots: Arc::new(Semaphore::new(cpus.saturating_mul(2))),
            next_cuid: AtomicU64::new(1),
            cookie: random::<16>()?,
            secret,
        }))
    }

    /// The current state.
    pub fn state(&self) -> Arc<State> {
        self.state.load_full()
    }

    /// Re-read the configuration file and the passwd-file; on any error keep the old state.
    pub async fn reload(self: &Arc<Self>) {
        let Some(path) = self.config_path.clone() else {
            return;
        };
        let secret = self.secret;
        let built = tokio::task::spawn_blocking(move || {
            let config = Config::load(&path).map_err(|e| e.to_string())?;
            State::build(config, secret)
        })
        .await;
        match built {
            Ok(Ok((state, errors))) => {
                let old = self.state.load();
                if old.config.listen.unix != state.config.listen.unix
                    || old.config.listen.tcp != state.config.listen.tcp
                {
                    warn!("reload: [listen] changes take effect only after a restart");
                }
                log_line_errors(&errors, state.config.passdb.passwd_file.as_deref());
                log_loaded(&state, "reloaded");
                info!("reloaded configuration and passwd-file");
                self.state.store(Arc::new(state));
            }
            Ok(Err(e)) => error!("reload failed, keeping the previous configuration: {e}"),
            Err(e) => error!("reload failed: {e}"),
        }
    }
}

/// What a background job hands back to its connection.
enum Job {
    Answer {
        id: u32,
        answer: Owned,
        note: Option<&'static str>,
        login: Option<String>,
    },
    Fail {
        id: u32,
        fail: Fail,
    },
}

enum ReadLine {
    Line,
    Eof,
    TooLong,
}

/// Read one LF-terminated line into `line` (without the LF), at most `max` bytes.
/// Cancel-safe: bytes already taken stay in `line` and the next call goes on.
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<ReadLine> {
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(ReadLine::Eof);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(pos) => {
                line.extend_from_slice(buf.get(..pos).unwrap_or_default());
                reader.consume(pos.saturating_add(1));
                return Ok(if line.len() >= max {
                    ReadLine::TooLong
                } else {
                    ReadLine::Line
                });
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                reader.consume(n);
                if line.len() >= max {
                    return Ok(ReadLine::TooLong);
                }
            }
        }
    }
}

fn log_finished(f: &Finished, conn: u64) {
    let result = match f.outcome {
        Outcome::Ok => "ok",
        Outcome::Failed(saslmech::Failure::BadCredentials) => "failed",
        Outcome::Failed(saslmech::Failure::TemporaryFailure) => "tempfail",
        Outcome::Failed(_) => "failed",
        Outcome::Refused(_) => "refused",
    };
    let detail = match f.outcome {
        Outcome::Ok => "",
        Outcome::Failed(x) => x.as_str(),
        Outcome::Refused(why) => why,
    };
    info!(
        conn,
        id = f.id,
        service = f.service.as_ref(),
        mechanism = f.mechanism.as_ref(),
        user = f.user.as_deref().unwrap_or("-"),
        rip = %QuotedIp(f.remote_ip),
        result,
        detail,
        note = f.note.unwrap_or(""),
        duration_ms = %Millis(f.duration),
        "login"
    );
}

/// Serve one client connection until it closes, breaks the protocol, or shutdown.
pub async fn connection<S>(stream: S, daemon: Arc<Daemon>, shutdown: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (rd, wr) = tokio::io::split(stream);
    serve_halves(rd, wr, daemon, shutdown).await;
}

/// [`connection`] for a TCP stream, split without the shared lock of `tokio::io::split`.
pub async fn tcp_connection(
    mut stream: tokio::net::TcpStream,
    daemon: Arc<Daemon>,
    shutdown: watch::Receiver<bool>,
) {
    let (rd, wr) = stream.split();
    serve_halves(rd, wr, daemon, shutdown).await;
}

/// [`connection`] for a UNIX stream, split without the shared lock of `tokio::io::split`.
pub async fn unix_connection(
    mut stream: tokio::net::UnixStream,
    daemon: Arc<Daemon>,
    shutdown: watch::Receiver<bool>,
) {
    let (rd, wr) = stream.split();
    serve_halves(rd, wr, daemon, shutdown).await;
}

async fn serve_halves<R, W>(
    rd: R,
    mut wr: W,
    daemon: Arc<Daemon>,
    mut shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let conn = daemon.next_cuid.fetch_add(1, Ordering::Relaxed);
    let state = daemon.state();
    let mut reader = BufReader::with_capacity(1024, rd);
    let mut out = Vec::with_capacity(512);
    protocol::write_handshake(
        &mut out,
        &state.mechanisms,
        std::process::id(),
        conn,
        &daemon.cookie,
    );
    let max_line = state.config.auth.max_line;
    let timeout = Duration::from_secs(state.config.auth.request_timeout_s);
    let mut handler = Handler::new(
        Arc::clone(&state.engine),
        Limits {
            max_requests: state.config.auth.max_requests_per_connection,
        },
    );
    drop(state);
    let mut jobs: JoinSet<Job> = JoinSet::new();
    let mut line = Vec::new();
    let mut sweep = tokio::time::interval(Duration::from_secs(1).min(timeout));
    // After an idle spell (the branch is off without requests), one tick, not a burst of the
    // ticks missed meanwhile.
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    // Created once: a `changed()` future made anew on every turn of the loop would register
    // with (and leave) the channel's waiter list, under its lock, on every line. And once it
    // waits (registered with this task's waker, which never changes), it is polled again only
    // when the channel has news: polling a waiting `Notified` takes the channel's lock too.
    let probe = shutdown.clone();
    let stop = async move {
        loop {
            if shutdown.changed().await.is_err() || *shutdown.borrow() {
                return;
            }
        }
    };
    tokio::pin!(stop);
    let mut stop_waiting = false;
    if let Err(e) = wr.write_all(&out).await {
        debug!(conn, "client went away before the handshake: {e}");
        return;
    }
    // Idle connections keep no handshake-sized buffer; replies allocate on first use.
    out = Vec::new();
    debug!(conn, "connected");
    loop {
        tokio::select! {
            // A fixed order (no random start per turn): finished jobs, shutdown, expiry, and
            // the client's lines last, so that a flood of lines cannot starve the others.
            biased;
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                let now = Instant::now();
                match done {
                    Ok(Job::Answer { id, answer, note, login }) => {
                        if let Some(name) = login {
                            handler.set_login(id, name);
                        }
                        let ev = handler.answer(id, answer.as_answer(), note, now, &mut out);
                        if let Err(msg) = process(ev, &mut handler, &daemon, &mut jobs, &mut out, conn) {
                            warn!(conn, "closing connection: {msg}");
                            break;
                        }
                    }
                    Ok(Job::Fail { id, fail }) => {
                        protocol::write_fail(&mut out, id, &fail);
                        handler.release(id);
                    }
                    Err(e) => {
                        error!(conn, "a lookup job failed: {e}; closing the connection");
                        break;
                    }
                }
            }
            () = std::future::poll_fn(|cx| {
                if stop_waiting && !probe.has_changed().unwrap_or(true) {
                    return std::task::Poll::Pending;
                }
                stop_waiting = true;
                stop.as_mut().poll(cx)
            }), if !closing => {
                // Finish what is in flight, take nothing new.
                closing = true;
            }
            _ = sweep.tick(), if handler.in_flight() > 0 => {
                for f in handler.expire(Instant::now(), timeout) {
                    log_finished(&f, conn);
                    if let Some(fail) = &f.fail {
                        protocol::write_fail(&mut out, f.id, fail);
                    }
                    handler.release(f.id);
                }
            }
            r = read_line(&mut reader, &mut line, max_line), if !closing => {
                match r {
                    Ok(ReadLine::Line) => {
                        let ev = handler.line(&line, Instant::now(), &mut out);
                        line.clear();
                        if let Err(msg) = process(ev, &mut handler, &daemon, &mut jobs, &mut out, conn) {
                            warn!(conn, "closing connection: {msg}");
                            let _ = wr.write_all(&out).await;
                            break;
                        }
                    }
                    Ok(ReadLine::Eof) => {
                        debug!(conn, in_flight = handler.in_flight(), "client closed the connection");
                        break;
                    }
                    Ok(ReadLine::TooLong) => {
                        warn!(conn, limit = max_line, "closing connection: line too long");
                        break;
                    }
                    Err(e) => {
                        debug!(conn, "read error: {e}");
                        break;
                    }
                }
            }
        }
        if !out.is_empty() {
            if let Err(e) = wr.write_all(&out).await {
                debug!(conn, "write error: {e}");
                break;
            }
            out.clear();
        }
        if closing && jobs.is_empty() {
            break;
        }
    }
    for id in handler.request_ids() {
        info!(conn, id, "request dropped: its connection closed");
    }
    let _ = wr.shutdown().await;
    jobs.abort_all();
}

/// Act on a handler event until it needs nothing more right now. `Err` closes the
/// connection.
fn process(
    mut ev: Event,
    handler: &mut Handler,
    daemon: &Arc<Daemon>,
    jobs: &mut JoinSet<Job>,
    out: &mut Vec<u8>,
    conn: u64,
) -> Result<(), String> {
    loop {
        match ev {
            Event::Nothing => return Ok(()),
            Event::Close(msg) => return Err(msg),
            Event::Finished(f) => {
                log_finished(&f, conn);
                let state = daemon.state.load();
                if f.outcome == Outcome::Failed(saslmech::Failure::TemporaryFailure)
                    && state.config.auth.temp_failure == TempFailure::Disconnect
                {
                    // Postfix and Exim answer every FAIL with 535; only a lost connection
                    // makes them say "temporary" (454 / 435) and reconnect for the next AUTH.
                    handler.release(f.id);
                    return Err(format!(
                        "request {} failed temporarily ({}); auth.temp_failure = \"disconnect\"",
                        f.id,
                        f.note.unwrap_or("passdb unavailable")
                    ));
                }
                let counts = matches!(
                    f.outcome,
                    Outcome::Failed(
                        saslmech::Failure::BadCredentials
                            | saslmech::Failure::AccountDisabled
                            | saslmech::Failure::AuthzDenied
                    )
                );
                if let (Some(t), Some(ip), true, false) =
                    (&state.config.throttle, f.remote_ip, counts, f.no_penalty)
                {
                    daemon.throttle.record_failure(
                        ip,
                        Duration::from_secs(t.window_s),
                        Instant::now(),
                    );
                }
                if let Some(fail) = f.fail {
                    let delay = state.config.auth.failure_delay_ms;
                    if delay == 0 {
                        protocol::write_fail(out, f.id, &fail);
                        handler.release(f.id);
                    } else {
                        let id = f.id;
                        jobs.spawn(async move {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                            Job::Fail { id, fail }
                        });
                    }
                }
                return Ok(());
            }
            Event::Lookup(lookup) => {
                let id = lookup.id();
                let state = daemon.state();
                let (rip, no_penalty) = handler.request_origin(id);
                let blocked = match (&state.config.throttle, rip, no_penalty) {
                    (Some(t), Some(ip), false) => daemon.throttle.is_blocked(
                        ip,
                        t.max_failures,
                        Duration::from_secs(t.window_s),
                        Instant::now(),
                    ),
                    _ => false,
                };
                if blocked {
                    let answer = backend::throttled(&lookup);
                    ev = handler.answer(
                        id,
                        answer.as_answer(),
                        Some("throttled: too many failures from this address"),
                        Instant::now(),
                        out,
                    );
                    continue;
                }
                let service = handler.request_service(id);
                match state.resolve(lookup, rip, service) {
                    Resolution::Now(answer, note) => {
                        ev = handler.answer(id, answer.as_answer(), note, Instant::now(), out);
                    }
                    Resolution::Blocking(job) => {
                        let slots = Arc::clone(&daemon.hash_slots);
                        jobs.spawn(async move {
                            let (answer, note) = run_blocking(slots, job).await;
                            Job::Answer {
                                id,
                                answer,
                                note,
                                login: None,
                            }
                        });
                        return Ok(());
                    }
                    Resolution::Async(pending) => {
                        let slots = Arc::clone(&daemon.hash_slots);
                        jobs.spawn(async move {
                            let (next, login) = pending.await;
                            let (answer, note) = match next {
                                Resolution::Now(answer, note) => (answer, note),
                                Resolution::Blocking(job) => run_blocking(slots, job).await,
                                Resolution::Async(_) => {
                                    (Owned::Temporary, Some("nested asynchronous lookup"))
                                }
                            };
                            Job::Answer {
                                id,
                                answer,
                                note,
                                login,
                            }
                        });
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Run a slow check on the blocking pool, at most `slots` at a time.
async fn run_blocking(slots: Arc<Semaphore>, job: backend::Job) -> (Owned, Option<&'static str>) {
    // The permit waits asynchronously; only the hash runs on a thread.
    let _permit = slots.acquire_owned().await;
    match tokio::task::spawn_blocking(job).await {
        Ok(r) => r,
        Err(_) => (Owned::Temporary, Some("hash job failed")),
    }
}

/// The sockets the daemon listens on.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The TCP listener, if configured.
    pub tcp: Option<TcpListener>,
    /// The UNIX listener and its path, if configured.
    pub unix: Option<(UnixListener, PathBuf)>,
}

fn lookup_id(file: &str, name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let n = f.next()?;
        let _pw = f.next()?;
        let id = f.next()?;
        (n == name).then(|| id.parse().ok()).flatten()
    })
}

/// Bind what the configuration asks for and log each address.
pub async fn bind(config: &Config) -> Result<Listeners, String> {
    let mut l = Listeners::default();
    if let Some(addr) = config.tcp().map_err(|e| e.to_string())? {
        let tcp = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("listen.tcp: cannot bind {addr}: {e}"))?;
        let bound: SocketAddr = tcp.local_addr().map_err(|e| format!("listen.tcp: {e}"))?;
        info!("listening tcp={bound}");
        l.tcp = Some(tcp);
    }
    if let Some(path) = &config.listen.unix {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if meta.file_type().is_socket() {
                let _ = std::fs::remove_file(path);
            } else {
                return Err(format!(
                    "listen.unix: {} exists and is not a socket",
                    path.display()
                ));
            }
        }
        let unix = UnixListener::bind(path)
            .map_err(|e| format!("listen.unix: cannot bind {}: {e}", path.display()))?;
        let mode = config.unix_mode().map_err(|e| e.to_string())?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("listen.unix_mode: {}: {e}", path.display()))?;
        let uid = match &config.listen.unix_owner {
            Some(o) => Some(
                lookup_id("/etc/passwd", o)
                    .ok_or_else(|| format!("listen.unix_owner: unknown user {o:?}"))?,
            ),
            None => None,
        };
        let gid = match &config.listen.unix_group {
            Some(g) => Some(
                lookup_id("/etc/group", g)
                    .ok_or_else(|| format!("listen.unix_group: unknown group {g:?}"))?,
            ),
            None => None,
        };
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(path, uid, gid)
                .map_err(|e| format!("listen.unix_owner/unix_group: {}: {e}", path.display()))?;
        }
        info!("listening unix={}", path.display());
        l.unix = Some((unix, path.clone()));
    }
    Ok(l)
}

/// Accept connections until `stop` resolves (SIGTERM), reloading on `reload` signals.
/// Then stop accepting, let every connection finish its requests in flight (at most
/// `grace`), and remove the UNIX socket.
pub async fn serve(
    daemon: Arc<Daemon>,
    listeners: Listeners,
    mut reload: tokio::sync::mpsc::Receiver<()>,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let (tx, rx) = watch::channel(false);
    let max_conns = daemon.state().config.auth.max_connections;
    let conn_slots = Arc::new(Semaphore::new(max_conns));
    let mut conns = JoinSet::new();
    let Listeners { tcp, unix } = listeners;
    let (unix, unix_path) = match unix {
        Some((l, p)) => (Some(l), Some(p)),
        None => (None, None),
    };
    tokio::pin!(stop);
    // Reloads run one after the other in their own task, never holding up accepts.
    let reloader = {
        let d = Arc::clone(&daemon);
        tokio::spawn(async move {
            while reload.recv().await.is_some() {
                d.reload().await;
            }
        })
    };
    // A connection slot is taken before accepting, so beyond max_connections clients wait in
    // the listen queue.
    let mut permit = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            p = Arc::clone(&conn_slots).acquire_owned(), if permit.is_none() => {
                match p {
                    Ok(p) => permit = Some(p),
                    Err(_) => break,
                }
            }
            r = async { match &tcp { Some(l) => l.accept().await.map(|(s, _)| s), None => std::future::pending().await } }, if permit.is_some() => {
                match r {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        let (d, rx, p) = (Arc::clone(&daemon), rx.clone(), permit.take());
                        conns.spawn(async move { tcp_connection(s, d, rx).await; drop(p); });
                    }
                    Err(e) => {
                        warn!("tcp accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            r = async { match &unix { Some(l) => l.accept().await.map(|(s, _)| s), None => std::future::pending().await } }, if permit.is_some() => {
                match r {
                    Ok(s) => {
                        let (d, rx, p) = (Arc::clone(&daemon), rx.clone(), permit.take());
                        conns.spawn(async move { unix_connection(s, d, rx).await; drop(p); });
                    }
                    Err(e) => {
                        warn!("unix accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    reloader.abort();
    info!(connections = conns.len(), "shutting down");
    let _ = tx.send(true);
    drop(tcp);
    drop(unix);
    if let Some(p) = &unix_path {
        let _ = std::fs::remove_file(p);
    }
    let drained =
        tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!("grace period over; closing the remaining connections");
        conns.abort_all();
    }
    info!("stopped");
}
