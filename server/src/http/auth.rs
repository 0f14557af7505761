//! `/auth/…`: sign-up, sign-in, refresh, logout. Browsers also get the refresh token as an HttpOnly,
//! SameSite=Strict cookie scoped to these routes, so scripts on the page can never read it.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nene_shared::ErrorBody;
use nene_shared::auth::{LoginRequest, LogoutRequest, RefreshRequest, SignupRequest, TokenPair};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, AuthUser, ClientIp, OptionalJson};
use nene_shared::ErrorCode;

pub const REFRESH_COOKIE: &str = "nene_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(signup)).routes(routes!(login)).routes(routes!(refresh)).routes(routes!(logout))
}

fn with_cookie(status: StatusCode, pair: TokenPair, max_age_secs: u64) -> Response {
    let cookie = format!(
        "{REFRESH_COOKIE}={}; Path={COOKIE_PATH}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict",
        pair.refresh_token
    );
    let mut response = (status, Json(pair)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Creates an account and signs it in. Sign-ups are limited per address (429).
#[utoipa::path(post, path = "/auth/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 201, body = TokenPair), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<Response> {
    accounts::count_signup(&state, &ip).await?;
    let pair = accounts::signup(&state, req).await?;
    Ok(with_cookie(StatusCode::CREATED, pair, state.config.refresh_token_ttl.as_secs()))
}

/// Signs in with email and password. Repeated failures are limited per account and per address (429).
#[utoipa::path(post, path = "/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let pair = accounts::login(&state, req, &ip).await?;
    Ok(with_cookie(StatusCode::OK, pair, state.config.refresh_token_ttl.as_secs()))
}

/// Trades a refresh token (body or cookie) for a new pair; the old one is spent. A spent token presented again
/// revokes its whole family.
#[utoipa::path(post, path = "/auth/refresh", tag = "accounts", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: OptionalJson<RefreshRequest>,
) -> ApiResult<Response> {
    let token = body
        .into_inner()
        .refresh_token
        .or_else(|| refresh_cookie(&headers))
        .ok_or_else(|| ApiError::unauthenticated(ErrorCode::RefreshTokenInvalid, "Please sign in again."))?;
    let pair = accounts::refresh(&state, &token).await?;
    Ok(with_cookie(StatusCode::OK, pair, state.config.refresh_token_ttl.as_secs()))
}

/// Signs out: the access token stops working at once and the refresh token's family is revoked.
#[utoipa::path(post, path = "/auth/logout", tag = "accounts", request_body = LogoutRequest,
    responses((status = 204), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: OptionalJson<LogoutRequest>,
) -> ApiResult<Response> {
    let token = body.into_inner().refresh_token.or_else(|| refresh_cookie(&headers));
    accounts::logout(&state, &user.0, token.as_deref()).await?;
    let clear = format!("{REFRESH_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}
