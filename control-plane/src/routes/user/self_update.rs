//! `PUT /api/user/self`: the caller changes their own account, as new-api's `UpdateSelf` allows:
//!
//! - `sidebar_modules` (JSON text) and/or `language`: stored in the personal settings, and
//!   nothing else in the request is looked at (new-api answers these alone);
//! - otherwise `username`, `display_name` and `password` (with `original_password`). Every other
//!   field (role, quota, group, email...) is ignored: an account cannot raise itself.
//!
//! A password change revokes every session of the user and the access token. The caller, who
//! just proved the old password, gets a fresh session in its place when it came with a session
//! cookie (new-api moves the current session over likewise); everyone else is logged out.

use super::setting::{load_setting, store_setting};
use crate::app::AppState;
use crate::auth::{AuthUser, session};
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::rate_limit;
use crate::routes::setup::{validate_password, validate_username};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use pylon_shared::changes::Topic;
use pylon_shared::crypto::{hash_password, verify_password};
use pylon_shared::db::{ProfileOutcome, UserRow};
use serde::Deserialize;
use serde_json::{Map, Value};

/// new-api validates `display_name` with `max=20`.
const MAX_DISPLAY_NAME_CHARS: usize = 20;
/// Bounds on the settings kept in `users.setting`.
const MAX_SIDEBAR_BYTES: usize = 16 * 1024;
const MAX_LANGUAGE_CHARS: usize = 16;

/// The account fields a user may change; anything else in the body is ignored.
#[derive(Deserialize)]
struct ProfileChange {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    original_password: Option<String>,
}

pub async fn update(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult {
    if body.contains_key("sidebar_modules") || body.contains_key("language") {
        return update_preferences(&app, &user, &body).await;
    }
    let change: ProfileChange = serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::invalid(format!("Invalid parameters: {e}")))?;

    let username = change
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty() && *u != user.username);
    if let Some(username) = username {
        validate_username(username)?;
    }
    // An empty display name leaves it unchanged, as in new-api.
    let display_name = change.display_name.as_deref().filter(|d| !d.is_empty());
    if display_name.is_some_and(|d| d.chars().count() > MAX_DISPLAY_NAME_CHARS) {
        return Err(ApiError::invalid(format!(
            "Display name must not exceed {MAX_DISPLAY_NAME_CHARS} characters"
        )));
    }
    let new_password = change.password.filter(|p| !p.is_empty());
    let new_hash = match new_password {
        Some(password) => Some(
            checked_password_hash(
                &app,
                &user,
                change.original_password.unwrap_or_default(),
                password,
            )
            .await?,
        ),
        None => None,
    };

    // Everything is checked: only a username taken meanwhile can still refuse the change, and
    // it is the first write.
    if username.is_some() || display_name.is_some() {
        let outcome = app
            .db
            .update_profile(user.id, username, display_name)
            .await?;
        if outcome == ProfileOutcome::UsernameTaken {
            return Err(ApiError::invalid("Username already exists"));
        }
    }
    let Some(hash) = new_hash else {
        app.changes.publish(Topic::User, user.id).await?;
        return Ok(envelope::ok_message(""));
    };

    let current_session = session::from_headers(&headers, &app).await?;
    app.db.set_password_revoking_token(user.id, &hash).await?;
    app.db.delete_user_sessions(user.id).await?;
    app.changes.publish(Topic::User, user.id).await?;
    let mut response = envelope::ok_message("");
    if current_session.is_some() {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let cookie = session::start(&app, user.id, &ip.to_string(), user_agent).await?;
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Checks the original password (wrong guesses count against the account's login budget, as
/// they guess the same secret) and the new one; returns the new hash.
async fn checked_password_hash(
    app: &AppState,
    user: &UserRow,
    original: String,
    password: String,
) -> Result<String, ApiError> {
    if user.password.is_empty() {
        return Err(ApiError::invalid(
            "This account has no password yet; set one through password reset",
        ));
    }
    rate_limit::account_locked(app, &user.username).await?;
    let stored = user.password.clone();
    // Argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let matches = tokio::task::spawn_blocking(move || verify_password(&original, &stored))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    if !matches {
        rate_limit::login_failed(app, &user.username).await?;
        return Err(ApiError::invalid("Original password is incorrect"));
    }
    validate_password(&password)?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing the password: {e}")))
}

/// `sidebar_modules` and `language`: kept in the personal settings.
async fn update_preferences(
    app: &AppState,
    user: &UserRow,
    body: &Map<String, Value>,
) -> ApiResult {
    let mut setting = load_setting(user);
    if let Some(value) = body.get("sidebar_modules") {
        let Value::String(modules) = value else {
            return Err(ApiError::invalid(
                "Invalid parameters: sidebar_modules must be a JSON string",
            ));
        };
        if modules.len() > MAX_SIDEBAR_BYTES {
            return Err(ApiError::invalid("sidebar_modules is too long"));
        }
        if !modules.is_empty() && serde_json::from_str::<Value>(modules).is_err() {
            return Err(ApiError::invalid(
                "Invalid parameters: sidebar_modules must hold JSON",
            ));
        }
        setting.insert("sidebar_modules".into(), value.clone());
    }
    if let Some(value) = body.get("language") {
        let Value::String(language) = value else {
            return Err(ApiError::invalid(
                "Invalid parameters: language must be a string",
            ));
        };
        if language.chars().count() > MAX_LANGUAGE_CHARS {
            return Err(ApiError::invalid("language is too long"));
        }
        setting.insert("language".into(), value.clone());
    }
    store_setting(app, user.id, setting).await?;
    Ok(envelope::ok_message("Updated"))
}
