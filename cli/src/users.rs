//! The users file: accounts for a server, one `user:secret` a line, and the answers to the
//! engine's requests that follow from them.
//!
//! Shared by the `saslmech server` command and the demo submission server
//! (`examples/submission.rs` includes this file with `#[path]`), so both read exactly the
//! format the README documents:
//!
//! ```text
//! # comments and blank lines are ignored; split at the first colon
//! alice@example.com:correct horse          # plaintext password
//! bob@example.com:{PLAIN}{braces}ok        # {PLAIN}: plaintext, even if it starts with {
//! carol@example.com:{CRAM-MD5}<64 hex>     # Dovecot's CRAM-MD5 hash (doveadm pw -s CRAM-MD5)
//! alice@example.com:{BEARER}some-token     # an XOAUTH2 bearer token for that user
//! ```
//!
//! A user may have several lines (a password and a token); a later password replaces an
//! earlier one.

// Each includer uses a different subset (the CLI never times out a lookup).
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead};
use std::path::Path;

use saslmech::{Answer, CramMd5Keys, SecretBuf, TokenError, ct_eq};

/// A stored password: plaintext, or only Dovecot's CRAM-MD5 hash of it.
pub enum Secret {
    Plain(SecretBuf),
    Cram(CramMd5Keys),
}

/// The accounts of a users file.
#[derive(Default)]
pub struct Directory {
    pub secrets: HashMap<String, Secret>,
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
                d.tokens
                    .insert(user.into(), SecretBuf::from_slice(token.as_bytes()));
            } else if secret.starts_with("{CRAM-MD5}") {
                let keys = CramMd5Keys::from_dovecot(secret)
                    .ok_or_else(|| bad("{CRAM-MD5} needs 64 hex digits"))?;
                d.secrets.insert(user.into(), Secret::Cram(keys));
            } else {
                let plain = secret.strip_prefix("{PLAIN}").unwrap_or(secret);
                if plain.is_empty() {
                    return Err(bad("empty password"));
                }
                d.secrets.insert(
                    user.into(),
                    Secret::Plain(SecretBuf::from_slice(plain.as_bytes())),
                );
            }
        }
        Ok(d)
    }

    /// How many credentials (passwords and tokens) the file holds.
    pub fn len(&self) -> usize {
        self.secrets.len() + self.tokens.len()
    }

    /// True if the file holds no credentials.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check a password the client sent (PLAIN, LOGIN).
    pub fn verify_password(&self, authcid: &str, password: &[u8]) -> Verdict {
        match self.secrets.get(authcid) {
            // The engine compares in constant time.
            Some(Secret::Plain(p)) => Verdict::Password(p.clone()),
            // Only the CRAM-MD5 hash is stored: hash the given password the same way.
            Some(Secret::Cram(k)) => {
                let given = CramMd5Keys::from_password(password);
                if ct_eq(&given.to_bytes(), &k.to_bytes()) {
                    Verdict::Accept
                } else {
                    Verdict::Reject
                }
            }
            None => Verdict::UnknownUser,
        }
    }

    /// The secret the engine needs to verify the client itself (CRAM-MD5).
    pub fn secret(&self, authcid: &str) -> Verdict {
        match self.secrets.get(authcid) {
            Some(Secret::Plain(p)) => Verdict::Password(p.clone()),
            Some(Secret::Cram(k)) => Verdict::Cram(k.clone()),
            None => Verdict::UnknownUser,
        }
    }

    /// Check a bearer token (XOAUTH2).
    pub fn validate_token(&self, user: &str, token: &[u8]) -> Verdict {
        match self.tokens.get(user) {
            Some(t) if ct_eq(t.as_slice(), token) => Verdict::Accept,
            _ => Verdict::BadToken,
        }
    }
}

/// An owned answer (it can cross threads, as in the demo server's directory thread).
pub enum Verdict {
    Accept,
    Reject,
    UnknownUser,
    BadToken,
    Password(SecretBuf),
    Cram(CramMd5Keys),
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
            Verdict::Password(p) => Answer::Password(p.as_slice()),
            Verdict::Cram(k) => Answer::CramMd5Keys(k),
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

    #[test]
    fn the_documented_format() {
        let cram = CramMd5Keys::from_password(b"carol pw").to_dovecot();
        let d = parse(&format!(
            "# comment\n\n  # indented comment\r\nalice:correct horse\r\nbob:{{PLAIN}}{{x}}:y\n\
             carol:{cram}\nalice:{{BEARER}}tok\n"
        ))
        .unwrap();
        assert_eq!(d.len(), 4);
        assert!(
            matches!(d.verify_password("alice", b"correct horse"), Verdict::Password(p) if p.as_slice() == b"correct horse")
        );
        assert!(matches!(d.secret("bob"), Verdict::Password(p) if p.as_slice() == b"{x}:y"));
        assert!(matches!(
            d.verify_password("carol", b"carol pw"),
            Verdict::Accept
        ));
        assert!(matches!(
            d.verify_password("carol", b"other"),
            Verdict::Reject
        ));
        assert!(matches!(d.secret("carol"), Verdict::Cram(_)));
        assert!(matches!(
            d.verify_password("dave", b"x"),
            Verdict::UnknownUser
        ));
        assert!(matches!(d.secret("dave"), Verdict::UnknownUser));
        assert!(matches!(d.validate_token("alice", b"tok"), Verdict::Accept));
        assert!(matches!(
            d.validate_token("alice", b"tok2"),
            Verdict::BadToken
        ));
        assert!(matches!(d.validate_token("bob", b"tok"), Verdict::BadToken));
        assert!(matches!(Verdict::BadToken.answer(), Answer::TokenError(e) if e.status == "401"));
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
        assert!(
            parse("a:{CRAM-MD5}abc\n")
                .err()
                .unwrap()
                .contains("64 hex digits")
        );
        assert!(parse("").unwrap().is_empty());
    }
}
