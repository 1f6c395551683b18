//! `GET /api/user/2fa/status`: whether the caller's 2FA is enabled, whether it is locked by
//! wrong codes, and (when enabled) how many backup codes are left, as new-api answers.

use super::verify;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use serde_json::json;

pub async fn status(State(app): State<AppState>, AuthUser { user }: AuthUser) -> ApiResult {
    let row = app.db.two_factor(user.id).await?;
    let enabled = row.as_ref().is_some_and(|r| r.enabled == 1);
    let locked = row.is_some() && verify::is_locked(&app, user.id).await?;
    let mut data = json!({ "enabled": enabled, "locked": locked });
    if enabled {
        data["backup_codes_remaining"] = json!(app.db.count_unused_backup_codes(user.id).await?);
    }
    Ok(envelope::ok(data))
}
