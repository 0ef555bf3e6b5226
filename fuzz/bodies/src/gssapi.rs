//! The framing GSSAPI and GS2-KRB5 parse themselves (`saslmech::gssapi_framing`, feature
//! `gssapi`); the Kerberos tokens inside belong to the GSS-API library and are not fuzzed here.
//!
//! Oracles: no panic; what parses re-encodes to the same bytes.

use saslmech::gssapi_framing::{
    Gs2ChannelBinding, KRB5_OID, LayerMessage, add_token_header, escape_saslname, parse_gs2_header,
    strip_token_header,
};

/// RFC 4752's security-layer message (unwrapped): parse, and re-encode what parsed.
pub fn gssapi_layer(data: &[u8]) {
    match LayerMessage::parse(data) {
        Some(msg) => {
            assert!(msg.max_buffer <= 0x00ff_ffff);
            assert_eq!(
                msg.to_vec(),
                data,
                "a parsed layer message re-encodes to itself"
            );
        }
        None => assert!(data.len() < 4, "only messages shorter than 4 octets fail"),
    }
}

/// GS2-KRB5's first message: the GS2 header, then the context token without its RFC 2743
/// framing, which the server puts back (and must be able to take off again).
pub fn gs2_header(data: &[u8]) {
    let Ok((header, rest)) = parse_gs2_header(data) else {
        return;
    };
    // The header re-encodes to the bytes it came from.
    let mut again = Vec::new();
    match &header.channel_binding {
        Gs2ChannelBinding::None => again.push(b'n'),
        Gs2ChannelBinding::ClientOnly => again.push(b'y'),
        Gs2ChannelBinding::Bound(name) => {
            again.extend_from_slice(b"p=");
            again.extend_from_slice(name.as_bytes());
        }
    }
    again.push(b',');
    if let Some(z) = &header.authzid {
        assert!(!z.is_empty() && !z.contains('\0'));
        again.extend_from_slice(b"a=");
        escape_saslname(z, &mut again);
    }
    again.push(b',');
    assert_eq!(again, header.bound_header);
    let prefix: &[u8] = if header.nonstandard { b"F," } else { b"" };
    assert_eq!([prefix, &header.bound_header, rest].concat(), data);
    // The token framing round-trips.
    if let Some(framed) = add_token_header(rest, KRB5_OID) {
        assert_eq!(strip_token_header(&framed, KRB5_OID), Some(rest));
    }
    if let Some(inner) = strip_token_header(rest, KRB5_OID) {
        assert_eq!(add_token_header(inner, KRB5_OID).as_deref(), Some(rest));
    }
}
