//! The seeds added with the later targets and operations, in the order they are written.

use super::*;

pub(super) fn new_seeds(transcripts: &str) -> Vec<(&'static str, String, Vec<u8>)> {
    let mut v: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    // Sections, in this order (a later seed of the same name would overwrite an earlier one).
    server_seeds(&mut v);
    client_seeds(&mut v);
    adapter_seeds(&mut v, transcripts);
    capi_exchange_seeds(&mut v);
    v
}

/// SCRAM, OAUTHBEARER, EXTERNAL and ANONYMOUS servers.
pub(super) fn server_seeds(v: &mut Vec<(&'static str, String, Vec<u8>)>) {
    let pencil = b"pencil".to_vec();
    let user = Credentials::new()
        .authcid("user")
        .password(b"pencil")
        .token(DEFAULT_TOKEN);
    // Server config bytes: TLS, success data or not; `b`: iterations 16 (bits 6-7 = 3),
    // fixed nonce, with all channel bindings (bits 3-4 = 3) and the external identity.
    let tls_data = 0b0000_0011u8;
    let tls_nodata = 0b0000_0001u8;
    let b_all = 0b1111_1000u8;
    let b_none = 0b1100_0000u8;

    // SCRAM servers: the engine's client against stored keys, a password, an unknown user;
    // with and without success data, raw and base64; the -PLUS ones with each binding.
    for (target, m) in [
        ("server_scram_sha_1", Mechanism::ScramSha1),
        ("server_scram_sha_256", Mechanism::ScramSha256),
        ("server_scram_sha_1_plus", Mechanism::ScramSha1Plus),
        ("server_scram_sha_256_plus", Mechanism::ScramSha256Plus),
    ] {
        let h = if ScramHash::of(m) == Some(ScramHash::Sha1) {
            0
        } else {
            1
        };
        let salt = saslmech::b64::decode(b"QSXCR+Q6sek8bf92")
            .unwrap()
            .as_slice()
            .to_vec();
        let keys = A::Keys(h, pencil.clone(), salt, 15);
        for sel in 1..=3u8 {
            let (kind, _) = channel_binding(sel).unwrap();
            let cc = ClientConfig::new()
                .scram_iterations(1, 64)
                .nonce_source(NonceSource::Fixed(b"fyko+d2lbbFgONRv9qkxdawL".to_vec()));
            let cc = match channel_binding(sel) {
                Some((k, d)) => cc.channel_binding(k, d),
                None => cc,
            };
            if !m.channel_binding() && sel > 1 {
                break;
            }
            let kname = kind.name();
            for (a, b, b64, answer, what) in [
                (tls_data, b_all, false, keys.clone(), "keys"),
                (
                    tls_nodata,
                    b_all,
                    true,
                    keys.clone(),
                    "keys-b64-no-success-data",
                ),
                (
                    tls_data,
                    b_all,
                    true,
                    A::Password(pencil.clone()),
                    "password",
                ),
                (
                    tls_nodata,
                    b_all,
                    false,
                    A::Password(b"wrong".to_vec()),
                    "wrong-password",
                ),
                (tls_data, b_all, true, A::Reject, "unknown-user"),
            ] {
                let name = if m.channel_binding() {
                    format!("engine-{kname}-{what}")
                } else {
                    format!("engine-{what}")
                };
                v.push((
                    target,
                    name,
                    engine_exchange(m, a, b, &user, &cc, b64, &[answer]),
                ));
            }
            // Plain SCRAM from a client that has binding data: `y`, a downgrade where the
            // server offers -PLUS; accepted where it does not.
            if !m.channel_binding() {
                let cc = ClientConfig::new()
                    .scram_iterations(1, 64)
                    .nonce_source(NonceSource::Fixed(b"fyko+d2lbbFgONRv9qkxdawL".to_vec()))
                    .channel_binding(kind, CB_EXPORTER);
                v.push((
                    target,
                    "engine-y-downgrade".into(),
                    engine_exchange(
                        m,
                        tls_data,
                        b_all,
                        &user,
                        &cc,
                        false,
                        std::slice::from_ref(&keys),
                    ),
                ));
                v.push((
                    target,
                    "engine-y-no-plus".into(),
                    engine_exchange(
                        m,
                        tls_data,
                        b_none,
                        &user,
                        &cc,
                        false,
                        std::slice::from_ref(&keys),
                    ),
                ));
                let admin = Credentials::new()
                    .authcid("user")
                    .authzid("admin")
                    .password(b"pencil");
                let cc = ClientConfig::new()
                    .scram_iterations(1, 64)
                    .nonce_source(NonceSource::Fixed(b"fyko+d2lbbFgONRv9qkxdawL".to_vec()));
                v.push((
                    target,
                    "engine-authzid".into(),
                    engine_exchange(
                        m,
                        tls_nodata,
                        b_none,
                        &admin,
                        &cc,
                        true,
                        &[keys.clone(), A::Accept],
                    ),
                ));
            }
        }
        // The RFC messages verbatim (the server's nonce differs, so client-final fails).
        let (first, fin) = if h == 0 {
            (&b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"[..], &b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="[..])
        } else {
            (&b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"[..], &b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="[..])
        };
        let first: Vec<u8> = if m.channel_binding() {
            [&b"p=tls-exporter"[..], &first[1..]].concat()
        } else {
            first.to_vec()
        };
        v.push((
            target,
            "rfc-messages".into(),
            keys.write(
                Script::new()
                    .byte(tls_data)
                    .byte(b_all)
                    .operation(ServerOperation::StartInitialResponse, &first)
                    .byte(ServerOperation::Answer),
            )
            .operation(ServerOperation::Step, fin)
            .into_vec(),
        ));
        for (i, bad) in [
            &b"y,,n=user,r=abc"[..],
            b"p=tls-unique,,n=user,r=abc",
            b"p=tls-bogus,,n=user,r=abc",
            b"n,a=adm=2Cin,n=us=3Der,r=abc,x=ext",
            b"n,,n=us=er,r=abc",
            b"n,,m=ext,n=user,r=abc",
            b"n,,n=user,r=a,b",
        ]
        .iter()
        .enumerate()
        {
            v.push((
                target,
                format!("edge-{i}"),
                keys.write(
                    Script::new()
                        .byte(tls_data)
                        .byte(if i == 0 { b_all } else { b_none })
                        .operation(ServerOperation::StartInitialResponse, bad)
                        .byte(ServerOperation::Answer),
                )
                .operation(ServerOperation::Step, b"c=biws,r=abc1896.697170952,p=AAAA")
                .into_vec(),
            ));
        }
    }

    // OAUTHBEARER server: RFC 7628's messages, token owner, scope discovery.
    let ob = "server_oauthbearer";
    let rfc_ok = b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01";
    let rfc_scope =
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=\x01\x01";
    let rfc_bad = b"n,user=someuser@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01";
    let no_user = b"n,,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01";
    v.push((
        ob,
        "rfc7628-4.1".into(),
        Script::new()
            .byte(tls_nodata)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, rfc_ok)
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Accept)
            .into_vec(),
    ));
    v.push((
        ob,
        "rfc7628-4.3-scope".into(),
        Script::new()
            .byte(tls_nodata)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, rfc_scope)
            .byte(ServerOperation::AnswerBase64)
            .byte(AnswerKind::TokenError)
            .bytes(b"invalid_token")
            .bytes(b"example_scope")
            .operation(ServerOperation::StepBase64, b"AQ==")
            .into_vec(),
    ));
    v.push((
        ob,
        "rfc7628-4.4-not-gs2".into(),
        Script::new()
            .byte(tls_nodata)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, rfc_bad)
            .into_vec(),
    ));
    v.push((
        ob,
        "owner".into(),
        Script::new()
            .byte(tls_nodata)
            .byte(0)
            .byte(ServerOperation::Start)
            .operation(ServerOperation::Step, no_user)
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Accept)
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::TokenOwner)
            .bytes(b"")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::TokenOwner)
            .bytes(b"owner@example.net")
            .into_vec(),
    ));
    v.push((
        ob,
        "owner-authorize".into(),
        Script::new()
            .byte(tls_nodata)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, rfc_ok)
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::TokenOwner)
            .bytes(b"owner@example.net")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Reject)
            .into_vec(),
    ));
    v.push((
        ob,
        "reject-empty-ack".into(),
        Script::new()
            .byte(tls_nodata)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, rfc_ok)
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Reject)
            .operation(ServerOperation::Step, b"")
            .operation(ServerOperation::Step, b"")
            .into_vec(),
    ));
    v.push((
        ob,
        "engine".into(),
        engine_exchange(
            Mechanism::OAuthBearer,
            tls_data,
            0,
            &user,
            &ClientConfig::new(),
            true,
            // A token is answered with its owner (a bare Accept is WrongAnswer).
            &[A::Owner("user".into())],
        ),
    ));
    let token_only = Credentials::new().token(DEFAULT_TOKEN);
    v.push((
        ob,
        "engine-owner".into(),
        engine_exchange(
            Mechanism::OAuthBearer,
            tls_nodata,
            0,
            &token_only,
            &ClientConfig::new(),
            false,
            &[A::Owner("owner@example.net".into())],
        ),
    ));

    // EXTERNAL server: RFC 4422 / RFC 4954 (empty response, an authzid), with and without the
    // transport identity.
    let ex = "server_external";
    for (name, b, ir) in [
        ("rfc4954-empty", 0x20u8, &b""[..]),
        ("rfc4422-fred", 0x20, b"fred@example.com"),
        ("same-as-certificate", 0x20, b"client.example.net"),
        ("no-identity", 0, b""),
    ] {
        v.push((
            ex,
            name.into(),
            Script::new()
                .byte(tls_nodata)
                .byte(b)
                .operation(
                    ServerOperation::StartBase64,
                    saslmech::b64::encode(ir).as_bytes(),
                )
                .byte(ServerOperation::Answer)
                .byte(AnswerKind::Accept)
                .into_vec(),
        ));
    }
    v.push((
        ex,
        "no-ir".into(),
        Script::new()
            .byte(tls_nodata)
            .byte(0x20)
            .byte(ServerOperation::StartBase64None)
            .operation(ServerOperation::StepBase64, b"ZnJlZA==")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Reject)
            .into_vec(),
    ));

    // ANONYMOUS server: RFC 4505's trace, empty, too long, control characters.
    let an = "server_anonymous";
    v.push((
        an,
        "rfc4505-sirhc".into(),
        Script::new()
            .byte(0)
            .byte(0)
            .byte(ServerOperation::StartBase64None)
            .operation(ServerOperation::StepBase64, b"c2lyaGM=")
            .into_vec(),
    ));
    v.push((
        an,
        "empty-ir".into(),
        Script::new()
            .byte(0)
            .byte(0)
            .operation(ServerOperation::StartBase64, b"")
            .into_vec(),
    ));
    v.push((
        an,
        "email".into(),
        Script::new()
            .byte(0)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, b"fuzz@example.net")
            .byte(ServerOperation::Cancel)
            .into_vec(),
    ));
    v.push((
        an,
        "too-long".into(),
        Script::new()
            .byte(0)
            .byte(0)
            .operation(
                ServerOperation::StartInitialResponse,
                "é".repeat(256).as_bytes(),
            )
            .into_vec(),
    ));
    v.push((
        an,
        "control".into(),
        Script::new()
            .byte(0)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, b"a\tb")
            .into_vec(),
    ));
}

/// SCRAM, OAUTHBEARER, EXTERNAL and ANONYMOUS clients; differential.
pub(super) fn client_seeds(v: &mut Vec<(&'static str, String, Vec<u8>)>) {
    // SCRAM clients: RFC 5802 / RFC 7677 exchanges (fixed RFC nonce, i=4096 allowed), with
    // the server-final as success data and as a challenge; the -PLUS clients with each binding.
    let rfc1 = (
        &b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"[..],
        &b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="[..],
    );
    let rfc256 = (
        &b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
            [..],
        &b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="[..],
    );
    for (target, (sf, fin), sel) in [
        ("client_scram_sha_1", rfc1, 0u8),
        ("client_scram_sha_256", rfc256, 0),
        ("client_scram_sha_1_plus", rfc1, 1),
        ("client_scram_sha_256_plus", rfc256, 1),
    ] {
        let creds = |flags: u8| {
            Script::new()
                .byte(flags | 1 | 0x40 | (sel << 4))
                .bytes(b"user")
                .bytes(b"")
                .bytes(b"pencil")
                .bytes(b"")
        };
        v.push((
            target,
            "rfc-success-data".into(),
            creds(0)
                .byte(ClientOperation::Start)
                .operation(ClientOperation::Step, sf)
                .operation(ClientOperation::FinishData, fin)
                .into_vec(),
        ));
        v.push((
            target,
            "rfc-final-challenge".into(),
            creds(0)
                .byte(ClientOperation::Start)
                .operation(ClientOperation::Step, sf)
                .operation(ClientOperation::Step, fin)
                .byte(ClientOperation::Finish)
                .into_vec(),
        ));
        v.push((
            target,
            "rfc-b64-no-ir".into(),
            creds(0)
                .operation(ClientOperation::StepBase64, b"")
                .operation(
                    ClientOperation::StepBase64,
                    saslmech::b64::encode(sf).as_bytes(),
                )
                .operation(
                    ClientOperation::StepBase64,
                    saslmech::b64::encode(fin).as_bytes(),
                )
                .byte(ClientOperation::Finish)
                .into_vec(),
        ));
        v.push((
            target,
            "rfc-wrong-signature".into(),
            creds(0)
                .byte(ClientOperation::Start)
                .operation(ClientOperation::Step, sf)
                .operation(ClientOperation::FinishData, b"v=AAAA")
                .into_vec(),
        ));
        v.push((
            target,
            "server-error".into(),
            creds(0)
                .byte(ClientOperation::Start)
                .operation(ClientOperation::Step, sf)
                .operation(ClientOperation::Step, b"e=invalid-proof")
                .into_vec(),
        ));
        v.push((
            target,
            "iterations-too-low".into(),
            Script::new()
                .byte(1 | (sel << 4))
                .bytes(b"user")
                .bytes(b"")
                .bytes(b"pencil")
                .bytes(b"")
                .byte(ClientOperation::Start)
                .operation(ClientOperation::Step, sf)
                .into_vec(),
        ));
        v.push((
            target,
            "finish-without-proof".into(),
            creds(0)
                .byte(ClientOperation::Start)
                .byte(ClientOperation::Finish)
                .into_vec(),
        ));
        v.push((
            target,
            "authzid-escapes".into(),
            Script::new()
                .byte(1 | 0x40 | (sel << 4))
                .bytes(b"us,er")
                .bytes(b"ad=min")
                .bytes(b"pencil")
                .bytes(b"")
                .byte(ClientOperation::Start)
                .operation(
                    ClientOperation::Step,
                    b"r=fyko+d2lbbFgONRv9qkxdawLxyz,s=QSXCR+Q6sek8bf92,i=4096,x=ext",
                )
                .into_vec(),
        ));
        for (i, bad) in [
            &b"r=other,s=QSXCR+Q6sek8bf92,i=4096"[..],
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=,i=4096",
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0",
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=99999999999",
            b"m=ext,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
        ]
        .iter()
        .enumerate()
        {
            v.push((
                target,
                format!("edge-{i}"),
                creds(0)
                    .byte(ClientOperation::Start)
                    .operation(ClientOperation::Step, bad)
                    .into_vec(),
            ));
        }
    }

    // OAUTHBEARER, EXTERNAL, ANONYMOUS clients.
    let err = br#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-config"}"#;
    v.push((
        "client_oauthbearer",
        "rfc7628-error".into(),
        Script::new()
            .byte(8)
            .bytes(b"")
            .bytes(b"server.example.com")
            .byte(0)
            .byte(143)
            .byte(ClientOperation::StartBase64)
            .operation(ClientOperation::Step, err)
            .byte(ClientOperation::Finish)
            .into_vec(),
    ));
    v.push((
        "client_oauthbearer",
        "success".into(),
        Script::new()
            .byte(1)
            .bytes(b"user@example.com")
            .bytes(b"")
            .bytes(b"")
            .bytes(b"vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==")
            .byte(ClientOperation::Start)
            .byte(ClientOperation::Finish)
            .into_vec(),
    ));
    v.push((
        "client_oauthbearer",
        "no-ir".into(),
        Script::new()
            .byte(0)
            .operation(ClientOperation::StepBase64, b"")
            .operation(
                ClientOperation::StepBase64,
                b"eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=",
            )
            .operation(ClientOperation::FinishData, b"x")
            .into_vec(),
    ));
    v.push((
        "client_external",
        "rfc4954-empty".into(),
        Script::new()
            .byte(0)
            .byte(ClientOperation::StartBase64)
            .byte(ClientOperation::Finish)
            .into_vec(),
    ));
    v.push((
        "client_external",
        "authzid-no-ir".into(),
        Script::new()
            .byte(1)
            .bytes(b"tim")
            .bytes(b"fred@example.com")
            .bytes(b"")
            .bytes(b"")
            .operation(ClientOperation::Step, b"")
            .operation(ClientOperation::Step, b"x")
            .into_vec(),
    ));
    v.push((
        "client_anonymous",
        "rfc4505-sirhc".into(),
        Script::new()
            .byte(8)
            .bytes(b"sirhc")
            .bytes(b"")
            .byte(0)
            .byte(0)
            .operation(ClientOperation::StepBase64, b"")
            .byte(ClientOperation::Finish)
            .into_vec(),
    ));
    v.push((
        "client_anonymous",
        "ir-and-data".into(),
        Script::new()
            .byte(8)
            .bytes(b"fuzz@example.net")
            .bytes(b"")
            .byte(0)
            .byte(0)
            .byte(ClientOperation::Start)
            .operation(ClientOperation::FinishData, b"x")
            .into_vec(),
    ));

    // Differential: the new mechanisms with channel binding, keys, mismatches.
    for (i, m) in MECHANISMS.iter().enumerate().skip(4) {
        let name = m.name().to_lowercase();
        let base = |flags: u8, stored: Option<(&[u8], &[u8])>, x: u8| {
            let s = Script::new()
                .byte(i as u8)
                .byte(flags)
                .bytes(b"tim")
                .bytes(b"")
                .bytes(DEFAULT_PASSWORD)
                .bytes(DEFAULT_TOKEN);
            let s = match stored {
                Some((p, t)) => s.bytes(p).bytes(t),
                None => s,
            };
            s.byte(x)
        };
        let all = differential_flag::TLS | differential_flag::INITIAL_RESPONSE;
        let x_exporter = 1 | (differential_binding::SAME << 2) | (3 << 4);
        for (what, flags, stored, x) in [
            ("cb-same", all, None, x_exporter),
            (
                "cb-same-keys-b64-no-data",
                differential_flag::TLS | differential_flag::BASE64 | differential_flag::KEYS,
                None,
                x_exporter,
            ),
            (
                "cb-different",
                all,
                None,
                1 | (differential_binding::DIFFERENT << 2),
            ),
            (
                "cb-all-unique",
                all | differential_flag::SUCCESS_DATA,
                None,
                3 | (differential_binding::ALL << 2),
            ),
            ("cb-none", all, None, 2 | (differential_binding::NONE << 2)),
            (
                "no-cb",
                all | differential_flag::SUCCESS_DATA,
                None,
                differential_binding::NONE << 2,
            ),
            (
                "mismatch",
                all | differential_flag::MISMATCH,
                Some((&b"tanstaaftanstaaF"[..], &b"ya29.other"[..])),
                x_exporter,
            ),
            (
                "mismatch-keys",
                all | differential_flag::MISMATCH
                    | differential_flag::KEYS
                    | differential_flag::APP_COMPARES,
                Some((&b"other"[..], &b"other"[..])),
                x_exporter,
            ),
            (
                "saslprep-equal",
                all | differential_flag::MISMATCH,
                Some(("tanstaaf\u{a0}tanstaaf".as_bytes(), DEFAULT_TOKEN)),
                x_exporter,
            ),
        ] {
            v.push((
                "differential",
                format!("{name}-{what}"),
                base(flags, stored, x).into_vec(),
            ));
        }
        v.push((
            "differential",
            format!("{name}-authzid-denied"),
            Script::new()
                .byte(i as u8)
                .byte(all | differential_flag::DENY_AUTHZ)
                .bytes(b"tim")
                .bytes(b"admin")
                .bytes(DEFAULT_PASSWORD)
                .bytes(DEFAULT_TOKEN)
                .byte(x_exporter)
                .into_vec(),
        ));
        v.push((
            "differential",
            format!("{name}-proof-flipped"),
            base(all, None, x_exporter)
                .byte(Mutation::Pass)
                .byte(Mutation::Pass)
                .byte(Mutation::Flip)
                .byte(1)
                .byte(200)
                .into_vec(),
        ));
    }
}
