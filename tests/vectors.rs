//! The RFC and vendor test vectors for PLAIN, LOGIN, CRAM-MD5 and XOAUTH2, byte for byte
//! (from shared/reference/sasl-reference.md §5).

use std::sync::Arc;

use saslmech::{
    Answer, ClientSession, CramMd5Keys, Credentials, Failure, Mechanism, NonceSource, Request,
    ServerConfig, ServerSession, ServerStep, TokenError, Transport, b64,
};

fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new())
}

fn challenge(step: ServerStep<'_>) -> Vec<u8> {
    match step {
        ServerStep::Challenge(c) => c.to_vec(),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

// ---- PLAIN ----

#[test]
fn plain_rfc4616_example1_without_initial_response() {
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    // `S: + ""`: an empty challenge.
    assert_eq!(challenge(s.start(None).unwrap()), b"");
    let msg = b64::decode(b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm").unwrap();
    assert_eq!(msg.as_slice(), b"\0tim\0tanstaaftanstaaf");
    match s.step(msg.as_slice()).unwrap() {
        ServerStep::Request(Request::VerifyPassword(r)) => {
            assert_eq!(r.authcid(), "tim");
            assert_eq!(r.authzid(), None);
            assert_eq!(r.password(), b"tanstaaftanstaaf");
        }
        other => panic!("{other:?}"),
    }
    match s.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap() {
        ServerStep::Success(ok) => {
            assert_eq!(ok.identity.authcid(), "tim");
            assert_eq!(ok.identity.authzid(), None);
            assert_eq!(ok.data, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.identity().unwrap().effective(), "tim");
}

#[test]
fn plain_rfc4616_example2_authorization_denied() {
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    match s.start(Some(b"Ursel\0Kurt\0xipj3plmq")).unwrap() {
        ServerStep::Request(Request::VerifyPassword(r)) => {
            assert_eq!(r.authcid(), "Kurt");
            assert_eq!(r.authzid(), Some("Ursel"));
        }
        other => panic!("{other:?}"),
    }
    // The password is right...
    match s.answer(Answer::Accept).unwrap() {
        ServerStep::Request(Request::Authorize(r)) => {
            assert_eq!(r.authcid(), "Kurt");
            assert_eq!(r.authzid(), "Ursel");
        }
        other => panic!("{other:?}"),
    }
    // ...but Kurt may not act as Ursel.
    match s.answer(Answer::Reject).unwrap() {
        ServerStep::Failure(f) => assert_eq!(f, Failure::AuthzDenied),
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_rfc4616_example2_authorization_allowed() {
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"Ursel\0Kurt\0xipj3plmq")).unwrap();
    let _ = s.answer(Answer::Password(b"xipj3plmq")).unwrap();
    match s.answer(Answer::Accept).unwrap() {
        ServerStep::Success(ok) => {
            assert_eq!(ok.identity.authcid(), "Kurt");
            assert_eq!(ok.identity.effective(), "Ursel");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_rfc4954_with_and_without_initial_response() {
    // C: AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    match s.start_b64(Some(b"dGVzdAB0ZXN0ADEyMzQ=")).unwrap() {
        ServerStep::Request(Request::VerifyPassword(r)) => {
            assert_eq!(
                (r.authzid(), r.authcid(), r.password()),
                (Some("test"), "test", &b"1234"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    // authzid equal to authcid needs no authorization request.
    assert!(matches!(
        s.answer(Answer::Password(b"1234")).unwrap(),
        ServerStep::Success(_)
    ));

    // C: AUTH PLAIN / S: 334 (empty) / C: dGVzdAB0ZXN0ADEyMzQ=
    let mut s = ServerSession::new(&config(), Mechanism::Plain, &Transport::tls()).unwrap();
    assert_eq!(challenge(s.start_b64(None).unwrap()), b"");
    assert!(matches!(
        s.step_b64(b"dGVzdAB0ZXN0ADEyMzQ=").unwrap(),
        ServerStep::Request(_)
    ));
    assert!(matches!(
        s.answer(Answer::Accept).unwrap(),
        ServerStep::Success(_)
    ));

    // The client produces exactly the RFC's initial response.
    let creds = Credentials::new()
        .authzid("test")
        .authcid("test")
        .password(b"1234");
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    assert_eq!(c.start_b64().unwrap(), Some(&b"dGVzdAB0ZXN0ADEyMzQ="[..]));
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf");
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    assert_eq!(
        c.start_b64().unwrap(),
        Some(&b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm"[..])
    );
    // Without initial-response support the server's empty challenge gets the message.
    let mut c = ClientSession::new(Mechanism::Plain, &creds).unwrap();
    assert_eq!(c.step_b64(b"").unwrap(), b"AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
}

// ---- CRAM-MD5 ----

fn rfc2195_config() -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::new()
            .hostname("postoffice.reston.mci.net")
            .nonce_source(NonceSource::Fixed(b"1896.697170952".to_vec())),
    )
}

#[test]
fn cram_md5_rfc2195_server_with_password_and_with_keys() {
    let keys = CramMd5Keys::from_password(b"tanstaaftanstaaf");
    for answer in [
        Answer::Password(b"tanstaaftanstaaf"),
        Answer::CramMd5Keys(&keys),
    ] {
        let mut s = ServerSession::new(
            &rfc2195_config(),
            Mechanism::CramMd5,
            &Transport::plaintext(),
        )
        .unwrap();
        assert_eq!(
            challenge(s.start_b64(None).unwrap()),
            b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
        );
        match s
            .step_b64(b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")
            .unwrap()
        {
            ServerStep::Request(Request::Secret(r)) => {
                assert_eq!(r.authcid(), "tim");
                assert_eq!(r.mechanism(), Mechanism::CramMd5);
            }
            other => panic!("{other:?}"),
        }
        match s.answer(answer).unwrap() {
            ServerStep::Success(ok) => assert_eq!(ok.identity.authcid(), "tim"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn cram_md5_rfc2195_client() {
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf");
    let mut c = ClientSession::new(Mechanism::CramMd5, &creds).unwrap();
    assert_eq!(c.start_b64().unwrap(), None);
    assert_eq!(
        c.step_b64(b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
            .unwrap(),
        b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    );
    c.finish(None).unwrap();
    assert!(c.is_finished());
}

#[test]
fn cram_md5_rfc4954_framing_and_wrong_secret() {
    let config = Arc::new(
        ServerConfig::new()
            .hostname("sourcefour.andrew.cmu.edu")
            .nonce_source(NonceSource::Fixed(b"4192942341.12828472".to_vec())),
    );
    let mut s = ServerSession::new(&config, Mechanism::CramMd5, &Transport::tls()).unwrap();
    assert_eq!(
        challenge(s.start_b64(None).unwrap()),
        b"PDQxOTI5NDIzNDEuMTI4Mjg0NzJAc291cmNlZm91ci5hbmRyZXcuY211LmVkdT4="
    );
    match s
        .step_b64(b"cmpzMyBlYzNhNTlmZWQzOTVhYmExZWM2MzY3YzRmNGI0MWFjMA==")
        .unwrap()
    {
        ServerStep::Request(Request::Secret(r)) => assert_eq!(r.authcid(), "rjs3"),
        other => panic!("{other:?}"),
    }
    // The RFC does not give rjs3's password: any guess fails, and so does an unknown user.
    match s.answer(Answer::Password(b"not-the-password")).unwrap() {
        ServerStep::Failure(f) => assert_eq!(f, Failure::BadCredentials),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cram_md5_unknown_user_fails_like_wrong_password() {
    let mut s = ServerSession::new(
        &rfc2195_config(),
        Mechanism::CramMd5,
        &Transport::plaintext(),
    )
    .unwrap();
    let _ = s.start(None).unwrap();
    let _ = s.step(b"tim b913a602c7eda7a495b4e6e7334d3890").unwrap();
    match s.answer(Answer::UnknownUser).unwrap() {
        ServerStep::Failure(f) => assert_eq!(f, Failure::BadCredentials),
        other => panic!("{other:?}"),
    }
}

#[test]
fn cram_md5_user_names_with_spaces_split_at_rightmost_space() {
    let config = rfc2195_config();
    let creds = Credentials::new().authcid("tim smith").password(b"pw");
    let mut c = ClientSession::new(Mechanism::CramMd5, &creds).unwrap();
    let mut s = ServerSession::new(&config, Mechanism::CramMd5, &Transport::tls()).unwrap();
    let ch = challenge(s.start(None).unwrap());
    let resp = c.step(&ch).unwrap().to_vec();
    match s.step(&resp).unwrap() {
        ServerStep::Request(Request::Secret(r)) => assert_eq!(r.authcid(), "tim smith"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.answer(Answer::Password(b"pw")).unwrap(),
        ServerStep::Success(_)
    ));
}

#[test]
fn cram_md5_random_challenges_differ_and_name_the_host() {
    let config = Arc::new(ServerConfig::new().hostname("mx.example.org"));
    let mut seen = Vec::new();
    for _ in 0..4 {
        let mut s = ServerSession::new(&config, Mechanism::CramMd5, &Transport::tls()).unwrap();
        let ch = challenge(s.start(None).unwrap());
        let text = String::from_utf8(ch).unwrap();
        assert!(
            text.starts_with('<') && text.ends_with("@mx.example.org>"),
            "{text}"
        );
        let nonce = &text[1..text.len() - "@mx.example.org>".len()];
        // 128 random bits as two groups of 16 lowercase hex digits.
        let (a, b) = nonce.split_once('.').unwrap();
        assert!(a.len() == 16 && b.len() == 16, "{text}");
        assert!(
            a.bytes()
                .chain(b.bytes())
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
            "{text}"
        );
        assert!(!seen.contains(&text));
        seen.push(text);
    }
}

#[test]
fn cram_md5_dovecot_stored_form() {
    let keys = CramMd5Keys::from_password(b"tanstaaftanstaaf");
    let text = keys.to_dovecot();
    assert_eq!(text.len(), 10 + 64);
    assert_eq!(CramMd5Keys::from_dovecot(&text), Some(keys.clone()));
    assert_eq!(CramMd5Keys::from_dovecot(&text[10..]), Some(keys.clone()));
    assert_eq!(CramMd5Keys::from_dovecot(&text[..70]), None);
    // Upper-case digits read the same (Dovecot writes lower case; other tools may not); the
    // prefix is exact.
    assert_eq!(
        CramMd5Keys::from_dovecot(&text.to_uppercase()),
        Some(keys.clone())
    );
    assert_eq!(CramMd5Keys::from_dovecot(&text.to_lowercase()), None);
    assert_eq!(CramMd5Keys::from_bytes(&keys.to_bytes()), keys);
    // The stored state computes the RFC 2195 digest.
    let mac = keys.mac(b"<1896.697170952@postoffice.reston.mci.net>");
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "b913a602c7eda7a495b4e6e7334d3890");
    assert_eq!(format!("{keys:?}"), "CramMd5Keys(<redacted>)");
}

// ---- LOGIN ----

#[test]
fn login_client_ignores_challenge_text() {
    let creds = Credentials::new()
        .authcid("tim")
        .password(b"tanstaaftanstaaf");
    // The draft's `User Name\0` / `Password\0`, MS-XLOGIN's `Username:` / `Password:`, and
    // gsasl's `User Name` / `Password`.
    for (c1, c2) in [
        (&b"VXNlciBOYW1lAA=="[..], &b"UGFzc3dvcmQA"[..]),
        (b"VXNlcm5hbWU6", b"UGFzc3dvcmQ6"),
        (b"VXNlciBOYW1l", b"UGFzc3dvcmQ="),
    ] {
        let mut c = ClientSession::new(Mechanism::Login, &creds).unwrap();
        assert_eq!(c.start().unwrap(), None);
        assert_eq!(c.step_b64(c1).unwrap(), b"dGlt");
        assert_eq!(c.step_b64(c2).unwrap(), b"dGFuc3RhYWZ0YW5zdGFhZg==");
        c.finish(None).unwrap();
    }
}

#[test]
fn login_server_prompts_and_accepts_username_as_initial_response() {
    let config = config();
    let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
    assert_eq!(challenge(s.start_b64(None).unwrap()), b"VXNlcm5hbWU6");
    assert_eq!(challenge(s.step_b64(b"dGlt").unwrap()), b"UGFzc3dvcmQ6");
    match s.step_b64(b"dGFuc3RhYWZ0YW5zdGFhZg==").unwrap() {
        ServerStep::Request(Request::VerifyPassword(r)) => {
            assert_eq!(r.authcid(), "tim");
            assert_eq!(r.password(), b"tanstaaftanstaaf");
            assert_eq!(r.mechanism(), Mechanism::Login);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap(),
        ServerStep::Success(_)
    ));

    // MS-XLOGIN: `AUTH LOGIN dGlt`.
    let mut s = ServerSession::new(&config, Mechanism::Login, &Transport::tls()).unwrap();
    assert_eq!(
        challenge(s.start_b64(Some(b"dGlt")).unwrap()),
        b"UGFzc3dvcmQ6"
    );
    assert!(matches!(
        s.step_b64(b"dGFuc3RhYWZ0YW5zdGFhZg==").unwrap(),
        ServerStep::Request(_)
    ));
    match s.answer(Answer::Password(b"wrong")).unwrap() {
        ServerStep::Failure(f) => assert_eq!(f, Failure::BadCredentials),
        other => panic!("{other:?}"),
    }
}

// ---- XOAUTH2 ----

const GOOGLE_IR: &[u8] = b"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";
const GOOGLE_ERROR: &[u8] = b"eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K";

#[test]
fn xoauth2_google_initial_response() {
    let creds = Credentials::new()
        .authcid("someuser@example.com")
        .token(b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    let mut c = ClientSession::new(Mechanism::XOAuth2, &creds).unwrap();
    assert_eq!(c.start_b64().unwrap(), Some(GOOGLE_IR));

    let mut s = ServerSession::new(&config(), Mechanism::XOAuth2, &Transport::tls()).unwrap();
    match s.start_b64(Some(GOOGLE_IR)).unwrap() {
        ServerStep::Request(Request::ValidateToken(r)) => {
            assert_eq!(r.user(), "someuser@example.com");
            assert_eq!(r.token(), b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
        }
        other => panic!("{other:?}"),
    }
    match s
        .answer(Answer::TokenOwner("someuser@example.com"))
        .unwrap()
    {
        ServerStep::Success(ok) => assert_eq!(ok.identity.authcid(), "someuser@example.com"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn xoauth2_curl_test922_vector() {
    let creds = Credentials::new().authcid("user").token(b"mF_9.B5f-4.1JqM");
    let mut c = ClientSession::new(Mechanism::XOAuth2, &creds).unwrap();
    assert_eq!(
        c.start_b64().unwrap(),
        Some(&b"dXNlcj11c2VyAWF1dGg9QmVhcmVyIG1GXzkuQjVmLTQuMUpxTQEB"[..])
    );
}

#[test]
fn xoauth2_google_error_challenge_client() {
    let creds = Credentials::new()
        .authcid("someuser@example.com")
        .token(b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    let mut c = ClientSession::new(Mechanism::XOAuth2, &creds).unwrap();
    let _ = c.start_b64().unwrap();
    // The client answers the error challenge with an empty response.
    assert_eq!(c.step_b64(GOOGLE_ERROR).unwrap(), b"");
    let e = c.oauth_error().unwrap();
    assert_eq!(e.status.as_deref(), Some("401"));
    assert_eq!(e.schemes.as_deref(), Some("bearer mac"));
    assert_eq!(e.scope.as_deref(), Some("https://mail.google.com/"));
    assert_eq!(e.raw.last(), Some(&b'\n'));
    // Google's POP variant, without the newline.
    let mut c = ClientSession::new(Mechanism::XOAuth2, &creds).unwrap();
    let _ = c.start().unwrap();
    let pop = b"eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
    assert_eq!(c.step_b64(pop).unwrap(), b"");
    assert_eq!(c.oauth_error().unwrap().status.as_deref(), Some("400"));
}

#[test]
fn xoauth2_server_error_challenge_then_failure() {
    for ack in [&b""[..], b"AQ=="] {
        let mut s = ServerSession::new(&config(), Mechanism::XOAuth2, &Transport::tls()).unwrap();
        assert!(matches!(
            s.start_b64(Some(GOOGLE_IR)).unwrap(),
            ServerStep::Request(_)
        ));
        let err = TokenError {
            status: "401",
            scope: Some("https://mail.google.com/"),
        };
        let ch = challenge(s.answer_b64(Answer::TokenError(err)).unwrap());
        let json = b64::decode(&ch).unwrap();
        assert_eq!(
            json.as_slice(),
            br#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#
        );
        // The crate's own client understands it.
        let parsed = saslmech::OAuthError::parse(json.as_slice()).unwrap();
        assert_eq!(parsed.scope.as_deref(), Some("https://mail.google.com/"));
        match s.step_b64(ack).unwrap() {
            ServerStep::Failure(f) => assert_eq!(f, Failure::BadCredentials),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn xoauth2_without_initial_response() {
    let mut s = ServerSession::new(&config(), Mechanism::XOAuth2, &Transport::tls()).unwrap();
    assert_eq!(challenge(s.start(None).unwrap()), b"");
    let msg = b64::decode(GOOGLE_IR).unwrap();
    assert!(matches!(
        s.step(msg.as_slice()).unwrap(),
        ServerStep::Request(_)
    ));
    match s.answer(Answer::Reject).unwrap() {
        ServerStep::Challenge(c) => assert_eq!(c, br#"{"status":"401","schemes":"bearer"}"#),
        other => panic!("{other:?}"),
    }
}
