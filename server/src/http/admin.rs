//! `/admin/…`: for accounts with the ADMIN role only.

use axum::Json;
use axum::extract::State;
use nene_shared::ErrorBody;
use nene_shared::ledger::LedgerReport;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::extract::AdminUser;
use crate::ledger;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ledger_check))
}

/// Every ledger invariant, with the figures behind it.
#[utoipa::path(get, path = "/admin/ledger/check", tag = "admin",
    responses((status = 200, body = LedgerReport), (status = 403, body = ErrorBody)), security(("bearer" = [])))]
async fn ledger_check(State(state): State<AppState>, _admin: AdminUser) -> ApiResult<Json<LedgerReport>> {
    Ok(Json(ledger::check::run(&state.db).await?))
}
