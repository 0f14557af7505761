//! `/sync/…`: the app's pull and push, and photo uploads by content hash.

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use nene_shared::UserId;
use nene_shared::sync::{PhotoUploaded, PullQuery, PullResponse, PushRequest, PushResponse};
use nene_shared::{ErrorBody, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiQuery, AuthUser};
use crate::photos::MAX_PHOTO_BYTES;
use crate::sync;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pull))
        .routes(routes!(push))
        .merge(OpenApiRouter::new().routes(routes!(upload_photo)).layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES)))
}

/// What changed since the cursor: wallet entries, notifications, challenges.
#[utoipa::path(get, path = "/sync/pull", tag = "sync", params(PullQuery),
    responses((status = 200, body = PullResponse), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn pull(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<PullQuery>,
) -> ApiResult<Json<PullResponse>> {
    Ok(Json(sync::pull(&state, UserId::from_uuid(user.id()), q.cursor.as_deref()).await?))
}

/// Applies offline intents at most once each, in the device's order; answers each.
#[utoipa::path(post, path = "/sync/push", tag = "sync", request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
async fn push(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<PushRequest>,
) -> ApiResult<Json<PushResponse>> {
    Ok(Json(sync::push(&state, &user.0, req).await?))
}

/// Uploads a proof photo (the raw bytes) before the intent that uses it; answers its content hash. The upload is
/// kept a day for a proof to take it. 429 past the day's quota of photos; 507 while the server is short of storage.
#[utoipa::path(post, path = "/sync/photos", tag = "sync", request_body(content = Vec<u8>, content_type = "image/*"),
    responses((status = 200, body = PhotoUploaded), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody), (status = 507, body = ErrorBody)),
    security(("bearer" = [])))]
async fn upload_photo(State(state): State<AppState>, user: AuthUser, body: Body) -> ApiResult<Json<PhotoUploaded>> {
    // The body is read only once a slot is ours.
    let _slot = state.upload_slots.take()?;
    let body = axum::body::to_bytes(body, MAX_PHOTO_BYTES).await.map_err(|e| {
        if e.into_inner().is::<http_body_util::LengthLimitError>() {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, "A photo may be at most 10 MB.")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedBody, "The photo could not be read.")
        }
    })?;
    Ok(Json(PhotoUploaded { hash: sync::upload_photo(&state, UserId::from_uuid(user.id()), body).await? }))
}
