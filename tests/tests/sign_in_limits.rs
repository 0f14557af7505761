//! Failed sign-ins are limited per account and per address, counted before the password is checked so a parallel
//! burst cannot pass together; successful traffic and other accounts are not limited. Sign-ups are limited per
//! address. The address is the socket peer's, or the one a trusted proxy forwarded.

use nene_server::http::client_addr::TrustedProxies;
use nene_tests::{Backend, PASSWORD, TestServer, code, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    ten_failures_lock_one_account_only,
    failures_from_one_address_lock_that_address,
    forty_parallel_wrong_passwords_check_at_most_ten,
    a_correct_password_after_failures_still_signs_in,
    a_burst_of_sign_ups_from_one_address_is_limited,
    a_forwarded_address_counts_only_from_a_trusted_proxy,
);

async fn ten_failures_lock_one_account_only(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.signup("victim@example.com", "victim").await;
    s.signup("bystander@example.com", "bystander").await;
    let wrong = json!({"email": "victim@example.com", "password": "wrong-password"});

    for attempt in 1..=10 {
        let (status, body) = s.post("/api/v1/auth/login", None, &wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}: {body}");
    }
    // Locked now, even for the right password.
    let resp = s
        .http
        .post(s.url("/api/v1/auth/login"))
        .json(&json!({"email": "victim@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "Retry-After {retry_after}");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");

    // Other accounts from the same address still sign in.
    let (status, body) =
        s.post("/api/v1/auth/login", None, &json!({"email": "bystander@example.com", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn failures_from_one_address_lock_that_address(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.login_failures_per_ip = 5).await;
    s.signup("someone@example.com", "someone").await;
    for i in 0..5 {
        let (status, _) = s
            .post(
                "/api/v1/auth/login",
                None,
                &json!({"email": format!("guess{i}@example.com"), "password": "whatever1"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) =
        s.post("/api/v1/auth/login", None, &json!({"email": "someone@example.com", "password": PASSWORD})).await;
    assert_eq!((status, code(&body)), (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS"));
    // Sign-up is not a sign-in: it is not throttled by failures.
    s.signup("newcomer@example.com", "newcomer").await;
}

async fn login_from(s: &TestServer, forwarded_for: Option<&str>, email: &str, password: &str) -> (StatusCode, Value) {
    let mut req = s.http.post(s.url("/api/v1/auth/login")).json(&json!({"email": email, "password": password}));
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    let resp = req.send().await.expect("sent");
    let status = resp.status();
    (status, resp.json().await.unwrap_or_default())
}

async fn forty_parallel_wrong_passwords_check_at_most_ten(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.signup("victim@example.com", "victim").await;
    let checked_before = s.state.passwords.verifications();

    let burst =
        (0..40).map(|i| login_from(&s, None, "victim@example.com", if i % 2 == 0 { "wrong-1" } else { "wrong-2" }));
    let answers = futures::future::join_all(burst).await;
    let refused =
        answers.iter().filter(|(st, b)| *st == StatusCode::TOO_MANY_REQUESTS && code(b) == "TOO_MANY_REQUESTS");
    let wrong = answers.iter().filter(|(st, b)| *st == StatusCode::UNAUTHORIZED && code(b) == "INVALID_CREDENTIALS");
    assert_eq!((wrong.count(), refused.count()), (10, 30), "{answers:?}");
    // Only the ten counted attempts ran argon2.
    assert_eq!(s.state.passwords.verifications() - checked_before, 10);
    // And the account stays locked, for the right password too.
    assert_eq!(login_from(&s, None, "victim@example.com", PASSWORD).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(s.state.passwords.verifications() - checked_before, 10);
}

async fn a_correct_password_after_failures_still_signs_in(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.signup("forgetful@example.com", "forgetful").await;
    for _ in 0..9 {
        assert_eq!(login_from(&s, None, "forgetful@example.com", "not-it-1").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_from(&s, None, "forgetful@example.com", PASSWORD).await.0, StatusCode::OK);
    // The success cleared the account's failures, and successes are never counted: signing in again and again
    // works, and nine more mistakes are still allowed.
    for _ in 0..12 {
        assert_eq!(login_from(&s, None, "forgetful@example.com", PASSWORD).await.0, StatusCode::OK);
    }
    for _ in 0..9 {
        assert_eq!(login_from(&s, None, "forgetful@example.com", "not-it-2").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_from(&s, None, "forgetful@example.com", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(s.count("login_failures").await, 0);
}

async fn signup_from(s: &TestServer, forwarded_for: Option<&str>, n: usize) -> reqwest::Response {
    let body = json!({"email": format!("new{n}@example.com"), "password": PASSWORD, "nickname": format!("new{n}")});
    let mut req = s.http.post(s.url("/api/v1/auth/signup")).json(&body);
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.expect("sent")
}

async fn a_burst_of_sign_ups_from_one_address_is_limited(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.signups_per_ip_per_hour = 5;
        // The test's own loopback connection is a proxy here, so it can speak for a second address.
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let answers = futures::future::join_all((0..12).map(|n| signup_from(&s, Some("203.0.113.7"), n))).await;
    let created = answers.iter().filter(|r| r.status() == StatusCode::CREATED).count();
    let refused: Vec<_> = answers.iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!((created, refused.len()), (5, 7));
    for r in &refused {
        let retry_after: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=3600).contains(&retry_after), "Retry-After {retry_after}");
    }
    assert_eq!(s.count("users").await, 5);
    // Another address is not held back by the first one's sign-ups.
    assert_eq!(signup_from(&s, Some("198.51.100.20"), 100).await.status(), StatusCode::CREATED);
}

async fn a_forwarded_address_counts_only_from_a_trusted_proxy(backend: Backend) {
    // Loopback is not a trusted proxy here: whatever X-Forwarded-For says, every failure counts against 127.0.0.1.
    let s = TestServer::start_with(backend, |c| {
        c.login_failures_per_ip = 3;
        c.trusted_proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
    })
    .await;
    for i in 0..3 {
        let spoofed = format!("203.0.113.{i}");
        let (status, _) = login_from(&s, Some(&spoofed), &format!("guess{i}@example.com"), "whatever1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = login_from(&s, Some("198.51.100.99"), "guess9@example.com", "whatever1").await;
    assert_eq!((status, code(&body)), (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS"));
    drop(s);

    // Behind a trusted proxy (loopback here), each forwarded client has its own count.
    let s = TestServer::start_with(backend, |c| {
        c.login_failures_per_ip = 3;
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap();
    })
    .await;
    for i in 0..3 {
        let (status, _) = login_from(&s, Some("203.0.113.1"), &format!("guess{i}@example.com"), "whatever1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = login_from(&s, Some("203.0.113.1"), "guess9@example.com", "whatever1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // A client-written entry left of the proxy's own cannot pick another count.
    let (status, _) = login_from(&s, Some("198.51.100.5, 203.0.113.1"), "guess9@example.com", "whatever1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = login_from(&s, Some("203.0.113.2"), "guess9@example.com", "whatever1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
