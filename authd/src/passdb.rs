//! The passwd-file, in Dovecot's format, loaded whole into memory.
//!
//! Each line is `user:password:uid:gid:gecos:home:shell:extra_fields`; only the first two
//! fields are required. `#` starts a comment line; empty lines are skipped. The password is
//! `{SCHEME}secret`, or a secret of the configured default scheme.
//!
//! Extra fields (the 8th field, space-separated `key=value` or `key`) honoured as Dovecot's
//! passdb does:
//! * `nologin`: the user may not log in (the login fails like a wrong password; logged).
//! * `allow_nets=NET,NET,...`: the login fails unless the client's address (`rip=`) is in one
//!   of these networks (`10.0.0.0/8`, `::1`, ...); a request without `rip=` is refused too.
//!
//! All other extra fields (`nopassword`, `proxy`, `user=`, userdb fields) are ignored: in
//! particular `nopassword` never makes a password optional. uid, gid, gecos, home and shell
//! are userdb data and are ignored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use crate::scheme::{BadSecret, Scheme, Secret};

/// One user's entry.
#[derive(Debug)]
pub struct Entry {
    /// The scheme the secret was stored in.
    pub scheme: Scheme,
    /// The parsed secret.
    pub secret: Secret,
    /// `nologin` extra field.
    pub nologin: bool,
    /// `allow_nets=` extra field, if present.
    pub allow_nets: Option<Vec<Net>>,
}

impl Entry {
    /// True if a login from `rip` is allowed by `nologin` and `allow_nets`.
    pub fn allowed_from(&self, rip: Option<IpAddr>) -> bool {
        if self.nologin {
            return false;
        }
        match (&self.allow_nets, rip) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(nets), Some(ip)) => nets.iter().any(|n| n.contains(ip)),
        }
    }
}

/// A network of `allow_nets=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parse `ADDR` or `ADDR/PREFIX`.
    pub fn parse(text: &str) -> Option<Net> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = text.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Net { addr, prefix })
    }

    /// True if `ip` is inside this network (IPv4-mapped IPv6 addresses match IPv4 nets).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Split `{SCHEME}secret` (or a bare secret of `default`) and parse it.
pub fn parse_secret(field: &str, default: Scheme) -> Result<(Scheme, Secret), BadSecret> {
    let (scheme, body) = match field.strip_prefix('{').and_then(|r| r.split_once('}')) {
        Some((name, body)) => (
            Scheme::from_name(name).ok_or(BadSecret("unknown scheme"))?,
            body,
        ),
        None => (default, field),
    };
    Ok((scheme, Secret::parse(scheme, body)?))
}

/// A problem with one line of the file (never quotes the secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

/// The loaded passwd-file.
#[derive(Debug, Default)]
pub struct PassDb {
    users: HashMap<String, Entry>,
    /// A user whose secret is slow to check: a password for an unknown user is checked
    /// against it too (and the result thrown away), so that unknown users cost the time a
    /// real one does and the reply's timing does not tell which names exist.
    decoy: Option<String>,
}

impl PassDb {
    /// Parse the file's text. Lines that cannot be used are left out and reported (the
    /// users of those lines cannot log in); a later line for the same user replaces nothing:
    /// the first one wins, as in Dovecot.
    pub fn parse(text: &str, default: Scheme) -> (PassDb, Vec<LineError>) {
        let mut users = HashMap::new();
        let mut errors = Vec::new();
        let mut decoy = None;
        for (n, line) in text.lines().enumerate() {
            let line_no = n.saturating_add(1);
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.splitn(8, ':');
            let user = fields.next().unwrap_or_default();
            let Some(password) = fields.next() else {
                errors.push(LineError {
                    line: line_no,
                    what: "no password field".into(),
                });
                continue;
            };
            if user.is_empty() || !crate::protocol::is_safe_value(user) {
                errors.push(LineError {
                    line: line_no,
                    what: "empty or unusable user name".into(),
                });
                continue;
            }
            // uid, gid, gecos, home, shell: userdb data, ignored.
            let extra = fields.nth(5).unwrap_or_default();
            if password.is_empty() {
                errors.push(LineError {
                    line: line_no,
                    what: format!("user {user}: empty password (the user cannot log in)"),
                });
                continue;
            }
            let (scheme, secret) = match parse_secret(password, default) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(LineError {
                        line: line_no,
                        what: format!("user {user}: {e}"),
                    });
                    continue;
                }
            };
            let mut entry = Entry {
                scheme,
                secret,
                nologin: false,
                allow_nets: None,
            };
            let mut bad_net = false;
            for field in extra.split(' ').filter(|f| !f.is_empty()) {
                let (key, value) = field.split_once('=').unwrap_or((field, ""));
                match key {
                    "nologin" => entry.nologin = true,
                    "allow_nets" => {
                        let nets: Option<Vec<Net>> = value.split(',').map(Net::parse).collect();
                        match nets {
                            Some(n) => entry.allow_nets = Some(n),
                            None => bad_net = true,
                        }
                    }
                    _ => {}
                }
            }
            if bad_net {
                errors.push(LineError {
                    line: line_no,
                    what: format!("user {user}: bad allow_nets"),
                });
                continue;
            }
            if decoy.is_none() && entry.secret.is_slow() {
                decoy = Some(user.to_owned());
            }
            users.entry(user.to_owned()).or_insert(entry);
        }
        (PassDb { users, decoy }, errors)
    }

    /// Read and parse the file at `path`.
    pub fn load(path: &Path, default: Scheme) -> std::io::Result<(PassDb, Vec<LineError>)> {
        let text = std::fs::read_to_string(path)?;
        Ok(PassDb::parse(&text, default))
    }

    /// The entry of `user`, if any (exact match).
    pub fn get(&self, user: &str) -> Option<&Entry> {
        self.users.get(user)
    }

    /// The entry whose slow check stands in for an unknown user's (see the field's docs).
    pub fn decoy(&self) -> Option<&Entry> {
        self.decoy.as_deref().and_then(|u| self.users.get(u))
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True if the file has no usable user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dovecot_lines() {
        let text = "# comment\n\
            tim:{PLAIN}tanstaaftanstaaf:1000:1000::/home/tim::\n\
            bare:secret\n\
            nl:{PLAIN}x::::::nologin\n\
            nets:{PLAIN}x:::::: allow_nets=10.0.0.0/8,::1 userdb_quota=1G\n\
            bad:{NOPE}x\n\
            empty:\n\
            \n\
            tim:{PLAIN}second\n\
            colon:{PLAIN}a:b\n";
        let (db, errors) = PassDb::parse(text, Scheme::Plain);
        assert_eq!(db.len(), 5);
        assert!(db.get("tim").unwrap().secret.verify(b"tanstaaftanstaaf"));
        assert!(!db.get("tim").unwrap().secret.verify(b"second"));
        assert!(db.get("bare").unwrap().secret.verify(b"secret"));
        // The password field ends at the first ':'.
        assert!(db.get("colon").unwrap().secret.verify(b"a"));
        assert!(!db.get("nl").unwrap().allowed_from(None));
        let nets = db.get("nets").unwrap();
        assert!(nets.allowed_from(Some("10.1.2.3".parse().unwrap())));
        assert!(nets.allowed_from(Some("::ffff:10.1.2.3".parse().unwrap())));
        assert!(nets.allowed_from(Some("::1".parse().unwrap())));
        assert!(!nets.allowed_from(Some("11.1.2.3".parse().unwrap())));
        assert!(!nets.allowed_from(None));
        assert!(db.get("tim").unwrap().allowed_from(None));
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [6, 7],
            "{errors:?}"
        );
        // Errors never quote the secret.
        assert!(errors.iter().all(|e| !e.to_string().contains("{NOPE}x")));
    }

    #[test]
    fn decoy_is_the_first_slow_entry() {
        let (db, _) = PassDb::parse(
            "a:{PLAIN}x\nb:{SSHA}pF7Xxi5cm+14N/JpWzXtkGtaFf+5eP5u\n",
            Scheme::Plain,
        );
        assert!(db.decoy().is_none());
        let text = "a:{PLAIN}x\nb:{SHA256-CRYPT}$5$IBWTclSubFl3wsjv$LeJC/7a5YeYy4nXwbPJ8BEX9kw/UdcR2KkPbLfRguF9\n\
                    c:{SHA512-CRYPT}$6$zc8/P.uafgJYSIvr$4A7E0l3UvzXJBsbllaXdcpz/jW2V6pskIj77yCRy9zqnkX6MIeC3yZf1VlbGYOQdXUB6NrHnhN3bNCgG.FAVx1\n";
        let (db, errors) = PassDb::parse(text, Scheme::Plain);
        assert!(errors.is_empty(), "{errors:?}");
        let decoy = db.decoy().unwrap();
        assert_eq!(decoy.scheme, Scheme::Sha256Crypt);
        assert!(decoy.secret.verify(b"pencil"));
    }

    #[test]
    fn nets() {
        assert!(
            Net::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(Net::parse("1.2.3.4/33").is_none());
        assert!(Net::parse("nope").is_none());
        assert!(
            !Net::parse("::1")
                .unwrap()
                .contains("127.0.0.1".parse().unwrap())
        );
    }
}
