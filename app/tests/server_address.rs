//! Choosing the server's address, against real servers on SQLite and on PostgreSQL: an address that is not https
//! (nor plain http to this computer) is refused and changes nothing; the same server written another way keeps the
//! session; another server signs the person out first, on the server the session belonged to, and forgets what the
//! cache held of them, so one server's data is never shown as another's.

mod support;

use nene_app::AppError;
use nene_tests::{Backend, TestServer, on_both_databases};
use support::{App, challenge, signed_in};

on_both_databases!(a_new_server_address_signs_out_first);

fn stored_refresh_token(app: &App) -> Option<String> {
    nene_app::tokens::TokenStore::encrypted_file(app.dir.path(), app.engine.device_id())
        .expect("store")
        .load()
        .expect("load")
}

async fn a_new_server_address_signs_out_first(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let (app, _) = signed_in(&s, &s.base, "mover", 20_000).await;
    let (walk, _) = challenge(&s, "Walk", 1, 2_000, 5, "TEXT").await;
    let (swim, _) = challenge(&s, "Swim", 2, 3_000, 5, "TEXT").await;
    app.engine.join(walk).expect("queue join");
    app.engine.sync().await.expect("sync");
    app.engine.join(swim).expect("queue another join, not sent yet");
    assert!(app.engine.cache().wallet().expect("wallet").is_some());
    assert_eq!(app.engine.cache().challenges().expect("list").len(), 1);
    assert!(stored_refresh_token(&app).is_some());
    // The app's sign-in, besides the one the helper made over HTTP to create the account.
    let live = || s.count("refresh_tokens WHERE revoked_at IS NULL AND used_at IS NULL");
    let sessions = live().await;

    // Plain http to another machine is refused with a reason, and nothing changes.
    for refused in ["http://example.com", "http://192.168.0.10:8080"] {
        match app.engine.set_server_url(Some(refused)).await {
            Err(AppError::Invalid(message)) => assert!(message.contains("use an https:// address"), "{message}"),
            other => panic!("{refused}: {other:?}"),
        }
    }
    assert_eq!(app.engine.server_url().expect("url"), s.base);
    assert!(app.engine.signed_in().await.expect("session").is_some());
    assert_eq!(app.engine.pending_intents().expect("pending").len(), 1);

    // The same server written another way is no change.
    app.engine.set_server_url(Some(&format!("{}/api/v1/", s.base))).await.expect("same server");
    assert!(app.engine.signed_in().await.expect("session").is_some());
    assert!(stored_refresh_token(&app).is_some());

    // Another server (plain http is fine on this computer): signed out first, on the server the session was on.
    let other = TestServer::start_with(backend, |c| c.run_workers = false).await;
    app.engine.set_server_url(Some(&other.base)).await.expect("another server on loopback");
    assert_eq!(app.engine.server_url().expect("url"), other.base);
    assert!(app.engine.signed_in().await.expect("session").is_none());
    assert_eq!(stored_refresh_token(&app), None, "the token store is empty");
    assert_eq!(live().await, sessions - 1, "the previous server ended the app's session too");
    // Nothing of the previous server is shown, and nothing queued for it is sent to this one.
    assert!(app.engine.cache().wallet().expect("wallet").is_none());
    assert!(app.engine.cache().challenges().expect("list").is_empty());
    assert!(app.engine.cache().me().expect("me").is_none());
    assert!(app.engine.pending_intents().expect("pending").is_empty());
    assert_eq!(app.engine.cache().cursor().expect("cursor"), None);
    // Still so after a restart.
    let app = app.restart();
    assert!(app.engine.signed_in().await.expect("session").is_none());
    assert!(matches!(app.engine.sync().await, Err(AppError::NotSignedIn)));

    // https anywhere is accepted (signed out already, so nothing needs the network).
    app.engine.set_server_url(Some("https://nene.example")).await.expect("https");
    assert_eq!(app.engine.server_url().expect("url"), "https://nene.example");
}
