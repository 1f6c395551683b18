//! The half-finished login between a right password and the second factor. A random flow token
//! maps to the user id in the shared cache for five minutes (so any control-plane node can
//! finish it). The client carries the token back either in a short-lived cookie (new-api's
//! console kept `pending_user_id` in its session cookie and just posts `{code}` with the same
//! cookie jar) or as `flow_token` in the body (new-api's newer consoles).

use crate::app::App;
use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, header};
use pylon_shared::crypto::{random_alphanumeric, sha256_hex};
use pylon_shared::db::now_secs;
use std::time::Duration;

/// The cookie carrying the flow token; scoped to the login paths.
pub const COOKIE_NAME: &str = "pylon_2fa";
/// How long a password login waits for its second factor (new-api: 5 minutes).
const TTL: Duration = Duration::from_secs(300);

/// A pending login the client must finish with a code.
pub struct PendingLogin {
    /// The flow token (only its hash is a cache key).
    pub token: String,
    /// Unix time the pending login lapses.
    pub expires_at: i64,
}

fn cache_key(token: &str) -> String {
    format!("2fa:pending:{}", sha256_hex(token.as_bytes()))
}

/// Records that `user_id` passed the password check and now owes a second factor.
pub async fn create(app: &App, user_id: i64) -> Result<PendingLogin, ApiError> {
    let token = random_alphanumeric(40);
    app.cache
        .set(&cache_key(&token), &user_id.to_string(), TTL)
        .await?;
    Ok(PendingLogin {
        token,
        expires_at: now_secs() + i64::try_from(TTL.as_secs()).unwrap_or(300),
    })
}

/// The user a pending login belongs to, while it has not lapsed.
pub async fn user_of(app: &App, token: &str) -> Result<Option<i64>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    Ok(app
        .cache
        .get(&cache_key(token))
        .await?
        .and_then(|v| v.parse().ok()))
}

/// Ends a pending login (it was completed).
pub async fn finish(app: &App, token: &str) -> Result<(), ApiError> {
    app.cache.delete(&cache_key(token)).await?;
    Ok(())
}

/// The flow token: the body's `flow_token` if given, else the cookie's.
pub fn token_from(headers: &HeaderMap, body_token: &str) -> String {
    if !body_token.trim().is_empty() {
        return body_token.trim().to_string();
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value.to_string())
        .unwrap_or_default()
}

/// The `Set-Cookie` value that hands the flow token to a cookie-jar client.
pub fn cookie(pending: &PendingLogin) -> Result<HeaderValue, ApiError> {
    cookie_value(&pending.token, TTL.as_secs())
}

/// The `Set-Cookie` value that removes the flow cookie.
pub fn clearing_cookie() -> Result<HeaderValue, ApiError> {
    cookie_value("", 0)
}

fn cookie_value(value: &str, max_age: u64) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/api/user/login; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}
