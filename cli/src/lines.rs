//! The line protocol's framing: one base64 token a line, `\n` or `\r\n`, bounded.

use std::io::{self, BufRead, Write};

use saslmech::SecretBuf;

/// Longest line accepted: the base64 of the engine's largest message (64 KiB) with room to
/// spare.
pub const MAX_LINE: usize = 128 * 1024;

/// Why a line could not be read.
#[derive(Debug)]
pub enum LineError {
    /// Longer than [`MAX_LINE`].
    TooLong,
    /// Reading failed.
    Io(io::Error),
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineError::TooLong => write!(f, "input line longer than {MAX_LINE} octets"),
            LineError::Io(e) => write!(f, "reading standard input: {e}"),
        }
    }
}

/// Read the next line into `line` (wiped and replaced), without its line ending. Returns
/// `Ok(false)` at end of input. A last line without a newline still counts as a line.
pub fn read_line<R: BufRead>(input: &mut R, line: &mut SecretBuf) -> Result<bool, LineError> {
    line.clear();
    let mut any = false;
    loop {
        let chunk = match input.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LineError::Io(e)),
        };
        if chunk.is_empty() {
            // End of input.
            break;
        }
        any = true;
        let (part, used, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (chunk.get(..i).unwrap_or_default(), i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        if line.len().saturating_add(part.len()) > MAX_LINE {
            return Err(LineError::TooLong);
        }
        line.extend(part);
        input.consume(used);
        if done {
            break;
        }
    }
    if line.as_slice().last() == Some(&b'\r') {
        let trimmed = SecretBuf::from_slice(
            line.as_slice()
                .get(..line.len().saturating_sub(1))
                .unwrap_or_default(),
        );
        // The old buffer is wiped when dropped.
        *line = trimmed;
    }
    Ok(any)
}

/// Write one line and flush it (the peer waits for it).
pub fn write_line<W: Write>(output: &mut W, token: &[u8]) -> io::Result<()> {
    output.write_all(token)?;
    output.write_all(b"\n")?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Vec<u8>> {
        // A one-byte buffer exercises lines split across reads.
        let mut r = io::BufReader::with_capacity(1, input);
        let mut out = Vec::new();
        let mut line = SecretBuf::new();
        while read_line(&mut r, &mut line).unwrap() {
            out.push(line.as_slice().to_vec());
        }
        out
    }

    #[test]
    fn framing() {
        assert_eq!(lines(b""), Vec::<Vec<u8>>::new());
        assert_eq!(lines(b"\n"), [b"".to_vec()]);
        assert_eq!(lines(b"\n\n"), [b"".to_vec(), b"".to_vec()]);
        assert_eq!(lines(b"abc\r\nde\n"), [b"abc".to_vec(), b"de".to_vec()]);
        assert_eq!(
            lines(b"abc\r\n\r\nx"),
            [b"abc".to_vec(), b"".to_vec(), b"x".to_vec()]
        );
        // Only one carriage return is a line ending.
        assert_eq!(lines(b"a\r\r\n"), [b"a\r".to_vec()]);
    }

    #[test]
    fn long_lines_are_refused() {
        let mut ok = vec![b'A'; MAX_LINE];
        ok.push(b'\n');
        assert_eq!(lines(&ok).len(), 1);
        let long = vec![b'A'; MAX_LINE + 1];
        let mut r = io::BufReader::new(&long[..]);
        let mut line = SecretBuf::new();
        assert!(matches!(
            read_line(&mut r, &mut line),
            Err(LineError::TooLong)
        ));
    }

    #[test]
    fn writes_a_line() {
        let mut out = Vec::new();
        write_line(&mut out, b"dGVzdA==").unwrap();
        write_line(&mut out, b"").unwrap();
        assert_eq!(out, b"dGVzdA==\n\n");
    }
}
