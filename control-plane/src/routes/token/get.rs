//! `GET /api/token/{id}`: one of the caller's keys, masked (the console's edit form).

use super::{NOT_FOUND, parse_id, view};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, State};

pub async fn get(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let token = app
        .db
        .user_token(id, user.id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))?;
    Ok(envelope::ok(view(&app, &token)))
}
