//! `saslmech`: one SASL exchange, client or server side, over standard input and output.
//!
//! It speaks the line protocol of the GNU SASL command-line tool (`gsasl --client` /
//! `gsasl --server`), so either side of a gsasl pair can be swapped for it: strict
//! alternation, server first, one base64 token a line, an empty line an empty token, nothing
//! else on standard output. Outcome and identity go to standard error; the exit status says
//! how it ended. `saslmech --help` has the details (`help.rs`); clap parses the command line
//! (`args.rs`).

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
mod help;
mod lines;
mod mechs;
mod server;

use std::io::{self, Write};
use std::process::ExitCode;

use args::Command;
use saslmech_users::Directory;

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
        Ok(Command::Client(a)) => client::run(
            &a,
            &mut io::stdin().lock(),
            &mut io::stdout().lock(),
            &mut io::stderr(),
        ),
        Ok(Command::Server(a)) => match a
            .users
            .as_deref()
            .map_or(Ok(Directory::default()), Directory::load)
        {
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
        Ok(Command::Completions(shell)) => {
            let mut out = io::stdout().lock();
            args::completions(shell, &mut out);
            let _ = out.flush();
            Exit::Success
        }
        // Help and version go to standard output (exit 0), errors to standard error (2).
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            }
        }
    };
    ExitCode::from(exit as u8)
}

/// Write one `saslmech <side>: <message>` line to standard error.
pub fn say(log: &mut dyn Write, side: &str, message: std::fmt::Arguments<'_>) {
    let _ = writeln!(log, "saslmech {side}: {message}");
}
