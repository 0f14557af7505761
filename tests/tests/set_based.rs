//! Transitions that touch every participant of a challenge (its start, its cancellation with every stake given
//! back) run a fixed number of SQL statements however many take part, on both databases: counted from sqlx's own
//! log of the statements it runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use futures::future::join_all;
use nene_server::challenges::scheduler;
use nene_tests::{
    Backend, TestServer, assert_ledger_ok, challenge_body, funded_user, move_clock_to, on_both_databases, wallet_of,
};
use reqwest::StatusCode;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

on_both_databases!(starting_and_cancelling_run_the_same_statements_for_ten_or_a_hundred_people);

/// Counts the statements sqlx reports running, process-wide. The SQLite checkpoint's `PRAGMA`, which runs on a
/// timer of its own, is left out.
struct Statements(Arc<AtomicU64>);

struct Summary(bool);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" && value.trim_start().to_ascii_uppercase().starts_with("PRAGMA") {
            self.0 = true;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.record_str(field, format!("{value:?}").trim_matches('"'));
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            let mut pragma = Summary(false);
            event.record(&mut pragma);
            if !pragma.0 {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn statements() -> Arc<AtomicU64> {
    static COUNT: OnceLock<Arc<AtomicU64>> = OnceLock::new();
    COUNT
        .get_or_init(|| {
            let count = Arc::new(AtomicU64::new(0));
            let filter = tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::TRACE);
            let subscriber = tracing_subscriber::registry().with(Statements(Arc::clone(&count)).with_filter(filter));
            tracing::subscriber::set_global_default(subscriber).expect("no other subscriber in this test binary");
            count
        })
        .clone()
}

/// The counter is process-wide: under a plain `cargo test` the tests of this binary share a process, so they
/// measure one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Two challenges starting on `start`, with `people` participants each besides their host: one that reaches its
/// minimum and one that does not. Answers their ids and their host's token.
async fn two_challenges(s: &TestServer, start: chrono::NaiveDate, people: usize) -> ([String; 2], String) {
    let db = &s.state.db;
    let (_, host) = funded_user(db, &format!("host{people}"), 10_000).await;
    let dated = |title: &str, min: usize| {
        let mut body = challenge_body(s, title, 3, 1_000, 1_000);
        body["start_date"] = json!(start.to_string());
        body["end_date"] = json!((start + chrono::Duration::days(2)).to_string());
        body["min_participants"] = json!(min);
        body
    };
    let mut ids = Vec::new();
    for body in [dated("Goes ahead", 2), dated("Needs a crowd", people + 2)] {
        let (status, ch) = s.post("/api/v1/challenges", Some(&host), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{ch}");
        ids.push(ch["id"].as_str().expect("id").to_owned());
    }
    let mut tokens = Vec::new();
    for i in 0..people {
        tokens.push(funded_user(db, &format!("p{people}-{i}"), 2_000).await);
    }
    for chunk in tokens.chunks(20) {
        let joins = chunk.iter().flat_map(|(_, token)| {
            ids.iter().map(move |id| async move {
                s.post(&format!("/api/v1/challenges/{id}/join"), Some(token), &json!({})).await.0
            })
        });
        assert!(join_all(joins).await.iter().all(|status| *status == StatusCode::OK));
    }
    for (user, _) in &tokens {
        assert_eq!(wallet_of(db, *user).await, (0, 0));
    }
    ([ids[0].clone(), ids[1].clone()], host)
}

/// Statements run by the scheduler step on `day`, which starts one challenge and cancels the other.
async fn step_on(s: &TestServer, day: chrono::NaiveDate, (ids, host): &([String; 2], String)) -> u64 {
    move_clock_to(s, day);
    let count = statements();
    let before = count.load(Ordering::Relaxed);
    assert_eq!(scheduler::step(&s.state).await.expect("scheduler"), 2);
    let ran = count.load(Ordering::Relaxed) - before;
    let (_, started) = s.get(&format!("/api/v1/challenges/{}", ids[0]), Some(host)).await;
    let (_, cancelled) = s.get(&format!("/api/v1/challenges/{}", ids[1]), Some(host)).await;
    assert_eq!((started["status"].as_str(), cancelled["status"].as_str()), (Some("IN_PROGRESS"), Some("CANCELLED")));
    ran
}

async fn starting_and_cancelling_run_the_same_statements_for_ten_or_a_hundred_people(backend: Backend) {
    let _measuring = ONE_AT_A_TIME.lock().await;
    statements();
    let s = TestServer::start_with(backend, |c| c.run_workers = false).await;
    let today = s.state.clock.now().with_timezone(&chrono_tz::Asia::Seoul).date_naive();
    let (first, second) = (today + chrono::Duration::days(1), today + chrono::Duration::days(2));
    let few = two_challenges(&s, first, 10).await;
    let many = two_challenges(&s, second, 100).await;

    let for_few = step_on(&s, first, &few).await;
    let for_many = step_on(&s, second, &many).await;
    assert!(for_few > 0, "sqlx's statement log is seen");
    assert_eq!(for_many, for_few, "ten times the people, the same statements");

    // Every cancelled stake is back (the running one is still held), and the ledger agrees.
    assert_eq!(s.count("ledger_transfers WHERE kind = 'STAKE_REFUND'").await, 10 + 1 + 100 + 1);
    assert_eq!(s.count("notifications WHERE kind = 'CHALLENGE_CANCELLED'").await, 10 + 1 + 100 + 1);
    assert_eq!(s.count("notifications WHERE kind = 'CHALLENGE_STARTING'").await, 10 + 1 + 100 + 1);
    assert_ledger_ok(&s.state.db).await;
}
