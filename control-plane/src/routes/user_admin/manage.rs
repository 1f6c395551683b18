//! `POST /api/user/manage` with `{id, action}` (and `mode`, `value` for `add_quota`): new-api's
//! account actions on a user of a lower role (root: anyone).
//!
//! - `disable` / `enable`: the status; disabling also ends the user's sessions and access
//!   token, and the relay refuses their keys once the change feed reaches it.
//! - `delete`: see `delete.rs`.
//! - `promote`: a common user becomes an administrator; root only.
//! - `demote`: an administrator (or, by root, another root) becomes a common user; their
//!   sessions end, as in new-api.
//! - `add_quota`: see `quota.rs`.
//!
//! The last enabled root can never be disabled, demoted or deleted. Answers `{role, status}`
//! after the change, as new-api does.

use super::{NO_PERMISSION_EDIT, NOT_FOUND, audit, can_manage, revoke_access, role_name, target};
use crate::app::{App, AppState};
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::extract::State;
use pylon_shared::changes::Topic;
use pylon_shared::db::UserRow;
use pylon_shared::roles::{ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, STATUS_DISABLED, STATUS_ENABLED};
use serde::Deserialize;
use serde_json::json;

/// The answer when the change would leave no enabled root.
const LAST_ROOT: &str = "Cannot disable or demote the last enabled super administrator";
/// The answer when a conditional change found the user changed by a concurrent request.
const CHANGED_MEANWHILE: &str = "The user was changed meanwhile, please reload and try again";

#[derive(Deserialize)]
pub struct ManageRequest {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    action: String,
    #[serde(default)]
    value: i64,
    #[serde(default)]
    mode: String,
}

/// The actions new-api's console sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Disable,
    Enable,
    Delete,
    Promote,
    Demote,
    AddQuota,
}

impl Action {
    fn parse(name: &str) -> Result<Self, ApiError> {
        Ok(match name {
            "disable" => Self::Disable,
            "enable" => Self::Enable,
            "delete" => Self::Delete,
            "promote" => Self::Promote,
            "demote" => Self::Demote,
            "add_quota" => Self::AddQuota,
            other => {
                return Err(ApiError::invalid(format!(
                    "Invalid parameters: unknown action {other:?} (expected disable, enable, \
                     delete, promote, demote or add_quota)"
                )));
            }
        })
    }
}

pub async fn manage(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    ApiJson(request): ApiJson<ManageRequest>,
) -> ApiResult {
    if request.id <= 0 {
        return Err(ApiError::invalid("Invalid parameters: id is required"));
    }
    let action = Action::parse(request.action.trim())?;
    let user = target(&app, request.id).await?;
    if !can_manage(admin.role, user.role) {
        return Err(ApiError::invalid(NO_PERMISSION_EDIT));
    }
    match action {
        Action::Disable => disable(&app, &admin, &user).await?,
        Action::Enable => enable(&app, &admin, &user).await?,
        Action::Delete => {
            super::delete::remove(&app, &admin, &user).await?;
            return Ok(envelope::ok_message(""));
        }
        Action::Promote => promote(&app, &admin, &user).await?,
        Action::Demote => demote(&app, &admin, &user).await?,
        Action::AddQuota => {
            return super::quota::add_quota(&app, &admin, &user, &request.mode, request.value)
                .await;
        }
    }
    let after = target(&app, user.id).await?;
    Ok(envelope::ok(
        json!({ "role": after.role, "status": after.status }),
    ))
}

/// Whether `user` is a root with no other enabled root beside them.
async fn is_last_root(app: &App, user: &UserRow) -> Result<bool, ApiError> {
    Ok(user.role >= ROLE_ROOT && app.db.count_other_enabled_roots(user.id).await? == 0)
}

/// The answer for a conditional change that matched no row.
async fn refused(app: &App, user: &UserRow) -> Result<(), ApiError> {
    let message = match app.db.user_by_id(user.id).await? {
        None => NOT_FOUND,
        Some(now) if is_last_root(app, &now).await? => LAST_ROOT,
        Some(_) => CHANGED_MEANWHILE,
    };
    Err(ApiError::invalid(message))
}

async fn disable(app: &App, admin: &UserRow, user: &UserRow) -> Result<(), ApiError> {
    if is_last_root(app, user).await? {
        return Err(ApiError::invalid(LAST_ROOT));
    }
    if !app.db.change_user_status(user.id, STATUS_DISABLED).await? {
        return refused(app, user).await;
    }
    // Revoked even if already disabled: nothing of a disabled user may stay usable.
    revoke_access(app, user.id).await?;
    app.changes.publish(Topic::User, user.id).await?;
    if user.status != STATUS_DISABLED {
        audit(app, admin, user.id, "disabled the account").await?;
    }
    tracing::info!(admin = admin.id, user = user.id, "user disabled");
    Ok(())
}

async fn enable(app: &App, admin: &UserRow, user: &UserRow) -> Result<(), ApiError> {
    if !app.db.change_user_status(user.id, STATUS_ENABLED).await? {
        return refused(app, user).await;
    }
    app.changes.publish(Topic::User, user.id).await?;
    if user.status != STATUS_ENABLED {
        audit(app, admin, user.id, "enabled the account").await?;
    }
    tracing::info!(admin = admin.id, user = user.id, "user enabled");
    Ok(())
}

async fn promote(app: &App, admin: &UserRow, user: &UserRow) -> Result<(), ApiError> {
    if admin.role < ROLE_ROOT {
        return Err(ApiError::invalid(
            "Regular administrators cannot promote other users to administrator",
        ));
    }
    if user.role >= ROLE_ADMIN {
        return Err(ApiError::invalid("This user is already an administrator"));
    }
    change_role(app, admin, user, ROLE_ADMIN).await
}

async fn demote(app: &App, admin: &UserRow, user: &UserRow) -> Result<(), ApiError> {
    if user.role <= ROLE_COMMON {
        return Err(ApiError::invalid("This user is already a common user"));
    }
    if is_last_root(app, user).await? {
        return Err(ApiError::invalid(LAST_ROOT));
    }
    change_role(app, admin, user, ROLE_COMMON).await?;
    // Consoles opened with the old role start over, as in new-api.
    app.db.delete_user_sessions(user.id).await?;
    Ok(())
}

/// Moves `user` from their current role to `to`, atomically and audited.
async fn change_role(app: &App, admin: &UserRow, user: &UserRow, to: i64) -> Result<(), ApiError> {
    if !app.db.change_user_role(user.id, user.role, to).await? {
        return refused(app, user).await;
    }
    app.changes.publish(Topic::User, user.id).await?;
    let what = format!(
        "changed the role from {} to {}",
        role_name(user.role),
        role_name(to)
    );
    audit(app, admin, user.id, &what).await?;
    tracing::info!(
        admin = admin.id,
        user = user.id,
        role = to,
        "user role changed"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_new_api_names() {
        assert_eq!(Action::parse("disable").ok(), Some(Action::Disable));
        assert_eq!(Action::parse("add_quota").ok(), Some(Action::AddQuota));
        assert!(Action::parse("Disable").is_err());
        assert!(Action::parse("").is_err());
    }
}
