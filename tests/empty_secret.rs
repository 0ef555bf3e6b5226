//! An empty stored secret, before or after SASLprep, authenticates nobody: every mechanism
//! treats it exactly like an unknown user (same failure). The clients here are built by hand
//! (or from a `ScramClientCache`), because the crate's own clients refuse empty passwords;
//! an attacker's client does not.

mod support;

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use saslmech::{
    Answer, ClientSession, CramMd5Keys, Credentials, Failure, Mechanism, ScramClientCache,
    ScramHash, SecretStorage, ServerConfig, ServerSession, ServerStep, Transport,
};
use support::to_hex;

/// U+00AD SOFT HYPHEN: SASLprep maps it to nothing.
const MAPS_TO_NOTHING: &str = "\u{ad}";

fn config(storage: SecretStorage) -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::new()
            .mechanisms(saslmech::ALL_MECHANISMS)
            .scram_secret(b"a fixed secret, so the fake salt is stable")
            .secret_storage(storage),
    )
}

fn failure(step: ServerStep<'_>) -> Option<Failure> {
    match step {
        ServerStep::Failure(f) => Some(f),
        ServerStep::Success(ok) => {
            panic!("authenticated as {:?} with an empty secret", ok.identity)
        }
        other => panic!("{other:?}"),
    }
}

/// CRAM-MD5 with the response an attacker computes with `key`, answered with `answer`.
fn cram_md5(key: &[u8], answer: Answer<'_>) -> Option<Failure> {
    let mut s = ServerSession::new(
        &config(SecretStorage::Plaintext),
        Mechanism::CramMd5,
        &Transport::plaintext(),
    )
    .unwrap();
    let challenge = match s.start(None).unwrap() {
        ServerStep::Challenge(c) => c.to_vec(),
        other => panic!("{other:?}"),
    };
    let mut mac = Hmac::<md5::Md5>::new_from_slice(key).unwrap();
    mac.update(&challenge);
    let response = format!("tim {}", to_hex(&mac.finalize().into_bytes()));
    assert!(matches!(
        s.step(response.as_bytes()).unwrap(),
        ServerStep::Request(_)
    ));
    failure(s.answer(answer).unwrap())
}

#[test]
fn cram_md5_refuses_an_empty_stored_password() {
    let unknown = cram_md5(b"", Answer::UnknownUser);
    assert_eq!(unknown, Some(Failure::BadCredentials));
    assert_eq!(cram_md5(b"", Answer::Password(b"")), unknown);
    let empty_keys = CramMd5Keys::from_password(b"");
    assert_eq!(cram_md5(b"", Answer::CramMd5Keys(&empty_keys)), unknown);
}

#[test]
fn cram_md5_still_accepts_a_real_password() {
    let mut s = ServerSession::new(
        &config(SecretStorage::Plaintext),
        Mechanism::CramMd5,
        &Transport::plaintext(),
    )
    .unwrap();
    let mut c = ClientSession::new(
        Mechanism::CramMd5,
        &Credentials::new()
            .authcid("tim")
            .password(b"tanstaaftanstaaf"),
    )
    .unwrap();
    let challenge = match s.start(None).unwrap() {
        ServerStep::Challenge(ch) => ch.to_vec(),
        other => panic!("{other:?}"),
    };
    let response = c.step(&challenge).unwrap().to_vec();
    assert!(matches!(s.step(&response).unwrap(), ServerStep::Request(_)));
    assert!(matches!(
        s.answer(Answer::Password(b"tanstaaftanstaaf")).unwrap(),
        ServerStep::Success(_)
    ));
}

/// The salt the server shows `user` when it is answered with a plaintext password: learnt
/// from a first, failed exchange, as an attacker would.
fn scram_salt(mechanism: Mechanism, config: &Arc<ServerConfig>) -> (Vec<u8>, u32) {
    let mut s = ServerSession::new(config, mechanism, &Transport::tls()).unwrap();
    assert!(matches!(
        s.start(Some(b"n,,n=tim,r=abcdefghijklmnop")).unwrap(),
        ServerStep::Request(_)
    ));
    let first = match s.answer(Answer::Password(b"whatever")).unwrap() {
        ServerStep::Challenge(c) => String::from_utf8(c.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    };
    let mut salt = None;
    let mut iterations = None;
    for attr in first.split(',') {
        if let Some(v) = attr.strip_prefix("s=") {
            salt = Some(
                saslmech::b64::decode(v.as_bytes())
                    .unwrap()
                    .as_slice()
                    .to_vec(),
            );
        }
        if let Some(v) = attr.strip_prefix("i=") {
            iterations = Some(v.parse().unwrap());
        }
    }
    (salt.unwrap(), iterations.unwrap())
}

/// SCRAM with a client whose salted password is `Hi(key)`, answered with `answer`.
fn scram(mechanism: Mechanism, key: &[u8], answer: Answer<'_>) -> Option<Failure> {
    let config = config(SecretStorage::Plaintext);
    let (salt, iterations) = scram_salt(mechanism, &config);
    let hash = ScramHash::of(mechanism).unwrap();
    let salted: Vec<u8> = match hash {
        ScramHash::Sha1 => {
            pbkdf2::pbkdf2_hmac_array::<sha1::Sha1, 20>(key, &salt, iterations).to_vec()
        }
        ScramHash::Sha512 => {
            pbkdf2::pbkdf2_hmac_array::<sha2::Sha512, 64>(key, &salt, iterations).to_vec()
        }
        _ => pbkdf2::pbkdf2_hmac_array::<sha2::Sha256, 32>(key, &salt, iterations).to_vec(),
    };
    let cache = ScramClientCache::from_salted_password(hash, &salted, &salt, iterations).unwrap();
    let mut c = ClientSession::new(
        mechanism,
        &Credentials::new().authcid("tim").scram_cache(&cache),
    )
    .unwrap();
    let mut s = ServerSession::new(&config, mechanism, &Transport::tls()).unwrap();
    let first = c.start().unwrap().map(<[u8]>::to_vec);
    assert!(matches!(
        s.start(first.as_deref()).unwrap(),
        ServerStep::Request(_)
    ));
    let server_first = match s.answer(answer).unwrap() {
        ServerStep::Challenge(ch) => ch.to_vec(),
        other => panic!("{other:?}"),
    };
    let client_final = c.step(&server_first).unwrap().to_vec();
    failure(s.step(&client_final).unwrap())
}

#[test]
fn scram_refuses_an_empty_stored_password() {
    for mechanism in [
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ] {
        let unknown = scram(mechanism, b"", Answer::UnknownUser);
        assert_eq!(unknown, Some(Failure::BadCredentials), "{mechanism:?}");
        assert_eq!(
            scram(mechanism, b"", Answer::Password(b"")),
            unknown,
            "{mechanism:?}"
        );
        let soft = MAPS_TO_NOTHING.as_bytes();
        // The client prepares U+00AD to nothing too, so its key is Hi("").
        assert_eq!(
            scram(mechanism, b"", Answer::Password(soft)),
            unknown,
            "{mechanism:?}"
        );
    }
}

#[test]
fn scram_cache_client_with_a_real_password_still_succeeds() {
    // The control: the same hand-built client with the right key authenticates.
    let mechanism = Mechanism::ScramSha256;
    let config = config(SecretStorage::Plaintext);
    let (salt, iterations) = scram_salt(mechanism, &config);
    let salted = pbkdf2::pbkdf2_hmac_array::<sha2::Sha256, 32>(b"pencil", &salt, iterations);
    let cache =
        ScramClientCache::from_salted_password(ScramHash::Sha256, &salted, &salt, iterations)
            .unwrap();
    let mut c = ClientSession::new(
        mechanism,
        &Credentials::new().authcid("tim").scram_cache(&cache),
    )
    .unwrap();
    let mut s = ServerSession::new(&config, mechanism, &Transport::tls()).unwrap();
    let first = c.start().unwrap().map(<[u8]>::to_vec);
    let _ = s.start(first.as_deref()).unwrap();
    let server_first = match s.answer(Answer::Password(b"pencil")).unwrap() {
        ServerStep::Challenge(ch) => ch.to_vec(),
        other => panic!("{other:?}"),
    };
    let client_final = c.step(&server_first).unwrap().to_vec();
    assert!(matches!(
        s.step(&client_final).unwrap(),
        ServerStep::Success(_)
    ));
}

/// PLAIN with the raw message `\0tim\0<password>`, answered with `answer`.
fn plain(password: &str, answer: Answer<'_>) -> Option<Failure> {
    let mut s = ServerSession::new(
        &config(SecretStorage::Plaintext),
        Mechanism::Plain,
        &Transport::tls(),
    )
    .unwrap();
    let message = format!("\0tim\0{password}");
    match s.start(Some(message.as_bytes())).unwrap() {
        ServerStep::Request(_) => failure(s.answer(answer).unwrap()),
        step => failure(step),
    }
}

#[test]
fn plain_refuses_an_empty_stored_password() {
    // PLAIN and LOGIN compare the password's bytes, and a client never sends an empty one.
    let unknown = plain("x", Answer::UnknownUser);
    assert_eq!(unknown, Some(Failure::BadCredentials));
    assert_eq!(plain("x", Answer::Password(b"")), unknown);
    assert_eq!(plain("", Answer::Password(b"")), Some(Failure::Malformed));
}

/// The SMTP adapter, as a mail server meets it: CRAM-MD5 answered with an empty stored
/// password (an unknown user's lookup returning "") is 535, like an unknown user.
#[test]
fn smtp_adapter_answers_an_empty_secret_like_an_unknown_user() {
    use saslmech::proto::ServerEvent;
    use saslmech::proto::smtp::SmtpServer;
    let replies = |answer: Answer<'_>| -> Vec<u8> {
        let mut server = SmtpServer::new(config(SecretStorage::Plaintext));
        let challenge = match server.command(b"AUTH CRAM-MD5").unwrap() {
            ServerEvent::Challenge(reply) => reply,
            other => panic!("{other:?}"),
        };
        let text = &challenge[4..challenge.len() - 2];
        let challenge = saslmech::b64::decode(text).unwrap();
        let mut mac = Hmac::<md5::Md5>::new_from_slice(b"").unwrap();
        mac.update(challenge.as_slice());
        let response = format!("tim {}", to_hex(&mac.finalize().into_bytes()));
        match server
            .line(saslmech::b64::encode(response.as_bytes()).as_bytes())
            .unwrap()
        {
            ServerEvent::Request(_) => {}
            other => panic!("{other:?}"),
        }
        match server.answer(answer).unwrap() {
            ServerEvent::Failure { reply, .. } => reply,
            other => panic!("authenticated with an empty secret: {other:?}"),
        }
    };
    let unknown = replies(Answer::UnknownUser);
    assert!(
        unknown.starts_with(b"535 "),
        "{}",
        String::from_utf8_lossy(&unknown)
    );
    assert_eq!(replies(Answer::Password(b"")), unknown);
}
