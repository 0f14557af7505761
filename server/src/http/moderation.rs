//! `/admin/moderation/…`: the queue of reported and appealed proofs, dismissing what is open against one, and the
//! decisions kept (administrators' and the system's). Rejecting is `POST /proofs/{id}/reject`.

use axum::Json;
use axum::extract::{Query, State};
use nene_shared::ErrorBody;
use nene_shared::challenges::{Proof, ProofId, ReasonRequest};
use nene_shared::moderation::{DecisionQuery, ModerationCase, ModerationDecision};
use nene_shared::page::{Page, PageQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::challenges::moderation;
use crate::error::ApiResult;
use crate::http::extract::{AdminUser, ApiJson, ApiPath};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(queue)).routes(routes!(dismiss)).routes(routes!(decisions))
}

/// Proofs waiting for a decision, oldest first, with their photo and text addresses, reports and reasons, and
/// whether the caller may decide (not in a challenge they take part in).
#[utoipa::path(get, path = "/admin/moderation", tag = "admin", params(PageQuery),
    responses((status = 200, body = Page<ModerationCase>), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn queue(
    State(state): State<AppState>,
    admin: AdminUser,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<Page<ModerationCase>>> {
    Ok(Json(moderation::queue(&state, &admin.0, &query).await?))
}

/// Dismisses what is open against a proof: its reports (it counts, as it did) or the rejection it appealed (it
/// counts again). An administrator who takes part in the challenge gets 403 `CONFLICT_OF_INTEREST`.
#[utoipa::path(post, path = "/admin/moderation/{proof_id}/dismiss", tag = "admin", params(("proof_id" = ProofId, Path)),
    request_body = ReasonRequest,
    responses((status = 200, body = Proof), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
async fn dismiss(
    State(state): State<AppState>,
    admin: AdminUser,
    ApiPath(id): ApiPath<ProofId>,
    ApiJson(req): ApiJson<ReasonRequest>,
) -> ApiResult<Json<Proof>> {
    Ok(Json(moderation::dismiss(&state, &admin.0, id, &req.reason).await?))
}

/// Every decision, newest first: the actor (none when the system decided after the grace time) and the reason.
#[utoipa::path(get, path = "/admin/moderation/decisions", tag = "admin", params(DecisionQuery),
    responses((status = 200, body = Page<ModerationDecision>), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn decisions(
    State(state): State<AppState>,
    _admin: AdminUser,
    Query(query): Query<DecisionQuery>,
) -> ApiResult<Json<Page<ModerationDecision>>> {
    Ok(Json(moderation::decisions(&state, &query).await?))
}
