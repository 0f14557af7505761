//! Operational routes outside `/api/v1`: liveness, readiness, Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use nene_shared::ops::HealthStatus;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(ready)).routes(routes!(metrics))
}

fn status(s: &str) -> Json<HealthStatus> {
    Json(HealthStatus { status: s.to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() })
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = HealthStatus)))]
async fn health() -> Json<HealthStatus> {
    status("ok")
}

/// The process can serve: its database answers.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = HealthStatus), (status = 503, body = HealthStatus)))]
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, status("ready")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, status("not_ready"))
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
