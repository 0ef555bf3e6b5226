//! `saslmech-authd`: a daemon speaking Dovecot's auth client protocol (as Postfix's and Exim's
//! `dovecot` SASL support use it), answering with the saslmech engine.
//!
//! The pieces, from the wire inward:
//! * [`config`]: the TOML configuration file.
//! * [`scheme`]: password schemes of the passwd-file.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod backend;
pub mod config;
pub mod handler;
pub mod logfmt;
pub mod logwriter;
pub mod oauth;
pub mod passdb;
pub mod pgsql;
pub mod protocol;
pub mod scheme;
pub mod server;
pub mod throttle;
