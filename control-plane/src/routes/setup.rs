//! `GET /api/setup` (also `/api/setup/status`) and `POST /api/setup`: the one-time creation of
//! the root account. There is no default password: until setup runs nobody can log in, and
//! once it has run it is refused.

use crate::app::AppState;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use pylon_shared::changes::Topic;
use pylon_shared::crypto::hash_password;
use pylon_shared::db::NewUser;
use pylon_shared::roles::ROLE_ROOT;
use serde::Deserialize;
use serde_json::json;

/// Quota new-api gives the root user at setup.
const ROOT_INITIAL_QUOTA: i64 = 100_000_000;
const MAX_USERNAME_LEN: usize = 20;
const MIN_PASSWORD_LEN: usize = 8;
const MAX_PASSWORD_LEN: usize = 128;

/// Whether setup is done. Like new-api, this answer has no `message` key.
pub async fn get_setup(State(app): State<AppState>) -> ApiResult {
    let done = app.db.is_setup_done().await?;
    let root_init = app.db.count_users_with_role(ROLE_ROOT).await? > 0;
    Ok(Json(json!({
        "success": true,
        "data": {
            "status": done,
            "root_init": root_init,
            "database_type": app.db.dialect().name(),
        }
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct SetupRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default, rename = "confirmPassword")]
    confirm_password: String,
    #[serde(default, rename = "SelfUseModeEnabled")]
    self_use_mode_enabled: bool,
    #[serde(default, rename = "DemoSiteEnabled")]
    demo_site_enabled: bool,
}

pub async fn post_setup(
    State(app): State<AppState>,
    ApiJson(request): ApiJson<SetupRequest>,
) -> ApiResult {
    if app.db.is_setup_done().await? {
        return Err(ApiError::invalid("System has already been initialized"));
    }
    let username = request.username.trim();
    validate_username(username)?;
    if request.password != request.confirm_password {
        return Err(ApiError::invalid("The two passwords do not match"));
    }
    validate_password(&request.password)?;

    let password = request.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing failed: {e}")))?;
    let root = NewUser {
        username,
        password_hash: &password_hash,
        display_name: "Root User",
        role: ROLE_ROOT,
        quota: ROOT_INITIAL_QUOTA,
        group: "default",
        email: "",
        inviter_id: 0,
    };
    let Some(root_id) = app.db.complete_setup(&root, pylon_shared::VERSION).await? else {
        return Err(ApiError::invalid("System has already been initialized"));
    };
    let bool_text = |b: bool| if b { "true" } else { "false" };
    let self_use = bool_text(request.self_use_mode_enabled);
    let demo = bool_text(request.demo_site_enabled);
    for (key, value) in [("SelfUseModeEnabled", self_use), ("DemoSiteEnabled", demo)] {
        app.settings
            .store(&app.db, &app.changes, key, value)
            .await?;
    }
    app.changes.publish(Topic::User, root_id).await?;
    tracing::info!(root_id, username, "setup complete: root account created");
    Ok(envelope::ok_message("System initialized successfully"))
}

/// new-api's username rule: non-empty, at most 20 characters, no spaces.
pub fn validate_username(username: &str) -> Result<(), ApiError> {
    if username.is_empty() {
        return Err(ApiError::invalid("Username must not be empty"));
    }
    if username.chars().count() > MAX_USERNAME_LEN {
        return Err(ApiError::invalid(format!(
            "Username must not exceed {MAX_USERNAME_LEN} characters"
        )));
    }
    if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::invalid("Username must not contain spaces"));
    }
    Ok(())
}

/// Passwords are 8 to 128 characters.
pub fn validate_password(password: &str) -> Result<(), ApiError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid(format!(
            "Password must be at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid(format!(
            "Password must not exceed {MAX_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}
