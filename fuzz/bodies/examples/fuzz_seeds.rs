//! Writes the hand-made seed corpus of every fuzz target to `fuzz/corpus/<target>/seed-*`:
//! the RFC vectors of `shared/reference/sasl-reference.md` and the exchanges real clients
//! (swaks, curl, msmtp, gsasl, smtplib) had with a test server (`fuzz/seeds/transcripts.txt`,
//! captured by `fuzz/seeds/capture.py`), in each target's input format.
//!
//! `cargo run -p saslmech-fuzz --example fuzz_seeds` (idempotent; campaign findings, which
//! are named by their hash, are left alone).

use std::fs;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use saslmech::{
    Answer, ClientConfig, ClientSession, Credentials, Mechanism, NonceSource, ScramHash, ScramKeys,
    ServerSession, ServerStep,
};
use saslmech_fuzz::{
    AdapterClientLine, AdapterServerOperation, AnswerKind, CB_EXPORTER, ClientOperation,
    DEFAULT_PASSWORD, DEFAULT_TOKEN, MECHANISMS, Mutation, Script, ServerOperation,
    channel_binding, differential_binding, differential_flag, server_config,
};

/// Server config byte `a`: TLS and success data, default limits.
const TLS: u8 = 0b0000_0011;

/// `fuzz/`: this crate lives in `fuzz/bodies/`.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() {
    let root = fuzz_dir().join("corpus");
    let transcripts = fs::read_to_string(fuzz_dir().join("seeds/transcripts.txt"))
        .expect("fuzz/seeds/transcripts.txt");
    let mut n = 0;
    let mut all = seeds(&transcripts);
    all.extend(new_seeds(&transcripts));
    all.extend(capi_seeds());
    for (target, name, data) in all {
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

/// An answer a seed gives, both as target input and as the engine's answer.
#[derive(Clone)]
enum A {
    Accept,
    Reject,
    Password(Vec<u8>),
    /// Hash byte, password, salt, iteration byte (as `AnswerKind::ScramKeys` reads them).
    Keys(u8, Vec<u8>, Vec<u8>, u8),
    Owner(String),
}

impl A {
    fn write(&self, s: Script) -> Script {
        match self {
            A::Accept => s.byte(AnswerKind::Accept),
            A::Reject => s.byte(AnswerKind::Reject),
            A::Password(p) => s.byte(AnswerKind::Password).bytes(p),
            A::Keys(h, p, salt, i) => s
                .byte(AnswerKind::ScramKeys)
                .byte(*h)
                .bytes(p)
                .bytes(salt)
                .byte(*i),
            A::Owner(o) => s.byte(AnswerKind::TokenOwner).bytes(o.as_bytes()),
        }
    }
    fn keys(&self) -> Option<ScramKeys> {
        match self {
            A::Keys(h, p, salt, i) => {
                let hash = if h & 1 == 0 {
                    ScramHash::Sha1
                } else {
                    ScramHash::Sha256
                };
                ScramKeys::derive(hash, p, salt, u32::from(i % 16) + 1).ok()
            }
            _ => None,
        }
    }
}

/// A server-target input replaying the engine's own client against the server the target
/// builds from config bytes `a`, `b`: the client's messages as operations (base64 or raw),
/// each request answered with the next of `answers` (the last one repeats).
fn engine_exchange(
    m: Mechanism,
    a: u8,
    b: u8,
    creds: &Credentials<'_>,
    cc: &ClientConfig,
    b64: bool,
    answers: &[A],
) -> Vec<u8> {
    let (config, transport) = server_config(a, b);
    let config = Arc::new(config);
    let mut s = Script::new().byte(a).byte(b);
    let Ok(mut server) = ServerSession::new(&config, m, &transport) else {
        return s.into_vec();
    };
    let Ok(mut client) = ClientSession::with_config(m, creds, cc) else {
        return s.into_vec();
    };
    let ir = if b64 {
        client.start_b64().unwrap().map(<[u8]>::to_vec)
    } else {
        client.start().unwrap().map(<[u8]>::to_vec)
    };
    let mut step = match &ir {
        Some(ir) if b64 => {
            s = s.operation(ServerOperation::StartBase64, ir);
            server.start_b64(Some(ir))
        }
        Some(ir) => {
            s = s.operation(ServerOperation::StartInitialResponse, ir);
            server.start(Some(ir))
        }
        None if b64 => {
            s = s.byte(ServerOperation::StartBase64None);
            server.start_b64(None)
        }
        None => {
            s = s.byte(ServerOperation::Start);
            server.start(None)
        }
    };
    let mut n = 0;
    for _ in 0..10 {
        match step.unwrap() {
            ServerStep::Challenge(c) => {
                let c = c.to_vec();
                let r = if b64 {
                    client.step_b64(&c)
                } else {
                    client.step(&c)
                };
                let Ok(r) = r.map(<[u8]>::to_vec) else { break };
                s = s.operation(
                    if b64 {
                        ServerOperation::StepBase64
                    } else {
                        ServerOperation::Step
                    },
                    &r,
                );
                step = if b64 {
                    server.step_b64(&r)
                } else {
                    server.step(&r)
                };
            }
            ServerStep::Request(_) => {
                let a = answers[n.min(answers.len() - 1)].clone();
                n += 1;
                s = s.byte(if b64 {
                    ServerOperation::AnswerBase64
                } else {
                    ServerOperation::Answer
                });
                s = a.write(s);
                let keys = a.keys();
                let answer = match &a {
                    A::Accept => Answer::Accept,
                    A::Reject => Answer::Reject,
                    A::Password(p) => Answer::Password(p),
                    A::Keys(..) => match &keys {
                        Some(k) => Answer::ScramKeys(k),
                        None => Answer::UnknownUser,
                    },
                    A::Owner(o) => Answer::TokenOwner(o),
                };
                step = if b64 {
                    server.answer_b64(answer)
                } else {
                    server.answer(answer)
                };
            }
            _ => break,
        }
    }
    s.into_vec()
}

fn new_seeds(transcripts: &str) -> Vec<(&'static str, String, Vec<u8>)> {
    let mut v: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
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

    // Protocol adapters, server side: real clients' SMTP lines (the transcripts), the RFC
    // examples for IMAP and POP3, answered with the stored password.
    let clients = {
        let mut out = Vec::new();
        for line in transcripts.lines() {
            let mut it = line.splitn(4, ' ');
            if let (Some(c), Some(mech), Some("C"), Some(text)) =
                (it.next(), it.next(), it.next(), it.next())
            {
                if text.starts_with("AUTH ") {
                    out.push((c.to_owned(), mech.to_owned(), vec![text.to_owned()]));
                } else if let Some(last) = out.last_mut() {
                    last.2.push(text.to_owned());
                }
            }
        }
        out
    };
    for (client, mech, lines) in &clients {
        for (target, proto) in [("smtp_server", 0), ("imap_server", 1), ("pop3_server", 2)] {
            let mut s = Script::new().byte(tls_data).byte(0).byte(4);
            for (k, l) in lines.iter().enumerate() {
                let l = if k == 0 && proto == 1 {
                    format!("a1 AUTHENTICATE {}", &l[5..])
                } else {
                    l.clone()
                };
                let l = format!("{l}\r\n");
                s = s.operation(
                    if k == 0 {
                        AdapterServerOperation::Command
                    } else {
                        AdapterServerOperation::Line
                    },
                    l.as_bytes(),
                );
                if k == 0 && (mech == "PLAIN" || mech == "XOAUTH2") && lines.len() == 1 {
                    break;
                }
            }
            s = if mech == "XOAUTH2" {
                s.byte(AdapterServerOperation::Answer)
                    .byte(AnswerKind::Accept)
            } else {
                s.byte(AdapterServerOperation::Answer)
                    .byte(AnswerKind::Password)
                    .bytes(DEFAULT_PASSWORD)
            };
            // A second AUTH after success.
            s = s.operation(AdapterServerOperation::Command, b"AUTH PLAIN =\r\n");
            v.push((
                target,
                format!("{client}-{}", mech.to_lowercase()),
                s.into_vec(),
            ));
        }
    }
    let imap = "imap_server";
    v.push((imap, "rfc7628-oauthbearer".into(), Script::new().byte(tls_data).byte(0).byte(4).operation(AdapterServerOperation::Command, b"t1 AUTHENTICATE OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB\r\n").byte(AdapterServerOperation::Answer).byte(AnswerKind::Accept).into_vec()));
    v.push((imap, "rfc7628-scope".into(), Script::new().byte(tls_data).byte(0).byte(4).operation(AdapterServerOperation::Command, b"t1 AUTHENTICATE OAUTHBEARER bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9AQE=\r\n").byte(AdapterServerOperation::Answer).byte(AnswerKind::TokenError).bytes(b"invalid_token").bytes(b"example_scope").operation(AdapterServerOperation::Line, b"AQ==\r\n").into_vec()));
    v.push((
        imap,
        "rfc4959-external".into(),
        Script::new()
            .byte(tls_data)
            .byte(0x20)
            .byte(4)
            .operation(
                AdapterServerOperation::Command,
                b"A01 AUTHENTICATE EXTERNAL =\r\n",
            )
            .into_vec(),
    ));
    v.push((
        imap,
        "rfc4505-anonymous".into(),
        Script::new()
            .byte(0)
            .byte(0)
            .byte(4)
            .operation(
                AdapterServerOperation::Command,
                b"A002 AUTHENTICATE ANONYMOUS\r\n",
            )
            .operation(AdapterServerOperation::Line, b"c2lyaGM=\r\n")
            .into_vec(),
    ));
    v.push((imap, "xoauth2-google-failure".into(), Script::new().byte(tls_data).byte(0).byte(4).operation(AdapterServerOperation::Command, b"A01 AUTHENTICATE XOAUTH2 dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n").byte(AdapterServerOperation::Answer).byte(AnswerKind::Reject).operation(AdapterServerOperation::Line, b"\r\n").into_vec()));
    v.push((
        imap,
        "bad-tag".into(),
        Script::new()
            .byte(0)
            .byte(0)
            .byte(0)
            .operation(AdapterServerOperation::Command, b"* AUTHENTICATE PLAIN\r\n")
            .operation(AdapterServerOperation::Command, b"a1 LOGIN x y\r\n")
            .into_vec(),
    ));
    for (target, cmd) in [("smtp_server", "AUTH"), ("pop3_server", "AUTH")] {
        v.push((
            target,
            "rfc4954-edge".into(),
            Script::new()
                .byte(tls_data)
                .byte(0)
                .byte(5)
                .operation(
                    AdapterServerOperation::Command,
                    format!("{cmd} CRAM-MD5 dGlt\r\n").as_bytes(),
                )
                .operation(
                    AdapterServerOperation::Command,
                    format!("{cmd} PLAIN\r\n").as_bytes(),
                )
                .operation(AdapterServerOperation::Line, b"=AAA\r\n")
                .operation(
                    AdapterServerOperation::Command,
                    format!("{cmd}\r\n").as_bytes(),
                )
                .operation(
                    AdapterServerOperation::Command,
                    format!("{cmd} LOGIN\r\n").as_bytes(),
                )
                .byte(AdapterServerOperation::Cancel)
                .byte(AdapterServerOperation::LineBig)
                .bytes(b"A")
                .byte(0)
                .byte(8)
                .into_vec(),
        ));
        v.push((
            target,
            "external".into(),
            Script::new()
                .byte(tls_data)
                .byte(0x20)
                .byte(4)
                .operation(
                    AdapterServerOperation::Command,
                    format!("{cmd} EXTERNAL =\r\n").as_bytes(),
                )
                .into_vec(),
        ));
    }
    // SCRAM through the adapters: each mechanism named by index, lines as base64.
    for target in ["smtp_server", "imap_server", "pop3_server"] {
        v.push((
            target,
            "scram-keys".into(),
            A::Keys(1, pencil.clone(), b"salt".to_vec(), 3)
                .write(
                    Script::new()
                        .byte(tls_data)
                        .byte(b_none)
                        .byte(4)
                        .byte(AdapterServerOperation::AuthBase64)
                        .byte(1)
                        .bytes(b"n,,n=user,r=abc")
                        .byte(AdapterServerOperation::Answer),
                )
                .byte(AdapterServerOperation::LineBase64)
                .bytes(b"c=biws,r=abc1896.697170952,p=AAAA")
                .into_vec(),
        ));
        v.push((
            target,
            "tls-reset".into(),
            Script::new()
                .byte(0)
                .byte(0)
                .byte(1)
                .byte(AdapterServerOperation::Auth)
                .byte(7)
                .bytes(b"")
                .byte(AdapterServerOperation::SetTls)
                .byte(1)
                .byte(AdapterServerOperation::Auth)
                .byte(7)
                .bytes(b"")
                .byte(AdapterServerOperation::LineBase64)
                .bytes(b"\0tim\0pw")
                .byte(AdapterServerOperation::Answer)
                .byte(AnswerKind::UnknownUser)
                .byte(AdapterServerOperation::Reset)
                .into_vec(),
        ));
    }

    // Protocol adapters, client side: the servers' replies of the transcripts, the RFCs'.
    for (target, proto) in [("smtp_client", 0), ("imap_client", 1), ("pop3_client", 2)] {
        let success = |s: Script| s.byte(AdapterClientLine::Success).byte(1);
        for (k, m) in saslmech::ALL_MECHANISMS.iter().enumerate() {
            let name = m.name().to_lowercase();
            // Straight to success (client-first mechanisms with an initial response).
            v.push((
                target,
                format!("{name}-success"),
                success(Script::new().byte(k as u8).byte(1 | 0x10)).into_vec(),
            ));
            // An empty challenge first (no initial response), then failure.
            v.push((
                target,
                format!("{name}-no-ir-failure"),
                Script::new()
                    .byte(k as u8)
                    .byte(0x10)
                    .byte(AdapterClientLine::Challenge)
                    .bytes(b"")
                    .byte(1)
                    .byte(AdapterClientLine::Failure)
                    .byte(135)
                    .bytes(b"5.7.8 Authentication credentials invalid")
                    .byte(1)
                    .into_vec(),
            ));
        }
        let login = 8u8; // index of LOGIN in ALL_MECHANISMS
        v.push((
            target,
            "login-prompts".into(),
            success(
                Script::new()
                    .byte(login)
                    .byte(0)
                    .byte(AdapterClientLine::Challenge)
                    .bytes(b"Username:")
                    .byte(1)
                    .byte(AdapterClientLine::Challenge)
                    .bytes(b"Password:")
                    .byte(0),
            )
            .into_vec(),
        ));
        v.push((
            target,
            "cram-rfc2195".into(),
            success(
                Script::new()
                    .byte(6)
                    .byte(0)
                    .byte(AdapterClientLine::Challenge)
                    .bytes(b"<1896.697170952@postoffice.reston.mci.net>")
                    .byte(1),
            )
            .into_vec(),
        ));
        v.push((target, "xoauth2-error".into(), Script::new().byte(5).byte(1).byte(AdapterClientLine::Line).bytes(if proto == 0 { b"334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K" } else { b"+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K" }).byte(1).byte(AdapterClientLine::More).bytes(b"5.7.1 Username and Password not accepted. Learn more at").byte(1).byte(AdapterClientLine::Failure).byte(135).bytes(b"5.7.1 https://support.google.com/mail/?p=BadCredentials").byte(1).into_vec()));
        v.push((
            target,
            "garbage".into(),
            Script::new()
                .byte(7)
                .byte(4)
                .byte(AdapterClientLine::Line)
                .bytes(b"\xff\x00 hello")
                .byte(0)
                .byte(AdapterClientLine::Line)
                .bytes(b"235 late")
                .byte(1)
                .into_vec(),
        ));
        v.push((
            target,
            "big".into(),
            Script::new()
                .byte(7)
                .byte(0x40)
                .byte(AdapterClientLine::Big)
                .bytes(b"334 A")
                .byte(1)
                .byte(0)
                .byte(1)
                .byte(AdapterClientLine::More)
                .bytes(b"x")
                .byte(0)
                .into_vec(),
        ));
    }

    // The C API: a PLAIN server exchange, a SCRAM client, adapters, base64.
    v.push((
        "capi",
        "plain-server".into(),
        Script::new()
            .byte(0)
            .byte(1)
            .byte(1)
            .byte(1)
            .byte(0)
            .bytes(b"\0tim\0pw")
            .byte(5)
            .byte(0)
            .byte(4)
            .byte(5)
            .bytes(b"pw")
            .byte(5)
            .byte(0x80)
            .byte(2)
            .byte(0)
            .bytes(b"")
            .into_vec(),
    ));
    v.push((
        "capi",
        "scram-client".into(),
        Script::new()
            .byte(8)
            .byte(0)
            .bytes(b"user")
            .byte(8)
            .byte(2)
            .bytes(b"pencil")
            .byte(9)
            .byte(7)
            .byte(0)
            .byte(10)
            .byte(0)
            .byte(11)
            .byte(0)
            .bytes(rfc256.0)
            .byte(12)
            .byte(1)
            .bytes(rfc256.1)
            .into_vec(),
    ));
    v.push((
        "capi",
        "smtp-adapter".into(),
        Script::new()
            .byte(15)
            .byte(8)
            .byte(16)
            .byte(0)
            .bytes(b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
            .byte(18)
            .byte(3)
            .bytes(DEFAULT_PASSWORD)
            .byte(16)
            .byte(0)
            .bytes(b"AUTH LOGIN\r\n")
            .into_vec(),
    ));
    v.push((
        "capi",
        "scram-server-keys".into(),
        Script::new()
            .byte(14)
            .byte(2)
            .bytes(b"pencil")
            .bytes(b"salt")
            .byte(2)
            .byte(0)
            .byte(7)
            .byte(1)
            .byte(1)
            .byte(0)
            .bytes(b"n,,n=user,r=abc")
            .byte(4)
            .byte(7)
            .bytes(b"")
            .byte(5)
            .byte(0)
            .byte(3)
            .byte(0)
            .bytes(b"c=biws,r=abc,p=AAAA")
            .into_vec(),
    ));
    v.push((
        "capi",
        "b64-nulls".into(),
        Script::new()
            .byte(19)
            .byte(0)
            .bytes(b"hello")
            .byte(8)
            .byte(19)
            .byte(1)
            .bytes(b"aGVsbG8=")
            .byte(1)
            .byte(3)
            .byte(0x80)
            .bytes(b"abc")
            .byte(5)
            .byte(0x80)
            .into_vec(),
    ));
    v
}

/// A SCRAM-SHA-256 exchange of the engine's own client (nonce `clinonce`, user `user`,
/// password `pencil`) and server (nonce `srvnonce`, keys with salt `saltsalt` and 2
/// iterations): (server-first, server-final), raw.
fn capi_scram_messages() -> (Vec<u8>, Vec<u8>) {
    let keys = ScramKeys::derive(ScramHash::Sha256, b"pencil", b"saltsalt", 2).unwrap();
    let config = Arc::new(
        saslmech::ServerConfig::new().nonce_source(NonceSource::Fixed(b"srvnonce".to_vec())),
    );
    let transport = saslmech::Transport::tls().with_success_data(true);
    let mut server = ServerSession::new(&config, Mechanism::ScramSha256, &transport).unwrap();
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let cc = ClientConfig::default()
        .scram_iterations(1, 64)
        .nonce_source(NonceSource::Fixed(b"clinonce".to_vec()));
    let mut client = ClientSession::with_config(Mechanism::ScramSha256, &creds, &cc).unwrap();
    let ir = client.start().unwrap().unwrap().to_vec();
    assert!(matches!(
        server.start(Some(&ir)).unwrap(),
        ServerStep::Request(_)
    ));
    let first = match server.answer(Answer::ScramKeys(&keys)).unwrap() {
        ServerStep::Challenge(c) => c.to_vec(),
        other => panic!("{other:?}"),
    };
    let cf = client.step(&first).unwrap().to_vec();
    let last = match server.step(&cf).unwrap() {
        ServerStep::Success(s) => s.data.unwrap().to_vec(),
        other => panic!("{other:?}"),
    };
    (first, last)
}

/// Seeds for the C API target's operations 20 and up (see `src/capi/`).
fn capi_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use saslmech::b64::encode;
    let mut v: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let (first, last) = capi_scram_messages();
    // Credentials `user`/`pencil` and the client nonce `clinonce` (op 8, op 24).
    let user = || {
        Script::new()
            .byte(8)
            .byte(0)
            .bytes(b"user")
            .byte(8)
            .byte(2)
            .bytes(b"pencil")
            .byte(24)
            .byte(1)
            .bytes(b"clinonce")
            .byte(0)
            .byte(0)
    };
    // The engine's SCRAM-SHA-256 client to success, its cache into the credentials, and a
    // second login that uses it.
    let mut s = user();
    for _ in 0..2 {
        s = s
            .byte(9)
            .byte(7)
            .byte(0)
            .byte(10)
            .byte(0)
            .byte(11)
            .byte(0)
            .bytes(&first)
            .byte(12)
            .byte(1)
            .bytes(&last)
            .byte(26)
            .byte(0)
            .byte(20)
            .byte(1)
            .byte(20)
            .byte(3)
            .byte(20)
            .byte(2);
    }
    v.push(("capi", "scram-client-cache".into(), s.into_vec()));
    // A cache from a SaltedPassword (op 20, sel 0), its parameters, into the credentials.
    v.push((
        "capi",
        "cache-from-salted".into(),
        Script::new()
            .byte(20)
            .byte(0)
            .byte(2)
            .bytes(&[7; 32])
            .bytes(b"saltsalt")
            .byte(2)
            .byte(20)
            .byte(3)
            .byte(20)
            .byte(0x83)
            .byte(1)
            .byte(20)
            .byte(2)
            .into_vec(),
    ));
    // The IMAP client adapter through the same SCRAM exchange (op 30 with a config).
    v.push((
        "capi",
        "imap-client-scram".into(),
        user()
            .byte(30)
            .byte(0x21)
            .byte(7)
            .bytes(b"")
            .byte(32)
            .byte(0)
            .byte(33)
            .byte(0x40)
            .bytes(format!("+ {}", encode(&first)).as_bytes())
            .byte(33)
            .byte(0x40)
            .bytes(format!("+ {}", encode(&last)).as_bytes())
            .byte(33)
            .byte(0x40)
            .bytes(b"a1 OK AUTHENTICATE completed")
            .byte(33)
            .byte(0)
            .bytes(b"a1 OK again")
            .into_vec(),
    ));
    // SMTP PLAIN with a line limit too short for the initial response; POP3 LOGIN without an
    // initial response; an IMAP client with a tag from the input.
    v.push((
        "capi",
        "smtp-pop3-clients".into(),
        Script::new()
            .byte(8)
            .byte(0)
            .bytes(b"tim")
            .byte(8)
            .byte(2)
            .bytes(b"tanstaaftanstaaf")
            .byte(30)
            .byte(0)
            .byte(1)
            .bytes(b"")
            .byte(31)
            .byte(1)
            .byte(0)
            .byte(16)
            .byte(32)
            .byte(0)
            .byte(33)
            .byte(0x40)
            .bytes(b"334 ")
            .byte(33)
            .byte(0x40)
            .bytes(b"250-2.7.0 fine")
            .byte(33)
            .byte(0x40)
            .bytes(b"235 2.7.0 Authentication successful")
            .byte(30)
            .byte(2)
            .byte(2)
            .bytes(b"")
            .byte(31)
            .byte(0)
            .byte(0)
            .byte(0)
            .byte(32)
            .byte(0)
            .byte(33)
            .byte(0x40)
            .bytes(b"+ VXNlcm5hbWU6")
            .byte(33)
            .byte(0x40)
            .bytes(b"+ UGFzc3dvcmQ6")
            .byte(33)
            .byte(0x40)
            .bytes(b"-ERR [SYS/TEMP] later")
            .byte(30)
            .byte(0x41)
            .byte(3)
            .bytes(b"A0001")
            .byte(32)
            .byte(0)
            .byte(33)
            .byte(0)
            .bytes(b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
            .byte(33)
            .byte(0x40)
            .bytes(b"A0001 NO [AUTHENTICATIONFAILED] no")
            .into_vec(),
    ));
    // The SMTP server adapter with TLS: replies, channel binding, external identity, a
    // temporary failure, XOAUTH2 token error, OAUTHBEARER with host and port, ANONYMOUS with a
    // trace, queries after each, a line limit, reset, TLS off.
    let plain = encode(b"\0tim\0wrong");
    let xoauth = encode(b"user=tim\x01auth=Bearer tok\x01\x01");
    let oauthbearer =
        encode(b"n,a=tim,\x01host=mail.example\x01port=587\x01auth=Bearer tok\x01\x01");
    let anonymous = encode(b"tim@example.org");
    v.push((
        "capi",
        "smtp-server-adapter".into(),
        Script::new()
            .byte(15)
            .byte(0x18)
            .byte(27)
            .byte(4)
            .bytes(b"535 5.7.8 Nope")
            .byte(0)
            .byte(2)
            .byte(27)
            .byte(0)
            .bytes(&[9; 32])
            .byte(0)
            .byte(3)
            .byte(27)
            .byte(1)
            .bytes(b"CN=tim")
            .byte(0)
            .byte(0)
            .byte(28)
            .byte(0)
            .byte(16)
            .byte(0)
            .bytes(format!("AUTH PLAIN {plain}\r\n").as_bytes())
            .byte(28)
            .byte(0)
            .byte(29)
            .byte(2)
            .bytes(b"")
            .bytes(b"")
            .byte(28)
            .byte(0)
            .byte(16)
            .byte(0)
            .bytes(format!("AUTH XOAUTH2 {xoauth}").as_bytes())
            .byte(28)
            .byte(0)
            .byte(29)
            .byte(5)
            .bytes(b"401")
            .bytes(b"")
            .byte(17)
            .byte(0)
            .bytes(b"")
            .byte(28)
            .byte(0)
            .byte(16)
            .byte(0)
            .bytes(format!("AUTH OAUTHBEARER {oauthbearer}").as_bytes())
            .byte(28)
            .byte(0)
            .byte(29)
            .byte(4)
            .bytes(b"tim")
            .bytes(b"")
            .byte(28)
            .byte(0)
            .byte(27)
            .byte(2)
            .bytes(b"")
            .byte(0)
            .byte(0)
            .byte(16)
            .byte(0)
            .bytes(format!("AUTH ANONYMOUS {anonymous}").as_bytes())
            .byte(28)
            .byte(0)
            .byte(28)
            .byte(0x80)
            .byte(27)
            .byte(3)
            .bytes(b"")
            .byte(1)
            .byte(0)
            .byte(27)
            .byte(5)
            .bytes(b"")
            .byte(0)
            .byte(0)
            .byte(28)
            .byte(0)
            .into_vec(),
    ));
    // The IMAP server adapter: CRAM-MD5 answered with precomputed keys (op 35 derives them,
    // op 29 answers with them), OAUTHBEARER's error with a scope.
    v.push((
        "capi",
        "imap-server-answers".into(),
        Script::new()
            .byte(21)
            .byte(0)
            .bytes(b"postoffice.reston.mci.net")
            .byte(0)
            .byte(0)
            .byte(21)
            .byte(6)
            .bytes(b"1896.697170952")
            .byte(0)
            .byte(0)
            .byte(35)
            .byte(0)
            .bytes(b"tanstaaftanstaaf")
            .byte(0)
            .byte(15)
            .byte(1)
            .byte(16)
            .byte(0)
            .bytes(b"a1 AUTHENTICATE CRAM-MD5")
            .byte(17)
            .byte(0)
            .bytes(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
            .byte(28)
            .byte(0)
            .byte(29)
            .byte(0x43)
            .bytes(b"")
            .bytes(b"")
            .byte(28)
            .byte(0)
            .byte(16)
            .byte(0)
            .bytes(format!("a2 AUTHENTICATE OAUTHBEARER {oauthbearer}").as_bytes())
            .byte(29)
            .byte(6)
            .bytes(b"invalid_token")
            .bytes(b"mail")
            .byte(17)
            .byte(0)
            .bytes(b"AQ==")
            .byte(28)
            .byte(0)
            .byte(29)
            .byte(0)
            .bytes(b"")
            .bytes(b"")
            .into_vec(),
    ));
    // Server configuration setters and queries, credentials host/port, client settings.
    v.push((
        "capi",
        "config".into(),
        Script::new()
            .byte(21)
            .byte(0)
            .bytes(b"mail.example.org")
            .byte(0)
            .byte(0)
            .byte(21)
            .byte(1)
            .bytes(b"")
            .byte(4)
            .byte(0)
            .byte(21)
            .byte(3)
            .bytes(b"")
            .byte(0)
            .byte(20)
            .byte(21)
            .byte(6)
            .bytes(b"<1896.697170952@postoffice.reston.mci.net>")
            .byte(0)
            .byte(0)
            .byte(21)
            .byte(6)
            .bytes(b"1896.697170952")
            .byte(0)
            .byte(0)
            .byte(21)
            .byte(7)
            .bytes(b"cluster secret")
            .byte(0)
            .byte(0)
            .byte(21)
            .byte(8)
            .bytes(b"https://example.org/.well-known/openid-configuration")
            .byte(0)
            .byte(0)
            .byte(21)
            .byte(0x24)
            .bytes(b"")
            .byte(0)
            .byte(0)
            .byte(22)
            .byte(0)
            .byte(0)
            .byte(22)
            .byte(0)
            .byte(1)
            .byte(22)
            .byte(0)
            .byte(0x19)
            .byte(22)
            .byte(0)
            .byte(0x20)
            .byte(22)
            .byte(0x80)
            .byte(0)
            .byte(23)
            .byte(0)
            .bytes(b"mail.example.org")
            .byte(0)
            .byte(0)
            .byte(23)
            .byte(1)
            .bytes(b"")
            .byte(2)
            .byte(0x4b)
            .byte(24)
            .byte(0)
            .bytes(b"")
            .byte(1)
            .byte(0)
            .byte(24)
            .byte(2)
            .bytes(b"")
            .byte(0)
            .byte(0)
            .byte(25)
            .byte(1)
            .byte(1)
            .byte(1)
            .byte(4)
            .byte(26)
            .byte(0)
            .into_vec(),
    ));
    // Capability parsers.
    v.push((
        "capi",
        "capabilities".into(),
        Script::new()
            .byte(34)
            .byte(0)
            .bytes(b"250-mail.example.org\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 AUTH=PLAIN XOAUTH2\r\n")
            .byte(12)
            .byte(34)
            .byte(1)
            .bytes(b"* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=SCRAM-SHA-256 AUTH=plain")
            .byte(255)
            .byte(34)
            .byte(2)
            .bytes(b"+OK\r\nUSER\r\nSASL PLAIN SCRAM-SHA-1 OAUTHBEARER\r\n.\r\n")
            .byte(5)
            .byte(34)
            .byte(3)
            .bytes(b"* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN]")
            .byte(0)
            .into_vec(),
    ));
    // Key helpers: CRAM-MD5 from a password and Dovecot's form, SCRAM keys generated and
    // parsed from RFC 5803.
    let rfc5803 = ScramKeys::derive(ScramHash::Sha1, b"pencil", b"saltsalt", 3)
        .unwrap()
        .to_rfc5803();
    v.push((
        "capi",
        "keys".into(),
        Script::new()
            .byte(35)
            .byte(0)
            .bytes(b"tanstaaftanstaaf")
            .byte(1)
            .byte(35)
            .byte(1)
            .bytes(b"{CRAM-MD5}e0c5bfd0e6d9e2d3f3f5b6a7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091")
            .byte(0)
            .byte(35)
            .byte(2)
            .bytes(b"pencil")
            .byte(6)
            .byte(35)
            .byte(3)
            .bytes(rfc5803.as_bytes())
            .byte(0)
            .byte(35)
            .byte(4)
            .bytes(b"")
            .byte(0)
            .byte(35)
            .byte(0x84)
            .bytes(b"")
            .byte(1)
            .into_vec(),
    ));
    // Stateless helpers.
    v.push((
        "capi",
        "stateless".into(),
        Script::new()
            .byte(36)
            .byte(0)
            .bytes(b"")
            .byte(0)
            .byte(36)
            .byte(1)
            .bytes(b"")
            .byte(7)
            .byte(36)
            .byte(2)
            .bytes(b"")
            .byte(6)
            .byte(36)
            .byte(3)
            .bytes(b"scram-sha-256-plus")
            .byte(0)
            .byte(36)
            .byte(4)
            .bytes(b"")
            .byte(0)
            .byte(36)
            .byte(5)
            .bytes(b"PLAIN LOGIN\tSCRAM-SHA-256 CRAM-MD5 X-UNKNOWN")
            .byte(0x0d)
            .byte(36)
            .byte(7)
            .bytes(b"secret")
            .byte(0)
            .bytes(b"secreT")
            .byte(36)
            .byte(0x47)
            .bytes(b"digest")
            .byte(0)
            .into_vec(),
    ));
    v
}
