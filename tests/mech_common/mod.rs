//! Shared test helpers: an in-memory client/server pair.
#![allow(dead_code)]

use std::sync::Arc;

use saslmech::{
    Answer, ClientConfig, ClientSession, Credentials, Error, Failure, Mechanism, Request,
    ServerConfig, ServerSession, ServerStep, Transport,
};

/// A server step with its borrows copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Challenge(Vec<u8>),
    Request,
    Success {
        authcid: String,
        authzid: Option<String>,
        data: Option<Vec<u8>>,
    },
    Failure(Failure),
}

pub fn own(step: ServerStep<'_>) -> Out {
    match step {
        ServerStep::Challenge(c) => Out::Challenge(c.to_vec()),
        ServerStep::Request(_) => Out::Request,
        ServerStep::Success(ok) => Out::Success {
            authcid: ok.identity.authcid().to_owned(),
            authzid: ok.identity.authzid().map(str::to_owned),
            data: ok.data.map(<[u8]>::to_vec),
        },
        ServerStep::Failure(f) => Out::Failure(f),
        other => panic!("unexpected step {other:?}"),
    }
}

/// How a pair run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The server's verdict: (authcid, authzid) or the failure.
    pub server: Result<(String, Option<String>), Failure>,
    /// The client's verdict (finish on server success; the error that stopped it otherwise).
    pub client: Result<(), Error>,
    /// Every challenge the server sent, in order.
    pub challenges: Vec<Vec<u8>>,
    /// Every response the client sent (the initial response first, if any).
    pub responses: Vec<Vec<u8>>,
    /// The success data that came with the server's success, if any.
    pub success_data: Option<Vec<u8>>,
}

/// Run a client against a server, answering requests with `answer`.
pub fn pair<'k, F>(
    mechanism: Mechanism,
    creds: &Credentials<'_>,
    client_config: &ClientConfig,
    server_config: ServerConfig,
    transport: &Transport,
    mut answer: F,
) -> Outcome
where
    F: for<'r> FnMut(Request<'r>) -> Answer<'k>,
{
    let config = Arc::new(server_config);
    let mut server = ServerSession::new(&config, mechanism, transport).expect("server session");
    let mut client =
        ClientSession::with_config(mechanism, creds, client_config).expect("client session");
    let mut challenges = Vec::new();
    let mut responses = Vec::new();
    let ir = client.start().expect("start").map(<[u8]>::to_vec);
    if let Some(ir) = &ir {
        responses.push(ir.clone());
    }
    let mut out = own(server.start(ir.as_deref()).expect("server start"));
    for _ in 0..32 {
        match out {
            Out::Challenge(c) => {
                challenges.push(c.clone());
                match client.step(&c) {
                    Ok(r) => {
                        let r = r.to_vec();
                        responses.push(r.clone());
                        out = own(server.step(&r).expect("server step"));
                    }
                    Err(e) => {
                        return Outcome {
                            server: Err(server.cancel().expect("cancel")),
                            client: Err(e),
                            challenges,
                            responses,
                            success_data: None,
                        };
                    }
                }
            }
            Out::Request => {
                let req = server.request().expect("pending request");
                let a = answer(req);
                out = own(server.answer(a).expect("answer"));
            }
            Out::Success {
                authcid,
                authzid,
                data,
            } => {
                let client_result = client.finish(data.as_deref());
                return Outcome {
                    server: Ok((authcid, authzid)),
                    client: client_result,
                    challenges,
                    responses,
                    success_data: data,
                };
            }
            Out::Failure(f) => {
                return Outcome {
                    server: Err(f),
                    client: Err(Error::Failed(f)),
                    challenges,
                    responses,
                    success_data: None,
                };
            }
        }
    }
    panic!("exchange did not end");
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
