//! `POST /api/user/` with `{username, password, display_name?, role?, group?, remark?}`: an
//! administrator creates an account. As in new-api the role must be below the creator's own
//! (an administrator creates common users, root also administrators; 0 or absent means a
//! common user), the display name defaults to the username, and the account starts with the
//! `QuotaForNewUser` option's quota. The username must not belong to any user, deleted ones
//! included. Answers the new user.

use super::{audit, fields, role_name, view};
use crate::app::{App, AppState};
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::routes::setup::{validate_password, validate_username};
use axum::extract::State;
use pylon_shared::changes::Topic;
use pylon_shared::crypto::hash_password;
use pylon_shared::db::{NewUser, is_unique_violation};
use pylon_shared::roles::{ROLE_ADMIN, ROLE_COMMON};
use serde::Deserialize;

/// new-api's answer for a taken username.
pub(super) const USERNAME_TAKEN: &str = "Username already exists or has been deleted";
/// The group of a new account unless another is named.
const DEFAULT_GROUP: &str = "default";

#[derive(Deserialize)]
pub struct CreateRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: i64,
    group: Option<String>,
    #[serde(default)]
    remark: String,
}

pub async fn create(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    ApiJson(request): ApiJson<CreateRequest>,
) -> ApiResult {
    let username = request.username.trim();
    if username.is_empty() || request.password.is_empty() {
        return Err(ApiError::invalid(
            "Invalid parameters: username and password are required",
        ));
    }
    validate_username(username)?;
    validate_password(&request.password)?;
    let role = match request.role {
        0 => ROLE_COMMON,
        role => role,
    };
    if role >= admin.role {
        return Err(ApiError::invalid(
            "Cannot create users with permission level equal to or higher than yourself",
        ));
    }
    if role != ROLE_COMMON && role != ROLE_ADMIN {
        return Err(ApiError::invalid(format!(
            "Invalid parameters: role must be {ROLE_COMMON} (common user) or {ROLE_ADMIN} \
             (administrator)"
        )));
    }
    let display_name = match request.display_name.trim() {
        "" => username,
        name => name,
    };
    fields::check_display_name(display_name)?;
    fields::check_remark(&request.remark)?;
    let group = request.group.as_deref().map_or(DEFAULT_GROUP, str::trim);
    fields::check_group(&app, group, DEFAULT_GROUP).await?;
    if app.db.username_taken(username, 0).await? {
        return Err(ApiError::invalid(USERNAME_TAKEN));
    }

    let password = request.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing failed: {e}")))?;
    let quota = quota_for_new_user(&app).await?;
    let new_user = NewUser {
        username,
        password_hash: &password_hash,
        display_name,
        role,
        quota,
        group,
        email: "",
        inviter_id: 0,
    };
    let signup = match app.db.create_user(&new_user).await {
        Ok(signup) => signup,
        // Taken by a concurrent request since the check above.
        Err(e) if is_unique_violation(&e) => return Err(ApiError::invalid(USERNAME_TAKEN)),
        Err(e) => return Err(e.into()),
    };
    let id = signup.id;
    crate::ledger::after_commit(&app, &signup.movements, &signup.changes).await;
    if !request.remark.is_empty() {
        let created = super::target(&app, id).await?;
        let profile = pylon_shared::db::UserProfile {
            username: &created.username,
            display_name: &created.display_name,
            email: &created.email,
            group: &created.group,
            remark: &request.remark,
            password_hash: None,
        };
        app.db.update_user_profile(id, &profile).await?;
    }
    app.changes.publish(Topic::User, id).await?;
    audit(
        &app,
        &admin,
        id,
        &format!(
            "created this account as {} in group {group}",
            role_name(role)
        ),
    )
    .await?;
    tracing::info!(admin = admin.id, user = id, username, role, "user created");
    Ok(envelope::ok(view(&super::target(&app, id).await?)))
}

/// The `QuotaForNewUser` option (new-api gives it to every new account); 0 when unset.
async fn quota_for_new_user(app: &App) -> Result<i64, ApiError> {
    Ok(app
        .settings
        .now()
        .get("QuotaForNewUser")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|q| *q > 0)
        .map_or(0, |q| q.min(fields::MAX_QUOTA)))
}
