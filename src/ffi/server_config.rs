//! `saslmech_server_config`: the policy and limits server sessions and adapters share, and the
//! one way to ask which mechanisms to offer on a connection.

use std::sync::Arc;

use super::enums::*;
use super::panic::*;
use crate::mechanism::Mechanism;
use crate::{ChannelBindingType, NonceSource, ServerConfig, Transport};

/// Server policy and limits, shared by many sessions. Sessions and adapters take a snapshot
/// when they are made (`saslmech_server_new`, `saslmech_proto_server_new`): later changes affect only new sessions, and the config may be
/// freed while sessions made from it live on. The functions taking it `const` may be called
/// from several threads at once; the setters need exclusive access.
pub struct saslmech_server_config {
    pub(crate) config: Arc<ServerConfig>,
    /// The advertised lists, indexed by `query_index` (kept ready so that reads are `const`).
    offered: [String; 8],
    poisoned: Poison,
}

impl Handle for saslmech_server_config {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_server_config {
    fn new(config: ServerConfig) -> Self {
        let mut c = saslmech_server_config {
            config: Arc::new(config),
            offered: Default::default(),
            poisoned: Poison::default(),
        };
        c.refresh();
        c
    }

    /// Apply a builder method (copying the configuration first if sessions share it).
    fn edit(&mut self, f: impl FnOnce(ServerConfig) -> ServerConfig) {
        let c = Arc::make_mut(&mut self.config);
        *c = f(core::mem::take(c));
        self.refresh();
    }

    fn refresh(&mut self) {
        for (i, list) in self.offered.iter_mut().enumerate() {
            list.clear();
            let transport = query_transport(i);
            for m in self.config.offered_on(&transport) {
                if !list.is_empty() {
                    list.push(' ');
                }
                list.push_str(m.name());
            }
        }
    }
}

/// The index of the connection described by query flags (`SASLMECH_SERVER_TLS`,
/// `_CHANNEL_BINDING`, `_EXTERNAL`) among the eight kinds.
pub(crate) fn query_index(flags: saslmech_server_flags) -> usize {
    usize::from(flags & SASLMECH_SERVER_TLS != 0)
        | usize::from(flags & SASLMECH_SERVER_CHANNEL_BINDING != 0) << 1
        | usize::from(flags & SASLMECH_SERVER_EXTERNAL != 0) << 2
}

/// A transport of the kind `query_index` numbers (placeholder data: only its presence
/// matters to the policy).
pub(crate) fn query_transport(index: usize) -> Transport {
    let mut t = if index & 1 != 0 {
        Transport::tls()
    } else {
        Transport::plaintext()
    };
    if index & 2 != 0 {
        t = t.with_channel_binding(ChannelBindingType::TlsExporter, &[0; 32]);
    }
    if index & 4 != 0 {
        t = t.with_external_identity("external");
    }
    t
}

/// Make a server configuration with the defaults: SCRAM-SHA-256-PLUS, SCRAM-SHA-256,
/// SCRAM-SHA-1-PLUS, SCRAM-SHA-1, OAUTHBEARER, XOAUTH2, CRAM-MD5, PLAIN and LOGIN enabled (in
/// that order; EXTERNAL and ANONYMOUS only when listed with `_set_mechanisms`); mechanisms
/// that expose a secret or a bearer token need TLS; weak mechanisms allowed; 64 KiB per
/// message, 1024-octet identities, 10 round trips; OS randomness; host name `localhost`; 4096
/// SCRAM iterations and a random SCRAM fake-salt secret.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_new(
    out: *mut *mut saslmech_server_config,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        let h = Box::into_raw(Box::new(saslmech_server_config::new(ServerConfig::new())));
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, h) };
        Ok(())
    })
}

/// Free a server configuration (NULL is a no-op). Sessions made from it are not affected.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_free(config: *mut saslmech_server_config) {
    // SAFETY: the C contract: `config` came from `saslmech_server_config_new`, freed once.
    unsafe { free(config) }
}

/// The mechanisms to enable, in the order they are advertised (`len` may be 0: none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_mechanisms(
    config: *mut saslmech_server_config,
    mechanisms: *const saslmech_mechanism,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if mechanisms.is_null() {
                return Err(SASLMECH_NULL_ARGUMENT);
            }
            if len > isize::MAX as usize / size_of::<u32>() {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            // SAFETY: non-NULL (checked), `u32`-aligned and valid for `len` values (the C
            // contract), total size within `isize` (checked).
            let list = core::slice::from_raw_parts(mechanisms, len);
            let list: Vec<Mechanism> = list
                .iter()
                .map(|m| mechanism_from_c(*m))
                .collect::<R<_>>()?;
            c.edit(|cfg| cfg.mechanisms(&list));
            Ok(())
        })
    }
}

/// Allow mechanisms that expose a reusable secret (PLAIN, LOGIN, XOAUTH2) without TLS. Only
/// for tests and channels protected otherwise (loopback, a local socket).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_allow_plaintext(
    config: *mut saslmech_server_config,
    allow: bool,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            c.edit(|cfg| cfg.allow_plaintext_without_tls(allow));
            Ok(())
        })
    }
}

/// Allow weak mechanisms (CRAM-MD5); on by default.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_allow_weak(
    config: *mut saslmech_server_config,
    allow: bool,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            c.edit(|cfg| cfg.allow_weak(allow));
            Ok(())
        })
    }
}

/// The host name placed in CRAM-MD5 challenges: 1 to 255 octets of UTF-8 without spaces,
/// control characters, `<` or `>` (else `SASLMECH_INVALID_ARGUMENT`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_hostname(
    config: *mut saslmech_server_config,
    hostname: *const u8,
    hostname_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `hostname`
    // is valid for `hostname_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let name = text(hostname, hostname_len)?;
            let bad = |ch: char| ch.is_control() || ch.is_whitespace() || ch == '<' || ch == '>';
            if name.is_empty() || name.len() > 255 || name.chars().any(bad) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.edit(|cfg| cfg.hostname(name));
            Ok(())
        })
    }
}

/// Maximum size of one decoded client message, in octets (at least 1; default 65536).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_max_message(
    config: *mut saslmech_server_config,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if max == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.edit(|cfg| cfg.max_message(max));
            Ok(())
        })
    }
}

/// Maximum length of an identity, in octets (values below 255 are raised to 255, which
/// RFC 4616 requires servers to accept; default 1024).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_max_identity(
    config: *mut saslmech_server_config,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            c.edit(|cfg| cfg.max_identity(max));
            Ok(())
        })
    }
}

/// Maximum number of client messages in one exchange (1 to 65535; default 10).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_max_steps(
    config: *mut saslmech_server_config,
    max: u32,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            let max = u16::try_from(max)
                .ok()
                .filter(|m| *m > 0)
                .ok_or(SASLMECH_INVALID_ARGUMENT)?;
            c.edit(|cfg| cfg.max_steps(max));
            Ok(())
        })
    }
}

/// Use these bytes verbatim as the nonce of every session (CRAM-MD5's challenge is then
/// `<nonce@hostname>`): 1 to 255 printable ASCII characters other than `<`, `>`, `@`.
/// ONLY for tests and RFC vectors: a fixed nonce makes CRAM-MD5 replayable. NULL (with any
/// length) goes back to the default, nonces from the operating system's random number
/// generator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_nonce_fixed(
    config: *mut saslmech_server_config,
    nonce: *const u8,
    nonce_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `nonce` is
    // NULL or valid for `nonce_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let Some(nonce) = opt_bytes(nonce, nonce_len)? else {
                c.edit(|cfg| cfg.nonce_source(NonceSource::Os));
                return Ok(());
            };
            let ok = |b: &u8| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'@');
            if nonce.is_empty() || nonce.len() > 255 || !nonce.iter().all(ok) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let nonce = nonce.to_vec();
            c.edit(|cfg| cfg.nonce_source(NonceSource::Fixed(nonce)));
            Ok(())
        })
    }
}

/// The secret that keys the salts SCRAM shows for unknown users and for users answered with a
/// plaintext password (at least 1 octet): set the same one on every server of a cluster and
/// keep it across restarts, so that a probe cannot tell a made-up user from a real one. By
/// default it is random per configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_scram_secret(
    config: *mut saslmech_server_config,
    secret: *const u8,
    secret_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `secret` is
    // valid for `secret_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let secret = bytes(secret, secret_len)?;
            if secret.is_empty() {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.edit(|cfg| cfg.scram_secret(secret));
            Ok(())
        })
    }
}

/// How the application stores CRAM-MD5 and SCRAM secrets (`SASLMECH_SECRET_STORAGE_*`;
/// default `_PLAINTEXT`), so that the engine spends the same work on an unknown user
/// (`SASLMECH_VERDICT_UNKNOWN_USER`, `_REJECT`) as on a known one stored that way and the time
/// to the next server message does not tell which users exist. Set `_KEYS` when secret
/// requests are answered with stored keys. (The application's own lookup must take the same
/// time for both too: see SECURITY.md.)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_secret_storage(
    config: *mut saslmech_server_config,
    storage: saslmech_secret_storage,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            let storage = secret_storage_from_c(storage)?;
            c.edit(|cfg| cfg.secret_storage(storage));
            Ok(())
        })
    }
}

/// The SCRAM iteration count used when a request is answered with a plaintext password and
/// for unknown users (at least 1; default 4096). Make it match the stored keys', so that
/// unknown users do not stand out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_scram_iterations(
    config: *mut saslmech_server_config,
    iterations: u32,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if iterations == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.edit(|cfg| cfg.scram_iterations(iterations));
            Ok(())
        })
    }
}

/// The `openid-configuration` URL OAUTHBEARER error challenges carry (RFC 7628 §3.2.2), UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_set_oauth_openid_configuration(
    config: *mut saslmech_server_config,
    url: *const u8,
    url_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `url` is
    // valid for `url_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let url = text(url, url_len)?;
            c.edit(|cfg| cfg.oauth_openid_configuration(url));
            Ok(())
        })
    }
}

/// The configured maximum size of one client message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_max_message(
    config: *const saslmech_server_config,
    out: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle not being changed.
    unsafe {
        with_ref(config, |c| {
            nonnull(out)?;
            put(out, c.config.max_message_len());
            Ok(())
        })
    }
}

/// The mechanisms to advertise on a connection described by `flags` (`SASLMECH_SERVER_TLS`,
/// `SASLMECH_SERVER_CHANNEL_BINDING` for the `-PLUS` mechanisms, `SASLMECH_SERVER_EXTERNAL`
/// for EXTERNAL; the other bits do not matter), as their names separated by single spaces;
/// empty if none (then advertise nothing). The one list for every server: an engine session's
/// application and a protocol adapter's alike, with the flags that describe the connection as
/// the adapter was told (`saslmech_proto_server_set_tls`, `_set_channel_binding`,
/// `_set_external_identity`). SMTP writes `250-AUTH <names>` in its EHLO reply, IMAP
/// `AUTH=<name>` for each and `SASL-IR` (the IMAP adapter accepts initial responses) in its
/// capabilities, POP3 `SASL <names>` in its CAPA reply. Valid until the next setter on this
/// config.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_offered(
    config: *const saslmech_server_config,
    flags: saslmech_server_flags,
    names: *mut *const u8,
    names_len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle not being changed.
    unsafe {
        with_ref(config, |c| {
            nonnull(names)?;
            nonnull(names_len)?;
            if flags & !QUERY_FLAGS != 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let list = c.offered.get(query_index(flags)).ok_or(SASLMECH_PANIC)?;
            put_bytes(names, names_len, list.as_bytes());
            Ok(())
        })
    }
}

/// Whether `mechanism` may be used on a connection described by `flags` (as for
/// `saslmech_server_config_offered`): writes `SASLMECH_FAILURE_NONE` if so, else
/// `MECHANISM_UNAVAILABLE` (also a `-PLUS` mechanism without channel binding, EXTERNAL without
/// an external identity), `MECHANISM_TOO_WEAK` or `ENCRYPTION_REQUIRED` (what
/// `saslmech_server_start` would fail with).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_server_config_check(
    config: *const saslmech_server_config,
    mechanism: saslmech_mechanism,
    flags: saslmech_server_flags,
    verdict: *mut saslmech_failure,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle not being changed.
    unsafe {
        with_ref(config, |c| {
            nonnull(verdict)?;
            let m = mechanism_from_c(mechanism)?;
            if flags & !QUERY_FLAGS != 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let transport = query_transport(query_index(flags));
            let v = match c.config.check_transport(m, &transport) {
                Ok(()) => saslmech_failure::SASLMECH_FAILURE_NONE,
                Err(f) => failure_to_c(f),
            };
            put(verdict, v);
            Ok(())
        })
    }
}
