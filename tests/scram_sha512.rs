//! SCRAM-SHA-512 and SCRAM-SHA-512-PLUS (draft-melnikov-scram-sha-512): exchanges byte for
//! byte against vectors computed independently of saslmech, stored keys in RFC 5803 form,
//! the engine's client against its server with and without channel binding, wrong passwords
//! and unknown users, the draft's 10000 iterations, and the client's key cache.
//!
//! The draft has no example exchange. The vectors below take RFC 7677's inputs (user `user`,
//! password `pencil`, its nonces and salt) with SHA-512 and 10000 iterations, and were
//! computed with Python's `hashlib`/`hmac` by `python3 scripts/scram-sha512-vectors.py`
//! (its output is pasted here unchanged).

mod support;

use std::sync::Arc;

use saslmech::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, Credentials, Error, Failure,
    Mechanism, NonceSource, Request, ScramClientCache, ScramHash, ScramKeys, ServerConfig,
    ServerSession, Transport, b64, select,
};
use support::exchange::{Exchange, pair};
use support::{Out, hex, own};

// scripts/scram-sha512-vectors.py: "salted", "stored", "server", "rfc5803".
const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const SALTED: &str = "5d3074221719fd9af16d143d93949298034185960acc0f261a76a3cc4100c6a15f3bbed6bae596b44b79b5c4608f252ffb4baed0e0d8c0aad3c58d30bc829835";
const STORED: &str = "a1310d29128cf1d0882b6f0187cc5032947f0e5dfd064931e53eef7e6d90190a52d03ef99ef0ef22a4c872c23eda94532135f14f839627aee2507e0c257cfdb0";
const SERVER: &str = "227165c223010cafb81facbbfe536a441160bfc57b6eeff98d5c668c48c77db4f7e84d78b9398b6248f7d9b33ad02a391f9b2e7dd91f3617cb37c76f830ecb0f";
const RFC5803: &str = "SCRAM-SHA-512$10000:W22ZaJ0SNY7soEsUEjb6gQ==$oTENKRKM8dCIK28Bh8xQMpR/Dl39Bkkx5T7vfm2QGQpS0D75nvDvIqTIcsI+2pRTITXxT4OWJ67iUH4MJXz9sA==:InFlwiMBDK+4H6y7/lNqRBFgv8V7bu/5jVxmjEjHfbT36E14uTmLYkj32bM60Co5H5sufdkfNhfLN8dvgw7LDw==";

/// One exchange: the four messages and the nonces that reproduce them.
struct Vector {
    mechanism: Mechanism,
    client_first: &'static str,
    server_first: &'static str,
    client_final: &'static str,
    server_final: &'static str,
}

const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

// scripts/scram-sha512-vectors.py: "SCRAM-SHA-512".
const PLAIN: Vector = Vector {
    mechanism: Mechanism::ScramSha512,
    client_first: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000",
    client_final: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=sScffJ11LZ4TfY4PVI/6/9rMIHpix12AijdjQOPWK26er2vRtW/osDSi/hegaCFWfI91sJZd0bevncVEhUg0wQ==",
    server_final: "v=RjtcFh+1kT0TmNH2klLiCXHiJLvMLwWuSSjecIns8FBSn0XXRb3iv2qU96STCkYC2Go0feONylPqhw46oweC5A==",
};

// scripts/scram-sha512-vectors.py: "SCRAM-SHA-512-PLUS" (tls-exporter, data 0x00..0x1f).
const PLUS: Vector = Vector {
    mechanism: Mechanism::ScramSha512Plus,
    client_first: "p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000",
    client_final: "c=cD10bHMtZXhwb3J0ZXIsLAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=t0yfv17xcBWuyidiOUM5kkGBt9LOwsSnkPDr5f9USWPTFbiZBW0kXtCL8mt+b/8hbVfSLc6EqGFgUY+SJH1QOw==",
    server_final: "v=8PXJwZ2HkfzR0MuUm74ZGZGftUnIvzYXq8i/HKsuSEzq/3JMsUYfH33b9paiQmMlo4wmhOeamW/uyqaYKkngyQ==",
};

const SHA512_MECHS: [Mechanism; 2] = [Mechanism::ScramSha512, Mechanism::ScramSha512Plus];

fn cb_data() -> Vec<u8> {
    (0u8..32).collect()
}

fn keys() -> ScramKeys {
    let salt = b64::decode(SALT.as_bytes()).unwrap();
    ScramKeys::new(
        ScramHash::Sha512,
        salt.as_slice(),
        10_000,
        &hex(STORED),
        &hex(SERVER),
    )
    .unwrap()
}

/// A server configuration offering SCRAM-SHA-512 (not on by default).
fn server_config() -> ServerConfig {
    ServerConfig::new()
        .mechanisms(&SHA512_MECHS)
        .scram_secret(b"test secret")
}

fn tls_with_cb(success_data: bool) -> Transport {
    Transport::tls()
        .with_success_data(success_data)
        .with_channel_binding(ChannelBindingType::TlsExporter, &cb_data())
}

/// RFC 7677's client nonce; channel-binding data for -PLUS (without -PLUS a client that has
/// it would send the `y` flag).
fn client_config(m: Mechanism) -> ClientConfig {
    let config = ClientConfig::new().nonce_source(NonceSource::Fixed(CLIENT_NONCE.into()));
    if m.channel_binding() {
        config.channel_binding(ChannelBindingType::TlsExporter, &cb_data())
    } else {
        config
    }
}

#[test]
fn keys_match_the_independent_computation() {
    let salt = b64::decode(SALT.as_bytes()).unwrap();
    let derived = ScramKeys::derive(ScramHash::Sha512, b"pencil", salt.as_slice(), 10_000).unwrap();
    assert_eq!(derived, keys());
    assert_eq!(derived.stored_key(), hex(STORED).as_slice());
    assert_eq!(derived.server_key(), hex(SERVER).as_slice());
    assert_eq!(derived.to_rfc5803(), RFC5803);
    assert_eq!(ScramKeys::from_rfc5803(RFC5803).unwrap(), derived);
    // The scheme is case-insensitive; a key of SHA-256's length is not a SHA-512 entry.
    assert_eq!(
        ScramKeys::from_rfc5803(&RFC5803.replace("SCRAM-SHA-512", "scram-sha-512")).unwrap(),
        derived
    );
    let short = format!(
        "SCRAM-SHA-512$10000:{SALT}${}:{}",
        b64::encode(&[1; 32]),
        b64::encode(&[2; 32])
    );
    assert!(ScramKeys::from_rfc5803(&short).is_err());
    // From SaltedPassword, and the wrong length refused.
    let from_salted =
        ScramKeys::from_salted_password(ScramHash::Sha512, &hex(SALTED), salt.as_slice(), 10_000)
            .unwrap();
    assert_eq!(from_salted, derived);
    assert!(matches!(
        ScramKeys::from_salted_password(ScramHash::Sha512, &[0; 32], b"s", 1),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(
        ScramHash::of(Mechanism::ScramSha512Plus),
        Some(ScramHash::Sha512)
    );
    assert_eq!(ScramHash::Sha512.output_len(), 64);
    assert_eq!(ScramHash::Sha512.name(), "SCRAM-SHA-512");
}

/// Replay a vector against our server (stored keys) in both success-data modes.
fn server_vector(v: &Vector) {
    for success_data in [true, false] {
        let t = if v.mechanism.channel_binding() {
            tls_with_cb(success_data)
        } else {
            Transport::tls().with_success_data(success_data)
        };
        let config = Arc::new(
            server_config().nonce_source(NonceSource::Fixed(SERVER_NONCE.as_bytes().to_vec())),
        );
        let mut s = ServerSession::new(&config, v.mechanism, &t).unwrap();
        assert_eq!(
            own(s.start(Some(v.client_first.as_bytes())).unwrap()),
            Out::Request
        );
        match s.request().unwrap() {
            Request::Secret(r) => {
                assert_eq!(r.authcid(), "user");
                assert_eq!(r.mechanism(), v.mechanism);
            }
            other => panic!("{other:?}"),
        }
        let keys = keys();
        assert_eq!(
            own(s.answer(Answer::ScramKeys(&keys)).unwrap()),
            Out::Challenge(v.server_first.as_bytes().to_vec())
        );
        let after_final = own(s.step(v.client_final.as_bytes()).unwrap());
        if success_data {
            assert_eq!(
                after_final,
                Out::Success {
                    authcid: "user".into(),
                    authzid: None,
                    data: Some(v.server_final.as_bytes().to_vec()),
                }
            );
        } else {
            assert_eq!(
                after_final,
                Out::Challenge(v.server_final.as_bytes().to_vec())
            );
            assert!(matches!(own(s.step(b"").unwrap()), Out::Success { .. }));
        }
    }
}

/// Replay a vector against our client.
fn client_vector(v: &Vector) {
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let mut c =
        ClientSession::with_config(v.mechanism, &creds, &client_config(v.mechanism)).unwrap();
    assert_eq!(c.start().unwrap(), Some(v.client_first.as_bytes()));
    assert_eq!(
        c.step(v.server_first.as_bytes()).unwrap(),
        v.client_final.as_bytes()
    );
    c.finish(Some(v.server_final.as_bytes())).unwrap();
    // The cache holds SHA-512 keys: a second login needs no PBKDF2 and sends the same proof.
    let cache = c.scram_cache().unwrap().clone();
    assert_eq!(cache.hash(), ScramHash::Sha512);
    assert_eq!(cache.iterations(), 10_000);
    let creds = Credentials::new().authcid("user").scram_cache(&cache);
    let mut c =
        ClientSession::with_config(v.mechanism, &creds, &client_config(v.mechanism)).unwrap();
    c.start().unwrap();
    assert_eq!(
        c.step(v.server_first.as_bytes()).unwrap(),
        v.client_final.as_bytes()
    );
    c.finish(Some(v.server_final.as_bytes())).unwrap();
    // A forged server signature (right length, wrong bits) is refused.
    let mut c =
        ClientSession::with_config(v.mechanism, &creds, &client_config(v.mechanism)).unwrap();
    c.start().unwrap();
    c.step(v.server_first.as_bytes()).unwrap();
    let forged = format!("v={}", b64::encode(&[7u8; 64]));
    assert_eq!(
        c.finish(Some(forged.as_bytes())).unwrap_err(),
        Error::Failed(Failure::ServerAuthentication)
    );
}

#[test]
fn vector_server_from_stored_keys() {
    server_vector(&PLAIN);
}

#[test]
fn vector_client() {
    client_vector(&PLAIN);
}

#[test]
fn plus_vector_server() {
    server_vector(&PLUS);
}

#[test]
fn plus_vector_client() {
    client_vector(&PLUS);
}

#[test]
fn cache_from_salted_password_matches() {
    let salt = b64::decode(SALT.as_bytes()).unwrap();
    let cache = ScramClientCache::from_salted_password(
        ScramHash::Sha512,
        &hex(SALTED),
        salt.as_slice(),
        10_000,
    )
    .unwrap();
    let creds = Credentials::new().authcid("user").scram_cache(&cache);
    let mut c = ClientSession::with_config(
        Mechanism::ScramSha512,
        &creds,
        &client_config(Mechanism::ScramSha512),
    )
    .unwrap();
    c.start().unwrap();
    assert_eq!(
        c.step(PLAIN.server_first.as_bytes()).unwrap(),
        PLAIN.client_final.as_bytes()
    );
}

fn pair_512(
    mechanism: Mechanism,
    password: &[u8],
    success_data: bool,
    answer_with: &str,
) -> Exchange {
    let creds = Credentials::new().authcid("user").password(password);
    let (transport, config) = if mechanism.channel_binding() {
        (
            tls_with_cb(success_data),
            ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, &cb_data()),
        )
    } else {
        (
            Transport::tls().with_success_data(success_data),
            ClientConfig::new(),
        )
    };
    let keys = keys();
    pair(
        mechanism,
        &creds,
        &config,
        server_config(),
        &transport,
        |req| match req {
            Request::Secret(r) if r.authcid() == "user" => {
                assert_eq!(r.mechanism(), mechanism);
                match answer_with {
                    "keys" => Answer::ScramKeys(&keys),
                    "password" => Answer::Password(b"pencil"),
                    _ => Answer::UnknownUser,
                }
            }
            other => panic!("{other:?}"),
        },
    )
}

#[test]
fn pairs_with_and_without_channel_binding() {
    for m in SHA512_MECHS {
        for success_data in [true, false] {
            for answer in ["keys", "password"] {
                let o = pair_512(m, b"pencil", success_data, answer);
                assert_eq!(o.server, Ok(("user".into(), None)), "{m} {answer}");
                o.client.unwrap();
                // The server proves itself with a 64-octet signature.
                let v = o
                    .success_data
                    .as_ref()
                    .or(o.challenges.last())
                    .unwrap()
                    .as_slice()
                    .to_vec();
                let sig = b64::decode(v.strip_prefix(b"v=").unwrap()).unwrap();
                assert_eq!(sig.as_slice().len(), 64);
                // Known users from a plaintext password get the draft's 10000 iterations
                // (SCRAM-SHA-256's default is 4096); the stored keys have 10000 too.
                assert!(
                    o.challenges[0].as_slice().ends_with(b",i=10000"),
                    "{:?}",
                    o.challenges[0].as_slice()
                );
            }
        }
    }
}

#[test]
fn wrong_password_and_unknown_user_fail() {
    for m in SHA512_MECHS {
        for answer in ["keys", "password", "unknown"] {
            let o = pair_512(m, b"pencil2", true, answer);
            assert_eq!(o.server, Err(Failure::BadCredentials), "{m} {answer}");
            assert!(o.client.is_err());
        }
        let o = pair_512(m, b"pencil", true, "unknown");
        assert_eq!(o.server, Err(Failure::BadCredentials));
    }
}

/// The server-first message for `user`, answered with `answer`, after the nonce.
fn salt_part(config: &Arc<ServerConfig>, user: &str, answer: Answer<'_>) -> String {
    let mut s = ServerSession::new(config, Mechanism::ScramSha512, &Transport::tls()).unwrap();
    let first = format!("n,,n={user},r=abc");
    assert_eq!(own(s.start(Some(first.as_bytes())).unwrap()), Out::Request);
    match own(s.answer(answer).unwrap()) {
        Out::Challenge(c) => String::from_utf8(c)
            .unwrap()
            .split_once(",s=")
            .unwrap()
            .1
            .to_owned(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_users_look_like_plaintext_users() {
    let a = Arc::new(server_config());
    let unknown = salt_part(&a, "mallory", Answer::UnknownUser);
    assert_eq!(unknown, salt_part(&a, "mallory", Answer::UnknownUser));
    assert_eq!(unknown, salt_part(&a, "mallory", Answer::Password(b"pw")));
    assert_ne!(unknown, salt_part(&a, "trudy", Answer::UnknownUser));
    assert!(unknown.ends_with(",i=10000"), "{unknown}");
    // The fake salt differs from SCRAM-SHA-256's for the same user (the hash name is mixed in).
    let mut s = ServerSession::new(
        &Arc::new(ServerConfig::new().scram_secret(b"test secret")),
        Mechanism::ScramSha256,
        &Transport::tls(),
    )
    .unwrap();
    let _ = s.start(Some(b"n,,n=mallory,r=abc")).unwrap();
    let sha256 = match own(s.answer(Answer::UnknownUser).unwrap()) {
        Out::Challenge(c) => String::from_utf8(c).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(!sha256.contains(unknown.split_once(',').unwrap().0));
    // A configured count holds for every hash, SCRAM-SHA-512 too.
    for n in [4096, 20_000] {
        let c = Arc::new(server_config().scram_iterations(n));
        let part = salt_part(&c, "mallory", Answer::UnknownUser);
        assert!(part.ends_with(&format!(",i={n}")), "{part}");
    }
}

#[test]
fn keys_of_another_hash_are_a_wrong_answer() {
    let config = Arc::new(server_config());
    let mut s = ServerSession::new(&config, Mechanism::ScramSha512, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"n,,n=user,r=abc")).unwrap();
    let k256 = ScramKeys::derive(ScramHash::Sha256, b"pencil", b"salt", 4096).unwrap();
    assert_eq!(
        s.answer(Answer::ScramKeys(&k256)).unwrap_err(),
        Error::WrongAnswer
    );
}

#[test]
fn not_offered_unless_enabled() {
    let default = Arc::new(ServerConfig::new());
    for m in SHA512_MECHS {
        assert_eq!(
            ServerSession::new(&default, m, &tls_with_cb(true)).unwrap_err(),
            Failure::MechanismUnavailable
        );
    }
    // And a client takes it when a server offers it.
    let opts = saslmech::SelectOptions::password(true);
    assert_eq!(
        select(["SCRAM-SHA-512", "PLAIN"], opts),
        Some(Mechanism::ScramSha512)
    );
    assert_eq!(
        select(
            ["SCRAM-SHA-512-PLUS", "SCRAM-SHA-512"],
            opts.channel_binding(true)
        ),
        Some(Mechanism::ScramSha512Plus)
    );
}

#[test]
fn proof_of_sha256_length_is_malformed() {
    let config = Arc::new(
        server_config().nonce_source(NonceSource::Fixed(SERVER_NONCE.as_bytes().to_vec())),
    );
    let mut s = ServerSession::new(&config, Mechanism::ScramSha512, &Transport::tls()).unwrap();
    let _ = s.start(Some(PLAIN.client_first.as_bytes())).unwrap();
    let keys = keys();
    let _ = s.answer(Answer::ScramKeys(&keys)).unwrap();
    let short = format!(
        "c=biws,r={CLIENT_NONCE}{SERVER_NONCE},p={}",
        b64::encode(&[0u8; 32])
    );
    assert_eq!(
        own(s.step(short.as_bytes()).unwrap()),
        Out::Failure(Failure::Malformed)
    );
}
