//! `GET /api/user/2fa/stats`: how many users have 2FA enabled (administrators), as new-api
//! reports it.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;
use serde_json::json;

pub async fn stats(State(app): State<AppState>, _admin: AdminUser) -> ApiResult {
    let (users, enabled) = app.db.two_factor_stats().await?;
    let rate = if users > 0 {
        enabled as f64 / users as f64 * 100.0
    } else {
        0.0
    };
    Ok(envelope::ok(json!({
        "total_users": users,
        "enabled_users": enabled,
        "enabled_rate": format!("{rate:.1}%"),
    })))
}
