//! The notification inbox, device tokens, muted kinds and the push delivery queue.

use uuid::Uuid;

use std::collections::{BTreeMap, HashMap, HashSet};

use super::bulk::{self, Col};
use super::{StoreError, StoreResult, Tx, rows_for_ids};
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

/// Records a notification and, unless its kind is muted, one pending delivery per device of the user — in the
/// caller's transaction, so the push is as durable as the event.
pub async fn insert(tx: &mut Tx, n: &NewNotification<'_>) -> StoreResult<Uuid> {
    let id = Uuid::now_v7();
    on_conn!(tx, conn => {
        // The per-user number is taken under the user's row lock, so numbers commit in order: a pull cursor that
        // has seen n has seen everything up to n.
        let seq: i64 = sqlx::query_scalar(
            "UPDATE users SET notification_seq = notification_seq + 1 WHERE id = $1 RETURNING notification_seq")
            .bind(n.user_id)
            .fetch_one(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO notifications (id, user_id, kind, title, body, data, created_at, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(id)
            .bind(n.user_id)
            .bind(n.kind)
            .bind(n.title)
            .bind(n.body)
            .bind(n.data)
            .bind(n.now_ms)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO notification_deliveries (notification_id, user_id, device_token, next_attempt_at, \
             created_at, updated_at) \
             SELECT $1, d.user_id, d.token, $3, $3, $3 FROM devices d WHERE d.user_id = $2 \
             AND NOT EXISTS (SELECT 1 FROM notification_mutes m WHERE m.user_id = $2 AND m.kind = $4)")
            .bind(id)
            .bind(n.user_id)
            .bind(n.now_ms)
            .bind(n.kind)
            .execute(&mut *conn)
            .await?;
    });
    Ok(id)
}

/// Records many notifications at once, with the same rows [`insert`] writes for each in turn: every user's numbers
/// are taken under the user's row lock (rows locked in ascending id order, the same for every batch), consecutive and
/// in the order given, and each notification gets one pending delivery per device unless its kind is muted. Returns
/// the ids in the order given.
pub async fn insert_many(tx: &mut Tx, items: &[NewNotification<'_>]) -> StoreResult<Vec<Uuid>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    // How many numbers each user takes.
    let mut per_user: BTreeMap<Uuid, i64> = BTreeMap::new();
    for n in items {
        *per_user.entry(n.user_id).or_default() += 1;
    }
    let users: Vec<Uuid> = per_user.keys().copied().collect();
    if tx.is_postgres() {
        let _: Vec<(Uuid,)> = rows_for_ids(tx, &users, |list| {
            format!("SELECT id FROM users WHERE id IN ({list}) ORDER BY id FOR UPDATE")
        })
        .await?;
    }
    let cols = [Col::Uuid(users.clone()), Col::Int(per_user.values().copied().collect())];
    let last: HashMap<Uuid, i64> = bulk::fetch::<(Uuid, i64)>(tx, &cols, |rows| {
        format!(
            "WITH v (id, n) AS ({rows}) UPDATE users SET notification_seq = users.notification_seq + v.n \
             FROM v WHERE users.id = v.id RETURNING users.id, users.notification_seq"
        )
    })
    .await?
    .into_iter()
    .collect();
    // The numbers each user took, handed out in order: user with k items and last number m gets m-k+1 … m.
    let mut next: HashMap<Uuid, i64> = HashMap::with_capacity(users.len());
    for (user, n) in &per_user {
        let Some(m) = last.get(user) else { return Err(StoreError::Db(sqlx::Error::RowNotFound)) };
        next.insert(*user, m - n + 1);
    }
    let mut ids = Vec::with_capacity(items.len());
    let mut seqs = Vec::with_capacity(items.len());
    for n in items {
        let seq = next.get_mut(&n.user_id).ok_or(StoreError::Db(sqlx::Error::RowNotFound))?;
        ids.push(Uuid::now_v7());
        seqs.push(*seq);
        *seq += 1;
    }
    let cols = [
        Col::Uuid(ids.clone()),
        Col::Uuid(items.iter().map(|n| n.user_id).collect()),
        Col::Text(items.iter().map(|n| n.kind).collect()),
        Col::Text(items.iter().map(|n| n.title).collect()),
        Col::Text(items.iter().map(|n| n.body).collect()),
        Col::Text(items.iter().map(|n| n.data).collect()),
        Col::Int(items.iter().map(|n| n.now_ms).collect()),
        Col::Int(seqs),
    ];
    bulk::execute(tx, &cols, |rows| {
        format!("INSERT INTO notifications (id, user_id, kind, title, body, data, created_at, seq) {rows}")
    })
    .await?;
    // Deliveries, for the notifications of those who have a device: found first with one look-up per person,
    // so a batch for people without devices (or with few) does not join every notification against the devices.
    let with_device: HashSet<Uuid> =
        rows_for_ids(tx, &users, |list| format!("SELECT DISTINCT user_id FROM devices WHERE user_id IN ({list})"))
            .await?
            .into_iter()
            .map(|(user,): (Uuid,)| user)
            .collect();
    let delivered: Vec<Uuid> =
        ids.iter().zip(items).filter(|(_, n)| with_device.contains(&n.user_id)).map(|(id, _)| *id).collect();
    let cols = [Col::Uuid(delivered)];
    bulk::execute(tx, &cols, |rows| {
        format!(
            "WITH v (id) AS ({rows}) \
             INSERT INTO notification_deliveries (notification_id, user_id, device_token, next_attempt_at, \
             created_at, updated_at) \
             SELECT n.id, d.user_id, d.token, n.created_at, n.created_at, n.created_at \
             FROM v JOIN notifications n ON n.id = v.id JOIN devices d ON d.user_id = n.user_id \
             WHERE NOT EXISTS (SELECT 1 FROM notification_mutes m WHERE m.user_id = n.user_id AND m.kind = n.kind) \
             ORDER BY n.id, d.token"
        )
    })
    .await?;
    Ok(ids)
}

/// (kind, data) of a user's notifications, oldest first.
pub async fn kinds_of(tx: &mut Tx, user: Uuid) -> StoreResult<Vec<(String, String)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "SELECT kind, data FROM notifications WHERE user_id = $1 ORDER BY seq")
        .bind(user)
        .fetch_all(&mut *conn)
        .await?))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InboxRow {
    pub id: Uuid,
    pub seq: Option<i64>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
    pub deliveries: i64,
    pub sent: i64,
    pub pending: i64,
}

/// A user's inbox, newest first (by the per-person number), below the number `before`.
pub async fn inbox(
    tx: &mut Tx,
    user: Uuid,
    unread_only: bool,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<InboxRow>> {
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, InboxRow>(
            "SELECT n.id, n.seq, n.kind, n.title, n.body, n.data, n.created_at, n.read_at, \
             (SELECT COUNT(*) FROM notification_deliveries d WHERE d.notification_id = n.id) AS deliveries, \
             (SELECT COUNT(*) FROM notification_deliveries d WHERE d.notification_id = n.id AND d.status = 'SENT') AS sent, \
             (SELECT COUNT(*) FROM notification_deliveries d WHERE d.notification_id = n.id AND d.status = 'PENDING') AS pending \
             FROM notifications n WHERE n.user_id = $1 AND ($2 = FALSE OR n.read_at IS NULL) \
             AND ($3 IS NULL OR n.seq < $3) \
             ORDER BY n.seq DESC LIMIT $4")
        .bind(user)
        .bind(unread_only)
        .bind(before)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}

pub async fn unread_count(tx: &mut Tx, user: Uuid) -> StoreResult<i64> {
    Ok(on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
        .bind(user)
        .fetch_one(&mut *conn)
        .await?))
}

/// Marks one of the user's notifications read; false when it is not theirs (or does not exist).
pub async fn mark_read(tx: &mut Tx, user: Uuid, id: Uuid, now_ms: i64) -> StoreResult<bool> {
    let exists: i64 = on_conn!(tx, conn => sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .fetch_one(&mut *conn)
        .await?);
    if exists == 0 {
        return Ok(false);
    }
    on_conn!(tx, conn => sqlx::query(
            "UPDATE notifications SET read_at = $3 WHERE id = $1 AND user_id = $2 AND read_at IS NULL")
        .bind(id)
        .bind(user)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(true)
}

// ---- devices and mutes ---------------------------------------------------------------------------------------

/// Registers a device token for `user`; a token seen before (another account signed in on the same phone) moves,
/// and one the user registered before is refreshed. Registrations of one user are serialised by the user's row lock
/// and stamped strictly later than the user's earlier ones (even within one millisecond), so which device was
/// registered longest ago is always well defined (see [`drop_oldest_devices`]).
pub async fn upsert_device(tx: &mut Tx, token: &str, user: Uuid, platform: &str, now_ms: i64) -> StoreResult<()> {
    let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
    let latest: Option<i64> = on_conn!(tx, conn => sqlx::query_scalar(&format!(
            "SELECT (SELECT MAX(updated_at) FROM devices WHERE user_id = $1) FROM users WHERE id = $1{lock}"))
        .bind(user)
        .fetch_optional(&mut *conn)
        .await?
        .flatten());
    let stamp = latest.map_or(now_ms, |last| now_ms.max(last + 1));
    on_conn!(tx, conn => sqlx::query(
            "INSERT INTO devices (token, user_id, platform, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (token) DO UPDATE SET user_id = $2, platform = $3, updated_at = $4")
        .bind(token)
        .bind(user)
        .bind(platform)
        .bind(stamp)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}

/// Keeps the `keep` devices of `user` registered (or refreshed) most recently and forgets the others. Returns how
/// many were forgotten.
pub async fn drop_oldest_devices(tx: &mut Tx, user: Uuid, keep: i64) -> StoreResult<u64> {
    Ok(on_conn!(tx, conn => sqlx::query(
            "DELETE FROM devices WHERE user_id = $1 AND token NOT IN \
             (SELECT token FROM devices WHERE user_id = $1 ORDER BY updated_at DESC LIMIT $2)")
        .bind(user)
        .bind(keep)
        .execute(&mut *conn)
        .await?
        .rows_affected()))
}

/// Removes a device token; `user` limits it to the owner's own (None: any, for dead tokens).
pub async fn delete_device(tx: &mut Tx, token: &str, user: Option<Uuid>) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query("DELETE FROM devices WHERE token = $1 AND ($2 IS NULL OR user_id = $2)")
        .bind(token)
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

pub async fn devices_of(tx: &mut Tx, user: Uuid) -> StoreResult<Vec<String>> {
    Ok(on_conn!(tx, conn => sqlx::query_scalar("SELECT token FROM devices WHERE user_id = $1 ORDER BY token")
        .bind(user)
        .fetch_all(&mut *conn)
        .await?))
}

pub async fn muted(tx: &mut Tx, user: Uuid) -> StoreResult<Vec<String>> {
    Ok(on_conn!(tx, conn => sqlx::query_scalar("SELECT kind FROM notification_mutes WHERE user_id = $1 ORDER BY kind")
        .bind(user)
        .fetch_all(&mut *conn)
        .await?))
}

pub async fn set_muted(tx: &mut Tx, user: Uuid, kinds: &[&str]) -> StoreResult<()> {
    on_conn!(tx, conn => {
        sqlx::query("DELETE FROM notification_mutes WHERE user_id = $1").bind(user).execute(&mut *conn).await?;
        for kind in kinds {
            sqlx::query("INSERT INTO notification_mutes (user_id, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(user)
                .bind(*kind)
                .execute(&mut *conn)
                .await?;
        }
    });
    Ok(())
}

// ---- the delivery queue --------------------------------------------------------------------------------------

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub notification_id: Uuid,
    pub device_token: String,
    pub attempts: i64,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: String,
}

/// Claims up to `limit` due deliveries for `lease_ms` of real time and counts the attempt, in one statement that
/// also returns what each message says. PostgreSQL skips rows another instance is claiming (`FOR UPDATE SKIP
/// LOCKED` in a materialised CTE, so the row locks and the limit apply before the update), so two instances never
/// hold the same delivery; on SQLite the single writer's `BEGIN IMMEDIATE` does the same. A worker that dies loses
/// its claim when the lease runs out.
///
/// The oldest due first, by `next_attempt_at` alone: that is the order of the `(status, next_attempt_at)` index, so
/// the scan stops after `limit` rows instead of sorting every due row (ties among equally due rows go in index
/// order). The rows come back in id order.
pub async fn claim(
    tx: &mut Tx,
    domain_now: i64,
    real_now: i64,
    lease_ms: i64,
    limit: i64,
) -> StoreResult<Vec<DeliveryRow>> {
    const DUE: &str = "SELECT id FROM notification_deliveries WHERE status = 'PENDING' AND next_attempt_at <= $1 \
         AND (locked_until IS NULL OR locked_until < $2) ORDER BY next_attempt_at LIMIT $3";
    const RETURNING: &str = "RETURNING id, notification_id, device_token, attempts, \
         (SELECT kind FROM notifications n WHERE n.id = notification_id) AS kind, \
         (SELECT title FROM notifications n WHERE n.id = notification_id) AS title, \
         (SELECT body FROM notifications n WHERE n.id = notification_id) AS body, \
         (SELECT data FROM notifications n WHERE n.id = notification_id) AS data";
    // PostgreSQL joins each claimed row to its message once; SQLite's RETURNING cannot name an UPDATE's FROM
    // tables, so there each column is a look-up of its own.
    let sql = if tx.is_postgres() {
        format!(
            "WITH due AS MATERIALIZED ({DUE} FOR UPDATE SKIP LOCKED) \
             UPDATE notification_deliveries d SET locked_until = $4, attempts = d.attempts + 1 \
             FROM due, notifications n WHERE d.id = due.id AND n.id = d.notification_id \
             RETURNING d.id, d.notification_id, d.device_token, d.attempts, n.kind, n.title, n.body, n.data"
        )
    } else {
        format!(
            "UPDATE notification_deliveries SET locked_until = $4, attempts = attempts + 1 \
             WHERE id IN ({DUE}) {RETURNING}"
        )
    };
    let mut rows: Vec<DeliveryRow> = on_conn!(tx, conn => sqlx::query_as::<_, DeliveryRow>(&sql)
        .bind(domain_now)
        .bind(real_now)
        .bind(limit)
        .bind(real_now + lease_ms)
        .fetch_all(&mut *conn)
        .await?);
    rows.sort_unstable_by_key(|r| r.id);
    Ok(rows)
}

/// The JSON array the set-based statements below read their rows from (`json_each` on SQLite,
/// `jsonb_to_recordset` on PostgreSQL): one bound parameter, whatever the batch size.
fn json_rows<T: serde::Serialize>(rows: &[T]) -> String {
    serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_owned())
}

/// Marks every delivery in `ids` SENT, in one statement.
pub async fn mark_sent(tx: &mut Tx, ids: &[i64], now_ms: i64) -> StoreResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = if tx.is_postgres() {
        "UPDATE notification_deliveries SET status = 'SENT', sent_at = $2, locked_until = NULL, last_error = NULL, \
         updated_at = $2 WHERE id IN (SELECT value::bigint FROM jsonb_array_elements_text($1::jsonb))"
    } else {
        "UPDATE notification_deliveries SET status = 'SENT', sent_at = $2, locked_until = NULL, last_error = NULL, \
         updated_at = $2 WHERE id IN (SELECT value FROM json_each($1))"
    };
    let ids = json_rows(ids);
    Ok(on_conn!(tx, conn => sqlx::query(sql)
        .bind(&ids)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected()))
}

/// A delivery to try again at `due` (domain time), and why the last try failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Retry<'a> {
    pub id: i64,
    pub due: i64,
    pub error: &'a str,
}

/// Puts every delivery in `retries` back in the queue at its own due time, in one statement.
pub async fn mark_retry(tx: &mut Tx, retries: &[Retry<'_>], now_ms: i64) -> StoreResult<u64> {
    if retries.is_empty() {
        return Ok(0);
    }
    let sql = if tx.is_postgres() {
        "UPDATE notification_deliveries d SET next_attempt_at = r.due, locked_until = NULL, last_error = r.error, \
         updated_at = $2 FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, due bigint, error text) WHERE d.id = r.id"
    } else {
        "UPDATE notification_deliveries SET next_attempt_at = r.due, locked_until = NULL, last_error = r.error, \
         updated_at = $2 FROM (SELECT value ->> 'id' AS id, value ->> 'due' AS due, value ->> 'error' AS error \
         FROM json_each($1)) AS r WHERE notification_deliveries.id = r.id"
    };
    let rows = json_rows(retries);
    Ok(on_conn!(tx, conn => sqlx::query(sql)
        .bind(&rows)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected()))
}

/// A delivery that ends without being sent, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure<'a> {
    pub id: i64,
    pub error: &'a str,
}

/// Ends every delivery in `failures` with `status` (FAILED or DROPPED), in one statement.
pub async fn mark_failed(tx: &mut Tx, failures: &[Failure<'_>], status: &str, now_ms: i64) -> StoreResult<u64> {
    if failures.is_empty() {
        return Ok(0);
    }
    let sql = if tx.is_postgres() {
        "UPDATE notification_deliveries d SET status = $2, locked_until = NULL, last_error = f.error, updated_at = $3 \
         FROM jsonb_to_recordset($1::jsonb) AS f(id bigint, error text) WHERE d.id = f.id"
    } else {
        "UPDATE notification_deliveries SET status = $2, locked_until = NULL, last_error = f.error, updated_at = $3 \
         FROM (SELECT value ->> 'id' AS id, value ->> 'error' AS error FROM json_each($1)) AS f \
         WHERE notification_deliveries.id = f.id"
    };
    let rows = json_rows(failures);
    Ok(on_conn!(tx, conn => sqlx::query(sql)
        .bind(&rows)
        .bind(status)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected()))
}

/// A dead token: forget the device and drop every delivery still waiting for it.
pub async fn drop_token(tx: &mut Tx, token: &str, error: &str, now_ms: i64) -> StoreResult<()> {
    on_conn!(tx, conn => {
        sqlx::query("DELETE FROM devices WHERE token = $1").bind(token).execute(&mut *conn).await?;
        sqlx::query(
            "UPDATE notification_deliveries SET status = 'DROPPED', locked_until = NULL, last_error = $2, \
             updated_at = $3 WHERE device_token = $1 AND status = 'PENDING'")
            .bind(token)
            .bind(error)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

/// Deliveries per status (for the metrics).
pub async fn delivery_counts(tx: &mut Tx) -> StoreResult<Vec<(String, i64)>> {
    Ok(on_conn!(tx, conn => sqlx::query_as(
            "SELECT status, COUNT(*) FROM notification_deliveries GROUP BY status ORDER BY status")
        .fetch_all(&mut *conn)
        .await?))
}

/// The last day each challenge in progress was reminded on (`YYYY-MM-DD`), for those reminded at all: the
/// reminder step reads this first, so a pass with nothing due writes nothing.
pub async fn last_reminders(tx: &mut Tx) -> StoreResult<HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> = on_conn!(tx, conn => sqlx::query_as(
            "SELECT r.challenge_id, MAX(r.day) FROM reminder_runs r JOIN challenges c ON c.id = r.challenge_id \
             WHERE c.status = 'IN_PROGRESS' AND c.deleted_at IS NULL GROUP BY r.challenge_id")
        .fetch_all(&mut *conn)
        .await?);
    Ok(rows.into_iter().collect())
}

/// Records that a challenge's reminder for `day` went out; false when it already had.
pub async fn claim_reminder(tx: &mut Tx, challenge: Uuid, day: &str, now_ms: i64) -> StoreResult<bool> {
    let n = on_conn!(tx, conn => sqlx::query(
            "INSERT INTO reminder_runs (challenge_id, day, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(challenge)
        .bind(day)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(n == 1)
}

/// A user's notifications numbered after `after_seq`, oldest first (the app's pull).
pub async fn after_seq(tx: &mut Tx, user: Uuid, after_seq: i64, limit: i64) -> StoreResult<Vec<InboxRow>> {
    Ok(on_conn!(tx, conn => sqlx::query_as::<_, InboxRow>(
            "SELECT n.id, n.seq, n.kind, n.title, n.body, n.data, n.created_at, n.read_at, \
             (SELECT COUNT(*) FROM notification_deliveries d WHERE d.notification_id = n.id) AS deliveries, \
             (SELECT COUNT(*) FROM notification_deliveries d WHERE d.notification_id = n.id AND d.status = 'SENT') AS sent, \
             (SELECT COUNT(*) FROM notification_deliveries d WHERE d.notification_id = n.id AND d.status = 'PENDING') AS pending \
             FROM notifications n WHERE n.user_id = $1 AND n.seq > $2 ORDER BY n.seq LIMIT $3")
        .bind(user)
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?))
}
