//! The server side of the SCRAM family.

use core::fmt;
use std::sync::Arc;

use zeroize::Zeroize;

use super::channel_binding::{CbFlag, cb_index};
use super::grammar::{
    is_extension, is_printable, next_attr, nonce_len, push_nonce, push_unescaped, saslname_len,
};
use crate::b64;
use crate::config::{SecretStorage, ServerConfig, Transport};
use crate::crypto::{self, Output};
use crate::error::{Error, Failure};
use crate::keys::{DUMMY_PASSWORD, Salt, ScramHash, ScramKeys, keys_from_salted, prepare_password};
use crate::mech::{Next, ServerMechanism, Span};
use crate::mechanism::Mechanism;
use crate::request::{Answer, Identity, Request, SecretRequest};
use crate::saslprep::Mode;
use crate::secret::{SecretBuf, ct_eq};

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
/// client-first, and so do StoredKey and ServerKey once the application has answered (after
/// the parts, room reserved for them), which keeps the session value small whatever the
/// hash; server-first stays in the session's output buffer until client-final arrives (the
/// AuthMessage needs it).
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
            Mechanism::ScramSha512 | Mechanism::ScramSha512Plus => Mechanism::ScramSha512Plus,
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
        }
    }

    /// A part of the buffer (`None` only if `ends` does not describe `buf`, which
    /// `parse_first` rules out).
    fn part(&self, part: Part) -> Option<&[u8]> {
        let i = part as usize;
        let start = i.checked_sub(1).and_then(|p| self.ends.get(p)).copied();
        let end = self.ends.get(i).copied().unwrap_or(0);
        Span::at(
            start.unwrap_or(0) as usize,
            end.saturating_sub(start.unwrap_or(0)) as usize,
        )
        .bytes(self.buf.as_slice())
    }

    /// Where StoredKey and ServerKey go in the buffer: after the last part.
    fn keys_at(&self) -> usize {
        self.ends.get(Part::Authzid as usize).copied().unwrap_or(0) as usize
    }

    /// Keep StoredKey and ServerKey after the parts (in the room `parse_first` reserved),
    /// replacing any kept before.
    fn put_keys(&mut self, stored_key: &Output, server_key: &Output) {
        self.drop_keys();
        self.buf.extend(stored_key.as_slice());
        self.buf.extend(server_key.as_slice());
    }

    /// Wipe StoredKey and ServerKey from the buffer.
    fn drop_keys(&mut self) {
        let at = self.keys_at();
        self.buf.truncate(at);
    }

    /// StoredKey and ServerKey, if the application's answer put them there.
    fn keys(&self) -> Option<(&[u8], &[u8])> {
        let n = self.hash.output_len();
        let keys = self.buf.as_slice().get(self.keys_at()..)?;
        (keys.len() == 2 * n).then(|| keys.split_at(n))
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
        let flag = CbFlag::parse(flag)?;
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
        // `bare` is a suffix of `msg`: the header is what precedes it.
        let header = msg
            .len()
            .checked_sub(bare.len())
            .and_then(|n| msg.get(..n))
            .ok_or(Failure::Malformed)?;
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
                .and_then(|s| s.bytes(self.buf.as_slice()))
                .ok_or(Failure::ChannelBinding)?,
        };
        // One buffer for all of it, sized from the message (the names unescape shorter).
        let server_nonce = c.nonce()?;
        let mut buf = SecretBuf::with_capacity(
            binding.len()
                + msg.len()
                + nonce_len(&server_nonce)
                + user.len()
                + authzid.len()
                + 2 * self.hash.output_len(),
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
                break (msg.get(..cut).ok_or(Failure::Malformed)?, p);
            }
            if !is_extension(attr) {
                return Err(Failure::Malformed);
            }
            rest = more.ok_or(Failure::Malformed)?;
        };
        let hash = self.hash;
        let mut proof_buf = [0u8; 64];
        let proof = match b64::decode_to(proof, &mut proof_buf) {
            Ok(n) if n == hash.output_len() => proof_buf.get(..n).ok_or(Failure::Malformed)?,
            _ => return Err(Failure::Malformed),
        };
        // `c=` must be the gs2 header and the channel-binding data, in base64.
        // The parts are in the buffer by construction (`parse_first`); `Malformed` otherwise.
        let part = |p: Part| self.part(p).ok_or(Failure::Malformed);
        let cbind_ok = b64::decode_matches(cbind, &[part(Part::Header)?, part(Part::Binding)?])
            .map_err(|_| Failure::Malformed)?;
        let client_nonce = self
            .client_nonce
            .bytes(self.buf.as_slice())
            .ok_or(Failure::Malformed)?;
        let server_nonce = part(Part::ServerNonce)?;
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
        let am: [&[u8]; 5] = [part(Part::Bare)?, b",", out.as_slice(), b",", without_proof];
        let (stored_key, server_key) = self.keys().ok_or(Failure::Malformed)?;
        let client_signature = crypto::hmac(hash.sha(), stored_key, &am);
        let client_key = client_signature.xor(proof);
        let ok = ct_eq(
            crypto::hash(hash.sha(), client_key.as_slice()).as_slice(),
            stored_key,
        ) & self.known;
        let server_signature = crypto::hmac(hash.sha(), server_key, &am);
        proof_buf.as_mut_slice().zeroize();
        self.drop_keys();
        if !ok {
            return Err(Failure::BadCredentials);
        }
        out.clear();
        out.extend(b"v=");
        b64::encode_into(server_signature.as_slice(), out);
        Ok(())
    }
}

impl ServerMechanism for Server {
    fn start(&mut self, c: &ServerConfig, out: &mut SecretBuf, ir: Option<&[u8]>) -> Next {
        match ir {
            Some(first) => self.receive_first(c, first),
            None => {
                out.clear();
                self.state = State::WantFirst;
                Next::StaticChallenge(b"")
            }
        }
    }

    fn step(&mut self, c: &ServerConfig, out: &mut SecretBuf, input: &[u8]) -> Next {
        match self.state {
            State::WantFirst => self.receive_first(c, input),
            State::WantFinal => self.receive_final(out, input),
            _ => Next::Failure(Failure::Malformed),
        }
    }

    fn answer(&mut self, out: &mut SecretBuf, answer: Answer<'_>) -> Result<Next, Error> {
        if self.state != State::WantSecret {
            return Err(Error::InvalidState);
        }
        let hash = self.hash;
        // A password answer or an unknown user gets the salt made from the server secret.
        let user = self.part(Part::User).ok_or(Error::InvalidState)?;
        let fake_salt = || {
            let fake = crypto::hmac(
                crypto::Sha::Sha256,
                self.config.scram_secret.as_slice(),
                &[
                    b"saslmech scram fake salt\0",
                    hash.name().as_bytes(),
                    b"\0",
                    user,
                ],
            );
            let (salt, _) = fake
                .as_slice()
                .split_at(ScramKeys::SALT_LEN.min(fake.as_slice().len()));
            Output::from(salt)
        };
        let iterations = self.config.scram_iterations_for(hash);
        // The work from here to server-first must not tell whether the user exists: every
        // path computes the fake salt, and an unknown user costs the same derivation as a
        // known one does under the configured storage (see `SecretStorage`).
        let salt = fake_salt();
        let (salt, iterations) = match answer {
            Answer::ScramKeys(k) if k.hash == hash => {
                self.put_keys(&k.stored_key, &k.server_key);
                self.known = true;
                (Salt::new(k.salt()), k.iterations())
            }
            Answer::ScramKeys(_) => return Err(Error::WrongAnswer),
            Answer::Password(p) => {
                let mut buf = SecretBuf::new();
                let prepared = prepare_password(p, Mode::Query, &mut buf);
                // An empty password, or one SASLprep maps to nothing, is no secret at all: it
                // fails like an unknown user, after the same derivation.
                self.known = prepared.as_ref().is_ok_and(|p| !p.is_empty());
                // A password SASLprep refuses is derived as the empty one: the same work.
                let prepared = match prepared {
                    Ok(p) => p,
                    Err(_) => &[],
                };
                let salted = crypto::pbkdf2(hash.sha(), prepared, salt.as_slice(), iterations);
                let [_, stored_key, server_key] = keys_from_salted(hash, &salted);
                self.put_keys(&stored_key, &server_key);
                (Salt::new(salt.as_slice()), iterations)
            }
            Answer::UnknownUser | Answer::Reject => {
                // Keys no proof can match (`known` is false).
                if self.config.secret_storage == SecretStorage::Plaintext {
                    let salted =
                        crypto::pbkdf2(hash.sha(), DUMMY_PASSWORD, salt.as_slice(), iterations);
                    let [_, stored_key, server_key] = keys_from_salted(hash, &salted);
                    self.put_keys(&stored_key, &server_key);
                } else {
                    let (key, _) = [0xa5u8; 64].split_at(hash.output_len().min(64));
                    let key = Output::from(key);
                    self.put_keys(&key, &key);
                }
                self.known = false;
                (Salt::new(salt.as_slice()), iterations)
            }
            _ => return Err(Error::WrongAnswer),
        };
        // server-first-message = nonce "," salt "," iteration-count
        let client_nonce = self
            .client_nonce
            .bytes(self.buf.as_slice())
            .ok_or(Error::InvalidState)?;
        let server_nonce = self.part(Part::ServerNonce).ok_or(Error::InvalidState)?;
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

    fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        if self.state != State::WantSecret {
            return None;
        }
        Some(Request::Secret(SecretRequest {
            mechanism,
            authcid: as_str(self.part(Part::User)?)?,
        }))
    }

    fn identity(&self) -> Option<Identity<'_>> {
        if self.state != State::Verified {
            return None;
        }
        let authzid = as_str(self.part(Part::Authzid)?)?;
        Some(Identity {
            authcid: as_str(self.part(Part::User)?)?,
            authzid: (!authzid.is_empty()).then_some(authzid),
        })
    }

    fn wipe(&mut self) {
        self.state = State::Start;
        self.buf.clear();
        self.bindings = 0;
        self.ends = [0; 6];
        self.client_nonce = Span::default();
        self.known = false;
    }
}

/// A part checked to be UTF-8 by `saslname_len` (`None` otherwise).
fn as_str(b: &[u8]) -> Option<&str> {
    core::str::from_utf8(b).ok()
}
