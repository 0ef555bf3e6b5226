//! The first seeds: the RFC vectors and the transcripts, per target.

use super::*;

pub(super) fn seeds(transcripts: &str) -> Vec<(&'static str, String, Vec<u8>)> {
    let mut v: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let pw = DEFAULT_PASSWORD;

    // Real clients' exchanges, replayed against the server as base64, answered with the
    // stored password (or accepted token), and against the client the other way round.
    for (client, mech, ir, lines) in client_messages(transcripts) {
        let target = match mech.as_str() {
            "PLAIN" => "server_plain",
            "LOGIN" => "server_login",
            "CRAM-MD5" => "server_cram_md5",
            "XOAUTH2" => "server_xoauth2",
            _ => continue,
        };
        let mut s = Script::new().byte(TLS).byte(0);
        s = match &ir {
            Some(ir) => s.operation(ServerOperation::StartBase64, ir.as_bytes()),
            None => s.byte(ServerOperation::StartBase64None),
        };
        for l in &lines {
            s = s.operation(ServerOperation::StepBase64, l.as_bytes());
        }
        s = if mech == "XOAUTH2" {
            s.byte(ServerOperation::Answer).byte(AnswerKind::Accept)
        } else {
            s.byte(ServerOperation::Answer)
                .byte(AnswerKind::Password)
                .bytes(pw)
        };
        v.push((
            target,
            format!("{client}-{}", mech.to_lowercase()),
            s.into_vec(),
        ));
    }

    // PLAIN: RFC 4616 and RFC 4954 vectors.
    let plain = |name: &str, s: Script| ("server_plain", name.to_owned(), s.into_vec());
    v.push(plain(
        "rfc4616-ex1-no-ir",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::Start)
            .operation(ServerOperation::Step, b"\0tim\0tanstaaftanstaaf")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Password)
            .bytes(pw),
    ));
    v.push(plain(
        "rfc4616-ex2-authz-denied",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(
                ServerOperation::StartInitialResponse,
                b"Ursel\0Kurt\0xipj3plmq",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Password)
            .bytes(b"xipj3plmq")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Reject)
            .byte(ServerOperation::Step)
            .bytes(b""),
    ));
    v.push(plain(
        "rfc4616-ex2-authz-allowed",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(
                ServerOperation::StartInitialResponse,
                b"Ursel\0Kurt\0xipj3plmq",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Accept)
            .byte(ServerOperation::AnswerBase64)
            .byte(AnswerKind::Accept),
    ));
    v.push(plain(
        "rfc4954-test-1234",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(ServerOperation::StartBase64, b"dGVzdAB0ZXN0ADEyMzQ=")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Password)
            .bytes(b"1234"),
    ));
    v.push(plain(
        "wrong-password-then-calls",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(
                ServerOperation::StartBase64,
                b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Password)
            .bytes(b"tanstaaftanstaaF")
            .operation(ServerOperation::Step, b"x")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Accept)
            .byte(ServerOperation::Cancel),
    ));
    v.push(plain(
        "bad-base64-pad-first",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(ServerOperation::StartBase64, b"=AAA"),
    ));
    v.push(plain(
        "bad-base64-pad-middle",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::StartBase64None)
            .operation(ServerOperation::StepBase64, b"AAA=BBB="),
    ));
    v.push(plain(
        "extra-nul-field",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, b"\0tim\0pass\0extra"),
    ));
    v.push(plain(
        "too-large-64",
        Script::new()
            .byte(TLS | 0b0001_0000)
            .byte(0)
            .byte(ServerOperation::Start)
            .byte(ServerOperation::StepBig)
            .bytes(b"\0tim\0")
            .byte(0)
            .byte(8),
    ));
    v.push(plain(
        "too-large-default-b64",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::StartBase64None)
            .byte(ServerOperation::StepBase64Big)
            .bytes(b"QUFB")
            .byte(0x14)
            .byte(0),
    ));
    v.push(plain(
        "authcid-over-255",
        Script::new().byte(TLS).byte(1).operation(
            ServerOperation::StartInitialResponse,
            &[b"\0".as_slice(), &[b'u'; 256], b"\0pw"].concat(),
        ),
    ));
    v.push(plain(
        "temporary-failure",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, b"\0tim\0pw")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::TemporaryFailure),
    ));
    v.push(plain(
        "account-disabled-plaintext",
        Script::new()
            .byte(0b0000_0100)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, b"\0tim\0pw")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::CramMd5Keys)
            .bytes(b"pw")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::AccountDisabled),
    ));
    v.push(plain(
        "no-tls-refused",
        Script::new().byte(0).byte(0).byte(ServerOperation::Start),
    ));

    // LOGIN: the draft's and MS-XLOGIN's exchanges, limits.
    let login = |name: &str, s: Script| ("server_login", name.to_owned(), s.into_vec());
    v.push(login(
        "xlogin-ir",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(ServerOperation::StartBase64, b"dGlt")
            .operation(ServerOperation::StepBase64, b"dGFuc3RhYWZ0YW5zdGFhZg==")
            .byte(ServerOperation::AnswerBase64)
            .byte(AnswerKind::Password)
            .bytes(pw),
    ));
    v.push(login(
        "max-steps-1",
        Script::new()
            .byte(TLS | 0b0100_0000)
            .byte(0)
            .byte(ServerOperation::Start)
            .operation(ServerOperation::Step, b"tim")
            .operation(ServerOperation::Step, b"tanstaaftanstaaf"),
    ));
    v.push(login(
        "username-over-255",
        Script::new()
            .byte(TLS)
            .byte(1)
            .byte(ServerOperation::Start)
            .byte(ServerOperation::StepBig)
            .bytes(b"u")
            .byte(0)
            .byte(17),
    ));
    v.push(login(
        "nul-in-password-and-cancel",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::Start)
            .operation(ServerOperation::Step, b"tim")
            .byte(ServerOperation::Cancel)
            .operation(ServerOperation::Step, b"pa\0ss"),
    ));
    v.push(login(
        "unknown-user",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(ServerOperation::StartInitialResponse, b"nobody")
            .operation(ServerOperation::Step, b"pw")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::UnknownUser),
    ));

    // CRAM-MD5: RFC 2195 (the fixed nonce reproduces its challenge), RFC 4954, keys.
    let cram = |name: &str, s: Script| ("server_cram_md5", name.to_owned(), s.into_vec());
    v.push(cram(
        "rfc2195-keys",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::Start)
            .operation(
                ServerOperation::Step,
                b"tim b913a602c7eda7a495b4e6e7334d3890",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::CramMd5Keys)
            .bytes(pw),
    ));
    v.push(cram(
        "rfc4954-rjs3-wrong",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::StartBase64None)
            .operation(
                ServerOperation::StepBase64,
                b"cmpzMyBlYzNhNTlmZWQzOTVhYmExZWM2MzY3YzRmNGI0MWFjMA==",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Password)
            .bytes(b"secret"),
    ));
    v.push(cram(
        "uppercase-hex",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::Start)
            .operation(
                ServerOperation::Step,
                b"tim B913A602C7EDA7A495B4E6E7334D3890",
            ),
    ));
    v.push(cram(
        "user-with-spaces",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::Start)
            .operation(
                ServerOperation::Step,
                b"tim smith b913a602c7eda7a495b4e6e7334d3890",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::UnknownUser),
    ));
    v.push(cram(
        "initial-response",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(ServerOperation::StartBase64, b"dGlt"),
    ));
    v.push(cram(
        "os-nonce-and-weak-refused",
        Script::new()
            .byte(TLS)
            .byte(2)
            .byte(ServerOperation::StartBase64None)
            .operation(
                ServerOperation::Step,
                b"tim 00000000000000000000000000000000",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Accept)
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Reject),
    ));
    v.push(cram(
        "nonce-failure",
        Script::new().byte(TLS).byte(4).byte(ServerOperation::Start),
    ));
    v.push(cram("weak-refused", Script::new().byte(TLS | 8).byte(0)));

    // XOAUTH2: Google's and curl's vectors, the error challenge and its acknowledgement.
    let xo = |name: &str, s: Script| ("server_xoauth2", name.to_owned(), s.into_vec());
    v.push(xo(
        "google-ir",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(ServerOperation::StartBase64, b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Accept),
    ));
    v.push(xo(
        "curl-test922-error-challenge",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(
                ServerOperation::StartBase64,
                b"dXNlcj11c2VyAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB",
            )
            .byte(ServerOperation::AnswerBase64)
            .byte(AnswerKind::TokenError)
            .bytes(b"401")
            .bytes(b"https://mail.google.com/")
            .operation(ServerOperation::StepBase64, b""),
    ));
    v.push(xo(
        "reject-ack-with-ctrl-a",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(ServerOperation::Start)
            .operation(
                ServerOperation::Step,
                b"user=user\x01auth=Bearer mF_9.B5f-4.1JqM\x01\x01",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::Reject)
            .operation(ServerOperation::StepBase64, b"AQ=="),
    ));
    v.push(xo(
        "token-error-escapes",
        Script::new()
            .byte(TLS)
            .byte(0)
            .operation(
                ServerOperation::StartInitialResponse,
                b"user=a\x01auth=bearer abc==\x01\x01",
            )
            .byte(ServerOperation::Answer)
            .byte(AnswerKind::TokenError)
            .bytes(b"in\"valid\\\n\x01")
            .bytes(b""),
    ));
    v.push(xo(
        "missing-final-ctrl-a",
        Script::new().byte(TLS).byte(0).operation(
            ServerOperation::StartInitialResponse,
            b"user=a\x01auth=Bearer abc\x01",
        ),
    ));

    // Clients: the challenges of real servers and the RFCs.
    let xerr = b"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";
    let pop_err = b"eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
    let c = |t: &'static str, name: &str, s: Script| (t, name.to_owned(), s.into_vec());
    v.push(c(
        "client_plain",
        "ir-finish",
        Script::new()
            .byte(0)
            .byte(ClientOperation::StartBase64)
            .byte(ClientOperation::Finish),
    ));
    v.push(c(
        "client_plain",
        "no-ir-empty-challenge",
        Script::new()
            .byte(0)
            .operation(ClientOperation::StepBase64, b"")
            .byte(ClientOperation::FinishData)
            .bytes(b""),
    ));
    v.push(c(
        "client_plain",
        "own-credentials-authzid",
        Script::new()
            .byte(1)
            .bytes(b"Kurt")
            .bytes(b"Ursel")
            .bytes(b"xipj3plmq")
            .bytes(b"")
            .byte(ClientOperation::Start)
            .operation(ClientOperation::Step, b"unexpected")
            .byte(ClientOperation::Finish),
    ));
    v.push(c(
        "client_login",
        "xlogin-prompts",
        Script::new()
            .byte(0)
            .byte(ClientOperation::Start)
            .operation(ClientOperation::StepBase64, b"VXNlcm5hbWU6")
            .operation(ClientOperation::StepBase64, b"UGFzc3dvcmQ6")
            .byte(ClientOperation::Finish),
    ));
    v.push(c(
        "client_login",
        "draft-prompts-then-extra",
        Script::new()
            .byte(0)
            .operation(ClientOperation::StepBase64, b"VXNlciBOYW1lAA==")
            .operation(ClientOperation::StepBase64, b"UGFzc3dvcmQA")
            .operation(ClientOperation::Step, b"more?")
            .byte(ClientOperation::Finish),
    ));
    v.push(c(
        "client_login",
        "finish-early-with-data",
        Script::new()
            .byte(0)
            .operation(ClientOperation::Step, b"Username:")
            .byte(ClientOperation::FinishData)
            .bytes(b"v=x"),
    ));
    v.push(c(
        "client_cram_md5",
        "rfc2195",
        Script::new()
            .byte(0)
            .byte(ClientOperation::Start)
            .operation(
                ClientOperation::StepBase64,
                b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
            )
            .byte(ClientOperation::Finish),
    ));
    v.push(c(
        "client_cram_md5",
        "rfc4954-challenge-long-password",
        Script::new()
            .byte(1)
            .bytes(b"rjs3")
            .bytes(b"")
            .bytes(&[b'k'; 100])
            .bytes(b"")
            .operation(
                ClientOperation::StepBase64,
                b"PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4=",
            )
            .operation(ClientOperation::Step, b"again"),
    ));
    v.push(c(
        "client_cram_md5",
        "small-limit-big-challenge",
        Script::new()
            .byte(2)
            .byte(ClientOperation::StepBase64Big)
            .bytes(b"QUFB")
            .byte(0)
            .byte(4)
            .operation(ClientOperation::Step, b"<x@y>"),
    ));
    v.push(c(
        "client_xoauth2",
        "google-error",
        Script::new()
            .byte(0)
            .byte(ClientOperation::StartBase64)
            .operation(ClientOperation::StepBase64, xerr)
            .byte(ClientOperation::Finish),
    ));
    v.push(c(
        "client_xoauth2",
        "pop-error-no-ir",
        Script::new()
            .byte(0)
            .operation(ClientOperation::Step, b"")
            .operation(ClientOperation::StepBase64, pop_err)
            .operation(ClientOperation::Step, b"{}"),
    ));
    v.push(c(
        "client_xoauth2",
        "json-escapes",
        Script::new()
            .byte(0)
            .byte(ClientOperation::Start)
            .operation(
                ClientOperation::Step,
                br#" { "status" : 400 , "x": null, "y": true, "scope":"a\u0041\n\"", "openid-configuration": "https:\/\/e" } "#,
            )
            .byte(ClientOperation::Finish),
    ));
    v.push(c(
        "client_xoauth2",
        "success",
        Script::new()
            .byte(1)
            .bytes(b"someuser@example.com")
            .bytes(b"")
            .bytes(b"")
            .bytes(DEFAULT_TOKEN)
            .byte(ClientOperation::Start)
            .byte(ClientOperation::FinishData)
            .bytes(b""),
    ));

    // Differential: every mechanism, clean and mutated, matching and not.
    for (i, m) in MECHANISMS.iter().enumerate() {
        let name = m.name().to_lowercase();
        let base = |flags: u8| {
            Script::new()
                .byte(i as u8)
                .byte(flags)
                .bytes(b"tim")
                .bytes(b"")
                .bytes(DEFAULT_PASSWORD)
                .bytes(DEFAULT_TOKEN)
        };
        let all = differential_flag::TLS | differential_flag::INITIAL_RESPONSE;
        v.push((
            "differential",
            format!("{name}-clean"),
            base(all).into_vec(),
        ));
        v.push((
            "differential",
            format!("{name}-clean-b64-no-ir"),
            base(differential_flag::TLS | differential_flag::BASE64).into_vec(),
        ));
        v.push((
            "differential",
            format!("{name}-mismatch-app-compares"),
            base(
                all | differential_flag::MISMATCH
                    | differential_flag::APP_COMPARES
                    | differential_flag::KEYS,
            )
            .bytes(b"tanstaaftanstaaF")
            .bytes(b"ya29.other")
            .into_vec(),
        ));
        v.push((
            "differential",
            format!("{name}-mutated"),
            base(all | differential_flag::BASE64)
                .byte(Mutation::Flip)
                .byte(0x20)
                .byte(5)
                .byte(Mutation::Truncate)
                .byte(3)
                .into_vec(),
        ));
        if *m == Mechanism::Plain {
            v.push((
                "differential",
                "plain-authzid-denied".into(),
                Script::new()
                    .byte(i as u8)
                    .byte(all | differential_flag::DENY_AUTHZ)
                    .bytes(b"Kurt")
                    .bytes(b"Ursel")
                    .bytes(b"xipj3plmq")
                    .bytes(b"")
                    .into_vec(),
            ));
            v.push((
                "differential",
                "plain-replaced-with-stored".into(),
                base(all | differential_flag::MISMATCH)
                    .bytes(b"other")
                    .bytes(b"")
                    .byte(Mutation::Replace)
                    .bytes(b"\0tim\0other")
                    .into_vec(),
            ));
        }
    }

    // Base64: RFC 4648 and RFC 4954 texts, strictness cases, every transcript line.
    let mut b: Vec<&[u8]> = vec![
        b"",
        b"AA==",
        b"AAA=",
        b"Zm9vYmFy",
        b"Zm9vYg==",
        b"=AAA",
        b"AAA=BBB",
        b"AAA=BBB=",
        b"dGm=",
        b"dG=t",
        b"dGlt\r\n",
        b" dGlt",
        b"****",
        b"dGk=dGk=",
        b"QUJD-_==",
    ];
    let lines: Vec<String> = client_messages(transcripts)
        .into_iter()
        .flat_map(|(_, _, ir, l)| ir.into_iter().chain(l))
        .collect();
    for l in &lines {
        b.push(l.as_bytes());
    }
    b.push(xerr);
    b.push(pop_err);
    b.sort();
    b.dedup();
    for (i, t) in b.iter().enumerate() {
        v.push(("base64", format!("{i:02}"), t.to_vec()));
    }
    v
}
