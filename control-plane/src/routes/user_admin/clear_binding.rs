//! `DELETE /api/user/{id}/bindings/{binding_type}` (new-api's `AdminClearUserBinding`): an
//! administrator removes one of a user's sign-in bindings (`email`, `github`, `discord`,
//! `oidc`, `wechat`, `telegram`, `linuxdo`), for a user of a lower role (root: anyone), with an
//! audit row on the user's log. An unknown binding type, an unknown user or a user the caller
//! may not manage changes nothing.

use super::{NO_PERMISSION_EDIT, NOT_FOUND, audit, can_manage, target};
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::{RawPathParams, State};
use pylon_shared::changes::Topic;
use pylon_shared::db::BindingColumn;

pub async fn clear(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    PathId(id): PathId,
    params: RawPathParams,
) -> ApiResult {
    let binding = params
        .iter()
        .find_map(|(name, value)| (name == "binding_type").then_some(value))
        .unwrap_or("")
        .trim()
        .to_lowercase();
    let column = BindingColumn::of(&binding)
        .ok_or_else(|| ApiError::invalid(format!("Invalid binding type: {binding}")))?;
    let user = target(&app, id).await?;
    if !can_manage(admin.role, user.role) {
        return Err(ApiError::invalid(NO_PERMISSION_EDIT));
    }
    if !app.db.clear_user_binding(user.id, column).await? {
        return Err(ApiError::invalid(NOT_FOUND));
    }
    app.changes.publish(Topic::User, user.id).await?;
    audit(
        &app,
        &admin,
        user.id,
        &format!("cleared the {binding} binding of {}", user.username),
    )
    .await?;
    Ok(envelope::ok_message("success"))
}
