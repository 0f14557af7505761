//! Photo uploads end to end: every stored file is referred to by someone (an upload, a proof) and goes with its
//! last reference; a proof that is not made leaves nothing behind; an upload no proof takes is collected after a
//! day; a person's photos per day are counted; and new photos stop, with money still moving, when the disk is
//! short of space.

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use futures::future::join_all;
use nene_server::challenges::scheduler;
use nene_server::files::sha256_hex;
use nene_server::uploads::{self, Collector};
use nene_tests::{
    Backend, TestServer, assert_ledger_ok, challenge_body, code, funded_user, jpeg, move_clock_to, on_both_databases,
    wallet_of,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    a_proof_that_is_not_made_leaves_no_file_and_no_reference,
    one_persons_requests_with_one_photo_never_release_each_others_files,
    a_shared_photo_goes_only_with_its_last_reference,
    an_upload_no_proof_takes_is_collected_after_a_day,
    photos_past_the_days_quota_are_refused,
    new_photos_stop_when_the_disk_is_short_while_money_still_moves,
    uploads_past_the_slots_are_refused_before_their_body_is_read,
);

/// Every stored file under the server's data folder (temporary files of a write in progress have a leading dot).
fn files_on_disk(s: &TestServer) -> Vec<String> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() { walk(&path, found) } else { found.push(path) }
        }
    }
    let mut found = Vec::new();
    walk(&s.db.dir.path().join("files"), &mut found);
    let mut names: Vec<String> =
        found.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// `POST /sync/photos`: the status, the body, and the Retry-After header when there is one.
async fn upload(s: &TestServer, token: &str, bytes: &[u8]) -> (StatusCode, Value, Option<u64>) {
    let resp = s.http.post(s.url("/api/v1/sync/photos")).bearer_auth(token).body(bytes.to_vec()).send().await.unwrap();
    let status = resp.status();
    let retry = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    (status, resp.json().await.unwrap_or_default(), retry)
}

/// One collector pass as of `hours` from now.
async fn collect_in(s: &TestServer, hours: i64) -> usize {
    uploads::collect_at(&s.state, &Collector::default(), Utc::now() + Duration::hours(hours)).await.unwrap()
}

/// A photo challenge of `people` funded participants (the first one created it), started; their tokens.
async fn running_photo_challenge(s: &TestServer, people: &[&str], proof_type: &str) -> (String, Vec<String>) {
    let mut tokens = Vec::new();
    for name in people {
        tokens.push(funded_user(&s.state.db, name, 20_000).await.1);
    }
    let mut body = challenge_body(s, "Photos", 5, 10_000, 10);
    body["proof_type"] = json!(proof_type);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (status, ch) = s.post("/api/v1/challenges", Some(&tokens[0]), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_owned();
    for token in &tokens[1..] {
        let (status, b) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(token), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    move_clock_to(s, start);
    scheduler::step(&s.state).await.unwrap();
    (id, tokens)
}

/// Pushes one offline proof using an uploaded photo; answers its result.
async fn push_proof(s: &TestServer, token: &str, (intent, seq): (&str, i64), challenge: &str, hash: &str) -> Value {
    let body = json!({"device_id": "phone", "intents": [{"id": intent, "seq": seq, "kind": "PROOF",
        "body": {"challenge_id": challenge, "photo_hash": hash}}]});
    let (status, b) = s.post("/api/v1/sync/push", Some(token), &body).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b["results"][0].clone()
}

/// Eight proofs of one day race, each with its own photo: one is made, and the seven that lose (at the insert, or
/// at the check before it) leave no file and no reference behind.
async fn a_proof_that_is_not_made_leaves_no_file_and_no_reference(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (id, tokens) = running_photo_challenge(&s, &["racer", "friend"], "PHOTO").await;
    let photos: Vec<Vec<u8>> = (0..8).map(|i| jpeg(400 + i, 300)).collect();
    let answers =
        join_all(photos.iter().map(|p| s.submit_proof(&tokens[0], &id, Some(("p.jpg", p.clone())), None))).await;
    let made: Vec<&Value> = answers.iter().filter(|(st, _)| *st == StatusCode::CREATED).map(|(_, b)| b).collect();
    assert_eq!(made.len(), 1, "{answers:?}");
    assert!(
        answers.iter().all(|(st, b)| *st == StatusCode::CREATED || code(b) == "PROOF_ALREADY_SUBMITTED"),
        "{answers:?}"
    );
    // Only the proof that was made keeps files: its photo and its thumbnail, each referred to by that proof.
    let proof_id = made[0]["id"].as_str().unwrap();
    let resp = s.http.get(s.url(&format!("/api/v1/proofs/{proof_id}/photo"))).bearer_auth(&tokens[0]).send().await;
    let kept = resp.unwrap().bytes().await.unwrap().to_vec();
    assert!(photos.contains(&kept));
    let on_disk = files_on_disk(&s);
    assert_eq!(on_disk.len(), 2, "{on_disk:?}");
    assert!(on_disk.contains(&sha256_hex(&kept)));
    assert_eq!(s.count("stored_files").await, 2);
    assert_eq!(s.count("file_refs").await, 2);
    assert_eq!(s.count("file_refs WHERE proof_id IS NULL").await, 0);
    // The race did reach the insert: more than one photo was checked and stored before it (all eight, as a rule:
    // the day's check comes before the photo work, which takes longer than sending the requests).
    let mut tx = s.state.db.begin_read().await.unwrap();
    let counted: i64 = nene_server::on_conn!(&mut tx, c => sqlx::query_scalar("SELECT uploaded FROM photo_uploads")
        .fetch_one(&mut *c).await.unwrap());
    drop(tx);
    assert!(counted >= 2, "only {counted} proof reached its photo");

    // A ninth, after the day is proved, is refused before its photo is even looked at.
    let (status, b) = s.submit_proof(&tokens[0], &id, Some(("late.jpg", jpeg(333, 222))), None).await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "PROOF_ALREADY_SUBMITTED"));
    assert_eq!(files_on_disk(&s), on_disk);
    assert_eq!(s.count("file_refs").await, 2);
}

/// One person sends one photo to two challenges at once, four times to the first: three of those lose the day's
/// race and let go of what they held, and the two proofs that were made keep the photo and its thumbnail.
async fn one_persons_requests_with_one_photo_never_release_each_others_files(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (first, tokens) = running_photo_challenge(&s, &["busy", "friend"], "PHOTO").await;
    let mut body = challenge_body(&s, "More photos", 5, 10_000, 10);
    body["proof_type"] = json!("PHOTO");
    let (status, ch) = s.post("/api/v1/challenges", Some(&tokens[1]), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let second = ch["id"].as_str().unwrap().to_owned();
    s.post(&format!("/api/v1/challenges/{second}/join"), Some(&tokens[0]), &json!({})).await;
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();

    let photo = jpeg(600, 400);
    let targets = [&first, &first, &first, &first, &second];
    let answers =
        join_all(targets.iter().map(|c| s.submit_proof(&tokens[0], c, Some(("p.jpg", photo.clone())), None))).await;
    let made: Vec<&Value> = answers.iter().filter(|(st, _)| *st == StatusCode::CREATED).map(|(_, b)| b).collect();
    assert_eq!(made.len(), 2, "one proof in each challenge: {answers:?}");
    for proof in made {
        let url = s.url(proof["photo_url"].as_str().unwrap());
        let resp = s.http.get(url).bearer_auth(&tokens[0]).send().await.unwrap();
        assert_eq!(resp.bytes().await.unwrap().to_vec(), photo);
        let url = s.url(proof["thumbnail_url"].as_str().unwrap());
        assert_eq!(s.http.get(url).bearer_auth(&tokens[0]).send().await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(files_on_disk(&s).len(), 2);
    assert_eq!(s.count("file_refs").await, 4, "each proof refers to the photo and the thumbnail");
}

/// One photo, three people: the host proves with it, a friend uploads the same bytes and proves with them from the
/// app, and a third uploads them and never proves. The file stays while any of them refers to it, and goes with
/// the last reference (proofs are removed here straight from the database, as closing an account would).
async fn a_shared_photo_goes_only_with_its_last_reference(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (id, tokens) = running_photo_challenge(&s, &["host", "friend", "third"], "PHOTO").await;
    let photo = jpeg(640, 480);
    let hash = sha256_hex(&photo);
    let (status, host_proof) = s.submit_proof(&tokens[0], &id, Some(("run.jpg", photo.clone())), None).await;
    assert_eq!(status, StatusCode::CREATED, "{host_proof}");
    let (status, b, _) = upload(&s, &tokens[1], &photo).await;
    assert_eq!((status, b["hash"].as_str()), (StatusCode::OK, Some(hash.as_str())));
    assert_eq!(push_proof(&s, &tokens[1], ("friend-1", 1), &id, &hash).await["status"], "APPLIED");
    let (status, _, _) = upload(&s, &tokens[2], &photo).await;
    assert_eq!(status, StatusCode::OK);
    let other = jpeg(320, 240);
    assert_eq!(upload(&s, &tokens[2], &other).await.0, StatusCode::OK);
    // The photo and its one thumbnail (same photo, same thumbnail), and the third's other upload.
    assert_eq!(files_on_disk(&s).len(), 3);
    assert_eq!(s.count(&format!("file_refs WHERE hash = '{hash}'")).await, 3);

    // A day on, the third's uploads expire: the photo nobody else uses goes, the shared one stays.
    assert_eq!(collect_in(&s, 25).await, 3, "two expired references and one file");
    assert!(!files_on_disk(&s).contains(&sha256_hex(&other)));
    assert!(files_on_disk(&s).contains(&hash));
    assert_eq!(s.count(&format!("file_refs WHERE hash = '{hash}'")).await, 2);

    let delete_proof = |proof: String| {
        let db = s.state.db.clone();
        async move {
            let proof: uuid::Uuid = proof.parse().unwrap();
            let mut tx = db.begin_write().await.unwrap();
            nene_server::on_conn!(&mut tx, c => sqlx::query("DELETE FROM proofs WHERE id = $1")
                .bind(proof).execute(&mut *c).await.unwrap().rows_affected());
            tx.commit().await.unwrap();
        }
    };
    delete_proof(host_proof["id"].as_str().unwrap().to_owned()).await;
    assert_eq!(collect_in(&s, 0).await, 0, "the friend's proof still refers to both files");
    assert_eq!(files_on_disk(&s).len(), 2);
    let (_, feed) = s.get(&format!("/api/v1/challenges/{id}/proofs"), Some(&tokens[1])).await;
    let friend_proof = feed["items"][0]["id"].as_str().unwrap().to_owned();
    let resp = s.http.get(s.url(&format!("/api/v1/proofs/{friend_proof}/photo"))).bearer_auth(&tokens[1]).send().await;
    assert_eq!(resp.unwrap().bytes().await.unwrap().to_vec(), photo);

    delete_proof(friend_proof).await;
    assert_eq!(collect_in(&s, 0).await, 2, "the photo and its thumbnail");
    assert!(files_on_disk(&s).is_empty(), "{:?}", files_on_disk(&s));
    assert_eq!(s.count("stored_files").await, 0);
    assert_eq!(s.count("file_refs").await, 0);
}

/// An upload is kept a day after it was last uploaded; then its file goes, and a proof can no longer use it.
async fn an_upload_no_proof_takes_is_collected_after_a_day(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (id, tokens) = running_photo_challenge(&s, &["forgetful", "friend"], "PHOTO").await;
    let photo = jpeg(500, 400);
    let (status, b, _) = upload(&s, &tokens[0], &photo).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let hash = b["hash"].as_str().unwrap().to_owned();

    assert_eq!(collect_in(&s, 23).await, 0);
    assert_eq!(files_on_disk(&s), vec![hash.clone()]);
    assert_eq!(collect_in(&s, 25).await, 2, "the expired reference and its file");
    assert!(files_on_disk(&s).is_empty());
    assert_eq!((s.count("stored_files").await, s.count("file_refs").await), (0, 0));
    let answer = push_proof(&s, &tokens[0], ("late", 1), &id, &hash).await;
    assert_eq!((answer["status"].as_str(), answer["code"].as_str()), (Some("REJECTED"), Some("VALIDATION_FAILED")));

    // Uploading again brings it back for another day; so does a retry, which is answered without a decode.
    assert_eq!(upload(&s, &tokens[0], &photo).await.0, StatusCode::OK);
    assert_eq!(upload(&s, &tokens[0], &photo).await.0, StatusCode::OK);
    assert_eq!(files_on_disk(&s), vec![hash.clone()]);
    assert_eq!(s.count("file_refs").await, 1);
    // Someone else cannot prove with a photo they never uploaded, though they know its name.
    let answer = push_proof(&s, &tokens[1], ("borrowed", 1), &id, &hash).await;
    assert_eq!(answer["status"], "REJECTED");
    assert_eq!(push_proof(&s, &tokens[0], ("now", 2), &id, &hash).await["status"], "APPLIED");
    // Taken by the proof, the photo outlives the upload's day.
    assert_eq!(s.count("file_refs WHERE proof_id IS NULL").await, 0);
    collect_in(&s, 48).await;
    assert!(files_on_disk(&s).contains(&hash));
}

/// Each person may upload so many new photos a UTC day; past that, 429 with the time until midnight, and the
/// photos they already uploaded, text proofs and other people are not affected.
async fn photos_past_the_days_quota_are_refused(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.run_workers = false;
        c.uploads_per_day = 3;
    })
    .await;
    let (id, tokens) = running_photo_challenge(&s, &["keen", "calm"], "TEXT").await;
    let photos: Vec<Vec<u8>> = (0..4).map(|i| jpeg(200 + i, 100)).collect();
    for photo in &photos[..3] {
        let (status, b, _) = upload(&s, &tokens[0], photo).await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    let (status, b, retry) = upload(&s, &tokens[0], &photos[3]).await;
    assert_eq!((status, code(&b)), (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS"), "{b}");
    let retry = retry.expect("Retry-After");
    assert!((1..=86_400).contains(&retry), "{retry}");
    assert!(!files_on_disk(&s).contains(&sha256_hex(&photos[3])));
    // Sending an uploaded photo again is not a new upload.
    assert_eq!(upload(&s, &tokens[0], &photos[0]).await.0, StatusCode::OK);
    // A proof's own photo counts too; the text alone still proves the day.
    let (status, b) = s.submit_proof(&tokens[0], &id, Some(("more.jpg", photos[3].clone())), Some("ran")).await;
    assert_eq!((status, code(&b)), (StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS"), "{b}");
    let (status, b) = s.submit_proof(&tokens[0], &id, None, Some("ran")).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert_eq!(upload(&s, &tokens[1], &photos[3]).await.0, StatusCode::OK, "another person's quota is their own");
    assert_eq!(files_on_disk(&s).len(), 4);
}

/// With less free disk than the floor (set absurdly high here), every new photo is refused with 507 STORAGE_FULL
/// and nothing is stored or counted, while joining with a stake and text proofs work as always.
async fn new_photos_stop_when_the_disk_is_short_while_money_still_moves(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.run_workers = false;
        c.min_free_disk_mb = u64::MAX / (2 * 1024 * 1024);
    })
    .await;
    let (host, host_token) = funded_user(&s.state.db, "host", 10_000).await;
    let (guest, guest_token) = funded_user(&s.state.db, "guest", 10_000).await;
    let (status, b, retry) = upload(&s, &guest_token, &jpeg(300, 200)).await;
    assert_eq!((status, code(&b)), (StatusCode::INSUFFICIENT_STORAGE, "STORAGE_FULL"), "{b}");
    assert!(retry.is_some());

    let mut body = challenge_body(&s, "Journal", 5, 5_000, 10);
    body["proof_type"] = json!("TEXT");
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (status, ch) = s.post("/api/v1/challenges", Some(&host_token), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_owned();
    let (status, b) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(&guest_token), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(wallet_of(&s.state.db, host).await.0, 5_000);
    assert_eq!(wallet_of(&s.state.db, guest).await.0, 5_000);
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();

    let (status, b) = s.submit_proof(&guest_token, &id, Some(("run.jpg", jpeg(300, 200))), Some("ran")).await;
    assert_eq!((status, code(&b)), (StatusCode::INSUFFICIENT_STORAGE, "STORAGE_FULL"), "{b}");
    let (status, b) = s.submit_proof(&guest_token, &id, None, Some("ran")).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    assert!(files_on_disk(&s).is_empty());
    assert_eq!((s.count("stored_files").await, s.count("photo_uploads").await), (0, 0));
    assert_ledger_ok(&s.state.db).await;
}

/// A client that starts an upload and never finishes its body holds one slot; with every slot held, the next upload
/// (app or form) is refused at once with 503 and Retry-After, and a slot freed by a closed connection serves again.
async fn uploads_past_the_slots_are_refused_before_their_body_is_read(backend: Backend) {
    use tokio::io::AsyncWriteExt;
    let s = TestServer::start_with(backend, |c| {
        c.run_workers = false;
        c.uploads_in_flight = 1;
    })
    .await;
    let (_, token) = funded_user(&s.state.db, "slow", 0).await;
    // Headers and a first piece of a 5 MB body, then nothing more.
    let mut slow = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /api/v1/sync/photos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: 5000000\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&[0xFF; 1024]).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.state.upload_slots.available() > 0 {
        assert!(std::time::Instant::now() < deadline, "the slow upload never took its slot");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    let (status, body, retry) = upload(&s, &token, &jpeg(64, 64)).await;
    assert_eq!((status, code(&body), retry), (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", Some(2)), "{body}");
    let form = reqwest::multipart::Form::new().part("photo", reqwest::multipart::Part::bytes(jpeg(64, 64)));
    let id = uuid::Uuid::now_v7();
    let resp = s
        .http
        .post(s.url(&format!("/api/v1/challenges/{id}/proofs")))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(s.count("photo_uploads").await + s.count("stored_files").await, 0, "nothing was stored");

    drop(slow);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.state.upload_slots.available() == 0 {
        assert!(std::time::Instant::now() < deadline, "the closed upload never gave its slot back");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let (status, body, _) = upload(&s, &token, &jpeg(64, 64)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
