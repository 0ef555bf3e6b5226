//! The daemon's reloadable state (configuration, engine policy, passwd-file, token keys) and
//! how it answers the engine's lookups: right away when that is cheap, or with a job for the
//! blocking pool when a slow hash must run.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use saslmech::{Mechanism, ScramHash, ScramKeys, SecretBuf, ServerConfig};
use sha2::Digest;

use crate::config::Config;
use crate::config::Driver;
use crate::handler::{Lookup, Owned};
use crate::oauth::Validator;
use crate::passdb::{Entry, LineError, PassDb, Source};
use crate::pgsql::PgPassdb;
use crate::scheme::{Scheme, Secret};

/// Everything a SIGHUP replaces at once.
#[derive(Debug)]
pub struct State {
    /// The configuration.
    pub config: Config,
    /// The configured mechanisms, in order.
    pub mechanisms: Vec<Mechanism>,
    /// The engine's policy for new connections.
    pub engine: Arc<ServerConfig>,
    /// The password source (passwd-file or PostgreSQL).
    pub passdb: Source,
    /// Token validation, if configured.
    pub oauth: Option<Validator>,
    /// Daemon-wide secret: SCRAM fake salts for unknown users and the salts of SCRAM keys
    /// derived from stored plaintext stay the same across reloads.
    secret: [u8; 32],
}

/// A blocking job: verifies or derives, returns the answer and a note for the log.
pub type Job = Box<dyn FnOnce() -> (Owned, Option<&'static str>) + Send + 'static>;

/// An asynchronous lookup (a database query): it ends in a [`Resolution`] that is `Now` or
/// `Blocking`, and perhaps the login name to report instead of the client's.
pub type Pending = Pin<Box<dyn Future<Output = (Resolution, Option<String>)> + Send + 'static>>;

/// How a lookup is answered.
pub enum Resolution {
    /// Answer now.
    Now(Owned, Option<&'static str>),
    /// Run this on the blocking pool, then answer with its result.
    Blocking(Job),
    /// Await this (off the connection's loop), then go on with what it gives.
    Async(Pending),
}

impl std::fmt::Debug for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolution::Now(o, n) => f.debug_tuple("Now").field(o).field(n).finish(),
            Resolution::Blocking(_) => f.write_str("Blocking"),
            Resolution::Async(_) => f.write_str("Async"),
        }
    }
}

const UNKNOWN: Option<&str> = Some("unknown user");
const NOT_ALLOWED: Option<&str> = Some("user not allowed (nologin or allow_nets)");
const NO_SCHEME: Option<&str> = Some("stored scheme cannot serve this mechanism");

/// The status an invalid token's error challenge carries, per mechanism.
pub fn token_status(mechanism: Mechanism) -> &'static str {
    if mechanism == Mechanism::XOAuth2 {
        "401"
    } else {
        "invalid_token"
    }
}

impl State {
    /// Build the state from a validated configuration: read the passwd-file and the keys.
    /// Returns the passwd-file's line problems too (those users cannot log in).
    pub fn build(config: Config, secret: [u8; 32]) -> Result<(State, Vec<LineError>), String> {
        let mechanisms = config.mechanisms().map_err(|e| e.to_string())?;
        let default = Scheme::from_name(&config.passdb.default_scheme)
            .ok_or_else(|| "passdb.default_scheme: unknown scheme".to_owned())?;
        let (passdb, errors) = match (config.passdb.driver, &config.passdb.passwd_file) {
            (Driver::PasswdFile, Some(path)) => {
                let (db, errors) = PassDb::load(path, default)
                    .map_err(|e| format!("passdb.passwd_file: {}: {e}", path.display()))?;
                (Source::File(db), errors)
            }
            (Driver::PasswdFile, None) => return Err("passdb.passwd_file: required".to_owned()),
            (Driver::Pgsql, _) => {
                let pg = config
                    .pgsql
                    .as_ref()
                    .ok_or_else(|| "passdb.driver: \"pgsql\" needs a [pgsql] table".to_owned())?;
                (Source::Pgsql(PgPassdb::new(pg, default)?), Vec::new())
            }
        };
        let oauth = config.oauth.as_ref().map(Validator::new).transpose()?;
        let mut engine = ServerConfig::new()
            .mechanisms(&mechanisms)
            .allow_plaintext_without_tls(config.auth.plaintext_without_tls)
            // CRAM-MD5 is offered when configured; the MTA's own policy decides further.
            .allow_weak(true)
            .max_message(config.auth.max_line)
            .scram_secret(&secret)
            .scram_iterations(config.auth.scram_iterations);
        if let Some(h) = &config.auth.hostname {
            engine = engine.hostname(h);
        }
        Ok((
            State {
                config,
                mechanisms,
                engine: Arc::new(engine),
                passdb,
                oauth,
                secret,
            },
            errors,
        ))
    }

    /// The salt of SCRAM keys derived from a stored plaintext password: fixed per user.
    fn derived_salt(&self, user: &str) -> [u8; ScramKeys::SALT_LEN] {
        let mut h = sha2::Sha256::new();
        h.update(b"saslmech-authd derived SCRAM salt\0");
        h.update(self.secret);
        h.update(user.as_bytes());
        let d = h.finalize();
        let mut salt = [0u8; ScramKeys::SALT_LEN];
        for (s, b) in salt.iter_mut().zip(d.iter()) {
            *s = *b;
        }
        salt
    }

    /// Decide how to answer `lookup` for a request from `rip` to `service`.
    pub fn resolve(
        self: &Arc<Self>,
        lookup: Lookup,
        rip: Option<IpAddr>,
        service: std::borrow::Cow<'static, str>,
    ) -> Resolution {
        let user = match &lookup {
            Lookup::Password { user, .. } | Lookup::Secret { user, .. } => user,
            Lookup::Token { .. } => return self.resolve_entry(lookup, None, rip),
        };
        if let Some(entry) = self.passdb.lookup_now(user) {
            return self.resolve_entry(lookup, entry, rip);
        }
        let state = Arc::clone(self);
        let user = user.clone();
        Resolution::Async(Box::pin(async move {
            match state.passdb.lookup(&user, &service).await {
                Ok(entry) => {
                    let login = entry.as_ref().and_then(|e| e.login.clone());
                    (state.resolve_entry(lookup, entry, rip), login)
                }
                Err(why) => (Resolution::Now(Owned::Temporary, Some(why)), None),
            }
        }))
    }

    /// Decide how to answer `lookup` given the user's entry (`None`: no such user).
    pub fn resolve_entry(
        self: &Arc<Self>,
        lookup: Lookup,
        entry: Option<Arc<Entry>>,
        rip: Option<IpAddr>,
    ) -> Resolution {
        match lookup {
            Lookup::Password {
                user: _, password, ..
            } => {
                let Some(entry) = entry else {
                    let Some(decoy) = self.passdb.decoy() else {
                        return Resolution::Now(Owned::UnknownUser, UNKNOWN);
                    };
                    // As long as a real user's check: the timing does not tell names apart.
                    return Resolution::Blocking(Box::new(move || {
                        let _ = std::hint::black_box(decoy.secret.verify(password.as_slice()));
                        (Owned::UnknownUser, UNKNOWN)
                    }));
                };
                if !entry.allowed_from(rip) {
                    return Resolution::Now(Owned::Reject, NOT_ALLOWED);
                }
                if entry.secret.is_slow() {
                    Resolution::Blocking(Box::new(move || {
                        verdict(entry.secret.verify(password.as_slice()))
                    }))
                } else {
                    let (a, n) = verdict(entry.secret.verify(password.as_slice()));
                    Resolution::Now(a, n)
                }
            }
            Lookup::Secret {
                user, mechanism, ..
            } => {
                let Some(entry) = entry else {
                    return Resolution::Now(Owned::UnknownUser, UNKNOWN);
                };
                if !entry.allowed_from(rip) {
                    return Resolution::Now(Owned::UnknownUser, NOT_ALLOWED);
                }
                match (mechanism, &entry.secret) {
                    (Mechanism::CramMd5, Secret::Plain(p)) => {
                        Resolution::Now(Owned::Password(SecretBuf::from_slice(p.as_slice())), None)
                    }
                    (Mechanism::CramMd5, Secret::CramMd5(k)) => {
                        Resolution::Now(Owned::CramMd5(k.clone()), None)
                    }
                    (m, Secret::Scram(k)) if ScramHash::of(m) == Some(k.hash()) => {
                        Resolution::Now(Owned::Scram(Box::new(k.clone())), None)
                    }
                    (m, Secret::Plain(_)) if m.is_scram() => {
                        let Some(hash) = ScramHash::of(m) else {
                            return Resolution::Now(Owned::UnknownUser, NO_SCHEME);
                        };
                        let state = Arc::clone(self);
                        Resolution::Blocking(Box::new(move || {
                            let salt = state.derived_salt(&user);
                            let keys = match &entry.secret {
                                Secret::Plain(p) => ScramKeys::derive(
                                    hash,
                                    p.as_slice(),
                                    &salt,
                                    state.config.auth.scram_iterations,
                                )
                                .ok(),
                                _ => None,
                            };
                            match keys {
                                Some(k) => (Owned::Scram(Box::new(k)), None),
                                None => (Owned::UnknownUser, NO_SCHEME),
                            }
                        }))
                    }
                    // Dovecot: "Requested CRAM-MD5 scheme, but we have only BLF-CRYPT" —
                    // the login fails exactly as for an unknown user.
                    _ => Resolution::Now(Owned::UnknownUser, NO_SCHEME),
                }
            }
            Lookup::Token {
                token, mechanism, ..
            } => {
                if self.oauth.is_none() {
                    return Resolution::Now(
                        Owned::TokenError(token_status(mechanism)),
                        Some("no [oauth] configured"),
                    );
                }
                let state = Arc::clone(self);
                Resolution::Blocking(Box::new(move || {
                    let Some(v) = state.oauth.as_ref() else {
                        return (Owned::TokenError(token_status(mechanism)), None);
                    };
                    match v.validate(token.as_slice()) {
                        // Always the owner: the engine compares it with the user named.
                        Ok(owner) => (Owned::TokenOwner(owner), None),
                        Err(why) => {
                            tracing::debug!(reason = %why, "token refused");
                            (
                                Owned::TokenError(token_status(mechanism)),
                                Some("invalid token"),
                            )
                        }
                    }
                }))
            }
        }
    }
}

fn verdict(ok: bool) -> (Owned, Option<&'static str>) {
    if ok {
        (Owned::Accept, None)
    } else {
        (Owned::Reject, Some("wrong password"))
    }
}

/// The answer for a lookup refused by the throttle (no password check at all).
pub fn throttled(lookup: &Lookup) -> Owned {
    match lookup {
        Lookup::Password { .. } => Owned::Reject,
        Lookup::Secret { .. } => Owned::UnknownUser,
        Lookup::Token { .. } => Owned::Reject,
    }
}
