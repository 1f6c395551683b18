//! `DELETE /api/channel/{id}`: deletes a channel and its abilities.

use super::announce;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;

pub async fn delete(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let deleted = app.db.delete_channels(&[id]).await?;
    if deleted.is_empty() {
        return Err(ApiError::invalid("Channel does not exist"));
    }
    announce(&app, &deleted).await?;
    tracing::info!(admin = admin.user.id, channel = id, "channel deleted");
    Ok(envelope::ok_message(""))
}
