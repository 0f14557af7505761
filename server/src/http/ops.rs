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

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
