//! Writes inbox notifications inside the transaction of the event they tell about, so a committed event always has
//! its notification and a rolled-back one never does. Delivery to devices reads these rows afterwards.

use uuid::Uuid;

use crate::store::notifications::{self, NewNotification};
use crate::store::{StoreResult, Tx};

/// The kinds of notification (stable strings: clients and mute settings use them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    JoinConfirmed,
    ChallengeStarting,
    ChallengeCancelled,
    ProofReminder,
    ProofRejected,
    SettlementResult,
    PaymentResult,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::JoinConfirmed => "JOIN_CONFIRMED",
            Kind::ChallengeStarting => "CHALLENGE_STARTING",
            Kind::ChallengeCancelled => "CHALLENGE_CANCELLED",
            Kind::ProofReminder => "PROOF_REMINDER",
            Kind::ProofRejected => "PROOF_REJECTED",
            Kind::SettlementResult => "SETTLEMENT_RESULT",
            Kind::PaymentResult => "PAYMENT_RESULT",
        }
    }
}

/// Records one notification for `user`. `data` becomes a JSON object of strings.
pub async fn record(
    tx: &mut Tx,
    user: Uuid,
    kind: Kind,
    title: &str,
    body: &str,
    data: &[(&str, String)],
    now_ms: i64,
) -> StoreResult<Uuid> {
    let map: serde_json::Map<String, serde_json::Value> =
        data.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect();
    let data = serde_json::Value::Object(map).to_string();
    notifications::insert(tx, &NewNotification { user_id: user, kind: kind.as_str(), title, body, data: &data, now_ms })
        .await
}
