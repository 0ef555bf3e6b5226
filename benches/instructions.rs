//! A driver for instruction counts: run one case's full handshake, server side or client side
//! `REPS` times inside `measured`, for `valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='*measured*'` (see `scripts/bench.sh`). Without arguments (as
//! `cargo bench` runs it) it runs every case once and prints the case list.
//!
//! Usage: `instructions CASE-INDEX full|server|client|derive|pbkdf2-crate|compress-floor [time]`. With `time` it prints the best
//! time per run over 200 batches instead (a quick check that a loaded machine disturbs
//! less than it does a mean).

mod support;

use std::hint::black_box;

use support::{Counting, Fixture, cases, handshake, record, replay_client, replay_server};

#[global_allocator]
static GLOBAL: Counting = Counting;

pub const REPS: usize = 20;

#[inline(never)]
fn measured(run: &mut dyn FnMut()) {
    for _ in 0..REPS {
        run();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let f = Fixture::new();
    let all = cases();
    let (Some(index), Some(side)) = (
        args.first().and_then(|a| a.parse::<usize>().ok()),
        args.get(1),
    ) else {
        for (i, case) in all.iter().enumerate() {
            handshake(&f, case);
            println!("{i}\t{}", case.name);
        }
        return;
    };
    let case = &all[index];
    let rec = record(&f, case);
    let mut run: Box<dyn FnMut()> = match side.as_str() {
        "full" => Box::new(|| {
            black_box(handshake(&f, case));
        }),
        "server" => Box::new(|| {
            black_box(replay_server(&f, case, &rec, false));
        }),
        "client" => Box::new(|| replay_client(&f, case, &rec, false)),
        // Key derivation alone (4096 iterations, the case's hash): ours and the pbkdf2 crate's.
        "derive" => Box::new(|| {
            let hash = saslmech::ScramHash::of(case.mechanism).unwrap();
            black_box(saslmech::ScramKeys::derive(hash, support::PASSWORD, b"salt", 4096).unwrap());
        }),
        // The floor of a 4096-iteration derivation: 8,192 SHA-256 compressions.
        "compress-floor" => Box::new(|| {
            let mut state = [0u32; 8];
            let block = [[7u8; 64]];
            for _ in 0..8192 {
                sha2::block_api::compress256(&mut state, black_box(&block));
            }
            black_box(state);
        }),
        "pbkdf2-crate" => Box::new(|| {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(support::PASSWORD, b"salt", 4096, &mut out);
            black_box(out);
        }),
        other => panic!("unknown side {other}"),
    };
    // Warm up (lazy initialisation, the random pool) outside the measured region.
    run();
    if args.get(2).map(String::as_str) == Some("time") {
        let mut best = f64::MAX;
        for _ in 0..200 {
            let t = std::time::Instant::now();
            measured(&mut run);
            best = best.min(t.elapsed().as_nanos() as f64 / REPS as f64);
        }
        println!("{}\t{side}\t{best:.0} ns", case.name);
        return;
    }
    measured(&mut run);
}
