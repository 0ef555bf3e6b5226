//! The later seeds of the protocol adapters and the C API's exchange seeds (part of [`super::new_seeds`]).

use super::*;

/// The protocol adapters, server and client side.
pub(super) fn adapter_seeds(v: &mut Vec<(&'static str, String, Vec<u8>)>, transcripts: &str) {
    let pencil = b"pencil".to_vec();
    // Server config bytes: TLS, success data or not; `b`: iterations 16 (bits 6-7 = 3),
    // fixed nonce, with all channel bindings (bits 3-4 = 3) and the external identity.
    let tls_data = 0b0000_0011u8;
    let b_none = 0b1100_0000u8;

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
}

/// The C API: a PLAIN server exchange, a SCRAM client, adapters, base64.
pub(super) fn capi_exchange_seeds(v: &mut Vec<(&'static str, String, Vec<u8>)>) {
    let rfc256 = (
        &b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
            [..],
        &b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="[..],
    );

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
}
