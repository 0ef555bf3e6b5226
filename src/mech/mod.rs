//! The mechanisms, one file each, and the plumbing that dispatches to them.
//!
//! Each mechanism file holds a `Server` and a `Client`. The server side is driven by
//! [`crate::ServerSession`], which has already enforced the size and round-trip limits and the
//! session's own state; a mechanism sees only well-ordered calls:
//!
//! * `start(config, out, initial_response)` once, then `step(config, out, response)` after
//!   each challenge, and `answer(out, answer)` after each request;
//! * each returns a [`Next`]: a challenge (written to `out`, which the mechanism owns between
//!   calls), a request (described by `request()`), success (identity from `identity()`,
//!   optional success data in `out`), or a failure.
//!
//! The client side produces its responses from its own buffers.

use std::sync::Arc;

use crate::error::{Error, Failure};
use crate::mechanism::Mechanism;
use crate::secret::SecretBuf;
use crate::server::{Answer, Identity, Request, ServerConfig, Transport};

pub mod anonymous;
pub mod cram_md5;
pub mod external;
pub mod login;
pub(crate) mod oauth;
pub mod oauthbearer;
pub mod plain;
pub mod scram;
pub mod xoauth2;

/// Counts hash compressions (SHA-1, SHA-256, MD5 blocks) on this thread, so unit tests can
/// show that the work after an answer does not depend on whether the user exists. Compiled
/// to nothing outside `cfg(test)`.
#[inline(always)]
pub(crate) fn count_compressions(_n: u64) {
    #[cfg(test)]
    work::COMPRESSIONS.with(|c| c.set(c.get().saturating_add(_n)));
}

#[cfg(test)]
mod same_work_tests;

#[cfg(test)]
pub(crate) mod work {
    use std::cell::Cell;

    thread_local! {
        pub(crate) static COMPRESSIONS: Cell<u64> = const { Cell::new(0) };
    }

    /// The compressions counted on this thread since the last call.
    pub(crate) fn take() -> u64 {
        COMPRESSIONS.with(|c| c.replace(0))
    }
}

/// PLAIN's and LOGIN's verdict on the application's answer to `Request::VerifyPassword`:
/// the stored password is compared in constant time, byte for byte (the client never sends an
/// empty password, so an empty stored one never matches); an unknown user costs the same
/// comparison. Nothing here branches on the stored password's content (`tests/ct_valgrind.rs`).
pub(crate) fn verify_password(given: &[u8], answer: Answer<'_>) -> Result<bool, Error> {
    Ok(match answer {
        Answer::Accept => true,
        Answer::Reject | Answer::UnknownUser => {
            core::hint::black_box(crate::secret::ct_eq_password(
                given,
                b"saslmech-unknown-user",
            ));
            false
        }
        Answer::Password(stored) => crate::secret::ct_eq_password(given, stored),
        _ => return Err(Error::WrongAnswer),
    })
}

/// What a server mechanism produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send the challenge in `out`.
    Challenge,
    /// Send this constant challenge.
    StaticChallenge(&'static [u8]),
    /// Ask the application (see `request()`).
    Request,
    /// Authenticated, no success data.
    Success,
    /// Authenticated; `out` holds success data for the client (SCRAM's server-final message).
    SuccessData,
    /// Failed.
    Failure(Failure),
}

/// A byte range in a mechanism's buffer (kept instead of borrows, so sessions own everything).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The span of `part` inside `whole` (`part` must be a sub-slice of `whole`).
    pub(crate) fn of(whole: &[u8], part: &[u8]) -> Span {
        let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
        Span::at(start, part.len())
    }

    pub(crate) fn at(start: usize, len: usize) -> Span {
        let start = u32::try_from(start).unwrap_or(u32::MAX);
        Span {
            start,
            end: start.saturating_add(u32::try_from(len).unwrap_or(u32::MAX)),
        }
    }

    /// Where the span begins.
    pub(crate) fn start(self) -> usize {
        self.start as usize
    }

    pub(crate) fn bytes(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// The span as text. Spans are only made over input already checked to be UTF-8.
    pub(crate) fn str(self, buf: &[u8]) -> &str {
        core::str::from_utf8(self.bytes(buf)).unwrap_or_default()
    }

    /// The span of a string that is UTF-8 as a whole (no validation, only a boundary check).
    pub(crate) fn text(self, s: &str) -> &str {
        s.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// True if `bytes` contains `byte`.
pub(crate) fn has_byte(bytes: &[u8], byte: u8) -> bool {
    bytes.contains(&byte)
}

/// Check an identity (authcid, authzid, user name): non-empty, UTF-8, no NUL, not too long.
pub(crate) fn check_identity(bytes: &[u8], max: usize) -> Result<&str, Failure> {
    if has_byte(bytes, 0) {
        return Err(Failure::Malformed);
    }
    let s = core::str::from_utf8(bytes).map_err(|_| Failure::Malformed)?;
    check_identity_str(s, max)
}

/// [`check_identity`] for text already known to be UTF-8 and free of NUL.
pub(crate) fn check_identity_str(s: &str, max: usize) -> Result<&str, Failure> {
    if s.is_empty() {
        return Err(Failure::Malformed);
    }
    if s.len() > max {
        return Err(Failure::TooLarge);
    }
    Ok(s)
}

/// The lowercase hex digit for a nibble (`n < 16`), without a branch or table lookup on it:
/// digests are secret. `subtle`'s comparison and selection keep the optimizer from turning
/// the choice back into a branch (plain arithmetic became `cmp; jae` on the nibble, which
/// `tests/ct_valgrind.rs` caught).
pub(crate) fn hex_digit(n: u8) -> u8 {
    use subtle::{ConditionallySelectable, ConstantTimeGreater};
    let n = n & 15;
    u8::conditional_select(&(b'0' + n), &(b'a' - 10 + n), n.ct_gt(&9))
}

/// Lowercase hex of `bytes` into `out` (which must be twice as long; extra room is left as
/// it was). Eight digits at a time in a `u64` (SWAR), with no branch or table lookup on the
/// data, so it serves secret bytes too; a nibble `n` becomes `n + '0'`, plus 39 when it is
/// over 9 (`n + 6` carries into bit 4 exactly then, and no lane carries into the next).
pub(crate) fn hex_encode(bytes: &[u8], out: &mut [u8]) {
    for (o, chunk) in out.chunks_mut(8).zip(bytes.chunks(4)) {
        let mut x = 0u64;
        for (i, &b) in chunk.iter().enumerate() {
            x |= u64::from(b >> 4) << (16 * i) | u64::from(b & 15) << (16 * i + 8);
        }
        let over_nine = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
        let digits = (x + 0x3030_3030_3030_3030 + over_nine * 39).to_le_bytes();
        for (d, h) in o.iter_mut().zip(digits.iter().take(2 * chunk.len())) {
            *d = *h;
        }
    }
}

/// Decode lowercase hex (`hex` exactly twice as long as `out`, else `false`), eight digits
/// at a time in a `u64`: each lane is checked to be `0-9` or `a-f` with carries into its top
/// bit (lanes are ASCII, checked first, so no lane carries into the next), and the whole text
/// gives one verdict. `out` holds garbage when it returns `false`.
pub(crate) fn hex_decode(hex: &[u8], out: &mut [u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOP: u64 = 0x8080_8080_8080_8080;
    if hex.len() != 2 * out.len() {
        return false;
    }
    let mut valid = true;
    let mut chunks = hex.chunks_exact(8);
    let mut outs = out.chunks_exact_mut(4);
    for (c, o) in (&mut chunks).zip(&mut outs) {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        let x = u64::from_le_bytes(b);
        // Wrapping: a non-ASCII top lane may carry out of the word (the text is refused then).
        let at_least = |n: u8| x.wrapping_add(u64::from(0x80 - n) * ONES) & TOP;
        let digit = at_least(b'0') & !at_least(b'9' + 1);
        let alpha = at_least(b'a') & !at_least(b'f' + 1);
        valid &= (x & TOP == 0) & ((digit | alpha) == TOP);
        let nibbles = (x & 0x0f0f_0f0f_0f0f_0f0f) + (alpha >> 7) * 9;
        let pairs =
            ((nibbles & 0x00ff_00ff_00ff_00ff) << 4) | ((nibbles >> 8) & 0x00ff_00ff_00ff_00ff);
        for (d, p) in o.iter_mut().zip(pairs.to_le_bytes().iter().step_by(2)) {
            *d = *p;
        }
    }
    for (pair, d) in chunks
        .remainder()
        .chunks_exact(2)
        .zip(outs.into_remainder())
    {
        let (h, l) = match pair {
            [h, l] => (hex_value(*h), hex_value(*l)),
            _ => (None, None),
        };
        match (h, l) {
            (Some(h), Some(l)) => *d = h << 4 | l,
            _ => valid = false,
        }
    }
    valid
}

/// The value of a lowercase hex digit.
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Calls a method on whichever mechanism the enum holds.
macro_rules! dispatch {
    ($self:expr, $m:ident => $e:expr) => {
        match $self {
            Self::Plain($m) => $e,
            Self::Login($m) => $e,
            Self::CramMd5($m) => $e,
            Self::XOAuth2($m) => $e,
            Self::Scram($m) => $e,
            Self::OAuthBearer($m) => $e,
            Self::External($m) => $e,
            Self::Anonymous($m) => $e,
        }
    };
}

/// The server side of each mechanism.
#[derive(Debug)]
pub(crate) enum Server {
    Plain(plain::Server),
    Login(login::Server),
    CramMd5(cram_md5::Server),
    XOAuth2(xoauth2::Server),
    Scram(scram::Server),
    OAuthBearer(oauthbearer::Server),
    External(external::Server),
    Anonymous(anonymous::Server),
}

impl Server {
    pub(crate) fn new(
        mechanism: Mechanism,
        config: &Arc<ServerConfig>,
        transport: &Transport,
    ) -> Server {
        match mechanism {
            Mechanism::Plain => Server::Plain(plain::Server::default()),
            Mechanism::Login => Server::Login(login::Server::default()),
            Mechanism::CramMd5 => Server::CramMd5(cram_md5::Server::default()),
            Mechanism::XOAuth2 => Server::XOAuth2(xoauth2::Server::default()),
            Mechanism::ScramSha1
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha256
            | Mechanism::ScramSha256Plus => {
                Server::Scram(scram::Server::new(mechanism, config, transport))
            }
            Mechanism::OAuthBearer => Server::OAuthBearer(oauthbearer::Server::default()),
            Mechanism::External => Server::External(external::Server::new(transport)),
            Mechanism::Anonymous => Server::Anonymous(anonymous::Server::default()),
        }
    }

    pub(crate) fn start(
        &mut self,
        c: &ServerConfig,
        out: &mut SecretBuf,
        ir: Option<&[u8]>,
    ) -> Next {
        dispatch!(self, m => m.start(c, out, ir))
    }

    pub(crate) fn step(&mut self, c: &ServerConfig, out: &mut SecretBuf, input: &[u8]) -> Next {
        dispatch!(self, m => m.step(c, out, input))
    }

    pub(crate) fn answer(
        &mut self,
        out: &mut SecretBuf,
        answer: Answer<'_>,
    ) -> Result<Next, Error> {
        dispatch!(self, m => m.answer(out, answer))
    }

    pub(crate) fn request(&self, mechanism: Mechanism) -> Option<Request<'_>> {
        dispatch!(self, m => m.request(mechanism))
    }

    pub(crate) fn identity(&self) -> Option<Identity<'_>> {
        dispatch!(self, m => m.identity())
    }

    /// After success: the client asked to act as someone else, which the application must
    /// authorize. LOGIN and CRAM-MD5 carry no authzid (answered without building the
    /// identity).
    pub(crate) fn needs_authorization(&self) -> bool {
        match self {
            Server::Login(_) | Server::CramMd5(_) => false,
            _ => self.identity().is_some_and(|id| id.needs_authorization()),
        }
    }

    /// Forget everything received (after a failure).
    pub(crate) fn wipe(&mut self) {
        dispatch!(self, m => m.wipe())
    }

    /// ANONYMOUS's trace, after success.
    pub(crate) fn anonymous_trace(&self) -> Option<&str> {
        match self {
            Server::Anonymous(m) => m.trace(),
            _ => None,
        }
    }
}

/// The client side of each mechanism.
#[derive(Debug)]
pub(crate) enum Client {
    Plain(plain::Client),
    Login(login::Client),
    CramMd5(cram_md5::Client),
    XOAuth2(xoauth2::Client),
    Scram(scram::Client),
    OAuthBearer(oauthbearer::Client),
    External(external::Client),
    Anonymous(anonymous::Client),
}

impl Client {
    #[inline]
    pub(crate) fn new(
        mechanism: Mechanism,
        creds: &crate::Credentials<'_>,
        config: &crate::ClientConfig,
    ) -> Result<Client, Error> {
        Ok(match mechanism {
            Mechanism::Plain => Client::Plain(plain::Client::new(creds)?),
            Mechanism::Login => Client::Login(login::Client::new(creds)?),
            Mechanism::CramMd5 => Client::CramMd5(cram_md5::Client::new(creds)?),
            Mechanism::XOAuth2 => Client::XOAuth2(xoauth2::Client::new(creds)?),
            Mechanism::ScramSha1
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha256
            | Mechanism::ScramSha256Plus => {
                Client::Scram(scram::Client::new(mechanism, creds, config)?)
            }
            Mechanism::OAuthBearer => Client::OAuthBearer(oauthbearer::Client::new(creds)?),
            Mechanism::External => Client::External(external::Client::new(creds)?),
            Mechanism::Anonymous => Client::Anonymous(anonymous::Client::new(creds)?),
        })
    }

    pub(crate) fn start(&mut self) -> Option<&[u8]> {
        dispatch!(self, m => m.start())
    }

    pub(crate) fn step(&mut self, challenge: &[u8]) -> Result<&[u8], Failure> {
        dispatch!(self, m => m.step(challenge))
    }

    pub(crate) fn finish(&mut self, data: Option<&[u8]>) -> Result<(), Failure> {
        dispatch!(self, m => m.finish(data))
    }

    pub(crate) fn scram_cache(&self) -> Option<&scram::ScramClientCache> {
        match self {
            Client::Scram(m) => m.cache(),
            _ => None,
        }
    }

    pub(crate) fn oauth_error(&self) -> Option<&oauth::OAuthError> {
        match self {
            Client::XOAuth2(m) => m.error(),
            Client::OAuthBearer(m) => m.error(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_encode_and_decode_agree_with_the_plain_ones() {
        let all: Vec<u8> = (0..=255u8).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        let mut text = vec![0u8; 512];
        hex_encode(&all, &mut text);
        assert_eq!(text, expected.as_bytes());
        let mut back = vec![0u8; 256];
        assert!(hex_decode(&text, &mut back));
        assert_eq!(back, all);
        // Every length up to 19 bytes (SWAR chunks and the remainder), encoding leaving the
        // rest of `out` alone.
        for n in 0..20 {
            let mut out = vec![b'?'; 2 * n + 1];
            hex_encode(&all[200..200 + n], &mut out);
            assert_eq!(&out[..2 * n], &expected.as_bytes()[400..400 + 2 * n], "{n}");
            assert_eq!(out[2 * n], b'?', "{n}");
            let mut back = vec![0u8; n];
            assert!(hex_decode(&out[..2 * n], &mut back), "{n}");
            assert_eq!(back, &all[200..200 + n], "{n}");
        }
        // Wrong lengths.
        assert!(!hex_decode(b"abc", &mut [0u8; 1]));
        assert!(!hex_decode(b"ab", &mut [0u8; 2]));
    }

    #[test]
    fn hex_decode_refuses_every_non_lowercase_digit_in_every_position() {
        // 32 digits (four SWAR words, as CRAM-MD5 has) and 34 (with a remainder pair).
        for len in [32usize, 34] {
            for pos in 0..len {
                for c in 0..=255u8 {
                    let mut text = vec![b'7'; len];
                    text[pos] = c;
                    let mut out = vec![0u8; len / 2];
                    let ok = hex_decode(&text, &mut out);
                    assert_eq!(
                        ok,
                        hex_value(c).is_some(),
                        "len {len} pos {pos} byte {c:#x}"
                    );
                    if ok {
                        let v = hex_value(c).unwrap();
                        let expect = if pos % 2 == 0 { v << 4 | 7 } else { 0x70 | v };
                        assert_eq!(out[pos / 2], expect, "len {len} pos {pos} byte {c:#x}");
                    }
                }
            }
        }
    }
}
