//! `POST /api/orders/{id}/cancel`: cancels the caller's pending order (by its number or id). A
//! paid, expired or cancelled order stays as it is, with the reason.

use super::view;
use crate::app::{App, AppState};
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::routes::payment::settings::PaymentSettings;
use crate::routes::topup::list::expire_stale;
use axum::extract::{Path, State};
use pylon_shared::db::{CancelOutcome, TOPUP_EXPIRED, TOPUP_SUCCESS, TopUpRow};

const NOT_FOUND: &str = "The order does not exist";

pub async fn cancel(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Path(id): Path<String>,
) -> ApiResult {
    expire_stale(&app).await?;
    let order = own_order(&app, user.id, id.trim()).await?;
    match app.db.cancel_top_up(user.id, order.id).await? {
        CancelOutcome::Cancelled => {
            tracing::info!(user = user.id, trade_no = %order.trade_no, "order cancelled");
            let expire_secs = PaymentSettings::load(&app).await?.order_expire_secs;
            let order = own_order(&app, user.id, &order.trade_no).await?;
            Ok(envelope::ok(view(&order, expire_secs)))
        }
        CancelOutcome::NotFound => Err(ApiError::invalid(NOT_FOUND)),
        CancelOutcome::NotPending(TOPUP_SUCCESS) => {
            Err(ApiError::invalid("A paid order cannot be cancelled"))
        }
        CancelOutcome::NotPending(TOPUP_EXPIRED) => Err(ApiError::invalid("The order has expired")),
        CancelOutcome::NotPending(_) => Err(ApiError::invalid("The order is already cancelled")),
    }
}

/// The caller's order by number, else by numeric id.
pub(crate) async fn own_order(app: &App, user_id: i64, id: &str) -> Result<TopUpRow, ApiError> {
    if let Some(order) = app.db.top_up_by_trade_no(id).await?
        && order.user_id == user_id
    {
        return Ok(order);
    }
    match id.parse::<i64>() {
        Ok(id) => app.db.top_up_of_user(user_id, id).await?,
        Err(_) => None,
    }
    .ok_or_else(|| ApiError::invalid(NOT_FOUND))
}
