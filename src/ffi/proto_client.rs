//! `saslmech_proto_client`: the client side of SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH
//! (the command to send, server lines in, responses and the outcome out), and parsing which
//! mechanisms a server advertises.

use super::client::{client_config_or_default, saslmech_client_config, saslmech_credentials};
use super::enums::*;
use super::panic::*;
use super::proto_server::saslmech_event;
use super::proto_server::{SASLMECH_EVENT_DONE, SASLMECH_EVENT_MORE, SASLMECH_EVENT_SEND};
use crate::SecretBuf;
use crate::mechanism::Mechanism;
use crate::proto::imap::ImapClient;
use crate::proto::pop3::Pop3Client;
use crate::proto::smtp::SmtpClient;
use crate::proto::{self, ClientEvent, ClientOutcome};

enum ClientAdapter {
    Smtp(SmtpClient),
    Imap(ImapClient),
    Pop3(Pop3Client),
}

/// The client side of SMTP AUTH, IMAP AUTHENTICATE or POP3 AUTH (made by
/// `saslmech_proto_client_new`): it
/// builds the command, takes the server's reply lines, and gives the responses to write and
/// the outcome. It may be moved between threads but not used by two threads at once.
pub struct saslmech_proto_client {
    /// Always `Some` between calls (taken only to apply a builder method).
    adapter: Option<ClientAdapter>,
    mechanism: Mechanism,
    started: bool,
    event: Option<saslmech_event>,
    /// The command or response to write (carries passwords: wiped).
    out: SecretBuf,
    outcome: Option<ClientOutcome>,
    poisoned: Poison,
}

impl Handle for saslmech_proto_client {
    fn poisoned(&self) -> &Poison {
        &self.poisoned
    }
}

impl saslmech_proto_client {
    fn adapter_mut(&mut self) -> R<&mut ClientAdapter> {
        self.adapter.as_mut().ok_or(SASLMECH_POISONED)
    }

    /// Apply a builder method before the command is built.
    fn configure(&mut self, f: impl FnOnce(ClientAdapter) -> R<ClientAdapter>) -> R<()> {
        if self.started {
            return Err(SASLMECH_INVALID_STATE);
        }
        let a = self.adapter.take().ok_or(SASLMECH_POISONED)?;
        self.adapter = Some(f(a)?);
        Ok(())
    }

    fn start(&mut self) -> R<()> {
        let cmd = match self.adapter_mut()? {
            ClientAdapter::Smtp(a) => a.start(),
            ClientAdapter::Imap(a) => a.start(),
            ClientAdapter::Pop3(a) => a.start(),
        }
        .map_err(error_to_c)?;
        self.started = true;
        self.out = cmd;
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> R<saslmech_event> {
        let event = match self.adapter_mut()? {
            ClientAdapter::Smtp(a) => a.reply(line),
            ClientAdapter::Imap(a) => a.line(line),
            ClientAdapter::Pop3(a) => a.line(line),
        }
        .map_err(error_to_c)?;
        self.out.clear();
        let kind = match event {
            ClientEvent::Send(bytes) => {
                self.out = bytes;
                SASLMECH_EVENT_SEND
            }
            ClientEvent::More => SASLMECH_EVENT_MORE,
            ClientEvent::Done(outcome) => {
                self.outcome = Some(outcome);
                SASLMECH_EVENT_DONE
            }
        };
        self.event = Some(kind);
        Ok(kind)
    }
}

/// Make a client adapter for `protocol` (`SASLMECH_PROTOCOL_*`) and `mechanism`, with the
/// settings of `config` (channel binding for the SCRAM `-PLUS` mechanisms, SCRAM iteration
/// bounds, challenge limit), or the defaults if `config` is NULL. IMAP needs the command's
/// `tag` (1 to 64 IMAP `ASTRING-CHAR`s other than `+`); SMTP and POP3 take NULL (a tag for
/// them is `SASLMECH_INVALID_ARGUMENT`). It sends an initial response with the command when
/// the mechanism has one (`saslmech_proto_client_set_initial_response`) and the line fits:
/// SMTP 12288 octets (`saslmech_smtp_client_set_max_line`), POP3 255, IMAP with SASL-IR.
/// `SASLMECH_INVALID_ARGUMENT` if the credentials lack what the mechanism needs (or for a
/// SCRAM `-PLUS` mechanism without channel-binding data in `config`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_new(
    protocol: saslmech_protocol,
    tag: *const u8,
    tag_len: usize,
    mechanism: saslmech_mechanism,
    credentials: *const saslmech_credentials,
    config: *const saslmech_client_config,
    out: *mut *mut saslmech_proto_client,
) -> saslmech_result {
    // SAFETY: the C contract: `credentials` is a live handle not being changed, `config` NULL
    // or one, `tag` NULL or valid for `tag_len` bytes; `out` NULL or writable.
    unsafe {
        with_ref(credentials, |c| {
            nonnull(out)?;
            let protocol = protocol_from_c(protocol)?;
            let config = client_config_or_default(config)?;
            let mechanism = mechanism_from_c(mechanism)?;
            let tag = match opt_bytes(tag, tag_len)? {
                Some(t) => Some(core::str::from_utf8(t).map_err(|_| SASLMECH_INVALID_UTF8)?),
                None => None,
            };
            let creds = c.borrow();
            let adapter = match (protocol, tag) {
                (Protocol::Smtp, None) => {
                    SmtpClient::with_config(mechanism, &creds, &config).map(ClientAdapter::Smtp)
                }
                (Protocol::Pop3, None) => {
                    Pop3Client::with_config(mechanism, &creds, &config).map(ClientAdapter::Pop3)
                }
                (Protocol::Imap, Some(tag)) => {
                    ImapClient::with_config(tag, mechanism, &creds, &config)
                        .map(ClientAdapter::Imap)
                }
                _ => return Err(SASLMECH_INVALID_ARGUMENT),
            }
            .map_err(error_to_c)?;
            let h = saslmech_proto_client {
                adapter: Some(adapter),
                mechanism,
                started: false,
                event: None,
                out: SecretBuf::new(),
                outcome: None,
                poisoned: Poison::default(),
            };
            put(out, Box::into_raw(Box::new(h)));
            Ok(())
        })
    }
}

/// Free a client adapter (NULL is a no-op), wiping its copy of the credentials and the last
/// response.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_free(client: *mut saslmech_proto_client) {
    // SAFETY: the C contract: `client` came from a `saslmech_*_client_new`, freed once.
    unsafe { free(client) }
}

/// Whether to send an initial response with the command when the mechanism has one (on by
/// default; for IMAP turn it off for a server that does not list `SASL-IR`, see
/// `saslmech_imap_has_sasl_ir`). Without it the response follows the server's empty
/// challenge. Only before `saslmech_proto_client_start` (else `SASLMECH_INVALID_STATE`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_set_initial_response(
    client: *mut saslmech_proto_client,
    use_initial_response: bool,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe {
        with_mut(client, |c| {
            c.configure(|a| {
                Ok(match a {
                    ClientAdapter::Smtp(a) => {
                        ClientAdapter::Smtp(a.initial_response(use_initial_response))
                    }
                    ClientAdapter::Imap(a) => ClientAdapter::Imap(a.sasl_ir(use_initial_response)),
                    ClientAdapter::Pop3(a) => {
                        ClientAdapter::Pop3(a.initial_response(use_initial_response))
                    }
                })
            })
        })
    }
}

/// The longest SMTP command line, CRLF included, that may carry an initial response (at
/// least 1; default 12288); a longer one goes without it. `SASLMECH_INVALID_ARGUMENT` for an
/// IMAP client (no limit) or a POP3 client (RFC 2449's 255, fixed). Only before
/// `saslmech_proto_client_start`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_smtp_client_set_max_line(
    client: *mut saslmech_proto_client,
    max: usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe {
        with_mut(client, |c| {
            if max == 0 || !matches!(c.adapter, Some(ClientAdapter::Smtp(_))) {
                return Err(SASLMECH_INVALID_ARGUMENT);
            }
            c.configure(|a| match a {
                ClientAdapter::Smtp(a) => Ok(ClientAdapter::Smtp(a.max_line(max))),
                other => Ok(other),
            })
        })
    }
}

/// The client's mechanism.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_mechanism(
    client: *const saslmech_proto_client,
    mechanism: *mut saslmech_mechanism,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(mechanism)?;
            put(mechanism, mechanism_to_c(c.mechanism).0);
            Ok(())
        })
    }
}

/// The command to send (`AUTH PLAIN AHRpbQ...`, `a1 AUTHENTICATE PLAIN ...`), CRLF included;
/// then pass each server line to `saslmech_proto_client_line`. Only once. Valid until the
/// next non-const call on this client.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_start(
    client: *mut saslmech_proto_client,
    command: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only.
    unsafe {
        with_mut(client, |c| {
            nonnull(command)?;
            nonnull(len)?;
            c.start()?;
            put_bytes(command, len, c.out.as_slice());
            Ok(())
        })
    }
}

/// Pass a line from the server (with or without its CRLF) and write what follows to `*event`:
/// `SASLMECH_EVENT_SEND` (write `saslmech_proto_client_output`), `SASLMECH_EVENT_MORE` (read
/// another line) or `SASLMECH_EVENT_DONE` (`saslmech_proto_client_outcome`). A line that
/// cannot be parsed ends the exchange (`SASLMECH_FAILURE_MALFORMED`); a challenge the
/// mechanism cannot answer is answered with `*` and the exchange ends at the server's reply.
/// `SASLMECH_INVALID_STATE` before start or after the end.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_line(
    client: *mut saslmech_proto_client,
    line: *const u8,
    len: usize,
    event: *mut saslmech_event,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle used by this thread only; `line` is
    // valid for `len` bytes.
    unsafe {
        with_mut(client, |c| {
            nonnull(event)?;
            let line = bytes(line, len)?;
            put(event, c.line(line)?);
            Ok(())
        })
    }
}

/// The bytes to write after `SASLMECH_EVENT_SEND` (a response line with CRLF, or `*\r\n`);
/// `SASLMECH_INVALID_STATE` after any other event. Valid until the next non-const call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_output(
    client: *const saslmech_proto_client,
    output: *mut *const u8,
    len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(output)?;
            nonnull(len)?;
            if c.event != Some(SASLMECH_EVENT_SEND) {
                return Err(SASLMECH_INVALID_STATE);
            }
            put_bytes(output, len, c.out.as_slice());
            Ok(())
        })
    }
}

/// How the exchange ended, after `SASLMECH_EVENT_DONE` (else `SASLMECH_INVALID_STATE`):
/// `*authenticated` is true if the server accepted the client and the client has nothing
/// against the server; `*failure` is why not (`SASLMECH_FAILURE_NONE` when authenticated):
/// the client's own reason if it gave up, else what the server's reply indicates.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_outcome(
    client: *const saslmech_proto_client,
    authenticated: *mut bool,
    failure: *mut saslmech_failure,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(authenticated)?;
            nonnull(failure)?;
            let o = c.outcome.as_ref().ok_or(SASLMECH_INVALID_STATE)?;
            let f = o
                .failure
                .map_or(saslmech_failure::SASLMECH_FAILURE_NONE, failure_to_c);
            put(authenticated, o.authenticated);
            put(failure, f);
            Ok(())
        })
    }
}

/// The server's final reply, after `SASLMECH_EVENT_DONE` (else `SASLMECH_INVALID_STATE`):
/// its status — the SMTP reply code (`"235"`, `"535"`), IMAP's `"OK"`/`"NO"`/`"BAD"`, POP3's
/// `"+OK"`/`"-ERR"`; empty if the reply could not be parsed — and its text after the status
/// (an SMTP multi-line reply's lines joined by `\n`, at most 4096 octets; printable ASCII,
/// other bytes the server sent become `?`). Both valid until the client is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_client_outcome_reply(
    client: *const saslmech_proto_client,
    status: *mut *const u8,
    status_len: *mut usize,
    text: *mut *const u8,
    text_len: *mut usize,
) -> saslmech_result {
    // SAFETY: the C contract: `client` is a live handle not being changed.
    unsafe {
        with_ref(client, |c| {
            nonnull(status)?;
            nonnull(status_len)?;
            nonnull(text)?;
            nonnull(text_len)?;
            let o = c.outcome.as_ref().ok_or(SASLMECH_INVALID_STATE)?;
            put_bytes(status, status_len, o.status.as_bytes());
            put_bytes(text, text_len, o.text.as_bytes());
            Ok(())
        })
    }
}

/// Join `names` with single spaces into the caller's buffer.
///
/// # Safety
/// `out` is non-NULL and valid for `cap` byte writes; `out_len` non-NULL and writable.
unsafe fn put_names(names: &[String], out: *mut u8, cap: usize, out_len: *mut usize) -> R<()> {
    let joined = names.join(" ");
    // SAFETY: forwarded from the caller.
    unsafe { copy_out(joined.as_bytes(), out, cap, out_len) }
}

/// Lines of a (possibly multi-line) response.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| *b == b'\n')
}

/// The mechanisms a server advertises, from its reply to the capability command of
/// `protocol` (`text`: the whole reply with its lines separated by CRLF or LF, or a single
/// line): SMTP's EHLO reply (`250-AUTH PLAIN LOGIN` and the old `250-AUTH=PLAIN` forms),
/// IMAP's `CAPABILITY` response (`AUTH=PLAIN` tokens), POP3's `CAPA` response (its `SASL`
/// line). Written upper-cased, without duplicates, in order, separated by single spaces into
/// `out` (capacity `out_cap`; as many octets as the reply always suffice), ready for
/// `saslmech_select`. Empty if the server advertises none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_proto_mechanisms(
    protocol: saslmech_protocol,
    text: *const u8,
    text_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> saslmech_result {
    guard(|| {
        nonnull(out)?;
        nonnull(out_len)?;
        // SAFETY: the C contract: `text` is valid for `text_len` bytes.
        let text = unsafe { bytes(text, text_len) }?;
        let names = match protocol_from_c(protocol)? {
            Protocol::Smtp => proto::smtp::ehlo_mechanisms(lines(text)),
            Protocol::Imap => unique(lines(text).flat_map(proto::imap::capability_mechanisms)),
            Protocol::Pop3 => unique(lines(text).flat_map(proto::pop3::capa_mechanisms)),
        };
        // SAFETY: as above, for `out` and `out_len`.
        unsafe { put_names(&names, out, out_cap, out_len) }
    })
}

/// The names in order, each once.
fn unique(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Whether an IMAP `CAPABILITY` response lists `SASL-IR` (or `IMAP4rev2`, where it is core):
/// if not, turn initial responses off (`saslmech_proto_client_set_initial_response`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn saslmech_imap_has_sasl_ir(
    capability: *const u8,
    capability_len: usize,
    has: *mut bool,
) -> saslmech_result {
    guard(|| {
        nonnull(has)?;
        // SAFETY: the C contract: `capability` is valid for `capability_len` bytes.
        let capability = unsafe { bytes(capability, capability_len) }?;
        let found = lines(capability).any(proto::imap::has_sasl_ir);
        // SAFETY: `has` checked non-NULL above.
        unsafe { put(has, found) };
        Ok(())
    })
}
