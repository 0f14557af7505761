//! `/payments/…`: charging points by card (orders, confirm, refunds) and Toss's webhook.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use nene_shared::page::{Page, PageQuery};
use nene_shared::payments::{CancelOrderRequest, ConfirmRequest, CreateOrderRequest, OrderCreated, PaymentOrder};
use nene_shared::{ErrorBody, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiPath, ApiQuery, AuthUser, parse_json, parse_json_strict};
use crate::http::idempotency;
use crate::payments;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(confirm))
        .routes(routes!(cancel))
        .routes(routes!(webhook))
}

/// Payment endpoints are limited per user, so a buggy or hostile client cannot hammer Toss through us.
fn check_rate(state: &AppState, user: &AuthUser) -> ApiResult<()> {
    state.payment_limiter.check_key(&user.id()).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        ApiError::too_many("Too many payment requests. Please wait a moment.", wait.as_secs().max(1))
    })
}

/// Creates an order for the Toss payment widget (1,000 to 1,000,000 points).
#[utoipa::path(post, path = "/payments/orders", tag = "payments", request_body = CreateOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = OrderCreated), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)), security(("bearer" = [])))]
async fn create_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    check_rate(&state, &user)?;
    let req: CreateOrderRequest = parse_json_strict(&headers, &body)?;
    let uid = UserId::from_uuid(user.id());
    idempotency::once(&state, user.id(), &headers, "POST /payments/orders", &body, async || {
        Ok((StatusCode::CREATED, payments::create_order(&state, uid, req).await?))
    })
    .await
}

/// One's orders, newest first.
#[utoipa::path(get, path = "/payments/orders", tag = "payments", params(PageQuery),
    responses((status = 200, body = Page<PaymentOrder>)), security(("bearer" = [])))]
async fn list_orders(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<PaymentOrder>>> {
    Ok(Json(payments::list_orders(&state, UserId::from_uuid(user.id()), &query).await?))
}

/// One order.
#[utoipa::path(get, path = "/payments/orders/{order_id}", tag = "payments", params(("order_id" = String, Path)),
    responses((status = 200, body = PaymentOrder), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_order(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(order_id): ApiPath<String>,
) -> ApiResult<Json<PaymentOrder>> {
    Ok(Json(payments::get_order(&state, UserId::from_uuid(user.id()), &order_id).await?))
}

/// Confirms the payment the person made in the widget. 200: paid (points follow at once); 202: the outcome is
/// being found out; 422: the amount differs from the order, or the card company refused.
#[utoipa::path(post, path = "/payments/confirm", tag = "payments", request_body = ConfirmRequest,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = PaymentOrder), (status = 202, body = PaymentOrder), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, body = ErrorBody)),
    security(("bearer" = [])))]
async fn confirm(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    check_rate(&state, &user)?;
    let req: ConfirmRequest = parse_json_strict(&headers, &body)?;
    let uid = UserId::from_uuid(user.id());
    idempotency::once(&state, user.id(), &headers, "POST /payments/confirm", &body, async || {
        payments::confirm(&state, uid, req).await
    })
    .await
}

/// Pays the unspent part of this charge (or `amount` of it) back to the card.
#[utoipa::path(post, path = "/payments/orders/{order_id}/cancel", tag = "payments", request_body = CancelOrderRequest,
    params(("order_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = PaymentOrder), (status = 202, body = PaymentOrder), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)), security(("bearer" = [])))]
async fn cancel(
    State(state): State<AppState>,
    user: AuthUser,
    ApiPath(order_id): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    check_rate(&state, &user)?;
    let req: CancelOrderRequest = parse_json(&headers, &body, true)?;
    let uid = UserId::from_uuid(user.id());
    let request = format!("POST /payments/orders/{order_id}/cancel");
    let key = idempotency::key_of(&headers)?;
    idempotency::once(&state, user.id(), &headers, &request, &body, async || {
        // Run apart from this request, so a client that goes away mid-refund does not cut it off between our
        // ledger and Toss: it finishes, and a retry with the key finds it.
        let state = state.clone();
        let refund = tokio::spawn(async move { payments::cancel(&state, uid, &order_id, req, key.as_deref()).await });
        refund.await.map_err(|e| ApiError::internal(&e))?
    })
    .await
}

/// TossPayments' status-change webhook. Its content is only a hint: the payment is read again from Toss.
#[utoipa::path(post, path = "/payments/webhook", tag = "payments", request_body = serde_json::Value,
    responses((status = 200), (status = 503, body = ErrorBody)))]
async fn webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<serde_json::Value>> {
    let value: serde_json::Value = parse_json_strict(&headers, &body)?;
    payments::webhook(&state, value).await?;
    Ok(Json(serde_json::json!({"ok": true})))
}
