//! The fuzz target bodies of saslmech, as ordinary functions.
//!
//! Each target takes arbitrary bytes and drives the engine with them, through its public API
//! only, checking *oracles* as it goes: it panics only when the engine breaks a promise, never
//! because the input is odd. The cargo-fuzz targets in `fuzz/fuzz_targets/` are one-line
//! wrappers around these functions, and this crate's test `tests/replay.rs` replays every
//! committed corpus file through them on stable (`cargo test --workspace`, so `make check`),
//! so a crash found by a campaign becomes a regression test by saving its input in
//! `fuzz/corpus/<target>/`.
//!
//! Oracles checked by every target:
//! * no panic, and every output bounded by the configured limits;
//! * a call the session refuses (`Err(InvalidState | WrongAnswer)`) changes nothing;
//! * after success or failure every further call is `Err(Error::InvalidState)`;
//! * the server reports success only for the right credentials: a password it was told to
//!   compare equals the one the client presented; a CRAM-MD5 digest equals HMAC-MD5 of the
//!   challenge under the stored password, computed here with the `hmac` crate as an
//!   independent reference; a token was accepted by the application.
//!
//! # Input formats
//!
//! Inputs are read with [`Input`]: single bytes select operations and flags, and byte strings
//! are length-prefixed ([`Script`] writes them). Reading past the end yields zeros and empty
//! strings, so every byte string is a valid input. The formats are those the committed corpus
//! was found with: change one and that target's corpus turns into noise.
//!
//! * [`server`]: two configuration bytes (see [`server_config`]), then operations: a byte
//!   naming one of [`ServerOperation`] followed by its operands.
//! * [`client`]: a flags byte, optional credentials, then operations ([`ClientOperation`]).
//! * [`differential`]: a mechanism byte, a flags byte ([`differential_flag`]), credentials,
//!   then one [`Mutation`] byte (plus operands) per message in flight.
//! * the adapter targets: a configuration, then operations ([`AdapterServerOperation`] for the
//!   servers, [`AdapterClientLine`] for the lines the clients are fed).
//! * [`base64()`]: the raw bytes, used both as text to decode and as data to encode.
//!
//! # Adding a target
//!
//! Write `pub fn NAME(data: &[u8])` here, add `("NAME", NAME)` to [`TARGETS`], and run
//! `scripts/fuzz-add-target.sh NAME` (it writes `fuzz/fuzz_targets/NAME.rs`, the `[[bin]]`
//! entry and an empty corpus directory). `tests/replay.rs` checks that the three agree.
//! A new mechanism needs only a line in [`MECHANISMS`] and its two one-line functions.

#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;

use saslmech::b64;
use saslmech::saslprep::{self, Mode};
use saslmech::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, CramMd5Keys, Credentials, Error,
    Failure, Mechanism, NonceSource, Request, ScramHash, ScramKeys, ServerConfig, ServerSession,
    ServerStep, TokenError, Transport,
};

#[forbid(unsafe_code)]
mod adapters;
// The C ABI target calls the C exports, so it needs `unsafe` (each block justified there);
// every other module forbids it.
#[cfg(feature = "capi")]
#[allow(unsafe_code)]
mod capi;
#[forbid(unsafe_code)]
mod client;
#[forbid(unsafe_code)]
mod differential;
#[cfg(feature = "gssapi")]
#[forbid(unsafe_code)]
mod gssapi;
#[forbid(unsafe_code)]
mod input;
#[forbid(unsafe_code)]
mod reference;
#[forbid(unsafe_code)]
mod server;
#[forbid(unsafe_code)]
mod server_oracle;

pub use adapters::{
    AdapterClientLine, AdapterServerOperation, imap_client, imap_server, pop3_client, pop3_server,
    smtp_client, smtp_server,
};
#[cfg(feature = "capi")]
pub use capi::capi;
pub use client::{ClientOperation, DEFAULT_AUTHCID, DEFAULT_PASSWORD, DEFAULT_TOKEN, client};
pub use differential::{
    DIFFERENTIAL_OWNER, Mutation, differential, differential_binding, differential_flag,
};
#[cfg(feature = "gssapi")]
pub use gssapi::{gs2_header, gssapi_layer};
pub use input::{Input, Script};
pub use reference::{
    reference_cram_md5, reference_decode, reference_h, reference_hi, reference_hmac,
    reference_scram_proof_ok, reference_scram_stored_key,
};
pub use server::{
    AnswerKind, ServerLimits, ServerOperation, scram_hash, server, server_config, server_limits,
};

// Shared between the bodies (each module imports `crate::*`).
use input::utf8_prefix;
use reference::{cram_md5_digest, scram_attr, scram_salt_and_iterations, scram_username};
use server::{OwnedAnswer, Pending, check_identity, pending_of};
use server_oracle::{Outcome, ServerOracle, Snapshot};

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every fuzz target: its name (the cargo-fuzz target and corpus directory) and its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("server_plain", server_plain),
    ("server_login", server_login),
    ("server_cram_md5", server_cram_md5),
    ("server_xoauth2", server_xoauth2),
    ("client_plain", client_plain),
    ("client_login", client_login),
    ("client_cram_md5", client_cram_md5),
    ("client_xoauth2", client_xoauth2),
    ("differential", differential),
    ("base64", base64),
    ("mechanism_list", mechanism_list),
    ("server_scram_sha_1", server_scram_sha_1),
    ("server_scram_sha_256", server_scram_sha_256),
    ("server_scram_sha_1_plus", server_scram_sha_1_plus),
    ("server_scram_sha_256_plus", server_scram_sha_256_plus),
    ("server_oauthbearer", server_oauthbearer),
    ("server_external", server_external),
    ("server_anonymous", server_anonymous),
    ("client_scram_sha_1", client_scram_sha_1),
    ("client_scram_sha_256", client_scram_sha_256),
    ("client_scram_sha_1_plus", client_scram_sha_1_plus),
    ("client_scram_sha_256_plus", client_scram_sha_256_plus),
    ("client_oauthbearer", client_oauthbearer),
    ("client_external", client_external),
    ("client_anonymous", client_anonymous),
    ("smtp_server", smtp_server),
    ("imap_server", imap_server),
    ("pop3_server", pop3_server),
    ("smtp_client", smtp_client),
    ("imap_client", imap_client),
    ("pop3_client", pop3_client),
    #[cfg(feature = "capi")]
    ("capi", capi),
    #[cfg(feature = "gssapi")]
    ("gssapi_layer", gssapi_layer),
    #[cfg(feature = "gssapi")]
    ("gs2_header", gs2_header),
];

/// The targets that exist only with the feature `gssapi` (GSSAPI's and GS2-KRB5's framing).
pub const GSSAPI_TARGETS: &[&str] = &["gssapi_layer", "gs2_header"];

/// The mechanisms the differential target chooses from (by its first byte, modulo the length).
/// Append new mechanisms at the end so that existing corpus files keep their meaning.
pub const MECHANISMS: &[Mechanism] = &[
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::CramMd5,
    Mechanism::XOAuth2,
    Mechanism::ScramSha1,
    Mechanism::ScramSha256,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha256Plus,
    Mechanism::OAuthBearer,
    Mechanism::External,
    Mechanism::Anonymous,
    Mechanism::ScramSha512,
    Mechanism::ScramSha512Plus,
];

/// The server target for PLAIN.
pub fn server_plain(data: &[u8]) {
    server(Mechanism::Plain, data)
}
/// The server target for LOGIN.
pub fn server_login(data: &[u8]) {
    server(Mechanism::Login, data)
}
/// The server target for CRAM-MD5.
pub fn server_cram_md5(data: &[u8]) {
    server(Mechanism::CramMd5, data)
}
/// The server target for XOAUTH2.
pub fn server_xoauth2(data: &[u8]) {
    server(Mechanism::XOAuth2, data)
}
/// The client target for PLAIN.
pub fn client_plain(data: &[u8]) {
    client(Mechanism::Plain, data)
}
/// The client target for LOGIN.
pub fn client_login(data: &[u8]) {
    client(Mechanism::Login, data)
}
/// The client target for CRAM-MD5.
pub fn client_cram_md5(data: &[u8]) {
    client(Mechanism::CramMd5, data)
}
/// The client target for XOAUTH2.
pub fn client_xoauth2(data: &[u8]) {
    client(Mechanism::XOAuth2, data)
}
/// The server target for SCRAM-SHA-1.
pub fn server_scram_sha_1(data: &[u8]) {
    server(Mechanism::ScramSha1, data)
}
/// The server target for SCRAM-SHA-256.
pub fn server_scram_sha_256(data: &[u8]) {
    server(Mechanism::ScramSha256, data)
}
/// The server target for SCRAM-SHA-1-PLUS.
pub fn server_scram_sha_1_plus(data: &[u8]) {
    server(Mechanism::ScramSha1Plus, data)
}
/// The server target for SCRAM-SHA-256-PLUS.
pub fn server_scram_sha_256_plus(data: &[u8]) {
    server(Mechanism::ScramSha256Plus, data)
}
/// The server target for OAUTHBEARER.
pub fn server_oauthbearer(data: &[u8]) {
    server(Mechanism::OAuthBearer, data)
}
/// The server target for EXTERNAL.
pub fn server_external(data: &[u8]) {
    server(Mechanism::External, data)
}
/// The server target for ANONYMOUS.
pub fn server_anonymous(data: &[u8]) {
    server(Mechanism::Anonymous, data)
}
/// The client target for SCRAM-SHA-1.
pub fn client_scram_sha_1(data: &[u8]) {
    client(Mechanism::ScramSha1, data)
}
/// The client target for SCRAM-SHA-256.
pub fn client_scram_sha_256(data: &[u8]) {
    client(Mechanism::ScramSha256, data)
}
/// The client target for SCRAM-SHA-1-PLUS.
pub fn client_scram_sha_1_plus(data: &[u8]) {
    client(Mechanism::ScramSha1Plus, data)
}
/// The client target for SCRAM-SHA-256-PLUS.
pub fn client_scram_sha_256_plus(data: &[u8]) {
    client(Mechanism::ScramSha256Plus, data)
}
/// The client target for OAUTHBEARER.
pub fn client_oauthbearer(data: &[u8]) {
    client(Mechanism::OAuthBearer, data)
}
/// The client target for EXTERNAL.
pub fn client_external(data: &[u8]) {
    client(Mechanism::External, data)
}
/// The client target for ANONYMOUS.
pub fn client_anonymous(data: &[u8]) {
    client(Mechanism::Anonymous, data)
}

/// The most operations one input may drive (keeps every run short).
pub const MAX_OPS: usize = 48;
/// The largest message a `*_BIG` operation builds (above the default 64 KiB limit).
pub const MAX_BIG: usize = 80 * 1024;
/// The host name and fixed nonce that make the server's CRAM-MD5 challenge RFC 2195's.
pub const RFC2195_HOST: &str = "postoffice.reston.mci.net";
/// See [`RFC2195_HOST`].
pub const RFC2195_NONCE: &[u8] = b"1896.697170952";
/// The identity an ANONYMOUS exchange authenticates as (RFC 4505 leaves it to the server;
/// saslmech documents `anonymous`).
pub const ANONYMOUS_IDENTITY: &str = "anonymous";
/// The external identity the server targets' transport carries (config byte `b` bit 5).
pub const EXTERNAL_IDENTITY: &str = "client.example.net";
/// The SCRAM fake-salt secret of every server target (fixed, so runs are reproducible).
pub const SCRAM_SECRET: &[u8] = b"saslmech fuzzing scram secret";
/// The channel-binding data of the targets: `tls-exporter` (32 bytes), `tls-server-end-point`
/// (a SHA-256 certificate hash) and `tls-unique` (a 12-byte Finished message).
pub const CB_EXPORTER: &[u8] = &[0xe5; 32];
/// See [`CB_EXPORTER`].
pub const CB_END_POINT: &[u8] = &[0x5e; 32];
/// See [`CB_EXPORTER`].
pub const CB_UNIQUE: &[u8] = b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c";
/// RFC 5802's client nonce (the SCRAM-SHA-1 client targets' fixed nonce).
pub const RFC5802_CLIENT_NONCE: &[u8] = b"fyko+d2lbbFgONRv9qkxdawL";
/// RFC 7677's client nonce (the SCRAM-SHA-256 client targets' fixed nonce).
pub const RFC7677_CLIENT_NONCE: &[u8] = b"rOprNGfwEbeRWgbNEkqO";

/// The channel-binding type and data for a two-bit selector: 0 none, 1 `tls-exporter`,
/// 2 `tls-server-end-point`, 3 `tls-unique`.
pub fn channel_binding(sel: u8) -> Option<(ChannelBindingType, &'static [u8])> {
    match sel & 3 {
        1 => Some((ChannelBindingType::TlsExporter, CB_EXPORTER)),
        2 => Some((ChannelBindingType::TlsServerEndPoint, CB_END_POINT)),
        3 => Some((ChannelBindingType::TlsUnique, CB_UNIQUE)),
        _ => None,
    }
}

/// A counter pattern as nonce bytes (deterministic "random" nonces).
fn counter_nonce(buf: &mut [u8]) -> bool {
    for (i, x) in buf.iter_mut().enumerate() {
        *x = i as u8;
    }
    true
}

/// Mechanism names and the client's choice from an advertised list (an EHLO `AUTH` line, an
/// IMAP `AUTH=` capability list, a POP3 `SASL` line), split on spaces.
///
/// Oracles: a parsed name round-trips case-insensitively through `name`, `Display` and
/// `FromStr`; `select` picks a listed, usable mechanism (TLS policy and credentials
/// respected) and none stronger was listed; its choice does not depend on the list's order.
pub fn mechanism_list(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let names: Vec<&str> = text.split(' ').collect();
    let mut listed = Vec::new();
    for n in &names {
        let parsed = Mechanism::from_name(n.as_bytes());
        assert_eq!(parsed, n.parse::<Mechanism>().ok());
        if let Some(m) = parsed {
            assert!(m.name().eq_ignore_ascii_case(n));
            assert_eq!(m.to_string(), m.name());
            assert!(saslmech::ALL_MECHANISMS.contains(&m) || is_kerberos(m));
            let _ = (m.exposes_secret(), m.channel_binding(), format!("{m:?}"));
            listed.push(m);
        }
        if let Some(m) = Mechanism::from_name(n.trim().as_bytes()) {
            listed.push(m);
        }
    }
    let mut reversed = names.clone();
    reversed.reverse();
    for bits in 0..64u8 {
        let mut opts = if bits & 1 != 0 {
            saslmech::SelectOptions::password(bits & 4 != 0)
        } else {
            saslmech::SelectOptions::token(bits & 4 != 0)
        };
        opts.password |= bits & 2 != 0;
        opts = opts
            .allow_plaintext(bits & 8 != 0)
            .channel_binding(bits & 16 != 0)
            .external(bits & 32 != 0)
            .anonymous(bits & 34 == 34);
        let usable = |m: &Mechanism| {
            ((m.uses_password() && opts.password)
                || (m.uses_token() && opts.token)
                || (*m == Mechanism::External && opts.external)
                || (*m == Mechanism::Anonymous && opts.anonymous))
                && (!m.requires_tls() || opts.tls || opts.allow_plaintext)
                && (!m.channel_binding() || opts.channel_binding)
        };
        let chosen = saslmech::select(names.iter().copied(), opts);
        assert_eq!(
            chosen,
            saslmech::select(reversed.iter().copied(), opts),
            "order matters"
        );
        let _ = format!("{opts:?}");
        match chosen {
            Some(m) => {
                assert!(listed.contains(&m) && usable(&m), "{m} chosen");
                let rank = |x: &Mechanism| saslmech::ALL_MECHANISMS.iter().position(|y| y == x);
                for other in listed.iter().filter(|o| usable(o)) {
                    assert!(rank(&m) <= rank(other), "{m} chosen over {other}");
                }
            }
            None => assert!(!listed.iter().any(usable), "nothing chosen from {listed:?}"),
        }
    }
}

/// GSSAPI and GS2-KRB5 (feature `gssapi`): known by name, but not in `ALL_MECHANISMS` and
/// never chosen by `select` without `SelectOptions::kerberos` (which this target never sets).
fn is_kerberos(m: Mechanism) -> bool {
    #[cfg(feature = "gssapi")]
    if saslmech::KERBEROS_MECHANISMS.contains(&m) {
        assert!(m.uses_kerberos() && !m.uses_password() && !m.uses_token());
        return true;
    }
    let _ = m;
    false
}

/// Strict base64: the engine's decoder agrees with [`reference_decode`] on arbitrary text,
/// and encoding round-trips arbitrary bytes, with `encoded_len` exact and `encode_into`
/// appending.
pub fn base64(data: &[u8]) {
    let ours = b64::decode(data);
    let reference = reference_decode(data);
    match (&ours, &reference) {
        (Ok(a), Some(b)) => assert_eq!(a.as_slice(), b.as_slice(), "decoders disagree"),
        (Err(f), None) => assert_eq!(*f, Failure::InvalidBase64),
        _ => panic!("strictness differs: engine {ours:?}, reference {reference:?}"),
    }
    let mut buf = saslmech::SecretBuf::from_slice(b"junk");
    let r = b64::decode_into(data, &mut buf);
    assert_eq!(r.is_ok(), reference.is_some());
    if r.is_err() {
        assert!(
            buf.is_empty(),
            "decode_into left bytes behind after an error"
        );
    }
    let text = b64::encode(data);
    assert_eq!(text.len(), b64::encoded_len(data.len()));
    assert_eq!(reference_decode(text.as_bytes()).as_deref(), Some(data));
    let mut appended = saslmech::SecretBuf::from_slice(b"x");
    b64::encode_into(data, &mut appended);
    assert_eq!(appended.as_slice().first(), Some(&b'x'));
    assert_eq!(appended.as_slice().get(1..), Some(text.as_bytes()));
    match b64::decode(text.as_bytes()) {
        Ok(d) => assert_eq!(d.as_slice(), data),
        Err(f) => panic!("round trip failed: {f:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_reads_and_script_writes_the_same() {
        let long = vec![7u8; 300];
        let s = Script::new().byte(5).bytes(b"abc").bytes(&long).into_vec();
        let mut i = Input::new(&s);
        assert_eq!(i.byte(), 5);
        assert_eq!(i.bytes(), b"abc");
        assert_eq!(i.bytes(), long.as_slice());
        assert!(i.is_empty());
        assert_eq!(i.byte(), 0);
        assert_eq!(i.bytes(), b"");
    }

    #[test]
    fn operations_keep_their_bytes() {
        // The corpus was written with these values: an operation's byte never changes.
        for (i, op) in ServerOperation::ALL.iter().enumerate() {
            assert_eq!(usize::from(u8::from(*op)), i);
            assert_eq!(ServerOperation::from_byte(u8::from(*op)), *op);
        }
        assert_eq!(ServerOperation::from_byte(12), ServerOperation::Start);
        assert_eq!(u8::from(ServerOperation::StartBig), 11);
        assert_eq!(u8::from(AnswerKind::TokenOwner), 9);
        assert_eq!(u8::from(ClientOperation::StepBase64Big), 7);
        assert_eq!(u8::from(AdapterServerOperation::AuthBase64), 9);
        assert_eq!(u8::from(AdapterClientLine::More), 5);
        // Mutations are taken modulo 8: the two values past INSERT deliver unchanged.
        assert_eq!(Mutation::from_byte(5), Mutation::Insert);
        assert_eq!(Mutation::from_byte(6), Mutation::Pass);
        assert_eq!(Mutation::from_byte(7), Mutation::Pass);
        assert_eq!(Mutation::from_byte(8), Mutation::Pass);
        assert_eq!(Mutation::from_byte(9), Mutation::Truncate);
    }

    #[test]
    fn reference_decoder_is_strict() {
        assert_eq!(reference_decode(b"dGlt").as_deref(), Some(&b"tim"[..]));
        assert_eq!(reference_decode(b"AA==").as_deref(), Some(&b"\0"[..]));
        for bad in [
            &b"=AAA"[..],
            b"AAA=BBB=",
            b"dGm=",
            b"dG=t",
            b"AB==",
            b"dGl",
            b"A===",
        ] {
            assert_eq!(reference_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn targets_accept_empty_and_tiny_inputs() {
        for (name, f) in TARGETS {
            for data in [&b""[..], b"\0", b"\xff\xff\xff", b"\x01\x00\x01\x05dGlt"] {
                f(data);
                let _ = name;
            }
        }
    }
}
