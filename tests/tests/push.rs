//! Push notifications through a sandbox of FCM HTTP v1: several devices, retries with backoff, dead tokens,
//! FCM down past every retry, restarts with deliveries pending, two instances draining one queue, the daily
//! reminder, muted kinds, and the inbox API.

use std::sync::Arc;
use std::time::Duration;

use nene_server::push;
use nene_server::store;
use nene_tests::{
    Backend, TestServer, WithPush, challenge_body, code, funded_user, move_clock_to, on_both_databases, push_to,
    test_config,
};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(
    a_notification_reaches_both_devices,
    failing_twice_then_recovering_is_delivered_on_the_third_try_after_backoff,
    a_dead_token_is_removed_and_never_retried,
    fcm_down_past_every_retry_fails_visibly,
    pending_deliveries_survive_a_restart_and_go_out_once,
    a_thousand_queued_notifications_are_each_sent_once,
    the_daily_reminder_goes_only_to_those_who_have_not_proved,
    muted_kinds_stay_in_the_inbox_and_the_inbox_api_works,
    one_pass_records_a_retry_and_a_last_failure_side_by_side,
    retry_after_longer_than_the_backoff_is_honoured,
    claims_never_hand_out_one_delivery_twice,
    one_pass_drains_more_than_a_batch_each_sent_once,
    an_eleventh_device_drops_the_oldest_and_a_known_token_is_refreshed,
    a_reminder_pass_with_nothing_due_writes_nothing,
    passes_racing_for_one_reminder_send_it_once,
);

/// A notification for `user`, written like every producer writes one (inside a transaction).
async fn notify_user(s: &TestServer, user: nene_shared::UserId, body: &str) {
    let mut tx = s.state.db.begin_write().await.unwrap();
    nene_server::notify::record(
        &mut tx,
        user.as_uuid(),
        nene_server::notify::Kind::PaymentResult,
        "알림",
        body,
        &[("n", body.to_owned())],
        chrono::Utc::now().timestamp_millis(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn register(s: &TestServer, token: &str, device: &str) {
    let (status, body) = s.post("/api/v1/devices", Some(token), &json!({"platform": "ANDROID", "token": device})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// (status, attempts, next_attempt_at) of every delivery, oldest first.
async fn deliveries(s: &TestServer) -> Vec<(String, i64, i64)> {
    let mut tx = s.state.db.begin_read().await.unwrap();
    nene_server::on_conn!(&mut tx, c => sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT status, attempts, next_attempt_at FROM notification_deliveries ORDER BY id").fetch_all(&mut *c).await.unwrap())
}

async fn a_notification_reaches_both_devices(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "twophones", 0).await;
    register(s, &token, "device-phone").await;
    register(s, &token, "device-tablet").await;
    notify_user(s, user, "충전 완료").await;
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 2);
    assert_eq!(t.fcm.delivered_to("device-phone"), 1);
    assert_eq!(t.fcm.delivered_to("device-tablet"), 1);
    let sent = t.fcm.delivered();
    assert_eq!(sent[0].title, "알림");
    assert_eq!(sent[0].data.get("kind").map(String::as_str), Some("PAYMENT_RESULT"));
    let (_, inbox) = s.get("/api/v1/notifications", Some(&token)).await;
    assert_eq!(inbox["items"][0]["delivery"], "SENT");
    // Nothing left to send.
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 0);
}

async fn failing_twice_then_recovering_is_delivered_on_the_third_try_after_backoff(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "patient", 0).await;
    register(s, &token, "device-1").await;
    notify_user(s, user, "hello").await;
    t.fcm.fail_next(2, 503, "UNAVAILABLE", None);

    let before = s.state.clock.now().timestamp_millis();
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1);
    let (status, attempts, due) = deliveries(s).await[0].clone();
    assert_eq!((status.as_str(), attempts), ("PENDING", 1));
    let wait = due - before;
    assert!((8_000..=12_500).contains(&wait), "first retry after ~10 s, was {wait} ms");
    // Not due yet.
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 0);
    s.state.clock.advance_ms(13_000);
    let before = s.state.clock.now().timestamp_millis();
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1);
    let (_, attempts, due) = deliveries(s).await[0].clone();
    assert_eq!(attempts, 2);
    let wait = due - before;
    assert!((48_000..=72_500).contains(&wait), "second retry after ~60 s, was {wait} ms");
    s.state.clock.advance_ms(73_000);
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1);
    assert_eq!(deliveries(s).await[0].0, "SENT");
    assert_eq!(t.fcm.delivered_to("device-1"), 1);
    assert_eq!(t.fcm.send_attempts(), 3);
}

async fn a_dead_token_is_removed_and_never_retried(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "oldphone", 0).await;
    register(s, &token, "device-gone").await;
    register(s, &token, "device-live").await;
    t.fcm.unregister("device-gone");
    notify_user(s, user, "one").await;
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 2);
    let mut statuses: Vec<String> = deliveries(s).await.into_iter().map(|d| d.0).collect();
    statuses.sort();
    assert_eq!(statuses, vec!["DROPPED", "SENT"]);
    let mut tx = s.state.db.begin_read().await.unwrap();
    assert_eq!(
        store::notifications::devices_of(&mut tx, user.as_uuid()).await.unwrap(),
        vec!["device-live".to_owned()]
    );
    drop(tx);
    let attempts = t.fcm.send_attempts();
    s.state.clock.advance_ms(3_600_000);
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 0);
    notify_user(s, user, "two").await;
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1);
    assert_eq!(t.fcm.send_attempts(), attempts + 1);
    assert_eq!(t.fcm.delivered_to("device-gone"), 0);
}

async fn fcm_down_past_every_retry_fails_visibly(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "unlucky", 0).await;
    register(s, &token, "device-1").await;
    notify_user(s, user, "lost?").await;
    t.fcm.set_down(true);
    for attempt in 1..=push::MAX_ATTEMPTS {
        assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1, "attempt {attempt}");
        s.state.clock.advance_ms(400_000);
    }
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 0);
    let d = deliveries(s).await;
    assert_eq!((d[0].0.as_str(), d[0].1), ("FAILED", push::MAX_ATTEMPTS));
    // Still in the inbox, marked as not delivered, and counted.
    let (_, inbox) = s.get("/api/v1/notifications", Some(&token)).await;
    assert_eq!(inbox["items"][0]["delivery"], "FAILED");
    assert_eq!(inbox["items"][0]["body"], "lost?");
    push::record_queue_metrics(&s.state).await.unwrap();
    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("push_failures_total"), "{metrics}");
    assert!(metrics.lines().any(|l| l.starts_with("push_deliveries{status=\"FAILED\"}")), "{metrics}");
}

async fn pending_deliveries_survive_a_restart_and_go_out_once(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let (user, token) = funded_user(&t.server.state.db, "restarter", 0).await;
    register(&t.server, &token, "device-r").await;
    for i in 0..5 {
        notify_user(&t.server, user, &format!("n{i}")).await;
    }
    // The server stops before anything was attempted; a new one starts with its workers on.
    let db = Arc::clone(&t.server.db);
    let mut config = t.server.state.config.as_ref().clone();
    t.server.stop().await;
    config.run_workers = true;
    let again = TestServer::start_on(db, config).await;
    // Wait until the worker has recorded every outcome (the sends themselves happen just before).
    let mut all_sent = false;
    for _ in 0..400 {
        if deliveries(&again).await.iter().all(|d| d.0 == "SENT") {
            all_sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(all_sent, "{:?}", deliveries(&again).await);
    assert_eq!(t.fcm.delivered_to("device-r"), 5);
    assert_eq!(t.fcm.send_attempts(), 5);
}

async fn a_thousand_queued_notifications_are_each_sent_once(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let mut users = Vec::new();
    for i in 0..100 {
        let (user, token) = funded_user(&s.state.db, &format!("bulk{i}"), 0).await;
        register(s, &token, &format!("device-{i}")).await;
        users.push(user);
    }
    for round in 0..10 {
        for user in &users {
            notify_user(s, *user, &format!("round {round}")).await;
        }
    }
    // On PostgreSQL two instances drain the queue together; SQLite has one process per file.
    let mut servers = Vec::new();
    let instances = if backend == Backend::Postgres { 2 } else { 1 };
    let addr = t.addr;
    for _ in 0..instances {
        let mut config = test_config(&s.db);
        push_to(&mut config, addr, &s.db);
        config.run_workers = true;
        servers.push(TestServer::start_on(Arc::clone(&s.db), config).await);
    }
    for _ in 0..800 {
        if t.fcm.delivered().len() >= 1_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(t.fcm.delivered().len(), 1_000);
    assert_eq!(t.fcm.send_attempts(), 1_000, "no delivery was sent twice");
    for i in 0..100 {
        assert_eq!(t.fcm.delivered_to(&format!("device-{i}")), 10);
    }
}

async fn the_daily_reminder_goes_only_to_those_who_have_not_proved(backend: Backend) {
    let t = WithPush::start(backend, |c| c.reminder_hour = 20).await;
    let s = &t.server;
    let db = &s.state.db;
    let (host_id, host) = funded_user(db, "host", 10_000).await;
    let (a_id, a) = funded_user(db, "a", 10_000).await;
    let (b_id, b) = funded_user(db, "b", 10_000).await;
    let body = challenge_body(s, "Remind me", 3, 10_000, 5);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (_, ch) = s.post("/api/v1/challenges", Some(&host), &body).await;
    let id = ch["id"].as_str().unwrap().to_owned();
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&a), &json!({})).await;
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&b), &json!({})).await;
    move_clock_to(s, start);
    nene_server::challenges::scheduler::step(&s.state).await.unwrap();
    let (status, _) = s.submit_proof(&a, &id, None, Some("done early")).await;
    assert_eq!(status, StatusCode::CREATED);

    // Before 20:00 nobody is reminded.
    assert_eq!(nene_server::challenges::scheduler::reminder_step(&s.state).await.unwrap(), 0);
    s.state.clock.advance_ms(20 * 3_600_000);
    assert_eq!(nene_server::challenges::scheduler::reminder_step(&s.state).await.unwrap(), 1);
    assert_eq!(nene_server::challenges::scheduler::reminder_step(&s.state).await.unwrap(), 0, "once a day");
    let reminders = |user: nene_shared::UserId| {
        let db = db.clone();
        async move {
            let mut tx = db.begin_read().await.unwrap();
            let kinds = store::notifications::kinds_of(&mut tx, user.as_uuid()).await.unwrap();
            kinds.iter().filter(|(k, _)| k == "PROOF_REMINDER").count()
        }
    };
    assert_eq!(reminders(host_id).await, 1);
    assert_eq!(reminders(b_id).await, 1);
    assert_eq!(reminders(a_id).await, 0);
}

async fn muted_kinds_stay_in_the_inbox_and_the_inbox_api_works(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "quiet", 0).await;
    let (_, other) = funded_user(&s.state.db, "other", 0).await;
    register(s, &token, "device-q").await;
    let (status, settings) = s
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/notification-settings",
            Some(&token),
            Some(&json!({"muted": ["PAYMENT_RESULT"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["muted"], json!(["PAYMENT_RESULT"]));
    notify_user(s, user, "muted one").await;
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 0);
    let (_, inbox) = s.get("/api/v1/notifications", Some(&token)).await;
    assert_eq!(inbox["items"][0]["delivery"], "INBOX_ONLY");

    notify_user(s, user, "second").await;
    let (_, count) = s.get("/api/v1/notifications/unread-count", Some(&token)).await;
    assert_eq!(count["count"], 2);
    let first = inbox["items"][0]["id"].as_str().unwrap();
    assert_eq!(
        s.post(&format!("/api/v1/notifications/{first}/read"), Some(&other), &json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.post(&format!("/api/v1/notifications/{first}/read"), Some(&token), &json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, count) = s.get("/api/v1/notifications/unread-count", Some(&token)).await;
    assert_eq!(count["count"], 1);
    let (_, unread) = s.get("/api/v1/notifications?unread=true", Some(&token)).await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 1);
    assert_eq!(unread["items"][0]["body"], "second");

    // Pages, newest first, one at a time: every notification once, then no cursor.
    notify_user(s, user, "third").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/notifications?limit=1&cursor={c}"),
            None => "/api/v1/notifications?limit=1".to_owned(),
        };
        let (status, page) = s.get(&path, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        seen.push(page["items"][0]["body"].as_str().unwrap().to_owned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["third", "second", "muted one"]);
    let (status, body) = s.get("/api/v1/notifications?cursor=yesterday", Some(&token)).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"));

    // Devices: bad tokens are refused; one's own device can be removed, another's cannot.
    let (status, body) = s.post("/api/v1/devices", Some(&token), &json!({"platform": "WEB", "token": ""})).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"));
    let resp = s.http.delete(s.url("/api/v1/devices/device-q")).bearer_auth(&other).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s.http.delete(s.url("/api/v1/devices/device-q")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Without FCM configured, devices cannot be registered: the inbox is all there is.
    let plain = TestServer::start(backend).await;
    let (_, tok) = funded_user(&plain.state.db, "nopush", 0).await;
    let (status, body) = plain.post("/api/v1/devices", Some(&tok), &json!({"platform": "IOS", "token": "abc"})).await;
    assert_eq!((status, code(&body)), (StatusCode::SERVICE_UNAVAILABLE, "PUSH_DISABLED"));
}

/// Queues `n` notifications to `user` in one transaction.
async fn notify_many(s: &TestServer, user: nene_shared::UserId, n: usize) {
    let mut tx = s.state.db.begin_write().await.unwrap();
    for i in 0..n {
        nene_server::notify::record(
            &mut tx,
            user.as_uuid(),
            nene_server::notify::Kind::PaymentResult,
            "알림",
            &format!("n{i}"),
            &[("n", i.to_string())],
            chrono::Utc::now().timestamp_millis(),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn one_pass_records_a_retry_and_a_last_failure_side_by_side(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "mixed", 0).await;
    register(s, &token, "device-a").await;
    register(s, &token, "device-b").await;
    notify_user(s, user, "both").await;
    // device-a's delivery is on its last try already; device-b's on its first.
    let mut tx = s.state.db.begin_write().await.unwrap();
    nene_server::on_conn!(&mut tx, c => sqlx::query(
        "UPDATE notification_deliveries SET attempts = $1 WHERE device_token = 'device-a'")
        .bind(push::MAX_ATTEMPTS - 1).execute(&mut *c).await.unwrap().rows_affected());
    tx.commit().await.unwrap();
    t.fcm.set_down(true);
    let before = s.state.clock.now().timestamp_millis();
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 2);
    let mut tx = s.state.db.begin_read().await.unwrap();
    let rows: Vec<(String, String, i64, i64, Option<String>)> = nene_server::on_conn!(&mut tx, c => sqlx::query_as(
        "SELECT device_token, status, attempts, next_attempt_at, last_error FROM notification_deliveries \
         ORDER BY device_token").fetch_all(&mut *c).await.unwrap());
    drop(tx);
    assert_eq!((rows[0].1.as_str(), rows[0].2), ("FAILED", push::MAX_ATTEMPTS), "{rows:?}");
    assert!(rows[0].4.as_deref().unwrap_or_default().contains("UNAVAILABLE"), "{rows:?}");
    assert_eq!((rows[1].1.as_str(), rows[1].2), ("PENDING", 1), "{rows:?}");
    assert!(rows[1].4.as_deref().unwrap_or_default().contains("UNAVAILABLE"), "{rows:?}");
    let wait = rows[1].3 - before;
    assert!((8_000..=12_500).contains(&wait), "first retry after ~10 s, was {wait} ms");
    // The retry goes out once due; the failed one never again.
    t.fcm.set_down(false);
    s.state.clock.advance_ms(13_000);
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1);
    assert_eq!(t.fcm.delivered_to("device-b"), 1);
    assert_eq!(t.fcm.delivered_to("device-a"), 0);
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 0);
}

async fn retry_after_longer_than_the_backoff_is_honoured(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "throttled", 0).await;
    register(s, &token, "device-1").await;
    notify_user(s, user, "later").await;
    t.fcm.fail_next(1, 429, "QUOTA_EXCEEDED", Some(600));
    let before = s.state.clock.now().timestamp_millis();
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1);
    let (status, attempts, due) = deliveries(s).await[0].clone();
    assert_eq!((status.as_str(), attempts), ("PENDING", 1));
    assert!(due - before >= 600_000, "Retry-After of 600 s beats the 10 s backoff, waited {} ms", due - before);
    s.state.clock.advance_ms(300_000);
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 0, "not before Retry-After");
    s.state.clock.advance_ms(301_000);
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1);
    assert_eq!(deliveries(s).await[0].0, "SENT");
}

/// Two claims, the second made while the first is still open where the engine allows it (PostgreSQL skips the
/// rows the first has locked; SQLite's writer lets one claim in at a time): no delivery is in both, every one is
/// in one, and the claim counted each attempt once.
async fn claims_never_hand_out_one_delivery_twice(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "claimed", 0).await;
    register(s, &token, "device-c").await;
    notify_many(s, user, 30).await;
    let now = s.state.clock.now().timestamp_millis();
    let real = chrono::Utc::now().timestamp_millis();
    let mut first_tx = s.state.db.begin_write().await.unwrap();
    let first = store::notifications::claim(&mut first_tx, now, real, 60_000, 20).await.unwrap();
    let second = if backend == Backend::Postgres {
        let mut second_tx = s.state.db.begin_write().await.unwrap();
        let second = store::notifications::claim(&mut second_tx, now, real, 60_000, 20).await.unwrap();
        second_tx.commit().await.unwrap();
        first_tx.commit().await.unwrap();
        second
    } else {
        first_tx.commit().await.unwrap();
        let mut second_tx = s.state.db.begin_write().await.unwrap();
        let second = store::notifications::claim(&mut second_tx, now, real, 60_000, 20).await.unwrap();
        second_tx.commit().await.unwrap();
        second
    };
    assert_eq!(first.len(), 20);
    assert_eq!(second.len(), 10);
    let mut ids: Vec<i64> = first.iter().chain(&second).map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 30, "no delivery claimed twice");
    assert!(first.iter().chain(&second).all(|r| r.attempts == 1 && r.title == "알림" && r.kind == "PAYMENT_RESULT"));
    // Leased: nothing is due until the lease runs out.
    let mut tx = s.state.db.begin_write().await.unwrap();
    assert!(store::notifications::claim(&mut tx, now, real, 60_000, 20).await.unwrap().is_empty());
    let again = store::notifications::claim(&mut tx, now, real + 60_001, 60_000, 50).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(again.len(), 30, "an expired lease makes the delivery due again");
    assert!(again.iter().all(|r| r.attempts == 2));
}

async fn one_pass_drains_more_than_a_batch_each_sent_once(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "busy", 0).await;
    register(s, &token, "device-1").await;
    register(s, &token, "device-2").await;
    notify_many(s, user, 700).await;
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 1_400);
    assert_eq!(t.fcm.send_attempts(), 1_400);
    assert_eq!(t.fcm.delivered_to("device-1"), 700);
    assert_eq!(t.fcm.delivered_to("device-2"), 700);
    assert!(deliveries(s).await.iter().all(|d| d.0 == "SENT" && d.1 == 1));
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 0);
}

async fn an_eleventh_device_drops_the_oldest_and_a_known_token_is_refreshed(backend: Backend) {
    let t = WithPush::start(backend, |_| {}).await;
    let s = &t.server;
    let (user, token) = funded_user(&s.state.db, "gadgets", 0).await;
    let (other_id, other) = funded_user(&s.state.db, "bystander", 0).await;
    register(s, &other, "device-other").await;
    let devices_of = |who: nene_shared::UserId| async move {
        let mut tx = s.state.db.begin_read().await.unwrap();
        store::notifications::devices_of(&mut tx, who.as_uuid()).await.unwrap()
    };
    let devices = || devices_of(user);
    for i in 0..10 {
        register(s, &token, &format!("device-{i:02}")).await;
    }
    assert_eq!(devices().await.len(), push::MAX_DEVICES_PER_PERSON as usize);

    // The eleventh pushes out the one registered longest ago.
    register(s, &token, "device-10").await;
    let mut expected: Vec<String> = (1..=10).map(|i| format!("device-{i:02}")).collect();
    assert_eq!(devices().await, expected);

    // Registering a known token again refreshes it instead of counting it twice: it is now the newest, so the next
    // new device pushes out device-02, not device-01.
    register(s, &token, "device-01").await;
    assert_eq!(devices().await, expected, "still ten, nothing dropped");
    register(s, &token, "device-11").await;
    expected.retain(|d| d != "device-02");
    expected.push("device-11".to_owned());
    assert_eq!(devices().await, expected);

    // Notifications fan out to the ten kept devices only, and other people's devices are untouched.
    notify_user(s, user, "열한 번째").await;
    assert_eq!(push::deliver_step(&s.state).await.unwrap(), 10);
    assert_eq!(t.fcm.delivered_to("device-00"), 0);
    assert_eq!(t.fcm.delivered_to("device-02"), 0);
    assert_eq!(t.fcm.delivered_to("device-11"), 1);
    assert_eq!(devices_of(other_id).await, vec!["device-other".to_owned()]);
}

/// Three challenges running from tomorrow, each with its host and one more person, the clock on their first day.
async fn three_running_challenges(s: &TestServer) -> Vec<String> {
    let db = &s.state.db;
    let mut ids = Vec::new();
    let mut start = None;
    for i in 0..3 {
        let (_, host) = funded_user(db, &format!("host{i}"), 1_000).await;
        let (_, other) = funded_user(db, &format!("other{i}"), 1_000).await;
        let body = challenge_body(s, &format!("Daily {i}"), 3, 1_000, 5);
        start = body["start_date"].as_str().map(str::to_owned);
        let (status, ch) = s.post("/api/v1/challenges", Some(&host), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{ch}");
        let id = ch["id"].as_str().unwrap().to_owned();
        let (status, _) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&other), &json!({})).await;
        assert_eq!(status, StatusCode::OK);
        ids.push(id);
    }
    move_clock_to(s, start.unwrap().parse().unwrap());
    assert_eq!(nene_server::challenges::scheduler::step(&s.state).await.unwrap(), 3);
    ids
}

async fn a_reminder_pass_with_nothing_due_writes_nothing(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.run_workers = false;
        c.reminder_hour = 20;
    })
    .await;
    three_running_challenges(&s).await;
    let step = || nene_server::challenges::scheduler::reminder_step(&s.state);
    let writes = || s.state.db.write_transactions_begun();

    // Before the reminder hour nothing is due: the pass only reads.
    let before = writes();
    assert_eq!(step().await.unwrap(), 0);
    assert_eq!(writes(), before, "no write transaction before the reminder hour");

    // At the hour each challenge is reminded, one write transaction each.
    s.state.clock.advance_ms(20 * 3_600_000);
    let before = writes();
    assert_eq!(step().await.unwrap(), 3);
    assert_eq!(writes(), before + 3);
    assert_eq!(s.count("reminder_runs").await, 3, "each (challenge, day) recorded");

    // Later passes that day find every reminder recorded and write nothing.
    let before = writes();
    for _ in 0..5 {
        assert_eq!(step().await.unwrap(), 0);
    }
    assert_eq!(writes(), before, "passes with nothing due open no write transaction");
    assert_eq!(s.count("notifications WHERE kind = 'PROOF_REMINDER'").await, 6, "two people in each of three");

    // The next day is due again, and recorded as a day of its own.
    s.state.clock.advance_ms(24 * 3_600_000);
    assert_eq!(step().await.unwrap(), 3);
    assert_eq!(s.count("reminder_runs").await, 6);
}

async fn passes_racing_for_one_reminder_send_it_once(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.run_workers = false;
        c.reminder_hour = 20;
    })
    .await;
    three_running_challenges(&s).await;
    s.state.clock.advance_ms(20 * 3_600_000);
    // Two passes at once (two instances, say): both see every reminder due; each is sent by exactly one.
    let (a, b) = tokio::join!(
        nene_server::challenges::scheduler::reminder_step(&s.state),
        nene_server::challenges::scheduler::reminder_step(&s.state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 3);
    assert_eq!(s.count("reminder_runs").await, 3);
    assert_eq!(s.count("notifications WHERE kind = 'PROOF_REMINDER'").await, 6, "each person reminded once");
    // And once more in sequence: still once.
    assert_eq!(nene_server::challenges::scheduler::reminder_step(&s.state).await.unwrap(), 0);
    assert_eq!(s.count("notifications WHERE kind = 'PROOF_REMINDER'").await, 6);
}
