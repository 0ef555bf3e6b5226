//! CRAM-MD5 (RFC 2195): the server sends `<unique@host>`, the client answers
//! `user SP hex(HMAC-MD5(password, challenge))`.
//!
//! The server splits the response at the rightmost space (user names may contain spaces) and
//! takes exactly 32 lowercase hex digits. It asks the application for the user's secret:
//! the plaintext password, or the precomputed HMAC-MD5 state ([`CramMd5Keys`]) that Dovecot
//! stores as `{CRAM-MD5}<64 hex>`, so that no plaintext need be kept. An unknown user costs
//! the same work as a wrong password and fails the same way.

use zeroize::Zeroize;

use super::plain::finish_without_data;
use super::{ClientMechanism, Next, ServerMechanism, Span, check_identity};
use crate::config::{SecretStorage, ServerConfig};
use crate::credentials::Credentials;
use crate::crypto::hex::{self, Case};
use crate::error::{Error, Failure};
use crate::keys::CramMd5Keys;
use crate::mechanism::Mechanism;
use crate::nonce::Nonce;
use crate::request::{Answer, Identity, Request, SecretRequest};
use crate::secret::{SecretBuf, ct_eq};

/// What an unknown user's keys are derived from when the application stores plaintext.
const DUMMY_PASSWORD: &[u8] = b"saslmech-unknown-user";

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
    fn username_str(&self) -> Option<&str> {
        self.username.str(self.buf.as_slice())
    }
}

impl ServerMechanism for Server {
    fn start(&mut self, c: &ServerConfig, out: &mut SecretBuf, ir: Option<&[u8]>) -> Next {
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
                let mut hex = [b'.'; 33];
                let (a, b) = hex.split_at_mut(16);
                let (_, b) = b.split_at_mut(1);
                let (high, rest) = bytes.split_at(8);
                let (low, _) = rest.split_at(8);
                hex::encode(high, a);
                hex::encode(low, b);
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
    fn step(&mut self, c: &ServerConfig, out: &mut SecretBuf, input: &[u8]) -> Next {
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
        if !hex::decode(hex, &mut self.digest, Case::Lower) {
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

    fn answer(&mut self, _: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != State::WantSecret {
            return Err(Error::InvalidState);
        }
        // An empty stored password, or the keys of one, is no secret: it would let the empty
        // key authenticate, so it fails like an unknown user. (CRAM-MD5 keys HMAC with the
        // password's bytes as they are; RFC 2195 has no SASLprep.) The work up to the verdict is the same for a
        // known and an unknown user under the configured storage (see `SecretStorage`).
        let (keys, known) = match answer {
            Answer::Password(p) => (CramMd5Keys::from_password(p), !p.is_empty()),
            Answer::CramMd5Keys(k) => (k.clone(), *k != CramMd5Keys::EMPTY_PASSWORD),
            Answer::UnknownUser | Answer::Reject => match self.storage {
                SecretStorage::Plaintext => (CramMd5Keys::from_password(DUMMY_PASSWORD), false),
                SecretStorage::Keys => (CramMd5Keys::EMPTY_PASSWORD, false),
            },
            _ => return Err(Error::WrongAnswer),
        };
        let challenge = self
            .buf
            .as_slice()
            .get(..self.username.start())
            .ok_or(Error::InvalidState)?;
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

    fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        if self.state != State::WantSecret {
            return None;
        }
        Some(Request::Secret(SecretRequest {
            mechanism,
            authcid: self.username_str()?,
        }))
    }

    fn identity(&self) -> Option<Identity<'_>> {
        if self.state != State::Verified {
            return None;
        }
        Some(Identity {
            authcid: self.username_str()?,
            authzid: None,
        })
    }

    fn wipe(&mut self) {
        self.buf = SecretBuf::new();
        self.username = Span::default();
        self.digest.zeroize();
        self.state = State::Start;
    }

    fn needs_authorization(&self) -> bool {
        // No authzid in this mechanism: answered without building the identity.
        false
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
}

impl ClientMechanism for Client {
    fn start(&mut self) -> Option<&[u8]> {
        None
    }

    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        if self.sent || challenge.is_empty() {
            return Err(Failure::Malformed);
        }
        let mut mac = self.keys.mac(challenge);
        let mut hex = [0u8; 32];
        hex::encode(&mac, &mut hex);
        self.response.vec_mut().truncate(self.prefix);
        self.response.extend(&hex);
        mac.zeroize();
        hex.zeroize();
        self.sent = true;
        Ok(self.response.as_slice())
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        finish_without_data(self.sent, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};

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
}
