//! Push notifications through FCM: device tokens, and the durable delivery queue.
//!
//! Every notification is a row in the inbox; each device it goes to is a delivery row written in the same
//! transaction as the notification (see `store::notifications::insert`). The worker claims due deliveries in
//! batches under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so instances never share one), sends them
//! concurrently, and records each outcome: SENT; DROPPED for a dead token (the device is forgotten and nothing more
//! is sent to it); retried with exponential backoff and jitter (honouring Retry-After) for transient failures; and
//! FAILED after the last try or for a request FCM calls malformed. Nothing is lost by a restart: a claimed delivery
//! whose worker died becomes due again when its lease runs out — the only duplicate possible is a send whose answer
//! arrived just before the process died, since FCM takes no idempotency key.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use nene_shared::notifications::RegisterDeviceRequest;
use nene_shared::{ErrorCode, FieldCode, UserId};
use rand::Rng;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::integrations::fcm::{FcmClient, Message, SendOutcome};
use crate::store::notifications::DeliveryRow;
use crate::store::{self, StoreResult};

/// Push, when switched on.
pub struct Push {
    pub fcm: FcmClient,
}

/// One first try and three retries.
pub const MAX_ATTEMPTS: i64 = 4;
/// Base delays before retry 1, 2 and 3 (±20 % jitter, so a burst of failures does not retry in lockstep).
const BACKOFF: [Duration; 3] = [Duration::from_secs(10), Duration::from_secs(60), Duration::from_secs(300)];
const LEASE_MS: i64 = 60_000;
/// Deliveries claimed together. Bigger batches made the benchmark slower, not faster: the sends are CPU-bound on
/// loopback, and a batch waits for its slowest send.
const BATCH: i64 = 500;
/// Sends in flight at once. More than this only adds connections and scheduling, as measured by `nene-bench`.
const CONCURRENCY: usize = 64;
/// Batches one [`deliver_step`] sends before it returns to the worker loop.
pub const MAX_BATCHES_PER_STEP: usize = 40;
/// Devices one person keeps; registering another drops the one registered longest ago. Every notification is a
/// delivery per device, so this bounds what one event can fan out to.
pub const MAX_DEVICES_PER_PERSON: i64 = 10;

fn disabled() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::PushDisabled,
        "Push notifications are switched off on this server; the inbox still has everything.",
    )
}

pub async fn register_device(state: &AppState, user: UserId, req: RegisterDeviceRequest) -> ApiResult<()> {
    if state.push.is_none() {
        return Err(disabled());
    }
    let token = req.token.trim();
    if token.is_empty() || token.len() > 4096 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::validation(BTreeMap::from([("token".to_owned(), FieldCode::Invalid)])));
    }
    let mut tx = state.db.begin_write().await?;
    store::notifications::upsert_device(
        &mut tx,
        token,
        user.as_uuid(),
        req.platform.as_str(),
        Utc::now().timestamp_millis(),
    )
    .await?;
    let dropped = store::notifications::drop_oldest_devices(&mut tx, user.as_uuid(), MAX_DEVICES_PER_PERSON).await?;
    if dropped > 0 {
        tracing::info!(user = %user, dropped, "device limit reached: the devices registered longest ago are forgotten");
    }
    tx.commit().await?;
    Ok(())
}

pub async fn remove_device(state: &AppState, user: UserId, token: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    if !store::notifications::delete_device(&mut tx, token, Some(user.as_uuid())).await? {
        return Err(ApiError::not_found("No such device."));
    }
    tx.commit().await?;
    Ok(())
}

/// The delay before the retry that follows failed attempt number `attempts` (1-based), jittered.
pub fn backoff(attempts: i64, retry_after: Option<Duration>) -> Duration {
    let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(BACKOFF.len() - 1);
    let base = BACKOFF[index];
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    base.mul_f64(jitter).max(retry_after.unwrap_or(Duration::ZERO))
}

fn message(row: &DeliveryRow) -> Message {
    let mut data: BTreeMap<String, String> = serde_json::from_str(&row.data).unwrap_or_default();
    data.insert("kind".into(), row.kind.clone());
    data.insert("notification_id".into(), row.notification_id.to_string());
    Message {
        token: row.device_token.clone(),
        title: row.title.clone(),
        body: row.body.clone(),
        data,
        collapse_key: None,
    }
}

/// Sends the deliveries due now, batch after batch, until none is left (or [`MAX_BATCHES_PER_STEP`] batches have
/// gone, so a worker still sees its stop signal under an endless queue). Returns how many it handled.
///
/// Each batch is claimed with one statement and its outcomes recorded with one statement per kind of outcome, in
/// short transactions of their own; the sends run outside any transaction. The batches overlap: while one batch's
/// messages are on the wire, the previous batch's outcomes are recorded and the next batch is claimed, so the
/// database's commits (an fsync each) are not added to the sending time. That is safe because a claimed delivery
/// stays leased until its outcome is recorded: the next claim cannot take it again.
pub async fn deliver_step(state: &AppState) -> StoreResult<usize> {
    let Some(push) = state.push.as_deref() else { return Ok(0) };
    let mut batch = claim_batch(state).await?;
    let mut handled = 0;
    let mut claimed = 1;
    let mut unrecorded: Vec<(DeliveryRow, SendOutcome)> = Vec::new();
    while !batch.is_empty() {
        let claim_next = claimed < MAX_BATCHES_PER_STEP;
        let previous = std::mem::take(&mut unrecorded);
        let (sent, next) = tokio::join!(send_batch(push, batch), async {
            record_outcomes(state, &previous).await?;
            if claim_next { claim_batch(state).await } else { Ok(Vec::new()) }
        });
        handled += sent.len();
        unrecorded = sent;
        match next {
            Ok(next) => batch = next,
            Err(e) => {
                // What went out is recorded if the database lets us; otherwise the leases run out and those
                // deliveries are tried again, as after a crash.
                let _ = record_outcomes(state, &unrecorded).await;
                return Err(e);
            }
        }
        claimed += 1;
    }
    record_outcomes(state, &unrecorded).await?;
    Ok(handled)
}

/// Claims the next batch of due deliveries (one statement, its own short transaction).
async fn claim_batch(state: &AppState) -> StoreResult<Vec<DeliveryRow>> {
    let domain_now = state.clock.now().timestamp_millis();
    let real_now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    let rows = store::notifications::claim(&mut tx, domain_now, real_now, LEASE_MS, BATCH).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Sends one batch, [`CONCURRENCY`] messages at a time.
async fn send_batch(push: &Push, rows: Vec<DeliveryRow>) -> Vec<(DeliveryRow, SendOutcome)> {
    futures::stream::iter(rows)
        .map(|row| async move {
            let outcome = push.fcm.send(&message(&row)).await;
            (row, outcome)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// Records a batch's outcomes in one transaction: SENT; retried with backoff; FAILED after the last try or when
/// FCM calls the message malformed; DROPPED for a dead token, whose device is then forgotten along with every
/// delivery still waiting for it (last, so a delivery of this batch that did go out stays SENT).
async fn record_outcomes(state: &AppState, outcomes: &[(DeliveryRow, SendOutcome)]) -> StoreResult<()> {
    use store::notifications::{Failure, Retry};
    if outcomes.is_empty() {
        return Ok(());
    }
    let now = Utc::now().timestamp_millis();
    let domain_now = state.clock.now().timestamp_millis();
    let mut sent = Vec::new();
    let mut retries = Vec::new();
    let mut failed = Vec::new();
    let mut dropped = Vec::new();
    let mut dead_tokens: BTreeMap<&str, &str> = BTreeMap::new();
    let (mut exhausted, mut rejected) = (0u64, 0u64);
    for (row, outcome) in outcomes {
        match outcome {
            SendOutcome::Delivered { .. } => sent.push(row.id),
            SendOutcome::DeadToken { reason } => {
                dropped.push(Failure { id: row.id, error: reason });
                dead_tokens.entry(row.device_token.as_str()).or_insert(reason);
            }
            SendOutcome::RetryLater { retry_after, reason } if row.attempts < MAX_ATTEMPTS => {
                let due =
                    domain_now + i64::try_from(backoff(row.attempts, *retry_after).as_millis()).unwrap_or(i64::MAX / 2);
                retries.push(Retry { id: row.id, due, error: reason });
            }
            SendOutcome::RetryLater { reason, .. } => {
                tracing::warn!(delivery = row.id, reason, "push failed after every retry");
                failed.push(Failure { id: row.id, error: reason });
                exhausted += 1;
            }
            SendOutcome::Rejected { reason } => {
                tracing::error!(delivery = row.id, reason, "FCM refused a message as malformed");
                failed.push(Failure { id: row.id, error: reason });
                rejected += 1;
            }
        }
    }
    let mut tx = state.db.begin_write().await?;
    store::notifications::mark_sent(&mut tx, &sent, now).await?;
    store::notifications::mark_retry(&mut tx, &retries, now).await?;
    store::notifications::mark_failed(&mut tx, &failed, "FAILED", now).await?;
    store::notifications::mark_failed(&mut tx, &dropped, "DROPPED", now).await?;
    for (token, reason) in &dead_tokens {
        store::notifications::drop_token(&mut tx, token, reason, now).await?;
    }
    tx.commit().await?;
    metrics::counter!("push_sent_total").increment(sent.len() as u64);
    metrics::counter!("push_retries_total").increment(retries.len() as u64);
    metrics::counter!("push_failures_total", "reason" => "dead_token").increment(dropped.len() as u64);
    metrics::counter!("push_failures_total", "reason" => "exhausted").increment(exhausted);
    metrics::counter!("push_failures_total", "reason" => "rejected").increment(rejected);
    Ok(())
}

/// Publishes the delivery queue by status (for dashboards and alerts on a growing backlog).
pub async fn record_queue_metrics(state: &AppState) -> StoreResult<usize> {
    let mut tx = state.db.begin_read().await?;
    for (status, n) in store::notifications::delivery_counts(&mut tx).await? {
        metrics::gauge!("push_deliveries", "status" => status).set(n as f64);
    }
    Ok(0)
}
