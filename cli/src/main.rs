//! `saslmech`: one SASL exchange, client or server side, over standard input and output.
//!
//! It speaks the line protocol of the GNU SASL command-line tool (`gsasl --client` /
//! `gsasl --server`), so either side of a gsasl pair can be swapped for it: strict
//! alternation, server first, one base64 token a line, an empty line an empty token, nothing
//! else on standard output. Outcome and identity go to standard error; the exit status says
//! how it ended. `saslmech --help` has the details.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod args;
mod client;
mod lines;
mod mechs;
mod server;

use std::fmt::Write as _;
use std::io::{self, Write};
use std::process::ExitCode;

use args::Command;

/// How a run ended: the process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Client: the mechanism completed (the server's proof verified, where it sends one).
    /// Server: the client authenticated.
    Success = 0,
    /// The exchange ended without authentication.
    Failure = 1,
    /// Usage or input error: bad arguments, an unreadable file, input that breaks the line
    /// protocol.
    Usage = 2,
}

fn main() -> ExitCode {
    let exit = match args::parse(std::env::args_os().skip(1)) {
        Ok(Command::Help) => {
            let mut out = io::stdout().lock();
            let _ = out.write_all(help().as_bytes());
            let _ = out.flush();
            Exit::Success
        }
        Ok(Command::Version) => {
            println!("saslmech {}", env!("CARGO_PKG_VERSION"));
            Exit::Success
        }
        Ok(Command::Client(a)) => client::run(
            &a,
            &mut io::stdin().lock(),
            &mut io::stdout().lock(),
            &mut io::stderr(),
        ),
        Ok(Command::Server(a)) => match a.users.as_deref().map_or(
            Ok(saslmech_users::Directory::default()),
            saslmech_users::Directory::load,
        ) {
            Ok(dir) => server::run(
                &a,
                &dir,
                &mut io::stdin().lock(),
                &mut io::stdout().lock(),
                &mut io::stderr(),
            ),
            Err(e) => {
                eprintln!("saslmech server: --users: {e}");
                Exit::Usage
            }
        },
        Err(e) => {
            eprintln!("saslmech: {e}\nTry 'saslmech --help'.");
            Exit::Usage
        }
    };
    ExitCode::from(exit as u8)
}

/// The `--help` text, with one line per mechanism the tool drives.
fn help() -> String {
    let mut client_lines = String::new();
    let mut server_lines = String::new();
    let width = mechs::supported()
        .map(|m| m.name().len())
        .max()
        .unwrap_or(0);
    for m in mechs::supported() {
        if let Some(s) = mechs::shape(m) {
            let _ = writeln!(client_lines, "  {:<width$} {}", m.name(), s.client_flags);
            let _ = writeln!(server_lines, "  {:<width$} {}", m.name(), s.server_needs);
        }
    }
    format!(
        "\
saslmech {version}: one SASL exchange over standard input and output

Usage:
  saslmech client --mechanism M [--authcid U] [--password P | --password-file F]
                  [--token T] [--authzid Z] [--trace T] [--cb-type T --cb-data-hex H]
  saslmech server --mechanism M [--users FILE] [--cb-type T --cb-data-hex H]
                  [--external-id ID] [--no-success-data]
  saslmech --help | --version

The client reads the server's challenges from standard input and writes its responses to
standard output; the server writes challenges and reads responses. Both speak the line
protocol of the GNU SASL tool (gsasl --client / gsasl --server):
  - strict alternation, server first: the server writes its first challenge (an empty line
    for a client-first mechanism such as PLAIN), the client answers it (with its initial
    response, for a client-first mechanism), and so on;
  - one base64 token a line; an empty line is an empty token; nothing else on stdout;
  - on success the server writes one final line: empty, or the mechanism's success data
    (SCRAM's server signature); on failure it writes nothing more and exits;
  - after the server's final line the client writes one empty line (gsasl's server reads
    one more line after its last step) and exits; the server exits after its final line,
    and if that line carried success data it first reads the client's acknowledgement:
    one empty line, or end of input.
The outcome and the authenticated identity are reported on standard error.

Client flags, by mechanism (names are case-insensitive):
{client_lines}
  --password-file F reads the first line of F; prefer it to --password, which other users
  can see in the process list.
  SCRAM: the client checks the server's signature (exit 0 only if it verifies) and
  accepts an iteration count from 4096 to 600000. OAUTHBEARER: the token's user (a=) is --authzid Z if
  given, else --authcid U. EXTERNAL: the identity is the transport's; --authzid asks to act
  as Z. ANONYMOUS: --trace is optional trace information, at most 255 characters.

Server: FILE holds accounts, one user:secret a line ('#' starts a comment line; split at
the first colon; a user may have several lines):
  user:password             a plaintext password ({{PLAIN}}password if it starts with '{{'
                            or 'SCRAM-'); SCRAM keys are derived from it at load
  user:{{CRAM-MD5}}<64 hex>   Dovecot's CRAM-MD5 hash (doveadm pw -s CRAM-MD5)
  user:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
                            RFC 5803 stored keys (likewise SCRAM-SHA-1$...); they also
                            check PLAIN and LOGIN passwords
  user:{{BEARER}}token        a bearer token (OAUTHBEARER, XOAUTH2)
What each mechanism needs:
{server_lines}
  --users is optional for EXTERNAL and ANONYMOUS, required for the others.
  --external-id ID: EXTERNAL only, the identity the transport established (say, a TLS
  client certificate's subject).
  --no-success-data: behave like SMTP, IMAP and POP3, which cannot carry success data:
  SCRAM's server signature goes out as one more challenge, which the client answers with
  an empty line, and the final line is empty.
  No account may act as another: an authzid other than the authenticated identity is
  refused. ANONYMOUS authenticates as \"anonymous\" and reports the client's trace.

Channel binding: --cb-type (tls-exporter, tls-server-end-point or tls-unique) with
--cb-data-hex (the binding data in hex, as the TLS layer would give it) is for the SCRAM
-PLUS mechanisms, which need it on both sides; the data must be equal on both sides.
The other mechanisms refuse it.

Exit status:
  0  client: the mechanism completed (for mutual authentication, the server's proof was
     verified); server: the client authenticated
  1  the exchange ended without authentication (wrong credentials, unknown user, a
     malformed message, the peer ending the exchange early)
  2  usage or input error (bad arguments, unreadable users or password file, a line that
     is not base64 or is too long, input after the end of the exchange)

Example (a SCRAM-SHA-256 exchange between two saslmech processes):
  mkfifo c2s s2c
  saslmech server --mechanism SCRAM-SHA-256 --users users.txt <c2s >s2c &
  saslmech client --mechanism SCRAM-SHA-256 --authcid alice --password-file pw >c2s <s2c
",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// Write one `saslmech <side>: <message>` line to standard error.
pub fn say(log: &mut dyn Write, side: &str, message: std::fmt::Arguments<'_>) {
    let _ = writeln!(log, "saslmech {side}: {message}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_names_every_mechanism_and_flag() {
        let h = super::help();
        for m in super::mechs::supported() {
            let s = super::mechs::shape(m).unwrap();
            let listed = |what: &str| {
                h.lines()
                    .any(|l| l.split_whitespace().next() == Some(m.name()) && l.ends_with(what))
            };
            assert!(listed(s.client_flags), "{m}");
            assert!(listed(s.server_needs), "{m}");
        }
        for flag in [
            "--mechanism",
            "--authcid",
            "--password",
            "--password-file",
            "--token",
            "--authzid",
            "--cb-type",
            "--cb-data-hex",
            "--users",
            "--trace",
            "--external-id",
            "--no-success-data",
            "SCRAM-SHA-256$",
        ] {
            assert!(h.contains(flag), "{flag}");
        }
    }
}
