//! The app's sync against the real server: pull cursors that resume without gaps or duplicates, offline intents
//! applied exactly once (also when a push is cut off and sent again), rejections reported with their reason and
//! nothing moved, and photos uploaded once by content hash.

use nene_server::challenges::scheduler;
use nene_server::ledger::{self, AccountId};
use nene_shared::ledger::{LotSource, TransferKind};
use nene_tests::{Backend, TestServer, challenge_body, funded_user, jpeg, move_clock_to, on_both_databases, wallet_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    the_pull_cursor_resumes_without_gaps_or_duplicates,
    intents_queued_offline_are_applied_exactly_once,
    a_rejected_join_is_reported_and_its_stake_never_moves,
    offline_proofs_with_photos_uploaded_by_hash,
);

async fn pull(s: &TestServer, token: &str, cursor: Option<&str>) -> Value {
    let path = match cursor {
        Some(c) => format!("/api/v1/sync/pull?cursor={c}"),
        None => "/api/v1/sync/pull".to_owned(),
    };
    let (status, body) = s.get(&path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn push(s: &TestServer, token: &str, intents: Value) -> Vec<Value> {
    let (status, body) =
        s.post("/api/v1/sync/push", Some(token), &json!({"device_id": "phone-1", "intents": intents})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().unwrap().clone()
}

async fn the_pull_cursor_resumes_without_gaps_or_duplicates(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (user, token) = funded_user(&s.state.db, "syncer", 1_000).await;
    // 249 more entries: 250 in all, more than one page.
    let mut tx = s.state.db.begin_write().await.unwrap();
    for i in 0..249 {
        ledger::credit_lot(
            &mut tx,
            &format!("gift-{i}"),
            TransferKind::Bonus,
            &AccountId::platform_reserve(),
            user,
            nene_shared::Points::new(10),
            LotSource::Reward,
            None,
            "gift",
            0,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let first = pull(&s, &token, None).await;
    assert_eq!(first["more"], true);
    let mut seqs: Vec<i64> =
        first["wallet_entries"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let second = pull(&s, &token, first["cursor"].as_str()).await;
    assert_eq!(second["more"], false);
    seqs.extend(second["wallet_entries"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()));
    assert_eq!(seqs, (1..=250).collect::<Vec<_>>(), "every entry once, in order");
    assert_eq!(second["wallet"]["balance"], 1_000 + 2_490);

    // Nothing new: nothing again.
    let idle = pull(&s, &token, second["cursor"].as_str()).await;
    assert!(idle["wallet_entries"].as_array().unwrap().is_empty());
    assert!(idle["notifications"].as_array().unwrap().is_empty());
    assert!(idle["challenges"].as_array().unwrap().is_empty());

    // A join brings exactly its stake entry, its notification and the challenge.
    let (_, host) = funded_user(&s.state.db, "host", 10_000).await;
    let (_, ch) = s.post("/api/v1/challenges", Some(&host), &challenge_body(&s, "Synced", 3, 1_000, 5)).await;
    let id = ch["id"].as_str().unwrap();
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&token), &json!({})).await;
    let next = pull(&s, &token, idle["cursor"].as_str()).await;
    assert_eq!(next["wallet_entries"].as_array().unwrap().len(), 1);
    assert_eq!(next["wallet_entries"][0]["seq"], 251);
    assert_eq!(next["notifications"][0]["notification"]["kind"], "JOIN_CONFIRMED");
    assert_eq!(next["notifications"][0]["seq"], 1);
    assert_eq!(next["challenges"][0]["challenge"]["id"], id);
    assert_eq!(next["challenges"][0]["challenge"]["joined"], true);
    assert_eq!(next["challenges"][0]["progress"]["participant_count"], 2);

    // Leaving sends the challenge once more (not joined), then it is forgotten.
    s.post(&format!("/api/v1/challenges/{id}/leave"), Some(&token), &json!({})).await;
    let after_leave = pull(&s, &token, next["cursor"].as_str()).await;
    assert_eq!(after_leave["challenges"][0]["challenge"]["joined"], false);
    let later = pull(&s, &token, after_leave["cursor"].as_str()).await;
    assert!(later["challenges"].as_array().unwrap().is_empty());
    let (status, _) = s.get("/api/v1/sync/pull?cursor=not-a-cursor", Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn intents_queued_offline_are_applied_exactly_once(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (_, host) = funded_user(&s.state.db, "host", 10_000).await;
    let body = challenge_body(&s, "Offline", 3, 5_000, 5);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (_, ch) = s.post("/api/v1/challenges", Some(&host), &body).await;
    let id = ch["id"].as_str().unwrap().to_owned();
    let (user, token) = funded_user(&s.state.db, "offline", 5_000).await;

    let join = json!({"id": "01JOIN", "seq": 1, "kind": "JOIN", "body": {"challenge_id": id}});
    // The first push is cut off after the join (its answer lost); the app sends everything again later.
    let results = push(&s, &token, json!([join])).await;
    assert_eq!(results[0]["status"], "APPLIED");
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();
    let proof = json!({"id": "02PROOF", "seq": 2, "kind": "PROOF", "body": {"challenge_id": id, "text": "ran 5 km"}});
    let results = push(&s, &token, json!([join, proof])).await;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["status"], "APPLIED", "the join is answered again, not applied again");
    assert_eq!(results[1]["status"], "APPLIED");
    let again = push(&s, &token, json!([proof, join])).await;
    assert!(again.iter().all(|r| r["status"] == "APPLIED"));
    assert_eq!(wallet_of(&s.state.db, user).await, (0, 0), "one stake");
    assert_eq!(s.count("participations").await, 2);
    assert_eq!(s.count("proofs").await, 1);
    let (_, feed) = s.get(&format!("/api/v1/challenges/{id}/proofs"), Some(&token)).await;
    assert_eq!(feed["items"][0]["text"], "ran 5 km");
    // Bad pushes are refused whole.
    let (status, _) = s.post("/api/v1/sync/push", Some(&token), &json!({"device_id": "", "intents": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn a_rejected_join_is_reported_and_its_stake_never_moves(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (_, host) = funded_user(&s.state.db, "host", 10_000).await;
    let (_, ch) = s.post("/api/v1/challenges", Some(&host), &challenge_body(&s, "Tiny", 3, 5_000, 2)).await;
    let id = ch["id"].as_str().unwrap().to_owned();
    // While the app was offline, someone took the last seat.
    let (_, other) = funded_user(&s.state.db, "quick", 5_000).await;
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&other), &json!({})).await;

    let (user, token) = funded_user(&s.state.db, "late", 5_000).await;
    let join = json!({"id": "01LATE", "seq": 1, "kind": "JOIN", "body": {"challenge_id": id}});
    let results = push(&s, &token, json!([join])).await;
    assert_eq!(results[0]["status"], "REJECTED");
    assert_eq!(results[0]["code"], "CHALLENGE_FULL");
    assert!(!results[0]["message"].as_str().unwrap().is_empty());
    assert_eq!(wallet_of(&s.state.db, user).await, (5_000, 5_000));
    // Sent again, it is the same rejection; nothing moves.
    let results = push(&s, &token, json!([join])).await;
    assert_eq!(
        (results[0]["status"].as_str(), results[0]["code"].as_str()),
        (Some("REJECTED"), Some("CHALLENGE_FULL"))
    );
    assert_eq!(wallet_of(&s.state.db, user).await, (5_000, 5_000));
    let purchase = push(&s, &token, json!([{"id": "02BUY", "seq": 2, "kind": "PURCHASE", "body": {}}])).await;
    assert_eq!(
        (purchase[0]["status"].as_str(), purchase[0]["code"].as_str()),
        (Some("REJECTED"), Some("NOT_SUPPORTED"))
    );
}

async fn offline_proofs_with_photos_uploaded_by_hash(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (_, token) = funded_user(&s.state.db, "photog", 5_000).await;
    let mut body = challenge_body(&s, "Photos", 3, 5_000, 5);
    body["proof_type"] = json!("PHOTO");
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (_, ch) = s.post("/api/v1/challenges", Some(&token), &body).await;
    let id = ch["id"].as_str().unwrap().to_owned();
    let (_, friend) = funded_user(&s.state.db, "friend", 5_000).await;
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&friend), &json!({})).await;
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();

    let photo = jpeg(640, 480);
    let upload = || {
        s.http
            .post(s.url("/api/v1/sync/photos"))
            .bearer_auth(&token)
            .header("content-type", "image/jpeg")
            .body(photo.clone())
            .send()
    };
    let first: Value = upload().await.unwrap().json().await.unwrap();
    let second: Value = upload().await.unwrap().json().await.unwrap();
    assert_eq!(first["hash"], second["hash"], "the same bytes are stored once, under one hash");
    let not_photo = s
        .http
        .post(s.url("/api/v1/sync/photos"))
        .bearer_auth(&token)
        .body(b"not a photo".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(not_photo.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let missing = push(
        &s,
        &token,
        json!([{"id": "01", "seq": 1, "kind": "PROOF",
        "body": {"challenge_id": id, "photo_hash": "0".repeat(64)}}]),
    )
    .await;
    assert_eq!(missing[0]["status"], "REJECTED");
    let results = push(
        &s,
        &token,
        json!([{"id": "02", "seq": 2, "kind": "PROOF",
        "body": {"challenge_id": id, "photo_hash": first["hash"]}}]),
    )
    .await;
    assert_eq!(results[0]["status"], "APPLIED", "{results:?}");
    let (_, feed) = s.get(&format!("/api/v1/challenges/{id}/proofs"), Some(&token)).await;
    let url = feed["items"][0]["photo_url"].as_str().unwrap();
    let bytes = s.http.get(s.url(url)).bearer_auth(&token).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.to_vec(), photo);
}
