//! Refresh-token families and revoked access tokens.

use uuid::Uuid;

use super::{StoreResult, Tx};
use crate::on_conn;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RefreshRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub struct NewRefresh<'a> {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub token_hash: &'a str,
    pub now_ms: i64,
    pub expires_at: i64,
}

pub async fn insert_refresh(tx: &mut Tx, r: &NewRefresh<'_>) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(r.id)
        .bind(r.family_id)
        .bind(r.user_id)
        .bind(r.token_hash)
        .bind(r.now_ms)
        .bind(r.expires_at)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn find_refresh(tx: &mut Tx, token_hash: &str) -> StoreResult<Option<RefreshRow>> {
    Ok(on_conn!(tx, c => sqlx::query_as::<_, RefreshRow>(
            "SELECT id, family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(&mut *c)
        .await?))
}

/// Spends a refresh token. The condition makes this the one place a token can be spent, so two concurrent refreshes
/// with the same token cannot both succeed: the loser sees `false` and treats it as reuse.
pub async fn spend_refresh(tx: &mut Tx, id: Uuid, now_ms: i64) -> StoreResult<bool> {
    let done = on_conn!(tx, c => sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL")
        .bind(id)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// Counts one more sibling minted from a token spent at or after `spent_since` (its grace window), while fewer than
/// `max` were. False when the token was spent earlier, is revoked, or has used up its siblings: then it is a reuse.
/// The conditions sit in the update, so concurrent presentations are counted exactly on both engines.
pub async fn take_grace_sibling(tx: &mut Tx, id: Uuid, spent_since: i64, max: i64) -> StoreResult<bool> {
    let done = on_conn!(tx, c => sqlx::query(
            "UPDATE refresh_tokens SET grace_uses = grace_uses + 1 \
             WHERE id = $1 AND used_at IS NOT NULL AND used_at >= $2 AND revoked_at IS NULL AND grace_uses < $3")
        .bind(id)
        .bind(spent_since)
        .bind(max)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(done == 1)
}

pub async fn revoke_family(tx: &mut Tx, family_id: Uuid, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn revoke_access(tx: &mut Tx, jti: Uuid, expires_at: i64, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => {
        sqlx::query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .execute(&mut *c)
            .await?;
        // Expired entries can no longer be presented; keep the table small.
        sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at < $1")
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

pub async fn is_access_revoked(tx: &mut Tx, jti: Uuid) -> StoreResult<bool> {
    let n: i64 = on_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = $1")
        .bind(jti)
        .fetch_one(&mut *c)
        .await?);
    Ok(n > 0)
}
