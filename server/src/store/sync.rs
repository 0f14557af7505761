//! The record of offline intents: each received once per user and intent id, then decided once, APPLIED or
//! REJECTED.
//!
//! A row is written at first receipt (PENDING, with the body's hash and the receipt time) and committed before the
//! intent is applied, so the receipt survives whatever happens next. PENDING means only "not decided yet": it is
//! no claim by a running push, so nothing can hold it forever. The decision APPLIED is written by [`claim`] inside
//! the transaction of the intent's own effect, so the effect and its record commit together or not at all; a
//! refusal is written after, and only over a PENDING row ([`reject`]).

use uuid::Uuid;

use super::{StoreResult, Tx};
use crate::on_conn;

pub const PENDING: &str = "PENDING";
pub const APPLIED: &str = "APPLIED";
pub const REJECTED: &str = "REJECTED";

/// One intent of one person, as its effect's transaction marks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentKey {
    pub user: Uuid,
    pub id: String,
    /// The hash of the intent's kind and body, kept on rows received before hashes were recorded once decided.
    pub body_hash: String,
}

/// An intent's record as it stands.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct IntentRow {
    pub status: String,
    pub code: Option<String>,
    pub message: Option<String>,
    /// None on intents received before hashes were recorded.
    pub body_hash: Option<String>,
    /// Domain-clock milliseconds of the first receipt; None on intents received before it was recorded.
    pub received_at: Option<i64>,
    /// Wall-clock milliseconds of the first receipt.
    pub created_at: i64,
}

/// A first receipt.
pub struct Receipt<'a> {
    pub device: &'a str,
    pub seq: i64,
    pub kind: &'a str,
    /// Domain-clock milliseconds: what a proof's day is judged by.
    pub received_at: i64,
    pub now_ms: i64,
}

/// The intent's record as it stands.
pub async fn intent(tx: &mut Tx, user: Uuid, id: &str) -> StoreResult<Option<IntentRow>> {
    Ok(on_conn!(tx, c => sqlx::query_as(
            "SELECT status, code, message, body_hash, received_at, created_at FROM sync_intents \
             WHERE user_id = $1 AND intent_id = $2")
        .bind(user)
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Records the first receipt of `key` (nothing changes when it was received before) and answers the record as it
/// stands: the first receipt's hash and time, and whether it is decided.
pub async fn receive(tx: &mut Tx, key: &IntentKey, receipt: &Receipt<'_>) -> StoreResult<IntentRow> {
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO sync_intents (user_id, intent_id, device_id, seq, kind, status, body_hash, received_at, \
                 created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7, $8, $8) ON CONFLICT (user_id, intent_id) DO NOTHING")
        .bind(key.user)
        .bind(&key.id)
        .bind(receipt.device)
        .bind(receipt.seq)
        .bind(receipt.kind)
        .bind(&key.body_hash)
        .bind(receipt.received_at)
        .bind(receipt.now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    intent(tx, key.user, &key.id).await?.ok_or_else(|| sqlx::Error::RowNotFound.into())
}

/// Marks the intent APPLIED in the caller's transaction, which then makes its effect. False when it was already
/// decided: the caller must then make no effect. Call it before anything else the transaction locks: on PostgreSQL
/// it waits for a concurrent transaction that holds the row and sees that one's decision, so intents are always
/// locked first, and, within a transaction, in ascending order.
pub async fn claim(tx: &mut Tx, key: &IntentKey, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, c => sqlx::query(
            "UPDATE sync_intents SET status = 'APPLIED', code = NULL, message = NULL, \
                 body_hash = COALESCE(body_hash, $3), updated_at = $4 \
             WHERE user_id = $1 AND intent_id = $2 AND status = 'PENDING'")
        .bind(key.user)
        .bind(&key.id)
        .bind(&key.body_hash)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Undoes [`claim`] within the same transaction, when the effect it was for was refused after all.
pub async fn unclaim(tx: &mut Tx, key: &IntentKey) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE sync_intents SET status = 'PENDING' WHERE user_id = $1 AND intent_id = $2 AND status = 'APPLIED'")
        .bind(key.user)
        .bind(&key.id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Decides a PENDING intent without an effect of its own: REJECTED with the refusal's code and message, or APPLIED
/// when what it asked for was found done already (see `sync::apply_once`). A decided intent stays as it was.
pub async fn decide(
    tx: &mut Tx,
    key: &IntentKey,
    status: &str,
    code: Option<&str>,
    message: Option<&str>,
    now_ms: i64,
) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE sync_intents SET status = $3, code = $4, message = $5, body_hash = COALESCE(body_hash, $6), \
                 updated_at = $7 \
             WHERE user_id = $1 AND intent_id = $2 AND status = 'PENDING'")
        .bind(key.user)
        .bind(&key.id)
        .bind(status)
        .bind(code)
        .bind(message)
        .bind(&key.body_hash)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}
