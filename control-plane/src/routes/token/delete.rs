//! `DELETE /api/token/{id}`: deletes one of the caller's keys.

use super::{NOT_FOUND, parse_id};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, State};
use pylon_shared::cache::balances::{self, Account};
use pylon_shared::changes::Topic;

pub async fn delete(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    if !app.db.delete_user_token(id, user.id).await? {
        return Err(ApiError::invalid(NOT_FOUND));
    }
    app.changes.publish(Topic::Token, id).await?;
    balances::forget(&app.cache, Account::Token(id)).await?;
    Ok(envelope::ok_message(""))
}
