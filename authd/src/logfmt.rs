//! Cheap formatting of log lines, in the same text format as tracing-subscriber's default.
//!
//! The daemon logs one line per login, so formatting that line is part of every login's cost.
//! tracing-subscriber's defaults spend most of it on ANSI styling calls (even with ANSI off),
//! `Debug` escaping character by character, floating-point printing and a calendar computation
//! per timestamp. [`Fields`] and [`Time`] write the same text with plain string copies:
//!
//! * fields as `name=value`, separated by one space, after the message; a string is quoted;
//!   one made only of printable ASCII without `"` or `\` is copied as is, anything else is
//!   escaped exactly as `{:?}` does (so a user name can never start a new log line);
//! * the message is written with every control character escaped (`\n`, `\x1b`, …);
//! * the timestamp is RFC 3339 in UTC with microseconds (`2026-12-07T22:45:33.519105Z`), the
//!   date and time of day computed once per second per thread.
//!
//! ```
//! use saslmech_authd::logfmt::{Fields, Time};
//! let _subscriber = tracing_subscriber::fmt()
//!     .with_ansi(false)
//!     .fmt_fields(Fields)
//!     .with_timer(Time)
//!     .finish();
//! ```

use std::cell::Cell;
use std::fmt::{self, Write};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// The field formatter (`fmt_fields`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fields;

/// The visitor [`Fields`] makes for one event.
#[derive(Debug)]
pub struct Visitor<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

impl<'a> MakeVisitor<Writer<'a>> for Fields {
    type Visitor = Visitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> Visitor<'a> {
        Visitor {
            writer,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// A short piece of a line put together on the stack, then written with one call (each call
/// on the subscriber's writer goes through two dynamic dispatches).
struct Piece {
    buf: [u8; 160],
    len: usize,
}

impl Piece {
    fn new() -> Piece {
        Piece {
            buf: [0; 160],
            len: 0,
        }
    }

    /// Append `bytes`; `false` (and nothing appended) if they do not fit.
    fn push(&mut self, bytes: &[u8]) -> bool {
        let end = self.len.saturating_add(bytes.len());
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
                true
            }
            None => false,
        }
    }

    /// Append `n` in decimal.
    fn push_u64(&mut self, n: u64) -> bool {
        let mut digits = [0u8; 20];
        let text = u64_digits(n, &mut digits);
        self.push(text)
    }

    fn write_to(&self, w: &mut dyn Write) -> fmt::Result {
        // Only whole `str`s and ASCII were pushed.
        w.write_str(
            std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default(),
        )
    }
}

/// `n` in decimal, in the tail of `buf`.
fn u64_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.get(i..).unwrap_or_default()
}

/// Write `n` in decimal.
fn write_u64(w: &mut dyn Write, n: u64) -> fmt::Result {
    let mut buf = [0u8; 20];
    // Only ASCII digits were written.
    w.write_str(std::str::from_utf8(u64_digits(n, &mut buf)).unwrap_or_default())
}

/// True if `s` needs no escaping inside double quotes.
fn is_plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// Write `s` quoted, escaped as `{:?}` escapes it.
fn write_quoted(w: &mut dyn Write, s: &str) -> fmt::Result {
    if is_plain(s) {
        w.write_char('"')?;
        w.write_str(s)?;
        w.write_char('"')
    } else {
        write!(w, "{s:?}")
    }
}

/// A `fmt::Write` that escapes control characters (C0, DEL, C1) as it copies.
struct Escaping<'w, 'a>(&'w mut Writer<'a>);

impl Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !s.chars().any(needs_escape) {
            return self.0.write_str(s);
        }
        for c in s.chars() {
            if needs_escape(c) {
                write!(self.0, "{}", c.escape_default())?;
            } else {
                self.0.write_char(c)?;
            }
        }
        Ok(())
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control()
}

impl Visitor<'_> {
    /// A space before every field but the first; `false` once a write failed.
    fn begin(&mut self) -> bool {
        if self.result.is_err() {
            return false;
        }
        if self.is_empty {
            self.is_empty = false;
        } else {
            self.result = self.writer.write_char(' ');
        }
        self.result.is_ok()
    }

    fn name(&mut self, field: &Field) -> fmt::Result {
        let name = field.name();
        self.writer
            .write_str(name.strip_prefix("r#").unwrap_or(name))?;
        self.writer.write_char('=')
    }
}

impl Visitor<'_> {
    /// The common case in one write: ` name="value"` (plain string) or ` name=123`.
    fn fast(&mut self, field: &Field, value: Result<&str, u64>) -> bool {
        if self.result.is_err() {
            return true;
        }
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        let mut p = Piece::new();
        let ok = (self.is_empty || p.push(b" "))
            && p.push(name.as_bytes())
            && p.push(b"=")
            && match value {
                Ok(text) => {
                    is_plain(text) && p.push(b"\"") && p.push(text.as_bytes()) && p.push(b"\"")
                }
                Err(n) => p.push_u64(n),
            };
        if ok {
            self.is_empty = false;
            self.result = p.write_to(&mut self.writer);
        }
        ok
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() != "message" && self.fast(field, Ok(value)) {
            return;
        }
        if !self.begin() {
            return;
        }
        self.result = if field.name() == "message" {
            Escaping(&mut self.writer).write_str(value)
        } else {
            self.name(field)
                .and_then(|()| write_quoted(&mut self.writer, value))
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.fast(field, Err(value)) {
            return;
        }
        if !self.begin() {
            return;
        }
        self.result = self
            .name(field)
            .and_then(|()| write_u64(&mut self.writer, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.begin() {
            return;
        }
        self.result = self.name(field).and_then(|()| {
            if value < 0 {
                self.writer.write_char('-')?;
            }
            write_u64(&mut self.writer, value.unsigned_abs())
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if !self.begin() {
            return;
        }
        self.result = self
            .name(field)
            .and_then(|()| self.writer.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.begin() {
            return;
        }
        self.result = if field.name() == "message" {
            write!(Escaping(&mut self.writer), "{value:?}")
        } else {
            self.name(field)
                .and_then(|()| write!(self.writer, "{value:?}"))
        };
    }
}

impl VisitOutput<fmt::Result> for Visitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for Visitor<'_> {
    fn writer(&mut self) -> &mut dyn Write {
        &mut self.writer
    }
}

/// A value logged as a quoted string without an allocation: an IP address
/// (`rip="192.0.2.7"`), or `"-"` for none.
#[derive(Clone, Copy, Debug)]
pub struct QuotedIp(pub Option<IpAddr>);

impl fmt::Display for QuotedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(IpAddr::V4(v4)) => {
                let mut p = Piece::new();
                p.push(b"\"");
                for (i, o) in v4.octets().iter().enumerate() {
                    if i > 0 {
                        p.push(b".");
                    }
                    p.push_u64(u64::from(*o));
                }
                p.push(b"\"");
                p.write_to(f)
            }
            Some(ip @ IpAddr::V6(_)) => write!(f, "\"{ip}\""),
            None => f.write_str("\"-\""),
        }
    }
}

/// A duration logged in milliseconds with three decimals (`duration_ms=0.305`).
#[derive(Clone, Copy, Debug)]
pub struct Millis(pub Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = u64::try_from(self.0.as_micros()).unwrap_or(u64::MAX);
        let mut p = Piece::new();
        p.push_u64(us / 1000);
        let frac = us % 1000;
        let mut digits = *b".000";
        let mut v = frac;
        for d in digits.iter_mut().skip(1).rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        p.push(&digits);
        p.write_to(f)
    }
}

/// The timer (`with_timer`): RFC 3339 UTC with microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Time;

/// `YYYY-MM-DDTHH:MM:SS` for `secs` since the epoch (UTC).
fn civil(secs: u64) -> [u8; 19] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil, for days since 1970-01-01 (non-negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            if let Some(b) = out.get_mut(i) {
                *b = b'0' + (v % 10) as u8;
            }
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, rem / 3600);
    put(14, 2, rem % 3600 / 60);
    put(17, 2, rem % 60);
    out
}

thread_local! {
    /// The last second formatted on this thread.
    static LAST: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

fn format_at(w: &mut dyn Write, now: Duration) -> fmt::Result {
    let secs = now.as_secs();
    let text = LAST.with(|last| {
        let (s, text) = last.get();
        if s == secs {
            text
        } else {
            let text = civil(secs);
            last.set((secs, text));
            text
        }
    });
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    if let Some(head) = out.get_mut(..19) {
        head.copy_from_slice(&text);
    }
    let mut v = u64::from(now.subsec_micros());
    for d in out.iter_mut().take(26).skip(20).rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    w.write_str(std::str::from_utf8(&out).unwrap_or("0000-00-00T00:00:00.000000Z"))
}

impl FormatTime for Time {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format_at(w, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_rfc3339() {
        let mut s = String::new();
        format_at(&mut s, Duration::new(0, 0)).unwrap();
        assert_eq!(s, "1970-01-01T00:00:00.000000Z");
        s.clear();
        // 2026-12-07T22:45:33.519105Z
        format_at(&mut s, Duration::new(1_796_683_533, 519_105_999)).unwrap();
        assert_eq!(s, "2026-12-07T22:45:33.519105Z");
        s.clear();
        // A leap day, and the cache holding another second.
        format_at(&mut s, Duration::new(951_782_400, 1_000)).unwrap();
        assert_eq!(s, "2000-02-29T00:00:00.000001Z");
        s.clear();
        format_at(&mut s, Duration::new(4_102_444_799, 999_999_000)).unwrap();
        assert_eq!(s, "2099-12-31T23:59:59.999999Z");
    }

    #[test]
    fn quoting_matches_debug() {
        for v in [
            "",
            "alice@example.com",
            "a\"b",
            "a\\b",
            "a\nINFO fake",
            "é",
            "\x1b[31m",
        ] {
            let mut s = String::new();
            write_quoted(&mut s, v).unwrap();
            assert_eq!(s, format!("{v:?}"), "{v:?}");
        }
    }

    #[test]
    fn numbers_addresses_and_durations() {
        let mut s = String::new();
        for n in [0, 7, 10, 4_294_967_295, u64::MAX] {
            s.clear();
            write_u64(&mut s, n).unwrap();
            assert_eq!(s, n.to_string());
        }
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(QuotedIp(Some(v4)).to_string(), "\"192.0.2.7\"");
        assert_eq!(QuotedIp(Some(v6)).to_string(), "\"2001:db8::1\"");
        assert_eq!(QuotedIp(None).to_string(), "\"-\"");
        assert_eq!(Millis(Duration::from_micros(305)).to_string(), "0.305");
        assert_eq!(
            Millis(Duration::from_micros(1_002_030)).to_string(),
            "1002.030"
        );
        assert_eq!(Millis(Duration::from_micros(7)).to_string(), "0.007");
    }

    #[test]
    fn lines_look_like_the_default_format() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let sink = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_target(false)
            .fmt_fields(Fields)
            .with_timer(Time)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(sub, || {
            tracing::info!(
                conn = 3u64,
                id = 2u32,
                service = "smtp",
                user = "a\nINFO forged",
                rip = %QuotedIp("192.0.2.7".parse().ok()),
                ok = true,
                delta = -4i64,
                duration_ms = %Millis(Duration::from_micros(210)),
                "login"
            );
            tracing::warn!("closing connection: {}", "bad\x1b[0m\r\nline");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let (ts, rest) = lines[0].split_at(27);
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
        assert_eq!(
            rest,
            "  INFO login conn=3 id=2 service=\"smtp\" user=\"a\\nINFO forged\" \
             rip=\"192.0.2.7\" ok=true delta=-4 duration_ms=0.210"
        );
        assert!(
            lines[1].ends_with(" WARN closing connection: bad\\u{1b}[0m\\r\\nline"),
            "{}",
            lines[1]
        );
    }
}
