//! Group commit for joins. Under a storm every join wants the same hot rows (the challenge's seat count, its
//! escrow) and a durable commit each; one writer per process instead takes every join waiting at that moment and
//! commits them in one transaction, each in its own savepoint, so one refusal (full, already joined, not enough
//! points) undoes only itself. Each caller still gets its own answer, only after the commit that made it durable.
//!
//! Correctness is unchanged: the same conditional seat update, unique index and ledger transfer decide every
//! join, inside the database, so several instances (each batching its own requests) stay exact.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use nene_shared::UserId;
use nene_shared::challenges::{Challenge, ChallengeId};
use nene_shared::error::ErrorCode;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{JOIN_TITLE, already_joined, challenge_full, join_note, load, take_part, view};
use crate::error::{ApiError, ApiResult};
use crate::notify;
use crate::store::{self, Db, Tx};

/// The most joins committed together.
const MAX_BATCH: usize = 512;

struct Job {
    challenge: ChallengeId,
    user: UserId,
    reply: oneshot::Sender<ApiResult<Challenge>>,
}

/// The queue into the join writer.
#[derive(Clone)]
pub struct JoinBatcher {
    jobs: mpsc::Sender<Job>,
}

impl JoinBatcher {
    /// Starts the writer task (it ends when the last handle is dropped).
    pub fn start(db: Db) -> Self {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(db, rx));
        JoinBatcher { jobs }
    }

    pub async fn join(&self, challenge: ChallengeId, user: UserId) -> ApiResult<Challenge> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { challenge, user, reply })
            .await
            .map_err(|_| ApiError::internal(&"the join writer has stopped"))?;
        answer.await.map_err(|_| ApiError::internal(&"the join writer dropped a request"))?
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit_batch(&db, std::mem::take(&mut batch)).await;
        metrics::counter!("join_batches_total").increment(1);
    }
}

async fn commit_batch(db: &Db, jobs: Vec<Job>) {
    let size = jobs.len();
    metrics::histogram!("join_batch_size").record(size as f64);
    match run_batch(db, &jobs).await {
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
                let answer = run_batch(db, std::slice::from_ref(&job))
                    .await
                    .and_then(|mut a| a.pop().unwrap_or_else(|| Err(ApiError::internal(&"empty batch answer"))));
                let _ = job.reply.send(answer);
            }
        }
    }
}

/// Runs the jobs in one transaction, each in a savepoint. The outer error means the transaction did not commit.
/// The confirmations of the batch's joins are recorded together at the end, and each challenge joined is read
/// once for the answers, so each answer shows the challenge as the batch's commit leaves it.
async fn run_batch(db: &Db, jobs: &[Job]) -> ApiResult<Vec<ApiResult<Challenge>>> {
    let now = Utc::now().timestamp_millis();
    let mut tx = db.begin_write().await?;
    let mut outcomes: Vec<ApiResult<Uuid>> = Vec::with_capacity(jobs.len());
    let mut notes = Vec::new();
    // Challenges found full in this transaction. It only adds participants, so a seat cannot free up before it
    // commits: later joins into them are refused at the cost of one read (whether the person is already in,
    // which is the answer that takes precedence) instead of a savepoint and the seat update each.
    let mut full: HashSet<Uuid> = HashSet::new();
    for job in jobs {
        let challenge = job.challenge.as_uuid();
        if full.contains(&challenge) {
            let inside = store::challenges::active_participation(&mut tx, challenge, job.user.as_uuid()).await?;
            outcomes.push(Err(if inside.is_some() { already_joined() } else { challenge_full() }));
            continue;
        }
        savepoint(&mut tx, "SAVEPOINT join_one").await?;
        match take_part(&mut tx, challenge, job.user, now).await {
            Ok(row) => {
                savepoint(&mut tx, "RELEASE SAVEPOINT join_one").await?;
                notes.push(join_note(&row, job.user));
                outcomes.push(Ok(challenge));
            }
            Err(e) => {
                savepoint(&mut tx, "ROLLBACK TO SAVEPOINT join_one").await?;
                savepoint(&mut tx, "RELEASE SAVEPOINT join_one").await?;
                if e.code == ErrorCode::ChallengeFull {
                    full.insert(challenge);
                }
                outcomes.push(Err(e));
            }
        }
    }
    notify::record_many(&mut tx, notify::Kind::JoinConfirmed, JOIN_TITLE, &notes, now).await?;
    let mut joined: HashMap<Uuid, Challenge> = HashMap::new();
    for id in outcomes.iter().flatten() {
        if !joined.contains_key(id) {
            let row = load(&mut tx, *id).await?;
            joined.insert(*id, view(&row, true));
        }
    }
    tx.commit().await.map_err(|e| if e.unique_violation().is_some() { already_joined() } else { e.into() })?;
    let answers = outcomes
        .into_iter()
        .map(|outcome| {
            outcome.and_then(|id| {
                joined.get(&id).cloned().ok_or_else(|| ApiError::internal(&"a joined challenge was not read back"))
            })
        })
        .collect();
    Ok(answers)
}

async fn savepoint(tx: &mut Tx, sql: &str) -> ApiResult<()> {
    crate::on_conn!(tx, c => sqlx::query(sql).execute(&mut *c).await.map_err(crate::store::StoreError::from)?.rows_affected());
    Ok(())
}
