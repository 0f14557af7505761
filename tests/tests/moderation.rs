//! Proof moderation without a conflict of interest, end to end: people with a stake in a challenge report but never
//! reject; an administrator who takes no part decides, the owner is told and may appeal once; a rejected day may be
//! proved again in its window and counts once; settlement waits for open reviews, and after the grace time the
//! system decides them for the person who proved, records why, and settles. A rejection leaves its owner an appeal
//! window, which settlement waits for (never past the grace time); an appeal after it is refused.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone};
use nene_server::challenges::scheduler;
use nene_tests::{
    Backend, TestServer, assert_ledger_ok, challenge_body, code, funded_user, mint_admin_token, move_clock_to,
    on_both_databases, test_config, wallet_of,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_databases!(
    nobody_with_a_stake_can_reject_and_the_proof_still_counts,
    an_uninvolved_admin_rejects_the_owner_is_told_and_appeals_once,
    a_rejected_day_can_be_proved_again_in_its_window_and_counts_once,
    settlement_waits_for_an_open_report_and_proceeds_after_a_decision,
    after_the_grace_time_the_system_decides_and_settles,
    a_proof_rejected_on_the_last_day_can_still_be_appealed_before_settlement,
    an_unappealed_rejection_stands_once_its_window_passes_and_a_late_appeal_is_refused,
    the_grace_time_bounds_an_appeal_window_that_would_run_past_it,
    a_pull_after_the_end_shows_why_settlement_waits,
);

/// A running challenge of `days` days: the creator `host` and the others joined; the clock at its first day.
async fn running(s: &TestServer, host: &str, others: &[&str], days: i64, threshold: i64) -> (String, NaiveDate) {
    let mut body = challenge_body(s, "Morning run", days, 10_000, 10);
    body["success_threshold"] = json!(threshold);
    let start: NaiveDate = body["start_date"].as_str().unwrap().parse().unwrap();
    let (status, ch) = s.post("/api/v1/challenges", Some(host), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    let id = ch["id"].as_str().unwrap().to_owned();
    for token in others {
        let (status, b) = s.post(&format!("/api/v1/challenges/{id}/join"), Some(token), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{b}");
    }
    move_clock_to(s, start);
    scheduler::step(&s.state).await.unwrap();
    (id, start)
}

async fn prove(s: &TestServer, token: &str, challenge: &str, text: &str) -> String {
    let (status, proof) = s.submit_proof(token, challenge, None, Some(text)).await;
    assert_eq!(status, StatusCode::CREATED, "{proof}");
    proof["id"].as_str().unwrap().to_owned()
}

async fn act(s: &TestServer, path: &str, token: &str, reason: &str) -> (StatusCode, Value) {
    s.post(path, Some(token), &json!({"reason": reason})).await
}

async fn challenge(s: &TestServer, id: &str, token: &str) -> Value {
    let (status, body) = s.get(&format!("/api/v1/challenges/{id}"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Each participant's settlement outcome by nickname.
async fn outcomes(s: &TestServer, id: &str, token: &str) -> Vec<(String, Value)> {
    let (_, people) = s.get(&format!("/api/v1/challenges/{id}/participants"), Some(token)).await;
    people
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["user"]["nickname"].as_str().unwrap().to_owned(), p["outcome"].clone()))
        .collect()
}

async fn proof_in_feed(s: &TestServer, challenge: &str, token: &str, proof: &str) -> Value {
    let (status, feed) = s.get(&format!("/api/v1/challenges/{challenge}/proofs"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    feed["items"].as_array().unwrap().iter().find(|p| p["id"] == proof).cloned().expect("proof in the feed")
}

/// The kinds of the inbox's notifications, newest first.
async fn inbox(s: &TestServer, token: &str) -> Vec<Value> {
    let (status, body) = s.get("/api/v1/notifications", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn decisions(s: &TestServer, admin: &str, challenge: &str) -> Vec<Value> {
    let (status, body) =
        s.get(&format!("/api/v1/admin/moderation/decisions?challenge_id={challenge}"), Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn nobody_with_a_stake_can_reject_and_the_proof_still_counts(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (guest_id, guest) = funded_user(db, "guest", 10_000).await;
    let (boss_id, _) = funded_user(db, "boss", 10_000).await;
    let boss = mint_admin_token(boss_id); // an administrator who joined the challenge
    let (plain_id, _) = funded_user(db, "plain", 0).await;
    let plain = nene_tests::mint_token(plain_id); // signed in, no stake, no role
    let (id, start) = running(&s, &host, &[&guest, &boss], 1, 100).await;
    let pid = prove(&s, &guest, &id, "ran 5 km").await;

    // The creator may report a rival's proof, but never reject it: they would take the rival's stake.
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/report"), &host, "looks like yesterday's run").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["under_review"], true);
    assert_eq!(b["status"], "ACCEPTED");
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/reject"), &host, "not today's").await;
    assert_eq!((status, code(&b)), (StatusCode::FORBIDDEN, "CONFLICT_OF_INTEREST"), "{b}");
    // An administrator who takes part has the same stake.
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/reject"), &boss, "not today's").await;
    assert_eq!((status, code(&b)), (StatusCode::FORBIDDEN, "CONFLICT_OF_INTEREST"), "{b}");
    let (status, b) = act(&s, &format!("/api/v1/admin/moderation/{pid}/dismiss"), &boss, "fine").await;
    assert_eq!((status, code(&b)), (StatusCode::FORBIDDEN, "CONFLICT_OF_INTEREST"), "{b}");
    // Someone with no stake and no role may not decide either.
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/reject"), &plain, "not today's").await;
    assert_eq!((status, code(&b)), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{b}");
    assert_eq!(s.count("moderation_decisions").await, 0);
    // The participating administrator sees the case but may not decide it.
    let (status, q) = s.get("/api/v1/admin/moderation", Some(&boss)).await;
    assert_eq!(status, StatusCode::OK, "{q}");
    assert_eq!(q["items"][0]["proof"]["id"], pid.as_str());
    assert_eq!(q["items"][0]["can_decide"], false);

    // An uninvolved administrator dismisses the report; the proof counts at settlement.
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    let (status, b) = act(&s, &format!("/api/v1/admin/moderation/{pid}/dismiss"), &admin, "the photo is fine").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!((b["status"].as_str(), b["under_review"].as_bool()), (Some("ACCEPTED"), Some(false)));
    move_clock_to(&s, start + Duration::days(1));
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(challenge(&s, &id, &guest).await["status"], "ENDED");
    let results = outcomes(&s, &id, &guest).await;
    assert!(results.contains(&("guest".to_owned(), json!("SUCCESS"))), "{results:?}");
    assert!(results.contains(&("host".to_owned(), json!("FAIL"))), "{results:?}");
    // The guest got back the stake and the prize: the failed host's and boss's stakes.
    assert_eq!(wallet_of(db, guest_id).await.0, 30_000);
    assert_ledger_ok(db).await;
}

async fn an_uninvolved_admin_rejects_the_owner_is_told_and_appeals_once(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (_, guest) = funded_user(db, "guest", 10_000).await;
    let (_, third) = funded_user(db, "third", 10_000).await;
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    let (id, _) = running(&s, &host, &[&guest, &third], 3, 100).await;
    let pid = prove(&s, &guest, &id, "wrote a page").await;

    // Reported, the proof waits in the queue with its text, photo address (none here), reports and reasons.
    act(&s, &format!("/api/v1/proofs/{pid}/report"), &third, "the page is blank").await;
    let (status, q) = s.get("/api/v1/admin/moderation", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{q}");
    let case = &q["items"][0];
    assert_eq!((case["kind"].as_str(), case["can_decide"].as_bool()), (Some("REPORT"), Some(true)));
    assert_eq!(case["proof"]["text"], "wrote a page");
    assert_eq!(case["challenge_title"], "Morning run");
    assert_eq!(case["reports"][0]["reason"], "the page is blank");
    assert_eq!(case["reports"][0]["reporter"]["nickname"], "third");
    assert_eq!(s.get("/api/v1/admin/moderation", Some(&guest)).await.0, StatusCode::FORBIDDEN);

    // A decision needs a reason.
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/reject"), &admin, " ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{b}");
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/reject"), &admin, "the page is blank indeed").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(
        (b["status"].as_str(), b["reject_reason"].as_str()),
        (Some("REJECTED"), Some("the page is blank indeed"))
    );
    assert_eq!(b["under_review"], false);
    // Nothing is open against it any more, and it is rejected already.
    let (status, b) = act(&s, &format!("/api/v1/admin/moderation/{pid}/dismiss"), &admin, "second thoughts").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "NO_OPEN_CASE"), "{b}");
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/reject"), &admin, "twice").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "PROOF_NOT_REJECTABLE"), "{b}");

    // The owner is told, with the reason.
    let told = inbox(&s, &guest).await;
    let note = told.iter().find(|n| n["kind"] == "PROOF_REJECTED").expect("a rejection notice");
    assert!(note["body"].as_str().unwrap().contains("the page is blank indeed"), "{note}");

    // Only the owner appeals, and only once.
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/appeal"), &third, "not mine").await;
    assert_eq!((status, code(&b)), (StatusCode::FORBIDDEN, "FORBIDDEN"), "{b}");
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/appeal"), &guest, "the page is on the back").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!((b["appeal"]["status"].as_str(), b["under_review"].as_bool()), (Some("PENDING"), Some(true)));
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/appeal"), &guest, "please").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "APPEAL_ALREADY_MADE"), "{b}");
    let (_, q) = s.get("/api/v1/admin/moderation", Some(&admin)).await;
    assert_eq!(q["items"][0]["kind"], "APPEAL");
    assert_eq!(q["items"][0]["proof"]["appeal"]["reason"], "the page is on the back");

    // Granted: the proof counts again, the owner is told; a second appeal is still refused.
    let (status, b) =
        act(&s, &format!("/api/v1/admin/moderation/{pid}/dismiss"), &admin, "the back page shows it").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!((b["status"].as_str(), b["appeal"]["status"].as_str()), (Some("ACCEPTED"), Some("GRANTED")));
    assert!(inbox(&s, &guest).await.iter().any(|n| n["kind"] == "PROOF_REVIEWED"));
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/appeal"), &guest, "again").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "APPEAL_ALREADY_MADE"), "{b}");
    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&guest)).await;
    let me = progress["participants"].as_array().unwrap().iter().find(|p| p["user"]["nickname"] == "guest").unwrap();
    assert_eq!((me["accepted_days"].as_i64(), me["rejected_days"].as_i64()), (Some(1), Some(0)));

    // Both decisions are kept, with who made them and why.
    let kept = decisions(&s, &admin, &id).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!((kept[0]["action"].as_str(), kept[0]["on_appeal"].as_bool()), (Some("DISMISS"), Some(true)));
    assert_eq!((kept[1]["action"].as_str(), kept[1]["on_appeal"].as_bool()), (Some("REJECT"), Some(false)));
    assert_eq!(kept[1]["actor"]["nickname"], "moderator");
    assert_eq!(kept[1]["reason"], "the page is blank indeed");
    assert_eq!(
        s.get(&format!("/api/v1/admin/moderation/decisions?challenge_id={id}"), Some(&guest)).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn a_rejected_day_can_be_proved_again_in_its_window_and_counts_once(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (_, guest) = funded_user(db, "guest", 10_000).await;
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    // Three days, two needed.
    let (id, start) = running(&s, &host, &[&guest], 3, 50).await;
    let first = prove(&s, &guest, &id, "a blurry photo").await;
    prove(&s, &host, &id, "day one").await;
    act(&s, &format!("/api/v1/proofs/{first}/reject"), &admin, "cannot see anything").await;
    let (status, b) = act(&s, &format!("/api/v1/proofs/{first}/appeal"), &guest, "it was dark").await;
    assert_eq!(status, StatusCode::OK, "{b}");

    // The day is still open: a new proof replaces the rejected one, and the appeal is moot.
    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&guest)).await;
    let me = progress["participants"].as_array().unwrap().iter().find(|p| p["user"]["nickname"] == "guest").unwrap();
    assert_eq!(me["today_done"], false);
    let second = prove(&s, &guest, &id, "a clear photo").await;
    let (status, b) = s.submit_proof(&guest, &id, None, Some("a third one")).await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "PROOF_ALREADY_SUBMITTED"), "{b}");
    let old = proof_in_feed(&s, &id, &guest, &first).await;
    assert_eq!((old["replaced"].as_bool(), old["appeal"]["status"].as_str()), (Some(true), Some("WITHDRAWN")));
    assert_eq!(old["under_review"], false);
    assert_eq!(proof_in_feed(&s, &id, &guest, &second).await["status"], "ACCEPTED");
    let (_, q) = s.get("/api/v1/admin/moderation", Some(&admin)).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 0, "{q}");
    // A replaced proof is past deciding.
    let (status, b) = act(&s, &format!("/api/v1/admin/moderation/{first}/dismiss"), &admin, "late").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "NO_OPEN_CASE"), "{b}");
    let (status, b) = act(&s, &format!("/api/v1/proofs/{first}/reject"), &admin, "late").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "PROOF_NOT_REJECTABLE"), "{b}");
    let (status, b) = act(&s, &format!("/api/v1/proofs/{first}/appeal"), &guest, "late").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "APPEAL_ALREADY_MADE"), "{b}");
    let (_, progress) = s.get(&format!("/api/v1/challenges/{id}/progress"), Some(&guest)).await;
    let me = progress["participants"].as_array().unwrap().iter().find(|p| p["user"]["nickname"] == "guest").unwrap();
    assert_eq!((me["accepted_days"].as_i64(), me["rejected_days"].as_i64()), (Some(1), Some(0)));
    assert_eq!(me["today_done"], true);
    assert_eq!(progress["today_proofs"], 2);

    // A day whose window has closed stays rejected: the next day's proof is that day's.
    move_clock_to(&s, start + Duration::days(1));
    prove(&s, &host, &id, "day two").await;
    let third = prove(&s, &guest, &id, "day two, blurry").await;
    act(&s, &format!("/api/v1/proofs/{third}/reject"), &admin, "blurry again").await;
    move_clock_to(&s, start + Duration::days(2));
    let fourth = prove(&s, &guest, &id, "day three").await;
    assert_eq!(proof_in_feed(&s, &id, &guest, &fourth).await["day"], (start + Duration::days(2)).to_string());
    assert_eq!(proof_in_feed(&s, &id, &guest, &third).await["status"], "REJECTED");

    // Settlement counts each day once: day one (re-proved) and day three, two of three: a success.
    move_clock_to(&s, start + Duration::days(3));
    scheduler::step(&s.state).await.unwrap();
    let (_, people) = s.get(&format!("/api/v1/challenges/{id}/participants"), Some(&guest)).await;
    let me = people.as_array().unwrap().iter().find(|p| p["user"]["nickname"] == "guest").unwrap();
    assert_eq!((me["accepted_days"].as_i64(), me["outcome"].as_str()), (Some(2), Some("SUCCESS")), "{people}");
    assert_eq!(s.count("proofs").await, 6);
    assert_ledger_ok(db).await;
}

async fn settlement_waits_for_an_open_report_and_proceeds_after_a_decision(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (_, guest) = funded_user(db, "guest", 10_000).await;
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    let (id, start) = running(&s, &host, &[&guest], 1, 100).await;
    let pid = prove(&s, &guest, &id, "done").await;
    act(&s, &format!("/api/v1/proofs/{pid}/report"), &host, "a stock photo").await;
    assert_eq!(challenge(&s, &id, &host).await["settlement_waiting"], Value::Null, "not ended yet");

    // Ended with a report open: settlement waits, and the detail says why and until when.
    move_clock_to(&s, start + Duration::days(1));
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/report"), &host, "late").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "MODERATION_CLOSED"), "reports close with the last day: {b}");
    scheduler::step(&s.state).await.unwrap();
    let c = challenge(&s, &id, &guest).await;
    assert_eq!(c["status"], "IN_PROGRESS");
    assert_eq!(c["settlement_waiting"]["reason"], "MODERATION");
    assert_eq!(
        (c["settlement_waiting"]["open_reports"].as_i64(), c["settlement_waiting"]["open_appeals"].as_i64()),
        (Some(1), Some(0))
    );
    let ends_at = chrono::DateTime::parse_from_rfc3339(c["settlement_waiting"]["until"].as_str().unwrap()).unwrap();
    let end_day =
        chrono_tz::Asia::Seoul.from_local_datetime(&(start + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap());
    assert_eq!(ends_at, end_day.single().unwrap() + Duration::hours(48));
    // The database decides, not one process's memory: a second instance on the same database waits too, and
    // settling the challenge directly finds it waiting.
    let mut config = test_config(&s.db);
    config.run_workers = false;
    let other = TestServer::start_on(Arc::clone(&s.db), config).await;
    other.state.clock.advance_ms((s.state.clock.now() - other.state.clock.now()).num_milliseconds());
    assert_eq!(scheduler::step(&other.state).await.unwrap(), 0);
    let waited = nene_server::challenges::settle::settle(&other.state, uuid::Uuid::parse_str(&id).unwrap(), 100, None)
        .await
        .unwrap();
    assert_eq!(waited, nene_server::challenges::settle::Progress::Waiting);
    assert_eq!(challenge(&s, &id, &guest).await["status"], "IN_PROGRESS");
    assert_eq!(s.count("settlement_runs").await, 0);

    // A decision within the grace time, and settlement goes on.
    let (status, b) = act(&s, &format!("/api/v1/admin/moderation/{pid}/dismiss"), &admin, "taken on the day").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(challenge(&s, &id, &guest).await["settlement_waiting"], Value::Null);
    scheduler::step(&other.state).await.unwrap();
    assert_eq!(challenge(&s, &id, &guest).await["status"], "ENDED");
    let results = outcomes(&s, &id, &guest).await;
    assert!(results.contains(&("guest".to_owned(), json!("SUCCESS"))), "{results:?}");
    // Once settled, nothing is decided any more.
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/reject"), &admin, "too late").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "MODERATION_CLOSED"), "{b}");
    assert_ledger_ok(db).await;
    other.stop().await;
}

async fn after_the_grace_time_the_system_decides_and_settles(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (_, guest) = funded_user(db, "guest", 10_000).await;
    let (_, third) = funded_user(db, "third", 10_000).await;
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    let (id, start) = running(&s, &host, &[&guest, &third], 1, 100).await;
    // The guest's proof reported and left open; the third's rejected and appealed, and left open.
    let reported = prove(&s, &guest, &id, "done").await;
    act(&s, &format!("/api/v1/proofs/{reported}/report"), &host, "a stock photo").await;
    let appealed = prove(&s, &third, &id, "done too").await;
    act(&s, &format!("/api/v1/proofs/{appealed}/reject"), &admin, "looks staged").await;
    act(&s, &format!("/api/v1/proofs/{appealed}/appeal"), &third, "it is real").await;

    move_clock_to(&s, start + Duration::days(1));
    scheduler::step(&s.state).await.unwrap();
    let c = challenge(&s, &id, &guest).await;
    assert_eq!(c["status"], "IN_PROGRESS");
    assert_eq!(
        (c["settlement_waiting"]["open_reports"].as_i64(), c["settlement_waiting"]["open_appeals"].as_i64()),
        (Some(1), Some(1))
    );

    // 48 hours after the end nobody has decided: administrators no longer may, the system does.
    move_clock_to(&s, start + Duration::days(3));
    let (status, b) = act(&s, &format!("/api/v1/proofs/{reported}/reject"), &admin, "late").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "MODERATION_CLOSED"), "{b}");
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(challenge(&s, &id, &guest).await["status"], "ENDED");
    let kept = decisions(&s, &admin, &id).await;
    let system: Vec<&Value> = kept.iter().filter(|d| d["actor"].is_null()).collect();
    assert_eq!(system.len(), 2, "{kept:?}");
    assert!(system.iter().all(|d| d["action"] == "DISMISS" && !d["reason"].as_str().unwrap().is_empty()));
    let on_appeal = system.iter().find(|d| d["proof_id"] == appealed.as_str()).expect("the appeal decided");
    assert_eq!(on_appeal["on_appeal"], true);
    assert!(on_appeal["reason"].as_str().unwrap().contains("doubt favours the person who proved"));
    assert_eq!(system.iter().find(|d| d["proof_id"] == reported.as_str()).unwrap()["on_appeal"], false);
    let restored = proof_in_feed(&s, &id, &third, &appealed).await;
    assert_eq!(
        (restored["status"].as_str(), restored["appeal"]["status"].as_str()),
        (Some("ACCEPTED"), Some("GRANTED"))
    );
    assert!(inbox(&s, &third).await.iter().any(|n| n["kind"] == "PROOF_REVIEWED"));
    let results = outcomes(&s, &id, &guest).await;
    assert!(results.contains(&("guest".to_owned(), json!("SUCCESS"))), "{results:?}");
    assert!(results.contains(&("third".to_owned(), json!("SUCCESS"))), "{results:?}");
    assert!(results.contains(&("host".to_owned(), json!("FAIL"))), "{results:?}");
    assert_eq!(s.count("moderation_queue").await, 0);
    assert_ledger_ok(db).await;
}

const HOUR_MS: i64 = 3_600_000;

/// The moment a challenge that started on `start` and lasts `days` days ends: midnight in Seoul.
fn end_of(start: NaiveDate, days: i64) -> chrono::DateTime<chrono::Utc> {
    let end = chrono_tz::Asia::Seoul.from_local_datetime(&(start + Duration::days(days)).and_hms_opt(0, 0, 0).unwrap());
    end.single().unwrap().with_timezone(&chrono::Utc)
}

fn at(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("a time: {value}"))).unwrap().into()
}

/// The admin rejects the proof; answers the rejected proof, checking its appeal window runs `window_ms` from now.
async fn reject_with_window(s: &TestServer, admin: &str, pid: &str, window_ms: i64) -> Value {
    let before = s.state.clock.now().timestamp_millis();
    let (status, b) = act(s, &format!("/api/v1/proofs/{pid}/reject"), admin, "the photo is from another day").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let after = s.state.clock.now().timestamp_millis();
    let until = at(&b["appeal_until"]).timestamp_millis();
    assert!((before + window_ms..=after + window_ms).contains(&until), "{b}");
    b
}

async fn a_proof_rejected_on_the_last_day_can_still_be_appealed_before_settlement(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (guest_id, guest) = funded_user(db, "guest", 10_000).await;
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    let (id, start) = running(&s, &host, &[&guest], 1, 100).await;
    prove(&s, &host, &id, "ran").await;
    let pid = prove(&s, &guest, &id, "ran too").await;

    // Rejected in the evening of the last (only) day: the owner has a day to appeal, past the end.
    s.state.clock.advance_ms(20 * HOUR_MS);
    let rejected = reject_with_window(&s, &admin, &pid, 24 * HOUR_MS).await;
    let until = at(&rejected["appeal_until"]);
    let told = inbox(&s, &guest).await;
    let note = told.iter().find(|n| n["kind"] == "PROOF_REJECTED").expect("a rejection notice");
    assert!(note["body"].as_str().unwrap().contains("까지 한 번 이의를 신청할 수 있어요"), "{note}");

    // The end passes with nothing open but the window: settlement waits, and the detail says for what and until when.
    move_clock_to(&s, start + Duration::days(1));
    scheduler::step(&s.state).await.unwrap();
    let c = challenge(&s, &id, &guest).await;
    assert_eq!(c["status"], "IN_PROGRESS", "{c}");
    let w = &c["settlement_waiting"];
    assert_eq!(w["reason"], "MODERATION");
    assert_eq!((w["open_reports"].as_i64(), w["open_appeals"].as_i64()), (Some(0), Some(0)));
    assert_eq!(w["possible_appeals"], 1);
    assert_eq!(at(&w["appeals_until"]), until);
    assert_eq!(at(&w["until"]), end_of(start, 1) + Duration::hours(48));
    assert_eq!(s.count("settlement_runs").await, 0);
    // The database decides: the challenge is not even offered to a scheduler, on any instance.
    let now = s.state.clock.now().timestamp_millis();
    let mut tx = db.begin_read().await.unwrap();
    let due = nene_server::store::challenges::due(&mut tx, now, now - 48 * HOUR_MS, 50).await.unwrap();
    drop(tx);
    assert!(due.is_empty(), "{due:?}");

    // Ten hours after the end the window still lasts, and settlement still waits.
    s.state.clock.advance_ms(10 * HOUR_MS);
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(challenge(&s, &id, &guest).await["status"], "IN_PROGRESS");
    // The appeal, in time, opens the case as ever; settlement now waits for its decision.
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/appeal"), &guest, "it was taken today").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!((b["appeal"]["status"].as_str(), b["appeal_until"].as_str()), (Some("PENDING"), None), "{b}");
    scheduler::step(&s.state).await.unwrap();
    let c = challenge(&s, &id, &guest).await;
    assert_eq!(c["status"], "IN_PROGRESS");
    assert_eq!(
        (c["settlement_waiting"]["open_appeals"].as_i64(), c["settlement_waiting"]["possible_appeals"].as_i64()),
        (Some(1), Some(0))
    );

    // Granted: settlement proceeds, and the restored day counts.
    let (status, b) = act(&s, &format!("/api/v1/admin/moderation/{pid}/dismiss"), &admin, "the time is right").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(challenge(&s, &id, &guest).await["status"], "ENDED");
    let results = outcomes(&s, &id, &guest).await;
    assert!(results.contains(&("guest".to_owned(), json!("SUCCESS"))), "{results:?}");
    assert!(results.contains(&("host".to_owned(), json!("SUCCESS"))), "{results:?}");
    assert_eq!(wallet_of(db, guest_id).await.0, 10_000);
    assert_ledger_ok(db).await;
}

async fn an_unappealed_rejection_stands_once_its_window_passes_and_a_late_appeal_is_refused(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (guest_id, guest) = funded_user(db, "guest", 10_000).await;
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    let (id, start) = running(&s, &host, &[&guest], 1, 100).await;
    prove(&s, &host, &id, "ran").await;
    let pid = prove(&s, &guest, &id, "ran too").await;
    s.state.clock.advance_ms(20 * HOUR_MS);
    reject_with_window(&s, &admin, &pid, 24 * HOUR_MS).await;
    move_clock_to(&s, start + Duration::days(1));
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(challenge(&s, &id, &guest).await["status"], "IN_PROGRESS");

    // The window passes (21 hours after the end, the rejection 25 hours old): a late appeal is refused and changes
    // nothing.
    s.state.clock.advance_ms(21 * HOUR_MS);
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/appeal"), &guest, "I was busy").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "APPEAL_WINDOW_CLOSED"), "{b}");
    assert_eq!(s.count("proof_appeals").await, 0);
    assert_eq!(s.count("moderation_queue").await, 0);
    assert_eq!(challenge(&s, &id, &guest).await["settlement_waiting"], Value::Null);

    // Settlement proceeds; the rejection stands, and the only decision kept is the administrator's.
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(challenge(&s, &id, &guest).await["status"], "ENDED");
    let results = outcomes(&s, &id, &guest).await;
    assert!(results.contains(&("guest".to_owned(), json!("FAIL"))), "{results:?}");
    assert!(results.contains(&("host".to_owned(), json!("SUCCESS"))), "{results:?}");
    assert_eq!(proof_in_feed(&s, &id, &guest, &pid).await["status"], "REJECTED");
    let kept = decisions(&s, &admin, &id).await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (kept[0]["action"].as_str(), kept[0]["actor"]["nickname"].as_str()),
        (Some("REJECT"), Some("moderator"))
    );
    let (status, b) = act(&s, &format!("/api/v1/proofs/{pid}/appeal"), &guest, "still busy").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "APPEAL_WINDOW_CLOSED"), "{b}");
    assert_eq!(wallet_of(db, guest_id).await.0, 0);
    assert_ledger_ok(db).await;
}

async fn the_grace_time_bounds_an_appeal_window_that_would_run_past_it(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.run_workers = false;
        c.moderation_grace = std::time::Duration::from_secs(12 * 3600);
    })
    .await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (_, guest) = funded_user(db, "guest", 10_000).await;
    let (_, third) = funded_user(db, "third", 10_000).await;
    let (admin_id, _) = funded_user(db, "moderator", 0).await;
    let admin = mint_admin_token(admin_id);
    let (id, start) = running(&s, &host, &[&guest, &third], 1, 100).await;
    prove(&s, &host, &id, "ran").await;
    let reported = prove(&s, &guest, &id, "ran too").await;
    let late = prove(&s, &third, &id, "ran as well").await;
    act(&s, &format!("/api/v1/proofs/{reported}/report"), &host, "a stock photo").await;

    // After the end, while settlement waits for the report, another proof is rejected: its day-long window would
    // run past the grace time, so it closes with it.
    move_clock_to(&s, start + Duration::days(1));
    s.state.clock.advance_ms(2 * HOUR_MS);
    let deadline = end_of(start, 1) + Duration::hours(12);
    let (status, b) = act(&s, &format!("/api/v1/proofs/{late}/reject"), &admin, "another day's photo").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(at(&b["appeal_until"]), deadline);
    let (status, b) = act(&s, &format!("/api/v1/admin/moderation/{reported}/dismiss"), &admin, "fine").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    scheduler::step(&s.state).await.unwrap();
    let c = challenge(&s, &id, &third).await;
    assert_eq!(c["status"], "IN_PROGRESS", "the window holds settlement: {c}");
    assert_eq!(
        (at(&c["settlement_waiting"]["appeals_until"]), at(&c["settlement_waiting"]["until"])),
        (deadline, deadline)
    );

    // Past the grace time the window is closed too: settlement proceeds and the rejection stands.
    s.state.clock.advance_ms(10 * HOUR_MS + 1_000);
    let (status, b) = act(&s, &format!("/api/v1/proofs/{late}/appeal"), &third, "too late").await;
    assert_eq!((status, code(&b)), (StatusCode::CONFLICT, "APPEAL_WINDOW_CLOSED"), "{b}");
    scheduler::step(&s.state).await.unwrap();
    assert_eq!(challenge(&s, &id, &third).await["status"], "ENDED");
    let results = outcomes(&s, &id, &third).await;
    assert!(results.contains(&("third".to_owned(), json!("FAIL"))), "{results:?}");
    assert!(results.contains(&("guest".to_owned(), json!("SUCCESS"))), "{results:?}");
    assert!(decisions(&s, &admin, &id).await.iter().all(|d| !d["actor"].is_null()), "nothing for the system to decide");
    assert_ledger_ok(db).await;
}

async fn a_pull_after_the_end_shows_why_settlement_waits(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let db = &s.state.db;
    let (_, host) = funded_user(db, "host", 10_000).await;
    let (_, guest) = funded_user(db, "guest", 10_000).await;
    let (id, start) = running(&s, &host, &[&guest], 1, 100).await;
    let pid = prove(&s, &guest, &id, "ran").await;
    act(&s, &format!("/api/v1/proofs/{pid}/report"), &host, "a stock photo").await;
    let pull = |cursor: Option<String>| {
        let path = cursor.map_or("/api/v1/sync/pull".to_owned(), |c| format!("/api/v1/sync/pull?cursor={c}"));
        let (s, guest) = (&s, &guest);
        async move {
            let (status, body) = s.get(&path, Some(guest)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let before = pull(None).await;
    let mine = &before["challenges"][0]["challenge"];
    assert_eq!((mine["id"].as_str(), &mine["settlement_waiting"]), (Some(id.as_str()), &Value::Null));

    // The end passes; nothing about the challenge changes but time. The scheduler holds settlement back and says so
    // once: the next pull brings the challenge with the reason it waits.
    move_clock_to(&s, start + Duration::days(1));
    scheduler::step(&s.state).await.unwrap();
    let after = pull(before["cursor"].as_str().map(str::to_owned)).await;
    let changed = after["challenges"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{after}");
    let w = &changed[0]["challenge"]["settlement_waiting"];
    assert_eq!((w["reason"].as_str(), w["open_reports"].as_i64()), (Some("MODERATION"), Some(1)), "{after}");
    // Only once: later passes while it waits change nothing.
    scheduler::step(&s.state).await.unwrap();
    s.state.clock.advance_ms(HOUR_MS);
    scheduler::step(&s.state).await.unwrap();
    let again = pull(after["cursor"].as_str().map(str::to_owned)).await;
    assert_eq!(again["challenges"].as_array().unwrap().len(), 0, "{again}");
}
