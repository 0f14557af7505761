//! The dev-mode playthrough, through HTTP only: three people charge points in the TossPayments sandbox, one creates
//! a challenge and two join, the domain clock moves day by day while two of them prove, and after the end the
//! automatic settlement shows in everyone's wallet.

use std::time::Duration;

use chrono::TimeZone;
use nene_tests::{Backend, Session, TestServer, assert_ledger_ok, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(a_three_person_challenge_played_through_in_dev_mode);

/// Waits until `check` holds for the answer of GET `path` (the workers act on their own time), up to 10 s.
async fn wait_for(s: &TestServer, path: &str, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let (_, body) = s.get(path, Some(token)).await;
        if check(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{path} never reached the expected state; last answer: {last}");
}

/// Moves the domain clock to 00:00:30 of `day` in Seoul, through the dev endpoint.
async fn clock_to(s: &TestServer, day: chrono::NaiveDate) {
    let (_, clock) = s.get("/dev/clock", None).await;
    let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().unwrap()).unwrap();
    let target = chrono_tz::Asia::Seoul.from_local_datetime(&day.and_hms_opt(0, 0, 30).unwrap()).single().unwrap();
    let secs = (target.with_timezone(&chrono::Utc) - now.with_timezone(&chrono::Utc)).num_seconds().max(0);
    let (status, body) = s.post("/dev/clock", None, &json!({"advance_secs": secs})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn charge(s: &TestServer, who: &Session, amount: i64) {
    let (status, order) = s.post("/api/v1/payments/orders", Some(&who.access), &json!({"amount": amount})).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let order_id = order["order_id"].as_str().unwrap();
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let approve = no_redirects
        .get(s.url("/dev/toss/sandbox/pay/approve"))
        .query(&[
            ("orderId", order_id),
            ("amount", &amount.to_string()),
            ("orderName", "points"),
            ("successUrl", "http://localhost/ok"),
            ("failUrl", "http://localhost/fail"),
        ])
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(approve.headers()["location"].to_str().unwrap()).unwrap();
    let key = location.query_pairs().find(|(k, _)| k == "paymentKey").unwrap().1.into_owned();
    let (status, body) = s
        .post(
            "/api/v1/payments/confirm",
            Some(&who.access),
            &json!({"payment_key": key, "order_id": order_id, "amount": amount}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for(s, "/api/v1/wallet", &who.access, |w| w["balance"] == amount).await;
}

async fn a_three_person_challenge_played_through_in_dev_mode(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.dev = true;
        c.run_workers = true;
    })
    .await;
    let alice = s.signup("alice@example.com", "alice").await;
    let bob = s.signup("bob@example.com", "bob").await;
    let carol = s.signup("carol@example.com", "carol").await;
    // Alice's phone gets pushes through the dev-mode FCM sandbox.
    let (status, body) =
        s.post("/api/v1/devices", Some(&alice.access), &json!({"platform": "ANDROID", "token": "alice-phone"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for who in [&alice, &bob, &carol] {
        charge(&s, who, 20_000).await;
    }

    let (_, clock) = s.get("/dev/clock", None).await;
    let now = chrono::DateTime::parse_from_rfc3339(clock["now"].as_str().unwrap()).unwrap();
    let start = now.with_timezone(&chrono_tz::Asia::Seoul).date_naive() + chrono::Duration::days(1);
    let end = start + chrono::Duration::days(2);
    let (status, ch) = s
        .post(
            "/api/v1/challenges",
            Some(&alice.access),
            &json!({
            "title": "3일 일기 쓰기", "description": "하루 한 줄", "category": "HABIT", "proof_type": "TEXT",
            "start_date": start.to_string(), "end_date": end.to_string(), "stake": 10_000, "capacity": 10,
            "success_threshold": 100}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_owned();
    for who in [&bob, &carol] {
        let (status, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&who.access), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    clock_to(&s, start).await;
    let path = format!("/api/v1/challenges/{id}");
    wait_for(&s, &path, &alice.access, |c| c["status"] == "IN_PROGRESS").await;
    for day in 0..3 {
        for who in [&alice, &bob] {
            let (status, body) = s.submit_proof(&who.access, &id, None, Some(&format!("day {day}"))).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        clock_to(&s, start + chrono::Duration::days(day + 1)).await;
    }
    let ended = wait_for(&s, &path, &alice.access, |c| c["status"] == "ENDED").await;
    assert_eq!(ended["participant_count"], 3);

    // Carol's stake is split between Alice and Bob: 20,000 − 10,000 + 10,000 + 5,000.
    for (who, balance, refundable) in [(&alice, 25_000, 20_000), (&bob, 25_000, 20_000), (&carol, 10_000, 10_000)] {
        let (_, wallet) = s.get("/api/v1/wallet", Some(&who.access)).await;
        assert_eq!((wallet["balance"].as_i64(), wallet["refundable_cash"].as_i64()), (Some(balance), Some(refundable)));
    }
    let (_, entries) = s.get("/api/v1/wallet/entries", Some(&bob.access)).await;
    let kinds: Vec<&str> = entries["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["PAYOUT", "STAKE_REFUND", "STAKE", "CHARGE"]);

    // Every event reached Alice's inbox and, through the push queue, her phone.
    let sandbox = s.state.fcm_sandbox.clone().expect("dev mode serves an FCM sandbox");
    let (_, inbox) = s.get("/api/v1/notifications?limit=100", Some(&alice.access)).await;
    let mut kinds: Vec<&str> = inbox["items"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds, vec!["CHALLENGE_STARTING", "JOIN_CONFIRMED", "PAYMENT_RESULT", "SETTLEMENT_RESULT"]);
    let total = inbox["items"].as_array().unwrap().len();
    let mut pushed = 0;
    for _ in 0..400 {
        pushed = sandbox.delivered_to("alice-phone");
        if pushed == total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(pushed, total);
    assert_ledger_ok(&s.state.db).await;
}
