//! The bytes of GSSAPI (RFC 4752) and GS2-KRB5 (RFC 5801) that saslmech parses itself; the
//! Kerberos tokens inside are parsed by the GSS-API library.
//!
//! - RFC 4752 §3.1, the security-layer message: after the context is established, each side
//!   wraps four octets, a bit mask of security layers and a 3-octet maximum buffer size; the
//!   client's message is followed by the authorization identity.
//! - RFC 5801 §4, the GS2 header at the start of GS2-KRB5's first message:
//!   `[F,] (n|y|p=cb-name) , [a=saslname] ,`.
//! - RFC 2743 §3.1 / RFC 5801 §4, the initial context token's framing (`0x60`, DER length,
//!   mechanism OID), which GS2 strips on the wire and the acceptor needs back.
//!
//! These functions take arbitrary bytes and never panic; `fuzz/` drives them.
//!
//! ```
//! use saslmech::gssapi_framing::{LayerMessage, NO_SECURITY_LAYER, parse_gs2_header, Gs2ChannelBinding};
//!
//! let msg = LayerMessage { layers: NO_SECURITY_LAYER, max_buffer: 0, authzid: b"bob" };
//! let bytes = msg.to_vec();
//! assert_eq!(bytes, b"\x01\x00\x00\x00bob");
//! assert_eq!(LayerMessage::parse(&bytes), Some(msg));
//!
//! let (header, rest) = parse_gs2_header(b"n,a=b=2Cob,\x01\x00token").unwrap();
//! assert_eq!(header.channel_binding, Gs2ChannelBinding::None);
//! assert_eq!(header.authzid.as_deref(), Some("b,ob"));
//! assert_eq!(rest, b"\x01\x00token");
//! ```

use crate::error::Failure;

/// The security-layer bit for "no security layer" (RFC 4752 §3.3).
pub const NO_SECURITY_LAYER: u8 = 0x01;
/// The bit for an integrity layer.
pub const INTEGRITY_LAYER: u8 = 0x02;
/// The bit for a confidentiality layer.
pub const CONFIDENTIALITY_LAYER: u8 = 0x04;

/// The Kerberos V5 GSS-API mechanism OID 1.2.840.113554.1.2.2, DER contents.
pub const KRB5_OID: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02";

/// RFC 4752's security-layer message, unwrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerMessage<'a> {
    /// The bit mask of layers: offered (server) or chosen (client).
    pub layers: u8,
    /// The maximum size of a wrapped message the sender can receive (24 bits).
    pub max_buffer: u32,
    /// The authorization identity (client only; empty: none).
    pub authzid: &'a [u8],
}

impl<'a> LayerMessage<'a> {
    /// Parse an unwrapped security-layer message; `None` if it is shorter than four octets.
    pub fn parse(bytes: &'a [u8]) -> Option<LayerMessage<'a>> {
        let (head, authzid) = bytes.split_at_checked(4)?;
        let [layers, a, b, c] = <[u8; 4]>::try_from(head).ok()?;
        Some(LayerMessage {
            layers,
            max_buffer: u32::from_be_bytes([0, a, b, c]),
            authzid,
        })
    }

    /// The message's bytes (the maximum buffer size is cut to 24 bits).
    pub fn to_vec(&self) -> Vec<u8> {
        let [_, a, b, c] = self.max_buffer.min(0x00ff_ffff).to_be_bytes();
        let mut out = Vec::with_capacity(4 + self.authzid.len());
        out.extend_from_slice(&[self.layers, a, b, c]);
        out.extend_from_slice(self.authzid);
        out
    }
}

/// The channel-binding flag of a GS2 header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gs2ChannelBinding {
    /// `n`: the client does not support channel binding.
    None,
    /// `y`: the client supports it but thinks the server does not.
    ClientOnly,
    /// `p=NAME`: the client binds to the channel-binding type NAME (the `-PLUS` mechanisms).
    Bound(String),
}

/// A parsed GS2 header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gs2Header {
    /// The header began with `F,` (a non-standard GSS-API mechanism token framing).
    pub nonstandard: bool,
    /// The channel-binding flag.
    pub channel_binding: Gs2ChannelBinding,
    /// The authorization identity (`a=`), unescaped.
    pub authzid: Option<String>,
    /// The header's bytes without a leading `F,`: what GS2 puts before the channel-binding
    /// data in the GSS-API channel bindings' application data (RFC 5801 §5.1).
    pub bound_header: Vec<u8>,
}

/// Split a GS2-KRB5 client message into its GS2 header and the rest (the context token).
/// `Err(Failure::Malformed)` on any grammar error: a missing comma, an unknown flag, a bad
/// `saslname` escape, an empty or non-UTF-8 authzid.
pub fn parse_gs2_header(msg: &[u8]) -> Result<(Gs2Header, &[u8]), Failure> {
    let (nonstandard, body) = match msg.strip_prefix(b"F,") {
        Some(rest) => (true, rest),
        None => (false, msg),
    };
    let comma = body
        .iter()
        .position(|&b| b == b',')
        .ok_or(Failure::Malformed)?;
    let (flag, after_flag) = body.split_at(comma);
    let after_flag = after_flag.get(1..).ok_or(Failure::Malformed)?;
    let channel_binding = match flag {
        b"n" => Gs2ChannelBinding::None,
        b"y" => Gs2ChannelBinding::ClientOnly,
        _ => {
            let name = flag.strip_prefix(b"p=").ok_or(Failure::Malformed)?;
            let valid = !name.is_empty()
                && name
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-');
            if !valid {
                return Err(Failure::Malformed);
            }
            let name = core::str::from_utf8(name).map_err(|_| Failure::Malformed)?;
            Gs2ChannelBinding::Bound(name.to_owned())
        }
    };
    let comma = after_flag
        .iter()
        .position(|&b| b == b',')
        .ok_or(Failure::Malformed)?;
    let (authz, rest) = after_flag.split_at(comma);
    let rest = rest.get(1..).ok_or(Failure::Malformed)?;
    let authzid = if authz.is_empty() {
        None
    } else {
        let name = authz.strip_prefix(b"a=").ok_or(Failure::Malformed)?;
        Some(unescape_saslname(name)?)
    };
    let header_len = body.len() - rest.len();
    let bound_header = body.get(..header_len).ok_or(Failure::Malformed)?.to_vec();
    Ok((
        Gs2Header {
            nonstandard,
            channel_binding,
            authzid,
            bound_header,
        },
        rest,
    ))
}

/// `saslname` (RFC 5801 §4): UTF-8 without NUL or a bare `,` or `=`; `=2C` is `,`, `=3D` is `=`.
fn unescape_saslname(s: &[u8]) -> Result<String, Failure> {
    if s.is_empty() {
        return Err(Failure::Malformed);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            0 | b',' => return Err(Failure::Malformed),
            b'=' => {
                let (esc, tail) = tail.split_at_checked(2).ok_or(Failure::Malformed)?;
                out.push(match esc {
                    b"2C" => b',',
                    b"3D" => b'=',
                    _ => return Err(Failure::Malformed),
                });
                rest = tail;
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Failure::Malformed)
}

/// Write `s` as a `saslname` (escaping `,` and `=`).
pub fn escape_saslname(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b',' => out.extend_from_slice(b"=2C"),
            b'=' => out.extend_from_slice(b"=3D"),
            _ => out.push(b),
        }
    }
}

/// Strip the RFC 2743 §3.1 framing (`0x60`, DER length, `0x06`, OID length, OID) from an
/// initial context token of mechanism `oid`; `None` if the token is not framed so.
pub fn strip_token_header<'a>(token: &'a [u8], oid: &[u8]) -> Option<&'a [u8]> {
    let rest = token.strip_prefix(&[0x60])?;
    let (len, rest) = der_length(rest)?;
    if len != rest.len() {
        return None;
    }
    let rest = rest.strip_prefix(&[0x06])?;
    let (oid_len, rest) = der_length(rest)?;
    let (got, inner) = rest.split_at_checked(oid_len)?;
    (got == oid).then_some(inner)
}

/// Put the RFC 2743 §3.1 framing for mechanism `oid` around `inner`; `None` if the result
/// would not fit a DER length of up to four octets.
pub fn add_token_header(inner: &[u8], oid: &[u8]) -> Option<Vec<u8>> {
    let mut oid_part = vec![0x06];
    push_der_length(oid.len(), &mut oid_part)?;
    oid_part.extend_from_slice(oid);
    let total = oid_part.len().checked_add(inner.len())?;
    let mut out = Vec::with_capacity(total.checked_add(6)?);
    out.push(0x60);
    push_der_length(total, &mut out)?;
    out.extend_from_slice(&oid_part);
    out.extend_from_slice(inner);
    Some(out)
}

/// A DER length and what follows it.
fn der_length(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = bytes.split_first()?;
    if first < 0x80 {
        return Some((usize::from(first), rest));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let (digits, rest) = rest.split_at_checked(n)?;
    // DER: the shortest form, no leading zero octet.
    if digits.first() == Some(&0) {
        return None;
    }
    let len = digits
        .iter()
        .fold(0usize, |acc, &d| (acc << 8) | usize::from(d));
    if len < 0x80 {
        return None;
    }
    Some((len, rest))
}

fn push_der_length(len: usize, out: &mut Vec<u8>) -> Option<()> {
    if len < 0x80 {
        out.push(u8::try_from(len).ok()?);
        return Some(());
    }
    let bytes = u32::try_from(len).ok()?.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let digits = bytes.get(skip..)?;
    out.push(0x80 | u8::try_from(digits.len()).ok()?);
    out.extend_from_slice(digits);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_message_round_trip_and_short_input() {
        let m = LayerMessage {
            layers: NO_SECURITY_LAYER | INTEGRITY_LAYER,
            max_buffer: 0x0001_0000,
            authzid: b"",
        };
        assert_eq!(m.to_vec(), [3, 1, 0, 0]);
        assert_eq!(LayerMessage::parse(&[3, 1, 0, 0]), Some(m));
        assert_eq!(LayerMessage::parse(&[1, 0, 0]), None);
        assert_eq!(LayerMessage::parse(b""), None);
    }

    #[test]
    fn gs2_headers() {
        let (h, rest) = parse_gs2_header(b"n,,tok").unwrap();
        assert_eq!(h.channel_binding, Gs2ChannelBinding::None);
        assert_eq!(h.authzid, None);
        assert_eq!(h.bound_header, b"n,,");
        assert_eq!(rest, b"tok");
        let (h, rest) = parse_gs2_header(b"F,y,a=x=3Dy,").unwrap();
        assert!(h.nonstandard);
        assert_eq!(h.channel_binding, Gs2ChannelBinding::ClientOnly);
        assert_eq!(h.authzid.as_deref(), Some("x=y"));
        assert_eq!(h.bound_header, b"y,a=x=3Dy,");
        assert_eq!(rest, b"");
        let (h, _) = parse_gs2_header(b"p=tls-exporter,,").unwrap();
        assert_eq!(
            h.channel_binding,
            Gs2ChannelBinding::Bound("tls-exporter".into())
        );
        for bad in [
            &b""[..],
            b"n",
            b"n,",
            b"x,,",
            b"p=,,",
            b"p=a b,,",
            b"n,a=,",
            b"n,b=x,",
            b"n,a=x=2,",
            b"n,a=x=41,",
            b"n,a=\xff,",
            b"n,a=x\0y,",
        ] {
            assert_eq!(parse_gs2_header(bad), Err(Failure::Malformed), "{bad:?}");
        }
        let mut out = Vec::new();
        escape_saslname("a,b=c", &mut out);
        assert_eq!(out, b"a=2Cb=3Dc");
        assert_eq!(unescape_saslname(&out).unwrap(), "a,b=c");
    }

    #[test]
    fn token_header_round_trip() {
        for len in [0usize, 1, 100, 116, 117, 118, 300, 70_000] {
            let inner = vec![0xa5; len];
            let framed = add_token_header(&inner, KRB5_OID).unwrap();
            assert_eq!(framed.first(), Some(&0x60));
            assert_eq!(strip_token_header(&framed, KRB5_OID), Some(&inner[..]));
            // Another mechanism's OID, a truncated token, a longer one: not this framing.
            assert_eq!(strip_token_header(&framed, b"\x2b\x06"), None);
            assert_eq!(
                strip_token_header(&framed[..framed.len() - 1], KRB5_OID),
                None
            );
            let mut longer = framed.clone();
            longer.push(0);
            assert_eq!(strip_token_header(&longer, KRB5_OID), None);
        }
        // Non-minimal DER lengths are refused.
        assert_eq!(
            strip_token_header(b"\x60\x81\x05\x06\x01\x2a\x00\x00", b"\x2a"),
            None
        );
        assert_eq!(strip_token_header(b"\x60\x80", KRB5_OID), None);
    }
}
