//! The checks the issue asks of every MTA path, run against one MTA endpoint. Each check
//! records its outcome; `Checks::finish` fails the test listing every failed check, so one
//! broken mechanism does not hide the others.

use super::authd::{ALICE, AuthServer, BOB, CAROL};
use super::clients::{AuthResult, Via, curl_oauth, gsasl_smtp, msmtp_oauth, swaks};

#[derive(Default)]
pub struct Checks {
    pub passed: Vec<String>,
    pub failed: Vec<String>,
}

impl Checks {
    /// Records whether `got` carried the expected reply code.
    pub fn expect(&mut self, what: &str, want: u16, got: &AuthResult) {
        if got.code == want {
            eprintln!("ok   {what}: {}", got.line);
            self.passed.push(what.to_owned());
        } else {
            eprintln!(
                "FAIL {what}: want {want}, got {} {:?}\n{}",
                got.code, got.line, got.transcript
            );
            self.failed.push(format!(
                "{what}: want {want}, got {} {:?}",
                got.code, got.line
            ));
        }
    }

    pub fn check(&mut self, what: &str, ok: bool, detail: &str) {
        if ok {
            eprintln!("ok   {what}");
            self.passed.push(what.to_owned());
        } else {
            eprintln!("FAIL {what}: {detail}");
            self.failed.push(format!("{what}: {detail}"));
        }
    }

    pub fn finish(self, name: &str) {
        eprintln!(
            "{name}: {} checks passed, {} failed",
            self.passed.len(),
            self.failed.len()
        );
        assert!(
            self.failed.is_empty(),
            "{name}: failed checks:\n  {}",
            self.failed.join("\n  ")
        );
    }
}

/// swaks PLAIN, LOGIN, CRAM-MD5 → 235; wrong passwords → 535; `gsasl --smtp` SCRAM-SHA-256 →
/// 235 (and 535 when wrong); XOAUTH2 and OAUTHBEARER with signed JWTs (HS256, RS256, ES256)
/// through curl and msmtp → 235; expired, wrongly signed, or someone else's token → 535.
/// `swaks_via` reaches the MTA for swaks; `tcp_port` is the MTA's SMTP port for the clients
/// that only speak TCP.
pub fn mechanism_matrix(
    c: &mut Checks,
    tag: &str,
    auth: &AuthServer,
    swaks_via: &Via,
    tcp_port: u16,
) {
    let k = &auth.keys;
    c.expect(
        &format!("{tag}: swaks PLAIN"),
        235,
        &swaks(swaks_via, "PLAIN", ALICE.0, ALICE.1),
    );
    c.expect(
        &format!("{tag}: swaks LOGIN"),
        235,
        &swaks(swaks_via, "LOGIN", BOB.0, BOB.1),
    );
    c.expect(
        &format!("{tag}: swaks CRAM-MD5"),
        235,
        &swaks(swaks_via, "CRAM-MD5", ALICE.0, ALICE.1),
    );
    c.expect(
        &format!("{tag}: swaks PLAIN, SCRAM-stored user"),
        235,
        &swaks(swaks_via, "PLAIN", CAROL.0, CAROL.1),
    );
    c.expect(
        &format!("{tag}: swaks PLAIN wrong password"),
        535,
        &swaks(swaks_via, "PLAIN", ALICE.0, "wrong"),
    );
    c.expect(
        &format!("{tag}: swaks LOGIN wrong password"),
        535,
        &swaks(swaks_via, "LOGIN", BOB.0, "wrong"),
    );
    c.expect(
        &format!("{tag}: swaks CRAM-MD5 wrong password"),
        535,
        &swaks(swaks_via, "CRAM-MD5", ALICE.0, "wrong"),
    );
    c.expect(
        &format!("{tag}: swaks PLAIN unknown user"),
        535,
        &swaks(swaks_via, "PLAIN", "nobody@example.com", "x"),
    );

    let (r, _) = gsasl_smtp(tcp_port, "SCRAM-SHA-256", CAROL.0, CAROL.1);
    c.expect(
        &format!("{tag}: gsasl SCRAM-SHA-256 (stored keys)"),
        235,
        &r,
    );
    let (r, _) = gsasl_smtp(tcp_port, "SCRAM-SHA-256", ALICE.0, ALICE.1);
    c.expect(
        &format!("{tag}: gsasl SCRAM-SHA-256 ({{PLAIN}} entry)"),
        235,
        &r,
    );
    let (r, _) = gsasl_smtp(tcp_port, "SCRAM-SHA-256", CAROL.0, "wrong");
    c.expect(
        &format!("{tag}: gsasl SCRAM-SHA-256 wrong password"),
        535,
        &r,
    );

    // Bearer tokens: curl for OAUTHBEARER, msmtp for both mechanisms (curl 7.88 cannot be
    // made to use XOAUTH2 when OAUTHBEARER is offered).
    let a = ALICE.0;
    let (hs, rs, es) = (k.hs256(a, 600), k.rs256(a, 600), k.es256(a, 600));
    c.expect(
        &format!("{tag}: curl OAUTHBEARER HS256"),
        235,
        &curl_oauth(tcp_port, "OAUTHBEARER", a, &hs),
    );
    c.expect(
        &format!("{tag}: curl OAUTHBEARER RS256"),
        235,
        &curl_oauth(tcp_port, "OAUTHBEARER", a, &rs),
    );
    c.expect(
        &format!("{tag}: curl OAUTHBEARER ES256"),
        235,
        &curl_oauth(tcp_port, "OAUTHBEARER", a, &es),
    );
    c.expect(
        &format!("{tag}: msmtp OAUTHBEARER RS256"),
        235,
        &msmtp_oauth(tcp_port, "OAUTHBEARER", a, &rs),
    );
    c.expect(
        &format!("{tag}: msmtp XOAUTH2 HS256"),
        235,
        &msmtp_oauth(tcp_port, "XOAUTH2", a, &hs),
    );
    c.expect(
        &format!("{tag}: msmtp XOAUTH2 RS256"),
        235,
        &msmtp_oauth(tcp_port, "XOAUTH2", a, &rs),
    );
    c.expect(
        &format!("{tag}: msmtp XOAUTH2 ES256"),
        235,
        &msmtp_oauth(tcp_port, "XOAUTH2", a, &es),
    );
    // Expired an hour ago: far beyond the 30 s leeway.
    let (hs_old, rs_old) = (k.hs256(a, -3600), k.rs256(a, -3600));
    c.expect(
        &format!("{tag}: curl OAUTHBEARER expired"),
        535,
        &curl_oauth(tcp_port, "OAUTHBEARER", a, &rs_old),
    );
    c.expect(
        &format!("{tag}: msmtp XOAUTH2 expired"),
        535,
        &msmtp_oauth(tcp_port, "XOAUTH2", a, &hs_old),
    );
    let (hs_bad, rs_bad) = (
        k.hs256_with("not-the-configured-key", a, 600),
        k.rs256_wrong_key(a, 600),
    );
    c.expect(
        &format!("{tag}: curl OAUTHBEARER wrongly signed (HS256)"),
        535,
        &curl_oauth(tcp_port, "OAUTHBEARER", a, &hs_bad),
    );
    c.expect(
        &format!("{tag}: msmtp XOAUTH2 wrongly signed (RS256)"),
        535,
        &msmtp_oauth(tcp_port, "XOAUTH2", a, &rs_bad),
    );
    // A valid token for alice presented as bob: the token-owner check.
    c.expect(
        &format!("{tag}: curl OAUTHBEARER someone else's token"),
        535,
        &curl_oauth(tcp_port, "OAUTHBEARER", BOB.0, &hs),
    );
    c.expect(
        &format!("{tag}: msmtp XOAUTH2 someone else's token"),
        535,
        &msmtp_oauth(tcp_port, "XOAUTH2", BOB.0, &hs),
    );
}
