//! `DELETE /api/user/{id}` and the `delete` action of `POST /api/user/manage`: an
//! administrator deletes an account of a lower role (root: any but the last enabled root).
//! The user is soft-deleted (`deleted_at`; their username stays reserved), their sessions and
//! access token are revoked, and the change feed tells every proxy to forget them, so their
//! keys are refused from then on.

use super::{NO_PERMISSION_EDIT, NOT_FOUND, audit, can_manage, target};
use crate::app::{App, AppState};
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;
use pylon_shared::changes::Topic;
use pylon_shared::db::UserRow;
use pylon_shared::roles::ROLE_ROOT;

/// The answer when the last enabled root would be deleted.
const LAST_ROOT: &str = "Cannot delete the last enabled super administrator";

pub async fn delete(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    PathId(id): PathId,
) -> ApiResult {
    let user = target(&app, id).await?;
    if !can_manage(admin.role, user.role) {
        return Err(ApiError::invalid(NO_PERMISSION_EDIT));
    }
    remove(&app, &admin, &user).await?;
    Ok(envelope::ok_message(""))
}

/// Soft-deletes `user` (whom `admin` may manage) and revokes everything they held.
pub(super) async fn remove(app: &App, admin: &UserRow, user: &UserRow) -> Result<(), ApiError> {
    if user.role >= ROLE_ROOT && app.db.count_other_enabled_roots(user.id).await? == 0 {
        return Err(ApiError::invalid(LAST_ROOT));
    }
    if !app.db.soft_delete_user(user.id).await? {
        // Deleted meanwhile, or the other roots went away since the check above.
        let message = if app.db.user_by_id(user.id).await?.is_some() {
            LAST_ROOT
        } else {
            NOT_FOUND
        };
        return Err(ApiError::invalid(message));
    }
    app.db.delete_user_sessions(user.id).await?;
    app.changes.publish(Topic::User, user.id).await?;
    audit(
        app,
        admin,
        user.id,
        &format!("deleted the account {}", user.username),
    )
    .await?;
    tracing::info!(admin = admin.id, user = user.id, "user deleted");
    Ok(())
}
