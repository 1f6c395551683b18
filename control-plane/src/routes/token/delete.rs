//! `DELETE /api/token/{id}`: deletes one of the caller's keys.

use super::NOT_FOUND;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;

pub async fn delete(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    PathId(id): PathId,
) -> ApiResult {
    let Some(change) = app.db.delete_user_token(id, user.id).await? else {
        return Err(ApiError::invalid(NOT_FOUND));
    };
    super::after_delete(&app, &[(id, change)]).await;
    Ok(envelope::ok_message(""))
}
