//! The server's cap on connections served at once: a burst larger than the cap is answered in full (the rest wait
//! in the accept queue), and idle kept-alive connections cannot hold every slot, because past half the cap a
//! connection answers once and closes.

use std::time::Duration;

use nene_tests::{Backend, TestServer};
use reqwest::StatusCode;

/// Generous bound on a burst that is answered in milliseconds; only a connection stuck behind held slots hits it.
const BOUND: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_cap_is_answered_and_idle_connections_cannot_hold_the_slots() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.max_connections = 4).await;

    // One client, 12 requests at once: 12 connections, 4 served at a time.
    let first = reqwest::Client::new();
    let burst = futures::future::join_all((0..12).map(|_| first.get(s.url("/health")).send()));
    let answers = tokio::time::timeout(BOUND, burst).await.expect("the burst is answered");
    let mut closed = 0;
    for answer in answers {
        let answer = answer.expect("answered");
        assert_eq!(answer.status(), StatusCode::OK);
        if answer.headers().get("connection").is_some_and(|v| v == "close") {
            closed += 1;
        }
    }
    assert!(closed >= 1, "past half the cap, connections are not kept alive");

    // The first client keeps what it may alive, idle. Another client is still served, again and again.
    let second = reqwest::Client::new();
    for _ in 0..6 {
        let answer = tokio::time::timeout(BOUND, second.get(s.url("/health")).send())
            .await
            .expect("a slot is free for another client")
            .expect("answered");
        assert_eq!(answer.status(), StatusCode::OK);
    }
    drop(first);
}
