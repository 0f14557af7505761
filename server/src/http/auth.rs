//! `/auth/…`: sign-up, sign-in, refresh, logout. How the refresh token travels depends on the client (api.md):
//! a browser (`client: WEB`) gets it only as an HttpOnly, SameSite=Strict, Secure cookie scoped to these routes and
//! never in a body, so no script on the page can read it; the app (`APP`, the default) gets it in the body and keeps
//! it in its own token store.
//!
//! The cookie is `Secure` always, except in dev mode on a plain-HTTP loopback connection (`cargo xtask dev` on
//! `http://127.0.0.1`), where a browser would not send a Secure cookie back. A deployment serves browsers over
//! HTTPS (through its proxy), so outside dev mode nothing is given up.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use nene_shared::ErrorBody;
use nene_shared::auth::{ClientKind, LoginRequest, LogoutRequest, RefreshRequest, SignupRequest, TokenPair};
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

/// The connection's socket peer (the server speaks plain HTTP itself; TLS ends at a proxy in front of it).
type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// How the answer to one sign-in or refresh is delivered.
struct Delivery {
    client: ClientKind,
    /// Whether the cookie carries `Secure`.
    secure: bool,
    max_age_secs: u64,
}

impl Delivery {
    fn new(state: &AppState, client: ClientKind, peer: &Peer) -> Self {
        let loopback = peer.as_ref().is_some_and(|Extension(ConnectInfo(addr))| addr.ip().is_loopback());
        Delivery {
            client,
            secure: !(state.config.dev && loopback),
            max_age_secs: state.config.refresh_token_ttl.as_secs(),
        }
    }

    /// A WEB answer: the refresh token moves from the body into the cookie. An APP answer: the body as it is.
    fn answer(&self, status: StatusCode, mut pair: TokenPair) -> Response {
        let cookie = match self.client {
            ClientKind::App => None,
            ClientKind::Web => pair.refresh_token.take().map(|token| {
                let secure = if self.secure { "; Secure" } else { "" };
                format!(
                    "{REFRESH_COOKIE}={token}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
                    self.max_age_secs
                )
            }),
        };
        let mut response = (status, Json(pair)).into_response();
        if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        response
    }
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
    peer: Peer,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<Response> {
    accounts::count_signup(&state, &ip).await?;
    let delivery = Delivery::new(&state, req.client.unwrap_or_default(), &peer);
    let pair = accounts::signup(&state, req).await?;
    Ok(delivery.answer(StatusCode::CREATED, pair))
}

/// Signs in with email and password. Repeated failures are limited per account and per address (429).
#[utoipa::path(post, path = "/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    peer: Peer,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let delivery = Delivery::new(&state, req.client.unwrap_or_default(), &peer);
    let pair = accounts::login(&state, req, &ip).await?;
    Ok(delivery.answer(StatusCode::OK, pair))
}

/// Trades a refresh token (body or cookie) for a new pair; the old one is spent. A spent token presented again
/// revokes its whole family, unless it was spent within the last seconds (another tab of the same browser
/// refreshing at the same moment), which gets a fresh pair in the same family. A token that came in the cookie is
/// answered as WEB even without `client`: what a browser holds never goes into a body.
#[utoipa::path(post, path = "/auth/refresh", tag = "accounts", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: OptionalJson<RefreshRequest>,
) -> ApiResult<Response> {
    let req = body.into_inner();
    let (token, client) = match (req.refresh_token, refresh_cookie(&headers)) {
        (Some(token), _) => (token, req.client.unwrap_or_default()),
        (None, Some(cookie)) => (cookie, ClientKind::Web),
        (None, None) => {
            return Err(ApiError::unauthenticated(ErrorCode::RefreshTokenInvalid, "Please sign in again."));
        }
    };
    let delivery = Delivery::new(&state, client, &peer);
    let pair = accounts::refresh(&state, &token).await?;
    Ok(delivery.answer(StatusCode::OK, pair))
}

/// Signs out: the access token stops working at once and the refresh token's family is revoked.
#[utoipa::path(post, path = "/auth/logout", tag = "accounts", request_body = LogoutRequest,
    responses((status = 204), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
    peer: Peer,
    headers: HeaderMap,
    body: OptionalJson<LogoutRequest>,
) -> ApiResult<Response> {
    let token = body.into_inner().refresh_token.or_else(|| refresh_cookie(&headers));
    accounts::logout(&state, &user.0, token.as_deref()).await?;
    let secure = if Delivery::new(&state, ClientKind::Web, &peer).secure { "; Secure" } else { "" };
    let clear = format!("{REFRESH_COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict{secure}");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}
