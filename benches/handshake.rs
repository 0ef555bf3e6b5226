//! Full in-memory client+server handshakes for every mechanism, and heap allocations per
//! handshake. `cargo bench --bench handshake`.
//!
//! Both sessions are created, stepped to completion with raw tokens, and dropped inside the
//! timed closure; the server's backend answers at once.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use support::{Counting, Fixture, allocations, cases, handshake};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn bench(c: &mut Criterion) {
    let f = Fixture::new();
    let mut group = c.benchmark_group("handshake");
    for case in cases() {
        eprintln!(
            "allocations per handshake: {}: {}",
            case.name,
            allocations(&f, &case)
        );
        group.bench_function(case.name, |b| b.iter(|| handshake(&f, black_box(&case))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
