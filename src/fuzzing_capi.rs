//! The C API fuzz target (features `fuzzing` and `capi`): `saslmech::ffi` driven from Rust by
//! arbitrary call sequences within the documented contract (live handles, buffers as long as
//! their lengths say, NULL wherever the caller chooses), the way a C program would.
//!
//! The only module besides `ffi` with `unsafe`: every call is an FFI call whose contract
//! (stated once at the top of `src/ffi.rs`) the target keeps. Each block says how.
//!
//! Oracles, beyond no crash: no call ever returns `SASLMECH_PANIC` or `SASLMECH_POISONED`;
//! a NULL out-parameter gives `SASLMECH_NULL_ARGUMENT`; out-parameters are written only on
//! `SASLMECH_OK` (sentinels stay otherwise) and then hold documented values (statuses 1–4,
//! request kinds 1–4, failures 0–15, phases 1–4); pointers returned are readable for the
//! length returned; a finished session refuses steps with `SASLMECH_INVALID_STATE`.
//! Operations 20 and up reach the rest of the header (every export is called) with oracles
//! from each function's documentation; `fuzz/README.md` lists them.

use core::ptr::{null, null_mut};

use crate::ffi::*;
use crate::fuzzing::{Input, MAX_OPS};

/// An out-parameter that is not written yet.
const UNSET: u32 = 0xdead_beef;

fn ok_or(r: saslmech_result, allowed: &[saslmech_result], what: &str) -> bool {
    assert!(
        !matches!(
            r,
            saslmech_result::SASLMECH_PANIC | saslmech_result::SASLMECH_POISONED
        ),
        "{what}: {r:?}"
    );
    assert!(
        r == saslmech_result::SASLMECH_OK || allowed.contains(&r),
        "{what}: undocumented result {r:?}"
    );
    r == saslmech_result::SASLMECH_OK
}

/// Results any call that takes input may give.
const ANY: &[saslmech_result] = &[
    SASLMECH_NULL_ARGUMENT,
    SASLMECH_INVALID_ARGUMENT,
    SASLMECH_INVALID_UTF8,
    SASLMECH_UNKNOWN_MECHANISM,
    SASLMECH_INVALID_STATE,
    SASLMECH_WRONG_ANSWER,
    SASLMECH_FAILED,
    SASLMECH_ABSENT,
    SASLMECH_BUFFER_TOO_SMALL,
];

/// A byte string or, if the selector says so, NULL (with its length kept: NULL with a
/// nonzero length must be refused, NULL with zero length is an empty string).
fn ptr_of(b: &[u8], null_it: bool) -> *const u8 {
    if null_it { null() } else { b.as_ptr() }
}

/// Read what a returned (pointer, length) pair points at.
fn read(p: *const u8, len: usize) -> Vec<u8> {
    if p.is_null() {
        assert_eq!(len, 0, "NULL pointer with a length");
        return Vec::new();
    }
    // SAFETY: the library documents the pair as `len` readable bytes, valid until the next
    // call on the handle; we copy them at once.
    unsafe { core::slice::from_raw_parts(p, len) }.to_vec()
}

/// Check a status out-parameter after a call.
fn check_status(ok: bool, st: u32) {
    if ok {
        assert!((1..=4).contains(&st), "status {st}");
    } else {
        assert_eq!(st, UNSET, "status written on error");
    }
}

struct Handles {
    config: *mut saslmech_server_config,
    server: *mut saslmech_server,
    client: *mut saslmech_client,
    creds: *mut saslmech_credentials,
    client_config: *mut saslmech_client_config,
    proto: *mut saslmech_proto_server,
    keys: *mut saslmech_scram_keys,
    cache: *mut saslmech_scram_client_cache,
    pclient: *mut saslmech_proto_client,
    /// What the target knows about the handles, to check answers against.
    t: Track,
}

/// The state the target expects the handles to be in.
struct Track {
    /// The mechanism `client` was made for.
    client_mech: u32,
    /// The configured maximum message size (`saslmech_server_config_max_message`).
    max_message: usize,
    /// `proto`'s protocol (0 SMTP, 1 IMAP, 2 POP3), TLS state and last event.
    proto_kind: u8,
    proto_tls: bool,
    proto_event: Option<u32>,
    /// `pclient`'s protocol, mechanism, whether started, its last event, whether it sends an
    /// initial response, its SMTP line limit.
    pclient_kind: u8,
    pclient_mech: u32,
    pclient_started: bool,
    pclient_event: Option<u32>,
    pclient_ir: bool,
    pclient_max_line: usize,
    /// The last CRAM-MD5 key state derived from a password.
    cram: [u8; 32],
}

impl Drop for Handles {
    fn drop(&mut self) {
        // SAFETY: each handle is NULL or came from its constructor and is freed once, here.
        unsafe {
            saslmech_server_free(self.server);
            saslmech_client_free(self.client);
            saslmech_proto_server_free(self.proto);
            saslmech_credentials_free(self.creds);
            saslmech_client_config_free(self.client_config);
            saslmech_scram_keys_free(self.keys);
            saslmech_scram_client_cache_free(self.cache);
            saslmech_proto_client_free(self.pclient);
            saslmech_server_config_free(self.config);
        }
    }
}

/// The C API target. Input: operation bytes and their operands (see the match below).
pub fn capi(data: &[u8]) {
    let mut input = Input::new(data);
    let mut h = Handles {
        config: null_mut(),
        server: null_mut(),
        client: null_mut(),
        creds: null_mut(),
        client_config: null_mut(),
        proto: null_mut(),
        keys: null_mut(),
        cache: null_mut(),
        pclient: null_mut(),
        t: Track {
            client_mech: 0,
            max_message: 65536,
            proto_kind: 0,
            proto_tls: false,
            proto_event: None,
            pclient_kind: 0,
            pclient_mech: 0,
            pclient_started: false,
            pclient_event: None,
            pclient_ir: true,
            pclient_max_line: 0,
            cram: [0; 32],
        },
    };
    // SAFETY (this whole function): every handle passed is NULL or live (created below,
    // freed only in `Drop` or right before being replaced); every (pointer, length) pair
    // points into a live slice of that length or is NULL; out-parameters point at locals.
    unsafe {
        assert!(ok_or(
            saslmech_server_config_new(&mut h.config),
            &[],
            "config_new"
        ));
        let all: Vec<u32> = (1..=11).collect();
        ok_or(
            saslmech_server_config_set_mechanisms(h.config, all.as_ptr(), all.len()),
            &[],
            "set_mechanisms",
        );
        ok_or(
            saslmech_server_config_set_allow_plaintext(h.config, true),
            &[],
            "plaintext",
        );
        ok_or(
            saslmech_server_config_set_scram_iterations(h.config, 2),
            &[],
            "iterations",
        );
        assert!(ok_or(
            saslmech_credentials_new(&mut h.creds),
            &[],
            "credentials_new"
        ));
        assert!(ok_or(
            saslmech_client_config_new(&mut h.client_config),
            &[],
            "cc_new"
        ));
        ok_or(
            saslmech_client_config_set_scram_iterations(h.client_config, 1, 64),
            ANY,
            "cc iterations",
        );
        for _ in 0..MAX_OPS {
            if input.is_empty() {
                break;
            }
            let op = input.byte() % OPS;
            let sel = input.byte();
            let null_it = sel & 0x80 != 0;
            match op {
                // A server session: mechanism number (0..=12, some unknown), flags.
                0 => {
                    saslmech_server_free(h.server);
                    h.server = null_mut();
                    let m = u32::from(sel % 13);
                    let flags = u32::from(input.byte() & 0x3f);
                    let mut out: *mut saslmech_server = null_mut();
                    let out_p = if null_it {
                        null_mut()
                    } else {
                        &mut out as *mut _
                    };
                    let r = saslmech_server_new(h.config, m, flags, out_p);
                    if ok_or(r, ANY, "server_new") {
                        assert!(!out.is_null());
                        h.server = out;
                    } else {
                        assert!(out.is_null(), "out written on error");
                        if null_it {
                            assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                        }
                    }
                }
                1..=3 => {
                    let msg = input.bytes();
                    let mut st = UNSET;
                    let stp = &mut st as *mut u32 as *mut saslmech_status;
                    let before = server_status(h.server);
                    let r = match op {
                        1 => saslmech_server_start(h.server, ptr_of(msg, null_it), msg.len(), stp),
                        2 => ops::saslmech_server_start_no_ir(h.server, stp),
                        _ => saslmech_server_step(h.server, ptr_of(msg, null_it), msg.len(), stp),
                    };
                    let ok = ok_or(r, ANY, "server start/step");
                    check_status(ok, st);
                    if matches!(before, Some(3 | 4)) {
                        assert!(!ok, "a finished session took a call");
                    }
                    if h.server.is_null() {
                        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
                    }
                    if !ok {
                        assert_eq!(server_status(h.server), before, "a refused call changed it");
                    }
                }
                // Answers.
                4 => {
                    let arg = input.bytes();
                    let mut st = UNSET;
                    let stp = &mut st as *mut u32 as *mut saslmech_status;
                    let p = ptr_of(arg, null_it);
                    let r = match sel % 10 {
                        0 => ops::saslmech_server_answer_accept(h.server, stp),
                        1 => ops::saslmech_server_answer_reject(h.server, stp),
                        2 => ops::saslmech_server_answer_unknown_user(h.server, stp),
                        3 => ops::saslmech_server_answer_account_disabled(h.server, stp),
                        4 => ops::saslmech_server_answer_temporary_failure(h.server, stp),
                        5 => ops::saslmech_server_answer_password(h.server, p, arg.len(), stp),
                        6 => ops::saslmech_server_answer_cram_md5_keys(h.server, p, arg.len(), stp),
                        7 => ops::saslmech_server_answer_scram_keys(h.server, h.keys, stp),
                        8 => ops::saslmech_server_answer_token_owner(h.server, p, arg.len(), stp),
                        _ => ops::saslmech_server_answer_token_error(h.server, p, arg.len(), stp),
                    };
                    let ok = ok_or(r, ANY, "answer");
                    check_status(ok, st);
                }
                // Accessors, with NULL out-parameters when asked.
                5 => server_accessors(h.server, sel),
                6 => {
                    let mut st = UNSET;
                    let stp = if null_it {
                        null_mut()
                    } else {
                        &mut st as *mut u32 as *mut saslmech_status
                    };
                    let r = saslmech_server_cancel(h.server, stp);
                    let ok = ok_or(r, ANY, "cancel");
                    if ok {
                        assert_eq!(st, 4, "cancel gives a failure");
                    }
                }
                7 => {
                    let data = input.bytes();
                    let r = if sel & 1 == 0 {
                        saslmech_server_set_channel_binding(
                            h.server,
                            u32::from(sel >> 1 & 3),
                            ptr_of(data, null_it),
                            data.len(),
                        )
                    } else {
                        saslmech_server_set_external_identity(
                            h.server,
                            ptr_of(data, null_it),
                            data.len(),
                        )
                    };
                    ok_or(r, ANY, "server transport");
                }
                // Credentials.
                8 => {
                    let v = input.bytes();
                    let p = ptr_of(v, null_it);
                    let r = match sel % 5 {
                        0 => ops::saslmech_credentials_set_authcid(h.creds, p, v.len()),
                        1 => ops::saslmech_credentials_set_authzid(h.creds, p, v.len()),
                        2 => ops::saslmech_credentials_set_password(h.creds, p, v.len()),
                        3 => ops::saslmech_credentials_set_token(h.creds, p, v.len()),
                        _ => ops::saslmech_credentials_set_trace(h.creds, p, v.len()),
                    };
                    ok_or(r, ANY, "credentials");
                }
                9 => {
                    saslmech_client_free(h.client);
                    h.client = null_mut();
                    let mut out: *mut saslmech_client = null_mut();
                    let flags = u32::from(input.byte() & 3);
                    let r = ops::saslmech_client_new_with_config(
                        u32::from(sel % 13),
                        h.creds,
                        h.client_config,
                        flags,
                        &mut out,
                    );
                    if ok_or(r, ANY, "client_new") {
                        h.client = out;
                        h.t.client_mech = u32::from(sel % 13);
                    } else {
                        assert!(out.is_null());
                    }
                }
                10 => {
                    let mut has = false;
                    let mut p: *const u8 = null();
                    let mut len = usize::MAX;
                    let r = saslmech_client_start(h.client, &mut has, &mut p, &mut len);
                    if ok_or(r, ANY, "client_start") && has {
                        read(p, len);
                    }
                }
                11 => {
                    let c = input.bytes();
                    let mut p: *const u8 = null();
                    let mut len = usize::MAX;
                    let r = saslmech_client_step(
                        h.client,
                        ptr_of(c, null_it),
                        c.len(),
                        &mut p,
                        &mut len,
                    );
                    if ok_or(r, ANY, "client_step") {
                        read(p, len);
                    } else {
                        assert_eq!(len, usize::MAX, "len written on error");
                    }
                }
                12 => {
                    let d = input.bytes();
                    let r = if sel & 1 == 0 {
                        ops::saslmech_client_finish(h.client)
                    } else {
                        ops::saslmech_client_finish_with_data(h.client, ptr_of(d, null_it), d.len())
                    };
                    ok_or(r, ANY, "client_finish");
                    let mut f = UNSET;
                    let r = saslmech_client_failure(h.client, &mut f as *mut u32 as *mut _);
                    if ok_or(r, ANY, "client_failure") {
                        assert!(f <= 15, "failure {f}");
                    }
                    for field in 0..=6 {
                        let mut p: *const u8 = null();
                        let mut len = 0usize;
                        let r = saslmech_client_oauth_error(h.client, field, &mut p, &mut len);
                        if ok_or(r, ANY, "oauth_error") {
                            read(p, len);
                        }
                    }
                }
                13 => {
                    let kind = u32::from(sel & 3);
                    let d = input.bytes();
                    let r = saslmech_client_config_set_channel_binding(
                        h.client_config,
                        kind,
                        ptr_of(d, null_it),
                        d.len(),
                    );
                    ok_or(r, ANY, "client channel binding");
                }
                14 => {
                    saslmech_scram_keys_free(h.keys);
                    h.keys = null_mut();
                    let pw = input.bytes();
                    let salt = input.bytes();
                    let mut out: *mut saslmech_scram_keys = null_mut();
                    let r = saslmech_scram_keys_derive(
                        u32::from(sel % 4),
                        ptr_of(pw, null_it),
                        pw.len(),
                        salt.as_ptr(),
                        salt.len(),
                        u32::from(input.byte() % 4),
                        &mut out,
                    );
                    if ok_or(r, ANY, "scram_keys_derive") {
                        h.keys = out;
                        let mut t: *const u8 = null();
                        let mut len = 0usize;
                        let r = saslmech_scram_keys_to_rfc5803(h.keys, &mut t, &mut len);
                        if ok_or(r, ANY, "to_rfc5803") {
                            read(t, len);
                        }
                    }
                }
                // Protocol adapters.
                15 => {
                    saslmech_proto_server_free(h.proto);
                    h.proto = null_mut();
                    let mut out: *mut saslmech_proto_server = null_mut();
                    let r = match sel % 3 {
                        0 => ops::saslmech_smtp_server_new(h.config, &mut out),
                        1 => ops::saslmech_imap_server_new(h.config, &mut out),
                        _ => ops::saslmech_pop3_server_new(h.config, &mut out),
                    };
                    if ok_or(r, ANY, "proto_server_new") {
                        h.proto = out;
                        h.t.proto_kind = sel % 3;
                        h.t.proto_tls = sel & 8 != 0;
                        h.t.proto_event = None;
                        ok_or(
                            saslmech_proto_server_set_tls(h.proto, sel & 8 != 0),
                            ANY,
                            "tls",
                        );
                    }
                }
                16 | 17 => {
                    let l = input.bytes();
                    let mut ev = UNSET;
                    let evp = &mut ev as *mut u32 as *mut saslmech_event;
                    let r = if op == 16 {
                        saslmech_proto_server_command(h.proto, ptr_of(l, null_it), l.len(), evp)
                    } else {
                        saslmech_proto_server_line(h.proto, ptr_of(l, null_it), l.len(), evp)
                    };
                    let ok = ok_or(r, ANY, "proto command/line");
                    proto_after(h.proto, ok, ev);
                    proto_track(&mut h, ok, ev);
                }
                18 => {
                    let pw = input.bytes();
                    let mut ev = UNSET;
                    let evp = &mut ev as *mut u32 as *mut saslmech_event;
                    let r = match sel % 4 {
                        0 => ops::saslmech_proto_server_answer_accept(h.proto, evp),
                        1 => ops::saslmech_proto_server_answer_reject(h.proto, evp),
                        2 => ops::saslmech_proto_server_answer_scram_keys(h.proto, h.keys, evp),
                        _ => ops::saslmech_proto_server_answer_password(
                            h.proto,
                            ptr_of(pw, null_it),
                            pw.len(),
                            evp,
                        ),
                    };
                    let ok = ok_or(r, ANY, "proto answer");
                    proto_after(h.proto, ok, ev);
                    proto_track(&mut h, ok, ev);
                }
                // Base64, with the caller's capacity.
                19 => {
                    let d = input.bytes();
                    let cap = usize::from(input.byte()) * 2;
                    let mut out = vec![0u8; cap];
                    let mut len = usize::MAX;
                    let r = if sel & 1 == 0 {
                        saslmech_b64_encode(d.as_ptr(), d.len(), out.as_mut_ptr(), cap, &mut len)
                    } else {
                        saslmech_b64_decode(d.as_ptr(), d.len(), out.as_mut_ptr(), cap, &mut len)
                    };
                    if ok_or(r, ANY, "b64") {
                        assert!(len <= cap, "wrote past the capacity");
                        let ours = if sel & 1 == 0 {
                            Some(crate::b64::encode(d).into_bytes())
                        } else {
                            crate::b64::decode(d).ok().map(|v| v.as_slice().to_vec())
                        };
                        assert_eq!(out.get(..len).map(<[u8]>::to_vec), ours, "b64 differs");
                    } else {
                        assert_eq!(len, usize::MAX, "len written on error");
                    }
                }
                // The SCRAM client cache.
                20 => op_cache(&mut h, &mut input, sel),
                // Server configuration setters and queries.
                21 => op_config_set(&mut h, &mut input, sel),
                22 => op_config_query(&h, &mut input, sel),
                // Credentials: OAUTHBEARER's host and port.
                23 => op_credentials(&h, &mut input, sel),
                // Client configuration setters.
                24 => op_client_config(&h, &mut input, sel),
                // Client sessions without a client configuration, and their queries.
                25 => op_client_new(&mut h, &mut input, sel),
                26 => client_queries(&h, sel),
                // The server adapter's transport, limits, replies; its queries; the answers
                // ops 18 and 4 do not give.
                27 => op_proto_control(&mut h, &mut input, sel),
                28 => proto_queries(&h, sel),
                29 => op_proto_answer(&mut h, &mut input, sel),
                // The client adapters fed arbitrary server lines.
                30 => op_pclient_new(&mut h, &mut input, sel),
                31 => op_pclient_config(&mut h, &mut input, sel),
                32 => op_pclient_start(&mut h, sel),
                33 => op_pclient_line(&mut h, &mut input, sel),
                // Capability parsers, key helpers, stateless helpers.
                34 => op_capabilities(&mut input, sel),
                35 => op_keys(&mut h, &mut input, sel),
                _ => op_stateless(&mut input, sel),
            }
        }
    }
}

/// The session's status, or `None` (no handle, or not started).
fn server_status(s: *const saslmech_server) -> Option<u32> {
    let mut st = UNSET;
    // SAFETY: `s` is NULL or live; `st` is a local.
    let r = unsafe { saslmech_server_status(s, &mut st as *mut u32 as *mut saslmech_status) };
    ok_or(r, ANY, "status").then_some(st)
}

/// Every accessor of a server session; `sel` bit 7 passes NULL out-parameters.
fn server_accessors(s: *const saslmech_server, sel: u8) {
    let null_it = sel & 0x80 != 0;
    // SAFETY: `s` is NULL or live; out-parameters are locals or NULL.
    unsafe {
        type Part = unsafe extern "C" fn(
            *const saslmech_server,
            *mut *const u8,
            *mut usize,
        ) -> saslmech_result;
        let parts: [Part; 10] = [
            ops::saslmech_server_challenge,
            ops::saslmech_server_request_authcid,
            ops::saslmech_server_request_authzid,
            ops::saslmech_server_request_password,
            ops::saslmech_server_request_token,
            ops::saslmech_server_request_host,
            ops::saslmech_server_identity_authcid,
            ops::saslmech_server_identity_authzid,
            ops::saslmech_server_identity_effective,
            ops::saslmech_server_success_data,
        ];
        for f in parts {
            let mut p: *const u8 = null();
            let mut len = usize::MAX;
            let r = if null_it {
                f(s, null_mut(), &mut len)
            } else {
                f(s, &mut p, &mut len)
            };
            if null_it {
                assert_eq!(r, SASLMECH_NULL_ARGUMENT, "NULL out-parameter");
            }
            if ok_or(r, ANY, "accessor") {
                read(p, len);
            } else {
                assert_eq!(len, usize::MAX, "len written on error");
            }
        }
        let mut kind = UNSET;
        let r =
            ops::saslmech_server_request(s, &mut kind as *mut u32 as *mut saslmech_request_kind);
        if ok_or(r, ANY, "request") {
            assert!((1..=4).contains(&kind), "request kind {kind}");
        } else {
            assert_eq!(kind, UNSET);
        }
        let mut f = UNSET;
        let r = saslmech_server_failure(s, &mut f as *mut u32 as *mut saslmech_failure);
        if ok_or(r, ANY, "failure") {
            assert!((1..=15).contains(&f), "failure {f}");
        }
        let mut port = 0u16;
        ok_or(ops::saslmech_server_request_port(s, &mut port), ANY, "port");
        let mut m = UNSET;
        if ok_or(saslmech_server_mechanism(s, &mut m), ANY, "mechanism") {
            assert!((1..=11).contains(&m));
        }
        let mut t: *const u8 = null();
        let mut len = 0usize;
        if ok_or(
            ops::saslmech_server_identity_trace(s, &mut t, &mut len),
            ANY,
            "trace",
        ) {
            read(t, len);
        }
    }
}

/// After a protocol adapter call: the event, the phase and the reply agree.
fn proto_after(p: *const saslmech_proto_server, ok: bool, ev: u32) {
    if !ok {
        assert_eq!(ev, UNSET, "event written on error");
    } else {
        assert!((1..=5).contains(&ev), "event {ev}");
    }
    // SAFETY: `p` is NULL or live; out-parameters are locals.
    unsafe {
        let mut phase = UNSET;
        if ok_or(
            saslmech_proto_server_phase(p, &mut phase as *mut u32 as *mut saslmech_phase),
            ANY,
            "phase",
        ) {
            assert!((1..=4).contains(&phase), "phase {phase}");
        }
        let mut r: *const u8 = null();
        let mut len = 0usize;
        if ok_or(
            saslmech_proto_server_reply(p, &mut r, &mut len),
            ANY,
            "reply",
        ) {
            let reply = read(r, len);
            assert!(reply.ends_with(b"\r\n"), "reply without CRLF");
        }
        let mut t: *const u8 = null();
        let mut len = 0usize;
        for f in [
            ops::saslmech_proto_server_request_authcid,
            ops::saslmech_proto_server_request_password,
            ops::saslmech_proto_server_identity_authcid,
            ops::saslmech_proto_server_identity_effective,
        ] {
            if ok_or(f(p, &mut t, &mut len), ANY, "proto accessor") {
                read(t, len);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operations 20 and up: the rest of the C API.

/// The number of operations (the operation byte is taken modulo this). 0..=19 keep the
/// meaning they had when the committed corpus was made.
const OPS: u8 = 37;

/// A static NUL-terminated string the library returned.
fn cstr(p: *const core::ffi::c_char) -> Vec<u8> {
    assert!(!p.is_null(), "NULL static string");
    // SAFETY: the library documents a static NUL-terminated string.
    unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes().to_vec()
}

/// An out-parameter of an enumeration type, read back as its number.
fn out_u32<T>(v: &mut u32) -> *mut T {
    (v as *mut u32).cast()
}

/// A byte string for a text argument, or NULL when `null_it`.
fn maybe_null(b: &[u8], null_it: bool) -> *const u8 {
    ptr_of(b, null_it)
}

/// After a call with a NULL byte-string argument (and a live handle): `NULL_ARGUMENT`, the
/// header's result for a NULL pointer ("Nothing was done").
fn refused_null(r: saslmech_result, what: &str) {
    assert_eq!(r, SASLMECH_NULL_ARGUMENT, "{what}: a NULL argument");
}

/// [`refused_null`] for an answer: with no request pending there is no request view to answer,
/// so the getter's `SASLMECH_INVALID_STATE` comes first.
fn refused_null_unless_nothing_pending(r: saslmech_result, nothing_pending: bool, what: &str) {
    if nothing_pending && r == SASLMECH_INVALID_STATE {
        return;
    }
    refused_null(r, what);
}

/// The mechanism a name maps to, through the C API.
fn from_name(name: &[u8]) -> Option<u32> {
    let mut m = UNSET;
    // SAFETY: `name` is a live slice; `m` a local.
    let r = unsafe { saslmech_mechanism_from_name(name.as_ptr(), name.len(), &mut m) };
    if ok_or(r, &[SASLMECH_UNKNOWN_MECHANISM], "from_name") {
        assert!((1..=11).contains(&m), "mechanism {m}");
        Some(m)
    } else {
        assert_eq!(m, UNSET);
        None
    }
}

/// The canonical name of a mechanism number, through the C API.
fn name_of(m: u32) -> Option<Vec<u8>> {
    let p = saslmech_mechanism_name(m);
    if p.is_null() {
        assert!(!(1..=11).contains(&m), "no name for {m}");
        None
    } else {
        assert!((1..=11).contains(&m), "a name for {m}");
        Some(cstr(p))
    }
}

/// A SCRAM client cache's parameters, or `None` for a refused call.
fn cache_params(c: *const saslmech_scram_client_cache) -> Option<(u32, u32, Vec<u8>)> {
    let (mut hash, mut it, mut s, mut n) = (UNSET, UNSET, null(), usize::MAX);
    // SAFETY: `c` is NULL or live; out-parameters are locals.
    let r = unsafe { saslmech_scram_client_cache_params(c, &mut hash, &mut it, &mut s, &mut n) };
    if ok_or(r, ANY, "cache_params") {
        assert!(hash == 1 || hash == 2, "cache hash {hash}");
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
fn keys_params(k: *const saslmech_scram_keys) -> Option<(u32, u32, Vec<u8>)> {
    let (mut hash, mut it) = (UNSET, UNSET);
    // SAFETY: `k` is NULL or live; out-parameters are locals.
    let r = unsafe { saslmech_scram_keys_params(k, &mut hash, &mut it) };
    if !ok_or(r, ANY, "keys_params") {
        assert_eq!((hash, it), (UNSET, UNSET), "written on error");
        return None;
    }
    assert!(hash == 1 || hash == 2, "keys hash {hash}");
    let (mut t, mut n) = (null(), usize::MAX);
    // SAFETY: as above.
    let r = unsafe { saslmech_scram_keys_to_rfc5803(k, &mut t, &mut n) };
    assert!(ok_or(r, &[], "to_rfc5803"));
    let text = read(t, n);
    let prefix: &[u8] = if hash == 1 {
        b"SCRAM-SHA-1$"
    } else {
        b"SCRAM-SHA-256$"
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
fn op_cache(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    // SAFETY: handles are NULL or live; slices and locals as documented.
    unsafe {
        match sel % 4 {
            0 => {
                let hash = u32::from(input.byte() % 3);
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
                    assert!((5..=8).contains(&m), "a SCRAM cache from mechanism {m}");
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
fn hostname_ok(v: &[u8]) -> bool {
    let bad = |ch: char| ch.is_control() || ch.is_whitespace() || ch == '<' || ch == '>';
    core::str::from_utf8(v).is_ok_and(|s| !s.is_empty() && s.len() <= 255 && !s.chars().any(bad))
}

/// Operation 21: the server configuration's setters (the configuration or the text NULL
/// when asked).
fn op_config_set(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
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
fn op_config_query(h: &Handles, input: &mut Input<'_>, sel: u8) {
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
        for m in 0..=12u32 {
            let mut v = UNSET;
            let r = saslmech_server_config_check(h.config, m, flags, out_u32(&mut v));
            if !(1..=11).contains(&m) {
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

/// Operation 23: credentials' OAUTHBEARER host and port.
fn op_credentials(h: &Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let null_text = sel & 0x40 != 0;
    let v = input.bytes();
    let port = u16::from(input.byte()) << 8 | u16::from(input.byte());
    let creds = if null_it { null_mut() } else { h.creds };
    // SAFETY: `creds` is NULL or live; the host NULL or a live slice.
    let r = unsafe {
        if sel & 1 == 0 {
            ops::saslmech_credentials_set_host(creds, maybe_null(v, null_text), v.len())
        } else {
            saslmech_credentials_set_port(creds, port)
        }
    };
    if null_it {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
    } else if sel & 1 == 0 && null_text {
        refused_null(r, "set_host");
    } else {
        let ok = ok_or(r, &[SASLMECH_INVALID_UTF8], "credentials host/port");
        assert_eq!(ok, sel & 1 == 1 || core::str::from_utf8(v).is_ok());
    }
}

/// Operation 24: client configuration setters.
fn op_client_config(h: &Handles, input: &mut Input<'_>, sel: u8) {
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
fn op_client_new(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let m = u32::from(input.byte() % 13);
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
        let scram = (5..=8).contains(&m);
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
        if !(1..=11).contains(&m) {
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
fn client_queries(h: &Handles, sel: u8) {
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

/// Record a server adapter's event after an advancing call.
fn proto_track(h: &mut Handles, ok: bool, ev: u32) {
    if ok {
        h.t.proto_event = Some(ev);
    }
}

/// The server adapter's phase, or `None` (no adapter).
fn proto_phase(p: *const saslmech_proto_server) -> Option<u32> {
    let mut ph = UNSET;
    // SAFETY: `p` is NULL or live; `ph` a local.
    let r = unsafe { saslmech_proto_server_phase(p, out_u32(&mut ph)) };
    ok_or(r, ANY, "phase").then_some(ph)
}

/// After a call that forgets the exchange: idle, no event, no reply.
fn proto_forgotten(p: *const saslmech_proto_server) {
    assert_eq!(proto_phase(p), Some(1), "not idle after forgetting");
    let mut ev = UNSET;
    // SAFETY: `p` is live; locals.
    let r = unsafe { saslmech_proto_server_event(p, out_u32(&mut ev)) };
    assert_eq!(r, SASLMECH_INVALID_STATE, "an event after forgetting");
    let (mut t, mut n) = (null(), usize::MAX);
    // SAFETY: as above.
    let r = unsafe { saslmech_proto_server_reply(p, &mut t, &mut n) };
    assert_eq!(r, SASLMECH_INVALID_STATE, "a reply after forgetting");
}

/// Operation 27: the server adapter's transport, limits and SMTP replies.
fn op_proto_control(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let null_text = sel & 0x40 != 0;
    let v = input.bytes();
    let n = usize::from(input.byte()) * 64;
    let k = u32::from(input.byte() % 16);
    let p = maybe_null(v, null_text);
    let proto = if null_it { null_mut() } else { h.proto };
    let which = sel % 6;
    // SAFETY: `proto` NULL or live; `p` NULL or a live slice of `v.len()` bytes.
    let r = unsafe {
        match which {
            0 => saslmech_proto_server_set_channel_binding(proto, k % 4, p, v.len()),
            1 => saslmech_proto_server_set_external_identity(proto, p, v.len()),
            2 => saslmech_proto_server_reset(proto),
            3 => saslmech_proto_server_set_max_line(proto, n),
            4 => saslmech_smtp_server_set_reply(proto, k, p, v.len()),
            _ => saslmech_proto_server_set_tls(proto, sel & 0x20 != 0),
        }
    };
    if proto.is_null() {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
        return;
    }
    let takes_text = matches!(which, 0 | 1 | 4);
    if takes_text && null_text {
        refused_null(r, "proto control");
        return;
    }
    let phase = proto_phase(h.proto);
    let ok = ok_or(r, ANY, "proto control");
    let utf8 = core::str::from_utf8(v).is_ok();
    let expected = match which {
        0 => (1..=3).contains(&(k % 4)) && !v.is_empty() && h.t.proto_tls,
        1 => utf8 && !v.is_empty(),
        2 | 5 => true,
        3 => n > 0,
        _ => {
            let code = matches!(v, [b'2'..=b'5', b'0'..=b'9', b'0'..=b'9', b' ', ..]);
            h.t.proto_kind == 0 && (1..=14).contains(&k) && utf8 && code
        }
    };
    assert_eq!(ok, expected, "proto control {which}: {r:?}");
    if which == 0 && !ok && (1..=3).contains(&(k % 4)) && !v.is_empty() {
        assert_eq!(r, SASLMECH_INVALID_STATE, "channel binding without TLS");
    }
    if ok {
        match which {
            0 | 1 | 2 | 5 => {
                if which == 5 {
                    h.t.proto_tls = sel & 0x20 != 0;
                }
                h.t.proto_event = None;
                proto_forgotten(h.proto);
            }
            _ => assert_eq!(proto_phase(h.proto), phase, "a setting changed the phase"),
        }
    } else {
        assert_eq!(
            proto_phase(h.proto),
            phase,
            "a refused call changed the phase"
        );
    }
}

/// Operation 28: every query of the server adapter, against the phase and the last event.
fn proto_queries(h: &Handles, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let p = h.proto;
    // SAFETY: `p` NULL or live; out-parameters locals or NULL.
    unsafe {
        if null_it || p.is_null() {
            let mut v = UNSET;
            let (mut t, mut n) = (null(), 0usize);
            for r in [
                saslmech_proto_server_event(
                    p,
                    if p.is_null() {
                        out_u32(&mut v)
                    } else {
                        null_mut()
                    },
                ),
                saslmech_proto_server_failure(
                    p,
                    if p.is_null() {
                        out_u32(&mut v)
                    } else {
                        null_mut()
                    },
                ),
                ops::saslmech_proto_server_request(
                    p,
                    if p.is_null() {
                        out_u32(&mut v)
                    } else {
                        null_mut()
                    },
                ),
                saslmech_proto_server_mechanism(p, if p.is_null() { &mut v } else { null_mut() }),
                saslmech_server_config_offered(
                    if p.is_null() { null() } else { h.config },
                    0,
                    if p.is_null() { &mut t } else { null_mut() },
                    &mut n,
                ),
                ops::saslmech_proto_server_request_authzid(
                    p,
                    &mut t,
                    if p.is_null() { &mut n } else { null_mut() },
                ),
                ops::saslmech_proto_server_request_token(
                    p,
                    if p.is_null() { &mut t } else { null_mut() },
                    &mut n,
                ),
                ops::saslmech_proto_server_request_host(
                    p,
                    &mut t,
                    if p.is_null() { &mut n } else { null_mut() },
                ),
                ops::saslmech_proto_server_request_port(p, null_mut()),
                ops::saslmech_proto_server_identity_authzid(
                    p,
                    if p.is_null() { &mut t } else { null_mut() },
                    &mut n,
                ),
                ops::saslmech_proto_server_identity_trace(
                    p,
                    &mut t,
                    if p.is_null() { &mut n } else { null_mut() },
                ),
                saslmech_proto_server_phase(p, null_mut()),
            ] {
                assert_eq!(r, SASLMECH_NULL_ARGUMENT, "NULL argument");
            }
            assert_eq!(v, UNSET);
            return;
        }
        let phase = proto_phase(p);
        let mut ev = UNSET;
        let r = saslmech_proto_server_event(p, out_u32(&mut ev));
        if ok_or(r, &[SASLMECH_INVALID_STATE], "event") {
            assert_eq!(Some(ev), h.t.proto_event, "event is not the last one");
        } else {
            assert_eq!(h.t.proto_event, None, "the last event is gone");
        }
        let mut f = UNSET;
        let r = saslmech_proto_server_failure(p, out_u32(&mut f));
        let failed = ok_or(r, &[SASLMECH_INVALID_STATE], "proto failure");
        assert_eq!(
            failed,
            h.t.proto_event == Some(4),
            "failure without a failure event"
        );
        if failed {
            assert!((1..=15).contains(&f), "failure {f}");
        }
        let mut kind = UNSET;
        let r = ops::saslmech_proto_server_request(p, out_u32(&mut kind));
        let pending = ok_or(r, &[SASLMECH_INVALID_STATE], "proto request");
        assert_eq!(
            pending,
            phase == Some(3),
            "a request outside the request phase"
        );
        assert_eq!(
            pending,
            h.t.proto_event == Some(2),
            "a request without a request event"
        );
        if pending {
            assert!((1..=4).contains(&kind), "request kind {kind}");
        }
        let mut m = UNSET;
        if ok_or(
            saslmech_proto_server_mechanism(p, &mut m),
            &[SASLMECH_ABSENT],
            "proto mechanism",
        ) {
            assert!((1..=11).contains(&m), "mechanism {m}");
        }
        // What the adapter would offer now (the one list: the config's, for the connection
        // the adapter was told of), written as the protocol advertises it.
        let (mut t, mut n) = (null(), usize::MAX);
        let flags = if h.t.proto_tls {
            SASLMECH_SERVER_TLS
        } else {
            0
        };
        let r = saslmech_server_config_offered(h.config, flags, &mut t, &mut n);
        if ok_or(r, &[], "offered") {
            let names = read(t, n);
            if !names.is_empty() {
                check_advertised(h.t.proto_kind, &advertised_as(h.t.proto_kind, &names));
            }
        }
        type Part = unsafe extern "C" fn(
            *const saslmech_proto_server,
            *mut *const u8,
            *mut usize,
        ) -> saslmech_result;
        let parts: [(Part, bool); 4] = [
            (ops::saslmech_proto_server_request_authzid, true),
            (ops::saslmech_proto_server_request_token, true),
            (ops::saslmech_proto_server_request_host, true),
            (ops::saslmech_proto_server_identity_authzid, false),
        ];
        for (f, is_request) in parts {
            let (mut t, mut n) = (null(), usize::MAX);
            if ok_or(f(p, &mut t, &mut n), ANY, "proto part") {
                if is_request {
                    assert!(pending, "a request part without a request");
                } else {
                    assert_eq!(phase, Some(4), "an identity before authentication");
                }
                read(t, n);
            } else {
                assert_eq!(n, usize::MAX, "len written on error");
            }
        }
        let mut port = 0u16;
        if ok_or(
            ops::saslmech_proto_server_request_port(p, &mut port),
            ANY,
            "request_port",
        ) {
            assert_eq!(kind, 3, "a port outside a token request");
        }
        let (mut t, mut n) = (null(), usize::MAX);
        if ok_or(
            ops::saslmech_proto_server_identity_trace(p, &mut t, &mut n),
            ANY,
            "identity_trace",
        ) {
            assert_eq!(phase, Some(4), "a trace before authentication");
            assert_eq!(m, 11, "a trace from a mechanism other than ANONYMOUS");
            read(t, n);
        }
        // The effective identity is the authzid if there is one, else the authcid.
        let (mut a, mut an) = (null(), 0usize);
        let (mut z, mut zn) = (null(), 0usize);
        let (mut e, mut en) = (null(), 0usize);
        let ra = ops::saslmech_proto_server_identity_authcid(p, &mut a, &mut an);
        let rz = ops::saslmech_proto_server_identity_authzid(p, &mut z, &mut zn);
        let re = ops::saslmech_proto_server_identity_effective(p, &mut e, &mut en);
        if ok_or(re, ANY, "effective") {
            let want = if rz == SASLMECH_OK {
                read(z, zn)
            } else {
                assert!(ok_or(ra, ANY, "authcid"));
                read(a, an)
            };
            assert_eq!(read(e, en), want, "effective identity");
        }
    }
}

/// The offered names as protocol `kind` advertises them: SMTP's EHLO keyword, IMAP's
/// capabilities, POP3's CAPA line.
fn advertised_as(kind: u8, names: &[u8]) -> Vec<u8> {
    match kind {
        0 => [b"AUTH ".as_slice(), names].concat(),
        1 => {
            let mut out = Vec::new();
            for name in names.split(|b| *b == b' ') {
                out.extend_from_slice(b"AUTH=");
                out.extend_from_slice(name);
                out.push(b' ');
            }
            out.extend_from_slice(b"SASL-IR");
            out
        }
        _ => [b"SASL ".as_slice(), names].concat(),
    }
}

/// What a server offers, advertised as its protocol does, parses back with the client-side
/// parsers to names this library implements.
fn check_advertised(kind: u8, text: &[u8]) {
    let wrapped: Vec<u8> = match kind {
        0 => [b"250-".as_slice(), text].concat(),
        _ => text.to_vec(),
    };
    let mut out = vec![0u8; wrapped.len()];
    let mut n = usize::MAX;
    // SAFETY: live slices and locals.
    let r = unsafe {
        match kind {
            0 => ops::saslmech_smtp_ehlo_mechanisms(
                wrapped.as_ptr(),
                wrapped.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut n,
            ),
            1 => ops::saslmech_imap_capability_mechanisms(
                wrapped.as_ptr(),
                wrapped.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut n,
            ),
            _ => ops::saslmech_pop3_capa_mechanisms(
                wrapped.as_ptr(),
                wrapped.len(),
                out.as_mut_ptr(),
                out.len(),
                &mut n,
            ),
        }
    };
    assert!(ok_or(r, &[], "parse advertised"));
    let names = out.get(..n).unwrap_or_default();
    if kind != 1 {
        assert!(!names.is_empty(), "advertised no mechanism: {text:?}");
    }
    if !names.is_empty() {
        for name in names.split(|b| *b == b' ') {
            assert!(from_name(name).is_some(), "advertised an unknown mechanism");
        }
    }
}

/// Operation 29: the answers ops 18 and 4 do not give, on the server adapter (and
/// `ops::saslmech_server_answer_token_error_scope` on the session). A refused answer changes
/// nothing; with no request pending every answer is refused.
fn op_proto_answer(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let a = input.bytes();
    let b = input.bytes();
    let which = sel % 8;
    let cram = h.t.cram;
    let pa = maybe_null(a, null_it);
    if which == 7 {
        let mut st = UNSET;
        let before = server_status(h.server);
        // SAFETY: `h.server` NULL or live; the texts NULL or live slices.
        let r = unsafe {
            ops::saslmech_server_answer_token_error_scope(
                h.server,
                pa,
                a.len(),
                b.as_ptr(),
                b.len(),
                out_u32(&mut st),
            )
        };
        let ok = ok_or(r, ANY, "answer_token_error_scope");
        check_status(ok, st);
        if null_it {
            // The request is taken before its answer: with none pending there is no view to
            // answer, whatever the arguments.
            refused_null_unless_nothing_pending(r, before != Some(2), "answer_token_error_scope");
        }
        if !ok {
            assert_eq!(
                server_status(h.server),
                before,
                "a refused answer changed it"
            );
        }
        return;
    }
    let phase = proto_phase(h.proto);
    let mut ev = UNSET;
    let evp = out_u32(&mut ev);
    // SAFETY: `h.proto` NULL or live; the byte strings NULL or live slices.
    let r = unsafe {
        match which {
            0 => ops::saslmech_proto_server_answer_unknown_user(h.proto, evp),
            1 => ops::saslmech_proto_server_answer_account_disabled(h.proto, evp),
            2 => ops::saslmech_proto_server_answer_temporary_failure(h.proto, evp),
            3 => {
                if sel & 0x40 != 0 {
                    ops::saslmech_proto_server_answer_cram_md5_keys(h.proto, cram.as_ptr(), 32, evp)
                } else {
                    ops::saslmech_proto_server_answer_cram_md5_keys(h.proto, pa, a.len(), evp)
                }
            }
            4 => ops::saslmech_proto_server_answer_token_owner(h.proto, pa, a.len(), evp),
            5 => ops::saslmech_proto_server_answer_token_error(h.proto, pa, a.len(), evp),
            _ => ops::saslmech_proto_server_answer_token_error_scope(
                h.proto,
                pa,
                a.len(),
                b.as_ptr(),
                b.len(),
                evp,
            ),
        }
    };
    let ok = ok_or(r, ANY, "proto answer");
    if h.proto.is_null() {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
        return;
    }
    if null_it && which >= 3 && !(which == 3 && sel & 0x40 != 0) {
        refused_null_unless_nothing_pending(r, phase != Some(3), "proto answer");
    }
    if phase != Some(3) {
        assert!(!ok, "an answer without a pending request");
    }
    proto_after(h.proto, ok, ev);
    proto_track(h, ok, ev);
    if !ok {
        assert_eq!(
            proto_phase(h.proto),
            phase,
            "a refused answer changed the phase"
        );
    }
}

/// The protocol of a client adapter, its command prefix and its mechanism name.
fn command_prefix(kind: u8, tag: &[u8], name: &[u8]) -> Vec<u8> {
    match kind {
        1 => [tag, b" AUTHENTICATE ", name].concat(),
        _ => [b"AUTH ".as_slice(), name].concat(),
    }
}

/// A valid IMAP tag (1 to 64 `ASTRING-CHAR`s other than `+`).
fn tag_ok(tag: &[u8]) -> bool {
    (1..=64).contains(&tag.len())
        && tag.iter().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// The IMAP tag the client adapters use unless the input gives one.
const TAG: &[u8] = b"a1";

/// Operation 30: a client adapter (SMTP, IMAP, POP3, with or without a client
/// configuration; SCRAM always with one, so that the iteration counts stay tiny).
fn op_pclient_new(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let kind = sel % 3;
    let m = u32::from(input.byte() % 13);
    let raw_tag = input.bytes();
    let tag = if sel & 0x40 != 0 { raw_tag } else { TAG };
    let with_config = sel & 0x20 != 0 || (5..=8).contains(&m);
    // SAFETY: handles NULL or live; the tag a live slice; `out` a local or NULL.
    unsafe {
        saslmech_proto_client_free(h.pclient);
        h.pclient = null_mut();
        let mut out: *mut saslmech_proto_client = null_mut();
        let out_p = if null_it {
            null_mut()
        } else {
            &mut out as *mut _
        };
        let (c, cc) = (h.creds.cast_const(), h.client_config.cast_const());
        let (tp, tl) = (tag.as_ptr(), tag.len());
        let r = match (kind, with_config) {
            (0, false) => ops::saslmech_smtp_client_new(m, c, out_p),
            (0, true) => ops::saslmech_smtp_client_new_with_config(m, c, cc, out_p),
            (1, false) => ops::saslmech_imap_client_new(tp, tl, m, c, out_p),
            (1, true) => ops::saslmech_imap_client_new_with_config(tp, tl, m, c, cc, out_p),
            (_, false) => ops::saslmech_pop3_client_new(m, c, out_p),
            _ => ops::saslmech_pop3_client_new_with_config(m, c, cc, out_p),
        };
        if null_it {
            assert_eq!(r, SASLMECH_NULL_ARGUMENT);
            return;
        }
        if !(1..=11).contains(&m) {
            assert_eq!(r, SASLMECH_UNKNOWN_MECHANISM, "client adapter for {m}");
        }
        if !ok_or(r, ANY, "proto client new") {
            assert!(out.is_null(), "out written on error");
            return;
        }
        assert!(kind != 1 || tag_ok(tag), "an invalid IMAP tag taken");
        h.pclient = out;
        h.t.pclient_kind = kind;
        h.t.pclient_mech = m;
        h.t.pclient_started = false;
        h.t.pclient_event = None;
        h.t.pclient_ir = true;
        h.t.pclient_max_line = if kind == 0 { 12288 } else { 255 };
        let mut got = UNSET;
        assert!(ok_or(
            saslmech_proto_client_mechanism(h.pclient, &mut got),
            &[],
            "proto client mechanism"
        ));
        assert_eq!(got, m, "proto client mechanism");
        let r = saslmech_proto_client_mechanism(h.pclient, null_mut());
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
    }
}

/// Operation 31: the client adapter's settings, only before the start.
fn op_pclient_config(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let n = usize::from(input.byte()) << 8 | usize::from(input.byte());
    let p = h.pclient;
    // SAFETY: `p` NULL or live.
    let r = unsafe {
        if sel & 1 == 0 {
            saslmech_proto_client_set_initial_response(p, sel & 2 != 0)
        } else {
            saslmech_smtp_client_set_max_line(p, n)
        }
    };
    if p.is_null() {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
        return;
    }
    let ok = ok_or(r, ANY, "proto client setting");
    if sel & 1 == 0 {
        assert_eq!(ok, !h.t.pclient_started, "set_initial_response: {r:?}");
        if ok {
            h.t.pclient_ir = sel & 2 != 0;
        }
    } else {
        let valid = n > 0 && h.t.pclient_kind == 0;
        assert_eq!(
            ok,
            valid && !h.t.pclient_started,
            "set_max_line({n}): {r:?}"
        );
        if !valid {
            assert_eq!(r, SASLMECH_INVALID_ARGUMENT);
        }
        if ok {
            h.t.pclient_max_line = n;
        }
    }
}

/// One CRLF-terminated line with no other CR or LF.
fn one_line(b: &[u8]) -> bool {
    b.strip_suffix(b"\r\n")
        .is_some_and(|l| !l.iter().any(|c| matches!(c, b'\r' | b'\n')))
}

/// Operation 32: the client adapter's command: one line naming the mechanism, an initial
/// response only when enabled and within the line limit; only once.
fn op_pclient_start(h: &mut Handles, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let (mut c, mut n) = (null(), usize::MAX);
    // SAFETY: `h.pclient` NULL or live; locals or NULL.
    let r = unsafe {
        saslmech_proto_client_start(h.pclient, if null_it { null_mut() } else { &mut c }, &mut n)
    };
    if h.pclient.is_null() || null_it {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
        return;
    }
    let ok = ok_or(r, ANY, "proto client start");
    if h.t.pclient_started {
        assert!(!ok, "started twice");
        return;
    }
    if !ok {
        assert_eq!(n, usize::MAX, "len written on error");
        return;
    }
    h.t.pclient_started = true;
    let cmd = read(c, n);
    assert!(one_line(&cmd), "the command is not one line");
    let name = name_of(h.t.pclient_mech).unwrap_or_default();
    let bare = [
        command_prefix(h.t.pclient_kind, TAG, &name),
        b"\r\n".to_vec(),
    ]
    .concat();
    let body = cmd.strip_suffix(b"\r\n").unwrap_or_default();
    let words: Vec<&[u8]> = body.split(|b| *b == b' ').collect();
    let ir_at = if h.t.pclient_kind == 1 { 3 } else { 2 };
    assert_eq!(
        words.get(ir_at - 1).copied(),
        Some(name.as_slice()),
        "the command names another mechanism"
    );
    if let Some(ir) = words.get(ir_at) {
        assert!(h.t.pclient_ir, "an initial response while turned off");
        assert_eq!(words.len(), ir_at + 1, "extra words in the command");
        assert!(
            *ir == b"=" || crate::b64::decode(ir).is_ok_and(|d| !d.as_slice().is_empty()),
            "the initial response is not `=` or base64"
        );
        if h.t.pclient_kind != 1 {
            assert!(
                cmd.len() <= h.t.pclient_max_line,
                "a command over the line limit"
            );
        }
    } else if h.t.pclient_kind == 1 {
        assert_eq!(words.len(), 3);
    } else {
        assert_eq!(cmd, bare, "the command");
    }
    if h.t.pclient_kind != 1 {
        assert!(cmd.starts_with(b"AUTH "), "the command");
    }
    // Settings are refused from now on.
    // SAFETY: `h.pclient` is live.
    let r = unsafe { saslmech_proto_client_set_initial_response(h.pclient, true) };
    assert_eq!(r, SASLMECH_INVALID_STATE, "a setting after the start");
}

/// Operation 33: a server line for the client adapter. Events are 6 to 8; a response is one
/// line of base64 or `*`; the outcome only after `DONE`, with a failure exactly when not
/// authenticated and a status of the protocol's form; after `DONE` every line is refused.
fn op_pclient_line(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let raw = input.bytes();
    let line: Vec<u8> = if sel & 0x40 != 0 {
        [raw, b"\r\n"].concat()
    } else {
        raw.to_vec()
    };
    let p = h.pclient;
    let mut ev = UNSET;
    // SAFETY: `p` NULL or live; the line NULL or a live vector.
    let r = unsafe {
        saslmech_proto_client_line(p, maybe_null(&line, null_it), line.len(), out_u32(&mut ev))
    };
    if p.is_null() {
        assert_eq!(r, SASLMECH_NULL_ARGUMENT);
        return;
    }
    if null_it {
        refused_null(r, "proto client line");
    }
    let ok = ok_or(r, ANY, "proto client line");
    if !h.t.pclient_started || h.t.pclient_event == Some(8) {
        assert!(!ok, "a line before the start or after the end");
        if !null_it {
            assert_eq!(r, SASLMECH_INVALID_STATE);
        }
    }
    if ok {
        assert!((6..=8).contains(&ev), "client event {ev}");
        h.t.pclient_event = Some(ev);
    } else {
        assert_eq!(ev, UNSET, "event written on error");
    }
    // SAFETY: `p` is live; out-parameters are locals.
    unsafe {
        let (mut o, mut n) = (null(), usize::MAX);
        let r = saslmech_proto_client_output(p, &mut o, &mut n);
        let sent = ok_or(r, &[SASLMECH_INVALID_STATE], "output");
        assert_eq!(sent, h.t.pclient_event == Some(6), "output without SEND");
        if sent {
            let out = read(o, n);
            assert!(one_line(&out), "a response that is not one line");
            let body = out.strip_suffix(b"\r\n").unwrap_or_default();
            assert!(
                body == b"*" || crate::b64::decode(body).is_ok(),
                "a response that is neither base64 nor `*`"
            );
        }
        let (mut auth, mut f) = (false, UNSET);
        let r = saslmech_proto_client_outcome(p, &mut auth, out_u32(&mut f));
        let done = ok_or(r, &[SASLMECH_INVALID_STATE], "outcome");
        assert_eq!(done, h.t.pclient_event == Some(8), "outcome without DONE");
        let (mut s, mut sn) = (null(), usize::MAX);
        let rs = ops::saslmech_proto_client_outcome_status(p, &mut s, &mut sn);
        let (mut t, mut tn) = (null(), usize::MAX);
        let rt = ops::saslmech_proto_client_outcome_text(p, &mut t, &mut tn);
        assert_eq!(ok_or(rs, ANY, "outcome_status"), done);
        assert_eq!(ok_or(rt, ANY, "outcome_text"), done);
        if !done {
            assert_eq!(
                (f, sn, tn),
                (UNSET, usize::MAX, usize::MAX),
                "written on error"
            );
            return;
        }
        if auth {
            assert_eq!(f, 0, "authenticated with a failure");
        } else {
            assert!((1..=15).contains(&f), "not authenticated, failure {f}");
        }
        let status = read(s, sn);
        let text = read(t, tn);
        let forms: &[&[u8]] = match h.t.pclient_kind {
            0 => &[],
            1 => &[b"OK", b"NO", b"BAD", b""],
            _ => &[b"+OK", b"-ERR", b""],
        };
        if h.t.pclient_kind == 0 {
            assert!(
                status.is_empty() || (status.len() == 3 && status.iter().all(u8::is_ascii_digit)),
                "SMTP status {status:?}"
            );
        } else {
            assert!(forms.contains(&status.as_slice()), "status {status:?}");
        }
        if auth {
            // SMTP: any 2xx completes the exchange (the adapter's choice; RFC 4954 sends 235).
            let success = match h.t.pclient_kind {
                0 => status.first() == Some(&b'2'),
                1 => status == b"OK",
                _ => status == b"+OK",
            };
            assert!(success, "authenticated on status {status:?}");
        }
        assert!(text.len() <= 4096, "outcome text of {} octets", text.len());
        assert!(
            text.iter()
                .all(|b| *b == b'\n' || (b' '..=b'~').contains(b)),
            "outcome text not printable ASCII"
        );
    }
}

/// Operation 34: the capability parsers. With the reply's length as capacity they always
/// succeed; the result is distinct canonical mechanism names found in the reply, separated
/// by single spaces; a smaller capacity gives the same result or `BUFFER_TOO_SMALL`, and then
/// nothing is written.
fn op_capabilities(input: &mut Input<'_>, sel: u8) {
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
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Operation 35: key helpers. CRAM-MD5 keys agree with the Rust API and round-trip through
/// Dovecot's form; Dovecot's form parses exactly when it is 64 hex digits; generated and
/// parsed SCRAM keys report their parameters and round-trip through RFC 5803.
fn op_keys(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
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
                let want = *crate::CramMd5Keys::from_password(v).to_bytes();
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
                let hash = u32::from(arg % 3);
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
                if !(1..=2).contains(&hash) || iterations == 0 {
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
fn rfc5803_round_trip(text: Vec<u8>) {
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
fn op_stateless(input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let a = input.bytes();
    let x = u32::from(input.byte());
    // SAFETY: live slices and locals, NULL where the oracle expects NULL_ARGUMENT.
    unsafe {
        match sel % 8 {
            0 => {
                let v = cstr(saslmech_version());
                assert_eq!(v, env!("CARGO_PKG_VERSION").as_bytes(), "version");
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
                    (1..=11).find(|n| name_of(*n).is_some_and(|c| c.eq_ignore_ascii_case(a)));
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
                assert_eq!(n, 11);
                // SAFETY: a static array of `n` numbers.
                let mut list = core::slice::from_raw_parts(l, n).to_vec();
                list.sort_unstable();
                assert_eq!(list, (1..=11).collect::<Vec<u32>>(), "mechanisms");
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

/// The operations of the target's input format, as they were numbered when the seed corpus
/// was made, expressed with today's C API: one operation per former export, so that the seeds
/// keep reaching the same states. Each keeps the old contract the oracles check (a NULL
/// out-parameter is refused before anything happens; out-parameters are written only on
/// `SASLMECH_OK`) and reaches the exports that replaced it: the request and identity views of
/// both server handles, `saslmech_credentials_set`, the optional arguments (NULL config,
/// salt, nonce, initial response, success data), the merged constructors and parsers.
mod ops {
    use core::ptr::{null, null_mut};

    use crate::ffi::*;

    /// The request view of an engine session, or the getter's refusal.
    unsafe fn server_view(
        s: *const saslmech_server,
    ) -> Result<*mut saslmech_request, saslmech_result> {
        let mut view = null_mut();
        let mut kind = saslmech_request_kind::SASLMECH_REQUEST_AUTHORIZE;
        // SAFETY: `s` is NULL or live; the out-parameters are locals. The view is only read
        // through, or answered while no other reference to the session exists.
        match unsafe { crate::ffi::saslmech_server_request(s.cast_mut(), &mut view, &mut kind) } {
            SASLMECH_OK => Ok(view),
            e => Err(e),
        }
    }

    /// The request view of a server adapter, or the getter's refusal.
    unsafe fn proto_view(
        s: *const saslmech_proto_server,
    ) -> Result<*mut saslmech_request, saslmech_result> {
        let mut view = null_mut();
        let mut kind = saslmech_request_kind::SASLMECH_REQUEST_AUTHORIZE;
        // SAFETY: as in `server_view`.
        match unsafe {
            crate::ffi::saslmech_proto_server_request(s.cast_mut(), &mut view, &mut kind)
        } {
            SASLMECH_OK => Ok(view),
            e => Err(e),
        }
    }

    pub unsafe extern "C" fn saslmech_server_start_no_ir(
        s: *mut saslmech_server,
        st: *mut saslmech_status,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { saslmech_server_start(s, null(), 0, st) }
    }

    pub unsafe extern "C" fn saslmech_server_challenge(
        s: *const saslmech_server,
        p: *mut *const u8,
        n: *mut usize,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { saslmech_server_message(s, p, n) }
    }

    pub unsafe extern "C" fn saslmech_server_success_data(
        s: *const saslmech_server,
        p: *mut *const u8,
        n: *mut usize,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { saslmech_server_message(s, p, n) }
    }

    pub unsafe extern "C" fn saslmech_server_request(
        s: *const saslmech_server,
        kind: *mut saslmech_request_kind,
    ) -> saslmech_result {
        let mut view = null_mut();
        // SAFETY: forwarded; the view is not used.
        unsafe { crate::ffi::saslmech_server_request(s.cast_mut(), &mut view, kind) }
    }

    pub unsafe extern "C" fn saslmech_proto_server_request(
        s: *const saslmech_proto_server,
        kind: *mut saslmech_request_kind,
    ) -> saslmech_result {
        let mut view = null_mut();
        // SAFETY: forwarded; the view is not used.
        unsafe { crate::ffi::saslmech_proto_server_request(s.cast_mut(), &mut view, kind) }
    }

    type ReadPart = unsafe extern "C" fn(
        *const saslmech_request,
        *mut *const u8,
        *mut usize,
    ) -> saslmech_result;
    type ReadId = unsafe extern "C" fn(
        *const saslmech_identity,
        *mut *const u8,
        *mut usize,
    ) -> saslmech_result;

    /// A request part as the old per-handle accessor gave it: NULL out-parameters first.
    unsafe fn part(
        view: Result<*mut saslmech_request, saslmech_result>,
        f: ReadPart,
        p: *mut *const u8,
        n: *mut usize,
    ) -> saslmech_result {
        if p.is_null() || n.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        match view {
            // SAFETY: a view of a live handle; the out-parameters are non-NULL.
            Ok(v) => unsafe { f(v, p, n) },
            Err(e) => e,
        }
    }

    unsafe fn id_part(
        id: Result<*const saslmech_identity, saslmech_result>,
        f: ReadId,
        p: *mut *const u8,
        n: *mut usize,
    ) -> saslmech_result {
        if p.is_null() || n.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        match id {
            // SAFETY: a view of a live handle; the out-parameters are non-NULL.
            Ok(v) => unsafe { f(v, p, n) },
            Err(e) => e,
        }
    }

    unsafe fn server_id(
        s: *const saslmech_server,
    ) -> Result<*const saslmech_identity, saslmech_result> {
        let mut id = null();
        // SAFETY: `s` is NULL or live; the out-parameter is a local.
        match unsafe { saslmech_server_identity(s, &mut id) } {
            SASLMECH_OK => Ok(id),
            e => Err(e),
        }
    }

    unsafe fn proto_id(
        s: *const saslmech_proto_server,
    ) -> Result<*const saslmech_identity, saslmech_result> {
        let mut id = null();
        // SAFETY: `s` is NULL or live; the out-parameter is a local.
        match unsafe { saslmech_proto_server_identity(s, &mut id) } {
            SASLMECH_OK => Ok(id),
            e => Err(e),
        }
    }

    macro_rules! parts {
        ($($name:ident, $view:ident, $handle:ty, $f:ident, $part:ident;)*) => {$(
            pub unsafe extern "C" fn $name(
                s: *const $handle,
                p: *mut *const u8,
                n: *mut usize,
            ) -> saslmech_result {
                // SAFETY: `s` is NULL or live; forwarded.
                unsafe { $part($view(s), $f, p, n) }
            }
        )*};
    }

    parts! {
        saslmech_server_request_authcid, server_view, saslmech_server, saslmech_request_authcid, part;
        saslmech_server_request_authzid, server_view, saslmech_server, saslmech_request_authzid, part;
        saslmech_server_request_password, server_view, saslmech_server, saslmech_request_password, part;
        saslmech_server_request_token, server_view, saslmech_server, saslmech_request_token, part;
        saslmech_server_request_host, server_view, saslmech_server, saslmech_request_host, part;
        saslmech_proto_server_request_authcid, proto_view, saslmech_proto_server, saslmech_request_authcid, part;
        saslmech_proto_server_request_authzid, proto_view, saslmech_proto_server, saslmech_request_authzid, part;
        saslmech_proto_server_request_password, proto_view, saslmech_proto_server, saslmech_request_password, part;
        saslmech_proto_server_request_token, proto_view, saslmech_proto_server, saslmech_request_token, part;
        saslmech_proto_server_request_host, proto_view, saslmech_proto_server, saslmech_request_host, part;
        saslmech_server_identity_authcid, server_id, saslmech_server, saslmech_identity_authcid, id_part;
        saslmech_server_identity_authzid, server_id, saslmech_server, saslmech_identity_authzid, id_part;
        saslmech_server_identity_effective, server_id, saslmech_server, saslmech_identity_effective, id_part;
        saslmech_server_identity_trace, server_id, saslmech_server, saslmech_identity_trace, id_part;
        saslmech_proto_server_identity_authcid, proto_id, saslmech_proto_server, saslmech_identity_authcid, id_part;
        saslmech_proto_server_identity_authzid, proto_id, saslmech_proto_server, saslmech_identity_authzid, id_part;
        saslmech_proto_server_identity_effective, proto_id, saslmech_proto_server, saslmech_identity_effective, id_part;
        saslmech_proto_server_identity_trace, proto_id, saslmech_proto_server, saslmech_identity_trace, id_part;
    }

    pub unsafe extern "C" fn saslmech_server_request_port(
        s: *const saslmech_server,
        port: *mut u16,
    ) -> saslmech_result {
        if port.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        // SAFETY: `s` is NULL or live; `port` is a non-NULL local.
        unsafe { server_view(s).map_or_else(|e| e, |v| saslmech_request_port(v, port)) }
    }

    pub unsafe extern "C" fn saslmech_proto_server_request_port(
        s: *const saslmech_proto_server,
        port: *mut u16,
    ) -> saslmech_result {
        if port.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        // SAFETY: as above.
        unsafe { proto_view(s).map_or_else(|e| e, |v| saslmech_request_port(v, port)) }
    }

    /// An answer as the old per-handle call gave it: a NULL status first, then the view, then
    /// the answer and the status it led to.
    unsafe fn server_answer(
        s: *mut saslmech_server,
        st: *mut saslmech_status,
        f: impl FnOnce(*mut saslmech_request) -> saslmech_result,
    ) -> saslmech_result {
        if st.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        // SAFETY: `s` is NULL or live; the view is answered while no reference to `s` exists.
        unsafe {
            let view = match server_view(s) {
                Ok(v) => v,
                Err(e) => return e,
            };
            match f(view) {
                SASLMECH_OK => saslmech_server_status(s, st),
                e => e,
            }
        }
    }

    unsafe fn proto_answer(
        s: *mut saslmech_proto_server,
        ev: *mut saslmech_event,
        f: impl FnOnce(*mut saslmech_request) -> saslmech_result,
    ) -> saslmech_result {
        if ev.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        // SAFETY: as in `server_answer`.
        unsafe {
            let view = match proto_view(s) {
                Ok(v) => v,
                Err(e) => return e,
            };
            match f(view) {
                SASLMECH_OK => saslmech_proto_server_event(s, ev),
                e => e,
            }
        }
    }

    macro_rules! answers {
        ($handle:ty, $out:ty, $via:ident, $($name:ident => $verdict:ident;)*) => {$(
            pub unsafe extern "C" fn $name(s: *mut $handle, out: *mut $out) -> saslmech_result {
                // SAFETY: forwarded.
                unsafe { $via(s, out, |v| saslmech_request_answer(v, $verdict)) }
            }
        )*};
    }

    answers! { saslmech_server, saslmech_status, server_answer,
        saslmech_server_answer_accept => SASLMECH_VERDICT_ACCEPT;
        saslmech_server_answer_reject => SASLMECH_VERDICT_REJECT;
        saslmech_server_answer_unknown_user => SASLMECH_VERDICT_UNKNOWN_USER;
        saslmech_server_answer_account_disabled => SASLMECH_VERDICT_ACCOUNT_DISABLED;
        saslmech_server_answer_temporary_failure => SASLMECH_VERDICT_TEMPORARY_FAILURE;
    }
    answers! { saslmech_proto_server, saslmech_event, proto_answer,
        saslmech_proto_server_answer_accept => SASLMECH_VERDICT_ACCEPT;
        saslmech_proto_server_answer_reject => SASLMECH_VERDICT_REJECT;
        saslmech_proto_server_answer_unknown_user => SASLMECH_VERDICT_UNKNOWN_USER;
        saslmech_proto_server_answer_account_disabled => SASLMECH_VERDICT_ACCOUNT_DISABLED;
        saslmech_proto_server_answer_temporary_failure => SASLMECH_VERDICT_TEMPORARY_FAILURE;
    }

    macro_rules! byte_answers {
        ($handle:ty, $out:ty, $via:ident, $($name:ident => $f:ident;)*) => {$(
            pub unsafe extern "C" fn $name(
                s: *mut $handle,
                p: *const u8,
                n: usize,
                out: *mut $out,
            ) -> saslmech_result {
                // SAFETY: forwarded; `p` is NULL or valid for `n` bytes.
                unsafe { $via(s, out, |v| $f(v, p, n)) }
            }
        )*};
    }

    byte_answers! { saslmech_server, saslmech_status, server_answer,
        saslmech_server_answer_password => saslmech_request_answer_password;
        saslmech_server_answer_cram_md5_keys => saslmech_request_answer_cram_md5_keys;
        saslmech_server_answer_token_owner => saslmech_request_answer_token_owner;
    }
    byte_answers! { saslmech_proto_server, saslmech_event, proto_answer,
        saslmech_proto_server_answer_password => saslmech_request_answer_password;
        saslmech_proto_server_answer_cram_md5_keys => saslmech_request_answer_cram_md5_keys;
        saslmech_proto_server_answer_token_owner => saslmech_request_answer_token_owner;
    }

    /// The old token error answers: NULL status text refused; the scope given (the old call
    /// refused a NULL scope).
    unsafe fn token_error(
        v: *mut saslmech_request,
        p: *const u8,
        n: usize,
        scope: Option<(*const u8, usize)>,
    ) -> saslmech_result {
        // SAFETY: forwarded; each pointer is NULL or valid for its length.
        unsafe {
            match scope {
                Some((sp, _)) if sp.is_null() => SASLMECH_NULL_ARGUMENT,
                Some((sp, sn)) => saslmech_request_answer_token_error(v, p, n, sp, sn),
                None => saslmech_request_answer_token_error(v, p, n, null(), 0),
            }
        }
    }

    pub unsafe extern "C" fn saslmech_server_answer_token_error(
        s: *mut saslmech_server,
        p: *const u8,
        n: usize,
        st: *mut saslmech_status,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { server_answer(s, st, |v| token_error(v, p, n, None)) }
    }

    pub unsafe extern "C" fn saslmech_server_answer_token_error_scope(
        s: *mut saslmech_server,
        p: *const u8,
        n: usize,
        sp: *const u8,
        sn: usize,
        st: *mut saslmech_status,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { server_answer(s, st, |v| token_error(v, p, n, Some((sp, sn)))) }
    }

    pub unsafe extern "C" fn saslmech_proto_server_answer_token_error(
        s: *mut saslmech_proto_server,
        p: *const u8,
        n: usize,
        ev: *mut saslmech_event,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { proto_answer(s, ev, |v| token_error(v, p, n, None)) }
    }

    pub unsafe extern "C" fn saslmech_proto_server_answer_token_error_scope(
        s: *mut saslmech_proto_server,
        p: *const u8,
        n: usize,
        sp: *const u8,
        sn: usize,
        ev: *mut saslmech_event,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { proto_answer(s, ev, |v| token_error(v, p, n, Some((sp, sn)))) }
    }

    pub unsafe extern "C" fn saslmech_server_answer_scram_keys(
        s: *mut saslmech_server,
        keys: *const saslmech_scram_keys,
        st: *mut saslmech_status,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { server_answer(s, st, |v| saslmech_request_answer_scram_keys(v, keys)) }
    }

    pub unsafe extern "C" fn saslmech_proto_server_answer_scram_keys(
        s: *mut saslmech_proto_server,
        keys: *const saslmech_scram_keys,
        ev: *mut saslmech_event,
    ) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { proto_answer(s, ev, |v| saslmech_request_answer_scram_keys(v, keys)) }
    }

    pub unsafe extern "C" fn saslmech_client_new(
        m: saslmech_mechanism,
        c: *const saslmech_credentials,
        flags: saslmech_client_flags,
        out: *mut *mut saslmech_client,
    ) -> saslmech_result {
        // SAFETY: forwarded; NULL config: the defaults.
        unsafe { crate::ffi::saslmech_client_new(m, c, null(), flags, out) }
    }

    pub unsafe extern "C" fn saslmech_client_new_with_config(
        m: saslmech_mechanism,
        c: *const saslmech_credentials,
        cfg: *const saslmech_client_config,
        flags: saslmech_client_flags,
        out: *mut *mut saslmech_client,
    ) -> saslmech_result {
        if cfg.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        // SAFETY: forwarded.
        unsafe { crate::ffi::saslmech_client_new(m, c, cfg, flags, out) }
    }

    /// The old `_with_limit`: a client config with that challenge limit.
    pub unsafe extern "C" fn saslmech_client_new_with_limit(
        m: saslmech_mechanism,
        c: *const saslmech_credentials,
        flags: saslmech_client_flags,
        limit: usize,
        out: *mut *mut saslmech_client,
    ) -> saslmech_result {
        if c.is_null() || out.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        if saslmech_mechanism_name(m).is_null() {
            return SASLMECH_UNKNOWN_MECHANISM;
        }
        let mut cfg = null_mut();
        // SAFETY: locals and live handles; the config is freed before returning.
        unsafe {
            assert_eq!(saslmech_client_config_new(&mut cfg), SASLMECH_OK);
            let r = match saslmech_client_config_set_max_challenge(cfg, limit) {
                SASLMECH_OK => crate::ffi::saslmech_client_new(m, c, cfg, flags, out),
                e => e,
            };
            saslmech_client_config_free(cfg);
            r
        }
    }

    pub unsafe extern "C" fn saslmech_client_finish(c: *mut saslmech_client) -> saslmech_result {
        // SAFETY: forwarded.
        unsafe { crate::ffi::saslmech_client_finish(c, null(), 0) }
    }

    pub unsafe extern "C" fn saslmech_client_finish_with_data(
        c: *mut saslmech_client,
        p: *const u8,
        n: usize,
    ) -> saslmech_result {
        if p.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        // SAFETY: forwarded.
        unsafe { crate::ffi::saslmech_client_finish(c, p, n) }
    }

    macro_rules! credentials {
        ($($name:ident => $field:ident;)*) => {$(
            pub unsafe extern "C" fn $name(
                c: *mut saslmech_credentials,
                p: *const u8,
                n: usize,
            ) -> saslmech_result {
                // SAFETY: forwarded.
                unsafe { saslmech_credentials_set(c, $field, p, n) }
            }
        )*};
    }

    credentials! {
        saslmech_credentials_set_authcid => SASLMECH_CREDENTIAL_AUTHCID;
        saslmech_credentials_set_authzid => SASLMECH_CREDENTIAL_AUTHZID;
        saslmech_credentials_set_password => SASLMECH_CREDENTIAL_PASSWORD;
        saslmech_credentials_set_token => SASLMECH_CREDENTIAL_TOKEN;
        saslmech_credentials_set_trace => SASLMECH_CREDENTIAL_TRACE;
        saslmech_credentials_set_host => SASLMECH_CREDENTIAL_HOST;
    }

    pub unsafe extern "C" fn saslmech_server_config_set_nonce_os(
        c: *mut saslmech_server_config,
    ) -> saslmech_result {
        // SAFETY: forwarded; NULL: back to OS randomness.
        unsafe { saslmech_server_config_set_nonce_fixed(c, null(), 0) }
    }

    pub unsafe extern "C" fn saslmech_client_config_set_nonce_os(
        c: *mut saslmech_client_config,
    ) -> saslmech_result {
        // SAFETY: forwarded; NULL: back to OS randomness.
        unsafe { saslmech_client_config_set_nonce_fixed(c, null(), 0) }
    }

    pub unsafe extern "C" fn saslmech_scram_keys_generate(
        hash: saslmech_scram_hash,
        p: *const u8,
        n: usize,
        iterations: u32,
        out: *mut *mut saslmech_scram_keys,
    ) -> saslmech_result {
        // SAFETY: forwarded; NULL salt: a random one.
        unsafe { saslmech_scram_keys_derive(hash, p, n, null(), 0, iterations, out) }
    }

    macro_rules! server_news {
        ($($name:ident => $protocol:ident;)*) => {$(
            pub unsafe extern "C" fn $name(
                c: *const saslmech_server_config,
                out: *mut *mut saslmech_proto_server,
            ) -> saslmech_result {
                // SAFETY: forwarded.
                unsafe { saslmech_proto_server_new(c, $protocol, out) }
            }
        )*};
    }

    server_news! {
        saslmech_smtp_server_new => SASLMECH_PROTOCOL_SMTP;
        saslmech_imap_server_new => SASLMECH_PROTOCOL_IMAP;
        saslmech_pop3_server_new => SASLMECH_PROTOCOL_POP3;
    }

    macro_rules! client_news {
        ($($name:ident, $with:ident => $protocol:ident;)*) => {$(
            pub unsafe extern "C" fn $name(
                m: saslmech_mechanism,
                c: *const saslmech_credentials,
                out: *mut *mut saslmech_proto_client,
            ) -> saslmech_result {
                // SAFETY: forwarded; NULL config: the defaults.
                unsafe { saslmech_proto_client_new($protocol, null(), 0, m, c, null(), out) }
            }

            pub unsafe extern "C" fn $with(
                m: saslmech_mechanism,
                c: *const saslmech_credentials,
                cfg: *const saslmech_client_config,
                out: *mut *mut saslmech_proto_client,
            ) -> saslmech_result {
                if cfg.is_null() {
                    return SASLMECH_NULL_ARGUMENT;
                }
                // SAFETY: forwarded.
                unsafe { saslmech_proto_client_new($protocol, null(), 0, m, c, cfg, out) }
            }
        )*};
    }

    client_news! {
        saslmech_smtp_client_new, saslmech_smtp_client_new_with_config => SASLMECH_PROTOCOL_SMTP;
        saslmech_pop3_client_new, saslmech_pop3_client_new_with_config => SASLMECH_PROTOCOL_POP3;
    }

    pub unsafe extern "C" fn saslmech_imap_client_new(
        tag: *const u8,
        tag_len: usize,
        m: saslmech_mechanism,
        c: *const saslmech_credentials,
        out: *mut *mut saslmech_proto_client,
    ) -> saslmech_result {
        if tag.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        // SAFETY: forwarded.
        unsafe {
            saslmech_proto_client_new(SASLMECH_PROTOCOL_IMAP, tag, tag_len, m, c, null(), out)
        }
    }

    pub unsafe extern "C" fn saslmech_imap_client_new_with_config(
        tag: *const u8,
        tag_len: usize,
        m: saslmech_mechanism,
        c: *const saslmech_credentials,
        cfg: *const saslmech_client_config,
        out: *mut *mut saslmech_proto_client,
    ) -> saslmech_result {
        if tag.is_null() || cfg.is_null() {
            return SASLMECH_NULL_ARGUMENT;
        }
        // SAFETY: forwarded.
        unsafe { saslmech_proto_client_new(SASLMECH_PROTOCOL_IMAP, tag, tag_len, m, c, cfg, out) }
    }

    pub unsafe extern "C" fn saslmech_proto_client_outcome_status(
        c: *const saslmech_proto_client,
        p: *mut *const u8,
        n: *mut usize,
    ) -> saslmech_result {
        let (mut t, mut tn) = (null(), 0usize);
        // SAFETY: forwarded; the text goes to locals.
        unsafe { saslmech_proto_client_outcome_reply(c, p, n, &mut t, &mut tn) }
    }

    pub unsafe extern "C" fn saslmech_proto_client_outcome_text(
        c: *const saslmech_proto_client,
        p: *mut *const u8,
        n: *mut usize,
    ) -> saslmech_result {
        let (mut s, mut sn) = (null(), 0usize);
        // SAFETY: forwarded; the status goes to locals.
        unsafe { saslmech_proto_client_outcome_reply(c, &mut s, &mut sn, p, n) }
    }

    macro_rules! parsers {
        ($($name:ident => $protocol:ident;)*) => {$(
            pub unsafe extern "C" fn $name(
                text: *const u8,
                len: usize,
                out: *mut u8,
                cap: usize,
                out_len: *mut usize,
            ) -> saslmech_result {
                // SAFETY: forwarded.
                unsafe { saslmech_proto_mechanisms($protocol, text, len, out, cap, out_len) }
            }
        )*};
    }

    parsers! {
        saslmech_smtp_ehlo_mechanisms => SASLMECH_PROTOCOL_SMTP;
        saslmech_imap_capability_mechanisms => SASLMECH_PROTOCOL_IMAP;
        saslmech_pop3_capa_mechanisms => SASLMECH_PROTOCOL_POP3;
    }
}
