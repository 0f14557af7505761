//! Payment orders and their cash refunds.

use uuid::Uuid;

use super::{StoreResult, Tx};
use crate::on_conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OrderRow {
    pub id: String,
    pub user_id: Uuid,
    pub amount: i64,
    pub order_name: String,
    pub status: String,
    pub payment_key: Option<String>,
    pub method: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub refunded_amount: i64,
    pub confirm_attempt: i64,
    pub check_attempts: i64,
    pub next_check_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub approved_at: Option<i64>,
    pub credited_at: Option<i64>,
}

const ORDER_COLUMNS: &str = "id, user_id, amount, order_name, status, payment_key, method, failure_code, \
    failure_message, refunded_amount, confirm_attempt, check_attempts, next_check_at, created_at, updated_at, \
    approved_at, credited_at";

pub async fn insert_order(tx: &mut Tx, id: &str, user: Uuid, amount: i64, name: &str, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO payment_orders (id, user_id, amount, order_name, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'READY', $5, $5)")
        .bind(id)
        .bind(user)
        .bind(amount)
        .bind(name)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Reads an order, locking its row on PostgreSQL until the transaction ends.
pub async fn lock_order(tx: &mut Tx, id: &str) -> StoreResult<Option<OrderRow>> {
    let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
    let sql = format!("SELECT {ORDER_COLUMNS} FROM payment_orders WHERE id = $1{lock}");
    Ok(on_conn!(tx, c => sqlx::query_as::<_, OrderRow>(&sql).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn order(tx: &mut Tx, id: &str) -> StoreResult<Option<OrderRow>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM payment_orders WHERE id = $1");
    Ok(on_conn!(tx, c => sqlx::query_as::<_, OrderRow>(&sql).bind(id).fetch_optional(&mut *c).await?))
}

/// A user's orders, newest first, below the cursor (created_at, id).
pub async fn orders_of(
    tx: &mut Tx,
    user: Uuid,
    before: Option<(i64, String)>,
    limit: i64,
) -> StoreResult<Vec<OrderRow>> {
    let (before_at, before_id) = before.unzip();
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM payment_orders WHERE user_id = $1 \
         AND ($2 IS NULL OR created_at < $2 OR (created_at = $2 AND id < $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    );
    Ok(on_conn!(tx, c => sqlx::query_as::<_, OrderRow>(&sql)
        .bind(user)
        .bind(before_at)
        .bind(before_id)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?))
}

/// Writes an order's mutable fields back (the caller holds its lock and made the change).
pub async fn save_order(tx: &mut Tx, o: &OrderRow) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE payment_orders SET status = $2, payment_key = $3, method = $4, failure_code = $5, \
             failure_message = $6, refunded_amount = $7, confirm_attempt = $8, check_attempts = $9, \
             next_check_at = $10, updated_at = $11, approved_at = $12, credited_at = $13 WHERE id = $1")
        .bind(&o.id)
        .bind(&o.status)
        .bind(&o.payment_key)
        .bind(&o.method)
        .bind(&o.failure_code)
        .bind(&o.failure_message)
        .bind(o.refunded_amount)
        .bind(o.confirm_attempt)
        .bind(o.check_attempts)
        .bind(o.next_check_at)
        .bind(o.updated_at)
        .bind(o.approved_at)
        .bind(o.credited_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// UNKNOWN orders due for a look-up, claimed by pushing their next check `lease_ms` ahead, so another worker (or
/// instance) does not ask Toss about the same order at the same time. PostgreSQL skips rows another transaction
/// is claiming.
pub async fn claim_unknown(tx: &mut Tx, now_ms: i64, lease_ms: i64, limit: i64) -> StoreResult<Vec<String>> {
    let skip = if tx.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "SELECT id FROM payment_orders WHERE status = 'UNKNOWN' AND next_check_at <= $1 \
         ORDER BY next_check_at LIMIT $2{skip}"
    );
    let ids: Vec<String> =
        on_conn!(tx, c => sqlx::query_scalar(&sql).bind(now_ms).bind(limit).fetch_all(&mut *c).await?);
    for id in &ids {
        on_conn!(tx, c => sqlx::query("UPDATE payment_orders SET next_check_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms + lease_ms)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(ids)
}

pub async fn count_refunds(tx: &mut Tx, order_id: &str) -> StoreResult<i64> {
    Ok(on_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM payment_refunds WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(&mut *c)
        .await?))
}

/// A refund as recorded: its ledger transfer's id, the amount and how far its cancel at Toss got.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RefundRow {
    pub id: String,
    pub amount: i64,
    pub status: String,
}

/// The refund asked for with `request_key` (the request's Idempotency-Key) on this order, if there is one.
pub async fn refund_by_key(tx: &mut Tx, order_id: &str, request_key: &str) -> StoreResult<Option<RefundRow>> {
    Ok(on_conn!(tx, c => sqlx::query_as::<_, RefundRow>(
            "SELECT id, amount, status FROM payment_refunds WHERE order_id = $1 AND request_key = $2")
        .bind(order_id)
        .bind(request_key)
        .fetch_optional(&mut *c)
        .await?))
}

/// Records a refund. `request_key` ties it to the request that asked for it, so a retry of that request finds it.
pub async fn insert_refund(
    tx: &mut Tx,
    id: &str,
    order_id: &str,
    amount: i64,
    reason: &str,
    request_key: Option<&str>,
    now_ms: i64,
) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO payment_refunds (id, order_id, amount, reason, status, request_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'PENDING', $5, $6, $6)")
        .bind(id)
        .bind(order_id)
        .bind(amount)
        .bind(reason)
        .bind(request_key)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn set_refund_status(tx: &mut Tx, id: &str, status: &str, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query("UPDATE payment_refunds SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Refunds whose cancel at Toss has not been confirmed yet.
pub async fn pending_refund_total(tx: &mut Tx, order_id: &str) -> StoreResult<i64> {
    let n: Option<i64> = on_conn!(tx, c => sqlx::query_scalar(
            "SELECT CAST(SUM(amount) AS BIGINT) FROM payment_refunds WHERE order_id = $1 AND status = 'PENDING'")
        .bind(order_id)
        .fetch_one(&mut *c)
        .await?);
    Ok(n.unwrap_or(0))
}
