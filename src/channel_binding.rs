//! Channel binding (RFC 5056): the types the SCRAM `-PLUS` mechanisms bind to
//! ([`ChannelBindingType`]) and the data the TLS layer gives for one ([`ChannelBinding`]).

use core::fmt;

use crate::secret::SecretBuf;

/// A channel-binding type (RFC 5056 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelBindingType {
    /// `tls-exporter` (RFC 9266): the TLS exporter with label `EXPORTER-Channel-Binding`, empty
    /// context, 32 octets. The choice for TLS 1.3.
    TlsExporter,
    /// `tls-server-end-point` (RFC 5929): a hash of the server's certificate. Works with TLS 1.3
    /// and through TLS-terminating proxies.
    TlsServerEndPoint,
    /// `tls-unique` (RFC 5929): the first Finished message. TLS 1.2 and older only.
    TlsUnique,
}

impl ChannelBindingType {
    /// The registered name, as carried in `p=`.
    pub const fn name(self) -> &'static str {
        match self {
            ChannelBindingType::TlsExporter => "tls-exporter",
            ChannelBindingType::TlsServerEndPoint => "tls-server-end-point",
            ChannelBindingType::TlsUnique => "tls-unique",
        }
    }

    /// Look up a name (exact, as registered).
    pub fn from_name(name: &[u8]) -> Option<ChannelBindingType> {
        [
            ChannelBindingType::TlsExporter,
            ChannelBindingType::TlsServerEndPoint,
            ChannelBindingType::TlsUnique,
        ]
        .into_iter()
        .find(|t| t.name().as_bytes() == name)
    }
}

/// Channel-binding data of one type, taken from the TLS connection by the caller.
#[derive(Clone)]
pub struct ChannelBinding {
    kind: ChannelBindingType,
    data: SecretBuf,
}

impl ChannelBinding {
    /// Channel-binding `data` of type `kind`.
    pub fn new(kind: ChannelBindingType, data: &[u8]) -> ChannelBinding {
        ChannelBinding {
            kind,
            data: SecretBuf::from_slice(data),
        }
    }

    /// The type.
    pub fn kind(&self) -> ChannelBindingType {
        self.kind
    }

    /// The data.
    pub fn data(&self) -> &[u8] {
        self.data.as_slice()
    }
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChannelBinding({}, {} bytes)",
            self.kind.name(),
            self.data.len()
        )
    }
}
