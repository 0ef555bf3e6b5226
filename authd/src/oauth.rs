//! Local validation of OAuth 2.0 bearer tokens that are JWTs (OAUTHBEARER, XOAUTH2), the way
//! Dovecot's oauth2 passdb validates locally: signature (HS256, RS256 or ES256, with keys from
//! files), `exp`/`nbf` with a leeway, `iss` and `aud` when configured, and the user from a
//! configured claim. The daemon answers a valid token with the claim's value as the token's
//! owner; the engine compares it with the user the client named.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::config::OAuth;

/// Keys and rules for validating tokens.
pub struct Validator {
    hs256: Option<DecodingKey>,
    rs256: Option<DecodingKey>,
    es256: Option<DecodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
    user_claim: String,
    leeway_s: u64,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("hs256", &self.hs256.is_some())
            .field("rs256", &self.rs256.is_some())
            .field("es256", &self.es256.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("user_claim", &self.user_claim)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused (for the log; never contains the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn read_key(
    path: &Option<std::path::PathBuf>,
    key: &str,
    parse: impl Fn(&[u8]) -> Result<DecodingKey, jsonwebtoken::errors::Error>,
) -> Result<Option<DecodingKey>, String> {
    let Some(path) = path else { return Ok(None) };
    let bytes = std::fs::read(path).map_err(|e| format!("oauth.{key}: {}: {e}", path.display()))?;
    parse(&bytes)
        .map(Some)
        .map_err(|e| format!("oauth.{key}: {}: {e}", path.display()))
}

impl Validator {
    /// Load the keys the configuration names. Errors name the key at fault.
    pub fn new(config: &OAuth) -> Result<Validator, String> {
        let hs256 = read_key(&config.hs256_key_file, "hs256_key_file", |b| {
            let secret = b.strip_suffix(b"\n").unwrap_or(b);
            let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
            if secret.is_empty() {
                return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
            }
            DecodingKey::from_secret(secret)
        })?;
        let rs256 = read_key(
            &config.rs256_public_key_file,
            "rs256_public_key_file",
            DecodingKey::from_rsa_pem,
        )?;
        let es256 = read_key(
            &config.es256_public_key_file,
            "es256_public_key_file",
            DecodingKey::from_ec_pem,
        )?;
        Ok(Validator {
            hs256,
            rs256,
            es256,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            user_claim: config.user_claim.clone(),
            leeway_s: config.leeway_s,
        })
    }

    /// Validate `token`; on success return the owner (the configured claim's value).
    pub fn validate(&self, token: &[u8]) -> Result<String, Refused> {
        let token = std::str::from_utf8(token).map_err(|_| Refused("token is not UTF-8".into()))?;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| Refused(format!("not a JWT: {e}")))?;
        let key = match header.alg {
            Algorithm::HS256 => self.hs256.as_ref(),
            Algorithm::RS256 => self.rs256.as_ref(),
            Algorithm::ES256 => self.es256.as_ref(),
            _ => None,
        }
        .ok_or_else(|| Refused(format!("no key configured for alg {:?}", header.alg)))?;
        let mut v = Validation::new(header.alg);
        v.leeway = self.leeway_s;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp"]);
        match &self.audience {
            Some(a) => v.set_audience(&[a]),
            None => v.validate_aud = false,
        }
        if let Some(i) = &self.issuer {
            v.set_issuer(&[i]);
        }
        let data =
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &v)
                .map_err(|e| Refused(format!("invalid token: {e}")))?;
        match data.claims.get(&self.user_claim) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(Refused(format!(
                "token has no string claim {:?}",
                self.user_claim
            ))),
        }
    }
}
