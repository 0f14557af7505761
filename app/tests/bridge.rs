//! The web UI's bridge (`api_call`) against the real server: sign-in answers carry no tokens, the person's own
//! challenges and wallet come from the cache (also with the server gone), a join queued offline answers 202 with the
//! pending action and becomes the server's answer once it is back, a refused join answers the server's code, and
//! other calls pass through with the server's own status and body.

mod support;

use std::sync::Arc;

use nene_app::bridge::{Bridge, CallMethod, Queued, WireAnswer, WireCall};
use nene_shared::auth::TokenPair;
use nene_shared::challenges::Challenge;
use nene_shared::page::Page;
use nene_shared::{ErrorBody, ErrorCode};
use nene_tests::{Backend, PASSWORD, TestServer, on_both_databases, test_config, wallet_of};
use serde::de::DeserializeOwned;
use serde_json::json;
use support::{App, challenge};

on_both_databases!(the_ui_bridge_answers_from_the_cache_and_queues_actions);

fn call(method: CallMethod, path: &str) -> WireCall {
    WireCall {
        method,
        path: path.to_owned(),
        query: Vec::new(),
        body: None,
        idempotency_key: None,
        text: None,
        photo: None,
        photo_name: None,
    }
}

fn read<T: DeserializeOwned>(answer: &WireAnswer) -> T {
    serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{e}: {} {}", answer.status, String::from_utf8_lossy(&answer.body)))
}

async fn the_ui_bridge_answers_from_the_cache_and_queues_actions(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let signed_up = s.signup("bridge@app.test", "bridge").await;
    let user: nene_shared::UserId = signed_up.user_id.parse().expect("user id");
    nene_tests::credit_charge(&s.state.db, user, 10_000, "seed-bridge").await;
    let (mine, _) = challenge(&s, "Walk", 1, 2_000, 5, "TEXT").await;
    let (later, _) = challenge(&s, "Swim", 2, 3_000, 5, "TEXT").await;
    let (full, _) = challenge(&s, "Full", 1, 1_000, 2, "TEXT").await;
    let (_, quick) = nene_tests::funded_user(&s.state.db, "quick", 5_000).await;
    s.post(&format!("/api/v1/challenges/{full}/join"), Some(&quick), &json!({})).await;

    let app = App::install(&s.base).await;
    let bridge = Bridge::new(app.engine.clone());

    // Signing in answers the person and no tokens.
    let mut login = call(CallMethod::Post, "/auth/login");
    login.body = Some(json!({"email": "bridge@app.test", "password": PASSWORD}));
    let answer = bridge.handle(login).await;
    assert_eq!(answer.status, 200);
    let pair: TokenPair = read(&answer);
    assert_eq!(pair.user.id, user);
    assert!(pair.access_token.is_empty() && pair.refresh_token.is_none(), "the page never sees a token");

    // A join answered online is the server's answer: the challenge, now joined.
    let answer = bridge.handle(call(CallMethod::Post, &format!("/challenges/{mine}/join"))).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert!(read::<Challenge>(&answer).joined);
    // A refused one answers the server's code and message.
    let answer = bridge.handle(call(CallMethod::Post, &format!("/challenges/{full}/join"))).await;
    assert_eq!(answer.status, 409);
    assert_eq!(read::<ErrorBody>(&answer).code, ErrorCode::ChallengeFull);
    // Browsing passes through to the server (and the app remembers what it saw).
    let answer = bridge.handle(call(CallMethod::Get, &format!("/challenges/{later}"))).await;
    assert_eq!((answer.status, read::<Challenge>(&answer).title), (200, "Swim".to_owned()));
    let answer = bridge.handle(call(CallMethod::Get, "/challenges/not-an-id/participants")).await;
    assert_eq!(answer.status, 404, "the server's own answer");

    // The server goes away.
    let db = Arc::clone(&s.db);
    let addr = s.base.trim_start_matches("http://").parse().expect("address");
    s.stop().await;

    let mut mine_query = call(CallMethod::Get, "/challenges");
    mine_query.query = vec![("mine".into(), "true".into())];
    let answer = bridge.handle(mine_query.clone()).await;
    assert_eq!(answer.status, 200);
    let page: Page<Challenge> = read(&answer);
    assert_eq!(page.items.iter().map(|c| c.id).collect::<Vec<_>>(), vec![mine]);
    let answer = bridge.handle(call(CallMethod::Get, "/wallet")).await;
    assert_eq!((answer.status, read::<serde_json::Value>(&answer)["balance"].as_i64()), (200, Some(8_000)));
    let answer = bridge.handle(call(CallMethod::Get, "/challenges")).await;
    assert_eq!((answer.status, read::<ErrorBody>(&answer).code), (503, ErrorCode::Unavailable));

    // Joining offline: saved, answered 202 with the pending action and the challenge as browsed.
    let answer = bridge.handle(call(CallMethod::Post, &format!("/challenges/{later}/join"))).await;
    assert_eq!(answer.status, 202);
    let queued: Queued = read(&answer);
    assert_eq!(queued.challenge.map(|c| c.title), Some("Swim".to_owned()));
    assert_eq!(app.engine.pending_intents().expect("pending")[0].id, queued.pending.id);

    // Back on the same address: the next call sends it; the stake moves once.
    let mut config = test_config(&db);
    config.run_workers = false;
    config.addr = addr;
    let s = TestServer::start_on(db, config).await;
    app.engine.sync().await.expect("sync");
    assert!(app.engine.pending_intents().expect("pending").is_empty());
    assert_eq!(wallet_of(&s.state.db, user).await.0, 5_000);
    let page: Page<Challenge> = read(&bridge.handle(mine_query).await);
    assert_eq!(page.items.len(), 2);

    // Signing out forgets the person here.
    assert_eq!(bridge.handle(call(CallMethod::Post, "/auth/logout")).await.status, 204);
    let answer = bridge.handle(call(CallMethod::Post, "/auth/refresh")).await;
    assert_eq!(answer.status, 401);
    assert!(app.engine.cache().wallet().expect("wallet").is_none());
}
