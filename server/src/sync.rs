//! Sync for the app's offline cache. Pull answers what changed after the app's cursor, using numbers that are
//! assigned under each owner's lock (wallet entries per wallet, notifications per user, a version per challenge),
//! never a global sequence, so a cursor cannot skip a row committed late. Push applies offline intents exactly once
//! each, in the device's order, answering each one, however often a push is cut off and sent again
//! ([`apply_once`]).

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use nene_shared::sync::{
    ChallengeIntent, ChallengeSnapshot, Intent, IntentKind, IntentResult, IntentStatus, ProofIntent, PullResponse,
    PushRequest, PushResponse, SyncedNotification,
};
use nene_shared::{ErrorCode, FieldCode, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::tokens::AccessClaims;
use crate::challenges::{self, proofs};
use crate::error::{ApiError, ApiResult};
use crate::ledger::AccountId;
use crate::store::from_millis;
use crate::store::sync::{IntentKey, IntentRow, Receipt};
use crate::uploads::{self, PhotoSource};
use crate::{inbox, store, wallet};

/// Rows of each kind per pull; `more` says when there are more.
const PAGE: i64 = 200;
/// Intents per push.
const MAX_INTENTS: usize = 100;

/// What the app has seen. Opaque to the app (base64url JSON).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    /// Last wallet entry seq.
    w: i64,
    /// Last notification seq.
    n: i64,
    /// Challenge id → version seen.
    c: BTreeMap<Uuid, i64>,
}

fn decode(cursor: Option<&str>) -> ApiResult<Cursor> {
    let Some(raw) = cursor.filter(|c| !c.is_empty()) else { return Ok(Cursor::default()) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::validation(BTreeMap::from([("cursor".to_owned(), FieldCode::Invalid)])))
}

fn encode(cursor: &Cursor) -> ApiResult<String> {
    let json = serde_json::to_vec(cursor).map_err(|e| ApiError::internal(&e))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
}

pub async fn pull(state: &AppState, user: UserId, cursor: Option<&str>) -> ApiResult<PullResponse> {
    let mut cursor = decode(cursor)?;
    let account = AccountId::wallet(user);
    let mut tx = state.db.begin_read().await?;
    let rows = store::ledger::entries_after(&mut tx, account.as_str(), cursor.w, PAGE + 1).await?;
    let mut more = rows.len() as i64 > PAGE;
    let mut wallet_entries = Vec::new();
    for row in rows.into_iter().take(PAGE as usize) {
        cursor.w = row.seq;
        wallet_entries.push(wallet::entry_view(&mut tx, &account, row).await?);
    }
    let rows = store::notifications::after_seq(&mut tx, user.as_uuid(), cursor.n, PAGE + 1).await?;
    more |= rows.len() as i64 > PAGE;
    let notifications: Vec<SyncedNotification> = rows
        .iter()
        .take(PAGE as usize)
        .map(|r| SyncedNotification { seq: r.seq.unwrap_or(0), notification: inbox::view(r) })
        .collect();
    if let Some(last) = notifications.last() {
        cursor.n = last.seq;
    }
    let current = store::challenges::versions_of(&mut tx, user.as_uuid()).await?;
    drop(tx);

    // Changed or new challenges, and ones the person no longer takes part in (sent once more, then forgotten).
    let mut changed: Vec<Uuid> =
        current.iter().filter(|(id, v)| cursor.c.get(id) != Some(v)).map(|(id, _)| *id).collect();
    let gone: Vec<Uuid> = cursor.c.keys().filter(|id| !current.iter().any(|(c, _)| c == *id)).copied().collect();
    changed.extend(gone.iter().copied());
    // Only the changed challenges are read, in one snapshot, each with one aggregate statement for its progress.
    let mut challenges = Vec::new();
    let grace = challenges::moderation::Grace::of(state);
    let mut tx = state.db.begin_read().await?;
    for id in changed.iter().take(PAGE as usize) {
        match challenges::snapshot_in(&mut tx, user, *id, &grace).await {
            Ok((challenge, progress)) => {
                if gone.contains(id) {
                    cursor.c.remove(id);
                } else {
                    cursor.c.insert(*id, challenge.version);
                }
                challenges.push(ChallengeSnapshot { challenge, progress });
            }
            // Deleted meanwhile: nothing to show, stop tracking it.
            Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
                cursor.c.remove(id);
            }
            Err(e) => return Err(e),
        }
    }
    drop(tx);
    more |= changed.len() > PAGE as usize;
    Ok(PullResponse {
        wallet: wallet::wallet(&state.db, user).await?,
        wallet_entries,
        notifications,
        challenges,
        cursor: encode(&cursor)?,
        more,
    })
}

/// The hash an intent is known by: SHA-256 of its kind and its body as canonical JSON (object keys sorted, no
/// spaces), so the same intent sent again hashes the same however the sender orders its keys. The recursion is
/// bounded by the JSON parser's own nesting limit (128 levels).
pub fn body_hash(kind: IntentKind, body: &serde_json::Value) -> String {
    let mut canonical = Vec::with_capacity(128);
    canonical.extend_from_slice(kind.as_str().as_bytes());
    canonical.push(b'\n');
    write_canonical(body, &mut canonical);
    crate::files::sha256_hex(&canonical)
}

fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(key).unwrap_or_default());
                out.push(b':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap_or_default()),
    }
}

pub async fn push(state: &AppState, who: &AccessClaims, req: PushRequest) -> ApiResult<PushResponse> {
    let user = UserId::from_uuid(who.sub);
    let device = req.device_id.trim();
    if device.is_empty() || device.len() > 200 {
        return Err(ApiError::validation(BTreeMap::from([("device_id".to_owned(), FieldCode::Invalid)])));
    }
    if req.intents.len() > MAX_INTENTS {
        return Err(ApiError::validation(BTreeMap::from([("intents".to_owned(), FieldCode::TooLong)])));
    }
    if req.intents.iter().any(|i| i.id.is_empty() || i.id.len() > 100) {
        return Err(ApiError::validation(BTreeMap::from([("intents.id".to_owned(), FieldCode::Invalid)])));
    }
    let mut intents = req.intents;
    intents.sort_by_key(|i| i.seq);
    let mut results = Vec::with_capacity(intents.len());
    for intent in &intents {
        results.push(apply_once(state, user, device, intent).await?);
    }
    Ok(PushResponse { results })
}

/// Applies one intent exactly once, however often it is sent and wherever a send is cut off.
///
/// 1. Its first receipt is recorded and committed on its own (PENDING, with its body's hash and the server's time
///    of receipt), so a proof's day is judged by the first receipt however late it lands, and a later send with
///    another body is refused. A decided intent is answered from its record.
/// 2. The effect's own transaction marks it APPLIED ([`store::sync::claim`]): both commit or neither. A push cut off
///    at any point (a dropped connection, a killed server, a failed commit) leaves it either applied and on record
///    as such, or PENDING with nothing done; the next send then applies it. PENDING is no lease held by a push, so
///    it never sticks; two sends at once both try, and the record lets only one effect through.
/// 3. A rule's refusal (4xx) is recorded REJECTED with its code, only over a PENDING record; anything else (5xx,
///    429) leaves it PENDING and answers RETRY.
///
/// Intents received before hashes were recorded may have had their effect committed by a server that then lost
/// the record; for them, finding the effect already made (already joined, already left, already proved that
/// day) is what their own application would have left, and is answered APPLIED.
async fn apply_once(state: &AppState, user: UserId, device: &str, intent: &Intent) -> ApiResult<IntentResult> {
    let key =
        IntentKey { user: user.as_uuid(), id: intent.id.clone(), body_hash: body_hash(intent.kind, &intent.body) };
    let receipt = Receipt {
        device,
        seq: intent.seq,
        kind: intent.kind.as_str(),
        received_at: state.clock.now().timestamp_millis(),
        now_ms: Utc::now().timestamp_millis(),
    };
    let mut tx = state.db.begin_write().await?;
    let seen = store::sync::receive(&mut tx, &key, &receipt).await?;
    tx.commit().await?;
    if seen.body_hash.as_ref().is_some_and(|h| *h != key.body_hash) {
        return Ok(IntentResult {
            id: intent.id.clone(),
            status: IntentStatus::Rejected,
            code: Some(ErrorCode::IntentBodyChanged),
            message: Some("This action was sent before with different content; only the first one counts.".into()),
        });
    }
    if seen.status != store::sync::PENDING {
        return Ok(answer(&intent.id, &seen));
    }
    let earlier_server = seen.received_at.is_none();
    let received = from_millis(seen.received_at.unwrap_or(seen.created_at));

    let Err(e) = apply(state, user, intent, &key, received).await else {
        return Ok(IntentResult { id: intent.id.clone(), status: IntentStatus::Applied, code: None, message: None });
    };
    let mut tx = if decides(&e) { state.db.begin_write().await? } else { state.db.begin_read().await? };
    if decides(&e) {
        let now = Utc::now().timestamp_millis();
        if earlier_server && made_already(intent.kind, e.code) {
            store::sync::decide(&mut tx, &key, store::sync::APPLIED, None, None, now).await?;
        } else {
            store::sync::decide(&mut tx, &key, store::sync::REJECTED, Some(e.code.as_str()), Some(&e.message), now)
                .await?;
        }
    }
    // Whatever decided it (this refusal, or another send of the same intent meanwhile) is the answer.
    let record = store::sync::intent(&mut tx, user.as_uuid(), &intent.id).await?;
    tx.commit().await?;
    Ok(match record {
        Some(row) if row.status != store::sync::PENDING => answer(&intent.id, &row),
        _ => IntentResult {
            id: intent.id.clone(),
            status: IntentStatus::Retry,
            code: Some(e.code),
            message: Some(e.message),
        },
    })
}

/// Whether an intent's failure decides it for good: a rule's refusal, not a failure of ours, a rate limit, or
/// another send having decided it first.
fn decides(e: &ApiError) -> bool {
    e.status.is_client_error()
        && e.status != axum::http::StatusCode::TOO_MANY_REQUESTS
        && e.code != ErrorCode::IdempotencyRequestInProgress
}

/// The refusals that mean an intent's effect is there already.
fn made_already(kind: IntentKind, code: ErrorCode) -> bool {
    matches!(
        (kind, code),
        (IntentKind::Join, ErrorCode::AlreadyJoined)
            | (IntentKind::Leave, ErrorCode::NotAParticipant)
            | (IntentKind::Proof, ErrorCode::ProofAlreadySubmitted)
    )
}

/// The answer a decided intent's record gives.
fn answer(id: &str, row: &IntentRow) -> IntentResult {
    if row.status == store::sync::APPLIED {
        return IntentResult { id: id.to_owned(), status: IntentStatus::Applied, code: None, message: None };
    }
    IntentResult {
        id: id.to_owned(),
        status: IntentStatus::Rejected,
        code: row
            .code
            .as_ref()
            .map(|c| serde_json::from_value(serde_json::Value::String(c.clone())).unwrap_or(ErrorCode::Unknown)),
        message: row.message.clone(),
    }
}

fn bad_body(e: serde_json::Error) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        ErrorCode::ValidationFailed,
        format!("The intent's body is not valid: {e}"),
    )
}

/// Makes the intent's effect, marking `key` APPLIED in the effect's own transaction.
async fn apply(
    state: &AppState,
    user: UserId,
    intent: &Intent,
    key: &IntentKey,
    received: DateTime<Utc>,
) -> ApiResult<()> {
    match intent.kind {
        IntentKind::Join => {
            let body: ChallengeIntent = serde_json::from_value(intent.body.clone()).map_err(bad_body)?;
            state.joins.join_for_intent(body.challenge_id, user, key.clone()).await.map(|_| ())
        }
        IntentKind::Leave => {
            let body: ChallengeIntent = serde_json::from_value(intent.body.clone()).map_err(bad_body)?;
            challenges::leave_for(state, user, body.challenge_id, Some(key)).await.map(|_| ())
        }
        IntentKind::Proof => {
            let body: ProofIntent = serde_json::from_value(intent.body.clone()).map_err(bad_body)?;
            // The photo was uploaded before (`POST /sync/photos`) and is named by its hash; the person must hold it.
            let photo = body.photo_hash.map(PhotoSource::Uploaded);
            let arrival = proofs::Arrival { received, intent: Some(key) };
            proofs::submit_arrived(
                state,
                user,
                body.challenge_id,
                proofs::Submission { photo, text: body.text },
                arrival,
            )
            .await
            .map(|_| ())
        }
        IntentKind::Purchase => Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotSupported,
            "The shop is not open yet.",
        )),
    }
}

/// Stores an uploaded photo by its content hash (checked like a proof photo) for a proof `user` sends later;
/// uploading it again changes nothing.
pub async fn upload_photo(state: &AppState, user: UserId, bytes: axum::body::Bytes) -> ApiResult<String> {
    uploads::upload(state, user, bytes).await
}
