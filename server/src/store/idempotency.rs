//! Stored answers for `Idempotency-Key` requests.

use uuid::Uuid;

use super::{StoreResult, Tx};
use crate::on_conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyRow {
    pub fingerprint: String,
    pub status_code: Option<i64>,
    pub response: Option<String>,
    pub locked_until: i64,
}

pub async fn find(tx: &mut Tx, user: Uuid, key: &str) -> StoreResult<Option<KeyRow>> {
    Ok(on_conn!(tx, c => sqlx::query_as::<_, KeyRow>(
            "SELECT fingerprint, status_code, response, locked_until FROM idempotency_keys \
             WHERE user_id = $1 AND key = $2")
        .bind(user)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?))
}

/// Records that a request with this key has started. False when another request took the key first.
pub async fn start(
    tx: &mut Tx,
    user: Uuid,
    key: &str,
    fingerprint: &str,
    locked_until: i64,
    now_ms: i64,
) -> StoreResult<bool> {
    let n = on_conn!(tx, c => sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, locked_until, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, key) DO NOTHING")
        .bind(user)
        .bind(key)
        .bind(fingerprint)
        .bind(locked_until)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Takes over a key whose first request died before answering (its lock ran out).
pub async fn take_over(tx: &mut Tx, user: Uuid, key: &str, locked_until: i64, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, c => sqlx::query(
            "UPDATE idempotency_keys SET locked_until = $3 \
             WHERE user_id = $1 AND key = $2 AND (status_code IS NULL OR status_code = 202) AND locked_until < $4")
        .bind(user)
        .bind(key)
        .bind(locked_until)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn finish(tx: &mut Tx, user: Uuid, key: &str, status: i64, response: &str) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE user_id = $1 AND key = $2")
        .bind(user)
        .bind(key)
        .bind(status)
        .bind(response)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Frees a key whose request ended without a final answer (a 202, a failure on our side, a client that went away):
/// the key stays bound to its request, and the next retry with it runs at once.
pub async fn release(tx: &mut Tx, user: Uuid, key: &str) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE idempotency_keys SET locked_until = 0 WHERE user_id = $1 AND key = $2 AND status_code IS NULL")
        .bind(user)
        .bind(key)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}
