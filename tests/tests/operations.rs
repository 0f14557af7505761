//! Health, readiness, metrics (bounded labels, an optional token), the OpenAPI document and dev mode's clock (for
//! this machine only).

use nene_tests::{Backend, TestServer, code, on_both_databases};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    health_ready_metrics_and_openapi,
    dev_clock_exists_only_in_dev_mode,
    invented_methods_and_paths_leave_no_series_of_their_own,
    metrics_can_be_kept_behind_a_token,
    dev_routes_answer_this_machine_only,
);

async fn health_ready_metrics_and_openapi(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (status, body) = s.get("/health", None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, body) = s.get("/ready", None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ready")));

    // Every answer carries a request id for the logs.
    let resp = s.http.get(s.url("/health")).send().await.unwrap();
    assert!(resp.headers().contains_key("x-request-id"));

    s.signup("metrics@example.com", "metrics").await;
    let text = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("http_request_duration_seconds_bucket")
            && l.contains(r#"route="/api/v1/auth/signup""#)
            && l.contains(r#"status="201""#)),
        "no latency histogram for sign-up in:\n{text}"
    );

    let (status, doc) = s.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/users/{id}",
        "/api/v1/openapi.json",
        "/api/v1/wallet",
        "/api/v1/wallet/entries",
        "/api/v1/payments/orders",
        "/api/v1/payments/confirm",
        "/api/v1/payments/orders/{order_id}/cancel",
        "/api/v1/payments/webhook",
        "/api/v1/admin/ledger/check",
        "/api/v1/challenges",
        "/api/v1/challenges/{id}",
        "/api/v1/challenges/{id}/join",
        "/api/v1/challenges/{id}/leave",
        "/api/v1/challenges/{id}/participants",
        "/api/v1/challenges/{id}/progress",
        "/api/v1/challenges/{id}/proofs",
        "/api/v1/proofs/{id}/photo",
        "/api/v1/proofs/{id}/thumbnail",
        "/api/v1/proofs/{id}/report",
        "/api/v1/proofs/{id}/reject",
        "/api/v1/notifications",
        "/api/v1/notifications/unread-count",
        "/api/v1/notifications/{id}/read",
        "/api/v1/me/notification-settings",
        "/api/v1/devices",
        "/api/v1/devices/{token}",
        "/api/v1/sync/pull",
        "/api/v1/sync/push",
        "/api/v1/sync/photos",
        "/health",
        "/ready",
        "/metrics",
    ] {
        assert!(paths.contains_key(route), "openapi lacks {route}");
    }
    assert!(!paths.contains_key("/dev/clock"), "dev routes are documented only in dev mode");
    assert!(paths["/api/v1/me"].get("patch").is_some());

    // Enumerations are documented by their wire names, as the answers carry them.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["ChallengeStatus"]["enum"], json!(["RECRUITING", "READY", "IN_PROGRESS", "ENDED", "CANCELLED"]));
    assert_eq!(schemas["Weekday"]["enum"][0], "MON");
    // The answers every route can give are documented on it, in the one error shape.
    let join = &paths["/api/v1/challenges/{id}/join"]["post"]["responses"];
    for status in ["401", "404", "500"] {
        assert_eq!(join[status]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody");
    }
    let wallet = &paths["/api/v1/wallet"]["get"]["responses"];
    assert!(wallet.get("401").is_some() && wallet.get("404").is_none() && wallet.get("400").is_none(), "{wallet}");
}

async fn dev_clock_exists_only_in_dev_mode(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (status, body) = s.post("/dev/clock", None, &json!({"advance_secs": 60})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    assert_eq!(s.get("/dev/clock", None).await.0, StatusCode::NOT_FOUND);
    drop(s);

    let dev = TestServer::start_with(backend, |c| c.dev = true).await;
    let (status, before) = dev.get("/dev/clock", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(before["offset_secs"], 0);
    let (status, after) = dev.post("/dev/clock", None, &json!({"advance_secs": 86_400})).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["offset_secs"], 86_400);
    let t0 = chrono::DateTime::parse_from_rfc3339(before["now"].as_str().unwrap()).unwrap();
    let t1 = chrono::DateTime::parse_from_rfc3339(after["now"].as_str().unwrap()).unwrap();
    assert!(t1 - t0 >= chrono::Duration::days(1));
    let (status, body) = dev.post("/dev/clock", None, &json!({"advance_secs": -10})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(dev.state.clock.offset_ms(), 86_400_000);
    // Demo accounts, their welcome points and a few recruiting challenges are seeded in dev mode.
    assert_eq!(dev.count("users").await, 3);
    assert_eq!(dev.count("challenges").await, 3);
    let (_, login) = dev
        .post("/api/v1/auth/login", None, &json!({"email": "nene@demo.nene.app", "password": "nene-demo-1234"}))
        .await;
    let (_, list) = dev.get("/api/v1/challenges", login["access_token"].as_str()).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    nene_tests::assert_ledger_ok(&dev.state.db).await;
    let (_, doc) = dev.get("/api/v1/openapi.json", None).await;
    assert!(doc["paths"].get("/dev/clock").is_some());

    // The moved clock survives a restart.
    let db = dev.db.clone();
    let config = dev.state.config.as_ref().clone();
    dev.stop().await;
    let again = TestServer::start_on(db, config).await;
    assert_eq!(again.state.clock.offset_ms(), 86_400_000);
    assert_eq!(again.count("users").await, 3);
    assert_eq!(again.count("challenges").await, 3);
    assert_eq!(again.count("ledger_transfers").await, {
        // 3 welcome bonuses + 3 creators' stakes + 3 joins: nothing added by the restart.
        9
    });
}

async fn invented_methods_and_paths_leave_no_series_of_their_own(backend: Backend) {
    let s = TestServer::start(backend).await;
    let invented = reqwest::Method::from_bytes(b"FOO").unwrap();
    let user = uuid::Uuid::now_v7();
    for path in ["/health".to_owned(), format!("/api/v1/users/{user}"), "/no/such/place/at/all".to_owned()] {
        let answer = s.http.request(invented.clone(), s.url(&path)).send().await.unwrap();
        assert!(answer.status().is_client_error(), "{path}: {}", answer.status());
    }
    let answer = s.http.get(s.url(&format!("/api/v1/users/{user}"))).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    let text = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("http_requests_total")).collect();
    assert!(!text.contains("FOO"), "{series:#?}");
    assert!(series.iter().any(|l| l.contains(r#"method="OTHER""#)), "{series:#?}");
    // Routes are their templates, never the concrete path a client chose.
    assert!(!text.contains(&user.to_string()) && !text.contains("/no/such/place"), "{series:#?}");
    assert!(series.iter().any(|l| l.contains(r#"route="/api/v1/users/{id}""#)), "{series:#?}");
}

async fn metrics_can_be_kept_behind_a_token(backend: Backend) {
    let token = "metrics-scraper-token-0123456789";
    let s = TestServer::start_with(backend, |c| c.metrics_token = Some(token.to_owned())).await;
    let (status, body) = s.get("/metrics", None).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"));
    let (status, _) = s.get("/metrics", Some("metrics-scraper-token-0123456780")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let answer = s.http.get(s.url("/metrics")).bearer_auth(token).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().await.unwrap().contains("http_requests_total"));
    // Health and readiness stay open to probes.
    assert_eq!(s.get("/health", None).await.0, StatusCode::OK);
}

async fn dev_routes_answer_this_machine_only(backend: Backend) {
    // A proxy on this machine (loopback, trusted) forwards requests from elsewhere.
    let dev = TestServer::start_with(backend, |c| {
        c.dev = true;
        c.trusted_proxies = nene_server::http::client_addr::TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await;
    let (status, _) = dev.get("/dev/clock", None).await;
    assert_eq!(status, StatusCode::OK, "this machine's own requests are answered");

    let from_afar = |method: reqwest::Method, path: &str| {
        dev.http.request(method, dev.url(path)).header("x-forwarded-for", "203.0.113.50")
    };
    for (method, path) in [
        (reqwest::Method::GET, "/dev/clock"),
        (reqwest::Method::POST, "/dev/clock"),
        (reqwest::Method::GET, "/dev/toss/sandbox/pay"),
        (reqwest::Method::POST, "/dev/fcm/token"),
    ] {
        let answer = from_afar(method, path).json(&json!({"advance_secs": 86_400})).send().await.unwrap();
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.unwrap_or_default();
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{path}");
    }
    assert_eq!(dev.state.clock.offset_ms(), 0, "a refused request moved the clock");
    // The rest of the API answers everyone.
    let answer = from_afar(reqwest::Method::GET, "/health").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}
