//! `PUT /api/user/` with the user's `id`: an administrator edits an account of a lower role
//! (root: any). Fields: `username`, `display_name`, `password` (empty keeps it), `email`,
//! `group`, `remark` and `quota`; a field left out keeps its value. As in new-api, `role` and
//! `status` cannot be changed here (they may be sent unchanged, as new-api's console does; a
//! different value is refused and `POST /api/user/manage` does it).
//!
//! A new quota is applied as the difference to a fresh read of the balance, through the one
//! quota primitive, and audited with the old and new values. A new password ends the user's
//! sessions and access token. Everything is checked before anything is written.

use super::create::USERNAME_TAKEN;
use super::{NO_PERMISSION_EDIT, audit, can_manage, fields, quota, revoke_access, target, view};
use crate::app::AppState;
use crate::auth::{AdminUser, AuthUser};
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::routes::setup::{validate_password, validate_username};
use axum::extract::State;
use pylon_shared::changes::Topic;
use pylon_shared::crypto::hash_password;
use pylon_shared::db::{UserProfile, is_unique_violation};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct UpdateRequest {
    #[serde(default)]
    id: i64,
    username: Option<String>,
    display_name: Option<String>,
    password: Option<String>,
    email: Option<String>,
    group: Option<String>,
    remark: Option<String>,
    quota: Option<i64>,
    role: Option<i64>,
    status: Option<i64>,
}

pub async fn update(
    State(app): State<AppState>,
    AdminUser(AuthUser { user: admin }): AdminUser,
    ApiJson(request): ApiJson<UpdateRequest>,
) -> ApiResult {
    if request.id <= 0 {
        return Err(ApiError::invalid("Invalid parameters: id is required"));
    }
    let current = target(&app, request.id).await?;
    if !can_manage(admin.role, current.role) {
        return Err(ApiError::invalid(NO_PERMISSION_EDIT));
    }
    // 0 is what new-api's console sends for "not set".
    if request.role.is_some_and(|r| r != 0 && r != current.role) {
        return Err(ApiError::invalid(
            "Invalid parameters: the role is changed with POST /api/user/manage \
             (promote or demote)",
        ));
    }
    if request
        .status
        .is_some_and(|s| s != 0 && s != current.status)
    {
        return Err(ApiError::invalid(
            "Invalid parameters: the status is changed with POST /api/user/manage \
             (enable or disable)",
        ));
    }

    let username = match request.username.as_deref().map(str::trim) {
        Some(name) if name != current.username => {
            validate_username(name)?;
            if app.db.username_taken(name, current.id).await? {
                return Err(ApiError::invalid(USERNAME_TAKEN));
            }
            name.to_string()
        }
        _ => current.username.clone(),
    };
    let display_name = request
        .display_name
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| current.display_name.clone());
    fields::check_display_name(&display_name)?;
    let email = match &request.email {
        Some(email) => fields::normalize_email(email)?,
        None => current.email.clone(),
    };
    if !email.is_empty() && email != current.email && app.db.email_taken(&email, current.id).await?
    {
        return Err(ApiError::invalid(
            "This email is already used by another account",
        ));
    }
    let group = request
        .group
        .map(|g| g.trim().to_string())
        .unwrap_or_else(|| current.group.clone());
    fields::check_group(&app, &group, &current.group).await?;
    let remark = request.remark.unwrap_or_else(|| current.remark.clone());
    fields::check_remark(&remark)?;
    if let Some(quota) = request.quota {
        fields::check_quota(quota)?;
    }
    let password = request.password.filter(|p| !p.is_empty());
    let password_hash = match password {
        Some(password) => {
            validate_password(&password)?;
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| ApiError::Internal(e.into()))?
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing failed: {e}")))?;
            Some(hash)
        }
        None => None,
    };

    let profile = UserProfile {
        username: &username,
        display_name: &display_name,
        email: &email,
        group: &group,
        remark: &remark,
        password_hash: password_hash.as_deref(),
    };
    match app.db.update_user_profile(current.id, &profile).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::invalid(super::NOT_FOUND)),
        Err(e) if is_unique_violation(&e) => return Err(ApiError::invalid(USERNAME_TAKEN)),
        Err(e) => return Err(e.into()),
    }
    if password_hash.is_some() {
        revoke_access(&app, current.id).await?;
        audit(&app, &admin, current.id, "set a new password").await?;
    }
    if group != current.group {
        let what = format!("changed the group from {} to {group}", current.group);
        audit(&app, &admin, current.id, &what).await?;
    }
    app.changes.publish(Topic::User, current.id).await?;
    if let Some(quota) = request.quota {
        quota::set_quota(&app, &admin, current.id, quota).await?;
    }
    tracing::info!(admin = admin.id, user = current.id, "user updated");
    Ok(envelope::ok(view(&target(&app, current.id).await?)))
}
