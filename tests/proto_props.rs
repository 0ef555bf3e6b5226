//! Random bytes into every adapter, server and client side, in every state: no panic, and
//! the adapters stay usable.

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::proto::imap::{ImapClient, ImapServer};
use saslmech::proto::pop3::{Pop3Client, Pop3Server};
use saslmech::proto::smtp::{SmtpClient, SmtpServer};
use saslmech::proto::{ClientEvent, ServerEvent};
use saslmech::{
    ALL_MECHANISMS, Answer, ChannelBindingType, ClientConfig, Credentials, Error, Mechanism,
    ScramHash, ScramKeys, ServerConfig, TokenError, Transport,
};
use std::sync::LazyLock;

/// Inputs that reach deep states more often than uniform bytes do.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "[A-Za-z0-9+/=* ]{0,40}".prop_map(String::into_bytes),
        prop::sample::select(vec![
            "AUTH PLAIN",
            "AUTH LOGIN",
            "AUTH CRAM-MD5",
            "AUTH XOAUTH2",
            "AUTH PLAIN =",
            "AUTH LOGIN dGlt",
            "AUTH PLAIN AHRpbQB0aW0=",
            "*",
            "",
            "=",
            "dGlt",
            "AA==",
            "a AUTHENTICATE PLAIN",
            "a AUTHENTICATE LOGIN",
            "a AUTHENTICATE XOAUTH2 =",
            "334 ",
            "334 VXNlcm5hbWU6",
            "235 ok",
            "535-x",
            "535 x",
            "+ ",
            "+OK",
            "-ERR [AUTH]",
            "a OK",
            "a NO x",
            "* OK",
            "+ eyJzdGF0dXMiOiI0MDEifQ==",
            "dXNlcj10aW0BYXV0aD1CZWFyZXIgeHgBAQ==",
            // The later mechanisms: SCRAM client-firsts (plain, `y`, bound), OAUTHBEARER,
            // EXTERNAL, ANONYMOUS, and acknowledgements.
            "AUTH SCRAM-SHA-256 biwsbj10aW0scj1hYmNkZWZnaA==",
            "AUTH SCRAM-SHA-1 eSwsbj10aW0scj1hYmNkZWZnaA==",
            "AUTH SCRAM-SHA-256-PLUS cD10bHMtZXhwb3J0ZXIsLG49dGltLHI9YWJjZGVmZ2g=",
            "a AUTHENTICATE SCRAM-SHA-1-PLUS",
            "biwsbj10aW0scj1hYmNkZWZnaA==",
            "AUTH OAUTHBEARER bixhPXRpbSwBYXV0aD1CZWFyZXIgeHgBAQ==",
            "AUTH OAUTHBEARER",
            "AQ==",
            "AUTH EXTERNAL =",
            "AUTH EXTERNAL dGlt",
            "AUTH ANONYMOUS dGlt",
            "a AUTHENTICATE ANONYMOUS",
            "334 cj1hYmNkZWZnaHh5eixzPVFTWENSK1E2c2VrOGJmOTIsaT00MDk2",
            "334 dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9",
            "+ eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Command(Vec<u8>),
    Line(Vec<u8>),
    Answer(u8),
    Tls(bool),
    /// TLS with channel-binding data and an external identity.
    Transport,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        line().prop_map(Op::Command),
        line().prop_map(Op::Line),
        any::<u8>().prop_map(Op::Answer),
        any::<bool>().prop_map(Op::Tls),
        Just(Op::Transport),
    ]
}

static KEYS_SHA1: LazyLock<ScramKeys> =
    LazyLock::new(|| ScramKeys::generate(ScramHash::Sha1, b"tim", 64).unwrap());
static KEYS_SHA256: LazyLock<ScramKeys> =
    LazyLock::new(|| ScramKeys::generate(ScramHash::Sha256, b"tim", 64).unwrap());

fn answer(n: u8) -> Answer<'static> {
    match n % 12 {
        0 => Answer::Accept,
        1 => Answer::Reject,
        2 => Answer::UnknownUser,
        3 => Answer::TemporaryFailure,
        4 => Answer::Password(b"tim"),
        5 => Answer::AccountDisabled,
        6 => Answer::ScramKeys(&KEYS_SHA1),
        7 => Answer::ScramKeys(&KEYS_SHA256),
        8 => Answer::TokenOwner("tim"),
        9 => Answer::TokenError(TokenError {
            status: "invalid_token",
            scope: Some("mail"),
        }),
        10 => Answer::TokenOwner(""),
        _ => Answer::Password(b""),
    }
}

fn transport() -> Transport {
    Transport::tls()
        .with_channel_binding(ChannelBindingType::TlsExporter, &[7; 32])
        .with_external_identity("tim")
}

fn check(ev: Result<ServerEvent, Error>) {
    if let Ok(ev) = ev
        && let Some(reply) = ev.reply()
    {
        // Every reply is CRLF-terminated, with no bare CR or LF inside a line.
        assert!(reply.ends_with(b"\r\n"));
        for l in reply[..reply.len() - 2].split(|b| *b == b'\n') {
            assert!(!l.strip_suffix(b"\r").unwrap_or(l).contains(&b'\r'));
        }
    }
}

macro_rules! drive_server {
    ($s:expr, $ops:expr) => {
        for op in $ops {
            match op {
                Op::Command(l) => check($s.command(&l)),
                Op::Line(l) => check($s.line(&l)),
                Op::Answer(n) => check($s.answer(answer(n))),
                Op::Tls(t) => $s.set_tls(t),
                Op::Transport => $s.set_transport(transport()),
            }
        }
    };
}

fn creds(m: Mechanism) -> Credentials<'static> {
    let c = Credentials::new().authcid("tim");
    match m {
        Mechanism::External => Credentials::new(),
        Mechanism::Anonymous => Credentials::new().trace("tim"),
        _ if m.uses_token() => c.token(b"tok"),
        _ => c.password(b"pw"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn servers_never_panic(ops in proptest::collection::vec(op(), 0..24)) {
        let config = Arc::new(ServerConfig::new().mechanisms(ALL_MECHANISMS).scram_iterations(64));
        let mut smtp = SmtpServer::new(config.clone());
        drive_server!(smtp, ops.clone());
        let mut imap = ImapServer::new(config.clone());
        drive_server!(imap, ops.clone());
        let mut pop3 = Pop3Server::new(config);
        drive_server!(pop3, ops);
        // Still usable: a fresh exchange can begin (or is refused as already authenticated).
        smtp.reset();
        prop_assert!(smtp.command(b"AUTH CRAM-MD5").is_ok());
    }

    #[test]
    fn clients_never_panic(
        m in prop::sample::select(ALL_MECHANISMS.to_vec()),
        lines in proptest::collection::vec(line(), 0..16),
    ) {
        let c = creds(m);
        // With binding data, so the -PLUS mechanisms can start too.
        let cc = ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &[7; 32]);
        let mut smtp = SmtpClient::with_config(m, &c, &cc).unwrap();
        let mut imap = ImapClient::with_config("a", m, &c, &cc).unwrap();
        let mut pop3 = Pop3Client::with_config(m, &c, &cc).unwrap();
        let _ = smtp.start().unwrap();
        let _ = imap.start().unwrap();
        let _ = pop3.start().unwrap();
        let mut done = [false; 3];
        for l in &lines {
            for (i, ev) in [smtp.reply(l), imap.line(l), pop3.line(l)].into_iter().enumerate() {
                match ev {
                    Ok(ClientEvent::Done(o)) => {
                        prop_assert!(!done[i]);
                        done[i] = true;
                        // Success only with a success status.
                        if o.authenticated {
                            prop_assert!(o.status.starts_with('2') || o.status == "OK" || o.status == "+OK");
                        }
                    }
                    Ok(ClientEvent::Send(s)) => prop_assert!(s.as_slice().ends_with(b"\r\n")),
                    Ok(_) => {}
                    Err(_) => prop_assert!(done[i], "only a finished client refuses lines"),
                }
            }
        }
    }

    #[test]
    fn mechanism_lists_never_panic(lines in proptest::collection::vec(line(), 0..8)) {
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        for name in saslmech::proto::smtp::ehlo_mechanisms(refs.iter().copied()) {
            prop_assert!(name.len() <= 20 && !name.is_empty());
        }
        for l in &lines {
            let _ = saslmech::proto::imap::capability_mechanisms(l);
            let _ = saslmech::proto::imap::has_sasl_ir(l);
            let _ = saslmech::proto::pop3::capa_mechanisms(l);
        }
    }
}
