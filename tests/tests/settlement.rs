//! Settlement against the real databases: the right people paid the right amounts, the escrow emptied exactly, a
//! settlement interrupted half-way and run again pays each participant once, and nobody winning feeds the reserve.

use nene_server::challenges::{scheduler, settle};
use nene_server::store;
use nene_tests::{
    Backend, TestServer, assert_ledger_ok, balance_of, challenge_body, funded_user, move_clock_to, on_both_databases,
    wallet_of,
};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

on_both_databases!(
    an_interrupted_settlement_pays_everyone_exactly_once,
    when_nobody_succeeds_the_reserve_takes_the_pool
);

/// Adds an accepted proof for `user` on `day` straight into the database (the proof API has its own tests).
async fn prove(s: &TestServer, challenge: Uuid, user: nene_shared::UserId, day: chrono::NaiveDate) {
    let mut tx = s.state.db.begin_write().await.unwrap();
    let p = store::challenges::active_participation(&mut tx, challenge, user.as_uuid()).await.unwrap().unwrap();
    let day = day.to_string();
    store::challenges::insert_proof(
        &mut tx,
        &store::challenges::NewProof {
            id: Uuid::now_v7(),
            challenge_id: challenge,
            participation_id: p.id,
            user_id: user.as_uuid(),
            day: &day,
            text: Some("done"),
            photo_hash: None,
            photo_mime: None,
            thumb_hash: None,
            now_ms: chrono::Utc::now().timestamp_millis(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn entries_count(s: &TestServer) -> i64 {
    s.count("ledger_entries").await
}

async fn an_interrupted_settlement_pays_everyone_exactly_once(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (host, htoken) = funded_user(db, "host", 10_000).await;
    let body = challenge_body(&s, "Three days", 3, 10_000, 10);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (status, ch) = s.post("/api/v1/challenges", Some(&htoken), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id: Uuid = ch["id"].as_str().unwrap().parse().unwrap();
    let mut people = vec![host];
    for i in 0..6 {
        let (u, t) = funded_user(db, &format!("p{i}"), 10_000).await;
        let (status, _) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&t), &json!({})).await;
        assert_eq!(status, StatusCode::OK);
        people.push(u);
    }
    move_clock_to(&s, start);
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 1);

    // The host and three others prove every day (3 of 3 needed at 80 %); two prove twice; one never.
    for day in 0..3 {
        let d = start + chrono::Duration::days(day);
        for u in &people[..4] {
            prove(&s, id, *u, d).await;
        }
        if day < 2 {
            for u in &people[4..6] {
                prove(&s, id, *u, d).await;
            }
        }
    }
    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&htoken)).await;
    assert_eq!(progress["required_days"], 3);

    // Not due until the last day is over.
    move_clock_to(&s, start + chrono::Duration::days(2));
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 0);
    move_clock_to(&s, start + chrono::Duration::days(3));

    // While another runner (say, another server instance) holds the challenge, nobody else settles it.
    let mut tx = db.begin_write().await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        store::challenges::acquire_lease(&mut tx, &format!("settle:{id}"), "other-instance", now, now + 60_000)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(settle::settle(&s.state, id, 2, None).await.unwrap(), settle::Progress::Busy);
    let mut tx = db.begin_write().await.unwrap();
    store::challenges::release_lease(&mut tx, &format!("settle:{id}"), "other-instance").await.unwrap();
    tx.commit().await.unwrap();

    // The first run dies after three participants.
    let first = settle::settle(&s.state, id, 2, Some(3)).await.unwrap();
    assert_eq!(first, settle::Progress::Stopped);
    assert_eq!(s.get(&format!("/api/v1/challenges/{id}"), Some(&htoken)).await.1["status"], "IN_PROGRESS");
    let mut tx = db.begin_read().await.unwrap();
    let runs = store::challenges::runs(&mut tx, id).await.unwrap();
    drop(tx);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].1, 3);
    assert_eq!(runs[0].2, None, "the interrupted run is recorded as unfinished");
    assert_ledger_ok(db).await;

    // The scheduler runs it again and finishes.
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 1);
    let (_, done) = s.get(&format!("/api/v1/challenges/{id}"), Some(&htoken)).await;
    assert_eq!(done["status"], "ENDED");
    // Pool 30,000 (three failed stakes) split over four winners of equal stake: 7,500 each.
    for u in &people[..4] {
        assert_eq!(
            wallet_of(db, *u).await,
            (17_500, 10_000),
            "the stake's charged lots came back, the prize is a reward"
        );
    }
    for u in &people[4..] {
        assert_eq!(wallet_of(db, *u).await, (0, 0));
    }
    assert_eq!(balance_of(db, &format!("escrow:challenge:{id}")).await, 0);
    let (_, participants) = s.get(&format!("/api/v1/challenges/{id}/participants"), Some(&htoken)).await;
    let payouts: Vec<i64> = participants.as_array().unwrap().iter().map(|p| p["payout"].as_i64().unwrap()).collect();
    assert_eq!(payouts, vec![17_500, 17_500, 17_500, 17_500, 0, 0, 0]);

    // Running it once more moves nothing.
    let before = entries_count(&s).await;
    assert_eq!(settle::settle(&s.state, id, 2, None).await.unwrap(), settle::Progress::Finished);
    assert_eq!(entries_count(&s).await, before);
    let mut tx = db.begin_read().await.unwrap();
    let runs = store::challenges::runs(&mut tx, id).await.unwrap();
    let kinds = store::notifications::kinds_of(&mut tx, people[5].as_uuid()).await.unwrap();
    drop(tx);
    assert_eq!(runs.len(), 3);
    assert_eq!(runs.iter().map(|r| r.1).sum::<i64>(), 7, "each participant settled in exactly one run");
    assert!(kinds.iter().any(|(k, data)| k == "SETTLEMENT_RESULT" && data.contains("FAIL")));
    assert_ledger_ok(db).await;
}

async fn when_nobody_succeeds_the_reserve_takes_the_pool(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, htoken) = funded_user(db, "host", 10_000).await;
    let body = challenge_body(&s, "Nobody", 2, 10_000, 10);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (_, ch) = s.post("/api/v1/challenges", Some(&htoken), &body).await;
    let id = ch["id"].as_str().unwrap();
    let (_, t) = funded_user(db, "other", 10_000).await;
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&t), &json!({})).await;
    let reserve_before = balance_of(db, "platform:reserve").await;
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();
    move_clock_to(&s, start + chrono::Duration::days(2));
    assert_eq!(scheduler::step(&s.state).await.unwrap(), 1);
    assert_eq!(balance_of(db, "platform:reserve").await - reserve_before, 20_000);
    assert_eq!(balance_of(db, &format!("escrow:challenge:{id}")).await, 0);
    assert_ledger_ok(db).await;
}
