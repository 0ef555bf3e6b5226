//! Writes the hand-made seed corpus of every fuzz target to `fuzz/corpus/<target>/seed-*`:
//! the RFC vectors of `shared/reference/sasl-reference.md` and the exchanges real clients
//! (swaks, curl, msmtp, gsasl, smtplib) had with a test server (`fuzz/seeds/transcripts.txt`,
//! captured by `fuzz/seeds/capture.py`), in each target's input format.
//!
//! `cargo run -p saslmech-fuzz --example fuzz_seeds` (idempotent; campaign findings, which
//! are named by their hash, are left alone).

use std::fs;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use saslmech::{
    Answer, ClientConfig, ClientSession, Credentials, Mechanism, NonceSource, ScramHash, ScramKeys,
    ServerSession, ServerStep,
};
use saslmech_fuzz::{
    AdapterClientLine, AdapterServerOperation, AnswerKind, CB_EXPORTER, ClientOperation,
    DEFAULT_PASSWORD, DEFAULT_TOKEN, MECHANISMS, Mutation, Script, ServerOperation,
    channel_binding, differential_binding, differential_flag, server_config,
};

/// Server config byte `a`: TLS and success data, default limits.
const TLS: u8 = 0b0000_0011;

/// `fuzz/`: this crate lives in `fuzz/bodies/`.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

mod capi;
mod engine;
mod new;
mod new_adapters;
mod original;

use capi::*;
use engine::*;
use new::*;
use new_adapters::*;
use original::*;

fn main() {
    let root = fuzz_dir().join("corpus");
    let transcripts = fs::read_to_string(fuzz_dir().join("seeds/transcripts.txt"))
        .expect("fuzz/seeds/transcripts.txt");
    let mut n = 0;
    let mut all = seeds(&transcripts);
    all.extend(new_seeds(&transcripts));
    all.extend(capi_seeds());
    for (target, name, data) in all {
        let dir = root.join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        n += 1;
    }
    println!("wrote {n} seeds under {}", root.display());
}

/// The client lines of each transcript, per mechanism: (client, mechanism, base64 lines, the
/// first being the initial response if the AUTH command had one).
fn client_messages(transcripts: &str) -> Vec<(String, String, Option<String>, Vec<String>)> {
    let mut out: Vec<(String, String, Option<String>, Vec<String>)> = Vec::new();
    for line in transcripts.lines() {
        let mut it = line.splitn(4, ' ');
        let (Some(client), Some(mech), Some(dir), Some(text)) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if dir != "C" {
            continue;
        }
        if let Some(rest) = text.strip_prefix("AUTH ") {
            let ir = rest.split(' ').nth(1).map(str::to_owned);
            out.push((client.into(), mech.into(), ir, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.3.push(text.to_owned());
        }
    }
    out
}
