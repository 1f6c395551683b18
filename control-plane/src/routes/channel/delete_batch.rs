//! `POST /api/channel/batch` with `{"ids": [...]}`: deletes those channels and their abilities
//! in one transaction. `data` is how many existed and were deleted.

use super::announce;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use serde::Deserialize;

/// More ids than this in one request is refused (one transaction holds them all).
const MAX_IDS: usize = 1000;

#[derive(Deserialize)]
pub struct BatchRequest {
    #[serde(default)]
    ids: Vec<i64>,
}

pub async fn delete_batch(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiJson(request): ApiJson<BatchRequest>,
) -> ApiResult {
    if request.ids.is_empty() {
        return Err(ApiError::invalid("Invalid parameters: ids is empty"));
    }
    if request.ids.len() > MAX_IDS {
        return Err(ApiError::invalid(format!(
            "Too many items in batch request, maximum is {MAX_IDS}"
        )));
    }
    let deleted = app.db.delete_channels(&request.ids).await?;
    announce(&app, &deleted).await?;
    tracing::info!(admin = admin.user.id, ?deleted, "channels deleted");
    Ok(envelope::ok(deleted.len()))
}
