//! Access tokens (JWT, HS256, short-lived, each with a `jti` so logout can revoke it) and refresh tokens (256 random
//! bits, opaque to clients, stored only as a SHA-256 hash).

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const ISSUER: &str = "nene-challenge";

/// What an access token says. `role` is read at sign-in; a role change takes effect with the next token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub role: String,
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid")]
    Invalid,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &str) -> Self {
        // Only HS256 is accepted: a token naming another algorithm (including `none`) is refused outright.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.leeway = 5;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Issues an access token valid from `now` (seconds) for `ttl_secs`.
    pub fn issue(&self, user: Uuid, role: &str, now: i64, ttl_secs: i64) -> Result<(String, AccessClaims), TokenError> {
        let claims = AccessClaims {
            sub: user,
            role: role.to_owned(),
            jti: Uuid::new_v4(),
            iat: now,
            exp: now + ttl_secs,
            iss: ISSUER.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Invalid)?;
        Ok((token, claims))
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            },
        )
    }
}

/// A new refresh token as handed to the client.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The form a refresh token is stored and looked up in. A fast hash is right here: the token has 256 bits of
/// entropy, so there is nothing to brute-force, unlike a password.
pub fn hash_refresh_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

    #[test]
    fn issued_tokens_verify() {
        let keys = JwtKeys::new(SECRET);
        let now = chrono::Utc::now().timestamp();
        let user = Uuid::new_v4();
        let (token, claims) = keys.issue(user, "USER", now, 900).unwrap();
        let back = keys.verify(&token).unwrap();
        assert_eq!(back.sub, user);
        assert_eq!(back.jti, claims.jti);
    }

    #[test]
    fn expired_forged_and_unsigned_tokens_are_refused() {
        let keys = JwtKeys::new(SECRET);
        let now = chrono::Utc::now().timestamp();
        let (old, _) = keys.issue(Uuid::new_v4(), "USER", now - 3600, 900).unwrap();
        assert_eq!(keys.verify(&old).unwrap_err(), TokenError::Expired);

        let other = JwtKeys::new("another-secret-that-is-also-long-enough");
        let (forged, _) = other.issue(Uuid::new_v4(), "ADMIN", now, 900).unwrap();
        assert_eq!(keys.verify(&forged).unwrap_err(), TokenError::Invalid);

        let (good, _) = keys.issue(Uuid::new_v4(), "USER", now, 900).unwrap();
        let payload = good.split('.').nth(1).unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(keys.verify(&format!("{header}.{payload}.")).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_eq!(hash_refresh_token(&a), hash_refresh_token(&a));
    }
}
