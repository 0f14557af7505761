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
    ProofReviewed,
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
            Kind::ProofReviewed => "PROOF_REVIEWED",
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
    let data = data_json(data);
    notifications::insert(tx, &NewNotification { user_id: user, kind: kind.as_str(), title, body, data: &data, now_ms })
        .await
}

/// One notification of a batch for [`record_many`].
pub struct Note {
    pub user: Uuid,
    pub body: String,
    pub data: Vec<(&'static str, String)>,
}

/// Records one notification of `kind` per note, each with the rows [`record`] would write, in a few statements for
/// the whole batch (settlement tells every participant at once).
pub async fn record_many(tx: &mut Tx, kind: Kind, title: &str, notes: &[Note], now_ms: i64) -> StoreResult<Vec<Uuid>> {
    let data: Vec<String> = notes.iter().map(|n| data_json(&n.data)).collect();
    let rows: Vec<NewNotification<'_>> = notes
        .iter()
        .zip(&data)
        .map(|(n, data)| NewNotification { user_id: n.user, kind: kind.as_str(), title, body: &n.body, data, now_ms })
        .collect();
    notifications::insert_many(tx, &rows).await
}

/// The `data` pairs as a JSON object of strings (what FCM's `data` section carries).
fn data_json(data: &[(&str, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        data.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect();
    serde_json::Value::Object(map).to_string()
}
