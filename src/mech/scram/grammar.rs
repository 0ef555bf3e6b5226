//! The SCRAM message syntax both sides share (RFC 5802 §7): attributes, `saslname`
//! escapes, printable nonces, extensions.

use crate::b64;
use crate::error::Failure;
use crate::nonce::Nonce;
use crate::secret::SecretBuf;

pub(super) use crate::keys::parse_posit;

/// `printable = %x21-2B / %x2D-7E` (no comma), one or more.
pub(super) fn is_printable(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| matches!(b, 0x21..=0x2b | 0x2d..=0x7e))
}

/// Check a `saslname` (`=2C` is `,`, `=3D` is `=`; no other `=`, no `,`, no NUL; UTF-8, not
/// empty) and return its length once unescaped.
pub(super) fn saslname_len(s: &[u8]) -> Result<usize, Failure> {
    let mut len = 0;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'=' => match s.get(i + 1..i + 3) {
                Some(b"2C" | b"3D") => i += 3,
                _ => return Err(Failure::Malformed),
            },
            b',' | 0 => return Err(Failure::Malformed),
            _ => i += 1,
        }
        len += 1;
    }
    if len == 0 || core::str::from_utf8(s).is_err() {
        return Err(Failure::Malformed);
    }
    Ok(len)
}

/// Append a `saslname` that [`saslname_len`] accepted, unescaped.
pub(super) fn push_unescaped(out: &mut SecretBuf, s: &[u8]) {
    let mut rest = s;
    while let Some(at) = rest.iter().position(|b| *b == b'=') {
        let (plain, escape) = rest.split_at(at);
        out.extend(plain);
        // `saslname_len` accepted only `=2C` and `=3D`.
        let Some((code, after)) = escape.get(1..).and_then(|e| e.split_at_checked(2)) else {
            break;
        };
        out.push(if code == b"2C" { b',' } else { b'=' });
        rest = after;
    }
    out.extend(rest);
}

/// The length of `s` as a `saslname`.
pub(super) fn escaped_len(s: &str) -> usize {
    s.len() + 2 * s.bytes().filter(|b| matches!(b, b',' | b'=')).count()
}

/// Append `s` as a `saslname`.
pub(super) fn push_saslname(out: &mut SecretBuf, s: &str) {
    let mut rest = s.as_bytes();
    while let Some(at) = rest.iter().position(|b| matches!(b, b',' | b'=')) {
        let (plain, special) = rest.split_at(at);
        out.extend(plain);
        // `position` found it: `special` starts with `,` or `=`.
        let Some((first, after)) = special.split_first() else {
            break;
        };
        out.extend(if *first == b',' { b"=2C" } else { b"=3D" });
        rest = after;
    }
    out.extend(rest);
}

/// Split `s` at the first comma: the attribute before it and the rest after it.
pub(super) fn next_attr(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|b| *b == b',').map(|i| s.split_at(i)) {
        Some((attr, comma_rest)) => (attr, comma_rest.get(1..)),
        None => (s, None),
    }
}

/// `attr-val = ALPHA "=" value`: an extension attribute. Returns false if `a` is not one.
pub(super) fn is_extension(a: &[u8]) -> bool {
    matches!(a, [k, b'=', ..] if k.is_ascii_alphabetic())
}

/// The length of a nonce as text.
pub(super) fn nonce_len(nonce: &Nonce<'_>) -> usize {
    match nonce {
        Nonce::Fixed(text) => text.len(),
        Nonce::Random(bytes) => b64::encoded_len(bytes.len()),
    }
}

/// A random or fixed nonce, as printable text.
pub(super) fn push_nonce(out: &mut SecretBuf, nonce: Nonce<'_>) -> Result<(), Failure> {
    match nonce {
        Nonce::Fixed(text) if is_printable(text) => out.extend(text),
        Nonce::Fixed(_) => return Err(Failure::TemporaryFailure),
        // Standard base64 is printable and has no comma.
        Nonce::Random(bytes) => b64::encode_into(&bytes, out),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslname_escapes() {
        let mut b = SecretBuf::new();
        assert_eq!(saslname_len(b"a=2Cb=3Dc"), Ok(5));
        push_unescaped(&mut b, b"a=2Cb=3Dc");
        assert_eq!(b.as_slice(), b"a,b=c");
        for bad in [
            &b"a=2"[..],
            b"a=",
            b"a=2c",
            b"a=41",
            b"a,b",
            b"",
            b"a\0",
            b"\xff",
        ] {
            assert_eq!(saslname_len(bad), Err(Failure::Malformed), "{bad:?}");
        }
        let mut o = SecretBuf::new();
        push_saslname(&mut o, "a,b=c");
        assert_eq!(o.as_slice(), b"a=2Cb=3Dc");
        assert_eq!(escaped_len("a,b=c"), o.len());
    }

    #[test]
    fn posit_numbers() {
        assert_eq!(parse_posit(b"4096"), Some(4096));
        assert_eq!(parse_posit(b"4294967295"), Some(u32::MAX));
        for bad in [&b""[..], b"0", b"0100", b"+1", b"1a", b"4294967296"] {
            assert_eq!(parse_posit(bad), None, "{bad:?}");
        }
    }
}
