//! SCRAM-SHA-1, SCRAM-SHA-256 and -PLUS (RFC 5802, RFC 7677, RFC 9266): the RFC exchanges
//! byte for byte, stored keys and RFC 5803's text form, both success-data paths, the strict
//! grammar of RFC 5802 §7 on both sides, channel-binding rules, SASLprep, fake salts for
//! unknown users, the client's key cache, and mutation tests.

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use saslmech::{
    Answer, ChannelBindingType, ClientConfig, ClientSession, Credentials, Error, Failure,
    Mechanism, NonceSource, Request, ScramClientCache, ScramHash, ScramKeys, ServerConfig,
    ServerSession, ServerStep, Transport, b64,
};
use support::exchange::{Exchange, pair};
use support::{Out, hex, own};

const SHA1_SALT: &str = "QSXCR+Q6sek8bf92";
const SHA1_STORED: &str = "e9d94660c39d65c38fbad91c358f14da0eef2bd6";
const SHA1_SERVER: &str = "0fe09258b3ac852ba502cc62ba903eaacdbf7d31";
const SHA1_SALTED: &str = "1d96ee3a529b5a5f9e47c01f229a2cb8a6e15f7d";
const SHA256_SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const SHA256_STORED: &str = "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6";
const SHA256_SERVER: &str = "c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5";
const SHA256_SALTED: &str = "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d";

/// One RFC exchange: the four messages and the nonces that reproduce them.
struct Vector {
    mechanism: Mechanism,
    client_nonce: &'static str,
    server_nonce: &'static str,
    client_first: &'static str,
    server_first: &'static str,
    client_final: &'static str,
    server_final: &'static str,
}

const RFC5802: Vector = Vector {
    mechanism: Mechanism::ScramSha1,
    client_nonce: "fyko+d2lbbFgONRv9qkxdawL",
    server_nonce: "3rfcNHYJY1ZVvWVs7j",
    client_first: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    server_first: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    client_final: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    server_final: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};

const RFC7677: Vector = Vector {
    mechanism: Mechanism::ScramSha256,
    client_nonce: "rOprNGfwEbeRWgbNEkqO",
    server_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    client_first: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    client_final: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    server_final: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

/// The self-computed SCRAM-SHA-256-PLUS vector (tls-exporter, cb-data 0x00..0x1f).
const PLUS: Vector = Vector {
    mechanism: Mechanism::ScramSha256Plus,
    client_nonce: "rOprNGfwEbeRWgbNEkqO",
    server_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    client_first: "p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    client_final: "c=cD10bHMtZXhwb3J0ZXIsLAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=QC6CS20quADQRb3mT99YUH+n3VJxUvzuK0K0E1Vrs2M=",
    server_final: "v=2GiAgapEppLVlUXbxUDksL3VgYHzuqiK5tR4mhJGgvs=",
};

fn cb_data() -> Vec<u8> {
    (0u8..32).collect()
}

fn keys_sha1() -> ScramKeys {
    let salt = b64::decode(SHA1_SALT.as_bytes()).unwrap();
    ScramKeys::new(
        ScramHash::Sha1,
        salt.as_slice(),
        4096,
        &hex(SHA1_STORED),
        &hex(SHA1_SERVER),
    )
    .unwrap()
}

fn keys_sha256() -> ScramKeys {
    let salt = b64::decode(SHA256_SALT.as_bytes()).unwrap();
    ScramKeys::new(
        ScramHash::Sha256,
        salt.as_slice(),
        4096,
        &hex(SHA256_STORED),
        &hex(SHA256_SERVER),
    )
    .unwrap()
}

fn keys_for(m: Mechanism) -> ScramKeys {
    match ScramHash::of(m).unwrap() {
        ScramHash::Sha1 => keys_sha1(),
        _ => keys_sha256(),
    }
}

fn server_config(server_nonce: &str) -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::new()
            .nonce_source(NonceSource::Fixed(server_nonce.as_bytes().to_vec()))
            .scram_secret(b"test secret"),
    )
}

fn tls_with_cb(success_data: bool) -> Transport {
    Transport::tls()
        .with_success_data(success_data)
        .with_channel_binding(ChannelBindingType::TlsExporter, &cb_data())
}

fn client_config(nonce: &str) -> ClientConfig {
    ClientConfig::new().nonce_source(NonceSource::Fixed(nonce.as_bytes().to_vec()))
}

/// Replay a vector against our server (stored keys only) in both success-data modes.
fn server_vector(v: &Vector, transport: Transport) {
    for success_data in [true, false] {
        let t = transport.clone().with_success_data(success_data);
        let mut s = ServerSession::new(&server_config(v.server_nonce), v.mechanism, &t).unwrap();
        match own(s.start(Some(v.client_first.as_bytes())).unwrap()) {
            Out::Request => {}
            other => panic!("{other:?}"),
        }
        match s.request().unwrap() {
            Request::Secret(r) => {
                assert_eq!(r.authcid(), "user");
                assert_eq!(r.mechanism(), v.mechanism);
            }
            other => panic!("{other:?}"),
        }
        let keys = keys_for(v.mechanism);
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
            // SMTP, IMAP, POP3: `v=` is one more challenge, answered by an empty response.
            assert_eq!(
                after_final,
                Out::Challenge(v.server_final.as_bytes().to_vec())
            );
            assert_eq!(
                own(s.step(b"").unwrap()),
                Out::Success {
                    authcid: "user".into(),
                    authzid: None,
                    data: None,
                }
            );
        }
        assert_eq!(s.identity().unwrap().authcid(), "user");
    }
}

/// Replay a vector against our client, with the server-final message as success data and as
/// a challenge.
fn client_vector(v: &Vector, config: ClientConfig) {
    let creds = Credentials::new().authcid("user").password(b"pencil");
    for via_challenge in [false, true] {
        let mut c = ClientSession::with_config(v.mechanism, &creds, &config).unwrap();
        assert_eq!(c.start().unwrap(), Some(v.client_first.as_bytes()));
        assert_eq!(
            c.step(v.server_first.as_bytes()).unwrap(),
            v.client_final.as_bytes()
        );
        if via_challenge {
            assert_eq!(c.step(v.server_final.as_bytes()).unwrap(), b"");
            c.finish(None).unwrap();
        } else {
            c.finish(Some(v.server_final.as_bytes())).unwrap();
        }
        assert!(c.is_finished());
    }
}

#[test]
fn rfc5802_server_from_stored_keys() {
    server_vector(&RFC5802, Transport::tls());
}

#[test]
fn rfc5802_client() {
    client_vector(&RFC5802, client_config(RFC5802.client_nonce));
}

#[test]
fn rfc7677_server_from_stored_keys() {
    server_vector(&RFC7677, Transport::tls());
}

#[test]
fn rfc7677_client() {
    client_vector(&RFC7677, client_config(RFC7677.client_nonce));
}

#[test]
fn plus_tls_exporter_server() {
    server_vector(&PLUS, tls_with_cb(true));
}

#[test]
fn plus_tls_exporter_client() {
    client_vector(
        &PLUS,
        client_config(PLUS.client_nonce)
            .channel_binding(ChannelBindingType::TlsExporter, &cb_data()),
    );
}

#[test]
fn rfc_keys_derive_and_rfc5803_round_trip() {
    let salt = b64::decode(SHA1_SALT.as_bytes()).unwrap();
    let k = ScramKeys::derive(ScramHash::Sha1, b"pencil", salt.as_slice(), 4096).unwrap();
    assert_eq!(k, keys_sha1());
    assert_eq!(
        ScramKeys::from_salted_password(ScramHash::Sha1, &hex(SHA1_SALTED), salt.as_slice(), 4096)
            .unwrap(),
        k
    );
    let salt = b64::decode(SHA256_SALT.as_bytes()).unwrap();
    let k = ScramKeys::derive(ScramHash::Sha256, b"pencil", salt.as_slice(), 4096).unwrap();
    assert_eq!(k, keys_sha256());
    assert_eq!(
        ScramKeys::from_salted_password(
            ScramHash::Sha256,
            &hex(SHA256_SALTED),
            salt.as_slice(),
            4096
        )
        .unwrap(),
        k
    );
    let text = k.to_rfc5803();
    assert_eq!(
        text,
        format!(
            "SCRAM-SHA-256$4096:{SHA256_SALT}${}:{}",
            b64::encode(&hex(SHA256_STORED)),
            b64::encode(&hex(SHA256_SERVER))
        )
    );
    let parsed = ScramKeys::from_rfc5803(&text).unwrap();
    assert_eq!(parsed, k);
    assert_eq!(parsed.iterations(), 4096);
    assert_eq!(parsed.stored_key(), hex(SHA256_STORED));
    assert_eq!(parsed.server_key(), hex(SHA256_SERVER));
    // Debug shows no key material.
    let dbg = format!("{parsed:?}");
    assert!(!dbg.contains(&b64::encode(&hex(SHA256_STORED))), "{dbg}");
    for bad in [
        "",
        "SCRAM-SHA-256",
        "SCRAM-SHA-512$4096:QSXCR+Q6sek8bf92$AAAA:AAAA",
        "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAA",
        "SCRAM-SHA-256$4096::$AAAA:AAAA",
        &text.replace('$', "#"),
        &format!("{text}x"),
        // A SHA-1 entry's key lengths under the SHA-256 name.
        &keys_sha1()
            .to_rfc5803()
            .replace("SCRAM-SHA-1", "SCRAM-SHA-256"),
    ] {
        assert!(ScramKeys::from_rfc5803(bad).is_err(), "{bad:?}");
    }
    let g = ScramKeys::generate(ScramHash::Sha256, b"pencil", 4096).unwrap();
    assert_eq!(g.salt().len(), ScramKeys::SALT_LEN);
    assert_ne!(g, k);
}

#[test]
fn cbind_values_for_authzid_and_y_flag() {
    // `n,a=admin,` -> c=bixhPWFkbWluLA==
    let creds = Credentials::new()
        .authcid("user")
        .password(b"pencil")
        .authzid("admin");
    let mut c =
        ClientSession::with_config(Mechanism::ScramSha256, &creds, &client_config("abc")).unwrap();
    assert_eq!(c.start().unwrap(), Some(&b"n,a=admin,n=user,r=abc"[..]));
    let r = c.step(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
    assert!(r.starts_with(b"c=bixhPWFkbWluLA==,r=abcdef,p="), "{r:?}");
    // A client with channel binding using plain SCRAM says `y`: c=eSws.
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let config = client_config("abc").channel_binding(ChannelBindingType::TlsExporter, &cb_data());
    let mut c = ClientSession::with_config(Mechanism::ScramSha256, &creds, &config).unwrap();
    assert_eq!(c.start().unwrap(), Some(&b"y,,n=user,r=abc"[..]));
    let r = c.step(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
    assert!(r.starts_with(b"c=eSws,r=abcdef,p="), "{r:?}");
    // -PLUS without channel-binding data is a usage error.
    assert!(matches!(
        ClientSession::new(Mechanism::ScramSha256Plus, &creds),
        Err(Error::InvalidArgument(_))
    ));
}

fn pair_scram(
    mechanism: Mechanism,
    password: &[u8],
    authzid: Option<&str>,
    success_data: bool,
    answer_with: &str,
) -> Exchange {
    let mut creds = Credentials::new().authcid("user").password(password);
    if let Some(z) = authzid {
        creds = creds.authzid(z);
    }
    let mut transport = Transport::tls().with_success_data(success_data);
    let mut config = ClientConfig::new();
    if mechanism.channel_binding() {
        transport = tls_with_cb(success_data);
        config = config.channel_binding(ChannelBindingType::TlsExporter, &cb_data());
    }
    let keys = keys_for(mechanism);
    pair(
        mechanism,
        &creds,
        &config,
        ServerConfig::new().scram_secret(b"k"),
        &transport,
        |req| match req {
            Request::Secret(r) if r.authcid() == "user" => match answer_with {
                "keys" => Answer::ScramKeys(&keys),
                "password" => Answer::Password(b"pencil"),
                _ => Answer::UnknownUser,
            },
            Request::Secret(_) => Answer::UnknownUser,
            Request::Authorize(a) => {
                if a.authcid() == "user" && a.authzid() == "admin" {
                    Answer::Accept
                } else {
                    Answer::Reject
                }
            }
            other => panic!("{other:?}"),
        },
    )
}

const SCRAMS: [Mechanism; 4] = [
    Mechanism::ScramSha1,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha256,
    Mechanism::ScramSha256Plus,
];

#[test]
fn pairs_succeed_in_both_success_data_modes() {
    for m in SCRAMS {
        for success_data in [true, false] {
            for answer in ["keys", "password"] {
                let o = pair_scram(m, b"pencil", None, success_data, answer);
                assert_eq!(
                    o.server,
                    Ok(("user".into(), None)),
                    "{m} {success_data} {answer}"
                );
                o.client.unwrap();
                // Success data is either carried with success or sent as a last challenge.
                assert_eq!(o.success_data.is_some(), success_data);
                assert_eq!(o.challenges.len(), if success_data { 1 } else { 2 });
                assert!(o.challenges.last().unwrap().as_slice().starts_with(b"v=") != success_data);
                assert_eq!(o.responses.last().unwrap().is_empty(), !success_data);
            }
        }
    }
}

#[test]
fn authzid_goes_through_authorize() {
    for m in SCRAMS {
        for success_data in [true, false] {
            let o = pair_scram(m, b"pencil", Some("admin"), success_data, "keys");
            assert_eq!(o.server, Ok(("user".into(), Some("admin".into()))));
            o.client.unwrap();
            let o = pair_scram(m, b"pencil", Some("root"), success_data, "keys");
            assert_eq!(o.server, Err(Failure::AuthzDenied));
        }
    }
}

#[test]
fn wrong_password_and_unknown_user_never_succeed() {
    for m in SCRAMS {
        for success_data in [true, false] {
            for answer in ["keys", "password", "unknown"] {
                let o = pair_scram(m, b"pencil2", None, success_data, answer);
                assert_eq!(o.server, Err(Failure::BadCredentials), "{m} {answer}");
                assert!(o.client.is_err());
            }
            let o = pair_scram(m, b"pencil", None, success_data, "unknown");
            assert_eq!(o.server, Err(Failure::BadCredentials));
        }
    }
}

/// The server-first message for `user`, answered with `answer`.
fn server_first(config: &Arc<ServerConfig>, user: &str, answer: Answer<'_>) -> Vec<u8> {
    let mut s = ServerSession::new(config, Mechanism::ScramSha256, &Transport::tls()).unwrap();
    let first = format!("n,,n={user},r=abc");
    assert_eq!(own(s.start(Some(first.as_bytes())).unwrap()), Out::Request);
    match own(s.answer(answer).unwrap()) {
        Out::Challenge(c) => c,
        other => panic!("{other:?}"),
    }
}

/// The salt and iteration part of a server-first message (after the nonce).
fn salt_part(server_first: &[u8]) -> String {
    let s = String::from_utf8(server_first.to_vec()).unwrap();
    s.split_once(",s=").unwrap().1.to_owned()
}

#[test]
fn unknown_users_get_deterministic_fake_salts() {
    let a = Arc::new(ServerConfig::new().scram_secret(b"secret one"));
    let b = Arc::new(ServerConfig::new().scram_secret(b"secret two"));
    let x1 = salt_part(&server_first(&a, "mallory", Answer::UnknownUser));
    let x2 = salt_part(&server_first(&a, "mallory", Answer::UnknownUser));
    let y = salt_part(&server_first(&a, "trudy", Answer::UnknownUser));
    let z = salt_part(&server_first(&b, "mallory", Answer::UnknownUser));
    assert_eq!(x1, x2, "same user, same secret: same salt");
    assert_ne!(x1, y, "different users: different salts");
    assert_ne!(x1, z, "different secret: different salt");
    assert!(x1.ends_with(",i=4096"), "{x1}");
    let salt = b64::decode(x1.split_once(',').unwrap().0.as_bytes()).unwrap();
    assert_eq!(salt.len(), ScramKeys::SALT_LEN);
    // A user whose plaintext password the application gives looks the same as an unknown
    // one: same salt, same iteration count.
    let p = salt_part(&server_first(&a, "mallory", Answer::Password(b"pw")));
    assert_eq!(p, x1);
    // The configured iteration count is used.
    let c = Arc::new(
        ServerConfig::new()
            .scram_secret(b"secret one")
            .scram_iterations(10_000),
    );
    assert!(salt_part(&server_first(&c, "mallory", Answer::UnknownUser)).ends_with(",i=10000"));
    // The nonce is random by default: two sessions differ.
    let n1 = server_first(&a, "mallory", Answer::UnknownUser);
    let n2 = server_first(&a, "mallory", Answer::UnknownUser);
    assert_ne!(n1, n2);
}

#[test]
fn wrong_keys_for_the_hash_are_a_wrong_answer() {
    let config = server_config("srv");
    let mut s = ServerSession::new(&config, Mechanism::ScramSha256, &Transport::tls()).unwrap();
    let _ = s.start(Some(b"n,,n=user,r=abc")).unwrap();
    let k1 = keys_sha1();
    assert_eq!(
        s.answer(Answer::ScramKeys(&k1)).unwrap_err(),
        Error::WrongAnswer
    );
    assert_eq!(s.answer(Answer::Accept).unwrap_err(), Error::WrongAnswer);
    // Still pending, and a right answer works.
    assert!(s.request().is_some());
    let k = keys_sha256();
    assert!(matches!(
        own(s.answer(Answer::ScramKeys(&k)).unwrap()),
        Out::Challenge(_)
    ));
}

/// Run the server through the client-first message and the stored-keys answer; returns the
/// failure or the step after it.
fn server_after_first(mechanism: Mechanism, transport: &Transport, client_first: &[u8]) -> Out {
    let config = server_config("srv");
    let mut s = ServerSession::new(&config, mechanism, transport).unwrap();
    match own(s.start(Some(client_first)).unwrap()) {
        Out::Request => {}
        other => return other,
    }
    let k = keys_for(mechanism);
    own(s.answer(Answer::ScramKeys(&k)).unwrap())
}

#[test]
fn server_rejects_bad_client_first() {
    let tls = Transport::tls();
    let cases: &[(&[u8], Failure)] = &[
        (b"", Failure::Malformed),
        (b"n", Failure::Malformed),
        (b"n,", Failure::Malformed),
        (b"n,,", Failure::Malformed),
        (b"x,,n=user,r=abc", Failure::Malformed),
        (b"n,,m=ext,n=user,r=abc", Failure::Malformed), // mandatory extension
        (b"n,,r=abc,n=user", Failure::Malformed),       // attribute order
        (b"n,,n=user", Failure::Malformed),
        (b"n,,n=user,r=", Failure::Malformed),
        (b"n,,n=,r=abc", Failure::Malformed),
        (b"n,,n=us=2er,r=abc", Failure::Malformed), // invalid escape
        (b"n,,n=us=,r=abc", Failure::Malformed),
        (b"n,,n=user,r=a\x01c", Failure::Malformed),
        (b"n,,n=user,r=abc,", Failure::Malformed),
        (b"n,,n=user,r=abc,1=x", Failure::Malformed),
        (b"n,z=x,n=user,r=abc", Failure::Malformed),
        (b"n,a=,n=user,r=abc", Failure::Malformed),
        (b"n,,n=us\0er,r=abc", Failure::Malformed),
        (b"n,,n=\xff,r=abc", Failure::Malformed),
        (b"p=,,n=user,r=abc", Failure::Malformed),
        (b"p=tls exporter,,n=user,r=abc", Failure::Malformed),
        // Channel-binding policy, on a server without channel-binding data:
        (b"p=tls-exporter,,n=user,r=abc", Failure::ChannelBinding), // -PLUS flag, plain mech
    ];
    for (msg, failure) in cases {
        assert_eq!(
            server_after_first(Mechanism::ScramSha256, &tls, msg),
            Out::Failure(*failure),
            "{}",
            String::from_utf8_lossy(msg)
        );
    }
    // Extensions after the nonce are allowed; escapes decode.
    let config = server_config("srv");
    let mut s = ServerSession::new(&config, Mechanism::ScramSha256, &tls).unwrap();
    assert_eq!(
        own(s.start(Some(b"n,,n=a=2Cb=3Dc,r=abc,x=ext")).unwrap()),
        Out::Request
    );
    match s.request().unwrap() {
        Request::Secret(r) => assert_eq!(r.authcid(), "a,b=c"),
        other => panic!("{other:?}"),
    }
    // An initial response is optional: an empty challenge asks for the client-first message.
    let mut s = ServerSession::new(&config, Mechanism::ScramSha1, &tls).unwrap();
    assert_eq!(own(s.start(None).unwrap()), Out::Challenge(Vec::new()));
    assert_eq!(own(s.step(b"n,,n=user,r=abc").unwrap()), Out::Request);
}

#[test]
fn server_channel_binding_rules() {
    let with_cb = tls_with_cb(true);
    let plain_tls = Transport::tls();
    // `y` when the server offers -PLUS on this connection: a downgrade.
    assert_eq!(
        server_after_first(Mechanism::ScramSha256, &with_cb, b"y,,n=user,r=abc"),
        Out::Failure(Failure::ChannelBinding)
    );
    // `y` when the server cannot offer -PLUS is fine.
    assert!(matches!(
        server_after_first(Mechanism::ScramSha256, &plain_tls, b"y,,n=user,r=abc"),
        Out::Challenge(_)
    ));
    // `y` is also fine when -PLUS is not enabled in the configuration.
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(&[Mechanism::ScramSha256])
            .nonce_source(NonceSource::Fixed(b"srv".to_vec())),
    );
    let mut s = ServerSession::new(&config, Mechanism::ScramSha256, &with_cb).unwrap();
    assert_eq!(
        own(s.start(Some(b"y,,n=user,r=abc")).unwrap()),
        Out::Request
    );
    // A -PLUS mechanism with `n` or `y`: fail.
    for flag in ["n", "y"] {
        assert_eq!(
            server_after_first(
                Mechanism::ScramSha256Plus,
                &with_cb,
                format!("{flag},,n=user,r=abc").as_bytes()
            ),
            Out::Failure(Failure::ChannelBinding)
        );
    }
    // A type the server has no data for (tls-unique on a TLS 1.3 connection), or does not
    // know: fail closed.
    for t in ["tls-unique", "tls-server-end-point", "x-made-up"] {
        assert_eq!(
            server_after_first(
                Mechanism::ScramSha256Plus,
                &with_cb,
                format!("p={t},,n=user,r=abc").as_bytes()
            ),
            Out::Failure(Failure::ChannelBinding),
            "{t}"
        );
    }
    // -PLUS on a connection without channel-binding data is not available at all.
    let config = server_config("srv");
    assert_eq!(
        ServerSession::new(&config, Mechanism::ScramSha256Plus, &plain_tls).unwrap_err(),
        Failure::MechanismUnavailable
    );
    let offered: Vec<_> = config.offered_on(&plain_tls).collect();
    assert!(!offered.contains(&Mechanism::ScramSha256Plus));
    let offered: Vec<_> = config.offered_on(&with_cb).collect();
    assert_eq!(
        &offered[..2],
        [Mechanism::ScramSha256Plus, Mechanism::ScramSha256]
    );
    assert!(!config.offered(true).any(|m| m.channel_binding()));
}

/// Drive the RFC 7677 server to the client-final message and feed `client_final`.
fn server_final(v: &Vector, transport: &Transport, client_final: &[u8]) -> Out {
    let mut s = ServerSession::new(&server_config(v.server_nonce), v.mechanism, transport).unwrap();
    assert_eq!(
        own(s.start(Some(v.client_first.as_bytes())).unwrap()),
        Out::Request
    );
    let k = keys_for(v.mechanism);
    assert!(matches!(
        own(s.answer(Answer::ScramKeys(&k)).unwrap()),
        Out::Challenge(_)
    ));
    own(s.step(client_final).unwrap())
}

#[test]
fn server_rejects_bad_client_final() {
    let v = &RFC7677;
    let tls = Transport::tls();
    let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let cases: Vec<(String, Failure)> = vec![
        // nonce not the combined nonce
        (
            format!("c=biws,r=rOprNGfwEbeRWgbNEkqO,p={proof}"),
            Failure::Malformed,
        ),
        (format!("c=biws,r={nonce}x,p={proof}"), Failure::Malformed),
        // proof of the wrong length
        (
            format!("c=biws,r={nonce},p=dHzbZapWIk4jUhN+Ute9"),
            Failure::Malformed,
        ),
        (
            format!("c=biws,r={nonce},p={proof}AAAA"),
            Failure::Malformed,
        ),
        (format!("c=biws,r={nonce},p="), Failure::Malformed),
        (format!("c=biws,r={nonce},p=not base64"), Failure::Malformed),
        // extension after p=
        (
            format!("c=biws,r={nonce},p={proof},x=1"),
            Failure::Malformed,
        ),
        (format!("c=biws,r={nonce},p={proof},"), Failure::Malformed),
        // attribute order, missing attributes
        (format!("r={nonce},c=biws,p={proof}"), Failure::Malformed),
        (format!("c=biws,p={proof},r={nonce}"), Failure::Malformed),
        (format!("c=biws,r={nonce}"), Failure::Malformed),
        ("c=biws".to_owned(), Failure::Malformed),
        (String::new(), Failure::Malformed),
        (
            format!("c=biws,r={nonce},1=x,p={proof}"),
            Failure::Malformed,
        ),
        (format!("c=bi ws,r={nonce},p={proof}"), Failure::Malformed),
        // channel-binding input that does not match the gs2 header
        (
            format!("c=eSws,r={nonce},p={proof}"),
            Failure::ChannelBinding,
        ),
        // a wrong proof of the right length
        (
            format!("c=biws,r={nonce},p={}", b64::encode(&[0u8; 32])),
            Failure::BadCredentials,
        ),
    ];
    for (msg, failure) in cases {
        assert_eq!(
            server_final(v, &tls, msg.as_bytes()),
            Out::Failure(failure),
            "{msg}"
        );
    }
    // Extensions between the nonce and the proof are allowed by the grammar, but they are
    // part of the signed message, so the RFC proof no longer matches.
    assert_eq!(
        server_final(
            v,
            &tls,
            format!("c=biws,r={nonce},x=1,p={proof}").as_bytes()
        ),
        Out::Failure(Failure::BadCredentials)
    );
    // -PLUS: c= with the wrong channel-binding data.
    let wrong_cb =
        Transport::tls().with_channel_binding(ChannelBindingType::TlsExporter, &[9u8; 32]);
    assert_eq!(
        server_final(&PLUS, &wrong_cb, PLUS.client_final.as_bytes()),
        Out::Failure(Failure::ChannelBinding)
    );
}

/// A client that sent client-first with nonce `abc`, then gets `server_first`.
fn client_on(server_first: &[u8], config: ClientConfig) -> Result<Vec<u8>, Error> {
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let mut c = ClientSession::with_config(Mechanism::ScramSha1, &creds, &config).unwrap();
    c.start().unwrap();
    c.step(server_first).map(<[u8]>::to_vec)
}

#[test]
fn client_rejects_bad_server_first() {
    let cfg = || client_config("abc");
    let cases: &[(&[u8], Failure)] = &[
        (b"r=abcdef,s=QSXCR+Q6sek8bf92,i=0", Failure::Malformed),
        (
            b"r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999999",
            Failure::TooLarge,
        ),
        (b"r=abcdef,s=QSXCR+Q6sek8bf92,i=600001", Failure::TooLarge),
        (
            b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4095",
            Failure::MechanismTooWeak,
        ),
        (
            b"r=abcdef,s=QSXCR+Q6sek8bf92,i=1",
            Failure::MechanismTooWeak,
        ),
        (b"r=abcdef,s=QSXCR+Q6sek8bf92,i=04096", Failure::Malformed),
        (b"r=abcdef,s=QSXCR+Q6sek8bf92,i=-1", Failure::Malformed),
        (b"r=abcdef,s=QSXCR+Q6sek8bf92,i=", Failure::Malformed),
        (b"r=abcdef,s=QSXCR+Q6sek8bf92", Failure::Malformed),
        // nonce not prefixed with the client's, or with nothing added
        (b"r=xbcdef,s=QSXCR+Q6sek8bf92,i=4096", Failure::Malformed),
        (b"r=abc,s=QSXCR+Q6sek8bf92,i=4096", Failure::Malformed),
        (b"r=ab,s=QSXCR+Q6sek8bf92,i=4096", Failure::Malformed),
        (
            b"m=x,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096",
            Failure::Malformed,
        ),
        (b"r=abcdef,s=,i=4096", Failure::Malformed),
        (b"r=abcdef,s=!!!!,i=4096", Failure::Malformed),
        (b"s=QSXCR+Q6sek8bf92,r=abcdef,i=4096", Failure::Malformed),
        (b"e=other-error", Failure::Malformed),
        (b"", Failure::Malformed),
    ];
    for (msg, failure) in cases {
        assert_eq!(
            client_on(msg, cfg()),
            Err(Error::Failed(*failure)),
            "{}",
            String::from_utf8_lossy(msg)
        );
    }
    // Extensions after i= are allowed.
    assert!(client_on(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4096,x=y", cfg()).is_ok());
    // The bounds are configurable.
    let low = cfg().scram_iterations(1, 10);
    assert!(client_on(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=1", low.clone()).is_ok());
    assert_eq!(
        client_on(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=11", low),
        Err(Error::Failed(Failure::TooLarge))
    );
}

#[test]
fn client_verifies_the_server_signature() {
    let v = &RFC5802;
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let start = || {
        let mut c = ClientSession::with_config(v.mechanism, &creds, &client_config(v.client_nonce))
            .unwrap();
        c.start().unwrap();
        c.step(v.server_first.as_bytes()).unwrap();
        c
    };
    let wrong = "v=rmF9pqV8S7suAoZWja4dJRkFsKA=";
    for bad in [wrong, "v=", "v=####", "x=1", ""] {
        let mut c = start();
        // Empty data counts as none: the server claims success without its proof.
        let expected = Failure::ServerAuthentication;
        assert_eq!(
            c.finish(Some(bad.as_bytes())),
            Err(Error::Failed(expected)),
            "{bad}"
        );
        assert!(!c.is_finished());
        let mut c = start();
        if !bad.is_empty() {
            assert_eq!(
                c.step(bad.as_bytes()),
                Err(Error::Failed(expected)),
                "{bad}"
            );
        }
    }
    // Success reported with no data at all: the server never proved itself.
    let mut c = start();
    assert_eq!(
        c.finish(None),
        Err(Error::Failed(Failure::ServerAuthentication))
    );
    // A server-final error.
    let mut c = start();
    assert_eq!(
        c.step(b"e=invalid-proof"),
        Err(Error::Failed(Failure::BadCredentials))
    );
    let mut c = start();
    assert_eq!(
        c.step(b"e=channel-bindings-dont-match"),
        Err(Error::Failed(Failure::ChannelBinding))
    );
    // Success before the client even sent its proof.
    let mut c =
        ClientSession::with_config(v.mechanism, &creds, &client_config(v.client_nonce)).unwrap();
    c.start().unwrap();
    assert_eq!(
        c.finish(Some(v.server_final.as_bytes())),
        Err(Error::Failed(Failure::ServerAuthentication))
    );
    // The right signature, then more data: refused.
    let mut c = start();
    c.step(v.server_final.as_bytes()).unwrap();
    assert_eq!(
        c.finish(Some(b"v=again")),
        Err(Error::Failed(Failure::ServerAuthentication))
    );
}

#[test]
fn saslprep_applies_to_user_and_password() {
    // The client prepares "I\u{AD}X" to "IX"; a server storing keys for "IX" accepts it.
    let keys = ScramKeys::derive(ScramHash::Sha256, "\u{2168}".as_bytes(), b"salt", 4096).unwrap();
    let creds = Credentials::new()
        .authcid("us\u{AD}er")
        .password("I\u{AD}X".as_bytes());
    let o = pair(
        Mechanism::ScramSha256,
        &creds,
        &ClientConfig::new(),
        ServerConfig::new(),
        &Transport::tls(),
        |req| match req {
            Request::Secret(r) => {
                assert_eq!(r.authcid(), "user");
                Answer::ScramKeys(&keys)
            }
            other => panic!("{other:?}"),
        },
    );
    assert_eq!(o.server, Ok(("user".into(), None)));
    o.client.unwrap();
    // Prohibited characters are refused before anything is sent.
    let bad = Credentials::new().authcid("user").password(b"a\x07b");
    assert!(matches!(
        ClientSession::new(Mechanism::ScramSha256, &bad),
        Err(Error::InvalidArgument(_))
    ));
    assert!(ScramKeys::derive(ScramHash::Sha256, b"a\x07b", b"salt", 1).is_err());
    // Unassigned code points: fine in a query, refused for storage.
    assert!(ScramKeys::derive(ScramHash::Sha256, "a\u{221}".as_bytes(), b"salt", 1).is_err());
    let q = Credentials::new()
        .authcid("user")
        .password("a\u{221}".as_bytes());
    assert!(ClientSession::new(Mechanism::ScramSha256, &q).is_ok());
}

#[test]
fn random_client_nonces_differ_and_are_printable() {
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let mut a = ClientSession::new(Mechanism::ScramSha256, &creds).unwrap();
    let mut b = ClientSession::new(Mechanism::ScramSha256, &creds).unwrap();
    let fa = a.start().unwrap().unwrap().to_vec();
    let fb = b.start().unwrap().unwrap().to_vec();
    assert_ne!(fa, fb);
    let nonce = fa.strip_prefix(b"n,,n=user,r=").unwrap();
    assert_eq!(nonce.len(), 24);
    assert!(nonce.iter().all(|c| c.is_ascii_graphic() && *c != b','));
}

#[test]
fn debug_output_redacts() {
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let c = ClientSession::new(Mechanism::ScramSha256, &creds).unwrap();
    assert!(!format!("{c:?}").contains("pencil"));
    let k = keys_sha256();
    let a = format!("{:?}", Answer::ScramKeys(&k));
    assert!(!a.contains(&b64::encode(k.stored_key())), "{a}");
    let config = ClientConfig::new().channel_binding(ChannelBindingType::TlsExporter, b"SECRETCB");
    assert!(!format!("{config:?}").contains("SECRETCB"));
}

/// The whole RFC 7677 exchange from the client's side with the server messages mutated must
/// never end with a verified server.
fn mutated_server_messages(first: &[u8], last: &[u8]) -> bool {
    let creds = Credentials::new().authcid("user").password(b"pencil");
    let config = client_config(RFC7677.client_nonce).scram_iterations(1, 5000);
    let mut c = ClientSession::with_config(Mechanism::ScramSha256, &creds, &config).unwrap();
    c.start().unwrap();
    if c.step(first).is_err() {
        return false;
    }
    c.finish(Some(last)).is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Mutated client messages: never a panic, never a success unless the message survived.
    #[test]
    fn mutated_client_messages_never_succeed(
        which in 0usize..2,
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        mode in 0u8..3,
    ) {
        let v = &RFC7677;
        let mut msgs = [v.client_first.as_bytes().to_vec(), v.client_final.as_bytes().to_vec()];
        let m = &mut msgs[which];
        let i = pos.index(m.len());
        match mode {
            0 => m[i] = byte,
            1 => { m.remove(i); }
            _ => m.insert(i, byte),
        }
        let changed = msgs[0] != v.client_first.as_bytes() || msgs[1] != v.client_final.as_bytes();
        let config = server_config(v.server_nonce);
        let mut s = ServerSession::new(&config, v.mechanism, &Transport::tls()).unwrap();
        let keys = keys_sha256();
        let mut out = own(s.start(Some(&msgs[0])).unwrap());
        if out == Out::Request {
            out = match s.request().unwrap() {
                Request::Secret(_) => own(s.answer(Answer::ScramKeys(&keys)).unwrap()),
                other => panic!("{other:?}"),
            };
        }
        if let Out::Challenge(_) = out {
            out = own(s.step(&msgs[1]).unwrap());
        }
        if let Out::Success { .. } = out {
            prop_assert!(!changed, "mutated exchange succeeded");
        }
        if !changed {
            let success = matches!(out, Out::Success { .. });
            prop_assert!(success);
        }
    }

    /// Mutated server messages: the client never reports a verified server.
    #[test]
    fn mutated_server_messages_never_verify(
        which in 0usize..2,
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let v = &RFC7677;
        let mut first = v.server_first.as_bytes().to_vec();
        let mut last = v.server_final.as_bytes().to_vec();
        let m = if which == 0 { &mut first } else { &mut last };
        let i = pos.index(m.len());
        let old = m[i];
        m[i] = byte;
        let changed = old != byte;
        let ok = mutated_server_messages(&first, &last);
        // A mutated server-first may still be valid (a salt or nonce change) but then the
        // RFC signature cannot match.
        prop_assert_eq!(ok, !changed);
    }

    /// Arbitrary bytes at each server step: never a panic.
    #[test]
    fn arbitrary_input_never_panics(
        a in prop::collection::vec(any::<u8>(), 0..80),
        b in prop::collection::vec(any::<u8>(), 0..120),
        plus in any::<bool>(),
    ) {
        let m = if plus { Mechanism::ScramSha1Plus } else { Mechanism::ScramSha1 };
        let config = server_config("srv");
        let mut s = ServerSession::new(&config, m, &tls_with_cb(false)).unwrap();
        let mut out = own(s.start(Some(&a)).unwrap());
        if out == Out::Request {
            let k = keys_sha1();
            out = own(s.answer(Answer::ScramKeys(&k)).unwrap());
        }
        if let Out::Challenge(_) = out {
            let out = own(s.step(&b).unwrap());
            let success = matches!(out, Out::Success { .. });
            prop_assert!(!success);
        }
    }
}

// ---- The client's key cache: a client that kept ClientKey/ServerKey from an earlier
// login skips PBKDF2, produces exactly the RFC 7677 exchange, and falls back to the password
// (or fails cleanly) when the server's salt or iteration count changed. ----

fn rfc_salt() -> Vec<u8> {
    b64::decode(SHA256_SALT.as_bytes())
        .unwrap()
        .as_slice()
        .to_vec()
}

/// Run SCRAM-SHA-256 against a server holding `keys` (with RFC 7677's nonces if `fixed`);
/// return the client's final message and the outcome.
fn cache_login(
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
        &hex(SHA256_SALTED),
        &rfc_salt(),
        4096,
    )
    .unwrap();
    let creds = Credentials::new().authcid("user").scram_cache(&cache);
    let (client, client_final) = cache_login(&creds, &rfc_keys(), true);
    assert_eq!(client_final, RFC7677.client_final.as_bytes());
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
    let (client, _) = cache_login(&creds, &keys, false);
    let cache = client.unwrap().scram_cache().cloned().unwrap();
    assert_eq!(cache.salt(), keys.salt());
    assert_eq!(cache.iterations(), 4096);
    assert_eq!(cache.hash(), ScramHash::Sha256);

    let creds = Credentials::new().authcid("alice").scram_cache(&cache);
    let (client, _) = cache_login(&creds, &keys, false);
    assert!(client.unwrap().is_finished());
}

#[test]
fn changed_salt_needs_the_password_again() {
    let old = ScramKeys::generate(ScramHash::Sha256, b"pw", 4096).unwrap();
    let new = ScramKeys::generate(ScramHash::Sha256, b"pw", 4096).unwrap();
    assert_ne!(old.salt(), new.salt());
    let (client, _) = cache_login(
        &Credentials::new().authcid("u").password(b"pw"),
        &old,
        false,
    );
    let cache = client.unwrap().scram_cache().cloned().unwrap();

    // Cache only: the server's salt changed, so the client cannot answer.
    let creds = Credentials::new().authcid("u").scram_cache(&cache);
    let (client, _) = cache_login(&creds, &new, false);
    assert_eq!(client.unwrap_err(), Error::Failed(Failure::BadCredentials));

    // Cache and password: it derives again and hands back the new keys.
    let creds = Credentials::new()
        .authcid("u")
        .password(b"pw")
        .scram_cache(&cache);
    let (client, _) = cache_login(&creds, &new, false);
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

/// Found by the differential campaign (`corpus/differential/regress-scram-empty-prepared-name`):
/// a SCRAM client whose user name SASLprep maps to nothing (U+00AD SOFT HYPHEN) sent `n=,`,
/// which the server refused as `Malformed` after a wasted round trip. The client now refuses
/// such a name when it is made, with a typed error; the name's other characters still count.
#[test]
fn scram_client_refuses_a_name_saslprep_maps_to_nothing() {
    for m in saslmech::ALL_MECHANISMS.iter().filter(|m| m.is_scram()) {
        let config = saslmech::ClientConfig::new()
            .channel_binding(saslmech::ChannelBindingType::TlsExporter, &[7; 32]);
        for name in ["\u{AD}", "\u{AD}\u{200B}", "\u{FE0F}"] {
            let creds = Credentials::new().authcid(name).password(b"pencil");
            assert!(
                matches!(
                    ClientSession::with_config(*m, &creds, &config),
                    Err(Error::InvalidArgument(_))
                ),
                "{m} {name:?}"
            );
        }
        let creds = Credentials::new().authcid("u\u{AD}ser").password(b"pencil");
        let mut c = ClientSession::with_config(*m, &creds, &config).unwrap();
        let first = c.start().unwrap().unwrap().to_vec();
        assert!(
            first.windows(7).any(|w| w == b",n=user"),
            "{m}: {:?}",
            String::from_utf8_lossy(&first)
        );
    }
}
