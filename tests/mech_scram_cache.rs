//! The SCRAM client's key cache: a client that kept ClientKey/ServerKey from an earlier login
//! skips PBKDF2, produces exactly the RFC 7677 exchange, and falls back to the password (or
//! fails cleanly) when the server's salt or iteration count changed.

use std::sync::Arc;

use saslmech::{
    Answer, ClientConfig, ClientSession, Credentials, Error, Failure, Mechanism, NonceSource,
    ScramClientCache, ScramHash, ScramKeys, ServerConfig, ServerSession, ServerStep, Transport,
    b64,
};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const SALTED: &str = "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d";
const CLIENT_FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

fn rfc_salt() -> Vec<u8> {
    b64::decode(b"W22ZaJ0SNY7soEsUEjb6gQ==")
        .unwrap()
        .as_slice()
        .to_vec()
}

/// Run SCRAM-SHA-256 against a server holding `keys`; return the client's final message and
/// the outcome.
fn login(
    creds: &Credentials<'_>,
    keys: &ScramKeys,
    fixed: bool,
) -> (Result<ClientSession, Error>, Vec<u8>) {
    let mut sc = ServerConfig::new();
    let mut cc = ClientConfig::new();
    if fixed {
        sc = sc.nonce_source(NonceSource::Fixed(
            b"%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".to_vec(),
        ));
        cc = cc.nonce_source(NonceSource::Fixed(b"rOprNGfwEbeRWgbNEkqO".to_vec()));
    }
    let config = Arc::new(sc);
    let mut c = match ClientSession::with_config(Mechanism::ScramSha256, creds, &cc) {
        Ok(c) => c,
        Err(e) => return (Err(e), Vec::new()),
    };
    let mut s = ServerSession::new(&config, Mechanism::ScramSha256, &Transport::tls()).unwrap();
    let first = c.start().unwrap().unwrap().to_vec();
    let ServerStep::Request(_) = s.start(Some(&first)).unwrap() else {
        panic!("no request")
    };
    let ServerStep::Challenge(server_first) = s.answer(Answer::ScramKeys(keys)).unwrap() else {
        panic!("no server-first")
    };
    let server_first = server_first.to_vec();
    let client_final = match c.step(&server_first) {
        Ok(r) => r.to_vec(),
        Err(e) => return (Err(e), Vec::new()),
    };
    assert!(
        c.scram_cache().is_none(),
        "no cache before the server proved itself"
    );
    match s.step(&client_final).unwrap() {
        ServerStep::Success(ok) => {
            let data = ok.data.map(<[u8]>::to_vec);
            c.finish(data.as_deref()).unwrap();
            (Ok(c), client_final)
        }
        other => panic!("{other:?}"),
    }
}

fn rfc_keys() -> ScramKeys {
    ScramKeys::derive(ScramHash::Sha256, b"pencil", &rfc_salt(), 4096).unwrap()
}

#[test]
fn cached_keys_reproduce_rfc7677_without_the_password() {
    let cache = ScramClientCache::from_salted_password(
        ScramHash::Sha256,
        &unhex(SALTED),
        &rfc_salt(),
        4096,
    )
    .unwrap();
    let creds = Credentials::new().authcid("user").scram_cache(&cache);
    let (client, client_final) = login(&creds, &rfc_keys(), true);
    assert_eq!(client_final, CLIENT_FINAL);
    let client = client.unwrap();
    assert!(client.is_finished());
    // The cache it hands back is the same keys.
    assert_eq!(client.scram_cache(), Some(&cache));
    assert!(!format!("{cache:?}").contains("c4a4"));
}

#[test]
fn first_login_fills_the_cache_second_skips_pbkdf2() {
    let keys = ScramKeys::generate(ScramHash::Sha256, b"correct horse", 4096).unwrap();
    let creds = Credentials::new()
        .authcid("alice")
        .password(b"correct horse");
    let (client, _) = login(&creds, &keys, false);
    let cache = client.unwrap().scram_cache().cloned().unwrap();
    assert_eq!(cache.salt(), keys.salt());
    assert_eq!(cache.iterations(), 4096);
    assert_eq!(cache.hash(), ScramHash::Sha256);

    let creds = Credentials::new().authcid("alice").scram_cache(&cache);
    let (client, _) = login(&creds, &keys, false);
    assert!(client.unwrap().is_finished());
}

#[test]
fn changed_salt_needs_the_password_again() {
    let old = ScramKeys::generate(ScramHash::Sha256, b"pw", 4096).unwrap();
    let new = ScramKeys::generate(ScramHash::Sha256, b"pw", 4096).unwrap();
    assert_ne!(old.salt(), new.salt());
    let (client, _) = login(
        &Credentials::new().authcid("u").password(b"pw"),
        &old,
        false,
    );
    let cache = client.unwrap().scram_cache().cloned().unwrap();

    // Cache only: the server's salt changed, so the client cannot answer.
    let creds = Credentials::new().authcid("u").scram_cache(&cache);
    let (client, _) = login(&creds, &new, false);
    assert_eq!(client.unwrap_err(), Error::Failed(Failure::BadCredentials));

    // Cache and password: it derives again and hands back the new keys.
    let creds = Credentials::new()
        .authcid("u")
        .password(b"pw")
        .scram_cache(&cache);
    let (client, _) = login(&creds, &new, false);
    let fresh = client.unwrap().scram_cache().cloned().unwrap();
    assert_eq!(fresh.salt(), new.salt());
    assert_ne!(fresh, cache);

    // A SCRAM-SHA-1 cache is ignored by a SCRAM-SHA-256 client, which then needs a password.
    let sha1 = ScramClientCache::from_salted_password(ScramHash::Sha1, &[0; 20], b"s", 1).unwrap();
    let creds = Credentials::new().authcid("u").scram_cache(&sha1);
    assert!(matches!(
        ClientSession::new(Mechanism::ScramSha256, &creds),
        Err(Error::InvalidArgument(_))
    ));
    assert!(ScramClientCache::from_salted_password(ScramHash::Sha256, &[0; 20], b"s", 1).is_err());
}
