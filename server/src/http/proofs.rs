//! Proof routes: submit (multipart: `photo` and/or `text`), the feed, photos and thumbnails, and moderation's
//! report (anyone in the challenge), reject (an administrator without a stake in it) and appeal (the owner, once).

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use nene_shared::challenges::{ChallengeId, Proof, ProofId, ProofQuery, ReasonRequest};
use nene_shared::page::Page;
use nene_shared::{ErrorBody, ErrorCode, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::challenges::moderation;
use crate::challenges::proofs::{self, Submission};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::photos::MAX_PHOTO_BYTES;
use crate::uploads::PhotoSource;

pub fn router() -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new()
        .routes(routes!(submit, list))
        // A 10 MB photo plus the text and the multipart framing.
        .layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES + 64 * 1024));
    upload
        .routes(routes!(photo))
        .routes(routes!(thumbnail))
        .routes(routes!(report))
        .routes(routes!(reject))
        .routes(routes!(appeal))
}

fn bad_body(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedBody, message)
}

/// Reads the form: `photo` (file) and `text` (string); other parts are ignored.
async fn read_form(multipart: Result<Multipart, MultipartRejection>) -> ApiResult<Submission> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            format!("Send the proof as multipart/form-data: {e}"),
        )
    })?;
    let mut submission = Submission { photo: None, text: None };
    while let Some(field) = multipart.next_field().await.map_err(|e| bad_body(e.body_text()))? {
        match field.name() {
            Some("photo") => {
                let bytes = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            ErrorCode::PayloadTooLarge,
                            "A photo may be at most 10 MB.",
                        )
                    } else {
                        bad_body(e.body_text())
                    }
                })?;
                submission.photo = Some(PhotoSource::New(bytes));
            }
            Some("text") => submission.text = Some(field.text().await.map_err(|e| bad_body(e.body_text()))?),
            _ => {}
        }
    }
    Ok(submission)
}

/// Today's proof. 409 when already proved today; 422 outside a proof day or for a file that is not a photo; 429
/// past the day's quota of photos; 503 while as many uploads as the server receives at once are arriving; 507 while
/// the server is short of storage for photos.
#[utoipa::path(post, path = "/challenges/{id}/proofs", tag = "proofs", params(("id" = ChallengeId, Path)),
    request_body(content_type = "multipart/form-data", description = "`photo` (JPEG/PNG/WebP, ≤ 10 MB) and/or `text` (≤ 1,000 characters)"),
    responses((status = 201, body = Proof), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody), (status = 507, body = ErrorBody)),
    security(("bearer" = [])))]
async fn submit(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Proof>)> {
    // The body is read only once a slot is ours.
    let _slot = state.upload_slots.take()?;
    let submission = read_form(multipart).await?;
    let proof = proofs::submit(&state, UserId::from_uuid(user.id()), id, submission).await?;
    Ok((StatusCode::CREATED, Json(proof)))
}

/// The proof feed, newest first (participants only).
#[utoipa::path(get, path = "/challenges/{id}/proofs", tag = "proofs", params(("id" = ChallengeId, Path), ProofQuery),
    responses((status = 200, body = Page<Proof>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
    ApiQuery(query): ApiQuery<ProofQuery>,
) -> ApiResult<Json<Page<Proof>>> {
    Ok(Json(proofs::list(&state, &user.0, id, &query).await?))
}

fn image_response(mime: &'static str, bytes: Vec<u8>) -> Response {
    // Stored by content hash: a proof's photo never changes, so clients may keep it.
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "private, max-age=31536000, immutable")], bytes)
        .into_response()
}

#[utoipa::path(get, path = "/proofs/{id}/photo", tag = "proofs", params(("id" = ProofId, Path)),
    responses((status = 200, content_type = "image/*"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn photo(State(state): State<AppState>, user: AuthUser, ApiPath(id): ApiPath<ProofId>) -> ApiResult<Response> {
    let (mime, bytes) = proofs::image(&state, &user.0, id, false).await?;
    Ok(image_response(mime, bytes))
}

#[utoipa::path(get, path = "/proofs/{id}/thumbnail", tag = "proofs", params(("id" = ProofId, Path)),
    responses((status = 200, content_type = "image/jpeg"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn thumbnail(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ProofId>,
) -> ApiResult<Response> {
    let (mime, bytes) = proofs::image(&state, &user.0, id, true).await?;
    Ok(image_response(mime, bytes))
}

/// Reports another's proof (once per person), until the challenge's last proof day ends. The proof keeps counting
/// while an administrator without a stake in the challenge reviews it.
#[utoipa::path(post, path = "/proofs/{id}/report", tag = "proofs", params(("id" = ProofId, Path)), request_body = ReasonRequest,
    responses((status = 200, body = Proof), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn report(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ProofId>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> ApiResult<Json<Proof>> {
    Ok(Json(moderation::report(&state, &user.0, id, &req.reason).await?))
}

/// Rejects a proof, or upholds an appealed rejection: an administrator who takes no part in the challenge only
/// (anyone with a stake gets 403 `CONFLICT_OF_INTEREST`). The owner is told and may appeal once.
#[utoipa::path(post, path = "/proofs/{id}/reject", tag = "proofs", params(("id" = ProofId, Path)), request_body = ReasonRequest,
    responses((status = 200, body = Proof), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn reject(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ProofId>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> ApiResult<Json<Proof>> {
    Ok(Json(moderation::reject(&state, &user.0, id, &req.reason).await?))
}

/// The owner appeals a rejection, once (a second appeal is 409 `APPEAL_ALREADY_MADE`) and within its window (the
/// proof's `appeal_until`; after it, 409 `APPEAL_WINDOW_CLOSED`); the proof goes back to the moderation queue.
#[utoipa::path(post, path = "/proofs/{id}/appeal", tag = "proofs", params(("id" = ProofId, Path)), request_body = ReasonRequest,
    responses((status = 200, body = Proof), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn appeal(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ProofId>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> ApiResult<Json<Proof>> {
    Ok(Json(moderation::appeal(&state, &user.0, id, &req.reason).await?))
}
