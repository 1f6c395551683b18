//! `GET /api/usage/token/`: a key reports its own quota and limits, authenticated by the key
//! itself (`Authorization: Bearer sk-...`, see `key_auth`), not by a user session. Its answer
//! has new-api's own shape: `{"code": true, "message": "ok", "data": {...}}`. Readable from any
//! web page (new-api's open CORS on its `/api/usage` routes).

use super::key_auth;
use crate::app::AppState;
use crate::cors;
use crate::error::ApiResult;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

pub async fn usage(State(app): State<AppState>, headers: HeaderMap) -> ApiResult {
    let token = match key_auth::read_only(&app, &headers).await? {
        Ok(token) => token,
        Err(refusal) => return Ok(cors::allow(&headers, refusal)),
    };
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
    let answer = Json(json!({
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
    .into_response();
    Ok(cors::allow(&headers, answer))
}

/// The browser's preflight of `GET /api/usage/token/`.
pub async fn preflight(headers: HeaderMap) -> Response {
    cors::preflight(&headers)
}
