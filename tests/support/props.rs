//! The pair and property tests that PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 share, one function a
//! test, each run by every one of those mechanisms' files: every framing and backend mode
//! with right, wrong and stolen secrets; any valid credentials authenticate; wrong ones never
//! do; mutated or truncated messages never panic and never authenticate anyone else.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use saslmech::{
    Answer, ClientSession, Credentials, Failure, Mechanism, Request, ServerConfig, ServerSession,
    ServerStep, Transport,
};

use super::exchange::{Framing, Users, Verdict, run};

fn config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new())
}

/// A client of `mech`: XOAUTH2 takes the secret as its token, the others as the password.
pub fn client(mech: Mechanism, user: &str, secret: &[u8], authzid: Option<&str>) -> ClientSession {
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

/// Run `client` against a server that answers from `users`.
pub fn verdict(client: &mut ClientSession, users: &Users<'_>, framing: Framing) -> Verdict {
    run(client, &config(), &Transport::tls(), framing, |r| {
        users.answer(&r)
    })
    .verdict()
}

/// Raw and base64, with and without an initial response, a backend that compares and one that
/// hands over the secret: the right secret authenticates, a wrong one fails, and someone else
/// presenting the user's secret under their own name fails.
pub fn every_framing_and_backend(mech: Mechanism) {
    let users = [("alice@example.com", &b"s3cret pass"[..], &b"tok.en-1"[..])];
    for b64 in [false, true] {
        for use_ir in [false, true] {
            for (cram_keys, engine_compares) in [(false, false), (true, true)] {
                let framing = Framing::new(b64, use_ir);
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
                assert_eq!(
                    verdict(&mut c, &u, framing),
                    Verdict::Success {
                        authcid: users[0].0.into(),
                        authzid: None
                    },
                    "{mech} b64={b64} ir={use_ir}"
                );
                assert!(c.is_finished());

                let mut c = client(mech, users[0].0, b"wrong", None);
                let v = verdict(&mut c, &u, framing);
                assert_eq!(v, Verdict::Failure(Failure::BadCredentials), "{mech}");

                // Mallory presents alice's secret under her own name. For a token the
                // backend says whose it is (alice's) and the engine refuses to let its
                // owner act as mallory; for a password it is simply wrong.
                let mut c = client(mech, "mallory", secret, None);
                let v = verdict(&mut c, &u, framing);
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

/// A user with a password and a token.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: String,
    pub password: Vec<u8>,
    pub token: Vec<u8>,
}

pub fn account() -> impl Strategy<Value = Account> {
    (identity(), password(), token()).prop_map(|(user, password, token)| Account {
        user,
        password,
        token,
    })
}

pub fn identity() -> impl Strategy<Value = String> {
    // Printable UTF-8 without NUL or ^A, 1..=64 chars.
    proptest::string::string_regex("[^\\x00\\x01]{1,64}").unwrap()
}

pub fn password() -> impl Strategy<Value = Vec<u8>> {
    // PLAIN needs UTF-8 and no NUL; keep to that for every mechanism.
    proptest::string::string_regex("[^\\x00]{1,80}")
        .unwrap()
        .prop_map(String::into_bytes)
}

pub fn token() -> impl Strategy<Value = Vec<u8>> {
    proptest::string::string_regex("[A-Za-z0-9._~+/-]{1,100}=*")
        .unwrap()
        .prop_map(String::into_bytes)
}

/// A client of `mech` that presents `secret` as `a`'s against a backend that knows `a`, and
/// hands over the stored secret (`keys`: CRAM-MD5 keys, the engine compares) or compares it.
fn against(mech: Mechanism, a: &Account, secret: &[u8], framing: Framing, keys: bool) -> Verdict {
    let users = [(a.user.as_str(), a.password.as_slice(), a.token.as_slice())];
    let u = Users {
        users: &users,
        cram_keys: keys,
        engine_compares: keys,
        authz: &[],
    };
    let mut c = client(mech, &a.user, secret, None);
    verdict(&mut c, &u, framing)
}

/// Any valid credentials authenticate, in any framing, against either backend.
pub fn valid_credentials_authenticate(
    mech: Mechanism,
    a: &Account,
    framing: Framing,
    keys: bool,
) -> Result<(), TestCaseError> {
    let secret = if mech == Mechanism::XOAuth2 {
        &a.token
    } else {
        &a.password
    };
    prop_assert_eq!(
        against(mech, a, secret, framing, keys),
        Verdict::Success {
            authcid: a.user.clone(),
            authzid: None
        }
    );
    Ok(())
}

/// A password or token other than the account's never authenticates.
pub fn wrong_credentials_never_authenticate(
    mech: Mechanism,
    a: &Account,
    other_password: &[u8],
    other_token: &[u8],
    b64: bool,
    keys: bool,
) -> Result<(), TestCaseError> {
    let (right, wrong) = if mech == Mechanism::XOAuth2 {
        (&a.token[..], other_token)
    } else {
        (&a.password[..], other_password)
    };
    prop_assume!(right != wrong);
    prop_assert_eq!(
        against(mech, a, wrong, Framing::new(b64, true), keys),
        Verdict::Failure(Failure::BadCredentials)
    );
    Ok(())
}

/// How to corrupt one client message.
#[derive(Debug, Clone)]
pub struct Mutation {
    /// Which client message (0 is the first sent).
    pub which: usize,
    /// Flip a byte, truncate, extend with `junk`, or replace with `junk`.
    pub kind: u8,
    pub pos: usize,
    pub byte: u8,
    pub junk: Vec<u8>,
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    (
        0usize..3,
        0u8..4,
        any::<usize>(),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(which, kind, pos, byte, junk)| Mutation {
            which,
            kind,
            pos,
            byte,
            junk,
        })
}

impl Mutation {
    fn apply(&self, mut v: Vec<u8>) -> Vec<u8> {
        match self.kind {
            0 if !v.is_empty() => {
                let i = self.pos % v.len();
                v[i] ^= self.byte | 1;
            }
            1 => v.truncate(self.pos % (v.len() + 1)),
            2 => v.extend_from_slice(&self.junk),
            _ => v = self.junk.clone(),
        }
        v
    }
}

/// Run a real exchange but corrupt one client message (flip, truncate, extend, or replace)
/// before the server sees it: the server must fail or error, never panic, and never
/// authenticate anyone but the one user whose secret the backend holds.
pub fn mutated_message_never_panics(
    mech: Mechanism,
    m: &Mutation,
    b64: bool,
) -> Result<(), TestCaseError> {
    let secret: &[u8] = if mech == Mechanism::XOAuth2 {
        b"tok"
    } else {
        b"pw"
    };
    let mut c = client(mech, "user", secret, None);
    let mut s = ServerSession::new(&config(), mech, &Transport::tls()).unwrap();
    let mut msgs = 0usize;
    let ir = if b64 {
        c.start_b64().unwrap().map(<[u8]>::to_vec)
    } else {
        c.start().unwrap().map(<[u8]>::to_vec)
    };
    let ir = ir.map(|v| {
        msgs += 1;
        if m.which == 0 { m.apply(v) } else { v }
    });
    let mut step = if b64 {
        s.start_b64(ir.as_deref()).unwrap()
    } else {
        s.start(ir.as_deref()).unwrap()
    };
    for _ in 0..10 {
        let next: Result<Vec<u8>, bool> = match step {
            ServerStep::Challenge(ch) => Ok(ch.to_vec()),
            ServerStep::Request(_) => Err(true),
            // Success is possible only if the mutation left the credentials intact (a
            // no-op truncation, a case change in `Bearer`): the backend accepts nothing
            // but user's own secret, so the identity must be user's.
            ServerStep::Success(ok) => {
                prop_assert_eq!(ok.identity.authcid(), "user");
                break;
            }
            ServerStep::Failure(_) => break,
            _ => break,
        };
        step = match next {
            Ok(ch) => {
                let r = if b64 { c.step_b64(&ch) } else { c.step(&ch) };
                let Ok(r) = r else { break };
                let mut r = r.to_vec();
                if msgs == m.which {
                    r = m.apply(r);
                }
                msgs += 1;
                match if b64 { s.step_b64(&r) } else { s.step(&r) } {
                    Ok(x) => x,
                    Err(_) => break,
                }
            }
            // Answer as a backend that knows "user" with the right secret would.
            Err(_) => {
                let answer = match s.request().unwrap() {
                    Request::VerifyPassword(r) if r.authcid() == "user" => Answer::Password(b"pw"),
                    Request::Secret(r) if r.authcid() == "user" => Answer::Password(b"pw"),
                    Request::VerifyPassword(_) | Request::Secret(_) => Answer::UnknownUser,
                    Request::ValidateToken(r) if r.token() == b"tok" => Answer::TokenOwner("user"),
                    _ => Answer::Reject,
                };
                match s.answer(answer) {
                    Ok(x) => x,
                    Err(_) => break,
                }
            }
        };
    }
    Ok(())
}
