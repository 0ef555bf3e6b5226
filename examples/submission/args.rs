//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use saslmech::Mechanism;

use crate::Limits;

/// Every mechanism the demo enables by default, in the order it advertises them. EXTERNAL
/// is offered only to a client that presented the demo client certificate.
const DEFAULT_MECHANISMS: [Mechanism; 12] = [
    Mechanism::ScramSha256Plus,
    Mechanism::ScramSha512Plus,
    Mechanism::ScramSha256,
    Mechanism::ScramSha512,
    Mechanism::ScramSha1Plus,
    Mechanism::ScramSha1,
    Mechanism::OAuthBearer,
    Mechanism::XOAuth2,
    Mechanism::CramMd5,
    Mechanism::Plain,
    Mechanism::Login,
    Mechanism::External,
];

pub(crate) struct Args {
    pub(crate) listen: String,
    pub(crate) users: Option<PathBuf>,
    pub(crate) allow_insecure_auth: bool,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) limits: Limits,
    /// GSSAPI and GS2-KRB5 with this keytab (feature `gssapi`).
    pub(crate) keytab: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: submission [--listen ADDR] [--users FILE] [--allow-insecure-auth] [--mechanisms LIST]\n\
         \x20                 [--max-connections N] [--command-timeout SECS] [--session-timeout SECS]\n\
         \x20                 [--stress-command-timeout SECS] [--stress-session-timeout SECS]\n\
         \n\
         --listen ADDR          address to listen on (default 127.0.0.1:2587; port 0 picks one)\n\
         --users FILE           accounts, one user:secret a line (see docs/cli.md)\n\
         --allow-insecure-auth  allow PLAIN, LOGIN, OAUTHBEARER and XOAUTH2 without STARTTLS (testing only)\n\
         --keytab FILE          also offer GS2-KRB5 and GSSAPI, accepting smtp/localhost from this keytab\n\
         \x20                      (needs the cargo feature gssapi; each principal logs in as itself)\n\
         --mechanisms LIST      enable only these, comma-separated, in this order (default:\n\
         \x20                      SCRAM-SHA-256-PLUS,SCRAM-SHA-512-PLUS,SCRAM-SHA-256,SCRAM-SHA-512,\n\
         \x20                      SCRAM-SHA-1-PLUS,SCRAM-SHA-1,\n\
         \x20                      OAUTHBEARER,XOAUTH2,CRAM-MD5,PLAIN,LOGIN,EXTERNAL)\n\
         --max-connections N    connections served at once (default 64); one more gets 421\n\
         --command-timeout SECS time for one whole line or the TLS handshake (default 300)\n\
         --session-timeout SECS time for a whole session (default 1800)\n\
         --stress-command-timeout SECS, --stress-session-timeout SECS\n\
         \x20                      the same while the table is full, until it is 3/4 full\n\
         \x20                      (defaults 10 and 120); SECS may have decimals"
    );
    std::process::exit(2)
}

pub(crate) fn parse_args() -> Args {
    let mut args = Args {
        listen: "127.0.0.1:2587".into(),
        users: None,
        allow_insecure_auth: false,
        mechanisms: DEFAULT_MECHANISMS.to_vec(),
        limits: Limits::default(),
        keytab: None,
    };
    let seconds = |text: Option<String>| -> Duration {
        text.and_then(|t| t.parse::<f64>().ok())
            .filter(|s| *s > 0.0 && *s <= 1e9)
            .map(Duration::from_secs_f64)
            .unwrap_or_else(|| usage())
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" => args.listen = it.next().unwrap_or_else(|| usage()),
            "--users" => args.users = Some(it.next().unwrap_or_else(|| usage()).into()),
            "--allow-insecure-auth" => args.allow_insecure_auth = true,
            "--keytab" if cfg!(feature = "gssapi") => {
                args.keytab = Some(it.next().unwrap_or_else(|| usage()).into())
            }
            "--max-connections" => {
                args.limits.max_connections = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage())
            }
            "--command-timeout" => args.limits.command = seconds(it.next()),
            "--session-timeout" => args.limits.session = seconds(it.next()),
            "--stress-command-timeout" => args.limits.stress_command = seconds(it.next()),
            "--stress-session-timeout" => args.limits.stress_session = seconds(it.next()),
            "--mechanisms" => {
                let list = it.next().unwrap_or_else(|| usage());
                args.mechanisms = list
                    .split(',')
                    .map(|name| {
                        Mechanism::from_name(name.trim().as_bytes()).unwrap_or_else(|| {
                            eprintln!("submission: unknown mechanism {name:?}");
                            usage()
                        })
                    })
                    .collect();
            }
            _ => usage(),
        }
    }
    #[cfg(feature = "gssapi")]
    if args.keytab.is_some() {
        for m in [Mechanism::Gs2Krb5, Mechanism::Gssapi] {
            if !args.mechanisms.contains(&m) {
                args.mechanisms.push(m);
            }
        }
    }
    args
}
