//! `saslmech client`: answer the server's challenges from standard input.

use std::io::{BufRead, Write};

use saslmech::{ClientConfig, ClientSession, Credentials, Error, Failure, SecretBuf, b64};

use crate::args::ClientArgs;
use crate::lines::{read_line, write_line};
use crate::{Exit, mechs, say};

/// Run one client exchange.
pub fn run<R: BufRead, W: Write>(
    args: &ClientArgs,
    input: &mut R,
    output: &mut W,
    log: &mut dyn Write,
) -> Exit {
    let m = args.mechanism;
    let report = |log: &mut dyn Write, msg: std::fmt::Arguments<'_>| {
        say(log, "client", format_args!("{m}: {msg}"))
    };
    let Some(shape) = mechs::shape(m) else {
        report(log, format_args!("not supported by this tool"));
        return Exit::Usage;
    };
    let mut creds = Credentials::new();
    if let Some(a) = &args.authcid {
        creds = creds.authcid(a);
    }
    if let Some(z) = &args.authzid {
        creds = creds.authzid(z);
    }
    if let Some(p) = &args.password {
        creds = creds.password(p.as_slice());
    }
    if let Some(t) = &args.token {
        creds = creds.token(t.as_slice());
    }
    if let Some(t) = &args.trace {
        creds = creds.trace(t);
    }
    #[cfg(feature = "gssapi")]
    if let (Some(s), Some(h)) = (&args.service, &args.hostname) {
        creds = creds.service(s).host(h);
    }
    // Channel binding (the -PLUS mechanisms only; see mechs::check_channel_binding).
    if let Err(e) = mechs::check_channel_binding(m, args.cb.as_ref()) {
        report(log, format_args!("{e}"));
        return Exit::Usage;
    }
    let mut config = ClientConfig::new();
    if let Some(cb) = &args.cb {
        config = config.channel_binding(cb.kind, &cb.data);
    }
    let mut session = match ClientSession::with_config(m, &creds, &config) {
        Ok(s) => s,
        Err(e) => {
            report(log, format_args!("{e}"));
            return Exit::Usage;
        }
    };

    let mut line = SecretBuf::new();
    let mut sent = 0usize;
    let mut oauth_reported = false;
    loop {
        match read_line(input, &mut line) {
            Ok(true) => {}
            Ok(false) => {
                report(
                    log,
                    format_args!(
                        "not completed: the server ended the exchange (authentication failed)"
                    ),
                );
                return Exit::Failure;
            }
            Err(e) => {
                report(log, format_args!("{e}"));
                return Exit::Usage;
            }
        }

        // After the client's last message, an empty line (or, for mechanisms with success
        // data, any line) is the server's final word.
        if sent >= shape.client_messages && (line.is_empty() || shape.success_data) {
            let data = if line.is_empty() {
                None
            } else {
                match b64::decode(line.as_slice()) {
                    Ok(d) => Some(d),
                    Err(_) => {
                        report(log, format_args!("the server's final line is not base64"));
                        return Exit::Usage;
                    }
                }
            };
            return match session.finish(data.as_ref().map(SecretBuf::as_slice)) {
                Ok(()) => {
                    // The trailing empty line gsasl's server reads after its last step; if
                    // the server is already gone, that is fine.
                    let _ = write_line(output, b"");
                    if shape.success_data {
                        report(log, format_args!("completed; server verified"));
                    } else {
                        report(log, format_args!("completed"));
                    }
                    Exit::Success
                }
                Err(e) => {
                    report(log, format_args!("not completed: {e}"));
                    Exit::Failure
                }
            };
        }

        let response = match session.step_b64(line.as_slice()) {
            Ok(r) => r,
            Err(Error::Failed(Failure::InvalidBase64)) => {
                report(log, format_args!("the server's line is not base64"));
                return Exit::Usage;
            }
            Err(e) => {
                report(log, format_args!("not completed: {e}"));
                return Exit::Failure;
            }
        };
        if let Err(e) = write_line(output, response) {
            report(log, format_args!("writing standard output: {e}"));
            return Exit::Usage;
        }
        sent += 1;
        if !oauth_reported && let Some(err) = session.oauth_error() {
            oauth_reported = true;
            report(
                log,
                format_args!(
                    "server error challenge: status {:?}, scope {:?}",
                    err.status.as_deref().unwrap_or("-"),
                    err.scope.as_deref().unwrap_or("-"),
                ),
            );
        }
    }
}
