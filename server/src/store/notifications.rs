//! The notification inbox: one row per notification to a user.

use uuid::Uuid;

use super::{StoreResult, Tx};
use crate::on_conn;

pub struct NewNotification<'a> {
    pub user_id: Uuid,
    pub kind: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// A JSON object of strings (what FCM's `data` section carries).
    pub data: &'a str,
    pub now_ms: i64,
}

pub async fn insert(tx: &mut Tx, n: &NewNotification<'_>) -> StoreResult<Uuid> {
    let id = Uuid::now_v7();
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO notifications (id, user_id, kind, title, body, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(id)
        .bind(n.user_id)
        .bind(n.kind)
        .bind(n.title)
        .bind(n.body)
        .bind(n.data)
        .bind(n.now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(id)
}

/// (kind, data) of a user's notifications, oldest first (for tests and the inbox).
pub async fn kinds_of(tx: &mut Tx, user: Uuid) -> StoreResult<Vec<(String, String)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "SELECT kind, data FROM notifications WHERE user_id = $1 ORDER BY created_at, id")
        .bind(user)
        .fetch_all(&mut *conn)
        .await?))
}
