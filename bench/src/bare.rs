//! The bare database doing a scenario's own writes without the server: the same SQL (the server's own store and
//! domain functions), one transaction per operation as a server without group commit or set-based writes would
//! run it, from one client in a loop and from many at once, each on a fresh database. No HTTP, no batching, no
//! sending to Toss or FCM. A scenario's ratio is its own rate over the better of the two.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use nene_server::challenges::settle::{self, Method};
use nene_server::ledger::{self, AccountId};
use nene_server::store::{self, Db};
use nene_shared::ledger::TransferKind;
use nene_shared::{Points, UserId};
use nene_tests::{Backend, TestDatabase};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::scenarios::{bare_challenge, queue_notifications, settlement_setup, settlement_target};
use crate::setup;

/// Operations per second from one client and from many.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    pub one: f64,
    pub many: f64,
}

/// Runs `op` on every item from `clients` workers at once, each taking the next item when done; items per second.
async fn drive<T, F, Fut>(db: &Db, items: Vec<T>, clients: usize, op: F) -> f64
where
    T: Send + 'static,
    F: Fn(Db, T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let n = items.len();
    let queue = Arc::new(Mutex::new(items));
    let start = Instant::now();
    let workers: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let (db, queue, op) = (db.clone(), Arc::clone(&queue), op.clone());
            tokio::spawn(async move {
                loop {
                    let Some(item) = queue.lock().await.pop() else { break };
                    op(db.clone(), item).await;
                }
            })
        })
        .collect();
    futures::future::join_all(workers).await;
    n as f64 / start.elapsed().as_secs_f64()
}

async fn fresh(backend: Backend) -> (TestDatabase, Db) {
    let guard = TestDatabase::create(backend).await;
    let db = Db::connect(&guard.config, 64).await.expect("db");
    (guard, db)
}

/// The join's own transaction (seat, participation, stake, confirmation) for each attempt, into a challenge with
/// `seats` seats; `people` distinct people, every `double`-th of them trying twice (a refused join rolls back).
pub async fn joins(backend: Backend, people: usize, seats: usize, double: Option<usize>) -> Rates {
    let mut rates = Vec::new();
    for clients in [1usize, 64] {
        let (_guard, db) = fresh(backend).await;
        let host = setup::users(&db, 1, 1_000).await;
        let challenge = bare_challenge(&db, host[0].0, seats.saturating_sub(1)).await;
        let users = setup::users(&db, people, 1_000).await;
        let mut attempts: Vec<UserId> = Vec::with_capacity(people + people / 5);
        for (i, (user, _)) in users.iter().enumerate() {
            attempts.push(*user);
            if double.is_some_and(|d| i % d == 0) {
                attempts.push(*user);
            }
        }
        attempts.reverse();
        rates.push(
            drive(&db, attempts, clients, move |db, user| async move {
                let mut tx = db.begin_write().await.expect("write");
                let now = chrono::Utc::now().timestamp_millis();
                if nene_server::challenges::join_in(&mut tx, challenge, user, now).await.is_ok() {
                    let _ = tx.commit().await;
                }
            })
            .await,
        );
        db.close().await;
    }
    Rates { one: rates[0], many: rates[1] }
}

/// A confirm's own transactions around the (absent) Toss call: the order locked and marked UNKNOWN; then locked
/// again, marked PAID with its credit queued; then read for the answer. `many` clients for the second figure.
pub async fn confirms(backend: Backend, n: usize, many: usize) -> Rates {
    let mut rates = Vec::new();
    for clients in [1usize, many] {
        let (_guard, db) = fresh(backend).await;
        let users = setup::users(&db, n.div_ceil(50), 0).await;
        let mut orders = Vec::with_capacity(n);
        let mut tx = db.begin_write().await.expect("write");
        for i in 0..n {
            let id = format!("bare-{}", Uuid::now_v7().simple());
            let user = users[i % users.len()].0.as_uuid();
            store::payments::insert_order(&mut tx, &id, user, 10_000, "points", 0).await.expect("order");
            orders.push(id);
        }
        tx.commit().await.expect("commit");
        rates.push(
            drive(&db, orders, clients, |db, id| async move {
                let now = chrono::Utc::now().timestamp_millis();
                let mut tx = db.begin_write().await.expect("write");
                let mut order = store::payments::lock_order(&mut tx, &id).await.expect("lock").expect("order");
                order.status = "UNKNOWN".into();
                order.payment_key = Some(format!("key-{id}"));
                order.confirm_attempt += 1;
                order.next_check_at = Some(now + 5_000);
                order.updated_at = now;
                store::payments::save_order(&mut tx, &order).await.expect("save");
                tx.commit().await.expect("commit");

                let mut tx = db.begin_write().await.expect("write");
                let mut order = store::payments::lock_order(&mut tx, &id).await.expect("lock").expect("order");
                order.status = "PAID".into();
                order.method = Some("카드".into());
                order.approved_at = Some(now);
                order.next_check_at = None;
                store::payments::save_order(&mut tx, &order).await.expect("save");
                let payload = format!("{{\"order_id\":\"{id}\"}}");
                store::outbox::enqueue(
                    &mut tx,
                    nene_server::payments::CREDIT_CHARGE,
                    &format!("credit:{id}"),
                    &payload,
                    now,
                    now,
                )
                .await
                .expect("outbox");
                tx.commit().await.expect("commit");

                let mut tx = db.begin_read().await.expect("read");
                let _ = store::payments::order(&mut tx, &id).await.expect("read");
            })
            .await,
        );
        db.close().await;
    }
    Rates { one: rates[0], many: rates[1] }
}

/// The push worker's own statements for `n` queued deliveries: claim 500 (one transaction), mark them sent (another),
/// until none is left; the sends themselves left out. Many = 64 workers claiming at once.
pub async fn deliveries(backend: Backend, n: usize) -> Rates {
    const BATCH: usize = 500;
    let mut rates = Vec::new();
    for clients in [1usize, 64] {
        let (_guard, db) = fresh(backend).await;
        queue_notifications(&db, n).await;
        let passes: Vec<usize> = (0..n.div_ceil(BATCH)).collect();
        let start = Instant::now();
        drive(&db, passes, clients, |db, _| async move {
            let now = chrono::Utc::now().timestamp_millis();
            let mut tx = db.begin_write().await.expect("write");
            let claimed = store::notifications::claim(&mut tx, now, now, 60_000, BATCH as i64).await.expect("claim");
            tx.commit().await.expect("commit");
            let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
            let mut tx = db.begin_write().await.expect("write");
            store::notifications::mark_sent(&mut tx, &ids, now).await.expect("mark");
            tx.commit().await.expect("commit");
        })
        .await;
        rates.push(n as f64 / start.elapsed().as_secs_f64());
        db.close().await;
    }
    Rates { one: rates[0], many: rates[1] }
}

/// Settlement the way a server without set-based writes would run it: each participant paid through the general
/// ledger API in a transaction of its own (the per-challenge path with chunks of one). Participants per second,
/// over `challenges` challenges of `per` each: one challenge at a time, then 64 at once.
pub async fn settlements(backend: Backend, challenges: usize, per: usize) -> Rates {
    let mut rates = Vec::new();
    for clients in [1usize, 64] {
        let s = settlement_target(backend).await;
        let ids = settlement_setup(&s, challenges, per).await;
        let participants = s.count("participations").await as f64;
        let state = s.state.clone();
        let start = Instant::now();
        futures::stream::iter(ids)
            .map(|id| {
                let state = state.clone();
                async move {
                    let _ = settle::settle_with(&state, id, 1, None, Method::OneByOne).await;
                }
            })
            .buffer_unordered(clients)
            .collect::<Vec<()>>()
            .await;
        rates.push(participants / start.elapsed().as_secs_f64());
    }
    Rates { one: rates[0], many: rates[1] }
}

/// One FIFO spend per transaction through the ledger API, from one client and from 64; `n` each. The ledger
/// scenarios call the same API directly, so their ratio says what running them 64 at a time adds.
pub async fn spends(backend: Backend, n: usize, wallets: usize) -> Rates {
    let mut rates = Vec::new();
    for clients in [1usize, 64] {
        let (_guard, db) = fresh(backend).await;
        let escrow = AccountId::escrow_challenge(Uuid::now_v7());
        let mut tx = db.begin_write().await.expect("write");
        ledger::open_system_account(&mut tx, &escrow, 0).await.expect("escrow");
        tx.commit().await.expect("commit");
        let users = setup::users(&db, wallets, 10_000_000).await;
        let items: Vec<(usize, UserId)> = (0..n).map(|i| (i, users[i % users.len()].0)).collect();
        rates.push(
            drive(&db, items, clients, move |db, (i, user)| {
                let escrow = escrow.clone();
                async move {
                    let mut tx = db.begin_write().await.expect("write");
                    let now = chrono::Utc::now().timestamp_millis();
                    let key = format!("bare-{i}");
                    if ledger::spend_fifo(
                        &mut tx,
                        &key,
                        TransferKind::Stake,
                        user,
                        &escrow,
                        Points::new(10),
                        "bare",
                        now,
                    )
                    .await
                    .is_ok()
                    {
                        let _ = tx.commit().await;
                    }
                }
            })
            .await,
        );
        db.close().await;
    }
    Rates { one: rates[0], many: rates[1] }
}
