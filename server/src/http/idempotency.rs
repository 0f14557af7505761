//! `Idempotency-Key` for money-moving POSTs (api.md): scoped to the user; the same key with the same request
//! answers the first final answer again; the same key with another request is 422 `IDEMPOTENCY_KEY_REUSED`; a
//! second request while the first is still running is 409.
//!
//! Only final answers are kept. A 202 ("still being found out"), a 5xx, or a request whose client went away before
//! the answer leaves the key bound to its request but free, so a retry runs the operation again and answers what
//! is true by then. That is safe because the operations behind these routes are idempotent on their own: a confirm
//! credits an order once, and a refund is recorded with its key in the same transaction that moves the points, so
//! running it again finds that refund and answers from it.

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
    let Some(key) = key_of(headers)? else {
        let (status, value) = op().await?;
        return Ok((status, Json(value)).into_response());
    };
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
        // A 202 kept by an older version is no outcome either: it is asked again like a freed key.
        if let (Some(status), Some(body)) = (existing.status_code, existing.response)
            && status != i64::from(StatusCode::ACCEPTED.as_u16())
        {
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
    // From here until the answer is settled the key is held; should this request be dropped (its client went away)
    // the guard frees it, so a retry need not wait for the lock to run out.
    let mut held = Held { state: state.clone(), user, key: Some(key.clone()) };

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
                held.release_now().await?;
                return Err(e);
            }
            (status, body)
        }
    };
    let response = (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body.clone()).into_response();
    if status == StatusCode::ACCEPTED {
        // Not an outcome yet: a retry asks again and gets what is known by then.
        held.release_now().await?;
        return Ok(response);
    }
    let mut tx = state.db.begin_write().await?;
    store::idempotency::finish(&mut tx, user, &key, i64::from(status.as_u16()), &body).await?;
    tx.commit().await?;
    held.key = None;
    Ok(response)
}

/// The request's `Idempotency-Key`, if it has one; 422 when it is not a printable key of at most 255 characters.
pub fn key_of(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(key) = headers.get(HEADER) else { return Ok(None) };
    key.to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(|k| Some(k.to_owned()))
        .ok_or_else(|| ApiError::validation([("Idempotency-Key".to_owned(), FieldCode::Invalid)].into_iter().collect()))
}

/// A key held by a running request, freed (not forgotten: it stays bound to its request) unless an answer was
/// stored for it.
struct Held {
    state: AppState,
    user: Uuid,
    key: Option<String>,
}

impl Held {
    async fn release_now(&mut self) -> ApiResult<()> {
        if let Some(key) = self.key.take() {
            let mut tx = self.state.db.begin_write().await?;
            store::idempotency::release(&mut tx, self.user, &key).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let (db, user) = (self.state.db.clone(), self.user);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let released = async {
                    let mut tx = db.begin_write().await?;
                    store::idempotency::release(&mut tx, user, &key).await?;
                    tx.commit().await
                };
                if let Err(e) = released.await {
                    tracing::warn!(error = %e, "could not free the Idempotency-Key of a dropped request; it frees itself when its lock runs out");
                }
            });
        }
    }
}

fn in_progress() -> ApiError {
    ApiError::conflict(
        ErrorCode::IdempotencyRequestInProgress,
        "A request with this Idempotency-Key is still being processed; try again shortly.",
    )
}
