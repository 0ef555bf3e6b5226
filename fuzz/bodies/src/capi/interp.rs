//! The interpreter: the `capi` entry point, which reads operation bytes and runs them, and the
//! checks it makes after the server and adapter calls of operations 0..=19.

use super::*;

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
        let all: Vec<u32> = (1..=MECH_MAX).collect();
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
                // A server session: mechanism number (0..=MECH_MAX + 1, two unknown), flags.
                0 => {
                    saslmech_server_free(h.server);
                    h.server = null_mut();
                    let m = u32::from(sel % MECH_PICK);
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
                        u32::from(sel % MECH_PICK),
                        h.creds,
                        h.client_config,
                        flags,
                        &mut out,
                    );
                    if ok_or(r, ANY, "client_new") {
                        h.client = out;
                        h.t.client_mech = u32::from(sel % MECH_PICK);
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
                            Some(saslmech::b64::encode(d).into_bytes())
                        } else {
                            saslmech::b64::decode(d).ok().map(|v| v.as_slice().to_vec())
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
pub(super) fn server_status(s: *const saslmech_server) -> Option<u32> {
    let mut st = UNSET;
    // SAFETY: `s` is NULL or live; `st` is a local.
    let r = unsafe { saslmech_server_status(s, &mut st as *mut u32 as *mut saslmech_status) };
    ok_or(r, ANY, "status").then_some(st)
}

/// Every accessor of a server session; `sel` bit 7 passes NULL out-parameters.
pub(super) fn server_accessors(s: *const saslmech_server, sel: u8) {
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
            assert!((1..=MECH_MAX).contains(&m));
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
pub(super) fn proto_after(p: *const saslmech_proto_server, ok: bool, ev: u32) {
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
