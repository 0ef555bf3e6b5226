//! Seeds made by running the engine's own client against a target's server: [`engine_exchange`].

use super::*;

/// An answer a seed gives, both as target input and as the engine's answer.
#[derive(Clone)]
pub(super) enum A {
    Accept,
    Reject,
    Password(Vec<u8>),
    /// Hash byte, password, salt, iteration byte (as `AnswerKind::ScramKeys` reads them).
    Keys(u8, Vec<u8>, Vec<u8>, u8),
    Owner(String),
}

impl A {
    pub(super) fn write(&self, s: Script) -> Script {
        match self {
            A::Accept => s.byte(AnswerKind::Accept),
            A::Reject => s.byte(AnswerKind::Reject),
            A::Password(p) => s.byte(AnswerKind::Password).bytes(p),
            A::Keys(h, p, salt, i) => s
                .byte(AnswerKind::ScramKeys)
                .byte(*h)
                .bytes(p)
                .bytes(salt)
                .byte(*i),
            A::Owner(o) => s.byte(AnswerKind::TokenOwner).bytes(o.as_bytes()),
        }
    }
    pub(super) fn keys(&self) -> Option<ScramKeys> {
        match self {
            A::Keys(h, p, salt, i) => {
                let hash = saslmech_fuzz::scram_hash(*h);
                ScramKeys::derive(hash, p, salt, u32::from(i % 16) + 1).ok()
            }
            _ => None,
        }
    }
}

/// A server-target input replaying the engine's own client against the server the target
/// builds from config bytes `a`, `b`: the client's messages as operations (base64 or raw),
/// each request answered with the next of `answers` (the last one repeats).
pub(super) fn engine_exchange(
    m: Mechanism,
    a: u8,
    b: u8,
    creds: &Credentials<'_>,
    cc: &ClientConfig,
    b64: bool,
    answers: &[A],
) -> Vec<u8> {
    let (config, transport) = server_config(a, b);
    let config = Arc::new(config);
    let mut s = Script::new().byte(a).byte(b);
    let Ok(mut server) = ServerSession::new(&config, m, &transport) else {
        return s.into_vec();
    };
    let Ok(mut client) = ClientSession::with_config(m, creds, cc) else {
        return s.into_vec();
    };
    let ir = if b64 {
        client.start_b64().unwrap().map(<[u8]>::to_vec)
    } else {
        client.start().unwrap().map(<[u8]>::to_vec)
    };
    let mut step = match &ir {
        Some(ir) if b64 => {
            s = s.operation(ServerOperation::StartBase64, ir);
            server.start_b64(Some(ir))
        }
        Some(ir) => {
            s = s.operation(ServerOperation::StartInitialResponse, ir);
            server.start(Some(ir))
        }
        None if b64 => {
            s = s.byte(ServerOperation::StartBase64None);
            server.start_b64(None)
        }
        None => {
            s = s.byte(ServerOperation::Start);
            server.start(None)
        }
    };
    let mut n = 0;
    for _ in 0..10 {
        match step.unwrap() {
            ServerStep::Challenge(c) => {
                let c = c.to_vec();
                let r = if b64 {
                    client.step_b64(&c)
                } else {
                    client.step(&c)
                };
                let Ok(r) = r.map(<[u8]>::to_vec) else { break };
                s = s.operation(
                    if b64 {
                        ServerOperation::StepBase64
                    } else {
                        ServerOperation::Step
                    },
                    &r,
                );
                step = if b64 {
                    server.step_b64(&r)
                } else {
                    server.step(&r)
                };
            }
            ServerStep::Request(_) => {
                let a = answers[n.min(answers.len() - 1)].clone();
                n += 1;
                s = s.byte(if b64 {
                    ServerOperation::AnswerBase64
                } else {
                    ServerOperation::Answer
                });
                s = a.write(s);
                let keys = a.keys();
                let answer = match &a {
                    A::Accept => Answer::Accept,
                    A::Reject => Answer::Reject,
                    A::Password(p) => Answer::Password(p),
                    A::Keys(..) => match &keys {
                        Some(k) => Answer::ScramKeys(k),
                        None => Answer::UnknownUser,
                    },
                    A::Owner(o) => Answer::TokenOwner(o),
                };
                step = if b64 {
                    server.answer_b64(answer)
                } else {
                    server.answer(answer)
                };
            }
            _ => break,
        }
    }
    s.into_vec()
}
