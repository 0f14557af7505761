//! Access tokens that must be refused: expired, forged, unsigned, malformed.

use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use nene_tests::{Backend, TEST_JWT_SECRET, TestServer, code, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(expired_forged_and_unsigned_tokens_are_refused);

fn token(secret: &str, sub: &str, iat: i64, exp: i64) -> String {
    let claims = json!({"sub": sub, "role": "ADMIN", "jti": uuid::Uuid::new_v4(), "iat": iat, "exp": exp, "iss": "nene-challenge"});
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn expired_forged_and_unsigned_tokens_are_refused(backend: Backend) {
    let s = TestServer::start(backend).await;
    let user = s.signup("tok@example.com", "tokens").await;
    let now = chrono::Utc::now().timestamp();

    // A well-made token works (the control).
    let good = token(TEST_JWT_SECRET, &user.user_id, now, now + 600);
    assert_eq!(s.get("/api/v1/me", Some(&good)).await.0, StatusCode::OK);

    let expired = token(TEST_JWT_SECRET, &user.user_id, now - 3600, now - 1800);
    let (status, body) = s.get("/api/v1/me", Some(&expired)).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED"));

    let forged = token("somebody-elses-secret-that-is-long-enough", &user.user_id, now, now + 600);
    let (status, body) = s.get("/api/v1/me", Some(&forged)).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "TOKEN_INVALID"));

    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = good.split('.').nth(1).unwrap();
    let unsigned = format!("{}.{payload}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
    let (status, body) = s.get("/api/v1/me", Some(&unsigned)).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "TOKEN_INVALID"));

    // The signature of one token on another's claims.
    let signature = good.split('.').nth(2).unwrap();
    let tampered_claims = b64.encode(
        json!({"sub": uuid::Uuid::new_v4(), "role": "ADMIN", "jti": uuid::Uuid::new_v4(), "iat": now, "exp": now + 600, "iss": "nene-challenge"}).to_string(),
    );
    let header = good.split('.').next().unwrap();
    let (status, _) = s.get("/api/v1/me", Some(&format!("{header}.{tampered_claims}.{signature}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    for garbage in ["", "abc", "a.b.c"] {
        let (status, _) = s.get("/api/v1/me", Some(garbage)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "token {garbage:?}");
    }
    let (status, body) = s.get("/api/v1/me", None).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"));
}
