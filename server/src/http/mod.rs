//! The HTTP surface: one module per area, each returning its routes; errors in one shape; request ids, traces and
//! metrics on every request; the OpenAPI document generated from the handlers themselves.

pub mod accept;
pub mod admin;
pub mod auth;
pub mod challenges;
pub mod dev;
pub mod extract;
pub mod idempotency;
pub mod moderation;
pub mod notifications;
pub mod ops;
pub mod payments;
pub mod proofs;
pub mod sync;
pub mod ui;
pub mod users;
pub mod wallet;

use std::sync::Arc;

use axum::Json;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Router, middleware};
use nene_shared::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::ApiError;
use crate::telemetry;

#[derive(OpenApi)]
#[openapi(
    info(title = "NeNe Challenge API", description = "Stake points on a habit, prove it daily, split the pot."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The document describes itself too, so that it lists every route the server answers.
fn document_openapi_route(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::response::ResponseBuilder;
    let operation = OperationBuilder::new()
        .tag("operations")
        .summary(Some("This OpenAPI document."))
        .response("200", ResponseBuilder::new().description("OpenAPI 3.1 JSON").build())
        .build();
    openapi.paths.add_path_operation("/api/v1/openapi.json", vec![HttpMethod::Get], operation);
}

/// The largest JSON body any route accepts; uploads set their own limit.
const JSON_BODY_LIMIT: usize = 256 * 1024;

/// Builds the whole application router for `state`.
pub fn router(state: AppState) -> Router {
    let api = OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(wallet::router())
        .merge(payments::router())
        .merge(challenges::router())
        .merge(proofs::router())
        .merge(notifications::router())
        .merge(sync::router())
        .merge(admin::router())
        .merge(moderation::router());
    let mut doc = OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", api).merge(ops::router());
    if state.config.dev {
        doc = doc.merge(dev::router());
    }
    let (router, mut openapi) = doc.split_for_parts();
    document_openapi_route(&mut openapi);
    let openapi = Arc::new(openapi);
    let router = match &state.toss_sandbox {
        Some(sandbox) => router.nest_service("/dev/toss", sandbox.router()),
        None => router,
    };
    let router = match &state.fcm_sandbox {
        Some(sandbox) => router.nest_service("/dev/fcm", sandbox.router()),
        None => router,
    };

    router
        .route("/api/v1/openapi.json", get(move || async move { Json(openapi.as_ref().clone()) }))
        .fallback(ui::fallback)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "This method is not allowed here.",
            )
        })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn(telemetry::track_requests))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal(&"a request handler panicked").into_response()))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %request_id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}
