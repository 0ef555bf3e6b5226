//! Independent references the oracles compare the engine with: HMAC-MD5, SCRAM's RFC 5802
//! computations with the `hmac`, `sha1`, `sha2` and `pbkdf2` crates, SCRAM message
//! attributes, and a strict base64 decoder of our own.

use crate::*;

/// HMAC-MD5 by the `hmac` crate: the independent reference for CRAM-MD5.
pub fn reference_cram_md5(password: &[u8], challenge: &[u8]) -> [u8; 16] {
    use hmac::{KeyInit, Mac};
    let mut mac = match hmac::Hmac::<md5::Md5>::new_from_slice(password) {
        Ok(m) => m,
        Err(_) => return [0; 16],
    };
    mac.update(challenge);
    mac.finalize().into_bytes().into()
}

/// Parse a CRAM-MD5 response `user SP 32*lowerhex` the way RFC 2195 says (rightmost space).
pub(crate) fn cram_md5_digest(response: &[u8]) -> Option<[u8; 16]> {
    let space = response.iter().rposition(|b| *b == b' ')?;
    let hex = response.get(space + 1..)?;
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let s = core::str::from_utf8(pair).ok()?;
        if s.bytes().any(|c| c.is_ascii_uppercase()) {
            return None;
        }
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// The value of the first attribute `name` (`r=`, `s=`, ...) in a SCRAM message.
pub(crate) fn scram_attr(msg: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    msg.split(|c| *c == b',')
        .find_map(|a| a.strip_prefix(name))
        .map(<[u8]>::to_vec)
}

/// The decoded salt and the iteration count of a server-first message.
pub(crate) fn scram_salt_and_iterations(server_first: &[u8]) -> Option<(Vec<u8>, u32)> {
    let salt = reference_decode(&scram_attr(server_first, b"s=")?)?;
    let i = core::str::from_utf8(&scram_attr(server_first, b"i=")?)
        .ok()?
        .parse()
        .ok()?;
    Some((salt, i))
}

/// The user name of a client-first message, `=2C` and `=3D` decoded.
pub(crate) fn scram_username(first: &[u8]) -> Option<Vec<u8>> {
    let bare = first.splitn(3, |c| *c == b',').nth(2)?;
    let n = scram_attr(bare, b"n=")?;
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = n.get(i) {
        match (c, n.get(i + 1..i + 3)) {
            (b'=', Some(b"2C")) => {
                out.push(b',');
                i += 3;
            }
            (b'=', Some(b"3D")) => {
                out.push(b'=');
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

/// HMAC by the `hmac` crate over the concatenated parts: SCRAM's reference.
pub fn reference_hmac(hash: ScramHash, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
            return Vec::new();
        };
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match hash {
        ScramHash::Sha1 => run::<hmac::Hmac<sha1::Sha1>>(key, parts),
        ScramHash::Sha512 => run::<hmac::Hmac<sha2::Sha512>>(key, parts),
        _ => run::<hmac::Hmac<sha2::Sha256>>(key, parts),
    }
}

/// `H(data)` by the hash crates.
pub fn reference_h(hash: ScramHash, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    match hash {
        ScramHash::Sha1 => sha1::Sha1::digest(data).to_vec(),
        ScramHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        _ => sha2::Sha256::digest(data).to_vec(),
    }
}

/// `Hi(password, salt, i)` by the `pbkdf2` crate.
pub fn reference_hi(hash: ScramHash, password: &[u8], salt: &[u8], i: u32) -> Vec<u8> {
    let mut out = vec![0u8; hash.output_len()];
    match hash {
        ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, i, &mut out),
        ScramHash::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, i, &mut out),
        _ => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, i, &mut out),
    }
    out
}

/// SCRAM's StoredKey for a plaintext password answer: SASLprep (query), `Hi` with the salt
/// and iteration count of the server-first message. `None` if SASLprep refuses it.
pub fn reference_scram_stored_key(
    hash: ScramHash,
    password: &[u8],
    server_first: &[u8],
) -> Option<Vec<u8>> {
    let (salt, iterations) = scram_salt_and_iterations(server_first)?;
    let prepared = saslprep::saslprep(core::str::from_utf8(password).ok()?, Mode::Query).ok()?;
    let salted = reference_hi(hash, prepared.as_bytes(), &salt, iterations);
    Some(reference_h(
        hash,
        &reference_hmac(hash, &salted, &[b"Client Key"]),
    ))
}

/// RFC 5802 §3: `H(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey`, with
/// AuthMessage made of client-first-bare, server-first and client-final without its proof.
pub fn reference_scram_proof_ok(
    hash: ScramHash,
    stored_key: &[u8],
    client_first: &[u8],
    server_first: &[u8],
    client_final: &[u8],
) -> bool {
    let Some(bare) = client_first.splitn(3, |c| *c == b',').nth(2) else {
        return false;
    };
    let Some(cut) = client_final.windows(3).rposition(|w| w == b",p=") else {
        return false;
    };
    let without_proof = client_final.get(..cut).unwrap_or_default();
    let Some(proof) = reference_decode(client_final.get(cut + 3..).unwrap_or_default()) else {
        return false;
    };
    let am: [&[u8]; 5] = [bare, b",", server_first, b",", without_proof];
    let signature = reference_hmac(hash, stored_key, &am);
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
    proof.len() == hash.output_len() && reference_h(hash, &client_key) == stored_key
}

/// A strict base64 decoder written for the oracle, independent of the `base64` crate: the
/// standard alphabet, length a multiple of four, `=` only as one or two final characters,
/// and zero bits after the last full byte.
pub fn reference_decode(text: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (i, q) in text.chunks_exact(4).enumerate() {
        let last = i + 1 == quads;
        let pad = q.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for c in q.iter().take(4 - pad) {
            n = n << 6 | value(*c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = n.to_be_bytes();
        let keep = 3 - pad;
        // The bits past the last kept byte must be zero.
        if bytes.iter().skip(1 + keep).any(|b| *b != 0) {
            return None;
        }
        out.extend(bytes.iter().skip(1).take(keep));
    }
    Some(out)
}
