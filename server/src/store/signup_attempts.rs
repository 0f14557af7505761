//! Sign-up attempts per network address over the last hour, for the per-address limit.

use super::{StoreResult, Tx};
use crate::on_conn;

/// Serialises the sign-ups from one address until the transaction ends (see [`super::login_failures::lock`]).
pub async fn lock(tx: &mut Tx, ip: &str) -> StoreResult<()> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("signup-ip:{ip}"))
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

pub async fn count_since(tx: &mut Tx, ip: &str, since_ms: i64) -> StoreResult<i64> {
    Ok(on_conn!(tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM signup_attempts WHERE ip = $1 AND at >= $2")
        .bind(ip)
        .bind(since_ms)
        .fetch_one(&mut *c)
        .await?))
}

pub async fn oldest_since(tx: &mut Tx, ip: &str, since_ms: i64) -> StoreResult<Option<i64>> {
    Ok(on_conn!(tx, c => sqlx::query_scalar("SELECT MIN(at) FROM signup_attempts WHERE ip = $1 AND at >= $2")
        .bind(ip)
        .bind(since_ms)
        .fetch_one(&mut *c)
        .await?))
}

/// Records one attempt and forgets attempts that fell out of the window.
pub async fn record(tx: &mut Tx, ip: &str, now_ms: i64, window_start_ms: i64) -> StoreResult<()> {
    on_conn!(tx, c => {
        sqlx::query("DELETE FROM signup_attempts WHERE at < $1")
            .bind(window_start_ms)
            .execute(&mut *c)
            .await?;
        sqlx::query("INSERT INTO signup_attempts (ip, at) VALUES ($1, $2)")
            .bind(ip)
            .bind(now_ms)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}
