//! The SMTP adapter: a full `AUTH` exchange between `SmtpClient` and `SmtpServer` in memory,
//! lines with CRLF, base64, the server-final `334` of SCRAM, and the final `235`.
//! `cargo bench --bench smtp`.
//!
//! The server adapter lives as long as a connection and is reset between runs; the client
//! adapter is created for each run (it borrows the credentials).

mod support;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use saslmech::Answer;
use saslmech::proto::smtp::{SmtpClient, SmtpServer};
use saslmech::proto::{AuthRequest, ClientEvent, ServerEvent};
use support::{Backend, Counting, Fixture, PASSWORD, TOKEN, cases, count_allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn answer<'a>(f: &'a Fixture, backend: Backend, r: &AuthRequest) -> Answer<'a> {
    match (r, backend) {
        (AuthRequest::VerifyPassword { password, .. }, Backend::Verdict) => {
            if saslmech::ct_eq(password.as_slice(), PASSWORD) {
                Answer::Accept
            } else {
                Answer::Reject
            }
        }
        (AuthRequest::ValidateToken { token, .. }, _) => {
            if saslmech::ct_eq(token.as_slice(), TOKEN) {
                Answer::Accept
            } else {
                Answer::Reject
            }
        }
        (AuthRequest::Secret { mechanism, .. }, Backend::Keys) => match mechanism {
            saslmech::Mechanism::CramMd5 => Answer::CramMd5Keys(&f.cram),
            saslmech::Mechanism::ScramSha1 => Answer::ScramKeys(&f.scram1),
            _ => Answer::ScramKeys(&f.scram256),
        },
        (AuthRequest::Authorize { .. }, _) => Answer::Accept,
        _ => Answer::Password(PASSWORD),
    }
}

/// One AUTH exchange; returns the authenticated user's length.
fn exchange(f: &Fixture, server: &mut SmtpServer, case: &support::Case) -> usize {
    server.reset();
    let creds = f.credentials(case);
    let mut client = SmtpClient::new(case.mechanism, &creds).unwrap();
    let command = client.start().unwrap();
    let mut event = server.command(command.as_slice()).unwrap();
    let mut user = 0;
    loop {
        let reply = match event {
            ServerEvent::Request(ref r) => {
                event = server.answer(answer(f, case.backend, r)).unwrap();
                continue;
            }
            ServerEvent::Challenge(r) => r,
            ServerEvent::Success { reply, identity } => {
                user = identity.authcid.len();
                reply
            }
            other => panic!("{}: {other:?}", case.name),
        };
        match client.reply(&reply).unwrap() {
            ClientEvent::Send(line) => event = server.line(line.as_slice()).unwrap(),
            ClientEvent::Done(outcome) => {
                assert!(outcome.authenticated, "{}: {outcome:?}", case.name);
                return user;
            }
            other => panic!("{}: {other:?}", case.name),
        }
    }
}

fn bench(c: &mut Criterion) {
    let f = Fixture::new();
    let mut server = SmtpServer::new(Arc::clone(&f.server));
    server.set_tls(true);
    let mut g = c.benchmark_group("smtp");
    // The adapter has no channel binding or external identity: those cases stay out.
    for case in cases()
        .into_iter()
        .filter(|k| !k.mechanism.channel_binding() && k.mechanism != saslmech::Mechanism::External)
    {
        let n = count_allocations(|| {
            exchange(&f, &mut server, &case);
        });
        eprintln!("allocations: smtp {}: {n}", case.name);
        assert!(exchange(&f, &mut server, &case) > 0, "{}", case.name);
        g.bench_function(case.name, |b| {
            b.iter(|| exchange(&f, &mut server, black_box(&case)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
