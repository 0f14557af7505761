//! The in-app inbox (every notification is kept here, pushed or not), read marks, and muted kinds.

use std::collections::BTreeMap;

use chrono::Utc;
use nene_shared::UserId;
use nene_shared::notifications::{
    DeliveryState, Notification, NotificationId, NotificationKind, NotificationQuery, NotificationSettings,
};
use nene_shared::page::Page;

use crate::error::{ApiError, ApiResult};
use crate::store::notifications::InboxRow;
use crate::store::{self, Db, from_millis};

pub fn view(row: &InboxRow) -> Notification {
    let data: BTreeMap<String, String> = serde_json::from_str(&row.data).unwrap_or_default();
    let delivery = if row.deliveries == 0 {
        DeliveryState::InboxOnly
    } else if row.sent > 0 {
        DeliveryState::Sent
    } else if row.pending > 0 {
        DeliveryState::Pending
    } else {
        DeliveryState::Failed
    };
    Notification {
        id: NotificationId::from_uuid(row.id),
        kind: NotificationKind::parse(&row.kind).unwrap_or(NotificationKind::PaymentResult),
        title: row.title.clone(),
        body: row.body.clone(),
        data,
        created_at: from_millis(row.created_at),
        read_at: row.read_at.map(from_millis),
        delivery,
    }
}

/// Newest first, by the per-person number given at insertion (what the app's sync pulls by too); the cursor is
/// the number of the last one seen.
pub async fn list(db: &Db, user: UserId, q: &NotificationQuery) -> ApiResult<Page<Notification>> {
    let before = crate::cursor::parse_number(q.cursor.as_deref())?;
    let limit = i64::from(q.limit.unwrap_or(20).clamp(1, 100));
    let mut tx = db.begin_read().await?;
    let rows =
        store::notifications::inbox(&mut tx, user.as_uuid(), q.unread.unwrap_or(false), before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items = rows.iter().take(limit as usize).map(view).collect();
    let next_cursor =
        if more { rows.get(limit as usize - 1).and_then(|r| r.seq).map(|seq| seq.to_string()) } else { None };
    Ok(Page { items, next_cursor })
}

pub async fn unread_count(db: &Db, user: UserId) -> ApiResult<i64> {
    let mut tx = db.begin_read().await?;
    Ok(store::notifications::unread_count(&mut tx, user.as_uuid()).await?)
}

pub async fn mark_read(db: &Db, user: UserId, id: NotificationId) -> ApiResult<()> {
    let mut tx = db.begin_write().await?;
    if !store::notifications::mark_read(&mut tx, user.as_uuid(), id.as_uuid(), Utc::now().timestamp_millis()).await? {
        return Err(ApiError::not_found("No such notification."));
    }
    tx.commit().await?;
    Ok(())
}

pub async fn settings(db: &Db, user: UserId) -> ApiResult<NotificationSettings> {
    let mut tx = db.begin_read().await?;
    let muted = store::notifications::muted(&mut tx, user.as_uuid()).await?;
    Ok(NotificationSettings { muted: muted.iter().filter_map(|k| NotificationKind::parse(k)).collect() })
}

pub async fn set_settings(db: &Db, user: UserId, s: NotificationSettings) -> ApiResult<NotificationSettings> {
    let mut kinds: Vec<&str> = s.muted.iter().map(|k| k.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut tx = db.begin_write().await?;
    store::notifications::set_muted(&mut tx, user.as_uuid(), &kinds).await?;
    tx.commit().await?;
    settings(db, user).await
}
