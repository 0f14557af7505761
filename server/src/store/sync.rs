//! The record of offline intents: each applied (or refused) at most once per user and intent id.

use uuid::Uuid;

use super::{StoreResult, Tx};
use crate::on_conn;

/// (status, code, message) of an intent seen before.
pub async fn intent(
    tx: &mut Tx,
    user: Uuid,
    id: &str,
) -> StoreResult<Option<(String, Option<String>, Option<String>)>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT status, code, message FROM sync_intents WHERE user_id = $1 AND intent_id = $2")
        .bind(user)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Claims an intent for processing; false when it was already claimed or done.
pub async fn claim(
    tx: &mut Tx,
    user: Uuid,
    id: &str,
    device: &str,
    seq: i64,
    kind: &str,
    now_ms: i64,
) -> StoreResult<bool> {
    let n = on_conn!(tx, c => sqlx::query(
            "INSERT INTO sync_intents (user_id, intent_id, device_id, seq, kind, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $6) ON CONFLICT (user_id, intent_id) DO NOTHING")
        .bind(user)
        .bind(id)
        .bind(device)
        .bind(seq)
        .bind(kind)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn finish(
    tx: &mut Tx,
    user: Uuid,
    id: &str,
    status: &str,
    code: Option<&str>,
    message: Option<&str>,
    now_ms: i64,
) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE sync_intents SET status = $3, code = $4, message = $5, updated_at = $6 \
             WHERE user_id = $1 AND intent_id = $2")
        .bind(user)
        .bind(id)
        .bind(status)
        .bind(code)
        .bind(message)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Forgets a claim whose processing could not be decided (a retry may try again).
pub async fn release(tx: &mut Tx, user: Uuid, id: &str) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query("DELETE FROM sync_intents WHERE user_id = $1 AND intent_id = $2 AND status = 'PENDING'")
        .bind(user)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}
