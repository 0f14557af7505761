//! `/dev/…`: present only in dev mode, and answering this machine only. The domain clock can be read and moved
//! forward.

use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nene_shared::ErrorBody;
use nene_shared::dev::{AdvanceClockRequest, ClockState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ClientIp};
use crate::store;

pub const CLOCK_OFFSET_KEY: &str = "dev_clock_offset_ms";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_clock, advance_clock))
}

/// Refuses `/dev/…` (the clock, the payment and push sandboxes) to anyone but this machine: they move the clock
/// and fake payments, which even a dev server on a shared network must not let others do. The client is the
/// resolved one, so a trusted proxy on this machine forwarding someone else's request does not count as local.
pub async fn loopback_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path != "/dev" && !path.starts_with("/dev/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    if !ClientIp::of(&parts, &state).is_some_and(|ip| ip.is_loopback()) {
        return ApiError::forbidden("The dev routes answer this machine only.").into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

fn clock_state(state: &AppState) -> ClockState {
    ClockState { now: state.clock.now(), offset_secs: state.clock.offset_ms() / 1000 }
}

/// The domain clock.
#[utoipa::path(get, path = "/dev/clock", tag = "dev", responses((status = 200, body = ClockState)))]
async fn get_clock(State(state): State<AppState>) -> Json<ClockState> {
    Json(clock_state(&state))
}

/// Moves the domain clock forward (at most a year at a time). The offset is kept across restarts.
#[utoipa::path(post, path = "/dev/clock", tag = "dev", request_body = AdvanceClockRequest,
    responses((status = 200, body = ClockState), (status = 400, body = ErrorBody)))]
async fn advance_clock(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<AdvanceClockRequest>,
) -> ApiResult<Json<ClockState>> {
    if !(0..=366 * 86_400).contains(&req.advance_secs) {
        return Err(ApiError::validation(
            [("advance_secs".to_owned(), nene_shared::FieldCode::Invalid)].into_iter().collect(),
        ));
    }
    let offset = state.clock.advance_ms(req.advance_secs * 1000);
    let mut tx = state.db.begin_write().await?;
    store::settings::put(&mut tx, CLOCK_OFFSET_KEY, &offset.to_string()).await?;
    tx.commit().await?;
    tracing::info!(offset_secs = offset / 1000, "domain clock moved");
    // Schedules may have become due: let the workers look now rather than at their next poll.
    state.wake.notify_waiters();
    Ok(Json(clock_state(&state)))
}
