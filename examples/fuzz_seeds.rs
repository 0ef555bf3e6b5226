//! Writes the hand-made seed corpus of every fuzz target to `fuzz/corpus/<target>/seed-*`:
//! the RFC vectors of `shared/reference/sasl-reference.md` and the exchanges real clients
//! (swaks, curl, msmtp, gsasl, smtplib) had with a test server (`fuzz/seeds/transcripts.txt`,
//! captured by `fuzz/seeds/capture.py`), in each target's input format.
//!
//! `cargo run --features fuzzing --example fuzz_seeds` (idempotent; campaign findings, which
//! are named by their hash, are left alone).

use std::fs;
use std::path::Path;

use saslmech::Mechanism;
use saslmech::fuzzing::{
    DEFAULT_PASSWORD, DEFAULT_TOKEN, MECHANISMS, Script, ans, cop, dflag, mutate, op,
};

/// Server config byte `a`: TLS and success data, default limits.
const TLS: u8 = 0b0000_0011;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let transcripts = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/transcripts.txt"),
    )
    .expect("fuzz/seeds/transcripts.txt");
    let mut n = 0;
    for (target, name, data) in seeds(&transcripts) {
        let dir = root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        n += 1;
    }
    println!("wrote {n} seeds under {}", root.display());
}

/// The client lines of each transcript, per mechanism: (client, mechanism, base64 lines, the
/// first being the initial response if the AUTH command had one).
fn client_messages(transcripts: &str) -> Vec<(String, String, Option<String>, Vec<String>)> {
    let mut out: Vec<(String, String, Option<String>, Vec<String>)> = Vec::new();
    for line in transcripts.lines() {
        let mut it = line.splitn(4, ' ');
        let (Some(client), Some(mech), Some(dir), Some(text)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if dir != "C" {
            continue;
        }
        if let Some(rest) = text.strip_prefix("AUTH ") {
            let ir = rest.split(' ').nth(1).map(str::to_owned);
            out.push((client.into(), mech.into(), ir, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.3.push(text.to_owned());
        }
    }
    out
}

fn seeds(transcripts: &str) -> Vec<(&'static str, String, Vec<u8>)> {
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
            Some(ir) => s.op(op::START_B64, ir.as_bytes()),
            None => s.byte(op::START_B64_NONE),
        };
        for l in &lines {
            s = s.op(op::STEP_B64, l.as_bytes());
        }
        s = if mech == "XOAUTH2" {
            s.byte(op::ANSWER).byte(ans::ACCEPT)
        } else {
            s.byte(op::ANSWER).byte(ans::PASSWORD).bytes(pw)
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
            .byte(op::START)
            .op(op::STEP, b"\0tim\0tanstaaftanstaaf")
            .byte(op::ANSWER)
            .byte(ans::PASSWORD)
            .bytes(pw),
    ));
    v.push(plain(
        "rfc4616-ex2-authz-denied",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_IR, b"Ursel\0Kurt\0xipj3plmq")
            .byte(op::ANSWER)
            .byte(ans::PASSWORD)
            .bytes(b"xipj3plmq")
            .byte(op::ANSWER)
            .byte(ans::REJECT)
            .byte(op::STEP)
            .bytes(b""),
    ));
    v.push(plain(
        "rfc4616-ex2-authz-allowed",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_IR, b"Ursel\0Kurt\0xipj3plmq")
            .byte(op::ANSWER)
            .byte(ans::ACCEPT)
            .byte(op::ANSWER_B64)
            .byte(ans::ACCEPT),
    ));
    v.push(plain(
        "rfc4954-test-1234",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_B64, b"dGVzdAB0ZXN0ADEyMzQ=")
            .byte(op::ANSWER)
            .byte(ans::PASSWORD)
            .bytes(b"1234"),
    ));
    v.push(plain(
        "wrong-password-then-calls",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_B64, b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
            .byte(op::ANSWER)
            .byte(ans::PASSWORD)
            .bytes(b"tanstaaftanstaaF")
            .op(op::STEP, b"x")
            .byte(op::ANSWER)
            .byte(ans::ACCEPT)
            .byte(op::CANCEL),
    ));
    v.push(plain(
        "bad-base64-pad-first",
        Script::new().byte(TLS).byte(0).op(op::START_B64, b"=AAA"),
    ));
    v.push(plain(
        "bad-base64-pad-middle",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(op::START_B64_NONE)
            .op(op::STEP_B64, b"AAA=BBB="),
    ));
    v.push(plain(
        "extra-nul-field",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_IR, b"\0tim\0pass\0extra"),
    ));
    v.push(plain(
        "too-large-64",
        Script::new()
            .byte(TLS | 0b0001_0000)
            .byte(0)
            .byte(op::START)
            .byte(op::STEP_BIG)
            .bytes(b"\0tim\0")
            .byte(0)
            .byte(8),
    ));
    v.push(plain(
        "too-large-default-b64",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(op::START_B64_NONE)
            .byte(op::STEP_B64_BIG)
            .bytes(b"QUFB")
            .byte(0x14)
            .byte(0),
    ));
    v.push(plain(
        "authcid-over-255",
        Script::new().byte(TLS).byte(1).op(
            op::START_IR,
            &[b"\0".as_slice(), &[b'u'; 256], b"\0pw"].concat(),
        ),
    ));
    v.push(plain(
        "temporary-failure",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_IR, b"\0tim\0pw")
            .byte(op::ANSWER)
            .byte(ans::TEMPORARY_FAILURE),
    ));
    v.push(plain(
        "account-disabled-plaintext",
        Script::new()
            .byte(0b0000_0100)
            .byte(0)
            .op(op::START_IR, b"\0tim\0pw")
            .byte(op::ANSWER)
            .byte(ans::CRAM_MD5_KEYS)
            .bytes(b"pw")
            .byte(op::ANSWER)
            .byte(ans::ACCOUNT_DISABLED),
    ));
    v.push(plain(
        "no-tls-refused",
        Script::new().byte(0).byte(0).byte(op::START),
    ));

    // LOGIN: the draft's and MS-XLOGIN's exchanges, limits.
    let login = |name: &str, s: Script| ("server_login", name.to_owned(), s.into_vec());
    v.push(login(
        "xlogin-ir",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_B64, b"dGlt")
            .op(op::STEP_B64, b"dGFuc3RhYWZ0YW5zdGFhZg==")
            .byte(op::ANSWER_B64)
            .byte(ans::PASSWORD)
            .bytes(pw),
    ));
    v.push(login(
        "max-steps-1",
        Script::new()
            .byte(TLS | 0b0100_0000)
            .byte(0)
            .byte(op::START)
            .op(op::STEP, b"tim")
            .op(op::STEP, b"tanstaaftanstaaf"),
    ));
    v.push(login(
        "username-over-255",
        Script::new()
            .byte(TLS)
            .byte(1)
            .byte(op::START)
            .byte(op::STEP_BIG)
            .bytes(b"u")
            .byte(0)
            .byte(17),
    ));
    v.push(login(
        "nul-in-password-and-cancel",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(op::START)
            .op(op::STEP, b"tim")
            .byte(op::CANCEL)
            .op(op::STEP, b"pa\0ss"),
    ));
    v.push(login(
        "unknown-user",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_IR, b"nobody")
            .op(op::STEP, b"pw")
            .byte(op::ANSWER)
            .byte(ans::UNKNOWN_USER),
    ));

    // CRAM-MD5: RFC 2195 (the fixed nonce reproduces its challenge), RFC 4954, keys.
    let cram = |name: &str, s: Script| ("server_cram_md5", name.to_owned(), s.into_vec());
    v.push(cram(
        "rfc2195-keys",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(op::START)
            .op(op::STEP, b"tim b913a602c7eda7a495b4e6e7334d3890")
            .byte(op::ANSWER)
            .byte(ans::CRAM_MD5_KEYS)
            .bytes(pw),
    ));
    v.push(cram(
        "rfc4954-rjs3-wrong",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(op::START_B64_NONE)
            .op(
                op::STEP_B64,
                b"cmpzMyBlYzNhNTlmZWQzOTVhYmExZWM2MzY3YzRmNGI0MWFjMA==",
            )
            .byte(op::ANSWER)
            .byte(ans::PASSWORD)
            .bytes(b"secret"),
    ));
    v.push(cram(
        "uppercase-hex",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(op::START)
            .op(op::STEP, b"tim B913A602C7EDA7A495B4E6E7334D3890"),
    ));
    v.push(cram(
        "user-with-spaces",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(op::START)
            .op(op::STEP, b"tim smith b913a602c7eda7a495b4e6e7334d3890")
            .byte(op::ANSWER)
            .byte(ans::UNKNOWN_USER),
    ));
    v.push(cram(
        "initial-response",
        Script::new().byte(TLS).byte(0).op(op::START_B64, b"dGlt"),
    ));
    v.push(cram(
        "os-nonce-and-weak-refused",
        Script::new()
            .byte(TLS)
            .byte(2)
            .byte(op::START_B64_NONE)
            .op(op::STEP, b"tim 00000000000000000000000000000000")
            .byte(op::ANSWER)
            .byte(ans::ACCEPT)
            .byte(op::ANSWER)
            .byte(ans::REJECT),
    ));
    v.push(cram(
        "nonce-failure",
        Script::new().byte(TLS).byte(4).byte(op::START),
    ));
    v.push(cram("weak-refused", Script::new().byte(TLS | 8).byte(0)));

    // XOAUTH2: Google's and curl's vectors, the error challenge and its acknowledgement.
    let xo = |name: &str, s: Script| ("server_xoauth2", name.to_owned(), s.into_vec());
    v.push(xo(
        "google-ir",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_B64, b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")
            .byte(op::ANSWER)
            .byte(ans::ACCEPT),
    ));
    v.push(xo(
        "curl-test922-error-challenge",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(
                op::START_B64,
                b"dXNlcj11c2VyAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB",
            )
            .byte(op::ANSWER_B64)
            .byte(ans::TOKEN_ERROR)
            .bytes(b"401")
            .bytes(b"https://mail.google.com/")
            .op(op::STEP_B64, b""),
    ));
    v.push(xo(
        "reject-ack-with-ctrl-a",
        Script::new()
            .byte(TLS)
            .byte(0)
            .byte(op::START)
            .op(
                op::STEP,
                b"user=user\x01auth=Bearer mF_9.B5f-4.1JqM\x01\x01",
            )
            .byte(op::ANSWER)
            .byte(ans::REJECT)
            .op(op::STEP_B64, b"AQ=="),
    ));
    v.push(xo(
        "token-error-escapes",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_IR, b"user=a\x01auth=bearer abc==\x01\x01")
            .byte(op::ANSWER)
            .byte(ans::TOKEN_ERROR)
            .bytes(b"in\"valid\\\n\x01")
            .bytes(b""),
    ));
    v.push(xo(
        "missing-final-ctrl-a",
        Script::new()
            .byte(TLS)
            .byte(0)
            .op(op::START_IR, b"user=a\x01auth=Bearer abc\x01"),
    ));

    // Clients: the challenges of real servers and the RFCs.
    let xerr = b"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";
    let pop_err = b"eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
    let c = |t: &'static str, name: &str, s: Script| (t, name.to_owned(), s.into_vec());
    v.push(c(
        "client_plain",
        "ir-finish",
        Script::new().byte(0).byte(cop::START_B64).byte(cop::FINISH),
    ));
    v.push(c(
        "client_plain",
        "no-ir-empty-challenge",
        Script::new()
            .byte(0)
            .op(cop::STEP_B64, b"")
            .byte(cop::FINISH_DATA)
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
            .byte(cop::START)
            .op(cop::STEP, b"unexpected")
            .byte(cop::FINISH),
    ));
    v.push(c(
        "client_login",
        "xlogin-prompts",
        Script::new()
            .byte(0)
            .byte(cop::START)
            .op(cop::STEP_B64, b"VXNlcm5hbWU6")
            .op(cop::STEP_B64, b"UGFzc3dvcmQ6")
            .byte(cop::FINISH),
    ));
    v.push(c(
        "client_login",
        "draft-prompts-then-extra",
        Script::new()
            .byte(0)
            .op(cop::STEP_B64, b"VXNlciBOYW1lAA==")
            .op(cop::STEP_B64, b"UGFzc3dvcmQA")
            .op(cop::STEP, b"more?")
            .byte(cop::FINISH),
    ));
    v.push(c(
        "client_login",
        "finish-early-with-data",
        Script::new()
            .byte(0)
            .op(cop::STEP, b"Username:")
            .byte(cop::FINISH_DATA)
            .bytes(b"v=x"),
    ));
    v.push(c(
        "client_cram_md5",
        "rfc2195",
        Script::new()
            .byte(0)
            .byte(cop::START)
            .op(
                cop::STEP_B64,
                b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
            )
            .byte(cop::FINISH),
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
            .op(
                cop::STEP_B64,
                b"PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4=",
            )
            .op(cop::STEP, b"again"),
    ));
    v.push(c(
        "client_cram_md5",
        "small-limit-big-challenge",
        Script::new()
            .byte(2)
            .byte(cop::STEP_B64_BIG)
            .bytes(b"QUFB")
            .byte(0)
            .byte(4)
            .op(cop::STEP, b"<x@y>"),
    ));
    v.push(c(
        "client_xoauth2",
        "google-error",
        Script::new()
            .byte(0)
            .byte(cop::START_B64)
            .op(cop::STEP_B64, xerr)
            .byte(cop::FINISH),
    ));
    v.push(c(
        "client_xoauth2",
        "pop-error-no-ir",
        Script::new()
            .byte(0)
            .op(cop::STEP, b"")
            .op(cop::STEP_B64, pop_err)
            .op(cop::STEP, b"{}"),
    ));
    v.push(c(
        "client_xoauth2",
        "json-escapes",
        Script::new()
            .byte(0)
            .byte(cop::START)
            .op(
                cop::STEP,
                br#" { "status" : 400 , "x": null, "y": true, "scope":"a\u0041\n\"", "openid-configuration": "https:\/\/e" } "#,
            )
            .byte(cop::FINISH),
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
            .byte(cop::START)
            .byte(cop::FINISH_DATA)
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
        let all = dflag::TLS | dflag::INITIAL_RESPONSE;
        v.push((
            "differential",
            format!("{name}-clean"),
            base(all).into_vec(),
        ));
        v.push((
            "differential",
            format!("{name}-clean-b64-no-ir"),
            base(dflag::TLS | dflag::BASE64).into_vec(),
        ));
        v.push((
            "differential",
            format!("{name}-mismatch-app-compares"),
            base(all | dflag::MISMATCH | dflag::APP_COMPARES | dflag::KEYS)
                .bytes(b"tanstaaftanstaaF")
                .bytes(b"ya29.other")
                .into_vec(),
        ));
        v.push((
            "differential",
            format!("{name}-mutated"),
            base(all | dflag::BASE64)
                .byte(mutate::FLIP)
                .byte(0x20)
                .byte(5)
                .byte(mutate::TRUNCATE)
                .byte(3)
                .into_vec(),
        ));
        if *m == Mechanism::Plain {
            v.push((
                "differential",
                "plain-authzid-denied".into(),
                Script::new()
                    .byte(i as u8)
                    .byte(all | dflag::DENY_AUTHZ)
                    .bytes(b"Kurt")
                    .bytes(b"Ursel")
                    .bytes(b"xipj3plmq")
                    .bytes(b"")
                    .into_vec(),
            ));
            v.push((
                "differential",
                "plain-replaced-with-stored".into(),
                base(all | dflag::MISMATCH)
                    .bytes(b"other")
                    .bytes(b"")
                    .byte(mutate::REPLACE)
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
