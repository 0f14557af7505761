//! The HTTP surface: one module per area, each returning its routes; errors in one shape; request ids, traces and
//! metrics on every request; the OpenAPI document generated from the handlers themselves.

pub mod accept;
pub mod admin;
pub mod auth;
pub mod challenges;
pub mod client_addr;
pub mod connection;
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
pub mod upload_slots;
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

/// Documents, on every operation, the error answers that come from the shared extractors and layers rather than from
/// the handler itself, each in the one error shape: 400 for a malformed query, path or body; 401 for a missing or bad
/// token on a secured route; 404 for an id in the path that names nothing; 413 and 415 for a body too large or not
/// JSON/multipart; 500 when something fails on our side. A handler's own refusals (403, 409, 422, 429…) stay in its
/// annotation, so the document still says which route refuses what.
fn document_common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build()
    };
    for item in openapi.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let params = operation.parameters.as_deref().unwrap_or_default();
            let in_path = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let has_input = !params.is_empty() || operation.request_body.is_some();
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut common = vec![("500", "Something went wrong on our side.")];
            if has_input {
                common.push(("400", "The request is malformed or a field is invalid."));
            }
            if secured {
                common.push(("401", "No token, or a token that is invalid, expired or revoked."));
            }
            if in_path {
                common.push(("404", "The id in the path names nothing."));
            }
            if operation.request_body.is_some() {
                common.push(("413", "The body is too large."));
                common.push(("415", "The body is not in the expected format."));
            }
            for (status, description) in common {
                operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error(description).into());
            }
        }
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
    document_common_errors(&mut openapi);
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
    let router = if state.config.dev {
        router.layer(middleware::from_fn_with_state(state.clone(), dev::loopback_only))
    } else {
        router
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
