//! Accounts and tokens end to end, on SQLite and PostgreSQL.

use nene_tests::{Backend, PASSWORD, Session, TestServer, age_spent_refresh_tokens, code, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    sign_up_sign_in_refresh_reuse_and_logout,
    duplicate_email_or_nickname_is_a_conflict,
    bad_input_is_refused_and_writes_nothing,
    two_tabs_refreshing_at_once_both_stay_signed_in,
    a_burst_of_reuses_past_the_sibling_limit_ends_the_sign_in,
    reuse_after_the_grace_window_revokes_the_family,
    browser_refresh_travels_only_in_a_secure_http_only_cookie,
    dev_mode_on_loopback_http_leaves_the_cookie_without_secure,
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

    // Presenting the spent token again, later than two racing tabs could, is a theft signal: refused, and the newer
    // token of that family dies too.
    age_spent_refresh_tokens(&s.state.db, 60_000).await;
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

/// Signs up as a browser does; answers the body and the `Set-Cookie` header.
async fn web_signup(s: &TestServer, email: &str, nickname: &str) -> (serde_json::Value, String) {
    let resp = s
        .http
        .post(s.url("/api/v1/auth/signup"))
        .json(&json!({"email": email, "password": PASSWORD, "nickname": nickname, "client": "WEB"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cookie = set_cookie(&resp).expect("a WEB sign-up sets the refresh cookie");
    (resp.json().await.unwrap(), cookie)
}

fn set_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_owned())
}

/// `name=value` of a `Set-Cookie` line: what the browser sends back.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// A browser's refresh: the cookie, and a body that names the client but carries no token.
async fn web_refresh(s: &TestServer, cookie: &str) -> reqwest::Response {
    s.http
        .post(s.url("/api/v1/auth/refresh"))
        .header("cookie", cookie)
        .json(&json!({"client": "WEB"}))
        .send()
        .await
        .unwrap()
}

async fn two_tabs_refreshing_at_once_both_stay_signed_in(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, cookie) = web_signup(&s, "tabs@example.com", "tabby").await;
    let cookie = cookie_pair(&cookie);

    // Both tabs send the one cookie at the same moment: the first rotates it, the second presents the token just
    // spent. Both get a pair of their own, in the same sign-in.
    let (a, b) = tokio::join!(web_refresh(&s, &cookie), web_refresh(&s, &cookie));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let (a_cookie, b_cookie) = (cookie_pair(&set_cookie(&a).unwrap()), cookie_pair(&set_cookie(&b).unwrap()));
    assert_ne!(a_cookie, b_cookie, "each tab gets its own new token");
    let a: serde_json::Value = a.json().await.unwrap();
    let b: serde_json::Value = b.json().await.unwrap();
    for body in [&a, &b] {
        assert!(body.get("refresh_token").is_none(), "{body}");
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(s.get("/api/v1/me", Some(access)).await.0, StatusCode::OK);
    }
    // Both new tokens work, each once, and the sign-in goes on.
    for next in [&a_cookie, &b_cookie] {
        let resp = web_refresh(&s, next).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let again = cookie_pair(&set_cookie(&resp).unwrap());
        assert_eq!(web_refresh(&s, &again).await.status(), StatusCode::OK);
    }
    let families: i64 = {
        let mut tx = s.state.db.begin_read().await.unwrap();
        nene_server::on_conn!(&mut tx, c => sqlx::query_scalar("SELECT COUNT(DISTINCT family_id) FROM refresh_tokens")
            .fetch_one(&mut *c).await.unwrap())
    };
    assert_eq!(families, 1, "the siblings stay in the one sign-in");
}

async fn a_burst_of_reuses_past_the_sibling_limit_ends_the_sign_in(backend: Backend) {
    let s = TestServer::start(backend).await;
    let user = s.signup("burst@example.com", "burster").await;
    let body = json!({"refresh_token": user.refresh});
    let burst = 4 + 1 + nene_server::accounts::MAX_GRACE_SIBLINGS as usize;
    let results = futures::future::join_all((0..burst).map(|_| s.post("/api/v1/auth/refresh", None, &body))).await;
    let ok: Vec<Session> =
        results.iter().filter(|(st, _)| *st == StatusCode::OK).map(|(_, b)| Session::from_pair(b)).collect();
    assert_eq!(ok.len(), 1 + nene_server::accounts::MAX_GRACE_SIBLINGS as usize, "one rotation and its siblings");
    // The first refusal revokes the sign-in (REUSED); any after it meet a revoked token (INVALID).
    for (status, body) in results.iter().filter(|(st, _)| *st != StatusCode::OK) {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert!(["REFRESH_TOKEN_REUSED", "REFRESH_TOKEN_INVALID"].contains(&code(body)), "{body}");
    }
    // More than that is no race between tabs: the sign-in was ended, siblings included.
    for session in &ok {
        let (status, _) = s.post("/api/v1/auth/refresh", None, &json!({"refresh_token": session.refresh})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

async fn reuse_after_the_grace_window_revokes_the_family(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, cookie) = web_signup(&s, "late@example.com", "latecomer").await;
    let first = cookie_pair(&cookie);
    let resp = web_refresh(&s, &first).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let second = cookie_pair(&set_cookie(&resp).unwrap());

    age_spent_refresh_tokens(&s.state.db, s.state.config.refresh_reuse_grace.as_millis() as i64 + 1_000).await;
    let resp = web_refresh(&s, &first).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "REFRESH_TOKEN_REUSED");
    // The newer token of that sign-in is dead too.
    assert_eq!(web_refresh(&s, &second).await.status(), StatusCode::UNAUTHORIZED);
}

async fn browser_refresh_travels_only_in_a_secure_http_only_cookie(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (body, cookie) = web_signup(&s, "web@example.com", "webby").await;
    assert!(body["access_token"].as_str().is_some());
    assert!(body.get("refresh_token").is_none(), "a WEB answer's body carries no refresh token: {body}");
    assert!(cookie.starts_with("nene_refresh="), "{cookie}");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(cookie.split("; ").any(|a| a == attr), "{cookie} lacks {attr}");
    }

    // Sign-in as a browser: the same.
    let resp = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"email": "web@example.com", "password": PASSWORD, "client": "WEB"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let login_cookie = set_cookie(&resp).unwrap();
    assert!(login_cookie.contains("; Secure") && login_cookie.contains("; HttpOnly"), "{login_cookie}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");

    // A refresh with no body at all: the cookie carries the token, and the answer is a browser's.
    let pair = cookie_pair(&cookie);
    let resp = s.http.post(s.url("/api/v1/auth/refresh")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(set_cookie(&resp).unwrap().contains("; Secure"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["access_token"].as_str().is_some());
    assert!(body.get("refresh_token").is_none(), "{body}");

    // The contract says so too: `client` is WEB or APP, and a pair's refresh token may be absent.
    let (_, doc) = s.get("/api/v1/openapi.json", None).await;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["ClientKind"]["enum"], json!(["WEB", "APP"]), "{}", schemas["ClientKind"]);
    let required = schemas["TokenPair"]["required"].as_array().unwrap();
    assert!(!required.contains(&json!("refresh_token")), "{required:?}");

    // The app (APP, or no client at all) is unchanged: the token in the body, and no cookie.
    for client in [json!("APP"), serde_json::Value::Null] {
        let resp = s
            .http
            .post(s.url("/api/v1/auth/login"))
            .json(&json!({"email": "web@example.com", "password": PASSWORD, "client": client}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(set_cookie(&resp).is_none());
        let body: serde_json::Value = resp.json().await.unwrap();
        let app = Session::from_pair(&body);
        let (status, body) = s.post("/api/v1/auth/refresh", None, &json!({"refresh_token": app.refresh})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body["refresh_token"].as_str().is_some());
    }
}

async fn dev_mode_on_loopback_http_leaves_the_cookie_without_secure(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.dev = true).await;
    let (_, cookie) = web_signup(&s, "local@example.com", "local").await;
    assert!(cookie.contains("; HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.split("; ").any(|a| a == "Secure"), "plain HTTP on loopback in dev mode: {cookie}");
    let resp = web_refresh(&s, &cookie_pair(&cookie)).await;
    assert_eq!(resp.status(), StatusCode::OK);
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
