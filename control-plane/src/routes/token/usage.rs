//! `GET /api/usage/token/`: a key reports its own quota and limits, authenticated by the key
//! itself (`Authorization: Bearer sk-...`), not by a user session. Like new-api's read-only key
//! check it answers expired and exhausted keys too (so a client can see why it is refused),
//! but not disabled ones, nor keys of a banned user. Its answer and errors have new-api's own
//! shapes: `{"code": true, "message": "ok", "data": {...}}`, and 401/403 with
//! `{"success": false, "message": ...}`.

use crate::app::AppState;
use crate::error::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pylon_shared::db::TOKEN_STATUS_DISABLED;
use pylon_shared::keys::{self, KEY_PREFIX};
use pylon_shared::roles::STATUS_ENABLED;
use serde_json::{Map, Value, json};

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "success": false, "message": message })),
    )
        .into_response()
}

/// The key in `Authorization`, as new-api reads it: `Bearer ` is optional, `sk-` too, and
/// anything after a further `-` (new-api's channel suffix) is not part of the key.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let raw = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let key = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .map_or(raw, str::trim);
    let key = key.strip_prefix(KEY_PREFIX).unwrap_or(key);
    key.split('-').next().filter(|k| !k.is_empty())
}

pub async fn usage(State(app): State<AppState>, headers: HeaderMap) -> ApiResult {
    let present = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
    if !present {
        return Ok(refuse(StatusCode::UNAUTHORIZED, "Token not provided"));
    }
    let Some(key) = presented_key(&headers) else {
        return Ok(refuse(StatusCode::UNAUTHORIZED, "Invalid token"));
    };
    let Some(token) = app.db.token_by_key_hash(&keys::lookup_hash(key)).await? else {
        return Ok(refuse(StatusCode::UNAUTHORIZED, "Invalid token"));
    };
    if token.status == TOKEN_STATUS_DISABLED {
        return Ok(refuse(
            StatusCode::UNAUTHORIZED,
            "This token status is unavailable",
        ));
    }
    let Some(owner) = app.db.user_by_id(token.user_id).await? else {
        return Ok(refuse(StatusCode::UNAUTHORIZED, "Invalid token"));
    };
    if owner.status != STATUS_ENABLED {
        return Ok(refuse(StatusCode::FORBIDDEN, "User has been banned"));
    }

    let model_limits: Map<String, Value> = token
        .model_limits
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| (m.to_string(), Value::Bool(true)))
        .collect();
    // new-api reports "never expires" as 0.
    let expires_at = if token.expired_time == -1 {
        0
    } else {
        token.expired_time
    };
    Ok(Json(json!({
        "code": true,
        "message": "ok",
        "data": {
            "object": "token_usage",
            "name": token.name,
            "total_granted": token.remain_quota.saturating_add(token.used_quota),
            "total_used": token.used_quota,
            "total_available": token.remain_quota,
            "unlimited_quota": token.unlimited_quota != 0,
            "model_limits": model_limits,
            "model_limits_enabled": token.model_limits_enabled != 0,
            "expires_at": expires_at,
        }
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn key_of(value: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        presented_key(&headers).map(str::to_string)
    }

    #[test]
    fn reads_the_key_as_new_api_does() {
        assert_eq!(key_of("Bearer sk-abc").as_deref(), Some("abc"));
        assert_eq!(key_of("bearer abc").as_deref(), Some("abc"));
        assert_eq!(key_of("sk-abc-7").as_deref(), Some("abc"));
        assert_eq!(key_of("Bearer sk-").as_deref(), None);
    }
}
