//! The outbox: actions taken on this device (join, leave, proof), each saved with its own id and number before it
//! is first sent, then marked with the server's answer. Pending ones are shown as pending; rejected ones keep the
//! server's reason for the UI and are never sent again.

use nene_shared::challenges::ChallengeId;
use nene_shared::sync::{Intent, IntentKind, IntentResult, IntentStatus};
use nene_shared::{ErrorCode, Points};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{Cache, CacheResult, challenges, meta, now_ms, photos};

/// Where a queued action stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntentState {
    /// Not yet confirmed by the server (never sent, or its answer was lost, or the server said "later").
    Pending,
    Applied,
    /// Refused for good; `code` and `message` say why.
    Rejected,
}

impl IntentState {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentState::Pending => "PENDING",
            IntentState::Applied => "APPLIED",
            IntentState::Rejected => "REJECTED",
        }
    }

    fn parse(s: &str) -> IntentState {
        match s {
            "APPLIED" => IntentState::Applied,
            "REJECTED" => IntentState::Rejected,
            _ => IntentState::Pending,
        }
    }
}

/// One queued action as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxIntent {
    /// A UUIDv7 made on this device: the server's idempotency key.
    pub id: String,
    /// This device's order of its actions.
    pub seq: i64,
    pub kind: IntentKind,
    pub body: serde_json::Value,
    pub challenge_id: Option<ChallengeId>,
    /// Points this moves for the person once applied, when known (a join's stake is negative).
    pub amount: Option<Points>,
    pub photo_hash: Option<String>,
    pub state: IntentState,
    /// Why the server refused it (rejected ones).
    pub code: Option<ErrorCode>,
    pub message: Option<String>,
    /// How many times sending it was tried.
    pub attempts: i64,
    /// Why the last send did not settle it (offline, "try later").
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An action to queue.
pub(crate) struct NewIntent {
    pub kind: IntentKind,
    pub body: serde_json::Value,
    pub challenge_id: ChallengeId,
    /// A proof's photo: its hash and bytes.
    pub photo: Option<(String, Vec<u8>)>,
}

const COLUMNS: &str = "id, seq, kind, body, challenge_id, amount, photo_hash, status, code, message, attempts, \
                       last_error, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(OutboxIntent, String)> {
    let kind: String = r.get(2)?;
    let body: String = r.get(3)?;
    let challenge: Option<String> = r.get(4)?;
    let code: Option<String> = r.get(8)?;
    let intent = OutboxIntent {
        id: r.get(0)?,
        seq: r.get(1)?,
        kind: parse_kind(&kind),
        body: serde_json::Value::Null,
        challenge_id: challenge.and_then(|c| c.parse().ok()),
        amount: r.get::<_, Option<i64>>(5)?.map(Points::new),
        photo_hash: r.get(6)?,
        state: IntentState::parse(&r.get::<_, String>(7)?),
        code: code.map(|c| parse_code(&c)),
        message: r.get(9)?,
        attempts: r.get(10)?,
        last_error: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    };
    Ok((intent, body))
}

fn parse_kind(s: &str) -> IntentKind {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or(IntentKind::Purchase)
}

fn parse_code(s: &str) -> ErrorCode {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).unwrap_or(ErrorCode::Unknown)
}

fn query(c: &Connection, filter: &str, args: impl rusqlite::Params) -> CacheResult<Vec<OutboxIntent>> {
    let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM outbox {filter}"))?;
    let rows = stmt.query_map(args, from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let (mut intent, body) = row?;
        intent.body = serde_json::from_str(&body)?;
        out.push(intent);
    }
    Ok(out)
}

impl Cache {
    /// Actions not yet confirmed, in the order they were taken.
    pub fn pending_intents(&self) -> CacheResult<Vec<OutboxIntent>> {
        self.read(|c| query(c, "WHERE status = 'PENDING' ORDER BY seq", []))
    }

    /// Actions the server refused, newest first, with its reasons.
    pub fn rejected_intents(&self) -> CacheResult<Vec<OutboxIntent>> {
        self.read(|c| query(c, "WHERE status = 'REJECTED' ORDER BY seq DESC", []))
    }

    /// One queued action, whatever its state.
    pub fn intent(&self, id: &str) -> CacheResult<Option<OutboxIntent>> {
        self.read(|c| Ok(query(c, "WHERE id = ?1", [id])?.into_iter().next()))
    }

    /// Saves an action before anything is sent: its id and number are fixed from here on.
    pub(crate) fn queue(&self, new: NewIntent) -> CacheResult<OutboxIntent> {
        self.write(|tx| {
            let seq = meta::next_intent_seq(tx)?;
            let id = uuid::Uuid::now_v7().to_string();
            let stake = challenges::stake_of(tx, new.challenge_id)?;
            let amount = match new.kind {
                IntentKind::Join => stake.map(|s| -s),
                IntentKind::Leave => stake,
                IntentKind::Proof | IntentKind::Purchase => None,
            };
            let photo_hash = match &new.photo {
                Some((hash, bytes)) => {
                    photos::put(tx, hash, bytes)?;
                    Some(hash.clone())
                }
                None => None,
            };
            let now = now_ms();
            tx.execute(
                "INSERT INTO outbox (id, seq, kind, body, challenge_id, amount, photo_hash, status, attempts,
                     created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'PENDING', 0, ?8, ?8)",
                params![
                    id,
                    seq,
                    new.kind.as_str(),
                    serde_json::to_string(&new.body)?,
                    new.challenge_id.to_string(),
                    amount,
                    photo_hash,
                    now
                ],
            )?;
            query(tx, "WHERE id = ?1", [&id])?.into_iter().next().ok_or(rusqlite::Error::QueryReturnedNoRows.into())
        })
    }

    /// The next pending actions to send, in order, as the server takes them.
    pub(crate) fn pending_batch(&self, limit: usize) -> CacheResult<Vec<Intent>> {
        self.read(|c| {
            let pending = query(c, "WHERE status = 'PENDING' ORDER BY seq LIMIT ?1", [limit as i64])?;
            Ok(pending.into_iter().map(|i| Intent { id: i.id, seq: i.seq, kind: i.kind, body: i.body }).collect())
        })
    }

    /// Counts a send of these actions (before it happens: a send whose answer is lost still counts).
    pub(crate) fn mark_sending(&self, ids: &[String]) -> CacheResult<()> {
        self.write(|tx| {
            let now = now_ms();
            for id in ids {
                tx.execute(
                    "UPDATE outbox SET attempts = attempts + 1, updated_at = ?2 WHERE id = ?1 AND status = 'PENDING'",
                    params![id, now],
                )?;
            }
            Ok(())
        })
    }

    /// Notes why a send did not settle these actions; they stay pending.
    pub(crate) fn note_failure(&self, ids: &[String], error: &str) -> CacheResult<()> {
        self.write(|tx| {
            for id in ids {
                tx.execute(
                    "UPDATE outbox SET last_error = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'PENDING'",
                    params![id, error, now_ms()],
                )?;
            }
            Ok(())
        })
    }

    /// Records the server's answers in one transaction. Only pending actions change: an answer never undoes a
    /// settled one. Answers how many were (applied, rejected, to retry).
    pub(crate) fn record_results(&self, results: &[IntentResult]) -> CacheResult<(usize, usize, usize)> {
        self.write(|tx| {
            let now = now_ms();
            let (mut applied, mut rejected, mut retry) = (0, 0, 0);
            for r in results {
                let code = r.code.map(|c| c.as_str());
                match r.status {
                    IntentStatus::Applied => {
                        applied += tx.execute(
                            "UPDATE outbox SET status = 'APPLIED', code = NULL, message = NULL, last_error = NULL,
                                 updated_at = ?2
                             WHERE id = ?1 AND status = 'PENDING'",
                            params![r.id, now],
                        )?;
                    }
                    IntentStatus::Rejected => {
                        rejected += tx.execute(
                            "UPDATE outbox SET status = 'REJECTED', code = ?2, message = ?3, last_error = NULL,
                                 updated_at = ?4
                             WHERE id = ?1 AND status = 'PENDING'",
                            params![r.id, code.unwrap_or(ErrorCode::Unknown.as_str()), r.message, now],
                        )?;
                    }
                    IntentStatus::Retry => {
                        let why = match (&r.code, &r.message) {
                            (Some(c), Some(m)) => format!("{c}: {m}"),
                            (Some(c), None) => c.to_string(),
                            (None, Some(m)) => m.clone(),
                            (None, None) => "the server asked to try again later".to_owned(),
                        };
                        retry += tx.execute(
                            "UPDATE outbox SET last_error = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'PENDING'",
                            params![r.id, why, now],
                        )?;
                    }
                }
            }
            photos::prune(tx)?;
            Ok((applied, rejected, retry))
        })
    }

    /// Refuses, here on the device, the pending actions that need a photo the server will not take.
    pub(crate) fn reject_with_photo(&self, hash: &str, code: ErrorCode, message: &str) -> CacheResult<usize> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE outbox SET status = 'REJECTED', code = ?2, message = ?3, updated_at = ?4
                 WHERE photo_hash = ?1 AND status = 'PENDING'",
                params![hash, code.as_str(), message, now_ms()],
            )?;
            photos::prune(tx)?;
            Ok(n)
        })
    }

    /// Removes a rejected action once the person has seen why.
    pub(crate) fn dismiss_rejected(&self, id: &str) -> CacheResult<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM outbox WHERE id = ?1 AND status = 'REJECTED'", [id])? > 0))
    }

    /// The state of one action, for tests and the UI's "is it through yet?".
    pub fn intent_state(&self, id: &str) -> CacheResult<Option<IntentState>> {
        self.read(|c| {
            let s: Option<String> =
                c.query_row("SELECT status FROM outbox WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            Ok(s.map(|s| IntentState::parse(&s)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(cache: &Cache, kind: IntentKind) -> OutboxIntent {
        let challenge_id = ChallengeId::new();
        let body = serde_json::json!({"challenge_id": challenge_id});
        cache.queue(NewIntent { kind, body, challenge_id, photo: None }).expect("queued")
    }

    fn result(id: &str, status: IntentStatus, code: Option<ErrorCode>) -> IntentResult {
        IntentResult { id: id.to_owned(), status, code, message: code.map(|c| format!("because {c}")) }
    }

    #[test]
    fn answers_settle_pending_intents_once_and_retries_stay_pending() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(dir.path()).expect("cache");
        let (a, b, c) =
            (queued(&cache, IntentKind::Join), queued(&cache, IntentKind::Join), queued(&cache, IntentKind::Leave));
        let counts = cache
            .record_results(&[
                result(&a.id, IntentStatus::Applied, None),
                result(&b.id, IntentStatus::Rejected, Some(ErrorCode::ChallengeFull)),
                result(&c.id, IntentStatus::Retry, Some(ErrorCode::Unavailable)),
                result("not-ours", IntentStatus::Applied, None),
            ])
            .expect("recorded");
        assert_eq!(counts, (1, 1, 1));
        assert_eq!(cache.intent_state(&a.id).expect("state"), Some(IntentState::Applied));
        let rejected = cache.rejected_intents().expect("rejected");
        assert_eq!(
            (rejected[0].code, rejected[0].message.as_deref()),
            (Some(ErrorCode::ChallengeFull), Some("because CHALLENGE_FULL"))
        );
        let pending = cache.pending_intents().expect("pending");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].id, c.id);
        assert!(pending[0].last_error.as_deref().is_some_and(|e| e.starts_with("UNAVAILABLE")));
        assert_eq!(cache.pending_batch(10).expect("batch").len(), 1, "only the pending one is sent again");

        // A late or repeated answer never undoes a settled intent.
        let again = cache
            .record_results(&[
                result(&a.id, IntentStatus::Rejected, Some(ErrorCode::ChallengeFull)),
                result(&b.id, IntentStatus::Applied, None),
            ])
            .expect("recorded");
        assert_eq!(again, (0, 0, 0));
        assert_eq!(cache.intent_state(&a.id).expect("state"), Some(IntentState::Applied));
        assert_eq!(cache.intent_state(&b.id).expect("state"), Some(IntentState::Rejected));
    }

    #[test]
    fn states_round_trip() {
        for s in [IntentState::Pending, IntentState::Applied, IntentState::Rejected] {
            assert_eq!(IntentState::parse(s.as_str()), s);
        }
        assert_eq!(parse_code("CHALLENGE_FULL"), ErrorCode::ChallengeFull);
        assert_eq!(parse_code("SOMETHING_NEW"), ErrorCode::Unknown);
        assert_eq!(parse_kind("JOIN"), IntentKind::Join);
    }
}
