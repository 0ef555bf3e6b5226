//! Nonces: where they come from ([`NonceSource`]), the one pool of OS randomness they are
//! drawn from, and the nonce a session gets ([`Nonce`]).
//!
//! The pool is filled 512 bytes at a time (one `getrandom` call per ~28 sessions instead of
//! one each), wipes the bytes it hands out, and is discarded when the process id changes, so a
//! forked child never reuses its parent's nonces. A [`ServerConfig`](crate::ServerConfig)
//! owns one behind a lock ([`SharedPool`]); clients, which have no shared configuration, draw
//! from one per thread. Both are the same [`RandomPool`].

use core::fmt;

use crate::error::Failure;
use crate::secret::SecretBuf;

/// Where a server's random nonces come from.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum NonceSource {
    /// The operating system's random number generator (the default). Bytes are fetched 512 at
    /// a time into a pool owned by the [`ServerConfig`](crate::ServerConfig) (clients: one pool
    /// per thread; one `getrandom` call per ~28
    /// sessions instead of one each); the pool is discarded if the process id changes, so a
    /// forked child never reuses its parent's nonces.
    #[default]
    Os,
    /// Use these bytes verbatim as the nonce, for every session. Only for tests and RFC
    /// vectors: a fixed nonce makes CRAM-MD5 replayable.
    Fixed(Vec<u8>),
    /// Fill the buffer with random bytes; return `false` if no randomness is available.
    Function(fn(&mut [u8]) -> bool),
}

impl fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NonceSource::Os => f.write_str("Os"),
            NonceSource::Fixed(v) => write!(f, "Fixed({} bytes)", v.len()),
            NonceSource::Function(_) => f.write_str("Function"),
        }
    }
}

impl NonceSource {
    /// An 18-byte nonce for a server session: from `pool` when the source is the OS.
    pub(crate) fn server_nonce<'a>(&'a self, pool: &SharedPool) -> Result<Nonce<'a>, Failure> {
        self.nonce_with(|buf| {
            let mut guard = pool.0.lock().unwrap_or_else(|e| e.into_inner());
            guard.get_or_insert_with(RandomPool::new).take(buf)
        })
    }

    /// An 18-byte nonce for a client session: from this thread's pool when the source is the
    /// OS.
    pub(crate) fn client_nonce(&self) -> Result<Nonce<'_>, Failure> {
        std::thread_local! {
            static POOL: core::cell::RefCell<RandomPool> =
                const { core::cell::RefCell::new(RandomPool::new()) };
        }
        self.nonce_with(|buf| {
            POOL.with(|pool| match pool.try_borrow_mut() {
                Ok(mut pool) => pool.take(buf),
                Err(_) => getrandom::fill(buf).is_ok(),
            })
        })
    }

    fn nonce_with(&self, os: impl FnOnce(&mut [u8]) -> bool) -> Result<Nonce<'_>, Failure> {
        let mut buf = [0u8; 18];
        let ok = match self {
            NonceSource::Fixed(v) => return Ok(Nonce::Fixed(v)),
            NonceSource::Os => os(&mut buf),
            NonceSource::Function(f) => f(&mut buf),
        };
        if ok {
            Ok(Nonce::Random(buf))
        } else {
            Err(Failure::TemporaryFailure)
        }
    }
}

/// A nonce produced for one session: fixed text, or random bytes that the mechanism encodes.
pub(crate) enum Nonce<'a> {
    Fixed(&'a [u8]),
    Random([u8; 18]),
}

/// Buffered OS randomness (see the module documentation).
pub(crate) struct RandomPool {
    pid: u32,
    pos: usize,
    buf: [u8; 512],
}

impl RandomPool {
    /// An empty pool: the first `take` fills it.
    const fn new() -> RandomPool {
        RandomPool {
            pid: 0,
            pos: 512,
            buf: [0; 512],
        }
    }

    /// Fill `out` from the pool (refilling it first if it is short or the process forked);
    /// `false` if the OS has no randomness to give.
    fn take(&mut self, out: &mut [u8]) -> bool {
        let pid = std::process::id();
        if pid != self.pid || self.pos.saturating_add(out.len()) > self.buf.len() {
            if getrandom::fill(&mut self.buf).is_err() {
                return false;
            }
            self.pid = pid;
            self.pos = 0;
        }
        let end = self.pos.saturating_add(out.len());
        match self.buf.get_mut(self.pos..end) {
            Some(src) => {
                out.copy_from_slice(src);
                // Used bytes are not kept around.
                src.fill(0);
                self.pos = end;
                true
            }
            None => false,
        }
    }
}

/// A [`RandomPool`] behind a lock, so a configuration can be shared by sessions on many
/// threads.
#[derive(Default)]
pub(crate) struct SharedPool(std::sync::Mutex<Option<RandomPool>>);

impl fmt::Debug for SharedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pool")
    }
}

/// 32 random bytes for a secret (SCRAM's fake-salt key, see
/// [`ServerConfig::scram_secret`](crate::ServerConfig::scram_secret)).
pub(crate) fn random_secret() -> SecretBuf {
    let mut buf = [0u8; 32];
    if getrandom::fill(&mut buf).is_err() {
        // No OS randomness now: fall back to the standard library's per-process random keys.
        use std::hash::{BuildHasher, Hasher};
        for chunk in buf.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(chunk.as_ptr() as usize);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    let s = SecretBuf::from_slice(&buf);
    zeroize::Zeroize::zeroize(&mut buf);
    s
}
