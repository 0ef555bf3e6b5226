//! Operations 20 and up (the rest of the C API), part one: the helpers they share, the SCRAM
//! client cache, server configuration, credentials and the engine client.

use super::*;

/// The number of operations (the operation byte is taken modulo this). 0..=19 keep the
/// meaning they had when the committed corpus was made.
pub(super) const OPS: u8 = 37;

/// A static NUL-terminated string the library returned.
pub(super) fn cstr(p: *const core::ffi::c_char) -> Vec<u8> {
    assert!(!p.is_null(), "NULL static string");
    // SAFETY: the library documents a static NUL-terminated string.
    unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes().to_vec()
}

/// An out-parameter of an enumeration type, read back as its number.
pub(super) fn out_u32<T>(v: &mut u32) -> *mut T {
    (v as *mut u32).cast()
}

/// A byte string for a text argument, or NULL when `null_it`.
pub(super) fn maybe_null(b: &[u8], null_it: bool) -> *const u8 {
    ptr_of(b, null_it)
}

/// After a call with a NULL byte-string argument (and a live handle): `NULL_ARGUMENT`, the
/// header's result for a NULL pointer ("Nothing was done").
pub(super) fn refused_null(r: saslmech_result, what: &str) {
    assert_eq!(r, SASLMECH_NULL_ARGUMENT, "{what}: a NULL argument");
}

/// [`refused_null`] for an answer: with no request pending there is no request view to answer,
/// so the getter's `SASLMECH_INVALID_STATE` comes first.
pub(super) fn refused_null_unless_nothing_pending(
    r: saslmech_result,
    nothing_pending: bool,
    what: &str,
) {
    if nothing_pending && r == SASLMECH_INVALID_STATE {
        return;
    }
    refused_null(r, what);
}

/// The mechanism a name maps to, through the C API.
pub(super) fn from_name(name: &[u8]) -> Option<u32> {
    let mut m = UNSET;
    // SAFETY: `name` is a live slice; `m` a local.
    let r = unsafe { saslmech_mechanism_from_name(name.as_ptr(), name.len(), &mut m) };
    if ok_or(r, &[SASLMECH_UNKNOWN_MECHANISM], "from_name") {
        assert!((1..=MECH_MAX).contains(&m), "mechanism {m}");
        Some(m)
    } else {
        assert_eq!(m, UNSET);
        None
    }
}

/// The canonical name of a mechanism number, through the C API.
pub(super) fn name_of(m: u32) -> Option<Vec<u8>> {
    let p = saslmech_mechanism_name(m);
    if p.is_null() {
        assert!(!(1..=MECH_MAX).contains(&m), "no name for {m}");
        None
    } else {
        assert!((1..=MECH_MAX).contains(&m), "a name for {m}");
        Some(cstr(p))
    }
}

/// A SCRAM client cache's parameters, or `None` for a refused call.
pub(super) fn cache_params(c: *const saslmech_scram_client_cache) -> Option<(u32, u32, Vec<u8>)> {
    let (mut hash, mut it, mut s, mut n) = (UNSET, UNSET, null(), usize::MAX);
    // SAFETY: `c` is NULL or live; out-parameters are locals.
    let r = unsafe { saslmech_scram_client_cache_params(c, &mut hash, &mut it, &mut s, &mut n) };
    if ok_or(r, ANY, "cache_params") {
        assert!((1..=3).contains(&hash), "cache hash {hash}");
        assert!(it >= 1, "cache iterations {it}");
        Some((hash, it, read(s, n)))
    } else {
        assert_eq!(
            (hash, it, n),
            (UNSET, UNSET, usize::MAX),
            "written on error"
        );
        None
    }
}

/// SCRAM keys' hash and iteration count, and their RFC 5803 text.
pub(super) fn keys_params(k: *const saslmech_scram_keys) -> Option<(u32, u32, Vec<u8>)> {
    let (mut hash, mut it) = (UNSET, UNSET);
    // SAFETY: `k` is NULL or live; out-parameters are locals.
    let r = unsafe { saslmech_scram_keys_params(k, &mut hash, &mut it) };
    if !ok_or(r, ANY, "keys_params") {
        assert_eq!((hash, it), (UNSET, UNSET), "written on error");
        return None;
    }
    assert!((1..=3).contains(&hash), "keys hash {hash}");
    let (mut t, mut n) = (null(), usize::MAX);
    // SAFETY: as above.
    let r = unsafe { saslmech_scram_keys_to_rfc5803(k, &mut t, &mut n) };
    assert!(ok_or(r, &[], "to_rfc5803"));
    let text = read(t, n);
    let prefix: &[u8] = match hash {
        1 => b"SCRAM-SHA-1$",
        2 => b"SCRAM-SHA-256$",
        _ => b"SCRAM-SHA-512$",
    };
    assert!(text.starts_with(prefix), "RFC 5803 text of the wrong hash");
    let count = format!("${it}:");
    assert!(
        text.windows(count.len()).any(|w| w == count.as_bytes()),
        "RFC 5803 text without the iteration count"
    );
    assert!(text.is_ascii(), "RFC 5803 text not ASCII");
    Some((hash, it, text))
}

/// Operation 20: the SCRAM client cache.
pub(super) fn op_cache(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    // SAFETY: handles are NULL or live; slices and locals as documented.
    unsafe {
        match sel % 4 {
            0 => {
                let hash = u32::from(input.byte() % 4);
                let salted = input.bytes();
                let salt = input.bytes();
                let iterations = u32::from(input.byte() % 4);
                let mut out: *mut saslmech_scram_client_cache = null_mut();
                let out_p = if null_it {
                    null_mut()
                } else {
                    &mut out as *mut _
                };
                let r = saslmech_scram_client_cache_from_salted_password(
                    hash,
                    salted.as_ptr(),
                    salted.len(),
                    salt.as_ptr(),
                    salt.len(),
                    iterations,
                    out_p,
                );
                if null_it {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                let valid = match hash {
                    1 => salted.len() == 20,
                    2 => salted.len() == 32,
                    3 => salted.len() == 64,
                    _ => false,
                } && !salt.is_empty()
                    && iterations > 0;
                let ok = ok_or(r, &[SASLMECH_INVALID_ARGUMENT], "cache_from_salted");
                assert_eq!(ok, valid, "cache_from_salted_password: {r:?}");
                if ok {
                    let p = cache_params(out);
                    assert_eq!(
                        p.as_ref().map(|(a, b, c)| (*a, *b, c.as_slice())),
                        Some((hash, iterations, salt)),
                        "cache params differ from what made it"
                    );
                    saslmech_scram_client_cache_free(h.cache);
                    h.cache = out;
                } else {
                    assert!(out.is_null(), "out written on error");
                }
            }
            1 => {
                let mut out: *mut saslmech_scram_client_cache = null_mut();
                let out_p = if null_it {
                    null_mut()
                } else {
                    &mut out as *mut _
                };
                let r = saslmech_client_scram_cache(h.client, out_p);
                if null_it || h.client.is_null() {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                if ok_or(r, &[SASLMECH_ABSENT], "client_scram_cache") {
                    let m = h.t.client_mech;
                    assert!(is_scram(m), "a SCRAM cache from mechanism {m}");
                    let p = cache_params(out);
                    assert_eq!(
                        p.map(|(hash, _, _)| hash),
                        Some(if m <= 6 { 1 } else { 2 }),
                        "cache of the wrong hash"
                    );
                    saslmech_scram_client_cache_free(h.cache);
                    h.cache = out;
                } else {
                    assert!(out.is_null(), "out written on error");
                }
            }
            2 => {
                // NULL (removing the cache) is documented as allowed.
                let c = if null_it {
                    null()
                } else {
                    h.cache.cast_const()
                };
                let r = saslmech_credentials_set_scram_cache(h.creds, c);
                assert!(ok_or(r, &[], "set_scram_cache"));
            }
            _ => {
                if null_it {
                    let (mut hash, mut it, mut s, mut n) = (UNSET, UNSET, null(), usize::MAX);
                    let which = input.byte() % 4;
                    let r = saslmech_scram_client_cache_params(
                        h.cache,
                        if which == 0 { null_mut() } else { &mut hash },
                        if which == 1 { null_mut() } else { &mut it },
                        if which == 2 { null_mut() } else { &mut s },
                        if which == 3 { null_mut() } else { &mut n },
                    );
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    assert_eq!((hash, it, n), (UNSET, UNSET, usize::MAX));
                } else {
                    assert_eq!(cache_params(h.cache).is_some(), !h.cache.is_null());
                }
            }
        }
    }
}

/// A host name `saslmech_server_config_set_hostname` must take.
pub(super) fn hostname_ok(v: &[u8]) -> bool {
    let bad = |ch: char| ch.is_control() || ch.is_whitespace() || ch == '<' || ch == '>';
    core::str::from_utf8(v).is_ok_and(|s| !s.is_empty() && s.len() <= 255 && !s.chars().any(bad))
}

/// Operation 21: the server configuration's setters (the configuration or the text NULL
/// when asked).
pub(super) fn op_config_set(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let null_text = sel & 0x40 != 0;
    let cfg = if null_it { null_mut() } else { h.config };
    let v = input.bytes();
    let n = usize::from(input.byte()) << 8 | usize::from(input.byte());
    let p = maybe_null(v, null_text);
    let which = sel % 9;
    // SAFETY: `cfg` is NULL or live; `p` NULL or a live slice of `v.len()` bytes.
    let (r, valid, takes_text) = unsafe {
        match which {
            0 => (
                saslmech_server_config_set_hostname(cfg, p, v.len()),
                hostname_ok(v),
                true,
            ),
            1 => (saslmech_server_config_set_max_message(cfg, n), n > 0, false),
            2 => (saslmech_server_config_set_max_identity(cfg, n), true, false),
            3 => {
                let steps = n as u32 | u32::from(sel & 0x20) << 11;
                (
                    saslmech_server_config_set_max_steps(cfg, steps),
                    (1..=65535).contains(&steps),
                    false,
                )
            }
            4 => (
                saslmech_server_config_set_allow_weak(cfg, sel & 0x20 != 0),
                true,
                false,
            ),
            // How secrets are stored (1 plaintext, 2 keys; others refused), or OS nonces.
            5 if sel & 0x20 != 0 => {
                let storage = (n % 4) as u32;
                (
                    saslmech_server_config_set_secret_storage(cfg, storage),
                    (1..=2).contains(&storage),
                    false,
                )
            }
            5 => (ops::saslmech_server_config_set_nonce_os(cfg), true, false),
            6 => {
                let ok = |b: &u8| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'@');
                (
                    saslmech_server_config_set_nonce_fixed(cfg, p, v.len()),
                    !v.is_empty() && v.len() <= 255 && v.iter().all(ok),
                    true,
                )
            }
            7 => (
                saslmech_server_config_set_scram_secret(cfg, p, v.len()),
                !v.is_empty(),
                true,
            ),
            _ => (
                saslmech_server_config_set_oauth_openid_configuration(cfg, p, v.len()),
                core::str::from_utf8(v).is_ok(),
                true,
            ),
        }
    };
    if null_it {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT, "config setter {which} on NULL");
        return;
    }
    if takes_text && null_text && which == 6 {
        // A NULL fixed nonce is the default again: OS randomness.
        assert_eq!(r, SASLMECH_OK, "set_nonce_fixed(NULL)");
        return;
    }
    if takes_text && null_text {
        refused_null(r, "config setter");
        return;
    }
    let ok = ok_or(
        r,
        &[SASLMECH_INVALID_ARGUMENT, SASLMECH_INVALID_UTF8],
        "config setter",
    );
    assert_eq!(ok, valid, "config setter {which}: {r:?}");
    if ok && which == 1 {
        h.t.max_message = n;
    }
}

/// Operation 22: the server configuration's queries: the maximum message size is what was
/// set; `offered` lists exactly the mechanisms `check` allows, each once, by canonical name.
pub(super) fn op_config_query(h: &Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let flags = u32::from(input.byte());
    // SAFETY: `h.config` is live; out-parameters are locals or NULL.
    unsafe {
        let mut m = usize::MAX;
        let r =
            saslmech_server_config_max_message(h.config, if null_it { null_mut() } else { &mut m });
        if null_it {
            assert_eq!(r, SASLMECH_NULL_ARGUMENT);
            let r = saslmech_server_config_offered(h.config, 0, null_mut(), &mut m);
            assert_eq!(r, SASLMECH_NULL_ARGUMENT);
            let r = saslmech_server_config_check(h.config, 1, 0, null_mut());
            assert_eq!(r, SASLMECH_NULL_ARGUMENT);
            let r = saslmech_server_config_max_message(null(), &mut m);
            assert_eq!(r, SASLMECH_NULL_ARGUMENT);
            assert_eq!(m, usize::MAX, "written on error");
            return;
        }
        assert!(ok_or(r, &[], "max_message"));
        assert_eq!(m, h.t.max_message, "max_message is not what was set");
        let (mut p, mut n) = (null(), usize::MAX);
        let r = saslmech_server_config_offered(h.config, flags, &mut p, &mut n);
        let ok = ok_or(r, &[SASLMECH_INVALID_ARGUMENT], "offered");
        assert_eq!(
            ok,
            flags & !0x1f == 0,
            "offered with flags {flags:#x}: {r:?}"
        );
        if !ok {
            assert_eq!(n, usize::MAX, "written on error");
            let mut v = UNSET;
            let r = saslmech_server_config_check(h.config, 1, flags, out_u32(&mut v));
            assert_eq!(r, SASLMECH_INVALID_ARGUMENT, "check with flags {flags:#x}");
            return;
        }
        let names = read(p, n);
        let mut listed = Vec::new();
        if !names.is_empty() {
            for name in names.split(|b| *b == b' ') {
                let m = from_name(name);
                assert!(m.is_some(), "offered an unknown name");
                assert_eq!(m.and_then(name_of).as_deref(), Some(name), "not canonical");
                assert!(!listed.contains(&m), "offered twice");
                listed.push(m);
            }
        }
        for m in 0..=MECH_MAX + 1 {
            let mut v = UNSET;
            let r = saslmech_server_config_check(h.config, m, flags, out_u32(&mut v));
            if !(1..=MECH_MAX).contains(&m) {
                assert_eq!(r, SASLMECH_UNKNOWN_MECHANISM, "check of {m}");
                assert_eq!(v, UNSET);
                continue;
            }
            assert!(ok_or(r, &[], "check"));
            assert!(matches!(v, 0 | 9 | 10 | 11), "verdict {v}");
            assert_eq!(
                v == 0,
                listed.contains(&Some(m)),
                "offered and check disagree on {m} (flags {flags:#x}, verdict {v})"
            );
        }
    }
}

/// Operation 23: credentials' OAUTHBEARER host and port, and the Kerberos service name.
pub(super) fn op_credentials(h: &Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let null_text = sel & 0x40 != 0;
    let v = input.bytes();
    let port = u16::from(input.byte()) << 8 | u16::from(input.byte());
    let creds = if null_it { null_mut() } else { h.creds };
    // SAFETY: `creds` is NULL or live; the host NULL or a live slice.
    let r = unsafe {
        if sel & 1 == 0 && sel & 0x20 != 0 {
            ops::saslmech_credentials_set_service(creds, maybe_null(v, null_text), v.len())
        } else if sel & 1 == 0 {
            ops::saslmech_credentials_set_host(creds, maybe_null(v, null_text), v.len())
        } else {
            saslmech_credentials_set_port(creds, port)
        }
    };
    if null_it {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
    } else if sel & 1 == 0 && null_text {
        refused_null(r, "set_host/set_service");
    } else {
        let ok = ok_or(r, &[SASLMECH_INVALID_UTF8], "credentials host/service/port");
        assert_eq!(ok, sel & 1 == 1 || core::str::from_utf8(v).is_ok());
    }
}

/// Operation 24: client configuration setters.
pub(super) fn op_client_config(h: &Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let null_text = sel & 0x40 != 0;
    let v = input.bytes();
    let n = usize::from(input.byte()) << 8 | usize::from(input.byte());
    let cc = if null_it { null_mut() } else { h.client_config };
    // SAFETY: `cc` is NULL or live; the nonce NULL or a live slice.
    let (r, valid, takes_text) = unsafe {
        match sel % 3 {
            0 => (
                saslmech_client_config_set_max_challenge(cc, n),
                n > 0,
                false,
            ),
            1 => {
                let ok = |b: &u8| b.is_ascii_graphic() && *b != b',';
                (
                    saslmech_client_config_set_nonce_fixed(cc, maybe_null(v, null_text), v.len()),
                    !v.is_empty() && v.len() <= 255 && v.iter().all(ok),
                    true,
                )
            }
            _ => (ops::saslmech_client_config_set_nonce_os(cc), true, false),
        }
    };
    if null_it {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
    } else if takes_text && null_text {
        // A NULL fixed nonce is the default again: OS randomness.
        assert_eq!(r, SASLMECH_OK, "client config nonce: NULL");
    } else {
        let ok = ok_or(r, &[SASLMECH_INVALID_ARGUMENT], "client config setter");
        assert_eq!(ok, valid, "client config setter {}: {r:?}", sel % 3);
    }
}

/// Operation 25: a client session by `ops::saslmech_client_new` or `_new_with_limit` (SCRAM goes
/// through `_new_with_config`, so that the iteration counts stay tiny).
pub(super) fn op_client_new(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let m = u32::from(input.byte() % MECH_PICK);
    let flags = u32::from(input.byte() & 3);
    let limit = usize::from(input.byte()) * 16;
    // SAFETY: handles NULL or live; `out` a local or NULL.
    unsafe {
        saslmech_client_free(h.client);
        h.client = null_mut();
        let mut out: *mut saslmech_client = null_mut();
        let out_p = if null_it {
            null_mut()
        } else {
            &mut out as *mut _
        };
        let scram = is_scram(m);
        let with_limit = sel & 1 != 0;
        let r = if scram {
            ops::saslmech_client_new_with_config(m, h.creds, h.client_config, flags, out_p)
        } else if with_limit {
            ops::saslmech_client_new_with_limit(m, h.creds, flags, limit, out_p)
        } else {
            ops::saslmech_client_new(m, h.creds, flags, out_p)
        };
        if null_it {
            assert_eq!(r, SASLMECH_NULL_ARGUMENT);
            return;
        }
        if !(1..=MECH_MAX).contains(&m) {
            assert_eq!(r, SASLMECH_UNKNOWN_MECHANISM, "client_new({m})");
        }
        if ok_or(r, ANY, "client_new") {
            assert!(!out.is_null());
            assert!(flags <= 1, "unknown flag bits taken");
            assert!(!with_limit || scram || limit > 0, "a limit of 0 taken");
            h.client = out;
            h.t.client_mech = m;
            client_queries(h, 0);
        } else {
            assert!(out.is_null(), "out written on error");
        }
    }
}

/// Operation 26: a client session's queries. The mechanism is the one it was made for; a
/// finished session has no failure and refuses further steps; a failed one refuses them too.
pub(super) fn client_queries(h: &Handles, sel: u8) {
    let null_it = sel & 0x80 != 0;
    // SAFETY: `h.client` is NULL or live; out-parameters are locals or NULL.
    unsafe {
        let mut m = UNSET;
        let r = saslmech_client_mechanism(h.client, if null_it { null_mut() } else { &mut m });
        let mut fin = false;
        let r2 = saslmech_client_is_finished(h.client, if null_it { null_mut() } else { &mut fin });
        if null_it || h.client.is_null() {
            assert_eq!((r, r2), (SASLMECH_NULL_ARGUMENT, SASLMECH_NULL_ARGUMENT));
            return;
        }
        assert!(ok_or(r, &[], "client_mechanism"));
        assert_eq!(m, h.t.client_mech, "client_mechanism");
        assert!(ok_or(r2, &[], "is_finished"));
        let mut f = UNSET;
        let failed = ok_or(
            saslmech_client_failure(h.client, out_u32(&mut f)),
            &[SASLMECH_INVALID_STATE],
            "client_failure",
        );
        if failed {
            assert!((1..=15).contains(&f), "failure {f}");
        }
        assert!(!(fin && failed), "finished and failed");
        if fin || failed {
            let (mut p, mut n) = (null(), usize::MAX);
            let c = b"";
            let r = saslmech_client_step(h.client, c.as_ptr(), 0, &mut p, &mut n);
            assert_eq!(r, SASLMECH_INVALID_STATE, "an ended client took a step");
            assert_eq!(n, usize::MAX);
            let (mut has, mut p, mut n) = (false, null(), usize::MAX);
            let r = saslmech_client_start(h.client, &mut has, &mut p, &mut n);
            assert_eq!(r, SASLMECH_INVALID_STATE, "an ended client started");
        }
    }
}
