//! Strict base64 (RFC 4648 §4, standard alphabet, padded), as RFC 4954 requires of SMTP AUTH.
//!
//! Characters outside the alphabet, whitespace, missing padding, padding anywhere but at the
//! end (`=AAA`, `AAA=BBB`) and non-zero trailing bits are all rejected.
//!
//! Which decoder for which data:
//! - secrets — every client message the server decodes ([`decode`], [`decode_into`]: PLAIN
//!   and LOGIN carry the password) and stored SCRAM keys (`decode_secret`) — go through
//!   RustCrypto's `base64ct`: no table lookup and no branch on the data, only on whether
//!   the whole text is valid (and on its padding, which its public length fixes);
//! - public fixed-size fields on the wire (SCRAM proofs, server signatures, salts,
//!   channel-binding data: [`decode_to`], `decode_matches`) use the faster table-driven
//!   `base64` crate;
//! - the encoder is written out here (one 64-byte alphabet, a single cache line) and used for
//!   what goes on the wire; stored keys are encoded with `base64ct` (`encode_secret`).
//!
//! ```
//! use saslmech::b64;
//! assert_eq!(b64::decode(b"dGVzdAB0ZXN0ADEyMzQ=").unwrap().as_slice(), b"test\0test\x001234");
//! assert!(b64::decode(b"=AAA").is_err());
//! assert!(b64::decode(b"AAA=BBB").is_err());
//! assert_eq!(b64::encode(b"tim"), "dGlt");
//! ```

use crate::error::Failure;
use crate::secret::SecretBuf;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64ct::Encoding as _;
use zeroize::Zeroize;

/// Encode `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0; encoded_len(bytes.len())];
    encode_slice(bytes, &mut out);
    // The alphabet is ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Encode `bytes`, appending to `out` (which is not cleared first).
pub fn encode_into(bytes: &[u8], out: &mut SecretBuf) {
    let start = out.len();
    let n = encoded_len(bytes.len());
    out.reserve(n);
    let v = out.vec_mut();
    v.resize(start.saturating_add(n), 0);
    if let Some(dst) = v.get_mut(start..) {
        encode_slice(bytes, dst);
    }
}

/// Encode `bytes` into `dst`, which has room for exactly [`encoded_len`] characters.
///
/// Written out rather than taken from the `base64` crate: this crate encodes short messages
/// (nonces, proofs, signatures, SASL responses), for which the crate's per-call setup cost
/// more than the encoding. The alphabet is one 64-byte table, a single cache line, so looking
/// up a secret's bits in it reveals nothing through the cache.
fn encode_slice(bytes: &[u8], dst: &mut [u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let symbol = |x: u32| ALPHABET.get((x & 63) as usize).copied().unwrap_or(b'=');
    let quad = |n: u32| [symbol(n >> 18), symbol(n >> 12), symbol(n >> 6), symbol(n)];
    let groups = bytes.chunks_exact(3);
    let tail = groups.remainder();
    let mut out = dst.chunks_exact_mut(4);
    for (g, o) in groups.zip(&mut out) {
        if let [a, b, c] = *g {
            o.copy_from_slice(&quad(u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c)));
        }
    }
    // One or two bytes left: two or three characters, then padding.
    let last = match *tail {
        [a] => quad(u32::from(a) << 16),
        [a, b] => quad(u32::from(a) << 16 | u32::from(b) << 8),
        _ => return,
    };
    if let (Some(o), Some(keep)) = (out.next(), tail.len().checked_add(1)) {
        for (i, (d, s)) in o.iter_mut().zip(last).enumerate() {
            *d = if i < keep { s } else { b'=' };
        }
    }
}

/// The length of the padded encoding of `n` bytes.
pub fn encoded_len(n: usize) -> usize {
    n.div_ceil(3).saturating_mul(4)
}

/// Decode strictly. The result is a zeroizing buffer since decoded client messages carry
/// passwords.
pub fn decode(text: &[u8]) -> Result<SecretBuf, Failure> {
    let mut out = SecretBuf::new();
    decode_into(text, &mut out)?;
    Ok(out)
}

/// Decode strictly into `out`, replacing its contents. On error `out` is left empty.
///
/// Constant time in the text's contents (`base64ct`): client messages carry passwords.
pub fn decode_into(text: &[u8], out: &mut SecretBuf) -> Result<(), Failure> {
    out.clear();
    if !text.len().is_multiple_of(4) {
        return Err(Failure::InvalidBase64);
    }
    let max = text.len() / 4 * 3;
    out.reserve(max);
    let v = out.vec_mut();
    v.resize(max, 0);
    match base64ct::Base64::decode(text, v.as_mut_slice()).map(<[u8]>::len) {
        Ok(n) => {
            // Only the padding's bytes are cut (already zero).
            out.truncate(n);
            Ok(())
        }
        Err(_) => {
            out.clear();
            Err(Failure::InvalidBase64)
        }
    }
}

/// Decode a secret of known length (`out.len()` bytes: a stored key) from its padded base64,
/// without a branch or table lookup on the text: the padding's place follows from the
/// length, and only whether the whole text is valid is revealed.
pub(crate) fn decode_secret(text: &[u8], out: &mut [u8]) -> Result<(), Failure> {
    if text.len() != encoded_len(out.len()) {
        return Err(Failure::InvalidBase64);
    }
    // Characters that carry bits; the rest must be `=`.
    let data = (out.len() * 8).div_ceil(6);
    let (data, pad) = text.split_at_checked(data).ok_or(Failure::InvalidBase64)?;
    let pad_diff = pad.iter().fold(0u8, |d, &c| d | (c ^ b'='));
    let decoded = base64ct::Base64Unpadded::decode(data, out).map(<[u8]>::len);
    let pad_ok = subtle::ConstantTimeEq::ct_eq(&pad_diff, &0);
    match decoded {
        Ok(n) if bool::from(pad_ok) && n == out.len() => Ok(()),
        _ => {
            out.fill(0);
            Err(Failure::InvalidBase64)
        }
    }
}

/// Encode a secret (a stored key) with `base64ct`: no table lookup on its bits.
pub(crate) fn encode_secret(bytes: &[u8], out: &mut String) {
    let mut buf = [0u8; 64];
    match buf.get_mut(..encoded_len(bytes.len())) {
        Some(dst) => {
            if let Ok(text) = base64ct::Base64::encode(bytes, dst) {
                out.push_str(text);
            }
        }
        // Longer than any key: not secret-sized, encode as usual.
        None => out.push_str(&encode(bytes)),
    }
    buf.zeroize();
}

/// Decode strictly into `out`, returning the decoded length. Fails if the text is not strict
/// base64 or does not fit in `out` (for fixed-size fields: proofs, signatures, short salts).
pub(crate) fn decode_to(text: &[u8], out: &mut [u8]) -> Result<usize, Failure> {
    if !text.len().is_multiple_of(4) {
        return Err(Failure::InvalidBase64);
    }
    STANDARD
        .decode_slice(text, out)
        .map_err(|_| Failure::InvalidBase64)
}

/// Decode strictly, without a buffer, and compare in constant time with the concatenation of
/// `expected`: `Ok(true)` if equal, `Ok(false)` if not (lengths included), an error if the
/// text is not strict base64. The text is decoded 64 characters at a time on the stack.
pub(crate) fn decode_matches(text: &[u8], expected: &[&[u8]]) -> Result<bool, Failure> {
    use subtle::ConstantTimeEq;
    if !text.len().is_multiple_of(4) {
        return Err(Failure::InvalidBase64);
    }
    let mut want = expected.iter().flat_map(|part| part.iter());
    // OR of the differences, and whether the lengths agree: no branch on the data.
    let mut diff = 0u8;
    let mut same_len = true;
    let mut buf = [0u8; 48];
    let mut chunks = text.chunks(64).peekable();
    let mut result = Ok(());
    while let Some(chunk) = chunks.next() {
        let n = match STANDARD.decode_slice(chunk, &mut buf) {
            // Only the last chunk may be short: padding ends the text.
            Ok(n) if n == buf.len() || chunks.peek().is_none() => n,
            _ => {
                result = Err(Failure::InvalidBase64);
                break;
            }
        };
        for got in buf.iter().take(n) {
            match want.next() {
                Some(w) => diff |= got ^ w,
                None => same_len = false,
            }
        }
    }
    buf.fill(0);
    result?;
    Ok(bool::from(diff.ct_eq(&0)) && same_len && want.next().is_none())
}

/// Append to `buf` the base64 of its own bytes `buf[from..to]` followed by `extra` (SCRAM's
/// `c=`: the gs2 header already in the buffer, then the channel-binding data).
pub(crate) fn encode_within(buf: &mut SecretBuf, from: usize, to: usize, extra: &[u8]) {
    let start = buf.len();
    let n = encoded_len(to.saturating_sub(from).saturating_add(extra.len()));
    buf.reserve(n);
    let v = buf.vec_mut();
    v.resize(start.saturating_add(n), 0);
    let (head, mut dst) = v.split_at_mut(start);
    let mut src = head.get(from..to).unwrap_or_default().iter().chain(extra);
    // Whole groups of 48 bytes become 64 characters; the last group is padded.
    let mut group = [0u8; 48];
    loop {
        let mut len = 0;
        for (slot, b) in group.iter_mut().zip(&mut src) {
            *slot = *b;
            len += 1;
        }
        if len == 0 {
            break;
        }
        let written = encoded_len(len);
        let (now, rest) = dst.split_at_mut(written.min(dst.len()));
        encode_slice(group.get(..len).unwrap_or_default(), now);
        dst = rest;
        if len < group.len() {
            break;
        }
    }
    group.fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict() {
        for bad in [
            &b"=AAA"[..],
            b"AAA=BBB",
            b"AAA=BBB=",
            b"dGlt\r\n",
            b" dGlt",
            b"dGl",
            b"dGk=dGk=",
            b"dGm=",
            b"****",
            b"dG=t",
        ] {
            assert_eq!(decode(bad).unwrap_err(), Failure::InvalidBase64, "{bad:?}");
        }
        assert_eq!(decode(b"").unwrap().as_slice(), b"");
        assert_eq!(decode(b"AA==").unwrap().as_slice(), b"\0");
        let mut o = SecretBuf::new();
        encode_into(b"\0tim\0tanstaaftanstaaf", &mut o);
        assert_eq!(o.as_slice(), b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    }

    #[test]
    fn encoder_matches_the_crate() {
        for len in 0..200usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            assert_eq!(encode(&data), STANDARD.encode(&data), "{len}");
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(encode(&all), STANDARD.encode(&all));
    }

    #[test]
    fn pieces() {
        // Lengths around the 48-byte group and the 3-byte quantum, split anywhere.
        for len in [0usize, 1, 2, 3, 47, 48, 49, 95, 96, 97, 200] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            let text = encode(&data);
            for cut in [0, len / 3, len / 2, len] {
                let (a, b) = data.split_at(cut);
                let mut buf = SecretBuf::from_slice(b"xx");
                buf.extend(a);
                encode_within(&mut buf, 2, 2 + cut, b);
                assert_eq!(&buf.as_slice()[2 + cut..], text.as_bytes(), "{len} {cut}");
                assert_eq!(decode_matches(text.as_bytes(), &[a, b]), Ok(true));
            }
            let mut longer = data.clone();
            longer.push(0);
            assert_eq!(decode_matches(text.as_bytes(), &[&longer]), Ok(false));
            if len > 0 {
                assert_eq!(decode_matches(text.as_bytes(), &[&data[1..]]), Ok(false));
                let mut other = data.clone();
                other[len - 1] ^= 1;
                assert_eq!(decode_matches(text.as_bytes(), &[&other]), Ok(false));
            }
            let mut out = [0u8; 200];
            assert_eq!(decode_to(text.as_bytes(), &mut out), Ok(len));
            assert_eq!(&out[..len], &data[..]);
            if len > 0 {
                assert!(decode_to(text.as_bytes(), &mut out[..len - 1]).is_err());
            }
        }
        // Padding inside the text, even at a 64-character boundary, is refused.
        let mut padded = encode(&[1u8; 47]).into_bytes();
        padded.extend_from_slice(b"AAAA");
        assert_eq!(decode_matches(&padded, &[]), Err(Failure::InvalidBase64));
        for bad in [&b"=AAA"[..], b"AAA=BBB=", b"dGm=", b"dGl"] {
            assert_eq!(decode_matches(bad, &[]), Err(Failure::InvalidBase64));
            assert_eq!(decode_to(bad, &mut [0; 8]), Err(Failure::InvalidBase64));
        }
    }
}
