//! Each side alone: the server fed a recorded client, the client fed a recorded server, with
//! raw tokens and with base64 tokens. `cargo bench --bench sides`.
//!
//! Both sides use fixed nonces, so the recorded messages (SCRAM proofs and signatures, the
//! CRAM-MD5 digest) verify when replayed. Each timed run creates the session, steps it to
//! success and drops it; the server's backend answers at once.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use support::{Counting, Fixture, cases, count_allocations, record, replay_client, replay_server};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn bench(c: &mut Criterion) {
    let f = Fixture::new();
    let mut server = c.benchmark_group("server");
    let recordings: Vec<_> = cases().into_iter().map(|k| (record(&f, &k), k)).collect();
    for (rec, case) in &recordings {
        for (base64, how) in [(false, "raw"), (true, "base64")] {
            let n = count_allocations(|| {
                replay_server(&f, case, rec, base64);
            });
            eprintln!("allocations: server {} {how}: {n}", case.name);
            server.bench_function(format!("{} {how}", case.name), |b| {
                b.iter(|| replay_server(&f, black_box(case), rec, base64))
            });
        }
    }
    server.finish();
    let mut client = c.benchmark_group("client");
    for (rec, case) in &recordings {
        for (base64, how) in [(false, "raw"), (true, "base64")] {
            let n = count_allocations(|| replay_client(&f, case, rec, base64));
            eprintln!("allocations: client {} {how}: {n}", case.name);
            client.bench_function(format!("{} {how}", case.name), |b| {
                b.iter(|| replay_client(&f, black_box(case), rec, base64))
            });
        }
    }
    client.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
