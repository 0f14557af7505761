//! Offline intents whose push is cut off, on the real server: a connection dropped while the join commits, a
//! connection dropped while the server reads a proof's photo, two sends of one intent at once, a re-push with
//! another body, a proof applied after its day (and after settlement began), and intents an earlier server left
//! PENDING. Each ends with the intent applied exactly once, or refused with a reason and nothing moved.
//!
//! The push is stopped at a known point, never by timing: the join writer is held (`JoinBatcher::hold`), or the
//! proof's stored photo is replaced by a named pipe, which the server's read waits on until the test lets it go.
//! The test then hangs up the raw connection and waits until the server closed its side, which it does once it
//! has dropped the request's work.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use nene_server::challenges::scheduler;
use nene_server::store::sync::{IntentKey, Receipt};
use nene_shared::UserId;
use nene_shared::sync::IntentKind;
use nene_tests::{
    Backend, TestServer, assert_ledger_ok, challenge_body, funded_user, jpeg, move_clock_to, on_both_databases,
    wallet_of,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_both_databases!(
    a_join_cut_off_while_it_commits_is_applied_once_and_answered_applied,
    two_sends_of_one_intent_at_once_apply_it_once,
    a_proof_cut_off_mid_push_counts_for_the_day_it_was_first_received,
    a_repush_with_another_body_is_refused_and_changes_nothing,
    a_proof_received_on_the_last_day_counts_until_settlement_begins,
    intents_an_earlier_server_left_pending_are_decided_on_the_next_push,
);

async fn push(s: &TestServer, token: &str, intents: Value) -> Vec<Value> {
    let (status, body) =
        s.post("/api/v1/sync/push", Some(token), &json!({"device_id": "phone-1", "intents": intents})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().expect("results").clone()
}

fn status_and_code(result: &Value) -> (&str, Option<&str>) {
    (result["status"].as_str().unwrap_or("?"), result["code"].as_str())
}

/// A push sent over a connection of its own, which the test can hang up on before the answer.
struct OpenPush {
    stream: TcpStream,
}

impl OpenPush {
    async fn send(s: &TestServer, token: &str, intents: Value) -> OpenPush {
        let addr = s.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let body = serde_json::to_vec(&json!({"device_id": "phone-1", "intents": intents})).expect("json");
        let head = format!(
            "POST /api/v1/sync/push HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(&body).await.expect("body");
        OpenPush { stream }
    }

    /// Hangs up without waiting for the answer, and waits until the server has closed the connection without
    /// answering: it has then dropped the push's work wherever it was.
    async fn hang_up(mut self) {
        self.stream.shutdown().await.expect("hang up");
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), self.stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the server closes a connection whose client hung up");
        assert!(rest.is_empty(), "no answer was sent: {}", String::from_utf8_lossy(&rest));
    }
}

/// Waits until `check` holds, for at most 20 seconds.
async fn wait_until<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A recruiting challenge of `days` days made by a new host; answers its id and first day.
async fn recruiting(s: &TestServer, title: &str, days: i64, proof: &str) -> (String, NaiveDate) {
    let (_, host) = funded_user(&s.state.db, &format!("host-{title}"), 10_000).await;
    let mut body = challenge_body(s, title, days, 5_000, 5);
    body["proof_type"] = json!(proof);
    let start = body["start_date"].as_str().expect("start").parse().expect("date");
    let (status, ch) = s.post("/api/v1/challenges", Some(&host), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    (ch["id"].as_str().expect("id").to_owned(), start)
}

/// A photo challenge of `days` days that the returned person takes part in, started (the clock on its first day).
async fn running_photo_challenge(s: &TestServer, days: i64) -> (String, NaiveDate, UserId, String) {
    let (id, start) = recruiting(s, "Photos", days, "PHOTO").await;
    let (user, token) = funded_user(&s.state.db, "prover", 5_000).await;
    let (status, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&token), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    move_clock_to(s, start);
    scheduler::step(&s.state).await.expect("start");
    (id, start, user, token)
}

async fn upload(s: &TestServer, token: &str, photo: &[u8]) -> String {
    let resp = s
        .http
        .post(s.url("/api/v1/sync/photos"))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .body(photo.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    body["hash"].as_str().expect("hash").to_owned()
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    None
}

/// A stored photo swapped for a named pipe: the server's next read of it waits until the test lets it go.
struct PipedPhoto {
    path: PathBuf,
    kept: PathBuf,
}

impl PipedPhoto {
    fn install(s: &TestServer, hash: &str) -> PipedPhoto {
        let path = find_file(s.db.dir.path(), hash).expect("the uploaded photo is stored under its hash");
        let kept = path.with_extension("kept");
        std::fs::rename(&path, &kept).expect("set the photo aside");
        let made = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
        assert!(made.success());
        PipedPhoto { path, kept }
    }

    /// Waits until the server has opened the photo to read it, and keeps it waiting there.
    async fn wait_for_reader(&self) -> std::fs::File {
        let path = self.path.clone();
        // Opening a pipe to write waits until a reader opens it too.
        tokio::task::spawn_blocking(move || std::fs::OpenOptions::new().write(true).open(path))
            .await
            .expect("join")
            .expect("the server opens the photo")
    }

    /// Puts the photo back as it was.
    fn restore(self) {
        std::fs::remove_file(&self.path).expect("remove the pipe");
        std::fs::rename(&self.kept, &self.path).expect("put the photo back");
    }
}

async fn proofs_of(s: &TestServer, token: &str, challenge: &str) -> Vec<Value> {
    let (status, feed) = s.get(&format!("/api/v1/challenges/{challenge}/proofs"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    feed["items"].as_array().expect("items").clone()
}

async fn a_join_cut_off_while_it_commits_is_applied_once_and_answered_applied(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (id, _) = recruiting(&s, "Cut", 3, "TEXT").await;
    let (user, token) = funded_user(&s.state.db, "cut", 5_000).await;
    let join = json!({"id": "01CUT", "seq": 1, "kind": "JOIN", "body": {"challenge_id": id}});

    // The join reaches the writer, and the connection drops before it commits.
    let hold = s.state.joins.hold().await;
    let open = OpenPush::send(&s, &token, json!([join])).await;
    wait_until("the join is with the writer", || async { s.state.joins.in_flight() == 1 }).await;
    open.hang_up().await;
    drop(hold);
    wait_until("the join is committed", || async { s.state.joins.in_flight() == 0 }).await;
    assert_eq!(wallet_of(&s.state.db, user).await, (0, 0), "the join committed after its push was gone");

    // Sent again, it is answered from the record: applied, not "already joined", and not applied twice.
    let results = push(&s, &token, json!([join])).await;
    assert_eq!(status_and_code(&results[0]), ("APPLIED", None), "{results:?}");
    assert_eq!(s.count("participations").await, 2);
    assert_eq!(wallet_of(&s.state.db, user).await, (0, 0), "one stake");
    assert_ledger_ok(&s.state.db).await;
}

async fn two_sends_of_one_intent_at_once_apply_it_once(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (id, _) = recruiting(&s, "Twice", 3, "TEXT").await;
    let (user, token) = funded_user(&s.state.db, "twice", 5_000).await;
    let join = json!({"id": "01TWICE", "seq": 1, "kind": "JOIN", "body": {"challenge_id": id}});

    // Two devices' worth of the same push, both waiting at the writer together.
    let hold = s.state.joins.hold().await;
    let send = || {
        let (http, url, token, join) = (s.http.clone(), s.url("/api/v1/sync/push"), token.clone(), join.clone());
        tokio::spawn(async move {
            let body = json!({"device_id": "phone-1", "intents": [join]});
            let resp = http.post(url).bearer_auth(token).json(&body).send().await.expect("push");
            resp.json::<Value>().await.expect("json")
        })
    };
    let (first, second) = (send(), send());
    wait_until("both sends are with the writer", || async { s.state.joins.in_flight() == 2 }).await;
    drop(hold);
    for answer in [first.await.expect("first"), second.await.expect("second")] {
        assert_eq!(status_and_code(&answer["results"][0]), ("APPLIED", None), "{answer}");
    }
    assert_eq!(s.count("participations").await, 2);
    assert_eq!(wallet_of(&s.state.db, user).await, (0, 0), "one stake");
    assert_ledger_ok(&s.state.db).await;
}

async fn a_proof_cut_off_mid_push_counts_for_the_day_it_was_first_received(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (id, first_day, _, token) = running_photo_challenge(&s, 3).await;
    let hash = upload(&s, &token, &jpeg(320, 240)).await;
    let proof = json!({"id": "01LATE", "seq": 1, "kind": "PROOF", "body": {"challenge_id": id, "photo_hash": hash}});

    // Received on the first day; the connection drops while the server reads the photo.
    let pipe = PipedPhoto::install(&s, &hash);
    let open = OpenPush::send(&s, &token, json!([proof])).await;
    let reading = pipe.wait_for_reader().await;
    open.hang_up().await;
    drop(reading);
    pipe.restore();
    assert_eq!(s.count("proofs").await, 0);

    // Sent again the next day: applied once, for the day it was first received.
    let next_day = first_day + chrono::Duration::days(1);
    move_clock_to(&s, next_day);
    let results = push(&s, &token, json!([proof])).await;
    assert_eq!(status_and_code(&results[0]), ("APPLIED", None), "{results:?}");
    let proofs = proofs_of(&s, &token, &id).await;
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0]["day"], first_day.to_string());
    let again = push(&s, &token, json!([proof])).await;
    assert_eq!(status_and_code(&again[0]), ("APPLIED", None));
    assert_eq!(s.count("proofs").await, 1);

    // The next day's own proof is its own.
    let today = json!({"id": "02TODAY", "seq": 2, "kind": "PROOF", "body": {"challenge_id": id, "photo_hash": hash}});
    let results = push(&s, &token, json!([today])).await;
    assert_eq!(status_and_code(&results[0]), ("APPLIED", None), "{results:?}");
    let days: Vec<Value> = proofs_of(&s, &token, &id).await.iter().map(|p| p["day"].clone()).collect();
    assert_eq!(days, vec![json!(next_day.to_string()), json!(first_day.to_string())]);
}

async fn a_repush_with_another_body_is_refused_and_changes_nothing(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (first, _) = recruiting(&s, "First", 3, "TEXT").await;
    let (second, _) = recruiting(&s, "Second", 3, "TEXT").await;
    let (user, token) = funded_user(&s.state.db, "changer", 10_000).await;
    let join = json!({"id": "01SAME", "seq": 1, "kind": "JOIN", "body": {"challenge_id": first}});
    assert_eq!(status_and_code(&push(&s, &token, json!([join])).await[0]), ("APPLIED", None));

    // The same id with another body, or another kind: refused, and nothing moves.
    let other_body = json!({"id": "01SAME", "seq": 1, "kind": "JOIN", "body": {"challenge_id": second}});
    let other_kind = json!({"id": "01SAME", "seq": 1, "kind": "LEAVE", "body": {"challenge_id": first}});
    for changed in [other_body, other_kind] {
        let results = push(&s, &token, json!([changed])).await;
        assert_eq!(status_and_code(&results[0]), ("REJECTED", Some("INTENT_BODY_CHANGED")), "{results:?}");
        assert!(results[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(wallet_of(&s.state.db, user).await.0, 5_000, "one stake, in the first challenge");
    let (_, ch) = s.get(&format!("/api/v1/challenges/{second}"), Some(&token)).await;
    assert_eq!((ch["joined"].as_bool(), ch["participant_count"].as_i64()), (Some(false), Some(1)));
    let (_, ch) = s.get(&format!("/api/v1/challenges/{first}"), Some(&token)).await;
    assert_eq!(ch["joined"], true);
    // As first sent (the keys in any order), it is still the applied intent.
    assert_eq!(status_and_code(&push(&s, &token, json!([join])).await[0]), ("APPLIED", None));

    // An intent cut off before it was applied cannot be changed either: the changed one is refused at once and the
    // original still lands once.
    let pending = json!({"id": "02HELD", "seq": 2, "kind": "JOIN", "body": {"challenge_id": second}});
    let hold = s.state.joins.hold().await;
    let open = OpenPush::send(&s, &token, json!([pending])).await;
    wait_until("the join is with the writer", || async { s.state.joins.in_flight() == 1 }).await;
    open.hang_up().await;
    let changed = json!({"seq": 2, "kind": "JOIN", "id": "02HELD", "body": {"challenge_id": first}});
    let results = push(&s, &token, json!([changed])).await;
    assert_eq!(status_and_code(&results[0]), ("REJECTED", Some("INTENT_BODY_CHANGED")));
    drop(hold);
    let results = push(&s, &token, json!([pending])).await;
    assert_eq!(status_and_code(&results[0]), ("APPLIED", None), "{results:?}");
    assert_eq!(wallet_of(&s.state.db, user).await.0, 0, "two stakes, once each");
    assert_eq!(s.count("participations").await, 4);
    assert_ledger_ok(&s.state.db).await;
}

/// Records an intent's first receipt now, as a push cut off right after it leaves it.
async fn received_only(s: &TestServer, user: UserId, intent: &Value) {
    let kind: IntentKind = serde_json::from_value(intent["kind"].clone()).expect("kind");
    let key = IntentKey {
        user: user.as_uuid(),
        id: intent["id"].as_str().expect("id").to_owned(),
        body_hash: nene_server::sync::body_hash(kind, &intent["body"]),
    };
    let receipt = Receipt {
        device: "phone-1",
        seq: intent["seq"].as_i64().expect("seq"),
        kind: kind.as_str(),
        received_at: s.state.clock.now().timestamp_millis(),
        now_ms: chrono::Utc::now().timestamp_millis(),
    };
    let mut tx = s.state.db.begin_write().await.expect("write");
    let row = nene_server::store::sync::receive(&mut tx, &key, &receipt).await.expect("receipt");
    tx.commit().await.expect("commit");
    assert_eq!(row.status, "PENDING");
}

async fn a_proof_received_on_the_last_day_counts_until_settlement_begins(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    // A one-day challenge: its first day is its last.
    let (id, day) = recruiting(&s, "OneDay", 1, "TEXT").await;
    let (early, early_token) = funded_user(&s.state.db, "early", 5_000).await;
    let (late, late_token) = funded_user(&s.state.db, "late", 5_000).await;
    for token in [&early_token, &late_token] {
        let (status, body) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(token), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    move_clock_to(&s, day);
    scheduler::step(&s.state).await.expect("start");
    let proof = |n: &str| json!({"id": n, "seq": 1, "kind": "PROOF", "body": {"challenge_id": id, "text": "done"}});
    received_only(&s, early, &proof("01EARLY")).await;
    received_only(&s, late, &proof("01LATE")).await;

    // Past midnight the challenge is over, but settlement has not begun: a proof received in time still counts.
    move_clock_to(&s, day + chrono::Duration::days(1));
    let results = push(&s, &early_token, json!([proof("01EARLY")])).await;
    assert_eq!(status_and_code(&results[0]), ("APPLIED", None), "{results:?}");
    assert_eq!(proofs_of(&s, &early_token, &id).await[0]["day"], day.to_string());

    // Once settlement has judged the challenge from its proofs, one arriving later is refused.
    scheduler::step(&s.state).await.expect("settle");
    let results = push(&s, &late_token, json!([proof("01LATE")])).await;
    assert_eq!(status_and_code(&results[0]), ("REJECTED", Some("CHALLENGE_NOT_IN_PROGRESS")), "{results:?}");
    assert_eq!(s.count("proofs").await, 1);
    let (_, people) = s.get(&format!("/api/v1/challenges/{id}/participants"), Some(&early_token)).await;
    let outcome = |u: UserId| {
        people.as_array().expect("participants").iter().find(|p| p["user"]["id"] == json!(u)).expect("in")["outcome"]
            .clone()
    };
    assert_eq!((outcome(early), outcome(late)), (json!("SUCCESS"), json!("FAIL")));
    assert_ledger_ok(&s.state.db).await;
}

async fn intents_an_earlier_server_left_pending_are_decided_on_the_next_push(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (joined, _) = recruiting(&s, "Joined", 3, "TEXT").await;
    let (never, _) = recruiting(&s, "Never", 3, "TEXT").await;
    let (user, token) = funded_user(&s.state.db, "old", 10_000).await;
    // The earlier server recorded both intents PENDING (no hash, no receipt time) before applying them; it
    // committed the first one's join and lost the record, and never got to the second.
    let (status, body) = s.post(&format!("/api/v1/challenges/{joined}/join"), Some(&token), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now = chrono::Utc::now().timestamp_millis();
    let mut tx = s.state.db.begin_write().await.expect("write");
    for (id, seq) in [("01OLD", 1_i64), ("02OLD", 2)] {
        nene_server::on_conn!(&mut tx, c => sqlx::query(
                "INSERT INTO sync_intents (user_id, intent_id, device_id, seq, kind, status, created_at, updated_at) \
                 VALUES ($1, $2, 'phone-1', $3, 'JOIN', 'PENDING', $4, $4)")
            .bind(user.as_uuid())
            .bind(id)
            .bind(seq)
            .bind(now)
            .execute(&mut *c)
            .await
            .expect("an earlier server's row")
            .rows_affected());
    }
    tx.commit().await.expect("commit");

    let first = json!({"id": "01OLD", "seq": 1, "kind": "JOIN", "body": {"challenge_id": joined}});
    let second = json!({"id": "02OLD", "seq": 2, "kind": "JOIN", "body": {"challenge_id": never}});
    let results = push(&s, &token, json!([first, second])).await;
    assert_eq!(status_and_code(&results[0]), ("APPLIED", None), "its join is there: {results:?}");
    assert_eq!(status_and_code(&results[1]), ("APPLIED", None), "{results:?}");
    assert_eq!(wallet_of(&s.state.db, user).await.0, 0, "two stakes, once each");
    assert_eq!(s.count("participations").await, 4);
    // Decided now, with the body they were decided on.
    let again = push(&s, &token, json!([first, second])).await;
    assert!(again.iter().all(|r| r["status"] == "APPLIED"), "{again:?}");
    let changed = json!({"id": "02OLD", "seq": 2, "kind": "JOIN", "body": {"challenge_id": joined}});
    assert_eq!(
        status_and_code(&push(&s, &token, json!([changed])).await[0]),
        ("REJECTED", Some("INTENT_BODY_CHANGED"))
    );
    assert_ledger_ok(&s.state.db).await;
}
