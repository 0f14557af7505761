//! Operational routes outside `/api/v1`: liveness, readiness, Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use nene_shared::ops::HealthStatus;
use nene_shared::{ErrorBody, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::ApiError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready)).routes(routes!(metrics))
}

fn status(s: &str) -> Json<HealthStatus> {
    Json(HealthStatus { status: s.to_owned(), version: env!("CARGO_PKG_VERSION").to_owned(), workers_down: Vec::new() })
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = HealthStatus)))]
async fn health() -> Json<HealthStatus> {
    status("ok")
}

/// The process can serve: its database answers and every background worker is running. A worker being restarted
/// after a panic makes it 503, named in `workers_down`.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = HealthStatus), (status = 503, body = HealthStatus)))]
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = %e, "readiness check failed");
        return (StatusCode::SERVICE_UNAVAILABLE, status("not_ready"));
    }
    let down = state.workers.down();
    if !down.is_empty() {
        let Json(mut body) = status("not_ready");
        body.workers_down = down.into_iter().map(str::to_owned).collect();
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
    }
    (StatusCode::OK, status("ready"))
}

/// Prometheus text exposition. With `NENE_METRICS_TOKEN` set, only for `Authorization: Bearer <token>`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain"), (status = 401, body = ErrorBody)))]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    if let Some(token) = &state.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        if !given.is_some_and(|given| same_secret(given, token)) {
            return Err(ApiError::unauthenticated(
                ErrorCode::Unauthenticated,
                "The metrics token is missing or wrong.",
            ));
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()))
}

/// Compares in time that depends on the lengths only, not on where the first difference is, so the token
/// cannot be guessed byte by byte from response times.
fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}
