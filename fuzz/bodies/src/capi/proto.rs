//! Operations 20 and up: the protocol adapters, server (`saslmech_proto_server_*`) and client
//! (`saslmech_proto_client_*`), and their oracles.

use super::*;

/// Record a server adapter's event after an advancing call.
pub(super) fn proto_track(h: &mut Handles, ok: bool, ev: u32) {
    if ok {
        h.t.proto_event = Some(ev);
    }
}

/// The server adapter's phase, or `None` (no adapter).
pub(super) fn proto_phase(p: *const saslmech_proto_server) -> Option<u32> {
    let mut ph = UNSET;
    // SAFETY: `p` is NULL or live; `ph` a local.
    let r = unsafe { saslmech_proto_server_phase(p, out_u32(&mut ph)) };
    ok_or(r, ANY, "phase").then_some(ph)
}

/// After a call that forgets the exchange: idle, no event, no reply.
pub(super) fn proto_forgotten(p: *const saslmech_proto_server) {
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
pub(super) fn op_proto_control(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
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
pub(super) fn proto_queries(h: &Handles, sel: u8) {
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
            assert!((1..=MECH_MAX).contains(&m), "mechanism {m}");
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
pub(super) fn advertised_as(kind: u8, names: &[u8]) -> Vec<u8> {
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
pub(super) fn check_advertised(kind: u8, text: &[u8]) {
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
pub(super) fn op_proto_answer(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
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
pub(super) fn command_prefix(kind: u8, tag: &[u8], name: &[u8]) -> Vec<u8> {
    match kind {
        1 => [tag, b" AUTHENTICATE ", name].concat(),
        _ => [b"AUTH ".as_slice(), name].concat(),
    }
}

/// A valid IMAP tag (1 to 64 `ASTRING-CHAR`s other than `+`).
pub(super) fn tag_ok(tag: &[u8]) -> bool {
    (1..=64).contains(&tag.len())
        && tag.iter().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        })
}

/// The IMAP tag the client adapters use unless the input gives one.
pub(super) const TAG: &[u8] = b"a1";

/// Operation 30: a client adapter (SMTP, IMAP, POP3, with or without a client
/// configuration; SCRAM always with one, so that the iteration counts stay tiny).
pub(super) fn op_pclient_new(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
    let null_it = sel & 0x80 != 0;
    let kind = sel % 3;
    let m = u32::from(input.byte() % MECH_PICK);
    let raw_tag = input.bytes();
    let tag = if sel & 0x40 != 0 { raw_tag } else { TAG };
    let with_config = sel & 0x20 != 0 || is_scram(m);
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
        if !(1..=MECH_MAX).contains(&m) {
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
pub(super) fn op_pclient_config(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
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
pub(super) fn one_line(b: &[u8]) -> bool {
    b.strip_suffix(b"\r\n")
        .is_some_and(|l| !l.iter().any(|c| matches!(c, b'\r' | b'\n')))
}

/// Operation 32: the client adapter's command: one line naming the mechanism, an initial
/// response only when enabled and within the line limit; only once.
pub(super) fn op_pclient_start(h: &mut Handles, sel: u8) {
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
            *ir == b"=" || saslmech::b64::decode(ir).is_ok_and(|d| !d.as_slice().is_empty()),
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
pub(super) fn op_pclient_line(h: &mut Handles, input: &mut Input<'_>, sel: u8) {
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
                body == b"*" || saslmech::b64::decode(body).is_ok(),
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
