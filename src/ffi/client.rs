//! The client side of the engine: `saslmech_credentials` (what a client authenticates with),
//! `saslmech_client_config` (settings and connection facts) and `saslmech_client` (one
//! exchange). The protocol clients (`proto_client.rs`) take the same credentials and config.

use super::enums::*;
use super::keys::{put_scram_client_cache, saslmech_scram_client_cache};
use super::panic::*;
use crate::b64;
use crate::{ClientConfig, ClientSession, Credentials, Error, Failure, NonceSource};
use crate::{ScramClientCache, SecretBuf};

/// What a client authenticates with. Sessions copy what they need, so the credentials may be
/// changed or freed once a session is made.
#[derive(Default)]
pub struct saslmech_credentials {
    authcid: Option<String>,
    authzid: Option<String>,
    password: Option<SecretBuf>,
    token: Option<SecretBuf>,
    trace: Option<String>,
    host: Option<String>,
    /// Read only by a library built with the `gssapi` feature.
    #[cfg_attr(not(feature = "gssapi"), allow(dead_code))]
    service: Option<String>,
    port: Option<u16>,
    scram_cache: Option<ScramClientCache>,
    poisoned: Poison,
}

impl Handle for saslmech_credentials {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

/// Make an empty set of credentials.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_new(
    out: *mut *mut saslmech_credentials,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        let h = Box::into_raw(Box::<saslmech_credentials>::default());
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, h) };
        Ok(())
    })
}

/// Free credentials (NULL is a no-op), wiping the password and token.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_free(credentials: *mut saslmech_credentials) {
    // SAFETY: the C contract: `credentials` came from `saslmech_credentials_new`, freed once.
    unsafe { free(credentials) }
}

impl saslmech_credentials {
    /// The credentials as the Rust API takes them.
    pub(crate) fn borrow(&self) -> Credentials<'_> {
        let mut creds = Credentials::new();
        if let Some(a) = &self.authcid {
            creds = creds.authcid(a);
        }
        if let Some(z) = &self.authzid {
            creds = creds.authzid(z);
        }
        if let Some(p) = &self.password {
            creds = creds.password(p.as_slice());
        }
        if let Some(t) = &self.token {
            creds = creds.token(t.as_slice());
        }
        if let Some(t) = &self.trace {
            creds = creds.trace(t);
        }
        if let Some(h) = &self.host {
            creds = creds.host(h);
        }
        #[cfg(feature = "gssapi")]
        if let Some(s) = &self.service {
            creds = creds.service(s);
        }
        if let Some(p) = self.port {
            creds = creds.port(p);
        }
        if let Some(c) = &self.scram_cache {
            creds = creds.scram_cache(c);
        }
        creds
    }
}

/// Set one field of the credentials (`field`: `SASLMECH_CREDENTIAL_*`), replacing an earlier
/// value: the authentication identity, the authorization identity, the ANONYMOUS trace, the
/// OAUTHBEARER or Kerberos host and the Kerberos service name as UTF-8 (else
/// `SASLMECH_INVALID_UTF8`); the password and the bearer token as bytes, copied into memory
/// that is wiped when freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set(
    credentials: *mut saslmech_credentials,
    field: saslmech_credential,
    value: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle used by this thread only, `value`
    // is valid for `len` bytes.
    unsafe {
        with_mut(credentials, |c| {
            let value = bytes(value, len)?;
            let text = || -> R<Option<String>> {
                let t = core::str::from_utf8(value).map_err(|_| SASLMECH_INVALID_UTF8)?;
                Ok(Some(t.to_owned()))
            };
            match field {
                SASLMECH_CREDENTIAL_AUTHCID => c.authcid = text()?,
                SASLMECH_CREDENTIAL_AUTHZID => c.authzid = text()?,
                SASLMECH_CREDENTIAL_PASSWORD => c.password = Some(SecretBuf::from_slice(value)),
                SASLMECH_CREDENTIAL_TOKEN => c.token = Some(SecretBuf::from_slice(value)),
                SASLMECH_CREDENTIAL_TRACE => c.trace = text()?,
                SASLMECH_CREDENTIAL_HOST => c.host = text()?,
                SASLMECH_CREDENTIAL_SERVICE => c.service = text()?,
                _ => return Err(SASLMECH_INVALID_ARGUMENT),
            }
            Ok(())
        })
    }
}

/// SCRAM: keys from an earlier login to this server (copied), so that the client skips
/// PBKDF2 while the server announces the same salt and iteration count; a password is then
/// needed only if it does not. NULL removes them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_scram_cache(
    credentials: *mut saslmech_credentials,
    cache: *const saslmech_scram_client_cache,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle used by this thread only; `cache`
    // is NULL or a live handle not being changed.
    unsafe {
        with_mut(credentials, |c| {
            c.scram_cache = match cache.as_ref() {
                None => None,
                Some(k) if k.poisoned.get() => return Err(SASLMECH_POISONED),
                Some(k) => Some(k.cache.clone()),
            };
            Ok(())
        })
    }
}

/// OAUTHBEARER: the port the client connected to (`port=`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_credentials_set_port(
    credentials: *mut saslmech_credentials,
    port: u16,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle used by this thread only.
    unsafe {
        with_mut(credentials, |c| {
            c.port = Some(port);
            Ok(())
        })
    }
}

/// Client settings and connection facts, for `saslmech_client_new` and
/// `saslmech_proto_client_new`: the TLS channel-binding data (for the SCRAM `-PLUS`
/// mechanisms), SCRAM iteration bounds, the challenge size limit. Sessions copy it when made.
pub struct saslmech_client_config {
    config: ClientConfig,
    poisoned: Poison,
}

impl Handle for saslmech_client_config {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

/// Make a client configuration with the defaults: challenges up to 64 KiB, no channel
/// binding, SCRAM iteration counts from 4096 to 600000, OS randomness.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_new(
    out: *mut *mut saslmech_client_config,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        let h = saslmech_client_config {
            config: ClientConfig::default(),
            poisoned: Poison::default(),
        };
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, Box::into_raw(Box::new(h))) };
        Ok(())
    })
}

/// Free a client configuration (NULL is a no-op), wiping the channel-binding data.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_free(config: *mut saslmech_client_config) {
    // SAFETY: the C contract: `config` came from `saslmech_client_config_new`, freed once.
    unsafe { free(config) }
}

/// The TLS connection's channel-binding data (`kind`: `SASLMECH_CB_*`, data not empty). With
/// it the SCRAM `-PLUS` mechanisms bind to it, and plain SCRAM tells the server the client
/// could have (so that a stripped `-PLUS` is detected).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_channel_binding(
    config: *mut saslmech_client_config,
    kind: saslmech_channel_binding,
    data: *const u8,
    data_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `data` is
    // valid for `data_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let data = bytes(data, data_len)?;
            let kind = channel_binding_from_c(kind)?;
            if data.is_empty() {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.config = core::mem::take(&mut c.config).channel_binding(kind, data);
            Ok(())
        })
    }
}

/// The SCRAM iteration counts the client accepts from a server: at least `min` (so a server
/// cannot weaken the exchange; at least 1), at most `max` (so a hostile server cannot make the
/// client spin; at least `min`), else `SASLMECH_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_scram_iterations(
    config: *mut saslmech_client_config,
    min: u32,
    max: u32,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if min == 0 || max < min {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.config = core::mem::take(&mut c.config).scram_iterations(min, max);
            Ok(())
        })
    }
}

/// The largest decoded server challenge accepted, in octets (at least 1; default 65536).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_max_challenge(
    config: *mut saslmech_client_config,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only.
    unsafe {
        with_mut(config, |c| {
            if max == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.config.max_challenge = max;
            Ok(())
        })
    }
}

/// Use these bytes verbatim as SCRAM's client nonce (1 to 255 printable ASCII characters other
/// than `,`). ONLY for tests and RFC vectors. NULL (with any length) goes back to the default,
/// nonces from the operating system's random number generator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_config_set_nonce_fixed(
    config: *mut saslmech_client_config,
    nonce: *const u8,
    nonce_len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `config` is a live handle used by this thread only, `nonce` is
    // NULL or valid for `nonce_len` bytes.
    unsafe {
        with_mut(config, |c| {
            let source = match opt_bytes(nonce, nonce_len)? {
                None => NonceSource::Os,
                Some(nonce) => {
                    let ok = |b: &u8| b.is_ascii_graphic() && *b != b',';
                    if nonce.is_empty() || nonce.len() > 255 || !nonce.iter().all(ok) {
                        return Err(SASLMECH_INVALID_ARGUMENT);
                    }
                    NonceSource::Fixed(nonce.to_vec())
                }
            };
            c.config = core::mem::take(&mut c.config).nonce_source(source);
            Ok(())
        })
    }
}

/// A client configuration's settings: the defaults for NULL.
///
/// # Safety
/// `config` is NULL or a live handle not being changed.
pub(crate) unsafe fn client_config_or_default(
    config: *const saslmech_client_config,
) -> R<ClientConfig> {
    // SAFETY: guaranteed by the caller.
    let Some(c) = (unsafe { config.as_ref() }) else {
        return Ok(ClientConfig::default());
    };
    if c.poisoned.get() {
        return Err(SASLMECH_POISONED);
    }
    Ok(c.config.clone())
}

/// One client-side authentication exchange. It may be moved between threads but not used by
/// two threads at once.
pub struct saslmech_client {
    /// Its responses are handed to C where the session keeps them: never copied.
    session: ClientSession,
    base64: bool,
    failed: Option<Failure>,
    poisoned: Poison,
}

impl Handle for saslmech_client {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_client {
    /// Turn a session error into a result code, remembering a failure.
    fn fail(&mut self, e: Error) -> saslmech_result {
        remember_failure(&mut self.failed, e)
    }

    fn live(&self) -> R<()> {
        match self.failed {
            Some(_) => Err(SASLMECH_INVALID_STATE),
            None => Ok(()),
        }
    }

    /// The initial response, if the mechanism has one.
    fn start(&mut self) -> R<Option<&[u8]>> {
        self.live()?;
        // Split borrows: the response borrows the session while a failure is recorded.
        let r = if self.base64 {
            self.session.start_b64()
        } else {
            self.session.start()
        };
        r.map_err(|e| remember_failure(&mut self.failed, e))
    }

    fn step(&mut self, challenge: &[u8]) -> R<&[u8]> {
        self.live()?;
        let r = if self.base64 {
            self.session.step_b64(challenge)
        } else {
            self.session.step(challenge)
        };
        r.map_err(|e| remember_failure(&mut self.failed, e))
    }

    fn finish(&mut self, data: Option<&[u8]>) -> R<()> {
        self.live()?;
        // The state first, as the session itself checks it: a finished client refuses any
        // further finish (with malformed base64 too) without recording a failure.
        if self.session.is_finished() {
            return Err(SASLMECH_INVALID_STATE);
        }
        let decoded;
        let data = match data {
            Some(d) if self.base64 => match b64::decode(d) {
                Ok(d) => {
                    decoded = d;
                    Some(decoded.as_slice())
                }
                Err(f) => return Err(self.fail(Error::Failed(f))),
            },
            other => other,
        };
        let r = self.session.finish(data);
        r.map_err(|e| self.fail(e))
    }
}

/// Turn a client session error into a result code, remembering a failure.
fn remember_failure(failed: &mut Option<Failure>, e: Error) -> saslmech_result {
    if let Error::Failed(f) = e {
        *failed = Some(f);
    }
    error_to_c(e)
}

/// Make a client session for `mechanism` (`flags`: `SASLMECH_CLIENT_*` bits) with the
/// settings of `config` (channel binding, SCRAM iteration bounds, the challenge size limit;
/// copied into the session), or the defaults if `config` is NULL (challenges up to 64 KiB, no
/// channel binding). `SASLMECH_INVALID_ARGUMENT` if the credentials lack what the mechanism
/// needs (a user name, a password or token without NUL bytes), or for a SCRAM `-PLUS`
/// mechanism without channel-binding data in `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_new(
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    config: *const saslmech_client_config,
    flags: saslmech_client_flags,
    out: *mut *mut saslmech_client,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle not being changed, `config` NULL
    // or one.
    unsafe {
        with_ref(credentials, |c| {
            nonnull(out)?;
            let config = client_config_or_default(config)?;
            let mechanism = mechanism_from_c(mechanism)?;
            if flags & !CLIENT_FLAGS != 0 || config.max_challenge == 0 {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let creds = c.borrow();
            let session =
                ClientSession::with_config(mechanism, &creds, &config).map_err(error_to_c)?;
            let h = saslmech_client {
                session,
                base64: flags & SASLMECH_CLIENT_BASE64 != 0,
                failed: None,
                poisoned: Poison::default(),
            };
            put(out, Box::into_raw(Box::new(h)));
            Ok(())
        })
    }
}

/// Free a client session (NULL is a no-op), wiping its copy of the credentials.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_free(client: *mut saslmech_client) {
    // SAFETY: the C contract: `client` came from `saslmech_client_new`, freed once.
    unsafe { free(client) }
}

/// The session's mechanism.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_mechanism(
    client: *const saslmech_client,
    out: *mut saslmech_mechanism,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(out)?;
            put(out, mechanism_to_c(c.session.mechanism()).0);
            Ok(())
        })
    }
}

/// The initial response. `*has_initial_response` is false if the mechanism has none (send the
/// command without one), true otherwise, with the response in `*response`/`*len` (base64 in
/// base64 mode), which may be empty (SMTP, IMAP and POP3 send an empty one as `=`). Valid until
/// the next non-const call on this session. Only once, before any step.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_start(
    client: *mut saslmech_client,
    has_initial_response: *mut bool,
    response: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe {
        with_mut(client, |c| {
            nonnull(has_initial_response)?;
            nonnull(response)?;
            nonnull(len)?;
            let ir = c.start()?;
            put(has_initial_response, ir.is_some());
            put_bytes(response, len, ir.unwrap_or_default());
            Ok(())
        })
    }
}

/// Answer a server challenge (base64 text in base64 mode, where an empty challenge is the
/// empty string). The response goes to `*response`/`*len`, valid until the next non-const call
/// on this session. A challenge the mechanism cannot answer, or one over the size limit, ends
/// the exchange: `SASLMECH_FAILED` (see `saslmech_client_failure`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_step(
    client: *mut saslmech_client,
    challenge: *const u8,
    challenge_len: usize,
    response: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only; `challenge`
    // is valid for `challenge_len` bytes.
    unsafe {
        with_mut(client, |c| {
            nonnull(response)?;
            nonnull(len)?;
            let challenge = bytes(challenge, challenge_len)?;
            let r = c.step(challenge)?;
            put_bytes(response, len, r);
            Ok(())
        })
    }
}

/// The server reported success, with its success data (base64 text in base64 mode), or
/// without any if `data` is NULL (`len` is then ignored). `SASLMECH_FAILED` if the mechanism
/// expected more (mutual authentication not completed) or the data does not verify.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_finish(
    client: *mut saslmech_client,
    data: *const u8,
    len: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only; `data` is
    // NULL or valid for `len` bytes.
    unsafe {
        with_mut(client, |c| {
            let data = opt_bytes(data, len)?;
            c.finish(data)
        })
    }
}

/// Whether `saslmech_client_finish` succeeded.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_is_finished(
    client: *const saslmech_client,
    finished: *mut bool,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(finished)?;
            put(finished, c.session.is_finished());
            Ok(())
        })
    }
}

/// SCRAM, once the server has proved itself: a copy of the keys to keep for the next login to
/// this server (`saslmech_credentials_set_scram_cache`), so that it skips PBKDF2. Free it
/// with `saslmech_scram_client_cache_free`. `SASLMECH_ABSENT` before that, or for another
/// mechanism.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_scram_cache(
    client: *const saslmech_client,
    out: *mut *mut saslmech_scram_client_cache,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(out)?;
            let cache = c.session.scram_cache().ok_or(SASLMECH_ABSENT)?.clone();
            put_scram_client_cache(out, cache);
            Ok(())
        })
    }
}

/// Why the exchange failed, after a call returned `SASLMECH_FAILED` (else
/// `SASLMECH_INVALID_STATE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_failure(
    client: *const saslmech_client,
    failure: *mut saslmech_failure,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(failure)?;
            put(
                failure,
                failure_to_c(c.failed.ok_or(SASLMECH_INVALID_STATE)?),
            );
            Ok(())
        })
    }
}

/// A member (`SASLMECH_OAUTH_*`) of the OAuth error challenge the server sent (XOAUTH2), as
/// UTF-8 text valid until the next non-const call; `SASLMECH_ABSENT` if the server sent no
/// error challenge or the member is missing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_client_oauth_error(
    client: *const saslmech_client,
    field: saslmech_oauth_field,
    value: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(value)?;
            nonnull(len)?;
            if !(SASLMECH_OAUTH_STATUS..=SASLMECH_OAUTH_RAW).contains(&field) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            let e = c.session.oauth_error().ok_or(SASLMECH_ABSENT)?;
            let v: Option<&[u8]> = match field {
                SASLMECH_OAUTH_STATUS => e.status.as_deref().map(str::as_bytes),
                SASLMECH_OAUTH_SCHEMES => e.schemes.as_deref().map(str::as_bytes),
                SASLMECH_OAUTH_SCOPE => e.scope.as_deref().map(str::as_bytes),
                SASLMECH_OAUTH_OPENID_CONFIGURATION => {
                    e.openid_configuration.as_deref().map(str::as_bytes)
                }
                _ => Some(e.raw.as_slice()),
            };
            put_bytes(value, len, v.ok_or(SASLMECH_ABSENT)?);
            Ok(())
        })
    }
}
