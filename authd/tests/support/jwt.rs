//! JWTs for the OAUTHBEARER/XOAUTH2 tests, signed with the `openssl` command-line tool:
//! HS256 (HMAC-SHA256 with a shared key file), RS256 (RSA 2048) and ES256 (P-256, the DER
//! signature converted to JWS's 64-byte r‖s).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{b64url, now, run_ok, write_file};

pub struct Keys {
    /// The HS256 shared secret, as written to `hs256_key_file` (printable, no newline).
    pub hs256_secret: String,
    pub hs256_key_file: PathBuf,
    pub rs256_private: PathBuf,
    pub rs256_public: PathBuf,
    pub es256_private: PathBuf,
    pub es256_public: PathBuf,
    /// A second RSA key the daemon does not know (wrongly signed tokens).
    pub rs256_other_private: PathBuf,
}

impl Keys {
    pub fn generate(dir: &Path) -> Keys {
        let secret = random_hex(32);
        let hs = dir.join("hs256.key");
        write_file(&hs, &secret);
        let k = Keys {
            hs256_secret: secret,
            hs256_key_file: hs,
            rs256_private: dir.join("rs256.pem"),
            rs256_public: dir.join("rs256.pub.pem"),
            es256_private: dir.join("es256.pem"),
            es256_public: dir.join("es256.pub.pem"),
            rs256_other_private: dir.join("rs256-other.pem"),
        };
        for (key, args) in [
            (
                &k.rs256_private,
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..],
            ),
            (
                &k.rs256_other_private,
                &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"][..],
            ),
            (
                &k.es256_private,
                &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"][..],
            ),
        ] {
            run_ok(
                Command::new("openssl")
                    .arg("genpkey")
                    .args(args)
                    .arg("-out")
                    .arg(key),
            );
        }
        for (private, public) in [
            (&k.rs256_private, &k.rs256_public),
            (&k.es256_private, &k.es256_public),
        ] {
            run_ok(
                Command::new("openssl")
                    .args(["pkey", "-pubout", "-in"])
                    .arg(private)
                    .arg("-out")
                    .arg(public),
            );
        }
        k
    }

    /// A token for `email` expiring `exp_in` seconds from now (negative: already expired).
    pub fn hs256(&self, email: &str, exp_in: i64) -> String {
        self.hs256_with(&self.hs256_secret, email, exp_in)
    }

    /// An HS256 token signed with some other secret.
    pub fn hs256_with(&self, secret: &str, email: &str, exp_in: i64) -> String {
        let input = signing_input("HS256", email, exp_in);
        let sig = openssl_binary(
            &[
                "dgst",
                "-sha256",
                "-binary",
                "-mac",
                "HMAC",
                "-macopt",
                &format!("key:{secret}"),
            ],
            input.as_bytes(),
        );
        finish(input, sig)
    }

    pub fn rs256(&self, email: &str, exp_in: i64) -> String {
        sign_pkey("RS256", &self.rs256_private, email, exp_in)
    }

    pub fn rs256_wrong_key(&self, email: &str, exp_in: i64) -> String {
        sign_pkey("RS256", &self.rs256_other_private, email, exp_in)
    }

    pub fn es256(&self, email: &str, exp_in: i64) -> String {
        sign_pkey("ES256", &self.es256_private, email, exp_in)
    }
}

fn signing_input(alg: &str, email: &str, exp_in: i64) -> String {
    let now = now();
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let claims = format!(
        r#"{{"iss":"{iss}","aud":"{aud}","sub":"{email}","email":"{email}","iat":{iat},"nbf":{iat},"exp":{exp}}}"#,
        iss = super::authd::ISSUER,
        aud = super::authd::AUDIENCE,
        iat = now - 60,
        exp = now + exp_in,
    );
    format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(claims.as_bytes())
    )
}

fn finish(input: String, sig: Vec<u8>) -> String {
    format!("{input}.{}", b64url(&sig))
}

fn sign_pkey(alg: &str, key: &Path, email: &str, exp_in: i64) -> String {
    let input = signing_input(alg, email, exp_in);
    let sig = openssl_binary(
        &[
            "dgst",
            "-sha256",
            "-binary",
            "-sign",
            &key.display().to_string(),
        ],
        input.as_bytes(),
    );
    let sig = if alg == "ES256" {
        der_ecdsa_to_raw(&sig)
    } else {
        sig
    };
    finish(input, sig)
}

/// Runs openssl with `input` on stdin and returns its binary stdout.
fn openssl_binary(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write openssl stdin");
    // openssl signs a few hundred bytes in milliseconds; wait_with_output cannot hang on it
    // once stdin is closed.
    let out = child.wait_with_output().expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } → r ‖ s, 32 bytes each.
fn der_ecdsa_to_raw(der: &[u8]) -> Vec<u8> {
    fn int(d: &[u8]) -> (&[u8], &[u8]) {
        assert_eq!(d[0], 0x02, "DER INTEGER expected");
        let len = d[1] as usize;
        (&d[2..2 + len], &d[2 + len..])
    }
    assert_eq!(der[0], 0x30, "DER SEQUENCE expected");
    let body = if der[1] & 0x80 != 0 {
        &der[2 + (der[1] & 0x7f) as usize..]
    } else {
        &der[2..]
    };
    let (r, rest) = int(body);
    let (s, _) = int(rest);
    let mut out = Vec::with_capacity(64);
    for n in [r, s] {
        let n: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
        assert!(n.len() <= 32, "P-256 integer too long");
        out.extend(std::iter::repeat_n(0u8, 32 - n.len()));
        out.extend(n);
    }
    out
}

pub fn random_hex(bytes: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
