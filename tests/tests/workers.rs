//! Background work that holds when parts of it fail: a worker that panics is restarted and `/ready` names it while
//! it is down; the join writer comes back after a panic and joins keep working; a challenge whose scheduled
//! transition keeps failing backs off instead of starving the healthy ones.

use std::time::Duration;

use nene_server::challenges::{batch, scheduler};
use nene_server::store;
use nene_tests::{Backend, TestServer, challenge_body, direct_user, funded_user, move_clock_to, on_both_databases};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

on_both_databases!(
    a_panicking_worker_is_restarted_and_ready_says_so_while_it_is_down,
    joins_keep_working_after_the_join_writer_panicked,
    a_failing_challenge_backs_off_and_a_healthy_one_goes_ahead,
);

/// Asks `/ready` until `done` holds for its answer, for at most 20 seconds.
async fn ready_until(s: &TestServer, done: impl Fn(StatusCode, &Value) -> bool) -> (StatusCode, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = s.get("/ready", None).await;
        if done(status, &body) {
            return (status, body);
        }
        assert!(tokio::time::Instant::now() < deadline, "/ready never got there; last: {status} {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn names_down(body: &Value, worker: &str) -> bool {
    body["workers_down"].as_array().is_some_and(|down| down.iter().any(|w| w == worker))
}

async fn restarts_of(s: &TestServer, worker: &str) -> f64 {
    let text = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let series = format!("worker_restarts_total{{worker=\"{worker}\"}}");
    text.lines().find_map(|line| line.strip_prefix(&series).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

async fn a_panicking_worker_is_restarted_and_ready_says_so_while_it_is_down(backend: Backend) {
    let s = TestServer::start(backend).await;
    ready_until(&s, |status, _| status == StatusCode::OK).await;
    let before = restarts_of(&s, "credit").await;

    // Every step of the credit worker panics for now.
    s.state.workers.inject_panic("credit", true);
    let (status, body) = ready_until(&s, |_, body| names_down(body, "credit")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "not_ready");
    assert!(restarts_of(&s, "credit").await > before, "restarts are counted");

    // Once the cause is gone, the restarted worker stays up and the server is ready again.
    s.state.workers.inject_panic("credit", false);
    let (_, body) = ready_until(&s, |status, _| status == StatusCode::OK).await;
    assert_eq!(body["status"], "ready");
    assert!(s.state.workers.down().is_empty());
}

async fn joins_keep_working_after_the_join_writer_panicked(backend: Backend) {
    let s = TestServer::start(backend).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (status, challenge) = s.post("/api/v1/challenges", Some(&host), &challenge_body(&s, "Run", 7, 1_000, 10)).await;
    assert_eq!(status, StatusCode::CREATED, "{challenge}");
    let join = format!("/api/v1/challenges/{}/join", challenge["id"].as_str().unwrap());
    let (_, first) = funded_user(db, "first", 5_000).await;
    let (_, second) = funded_user(db, "second", 5_000).await;

    // The writer panics on the batch holding the first join: that join did not commit and says so.
    s.state.workers.inject_panic(batch::WRITER, true);
    let (status, body) = s.post(&join, Some(&first), &serde_json::json!({})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    s.state.workers.inject_panic(batch::WRITER, false);

    // A new writer takes over the queue: the next joins go through, the first one's retry included.
    let (status, body) = s.post(&join, Some(&second), &serde_json::json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.post(&join, Some(&first), &serde_json::json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["participant_count"], 3);
    assert!(restarts_of(&s, batch::WRITER).await >= 1.0);
    ready_until(&s, |status, _| status == StatusCode::OK).await;
}

async fn a_failing_challenge_backs_off_and_a_healthy_one_goes_ahead(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (status, body) = s.post("/api/v1/challenges", Some(&host), &challenge_body(&s, "Healthy", 7, 1_000, 10)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let healthy: Uuid = body["id"].as_str().unwrap().parse().unwrap();

    // A full batch of broken challenges that start a day earlier: each has a participant whose stake was never
    // taken, so cancelling it (too few people) cannot give the stake back and fails every time.
    let stranger = direct_user(db, "stranger").await;
    let mut tx = db.begin_write().await.unwrap();
    let template = store::challenges::get(&mut tx, healthy).await.unwrap().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let mut broken = Vec::new();
    for i in 0..scheduler::DUE_BATCH {
        let mut row = template.clone();
        row.id = Uuid::now_v7();
        row.title = format!("Broken {i}");
        row.starts_at -= 86_400_000;
        row.participant_count = 1;
        store::challenges::insert(&mut tx, &row).await.unwrap();
        store::challenges::insert_participation(&mut tx, Uuid::now_v7(), row.id, stranger.as_uuid(), row.stake, now)
            .await
            .unwrap();
        broken.push(row.id);
    }
    tx.commit().await.unwrap();

    // Both are due. The broken ones fail and back off; then the healthy one is cancelled (too few joined), its
    // stake given back.
    let start = chrono::NaiveDate::parse_from_str(&template.start_date, "%Y-%m-%d").unwrap();
    move_clock_to(&s, start + chrono::Duration::days(1));
    let mut steps = 0;
    let status_of = async |id: Uuid| {
        let mut tx = db.begin_read().await.unwrap();
        store::challenges::get(&mut tx, id).await.unwrap().unwrap().status
    };
    while status_of(healthy).await != "CANCELLED" {
        steps += 1;
        assert!(steps <= 3, "the healthy challenge was starved by failing ones");
        scheduler::step(&s.state).await.unwrap();
    }
    let creator = nene_shared::UserId::from_uuid(template.creator_id);
    assert_eq!(nene_tests::wallet_of(db, creator).await.0, 10_000, "the healthy one's stake came back");

    let failures = |id: Uuid| async move {
        let mut tx = db.begin_read().await.unwrap();
        store::challenges::schedule_failures(&mut tx, id).await.unwrap()
    };
    for id in &broken {
        assert_eq!(status_of(*id).await, "RECRUITING");
        assert_eq!(failures(*id).await, 1);
    }
    // Backing off: another step right away leaves them alone; once their retry time has come they are tried again,
    // and wait longer after failing again.
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(failures(broken[0]).await, 1);
    s.state.clock.advance_ms(scheduler::retry_delay_ms(0) + 1_000);
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(failures(broken[0]).await, 2);
}
