//! One login on one connection, without I/O: a driver writes what [`Login::start`] and
//! [`Login::on_line`] put in `out`, and feeds every line the daemon sends back to `on_line`
//! until it returns an [`Outcome`]. Both drivers (a thread per connection, or event loops) use
//! it, so they put the same bytes on the wire.

use std::io::Write;

use saslmech::{ClientSession, Credentials, Mechanism, ScramClientCache};

/// The mechanisms the load generator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mech {
    /// One round: `AUTH … resp=`, then `OK`.
    Plain,
    /// Three rounds: client-first, client-final, then the empty answer to the server-final.
    ScramSha256,
}

impl Mech {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mech::Plain => "PLAIN",
            Mech::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    fn mechanism(self) -> Mechanism {
        match self {
            Mech::Plain => Mechanism::Plain,
            Mech::ScramSha256 => Mechanism::ScramSha256,
        }
    }
}

/// How a login ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    /// `OK` (and, for SCRAM, the server-final message verified).
    Ok,
    /// `FAIL`.
    Fail,
}

/// What every login of a run shares.
#[derive(Debug)]
pub struct Plan {
    mech: Mech,
    user: String,
    pass: String,
    /// `service=smtp\t…` as Postfix sends them, built once.
    params: String,
}

impl Plan {
    /// Logins as `user`/`pass` with `mech`; `no_penalty` adds Dovecot's `no-penalty`.
    pub fn new(mech: Mech, user: &str, pass: &str, no_penalty: bool) -> Plan {
        Plan {
            mech,
            user: user.to_owned(),
            pass: pass.to_owned(),
            params: format!(
                "service=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured{}",
                if no_penalty { "\tno-penalty" } else { "" }
            ),
        }
    }
}

/// One login in flight.
pub struct Login {
    id: u32,
    client: ClientSession,
    conts: u32,
}

impl Login {
    /// Begin login `id`: the `AUTH` line goes to `out`. With `cache` (from an earlier SCRAM
    /// login on this connection) the client skips PBKDF2; the server does its full work.
    pub fn start(
        plan: &Plan,
        id: u32,
        cache: Option<&ScramClientCache>,
        out: &mut Vec<u8>,
    ) -> Result<Login, String> {
        let mut creds = Credentials::new()
            .authcid(&plan.user)
            .password(plan.pass.as_bytes());
        if let Some(k) = cache {
            creds = creds.scram_cache(k);
        }
        let mut client = ClientSession::new(plan.mech.mechanism(), &creds)
            .map_err(|e| format!("client: {e:?}"))?;
        let _ = write!(out, "AUTH\t{id}\t{}\t{}", plan.mech.name(), plan.params);
        if let Some(ir) = client
            .start_b64()
            .map_err(|e| format!("client start: {e:?}"))?
        {
            out.extend_from_slice(b"\tresp=");
            out.extend_from_slice(ir);
        }
        out.push(b'\n');
        Ok(Login {
            id,
            client,
            conts: 0,
        })
    }

    /// One line from the daemon (without its LF). `Some` when the login is over; otherwise the
    /// answer, if any, is in `out`. A SCRAM login that succeeds leaves its cache in `cache`.
    pub fn on_line(
        &mut self,
        line: &[u8],
        out: &mut Vec<u8>,
        cache: &mut Option<ScramClientCache>,
    ) -> Result<Option<Outcome>, String> {
        let mut f = line.split(|&b| b == b'\t');
        let kind = f.next().unwrap_or_default();
        let rid = f
            .next()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<u32>().ok());
        if rid != Some(self.id) {
            return Err(format!(
                "reply for another request: {:?}",
                String::from_utf8_lossy(line)
            ));
        }
        match kind {
            b"OK" => {
                if !self.client.is_finished() {
                    let resp = f
                        .find_map(|p| p.strip_prefix(b"resp="))
                        .map(saslmech::b64::decode);
                    match resp {
                        Some(Ok(d)) => self.client.finish(Some(d.as_slice())),
                        Some(Err(_)) => return Err("bad base64 in OK resp=".into()),
                        None => self.client.finish(None),
                    }
                    .map_err(|e| format!("the server's OK did not verify: {e:?}"))?;
                }
                if cache.is_none() {
                    *cache = self.client.scram_cache().cloned();
                }
                Ok(Some(Outcome::Ok))
            }
            b"FAIL" => Ok(Some(Outcome::Fail)),
            b"CONT" => {
                let data = f.next().unwrap_or_default();
                self.conts += 1;
                let _ = write!(out, "CONT\t{}\t", self.id);
                if self.client.mechanism() == Mechanism::ScramSha256 && self.conts == 2 {
                    // The server-final message travels in a CONT (Postfix relays it as a 334);
                    // the client verifies it and answers empty.
                    let d = saslmech::b64::decode(data).map_err(|_| "bad base64 in CONT")?;
                    self.client
                        .finish(Some(d.as_slice()))
                        .map_err(|e| format!("server-final: {e:?}"))?;
                } else if self.conts > 8 {
                    return Err("more than 8 rounds".into());
                } else {
                    let r = self
                        .client
                        .step_b64(data)
                        .map_err(|e| format!("client step: {e:?}"))?;
                    out.extend_from_slice(r);
                }
                out.push(b'\n');
                Ok(None)
            }
            _ => Err(format!(
                "unexpected line {:?}",
                String::from_utf8_lossy(line)
            )),
        }
    }
}

/// Lines from a byte stream: bytes go in with [`LineBuf::fill`], whole lines come out of
/// [`LineBuf::next_line`] (without the LF). Holds at most `MAX` bytes of one unfinished line.
#[derive(Default)]
pub struct LineBuf {
    buf: Vec<u8>,
    start: usize,
}

/// The longest line accepted from a daemon.
const MAX: usize = 64 * 1024;

impl LineBuf {
    /// Read once from `r` into the buffer; `Ok(0)` is end of file.
    pub fn fill(&mut self, r: &mut impl std::io::Read) -> std::io::Result<usize> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        if self.buf.len() >= MAX {
            return Err(std::io::Error::other("line too long"));
        }
        let mut chunk = [0u8; 4096];
        let n = r.read(&mut chunk)?;
        self.buf
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(n)
    }

    /// The next whole line, if one is buffered.
    pub fn next_line(&mut self) -> Option<&[u8]> {
        let rest = self.buf.get(self.start..)?;
        let pos = rest.iter().position(|&b| b == b'\n')?;
        let line = rest.get(..pos)?;
        self.start += pos + 1;
        Some(line)
    }

    /// No unread bytes.
    pub fn is_empty(&self) -> bool {
        self.start >= self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_login_lines() {
        let plan = Plan::new(Mech::Plain, "u", "p", false);
        let mut out = Vec::new();
        let mut l = Login::start(&plan, 7, None, &mut out).unwrap();
        assert_eq!(
            out,
            b"AUTH\t7\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp=AHUAcA==\n"
        );
        out.clear();
        let mut cache = None;
        assert!(l.on_line(b"OK\t8\tuser=u", &mut out, &mut cache).is_err());
        assert_eq!(
            l.on_line(b"OK\t7\tuser=u", &mut out, &mut cache),
            Ok(Some(Outcome::Ok))
        );
        assert!(out.is_empty());
    }

    #[test]
    fn line_buffer_splits_and_keeps_partial_lines() {
        let mut lb = LineBuf::default();
        let mut src: &[u8] = b"A\tb\nC";
        assert_eq!(lb.fill(&mut src).unwrap(), 5);
        assert_eq!(lb.next_line(), Some(&b"A\tb"[..]));
        assert_eq!(lb.next_line(), None);
        assert!(!lb.is_empty());
        let mut src: &[u8] = b"D\n";
        lb.fill(&mut src).unwrap();
        assert_eq!(lb.next_line(), Some(&b"CD"[..]));
        assert!(lb.is_empty());
    }
}
