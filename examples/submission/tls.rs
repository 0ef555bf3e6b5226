//! TLS: the certificates made at start and the rustls configuration.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use saslmech::{ChannelBindingType, Transport};
use sha2::{Digest, Sha256};

/// PEM armour for DER bytes.
fn pem(label: &str, der: &[u8]) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    let b64 = saslmech::b64::encode(der);
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The TLS side of the server: configuration, and what a connection's handshake tells the
/// SASL layer.
pub(crate) struct Tls {
    pub(crate) config: Arc<rustls::ServerConfig>,
    /// `tls-server-end-point` (RFC 5929): SHA-256 of the server certificate (its signature
    /// uses SHA-256).
    pub(crate) end_point: [u8; 32],
    /// The client certificates the demo CA issued: SHA-256 of the DER -> the identity.
    pub(crate) client_certs: HashMap<[u8; 32], String>,
}

impl Tls {
    /// The transport after a completed handshake: channel-binding data and, for a client
    /// certificate the demo issued (its chain already verified by rustls), the identity.
    pub(crate) fn transport(&self, conn: &rustls::ServerConnection) -> Transport {
        let mut transport = Transport::tls()
            .with_channel_binding(ChannelBindingType::TlsServerEndPoint, &self.end_point);
        // RFC 9266: tls-exporter is defined for TLS 1.3 only.
        if conn.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
            && let Ok(ekm) =
                conn.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(b""))
        {
            transport = transport.with_channel_binding(ChannelBindingType::TlsExporter, &ekm);
        }
        let identity = conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|cert| self.client_certs.get(&sha256(cert)));
        if let Some(identity) = identity {
            transport = transport.with_external_identity(identity);
        }
        transport
    }
}

/// Files the server writes for clients: its certificate and, in demo mode, a client
/// certificate and key for EXTERNAL.
pub(crate) struct TlsFiles {
    pub(crate) server_cert_pem: String,
    pub(crate) client: Option<(String, String)>,
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, and the TLS configuration using
/// it. With `client_identity`, also a demo CA that issues one client certificate for that
/// identity: clients may present it (client certificates are optional), and rustls verifies
/// its chain against the demo CA.
pub(crate) fn tls_config(client_identity: Option<&str>) -> Result<(Tls, TlsFiles), String> {
    let err = |e: &dyn std::fmt::Display| format!("TLS: {e}");
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| err(&e))?;
    let cert: CertificateDer<'static> = certified.cert.der().clone();
    let server_cert_pem = pem("CERTIFICATE", &cert);
    let end_point = sha256(&cert);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?;
    let mut client_certs = HashMap::new();
    let mut client = None;
    let builder = match client_identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            use rcgen::{
                BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
                KeyPair, KeyUsagePurpose, SanType,
            };
            let mut ca = CertificateParams::default();
            ca.distinguished_name
                .push(DnType::CommonName, "saslmech demo client CA");
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let ca_key = KeyPair::generate().map_err(|e| err(&e))?;
            let ca_cert = ca.self_signed(&ca_key).map_err(|e| err(&e))?;
            let issuer = Issuer::new(ca, ca_key);
            let mut leaf = CertificateParams::default();
            leaf.distinguished_name.push(DnType::CommonName, identity);
            leaf.subject_alt_names = vec![SanType::Rfc822Name(
                identity.try_into().map_err(|e| err(&e))?,
            )];
            leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            let leaf_key = KeyPair::generate().map_err(|e| err(&e))?;
            let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(|e| err(&e))?;
            client_certs.insert(sha256(leaf_cert.der()), identity.to_owned());
            client = Some((
                pem("CERTIFICATE", leaf_cert.der()),
                pem("PRIVATE KEY", &leaf_key.serialize_der()),
            ));
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca_cert.der().clone()).map_err(|e| err(&e))?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| err(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(vec![cert], key)
        .map_err(|e| err(&e))?;
    Ok((
        Tls {
            config: Arc::new(config),
            end_point,
            client_certs,
        },
        TlsFiles {
            server_cert_pem,
            client,
        },
    ))
}
