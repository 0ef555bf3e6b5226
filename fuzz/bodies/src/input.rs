//! The input reader ([`Input`]) every body decodes its bytes with, and the writer
//! ([`Script`]) the seeds and tests encode inputs with.

use crate::*;

/// A reader over fuzz input. Reading past the end yields `0` and empty strings.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Read from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One byte (0 at the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// A byte string: a length (one byte below 0x80, else two bytes, 15 bits big-endian),
    /// then that many bytes (fewer if the input ends first).
    pub fn bytes(&mut self) -> &'a [u8] {
        let first = usize::from(self.byte());
        let len = if first < 0x80 {
            first
        } else {
            ((first & 0x7f) << 8) | usize::from(self.byte())
        };
        let (head, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A byte string as text: its longest valid UTF-8 prefix.
    pub fn text(&mut self) -> &'a str {
        utf8_prefix(self.bytes())
    }

    /// A byte string repeated to a length given by two more bytes (times 16), at most
    /// [`MAX_BIG`]: cheap way to reach the size limits.
    pub fn big(&mut self) -> Vec<u8> {
        let unit = self.bytes();
        let n = (usize::from(self.byte()) << 8 | usize::from(self.byte())) * 16;
        let n = n.min(MAX_BIG);
        if unit.is_empty() {
            return vec![b'A'; n];
        }
        unit.iter().copied().cycle().take(n).collect()
    }
}

pub(crate) fn utf8_prefix(b: &[u8]) -> &str {
    match core::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) => b
            .get(..e.valid_up_to())
            .and_then(|p| core::str::from_utf8(p).ok())
            .unwrap_or_default(),
    }
}

/// Writes inputs in the format [`Input`] reads: for seed corpora and tests.
#[derive(Clone, Debug, Default)]
pub struct Script(Vec<u8>);

impl Script {
    /// An empty script.
    pub fn new() -> Self {
        Script(Vec::new())
    }
    /// Append one byte: a number, or an operation (`ServerOperation::Step`, ...).
    pub fn byte(mut self, b: impl Into<u8>) -> Self {
        self.0.push(b.into());
        self
    }
    /// Append a length-prefixed byte string (at most 32767 bytes; longer ones are cut).
    pub fn bytes(mut self, b: &[u8]) -> Self {
        let b = b.get(..b.len().min(0x7fff)).unwrap_or_default();
        let len = b.len();
        if len < 0x80 {
            self.0.push(len as u8);
        } else {
            self.0.push(0x80 | (len >> 8) as u8);
            self.0.push((len & 0xff) as u8);
        }
        self.0.extend_from_slice(b);
        self
    }
    /// Append an operation byte and a byte string.
    pub fn operation(self, operation: impl Into<u8>, b: &[u8]) -> Self {
        self.byte(operation).bytes(b)
    }
    /// The bytes written.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}
