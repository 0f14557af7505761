//! `/challenges/…`: create, browse, edit, join and leave, participants and live progress.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nene_shared::challenges::{
    Challenge, ChallengeId, ChallengeQuery, CreateChallengeRequest, Participant, Progress, UpdateChallengeRequest,
};
use nene_shared::page::Page;
use nene_shared::{ErrorBody, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::challenges;
use crate::error::ApiResult;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(join))
        .routes(routes!(leave))
        .routes(routes!(participants))
        .routes(routes!(progress))
}

fn me(user: &AuthUser) -> UserId {
    UserId::from_uuid(user.id())
}

/// Creates a challenge; the creator joins and pays the stake in the same step.
#[utoipa::path(post, path = "/challenges", tag = "challenges", request_body = CreateChallengeRequest,
    responses((status = 201, body = Challenge), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<CreateChallengeRequest>,
) -> ApiResult<(StatusCode, Json<Challenge>)> {
    Ok((StatusCode::CREATED, Json(challenges::create(&state, me(&user), req).await?)))
}

/// Browse: filters by status, category, words, stake range, or only one's own; newest first.
#[utoipa::path(get, path = "/challenges", tag = "challenges", params(ChallengeQuery),
    responses((status = 200, body = Page<Challenge>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ChallengeQuery>,
) -> ApiResult<Json<Page<Challenge>>> {
    Ok(Json(challenges::list(&state, me(&user), &query).await?))
}

#[utoipa::path(get, path = "/challenges/{id}", tag = "challenges", params(("id" = ChallengeId, Path)),
    responses((status = 200, body = Challenge), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
) -> ApiResult<Json<Challenge>> {
    Ok(Json(challenges::get(&state, me(&user), id).await?))
}

/// The creator's changes, while alone and recruiting.
#[utoipa::path(patch, path = "/challenges/{id}", tag = "challenges", params(("id" = ChallengeId, Path)),
    request_body = UpdateChallengeRequest,
    responses((status = 200, body = Challenge), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
    ApiJson(req): ApiJson<UpdateChallengeRequest>,
) -> ApiResult<Json<Challenge>> {
    Ok(Json(challenges::update(&state, me(&user), id, req).await?))
}

/// The creator deletes the challenge while alone and recruiting; the stake comes back.
#[utoipa::path(delete, path = "/challenges/{id}", tag = "challenges", params(("id" = ChallengeId, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
) -> ApiResult<Response> {
    challenges::delete(&state, me(&user), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Joins and pays the stake. 409 CHALLENGE_FULL / ALREADY_JOINED / CHALLENGE_NOT_RECRUITING; 422 INSUFFICIENT_POINTS.
#[utoipa::path(post, path = "/challenges/{id}/join", tag = "challenges", params(("id" = ChallengeId, Path)),
    responses((status = 200, body = Challenge), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn join(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
) -> ApiResult<Json<Challenge>> {
    Ok(Json(state.joins.join(id, me(&user)).await?))
}

/// Leaves before the start; the stake comes back.
#[utoipa::path(post, path = "/challenges/{id}/leave", tag = "challenges", params(("id" = ChallengeId, Path)),
    responses((status = 200, body = Challenge), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
async fn leave(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
) -> ApiResult<Json<Challenge>> {
    Ok(Json(challenges::leave(&state, me(&user), id).await?))
}

/// Participants in join order, with their accepted proof days and, after settlement, their results.
#[utoipa::path(get, path = "/challenges/{id}/participants", tag = "challenges", params(("id" = ChallengeId, Path)),
    responses((status = 200, body = Vec<Participant>)), security(("bearer" = [])))]
async fn participants(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
) -> ApiResult<Json<Vec<Participant>>> {
    Ok(Json(challenges::participants(&state, id).await?))
}

/// Live figures: today's proof rate, each participant's days so far and whether they are on track.
#[utoipa::path(get, path = "/challenges/{id}/progress", tag = "challenges", params(("id" = ChallengeId, Path)),
    responses((status = 200, body = Progress)), security(("bearer" = [])))]
async fn progress(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiPath(id): ApiPath<ChallengeId>,
) -> ApiResult<Json<Progress>> {
    Ok(Json(challenges::progress(&state, id).await?))
}
