//! The users file of saslmech's command-line tool (`saslmech server --users FILE`) and of its
//! demo submission server (`examples/submission/`): accounts, one `user:secret` a line, and
//! the answers to the engine's requests that follow from them.
//!
//! The one parser of this format, so that both programs read exactly the format docs/cli.md
//! documents:
//!
//! ```text
//! # comments and blank lines are ignored; split at the first colon
//! alice@example.com:correct horse          # plaintext password (SCRAM keys derived at load)
//! bob@example.com:{PLAIN}{braces}ok        # {PLAIN}: plaintext, even if it starts with { or SCRAM-
//! carol@example.com:{CRAM-MD5}<64 hex>     # Dovecot's CRAM-MD5 hash (doveadm pw -s CRAM-MD5)
//! dave@example.com:SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>   # RFC 5803 stored keys
//! dave@example.com:SCRAM-SHA-512$10000:<salt>$<StoredKey>:<ServerKey>  # (SHA-1, -256 or -512)
//! alice@example.com:{BEARER}some-token     # a bearer token (OAUTHBEARER, XOAUTH2) for that user
//! ```
//!
//! A user may have several lines (a password and a token; a `SCRAM-SHA-1$…` and a
//! `SCRAM-SHA-256$…` entry); a later line of the same kind replaces an earlier one. A
//! plaintext password gets SCRAM-SHA-1, SCRAM-SHA-256 and SCRAM-SHA-512 keys derived at load
//! (fresh salt, the engine's default count [`ScramHash::min_iterations`]: 4096, for
//! SCRAM-SHA-512 the draft's 10000) for each hash without stored keys, so SCRAM
//! always runs against stored keys. With only stored SCRAM keys, PLAIN and LOGIN still work
//! (the password is checked against the keys), CRAM-MD5 does not; with only a `{CRAM-MD5}`
//! hash, PLAIN, LOGIN and CRAM-MD5 work, SCRAM does not.
//!
//! # Empty secrets
//!
//! An entry that would let a client in with the empty password is refused, and the whole file
//! with it, with an error naming the line: an empty password or token, a password that is empty
//! after SASLprep (only characters SASLprep maps to nothing, such as U+00AD SOFT HYPHEN), a
//! `{CRAM-MD5}` hash of the empty password, and SCRAM keys derived from the empty password
//! (checking them costs one PBKDF2 run per stored SCRAM entry at load). A server should refuse
//! to start on such a file rather than run with an account that authenticates nobody, or
//! anybody. A user the file does not name is answered with [`Answer::UnknownUser`], never
//! with an empty password; and [`Verdict::Password`] holds a [`Password`], which cannot be
//! empty after SASLprep.
//!
//! ```
//! use saslmech::{Answer, Mechanism};
//! use saslmech_users::{Directory, Verdict};
//!
//! let dir = Directory::parse("alice:correct horse\n".as_bytes(), "users")?;
//! assert!(matches!(dir.verify_password("alice", b"correct horse"), Verdict::Password(_)));
//! assert!(matches!(dir.secret(Mechanism::CramMd5, "bob").answer(), Answer::UnknownUser));
//!
//! let err = Directory::parse("alice:pw\nmallory:\u{AD}\n".as_bytes(), "users").unwrap_err();
//! assert!(err.starts_with("users:2: mallory: empty password after SASLprep"));
//! # Ok::<(), String>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
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

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead};
use std::path::Path;

use saslmech::saslprep::{Mode, saslprep};
use saslmech::{
    Answer, CramMd5Keys, Mechanism, ScramHash, ScramKeys, SecretBuf, TokenError, ct_eq,
};

/// A stored plaintext password that is not empty after SASLprep, in wiped-on-drop memory.
///
/// ```
/// use saslmech_users::Password;
/// assert_eq!(Password::new(b"pencil").unwrap().as_slice(), b"pencil");
/// assert!(Password::new(b"").is_none());
/// // SASLprep maps U+00AD SOFT HYPHEN to nothing.
/// assert!(Password::new("\u{AD}\u{AD}".as_bytes()).is_none());
/// assert!(Password::new("I\u{AD}X".as_bytes()).is_some());
/// ```
#[derive(Clone)]
pub struct Password(SecretBuf);

impl Password {
    /// The password, or `None` if it is empty before or after SASLprep (RFC 4013): such a
    /// password is no secret, and the engine must be told the user is unknown instead.
    ///
    /// A password SASLprep refuses (say, one with a control character) is kept: it is not
    /// empty, and whether it can be used is the engine's decision.
    pub fn new(password: &[u8]) -> Option<Password> {
        (!empty_after_saslprep(password)).then(|| Password(SecretBuf::from_slice(password)))
    }

    /// The password as stored (not prepared).
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_slice()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// True if `password` is empty, or is UTF-8 that SASLprep maps to the empty string. Any copy
/// SASLprep makes is wiped.
fn empty_after_saslprep(password: &[u8]) -> bool {
    if password.iter().all(|b| (0x20..0x7f).contains(b)) {
        // Printable ASCII (or nothing): SASLprep leaves it as it is.
        return password.is_empty();
    }
    let Ok(text) = std::str::from_utf8(password) else {
        return false;
    };
    match saslprep(text, Mode::Query) {
        Ok(Cow::Borrowed(p)) => p.is_empty(),
        Ok(Cow::Owned(p)) => {
            let empty = p.is_empty();
            let mut bytes = p.into_bytes();
            bytes.fill(0);
            std::hint::black_box(&bytes);
            empty
        }
        Err(_) => false,
    }
}

/// `name:line: what`, or `name: what` when no line is to blame: the form of every error.
fn error(name: &str, line: Option<usize>, what: &str) -> String {
    match line {
        Some(n) => format!("{name}:{n}: {what}"),
        None => format!("{name}: {what}"),
    }
}

/// What is stored for one user; several lines may fill it.
#[derive(Default)]
struct Account {
    /// The plaintext password and the line it is on.
    plain: Option<(Password, usize)>,
    cram: Option<CramMd5Keys>,
    scram_sha1: Option<ScramKeys>,
    scram_sha256: Option<ScramKeys>,
    scram_sha512: Option<ScramKeys>,
}

impl Account {
    /// The stored SCRAM keys for `hash`.
    fn scram(&self, hash: ScramHash) -> Option<&ScramKeys> {
        match hash {
            ScramHash::Sha1 => self.scram_sha1.as_ref(),
            ScramHash::Sha512 => self.scram_sha512.as_ref(),
            _ => self.scram_sha256.as_ref(),
        }
    }

    fn password(&self) -> Option<&Password> {
        self.plain.as_ref().map(|(p, _)| p)
    }

    /// Check a password sent in the clear (PLAIN, LOGIN) against whatever is stored.
    fn check_password(&self, given: &[u8]) -> Verdict {
        if let Some(p) = self.password() {
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
        if let Some(k) = self
            .scram_sha256
            .as_ref()
            .or(self.scram_sha512.as_ref())
            .or(self.scram_sha1.as_ref())
        {
            // Only SCRAM keys: derive them from the given password with the stored salt.
            let ok = ScramKeys::derive(k.hash(), given, k.salt(), k.iterations())
                .is_ok_and(|d| ct_eq(d.stored_key(), k.stored_key()));
            return if ok { Verdict::Accept } else { Verdict::Reject };
        }
        Verdict::UnknownUser
    }

    /// Derive SCRAM keys (fresh salt, the engine's default count) from the plaintext password
    /// for each hash without stored keys.
    fn derive_scram(&mut self, name: &str, user: &str) -> Result<(), String> {
        let Some((p, line)) = &self.plain else {
            return Ok(());
        };
        let derive = |hash: ScramHash| {
            let n = hash.min_iterations();
            ScramKeys::generate(hash, p.as_slice(), n).map_err(|e| {
                error(
                    name,
                    Some(*line),
                    &format!("{user}: deriving SCRAM keys: {e}"),
                )
            })
        };
        if self.scram_sha1.is_none() {
            self.scram_sha1 = Some(derive(ScramHash::Sha1)?);
        }
        if self.scram_sha256.is_none() {
            self.scram_sha256 = Some(derive(ScramHash::Sha256)?);
        }
        if self.scram_sha512.is_none() {
            self.scram_sha512 = Some(derive(ScramHash::Sha512)?);
        }
        Ok(())
    }
}

/// The accounts and bearer tokens of a users file.
///
/// [`Default`] is the empty directory, which knows nobody.
#[derive(Default)]
pub struct Directory {
    accounts: HashMap<String, Account>,
    tokens: HashMap<String, SecretBuf>,
}

impl fmt::Debug for Directory {
    /// How many accounts and tokens; no secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("accounts", &self.accounts.len())
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl Directory {
    /// Read a users file (see [`Directory::parse`]); errors start with the file's name.
    pub fn load(path: &Path) -> Result<Directory, String> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| error(&name, None, &e.to_string()))?;
        Directory::parse(io::BufReader::new(file), &name)
    }

    /// Parse users-file text; `name` starts the error message (`name:line: what`).
    ///
    /// Refuses the whole text at the first bad line: one without a colon, an empty user name,
    /// a malformed `{CRAM-MD5}` or `SCRAM-SHA-*$` entry, or an empty secret (see the crate
    /// documentation). Plaintext passwords get their SCRAM keys derived here.
    pub fn parse(text: impl BufRead, name: &str) -> Result<Directory, String> {
        let mut d = Directory::default();
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            let line = line.map_err(|e| error(name, Some(n), &e.to_string()))?;
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let bad = |what: &str| error(name, Some(n), what);
            let (user, secret) = line
                .split_once(':')
                .ok_or_else(|| bad("expected user:secret"))?;
            let user = user.trim();
            if user.is_empty() {
                return Err(bad("empty user name"));
            }
            let empty = |what: &str| bad(&format!("{user}: {what}"));
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
                let of_empty = CramMd5Keys::from_password(b"");
                if keys == of_empty {
                    return Err(empty("{CRAM-MD5} hash of the empty password"));
                }
                account.cram = Some(keys);
            } else if secret.starts_with("SCRAM-SHA-") {
                let keys = ScramKeys::from_rfc5803(secret).map_err(|_| {
                    bad("expected SCRAM-SHA-1$, SCRAM-SHA-256$ or SCRAM-SHA-512$<iterations>:<salt>$<StoredKey>:<ServerKey>")
                })?;
                let of_empty = ScramKeys::derive(keys.hash(), b"", keys.salt(), keys.iterations());
                if of_empty.is_ok_and(|e| ct_eq(e.stored_key(), keys.stored_key())) {
                    return Err(empty("SCRAM keys of the empty password"));
                }
                match keys.hash() {
                    ScramHash::Sha1 => account.scram_sha1 = Some(keys),
                    ScramHash::Sha512 => account.scram_sha512 = Some(keys),
                    _ => account.scram_sha256 = Some(keys),
                }
            } else {
                let plain = secret.strip_prefix("{PLAIN}").unwrap_or(secret);
                if plain.is_empty() {
                    return Err(bad("empty password"));
                }
                let password = Password::new(plain.as_bytes()).ok_or_else(|| {
                    empty(
                        "empty password after SASLprep (only characters it maps to nothing, \
                         such as U+00AD)",
                    )
                })?;
                account.plain = Some((password, n));
            }
        }
        for (user, account) in &mut d.accounts {
            account.derive_scram(name, user)?;
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

    /// Check a password the client sent (PLAIN, LOGIN): the stored password for the engine to
    /// compare, or the verdict of checking it against a stored hash or stored keys;
    /// [`Verdict::UnknownUser`] for a user without a password, hash or keys.
    pub fn verify_password(&self, authcid: &str, password: &[u8]) -> Verdict {
        match self.accounts.get(authcid) {
            Some(a) => a.check_password(password),
            None => Verdict::UnknownUser,
        }
    }

    /// The secret `mechanism` needs to verify the client itself: CRAM-MD5's plaintext or
    /// keys, SCRAM's stored keys for the mechanism's hash (the plaintext if there are none);
    /// [`Verdict::UnknownUser`] if there is none for that mechanism.
    pub fn secret(&self, mechanism: Mechanism, authcid: &str) -> Verdict {
        let Some(a) = self.accounts.get(authcid) else {
            return Verdict::UnknownUser;
        };
        match ScramHash::of(mechanism) {
            Some(h) => match (a.scram(h), a.password()) {
                (Some(k), _) => Verdict::Scram(k.clone()),
                (None, Some(p)) => Verdict::Password(p.clone()),
                (None, None) => Verdict::UnknownUser,
            },
            None => match (a.password(), &a.cram) {
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
            Some(t) if ct_eq(t.as_slice(), token) => Verdict::Owner(user.to_owned()),
            _ => bad,
        }
    }
}

/// An owned answer to one of the engine's requests (it can cross threads, as in the demo
/// server's directory thread); [`Verdict::answer`] lends it to the engine.
#[derive(Debug)]
pub enum Verdict {
    /// The credentials are valid.
    Accept,
    /// The credentials are not valid.
    Reject,
    /// The user has no usable credential for this request.
    UnknownUser,
    /// XOAUTH2's error challenge (Google's form: an HTTP status).
    BadToken,
    /// OAUTHBEARER's error challenge (RFC 7628: an OAuth error code).
    BadBearer,
    /// The token is valid and belongs to this user (XOAUTH2, OAUTHBEARER).
    Owner(String),
    /// The stored plaintext password, for the engine to check against.
    Password(Password),
    /// Stored CRAM-MD5 keys.
    Cram(CramMd5Keys),
    /// Stored SCRAM keys.
    Scram(ScramKeys),
    /// The directory could not answer (a lookup that timed out, say).
    Unavailable,
}

impl Verdict {
    /// The engine's answer.
    ///
    /// ```
    /// use saslmech::Answer;
    /// use saslmech_users::{Password, Verdict};
    /// assert!(matches!(Verdict::UnknownUser.answer(), Answer::UnknownUser));
    /// let p = Verdict::Password(Password::new(b"pencil").unwrap());
    /// assert!(matches!(p.answer(), Answer::Password(b"pencil")));
    /// ```
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
        let dave512 = keys(ScramHash::Sha512, b"dave pw").to_rfc5803();
        let d = parse(&format!(
            "# comment\n\n  # indented comment\r\nalice:correct horse\r\nbob:{{PLAIN}}{{x}}:y\n\
             carol:{cram}\nalice:{{BEARER}}tok\ndave:{dave256}\ndave:{dave1}\ndave:{dave512}\n\
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
            (Mechanism::ScramSha512, ScramHash::Sha512),
            (Mechanism::ScramSha512Plus, ScramHash::Sha512),
        ] {
            let Verdict::Scram(k) = d.secret(m, "dave") else {
                panic!("{m}: no stored keys")
            };
            assert_eq!(k.to_rfc5803(), keys(h, b"dave pw").to_rfc5803());
            // Keys derived from alice's plaintext at load, with a fresh salt.
            let Verdict::Scram(k) = d.secret(m, "alice") else {
                panic!("{m}: no derived keys")
            };
            // SCRAM-SHA-512: the draft's 10000 rather than the 4096 of the others.
            assert_eq!((k.hash(), k.iterations()), (h, h.min_iterations()));
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
                Verdict::Owner(u) if u == "alice"
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
                .starts_with("users:2: expected SCRAM-SHA-1$, SCRAM-SHA-256$ or SCRAM-SHA-512$")
        );
        assert!(parse("a:SCRAM-SHA-512$1:c2FsdA==$AA==:AA==\n").is_err());
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn an_empty_secret_is_refused_naming_the_line() {
        let empty_cram = CramMd5Keys::from_password(b"").to_dovecot();
        let empty_scram1 = keys(ScramHash::Sha1, b"").to_rfc5803();
        let empty_scram256 = keys(ScramHash::Sha256, b"").to_rfc5803();
        let empty_scram512 = keys(ScramHash::Sha512, b"").to_rfc5803();
        // SASLprep maps U+00AD (soft hyphen), U+200B (zero width space) and U+FE0F
        // (variation selector) to nothing.
        for (line, why) in [
            ("m:\u{AD}", "m: empty password after SASLprep"),
            (
                "m:{PLAIN}\u{AD}\u{200B}\u{FE0F}",
                "m: empty password after SASLprep",
            ),
            (
                &format!("m:{}", &*empty_cram),
                "m: {CRAM-MD5} hash of the empty password",
            ),
            (
                &format!("m:{empty_scram1}"),
                "m: SCRAM keys of the empty password",
            ),
            (
                &format!("m:{empty_scram256}"),
                "m: SCRAM keys of the empty password",
            ),
            (
                &format!("m:{empty_scram512}"),
                "m: SCRAM keys of the empty password",
            ),
        ] {
            let text = format!("alice:pw\n\n{line}\nzed:pw\n");
            let e = Directory::parse(text.as_bytes(), "f").err().unwrap();
            assert!(e.starts_with(&format!("f:3: {why}")), "{line:?}: {e}");
        }
        // Not empty after SASLprep: kept as written (the engine prepares it).
        let d = parse("m:I\u{AD}X\nn: \n").unwrap();
        assert!(
            matches!(d.secret(Mechanism::CramMd5, "m"), Verdict::Password(p) if p.as_slice() == "I\u{AD}X".as_bytes())
        );
        assert!(
            matches!(d.secret(Mechanism::Plain, "n"), Verdict::Password(p) if p.as_slice() == b" ")
        );
        // Keys of a non-empty password with the same salt are not mistaken for the empty one's.
        assert!(
            parse(&format!(
                "m:{}\n",
                keys(ScramHash::Sha256, b"x").to_rfc5803()
            ))
            .is_ok()
        );
        assert!(
            parse(&format!(
                "m:{}\n",
                &*CramMd5Keys::from_password(b"x").to_dovecot()
            ))
            .is_ok()
        );
    }

    #[test]
    fn no_answer_is_an_empty_password() {
        assert!(Password::new(b"").is_none());
        assert!(Password::new("\u{AD}".as_bytes()).is_none());
        assert!(Password::new("\u{2060}\u{AD}".as_bytes()).is_none());
        // Not UTF-8, or refused by SASLprep: not empty; the engine decides.
        assert!(Password::new(b"\xff").is_some());
        assert!(Password::new(b"\x07").is_some());
        assert_eq!(
            format!("{:?}", Password::new(b"pw").unwrap()),
            "Password(<redacted>)"
        );
        // Unknown users, and users without a credential for the mechanism, are unknown:
        // never an empty password.
        let d = parse("carol:{BEARER}tok\n").unwrap();
        for m in saslmech::ALL_MECHANISMS {
            assert!(
                matches!(d.secret(*m, "nobody").answer(), Answer::UnknownUser),
                "{m}"
            );
            assert!(
                matches!(d.secret(*m, "carol").answer(), Answer::UnknownUser),
                "{m}"
            );
        }
        assert!(matches!(
            d.verify_password("nobody", b"").answer(),
            Answer::UnknownUser
        ));
        assert!(matches!(
            d.verify_password("carol", b"").answer(),
            Answer::UnknownUser
        ));
        assert!(matches!(
            Directory::default().verify_password("a", b"").answer(),
            Answer::UnknownUser
        ));
    }

    #[test]
    fn load_names_the_file() {
        let dir = std::env::temp_dir().join(format!("saslmech-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("users");
        std::fs::write(&f, "alice:pw\nbob:{BEARER}t\n").unwrap();
        assert_eq!(Directory::load(&f).unwrap().len(), 2);
        std::fs::write(&f, "alice:pw\nbob\n").unwrap();
        let e = Directory::load(&f).err().unwrap();
        assert_eq!(e, format!("{}:2: expected user:secret", f.display()));
        let missing = dir.join("missing");
        let e = Directory::load(&missing).err().unwrap();
        assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
