//! The C ABI fuzz target's body (feature `fuzzing-capi`), and the input reader it uses.
//!
//! Every other fuzz body lives in the `saslmech-fuzz` crate (`fuzz/bodies/`), which drives the
//! engine through its public API only. This one stays in the library until the C ABI
//! redesign lands; `saslmech-fuzz` re-exports it as `saslmech_fuzz::capi` (its `capi`
//! feature). Not part of the library's API: applications never enable `fuzzing-capi`.

pub use crate::fuzzing_capi::capi;

/// The most operations one input may drive (keeps every run short). The same bound as the
/// other fuzz bodies (`saslmech_fuzz::MAX_OPS`).
pub const MAX_OPS: usize = 48;

/// A reader over fuzz input. Reading past the end yields `0` and empty strings. The format is
/// the one of `saslmech_fuzz::Input` (which the seed writer `saslmech_fuzz::Script` writes):
/// keep the two the same.
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
}
