//! Password schemes of the passwd-file (Dovecot's names) and what each can serve.

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
