//! Group commit for joins. Under a storm every join wants the same hot rows (the challenge's seat count, its
//! escrow) and a durable commit each; one writer per process instead takes every join waiting at that moment and
//! commits them in one transaction. Each caller still gets its own answer, only after the commit that made it
//! durable.
//!
//! The batch is first decided together ([`together`]): its challenges, participations and wallets read once under
//! their locks, every join decided in memory in arrival order, the accepted ones written with a few statements for
//! all of them. Should that give way (something it does not expect), the same batch runs one join at a time, each in
//! its own savepoint, so one refusal (full, already joined, not enough points) undoes only itself.
//!
//! Correctness is the database's either way: rows locked (PostgreSQL) or the single writer (SQLite), a
//! conditional seat update, the unique index on active participations and the ledger's conditional balances, so
//! several instances (each batching its own requests) stay exact.
//!
//! A join sent as an offline intent carries the intent's key: the batch's transaction marks the intent APPLIED
//! with the join ([`store::sync::claim`]), so a join that commits is on record as applied even when its caller has
//! gone (a connection cut, a push abandoned), and an intent another push already decided makes no second join.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use nene_shared::UserId;
use nene_shared::challenges::{Challenge, ChallengeId};
use nene_shared::error::ErrorCode;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{JOIN_TITLE, already_joined, challenge_full, join_note, load, take_part, view};
use crate::error::{ApiError, ApiResult};
use crate::notify;
use crate::store::sync::IntentKey;
use crate::store::{self, Db, Tx};
use crate::supervisor::{self, Workers};

mod together;

use together::Ask;

/// The most joins committed together.
pub const MAX_BATCH: usize = 512;

struct Job {
    challenge: ChallengeId,
    user: UserId,
    intent: Option<IntentKey>,
    reply: oneshot::Sender<ApiResult<Challenge>>,
}

/// The queue into the join writer.
#[derive(Clone)]
pub struct JoinBatcher {
    jobs: mpsc::Sender<Job>,
    /// Joins sent and not answered yet.
    in_flight: Arc<AtomicUsize>,
    /// Taken by the writer around each batch; [`JoinBatcher::hold`] takes it to keep the writer still.
    gate: Arc<Mutex<()>>,
}

/// Keeps the join writer from committing until dropped (see [`JoinBatcher::hold`]).
pub struct WriterHold {
    _gate: OwnedMutexGuard<()>,
}

/// The supervised worker's name, as `/ready` and `worker_restarts_total` show it.
pub const WRITER: &str = "join-writer";

impl JoinBatcher {
    /// Starts the writer task under supervision (it ends when the last handle is dropped). The queue outlives any
    /// one writer: should a writer panic, the joins it was committing are answered with an error (their transaction
    /// did not commit) and the next writer takes over the queue, so joins keep working.
    pub fn start(db: Db, workers: &Workers) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let rx = Arc::new(Mutex::new(rx));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Mutex::new(()));
        let writer_side = Writer { rx, in_flight: Arc::clone(&in_flight), gate: Arc::clone(&gate) };
        let health = workers.clone();
        supervisor::supervise(WRITER, workers, &CancellationToken::new(), move || {
            writer(db.clone(), writer_side.clone(), health.clone())
        });
        JoinBatcher { jobs, in_flight, gate }
    }

    pub async fn join(&self, challenge: ChallengeId, user: UserId) -> ApiResult<Challenge> {
        self.send(challenge, user, None).await
    }

    /// A join asked for by an offline intent: committed together with the intent's record (see the module's
    /// notes). When another push decided the intent first, nothing is joined and the answer is
    /// [`ApiError::intent_decided`].
    pub async fn join_for_intent(
        &self,
        challenge: ChallengeId,
        user: UserId,
        intent: IntentKey,
    ) -> ApiResult<Challenge> {
        self.send(challenge, user, Some(intent)).await
    }

    async fn send(&self, challenge: ChallengeId, user: UserId, intent: Option<IntentKey>) -> ApiResult<Challenge> {
        let (reply, answer) = oneshot::channel();
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if self.jobs.send(Job { challenge, user, intent, reply }).await.is_err() {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::internal(&"the join writer has stopped"));
        }
        answer.await.map_err(|_| ApiError::internal(&"the join writer dropped a request"))?
    }

    /// Joins sent to the writer and not answered yet (also those whose caller has gone meanwhile).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Keeps the writer from committing anything until the returned hold is dropped; joins sent meanwhile wait
    /// (waiting first for a batch being committed to finish). It lets a test stop a join at a known point, with
    /// the join sent and not committed, as a slow commit would.
    pub async fn hold(&self) -> WriterHold {
        WriterHold { _gate: Arc::clone(&self.gate).lock_owned().await }
    }
}

impl Job {
    fn ask(&self) -> Ask {
        Ask { challenge: self.challenge.as_uuid(), user: self.user }
    }
}

/// How a batch is committed. The writer always tries [`Path::Together`] first, which gives way to the other by
/// itself when it must.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    Together,
    OneAtATime,
}

/// Commits `joins` as the writer commits one batch, in that order and in one transaction, and returns each join's
/// answer. The writer's own entry point, open so that tests can compare the two paths on the same requests.
pub async fn commit(db: &Db, joins: &[(ChallengeId, UserId)], path: Path) -> ApiResult<Vec<ApiResult<Challenge>>> {
    let asks: Vec<Ask> = joins.iter().map(|(c, u)| Ask { challenge: c.as_uuid(), user: *u }).collect();
    run_batch(db, &asks, &vec![None; asks.len()], path).await
}

/// What the writer holds on to across restarts: the queue, the count of unanswered joins and the gate.
#[derive(Clone)]
struct Writer {
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    in_flight: Arc<AtomicUsize>,
    gate: Arc<Mutex<()>>,
}

/// Counts a batch's joins as answered when dropped, so a writer that panics half-way leaves the count right (its
/// joins' answers are dropped with it).
struct Answered<'a> {
    in_flight: &'a AtomicUsize,
    size: usize,
}

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(self.size, Ordering::AcqRel);
    }
}

async fn writer(db: Db, side: Writer, workers: Workers) {
    let mut rx = side.rx.lock().await;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let _open = side.gate.lock().await;
        let jobs = std::mem::take(&mut batch);
        let _answered = Answered { in_flight: &side.in_flight, size: jobs.len() };
        workers.panic_if_injected(WRITER);
        commit_batch(&db, jobs).await;
    }
}

async fn commit_batch(db: &Db, jobs: Vec<Job>) {
    let size = jobs.len();
    metrics::histogram!("join_batch_size").record(size as f64);
    let asks: Vec<Ask> = jobs.iter().map(Job::ask).collect();
    let intents: Vec<Option<IntentKey>> = jobs.iter().map(|j| j.intent.clone()).collect();
    match run_batch(db, &asks, &intents, Path::Together).await {
        Ok(answers) => {
            for (job, answer) in jobs.into_iter().zip(answers) {
                let _ = job.reply.send(answer);
            }
        }
        // The commit itself failed (a lost connection, a serialisation failure): nothing of the batch was kept,
        // so each join is tried again on its own, and its own outcome is the answer.
        Err(e) => {
            tracing::warn!(error = %e, size, "join batch failed; retrying one by one");
            for job in jobs {
                let answer = run_batch(db, &[job.ask()], std::slice::from_ref(&job.intent), Path::Together)
                    .await
                    .and_then(|mut a| a.pop().unwrap_or_else(|| Err(ApiError::internal(&"empty batch answer"))));
                let _ = job.reply.send(answer);
            }
        }
    }
}

/// Runs the jobs in one transaction: decided together when it can ([`together`]), otherwise each in a savepoint.
/// The outer error means the transaction did not commit. Each challenge joined is read once for the answers, so each
/// answer shows the challenge as the batch's commit leaves it. `intents` has one entry per ask: the offline intent
/// that asked for it, if one did.
async fn run_batch(
    db: &Db,
    all: &[Ask],
    intents: &[Option<IntentKey>],
    path: Path,
) -> ApiResult<Vec<ApiResult<Challenge>>> {
    let now = Utc::now().timestamp_millis();
    let mut tx = db.begin_write().await?;
    // The intents first, before anything else is locked (the order every intent's effect takes): each is marked
    // APPLIED here and given back below should its join be refused. One that is decided already joins nothing.
    let claimed = claim_intents(&mut tx, intents, now).await?;
    let live: Vec<usize> = (0..all.len()).filter(|&i| claimed[i] != Some(false)).collect();
    let asks: Vec<Ask> = live.iter().map(|&i| all[i]).collect();
    let asks = asks.as_slice();
    savepoint(&mut tx, "SAVEPOINT join_together").await?;
    let tried = match path {
        Path::Together => together::join(&mut tx, asks, now).await,
        Path::OneAtATime => Ok(None),
    };
    let outcomes = match tried {
        Ok(Some(outcomes)) => {
            savepoint(&mut tx, "RELEASE SAVEPOINT join_together").await?;
            metrics::counter!("join_batches_total", "path" => "together").increment(1);
            outcomes
        }
        other => {
            if let Err(e) = other {
                tracing::warn!(error = %e, size = asks.len(), "join batch could not be decided together; one by one");
            }
            savepoint(&mut tx, "ROLLBACK TO SAVEPOINT join_together").await?;
            savepoint(&mut tx, "RELEASE SAVEPOINT join_together").await?;
            metrics::counter!("join_batches_total", "path" => "one_at_a_time").increment(1);
            one_by_one(&mut tx, asks, now).await?
        }
    };
    for (&i, outcome) in live.iter().zip(&outcomes) {
        if let (Some(key), Err(_)) = (&intents[i], outcome) {
            store::sync::unclaim(&mut tx, key).await?;
        }
    }
    let mut joined: HashMap<Uuid, Challenge> = HashMap::new();
    for id in outcomes.iter().flatten() {
        if !joined.contains_key(id) {
            let row = load(&mut tx, *id).await?;
            joined.insert(*id, view(&row, true));
        }
    }
    tx.commit().await.map_err(|e| if e.unique_violation().is_some() { already_joined() } else { e.into() })?;
    let mut answers: Vec<ApiResult<Challenge>> = (0..all.len()).map(|_| Err(ApiError::intent_decided())).collect();
    for (i, outcome) in live.into_iter().zip(outcomes) {
        answers[i] = outcome.and_then(|id| {
            joined.get(&id).cloned().ok_or_else(|| ApiError::internal(&"a joined challenge was not read back"))
        });
    }
    Ok(answers)
}

/// Marks each ask's intent APPLIED, in ascending order of intents (the order any transaction takes them in, so
/// two batches holding the same intents cannot deadlock). Per ask: `None` without an intent, `Some(true)` when
/// marked here, `Some(false)` when already decided (or asked for twice in this batch).
async fn claim_intents(tx: &mut Tx, intents: &[Option<IntentKey>], now: i64) -> ApiResult<Vec<Option<bool>>> {
    let mut claimed = vec![None; intents.len()];
    let mut order: Vec<(usize, &IntentKey)> =
        intents.iter().enumerate().filter_map(|(i, k)| k.as_ref().map(|k| (i, k))).collect();
    order.sort_by(|a, b| (a.1.user, &a.1.id).cmp(&(b.1.user, &b.1.id)));
    for (i, key) in order {
        claimed[i] = Some(store::sync::claim(tx, key, now).await?);
    }
    Ok(claimed)
}

/// The joins one at a time, each in its own savepoint so a refusal undoes only itself; the confirmations are
/// recorded together at the end.
async fn one_by_one(tx: &mut Tx, asks: &[Ask], now: i64) -> ApiResult<Vec<ApiResult<Uuid>>> {
    let mut outcomes: Vec<ApiResult<Uuid>> = Vec::with_capacity(asks.len());
    let mut notes = Vec::new();
    // Challenges found full in this transaction. It only adds participants, so a seat cannot free up before it
    // commits: later joins into them are refused at the cost of one read (whether the person is already in,
    // which is the answer that takes precedence) instead of a savepoint and the seat update each.
    let mut full: HashSet<Uuid> = HashSet::new();
    for ask in asks {
        let challenge = ask.challenge;
        if full.contains(&challenge) {
            let inside = store::challenges::active_participation(tx, challenge, ask.user.as_uuid()).await?;
            outcomes.push(Err(if inside.is_some() { already_joined() } else { challenge_full() }));
            continue;
        }
        savepoint(tx, "SAVEPOINT join_one").await?;
        match take_part(tx, challenge, ask.user, now).await {
            Ok(row) => {
                savepoint(tx, "RELEASE SAVEPOINT join_one").await?;
                notes.push(join_note(&row, ask.user));
                outcomes.push(Ok(challenge));
            }
            Err(e) => {
                savepoint(tx, "ROLLBACK TO SAVEPOINT join_one").await?;
                savepoint(tx, "RELEASE SAVEPOINT join_one").await?;
                if e.code == ErrorCode::ChallengeFull {
                    full.insert(challenge);
                }
                outcomes.push(Err(e));
            }
        }
    }
    notify::record_many(tx, notify::Kind::JoinConfirmed, JOIN_TITLE, &notes, now).await?;
    Ok(outcomes)
}

async fn savepoint(tx: &mut Tx, sql: &str) -> ApiResult<()> {
    crate::on_conn!(tx, c => sqlx::query(sql).execute(&mut *c).await.map_err(crate::store::StoreError::from)?.rows_affected());
    Ok(())
}
