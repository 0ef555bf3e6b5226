//! Seeds for the C API target.

use super::*;

/// A SCRAM-SHA-256 exchange of the engine's own client (nonce `clinonce`, user `user`,
/// password `pencil`) and server (nonce `srvnonce`, keys with salt `saltsalt` and 2
/// iterations): (server-first, server-final), raw.
pub(super) fn capi_scram_messages() -> (Vec<u8>, Vec<u8>) {
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
pub(super) fn capi_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
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
