//! Secret-holding buffers and constant-time comparison.
//!
//! Every buffer in the engine that may hold a password, token, digest or decoded client
//! message is a [`SecretBuf`]: it is wiped when dropped or cleared and its `Debug` output shows
//! only its length.

use core::fmt;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// A growable byte buffer that is zeroed on drop and never printed.
///
/// Wiping covers the whole allocation (spare capacity too) and is skipped only when nothing
/// was ever allocated: zeroing an empty `Vec`'s dangling pointer costs a masked store that
/// some CPUs handle with a slow microcode assist, which dominated a PLAIN handshake.
#[derive(Clone, Default)]
pub struct SecretBuf(Vec<u8>);

impl Drop for SecretBuf {
    fn drop(&mut self) {
        self.clear();
    }
}

impl SecretBuf {
    /// An empty buffer (no allocation).
    pub const fn new() -> Self {
        SecretBuf(Vec::new())
    }

    /// An empty buffer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        SecretBuf(Vec::with_capacity(n))
    }

    /// A copy of `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut b = Self::with_capacity(bytes.len());
        b.extend(bytes);
        b
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Wipe the contents (capacity is kept, and the old bytes are zeroed first).
    pub fn clear(&mut self) {
        if self.0.capacity() != 0 {
            // Slices are wiped in bulk (a fill, then an optimisation barrier); `Vec::zeroize`
            // writes byte by byte.
            self.0.as_mut_slice().zeroize();
            self.0.spare_capacity_mut().zeroize();
            self.0.clear();
        }
    }

    /// Append bytes. If the buffer must grow, the old allocation is wiped before it is freed.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    /// Append one byte (wiping on growth like [`SecretBuf::extend`]).
    pub fn push(&mut self, byte: u8) {
        self.reserve(1);
        self.0.push(byte);
    }

    /// Ensure room for `additional` more bytes without leaving a copy behind in freed memory.
    pub fn reserve(&mut self, additional: usize) {
        let needed = self.0.len().saturating_add(additional);
        if needed > self.0.capacity() {
            let mut grown = Vec::with_capacity(needed.max(self.0.capacity().saturating_mul(2)));
            grown.extend_from_slice(&self.0);
            // The old allocation is wiped as its SecretBuf is dropped here.
            drop(SecretBuf(core::mem::replace(&mut self.0, grown)));
        }
    }

    /// Append `n` in decimal.
    pub(crate) fn extend_decimal(&mut self, n: u32) {
        let mut digits = [0u8; 10];
        let mut at = digits.len();
        let mut n = n;
        while let Some(d) = at.checked_sub(1).and_then(|i| digits.get_mut(i)) {
            *d = b'0' + (n % 10) as u8;
            at -= 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.extend(digits.get(at..).unwrap_or_default());
    }

    /// Keep the first `len` bytes, wiping the rest.
    pub(crate) fn truncate(&mut self, len: usize) {
        if let Some(tail) = self.0.get_mut(len..) {
            tail.zeroize();
        }
        self.0.truncate(len);
    }

    /// Mutable access to the underlying vector for writers that do not grow it past its
    /// reserved capacity (base64 decoding into reserved space).
    pub(crate) fn vec_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBuf({} bytes, redacted)", self.0.len())
    }
}

/// A string that is wiped on drop and never printed: for decoded client messages that are
/// UTF-8 as a whole, so that identities can be sliced from them without validating again.
#[derive(Clone, Default)]
pub(crate) struct SecretStr(String);

impl SecretStr {
    pub(crate) fn from_str(s: &str) -> Self {
        SecretStr(s.to_owned())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretStr {
    fn drop(&mut self) {
        // As for SecretBuf: never touch the dangling pointer of an empty string.
        if self.0.capacity() != 0 {
            // Wiped as bytes, in bulk, like SecretBuf (the string is not used again).
            let mut bytes = core::mem::take(&mut self.0).into_bytes();
            bytes.as_mut_slice().zeroize();
            bytes.spare_capacity_mut().zeroize();
        }
    }
}

impl fmt::Debug for SecretStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretStr({} bytes, redacted)", self.0.len())
    }
}

/// Constant-time equality of two byte strings of the same public length.
///
/// Use this for fixed-size values (digests, proofs): when the lengths differ the result is
/// `false` immediately, which reveals only the (public) lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    // The OR of all differences, then one constant-time test of it: no branch on the data,
    // and one optimisation barrier instead of one per byte.
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    a.len() == b.len() && bool::from(diff.ct_eq(&0))
}

/// Constant-time comparison of a password the client sent with the one the application
/// stores.
///
/// The time taken depends neither on the contents of either password (nor on where they
/// differ) nor on the stored password's length, beyond whether it is longer than 64 bytes.
/// Passwords of up to 64 bytes are compared over a fixed 64-byte window, each side read as if
/// zero-padded, with the lengths compared in constant time; longer ones are hashed with
/// SHA-256 first, as before (the time then depends on their number of 64-byte blocks).
pub fn ct_eq_password(given: &[u8], stored: &[u8]) -> bool {
    if given.len() <= PASSWORD_WINDOW && stored.len() <= PASSWORD_WINDOW {
        return ct_eq_padded(given, stored);
    }
    let a: [u8; 32] = Sha256::digest(given).into();
    let b: [u8; 32] = Sha256::digest(stored).into();
    let r = bool::from(a.ct_eq(&b));
    let (mut a, mut b) = (a, b);
    a.zeroize();
    b.zeroize();
    r
}

/// The window [`ct_eq_password`] compares without hashing.
const PASSWORD_WINDOW: usize = 64;

/// Equality of two strings of at most [`PASSWORD_WINDOW`] bytes: each is copied into a
/// zeroed 64-byte block, the blocks are compared whole (no branch on the data, the same work
/// whatever the lengths), then wiped.
#[inline]
fn ct_eq_padded(a: &[u8], b: &[u8]) -> bool {
    let mut x = [0u8; PASSWORD_WINDOW];
    let mut y = [0u8; PASSWORD_WINDOW];
    if let (Some(dx), Some(dy)) = (x.get_mut(..a.len()), y.get_mut(..b.len())) {
        dx.copy_from_slice(a);
        dy.copy_from_slice(b);
    }
    let diff = x.iter().zip(y.iter()).fold(0u8, |d, (p, q)| d | (p ^ q));
    x.as_mut_slice().zeroize();
    y.as_mut_slice().zeroize();
    // Zero padding hides a length difference only when one side ends in NULs: compare the
    // lengths too, in constant time.
    let same_len = (a.len() as u64).ct_eq(&(b.len() as u64));
    bool::from(diff.ct_eq(&0) & same_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
        assert!(ct_eq_password(b"pw", b"pw"));
        assert!(!ct_eq_password(b"pw", b"pw2"));
        assert!(!ct_eq_password(b"", b"x"));
        assert!(ct_eq_password(b"", b""));
        // Zero padding must not make a NUL-extended password equal.
        assert!(!ct_eq_password(b"pw\0", b"pw"));
        assert!(!ct_eq_password(b"pw", b"pw\0"));
        // At, across and beyond the window.
        let long = [b'x'; 200];
        for n in [63, 64, 65, 128, 200] {
            let (a, b) = (&long[..n], &long[..n]);
            assert!(ct_eq_password(a, b), "{n}");
            assert!(!ct_eq_password(a, &long[..n - 1]), "{n}");
            let mut c = a.to_vec();
            c[n - 1] = b'y';
            assert!(!ct_eq_password(a, &c), "{n}");
            c[n - 1] = b'x';
            c[0] = b'y';
            assert!(!ct_eq_password(a, &c), "{n}");
        }
    }

    #[test]
    fn buf_grows_and_redacts() {
        let mut b = SecretBuf::new();
        for i in 0..100u8 {
            b.push(i);
        }
        b.extend(b"xyz");
        assert_eq!(b.len(), 103);
        assert_eq!(&b.as_slice()[100..], b"xyz");
        assert_eq!(format!("{b:?}"), "SecretBuf(103 bytes, redacted)");
        b.clear();
        assert!(b.is_empty());
        for n in [0u32, 7, 10, 4096, 65535, u32::MAX] {
            let mut b = SecretBuf::new();
            b.extend_decimal(n);
            assert_eq!(b.as_slice(), n.to_string().as_bytes());
        }
    }
}
