//! CRAM-MD5's stored secret ([`CramMd5Keys`]): the HMAC-MD5 states Dovecot stores as
//! `{CRAM-MD5}`.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::hex;
use crate::crypto::md5;

/// The HMAC-MD5 state after the key's inner and outer pads: all a server needs to check a
/// CRAM-MD5 response, without the password.
///
/// ```
/// use saslmech::CramMd5Keys;
/// let keys = CramMd5Keys::from_password(b"tanstaaftanstaaf");
/// let stored = keys.to_dovecot();
/// assert!(stored.starts_with("{CRAM-MD5}"));
/// assert_eq!(CramMd5Keys::from_dovecot(&stored).unwrap(), keys);
/// ```
///
/// Equality (`==`, [`ConstantTimeEq`](subtle::ConstantTimeEq)) takes the same time wherever
/// two states differ; the stored forms come back in buffers wiped on drop.
#[derive(Clone)]
pub struct CramMd5Keys {
    inner: [u32; 4],
    outer: [u32; 4],
}

impl ConstantTimeEq for CramMd5Keys {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.inner.ct_eq(&other.inner) & self.outer.ct_eq(&other.outer)
    }
}

/// In constant time (no short-circuit on the first differing word).
impl PartialEq for CramMd5Keys {
    fn eq(&self, other: &Self) -> bool {
        bool::from(ConstantTimeEq::ct_eq(self, other))
    }
}

impl Eq for CramMd5Keys {}

impl Drop for CramMd5Keys {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl fmt::Debug for CramMd5Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CramMd5Keys(<redacted>)")
    }
}

impl CramMd5Keys {
    /// Derive the state from a password (keys over 64 bytes are hashed first, as HMAC does).
    pub fn from_password(password: &[u8]) -> CramMd5Keys {
        let (inner, outer) = md5::hmac_states(password);
        CramMd5Keys { inner, outer }
    }

    /// Read Dovecot's 32-byte layout: the outer state's four words, then the inner's, each
    /// little-endian.
    pub fn from_bytes(bytes: &[u8; 32]) -> CramMd5Keys {
        let mut words = [0u32; 8];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            let mut b = [0u8; 4];
            b.copy_from_slice(chunk);
            *w = u32::from_le_bytes(b);
        }
        let [o0, o1, o2, o3, i0, i1, i2, i3] = words;
        words.zeroize();
        CramMd5Keys {
            inner: [i0, i1, i2, i3],
            outer: [o0, o1, o2, o3],
        }
    }

    /// Write Dovecot's 32-byte layout, in an array wiped on drop.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let words = self.outer.iter().chain(self.inner.iter());
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Parse `{CRAM-MD5}` followed by 64 hex digits, either case (the prefix is optional).
    pub fn from_dovecot(text: &str) -> Option<CramMd5Keys> {
        let digits = text.strip_prefix("{CRAM-MD5}").unwrap_or(text).as_bytes();
        if digits.len() != 64 {
            return None;
        }
        // The digits are secret: decoded without a branch on any of them, revealing only
        // whether the whole text was well formed.
        let mut bytes = [0u8; 32];
        let mut valid = subtle::Choice::from(1);
        for (b, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let (hi, hi_ok) = hex::value_ct(pair.first().copied().unwrap_or(0));
            let (lo, lo_ok) = hex::value_ct(pair.get(1).copied().unwrap_or(0));
            valid &= hi_ok & lo_ok;
            *b = hi << 4 | lo;
        }
        let keys = CramMd5Keys::from_bytes(&bytes);
        bytes.zeroize();
        if !bool::from(valid) {
            return None;
        }
        Some(keys)
    }

    /// Write `{CRAM-MD5}` followed by 64 lowercase hex digits (encoded without a branch or
    /// table lookup on them), in a string wiped on drop.
    pub fn to_dovecot(&self) -> Zeroizing<String> {
        let bytes = self.to_bytes();
        // Exactly this long: the string never grows (which would leave a copy behind).
        let mut s = Zeroizing::new(String::with_capacity(74));
        s.push_str("{CRAM-MD5}");
        for &b in bytes.iter() {
            s.push(char::from(hex::digit(b >> 4)));
            s.push(char::from(hex::digit(b)));
        }
        s
    }

    /// HMAC-MD5 of `message` under these keys.
    pub fn mac(&self, message: &[u8]) -> [u8; 16] {
        md5::hmac(self.inner, self.outer, message)
    }

    /// The keys of the empty password (`from_password(b"")`, checked by a test), which no
    /// answer may authenticate with.
    pub(crate) const EMPTY_PASSWORD: CramMd5Keys = CramMd5Keys {
        inner: [0xe1de_201d, 0xb50b_483f, 0x57d8_f798, 0x1be6_235b],
        outer: [0xf27c_7400, 0xc511_afff, 0x9764_4aea, 0xfc01_399c],
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_password_keys_constant_is_the_derivation() {
        let derived = CramMd5Keys::from_password(b"");
        assert!(derived == CramMd5Keys::EMPTY_PASSWORD);
        assert!(CramMd5Keys::from_password(b"x") != CramMd5Keys::EMPTY_PASSWORD);
    }

    #[test]
    fn dovecot_text_either_case() {
        let keys = CramMd5Keys::from_password(b"tanstaaftanstaaf");
        let text = keys.to_dovecot();
        assert_eq!(CramMd5Keys::from_dovecot(&text), Some(keys.clone()));
        assert_eq!(CramMd5Keys::from_dovecot(&text[10..]), Some(keys.clone()));
        // Upper case reads the same.
        let upper = format!("{{CRAM-MD5}}{}", text[10..].to_ascii_uppercase());
        assert_eq!(CramMd5Keys::from_dovecot(&upper), Some(keys.clone()));
        for bad in ["g", "/", ":", "`", "G", " ", "@", "["] {
            let t = format!("{}{bad}", &text[..73]);
            assert_eq!(CramMd5Keys::from_dovecot(&t), None, "{bad}");
        }
        assert_eq!(CramMd5Keys::from_dovecot(&text[..73]), None);
    }
}
