//! The `events` driver: one epoll loop over a share of the connections, each with one request
//! in flight. A reply is read when epoll says the socket is readable; the next request of that
//! connection is written at once; the loop sleeps only when no connection has anything to
//! read, so a busy generator costs the daemon no wake-ups.

use std::ops::Range;
use std::sync::Barrier;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rustix::buffer::spare_capacity;
use rustix::event::Timespec;
use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};

use crate::login::{Login, Plan};
use crate::{Args, Conn, Control, IO_TIMEOUT, MAX_ERRORS, ThreadResult, cpid};

/// One connection of the loop.
struct Slot {
    /// The connection's `CPID` (kept for a reconnect).
    cpid: u32,
    conn: Option<Conn>,
    login: Option<Login>,
    t0: Instant,
    done: u64,
}

/// Run the connections `range` until the main thread says stop (or each has done its
/// `--count` share).
pub fn run(
    range: Range<usize>,
    a: &Args,
    plan: &Plan,
    ctl: &Control,
    barrier: &Barrier,
) -> ThreadResult {
    let mut r = ThreadResult::default();
    let ep = epoll::create(CreateFlags::CLOEXEC);
    let mut slots: Vec<Slot> = range
        .map(|i| {
            let conn = match Conn::open(&a.target, cpid(i)) {
                Ok(c) => Some(c),
                Err(e) => {
                    r.errors.push(format!("connect: {e}"));
                    None
                }
            };
            Slot {
                cpid: cpid(i),
                conn,
                login: None,
                t0: Instant::now(),
                done: 0,
            }
        })
        .collect();
    barrier.wait();
    let ep = match ep {
        Ok(ep) => ep,
        Err(e) => {
            r.errors.push(format!("epoll: {e}"));
            return r;
        }
    };
    let limit = ctl.per_conn.unwrap_or(u64::MAX);
    // Connections that failed to open are already counted as errors.
    for (k, slot) in slots
        .iter_mut()
        .enumerate()
        .filter(|(_, s)| s.conn.is_some())
    {
        if let Err(e) = register(&ep, k, slot).and_then(|()| begin(slot, plan, ctl, limit)) {
            close(&ep, slot, e, &mut r);
        }
    }
    let mut evs: Vec<Event> = Vec::with_capacity(slots.len().max(1));
    let tick = Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    let mut quiet_since = Instant::now();
    // Bounded: after the main thread's stop flag (duration) or its --count share, a slot
    // starts no new login, and the loop ends when none is in flight; or after IO_TIMEOUT
    // without any reply. Each turn waits at most 100 ms.
    loop {
        if slots.iter().all(|s| s.login.is_none()) {
            break;
        }
        evs.clear();
        match epoll::wait(&ep, spare_capacity(&mut evs), Some(&tick)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                r.errors.push(format!("epoll_wait: {e}"));
                break;
            }
        }
        if evs.is_empty() {
            if quiet_since.elapsed() > IO_TIMEOUT {
                for slot in slots.iter_mut().filter(|s| s.login.is_some()) {
                    slot.login = None;
                    r.errors.push("read: no reply from the daemon".into());
                }
                break;
            }
            continue;
        }
        quiet_since = Instant::now();
        for ev in &evs {
            let k = ev.data.u64() as usize;
            let Some(slot) = slots.get_mut(k) else {
                continue;
            };
            if let Err(e) = service(slot, plan, ctl, limit, &mut r) {
                close(&ep, slot, e, &mut r);
                if r.errors.len() >= MAX_ERRORS {
                    return r;
                }
                // Reconnect once per error, as Postfix does.
                match Conn::open(&a.target, slot.cpid) {
                    Ok(c) => {
                        slot.conn = Some(c);
                        if let Err(e) =
                            register(&ep, k, slot).and_then(|()| begin(slot, plan, ctl, limit))
                        {
                            close(&ep, slot, e, &mut r);
                        }
                    }
                    Err(e) => r.errors.push(format!("reconnect: {e}")),
                }
            }
        }
    }
    r
}

fn register(ep: &impl std::os::fd::AsFd, k: usize, slot: &mut Slot) -> Result<(), String> {
    let Some(c) = slot.conn.as_ref() else {
        return Err("no connection".into());
    };
    c.s.set_nonblocking(true)
        .map_err(|e| format!("nonblocking: {e}"))?;
    epoll::add(ep, &c.s, EventData::new_u64(k as u64), EventFlags::IN)
        .map_err(|e| format!("epoll_ctl: {e}"))
}

/// Start the slot's next login, unless it has done its share or the run is over. A login
/// in flight is always finished, never abandoned: Dovecot counts a request its client
/// disconnects from as a failure, and its penalty would then hold back the next run.
fn begin(slot: &mut Slot, plan: &Plan, ctl: &Control, limit: u64) -> Result<(), String> {
    if slot.done >= limit || ctl.stop.load(Ordering::Relaxed) {
        return Ok(());
    }
    let Some(c) = slot.conn.as_mut() else {
        return Ok(());
    };
    slot.t0 = Instant::now();
    slot.login = Some(c.begin(plan)?);
    Ok(())
}

/// The slot's socket is readable: read once, act on the whole lines.
fn service(
    slot: &mut Slot,
    plan: &Plan,
    ctl: &Control,
    limit: u64,
    r: &mut ThreadResult,
) -> Result<(), String> {
    let (Some(c), Some(login)) = (slot.conn.as_mut(), slot.login.as_mut()) else {
        return Err("a reply without a request".into());
    };
    match c.lines.fill(&mut c.s) {
        Ok(0) => return Err("read: daemon closed the connection".into()),
        Ok(_) => {}
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            ) =>
        {
            return Ok(());
        }
        Err(e) => return Err(format!("read: {e}")),
    }
    if let Some(o) = c.drain(login)? {
        slot.login = None;
        if ctl.counting() {
            r.record(o, slot.t0);
            slot.done += 1;
        }
        begin(slot, plan, ctl, limit)?;
    }
    Ok(())
}

/// Drop the slot's connection after an error.
fn close(ep: &impl std::os::fd::AsFd, slot: &mut Slot, e: String, r: &mut ThreadResult) {
    if let Some(c) = slot.conn.take() {
        let _ = epoll::delete(ep, &c.s);
    }
    slot.login = None;
    r.errors.push(e);
}
