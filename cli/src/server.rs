//! `saslmech server`: challenge a client on standard output, check it against a users file.

use std::io::{BufRead, Write};
use std::sync::Arc;

use saslmech::{
    Error, Failure, Request, SecretBuf, ServerConfig, ServerSession, ServerStep, Transport,
};

use crate::args::ServerArgs;
use crate::lines::{read_line, write_line};
use crate::{Exit, mechs, say};
use saslmech_users::{Directory, Verdict};

/// What a step asks for, owned, so the session can be called again.
enum Action {
    Challenge(SecretBuf),
    Answer(Verdict),
    Success {
        authcid: String,
        authzid: Option<String>,
        data: Option<SecretBuf>,
    },
    Failure(Failure),
    Misuse(Error),
}

/// Run one server exchange.
pub fn run<R: BufRead, W: Write>(
    args: &ServerArgs,
    dir: &Directory,
    input: &mut R,
    output: &mut W,
    log: &mut dyn Write,
) -> Exit {
    let m = args.mechanism;
    let report = |log: &mut dyn Write, msg: std::fmt::Arguments<'_>| {
        say(log, "server", format_args!("{m}: {msg}"))
    };
    // Channel binding (the -PLUS mechanisms only; see mechs::check_channel_binding).
    if let Err(e) = mechs::check_channel_binding(m, args.cb.as_ref()) {
        report(log, format_args!("{e}"));
        return Exit::Usage;
    }
    // A local pipe: no TLS, so the mechanisms that need it are allowed explicitly; listing
    // the mechanism enables it (EXTERNAL and ANONYMOUS are off by default). The final line
    // carries success data unless --no-success-data.
    let config = Arc::new(
        ServerConfig::new()
            .mechanisms(&[m])
            .allow_plaintext_without_tls(true),
    );
    let mut transport = Transport::plaintext().with_success_data(args.success_data);
    if let Some(cb) = &args.cb {
        transport = transport.with_channel_binding(cb.kind, &cb.data);
    }
    if let Some(id) = &args.external_id {
        transport = transport.with_external_identity(id);
    }
    let mut session = match ServerSession::new(&config, m, &transport) {
        Ok(s) => s,
        Err(f) => {
            report(log, format_args!("{f}"));
            return Exit::Usage;
        }
    };

    let mut line = SecretBuf::new();
    // A client-first mechanism: an empty first challenge, answered by the initial response.
    let first = if m.client_first() {
        if let Err(e) = write_line(output, b"") {
            report(log, format_args!("writing standard output: {e}"));
            return Exit::Usage;
        }
        if let Some(exit) = read_response(input, &mut line, log, &report) {
            return exit;
        }
        session.start_b64(Some(line.as_slice()))
    } else {
        session.start_b64(None)
    };

    let mut step = first;
    loop {
        let action = match step {
            Ok(ServerStep::Challenge(c)) => Action::Challenge(SecretBuf::from_slice(c)),
            Ok(ServerStep::Request(r)) => Action::Answer(decide(dir, &r)),
            Ok(ServerStep::Success(ok)) => Action::Success {
                authcid: ok.identity.authcid().to_owned(),
                authzid: ok.identity.authzid().map(str::to_owned),
                data: ok.data.map(SecretBuf::from_slice),
            },
            Ok(ServerStep::Failure(f)) => Action::Failure(f),
            Ok(_) => Action::Failure(Failure::Malformed),
            Err(e) => Action::Misuse(e),
        };
        step = match action {
            Action::Challenge(c) => {
                if let Err(e) = write_line(output, c.as_slice()) {
                    report(log, format_args!("writing standard output: {e}"));
                    return Exit::Usage;
                }
                if let Some(exit) = read_response(input, &mut line, log, &report) {
                    return exit;
                }
                session.step_b64(line.as_slice())
            }
            Action::Answer(v) => session.answer_b64(v.answer()),
            Action::Success {
                authcid,
                authzid,
                data,
            } => {
                let final_line = data.as_ref().map_or(&b""[..], SecretBuf::as_slice);
                if let Err(e) = write_line(output, final_line) {
                    report(
                        log,
                        format_args!("could not write the final line (the client left?): {e}"),
                    );
                }
                match authzid {
                    Some(z) => report(
                        log,
                        format_args!("authenticated authcid={authcid:?} authzid={z:?}"),
                    ),
                    None => report(log, format_args!("authenticated authcid={authcid:?}")),
                }
                if let Some(t) = session.anonymous_trace() {
                    report(log, format_args!("trace={t:?}"));
                }
                // Success data (SCRAM's v=) is acknowledged by the client with one line,
                // answered with one more; otherwise there is nothing left to read.
                return if data.is_some() {
                    finish(input, output, &mut line, log, &report)
                } else {
                    Exit::Success
                };
            }
            Action::Failure(f) => {
                report(log, format_args!("authentication failed: {f}"));
                return if f == Failure::InvalidBase64 {
                    Exit::Usage
                } else {
                    Exit::Failure
                };
            }
            Action::Misuse(e) => {
                report(log, format_args!("internal error: {e}"));
                return Exit::Usage;
            }
        };
    }
}

type Report<'a> = dyn Fn(&mut dyn Write, std::fmt::Arguments<'_>) + 'a;

/// Read the client's next line; `Some(exit)` if the exchange cannot go on.
fn read_response<R: BufRead>(
    input: &mut R,
    line: &mut SecretBuf,
    log: &mut dyn Write,
    report: &Report<'_>,
) -> Option<Exit> {
    match read_line(input, line) {
        Ok(true) => None,
        Ok(false) => {
            report(
                log,
                format_args!("authentication failed: the client ended the exchange"),
            );
            Some(Exit::Failure)
        }
        Err(e) => {
            report(log, format_args!("{e}"));
            Some(Exit::Usage)
        }
    }
}

/// After success data: accept the client's acknowledgement, one empty line (what a gsasl
/// client sends), or end of input. An empty line is answered with one empty line: a gsasl
/// client reads one more line after its last step (if the client has gone, that is fine).
/// Reads nothing more: a gsasl peer waits for end of input from us before it closes its
/// side.
fn finish<R: BufRead, W: Write>(
    input: &mut R,
    output: &mut W,
    line: &mut SecretBuf,
    log: &mut dyn Write,
    report: &Report<'_>,
) -> Exit {
    match read_line(input, line) {
        Ok(false) => Exit::Success,
        Ok(true) if line.is_empty() => {
            let _ = write_line(output, b"");
            Exit::Success
        }
        Ok(true) => {
            report(
                log,
                format_args!("unexpected input after the exchange ended"),
            );
            Exit::Usage
        }
        Err(e) => {
            report(log, format_args!("{e}"));
            Exit::Usage
        }
    }
}

/// Answer the engine's request from the users file.
fn decide(dir: &Directory, request: &Request<'_>) -> Verdict {
    match request {
        Request::VerifyPassword(p) => dir.verify_password(p.authcid(), p.password()),
        Request::Secret(s) => dir.secret(s.mechanism(), s.authcid()),
        Request::ValidateToken(t) => dir.validate_token(t.mechanism(), t.user(), t.token()),
        // The users file says nothing about who may act as whom: nobody may.
        Request::Authorize(_) => Verdict::Reject,
        // GSSAPI, GS2-KRB5: the keytab vouched for the principal, which logs in as itself.
        #[cfg(feature = "gssapi")]
        Request::Principal(_) => Verdict::Accept,
        _ => Verdict::Reject,
    }
}
