//! `/notifications`, `/devices` and `/me/notification-settings`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nene_shared::notifications::{
    Notification, NotificationId, NotificationQuery, NotificationSettings, RegisterDeviceRequest, UnreadCount,
};
use nene_shared::page::Page;
use nene_shared::{ErrorBody, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::{inbox, push};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(unread_count))
        .routes(routes!(mark_read))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(register_device))
        .routes(routes!(remove_device))
}

fn me(user: &AuthUser) -> UserId {
    UserId::from_uuid(user.id())
}

/// The inbox, newest first; `unread=true` for unread ones only.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(NotificationQuery),
    responses((status = 200, body = Page<Notification>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    Ok(Json(inbox::list(&state.db, me(&user), &q).await?))
}

#[utoipa::path(get, path = "/notifications/unread-count", tag = "notifications",
    responses((status = 200, body = UnreadCount)), security(("bearer" = [])))]
async fn unread_count(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<UnreadCount>> {
    Ok(Json(UnreadCount { count: inbox::unread_count(&state.db, me(&user)).await? }))
}

#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications", params(("id" = NotificationId, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn mark_read(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(id): ApiPath<NotificationId>,
) -> ApiResult<Response> {
    inbox::mark_read(&state.db, me(&user), id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Kinds kept in the inbox but never pushed.
#[utoipa::path(get, path = "/me/notification-settings", tag = "notifications",
    responses((status = 200, body = NotificationSettings)), security(("bearer" = [])))]
async fn get_settings(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(inbox::settings(&state.db, me(&user)).await?))
}

#[utoipa::path(put, path = "/me/notification-settings", tag = "notifications", request_body = NotificationSettings,
    responses((status = 200, body = NotificationSettings)), security(("bearer" = [])))]
async fn put_settings(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(settings): ApiJson<NotificationSettings>,
) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(inbox::set_settings(&state.db, me(&user), settings).await?))
}

/// Registers this device's FCM token for push: up to ten devices per person, the one registered longest ago
/// dropped for an eleventh (registering a known token again refreshes it).
#[utoipa::path(post, path = "/devices", tag = "notifications", request_body = RegisterDeviceRequest,
    responses((status = 201), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
async fn register_device(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(req): ApiJson<RegisterDeviceRequest>,
) -> ApiResult<Response> {
    push::register_device(&state, me(&user), req).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// Stops pushing to one of one's devices.
#[utoipa::path(delete, path = "/devices/{token}", tag = "notifications", params(("token" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn remove_device(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(token): ApiPath<String>,
) -> ApiResult<Response> {
    push::remove_device(&state, me(&user), &token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
