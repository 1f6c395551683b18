//! `POST /api/token/batch/keys` with `{"ids": [...]}`: the full keys of those of the ids that
//! are the caller's keys, as `{"keys": {"<id>": "<key without sk->"}}` (new-api's
//! `GetTokenKeysBatch`). Another user's id and an unknown id are simply absent, so the answer
//! tells nothing about keys that are not the caller's. At most [`MAX_IDS`] ids; never cached.

use super::{full_key, wire_key};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::envelope;
use crate::error::{ApiError, ApiResult};
use crate::extract::parse_json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The most ids one call may ask for (new-api's limit).
const MAX_IDS: usize = 100;

#[derive(Deserialize)]
struct BatchRequest {
    #[serde(default)]
    ids: Vec<i64>,
}

pub async fn batch_keys(
    State(app): State<AppState>,
    AuthUser { user }: AuthUser,
    body: Bytes,
) -> ApiResult {
    let ids = parse_json::<BatchRequest>(&body)
        .map(|r| r.ids)
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(ApiError::invalid("Invalid parameters"));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::invalid(format!(
            "Too many items in one batch: at most {MAX_IDS}"
        )));
    }
    let tokens = app.db.user_tokens_by_ids(user.id, &ids).await?;
    let mut keys = Map::new();
    for token in &tokens {
        let full = full_key(&app, token).ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "token {}: the stored key cannot be decrypted with the current key encryption \
                 secret",
                token.row.id
            ))
        })?;
        keys.insert(token.row.id.to_string(), Value::from(wire_key(&full)));
    }
    let mut response = envelope::ok(json!({ "keys": keys }));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
