//! `GET /api/token/{id}`: one of the caller's keys, masked (the console's edit form).

use super::{NOT_FOUND, view};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;

pub async fn get(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    PathId(id): PathId,
) -> ApiResult {
    let token = app
        .db
        .user_token(id, user.id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))?;
    Ok(envelope::ok(view(&app, &token)))
}
