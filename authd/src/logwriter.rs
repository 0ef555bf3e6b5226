//! A batching stderr writer for the log: formatted lines are appended to a shared buffer and a
//! dedicated thread writes them out every few milliseconds (or sooner when much has gathered),
//! so a login costs a memory copy instead of a `write` system call on the event loop. Lines are
//! never split or reordered; [`Flusher`] writes out what is left when dropped.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often the thread writes out.
const INTERVAL: Duration = Duration::from_millis(5);
/// Wake the thread at once beyond this many buffered bytes.
const HIGH_WATER: usize = 64 * 1024;
/// Buffer capacity kept between writes; more is freed after each write.
const KEEP: usize = 2 * HIGH_WATER;
/// Beyond this many buffered bytes (stderr blocked), new lines are dropped and counted.
const LIMIT: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Shared {
    buf: Mutex<Inner>,
    wake: Condvar,
}

#[derive(Default)]
struct Inner {
    data: Vec<u8>,
    dropped: u64,
    stop: bool,
}

/// The `MakeWriter` for tracing-subscriber.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Owns the writer thread; dropping it writes out everything and stops the thread.
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One event's writer: collects the formatted line, hands it over when dropped.
pub struct LineWriter {
    shared: Arc<Shared>,
    line: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // tracing-subscriber hands over each formatted line in one call: append a whole line
        // straight to the shared buffer, without a copy of our own.
        if self.line.is_empty() && buf.ends_with(b"\n") {
            self.shared.append(buf);
        } else {
            self.line.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    /// Append complete lines (or count them as dropped beyond [`LIMIT`]).
    fn append(&self, lines: &[u8]) {
        let mut inner = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        if inner.data.len().saturating_add(lines.len()) > LIMIT {
            inner.dropped = inner.dropped.saturating_add(1);
            return;
        }
        inner.data.extend_from_slice(lines);
        if inner.data.len() >= HIGH_WATER {
            self.wake.notify_one();
        }
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.line.is_empty() {
            self.shared.append(&self.line);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: Arc::clone(&self.shared),
            line: Vec::new(),
        }
    }
}

fn write_out(data: &[u8], dropped: u64) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(data);
    if dropped > 0 {
        let _ = writeln!(err, "WARN log: {dropped} lines dropped (stderr blocked)");
    }
    let _ = err.flush();
}

/// Start the writer thread. Keep the [`Flusher`] alive as long as the program logs.
pub fn start() -> std::io::Result<(BatchWriter, Flusher)> {
    let shared = Arc::new(Shared::default());
    let s = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("authd-log".into())
        .spawn(move || {
            let mut spare = Vec::new();
            loop {
                let (stop, dropped) = {
                    let guard = s.buf.lock().unwrap_or_else(|e| e.into_inner());
                    let (mut inner, _) = s
                        .wake
                        .wait_timeout_while(guard, INTERVAL, |i| {
                            !i.stop && i.data.len() < HIGH_WATER
                        })
                        .unwrap_or_else(|e| e.into_inner());
                    std::mem::swap(&mut inner.data, &mut spare);
                    (inner.stop, std::mem::take(&mut inner.dropped))
                };
                if !spare.is_empty() || dropped > 0 {
                    write_out(&spare, dropped);
                    spare.clear();
                }
                // A burst (or a stall of this thread) grows the buffers up to LIMIT; give that
                // memory back instead of keeping it for the life of the process.
                if spare.capacity() > KEEP {
                    spare.shrink_to(KEEP);
                }
                if stop {
                    break;
                }
            }
        })?;
    Ok((
        BatchWriter {
            shared: Arc::clone(&shared),
        },
        Flusher {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Drop for Flusher {
    fn drop(&mut self) {
        {
            let mut inner = self.shared.buf.lock().unwrap_or_else(|e| e.into_inner());
            inner.stop = true;
        }
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
