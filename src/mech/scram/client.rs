//! The client side of the SCRAM family.

use core::fmt;

use super::grammar::{
    escaped_len, is_extension, is_printable, next_attr, nonce_len, parse_posit, push_nonce,
    push_saslname,
};
use crate::b64;
use crate::config::ClientConfig;
use crate::credentials::Credentials;
use crate::crypto::Output;
use crate::error::{Error, Failure};
use crate::keys::{Salt, ScramClientCache, ScramHash, prepare_password};
use crate::mech::{ClientMechanism, Span};
use crate::mechanism::Mechanism;
use crate::saslprep::{self, Mode};
use crate::secret::{SecretBuf, ct_eq};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientState {
    Start,
    SentFirst,
    SentFinal,
    Verified,
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
    server_signature: Output,
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
        let cache = creds.scram_cache.filter(|c| c.hash() == hash).cloned();
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
            Some(cb) if mechanism.channel_binding() => (cb.kind().name().as_bytes(), cb.data()),
            None if mechanism.channel_binding() => {
                return Err(Error::InvalidArgument(
                    "a -PLUS mechanism needs channel-binding data in the ClientConfig",
                ));
            }
            Some(_) => (b"y", b""),
            None => (b"n", b""),
        };
        let nonce = config.nonce.client_nonce().map_err(Error::Failed)?;
        // Size the buffer once: client-first, `c=`, and the larger of the password and the
        // rest of client-final (`,r=` nonce `,p=` proof).
        let header_len = 2 + flag.len() + creds.authzid.map_or(0, |z| 2 + escaped_len(z)) + 2;
        let nonce_len = nonce_len(&nonce);
        let first_len = header_len + 5 + escaped_len(&user) + nonce_len;
        let c_len = 2 + b64::encoded_len(header_len + cb_data.len());
        let rest_len = 6 + nonce_len + SERVER_NONCE_ROOM + b64::encoded_len(hash.output_len());
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
            server_signature: Output::default(),
            min_iterations: config.min_iterations,
            max_iterations: config.max_iterations,
            cache,
        })
    }

    /// Client-first: the buffer up to `final_at`, which `new` set within it.
    fn first(&self) -> &[u8] {
        let buf = self.buf.as_slice();
        let (first, _) = buf.split_at((self.final_at as usize).min(buf.len()));
        first
    }

    /// Client-final, from `final_at` on.
    fn last(&self) -> &[u8] {
        let buf = self.buf.as_slice();
        let (_, last) = buf.split_at((self.final_at as usize).min(buf.len()));
        last
    }

    /// The password, until server-first has been answered (empty with cached keys).
    fn password(&self) -> &[u8] {
        let buf = self.buf.as_slice();
        let (_, password) = buf.split_at((self.c_end as usize).min(buf.len()));
        password
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
        let client_nonce = self
            .nonce
            .bytes(self.buf.as_slice())
            .ok_or(Failure::Malformed)?;
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
                let salted =
                    crate::crypto::pbkdf2(hash.sha(), self.password(), salt.as_slice(), iterations);
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
            .ok_or(Failure::Malformed)?;
        let without_proof = buf
            .get(self.final_at as usize..)
            .ok_or(Failure::Malformed)?;
        let am: [&[u8]; 5] = [bare, b",", msg, b",", without_proof];
        let client_signature = keys.stored_mac.mac(&am);
        self.server_signature = keys.server_mac.mac(&am);
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
        let mut v_buf = [0u8; 64];
        let v = match b64::decode_to(v, &mut v_buf) {
            Ok(n) => v_buf.get(..n).ok_or(Failure::ServerAuthentication)?,
            Err(_) => return Err(Failure::ServerAuthentication),
        };
        if !ct_eq(v, self.server_signature.as_slice())
            || self.server_signature.as_slice().is_empty()
        {
            return Err(Failure::ServerAuthentication);
        }
        Ok(())
    }
}

impl ClientMechanism for Client {
    fn start(&mut self) -> Option<&[u8]> {
        self.state = ClientState::SentFirst;
        Some(self.first())
    }

    fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
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
                Ok(self.last())
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

    /// The keys to cache, once the server's salt and iteration count are known.
    fn scram_cache(&self) -> Option<&ScramClientCache> {
        match self.state {
            // Only keys the server proved it shares are worth keeping.
            ClientState::Verified => self.cache.as_ref(),
            _ => None,
        }
    }

    fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
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
