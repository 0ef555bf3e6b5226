//! Operations 20 and up: capability lines, stored keys (SCRAM, CRAM-MD5, RFC 5803) and the
//! stateless functions.

use super::*;

/// Operation 34: the capability parsers. With the reply's length as capacity they always
/// succeed; the result is distinct canonical mechanism names found in the reply, separated
/// by single spaces; a smaller capacity gives the same result or `BUFFER_TOO_SMALL`, and then
/// nothing is written.
pub(super) fn op_capabilities(input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let text = input.bytes();
    let cap_byte = usize::from(input.byte());
    let which = sel % 4;
    type Parse =
        unsafe extern "C" fn(*const u8, usize, *mut u8, usize, *mut usize) -> saslmech_result;
    let parse: Parse = match which {
        0 => ops::saslmech_smtp_ehlo_mechanisms,
        1 => ops::saslmech_imap_capability_mechanisms,
        2 => ops::saslmech_pop3_capa_mechanisms,
        _ => {
            let mut has = false;
            // SAFETY: a live slice (or NULL) and a local.
            let r = unsafe {
                saslmech_imap_has_sasl_ir(maybe_null(text, null_it), text.len(), &mut has)
            };
            if null_it {
                assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                return;
            }
            assert!(ok_or(r, &[], "has_sasl_ir"));
            let want = text.split(|b| *b == b'\n').any(|l| {
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                l.split(|b| *b == b' ').any(|t| {
                    let t = t.strip_prefix(b"[").unwrap_or(t);
                    let t = t.strip_suffix(b"]").unwrap_or(t);
                    t.eq_ignore_ascii_case(b"SASL-IR") || t.eq_ignore_ascii_case(b"IMAP4rev2")
                })
            });
            assert_eq!(has, want, "has_sasl_ir");
            return;
        }
    };
    let mut full = vec![0u8; text.len()];
    let mut n = usize::MAX;
    // SAFETY: live slices (or NULL) of the lengths passed; `n` a local.
    let r = unsafe {
        parse(
            maybe_null(text, null_it),
            text.len(),
            full.as_mut_ptr(),
            full.len(),
            &mut n,
        )
    };
    if null_it {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
        return;
    }
    assert!(ok_or(r, &[], "capability parser with the reply's length"));
    assert!(n <= text.len(), "more octets than the capacity");
    let names = full.get(..n).unwrap_or_default().to_vec();
    let upper = text.to_ascii_uppercase();
    let mut seen: Vec<&[u8]> = Vec::new();
    if !names.is_empty() {
        for name in names.split(|b| *b == b' ') {
            assert!(
                (1..=20).contains(&name.len())
                    && name.iter().all(|b| b.is_ascii_uppercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'-' | b'_')),
                "not a mechanism name: {name:?}"
            );
            assert!(!seen.contains(&name), "a name twice");
            assert!(
                upper.windows(name.len()).any(|w| w == name),
                "a name not in the reply"
            );
            seen.push(name);
        }
    }
    // Again with a capacity of at most the reply's length.
    let cap = cap_byte % (text.len() + 1);
    let mut small = vec![0xa5u8; cap];
    let mut m = usize::MAX;
    // SAFETY: as above.
    let r = unsafe { parse(text.as_ptr(), text.len(), small.as_mut_ptr(), cap, &mut m) };
    if ok_or(r, &[SASLMECH_BUFFER_TOO_SMALL], "capability parser") {
        assert_eq!(small.get(..m), Some(names.as_slice()), "results differ");
    } else {
        assert!(names.len() > cap, "BUFFER_TOO_SMALL with room");
        assert_eq!(m, usize::MAX, "len written on error");
        assert!(small.iter().all(|b| *b == 0xa5), "written on error");
    }
    // SAFETY: as above, with NULL out-parameters.
    let r = unsafe {
        parse(
            text.as_ptr(),
            text.len(),
            full.as_mut_ptr(),
            full.len(),
            null_mut(),
        )
    };
    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
}

/// Lower-case hex.
pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Operation 35: key helpers. CRAM-MD5 keys agree with the Rust API and round-trip through
/// Dovecot's form; Dovecot's form parses exactly when it is 64 hex digits; generated and
/// parsed SCRAM keys report their parameters and round-trip through RFC 5803.
pub(super) fn op_keys(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let v = input.bytes();
    let arg = input.byte();
    // SAFETY: live slices and locals; handles NULL or live.
    unsafe {
        match sel % 5 {
            0 => {
                let cap = if sel & 0x40 != 0 {
                    usize::from(arg % 33)
                } else {
                    32
                };
                let mut out = vec![0x5au8; cap];
                let r = saslmech_cram_md5_keys_from_password(
                    maybe_null(v, null_it),
                    v.len(),
                    out.as_mut_ptr(),
                    cap,
                );
                if cap < 32 {
                    assert_eq!(r, SASLMECH_BUFFER_TOO_SMALL);
                    assert!(out.iter().all(|b| *b == 0x5a), "written on error");
                    return;
                }
                if null_it {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                assert!(ok_or(r, &[], "cram_md5_keys_from_password"));
                let want = *saslmech::CramMd5Keys::from_password(v).to_bytes();
                assert_eq!(
                    out.as_slice(),
                    want.as_slice(),
                    "CRAM-MD5 keys differ from Rust's"
                );
                h.t.cram = want;
                let text = if arg & 1 == 0 {
                    format!("{{CRAM-MD5}}{}", hex(&want))
                } else {
                    hex(&want).to_ascii_uppercase()
                };
                let mut back = [0u8; 32];
                let r = saslmech_cram_md5_keys_from_dovecot(
                    text.as_ptr(),
                    text.len(),
                    back.as_mut_ptr(),
                    32,
                );
                // Either case parses (Dovecot writes lower case, other tools may not).
                assert!(
                    ok_or(r, &[], "from_dovecot of our own keys"),
                    "from_dovecot refused our own keys"
                );
                assert_eq!(back, want, "Dovecot round trip");
            }
            1 => {
                let mut out = [0x5au8; 32];
                let r = saslmech_cram_md5_keys_from_dovecot(
                    maybe_null(v, null_it),
                    v.len(),
                    out.as_mut_ptr(),
                    32,
                );
                if null_it {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                let digits = v.strip_prefix(b"{CRAM-MD5}").unwrap_or(v);
                let hex = digits.len() == 64 && digits.iter().all(u8::is_ascii_hexdigit);
                let ok = ok_or(r, &[SASLMECH_FAILED, SASLMECH_INVALID_UTF8], "from_dovecot");
                // 64 hex digits (either case) parse, anything else does not.
                assert_eq!(ok, hex, "from_dovecot: {r:?}");
                if ok {
                    let want: Vec<u8> = digits
                        .chunks(2)
                        .map(|c| {
                            let s = core::str::from_utf8(c).unwrap_or_default();
                            u8::from_str_radix(s, 16).unwrap_or_default()
                        })
                        .collect();
                    assert_eq!(out.as_slice(), want.as_slice(), "from_dovecot bytes");
                } else {
                    assert!(out.iter().all(|b| *b == 0x5a), "written on error");
                }
            }
            2 => {
                let hash = u32::from(arg % 4);
                let iterations = u32::from(arg >> 2 & 3);
                let mut out: *mut saslmech_scram_keys = null_mut();
                let r = ops::saslmech_scram_keys_generate(
                    hash,
                    maybe_null(v, null_it),
                    v.len(),
                    iterations,
                    &mut out,
                );
                if null_it {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                let ok = ok_or(
                    r,
                    &[SASLMECH_INVALID_ARGUMENT, SASLMECH_INVALID_UTF8],
                    "keys_generate",
                );
                if !(1..=3).contains(&hash) || iterations == 0 {
                    assert!(!ok, "generate({hash}, {iterations}) taken");
                }
                if core::str::from_utf8(v).is_err() {
                    assert_eq!(r, SASLMECH_INVALID_UTF8);
                }
                if !ok {
                    assert!(out.is_null(), "out written on error");
                    return;
                }
                let p = keys_params(out);
                assert_eq!(
                    p.as_ref().map(|(a, b, _)| (*a, *b)),
                    Some((hash, iterations)),
                    "generated keys' parameters"
                );
                rfc5803_round_trip(p.map(|(_, _, t)| t).unwrap_or_default());
                saslmech_scram_keys_free(h.keys);
                h.keys = out;
            }
            3 => {
                let mut out: *mut saslmech_scram_keys = null_mut();
                let r = saslmech_scram_keys_from_rfc5803(
                    maybe_null(v, null_it),
                    v.len(),
                    if arg & 1 != 0 { null_mut() } else { &mut out },
                );
                if null_it || arg & 1 != 0 {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                if ok_or(
                    r,
                    &[SASLMECH_FAILED, SASLMECH_INVALID_UTF8],
                    "keys_from_rfc5803",
                ) {
                    let p = keys_params(out);
                    assert!(p.is_some(), "parsed keys without parameters");
                    // The scheme is matched without regard to case (RFC 3112 schemes).
                    let sha1 = v
                        .get(..12)
                        .is_some_and(|s| s.eq_ignore_ascii_case(b"SCRAM-SHA-1$"));
                    let want_hash = if sha1 { 1 } else { 2 };
                    assert_eq!(
                        p.as_ref().map(|x| x.0),
                        Some(want_hash),
                        "hash of parsed keys"
                    );
                    rfc5803_round_trip(p.map(|(_, _, t)| t).unwrap_or_default());
                    saslmech_scram_keys_free(h.keys);
                    h.keys = out;
                } else {
                    assert!(out.is_null(), "out written on error");
                }
            }
            _ => {
                if null_it {
                    let mut x = UNSET;
                    let r = if arg & 1 == 0 {
                        saslmech_scram_keys_params(h.keys, null_mut(), &mut x)
                    } else {
                        saslmech_scram_keys_params(h.keys, &mut x, null_mut())
                    };
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    assert_eq!(x, UNSET);
                    let mut n = 0usize;
                    let r = saslmech_scram_keys_to_rfc5803(h.keys, null_mut(), &mut n);
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                } else {
                    assert_eq!(keys_params(h.keys).is_some(), !h.keys.is_null());
                }
            }
        }
    }
}

/// RFC 5803 text parses back to keys with the same text.
pub(super) fn rfc5803_round_trip(text: Vec<u8>) {
    let mut k: *mut saslmech_scram_keys = null_mut();
    // SAFETY: a live vector and a local.
    let r = unsafe { saslmech_scram_keys_from_rfc5803(text.as_ptr(), text.len(), &mut k) };
    assert!(ok_or(r, &[], "from_rfc5803 of our own text"));
    let back = keys_params(k);
    // SAFETY: `k` came from the constructor above and is freed once.
    unsafe { saslmech_scram_keys_free(k) };
    assert_eq!(back.map(|(_, _, t)| t), Some(text), "RFC 5803 round trip");
}

/// Operation 36: the stateless helpers.
pub(super) fn op_stateless(input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let a = input.bytes();
    let x = u32::from(input.byte());
    // SAFETY: live slices and locals, NULL where the oracle expects NULL_ARGUMENT.
    unsafe {
        match sel % 8 {
            0 => {
                let v = cstr(saslmech_version());
                assert_eq!(v, saslmech_package_version().as_bytes(), "version");
                let parts: Vec<u32> = core::str::from_utf8(&v)
                    .unwrap_or_default()
                    .split('.')
                    .map(|p| p.parse().unwrap_or(u32::MAX))
                    .collect();
                let number = saslmech_version_number();
                assert_eq!(
                    parts.as_slice(),
                    [number >> 16, number >> 8 & 0xff, number & 0xff].as_slice(),
                    "version number"
                );
            }
            1 => {
                let r = x | u32::from(sel & 0x40) << 24;
                let t = cstr(saslmech_strerror(r));
                assert!(!t.is_empty() && t.is_ascii(), "strerror({r})");
                assert_eq!(t == b"unknown saslmech_result", r > 11, "strerror({r})");
                let f = cstr(saslmech_failure_str(r));
                assert!(!f.is_empty() && f.is_ascii(), "failure_str({r})");
                assert_eq!(f == b"unknown saslmech_failure", r > 15, "failure_str({r})");
            }
            2 => {
                let m = (x % 16) | (u32::from(sel & 0x40) << 24);
                let name = name_of(m);
                let mut props = UNSET;
                let r = saslmech_mechanism_properties(m, &mut props);
                let Some(name) = name else {
                    assert_eq!(r, SASLMECH_UNKNOWN_MECHANISM, "properties of {m}");
                    return;
                };
                assert_eq!(from_name(&name), Some(m), "name round trip");
                assert_eq!(
                    from_name(&name.to_ascii_lowercase()),
                    Some(m),
                    "case ignored"
                );
                assert!(ok_or(r, &[], "properties"));
                assert_eq!(props & !0x7f, 0, "unknown property bits");
                assert_eq!(
                    props & 16 != 0,
                    name.ends_with(b"-PLUS"),
                    "channel binding property of {m}"
                );
                let r = saslmech_mechanism_properties(m, null_mut());
                assert_eq!(r, SASLMECH_NULL_ARGUMENT);
            }
            3 => {
                let mut m = UNSET;
                let r = saslmech_mechanism_from_name(maybe_null(a, null_it), a.len(), &mut m);
                if null_it {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                let known =
                    (1..=MECH_MAX).find(|n| name_of(*n).is_some_and(|c| c.eq_ignore_ascii_case(a)));
                if ok_or(r, &[SASLMECH_UNKNOWN_MECHANISM], "from_name") {
                    assert_eq!(Some(m), known, "from_name of {a:?}");
                } else {
                    assert_eq!(known, None, "a known name refused");
                    assert_eq!(m, UNSET);
                }
            }
            4 => {
                let (mut l, mut n) = (null(), usize::MAX);
                let r = saslmech_mechanisms(if null_it { null_mut() } else { &mut l }, &mut n);
                if null_it {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                assert!(ok_or(r, &[], "mechanisms"));
                assert_eq!(n, MECH_MAX as usize);
                // SAFETY: a static array of `n` numbers.
                let mut list = core::slice::from_raw_parts(l, n).to_vec();
                list.sort_unstable();
                assert_eq!(list, (1..=MECH_MAX).collect::<Vec<u32>>(), "mechanisms");
            }
            5 => {
                let flags = x & 0x7f | u32::from(sel & 0x40) << 1;
                let mut m = UNSET;
                let r = saslmech_select(maybe_null(a, null_it), a.len(), flags, &mut m);
                if null_it {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                let ok = ok_or(r, &[SASLMECH_ABSENT, SASLMECH_INVALID_ARGUMENT], "select");
                if flags & !0x7f != 0 {
                    assert_eq!(r, SASLMECH_INVALID_ARGUMENT, "select with flags {flags:#x}");
                    return;
                }
                assert_ne!(r, SASLMECH_INVALID_ARGUMENT, "select with flags {flags:#x}");
                if !ok {
                    assert_eq!(m, UNSET);
                    return;
                }
                let name = name_of(m).unwrap_or_default();
                assert!(
                    // Names are separated by SP, HT, CR or LF; each is also trimmed of
                    // other (Unicode) white space.
                    a.split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                        .filter_map(|t| core::str::from_utf8(t).ok())
                        .any(|t| t.trim().as_bytes().eq_ignore_ascii_case(&name)),
                    "selected a mechanism not advertised"
                );
                match m {
                    6 | 8 => assert!(flags & 16 != 0, "-PLUS without channel binding"),
                    10 => assert!(flags & 32 != 0, "EXTERNAL not asked for"),
                    11 => assert!(flags & 64 != 0, "ANONYMOUS not asked for"),
                    _ => {}
                }
                let mut again = UNSET;
                let r = saslmech_select(name.as_ptr(), name.len(), flags, &mut again);
                assert!(ok_or(r, &[], "select of the selected name alone"));
                assert_eq!(again, m, "select is not stable");
            }
            _ => {
                let b = if sel & 0x40 != 0 { a } else { input.bytes() };
                let mut eq = false;
                let mut eqp = true;
                let out: *mut bool = if null_it { null_mut() } else { &mut eq };
                let r = saslmech_ct_eq(a.as_ptr(), a.len(), b.as_ptr(), b.len(), out);
                let rp =
                    saslmech_ct_eq_password(a.as_ptr(), a.len(), b.as_ptr(), b.len(), &mut eqp);
                assert!(ok_or(rp, &[], "ct_eq_password"));
                assert_eq!(eqp, a == b, "ct_eq_password");
                if null_it {
                    assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    return;
                }
                assert!(ok_or(r, &[], "ct_eq"));
                assert_eq!(eq, a == b, "ct_eq");
                let r = saslmech_ct_eq(null(), 0, b.as_ptr(), b.len(), &mut eq);
                assert_eq!(r, SASLMECH_NULL_ARGUMENT);
            }
        }
    }
}
