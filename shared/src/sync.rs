//! Sync between the app's offline cache and the server (architecture.md, "Sync between the app and the server").
//!
//! Pull: the app sends its opaque cursor and gets what changed since: wallet entries after its last `seq`,
//! notifications after its last `seq` (both numbered per owner under the owner's lock, so a cursor never skips a
//! row), and the challenges it takes part in whose `version` grew. Push: actions taken offline are intents with a
//! client-made id (the idempotency key) and a per-device sequence; the server applies each exactly once, in order,
//! however often it is sent, and answers each: applied, rejected with a reason, or retry later.

use serde::{Deserialize, Serialize};

use crate::challenges::{Challenge, ChallengeId, Progress};
use crate::error::ErrorCode;
use crate::ledger::{Wallet, WalletEntry};
use crate::notifications::Notification;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
pub struct PullQuery {
    /// The cursor of the previous pull; none for the first.
    pub cursor: Option<String>,
}

/// A challenge as the app caches it: the challenge and its live figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChallengeSnapshot {
    pub challenge: Challenge,
    pub progress: Progress,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub wallet: Wallet,
    /// Oldest first, each after the cursor's last one.
    pub wallet_entries: Vec<WalletEntry>,
    /// Notifications after the cursor's, oldest first, with their per-user `seq`.
    pub notifications: Vec<SyncedNotification>,
    /// Challenges that changed (or that the person left: then `challenge.joined` is false).
    pub challenges: Vec<ChallengeSnapshot>,
    pub cursor: String,
    /// More changes are waiting: pull again with the new cursor.
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncedNotification {
    pub seq: i64,
    pub notification: Notification,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntentKind {
    Join,
    Leave,
    Proof,
    Purchase,
}

impl IntentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentKind::Join => "JOIN",
            IntentKind::Leave => "LEAVE",
            IntentKind::Proof => "PROOF",
            IntentKind::Purchase => "PURCHASE",
        }
    }
}

/// The body of a JOIN or LEAVE intent.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChallengeIntent {
    pub challenge_id: ChallengeId,
}

/// The body of a PROOF intent. The photo was uploaded first (`POST /sync/photos`), keyed by its content hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProofIntent {
    pub challenge_id: ChallengeId,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub photo_hash: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Intent {
    /// Made by the app (time-ordered, e.g. a UUIDv7) and saved before the first send: the idempotency key.
    pub id: String,
    /// The device's own order of its intents.
    pub seq: i64,
    pub kind: IntentKind,
    /// Sent again unchanged: the server keeps the first kind and body it received under this id, and refuses
    /// another (`INTENT_BODY_CHANGED`). Object key order does not matter.
    pub body: serde_json::Value,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub device_id: String,
    pub intents: Vec<Intent>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntentStatus {
    Applied,
    /// Refused for good (full, deadline passed, not enough points): show the reason, do not send again.
    Rejected,
    /// Could not be decided now (a failure on the server's side): send again later. An intent whose send was cut
    /// off is never left in this state by the cut itself.
    Retry,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntentResult {
    pub id: String,
    pub status: IntentStatus,
    pub code: Option<ErrorCode>,
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    pub results: Vec<IntentResult>,
}

/// The answer to a photo upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoUploaded {
    /// Lowercase hex SHA-256 of the bytes.
    pub hash: String,
}
