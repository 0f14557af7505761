//! Who refers to each stored photo, and how many photos each person uploaded today (see [`crate::uploads`] for the
//! rules these rows carry).
//!
//! Every transaction that adds or moves a file's references locks the file's `stored_files` row first (creating it
//! when absent), and the only deletion of a file happens under that same lock, so the two never cross, on one
//! instance or several. Dropping a reference needs no lock: it can only make a file collectable, and the collector
//! looks again under the lock.

use uuid::Uuid;

use super::{StoreResult, Tx};
use crate::on_conn;

/// Counts one upload by `user` on `day` (UTC) unless `max` are counted already; false when the quota is spent.
pub async fn count_upload(tx: &mut Tx, user: Uuid, day: &str, max: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "INSERT INTO photo_uploads (user_id, day, uploaded) VALUES ($1, $2, 1) \
             ON CONFLICT (user_id, day) DO UPDATE SET uploaded = photo_uploads.uploaded + 1 \
             WHERE photo_uploads.uploaded < $3")
        .bind(user)
        .bind(day)
        .bind(max)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// Whether counts of days before `day` are left to forget.
pub async fn counts_before(tx: &mut Tx, day: &str) -> StoreResult<bool> {
    let found: Option<i32> = on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT 1 FROM photo_uploads WHERE day < $1 LIMIT 1")
        .bind(day)
        .fetch_optional(&mut *conn)
        .await?);
    Ok(found.is_some())
}

pub async fn forget_counts_before(tx: &mut Tx, day: &str) -> StoreResult<u64> {
    Ok(on_conn!(tx, conn => sqlx::query("DELETE FROM photo_uploads WHERE day < $1")
        .bind(day)
        .execute(&mut *conn)
        .await?
        .rows_affected()))
}

/// Locks the file's row for the rest of the transaction, creating it if this is the file's first reference. The
/// no-op update is what takes the lock on PostgreSQL when the row is already there (and waits for a collector
/// that is deleting it, then inserts it afresh).
pub async fn lock_file(tx: &mut Tx, hash: &str, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO stored_files (hash, created_at) VALUES ($1, $2) \
             ON CONFLICT (hash) DO UPDATE SET created_at = stored_files.created_at")
        .bind(hash)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// `holder`'s reference to `hash` on behalf of `owner`, kept until `expires_at` (or later, if it already was): a
/// person's upload (the holder is the person) or a request storing a proof's photo (the holder is the request).
pub async fn hold(tx: &mut Tx, hash: &str, holder: Uuid, owner: Uuid, expires_at: i64, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO file_refs (hash, holder, owner_id, proof_id, expires_at, created_at) \
             VALUES ($1, $2, $3, NULL, $4, $5) \
             ON CONFLICT (holder, hash) DO UPDATE SET \
             expires_at = CASE WHEN file_refs.expires_at < $4 THEN $4 ELSE file_refs.expires_at END")
        .bind(hash)
        .bind(holder)
        .bind(owner)
        .bind(expires_at)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Whether `owner` refers to `hash` at all: an upload of theirs, one of their proofs, or a request of theirs.
pub async fn refers(tx: &mut Tx, owner: Uuid, hash: &str) -> StoreResult<bool> {
    let found: Option<i32> = on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT 1 FROM file_refs WHERE owner_id = $1 AND hash = $2 LIMIT 1")
        .bind(owner)
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?);
    Ok(found.is_some())
}

/// A proof's reference to one of its files (its photo or thumbnail), kept as long as the proof.
pub async fn refer_proof(tx: &mut Tx, hash: &str, owner: Uuid, proof: Uuid, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO file_refs (hash, holder, owner_id, proof_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $2, NULL, $4) ON CONFLICT (holder, hash) DO NOTHING")
        .bind(hash)
        .bind(proof)
        .bind(owner)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Drops `holder`'s expiring reference to `hash` (an upload's or a request's), if there is one.
pub async fn drop_held(tx: &mut Tx, holder: Uuid, hash: &str) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query("DELETE FROM file_refs WHERE holder = $1 AND hash = $2 AND proof_id IS NULL")
        .bind(holder)
        .bind(hash)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Locks an existing file's row and answers whether anything refers to it; `None` when there is no such row.
pub async fn lock_existing(tx: &mut Tx, hash: &str) -> StoreResult<Option<bool>> {
    let sql = if tx.is_postgres() {
        "SELECT hash FROM stored_files WHERE hash = $1 FOR UPDATE"
    } else {
        "SELECT hash FROM stored_files WHERE hash = $1"
    };
    let found: Option<String> =
        on_conn!(tx, conn => sqlx::query_scalar(sql).bind(hash).fetch_optional(&mut *conn).await?);
    if found.is_none() {
        return Ok(None);
    }
    // A statement of its own, after the lock: on PostgreSQL it sees every reference committed before the lock
    // was granted.
    let referenced: Option<i32> = on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT 1 FROM file_refs WHERE hash = $1 LIMIT 1")
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?);
    Ok(Some(referenced.is_some()))
}

/// Forgets a file whose content is gone; the caller holds its lock and has seen no reference.
pub async fn forget_file(tx: &mut Tx, hash: &str) -> StoreResult<()> {
    on_conn!(tx, conn => sqlx::query("DELETE FROM stored_files WHERE hash = $1")
        .bind(hash)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Whether some reference has expired at `now_ms`.
pub async fn any_expired(tx: &mut Tx, now_ms: i64) -> StoreResult<bool> {
    let found: Option<i32> = on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT 1 FROM file_refs WHERE proof_id IS NULL AND expires_at <= $1 LIMIT 1")
        .bind(now_ms)
        .fetch_optional(&mut *conn)
        .await?);
    Ok(found.is_some())
}

/// Drops up to `limit` references expired at `now_ms`; answers the files they referred to.
pub async fn drop_expired(tx: &mut Tx, now_ms: i64, limit: i64) -> StoreResult<Vec<String>> {
    Ok(on_conn!(tx, conn => sqlx::query_scalar(
            "DELETE FROM file_refs WHERE proof_id IS NULL AND expires_at <= $1 AND (holder, hash) IN \
             (SELECT holder, hash FROM file_refs WHERE proof_id IS NULL AND expires_at <= $1 LIMIT $2) \
             RETURNING hash")
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}

/// The next `limit` stored files after `after` in name order, each with whether anything refers to it: one slice
/// of the collector's sweep.
pub async fn files_after(tx: &mut Tx, after: &str, limit: i64) -> StoreResult<Vec<(String, bool)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "SELECT s.hash, EXISTS (SELECT 1 FROM file_refs r WHERE r.hash = s.hash) AS referenced \
             FROM stored_files s WHERE s.hash > $1 ORDER BY s.hash LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}
