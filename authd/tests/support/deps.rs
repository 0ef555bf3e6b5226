//! The programs the end-to-end tests drive, installed on demand by one shared idempotent
//! script (`scripts/install-deps.sh --e2e`), serialised between test processes with flock.
//! A program still missing afterwards fails the test loudly.

use std::path::Path;
use std::process::Command;
use std::sync::Once;

use super::{CMD_TIMEOUT, repo_root, run};

/// Where the script unpacks Debian's exim4-daemon-heavy (it conflicts with postfix as a
/// package, so it is extracted with dpkg-deb, not installed).
pub const EXIM_ROOT: &str = "/var/lib/saslmech-e2e/exim4-daemon-heavy";
pub const EXIM_BIN: &str = "/var/lib/saslmech-e2e/exim4-daemon-heavy/usr/sbin/exim4";

/// Every program the e2e tests run, by absolute path.
pub const PROGRAMS: &[&str] = &[
    "/usr/sbin/postfix",
    "/usr/sbin/postconf",
    "/usr/sbin/dovecot",
    "/usr/bin/doveadm",
    "/usr/bin/swaks",
    "/usr/bin/gsasl",
    "/usr/bin/curl",
    "/usr/bin/msmtp",
    "/usr/bin/openssl",
    EXIM_BIN,
];

static ONCE: Once = Once::new();

fn missing() -> Vec<&'static str> {
    let mut m: Vec<&str> = PROGRAMS
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    // The exim binary also needs its libraries and the Debian-exim user.
    if m.is_empty() {
        let ok = Command::new(EXIM_BIN)
            .args(["-C", "/dev/null", "-bV"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("dovecot"))
            .unwrap_or(false);
        if !ok {
            m.push("exim4 (does not run: libraries or the Debian-exim user missing)");
        }
        // swaks --tls needs Net::SSLeay.
        let ssl = Command::new("perl")
            .args(["-MNet::SSLeay", "-e1"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ssl {
            m.push("perl Net::SSLeay (libnet-ssleay-perl, for swaks --tls)");
        }
    }
    m
}

/// Makes sure every program is there, installing what is missing; panics if that fails.
pub fn ensure() {
    ONCE.call_once(|| {
        // Postfix's master and Exim's -C need root; so does installing packages.
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        assert_eq!(
            uid.as_deref().unwrap_or("?"),
            "0",
            "the e2e tests run private Postfix, Exim and Dovecot instances and must run as root"
        );
        let before = missing();
        if before.is_empty() {
            return;
        }
        let script = repo_root().join("scripts/install-deps.sh");
        eprintln!(
            "e2e: installing missing programs {before:?} with {} --e2e",
            script.display()
        );
        let out = run(
            Command::new("flock")
                .args(["-w", "900", "/tmp/saslmech-e2e-deps.lock", "bash"])
                .arg(&script)
                .arg("--e2e"),
            None,
            CMD_TIMEOUT * 15,
        );
        let after = missing();
        assert!(
            after.is_empty(),
            "the e2e tests need {after:?}; `{} --e2e` did not provide them ({}):\n{}",
            script.display(),
            out.status,
            out.all()
        );
    });
}
