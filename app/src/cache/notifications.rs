//! The inbox as last synced, by the server's per-person number, and which items were already announced as desktop
//! notifications.

use nene_shared::notifications::Notification;
use nene_shared::sync::SyncedNotification;
use rusqlite::{Connection, params};

use super::{Cache, CacheResult};

impl Cache {
    /// The inbox, newest first: up to `limit` items numbered below `before` (all when none).
    pub fn notifications(&self, before: Option<i64>, limit: u32) -> CacheResult<Vec<SyncedNotification>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT seq, notification FROM notifications WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2")?;
            let rows = stmt.query_map(params![before.unwrap_or(i64::MAX), limit], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, json) = row?;
                out.push(SyncedNotification { seq, notification: serde_json::from_str(&json)? });
            }
            Ok(out)
        })
    }

    /// How many inbox items are unread, as last synced.
    pub fn unread_count(&self) -> CacheResult<i64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM notifications WHERE json_extract(notification, '$.read_at') IS NULL",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// Inbox items not yet announced, oldest first, now marked announced: each is announced once.
    pub(crate) fn take_unannounced(&self) -> CacheResult<Vec<Notification>> {
        self.write(|tx| {
            let mut stmt = tx.prepare("SELECT notification FROM notifications WHERE announced = 0 ORDER BY seq")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for json in rows {
                out.push(serde_json::from_str(&json?)?);
            }
            drop(stmt);
            tx.execute("UPDATE notifications SET announced = 1 WHERE announced = 0", [])?;
            Ok(out)
        })
    }
}

/// Stores an inbox item under its number. Answers whether it was new.
pub(super) fn put(c: &Connection, item: &SyncedNotification) -> CacheResult<bool> {
    let json = serde_json::to_string(&item.notification)?;
    let existed: bool =
        c.query_row("SELECT EXISTS (SELECT 1 FROM notifications WHERE seq = ?1)", [item.seq], |r| r.get(0))?;
    c.execute(
        "INSERT INTO notifications (seq, id, notification) VALUES (?1, ?2, ?3)
         ON CONFLICT (seq) DO UPDATE SET notification = excluded.notification",
        params![item.seq, item.notification.id.to_string(), json],
    )?;
    Ok(!existed)
}
