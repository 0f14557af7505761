//! Request extractors that answer in the API's error shape: JSON bodies (malformed → 400 `MALFORMED_JSON`, wrong or
//! missing fields → 400 `VALIDATION_FAILED` with `fields`), the signed-in user, and the caller's address.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use nene_shared::{ErrorCode, FieldCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::tokens::{AccessClaims, TokenError};
use crate::error::ApiError;
use crate::http::client_addr;
use crate::store;

/// A JSON request body, parsed with errors in the API's shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        parse_json_strict(&headers, &bytes).map(ApiJson)
    }
}

/// Like [`ApiJson`], but an empty body (no content at all) means `T::default()`: for calls whose every field is
/// optional, such as a browser's refresh that carries its token in a cookie.
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        parse_json(&headers, &bytes, true).map(OptionalJson)
    }
}

fn body_rejection(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, "The request body is too large.")
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, "The request body could not be read.")
    }
}

pub fn parse_json<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    bytes: &[u8],
    allow_empty: bool,
) -> Result<T, ApiError> {
    if allow_empty && bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json_strict(headers, bytes)
}

pub fn parse_json_strict<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    let is_json =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(
            |mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
            },
        );
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Send the body as JSON (Content-Type: application/json).",
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, format!("The body is not valid JSON: {e}"))
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        let path = e.path().to_string();
        // serde reports a missing field against its parent; name the field itself.
        let (field, code) = match message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            Some(name) if path == "." => (name.to_owned(), FieldCode::Required),
            Some(name) => (format!("{path}.{name}"), FieldCode::Required),
            None => (path, FieldCode::InvalidType),
        };
        ApiError::validation(BTreeMap::from([(field, code)]))
    })
}

impl<T: DeserializeOwned + Default> OptionalJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// The signed-in caller, from `Authorization: Bearer <access token>`. Refused when missing, malformed, forged,
/// expired or revoked by logout.
pub struct AuthUser(pub AccessClaims);

impl AuthUser {
    pub fn id(&self) -> Uuid {
        self.0.sub
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthenticated(ErrorCode::Unauthenticated, "Please sign in."));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthenticated(ErrorCode::TokenInvalid, "The sign-in token is not valid."))?;
        let claims = state.jwt.verify(token).map_err(|e| match e {
            TokenError::Expired => {
                ApiError::unauthenticated(ErrorCode::TokenExpired, "Your sign-in has expired. Please refresh it.")
            }
            TokenError::Invalid => {
                ApiError::unauthenticated(ErrorCode::TokenInvalid, "The sign-in token is not valid.")
            }
        })?;
        let mut tx = state.db.begin_read().await?;
        if store::tokens::is_access_revoked(&mut tx, claims.jti).await? {
            return Err(ApiError::unauthenticated(
                ErrorCode::TokenRevoked,
                "You have signed out. Please sign in again.",
            ));
        }
        Ok(AuthUser(claims))
    }
}

/// The caller's network address as per-address limits count it: the socket peer, or the address a trusted proxy
/// forwarded (see [`client_addr`]); for IPv6, its /64 network ([`client_addr::limit_key`]).
pub struct ClientIp(pub String);

impl ClientIp {
    /// The client of a request, from its connection's peer and its headers.
    pub fn of(parts: &Parts, state: &AppState) -> Option<IpAddr> {
        let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
        let config = &state.config;
        Some(client_addr::resolve(peer.ip(), &parts.headers, &config.trusted_proxies, config.forwarded_header))
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = ClientIp::of(parts, state)
            .map(|ip| client_addr::limit_key(ip).to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(ClientIp(ip))
    }
}

/// A path parameter. A value that cannot even be parsed (a malformed id) names nothing that exists: 404.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|_| ApiError::not_found("Nothing exists at this address."))
    }
}

/// A query string, parsed with errors in the API's shape: 400 `VALIDATION_FAILED` naming the parameter, like a
/// JSON body's fields (axum's own `Query` answers in plain text).
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|e| {
            let field = e.path().to_string();
            let message = e.inner().to_string();
            let (field, code) = match message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
                Some(name) => (name.to_owned(), FieldCode::Required),
                None if field == "." => ("query".to_owned(), FieldCode::Invalid),
                None => (field, FieldCode::Invalid),
            };
            ApiError::validation(BTreeMap::from([(field, code)]))
        })
    }
}

/// A signed-in caller with the ADMIN role; others get 403.
pub struct AdminUser(pub AccessClaims);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthUser(claims) = AuthUser::from_request_parts(parts, state).await?;
        if claims.role != nene_shared::users::Role::Admin.as_str() {
            return Err(ApiError::forbidden("This is for administrators."));
        }
        Ok(AdminUser(claims))
    }
}
