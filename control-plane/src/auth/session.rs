//! Login sessions: a signed cookie (JWT, HS256, named `session` as in new-api) carrying a random
//! session id, backed by a row in `sessions` so that logout revokes it before it expires.

use crate::app::App;
use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use pylon_shared::crypto::{random_alphanumeric, sha256_hex};
use pylon_shared::db::now_secs;
use serde::{Deserialize, Serialize};

/// The cookie's name.
pub const COOKIE_NAME: &str = "session";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The user id.
    uid: i64,
    /// The random session id (stored hashed).
    sid: String,
    iat: i64,
    exp: i64,
}

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
    let claims = Claims {
        uid: user_id,
        sid,
        iat: now,
        exp: now + ttl,
    };
    let jwt = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(app.secrets.session.as_bytes()),
    )
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
    let Some(jwt) = cookie_value(headers) else {
        return Ok(None);
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    let Ok(data) = jsonwebtoken::decode::<Claims>(
        jwt,
        &DecodingKey::from_secret(app.secrets.session.as_bytes()),
        &validation,
    ) else {
        return Ok(None);
    };
    let id_hash = sha256_hex(data.claims.sid.as_bytes());
    match app.db.live_session(&id_hash).await? {
        Some(row) if row.user_id == data.claims.uid => Ok(Some(FoundSession {
            user_id: row.user_id,
            id_hash,
        })),
        _ => Ok(None),
    }
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value)
}
