//! The reference that follows clap's generated help (usage, commands, flags): the line
//! protocol, the flags and users-file entries each mechanism takes, channel binding, the exit
//! status. The same text follows `saslmech --help`, `saslmech client --help` and
//! `saslmech server --help`, so that each is complete on its own.

use std::fmt::Write as _;

use crate::mechs;

/// The reference, with one line per mechanism the tool drives in each table.
pub fn reference() -> String {
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
The client reads the server's challenges from standard input and writes its responses to
standard output; the server writes challenges and reads responses. Both speak the line
protocol of the GNU SASL tool (gsasl --client / gsasl --server):
  - strict alternation, server first: the server writes its first challenge (an empty line
    for a client-first mechanism such as PLAIN), the client answers it (with its initial
    response, for a client-first mechanism), and so on;
  - one base64 token a line; an empty line is an empty token; nothing else on stdout;
  - on success the server writes one final line: empty, or the mechanism's success data
    (SCRAM's server signature; with server --no-success-data it goes out as one more
    challenge instead); on failure it writes nothing more and exits;
  - after the server's final line the client writes one empty line (gsasl's server reads
    one more line after its last step) and exits; the server exits after its final line,
    and if that line carried success data it first reads the client's acknowledgement:
    one empty line, or end of input.
The outcome and the authenticated identity are reported on standard error.

Client flags, by mechanism (names are case-insensitive):
{client_lines}
  SCRAM: the client checks the server's signature (exit 0 only if it verifies) and
  accepts an iteration count from 4096 to 600000. OAUTHBEARER: the token's user (a=) is
  --authzid Z if given, else --authcid U. EXTERNAL: the identity is the transport's;
  --authzid asks to act as Z. ANONYMOUS: --trace is optional trace information.

Server: FILE holds accounts, one user:secret a line ('#' starts a comment line; split at
the first colon; a user may have several lines):
  user:password             a plaintext password ({{PLAIN}}password if it starts with '{{'
                            or 'SCRAM-'); SCRAM keys are derived from it at load
  user:{{CRAM-MD5}}<64 hex>   Dovecot's CRAM-MD5 hash (doveadm pw -s CRAM-MD5)
  user:SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
                            RFC 5803 stored keys (likewise SCRAM-SHA-1$... and
                            SCRAM-SHA-512$...); they also
                            check PLAIN and LOGIN passwords
  user:{{BEARER}}token        a bearer token (OAUTHBEARER, XOAUTH2)
A file with an empty secret is refused, naming the line: an empty password or token, a
password SASLprep maps to nothing (such as U+00AD alone), the {{CRAM-MD5}} hash or the SCRAM
keys of the empty password. What each mechanism needs:
{server_lines}
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
  saslmech client --mechanism SCRAM-SHA-256 --authcid alice --password-file pw >c2s <s2c"
    )
}

/// After `saslmech completions --help`: where each shell wants its script.
pub const COMPLETIONS: &str = "\
Install the script where the shell looks for completions, for example:
  bash  saslmech completions bash > ~/.local/share/bash-completion/completions/saslmech
  zsh   saslmech completions zsh > ~/.zfunc/_saslmech   (with fpath+=~/.zfunc before compinit)
  fish  saslmech completions fish > ~/.config/fish/completions/saslmech.fish";

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use crate::args::Cli;
    use crate::mechs;

    #[test]
    fn the_reference_names_every_mechanism_and_flag() {
        let h = super::reference();
        for m in mechs::supported() {
            let s = mechs::shape(m).unwrap();
            let listed = |what: &str| {
                h.lines()
                    .any(|l| l.split_whitespace().next() == Some(m.name()) && l.ends_with(what))
            };
            assert!(listed(s.client_flags), "{m}");
            assert!(listed(s.server_needs), "{m}");
        }
        for flag in [
            "--authzid",
            "--cb-type",
            "--cb-data-hex",
            "--trace",
            "--external-id",
            "--no-success-data",
            "SCRAM-SHA-256$",
            "{CRAM-MD5}",
            "{BEARER}",
            "U+00AD",
            "Exit status",
        ] {
            assert!(h.contains(flag), "{flag}");
        }
    }

    #[test]
    fn each_subcommand_lists_its_own_flags() {
        let mut cli = Cli::command();
        let mut help = |sub: &str| {
            cli.find_subcommand_mut(sub)
                .unwrap()
                .render_help()
                .to_string()
        };
        let client = help("client");
        let server = help("server");
        for flag in [
            "--mechanism <M>",
            "--authcid <U>",
            "--password <P>",
            "--password-file <F>",
            "--token <T>",
            "--authzid <Z>",
            "--trace <T>",
            "--cb-type <T>",
            "--cb-data-hex <H>",
        ] {
            assert!(client.contains(flag), "client: {flag}\n{client}");
        }
        for flag in [
            "--mechanism <M>",
            "--users <FILE>",
            "--cb-type <T>",
            "--cb-data-hex <H>",
            "--external-id <ID>",
            "--no-success-data",
        ] {
            assert!(server.contains(flag), "server: {flag}\n{server}");
        }
        assert!(!client.contains("--users <FILE>") && !server.contains("--password <P>"));
    }
}
