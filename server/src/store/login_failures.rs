//! Failed sign-in attempts, counted per account and per network address over a sliding window.

use super::{StoreResult, Tx};
use crate::on_conn;

pub async fn count_for_account(tx: &mut Tx, account: &str, since_ms: i64) -> StoreResult<i64> {
    Ok(on_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE account = $1 AND at >= $2")
        .bind(account)
        .bind(since_ms)
        .fetch_one(&mut *c)
        .await?))
}

pub async fn count_for_ip(tx: &mut Tx, ip: &str, since_ms: i64) -> StoreResult<i64> {
    Ok(on_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE ip = $1 AND at >= $2")
        .bind(ip)
        .bind(since_ms)
        .fetch_one(&mut *c)
        .await?))
}

/// The oldest failure still inside the window, to tell the client when it may try again.
pub async fn oldest_since(tx: &mut Tx, account: &str, ip: &str, since_ms: i64) -> StoreResult<Option<i64>> {
    Ok(on_conn!(tx, c => sqlx::query_scalar(
            "SELECT MIN(at) FROM login_failures WHERE (account = $1 OR ip = $2) AND at >= $3")
        .bind(account)
        .bind(ip)
        .bind(since_ms)
        .fetch_one(&mut *c)
        .await?))
}

/// Records one failure and forgets failures that fell out of the window.
pub async fn record(tx: &mut Tx, account: &str, ip: &str, now_ms: i64, window_start_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => {
        sqlx::query("INSERT INTO login_failures (account, ip, at) VALUES ($1, $2, $3)")
            .bind(account)
            .bind(ip)
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(window_start_ms)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// A successful sign-in clears the account's failures (not the address's: one address may try many accounts).
pub async fn clear_account(tx: &mut Tx, account: &str) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query("DELETE FROM login_failures WHERE account = $1")
        .bind(account)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}
