//! Access tokens (`GET /api/user/token`): random strings given to the user once; only their
//! SHA-256 is stored, and lookups go by that hash.

use crate::app::App;
use crate::error::ApiError;
use axum::http::HeaderMap;
use pylon_shared::crypto::{random_alphanumeric, sha256_hex};
use pylon_shared::db::now_secs;

/// Length of a generated access token.
const TOKEN_LEN: usize = 32;

/// The access token in `Authorization`: `Bearer <token>` (any case) or the bare token, as
/// new-api accepts both. `sk-` keys are relay keys, not access tokens.
pub fn from_headers(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let token = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None if value.eq_ignore_ascii_case("bearer") => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}

/// The id of the user holding `token`, if it is valid and unexpired.
pub async fn resolve(app: &App, token: &str) -> Result<Option<i64>, ApiError> {
    let Some(user) = app
        .db
        .user_by_access_token(&sha256_hex(token.as_bytes()))
        .await?
    else {
        return Ok(None);
    };
    let expired = user.access_token_expires_at > 0 && user.access_token_expires_at <= now_secs();
    Ok((!expired).then_some(user.id))
}

/// Replaces the user's access token with a new one and returns it.
pub async fn regenerate(app: &App, user_id: i64) -> Result<String, ApiError> {
    let token = random_alphanumeric(TOKEN_LEN);
    let ttl_days = app.config.auth.access_token_ttl_days;
    let expires_at = if ttl_days == 0 {
        0
    } else {
        now_secs() + i64::try_from(ttl_days * 86_400).unwrap_or(i64::MAX / 2)
    };
    app.db
        .set_access_token(user_id, &sha256_hex(token.as_bytes()), expires_at)
        .await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("authorization", HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn reads_bearer_and_bare_tokens() {
        assert_eq!(from_headers(&headers("Bearer abc")), Some("abc"));
        assert_eq!(from_headers(&headers("bearer abc")), Some("abc"));
        assert_eq!(from_headers(&headers("abc")), Some("abc"));
        assert_eq!(from_headers(&headers("Basic abc")), None);
        assert_eq!(from_headers(&headers("Bearer ")), None);
        assert_eq!(from_headers(&HeaderMap::new()), None);
    }
}
