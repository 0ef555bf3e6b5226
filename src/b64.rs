//! Strict base64 (RFC 4648 §4, standard alphabet, padded), as RFC 4954 requires of SMTP AUTH.
//!
//! Characters outside the alphabet, whitespace, missing padding, padding anywhere but at the
//! end (`=AAA`, `AAA=BBB`) and non-zero trailing bits are all rejected.
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

/// Encode `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Encode `bytes`, appending to `out` (which is not cleared first).
pub fn encode_into(bytes: &[u8], out: &mut SecretBuf) {
    let start = out.len();
    let n = encoded_len(bytes.len());
    out.reserve(n);
    let v = out.vec_mut();
    v.resize(start.saturating_add(n), 0);
    if let Some(dst) = v.get_mut(start..) {
        // Cannot fail: `dst` has exactly the encoded length.
        let written = STANDARD.encode_slice(bytes, dst).unwrap_or(0);
        v.truncate(start.saturating_add(written));
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
pub fn decode_into(text: &[u8], out: &mut SecretBuf) -> Result<(), Failure> {
    out.clear();
    if !text.len().is_multiple_of(4) {
        return Err(Failure::InvalidBase64);
    }
    let max = text.len() / 4 * 3;
    out.reserve(max);
    let v = out.vec_mut();
    v.resize(max, 0);
    match STANDARD.decode_slice(text, v.as_mut_slice()) {
        Ok(n) => {
            v.truncate(n);
            Ok(())
        }
        Err(_) => {
            out.clear();
            Err(Failure::InvalidBase64)
        }
    }
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
}
