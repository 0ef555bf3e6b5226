//! The hash-based primitives, in one place: SHA-1, SHA-256, SHA-512 and HMAC from the
//! RustCrypto crates (`sha1`, `sha2`, `hmac`), and the few pieces written by hand because no
//! crate offers them at the needed cost or in the needed form:
//!
//! * [`pbkdf2`]: the PBKDF2 inner loop on the hash crates' compression functions (two
//!   compressions an iteration from the key's precomputed states). The `pbkdf2` crate on
//!   `Hmac<Sha256>` costs more than 15 % more (figures in ARCHITECTURE.md and
//!   docs/PERFORMANCE.md); the first iteration and everything else is the `hmac` crate.
//! * [`md5`]: HMAC-MD5 from raw inner and outer MD5 states, the form Dovecot stores as
//!   `{CRAM-MD5}`, which no crate can import.
//! * [`hex`]: one constant-time hex codec for secret digests and keys.
//!
//! Each is differential-tested against the crate (property tests at the end of each file).
//! Everything here wipes what it computed from a secret when dropped.

use hmac::block_api::HmacCore;
use hmac::digest::block_api::CoreProxy;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Digest as _;
use zeroize::Zeroize;

use crate::secret::ct_eq;

pub(crate) mod hex;
pub(crate) mod md5;
mod pbkdf2;

pub(crate) use pbkdf2::pbkdf2;

/// Counts hash compressions (SHA-1, SHA-256, SHA-512, MD5 blocks) on this thread, so unit
/// tests can show that the work after an answer does not depend on whether the user exists
/// (`mech/same_work_tests.rs`). The hand-written code counts each compression it makes; a call
/// into a crate counts the blocks that call compresses (see [`blocks_of`]). Compiled to
/// nothing outside `cfg(test)`.
#[inline(always)]
pub(crate) fn count_compressions(_n: u64) {
    #[cfg(test)]
    work::COMPRESSIONS.with(|c| c.set(c.get().saturating_add(_n)));
}

/// The compression counter of [`count_compressions`].
#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;

    thread_local! {
        pub(crate) static COMPRESSIONS: Cell<u64> = const { Cell::new(0) };
    }

    /// The compressions counted on this thread since the last call.
    pub(crate) fn take() -> u64 {
        COMPRESSIONS.with(|c| c.replace(0))
    }
}

/// The 64-byte blocks MD5, SHA-1 and SHA-256 compress to finish a message of `len` bytes (the
/// message, `0x80`, and the 8-byte length).
pub(crate) const fn blocks(len: usize) -> u64 {
    (len as u64).saturating_add(9).div_ceil(64)
}

/// The blocks `sha` compresses to finish a message of `len` bytes: [`blocks`] for SHA-1 and
/// SHA-256; for SHA-512 128-byte blocks with a 16-byte length.
pub(crate) const fn blocks_of(sha: Sha, len: usize) -> u64 {
    match sha {
        Sha::Sha1 | Sha::Sha256 => blocks(len),
        Sha::Sha512 => (len as u64).saturating_add(17).div_ceil(128),
    }
}

/// A SHA hash SCRAM uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sha {
    Sha1,
    Sha256,
    Sha512,
}

/// The longest digest: SHA-512's.
const MAX_OUTPUT: usize = 64;

/// A digest or MAC of at most 64 octets, wiped on drop, compared in constant time.
#[derive(Clone)]
pub(crate) struct Output {
    bytes: [u8; MAX_OUTPUT],
    len: u8,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            bytes: [0; MAX_OUTPUT],
            len: 0,
        }
    }
}

impl Output {
    /// The first 64 octets of `s` (all of a SHA-1, SHA-256 or SHA-512 digest).
    pub(crate) fn from(s: &[u8]) -> Output {
        let mut b = Output::default();
        let n = s.len().min(MAX_OUTPUT);
        if let (Some(dst), Some(src)) = (b.bytes.get_mut(..n), s.get(..n)) {
            dst.copy_from_slice(src);
        }
        b.len = n as u8;
        b
    }

    /// A digest a crate returned, wiping the crate's copy.
    fn take(mut digest: impl AsMut<[u8]>) -> Output {
        let out = Output::from(digest.as_mut());
        digest.as_mut().zeroize();
        out
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        let (head, _) = self.bytes.split_at(usize::from(self.len).min(MAX_OUTPUT));
        head
    }

    pub(crate) fn as_mut(&mut self) -> &mut [u8] {
        let (head, _) = self
            .bytes
            .split_at_mut(usize::from(self.len).min(MAX_OUTPUT));
        head
    }

    /// This XOR `other` (as long as the shorter of the two).
    pub(crate) fn xor(&self, other: &[u8]) -> Output {
        let mut b = self.clone();
        for (x, y) in b.as_mut().iter_mut().zip(other) {
            *x ^= y;
        }
        b
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.bytes.as_mut_slice().zeroize();
    }
}

impl PartialEq for Output {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.as_slice(), other.as_slice())
    }
}

impl Eq for Output {}

/// `H(data)`.
pub(crate) fn hash(sha: Sha, data: &[u8]) -> Output {
    count_compressions(blocks_of(sha, data.len()));
    match sha {
        Sha::Sha1 => Output::take(sha1::Sha1::digest(data)),
        Sha::Sha256 => Output::take(sha2::Sha256::digest(data)),
        Sha::Sha512 => Output::take(sha2::Sha512::digest(data)),
    }
}

/// `HMAC(key, parts[0] || parts[1] || ...)`.
pub(crate) fn hmac(sha: Sha, key: &[u8], parts: &[&[u8]]) -> Output {
    HmacKey::new(sha, key).mac(parts)
}

/// An HMAC key of exactly one hash block of `B` octets (64 for SHA-1 and SHA-256, 128 for
/// SHA-512): a longer key hashed, a shorter one padded with zeros (RFC 2104 §2). Wiped on
/// drop.
struct KeyBlock<const B: usize>([u8; B]);

impl<const B: usize> KeyBlock<B> {
    fn new(sha: Sha, key: &[u8]) -> KeyBlock<B> {
        let mut block = KeyBlock([0; B]);
        let long;
        let key = if key.len() > B {
            long = hash(sha, key);
            long.as_slice()
        } else {
            key
        };
        if let Some(dst) = block.0.get_mut(..key.len()) {
            dst.copy_from_slice(key);
        }
        block
    }
}

impl<const B: usize> Drop for KeyBlock<B> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// An HMAC key with its padded blocks already compressed: the `hmac` crate's keyed state
/// without its message buffer (`HmacCore`, the hash cores wiped on drop by their `zeroize`
/// feature), so that a SCRAM client cache holding two stays small. Cloned for each message.
#[derive(Clone)]
pub(crate) enum HmacKey {
    Sha1(HmacCore<sha1::Sha1>),
    Sha256(HmacCore<sha2::Sha256>),
    Sha512(HmacCore<sha2::Sha512>),
}

impl HmacKey {
    pub(crate) fn new(sha: Sha, key: &[u8]) -> HmacKey {
        match sha {
            Sha::Sha1 => Self::sha1(&KeyBlock::new(sha, key)),
            Sha::Sha256 => Self::sha256(&KeyBlock::new(sha, key)),
            Sha::Sha512 => Self::sha512(&KeyBlock::new(sha, key)),
        }
    }

    // The inner and outer pads: one compression each.
    fn sha1(block: &KeyBlock<64>) -> HmacKey {
        count_compressions(2);
        HmacKey::Sha1(HmacCore::new((&block.0).into()))
    }

    fn sha256(block: &KeyBlock<64>) -> HmacKey {
        count_compressions(2);
        HmacKey::Sha256(HmacCore::new((&block.0).into()))
    }

    fn sha512(block: &KeyBlock<128>) -> HmacKey {
        count_compressions(2);
        HmacKey::Sha512(HmacCore::new((&block.0).into()))
    }

    /// The MAC of the concatenated `parts`.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> Output {
        let len = parts.iter().map(|p| p.len()).sum();
        // The message after the inner pad, then the outer block over the inner digest.
        match self {
            HmacKey::Sha1(k) => {
                count_compressions(blocks_of(Sha::Sha1, len) + 1);
                let mut m = Hmac::compose(k.clone(), Default::default());
                for p in parts {
                    m.update(p);
                }
                Output::take(m.finalize().into_bytes())
            }
            HmacKey::Sha256(k) => {
                count_compressions(blocks_of(Sha::Sha256, len) + 1);
                let mut m = Hmac::compose(k.clone(), Default::default());
                for p in parts {
                    m.update(p);
                }
                Output::take(m.finalize().into_bytes())
            }
            HmacKey::Sha512(k) => {
                count_compressions(blocks_of(Sha::Sha512, len) + 1);
                let mut m = Hmac::compose(k.clone(), Default::default());
                for p in parts {
                    m.update(p);
                }
                Output::take(m.finalize().into_bytes())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn hash_and_hmac_are_the_crates(
            key in proptest::collection::vec(any::<u8>(), 0..150),
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cut in any::<prop::sample::Index>(),
        ) {
            let (a, b) = data.split_at(cut.index(data.len() + 1));
            prop_assert_eq!(hash(Sha::Sha1, &data).as_slice().to_vec(), sha1::Sha1::digest(&data).as_slice().to_vec());
            prop_assert_eq!(hash(Sha::Sha256, &data).as_slice().to_vec(), sha2::Sha256::digest(&data).as_slice().to_vec());
            prop_assert_eq!(hash(Sha::Sha512, &data).as_slice().to_vec(), sha2::Sha512::digest(&data).as_slice().to_vec());
            let mut m = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(&key).unwrap();
            m.update(&data);
            prop_assert_eq!(hmac(Sha::Sha512, &key, &[a, b]).as_slice().to_vec(), m.finalize().into_bytes().as_slice().to_vec());
            let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
            m.update(&data);
            prop_assert_eq!(hmac(Sha::Sha256, &key, &[a, b]).as_slice().to_vec(), m.finalize().into_bytes().as_slice().to_vec());
            let mut m = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&key).unwrap();
            m.update(&data);
            prop_assert_eq!(hmac(Sha::Sha1, &key, &[a, b]).as_slice().to_vec(), m.finalize().into_bytes().as_slice().to_vec());
        }
    }

    #[test]
    fn blocks_counts_padding() {
        assert_eq!(blocks(0), 1);
        assert_eq!(blocks(55), 1);
        assert_eq!(blocks(56), 2);
        assert_eq!(blocks(119), 2);
        assert_eq!(blocks(120), 3);
        assert_eq!(blocks_of(Sha::Sha512, 0), 1);
        assert_eq!(blocks_of(Sha::Sha512, 111), 1);
        assert_eq!(blocks_of(Sha::Sha512, 112), 2);
        assert_eq!(blocks_of(Sha::Sha512, 239), 2);
        assert_eq!(blocks_of(Sha::Sha512, 240), 3);
    }
}
