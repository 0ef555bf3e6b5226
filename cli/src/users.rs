//! The users file: accounts for a server, one `user:secret` a line, and the answers to the
//! engine's requests that follow from them.
//!
//! The one parser of this format: the `saslmech server` command uses it, and the demo
//! submission server (`examples/submission.rs`) includes this file with `#[path]`, so both
//! read exactly the format the README documents:
//!
//! ```text
//! # comments and blank lines are ignored; split at the first colon
//! alice@example.com:correct horse          # plaintext password (SCRAM keys derived at load)
//! bob@example.com:{PLAIN}{braces}ok        # {PLAIN}: plaintext, even if it starts with { or SCRAM-
//! carol@example.com:{CRAM-MD5}<64 hex>     # Dovecot's CRAM-MD5 hash (doveadm pw -s CRAM-MD5)
//! dave@example.com:SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>   # RFC 5803 stored keys
//! alice@example.com:{BEARER}some-token     # a bearer token (OAUTHBEARER, XOAUTH2) for that user
//! ```
//!
//! A user may have several lines (a password and a token; a `SCRAM-SHA-1$…` and a
//! `SCRAM-SHA-256$…` entry); a later line of the same kind replaces an earlier one. A
//! plaintext password gets SCRAM-SHA-1 and SCRAM-SHA-256 keys derived at load (fresh salt,
//! [`ServerConfig::DEFAULT_SCRAM_ITERATIONS`]) for each hash without stored keys, so SCRAM
//! always runs against stored keys. With only stored SCRAM keys, PLAIN and LOGIN still work
//! (the password is checked against the keys), CRAM-MD5 does not; with only a `{CRAM-MD5}`
//! hash, PLAIN, LOGIN and CRAM-MD5 work, SCRAM does not.

// Each includer uses a different subset.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::path::Path;

use saslmech::{
    Answer, CramMd5Keys, Mechanism, ScramHash, ScramKeys, SecretBuf, ServerConfig, TokenError,
    ct_eq,
};

/// What is stored for one user; several lines may fill it.
#[derive(Default)]
pub struct Account {
    pub plain: Option<SecretBuf>,
    pub cram: Option<CramMd5Keys>,
    pub scram_sha1: Option<ScramKeys>,
    pub scram_sha256: Option<ScramKeys>,
}

impl Account {
    /// The stored SCRAM keys for `hash`.
    pub fn scram(&self, hash: ScramHash) -> Option<&ScramKeys> {
        match hash {
            ScramHash::Sha1 => self.scram_sha1.as_ref(),
            _ => self.scram_sha256.as_ref(),
        }
    }

    /// Check a password sent in the clear (PLAIN, LOGIN) against whatever is stored.
    fn check_password(&self, given: &[u8]) -> Verdict {
        if let Some(p) = &self.plain {
            // The engine compares in constant time.
            return Verdict::Password(p.clone());
        }
        if let Some(k) = &self.cram {
            // Only the CRAM-MD5 hash is stored: hash the given password the same way.
            let ok = ct_eq(
                &*CramMd5Keys::from_password(given).to_bytes(),
                &*k.to_bytes(),
            );
            return if ok { Verdict::Accept } else { Verdict::Reject };
        }
        if let Some(k) = self.scram_sha256.as_ref().or(self.scram_sha1.as_ref()) {
            // Only SCRAM keys: derive them from the given password with the stored salt.
            let ok = ScramKeys::derive(k.hash(), given, k.salt(), k.iterations())
                .is_ok_and(|d| ct_eq(d.stored_key(), k.stored_key()));
            return if ok { Verdict::Accept } else { Verdict::Reject };
        }
        Verdict::UnknownUser
    }

    /// Derive SCRAM keys (fresh salt, the engine's default count) from the plaintext password
    /// for each hash without stored keys.
    fn derive_scram(&mut self) -> Result<(), String> {
        let Some(p) = &self.plain else {
            return Ok(());
        };
        let n = ServerConfig::DEFAULT_SCRAM_ITERATIONS;
        let derive = |hash| ScramKeys::generate(hash, p.as_slice(), n).map_err(|e| e.to_string());
        if self.scram_sha1.is_none() {
            self.scram_sha1 = Some(derive(ScramHash::Sha1)?);
        }
        if self.scram_sha256.is_none() {
            self.scram_sha256 = Some(derive(ScramHash::Sha256)?);
        }
        Ok(())
    }
}

/// The accounts of a users file.
#[derive(Default)]
pub struct Directory {
    pub accounts: HashMap<String, Account>,
    pub tokens: HashMap<String, SecretBuf>,
}

impl Directory {
    /// Read a users file.
    pub fn load(path: &Path) -> Result<Directory, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Directory::parse(io::BufReader::new(file), &path.display().to_string())
    }

    /// Parse users-file text; `name` prefixes error messages (`name:line: what`).
    pub fn parse(text: impl BufRead, name: &str) -> Result<Directory, String> {
        let mut d = Directory::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.map_err(|e| format!("{name}: {e}"))?;
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let bad = |what: &str| format!("{name}:{}: {what}", n + 1);
            let (user, secret) = line
                .split_once(':')
                .ok_or_else(|| bad("expected user:secret"))?;
            let user = user.trim();
            if user.is_empty() {
                return Err(bad("empty user name"));
            }
            if let Some(token) = secret.strip_prefix("{BEARER}") {
                if token.is_empty() {
                    return Err(bad("empty token"));
                }
                d.tokens
                    .insert(user.into(), SecretBuf::from_slice(token.as_bytes()));
                continue;
            }
            let account = d.accounts.entry(user.into()).or_default();
            if secret.starts_with("{CRAM-MD5}") {
                let keys = CramMd5Keys::from_dovecot(secret)
                    .ok_or_else(|| bad("{CRAM-MD5} needs 64 hex digits"))?;
                account.cram = Some(keys);
            } else if secret.starts_with("SCRAM-SHA-") {
                let keys = ScramKeys::from_rfc5803(secret).map_err(|_| {
                    bad("expected SCRAM-SHA-1$ or SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>")
                })?;
                match keys.hash() {
                    ScramHash::Sha1 => account.scram_sha1 = Some(keys),
                    _ => account.scram_sha256 = Some(keys),
                }
            } else {
                let plain = secret.strip_prefix("{PLAIN}").unwrap_or(secret);
                if plain.is_empty() {
                    return Err(bad("empty password"));
                }
                account.plain = Some(SecretBuf::from_slice(plain.as_bytes()));
            }
        }
        for (user, account) in &mut d.accounts {
            account
                .derive_scram()
                .map_err(|e| format!("{name}: {user}: deriving SCRAM keys: {e}"))?;
        }
        Ok(d)
    }

    /// How many credentials the file holds (accounts and tokens).
    pub fn len(&self) -> usize {
        self.accounts.len() + self.tokens.len()
    }

    /// True if the file holds no credentials.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check a password the client sent (PLAIN, LOGIN).
    pub fn verify_password(&self, authcid: &str, password: &[u8]) -> Verdict {
        match self.accounts.get(authcid) {
            Some(a) => a.check_password(password),
            None => Verdict::UnknownUser,
        }
    }

    /// The secret `mechanism` needs to verify the client itself: CRAM-MD5's plaintext or
    /// keys, SCRAM's stored keys for the mechanism's hash (the plaintext if there are none).
    pub fn secret(&self, mechanism: Mechanism, authcid: &str) -> Verdict {
        let Some(a) = self.accounts.get(authcid) else {
            return Verdict::UnknownUser;
        };
        match ScramHash::of(mechanism) {
            Some(h) => match (a.scram(h), &a.plain) {
                (Some(k), _) => Verdict::Scram(k.clone()),
                (None, Some(p)) => Verdict::Password(p.clone()),
                (None, None) => Verdict::UnknownUser,
            },
            None => match (&a.plain, &a.cram) {
                (Some(p), _) => Verdict::Password(p.clone()),
                (None, Some(k)) => Verdict::Cram(k.clone()),
                (None, None) => Verdict::UnknownUser,
            },
        }
    }

    /// Check a bearer token (XOAUTH2, OAUTHBEARER). `user` is the name the client gave; empty
    /// for an OAUTHBEARER client without an authzid, when the token alone says whose it is.
    pub fn validate_token(&self, mechanism: Mechanism, user: &str, token: &[u8]) -> Verdict {
        let bad = if mechanism == Mechanism::OAuthBearer {
            Verdict::BadBearer
        } else {
            Verdict::BadToken
        };
        if user.is_empty() {
            let owner = self.tokens.iter().find(|(_, t)| ct_eq(t.as_slice(), token));
            return owner.map_or(bad, |(u, _)| Verdict::Owner(u.clone()));
        }
        match self.tokens.get(user) {
            Some(t) if ct_eq(t.as_slice(), token) => Verdict::Accept,
            _ => bad,
        }
    }
}

/// An owned answer (it can cross threads, as in the demo server's directory thread).
pub enum Verdict {
    Accept,
    Reject,
    UnknownUser,
    /// XOAUTH2's error challenge (Google's form: an HTTP status).
    BadToken,
    /// OAUTHBEARER's error challenge (RFC 7628: an OAuth error code).
    BadBearer,
    /// OAUTHBEARER: the token is valid and belongs to this user.
    Owner(String),
    Password(SecretBuf),
    Cram(CramMd5Keys),
    Scram(ScramKeys),
    Unavailable,
}

impl Verdict {
    /// The engine's answer.
    pub fn answer(&self) -> Answer<'_> {
        match self {
            Verdict::Accept => Answer::Accept,
            Verdict::Reject => Answer::Reject,
            Verdict::UnknownUser => Answer::UnknownUser,
            Verdict::BadToken => Answer::TokenError(TokenError {
                status: "401",
                scope: Some("https://mail.google.com/"),
            }),
            Verdict::BadBearer => Answer::TokenError(TokenError {
                status: "invalid_token",
                scope: Some("mail"),
            }),
            Verdict::Owner(u) => Answer::TokenOwner(u),
            Verdict::Password(p) => Answer::Password(p.as_slice()),
            Verdict::Cram(k) => Answer::CramMd5Keys(k),
            Verdict::Scram(k) => Answer::ScramKeys(k),
            Verdict::Unavailable => Answer::TemporaryFailure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Directory, String> {
        Directory::parse(text.as_bytes(), "users")
    }

    fn keys(hash: ScramHash, password: &[u8]) -> ScramKeys {
        ScramKeys::derive(hash, password, b"NaCl salt", 4096).unwrap()
    }

    #[test]
    fn the_documented_format() {
        let cram = CramMd5Keys::from_password(b"carol pw")
            .to_dovecot()
            .to_string();
        let dave256 = keys(ScramHash::Sha256, b"dave pw").to_rfc5803();
        let dave1 = keys(ScramHash::Sha1, b"dave pw").to_rfc5803();
        let d = parse(&format!(
            "# comment\n\n  # indented comment\r\nalice:correct horse\r\nbob:{{PLAIN}}{{x}}:y\n\
             carol:{cram}\nalice:{{BEARER}}tok\ndave:{dave256}\ndave:{dave1}\n\
             erin:{{PLAIN}}SCRAM-SHA-256$not keys\n"
        ))
        .unwrap();
        // Accounts alice, bob, carol, dave, erin; alice's token.
        assert_eq!(d.len(), 6);
        assert!(
            matches!(d.verify_password("alice", b"correct horse"), Verdict::Password(p) if p.as_slice() == b"correct horse")
        );
        assert!(
            matches!(d.secret(Mechanism::CramMd5, "bob"), Verdict::Password(p) if p.as_slice() == b"{x}:y")
        );
        assert!(
            matches!(d.secret(Mechanism::CramMd5, "erin"), Verdict::Password(p) if p.as_slice() == b"SCRAM-SHA-256$not keys")
        );
        assert!(matches!(
            d.verify_password("carol", b"carol pw"),
            Verdict::Accept
        ));
        assert!(matches!(
            d.verify_password("carol", b"other"),
            Verdict::Reject
        ));
        assert!(matches!(
            d.secret(Mechanism::CramMd5, "carol"),
            Verdict::Cram(_)
        ));
        // A {CRAM-MD5} hash cannot serve SCRAM.
        assert!(matches!(
            d.secret(Mechanism::ScramSha256, "carol"),
            Verdict::UnknownUser
        ));
        assert!(matches!(d.verify_password("dave", b"x"), Verdict::Reject));
        assert!(matches!(
            d.verify_password("dave", b"dave pw"),
            Verdict::Accept
        ));
        // Stored keys cannot serve CRAM-MD5.
        assert!(matches!(
            d.secret(Mechanism::CramMd5, "dave"),
            Verdict::UnknownUser
        ));
        for (m, h) in [
            (Mechanism::ScramSha1, ScramHash::Sha1),
            (Mechanism::ScramSha1Plus, ScramHash::Sha1),
            (Mechanism::ScramSha256, ScramHash::Sha256),
            (Mechanism::ScramSha256Plus, ScramHash::Sha256),
        ] {
            let Verdict::Scram(k) = d.secret(m, "dave") else {
                panic!("{m}: no stored keys")
            };
            assert_eq!(k.to_rfc5803(), keys(h, b"dave pw").to_rfc5803());
            // Keys derived from alice's plaintext at load, with a fresh salt.
            let Verdict::Scram(k) = d.secret(m, "alice") else {
                panic!("{m}: no derived keys")
            };
            assert_eq!(
                (k.hash(), k.iterations()),
                (h, ServerConfig::DEFAULT_SCRAM_ITERATIONS)
            );
            let again = ScramKeys::derive(h, b"correct horse", k.salt(), k.iterations()).unwrap();
            assert_eq!(again.stored_key(), k.stored_key());
            assert_eq!(again.server_key(), k.server_key());
        }
        assert!(matches!(
            d.verify_password("nobody", b"x"),
            Verdict::UnknownUser
        ));
        assert!(matches!(
            d.secret(Mechanism::ScramSha1, "nobody"),
            Verdict::UnknownUser
        ));
    }

    #[test]
    fn tokens() {
        let d = parse("alice:{BEARER}tok\nbob:pw\nbob:{BEARER}tok2\n").unwrap();
        for m in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            assert!(matches!(
                d.validate_token(m, "alice", b"tok"),
                Verdict::Accept
            ));
            assert!(matches!(
                d.validate_token(m, "bob", b"tok"),
                Verdict::BadToken | Verdict::BadBearer
            ));
        }
        assert!(matches!(
            d.validate_token(Mechanism::OAuthBearer, "", b"tok2"),
            Verdict::Owner(u) if u == "bob"
        ));
        assert!(matches!(
            d.validate_token(Mechanism::OAuthBearer, "", b"tok3"),
            Verdict::BadBearer
        ));
        assert!(matches!(
            d.validate_token(Mechanism::XOAuth2, "alice", b"tok2"),
            Verdict::BadToken
        ));
        assert!(matches!(Verdict::BadToken.answer(), Answer::TokenError(e) if e.status == "401"));
        assert!(
            matches!(Verdict::BadBearer.answer(), Answer::TokenError(e) if e.status == "invalid_token")
        );
        // A user with only a token has no account.
        assert!(matches!(
            d.verify_password("alice", b"tok"),
            Verdict::UnknownUser
        ));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("a:b\nno colon\n").err().unwrap(),
            "users:2: expected user:secret"
        );
        assert_eq!(parse(":pw\n").err().unwrap(), "users:1: empty user name");
        assert_eq!(parse("a:\n").err().unwrap(), "users:1: empty password");
        assert_eq!(
            parse("a:{PLAIN}\n").err().unwrap(),
            "users:1: empty password"
        );
        assert_eq!(parse("a:{BEARER}\n").err().unwrap(), "users:1: empty token");
        assert!(
            parse("a:{CRAM-MD5}abc\n")
                .err()
                .unwrap()
                .contains("64 hex digits")
        );
        assert!(
            parse("x:y\na:SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA\n")
                .err()
                .unwrap()
                .starts_with("users:2: expected SCRAM-SHA-1$ or SCRAM-SHA-256$")
        );
        assert!(parse("a:SCRAM-SHA-512$1:c2FsdA==$AA==:AA==\n").is_err());
        assert!(parse("").unwrap().is_empty());
    }
}
