//! `DELETE /api/channel/disabled`: deletes every disabled channel (by an admin or
//! automatically, as new-api does) with its abilities. `data` is how many were deleted.

use super::announce;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::envelope;
use crate::error::ApiResult;
use axum::extract::State;

pub async fn delete_disabled(
    State(app): State<AppState>,
    AdminUser(admin): AdminUser,
) -> ApiResult {
    let deleted = app.db.delete_disabled_channels().await?;
    announce(&app, &deleted).await?;
    tracing::info!(admin = admin.user.id, ?deleted, "disabled channels deleted");
    Ok(envelope::ok(deleted.len()))
}
