//! `POST /api/user/login`: password login by username or email. Sets the session cookie and
//! returns the user, as new-api does. Throttled per client IP and per account; a wrong
//! password, an unknown account and a disabled account get the same answer. A user with 2FA
//! enabled gets new-api's `{"require_2fa": true}` instead and no session: the login is then
//! finished by `POST /api/user/login/2fa` (see `routes::two_factor`).
//!
//! [`sign_in`] is the one way every login method (password, 2FA, passkey) starts a session.

use crate::app::{App, AppState};
use crate::auth::session;
use crate::client_ip::ClientIp;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use crate::rate_limit;
use crate::routes::two_factor::pending;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use pylon_shared::crypto::{decoy_password_hash, verify_password};
use pylon_shared::db::UserRow;
use pylon_shared::roles::STATUS_ENABLED;
use serde::Deserialize;
use serde_json::json;
use std::net::IpAddr;

const BAD_CREDENTIALS: &str = "Username or password is incorrect, or user has been banned";

#[derive(Deserialize)]
struct LoginRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    State(app): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    rate_limit::login_attempt(&app, ip).await?;
    let request: LoginRequest = parse_json(&body)?;
    let login = request.username.trim();
    if login.is_empty() || request.password.is_empty() {
        return Err(ApiError::invalid("Invalid parameters"));
    }
    rate_limit::account_locked(&app, login).await?;

    let user = app.db.user_by_login(login).await?;
    let stored = user
        .as_ref()
        .map_or_else(|| decoy_password_hash().to_string(), |u| u.password.clone());
    let password = request.password;
    // Argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let user = match user {
        Some(user) if matches && user.status == STATUS_ENABLED => user,
        _ => {
            rate_limit::login_failed(&app, login).await?;
            return Err(ApiError::invalid(BAD_CREDENTIALS));
        }
    };

    if app.db.two_factor_enabled(user.id).await? {
        return require_second_factor(&app, user.id).await;
    }
    sign_in(&app, &user, ip, &headers).await
}

/// new-api's answer to a right password of a user with 2FA: no session yet, a pending login
/// the client finishes with a code (flow token in `data` and in a short-lived cookie). Other
/// first-factor logins (an emailed code) answer the same way for such users.
pub(in crate::routes) async fn require_second_factor(app: &App, user_id: i64) -> ApiResult {
    let pending = pending::create(app, user_id).await?;
    let mut response = Json(json!({
        "success": true,
        "message": "Two-factor authentication is required: enter the code from your authenticator app or a backup code",
        "data": {
            "require_2fa": true,
            "flow_token": pending.token,
            "expires_at": pending.expires_at,
        },
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, pending::cookie(&pending)?);
    Ok(response)
}

/// Starts a session for `user` (already authenticated by some method) and answers as a
/// password login does: the session cookie and the user.
pub(in crate::routes) async fn sign_in(
    app: &App,
    user: &UserRow,
    ip: IpAddr,
    headers: &HeaderMap,
) -> ApiResult {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let cookie = session::start(app, user.id, &ip.to_string(), user_agent).await?;
    app.db.touch_last_login(user.id).await?;
    let mut response = envelope::ok(json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "group": user.group,
    }));
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}
