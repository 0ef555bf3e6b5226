//! SCRAM key derivation: PBKDF2-HMAC with 4096 iterations, through `ScramKeys::derive` (what a
//! server runs when it stores a password), through a client that has no cached keys (its
//! whole side of the exchange), and the `pbkdf2` crate called directly (the floor).
//! `cargo bench --bench pbkdf2`.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use saslmech::{Mechanism, ScramHash, ScramKeys};
use support::{Backend, Case, Counting, Fixture, PASSWORD, record, replay_client};

#[global_allocator]
static GLOBAL: Counting = Counting;

const SALT: &[u8] = b"0123456789abcdef";

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pbkdf2");
    g.sample_size(30);
    g.bench_function("pbkdf2 crate, HMAC-SHA-256, 4096", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(black_box(PASSWORD), SALT, 4096, &mut out);
            out
        })
    });
    // SCRAM-SHA-512 at the draft's 10000 iterations, against the crate on the same count.
    g.bench_function("pbkdf2 crate, HMAC-SHA-512, 10000", |b| {
        b.iter(|| {
            let mut out = [0u8; 64];
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(black_box(PASSWORD), SALT, 10_000, &mut out);
            out
        })
    });
    for (hash, name, iterations) in [
        (
            ScramHash::Sha256,
            "ScramKeys::derive SCRAM-SHA-256, 4096",
            4096,
        ),
        (ScramHash::Sha1, "ScramKeys::derive SCRAM-SHA-1, 4096", 4096),
        (
            ScramHash::Sha512,
            "ScramKeys::derive SCRAM-SHA-512, 10000",
            10_000,
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| ScramKeys::derive(hash, black_box(PASSWORD), SALT, iterations).unwrap())
        });
    }
    let f = Fixture::new();
    for (m, name) in [
        (Mechanism::ScramSha256, "client SCRAM-SHA-256 side, 4096"),
        (Mechanism::ScramSha1, "client SCRAM-SHA-1 side, 4096"),
    ] {
        let case = Case {
            name,
            mechanism: m,
            backend: Backend::Keys,
            client_cache: false,
        };
        let rec = record(&f, &case);
        g.bench_function(name, |b| {
            b.iter(|| replay_client(&f, black_box(&case), &rec, false))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
