//! A dudect-style statistical timing check of the secret comparisons (Reparaz, Balasch and
//! Verbauwhede, "Dude, is my code constant time?"): time each function on two classes of
//! secret inputs (class 0: equal to the reference, class 1: random), interleaved at random,
//! and compare the two timing distributions with Welch's t-test, raw and cropped at several
//! percentiles. |t| above 4.5 means the classes are told apart: probably not constant time.
//!
//! Timing is noisy (other processes, frequency scaling), so this is for manual runs, not CI;
//! the deterministic check is `tests/ct_valgrind.rs`. A control (slice `==`, which stops at the
//! first difference) shows the check can see a leak.
//!
//! `cargo run --release --example ct_dudect [measurements per case, default 200000]`
//! (a bench harness would not do: dudect-style tools choke on the `--bench` flag cargo passes).

use std::hint::black_box;
use std::time::Instant;

use saslmech::{CramMd5Keys, ct_eq, ct_eq_password};

/// Calls per measurement, so that one measurement is well above the clock's resolution.
const BATCH: usize = 32;
const LEN: usize = 512;
const THRESHOLD: f64 = 4.5;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn fill(&mut self, b: &mut [u8]) {
        for x in b {
            *x = self.next() as u8;
        }
    }
}

/// Online mean and variance (Welford).
#[derive(Default, Clone, Copy)]
struct Stats {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Stats {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }
    fn var(&self) -> f64 {
        if self.n > 1.0 {
            self.m2 / (self.n - 1.0)
        } else {
            0.0
        }
    }
}

fn welch_t(a: &Stats, b: &Stats) -> f64 {
    let se = (a.var() / a.n + b.var() / b.n).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (a.mean - b.mean) / se
    }
}

/// Measure `f(class, secret)`; returns the largest |t| over the raw and cropped tests.
fn measure(
    name: &str,
    n: usize,
    rng: &mut Rng,
    reference: &[u8],
    f: &dyn Fn(&[u8]) -> bool,
) -> f64 {
    let mut samples: Vec<(u8, f64)> = Vec::with_capacity(n);
    // Inputs are prepared a block at a time, before any is timed, so that the work of making
    // them (a copy for class 0, random bytes for class 1) does not colour the measurements.
    const BLOCK: usize = 1000;
    let len = reference.len();
    let mut classes = vec![0u8; BLOCK];
    let mut inputs = vec![0u8; BLOCK * len];
    let mut done = 0;
    while done < n {
        let m = BLOCK.min(n - done);
        for (i, input) in inputs.chunks_exact_mut(len).take(m).enumerate() {
            classes[i] = (rng.next() & 1) as u8;
            if classes[i] == 0 {
                input.copy_from_slice(reference);
            } else {
                rng.fill(input);
            }
        }
        for (i, input) in inputs.chunks_exact(len).take(m).enumerate() {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(f(black_box(input)));
            }
            samples.push((classes[i], start.elapsed().as_nanos() as f64));
        }
        done += m;
    }
    let mut sorted: Vec<f64> = samples.iter().map(|s| s.1).collect();
    sorted.sort_by(f64::total_cmp);
    let mut worst: f64 = 0.0;
    let mut line = format!("{name:<28}");
    for pct in [100usize, 90, 75, 50] {
        let cut = sorted[(sorted.len() * pct / 100).saturating_sub(1)];
        let mut s = [Stats::default(); 2];
        for &(class, t) in &samples {
            if t <= cut {
                s[class as usize].push(t);
            }
        }
        let t = welch_t(&s[0], &s[1]);
        worst = worst.max(t.abs());
        line.push_str(&format!(" t@{pct:>3}%={t:>8.2}"));
    }
    let verdict = if worst > THRESHOLD {
        "DIFFERS (probably not constant time)"
    } else {
        "no difference found"
    };
    println!("{line}  -> {verdict}");
    worst
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut rng = Rng(seed);
    let mut stored = vec![0u8; LEN];
    rng.fill(&mut stored);
    let password = b"tanstaaftanstaaf".to_vec();
    let keys = CramMd5Keys::from_password(&password);
    let challenge = b"<1896.697170952@postoffice.reston.mci.net>";
    let digest = keys.mac(challenge);

    println!("{n} measurements of {BATCH} calls per case; |t| > {THRESHOLD} means a difference");
    let mut ct_worst: f64 = 0.0;
    ct_worst = ct_worst.max(measure("ct_eq (512 bytes)", n, &mut rng, &stored, &|x| {
        ct_eq(x, &stored)
    }));
    ct_worst = ct_worst.max(measure(
        "ct_eq_password (16 bytes)",
        n,
        &mut rng,
        &password,
        &|x| ct_eq_password(x, &password),
    ));
    ct_worst = ct_worst.max(measure(
        "CRAM-MD5 digest check",
        n,
        &mut rng,
        &password,
        &|x| ct_eq(&CramMd5Keys::from_password(x).mac(challenge), &digest),
    ));
    let control = measure("control: slice == (512 B)", n, &mut rng, &stored, &|x| {
        x == stored.as_slice()
    });
    println!();
    println!(
        "constant-time functions: worst |t| = {ct_worst:.2} ({}); control: |t| = {control:.2} ({})",
        if ct_worst > THRESHOLD {
            "SUSPECT: rerun on an idle machine"
        } else {
            "ok"
        },
        if control > THRESHOLD {
            "leak seen, as it must be"
        } else {
            "leak NOT seen: too noisy or too few measurements"
        },
    );
}
