//! `saslmech-authd`: the command line.
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use saslmech_authd::config::Config;
use saslmech_authd::scheme::Scheme;
use saslmech_authd::server;

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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a passwd-file password field in a scheme (like `doveadm pw`).
    Hash {
        /// The scheme: PLAIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, SHA512-CRYPT,
        /// SHA256-CRYPT, BLF-CRYPT, ARGON2I, ARGON2ID, SSHA, SSHA256, SSHA512.
        #[arg(long, short = 's', default_value = "SHA512-CRYPT")]
        scheme: String,
        /// The password (visible to other local users in the process list: prefer stdin).
        #[arg(long, short = 'p')]
        password: Option<String>,
        /// The user name: print a whole passwd-file line `user:{SCHEME}...`.
        #[arg(long, short = 'u')]
        user: Option<String>,
        /// SCRAM iteration count.
        #[arg(long, default_value_t = 4096)]
        scram_iterations: u32,
    },
}

/// Turn the terminal's echo on or off with `stty` (standard input is the terminal).
fn set_echo(on: bool) -> bool {
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}

fn read_password() -> Result<String, String> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let hidden = terminal && set_echo(false);
    if terminal {
        eprint!(
            "Enter new password{}: ",
            if hidden { "" } else { " (echoed)" }
        );
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if hidden {
        set_echo(true);
        eprintln!();
    }
    read.map_err(|e| format!("reading the password: {e}"))?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    if pw.is_empty() {
        return Err("empty password".to_owned());
    }
    Ok(pw.to_owned())
}

fn hash_command(
    scheme: &str,
    password: Option<String>,
    user: Option<String>,
    iterations: u32,
) -> ExitCode {
    let Some(s) = Scheme::from_name(scheme) else {
        let names: Vec<&str> = Scheme::ALL.iter().map(|s| s.name()).collect();
        eprintln!(
            "saslmech-authd hash: unknown scheme {scheme:?} (one of {})",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let pw = match password.map_or_else(read_password, Ok) {
        Ok(p) => zeroize::Zeroizing::new(p),
        Err(e) => {
            eprintln!("saslmech-authd hash: {e}");
            return ExitCode::from(1);
        }
    };
    match saslmech_authd::scheme::hash(s, pw.as_bytes(), iterations) {
        Ok(entry) => {
            match user {
                Some(u) => println!("{u}:{entry}"),
                None => println!("{entry}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("saslmech-authd hash: {e}");
            ExitCode::from(1)
        }
    }
}

/// Log to stderr through the batching writer; the returned guard writes out what is left.
fn init_logging(level: &str) -> Option<saslmech_authd::logwriter::Flusher> {
    let level = match level {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .fmt_fields(saslmech_authd::logfmt::Fields)
        .with_timer(saslmech_authd::logfmt::Time);
    match saslmech_authd::logwriter::start() {
        Ok((writer, flusher)) => {
            builder.with_writer(writer).init();
            Some(flusher)
        }
        Err(_) => {
            builder.with_writer(std::io::stderr).init();
            None
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Hash {
        scheme,
        password,
        user,
        scram_iterations,
    }) = cli.command
    {
        return hash_command(&scheme, password, user, scram_iterations);
    }
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
        return check(config, &path);
    }
    let _log = init_logging(&config.log.level);
    let mut builder = match config.runtime.worker_threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if n > 1 {
                b.worker_threads(n);
            }
            b
        }
    };
    let runtime = match builder.enable_all().thread_name("authd").build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("saslmech-authd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(run(config, path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    };
    // Stop the runtime (and its blocking threads) before the log is written out.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

/// `--check-config`: also load the passwd-file and the keys; line problems are errors here.
fn check(config: Config, path: &std::path::Path) -> ExitCode {
    match saslmech_authd::backend::State::build(config, [0; 32]) {
        Ok((state, errors)) if errors.is_empty() => {
            match state.passdb.users() {
                Some(n) => println!("saslmech-authd: {} is valid ({n} users)", path.display()),
                None => println!(
                    "saslmech-authd: {} is valid (PostgreSQL passdb; the database is not contacted)",
                    path.display()
                ),
            }
            ExitCode::SUCCESS
        }
        Ok((state, errors)) => {
            let file = state
                .config
                .passdb
                .passwd_file
                .as_deref()
                .unwrap_or(std::path::Path::new("-"));
            for e in &errors {
                eprintln!(
                    "saslmech-authd: passdb.passwd_file: {}: {e}",
                    file.display()
                );
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("saslmech-authd: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(config: Config, path: PathBuf) -> Result<(), String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| format!("SIGHUP: {e}"))?;
    let listeners = server::bind(&config).await?;
    let daemon = server::Daemon::new(config, Some(path))?;
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            // A reload already queued covers this one too.
            let _ = reload_tx.try_send(());
        }
    });
    let stop = async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
    };
    server::serve(daemon, listeners, reload_rx, stop, Duration::from_secs(10)).await;
    Ok(())
}
