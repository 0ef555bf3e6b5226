//! OAUTHBEARER and XOAUTH2 with locally validated JWTs: HS256, RS256 and ES256 keys from
//! files, issuer, audience, expiry with leeway, the user from a configured claim, and the
//! engine's check that the token's owner is the user the client named.

mod util;

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use saslmech::{ClientSession, Credentials, Mechanism};
use util::{Client, Daemon, b64, unb64};

// Test-only keys, made with `openssl genpkey` (RSA 2048, EC P-256) for these tests.
const RS_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC+T+8TKjAYdyk9
QuAy+kjdsNwzYfKe1PxklzuSbaA0g/faBPlNX6iJ1O3E3Tz3Z3sJBVeYuIpTFXYV
wcuSEfioUpM38nCvKAPTXJf8D2x2GwVS4vrKBhObJ1tDMbYCnRvKRbOCUjRPTGe9
JTJRls3gX/KZJ3OHZioUCi7UmZfD6AbOacfkoWTqC6F5CzZisngMsQJUtHN4aY97
YWg+hGFJfoUAe4zkHBM9b0Q3litMOYIcvNdOSCC7fhrW5v9k64yPqiKYTwccN6c0
wNNy1aESrRGJJvyVDZVTA1rjX/s6RrMrfYfc7/F77P1neylSow/i/l7Eca69DRgo
0992MEPxAgMBAAECggEALEnm3cNmIPNuNfL/wO1NEsZrYEvNjhgLyo8FTozTiRUj
E2ov6Ek4LCdQ1A0WeI7s64sCOSjNDAvFCMgqS0qCXw2kdBMoFSMPTNtSBVdDivK7
2O+4pFYoruVIUElbzZzpUDfLUCs4QDIMPFDRNnqNW8eIagrr0Fk+tp4uCszZrD3G
vd3PYSo97fMopOIsxlCy5ouIry/PHqfznU8geZT+1fNAR2O7ODzONb7y4GFelnD3
wYJqyo+J3Syug97TN2mxqxuZMPgVq62T56P2YQGMtTNEvMY0MopZsVCZYfFKUSH2
1v69beKc9/7ikJs7wn3gb6RKLIV6vf0FH0lxl1Y1VwKBgQDi2MeBf/0GVBkFxdxz
lS6zgMqc4eujc6nOue5W3jFrASB9zha8cqStXkA+dlCIEmmlW6lXOxSkWgFMgsSe
usO6herRhBo/Ao3kYCwv2BZOhmq0X6JGwD+wc2a7a9pkYKLuoaLGeaJItgm+Xxsd
J5x4kCW8tCQdSelej+UL26d3kwKBgQDWxSyOVcbWHDPxclPaiYsZarvELjeDsllg
EX6E3ziPbHZlfEyMoaO8rQBmQZMAVAvdwNi/Nolxvmjpi4c675SuAwuoyf54ferL
RzFDA65zH7N9MjKFmER8d3AQLdTtv6SfzgBQS5fvtsZofg0sNRHFcvpOrYTyVa1U
F4jQ/SSA6wKBgQCLhTEPoRyKa+cH+e3g2PxkQu5bF0jKuzTRhOHmY7qZSZQmTD8H
oKtQRgvVXweg6VI49ettT1Ue0IzD9hngVpZTflIyksFhx7xlnhEPTCRMH7g5QCia
w1tot1GULH2iBx2vD5MB54W8mtnbULtobxh5vo63RUSBDxiNpIsHhA24KQKBgQCd
DQqL+wWvxGfng6b2A+aH65jq2LEXyO+6ZJCUMXd2yeW6SK7hl8HYUtob7I/Gia8z
tbXJ/eN8HbUyMynsWw3qQafhAfTnv4xWofTQAH0tCl2Ci5aOQs6yBdUYv6sZQC7t
/QIVtXGhhZKJDsQrM5OPQ4jux8yUOTrKZ3tQ+AwdiQKBgBUP1xm3w4gkylAo7Rno
9xX8stHOTp47tQXvecLeQt/tmRSKiA2Yoc728K8GniKnHbkoJ4XCvTfMtpRgYTaA
vwb8kU1TLOxlUieiBhV84dp/8GHvP/4WCL7r2kwYSxxK1PUmUmQ4KGOt31u1g05G
21F+DasiRT0kSXDwLkb9qUkR
-----END PRIVATE KEY-----";
const RS_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvk/vEyowGHcpPULgMvpI
3bDcM2HyntT8ZJc7km2gNIP32gT5TV+oidTtxN0892d7CQVXmLiKUxV2FcHLkhH4
qFKTN/JwrygD01yX/A9sdhsFUuL6ygYTmydbQzG2Ap0bykWzglI0T0xnvSUyUZbN
4F/ymSdzh2YqFAou1JmXw+gGzmnH5KFk6guheQs2YrJ4DLECVLRzeGmPe2FoPoRh
SX6FAHuM5BwTPW9EN5YrTDmCHLzXTkggu34a1ub/ZOuMj6oimE8HHDenNMDTctWh
Eq0RiSb8lQ2VUwNa41/7OkazK32H3O/xe+z9Z3spUqMP4v5exHGuvQ0YKNPfdjBD
8QIDAQAB
-----END PUBLIC KEY-----";
const ES_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPTbBPwOdK8eRAr92
XoAP2+0U8c8katR2vZ4G7rT7MmyhRANCAASlPgn86tN4ye8prA2aBTgSbHRwBrDH
HDZI7h/Oc8p4fPqahZTPFro0CyKgfx/AZXgQtgQdvQzywRKdC0vA3XbS
-----END PRIVATE KEY-----";
const ES_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEpT4J/OrTeMnvKawNmgU4Emx0cAaw
xxw2SO4fznPKeHz6moWUzxa6NAsioH8fwGV4ELYEHb0M8sESnQtLwN120g==
-----END PUBLIC KEY-----";
const HS_SECRET: &[u8] = b"a shared secret of at least 32 bytes!!";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt(alg: Algorithm, claims: serde_json::Value) -> String {
    let key = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(HS_SECRET).unwrap(),
        Algorithm::RS256 => EncodingKey::from_rsa_pem(RS_PRIVATE.as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(ES_PRIVATE.as_bytes()).unwrap(),
        _ => unreachable!(),
    };
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap()
}

fn claims(email: &str, exp_offset: i64) -> serde_json::Value {
    serde_json::json!({
        "iss": "https://idp.example",
        "aud": "smtp",
        "email": email,
        "sub": "1234",
        "exp": now().saturating_add_signed(exp_offset),
        "iat": now(),
    })
}

fn daemon() -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let hs = dir.path().join("hs.key");
    let rs = dir.path().join("rs.pub");
    let es = dir.path().join("es.pub");
    std::fs::write(&hs, [HS_SECRET, b"\n"].concat()).unwrap();
    std::fs::write(&rs, RS_PUBLIC).unwrap();
    std::fs::write(&es, ES_PUBLIC).unwrap();
    let oauth = format!(
        "[oauth]\nhs256_key_file = \"{}\"\nrs256_public_key_file = \"{}\"\nes256_public_key_file = \"{}\"\n\
         issuer = \"https://idp.example\"\naudience = \"smtp\"\nuser_claim = \"email\"\nleeway_s = 30\n",
        hs.display(),
        rs.display(),
        es.display()
    );
    let d = Daemon::start(
        "mechanisms = [\"PLAIN\", \"XOAUTH2\", \"OAUTHBEARER\"]\n",
        "tim@example.com:{PLAIN}x\n",
        &oauth,
    );
    // Keep the key files alive as long as the daemon (it read them at start).
    std::mem::forget(dir);
    d
}

/// Run one exchange; returns the final reply.
fn login(c: &mut Client, id: u32, mech: Mechanism, user: &str, token: &str) -> String {
    let mut client = ClientSession::new(
        mech,
        &Credentials::new().authcid(user).token(token.as_bytes()),
    )
    .unwrap();
    let ir = client.start().unwrap().unwrap().to_vec();
    c.send(&format!(
        "AUTH\t{id}\t{}\tservice=smtp\tsecured\tresp={}",
        mech.name(),
        b64(&ir)
    ));
    let r = c.recv();
    if let Some(err) = r.strip_prefix(&format!("CONT\t{id}\t")) {
        // The error challenge (JSON): the client answers it as its mechanism says.
        let json = unb64(err);
        assert!(String::from_utf8_lossy(&json).contains("status"));
        let resp = client.step(&json).map(<[u8]>::to_vec).unwrap_or_default();
        c.send(&format!("CONT\t{id}\t{}", b64(&resp)));
        return c.recv();
    }
    r
}

#[test]
fn valid_tokens_for_each_algorithm_and_mechanism() {
    let d = daemon();
    let mut c = d.client();
    let mut id = 0;
    for alg in [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256] {
        for mech in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            id += 1;
            let t = jwt(alg, claims("tim@example.com", 300));
            assert_eq!(
                login(&mut c, id, mech, "tim@example.com", &t),
                format!("OK\t{id}\tuser=tim@example.com"),
                "{alg:?} {mech}"
            );
        }
    }
    // Never the token in the log.
    let t = jwt(Algorithm::HS256, claims("tim@example.com", 300));
    let sig = t.rsplit('.').next().unwrap().to_owned();
    assert!(d.log().iter().all(|l| !l.contains(&sig)));
}

#[test]
fn invalid_tokens_fail() {
    let d = daemon();
    let mut c = d.client();
    let cases = [
        (
            "expired",
            jwt(Algorithm::HS256, claims("tim@example.com", -120)),
        ),
        ("wrong issuer", {
            let mut cl = claims("tim@example.com", 300);
            cl["iss"] = "https://evil.example".into();
            jwt(Algorithm::HS256, cl)
        }),
        ("wrong audience", {
            let mut cl = claims("tim@example.com", 300);
            cl["aud"] = "imap".into();
            jwt(Algorithm::RS256, cl)
        }),
        ("no user claim", {
            let mut cl = claims("tim@example.com", 300);
            cl.as_object_mut().unwrap().remove("email");
            jwt(Algorithm::ES256, cl)
        }),
        ("wrong signature", {
            let t = jwt(Algorithm::HS256, claims("tim@example.com", 300));
            let other = jwt(Algorithm::HS256, claims("eve@example.com", 300));
            let (head_body, _) = t.rsplit_once('.').unwrap();
            format!("{head_body}.{}", other.rsplit('.').next().unwrap())
        }),
        ("garbage", "not-a-jwt".to_owned()),
    ];
    let mut id = 0;
    for (what, token) in &cases {
        for mech in [Mechanism::XOAuth2, Mechanism::OAuthBearer] {
            id += 1;
            let r = login(&mut c, id, mech, "tim@example.com", token);
            assert!(r.starts_with(&format!("FAIL\t{id}")), "{what} {mech}: {r}");
        }
    }
    // Expired within the leeway is still valid.
    let t = jwt(Algorithm::HS256, claims("tim@example.com", -10));
    assert_eq!(
        login(&mut c, 100, Mechanism::XOAuth2, "tim@example.com", &t),
        "OK\t100\tuser=tim@example.com"
    );
    assert!(d.wait_log(|l| l.contains("invalid token")));
}

#[test]
fn token_of_another_user_is_refused() {
    let d = daemon();
    let mut c = d.client();
    // A valid token of eve, presented for tim: the engine compares the owner with the user.
    let t = jwt(Algorithm::HS256, claims("eve@example.com", 300));
    let r = login(&mut c, 1, Mechanism::XOAuth2, "tim@example.com", &t);
    assert!(r.starts_with("FAIL\t1"), "{r}");
    let r = login(&mut c, 2, Mechanism::OAuthBearer, "tim@example.com", &t);
    assert!(r.starts_with("FAIL\t2"), "{r}");
    // Presented for eve it is fine, passwd-file or not: the token is the credential.
    assert_eq!(
        login(&mut c, 3, Mechanism::XOAuth2, "eve@example.com", &t),
        "OK\t3\tuser=eve@example.com"
    );
}

#[test]
fn oauthbearer_without_authzid_logs_in_as_the_token_owner() {
    let d = daemon();
    let mut c = d.client();
    let t = jwt(Algorithm::ES256, claims("tim@example.com", 300));
    let mut client = ClientSession::new(
        Mechanism::OAuthBearer,
        &Credentials::new().token(t.as_bytes()),
    )
    .unwrap();
    let ir = client.start().unwrap().unwrap().to_vec();
    assert!(ir.starts_with(b"n,,"), "{:?}", String::from_utf8_lossy(&ir));
    c.send(&format!(
        "AUTH\t1\tOAUTHBEARER\tservice=smtp\tsecured\tresp={}",
        b64(&ir)
    ));
    assert_eq!(c.recv(), "OK\t1\tuser=tim@example.com");
}
