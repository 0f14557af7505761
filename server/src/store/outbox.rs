//! The outbox: durable work items written in the same transaction as their cause and processed afterwards.

use super::{StoreResult, Tx};
use crate::on_conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub payload: String,
    pub attempts: i64,
}

/// Adds a work item; a second item with the same key is ignored (the first one already covers it).
pub async fn enqueue(tx: &mut Tx, kind: &str, key: &str, payload: &str, due_ms: i64, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO outbox (kind, key, payload, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (key) DO NOTHING")
        .bind(kind)
        .bind(key)
        .bind(payload)
        .bind(due_ms)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Claims up to `limit` due items of `kind` for `lease_ms` of real time. An item whose worker died becomes due
/// again when its lease runs out. PostgreSQL skips rows another instance is claiming at that moment.
pub async fn claim(
    tx: &mut Tx,
    kind: &str,
    domain_now_ms: i64,
    real_now_ms: i64,
    lease_ms: i64,
    limit: i64,
) -> StoreResult<Vec<OutboxRow>> {
    let skip = if tx.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "SELECT id, kind, key, payload, attempts FROM outbox WHERE status = 'PENDING' AND kind = $1 \
         AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until < $3) \
         ORDER BY next_attempt_at, id LIMIT $4{skip}"
    );
    let rows: Vec<OutboxRow> = on_conn!(tx, c => sqlx::query_as::<_, OutboxRow>(&sql)
        .bind(kind)
        .bind(domain_now_ms)
        .bind(real_now_ms)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?);
    for row in &rows {
        on_conn!(tx, c => sqlx::query("UPDATE outbox SET locked_until = $2, attempts = attempts + 1 WHERE id = $1")
            .bind(row.id)
            .bind(real_now_ms + lease_ms)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(rows)
}

/// Claims one item by key (the fast path right after the commit that wrote it).
pub async fn claim_key(tx: &mut Tx, key: &str, real_now_ms: i64, lease_ms: i64) -> StoreResult<Option<OutboxRow>> {
    let row: Option<OutboxRow> = on_conn!(tx, c => sqlx::query_as::<_, OutboxRow>(
            "UPDATE outbox SET locked_until = $2, attempts = attempts + 1 WHERE key = $1 AND status = 'PENDING' \
             AND (locked_until IS NULL OR locked_until < $3) RETURNING id, kind, key, payload, attempts")
        .bind(key)
        .bind(real_now_ms + lease_ms)
        .bind(real_now_ms)
        .fetch_optional(&mut *c)
        .await?);
    Ok(row)
}

pub async fn complete(tx: &mut Tx, id: i64, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE outbox SET status = 'DONE', locked_until = NULL, last_error = NULL, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Releases an item to be tried again at `due_ms`, optionally with a new payload (e.g. the next idempotency key).
pub async fn retry(
    tx: &mut Tx,
    id: i64,
    due_ms: i64,
    error: &str,
    payload: Option<&str>,
    now_ms: i64,
) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE outbox SET locked_until = NULL, next_attempt_at = $2, last_error = $3, \
             payload = COALESCE($4, payload), updated_at = $5 WHERE id = $1")
        .bind(id)
        .bind(due_ms)
        .bind(error)
        .bind(payload)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn fail(tx: &mut Tx, id: i64, error: &str, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE outbox SET status = 'FAILED', locked_until = NULL, last_error = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Pending items per kind, for the metrics.
pub async fn depth(tx: &mut Tx) -> StoreResult<Vec<(String, i64)>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT kind, COUNT(*) FROM outbox WHERE status = 'PENDING' GROUP BY kind ORDER BY kind")
        .fetch_all(&mut *c)
        .await?))
}
