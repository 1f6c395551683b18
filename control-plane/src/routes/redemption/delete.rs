//! `DELETE /api/redemption/{id}` and `DELETE /api/redemption/invalid` (every used, disabled
//! or expired code; answers how many were deleted).

use super::{NOT_FOUND, parse_id};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, State};

pub async fn delete_one(
    State(app): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> ApiResult {
    if !app.db.delete_redemption(parse_id(&id)?).await? {
        return Err(ApiError::invalid(NOT_FOUND));
    }
    Ok(envelope::ok_message(""))
}

pub async fn delete_invalid(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    Ok(envelope::ok(app.db.delete_invalid_redemptions().await?))
}
