//! CRAM-MD5's key state (plain bytes), SCRAM's stored keys (`saslmech_scram_keys`, to answer
//! a server's secret request without the password), and the SCRAM client cache
//! (`saslmech_scram_client_cache`, to skip PBKDF2 on the next login).

use super::enums::*;
use super::panic::*;
use crate::{CramMd5Keys, ScramClientCache, ScramKeys, SecretBuf};

/// Derive CRAM-MD5's key state (the HMAC-MD5 inner and outer pads, 32 bytes) from a password,
/// so that a server can store it instead of the password and answer a
/// `SASLMECH_REQUEST_SECRET` with `saslmech_request_answer_cram_md5_keys`. `out_cap` must be at
/// least `SASLMECH_CRAM_MD5_KEYS_LEN`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_cram_md5_keys_from_password(
    password: *const u8,
    password_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        if out_cap < SASLMECH_CRAM_MD5_KEYS_LEN {
            return Err(SASLMECH_BUFFER_TOO_SMALL);
        }
        // SAFETY: the C contract: `password` is valid for `password_len` bytes.
        let password = unsafe { bytes(password, password_len) }?;
        let keys = CramMd5Keys::from_password(password).to_bytes(); // wiped when dropped
        // SAFETY: as above, for `out` with `out_cap` bytes.
        unsafe { copy_keys(&keys, out, out_cap) }
    })
}

/// Parse CRAM-MD5's key state from Dovecot's `{CRAM-MD5}` + 64 hex digits form (either case;
/// the prefix is optional) into 32 bytes. Text that does not parse is `SASLMECH_FAILED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_cram_md5_keys_from_dovecot(
    text: *const u8,
    text_len: usize,
    out: *mut u8,
    out_cap: usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        if out_cap < SASLMECH_CRAM_MD5_KEYS_LEN {
            return Err(SASLMECH_BUFFER_TOO_SMALL);
        }
        // SAFETY: the C contract: `text` is valid for `text_len` bytes.
        let text = unsafe { self::text(text, text_len) }?;
        let parsed = CramMd5Keys::from_dovecot(text).ok_or(SASLMECH_FAILED)?;
        let keys = parsed.to_bytes(); // wiped when dropped
        // SAFETY: as above, for `out` with `out_cap` bytes.
        unsafe { copy_keys(&keys, out, out_cap) }
    })
}

/// # Safety
/// `out` is non-NULL and valid for `cap` byte writes.
unsafe fn copy_keys(keys: &[u8; 32], out: *mut u8, cap: usize) -> R<()> {
    if cap < SASLMECH_CRAM_MD5_KEYS_LEN {
        return Err(SASLMECH_BUFFER_TOO_SMALL);
    }
    // SAFETY: room for 32 bytes (checked); our array cannot overlap the caller's buffer.
    unsafe { core::ptr::copy_nonoverlapping(keys.as_ptr(), out, keys.len()) };
    Ok(())
}

/// SCRAM's stored keys for one user (salt, iteration count, StoredKey, ServerKey; never the
/// password), to answer a SCRAM secret request with `saslmech_request_answer_scram_keys`.
/// Immutable once made; may be shared by threads.
pub struct saslmech_scram_keys {
    pub(crate) keys: ScramKeys,
    /// The RFC 5803 text, made once (it holds the keys: wiped when freed).
    rfc5803: SecretBuf,
    poisoned: Poison,
}

impl Handle for saslmech_scram_keys {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

/// Box new keys into `out`.
///
/// # Safety
/// `out` is non-NULL and writable.
unsafe fn put_scram_keys(out: *mut *mut saslmech_scram_keys, keys: ScramKeys) {
    let text = keys.to_rfc5803();
    let h = saslmech_scram_keys {
        rfc5803: SecretBuf::from_slice(text.as_bytes()),
        keys,
        poisoned: Poison::default(),
    };
    // The String held the keys too; wipe it before it is freed.
    let mut text = text.into_bytes();
    zeroize::Zeroize::zeroize(&mut text);
    // SAFETY: guaranteed by the caller.
    unsafe { put(out, Box::into_raw(Box::new(h))) };
}

/// The keys a handle holds, for an answer.
///
/// # Safety
/// `keys` is NULL or a live handle not being changed.
pub(crate) unsafe fn scram_keys_ref<'a>(keys: *const saslmech_scram_keys) -> R<&'a ScramKeys> {
    // SAFETY: guaranteed by the caller.
    let k = unsafe { keys.as_ref() }.ok_or(SASLMECH_NULL_ARGUMENT)?;
    if k.poisoned.get() {
        return Err(SASLMECH_POISONED);
    }
    Ok(&k.keys)
}

/// A password from C for SCRAM: UTF-8 (SASLprep works on text).
///
/// # Safety
/// As [`bytes`].
unsafe fn scram_password<'a>(p: *const u8, len: usize) -> R<&'a [u8]> {
    // SAFETY: forwarded from the caller.
    let pw = unsafe { bytes(p, len) }?;
    core::str::from_utf8(pw).map_err(|_| SASLMECH_INVALID_UTF8)?;
    Ok(pw)
}

/// Derive SCRAM keys for `hash` (`SASLMECH_SCRAM_*`) from a password (UTF-8, prepared with
/// SASLprep), a salt and an iteration count, as stored when the password is set. `salt` may be
/// NULL: then a fresh random 16-octet salt is used (`salt_len` is ignored), which is what
/// storing a new password wants. Refused (`SASLMECH_INVALID_ARGUMENT`): an empty salt, 0
/// iterations, a password SASLprep rejects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_derive(
    hash: saslmech_scram_hash,
    password: *const u8,
    password_len: usize,
    salt: *const u8,
    salt_len: usize,
    iterations: u32,
    out: *mut *mut saslmech_scram_keys,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: each pointer is valid for its length (the salt may be NULL).
        let (password, salt) = unsafe {
            (
                scram_password(password, password_len)?,
                opt_bytes(salt, salt_len)?,
            )
        };
        let hash = scram_hash_from_c(hash)?;
        let keys = match salt {
            Some(salt) => ScramKeys::derive(hash, password, salt, iterations),
            None => ScramKeys::generate(hash, password, iterations),
        }
        .map_err(error_to_c)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put_scram_keys(out, keys) };
        Ok(())
    })
}

/// Read keys in the RFC 5803 form
/// `SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>` (as
/// Dovecot and OpenLDAP store them). Text that does not parse is `SASLMECH_FAILED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_from_rfc5803(
    text: *const u8,
    text_len: usize,
    out: *mut *mut saslmech_scram_keys,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: `text` is valid for `text_len` bytes.
        let text = unsafe { self::text(text, text_len) }?;
        let keys = ScramKeys::from_rfc5803(text).map_err(|_| SASLMECH_FAILED)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put_scram_keys(out, keys) };
        Ok(())
    })
}

/// The keys in the RFC 5803 form, to store. ASCII, not NUL-terminated; valid until the keys
/// are freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_to_rfc5803(
    keys: *const saslmech_scram_keys,
    text: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is a live handle.
    unsafe {
        with_ref(keys, |k| {
            nonnull(text)?;
            nonnull(len)?;
            put_bytes(text, len, k.rfc5803.as_slice());
            Ok(())
        })
    }
}

/// The keys' hash (`SASLMECH_SCRAM_*`) and iteration count.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_params(
    keys: *const saslmech_scram_keys,
    hash: *mut saslmech_scram_hash,
    iterations: *mut u32,
) -> saslmech_result {
    // SAFETY: the C contract: `keys` is a live handle.
    unsafe {
        with_ref(keys, |k| {
            nonnull(hash)?;
            nonnull(iterations)?;
            put(hash, scram_hash_to_c(k.keys.hash()));
            put(iterations, k.keys.iterations());
            Ok(())
        })
    }
}

/// Free SCRAM keys (NULL is a no-op), wiping them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_keys_free(keys: *mut saslmech_scram_keys) {
    // SAFETY: the C contract: `keys` came from a `saslmech_scram_keys_*` constructor, freed once.
    unsafe { free(keys) }
}

/// What a SCRAM client may keep between logins to one server so that it need not run PBKDF2
/// again: the server's salt and iteration count and the keys derived from them. Get it from a
/// client after a successful exchange (`saslmech_client_scram_cache`) or make it from a
/// SaltedPassword (`saslmech_scram_client_cache_from_salted_password`); give it to
/// `saslmech_credentials_set_scram_cache`. Used only while the server announces the same salt
/// and iteration count; otherwise the client derives from the password again (and fails
/// without one). Like a password, it lets its holder log in: store it as carefully.
/// Immutable once made; may be shared by threads.
pub struct saslmech_scram_client_cache {
    pub(crate) cache: ScramClientCache,
    pub(crate) poisoned: Poison,
}

impl Handle for saslmech_scram_client_cache {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

/// Box a cache into `out`.
///
/// # Safety
/// `out` is non-NULL and writable.
pub(crate) unsafe fn put_scram_client_cache(
    out: *mut *mut saslmech_scram_client_cache,
    cache: ScramClientCache,
) {
    let h = saslmech_scram_client_cache {
        cache,
        poisoned: Poison::default(),
    };
    // SAFETY: guaranteed by the caller.
    unsafe { put(out, Box::into_raw(Box::new(h))) };
}

/// A cache from a SaltedPassword (`Hi(password, salt, iterations)` of RFC 5802, 20 bytes for
/// SHA-1, 32 for SHA-256, 64 for SHA-512) computed or stored elsewhere, with the salt and
/// iteration count it was computed with. `SASLMECH_INVALID_ARGUMENT` for a wrong length, an empty salt or 0
/// iterations.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_client_cache_from_salted_password(
    hash: saslmech_scram_hash,
    salted_password: *const u8,
    salted_password_len: usize,
    salt: *const u8,
    salt_len: usize,
    iterations: u32,
    out: *mut *mut saslmech_scram_client_cache,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: each pointer is valid for its length.
        let (salted, salt) = unsafe {
            (
                bytes(salted_password, salted_password_len)?,
                bytes(salt, salt_len)?,
            )
        };
        let hash = scram_hash_from_c(hash)?;
        let cache = ScramClientCache::from_salted_password(hash, salted, salt, iterations)
            .map_err(error_to_c)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put_scram_client_cache(out, cache) };
        Ok(())
    })
}

/// The cache's hash (`SASLMECH_SCRAM_*`), iteration count and salt (valid until the cache is
/// freed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_client_cache_params(
    cache: *const saslmech_scram_client_cache,
    hash: *mut saslmech_scram_hash,
    iterations: *mut u32,
    salt: *mut *const u8,
    salt_len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `cache` is a live handle.
    unsafe {
        with_ref(cache, |c| {
            nonnull(hash)?;
            nonnull(iterations)?;
            nonnull(salt)?;
            nonnull(salt_len)?;
            put(hash, scram_hash_to_c(c.cache.hash()));
            put(iterations, c.cache.iterations());
            put_bytes(salt, salt_len, c.cache.salt());
            Ok(())
        })
    }
}

/// Free a cache (NULL is a no-op), wiping its keys.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_scram_client_cache_free(cache: *mut saslmech_scram_client_cache) {
    // SAFETY: the C contract: `cache` came from a `saslmech_*scram*cache*` constructor, freed
    // once.
    unsafe { free(cache) }
}
