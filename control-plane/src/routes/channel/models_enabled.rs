//! `GET /api/channel/models_enabled`: the names of the models an enabled channel serves.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;

pub async fn models_enabled(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    Ok(envelope::ok(app.db.enabled_ability_models().await?))
}
