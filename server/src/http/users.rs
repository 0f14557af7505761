//! `/me` and `/users/{id}`: one's own account and public profiles.

use axum::Json;
use axum::extract::State;
use nene_shared::ErrorBody;
use nene_shared::UserId;
use nene_shared::users::{Me, PublicProfile, UpdateProfileRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts;
use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::extract::{ApiJson, ApiPath, AuthUser};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, patch_me)).routes(routes!(get_user, patch_user))
}

/// The signed-in account.
#[utoipa::path(get, path = "/me", tag = "accounts",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn get_me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Me>> {
    Ok(Json(accounts::me(&state.db, user.id()).await?))
}

/// Changes one's nickname and/or bio.
#[utoipa::path(patch, path = "/me", tag = "accounts", request_body = UpdateProfileRequest,
    responses((status = 200, body = Me), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_me(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<UpdateProfileRequest>,
) -> ApiResult<Json<Me>> {
    Ok(Json(accounts::update_profile(&state.db, &user.0, user.id(), req).await?))
}

/// Anyone's public profile.
#[utoipa::path(get, path = "/users/{id}", tag = "accounts", params(("id" = UserId, Path)),
    responses((status = 200, body = PublicProfile), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_user(
    State(state): State<AppState>,
    _user: AuthUser,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<PublicProfile>> {
    Ok(Json(accounts::public_profile(&state.db, id.as_uuid()).await?))
}

/// Changes a profile: one's own, or anyone's for an admin (moderation). Others get 403.
#[utoipa::path(patch, path = "/users/{id}", tag = "accounts", params(("id" = UserId, Path)),
    request_body = UpdateProfileRequest,
    responses((status = 200, body = Me), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn patch_user(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(req): ApiJson<UpdateProfileRequest>,
) -> ApiResult<Json<Me>> {
    Ok(Json(accounts::update_profile(&state.db, &user.0, id.as_uuid(), req).await?))
}
