//! HMAC-MD5 from raw MD5 states, for CRAM-MD5: Dovecot stores a user's `{CRAM-MD5}` secret as
//! the MD5 states after the key's inner and outer pads, and no crate can start a hash from
//! such a state, so the key schedule and the finalisation are written here on the `md-5`
//! crate's compression function. Differential-tested against `Hmac<Md5>` below.

use md5::block_api::compress;
use zeroize::Zeroize;

use super::count_compressions;

/// MD5's initial state.
const IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The inner and outer MD5 states of HMAC-MD5 keyed with `key` (a key over 64 bytes is
/// hashed first, as HMAC does).
pub(crate) fn hmac_states(key: &[u8]) -> ([u32; 4], [u32; 4]) {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        let mut digest = finish(IV, key, 0);
        for (b, d) in block.iter_mut().zip(digest.iter()) {
            *b = *d;
        }
        digest.zeroize();
    } else {
        for (b, k) in block.iter_mut().zip(key) {
            *b = *k;
        }
    }
    let mut inner = IV;
    let mut outer = IV;
    let mut pad = block.map(|k| k ^ 0x36);
    count_compressions(2);
    compress(&mut inner, core::slice::from_ref(&pad));
    pad = block.map(|k| k ^ 0x5c);
    compress(&mut outer, core::slice::from_ref(&pad));
    pad.zeroize();
    block.zeroize();
    (inner, outer)
}

/// HMAC-MD5 of `message` from the inner and outer states.
pub(crate) fn hmac(inner: [u32; 4], outer: [u32; 4], message: &[u8]) -> [u8; 16] {
    let mut digest = finish(inner, message, 64);
    let mac = finish(outer, &digest, 64);
    digest.zeroize();
    mac
}

/// Finish an MD5 computation that has already absorbed `prefix` bytes into `state`.
fn finish(mut state: [u32; 4], message: &[u8], prefix: u64) -> [u8; 16] {
    let mut blocks = message.chunks_exact(64);
    for block in &mut blocks {
        let mut b = [0u8; 64];
        b.copy_from_slice(block);
        count_compressions(1);
        compress(&mut state, core::slice::from_ref(&b));
        b.zeroize();
    }
    let rest = blocks.remainder();
    let mut last = [0u8; 64];
    for (l, r) in last.iter_mut().zip(rest) {
        *l = *r;
    }
    if let Some(b) = last.get_mut(rest.len()) {
        *b = 0x80;
    }
    if rest.len() >= 56 {
        count_compressions(1);
        compress(&mut state, core::slice::from_ref(&last));
        last = [0u8; 64];
    }
    let bits = prefix.wrapping_add(message.len() as u64).wrapping_mul(8);
    let (_, len) = last.split_at_mut(56);
    len.copy_from_slice(&bits.to_le_bytes());
    count_compressions(1);
    compress(&mut state, core::slice::from_ref(&last));
    last.zeroize();
    let mut out = [0u8; 16];
    for (chunk, w) in out.chunks_exact_mut(4).zip(state.iter()) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    state.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn hmac_md5_is_the_crates(
            key in proptest::collection::vec(any::<u8>(), 0..200),
            message in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut reference = Hmac::<md5::Md5>::new_from_slice(&key).unwrap();
            reference.update(&message);
            let expected: [u8; 16] = reference.finalize().into_bytes().into();
            let (inner, outer) = hmac_states(&key);
            prop_assert_eq!(hmac(inner, outer, &message), expected);
        }
    }
}
