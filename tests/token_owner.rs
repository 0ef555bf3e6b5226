//! A bearer token is answered with its owner: the engine, not the application, decides
//! whether the owner may act as the user the client named. A bare `Answer::Accept` of a token
//! is `Error::WrongAnswer`, for XOAUTH2 and OAUTHBEARER alike, and leaves the request pending.

use std::sync::Arc;

use saslmech::{
    Answer, Error, Failure, Mechanism, Request, ServerConfig, ServerSession, ServerStep, Transport,
};

const XOAUTH2_TIM: &[u8] = b"user=tim\x01auth=Bearer ya29.token\x01\x01";
const OAUTHBEARER_TIM: &[u8] = b"n,a=tim,\x01auth=Bearer ya29.token\x01\x01";
const OAUTHBEARER_NOBODY: &[u8] = b"n,,\x01auth=Bearer ya29.token\x01\x01";

fn session(mechanism: Mechanism, message: &[u8]) -> ServerSession {
    let config = Arc::new(ServerConfig::new());
    let mut s = ServerSession::new(&config, mechanism, &Transport::tls()).unwrap();
    match s.start(Some(message)).unwrap() {
        ServerStep::Request(Request::ValidateToken(t)) => assert_eq!(t.mechanism(), mechanism),
        other => panic!("{other:?}"),
    }
    s
}

fn identity(step: ServerStep<'_>) -> (String, Option<String>) {
    match step {
        ServerStep::Success(ok) => (
            ok.identity.authcid().to_owned(),
            ok.identity.authzid().map(str::to_owned),
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bare_accept_of_a_token_is_a_wrong_answer() {
    for (mechanism, message) in [
        (Mechanism::XOAuth2, XOAUTH2_TIM),
        (Mechanism::OAuthBearer, OAUTHBEARER_TIM),
        (Mechanism::OAuthBearer, OAUTHBEARER_NOBODY),
    ] {
        let mut s = session(mechanism, message);
        assert_eq!(
            s.answer(Answer::Accept).unwrap_err(),
            Error::WrongAnswer,
            "{mechanism:?}"
        );
        // Still pending: the right answer still works.
        assert!(matches!(s.request(), Some(Request::ValidateToken(_))));
        let (authcid, _) = identity(s.answer(Answer::TokenOwner("tim")).unwrap());
        assert_eq!(authcid, "tim");
    }
}

#[test]
fn the_owner_of_the_token_is_the_user_the_client_named() {
    let mut s = session(Mechanism::XOAuth2, XOAUTH2_TIM);
    let (authcid, authzid) = identity(s.answer(Answer::TokenOwner("tim")).unwrap());
    assert_eq!((authcid.as_str(), authzid), ("tim", None));

    let mut s = session(Mechanism::OAuthBearer, OAUTHBEARER_NOBODY);
    let (authcid, authzid) = identity(s.answer(Answer::TokenOwner("tim")).unwrap());
    assert_eq!((authcid.as_str(), authzid), ("tim", None));
}

#[test]
fn another_owner_must_be_authorized_to_act_as_the_named_user() {
    for (mechanism, message) in [
        (Mechanism::XOAuth2, XOAUTH2_TIM),
        (Mechanism::OAuthBearer, OAUTHBEARER_TIM),
    ] {
        // Mallory's valid token, presented as tim's: the application validated the token and
        // says whose it is; the engine asks whether mallory may act as tim.
        let mut s = session(mechanism, message);
        match s.answer(Answer::TokenOwner("mallory")).unwrap() {
            ServerStep::Request(Request::Authorize(a)) => {
                assert_eq!((a.authcid(), a.authzid()), ("mallory", "tim"));
            }
            other => panic!("{mechanism:?}: {other:?}"),
        }
        assert!(matches!(
            s.answer(Answer::Reject).unwrap(),
            ServerStep::Failure(Failure::AuthzDenied)
        ));

        // An administrator's token that may act for tim.
        let mut s = session(mechanism, message);
        assert!(matches!(
            s.answer(Answer::TokenOwner("admin")).unwrap(),
            ServerStep::Request(Request::Authorize(_))
        ));
        let (authcid, authzid) = identity(s.answer(Answer::Accept).unwrap());
        assert_eq!(
            (authcid.as_str(), authzid.as_deref()),
            ("admin", Some("tim"))
        );
    }
}

#[test]
fn an_empty_or_nul_owner_is_refused() {
    for owner in ["", "ti\0m"] {
        let mut s = session(Mechanism::XOAuth2, XOAUTH2_TIM);
        assert!(matches!(
            s.answer(Answer::TokenOwner(owner)).unwrap_err(),
            Error::InvalidArgument(_)
        ));
        assert!(s.request().is_some());
    }
}

/// The SMTP adapter: a valid token of another user is 535 unless the application authorizes
/// the owner to act as the named user.
#[test]
fn smtp_adapter_checks_the_owner_against_the_named_user() {
    use saslmech::proto::ServerEvent;
    use saslmech::proto::smtp::SmtpServer;
    let auth = format!("AUTH XOAUTH2 {}", saslmech::b64::encode(XOAUTH2_TIM));
    let mut server = SmtpServer::new(Arc::new(ServerConfig::new()));
    server.set_tls(true);
    assert!(matches!(
        server.command(auth.as_bytes()).unwrap(),
        ServerEvent::Request(_)
    ));
    assert_eq!(
        server.answer(Answer::Accept).unwrap_err(),
        Error::WrongAnswer
    );
    match server.answer(Answer::TokenOwner("mallory")).unwrap() {
        ServerEvent::Request(r) => assert!(
            matches!(r, saslmech::proto::AuthRequest::Authorize { .. }),
            "{r:?}"
        ),
        other => panic!("{other:?}"),
    }
    match server.answer(Answer::Reject).unwrap() {
        ServerEvent::Failure { reply, .. } => assert!(reply.starts_with(b"535 "), "{reply:?}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        server.command(auth.as_bytes()).unwrap(),
        ServerEvent::Request(_)
    ));
    match server.answer(Answer::TokenOwner("tim")).unwrap() {
        ServerEvent::Success { reply, identity } => {
            assert!(reply.starts_with(b"235 "));
            assert_eq!(identity.authcid, "tim");
        }
        other => panic!("{other:?}"),
    }
}
