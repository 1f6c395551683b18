//! `PUT /api/redemption/` with `{"id", "name", "quota", "expired_time"}`, or with
//! `?status_only=1` and `{"id", "status"}` (enable or disable; a used code stays used).
//! Answers the code as it now is.

use super::{check_expiry, target, view};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::{Query, State};
use pylon_shared::db::{REDEMPTION_DISABLED, REDEMPTION_ENABLED};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct UpdateQuery {
    #[serde(default)]
    status_only: String,
}

#[derive(Deserialize)]
pub struct UpdateRequest {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    quota: i64,
    #[serde(default)]
    expired_time: i64,
    #[serde(default)]
    status: i64,
}

pub async fn update(
    State(app): State<AppState>,
    _: AdminUser,
    Query(query): Query<UpdateQuery>,
    ApiJson(request): ApiJson<UpdateRequest>,
) -> ApiResult {
    let current = target(&app, request.id).await?;
    if query.status_only.is_empty() {
        check_expiry(request.expired_time)?;
        let chars = request.name.chars().count();
        if chars == 0 || chars > 20 {
            return Err(ApiError::invalid(
                "The name must be 1 to 20 characters long",
            ));
        }
        if request.quota <= 0 {
            return Err(ApiError::invalid("The quota must be greater than 0"));
        }
        app.db
            .update_redemption(
                current.id,
                &request.name,
                request.quota,
                request.expired_time,
            )
            .await?;
    } else {
        if ![REDEMPTION_ENABLED, REDEMPTION_DISABLED].contains(&request.status) {
            return Err(ApiError::invalid(
                "The status must be 1 (enabled) or 2 (disabled)",
            ));
        }
        if !app
            .db
            .set_redemption_status(current.id, request.status)
            .await?
        {
            return Err(ApiError::invalid(
                "A used redemption code cannot be enabled or disabled",
            ));
        }
    }
    Ok(envelope::ok(view(&target(&app, current.id).await?)))
}
