//! CRAM-MD5 (RFC 2195): the server sends `<unique@host>`, the client answers
//! `user SP hex(HMAC-MD5(password, challenge))`.
//!
//! The server splits the response at the rightmost space (user names may contain spaces) and
//! takes exactly 32 lowercase hex digits. It asks the application for the user's secret:
//! the plaintext password, or the precomputed HMAC-MD5 state ([`CramMd5Keys`]) that Dovecot
//! stores as `{CRAM-MD5}<64 hex>`, so that no plaintext need be kept. An unknown user costs
//! the same work as a wrong password and fails the same way.

use core::fmt;

use md5::block_api::compress;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::plain::finish_without_data;
use super::{Next, Span, check_identity, count_compressions, hex_decode, hex_digit, hex_encode};
use crate::client::Credentials;
use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::secret::{SecretBuf, ct_eq};
use crate::server::{Answer, Identity, Nonce, Request, SecretRequest, SecretStorage, ServerConfig};

const MD5_IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The HMAC-MD5 state after the key's inner and outer pads: all a server needs to check a
/// CRAM-MD5 response, without the password.
///
/// ```
/// use saslmech::CramMd5Keys;
/// let keys = CramMd5Keys::from_password(b"tanstaaftanstaaf");
/// let stored = keys.to_dovecot();
/// assert!(stored.starts_with("{CRAM-MD5}"));
/// assert_eq!(CramMd5Keys::from_dovecot(&stored).unwrap(), keys);
/// ```
///
/// Equality (`==`, [`ConstantTimeEq`](subtle::ConstantTimeEq)) takes the same time wherever
/// two states differ; the stored forms come back in buffers wiped on drop.
#[derive(Clone)]
pub struct CramMd5Keys {
    inner: [u32; 4],
    outer: [u32; 4],
}

impl ConstantTimeEq for CramMd5Keys {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.inner.ct_eq(&other.inner) & self.outer.ct_eq(&other.outer)
    }
}

/// In constant time (no short-circuit on the first differing word).
impl PartialEq for CramMd5Keys {
    fn eq(&self, other: &Self) -> bool {
        bool::from(ConstantTimeEq::ct_eq(self, other))
    }
}

impl Eq for CramMd5Keys {}

impl Drop for CramMd5Keys {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl fmt::Debug for CramMd5Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CramMd5Keys(<redacted>)")
    }
}

impl CramMd5Keys {
    /// Derive the state from a password (keys over 64 bytes are hashed first, as HMAC does).
    pub fn from_password(password: &[u8]) -> CramMd5Keys {
        let mut key = [0u8; 64];
        if password.len() > 64 {
            let mut digest = md5_finish(MD5_IV, password, 0);
            if let Some(k) = key.get_mut(..16) {
                k.copy_from_slice(&digest);
            }
            digest.zeroize();
        } else if let Some(k) = key.get_mut(..password.len()) {
            k.copy_from_slice(password);
        }
        let mut inner = MD5_IV;
        let mut outer = MD5_IV;
        let mut pad = [0u8; 64];
        for (p, k) in pad.iter_mut().zip(key.iter()) {
            *p = k ^ 0x36;
        }
        count_compressions(2);
        compress(&mut inner, core::slice::from_ref(&pad));
        for (p, k) in pad.iter_mut().zip(key.iter()) {
            *p = k ^ 0x5c;
        }
        compress(&mut outer, core::slice::from_ref(&pad));
        pad.zeroize();
        key.zeroize();
        CramMd5Keys { inner, outer }
    }

    /// Read Dovecot's 32-byte layout: the outer state's four words, then the inner's, each
    /// little-endian.
    pub fn from_bytes(bytes: &[u8; 32]) -> CramMd5Keys {
        let mut words = [0u32; 8];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            let mut b = [0u8; 4];
            b.copy_from_slice(chunk);
            *w = u32::from_le_bytes(b);
        }
        let [o0, o1, o2, o3, i0, i1, i2, i3] = words;
        words.zeroize();
        CramMd5Keys {
            inner: [i0, i1, i2, i3],
            outer: [o0, o1, o2, o3],
        }
    }

    /// Write Dovecot's 32-byte layout, in an array wiped on drop.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let words = self.outer.iter().chain(self.inner.iter());
        for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Parse `{CRAM-MD5}` followed by 64 hex digits, either case (the prefix is optional).
    pub fn from_dovecot(text: &str) -> Option<CramMd5Keys> {
        let hex = text.strip_prefix("{CRAM-MD5}").unwrap_or(text).as_bytes();
        let mut bytes = [0u8; 32];
        if hex.len() != 64 {
            return None;
        }
        // The digits are secret: decode them all without a branch on any of them, and
        // reveal only whether the whole text was well formed.
        let mut valid = subtle::Choice::from(1);
        for (b, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            let (hi, hi_ok) = hex_value_ct(pair.first().copied().unwrap_or(0));
            let (lo, lo_ok) = hex_value_ct(pair.get(1).copied().unwrap_or(0));
            valid &= hi_ok & lo_ok;
            *b = hi << 4 | lo;
        }
        let keys = CramMd5Keys::from_bytes(&bytes);
        bytes.zeroize();
        if !bool::from(valid) {
            return None;
        }
        Some(keys)
    }

    /// Write `{CRAM-MD5}` followed by 64 lowercase hex digits (encoded without a branch or
    /// table lookup on them), in a string wiped on drop.
    pub fn to_dovecot(&self) -> Zeroizing<String> {
        let bytes = self.to_bytes();
        // Exactly this long: the string never grows (which would leave a copy behind).
        let mut s = Zeroizing::new(String::with_capacity(74));
        s.push_str("{CRAM-MD5}");
        for &b in bytes.iter() {
            s.push(char::from(hex_digit(b >> 4)));
            s.push(char::from(hex_digit(b)));
        }
        s
    }

    /// HMAC-MD5 of `message` under these keys.
    pub fn mac(&self, message: &[u8]) -> [u8; 16] {
        let mut inner = md5_finish(self.inner, message, 64);
        let mac = md5_finish(self.outer, &inner, 64);
        inner.zeroize();
        mac
    }
}

/// The keys of the empty password (`from_password(b"")`, checked by a test), which no
/// answer may authenticate with.
const EMPTY_PASSWORD_KEYS: CramMd5Keys = CramMd5Keys {
    inner: [0xe1de_201d, 0xb50b_483f, 0x57d8_f798, 0x1be6_235b],
    outer: [0xf27c_7400, 0xc511_afff, 0x9764_4aea, 0xfc01_399c],
};

/// What an unknown user's keys are derived from when the application stores plaintext.
const DUMMY_PASSWORD: &[u8] = b"saslmech-unknown-user";

/// Key equality without a branch on the key state.
fn same_keys(a: &CramMd5Keys, b: &CramMd5Keys) -> bool {
    let diff = a
        .inner
        .iter()
        .chain(a.outer.iter())
        .zip(b.inner.iter().chain(b.outer.iter()))
        .fold(0u32, |d, (x, y)| d | (x ^ y));
    bool::from(subtle::ConstantTimeEq::ct_eq(&diff, &0))
}

/// A hex digit of secret text (either case: Dovecot writes lower case, other tools may not),
/// without a branch: the value (0 if invalid) and validity.
fn hex_value_ct(c: u8) -> (u8, subtle::Choice) {
    use subtle::{ConditionallySelectable, ConstantTimeGreater};
    let digit = c.ct_gt(&(b'0' - 1)) & (b'9' + 1).ct_gt(&c);
    let lower = c.ct_gt(&(b'a' - 1)) & (b'f' + 1).ct_gt(&c);
    let upper = c.ct_gt(&(b'A' - 1)) & (b'F' + 1).ct_gt(&c);
    let v = u8::conditional_select(&0, &c.wrapping_sub(b'0'), digit)
        | u8::conditional_select(&0, &c.wrapping_sub(b'a' - 10), lower)
        | u8::conditional_select(&0, &c.wrapping_sub(b'A' - 10), upper);
    (v, digit | lower | upper)
}

/// Finish an MD5 computation that has already absorbed `prefix` bytes into `state`.
fn md5_finish(mut state: [u32; 4], message: &[u8], prefix: u64) -> [u8; 16] {
    let mut blocks = message.chunks_exact(64);
    for block in &mut blocks {
        let mut b = [0u8; 64];
        b.copy_from_slice(block);
        count_compressions(1);
        compress(&mut state, core::slice::from_ref(&b));
    }
    let rest = blocks.remainder();
    let mut last = [0u8; 64];
    if let Some(dst) = last.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    if let Some(b) = last.get_mut(rest.len()) {
        *b = 0x80;
    }
    if rest.len() >= 56 {
        count_compressions(1);
        compress(&mut state, core::slice::from_ref(&last));
        last = [0u8; 64];
    }
    let bits = prefix.wrapping_add(message.len() as u64).wrapping_mul(8);
    if let Some(dst) = last.get_mut(56..) {
        dst.copy_from_slice(&bits.to_le_bytes());
    }
    count_compressions(1);
    compress(&mut state, core::slice::from_ref(&last));
    last.zeroize();
    let mut out = [0u8; 16];
    for (chunk, w) in out.chunks_exact_mut(4).zip(state.iter()) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    state.zeroize();
    out
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Start,
    /// The challenge is in `out`; the response comes next.
    WantResponse,
    /// Asked for the user's secret.
    WantSecret,
    Verified,
}

/// The server side of CRAM-MD5.
#[derive(Debug, Default)]
pub struct Server {
    state: State,
    /// After the response: the challenge, then the user name (one buffer: the session's
    /// output buffer, taken over once the challenge has been sent).
    buf: SecretBuf,
    username: Span,
    digest: [u8; 16],
    /// How the application stores secrets (from the config, at start).
    storage: SecretStorage,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.digest.zeroize();
    }
}

impl Server {
    pub(crate) fn start(
        &mut self,
        c: &ServerConfig,
        out: &mut SecretBuf,
        ir: Option<&[u8]>,
    ) -> Next {
        if ir.is_some() {
            return Next::Failure(Failure::UnexpectedInitialResponse);
        }
        self.storage = c.secret_storage;
        // `<random.random@host>`: unpredictable, and reveals neither time nor process.
        let nonce = match c.nonce() {
            Ok(n) => n,
            Err(f) => return Next::Failure(f),
        };
        out.clear();
        // Room for the challenge and a typical user name after it (see `step`).
        out.reserve(c.hostname.len() + 44 + 64);
        out.extend(b"<");
        match nonce {
            Nonce::Fixed(text) => out.extend(text),
            Nonce::Random(bytes) => {
                // 128 bits as two groups of 16 hex digits (no division, and 8 characters
                // shorter than decimal: with a hostname of up to 19 characters the HMAC's
                // message stays within one MD5 block).
                let mut hex = [0u8; 33];
                let (a, b) = hex.split_at_mut(16);
                hex_encode(bytes.get(..8).unwrap_or_default(), a);
                hex_encode(
                    bytes.get(8..16).unwrap_or_default(),
                    b.get_mut(1..).unwrap_or_default(),
                );
                if let Some(dot) = b.first_mut() {
                    *dot = b'.';
                }
                out.extend(&hex);
            }
        }
        out.extend(b"@");
        out.extend(c.hostname.as_bytes());
        out.extend(b">");
        self.state = State::WantResponse;
        Next::Challenge
    }

    /// Parse `user SP 32*lowerhex`. The digest is the last 32 bytes and the space just before
    /// it the separator: the rightmost space, as user names may contain spaces (a space after
    /// it would be in the digest, which then fails to decode).
    pub(crate) fn step(&mut self, c: &ServerConfig, out: &mut SecretBuf, input: &[u8]) -> Next {
        if self.state != State::WantResponse {
            return Next::Failure(Failure::Malformed);
        }
        let Some((user, hex)) = input
            .len()
            .checked_sub(33)
            .and_then(|space| input.split_at_checked(space))
        else {
            return Next::Failure(Failure::Malformed);
        };
        let Some((b' ', hex)) = hex.split_first() else {
            return Next::Failure(Failure::Malformed);
        };
        if !hex_decode(hex, &mut self.digest) {
            return Next::Failure(Failure::Malformed);
        }
        let user = match check_identity(user, c.max_identity) {
            Ok(user) => user,
            Err(f) => return Next::Failure(f),
        };
        // Keep the challenge (the HMAC's message) and the user name together, in the buffer
        // that holds the challenge already: no allocation for a typical name.
        self.buf = core::mem::take(out);
        self.username = Span::at(self.buf.len(), user.len());
        self.buf.extend(user.as_bytes());
        self.state = State::WantSecret;
        Next::Request
    }

    pub(crate) fn answer(&mut self, _: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != State::WantSecret {
            return Err(Error::InvalidState);
        }
        // An empty stored password, or the keys of one, is no secret: it would let the empty
        // key authenticate, so it fails like an unknown user. (CRAM-MD5 keys HMAC with the
        // password's bytes as they are; RFC 2195 has no SASLprep.) The work up to the verdict is the same for a
        // known and an unknown user under the configured storage (see `SecretStorage`).
        let (keys, known) = match answer {
            Answer::Password(p) => (CramMd5Keys::from_password(p), !p.is_empty()),
            Answer::CramMd5Keys(k) => (k.clone(), !same_keys(k, &EMPTY_PASSWORD_KEYS)),
            Answer::UnknownUser | Answer::Reject => match self.storage {
                SecretStorage::Plaintext => (CramMd5Keys::from_password(DUMMY_PASSWORD), false),
                SecretStorage::Keys => (EMPTY_PASSWORD_KEYS, false),
            },
            _ => return Err(Error::WrongAnswer),
        };
        let challenge = self
            .buf
            .as_slice()
            .get(..self.username.start())
            .unwrap_or_default();
        let mut expected = keys.mac(challenge);
        let ok = ct_eq(&expected, &self.digest) & known;
        expected.zeroize();
        if ok {
            self.state = State::Verified;
            Ok(Next::Success)
        } else {
            Ok(Next::Failure(Failure::BadCredentials))
        }
    }

    pub(crate) fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        (self.state == State::WantSecret).then(|| {
            Request::Secret(SecretRequest {
                mechanism,
                authcid: self.username_str(),
            })
        })
    }

    pub(crate) fn identity(&self) -> Option<Identity<'_>> {
        (self.state == State::Verified).then(|| Identity {
            authcid: self.username_str(),
            authzid: None,
        })
    }

    fn username_str(&self) -> &str {
        self.username.str(self.buf.as_slice())
    }

    pub(crate) fn wipe(&mut self) {
        self.buf = SecretBuf::new();
        self.username = Span::default();
        self.digest.zeroize();
        self.state = State::Start;
    }
}

/// The client side of CRAM-MD5. It keeps the HMAC state, not the password.
#[derive(Debug)]
pub struct Client {
    keys: CramMd5Keys,
    /// `user SP`, then the hex digest once the challenge arrived.
    response: SecretBuf,
    prefix: usize,
    sent: bool,
}

impl Client {
    pub(crate) fn new(creds: &Credentials<'_>) -> Result<Client, Error> {
        let authcid = creds.need_authcid()?;
        let password = creds.need_password()?;
        if creds.authzid.is_some_and(|z| z != authcid) {
            return Err(Error::InvalidArgument("CRAM-MD5 cannot carry an authzid"));
        }
        let mut response = SecretBuf::with_capacity(authcid.len() + 33);
        response.extend(authcid.as_bytes());
        response.push(b' ');
        Ok(Client {
            keys: CramMd5Keys::from_password(password),
            prefix: response.len(),
            response,
            sent: false,
        })
    }

    pub(crate) fn start(&mut self) -> Option<&[u8]> {
        None
    }

    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        if self.sent || challenge.is_empty() {
            return Err(Failure::Malformed);
        }
        let mut mac = self.keys.mac(challenge);
        let mut hex = [0u8; 32];
        hex_encode(&mac, &mut hex);
        self.response.vec_mut().truncate(self.prefix);
        self.response.extend(&hex);
        mac.zeroize();
        hex.zeroize();
        self.sent = true;
        Ok(self.response.as_slice())
    }

    pub(crate) fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        finish_without_data(self.sent, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};

    #[test]
    fn empty_password_keys_constant_is_the_derivation() {
        let derived = CramMd5Keys::from_password(b"");
        assert!(same_keys(&derived, &EMPTY_PASSWORD_KEYS));
        assert!(!same_keys(
            &CramMd5Keys::from_password(b"x"),
            &EMPTY_PASSWORD_KEYS
        ));
    }

    #[test]
    fn mac_matches_hmac_crate() {
        for key_len in [0usize, 1, 16, 63, 64, 65, 200] {
            for msg_len in [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 300] {
                let key: Vec<u8> = (0..key_len).map(|i| i as u8).collect();
                let msg: Vec<u8> = (0..msg_len).map(|i| (i * 7) as u8).collect();
                let mut reference = Hmac::<md5::Md5>::new_from_slice(&key).unwrap();
                reference.update(&msg);
                let expected: [u8; 16] = reference.finalize().into_bytes().into();
                assert_eq!(CramMd5Keys::from_password(&key).mac(&msg), expected);
            }
        }
    }

    #[test]
    fn constant_time_hex_agrees_with_the_plain_one() {
        for c in 0..=255u8 {
            let (v, ok) = hex_value_ct(c);
            let either_case = super::super::hex_value(c.to_ascii_lowercase());
            assert_eq!(bool::from(ok).then_some(v), either_case, "{c}");
        }
        for n in 0..16u8 {
            assert_eq!(super::super::hex_digit(n), b"0123456789abcdef"[n as usize]);
        }
        let keys = CramMd5Keys::from_password(b"tanstaaftanstaaf");
        let text = keys.to_dovecot();
        assert_eq!(CramMd5Keys::from_dovecot(&text), Some(keys.clone()));
        assert_eq!(CramMd5Keys::from_dovecot(&text[10..]), Some(keys.clone()));
        // Upper case reads the same.
        let upper = format!("{{CRAM-MD5}}{}", text[10..].to_ascii_uppercase());
        assert_eq!(CramMd5Keys::from_dovecot(&upper), Some(keys.clone()));
        for bad in ["g", "/", ":", "`", "G", " ", "@", "["] {
            let t = format!("{}{bad}", &text[..73]);
            assert_eq!(CramMd5Keys::from_dovecot(&t), None, "{bad}");
        }
        assert_eq!(CramMd5Keys::from_dovecot(&text[..73]), None);
    }
}
