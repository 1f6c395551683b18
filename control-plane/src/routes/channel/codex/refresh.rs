//! `POST /api/channel/{id}/codex/refresh`: renews a Codex channel's tokens with its refresh
//! token and saves them as its key.

use super::{codex_channel, key_of, refreshed, save_key};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

pub async fn refresh(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    let row = codex_channel(&app, id).await?;
    let key = refreshed(&app, key_of(&row)?).await.map_err(|reason| {
        ApiError::invalid(format!("Refreshing the credential failed: {reason}"))
    })?;
    save_key(&app, &row, &key).await?;
    Ok(
        Json(json!({"success": true, "message": "refreshed", "data": {
        "expires_at": key.expired, "last_refresh": key.last_refresh,
        "account_id": key.account_id, "email": key.email,
        "channel_id": row.id, "channel_type": row.r#type, "channel_name": row.name}}))
        .into_response(),
    )
}
