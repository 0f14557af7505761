//! The scenarios. Each sets its data up, measures the part under test, and checks the result is exact.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use nene_server::challenges::{batch, scheduler, settle};
use nene_server::ledger::{self, AccountId};
use nene_server::sandbox::fcm::FcmSandbox;
use nene_server::sandbox::toss::TossSandbox;
use nene_server::store::{self, Db};
use nene_shared::challenges::ChallengeId;
use nene_shared::ledger::TransferKind;
use nene_shared::{Points, UserId};
use nene_tests::{Backend, TestDatabase, TestServer, move_clock_to};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::bare;
use crate::metrics::ServerTimes;
use crate::report::{Latencies, Row};
use crate::setup;
use crate::target::{Placement, Settings, Target};

fn db_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// How the scenarios that go through the server run it.
#[derive(Clone, Debug)]
pub struct Options {
    pub placement: Placement,
    /// Clients of the fixed-concurrency join storm.
    pub clients: usize,
    /// What the server process runs under (see [`Settings::wrap`]).
    pub wrap: Vec<String>,
}

async fn server(backend: Backend, adjust: impl FnOnce(&mut nene_server::Config)) -> TestServer {
    TestServer::start_with(backend, |c| {
        c.run_workers = false;
        c.db_max_connections = 32;
        c.payment_requests_per_minute = 1_000_000;
        // The load comes from one loopback address.
        c.max_connections_per_ip = c.max_connections;
        adjust(c);
    })
    .await
}

async fn target(backend: Backend, options: &Options, settings: Settings) -> Target {
    let settings = Settings { db_max_connections: Some(32), wrap: options.wrap.clone(), ..settings };
    Target::start(backend, options.placement, settings).await
}

fn client() -> reqwest::Client {
    nene_server::integrations::install_crypto_provider();
    reqwest::Client::builder().pool_max_idle_per_host(8_192).build().expect("client")
}

async fn ledger_ok(db: &Db) -> bool {
    nene_server::ledger::check::run(db).await.map(|r| r.ok).unwrap_or(false)
}

/// Sends the requests, `concurrency` at a time (None: every one at once, each in its own task), and records each
/// latency.
async fn fire(
    requests: Vec<(String, String)>,
    client: &reqwest::Client,
    concurrency: Option<usize>,
) -> (Vec<(StatusCode, String)>, Latencies, Duration) {
    async fn one(client: reqwest::Client, url: String, token: String) -> (StatusCode, String, Duration) {
        let t = Instant::now();
        let resp = client.post(url).bearer_auth(token).send().await;
        match resp {
            Ok(resp) => {
                let status = resp.status();
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                // The answer counts once its body has arrived.
                let took = t.elapsed();
                (status, body["code"].as_str().unwrap_or_default().to_owned(), took)
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string(), t.elapsed()),
        }
    }
    let start = Instant::now();
    let answers: Vec<(StatusCode, String, Duration)> = match concurrency {
        None => {
            let tasks: Vec<_> =
                requests.into_iter().map(|(url, token)| tokio::spawn(one(client.clone(), url, token))).collect();
            let mut out = Vec::with_capacity(tasks.len());
            for task in tasks {
                if let Ok(answer) = task.await {
                    out.push(answer);
                }
            }
            out
        }
        Some(n) => {
            // `n` clients, each sending its next request when the previous answer has come.
            let queue = Arc::new(std::sync::Mutex::new(requests.into_iter()));
            let clients: Vec<_> = (0..n)
                .map(|_| {
                    let (queue, client) = (Arc::clone(&queue), client.clone());
                    tokio::spawn(async move {
                        let mut out = Vec::new();
                        loop {
                            let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                            let Some((url, token)) = next else { break };
                            out.push(one(client.clone(), url, token).await);
                        }
                        out
                    })
                })
                .collect();
            let mut out = Vec::new();
            for c in clients {
                out.extend(c.await.unwrap_or_default());
            }
            out
        }
    };
    let elapsed = start.elapsed();
    let mut lat = Latencies::default();
    let mut out = Vec::with_capacity(answers.len());
    for (status, code, took) in answers {
        lat.record(took);
        out.push((status, code));
    }
    (out, lat, elapsed)
}

const JOIN_ROUTE: &str = "/api/v1/challenges/{id}/join";

/// 5,000 people join a 100-seat challenge; every tenth clicks twice. Twice on one server, each time on a fresh
/// challenge with fresh people: first from `options.clients` clients that each send the next request when the last
/// answer came (so the latencies are the server's, not 5,500 requests queueing), then all requests at once. In that
/// order each run's memory peak is its own: a process keeps what it once took.
pub async fn join_storm(backend: Backend, options: &Options, people: usize, seats: i64) -> Vec<Row> {
    let s = target(backend, options, Settings::default()).await;
    let http = client();
    warm_up(&s, &http, options.clients).await;
    let mut rows = Vec::new();
    for concurrency in [Some(options.clients), None] {
        let stake = 5_000;
        let host = setup::users(&s.db, 1, stake).await;
        let (_, ch) = s
            .post(
                "/api/v1/challenges",
                Some(&host[0].1),
                &challenge_body_at(chrono::Utc::now(), "Storm", 7, stake, seats + 1),
            )
            .await;
        let id = ch["id"].as_str().unwrap_or_default().to_owned();
        let users = setup::users(&s.db, people, stake).await;
        let url = s.url(&format!("/api/v1/challenges/{id}/join"));
        let mut requests = Vec::new();
        for (i, (_, token)) in users.iter().enumerate() {
            requests.push((url.clone(), token.clone()));
            if i % 10 == 0 {
                requests.push((url.clone(), token.clone()));
            }
        }
        let n = requests.len() as u64;
        let before = ServerTimes::read(&http, &s.base, JOIN_ROUTE).await;
        let watch = s.reset_peak();
        let (results, lat, elapsed) = fire(requests, &http, concurrency).await;
        let memory = watch.finish();
        let times = ServerTimes::read(&http, &s.base, JOIN_ROUTE).await.since(&before);
        let ok = results.iter().filter(|(st, _)| *st == StatusCode::OK).count() as i64;
        let bad: Vec<_> = results
            .iter()
            .filter(|(st, code)| {
                *st != StatusCode::OK
                    && !(*st == StatusCode::CONFLICT && (code == "CHALLENGE_FULL" || code == "ALREADY_JOINED"))
            })
            .collect();
        let escrow = nene_tests::balance_of(&s.db, &format!("escrow:challenge:{id}")).await;
        let exact = ok == seats && escrow == (seats + 1) * stake && bad.is_empty() && ledger_ok(&s.db).await;
        let name = match concurrency {
            None => "join-storm (all at once)".to_owned(),
            Some(c) => format!("join-storm ({c} clients)"),
        };
        rows.push(
            Row::new(&name, db_name(backend), n, bad.len() as u64, elapsed, &lat)
                .with_memory(memory, s.placement())
                .with_server_times(&times)
                .checked(
                    exact,
                    format!("{ok} joined of {seats} seats, escrow {escrow}, {} unexpected answers", bad.len()),
                ),
        );
    }
    s.stop().await;
    let bare = bare::joins(backend, people, usize::try_from(seats).unwrap_or(0), Some(10)).await;
    rows.into_iter().map(|r| r.with_bare(bare.one, bare.many)).collect()
}

/// A short storm before the measured ones, as a server that has been running has had: 500 people for 50 seats from
/// the same clients. It fills the database connections' statement caches and the allocator's pools; without it the
/// first batch of the first measured run pays for that (about 40 ms on PostgreSQL), and its waiting requests are
/// about 1 % of the run, right where the p99 is read.
async fn warm_up(s: &Target, http: &reqwest::Client, clients: usize) {
    let stake = 5_000;
    let host = setup::users(&s.db, 1, stake).await;
    let body = challenge_body_at(chrono::Utc::now(), "Warm-up", 7, stake, 51);
    let (_, ch) = s.post("/api/v1/challenges", Some(&host[0].1), &body).await;
    let url = s.url(&format!("/api/v1/challenges/{}/join", ch["id"].as_str().unwrap_or_default()));
    let users = setup::users(&s.db, 500, stake).await;
    let requests: Vec<_> = users.iter().map(|(_, token)| (url.clone(), token.clone())).collect();
    fire(requests, http, Some(clients)).await;
}

/// A challenge body starting tomorrow in Seoul (the server's domain clock is the wall clock outside dev mode).
fn challenge_body_at(now: chrono::DateTime<chrono::Utc>, title: &str, days: i64, stake: i64, capacity: i64) -> Value {
    let today = now.with_timezone(&chrono_tz::Asia::Seoul).date_naive();
    let start = today + chrono::Duration::days(1);
    let end = start + chrono::Duration::days(days - 1);
    json!({
        "title": title, "description": "매일 30분 달리기", "category": "HEALTH", "proof_type": "TEXT",
        "start_date": start.to_string(), "end_date": end.to_string(), "stake": stake, "capacity": capacity,
        "min_participants": 2, "success_threshold": 80,
    })
}

/// Every join succeeds: one hot challenge with seats for all. Beside it, the bare database running the same join
/// transaction (no HTTP, no batching) from one client and from 64.
pub async fn hot_join(backend: Backend, options: &Options, people: usize) -> Row {
    let s = target(backend, options, Settings::default()).await;
    let stake = 1_000;
    let host = setup::users(&s.db, 1, stake).await;
    let capacity = i64::try_from(people).unwrap_or(i64::MAX).saturating_add(1).min(10_000);
    let (_, ch) = s
        .post("/api/v1/challenges", Some(&host[0].1), &challenge_body_at(chrono::Utc::now(), "Hot", 7, stake, capacity))
        .await;
    let id = ch["id"].as_str().unwrap_or_default().to_owned();
    let people = people.min(9_999);
    let users = setup::users(&s.db, people, stake).await;
    let url = s.url(&format!("/api/v1/challenges/{id}/join"));
    let requests: Vec<_> = users.iter().map(|(_, t)| (url.clone(), t.clone())).collect();
    let http = client();
    let before = ServerTimes::read(&http, &s.base, JOIN_ROUTE).await;
    let watch = s.reset_peak();
    let (results, lat, elapsed) = fire(requests, &http, None).await;
    let memory = watch.finish();
    let times = ServerTimes::read(&http, &s.base, JOIN_ROUTE).await.since(&before);
    let ok = results.iter().filter(|(st, _)| *st == StatusCode::OK).count();
    let errors = (results.len() - ok) as u64;
    let exact = ok == people && ledger_ok(&s.db).await;
    let placement = s.placement();
    s.stop().await;

    let n = people.min(2_000);
    let bare = bare::joins(backend, n, n + 1, None).await;
    Row::new("hot-join", db_name(backend), people as u64, errors, elapsed, &lat)
        .with_memory(memory, placement)
        .with_server_times(&times)
        .with_bare(bare.one, bare.many)
        .checked(exact, format!("{ok} of {people} joined"))
}

/// A recruiting challenge with `n + 1` seats (room for `n` people besides a host), written straight to the database.
pub(crate) async fn bare_challenge(db: &Db, creator: UserId, n: usize) -> Uuid {
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let start = now + chrono::Duration::days(2);
    let row = store::challenges::ChallengeRow {
        id,
        creator_id: creator.as_uuid(),
        creator_nickname: String::new(),
        title: "bare".into(),
        description: String::new(),
        category: "HEALTH".into(),
        proof_type: "TEXT".into(),
        start_date: start.date_naive().to_string(),
        end_date: (start + chrono::Duration::days(6)).date_naive().to_string(),
        timezone: "Asia/Seoul".into(),
        proof_weekdays: 127,
        proof_days: 7,
        stake: 1_000,
        capacity: i64::try_from(n).unwrap_or(10_000) + 1,
        min_participants: 2,
        success_threshold: 85,
        fee_bps: 0,
        status: "RECRUITING".into(),
        participant_count: 0,
        version: 1,
        starts_at: start.timestamp_millis(),
        ends_at: (start + chrono::Duration::days(7)).timestamp_millis(),
        created_at: now.timestamp_millis(),
        updated_at: now.timestamp_millis(),
        settled_at: None,
        deleted_at: None,
    };
    let mut tx = db.begin_write().await.expect("write");
    store::challenges::insert(&mut tx, &row).await.expect("challenge");
    ledger::open_system_account(&mut tx, &AccountId::escrow_challenge(id), now.timestamp_millis())
        .await
        .expect("escrow");
    tx.commit().await.expect("commit");
    id
}

const CONFIRM_ROUTE: &str = "/api/v1/payments/confirm";

/// Payment confirms against a zero-latency Toss sandbox (in the bench process): `n` from 32 clients, then `n / 4`
/// from one client, each measured apart. The server's own time comes from its request histogram.
pub async fn confirm(backend: Backend, options: &Options, n: usize) -> Vec<Row> {
    let toss = TossSandbox::new("test_sk_bench");
    let (addr, _task) = toss.serve().await.expect("sandbox");
    let settings = Settings {
        toss: Some((format!("http://{addr}"), "test_sk_bench".into(), "test_ck_bench".into())),
        ..Settings::default()
    };
    let mut s = target(backend, options, settings).await;
    let http = client();
    let mut rows = Vec::new();
    let mut total = 0;
    for clients in [32usize, 1] {
        let n = if clients == 1 { n.div_ceil(4) } else { n };
        total += n;
        let users = setup::users(&s.db, n.div_ceil(50), 0).await;
        let mut confirms = Vec::with_capacity(n);
        for i in 0..n {
            let token = &users[i % users.len()].1;
            let (_, order) = s.post("/api/v1/payments/orders", Some(token), &json!({"amount": 10_000})).await;
            let order_id = order["order_id"].as_str().unwrap_or_default().to_owned();
            let key = toss.create_session(&order_id, 10_000, "points");
            confirms.push((token.clone(), json!({"payment_key": key, "order_id": order_id, "amount": 10_000})));
        }
        let url = s.url(CONFIRM_ROUTE);
        let before = ServerTimes::read(&http, &s.base, CONFIRM_ROUTE).await;
        let watch = s.reset_peak();
        let start = Instant::now();
        let results: Vec<(bool, Duration)> = futures::stream::iter(confirms)
            .map(|(token, body)| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let t = Instant::now();
                    let ok = http
                        .post(url)
                        .bearer_auth(token)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status() == StatusCode::OK);
                    (ok.unwrap_or(false), t.elapsed())
                }
            })
            .buffer_unordered(clients)
            .collect()
            .await;
        let elapsed = start.elapsed();
        let memory = watch.finish();
        let times = ServerTimes::read(&http, &s.base, CONFIRM_ROUTE).await.since(&before);
        let lat: Latencies = results.iter().map(|(_, d)| *d).collect();
        let errors = results.iter().filter(|(ok, _)| !ok).count() as u64;
        s.credit_all().await;
        let credited = s.count("payment_orders WHERE status = 'CREDITED'").await;
        let exact = credited == total as i64 && ledger_ok(&s.db).await;
        let name = if clients == 1 { "confirm (1 client)".to_owned() } else { format!("confirm ({clients} clients)") };
        rows.push(
            Row::new(&name, db_name(backend), n as u64, errors, elapsed, &lat)
                .with_memory(memory, s.placement())
                .with_server_times(&times)
                .checked(exact, format!("{credited} of {total} orders credited once")),
        );
    }
    s.stop().await;
    let bare = bare::confirms(backend, n.min(1_000), 32).await;
    rows.into_iter().map(|r| r.with_bare(bare.one, bare.many)).collect()
}

/// A server pushing to an FCM sandbox served by the bench process (so the sandbox's work is not the server's).
async fn push_target(backend: Backend, options: &Options) -> (Target, FcmSandbox) {
    let fcm = FcmSandbox::new();
    let (addr, _task) = fcm.serve().await.expect("sandbox");
    let s = target(backend, options, Settings { fcm: Some(format!("http://{addr}")), ..Settings::default() }).await;
    (s, fcm)
}

/// Queues `n` notifications for 1,000 users with a device each (in big transactions).
pub(crate) async fn queue_notifications(db: &Db, n: usize) -> usize {
    let users = setup::users(db, 1_000.min(n), 0).await;
    let mut tx = db.begin_write().await.expect("write");
    for (i, (user, _)) in users.iter().enumerate() {
        store::notifications::upsert_device(&mut tx, &format!("device-{i}"), user.as_uuid(), "ANDROID", 0)
            .await
            .expect("device");
    }
    tx.commit().await.expect("commit");
    for chunk in (0..n).collect::<Vec<_>>().chunks(2_000) {
        let mut tx = db.begin_write().await.expect("write");
        for i in chunk {
            let (user, _) = &users[i % users.len()];
            nene_server::notify::record(
                &mut tx,
                user.as_uuid(),
                nene_server::notify::Kind::ProofReminder,
                "오늘 인증",
                "잊지 마세요",
                &[("n", i.to_string())],
                chrono::Utc::now().timestamp_millis(),
            )
            .await
            .expect("notify");
        }
        tx.commit().await.expect("commit");
    }
    users.len()
}

/// Drains 100,000 queued notifications to a local FCM sandbox (the worker runs in the server).
pub async fn push_drain(backend: Backend, options: &Options, n: usize) -> Row {
    let (mut s, fcm) = push_target(backend, options).await;
    queue_notifications(&s.db, n).await;
    let watch = s.reset_peak();
    let start = Instant::now();
    let batches = s.drain_push().await;
    let elapsed = start.elapsed();
    let memory = watch.finish();
    let lat: Latencies = batches.iter().copied().collect();
    let delivered = fcm.delivered().len();
    let sent = s.count("notification_deliveries WHERE status = 'SENT'").await;
    let exact = delivered == n && fcm.send_attempts() == n && sent == n as i64;
    let placement = s.placement();
    s.stop().await;
    let bare = bare::deliveries(backend, n.min(20_000)).await;
    Row::new("push-drain (steps)", db_name(backend), n as u64, (n - delivered.min(n)) as u64, elapsed, &lat)
        .with_memory(memory, placement)
        .with_bare(bare.one, bare.many)
        .checked(exact, format!("{delivered} of {n} delivered, {} sends, {sent} marked sent", fcm.send_attempts()))
}

/// 500 due retries: one worker pass over deliveries whose first try failed.
pub async fn push_retries(backend: Backend, options: &Options, n: usize) -> Row {
    let (mut s, fcm) = push_target(backend, options).await;
    queue_notifications(&s.db, n).await;
    fcm.fail_next(n, 503, "UNAVAILABLE", None);
    s.drain_push().await;
    s.advance_clock(3_600_000).await;
    let watch = s.reset_peak();
    let start = Instant::now();
    let batches = s.drain_push().await;
    let elapsed = start.elapsed();
    let memory = watch.finish();
    let lat: Latencies = batches.iter().copied().collect();
    let delivered = fcm.delivered().len();
    let placement = s.placement();
    s.stop().await;
    let bare = bare::deliveries(backend, n).await;
    Row::new("push-retries", db_name(backend), n as u64, (n - delivered.min(n)) as u64, elapsed, &lat)
        .with_memory(memory, placement)
        .with_bare(bare.one, bare.many)
        .checked(delivered == n, format!("{delivered} of {n} retries delivered"))
}

/// The settlement scenario's server: the domain code runs in the bench process, against a fresh database.
pub(crate) async fn settlement_target(backend: Backend) -> TestServer {
    server(backend, |_| {}).await
}

/// `challenges` finished one-day challenges of `per` participants each (half of them proved), due for settlement.
pub(crate) async fn settlement_setup(s: &TestServer, challenges: usize, per: usize) -> Vec<Uuid> {
    let db = s.state.db.clone();
    let pool_size = per.max(2) * 10;
    let each = (challenges * per).div_ceil(pool_size) as i64 + 1;
    let pool = setup::users(&db, pool_size, 1_000 * each).await;
    let start_day = s.state.clock.now().with_timezone(&chrono_tz::Asia::Seoul).date_naive() + chrono::Duration::days(1);
    let mut ids = Vec::with_capacity(challenges);
    let mut joins = Vec::with_capacity(challenges * per);
    for c in 0..challenges {
        let creator = pool[c % pool.len()].0;
        let id = bare_challenge(&db, creator, per).await;
        // A one-day challenge starting tomorrow in Seoul.
        let mut tx = db.begin_write().await.expect("write");
        let starts = nene_server::challenges::rules::Calendar {
            start: start_day,
            end: start_day,
            tz: chrono_tz::Asia::Seoul,
            weekdays: 127,
        };
        nene_server::on_conn!(&mut tx, conn => sqlx::query(
            "UPDATE challenges SET start_date = $2, end_date = $2, proof_days = 1, starts_at = $3, ends_at = $4 WHERE id = $1")
            .bind(id).bind(start_day.to_string()).bind(starts.starts_at().timestamp_millis()).bind(starts.ends_at().timestamp_millis())
            .execute(&mut *conn).await.expect("dates").rows_affected());
        tx.commit().await.expect("commit");
        for k in 0..per {
            joins.push((ChallengeId::from_uuid(id), pool[(c * per + k) % pool.len()].0));
        }
        ids.push(id);
    }
    // The joins go through the server's own group commit, a writer's batch at a time.
    for batch in joins.chunks(batch::MAX_BATCH) {
        let answers = batch::commit(&db, batch, batch::Path::Together).await.expect("set-up join batch");
        if let Some(Err(e)) = answers.into_iter().find(Result::is_err) {
            panic!("set-up join failed: {e}");
        }
    }
    move_clock_to(s, start_day);
    while scheduler::step(&s.state).await.unwrap_or(0) > 0 {}
    // Half of each challenge's participants prove their one day.
    for id in &ids {
        let mut tx = db.begin_write().await.expect("write");
        let people = store::challenges::participants(&mut tx, *id).await.expect("participants");
        for p in people.iter().step_by(2) {
            store::challenges::insert_proof(
                &mut tx,
                &store::challenges::NewProof {
                    id: Uuid::now_v7(),
                    challenge_id: *id,
                    participation_id: p.id,
                    user_id: p.user_id,
                    day: &start_day.to_string(),
                    text: Some("done"),
                    photo_hash: None,
                    photo_mime: None,
                    thumb_hash: None,
                    now_ms: chrono::Utc::now().timestamp_millis(),
                },
            )
            .await
            .expect("proof");
        }
        tx.commit().await.expect("commit");
    }
    move_clock_to(s, start_day + chrono::Duration::days(1));
    ids
}

/// 1,000 one-day challenges with 100 participants each, half of whom proved; then the settlement re-run.
pub async fn settlement(backend: Backend, challenges: usize, per: usize) -> (Row, Row) {
    let s = settlement_target(backend).await;
    let db = s.state.db.clone();
    let ids = settlement_setup(&s, challenges, per).await;
    let participants = s.count("participations").await;
    let begin = Instant::now();
    let mut lat = Latencies::default();
    // As the scheduler does: the challenges due together are settled together.
    for batch in ids.chunks(scheduler::DUE_BATCH) {
        let t = Instant::now();
        let results = settle::settle_many(&s.state, batch, scheduler::SETTLEMENT_CHUNK).await;
        for (id, result) in batch.iter().zip(results) {
            if let Err(e) = result {
                tracing_free_warning(&format!("settlement of {id} failed: {e}"));
            }
        }
        lat.record(t.elapsed());
    }
    let first_time = begin.elapsed();
    let ended = s.count("challenges WHERE status = 'ENDED'").await;
    let entries = s.count("ledger_entries").await;
    let begin = Instant::now();
    let mut relat = Latencies::default();
    for batch in ids.chunks(scheduler::DUE_BATCH) {
        let t = Instant::now();
        let _ = settle::settle_many(&s.state, batch, scheduler::SETTLEMENT_CHUNK).await;
        relat.record(t.elapsed());
    }
    let rerun_time = begin.elapsed();
    let unchanged = s.count("ledger_entries").await == entries;
    let ok = ended == challenges as i64 && ledger_ok(&db).await;
    drop(s);
    let bare = bare::settlements(backend, challenges.min(20), per).await;
    let first = Row::new("settlement", db_name(backend), participants as u64, 0, first_time, &lat)
        .with_bare(bare.one, bare.many)
        .checked(ok, format!("{ended} of {challenges} challenges ended, {participants} participants"));
    let rerun = Row::new("settlement re-run", db_name(backend), participants as u64, 0, rerun_time, &relat)
        .checked(unchanged, if unchanged { "nothing moved".to_string() } else { "entries changed!".to_string() });
    (first, rerun)
}

/// Ledger transfers through the domain API, 64 at a time: spread over 1,000 wallets, and all from one hot wallet.
pub async fn ledger(backend: Backend, n: usize) -> Vec<Row> {
    let guard = TestDatabase::create(backend).await;
    let db = Db::connect(&guard.config, 64).await.expect("db");
    let escrow = AccountId::escrow_challenge(Uuid::now_v7());
    let mut tx = db.begin_write().await.expect("write");
    ledger::open_system_account(&mut tx, &escrow, 0).await.expect("escrow");
    tx.commit().await.expect("commit");
    let mut rows = Vec::new();
    for (name, wallets) in [("ledger spread", 1_000usize), ("ledger hot wallet", 1)] {
        let users = setup::users(&db, wallets, 10_000_000).await;
        let start = Instant::now();
        let results: Vec<(bool, Duration)> = futures::stream::iter(0..n)
            .map(|i| {
                let (db, escrow, user) = (db.clone(), escrow.clone(), users[i % users.len()].0);
                async move {
                    let t = Instant::now();
                    let done = async {
                        let mut tx = db.begin_write().await?;
                        ledger::spend_fifo(
                            &mut tx,
                            &format!("{name}-{i}"),
                            TransferKind::Stake,
                            user,
                            &escrow,
                            Points::new(10),
                            "bench",
                            chrono::Utc::now().timestamp_millis(),
                        )
                        .await?;
                        tx.commit().await?;
                        Ok::<_, ledger::LedgerError>(())
                    }
                    .await;
                    (done.is_ok(), t.elapsed())
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        let elapsed = start.elapsed();
        let lat: Latencies = results.iter().map(|(_, d)| *d).collect();
        let errors = results.iter().filter(|(ok, _)| !ok).count() as u64;
        let ok = errors == 0 && ledger_ok(&db).await;
        rows.push(Row::new(name, db_name(backend), n as u64, errors, elapsed, &lat).checked(ok, "invariants hold"));
    }
    // The bare runs open 64 connections of their own: the scenario's must be closed first (PostgreSQL's
    // max_connections is 100 here).
    db.close().await;
    let mut out = Vec::with_capacity(rows.len());
    for (row, wallets) in rows.into_iter().zip([1_000usize, 1]) {
        let bare = bare::spends(backend, n.min(2_000), wallets).await;
        out.push(row.with_bare(bare.one, bare.many));
    }
    out
}

/// A scenario's own complaint, on standard error beside the server's logs.
fn tracing_free_warning(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "nene-bench: {message}");
}

const PROGRESS_ROUTE: &str = "/api/v1/challenges/{id}/progress";

/// A running challenge of `people` participants on its last of `days` days, each of whom proved three days in four
/// (225,000 proofs for 10,000 people and 30 days), written straight to the database; then `requests` reads of its
/// live figures from one client, one after another (each answer carries every participant's proved days).
pub async fn progress(backend: Backend, options: &Options, people: usize, days: i64, requests: usize) -> Row {
    let s = target(backend, options, Settings::default()).await;
    let users = setup::users(&s.db, people, 0).await;
    let (id, proofs, today_proofs) = progress_setup(&s.db, &users, days).await;
    let url = s.url(&format!("/api/v1/challenges/{id}/progress"));
    let http = client();
    let token = users[0].1.clone();
    let read = |http: reqwest::Client, url: String, token: String| async move {
        let t = Instant::now();
        let resp = http.get(url).bearer_auth(token).send().await.ok()?;
        let ok = resp.status() == StatusCode::OK;
        let body: Value = resp.json().await.ok()?;
        ok.then_some((body, t.elapsed()))
    };
    // One unmeasured read warms the connections and the statement caches.
    let _ = read(http.clone(), url.clone(), token.clone()).await;
    let before = ServerTimes::read(&http, &s.base, PROGRESS_ROUTE).await;
    let watch = s.reset_peak();
    let start = Instant::now();
    let mut lat = Latencies::default();
    let mut errors = 0;
    let mut last = Value::Null;
    for _ in 0..requests {
        match read(http.clone(), url.clone(), token.clone()).await {
            Some((body, took)) => {
                lat.record(took);
                last = body;
            }
            None => errors += 1,
        }
    }
    let elapsed = start.elapsed();
    let memory = watch.finish();
    let times = ServerTimes::read(&http, &s.base, PROGRESS_ROUTE).await.since(&before);
    let placement = s.placement();
    s.stop().await;
    let rows = last["participants"].as_array().cloned().unwrap_or_default();
    let accepted: i64 = rows.iter().map(|p| p["accepted_days"].as_i64().unwrap_or(0)).sum();
    let listed: usize = rows.iter().map(|p| p["proved_days"].as_array().map_or(0, Vec::len)).sum();
    let exact = last["participant_count"] == people as i64
        && accepted == proofs
        && listed as i64 == proofs
        && last["today_proofs"] == today_proofs
        && last["proof_days"] == days;
    Row::new(&format!("progress ({people} × {days} days)"), db_name(backend), requests as u64, errors, elapsed, &lat)
        .with_memory(memory, placement)
        .with_server_times(&times)
        .checked(
            exact,
            format!(
                "{} participants, {accepted} accepted days of {proofs}, {} proved today",
                rows.len(),
                last["today_proofs"]
            ),
        )
}

/// The progress scenario's challenge: in progress, its last day today (in Seoul), every user a participant, and
/// participant `i` proved day `d` unless `(i + d) % 4 == 0`. Answers its id, the proofs written and today's.
async fn progress_setup(db: &Db, users: &[(UserId, String)], days: i64) -> (Uuid, i64, i64) {
    let id = Uuid::now_v7();
    let now = chrono::Utc::now();
    let today = now.with_timezone(&chrono_tz::Asia::Seoul).date_naive();
    let calendar = nene_server::challenges::rules::Calendar {
        start: today - chrono::Duration::days(days - 1),
        end: today,
        tz: chrono_tz::Asia::Seoul,
        weekdays: 127,
    };
    let people = i64::try_from(users.len()).unwrap_or(i64::MAX);
    let row = store::challenges::ChallengeRow {
        id,
        creator_id: users[0].0.as_uuid(),
        creator_nickname: String::new(),
        title: "progress".into(),
        description: String::new(),
        category: "HEALTH".into(),
        proof_type: "TEXT".into(),
        start_date: calendar.start.to_string(),
        end_date: calendar.end.to_string(),
        timezone: "Asia/Seoul".into(),
        proof_weekdays: 127,
        proof_days: days,
        stake: 1_000,
        capacity: people.max(2),
        min_participants: 2,
        success_threshold: 80,
        fee_bps: 0,
        status: "IN_PROGRESS".into(),
        participant_count: people,
        version: 1,
        starts_at: calendar.starts_at().timestamp_millis(),
        ends_at: calendar.ends_at().timestamp_millis(),
        created_at: now.timestamp_millis(),
        updated_at: now.timestamp_millis(),
        settled_at: None,
        deleted_at: None,
    };
    let mut tx = db.begin_write().await.expect("write");
    store::challenges::insert(&mut tx, &row).await.expect("challenge");
    tx.commit().await.expect("commit");
    let participations: Vec<store::challenges::NewParticipation> = users
        .iter()
        .map(|(user, _)| store::challenges::NewParticipation {
            id: Uuid::now_v7(),
            challenge: id,
            user: user.as_uuid(),
            stake: 1_000,
        })
        .collect();
    for chunk in participations.chunks(1_000) {
        let mut tx = db.begin_write().await.expect("write");
        store::challenges::insert_participations(&mut tx, chunk, now.timestamp_millis()).await.expect("participants");
        tx.commit().await.expect("commit");
    }
    let mut proofs = Vec::new();
    let mut today_proofs = 0;
    for (i, p) in participations.iter().enumerate() {
        for d in 0..days {
            if (i as i64 + d) % 4 != 0 {
                proofs.push((p.id, p.user, (calendar.start + chrono::Duration::days(d)).to_string()));
                today_proofs += i64::from(d == days - 1);
            }
        }
    }
    let postgres = db.is_postgres();
    let created = now.timestamp_millis();
    for chunk in proofs.chunks(2_000) {
        let mut values = String::new();
        for r in 0..chunk.len() {
            let p = |k: usize| if postgres { format!("${}", r * 5 + k) } else { "?".to_owned() };
            if r > 0 {
                values.push_str(", ");
            }
            values.push_str(&format!("({}, {}, {}, {}, {}, 'done', {created})", p(1), p(2), p(3), p(4), p(5)));
        }
        let sql = format!(
            "INSERT INTO proofs (id, challenge_id, participation_id, user_id, day, text, created_at) VALUES {values}"
        );
        let mut tx = db.begin_write().await.expect("write");
        nene_server::on_conn!(&mut tx, conn => {
            let mut q = sqlx::query(&sql);
            for (participation, user, day) in chunk {
                q = q.bind(Uuid::now_v7()).bind(id).bind(*participation).bind(*user).bind(day.as_str());
            }
            q.execute(&mut *conn).await.expect("proofs").rows_affected()
        });
        tx.commit().await.expect("commit");
    }
    (id, proofs.len() as i64, today_proofs)
}
