//! new-api's read-only key check (`TokenAuthReadOnly`) for the routes a key calls about itself
//! (`GET /api/usage/token/`, `GET /api/log/token`): the `sk-` key in `Authorization` is the
//! credential, not a user session. Expired and exhausted keys pass (so a client can see why it
//! is refused), disabled keys and keys of a banned user do not. Refusals have new-api's shapes:
//! 401 or 403 with `{"success": false, "message": ...}`.

use crate::app::App;
use crate::error::ApiError;
use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pylon_shared::db::{TOKEN_STATUS_DISABLED, TokenRow};
use pylon_shared::keys::{self, KEY_PREFIX};
use pylon_shared::roles::STATUS_ENABLED;
use serde_json::json;

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

/// The key the request presents, or the answer refusing it (`Ok(Err(..))`); `Err` only when
/// the database could not be asked.
pub async fn read_only(
    app: &App,
    headers: &HeaderMap,
) -> Result<Result<TokenRow, Response>, ApiError> {
    let present = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
    if !present {
        return Ok(Err(refuse(StatusCode::UNAUTHORIZED, "Token not provided")));
    }
    let Some(key) = presented_key(headers) else {
        return Ok(Err(refuse(StatusCode::UNAUTHORIZED, "Invalid token")));
    };
    let Some(token) = app.db.token_by_key_hash(&keys::lookup_hash(key)).await? else {
        return Ok(Err(refuse(StatusCode::UNAUTHORIZED, "Invalid token")));
    };
    if token.status == TOKEN_STATUS_DISABLED {
        return Ok(Err(refuse(
            StatusCode::UNAUTHORIZED,
            "This token status is unavailable",
        )));
    }
    let Some(owner) = app.db.user_by_id(token.user_id).await? else {
        return Ok(Err(refuse(StatusCode::UNAUTHORIZED, "Invalid token")));
    };
    if owner.status != STATUS_ENABLED {
        return Ok(Err(refuse(StatusCode::FORBIDDEN, "User has been banned")));
    }
    Ok(Ok(token))
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
