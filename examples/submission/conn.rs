//! Connections: the plain or TLS stream, the CRLF line reader and its deadlines.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::MAX_LINE;
use crate::session::Shared;

pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    Closed,
}

impl Stream {
    /// The TCP socket under the stream, if it is still there.
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Tls(s) => Some(&s.sock),
            Stream::Closed => None,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Closed => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Closed => Ok(()),
        }
    }
}

/// Why a connection is being ended by the server (carried in an `io::Error`).
#[derive(Debug)]
pub(crate) enum Abort {
    /// A line, the TLS handshake or the session took longer than allowed.
    Timeout,
    /// A line ended in a bare LF.
    BareLf,
}

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Abort::Timeout => "timeout exceeded",
            Abort::BareLf => "bare <LF> received",
        })
    }
}

impl std::error::Error for Abort {}

fn abort(why: Abort) -> io::Error {
    io::Error::other(why)
}

/// The `Abort` an error carries, if it is one.
pub(crate) fn aborted(e: &io::Error) -> Option<&Abort> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Abort>())
}

/// A line from the client, without its CRLF.
pub(crate) struct Line {
    /// The line, cut at `MAX_LINE + 1` octets.
    pub(crate) bytes: Vec<u8>,
    /// It was longer than `MAX_LINE` (the rest was read and dropped).
    pub(crate) overlong: bool,
}

/// A connection with a bounded line reader and deadlines.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    pub(crate) buf: Vec<u8>,
    /// While discarding an over-long line: its last dropped octet was a CR.
    pub(crate) prev_cr: bool,
    pub(crate) shared: Arc<Shared>,
    /// When the connection was accepted.
    pub(crate) started: Instant,
}

impl Conn {
    /// When something that began at `since` (waiting for a line, a TLS handshake) must be
    /// done: the command time from then, or the end of the session if sooner. Asked again at
    /// each wake-up, so that a table that fills up shortens the wait of those already waiting.
    fn deadline(&self, since: Instant) -> Instant {
        let limits = &self.shared.limits;
        let (command, session) = if self.shared.stressed.load(Ordering::Acquire) {
            (limits.stress_command, limits.stress_session)
        } else {
            (limits.command, limits.session)
        };
        (since + command).min(self.started + session)
    }

    /// How long to wait now for something that began at `since` (at most a second, so that
    /// stress is noticed); `Abort::Timeout` once the deadline has passed.
    pub(crate) fn wait(&self, since: Instant) -> io::Result<Duration> {
        let deadline = self.deadline(since);
        let now = Instant::now();
        if now >= deadline {
            return Err(abort(Abort::Timeout));
        }
        Ok((deadline - now).clamp(Duration::from_millis(1), Duration::from_secs(1)))
    }

    /// The next line; `None` at end of stream. A line must end in CRLF (a bare LF is
    /// `Abort::BareLf`) and arrive whole within the command time (`Abort::Timeout`). An
    /// over-long line is cut at `MAX_LINE + 1` octets and the rest read and dropped.
    pub(crate) fn read_line(&mut self) -> io::Result<Option<Line>> {
        let since = Instant::now();
        let mut kept: Option<Vec<u8>> = None;
        let mut scanned = 0;
        loop {
            if let Some(i) = self.buf[scanned..].iter().position(|b| *b == b'\n') {
                let i = scanned + i;
                let cr = match i {
                    0 => kept.is_some() && self.prev_cr,
                    _ => self.buf[i - 1] == b'\r',
                };
                if !cr {
                    return Err(abort(Abort::BareLf));
                }
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.truncate(i.saturating_sub(1));
                self.prev_cr = false;
                return Ok(Some(match kept {
                    Some(bytes) => Line {
                        bytes,
                        overlong: true,
                    },
                    None => Line {
                        bytes: line,
                        overlong: false,
                    },
                }));
            }
            if self.buf.len() > MAX_LINE {
                if kept.is_none() {
                    kept = Some(self.buf[..=MAX_LINE].to_vec());
                }
                self.prev_cr = self.buf.last() == Some(&b'\r');
                self.buf.clear();
            }
            scanned = self.buf.len();
            let mut chunk = [0u8; 4096];
            let n = loop {
                let wait = self.wait(since)?;
                if let Some(tcp) = self.stream.tcp() {
                    tcp.set_read_timeout(Some(wait))?;
                }
                match self.stream.read(&mut chunk) {
                    Ok(n) => break n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        // A client that does not read its replies has the command time to take them.
        let wait = self
            .deadline(Instant::now())
            .saturating_duration_since(Instant::now());
        if let Some(tcp) = self.stream.tcp() {
            tcp.set_write_timeout(Some(wait.max(Duration::from_millis(1))))?;
        }
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    pub(crate) fn reply(&mut self, text: &str) -> io::Result<()> {
        self.send(format!("{text}\r\n").as_bytes())
    }

    /// Close: stop sending, then read (briefly, boundedly) what the client still sends, so
    /// that closing with unread input does not reset the connection before the client has
    /// read the last reply.
    pub(crate) fn close(&mut self) {
        if let Some(tcp) = self.stream.tcp() {
            let _ = tcp.shutdown(std::net::Shutdown::Write);
            let _ = tcp.set_read_timeout(Some(Duration::from_millis(200)));
            let mut sink = [0u8; 4096];
            let mut raw = tcp;
            for _ in 0..16 {
                match raw.read(&mut sink) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        self.stream = Stream::Closed;
    }
}
