//! The payment flow's background work, each a step function (claim a batch, process, mark) that the worker loop
//! repeats and tests call directly: credit paid orders, reconcile UNKNOWN orders with Toss, cancel refunds at
//! Toss, and compensate payments our side could not complete.

use chrono::Utc;
use nene_shared::Points;
use nene_shared::UserId;
use nene_shared::ledger::{LotSource, TransferKind};
use nene_shared::payments::OrderStatus;
use serde::{Deserialize, Serialize};

use super::{COMPENSATE, CREDIT_CHARGE, CancelPayload, TOSS_CANCEL, confirm_key, refund_status};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::integrations::toss::{TossError, TossPayment, TossStatus};
use crate::ledger::{self, AccountId, LedgerError};
use crate::notify;
use crate::store::outbox::OutboxRow;
use crate::store::{self, StoreResult};

/// How long a claimed item or order is reserved for one worker (real time).
const LEASE_MS: i64 = 30_000;
const BATCH: i64 = 50;

/// Delay before the reconciler's next look-up of an UNKNOWN order, growing with each try and capped at 10 min.
pub fn check_delay_ms(attempts: i64) -> i64 {
    const STEPS: [i64; 6] = [5_000, 15_000, 30_000, 60_000, 120_000, 300_000];
    usize::try_from(attempts).ok().and_then(|i| STEPS.get(i).copied()).unwrap_or(600_000)
}

/// Delay before an outbox item is tried again after a failure.
fn retry_delay_ms(attempts: i64) -> i64 {
    const STEPS: [i64; 5] = [2_000, 10_000, 60_000, 300_000, 900_000];
    usize::try_from(attempts.saturating_sub(1)).ok().and_then(|i| STEPS.get(i).copied()).unwrap_or(3_600_000)
}

fn domain_now(state: &AppState) -> i64 {
    state.clock.now().timestamp_millis()
}

fn real_now() -> i64 {
    Utc::now().timestamp_millis()
}

/// How a confirm answer left the order.
#[derive(Debug)]
pub enum Settled {
    Paid,
    Unknown,
    Failed { message: String },
    TryAgain { message: String },
}

impl Settled {
    pub fn label(&self) -> &'static str {
        match self {
            Settled::Paid => "paid",
            Settled::Unknown => "unknown",
            Settled::Failed { .. } => "failed",
            Settled::TryAgain { .. } => "try_again",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct OrderPayload {
    order_id: String,
}

#[derive(Serialize, Deserialize)]
struct CompensatePayload {
    order_id: String,
    payment_key: String,
    key_attempt: i64,
}

/// Applies Toss's answer to confirm attempt `attempt` of an UNKNOWN order.
pub async fn settle_confirm(
    state: &AppState,
    order_id: &str,
    attempt: i64,
    result: Result<TossPayment, TossError>,
) -> ApiResult<Settled> {
    match result {
        Ok(payment) if payment.status == TossStatus::Done => {
            Ok(if record_done(state, order_id, &payment).await? { Settled::Paid } else { Settled::Unknown })
        }
        Ok(payment) => {
            // Accepted but not finished (a virtual account awaiting deposit): the reconciler follows it.
            tracing::info!(order_id, status = ?payment.status, "confirm answered without DONE");
            schedule_check(state, order_id).await?;
            Ok(Settled::Unknown)
        }
        // Toss already processed this payment: a confirm of ours got through before. Look it up.
        Err(TossError::Rejected { code, .. }) if code == "ALREADY_PROCESSED_PAYMENT" => {
            schedule_check_now(state, order_id).await?;
            Ok(Settled::Unknown)
        }
        Err(e @ TossError::Rejected { .. }) if e.is_temporary() => {
            reopen(state, order_id, attempt).await?;
            Ok(Settled::TryAgain { message: "The payment company is busy. Please try again.".into() })
        }
        Err(TossError::Rejected { code, message, .. }) => {
            record_failed(state, order_id, &code, &message).await?;
            Ok(Settled::Failed { message })
        }
        Err(TossError::Unreachable(e) | TossError::Config(e)) => {
            tracing::warn!(order_id, error = %e, "confirm not sent");
            reopen(state, order_id, attempt).await?;
            Ok(Settled::TryAgain { message: "The payment company could not be reached. Please try again.".into() })
        }
        Err(TossError::Unknown(e)) => {
            tracing::warn!(order_id, error = %e, "confirm outcome unknown; the reconciler will find out");
            schedule_check(state, order_id).await?;
            Ok(Settled::Unknown)
        }
    }
}

/// Toss says DONE: the order becomes PAID and the credit is queued in the same transaction. When the payment does
/// not match the order, the payment is cancelled at Toss instead. Returns whether the order is (now) paid.
async fn record_done(state: &AppState, order_id: &str, payment: &TossPayment) -> ApiResult<bool> {
    let now = real_now();
    let mut tx = state.db.begin_write().await?;
    let Some(mut order) = store::payments::lock_order(&mut tx, order_id).await? else { return Ok(false) };
    let status = OrderStatus::parse(&order.status);
    if !matches!(status, Some(OrderStatus::Unknown | OrderStatus::Ready)) {
        return Ok(matches!(
            status,
            Some(OrderStatus::Paid | OrderStatus::Credited | OrderStatus::PartiallyRefunded | OrderStatus::Refunded)
        ));
    }
    if order.payment_key.as_deref().is_some_and(|k| k != payment.payment_key) {
        tracing::error!(order_id, "Toss reports a different payment for this order; leaving it to an operator");
        return Ok(false);
    }
    order.payment_key = Some(payment.payment_key.clone());
    order.method = payment.method.clone();
    order.approved_at = Some(now);
    order.updated_at = now;
    order.next_check_at = None;
    if payment.total_amount != order.amount {
        tracing::error!(order_id, toss = payment.total_amount, ours = order.amount, "amounts disagree; compensating");
        order.status = OrderStatus::Cancelled.as_str().into();
        order.failure_code = Some("AMOUNT_MISMATCH".into());
        order.failure_message = Some("The paid amount did not match the order; the payment was cancelled.".into());
        store::payments::save_order(&mut tx, &order).await?;
        enqueue_compensation(state, &mut tx, order_id, &payment.payment_key, now).await?;
        tx.commit().await?;
        return Ok(false);
    }
    order.status = OrderStatus::Paid.as_str().into();
    store::payments::save_order(&mut tx, &order).await?;
    let payload =
        serde_json::to_string(&OrderPayload { order_id: order_id.into() }).map_err(|e| ApiError::internal(&e))?;
    store::outbox::enqueue(&mut tx, CREDIT_CHARGE, &format!("credit:{order_id}"), &payload, domain_now(state), now)
        .await?;
    tx.commit().await?;
    state.wake.notify_waiters();
    Ok(true)
}

async fn enqueue_compensation(
    state: &AppState,
    tx: &mut store::Tx,
    order_id: &str,
    payment_key: &str,
    now: i64,
) -> ApiResult<()> {
    let payload = CompensatePayload { order_id: order_id.into(), payment_key: payment_key.into(), key_attempt: 0 };
    let payload = serde_json::to_string(&payload).map_err(|e| ApiError::internal(&e))?;
    store::outbox::enqueue(tx, COMPENSATE, &format!("compensate:{order_id}"), &payload, domain_now(state), now).await?;
    Ok(())
}

/// Toss refused definitively: nothing was charged.
async fn record_failed(state: &AppState, order_id: &str, code: &str, message: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    let Some(mut order) = store::payments::lock_order(&mut tx, order_id).await? else { return Ok(()) };
    if matches!(OrderStatus::parse(&order.status), Some(OrderStatus::Unknown | OrderStatus::Ready)) {
        let now = real_now();
        order.status = OrderStatus::Failed.as_str().into();
        order.failure_code = Some(code.into());
        order.failure_message = Some(message.into());
        order.next_check_at = None;
        order.updated_at = now;
        store::payments::save_order(&mut tx, &order).await?;
        notify::record(
            &mut tx,
            order.user_id,
            notify::Kind::PaymentResult,
            "결제 실패",
            &format!("{} 결제가 완료되지 않았어요: {message}", Points::new(order.amount).display()),
            &[("order_id", order.id.clone()), ("status", "FAILED".into())],
            now,
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The confirm surely did not go through (not sent, or a temporary refusal): the order may be confirmed again,
/// with the next attempt's key.
async fn reopen(state: &AppState, order_id: &str, attempt: i64) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    let Some(mut order) = store::payments::lock_order(&mut tx, order_id).await? else { return Ok(()) };
    if OrderStatus::parse(&order.status) == Some(OrderStatus::Unknown) && order.confirm_attempt == attempt {
        order.status = OrderStatus::Ready.as_str().into();
        order.next_check_at = None;
        order.updated_at = real_now();
        store::payments::save_order(&mut tx, &order).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn schedule_check(state: &AppState, order_id: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    let Some(mut order) = store::payments::lock_order(&mut tx, order_id).await? else { return Ok(()) };
    if OrderStatus::parse(&order.status) == Some(OrderStatus::Unknown) {
        order.next_check_at = Some(domain_now(state) + check_delay_ms(order.check_attempts));
        order.check_attempts += 1;
        order.updated_at = real_now();
        store::payments::save_order(&mut tx, &order).await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn schedule_check_now(state: &AppState, order_id: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    let Some(mut order) = store::payments::lock_order(&mut tx, order_id).await? else { return Ok(()) };
    if OrderStatus::parse(&order.status) == Some(OrderStatus::Unknown) {
        order.next_check_at = Some(domain_now(state));
        store::payments::save_order(&mut tx, &order).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Toss's reason for a payment that did not complete, or its status when it gives none.
fn failure_of(payment: &TossPayment) -> (String, String) {
    payment.failure.as_ref().map_or_else(
        || (format!("{:?}", payment.status).to_uppercase(), "The payment was not completed.".to_owned()),
        |f| (f.code.clone(), f.message.clone()),
    )
}

/// Applies what Toss says about a payment (from a look-up or a re-read webhook) to its order.
pub async fn apply_toss_state(state: &AppState, payment: &TossPayment) -> ApiResult<()> {
    match payment.status {
        TossStatus::Done => {
            record_done(state, &payment.order_id, payment).await?;
        }
        TossStatus::Aborted | TossStatus::Expired => {
            let (code, message) = failure_of(payment);
            record_failed(state, &payment.order_id, &code, &message).await?;
        }
        TossStatus::Canceled | TossStatus::PartialCanceled => {
            let mut tx = state.db.begin_read().await?;
            if let Some(order) = store::payments::order(&mut tx, &payment.order_id).await? {
                let cancelled_at_toss = payment.total_amount - payment.balance_amount;
                let ours = order.refunded_amount;
                if cancelled_at_toss > ours && order.status != OrderStatus::Cancelled.as_str() {
                    // A cancel made outside this server (e.g. Toss's console): the points are still in the wallet.
                    metrics::counter!("payments_external_cancel_total").increment(1);
                    tracing::error!(order_id = %order.id, cancelled_at_toss, ours, "payment cancelled outside NeNe; needs an operator");
                }
            }
        }
        _ => {}
    }
    Ok(())
}

// ---- credit ------------------------------------------------------------------------------------------------

/// Credits paid orders' points. Returns how many items it handled.
pub async fn credit_step(state: &AppState) -> StoreResult<usize> {
    let rows = claim(state, CREDIT_CHARGE).await?;
    for row in &rows {
        if let Err(e) = credit_one(state, row).await {
            tracing::warn!(key = %row.key, error = %e, "credit failed; will retry");
            release(state, row, &e.to_string(), None).await?;
        }
    }
    Ok(rows.len())
}

async fn credit_one(state: &AppState, row: &OutboxRow) -> ApiResult<()> {
    let payload: OrderPayload = serde_json::from_str(&row.payload).map_err(|e| ApiError::internal(&e))?;
    let now = real_now();
    let mut tx = state.db.begin_write().await?;
    let Some(mut order) = store::payments::lock_order(&mut tx, &payload.order_id).await? else {
        store::outbox::fail(&mut tx, row.id, "order vanished", now).await?;
        tx.commit().await?;
        return Ok(());
    };
    if OrderStatus::parse(&order.status) != Some(OrderStatus::Paid) {
        store::outbox::complete(&mut tx, row.id, now).await?;
        tx.commit().await?;
        return Ok(());
    }
    let user = UserId::from_uuid(order.user_id);
    let credited = ledger::credit_lot(
        &mut tx,
        &format!("charge:{}", order.id),
        TransferKind::Charge,
        &AccountId::payments_toss(),
        user,
        Points::new(order.amount),
        LotSource::Charge,
        Some(&order.id),
        &order.id,
        now,
    )
    .await;
    match credited {
        Ok(_) => {
            order.status = OrderStatus::Credited.as_str().into();
            order.credited_at = Some(now);
            notify::record(
                &mut tx,
                order.user_id,
                notify::Kind::PaymentResult,
                "포인트 충전 완료",
                &format!("{} 충전됐어요.", Points::new(order.amount).display()),
                &[("order_id", order.id.clone()), ("status", "CREDITED".into())],
                now,
            )
            .await?;
        }
        Err(LedgerError::WalletLimit { .. }) => {
            // Toss has the money but the points cannot go in: give the money back.
            tracing::warn!(order_id = %order.id, "wallet limit reached at credit; compensating");
            order.status = OrderStatus::Cancelled.as_str().into();
            order.failure_code = Some("WALLET_LIMIT_EXCEEDED".into());
            order.failure_message = Some("The wallet is full; the payment was cancelled.".into());
            if let Some(key) = order.payment_key.clone() {
                enqueue_compensation(state, &mut tx, &order.id, &key, now).await?;
            }
        }
        Err(e) => return Err(e.into()),
    }
    order.updated_at = now;
    store::payments::save_order(&mut tx, &order).await?;
    store::outbox::complete(&mut tx, row.id, now).await?;
    tx.commit().await?;
    metrics::counter!("payments_credited_total").increment(1);
    Ok(())
}

async fn claim(state: &AppState, kind: &str) -> StoreResult<Vec<OutboxRow>> {
    let mut tx = state.db.begin_write().await?;
    let rows = store::outbox::claim(&mut tx, kind, domain_now(state), real_now(), LEASE_MS, BATCH).await?;
    tx.commit().await?;
    Ok(rows)
}

async fn release(state: &AppState, row: &OutboxRow, error: &str, payload: Option<&str>) -> StoreResult<()> {
    let mut tx = state.db.begin_write().await?;
    let due = domain_now(state) + retry_delay_ms(row.attempts);
    store::outbox::retry(&mut tx, row.id, due, error, payload, real_now()).await?;
    tx.commit().await?;
    metrics::counter!("outbox_retries_total", "kind" => row.kind.clone()).increment(1);
    Ok(())
}

// ---- reconcile ---------------------------------------------------------------------------------------------

/// Asks Toss about UNKNOWN orders that are due. Returns how many it looked at.
pub async fn reconcile_step(state: &AppState) -> StoreResult<usize> {
    let Some(payments) = state.payments.as_deref() else { return Ok(0) };
    let mut tx = state.db.begin_write().await?;
    let ids = store::payments::claim_unknown(&mut tx, domain_now(state), LEASE_MS, BATCH).await?;
    tx.commit().await?;
    for id in &ids {
        if let Err(e) = reconcile_one(state, payments, id).await {
            tracing::warn!(order_id = %id, error = %e, "reconcile failed; will retry");
        }
    }
    Ok(ids.len())
}

async fn reconcile_one(state: &AppState, payments: &super::Payments, id: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_read().await?;
    let Some(order) = store::payments::order(&mut tx, id).await? else { return Ok(()) };
    drop(tx);
    if OrderStatus::parse(&order.status) != Some(OrderStatus::Unknown) {
        return Ok(());
    }
    let Some(payment_key) = order.payment_key.clone() else {
        return record_failed(state, id, "NOT_CONFIRMED", "The payment was never confirmed.").await;
    };
    let outcome = match payments.toss.payment_by_order(id).await {
        Ok(payment) if payment.status == TossStatus::Done => {
            record_done(state, id, &payment).await?;
            "paid"
        }
        Ok(payment) if matches!(payment.status, TossStatus::Aborted | TossStatus::Expired | TossStatus::Canceled) => {
            let (code, message) = failure_of(&payment);
            record_failed(state, id, &code, &message).await?;
            "failed"
        }
        // Not confirmed at Toss (yet): repeat our confirm with the same key. If Toss processed it, it answers the
        // first answer; if not, it processes it now.
        Ok(_) | Err(TossError::Rejected { status: 404, .. }) => {
            let key = confirm_key(id, order.confirm_attempt);
            let result = payments.toss.confirm(&payment_key, id, order.amount, &key).await;
            match result {
                Err(e @ TossError::Rejected { .. }) if e.is_temporary() => {
                    bump_attempt(state, id).await?;
                    "retry"
                }
                other => settle_confirm(state, id, order.confirm_attempt, other).await?.label(),
            }
        }
        Err(e) => {
            tracing::warn!(order_id = id, error = %e, "Toss look-up failed");
            schedule_check(state, id).await?;
            "unknown"
        }
    };
    metrics::counter!("payments_reconciled_total", "outcome" => outcome).increment(1);
    Ok(())
}

/// After a definite temporary refusal the same key would only replay it: the next try uses a new attempt's key.
async fn bump_attempt(state: &AppState, id: &str) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    if let Some(mut order) = store::payments::lock_order(&mut tx, id).await?
        && OrderStatus::parse(&order.status) == Some(OrderStatus::Unknown)
    {
        order.confirm_attempt += 1;
        order.next_check_at = Some(domain_now(state) + check_delay_ms(order.check_attempts));
        order.check_attempts += 1;
        store::payments::save_order(&mut tx, &order).await?;
        tx.commit().await?;
    }
    Ok(())
}

// ---- refunds at Toss ---------------------------------------------------------------------------------------

pub enum CancelOutcome {
    Done,
    Pending,
    Refused { message: String },
}

/// Processes one refund's cancel right away (the request's fast path).
pub async fn cancel_now(state: &AppState, refund_id: &str) -> ApiResult<CancelOutcome> {
    let mut tx = state.db.begin_write().await?;
    let row = store::outbox::claim_key(&mut tx, refund_id, real_now(), LEASE_MS).await?;
    tx.commit().await?;
    match row {
        Some(row) => cancel_one(state, &row).await,
        None => Ok(CancelOutcome::Pending),
    }
}

/// Sends due refund cancels to Toss. Returns how many it handled.
pub async fn cancel_step(state: &AppState) -> StoreResult<usize> {
    let rows = claim(state, TOSS_CANCEL).await?;
    for row in &rows {
        if let Err(e) = cancel_one(state, row).await {
            tracing::warn!(key = %row.key, error = %e, "refund cancel failed; will retry");
            release(state, row, &e.to_string(), None).await?;
        }
    }
    Ok(rows.len())
}

async fn cancel_one(state: &AppState, row: &OutboxRow) -> ApiResult<CancelOutcome> {
    let Some(payments) = state.payments.as_deref() else {
        release(state, row, "payments switched off", None).await?;
        return Ok(CancelOutcome::Pending);
    };
    let mut payload: CancelPayload = serde_json::from_str(&row.payload).map_err(|e| ApiError::internal(&e))?;
    let key = format!("cancel-{}-{}", payload.refund_id.replace(':', "-"), payload.key_attempt);
    let result = payments.toss.cancel(&payload.payment_key, &payload.reason, Some(payload.amount), &key).await;
    let now = real_now();
    match result {
        Ok(_) => {
            let mut tx = state.db.begin_write().await?;
            store::payments::set_refund_status(&mut tx, &payload.refund_id, "DONE", now).await?;
            store::outbox::complete(&mut tx, row.id, now).await?;
            tx.commit().await?;
            metrics::counter!("payments_refunded_total").increment(1);
            Ok(CancelOutcome::Done)
        }
        Err(e @ TossError::Rejected { .. }) if e.is_temporary() => {
            payload.key_attempt += 1;
            let next = serde_json::to_string(&payload).map_err(|e| ApiError::internal(&e))?;
            release(state, row, &e.to_string(), Some(&next)).await?;
            Ok(CancelOutcome::Pending)
        }
        Err(TossError::Rejected { code, message, .. }) => {
            // Toss will not pay this back: the points return to the very lot they left.
            tracing::error!(refund = %payload.refund_id, code, "Toss refused a refund; giving the points back");
            let mut tx = state.db.begin_write().await?;
            ledger::reverse_spend(
                &mut tx,
                &format!("undo:{}", payload.refund_id),
                TransferKind::Adjustment,
                &payload.refund_id,
                &payload.order_id,
                now,
            )
            .await?;
            if let Some(mut order) = store::payments::lock_order(&mut tx, &payload.order_id).await? {
                order.refunded_amount -= payload.amount;
                order.status = refund_status(&order).as_str().into();
                order.updated_at = now;
                store::payments::save_order(&mut tx, &order).await?;
            }
            store::payments::set_refund_status(&mut tx, &payload.refund_id, "FAILED", now).await?;
            store::outbox::fail(&mut tx, row.id, &format!("{code}: {message}"), now).await?;
            tx.commit().await?;
            Ok(CancelOutcome::Refused { message })
        }
        Err(e) => {
            // Unknown or not sent: the same key tells us later what happened.
            release(state, row, &e.to_string(), None).await?;
            Ok(CancelOutcome::Pending)
        }
    }
}

// ---- compensation ------------------------------------------------------------------------------------------

/// Cancels at Toss payments our side could not complete. Returns how many it handled.
pub async fn compensate_step(state: &AppState) -> StoreResult<usize> {
    let rows = claim(state, COMPENSATE).await?;
    for row in &rows {
        if let Err(e) = compensate_one(state, row).await {
            tracing::warn!(key = %row.key, error = %e, "compensation failed; will retry");
            release(state, row, &e.to_string(), None).await?;
        }
    }
    Ok(rows.len())
}

async fn compensate_one(state: &AppState, row: &OutboxRow) -> ApiResult<()> {
    let Some(payments) = state.payments.as_deref() else {
        release(state, row, "payments switched off", None).await?;
        return Ok(());
    };
    let mut payload: CompensatePayload = serde_json::from_str(&row.payload).map_err(|e| ApiError::internal(&e))?;
    let key = format!("compensate-{}-{}", payload.order_id, payload.key_attempt);
    let result = payments.toss.cancel(&payload.payment_key, "포인트 적립 실패로 결제 취소", None, &key).await;
    let now = real_now();
    match result {
        Ok(_) => {}
        Err(TossError::Rejected { code, .. }) if code == "ALREADY_CANCELED_PAYMENT" => {}
        Err(e @ TossError::Rejected { .. }) if e.is_temporary() => {
            payload.key_attempt += 1;
            let next = serde_json::to_string(&payload).map_err(|e| ApiError::internal(&e))?;
            release(state, row, &e.to_string(), Some(&next)).await?;
            return Ok(());
        }
        Err(TossError::Rejected { code, message, .. }) => {
            tracing::error!(order_id = %payload.order_id, code, message, "compensation refused by Toss; needs an operator");
            let mut tx = state.db.begin_write().await?;
            store::outbox::fail(&mut tx, row.id, &format!("{code}: {message}"), now).await?;
            tx.commit().await?;
            return Ok(());
        }
        Err(e) => {
            release(state, row, &e.to_string(), None).await?;
            return Ok(());
        }
    }
    let mut tx = state.db.begin_write().await?;
    store::outbox::complete(&mut tx, row.id, now).await?;
    tx.commit().await?;
    metrics::counter!("payments_compensated_total").increment(1);
    Ok(())
}
