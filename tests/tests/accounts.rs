//! Accounts and tokens end to end, on SQLite and PostgreSQL.

use nene_tests::{Backend, PASSWORD, Session, TestServer, code, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    sign_up_sign_in_refresh_reuse_and_logout,
    duplicate_email_or_nickname_is_a_conflict,
    bad_input_is_refused_and_writes_nothing,
    concurrent_refreshes_with_one_token_succeed_once,
    browser_refresh_travels_in_an_http_only_cookie,
    profiles_can_be_changed_only_by_their_owner_or_an_admin,
);

async fn sign_up_sign_in_refresh_reuse_and_logout(backend: Backend) {
    let s = TestServer::start(backend).await;

    // Sign-up signs the person in.
    let first = s.signup("Kim@Example.com", "달리기왕").await;
    let (status, me) = s.get("/api/v1/me", Some(&first.access)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["email"], "kim@example.com");
    assert_eq!(me["nickname"], "달리기왕");
    assert_eq!(me["role"], "USER");
    assert_eq!(me["id"], first.user_id.as_str());

    // Sign-in with the same email in another case.
    let (status, body) =
        s.post("/api/v1/auth/login", None, &json!({"email": "KIM@example.com", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 900);
    let login = Session::from_pair(&body);

    // Refresh gives a new pair; the old refresh token is spent.
    let (status, body) = s.post("/api/v1/auth/refresh", None, &json!({"refresh_token": login.refresh})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotated = Session::from_pair(&body);
    assert_ne!(rotated.refresh, login.refresh);
    assert_ne!(rotated.access, login.access);
    assert_eq!(s.get("/api/v1/me", Some(&rotated.access)).await.0, StatusCode::OK);

    // Presenting the spent token again is a theft signal: refused, and the newer token of that family dies too.
    let (status, body) = s.post("/api/v1/auth/refresh", None, &json!({"refresh_token": login.refresh})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "REFRESH_TOKEN_REUSED");
    let (status, body) = s.post("/api/v1/auth/refresh", None, &json!({"refresh_token": rotated.refresh})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "REFRESH_TOKEN_INVALID");

    // Another sign-in (the sign-up's family) is untouched by that revocation.
    let (status, body) = s.post("/api/v1/auth/refresh", None, &json!({"refresh_token": first.refresh})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let device = Session::from_pair(&body);

    // Logout kills the access token at once and the family's refresh token.
    let (status, _) =
        s.post("/api/v1/auth/logout", Some(&device.access), &json!({"refresh_token": device.refresh})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get("/api/v1/me", Some(&device.access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&body), "TOKEN_REVOKED");
    let (status, _) = s.post("/api/v1/auth/refresh", None, &json!({"refresh_token": device.refresh})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Wrong password and unknown account look the same.
    let (status, body) =
        s.post("/api/v1/auth/login", None, &json!({"email": "kim@example.com", "password": "not-the-password"})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"));
    let (status, body) =
        s.post("/api/v1/auth/login", None, &json!({"email": "nobody@example.com", "password": PASSWORD})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"));
}

async fn duplicate_email_or_nickname_is_a_conflict(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.signup("lee@example.com", "Reader").await;

    let (status, body) = s
        .post(
            "/api/v1/auth/signup",
            None,
            &json!({"email": " LEE@example.com", "password": PASSWORD, "nickname": "other"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "EMAIL_TAKEN");
    assert_eq!(body["fields"]["email"], "TAKEN");

    let (status, body) = s
        .post(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "park@example.com", "password": PASSWORD, "nickname": "reader"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "NICKNAME_TAKEN");
    assert_eq!(s.count("users").await, 1);
    assert_eq!(s.count("refresh_tokens").await, 1);
}

async fn bad_input_is_refused_and_writes_nothing(backend: Backend) {
    let s = TestServer::start(backend).await;
    let signup = s.url("/api/v1/auth/signup");

    let resp = s
        .http
        .post(&signup)
        .header("content-type", "application/json")
        .body("{\"email\": \"a@b.co\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "MALFORMED_JSON");
    assert!(!body["message"].as_str().unwrap().is_empty());

    let resp = s.http.post(&signup).header("content-type", "text/plain").body("hello").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (status, body) =
        s.post("/api/v1/auth/signup", None, &json!({"email": "a@example.com", "nickname": "abc"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "VALIDATION_FAILED");
    assert_eq!(body["fields"]["password"], "REQUIRED");

    let (status, body) =
        s.post("/api/v1/auth/signup", None, &json!({"email": 5, "password": PASSWORD, "nickname": "abc"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["fields"]["email"], "INVALID_TYPE");

    let (status, body) = s
        .post("/api/v1/auth/signup", None, &json!({"email": "not-an-email", "password": "short", "nickname": "x"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&body), "VALIDATION_FAILED");
    assert_eq!(body["fields"]["email"], "INVALID_EMAIL");
    assert_eq!(body["fields"]["password"], "TOO_SHORT");
    assert_eq!(body["fields"]["nickname"], "TOO_SHORT");

    let (status, body) = s
        .post(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "a@example.com", "password": "x".repeat(65), "nickname": "열세글자열세글자열세글자열"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["fields"]["password"], "TOO_LONG");
    assert_eq!(body["fields"]["nickname"], "TOO_LONG");

    let (status, body) = s.get("/api/v1/nowhere", None).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let (status, body) = s.get("/api/v1/auth/signup", None).await;
    assert_eq!((status, code(&body)), (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"));

    assert_eq!(s.count("users").await, 0);
    assert_eq!(s.count("password_credentials").await, 0);
}

async fn concurrent_refreshes_with_one_token_succeed_once(backend: Backend) {
    let s = TestServer::start(backend).await;
    let user = s.signup("race@example.com", "racer").await;
    let body = json!({"refresh_token": user.refresh});
    let attempts = (0..8).map(|_| s.post("/api/v1/auth/refresh", None, &body));
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|(st, _)| *st == StatusCode::OK).count();
    assert!(ok <= 1, "a refresh token was spent {ok} times");
    assert!(results.iter().all(|(st, _)| *st == StatusCode::OK || *st == StatusCode::UNAUTHORIZED));
    // After the race the family is spent or revoked: the token works no more.
    assert_eq!(s.post("/api/v1/auth/refresh", None, &body).await.0, StatusCode::UNAUTHORIZED);
}

async fn browser_refresh_travels_in_an_http_only_cookie(backend: Backend) {
    let s = TestServer::start(backend).await;
    let resp = s
        .http
        .post(s.url("/api/v1/auth/signup"))
        .json(&json!({"email": "web@example.com", "password": PASSWORD, "nickname": "webby"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("nene_refresh="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();

    // No body at all: the cookie carries the token.
    let resp = s.http.post(s.url("/api/v1/auth/refresh")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["access_token"].as_str().is_some());
    // The cookie's token is now spent.
    let resp = s.http.post(s.url("/api/v1/auth/refresh")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

async fn profiles_can_be_changed_only_by_their_owner_or_an_admin(backend: Backend) {
    let s = TestServer::start(backend).await;
    let kim = s.signup("kim@example.com", "kim").await;
    let lee = s.signup("lee@example.com", "lee").await;

    let (status, body) =
        s.patch("/api/v1/me", Some(&kim.access), &json!({"bio": "매일 달려요", "nickname": "KimRuns"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bio"], "매일 달려요");
    assert_eq!(body["nickname"], "KimRuns");

    // Public profile: no email.
    let (status, body) = s.get(&format!("/api/v1/users/{}", kim.user_id), Some(&lee.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["nickname"], "KimRuns");
    assert!(body.get("email").is_none());

    // Lee cannot change Kim.
    let (status, body) =
        s.patch(&format!("/api/v1/users/{}", kim.user_id), Some(&lee.access), &json!({"bio": "hacked"})).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let (_, body) = s.get(&format!("/api/v1/users/{}", kim.user_id), Some(&lee.access)).await;
    assert_eq!(body["bio"], "매일 달려요");

    // Bad values change nothing.
    let (status, body) = s.patch("/api/v1/me", Some(&kim.access), &json!({"bio": "가".repeat(301)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["fields"]["bio"], "TOO_LONG");
    let (status, body) = s.patch("/api/v1/me", Some(&lee.access), &json!({"nickname": "kimruns"})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "NICKNAME_TAKEN"));

    // An admin may moderate (the role arrives with the next sign-in).
    assert!(nene_server::accounts::grant_admin(&s.state.db, "lee@example.com").await.unwrap());
    let (_, body) =
        s.post("/api/v1/auth/login", None, &json!({"email": "lee@example.com", "password": PASSWORD})).await;
    let admin = Session::from_pair(&body);
    assert_eq!(body["user"]["role"], "ADMIN");
    let (status, body) =
        s.patch(&format!("/api/v1/users/{}", kim.user_id), Some(&admin.access), &json!({"bio": ""})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bio"], "");

    // Unknown and malformed ids.
    let (status, _) = s.get(&format!("/api/v1/users/{}", uuid::Uuid::now_v7()), Some(&kim.access)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = s.get("/api/v1/users/not-a-uuid", Some(&kim.access)).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    // Profiles are for signed-in people.
    assert_eq!(s.get(&format!("/api/v1/users/{}", kim.user_id), None).await.0, StatusCode::UNAUTHORIZED);
}
