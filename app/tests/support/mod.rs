//! Helpers for the app's end-to-end tests: an app engine in a temporary data folder signed in to a real test
//! server, challenges made over HTTP, and reads of the server's own view to check what really moved.
//!
//! Each test file uses its own part of these helpers.
#![allow(dead_code)]

pub mod proxy;

use nene_app::{Engine, TokenPolicy};
use nene_shared::UserId;
use nene_shared::challenges::ChallengeId;
use nene_tests::{PASSWORD, TestServer, challenge_body, credit_charge, funded_user};
use reqwest::StatusCode;
use serde_json::json;

/// An app install: its data folder and its engine.
pub struct App {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
}

impl App {
    /// A fresh install pointed at `server_url`.
    pub async fn install(server_url: &str) -> App {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::open(dir.path(), TokenPolicy::FileOnly).expect("engine opens");
        engine.set_server_url(Some(server_url)).await.expect("server url");
        App { dir, engine }
    }

    /// The same install started again (a new process): nothing in memory survives, only the data folder.
    pub fn restart(self) -> App {
        let App { dir, engine } = self;
        drop(engine);
        let engine = Engine::open(dir.path(), TokenPolicy::FileOnly).expect("engine reopens");
        App { dir, engine }
    }
}

/// A person with a password account and `points` of charged points, signed in on a fresh install.
pub async fn signed_in(s: &TestServer, server_url: &str, nickname: &str, points: i64) -> (App, UserId) {
    let email = format!("{nickname}@app.test");
    let session = s.signup(&email, nickname).await;
    let user: UserId = session.user_id.parse().expect("user id");
    if points > 0 {
        credit_charge(&s.state.db, user, points, &format!("seed-{nickname}")).await;
    }
    let app = App::install(server_url).await;
    let me = app.engine.sign_in(&email, PASSWORD).await.expect("sign in");
    assert_eq!(me.id, user);
    (app, user)
}

/// A three-day challenge made by a new funded host, starting `starts_in` days after the server's today. Answers its
/// id and first day.
pub async fn challenge(
    s: &TestServer,
    title: &str,
    starts_in: i64,
    stake: i64,
    capacity: i64,
    proof: &str,
) -> (ChallengeId, chrono::NaiveDate) {
    let (_, host) =
        funded_user(&s.state.db, &format!("host{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), stake * 2).await;
    let mut body = challenge_body(s, title, 3, stake, capacity);
    let start: chrono::NaiveDate = body["start_date"].as_str().expect("start").parse().expect("date");
    let start = start + chrono::Duration::days(starts_in - 1);
    body["start_date"] = json!(start.to_string());
    body["end_date"] = json!((start + chrono::Duration::days(2)).to_string());
    body["proof_type"] = json!(proof);
    let (status, ch) = s.post("/api/v1/challenges", Some(&host), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{ch}");
    (ch["id"].as_str().expect("id").parse().expect("challenge id"), start)
}
