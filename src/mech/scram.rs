//! SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677), with and without channel binding
//! (`-PLUS`: `tls-exporter` RFC 9266, `tls-server-end-point` RFC 5929, `tls-unique`).
//!
//! ```text
//! C: n,,n=user,r=<client nonce>                       client-first (gs2 header + bare)
//! S: r=<client nonce><server nonce>,s=<salt>,i=4096    server-first
//! C: c=biws,r=<nonce>,p=<ClientProof>                  client-final
//! S: v=<ServerSignature>                               server-final (success data)
//! ```
//!
//! The server works from stored keys ([`ScramKeys`]: salt, iteration count, StoredKey,
//! ServerKey) and never needs the password. It asks for them with
//! [`Request::Secret`](crate::Request::Secret) after the client-first message; an unknown user
//! is answered with a salt and iteration count derived from a server secret, so a probe
//! cannot tell which users exist. It checks the grammar strictly (attribute order, `=2C`/`=3D`
//! escapes, nonce, proof length, nothing after the proof), refuses a `y` flag when it offers
//! `-PLUS` on this connection (a downgrade), fails closed on a channel-binding type it cannot
//! provide, and compares the proof in constant time.
//!
//! The client bounds the iteration count a server may demand and verifies the server's
//! signature before reporting success.
//!
//! Cost: each side keeps what it needs in one buffer sized from the messages, with offsets
//! into it, and fixed-size blocks for keys, so a handshake makes three heap allocations (four
//! with `-PLUS`). HMAC and PBKDF2 run directly on the hash crates' compression functions: one
//! PBKDF2 iteration is two compressions, and an HMAC key reused across logins
//! ([`ScramClientCache`]) keeps its padded blocks compressed.

use core::fmt;

use zeroize::Zeroize;

use std::sync::Arc;

use super::{Next, Span, count_compressions};
use crate::b64;
use crate::client::{ClientConfig, Credentials};
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::saslprep::{self, Mode};
use crate::secret::{SecretBuf, ct_eq};
use crate::server::{
    Answer, Identity, Nonce, NonceSource, Request, SecretRequest, SecretStorage, ServerConfig,
    Transport,
};

/// The hash function of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScramHash {
    /// SHA-1 (SCRAM-SHA-1, RFC 5802).
    Sha1,
    /// SHA-256 (SCRAM-SHA-256, RFC 7677).
    Sha256,
}

impl ScramHash {
    /// The hash of a SCRAM mechanism (`None` for the others).
    pub const fn of(mechanism: Mechanism) -> Option<ScramHash> {
        match mechanism {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Some(ScramHash::Sha1),
            Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => Some(ScramHash::Sha256),
            _ => None,
        }
    }

    /// The mechanism name without `-PLUS`, as used in the RFC 5803 stored form.
    pub const fn name(self) -> &'static str {
        match self {
            ScramHash::Sha1 => "SCRAM-SHA-1",
            ScramHash::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// The digest length in octets (20 or 32): the length of keys, proofs and signatures.
    pub const fn output_len(self) -> usize {
        match self {
            ScramHash::Sha1 => 20,
            ScramHash::Sha256 => 32,
        }
    }

    /// `HMAC(key, parts[0] || parts[1] || ...)`.
    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Block {
        HmacKey::new(self, key).mac(parts)
    }

    /// `H(data)`.
    fn h(self, data: &[u8]) -> Block {
        let mut h = Hasher::new(HashState::initial(self), 0);
        h.update(data);
        h.finish()
    }

    /// `Hi(password, salt, i)`: PBKDF2 with HMAC of this hash, one block (RFC 5802 §2.2).
    ///
    /// `U1 = HMAC(password, salt || INT(1))`, each later `U` the HMAC of the one before, the
    /// result their XOR. Every later `U` is the HMAC of exactly one digest, so its padded
    /// block is the same but for the digest at its front: each iteration is two compressions
    /// (inner, outer) from the key's precomputed states, with no buffering. That is the floor:
    /// `2 * iterations` compressions.
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Block {
        let key = HmacKey::new(self, password);
        let mut result = key.mac(&[salt, &1u32.to_be_bytes()]);
        let n = result.as_slice().len();
        let mut block = [0u8; 64];
        if let Some(front) = block.get_mut(..n) {
            front.copy_from_slice(result.as_slice());
        }
        pad_block(&mut block, n, 64 + n as u64);
        let rounds = iterations.saturating_sub(1);
        match (&key.inner, &key.outer) {
            (HashState::Sha1(i), HashState::Sha1(o)) => iterate(
                i,
                o,
                sha1::block_api::compress,
                &mut block,
                &mut result,
                rounds,
            ),
            (HashState::Sha256(i), HashState::Sha256(o)) => iterate(
                i,
                o,
                sha2::block_api::compress256,
                &mut block,
                &mut result,
                rounds,
            ),
            _ => {}
        }
        block.as_mut_slice().zeroize();
        result
    }
}

/// The PBKDF2 loop of [`ScramHash::hi`] for one state size: `block` holds `U` (padded),
/// `acc` the XOR so far.
fn iterate<const W: usize>(
    inner: &[u32; W],
    outer: &[u32; W],
    compress: fn(&mut [u32; W], &[[u8; 64]]),
    block: &mut [u8; 64],
    acc: &mut Block,
    rounds: u32,
) {
    count_compressions(2 * u64::from(rounds));
    let mut state = *inner;
    for _ in 0..rounds {
        state = *inner;
        compress(&mut state, core::slice::from_ref(block));
        write_words(&state, block);
        state = *outer;
        compress(&mut state, core::slice::from_ref(block));
        write_words(&state, block);
        for (a, u) in acc.as_mut().iter_mut().zip(block.iter()) {
            *a ^= u;
        }
    }
    state.as_mut_slice().zeroize();
}

/// Write hash state words big-endian at the front of `out`.
fn write_words(words: &[u32], out: &mut [u8]) {
    for (dst, w) in out.chunks_exact_mut(4).zip(words) {
        dst.copy_from_slice(&w.to_be_bytes());
    }
}

/// The padding SHA-1 and SHA-256 share, for a message whose last `fill < 56` bytes are in
/// `block`: `0x80`, zeros, and the message length in bits, big-endian, in the last 8 bytes.
fn pad_block(block: &mut [u8; 64], fill: usize, message_len: u64) {
    if let Some(tail) = block.get_mut(fill..) {
        tail.fill(0);
        if let Some(first) = tail.first_mut() {
            *first = 0x80;
        }
    }
    if let Some(len) = block.get_mut(56..) {
        len.copy_from_slice(&message_len.wrapping_mul(8).to_be_bytes());
    }
}

/// A SHA-1 or SHA-256 chaining state, advanced block by block with the hash crates' own
/// compression functions (which use the CPU's SHA extensions when it has them).
#[derive(Clone, Copy)]
enum HashState {
    Sha1([u32; 5]),
    Sha256([u32; 8]),
}

impl HashState {
    fn initial(hash: ScramHash) -> HashState {
        match hash {
            ScramHash::Sha1 => HashState::Sha1([
                0x6745_2301,
                0xefcd_ab89,
                0x98ba_dcfe,
                0x1032_5476,
                0xc3d2_e1f0,
            ]),
            ScramHash::Sha256 => HashState::Sha256([
                0x6a09_e667,
                0xbb67_ae85,
                0x3c6e_f372,
                0xa54f_f53a,
                0x510e_527f,
                0x9b05_688c,
                0x1f83_d9ab,
                0x5be0_cd19,
            ]),
        }
    }

    fn compress(&mut self, block: &[u8; 64]) {
        count_compressions(1);
        let blocks = core::slice::from_ref(block);
        match self {
            HashState::Sha1(s) => sha1::block_api::compress(s, blocks),
            HashState::Sha256(s) => sha2::block_api::compress256(s, blocks),
        }
    }

    fn words(&self) -> &[u32] {
        match self {
            HashState::Sha1(s) => s,
            HashState::Sha256(s) => s,
        }
    }

    fn digest(&self) -> Block {
        let mut b = Block::default();
        write_words(self.words(), &mut b.bytes);
        b.len = (self.words().len() * 4) as u8;
        b
    }

    fn wipe(&mut self) {
        match self {
            HashState::Sha1(s) => s.as_mut_slice().zeroize(),
            HashState::Sha256(s) => s.as_mut_slice().zeroize(),
        }
    }
}

/// A running hash: a state, the partial block, and the length so far. Wiped on drop.
struct Hasher {
    state: HashState,
    block: [u8; 64],
    fill: usize,
    len: u64,
}

impl Hasher {
    /// Continue from `state`, after `len` bytes already compressed into it.
    fn new(state: HashState, len: u64) -> Hasher {
        Hasher {
            state,
            block: [0; 64],
            fill: 0,
            len,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let take = (64 - self.fill).min(data.len());
            let (now, rest) = data.split_at(take);
            if let Some(dst) = self.block.get_mut(self.fill..self.fill + take) {
                dst.copy_from_slice(now);
            }
            self.fill += take;
            data = rest;
            if self.fill == 64 {
                self.state.compress(&self.block);
                self.fill = 0;
            }
        }
    }

    fn finish(mut self) -> Block {
        // 0x80 and zeros; the length goes in the last 8 bytes, of a block of its own if the
        // message's last block has no room for it.
        if let Some(tail) = self.block.get_mut(self.fill..) {
            tail.fill(0);
            if let Some(first) = tail.first_mut() {
                *first = 0x80;
            }
        }
        if self.fill >= 56 {
            self.state.compress(&self.block);
            self.block = [0; 64];
        }
        if let Some(len) = self.block.get_mut(56..) {
            len.copy_from_slice(&self.len.wrapping_mul(8).to_be_bytes());
        }
        self.state.compress(&self.block);
        self.state.digest()
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        self.state.wipe();
        self.block.as_mut_slice().zeroize();
    }
}

/// An HMAC key (RFC 2104) with its padded blocks already compressed: the inner and outer
/// states. Wiped on drop; compared in constant time.
#[derive(Clone)]
struct HmacKey {
    inner: HashState,
    outer: HashState,
}

impl HmacKey {
    fn new(hash: ScramHash, key: &[u8]) -> HmacKey {
        let mut k = [0u8; 64];
        let long;
        let key = if key.len() > 64 {
            long = hash.h(key);
            long.as_slice()
        } else {
            key
        };
        if let Some(dst) = k.get_mut(..key.len()) {
            dst.copy_from_slice(key);
        }
        let mut pad = k.map(|b| b ^ 0x36);
        let mut inner = HashState::initial(hash);
        inner.compress(&pad);
        pad = k.map(|b| b ^ 0x5c);
        let mut outer = HashState::initial(hash);
        outer.compress(&pad);
        k.as_mut_slice().zeroize();
        pad.as_mut_slice().zeroize();
        HmacKey { inner, outer }
    }

    fn mac(&self, parts: &[&[u8]]) -> Block {
        let mut h = Hasher::new(self.inner, 64);
        for p in parts {
            h.update(p);
        }
        let inner = h.finish();
        let mut h = Hasher::new(self.outer, 64);
        h.update(inner.as_slice());
        h.finish()
    }
}

impl PartialEq for HmacKey {
    fn eq(&self, other: &Self) -> bool {
        fn words(k: &HmacKey) -> impl Iterator<Item = u32> + '_ {
            k.inner.words().iter().chain(k.outer.words()).copied()
        }
        let diff = words(self)
            .zip(words(other))
            .fold(0, |d, (a, b)| d | (a ^ b));
        self.inner.words().len() == other.inner.words().len()
            && bool::from(subtle::ConstantTimeEq::ct_eq(&diff, &0))
    }
}

impl Eq for HmacKey {}

impl Drop for HmacKey {
    fn drop(&mut self) {
        self.inner.wipe();
        self.outer.wipe();
    }
}

/// A digest of at most 32 octets, wiped on drop.
#[derive(Clone, Default)]
struct Block {
    bytes: [u8; 32],
    len: u8,
}

impl Block {
    fn from(s: &[u8]) -> Block {
        let mut b = Block::default();
        let n = s.len().min(32);
        if let (Some(dst), Some(src)) = (b.bytes.get_mut(..n), s.get(..n)) {
            dst.copy_from_slice(src);
        }
        b.len = n as u8;
        b
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    fn as_mut(&mut self) -> &mut [u8] {
        self.bytes
            .get_mut(..usize::from(self.len))
            .unwrap_or_default()
    }

    fn xor(&self, other: &[u8]) -> Block {
        let mut b = self.clone();
        for (x, y) in b.as_mut().iter_mut().zip(other) {
            *x ^= y;
        }
        b
    }
}

/// A salt: inline up to 64 octets (servers use 16 to 32), on the heap beyond.
#[derive(Clone)]
enum Salt {
    Inline { len: u8, bytes: [u8; Salt::INLINE] },
    Heap(Box<[u8]>),
}

impl Salt {
    const INLINE: usize = 64;

    fn new(salt: &[u8]) -> Salt {
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
    fn decode(text: &[u8]) -> Result<Salt, Failure> {
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

    fn as_slice(&self) -> &[u8] {
        match self {
            Salt::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
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

impl Drop for Block {
    fn drop(&mut self) {
        self.bytes.as_mut_slice().zeroize();
    }
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(self.as_slice(), other.as_slice())
    }
}

impl Eq for Block {}

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
    hash: ScramHash,
    iterations: u32,
    salt: Salt,
    stored_key: Block,
    server_key: Block,
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
        let salted = hash.hi(prepared, salt, iterations);
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
            &Block::from(salted_password),
            salt,
            iterations,
        ))
    }

    fn from_salted(hash: ScramHash, salted: &Block, salt: &[u8], iterations: u32) -> ScramKeys {
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
            stored_key: Block::from(stored_key),
            server_key: Block::from(server_key),
        })
    }

    /// Parse the RFC 5803 form
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
        let (hash, rest) = [ScramHash::Sha1, ScramHash::Sha256]
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
        let salt = salt.strip_prefix(b":").unwrap_or_default();
        let iterations = parse_posit(iterations).ok_or(BAD)?;
        let salt = b64::decode(salt).map_err(|_| BAD)?;
        let mut stored_key = Block::from([0u8; 32].get(..n).unwrap_or_default());
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
#[derive(Clone, PartialEq, Eq)]
pub struct ScramClientCache {
    hash: ScramHash,
    iterations: u32,
    salt: Salt,
    client_key: Block,
    /// HMAC keys `StoredKey = H(ClientKey)` and `ServerKey` with their padded blocks already
    /// compressed: a login from the cache costs two compressions less for each.
    stored_key: HmacKey,
    server_key: HmacKey,
}

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
            &Block::from(salted_password),
            Salt::new(salt),
            iterations,
        ))
    }

    fn from_salted(hash: ScramHash, salted: &Block, salt: Salt, iterations: u32) -> Self {
        let [client_key, stored_key, server_key] = keys_from_salted(hash, salted);
        ScramClientCache {
            hash,
            iterations,
            salt,
            client_key,
            stored_key: HmacKey::new(hash, stored_key.as_slice()),
            server_key: HmacKey::new(hash, server_key.as_slice()),
        }
    }

    fn fits(&self, hash: ScramHash, salt: &[u8], iterations: u32) -> bool {
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
fn keys_from_salted(hash: ScramHash, salted: &Block) -> [Block; 3] {
    let key = HmacKey::new(hash, salted.as_slice());
    let client_key = key.mac(&[b"Client Key"]);
    let stored_key = hash.h(client_key.as_slice());
    [client_key, stored_key, key.mac(&[b"Server Key"])]
}

/// A channel-binding type (RFC 5056 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelBindingType {
    /// `tls-exporter` (RFC 9266): the TLS exporter with label `EXPORTER-Channel-Binding`, empty
    /// context, 32 octets. The choice for TLS 1.3.
    TlsExporter,
    /// `tls-server-end-point` (RFC 5929): a hash of the server's certificate. Works with TLS 1.3
    /// and through TLS-terminating proxies.
    TlsServerEndPoint,
    /// `tls-unique` (RFC 5929): the first Finished message. TLS 1.2 and older only.
    TlsUnique,
}

impl ChannelBindingType {
    /// The registered name, as carried in `p=`.
    pub const fn name(self) -> &'static str {
        match self {
            ChannelBindingType::TlsExporter => "tls-exporter",
            ChannelBindingType::TlsServerEndPoint => "tls-server-end-point",
            ChannelBindingType::TlsUnique => "tls-unique",
        }
    }

    /// Look up a name (exact, as registered).
    pub fn from_name(name: &[u8]) -> Option<ChannelBindingType> {
        [
            ChannelBindingType::TlsExporter,
            ChannelBindingType::TlsServerEndPoint,
            ChannelBindingType::TlsUnique,
        ]
        .into_iter()
        .find(|t| t.name().as_bytes() == name)
    }
}

/// Channel-binding data of one type, taken from the TLS connection by the caller.
#[derive(Clone)]
pub struct ChannelBinding {
    kind: ChannelBindingType,
    data: SecretBuf,
}

impl ChannelBinding {
    /// Channel-binding `data` of type `kind`.
    pub fn new(kind: ChannelBindingType, data: &[u8]) -> ChannelBinding {
        ChannelBinding {
            kind,
            data: SecretBuf::from_slice(data),
        }
    }

    /// The type.
    pub fn kind(&self) -> ChannelBindingType {
        self.kind
    }

    /// The data.
    pub fn data(&self) -> &[u8] {
        self.data.as_slice()
    }
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChannelBinding({}, {} bytes)",
            self.kind.name(),
            self.data.len()
        )
    }
}

/// What an unknown user's keys are derived from when the application stores plaintext
/// passwords: the same length class as a typical password (one HMAC key block), so the
/// derivation costs what a known user's does. No proof can match it (`known` is false).
const DUMMY_PASSWORD: &[u8] = b"saslmech-unknown-user";

/// SASLprep a password (query or stored). Printable ASCII, which SASLprep leaves as it is, is
/// returned as given; anything else is prepared into `buf`.
fn prepare_password<'a>(
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
fn parse_posit(digits: &[u8]) -> Option<u32> {
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

/// `printable = %x21-2B / %x2D-7E` (no comma), one or more.
fn is_printable(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| matches!(b, 0x21..=0x2b | 0x2d..=0x7e))
}

/// Check a `saslname` (`=2C` is `,`, `=3D` is `=`; no other `=`, no `,`, no NUL; UTF-8, not
/// empty) and return its length once unescaped.
fn saslname_len(s: &[u8]) -> Result<usize, Failure> {
    let mut len = 0;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'=' => match s.get(i + 1..i + 3) {
                Some(b"2C" | b"3D") => i += 3,
                _ => return Err(Failure::Malformed),
            },
            b',' | 0 => return Err(Failure::Malformed),
            _ => i += 1,
        }
        len += 1;
    }
    if len == 0 || core::str::from_utf8(s).is_err() {
        return Err(Failure::Malformed);
    }
    Ok(len)
}

/// Append a `saslname` that [`saslname_len`] accepted, unescaped.
fn push_unescaped(out: &mut SecretBuf, s: &[u8]) {
    let mut rest = s;
    while let Some(at) = rest.iter().position(|b| *b == b'=') {
        let (plain, escape) = rest.split_at(at);
        out.extend(plain);
        out.push(if escape.get(1..3) == Some(b"2C") {
            b','
        } else {
            b'='
        });
        rest = escape.get(3..).unwrap_or_default();
    }
    out.extend(rest);
}

/// The length of `s` as a `saslname`.
fn escaped_len(s: &str) -> usize {
    s.len() + 2 * s.bytes().filter(|b| matches!(b, b',' | b'=')).count()
}

/// Append `s` as a `saslname`.
fn push_saslname(out: &mut SecretBuf, s: &str) {
    let mut rest = s.as_bytes();
    while let Some(at) = rest.iter().position(|b| matches!(b, b',' | b'=')) {
        let (plain, special) = rest.split_at(at);
        out.extend(plain);
        out.extend(if special.first() == Some(&b',') {
            b"=2C"
        } else {
            b"=3D"
        });
        rest = special.get(1..).unwrap_or_default();
    }
    out.extend(rest);
}

/// Split `s` at the first comma: the attribute before it and the rest after it.
fn next_attr(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|b| *b == b',') {
        Some(i) => (s.get(..i).unwrap_or_default(), s.get(i + 1..)),
        None => (s, None),
    }
}

/// `attr-val = ALPHA "=" value`: an extension attribute. Returns false if `a` is not one.
fn is_extension(a: &[u8]) -> bool {
    matches!(a, [k, b'=', ..] if k.is_ascii_alphabetic())
}

/// The length of a nonce as text.
fn nonce_len(nonce: &Nonce<'_>) -> usize {
    match nonce {
        Nonce::Fixed(text) => text.len(),
        Nonce::Random(bytes) => b64::encoded_len(bytes.len()),
    }
}

/// A random or fixed nonce, as printable text.
fn push_nonce(out: &mut SecretBuf, nonce: Nonce<'_>) -> Result<(), Failure> {
    match nonce {
        Nonce::Fixed(text) if is_printable(text) => out.extend(text),
        Nonce::Fixed(_) => return Err(Failure::TemporaryFailure),
        // Standard base64 is printable and has no comma.
        Nonce::Random(bytes) => b64::encode_into(&bytes, out),
    }
    Ok(())
}

/// The channel-binding flag of a gs2 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CbFlag {
    /// `n`: the client does not support channel binding.
    No,
    /// `y`: the client supports it but thinks the server does not.
    NotOffered,
    /// `p=`: the client binds to this type (`None`: a type this engine does not know).
    Bound(Option<ChannelBindingType>),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Start,
    WantFirst,
    WantSecret,
    WantFinal,
    Verified,
}

/// The parts of a server session's buffer, in order: each ends where the next begins.
#[derive(Clone, Copy)]
enum Part {
    /// The channel-binding data the client bound to (`-PLUS` only).
    Binding,
    /// The gs2 header of client-first.
    Header,
    /// `client-first-message-bare`.
    Bare,
    /// The nonce the server appends to the client's.
    ServerNonce,
    /// The user name, unescaped.
    User,
    /// The authzid, unescaped (empty if none).
    Authzid,
}

/// The server side of the SCRAM family.
///
/// Everything it keeps from the client, and its own nonce, lives in one buffer sized from
/// client-first; keys are fixed-size blocks; server-first stays in the session's output buffer
/// until client-final arrives (the AuthMessage needs it).
pub struct Server {
    state: State,
    hash: ScramHash,
    plus: bool,
    /// The server offers the matching `-PLUS` mechanism on this connection.
    plus_offered: bool,
    /// False for an unknown user: no proof verifies.
    known: bool,
    /// The `-PLUS` channel-binding types the transport has (bit `cb_index(t)`).
    bindings: u8,
    config: Arc<ServerConfig>,
    /// Before client-first (`-PLUS` only): each type's channel-binding data, at `cb_spans`.
    /// After: the parts of [`Part`], back to back.
    buf: SecretBuf,
    cb_spans: [Span; 3],
    ends: [u32; 6],
    /// The client's nonce, inside client-first-message-bare.
    client_nonce: Span,
    stored_key: Block,
    server_key: Block,
}

/// The slot of a channel-binding type in [`Server::cb_spans`].
fn cb_index(t: ChannelBindingType) -> usize {
    match t {
        ChannelBindingType::TlsExporter => 0,
        ChannelBindingType::TlsServerEndPoint => 1,
        ChannelBindingType::TlsUnique => 2,
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("scram::Server")
            .field("state", &self.state)
            .field("hash", &self.hash)
            .field("plus", &self.plus)
            .finish_non_exhaustive()
    }
}

impl Server {
    pub(crate) fn new(
        mechanism: Mechanism,
        c: &Arc<ServerConfig>,
        transport: &Transport,
    ) -> Server {
        let plus_mech = match mechanism {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Mechanism::ScramSha1Plus,
            _ => Mechanism::ScramSha256Plus,
        };
        let plus = mechanism.channel_binding();
        let mut buf = SecretBuf::new();
        let mut bindings = 0;
        let mut cb_spans = [Span::default(); 3];
        if plus {
            // Keep the data of every type on offer: the client picks one in client-first.
            buf.reserve(
                transport
                    .channel_bindings
                    .iter()
                    .map(|b| b.data().len())
                    .sum(),
            );
            for b in &transport.channel_bindings {
                let i = cb_index(b.kind());
                if bindings & (1 << i) == 0 {
                    bindings |= 1 << i;
                    if let Some(span) = cb_spans.get_mut(i) {
                        *span = Span::at(buf.len(), b.data().len());
                    }
                    buf.extend(b.data());
                }
            }
        }
        Server {
            state: State::Start,
            hash: ScramHash::of(mechanism).unwrap_or(ScramHash::Sha256),
            plus,
            plus_offered: c.check_transport(plus_mech, transport).is_ok(),
            known: false,
            bindings,
            config: Arc::clone(c),
            buf,
            cb_spans,
            ends: [0; 6],
            client_nonce: Span::default(),
            stored_key: Block::default(),
            server_key: Block::default(),
        }
    }

    /// A part of the buffer.
    fn part(&self, part: Part) -> &[u8] {
        let i = part as usize;
        let start = i.checked_sub(1).and_then(|p| self.ends.get(p)).copied();
        let end = self.ends.get(i).copied().unwrap_or(0);
        Span::at(
            start.unwrap_or(0) as usize,
            end.saturating_sub(start.unwrap_or(0)) as usize,
        )
        .bytes(self.buf.as_slice())
    }

    pub(crate) fn start(
        &mut self,
        c: &ServerConfig,
        out: &mut SecretBuf,
        ir: Option<&[u8]>,
    ) -> Next {
        match ir {
            Some(first) => self.receive_first(c, first),
            None => {
                out.clear();
                self.state = State::WantFirst;
                Next::StaticChallenge(b"")
            }
        }
    }

    pub(crate) fn step(&mut self, c: &ServerConfig, out: &mut SecretBuf, input: &[u8]) -> Next {
        match self.state {
            State::WantFirst => self.receive_first(c, input),
            State::WantFinal => self.receive_final(out, input),
            _ => Next::Failure(Failure::Malformed),
        }
    }

    /// Parse the client-first message:
    /// `gs2-cbind-flag "," [ "a=" saslname ] "," [ "m=" ... ] "n=" saslname ",r=" nonce
    /// [ "," extensions ]`.
    fn receive_first(&mut self, c: &ServerConfig, msg: &[u8]) -> Next {
        match self.parse_first(c, msg) {
            Ok(()) => {
                self.state = State::WantSecret;
                Next::Request
            }
            Err(f) => Next::Failure(f),
        }
    }

    fn parse_first(&mut self, c: &ServerConfig, msg: &[u8]) -> Result<(), Failure> {
        // gs2-cbind-flag
        let (flag, rest) = next_attr(msg);
        let flag = match flag {
            b"n" => CbFlag::No,
            b"y" => CbFlag::NotOffered,
            [b'p', b'=', name @ ..] => {
                if name.is_empty()
                    || !name
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
                {
                    return Err(Failure::Malformed);
                }
                // An unknown type is a channel-binding failure, decided after the grammar.
                CbFlag::Bound(ChannelBindingType::from_name(name))
            }
            _ => return Err(Failure::Malformed),
        };
        let rest = rest.ok_or(Failure::Malformed)?;
        // [ authzid ] ","
        let (authzid, rest) = next_attr(rest);
        let bare = rest.ok_or(Failure::Malformed)?;
        let authzid = match authzid {
            [] => &[][..],
            [b'a', b'=', name @ ..] => {
                if saslname_len(name)? > c.max_identity {
                    return Err(Failure::TooLarge);
                }
                name
            }
            _ => return Err(Failure::Malformed),
        };
        let header = msg.get(..msg.len() - bare.len()).unwrap_or_default();
        // client-first-message-bare
        let (user, rest) = next_attr(bare);
        if user.starts_with(b"m=") {
            // A mandatory extension this server does not know (RFC 5802 §5.1).
            return Err(Failure::Malformed);
        }
        let user = user.strip_prefix(b"n=").ok_or(Failure::Malformed)?;
        if saslname_len(user)? > c.max_identity {
            return Err(Failure::TooLarge);
        }
        let (nonce, mut rest) = next_attr(rest.ok_or(Failure::Malformed)?);
        let nonce = nonce.strip_prefix(b"r=").ok_or(Failure::Malformed)?;
        if !is_printable(nonce) {
            return Err(Failure::Malformed);
        }
        while let Some(r) = rest {
            let (ext, more) = next_attr(r);
            if !is_extension(ext) {
                return Err(Failure::Malformed);
            }
            rest = more;
        }
        // Channel-binding policy (RFC 5802 §6), after the grammar.
        let binding = match flag {
            CbFlag::No if self.plus => return Err(Failure::ChannelBinding),
            CbFlag::NotOffered if self.plus || self.plus_offered => {
                return Err(Failure::ChannelBinding);
            }
            CbFlag::No | CbFlag::NotOffered => &[][..],
            CbFlag::Bound(_) if !self.plus => return Err(Failure::ChannelBinding),
            CbFlag::Bound(None) => return Err(Failure::ChannelBinding),
            CbFlag::Bound(Some(t)) if self.bindings & (1 << cb_index(t)) == 0 => {
                return Err(Failure::ChannelBinding);
            }
            CbFlag::Bound(Some(t)) => self
                .cb_spans
                .get(cb_index(t))
                .map(|s| s.bytes(self.buf.as_slice()))
                .unwrap_or_default(),
        };
        // One buffer for all of it, sized from the message (the names unescape shorter).
        let server_nonce = c.nonce()?;
        let mut buf = SecretBuf::with_capacity(
            binding.len() + msg.len() + nonce_len(&server_nonce) + user.len() + authzid.len(),
        );
        let mut ends = [0u32; 6];
        let mut mark = |buf: &SecretBuf, part: Part| {
            if let Some(e) = ends.get_mut(part as usize) {
                *e = u32::try_from(buf.len()).unwrap_or(u32::MAX);
            }
        };
        buf.extend(binding);
        mark(&buf, Part::Binding);
        buf.extend(header);
        mark(&buf, Part::Header);
        let bare_at = buf.len();
        buf.extend(bare);
        mark(&buf, Part::Bare);
        push_nonce(&mut buf, server_nonce)?;
        mark(&buf, Part::ServerNonce);
        push_unescaped(&mut buf, user);
        mark(&buf, Part::User);
        push_unescaped(&mut buf, authzid);
        mark(&buf, Part::Authzid);
        let nonce_at = (nonce.as_ptr() as usize).saturating_sub(bare.as_ptr() as usize);
        self.client_nonce = Span::at(bare_at + nonce_at, nonce.len());
        self.buf = buf;
        self.ends = ends;
        Ok(())
    }

    pub(crate) fn answer(
        &mut self,
        out: &mut SecretBuf,
        answer: Answer<'_>,
    ) -> Result<Next, Error> {
        if self.state != State::WantSecret {
            return Err(Error::InvalidState);
        }
        let hash = self.hash;
        // A password answer or an unknown user gets the salt made from the server secret.
        let fake_salt = || {
            let user = self.part(Part::User);
            let fake = ScramHash::Sha256.hmac(
                self.config.scram_secret.as_slice(),
                &[
                    b"saslmech scram fake salt\0",
                    hash.name().as_bytes(),
                    b"\0",
                    user,
                ],
            );
            Block::from(
                fake.as_slice()
                    .get(..ScramKeys::SALT_LEN)
                    .unwrap_or_default(),
            )
        };
        let iterations = self.config.scram_iterations;
        // The work from here to server-first must not tell whether the user exists: every
        // path computes the fake salt, and an unknown user costs the same derivation as a
        // known one does under the configured storage (see `SecretStorage`).
        let salt = fake_salt();
        let (salt, iterations) = match answer {
            Answer::ScramKeys(k) if k.hash == hash => {
                self.stored_key = k.stored_key.clone();
                self.server_key = k.server_key.clone();
                self.known = true;
                (Salt::new(k.salt()), k.iterations)
            }
            Answer::ScramKeys(_) => return Err(Error::WrongAnswer),
            Answer::Password(p) => {
                let mut buf = SecretBuf::new();
                let prepared = prepare_password(p, Mode::Query, &mut buf);
                // An empty password, or one SASLprep maps to nothing, is no secret at all: it
                // fails like an unknown user, after the same derivation.
                self.known = prepared.as_ref().is_ok_and(|p| !p.is_empty());
                let salted = hash.hi(prepared.unwrap_or_default(), salt.as_slice(), iterations);
                let [_, stored_key, server_key] = keys_from_salted(hash, &salted);
                self.stored_key = stored_key;
                self.server_key = server_key;
                (Salt::new(salt.as_slice()), iterations)
            }
            Answer::UnknownUser | Answer::Reject => {
                // Keys no proof can match (`known` is false).
                if self.config.secret_storage == SecretStorage::Plaintext {
                    let salted = hash.hi(DUMMY_PASSWORD, salt.as_slice(), iterations);
                    let [_, stored_key, server_key] = keys_from_salted(hash, &salted);
                    self.stored_key = stored_key;
                    self.server_key = server_key;
                } else {
                    self.stored_key =
                        Block::from([0xa5; 32].get(..hash.output_len()).unwrap_or_default());
                    self.server_key = self.stored_key.clone();
                }
                self.known = false;
                (Salt::new(salt.as_slice()), iterations)
            }
            _ => return Err(Error::WrongAnswer),
        };
        // server-first-message = nonce "," salt "," iteration-count
        let client_nonce = self.client_nonce.bytes(self.buf.as_slice());
        let server_nonce = self.part(Part::ServerNonce);
        out.clear();
        out.reserve(
            client_nonce.len() + server_nonce.len() + b64::encoded_len(salt.as_slice().len()) + 18,
        );
        out.extend(b"r=");
        out.extend(client_nonce);
        out.extend(server_nonce);
        out.extend(b",s=");
        b64::encode_into(salt.as_slice(), out);
        out.extend(b",i=");
        out.extend_decimal(iterations);
        self.state = State::WantFinal;
        Ok(Next::Challenge)
    }

    /// Parse and verify the client-final message:
    /// `"c=" base64 ",r=" nonce [ "," extensions ] ",p=" base64`. `out` still holds
    /// server-first.
    fn receive_final(&mut self, out: &mut SecretBuf, msg: &[u8]) -> Next {
        match self.verify_final(out, msg) {
            Ok(()) => {
                self.state = State::Verified;
                Next::SuccessData
            }
            Err(f) => Next::Failure(f),
        }
    }

    fn verify_final(&mut self, out: &mut SecretBuf, msg: &[u8]) -> Result<(), Failure> {
        let (cbind, rest) = next_attr(msg);
        let cbind = cbind.strip_prefix(b"c=").ok_or(Failure::Malformed)?;
        let (nonce, rest) = next_attr(rest.ok_or(Failure::Malformed)?);
        let nonce = nonce.strip_prefix(b"r=").ok_or(Failure::Malformed)?;
        let mut rest = rest.ok_or(Failure::Malformed)?;
        let (without_proof, proof) = loop {
            let (attr, more) = next_attr(rest);
            if let Some(p) = attr.strip_prefix(b"p=") {
                // No extension may follow the proof.
                if more.is_some() {
                    return Err(Failure::Malformed);
                }
                // `rest` is a suffix of `msg`: what precedes its comma is client-final
                // without the proof.
                let cut = msg.len().saturating_sub(rest.len() + 1);
                break (msg.get(..cut).unwrap_or_default(), p);
            }
            if !is_extension(attr) {
                return Err(Failure::Malformed);
            }
            rest = more.ok_or(Failure::Malformed)?;
        };
        let hash = self.hash;
        let mut proof_buf = [0u8; 32];
        let proof = match b64::decode_to(proof, &mut proof_buf) {
            Ok(n) if n == hash.output_len() => proof_buf.get(..n).unwrap_or_default(),
            _ => return Err(Failure::Malformed),
        };
        // `c=` must be the gs2 header and the channel-binding data, in base64.
        let cbind_ok =
            b64::decode_matches(cbind, &[self.part(Part::Header), self.part(Part::Binding)])
                .map_err(|_| Failure::Malformed)?;
        let client_nonce = self.client_nonce.bytes(self.buf.as_slice());
        let server_nonce = self.part(Part::ServerNonce);
        if nonce.len() != client_nonce.len() + server_nonce.len()
            || !nonce.starts_with(client_nonce)
            || !nonce.ends_with(server_nonce)
        {
            return Err(Failure::Malformed);
        }
        if !cbind_ok {
            return Err(Failure::ChannelBinding);
        }
        // AuthMessage = client-first-bare "," server-first "," client-final-without-proof
        let am: [&[u8]; 5] = [
            self.part(Part::Bare),
            b",",
            out.as_slice(),
            b",",
            without_proof,
        ];
        let client_signature = hash.hmac(self.stored_key.as_slice(), &am);
        let client_key = client_signature.xor(proof);
        let ok = ct_eq(
            hash.h(client_key.as_slice()).as_slice(),
            self.stored_key.as_slice(),
        ) & self.known;
        let server_signature = hash.hmac(self.server_key.as_slice(), &am);
        proof_buf.as_mut_slice().zeroize();
        self.stored_key = Block::default();
        self.server_key = Block::default();
        if !ok {
            return Err(Failure::BadCredentials);
        }
        out.clear();
        out.extend(b"v=");
        b64::encode_into(server_signature.as_slice(), out);
        Ok(())
    }

    pub(crate) fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        (self.state == State::WantSecret).then(|| {
            Request::Secret(SecretRequest {
                mechanism,
                authcid: as_str(self.part(Part::User)),
            })
        })
    }

    pub(crate) fn identity(&self) -> Option<Identity<'_>> {
        (self.state == State::Verified).then(|| {
            let authzid = self.part(Part::Authzid);
            Identity {
                authcid: as_str(self.part(Part::User)),
                authzid: (!authzid.is_empty()).then(|| as_str(authzid)),
            }
        })
    }

    pub(crate) fn wipe(&mut self) {
        self.state = State::Start;
        self.buf.clear();
        self.bindings = 0;
        self.ends = [0; 6];
        self.client_nonce = Span::default();
        self.stored_key = Block::default();
        self.server_key = Block::default();
        self.known = false;
    }
}

fn as_str(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    Start,
    SentFirst,
    SentFinal,
    Verified,
}

/// OS randomness for client nonces, fetched 512 bytes at a time into a pool per thread: one
/// `getrandom` call per 28 sessions instead of one each, as the server's pool does. The pool
/// is discarded if the process id changes, so a forked child never reuses its parent's
/// bytes, and bytes are wiped as they are used.
fn thread_random(out: &mut [u8]) -> bool {
    struct Pool {
        pid: u32,
        pos: usize,
        buf: [u8; 512],
    }
    std::thread_local! {
        static POOL: core::cell::RefCell<Pool> = const {
            core::cell::RefCell::new(Pool { pid: 0, pos: 512, buf: [0; 512] })
        };
    }
    POOL.with(|pool| {
        let Ok(mut pool) = pool.try_borrow_mut() else {
            return getrandom::fill(out).is_ok();
        };
        let pid = std::process::id();
        if pid != pool.pid || pool.pos.saturating_add(out.len()) > pool.buf.len() {
            if getrandom::fill(&mut pool.buf).is_err() {
                return false;
            }
            pool.pid = pid;
            pool.pos = 0;
        }
        let (pos, end) = (pool.pos, pool.pos.saturating_add(out.len()));
        match pool.buf.get_mut(pos..end) {
            Some(src) => {
                out.copy_from_slice(src);
                src.fill(0);
                pool.pos = end;
                true
            }
            None => false,
        }
    })
}

/// Room kept for the server's part of the nonce when the client's buffer is sized (other
/// servers use 16 to 48 characters; a longer one only costs a reallocation).
const SERVER_NONCE_ROOM: usize = 64;

/// The client side of the SCRAM family.
///
/// One buffer holds client-first, then client-final: `c=` is written when the session is
/// made, the rest once server-first arrives. Until then the SASLprep'd password (if the keys
/// are not cached) waits where the rest of client-final will go, and is wiped when used.
pub struct Client {
    state: ClientState,
    hash: ScramHash,
    buf: SecretBuf,
    /// Where client-first-message-bare begins.
    bare_at: u32,
    /// The client nonce, at the end of client-first.
    nonce: Span,
    /// Where client-final begins (the end of client-first).
    final_at: u32,
    /// Where `c=` ends: the password follows, until server-first (none with cached keys).
    c_end: u32,
    server_signature: Block,
    min_iterations: u32,
    max_iterations: u32,
    /// Keys from an earlier login (given), or the ones derived in this one (to give back).
    cache: Option<ScramClientCache>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("scram::Client")
            .field("state", &self.state)
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(
        mechanism: Mechanism,
        creds: &Credentials<'_>,
        config: &ClientConfig,
    ) -> Result<Client, Error> {
        let hash = ScramHash::of(mechanism).ok_or(Error::InvalidArgument("not SCRAM"))?;
        let authcid = creds.need_authcid()?;
        let cache = creds.scram_cache.filter(|c| c.hash == hash).cloned();
        // With cached keys the password is needed only if the server's salt changed.
        let mut prepared = SecretBuf::new();
        let password = match (creds.password, &cache) {
            (None, Some(_)) => &[][..],
            _ => prepare_password(creds.need_password()?, Mode::Query, &mut prepared)?,
        };
        let user = saslprep::saslprep(authcid, Mode::Query)
            .map_err(|_| Error::InvalidArgument("authcid refused by SASLprep"))?;
        // A name of characters SASLprep maps to nothing (U+00AD SOFT HYPHEN, ...) would go
        // out as an empty `n=`, which every server refuses.
        if user.is_empty() {
            return Err(Error::InvalidArgument("authcid empty after SASLprep"));
        }
        if let Some(z) = creds.authzid
            && (z.is_empty() || z.contains('\0'))
        {
            return Err(Error::InvalidArgument("authzid empty or containing NUL"));
        }
        let binding = config.channel_binding.as_ref();
        let (flag, cb_data): (&[u8], &[u8]) = match binding {
            Some(cb) if mechanism.channel_binding() => (cb.kind.name().as_bytes(), cb.data()),
            None if mechanism.channel_binding() => {
                return Err(Error::InvalidArgument(
                    "a -PLUS mechanism needs channel-binding data in the ClientConfig",
                ));
            }
            Some(_) => (b"y", b""),
            None => (b"n", b""),
        };
        let nonce = match &config.nonce {
            NonceSource::Fixed(v) => Nonce::Fixed(v),
            NonceSource::Os => {
                let mut buf = [0u8; 18];
                if !thread_random(&mut buf) {
                    return Err(Error::Failed(Failure::TemporaryFailure));
                }
                Nonce::Random(buf)
            }
            NonceSource::Function(f) => {
                let mut buf = [0u8; 18];
                if !f(&mut buf) {
                    return Err(Error::Failed(Failure::TemporaryFailure));
                }
                Nonce::Random(buf)
            }
        };
        // Size the buffer once: client-first, `c=`, and the larger of the password and the
        // rest of client-final (`,r=` nonce `,p=` proof).
        let header_len = 2 + flag.len() + creds.authzid.map_or(0, |z| 2 + escaped_len(z)) + 2;
        let nonce_len = nonce_len(&nonce);
        let first_len = header_len + 5 + escaped_len(&user) + nonce_len;
        let c_len = 2 + b64::encoded_len(header_len + cb_data.len());
        let rest_len = 6 + nonce_len + SERVER_NONCE_ROOM + b64::encoded_len(32);
        let mut buf = SecretBuf::with_capacity(first_len + c_len + rest_len.max(password.len()));
        // gs2-header: gs2-cbind-flag "," [ "a=" saslname ] ","
        if mechanism.channel_binding() {
            buf.extend(b"p=");
        }
        buf.extend(flag);
        buf.push(b',');
        if let Some(z) = creds.authzid {
            buf.extend(b"a=");
            push_saslname(&mut buf, z);
        }
        buf.push(b',');
        let bare_at = buf.len();
        buf.extend(b"n=");
        push_saslname(&mut buf, &user);
        buf.extend(b",r=");
        let nonce_at = buf.len();
        push_nonce(&mut buf, nonce)
            .map_err(|_| Error::InvalidArgument("fixed nonce is not printable"))?;
        let final_at = buf.len();
        // client-final starts with `c=`: the gs2 header and channel-binding data, in base64.
        buf.extend(b"c=");
        b64::encode_within(&mut buf, 0, bare_at, cb_data);
        let c_end = buf.len();
        buf.extend(password);
        Ok(Client {
            state: ClientState::Start,
            hash,
            bare_at: bare_at as u32,
            nonce: Span::at(nonce_at, final_at - nonce_at),
            final_at: final_at as u32,
            c_end: c_end as u32,
            buf,
            server_signature: Block::default(),
            min_iterations: config.min_iterations,
            max_iterations: config.max_iterations,
            cache,
        })
    }

    fn first(&self) -> &[u8] {
        self.buf
            .as_slice()
            .get(..self.final_at as usize)
            .unwrap_or_default()
    }

    pub(crate) fn start(&mut self) -> Option<&[u8]> {
        self.state = ClientState::SentFirst;
        Some(self.first())
    }

    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        match self.state {
            ClientState::Start if challenge.is_empty() => {
                self.state = ClientState::SentFirst;
                Ok(self.first())
            }
            ClientState::SentFirst => {
                let r = self.client_final(challenge);
                if r.is_err() {
                    self.forget_password();
                }
                r?;
                self.state = ClientState::SentFinal;
                Ok(self
                    .buf
                    .as_slice()
                    .get(self.final_at as usize..)
                    .unwrap_or_default())
            }
            ClientState::SentFinal => {
                // Server-final as a challenge (SMTP, IMAP, POP3): verify, answer empty.
                self.verify(challenge)?;
                self.state = ClientState::Verified;
                Ok(b"")
            }
            _ => Err(Failure::Malformed),
        }
    }

    /// The password, until server-first has been answered (empty with cached keys).
    fn password(&self) -> &[u8] {
        self.buf
            .as_slice()
            .get(self.c_end as usize..)
            .unwrap_or_default()
    }

    /// Wipe the password (everything after `c=`) from the buffer.
    fn forget_password(&mut self) {
        self.buf.truncate(self.c_end as usize);
    }

    /// Parse server-first (`[ "m=" ... ] "r=" nonce ",s=" salt ",i=" count [ "," ext ]`) and
    /// build client-final.
    fn client_final(&mut self, msg: &[u8]) -> Result<(), Failure> {
        let (nonce, rest) = next_attr(msg);
        let nonce = nonce.strip_prefix(b"r=").ok_or(Failure::Malformed)?;
        let client_nonce = self.nonce.bytes(self.buf.as_slice());
        if !is_printable(nonce)
            || nonce.len() <= client_nonce.len()
            || !nonce.starts_with(client_nonce)
        {
            return Err(Failure::Malformed);
        }
        let (salt, rest) = next_attr(rest.ok_or(Failure::Malformed)?);
        let salt = salt.strip_prefix(b"s=").ok_or(Failure::Malformed)?;
        let salt = Salt::decode(salt).map_err(|_| Failure::Malformed)?;
        if salt.as_slice().is_empty() {
            return Err(Failure::Malformed);
        }
        let (count, mut rest) = next_attr(rest.ok_or(Failure::Malformed)?);
        let count = count.strip_prefix(b"i=").ok_or(Failure::Malformed)?;
        let iterations = match (count.first(), count.iter().all(u8::is_ascii_digit)) {
            (Some(b'1'..=b'9'), true) => parse_posit(count).unwrap_or(u32::MAX),
            _ => return Err(Failure::Malformed),
        };
        while let Some(r) = rest {
            let (ext, more) = next_attr(r);
            if !is_extension(ext) {
                return Err(Failure::Malformed);
            }
            rest = more;
        }
        if iterations > self.max_iterations {
            return Err(Failure::TooLarge);
        }
        if iterations < self.min_iterations {
            return Err(Failure::MechanismTooWeak);
        }
        let hash = self.hash;
        let cached = self
            .cache
            .take()
            .filter(|c| c.fits(hash, salt.as_slice(), iterations));
        let keys = match cached {
            Some(keys) => keys,
            None if self.password().is_empty() => return Err(Failure::BadCredentials),
            None => {
                let salted = hash.hi(self.password(), salt.as_slice(), iterations);
                ScramClientCache::from_salted(hash, &salted, salt, iterations)
            }
        };
        self.forget_password();
        // client-final-without-proof = "c=" ... (already there) ",r=" nonce
        self.buf.extend(b",r=");
        self.buf.extend(nonce);
        let buf = self.buf.as_slice();
        let bare = buf
            .get(self.bare_at as usize..self.final_at as usize)
            .unwrap_or_default();
        let without_proof = buf.get(self.final_at as usize..).unwrap_or_default();
        let am: [&[u8]; 5] = [bare, b",", msg, b",", without_proof];
        let client_signature = keys.stored_key.mac(&am);
        self.server_signature = keys.server_key.mac(&am);
        let proof = keys.client_key.xor(client_signature.as_slice());
        self.cache = Some(keys);
        self.buf.extend(b",p=");
        b64::encode_into(proof.as_slice(), &mut self.buf);
        Ok(())
    }

    /// Check server-final: `v=` signature (or `e=` error), optional extensions.
    fn verify(&mut self, msg: &[u8]) -> Result<(), Failure> {
        let (attr, _extensions) = next_attr(msg);
        if let Some(error) = attr.strip_prefix(b"e=") {
            return Err(match error {
                b"channel-bindings-dont-match"
                | b"channel-binding-not-supported"
                | b"unsupported-channel-binding-type"
                | b"server-does-support-channel-binding" => Failure::ChannelBinding,
                _ => Failure::BadCredentials,
            });
        }
        let v = attr
            .strip_prefix(b"v=")
            .ok_or(Failure::ServerAuthentication)?;
        let mut v_buf = [0u8; 32];
        let v = match b64::decode_to(v, &mut v_buf) {
            Ok(n) => v_buf.get(..n).unwrap_or_default(),
            Err(_) => return Err(Failure::ServerAuthentication),
        };
        if !ct_eq(v, self.server_signature.as_slice())
            || self.server_signature.as_slice().is_empty()
        {
            return Err(Failure::ServerAuthentication);
        }
        Ok(())
    }

    /// The keys to cache, once the server's salt and iteration count are known.
    pub(crate) fn cache(&self) -> Option<&ScramClientCache> {
        match self.state {
            // Only keys the server proved it shares are worth keeping.
            ClientState::Verified => self.cache.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        let data = data.filter(|d| !d.is_empty());
        match (self.state, data) {
            (ClientState::Verified, None) => Ok(()),
            (ClientState::SentFinal, Some(d)) => {
                self.verify(d)?;
                self.state = ClientState::Verified;
                Ok(())
            }
            // Success without the server's proof (or after it, with more data): refuse.
            _ => Err(Failure::ServerAuthentication),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslname_escapes() {
        let mut b = SecretBuf::new();
        assert_eq!(saslname_len(b"a=2Cb=3Dc"), Ok(5));
        push_unescaped(&mut b, b"a=2Cb=3Dc");
        assert_eq!(b.as_slice(), b"a,b=c");
        for bad in [
            &b"a=2"[..],
            b"a=",
            b"a=2c",
            b"a=41",
            b"a,b",
            b"",
            b"a\0",
            b"\xff",
        ] {
            assert_eq!(saslname_len(bad), Err(Failure::Malformed), "{bad:?}");
        }
        let mut o = SecretBuf::new();
        push_saslname(&mut o, "a,b=c");
        assert_eq!(o.as_slice(), b"a=2Cb=3Dc");
        assert_eq!(escaped_len("a,b=c"), o.len());
    }

    #[test]
    fn hashes_match_the_crates() {
        use hmac::{Hmac, KeyInit, Mac};
        use sha2::Digest;
        for len in [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 200] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(
                ScramHash::Sha256.h(&data).as_slice(),
                sha2::Sha256::digest(&data).as_slice()
            );
            assert_eq!(
                ScramHash::Sha1.h(&data).as_slice(),
                sha1::Sha1::digest(&data).as_slice()
            );
            for key in [&b"k"[..], &[7u8; 64], &[9u8; 100]] {
                let mut m = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
                m.update(&data);
                let (a, b) = data.split_at(len / 2);
                assert_eq!(
                    ScramHash::Sha256.hmac(key, &[a, b]).as_slice(),
                    m.finalize().into_bytes().as_slice()
                );
            }
        }
        for iterations in [1u32, 2, 3, 4096] {
            for salt in [&b"salt"[..], &[1u8; 80]] {
                let mut want = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"pencil", salt, iterations, &mut want);
                assert_eq!(
                    ScramHash::Sha256.hi(b"pencil", salt, iterations).as_slice(),
                    want
                );
                let mut want = [0u8; 20];
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(b"pencil", salt, iterations, &mut want);
                assert_eq!(
                    ScramHash::Sha1.hi(b"pencil", salt, iterations).as_slice(),
                    want
                );
            }
        }
    }

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
    fn posit_numbers() {
        assert_eq!(parse_posit(b"4096"), Some(4096));
        assert_eq!(parse_posit(b"4294967295"), Some(u32::MAX));
        for bad in [&b""[..], b"0", b"0100", b"+1", b"1a", b"4294967296"] {
            assert_eq!(parse_posit(bad), None, "{bad:?}");
        }
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
