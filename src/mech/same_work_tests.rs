//! The work between the application's answer and the next server message must not tell an
//! attacker whether the user exists (SECURITY.md). Timing tests are noisy; these count hash
//! compressions instead (`count_compressions`), which is deterministic: for each mechanism
//! that asks for a secret and each [`SecretStorage`], a known user, an unknown user and a
//! rejected one cost exactly the same number of compressions, both for the answer and for the
//! verification of the client's proof that follows.

use std::sync::Arc;

use crate::crypto::work;
use crate::{
    Answer, ClientSession, CramMd5Keys, Credentials, Mechanism, ScramHash, ScramKeys,
    SecretStorage, ServerConfig, ServerSession, ServerStep, Transport,
};

const USER: &str = "user";
const PASSWORD: &[u8] = b"pencil";

fn config(storage: SecretStorage) -> Arc<ServerConfig> {
    Arc::new(
        ServerConfig::new()
            .mechanisms(crate::mechanism::ALL)
            .scram_secret(b"fixed secret")
            .secret_storage(storage),
    )
}

/// The stored secret of the known user, as the configured storage holds it.
enum Stored {
    Password,
    Scram(ScramKeys),
    Cram(CramMd5Keys),
}

impl Stored {
    fn answer(&self) -> Answer<'_> {
        match self {
            Stored::Password => Answer::Password(PASSWORD),
            Stored::Scram(k) => Answer::ScramKeys(k),
            Stored::Cram(k) => Answer::CramMd5Keys(k),
        }
    }
}

/// Drive one exchange with a real client, answering the secret request with `answer`, and
/// return the compressions the server spent (answer → server message, proof → verdict).
fn server_work(config: &Arc<ServerConfig>, mechanism: Mechanism, answer: Answer<'_>) -> [u64; 2] {
    let creds = Credentials::new().authcid(USER).password(PASSWORD);
    let mut client = ClientSession::new(mechanism, &creds).unwrap();
    let mut server = ServerSession::new(config, mechanism, &Transport::tls()).unwrap();
    let ir = client.start().unwrap().map(<[u8]>::to_vec);
    let mut step = server.start(ir.as_deref()).unwrap();
    // Up to the secret request (CRAM-MD5 challenges first).
    let mut response = Vec::new();
    for _ in 0..3 {
        match step {
            ServerStep::Challenge(c) => {
                let c = c.to_vec();
                response = client.step(&c).unwrap().to_vec();
                step = server.step(&response).unwrap();
            }
            ServerStep::Request(_) => break,
            other => panic!("{mechanism:?}: {other:?}"),
        }
    }
    assert!(matches!(step, ServerStep::Request(_)), "{mechanism:?}");
    let _ = response;
    work::take();
    let step = server.answer(answer).unwrap();
    let answered = work::take();
    let verified = match step {
        // SCRAM: server-first; the client's proof comes next.
        ServerStep::Challenge(c) => {
            let c = c.to_vec();
            let client_final = client.step(&c).unwrap().to_vec();
            work::take();
            let _ = server.step(&client_final).unwrap();
            work::take()
        }
        // CRAM-MD5: the verdict came with the answer.
        ServerStep::Success(_) | ServerStep::Failure(_) => 0,
        other => panic!("{mechanism:?}: {other:?}"),
    };
    [answered, verified]
}

fn check(mechanism: Mechanism, storage: SecretStorage, stored: &Stored) -> [u64; 2] {
    let config = config(storage);
    let known = server_work(&config, mechanism, stored.answer());
    let unknown = server_work(&config, mechanism, Answer::UnknownUser);
    let rejected = server_work(&config, mechanism, Answer::Reject);
    assert!(known[0] > 0, "{mechanism:?} {storage:?}: no work counted");
    assert_eq!(
        known, unknown,
        "{mechanism:?} {storage:?}: known vs unknown user"
    );
    assert_eq!(
        known, rejected,
        "{mechanism:?} {storage:?}: known vs rejected user"
    );
    known
}

#[test]
fn scram_unknown_user_costs_what_a_plaintext_password_costs() {
    for (mechanism, hash) in [
        (Mechanism::ScramSha1, ScramHash::Sha1),
        (Mechanism::ScramSha256, ScramHash::Sha256),
        (Mechanism::ScramSha512, ScramHash::Sha512),
    ] {
        let plaintext = check(mechanism, SecretStorage::Plaintext, &Stored::Password);
        // The derivation is there: at least the PBKDF2 loop's two compressions a round (the
        // default count: 4096, for SCRAM-SHA-512 the draft's 10000).
        let rounds = hash.min_iterations();
        assert!(
            plaintext[0] >= 2 * u64::from(rounds),
            "{mechanism:?}: {plaintext:?}"
        );
        let keys = ScramKeys::derive(hash, PASSWORD, b"salt of the keys", rounds).unwrap();
        let stored = check(mechanism, SecretStorage::Keys, &Stored::Scram(keys));
        // With stored keys nothing is derived per login, for anyone.
        assert!(stored[0] < 64, "{mechanism:?}: {stored:?}");
        assert_eq!(plaintext[1], stored[1], "{mechanism:?}: proof verification");
    }
}

#[test]
fn cram_md5_unknown_user_costs_what_a_known_one_costs() {
    let plaintext = check(
        Mechanism::CramMd5,
        SecretStorage::Plaintext,
        &Stored::Password,
    );
    let keys = CramMd5Keys::from_password(PASSWORD);
    let stored = check(Mechanism::CramMd5, SecretStorage::Keys, &Stored::Cram(keys));
    // The plaintext path runs the HMAC key schedule (two compressions) on top.
    assert_eq!(plaintext[0], stored[0] + 2);
}
