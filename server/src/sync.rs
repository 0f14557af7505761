//! Sync for the app's offline cache. Pull answers what changed after the app's cursor, using numbers that are
//! assigned under each owner's lock (wallet entries per wallet, notifications per user, a version per challenge),
//! never a global sequence, so a cursor cannot skip a row committed late. Push applies offline intents at most once
//! each, in the device's order, answering each one.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::Utc;
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
    let now = state.clock.now();
    let mut tx = state.db.begin_read().await?;
    for id in changed.iter().take(PAGE as usize) {
        match challenges::snapshot_in(&mut tx, user, *id, now).await {
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

fn rejected(id: &str, e: &ApiError) -> IntentResult {
    IntentResult {
        id: id.to_owned(),
        status: IntentStatus::Rejected,
        code: Some(e.code),
        message: Some(e.message.clone()),
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
        results.push(apply_once(state, who, user, device, intent).await?);
    }
    Ok(PushResponse { results })
}

async fn apply_once(
    state: &AppState,
    who: &AccessClaims,
    user: UserId,
    device: &str,
    intent: &Intent,
) -> ApiResult<IntentResult> {
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    if !store::sync::claim(&mut tx, user.as_uuid(), &intent.id, device, intent.seq, intent.kind.as_str(), now).await? {
        let seen = store::sync::intent(&mut tx, user.as_uuid(), &intent.id).await?;
        drop(tx);
        return Ok(match seen {
            Some((status, code, message)) if status != "PENDING" => IntentResult {
                id: intent.id.clone(),
                status: if status == "APPLIED" { IntentStatus::Applied } else { IntentStatus::Rejected },
                code: code.and_then(|c| serde_json::from_value(serde_json::Value::String(c)).ok()),
                message,
            },
            // Another push of the same intent is working on it right now.
            _ => IntentResult { id: intent.id.clone(), status: IntentStatus::Retry, code: None, message: None },
        });
    }
    tx.commit().await?;

    let outcome = apply(state, who, user, intent).await;
    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    let result = match outcome {
        Ok(()) => {
            store::sync::finish(&mut tx, user.as_uuid(), &intent.id, "APPLIED", None, None, now).await?;
            IntentResult { id: intent.id.clone(), status: IntentStatus::Applied, code: None, message: None }
        }
        Err(e) if e.status.is_client_error() && e.status != axum::http::StatusCode::TOO_MANY_REQUESTS => {
            store::sync::finish(
                &mut tx,
                user.as_uuid(),
                &intent.id,
                "REJECTED",
                Some(e.code.as_str()),
                Some(&e.message),
                now,
            )
            .await?;
            rejected(&intent.id, &e)
        }
        Err(e) => {
            store::sync::release(&mut tx, user.as_uuid(), &intent.id).await?;
            IntentResult {
                id: intent.id.clone(),
                status: IntentStatus::Retry,
                code: Some(e.code),
                message: Some(e.message),
            }
        }
    };
    tx.commit().await?;
    Ok(result)
}

fn bad_body(e: serde_json::Error) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        ErrorCode::ValidationFailed,
        format!("The intent's body is not valid: {e}"),
    )
}

async fn apply(state: &AppState, _who: &AccessClaims, user: UserId, intent: &Intent) -> ApiResult<()> {
    match intent.kind {
        IntentKind::Join => {
            let body: ChallengeIntent = serde_json::from_value(intent.body.clone()).map_err(bad_body)?;
            state.joins.join(body.challenge_id, user).await.map(|_| ())
        }
        IntentKind::Leave => {
            let body: ChallengeIntent = serde_json::from_value(intent.body.clone()).map_err(bad_body)?;
            challenges::leave(state, user, body.challenge_id).await.map(|_| ())
        }
        IntentKind::Proof => {
            let body: ProofIntent = serde_json::from_value(intent.body.clone()).map_err(bad_body)?;
            let photo = body.photo_hash.map(PhotoSource::Uploaded);
            proofs::submit(state, user, body.challenge_id, proofs::Submission { photo, text: body.text })
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
