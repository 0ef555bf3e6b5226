//! The C ABI (feature `capi`): the functions declared in `include/saslmech.h`, one file per
//! area, in the order the header lists them:
//!
//! | file | area |
//! |---|---|
//! | `enums.rs` | result codes and every other number that crosses the ABI |
//! | `panic.rs` | the panic boundary, handle poisoning, pointer and out-parameter helpers |
//! | `general.rs` | library-wide functions: version, descriptions, mechanisms, selection, constant-time comparison, base64 |
//! | `keys.rs` | stored secrets: CRAM-MD5 key state, SCRAM stored keys, the SCRAM client cache |
//! | `server_config.rs` | `saslmech_server_config`: policy and limits shared by server sessions |
//! | `server.rs` | `saslmech_server`: one server-side exchange of the engine |
//! | `request.rs` | `saslmech_request` and `saslmech_identity`: the pending request, its answers, and who authenticated, for the engine session and the protocol adapter alike |
//! | `client.rs` | `saslmech_credentials`, `saslmech_client_config`, `saslmech_client` |
//! | `proto_server.rs` | `saslmech_proto_server`: the SMTP/IMAP/POP3 server adapters |
//! | `proto_client.rs` | `saslmech_proto_client`: the SMTP/IMAP/POP3 client adapters, and parsing what servers advertise |
//!
//! This is the only module allowed `unsafe`. Every export:
//!
//! * checks every pointer argument for NULL before anything else (`SASLMECH_NULL_ARGUMENT`),
//!   except the few documented as optional, where NULL means "none" or "the default";
//! * takes enumerations from C as integers and validates them (never a Rust enum built from
//!   an arbitrary integer);
//! * writes its out-parameters only when it returns `SASLMECH_OK`;
//! * runs inside a panic boundary (`panic::guard`, `panic::with_mut`, `panic::with_ref`): a
//!   panic becomes `SASLMECH_PANIC` and the handle it happened on answers
//!   `SASLMECH_POISONED` to every later call but `_free`.
//!
//! The contract on the C side, stated once for all the functions here (they are `unsafe fn`
//! for Rust callers for this reason): a pointer argument is NULL or valid for what its
//! documentation says (`len` readable bytes, one writable value); a handle comes from the
//! matching `_new` and is not used after its `_free`; a borrowed view (`saslmech_request`,
//! `saslmech_identity`) is not used after the handle it came from is freed; one handle is not
//! used by two threads at the same time, except a `saslmech_server_config`, a
//! `saslmech_client_config`, `saslmech_scram_keys` or a `saslmech_scram_client_cache` through
//! the functions that take it as `const`.
//!
//! Numbers (result codes, mechanisms, statuses, request kinds, failures, flags, protocols,
//! verdicts) are part of the ABI: they are never changed or reused. New ones are appended.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // stated once, above

mod enums;
mod panic;

mod general;

mod keys;

mod server_config;

mod server;

mod request;

mod client;

mod proto_server;

mod proto_client;

pub use client::*;
pub use enums::*;
pub use general::*;
pub use keys::*;
pub use proto_client::*;
pub use proto_server::*;
pub use request::*;
pub use server::*;
pub use server_config::*;

// What the C API guide promises about threads, checked by the compiler: sessions and
// credentials may move between threads, a configuration and immutable keys may also be shared
// by them.
const _: () = {
    const fn send<T: Send>() {}
    const fn send_and_sync<T: Send + Sync>() {}
    send::<saslmech_server>();
    send::<saslmech_client>();
    send::<saslmech_credentials>();
    send::<saslmech_proto_server>();
    send::<saslmech_proto_client>();
    send_and_sync::<saslmech_client_config>();
    send_and_sync::<saslmech_scram_keys>();
    send_and_sync::<saslmech_scram_client_cache>();
    send_and_sync::<saslmech_server_config>();
};

#[cfg(test)]
mod tests;
