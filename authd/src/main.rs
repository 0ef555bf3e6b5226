//! `saslmech-authd`: the command line.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use saslmech_authd::config::Config;

/// A Dovecot-protocol authentication daemon for Postfix and Exim, on the saslmech engine.
#[derive(Parser, Debug)]
#[command(name = "saslmech-authd", version)]
struct Cli {
    /// The configuration file (TOML).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the configuration (and the files it names) and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(path) = cli.config else {
        eprintln!("saslmech-authd: --config FILE is required");
        return ExitCode::from(2);
    };
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("saslmech-authd: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.check_config {
        println!("saslmech-authd: {} is valid", path.display());
        return ExitCode::SUCCESS;
    }
    let _ = config;
    eprintln!("saslmech-authd: the server is not implemented yet");
    ExitCode::from(1)
}
