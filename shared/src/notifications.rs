//! Notifications: the in-app inbox, device registration for push, and which kinds a person muted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

crate::id_type!(
    /// One notification in a person's inbox.
    NotificationId
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationKind {
    JoinConfirmed,
    ChallengeStarting,
    ChallengeCancelled,
    ProofReminder,
    ProofRejected,
    /// A decision that leaves a proof counting: its reports dismissed, or an appeal granted.
    ProofReviewed,
    SettlementResult,
    PaymentResult,
    PurchaseResult,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 9] = [
        NotificationKind::JoinConfirmed,
        NotificationKind::ChallengeStarting,
        NotificationKind::ChallengeCancelled,
        NotificationKind::ProofReminder,
        NotificationKind::ProofRejected,
        NotificationKind::ProofReviewed,
        NotificationKind::SettlementResult,
        NotificationKind::PaymentResult,
        NotificationKind::PurchaseResult,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::JoinConfirmed => "JOIN_CONFIRMED",
            NotificationKind::ChallengeStarting => "CHALLENGE_STARTING",
            NotificationKind::ChallengeCancelled => "CHALLENGE_CANCELLED",
            NotificationKind::ProofReminder => "PROOF_REMINDER",
            NotificationKind::ProofRejected => "PROOF_REJECTED",
            NotificationKind::ProofReviewed => "PROOF_REVIEWED",
            NotificationKind::SettlementResult => "SETTLEMENT_RESULT",
            NotificationKind::PaymentResult => "PAYMENT_RESULT",
            NotificationKind::PurchaseResult => "PURCHASE_RESULT",
        }
    }

    pub fn parse(s: &str) -> Option<NotificationKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DevicePlatform {
    Web,
    Android,
    Ios,
}

impl DevicePlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            DevicePlatform::Web => "WEB",
            DevicePlatform::Android => "ANDROID",
            DevicePlatform::Ios => "IOS",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterDeviceRequest {
    pub platform: DevicePlatform,
    /// The FCM registration token of this device.
    pub token: String,
}

/// How push delivery to a person's devices went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// No device to push to (or the kind is muted): inbox only.
    InboxOnly,
    Pending,
    Sent,
    /// Every try failed; the notification is still here in the inbox.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    pub id: NotificationId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// Links for the client (`challenge_id`, `order_id`, …).
    pub data: std::collections::BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub delivery: DeliveryState,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
pub struct NotificationQuery {
    /// Only unread ones.
    pub unread: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnreadCount {
    pub count: i64,
}

/// Kinds that are kept in the inbox but never pushed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationSettings {
    pub muted: Vec<NotificationKind>,
}
