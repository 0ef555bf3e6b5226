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

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::{Next, check_identity};
use crate::b64;
use crate::client::{ClientConfig, Credentials};
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::saslprep::{self, Mode};
use crate::secret::{SecretBuf, ct_eq};
use crate::server::{
    Answer, Identity, Nonce, NonceSource, Request, SecretRequest, ServerConfig, Transport,
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
        fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Block {
            // HMAC takes keys of any length; the error arm cannot happen.
            let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
                return Block::default();
            };
            for p in parts {
                mac.update(p);
            }
            Block::from(mac.finalize().into_bytes().as_slice())
        }
        match self {
            ScramHash::Sha1 => run::<Hmac<Sha1>>(key, parts),
            ScramHash::Sha256 => run::<Hmac<Sha256>>(key, parts),
        }
    }

    /// `H(data)`.
    fn h(self, data: &[u8]) -> Block {
        match self {
            ScramHash::Sha1 => Block::from(Sha1::digest(data).as_slice()),
            ScramHash::Sha256 => Block::from(Sha256::digest(data).as_slice()),
        }
    }

    /// `Hi(password, salt, i)`: PBKDF2 with HMAC of this hash, one block.
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Block {
        let mut b = Block {
            bytes: [0; 32],
            len: self.output_len() as u8,
        };
        match self {
            ScramHash::Sha1 => {
                pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, b.as_mut());
            }
            ScramHash::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, b.as_mut());
            }
        }
        b
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

impl Drop for Block {
    fn drop(&mut self) {
        self.bytes.zeroize();
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
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    hash: ScramHash,
    iterations: u32,
    salt: Vec<u8>,
    stored_key: Block,
    server_key: Block,
}

impl fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramKeys")
            .field("hash", &self.hash)
            .field("iterations", &self.iterations)
            .field("salt", &format_args!("<{} bytes>", self.salt.len()))
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
        let mut prepared = SecretBuf::new();
        prepare_password(password, Mode::Stored, &mut prepared)?;
        if salt.is_empty() || iterations == 0 {
            return Err(Error::InvalidArgument("empty salt or zero iteration count"));
        }
        let salted = hash.hi(prepared.as_slice(), salt, iterations);
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
        if salted_password.len() != hash.output_len() || salt.is_empty() || iterations == 0 {
            return Err(Error::InvalidArgument(
                "salted password of the wrong length, empty salt or zero iterations",
            ));
        }
        Ok(Self::from_salted(
            hash,
            &Block::from(salted_password),
            salt,
            iterations,
        ))
    }

    fn from_salted(hash: ScramHash, salted: &Block, salt: &[u8], iterations: u32) -> ScramKeys {
        let client_key = hash.hmac(salted.as_slice(), &[b"Client Key"]);
        ScramKeys {
            hash,
            iterations,
            salt: salt.to_vec(),
            stored_key: hash.h(client_key.as_slice()),
            server_key: hash.hmac(salted.as_slice(), &[b"Server Key"]),
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
            salt: salt.to_vec(),
            stored_key: Block::from(stored_key),
            server_key: Block::from(server_key),
        })
    }

    /// Parse the RFC 5803 form
    /// `SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>`.
    pub fn from_rfc5803(text: &str) -> Result<ScramKeys, Error> {
        const BAD: Error = Error::InvalidArgument("not an RFC 5803 SCRAM entry");
        let (scheme, rest) = text.split_once('$').ok_or(BAD)?;
        let hash = [ScramHash::Sha1, ScramHash::Sha256]
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(scheme))
            .ok_or(BAD)?;
        let (params, keys) = rest.split_once('$').ok_or(BAD)?;
        let (iterations, salt) = params.split_once(':').ok_or(BAD)?;
        let (stored, server) = keys.split_once(':').ok_or(BAD)?;
        let iterations = parse_posit(iterations.as_bytes()).ok_or(BAD)?;
        let salt = b64::decode(salt.as_bytes()).map_err(|_| BAD)?;
        let stored = b64::decode(stored.as_bytes()).map_err(|_| BAD)?;
        let server = b64::decode(server.as_bytes()).map_err(|_| BAD)?;
        Self::new(
            hash,
            salt.as_slice(),
            iterations,
            stored.as_slice(),
            server.as_slice(),
        )
    }

    /// Write the RFC 5803 form.
    pub fn to_rfc5803(&self) -> String {
        format!(
            "{}${}:{}${}:{}",
            self.hash.name(),
            self.iterations,
            b64::encode(&self.salt),
            b64::encode(self.stored_key.as_slice()),
            b64::encode(self.server_key.as_slice())
        )
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
        &self.salt
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

/// SASLprep a password into `out` (query or stored).
fn prepare_password(password: &[u8], mode: Mode, out: &mut SecretBuf) -> Result<(), Error> {
    let text = core::str::from_utf8(password)
        .map_err(|_| Error::InvalidArgument("password is not UTF-8"))?;
    saslprep::prepare_into(text, mode, out)
        .map_err(|_| Error::InvalidArgument("password refused by SASLprep"))
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

/// Decode a `saslname` (`=2C` is `,`, `=3D` is `=`; no other `=`, no `,`, no NUL) into `out`.
fn unescape_saslname(s: &[u8], out: &mut SecretBuf) -> Result<(), Failure> {
    out.clear();
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'=' => {
                match s.get(i + 1..i + 3) {
                    Some(b"2C") => out.push(b','),
                    Some(b"3D") => out.push(b'='),
                    _ => return Err(Failure::Malformed),
                }
                i += 3;
            }
            b',' | 0 => return Err(Failure::Malformed),
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if out.is_empty() || core::str::from_utf8(out.as_slice()).is_err() {
        return Err(Failure::Malformed);
    }
    Ok(())
}

/// Append `s` as a `saslname`.
fn push_saslname(out: &mut SecretBuf, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b',' => out.extend(b"=2C"),
            b'=' => out.extend(b"=3D"),
            _ => out.push(b),
        }
    }
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

/// The server side of the SCRAM family.
pub struct Server {
    state: State,
    hash: ScramHash,
    plus: bool,
    /// The server offers the matching `-PLUS` mechanism on this connection.
    plus_offered: bool,
    bindings: Vec<ChannelBinding>,
    /// What `c=` must decode to: the gs2 header, then the channel-binding data if bound.
    cbind_input: SecretBuf,
    username: SecretBuf,
    authzid: Option<SecretBuf>,
    /// The client nonce, then the server's appended to it.
    nonce: SecretBuf,
    /// `client-first-message-bare "," server-first-message ","`: the AuthMessage prefix.
    transcript: SecretBuf,
    /// For a password answer or an unknown user.
    fake_salt: [u8; ScramKeys::SALT_LEN],
    fake_secret: Block,
    default_iterations: u32,
    keys: Option<ScramKeys>,
    known: bool,
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

impl Drop for Server {
    fn drop(&mut self) {
        self.fake_salt.zeroize();
    }
}

impl Server {
    pub(crate) fn new(mechanism: Mechanism, c: &ServerConfig, transport: &Transport) -> Server {
        let plus_mech = match mechanism {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus => Mechanism::ScramSha1Plus,
            _ => Mechanism::ScramSha256Plus,
        };
        Server {
            state: State::Start,
            hash: ScramHash::of(mechanism).unwrap_or(ScramHash::Sha256),
            plus: mechanism.channel_binding(),
            plus_offered: c.check_transport(plus_mech, transport).is_ok(),
            bindings: transport.channel_bindings.clone(),
            cbind_input: SecretBuf::new(),
            username: SecretBuf::new(),
            authzid: None,
            nonce: SecretBuf::new(),
            transcript: SecretBuf::new(),
            fake_salt: [0; ScramKeys::SALT_LEN],
            fake_secret: Block::default(),
            default_iterations: c.scram_iterations,
            keys: None,
            known: false,
        }
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
            [] => None,
            [b'a', b'=', name @ ..] => {
                let mut buf = SecretBuf::new();
                unescape_saslname(name, &mut buf)?;
                check_identity(buf.as_slice(), c.max_identity)?;
                Some(buf)
            }
            _ => return Err(Failure::Malformed),
        };
        let gs2_len = msg.len().saturating_sub(bare.len());
        let gs2_header = msg.get(..gs2_len).unwrap_or_default();
        // client-first-message-bare
        let (user, rest) = next_attr(bare);
        if user.starts_with(b"m=") {
            // A mandatory extension this server does not know (RFC 5802 §5.1).
            return Err(Failure::Malformed);
        }
        let user = user.strip_prefix(b"n=").ok_or(Failure::Malformed)?;
        let mut username = SecretBuf::new();
        unescape_saslname(user, &mut username)?;
        check_identity(username.as_slice(), c.max_identity)?;
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
        let cb_data = match flag {
            CbFlag::No if self.plus => return Err(Failure::ChannelBinding),
            CbFlag::NotOffered if self.plus || self.plus_offered => {
                return Err(Failure::ChannelBinding);
            }
            CbFlag::No | CbFlag::NotOffered => None,
            CbFlag::Bound(_) if !self.plus => return Err(Failure::ChannelBinding),
            CbFlag::Bound(None) => return Err(Failure::ChannelBinding),
            CbFlag::Bound(Some(t)) => Some(
                self.bindings
                    .iter()
                    .find(|b| b.kind == t)
                    .ok_or(Failure::ChannelBinding)?,
            ),
        };
        let mut cbind_input = SecretBuf::with_capacity(gs2_header.len() + 32);
        cbind_input.extend(gs2_header);
        if let Some(cb) = cb_data {
            cbind_input.extend(cb.data());
        }
        // The server nonce, and what a password answer or an unknown user needs.
        let mut full_nonce = SecretBuf::with_capacity(nonce.len() + 32);
        full_nonce.extend(nonce);
        push_nonce(&mut full_nonce, c.nonce()?)?;
        let fake = ScramHash::Sha256.hmac(
            c.scram_secret.as_slice(),
            &[
                b"saslmech scram fake salt\0",
                self.hash.name().as_bytes(),
                b"\0",
                username.as_slice(),
            ],
        );
        for (d, s) in self.fake_salt.iter_mut().zip(fake.as_slice()) {
            *d = *s;
        }
        self.fake_secret = ScramHash::Sha256.hmac(fake.as_slice(), &[b"keys"]);
        let mut transcript = SecretBuf::with_capacity(bare.len() + 160);
        transcript.extend(bare);
        self.transcript = transcript;
        self.cbind_input = cbind_input;
        self.username = username;
        self.authzid = authzid;
        self.nonce = full_nonce;
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
        let (keys, known) = match answer {
            Answer::ScramKeys(k) if k.hash == self.hash => (k.clone(), true),
            Answer::ScramKeys(_) => return Err(Error::WrongAnswer),
            Answer::Password(p) => {
                let mut prepared = SecretBuf::new();
                let ok = prepare_password(p, Mode::Query, &mut prepared).is_ok();
                let salted = self.hash.hi(
                    prepared.as_slice(),
                    &self.fake_salt,
                    self.default_iterations,
                );
                let keys = ScramKeys::from_salted(
                    self.hash,
                    &salted,
                    &self.fake_salt,
                    self.default_iterations,
                );
                (keys, ok)
            }
            Answer::UnknownUser | Answer::Reject => (self.fake_keys(), false),
            _ => return Err(Error::WrongAnswer),
        };
        // server-first-message = nonce "," salt "," iteration-count
        out.clear();
        out.reserve(self.nonce.len() + keys.salt.len() * 2 + 24);
        out.extend(b"r=");
        out.extend(self.nonce.as_slice());
        out.extend(b",s=");
        b64::encode_into(&keys.salt, out);
        out.extend(b",i=");
        out.extend(keys.iterations.to_string().as_bytes());
        self.transcript.push(b',');
        self.transcript.extend(out.as_slice());
        self.transcript.push(b',');
        self.keys = Some(keys);
        self.known = known;
        self.state = State::WantFinal;
        Ok(Next::Challenge)
    }

    /// Keys for a user who does not exist: the same salt as a password answer would get, the
    /// default iteration count, and keys no proof can match.
    fn fake_keys(&self) -> ScramKeys {
        let n = self.hash.output_len();
        let key = Block::from(self.fake_secret.as_slice().get(..n).unwrap_or_default());
        ScramKeys {
            hash: self.hash,
            iterations: self.default_iterations,
            salt: self.fake_salt.to_vec(),
            stored_key: key.clone(),
            server_key: key,
        }
    }

    /// Parse and verify the client-final message:
    /// `"c=" base64 ",r=" nonce [ "," extensions ] ",p=" base64`.
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
        let proof = b64::decode(proof).map_err(|_| Failure::Malformed)?;
        if proof.len() != self.hash.output_len() {
            return Err(Failure::Malformed);
        }
        let cbind = b64::decode(cbind).map_err(|_| Failure::Malformed)?;
        if nonce != self.nonce.as_slice() {
            return Err(Failure::Malformed);
        }
        if !ct_eq(cbind.as_slice(), self.cbind_input.as_slice()) {
            return Err(Failure::ChannelBinding);
        }
        let keys = self.keys.as_ref().ok_or(Failure::Malformed)?;
        // AuthMessage = client-first-bare "," server-first "," client-final-without-proof
        let hash = self.hash;
        let am: [&[u8]; 2] = [self.transcript.as_slice(), without_proof];
        let client_signature = hash.hmac(keys.stored_key(), &am);
        let client_key = client_signature.xor(proof.as_slice());
        let ok = bool::from(
            subtle::ConstantTimeEq::ct_eq(
                hash.h(client_key.as_slice()).as_slice(),
                keys.stored_key(),
            ) & subtle::Choice::from(u8::from(self.known)),
        );
        let server_signature = hash.hmac(keys.server_key(), &am);
        self.transcript.clear();
        self.keys = None;
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
                authcid: as_str(&self.username),
            })
        })
    }

    pub(crate) fn identity(&self) -> Option<Identity<'_>> {
        (self.state == State::Verified).then(|| Identity {
            authcid: as_str(&self.username),
            authzid: self.authzid.as_ref().map(as_str),
        })
    }

    pub(crate) fn wipe(&mut self) {
        self.state = State::Start;
        self.cbind_input.clear();
        self.username.clear();
        self.authzid = None;
        self.nonce.clear();
        self.transcript.clear();
        self.fake_salt.zeroize();
        self.fake_secret = Block::default();
        self.keys = None;
        self.known = false;
    }
}

fn as_str(b: &SecretBuf) -> &str {
    core::str::from_utf8(b.as_slice()).unwrap_or_default()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    Start,
    SentFirst,
    SentFinal,
    Verified,
}

/// The client side of the SCRAM family.
pub struct Client {
    state: ClientState,
    hash: ScramHash,
    /// The SASLprep'd password; wiped once the proof is computed.
    password: SecretBuf,
    /// gs2 header then channel-binding data: `c=` is its base64.
    cbind_input: SecretBuf,
    /// The client-first message; the bare part starts at `gs2_len`.
    first: SecretBuf,
    gs2_len: usize,
    /// Where the client nonce starts in `first` (it runs to the end).
    nonce_at: usize,
    /// The client-final message, then nothing (an empty response to server-final).
    response: SecretBuf,
    server_signature: Block,
    min_iterations: u32,
    max_iterations: u32,
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
        let mut password = SecretBuf::new();
        prepare_password(creds.need_password()?, Mode::Query, &mut password)?;
        let user = saslprep::saslprep(authcid, Mode::Query)
            .map_err(|_| Error::InvalidArgument("authcid refused by SASLprep"))?;
        if let Some(z) = creds.authzid
            && (z.is_empty() || z.contains('\0'))
        {
            return Err(Error::InvalidArgument("authzid empty or containing NUL"));
        }
        let mut cbind_input = SecretBuf::new();
        let binding = config.channel_binding.as_ref();
        match binding {
            Some(cb) if mechanism.channel_binding() => {
                cbind_input.extend(b"p=");
                cbind_input.extend(cb.kind.name().as_bytes());
            }
            None if mechanism.channel_binding() => {
                return Err(Error::InvalidArgument(
                    "a -PLUS mechanism needs channel-binding data in the ClientConfig",
                ));
            }
            Some(_) => cbind_input.push(b'y'),
            None => cbind_input.push(b'n'),
        }
        cbind_input.push(b',');
        if let Some(z) = creds.authzid {
            cbind_input.extend(b"a=");
            push_saslname(&mut cbind_input, z);
        }
        cbind_input.push(b',');
        let mut first = SecretBuf::with_capacity(cbind_input.len() + user.len() + 40);
        first.extend(cbind_input.as_slice());
        let gs2_len = first.len();
        first.extend(b"n=");
        push_saslname(&mut first, &user);
        first.extend(b",r=");
        let nonce_at = first.len();
        let nonce = match &config.nonce {
            NonceSource::Fixed(v) => Nonce::Fixed(v),
            NonceSource::Os => {
                let mut buf = [0u8; 18];
                getrandom::fill(&mut buf).map_err(|_| Error::Failed(Failure::TemporaryFailure))?;
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
        push_nonce(&mut first, nonce)
            .map_err(|_| Error::InvalidArgument("fixed nonce is not printable"))?;
        if let (Some(cb), true) = (binding, mechanism.channel_binding()) {
            cbind_input.extend(cb.data());
        }
        Ok(Client {
            state: ClientState::Start,
            hash,
            password,
            cbind_input,
            first,
            gs2_len,
            nonce_at,
            response: SecretBuf::new(),
            server_signature: Block::default(),
            min_iterations: config.min_iterations,
            max_iterations: config.max_iterations,
        })
    }

    pub(crate) fn start(&mut self) -> Option<&[u8]> {
        self.state = ClientState::SentFirst;
        Some(self.first.as_slice())
    }

    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        match self.state {
            ClientState::Start if challenge.is_empty() => {
                self.state = ClientState::SentFirst;
                Ok(self.first.as_slice())
            }
            ClientState::SentFirst => {
                let r = self.client_final(challenge);
                self.password.clear();
                r?;
                self.state = ClientState::SentFinal;
                Ok(self.response.as_slice())
            }
            ClientState::SentFinal => {
                // Server-final as a challenge (SMTP, IMAP, POP3): verify, answer empty.
                self.verify(challenge)?;
                self.state = ClientState::Verified;
                self.response.clear();
                Ok(b"")
            }
            _ => Err(Failure::Malformed),
        }
    }

    /// Parse server-first (`[ "m=" ... ] "r=" nonce ",s=" salt ",i=" count [ "," ext ]`) and
    /// build client-final.
    fn client_final(&mut self, msg: &[u8]) -> Result<(), Failure> {
        let (nonce, rest) = next_attr(msg);
        let nonce = nonce.strip_prefix(b"r=").ok_or(Failure::Malformed)?;
        let client_nonce = self
            .first
            .as_slice()
            .get(self.nonce_at..)
            .unwrap_or_default();
        if !is_printable(nonce)
            || nonce.len() <= client_nonce.len()
            || !nonce.starts_with(client_nonce)
        {
            return Err(Failure::Malformed);
        }
        let (salt, rest) = next_attr(rest.ok_or(Failure::Malformed)?);
        let salt = salt.strip_prefix(b"s=").ok_or(Failure::Malformed)?;
        let salt = b64::decode(salt).map_err(|_| Failure::Malformed)?;
        if salt.is_empty() {
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
        let salted = hash.hi(self.password.as_slice(), salt.as_slice(), iterations);
        let client_key = hash.hmac(salted.as_slice(), &[b"Client Key"]);
        let stored_key = hash.h(client_key.as_slice());
        let server_key = hash.hmac(salted.as_slice(), &[b"Server Key"]);
        let mut response =
            SecretBuf::with_capacity(b64::encoded_len(self.cbind_input.len()) + nonce.len() + 64);
        response.extend(b"c=");
        b64::encode_into(self.cbind_input.as_slice(), &mut response);
        response.extend(b",r=");
        response.extend(nonce);
        let bare = self
            .first
            .as_slice()
            .get(self.gs2_len..)
            .unwrap_or_default();
        let am: [&[u8]; 5] = [bare, b",", msg, b",", response.as_slice()];
        let client_signature = hash.hmac(stored_key.as_slice(), &am);
        self.server_signature = hash.hmac(server_key.as_slice(), &am);
        let proof = client_key.xor(client_signature.as_slice());
        response.extend(b",p=");
        b64::encode_into(proof.as_slice(), &mut response);
        self.response = response;
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
        let v = b64::decode(v).map_err(|_| Failure::ServerAuthentication)?;
        if !ct_eq(v.as_slice(), self.server_signature.as_slice())
            || self.server_signature.as_slice().is_empty()
        {
            return Err(Failure::ServerAuthentication);
        }
        Ok(())
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
        unescape_saslname(b"a=2Cb=3Dc", &mut b).unwrap();
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
            assert_eq!(
                unescape_saslname(bad, &mut b),
                Err(Failure::Malformed),
                "{bad:?}"
            );
        }
        let mut o = SecretBuf::new();
        push_saslname(&mut o, "a,b=c");
        assert_eq!(o.as_slice(), b"a=2Cb=3Dc");
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
