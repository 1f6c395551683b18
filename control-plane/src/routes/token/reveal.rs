//! `POST /api/token/{id}/key`: the full key of one of the caller's keys, as new-api's console
//! fetches it to show or copy (`data.key`, without `sk-`). Never cached.

use super::{NOT_FOUND, full_key, wire_key};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::PathId;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use serde_json::json;

pub async fn reveal(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    PathId(id): PathId,
) -> ApiResult {
    let token = app
        .db
        .user_token(id, user.id)
        .await?
        .ok_or_else(|| ApiError::invalid(NOT_FOUND))?;
    let full = full_key(&app, &token).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "token {id}: the stored key cannot be decrypted with the current key encryption secret"
        ))
    })?;
    let mut response = envelope::ok(json!({ "key": wire_key(&full) }));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
