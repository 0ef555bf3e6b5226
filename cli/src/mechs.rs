//! What the command-line tool knows about each mechanism: the shape of its exchange on the
//! line protocol, and the flags it takes. A new mechanism is one more arm in [`shape`].

use saslmech::{ChannelBindingType, Mechanism};

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
    /// What the server needs (in the users file, and flags), for `--help`.
    pub server_needs: &'static str,
}

/// The shape of `mechanism`, or `None` if the command-line tool does not drive it.
pub fn shape(mechanism: Mechanism) -> Option<Shape> {
    const PASSWORD: &str = "--authcid U (--password P | --password-file F)";
    const PASSWORD_AUTHZ: &str = "--authcid U (--password P | --password-file F) [--authzid Z]";
    const ANY_PASSWORD: &str = "user:password, user:{CRAM-MD5}hash or user:SCRAM-SHA-*$keys";
    const TOKEN: &str = "user:{BEARER}token";
    const SHA1_CB: &str = "as SCRAM-SHA-1, and --cb-type T --cb-data-hex H";
    const SHA256_CB: &str = "as SCRAM-SHA-256, and --cb-type T --cb-data-hex H";
    const SHA512_CB: &str = "as SCRAM-SHA-512, and --cb-type T --cb-data-hex H";
    #[cfg(feature = "gssapi")]
    const KERBEROS: &str = "--service S --hostname H [--authzid Z] (a ticket: kinit, KRB5CCNAME)";
    #[cfg(feature = "gssapi")]
    const KERBEROS_SERVER: &str = "no users file; the keytab in KRB5_KTNAME";
    let scram = |client_flags, server_needs| Shape {
        client_messages: 2,
        success_data: true,
        client_flags,
        server_needs,
    };
    let one = |client_flags, server_needs| Shape {
        client_messages: 1,
        success_data: false,
        client_flags,
        server_needs,
    };
    Some(match mechanism {
        Mechanism::Plain => one(PASSWORD_AUTHZ, ANY_PASSWORD),
        Mechanism::Login => Shape {
            client_messages: 2,
            ..one(PASSWORD, ANY_PASSWORD)
        },
        Mechanism::CramMd5 => one(PASSWORD, "user:password or user:{CRAM-MD5}hash"),
        Mechanism::ScramSha1 => scram(PASSWORD_AUTHZ, "user:password or user:SCRAM-SHA-1$keys"),
        Mechanism::ScramSha256 => scram(PASSWORD_AUTHZ, "user:password or user:SCRAM-SHA-256$keys"),
        Mechanism::ScramSha512 => scram(PASSWORD_AUTHZ, "user:password or user:SCRAM-SHA-512$keys"),
        // The same flags on both sides, and channel binding.
        Mechanism::ScramSha1Plus => scram(SHA1_CB, SHA1_CB),
        Mechanism::ScramSha256Plus => scram(SHA256_CB, SHA256_CB),
        Mechanism::ScramSha512Plus => scram(SHA512_CB, SHA512_CB),
        Mechanism::OAuthBearer => one("--authcid U --token T [--authzid Z]", TOKEN),
        Mechanism::XOAuth2 => one("--authcid U --token T", TOKEN),
        Mechanism::External => one("[--authzid Z]", "no users file; --external-id ID"),
        Mechanism::Anonymous => one("[--trace T]", "no users file"),
        // The client writes its first token, an empty line after the server's last context
        // token, and its security-layer choice.
        #[cfg(feature = "gssapi")]
        Mechanism::Gssapi => Shape {
            client_messages: 3,
            ..one(KERBEROS, KERBEROS_SERVER)
        },
        // One message; the server's last context token is success data.
        #[cfg(feature = "gssapi")]
        Mechanism::Gs2Krb5 => Shape {
            success_data: true,
            ..one(KERBEROS, KERBEROS_SERVER)
        },
        _ => return None,
    })
}

/// The mechanisms the tool drives, in the engine's order.
pub fn supported() -> impl Iterator<Item = Mechanism> {
    #[cfg(feature = "gssapi")]
    let kerberos = saslmech::KERBEROS_MECHANISMS.iter();
    #[cfg(not(feature = "gssapi"))]
    let kerberos = [].iter();
    saslmech::ALL_MECHANISMS
        .iter()
        .chain(kerberos)
        .copied()
        .filter(|m| shape(*m).is_some())
}

/// The `--cb-type` names.
pub const CB_TYPES: [&str; 3] = ["tls-exporter", "tls-server-end-point", "tls-unique"];

/// Channel-binding data from `--cb-type T --cb-data-hex H`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelBinding {
    pub kind: ChannelBindingType,
    pub data: Vec<u8>,
}

/// Longest channel-binding data accepted (a tls-server-end-point hash of SHA-512 is 64
/// octets; tls-exporter and tls-unique are 32 and 12).
pub const MAX_CB_DATA: usize = 1024;

impl ChannelBinding {
    /// Validate the pair of flags.
    #[cfg(test)]
    pub fn parse(kind: &str, hex: &str) -> Result<ChannelBinding, String> {
        Ok(ChannelBinding {
            kind: Self::parse_type(kind)?,
            data: Self::parse_data(hex)?,
        })
    }

    /// `--cb-type`: one of [`CB_TYPES`] (case matters).
    pub fn parse_type(kind: &str) -> Result<ChannelBindingType, String> {
        ChannelBindingType::from_name(kind.as_bytes()).ok_or_else(|| {
            format!(
                "--cb-type {kind:?}: expected one of {}",
                CB_TYPES.join(", ")
            )
        })
    }

    /// `--cb-data-hex`: 1 to [`MAX_CB_DATA`] octets in hex.
    pub fn parse_data(hex: &str) -> Result<Vec<u8>, String> {
        let data = decode_hex(hex)
            .ok_or_else(|| "expected an even number of hex digits, at least 2".to_owned())?;
        if data.len() > MAX_CB_DATA {
            return Err(format!(
                "at most {MAX_CB_DATA} octets of channel-binding data"
            ));
        }
        Ok(data)
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    // Either case, as before; empty data is refused.
    base16ct::mixed::decode_vec(hex)
        .ok()
        .filter(|d| !d.is_empty())
}

/// Whether `mechanism` can run with (or without) the given channel binding: the SCRAM
/// `-PLUS` mechanisms need it (the client hands it to `ClientConfig::channel_binding`, the
/// server to `Transport::with_channel_binding`), the others refuse it.
pub fn check_channel_binding(
    mechanism: Mechanism,
    cb: Option<&ChannelBinding>,
) -> Result<(), String> {
    match (mechanism.channel_binding(), cb) {
        (false, None) | (true, Some(_)) => Ok(()),
        (false, Some(cb)) => Err(format!(
            "{mechanism} takes no channel binding (--cb-type {} is for the -PLUS mechanisms)",
            cb.kind.name()
        )),
        (true, None) => Err(format!(
            "{mechanism} needs channel binding: --cb-type T --cb-data-hex H"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_mechanism_has_a_shape() {
        for m in saslmech::ALL_MECHANISMS {
            let s = shape(*m).unwrap();
            assert!(s.client_messages >= 1, "{m}");
            assert!(
                !s.client_flags.is_empty() && !s.server_needs.is_empty(),
                "{m}"
            );
            // Only SCRAM has a second client message and success data.
            assert_eq!(s.success_data, m.is_scram(), "{m}");
            assert_eq!(
                s.client_messages,
                if m.is_scram() || *m == Mechanism::Login {
                    2
                } else {
                    1
                },
                "{m}"
            );
            assert_eq!(
                s.client_flags.contains("--cb-type"),
                m.channel_binding(),
                "{m}"
            );
        }
        #[cfg(not(feature = "gssapi"))]
        assert_eq!(supported().count(), saslmech::ALL_MECHANISMS.len());
        #[cfg(feature = "gssapi")]
        {
            assert_eq!(supported().count(), saslmech::ALL_MECHANISMS.len() + 2);
            assert_eq!(shape(Mechanism::Gssapi).unwrap().client_messages, 3);
            assert!(shape(Mechanism::Gs2Krb5).unwrap().success_data);
        }
    }

    #[test]
    fn channel_binding_flags_are_validated() {
        let cb = ChannelBinding::parse("tls-exporter", "00ff7A").unwrap();
        assert_eq!(cb.kind, ChannelBindingType::TlsExporter);
        assert_eq!(cb.data, [0x00, 0xff, 0x7a]);
        for t in ["tls-exporter", "tls-server-end-point", "tls-unique"] {
            assert_eq!(ChannelBinding::parse(t, "00").unwrap().kind.name(), t);
            assert!(CB_TYPES.contains(&t));
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
    fn only_the_plus_mechanisms_take_channel_binding() {
        let cb = ChannelBinding::parse("tls-unique", "0102").unwrap();
        for m in saslmech::ALL_MECHANISMS {
            if m.channel_binding() {
                assert!(check_channel_binding(*m, Some(&cb)).is_ok(), "{m}");
                let e = check_channel_binding(*m, None).unwrap_err();
                assert!(e.contains("needs channel binding"), "{e}");
            } else {
                assert!(check_channel_binding(*m, None).is_ok());
                let e = check_channel_binding(*m, Some(&cb)).unwrap_err();
                assert!(e.contains("takes no channel binding"), "{e}");
            }
        }
    }
}
