//! The C API fuzz target (feature `capi`): `saslmech::ffi` driven from Rust by
//! arbitrary call sequences within the documented contract (live handles, buffers as long as
//! their lengths say, NULL wherever the caller chooses), the way a C program would.
//!
//! The only module of this crate with `unsafe`: every call is an FFI call whose contract
//! (stated once at the top of the library's `src/ffi/mod.rs`) the target keeps. Each block
//! says how.
//!
//! Oracles, beyond no crash: no call ever returns `SASLMECH_PANIC` or `SASLMECH_POISONED`;
//! a NULL out-parameter gives `SASLMECH_NULL_ARGUMENT`; out-parameters are written only on
//! `SASLMECH_OK` (sentinels stay otherwise) and then hold documented values (statuses 1–4,
//! request kinds 1–4, failures 0–15, phases 1–4); pointers returned are readable for the
//! length returned; a finished session refuses steps with `SASLMECH_INVALID_STATE`.
//! Operations 20 and up reach the rest of the header (every export is called) with oracles
//! from each function's documentation; `fuzz/README.md` lists them.

use core::ptr::{null, null_mut};

use crate::{Input, MAX_OPS};
use saslmech::ffi::saslmech_result::*;
use saslmech::ffi::*;

/// The library's version as its Cargo.toml states it (this crate's own `CARGO_PKG_VERSION`
/// is not the library's): the first `version = "..."` line, the `[package]` one.
fn saslmech_package_version() -> &'static str {
    include_str!("../../../../Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_default()
}

/// An out-parameter that is not written yet.
const UNSET: u32 = 0xdead_beef;

/// The highest mechanism number: `SASLMECH_MECH_*` are `1..=MECH_MAX`.
const MECH_MAX: u32 = 13;
/// How many numbers a mechanism byte picks from (`byte % MECH_PICK`): every mechanism, and 0
/// and `MECH_MAX + 1`, which are unknown.
const MECH_PICK: u8 = MECH_MAX as u8 + 2;

/// The SCRAM mechanism numbers (SHA-1, SHA-256, SHA-512 and their -PLUS).
fn is_scram(m: u32) -> bool {
    matches!(m, 5..=8 | 12 | 13)
}

fn ok_or(r: saslmech_result, allowed: &[saslmech_result], what: &str) -> bool {
    assert!(
        !matches!(
            r,
            saslmech_result::SASLMECH_PANIC | saslmech_result::SASLMECH_POISONED
        ),
        "{what}: {r:?}"
    );
    assert!(
        r == saslmech_result::SASLMECH_OK || allowed.contains(&r),
        "{what}: undocumented result {r:?}"
    );
    r == saslmech_result::SASLMECH_OK
}

/// Results any call that takes input may give.
const ANY: &[saslmech_result] = &[
    SASLMECH_NULL_ARGUMENT,
    SASLMECH_INVALID_ARGUMENT,
    SASLMECH_INVALID_UTF8,
    SASLMECH_UNKNOWN_MECHANISM,
    SASLMECH_INVALID_STATE,
    SASLMECH_WRONG_ANSWER,
    SASLMECH_FAILED,
    SASLMECH_ABSENT,
    SASLMECH_BUFFER_TOO_SMALL,
];

/// A byte string or, if the selector says so, NULL (with its length kept: NULL with a
/// nonzero length must be refused, NULL with zero length is an empty string).
fn ptr_of(b: &[u8], null_it: bool) -> *const u8 {
    if null_it { null() } else { b.as_ptr() }
}

/// Read what a returned (pointer, length) pair points at.
fn read(p: *const u8, len: usize) -> Vec<u8> {
    if p.is_null() {
        assert_eq!(len, 0, "NULL pointer with a length");
        return Vec::new();
    }
    // SAFETY: the library documents the pair as `len` readable bytes, valid until the next
    // call on the handle; we copy them at once.
    unsafe { core::slice::from_raw_parts(p, len) }.to_vec()
}

/// Check a status out-parameter after a call.
fn check_status(ok: bool, st: u32) {
    if ok {
        assert!((1..=4).contains(&st), "status {st}");
    } else {
        assert_eq!(st, UNSET, "status written on error");
    }
}

struct Handles {
    config: *mut saslmech_server_config,
    server: *mut saslmech_server,
    client: *mut saslmech_client,
    creds: *mut saslmech_credentials,
    client_config: *mut saslmech_client_config,
    proto: *mut saslmech_proto_server,
    keys: *mut saslmech_scram_keys,
    cache: *mut saslmech_scram_client_cache,
    pclient: *mut saslmech_proto_client,
    /// What the target knows about the handles, to check answers against.
    t: Track,
}

/// The state the target expects the handles to be in.
struct Track {
    /// The mechanism `client` was made for.
    client_mech: u32,
    /// The configured maximum message size (`saslmech_server_config_max_message`).
    max_message: usize,
    /// `proto`'s protocol (0 SMTP, 1 IMAP, 2 POP3), TLS state and last event.
    proto_kind: u8,
    proto_tls: bool,
    proto_event: Option<u32>,
    /// `pclient`'s protocol, mechanism, whether started, its last event, whether it sends an
    /// initial response, its SMTP line limit.
    pclient_kind: u8,
    pclient_mech: u32,
    pclient_started: bool,
    pclient_event: Option<u32>,
    pclient_ir: bool,
    pclient_max_line: usize,
    /// The last CRAM-MD5 key state derived from a password.
    cram: [u8; 32],
}

impl Drop for Handles {
    fn drop(&mut self) {
        // SAFETY: each handle is NULL or came from its constructor and is freed once, here.
        unsafe {
            saslmech_server_free(self.server);
            saslmech_client_free(self.client);
            saslmech_proto_server_free(self.proto);
            saslmech_credentials_free(self.creds);
            saslmech_client_config_free(self.client_config);
            saslmech_scram_keys_free(self.keys);
            saslmech_scram_client_cache_free(self.cache);
            saslmech_proto_client_free(self.pclient);
            saslmech_server_config_free(self.config);
        }
    }
}

mod config_client;
mod interp;
mod keys;
/// The operations of the target's input format, as they were numbered when the seed corpus
/// was made, expressed with today's C API: one operation per former export, so that the seeds
/// keep reaching the same states. Each keeps the old contract the oracles check (a NULL
/// out-parameter is refused before anything happens; out-parameters are written only on
/// `SASLMECH_OK`) and reaches the exports that replaced it: the request and identity views of
/// both server handles, `saslmech_credentials_set`, the optional arguments (NULL config,
/// salt, nonce, initial response, success data), the merged constructors and parsers.
mod ops;
mod proto;

use config_client::*;
pub use interp::capi;
use interp::*;
use keys::*;
use proto::*;
