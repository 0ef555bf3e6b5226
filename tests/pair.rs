//! Client↔server pairs for every mechanism, plus property tests: any valid credentials
//! authenticate, wrong ones never do, and mutated or truncated messages never panic.

mod common;

use std::sync::Arc;

use common::{Users, Verdict, run_pair};
use proptest::prelude::*;
use saslmech::{
    ClientSession, Credentials, Failure, Mechanism, ServerConfig, ServerSession, ServerStep,
    Transport,
};

const MECHS: [Mechanism; 4] = [
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::CramMd5,
    Mechanism::XOAuth2,
];

fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new())
}

fn client(mech: Mechanism, user: &str, secret: &[u8], authzid: Option<&str>) -> ClientSession {
    let mut creds = Credentials::new().authcid(user);
    creds = if mech == Mechanism::XOAuth2 {
        creds.token(secret)
    } else {
        creds.password(secret)
    };
    if let Some(z) = authzid {
        creds = creds.authzid(z);
    }
    ClientSession::new(mech, &creds).unwrap()
}

#[test]
fn every_mechanism_every_variant() {
    let users = [("alice@example.com", &b"s3cret pass"[..], &b"tok.en-1"[..])];
    for mech in MECHS {
        for b64 in [false, true] {
            for use_ir in [false, true] {
                for (cram_keys, engine_compares) in [(false, false), (true, true)] {
                    let u = Users {
                        users: &users,
                        cram_keys,
                        engine_compares,
                        authz: &[],
                    };
                    let secret = if mech == Mechanism::XOAuth2 {
                        users[0].2
                    } else {
                        users[0].1
                    };
                    let mut c = client(mech, users[0].0, secret, None);
                    let v = run_pair(&config(), &Transport::tls(), &mut c, &u, b64, use_ir);
                    assert_eq!(
                        v,
                        Verdict::Success {
                            authcid: users[0].0.into(),
                            authzid: None
                        },
                        "{mech} b64={b64} ir={use_ir}"
                    );
                    assert!(c.is_finished());

                    let mut c = client(mech, users[0].0, b"wrong", None);
                    let v = run_pair(&config(), &Transport::tls(), &mut c, &u, b64, use_ir);
                    assert_eq!(v, Verdict::Failure(Failure::BadCredentials), "{mech}");

                    // Mallory presents alice's secret under her own name. For a token the
                    // backend says whose it is (alice's) and the engine refuses to let its
                    // owner act as mallory; for a password it is simply wrong.
                    let mut c = client(mech, "mallory", secret, None);
                    let v = run_pair(&config(), &Transport::tls(), &mut c, &u, b64, use_ir);
                    let expected = if mech == Mechanism::XOAuth2 {
                        Failure::AuthzDenied
                    } else {
                        Failure::BadCredentials
                    };
                    assert_eq!(v, Verdict::Failure(expected), "{mech}");
                }
            }
        }
    }
}

#[test]
fn plain_authzid_pairs() {
    let users = [("kurt", &b"xipj3plmq"[..], &b""[..])];
    let u = Users {
        users: &users,
        cram_keys: false,
        engine_compares: true,
        authz: &[("kurt", "ursel")],
    };
    let mut c = client(Mechanism::Plain, "kurt", b"xipj3plmq", Some("ursel"));
    assert_eq!(
        run_pair(&config(), &Transport::tls(), &mut c, &u, true, true),
        Verdict::Success {
            authcid: "kurt".into(),
            authzid: Some("ursel".into())
        }
    );
    let mut c = client(Mechanism::Plain, "kurt", b"xipj3plmq", Some("root"));
    assert_eq!(
        run_pair(&config(), &Transport::tls(), &mut c, &u, true, true),
        Verdict::Failure(Failure::AuthzDenied)
    );
    // Wrong password: no authorization question is asked at all.
    let mut c = client(Mechanism::Plain, "kurt", b"nope", Some("ursel"));
    assert_eq!(
        run_pair(&config(), &Transport::tls(), &mut c, &u, false, true),
        Verdict::Failure(Failure::BadCredentials)
    );
}

fn identity() -> impl Strategy<Value = String> {
    // Printable UTF-8 without NUL or ^A, 1..=64 chars.
    proptest::string::string_regex("[^\\x00\\x01]{1,64}").unwrap()
}

fn password() -> impl Strategy<Value = Vec<u8>> {
    // PLAIN needs UTF-8 and no NUL; keep to that for every mechanism.
    proptest::string::string_regex("[^\\x00]{1,80}")
        .unwrap()
        .prop_map(String::into_bytes)
}

fn token() -> impl Strategy<Value = Vec<u8>> {
    proptest::string::string_regex("[A-Za-z0-9._~+/-]{1,100}=*")
        .unwrap()
        .prop_map(String::into_bytes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn valid_credentials_authenticate(
        user in identity(), pw in password(), tok in token(),
        m in 0usize..4, b64: bool, ir: bool, keys: bool,
    ) {
        let mech = MECHS[m];
        let secret = if mech == Mechanism::XOAuth2 { tok.clone() } else { pw.clone() };
        let users = [(user.as_str(), pw.as_slice(), tok.as_slice())];
        let u = Users { users: &users, cram_keys: keys, engine_compares: keys, authz: &[] };
        let mut c = client(mech, &user, &secret, None);
        let v = run_pair(&config(), &Transport::tls(), &mut c, &u, b64, ir);
        prop_assert_eq!(v, Verdict::Success { authcid: user.clone(), authzid: None });
    }

    #[test]
    fn wrong_credentials_never_authenticate(
        user in identity(), pw in password(), other in password(), tok in token(),
        other_tok in token(), m in 0usize..4, b64: bool, keys: bool,
    ) {
        let mech = MECHS[m];
        let (right, wrong) = if mech == Mechanism::XOAuth2 { (&tok, &other_tok) } else { (&pw, &other) };
        prop_assume!(right != wrong);
        let users = [(user.as_str(), pw.as_slice(), tok.as_slice())];
        let u = Users { users: &users, cram_keys: keys, engine_compares: keys, authz: &[] };
        let mut c = client(mech, &user, wrong, None);
        let v = run_pair(&config(), &Transport::tls(), &mut c, &u, b64, true);
        prop_assert_eq!(v, Verdict::Failure(Failure::BadCredentials));
    }

    /// Run a real exchange but corrupt one client message (flip, truncate, extend, or
    /// replace) before the server sees it: the server must fail or error, never panic, and
    /// never authenticate anyone but the one user whose secret the backend holds.
    #[test]
    fn mutated_messages_never_panic(
        m in 0usize..4, which in 0usize..3, kind in 0u8..4, pos: usize, byte: u8,
        junk in proptest::collection::vec(any::<u8>(), 0..64), b64: bool,
    ) {
        let mech = MECHS[m];
        let secret: &[u8] = if mech == Mechanism::XOAuth2 { b"tok" } else { b"pw" };
        let mut c = client(mech, "user", secret, None);
        let mut s = ServerSession::new(&config(), mech, &Transport::tls()).unwrap();
        let mut msgs = 0usize;
        let mutate = |mut v: Vec<u8>| -> Vec<u8> {
            match kind {
                0 if !v.is_empty() => { let i = pos % v.len(); v[i] ^= byte | 1; }
                1 => { v.truncate(pos % (v.len() + 1)); }
                2 => { v.extend_from_slice(&junk); }
                _ => { v = junk.clone(); }
            }
            v
        };
        let ir = if b64 { c.start_b64().unwrap().map(<[u8]>::to_vec) } else { c.start().unwrap().map(<[u8]>::to_vec) };
        let ir = ir.map(|v| { msgs += 1; if which == 0 { mutate(v) } else { v } });
        let mut step = if b64 { s.start_b64(ir.as_deref()).unwrap() } else { s.start(ir.as_deref()).unwrap() };
        for _ in 0..10 {
            let next: Result<Vec<u8>, bool> = match step {
                ServerStep::Challenge(ch) => Ok(ch.to_vec()),
                ServerStep::Request(_) => Err(true),
                // Success is possible only if the mutation left the credentials intact (a
                // no-op truncation, a case change in `Bearer`): the backend accepts nothing
                // but user's own secret, so the identity must be user's.
                ServerStep::Success(ok) => { prop_assert_eq!(ok.identity.authcid(), "user"); break; }
                ServerStep::Failure(_) => break,
                _ => break,
            };
            step = match next {
                Ok(ch) => {
                    let r = if b64 { c.step_b64(&ch) } else { c.step(&ch) };
                    let Ok(r) = r else { break };
                    let mut r = r.to_vec();
                    if msgs == which { r = mutate(r); }
                    msgs += 1;
                    match if b64 { s.step_b64(&r) } else { s.step(&r) } { Ok(x) => x, Err(_) => break }
                }
                // Answer as a backend that knows "user" with the right secret would.
                Err(_) => {
                    let req = s.request().unwrap();
                    let answer = match req {
                        saslmech::Request::VerifyPassword(r) => if r.authcid() == "user" { saslmech::Answer::Password(b"pw") } else { saslmech::Answer::UnknownUser },
                        saslmech::Request::Secret(r) => if r.authcid() == "user" { saslmech::Answer::Password(b"pw") } else { saslmech::Answer::UnknownUser },
                        saslmech::Request::ValidateToken(r) => if r.token() == b"tok" { saslmech::Answer::TokenOwner("user") } else { saslmech::Answer::Reject },
                        _ => saslmech::Answer::Reject,
                    };
                    match s.answer(answer) { Ok(x) => x, Err(_) => break }
                }
            };
        }
    }
}
