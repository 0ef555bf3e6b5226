//! Command-line arguments: `--flag VALUE` or `--flag=VALUE` (switches: `--flag`), each at
//! most once.

use std::ffi::OsString;
use std::path::PathBuf;

use saslmech::{Mechanism, SecretBuf};

use crate::mechs::{self, ChannelBinding};

/// What to do.
pub enum Command {
    Help,
    Version,
    Client(ClientArgs),
    Server(ServerArgs),
}

/// `saslmech client …`
pub struct ClientArgs {
    pub mechanism: Mechanism,
    pub authcid: Option<String>,
    pub authzid: Option<String>,
    pub password: Option<SecretBuf>,
    pub token: Option<SecretBuf>,
    pub trace: Option<String>,
    pub cb: Option<ChannelBinding>,
}

/// `saslmech server …`
pub struct ServerArgs {
    pub mechanism: Mechanism,
    /// `None` only for the mechanisms that need no accounts (EXTERNAL, ANONYMOUS).
    pub users: Option<PathBuf>,
    pub cb: Option<ChannelBinding>,
    /// EXTERNAL: the identity the transport established.
    pub external_id: Option<String>,
    /// The protocol carries success data (`--no-success-data` clears it).
    pub success_data: bool,
}

/// The flags one subcommand accepts, as given.
#[derive(Default)]
struct Flags {
    pairs: Vec<(&'static str, String)>,
}

impl Flags {
    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(n, _)| *n == name)?;
        Some(self.pairs.swap_remove(i).1)
    }
}

const CLIENT_FLAGS: &[&str] = &[
    "--mechanism",
    "--authcid",
    "--authzid",
    "--password",
    "--password-file",
    "--token",
    "--trace",
    "--cb-type",
    "--cb-data-hex",
];
const SERVER_FLAGS: &[&str] = &[
    "--mechanism",
    "--users",
    "--cb-type",
    "--cb-data-hex",
    "--external-id",
    "--no-success-data",
];
/// Flags without a value.
const SWITCHES: &[&str] = &["--no-success-data"];

/// Parse the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut args = args.into_iter().map(|a| {
        a.into_string()
            .map_err(|a| format!("argument {a:?} is not valid UTF-8"))
    });
    let sub = match args.next().transpose()? {
        None => return Err("a subcommand is needed: client or server".into()),
        Some(s) => s,
    };
    let known: &[&str] = match sub.as_str() {
        "-h" | "--help" | "help" => return Ok(Command::Help),
        "-V" | "--version" => return Ok(Command::Version),
        "client" => CLIENT_FLAGS,
        "server" => SERVER_FLAGS,
        other => return Err(format!("unknown subcommand {other:?}: client or server")),
    };
    let mut flags = Flags::default();
    while let Some(arg) = args.next().transpose()? {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let Some(name) = known.iter().copied().find(|k| *k == name) else {
            return Err(if arg.starts_with('-') {
                format!("{sub}: unknown option {name:?}")
            } else {
                format!("{sub}: unexpected argument {arg:?}")
            });
        };
        let value = match inline {
            Some(_) if SWITCHES.contains(&name) => return Err(format!("{name} takes no value")),
            Some(v) => v,
            None if SWITCHES.contains(&name) => String::new(),
            None => args
                .next()
                .transpose()?
                .ok_or_else(|| format!("{name} needs a value"))?,
        };
        if flags.pairs.iter().any(|(n, _)| *n == name) {
            return Err(format!("{name} given twice"));
        }
        flags.pairs.push((name, value));
    }

    let mechanism = match flags.take("--mechanism") {
        None => return Err(format!("{sub}: --mechanism is required")),
        Some(name) => {
            let m: Mechanism = name
                .parse()
                .map_err(|_| format!("unknown mechanism {name:?}; see --help"))?;
            if mechs::shape(m).is_none() {
                return Err(format!(
                    "{m} is implemented by the engine but not by this tool yet"
                ));
            }
            m
        }
    };
    let cb = match (flags.take("--cb-type"), flags.take("--cb-data-hex")) {
        (None, None) => None,
        (Some(t), Some(h)) => Some(ChannelBinding::parse(&t, &h)?),
        _ => return Err("--cb-type and --cb-data-hex go together".into()),
    };
    mechs::check_channel_binding(mechanism, cb.as_ref())?;

    if sub == "server" {
        let needs_accounts = !matches!(mechanism, Mechanism::External | Mechanism::Anonymous);
        let users = flags.take("--users").map(PathBuf::from);
        if needs_accounts && users.is_none() {
            return Err("server: --users FILE is required".into());
        }
        let external_id = flags.take("--external-id");
        match (mechanism == Mechanism::External, &external_id) {
            (true, None) => {
                return Err(
                    "EXTERNAL needs --external-id ID (the identity the transport established)"
                        .into(),
                );
            }
            (true, Some(id)) if id.is_empty() => return Err("--external-id is empty".into()),
            (false, Some(_)) => return Err(format!("{mechanism} takes no --external-id")),
            _ => {}
        }
        let success_data = flags.take("--no-success-data").is_none();
        return Ok(Command::Server(ServerArgs {
            mechanism,
            users,
            cb,
            external_id,
            success_data,
        }));
    }

    let password = match (flags.take("--password"), flags.take("--password-file")) {
        (Some(_), Some(_)) => {
            return Err("--password and --password-file exclude each other".into());
        }
        (Some(p), None) => Some(secret_from(p)),
        (None, Some(f)) => Some(read_password_file(&f)?),
        (None, None) => None,
    };
    let token = flags.take("--token").map(secret_from);
    let authcid = flags.take("--authcid");
    let authzid = flags.take("--authzid");
    let trace = flags.take("--trace");
    if trace.is_some() && mechanism != Mechanism::Anonymous {
        return Err(format!("{mechanism} takes no --trace; see --help"));
    }
    if let Some(why) = match mechanism {
        Mechanism::External => Some("the identity comes from the transport"),
        Mechanism::Anonymous => Some("it authenticates nobody"),
        _ => None,
    } {
        if authcid.is_some() {
            return Err(format!("{mechanism} takes no --authcid ({why})"));
        }
        if mechanism == Mechanism::Anonymous && authzid.is_some() {
            return Err(format!("{mechanism} takes no --authzid ({why})"));
        }
    }
    if password.is_some() && !mechanism.uses_password() {
        return Err(format!("{mechanism} takes no password; see --help"));
    }
    if token.is_some() && !mechanism.uses_token() {
        return Err(format!("{mechanism} takes no --token; see --help"));
    }
    if mechanism.uses_password() && password.is_none() {
        return Err(format!(
            "{mechanism} needs --password P or --password-file F"
        ));
    }
    if mechanism.uses_token() && token.is_none() {
        return Err(format!("{mechanism} needs --token T"));
    }
    if (mechanism.uses_password() || mechanism.uses_token()) && authcid.is_none() {
        return Err(format!("{mechanism} needs --authcid U"));
    }
    Ok(Command::Client(ClientArgs {
        mechanism,
        authcid,
        authzid,
        password,
        token,
        trace,
        cb,
    }))
}

/// Move a secret out of an argument string into wiped-on-drop memory, wiping the string.
fn secret_from(s: String) -> SecretBuf {
    let mut bytes = s.into_bytes();
    let secret = SecretBuf::from_slice(&bytes);
    bytes.fill(0);
    std::hint::black_box(&bytes);
    secret
}

/// The first line of a password file (without its line ending).
fn read_password_file(path: &str) -> Result<SecretBuf, String> {
    let mut bytes = std::fs::read(path).map_err(|e| format!("--password-file {path}: {e}"))?;
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let secret = SecretBuf::from_slice(line);
    bytes.fill(0);
    std::hint::black_box(&bytes);
    if secret.is_empty() {
        return Err(format!("--password-file {path}: the first line is empty"));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn client_flags() {
        let Command::Client(c) = run(&[
            "client",
            "--mechanism=plain",
            "--authcid",
            "tim",
            "--password",
            "tanstaaf",
            "--authzid=a=b",
        ])
        .unwrap() else {
            panic!("not a client")
        };
        assert_eq!(c.mechanism, Mechanism::Plain);
        assert_eq!(c.authcid.as_deref(), Some("tim"));
        assert_eq!(c.authzid.as_deref(), Some("a=b"));
        assert_eq!(c.password.unwrap().as_slice(), b"tanstaaf");
        assert!(c.token.is_none() && c.cb.is_none());

        let Command::Client(c) = run(&[
            "client",
            "--mechanism",
            "XOAUTH2",
            "--authcid",
            "u",
            "--token",
            "t",
        ])
        .unwrap() else {
            panic!("not a client")
        };
        assert_eq!(c.token.unwrap().as_slice(), b"t");
    }

    #[test]
    fn server_flags() {
        let Command::Server(s) =
            run(&["server", "--users", "/x", "--mechanism", "cram-md5"]).unwrap()
        else {
            panic!("not a server")
        };
        assert_eq!(s.mechanism, Mechanism::CramMd5);
        assert_eq!(s.users, Some(PathBuf::from("/x")));
        assert!(s.success_data && s.external_id.is_none() && s.cb.is_none());

        let Command::Server(s) = run(&[
            "server",
            "--mechanism=EXTERNAL",
            "--external-id",
            "alice",
            "--no-success-data",
        ])
        .unwrap() else {
            panic!("not a server")
        };
        assert_eq!(s.external_id.as_deref(), Some("alice"));
        assert!(!s.success_data && s.users.is_none());

        let Command::Server(s) = run(&[
            "server",
            "--mechanism",
            "SCRAM-SHA-256-PLUS",
            "--users",
            "/x",
            "--cb-type",
            "tls-exporter",
            "--cb-data-hex",
            "0a0B",
        ])
        .unwrap() else {
            panic!("not a server")
        };
        let cb = s.cb.unwrap();
        assert_eq!(cb.kind, saslmech::ChannelBindingType::TlsExporter);
        assert_eq!(cb.data, [10, 11]);
        assert!(matches!(
            run(&["server", "--mechanism", "anonymous"]),
            Ok(Command::Server(ServerArgs { users: None, .. }))
        ));
    }

    #[test]
    fn errors() {
        let e = |args: &[&str]| run(args).err().unwrap();
        assert!(e(&[]).contains("subcommand"));
        assert!(e(&["serve"]).contains("unknown subcommand"));
        assert!(e(&["client"]).contains("--mechanism is required"));
        assert!(e(&["client", "--mechanism", "GSSAPI"]).contains("unknown mechanism"));
        assert!(e(&["client", "--mechanism"]).contains("needs a value"));
        assert!(e(&["client", "--mechanism", "PLAIN", "--mechanism", "PLAIN"]).contains("twice"));
        assert!(e(&["client", "--mechanism", "PLAIN", "--users", "f"]).contains("unknown option"));
        assert!(e(&["client", "--mechanism", "PLAIN", "extra"]).contains("unexpected argument"));
        assert!(e(&["client", "--mechanism", "PLAIN", "--authcid", "u"]).contains("--password"));
        assert!(e(&["client", "--mechanism", "PLAIN", "--password", "p"]).contains("--authcid"));
        assert!(
            e(&[
                "client",
                "--mechanism",
                "PLAIN",
                "--password",
                "p",
                "--password-file",
                "f"
            ])
            .contains("exclude")
        );
        assert!(
            e(&[
                "client",
                "--mechanism",
                "PLAIN",
                "--authcid",
                "u",
                "--token",
                "t"
            ])
            .contains("no --token")
        );
        assert!(
            e(&[
                "client",
                "--mechanism",
                "XOAUTH2",
                "--authcid",
                "u",
                "--password",
                "p"
            ])
            .contains("no password")
        );
        assert!(e(&["client", "--mechanism", "XOAUTH2", "--authcid", "u"]).contains("--token"));
        assert!(
            e(&[
                "client",
                "--mechanism",
                "PLAIN",
                "--password-file",
                "/nonexistent/pw"
            ])
            .contains("/nonexistent/pw")
        );
        assert!(e(&["server", "--mechanism", "PLAIN"]).contains("--users"));
        assert!(
            e(&[
                "server",
                "--mechanism",
                "PLAIN",
                "--users",
                "f",
                "--cb-type",
                "tls-unique"
            ])
            .contains("go together")
        );
        assert!(
            e(&[
                "server",
                "--mechanism",
                "PLAIN",
                "--users",
                "f",
                "--cb-type",
                "tls-unique",
                "--cb-data-hex",
                "zz"
            ])
            .contains("hex")
        );
        assert!(
            e(&[
                "server",
                "--mechanism",
                "PLAIN",
                "--users",
                "f",
                "--cb-type",
                "tls-unique",
                "--cb-data-hex",
                "0011"
            ])
            .contains("takes no channel binding")
        );
    }

    #[test]
    fn per_mechanism_flags() {
        let e = |args: &[&str]| run(args).err().unwrap();
        let Command::Client(c) =
            run(&["client", "--mechanism", "anonymous", "--trace", "t@x"]).unwrap()
        else {
            panic!("not a client")
        };
        assert_eq!(c.trace.as_deref(), Some("t@x"));
        assert!(matches!(
            run(&["client", "--mechanism", "EXTERNAL", "--authzid", "z"]),
            Ok(Command::Client(ClientArgs { authcid: None, .. }))
        ));
        assert!(e(&["client", "--mechanism", "EXTERNAL", "--authcid", "u"]).contains("--authcid"));
        assert!(e(&["client", "--mechanism", "ANONYMOUS", "--authcid", "u"]).contains("--authcid"));
        assert!(e(&["client", "--mechanism", "ANONYMOUS", "--authzid", "u"]).contains("--authzid"));
        assert!(e(&["client", "--mechanism", "EXTERNAL", "--trace", "t"]).contains("--trace"));
        assert!(e(&["client", "--mechanism", "OAUTHBEARER", "--token", "t"]).contains("--authcid"));
        assert!(
            e(&[
                "client",
                "--mechanism",
                "SCRAM-SHA-1-PLUS",
                "--authcid",
                "u",
                "--password",
                "p"
            ])
            .contains("needs channel binding")
        );
        assert!(e(&["server", "--mechanism", "EXTERNAL"]).contains("--external-id"));
        assert!(e(&["server", "--mechanism", "EXTERNAL", "--external-id", ""]).contains("empty"));
        assert!(
            e(&["server", "--mechanism", "ANONYMOUS", "--external-id", "x"])
                .contains("takes no --external-id")
        );
        assert!(
            e(&["server", "--mechanism", "ANONYMOUS", "--no-success-data=1"])
                .contains("takes no value")
        );
        assert!(
            e(&[
                "server",
                "--mechanism",
                "ANONYMOUS",
                "--no-success-data",
                "--no-success-data"
            ])
            .contains("twice")
        );
        assert!(
            e(&["client", "--mechanism", "PLAIN", "--no-success-data"]).contains("unknown option")
        );
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(run(&["--help"]), Ok(Command::Help)));
        assert!(matches!(run(&["help"]), Ok(Command::Help)));
        assert!(matches!(run(&["client", "-h"]), Ok(Command::Help)));
        assert!(matches!(run(&["--version"]), Ok(Command::Version)));
    }

    #[test]
    fn password_file_first_line() {
        let dir = std::env::temp_dir().join(format!("saslmech-cli-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pw");
        std::fs::write(&f, b"s3cret\r\nsecond line\n").unwrap();
        assert_eq!(
            read_password_file(f.to_str().unwrap()).unwrap().as_slice(),
            b"s3cret"
        );
        std::fs::write(&f, b"\nx").unwrap();
        assert!(read_password_file(f.to_str().unwrap()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
