//! `Idempotency-Key` for money-moving POSTs (api.md): scoped to the user; the same key with the same request
//! answers the first answer again; the same key with another request is 422 `IDEMPOTENCY_KEY_REUSED`; a second
//! request while the first is still running is 409. Answers of 5xx are not kept, so a retry runs again.
//!
//! The operations behind these routes are idempotent on their own as well (a confirm credits an order once); the
//! key makes the *answer* repeatable, which is what a client retrying after a lost response needs.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use nene_shared::{ErrorCode, FieldCode};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::store;

pub const HEADER: &str = "idempotency-key";
const REPLAYED: &str = "idempotent-replayed";
/// How long a first request may run before a retry with its key is allowed to take over.
const LOCK_MS: i64 = 60_000;

/// Runs `op` at most once per (user, key). Without the header it simply runs.
pub async fn once<T, F>(
    state: &AppState,
    user: Uuid,
    headers: &HeaderMap,
    request: &str,
    body: &[u8],
    op: F,
) -> ApiResult<Response>
where
    T: Serialize,
    F: AsyncFnOnce() -> ApiResult<(StatusCode, T)>,
{
    let Some(key) = headers.get(HEADER) else {
        let (status, value) = op().await?;
        return Ok((status, Json(value)).into_response());
    };
    let key = key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::validation([("Idempotency-Key".to_owned(), FieldCode::Invalid)].into_iter().collect())
        })?
        .to_owned();
    let mut hasher = Sha256::new();
    hasher.update(request.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    let fingerprint: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();

    let now = Utc::now().timestamp_millis();
    let mut tx = state.db.begin_write().await?;
    if !store::idempotency::start(&mut tx, user, &key, &fingerprint, now + LOCK_MS, now).await? {
        let existing = store::idempotency::find(&mut tx, user, &key).await?;
        let Some(existing) = existing else {
            return Err(in_progress());
        };
        if existing.fingerprint != fingerprint {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::IdempotencyKeyReused,
                "This Idempotency-Key was already used for a different request.",
            ));
        }
        if let (Some(status), Some(body)) = (existing.status_code, existing.response) {
            let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok());
            let status = status.unwrap_or(StatusCode::OK);
            let mut response = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response();
            response.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
            return Ok(response);
        }
        if !store::idempotency::take_over(&mut tx, user, &key, now + LOCK_MS, now).await? {
            return Err(in_progress());
        }
    }
    tx.commit().await?;

    let (status, body) = match op().await {
        Ok((status, value)) => {
            let body = serde_json::to_string(&value).map_err(|e| ApiError::internal(&e))?;
            (status, body)
        }
        Err(e) => {
            let status = e.status;
            let body = serde_json::to_string(&nene_shared::ErrorBody {
                code: e.code,
                message: e.message.clone(),
                fields: e.fields.clone(),
            })
            .map_err(|err| ApiError::internal(&err))?;
            if status.is_server_error() {
                let mut tx = state.db.begin_write().await?;
                store::idempotency::forget(&mut tx, user, &key).await?;
                tx.commit().await?;
                return Err(e);
            }
            (status, body)
        }
    };
    let mut tx = state.db.begin_write().await?;
    store::idempotency::finish(&mut tx, user, &key, i64::from(status.as_u16()), &body).await?;
    tx.commit().await?;
    Ok((status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn in_progress() -> ApiError {
    ApiError::conflict(
        ErrorCode::IdempotencyRequestInProgress,
        "A request with this Idempotency-Key is still being processed; try again shortly.",
    )
}
