//! `/wallet`: balance and history.

use axum::Json;
use axum::extract::State;
use nene_shared::ErrorBody;
use nene_shared::UserId;
use nene_shared::ledger::{Wallet, WalletEntry};
use nene_shared::page::{Page, PageQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::error::ApiResult;
use crate::http::extract::{ApiQuery, AuthUser};
use crate::wallet;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_wallet)).routes(routes!(get_entries))
}

/// The balance, and how much of it could be paid back to cards.
#[utoipa::path(get, path = "/wallet", tag = "wallet",
    responses((status = 200, body = Wallet), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn get_wallet(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Wallet>> {
    Ok(Json(wallet::wallet(&state.db, UserId::from_uuid(user.id())).await?))
}

/// The wallet's history, newest first, each entry with the lots it touched.
#[utoipa::path(get, path = "/wallet/entries", tag = "wallet", params(PageQuery),
    responses((status = 200, body = Page<WalletEntry>), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn get_entries(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<WalletEntry>>> {
    Ok(Json(wallet::entries(&state.db, UserId::from_uuid(user.id()), &query).await?))
}
