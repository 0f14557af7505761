//! The app's sync engine against the real server, on SQLite and on PostgreSQL: actions queued offline are applied
//! exactly once when the server is back, a push whose answer is lost changes nothing twice when it is sent again,
//! a push cut off while the server is still applying it is confirmed by the next sync, a rejected join keeps its reason and never moves its stake, the pull cursor resumes without gaps or duplicates,
//! the cache answers with the server gone, and an expired access token is renewed by rotating the refresh token.

mod support;

use std::sync::Arc;

use nene_app::{AppError, IntentState};
use nene_server::challenges::scheduler;
use nene_server::ledger::{self, AccountId};
use nene_shared::ErrorCode;
use nene_shared::auth::TokenPair;
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::notifications::NotificationKind;
use nene_shared::sync::IntentKind;
use nene_tests::{
    Backend, TEST_JWT_SECRET, TestServer, jpeg, mint_token, move_clock_to, on_both_databases, test_config, wallet_of,
};
use reqwest::StatusCode;
use serde_json::json;
use support::proxy::CutProxy;
use support::{App, challenge, signed_in};

on_both_databases!(
    intents_queued_offline_are_applied_exactly_once,
    a_push_whose_answer_is_lost_changes_nothing_twice,
    a_push_cut_off_while_the_server_applies_it_is_confirmed_by_the_next_sync,
    a_rejected_join_is_reported_and_its_stake_never_moves,
    the_pull_cursor_resumes_without_gaps_or_duplicates,
    the_cache_answers_reads_with_the_server_stopped,
    an_expired_access_token_is_renewed_by_rotating_the_refresh_token,
);

const PUSH: &str = "POST /api/v1/sync/push";
const PHOTOS: &str = "POST /api/v1/sync/photos";

async fn server(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |c| c.run_workers = false).await
}

async fn intents_queued_offline_are_applied_exactly_once(backend: Backend) {
    let s = server(backend).await;
    let (app, user) = signed_in(&s, &s.base, "runner", 20_000).await;
    // B starts tomorrow and the person is in it; A starts the day after and is still recruiting then.
    let (b, tomorrow) = challenge(&s, "Run daily", 1, 3_000, 5, "BOTH").await;
    let (a, _) = challenge(&s, "Read daily", 2, 5_000, 5, "TEXT").await;
    app.engine.join(b).expect("queue join");
    let first = app.engine.sync().await.expect("sync");
    assert_eq!(first.push.applied, 1);
    move_clock_to(&s, tomorrow);
    scheduler::step(&s.state).await.expect("scheduler");
    app.engine.sync().await.expect("sync");
    assert_eq!(wallet_of(&s.state.db, user).await.0, 17_000);

    // The server goes away.
    let db = Arc::clone(&s.db);
    let addr = s.base.trim_start_matches("http://").parse().expect("address");
    let clock_offset = s.state.clock.offset_ms();
    s.stop().await;

    let join = app.engine.join(a).expect("queue join offline");
    let photo = jpeg(320, 240);
    let proof = app.engine.proof(b, Some("ran 5 km".into()), Some(photo.clone())).expect("queue proof offline");
    let offline = app.engine.sync().await;
    assert!(matches!(offline, Err(AppError::Offline(_))), "{offline:?}");
    let pending = app.engine.pending_intents().expect("pending");
    assert_eq!(
        pending.iter().map(|i| (i.kind, i.id.clone())).collect::<Vec<_>>(),
        vec![(IntentKind::Join, join.id.clone()), (IntentKind::Proof, proof.id.clone())]
    );
    assert!(pending.iter().all(|i| i.last_error.is_some()), "the reason it is still waiting is kept");
    // The UI can warn that the day may end before the proof is sent.
    let at_risk = app.engine.proofs_near_deadline(chrono::Duration::hours(25)).expect("deadline");
    assert_eq!(at_risk.iter().map(|i| i.id.clone()).collect::<Vec<_>>(), vec![proof.id.clone()]);
    assert!(app.engine.proofs_near_deadline(chrono::Duration::zero()).expect("deadline").is_empty());

    // The app is closed and opened again while offline: the queue is on disk.
    let app = app.restart();
    assert_eq!(app.engine.pending_intents().expect("pending").len(), 2);

    // The server comes back on the same address, with the same database and clock. (Pointing the app at another
    // address would sign the person out and drop what they queued: see `a_new_server_address_signs_out_first`.)
    let mut config = test_config(&db);
    config.run_workers = false;
    config.addr = addr;
    let s = TestServer::start_on(db, config).await;
    s.state.clock.advance_ms(clock_offset);
    let back = app.engine.sync().await.expect("sync when back");
    assert_eq!((back.push.photos_uploaded, back.push.applied, back.push.rejected), (1, 2, 0));
    assert!(app.engine.pending_intents().expect("pending").is_empty());
    assert_eq!(app.engine.cache().intent_state(&join.id).expect("state"), Some(IntentState::Applied));
    assert_eq!(app.engine.cache().intent_state(&proof.id).expect("state"), Some(IntentState::Applied));

    assert_eq!(wallet_of(&s.state.db, user).await.0, 12_000, "two stakes, once each");
    assert_eq!(s.count("proofs").await, 1);
    // Syncing again sends nothing and changes nothing.
    let again = app.engine.sync().await.expect("sync again");
    assert_eq!(again.push, Default::default());
    assert_eq!(wallet_of(&s.state.db, user).await.0, 12_000);
    assert_eq!(s.count("proofs").await, 1);
    assert_eq!(s.count("participations").await, 4);

    // The cache now shows what the server has.
    let wallet = app.engine.cache().wallet().expect("wallet").expect("synced");
    assert_eq!(wallet.wallet.balance.get(), 12_000);
    assert_eq!(wallet.pending.get(), 0);
    let joined: Vec<_> =
        app.engine.cache().challenges().expect("list").iter().map(|c| c.snapshot.challenge.id).collect();
    assert_eq!(joined, vec![b, a]);
    let (_, feed) = s.get(&format!("/api/v1/challenges/{b}/proofs"), Some(&mint_token(user))).await;
    assert_eq!(feed["items"][0]["text"], "ran 5 km");
    assert!(feed["items"][0]["photo_url"].is_string());
}

async fn a_push_whose_answer_is_lost_changes_nothing_twice(backend: Backend) {
    let s = server(backend).await;
    let proxy = CutProxy::start(&s.base).await;
    let (app, user) = signed_in(&s, &proxy.url(), "steady", 20_000).await;
    let (b, tomorrow) = challenge(&s, "Stretch", 1, 3_000, 5, "BOTH").await;
    let (a, _) = challenge(&s, "Journal", 2, 5_000, 5, "TEXT").await;
    let (status, body) = s.post(&format!("/api/v1/challenges/{b}/join"), Some(&mint_token(user)), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    move_clock_to(&s, tomorrow);
    scheduler::step(&s.state).await.expect("scheduler");
    assert_eq!(wallet_of(&s.state.db, user).await.0, 17_000);

    let join = app.engine.join(a).expect("queue join");
    let proof = app.engine.proof(b, Some("stretched".into()), Some(jpeg(200, 200))).expect("queue proof");
    // The server applies the push, then the connection drops before its answer reaches the app.
    proxy.cut_next_response_to(PUSH);
    let cut = app.engine.sync().await;
    assert!(matches!(cut, Err(AppError::Offline(_))), "{cut:?}");
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(wallet_of(&s.state.db, user).await.0, 12_000, "the server did apply the join");
    assert_eq!(s.count("proofs").await, 1, "and the proof");
    let pending = app.engine.pending_intents().expect("pending");
    assert_eq!(pending.len(), 2, "the app does not know yet");
    assert!(pending.iter().all(|i| i.attempts == 1));

    // Sent again: answered as applied, applied no second time, and the acknowledged photo is not uploaded again.
    let retry = app.engine.sync().await.expect("retry");
    assert_eq!((retry.push.applied, retry.push.photos_uploaded), (2, 0));
    assert_eq!(proxy.requests_to(PHOTOS), 1);
    assert_eq!(proxy.requests_to(PUSH), 2);
    assert_eq!(wallet_of(&s.state.db, user).await.0, 12_000);
    assert_eq!(s.count("proofs").await, 1);
    assert_eq!(s.count("participations").await, 4);
    for id in [&join.id, &proof.id] {
        let intent = app.engine.cache().intent(id).expect("intent").expect("kept");
        assert_eq!((intent.state, intent.attempts), (IntentState::Applied, 2));
    }
    nene_tests::assert_ledger_ok(&s.state.db).await;
}

async fn a_push_cut_off_while_the_server_applies_it_is_confirmed_by_the_next_sync(backend: Backend) {
    let s = server(backend).await;
    let proxy = CutProxy::start(&s.base).await;
    let (app, user) = signed_in(&s, &proxy.url(), "patient", 10_000).await;
    let (a, _) = challenge(&s, "Journal", 2, 5_000, 5, "TEXT").await;
    let join = app.engine.join(a).expect("queue join");

    // The join reaches the server's writer; the network drops before it commits, and it commits after.
    let hold = s.state.joins.hold().await;
    let engine = app.engine.clone();
    let syncing = tokio::spawn(async move { engine.sync().await });
    wait_until("the join is with the writer", || s.state.joins.in_flight() == 1).await;
    proxy.cut_open_connections();
    let cut = syncing.await.expect("sync task");
    assert!(matches!(cut, Err(AppError::Offline(_))), "{cut:?}");
    drop(hold);
    wait_until("the join is committed", || s.state.joins.in_flight() == 0).await;
    assert_eq!(wallet_of(&s.state.db, user).await.0, 5_000);
    assert_eq!(app.engine.cache().intent_state(&join.id).expect("state"), Some(IntentState::Pending));

    // The next sync is told it was applied: the app stops waiting, and nothing is applied twice.
    let next = app.engine.sync().await.expect("next sync");
    assert_eq!((next.push.applied, next.push.rejected, next.push.retry), (1, 0, 0));
    assert_eq!(app.engine.cache().intent_state(&join.id).expect("state"), Some(IntentState::Applied));
    assert!(app.engine.pending_intents().expect("pending").is_empty());
    assert_eq!(wallet_of(&s.state.db, user).await.0, 5_000, "one stake");
    assert_eq!(s.count("participations").await, 2);
    nene_tests::assert_ledger_ok(&s.state.db).await;
}

/// Waits until `check` holds, for at most 20 seconds.
async fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

async fn a_rejected_join_is_reported_and_its_stake_never_moves(backend: Backend) {
    let s = server(backend).await;
    let proxy = CutProxy::start(&s.base).await;
    let (app, user) = signed_in(&s, &proxy.url(), "late", 5_000).await;
    let (tiny, _) = challenge(&s, "Tiny", 1, 5_000, 2, "TEXT").await;
    // While the app was offline, someone else took the last seat.
    let (_, quick) = nene_tests::funded_user(&s.state.db, "quick", 5_000).await;
    let (status, body) = s.post(&format!("/api/v1/challenges/{tiny}/join"), Some(&quick), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let join = app.engine.join(tiny).expect("queue join");
    let done = app.engine.sync().await.expect("sync");
    assert_eq!((done.push.applied, done.push.rejected), (0, 1));
    assert!(app.engine.pending_intents().expect("pending").is_empty());
    let rejected = app.engine.rejected_intents().expect("rejected");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].id, join.id);
    assert_eq!(rejected[0].code, Some(ErrorCode::ChallengeFull));
    assert!(rejected[0].message.as_deref().is_some_and(|m| !m.is_empty()), "a reason for the UI");
    assert_eq!(wallet_of(&s.state.db, user).await, (5_000, 5_000), "the stake never moved");
    assert_eq!(app.engine.cache().wallet().expect("wallet").expect("synced").wallet.balance.get(), 5_000);

    // Never sent again.
    app.engine.sync().await.expect("sync again");
    assert_eq!(proxy.requests_to(PUSH), 1);
    assert_eq!(app.engine.cache().intent(&join.id).expect("intent").expect("kept").attempts, 1);
    assert_eq!(wallet_of(&s.state.db, user).await, (5_000, 5_000));
    // Once read, it can be cleared.
    assert!(app.engine.dismiss_rejected(&join.id).expect("dismiss"));
    assert!(app.engine.rejected_intents().expect("rejected").is_empty());
}

async fn the_pull_cursor_resumes_without_gaps_or_duplicates(backend: Backend) {
    let s = server(backend).await;
    let proxy = CutProxy::start(&s.base).await;
    let (app, user) = signed_in(&s, &proxy.url(), "saver", 1_000).await;
    // 449 more entries: 450 in all, three pages of the server's 200.
    gifts(&s, user, 0..449).await;

    // The second page's answer is lost: the first page and its cursor are kept, nothing else.
    proxy.cut_next_response_to("GET /api/v1/sync/pull?cursor=");
    let cut = app.engine.sync().await;
    assert!(matches!(cut, Err(AppError::Offline(_))), "{cut:?}");
    assert_eq!(app.engine.cache().wallet_entry_span().expect("span"), (200, Some(200)));

    let resumed = app.engine.sync().await.expect("resume");
    assert_eq!(resumed.pull.pages, 2);
    assert_eq!(resumed.pull.wallet_entries_received, 250, "nothing received twice");
    assert_eq!(resumed.pull.new_wallet_entries, 250);
    let seqs: Vec<i64> =
        app.engine.cache().wallet_entries(None, 1_000).expect("entries").iter().rev().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=450).collect::<Vec<_>>(), "every entry once, in order");
    let wallet = app.engine.cache().wallet().expect("wallet").expect("synced");
    assert_eq!(wallet.wallet.balance.get(), 1_000 + 4_490);

    // Nothing new: nothing again.
    let idle = app.engine.sync().await.expect("idle");
    assert_eq!((idle.pull.pages, idle.pull.wallet_entries_received), (1, 0));

    // New rows arrive exactly once: three gifts, a join's stake entry, its notification and the challenge.
    gifts(&s, user, 449..452).await;
    let (c, _) = challenge(&s, "Synced", 1, 1_000, 5, "TEXT").await;
    let (status, body) = s.post(&format!("/api/v1/challenges/{c}/join"), Some(&mint_token(user)), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let next = app.engine.sync().await.expect("sync");
    assert_eq!((next.pull.wallet_entries_received, next.pull.new_notifications), (4, 1));
    assert_eq!(app.engine.cache().wallet_entry_span().expect("span"), (454, Some(454)));
    let inbox = app.engine.cache().notifications(None, 10).expect("inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].notification.kind, NotificationKind::JoinConfirmed);
    assert_eq!(app.engine.cache().challenges().expect("list")[0].snapshot.challenge.id, c);
    // Each new inbox item is announced once.
    assert_eq!(app.engine.take_new_notifications().expect("new").len(), 1);
    assert!(app.engine.take_new_notifications().expect("new").is_empty());

    // Leaving shows the challenge once more as left, then it drops out of the list.
    let (status, body) = s.post(&format!("/api/v1/challenges/{c}/leave"), Some(&mint_token(user)), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.engine.sync().await.expect("sync");
    assert!(app.engine.cache().challenges().expect("list").is_empty());
    let left = app.engine.cache().challenge(c).expect("detail").expect("still cached");
    assert!(!left.snapshot.challenge.joined);
}

async fn gifts(s: &TestServer, user: nene_shared::UserId, range: std::ops::Range<i32>) {
    let mut tx = s.state.db.begin_write().await.expect("write");
    for i in range {
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
        .expect("gift");
    }
    tx.commit().await.expect("commit");
}

async fn the_cache_answers_reads_with_the_server_stopped(backend: Backend) {
    let s = server(backend).await;
    let (app, user) = signed_in(&s, &s.base, "reader", 10_000).await;
    let (c, _) = challenge(&s, "Read 20 pages", 1, 2_000, 5, "TEXT").await;
    app.engine.join(c).expect("queue join");
    app.engine.sync().await.expect("sync");
    s.stop().await;

    // The app starts again with no server to talk to.
    let app = app.restart();
    let me = app.engine.signed_in().await.expect("session").expect("still signed in");
    assert_eq!(me.id, user);
    let list = app.engine.cache().challenges().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].snapshot.challenge.title, "Read 20 pages");
    let detail = app.engine.cache().challenge(c).expect("detail").expect("cached");
    assert_eq!(detail.snapshot.progress.participant_count, 2);
    let wallet = app.engine.cache().wallet().expect("wallet").expect("cached");
    assert_eq!(wallet.wallet.balance.get(), 8_000);
    let entries = app.engine.cache().wallet_entries(None, 10).expect("entries");
    assert_eq!(entries.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![TransferKind::Stake, TransferKind::Charge]);
    assert_eq!(app.engine.cache().notifications(None, 10).expect("inbox").len(), 1);
    assert_eq!(app.engine.cache().unread_count().expect("unread"), 1);

    // A leave queued offline shows as pending with the stake it will bring back.
    app.engine.leave(c).expect("queue leave");
    let wallet = app.engine.cache().wallet().expect("wallet").expect("cached");
    assert_eq!((wallet.wallet.balance.get(), wallet.pending.get()), (8_000, 2_000));
    let failed = app.engine.sync().await;
    assert!(matches!(failed, Err(AppError::Offline(_))), "{failed:?}");
    assert!(app.engine.next_sync_delay() < std::time::Duration::from_secs(30), "retried sooner, with back-off");
    assert_eq!(app.engine.cache().challenges().expect("list after a failed sync").len(), 1);
}

async fn an_expired_access_token_is_renewed_by_rotating_the_refresh_token(backend: Backend) {
    let s = server(backend).await;
    let (status, body) = s
        .post(
            "/api/v1/auth/signup",
            None,
            &json!({"email": "rotor@app.test", "password": nene_tests::PASSWORD, "nickname": "rotor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut pair: TokenPair = serde_json::from_value(body).expect("token pair");
    let first_refresh = pair.refresh_token.clone().expect("the app gets its refresh token in the body");
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": pair.user.id, "role": "USER", "jti": uuid::Uuid::new_v4(), "iat": now - 3600,
        "exp": now - 1800, "iss": "nene-challenge"});
    pair.access_token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .expect("token");

    let app = App::install(&s.base).await;
    app.engine.adopt_session(pair).await.expect("adopt");
    app.engine.sync().await.expect("sync renews the expired access token");
    let second_refresh = stored_refresh_token(&app);
    assert_ne!(second_refresh, first_refresh, "rotated");

    // A restarted app has no access token in memory: it renews one from the stored refresh token.
    let app = app.restart();
    app.engine.sync().await.expect("sync after restart");
    let third_refresh = stored_refresh_token(&app);
    assert_ne!(third_refresh, second_refresh);

    // Someone replays the first (spent) refresh token, later than two tabs racing could: the server revokes the
    // whole sign-in, and the app learns it must sign in again; what it cached stays.
    nene_tests::age_spent_refresh_tokens(&s.state.db, 3_600_000).await;
    let (status, _) = s.post("/api/v1/auth/refresh", None, &json!({"refresh_token": first_refresh})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let app = app.restart();
    let ended = app.engine.sync().await;
    assert!(matches!(ended, Err(AppError::NotSignedIn)), "{ended:?}");
    assert!(app.engine.signed_in().await.expect("session").is_none());
    assert!(app.engine.cache().wallet().expect("wallet").is_some());
}

fn stored_refresh_token(app: &App) -> String {
    nene_app::tokens::TokenStore::encrypted_file(app.dir.path(), app.engine.device_id())
        .expect("store")
        .load()
        .expect("load")
        .expect("a refresh token is stored")
}
