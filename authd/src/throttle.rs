//! Per-remote-IP throttling of failed logins: after `max_failures` failures within a window
//! of `window` from one `rip=`, further attempts from it fail without a password check until
//! the window ends. IPv6 addresses count per /64 (one host usually owns a whole /64).
//!
//! The table sits behind a `std` mutex held only for a map operation, never across an await.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most addresses remembered; beyond it, expired windows are dropped, then the table is
/// cleared (an attacker with that many addresses is not stopped by this anyway).
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    failures: u32,
}

/// The throttle table.
#[derive(Debug, Default)]
pub struct Throttle {
    table: Mutex<HashMap<IpAddr, Window>>,
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
        v4 => v4,
    }
}

impl Throttle {
    /// An empty table.
    pub fn new() -> Throttle {
        Throttle::default()
    }

    /// True if `ip` has used up its failures in the current window.
    pub fn is_blocked(
        &self,
        ip: IpAddr,
        max_failures: u32,
        window: Duration,
        now: Instant,
    ) -> bool {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.get(&key(ip)).is_some_and(|w| {
            now.saturating_duration_since(w.start) < window && w.failures >= max_failures
        })
    }

    /// Count one failed login from `ip`.
    pub fn record_failure(&self, ip: IpAddr, window: Duration, now: Instant) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if table.len() >= MAX_ENTRIES {
            table.retain(|_, w| now.saturating_duration_since(w.start) < window);
            if table.len() >= MAX_ENTRIES {
                table.clear();
            }
        }
        let w = table.entry(key(ip)).or_insert(Window {
            start: now,
            failures: 0,
        });
        if now.saturating_duration_since(w.start) >= window {
            *w = Window {
                start: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    /// Addresses remembered (for tests and statistics).
    pub fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True if no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_until_window_ends() {
        let t = Throttle::new();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let w = Duration::from_secs(60);
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(!t.is_blocked(ip, 3, w, t0), "blocked after {i}");
            t.record_failure(ip, w, t0);
        }
        assert!(t.is_blocked(ip, 3, w, t0 + Duration::from_secs(59)));
        assert!(!t.is_blocked(other, 3, w, t0));
        assert!(!t.is_blocked(ip, 3, w, t0 + w));
        // A failure after the window starts a new one.
        t.record_failure(ip, w, t0 + w);
        assert!(!t.is_blocked(ip, 3, w, t0 + w));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_as_v4() {
        let t = Throttle::new();
        let w = Duration::from_secs(60);
        let now = Instant::now();
        t.record_failure("2001:db8::1".parse().unwrap(), w, now);
        t.record_failure("2001:db8::2".parse().unwrap(), w, now);
        assert!(t.is_blocked("2001:db8::ffff".parse().unwrap(), 2, w, now));
        assert!(!t.is_blocked("2001:db8:0:1::1".parse().unwrap(), 2, w, now));
        t.record_failure("::ffff:192.0.2.1".parse().unwrap(), w, now);
        assert!(t.is_blocked("192.0.2.1".parse().unwrap(), 1, w, now));
        assert_eq!(t.len(), 2);
    }
}
