//! PBKDF2-HMAC (SHA-1, SHA-256, SHA-512) with one output block (`Hi` of RFC 5802 §2.2),
//! hand-written because it is the one hot loop: `U1` comes from the `hmac` crate, every later `U` is the HMAC of exactly one
//! digest, so its padded block is the same but for the digest at its front, and each
//! iteration is two compressions (inner, outer) from the key's precomputed states, with no
//! buffering and no finalisation. The `pbkdf2` crate on `Hmac<Sha256>` finalises both hashes
//! in every iteration and costs more than 15 % more (benches/pbkdf2.rs; figures in
//! ARCHITECTURE.md).

use zeroize::Zeroize;

use super::{HmacKey, KeyBlock, Output, Sha, count_compressions};

const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xefcd_ab89,
    0x98ba_dcfe,
    0x1032_5476,
    0xc3d2_e1f0,
];
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

const SHA512_IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

/// `Hi(password, salt, iterations)`: `U1 = HMAC(password, salt || INT(1))`, each later `U` the
/// HMAC of the one before, the result their XOR.
pub(crate) fn pbkdf2(sha: Sha, password: &[u8], salt: &[u8], iterations: u32) -> Output {
    match sha {
        Sha::Sha1 => run(
            &KeyBlock::new(sha, password),
            HmacKey::sha1,
            SHA1_IV,
            sha1::block_api::compress,
            salt,
            iterations,
        ),
        Sha::Sha256 => run(
            &KeyBlock::new(sha, password),
            HmacKey::sha256,
            SHA256_IV,
            sha2::block_api::compress256,
            salt,
            iterations,
        ),
        Sha::Sha512 => run(
            &KeyBlock::new(sha, password),
            HmacKey::sha512,
            SHA512_IV,
            sha2::block_api::compress512,
            salt,
            iterations,
        ),
    }
}

/// A word of a hash state: 32 bits for SHA-1 and SHA-256, 64 for SHA-512.
trait Word: Copy + Zeroize {
    const BYTES: usize;
    /// Write the word big-endian into `out` (`BYTES` long).
    fn put(self, out: &mut [u8]);
}

impl Word for u32 {
    const BYTES: usize = 4;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_be_bytes());
    }
}

impl Word for u64 {
    const BYTES: usize = 8;
    fn put(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_be_bytes());
    }
}

/// PBKDF2 for one hash: block size `B`, a state of `W` words of type `T`.
fn run<const B: usize, const W: usize, T: Word>(
    key: &KeyBlock<B>,
    hmac_key: fn(&KeyBlock<B>) -> HmacKey,
    iv: [T; W],
    compress: fn(&mut [T; W], &[[u8; B]]),
    salt: &[u8],
    iterations: u32,
) -> Output {
    let mut acc = hmac_key(key).mac(&[salt, &1u32.to_be_bytes()]);
    let rounds = iterations.saturating_sub(1);
    if rounds == 0 {
        return acc;
    }
    // `U`, padded as the only block of a message of B + n bytes (the key's pad block first):
    // `U`, `0x80`, zeros, and the bit length in the last 8 bytes (SHA-512's 16-byte length
    // field has zeros in its upper half).
    let n = acc.as_slice().len();
    let mut block = [0u8; B];
    let (body, len) = block.split_at_mut(B.saturating_sub(8));
    let (front, tail) = body.split_at_mut(n.min(body.len()));
    for (d, u) in front.iter_mut().zip(acc.as_slice()) {
        *d = *u;
    }
    tail.fill(0);
    if let Some(first) = tail.first_mut() {
        *first = 0x80;
    }
    len.copy_from_slice(&((B + n) as u64 * 8).to_be_bytes());
    iterate(key, iv, compress, &mut block, &mut acc, rounds);
    block.zeroize();
    acc
}

/// The loop for one hash: the key's inner and outer states from `iv`, then `rounds`
/// iterations; `block` holds `U` (padded), `acc` the XOR so far.
fn iterate<const B: usize, const W: usize, T: Word>(
    key: &KeyBlock<B>,
    iv: [T; W],
    compress: fn(&mut [T; W], &[[u8; B]]),
    block: &mut [u8; B],
    acc: &mut Output,
    rounds: u32,
) {
    let mut pad = key.0.map(|b| b ^ 0x36);
    let mut inner = iv;
    compress(&mut inner, core::slice::from_ref(&pad));
    pad = key.0.map(|b| b ^ 0x5c);
    let mut outer = iv;
    compress(&mut outer, core::slice::from_ref(&pad));
    pad.zeroize();
    count_compressions(2 + 2 * u64::from(rounds));
    let mut state = inner;
    for _ in 0..rounds {
        state = inner;
        compress(&mut state, core::slice::from_ref(block));
        write_words(&state, block);
        state = outer;
        compress(&mut state, core::slice::from_ref(block));
        write_words(&state, block);
        for (a, u) in acc.as_mut().iter_mut().zip(block.iter()) {
            *a ^= u;
        }
    }
    state.zeroize();
    inner.zeroize();
    outer.zeroize();
}

/// Write hash state words big-endian at the front of `out`.
fn write_words<T: Word>(words: &[T], out: &mut [u8]) {
    for (dst, w) in out.chunks_exact_mut(T::BYTES).zip(words) {
        w.put(dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn pbkdf2_is_the_crates(
            password in proptest::collection::vec(any::<u8>(), 0..150),
            salt in proptest::collection::vec(any::<u8>(), 0..100),
            iterations in 1u32..40,
        ) {
            let mut want = [0u8; 32];
            ::pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&password, &salt, iterations, &mut want);
            prop_assert_eq!(pbkdf2(Sha::Sha256, &password, &salt, iterations).as_slice().to_vec(), want.to_vec());
            let mut want = [0u8; 20];
            ::pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&password, &salt, iterations, &mut want);
            prop_assert_eq!(pbkdf2(Sha::Sha1, &password, &salt, iterations).as_slice().to_vec(), want.to_vec());
            let mut want = [0u8; 64];
            ::pbkdf2::pbkdf2_hmac::<sha2::Sha512>(&password, &salt, iterations, &mut want);
            prop_assert_eq!(pbkdf2(Sha::Sha512, &password, &salt, iterations).as_slice().to_vec(), want.to_vec());
        }
    }

    #[test]
    fn pbkdf2_4096_is_the_crates() {
        for sha in [Sha::Sha1, Sha::Sha256, Sha::Sha512] {
            let mut want = [0u8; 64];
            let want = &mut want[..match sha {
                Sha::Sha1 => 20,
                Sha::Sha256 => 32,
                Sha::Sha512 => 64,
            }];
            match sha {
                Sha::Sha1 => ::pbkdf2::pbkdf2_hmac::<sha1::Sha1>(b"pencil", b"salt", 4096, want),
                Sha::Sha256 => {
                    ::pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"pencil", b"salt", 4096, want)
                }
                Sha::Sha512 => {
                    ::pbkdf2::pbkdf2_hmac::<sha2::Sha512>(b"pencil", b"salt", 4096, want)
                }
            }
            assert_eq!(pbkdf2(sha, b"pencil", b"salt", 4096).as_slice(), &want[..]);
        }
    }
}
