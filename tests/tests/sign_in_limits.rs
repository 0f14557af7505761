//! Failed sign-ins are limited per account and per address; successful traffic and other accounts are not.

use nene_tests::{Backend, PASSWORD, TestServer, code, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(ten_failures_lock_one_account_only, failures_from_one_address_lock_that_address);

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
