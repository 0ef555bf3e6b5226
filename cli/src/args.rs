//! Command-line arguments: clap parses the flags (`--flag VALUE` or `--flag=VALUE`, each at
//! most once; generated help; errors that name the flag), then [`parse`] checks what depends
//! on the mechanism (which flags it needs and refuses) and reads the password file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::builder::TypedValueParser as _;
use clap::builder::{NonEmptyStringValueParser, PossibleValue, PossibleValuesParser};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory as _, Parser, Subcommand};
use clap_complete::Shell;
use saslmech::{ChannelBindingType, Mechanism, SecretBuf};

use crate::help;
use crate::mechs::{self, ChannelBinding};

/// What to do.
pub enum Command {
    Client(ClientArgs),
    Server(ServerArgs),
    /// Print the completion script for a shell.
    Completions(Shell),
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
    /// GSSAPI, GS2-KRB5: the target service and host (`service/host@REALM`).
    pub service: Option<String>,
    pub hostname: Option<String>,
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

/// The command line as clap sees it.
#[derive(Parser)]
#[command(
    name = "saslmech",
    version,
    about = "One SASL exchange over standard input and output, in the line protocol of \
             gsasl --client / gsasl --server",
    subcommand_required = true,
    arg_required_else_help = false,
    max_term_width = 100,
    after_help = help::reference(),
)]
pub struct Cli {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Subcommand)]
enum Sub {
    /// Authenticate to a server: read its challenges from standard input, write the responses
    /// to standard output
    #[command(after_help = help::reference())]
    Client(ClientFlags),
    /// Authenticate a client: write challenges to standard output, read its responses from
    /// standard input, check them against a users file
    #[command(after_help = help::reference())]
    Server(ServerFlags),
    /// Print a completion script for SHELL to standard output
    #[command(after_help = help::COMPLETIONS)]
    Completions {
        /// The shell to complete in
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
}

#[derive(Args)]
struct ClientFlags {
    /// The mechanism (case-insensitive)
    #[arg(long, value_name = "M", value_parser = mechanism(), ignore_case = true)]
    mechanism: Mechanism,
    /// The user to authenticate as (all but EXTERNAL and ANONYMOUS)
    #[arg(long, value_name = "U", allow_hyphen_values = true)]
    authcid: Option<String>,
    /// The password; other users can see it in the process list: prefer --password-file
    #[arg(
        long,
        value_name = "P",
        value_parser = secret,
        allow_hyphen_values = true,
        conflicts_with = "password_file"
    )]
    password: Option<SecretBuf>,
    /// Read the password from the first line of F
    #[arg(long, value_name = "F")]
    password_file: Option<PathBuf>,
    /// The bearer token (OAUTHBEARER, XOAUTH2)
    #[arg(long, value_name = "T", value_parser = secret, allow_hyphen_values = true)]
    token: Option<SecretBuf>,
    /// Act as Z (PLAIN, SCRAM, OAUTHBEARER, EXTERNAL)
    #[arg(long, value_name = "Z", allow_hyphen_values = true)]
    authzid: Option<String>,
    /// ANONYMOUS: trace information, at most 255 characters
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    trace: Option<String>,
    #[command(flatten)]
    cb: CbFlags,
    /// GSSAPI, GS2-KRB5: the service of the target principal (smtp, imap)
    #[cfg(feature = "gssapi")]
    #[arg(long, value_name = "S", value_parser = NonEmptyStringValueParser::new())]
    service: Option<String>,
    /// GSSAPI, GS2-KRB5: the host of the target principal
    #[cfg(feature = "gssapi")]
    #[arg(long, value_name = "H", value_parser = NonEmptyStringValueParser::new())]
    hostname: Option<String>,
}

#[derive(Args)]
struct ServerFlags {
    /// The mechanism (case-insensitive)
    #[arg(long, value_name = "M", value_parser = mechanism(), ignore_case = true)]
    mechanism: Mechanism,
    /// The accounts, one user:secret a line (see below); optional for EXTERNAL and ANONYMOUS
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    #[command(flatten)]
    cb: CbFlags,
    /// EXTERNAL only: the identity the transport established (say, a TLS client
    /// certificate's subject)
    #[arg(
        long,
        value_name = "ID",
        value_parser = NonEmptyStringValueParser::new(),
        allow_hyphen_values = true
    )]
    external_id: Option<String>,
    /// Behave like SMTP, IMAP and POP3, which cannot carry success data: SCRAM's server
    /// signature goes out as one more challenge, which the client answers with an empty line,
    /// and the final line is empty
    #[arg(long)]
    no_success_data: bool,
}

/// `--cb-type T --cb-data-hex H`: both or neither.
#[derive(Args)]
struct CbFlags {
    /// The channel-binding type, for the SCRAM -PLUS mechanisms (with --cb-data-hex)
    #[arg(long, value_name = "T", value_parser = cb_type(), requires = "cb_data_hex")]
    cb_type: Option<ChannelBindingType>,
    /// The channel-binding data in hex, as the TLS layer would give it (equal on both sides)
    #[arg(long, value_name = "H", value_parser = cb_data, requires = "cb_type")]
    cb_data_hex: Option<CbData>,
}

/// Decoded `--cb-data-hex` (a newtype: clap reads an `Option<Vec<_>>` field as a list).
#[derive(Clone)]
struct CbData(Vec<u8>);

impl CbFlags {
    fn binding(self) -> Option<ChannelBinding> {
        match (self.cb_type, self.cb_data_hex) {
            (Some(kind), Some(CbData(data))) => Some(ChannelBinding { kind, data }),
            // clap's `requires` rules out one without the other.
            _ => None,
        }
    }
}

/// The mechanisms the tool drives, by name (completed by the shells, listed by `--help`).
fn mechanism() -> impl clap::builder::TypedValueParser<Value = Mechanism> {
    PossibleValuesParser::new(mechs::supported().map(|m| PossibleValue::new(m.name())))
        .try_map(|name| name.parse::<Mechanism>())
}

/// The `--cb-type` names.
fn cb_type() -> impl clap::builder::TypedValueParser<Value = ChannelBindingType> {
    PossibleValuesParser::new(mechs::CB_TYPES).try_map(|name| ChannelBinding::parse_type(&name))
}

fn cb_data(hex: &str) -> Result<CbData, String> {
    ChannelBinding::parse_data(hex).map(CbData)
}

/// A secret argument, in wiped-on-drop memory. (clap's own copies of the argument are not
/// wiped; the process list shows it anyway, which is why `--password-file` exists.)
fn secret(s: &str) -> Result<SecretBuf, std::convert::Infallible> {
    Ok(SecretBuf::from_slice(s.as_bytes()))
}

/// Parse the arguments after the program name. Help and version requests come back as
/// errors too, as clap reports them: print them with [`clap::Error::print`], which writes
/// them to standard output (and real errors to standard error).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, clap::Error> {
    let cli = Cli::try_parse_from(std::iter::once(OsString::from("saslmech")).chain(args))?;
    match cli.command {
        Sub::Client(f) => client(f).map(Command::Client),
        Sub::Server(f) => server(f).map(Command::Server),
        Sub::Completions { shell } => Ok(Command::Completions(shell)),
    }
}

/// Write the completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut Cli::command(), "saslmech", out);
}

/// An error found after clap's parsing, reported the way clap reports its own (with the
/// subcommand's usage line).
fn usage_error(subcommand: &str, kind: ErrorKind, message: impl std::fmt::Display) -> clap::Error {
    let mut cli = Cli::command();
    cli.build();
    match cli.find_subcommand_mut(subcommand) {
        Some(sub) => sub.error(kind, message),
        None => cli.error(kind, message),
    }
}

/// A flag the mechanism refuses (or channel binding it needs or refuses), beyond what clap
/// checks.
fn conflict(subcommand: &str, message: impl std::fmt::Display) -> clap::Error {
    usage_error(subcommand, ErrorKind::ArgumentConflict, message)
}

/// A flag the mechanism needs, beyond what clap checks.
fn missing(subcommand: &str, message: impl std::fmt::Display) -> clap::Error {
    usage_error(subcommand, ErrorKind::MissingRequiredArgument, message)
}

fn server(f: ServerFlags) -> Result<ServerArgs, clap::Error> {
    let conflict = |message: String| conflict("server", message);
    let missing = |message: String| missing("server", message);
    let mechanism = f.mechanism;
    let cb = f.cb.binding();
    mechs::check_channel_binding(mechanism, cb.as_ref()).map_err(conflict)?;
    let needs_accounts = !matches!(mechanism, Mechanism::External | Mechanism::Anonymous)
        && !mechanism.uses_kerberos();
    if needs_accounts && f.users.is_none() {
        return Err(missing(format!(
            "{mechanism} needs --users FILE (only EXTERNAL and ANONYMOUS run without accounts)"
        )));
    }
    match (mechanism == Mechanism::External, &f.external_id) {
        (true, None) => {
            return Err(missing(
                "EXTERNAL needs --external-id ID (the identity the transport established)".into(),
            ));
        }
        (false, Some(_)) => return Err(conflict(format!("{mechanism} takes no --external-id"))),
        _ => {}
    }
    Ok(ServerArgs {
        mechanism,
        users: f.users,
        cb,
        external_id: f.external_id,
        success_data: !f.no_success_data,
    })
}

fn client(f: ClientFlags) -> Result<ClientArgs, clap::Error> {
    let conflict = |message: String| conflict("client", message);
    let missing = |message: String| missing("client", message);
    let mechanism = f.mechanism;
    let cb = f.cb.binding();
    mechs::check_channel_binding(mechanism, cb.as_ref()).map_err(conflict)?;
    // clap has ruled out both at once.
    let password = match (f.password, f.password_file) {
        (Some(p), _) => Some(p),
        (None, Some(path)) => {
            Some(read_password_file(&path).map_err(|e| usage_error("client", ErrorKind::Io, e))?)
        }
        (None, None) => None,
    };
    let (authcid, authzid, token, trace) = (f.authcid, f.authzid, f.token, f.trace);
    if trace.is_some() && mechanism != Mechanism::Anonymous {
        return Err(conflict(format!(
            "{mechanism} takes no --trace; see --help"
        )));
    }
    if let Some(why) = match mechanism {
        Mechanism::External => Some("the identity comes from the transport"),
        Mechanism::Anonymous => Some("it authenticates nobody"),
        _ => None,
    } {
        if authcid.is_some() {
            return Err(conflict(format!("{mechanism} takes no --authcid ({why})")));
        }
        if mechanism == Mechanism::Anonymous && authzid.is_some() {
            return Err(conflict(format!("{mechanism} takes no --authzid ({why})")));
        }
    }
    if password.is_some() && !mechanism.uses_password() {
        return Err(conflict(format!(
            "{mechanism} takes no password; see --help"
        )));
    }
    if token.is_some() && !mechanism.uses_token() {
        return Err(conflict(format!(
            "{mechanism} takes no --token; see --help"
        )));
    }
    if mechanism.uses_password() && password.is_none() {
        return Err(missing(format!(
            "{mechanism} needs --password P or --password-file F"
        )));
    }
    if mechanism.uses_token() && token.is_none() {
        return Err(missing(format!("{mechanism} needs --token T")));
    }
    if (mechanism.uses_password() || mechanism.uses_token()) && authcid.is_none() {
        return Err(missing(format!("{mechanism} needs --authcid U")));
    }
    #[cfg(feature = "gssapi")]
    let (service, hostname) = (f.service, f.hostname);
    #[cfg(not(feature = "gssapi"))]
    let (service, hostname): (Option<String>, Option<String>) = (None, None);
    if mechanism.uses_kerberos() {
        if authcid.is_some() {
            return Err(conflict(format!(
                "{mechanism} takes no --authcid (the ticket says who you are)"
            )));
        }
        if service.is_none() || hostname.is_none() {
            return Err(missing(format!(
                "{mechanism} needs --service S --hostname H"
            )));
        }
    } else if service.is_some() || hostname.is_some() {
        return Err(conflict(format!(
            "{mechanism} takes no --service or --hostname (GSSAPI, GS2-KRB5 only)"
        )));
    }
    Ok(ClientArgs {
        mechanism,
        authcid,
        authzid,
        password,
        token,
        trace,
        cb,
        service,
        hostname,
    })
}

/// The first line of a password file (without its line ending).
fn read_password_file(path: &Path) -> Result<SecretBuf, String> {
    let name = path.display();
    let mut bytes = std::fs::read(path).map_err(|e| format!("--password-file {name}: {e}"))?;
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let secret = SecretBuf::from_slice(line);
    bytes.fill(0);
    std::hint::black_box(&bytes);
    if secret.is_empty() {
        return Err(format!("--password-file {name}: the first line is empty"));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, clap::Error> {
        parse(args.iter().map(OsString::from))
    }

    /// The error's text, as the user sees it.
    fn e(args: &[&str]) -> String {
        let err = run(args).err().unwrap();
        assert!(err.use_stderr(), "{args:?}: not an error: {err}");
        err.to_string()
    }

    #[test]
    fn clap_checks_its_definitions() {
        Cli::command().debug_assert();
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

        // Values may start with a hyphen, as before clap.
        let Command::Client(c) = run(&[
            "client",
            "--mechanism",
            "PLAIN",
            "--authcid",
            "-u",
            "--password",
            "--not-a-flag",
        ])
        .unwrap() else {
            panic!("not a client")
        };
        assert_eq!(c.authcid.as_deref(), Some("-u"));
        assert_eq!(c.password.unwrap().as_slice(), b"--not-a-flag");
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
    fn clap_errors_name_the_flag() {
        assert!(e(&[]).contains("requires a subcommand"));
        assert!(e(&["serve"]).contains("unrecognized subcommand 'serve'"));
        assert!(
            e(&["client"]).contains("required arguments were not provided:\n  --mechanism <M>")
        );
        let m = e(&["client", "--mechanism", "NTLM"]);
        assert!(
            m.contains("invalid value 'NTLM' for '--mechanism <M>'"),
            "{m}"
        );
        let listed = mechs::supported()
            .map(Mechanism::name)
            .collect::<Vec<_>>()
            .join(", ");
        assert!(m.contains(&format!("[possible values: {listed}]")), "{m}");
        assert!(
            e(&["client", "--mechanism"]).contains("a value is required for '--mechanism <M>'")
        );
        assert!(
            e(&["client", "--mechanism", "PLAIN", "--mechanism", "PLAIN"])
                .contains("the argument '--mechanism <M>' cannot be used multiple times")
        );
        assert!(
            e(&["client", "--mechanism", "PLAIN", "--users", "f"])
                .contains("unexpected argument '--users' found")
        );
        assert!(
            e(&["client", "--mechanism", "PLAIN", "extra"])
                .contains("unexpected argument 'extra' found")
        );
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
            .contains("the argument '--password <P>' cannot be used with '--password-file <F>'")
        );
        let cb = |rest: &[&str]| {
            let mut v = vec!["server", "--mechanism", "PLAIN", "--users", "f"];
            v.extend_from_slice(rest);
            e(&v)
        };
        assert!(
            cb(&["--cb-type", "tls-unique"])
                .contains("required arguments were not provided:\n  --cb-data-hex <H>")
        );
        assert!(
            cb(&["--cb-data-hex", "00"])
                .contains("required arguments were not provided:\n  --cb-type <T>")
        );
        let bad_hex = cb(&["--cb-type", "tls-unique", "--cb-data-hex", "zz"]);
        assert!(
            bad_hex.contains(
                "invalid value 'zz' for '--cb-data-hex <H>': expected an even number of hex digits"
            ),
            "{bad_hex}"
        );
        let bad_type = cb(&["--cb-type", "TLS-UNIQUE", "--cb-data-hex", "00"]);
        assert!(
            bad_type.contains("invalid value 'TLS-UNIQUE' for '--cb-type <T>'")
                && bad_type
                    .contains("[possible values: tls-exporter, tls-server-end-point, tls-unique]"),
            "{bad_type}"
        );
        assert!(
            e(&["server", "--mechanism", "EXTERNAL", "--external-id", ""])
                .contains("a value is required for '--external-id <ID>'")
        );
        assert!(
            e(&["server", "--mechanism", "ANONYMOUS", "--no-success-data=1"])
                .contains("unexpected value '1' for '--no-success-data' found")
        );
        assert!(
            e(&[
                "server",
                "--mechanism",
                "ANONYMOUS",
                "--no-success-data",
                "--no-success-data"
            ])
            .contains("the argument '--no-success-data' cannot be used multiple times")
        );
        assert!(
            e(&["client", "--mechanism", "PLAIN", "--no-success-data"])
                .contains("unexpected argument '--no-success-data' found")
        );
        // Every error ends with clap's pointer to the help.
        assert!(e(&["client"]).ends_with("For more information, try '--help'.\n"));
    }

    #[test]
    fn what_the_mechanism_refuses_or_needs() {
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
        let plain = |rest: &[&str]| {
            let mut v = vec!["client", "--mechanism", "PLAIN"];
            v.extend_from_slice(rest);
            e(&v)
        };
        let needs_password = plain(&["--authcid", "u"]);
        assert!(
            needs_password.contains("PLAIN needs --password P or --password-file F"),
            "{needs_password}"
        );
        // Reported the way clap reports its own errors, with the subcommand's usage.
        assert!(needs_password.starts_with("error: "), "{needs_password}");
        assert!(
            needs_password.contains("Usage: saslmech client "),
            "{needs_password}"
        );
        let kind = |args: &[&str]| run(args).err().unwrap().kind();
        assert_eq!(
            kind(&["client", "--mechanism", "PLAIN", "--authcid", "u"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            kind(&["client", "--mechanism", "EXTERNAL", "--authcid", "u"]),
            ErrorKind::ArgumentConflict
        );
        assert!(plain(&["--password", "p"]).contains("PLAIN needs --authcid U"));
        assert!(plain(&["--authcid", "u", "--token", "t"]).contains("PLAIN takes no --token"));
        assert!(
            plain(&["--password-file", "/nonexistent/pw"])
                .contains("--password-file /nonexistent/pw: ")
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
            .contains("XOAUTH2 takes no password")
        );
        assert!(e(&["client", "--mechanism", "XOAUTH2", "--authcid", "u"]).contains("--token"));
        assert!(
            e(&["client", "--mechanism", "EXTERNAL", "--authcid", "u"])
                .contains("EXTERNAL takes no --authcid")
        );
        assert!(
            e(&["client", "--mechanism", "ANONYMOUS", "--authcid", "u"])
                .contains("ANONYMOUS takes no --authcid")
        );
        assert!(
            e(&["client", "--mechanism", "ANONYMOUS", "--authzid", "u"])
                .contains("ANONYMOUS takes no --authzid")
        );
        assert!(
            e(&["client", "--mechanism", "EXTERNAL", "--trace", "t"])
                .contains("EXTERNAL takes no --trace")
        );
        assert!(
            e(&["client", "--mechanism", "OAUTHBEARER", "--token", "t"])
                .contains("OAUTHBEARER needs --authcid U")
        );
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
        assert!(e(&["server", "--mechanism", "PLAIN"]).contains("PLAIN needs --users FILE"));
        assert!(
            e(&["server", "--mechanism", "EXTERNAL"]).contains("EXTERNAL needs --external-id ID")
        );
        let no_id = e(&["server", "--mechanism", "ANONYMOUS", "--external-id", "x"]);
        assert!(
            no_id.contains("ANONYMOUS takes no --external-id"),
            "{no_id}"
        );
        assert!(no_id.contains("Usage: saslmech server "), "{no_id}");
    }

    #[test]
    fn help_and_version() {
        for args in [
            &["--help"][..],
            &["-h"],
            &["help"],
            &["help", "client"],
            &["client", "-h"],
            &["server", "--help"],
            &["completions", "--help"],
        ] {
            let err = run(args).err().unwrap();
            assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{args:?}");
            // Help goes to standard output, with exit status 0.
            assert!(!err.use_stderr(), "{args:?}");
        }
        let v = run(&["--version"]).err().unwrap();
        assert_eq!(v.kind(), ErrorKind::DisplayVersion);
        assert_eq!(
            v.to_string(),
            format!("saslmech {}\n", env!("CARGO_PKG_VERSION"))
        );
        assert!(matches!(run(&["-V"]), Err(v) if v.kind() == ErrorKind::DisplayVersion));
    }

    #[test]
    fn completions_subcommand() {
        assert!(matches!(
            run(&["completions", "zsh"]),
            Ok(Command::Completions(Shell::Zsh))
        ));
        let bad = e(&["completions", "tcsh"]);
        assert!(bad.contains("invalid value 'tcsh' for '<SHELL>'"), "{bad}");
        assert!(bad.contains("bash"), "{bad}");
        let mut script = Vec::new();
        completions(Shell::Bash, &mut script);
        let script = String::from_utf8(script).unwrap();
        for word in [
            "saslmech",
            "client",
            "server",
            "--cb-data-hex",
            "SCRAM-SHA-256-PLUS",
        ] {
            assert!(script.contains(word), "{word}");
        }
    }

    #[test]
    fn password_file_first_line() {
        let dir = std::env::temp_dir().join(format!("saslmech-cli-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pw");
        std::fs::write(&f, b"s3cret\r\nsecond line\n").unwrap();
        assert_eq!(read_password_file(&f).unwrap().as_slice(), b"s3cret");
        std::fs::write(&f, b"\nx").unwrap();
        assert!(read_password_file(&f).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
