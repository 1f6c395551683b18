//! Administrators' user management, new-api's `AdminAuth` routes under `/api/user/`: list,
//! search, get, create, update, delete, `POST /api/user/manage` (disable, enable, delete,
//! promote, demote, add_quota), clearing a sign-in binding, and a user's custom OAuth provider
//! bindings.
//!
//! The rules are new-api's: an administrator acts only on users of a lower role (root on
//! everyone), creates users only below their own role, and only root promotes. Beyond
//! new-api, the last enabled root can never be demoted, disabled or deleted (checked in the
//! same statement as the change). Every change of quota, role, status or group, and every
//! deletion, is written to the audit log (`LOG_TYPE_MANAGE`) of the user it concerns; every
//! change the relay caches is announced on the change feed, so a disabled or deleted user's
//! keys stop working on every proxy node.

pub(super) mod clear_binding;
pub(super) mod create;
pub(super) mod delete;
pub(super) mod fields;
pub(super) mod get;
pub(super) mod list;
pub(super) mod manage;
pub(super) mod oauth_bindings;
pub(super) mod quota;
pub(super) mod search;
pub(super) mod update;

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::{LOG_TYPE_MANAGE, UserRow};
use pylon_shared::roles::ROLE_ROOT;
use serde::Deserialize;
use serde_json::{Value, json};

/// new-api's answer for an id that names no live user.
const NOT_FOUND: &str = "User does not exist";
/// new-api's answer when an administrator reads a user of the same or a higher role.
const NO_PERMISSION_VIEW: &str = "No permission to access users of same or higher level";
/// new-api's answer when an administrator changes a user of the same or a higher role.
const NO_PERMISSION_EDIT: &str = "No permission to update users of same or higher permission level";

/// new-api's rule: root manages everyone, others only users of a lower role.
fn can_manage(my_role: i64, target_role: i64) -> bool {
    my_role >= ROLE_ROOT || my_role > target_role
}

/// The live user `id`, freshly read.
async fn target(app: &App, id: i64) -> Result<UserRow, ApiError> {
    app.db
        .user_by_id(id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))
}

/// Writes an audit row on `target_id`'s log saying which administrator did `what`.
async fn audit(app: &App, admin: &UserRow, target_id: i64, what: &str) -> Result<(), ApiError> {
    app.db
        .record_log(target_id, LOG_TYPE_MANAGE, &audit_text(admin, what), 0)
        .await?;
    Ok(())
}

/// An audit row's text: which administrator did `what`.
fn audit_text(admin: &UserRow, what: &str) -> String {
    format!("Administrator {} (id {}) {what}", admin.username, admin.id)
}

/// Ends every console session of a user and revokes their access token.
async fn revoke_access(app: &App, user_id: i64) -> Result<(), ApiError> {
    app.db.delete_user_sessions(user_id).await?;
    app.db.clear_access_token(user_id).await?;
    Ok(())
}

/// A quota as the audit log shows it: the units and their value in USD.
fn quota_text(quota: i64) -> String {
    let usd = quota as f64 / pylon_shared::roles::QUOTA_PER_UNIT as f64;
    format!("{quota} (${usd:.2})")
}

/// A role's name for the audit log.
fn role_name(role: i64) -> &'static str {
    match role {
        r if r >= ROLE_ROOT => "super administrator",
        r if r >= pylon_shared::roles::ROLE_ADMIN => "administrator",
        r if r >= pylon_shared::roles::ROLE_COMMON => "common user",
        _ => "guest",
    }
}

/// A user as new-api's admin API renders one: every column but the password hash and the
/// access token. Only live users are served, so `DeletedAt` is always null.
fn view(user: &UserRow) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "email": user.email,
        "github_id": user.github_id,
        "discord_id": user.discord_id,
        "oidc_id": user.oidc_id,
        "wechat_id": user.wechat_id,
        "telegram_id": user.telegram_id,
        "linux_do_id": user.linux_do_id,
        "quota": user.quota,
        "used_quota": user.used_quota,
        "request_count": user.request_count,
        "group": user.group,
        "aff_code": user.aff_code.clone().unwrap_or_default(),
        "aff_count": user.aff_count,
        "aff_quota": user.aff_quota,
        "aff_history_quota": user.aff_history_quota,
        "inviter_id": user.inviter_id,
        "setting": user.setting,
        "remark": user.remark,
        "stripe_customer": user.stripe_customer,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
        "DeletedAt": Value::Null,
    })
}

/// new-api's sort parameters: an unknown `sort_by` sorts by id, newest first.
#[derive(Debug, Default, Deserialize)]
pub struct SortQuery {
    sort_by: Option<String>,
    sort_order: Option<String>,
}

impl SortQuery {
    fn sort(&self) -> (pylon_shared::db::UserSort, bool) {
        match self
            .sort_by
            .as_deref()
            .and_then(pylon_shared::db::UserSort::parse)
        {
            Some(sort) => {
                let ascending = self
                    .sort_order
                    .as_deref()
                    .is_some_and(|o| o.trim().eq_ignore_ascii_case("asc"));
                (sort, ascending)
            }
            None => (pylon_shared::db::UserSort::Id, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pylon_shared::roles::{ROLE_ADMIN, ROLE_COMMON};

    #[test]
    fn only_lower_roles_are_managed_except_by_root() {
        assert!(can_manage(ROLE_ROOT, ROLE_ROOT));
        assert!(can_manage(ROLE_ROOT, ROLE_ADMIN));
        assert!(can_manage(ROLE_ADMIN, ROLE_COMMON));
        assert!(!can_manage(ROLE_ADMIN, ROLE_ADMIN));
        assert!(!can_manage(ROLE_ADMIN, ROLE_ROOT));
    }

    #[test]
    fn quotas_read_in_dollars() {
        assert_eq!(quota_text(1_000_000), "1000000 ($2.00)");
        assert_eq!(quota_text(-250_000), "-250000 ($-0.50)");
    }
}
