//! SCRAM's stored keys ([`ScramKeys`], what a server keeps for a user), the client's
//! cache of derived keys ([`ScramClientCache`]), and what both are computed from: the hash
//! ([`ScramHash`]), the salt, and the SASLprep'd password.

use core::fmt;

use zeroize::Zeroize;

use crate::b64;
use crate::crypto::{self, HmacKey, Output, Sha};
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::saslprep::{self, Mode};
use crate::secret::SecretBuf;

/// The hash function of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScramHash {
    /// SHA-1 (SCRAM-SHA-1, RFC 5802).
    Sha1,
    /// SHA-256 (SCRAM-SHA-256, RFC 7677).
    Sha256,
    /// SHA-512 (SCRAM-SHA-512, draft-melnikov-scram-sha-512).
    Sha512,
}

impl ScramHash {
    /// The hash of a SCRAM mechanism (`None` for the others).
    pub const fn of(mechanism: Mechanism) -> Option<ScramHash> {
        match mechanism {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => Some(ScramHash::Sha256),
            Mechanism::ScramSha512 | Mechanism::ScramSha512Plus => Some(ScramHash::Sha512),
            _ => None,
        }
    }

    /// The mechanism name without `-PLUS`, as used in the RFC 5803 stored form.
    pub const fn name(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SCRAM-SHA-1",
            ScramHash::Sha256 => "SCRAM-SHA-256",
            ScramHash::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The digest length in octets (20, 32 or 64): the length of keys, proofs and signatures.
    pub const fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
            ScramHash::Sha512 => 64,
        }
    }

    /// The smallest iteration count the mechanism's specification asks a server to announce:
    /// 4096 for SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 7677 §4), 10000 for SCRAM-SHA-512
    /// (draft-melnikov-scram-sha-512 §3). Unless the application sets
    /// [`ServerConfig::scram_iterations`](crate::ServerConfig::scram_iterations), a server
    /// derives keys from a plaintext password, and an unknown user's fake keys, with this
    /// many. (The client's lower bound,
    /// [`ClientConfig::min_iterations`](crate::ClientConfig::min_iterations), stays 4096 for
    /// every hash: Cyrus SASL's server announces 4096 for all of them.)
    ///
    /// ```
    /// use saslmech::ScramHash;
    /// assert_eq!(ScramHash::Sha256.min_iterations(), 4096);
    /// assert_eq!(ScramHash::Sha512.min_iterations(), 10_000);
    /// ```
    pub const fn min_iterations(self) -> u32 {
        match self {
            ScramHash::Sha1 | ScramHash::Sha256 => 4096,
            ScramHash::Sha512 => 10_000,
        }
    }

    /// Every SCRAM hash, in the order the RFC 5803 parser tries them.
    pub(crate) const ALL: [ScramHash; 3] = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512];

    /// The hash function behind it.
    pub(crate) const fn sha(self) -> Sha {
        match self {
            ScramHash::Sha1 => Sha::Sha1,
            ScramHash::Sha256 => Sha::Sha256,
            ScramHash::Sha512 => Sha::Sha512,
        }
    }
}

/// A salt: inline up to 64 octets (servers use 16 to 32), on the heap beyond.
#[derive(Clone)]
pub(crate) enum Salt {
    Inline { len: u8, bytes: [u8; Salt::INLINE] },
    Heap(Box<[u8]>),
}

impl Salt {
    const INLINE: usize = 64;

    pub(crate) fn new(salt: &[u8]) -> Salt {
        let mut bytes = [0u8; Salt::INLINE];
        match bytes.get_mut(..salt.len()) {
            Some(dst) => {
                dst.copy_from_slice(salt);
                Salt::Inline {
                    len: salt.len() as u8,
                    bytes,
                }
            }
            None => Salt::Heap(salt.into()),
        }
    }

    /// Decode a salt's base64 text (strict).
    pub(crate) fn decode(text: &[u8]) -> Result<Salt, Failure> {
        let mut bytes = [0u8; Salt::INLINE];
        match b64::decode_to(text, &mut bytes) {
            Ok(n) => Ok(Salt::Inline {
                len: n as u8,
                bytes,
            }),
            // Possibly too long for inline storage: decode on the heap.
            Err(_) if text.len() / 4 * 3 > Salt::INLINE => {
                Ok(Salt::new(b64::decode(text)?.as_slice()))
            }
            Err(f) => Err(f),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Salt::Inline { len, bytes } => bytes.split_at(usize::from(*len).min(Salt::INLINE)).0,
            Salt::Heap(b) => b,
        }
    }
}

impl PartialEq for Salt {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Salt {}

impl Drop for Salt {
    fn drop(&mut self) {
        match self {
            Salt::Inline { bytes, .. } => bytes.as_mut_slice().zeroize(),
            Salt::Heap(b) => b.zeroize(),
        }
    }
}

/// What a SCRAM server stores for a user (RFC 5802 §3, RFC 5803): the salt, the iteration
/// count, `StoredKey = H(ClientKey)` and `ServerKey`. Enough to verify a client and to prove
/// the server's knowledge, not enough to log in as the user.
///
/// ```
/// use saslmech::{ScramHash, ScramKeys};
/// let salt = [0x41, 0x25, 0xc2, 0x47, 0xe4, 0x3a, 0xb1, 0xe9, 0x3c, 0x6d, 0xff, 0x76];
/// let keys = ScramKeys::derive(ScramHash::Sha1, b"pencil", &salt, 4096).unwrap();
/// assert_eq!(
///     keys.to_rfc5803(),
///     "SCRAM-SHA-1$4096:QSXCR+Q6sek8bf92$6dlGYMOdZcOPutkcNY8U2g7vK9Y=:D+CSWLOshSulAsxiupA+qs2/fTE="
/// );
/// let parsed = ScramKeys::from_rfc5803(&keys.to_rfc5803()).unwrap();
/// assert_eq!(parsed, keys);
/// ```
#[derive(Clone)]
pub struct ScramKeys {
    pub(crate) hash: ScramHash,
    iterations: u32,
    salt: Salt,
    pub(crate) stored_key: Output,
    pub(crate) server_key: Output,
}

/// The public fields as usual; StoredKey and ServerKey both compared in constant time, whether
/// or not the first differs.
impl PartialEq for ScramKeys {
    fn eq(&self, other: &Self) -> bool {
        let keys = (self.stored_key == other.stored_key) & (self.server_key == other.server_key);
        self.hash == other.hash
            && self.iterations == other.iterations
            && self.salt == other.salt
            && keys
    }
}

impl Eq for ScramKeys {}

impl fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeys")
            .field("hash", &self.hash)
            .field("iterations", &self.iterations)
            .field("salt", &format_args!("<{} bytes>", self.salt().len()))
            .finish_non_exhaustive()
    }
}

impl ScramKeys {
    /// The salt length [`ScramKeys::generate`] uses.
    pub const SALT_LEN: usize = 16;

    /// Derive the keys from a password (prepared with SASLprep for storage), a salt and an
    /// iteration count.
    ///
    /// Fails with [`Error::InvalidArgument`] if the password is not UTF-8 or SASLprep refuses
    /// it, the salt is empty, or the iteration count is zero.
    pub fn derive(
        hash: ScramHash,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramKeys, Error> {
        let mut buf = SecretBuf::new();
        let prepared = prepare_password(password, Mode::Stored, &mut buf)?;
        if salt.is_empty() || iterations == 0 {
            return Err(Error::InvalidArgument("empty salt or zero iteration count"));
        }
        let salted = crypto::pbkdf2(hash.sha(), prepared, salt, iterations);
        Ok(Self::from_salted(hash, &salted, salt, iterations))
    }

    /// [`derive`](Self::derive) with a fresh random salt of [`SALT_LEN`](Self::SALT_LEN)
    /// octets, for storing a new password.
    pub fn generate(hash: ScramHash, password: &[u8], iterations: u32) -> Result<ScramKeys, Error> {
        let mut salt = [0u8; Self::SALT_LEN];
        getrandom::fill(&mut salt).map_err(|_| Error::Failed(Failure::TemporaryFailure))?;
        Self::derive(hash, password, &salt, iterations)
    }

    /// The keys from a `SaltedPassword` computed elsewhere.
    pub fn from_salted_password(
        hash: ScramHash,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramKeys, Error> {
        check_salted(hash, salted_password, salt, iterations)?;
        Ok(Self::from_salted(
            hash,
            &Output::from(salted_password),
            salt,
            iterations,
        ))
    }

    pub(crate) fn from_salted(
        hash: ScramHash,
        salted: &Output,
        salt: &[u8],
        iterations: u32,
    ) -> ScramKeys {
        let [_, stored_key, server_key] = keys_from_salted(hash, salted);
        ScramKeys {
            hash,
            iterations,
            salt: Salt::new(salt),
            stored_key,
            server_key,
        }
    }

    /// Keys read from storage. `stored_key` and `server_key` must be
    /// [`output_len`](ScramHash::output_len) octets.
    pub fn new(
        hash: ScramHash,
        salt: &[u8],
        iterations: u32,
        stored_key: &[u8],
        server_key: &[u8],
    ) -> Result<ScramKeys, Error> {
        let n = hash.output_len();
        if stored_key.len() != n || server_key.len() != n || salt.is_empty() || iterations == 0 {
            return Err(Error::InvalidArgument(
                "key of the wrong length, empty salt or zero iterations",
            ));
        }
        Ok(ScramKeys {
            hash,
            iterations,
            salt: Salt::new(salt),
            stored_key: Output::from(stored_key),
            server_key: Output::from(server_key),
        })
    }

    /// Parse the RFC 5803 form (`SCRAM-SHA-1`, `SCRAM-SHA-256` or `SCRAM-SHA-512`)
    /// `SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>`.
    ///
    /// The keys are secret: their place follows from the hash's output length (the text is
    /// not searched for separators among them) and they are decoded in constant time
    /// (`base64ct`); only whether the entry is well formed is revealed. The scheme, the
    /// iteration count and the salt are public and parsed as usual.
    pub fn from_rfc5803(text: &str) -> Result<ScramKeys, Error> {
        const BAD: Error = Error::InvalidArgument("not an RFC 5803 SCRAM entry");
        let text = text.as_bytes();
        // `<scheme>$`, reading no further than the scheme's name.
        let (hash, rest) = ScramHash::ALL
            .into_iter()
            .find_map(|h| {
                let (scheme, rest) = text.split_at_checked(h.name().len())?;
                let rest = rest.strip_prefix(b"$")?;
                scheme
                    .eq_ignore_ascii_case(h.name().as_bytes())
                    .then_some((h, rest))
            })
            .ok_or(BAD)?;
        // `<StoredKey>:<ServerKey>` at the end, each exactly as long as the hash's base64.
        let n = hash.output_len();
        let key_len = b64::encoded_len(n);
        let (params, keys) = rest
            .split_at_checked(rest.len().checked_sub(2 * key_len + 1).ok_or(BAD)?)
            .ok_or(BAD)?;
        let (stored, server) = keys.split_at_checked(key_len).ok_or(BAD)?;
        let server = server.strip_prefix(b":").ok_or(BAD)?;
        // `<iterations>:<salt>$` before them: public.
        let params = params.strip_suffix(b"$").ok_or(BAD)?;
        let colon = params.iter().position(|&b| b == b':').ok_or(BAD)?;
        let (iterations, salt) = params.split_at_checked(colon).ok_or(BAD)?;
        let salt = salt.strip_prefix(b":").ok_or(BAD)?;
        let iterations = parse_posit(iterations).ok_or(BAD)?;
        let salt = b64::decode(salt).map_err(|_| BAD)?;
        let (zeros, _) = [0u8; 64].split_at(n.min(64));
        let mut stored_key = Output::from(zeros);
        let mut server_key = stored_key.clone();
        let stored_ok = b64::decode_secret(stored, stored_key.as_mut());
        let server_ok = b64::decode_secret(server, server_key.as_mut());
        if stored_ok.is_err() | server_ok.is_err() || salt.is_empty() || iterations == 0 {
            return Err(BAD);
        }
        Ok(ScramKeys {
            hash,
            iterations,
            salt: Salt::new(salt.as_slice()),
            stored_key,
            server_key,
        })
    }

    /// Write the RFC 5803 form. (StoredKey and ServerKey are encoded without a table lookup
    /// on their bits; the `String` holds them, so wipe it when done.)
    pub fn to_rfc5803(&self) -> String {
        let name = self.hash.name();
        let iterations = self.iterations.to_string();
        let salt = b64::encode(self.salt());
        let key_len = b64::encoded_len(self.hash.output_len());
        // Exactly this long, so that the string never moves and leaves a copy behind.
        let mut out =
            String::with_capacity(name.len() + iterations.len() + salt.len() + 3 + 2 * key_len + 1);
        out.push_str(name);
        out.push('$');
        out.push_str(&iterations);
        out.push(':');
        out.push_str(&salt);
        out.push('$');
        b64::encode_secret(self.stored_key.as_slice(), &mut out);
        out.push(':');
        b64::encode_secret(self.server_key.as_slice(), &mut out);
        out
    }

    /// The hash these keys are for.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// The iteration count.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        self.salt.as_slice()
    }

    /// `StoredKey = H(HMAC(SaltedPassword, "Client Key"))`.
    pub fn stored_key(&self) -> &[u8] {
        self.stored_key.as_slice()
    }

    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub fn server_key(&self) -> &[u8] {
        self.server_key.as_slice()
    }
}

/// What a SCRAM client may keep between logins so that it need not run PBKDF2 again: the
/// server's salt and iteration count, and the ClientKey and ServerKey derived from them.
///
/// Get it from [`ClientSession::scram_cache`](crate::ClientSession::scram_cache) after an
/// exchange; give it back with [`Credentials::scram_cache`](crate::Credentials::scram_cache).
/// It is used only while the server announces the same salt and iteration count; otherwise the
/// client derives the keys from the password again (and fails with
/// [`Failure::BadCredentials`] if it has none). Like a password, it lets its holder log in:
/// store it as carefully.
///
/// ```
/// use saslmech::{ClientSession, Credentials, Mechanism};
/// let creds = Credentials::new().authcid("user").password(b"pencil");
/// let mut c = ClientSession::new(Mechanism::ScramSha1, &creds).unwrap();
/// let _ = c.start().unwrap();
/// assert!(c.scram_cache().is_none()); // known once the server has proved itself
/// ```
#[derive(Clone)]
pub struct ScramClientCache {
    hash: ScramHash,
    iterations: u32,
    salt: Salt,
    pub(crate) client_key: Output,
    server_key: Output,
    /// HMAC keys `StoredKey = H(ClientKey)` and `ServerKey` with their padded blocks already
    /// compressed (the `hmac` crate's keyed state): a login from the cache costs two
    /// compressions less for each.
    pub(crate) stored_mac: HmacKey,
    pub(crate) server_mac: HmacKey,
}

impl PartialEq for ScramClientCache {
    /// The same hash, salt and iteration count, and the same keys (compared in constant time;
    /// StoredKey is the hash of ClientKey, and the HMAC states follow from the keys).
    fn eq(&self, other: &Self) -> bool {
        let keys = (self.client_key == other.client_key) & (self.server_key == other.server_key);
        self.hash == other.hash
            && self.iterations == other.iterations
            && self.salt == other.salt
            && keys
    }
}

impl Eq for ScramClientCache {}

impl fmt::Debug for ScramClientCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClientCache")
            .field("hash", &self.hash)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramClientCache {
    /// The hash these keys belong to.
    pub fn hash(&self) -> ScramHash {
        self.hash
    }

    /// The iteration count the server announced.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The salt the server announced.
    pub fn salt(&self) -> &[u8] {
        self.salt.as_slice()
    }

    /// The keys from a `SaltedPassword` computed elsewhere (for example by an older cache
    /// that stored SaltedPassword itself).
    pub fn from_salted_password(
        hash: ScramHash,
        salted_password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<ScramClientCache, Error> {
        check_salted(hash, salted_password, salt, iterations)?;
        Ok(Self::from_salted(
            hash,
            &Output::from(salted_password),
            Salt::new(salt),
            iterations,
        ))
    }

    pub(crate) fn from_salted(
        hash: ScramHash,
        salted: &Output,
        salt: Salt,
        iterations: u32,
    ) -> Self {
        let [client_key, stored_key, server_key] = keys_from_salted(hash, salted);
        ScramClientCache {
            hash,
            iterations,
            salt,
            client_key,
            stored_mac: HmacKey::new(hash.sha(), stored_key.as_slice()),
            server_mac: HmacKey::new(hash.sha(), server_key.as_slice()),
            server_key,
        }
    }

    pub(crate) fn fits(&self, hash: ScramHash, salt: &[u8], iterations: u32) -> bool {
        self.hash == hash && self.iterations == iterations && self.salt.as_slice() == salt
    }
}

/// The arguments of the `from_salted_password` constructors: a SaltedPassword of the hash's
/// length, a salt, a positive iteration count.
fn check_salted(
    hash: ScramHash,
    salted_password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Result<(), Error> {
    if salted_password.len() != hash.output_len() || salt.is_empty() || iterations == 0 {
        return Err(Error::InvalidArgument(
            "salted password of the wrong length, empty salt or zero iterations",
        ));
    }
    Ok(())
}

/// `[ClientKey, StoredKey, ServerKey]` from `SaltedPassword` (RFC 5802 §3).
pub(crate) fn keys_from_salted(hash: ScramHash, salted: &Output) -> [Output; 3] {
    let key = HmacKey::new(hash.sha(), salted.as_slice());
    let client_key = key.mac(&[b"Client Key"]);
    let stored_key = crypto::hash(hash.sha(), client_key.as_slice());
    [client_key, stored_key, key.mac(&[b"Server Key"])]
}

/// What an unknown user's keys are derived from when the application stores plaintext
/// passwords: the same length class as a typical password (one HMAC key block), so the
/// derivation costs what a known user's does. No proof can match it (`known` is false).
pub(crate) const DUMMY_PASSWORD: &[u8] = b"saslmech-unknown-user";

/// SASLprep a password (query or stored). Printable ASCII, which SASLprep leaves as it is, is
/// returned as given; anything else is prepared into `buf`.
pub(crate) fn prepare_password<'a>(
    password: &'a [u8],
    mode: Mode,
    buf: &'a mut SecretBuf,
) -> Result<&'a [u8], Error> {
    if password.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Ok(password);
    }
    let text = core::str::from_utf8(password)
        .map_err(|_| Error::InvalidArgument("password is not UTF-8"))?;
    saslprep::prepare_into(text, mode, buf)
        .map_err(|_| Error::InvalidArgument("password refused by SASLprep"))?;
    Ok(buf.as_slice())
}

/// `posit-number = %x31-39 *DIGIT`, as a `u32`.
pub(crate) fn parse_posit(digits: &[u8]) -> Option<u32> {
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut n: u32 = 0;
    for d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_inline_and_long() {
        for len in [1usize, 16, 64, 65, 200] {
            let salt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let text = b64::encode(&salt);
            assert_eq!(Salt::decode(text.as_bytes()).unwrap().as_slice(), &salt[..]);
            assert_eq!(Salt::new(&salt).as_slice(), &salt[..]);
        }
        assert!(Salt::decode(b"AA=A").is_err());
    }

    #[test]
    fn rfc5802_keys() {
        let salt = b64::decode(b"QSXCR+Q6sek8bf92").unwrap();
        let k = ScramKeys::derive(ScramHash::Sha1, b"pencil", salt.as_slice(), 4096).unwrap();
        assert_eq!(
            hex(k.stored_key()),
            "e9d94660c39d65c38fbad91c358f14da0eef2bd6"
        );
        assert_eq!(
            hex(k.server_key()),
            "0fe09258b3ac852ba502cc62ba903eaacdbf7d31"
        );
        assert!(!format!("{k:?}").contains("e9d9"));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
