//! Channel binding in SCRAM (RFC 5802 §6): the gs2 header's flag, and the slot each type's
//! data has in the server's buffer.

use crate::channel_binding::ChannelBindingType;
use crate::error::Failure;

/// The channel-binding flag of a gs2 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CbFlag {
    /// `n`: the client does not support channel binding.
    No,
    /// `y`: the client supports it but thinks the server does not.
    NotOffered,
    /// `p=`: the client binds to this type (`None`: a type this engine does not know).
    Bound(Option<ChannelBindingType>),
}

impl CbFlag {
    /// Parse `gs2-cbind-flag = ("p=" cb-name) / "n" / "y"`.
    pub(super) fn parse(flag: &[u8]) -> Result<CbFlag, Failure> {
        Ok(match flag {
            b"n" => CbFlag::No,
            b"y" => CbFlag::NotOffered,
            [b'p', b'=', name @ ..] => {
                if name.is_empty()
                    || !name
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
                {
                    return Err(Failure::Malformed);
                }
                // An unknown type is a channel-binding failure, decided after the grammar.
                CbFlag::Bound(ChannelBindingType::from_name(name))
            }
            _ => return Err(Failure::Malformed),
        })
    }
}

/// The slot of a channel-binding type in the server's table of binding data.
pub(super) fn cb_index(t: ChannelBindingType) -> usize {
    match t {
        ChannelBindingType::TlsExporter => 0,
        ChannelBindingType::TlsServerEndPoint => 1,
        ChannelBindingType::TlsUnique => 2,
    }
}
