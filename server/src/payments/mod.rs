//! Charging points by card through TossPayments (domain.md, "Payments"), end to end:
//!
//! 1. `create_order` stores a READY order with a fresh orderId; the client opens Toss's widget with it.
//! 2. `confirm` checks the amount against the stored order (Toss is not called when it differs), marks the order
//!    UNKNOWN ("sent, answer not known yet") and calls Toss confirm with an Idempotency-Key of that attempt.
//! 3. On DONE the order becomes PAID and, in the same transaction, an outbox item "credit points" is written; the
//!    worker credits the wallet (idempotent on the orderId) and the order becomes CREDITED. The person gets the
//!    answer without waiting for the credit.
//! 4. When the answer is unknown (timeout, cut connection) the order stays UNKNOWN and the reconciler asks Toss by
//!    orderId — or repeats the confirm with the same key, which Toss answers with its first answer — until Toss
//!    says one way or the other. An order is never failed without Toss's word, so money cannot be taken without
//!    points.
//! 5. When our side cannot complete after Toss took the money (the wallet would exceed its limit, the amounts
//!    disagree), the payment is cancelled at Toss (compensation) and the order CANCELLED.
//! 6. `cancel` pays the unspent part of one charge back to the card: the points leave the wallet first (so they
//!    cannot be spent meanwhile), then Toss cancels that amount; should Toss refuse, the points come back. A refund
//!    asked with an Idempotency-Key is recorded with that key in the same transaction that moves the points, so a
//!    retry of the request (after a lost answer, an error on our side, a restart) finds it and answers from it:
//!    each request refunds at most once, by construction.

pub mod worker;

use axum::http::StatusCode;
use chrono::Utc;
use nene_shared::page::{Page, PageQuery};
use nene_shared::payments::{
    CancelOrderRequest, ConfirmRequest, CreateOrderRequest, MAX_CHARGE, MAX_WALLET_BALANCE, MIN_CHARGE, OrderCreated,
    OrderStatus, PaymentFailure, PaymentOrder,
};
use nene_shared::{ErrorCode, FieldCode, Points, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::integrations::toss::{TossClient, TossError};
use crate::ledger::{self, AccountId};
use crate::store::payments::OrderRow;
use crate::store::{self, Tx, from_millis};

/// Outbox kinds written by payments.
pub const CREDIT_CHARGE: &str = "CREDIT_CHARGE";
pub const TOSS_CANCEL: &str = "TOSS_CANCEL";
pub const COMPENSATE: &str = "COMPENSATE_PAYMENT";

/// The TossPayments side of the server, present when payments are switched on.
pub struct Payments {
    pub toss: TossClient,
    pub client_key: String,
    /// Dev mode: the sandbox's payment page, which follows the widget's redirect contract.
    pub checkout_url: Option<String>,
}

fn payments(state: &AppState) -> ApiResult<&Payments> {
    state.payments.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::PaymentsDisabled,
            "Charging points is switched off on this server.",
        )
    })
}

/// Toss Idempotency-Keys: one per confirm attempt, so a retry after an unknown outcome repeats the same key and
/// learns what happened, while a retry after a definite temporary error uses a new one.
pub fn confirm_key(order_id: &str, attempt: i64) -> String {
    format!("confirm-{order_id}-{attempt}")
}

fn order_status(row: &OrderRow) -> OrderStatus {
    OrderStatus::parse(&row.status).unwrap_or(OrderStatus::Unknown)
}

fn view(row: &OrderRow, refundable: i64) -> PaymentOrder {
    PaymentOrder {
        order_id: row.id.clone(),
        order_name: row.order_name.clone(),
        amount: Points::new(row.amount),
        status: order_status(row),
        method: row.method.clone(),
        failure: row
            .failure_code
            .clone()
            .map(|code| PaymentFailure { code, message: row.failure_message.clone().unwrap_or_default() }),
        refunded_amount: Points::new(row.refunded_amount),
        refundable_amount: Points::new(refundable),
        created_at: from_millis(row.created_at),
        approved_at: row.approved_at.map(from_millis),
        credited_at: row.credited_at.map(from_millis),
    }
}

async fn view_in(tx: &mut Tx, row: &OrderRow) -> ApiResult<PaymentOrder> {
    let refundable = match order_status(row) {
        OrderStatus::Credited | OrderStatus::PartiallyRefunded => {
            store::ledger::lot_of_order(tx, &row.id).await?.map(|l| l.remaining).unwrap_or(0)
        }
        _ => 0,
    };
    Ok(view(row, refundable))
}

fn not_found() -> ApiError {
    ApiError::not_found("No such order.")
}

/// The order, if it exists and belongs to `user` (someone else's order is as good as absent).
async fn owned_order(tx: &mut Tx, id: &str, user: UserId, lock: bool) -> ApiResult<OrderRow> {
    let row = if lock { store::payments::lock_order(tx, id).await? } else { store::payments::order(tx, id).await? };
    row.filter(|o| o.user_id == user.as_uuid()).ok_or_else(not_found)
}

fn amount_error(message: String) -> ApiError {
    let mut e = ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::AmountOutOfRange, message);
    e = e.with_field("amount", FieldCode::Invalid);
    e
}

/// Toss's customerKey: stable per user, and not guessable from the user id.
fn customer_key(state: &AppState, user: UserId) -> String {
    let digest = Sha256::new().chain_update(state.secret_salt.as_bytes()).chain_update(user.to_string()).finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("cust_{hex}")
}

pub async fn create_order(state: &AppState, user: UserId, req: CreateOrderRequest) -> ApiResult<OrderCreated> {
    let p = payments(state)?;
    if req.amount < MIN_CHARGE || req.amount > MAX_CHARGE {
        return Err(amount_error(format!(
            "One charge is between {} and {}.",
            MIN_CHARGE.display(),
            MAX_CHARGE.display()
        )));
    }
    let now = Utc::now().timestamp_millis();
    let id = format!("nene_{}", Uuid::now_v7().simple());
    let name = format!("네네 포인트 {}", req.amount.display());
    let mut tx = state.db.begin_write().await?;
    let balance = store::ledger::account(&mut tx, AccountId::wallet(user).as_str()).await?.map(|a| a.balance);
    if balance.unwrap_or(0).saturating_add(req.amount.get()) > MAX_WALLET_BALANCE.get() {
        return Err(ledger::LedgerError::WalletLimit { max: MAX_WALLET_BALANCE }.into());
    }
    store::payments::insert_order(&mut tx, &id, user.as_uuid(), req.amount.get(), &name, now).await?;
    tx.commit().await?;
    Ok(OrderCreated {
        order_id: id,
        order_name: name,
        amount: req.amount,
        customer_key: customer_key(state, user),
        client_key: p.client_key.clone(),
        checkout_url: p.checkout_url.clone(),
    })
}

pub async fn get_order(state: &AppState, user: UserId, id: &str) -> ApiResult<PaymentOrder> {
    let mut tx = state.db.begin_read().await?;
    let row = owned_order(&mut tx, id, user, false).await?;
    view_in(&mut tx, &row).await
}

/// Newest first; the cursor is `<created_at>_<order id>` of the last order seen.
pub async fn list_orders(state: &AppState, user: UserId, query: &PageQuery) -> ApiResult<Page<PaymentOrder>> {
    let before = crate::cursor::parse(query.cursor.as_deref())?;
    let limit = i64::from(query.limit());
    let mut tx = state.db.begin_read().await?;
    let rows = store::payments::orders_of(&mut tx, user.as_uuid(), before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let mut items = Vec::new();
    let mut last = None;
    for row in rows.iter().take(limit as usize) {
        items.push(view_in(&mut tx, row).await?);
        last = Some(crate::cursor::after(row.created_at, &row.id));
    }
    Ok(Page { items, next_cursor: if more { last } else { None } })
}

/// Confirms a payment the person made in Toss's widget. 200 with the order once Toss said DONE (the points follow
/// within moments), 202 while the outcome is still being found out.
pub async fn confirm(state: &AppState, user: UserId, req: ConfirmRequest) -> ApiResult<(StatusCode, PaymentOrder)> {
    let p = payments(state)?;
    if req.payment_key.trim().is_empty() || req.payment_key.len() > 200 {
        return Err(ApiError::validation([("payment_key".to_owned(), FieldCode::Invalid)].into_iter().collect()));
    }
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    let mut order = owned_order(&mut tx, &req.order_id, user, true).await?;
    // The double verification: the amount Toss is asked to confirm must be the one we stored.
    if order.amount != req.amount.get() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::AmountMismatch,
            "The amount does not match the order.",
        )
        .with_field("amount", FieldCode::Invalid));
    }
    match order_status(&order) {
        OrderStatus::Ready => {}
        OrderStatus::Unknown => return Ok((StatusCode::ACCEPTED, view_in(&mut tx, &order).await?)),
        OrderStatus::Failed | OrderStatus::Cancelled => {
            return Err(ApiError::conflict(ErrorCode::OrderNotConfirmable, "This order can no longer be paid."));
        }
        _ if order.payment_key.as_deref() == Some(req.payment_key.as_str()) => {
            return Ok((StatusCode::OK, view_in(&mut tx, &order).await?));
        }
        _ => return Err(ApiError::conflict(ErrorCode::OrderNotConfirmable, "This order was paid already.")),
    }
    order.status = OrderStatus::Unknown.as_str().into();
    order.payment_key = Some(req.payment_key.clone());
    order.confirm_attempt += 1;
    // Should this process die during the call, the reconciler picks the order up from here.
    order.next_check_at = Some(state.clock.now().timestamp_millis() + worker::check_delay_ms(0));
    order.updated_at = now;
    store::payments::save_order(&mut tx, &order).await?;
    tx.commit().await?;

    let key = confirm_key(&order.id, order.confirm_attempt);
    let result = p.toss.confirm(&req.payment_key, &order.id, order.amount, &key).await;
    let outcome = worker::settle_confirm(state, &order.id, order.confirm_attempt, result).await?;
    metrics::counter!("payments_confirm_total", "outcome" => outcome.label()).increment(1);
    let mut tx = state.db.begin_read().await?;
    let row = store::payments::order(&mut tx, &order.id).await?.ok_or_else(not_found)?;
    let view = view_in(&mut tx, &row).await?;
    drop(tx);
    match outcome {
        worker::Settled::Paid => {
            state.wake.notify_waiters();
            Ok((StatusCode::OK, view))
        }
        worker::Settled::Unknown => Ok((StatusCode::ACCEPTED, view)),
        worker::Settled::Failed { message } => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::PaymentFailed, message))
        }
        worker::Settled::TryAgain { message } => {
            Err(ApiError::new(StatusCode::BAD_GATEWAY, ErrorCode::PaymentProviderError, message))
        }
    }
}

/// Pays the unspent part of one charge (or `amount` of it) back to the card. With `request_key` (the request's
/// Idempotency-Key) the refund happens once per key: asked again, it answers how that refund stands.
pub async fn cancel(
    state: &AppState,
    user: UserId,
    id: &str,
    req: CancelOrderRequest,
    request_key: Option<&str>,
) -> ApiResult<(StatusCode, PaymentOrder)> {
    payments(state)?;
    let reason = req.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).unwrap_or("고객 요청 환불");
    if reason.chars().count() > 200 {
        return Err(ApiError::validation([("reason".to_owned(), FieldCode::TooLong)].into_iter().collect()));
    }
    if req.amount.is_some_and(|a| a.get() <= 0) {
        return Err(amount_error("The amount to refund must be positive.".into()));
    }
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    let mut order = owned_order(&mut tx, id, user, true).await?;
    // Checked under the order's lock, before anything about the order's current state: a retry of a refund that
    // went through must find it, not be told the order has nothing left to refund.
    if let Some(key) = request_key
        && let Some(refund) = store::payments::refund_by_key(&mut tx, id, key).await?
    {
        drop(tx);
        let outcome = match refund.status.as_str() {
            "DONE" => worker::CancelOutcome::Done,
            "FAILED" => worker::CancelOutcome::Refused {
                message: "The card company refused this refund; the points were returned to the wallet.".into(),
            },
            _ => worker::cancel_now(state, &refund.id).await?,
        };
        return cancel_answer(state, id, outcome).await;
    }
    if !matches!(order_status(&order), OrderStatus::Credited | OrderStatus::PartiallyRefunded) {
        return Err(ApiError::conflict(ErrorCode::OrderNotRefundable, "This order cannot be refunded now."));
    }
    let Some(payment_key) = order.payment_key.clone() else {
        return Err(ApiError::internal(&format!("credited order {id} has no payment key")));
    };
    let lot =
        store::ledger::lot_of_order(&mut tx, id).await?.ok_or_else(|| ApiError::internal(&"order lot missing"))?;
    let amount = req.amount.unwrap_or(Points::new(lot.remaining));
    if amount.get() <= 0 || amount.get() > lot.remaining {
        return Err(ledger::LedgerError::RefundExceedsUnspent { remaining: Points::new(lot.remaining) }.into());
    }
    let refund_id = format!("refund:{id}:{}", store::payments::count_refunds(&mut tx, id).await? + 1);
    ledger::refund_lot(&mut tx, &refund_id, user, lot.id, amount, id, now).await?;
    order.refunded_amount += amount.get();
    order.status = refund_status(&order).as_str().into();
    order.updated_at = now;
    store::payments::save_order(&mut tx, &order).await?;
    store::payments::insert_refund(&mut tx, &refund_id, id, amount.get(), reason, request_key, now).await?;
    let payload = CancelPayload {
        refund_id: refund_id.clone(),
        order_id: id.to_owned(),
        payment_key,
        amount: amount.get(),
        reason: reason.to_owned(),
        key_attempt: 0,
    };
    let payload = serde_json::to_string(&payload).map_err(|e| ApiError::internal(&e))?;
    store::outbox::enqueue(&mut tx, TOSS_CANCEL, &refund_id, &payload, state.clock.now().timestamp_millis(), now)
        .await?;
    tx.commit().await?;

    // The fast path: ask Toss now. Should that not settle it, the outbox worker keeps at it.
    let outcome = worker::cancel_now(state, &refund_id).await?;
    cancel_answer(state, id, outcome).await
}

/// The answer to a refund request: the order as it stands, 200 when Toss paid back, 202 while that is still
/// being done, 422 when Toss refused (the points are back in the wallet).
async fn cancel_answer(
    state: &AppState,
    id: &str,
    outcome: worker::CancelOutcome,
) -> ApiResult<(StatusCode, PaymentOrder)> {
    let mut tx = state.db.begin_read().await?;
    let row = store::payments::order(&mut tx, id).await?.ok_or_else(not_found)?;
    let view = view_in(&mut tx, &row).await?;
    match outcome {
        worker::CancelOutcome::Done => Ok((StatusCode::OK, view)),
        worker::CancelOutcome::Pending => Ok((StatusCode::ACCEPTED, view)),
        worker::CancelOutcome::Refused { message } => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::PaymentFailed, message))
        }
    }
}

/// The order's status from how much of it was paid back.
pub fn refund_status(order: &OrderRow) -> OrderStatus {
    if order.refunded_amount <= 0 {
        OrderStatus::Credited
    } else if order.refunded_amount >= order.amount {
        OrderStatus::Refunded
    } else {
        OrderStatus::PartiallyRefunded
    }
}

/// What the TOSS_CANCEL outbox item carries.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CancelPayload {
    pub refund_id: String,
    pub order_id: String,
    pub payment_key: String,
    pub amount: i64,
    pub reason: String,
    /// Bumped after a definite temporary refusal, so the retry uses a new Toss Idempotency-Key.
    pub key_attempt: i64,
}

/// A Toss webhook delivery. Nothing in it is trusted: the payment is read again from Toss, and what Toss says
/// then is applied like any other answer. Deliveries may repeat; applying the same state twice changes nothing.
pub async fn webhook(state: &AppState, body: serde_json::Value) -> ApiResult<()> {
    let p = payments(state)?;
    if body["eventType"] != "PAYMENT_STATUS_CHANGED" {
        return Ok(());
    }
    let Some(payment_key) = body["data"]["paymentKey"].as_str() else {
        return Err(ApiError::validation([("data.paymentKey".to_owned(), FieldCode::Required)].into_iter().collect()));
    };
    let payment = match p.toss.payment(payment_key).await {
        Ok(payment) => payment,
        Err(TossError::Rejected { status: 404, .. }) => return Ok(()),
        Err(e) => {
            // Answering 5xx makes Toss deliver again later.
            tracing::warn!(error = %e, "webhook: could not re-read the payment");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::PaymentProviderError,
                "Could not verify the payment now.",
            ));
        }
    };
    worker::apply_toss_state(state, &payment).await?;
    Ok(())
}
