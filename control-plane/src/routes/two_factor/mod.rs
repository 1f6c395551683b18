//! Two-factor authentication (new-api's `/api/user/2fa/*`): TOTP from an authenticator app plus
//! single-use backup codes. Setup creates a pending secret, enable confirms it with a code;
//! from then on a password login answers `require_2fa` and `/api/user/login/2fa` finishes it.
//! Administrators may reset a user's 2FA.

pub(super) mod admin_reset;
pub(super) mod backup_codes;
pub(super) mod codes;
pub(super) mod disable;
pub(super) mod enable;
pub(super) mod login;
pub(in crate::routes) mod pending;
pub(super) mod setup;
pub(super) mod stats;
pub(super) mod status;
pub(super) mod verify;

use crate::app::App;
use crate::error::ApiError;
use pylon_shared::db::{TwoFactorRow, UserRow};
use pylon_shared::roles::ROLE_ROOT;
use serde::Deserialize;

/// The answer when an action needs enabled 2FA and there is none.
const NOT_ENABLED: &str = "The user has not enabled two-factor authentication";

/// A body carrying a code (`{"code": "123456"}`), as new-api's `Verify2FARequest`.
#[derive(Deserialize)]
pub struct CodeRequest {
    #[serde(default)]
    code: String,
}

impl CodeRequest {
    /// The code; missing or blank is bad input (new-api's `binding:"required"`).
    fn code(&self) -> Result<&str, ApiError> {
        if self.code.trim().is_empty() {
            return Err(ApiError::invalid("Invalid parameters: code is required"));
        }
        Ok(&self.code)
    }
}

/// The user's enabled 2FA setting, or the "not enabled" error.
async fn enabled_row(app: &App, user_id: i64) -> Result<TwoFactorRow, ApiError> {
    match app.db.two_factor(user_id).await? {
        Some(row) if row.enabled == 1 => Ok(row),
        _ => Err(ApiError::invalid(NOT_ENABLED)),
    }
}

/// The user `id` (a path segment) that `admin` may manage: root manages everyone, others only
/// users of a lower role (new-api's `canManageTargetRole`).
pub(in crate::routes) async fn managed_user(
    app: &App,
    admin: &UserRow,
    id: i64,
) -> Result<UserRow, ApiError> {
    let target = app
        .db
        .user_by_id(id)
        .await?
        .ok_or_else(|| ApiError::invalid("User does not exist"))?;
    if admin.role != ROLE_ROOT && admin.role <= target.role {
        return Err(ApiError::invalid(
            "No permission to manage a user of the same or a higher role",
        ));
    }
    Ok(target)
}
