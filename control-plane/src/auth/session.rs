//! Login sessions: a signed cookie (see `pylon_shared::session`, which the proxy's playground
//! checks too) carrying a random session id, backed by a row in `sessions` so that logout
//! revokes it before it expires.

use crate::app::App;
use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, header};
use pylon_shared::crypto::{random_alphanumeric, sha256_hex};
use pylon_shared::db::now_secs;
use pylon_shared::session::{self as cookie_jwt, COOKIE_NAME};

/// A valid, unrevoked session.
#[derive(Debug, Clone)]
pub struct FoundSession {
    pub user_id: i64,
    pub id_hash: String,
}

/// Starts a session for `user_id` and returns the `Set-Cookie` header value.
pub async fn start(
    app: &App,
    user_id: i64,
    ip: &str,
    user_agent: &str,
) -> Result<HeaderValue, ApiError> {
    let ttl = i64::try_from(app.config.auth.session_ttl_hours * 3600).unwrap_or(i64::MAX / 4);
    let now = now_secs();
    let sid = random_alphanumeric(32);
    app.db
        .create_session(
            &sha256_hex(sid.as_bytes()),
            user_id,
            now + ttl,
            ip,
            user_agent,
        )
        .await?;
    let jwt = cookie_jwt::sign(&app.secrets.session, user_id, sid, now, now + ttl)
        .map_err(|e| ApiError::Internal(e.into()))?;
    cookie(&jwt, ttl)
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clearing_cookie() -> Result<HeaderValue, ApiError> {
    cookie("", 0)
}

fn cookie(value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}

/// The session in the request's cookie, if it is authentic, unexpired and not revoked.
pub async fn from_headers(
    headers: &HeaderMap,
    app: &App,
) -> Result<Option<FoundSession>, ApiError> {
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let Some(claim) = cookie_jwt::cookie_value(cookies)
        .and_then(|jwt| cookie_jwt::verify(&app.secrets.session, jwt))
    else {
        return Ok(None);
    };
    match app.db.live_session(&claim.id_hash).await? {
        Some(row) if row.user_id == claim.user_id => Ok(Some(FoundSession {
            user_id: row.user_id,
            id_hash: claim.id_hash,
        })),
        _ => Ok(None),
    }
}
