//! `GET /api/channel/{id}/codex/usage`: the channel's ChatGPT usage as its upstream reports it
//! (`{base_url}/backend-api/wham/usage`, ChatGPT's by default), relayed as new-api does:
//! `success` follows the upstream's status, `upstream_status` is that status and `data` its
//! JSON (or text). Refused tokens are renewed once with the refresh token, saved, and the
//! question asked again.

use super::{codex_channel, key_of, refreshed, save_key};
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use crate::routes::channel::kinds;
use crate::routes::channel::upstream::read_bounded;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use std::time::Duration;

const USAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// The upstream's status and answer.
async fn ask(
    base_url: &str,
    access_token: &str,
    account_id: &str,
) -> Result<(u16, Vec<u8>), String> {
    let client = reqwest::Client::builder()
        .timeout(USAGE_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|_| "cannot build an HTTP client".to_string())?;
    let response = client
        .get(format!("{base_url}/backend-api/wham/usage"))
        .bearer_auth(access_token)
        .header("chatgpt-account-id", account_id)
        .header("Accept", "application/json")
        .header("originator", "codex_cli_rs")
        .send()
        .await
        .map_err(|e| format!("the upstream cannot be reached: {}", e.without_url()))?;
    let status = response.status().as_u16();
    Ok((status, read_bounded(response).await?))
}

pub async fn usage(State(app): State<AppState>, _: AdminUser, PathId(id): PathId) -> ApiResult {
    let row = codex_channel(&app, id).await?;
    let key = key_of(&row)?;
    if key.access_token.trim().is_empty() {
        return Err(ApiError::invalid("codex channel: access_token is required"));
    }
    if key.account_id.trim().is_empty() {
        return Err(ApiError::invalid("codex channel: account_id is required"));
    }
    let base_url = kinds::effective_base_url(row.r#type, &row.base_url);
    let mut answer = ask(&base_url, &key.access_token, &key.account_id)
        .await
        .map_err(ApiError::invalid)?;
    if matches!(answer.0, 401 | 403)
        && !key.refresh_token.trim().is_empty()
        && let Ok(renewed) = refreshed(&app, key.clone()).await
    {
        save_key(&app, &row, &renewed).await?;
        answer = ask(&base_url, &renewed.access_token, &renewed.account_id)
            .await
            .map_err(ApiError::invalid)?;
    }
    let (status, body) = answer;
    let data = serde_json::from_slice::<Value>(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let ok = (200..300).contains(&status);
    let message = if ok {
        String::new()
    } else {
        format!("upstream status: {status}")
    };
    Ok(
        Json(json!({"success": ok, "message": message, "upstream_status": status, "data": data}))
            .into_response(),
    )
}
