//! The version, descriptions of result and failure numbers, the mechanisms and their
//! properties, the client's choice of mechanism, constant-time comparison, and base64.

use core::ffi::{CStr, c_char};

use super::enums::*;
use super::panic::*;
use crate::b64;
use crate::mechanism::{self, Mechanism, SelectOptions};
use crate::{SecretBuf, ct_eq, ct_eq_password};

pub(crate) const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    };

const fn parse_u32(s: &str) -> u32 {
    let mut b = s.as_bytes();
    let mut n: u32 = 0;
    while let [d, rest @ ..] = b {
        n = n
            .saturating_mul(10)
            .saturating_add(d.wrapping_sub(b'0') as u32);
        b = rest;
    }
    n
}

pub(crate) const VERSION_NUMBER: u32 = (parse_u32(env!("CARGO_PKG_VERSION_MAJOR")) << 16)
    | (parse_u32(env!("CARGO_PKG_VERSION_MINOR")) << 8)
    | parse_u32(env!("CARGO_PKG_VERSION_PATCH"));

/// The library's version, as text (`"0.1.0"`): a static NUL-terminated string.
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_version() -> *const c_char {
    guard_value(c"unknown".as_ptr(), || VERSION.as_ptr())
}

/// The library's version as a number: `major << 16 | minor << 8 | patch`.
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_version_number() -> u32 {
    guard_value(0, || VERSION_NUMBER)
}

/// A short English description of a `saslmech_result`: a static NUL-terminated string, never
/// NULL (unknown numbers get "unknown saslmech_result").
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_strerror(result: u32) -> *const c_char {
    guard_value(c"unknown saslmech_result".as_ptr(), || {
        result_text(result).as_ptr()
    })
}

/// A short English description of a `saslmech_failure`: a static NUL-terminated string, never
/// NULL, never containing input data.
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_failure_str(failure: u32) -> *const c_char {
    guard_value(c"unknown saslmech_failure".as_ptr(), || {
        failure_text(failure).as_ptr()
    })
}

/// The canonical IANA name of a mechanism (`"CRAM-MD5"`): a static NUL-terminated string, or
/// NULL if the number is not a mechanism this library implements.
#[unsafe(no_mangle)]
pub extern "C" fn saslmech_mechanism_name(mechanism: saslmech_mechanism) -> *const c_char {
    guard_value(core::ptr::null(), || match mechanism_from_c(mechanism) {
        Ok(m) => mechanism_to_c(m).1.as_ptr(),
        Err(_) => core::ptr::null(),
    })
}

/// Look a mechanism up by name, ignoring ASCII case. `SASLMECH_UNKNOWN_MECHANISM` if this
/// library does not implement it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_mechanism_from_name(
    name: *const u8,
    name_len: usize,
    out: *mut saslmech_mechanism,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: `name` is valid for `name_len` bytes.
        let name = unsafe { bytes(name, name_len) }?;
        let m = Mechanism::from_name(name).ok_or(SASLMECH_UNKNOWN_MECHANISM)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, mechanism_to_c(m).0) };
        Ok(())
    })
}

/// A mechanism's properties, as `SASLMECH_PROP_*` bits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_mechanism_properties(
    mechanism: saslmech_mechanism,
    out: *mut saslmech_properties,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        let m = mechanism_from_c(mechanism)?;
        let mut p = 0;
        for (set, bit) in [
            (m.client_first(), SASLMECH_PROP_CLIENT_FIRST),
            (m.exposes_secret(), SASLMECH_PROP_EXPOSES_SECRET),
            (m.requires_tls(), SASLMECH_PROP_REQUIRES_TLS),
            (m.weak(), SASLMECH_PROP_WEAK),
            (m.channel_binding(), SASLMECH_PROP_CHANNEL_BINDING),
            (m.uses_password(), SASLMECH_PROP_USES_PASSWORD),
            (m.uses_token(), SASLMECH_PROP_USES_TOKEN),
        ] {
            if set {
                p |= bit;
            }
        }
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, p) };
        Ok(())
    })
}

/// Every mechanism this library implements, strongest first: a static array of `*len`
/// numbers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_mechanisms(
    list: *mut *const saslmech_mechanism,
    len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(list)?;
        nonnull(len)?;
        debug_assert_eq!(MECHANISMS.len(), mechanism::ALL.len());
        // SAFETY: both checked non-NULL above; the array is static.
        unsafe {
            put(list, MECHANISMS.as_ptr());
            put(len, MECHANISMS.len());
        }
        Ok(())
    })
}

/// Pick the strongest mechanism the client can use from a server's advertised list (the
/// mechanism names separated by spaces, as after `AUTH` in an SMTP EHLO reply, or tabs, CRs or
/// LFs). Names this library does not know, including names that are not UTF-8, are ignored.
/// `flags` is a set of `SASLMECH_SELECT_*` bits. `SASLMECH_ABSENT` if none fits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_select(
    advertised: *const u8,
    advertised_len: usize,
    flags: saslmech_select_flags,
    out: *mut saslmech_mechanism,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        // SAFETY: the C contract: `advertised` is valid for `advertised_len` bytes.
        let advertised = unsafe { bytes(advertised, advertised_len) }?;
        if flags & !SELECT_FLAGS != 0 {
            return Err(SASLMECH_INVALID_ARGUMENT);
        }
        let opts = SelectOptions {
            password: flags & SASLMECH_SELECT_PASSWORD != 0,
            token: flags & SASLMECH_SELECT_TOKEN != 0,
            tls: flags & SASLMECH_SELECT_TLS != 0,
            allow_plaintext: flags & SASLMECH_SELECT_ALLOW_PLAINTEXT != 0,
            channel_binding: flags & SASLMECH_SELECT_CHANNEL_BINDING != 0,
            external: flags & SASLMECH_SELECT_EXTERNAL != 0,
            anonymous: flags & SASLMECH_SELECT_ANONYMOUS != 0,
            #[cfg(feature = "gssapi")]
            kerberos: false,
        };
        let names = advertised
            .split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .filter_map(|n| core::str::from_utf8(n).ok());
        let m = mechanism::select(names, opts).ok_or(SASLMECH_ABSENT)?;
        // SAFETY: `out` checked non-NULL above.
        unsafe { put(out, mechanism_to_c(m).0) };
        Ok(())
    })
}

/// Compare a password the client sent with the stored one in constant time (both are hashed
/// first, so neither the position of a difference nor a length mismatch shows in the timing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_ct_eq_password(
    given: *const u8,
    given_len: usize,
    stored: *const u8,
    stored_len: usize,
    equal: *mut bool,
) -> saslmech_result {
    guard(|| {
        nonnull(equal)?;
        // SAFETY: the C contract: each pointer is valid for its length.
        let (given, stored) = unsafe { (bytes(given, given_len)?, bytes(stored, stored_len)?) };
        let eq = ct_eq_password(given, stored);
        // SAFETY: `equal` checked non-NULL above.
        unsafe { put(equal, eq) };
        Ok(())
    })
}

/// Compare two byte strings in constant time for strings of the same (public) length, such as
/// digests; different lengths compare unequal at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_ct_eq(
    a: *const u8,
    a_len: usize,
    b: *const u8,
    b_len: usize,
    equal: *mut bool,
) -> saslmech_result {
    guard(|| {
        nonnull(equal)?;
        // SAFETY: the C contract: each pointer is valid for its length.
        let (a, b) = unsafe { (bytes(a, a_len)?, bytes(b, b_len)?) };
        let eq = ct_eq(a, b);
        // SAFETY: `equal` checked non-NULL above.
        unsafe { put(equal, eq) };
        Ok(())
    })
}

/// Encode bytes as padded standard base64 into `out` (capacity `out_cap`), writing the length
/// to `*out_len`. `out_cap` must be at least `4 * ((in_len + 2) / 3)`, else
/// `SASLMECH_BUFFER_TOO_SMALL`. No NUL terminator is written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_b64_encode(
    input: *const u8,
    input_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        nonnull(out_len)?;
        // SAFETY: the C contract: `input` is valid for `input_len` bytes.
        let input = unsafe { bytes(input, input_len) }?;
        let mut buf = SecretBuf::new();
        b64::encode_into(input, &mut buf);
        // SAFETY: as above, for `out`.
        unsafe { copy_out(buf.as_slice(), out, out_cap, out_len) }
    })
}

/// Decode strict base64 (RFC 4648: no whitespace, padding only at the end) into `out`
/// (capacity `out_cap`, at least `3 * (in_len / 4)`), writing the length to `*out_len`.
/// Invalid base64 is `SASLMECH_FAILED`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_b64_decode(
    input: *const u8,
    input_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        nonnull(out_len)?;
        // SAFETY: the C contract: `input` is valid for `input_len` bytes.
        let input = unsafe { bytes(input, input_len) }?;
        if out_cap < input_len / 4 * 3 {
            return Err(SASLMECH_BUFFER_TOO_SMALL);
        }
        let buf = b64::decode(input).map_err(|_| SASLMECH_FAILED)?;
        // SAFETY: as above, for `out`.
        unsafe { copy_out(buf.as_slice(), out, out_cap, out_len) }
    })
}
