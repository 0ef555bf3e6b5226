//! Password schemes of the passwd-file (Dovecot's names): parsing stored secrets, verifying a
//! plaintext password against them, writing new entries, and what each can serve.
//!
//! Every hash is computed by a maintained crate: `sha-crypt` (SHA512-CRYPT, SHA256-CRYPT),
//! `bcrypt` (BLF-CRYPT), `argon2` (ARGON2I, ARGON2ID), `sha1`/`sha2` (the SSHA family, compared
//! with `subtle`), and the engine itself for CRAM-MD5 and SCRAM.

use saslmech::{CramMd5Keys, ScramHash, ScramKeys, SecretBuf};
use sha_crypt::{PasswordHasher as _, PasswordVerifier as _};
use subtle::ConstantTimeEq;

/// A password scheme, as named inside `{...}` in a passwd-file entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `PLAIN`, `CLEAR`, `CLEARTEXT`: the password itself.
    Plain,
    /// `CRAM-MD5`: Dovecot's hex HMAC-MD5 context.
    CramMd5,
    /// `SCRAM-SHA-1`: `iter,salt,storedkey,serverkey` (base64).
    ScramSha1,
    /// `SCRAM-SHA-256`: `iter,salt,storedkey,serverkey` (base64).
    ScramSha256,
    /// `SHA512-CRYPT`: `$6$...`.
    Sha512Crypt,
    /// `SHA256-CRYPT`: `$5$...`.
    Sha256Crypt,
    /// `BLF-CRYPT`: bcrypt, `$2y$...` (also `$2a$`, `$2b$`).
    BlfCrypt,
    /// `ARGON2I`: `$argon2i$...`.
    Argon2i,
    /// `ARGON2ID`: `$argon2id$...`.
    Argon2id,
    /// `SSHA`: base64(SHA-1(password ‖ salt) ‖ salt).
    Ssha,
    /// `SSHA256`: base64(SHA-256(password ‖ salt) ‖ salt).
    Ssha256,
    /// `SSHA512`: base64(SHA-512(password ‖ salt) ‖ salt).
    Ssha512,
    /// `CRYPT`: a crypt(3) string; the `$id$` prefix picks SHA512-, SHA256-, BLF- or ARGON2.
    Crypt,
}

impl Scheme {
    /// Every scheme, for listings.
    pub const ALL: &'static [Scheme] = &[
        Scheme::Plain,
        Scheme::CramMd5,
        Scheme::ScramSha1,
        Scheme::ScramSha256,
        Scheme::Sha512Crypt,
        Scheme::Sha256Crypt,
        Scheme::BlfCrypt,
        Scheme::Argon2i,
        Scheme::Argon2id,
        Scheme::Ssha,
        Scheme::Ssha256,
        Scheme::Ssha512,
        Scheme::Crypt,
    ];

    /// Parse a scheme name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<Scheme> {
        let n = name.to_ascii_uppercase();
        Some(match n.as_str() {
            "PLAIN" | "CLEAR" | "CLEARTEXT" => Scheme::Plain,
            "CRAM-MD5" => Scheme::CramMd5,
            "SCRAM-SHA-1" => Scheme::ScramSha1,
            "SCRAM-SHA-256" => Scheme::ScramSha256,
            "SHA512-CRYPT" => Scheme::Sha512Crypt,
            "SHA256-CRYPT" => Scheme::Sha256Crypt,
            "BLF-CRYPT" => Scheme::BlfCrypt,
            "ARGON2I" => Scheme::Argon2i,
            "ARGON2ID" => Scheme::Argon2id,
            "SSHA" => Scheme::Ssha,
            "SSHA256" => Scheme::Ssha256,
            "SSHA512" => Scheme::Ssha512,
            "CRYPT" => Scheme::Crypt,
            _ => return None,
        })
    }

    /// The canonical name (as `doveadm pw -l` lists it).
    pub const fn name(self) -> &'static str {
        match self {
            Scheme::Plain => "PLAIN",
            Scheme::CramMd5 => "CRAM-MD5",
            Scheme::ScramSha1 => "SCRAM-SHA-1",
            Scheme::ScramSha256 => "SCRAM-SHA-256",
            Scheme::Sha512Crypt => "SHA512-CRYPT",
            Scheme::Sha256Crypt => "SHA256-CRYPT",
            Scheme::BlfCrypt => "BLF-CRYPT",
            Scheme::Argon2i => "ARGON2I",
            Scheme::Argon2id => "ARGON2ID",
            Scheme::Ssha => "SSHA",
            Scheme::Ssha256 => "SSHA256",
            Scheme::Ssha512 => "SSHA512",
            Scheme::Crypt => "CRYPT",
        }
    }
}

/// Why a stored secret could not be parsed (never contains the secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadSecret(pub &'static str);

impl std::fmt::Display for BadSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A crypt-style hash string, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptKind {
    /// `$6$` / `$5$`.
    Sha,
    /// `$2y$`, `$2a$`, `$2b$`, `$2x$`.
    Bcrypt,
    /// `$argon2i$` / `$argon2id$` (PHC).
    Argon2,
}

/// The SSHA digest family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SshaHash {
    /// SHA-1 (20 octets).
    Sha1,
    /// SHA-256 (32 octets).
    Sha256,
    /// SHA-512 (64 octets).
    Sha512,
}

impl SshaHash {
    fn len(self) -> usize {
        match self {
            SshaHash::Sha1 => 20,
            SshaHash::Sha256 => 32,
            SshaHash::Sha512 => 64,
        }
    }

    fn digest(self, password: &[u8], salt: &[u8]) -> SecretBuf {
        use sha2::Digest;
        let mut out = SecretBuf::new();
        match self {
            SshaHash::Sha1 => {
                let mut h = sha1::Sha1::new();
                h.update(password);
                h.update(salt);
                out.extend(&h.finalize());
            }
            SshaHash::Sha256 => {
                let mut h = sha2::Sha256::new();
                h.update(password);
                h.update(salt);
                out.extend(&h.finalize());
            }
            SshaHash::Sha512 => {
                let mut h = sha2::Sha512::new();
                h.update(password);
                h.update(salt);
                out.extend(&h.finalize());
            }
        }
        out
    }
}

/// A stored secret, parsed once when the passwd-file is loaded.
#[derive(Clone)]
pub enum Secret {
    /// The plaintext password.
    Plain(SecretBuf),
    /// CRAM-MD5's HMAC-MD5 state.
    CramMd5(CramMd5Keys),
    /// SCRAM stored keys.
    Scram(ScramKeys),
    /// A crypt-style string, verified by the crate of its kind.
    Crypt(CryptKind, String),
    /// An SSHA-family digest and its salt.
    Ssha(SshaHash, SecretBuf, SecretBuf),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Plain(_) => "Plain(<redacted>)",
            Secret::CramMd5(_) => "CramMd5(<redacted>)",
            Secret::Scram(_) => "Scram(<redacted>)",
            Secret::Crypt(..) => "Crypt(<redacted>)",
            Secret::Ssha(..) => "Ssha(<redacted>)",
        })
    }
}

/// Dovecot's SCRAM form: `iterations,salt_b64,storedkey_b64,serverkey_b64`.
pub fn parse_dovecot_scram(hash: ScramHash, text: &str) -> Result<ScramKeys, BadSecret> {
    const BAD: BadSecret = BadSecret("not a Dovecot SCRAM entry (iter,salt,storedkey,serverkey)");
    let mut parts = text.split(',');
    let (Some(iter), Some(salt), Some(stored), Some(server), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(BAD);
    };
    let iterations: u32 = iter.parse().map_err(|_| BAD)?;
    let salt = saslmech::b64::decode(salt.as_bytes()).map_err(|_| BAD)?;
    let stored = saslmech::b64::decode(stored.as_bytes()).map_err(|_| BAD)?;
    let server = saslmech::b64::decode(server.as_bytes()).map_err(|_| BAD)?;
    ScramKeys::new(
        hash,
        salt.as_slice(),
        iterations,
        stored.as_slice(),
        server.as_slice(),
    )
    .map_err(|_| BAD)
}

/// Write Dovecot's SCRAM form (without the `{SCHEME}` prefix).
pub fn format_dovecot_scram(keys: &ScramKeys) -> String {
    format!(
        "{},{},{},{}",
        keys.iterations(),
        saslmech::b64::encode(keys.salt()),
        saslmech::b64::encode(keys.stored_key()),
        saslmech::b64::encode(keys.server_key())
    )
}

fn crypt_kind(text: &str) -> Option<CryptKind> {
    if text.starts_with("$6$") || text.starts_with("$5$") {
        Some(CryptKind::Sha)
    } else if ["$2y$", "$2a$", "$2b$", "$2x$"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        Some(CryptKind::Bcrypt)
    } else if text.starts_with("$argon2i$") || text.starts_with("$argon2id$") {
        Some(CryptKind::Argon2)
    } else {
        None
    }
}

impl Secret {
    /// Parse the text after `{SCHEME}` (or a whole entry of the default scheme).
    pub fn parse(scheme: Scheme, text: &str) -> Result<Secret, BadSecret> {
        let want = |kind: CryptKind, prefixes: &[&str]| {
            if prefixes.iter().any(|p| text.starts_with(p)) && crypt_kind(text) == Some(kind) {
                Ok(Secret::Crypt(kind, text.to_owned()))
            } else {
                Err(BadSecret("hash does not match its scheme"))
            }
        };
        match scheme {
            Scheme::Plain => Ok(Secret::Plain(SecretBuf::from_slice(text.as_bytes()))),
            Scheme::CramMd5 => CramMd5Keys::from_dovecot(text)
                .map(Secret::CramMd5)
                .ok_or(BadSecret("not 64 hex digits")),
            Scheme::ScramSha1 => parse_dovecot_scram(ScramHash::Sha1, text).map(Secret::Scram),
            Scheme::ScramSha256 => parse_dovecot_scram(ScramHash::Sha256, text).map(Secret::Scram),
            Scheme::Sha512Crypt => want(CryptKind::Sha, &["$6$"]),
            Scheme::Sha256Crypt => want(CryptKind::Sha, &["$5$"]),
            Scheme::BlfCrypt => want(CryptKind::Bcrypt, &["$2"]),
            Scheme::Argon2i => want(CryptKind::Argon2, &["$argon2i$"]),
            Scheme::Argon2id => want(CryptKind::Argon2, &["$argon2id$"]),
            Scheme::Crypt => crypt_kind(text)
                .map(|k| Secret::Crypt(k, text.to_owned()))
                .ok_or(BadSecret(
                    "unsupported crypt(3) hash (DES and MD5-crypt are not)",
                )),
            Scheme::Ssha | Scheme::Ssha256 | Scheme::Ssha512 => {
                let hash = match scheme {
                    Scheme::Ssha => SshaHash::Sha1,
                    Scheme::Ssha256 => SshaHash::Sha256,
                    _ => SshaHash::Sha512,
                };
                let raw =
                    saslmech::b64::decode(text.as_bytes()).map_err(|_| BadSecret("not base64"))?;
                let n = hash.len();
                match (raw.as_slice().get(..n), raw.as_slice().get(n..)) {
                    (Some(d), Some(salt)) => Ok(Secret::Ssha(
                        hash,
                        SecretBuf::from_slice(d),
                        SecretBuf::from_slice(salt),
                    )),
                    _ => Err(BadSecret("digest too short")),
                }
            }
        }
    }

    /// True if checking a password costs a slow hash (run it on the blocking pool).
    pub fn is_slow(&self) -> bool {
        matches!(self, Secret::Crypt(..) | Secret::Scram(..))
    }

    /// Verify a plaintext password (PLAIN, LOGIN) against this secret, in constant time with
    /// respect to the secret. Slow for crypt hashes and SCRAM (see [`is_slow`](Self::is_slow)).
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Secret::Plain(p) => saslmech::ct_eq_password(password, p.as_slice()),
            // `CramMd5Keys` compares in constant time.
            Secret::CramMd5(keys) => CramMd5Keys::from_password(password) == *keys,
            Secret::Scram(keys) => {
                match ScramKeys::derive(keys.hash(), password, keys.salt(), keys.iterations()) {
                    Ok(derived) => bool::from(derived.stored_key().ct_eq(keys.stored_key())),
                    Err(_) => false,
                }
            }
            Secret::Ssha(hash, digest, salt) => {
                let got = hash.digest(password, salt.as_slice());
                bool::from(got.as_slice().ct_eq(digest.as_slice()))
            }
            Secret::Crypt(CryptKind::Sha, h) => sha_crypt::ShaCrypt::default()
                .verify_password(password, h.as_str())
                .is_ok(),
            Secret::Crypt(CryptKind::Bcrypt, h) => bcrypt::verify(password, h).unwrap_or(false),
            Secret::Crypt(CryptKind::Argon2, h) => {
                use argon2::PasswordVerifier as _;
                argon2::Argon2::default()
                    .verify_password(password, h.as_str())
                    .is_ok()
            }
        }
    }
}

/// Random bytes for salts; `None` if the OS has none to give.
fn random<const N: usize>() -> Option<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).ok()?;
    Some(b)
}

/// Write a passwd-file secret `{SCHEME}...` for `password` (like `doveadm pw -s SCHEME`).
/// `scram_iterations` is used by the SCRAM schemes.
pub fn hash(scheme: Scheme, password: &[u8], scram_iterations: u32) -> Result<String, String> {
    let body = match scheme {
        Scheme::Plain => std::str::from_utf8(password)
            .map_err(|_| "password is not UTF-8".to_owned())?
            .to_owned(),
        Scheme::CramMd5 => {
            let s = CramMd5Keys::from_password(password).to_dovecot();
            s.strip_prefix("{CRAM-MD5}").unwrap_or(&s).to_owned()
        }
        Scheme::ScramSha1 | Scheme::ScramSha256 => {
            let h = if scheme == Scheme::ScramSha1 {
                ScramHash::Sha1
            } else {
                ScramHash::Sha256
            };
            let keys = ScramKeys::generate(h, password, scram_iterations)
                .map_err(|e| format!("SCRAM: {e}"))?;
            format_dovecot_scram(&keys)
        }
        Scheme::Sha512Crypt | Scheme::Sha256Crypt | Scheme::Crypt => {
            let hasher = if scheme == Scheme::Sha256Crypt {
                sha_crypt::ShaCrypt::SHA256
            } else {
                sha_crypt::ShaCrypt::SHA512
            };
            // sha-crypt writes these bytes in crypt's base64: 12 bytes are 16 characters, the
            // longest salt SHA-crypt uses. libc's crypt(3), and so Dovecot, cut a longer salt
            // to 16 characters while sha-crypt hashes all of it: a longer one would give
            // entries that nothing else verifies.
            let salt: [u8; 12] = random().ok_or("no randomness")?;
            hasher
                .hash_password_with_salt(password, &salt)
                .map_err(|e| format!("crypt: {e}"))?
                .as_str()
                .to_owned()
        }
        Scheme::BlfCrypt => {
            let salt: [u8; 16] = random().ok_or("no randomness")?;
            bcrypt::hash_with_salt(password, 10, salt)
                .map_err(|e| format!("bcrypt: {e}"))?
                .format_for_version(bcrypt::Version::TwoY)
        }
        Scheme::Argon2i | Scheme::Argon2id => {
            use argon2::CustomizedPasswordHasher as _;
            let salt: [u8; 16] = random().ok_or("no randomness")?;
            let alg = if scheme == Scheme::Argon2i {
                "argon2i"
            } else {
                "argon2id"
            };
            argon2::Argon2::default()
                .hash_password_customized(
                    password,
                    &salt,
                    Some(alg),
                    None,
                    argon2::Params::default(),
                )
                .map_err(|e| format!("argon2: {e}"))?
                .to_string()
        }
        Scheme::Ssha | Scheme::Ssha256 | Scheme::Ssha512 => {
            let h = match scheme {
                Scheme::Ssha => SshaHash::Sha1,
                Scheme::Ssha256 => SshaHash::Sha256,
                _ => SshaHash::Sha512,
            };
            let salt: [u8; 8] = random().ok_or("no randomness")?;
            let mut raw = h.digest(password, &salt);
            raw.extend(&salt);
            saslmech::b64::encode(raw.as_slice())
        }
    };
    let name = if scheme == Scheme::Crypt {
        Scheme::Sha512Crypt.name()
    } else {
        scheme.name()
    };
    Ok(format!("{{{name}}}{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(scheme: Scheme) {
        let entry = hash(scheme, b"s3cr\xc3\xa9t", 4096).unwrap();
        let rest = entry.strip_prefix('{').unwrap();
        let (name, body) = rest.split_once('}').unwrap();
        let parsed_scheme = Scheme::from_name(name).unwrap();
        let secret = Secret::parse(parsed_scheme, body).unwrap();
        assert!(secret.verify("s3cr\u{e9}t".as_bytes()), "{scheme:?}");
        assert!(!secret.verify(b"s3cret"), "{scheme:?}");
        assert!(!secret.verify(b""), "{scheme:?}");
    }

    #[test]
    fn every_scheme_roundtrips() {
        for s in Scheme::ALL {
            roundtrip(*s);
        }
    }

    #[test]
    fn scheme_mismatch_is_refused() {
        assert!(Secret::parse(Scheme::Sha512Crypt, "$5$abc$def").is_err());
        assert!(Secret::parse(Scheme::BlfCrypt, "$6$abc$def").is_err());
        assert!(Secret::parse(Scheme::Crypt, "abDES1234567").is_err());
        assert!(Secret::parse(Scheme::CramMd5, "00").is_err());
        assert!(Secret::parse(Scheme::ScramSha256, "4096,AAAA,BBBB").is_err());
        assert!(Secret::parse(Scheme::Ssha, "AAAA").is_err());
    }
}
