//! The inbox's types, as the server's notifications endpoints speak them (`GET /notifications`,
//! `GET /notifications/unread-count`, `POST /notifications/{id}/read`).
//!
//! MERGE NOTE: these mirror `nene_shared::notifications` field for field, which is being added on the server's
//! branch. Once it is in `shared`, replace this whole module's body with
//! `pub use nene_shared::notifications::{Notification, NotificationId, NotificationKind, NotificationQuery,
//! UnreadCount, DeliveryState};` — nothing else in the UI needs to change.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One notification in a person's inbox (a UUID on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NotificationId(uuid::Uuid);

impl std::fmt::Display for NotificationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationKind {
    JoinConfirmed,
    ChallengeStarting,
    ChallengeCancelled,
    ProofReminder,
    ProofRejected,
    SettlementResult,
    PaymentResult,
    PurchaseResult,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    InboxOnly,
    Pending,
    Sent,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// Links for the client (`challenge_id`, `order_id`, …).
    pub data: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub delivery: DeliveryState,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NotificationQuery {
    pub unread: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadCount {
    pub count: i64,
}
