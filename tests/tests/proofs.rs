//! Proofs end to end: photos checked by content and served back to participants only, one proof a day inside the
//! day's window by the server's clock, reports and rejections (by an administrator without a stake), and the live
//! figures that follow.

use nene_server::challenges::scheduler;
use nene_tests::{
    Backend, TestServer, challenge_body, code, funded_user, jpeg, mint_admin_token, move_clock_to, on_both_databases,
};
use reqwest::StatusCode;
use serde_json::json;

on_both_databases!(photo_proofs_once_a_day_inside_the_window, reports_rejections_and_live_figures);

async fn photo_proofs_once_a_day_inside_the_window(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (_, guest) = funded_user(db, "guest", 10_000).await;
    let (_, outsider) = funded_user(db, "outsider", 0).await;
    let mut body = challenge_body(&s, "Photo a day", 7, 10_000, 5);
    body["proof_type"] = json!("PHOTO");
    body["proof_weekdays"] = json!(["MON", "TUE", "WED", "THU", "FRI"]);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (status, ch) = s.post("/api/v1/challenges", Some(&host), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_owned();
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&guest), &json!({})).await;
    let photo = jpeg(800, 600);

    // Before the start, proofs are closed.
    let (status, b) = s.submit_proof(&host, &id, Some(("run.jpg", photo.clone())), None).await;
    assert_eq!((status, code(&b)), (StatusCode::UNPROCESSABLE_ENTITY, "CHALLENGE_NOT_IN_PROGRESS"));

    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();
    // Find the first weekday of the challenge to prove on.
    let mut day = start;
    while matches!(chrono::Datelike::weekday(&day), chrono::Weekday::Sat | chrono::Weekday::Sun) {
        day = day.succ_opt().unwrap();
    }
    let weekend = (0..7)
        .map(|i| start + chrono::Duration::days(i))
        .find(|d| matches!(chrono::Datelike::weekday(d), chrono::Weekday::Sat))
        .unwrap();
    move_clock_to(&s, day);

    let (status, b) = s.submit_proof(&host, &id, None, Some("text only")).await;
    assert_eq!((status, code(&b)), (StatusCode::BAD_REQUEST, "PROOF_CONTENT_MISSING"));
    assert_eq!(b["fields"]["photo"], "REQUIRED");
    let (status, b) =
        s.submit_proof(&host, &id, Some(("run.jpg", b"I really ran today, promise".to_vec())), None).await;
    assert_eq!((status, code(&b)), (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_PHOTO"), "a text file renamed .jpg");
    let (status, b) = s.submit_proof(&outsider, &id, Some(("run.jpg", photo.clone())), None).await;
    assert_eq!((status, code(&b)), (StatusCode::FORBIDDEN, "NOT_A_PARTICIPANT"));
    assert_eq!(s.count("proofs").await, 0);

    let (status, proof) = s.submit_proof(&host, &id, Some(("run.jpg", photo.clone())), Some("5 km")).await;
    assert_eq!(status, StatusCode::CREATED, "{proof}");
    assert_eq!(proof["day"], day.to_string());
    assert_eq!(proof["status"], "ACCEPTED");
    assert_eq!(proof["text"], "5 km");
    let (status, b) = s.submit_proof(&host, &id, Some(("again.jpg", jpeg(100, 100))), None).await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "PROOF_ALREADY_SUBMITTED"));

    // The photo comes back as sent, the thumbnail small, and only to participants.
    let photo_url = proof["photo_url"].as_str().unwrap();
    let resp = s.http.get(s.url(photo_url)).bearer_auth(&guest).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), photo);
    let thumb = s.http.get(s.url(proof["thumbnail_url"].as_str().unwrap())).bearer_auth(&host).send().await.unwrap();
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert!(thumb.width() <= 320 && thumb.height() <= 320);
    assert_eq!(
        s.http.get(s.url(photo_url)).bearer_auth(&outsider).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(s.http.get(s.url(photo_url)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A weekend day of a weekdays-only challenge, and after the end, are outside every window.
    move_clock_to(&s, weekend);
    let (status, b) = s.submit_proof(&guest, &id, Some(("run.jpg", photo.clone())), None).await;
    assert_eq!((status, code(&b)), (StatusCode::UNPROCESSABLE_ENTITY, "NOT_A_PROOF_DAY"));
    move_clock_to(&s, start + chrono::Duration::days(7));
    let (status, b) = s.submit_proof(&guest, &id, Some(("run.jpg", photo)), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");

    let (_, feed) = s.get(&format!("/api/v1/challenges/{id}/proofs"), Some(&guest)).await;
    assert_eq!(feed["items"].as_array().unwrap().len(), 1);
    assert_eq!(s.get(&format!("/api/v1/challenges/{id}/proofs"), Some(&outsider)).await.0, StatusCode::FORBIDDEN);
}

async fn reports_rejections_and_live_figures(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (guest_id, guest) = funded_user(db, "guest", 10_000).await;
    let (_, third) = funded_user(db, "third", 10_000).await;
    let body = challenge_body(&s, "Journal", 5, 10_000, 5);
    let start: chrono::NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (_, ch) = s.post("/api/v1/challenges", Some(&host), &body).await;
    let id = ch["id"].as_str().unwrap().to_owned();
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&guest), &json!({})).await;
    s.post(&format!("/api/v1/challenges/{id}/join"), Some(&third), &json!({})).await;
    move_clock_to(&s, start);
    scheduler::step(&s.state).await.unwrap();

    let (status, proof) = s.submit_proof(&guest, &id, None, Some("wrote a page")).await;
    assert_eq!(status, StatusCode::CREATED, "{proof}");
    let pid = proof["id"].as_str().unwrap();
    s.submit_proof(&host, &id, None, Some("me too")).await;

    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&third)).await;
    assert_eq!(progress["participant_count"], 3);
    assert_eq!(progress["today_proofs"], 2);
    assert_eq!(progress["today_rate_percent"], 66);
    assert_eq!(progress["proof_days"], 5);
    assert_eq!(progress["required_days"], 4);
    let third_row =
        progress["participants"].as_array().unwrap().iter().find(|p| p["user"]["nickname"] == "third").unwrap();
    assert_eq!(third_row["today_done"], false);
    assert_eq!(third_row["on_track"], true);

    // Reports: another participant, once; never one's own.
    let (status, b) =
        s.post(&format!("/api/v1/proofs/{pid}/report"), Some(&third), &json!({"reason": "copied photo"})).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["report_count"], 1);
    let (status, b) = s.post(&format!("/api/v1/proofs/{pid}/report"), Some(&third), &json!({"reason": "again"})).await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "ALREADY_REPORTED"));
    assert_eq!(
        s.post(&format!("/api/v1/proofs/{pid}/report"), Some(&guest), &json!({"reason": "me"})).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, b) = s.post(&format!("/api/v1/proofs/{pid}/report"), Some(&host), &json!({"reason": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{b}");

    // Rejections: never by anyone with a stake (the creator included: they would take the day's stake); an
    // administrator who takes no part rejects, the day stops counting and the owner is told.
    let (status, b) = s.post(&format!("/api/v1/proofs/{pid}/reject"), Some(&third), &json!({"reason": "no"})).await;
    assert_eq!((status, code(&b)), (StatusCode::FORBIDDEN, "CONFLICT_OF_INTEREST"));
    let (status, b) = s
        .post(&format!("/api/v1/proofs/{pid}/reject"), Some(&host), &json!({"reason": "사진이 오늘 것이 아니에요"}))
        .await;
    assert_eq!((status, code(&b)), (StatusCode::FORBIDDEN, "CONFLICT_OF_INTEREST"), "{b}");
    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&third)).await;
    assert_eq!(progress["today_proofs"], 2, "a refused rejection changes nothing");
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    let (status, b) = s
        .post(&format!("/api/v1/proofs/{pid}/reject"), Some(&admin), &json!({"reason": "사진이 오늘 것이 아니에요"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "REJECTED");
    let (status, b) = s.post(&format!("/api/v1/proofs/{pid}/reject"), Some(&admin), &json!({"reason": "twice"})).await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "PROOF_NOT_REJECTABLE"));
    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&third)).await;
    let guest_row =
        progress["participants"].as_array().unwrap().iter().find(|p| p["user"]["nickname"] == "guest").unwrap();
    assert_eq!(guest_row["accepted_days"], 0);
    assert_eq!(guest_row["rejected_days"], 1);
    assert_eq!(guest_row["today_done"], false);
    assert_eq!(progress["today_proofs"], 1);
    let mut tx = db.begin_read().await.unwrap();
    let kinds = nene_server::store::notifications::kinds_of(&mut tx, guest_id.as_uuid()).await.unwrap();
    drop(tx);
    assert!(kinds.iter().any(|(k, _)| k == "PROOF_REJECTED"));
    // The day's window is still open, so it may be proved again; the new proof is the day's.
    let (status, b) = s.submit_proof(&guest, &id, None, Some("retry")).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&third)).await;
    let guest_row =
        progress["participants"].as_array().unwrap().iter().find(|p| p["user"]["nickname"] == "guest").unwrap();
    assert_eq!((guest_row["accepted_days"].as_i64(), guest_row["rejected_days"].as_i64()), (Some(1), Some(0)));
    assert_eq!(progress["today_proofs"], 2);
}
