//! What the command-line tool knows about each mechanism: the shape of its exchange on the
//! line protocol, and the flags it takes. A new mechanism is one more arm in [`shape`].

use saslmech::Mechanism;

/// A mechanism's exchange as the line protocol sees it, and its flags for `--help`.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// How many lines the client writes before the server's final line (an initial response
    /// counts as one). The server line that follows them ends the exchange: empty, or
    /// carrying success data if `success_data`; any other line is one more challenge (an
    /// OAuth error challenge, say), answered before the server ends the exchange.
    pub client_messages: usize,
    /// The server's final line carries data the client verifies (SCRAM's `v=`).
    pub success_data: bool,
    /// The client's flags, for `--help`.
    pub client_flags: &'static str,
    /// What the server needs in the users file, for `--help`.
    pub users_file: &'static str,
}

/// The shape of `mechanism`, or `None` if the command-line tool does not drive it (yet).
pub fn shape(mechanism: Mechanism) -> Option<Shape> {
    const PASSWORD_LINE: &str = "user:password (or {CRAM-MD5} hash)";
    Some(match mechanism {
        Mechanism::Plain => Shape {
            client_messages: 1,
            success_data: false,
            client_flags: "--authcid U (--password P | --password-file F) [--authzid Z]",
            users_file: PASSWORD_LINE,
        },
        Mechanism::Login => Shape {
            client_messages: 2,
            success_data: false,
            client_flags: "--authcid U (--password P | --password-file F)",
            users_file: PASSWORD_LINE,
        },
        Mechanism::CramMd5 => Shape {
            client_messages: 1,
            success_data: false,
            client_flags: "--authcid U (--password P | --password-file F)",
            users_file: PASSWORD_LINE,
        },
        Mechanism::XOAuth2 => Shape {
            client_messages: 1,
            success_data: false,
            client_flags: "--authcid U --token T",
            users_file: "user:{BEARER}token",
        },
        // New mechanisms are one arm each (SCRAM-SHA-*: client_messages 2, success_data
        // true; OAUTHBEARER, EXTERNAL, ANONYMOUS: 1, false).
        _ => return None,
    })
}

/// The mechanisms the tool drives, in the engine's order.
pub fn supported() -> impl Iterator<Item = Mechanism> {
    saslmech::ALL_MECHANISMS
        .iter()
        .copied()
        .filter(|m| shape(*m).is_some())
}

/// A channel-binding type (`--cb-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CbType {
    /// RFC 9266 (TLS 1.3).
    Exporter,
    /// RFC 5929 (a hash of the server's certificate).
    ServerEndPoint,
    /// RFC 5929 (TLS 1.2 and older).
    Unique,
}

impl CbType {
    pub const NAMES: &'static str = "tls-exporter, tls-server-end-point, tls-unique";

    pub fn parse(s: &str) -> Option<CbType> {
        match s {
            "tls-exporter" => Some(CbType::Exporter),
            "tls-server-end-point" => Some(CbType::ServerEndPoint),
            "tls-unique" => Some(CbType::Unique),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CbType::Exporter => "tls-exporter",
            CbType::ServerEndPoint => "tls-server-end-point",
            CbType::Unique => "tls-unique",
        }
    }
}

/// Channel-binding data from `--cb-type T --cb-data-hex H`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelBinding {
    pub kind: CbType,
    pub data: Vec<u8>,
}

/// Longest channel-binding data accepted (a tls-server-end-point hash of SHA-512 is 64
/// octets; tls-exporter and tls-unique are 32 and 12).
pub const MAX_CB_DATA: usize = 1024;

impl ChannelBinding {
    /// Validate the pair of flags.
    pub fn parse(kind: &str, hex: &str) -> Result<ChannelBinding, String> {
        let kind = CbType::parse(kind)
            .ok_or_else(|| format!("--cb-type {kind:?}: expected one of {}", CbType::NAMES))?;
        let data = decode_hex(hex).ok_or_else(|| {
            "--cb-data-hex: expected an even number of hex digits, at least 2".to_owned()
        })?;
        if data.len() > MAX_CB_DATA {
            return Err(format!(
                "--cb-data-hex: at most {MAX_CB_DATA} octets of channel-binding data"
            ));
        }
        Ok(ChannelBinding { kind, data })
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// Whether `mechanism` can run with (or without) the given channel binding.
///
/// This is where channel binding plugs in: when the engine takes channel-binding data (the
/// SCRAM `-PLUS` mechanisms), the last arm hands `cb` to it (client: with the credentials;
/// server: with the transport) instead of refusing.
pub fn check_channel_binding(
    mechanism: Mechanism,
    cb: Option<&ChannelBinding>,
) -> Result<(), String> {
    match (mechanism.channel_binding(), cb) {
        (false, None) => Ok(()),
        (false, Some(cb)) => Err(format!(
            "{mechanism} takes no channel binding (--cb-type {} is for the -PLUS mechanisms)",
            cb.kind.name()
        )),
        (true, None) => Err(format!(
            "{mechanism} needs channel binding: --cb-type T --cb-data-hex H"
        )),
        (true, Some(_)) => Err(format!(
            "{mechanism}: this build of the engine takes no channel-binding data yet"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_mechanism_of_today_has_a_shape() {
        for m in saslmech::ALL_MECHANISMS {
            let s = shape(*m).unwrap();
            assert!(s.client_messages >= 1, "{m}");
            assert!(
                !s.client_flags.is_empty() && !s.users_file.is_empty(),
                "{m}"
            );
        }
        assert_eq!(supported().count(), saslmech::ALL_MECHANISMS.len());
    }

    #[test]
    fn channel_binding_flags_are_validated() {
        let cb = ChannelBinding::parse("tls-exporter", "00ff7A").unwrap();
        assert_eq!(cb.kind, CbType::Exporter);
        assert_eq!(cb.data, [0x00, 0xff, 0x7a]);
        for t in ["tls-exporter", "tls-server-end-point", "tls-unique"] {
            assert_eq!(CbType::parse(t).unwrap().name(), t);
        }
        assert!(ChannelBinding::parse("tls-foo", "00").is_err());
        assert!(ChannelBinding::parse("TLS-EXPORTER", "00").is_err());
        for bad in ["", "0", "0g", "abc", "+1", " 00", "é0"] {
            assert!(ChannelBinding::parse("tls-unique", bad).is_err(), "{bad:?}");
        }
        let long = "00".repeat(MAX_CB_DATA + 1);
        assert!(ChannelBinding::parse("tls-unique", &long).is_err());
        assert!(ChannelBinding::parse("tls-unique", &long[2..]).is_ok());
    }

    #[test]
    fn mechanisms_without_channel_binding_refuse_it() {
        let cb = ChannelBinding::parse("tls-unique", "0102").unwrap();
        for m in saslmech::ALL_MECHANISMS {
            assert!(check_channel_binding(*m, None).is_ok());
            let e = check_channel_binding(*m, Some(&cb)).unwrap_err();
            assert!(e.contains("takes no channel binding"), "{e}");
        }
    }
}
