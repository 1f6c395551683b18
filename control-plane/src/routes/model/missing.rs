//! `GET /api/models/missing` (new-api's `GetMissingModels`): the model names channels serve
//! that no record names exactly, so that an administrator sees what to describe next.

use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;

pub async fn missing(State(app): State<AppState>, _: AdminUser) -> ApiResult {
    Ok(envelope::ok(app.db.models_without_record().await?))
}
