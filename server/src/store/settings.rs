//! Server-wide key/value settings that must survive a restart.

use super::{StoreResult, Tx};
use crate::on_conn;

pub async fn get(tx: &mut Tx, key: &str) -> StoreResult<Option<String>> {
    Ok(on_conn!(tx, c => sqlx::query_scalar("SELECT value FROM server_settings WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn put(tx: &mut Tx, key: &str, value: &str) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query(
            "INSERT INTO server_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
        .bind(key)
        .bind(value)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Writes `value` unless the key already has one (which is kept).
pub async fn put_if_absent(tx: &mut Tx, key: &str, value: &str) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query("INSERT INTO server_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(value)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}
