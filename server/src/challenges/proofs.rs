//! Daily proofs: at most one per participant per proof day, inside that day in the challenge's time zone as the
//! server's clock says when the request arrived (never the device's clock; for an offline proof, when the server
//! first received it). A photo is checked by its content, stored by content hash with a thumbnail, and served back
//! only to the challenge's participants. A day whose proof was rejected may be proved again while its window is
//! open; reports, rejections and appeals are in [`super::moderation`].

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use nene_shared::challenges::{
    AppealStatus, ChallengeId, ChallengeStatus, Proof, ProofAppeal, ProofId, ProofQuery, ProofStatus, ProofType,
    UserSummary, limits,
};
use nene_shared::page::Page;
use nene_shared::users::Role;
use nene_shared::{ErrorCode, FieldCode, UserId};
use uuid::Uuid;

use super::{calendar_of, rules, status_of};
use crate::app::AppState;
use crate::auth::tokens::AccessClaims;
use crate::error::{ApiError, ApiResult};
use crate::store::challenges::{ChallengeRow, NewProof, ProofRow};
use crate::store::sync::IntentKey;
use crate::store::{self, Tx, from_millis};
use crate::uploads::{self, PhotoSource, StoredPhoto};

/// What a person sent as a day's proof.
pub struct Submission {
    pub photo: Option<PhotoSource>,
    pub text: Option<String>,
}

pub(crate) fn view(p: &ProofRow) -> Proof {
    let photo = p.photo_hash.is_some();
    Proof {
        id: ProofId::from_uuid(p.id),
        challenge_id: ChallengeId::from_uuid(p.challenge_id),
        user: UserSummary { id: UserId::from_uuid(p.user_id), nickname: p.nickname.clone() },
        day: NaiveDate::parse_from_str(&p.day, "%Y-%m-%d").unwrap_or_default(),
        text: p.text.clone(),
        photo_url: photo.then(|| format!("/api/v1/proofs/{}/photo", p.id)),
        thumbnail_url: photo.then(|| format!("/api/v1/proofs/{}/thumbnail", p.id)),
        status: ProofStatus::parse(&p.status).unwrap_or(ProofStatus::Accepted),
        reject_reason: p.reject_reason.clone(),
        report_count: p.report_count,
        created_at: from_millis(p.created_at),
        under_review: p.case_kind.is_some(),
        replaced: p.replaced_at.is_some(),
        appeal: p.appeal_created_at.map(|at| ProofAppeal {
            reason: p.appeal_reason.clone().unwrap_or_default(),
            status: p.appeal_outcome.as_deref().and_then(AppealStatus::parse).unwrap_or(AppealStatus::Pending),
            created_at: from_millis(at),
        }),
        appeal_until: p
            .appeal_until
            .filter(|_| {
                p.status == ProofStatus::Rejected.as_str() && p.replaced_at.is_none() && p.appeal_created_at.is_none()
            })
            .map(from_millis),
    }
}

fn unprocessable(code: ErrorCode, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

fn already_submitted() -> ApiError {
    ApiError::conflict(ErrorCode::ProofAlreadySubmitted, "You already proved today. See you tomorrow!")
}

pub(crate) fn not_a_participant() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, ErrorCode::NotAParticipant, "Only participants can do this.")
}

/// When a proof arrived and, for an offline intent, which one.
pub struct Arrival<'a> {
    /// The server's domain-clock time of the proof's first receipt: its day is judged by it. Always a time the
    /// server recorded itself, never one a client sent.
    pub received: DateTime<Utc>,
    /// The offline intent that sent it: marked APPLIED in the proof's own transaction.
    pub intent: Option<&'a IntentKey>,
}

pub async fn submit(state: &AppState, user: UserId, challenge: ChallengeId, sub: Submission) -> ApiResult<Proof> {
    // The day is judged by when the request arrived, before any slow photo work.
    submit_arrived(state, user, challenge, sub, Arrival { received: state.clock.now(), intent: None }).await
}

/// [`submit`] for a proof that arrived at `arrival.received`, which may be before now: an offline proof whose
/// first push was cut off counts for the day it was first received, as long as the challenge still takes proofs.
/// With an intent, the intent is marked APPLIED first in the transaction that inserts the proof, so the two
/// commit together or not at all; an intent another push decided first inserts nothing
/// ([`ApiError::intent_decided`]).
pub async fn submit_arrived(
    state: &AppState,
    user: UserId,
    challenge: ChallengeId,
    sub: Submission,
    arrival: Arrival<'_>,
) -> ApiResult<Proof> {
    let received = arrival.received.min(state.clock.now());
    let text = sub.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
    if text.as_ref().is_some_and(|t| t.chars().count() > limits::PROOF_TEXT_MAX) {
        return Err(ApiError::validation(BTreeMap::from([("text".to_owned(), FieldCode::TooLong)])));
    }
    let photo = sub.photo.filter(|p| !matches!(p, PhotoSource::New(bytes) if bytes.is_empty()));

    let mut tx = state.db.begin_read().await?;
    let row = super::load(&mut tx, challenge.as_uuid()).await?;
    let participation = store::challenges::active_participation(&mut tx, row.id, user.as_uuid()).await?;
    drop(tx);
    let participation = participation.ok_or_else(not_a_participant)?;
    if status_of(&row) != ChallengeStatus::InProgress {
        return Err(unprocessable(ErrorCode::ChallengeNotInProgress, "Proofs open when the challenge starts."));
    }
    let cal = calendar_of(&row);
    let day = cal.today(received);
    if !cal.is_proof_day(day) {
        return Err(unprocessable(ErrorCode::NotAProofDay, "Today is not a proof day of this challenge."));
    }
    let proof_type = ProofType::parse(&row.proof_type).unwrap_or(ProofType::Both);
    if !rules::proof_content_ok(proof_type, photo.is_some(), text.is_some()) {
        let mut fields = BTreeMap::new();
        if matches!(proof_type, ProofType::Photo | ProofType::Both) && photo.is_none() {
            fields.insert("photo".to_owned(), FieldCode::Required);
        }
        if matches!(proof_type, ProofType::Text | ProofType::Both) && text.is_none() {
            fields.insert("text".to_owned(), FieldCode::Required);
        }
        let mut e = ApiError::validation(fields);
        e.code = ErrorCode::ProofContentMissing;
        e.message = "This challenge's proof needs a photo, a text, or both.".into();
        return Err(e);
    }
    let day_str = day.to_string();
    let mut tx = state.db.begin_read().await?;
    let exists = store::challenges::proof_exists(&mut tx, participation.id, &day_str).await?;
    drop(tx);
    if exists {
        return Err(already_submitted());
    }

    // The photo is checked and stored, held by this request until the proof takes it; if the proof is not made
    // (a second proof of the day that lost the race, the challenge ending meanwhile) the hold is released and the
    // files nothing else refers to go with it.
    let photo = match photo {
        None => None,
        Some(source) => Some(uploads::store_proof_photo(state, user, source).await?),
    };
    let new = NewProofInput {
        row: &row,
        participation: participation.id,
        user,
        day: &day_str,
        text: text.as_deref(),
        intent: arrival.intent,
    };
    match insert(state, &new, photo.as_ref()).await {
        Ok(saved) => Ok(view(&saved)),
        Err(e) => {
            if let Some(photo) = photo {
                uploads::release(state, photo).await;
            }
            Err(e)
        }
    }
}

/// What [`insert`] writes besides the photo.
struct NewProofInput<'a> {
    row: &'a ChallengeRow,
    participation: Uuid,
    user: UserId,
    day: &'a str,
    text: Option<&'a str>,
    /// The offline intent that sent it, marked APPLIED in this same transaction.
    intent: Option<&'a IntentKey>,
}

/// The proof's own transaction: the intent's record, the challenge still running, a rejected proof of the day
/// giving way, the row, its photo's references, the new version.
async fn insert(state: &AppState, input: &NewProofInput<'_>, photo: Option<&StoredPhoto>) -> ApiResult<ProofRow> {
    let id = Uuid::now_v7();
    let mut tx = state.db.begin_write().await?;
    if let Some(key) = input.intent
        && !store::sync::claim(&mut tx, key, Utc::now().timestamp_millis()).await?
    {
        return Err(ApiError::intent_decided());
    }
    store::challenges::lock(&mut tx, input.row.id).await?;
    let current = super::load(&mut tx, input.row.id).await?;
    // A proof applied after its challenge's last window closed (one received in time, applied late) still counts
    // until settlement has planned the outcomes from the proofs as they were; from then on it is too late.
    let closed = state.clock.now().timestamp_millis() >= current.ends_at
        && store::challenges::outcomes_recorded(&mut tx, input.row.id).await? > 0;
    if status_of(&current) != ChallengeStatus::InProgress || closed {
        return Err(unprocessable(ErrorCode::ChallengeNotInProgress, "The challenge is over."));
    }
    let now_ms = Utc::now().timestamp_millis();
    // A rejected proof of today gives way to this one; an accepted one does not.
    if let Some((old, status)) = store::moderation::live_proof(&mut tx, input.participation, input.day).await?
        && (status != ProofStatus::Rejected.as_str() || !super::moderation::make_way(&mut tx, old, now_ms).await?)
    {
        return Err(already_submitted());
    }
    let new = NewProof {
        id,
        challenge_id: input.row.id,
        participation_id: input.participation,
        user_id: input.user.as_uuid(),
        day: input.day,
        text: input.text,
        photo_hash: photo.map(|p| p.photo_hash.as_str()),
        photo_mime: photo.map(|p| p.mime),
        thumb_hash: photo.map(|p| p.thumb_hash.as_str()),
        now_ms,
    };
    store::challenges::insert_proof(&mut tx, &new)
        .await
        .map_err(|e| if e.unique_violation().is_some() { already_submitted() } else { e.into() })?;
    if let Some(photo) = photo {
        uploads::take(&mut tx, photo, id).await?;
    }
    store::challenges::bump_version(&mut tx, input.row.id).await?;
    let saved = store::challenges::proof(&mut tx, id).await?.ok_or_else(|| ApiError::internal(&"proof vanished"))?;
    tx.commit().await.map_err(|e| if e.unique_violation().is_some() { already_submitted() } else { e.into() })?;
    Ok(saved)
}

/// Participants (and admins) may see a challenge's proofs.
async fn may_see(tx: &mut Tx, challenge: Uuid, who: &AccessClaims) -> ApiResult<()> {
    if who.role == Role::Admin.as_str()
        || store::challenges::active_participation(tx, challenge, who.sub).await?.is_some()
    {
        Ok(())
    } else {
        Err(not_a_participant())
    }
}

pub async fn list(
    state: &AppState,
    who: &AccessClaims,
    challenge: ChallengeId,
    q: &ProofQuery,
) -> ApiResult<Page<Proof>> {
    let before = crate::cursor::parse(q.cursor.as_deref())?;
    let limit = i64::from(q.limit.unwrap_or(20).clamp(1, 100));
    let mut tx = state.db.begin_read().await?;
    super::load(&mut tx, challenge.as_uuid()).await?;
    may_see(&mut tx, challenge.as_uuid(), who).await?;
    let day = q.day.map(|d| d.to_string());
    let rows = store::challenges::proofs(&mut tx, challenge.as_uuid(), day.as_deref(), before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<Proof> = rows.iter().take(limit as usize).map(view).collect();
    let next_cursor =
        if more { rows.get(limit as usize - 1).map(|r| crate::cursor::after(r.created_at, r.id)) } else { None };
    Ok(Page { items, next_cursor })
}

/// A proof's photo or thumbnail bytes and content type, for participants.
pub async fn image(
    state: &AppState,
    who: &AccessClaims,
    id: ProofId,
    thumbnail: bool,
) -> ApiResult<(&'static str, Vec<u8>)> {
    let mut tx = state.db.begin_read().await?;
    let proof =
        store::challenges::proof(&mut tx, id.as_uuid()).await?.ok_or_else(|| ApiError::not_found("No such proof."))?;
    may_see(&mut tx, proof.challenge_id, who).await?;
    drop(tx);
    let (hash, mime) = if thumbnail {
        (proof.thumb_hash, Some("image/jpeg"))
    } else {
        let mime = match proof.photo_mime.as_deref() {
            Some("image/png") => Some("image/png"),
            Some("image/webp") => Some("image/webp"),
            Some(_) => Some("image/jpeg"),
            None => None,
        };
        (proof.photo_hash, mime)
    };
    let (Some(hash), Some(mime)) = (hash, mime) else { return Err(ApiError::not_found("This proof has no photo.")) };
    let bytes = state.files.get(&hash).await.map_err(|e| ApiError::internal(&e))?;
    bytes.map(|b| (mime, b)).ok_or_else(|| ApiError::internal(&format!("photo {hash} missing from the store")))
}
