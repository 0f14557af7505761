//! Failed sign-in attempts, counted per account and per network address over a sliding window.
//!
//! An attempt is written as a pending failure before its password is checked ([`begin_attempt`]), under a lock on
//! its account and its address ([`lock`]), so that a burst of parallel attempts is counted one by one: each sees
//! the ones before it. A successful check removes its own attempt ([`succeeded`]); a failed one settles it
//! ([`failed`]).

use super::{StoreResult, Tx};
use crate::on_conn;

/// Serialises the attempts on one account and from one address until the transaction ends. On PostgreSQL that
/// takes transaction-scoped advisory locks (several server instances share them); on SQLite the write
/// transaction already holds the only writer. The account is always locked before the address, so two attempts
/// never wait on each other in a circle.
pub async fn lock(tx: &mut Tx, account: &str, ip: &str) -> StoreResult<()> {
    if let Tx::Postgres(t) = tx {
        for key in [format!("login-account:{account}"), format!("login-ip:{ip}")] {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(&mut **t).await?;
        }
    }
    Ok(())
}

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

/// Counts an attempt as a failure until its check says otherwise, and forgets failures that fell out of the
/// window. Answers the attempt's id.
pub async fn begin_attempt(
    tx: &mut Tx,
    account: &str,
    ip: &str,
    now_ms: i64,
    window_start_ms: i64,
) -> StoreResult<i64> {
    Ok(on_conn!(tx, c => {
        sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(window_start_ms)
            .execute(&mut *c)
            .await?;
        sqlx::query_scalar(
            "INSERT INTO login_failures (account, ip, at, pending) VALUES ($1, $2, $3, TRUE) RETURNING id")
            .bind(account)
            .bind(ip)
            .bind(now_ms)
            .fetch_one(&mut *c)
            .await?
    }))
}

/// The attempt's password was wrong: it stays counted.
pub async fn failed(tx: &mut Tx, attempt: i64) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query("UPDATE login_failures SET pending = FALSE WHERE id = $1")
        .bind(attempt)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// The attempt signed in: it is not a failure, and the account's settled failures are cleared (not the
/// address's: one address may try many accounts). Other attempts still being checked keep counting.
pub async fn succeeded(tx: &mut Tx, attempt: i64, account: &str) -> StoreResult<()> {
    on_conn!(tx, c => sqlx::query("DELETE FROM login_failures WHERE id = $1 OR (account = $2 AND NOT pending)")
        .bind(attempt)
        .bind(account)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}
